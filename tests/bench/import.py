"""tests/bench/import — $import of the demo Claims end to end against the
physical limit of COPYing the same bytes into PostgreSQL.

  1. the input: 'bulkhead generate --families F --seed 11' and its
     Claim.ndjson (~2.5 KB a claim), cut to BENCH_CLAIMS lines when it has
     more, in an import directory (var/bench/import-in); the other types
     are deleted at once;
  2. the physical limit: in a fresh database, 'CREATE TABLE
     plain_text_table (content text COMPRESSION lz4)' (no key, no index;
     lz4 like resources.content, so that both sides compress the same way)
     and psql "\\copy plain_text_table (content) FROM 'Claim.ndjson' WITH
     (FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')": the JSON goes in
     unescaped, exactly the bytes the import loads; the table is dropped
     and a CHECKPOINT taken afterwards;
  3. the import: 'bulkhead run' (API, scheduler, BULKHEAD_WORKERS=2
     workers) on that database (so the store is empty), POST
     /fhir/$import (Parameters, one file:// input under
     BULKHEAD_IMPORT_DIR), then GET of the Content-Location every 0.5 s
     until 200 and the manifest.  Measured: kick-off to manifest, and
     jobs.started -> jobs.finished (the worker's own time);
  4. the same import again on the now-full store: the upsert path where
     nothing changes (every row keeps version 1).

While the service runs, VmRSS and VmHWM of the supervisor and of every
child are sampled every 100 ms (per role: supervisor, serve, scheduler,
worker).  Prints lines/s, MB/s, the ratio import : raw COPY (the issue's
target: at most 1.5, for both the end-to-end and the worker time), the
peak RSS per process (target: at most 64 MB each) and the load average
next to each figure.  Asserts nothing about time.

Environment: BENCH_CLAIMS (default 1000000), BENCH_FAMILIES (default:
enough for BENCH_CLAIMS, 22 per 100 claims), BULKHEAD_DATABASE_URL (the
cluster; scripts/bench.sh sets it), BULKHEAD_BIN (default build/bulkhead),
BENCH_KEEP=1 (keep the generated Claim file and the database),
BENCH_LOAD_REFERENCE=0 (skip the reference below), BENCH_RERUN=0 (skip the
re-run of the same input, for the largest sizes), BENCH_LIMITS (a JSON
object of integer limits to set instead of the defaults, e.g.
'{"worker_idle": 0}'), BENCH_INPUT (an NDJSON file of Claims to import
instead of generating one: A/B runs on the same bytes without the
minutes of generation; it is left in place).

Besides (not part of the ratio): 'bulkhead load' of the same file into a
fresh store, the product's own COPY path with the primary key and the
indexes, which splits the gap between the import and the raw COPY into
what the store costs and what the import adds; and CPU seconds of every
process and of the PostgreSQL backends of each step.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BIN, ROOT, fresh_db, sql  # noqa: E402

DBNAME = "bulkhead_bench_import"
SEED = 11
CSV = "(FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')"
RATIO_TARGET = 1.5
RSS_TARGET_MB = 64
POLL_S = 0.5


def log(msg=""):
    print(msg, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---- RSS of a process tree, per role ----------------------------------------

def _children(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return kids


def _status_kb(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def _cpu_s(pid):
    """user + system CPU seconds of pid so far, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _role(pid, root):
    if pid == root:
        return "supervisor"
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0")
                    if a]
    except OSError:
        return "?"
    roles = [a for a in argv[1:] if not a.startswith("-")]
    return roles[0] if roles else (argv[0] if argv else "?")


class Sampler:
    """VmRSS (max over samples) and VmHWM (the kernel's peak, read with
    every sample, so a process that exits keeps its last value) of root
    and all its descendants, every interval seconds."""

    def __init__(self, root, interval=0.1):
        self.root = root
        self.interval = interval
        self.rss, self.hwm, self.role = {}, {}, {}
        self.cpu0, self.cpu = {}, {}
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def sample(self):
        todo, seen = [self.root], []
        while todo:
            p = todo.pop()
            seen.append(p)
            todo.extend(_children(p))
        for pid in seen:
            st = _status_kb(pid)
            if not st:
                continue
            self.role.setdefault(pid, _role(pid, self.root))
            self.rss[pid] = max(self.rss.get(pid, 0), st.get("VmRSS", 0))
            self.hwm[pid] = max(self.hwm.get(pid, 0), st.get("VmHWM", 0))
            c = _cpu_s(pid)
            if c is not None:
                self.cpu0.setdefault(pid, c)
                self.cpu[pid] = c
        self.samples += 1

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self):
        self.sample()
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join()
        self.sample()

    def report(self, title):
        log("  peak RSS per process (%s; %d samples every %.0f ms; target "
            "%d MB each):" % (title, self.samples, self.interval * 1000,
                              RSS_TARGET_MB))
        order = {"supervisor": 0, "serve": 1, "scheduler": 2, "worker": 3}
        worst = 0.0
        for pid in sorted(self.role, key=lambda p: (order.get(
                self.role[p], 9), p)):
            rss, hwm = self.rss[pid] / 1024.0, self.hwm[pid] / 1024.0
            worst = max(worst, rss, hwm)
            log("    %-10s pid %-7d VmRSS max %6.1f MB  VmHWM %6.1f MB  "
                "CPU %6.1f s%s"
                % (self.role[pid], pid, rss, hwm,
                   self.cpu.get(pid, 0) - self.cpu0.get(pid, 0),
                   "  ABOVE TARGET" if max(rss, hwm) > RSS_TARGET_MB
                   else ""))
        return worst


class BackendCpu:
    """CPU seconds of the PostgreSQL backends (same machine) of one
    database whose application_name starts with app, polled every
    interval seconds from pg_stat_activity and /proc."""

    def __init__(self, url, dbname, app, interval=0.25):
        import psycopg2
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True
        self.dbname, self.app, self.interval = dbname, app, interval
        self.cpu = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def sample(self):
        with self.conn.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                        "AND application_name LIKE %s AND pid <> "
                        "pg_backend_pid()", (self.dbname, self.app + "%"))
            for (pid,) in cur.fetchall():
                c = _cpu_s(pid)
                if c is not None:
                    self.cpu[pid] = c

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:
                pass

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join()
        self.conn.close()
        # The backends are the measured session's own connections: all of
        # their CPU (since they started) counts.
        return sum(self.cpu.values())


# ---- the input --------------------------------------------------------------

def make_input(claims, families, work):
    """Claim.ndjson with at most `claims` lines in work/import-in."""
    gen = os.path.join(work, "import-gen")
    indir = os.path.join(work, "import-in")
    shutil.rmtree(gen, ignore_errors=True)
    shutil.rmtree(indir, ignore_errors=True)
    os.makedirs(indir)
    log("load average before generate: %s" % loadavg())
    t0 = time.monotonic()
    g = subprocess.run([BIN, "generate", "--families", str(families),
                        "--seed", str(SEED), "--today", "2026-06-01",
                        "--out", gen], check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    log("generate: %d families in %.1f s: %s" % (
        families, time.monotonic() - t0,
        g.stdout.decode(errors="replace").strip().splitlines()[-1:]))
    src = os.path.join(gen, "Claim.ndjson")
    dst = os.path.join(indir, "Claim.ndjson")
    n = 0
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        for line in fi:
            if n >= claims:
                break
            fo.write(line)
            n += 1
    shutil.rmtree(gen, ignore_errors=True)
    size = os.path.getsize(dst)
    log("input: %s: %d claims, %.1f MB (%.0f bytes a claim)%s"
        % (dst, n, size / 1e6, size / max(n, 1),
           "" if n == claims else "  (fewer than BENCH_CLAIMS=%d: raise "
           "BENCH_FAMILIES)" % claims))
    return indir, dst, n, size


# ---- the physical limit -----------------------------------------------------

def raw_copy(url, path):
    sql(url, "DROP TABLE IF EXISTS plain_text_table")
    sql(url, "CREATE TABLE plain_text_table (content text COMPRESSION lz4)")
    sql(url, "CHECKPOINT")
    log("load average before raw COPY: %s" % loadavg())
    be = BackendCpu(url, DBNAME, "psql").start()
    t0 = time.monotonic()
    p = subprocess.Popen(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc",
                          "\\copy plain_text_table (content) FROM '%s' "
                          "WITH %s" % (path, CSV)])
    cli = Sampler(p.pid).start()
    if p.wait() != 0:
        raise SystemExit("psql \\copy failed")
    dt = time.monotonic() - t0
    cli.stop()
    cpu = (sum(cli.cpu.values()), be.stop())
    log("  CPU: psql %.1f s, its PostgreSQL backend %.1f s" % cpu)
    (rows, mb), = sql(url, "SELECT count(*), pg_total_relation_size("
                      "'plain_text_table') / 1e6 FROM plain_text_table")
    sql(url, "DROP TABLE plain_text_table")
    sql(url, "CHECKPOINT")
    return dt, rows, mb, sum(cpu)


def load_reference(admin, path, lines, size, raw_dt, raw_cpu):
    """'bulkhead load FILE' into a fresh store: the store's own COPY path
    (PK and indexes, one transaction; no validation, spool or batches)."""
    name = DBNAME + "_load"
    url = fresh_db(admin, name)
    env = dict(os.environ, BULKHEAD_DATABASE_URL=url)
    subprocess.run([BIN, "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sql(url, "CHECKPOINT")
    log("load average before 'bulkhead load': %s" % loadavg())
    be = BackendCpu(url, name, "bulkhead load").start()
    t0 = time.monotonic()
    p = subprocess.Popen([BIN, "load", path], env=env,
                         stdout=subprocess.DEVNULL)
    smp = Sampler(p.pid).start()
    if p.wait() != 0:
        raise SystemExit("bulkhead load failed")
    dt = time.monotonic() - t0
    smp.stop()
    cpu = (sum(smp.cpu.values()), be.stop())
    log("reference 'bulkhead load' (same file, the store's COPY path with "
        "its key and indexes): %.1f s, %.0f lines/s, %.1f MB/s, %.2fx the "
        "raw COPY; CPU: load %.1f s, its backend %.1f s (%.2fx the raw "
        "COPY's CPU), peak RSS %.1f MB; load average %s"
        % (dt, lines / dt, size / 1e6 / dt, dt / raw_dt, cpu[0], cpu[1],
           sum(cpu) / raw_cpu, max(smp.hwm.values() or [0]) / 1024.0,
           loadavg()))
    sql(admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    return dt


# ---- the service ------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, url, work, indir, port):
        self.base = "http://127.0.0.1:%d" % port
        self.fhir = self.base + "/fhir"
        self.data = os.path.join(work, "import-data")
        shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data)
        self.logpath = os.path.join(work, "import-server.log")
        self.env = dict(os.environ, BULKHEAD_DATABASE_URL=url,
                        BULKHEAD_LISTEN="127.0.0.1:%d" % port,
                        BULKHEAD_DATA_DIR=self.data,
                        BULKHEAD_IMPORT_DIR=indir, BULKHEAD_WORKERS="2")
        self.env.pop("BULKHEAD_BASE_URL", None)
        self.proc = None

    def start(self):
        with open(self.logpath, "wb") as logf:
            self.proc = subprocess.Popen([BIN, "run"], env=self.env,
                                         stdout=logf,
                                         stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("bulkhead run exited; see " + self.logpath)
            try:
                if requests.get(self.base + "/healthz",
                                timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise SystemExit("bulkhead run not ready; see " + self.logpath)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def import_once(svc, url, file_url):
    """Kick-off to 200; returns (seconds, worker seconds, manifest)."""
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
        {"name": "mode", "valueCode": "IncrementalLoad"},
        {"name": "input", "part": [{"name": "type", "valueCode": "Claim"},
                                   {"name": "url", "valueUri": file_url}]}]}
    t0 = time.monotonic()
    r = requests.post(svc.fhir + "/$import", data=json.dumps(body),
                      timeout=60, headers={
                          "Content-Type": "application/fhir+json",
                          "Accept": "application/fhir+json",
                          "Prefer": "respond-async"})
    if r.status_code != 202:
        raise SystemExit("kick-off: %d %s" % (r.status_code, r.text))
    loc = r.headers["Content-Location"]
    while True:
        time.sleep(POLL_S)
        r = requests.get(loc, timeout=60)
        if r.status_code != 202:
            break
    dt = time.monotonic() - t0
    if r.status_code != 200:
        raise SystemExit("import: %d %s" % (r.status_code, r.text))
    (wsec,), = sql(url, "SELECT extract(epoch FROM finished - started) FROM "
                   "jobs WHERE id = '%s'" % loc.rsplit("/", 1)[1])
    return dt, float(wsec), r.json()


def report_import(title, dt, wsec, manifest, lines, size, raw_dt):
    tot = manifest["extension"]["totals"]
    log("%s: %.1f s kick-off to manifest (polled every %.1f s), worker %.1f "
        "s (jobs.started -> finished); load average %s"
        % (title, dt, POLL_S, wsec, loadavg()))
    log("  totals: read %d, loaded %d, failed %d, blank %d%s"
        % (tot["read"], tot["loaded"], tot["failed"], tot["blank"],
           "" if tot["loaded"] == lines else "  (EXPECTED %d)" % lines))
    for t, name in ((dt, "end to end"), (wsec, "worker")):
        log("  %-10s %9.0f lines/s  %6.1f MB/s  ratio import/raw %.2f "
            "(target <= %.1f)" % (name, lines / t, size / 1e6 / t,
                                  t / raw_dt, RATIO_TARGET))


def import_cpu(sampler, be, raw_cpu):
    """Prints and returns the import's CPU (workers + their backends) over
    the raw COPY's (psql + its backend): a ratio the load of other
    processes on the machine hardly moves."""
    work = sum(sampler.cpu.get(p, 0) - sampler.cpu0.get(p, 0)
               for p, r in sampler.role.items() if r == "worker")
    back = be.stop()
    log("  CPU: workers %.1f s, the import's PostgreSQL backends %.1f s: "
        "%.2fx the raw COPY's %.1f s" % (work, back, (work + back) / raw_cpu,
                                         raw_cpu))
    return (work + back) / raw_cpu


def main():
    claims = int(os.environ.get("BENCH_CLAIMS", "1000000"))
    families = int(os.environ.get("BENCH_FAMILIES",
                                  str(max(1, (claims * 22 + 99) // 100))))
    keep = os.environ.get("BENCH_KEEP", "") not in ("", "0")
    admin = os.environ["BULKHEAD_DATABASE_URL"]
    work = os.path.join(ROOT, "var", "bench")
    os.makedirs(work, exist_ok=True)
    log("import benchmark: %d claims (%d families), bin %s, %d CPUs, load "
        "average %s" % (claims, families, BIN, os.cpu_count(), loadavg()))

    if os.environ.get("BENCH_INPUT"):
        path = os.path.abspath(os.environ["BENCH_INPUT"])
        indir = os.path.dirname(path)
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            lines = sum(1 for _ in f)
        log("input: %s (BENCH_INPUT): %d lines, %.1f MB" % (
            path, lines, size / 1e6))
    else:
        indir, path, lines, size = make_input(claims, families, work)
    url = fresh_db(admin, DBNAME)

    raw_dt, raw_rows, raw_mb, raw_cpu = raw_copy(url, path)
    log("raw COPY into plain_text_table: %.1f s, %.0f lines/s, %.1f MB/s "
        "(%d rows, %.0f MB on disk); load average %s"
        % (raw_dt, lines / raw_dt, size / 1e6 / raw_dt, raw_rows, raw_mb,
           loadavg()))

    if os.environ.get("BENCH_LOAD_REFERENCE", "1") not in ("", "0"):
        load_reference(admin, path, lines, size, raw_dt, raw_cpu)

    svc = Service(url, work, indir, free_port()).start()
    limits = json.loads(os.environ.get("BENCH_LIMITS", "{}"))
    for k, v in sorted(limits.items()):
        sql(url, "UPDATE limits SET %s = %d" % (k, int(v)))
    (lim,), = sql(url, "SELECT row_to_json(l)::text FROM limits l")
    log("limits: %s" % lim)
    sampler = Sampler(svc.proc.pid).start()
    try:
        file_url = "file://" + path
        log("load average before the import: %s" % loadavg())
        be = BackendCpu(url, DBNAME, "bulkhead worker import").start()
        dt, wsec, m = import_once(svc, url, file_url)
        sampler.stop()
        report_import("import (empty store)", dt, wsec, m, lines, size,
                      raw_dt)
        cpu1 = import_cpu(sampler, be, raw_cpu)
        worst = sampler.report("first import")
        (rows, mb), = sql(url, "SELECT count(*), (SELECT sum("
                          "pg_total_relation_size(inhrelid)) FROM "
                          "pg_inherits WHERE inhparent = "
                          "'resources'::regclass) / 1e6 FROM resources")
        log("  store: %d rows, %.0f MB on disk (tables and indexes)"
            % (rows, mb))

        if os.environ.get("BENCH_RERUN", "1") in ("", "0"):
            log("summary: ratio %.2f end to end, %.2f worker (target <= "
                "%.1f), %.2f in CPU seconds; no re-run (BENCH_RERUN=0); "
                "peak RSS %.1f MB (target <= %d); load average %s"
                % (dt / raw_dt, wsec / raw_dt, RATIO_TARGET, cpu1, worst,
                   RSS_TARGET_MB, loadavg()))
            return 0
        sampler2 = Sampler(svc.proc.pid).start()
        log("load average before the re-run: %s" % loadavg())
        be = BackendCpu(url, DBNAME, "bulkhead worker import").start()
        dt2, wsec2, m2 = import_once(svc, url, file_url)
        sampler2.stop()
        report_import("re-run (upsert, nothing changes)", dt2, wsec2, m2,
                      lines, size, raw_dt)
        cpu2 = import_cpu(sampler2, be, raw_cpu)
        worst2 = sampler2.report("re-run")
        (rows2, vmax), = sql(url, "SELECT count(*), max(version) FROM "
                             "resources")
        log("  store after the re-run: %d rows, max version %s%s"
            % (rows2, vmax, "" if rows2 == rows and vmax == 1 else
               "  (CHANGED)"))
        log("summary: ratio %.2f end to end, %.2f worker (target <= %.1f), "
            "%.2f in CPU seconds; re-run %.1f s (%.2fx the first; CPU "
            "%.2fx the raw COPY's); peak RSS %.1f MB (target <= %d); load "
            "average %s"
            % (dt / raw_dt, wsec / raw_dt, RATIO_TARGET, cpu1, dt2,
               dt2 / dt, cpu2, max(worst, worst2), RSS_TARGET_MB,
               loadavg()))
    finally:
        if sampler._t.is_alive():
            sampler.stop()
        svc.stop()
        if not keep:
            sql(admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DBNAME)
            if not os.environ.get("BENCH_INPUT"):
                shutil.rmtree(indir, ignore_errors=True)
            shutil.rmtree(svc.data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
