"""tests/bench/isolation — the bulkhead principle, measured: interactive
latency on an idle server and beside a full-speed $import, side by side.

  1. the data: BENCH_CLAIMS Claims (default 1,000,000) from 'bulkhead
     generate', cut to exactly that many lines, kept in
     var/bench/isolation/ for the next run;
  2. the service: 'bulkhead run' (API, scheduler, BULKHEAD_WORKERS=2
     workers) with the default limits, except that export jobs may not
     run (max_jobs_per_kind {"export": 0}): the kick-offs of the
     interactive mix then stay queued in every phase and are cancelled
     right away, so the only bulk work is the import;
  3. the interactive side: BENCH_CLIENTS (50) keep-alive connections
     (wrk, one process per kind of request), each looping with
     BENCH_THINK_MS (default 50) of think time after every response: 2/5
     of them poll the status of queued export jobs (GET /fhir/_jobs/ID),
     2/5 GET /fhir/metadata, 1/5 kick off exports (GET /fhir/$export, a
     client id of their own each) and DELETE them; the kinds' histograms
     are merged for the overall figures;
  4. phases: A) the clients alone for BENCH_IDLE_S seconds (idle); B) a
     file:// $import of the Claims alone (its unloaded rate); C) the
     store emptied, the same import again with the clients running for
     as long as it takes (the loaded figures); then A again (idle after,
     to see how much the machine itself drifted: other users share it).

Prints p50 / p90 / p99 / p99.9 of the interactive requests in each phase,
overall and per kind, the ratio loaded : idle (the goal: p99 at most 3x idle
and under 20 ms), and the import rate unloaded vs loaded (the goal: at
least half), with the load average of the machine before and after.
Asserts nothing about time.

The saturating case (BENCH_MODE=saturate, or both, the default): the
outside check of issue 14, a closed loop with no think time, `wrk -t2
-c50 -d15s --latency`, first on /fhir/metadata and then on the running
import's own status URL, idle and during a file:// $import of
BENCH_SAT_CLAIMS (1,000,000) Claims written by the benchmark's own
generator (claimgen.py: ~2.0 KB, 1-8 items, 1-5 diagnoses, varied; not
'bulkhead generate'), with the interactive-latency controller on and off
(BENCH_CONTROLLER=both|on|off), BENCH_RUNS times.  BENCH_LIMITS applies
here too (e.g. '{"worker_idle": 0}'), and BULKHEAD_INTERACTIVE_* from the
environment reach the servers (e.g. BULKHEAD_INTERACTIVE_FLOOR_PCT=50).  Per setting:
  1. the import kicked off while imports may not run (limits
     max_jobs_per_kind {"import": 0}): it stays queued, and wrk measures
     metadata and the job's status URL idle;
  2. imports allowed: once it runs, its unloaded rate over BENCH_SAT_S;
  3. wrk on metadata, then on the status URL, each BENCH_SAT_S, the
     import's rate over each run (lines from its progress), sampled every
     second with the controller's state (factor, p99 published), CPU and
     I/O pressure (/proc/pressure) and the wait events of the bulk
     database sessions (pg_stat_activity);
  4. the import cancelled (DELETE on its status URL).
Prints p50/p90/p99 and requests/s idle vs loaded with the ratio, the
import's rate loaded vs unloaded, the controller trace, and the wait
events, PSI and WAL/checkpoint deltas (pg_stat_wal, pg_stat_bgwriter:
PostgreSQL 15 has no pg_stat_io).  BENCH_PERF=1 adds a system-wide perf
profile (by command) of the loaded metadata run.  The servers run with
BULKHEAD_AUTH=none set explicitly (the bench is not about auth; the
default becomes smart elsewhere), so wrk needs no token.

BENCH_SMALL=1: a quick check (300,000 own Claims and 5 s wrk runs in the
saturating case; 50,000 Claims and 3 s idle phases in the probe).

Environment: BENCH_MODE (probe, saturate, both), BENCH_DBNAME (the
scratch database's name), BENCH_CLAIMS, BENCH_CLIENTS, BENCH_THINK_MS, BENCH_IDLE_S
(default 20), BENCH_SPLIT (default 1: the Claims in that many files,
which one import reads BULKHEAD_IMPORT_CONCURRENCY at a time), BENCH_JOBS
(default 1: that many import jobs share the files), BENCH_LIMITS (a JSON object of limits to set instead of
the defaults, e.g. '{"worker_nice": 19}'), BENCH_KEEP_DATA=0 (remove the
generated Claims after the run), BENCH_CGROUP (a cgroup v2 directory with
cpu and io delegated to its children: each server starts in a child group
of its own, which 'bulkhead run' splits; its log's "cgroup isolation"
line says what it did), BULKHEAD_DATABASE_URL (the cluster;
scripts/bench.sh sets it), BULKHEAD_BIN (default build/bulkhead).
"""
import http.client
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

from common import (BIN, ROOT, free_port, fresh_db, loadavg, sql)

DBNAME = os.environ.get("BENCH_DBNAME", "bulkhead_bench_isolation")
SMALL = os.environ.get("BENCH_SMALL", "0") == "1"
MODE = os.environ.get("BENCH_MODE", "both")
CLAIMS = int(os.environ.get("BENCH_CLAIMS", "50000" if SMALL else
                            "1000000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
THINK = float(os.environ.get("BENCH_THINK_MS", "50")) / 1000.0
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "3" if SMALL else "20"))
LIMITS = json.loads(os.environ.get("BENCH_LIMITS", "{}"))
SPLIT = int(os.environ.get("BENCH_SPLIT", "1"))
JOBS = int(os.environ.get("BENCH_JOBS", "1"))
WORK = os.path.join(ROOT, "var", "bench", "isolation")
CLAIMS_PER_FAMILY = 4.5      # a little under generate's average (~4.6)
MIX = ["status", "metadata", "status", "metadata", "kickoff"]
SAT_CLAIMS = int(os.environ.get("BENCH_SAT_CLAIMS", "300000" if SMALL else
                                "1000000"))
SAT_S = int(os.environ.get("BENCH_SAT_S", "5" if SMALL else "15"))
RUNS = int(os.environ.get("BENCH_RUNS", "1"))
CONTROLLER = os.environ.get("BENCH_CONTROLLER", "both")
PERF = os.environ.get("BENCH_PERF", "0") == "1"
ADMIN = "bench-admin-token"
WINDOW_S = 2                 # interactive_window_ms's default, seconds


# ---- data ---------------------------------------------------------------------

def claims_file():
    """var/bench/isolation/import/Claim.ndjson with exactly CLAIMS lines."""
    imp = os.path.join(WORK, "import")
    path = os.path.join(imp, "Claim.ndjson")
    stamp = path + ".lines"
    if os.path.exists(stamp) and open(stamp).read().strip() == str(CLAIMS):
        return imp, path
    os.makedirs(imp, exist_ok=True)
    gen = os.path.join(WORK, "gen")
    shutil.rmtree(gen, ignore_errors=True)
    families = int(math.ceil(CLAIMS / CLAIMS_PER_FAMILY))
    print("generating %d families for %d claims ..." % (families, CLAIMS))
    subprocess.run([BIN, "generate", "--families", str(families), "--seed",
                    "11", "--today", "2026-06-01", "--out", gen],
                   check=True, stdout=subprocess.DEVNULL)
    n = 0
    with open(os.path.join(gen, "Claim.ndjson"), "rb") as src, \
            open(path, "wb") as dst:
        for line in src:
            if n == CLAIMS:
                break
            dst.write(line)
            n += 1
    shutil.rmtree(gen, ignore_errors=True)
    assert n == CLAIMS, "generated only %d claims" % n
    with open(stamp, "w") as f:
        f.write(str(CLAIMS))
    return imp, path


# ---- the interactive clients --------------------------------------------------

# wrk's Lua side: one kind of request per wrk process (KIND), think time
# after each response (delay()), the DELETE of every kick-off sent as the
# thread's next request, and a quantile table printed by done() so that
# the kinds' histograms can be merged into one.  wrk (C) keeps the client's
# own CPU use small: on two cores a Python client would compete with the
# server and with the import it measures.
WRK_LUA = r"""
local think = tonumber(os.getenv("BENCH_THINK_MS") or "50")
local kind = os.getenv("BENCH_KIND")
local status = {}
for p in string.gmatch(os.getenv("BENCH_STATUS") or "", "[^,]+") do
	status[#status + 1] = p
end
local threads = {}
local tid = 0

function setup(thread)
	tid = tid + 1
	thread:set("tid", tid)
	table.insert(threads, thread)
end

function init(args)
	i = 0
	pending = {}
	bad = 0
	math.randomseed(tid * 7919 + os.time())
end

function request()
	if #pending > 0 then
		return wrk.format("DELETE", table.remove(pending, 1))
	end
	i = i + 1
	if kind == "status" then
		return wrk.format("GET", status[(i % #status) + 1])
	elseif kind == "metadata" then
		return wrk.format("GET", "/fhir/metadata",
		    { Accept = "application/fhir+json" })
	end
	return wrk.format("GET", "/fhir/$export?_type=Claim",
	    { Prefer = "respond-async", Accept = "application/fhir+json",
	      Authorization = "Bearer bench-" .. tid .. "-" .. i .. "-" ..
	      math.random(1000000000) })
end

function response(st, headers, body)
	local loc = headers["Content-Location"]
	if kind == "kickoff" and st == 202 and loc ~= nil then
		local path = string.match(loc, "^https?://[^/]+(/.*)$")
		if path ~= nil then
			table.insert(pending, path)
		end
	elseif st ~= 200 and st ~= 202 then
		bad = bad + 1
	end
end

function delay()
	return think
end

function done(summary, latency, requests)
	local b = 0
	for _, t in ipairs(threads) do
		b = b + (t:get("bad") or 0)
	end
	io.write(string.format("ISOLATION n=%d bad=%d errors=%d max=%.3f\n",
	    summary.requests, b, summary.errors.connect +
	    summary.errors.read + summary.errors.write +
	    summary.errors.status + summary.errors.timeout,
	    latency.max / 1000))
	for q = 1, 999 do
		io.write(string.format("Q %.1f %.3f\n", q / 10,
		    latency:percentile(q / 10) / 1000))
	end
	io.write(string.format("Q 99.9 %.3f\n", latency:percentile(99.9) /
	    1000))
end
"""

# Connections per kind: 2 : 2 : 1, BENCH_CLIENTS in all.
KINDS = (("status", 0.4), ("metadata", 0.4), ("kickoff", 0.2))


def merged_quantile(parts, q):
    """The q-quantile (0..100) of the union of several samples, each given
    as (count, [(quantile, value)]): the mixture's CDF, by bisection."""
    def cdf(x):
        tot = 0.0
        for n, table in parts:
            below = 0.0
            for qq, v in table:
                if v <= x:
                    below = qq
            tot += n * below / 100.0
        return tot / sum(n for n, _ in parts)
    lo = 0.0
    hi = max(t[-1][1] for _, t in parts) * 2 + 1
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) >= q / 100.0:
            hi = mid
        else:
            lo = mid
    return hi


class Clients:
    """BENCH_CLIENTS keep-alive connections (one wrk per kind of request)
    with think time, until stop(); the figures come from wrk's own
    histograms."""

    def __init__(self, port, status_paths):
        lua = os.path.join(WORK, "isolation.lua")
        with open(lua, "w") as f:
            f.write(WRK_LUA)
        self.cmds = []
        left = CLIENTS
        for i, (kind, share) in enumerate(KINDS):
            c = left if i == len(KINDS) - 1 else max(1, int(CLIENTS *
                                                             share))
            left -= c
            env = dict(os.environ, BENCH_STATUS=",".join(status_paths),
                       BENCH_THINK_MS=str(int(THINK * 1000)),
                       BENCH_KIND=kind)
            self.cmds.append((kind, ["wrk", "-t", "1", "-c", str(c),
                                     "-d", "3600s", "--timeout", "10s",
                                     "-s", lua,
                                     "http://127.0.0.1:%d" % port], env))
        self.procs = []

    def start(self):
        self.procs = [(kind, subprocess.Popen(cmd, env=env,
                                              stdout=subprocess.PIPE,
                                              stderr=subprocess.STDOUT))
                      for kind, cmd, env in self.cmds]
        return self

    def stop(self):
        """Ends the runs (wrk reports on SIGINT); returns {kind or 'all':
        {n, p50, p90, p99, p999, max (ms), bad, errors}}."""
        for _, p in self.procs:
            p.send_signal(signal.SIGINT)
        out, parts = {}, []
        for kind, p in self.procs:
            text = p.communicate(timeout=60)[0].decode(errors="replace")
            head, table = None, []
            for line in text.splitlines():
                if line.startswith("ISOLATION "):
                    head = {k: float(v) for k, v in
                            (kv.split("=") for kv in line.split()[1:])}
                elif line.startswith("Q "):
                    _, q, v = line.split()
                    table.append((float(q), float(v)))
            if head is None:
                sys.exit("wrk printed no figures:\n" + text)
            table.append((100.0, head["max"]))
            table.sort()
            qv = dict(table)
            head.update(p50=qv[50.0], p90=qv[90.0], p99=qv[99.0],
                        p999=qv[99.9])
            out[kind] = head
            parts.append((head["n"], table))
        out["all"] = {
            "n": sum(o["n"] for o in out.values()),
            "bad": sum(o["bad"] for o in out.values()),
            "errors": sum(o["errors"] for o in out.values()),
            "max": max(o["max"] for o in out.values()),
            "p50": merged_quantile(parts, 50),
            "p90": merged_quantile(parts, 90),
            "p99": merged_quantile(parts, 99),
            "p999": merged_quantile(parts, 99.9)}
        return out


# ---- the service --------------------------------------------------------------

def cgroup_enter(name):
    """BENCH_CGROUP (a cgroup v2 directory whose children get the cpu and
    io controllers): the server starts in a fresh child of it, a group
    of its own, so that 'bulkhead run' splits it (core/cgroup.h: workers
    at cpu.weight 10).  None (no preexec) without it."""
    base = os.environ.get("BENCH_CGROUP")
    if not base:
        return None
    group = os.path.join(base, "bh-bench-%s-%d" % (name, os.getpid()))
    if not os.path.isdir(group):
        os.mkdir(group)

    def enter():
        with open(os.path.join(group, "cgroup.procs"), "w") as f:
            f.write("0")
    return enter


def start_run(url, data_dir, import_dir, port, extra=None, name="server"):
    env = dict(os.environ)
    env.update({"BULKHEAD_DATABASE_URL": url,
                # Not about auth: explicit, whatever the default becomes.
                "BULKHEAD_AUTH": "none",
                "BULKHEAD_ADMIN_TOKEN": ADMIN,
                "BULKHEAD_LISTEN": "127.0.0.1:%d" % port,
                "BULKHEAD_DATA_DIR": data_dir,
                "BULKHEAD_IMPORT_DIR": import_dir,
                "BULKHEAD_WORKERS": "2",
                "BULKHEAD_LOG_LEVEL": "info"})
    env.update(extra or {})
    log = open(os.path.join(WORK, name + ".log"), "wb")
    p = subprocess.Popen([BIN, "run"], env=env, stdout=log,
                         stderr=subprocess.STDOUT,
                         preexec_fn=cgroup_enter(name))
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                with open(os.path.join(WORK, name + ".log"),
                          errors="replace") as f:
                    for line in f:
                        if "isolation" in line:
                            print("  %s: %s" % (name, line.split(
                                " info: ", 1)[-1].strip()))
                return p
        except OSError:
            pass
        time.sleep(0.2)
    p.kill()
    sys.exit("bulkhead run did not come up; see %s/%s.log" % (WORK, name))


def kickoff(port, path, headers, body=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    r.read()
    assert r.status == 202, (path, r.status)
    return r.getheader("Content-Location")


def split_files(claims_path):
    """The Claims as SPLIT files of about equal lines (SPLIT > 1)."""
    if SPLIT == 1:
        return [claims_path]
    paths = ["%s.part%d-of-%d" % (claims_path, i, SPLIT)
             for i in range(SPLIT)]
    if not all(os.path.exists(p) for p in paths):
        outs = [open(p, "wb") for p in paths]
        with open(claims_path, "rb") as src:
            for i, line in enumerate(src):
                outs[i % SPLIT].write(line)
        for f in outs:
            f.close()
    return paths


def start_imports(port, paths):
    """JOBS import jobs over the files (one job with every file as an
    input when JOBS == 1); returns their ids."""
    groups = [paths] if JOBS == 1 else [paths[i::JOBS] for i in
                                        range(JOBS)]
    ids = []
    for g in groups:
        body = json.dumps({"inputFormat": "application/fhir+ndjson",
                           "inputSource": "https://openimis.example/fhir",
                           "storageDetail": {"type": "https"},
                           "input": [{"type": "Claim", "url": "file://" + p}
                                     for p in g]})
        loc = kickoff(port, "/fhir/$import",
                      {"Content-Type": "application/json",
                       "Accept": "application/fhir+json",
                       "Prefer": "respond-async"}, body, "POST")
        ids.append(loc.rsplit("/", 1)[1])
    return ids


def wait_jobs(url, ids, timeout=3600):
    """Waits for the imports; returns (seconds from the first claim to the
    last end, claims loaded)."""
    deadline = time.time() + timeout
    lst = "'" + "','".join(ids) + "'"
    while time.time() < deadline:
        rows = sql(url, "SELECT state, error FROM jobs WHERE id IN (%s)" %
                   lst)
        if all(r[0] in ("completed", "failed", "cancelled") for r in rows):
            assert all(r[0] == "completed" for r in rows), rows
            secs, loaded = sql(url, "SELECT extract(epoch FROM max(finished)"
                               " - min(claimed_at)), sum((result->>'loaded')"
                               "::bigint) FROM jobs WHERE id IN (%s)" %
                               lst)[0]
            return float(secs), int(loaded)
        time.sleep(0.2)
    sys.exit("imports %s did not finish" % ids)


def wait_running(url, ids):
    while sql(url, "SELECT count(*) FROM jobs WHERE state = 'running' "
              "AND id IN ('%s')" % "','".join(ids))[0][0] == 0:
        time.sleep(0.05)


def empty_store(url):
    sql(url, "TRUNCATE resources")
    sql(url, "CHECKPOINT")


POLICY = {0: "other", 3: "batch", 5: "idle"}


def backend_nice(url):
    """Nice value and scheduling class of the database backends of bulk
    sessions right now."""
    rows = sql(url, "SELECT pid, application_name FROM pg_stat_activity "
               "WHERE datname = current_database() AND application_name "
               "IN ('bulkhead worker job', 'bulkhead worker import')")
    out = []
    for pid, app in rows:
        try:
            with open("/proc/%d/stat" % pid) as f:
                st = f.read().rsplit(")", 1)[1].split()
            out.append((app, int(st[16]), POLICY.get(int(st[38]), st[38])))
        except OSError:
            pass
    return out


def probe(admin):
    """Today's probe: the think-time mix beside a Bulkhead-generated
    import (see the top of the file)."""
    import_dir, claims_path = claims_file()
    url = fresh_db(admin, DBNAME)
    data_dir = os.path.join(WORK, "data")
    shutil.rmtree(data_dir, ignore_errors=True)
    port = free_port()
    load_before = loadavg()
    srv = start_run(url, data_dir, import_dir, port)
    try:
        limits = {"max_jobs_per_kind": {"export": 0}}
        limits.update(LIMITS)
        sets = ", ".join("%s = '%s'" % (k, json.dumps(v) if isinstance(
            v, dict) else v) for k, v in limits.items())
        sql(url, "UPDATE limits SET " + sets)
        lim = sql(url, "SELECT row_to_json(l)::text FROM limits l")[0][0]
        # Queued export jobs for the status polls (export jobs never run).
        status = []
        for i in range(20):
            loc = kickoff(port, "/fhir/$export?_type=Claim",
                          {"Prefer": "respond-async",
                           "Accept": "application/fhir+json",
                           "Authorization": "Bearer status-%d" % i})
            status.append("/fhir/" + loc.split("/fhir/", 1)[1])
        print("isolation: %d claims in %d file(s), %d import job(s), %d "
              "clients, think %d ms, 2 workers; limits %s" % (
                  CLAIMS, SPLIT, JOBS, CLIENTS, THINK * 1000, lim))

        # A: idle.
        idle = Clients(port, status).start()
        time.sleep(IDLE_S)
        idle = idle.stop()

        # B: the import alone.
        paths = split_files(claims_path)
        ids = start_imports(port, paths)
        secs_b, loaded_b = wait_jobs(url, ids)
        rate_b = loaded_b / secs_b
        empty_store(url)

        # C: the import with the clients (measured from its claim to its
        # end).
        ids = start_imports(port, paths)
        wait_running(url, ids)
        cl = Clients(port, status).start()
        time.sleep(1)
        nice = backend_nice(url)
        secs_c, loaded_c = wait_jobs(url, ids)
        loaded = cl.stop()
        rate_c = loaded_c / secs_c

        # A again: how much did the machine drift meanwhile?
        after = Clients(port, status).start()
        time.sleep(IDLE_S)
        after = after.stop()
    finally:
        srv.terminate()
        srv.wait(30)
    load_after = loadavg()

    print("\n%-24s %8s %8s %8s %8s %8s %8s %6s" % (
        "", "requests", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
        "errors"))
    for name, f in (("idle", idle), ("during import", loaded),
                    ("idle after", after)):
        for k in ["all"] + [k for k, _ in KINDS]:
            g = f[k]
            print("%-24s %8d %8.2f %8.2f %8.2f %8.2f %8.1f %6d" % (
                name + ("" if k == "all" else "  " + k), g["n"], g["p50"],
                g["p90"], g["p99"], g["p999"], g["max"],
                g["bad"] + g["errors"]))
    base99 = min(idle["all"]["p99"], after["all"]["p99"])
    base50 = min(idle["all"]["p50"], after["all"]["p50"])
    l99, l50 = loaded["all"]["p99"], loaded["all"]["p50"]
    ok = l99 <= 3 * base99 and l99 < 20
    print("\np99 during import : idle = %.2f : %.2f ms = %.2fx "
          "(goal <= 3x and < 20 ms)%s" % (l99, base99, l99 / base99,
                                          "" if ok else "  MISSED"))
    print("p50 during import : idle = %.2f : %.2f ms = %.2fx" % (
        l50, base50, l50 / base50))
    print("import rate unloaded %.0f claims/s (%.1f s), with the clients "
          "%.0f claims/s (%.1f s): %.2f (goal >= 0.5)%s" % (
              rate_b, secs_b, rate_c, secs_c, rate_c / rate_b,
              "" if rate_c / rate_b >= 0.5 else "  MISSED"))
    print("bulk backends during the import (application: nice, class): "
          "%s" % ", ".join("%s: %d, %s" % x for x in nice))
    print("load average before: %s, after: %s" % (load_before, load_after))


# ---- the saturating case (closed loop, issue 14) -------------------------------

def own_claims():
    """var/bench/isolation/own/Claim.ndjson: SAT_CLAIMS lines from the
    benchmark's own generator (claimgen.py), kept for the next run."""
    import claimgen
    imp = os.path.join(WORK, "own")
    path = os.path.join(imp, "Claim.ndjson")
    stamp = path + ".lines"
    if os.path.exists(stamp) and open(stamp).read().strip() == \
            str(SAT_CLAIMS):
        return imp, path
    os.makedirs(imp, exist_ok=True)
    print("claimgen: writing %d claims ..." % SAT_CLAIMS)
    mean = claimgen.write(SAT_CLAIMS, path)
    print("claimgen: mean line %.0f bytes" % mean)
    with open(stamp, "w") as f:
        f.write(str(SAT_CLAIMS))
    return imp, path


def unit_ms(v):
    for suf, k in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if v.endswith(suf) and v[:-len(suf)].replace(".", "").isdigit():
            return float(v[:-len(suf)]) * k
    return float("nan")


def cache_counts(port):
    """The API's status cache (hits, misses) from /metrics: a miss is a
    poll that read the job store on a request thread."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    got = {}
    for line in text.splitlines():
        for k in ("hits", "misses"):
            if line.startswith("bulkhead_status_cache_%s_total " % k):
                got[k] = int(float(line.split()[1]))
    return got.get("hits", 0), got.get("misses", 0)


def wrk(port, path, seconds):
    """`wrk -t2 -c50 -dNs --latency` on path; {p50, p90, p99, max (ms),
    rps, n, non2xx, errors}."""
    p = subprocess.run(["wrk", "-t2", "-c50", "-d%ds" % seconds, "--latency",
                        "--timeout", "10s",
                        "-H", "Accept: application/fhir+json",
                        "http://127.0.0.1:%d%s" % (port, path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=seconds + 60)
    text = p.stdout.decode(errors="replace")
    out = {"non2xx": 0, "errors": 0}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] in ("50%", "75%", "90%", "99%"):
            out["p" + f[0][:-1]] = unit_ms(f[1])
        elif f[:1] == ["Latency"] and len(f) >= 4:
            out["max"] = unit_ms(f[3])
        elif line.startswith("Requests/sec:"):
            out["rps"] = float(f[1])
        elif "requests in" in line:
            out["n"] = int(f[0])
        elif line.strip().startswith("Non-2xx"):
            out["non2xx"] = int(f[-1])
        elif line.strip().startswith("Socket errors"):
            out["errors"] = sum(int(x.strip(",")) for x in f[3::2])
    if "p99" not in out or "rps" not in out:
        sys.exit("wrk printed no figures:\n" + text)
    return out


def psi():
    """(cpu some avg10, io some avg10, memory some avg10)."""
    out = []
    for r in ("cpu", "io", "memory"):
        try:
            with open("/proc/pressure/" + r) as f:
                out.append(float(f.readline().split()[1].split("=")[1]))
        except (OSError, IndexError, ValueError):
            out.append(float("nan"))
    return tuple(out)


class Sampler:
    """Once a second while a wrk run lasts: the import's lines, the
    controller's state, PSI, and the bulk sessions' wait events."""

    def __init__(self, url, jid):
        import psycopg2
        import threading
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True
        self.jid = jid
        self.rows = []
        self.waits = {}
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)

    def sample(self):
        with self.conn.cursor() as cur:
            cur.execute("SELECT (progress->>'lines')::bigint, "
                        "progress->'interactive', state FROM jobs "
                        "WHERE id = %s", (self.jid,))
            lines, ictl, state = cur.fetchone()
            cur.execute("SELECT coalesce(max(p99_ms) FILTER (WHERE role = "
                        "'api'), -1), min(factor) FILTER (WHERE role = "
                        "'job') FROM interactive_stats WHERE updated_at > "
                        "now() - interval '3 s'")
            api_p99, factor = cur.fetchone()
            cur.execute("SELECT application_name, coalesce(wait_event_type"
                        " || ':' || wait_event, 'CPU') FROM "
                        "pg_stat_activity WHERE datname = current_database()"
                        " AND state = 'active' AND application_name LIKE "
                        "'bulkhead%%' AND pid <> pg_backend_pid()")
            for app, w in cur.fetchall():
                k = (app, w)
                self.waits[k] = self.waits.get(k, 0) + 1
        gn = (ictl or {}).get("group_nice") if isinstance(ictl, dict) \
            else None
        return (time.monotonic(), lines or 0, factor, api_p99, state) + \
            psi() + (gn,)

    def run(self):
        while not self.stop_ev.is_set():
            self.rows.append(self.sample())
            self.stop_ev.wait(1.0)

    def start(self):
        self.t.start()
        return self

    def stop(self):
        self.stop_ev.set()
        self.t.join()
        self.rows.append(self.sample())
        self.conn.close()
        return self

    def rate(self):
        """Lines/s over the sampled span (progress is saved each second)."""
        (t0, l0), (t1, l1) = self.rows[0][:2], self.rows[-1][:2]
        return (l1 - l0) / (t1 - t0) if t1 > t0 else float("nan")


def pg_counters(url):
    r = sql(url, "SELECT w.wal_bytes, w.wal_write, w.wal_sync, "
            "b.checkpoints_timed + b.checkpoints_req, b.buffers_backend, "
            "b.buffers_backend_fsync FROM pg_stat_wal w, pg_stat_bgwriter b")
    return dict(zip(("wal_bytes", "wal_write", "wal_sync", "checkpoints",
                     "buffers_backend", "backend_fsync"),
                    [int(x) for x in r[0]]))


def admin_post(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", path, headers={"Authorization": "Bearer " + ADMIN})
    r = c.getresponse()
    r.read()
    return r.status


def wait_state(url, jid, states, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = sql(url, "SELECT state FROM jobs WHERE id = '%s'" % jid)[0][0]
        if st in states:
            return st
        time.sleep(0.1)
    sys.exit("import %s not %s after %d s" % (jid, states, timeout))


def perf_profile(seconds):
    """perf record -a for seconds; returns the top commands by samples."""
    data = os.path.join(WORK, "perf.data")
    subprocess.run(["perf", "record", "-a", "-F", "49", "-o", data, "--",
                    "sleep", str(seconds)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    p = subprocess.run(["perf", "report", "-i", data, "--sort", "comm",
                        "--stdio"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    top = [x.strip() for x in p.stdout.decode(errors="replace").splitlines()
           if x.strip() and not x.startswith("#")]
    return top[:10]


def saturate_one(admin, control, import_dir, claims_path):
    """One setting (controller on or off): returns its figures."""
    url = fresh_db(admin, DBNAME + "_sat")
    data_dir = os.path.join(WORK, "data-sat")
    shutil.rmtree(data_dir, ignore_errors=True)
    port = free_port()
    srv = start_run(url, data_dir, import_dir, port, {
        "BULKHEAD_INTERACTIVE_CONTROL": control},
        name="server-sat-" + control)
    res = {"control": control, "trace": {}, "waits": {}, "perf": None}
    try:
        if LIMITS:
            sql(url, "UPDATE limits SET " + ", ".join(
                "%s = '%s'" % (k, json.dumps(v) if isinstance(v, dict)
                               else v) for k, v in LIMITS.items()))
        sql(url, "UPDATE limits SET max_jobs_per_kind = '{\"import\": 0}'")
        body = json.dumps({"inputFormat": "application/fhir+ndjson",
                           "inputSource": "https://openimis.example/fhir",
                           "storageDetail": {"type": "https"},
                           "input": [{"type": "Claim",
                                      "url": "file://" + claims_path}]})
        loc = kickoff(port, "/fhir/$import",
                      {"Content-Type": "application/json",
                       "Accept": "application/fhir+json",
                       "Prefer": "respond-async"}, body, "POST")
        jid = loc.rsplit("/", 1)[1]
        status = "/fhir/_jobs/" + jid
        # 1. idle: the import queued.
        res["idle_metadata"] = wrk(port, "/fhir/metadata", SAT_S)
        res["idle_status"] = wrk(port, status, SAT_S)
        # 2. unloaded rate.  The idle runs' latency must leave the
        # published window first (else the job starts backed off).
        time.sleep(WINDOW_S + 2)
        sql(url, "UPDATE limits SET max_jobs_per_kind = '{}'")
        wait_state(url, jid, ("running",))
        time.sleep(2)
        s = Sampler(url, jid).start()
        time.sleep(SAT_S)
        res["rate_unloaded"] = s.stop().rate()
        res["trace"]["unloaded"] = s.rows
        # 3. loaded.
        before = pg_counters(url)
        for name, path in (("metadata", "/fhir/metadata"),
                           ("status", status)):
            s = Sampler(url, jid).start()
            if PERF and name == "metadata":
                import threading
                box = []
                pt = threading.Thread(target=lambda: box.append(
                    perf_profile(max(1, SAT_S - 2))))
                pt.start()
            c0 = cache_counts(port)
            res["loaded_" + name] = wrk(port, path, SAT_S)
            if name == "status":
                c1 = cache_counts(port)
                res["cache_status"] = (c1[0] - c0[0], c1[1] - c0[1])
            if PERF and name == "metadata":
                pt.join()
                res["perf"] = box[0] if box else None
            s.stop()
            res["rate_" + name] = s.rate()
            res["trace"][name] = s.rows
            res["waits"][name] = s.waits
            if s.rows[-1][4] != "running":
                print("note: the import was %s at the end of the %s run; "
                      "make BENCH_SAT_CLAIMS larger" % (s.rows[-1][4], name))
        after = pg_counters(url)
        res["pg"] = {k: after[k] - before[k] for k in before}
        # 4. done with it.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("DELETE", status)
        c.getresponse().read()
        wait_state(url, jid, ("cancelled", "completed", "failed"))
    finally:
        srv.terminate()
        srv.wait(60)
    return res


def print_saturate(res):
    print("\n== closed loop, wrk -t2 -c50 -d%ds --latency; controller %s "
          "==" % (SAT_S, res["control"]))
    print("%-10s %-7s %9s %8s %8s %8s %8s %8s" % (
        "target", "phase", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
        "non-2xx"))
    for name in ("metadata", "status"):
        for ph in ("idle", "loaded"):
            w = res[ph + "_" + name]
            print("%-10s %-7s %9.0f %8.2f %8.2f %8.2f %8.1f %8d" % (
                name, ph, w["rps"], w["p50"], w["p90"], w["p99"],
                w.get("max", float("nan")), w["non2xx"] + w["errors"]))
    for name in ("metadata", "status"):
        i, lo = res["idle_" + name], res["loaded_" + name]
        ok = lo["p99"] <= 3 * i["p99"] and lo["p99"] < 20
        print("%-8s p99 loaded : idle = %.2f : %.2f ms = %.2fx (goal <= 3x "
              "and < 20 ms)%s; req/s %.0f : %.0f" % (
                  name, lo["p99"], i["p99"], lo["p99"] / i["p99"],
                  "" if ok else "  MISSED", lo["rps"], i["rps"]))
    h, m = res["cache_status"]
    print("status cache during the loaded status run: %d hits, %d misses "
          "(a miss reads the job store on a request thread)" % (h, m))
    u = res["rate_unloaded"]
    for name in ("metadata", "status"):
        r = res["rate_" + name]
        print("import rate beside wrk on %-8s %7.0f claims/s vs unloaded "
              "%7.0f: %.2f (goal >= 0.5)%s" % (
                  name, r, u, r / u if u else float("nan"),
                  "" if u and r / u >= 0.5 else "  MISSED"))
    print("controller trace (t s, import lines/s, factor, published p99 "
          "ms, PSI cpu/io/mem some avg10, the worker group's nice):")
    for name in ("unloaded", "metadata", "status"):
        rows = res["trace"][name]
        t0 = rows[0][0]
        for a, b in zip(rows, rows[1:]):
            dt = b[0] - a[0]
            print("  %-8s %5.1f %8.0f %6s %7s   %5.1f %5.1f %5.1f %4s" % (
                name, b[0] - t0, (b[1] - a[1]) / dt if dt > 0 else 0,
                "-" if b[2] is None else "%.2f" % b[2],
                "-" if b[3] is None or b[3] < 0 else "%.1f" % b[3],
                b[5], b[6], b[7], "-" if b[8] is None else b[8]))
    print("bulk database sessions, samples by wait event (loaded runs):")
    tot = {}
    for w in res["waits"].values():
        for k, v in w.items():
            tot[k] = tot.get(k, 0) + v
    for (app, ev), n in sorted(tot.items(), key=lambda x: -x[1])[:8]:
        print("  %-28s %-32s %4d" % (app, ev, n))
    print("PostgreSQL during the loaded runs: %s" % ", ".join(
        "%s +%d" % kv for kv in res["pg"].items()))
    if res["perf"]:
        print("perf, whole machine, loaded metadata run (by command):")
        for x in res["perf"]:
            print("  " + x)


def saturate(admin):
    import_dir, claims_path = own_claims()
    settings = ["on", "off"] if CONTROLLER == "both" else [CONTROLLER]
    print("saturating case: %d own claims, %d s wrk runs, controller %s, "
          "%d run(s); limits %s; floor %s%%; load average %s" % (
              SAT_CLAIMS, SAT_S, "/".join(settings), RUNS, LIMITS or
              "default", os.environ.get("BULKHEAD_INTERACTIVE_FLOOR_PCT",
                                        "5"), loadavg()))
    for run in range(RUNS):
        for c in settings:
            res = saturate_one(admin, c, import_dir, claims_path)
            print("\n-- run %d of %d" % (run + 1, RUNS), end="")
            print_saturate(res)
            sys.stdout.flush()
    print("load average after: %s" % (loadavg(),))


def main():
    admin = os.environ.get("BULKHEAD_DATABASE_URL")
    if not admin:
        sys.exit("BULKHEAD_DATABASE_URL is not set (scripts/bench.sh sets "
                 "it)")
    os.makedirs(WORK, exist_ok=True)
    if MODE in ("probe", "both"):
        probe(admin)
    if MODE in ("saturate", "both"):
        saturate(admin)
    if os.environ.get("BENCH_KEEP_DATA", "1") == "0":
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
