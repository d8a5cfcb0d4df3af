"""auth = smart is the default (issue 13): a server started without
BULKHEAD_AUTH refuses the bulk endpoints without a token, and the token
conftest adds to every e2e test's /fhir calls is a real one from the
server's own token endpoint, for its registered test client.
"""
import time

import requests

from conftest import SMART_CLIENT, run_cli

KICK = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def test_export_without_token_on_default_server_answers_401(db, server):
    """AUTH-BE-01/08 with no BULKHEAD_AUTH: GET /$export with no
    Authorization header (conftest's opted out) answers 401 Unauthorized
    with a Bearer challenge and an OperationOutcome, and makes no job;
    the status and file URLs of a job refuse it too."""
    r = requests.get(server.fhir + "/$export",
                     headers=dict(KICK, Authorization=None))
    assert r.status_code == 401 and r.reason == "Unauthorized", r.text
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    assert r.json()["resourceType"] == "OperationOutcome"
    assert db.scalar("SELECT count(*) FROM jobs") == 0
    r = requests.get(server.fhir + "/$export", headers=KICK)
    assert r.status_code == 202, r.text
    loc = r.headers["Content-Location"]
    r = requests.get(loc, headers={"Authorization": None})
    assert r.status_code == 401


def test_default_server_jobs_belong_to_conftests_real_client(db, server):
    """AUTH-BE-06: the kick-off conftest authorizes is recorded under
    its registered client; the manifest says requiresAccessToken; the
    token came from POST /auth/token (its assertion's jti is in the
    replay table)."""
    r = requests.get(server.fhir + "/$export", headers=KICK,
                     params={"_type": "Patient"})
    assert r.status_code == 202, r.text
    jid = r.headers["Content-Location"].rsplit("/", 1)[1]
    assert db.scalar("SELECT client FROM jobs WHERE id = %s",
                     (jid,)) == "smart:" + SMART_CLIENT
    assert db.scalar("SELECT count(*) FROM auth_jti") >= 1
    loc = r.headers["Content-Location"]
    for _ in range(600):
        r = requests.get(loc)
        if r.status_code != 202:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    assert r.json()["requiresAccessToken"] is True


def test_config_check_says_auth_smart_by_default(db, bulkhead_bin):
    r = run_cli(bulkhead_bin, ["config", "check", "--show"], db=db)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "auth = smart\n" in out
    assert "every bulk endpoint needs a SMART" in out
    r = run_cli(bulkhead_bin, ["config", "check"], db=db,
                env={"BULKHEAD_AUTH": "none"})
    assert "auth = none: the bulk endpoints need no token" in \
        r.stdout.decode()


def test_clients_token_curl_prints_a_command_that_gets_a_token(
        db, server, bulkhead_bin, tmp_path):
    """Issue 13 ('make run'): 'bulkhead clients token NAME --key PEM
    --curl --scope S' prints one curl command; run as is, it answers 200
    with a bearer access token for scope S."""
    import json
    import subprocess

    from cryptography.hazmat.primitives import serialization

    import conftest
    assert server.smart.bearer() is not None, server.smart.error
    pem = tmp_path / "client.pem"
    pem.write_bytes(conftest._session_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    r = run_cli(bulkhead_bin, ["clients", "token", SMART_CLIENT, "--key",
                               str(pem), "--kid", conftest.SMART_KID,
                               "--curl", "--scope", "system/Patient.read"],
                env={"BULKHEAD_LISTEN": "127.0.0.1:%d" % server.port})
    assert r.returncode == 0, r.stderr
    line = r.stdout.decode()
    assert line.startswith("curl ") and line.count("\n") == 1
    out = subprocess.run(["sh", "-c", line], capture_output=True,
                         timeout=30, check=True).stdout
    d = json.loads(out)
    assert d["token_type"].lower() == "bearer"
    assert d["scope"] == "system/Patient.read" and d["access_token"]


def test_conftest_fetches_a_new_token_before_the_old_one_expires(server):
    """conftest's token is fetched again 60 s before it expires (tokens
    live at most 300 s, AUTH-A-02); both are real and accepted."""
    t1 = server.token()
    server.smart.expires = time.monotonic() + 59      # 59 s left
    t2 = server.token()
    assert t2 != t1
    for tok in (t1, t2):
        r = requests.get(server.fhir + "/$export", params={
            "_type": "Patient"}, headers=dict(
                KICK, Authorization="Bearer " + tok))
        assert r.status_code == 202, r.text
