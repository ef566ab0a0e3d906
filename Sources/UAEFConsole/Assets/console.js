// The UAEF console's only script: a page whose <main> carries data-live (the URL of an event
// stream) re-renders its #live-region whenever an event it depends on is committed, asking the
// server for that region alone (X-UAEF-Fragment), so forms and scroll position stay as they are.
"use strict";
(function () {
  const main = document.querySelector("main[data-live]");
  const region = document.getElementById("live-region");
  if (!main || !region || !window.EventSource) return;
  let source = new EventSource(main.dataset.live);
  let loading = false;
  let again = false;

  function finished() {
    const run = region.querySelector("[data-terminal]");
    return run !== null && run.dataset.terminal === "true";
  }

  async function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const response = await fetch(window.location.href, { headers: { "X-UAEF-Fragment": "main" }, credentials: "same-origin" });
      if (response.ok) {
        const focused = document.activeElement && document.activeElement.id;
        const open = Array.from(region.querySelectorAll("details[open]")).map((d) => d.closest("[id]") && d.closest("[id]").id);
        region.innerHTML = await response.text();
        for (const id of open) {
          const details = id && document.getElementById(id) && document.getElementById(id).querySelector("details");
          if (details) details.open = true;
        }
        if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
        if (finished() && source) { source.close(); source = null; }
      }
    } finally {
      loading = false;
      if (again) { again = false; setTimeout(refresh, 150); }
    }
  }

  source.onmessage = function () { refresh(); };
  if (finished()) { source.close(); source = null; }
})();
