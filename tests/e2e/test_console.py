"""The operator's console API (issue 16): delayed one-off jobs
(POST /admin/api/jobs with not_before, 'jobs submit --at'), the jobs
listing's filters and cursors, whoami, the calendar, schedules' cron in
words, limits' descriptions, /metrics' queue lines and /readyz.

Timing tests use the real clock (the claim compares not_before with
PostgreSQL's now()); they allow generous slack above and none below.
"""
import datetime
import json
import re
import time

import pytest
import requests

from conftest import _admin_exec, run_cli
from jobhelp import job, wait_for, wait_job

TOKEN = "test-admin-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
NOOP = {"steps": 1, "step_ms": 0}


def call(server, method, path, token=TOKEN, body=None, params=None):
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        h["Content-Type"] = "application/json"
    return requests.request(method, server.base + path, headers=h,
                            params=params, timeout=30,
                            data=None if body is None else json.dumps(body))


def diag(r):
    return r.json()["issue"][0]["diagnostics"]


def iso(t, tz_hours=3):
    """An RFC 3339 instant of epoch t with a +hh:00 offset."""
    tz = datetime.timezone(datetime.timedelta(hours=tz_hours))
    return datetime.datetime.fromtimestamp(t, tz).isoformat()


def add_admin(bulkhead_bin, db, name, role):
    r = run_cli(bulkhead_bin, ["admins", "add", name, "--role", role], db=db)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


@pytest.fixture
def api(db, start_server, bulkhead_bin):
    """'bulkhead serve' alone: jobs stay where they are put."""
    assert run_cli(bulkhead_bin, ["admins", "list"], db=db).returncode == 0
    return start_server(db, role="serve")


# ---- delayed one-off jobs ----------------------------------------------

def test_not_before_starts_after_it_across_a_restart(db, start_server):
    """A job submitted for +5 s is 'scheduled' until then, survives a
    restart of the whole service (scheduler and workers) in the
    meantime, and is claimed after not_before, never before."""
    s = start_server(db)
    nb = time.time() + 5
    r = call(s, "POST", "/admin/api/jobs", body={
        "kind": "noop", "params": NOOP, "not_before": iso(nb)})
    assert r.status_code == 201, r.text
    j = r.json()
    assert j["state"] == "scheduled" and j["not_before"] is not None
    assert r.headers["Location"] == "/admin/api/jobs/" + j["id"]
    # Kept to the second (RFC 3339 without a fraction).
    stored = job(db, j["id"])["not_before"].timestamp()
    assert nb - 1 < stored <= nb, (stored, nb)
    # Listed as scheduled, not as queued.
    got = call(s, "GET", "/admin/api/jobs", params={"state": "scheduled"})
    assert [x["id"] for x in got.json()["jobs"]] == [j["id"]]
    got = call(s, "GET", "/admin/api/jobs", params={"state": "queued"})
    assert got.json()["jobs"] == []
    time.sleep(1.5)
    assert job(db, j["id"])["state"] == "queued"
    s.stop()
    s2 = start_server(db)
    assert job(db, j["id"])["started"] is None
    done = wait_job(db, j["id"], lambda x: x["state"] == "completed",
                    timeout=30)
    assert done["started"].timestamp() >= stored, (done["started"], stored)
    # Claimed within the workers' idle poll (2 s) plus slack.
    assert done["started"].timestamp() < stored + 10
    assert call(s2, "GET", "/admin/api/jobs/" + j["id"]).json()[
        "state"] == "completed"


def test_cli_submit_at_and_plain_cancel(api, db, bulkhead_bin):
    at = iso(time.time() + 3600, -5)
    r = run_cli(bulkhead_bin, ["jobs", "submit", "noop", json.dumps(NOOP),
                               "--at", at], db=db)
    assert r.returncode == 0, r.stderr
    jid = r.stdout.decode().strip()
    r = run_cli(bulkhead_bin, ["jobs", "show", jid, "--json", "--api",
                               api.base], db=db,
                env={"BULKHEAD_ADMIN_TOKEN": TOKEN})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["state"] == "scheduled"
    r = run_cli(bulkhead_bin, ["jobs", "list", "--api", api.base], db=db,
                env={"BULKHEAD_ADMIN_TOKEN": TOKEN})
    assert r.returncode == 0 and b"scheduled" in r.stdout, r.stdout
    # Cancelling before it starts is a plain cancel.
    r = call(api, "POST", "/admin/api/jobs/%s/cancel" % jid)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    r = run_cli(bulkhead_bin, ["jobs", "submit", "noop", "--at",
                               "2026-12-05T02:00:00"], db=db)
    assert r.returncode == 2 and b"--at" in r.stderr


@pytest.mark.parametrize("body,field", [
    ({}, "kind"),
    ({"kind": "nosuch"}, "kind"),
    ({"kind": "noop", "params": []}, "params"),
    ({"kind": "noop", "params": {"steps": "x"}}, "params"),
    ({"kind": "noop", "not_before": "2026-12-05T02:00:00"}, "not_before"),
    ({"kind": "noop", "not_before": "tomorrow"}, "not_before"),
    ({"kind": "noop", "not_before": 5}, "not_before"),
    ({"kind": "noop", "when": "now"}, "when"),
    ({"kind": "noop", "priority": 1.5}, "priority"),
])
def test_submit_validation_names_the_field(api, db, body, field):
    before = db.scalar("SELECT count(*) FROM jobs")
    r = call(api, "POST", "/admin/api/jobs", body=body)
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    assert diag(r).startswith(field + ":"), diag(r)
    assert db.scalar("SELECT count(*) FROM jobs") == before


def test_submit_needs_operator(api, db, bulkhead_bin):
    v = add_admin(bulkhead_bin, db, "vera", "viewer")
    o = add_admin(bulkhead_bin, db, "otto", "operator")
    r = call(api, "POST", "/admin/api/jobs", token=v, body={"kind": "noop"})
    assert r.status_code == 403
    assert db.scalar("SELECT count(*) FROM jobs") == 0
    r = call(api, "POST", "/admin/api/jobs", token=o, body={"kind": "noop"})
    assert r.status_code == 201 and r.json()["state"] == "queued"
    a = db.query("SELECT action, principal, role FROM audit "
                 "WHERE action = 'job.submit'")
    assert a and a[0][1:] == ("otto", "operator"), a


# ---- whoami ---------------------------------------------------------------

def test_whoami_names_the_principal_and_its_role(api, db, bulkhead_bin):
    r = call(api, "GET", "/admin/api/whoami")
    assert r.status_code == 200
    assert r.json() == {"name": "config", "role": "admin",
                        "may_operate": True, "may_administer": True}
    v = add_admin(bulkhead_bin, db, "vera", "viewer")
    o = add_admin(bulkhead_bin, db, "otto", "operator")
    assert call(api, "GET", "/admin/api/whoami", token=v).json() == {
        "name": "vera", "role": "viewer", "may_operate": False,
        "may_administer": False}
    assert call(api, "GET", "/admin/api/whoami", token=o).json() == {
        "name": "otto", "role": "operator", "may_operate": True,
        "may_administer": False}
    assert call(api, "GET", "/admin/api/whoami", token="nope").status_code \
        == 401
    assert call(api, "GET", "/admin/api/whoami", token=None).status_code \
        == 401


# ---- schedules in words ----------------------------------------------------

def test_schedule_cron_text_and_last_result(api, db):
    r = call(api, "PUT", "/admin/api/schedules/nightly", body={
        "cron": "0 2 * * *", "timezone": "Africa/Dar_es_Salaam",
        "job": {"kind": "noop", "params": NOOP}})
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["cron_text"] == "every day at 02:00 Africa/Dar_es_Salaam"
    assert s["last_result"] is None and s["next_fire"] is not None
    assert "last_fire" in s
    call(api, "PUT", "/admin/api/schedules/twice", body={
        "cron": "30 2 * * 1,5", "job": {"kind": "noop"}})
    r = call(api, "POST", "/admin/api/schedules/nightly/run")
    assert r.status_code == 202, r.text
    got = {x["name"]: x for x in
           call(api, "GET", "/admin/api/schedules").json()["schedules"]}
    assert got["twice"]["cron_text"] == "at 02:30 on Monday and Friday UTC"
    assert got["nightly"]["last_result"] == "queued"
    assert got["twice"]["last_result"] is None
    db.query("UPDATE jobs SET state = 'failed', finished = now(), "
             "error = 'boom' RETURNING id")
    r = call(api, "GET", "/admin/api/schedules/nightly")
    assert r.json()["last_result"] == "failed"


# ---- the jobs listing -------------------------------------------------------

def make_job(db, kind="noop", state="queued", client=None, error=None,
             progress=None, created_ago=0):
    return db.query(
        "INSERT INTO jobs (kind, state, client, error, progress, created, "
        "updated, started, finished, lease_owner) VALUES (%s, %s, %s, %s, "
        "%s, now() - make_interval(secs => %s), now() - make_interval("
        "secs => %s), CASE WHEN %s <> 'queued' THEN now() - make_interval("
        "secs => %s) END, CASE WHEN %s IN ('completed', 'failed') THEN "
        "now() END, CASE WHEN %s = 'running' THEN 'w' END) RETURNING id",
        (kind, state, client, error,
         None if progress is None else json.dumps(progress),
         created_ago, created_ago, state, created_ago, state,
         state))[0][0]


def test_jobs_listing_filters_pages_and_polls(api, db):
    old = make_job(db, "import", "completed", created_ago=300,
                   progress={"loaded": 1000})
    failed = make_job(db, "noop", "failed", "schedule:nightly",
                      error="line one\nline two <script>x</script>",
                      created_ago=200)
    newer = [make_job(db, created_ago=100 - i) for i in range(5)]
    r = call(api, "GET", "/admin/api/jobs", params={"limit": 3})
    body = r.json()
    ids = [j["id"] for j in body["jobs"]]
    assert ids == newer[::-1][:3]
    assert body["next_before"] == ids[-1]
    r = call(api, "GET", "/admin/api/jobs", params={
        "limit": 3, "before": body["next_before"]})
    page2 = [j["id"] for j in r.json()["jobs"]]
    assert page2 == [newer[1], newer[0], failed]
    r = call(api, "GET", "/admin/api/jobs", params={
        "limit": 3, "before": page2[-1]})
    assert [j["id"] for j in r.json()["jobs"]] == [old]
    assert r.json()["next_before"] is None
    # Filters: state, kind, schedule.
    f = call(api, "GET", "/admin/api/jobs", params={"state": "failed"})
    (j,) = f.json()["jobs"]
    assert j["id"] == failed and j["schedule"] == "nightly"
    assert j["error_line"] == "line one"
    assert j["error"] == "line one\nline two <script>x</script>"
    assert j["duration_s"] is not None and j["duration_s"] >= 199
    f = call(api, "GET", "/admin/api/jobs", params={"kind": "import"})
    (j,) = f.json()["jobs"]
    assert j["rows"] == 1000 and j["rate"] > 0 and j["schedule"] is None
    f = call(api, "GET", "/admin/api/jobs", params={"schedule": "nightly"})
    assert [x["id"] for x in f.json()["jobs"]] == [failed]
    # since: only what changed since the last poll's "now".
    now = call(api, "GET", "/admin/api/jobs").json()["now"]
    time.sleep(1.1)
    assert call(api, "GET", "/admin/api/jobs",
                params={"since": now}).json()["jobs"] == []
    db.query("UPDATE jobs SET state = 'paused', updated = now() "
             "WHERE id = %s RETURNING id", (newer[2],))
    got = call(api, "GET", "/admin/api/jobs", params={"since": now}).json()
    assert [x["id"] for x in got["jobs"]] == [newer[2]]
    for bad in ({"since": "yesterday"}, {"before": "x'y"},
                {"state": "sleeping"}):
        r = call(api, "GET", "/admin/api/jobs", params=bad)
        assert r.status_code == 400
        assert diag(r).startswith(list(bad)[0] + ":"), diag(r)


# ---- the calendar ------------------------------------------------------------

def calendar(api, frm, to, token=TOKEN):
    return call(api, "GET", "/admin/api/calendar",
                params={"from": frm, "to": to}, token=token)


def put_schedule(api, name, cron, tz, enabled=True):
    r = call(api, "PUT", "/admin/api/schedules/" + name, body={
        "cron": cron, "timezone": tz, "enabled": enabled,
        "job": {"kind": "noop"}})
    assert r.status_code in (200, 201), r.text


def test_calendar_dst(api, db):
    """Europe/London falls back on 2026-10-25 (01:00-02:00 happens
    twice); America/New_York springs forward on 2026-03-08 (02:00-03:00
    does not happen).  A fixed-time schedule fires once a day (at the
    first 01:30; at 03:00 for the missing 02:30); an hourly one fires at
    both 01:30s and skips the missing hour."""
    put_schedule(api, "london", "30 1 * * *", "Europe/London")
    put_schedule(api, "hourly", "30 * * * *", "Europe/London")
    put_schedule(api, "paused", "* * * * *", "UTC", enabled=False)
    r = calendar(api, "2026-10-24T00:00:00Z", "2026-10-27T00:00:00Z")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == "2026-10-24T00:00:00Z"
    assert body["truncated"] is False and body["delayed"] == []
    london = [f["at"] for f in body["fires"] if f["schedule"] == "london"]
    assert london == ["2026-10-24T01:30:00+01:00",
                      "2026-10-25T01:30:00+01:00",
                      "2026-10-26T01:30:00Z"]
    hourly = [f["at"] for f in body["fires"] if f["schedule"] == "hourly"]
    assert "2026-10-25T01:30:00+01:00" in hourly
    assert "2026-10-25T01:30:00Z" in hourly
    # 72 real hours, one fire in each: the repeated hour is not lost.
    assert len(hourly) == 72
    assert all(f["job"] is None and f["state"] is None
               for f in body["fires"])
    assert not any(f["schedule"] == "paused" for f in body["fires"])
    # In time order across schedules.
    ats = [f["at"] for f in body["fires"]]
    import datetime as dt
    ts = [dt.datetime.fromisoformat(a) for a in ats]
    assert ts == sorted(ts)
    put_schedule(api, "ny", "30 2 * * *", "America/New_York")
    r = calendar(api, "2026-03-07T00:00:00-05:00", "2026-03-10T00:00:00-04:00")
    ny = [f["at"] for f in r.json()["fires"] if f["schedule"] == "ny"]
    assert ny == ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00",
                  "2026-03-09T02:30:00-04:00"]


def test_calendar_matches_past_fires_and_shows_delayed(api, db):
    put_schedule(api, "nightly", "0 2 * * *", "Africa/Dar_es_Salaam")
    # The job the 2027-11-02 fire started (what the scheduler writes).
    jid = db.query("INSERT INTO jobs (kind, client, state, fire_at) VALUES "
                   "('noop', 'schedule:nightly', 'completed', "
                   "'2027-11-02T02:00:00+03:00') RETURNING id")[0][0]
    # A run-now job of the same schedule is no fire's.
    db.query("INSERT INTO jobs (kind, client, state) VALUES ('noop', "
             "'schedule:nightly', 'failed') RETURNING id")
    # Delayed jobs: one still to come (the calendar is in 2027) ...
    r = call(api, "POST", "/admin/api/jobs", body={
        "kind": "noop", "not_before": "2027-11-03T12:00:00+03:00"})
    delayed = r.json()["id"]
    body = calendar(api, "2027-11-01T00:00:00+03:00",
                    "2027-11-04T00:00:00+03:00").json()
    # (The service's own housekeeping schedule fires too.)
    fires = [f for f in body["fires"] if f["schedule"] == "nightly"]
    assert [(f["at"], f["job"], f["state"]) for f in fires] == [
        ("2027-11-01T02:00:00+03:00", None, None),
        ("2027-11-02T02:00:00+03:00", jid, "completed"),
        ("2027-11-03T02:00:00+03:00", None, None)]
    assert body["delayed"] == [{"job": delayed, "kind": "noop",
                                "not_before": "2027-11-03T09:00:00Z",
                                "state": "scheduled"}]


def test_calendar_cap_and_validation(api, db, bulkhead_bin):
    put_schedule(api, "minutely", "* * * * *", "UTC")
    put_schedule(api, "quarter", "*/15 * * * *", "UTC")
    r = calendar(api, "2026-01-01T00:00:00Z", "2026-03-04T00:00:00Z")
    body = r.json()
    assert body["truncated"] is True and len(body["fires"]) == 10000
    # 62 days of minutes and quarters: the earliest 10,000 of both.
    assert body["fires"][0]["at"] == "2026-01-01T00:00:00Z"
    # Every fire of each schedule up to the last one kept is there: the
    # cut takes the earliest fires overall, not the first schedule's.
    ts = [datetime.datetime.fromisoformat(f["at"]).timestamp()
          for f in body["fires"]]
    assert ts == sorted(ts)
    start = ts[0]
    minutes = int((ts[-1] - start) // 60) + 1
    mine = [f for f in body["fires"] if f["schedule"] == "minutely"]
    assert len(mine) in (minutes, minutes - 1)
    assert sum(f["schedule"] == "quarter" for f in body["fires"]) == \
        (len(mine) - 1) // 15 + 1
    r = calendar(api, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    mine = [f for f in r.json()["fires"] if f["schedule"] != "housekeeping"]
    assert r.json()["truncated"] is False and len(mine) == 64
    v = add_admin(bulkhead_bin, db, "vera", "viewer")
    assert calendar(api, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z",
                    token=v).status_code == 200
    for frm, to, field in [
            (None, "2026-01-02T00:00:00Z", "from"),
            ("2026-01-01T00:00:00Z", None, "to"),
            ("2026-01-01", "2026-01-02T00:00:00Z", "from"),
            ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00", "to"),
            ("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", "to"),
            ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "to"),
            ("2026-01-01T00:00:00Z", "2026-03-04T00:00:01Z", "to")]:
        params = {k: v for k, v in (("from", frm), ("to", to)) if v}
        r = call(api, "GET", "/admin/api/calendar", params=params)
        assert r.status_code == 400, (frm, to, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
        assert diag(r).startswith(field + ":"), diag(r)


# ---- limits in words ---------------------------------------------------------

def test_limits_fields_describe_every_limit(api, db, bulkhead_bin):
    v = add_admin(bulkhead_bin, db, "vera", "viewer")
    r = call(api, "GET", "/admin/api/limits/fields", token=v)
    assert r.status_code == 200
    fields = r.json()["fields"]
    limits = call(api, "GET", "/admin/api/limits").json()
    assert {f["name"] for f in fields} == set(limits), (fields, limits)
    for f in fields:
        assert f["description"] and f["type"] in ("integer", "boolean",
                                                  "map")
    by = {f["name"]: f for f in fields}
    assert by["rows_per_second"]["unit"] == "rows/s"
    assert by["kind_timeout_s"]["max"] == 604800


# ---- /metrics and /readyz ----------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? '
                    r'(-?[0-9.e+]+|NaN|\+Inf|-Inf)$')
LABEL = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"$')


def parse_metrics(text):
    """Prometheus text format 0.0.4, checked as promtool would (no
    promtool in Debian's base): HELP/TYPE before a family's samples,
    known types, well-formed labels, counters named _total, no series
    twice.  Returns {(name, frozenset(labels)): value}."""
    types, out = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            assert typ in ("counter", "gauge", "histogram", "summary",
                           "untyped"), line
            assert name not in types, "TYPE twice: " + line
            if typ == "counter":
                assert name.endswith("_total"), line
            types[name] = typ
            continue
        assert not line.startswith("#") and line, repr(line)
        m = SAMPLE.match(line)
        assert m, "bad sample line: %r" % line
        name, labels = m.group(1), m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, "no TYPE for " + line
        pairs = []
        if labels:
            for part in re.findall(r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|'
                                   r'\\.)*"', labels):
                assert LABEL.match(part), line
                k, v = part.split("=", 1)
                pairs.append((k, v[1:-1]))
        key = (name, frozenset(pairs))
        assert key not in out, "series twice: " + line
        out[key] = float(m.group(4))
    return out


def metric(ms, name, **labels):
    return ms.get((name, frozenset(labels.items())))


def scrape(server):
    r = requests.get(server.base + "/metrics", timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse_metrics(r.text)


def stable(db, sql, args, server, what):
    """(DB value, metrics) with the metrics read in a window where the
    DB value did not change: the queue's lines are at most 1 s old, so
    one read more than 1 s after the first DB read saw that value."""
    for _ in range(20):
        a = db.query(sql, args)
        time.sleep(1.1)
        ms = scrape(server)
        if db.query(sql, args) == a:
            return a, ms
    raise AssertionError("never stable: " + what)


def test_metrics_match_the_database(db, start_server, tmp_path):
    from importhelp import Importer, params_body, patient
    s = start_server(db, extra_env={
        "BULKHEAD_EXPORT_FILE_RESOURCES": "100",
        "BULKHEAD_JOB_LEASE": "5", "BULKHEAD_JOB_HEARTBEAT": "1"})
    # A finished import of 600 Patients (from the import directory).
    (tmp_path / "import").mkdir(exist_ok=True)
    path = tmp_path / "import" / "p.ndjson"
    path.write_bytes(b"".join(patient("p%04d" % i) + b"\n"
                              for i in range(600)))
    m = Importer(s).run(params_body([("Patient", "file://%s" % path)]))
    assert m["output"][0]["count"] == 600
    loaded = db.scalar("SELECT count(*) FROM resources WHERE type = "
                       "'Patient'")
    assert loaded == 600
    ms = scrape(s)
    assert metric(ms, "bulkhead_queue_up") == 1
    assert metric(ms, "bulkhead_job_rows", kind="import",
                  state="completed") == loaded
    assert metric(ms, "bulkhead_jobs", kind="import",
                  state="completed") == 1
    # A running export, slowed to 20 rows/s: its finished files (100
    # rows each) show while it runs.
    r = call(s, "PUT", "/admin/api/limits", body={"rows_per_second": 20})
    assert r.status_code == 200, r.text
    r = requests.get(s.fhir + "/$export", params={"_type": "Patient"},
                     headers={"Prefer": "respond-async",
                              "Accept": "application/fhir+json"},
                     timeout=30)
    assert r.status_code == 202, r.text
    xid = r.headers["Content-Location"].rsplit("/", 1)[1]
    sql = ("SELECT j.state, (SELECT coalesce(sum(count), 0) FROM "
           "job_outputs o WHERE o.job_id = j.id AND o.channel = 'output') "
           "FROM jobs j WHERE j.id = %s")
    wait_for(lambda: db.query(sql, (xid,))[0][1] > 0 and
             db.query(sql, (xid,))[0][0] == "running", timeout=60,
             what="a running export with a finished file")
    a, ms = stable(db, sql, (xid,), s, "export rows")
    (state, rows), = a
    assert state == "running" and 0 < rows < 600, (state, rows)
    assert metric(ms, "bulkhead_job_rows", kind="export",
                  state="running") == rows
    assert metric(ms, "bulkhead_jobs", kind="export", state="running") == 1
    assert metric(ms, "bulkhead_workers", state="busy") == 1
    # Status polls: the first loads, one right after is the cache's.
    ms0 = scrape(s)
    for _ in range(2):
        assert requests.get(r.headers["Content-Location"],
                            timeout=30).status_code in (200, 202)
    ms1 = scrape(s)
    hits = "bulkhead_status_cache_hits_total"
    misses = "bulkhead_status_cache_misses_total"
    assert metric(ms1, hits) + metric(ms1, misses) == \
        metric(ms0, hits) + metric(ms0, misses) + 2
    assert metric(ms1, hits) >= metric(ms0, hits) + 1
    call(s, "PUT", "/admin/api/limits", body={"rows_per_second": 0})
    wait_job(db, xid, lambda j: j["state"] == "completed", timeout=60)
    # Every (kind, state) count and rows total against the DB's own.
    counts = ("SELECT kind, state, count(*) FROM jobs GROUP BY 1, 2 "
              "ORDER BY 1, 2")
    got, ms = stable(db, counts, None, s, "job counts")
    for kind, state, n in got:
        assert metric(ms, "bulkhead_jobs", kind=kind, state=state) == n
    assert sum(v for (name, _), v in ms.items()
               if name == "bulkhead_jobs") == sum(n for _, _, n in got)
    assert metric(ms, "bulkhead_job_rows_processed_total",
                  kind="export") == 600
    assert metric(ms, "bulkhead_job_output_bytes_total", kind="export") == \
        db.scalar("SELECT sum(bytes) FROM job_outputs o JOIN jobs j ON "
                  "j.id = o.job_id WHERE j.kind = 'export' AND "
                  "o.channel = 'output'")
    # A delayed job is "scheduled", not queue depth; a queued one is.
    call(s, "PUT", "/admin/api/limits", body={"max_jobs_per_kind":
                                              {"noop": 0}})
    call(s, "POST", "/admin/api/jobs", body={
        "kind": "noop", "not_before": iso(time.time() + 3600)})
    call(s, "POST", "/admin/api/jobs", body={"kind": "noop"})
    time.sleep(1.1)
    ms = scrape(s)
    assert metric(ms, "bulkhead_jobs", kind="noop", state="scheduled") == 1
    assert metric(ms, "bulkhead_queue_depth", kind="noop") == 1
    assert metric(ms, "bulkhead_queue_oldest_age_seconds",
                  kind="noop") >= 1
    # The service's housekeeping schedule (every 10 minutes) has a next
    # fire within one period; at the very instant it fires the scheduler
    # may not have moved it on yet, hence the few seconds before now.
    nf = metric(ms, "bulkhead_schedule_next_fire_timestamp_seconds",
                schedule="housekeeping")
    assert time.time() - 30 < nf <= time.time() + 600, nf


def test_readyz(db, start_server, pg_admin):
    s = start_server(db, role="serve")
    r = requests.get(s.base + "/readyz", timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "database": "ok",
                        "migrations": "current"}
    assert r.headers["Cache-Control"] == "no-store"
    # A schema behind the binary (a migration not recorded): not ready,
    # though alive.
    db.query("DELETE FROM schema_migrations WHERE version = 15 "
             "RETURNING version")
    r = requests.get(s.base + "/readyz", timeout=30)
    assert r.status_code == 503
    assert r.json() == {"status": "unready",
                        "reason": "1 migration not applied (first: "
                                  "015_console.sql)"}
    assert requests.get(s.base + "/healthz", timeout=30).status_code == 200
    db.query("INSERT INTO schema_migrations (version, name) VALUES "
             "(15, '015_console.sql') RETURNING version")
    assert requests.get(s.base + "/readyz", timeout=30).status_code == 200
    # The database gone (connections refused, the open ones ended).
    _admin_exec(pg_admin, 'ALTER DATABASE "%s" ALLOW_CONNECTIONS false'
                % db.name)
    _admin_exec(pg_admin, "SELECT pg_terminate_backend(pid) FROM "
                "pg_stat_activity WHERE datname = '%s'" % db.name)
    try:
        r = requests.get(s.base + "/readyz", timeout=30)
        assert r.status_code == 503
        assert r.json() == {"status": "unready",
                            "reason": "database unreachable"}
    finally:
        _admin_exec(pg_admin, 'ALTER DATABASE "%s" ALLOW_CONNECTIONS true'
                    % db.name)
    wait_for(lambda: requests.get(s.base + "/readyz", timeout=30)
             .status_code == 200, timeout=30, what="ready again")
