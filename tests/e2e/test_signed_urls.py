"""Signed, short-lived download URLs (issue 15; auth/urlsign.h) against a
real 'bulkhead run' with auth = smart (the default), a small generated
store and the OpenHIM stand-in.

Covered: a delivered notification's URLs fetched with no token (bytes
equal the stored file), HEAD too; expiry bounded by the files'
retention; tampered path, tampered exp, expired, unknown kid, malformed
and repeated parameters: 403 OperationOutcome; the query grants nothing
on another route; a URL signed here by the documented rule works (the
README's rule is the server's); a URL issued before a key rotation
still works, also on a restarted server after house-keeping; the log
holds no "sig=" and no signature; the admin job view of a scheduled
export gives working signed links to an operator, plain ones to a
viewer."""
import base64
import hashlib
import hmac
import json
import os
import time
from urllib.parse import parse_qs, urlsplit

import requests

from conftest import run_cli
from jobhelp import cli, submit, wait_final
from openhim_standin import OpenHIM

URN = "urn:mediator:bulkhead"
ADMIN = {"Authorization": "Bearer test-admin-token"}
NO_TOKEN = {"Authorization": None, "Accept-Encoding": "identity"}


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(secret, kid, exp, rel):
    """The README's rule."""
    ukey = hmac.new(bytes(secret), b"bulkhead signed download URL key v1",
                    hashlib.sha256).digest()
    msg = ("bulkhead-url-v1\n%s\n%d\n%s" % (kid, exp, rel)).encode()
    return b64u(hmac.new(ukey, msg, hashlib.sha256).digest())


def parts(url):
    u = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(u.query).items()}
    return u.scheme + "://" + u.netloc + u.path, q


def fetch(url, **kw):
    return requests.get(url, headers=NO_TOKEN, timeout=30, **kw)


def diag(r):
    return r.json()["issue"][0]["diagnostics"]


def load_store(bulkhead_bin, db, tmp_path):
    gen = tmp_path / "gen"
    r = cli(bulkhead_bin, None, "generate", "--families", "3", "--seed",
            "11", "--out", str(gen), "--today", "2026-06-01")
    assert r.returncode == 0, r.stderr.decode()
    r = cli(bulkhead_bin, db, "load", str(gen))
    assert r.returncode == 0, r.stderr.decode()


def env_for(him):
    return {"BULKHEAD_OPENHIM_API_URL": him.api_url,
            "BULKHEAD_OPENHIM_USERNAME": "root@openhim.org",
            "BULKHEAD_OPENHIM_PASSWORD": "openhim-password",
            # The router stand-in is on loopback: delivery targets pass
            # the address policy only when named (src/bulk/fetch_policy.h).
            "BULKHEAD_IMPORT_ALLOW": "127.0.0.1"}


def router_posts(him):
    return [t for t in him.transactions if t["request"]["path"] == "/sms"]


def test_notification_urls(bulkhead_bin, db, start_server, tmp_path):
    him = OpenHIM()
    try:
        him.add_client("bulkhead", "s3cret", roles=["bulkhead"])
        him.add_channel({"name": "SMS gateway", "urlPattern": "^/sms$",
                         "type": "http", "methods": ["POST"],
                         "allow": ["bulkhead"], "routes": []})
        srv = start_server(db, extra_env=env_for(him))
        load_store(bulkhead_bin, db, tmp_path)
        wait_for(lambda: him.mediators.get(URN, {}).get("_heartbeats"), 15,
                 "first heartbeat")
        him.set_config(URN, {"targets": [{
            "name": "sms-gateway", "url": him.router_url + "/sms",
            "username": "bulkhead", "password": "s3cret"}]})
        wait_for(lambda: "config applied: 1 delivery" in srv.read_log(), 15,
                 "target applied")
        jid = submit(bulkhead_bin, db, "export", {
            "level": "system", "deliver": [{"target": "sms-gateway"}]})
        assert wait_final(db, jid, 120)["state"] == "completed"
        wait_for(lambda: router_posts(him), 30, "notification")
        note = json.loads(router_posts(him)[-1]["request"]["body"])
        outs = note["output"]
        assert len(outs) >= 2, outs
        finished = db.scalar("SELECT floor(extract(epoch FROM finished))"
                             "::bigint FROM jobs WHERE id = %s", (jid,))
        data = os.path.join(srv.env["BULKHEAD_DATA_DIR"], "jobs", jid)

        # Fetched with no token: the stored bytes, and HEAD.
        for o in outs:
            path, q = parts(o["url"])
            assert set(q) == {"kid", "exp", "sig"}
            assert path.startswith(srv.fhir + "/_jobs/" + jid + "/files/")
            # never beyond the files' retention (export_retention 86400)
            assert finished + 86400 - 1 <= int(q["exp"]) <= \
                finished + 86400
            r = requests.get(o["url"], headers={
                "Authorization": None, "Accept-Encoding": "zstd"},
                stream=True, timeout=30)
            assert r.status_code == 200, r.text
            assert r.headers["Content-Encoding"] == "zstd"
            with open(os.path.join(data, path.rsplit("/", 1)[1]),
                      "rb") as f:
                assert r.raw.read(decode_content=False) == f.read()
            r = fetch(o["url"])
            assert r.status_code == 200
            assert len(r.content.decode().splitlines()) == o["count"]
            assert requests.head(o["url"], headers=NO_TOKEN,
                                 timeout=30).status_code == 200

        (p1, q1), (p2, q2) = parts(outs[0]["url"]), parts(outs[1]["url"])
        qs = lambda q: "&".join("%s=%s" % kv for kv in q.items())

        def refused(url, word):
            r = fetch(url)
            assert r.status_code == 403, (url, r.status_code, r.text)
            assert r.json()["resourceType"] == "OperationOutcome"
            assert r.json()["issue"][0]["code"] == "forbidden"
            assert word in diag(r), diag(r)

        # Another file with this file's signature; tampered exp.
        refused(p2 + "?" + qs(q1), "signature")
        refused(p1 + "?" + qs(dict(q1, exp=str(int(q1["exp"]) + 1))),
                "signature")
        refused(p1 + "?" + qs(dict(q1, exp=str(int(q1["exp"]) - 1))),
                "signature")
        refused(p1 + "?" + qs(dict(q1, kid="ab" * 8)), "key")
        refused(p1 + "?" + qs(dict(q1, sig=q2["sig"])), "signature")
        refused(p1 + "?kid=%s&exp=%s" % (q1["kid"], q1["exp"]), "malformed")
        refused(p1 + "?" + qs(q1) + "&sig=" + q1["sig"], "malformed")
        refused(p1 + "?" + qs(dict(q1, sig="x")), "malformed")
        # Signed by the README's rule with the server's key: works, and
        # expired says so.
        kid, secret = db.query("SELECT kid, secret FROM auth_keys WHERE "
                               "kid = %s", (q1["kid"],))[0]
        rel = "jobs/%s/%s" % (jid, p1.rsplit("/", 1)[1])
        exp = int(time.time()) + 120
        assert fetch(p1 + "?kid=%s&exp=%d&sig=%s" % (
            kid, exp, sign(secret, kid, exp, rel))).status_code == 200
        exp = int(time.time()) - 5
        refused(p1 + "?kid=%s&exp=%d&sig=%s" % (
            kid, exp, sign(secret, kid, exp, rel)), "expired")
        # Beyond any lifetime we issue, even if signed by our key.
        exp = int(time.time()) + 40 * 86400
        refused(p1 + "?kid=%s&exp=%d&sig=%s" % (
            kid, exp, sign(secret, kid, exp, rel)), "signature")
        # The query grants nothing but its file: not the status URL.
        r = requests.get(srv.fhir + "/_jobs/" + jid + "?" + qs(q1),
                         headers=NO_TOKEN, timeout=30)
        assert r.status_code == 401
        # A plain URL: a SMART client's token cannot read a job it did
        # not start (AUTH-BE-06), as before.
        assert requests.get(p1, timeout=30).status_code == 404

        # Key rotation: the key that signed is retired, a new one signs;
        # the old URL still works, also on a restarted server after
        # house-keeping.
        db.query("UPDATE auth_keys SET created = created - interval "
                 "'2 days'")
        r = requests.get(srv.base + "/admin/api/jobs/" + jid,
                         headers=ADMIN, timeout=30)
        new = [parts(o["url"])[1] for o in r.json()["outputs"]
               if o["channel"] == "output"]
        assert new and new[0]["kid"] != q1["kid"]
        assert db.scalar("SELECT retired IS NOT NULL FROM auth_keys WHERE "
                         "kid = %s", (q1["kid"],))
        assert fetch(outs[0]["url"]).status_code == 200
        hk = submit(bulkhead_bin, db, "housekeeping", {})
        assert wait_final(db, hk, 60)["state"] == "completed"
        assert db.scalar("SELECT count(*) FROM auth_keys WHERE kid = %s",
                         (q1["kid"],)) == 1
        log = srv.read_log()
        srv.stop()
        srv2 = start_server(db, extra_env=env_for(him))
        moved = outs[0]["url"].replace(srv.base, srv2.base)
        r = fetch(moved)
        assert r.status_code == 200, r.text

        # Nothing logged a signature.
        log += srv2.read_log()
        assert "sig=" not in log
        for o in outs:
            assert parts(o["url"])[1]["sig"] not in log
    finally:
        him.down()


def test_admin_job_view_of_scheduled_export(bulkhead_bin, db, start_server,
                                            tmp_path):
    """A scheduled export belongs to no SMART client, so its files
    answered 404 to every token; the admin job view now gives an
    operator signed links that work with no token."""
    srv = start_server(db)
    load_store(bulkhead_bin, db, tmp_path)
    r = requests.put(srv.base + "/admin/api/schedules/nightly",
                     headers=ADMIN, timeout=10, json={
                         "cron": "0 2 * * *", "timezone": "UTC",
                         "enabled": False, "misfire": "skip",
                         "job": {"kind": "export",
                                 "params": {"level": "system"}}})
    assert r.status_code == 201, r.text
    r = requests.post(srv.base + "/admin/api/schedules/nightly/run",
                      headers=ADMIN, timeout=10)
    jid = r.json()["id"]
    assert wait_final(db, jid, 120)["state"] == "completed"
    outs = [o for o in requests.get(
        srv.base + "/admin/api/jobs/" + jid, headers=ADMIN,
        timeout=30).json()["outputs"] if o["channel"] == "output"]
    assert outs
    for o in outs:
        assert "sig=" in o["url"]
        r = fetch(o["url"])
        assert r.status_code == 200, r.text
        assert len(r.content.decode().splitlines()) == o["count"]
        # the same file with a SMART token and no signature: 404
        assert requests.get(parts(o["url"])[0],
                            timeout=30).status_code == 404
    # A viewer sees plain URLs.
    r = run_cli(bulkhead_bin, ["admins", "add", "watcher", "--role",
                               "viewer"], db=db)
    assert r.returncode == 0, r.stderr
    tok = r.stdout.decode().strip()
    v = requests.get(srv.base + "/admin/api/jobs/" + jid, headers={
        "Authorization": "Bearer " + tok}, timeout=30).json()["outputs"]
    assert [o["url"] for o in v if o["channel"] == "output"] == \
        [parts(o["url"])[0] for o in outs]
    assert "sig=" not in srv.read_log()


def test_auth_none_plain_urls(bulkhead_bin, db, start_server, tmp_path):
    """auth = none: plain URLs, as before."""
    srv = start_server(db, extra_env={"BULKHEAD_AUTH": "none"})
    load_store(bulkhead_bin, db, tmp_path)
    jid = submit(bulkhead_bin, db, "export", {"level": "system"})
    assert wait_final(db, jid, 120)["state"] == "completed"
    outs = requests.get(srv.base + "/admin/api/jobs/" + jid,
                        headers=ADMIN, timeout=30).json()["outputs"]
    assert outs and all("?" not in o["url"] for o in outs
                        if o["channel"] == "output")
    assert fetch(outs[0]["url"]).status_code == 200
