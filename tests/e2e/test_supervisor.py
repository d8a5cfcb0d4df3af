"""'bulkhead run': the supervisor and its children.

The children are found through /proc (their parent is the 'run' process);
the API child may still be restarting while its module is being built,
which these tests tolerate: they look at the scheduler and the workers.
"""
import os
import signal

from jobhelp import (alive, assert_clean_log, children, cli, job, log_text,
                     submit, tables_ready, wait_final, wait_for, wait_log)


def by_role(pid, role):
    return sorted(p for p, argv in children(pid).items()
                  if argv == ["bulkhead", role])


def start_run(start_server, db, workers=2):
    s = start_server(db, role="run", wait=False,
                     extra_env={"BULKHEAD_WORKERS": str(workers)})
    wait_for(lambda: tables_ready(db), 60, what="migrations")
    wait_for(lambda: len(by_role(s.proc.pid, "worker")) == workers and
             by_role(s.proc.pid, "scheduler"), 60, 0.1, "the children")
    return s


def test_run_starts_roles_and_completes_a_job(bulkhead_bin, db,
                                             start_server):
    s = start_run(start_server, db, workers=2)
    kids = children(s.proc.pid)
    roles = sorted(argv[1] for argv in kids.values())
    assert roles.count("worker") == 2 and roles.count("scheduler") == 1
    for argv in kids.values():
        assert argv[0] == "bulkhead" and len(argv) == 2
    jid = submit(bulkhead_bin, db, "noop", {"steps": 4, "step_ms": 50})
    r = cli(bulkhead_bin, db, "jobs", "wait", jid, "--timeout", "60")
    assert r.returncode == 0, r.stderr.decode() + log_text(s)
    j = job(db, jid)
    assert j["progress"] == {"done": 4, "total": 4}
    assert j["result"] == {"steps": 4, "resumed_from": 0}
    assert j["attempts"] == 1
    # Children run with the configuration the supervisor was given.
    wpid = by_role(s.proc.pid, "worker")[0]
    with open("/proc/%d/environ" % wpid, "rb") as f:
        env = f.read().split(b"\0")
    assert b"BULKHEAD_WORKERS=2" in env
    assert ("BULKHEAD_DATABASE_URL=" + db.url).encode() in env
    assert s.stop() == 0
    assert_clean_log(s)


def test_killed_child_is_restarted(bulkhead_bin, db, start_server):
    s = start_run(start_server, db, workers=2)
    victim = by_role(s.proc.pid, "worker")[0]
    os.kill(victim, signal.SIGKILL)
    wait_log(s, "(pid %d) killed by signal 9" % victim, 30)
    assert "restarting in" in log_text(s)
    wait_for(lambda: len(by_role(s.proc.pid, "worker")) == 2 and
             victim not in by_role(s.proc.pid, "worker"), 30, 0.1,
             "the restarted worker")
    # The replacement does work.
    jid = submit(bulkhead_bin, db, "noop", {"steps": 1, "step_ms": 0})
    assert wait_final(db, jid)["state"] == "completed"
    assert s.stop() == 0
    assert_clean_log(s)


def test_sigterm_stops_all_children(bulkhead_bin, db, start_server):
    s = start_run(start_server, db, workers=3)
    kids = list(children(s.proc.pid))
    # A job in flight goes back to the queue on the way down.
    jid = submit(bulkhead_bin, db, "noop", {"steps": 500, "step_ms": 100})
    wait_for(lambda: job(db, jid)["state"] == "running", 30, 0.1, "running")
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(60) == 0, log_text(s)
    for pid in kids:
        assert not alive(pid), pid
    log = log_text(s)
    assert "SIGTERM: stopping" in log and "supervisor stopped" in log
    assert "killing" not in log
    j = job(db, jid)
    assert j["state"] == "queued" and j["lease_owner"] is None
    s.stop()
    assert_clean_log(s)


def test_sigint_stops_too(db, start_server):
    s = start_run(start_server, db, workers=1)
    kids = list(children(s.proc.pid))
    s.proc.send_signal(signal.SIGINT)
    assert s.proc.wait(60) == 0, log_text(s)
    for pid in kids:
        assert not alive(pid), pid
    s.stop()
