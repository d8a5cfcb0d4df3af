"""Bulkhead as an OpenHIM mediator (issue 15), against the OpenHIM
stand-in (openhim_standin.py: OpenHIM core v8.5's API over real HTTP).

Covered: registration and heartbeat, OpenHIM down at start then up,
wrong credentials, heartbeat failures, mediator config pushed from
OpenHIM (valid: applied; invalid: ignored whole), and the stand-in's own
semver and heartbeat rules.  Heartbeats are every 10 s and back off
10, 20, 40, 60 s, so these tests wait in real time (about 2 minutes in
all)."""
import json
import time

import requests

from openhim_standin import OpenHIM

URN = "urn:mediator:bulkhead"


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def env_for(him, user="root@openhim.org", pw="openhim-password"):
    # The stand-in's router is on loopback: delivery targets pass the
    # import fetcher's address policy, which lets it through by name.
    return {"BULKHEAD_OPENHIM_API_URL": him.api_url,
            "BULKHEAD_OPENHIM_USERNAME": user,
            "BULKHEAD_OPENHIM_PASSWORD": pw,
            "BULKHEAD_IMPORT_ALLOW": "127.0.0.1"}


def heartbeats(him):
    return him.mediators.get(URN, {}).get("_heartbeats", [])


def test_register_and_heartbeat(db, start_server):
    him = OpenHIM()
    try:
        srv = start_server(db, extra_env=env_for(him))
        wait_for(lambda: heartbeats(him), 15, "first heartbeat")
        med = him.mediators[URN]
        assert med["version"] == "1.0.0"
        assert med["endpoints"][0]["port"] == srv.port
        names = [c["name"] for c in med["defaultChannelConfig"]]
        assert "Bulkhead nightly export poll" in names
        assert {d["param"] for d in med["configDefs"]} == {
            "targets", "maxAttempts"}
        # The first heartbeat asks for the config, the next ones do not.
        assert heartbeats(him)[0].get("config") is True
        wait_for(lambda: len(heartbeats(him)) >= 2, 15, "second heartbeat")
        assert "config" not in heartbeats(him)[1]
        assert heartbeats(him)[1]["uptime"] >= 9
        assert "OpenHIM: registered as " + URN in srv.read_log()
        # GET /heartbeat (public) shows the mediator alive.
        r = requests.get(him.api_url + "/heartbeat", timeout=5)
        assert r.json()["mediators"][URN] is not None
        # The default channels install from the registration.
        r = requests.post(him.api_url + "/mediators/%s/channels" % URN,
                          json=[], auth=("root@openhim.org",
                                         "openhim-password"), timeout=5)
        assert r.status_code == 201
        assert len(him.channels) == 2
    finally:
        him.down()


def test_openhim_down_at_start_then_up(db, start_server):
    him = OpenHIM()
    him.down()
    try:
        srv = start_server(db, extra_env=env_for(him))
        wait_for(lambda: "unreachable" in srv.read_log(), 10, "down log")
        # Bulkhead serves meanwhile.
        assert requests.get(srv.base + "/healthz", timeout=5).ok
        time.sleep(11)          # a retry (10 s) fails: no second line
        assert srv.read_log().count("unreachable") == 1
        him.up()
        wait_for(lambda: heartbeats(him), 35, "registration after up")
        assert heartbeats(him)[0].get("config") is True
        log = srv.read_log()
        assert log.count("unreachable") == 1
        assert log.count("OpenHIM: registered as") == 1
    finally:
        him.down()


def test_wrong_credentials(db, start_server):
    him = OpenHIM()
    try:
        srv = start_server(db, extra_env=env_for(him, pw="wrong"))
        wait_for(lambda: "refused user" in srv.read_log(), 10, "refusal")
        assert requests.get(srv.base + "/healthz", timeout=5).ok
        wait_for(lambda: len([x for x in him.api_log if x[2] == 401]) >= 2,
                 15, "a retry")
        assert srv.read_log().count("refused user") == 1
        assert URN not in him.mediators
    finally:
        him.down()


def test_heartbeat_failures(db, start_server):
    him = OpenHIM()
    try:
        srv = start_server(db, extra_env=env_for(him))
        wait_for(lambda: heartbeats(him), 15, "first heartbeat")
        him.fail_heartbeats = 2
        wait_for(lambda: him.fail_heartbeats == 0, 45, "two failures")
        n = len(heartbeats(him))
        wait_for(lambda: len(heartbeats(him)) > n, 45, "recovery")
        log = srv.read_log()
        assert log.count("answered HTTP 500 to the heartbeat") == 1
        assert log.count("OpenHIM: registered as") == 2
        # After a failure the config is asked for again.
        assert heartbeats(him)[-1].get("config") is True
    finally:
        him.down()


def test_config_pushed_from_openhim(db, start_server):
    him = OpenHIM()
    try:
        srv = start_server(db, extra_env=env_for(him))
        wait_for(lambda: heartbeats(him), 15, "first heartbeat")
        him.set_config(URN, {"targets": [{
            "name": "sms-gateway", "url": him.router_url + "/sms",
            "username": "bulkhead", "password": "s3cret",
            "maxInlineBytes": 0}], "maxAttempts": 4})
        wait_for(lambda: "OpenHIM mediator config applied: 1 delivery "
                 "target, maxAttempts 4" in srv.read_log(), 15, "apply")
        # Valid for OpenHIM's configDefs, refused whole by Bulkhead.
        him.set_config(URN, {"targets": [
            {"name": "ok", "url": "http://x/ok"},
            {"name": "Bad Name", "url": "ftp://x"}]})
        wait_for(lambda: "config ignored" in srv.read_log(), 15, "ignore")
        log = srv.read_log()
        assert "targets[1].name" in log
        assert log.count("config applied: 1 delivery target") == 1
        assert "s3cret" not in log
    finally:
        him.down()


def test_standin_semver_and_heartbeat_rules():
    """The stand-in's own rules, as core-js src/api/mediators.js."""
    him = OpenHIM()
    auth = ("root@openhim.org", "openhim-password")
    base = {"urn": "urn:x", "name": "x", "endpoints": [{"name": "e"}]}
    try:
        post = lambda d: requests.post(him.api_url + "/mediators", json=d,
                                       auth=auth, timeout=5)
        assert post(dict(base, version="1.0")).status_code == 400
        assert post(dict(base, version="1.0.0")).status_code == 201
        assert post(dict(base, version="1.0.0", name="y")).status_code == 201
        assert him.mediators["urn:x"]["name"] == "x"     # equal: no update
        assert post(dict(base, version="1.1.0", name="z")).status_code == 201
        assert him.mediators["urn:x"]["name"] == "z"     # greater: update
        assert post(dict(base, version="1.0.5", name="w")).status_code == 201
        assert him.mediators["urn:x"]["name"] == "z"     # lower: no update
        hb = lambda d: requests.post(him.api_url + "/mediators/urn:x/"
                                     "heartbeat", json=d, auth=auth,
                                     timeout=5)
        assert hb({}).status_code == 400
        assert hb({"uptime": 1}).text == ""
        assert hb({"uptime": 2, "config": True}).json() == {}
        r = requests.post(him.api_url + "/mediators", json=base,
                          auth=(auth[0], "bad"), timeout=5)
        assert r.status_code == 401
    finally:
        him.down()


def push_target(him, srv, name="sms-gateway", **kw):
    t = {"name": name, "url": him.router_url + "/sms",
         "username": "bulkhead", "password": "s3cret"}
    t.update(kw)
    him.set_config(URN, {"targets": [t]})
    wait_for(lambda: srv.read_log().count("config applied: 1 delivery")
             >= 1, 15, "targets applied")


def deliveries(db, jid):
    return db.query("SELECT n, target, state, attempts, last_status, "
                    "last_response FROM openhim_deliveries WHERE job_id = "
                    "%s ORDER BY n", (jid,))


def sms_channel(him):
    him.add_client("bulkhead", "s3cret", roles=["bulkhead"])
    him.add_channel({"name": "SMS gateway", "urlPattern": "^/sms$",
                     "type": "http", "methods": ["POST"],
                     "allow": ["bulkhead"], "routes": []})


def router_posts(him):
    return [t for t in him.transactions if t["request"]["path"] == "/sms"]


def delivering_server(him, db, start_server):
    """A Bulkhead registered with him, its SMS gateway channel and the
    sms-gateway delivery target pushed as mediator config."""
    sms_channel(him)
    srv = start_server(db, extra_env=env_for(him))
    wait_for(lambda: heartbeats(him), 15, "first heartbeat")
    push_target(him, srv)
    return srv


def test_delivery_retries_then_succeeds(db, start_server, bulkhead_bin):
    from jobhelp import submit, wait_final
    him = OpenHIM()
    try:
        srv = delivering_server(him, db, start_server)
        him.scripts["SMS gateway"] = [401, 500, "timeout"]
        jid = submit(bulkhead_bin, db, "noop",
                     {"steps": 1, "step_ms": 0, "outputs": 1,
                      "deliver": [{"target": "sms-gateway"}]})
        wait_final(db, jid)
        # 401 (retry after 1 s), 500 (2 s), timeout (30 s, then 4 s), 200
        wait_for(lambda: deliveries(db, jid) and
                 deliveries(db, jid)[0][2] == "delivered", 75, "delivered")
        n, target, state, attempts, last, _ = deliveries(db, jid)[0]
        assert (n, target, attempts, last) == (1, "sms-gateway", 4, 200)
        posts = router_posts(him)
        assert [p["response"]["status"] for p in posts] == [
            401, 500, "timeout", 200]
        note = json.loads(posts[-1]["request"]["body"])
        assert note["jobId"] == jid and note["kind"] == "noop"
        assert note["delivery"] == {"n": 1, "attempt": 4,
                                    "target": "sms-gateway"}
        for o in note["output"]:
            assert o["url"].startswith(srv.fhir + "/_jobs/" + jid)
        assert posts[-1]["request"]["headers"][
            "X-Bulkhead-Delivery"] == jid + "/1"
        # The job itself was never held back or failed by the delivery.
        assert db.scalar("SELECT state FROM jobs WHERE id = %s",
                         (jid,)) == "completed"
    finally:
        him.down()


def test_delivery_target_removed(db, start_server, bulkhead_bin):
    from jobhelp import submit, wait_final
    him = OpenHIM()
    try:
        srv = delivering_server(him, db, start_server)
        him.scripts["SMS gateway"] = [500] * 20
        jid = submit(bulkhead_bin, db, "noop",
                     {"steps": 1, "step_ms": 0,
                      "deliver": [{"target": "sms-gateway"}]})
        wait_final(db, jid)
        wait_for(lambda: deliveries(db, jid) and
                 deliveries(db, jid)[0][4] == 500, 30, "first attempt")
        him.set_config(URN, {"targets": []})
        wait_for(lambda: deliveries(db, jid)[0][2] == "failed", 30,
                 "failed: target gone")
        assert "not configured" in deliveries(db, jid)[0][5]
        sent = len(router_posts(him))
        time.sleep(3)
        assert len(router_posts(him)) == sent     # no more attempts
    finally:
        him.down()


def test_delivery_signing_key_unavailable_is_retried(db, start_server,
                                                     bulkhead_bin):
    """A notification whose download URLs cannot be signed (the key
    table unreadable: a database fault) is not a lost delivery: it stays
    pending, is tried again, and goes out once the key loads; only a job
    or files gone fail it for good."""
    from jobhelp import submit, wait_final
    him = OpenHIM()
    try:
        srv = delivering_server(him, db, start_server)
        db.query("ALTER TABLE auth_keys RENAME TO auth_keys_away")
        try:
            jid = submit(bulkhead_bin, db, "noop",
                         {"steps": 1, "step_ms": 0, "outputs": 1,
                          "deliver": [{"target": "sms-gateway"}]})
            wait_final(db, jid)
            wait_for(lambda: deliveries(db, jid) and
                     deliveries(db, jid)[0][3] >= 2, 30, "two attempts")
            _, _, state, _, last, resp = deliveries(db, jid)[0]
            assert state == "pending" and last is None, (state, resp)
            assert "auth_keys" in resp
            assert router_posts(him) == []
        finally:
            db.query("ALTER TABLE auth_keys_away RENAME TO auth_keys")
        wait_for(lambda: deliveries(db, jid)[0][2] == "delivered", 30,
                 "delivered once the key loads")
        note = json.loads(router_posts(him)[-1]["request"]["body"])
        assert all("sig=" in o["url"] for o in note["output"])
    finally:
        him.down()


def children(pid, word):
    import os
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if ppid == pid and word in cmd:
            out.append(int(d))
    return out


def test_admin_cli_metrics_and_redeliver(db, start_server, bulkhead_bin):
    from jobhelp import cli, submit, wait_final
    him = OpenHIM()
    try:
        srv = delivering_server(him, db, start_server)
        jid = submit(bulkhead_bin, db, "noop",
                     {"steps": 1, "step_ms": 0,
                      "deliver": [{"target": "sms-gateway"},
                                  {"target": "nowhere"}]})
        wait_final(db, jid)
        wait_for(lambda: [d[2] for d in deliveries(db, jid)] ==
                 ["delivered", "failed"], 30, "both settled")
        h = {"Authorization": "Bearer test-admin-token"}
        r = requests.get(srv.base + "/admin/api/jobs/" + jid, headers=h,
                         timeout=5)
        ds = r.json()["deliveries"]
        assert [(d["n"], d["target"], d["state"], d["lastStatus"])
                for d in ds] == [(1, "sms-gateway", "delivered", 200),
                                 (2, "nowhere", "failed", None)]
        env = {"BULKHEAD_API_URL": srv.base,
               "BULKHEAD_ADMIN_TOKEN": "test-admin-token"}
        out = cli(bulkhead_bin, db, "jobs", "show", jid, env=env)
        assert out.returncode == 0, out.stderr
        text = out.stdout.decode()
        assert "delivery          1 sms-gateway delivered attempts 1 of " \
            "10 last HTTP 200" in text, text
        # /metrics reads the database at most once a second.
        line = 'bulkhead_openhim_deliveries{target="sms-gateway",' \
            'state="delivered"} 1'
        wait_for(lambda: line in requests.get(srv.base + "/metrics",
                                              timeout=5).text, 5, "metric")
        m = requests.get(srv.base + "/metrics", timeout=5).text
        assert line in m
        # Replay delivery 1: the receiver gets it a second time.
        out = cli(bulkhead_bin, db, "jobs", "redeliver", jid, "1", env=env)
        assert out.returncode == 0, out.stderr
        wait_for(lambda: len(router_posts(him)) == 2, 15, "redelivered")
        assert requests.post(srv.base + "/admin/api/jobs/%s/deliveries/9/"
                             "retry" % jid, headers=h,
                             timeout=5).status_code == 404
        assert requests.post(srv.base + "/admin/api/jobs/%s/deliveries/1/"
                             "retry" % jid, timeout=5).status_code == 401
    finally:
        him.down()


def test_worker_killed_mid_delivery(db, start_server, bulkhead_bin):
    """kill -9 of the worker while its POST hangs: the delivery's claim
    holds it 60 s, then another worker sends it again.  The receiver sees
    the notification twice at most: the first request (cut off by the
    kill) and the retry, both with the same X-Bulkhead-Delivery."""
    import os
    import signal
    from jobhelp import submit, wait_final
    him = OpenHIM()
    try:
        srv = delivering_server(him, db, start_server)
        him.scripts["SMS gateway"] = ["timeout"]
        jid = submit(bulkhead_bin, db, "noop",
                     {"steps": 1, "step_ms": 0,
                      "deliver": [{"target": "sms-gateway"}]})
        wait_final(db, jid)
        wait_for(lambda: router_posts(him), 15, "first POST")
        for pid in children(srv.proc.pid, b"worker"):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: deliveries(db, jid)[0][2] == "delivered", 90,
                 "delivered after the kill")
        posts = router_posts(him)
        assert len(posts) == 2
        assert {p["request"]["headers"]["X-Bulkhead-Delivery"]
                for p in posts} == {jid + "/1"}
        assert deliveries(db, jid)[0][3] == 2      # attempts
    finally:
        him.down()


def test_polling_tick_and_replay(db, start_server):
    """An OpenHIM polling channel's tick runs the schedule once; a replay
    of the same transaction answers with the same job."""
    him = OpenHIM()
    try:
        srv = start_server(db)
        h = {"Authorization": "Bearer test-admin-token"}
        r = requests.put(srv.base + "/admin/api/schedules/nightly",
                         headers=h, timeout=5, json={
                             "cron": "0 2 * * *", "timezone": "UTC",
                             "enabled": True, "misfire": "run-once",
                             "job": {"kind": "noop", "params": {
                                 "steps": 1, "step_ms": 0}}})
        assert r.status_code in (200, 201), r.text
        him.add_channel({
            "name": "nightly poll", "type": "polling",
            "urlPattern": "^/poll$", "pollingSchedule": "0 2 * * *",
            "routes": [{"name": "Bulkhead", "host": "127.0.0.1",
                        "port": srv.port, "path": "/openhim/poll/nightly",
                        "primary": True,
                        "headers": {"Authorization":
                                    "Bearer test-admin-token"}}]})
        tx = him.tick("nightly poll", last_run_at="2026-12-03T02:00:00Z")
        assert tx["response"]["status"] == 200
        assert "application/json+openhim" in tx["response"]["contentType"]
        mr = tx["mediatorResponse"]
        assert mr["x-mediator-urn"] == URN and mr["status"] == "Processing"
        assert mr["response"]["status"] == 202
        jid = mr["properties"]["jobId"]
        assert mr["properties"]["lastRunAt"] == "2026-12-03T02:00:00Z"
        assert mr["response"]["headers"]["location"].endswith(jid)
        assert mr["orchestrations"][0]["response"]["status"] == 202
        again = him.replay(tx)["mediatorResponse"]
        assert again["properties"]["jobId"] == jid
        assert again["properties"]["replayed"] == "true"
        assert db.scalar("SELECT count(*) FROM jobs") == 1
        # A new tick is a new run.
        tx2 = him.tick("nightly poll")
        assert tx2["mediatorResponse"]["properties"]["jobId"] != jid
        # Unknown schedule: Failed, 404, an OperationOutcome.
        him.channels[0]["routes"][0]["path"] = "/openhim/poll/nope"
        bad = him.tick("nightly poll")["mediatorResponse"]
        assert bad["status"] == "Failed" and bad["response"]["status"] == 404
        assert json.loads(bad["response"]["body"])[
            "resourceType"] == "OperationOutcome"
        # Without an operator token: refused.
        r = requests.get(srv.base + "/openhim/poll/nightly", timeout=5)
        assert r.status_code == 401
    finally:
        him.down()
