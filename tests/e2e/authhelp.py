"""Helpers for end-to-end tests of SMART Backend Services (issue 13):
client keys and JWKS, client assertions, access tokens from the server's
token endpoint, and tokens minted here with the server's own HMAC key
(read from auth_keys) for cases the endpoint never issues (an expired
token).  Keys are made with python3-cryptography.
"""
import base64
import hashlib
import hmac
import json
import time
import uuid

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature

ADMIN = {"Authorization": "Bearer test-admin-token"}
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_public(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(key, header, claims, alg=None):
    """A compact JWS over header and claims: RS384 or ES384 by key type,
    or HS256 when key is bytes."""
    if alg is None:
        alg = "HS256" if isinstance(key, bytes) else \
            "RS384" if isinstance(key, rsa.RSAPrivateKey) else "ES384"
    h = {"alg": alg, "typ": "JWT"}
    h.update(header)
    signing_input = b64u(json.dumps(h)) + "." + b64u(json.dumps(claims))
    if alg == "HS256":
        sig = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    elif alg == "RS384":
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(),
                       hashes.SHA384())
    elif alg == "ES384":
        r, s = decode_dss_signature(key.sign(signing_input.encode(),
                                             ec.ECDSA(hashes.SHA384())))
        sig = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    else:
        raise ValueError(alg)
    return signing_input + "." + b64u(sig)


def jwks_of(cli, tmp, key, kid):
    """The JWKS of key as 'bulkhead clients jwks' writes it."""
    pub = "%s/pub-%s.pem" % (tmp, kid)
    with open(pub, "wb") as f:
        f.write(pem_public(key))
    r = cli("clients", "jwks", "--key", pub, "--kid", kid)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def register(base, name, body):
    """Registers (or replaces) a client through the admin API."""
    r = requests.put(base + "/admin/api/clients/" + name, json=body,
                     headers=ADMIN)
    assert r.status_code in (200, 201), r.text
    return r.json()


def assertion(token_url, client, key, kid, **over):
    now = int(time.time())
    c = {"iss": client, "sub": client, "aud": token_url, "exp": now + 240,
         "iat": now, "jti": uuid.uuid4().hex}
    c.update(over)
    return sign(key, {"kid": kid}, c)


def get_token(base, client, key, kid, scope):
    """An access token from POST /auth/token, and the scope granted."""
    token_url = base + "/auth/token"
    r = requests.post(token_url, data={
        "grant_type": "client_credentials",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion(token_url, client, key, kid),
        "scope": scope})
    assert r.status_code == 200, r.text
    d = r.json()
    return d["access_token"], d["scope"]


def server_key(db):
    """The server's current access-token key: (kid, secret bytes)."""
    row = db.query("SELECT kid, secret FROM auth_keys WHERE retired IS NULL "
                   "ORDER BY created DESC LIMIT 1")[0]
    return row[0], bytes(row[1])


def mint(db, base, client, scope, exp_in=300, secret=None, kid=None):
    """An access token shaped like the server's (auth/token.h), signed
    with its key unless secret (and kid) say otherwise."""
    skid, ssecret = server_key(db)
    now = int(time.time())
    claims = {"iss": base + "/auth/token", "sub": client,
              "aud": base + "/fhir", "scope": scope, "iat": now,
              "exp": now + exp_in, "jti": uuid.uuid4().hex}
    return sign(secret if secret is not None else ssecret,
                {"kid": kid or skid}, claims, alg="HS256")
