"""The /metrics lines of processes other than the API's (issue 16):
worker processes busy and idle, the scheduler leader, lease rescues and
throttle waits.  Each against the database's own counts or a provoked
event, on a real 'bulkhead run' (2 workers) and PostgreSQL; the text is
checked by test_console.parse_metrics (promtool's rules).
"""
import json
import os
import signal
import time

import pytest
import requests

from importhelp import Importer, params_body, patient
from jobhelp import job, wait_for
from test_console import metric, scrape

TOKEN = "test-admin-token"
FAST = {"BULKHEAD_JOB_LEASE": "5", "BULKHEAD_JOB_HEARTBEAT": "1"}


def admin(server, method, path, body=None):
    h = {"Authorization": "Bearer " + TOKEN}
    if body is not None:
        h["Content-Type"] = "application/json"
    r = requests.request(method, server.base + "/admin/api/" + path,
                         headers=h, timeout=30,
                         data=None if body is None else json.dumps(body))
    assert r.status_code < 300, r.text
    return r.json()


def workers(ms):
    return (metric(ms, "bulkhead_workers", state="busy"),
            metric(ms, "bulkhead_workers", state="idle"))


def test_workers_busy_idle_and_the_leader(db, start_server):
    s = start_server(db, extra_env=FAST)
    # 'bulkhead run' with 2 workers: both alive, neither busy.
    wait_for(lambda: workers(scrape(s)) == (0, 2), 30, 0.5,
             "2 idle workers")
    wait_for(lambda: metric(scrape(s), "bulkhead_scheduler_leader") == 1,
             30, 0.5, "the leader on this node")
    # One busy with a job: busy + idle is still 2, busy as the leases say.
    jid = admin(s, "POST", "jobs", {"kind": "noop", "params": {
        "steps": 60, "step_ms": 100}})["id"]
    wait_for(lambda: job(db, jid)["state"] == "running", 30)
    wait_for(lambda: workers(scrape(s)) == (1, 1), 30, 0.5,
             "1 busy, 1 idle")
    assert db.scalar("SELECT count(DISTINCT lease_owner) FROM jobs WHERE "
                     "state = 'running' AND lease_expires >= now()") == 1
    assert db.scalar("SELECT count(*) FROM processes WHERE role = "
                     "'worker'") == 2
    # One scheduler row, the leader, holding the lock in pg_locks.
    assert db.scalar("SELECT count(*) FROM processes p JOIN pg_locks l "
                     "ON l.pid = p.backend_pid AND l.locktype = 'advisory' "
                     "AND l.objid = 7431002 AND l.granted WHERE "
                     "p.role = 'scheduler' AND p.leader") == 1
    wait_for(lambda: job(db, jid)["state"] == "completed", 60)
    wait_for(lambda: workers(scrape(s)) == (0, 2), 30, 0.5, "idle again")
    # Stopped cleanly, the processes leave; an API alone has no leader
    # and no workers.
    assert s.stop() == 0
    assert db.scalar("SELECT count(*) FROM processes") == 0
    api = start_server(db, role="serve")
    ms = scrape(api)
    assert metric(ms, "bulkhead_scheduler_leader") == 0
    assert workers(ms) == (0, 0)


def test_leader_is_one_on_its_node_and_zero_on_another(db, start_server):
    """Two nodes on one database (the second in a UTS namespace of its
    own, so its hostname differs): the leader gauge is 1 on the node
    whose scheduler holds the lock and 0 on the other, and moves when
    that node stops."""
    import subprocess
    if os.geteuid() != 0 or subprocess.run(
            ["unshare", "--uts", "true"], capture_output=True).returncode:
        pytest.skip("needs root and UTS namespaces (unshare --uts)")
    a = start_server(db, extra_env=FAST)
    wait_for(lambda: metric(scrape(a), "bulkhead_scheduler_leader") == 1,
             30, 0.5, "the leader on node a")
    b = start_server(db, extra_env=FAST, hostname="bulkhead-node-b")
    wait_for(lambda: db.scalar("SELECT count(*) FROM processes WHERE "
                               "role = 'scheduler' AND node = "
                               "'bulkhead-node-b'") == 1,
             30, what="node b's scheduler")
    assert metric(scrape(b), "bulkhead_scheduler_leader") == 0
    assert metric(scrape(a), "bulkhead_scheduler_leader") == 1
    assert a.stop() == 0
    wait_for(lambda: metric(scrape(b), "bulkhead_scheduler_leader") == 1,
             60, 0.5, "node b taking over")
    assert db.scalar("SELECT node FROM processes WHERE role = 'scheduler' "
                     "AND leader") == "bulkhead-node-b"


def test_lease_rescue_counted_once(db, start_server):
    s = start_server(db, extra_env=FAST)
    wait_for(lambda: metric(scrape(s), "bulkhead_lease_rescues_total")
             is not None, 30, 0.5, "the counter")
    assert metric(scrape(s), "bulkhead_lease_rescues_total") == 0
    jid = admin(s, "POST", "jobs", {"kind": "noop", "params": {
        "steps": 100, "step_ms": 100}})["id"]
    wait_for(lambda: job(db, jid)["state"] == "running" and
             job(db, jid)["lease_owner"], 30, what="running")
    owner = job(db, jid)["lease_owner"]
    os.kill(int(owner.split(":")[1]), signal.SIGKILL)
    # Its lease expires (5 s); a claim or the scheduler takes it back,
    # and the job completes on its second attempt.
    wait_for(lambda: job(db, jid)["state"] == "completed", 90, 0.2,
             "completed after the rescue")
    j = job(db, jid)
    assert j["attempts"] == 2, j
    time.sleep(1.1)
    ms = scrape(s)
    assert metric(ms, "bulkhead_lease_rescues_total") == 1
    assert db.scalar("SELECT value FROM metric_counters WHERE name = "
                     "'lease_rescues'") == 1


def test_throttle_waits(db, start_server, tmp_path):
    s = start_server(db, extra_env=FAST)
    ms = scrape(s)
    for cause in ("limit", "interactive"):
        assert metric(ms, "bulkhead_throttle_waits_total",
                      cause=cause) == 0
        assert metric(ms, "bulkhead_throttle_wait_seconds_total",
                      cause=cause) == 0
    # 400 Patients at 100 rows/s: about 4 s, mostly spent waiting.
    admin(s, "PUT", "limits", {"rows_per_second": 100,
                               "import_batch_lines": 100})
    d = tmp_path / "import"
    d.mkdir(exist_ok=True)
    (d / "p.ndjson").write_bytes(b"".join(patient("p%04d" % i) + b"\n"
                                          for i in range(400)))
    t0 = time.time()
    Importer(s).run(params_body([("Patient", "file://%s" %
                                  (d / "p.ndjson"))]))
    took = time.time() - t0
    assert took >= 2, took
    # Published by the worker at most a second later.
    def counted():
        m = scrape(s)
        return metric(m, "bulkhead_throttle_waits_total",
                      cause="limit") > 0 and m
    ms = wait_for(counted, 10, 0.5, "waits counted")
    secs = metric(ms, "bulkhead_throttle_wait_seconds_total", cause="limit")
    # One input, one thread: the waits fit in the import's time.
    assert 1 <= secs <= took, (secs, took)
    # The same as the database's counters.
    time.sleep(1.1)
    ms = scrape(s)
    got = dict(((n, l), v) for n, l, v in db.query(
        "SELECT name, label, value FROM metric_counters"))
    assert metric(ms, "bulkhead_throttle_waits_total", cause="limit") == \
        got[("throttle_waits", "limit")]
    assert abs(metric(ms, "bulkhead_throttle_wait_seconds_total",
                      cause="limit") -
               got[("throttle_wait_seconds", "limit")]) < 0.01


def test_throttle_waits_of_the_interactive_cap(db, start_server, tmp_path):
    """With another API's p99 far above the target, the controller caps
    the import below the limits' rate: its waits count as
    cause="interactive"."""
    from test_interactive import FakeApi, cancel, job_row, start
    s, _, jid = start(db, start_server, tmp_path, 120000, {
        "BULKHEAD_INTERACTIVE_P99_TARGET_MS": "500",
        "BULKHEAD_INTERACTIVE_FLOOR_PCT": "10",
        "BULKHEAD_INTERACTIVE_WINDOW_MS": "1000"})
    wait_for(lambda: job_row(db, jid) is not None, 60, 0.5, "controlled")
    fake = FakeApi(db, 5000)
    try:
        wait_for(lambda: (job_row(db, jid) or (1, 0))[0] <= 0.25, 30, 0.5,
                 "the cap")
        wait_for(lambda: metric(scrape(s), "bulkhead_throttle_waits_total",
                                cause="interactive") > 0, 15, 0.5,
                 "interactive waits counted")
        ms = scrape(s)
        assert metric(ms, "bulkhead_throttle_wait_seconds_total",
                      cause="interactive") > 0
    finally:
        fake.close()
    cancel(s, jid)
    wait_for(lambda: job(db, jid)["state"] in ("cancelled", "completed"),
             60, what="the import to end")
