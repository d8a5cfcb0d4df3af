"""Helpers for the fault tests (test_faults_pg.py, test_faults_disk.py).

  - ThrowawayCluster: a PostgreSQL cluster of the test's own (initdb in a
    fresh directory, its own port and socket directory, run as 'postgres'
    when we are root, as PostgreSQL refuses root), so that a test may
    restart or stop it.  The shared cluster of BULKHEAD_TEST_PG is never
    touched.
  - probe(): one API request, timed, checked to be an answer a client can
    act on while the database is away (never a 500, a 503 always with
    Retry-After and an OperationOutcome).
"""
import glob
import os
import shutil
import subprocess
import tempfile
import time

import requests

from conftest import Database, _admin_exec, free_port


def pg_bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2].split(".")[0]))
    return dirs[-1] if dirs else None


class ThrowawayCluster:
    def __init__(self):
        self.bindir = pg_bindir()
        assert self.bindir, "PostgreSQL server binaries not found"
        self.root = os.geteuid() == 0
        # Not under pytest's tmp_path: that is mode 0700 and postgres
        # could not enter it.
        self.dir = tempfile.mkdtemp(prefix="bh-fault-pg-", dir="/tmp")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "run")
        self.log = os.path.join(self.dir, "server.log")
        self.port = free_port()
        os.mkdir(self.sock)
        if self.root:
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self._pg("initdb", "-D", self.data, "-U", "bulkhead", "--auth=trust",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        conf = ("listen_addresses = ''\nunix_socket_directories = '%s'\n"
                "port = %d\nfsync = off\nmax_connections = 100\n"
                % (self.sock, self.port))
        self._pg("sh", "-c", "cat >> '%s/postgresql.conf'" % self.data,
                 input=conf)
        self.start()
        self.admin = "host=%s port=%d user=bulkhead dbname=postgres" % (
            self.sock, self.port)

    def _pg(self, prog, *args, input=None, check=True, timeout=120):
        exe = os.path.join(self.bindir, prog) if "/" not in prog and \
            os.path.exists(os.path.join(self.bindir, prog)) else prog
        argv = [exe] + list(args)
        if self.root:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        return subprocess.run(argv, input=input, text=True, cwd="/",
                              capture_output=True, check=check,
                              timeout=timeout)

    def ctl(self, *args):
        r = self._pg("pg_ctl", "-D", self.data, "-l", self.log, "-w",
                     "-t", "60", *args, check=False)
        assert r.returncode == 0, (args, r.stdout, r.stderr, self.tail())
        return r

    def start(self):
        self.ctl("start")

    def stop(self):
        self.ctl("-m", "fast", "stop")

    def restart(self):
        self.ctl("-m", "fast", "restart")

    def tail(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def database(self, name):
        _admin_exec(self.admin, 'CREATE DATABASE "%s"' % name)
        return Database(self.admin, name)

    def destroy(self):
        self._pg("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop",
                 check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def probe(method, url, timeout, **kw):
    """One request; returns (status, seconds).  Asserts it answered within
    timeout, and that a 5xx is a 503 with Retry-After and an
    OperationOutcome (FHIR routes) or a JSON error (admin routes)."""
    t0 = time.time()
    try:
        r = requests.request(method, url, timeout=timeout, **kw)
    except requests.Timeout:
        raise AssertionError("%s %s hung past %ss" % (method, url, timeout))
    took = time.time() - t0
    assert r.status_code != 500, (method, url, r.text)
    if r.status_code >= 500:
        assert r.status_code == 503, (method, url, r.status_code, r.text)
        assert r.headers.get("Retry-After", "").isdigit(), (url, r.headers)
        body = r.json()
        if "/fhir/" in url:
            assert body["resourceType"] == "OperationOutcome", body
            assert body["issue"][0]["code"] == "transient", body
    return r.status_code, took
