"""Shared fixtures for the end-to-end tests.

Every test talks to the real bulkhead binary and a real PostgreSQL: the
cluster named by BULKHEAD_TEST_PG (a libpq conninfo with dbname), which
'make test' provisions (scripts/pg.sh).  Each test that needs a store gets
a database of its own, created fresh and dropped afterwards.
"""
import os
import re
import socket
import subprocess
import time
import uuid

import psycopg2
import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _conninfo_with_db(conninfo, dbname):
    parts = [p for p in conninfo.split() if not p.startswith("dbname=")]
    return " ".join(parts + ["dbname=" + dbname])


@pytest.fixture(scope="session")
def bulkhead_bin():
    path = os.environ.get("BULKHEAD_BIN", os.path.join(ROOT, "build", "bulkhead"))
    assert os.access(path, os.X_OK), "build the binary first: " + path
    return path


@pytest.fixture(scope="session")
def pg_admin():
    """Conninfo of the test cluster's maintenance database."""
    conninfo = os.environ.get("BULKHEAD_TEST_PG")
    if not conninfo:
        pytest.fail("BULKHEAD_TEST_PG is not set: run the tests via 'make test'")
    return conninfo


class Database:
    def __init__(self, admin, name):
        self.admin = admin
        self.name = name
        self.url = _conninfo_with_db(admin, name)

    def connect(self):
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        return conn

    def query(self, sql, args=None):
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            rows = cur.fetchall() if cur.description else None
        conn.close()
        return rows

    def scalar(self, sql, args=None):
        return self.query(sql, args)[0][0]


def _admin_exec(admin, sql):
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


@pytest.fixture
def db(pg_admin):
    """A fresh, empty database for one test (migrations not applied)."""
    name = "bh_test_" + uuid.uuid4().hex[:12]
    _admin_exec(pg_admin, 'CREATE DATABASE "%s"' % name)
    yield Database(pg_admin, name)
    _admin_exec(pg_admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running 'bulkhead <role>' process on a loopback port."""

    def __init__(self, binary, db, tmp_path, role="run", extra_env=None,
                 args=()):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.fhir = self.base + "/fhir"
        self.db = db
        self.env = dict(os.environ)
        self.env.update({
            "BULKHEAD_DATABASE_URL": db.url,
            "BULKHEAD_LISTEN": "127.0.0.1:%d" % self.port,
            "BULKHEAD_DATA_DIR": str(tmp_path / "data"),
            "BULKHEAD_IMPORT_DIR": str(tmp_path / "import"),
            "BULKHEAD_ADMIN_TOKEN": "test-admin-token",
            "BULKHEAD_WORKERS": "2",
        })
        if extra_env:
            self.env.update(extra_env)
        self.log_path = tmp_path / ("server-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary, role] + list(args),
                                     env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited %d:\n%s" % (
                    self.proc.returncode, self.read_log()))
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError("server not ready:\n" + self.read_log())

    def read_log(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def start_server(bulkhead_bin, tmp_path):
    """Factory: start_server(db, role="run", extra_env=None) -> Server."""
    servers = []

    def start(db, role="run", extra_env=None, args=(), wait=True):
        s = Server(bulkhead_bin, db, tmp_path, role, extra_env, args)
        servers.append(s)
        return s.wait_ready() if wait else s

    yield start
    for s in servers:
        rc = s.stop()
        # A clean shutdown is part of the contract; sanitizer reports too.
        log = s.read_log() if not s.log.closed else s.log_path.read_text(errors="replace")
        assert "ERROR: AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log


@pytest.fixture
def server(db, start_server):
    """The whole service ('bulkhead run') on a fresh database."""
    return start_server(db)


def run_cli(binary, args, db=None, env=None, input=None, timeout=120):
    e = dict(os.environ)
    if db is not None:
        e["BULKHEAD_DATABASE_URL"] = db.url
    if env:
        e.update(env)
    return subprocess.run([binary] + list(args), env=e, input=input,
                          capture_output=True, timeout=timeout)


# ---- the kernel's per-thread time slices (src/lib/slice.h) ----

def custom_slices():
    """True when the kernel takes a thread's own time slice (EEVDF with
    sched_setattr's sched_runtime, Linux 6.12) and shows it."""
    major, minor = (int(x) for x in
                    re.match(r"(\d+)\.(\d+)", os.uname().release).groups())
    if (major, minor) < (6, 12):
        return False
    return slice_of(os.getpid()) is not None


def slice_of(pid):
    """se.slice of a thread in ns, from /proc/PID/sched; None if absent."""
    try:
        with open("/proc/%d/sched" % pid) as f:
            m = re.search(r"^se\.slice\s*:\s*(\d+)", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) if m else None
