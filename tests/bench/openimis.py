"""tests/bench/openimis — openimis-pull and openimis-claims-push against
the openIMIS stand-in (tests/e2e/openimis_standin.py, in a process of its
own), to show that both are limited by the configured openimis_rps, not
by Bulkhead.

  1. the stand-in with F families (3 insurees each, a Group, a Contract
     and a Coverage: 6 resources a family);
  2. one 'bulkhead worker' on a fresh database, openimis_rps = R,
     openimis_page_size = P; an openimis-pull job (a first, full pull of
     every type); measured from jobs.started to jobs.finished;
  3. N claims imported ($import job, file://) and pushed by an
     openimis-claims-push job, at the same rate.
For each: requests, the achieved rate against openimis_rps, and the
worker's CPU (user + system, /proc) per request.  Asserts nothing.

Environment: OPENIMIS_BENCH_FAMILIES (default 200000), OPENIMIS_BENCH_
CLAIMS (default 100000), OPENIMIS_BENCH_RPS (default 50),
OPENIMIS_BENCH_PAGE (default 1000), BULKHEAD_DATABASE_URL, BULKHEAD_BIN.
At the defaults the pull is ~1,200 pages and the push 100,000 POSTs:
33 minutes at 50/s; scale down for a quick look.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))

import requests  # noqa: E402

from common import BIN, ROOT, fresh_db, proc_cpu_seconds, sql  # noqa: E402

F = int(os.environ.get("OPENIMIS_BENCH_FAMILIES", "200000"))
N = int(os.environ.get("OPENIMIS_BENCH_CLAIMS", "100000"))
RPS = int(os.environ.get("OPENIMIS_BENCH_RPS", "50"))
PAGE = int(os.environ.get("OPENIMIS_BENCH_PAGE", "1000"))
STANDIN = os.path.join(os.path.dirname(__file__), "..", "e2e",
                       "openimis_standin.py")


def submit(env, kind, params):
    r = subprocess.run([BIN, "jobs", "submit", kind, json.dumps(params)],
                       env=env, check=True, capture_output=True)
    return r.stdout.decode().strip()


def wait(url, jid, timeout=7200):
    t0 = time.time()
    while time.time() - t0 < timeout:
        row = sql(url, "SELECT state, result, extract(epoch FROM finished "
                  "- started) FROM jobs WHERE id = '%s'" % jid)[0]
        if row[0] in ("completed", "failed", "cancelled"):
            assert row[0] == "completed", row
            return row[1], float(row[2])
        time.sleep(0.5)
    raise AssertionError("job %s did not finish" % jid)


def report(what, requests_, secs, cpu):
    print("%-6s %8d requests in %7.1f s: %6.1f/s = %.2f of openimis_rps "
          "%d; worker CPU %.2f ms/request" % (
              what, requests_, secs, requests_ / secs, requests_ / secs / RPS,
              RPS, 1000.0 * cpu / requests_))


def main():
    admin = os.environ["BULKHEAD_DATABASE_URL"]
    url = fresh_db(admin, "bh_bench_openimis")
    work = os.path.join(ROOT, "var", "bench", "openimis")
    os.makedirs(os.path.join(work, "import"), exist_ok=True)
    t0 = time.time()
    si = subprocess.Popen([sys.executable, STANDIN, str(F)],
                          stdout=subprocess.PIPE)
    base = si.stdout.readline().decode().strip()
    print("stand-in: %d families (%d resources) generated in %.0f s" % (
        F, 6 * F, time.time() - t0))
    origin = base.split("/api/")[0]
    env = dict(os.environ, BULKHEAD_DATABASE_URL=url,
               BULKHEAD_DATA_DIR=os.path.join(work, "data"),
               BULKHEAD_IMPORT_DIR=os.path.join(work, "import"),
               BULKHEAD_OPENIMIS_URL=base,
               BULKHEAD_OPENIMIS_USERNAME="admin",
               BULKHEAD_OPENIMIS_PASSWORD="admin123",
               BULKHEAD_OPENIMIS_RPS=str(RPS),
               BULKHEAD_OPENIMIS_PAGE_SIZE=str(PAGE),
               BULKHEAD_LOG_LEVEL="warn")
    w = subprocess.Popen([BIN, "worker"], env=env)
    try:
        time.sleep(2)
        cpu0 = proc_cpu_seconds(w.pid)
        jid = submit(env, "openimis-pull", {})
        res, secs = wait(url, jid)
        report("pull", res["requests"], secs, proc_cpu_seconds(w.pid) - cpu0)
        stored = sql(url, "SELECT count(*) FROM resources")[0][0]
        print("       %d resources stored (expected %d)" % (stored, 6 * F))

        chf = ["%09d" % (i + 1) for i in range(3 * F)]
        path = os.path.join(work, "import", "claims.ndjson")
        with open(path, "w") as f:
            for i in range(N):
                f.write(json.dumps({
                    "resourceType": "Claim", "id": "b%07d" % i,
                    "identifier": [{"type": {"coding": [{"code": "Code"}]},
                                    "value": "B%07d" % i}],
                    "status": "active", "use": "claim",
                    "type": {"coding": [{"code": "O"}]},
                    "priority": {"coding": [{"code": "normal"}]},
                    "provider": {"reference": "Organization/hf1"},
                    "insurance": [{"sequence": 1, "focal": True,
                                   "coverage": {"reference": "Coverage/c"}}],
                    "created": "2026-11-01",
                    "patient": {"reference": "Patient/" + chf[i % len(chf)]},
                    "total": {"value": 10.0}}) + "\n")
        imp = submit(env, "import", {"inputs": [{"type": "Claim",
                                                 "url": "file://" + path}]})
        wait(url, imp)
        cpu0 = proc_cpu_seconds(w.pid)
        jid = submit(env, "openimis-claims-push", {"import": imp})
        res, secs = wait(url, jid)
        report("push", res["requests"], secs, proc_cpu_seconds(w.pid) - cpu0)
        st = requests.get(origin + "/_standin/stats").json()
        print("       accepted %d, refused %d, at most %d POST per code, "
              "429s %s" % (st["accepted"], st["refused"], st["max_posts"],
                           st["status"].get("429", 0)))
    finally:
        w.terminate()
        w.wait()
        si.terminate()
        si.wait()


if __name__ == "__main__":
    main()
