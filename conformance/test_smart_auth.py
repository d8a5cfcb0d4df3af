"""SMART Backend Services (SMART App Launch 2.2.0): an executable checklist.

One test per requirement of /work/shared/SPEC.md §2 (AUTH-D-*, AUTH-R-*,
AUTH-T-*, AUTH-V-*, AUTH-E-*, AUTH-A-*, AUTH-SC-*, AUTH-BE-*), named by
its id, against the real binary with auth = smart, a real PostgreSQL and
client keys made here (python3-cryptography).  Assertions are signed
here, so each test forges exactly the field it checks.  Where a
requirement is [info] or binds the client, the test checks what the
server can show of it, or is skipped with the reason.

A product bug is a test marked xfail(strict=True, reason="BUG: ..."); a
SHOULD that Bulkhead does not meet, xfail(strict=True, reason="GAP: ...").
Every request here says its Authorization itself (a token, or none).
"""
import http.client
import http.server
import importlib.util
import json
import os
import socketserver
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding


def _helpers():
    """conformance/conftest.py as pytest loaded it."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "conftest.py")
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and os.path.abspath(f) == path:
            return mod
    spec = importlib.util.spec_from_file_location("bulkhead_conformance",
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_h = _helpers()
ah = _h.authhelp
FHIR_JSON, NO_TOKEN = _h.FHIR_JSON, _h.NO_TOKEN
cli, fresh_database, running = _h.cli, _h.fresh_database, _h.running
is_outcome, public_jwk, download = _h.is_outcome, _h.public_jwk, _h.download
ADMIN = ah.ADMIN
JWT_BEARER = ah.JWT_BEARER
FORM = "application/x-www-form-urlencoded"
KICK = {"Accept": FHIR_JSON, "Prefer": "respond-async"}

_spec = importlib.util.spec_from_file_location(
    "bulkhead_e2e_fileserver", os.path.join(_h.ROOT, "tests", "e2e",
                                            "fileserver.py"))
fileserver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fileserver)


# ---- a client's JWKS server ------------------------------------------------

class _JwksHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.server.requests.append((self.command, self.path,
                                     dict(self.headers)))
        doc = self.server.docs.get(self.path)
        if doc is None:
            body, code, cc = b"not found\n", 404, None
        else:
            body, cc = json.dumps(doc[0]).encode(), doc[1]
            code = 200
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        if cc is not None:
            self.send_header("Cache-Control", cc)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class JwksServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A stand-in for a backend client's JWKS URL (SMART App Launch 2.2.0
    client-confidential-asymmetric.html §Registering: a JWK Set, RFC 7517
    §5, readable without authentication, served with a Cache-Control
    header, RFC 9111 §5.2).  Plain HTTP on 127.0.0.1 (the server allows
    it through auth_jwks_allow, as a laboratory would); records every
    request (method, path, headers)."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _JwksHandler)
        self.docs = {}          # path -> (JWKS, Cache-Control or None)
        self.requests = []
        self.thread = threading.Thread(target=self.serve_forever,
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def put(self, path, jwks, cache_control=None):
        self.docs[path] = (jwks, cache_control)
        return "http://127.0.0.1:%d%s" % (self.server_address[1], path)

    def fetches(self, path):
        return [r for r in self.requests if r[1] == path]


# ---- the module's server and clients ---------------------------------------

class Auth:
    """The server, its clients' keys and the token endpoint."""

    def __init__(self, server, db, jwks, files, tmp):
        self.server = server
        self.db = db
        self.jwks = jwks
        self.files = files
        self.tmp = tmp
        self.token_url = server.base + "/auth/token"
        self.keys = {}          # client -> (key, kid)
        self.secrets = []       # every assertion and token: not in logs

    def register(self, name, scope, key=None, kid=None, url_path=None,
                 cache_control=None, allow_write=False):
        key = key or ah.rsa_key()
        kid = kid or name + "-1"
        jwks = {"keys": [public_jwk(key, kid)]}
        body = {"scope": scope}
        if url_path is not None:
            body["jwks_url"] = self.jwks.put(url_path, jwks, cache_control)
        else:
            body["jwks"] = jwks
        if allow_write:
            body["allow_write"] = True
        ah.register(self.server.base, name, body)
        self.keys[name] = (key, kid)
        return key

    def claims(self, client, **over):
        now = int(time.time())
        c = {"iss": client, "sub": client, "aud": self.token_url,
             "exp": now + 240, "iat": now, "jti": uuid.uuid4().hex}
        c.update(over)
        return {k: v for k, v in c.items() if v is not None}

    def assertion(self, client, key=None, kid=None, header=None, alg=None,
                  **claims):
        own, own_kid = self.keys.get(client, (None, None))
        h = {"kid": kid or own_kid or client + "-1"}
        h.update(header or {})
        h = {n: v for n, v in h.items() if v is not None}
        return ah.sign(key or own, h, self.claims(client, **claims), alg)

    def post(self, data=None, body=None, content_type=FORM, headers=None):
        if isinstance(data, dict) and "client_assertion" in data:
            self.secrets.append(data["client_assertion"])
        h = {"Content-Type": content_type}
        h.update(headers or {})
        r = requests.post(self.token_url, data=body if body is not None
                          else data, headers=h, timeout=30)
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

    def token(self, client, scope):
        r = self.request(self.assertion(client), scope)
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def jobs(self):
        return self.db.scalar("SELECT count(*) FROM jobs")

    def kickoff(self, token, path="/$export", method="GET", headers=None,
                **kw):
        h = dict(KICK, **bearer(token))
        h.update(headers or {})
        return requests.request(method, self.server.fhir + path, headers=h,
                                timeout=30, **kw)

    def export(self, token, path="/$export", poll_token=None, **kw):
        """Kick-off and poll: (status URL, manifest)."""
        r = self.kickoff(token, path, **kw)
        assert r.status_code == 202, r.text
        loc = r.headers["Content-Location"]
        deadline = time.monotonic() + 90
        while True:
            r = requests.get(loc, headers=bearer(poll_token or token),
                             timeout=30)
            if r.status_code != 202:
                break
            assert time.monotonic() < deadline, loc
            time.sleep(0.3)
        assert r.status_code == 200, r.text
        return loc, r.json()


def bearer(token):
    """Authorization for token; an explicit "none" for None."""
    return {"Authorization": "Bearer " + token} if token else \
        dict(NO_TOKEN)


def oauth_error(r, error, status=None):
    """An RFC 6749 §5.2 error answer (AUTH-E-02..04)."""
    if status is None:
        status = 401 if error == "invalid_client" else 400
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("Cache-Control") == "no-store"
    assert r.headers.get("Pragma") == "no-cache"
    body = r.json()
    assert body["error"] == error, body
    assert "access_token" not in body
    assert isinstance(body.get("error_description"), str)
    return body


def unauthorized(r, error=True):
    """AUTH-BE-08: 401 Unauthorized, a Bearer challenge (error=
    "invalid_token" when a token was sent), an OperationOutcome."""
    oo = is_outcome(r, 401)
    assert r.reason == "Unauthorized"
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    if error:
        assert 'error="invalid_token"' in challenge, challenge
    else:
        assert "error=" not in challenge, challenge
    return oo


def forbidden(r):
    """AUTH-BE-08: 403, insufficient_scope, an OperationOutcome."""
    oo = is_outcome(r, 403)
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    return oo


def jwt_part(tok, i):
    return json.loads(ah.b64u_decode(tok.split(".")[i]))


@pytest.fixture(scope="module")
def auth(bh_bin, bh_pg, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smart")
    gen = tmp / "gen"
    files = tmp / "files"
    files.mkdir()
    cli(bh_bin, None, "generate", "--families", "4", "--seed", "7", "--out",
        str(gen), "--today", "2026-06-01")
    with fresh_database(bh_pg) as db, JwksServer() as jw, \
            fileserver.FileServer(str(files)) as fs:
        with running(bh_bin, db, tmp, "run", {
                "BULKHEAD_AUTH_JWKS_ALLOW": "127.0.0.1",
                "BULKHEAD_IMPORT_ALLOW": "127.0.0.1",
                "BULKHEAD_EXPORT_MAX_PER_CLIENT": "100"}) as s:
            cli(bh_bin, db, "load", str(gen))
            a = Auth(s, db, jw, fs, tmp)
            a.register("reader", "system/*.read")
            a.ec = a.register("ecurl", "system/Patient.read system/Claim.rs",
                              key=ec.generate_private_key(ec.SECP384R1()),
                              url_path="/ecurl.json",
                              cache_control="max-age=3600")
            a.register("narrow", "system/Patient.read system/Coverage.read")
            a.register("writer", "system/Patient.write system/Patient.read",
                       allow_write=True)
            yield a
            log = s.read_log()
            for secret in a.secrets:
                for part in secret.split("."):
                    if len(part) > 20:
                        assert part not in log, "token material in the log"


# ===================================================================
# §2.1 Discovery
# ===================================================================

def discovery(auth, headers=None):
    return requests.get(auth.server.fhir + "/.well-known/smart-configuration",
                        headers=dict(NO_TOKEN, **(headers or {})),
                        timeout=30)


def test_AUTH_D_01_well_known_under_the_fhir_base(auth):
    """AUTH-D-01: the document is served at [base]/.well-known/smart-
    configuration, the segment appended to the base's path (/fhir), and
    needs no token; not at the server root."""
    r = discovery(auth)
    assert r.status_code == 200, r.text
    assert r.json()["token_endpoint"]
    assert requests.get(auth.server.base + "/.well-known/smart-"
                        "configuration", timeout=30).status_code == 404


def test_AUTH_D_02_json_whatever_accept(auth):
    """AUTH-D-02: application/json whatever Accept says, or without one."""
    for accept in (None, "application/json", "text/html",
                   "application/fhir+xml", "*/*"):
        r = discovery(auth, {"Accept": accept})
        assert r.status_code == 200, (accept, r.status_code)
        assert r.headers["Content-Type"].split(";")[0] == \
            "application/json", accept
        assert isinstance(r.json(), dict)


def test_AUTH_D_03_endpoint_urls_absolute(auth):
    """AUTH-D-03: every endpoint URL in the document is absolute."""
    d = discovery(auth).json()
    urls = {k: v for k, v in d.items()
            if k.endswith(("_endpoint", "_uri"))}
    assert "token_endpoint" in urls
    for k, v in urls.items():
        u = urlsplit(v)
        assert u.scheme in ("http", "https") and u.netloc, (k, v)
    assert d["token_endpoint"] == auth.token_url


def test_AUTH_D_04_backend_services_fields(auth):
    """AUTH-D-04: token_endpoint, grant_types_supported (client_
    credentials), capabilities (client-confidential-asymmetric and a
    permission-v*), code_challenge_methods_supported (S256, never plain),
    private_key_jwt with RS384/ES384, and scopes_supported holding only
    scopes the server grants (each asked by a client registered for all
    of them is granted)."""
    d = discovery(auth).json()
    assert d["token_endpoint"]
    assert "client_credentials" in d["grant_types_supported"]
    caps = d["capabilities"]
    assert "client-confidential-asymmetric" in caps
    assert {"permission-v1", "permission-v2"} & set(caps)
    assert "S256" in d["code_challenge_methods_supported"]
    assert "plain" not in d["code_challenge_methods_supported"]
    assert "private_key_jwt" in d["token_endpoint_auth_methods_supported"]
    assert {"RS384", "ES384"} <= set(
        d["token_endpoint_auth_signing_alg_values_supported"])
    assert "authorization_endpoint" not in d or \
        urlsplit(d["authorization_endpoint"]).scheme
    auth.register("everything", "system/*.read system/*.write",
                  allow_write=True)
    for scope in d["scopes_supported"]:
        r = auth.request(auth.assertion("everything"), scope)
        assert r.status_code == 200, (scope, r.text)
        assert r.json()["scope"] == scope


def test_AUTH_D_05_capability_statement_agrees_with_well_known(auth):
    """AUTH-D-05 [info]: discovery is .well-known; the (deprecated)
    CapabilityStatement declaration Bulkhead still makes names the same
    token URL and the SMART-on-FHIR service, without a token."""
    cs = requests.get(auth.server.fhir + "/metadata", headers=dict(
        NO_TOKEN, Accept=FHIR_JSON), timeout=30).json()
    sec = cs["rest"][0]["security"]
    codes = [c["code"] for s in sec["service"] for c in s["coding"]]
    assert "SMART-on-FHIR" in codes
    ext = [e for e in sec["extension"] if e["url"].endswith("/oauth-uris")]
    token = [e["valueUri"] for e in ext[0]["extension"]
             if e["url"] == "token"]
    assert token == [discovery(auth).json()["token_endpoint"]]


def test_AUTH_D_06_header_names_case_insensitive(auth):
    """AUTH-D-06 [info]: header names in any case: authorization,
    content-type, accept and prefer in lower and upper case."""
    tok = auth.token("reader", "system/Patient.read")
    for case in (str.lower, str.upper):
        conn = http.client.HTTPConnection("127.0.0.1", auth.server.port,
                                          timeout=30)
        try:
            conn.putrequest("GET", "/fhir/$export?_type=Patient",
                            skip_accept_encoding=True)
            conn.putheader(case("Authorization"), "Bearer " + tok)
            conn.putheader(case("Accept"), FHIR_JSON)
            conn.putheader(case("Prefer"), "respond-async")
            conn.endheaders()
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 202, (case, resp.status)
            loc = resp.getheader("Content-Location")
        finally:
            conn.close()
        assert requests.delete(loc, headers=bearer(tok),
                               timeout=30).status_code == 202
    r = auth.post(body="grant_type=client_credentials&client_assertion_type"
                  "=%s&client_assertion=%s&scope=system/Patient.read" % (
                      JWT_BEARER, auth.assertion("reader")),
                  headers={"CONTENT-TYPE": FORM})
    assert r.status_code == 200, r.text


# ===================================================================
# §2.2 Client registration and JWKS
# ===================================================================

def test_AUTH_R_01_public_jwks_registered_out_of_band(auth):
    """AUTH-R-01: a client registers its public JWK Set out of band (the
    admin API); the server keeps no private key material: a JWK holding
    one ("d") is never used, and the stored set shows none."""
    key = ah.rsa_key()
    ah.register(auth.server.base, "r01", {
        "jwks": {"keys": [public_jwk(key, "r01-1")]},
        "scope": "system/Patient.read"})
    r = requests.get(auth.server.base + "/admin/api/clients/r01",
                     headers=ADMIN, timeout=30)
    assert r.status_code == 200, r.text
    assert "\"d\"" not in json.dumps(r.json().get("jwks", {}))
    auth.keys["r01"] = (key, "r01-1")
    assert auth.request(auth.assertion("r01"),
                        "system/Patient.read").status_code == 200
    # No dynamic registration endpoint is advertised (optional).
    assert "registration_endpoint" not in discovery(auth).json()


def test_AUTH_R_02_jwks_url_and_jwks_value(auth):
    """AUTH-R-02: both registration styles: a JWKS URL (ecurl, fetched
    from the stand-in, readable without authentication) and a JWKS value
    (reader, inline); a value that is not a JWK Set is refused, so the
    stored one cannot be corrupted by a bad update; a URL that is neither
    TLS nor an allowed laboratory host is refused at registration."""
    r = auth.request(auth.assertion("ecurl", key=auth.ec),
                     "system/Patient.read")
    assert r.status_code == 200, r.text
    fetched = auth.jwks.fetches("/ecurl.json")
    assert fetched and "Authorization" not in fetched[-1][2]
    r = auth.request(auth.assertion("reader"), "system/*.read")
    assert r.status_code == 200, r.text
    base = auth.server.base + "/admin/api/clients/"
    for bad in ({"jwks": {"keys": "x"}, "scope": "system/*.read"},
                {"jwks": "not a set", "scope": "system/*.read"},
                {"jwks_url": "http://example.org/jwks.json",
                 "scope": "system/*.read"}):
        assert requests.put(base + "reader", json=bad, headers=ADMIN,
                            timeout=30).status_code == 400, bad
    # reader still works after the refused updates.
    r = auth.request(auth.assertion("reader"), "system/*.read")
    assert r.status_code == 200, r.text


def test_AUTH_R_03_jwk_members(auth):
    """AUTH-R-03: bare JWKs with kty and kid, RSA with n and e, EC with
    crv, x and y are accepted; a key without kid, an RSA key without e or
    an EC key without y cannot verify anything."""
    rsa_key = ah.rsa_key()
    ec_key = ec.generate_private_key(ec.SECP384R1())
    good_rsa, good_ec = public_jwk(rsa_key, "r03-rsa"), \
        public_jwk(ec_key, "r03-ec")
    assert set(good_rsa) == {"kty", "kid", "n", "e"}
    assert set(good_ec) == {"kty", "kid", "crv", "x", "y"}
    ah.register(auth.server.base, "r03", {
        "jwks": {"keys": [good_rsa, good_ec]}, "scope": "system/*.read"})
    auth.keys["r03"] = (rsa_key, "r03-rsa")
    assert auth.request(auth.assertion("r03")).status_code == 200
    assert auth.request(auth.assertion("r03", key=ec_key,
                                       kid="r03-ec")).status_code == 200
    broken = [
        ("r03-nokid", rsa_key, "r03-nokid",
         {k: v for k, v in good_rsa.items() if k != "kid"}),
        ("r03-noe", rsa_key, "r03-noe",
         dict({k: v for k, v in good_rsa.items() if k != "e"},
              kid="r03-noe")),
        ("r03-noy", ec_key, "r03-noy",
         dict({k: v for k, v in good_ec.items() if k != "y"},
              kid="r03-noy")),
    ]
    for name, key, kid, jwk in broken:
        r = requests.put(auth.server.base + "/admin/api/clients/" + name,
                         json={"jwks": {"keys": [jwk]},
                               "scope": "system/*.read"},
                         headers=ADMIN, timeout=30)
        if r.status_code in (200, 201):
            oauth_error(auth.request(auth.assertion(name, key=key,
                                                    kid=kid)),
                        "invalid_client")
        else:
            assert r.status_code == 400, (name, r.status_code, r.text)


def test_AUTH_R_04_rs384_and_es384(auth):
    """AUTH-R-04: the server validates both RS384 (reader) and ES384
    (ecurl) assertions, and no other algorithm (RS256, ES256, HS256 with
    the public key, none)."""
    assert auth.request(auth.assertion("reader")).status_code == 200
    assert auth.request(auth.assertion("ecurl", key=auth.ec),
                        "system/Patient.read").status_code == 200
    c = auth.claims("reader")
    for alg in ("RS256", "none"):
        jwt = (ah.b64u(json.dumps({"alg": alg, "typ": "JWT",
                                   "kid": "reader-1"})) + "." +
               ah.b64u(json.dumps(c)) + ".")
        oauth_error(auth.request(jwt), "invalid_client")
    pub = ah.pem_public(auth.keys["reader"][0])
    oauth_error(auth.request(ah.sign(pub, {"kid": "reader-1"},
                                     auth.claims("reader"), "HS256")),
                "invalid_client")


def test_AUTH_R_05_client_id_is_the_registered_name(auth):
    """AUTH-R-05: registration assigns the client_id (the name), which
    the client uses as iss and sub, and which the issued token's sub
    carries."""
    r = requests.get(auth.server.base + "/admin/api/clients/reader",
                     headers=ADMIN, timeout=30)
    assert r.json()["name"] == "reader"
    tok = auth.token("reader", "system/*.read")
    assert jwt_part(tok, 1)["sub"] == "reader"
    oauth_error(auth.request(auth.assertion("reader", iss="Reader",
                                            sub="Reader")),
                "invalid_client")


# ===================================================================
# §2.3 Token request
# ===================================================================

def test_AUTH_T_01_tls_urls_behind_a_proxy(auth, bh_bin, tmp_path):
    """AUTH-T-01: Bulkhead serves plain HTTP behind a TLS-terminating
    proxy (the deployment's TLS 1.2+ is the proxy's).  What the server
    shows: with an https base_url every URL it hands out (token_endpoint,
    status and file URLs) is https, the assertion's aud is the public
    https token URL, and a client's JWKS URL must be https (unless an
    operator allows a laboratory host)."""
    public = "https://bulkhead.example/fhir"
    with running(bh_bin, auth.db, tmp_path, "serve",
                 {"BULKHEAD_BASE_URL": public,
                  "BULKHEAD_DATA_DIR": str(auth.tmp / "data")}) as s:
        d = requests.get(s.fhir + "/.well-known/smart-configuration",
                         headers=NO_TOKEN, timeout=30).json()
        assert d["token_endpoint"] == "https://bulkhead.example/auth/token"
        key, kid = auth.keys["reader"]
        jwt = ah.sign(key, {"kid": kid}, auth.claims(
            "reader", aud=d["token_endpoint"]))
        r = requests.post(s.base + "/auth/token", data={
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER, "client_assertion": jwt,
            "scope": "system/Patient.read"}, timeout=30)
        auth.secrets.append(jwt)
        assert r.status_code == 200, r.text
        tok = r.json()["access_token"]
        auth.secrets.append(tok)
        assert jwt_part(tok, 1)["aud"] == public
        k = requests.get(s.fhir + "/$export", params={"_type": "Patient"},
                         headers=dict(KICK, **bearer(tok)), timeout=30)
        assert k.status_code == 202, k.text
        assert k.headers["Content-Location"].startswith(public + "/_jobs/")
        job = k.headers["Content-Location"].rsplit("/", 1)[1]
        assert requests.delete(s.fhir + "/_jobs/" + job, headers=bearer(tok),
                               timeout=30).status_code == 202
    r = requests.put(auth.server.base + "/admin/api/clients/t01",
                     json={"jwks_url": "http://example.org/jwks.json",
                           "scope": "system/*.read"},
                     headers=ADMIN, timeout=30)
    assert r.status_code == 400


def test_AUTH_T_02_client_credentials_grant_only(auth):
    """AUTH-T-02: a confidential client's client_credentials grant is
    the only grant: authorization_code, password, refresh_token and
    jwt-bearer grants are unsupported_grant_type."""
    assert auth.request(auth.assertion("reader")).status_code == 200
    for grant in ("authorization_code", "password", "refresh_token",
                  "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        oauth_error(auth.request(auth.assertion("reader"),
                                 grant_type=grant),
                    "unsupported_grant_type")
    assert "client_credentials" in discovery(auth).json()[
        "grant_types_supported"]


def test_AUTH_T_03_form_post_with_four_parameters(auth):
    """AUTH-T-03: POST, application/x-www-form-urlencoded, with scope,
    grant_type, client_assertion_type and client_assertion: each missing
    one is invalid_request, a JSON body is invalid_request, GET is no
    token request; extra parameters are ignored (RFC 6749 §3.2)."""
    full = {"grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": None, "scope": "system/Patient.read"}
    for missing in full:
        data = dict(full, client_assertion=auth.assertion("reader"))
        del data[missing]
        oauth_error(auth.post(data), "invalid_request")
    oauth_error(auth.post(body=json.dumps(dict(
        full, client_assertion=auth.assertion("reader"))),
        content_type="application/json"), "invalid_request")
    r = requests.get(auth.token_url, timeout=30)
    assert r.status_code in (404, 405)
    assert "access_token" not in r.text
    r = auth.request(auth.assertion("reader"), "system/Patient.read",
                     audience="ignored", state="x")
    assert r.status_code == 200, r.text


def test_AUTH_T_04_assertion_header(auth):
    """AUTH-T-04: the JWS header needs alg (RS384/ES384), kid and typ JWT;
    a jku equal to the registered JWKS URL is accepted, any other jku is
    refused without being fetched; without jku the registered JWKS is
    used."""
    key, kid = auth.keys["reader"]
    c = auth.claims
    assert auth.request(ah.sign(key, {"kid": kid}, c("reader"))). \
        status_code == 200
    oauth_error(auth.request(ah.sign(key, {}, c("reader"))),
                "invalid_client")                          # no kid
    oauth_error(auth.request(ah.sign(key, {"kid": kid, "typ": "JWS"},
                                     c("reader"))),
                "invalid_client")                          # typ not JWT
    # typ missing altogether
    h = ah.b64u(json.dumps({"alg": "RS384", "kid": kid}))
    p = ah.b64u(json.dumps(c("reader")))
    sig = key.sign((h + "." + p).encode(), padding.PKCS1v15(),
                   hashes.SHA384())
    oauth_error(auth.request(h + "." + p + "." + ah.b64u(sig)),
                "invalid_client")
    url = auth.jwks.put("/ecurl.json", *auth.jwks.docs["/ecurl.json"])
    r = auth.request(auth.assertion("ecurl", key=auth.ec,
                                    header={"jku": url}),
                     "system/Patient.read")
    assert r.status_code == 200, r.text
    n = len(auth.jwks.requests)
    evil = auth.jwks.put("/evil.json", {"keys": [public_jwk(auth.ec,
                                                            "ecurl-1")]})
    oauth_error(auth.request(auth.assertion("ecurl", key=auth.ec,
                                            header={"jku": evil}),
                             "system/Patient.read"), "invalid_client")
    oauth_error(auth.request(auth.assertion("reader",
                                            header={"jku": evil})),
                "invalid_client")
    assert not [r for r in auth.jwks.requests[n:] if r[1] == "/evil.json"]


def test_AUTH_T_05_assertion_claims(auth):
    """AUTH-T-05: iss, sub, aud, exp and jti are required; exp is integer
    epoch seconds no more than 5 minutes ahead."""
    now = int(time.time())
    assert auth.request(auth.assertion("reader", exp=now + 290)). \
        status_code == 200
    for claim in ("iss", "sub", "aud", "exp", "jti"):
        oauth_error(auth.request(auth.assertion("reader", **{claim: None})),
                    "invalid_client")
    for exp in (now + 600, str(now + 60), now + 60.5):
        oauth_error(auth.request(auth.assertion("reader", exp=exp)),
                    "invalid_client")
    oauth_error(auth.request(auth.assertion("reader", jti="")),
                "invalid_client")


# ===================================================================
# §2.4 Authorization server validation
# ===================================================================

def test_AUTH_V_01_rfc7523_checks(auth):
    """AUTH-V-01: signature (another key under the registered kid, a
    changed payload), aud (this token URL exactly), exp (expired), iss =
    sub, nbf and iat not in the future."""
    now = int(time.time())
    oauth_error(auth.request(auth.assertion("reader", key=ah.rsa_key())),
                "invalid_client")
    good = auth.assertion("reader")
    h, p, s = good.split(".")
    claims = json.loads(ah.b64u_decode(p))
    claims["iss"] = claims["sub"] = "narrow"
    oauth_error(auth.request(h + "." + ah.b64u(json.dumps(claims)) + "." +
                             s), "invalid_client")
    for aud in (auth.server.fhir, auth.token_url + "/",
                auth.token_url.replace("127.0.0.1", "localhost"),
                [auth.server.fhir]):
        oauth_error(auth.request(auth.assertion("reader", aud=aud)),
                    "invalid_client")
    assert auth.request(auth.assertion(
        "reader", aud=[auth.token_url, "https://other.example/token"])). \
        status_code == 200
    oauth_error(auth.request(auth.assertion("reader", exp=now - 60)),
                "invalid_client")
    oauth_error(auth.request(auth.assertion("reader", sub="narrow")),
                "invalid_client")
    for claim in ("nbf", "iat"):
        oauth_error(auth.request(auth.assertion("reader",
                                                **{claim: now + 120})),
                    "invalid_client")


def test_AUTH_V_02_jti_replay(auth):
    """AUTH-V-02: a jti already seen for the same iss within its lifetime
    is refused (the same assertion, or a new one reusing the jti); the
    (client, jti, exp) row is in PostgreSQL; another client's equal jti
    is its own."""
    jti = uuid.uuid4().hex
    jwt = auth.assertion("reader", jti=jti)
    assert auth.request(jwt).status_code == 200
    oauth_error(auth.request(jwt), "invalid_client")
    oauth_error(auth.request(auth.assertion("reader", jti=jti)),
                "invalid_client")
    assert auth.db.scalar("SELECT count(*) FROM auth_jti WHERE client = "
                          "'reader' AND jti = %s AND expires > now()",
                          [jti]) == 1
    r = auth.request(auth.assertion("narrow", jti=jti),
                     "system/Patient.read")
    assert r.status_code == 200, r.text


def test_AUTH_V_03_client_known_and_equal_to_iss(auth):
    """AUTH-V-03: an unknown client, a client_id parameter other than
    iss, and a disabled client are invalid_client; client_id equal to
    iss is accepted."""
    key, kid = auth.keys["reader"]
    oauth_error(auth.request(ah.sign(key, {"kid": kid},
                                     auth.claims("nobody"))),
                "invalid_client")
    oauth_error(auth.request(auth.assertion("reader"), client_id="narrow"),
                "invalid_client")
    assert auth.request(auth.assertion("reader"),
                        client_id="reader").status_code == 200
    auth.register("v03", "system/*.read", key=key, kid="v03-1")
    assert auth.request(auth.assertion("v03")).status_code == 200
    r = requests.post(auth.server.base + "/admin/api/clients/v03/disable",
                      headers=ADMIN, timeout=30)
    assert r.status_code == 200, r.text
    oauth_error(auth.request(auth.assertion("v03")), "invalid_client")


def test_AUTH_V_04_key_resolution(auth):
    """AUTH-V-04: the key is the one whose kid matches and whose kty fits
    alg: an unknown kid fails, an ES384 assertion under an RSA key's kid
    fails, and two keys of one kty under one kid fail (ambiguous) or are
    refused at registration."""
    oauth_error(auth.request(auth.assertion("reader", kid="nope")),
                "invalid_client")
    oauth_error(auth.request(auth.assertion("reader", key=auth.ec,
                                            kid="reader-1")),
                "invalid_client")
    k1, k2 = ah.rsa_key(), ah.rsa_key()
    r = requests.put(auth.server.base + "/admin/api/clients/v04dup",
                     json={"jwks": {"keys": [public_jwk(k1, "dup"),
                                             public_jwk(k2, "dup")]},
                           "scope": "system/*.read"},
                     headers=ADMIN, timeout=30)
    if r.status_code in (200, 201):
        auth.keys["v04dup"] = (k1, "dup")
        oauth_error(auth.request(auth.assertion("v04dup")),
                    "invalid_client")
    else:
        assert r.status_code == 400, r.text
    # One RSA and one EC key under one kid: alg picks the one that fits.
    ek = ec.generate_private_key(ec.SECP384R1())
    ah.register(auth.server.base, "v04mix", {
        "jwks": {"keys": [public_jwk(k1, "same"), public_jwk(ek, "same")]},
        "scope": "system/*.read"})
    auth.keys["v04mix"] = (k1, "same")
    assert auth.request(auth.assertion("v04mix")).status_code == 200
    assert auth.request(auth.assertion("v04mix", key=ek)).status_code == 200


def test_AUTH_V_05_jwks_fetch_and_cache_control(auth):
    """AUTH-V-05: the JWKS is fetched with GET and Accept:
    application/json; within the client's Cache-Control max-age it is
    reused, and with no-store it is fetched again for the next token
    (after the server's refetch pause of 5 s)."""
    key = ec.generate_private_key(ec.SECP384R1())
    auth.register("v05keep", "system/*.read", key=key,
                  url_path="/v05keep.json", cache_control="max-age=3600")
    auth.register("v05none", "system/*.read", key=key,
                  url_path="/v05none.json", cache_control="no-store")
    for name in ("v05keep", "v05none"):
        assert auth.request(auth.assertion(name, key=key)). \
            status_code == 200
    time.sleep(5.5)
    for name in ("v05keep", "v05none"):
        assert auth.request(auth.assertion(name, key=key)). \
            status_code == 200
    keep = auth.jwks.fetches("/v05keep.json")
    none = auth.jwks.fetches("/v05none.json")
    assert len(keep) == 1, keep
    assert len(none) == 2, none
    for method, _, headers in keep + none:
        assert method == "GET"
        assert headers.get("Accept") == "application/json"


def test_AUTH_V_06_scope_within_registration(auth):
    """AUTH-V-06: the grant never exceeds the registration: a type
    outside it, or write asked by a read-only client, is invalid_scope;
    a wider request is narrowed (*.read by narrow: its two types)."""
    oauth_error(auth.request(auth.assertion("narrow"), "system/Claim.read"),
                "invalid_scope")
    oauth_error(auth.request(auth.assertion("reader"), "system/*.write"),
                "invalid_scope")
    oauth_error(auth.request(auth.assertion("reader"),
                             "system/Patient.cud"), "invalid_scope")
    r = auth.request(auth.assertion("narrow"), "system/*.read")
    assert r.status_code == 200, r.text
    assert set(r.json()["scope"].split()) == {"system/Patient.read",
                                              "system/Coverage.read"}


# ===================================================================
# §2.5 Token endpoint errors
# ===================================================================

def test_AUTH_E_01_authentication_failures_are_invalid_client(auth):
    """AUTH-E-01: a bad signature, an unknown client, a replayed jti and
    an expired JWT are all invalid_client."""
    key, kid = auth.keys["reader"]
    jwt = auth.assertion("reader")
    assert auth.request(jwt).status_code == 200
    for bad in (auth.assertion("reader", key=ah.rsa_key()),
                ah.sign(key, {"kid": kid}, auth.claims("nobody")),
                jwt,
                auth.assertion("reader", exp=int(time.time()) - 30)):
        oauth_error(auth.request(bad), "invalid_client")


def test_AUTH_E_02_other_rfc6749_errors(auth):
    """AUTH-E-02: invalid_request for a missing or repeated parameter or
    a wrong client_assertion_type, unsupported_grant_type, invalid_scope
    for a malformed or unauthorized scope; each with error_description
    (oauth_error checks it)."""
    jwt = auth.assertion("reader")
    oauth_error(auth.post(body="grant_type=client_credentials&"
                          "client_assertion_type=%s&client_assertion=%s&"
                          "scope=system/*.read&scope=system/*.read"
                          % (JWT_BEARER, jwt)), "invalid_request")
    oauth_error(auth.post(body="grant_type=client_credentials&"
                          "grant_type=client_credentials&"
                          "client_assertion_type=%s&client_assertion=%s&"
                          "scope=system/*.read" % (JWT_BEARER, jwt)),
                "invalid_request")
    oauth_error(auth.request(auth.assertion("reader"),
                             client_assertion_type="urn:x"),
                "invalid_request")
    oauth_error(auth.request(auth.assertion("reader"), grant_type="x"),
                "unsupported_grant_type")
    for scope in ("", "system/", "system/Patient", "launch",
                  "system/*.write"):
        oauth_error(auth.request(auth.assertion("reader"), scope),
                    "invalid_scope")


def test_AUTH_E_03_http_statuses(auth):
    """AUTH-E-03 [info]: 401 for invalid_client, 400 for the others, a
    JSON body with error; a client that tried Authorization header
    authentication gets 401 with WWW-Authenticate for its scheme
    (RFC 6749 §5.2)."""
    oauth_error(auth.request(auth.assertion("nobody", key=auth.ec)),
                "invalid_client", 401)
    oauth_error(auth.request(auth.assertion("reader"), "launch"),
                "invalid_scope", 400)
    oauth_error(auth.request(auth.assertion("reader"), grant_type="x"),
                "unsupported_grant_type", 400)
    r = auth.post({"grant_type": "client_credentials",
                   "scope": "system/*.read"},
                  headers={"Authorization": "Basic cmVhZGVyOnNlY3JldA=="})
    assert r.status_code in (400, 401), r.text
    assert r.json()["error"] in ("invalid_request", "invalid_client")
    jwt = auth.assertion("nobody", key=auth.ec)
    r = auth.post({"grant_type": "client_credentials",
                   "client_assertion_type": JWT_BEARER,
                   "client_assertion": jwt, "scope": "system/*.read"},
                  headers={"Authorization": "Basic cmVhZGVyOnNlY3JldA=="})
    oauth_error(r, "invalid_client", 401)
    assert r.headers["WWW-Authenticate"].lower().startswith("basic "), \
        r.headers


def test_AUTH_E_04_no_store_and_pragma(auth):
    """AUTH-E-04: Cache-Control: no-store and Pragma: no-cache on the
    token answer, and on errors too (oauth_error checks them)."""
    r = auth.request(auth.assertion("reader"))
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Pragma"] == "no-cache"
    oauth_error(auth.request(auth.assertion("reader", kid="x")),
                "invalid_client")
    oauth_error(auth.post(body="%zz", content_type=FORM), "invalid_request")


# ===================================================================
# §2.6 Access token response
# ===================================================================

def test_AUTH_A_01_token_response_fields(auth):
    """AUTH-A-01: access_token, token_type bearer, expires_in (seconds)
    and the granted scope, as JSON."""
    r = auth.request(auth.assertion("reader"), "system/Patient.read")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    d = r.json()
    assert isinstance(d["access_token"], str) and d["access_token"]
    assert d["token_type"].lower() == "bearer"
    assert isinstance(d["expires_in"], int) and d["expires_in"] > 0
    assert d["scope"] == "system/Patient.read"


def test_AUTH_A_02_short_lived_narrow_tokens(auth):
    """AUTH-A-02: expires_in at most 300 and the token itself expiring by
    then; the scope no wider than asked (Patient only, though reader may
    read everything)."""
    t0 = int(time.time())
    r = auth.request(auth.assertion("reader"), "system/Patient.read")
    d = r.json()
    assert 0 < d["expires_in"] <= 300
    claims = jwt_part(d["access_token"], 1)
    assert claims["exp"] - claims["iat"] <= 300
    assert claims["exp"] <= t0 + 300 + 5
    assert claims["scope"] == "system/Patient.read"
    forbidden(auth.kickoff(d["access_token"], params={"_type": "Claim"}))


def test_AUTH_A_03_no_refresh_token(auth):
    """AUTH-A-03: no refresh token is issued, nor accepted as a grant."""
    d = auth.request(auth.assertion("reader")).json()
    assert "refresh_token" not in d
    oauth_error(auth.request(auth.assertion("reader"),
                             grant_type="refresh_token",
                             refresh_token=d["access_token"]),
                "unsupported_grant_type")


def test_AUTH_A_04_any_valid_token_of_the_client_polls_and_downloads(auth):
    """AUTH-A-04: tokens are signed JWTs naming the client, the granted
    scope and the expiry; the status URL and the files accept any current
    token of the same client with covering scope, not only the kick-off's
    (a long export outlives a 5-minute token)."""
    first = auth.token("narrow", "system/Patient.read system/Coverage.read")
    c = jwt_part(first, 1)
    assert c["sub"] == "narrow" and c["exp"] > c["iat"]
    assert set(c["scope"].split()) == {"system/Patient.read",
                                       "system/Coverage.read"}
    assert jwt_part(first, 0)["alg"] != "none"
    second = auth.token("narrow", "system/Patient.read system/Coverage.read")
    assert second != first
    loc, manifest = auth.export(first, params={"_type": "Patient"},
                                poll_token=second)
    third = auth.token("narrow", "system/Patient.read")
    url = manifest["output"][0]["url"]
    r = download(url, headers=bearer(third))
    assert r.status_code == 200
    assert requests.delete(loc, headers=bearer(second),
                           timeout=30).status_code == 202


# ===================================================================
# §2.7 Scope syntax
# ===================================================================

def test_AUTH_SC_01_v1_system_scopes(auth):
    """AUTH-SC-01: v1 system/Type.read and system/*.read are granted as
    asked; patient/ and user/ scopes are not backend scopes."""
    for scope in ("system/Patient.read", "system/*.read"):
        r = auth.request(auth.assertion("reader"), scope)
        assert r.status_code == 200 and r.json()["scope"] == scope
    for scope in ("patient/*.read", "user/Patient.read"):
        oauth_error(auth.request(auth.assertion("reader"), scope),
                    "invalid_scope")


def test_AUTH_SC_02_v2_scopes(auth):
    """AUTH-SC-02: v2 system/Type.rs and system/*.rs; a ?param suffix is
    accepted and (issue 13) counts for the whole type, which the granted
    scope says; letters beyond the registration are narrowed."""
    for scope in ("system/Patient.rs", "system/*.rs"):
        r = auth.request(auth.assertion("reader"), scope)
        assert r.status_code == 200 and r.json()["scope"] == scope
    r = auth.request(auth.assertion("ecurl", key=auth.ec),
                     "system/Claim.rs?status=active")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "system/Claim.rs"
    r = auth.request(auth.assertion("reader"), "system/Patient.cruds")
    assert r.status_code == 200 and r.json()["scope"] == "system/Patient.rs"


def test_AUTH_SC_03_v1_compatibility_and_mixed_requests(auth):
    """AUTH-SC-03: permission-v1 advertised; .read maps to .rs (a v1 token
    exports, a v1 registration grants v2 asks); v1 scopes come back as v1,
    and a mixed request gets one scope per requested scope in its form."""
    assert "permission-v1" in discovery(auth).json()["capabilities"]
    r = auth.request(auth.assertion("ecurl", key=auth.ec),
                     "system/Patient.rs system/Claim.read")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "system/Patient.rs system/Claim.read"
    tok = auth.token("narrow", "system/Patient.read")
    loc, manifest = auth.export(tok, params={"_type": "Patient"})
    assert {o["type"] for o in manifest["output"]} == {"Patient"}
    r = auth.request(auth.assertion("reader"), "system/*.*")
    assert r.status_code == 200 and r.json()["scope"] == "system/*.read"


def test_AUTH_SC_04_undefined_or_out_of_order_letters_rejected(auth):
    """AUTH-SC-04: Bulkhead rejects (the MAY it takes) undefined or
    out-of-order letters: .dus, .sr, .rr, .xyz, .unknownAction."""
    for scope in ("system/Patient.dus", "system/Patient.sr",
                  "system/Patient.rr", "system/*.xyz",
                  "system/*.unknownAction", "system/Patient.read.rs"):
        oauth_error(auth.request(auth.assertion("reader"), scope),
                    "invalid_scope")


def test_AUTH_SC_05_wildcard_covers_every_type(auth):
    """AUTH-SC-05: system/*.read covers every type the store holds (no
    _type: all of them), and *.* is granted narrowed to *.read."""
    tok = auth.token("reader", "system/*.read")
    loc, manifest = auth.export(tok)
    stored = {t for (t,) in auth.db.query(
        "SELECT DISTINCT type FROM resources WHERE NOT deleted")}
    assert {o["type"] for o in manifest["output"]} == stored
    r = auth.request(auth.assertion("reader"), "system/*.*")
    assert r.json()["scope"] == "system/*.read"


def test_AUTH_SC_06_other_scopes(auth):
    """AUTH-SC-06 [info]: system/Group.rs is a type scope like any other
    (granted, and a Group-only token exports Groups); Bulkhead has no
    $bulk-submit, so system/bulk-submit is not a scope it grants."""
    r = auth.request(auth.assertion("reader"), "system/Group.rs")
    assert r.status_code == 200 and r.json()["scope"] == "system/Group.rs"
    loc, manifest = auth.export(r.json()["access_token"])
    assert {o["type"] for o in manifest["output"]} == {"Group"}
    oauth_error(auth.request(auth.assertion("reader"), "system/bulk-submit"),
                "invalid_scope")


# ===================================================================
# §2.8 The bulk endpoints
# ===================================================================

@pytest.fixture(scope="module")
def narrow_job(auth):
    """A finished export by narrow (Patient and Coverage)."""
    tok = auth.token("narrow", "system/Patient.read system/Coverage.read")
    return auth.export(tok)


def test_AUTH_BE_01_every_call_validates_the_token(auth, narrow_job):
    """AUTH-BE-01: kick-off, status, DELETE and files each check the
    token: none, malformed, expired, tampered, or another server's
    (wrong audience) gets 401 and creates or touches nothing."""
    loc, manifest = narrow_job
    url = manifest["output"][0]["url"]
    good = auth.token("narrow", "system/Patient.read system/Coverage.read")
    expired = ah.mint(auth.db, auth.server.base, "narrow",
                      "system/Patient.read", exp_in=-600)
    h, p, s = good.split(".")
    c = jwt_part(good, 1)
    c["scope"] = "system/*.read"
    tampered = h + "." + ah.b64u(json.dumps(c)) + "." + s
    foreign = ah.mint(auth.db, "http://127.0.0.1:1", "narrow",
                      "system/*.read")
    auth.secrets += [expired, foreign]
    n = auth.jobs()
    unauthorized(auth.kickoff(None), error=False)
    for tok in ("not-a-jwt", expired, tampered, foreign):
        unauthorized(auth.kickoff(tok))
        unauthorized(requests.get(loc, headers=bearer(tok), timeout=30))
        unauthorized(requests.delete(loc, headers=bearer(tok), timeout=30))
        unauthorized(download(url, headers=bearer(tok)))
    assert auth.jobs() == n
    assert requests.get(loc, headers=bearer(good),
                        timeout=30).status_code == 200


def test_AUTH_BE_02_type_outside_scopes_fails_the_kickoff(auth):
    """AUTH-BE-02: _type (or _typeFilter) naming a type the token cannot
    read fails the kick-off: 403 OperationOutcome, no job."""
    tok = auth.token("narrow", "system/Patient.read")
    n = auth.jobs()
    forbidden(auth.kickoff(tok, params={"_type": "Patient,Claim"}))
    forbidden(auth.kickoff(tok, params={"_typeFilter":
                                        "Coverage?status=active"}))
    forbidden(auth.kickoff(tok, method="POST", json={
        "resourceType": "Parameters",
        "parameter": [{"name": "_type", "valueString": "Claim"}]},
        headers={"Content-Type": FHIR_JSON}))
    assert auth.jobs() == n


def test_AUTH_BE_03_unsupported_type_fails_the_kickoff(auth):
    """AUTH-BE-03: a _type the server does not support fails the kick-off
    even with a token that reads everything: 400, no job."""
    tok = auth.token("reader", "system/*.read")
    n = auth.jobs()
    for t in ("NoSuchType", "Patient,Bogus"):
        r = auth.kickoff(tok, params={"_type": t})
        is_outcome(r, 400)
    assert auth.jobs() == n


def test_AUTH_BE_04_withheld_types_noted_in_the_error_array(auth):
    """AUTH-BE-04: data withheld by policy is noted in the manifest's
    error file and the job still succeeds: under handling=lenient a _type
    outside the scopes is dropped with a warning (Bulkhead's only
    withholding; it has no other out-of-band policy)."""
    tok = auth.token("narrow", "system/Patient.read")
    loc, manifest = auth.export(tok, params={"_type": "Patient,Claim"},
                                headers={"Prefer": "respond-async, "
                                         "handling=lenient"})
    assert {o["type"] for o in manifest["output"]} == {"Patient"}
    text = "".join(download(e["url"], headers=bearer(tok)).text
                   for e in manifest["error"])
    assert "Claim" in text
    issues = [json.loads(line)["issue"][0] for line in text.splitlines()
              if line.strip()]
    assert any("Claim" in i.get("diagnostics", "") and
               i["severity"] in ("warning", "information") for i in issues)


def test_AUTH_BE_05_no_type_exports_only_types_in_scope(auth, narrow_job):
    """AUTH-BE-05: without _type the export holds only (and all of) the
    types the token reads; a granular v2 constraint is never claimed
    enforced: the granted scope drops it."""
    loc, manifest = narrow_job
    held = {t for (t,) in auth.db.query(
        "SELECT DISTINCT type FROM resources WHERE NOT deleted AND type IN "
        "('Patient', 'Coverage')")}
    assert {o["type"] for o in manifest["output"]} == held == \
        {"Patient", "Coverage"}
    r = auth.request(auth.assertion("reader"),
                     "system/Patient.rs?gender=female")
    assert r.status_code == 200 and "?" not in r.json()["scope"]


def test_AUTH_BE_06_status_and_files_bound_to_client_and_scope(auth,
                                                              narrow_job):
    """AUTH-BE-06: requiresAccessToken is true; another client's token
    (even one reading everything) gets 404 on status, DELETE and files;
    the same client's token that does not cover a file's type gets 403
    on that file, 200 on a file it covers."""
    loc, manifest = narrow_job
    assert manifest["requiresAccessToken"] is True
    files = {o["type"]: o["url"] for o in manifest["output"]}
    other = auth.token("reader", "system/*.read")
    is_outcome(requests.get(loc, headers=bearer(other), timeout=30), 404)
    is_outcome(requests.delete(loc, headers=bearer(other), timeout=30), 404)
    is_outcome(download(files["Patient"], headers=bearer(other)), 404)
    part = auth.token("narrow", "system/Patient.read")
    forbidden(download(files["Coverage"], headers=bearer(part)))
    assert download(files["Patient"],
                    headers=bearer(part)).status_code == 200
    mine = auth.token("narrow", "system/Patient.read system/Coverage.read")
    assert requests.get(loc, headers=bearer(mine),
                        timeout=30).status_code == 200


def test_AUTH_BE_07_group_export_needs_group_read(auth):
    """AUTH-BE-07: a Group export by a token that cannot read Group is
    refused (403) [SHOULD]; with system/Group.read it runs.  (Business
    rules on which groups a client may export [SHALL]: openIMIS has none
    beyond the scopes.)"""
    gid = auth.db.scalar("SELECT id FROM resources WHERE type = 'Group' "
                         "AND NOT deleted ORDER BY id LIMIT 1")
    tok = auth.token("reader", "system/Group.read system/Patient.read")
    r = auth.kickoff(tok, "/Group/%s/$export" % gid)
    assert r.status_code == 202, r.text
    requests.delete(r.headers["Content-Location"], headers=bearer(tok),
                    timeout=30)
    tok = auth.token("narrow", "system/Patient.read")
    n = auth.jobs()
    forbidden(auth.kickoff(tok, "/Group/%s/$export" % gid))
    assert auth.jobs() == n


def test_AUTH_BE_08_rfc6750_errors(auth):
    """AUTH-BE-08 [info]: 401 with WWW-Authenticate: Bearer (error=
    "invalid_token" when a token was sent, none when none was), 403 with
    insufficient_scope, both with an OperationOutcome."""
    r = auth.kickoff(None)
    unauthorized(r, error=False)
    assert 'realm="' in r.headers["WWW-Authenticate"]
    unauthorized(auth.kickoff("Zm9v.YmFy.YmF6"))
    r = auth.kickoff(None, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    is_outcome(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    tok = auth.token("narrow", "system/Patient.read")
    forbidden(auth.kickoff(tok, params={"_type": "Claim"}))


def test_AUTH_BE_09_no_token_to_other_hosts(auth):
    """AUTH-BE-09 binds clients (a backend service does not send its
    token to other hosts).  What the server shows as a client itself: an
    $import fetching its input from another host sends no Authorization,
    neither the importing client's token nor any other."""
    pid = "be09-" + uuid.uuid4().hex[:8]
    with open(os.path.join(auth.files.srv.root, pid + ".ndjson"), "w") as f:
        f.write(json.dumps({"resourceType": "Patient", "id": pid}) + "\n")
    tok = auth.token("writer", "system/Patient.write")
    url = auth.files.url("/files/%s.ndjson" % pid)
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
        {"name": "inputSource", "valueUri": "https://openimis.example/fhir"},
        {"name": "storageDetail", "part": [
            {"name": "type", "valueCode": "https"}]},
        {"name": "input", "part": [
            {"name": "type", "valueCode": "Patient"},
            {"name": "url", "valueUri": url}]}]}
    r = auth.kickoff(tok, "/$import", "POST", json=body)
    assert r.status_code == 202, r.text
    loc = r.headers["Content-Location"]
    deadline = time.monotonic() + 60
    while requests.get(loc, headers=bearer(tok),
                       timeout=30).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    got = [h for p, h in auth.files.requests if p.endswith(pid + ".ndjson")]
    assert got, "the input was not fetched"
    for h in got:
        assert not any(k.lower() == "authorization" for k in h), h
    assert auth.db.scalar("SELECT count(*) FROM resources WHERE type = "
                          "'Patient' AND id = %s", [pid]) == 1
