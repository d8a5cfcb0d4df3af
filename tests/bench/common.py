"""Helpers shared by the benchmarks in tests/bench/.

Benchmarks print figures and a ratio against the physical limit measured
in the same run; they assert nothing about time (the machines are shared
and noisy: absolute times drift, ratios hold).
"""
import os
import resource
import subprocess
import time

import psycopg2

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Benchmarks keep their scratch files under ROOT/var/bench.  BENCH_ROOT
# moves that elsewhere, so that two benchmarks run side by side (or by two
# people) do not share, and clean up, one scratch directory.
ROOT = os.path.abspath(os.environ.get("BENCH_ROOT") or REPO)
BIN = os.environ.get("BULKHEAD_BIN", os.path.join(REPO, "build", "bulkhead"))
# auth = smart became the default (issue 13); these benchmarks time the
# bulk paths without tokens, so their servers say auth = none outright.
os.environ.setdefault("BULKHEAD_AUTH", "none")
PSQL = "psql"


def conninfo_with_db(conninfo, dbname):
    parts = [p for p in conninfo.split() if not p.startswith("dbname=")]
    return " ".join(parts + ["dbname=" + dbname])


def fresh_db(admin, name):
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        cur.execute('CREATE DATABASE "%s"' % name)
    conn.close()
    return conninfo_with_db(admin, name)


def sql(url, statement):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(statement)
        rows = cur.fetchall() if cur.description else None
    conn.close()
    return rows


def timed(cmd, env=None, **kw):
    """Runs cmd; returns (seconds, peak RSS of the child in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, check=True, **kw)
    dt = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the max over all children so far: report
    # it only when it grew, else "<= previous".
    return dt, max(after, before) / 1024.0


def peak_rss_mb(cmd, env=None, **kw):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS MB)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "BENCH_RSS_KB=%M"] + cmd,
                       env=env, check=True, stderr=subprocess.PIPE,
                       **kw)
    dt = time.monotonic() - t0
    rss = 0
    for line in p.stderr.decode(errors="replace").splitlines():
        if line.startswith("BENCH_RSS_KB="):
            rss = int(line.split("=", 1)[1]) / 1024.0
    return dt, rss


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


# ---- used by export.py (and any benchmark that runs the service) --------

def loadavg():
    """The 1, 5 and 15 minute load averages, as printed by uptime."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_children(pid):
    """Direct children of pid (from /proc/<pid>/task/*/children)."""
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return kids


def proc_status_kb(pid, fields=("VmRSS", "VmHWM")):
    """{field: kB} from /proc/<pid>/status; {} once the process is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in fields:
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in
                    f.read().split(b"\0") if a]
    except OSError:
        return []


def proc_cpu_seconds(pid):
    """user+system CPU seconds of pid so far (None once it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def proc_runqueue_wait(pid):
    """Seconds pid spent runnable but waiting for a CPU (schedstat), a
    direct measure of how much other load on the machine delayed it."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return None


class RssSampler:
    """Samples VmRSS of some processes and all their descendants every
    interval seconds in a background thread; VmHWM (the kernel's own
    peak) is read with every sample too, so a process that exits early
    still has its last value.

    The role of a process is the first non-flag argument after argv[0]
    of 'bulkhead ROLE' (the supervisor re-executes itself as 'bulkhead
    api|worker|scheduler'); root_role names the roots instead ('supervisor'
    for 'bulkhead run').
    """

    def __init__(self, roots, interval=0.1, root_role=None):
        import threading
        self.roots = list(roots) if isinstance(roots, (list, tuple)) \
            else [roots]
        self.root_role = root_role
        self.interval = interval
        self.peak = {}          # pid -> max VmRSS kB
        self.hwm = {}           # pid -> VmHWM kB (last read)
        self.role = {}          # pid -> role
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _role(self, pid):
        if pid in self.roots and self.root_role:
            return self.root_role
        argv = proc_cmdline(pid)
        roles = [a for a in argv[1:] if not a.startswith("-")]
        return roles[0] if roles else (argv[0] if argv else "?")

    def _tree(self):
        pids, todo = [], list(self.roots)
        while todo:
            p = todo.pop()
            pids.append(p)
            todo.extend(proc_children(p))
        return pids

    def sample(self):
        for pid in self._tree():
            st = proc_status_kb(pid)
            if not st:
                continue
            if pid not in self.role:
                self.role[pid] = self._role(pid)
            self.peak[pid] = max(self.peak.get(pid, 0), st.get("VmRSS", 0))
            self.hwm[pid] = max(self.hwm.get(pid, 0), st.get("VmHWM", 0))
        self.samples += 1

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self):
        self.sample()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.sample()

    def by_role(self):
        """{role: (max sampled VmRSS MB, max VmHWM MB, [pids])}"""
        out = {}
        for pid, role in self.role.items():
            rss, hwm, pids = out.get(role, (0.0, 0.0, []))
            out[role] = (max(rss, self.peak.get(pid, 0) / 1024.0),
                         max(hwm, self.hwm.get(pid, 0) / 1024.0),
                         pids + [pid])
        return out


def wrk_parse(text):
    """p50, p99 (ms), requests/s and error counts from 'wrk --latency'."""
    import re

    def ms(v, unit):
        return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3,
                           "m": 6e4}[unit]
    res = {"p50": None, "p75": None, "p90": None, "p99": None,
           "rps": None, "requests": None, "non2xx": 0, "errors": ""}
    for pct, v, unit in re.findall(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)"
                                   r"\s*$", text, re.M):
        res["p" + pct] = ms(v, unit)
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    if m:
        res["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        res["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        res["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors:.*", text)
    if m:
        res["errors"] = m.group(0)
    return res
