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
  let waiting = false;

  function finished() {
    const run = region.querySelector("[data-terminal]");
    return run !== null && run.dataset.terminal === "true";
  }

  // True while someone works with a form in the region (a field focused or changed), whose input
  // a re-render would throw away: the refresh waits until they are done.
  function busy() {
    const fields = region.querySelectorAll("input:not([type=hidden]), textarea, select");
    for (const field of fields) {
      if (field === document.activeElement) return true;
      if (field.tagName === "SELECT" ? Array.from(field.options).some((o) => o.selected !== o.defaultSelected) : field.value !== field.defaultValue) return true;
    }
    return false;
  }

  async function refresh() {
    if (loading) { again = true; return; }
    if (busy()) {
      if (!waiting) { waiting = true; setTimeout(function () { waiting = false; refresh(); }, 1000); }
      return;
    }
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

  // A page left for another closes its stream (browsers allow few connections per server, and a
  // page kept for the back button would hold one); coming back opens it again and catches up.
  window.addEventListener("pagehide", function () {
    if (source) { source.close(); source = null; }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !source && !finished()) {
      source = new EventSource(main.dataset.live);
      source.onmessage = function () { refresh(); };
      refresh();
    }
  });
})();

// The ledger page's "Verify in your browser": recomputes the event's leaf hash from the bytes in
// the page and the root from its inclusion proof (RFC 9162, section 2.1.3.2) with WebCrypto
// SHA-256, and compares them with the leaf hash and the signed checkpoint's root the page shows.
(function () {
  const button = document.getElementById("verify-proof");
  if (!button) return;
  const result = document.getElementById("verify-result");
  const decode = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const encode = (bytes) => btoa(String.fromCharCode(...bytes));
  async function sha256(...parts) {
    const data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of parts) { data.set(part, offset); offset += part.length; }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  }
  button.addEventListener("click", async function () {
    try {
      if (!window.crypto || !crypto.subtle) throw new Error("this page is not in a secure context (HTTPS or localhost), so WebCrypto is unavailable");
      const bytes = new TextEncoder().encode(document.getElementById("event-bytes").textContent);
      const leaf = await sha256(Uint8Array.of(0), bytes);
      if (encode(leaf) !== button.dataset.leaf) throw new Error("the event's bytes do not hash to its leaf hash");
      let index = Number(button.dataset.index);
      let last = Number(document.getElementById("tree-size").textContent) - 1;
      let hash = leaf;
      for (const sibling of JSON.parse(button.dataset.proof).map(decode)) {
        if (last === 0) throw new Error("the proof is longer than the tree is deep");
        if (index % 2 === 1 || index === last) {
          hash = await sha256(Uint8Array.of(1), sibling, hash);
          if (index % 2 === 0) { while (index % 2 === 0 && index !== 0) { index = Math.floor(index / 2); last = Math.floor(last / 2); } }
        } else {
          hash = await sha256(Uint8Array.of(1), hash, sibling);
        }
        index = Math.floor(index / 2);
        last = Math.floor(last / 2);
      }
      if (last !== 0) throw new Error("the proof is shorter than the tree is deep");
      const root = document.getElementById("tree-root").textContent.trim();
      if (encode(hash) !== root) throw new Error("the proof leads to " + encode(hash) + ", not to the checkpoint's root");
      result.textContent = "Verified in this browser: the event's bytes hash to its leaf, and the proof leads to the signed checkpoint's root " + root + ".";
      result.className = "notice verified";
    } catch (error) {
      result.textContent = "Not verified: " + error.message;
      result.className = "notice error";
    }
  });
})();
