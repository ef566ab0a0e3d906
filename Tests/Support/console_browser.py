"""Drives the UAEF console in headless Chromium (Debian's chromium and chromium-driver, through
Selenium 4.50.0) against a real `uaef serve`, the way people use it, and prints what it saw as
JSON for the Swift test (Tests/UAEFCLITests/ConsoleBrowserTests.swift) to check. Every step
that can fail raises with what it expected; screenshots of the pages go to the given folder.

usage: console_browser.py BASE_URL TOKENS_JSON SCREENSHOT_DIR
TOKENS_JSON: {"operator": ..., "approver": ..., "viewer": ..., "stranger": ..., "slow_run": RUN_ID}
"""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

base, tokens, shots = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
os.makedirs(shots, exist_ok=True)
result = {"screenshots": []}

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1366,900",
                 "--disable-gpu", "--lang=en-US"]:
    options.add_argument(argument)
browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
# Live regions are replaced while the test looks at them: an element found just before its region
# was re-rendered is looked up again.
wait = WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,))


def read(action):
    """`action()`, again when the live region it reads was re-rendered meanwhile."""
    for _ in range(10):
        try:
            return action()
        except StaleElementReferenceException:
            time.sleep(0.1)
    return action()


started = time.monotonic()


def submit(selector):
    """Clicks the button at `selector` and waits for the page its form answers with: a mark left
    on the old page's window is gone and the new document is loaded (a URL check alone passes
    early when the answer has the same URL)."""
    browser.execute_script("window.uaefOldPage = true;")
    read(lambda: browser.find_element(By.CSS_SELECTOR, selector).click())
    wait.until(lambda _: browser.execute_script(
        "return window.uaefOldPage === undefined && document.readyState === 'complete';"))


def shot(name):
    result.setdefault("timings", {})[name] = round(time.monotonic() - started, 1)
    path = os.path.join(shots, name + ".png")
    browser.save_screenshot(path)
    result["screenshots"].append(path)


def sign_in(token):
    browser.delete_all_cookies()
    browser.get(base + "/runs")
    wait.until(conditions.url_contains("/login"))
    browser.find_element(By.ID, "token").send_keys(token)
    submit("form[action='/login'] button[type=submit]")
    wait.until(conditions.url_contains("/runs"))


def start_run(workflow):
    browser.get(base + "/runs")
    browser.find_element(By.CSS_SELECTOR, "details.start summary").click()
    Select(browser.find_element(By.ID, "start-workflow")).select_by_value(workflow)
    submit("details.start button[type=submit]")
    wait.until(conditions.url_matches(r"/runs/run_[0-9A-Z]+$"))
    return browser.current_url.rsplit("/", 1)[1]


def status_becomes(expected):
    """Waits for the run page's status to read `expected` without the page being reloaded."""
    browser.execute_script("window.uaefMarker = 'same page';")
    wait.until(lambda _: browser.find_element(By.ID, "run-status").text == expected)
    return browser.execute_script("return window.uaefMarker") == "same page"


try:
    # A visitor without a session is sent to sign in; the operator signs in with a token.
    sign_in(tokens["operator"])
    cookie = browser.get_cookie("uaef_session")
    result["cookie"] = {"httpOnly": cookie["httpOnly"], "sameSite": cookie.get("sameSite")}
    shot("01-runs-empty")

    # Start a run from the page and watch it finish live, without reloading.
    run = start_run("quick")
    result["quick_seen_running"] = read(lambda: browser.find_element(By.ID, "run-status").text)
    result["quick_live"] = status_becomes("succeeded")
    result["quick_graph_states"] = read(lambda: [t.text for t in browser.find_elements(By.CSS_SELECTOR, "figure.graph svg text")])
    result["quick_events"] = read(lambda: [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.events tbody td:nth-child(3)")])
    shot("02-run-succeeded")

    # The run's last event, opened in the ledger page and its inclusion proof checked by the
    # browser itself (WebCrypto); the same check fails once the page's copy of the event is altered.
    read(lambda: browser.find_elements(By.CSS_SELECTOR, "table.events tbody td:first-child a")[-1].click())
    wait.until(conditions.url_contains("/ledger?index="))
    browser.find_element(By.ID, "verify-proof").click()
    wait.until(lambda _: browser.find_element(By.ID, "verify-result").text != "")
    result["proof_verified"] = browser.find_element(By.ID, "verify-result").text
    result["proof_event"] = browser.find_element(By.ID, "event-bytes").text
    browser.execute_script("document.getElementById('verify-result').scrollIntoView({block: 'center'});")
    shot("03-ledger-proof")
    browser.execute_script(
        "const e = document.getElementById('event-bytes'); e.textContent = e.textContent.replace('succeeded', 'failed');")
    browser.find_element(By.ID, "verify-proof").click()
    wait.until(lambda _: browser.find_element(By.ID, "verify-result").text.startswith("Not verified"))
    result["tampered"] = browser.find_element(By.ID, "verify-result").text

    # A task's page, from its row in the run's table: its attempt with the input it was given.
    browser.get(base + "/runs/" + run)
    read(lambda: browser.find_element(By.CSS_SELECTOR, "tr[data-task='post'] td a").click())
    wait.until(conditions.url_contains("/tasks/post"))
    result["task_input"] = read(lambda: browser.find_element(By.CSS_SELECTOR, "pre.attempt-input").text)
    result["task_status"] = read(lambda: browser.find_element(By.ID, "task-status").text)

    # A run that fails: its task's error is one click away.
    failed = start_run("broken")
    result["broken_live"] = status_becomes("failed")
    read(lambda: browser.find_element(By.CSS_SELECTOR, "details.task-error summary").click())
    result["task_error"] = read(lambda: browser.find_element(By.CSS_SELECTOR, "details.task-error pre").get_attribute("textContent"))
    shot("04-run-failed")

    # The list shows both runs, filtered by status on request.
    browser.get(base + "/runs")
    result["listed"] = [row.get_attribute("data-run") for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-run]")]
    result["listed_tasks"] = [cell.get_attribute("textContent") for cell in browser.find_elements(By.CSS_SELECTOR, "tr[data-run] td:nth-child(6)")]
    shot("05-runs")
    Select(browser.find_element(By.NAME, "status")).select_by_value("failed")
    submit("form.filters button[type=submit]")
    wait.until(conditions.url_contains("status=failed"))
    result["listed_failed"] = [row.get_attribute("data-run") for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-run]")]
    result["runs"] = {"quick": run, "broken": failed}

    # The quick run's success needs a settlement approved (the rule asks finance above 1,000.00):
    # it appears in the operator's inbox live; the operator, its maker, is refused by the server.
    browser.get(base + "/approvals")
    wait.until(lambda _: browser.find_elements(By.CSS_SELECTOR, "article.approval form.decide"))
    settlement = read(lambda: browser.find_element(By.CSS_SELECTOR, "article.approval").get_attribute("data-approval"))
    submit("article.approval button[value=approve]")
    result["maker_notice"] = read(lambda: browser.find_element(By.CSS_SELECTOR, "p.notice").text)
    shot("06-approvals-maker-refused")

    # A second principal with the finance role approves it, with a reason.
    sign_in(tokens["approver"])
    browser.get(base + "/approvals")
    read(lambda: browser.find_element(By.CSS_SELECTOR, f"article[data-approval='{settlement}'] input[name=reason]").send_keys("checked"))
    submit(f"article[data-approval='{settlement}'] button[value=approve]")
    wait.until(conditions.url_contains("approved="))
    result["approver_notice"] = read(lambda: browser.find_element(By.CSS_SELECTOR, "p.notice").text)
    result["still_waiting"] = len(browser.find_elements(By.CSS_SELECTOR, f"[data-approval='{settlement}']"))
    result["settlement"] = settlement

    # The settlement's page shows it posted (live) with the run that caused it; the accounts balance.
    browser.get(base + "/settlements/" + settlement)
    wait.until(lambda _: browser.find_element(By.ID, "settlement-status").text == "posted")
    result["settlement_run"] = read(lambda: browser.find_element(By.CSS_SELECTOR, "a[href^='/runs/run_']").text)
    shot("07-settlement")
    browser.get(base + "/accounts")
    result["trial_balance"] = read(lambda: browser.find_element(By.ID, "trial-balance").text)
    result["payable"] = read(lambda: browser.find_element(By.CSS_SELECTOR, "tr[data-account='payable:quick'] td:nth-child(4)").text)

    # A viewer sees the running run but no action: no start form, no cancel button.
    sign_in(tokens["viewer"])
    result["viewer_start_forms"] = len(browser.find_elements(By.CSS_SELECTOR, "details.start"))
    browser.get(base + "/runs/" + tokens["slow_run"])
    result["viewer_cancel_buttons"] = len(browser.find_elements(By.CSS_SELECTOR, "form[action$='/cancel']"))
    result["viewer_status"] = read(lambda: browser.find_element(By.ID, "run-status").text)
    browser.get(base + "/agents")
    result["viewer_agent_moves"] = len(browser.find_elements(By.CSS_SELECTOR, "td.moves button"))
    shot("08-viewer-run")
    browser.get(base + "/schedules")
    result["viewer_schedule_moves"] = len(browser.find_elements(By.CSS_SELECTOR, "td.moves button"))

    # The operator cancels it from the page, and sees it end live.
    sign_in(tokens["operator"])
    browser.get(base + "/runs/" + tokens["slow_run"])
    submit("form[action$='/cancel'] button")
    wait.until(conditions.url_matches(r"/runs/run_[0-9A-Z]+$"))
    result["cancel_live"] = status_becomes("cancelled")

    # The operator suspends an agent from the agents page.
    browser.get(base + "/agents")
    submit("tr[data-agent=counter] form[action$='/suspend'] button")
    wait.until(conditions.url_matches(r"/agents$"))
    result["agent_status"] = read(lambda: browser.find_element(By.CSS_SELECTOR, "tr[data-agent=counter] .status").text)
    shot("10-agents")

    # The operator pauses a schedule from the schedules page.
    browser.get(base + "/schedules")
    submit("tr[data-schedule=leap-tick] form[action$='/pause'] button")
    wait.until(conditions.url_matches(r"/schedules$"))
    result["schedule_state"] = read(
        lambda: browser.find_element(By.CSS_SELECTOR, "tr[data-schedule=leap-tick] .status").text)
    shot("12-schedules")

    # Analytics: the runs so far by workflow (counted from the event log moments after they end:
    # the page is reloaded until the cancelled run is in), the settled amount by rule.
    def analytics_rows():
        browser.get(base + "/analytics?dimension=workflows&days=1")
        return {row.get_attribute("data-key"): [td.text for td in row.find_elements(By.TAG_NAME, "td")[1:5]]
                for row in browser.find_elements(By.CSS_SELECTOR, "tr[data-key]")}
    wait.until(lambda _: analytics_rows().get("slow", [""] * 4)[3] == "1")
    result["analytics_workflows"] = analytics_rows()
    result["analytics_charts"] = len(browser.find_elements(By.CSS_SELECTOR, "figure.chart svg[role=img]"))
    shot("11-analytics")
    browser.get(base + "/analytics?dimension=rules&days=1")
    result["analytics_rule_amount"] = read(lambda: browser.find_element(By.CSS_SELECTOR, "tr[data-key='quick-fee'] td.amount").text)

    # Another tenant's operator finds nothing at the same address.
    sign_in(tokens["stranger"])
    browser.get(base + "/runs/" + run)
    result["stranger_heading"] = browser.find_element(By.TAG_NAME, "h1").text
    result["stranger_sees_run"] = run in browser.find_element(By.TAG_NAME, "main").text and "does not exist" not in browser.page_source
    browser.get(base + "/runs/" + run + "/tasks/post")
    result["stranger_task_heading"] = browser.find_element(By.TAG_NAME, "h1").text
    shot("09-other-tenant")

    # Signing out ends the session: the next page asks to sign in again.
    submit("form[action='/logout'] button")
    wait.until(conditions.url_contains("/login"))
    browser.get(base + "/runs")
    result["after_sign_out"] = browser.current_url.replace(base, "")
finally:
    browser.quit()

print(json.dumps(result))
