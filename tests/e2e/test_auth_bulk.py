"""SMART Backend Services, the resource-server side (issue 13, SPEC §2.8
AUTH-BE-*): the bulk endpoints ($export at every level, $import, the
status URL, DELETE and file downloads) against a real 'bulkhead run'
with auth = smart, on a small generated store.

Clients (registered through the admin API, RSA keys made here):
  alpha   system/Patient.read system/Coverage.read
  beta    system/*.read
  writer  system/Patient.write system/Patient.read (allow_write)

Every refusal checks the status, the OperationOutcome body, that no job
was created, and (at the end of the module) that the server log holds no
token.  Tokens the token endpoint never issues (expired, foreign key)
are minted here (authhelp.mint), with the server's key read from
auth_keys or a random one.
"""
import json
import os
import time
import uuid

import pytest
import requests

from authhelp import (get_token, jwks_of, mint, register, rsa_key,
                      b64u, b64u_decode)
from conftest import Database, Server, _admin_exec, run_cli

FHIR_JSON = "application/fhir+json"
KICK = {"Accept": FHIR_JSON, "Prefer": "respond-async"}


class Env:
    def __init__(self, server, db, tmp, binary):
        self.server = server
        self.db = db
        self.tmp = tmp
        self.bin = binary
        self.keys = {}
        self.secrets = []

    def cli(self, *args):
        return run_cli(self.bin, list(args), db=self.db,
                       env={"BULKHEAD_API_URL": self.server.base,
                            "BULKHEAD_ADMIN_TOKEN": "test-admin-token",
                            "BULKHEAD_LISTEN": "127.0.0.1:%d" %
                            self.server.port})

    def add_client(self, name, scope, allow_write=False):
        key = rsa_key()
        self.keys[name] = key
        body = {"jwks": jwks_of(self.cli, self.tmp, key, name + "-1"),
                "scope": scope}
        if allow_write:
            body["allow_write"] = True
        register(self.server.base, name, body)

    def token(self, name, scope):
        tok, granted = get_token(self.server.base, name, self.keys[name],
                                 name + "-1", scope)
        self.secrets.append(tok)
        return tok

    def jobs(self):
        return self.db.scalar("SELECT count(*) FROM jobs")

    def kickoff(self, token=None, path="/$export", method="GET",
                headers=None, **kw):
        h = dict(KICK)
        if token is not None:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        return requests.request(method, self.server.fhir + path,
                                headers=h, **kw)

    def poll(self, loc, token, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = requests.get(loc, headers=bearer(token))
            if r.status_code != 202:
                return r
            time.sleep(0.3)
        raise AssertionError("job did not finish: " + loc)

    def export(self, token, path="/$export", **kw):
        """Kick-off, poll to completion: (status URL, manifest)."""
        r = self.kickoff(token, path, **kw)
        assert r.status_code == 202, r.text
        loc = r.headers["Content-Location"]
        r = self.poll(loc, token)
        assert r.status_code == 200, r.text
        return loc, r.json()


def bearer(token):
    return {"Authorization": "Bearer " + token} if token else {}


def outcome(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["resourceType"] == "OperationOutcome", body
    if code is not None:
        assert body["issue"][0]["code"] == code, body
    return body


def unauthorized(r):
    """AUTH-BE-08: 401, reason phrase exactly Unauthorized, a Bearer
    challenge, an OperationOutcome."""
    outcome(r, 401, "login")
    assert r.reason == "Unauthorized"
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")


def forbidden(r):
    outcome(r, 403, "forbidden")
    assert "insufficient_scope" in r.headers["WWW-Authenticate"]


@pytest.fixture(scope="module")
def env(bulkhead_bin, pg_admin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("authbulk")
    (tmp / "import").mkdir()
    gen = tmp / "gen"
    r = run_cli(bulkhead_bin, ["generate", "--families", "4", "--seed", "7",
                               "--out", str(gen), "--today", "2026-06-01"])
    assert r.returncode == 0, r.stderr
    name = "bh_test_" + uuid.uuid4().hex[:12]
    _admin_exec(pg_admin, 'CREATE DATABASE "%s"' % name)
    db = Database(pg_admin, name)
    server = Server(bulkhead_bin, db, tmp, "run", {
        "BULKHEAD_AUTH": "smart",
        "BULKHEAD_EXPORT_MAX_PER_CLIENT": "100"})
    log = ""
    try:
        server.wait_ready()
        r = run_cli(bulkhead_bin, ["load", str(gen)], db=db)
        assert r.returncode == 0, r.stderr
        e = Env(server, db, str(tmp), bulkhead_bin)
        e.add_client("alpha", "system/Patient.read system/Coverage.read")
        e.add_client("beta", "system/*.read")
        e.add_client("writer", "system/Patient.write system/Patient.read",
                     allow_write=True)
        yield e
        log = server.read_log()
        for s in e.secrets:
            for part in s.split("."):
                if len(part) > 20:
                    assert part not in log, "token material in the log"
    finally:
        server.stop()
        log = server.log_path.read_text(errors="replace")
        _admin_exec(pg_admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                    % name)
    assert "ERROR: AddressSanitizer" not in log, log
    assert "runtime error:" not in log, log


@pytest.fixture(scope="module")
def alpha_job(env):
    """A completed system export by alpha (Patient and Coverage)."""
    tok = env.token("alpha", "system/Patient.read system/Coverage.read")
    loc, manifest = env.export(tok)
    return loc, manifest


def file_of(manifest, type_):
    return [o["url"] for o in manifest["output"] if o["type"] == type_][0]


# ---- 401: no token, malformed, expired, foreign (AUTH-BE-01, -08) ---------

@pytest.mark.parametrize("method,path", [
    ("GET", "/$export"), ("POST", "/$export"), ("GET", "/Patient/$export"),
    ("GET", "/Group/g1/$export"), ("POST", "/$import")])
def test_kickoff_without_token_answers_401_unauthorized_no_job(env, method,
                                                                path):
    """AUTH-BE-01/08: no Authorization header: 401 Unauthorized,
    WWW-Authenticate Bearer without an error code, OperationOutcome,
    and no job."""
    n = env.jobs()
    r = env.kickoff(None, path, method,
                    json={"resourceType": "Parameters"} if method == "POST"
                    else None)
    unauthorized(r)
    assert "error=" not in r.headers["WWW-Authenticate"]
    assert env.jobs() == n


def test_status_delete_and_file_without_token_answer_401(env, alpha_job):
    """AUTH-BE-06: the status URL, DELETE and a file need a token too."""
    loc, manifest = alpha_job
    unauthorized(requests.get(loc))
    unauthorized(requests.delete(loc))
    unauthorized(requests.get(file_of(manifest, "Patient")))


@pytest.mark.parametrize("value", [
    "Bearer not-a-jwt", "Bearer a.b.c", "Bearer ", "Basic dXNlcjpwYXNz",
    "Bearer " + "x" * 9000],
    ids=["not-a-jwt", "a.b.c", "empty", "basic", "over-8-kib"])
def test_kickoff_with_malformed_bearer_answers_401_invalid_token(env, value):
    """AUTH-BE-08: a malformed Authorization header: 401, no job."""
    n = env.jobs()
    r = env.kickoff(headers={"Authorization": value})
    unauthorized(r)
    assert env.jobs() == n


def test_kickoff_with_expired_token_answers_401_invalid_token(env):
    """AUTH-BE-01: a token signed with the server's own key whose exp is
    ten minutes past (beyond any clock skew): 401 invalid_token."""
    tok = mint(env.db, env.server.base, "beta", "system/*.read",
               exp_in=-600)
    env.secrets.append(tok)
    n = env.jobs()
    r = env.kickoff(tok)
    unauthorized(r)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert env.jobs() == n


def test_token_accepted_then_expired_answers_401_invalid_token(env):
    """AUTH-BE-01: a token the server has already accepted (and so
    remembers, see api/auth_bearer.c) is refused once its exp passes:
    the remembered verdict does not outlive the token."""
    tok = mint(env.db, env.server.base, "beta", "system/*.read", exp_in=3)
    env.secrets.append(tok)
    r = env.kickoff(tok)
    assert r.status_code == 202, r.text
    r = env.kickoff(tok)
    assert r.status_code == 202, r.text
    time.sleep(4)
    n = env.jobs()
    r = env.kickoff(tok)
    unauthorized(r)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert env.jobs() == n


def test_kickoff_with_tampered_exp_answers_401_invalid_token(env):
    """AUTH-BE-01: a valid token whose exp was pushed forward fails its
    signature."""
    tok = env.token("beta", "system/*.read")
    head, claims, sig = tok.split(".")
    c = json.loads(b64u_decode(claims))
    c["exp"] += 3600
    n = env.jobs()
    r = env.kickoff(head + "." + b64u(json.dumps(c)) + "." + sig)
    unauthorized(r)
    assert env.jobs() == n


@pytest.mark.parametrize("same_kid", [True, False])
def test_kickoff_with_token_of_another_servers_key_answers_401(env,
                                                               same_kid):
    """AUTH-BE-01: a token shaped like ours but signed HS256 with a random
    key (under our kid, or an unknown one): 401, no job."""
    tok = mint(env.db, env.server.base, "beta", "system/*.read",
               secret=os.urandom(32),
               kid=None if same_kid else os.urandom(8).hex())
    env.secrets.append(tok)
    n = env.jobs()
    r = env.kickoff(tok)
    unauthorized(r)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert env.jobs() == n


# ---- a valid token ---------------------------------------------------------

def test_kickoff_with_valid_token_answers_202_and_files_download(env,
                                                                 alpha_job):
    """AUTH-BE-05/06: alpha's export without _type holds exactly the
    types its scopes read; the manifest says requiresAccessToken true;
    the job is alpha's; a download with alpha's token works."""
    loc, manifest = alpha_job
    assert manifest["requiresAccessToken"] is True
    assert sorted({o["type"] for o in manifest["output"]}) == \
        ["Coverage", "Patient"]
    jid = loc.rsplit("/", 1)[1]
    assert env.db.scalar("SELECT client FROM jobs WHERE id = %s",
                         (jid,)) == "smart:alpha"
    tok = env.token("alpha", "system/Patient.read system/Coverage.read")
    r = requests.get(file_of(manifest, "Patient"),
                     headers=dict(bearer(tok),
                                  **{"Accept-Encoding": "identity"}))
    assert r.status_code == 200, r.text
    lines = [json.loads(x) for x in r.text.splitlines() if x]
    assert lines and {x["resourceType"] for x in lines} == {"Patient"}


def test_patient_and_group_kickoff_with_valid_token_answer_202(env):
    """AUTH-BE-01: the Patient level with a valid token; the job holds
    only the token's types.  The Group level with a token that reads
    Group (AUTH-BE-07: beta's; alpha's is refused, see below)."""
    tok = env.token("alpha", "system/Patient.read")
    loc, manifest = env.export(tok, "/Patient/$export")
    assert {o["type"] for o in manifest["output"]} == {"Patient"}
    gid = env.db.scalar("SELECT id FROM resources WHERE type = 'Group' "
                        "AND NOT deleted ORDER BY id LIMIT 1")
    r = env.kickoff(env.token("beta", "system/*.read"),
                    "/Group/%s/$export" % gid)
    assert r.status_code == 202, r.text


# ---- another client's job (AUTH-BE-06: 404, not 403) -----------------------

def test_other_clients_token_on_status_delete_and_file_answers_404(env,
                                                                   alpha_job):
    """AUTH-BE-06 (EXP-SEC-04): beta reads everything, yet alpha's job is
    not there for it: status, DELETE and files answer 404, and the job
    stays alpha's and intact."""
    loc, manifest = alpha_job
    tok = env.token("beta", "system/*.read")
    outcome(requests.get(loc, headers=bearer(tok)), 404, "not-found")
    outcome(requests.delete(loc, headers=bearer(tok)), 404, "not-found")
    outcome(requests.get(file_of(manifest, "Patient"), headers=bearer(tok)),
            404, "not-found")
    mine = env.token("alpha", "system/Patient.read system/Coverage.read")
    r = requests.get(loc, headers=bearer(mine))
    assert r.status_code == 200 and r.json()["output"]


def test_owner_delete_with_token_answers_202(env):
    """The owner's DELETE still works (EXP-D-*)."""
    tok = env.token("beta", "system/*.read")
    r = env.kickoff(tok, params={"_type": "Patient"})
    assert r.status_code == 202, r.text
    loc = r.headers["Content-Location"]
    r = requests.delete(loc, headers=bearer(tok))
    assert r.status_code == 202, r.text
    outcome(requests.get(loc, headers=bearer(tok)), 404)


# ---- scopes of a download ---------------------------------------------------

def test_download_of_coverage_with_patient_only_token_answers_403(env,
                                                                  alpha_job):
    """AUTH-BE-06: the same client, a token it asked with the narrower
    scope system/Patient.read: its Coverage file answers 403, its
    Patient file 200."""
    loc, manifest = alpha_job
    tok = env.token("alpha", "system/Patient.read")
    forbidden(requests.get(file_of(manifest, "Coverage"),
                           headers=bearer(tok)))
    r = requests.get(file_of(manifest, "Patient"), headers=bearer(tok))
    assert r.status_code == 200


# ---- _type outside the scopes (AUTH-BE-02, -04) ------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_type_claim_with_patient_only_token_answers_403_no_job(env, method):
    """AUTH-BE-02: _type=Claim asked with system/Patient.read: 403
    OperationOutcome (insufficient_scope), no job."""
    tok = env.token("alpha", "system/Patient.read")
    n = env.jobs()
    if method == "GET":
        r = env.kickoff(tok, params={"_type": "Patient,Claim"})
    else:
        r = env.kickoff(tok, method="POST", json={
            "resourceType": "Parameters",
            "parameter": [{"name": "_type", "valueString": "Claim"}]})
    forbidden(r)
    assert "Claim" in r.json()["issue"][0]["diagnostics"]
    assert env.jobs() == n


def test_type_claim_under_lenient_answers_202_warning_and_no_claim(env):
    """AUTH-BE-02 under Prefer: handling=lenient: Claim is dropped, the
    manifest's error file warns of it, and no Claim file is written."""
    tok = env.token("alpha", "system/Patient.read")
    loc, manifest = env.export(
        tok, params={"_type": "Patient,Claim"},
        headers={"Prefer": "respond-async, handling=lenient"})
    assert {o["type"] for o in manifest["output"]} == {"Patient"}
    errs = [e["url"] for e in manifest["error"]]
    assert errs
    text = "".join(requests.get(u, headers=dict(
        bearer(tok), **{"Accept-Encoding": "identity"})).text for u in errs)
    assert "Claim" in text and "scopes" in text


def test_type_claim_only_under_lenient_answers_403_no_job(env):
    """AUTH-BE-02: nothing left to export is refused even when lenient."""
    tok = env.token("alpha", "system/Patient.read")
    n = env.jobs()
    forbidden(env.kickoff(tok, params={"_type": "Claim"}, headers={
        "Prefer": "respond-async, handling=lenient"}))
    assert env.jobs() == n


def test_type_filter_of_claim_with_patient_only_token_answers_403(env):
    """AUTH-BE-02: a _typeFilter on a type outside the scopes is refused
    like a _type."""
    tok = env.token("alpha", "system/Patient.read")
    n = env.jobs()
    forbidden(env.kickoff(tok, params={"_typeFilter": "Claim?status=active"}))
    assert env.jobs() == n


# ---- $import (write scopes) -----------------------------------------------

def import_body(env, pid):
    path = os.path.join(env.tmp, "import", pid + ".ndjson")
    with open(path, "w") as f:
        f.write(json.dumps({"resourceType": "Patient", "id": pid}) + "\n")
    return {"resourceType": "Parameters", "parameter": [
        {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
        {"name": "storageDetail", "part": [
            {"name": "type", "valueCode": "file"}]},
        {"name": "input", "part": [
            {"name": "type", "valueCode": "Patient"},
            {"name": "url", "valueUrl": "file://" + path}]}]}


def test_import_without_write_scope_answers_403_no_job(env):
    """Issue 13: $import needs write on every imported type; beta reads
    everything and writes nothing: 403, no job."""
    tok = env.token("beta", "system/*.read")
    n = env.jobs()
    r = env.kickoff(tok, "/$import", "POST",
                    json=import_body(env, "imp-ro"))
    forbidden(r)
    assert env.jobs() == n


def test_import_with_write_scope_answers_202_and_is_the_writers(env):
    """Issue 13: writer's token with system/Patient.write: 202, the job
    completes, its manifest says requiresAccessToken true, and another
    client's token gets 404 on its status."""
    tok = env.token("writer", "system/Patient.write")
    r = env.kickoff(tok, "/$import", "POST",
                    json=import_body(env, "imp-rw"))
    assert r.status_code == 202, r.text
    loc = r.headers["Content-Location"]
    r = env.poll(loc, tok)
    assert r.status_code == 200, r.text
    assert r.json()["requiresAccessToken"] is True
    assert env.db.scalar("SELECT count(*) FROM resources WHERE type = "
                         "'Patient' AND id = 'imp-rw'") == 1
    other = env.token("beta", "system/*.read")
    outcome(requests.get(loc, headers=bearer(other)), 404, "not-found")


# ---- a poll needs scopes covering ALL the job's types (AUTH-BE-06) ---------

def test_status_with_token_lacking_a_jobs_type_answers_403(env, alpha_job):
    """AUTH-BE-06 (EXP-SEC-03): alpha's job exported Patient and Coverage;
    alpha's own token asked with system/Patient.read alone does not cover
    Coverage: the poll answers 403 (insufficient_scope, naming Coverage);
    a token covering both gets the manifest."""
    loc, manifest = alpha_job
    r = requests.get(loc, headers=bearer(env.token("alpha",
                                                   "system/Patient.read")))
    forbidden(r)
    assert "Coverage" in r.json()["issue"][0]["diagnostics"]
    r = requests.get(loc, headers=bearer(env.token(
        "alpha", "system/Coverage.read system/Patient.read")))
    assert r.status_code == 200, r.text


def test_import_status_with_read_only_token_of_the_writer_answers_403(env):
    """AUTH-BE-06 for $import: the writer's poll with a token that only
    reads Patient answers 403; its write token gets the manifest."""
    tok = env.token("writer", "system/Patient.write")
    r = env.kickoff(tok, "/$import", "POST",
                    json=import_body(env, "imp-scope"))
    assert r.status_code == 202, r.text
    loc = r.headers["Content-Location"]
    forbidden(requests.get(loc, headers=bearer(env.token(
        "writer", "system/Patient.read"))))
    assert env.poll(loc, tok).status_code == 200


# ---- Group export needs Group read (AUTH-BE-07) ----------------------------

def test_group_kickoff_without_group_scope_answers_403_no_job(env):
    """AUTH-BE-07 (EXP-SEC-10): GET /Group/{id}/$export with alpha's
    system/Patient.read token: 403 insufficient_scope, no job."""
    gid = env.db.scalar("SELECT id FROM resources WHERE type = 'Group' "
                        "AND NOT deleted ORDER BY id LIMIT 1")
    n = env.jobs()
    r = env.kickoff(env.token("alpha", "system/Patient.read"),
                    "/Group/%s/$export" % gid, params={"_type": "Patient"})
    forbidden(r)
    assert "Group" in r.json()["issue"][0]["diagnostics"]
    assert env.jobs() == n


# ---- jobs no SMART client started ------------------------------------------

def test_job_submitted_by_an_operator_answers_404_to_clients(env):
    """AUTH-BE-06: an export submitted through the CLI (as a schedule
    does) belongs to no SMART client: its status URL answers 404 even to
    a token that reads everything; the admin API shows it."""
    r = env.cli("jobs", "submit", "export",
                json.dumps({"level": "system", "types": ["Patient"]}))
    assert r.returncode == 0, r.stderr
    jid = r.stdout.decode().strip()
    loc = env.server.fhir + "/_jobs/" + jid
    outcome(requests.get(loc, headers=bearer(env.token(
        "beta", "system/*.read"))), 404, "not-found")
    r = requests.get(env.server.base + "/admin/api/jobs/" + jid,
                     headers={"Authorization": "Bearer test-admin-token"})
    assert r.status_code == 200, r.text
