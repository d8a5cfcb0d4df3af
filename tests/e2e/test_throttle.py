"""Throttled background jobs: limits as data, their enforcement, and the
pause / resume / cancel semantics of the engine.

The limits row (schemas/006_limits.sql) is read and written through
limits.h: over the admin API (GET/PUT /admin/api/limits) when this build
routes it, and always through SQL, which is what the workers read.  Job
control uses the admin API when routed, else the same column updates it
makes (pause_requested, state).  Short leases and 1 s heartbeats keep the
waits short; the only duration asserted is a lower bound our own limiter
imposes (rows_per_second).
"""
import collections
import json
import os
import re
import time

import pytest
import requests

from conftest import custom_slices, slice_of
from jobhelp import (assert_clean_log, cli, job, log_text, submit,
                     tables_ready, wait_final, wait_for, wait_job, wait_log)

FAST = {"BULKHEAD_JOB_LEASE": "5", "BULKHEAD_JOB_HEARTBEAT": "1"}
TOKEN = "test-admin-token"          # conftest's BULKHEAD_ADMIN_TOKEN
JOB_URL = re.compile(r"^(https?://[^/]+/fhir)/_jobs/([0-9a-f]{32})$")
DEFAULTS = {"max_jobs_total": 1, "max_jobs_per_kind": {},
            "rows_per_second": 0, "bytes_per_second": 0,
            "import_batch_lines": 0, "statement_timeout_ms": 900000,
            "worker_nice": 10, "worker_idle": 1, "kind_timeout_s": {},
            "kind_max_attempts": {}}


# ---- helpers ----------------------------------------------------------------

def limits_sql(db):
    """The limits row as limits_get_json spells it."""
    row = db.query("SELECT max_jobs_total, max_jobs_per_kind, "
                   "rows_per_second, bytes_per_second, import_batch_lines, "
                   "statement_timeout_ms, worker_nice, worker_idle, "
                   "kind_timeout_s, "
                   "kind_max_attempts FROM limits")
    assert len(row) == 1
    keys = ["max_jobs_total", "max_jobs_per_kind", "rows_per_second",
            "bytes_per_second", "import_batch_lines", "statement_timeout_ms",
            "worker_nice", "worker_idle", "kind_timeout_s",
            "kind_max_attempts"]
    return dict(zip(keys, row[0]))


def set_limits(db, **kw):
    """UPDATE limits SET ... (maps as JSON); the trigger NOTIFYs workers."""
    sets, args = [], []
    for k, v in kw.items():
        if isinstance(v, dict):
            sets.append("%s = %%s::jsonb" % k)
            args.append(json.dumps(v))
        else:
            sets.append("%s = %%s" % k)
            args.append(v)
    db.query("UPDATE limits SET " + ", ".join(sets), args)


def admin(server, method, path, body=None):
    h = {"Authorization": "Bearer " + TOKEN, "Accept": "application/json"}
    if body is not None:
        h["Content-Type"] = "application/json"
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
    return requests.request(method, server.base + "/admin/api" + path,
                            data=body, headers=h, timeout=30)


def admin_routed(server):
    return admin(server, "GET", "/limits").status_code != 404


def pause(server, db, jid):
    """What POST /admin/api/jobs/{id}/pause does to a running job."""
    if server is not None and admin_routed(server):
        r = admin(server, "POST", "/jobs/%s/pause" % jid)
        assert r.status_code in (200, 202), r.text
    else:
        db.query("UPDATE jobs SET pause_requested = true WHERE id = %s "
                 "AND state = 'running'", [jid])


def resume(server, db, jid):
    """What POST /admin/api/jobs/{id}/resume does to a paused job."""
    if server is not None and admin_routed(server):
        r = admin(server, "POST", "/jobs/%s/resume" % jid)
        assert r.status_code in (200, 202), r.text
    else:
        db.query("UPDATE jobs SET state = 'queued', run_after = now(), "
                 "updated = now() WHERE id = %s AND state = 'paused'", [jid])


def cancel(server, db, jid):
    """What POST /admin/api/jobs/{id}/cancel does to a running job."""
    if server is not None and admin_routed(server):
        r = admin(server, "POST", "/jobs/%s/cancel" % jid)
        assert r.status_code in (200, 202), r.text
    else:
        db.query("UPDATE jobs SET state = 'cancelling', updated = now() "
                 "WHERE id = %s AND state = 'running'", [jid])


def start_worker(start_server, db, env=None):
    e = dict(FAST)
    e.update(env or {})
    w = start_server(db, role="worker", extra_env=e, wait=False)
    wait_log(w, "started (lease")
    wait_for(lambda: tables_ready(db), 30, what="migrations")
    wait_for(lambda: db.scalar("SELECT to_regclass('public.limits') "
                               "IS NOT NULL"), 30, what="the limits table")
    return w


def stop_clean(w):
    assert w.stop() == 0, log_text(w)
    assert_clean_log(w)


def patients(n):
    return [json.dumps({"resourceType": "Patient", "id": "p%05d" % i,
                        "meta": {"lastUpdated": "2026-01-01T00:00:00Z"},
                        "gender": "female" if i % 2 else "male",
                        "birthDate": "19%02d-01-01" % (i % 100)},
                       separators=(",", ":"))
            for i in range(n)]


@pytest.fixture
def store(bulkhead_bin, db, start_server, tmp_path):
    """'bulkhead run' (API + 2 workers) over 2,000 Patients; export files
    roll every 100 resources, so checkpoints come often."""
    lines = patients(2000)
    src = tmp_path / "load"
    src.mkdir()
    (src / "Patient.ndjson").write_text("\n".join(lines) + "\n")
    env = dict(FAST)
    env.update({"BULKHEAD_EXPORT_FILE_RESOURCES": "100",
                "BULKHEAD_EXPORT_MAX_PER_CLIENT": "100"})
    s = start_server(db, extra_env=env)
    r = cli(bulkhead_bin, db, "load", str(src))
    assert r.returncode == 0, r.stderr.decode()
    s.lines = lines
    return s


def kickoff(server, label="c1"):
    # All of conftest's SMART client (auth = smart), which also polls and
    # downloads them; the label only names the run.
    r = requests.get(server.fhir + "/$export", params={"_type": "Patient"},
                     headers={"Prefer": "respond-async",
                              "Accept": "application/fhir+json"},
                     timeout=30)
    assert r.status_code == 202, r.text
    url = r.headers["Content-Location"]
    return url, JOB_URL.match(url).group(2)


def export_lines(status_url):
    """{type: Counter(lines)} over every file of a completed export's
    manifest (downloaded uncompressed), and the manifest's total count."""
    r = requests.get(status_url, timeout=30)
    assert r.status_code == 200, (r.status_code, r.text)
    out, total = collections.defaultdict(collections.Counter), 0
    for item in r.json()["output"]:
        f = requests.get(item["url"], headers={"Accept-Encoding":
                                               "identity"}, timeout=60)
        assert f.status_code == 200, (item, f.status_code)
        got = [x for x in f.content.decode().split("\n") if x]
        assert len(got) == item["count"], (item, len(got))
        out[item["type"]].update(got)
        total += item["count"]
    return out, total


# ---- limits as data ---------------------------------------------------------

def test_limits_defaults_and_sql_round_trip(db, start_server):
    w = start_worker(start_server, db)
    assert limits_sql(db) == DEFAULTS
    set_limits(db, rows_per_second=1234, max_jobs_per_kind={"export": 2})
    got = limits_sql(db)
    assert got["rows_per_second"] == 1234
    assert got["max_jobs_per_kind"] == {"export": 2}
    # The CHECKs repeat the API's validation for hand edits.
    for bad in ("worker_nice = 20", "worker_idle = 2", "max_jobs_total = -1",
                "import_batch_lines = 5", "max_jobs_per_kind = '[]'"):
        with pytest.raises(Exception):
            db.query("UPDATE limits SET " + bad)
    assert limits_sql(db)["rows_per_second"] == 1234
    stop_clean(w)


def test_limits_get_put_over_the_admin_api(db, start_server):
    s = start_server(db, role="serve")
    if not admin_routed(s):
        pytest.skip("GET/PUT /admin/api/limits not routed in this build")
    r = admin(s, "GET", "/limits")
    assert r.status_code == 200, r.text
    assert r.json() == DEFAULTS
    r = admin(s, "PUT", "/limits", {"rows_per_second": 500,
                                    "max_jobs_per_kind": {"export": 1,
                                                          "import": 1},
                                    "kind_timeout_s": {"noop": 30}})
    assert r.status_code == 200, r.text
    want = dict(DEFAULTS, rows_per_second=500,
                max_jobs_per_kind={"export": 1, "import": 1},
                kind_timeout_s={"noop": 30})
    assert admin(s, "GET", "/limits").json() == want
    assert limits_sql(db) == want
    # Every bad document is refused whole: nothing changes.
    for bad in ({"rows_per_second": -1}, {"rows_per_second": "5"},
                {"rows_per_second": 1.5}, {"worker_nice": 20},
                {"worker_idle": 2}, {"worker_idle": True},
                {"max_jobs_total": 1, "nonsense": 1},
                {"max_jobs_per_kind": {"no-such-kind": 1}},
                {"max_jobs_per_kind": {"export": -1}},
                {"kind_max_attempts": {"noop": 0}},
                {"import_batch_lines": 50}, {"max_jobs_per_kind": [1]},
                [], "not json", {"statement_timeout_ms": None}):
        r = admin(s, "PUT", "/limits", bad if not isinstance(bad, str)
                  else bad)
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert limits_sql(db) == want, bad


# ---- enforcement ------------------------------------------------------------

def test_rows_per_second_slows_an_export(db, store):
    set_limits(store.db, rows_per_second=500)
    url, jid = kickoff(store)
    j = wait_final(db, jid, 120)
    assert j["state"] == "completed", j
    took = (j["finished"] - j["claimed_at"]).total_seconds()
    # 2,000 rows at 500 rows/s, 0.1 s of burst: at least 3.9 s.
    assert took >= 3.0, took
    lines, total = export_lines(url)
    assert total == 2000
    assert lines["Patient"] == collections.Counter(store.lines)


def test_max_jobs_total_one_never_runs_two(bulkhead_bin, db, start_server):
    w1 = start_worker(start_server, db)
    w2 = start_worker(start_server, db)
    set_limits(db, max_jobs_total=1)
    ids = [submit(bulkhead_bin, db, "noop", {"steps": 8, "step_ms": 100})
           for _ in range(3)]
    most = 0
    deadline = time.time() + 90
    while time.time() < deadline:
        states = [s for (s,) in db.query(
            "SELECT state FROM jobs WHERE id = ANY(%s)", [ids])]
        most = max(most, states.count("running"))
        if all(s == "completed" for s in states):
            break
        time.sleep(0.02)
    assert most == 1
    spans = sorted((j["claimed_at"], j["finished"]) for j in
                   (job(db, i) for i in ids))
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 >= a1, spans
    stop_clean(w1)
    stop_clean(w2)


def test_per_kind_limit_changes_without_restart(bulkhead_bin, db,
                                                start_server):
    w1 = start_worker(start_server, db)
    w2 = start_worker(start_server, db)
    set_limits(db, max_jobs_total=0, max_jobs_per_kind={"noop": 0})
    ids = [submit(bulkhead_bin, db, "noop", {"steps": 20, "step_ms": 100})
           for _ in range(2)]
    time.sleep(3)
    assert [job(db, i)["state"] for i in ids] == ["queued", "queued"]
    set_limits(db, max_jobs_per_kind={"noop": 2})
    wait_for(lambda: db.scalar("SELECT count(*) FROM jobs WHERE id = "
                               "ANY(%s) AND state = 'running'", [ids]) == 2,
             30, 0.02, "both noop jobs running at once")
    for i in ids:
        assert wait_final(db, i)["state"] == "completed"
    stop_clean(w1)
    stop_clean(w2)


def test_kind_timeout_fails_the_job_with_the_reason(bulkhead_bin, db,
                                                   start_server):
    w = start_worker(start_server, db)
    set_limits(db, kind_timeout_s={"noop": 2})
    jid = submit(bulkhead_bin, db, "noop", {"steps": 200, "step_ms": 100})
    j = wait_final(db, jid, 60)
    assert j["state"] == "failed", j
    assert j["error"].startswith("timed out: the noop attempt ran longer "
                                 "than its limit of 2 s"), j["error"]
    assert j["attempts"] == 1 and j["lease_owner"] is None
    assert j["checkpoint"]["step"] < 200
    stop_clean(w)


def test_dead_worker_past_timeout_fails_not_requeued(db, start_server):
    set_limits_later = {"kind_timeout_s": {"noop": 60}}
    w = start_worker(start_server, db)
    set_limits(db, **set_limits_later)
    # A job whose worker vanished an hour into an attempt, attempts left.
    db.query("INSERT INTO jobs (id, kind, state, attempts, max_attempts, "
             "lease_owner, lease_expires, claimed_at, params) VALUES "
             "('d' || repeat('0', 31), 'noop', 'running', 1, 5, "
             "'gone:1:0', now() - interval '1 minute', "
             "now() - interval '1 hour', '{\"steps\": 1}')")
    j = wait_final(db, "d" + "0" * 31, 30)
    assert j["state"] == "failed"
    assert j["error"].startswith("timed out: the noop attempt"), j
    stop_clean(w)


def test_kind_max_attempts_caps_the_job(bulkhead_bin, db, start_server):
    w = start_worker(start_server, db)
    set_limits(db, kind_max_attempts={"noop": 2})
    jid = submit(bulkhead_bin, db, "noop", {"fail_times": 100},
                 "--max-attempts", "9")
    j = wait_final(db, jid, 60)
    assert j["state"] == "failed" and j["attempts"] == 2, j
    assert j["max_attempts"] == 2
    stop_clean(w)


# ---- pause, resume, cancel --------------------------------------------------

def test_pause_and_resume_noop(bulkhead_bin, db, start_server):
    w = start_worker(start_server, db)
    jid = submit(bulkhead_bin, db, "noop", {"steps": 40, "step_ms": 100})
    wait_job(db, jid, lambda j: (j["checkpoint"] or {}).get("step", 0) >= 3,
             30, "a checkpoint")
    pause(None, db, jid)
    j = wait_job(db, jid, lambda j: j["state"] == "paused", 30, "paused")
    assert j["lease_owner"] is None and j["lease_expires"] is None
    assert j["pause_requested"] is False
    assert j["attempts"] == 0          # a pause is not a failed attempt
    assert j["finished"] is None
    step = j["checkpoint"]["step"]
    assert 3 <= step < 40
    assert "job %s: paused" % jid in log_text(w)
    # Parked: no claim takes it.
    time.sleep(2.5)
    assert job(db, jid)["state"] == "paused"
    resume(None, db, jid)
    j = wait_final(db, jid)
    assert j["state"] == "completed", j
    assert j["result"] == {"steps": 40, "resumed_from": step}
    stop_clean(w)


def test_pause_requested_while_queued_parks_it(bulkhead_bin, db,
                                               start_server):
    jid = submit(bulkhead_bin, db, "noop", {"steps": 1, "step_ms": 0})
    db.query("UPDATE jobs SET pause_requested = true WHERE id = %s", [jid])
    w = start_worker(start_server, db)
    j = wait_job(db, jid, lambda j: j["state"] == "paused", 30, "paused")
    assert j["attempts"] == 0 and not j["pause_requested"]
    resume(None, db, jid)
    assert wait_final(db, jid)["state"] == "completed"
    stop_clean(w)


def test_pause_and_resume_export_same_output(db, store):
    set_limits(db, rows_per_second=400)
    url, jid = kickoff(store, "paused-client")
    wait_for(lambda: db.scalar("SELECT count(*) FROM job_outputs WHERE "
                               "job_id = %s", [jid]) >= 3, 60, 0.05,
             "three files")
    pause(store, db, jid)
    j = wait_job(db, jid, lambda j: j["state"] == "paused", 30, "paused")
    assert j["checkpoint"] is not None and j["lease_owner"] is None
    before = db.scalar("SELECT count(*) FROM job_outputs WHERE job_id = %s",
                       [jid])
    assert before >= 3
    r = requests.get(url, timeout=30)
    assert r.status_code == 202, r.text     # not complete while paused
    set_limits(db, rows_per_second=0)
    resume(store, db, jid)
    j = wait_final(db, jid, 120)
    assert j["state"] == "completed", j
    paused_lines, paused_total = export_lines(url)
    # An undisturbed run of the same export.
    url2, jid2 = kickoff(store, "plain-client")
    assert wait_final(db, jid2, 120)["state"] == "completed"
    plain_lines, plain_total = export_lines(url2)
    assert paused_total == plain_total == 2000
    assert paused_lines == plain_lines
    assert plain_lines["Patient"] == collections.Counter(store.lines)


def test_cancel_running_export_removes_its_files(db, store):
    set_limits(db, rows_per_second=300)
    url, jid = kickoff(store, "cancel-client")
    jobdir = os.path.join(store.env["BULKHEAD_DATA_DIR"], "jobs", jid)
    wait_for(lambda: db.scalar("SELECT count(*) FROM job_outputs WHERE "
                               "job_id = %s", [jid]) >= 2, 60, 0.05,
             "two files")
    assert os.listdir(jobdir)
    cancel(store, db, jid)
    seen = set()

    def done():
        st = db.scalar("SELECT state FROM jobs WHERE id = %s", [jid])
        seen.add(st)
        return st == "cancelled" and not os.path.exists(jobdir)
    wait_for(done, 30, 0.05, "cancelled with its files gone")
    assert "completed" not in seen
    j = job(db, jid)
    assert j["finished"] is not None and j["result"] is None
    r = requests.get(url, timeout=30)
    assert r.status_code != 200, r.text     # never looks complete
    assert "job %s: cancelled" % jid in store.read_log()


def test_cancel_running_import_removes_its_files(db, store, tmp_path):
    imp = tmp_path / "import"
    imp.mkdir(exist_ok=True)
    lines = [json.dumps({"resourceType": "Patient", "id": "i%05d" % i,
                         "gender": "other"}) for i in range(3000)]
    lines[5] = '{"resourceType": "Patient"'        # an error file, too
    (imp / "Patient.ndjson").write_text("\n".join(lines) + "\n")
    set_limits(db, rows_per_second=300)
    r = requests.post(store.fhir + "/$import", timeout=30, data=json.dumps({
        "inputFormat": "application/fhir+ndjson",
        "inputSource": "https://openimis.example/fhir",
        "storageDetail": {"type": "https"},
        "input": [{"type": "Patient",
                   "url": "file://" + str(imp / "Patient.ndjson")}]}),
        headers={"Content-Type": "application/json",
                 "Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    url = r.headers["Content-Location"]
    jid = JOB_URL.match(url).group(2)
    jobdir = os.path.join(store.env["BULKHEAD_DATA_DIR"], "jobs", jid)
    wait_job(db, jid, lambda j: j["state"] == "running" and
             os.path.isdir(jobdir), 30, "running")
    time.sleep(1.5)
    cancel(store, db, jid)
    wait_for(lambda: job(db, jid)["state"] == "cancelled" and
             not os.path.exists(jobdir), 30, 0.05,
             "cancelled with its files gone")
    j = job(db, jid)
    assert j["result"] is None
    # Stopped part-way: not every line was loaded.
    assert db.scalar("SELECT count(*) FROM resources WHERE id LIKE 'i%%'") \
        < 2999
    assert requests.get(url, timeout=30).status_code != 200


# ---- priorities -------------------------------------------------------------

def sched_of(pid):
    """(policy, nice) of a process from /proc/PID/stat: policy 5 is
    SCHED_IDLE, 0 SCHED_OTHER."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); nice is field 19, policy field 41.
    return int(fields[38]), int(fields[16])


def bulk_backends(db):
    return [r[0] for r in db.query(
        "SELECT pid FROM pg_stat_activity WHERE application_name LIKE "
        "'bulkhead worker%%' AND state = 'active' AND query ILIKE 'COPY%%'")]


def slow_import(store, tmp_path, name):
    """Kicks off a $import of 3,000 Patients (rows_per_second set by the
    caller); returns its job id once it runs."""
    imp = tmp_path / "import"           # the store's import directory
    imp.mkdir(exist_ok=True)
    (imp / (name + ".ndjson")).write_text("\n".join(
        json.dumps({"resourceType": "Patient", "id": "%s%05d" % (name, i)})
        for i in range(3000)) + "\n")
    r = requests.post(store.fhir + "/$import", timeout=30, data=json.dumps({
        "inputFormat": "application/fhir+ndjson",
        "inputSource": "https://openimis.example/fhir",
        "storageDetail": {"type": "https"},
        "input": [{"type": "Patient",
                   "url": "file://" + str(imp / (name + ".ndjson"))}]}),
        headers={"Content-Type": "application/json",
                 "Prefer": "respond-async"})
    assert r.status_code == 202, r.text
    return JOB_URL.match(r.headers["Content-Location"]).group(2)


def classes_while_running(db, store, jid):
    """(worker pid, (policy, nice) of the job's worker thread, set of
    (policy, nice) of its COPY backends, set of the time slices of both),
    read while the job runs; then cancels it."""
    wait_job(db, jid, lambda j: j["state"] == "running", 30)
    pids = wait_for(lambda: bulk_backends(db), 30, what="a COPY backend")
    (owner,), = db.query("SELECT lease_owner FROM jobs WHERE id = %s",
                         [jid])
    wpid = int(owner.split(":")[1])
    worker = sched_of(wpid)
    backends = set(sched_of(p) for p in pids)
    slices = set(slice_of(p) for p in [wpid] + pids)
    cancel(store, db, jid)
    wait_final(db, jid, 60)
    return wpid, worker, backends, slices


def test_bulk_work_runs_in_the_idle_class(db, store, tmp_path):
    """worker_idle (default 1): an import's worker thread and its COPY
    backends run in SCHED_IDLE at worker_nice; an export stays in the
    normal class (job_kinds.h says why), with a 20 ms time slice where
    the kernel takes one (lib/slice.h); worker_idle 0 puts imports back
    in the normal class, without a restart."""
    set_limits(store.db, rows_per_second=300)
    url, jid = kickoff(store)
    _, worker, backends, slices = classes_while_running(db, store, jid)
    assert (worker, backends) == ((0, 10), {(0, 10)})
    if custom_slices():
        assert slices == {20000000}
    jid = slow_import(store, tmp_path, "a")
    wpid, worker, backends, _ = classes_while_running(db, store, jid)
    assert (worker, backends) == ((5, 10), {(5, 10)})
    # Between jobs the worker is back in the normal class.
    wait_for(lambda: sched_of(wpid) == (0, 10), 30,
             what="the worker back in SCHED_OTHER")
    set_limits(store.db, worker_idle=0)
    jid = slow_import(store, tmp_path, "b")
    _, worker, backends, _ = classes_while_running(db, store, jid)
    assert (worker, backends) == ((0, 10), {(0, 10)})
