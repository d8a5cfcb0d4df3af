"""The operator's console page (/admin, issue 16) in headless Chromium,
driven by Selenium (Debian's python3-selenium and chromium-driver).

Against a real 'bulkhead run' on a scratch database: sign in; watch a
throttled import's progress move; pause and resume it; cancel a delayed
job; a job error containing <script> shows as text; a job's page with
its error file lines (markup as text), a delivery to redeliver and its
audit history; create a schedule
with a bad cron and see the message at the cron field, fix it, see it in
the calendar, run it now; edit a limit; a viewer sees no controls.
Screenshots at 360 and 1920 px go to <build dir>/screenshots/ (the
directory of BULKHEAD_BIN).  Without Chromium or Selenium the browser
tests are skipped; the header test still runs.
"""
import json
import os
import shutil
import time

import pytest
import requests

from conftest import run_cli
from jobhelp import wait_for
from test_console_job import IMG_REF, SCRIPT_REF, bad_import

TOKEN = "test-admin-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
SCRIPT_ERR = ('import failed: <script>window.pwned = 1</script> '
              '<img src=x onerror="window.pwned = 2">\n'
              'second line of the error, shown on click')

webdriver = None
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:           # pragma: no cover
    pass

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
needs_browser = pytest.mark.skipif(
    webdriver is None or not os.path.exists(CHROMEDRIVER),
    reason="needs python3-selenium and chromium-driver")


def admin(server, method, path, body=None):
    h = dict(AUTH)
    if body is not None:
        h["Content-Type"] = "application/json"
    r = requests.request(method, server.base + "/admin/api/" + path,
                         headers=h, timeout=30,
                         data=None if body is None else json.dumps(body))
    assert r.status_code < 300, r.text
    return r.json() if r.status_code != 204 else None


def test_page_headers(server):
    """The page and its assets: types, CSP without inline script,
    nosniff, revalidation; nothing else embedded is reachable."""
    for path, ctype in (("/admin", "text/html"), ("/admin/", "text/html"),
                        ("/admin/console.js", "text/javascript"),
                        ("/admin/console.css", "text/css")):
        r = requests.get(server.base + path, timeout=10)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith(ctype)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-cache"
        r2 = requests.get(server.base + path, timeout=10,
                          headers={"If-None-Match": r.headers["ETag"]})
        assert r2.status_code == 304
    html = requests.get(server.base + "/admin", timeout=10).text
    assert "<script>" not in html and " style=" not in html
    assert "http://" not in html and "https://" not in html
    for bad in ("/admin/001_store.sql", "/admin/index.htm",
                "/admin/..%2Fschemas", "/admin/nope.js"):
        assert requests.get(server.base + bad, timeout=10).status_code == 404


@pytest.fixture
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1920,1080",
              "--lang=en-GB"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.implicitly_wait(0)
    yield d
    d.quit()


class Page:
    def __init__(self, driver, server, shots):
        self.d = driver
        self.server = server
        self.shots = shots

    def wait(self, pred, timeout=30, what="condition"):
        def p(_):
            try:
                return pred()
            except Exception:           # stale elements while polling
                return False
        try:
            return WebDriverWait(self.d, timeout, 0.1).until(p, what)
        except Exception:
            if self.shots:
                self.d.save_screenshot(os.path.join(self.shots,
                                                    "failed.png"))
            raise AssertionError("timed out: %s; banner %r; jobs %s" % (
                what, self.d.find_element(By.ID, "banner").text,
                [(j["id"], j["state"], j["rows"]) for j in admin(
                    self.server, "GET", "jobs")["jobs"]]))

    def css(self, sel):
        return self.d.find_element(By.CSS_SELECTOR, sel)

    def all(self, sel):
        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def go(self, hash_):
        self.d.execute_script("location.hash = arguments[0]", hash_)
        self.wait(lambda: self.css("#page-" + hash_.split("/")[0])
                  .is_displayed(), what="page " + hash_)

    def sign_in(self, token):
        self.d.get(self.server.base + "/admin")
        self.wait(lambda: self.css("#token").is_displayed())
        self.css("#token").send_keys(token)
        self.css("#signin-form button[type=submit]").click()
        self.wait(lambda: self.css("#who").is_displayed(), what="signed in")

    def state(self, jid):
        return self.css('#jobs tr[data-job="%s"]' % jid).get_attribute(
            "data-state")

    def rows_text(self, jid):
        return self.css('#jobs tr[data-job="%s"] .rows' % jid).text

    def click(self, sel, what=None):
        """Clicks sel once it is enabled; the polled tables are rebuilt
        every second, so a stale element is looked up again."""
        def p():
            b = self.css(sel)
            if not b.is_enabled():
                return False
            b.click()
            return True
        self.wait(p, 30, what or sel)

    def click_action(self, jid, action):
        self.click('#jobs button[data-job="%s"][data-action="%s"]'
                   % (jid, action), action + " enabled")

    def shot(self, name, width):
        self.d.set_window_size(width, 1080)
        time.sleep(0.4)
        h = self.d.execute_script(
            "return document.documentElement.scrollHeight")
        self.d.set_window_size(width, max(600, min(h + 20, 2400)))
        time.sleep(0.4)
        path = os.path.join(self.shots, "%s-%d.png" % (name, width))
        assert self.d.save_screenshot(path)
        self.d.set_window_size(1920, 1080)
        return path


def slow_import(server, tmp_path, name, n=4000):
    imp = tmp_path / "import"
    imp.mkdir(exist_ok=True)
    (imp / (name + ".ndjson")).write_text("\n".join(
        json.dumps({"resourceType": "Patient", "id": "%s%05d" % (name, i)})
        for i in range(n)) + "\n")
    r = requests.post(server.fhir + "/$import", timeout=30, data=json.dumps({
        "inputFormat": "application/fhir+ndjson",
        "inputSource": "https://openimis.example/fhir",
        "storageDetail": {"type": "https"},
        "input": [{"type": "Patient",
                   "url": "file://" + str(imp / (name + ".ndjson"))}]}),
        headers={"Content-Type": "application/json",
                 "Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    return r.headers["Content-Location"].rstrip("/").rsplit("/", 1)[1]


@needs_browser
def test_console(server, db, browser, bulkhead_bin, tmp_path):
    shots = os.path.join(os.path.dirname(os.path.abspath(bulkhead_bin)),
                         "screenshots")
    os.makedirs(shots, exist_ok=True)
    pg = Page(browser, server, shots)

    # The data: a throttled import, a delayed job, a failed job whose
    # error carries markup (written straight into its row: the page's
    # rendering is what is under test).
    bad = admin(server, "POST", "jobs", {
        "kind": "noop", "params": {"steps": 1, "step_ms": 0}})["id"]
    wait_for(lambda: admin(server, "GET", "jobs/" + bad)["state"] ==
             "completed", 60, what="noop completed")
    with db.connect() as c, c.cursor() as cur:
        cur.execute("UPDATE jobs SET state = 'failed', error = %s "
                    "WHERE id = %s", [SCRIPT_ERR, bad])
    # An import with bad lines: its error file lines quote markup back;
    # an OpenHIM delivery of it that failed (its row written straight
    # in: no OpenHIM here).
    badimp = bad_import(server, tmp_path, n_bad=2)
    with db.connect() as c, c.cursor() as cur:
        cur.execute("INSERT INTO openhim_deliveries (job_id, n, target, "
                    "state, attempts, last_status, last_response) VALUES "
                    "(%s, 1, 'openimis', 'failed', 10, 502, %s)",
                    [badimp, "<b>bad gateway</b>"])
    later = time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                          time.gmtime(time.time() + 3 * 3600))
    delayed = admin(server, "POST", "jobs", {
        "kind": "noop", "params": {"steps": 1, "step_ms": 0},
        "not_before": later})["id"]
    admin(server, "PUT", "limits", {"rows_per_second": 40,
                                    "import_batch_lines": 100})
    imp = slow_import(server, tmp_path, "slow")
    wait_for(lambda: admin(server, "GET", "jobs/" + imp)["state"] ==
             "running", 60, what="import running")

    # Sign in: the principal and its role.
    pg.sign_in(TOKEN)
    assert pg.css("#who-name").text == "config"
    assert pg.css("#who-role").text == "admin"
    assert browser.execute_script(
        "return sessionStorage.getItem('bulkhead.admin.token')") == TOKEN
    assert TOKEN not in browser.current_url
    assert not browser.get_cookies()

    # Jobs: the import's progress moves.
    pg.wait(lambda: pg.state(imp) == "running", 60, "import running")
    first = pg.wait(lambda: pg.rows_text(imp).startswith(("1", "2", "3",
                    "4", "5", "6", "7", "8", "9")) and pg.rows_text(imp),
                    60, "rows loaded")
    pg.wait(lambda: pg.rows_text(imp) != first, 30, "progress moves")
    assert "rows" in pg.rows_text(imp) and "/s" in pg.rows_text(imp)
    assert pg.state(delayed) == "scheduled"
    pg.shot("jobs", 1920)
    pg.shot("jobs", 360)

    # Pause and resume it (a running job parks at its next batch).
    pg.click_action(imp, "pause")
    pg.wait(lambda: pg.state(imp) == "paused", 60, "paused")
    pg.wait(lambda: not pg.css('#jobs button[data-job="%s"]'
                               '[data-action="pause"]' % imp).is_enabled(),
            10, "pause disabled")
    pg.click_action(imp, "resume")
    pg.wait(lambda: pg.state(imp) in ("queued", "running"), 30, "resumed")
    pg.wait(lambda: pg.state(imp) == "running", 60, "running again")

    # Cancel the delayed job; the state machine then disables the rest.
    pg.click_action(delayed, "cancel")
    pg.wait(lambda: pg.state(delayed) == "cancelled", 30, "cancelled")
    btn = '#jobs button[data-job="%s"][data-action="%%s"]' % delayed
    pg.wait(lambda: [pg.css(btn % a).is_enabled() for a in
                     ("pause", "resume", "cancel", "retry")] ==
            [False, False, False, True], 10, "only retry enabled")

    # An error with markup is text: one line, the whole on click.
    summary = '#jobs tr[data-job="%s"] details summary' % bad
    pg.wait(lambda: pg.css(summary).text.startswith(
        "import failed: <script>"), 10, "error line")
    pg.click(summary)
    pg.wait(lambda: pg.css('#jobs tr[data-job="%s"] details pre' % bad)
            .text == SCRIPT_ERR, 10, "the whole error as text")
    assert browser.execute_script("return window.pwned") is None
    assert not pg.all("#jobs script, #jobs img")

    # The job's own page.
    pg.go("job/" + bad)
    pg.wait(lambda: pg.css("#job-id").text == bad)
    assert pg.css("#job-error").text == SCRIPT_ERR
    assert '"steps": 1' in pg.css("#job-params").text
    assert browser.execute_script("return window.pwned") is None

    # The bad import's page: error file lines as text, the delivery
    # with its redeliver button, the audit history.
    pg.go("job/" + badimp)
    lines = "#job-errlines tbody tr"
    pg.wait(lambda: len(pg.all(lines)) == 2, 30, "error file lines")
    diags = [e.text for e in pg.all(lines + " .diag")]
    assert SCRIPT_REF in diags[0] and IMG_REF in diags[1], diags
    assert "error" in pg.all(lines)[0].text
    assert not pg.all("#page-job script, #page-job img, #page-job b")
    assert pg.css("#job-errlines-count").text == "lines 1–2 of 2"
    dl = '#job-deliveries tr[data-delivery="1"]'
    pg.wait(lambda: pg.css(dl).get_attribute("data-state") == "failed",
            30, "delivery shown")
    assert "openimis" in pg.css(dl).text and "502" in pg.css(dl).text
    pg.wait(lambda: pg.css("#job-audit-empty").is_displayed(), 10,
            "no audit rows yet")
    pg.click(dl + ' button[data-action="redeliver"]', "redeliver")
    pg.wait(lambda: pg.css(dl).get_attribute("data-state") == "pending",
            30, "delivery queued again")
    pg.wait(lambda: "delivery.retry" in pg.css("#job-audit").text, 30,
            "the redelivery in the audit history")
    assert "config (admin)" in pg.css("#job-audit").text
    assert browser.execute_script("return window.pwned") is None
    pg.shot("job", 1920)
    pg.shot("job", 360)

    # The failed job's history: its submission, by the config admin.
    pg.go("job/" + bad)
    pg.wait(lambda: "job.submit" in pg.css("#job-audit").text, 30,
            "submission audited")

    # Filter by state.
    pg.go("jobs")
    Select(pg.css("#f-state")).select_by_visible_text("failed")
    pg.wait(lambda: [r.get_attribute("data-job") for r in
                     pg.all("#jobs tbody tr")] == [bad], 30, "filtered")
    Select(pg.css("#f-state")).select_by_visible_text("any")

    # Schedules: a bad cron is refused at its field; fixed, it is saved.
    pg.go("schedules")
    pg.css("#sched-new").click()
    pg.css("#s-name").send_keys("nightly")
    pg.css("#s-cron").send_keys("61 2 * * *")
    pg.css("#s-timezone").send_keys("Africa/Dar_es_Salaam")
    Select(pg.css("#s-kind")).select_by_visible_text("noop")
    p = pg.css("#s-params")
    p.clear()
    p.send_keys('{"steps": 1, "step_ms": 0}')
    pg.css("#sched-form button[type=submit]").click()
    msg = pg.wait(lambda: pg.css("#e-cron").text, 30, "cron message")
    assert msg.startswith("cron:"), msg
    assert pg.css("#s-cron").get_attribute("aria-invalid") == "true"
    assert pg.css("#e-form").text == ""
    c = pg.css("#s-cron")
    c.clear()
    c.send_keys("0 2 * * *")
    pg.css("#sched-form button[type=submit]").click()
    pg.wait(lambda: "every day at 02:00" in pg.css(
        '#schedules tr[data-schedule="nightly"]').text, 30,
        "schedule listed, cron in words")
    assert not pg.css("#sched-form").is_displayed()

    # The calendar shows its fires (week and month) and the delayed job.
    pg.go("calendar")
    pg.wait(lambda: pg.all('#calendar [data-schedule="nightly"]'), 30,
            "fire in the week")
    pg.css("#c-month").click()
    pg.wait(lambda: len(pg.all('#calendar .cal-month '
                               '[data-schedule="nightly"]')) >= 20, 30,
            "fires in the month")
    pg.css("#c-week").click()
    pg.wait(lambda: pg.all("#calendar .cal-week"), 10)
    pg.shot("calendar", 1920)
    pg.shot("calendar", 360)

    # Run it now.
    pg.go("schedules")
    pg.click('#schedules tr[data-schedule="nightly"] '
             'button[data-action="run"]')
    pg.wait(lambda: "started job" in pg.css("#banner").text, 30, "run now")
    runs = admin(server, "GET", "jobs?schedule=nightly")["jobs"]
    assert len(runs) == 1

    # Edit a limit in place (and let the import finish).
    pg.go("limits")
    inp = pg.wait(lambda: pg.css("#l-rows_per_second"), 30, "limits")
    assert "per second" in pg.css('tr[data-limit="rows_per_second"]').text
    inp.clear()
    inp.send_keys("0")
    pg.css('tr[data-limit="rows_per_second"] button').click()
    pg.wait(lambda: pg.css("#le-rows_per_second").text == "saved", 30)
    assert admin(server, "GET", "limits")["rows_per_second"] == 0
    inp = pg.css("#l-worker_nice")
    inp.clear()
    inp.send_keys("99")
    pg.css('tr[data-limit="worker_nice"] button').click()
    pg.wait(lambda: pg.css("#le-worker_nice").text not in ("", "saved"), 30)

    # Sign out clears the token.
    pg.css("#signout").click()
    pg.wait(lambda: pg.css("#signin").is_displayed())
    assert browser.execute_script(
        "return sessionStorage.getItem('bulkhead.admin.token')") is None


@needs_browser
def test_viewer_sees_no_controls(server, db, browser, bulkhead_bin):
    r = run_cli(bulkhead_bin, ["admins", "add", "watcher", "--role",
                               "viewer"], db=db)
    assert r.returncode == 0, r.stderr
    tok = r.stdout.decode().strip()
    admin(server, "PUT", "schedules/hourly", {
        "cron": "0 * * * *", "job": {"kind": "noop"}})
    jid = admin(server, "POST", "jobs", {"kind": "noop"})["id"]
    pg = Page(browser, server, None)
    pg.sign_in(tok)
    # The role comes from whoami, answered after sign-in: wait for it.
    pg.wait(lambda: pg.css("#who-role").text == "viewer", 30, "role shown")
    pg.wait(lambda: pg.all('#jobs tr[data-job="%s"]' % jid), 30)
    assert not pg.all("#jobs button")
    # A job's page: a delivery, but no redeliver button.
    with db.connect() as c, c.cursor() as cur:
        cur.execute("INSERT INTO openhim_deliveries (job_id, n, target) "
                    "VALUES (%s, 1, 'openimis')", [jid])
    pg.go("job/" + jid)
    pg.wait(lambda: pg.all('#job-deliveries tr[data-delivery="1"]'), 30,
            "delivery shown")
    assert not pg.all("#page-job button:not([id])")
    pg.go("schedules")
    pg.wait(lambda: pg.all('#schedules tr[data-schedule="hourly"]'), 30)
    assert not pg.all("#schedules button")
    assert not pg.css("#sched-new").is_displayed()
    pg.go("limits")
    inp = pg.wait(lambda: pg.css("#l-rows_per_second"), 30)
    assert not inp.is_enabled()
    assert not pg.all("#limits button")
