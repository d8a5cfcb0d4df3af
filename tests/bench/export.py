"""tests/bench/export — a system-level $export of the demo dataset against
the physical limit of streaming the same bytes out of PostgreSQL.

  1. the store: 'bulkhead generate --families N --seed 7' then 'bulkhead
     load' into a fresh database (skipped with BENCH_REUSE=1 when the
     database of an earlier run with the same N is still there);
  2. the physical limit: COPY (SELECT content FROM bench_plain) TO STDOUT,
     where bench_plain is 'CREATE TABLE bench_plain AS SELECT content FROM
     resources' (one unpartitioned heap, the same values), into a client
     that discards the bytes: psql '\\copy ... to /dev/null' and psycopg2
     copy_expert into a counting sink; the faster is the limit.  The same
     COPY out of 'resources' itself (partitioned, lz4) is printed beside
     it.  Both use csv with the delimiter and quote set to control bytes
     JSON never contains, so the bytes are exactly the NDJSON the export
     writes: the issue's limit.  The export itself reads binary COPY (no
     per-byte csv scan in the backend), so a binary COPY of bench_plain
     through psycopg2 is timed too and the export's ratio against it
     printed beside: the fastest PostgreSQL hands out these values;
  3. the export: 'bulkhead run' (API, scheduler, BULKHEAD_WORKERS=2
     workers), kick-off GET /fhir/$export with Prefer: respond-async, then
     polling the Content-Location, sleeping Retry-After seconds between
     polls as a client does, until 200 and a manifest.  Measured: kick-off
     to manifest, and jobs.started -> jobs.finished (the worker's own time;
     the difference is polling granularity);
  4. the same export with 'wrk -c 200 -t 2 -d 10s --latency' hammering the
     status URL from right after kick-off (the interactive side).

Prints resources, MB uncompressed (sum of job_outputs.bytes) and stored,
resources/s, MB/s, the ratio export time : raw COPY time (the issue's
target: at most 1.3), CPU seconds of the worker and of its PostgreSQL
backend (and how long each waited for a CPU: on a shared machine that
says how much of the wall time was other people's), the export backend's
CPU against the raw COPY backend's (a ratio that holds when the machine
is busy and wall times do not), peak RSS per role (VmRSS sampled every
100 ms, and VmHWM; the target is 64 MB each) and wrk's p50/p99 (target
p99 < 10 ms).  Asserts nothing about time.

The database is bulkhead_bench_export_<N>; it is dropped at the end
unless BENCH_REUSE=1.

Environment: BENCH_FAMILIES (default 200000: ~3.2M resources, ~7 GB of
NDJSON; generation and load take minutes), BENCH_REUSE=1 (keep the loaded
database for the next run, and reuse one that is there),
BENCH_EXPORT_RUNS (default "quiet,wrk": which exports to run),
BENCH_RAW_REPEAT (default 2: best of how many raw COPYs; 0: none, and no
bench_plain table: for memory figures at sizes the disk cannot hold
twice), BENCH_GEN_CHUNK (generate and load the store in rounds of that
many families, seeds 7, 8, ...: five times the default size then needs
one round's NDJSON on disk, not all of it),
BULKHEAD_DATABASE_URL (the cluster; scripts/bench.sh sets it),
BULKHEAD_BIN (the binary; default build/bulkhead).
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import psycopg2

from common import (BIN, ROOT, RssSampler, dir_bytes, free_port, fresh_db,
                    conninfo_with_db, loadavg, peak_rss_mb, proc_cpu_seconds,
                    proc_runqueue_wait, sql, wrk_parse)

DBNAME = "bulkhead_bench_export_%d"     # % families: one per size
SEED = 7
CSV = "WITH (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')"
BINARY = "WITH (FORMAT binary)"
RAW_BINARY = [None]     # best binary COPY out of bench_plain, seconds
RSS_TARGET_MB = 64
ROLE_NAMES = {"serve": "api"}


def log(msg=""):
    print(msg, flush=True)


# ---- the store --------------------------------------------------------

def gen_chunk(families):
    return int(os.environ.get("BENCH_GEN_CHUNK", "0")) or families


def db_tag(families):
    tag = "bulkhead bench export: families=%d seed=%d" % (families, SEED)
    if gen_chunk(families) < families:
        tag += " chunk=%d" % gen_chunk(families)
    return tag


def reusable(admin, families):
    rows = sql(admin, "SELECT shobj_description(oid, 'pg_database') FROM "
               "pg_database WHERE datname = '%s'" % (DBNAME % families))
    return bool(rows) and rows[0][0] == db_tag(families)


def prepare_store(admin, families, reuse, work):
    dbname = DBNAME % families
    url = conninfo_with_db(admin, dbname)
    if reuse and reusable(admin, families):
        log("store: reusing database %s (%s)" % (dbname, db_tag(families)))
        return url
    data = os.path.join(work, "export-data")
    url = fresh_db(admin, dbname)
    env = dict(os.environ, BULKHEAD_DATABASE_URL=url)
    migrate(env)
    # In rounds of BENCH_GEN_CHUNK families, each its own seed (every id
    # hashes the seed): a store five times the default then never needs
    # all of its NDJSON on disk at once.
    chunk = gen_chunk(families)
    done, rnd = 0, 0
    while done < families:
        n = min(chunk, families - done)
        shutil.rmtree(data, ignore_errors=True)
        log("load average before generate: %s" % loadavg())
        dt, rss = peak_rss_mb([BIN, "generate", "--families", str(n),
                               "--seed", str(SEED + rnd), "--out", data])
        nbytes = dir_bytes(data)
        log("generate: %d families, %.0f MB in %.1f s (%.0f MB/s), peak "
            "RSS %.1f MB" % (n, nbytes / 1e6, dt, nbytes / 1e6 / dt, rss))
        dt, rss = peak_rss_mb([BIN, "load", data], env=env,
                              stdout=subprocess.DEVNULL)
        log("load: %.0f MB in %.1f s (%.0f MB/s), peak RSS %.1f MB"
            % (nbytes / 1e6, dt, nbytes / 1e6 / dt, rss))
        shutil.rmtree(data, ignore_errors=True)
        done += n
        rnd += 1
    # The steady state: hint bits set, visibility map and statistics
    # current (bulkhead load leaves that to autovacuum).
    t0 = time.monotonic()
    sql(url, "VACUUM (ANALYZE) resources")
    sql(url, "DROP TABLE IF EXISTS bench_plain")
    if raw_repeat() > 0:
        sql(url, "CREATE TABLE bench_plain AS SELECT content FROM "
            "resources")
        sql(url, "VACUUM (ANALYZE) bench_plain")
    sql(url, "CHECKPOINT")
    log("vacuum analyze + bench_plain: %.1f s" % (time.monotonic() - t0))
    sql(admin, "COMMENT ON DATABASE %s IS '%s'" % (dbname, db_tag(families)))
    return url


def raw_repeat():
    """BENCH_RAW_REPEAT: best of how many raw COPYs; 0 skips the raw COPY
    and its table (a run for memory figures only)."""
    return int(os.environ.get("BENCH_RAW_REPEAT", "2"))


def migrate(env):
    p = subprocess.run([BIN, "migrate"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode != 0:
        sys.stdout.write(p.stdout.decode(errors="replace"))
        raise RuntimeError("bulkhead migrate failed")


# ---- the physical limit -------------------------------------------------

class Sink:
    """A file-like object for copy_expert that counts and discards."""

    def __init__(self):
        self.n = 0

    def write(self, b):
        self.n += len(b)


def copy_psql(url, table):
    t0 = time.monotonic()
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc",
                    "\\copy (SELECT content FROM %s) TO '/dev/null' %s"
                    % (table, CSV)], check=True)
    return time.monotonic() - t0, None


BACKEND_CPU = {}        # table -> least backend CPU seconds of a raw COPY


def copy_psycopg2(url, table, fmt=CSV):
    conn = psycopg2.connect(url)
    sink = Sink()
    try:
        pid = conn.get_backend_pid()
        with conn.cursor() as cur:
            c0 = proc_cpu_seconds(pid)
            t0 = time.monotonic()
            cur.copy_expert("COPY (SELECT content FROM %s) TO STDOUT %s"
                            % (table, fmt), sink, size=1 << 20)
            dt = time.monotonic() - t0
            c1 = proc_cpu_seconds(pid)
        if fmt != CSV:
            return dt, None
        if c0 is not None and c1 is not None:
            BACKEND_CPU[table] = min(BACKEND_CPU.get(table, c1 - c0),
                                     c1 - c0)
    finally:
        conn.close()
    return dt, sink.n


def raw_copy(url, rows, nbytes, repeat):
    """Best of `repeat` of both clients on bench_plain; then the faster
    client on resources.  Returns (limit s, client, resources s)."""
    best = {}
    copied = None

    def run(table, name, fn):
        nonlocal copied
        for _ in range(repeat):
            dt, n = fn(url, table)
            if n is not None:
                copied = n
            best[(table, name)] = min(best.get((table, name), dt), dt)
        dt = best[(table, name)]
        log("  COPY out of %-11s via %-8s %6.1f s: %8.0f rows/s, "
            "%5.0f MB/s (best of %d)" % (table, name, dt, rows / dt,
                                         nbytes / 1e6 / dt, repeat))

    clients = (("psql", copy_psql), ("psycopg2", copy_psycopg2))
    for name, fn in clients:
        run("bench_plain", name, fn)
    meth = min(("psql", "psycopg2"), key=lambda m: best[("bench_plain", m)])
    run("resources", meth, dict(clients)[meth])
    limit = best[("bench_plain", meth)]
    # The export reads binary COPY (no per-byte csv scan in the backend):
    # the same values that way, for the second ratio.
    run("bench_plain", "binary", lambda u, t: copy_psycopg2(u, t, BINARY))
    RAW_BINARY[0] = best[("bench_plain", "binary")]
    if copied is not None and copied != nbytes:
        log("  NOTE: COPY streamed %d bytes, the store holds %d bytes of "
            "NDJSON" % (copied, nbytes))
    for table in ("bench_plain", "resources"):
        if table in BACKEND_CPU:
            log("  the PostgreSQL backend of the raw COPY out of %s used "
                "%.1f CPU s (least of the psycopg2 runs)"
                % (table, BACKEND_CPU[table]))
    log("raw COPY limit: bench_plain via %s (the faster client), %.1f s, "
        "%.0f MB/s; COPY out of resources takes %.2fx that"
        % (meth, limit, nbytes / 1e6 / limit,
           best[("resources", meth)] / limit))
    return limit, meth, best[("resources", meth)]


# ---- the service --------------------------------------------------------

class Service:
    """'bulkhead run', or 'serve' + one 'worker' when run does not work."""

    def __init__(self, url, work, port):
        self.url = url
        self.port = port
        self.outdir = os.path.join(work, "export-out")
        self.logpath = os.path.join(work, "export-server.log")
        shutil.rmtree(self.outdir, ignore_errors=True)
        os.makedirs(self.outdir)
        self.env = dict(os.environ, BULKHEAD_DATABASE_URL=url,
                        BULKHEAD_LISTEN="127.0.0.1:%d" % port,
                        BULKHEAD_DATA_DIR=self.outdir, BULKHEAD_WORKERS="2")
        self.env.pop("BULKHEAD_BASE_URL", None)
        self.procs = []
        self.mode = None

    def _spawn(self, args):
        logf = open(self.logpath, "ab")
        p = subprocess.Popen([BIN] + args, env=self.env, stdout=logf,
                             stderr=subprocess.STDOUT, cwd=ROOT)
        logf.close()
        self.procs.append(p)
        return p

    def healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                return False
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def start(self):
        with open(self.logpath, "wb"):
            pass
        self._spawn(["run"])
        if self.healthy(60) and self.workers_ready(30, 2):
            self.mode = "run"
            return
        log("NOTE: 'bulkhead run' did not come up (see %s); starting "
            "'bulkhead serve' and one 'bulkhead worker' instead"
            % self.logpath)
        self.stop()
        self._spawn(["serve"])
        self._spawn(["worker"])
        if not self.healthy(60) or not self.workers_ready(30, 1):
            raise RuntimeError("the service did not start; see %s"
                               % self.logpath)
        self.mode = "serve+worker"

    def workers_ready(self, timeout, n):
        """Waits until n 'bulkhead worker' sessions are connected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if worker_backends(self.url) and \
                    len(worker_backends(self.url)) >= n:
                return True
            time.sleep(0.2)
        return False

    def pids(self):
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


def worker_backends(url):
    return [r[0] for r in sql(url, "SELECT pid FROM pg_stat_activity WHERE "
                              "datname = current_database() AND "
                              "application_name = 'bulkhead worker'")]


class CpuSampler:
    """CPU seconds per Bulkhead role and per PostgreSQL backend of each
    'bulkhead <role>' application_name, over the sampler's lifetime.
    Processes that appear later count from 0 (they were forked after the
    start); gone ones keep their last value."""

    def __init__(self, url, rss, interval=0.5):
        self.url = url
        self.rss = rss
        self.interval = interval
        self.base = {}          # pid -> (cpu, runqueue wait) at first sight
        self.last = {}          # pid -> (cpu, runqueue wait) last seen
        self.label = {}         # pid -> label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._first = True

    def _pids(self, conn):
        out = {}
        for pid, role in list(self.rss.role.items()):
            out[pid] = ROLE_NAMES.get(role, role)
        with conn.cursor() as cur:
            cur.execute("SELECT pid, application_name FROM pg_stat_activity "
                        "WHERE datname = current_database() AND "
                        "application_name LIKE 'bulkhead %'")
            for pid, app in cur.fetchall():
                role = app.split(" ", 1)[1]
                out[pid] = "pg backend of " + ROLE_NAMES.get(role, role)
        return out

    def sample(self, conn):
        for pid, label in self._pids(conn).items():
            cpu, wait = proc_cpu_seconds(pid), proc_runqueue_wait(pid)
            if cpu is None or wait is None:
                continue
            if pid not in self.base:
                self.base[pid] = (cpu, wait) if self._first else (0.0, 0.0)
                self.label[pid] = label
            self.last[pid] = (cpu, wait)
        self._first = False

    def _run(self):
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            self.sample(conn)
            self._started.set()
            while not self._stop.wait(self.interval):
                self.sample(conn)
            self.sample(conn)
        finally:
            conn.close()

    def start(self):
        self._started = threading.Event()
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()

    def by_pid(self):
        """[(label, pid, cpu s, run-queue wait s)] busiest first, idle
        ones left out"""
        rows = [(self.label[p], p, self.last[p][0] - self.base[p][0],
                 self.last[p][1] - self.base[p][1]) for p in self.base]
        return sorted([r for r in rows if r[2] >= 0.05],
                      key=lambda r: -r[2])


# ---- one export ---------------------------------------------------------

def http_get(port, path, headers=None, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, body


def run_wrk(url, out):
    p = subprocess.run(["wrk", "-c", "200", "-t", "2", "-d", "10s",
                        "--latency", url], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out["text"] = p.stdout.decode(errors="replace")
    out["rc"] = p.returncode


def export_once(url, work, with_wrk, limit, rows_expected):
    port = free_port()
    svc = Service(url, work, port)
    svc.start()
    rss = RssSampler(svc.pids(), interval=0.1,
                     root_role="supervisor" if svc.mode == "run" else None)
    rss.start()
    cpu = CpuSampler(url, rss).start()
    load_before = loadavg()
    wrk_out, wrk_thread = {}, None
    polls, retry_afters = 0, []
    try:
        t0 = time.monotonic()
        st, hdrs, body = http_get(port, "/fhir/$export", {
            "Accept": "application/fhir+json",
            "Prefer": "respond-async"})
        if st != 202 or "content-location" not in hdrs:
            raise RuntimeError("kick-off: %d %s" % (st, body[:300]))
        loc = hdrs["content-location"]
        job_id = loc.rstrip("/").rsplit("/", 1)[1]
        path = "/" + loc.split("/", 3)[3]
        if with_wrk:
            wrk_thread = threading.Thread(
                target=run_wrk, args=("http://127.0.0.1:%d%s" % (port, path),
                                      wrk_out), daemon=True)
            wrk_thread.start()
        while True:
            st, hdrs, body = http_get(port, path)
            polls += 1
            if st == 200:
                break
            if st != 202:
                raise RuntimeError("status: %d %s" % (st, body[:500]))
            ra = int(hdrs.get("retry-after", "1"))
            retry_afters.append(ra)
            time.sleep(ra)
        elapsed = time.monotonic() - t0
        manifest = json.loads(body)
        if wrk_thread is not None:
            wrk_thread.join()
    finally:
        load_after = loadavg()
        cpu.stop()
        rss.stop()
        svc.stop()

    (started, finished, worker_s, owner), = sql(
        url, "SELECT started, finished, extract(epoch FROM finished - "
        "started)::float8, lease_owner FROM jobs WHERE id = '%s'" % job_id)
    (n, nbytes, nfiles), = sql(
        url, "SELECT coalesce(sum(count), 0)::bigint, "
        "coalesce(sum(bytes), 0)::bigint, count(*) FROM job_outputs "
        "WHERE job_id = '%s' AND channel = 'output'" % job_id)
    jobdir = os.path.join(svc.outdir, "jobs", job_id)
    stored = dir_bytes(jobdir) if os.path.isdir(jobdir) else 0
    listed = sum(o.get("count", 0) for o in manifest.get("output", []))
    shutil.rmtree(svc.outdir, ignore_errors=True)

    label = "with wrk on the status URL" if with_wrk else "quiet"
    mb = nbytes / 1e6
    log("export (%s; %s, 2 workers), job %s:" % (label, svc.mode, job_id))
    log("  %d resources in %d files (manifest lists %d; the store holds %d)"
        % (n, nfiles, listed, rows_expected))
    log("  %.0f MB uncompressed, %.0f MB stored (zstd, %.1fx)"
        % (mb, stored / 1e6, nbytes / stored if stored else 0))
    ras = ", ".join("%d s x%d" % (v, retry_afters.count(v))
                    for v in sorted(set(retry_afters)))
    log("  kick-off -> manifest %.1f s: %.0f resources/s, %.0f MB/s; "
        "%d polls, Retry-After %s" % (elapsed, n / elapsed, mb / elapsed,
                                      polls, ras or "none"))
    log("  worker (jobs.started -> finished) %.1f s: %.0f resources/s, "
        "%.0f MB/s; polling granularity adds %.1f s"
        % (worker_s, n / worker_s, mb / worker_s, elapsed - worker_s))
    if limit:
        log("  ratio export / raw COPY: %.2f kick-off to manifest, %.2f "
            "worker alone (target <= 1.3)" % (elapsed / limit,
                                              worker_s / limit))
    log("  CPU seconds (share of the worker time) and seconds spent "
        "runnable but waiting for a CPU:")
    for lab, pid, secs, wait in cpu.by_pid():
        log("    %-26s pid %-7d CPU %6.1f s (%3.0f%%), waited %5.1f s"
            % (lab, pid, secs, 100 * secs / worker_s, wait))
    job_backend = [r[2] for r in cpu.by_pid()
                   if r[0] == "pg backend of worker job"]
    if job_backend and BACKEND_CPU.get("bench_plain"):
        log("  the export's PostgreSQL backend used %.2fx the CPU of the "
            "raw COPY's" % (max(job_backend) / BACKEND_CPU["bench_plain"]))
    roles = rss.by_role()
    for role in ("supervisor", "serve", "scheduler", "worker"):
        if role not in roles:
            continue
        r, h, pids = roles[role]
        log("  peak RSS %-10s %5.1f MB sampled VmRSS, %5.1f MB VmHWM "
            "(%d process%s; target <= %d MB)%s"
            % (ROLE_NAMES.get(role, role), r, h, len(pids),
               "" if len(pids) == 1 else "es", RSS_TARGET_MB,
               "" if h <= RSS_TARGET_MB else "  OVER"))
    log("  (%d RSS samples every 100 ms)" % rss.samples)
    if with_wrk:
        w = wrk_parse(wrk_out.get("text", ""))
        log("  wrk -c 200 -t 2 -d 10s on the status URL: p50 %s ms, p99 %s "
            "ms (target < 10 ms), %s req/s, %s requests, non-2xx %d %s"
            % (w["p50"], w["p99"], w["rps"], w["requests"], w["non2xx"],
               w["errors"]))
        if wrk_out.get("rc") != 0 or w["p99"] is None:
            log(wrk_out.get("text", ""))
        if elapsed < 10:
            log("  NOTE: the export took less than wrk's 10 s")
    log("  load average: %s at kick-off, %s at the manifest"
        % (load_before, load_after))
    return elapsed, worker_s


def main():
    families = int(os.environ.get("BENCH_FAMILIES", "200000"))
    reuse = os.environ.get("BENCH_REUSE", "") not in ("", "0")
    runs = [r.strip() for r in os.environ.get(
        "BENCH_EXPORT_RUNS", "quiet,wrk").split(",") if r.strip()]
    admin = os.environ["BULKHEAD_DATABASE_URL"]
    work = os.path.join(ROOT, "var", "bench")
    os.makedirs(work, exist_ok=True)
    if with_wrk_needed(runs) and shutil.which("wrk") is None:
        log("wrk is missing: apt-get install wrk (scripts/deps.sh bench)")
        return 1

    log("export benchmark: %d families, bin %s, load average %s"
        % (families, BIN, loadavg()))
    url = prepare_store(admin, families, reuse, work)
    migrate(dict(os.environ, BULKHEAD_DATABASE_URL=url))
    (rows,), = sql(url, "SELECT count(*) FROM resources WHERE NOT deleted")
    (nbytes, res_mb), = sql(
        url, "SELECT sum(octet_length(content) + 1)::bigint, "
        "(SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
        "WHERE inhparent = 'resources'::regclass) / 1e6 FROM resources "
        "WHERE NOT deleted")
    log("store: %d resources, %.0f MB of NDJSON; on disk: resources %.0f "
        "MB" % (rows, nbytes / 1e6, res_mb))
    limit, meth = None, "skipped (BENCH_RAW_REPEAT=0)"
    if raw_repeat() > 0:
        (plain_mb, plain_lz4), = sql(
            url, "SELECT pg_total_relation_size('bench_plain') / 1e6, "
            "(SELECT count(*) FILTER (WHERE pg_column_compression(content) "
            "= 'lz4') * 100.0 / greatest(count(*), 1) FROM (SELECT content "
            "FROM bench_plain LIMIT 10000) s)")
        log("bench_plain %.0f MB on disk (%.0f%% of its values "
            "lz4-compressed, as CREATE TABLE AS keeps them)"
            % (plain_mb, plain_lz4))
        log("load average before raw COPY: %s" % loadavg())
        limit, meth, res_copy = raw_copy(url, rows, nbytes, raw_repeat())
    results = {}
    for r in runs:
        if r not in ("quiet", "wrk"):
            log("unknown run %r in BENCH_EXPORT_RUNS" % r)
            continue
        log("load average before the %s export: %s" % (r, loadavg()))
        results[r] = export_once(url, work, r == "wrk", limit, rows)
    log("summary: %d resources, %.0f MB; raw COPY limit %s (%s)"
        % (rows, nbytes / 1e6, "%.1f s" % limit if limit else "none",
           meth))
    for r, (elapsed, worker_s) in results.items():
        if limit:
            log("  export %-5s %6.1f s kick-off to manifest (ratio %.2f, "
                "target <= 1.3), worker %.1f s (ratio %.2f)"
                % (r, elapsed, elapsed / limit, worker_s, worker_s / limit))
            if RAW_BINARY[0]:
                log("  export %-5s against a binary raw COPY (%.1f s): "
                    "%.2f" % (r, RAW_BINARY[0], elapsed / RAW_BINARY[0]))
        else:
            log("  export %-5s %6.1f s kick-off to manifest, worker %.1f s"
                % (r, elapsed, worker_s))
    if "quiet" in results and "wrk" in results:
        log("  under wrk the export took %.2fx as long"
            % (results["wrk"][0] / results["quiet"][0]))
    log("load average at the end: %s" % loadavg())

    if reuse:
        log("BENCH_REUSE: leaving database %s for the next run"
            % (DBNAME % families))
    else:
        sql(admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
            % (DBNAME % families))
    return 0


def with_wrk_needed(runs):
    return "wrk" in runs


if __name__ == "__main__":
    sys.exit(main())
