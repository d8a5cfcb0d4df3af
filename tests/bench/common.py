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

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BULKHEAD_BIN", os.path.join(ROOT, "build", "bulkhead"))
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
