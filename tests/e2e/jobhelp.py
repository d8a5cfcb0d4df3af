"""Helpers for the job engine tests (test_jobs.py, test_supervisor.py).

Workers and the supervisor serve no /healthz, so readiness and outcomes
are read from the database and the process logs.
"""
import json
import os
import time

from conftest import run_cli


def wait_for(pred, timeout=60, interval=0.1, what="condition"):
    """Polls pred() until it returns a truthy value, which is returned."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def cli(binary, db, *args, env=None, timeout=120):
    r = run_cli(binary, list(args), db=db, env=env, timeout=timeout)
    assert b"Sanitizer" not in r.stderr, r.stderr.decode()
    assert b"runtime error:" not in r.stderr, r.stderr.decode()
    return r


def submit(binary, db, kind="noop", params=None, *extra):
    args = ["jobs", "submit", kind]
    if params is not None:
        args.append(json.dumps(params))
    r = cli(binary, db, *(args + list(extra)))
    assert r.returncode == 0, r.stderr.decode()
    job_id = r.stdout.decode().strip()
    assert len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)
    return job_id


def job(db, job_id):
    """The job row as a dict (JSON columns decoded by psycopg2)."""
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM jobs WHERE id = %s", (job_id,))
            row = cur.fetchone()
            if row is None:
                return None
            return dict(zip([d[0] for d in cur.description], row))
    finally:
        conn.close()


def wait_job(db, job_id, pred, timeout=60, what=None):
    def check():
        j = job(db, job_id)
        return j if j is not None and pred(j) else None
    return wait_for(check, timeout, 0.1, what or "job " + job_id)


def wait_final(db, job_id, timeout=90):
    try:
        return wait_job(db, job_id, lambda j: j["state"] in
                        ("completed", "failed", "cancelled"), timeout,
                        "job %s to finish" % job_id)
    except AssertionError as e:
        raise AssertionError("%s; last seen: %r" % (e, job(db, job_id)))


def log_text(server):
    """The process log so far; works after Server.stop() too."""
    if not server.log.closed:
        server.log.flush()
    return server.log_path.read_text(errors="replace")


def wait_log(server, text, timeout=30, count=1):
    return wait_for(lambda: log_text(server).count(text) >= count, timeout,
                    0.1, "%r in the log" % text)


def tables_ready(db):
    """True once the migrations that create the jobs table have run."""
    try:
        return db.scalar("SELECT to_regclass('public.job_outputs') "
                         "IS NOT NULL")
    except Exception:
        return False


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def children(pid):
    """Live (non-zombie) child processes of pid: {child pid: argv}."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            argv = cmdline(int(name))
            if argv:
                out[int(name)] = argv
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


def assert_clean_log(server):
    log = log_text(server)
    for bad in ("LeakSanitizer", "AddressSanitizer", "runtime error:"):
        assert bad not in log, log
