"""SMART Backend Services, the authorization server side (issue 13,
SPEC §2): discovery, client registration (CLI and admin API), the token
endpoint and the attacks on it, against a real 'bulkhead run' with
auth = smart and a stand-in JWKS server on 127.0.0.1 (allowed through
auth_jwks_allow, as import tests allow their stand-in through
import_allow).

Every refusal checks the status, the RFC 6749 JSON error and that the
server log holds neither the assertion nor any issued token.  Client keys
are made with python3-cryptography; assertions are signed here, so that
each test can forge exactly the field it attacks.
"""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature

from conftest import Database, Server, _admin_exec, run_cli
from fileserver import FileServer

ADMIN = {"Authorization": "Bearer test-admin-token"}
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_private(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pem_public(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(key, header, claims, alg=None):
    """A compact JWS over header and claims, RS384 or ES384 by key type
    unless header names alg itself."""
    if alg is None:
        alg = "RS384" if isinstance(key, rsa.RSAPrivateKey) else "ES384"
    h = {"alg": alg, "typ": "JWT"}
    h.update(header)
    signing_input = b64u(json.dumps(h)) + "." + b64u(json.dumps(claims))
    if alg == "RS384":
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(),
                       hashes.SHA384())
    elif alg == "ES384":
        r, s = decode_dss_signature(key.sign(signing_input.encode(),
                                             ec.ECDSA(hashes.SHA384())))
        sig = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    else:
        raise ValueError(alg)
    return signing_input + "." + b64u(sig)


class Env:
    """The server, the stand-in JWKS server and the registered clients."""

    def __init__(self, server, jwks_srv, tmp, binary):
        self.server = server
        self.jwks_srv = jwks_srv
        self.tmp = tmp
        self.bin = binary
        self.token_url = server.base + "/auth/token"
        self.rsa = rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP384R1())
        self.other = rsa.generate_private_key(public_exponent=65537,
                                              key_size=2048)
        self.secrets = []   # every assertion and token sent or received

    def cli(self, *args):
        return run_cli(self.bin, list(args), db=self.server.db,
                       env={"BULKHEAD_API_URL": self.server.base,
                            "BULKHEAD_ADMIN_TOKEN": "test-admin-token",
                            "BULKHEAD_LISTEN": "127.0.0.1:%d" %
                            self.server.port})

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def jwks_of(self, key, kid):
        pub = self.write("pub-%s.pem" % kid, pem_public(key))
        r = self.cli("clients", "jwks", "--key", pub, "--kid", kid)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def register(self, name, body):
        r = requests.put(self.server.base + "/admin/api/clients/" + name,
                         json=body, headers=ADMIN)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def claims(self, client, **over):
        now = int(time.time())
        c = {"iss": client, "sub": client, "aud": self.token_url,
             "exp": now + 240, "iat": now, "jti": uuid.uuid4().hex}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def assertion(self, client, key=None, kid=None, header=None, **claims):
        key = key or self.rsa
        h = {"kid": kid or ("rsa-1" if isinstance(key, rsa.RSAPrivateKey)
                            else "ec-1")}
        h.update(header or {})
        return sign(key, h, self.claims(client, **claims))

    def post(self, data=None, body=None, content_type=FORM):
        if data is not None and "client_assertion" in data:
            self.secrets.append(data["client_assertion"])
        r = requests.post(self.token_url, data=body if body is not None
                          else data, headers={"Content-Type": content_type})
        if r.headers.get("Content-Type", "").startswith("application/json"):
            tok = r.json().get("access_token")
            if tok:
                self.secrets.append(tok)
        return r

    def request(self, jwt, scope="system/*.read", **extra):
        data = {"grant_type": "client_credentials",
                "client_assertion_type": JWT_BEARER,
                "client_assertion": jwt, "scope": scope}
        data.update(extra)
        return self.post({k: v for k, v in data.items() if v is not None})

    def assert_log_clean(self):
        log = self.server.read_log()
        for s in self.secrets:
            if isinstance(s, str) and len(s) > 40:
                # any of the three parts is enough to leak it
                for part in s.split("."):
                    if len(part) > 20:
                        assert part not in log, "token material in the log"


@pytest.fixture(scope="module")
def env(bulkhead_bin, pg_admin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    name = "bh_test_" + uuid.uuid4().hex[:12]
    _admin_exec(pg_admin, 'CREATE DATABASE "%s"' % name)
    db = Database(pg_admin, name)
    root = tmp / "jwks"
    root.mkdir()
    with FileServer(str(root)) as jwks_srv:
        server = Server(bulkhead_bin, db, tmp, "run", {
            "BULKHEAD_AUTH": "smart",
            "BULKHEAD_AUTH_JWKS_ALLOW": "127.0.0.1",
            "BULKHEAD_WORKERS": "1"})
        try:
            server.wait_ready()
            e = Env(server, jwks_srv, str(tmp), bulkhead_bin)
            e.jwks_root = str(root)
            # reader: RSA key inline, read scopes only (AUTH-R-02 b)
            e.register("reader", {"jwks": e.jwks_of(e.rsa, "rsa-1"),
                                  "scope": "system/*.read"})
            # ecclient: EC P-384 key by URL (AUTH-R-02 a)
            with open(os.path.join(str(root), "ec.json"), "w") as f:
                json.dump(e.jwks_of(e.ec, "ec-1"), f)
            e.ec_url = jwks_srv.url("/files/ec.json")
            e.register("ecclient", {"jwks_url": e.ec_url,
                                    "scope": "system/Patient.read "
                                    "system/Claim.rs"})
            yield e
            e.assert_log_clean()
        finally:
            server.stop()
            log = server.log_path.read_text(errors="replace")
            _admin_exec(pg_admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                        % name)
    assert "ERROR: AddressSanitizer" not in log, log
    assert "runtime error:" not in log, log


def oauth_error(r, status, error):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("Cache-Control") == "no-store"       # AUTH-E-04
    assert r.headers.get("Pragma") == "no-cache"
    body = r.json()
    assert body["error"] == error, body
    assert "access_token" not in body
    assert isinstance(body.get("error_description"), str)
    return body


# ---- discovery (AUTH-D-01..04) ------------------------------------------

def test_get_smart_configuration_answers_json_naming_the_token_endpoint(env):
    """AUTH-D-01..04: .well-known/smart-configuration under the FHIR base,
    JSON whatever Accept says, absolute token_endpoint."""
    r = requests.get(env.server.fhir + "/.well-known/smart-configuration",
                     headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    d = r.json()
    assert d["token_endpoint"] == env.token_url
    assert d["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert d["token_endpoint_auth_signing_alg_values_supported"] == \
        ["RS384", "ES384"]
    assert d["grant_types_supported"] == ["client_credentials"]
    assert "client-confidential-asymmetric" in d["capabilities"]
    assert "system/*.read" in d["scopes_supported"]
    assert "S256" in d["code_challenge_methods_supported"]
    assert "plain" not in d["code_challenge_methods_supported"]


def test_get_metadata_declares_smart_security_and_oauth_uris(env):
    """AUTH-D-05: the CapabilityStatement names the token URL too."""
    cs = requests.get(env.server.fhir + "/metadata").json()
    sec = cs["rest"][0]["security"]
    codes = [c["code"] for s in sec["service"] for c in s["coding"]]
    assert "SMART-on-FHIR" in codes
    ext = [e for e in sec["extension"] if e["url"].endswith("/oauth-uris")]
    assert ext and ext[0]["extension"][0] == {"url": "token",
                                              "valueUri": env.token_url}


# ---- tokens that are issued (AUTH-T-03..05, AUTH-A-01..03) ---------------

def test_post_token_rs384_assertion_answers_200_bearer_token(env):
    """AUTH-T-03, AUTH-A-01/02: an RS384 assertion of an inline-JWKS
    client gets a bearer token of at most 300 s with the granted scope."""
    r = env.request(env.assertion("reader"))
    assert r.status_code == 200, r.text
    assert r.headers.get("Cache-Control") == "no-store"
    assert r.headers.get("Pragma") == "no-cache"
    d = r.json()
    assert d["token_type"].lower() == "bearer"
    assert 0 < d["expires_in"] <= 300
    assert d["scope"] == "system/*.read"
    assert "refresh_token" not in d                       # AUTH-A-03
    head, claims, _ = d["access_token"].split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    h = json.loads(base64.urlsafe_b64decode(pad(head)))
    c = json.loads(base64.urlsafe_b64decode(pad(claims)))
    assert h["alg"] == "HS256" and h["kid"]
    assert c["sub"] == "reader" and c["scope"] == "system/*.read"
    assert c["aud"] == env.server.fhir and c["iss"] == env.token_url
    assert c["exp"] - c["iat"] <= 300
    env.assert_log_clean()


def test_post_token_es384_assertion_of_jwks_url_client_answers_200(env):
    """AUTH-R-02 a, AUTH-V-04/05: ES384 with the key fetched from the
    client's JWKS URL, fetched once and then served from the cache."""
    before = len([p for p, _ in env.jwks_srv.requests if p == "/files/ec.json"])
    r = env.request(env.assertion("ecclient", key=env.ec),
                    scope="system/Patient.read")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "system/Patient.read"
    r = env.request(env.assertion("ecclient", key=env.ec),
                    scope="system/Patient.rs system/Claim.read")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "system/Patient.rs system/Claim.read"
    fetched = [h for p, h in env.jwks_srv.requests if p == "/files/ec.json"]
    assert len(fetched) - before <= 1
    assert fetched[-1].get("Accept") == "application/json"


def test_clients_token_cli_prints_an_assertion_that_gets_200(env):
    """bulkhead clients token NAME --key PEM signs a usable assertion."""
    key = env.write("rsa.pem", pem_private(env.rsa))
    r = env.cli("clients", "token", "reader", "--key", key, "--kid", "rsa-1")
    assert r.returncode == 0, r.stderr
    jwt = r.stdout.decode().strip()
    res = env.request(jwt)
    assert res.status_code == 200, res.text


def test_jku_equal_to_registered_url_answers_200(env):
    """AUTH-T-04: a jku equal to the registered JWKS URL is accepted."""
    r = env.request(env.assertion("ecclient", key=env.ec,
                                  header={"jku": env.ec_url}),
                    scope="system/Patient.read")
    assert r.status_code == 200, r.text


# ---- scopes (AUTH-V-06, AUTH-SC-*) ----------------------------------------

def test_read_client_asking_system_star_star_is_granted_read_only(env):
    """AUTH-V-06: *.* asked by a read-only client is granted as read."""
    r = env.request(env.assertion("reader"), scope="system/*.*")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "system/*.read"


def test_read_client_asking_system_star_write_answers_400_invalid_scope(env):
    """AUTH-V-06, AUTH-E-02: scope escalation to write gets nothing."""
    oauth_error(env.request(env.assertion("reader"), scope="system/*.write"),
                400, "invalid_scope")
    env.assert_log_clean()


def test_unknown_action_or_launch_scope_answers_400_invalid_scope(env):
    for scope in ("system/*.xyz", "launch", "patient/*.read", "system/Foo.read"):
        oauth_error(env.request(env.assertion("reader"), scope=scope), 400,
                    "invalid_scope")


# ---- the request itself (AUTH-T-03, AUTH-E-02) ----------------------------

@pytest.mark.parametrize("missing", ["grant_type", "client_assertion_type",
                                     "client_assertion", "scope"])
def test_post_token_without_a_parameter_answers_400_invalid_request(env,
                                                                    missing):
    """AUTH-E-02: each missing parameter is invalid_request."""
    data = {"grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": env.assertion("reader"),
            "scope": "system/*.read"}
    del data[missing]
    oauth_error(env.post(data), 400, "invalid_request")


def test_grant_type_password_answers_400_unsupported_grant_type(env):
    oauth_error(env.request(env.assertion("reader"), grant_type="password"),
                400, "unsupported_grant_type")


def test_wrong_client_assertion_type_answers_400_invalid_request(env):
    oauth_error(env.request(env.assertion("reader"),
                            client_assertion_type="urn:x"),
                400, "invalid_request")


def test_json_body_answers_400_invalid_request(env):
    """AUTH-T-03: form-encoded only."""
    r = env.post(body=json.dumps({"grant_type": "client_credentials"}),
                 content_type="application/json")
    oauth_error(r, 400, "invalid_request")


def test_form_body_over_64_kib_answers_400_invalid_request(env):
    body = "grant_type=client_credentials&pad=" + "a" * (70 * 1024)
    oauth_error(env.post(body=body), 400, "invalid_request")


def test_meaningless_form_encoding_answers_400_invalid_request(env):
    oauth_error(env.post(body="grant_type=%zz&scope=%"), 400,
                "invalid_request")


# ---- the assertion (AUTH-V-01..04, AUTH-E-01) ------------------------------

def test_alg_none_assertion_answers_401_invalid_client(env):
    jwt = (b64u(json.dumps({"alg": "none", "typ": "JWT", "kid": "rsa-1"})) +
           "." + b64u(json.dumps(env.claims("reader"))) + ".")
    oauth_error(env.request(jwt), 401, "invalid_client")
    env.assert_log_clean()


def test_hs256_signed_with_the_rsa_public_key_answers_401_invalid_client(env):
    """The alg-confusion attack: HMAC keyed with the client's public key."""
    h = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}))
    p = b64u(json.dumps(env.claims("reader")))
    mac = hmac.new(pem_public(env.rsa), (h + "." + p).encode(),
                   hashlib.sha256).digest()
    oauth_error(env.request(h + "." + p + "." + b64u(mac)), 401,
                "invalid_client")


def test_wrong_aud_answers_401_invalid_client(env):
    oauth_error(env.request(env.assertion("reader",
                                          aud=env.server.fhir + "/token")),
                401, "invalid_client")


def test_iss_not_sub_answers_401_invalid_client(env):
    oauth_error(env.request(env.assertion("reader", sub="ecclient")), 401,
                "invalid_client")


def test_unknown_client_answers_401_invalid_client(env):
    oauth_error(env.request(env.assertion("nobody")), 401, "invalid_client")


def test_exp_more_than_5_minutes_ahead_answers_401_invalid_client(env):
    oauth_error(env.request(env.assertion("reader",
                                          exp=int(time.time()) + 600)),
                401, "invalid_client")


def test_exp_in_the_past_answers_401_invalid_client(env):
    oauth_error(env.request(env.assertion("reader",
                                          exp=int(time.time()) - 60)),
                401, "invalid_client")


def test_replayed_jti_answers_200_then_401_invalid_client(env):
    """AUTH-V-02: the same assertion twice."""
    jwt = env.assertion("reader")
    assert env.request(jwt).status_code == 200
    oauth_error(env.request(jwt), 401, "invalid_client")
    # and a new assertion with the same jti too
    jti = json.loads(base64.urlsafe_b64decode(
        jwt.split(".")[1] + "=" * (-len(jwt.split(".")[1]) % 4)))["jti"]
    oauth_error(env.request(env.assertion("reader", jti=jti)), 401,
                "invalid_client")


def test_unknown_kid_answers_401_invalid_client(env):
    oauth_error(env.request(env.assertion("reader", kid="nope")), 401,
                "invalid_client")
    oauth_error(env.request(env.assertion("ecclient", key=env.ec, kid="nope"),
                            scope="system/Patient.read"),
                401, "invalid_client")


def test_jku_not_the_registered_url_answers_401_invalid_client(env):
    """AUTH-T-04, AUTH-V-04: a foreign jku is never fetched."""
    n = len(env.jwks_srv.requests)
    evil = env.jwks_srv.url("/files/evil.json")
    oauth_error(env.request(env.assertion("ecclient", key=env.ec,
                                          header={"jku": evil}),
                            scope="system/Patient.read"),
                401, "invalid_client")
    oauth_error(env.request(env.assertion("reader", header={"jku": evil})),
                401, "invalid_client")
    assert all(p != "/files/evil.json" for p, _ in env.jwks_srv.requests[n:])


def test_signature_by_a_key_not_in_the_jwks_answers_401_invalid_client(env):
    oauth_error(env.request(env.assertion("reader", key=env.other,
                                          kid="rsa-1")),
                401, "invalid_client")


def test_disabled_client_answers_401_invalid_client(env):
    env.register("lapsed", {"jwks": env.jwks_of(env.rsa, "rsa-1"),
                            "scope": "system/*.read"})
    assert env.request(env.assertion("lapsed")).status_code == 200
    r = env.cli("clients", "disable", "lapsed")
    assert r.returncode == 0, r.stderr
    oauth_error(env.request(env.assertion("lapsed")), 401, "invalid_client")


# ---- JWKS fetching: SSRF and size (AUTH-V-05) -----------------------------

@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data/jwks",
    "https://10.1.2.3/jwks.json",
    "https://192.168.0.1/jwks.json",
    "https://localhost:1/jwks.json"])
def test_jwks_url_at_metadata_or_private_address_answers_401(env, url):
    """The JWKS fetch refuses metadata, private and loopback addresses
    (hosts not in auth_jwks_allow) before connecting."""
    name = "ssrf%d" % (abs(hash(url)) % 100000)
    env.register(name, {"jwks_url": url, "scope": "system/*.read"})
    t = time.time()
    body = oauth_error(env.request(env.assertion(name, key=env.ec)), 401,
                       "invalid_client")
    assert time.time() - t < 5
    assert "SSRF" in body["error_description"] or "refused" in \
        body["error_description"]


def test_registering_plain_http_jwks_url_of_unlisted_host_answers_400(env):
    r = requests.put(env.server.base + "/admin/api/clients/plain",
                     json={"jwks_url": "http://example.org/jwks.json",
                           "scope": "system/*.read"}, headers=ADMIN)
    assert r.status_code == 400
    assert r.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("route", ["files", "chunked"])
def test_jwks_answer_of_20_mb_answers_401_invalid_client(env, route):
    """A JWKS over 256 KiB is refused, with or without Content-Length."""
    path = os.path.join(env.jwks_root, "big.json")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write('{"keys":[' + " " * (20 << 20) + "]}")
    name = "big" + route
    env.register(name, {"jwks_url": env.jwks_srv.url("/%s/big.json" % route),
                        "scope": "system/*.read"})
    t = time.time()
    body = oauth_error(env.request(env.assertion(name, key=env.ec)), 401,
                       "invalid_client")
    assert "bytes" in body["error_description"]
    assert time.time() - t < 10


# ---- registration: CLI and admin API ---------------------------------------

def test_clients_cli_add_list_show_delete(env):
    jwks = env.write("cli.json", json.dumps(env.jwks_of(env.rsa, "k")).encode())
    r = env.cli("clients", "add", "clicl", "--jwks-file", jwks, "--scope",
                "system/Patient.read")
    assert r.returncode == 0, r.stderr
    assert b"registered" in r.stdout
    r = env.cli("clients", "list")
    assert r.returncode == 0 and b"clicl" in r.stdout
    r = env.cli("clients", "show", "clicl", "--json")
    assert json.loads(r.stdout)["scope"] == "system/Patient.read"
    r = env.cli("clients", "add", "clicl2", "--jwks-file", jwks, "--scope",
                "system/*.write")
    assert r.returncode == 1 and b"allow_write" in r.stderr
    r = env.cli("clients", "add", "clicl2", "--jwks-file", jwks, "--scope",
                "system/Patient.write", "--allow-write")
    assert r.returncode == 0, r.stderr
    r = env.cli("clients", "delete", "clicl")
    assert r.returncode == 0, r.stderr
    r = env.cli("clients", "show", "clicl")
    assert r.returncode == 1


def test_admin_api_clients_changes_are_audited(env):
    base = env.server.base + "/admin/api/clients"
    assert requests.get(base).status_code == 401
    r = requests.put(base + "/audited", headers=ADMIN,
                     json={"jwks": env.jwks_of(env.ec, "ec-1"),
                           "scope": "system/*.rs"})
    assert r.status_code == 201, r.text
    assert r.json()["jwks"]["keys"][0]["kid"] == "ec-1"
    assert requests.put(base + "/audited", headers=ADMIN,
                        json={"jwks": env.jwks_of(env.ec, "ec-1"),
                              "scope": "system/*.read"}).status_code == 200
    r = requests.post(base + "/audited/disable", headers=ADMIN)
    assert r.status_code == 200 and r.json()["disabled"] is True
    names = [c["name"] for c in requests.get(base, headers=ADMIN).json()
             ["clients"]]
    assert "audited" in names
    assert requests.delete(base + "/audited", headers=ADMIN).status_code == 204
    assert requests.get(base + "/audited", headers=ADMIN).status_code == 404
    rows = env.server.db.query("SELECT action FROM audit WHERE target = "
                               "'audited' ORDER BY id")
    assert [a for (a,) in rows] == ["client.put", "client.put",
                                    "client.disable", "client.delete"]
    for bad in ({"scope": "system/*.read"},
                {"jwks_url": env.ec_url, "jwks": {"keys": []},
                 "scope": "system/*.read"},
                {"jwks": {"keys": []}, "scope": "system/*.read"},
                {"jwks_url": env.ec_url, "scope": "launch"}):
        assert requests.put(base + "/bad", headers=ADMIN,
                            json=bad).status_code == 400


def test_jti_rows_expire_and_server_keys_are_stored_32_bytes(env):
    n = env.server.db.scalar("SELECT count(*) FROM auth_keys WHERE "
                             "octet_length(secret) = 32 AND retired IS NULL")
    assert n == 1
    assert env.server.db.scalar("SELECT count(*) FROM auth_jti WHERE "
                                "expires > now() + interval '301 s'") == 0


# ---- auth = none -----------------------------------------------------------

def test_auth_none_answers_404_for_token_and_discovery(db, start_server):
    s = start_server(db, extra_env={"BULKHEAD_AUTH": "none"})
    r = requests.post(s.base + "/auth/token", data={"grant_type": "x"})
    assert r.status_code == 404
    assert r.json()["resourceType"] == "OperationOutcome"
    r = requests.get(s.fhir + "/.well-known/smart-configuration")
    assert r.status_code == 404
    sec = requests.get(s.fhir + "/metadata").json()["rest"][0].get("security")
    assert not sec or "service" not in sec
