"""tests/bench/openimis — openimis-pull and openimis-claims-push against
the openIMIS stand-in (tests/e2e/openimis_standin.py, in a process and a
session of its own), to show that both are limited by the configured
openimis_rps, not by Bulkhead (issue 17, "Must show").

  1. the stand-in with F families (3 insurees each, a Group, a Contract
     and a Coverage: 6 resources a family), every row's JSON rendered
     before the clock starts (StandIn.warm), so that what is measured is
     Bulkhead and the pace, not the stand-in;
  2. pull: a 'bulkhead worker' on a fresh database, openimis_rps =
     PULL_RPS, openimis_page_size = PAGE; an openimis-pull job (a first,
     full pull of every type in openimis_types);
  3. push: N claims (ITEMS items each) imported ($import, file://), then
     a worker with openimis_rps = PUSH_RPS runs an openimis-claims-push
     job.
Each phase is timed from jobs.started to jobs.finished.  For each it
prints: resources, requests, configured and achieved rps and their
ratio (target >= 0.9 where Bulkhead is not the bound), the worker's CPU
per request (user + system from /proc/PID/stat, all its threads), the
CPU of its database backends per request (the server side of Bulkhead's
store writes), the stand-in's CPU per request, the most requests the
stand-in saw in one wall-clock second, and the load average before and
after (the machine may be shared).  Asserts nothing but the counts.

Environment: OPENIMIS_BENCH_FAMILIES (default 200000), OPENIMIS_BENCH_
CLAIMS (default 100000), OPENIMIS_BENCH_PULL_RPS (default 50),
OPENIMIS_BENCH_PUSH_RPS (default 200), OPENIMIS_BENCH_PAGE (default 100,
openimis_page_size's default; 1000 is the largest Bulkhead asks for:
openIMIS sets no maximum), OPENIMIS_BENCH_ITEMS (items per claim,
default 3; openIMIS claims carry items and services), OPENIMIS_BENCH_
PHASES (default "pull,push"), BULKHEAD_DATABASE_URL, BULKHEAD_BIN.  At
the defaults the pull is ~12,000 pages (4 min) and the push 100,000 POSTs
(8.5 min); openimis_rps's own default (5) would take 40 min and 5.5 h.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))

import requests  # noqa: E402

from common import (BIN, ROOT, fresh_db, loadavg,  # noqa: E402
                    proc_cpu_seconds, proc_runqueue_wait, sql)

F = int(os.environ.get("OPENIMIS_BENCH_FAMILIES", "200000"))
N = int(os.environ.get("OPENIMIS_BENCH_CLAIMS", "100000"))
PULL_RPS = int(os.environ.get("OPENIMIS_BENCH_PULL_RPS", "50"))
PUSH_RPS = int(os.environ.get("OPENIMIS_BENCH_PUSH_RPS", "200"))
PAGE = int(os.environ.get("OPENIMIS_BENCH_PAGE", "100"))
ITEMS = int(os.environ.get("OPENIMIS_BENCH_ITEMS", "3"))
PHASES = os.environ.get("OPENIMIS_BENCH_PHASES", "pull,push").split(",")
STANDIN = os.path.join(os.path.dirname(__file__), "..", "e2e",
                       "openimis_standin.py")


def runq_all(pid):
    """Seconds every thread of pid spent runnable, waiting for a CPU."""
    tot = 0.0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                tot += int(f.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            pass
    return tot


def submit(env, kind, params):
    r = subprocess.run([BIN, "jobs", "submit", kind, json.dumps(params)],
                       env=env, check=True, capture_output=True)
    return r.stdout.decode().strip()


class Backends:
    """CPU of the database backends serving the bench database, sampled
    while a job runs (a backend's /proc/PID/stat; the cluster runs as
    our user on this machine).  A backend that exits between samples
    loses at most one interval of its CPU."""

    def __init__(self, url, dbname):
        self.url, self.dbname = url, dbname
        self.base, self.last = {}, {}
        self.wbase, self.wlast = {}, {}

    def pids(self):
        return [r[0] for r in sql(self.url, "SELECT pid FROM "
                                  "pg_stat_activity WHERE datname = '%s' "
                                  "AND pid <> pg_backend_pid()"
                                  % self.dbname)]

    def start(self):
        for pid in self.pids():
            c, w = proc_cpu_seconds(pid), proc_runqueue_wait(pid)
            if c is not None and w is not None:
                self.base[pid] = self.last[pid] = c
                self.wbase[pid] = self.wlast[pid] = w

    def sample(self):
        for pid in self.pids():
            c, w = proc_cpu_seconds(pid), proc_runqueue_wait(pid)
            if c is None or w is None:
                continue
            self.base.setdefault(pid, 0.0)
            self.wbase.setdefault(pid, 0.0)
            self.last[pid] = c
            self.wlast[pid] = w

    def cpu(self):
        return sum(self.last[p] - self.base[p] for p in self.last)

    def runq(self):
        """Seconds runnable but waiting for a CPU (schedstat)."""
        return sum(self.wlast[p] - self.wbase[p] for p in self.wlast)


def wait(url, jid, backends, timeout=7200):
    t0 = time.time()
    while time.time() - t0 < timeout:
        row = sql(url, "SELECT state, result, extract(epoch FROM finished "
                  "- started) FROM jobs WHERE id = '%s'" % jid)[0]
        if row[0] in ("completed", "failed", "cancelled"):
            assert row[0] == "completed", row
            return row[1], float(row[2])
        backends.sample()
        time.sleep(0.5)
    raise AssertionError("job %s did not finish" % jid)


class Phase:
    """One worker with the phase's openimis_rps, its job, and the
    figures."""

    def __init__(self, env, url, dbname, origin, si, rps):
        self.env = dict(env, BULKHEAD_OPENIMIS_RPS=str(rps))
        self.url, self.dbname, self.origin, self.si = url, dbname, origin, si
        self.rps = rps

    def run(self, kind, params):
        w = subprocess.Popen([BIN, "worker"], env=self.env)
        try:
            time.sleep(2)
            be = Backends(self.url, self.dbname)
            be.start()
            requests.post(self.origin + "/_standin/reset_peak")
            st0 = requests.get(self.origin + "/_standin/stats").json()
            la0 = loadavg()
            w0, s0 = proc_cpu_seconds(w.pid), proc_cpu_seconds(self.si.pid)
            q0 = runq_all(w.pid)
            jid = submit(self.env, kind, params)
            res, secs = wait(self.url, jid, be)
            be.sample()
            self.worker_cpu = proc_cpu_seconds(w.pid) - w0
            self.worker_runq = runq_all(w.pid) - q0
            self.be_runq = be.runq()
            self.si_cpu = proc_cpu_seconds(self.si.pid) - s0
            self.be_cpu = be.cpu()
            self.la = (la0, loadavg())
            st1 = requests.get(self.origin + "/_standin/stats").json()
        finally:
            w.terminate()
            w.wait()
        self.res, self.secs = res, secs
        self.si_requests = st1["requests"] - st0["requests"]
        self.stats = st1
        return res

    def report(self, what, resources):
        n = self.res["requests"]
        got = n / self.secs
        print("%s: %d resources, %d requests in %.1f s" % (
            what, resources, n, self.secs))
        print("  rps: configured %d, achieved %.1f, ratio %.2f "
              "(target >= 0.9); stand-in peak %d requests in one second, "
              "retries %d" % (self.rps, got, got / self.rps,
                              self.stats["peak_rps"],
                              self.res.get("retries", 0)))
        print("  CPU per request: worker %.2f ms, its database backends "
              "%.2f ms, stand-in %.2f ms (%d requests seen); busy "
              "fraction of the wall time: worker %.2f, backends %.2f, "
              "stand-in %.2f" % (
                  1000.0 * self.worker_cpu / n, 1000.0 * self.be_cpu / n,
                  1000.0 * self.si_cpu / max(self.si_requests, 1),
                  self.si_requests, self.worker_cpu / self.secs,
                  self.be_cpu / self.secs, self.si_cpu / self.secs))
        r = self.res
        print("  job: pacing and back-off waits %.1f s, request latency "
              "%.1f s (%.1f ms each)%s, back-off factor at the end %.2f" % (
                  r.get("wait_s", 0), r.get("latency_s", 0),
                  1000.0 * r.get("latency_s", 0) / n,
                  ", storing pages %.1f s" % r["store_s"]
                  if "store_s" in r else "", r.get("backoff", 0)))
        print("  waiting for a CPU (runnable, schedstat): worker %.2f ms, "
              "backends %.2f ms per request" % (
                  1000.0 * self.worker_runq / n, 1000.0 * self.be_runq / n))
        print("  load average before %s, after %s (2 cores, shared)"
              % self.la)


def claim(i, chf):
    items = [{"sequence": k + 1,
              "category": {"text": "item" if k % 2 == 0 else "service"},
              "productOrService": {"text": "I%03d" % (k % 500)},
              "quantity": {"value": 1 + k % 3},
              "unitPrice": {"value": 12.5, "currency": "USD"},
              "extension": [{"url": "https://openimis.github.io/"
                             "openimis_fhir_r4_ig/StructureDefinition/"
                             "claim-item-reference",
                             "valueReference": {"reference":
                                                "Medication/m%d" % k}}]}
             for k in range(ITEMS)]
    return {"resourceType": "Claim", "id": "b%07d" % i,
            "identifier": [{"type": {"coding": [{"code": "Code"}]},
                            "value": "B%07d" % i}],
            "status": "active", "use": "claim",
            "type": {"coding": [{"code": "O"}]},
            "priority": {"coding": [{"code": "normal"}]},
            "provider": {"reference": "Organization/hf1"},
            "insurance": [{"sequence": 1, "focal": True,
                           "coverage": {"reference": "Coverage/c"}}],
            "created": "2026-11-01",
            "billablePeriod": {"start": "2026-10-28",
                               "end": "2026-11-01"},
            "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {
                "coding": [{"code": "A02"}]}}],
            "patient": {"reference": "Patient/" + chf[i % len(chf)]},
            "item": items,
            "total": {"value": 12.5 * ITEMS + 10.0}}


def main():
    admin = os.environ["BULKHEAD_DATABASE_URL"]
    dbname = "bh_bench_openimis"
    url = fresh_db(admin, dbname)
    work = os.path.join(ROOT, "var", "bench", "openimis")
    os.makedirs(os.path.join(work, "import"), exist_ok=True)
    print("bench openimis: %d families, %d claims of %d items; pull at %d "
          "rps, pages of %d; push at %d rps; load average %s" % (
              F, N, ITEMS, PULL_RPS, PAGE, PUSH_RPS, loadavg()))
    t0 = time.time()
    # A session of its own: its own autogroup, so the scheduler does not
    # weigh it against the worker (nice 10) inside one group.
    si = subprocess.Popen([sys.executable, STANDIN, str(F)],
                          stdout=subprocess.PIPE, start_new_session=True)
    base = si.stdout.readline().decode().strip()
    print("stand-in: %d families (%d resources) generated and rendered in "
          "%.0f s" % (F, 6 * F, time.time() - t0))
    origin = base.split("/api/")[0]
    env = dict(os.environ, BULKHEAD_DATABASE_URL=url,
               BULKHEAD_DATA_DIR=os.path.join(work, "data"),
               BULKHEAD_IMPORT_DIR=os.path.join(work, "import"),
               BULKHEAD_OPENIMIS_URL=base,
               BULKHEAD_OPENIMIS_USERNAME="admin",
               BULKHEAD_OPENIMIS_PASSWORD="admin123",
               BULKHEAD_OPENIMIS_PAGE_SIZE=str(PAGE),
               BULKHEAD_LOG_LEVEL="warn")
    try:
        if "pull" in PHASES:
            ph = Phase(env, url, dbname, origin, si, PULL_RPS)
            ph.run("openimis-pull", {})
            stored = sql(url, "SELECT count(*) FROM resources")[0][0]
            ph.report("pull (pages of %d)" % PAGE, stored)
            assert stored == 6 * F, (stored, 6 * F)

        if "push" in PHASES:
            chf = ["%09d" % (i + 1) for i in range(3 * F)]
            path = os.path.join(work, "import", "claims.ndjson")
            with open(path, "w") as f:
                for i in range(N):
                    f.write(json.dumps(claim(i, chf),
                                       separators=(",", ":")) + "\n")
            print("claims file: %d claims, %.1f MB (%.0f bytes a claim)" % (
                N, os.path.getsize(path) / 1e6, os.path.getsize(path) / N))
            w = subprocess.Popen([BIN, "worker"], env=env)
            try:
                be = Backends(url, dbname)
                imp = submit(env, "import", {"inputs": [
                    {"type": "Claim", "url": "file://" + path}]})
                wait(url, imp, be)
            finally:
                w.terminate()
                w.wait()
            ph = Phase(env, url, dbname, origin, si, PUSH_RPS)
            res = ph.run("openimis-claims-push", {"import": imp})
            ph.report("push (claims of %d items)" % ITEMS, N)
            st = ph.stats
            print("  accepted %d, refused %d, at most %d POST per code, "
                  "429s %s" % (st["accepted"], st["refused"],
                               st["max_posts"], st["status"].get("429", 0)))
            assert res["accepted"] == N and st["max_posts"] == 1, (res, st)
    finally:
        si.terminate()
        si.wait()


if __name__ == "__main__":
    main()
