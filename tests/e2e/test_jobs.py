"""The job engine: queue, workers, leases, retries, scheduler, jobs CLI.

Workers are started directly ('bulkhead worker'); outcomes are read from
the jobs table and the process logs.  Short leases (5 s, heartbeat 1 s)
keep the takeover tests quick; no test asserts a duration beyond
generous timeouts.
"""
import json
import os
import signal
import time


from jobhelp import (assert_clean_log, cli, job, log_text, submit,
                     tables_ready, wait_final, wait_for, wait_job, wait_log)

SHORT_LEASE = {"BULKHEAD_JOB_LEASE": "5", "BULKHEAD_JOB_HEARTBEAT": "1"}


def api_env(api):
    """'jobs list' and 'jobs show' go through the admin API of a 'serve'
    process (submit and wait need only the database)."""
    return {"BULKHEAD_API_URL": api.base,
            "BULKHEAD_ADMIN_TOKEN": "test-admin-token"}


def start_worker(start_server, db, env=None):
    w = start_server(db, role="worker", extra_env=env, wait=False)
    wait_log(w, "started (lease")
    wait_for(lambda: tables_ready(db), 30, what="migrations")
    return w


def stop_clean(w):
    assert w.stop() == 0, log_text(w)
    assert_clean_log(w)


def test_noop_completes_with_progress_and_result(bulkhead_bin, db,
                                                 start_server):
    w = start_worker(start_server, db)
    env = api_env(start_server(db, role="serve"))
    jid = submit(bulkhead_bin, db, "noop", {"steps": 5, "step_ms": 50})
    r = cli(bulkhead_bin, db, "jobs", "wait", jid, "--timeout", "60")
    assert r.returncode == 0, r.stderr.decode() + log_text(w)
    assert jid in r.stdout.decode()
    j = job(db, jid)
    assert j["state"] == "completed"
    assert j["kind"] == "noop"
    assert j["progress"] == {"done": 5, "total": 5}
    assert j["checkpoint"] == {"step": 5}
    assert j["result"] == {"steps": 5, "resumed_from": 0}
    assert j["attempts"] == 1
    assert j["lease_owner"] is None and j["lease_expires"] is None
    assert j["started"] is not None and j["finished"] >= j["started"]
    assert j["error"] is None

    r = cli(bulkhead_bin, db, "jobs", "show", jid, "--json", env=env)
    assert r.returncode == 0, r.stderr.decode()
    shown = json.loads(r.stdout)
    assert shown["id"] == jid and shown["state"] == "completed"
    assert shown["result"] == {"steps": 5, "resumed_from": 0}
    assert shown["params"] == {"steps": 5, "step_ms": 50}
    assert shown["outputs"] == []
    r = cli(bulkhead_bin, db, "jobs", "show", jid, env=env)
    assert r.returncode == 0 and b"completed" in r.stdout
    r = cli(bulkhead_bin, db, "jobs", "list", "--json", "--state",
            "completed", "--kind", "noop", env=env)
    assert [x["id"] for x in json.loads(r.stdout)["jobs"]] == [jid]
    r = cli(bulkhead_bin, db, "jobs", "list", env=env)
    assert r.returncode == 0 and jid.encode() in r.stdout
    assert b"5/5" in r.stdout
    stop_clean(w)


def test_outputs_are_recorded(bulkhead_bin, db, start_server):
    w = start_worker(start_server, db)
    env = api_env(start_server(db, role="serve"))
    jid = submit(bulkhead_bin, db, "noop", {"steps": 1, "step_ms": 0,
                                            "outputs": 3})
    assert wait_final(db, jid)["state"] == "completed"
    rows = db.query("SELECT seq, channel, type, count, bytes, file, url "
                    "FROM job_outputs WHERE job_id = %s ORDER BY seq",
                    (jid,))
    assert rows == [(i, "output", "Basic", i, 0, None, None)
                    for i in (1, 2, 3)]
    assert job(db, jid)["checkpoint"] == {"step": 1, "outputs": 3}
    r = cli(bulkhead_bin, db, "jobs", "show", jid, "--json", env=env)
    outs = json.loads(r.stdout)["outputs"]
    assert [(o["seq"], o["type"], o["count"]) for o in outs] == \
        [(1, "Basic", 1), (2, "Basic", 2), (3, "Basic", 3)]
    # Deleting a job deletes its outputs.
    db.query("DELETE FROM jobs WHERE id = %s", (jid,))
    assert db.scalar("SELECT count(*) FROM job_outputs") == 0
    stop_clean(w)


def test_defaults_and_priority(bulkhead_bin, db, start_server):
    # Submitted before any worker runs: the higher priority goes first.
    low = submit(bulkhead_bin, db, "noop", {"steps": 1, "step_ms": 0})
    high = submit(bulkhead_bin, db, "noop", None, "--priority", "5")
    j = job(db, high)
    assert j["priority"] == 5 and j["params"] == {} and j["state"] == "queued"
    w = start_worker(start_server, db)
    a, b = wait_final(db, low), wait_final(db, high)
    assert a["state"] == b["state"] == "completed"
    assert b["result"] == {"steps": 3, "resumed_from": 0}
    assert b["started"] <= a["started"]
    stop_clean(w)


def test_cli_rejects_bad_input(bulkhead_bin, db, start_server):
    env = api_env(start_server(db, role="serve"))

    def rc(*args):
        r = cli(bulkhead_bin, db, *args, env=env)
        err = r.stderr.decode()
        assert r.returncode in (1, 2), err
        # One line with the reason (migration notices aside).
        assert [l for l in err.splitlines() if "migration" not in l], err
        return r.returncode, err

    assert rc("jobs")[0] == 2
    assert rc("jobs", "frobnicate")[0] == 2
    code, err = rc("jobs", "submit", "nosuchkind")
    assert code == 2 and "unknown job kind" in err
    code, err = rc("jobs", "submit", "noop", "{not json")
    assert code == 2 and "JSON" in err
    code, err = rc("jobs", "submit", "noop", "[1,2]")
    assert code == 2 and "object" in err
    code, err = rc("jobs", "submit", "noop", '{"steps": 100001}')
    assert code == 2 and "steps" in err
    code, err = rc("jobs", "submit", "noop", '{"bogus": 1}')
    assert code == 2 and "bogus" in err
    assert rc("jobs", "submit", "noop", "{}", "--priority", "high")[0] == 2
    assert rc("jobs", "submit", "noop", "{}", "--nope")[0] == 2
    assert rc("jobs", "list", "--state", "sleeping")[0] == 2
    assert rc("jobs", "list", "--limit", "0")[0] == 2
    assert rc("jobs", "wait", "x", "--timeout", "soon")[0] == 2
    code, err = rc("jobs", "show", "0" * 32)
    assert code == 1 and "no such job" in err
    code, err = rc("jobs", "wait", "0" * 32, "--timeout", "5")
    assert code == 1 and "no such job" in err
    r = cli(bulkhead_bin, db, "jobs", "kinds")
    assert r.returncode == 0 and b"noop" in r.stdout


def test_wait_times_out(bulkhead_bin, db):
    jid = submit(bulkhead_bin, db, "noop", {"steps": 1})
    r = cli(bulkhead_bin, db, "jobs", "wait", jid, "--timeout", "1")
    assert r.returncode == 2, r.stderr.decode()
    assert b"timed out" in r.stderr


def test_two_workers_never_run_the_same_job(bulkhead_bin, db, start_server):
    w1 = start_worker(start_server, db)
    w2 = start_worker(start_server, db)
    ids = [submit(bulkhead_bin, db, "noop", {"steps": 2, "step_ms": 20})
           for _ in range(20)]
    for jid in ids:
        j = wait_final(db, jid)
        assert j["state"] == "completed", j
        assert j["attempts"] == 1, j
        assert j["result"] == {"steps": 2, "resumed_from": 0}
    logs = log_text(w1) + log_text(w2)
    for jid in ids:
        assert logs.count("job %s (noop): claimed" % jid) == 1, jid
        assert logs.count("job %s: completed" % jid) == 1, jid
    stop_clean(w1)
    stop_clean(w2)


def test_killed_worker_job_is_taken_over_and_resumes(bulkhead_bin, db,
                                                      start_server):
    a = start_worker(start_server, db, SHORT_LEASE)
    jid = submit(bulkhead_bin, db, "noop", {"steps": 20, "step_ms": 300})
    j = wait_job(db, jid, lambda j: (j["checkpoint"] or {}).get("step", 0)
                 >= 3, 60, "a checkpoint")
    assert j["state"] == "running" and j["lease_owner"]
    assert int(j["lease_owner"].split(":")[1]) == a.proc.pid
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    # A save already sent when the worker died may still commit: the
    # resume point is at least what we see now.
    done_before = job(db, jid)["checkpoint"]["step"]

    b = start_worker(start_server, db, SHORT_LEASE)
    j = wait_final(db, jid)
    assert j["state"] == "completed", j
    assert j["attempts"] == 2
    assert j["result"]["steps"] == 20
    assert done_before <= j["result"]["resumed_from"] < 20
    assert j["progress"] == {"done": 20, "total": 20}
    assert "job %s (noop): taken over from" % jid in log_text(b)
    stop_clean(b)


def test_retry_with_backoff(bulkhead_bin, db, start_server):
    w = start_worker(start_server, db)
    jid = submit(bulkhead_bin, db, "noop",
                 {"steps": 1, "step_ms": 0, "fail_times": 2})
    # After the first failure the job waits, queued, with the reason.
    j = wait_job(db, jid, lambda j: j["attempts"] >= 1 and
                 j["state"] == "queued", 30, "the first retry")
    assert "on purpose" in j["error"]
    assert j["lease_owner"] is None
    assert j["run_after"] > j["created"]
    j = wait_final(db, jid)
    assert j["state"] == "completed", j
    assert j["attempts"] == 3
    assert j["error"] is None
    assert log_text(w).count("job %s: attempt" % jid) == 2
    stop_clean(w)


def test_always_failing_job_fails_after_max_attempts(bulkhead_bin, db,
                                                     start_server):
    w = start_worker(start_server, db)
    jid = submit(bulkhead_bin, db, "noop", {"fail_times": 100},
                 "--max-attempts", "3")
    r = cli(bulkhead_bin, db, "jobs", "wait", jid, "--timeout", "90")
    assert r.returncode == 1, r.stderr.decode() + log_text(w)
    assert b"failed" in r.stderr and b"on purpose" in r.stderr
    j = job(db, jid)
    assert j["state"] == "failed"
    assert j["attempts"] == 3 and j["max_attempts"] == 3
    assert j["lease_owner"] is None and j["finished"] is not None
    stop_clean(w)


def test_lost_on_last_attempt_fails_not_stuck(bulkhead_bin, db,
                                              start_server):
    a = start_worker(start_server, db, SHORT_LEASE)
    jid = submit(bulkhead_bin, db, "noop", {"steps": 50, "step_ms": 200},
                 "--max-attempts", "1")
    wait_job(db, jid, lambda j: j["state"] == "running", 30, "running")
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    b = start_worker(start_server, db, SHORT_LEASE)
    j = wait_final(db, jid)
    assert j["state"] == "failed"
    assert j["error"] == "worker lost 1 times"
    assert j["attempts"] == 1
    assert "taken over" not in log_text(b)
    stop_clean(b)


def test_sigterm_releases_running_job(bulkhead_bin, db, start_server):
    a = start_worker(start_server, db)
    jid = submit(bulkhead_bin, db, "noop", {"steps": 200, "step_ms": 100})
    wait_job(db, jid, lambda j: (j["checkpoint"] or {}).get("step", 0) >= 2,
             30, "a checkpoint")
    assert a.stop() == 0, log_text(a)
    assert_clean_log(a)
    assert "released back to the queue" in log_text(a)
    j = job(db, jid)
    assert j["state"] == "queued", j
    assert j["lease_owner"] is None and j["lease_expires"] is None
    assert j["attempts"] == 0
    step = j["checkpoint"]["step"]
    assert step >= 2

    b = start_worker(start_server, db)
    # Not wait for all 200 steps: see it resume, then stop it again.
    j = wait_job(db, jid, lambda j: j["state"] == "running" and
                 j["progress"]["done"] >= step, 30, "the resume")
    assert j["attempts"] == 1
    assert b.stop() == 0
    assert job(db, jid)["state"] == "queued"


def test_worker_waits_for_unreachable_database(db, start_server, tmp_path):
    bad = "host=%s port=5433 user=bulkhead dbname=x" % (tmp_path / "nosock")
    w = start_server(db, role="worker", wait=False,
                     extra_env={"BULKHEAD_DATABASE_URL": bad})
    wait_log(w, "database unreachable", 30)
    time.sleep(1.5)
    assert w.proc.poll() is None, log_text(w)
    w.stop()


def test_scheduler_leader_rescues_expired_leases(bulkhead_bin, db,
                                                 start_server):
    s1 = start_server(db, role="scheduler", wait=False)
    wait_log(s1, "leader now")
    s2 = start_server(db, role="scheduler", wait=False)
    wait_log(s2, "standing by")
    # Two jobs whose worker vanished: one with attempts left, one without.
    db.query("INSERT INTO jobs (id, kind, state, attempts, max_attempts, "
             "lease_owner, lease_expires, checkpoint) VALUES "
             "('a' || repeat('0', 31), 'noop', 'running', 1, 3, 'gone:1:0', "
             "now() - interval '1 minute', '{\"step\": 2}'), "
             "('b' || repeat('0', 31), 'noop', 'running', 3, 3, 'gone:1:0', "
             "now() - interval '1 minute', NULL)")
    a = wait_job(db, "a" + "0" * 31, lambda j: j["state"] == "queued", 30)
    assert a["lease_owner"] is None and a["checkpoint"] == {"step": 2}
    b = wait_job(db, "b" + "0" * 31, lambda j: j["state"] == "failed", 30)
    assert b["error"] == "worker lost 3 times"
    # The leader goes; the other one takes over.
    assert s1.stop() == 0
    wait_log(s2, "leader now", 30)
    assert s2.stop() == 0
    assert_clean_log(s1)
    assert_clean_log(s2)
