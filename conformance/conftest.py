"""Fixtures and helpers for the FHIR Bulk Data conformance checklist.

One 'bulkhead run' on one database serves the whole checklist module
(conformance_env): the demo dataset (300 families, a fixed --today, so
every meta.lastUpdated is before 2026-06-02) plus a few crafted resources
that the requirements need (a Group with inactive and ended members,
tombstones for the deleted-resource files, a resource with two versions,
one for the transactionTime race).  Exports are cached per request, so the
many requirements that read the same full export share one job.

The process and database helpers come from tests/e2e/conftest.py, loaded
under another module name so that the two conftest modules never clash.

Every server the checklist starts (running()) runs with BULKHEAD_AUTH=smart
unless a test says otherwise, and has the client "conformance" registered
(an RSA key made in the smart_key fixture, its public JWK sent through the
admin API, scope system/*.read).  Every python-requests call to a /fhir
URL of such a server, and every raw() request, carries that client's
access token from the server's own POST /auth/token, renewed before its
300 s run out.  A test that checks what a request WITHOUT a token gets
opts out explicitly with headers {"Authorization": None} (NO_TOKEN).
Jobs started with another client's token (client_headers) are polled with
that client's token, explicitly.

At the end of the run a line "conformance: N of M requirements pass"
counts the tests named test_EXP_*, test_CMP_*, test_ND_*, test_PP_* and
test_AUTH_*.
"""
import gzip
import importlib.util
import json
import os
import subprocess
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg2
import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
_spec = importlib.util.spec_from_file_location(
    "bulkhead_e2e_conftest", os.path.join(ROOT, "tests", "e2e", "conftest.py"))
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

Database = e2e.Database
Server = e2e.Server
run_cli = e2e.run_cli

_spec = importlib.util.spec_from_file_location(
    "bulkhead_e2e_authhelp", os.path.join(ROOT, "tests", "e2e",
                                          "authhelp.py"))
authhelp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(authhelp)

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
TODAY = "2026-06-01"            # generate --today: all data is older
FAMILIES = 300
SEED = 4242
CRAFTED_UPDATED = "2026-05-20T10:00:00Z"
DELETED_AT = "2026-06-10T00:00:00Z"     # tombstones: after all data
POLL_TIMEOUT = 90               # seconds for one export to finish
REQ_PREFIXES = ("test_EXP_", "test_CMP_", "test_ND_", "test_PP_",
                "test_AUTH_")
AUTH_CLIENT = "conformance"     # the checklist's own SMART client
AUTH_SCOPE = "system/*.read"
TOKEN_RENEW = 200               # seconds: a new token before 300 s pass
NO_TOKEN = {"Authorization": None}      # opt out: a request without one


# ---- the summary line ------------------------------------------------------

def pytest_terminal_summary(terminalreporter, exitstatus, config):
    outcome = {}
    for key in ("passed", "failed", "error", "xfailed", "xpassed",
                "skipped"):
        for rep in terminalreporter.stats.get(key, []):
            nodeid = getattr(rep, "nodeid", "")
            name = nodeid.split("::")[-1].split("[")[0]
            if not name.startswith(REQ_PREFIXES):
                continue
            # A requirement passes only if every phase of every case did.
            ok = key == "passed"
            outcome[nodeid] = outcome.get(nodeid, True) and ok
    if not outcome:
        return
    by_req = {}
    for nodeid, ok in outcome.items():
        req = nodeid.split("::")[-1].split("[")[0]
        by_req[req] = by_req.get(req, True) and ok
    n = sum(1 for ok in by_req.values() if ok)
    terminalreporter.write_line("conformance: %d of %d requirements pass" %
                                (n, len(by_req)))


# ---- SMART clients and their tokens ----------------------------------------

def b64u_int(n):
    return authhelp.b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def public_jwk(key, kid):
    """The bare public JWK of an RSA or P-384 key (AUTH-R-03)."""
    pub = key.public_key().public_numbers()
    if hasattr(pub, "n"):
        return {"kty": "RSA", "kid": kid, "n": b64u_int(pub.n),
                "e": b64u_int(pub.e)}
    return {"kty": "EC", "kid": kid, "crv": "P-384",
            "x": authhelp.b64u(pub.x.to_bytes(48, "big")),
            "y": authhelp.b64u(pub.y.to_bytes(48, "big"))}


class Client:
    """A registered SMART backend client of one server and its current
    access token (AUTH-A-04: renewed, as a client polling a long export
    must)."""

    def __init__(self, server, name, key, scope=AUTH_SCOPE):
        self.server = server
        self.name = name
        self.key = key
        self.kid = name + "-1"
        self.scope = scope
        self._token = None
        self._got = 0.0

    def register(self):
        authhelp.register(self.server.base, self.name, {
            "jwks": {"keys": [public_jwk(self.key, self.kid)]},
            "scope": self.scope})
        return self

    def token(self):
        if self._token is None or \
                time.monotonic() - self._got > TOKEN_RENEW:
            self._token, _ = authhelp.get_token(
                self.server.base, self.name, self.key, self.kid,
                self.scope)
            self._got = time.monotonic()
        return self._token

    def headers(self):
        return {"Authorization": "Bearer " + self.token()}


_KEY = []               # the session's client key (smart_key)
_CLIENTS = {}           # "127.0.0.1:PORT" -> {name: Client}


def server_client(server, name=AUTH_CLIENT, scope=AUTH_SCOPE):
    """The Client name of server (registered on first use), or None when
    the server runs without auth."""
    netloc = urlsplit(server.base).netloc
    if netloc not in _CLIENTS:
        return None
    clients = _CLIENTS[netloc]
    if name not in clients:
        assert _KEY, "the smart_key fixture has not run"
        clients[name] = Client(server, name, _KEY[0], scope).register()
    return clients[name]


def client_headers(server, name=AUTH_CLIENT):
    """Authorization for server as client name ({} with auth = none)."""
    c = server_client(server, name)
    return c.headers() if c is not None else {}


def _has_auth(headers):
    return any(k.lower() == "authorization" for k in (headers or {}))


_request = requests.Session.request


def _request_with_token(self, method, url, **kw):
    """requests.Session.request, adding the conformance client's token to
    a /fhir URL of a server with auth unless Authorization is given
    (None included: the opt-out)."""
    parts = urlsplit(url)
    if parts.netloc in _CLIENTS and parts.path.startswith("/fhir") and \
            not _has_auth(kw.get("headers")):
        c = _CLIENTS[parts.netloc].get(AUTH_CLIENT)
        if c is not None:
            kw["headers"] = dict(kw.get("headers") or {}, **c.headers())
    return _request(self, method, url, **kw)


@pytest.fixture(scope="session", autouse=True)
def smart_key():
    """The checklist's client key (RSA 2048, signing RS384) and the token
    on every request to a server with auth."""
    _KEY.append(authhelp.rsa_key())
    requests.Session.request = _request_with_token
    try:
        yield _KEY[0]
    finally:
        requests.Session.request = _request
        _KEY.clear()


# ---- databases and servers -------------------------------------------------

def admin_exec(admin, sql):
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


@pytest.fixture(scope="session")
def bh_bin():
    path = os.environ.get("BULKHEAD_BIN", os.path.join(ROOT, "build",
                                                       "bulkhead"))
    assert os.access(path, os.X_OK), "build the binary first: " + path
    return path


@pytest.fixture(scope="session")
def bh_pg():
    conninfo = os.environ.get("BULKHEAD_TEST_PG")
    if not conninfo:
        pytest.fail("BULKHEAD_TEST_PG is not set: run the tests via "
                    "'make test'")
    return conninfo


@contextmanager
def fresh_database(admin):
    """A new empty database, dropped on exit."""
    db = Database(admin, "bh_conf_" + uuid.uuid4().hex[:12])
    admin_exec(admin, 'CREATE DATABASE "%s"' % db.name)
    try:
        yield db
    finally:
        admin_exec(admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' %
                   db.name)


@contextmanager
def running(binary, db, tmp, role="run", extra_env=None, wait=True):
    """A bulkhead process, with auth = smart unless extra_env says
    BULKHEAD_AUTH itself; stopped on exit, with a clean log required."""
    env = {"BULKHEAD_AUTH": "smart"}
    env.update(extra_env or {})
    s = Server(binary, db, tmp, role, env)
    netloc = urlsplit(s.base).netloc
    try:
        if wait:
            s.wait_ready()
            if env["BULKHEAD_AUTH"] == "smart" and role in ("run",
                                                            "serve"):
                _CLIENTS[netloc] = {}
                server_client(s)
        yield s
    finally:
        _CLIENTS.pop(netloc, None)
        rc = s.stop()
        log = s.log_path.read_text(errors="replace")
        assert "ERROR: AddressSanitizer" not in log, log
        assert "runtime error:" not in log, log
        assert "LeakSanitizer" not in log, log
        assert rc == 0, "%s exited %s:\n%s" % (role, rc, log[-4000:])


def cli(binary, db, *args):
    r = run_cli(binary, list(args), db=db)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert b"Sanitizer" not in r.stderr, r.stderr.decode(errors="replace")
    return r


def write_ndjson(path, resources):
    with open(path, "w", encoding="utf-8") as f:
        for r in resources:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


def read_ndjson(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---- the HTTP side ---------------------------------------------------------

def is_outcome(resp, status=None):
    """Asserts an OperationOutcome JSON body (and the status); returns it."""
    if status is not None:
        assert resp.status_code == status, (resp.status_code, resp.text)
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith((FHIR_JSON, "application/json")), ctype
    oo = resp.json()
    assert oo["resourceType"] == "OperationOutcome", oo
    assert oo["issue"] and all("severity" in i and "code" in i
                               for i in oo["issue"]), oo
    return oo


def sleep_for(resp):
    """Retry-After honoured, capped at 1 s (test budget)."""
    ra = resp.headers.get("Retry-After", "1")
    try:
        return min(max(float(ra), 0.05), 1.0)
    except ValueError:
        return 1.0


def check_empty_or_outcome(resp):
    """An answer labelled JSON must hold JSON, and an empty 202 must not
    be labelled JSON (EXP-S-05): a client that parses any body labelled
    JSON would fail on it.  Returns resp."""
    ctype = resp.headers.get("Content-Type", "")
    if "json" in ctype:
        assert resp.content, ("empty body labelled %s" % ctype,
                              resp.status_code, resp.url)
        body = json.loads(resp.content)
        if resp.status_code in (202, 204) or resp.headers.get(
                "X-Export-Status", "").startswith("202"):
            assert body.get("resourceType") == "OperationOutcome", body
    return resp


def in_progress(resp):
    check_empty_or_outcome(resp)
    if resp.status_code == 202:
        return True
    xs = resp.headers.get("X-Export-Status")
    return resp.status_code == 200 and xs is not None and \
        xs.startswith("202")


def poll(url, headers=None, timeout=POLL_TIMEOUT):
    """Polls a status URL until the job is no longer in progress."""
    deadline = time.monotonic() + timeout
    time.sleep(0.3)
    while True:
        r = requests.get(url, headers=headers or {}, timeout=30)
        if not in_progress(r):
            return r
        assert time.monotonic() < deadline, "export still running: " + url
        time.sleep(sleep_for(r))


def zstd_decode(data):
    p = subprocess.run(["zstd", "-d", "-c", "-q"], input=data,
                       capture_output=True, check=True)
    return p.stdout


def download(url, accept_encoding="identity", headers=None):
    h = {"Accept-Encoding": accept_encoding}
    h.update(headers or {})
    r = requests.get(url, headers=h, stream=True, timeout=60)
    raw = r.raw.read(decode_content=False)
    r._raw_bytes = raw
    # .json() and .text read the bytes as sent (errors are identity).
    r._content = raw
    r._content_consumed = True
    return r


def raw_bytes(resp):
    return resp._raw_bytes


def identity_bytes(resp):
    enc = resp.headers.get("Content-Encoding", "identity")
    raw = resp._raw_bytes
    if enc == "gzip":
        return gzip.decompress(raw)
    if enc == "zstd":
        return zstd_decode(raw)
    assert enc == "identity", enc
    return raw


class Export:
    """A finished export: kick-off response, final status response."""

    def __init__(self, env, kickoff, final):
        self.env = env
        self.kickoff = kickoff
        self.final = final
        self.url = kickoff.headers.get("Content-Location")

    @property
    def manifest(self):
        assert self.final.status_code == 200, (self.final.status_code,
                                                self.final.text)
        return self.final.json()

    def items(self, channel="output"):
        return self.manifest.get(channel) or []

    def lines(self, channel="output", type_=None):
        """{type: [line, ...]} of every file of a channel."""
        out = {}
        for item in self.items(channel):
            if type_ is not None and item.get("type") != type_:
                continue
            data = self.env.file_bytes(item["url"])
            out.setdefault(item.get("type"), []).extend(
                data.decode("utf-8").splitlines())
        return out

    def resources(self, channel="output"):
        """{type: {id: resource}}."""
        out = {}
        for t, lines in self.lines(channel).items():
            d = out.setdefault(t, {})
            for line in lines:
                r = json.loads(line)
                d[r["id"]] = r
        return out

    def ids(self, channel="output"):
        return {(t, i) for t, d in self.resources(channel).items()
                for i in d}


class Env:
    """The module's server, database and dataset, with an export cache."""

    def __init__(self, server, db, data_dir, crafted):
        self.server = server
        self.db = db
        self.fhir = server.fhir
        self.data_dir = data_dir
        self.crafted = crafted
        self._exports = {}
        self._files = {}

    # -- kick-off and polling
    def kickoff(self, path="/$export", params=None, method="GET", body=None,
                headers=None):
        h = {"Accept": FHIR_JSON, "Prefer": "respond-async"}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        url = self.fhir + path
        if method == "GET":
            return requests.get(url, params=params, headers=h, timeout=30)
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", FHIR_JSON)
        return requests.request(method, url, params=params, data=body,
                                headers=h, timeout=30)

    def export(self, path="/$export", params=None, method="GET", body=None,
               headers=None, cache=True):
        """Runs one export to its end (cached by request)."""
        key = (path, json.dumps(params, sort_keys=True), method,
               json.dumps(body, sort_keys=True),
               json.dumps(headers, sort_keys=True))
        if cache and key in self._exports:
            return self._exports[key]
        k = self.kickoff(path, params, method, body, headers)
        assert k.status_code == 202, (k.status_code, k.text)
        e = Export(self, k, poll(k.headers["Content-Location"]))
        if cache:
            self._exports[key] = e
        return e

    def exports(self, specs):
        """Several exports at once: kick all off, then wait for all."""
        kicked = []
        for spec in specs:
            k = self.kickoff(**spec)
            assert k.status_code == 202, (spec, k.status_code, k.text)
            kicked.append(k)
        return [Export(self, k, poll(k.headers["Content-Location"]))
                for k in kicked]

    def file_bytes(self, url):
        if url not in self._files:
            r = download(url)
            assert r.status_code == 200, (url, r.status_code)
            self._files[url] = identity_bytes(r)
        return self._files[url]

    # -- the store
    def store(self, where="true", args=None):
        """{(type, id): content} of live rows matching a condition."""
        rows = self.db.query("SELECT type, id, content FROM resources "
                             "WHERE NOT deleted AND (%s)" % where, args)
        return {(t, i): c for t, i, c in rows}

    def store_ids(self, where="true", args=None):
        return set(self.store(where, args))


@pytest.fixture(scope="module")
def conformance_env(bh_bin, bh_pg, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conformance")
    gen = tmp / "gen"
    with fresh_database(bh_pg) as db:
        cli(bh_bin, None, "generate", "--families", str(FAMILIES), "--seed",
            str(SEED), "--out", str(gen), "--today", TODAY)
        patients = sorted(read_ndjson(gen / "Patient.ndjson"),
                          key=lambda p: p["id"])
        orgs = sorted(read_ndjson(gen / "Organization.ndjson"),
                      key=lambda o: o["id"])
        crafted = craft(tmp / "crafted", patients, orgs)
        env_vars = {"BULKHEAD_EXPORT_MAX_PER_CLIENT": "1000",
                    "BULKHEAD_WORKERS": "2"}
        with running(bh_bin, db, tmp, "run", env_vars) as server:
            cli(bh_bin, db, "load", str(gen))
            cli(bh_bin, db, "load", str(tmp / "crafted" / "v1"))
            # A second version of one resource (EXP-F-06).
            cli(bh_bin, db, "load", "--merge", str(tmp / "crafted" / "v2"))
            # Tombstones: deletion has no API yet (EXP-DEL-01, EXP-M-05).
            # Deleted "on" DELETED_AT, after every row of the dataset but
            # in the past, so that every export's transactionTime (which
            # a writer still open elsewhere may hold back) covers them.
            db.query("UPDATE resources SET deleted = true, last_updated = "
                     "%s WHERE (type, id) IN (('Patient', 'conf-del-1'),"
                     " ('Coverage', 'conf-del-cov'))", [DELETED_AT])
            yield Env(server, db, tmp / "data", crafted)


def craft(root, patients, orgs):
    """Writes the crafted resources; returns what tests need to know."""
    v1, v2 = root / "v1", root / "v2"
    v1.mkdir(parents=True)
    v2.mkdir(parents=True)
    meta = {"lastUpdated": CRAFTED_UPDATED}
    p = [x["id"] for x in patients[:4]]
    group = {
        "resourceType": "Group", "id": "conf-group", "meta": meta,
        "type": "person", "actual": True, "name": "crafted cohort",
        "member": [
            {"entity": {"reference": "Patient/" + p[0]}},
            {"entity": {"reference": "Patient/" + p[1]}, "inactive": True},
            {"entity": {"reference": "Patient/" + p[2]},
             "period": {"start": "2019-01-01", "end": "2020-01-01"}},
            {"entity": {"reference": "Patient/" + p[3]},
             "period": {"start": "2019-01-01", "end": "2099-12-31"}},
        ],
    }
    extra = [
        {"resourceType": "Patient", "id": "conf-del-1", "meta": meta,
         "gender": "other", "birthDate": "1970-01-01"},
        {"resourceType": "Coverage", "id": "conf-del-cov", "meta": meta,
         "status": "active",
         "beneficiary": {"reference": "Patient/conf-del-1"},
         "payor": [{"reference": "Organization/" + orgs[0]["id"]}]},
        {"resourceType": "Patient", "id": "conf-pp09", "meta": meta,
         "gender": "unknown", "birthDate": "1971-01-01"},
    ]
    ver1 = {"resourceType": "Patient", "id": "conf-ver", "meta": meta,
            "gender": "female", "name": [{"family": "VersionOne"}]}
    ver2 = dict(ver1, meta={"lastUpdated": "2026-05-21T10:00:00Z"},
                name=[{"family": "VersionTwo"}])
    write_ndjson(v1 / "Group.ndjson", [group])
    write_ndjson(v1 / "Patient.ndjson", [r for r in extra
                                          if r["resourceType"] == "Patient"]
                 + [ver1])
    write_ndjson(v1 / "Coverage.ndjson", [r for r in extra
                                           if r["resourceType"] == "Coverage"])
    write_ndjson(v2 / "Patient.ndjson", [ver2])
    # Provenance of two patients' records (includeAssociatedData): p[0]
    # has an old and a new one, p[3] one targeting two resources, and one
    # targets a resource that is not in the store.
    def prov(pid, recorded, targets):
        return {"resourceType": "Provenance", "id": pid, "meta": meta,
                "recorded": recorded,
                "target": [{"reference": t} for t in targets],
                "agent": [{"who": {"reference": "Organization/" +
                                   orgs[0]["id"]}}]}
    provs = [
        prov("conf-prov-old", "2020-01-01T00:00:00Z", ["Patient/" + p[0]]),
        prov("conf-prov-new", "2024-01-01T00:00:00+02:00",
             ["Patient/" + p[0]]),
        prov("conf-prov-two", "2023-01-01T00:00:00Z",
             ["Patient/" + p[3], "Group/conf-group"]),
        prov("conf-prov-none", "2023-01-01T00:00:00Z",
             ["Patient/no-such-patient"]),
    ]
    write_ndjson(v1 / "Provenance.ndjson", provs)
    return {"provenance": {x["id"]: x for x in provs},"group": "conf-group", "active_members": {p[0], p[3]},
            "inactive_members": {p[1], p[2]}, "patients": p}
