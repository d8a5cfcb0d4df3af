"""The operator's console API (issue 16): delayed one-off jobs
(POST /admin/api/jobs with not_before, 'jobs submit --at'), the jobs
listing's filters and cursors, whoami, the calendar, schedules' cron in
words, limits' descriptions, /metrics' queue lines and /readyz.

Timing tests use the real clock (the claim compares not_before with
PostgreSQL's now()); they allow generous slack above and none below.
"""
import datetime
import json
import time

import pytest
import requests

from conftest import run_cli
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
