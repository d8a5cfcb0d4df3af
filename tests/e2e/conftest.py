"""Shared fixtures for the end-to-end tests.

Every test talks to the real bulkhead binary and a real PostgreSQL: the
cluster named by BULKHEAD_TEST_PG (a libpq conninfo with dbname), which
'make test' provisions (scripts/pg.sh).  Each test that needs a store gets
a database of its own, created fresh and dropped afterwards.

Authorization (issue 13): auth = smart is the server's default, so every
Server whose extra_env does not set BULKHEAD_AUTH runs with SMART Backend
Services on.  For each such server conftest registers a test client
(SmartClient: PUT /admin/api/clients/e2e-tests with the JWKS of a session
RSA key made with python3-cryptography; system/*.read, and system/*.write
registered for $import with allow_write), signs a real RS384 client
assertion and gets a REAL access token from the server's own POST
/auth/token: not a mock, nothing minted here.  It does so at the first
call to the ready server's /fhir, not at start-up: registering is an
audited admin change, and tests of the admin API and its audit trail that
never call /fhir must find only their own rows.  A hook on
requests.Session.request (the autouse fixture _smart_bearer) then adds
"Authorization: Bearer <token>" to every python-requests call whose URL
is under that server's /fhir (kick-offs, status and file URLs alike;
not /fhir/metadata and /fhir/.well-known/, which are public) when the
caller gave no Authorization header; headers={"Authorization": None}
opts out (the request goes with none).  Tokens live at most 300 s and
are fetched again 60 s before they expire.  Server.token(NAME) gives a
real token of another client NAME, for tests of per-client behaviour;
bearer_for(url) the header for helpers below python-requests.  Tests
about auth itself set BULKHEAD_AUTH and manage their own tokens
(authhelp.py).
"""
import base64
import json
import os
import re
import socket
import subprocess
import threading
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


# ---- SMART Backend Services for the test servers (see the header) ----

SMART_CLIENT = "e2e-tests"
SMART_KID = "e2e-1"
SMART_SCOPE = "system/*.read system/*.write"
_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_smart_key = None
_smart_key_lock = threading.Lock()
_smart_servers = {}             # fhir base URL -> SmartClient
_smart_servers_lock = threading.Lock()


def _b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _session_key():
    """The session's RSA key (one per pytest run), made lazily."""
    global _smart_key
    with _smart_key_lock:
        if _smart_key is None:
            from cryptography.hazmat.primitives.asymmetric import rsa
            _smart_key = rsa.generate_private_key(public_exponent=65537,
                                                  key_size=2048)
        return _smart_key


def _int_b64u(n):
    return _b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class SmartClient:
    """A test client of one server (SMART_CLIENT unless a test asks for
    more by name, Server.token): registers itself, holds a token."""

    def __init__(self, server, name=SMART_CLIENT):
        self.server = server
        self.name = name
        self.token_url = server.base + "/auth/token"
        self.registered = False
        self.token = None
        self.expires = 0.0
        self.error = None
        self.lock = threading.Lock()

    def _admin_headers(self):
        tok = self.server.env.get("BULKHEAD_ADMIN_TOKEN", "")
        if not tok:
            # No shared admin token: a principal of our own, made the
            # way an operator makes the first one (straight to the
            # database).
            r = run_cli(self.server.binary, ["admins", "add",
                                             "e2e-conftest", "--role",
                                             "admin"], db=self.server.db)
            if r.returncode != 0:
                raise RuntimeError("admins add: " + r.stderr.decode())
            tok = r.stdout.decode().strip()
        return {"Authorization": "Bearer " + tok}

    def _register(self):
        pub = _session_key().public_key().public_numbers()
        jwks = {"keys": [{"kty": "RSA", "kid": SMART_KID, "alg": "RS384",
                          "use": "sig", "n": _int_b64u(pub.n),
                          "e": _int_b64u(pub.e)}]}
        r = requests.put(self.server.base + "/admin/api/clients/" +
                         self.name, json={"jwks": jwks,
                                             "scope": SMART_SCOPE,
                                             "allow_write": True},
                         headers=self._admin_headers(), timeout=30)
        if r.status_code not in (200, 201):
            raise RuntimeError("registering %s: %d %s" % (
                self.name, r.status_code, r.text[:300]))
        self.registered = True

    def _assertion(self):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        now = int(time.time())
        header = {"alg": "RS384", "typ": "JWT", "kid": SMART_KID}
        claims = {"iss": self.name, "sub": self.name,
                  "aud": self.token_url, "exp": now + 240, "iat": now,
                  "jti": uuid.uuid4().hex}
        signing_input = _b64u(json.dumps(header)) + "." + \
            _b64u(json.dumps(claims))
        sig = _session_key().sign(signing_input.encode(),
                                  padding.PKCS1v15(), hashes.SHA384())
        return signing_input + "." + _b64u(sig)

    def _fetch(self):
        if not self.registered:
            self._register()
        r = requests.post(self.token_url, data={
            "grant_type": "client_credentials",
            "client_assertion_type": _JWT_BEARER,
            "client_assertion": self._assertion(),
            "scope": SMART_SCOPE}, headers={"Authorization": None},
            timeout=30)
        if r.status_code != 200:
            raise RuntimeError("POST /auth/token: %d %s" % (
                r.status_code, r.text[:300]))
        d = r.json()
        self.token = d["access_token"]
        self.expires = time.monotonic() + int(d["expires_in"])

    def bearer(self):
        """A valid access token (fetched again 60 s before it expires),
        or None when the server would not give one (self.error says
        why; the request then goes without one and its test sees 401)."""
        with self.lock:
            if self.token is None or time.monotonic() > self.expires - 60:
                try:
                    self._fetch()
                    self.error = None
                except (RuntimeError, requests.RequestException,
                        OSError) as e:
                    self.token = None
                    self.error = str(e)
            return self.token


# Public without a token (AUTH-D-01, the CapabilityStatement): not
# authorized, so a test of them never waits for a token.
_PUBLIC = ("/metadata", "/.well-known/")


def smart_client_of(url):
    """The SmartClient whose server's /fhir holds url (its public
    endpoints aside), or None."""
    with _smart_servers_lock:
        for base, c in _smart_servers.items():
            if url == base or url.startswith(base + "?"):
                return c
            if url.startswith(base + "/"):
                rest = url[len(base):]
                if rest.startswith(_PUBLIC):
                    return None
                return c
    return None


def bearer_for(where):
    """{"Authorization": "Bearer <token>"} for a URL (or a Server's
    /fhir), or {} when its server runs without SMART (BULKHEAD_AUTH set)
    or has no token: for helpers that talk to /fhir below
    python-requests (http.client, raw sockets)."""
    c = smart_client_of(where if isinstance(where, str) else where.fhir)
    tok = c.bearer() if c is not None else None
    return {"Authorization": "Bearer " + tok} if tok else {}


def _has_authorization(headers):
    return headers is not None and any(
        k.lower() == "authorization" for k in headers)


_real_session_request = requests.Session.request


def _session_request(self, method, url, *args, **kwargs):
    headers = kwargs.get("headers")
    if isinstance(url, (str, bytes)) and not args and \
            not _has_authorization(headers) and \
            not _has_authorization(self.headers):
        c = smart_client_of(url.decode() if isinstance(url, bytes) else url)
        tok = c.bearer() if c is not None else None
        if tok:
            h = dict(headers or {})
            h["Authorization"] = "Bearer " + tok
            kwargs["headers"] = h
    return _real_session_request(self, method, url, *args, **kwargs)


@pytest.fixture(scope="session", autouse=True)
def _smart_bearer():
    """Adds the server's real access token to python-requests calls under
    a SMART test server's /fhir (see the header comment)."""
    requests.Session.request = _session_request
    yield
    requests.Session.request = _real_session_request


class Server:
    """A running 'bulkhead <role>' process on a loopback port.  Unless
    extra_env sets BULKHEAD_AUTH it runs with the default, auth = smart,
    and gets a SmartClient (see the header comment)."""

    def __init__(self, binary, db, tmp_path, role="run", extra_env=None,
                 args=(), hostname=None):
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
        self.binary = binary
        self.smart = None
        self.smart_clients = {}
        if "BULKHEAD_AUTH" not in (extra_env or {}) and \
                self.env.get("BULKHEAD_AUTH", "smart") == "smart":
            self.smart = SmartClient(self)
            self.smart_clients[SMART_CLIENT] = self.smart
            with _smart_servers_lock:
                _smart_servers[self.fhir] = self.smart
        self.log_path = tmp_path / ("server-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        argv = [binary, role] + list(args)
        if hostname is not None:
            # Another node on this machine: a UTS namespace of its own
            # (root only), the same pid once unshare and sh have exec'd.
            argv = ["unshare", "--uts", "--", "sh", "-c",
                    'hostname "$0" && exec "$@"', hostname] + argv
        self.proc = subprocess.Popen(argv, env=self.env, stdout=self.log,
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

    def token(self, name=SMART_CLIENT):
        """A real access token of the test client name (registered at
        first use, with the session key and SMART_SCOPE), for tests that
        need several clients (per-client limits, ownership)."""
        assert self.smart is not None, "this server runs without SMART"
        c = self.smart_clients.get(name)
        if c is None:
            c = self.smart_clients[name] = SmartClient(self, name)
        tok = c.bearer()
        assert tok, c.error
        return tok

    def read_log(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout=20):
        with _smart_servers_lock:
            if self.smart is not None and \
                    _smart_servers.get(self.fhir) is self.smart:
                del _smart_servers[self.fhir]
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
    """Factory: start_server(db, role="run", extra_env=None,
    hostname=None) -> Server; hostname runs it as another node."""
    servers = []

    def start(db, role="run", extra_env=None, args=(), wait=True,
              hostname=None):
        s = Server(bulkhead_bin, db, tmp_path, role, extra_env, args,
                   hostname)
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
