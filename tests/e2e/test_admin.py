"""The operator API under /admin/api: authentication, jobs (list, show,
pause, resume, cancel, retry), schedules, limits, and the audit trail.

Most tests run 'bulkhead serve' alone (no workers, no scheduler) and put
jobs into the states they need with SQL, so that nothing moves under the
assertions; the end-to-end pause and cancel tests run the whole service.
Every refused request is checked to change nothing: the job or schedule
row, the limits and the audit table are compared before and after.
"""
import hashlib
import json
import os
import uuid

import pytest
import requests

from conftest import SMART_CLIENT
from jobhelp import job, submit, wait_final, wait_job

TOKEN = "test-admin-token"
AUTH = {"Authorization": "Bearer " + TOKEN}

# Every route, with a path that exists for the job/schedule fixtures.
ROUTES = [
    ("GET", "/admin/api/jobs"),
    ("GET", "/admin/api/jobs/{job}"),
    ("POST", "/admin/api/jobs/{job}/pause"),
    ("POST", "/admin/api/jobs/{job}/resume"),
    ("POST", "/admin/api/jobs/{job}/cancel"),
    ("POST", "/admin/api/jobs/{job}/retry"),
    ("GET", "/admin/api/schedules"),
    ("GET", "/admin/api/schedules/{sched}"),
    ("PUT", "/admin/api/schedules/{sched}"),
    ("DELETE", "/admin/api/schedules/{sched}"),
    ("POST", "/admin/api/schedules/{sched}/run"),
    ("POST", "/admin/api/schedules/{sched}/pause"),
    ("POST", "/admin/api/schedules/{sched}/resume"),
    ("GET", "/admin/api/limits"),
    ("PUT", "/admin/api/limits"),
]

SCHEDULE = {"cron": "0 2 * * *", "timezone": "Africa/Dar_es_Salaam",
            "enabled": True, "misfire": "run-once",
            "job": {"kind": "noop", "params": {"steps": 1, "step_ms": 0}}}


def call(server, method, path, token=TOKEN, body=None, raw=None,
         headers=None):
    h = {}
    if token is not None:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        raw = json.dumps(body)
    if raw is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    return requests.request(method, server.base + path, headers=h,
                            data=raw, timeout=30)


def diag(r):
    """The message of an OperationOutcome answer."""
    body = r.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]["diagnostics"]


def audit(db):
    return db.query("SELECT action, target, actor, client_addr, "
                    "request_id, before, after FROM audit ORDER BY id")


def schedules(db):
    return db.query("SELECT * FROM schedules ORDER BY name")


def limits_row(db):
    return db.query("SELECT * FROM limits")


def new_id():
    return uuid.uuid4().hex


def put_job(db, state, kind="noop", params=None, **cols):
    """Inserts a job in any state (running ones get a live fake lease)."""
    jid = new_id()
    row = {"id": jid, "kind": kind, "state": state,
           "params": json.dumps(params if params is not None else
                                {"steps": 1})}
    if state in ("running", "cancelling"):
        row.update(lease_owner="elsewhere:1:0", attempts=1)
        cols.setdefault("lease_expires", "2999-01-01T00:00:00Z")
    if state in ("completed", "failed", "cancelled"):
        cols.setdefault("finished", "2026-01-01T00:00:00Z")
    row.update(cols)
    names = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    db.query("INSERT INTO jobs (%s) VALUES (%s)" % (names, marks),
             tuple(row.values()))
    return jid


@pytest.fixture
def api(db, start_server):
    """'bulkhead serve' alone: nothing but the API touches the jobs."""
    return start_server(db, role="serve")


# ---- authentication ---------------------------------------------------


def test_every_route_requires_the_bearer_token(api, db):
    jid = put_job(db, "queued")
    call(api, "PUT", "/admin/api/schedules/s1", body=SCHEDULE)
    before_job = job(db, jid)
    before_sched = schedules(db)
    before_audit = audit(db)
    for method, path in ROUTES:
        p = path.format(job=jid, sched="s1")
        body = SCHEDULE if method == "PUT" and "schedules" in p else (
            {"max_jobs_total": 5} if method == "PUT" else None)
        for token, error in ((None, None), ("wrong-token", "invalid_token"),
                             ("", None)):
            hdrs = {"Authorization": "Bearer"} if token == "" else None
            r = call(api, method, p, token=token or None, body=body,
                     headers=hdrs)
            assert r.status_code == 401, (method, p, token, r.text)
            challenge = r.headers["WWW-Authenticate"]
            assert challenge.startswith("Bearer"), challenge
            if error:
                assert 'error="%s"' % error in challenge
            assert r.headers["Content-Type"] == "application/json"
            assert diag(r)
        # Another scheme is no bearer token either.
        r = requests.request(method, api.base + p, timeout=10, headers={
            "Authorization": "Basic " + TOKEN})
        assert r.status_code == 401, (method, p)
    assert job(db, jid) == before_job
    assert schedules(db) == before_sched
    assert audit(db) == before_audit
    # With the token every route answers (no 401), token in any case of
    # the scheme name.
    for method, path in ROUTES:
        p = path.format(job=jid, sched="s1")
        r = call(api, method, p, headers={"Authorization": "bearer " + TOKEN})
        assert r.status_code != 401, (method, p, r.text)


def test_no_admin_token_configured_refuses_everything(db, start_server):
    s = start_server(db, role="serve",
                     extra_env={"BULKHEAD_ADMIN_TOKEN": ""})
    for method, path in ROUTES:
        p = path.format(job="0" * 32, sched="s1")
        for token in (None, TOKEN, ""):
            r = call(s, method, p, token=token)
            assert r.status_code == 401, (method, p)
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
            msg = diag(r)
            assert "admin_token" in msg and "BULKHEAD_ADMIN_TOKEN" in msg
    assert db.scalar("SELECT count(*) FROM audit") == 0


# ---- jobs: reading ----------------------------------------------------


def test_jobs_list_filters_and_validation(api, db):
    q = put_job(db, "queued")
    f = put_job(db, "failed", error="boom")
    e = put_job(db, "completed", kind="export", params={"level": "system"},
                client="schedule:nightly")
    r = call(api, "GET", "/admin/api/jobs")
    assert r.status_code == 200 and r.headers["Content-Type"] == \
        "application/json"
    jobs = r.json()["jobs"]
    assert {j["id"] for j in jobs} == {q, f, e}
    for j in jobs:
        for k in ("id", "kind", "state", "params", "progress", "created",
                  "started", "finished", "attempts", "error", "status_url",
                  "pause_requested"):
            assert k in j, k
    ids = lambda r: sorted(j["id"] for j in r.json()["jobs"])
    assert ids(call(api, "GET", "/admin/api/jobs?state=failed")) == [f]
    assert ids(call(api, "GET", "/admin/api/jobs?kind=export")) == [e]
    assert ids(call(api, "GET", "/admin/api/jobs?kind=noop&state=queued")) \
        == [q]
    assert ids(call(api, "GET",
                    "/admin/api/jobs?client=schedule%3Anightly")) == [e]
    assert len(call(api, "GET", "/admin/api/jobs?limit=2").json()["jobs"]) \
        == 2
    for bad, word in (("state=sleeping", "state"), ("kind=nope", "kind"),
                      ("limit=0", "limit"), ("limit=10001", "limit"),
                      ("limit=ten", "limit"), ("limit=", "limit"),
                      ("bogus=1", "bogus"), ("state=queued&state=failed",
                                             "twice")):
        r = call(api, "GET", "/admin/api/jobs?" + bad)
        assert r.status_code == 400, bad
        assert word in diag(r), (bad, diag(r))


def test_job_show_shape_outputs_and_status_url(api, db):
    e = put_job(db, "completed", kind="export", params={"level": "system"},
                result='{"transactionTime": "2026-01-01T00:00:00Z"}')
    db.query("INSERT INTO job_outputs (job_id, seq, channel, type, file, "
             "count, bytes) VALUES (%s, 1, 'output', 'Patient', "
             "%s, 7, 100)", (e, "jobs/%s/Patient-0001.ndjson.zst" % e))
    i = put_job(db, "completed", kind="import", params={"inputs": []})
    db.query("INSERT INTO job_outputs (job_id, seq, channel, type, url, "
             "count) VALUES (%s, 1, 'error', 'OperationOutcome', "
             "'https://example.org/claims.ndjson', 2)", (i,))
    n = put_job(db, "queued")

    r = call(api, "GET", "/admin/api/jobs/" + e)
    assert r.status_code == 200
    j = r.json()
    assert j["id"] == e and j["kind"] == "export" and j["state"] == \
        "completed"
    assert j["params"] == {"level": "system"}
    assert j["status_url"] == api.fhir + "/_jobs/" + e
    assert j["finished"].startswith("2026-01-01T00:00:00")
    assert j["finished"].endswith("Z")
    assert j["attempts"] == 0 and j["error"] is None
    assert j["result"] == {"transactionTime": "2026-01-01T00:00:00Z"}
    assert j["pause_requested"] is False and j["retry_of"] is None
    (o,) = j["outputs"]
    assert o["type"] == "Patient" and o["count"] == 7
    # Signed for an admin (auth = smart): no token needed (issue 15).
    plain, _, query = o["url"].partition("?")
    assert plain == "%s/_jobs/%s/files/Patient-0001.ndjson.zst" % (
        api.fhir, e)
    assert [kv.split("=")[0] for kv in query.split("&")] == \
        ["kid", "exp", "sig"]

    j = call(api, "GET", "/admin/api/jobs/" + i).json()
    assert j["status_url"] == api.fhir + "/_jobs/" + i
    assert j["outputs"][0]["url"] == "https://example.org/claims.ndjson"
    assert j["outputs"][0]["type"] == "OperationOutcome"

    j = call(api, "GET", "/admin/api/jobs/" + n).json()
    assert j["status_url"] is None and j["outputs"] == []
    assert j["started"] is None and j["progress"] is None

    for bad in ("0" * 32, "no-such", "a" * 100):
        r = call(api, "GET", "/admin/api/jobs/" + bad)
        assert r.status_code == 404 and "no such job" in diag(r)


# ---- jobs: state transitions ------------------------------------------


def test_pause_and_resume_a_queued_job(api, db):
    jid = put_job(db, "queued", checkpoint='{"step": 2}')
    r = call(api, "POST", "/admin/api/jobs/%s/pause" % jid)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "paused"
    row = job(db, jid)
    assert row["state"] == "paused" and not row["pause_requested"]

    # A second pause: refused, nothing changes.
    before, n = job(db, jid), len(audit(db))
    r = call(api, "POST", "/admin/api/jobs/%s/pause" % jid)
    assert r.status_code == 409 and "already paused" in diag(r)
    assert job(db, jid) == before and len(audit(db)) == n

    r = call(api, "POST", "/admin/api/jobs/%s/resume" % jid)
    assert r.status_code == 200 and r.json()["state"] == "queued"
    row = job(db, jid)
    assert row["state"] == "queued" and row["checkpoint"] == {"step": 2}

    before, n = job(db, jid), len(audit(db))
    r = call(api, "POST", "/admin/api/jobs/%s/resume" % jid)
    assert r.status_code == 409 and "only a paused job" in diag(r)
    assert job(db, jid) == before and len(audit(db)) == n

    rows = audit(db)
    assert [(a[0], a[1]) for a in rows] == [("job.pause", jid),
                                            ("job.resume", jid)]
    assert rows[0][5]["state"] == "queued" and rows[0][6]["state"] == \
        "paused"
    assert rows[1][5]["state"] == "paused" and rows[1][6]["state"] == \
        "queued"
    # The bulky columns stay out of the audit rows.
    assert "checkpoint" not in rows[0][6] and "params" in rows[0][6]


def test_pause_of_a_running_job_sets_the_flag_only(api, db):
    jid = put_job(db, "running")
    r = call(api, "POST", "/admin/api/jobs/%s/pause" % jid)
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "running"
    assert r.json()["pause_requested"] is True
    row = job(db, jid)
    assert row["state"] == "running" and row["pause_requested"]
    assert row["lease_owner"] == "elsewhere:1:0"

    before, n = job(db, jid), len(audit(db))
    r = call(api, "POST", "/admin/api/jobs/%s/pause" % jid)
    assert r.status_code == 409 and "already requested" in diag(r)
    assert job(db, jid) == before and len(audit(db)) == n

    # Resume before the worker acted withdraws the request.
    r = call(api, "POST", "/admin/api/jobs/%s/resume" % jid)
    assert r.status_code == 200, r.text
    row = job(db, jid)
    assert row["state"] == "running" and not row["pause_requested"]
    assert [a[0] for a in audit(db)] == ["job.pause", "job.resume"]


def test_cancel_a_queued_or_paused_job_removes_its_files(api, db, tmp_path):
    for state in ("queued", "paused"):
        jid = put_job(db, state)
        d = tmp_path / "data" / "jobs" / jid
        d.mkdir(parents=True)
        (d / "Patient-0001.ndjson.zst").write_bytes(b"x")
        r = call(api, "POST", "/admin/api/jobs/%s/cancel" % jid)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "cancelled"
        row = job(db, jid)
        assert row["state"] == "cancelled" and row["finished"] is not None
        assert not d.exists()
        before, n = job(db, jid), len(audit(db))
        r = call(api, "POST", "/admin/api/jobs/%s/cancel" % jid)
        assert r.status_code == 409 and "cancelled" in diag(r)
        assert job(db, jid) == before and len(audit(db)) == n
    assert [a[0] for a in audit(db)] == ["job.cancel", "job.cancel"]


def test_cancel_a_running_job_asks_its_worker(api, db):
    jid = put_job(db, "running")
    db.query("UPDATE jobs SET pause_requested = true WHERE id = %s", (jid,))
    r = call(api, "POST", "/admin/api/jobs/%s/cancel" % jid)
    assert r.status_code == 202, r.text
    row = job(db, jid)
    assert row["state"] == "cancelling" and row["finished"] is None
    assert not row["pause_requested"]
    before, n = job(db, jid), len(audit(db))
    for action in ("cancel", "pause", "resume", "retry"):
        r = call(api, "POST", "/admin/api/jobs/%s/%s" % (jid, action))
        assert r.status_code == 409, (action, r.text)
        assert "cancel" in diag(r) or "cancelling" in diag(r)
    assert job(db, jid) == before and len(audit(db)) == n


@pytest.mark.parametrize("state", ["completed", "failed", "cancelled"])
def test_actions_on_finished_jobs_are_refused(api, db, state):
    jid = put_job(db, state, error="boom" if state == "failed" else None)
    before, n = job(db, jid), len(audit(db))
    for action in ("pause", "resume", "cancel"):
        r = call(api, "POST", "/admin/api/jobs/%s/%s" % (jid, action))
        assert r.status_code == 409, (action, r.text)
        msg = diag(r)
        assert jid in msg and state in msg, msg
    if state == "completed":
        r = call(api, "POST", "/admin/api/jobs/%s/retry" % jid)
        assert r.status_code == 409
        assert "only a failed or cancelled job" in diag(r)
    assert job(db, jid) == before and len(audit(db)) == n


@pytest.mark.parametrize("state", ["queued", "running", "paused"])
def test_retry_of_a_live_job_is_refused(api, db, state):
    jid = put_job(db, state)
    before = job(db, jid)
    r = call(api, "POST", "/admin/api/jobs/%s/retry" % jid)
    assert r.status_code == 409 and state in diag(r)
    assert job(db, jid) == before
    assert db.scalar("SELECT count(*) FROM jobs") == 1
    assert audit(db) == []


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_retry_makes_a_new_job(api, db, state):
    old = put_job(db, state, params={"steps": 4, "step_ms": 1},
                  client="ops", priority=3, max_attempts=2, attempts=2,
                  error="boom", checkpoint='{"step": 3}')
    before = job(db, old)
    r = call(api, "POST", "/admin/api/jobs/%s/retry" % old)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["id"] != old and new["retry_of"] == old
    assert r.headers["Location"] == "/admin/api/jobs/" + new["id"]
    row = job(db, new["id"])
    assert row["state"] == "queued" and row["kind"] == "noop"
    assert row["params"] == {"steps": 4, "step_ms": 1}
    assert (row["client"], row["priority"], row["max_attempts"]) == \
        ("ops", 3, 2)
    assert row["attempts"] == 0 and row["checkpoint"] is None
    assert row["error"] is None and row["retry_of"] == old
    assert job(db, old) == before
    (a,) = audit(db)
    assert a[0] == "job.retry" and a[1] == old
    assert a[5] is None and a[6]["id"] == new["id"]


def test_retry_refused_when_the_params_are_no_longer_accepted(api, db):
    old = put_job(db, "failed", params={"bogus": 1})
    r = call(api, "POST", "/admin/api/jobs/%s/retry" % old)
    assert r.status_code == 409 and "bogus" in diag(r)
    assert db.scalar("SELECT count(*) FROM jobs") == 1
    assert audit(db) == []


def test_unknown_job_actions_404(api, db):
    for action in ("pause", "resume", "cancel", "retry"):
        r = call(api, "POST", "/admin/api/jobs/%s/%s" % ("f" * 32, action))
        assert r.status_code == 404 and "no such job" in diag(r)
        r = call(api, "GET", "/admin/api/jobs/%s/%s" % ("f" * 32, action))
        assert r.status_code == 405
    assert audit(db) == []


def test_pause_resume_cancel_with_real_workers(bulkhead_bin, db, server):
    """The engine's side: a paused running job stops at a batch boundary,
    keeps its checkpoint and continues from it after resume."""
    jid = submit(bulkhead_bin, db, "noop",
                 {"steps": 30, "step_ms": 100})
    wait_job(db, jid, lambda j: (j["checkpoint"] or {}).get("step", 0) >= 2,
             60, "a checkpoint")
    r = call(server, "POST", "/admin/api/jobs/%s/pause" % jid)
    assert r.status_code == 202, r.text
    j = wait_job(db, jid, lambda j: j["state"] == "paused", 30, "paused")
    assert not j["pause_requested"] and j["lease_owner"] is None
    step = j["checkpoint"]["step"]
    assert 2 <= step < 30
    r = call(server, "POST", "/admin/api/jobs/%s/resume" % jid)
    assert r.status_code == 200 and r.json()["state"] == "queued"
    j = wait_final(db, jid)
    assert j["state"] == "completed", j
    assert j["result"]["resumed_from"] >= step

    jid = submit(bulkhead_bin, db, "noop",
                 {"steps": 200, "step_ms": 100})
    wait_job(db, jid, lambda j: j["state"] == "running", 60, "running")
    r = call(server, "POST", "/admin/api/jobs/%s/cancel" % jid)
    assert r.status_code == 202 and r.json()["state"] == "cancelling"
    j = wait_final(db, jid)
    assert j["state"] == "cancelled"
    actions = [a[0] for a in audit(db)]
    assert actions == ["job.pause", "job.resume", "job.cancel"]


# ---- schedules -------------------------------------------------------------


def test_schedule_crud_run_pause_resume(api, db):
    r = call(api, "PUT", "/admin/api/schedules/nightly", body=SCHEDULE)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == "/admin/api/schedules/nightly"
    s = r.json()
    assert s["name"] == "nightly" and s["cron"] == "0 2 * * *"
    assert s["timezone"] == "Africa/Dar_es_Salaam" and s["enabled"] is True
    assert s["misfire"] == "run-once"
    assert s["job"] == {"kind": "noop", "params": {"steps": 1, "step_ms": 0}}
    # 02:00 in Dar es Salaam (UTC+3) is 23:00 UTC.
    assert s["next_fire"].endswith("T23:00:00Z")
    assert s["last_fire"] is None and s["last_job"] is None

    r = call(api, "GET", "/admin/api/schedules")
    assert r.status_code == 200
    (listed,) = [x for x in r.json()["schedules"] if x["name"] == "nightly"]
    for k in ("name", "cron", "timezone", "enabled", "misfire", "job",
              "last_fire", "next_fire", "last_job"):
        assert listed[k] == s[k], k
    assert call(api, "GET", "/admin/api/schedules/nightly").json()["name"] \
        == "nightly"

    changed = dict(SCHEDULE, cron="30 4 * * 1", timezone="UTC",
                   misfire="skip")
    r = call(api, "PUT", "/admin/api/schedules/nightly", body=changed)
    assert r.status_code == 200, r.text
    assert r.json()["cron"] == "30 4 * * 1"
    assert r.json()["next_fire"].endswith("T04:30:00Z")
    assert r.json()["misfire"] == "skip"

    r = call(api, "POST", "/admin/api/schedules/nightly/pause")
    assert r.status_code == 200
    assert r.json()["enabled"] is False and r.json()["next_fire"] is None
    r = call(api, "POST", "/admin/api/schedules/nightly/resume")
    assert r.status_code == 200
    assert r.json()["enabled"] is True and r.json()["next_fire"]

    r = call(api, "POST", "/admin/api/schedules/nightly/run")
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["id"] and "status_url" in run and run["status_url"] is None
    assert r.headers["Location"] == "/admin/api/jobs/" + run["id"]
    row = job(db, run["id"])
    assert row["kind"] == "noop" and row["state"] == "queued"
    assert row["client"] == "schedule:nightly"
    assert row["params"] == {"steps": 1, "step_ms": 0}
    assert call(api, "GET", "/admin/api/schedules/nightly").json()[
        "last_job"] == run["id"]

    r = call(api, "DELETE", "/admin/api/schedules/nightly")
    assert r.status_code == 204 and r.content == b""
    r = call(api, "GET", "/admin/api/schedules/nightly")
    assert r.status_code == 404 and "nightly" in diag(r)
    for method, suffix in (("DELETE", ""), ("POST", "/run"),
                           ("POST", "/pause"), ("POST", "/resume")):
        r = call(api, method, "/admin/api/schedules/nightly" + suffix)
        assert r.status_code == 404, (method, suffix)
    assert job(db, run["id"]) is not None  # its jobs stay

    rows = audit(db)
    assert [(a[0], a[1]) for a in rows] == [
        ("schedule.put", "nightly"), ("schedule.put", "nightly"),
        ("schedule.pause", "nightly"), ("schedule.resume", "nightly"),
        ("schedule.run", "nightly"), ("schedule.delete", "nightly")]
    assert rows[0][5] is None and rows[0][6]["cron"] == "0 2 * * *"
    assert rows[1][5]["cron"] == "0 2 * * *" and rows[1][6]["cron"] == \
        "30 4 * * 1"
    assert rows[2][6]["enabled"] is False
    assert rows[4][5] is None and rows[4][6]["id"] == run["id"]
    assert rows[5][5]["name"] == "nightly" and rows[5][6] is None


def test_schedule_an_export_run_has_a_status_url(api, db):
    body = dict(SCHEDULE, job={"kind": "renewal-export",
                               "params": {"days": 30}})
    assert call(api, "PUT", "/admin/api/schedules/renewals",
                body=body).status_code == 201
    r = call(api, "POST", "/admin/api/schedules/renewals/run")
    assert r.status_code == 202, r.text
    assert r.json()["status_url"] == api.fhir + "/_jobs/" + r.json()["id"]


BAD_BODIES = [
    ({"cron": "0 2 * *"}, "cron"),
    ({"cron": "61 * * * *"}, "minute"),
    ({"cron": "*/0 * * * *"}, "cron"),
    ({"cron": "0 0 31 2 *"}, "never"),
    ({"cron": "0 0 30 2 *"}, "never"),
    ({"cron": "0 25 * * *"}, "hour"),
    ({"cron": "@sometimes"}, "cron"),
    ({"cron": 5}, "cron"),
    ({"timezone": "Mars/Olympus_Mons"}, "time zone"),
    ({"timezone": "../../etc/passwd"}, "time zone"),
    ({"timezone": 3}, "timezone"),
    ({"misfire": "sometimes"}, "misfire"),
    ({"enabled": "yes"}, "enabled"),
    ({"job": {"kind": "nope"}}, "nope"),
    ({"job": {"kind": "noop", "params": {"steps": -1}}}, "steps"),
    ({"job": {"kind": "noop", "params": {"bogus": 1}}}, "bogus"),
    ({"job": {"kind": "noop", "params": [1]}}, "params"),
    ({"job": {"kind": "export", "params": {"level": "galaxy"}}}, "level"),
    ({"job": {"params": {}}}, "kind"),
    ({"job": {"kind": "noop", "extra": 1}}, "extra"),
    ({"job": "noop"}, "job"),
    ({"job": None}, "job"),
    ({"cron": None}, "cron"),
    ({"name": "other"}, "name"),
    ({"colour": "red"}, "colour"),
]


def test_schedule_bad_input_is_400_and_changes_nothing(api, db):
    assert call(api, "PUT", "/admin/api/schedules/keep",
                body=SCHEDULE).status_code == 201
    before, n = schedules(db), len(audit(db))
    for change, word in BAD_BODIES:
        body = dict(SCHEDULE)
        body.update(change)
        if change.get("cron", "") is None:
            del body["cron"]
        for name in ("keep", "fresh"):
            r = call(api, "PUT", "/admin/api/schedules/" + name, body=body)
            assert r.status_code == 400, (change, r.text)
            assert word.lower() in diag(r).lower(), (change, diag(r))
    for raw in ('{"cron": "0 2 * * *", ', "[1, 2]", '"x"', "null", ""):
        r = call(api, "PUT", "/admin/api/schedules/keep", raw=raw)
        assert r.status_code == 400, (raw, r.text)
        assert diag(r)
    r = requests.put(api.base + "/admin/api/schedules/keep", data="cron=1",
                     headers=dict(AUTH, **{"Content-Type": "text/plain"}))
    assert r.status_code == 415
    # Names with path characters never reach a schedule.
    for name, status in (("a/b", (404, 405)), ("..", (404,)),
                         ("a%2Fb", (404,)), ("%2E%2E", (404,)),
                         ("a%20b", (400,)), ("-x", (400,)), (".x", (400,)),
                         ("x" * 65, (400,)), ("a%00b", (400, 404)),
                         ("caf%C3%A9", (400,))):
        for method in ("PUT", "GET", "DELETE"):
            r = call(api, method, "/admin/api/schedules/" + name,
                     body=SCHEDULE if method == "PUT" else None)
            assert r.status_code in status, (name, method, r.status_code)
        r = call(api, "POST", "/admin/api/schedules/%s/run" % name)
        assert r.status_code in status + (405,), (name, r.status_code)
    assert schedules(db) == before and len(audit(db)) == n
    assert db.scalar("SELECT count(*) FROM jobs") == 0


def builtin_names(api):
    """Schedules the migrations create (the house-keeping one)."""
    r = call(api, "GET", "/admin/api/schedules")
    return {s["name"] for s in r.json()["schedules"]}


def test_schedule_name_limits(api, db):
    builtin = builtin_names(api)
    for name in ("a", "A1._-z", "x" * 64):
        r = call(api, "PUT", "/admin/api/schedules/" + name, body=SCHEDULE)
        assert r.status_code == 201, (name, r.text)
    names = [s["name"] for s in call(api, "GET", "/admin/api/schedules")
             .json()["schedules"] if s["name"] not in builtin]
    assert sorted(names) == sorted(["a", "A1._-z", "x" * 64])


# ---- limits ---------------------------------------------------------------


def test_limits_get_put_and_bad_input(api, db):
    r = call(api, "GET", "/admin/api/limits")
    assert r.status_code == 200
    lim = r.json()
    for k in ("max_jobs_total", "max_jobs_per_kind", "rows_per_second",
              "bytes_per_second", "worker_nice"):
        assert k in lim, k
    r = call(api, "PUT", "/admin/api/limits",
             body={"max_jobs_total": 4, "max_jobs_per_kind": {"export": 2}})
    assert r.status_code == 200, r.text
    assert r.json()["max_jobs_total"] == 4
    assert r.json()["max_jobs_per_kind"] == {"export": 2}
    assert r.json()["worker_nice"] == lim["worker_nice"]
    assert call(api, "GET", "/admin/api/limits").json() == r.json()
    (a,) = audit(db)
    assert a[0] == "limits.put" and a[1] == "limits"
    assert a[5]["max_jobs_total"] == lim["max_jobs_total"]
    assert a[6]["max_jobs_total"] == 4

    before = limits_row(db)
    for raw in ('{"max_jobs_total": ', "[1]", '"x"', "",
                '{"max_jobs_total": -1}', '{"max_jobs_total": 1.5}',
                '{"max_jobs_total": "2"}', '{"worker_nice": 20}',
                '{"nope": 1}', '{"max_jobs_per_kind": {"nope": 1}}',
                '{"max_jobs_per_kind": 3}',
                '{"max_jobs_total": 2, "worker_nice": 99}'):
        r = call(api, "PUT", "/admin/api/limits", raw=raw)
        assert r.status_code == 400, (raw, r.text)
        assert diag(r)
    assert limits_row(db) == before
    assert len(audit(db)) == 1


# ---- the audit trail ---------------------------------------------------


def test_audit_rows_name_the_actor_not_the_token(api, db):
    jid = put_job(db, "queued")
    r = call(api, "POST", "/admin/api/jobs/%s/pause" % jid)
    assert r.status_code == 200
    (a,) = audit(db)
    action, target, actor, addr, request_id, before, after = a
    assert (action, target) == ("job.pause", jid)
    assert actor == "token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:16]
    assert addr == "127.0.0.1"
    assert request_id == r.headers["X-Request-Id"]
    dump = json.dumps(db.query("SELECT row_to_json(a) FROM audit a"))
    assert TOKEN not in dump
    # The same transaction: at equals the job's update time to the
    # transaction (now() is per transaction, the audit's clock within).
    at, updated = db.query("SELECT a.at, j.updated FROM audit a, jobs j "
                           "WHERE j.id = %s", (jid,))[0]
    assert abs((at - updated).total_seconds()) < 5
    assert db.scalar("SELECT after->>'state' FROM audit") == "paused"


def test_audit_settings_do_not_leak_into_later_requests(api, db):
    # Admin changes on (likely) every API thread, then a FHIR client's
    # DELETE on one of them: that change is not the operator's.  The
    # FHIR client is conftest's SMART client (auth = smart), registered
    # first: its registration is an audited admin change of its own.
    api.token()
    for _ in range(8):
        jid = put_job(db, "queued")
        assert call(api, "POST", "/admin/api/jobs/%s/pause" %
                    jid).status_code == 200
    exp = put_job(db, "queued", kind="export", params={"level": "system"},
                  client="smart:" + SMART_CLIENT)
    r = requests.delete(api.fhir + "/_jobs/" + exp, timeout=10)
    assert r.status_code == 202, r.text
    assert job(db, exp)["state"] == "cancelled"
    assert [a[0] for a in audit(db)] == ["client.put"] + ["job.pause"] * 8
