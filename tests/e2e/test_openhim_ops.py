"""OpenHIM hand-off, the operational parts (issue 15), against the real
server, real PostgreSQL and the OpenHIM stand-in (openhim_standin.py):

- delivery targets declared in the config file (openhim.target.NAME.*),
  checked by 'bulkhead config check', and merged with those OpenHIM
  pushes: on a name clash the file's target wins (an OpenHIM
  administrator cannot redirect a target the operator declared), and a
  pushed config never removes a file target;
- targets pass the import fetcher's address policy: a cloud metadata,
  private or loopback address is refused unless import_allow names the
  host; the delivery ends failed with the reason, and nothing is sent;
- inline files below a target's max_inline_bytes, URLs only above;
- cancelled jobs: a job cancelled before it completes gets no delivery;
  a completed export its client DELETEs while its delivery is pending is
  not notified again (the delivery ends failed, "files ... removed");
- 'bulkhead openhim install-channels' and openhim_install_channels = 1;
- the whole loop of 'make run OPENHIM=standin' (openhim_standin.Loop):
  register, channels, a polling tick runs the nightly export, the
  notification reaches the receiver, which fetches the file;
- docker/compose.yml ('docker-compose config -q' when docker-compose is
  installed) and the config file it mounts.
"""
import json
import pathlib
import shutil
import subprocess
import time

import pytest
import requests

from conftest import run_cli
from jobhelp import cli, submit, wait_final, wait_job
from openhim_standin import OpenHIM, Loop
from test_openhim import (URN, deliveries, env_for, heartbeats,
                          router_posts, sms_channel, wait_for)

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADMIN = "test-admin-token"
INLINE_CAP = 15 * 1024 * 1024


def target(name, url, user=None, pw=None, inline=None, channel=None):
    lines = ["openhim.target.%s.url = %s" % (name, url)]
    if user is not None:
        lines.append("openhim.target.%s.username = %s" % (name, user))
    if pw is not None:
        lines.append("openhim.target.%s.password = %s" % (name, pw))
    if inline is not None:
        lines.append("openhim.target.%s.max_inline_bytes = %d" % (name,
                                                                 inline))
    if channel is not None:
        lines.append("openhim.target.%s.channel = %s" % (name, channel))
    return "\n".join(lines) + "\n"


def conf_file(tmp_path, text, name="bulkhead.conf"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def config_check(binary, path, *extra):
    return run_cli(binary, ["config", "check"] + list(extra), env={
        "BULKHEAD_CONFIG": str(path),
        "BULKHEAD_DATABASE_URL": "postgresql://nowhere/x"})


def load_demo(binary, db, tmp_path, families=3):
    gen = tmp_path / "gen"
    r = cli(binary, None, "generate", "--families", str(families), "--seed",
            "2", "--out", str(gen), "--today", "2026-06-01")
    assert r.returncode == 0, r.stderr.decode()
    r = cli(binary, db, "load", str(gen))
    assert r.returncode == 0, r.stderr.decode()
    return db.scalar("SELECT count(*) FROM resources WHERE type = "
                     "'Patient' AND NOT deleted")


def notes(him, path="/sms"):
    return [json.loads(t["request"]["body"]) for t in him.transactions
            if t["request"]["path"] == path]


# ---- the config file -------------------------------------------------

def test_config_check_validates_file_targets(bulkhead_bin, tmp_path):
    good = conf_file(tmp_path, target(
        "sms-gateway", "https://openhim:5000/sms", "bulkhead", "s3cret",
        1048576, "SMS gateway"))
    r = config_check(bulkhead_bin, good, "--show")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "openhim.target.sms-gateway.url = https://openhim:5000/sms" in out
    assert "openhim.target.sms-gateway.password = (set)" in out
    assert "openhim.target.sms-gateway.max_inline_bytes = 1048576" in out
    assert "s3cret" not in out

    cases = [
        ("openhim.target.sms.url = ftp://x/y\n",
         "openhim.target.sms.url: \"ftp://x/y\" must start with http://"),
        ("openhim.target.sms.url = http://u:p@openhim:5001/sms\n",
         "must not carry user:password@"),
        ("openhim.target.sms.url = http://openhim:99999/sms\n",
         "openhim.target.sms.url: \"http://openhim:99999/sms\" has a bad "
         "port"),
        ("openhim.target.sms.url = http:///sms\n",
         "openhim.target.sms.url: \"http:///sms\" has no host"),
        ("openhim.target.sms.url = http://x/\nopenhim.target.sms.token = t\n",
         "openhim.target.sms.token: unknown field (url, username, "
         "password, max_inline_bytes, channel)"),
        ("openhim.target.sms.url = http://x/\n"
         "openhim.target.sms.max_inline_bytes = 15728641\n",
         "openhim.target.sms.max_inline_bytes: \"15728641\" is too large "
         "(expected an integer from 0 to 15728640: 15 MiB is OpenHIM's cap"),
        ("openhim.target.sms.url = http://x/\n"
         "openhim.target.sms.max_inline_bytes = -1\n",
         "max_inline_bytes: \"-1\" is too small"),
        ("openhim.target.sms.username = bulkhead\n",
         "openhim.target.sms.url: required"),
        ("openhim.target.SMS.url = http://x/\n",
         "openhim.target name \"SMS\": must be 1-64 of a-z, 0-9"),
        ("openhim.target.sms.url = http://x/\nopenhim.target.sms.url = "
         "http://y/\n", "openhim.target.sms.url: already set at file "),
        ("openhim.target.sms = http://x/\n",
         "expected openhim.target.NAME.FIELD"),
    ]
    for i, (text, want) in enumerate(cases):
        path = conf_file(tmp_path, text, "bad%d.conf" % i)
        r = config_check(bulkhead_bin, path)
        err = r.stderr.decode()
        assert r.returncode == 1, (text, err)
        assert want in err, (text, err)
        assert err.startswith("bulkhead config: file %s:" % path), err
        assert err.count("\n") == 1, err          # one line


# ---- file targets and pushed ones ------------------------------------

def test_file_target_wins_and_survives_pushed_config(db, start_server,
                                                     bulkhead_bin, tmp_path):
    him = OpenHIM()
    try:
        sms_channel(him)
        him.add_channel({"name": "Elsewhere", "urlPattern": "^/elsewhere$",
                         "type": "http", "methods": ["POST"],
                         "allow": ["bulkhead"], "routes": []})
        conf = conf_file(tmp_path, target(
            "sms-gateway", him.router_url + "/sms", "bulkhead", "s3cret"))
        env = dict(env_for(him), BULKHEAD_CONFIG=conf)
        srv = start_server(db, extra_env=env)
        wait_for(lambda: heartbeats(him), 15, "first heartbeat")
        elsewhere = {"url": him.router_url + "/elsewhere",
                     "username": "bulkhead", "password": "s3cret"}
        # What an OpenHIM administrator may push: a clash with the file,
        # a new target, and one on a private address (import_allow names
        # only 127.0.0.1 here).
        him.set_config(URN, {"targets": [
            dict(elsewhere, name="sms-gateway"),
            dict(elsewhere, name="pushed-only"),
            dict(elsewhere, name="pushed-lan",
                 url="http://192.168.77.1:5001/sms")]})
        wait_for(lambda: "config applied: 3 delivery targets" in
                 srv.read_log(), 15, "pushed config applied")
        assert "target \"sms-gateway\" is also declared in the config " \
            "file (file %s:1): the file's wins" % conf in srv.read_log()
        jid = submit(bulkhead_bin, db, "noop", {
            "steps": 1, "step_ms": 0, "outputs": 1,
            "deliver": [{"target": "sms-gateway"},
                        {"target": "pushed-only"},
                        {"target": "pushed-lan"}]})
        wait_final(db, jid)
        wait_for(lambda: [d[2] for d in deliveries(db, jid)] ==
                 ["delivered", "delivered", "failed"], 30, "settled")
        assert deliveries(db, jid)[2][5] == (
            "refused by the address policy: host 192.168.77.1 is private "
            "address 192.168.77.1 (name the host in import_allow to allow "
            "it)")
        # The clash went to the file's URL; the other pushed one to its.
        assert [n["delivery"]["target"] for n in notes(him, "/sms")] == [
            "sms-gateway"]
        assert [n["delivery"]["target"] for n in notes(
            him, "/elsewhere")] == ["pushed-only"]
        assert "delivery 1 to sms-gateway (from the config file): " \
            "delivered" in srv.read_log()
        assert "delivery 2 to pushed-only (from OpenHIM): delivered" in \
            srv.read_log()

        # OpenHIM's config loses its targets: the pushed ones go, the
        # file's stays.
        empty = "config applied: 0 delivery targets"
        before = srv.read_log().count(empty)      # the first heartbeat's
        him.set_config(URN, {"targets": []})
        wait_for(lambda: srv.read_log().count(empty) > before, 15,
                 "empty config applied")
        jid2 = submit(bulkhead_bin, db, "noop", {
            "steps": 1, "step_ms": 0,
            "deliver": [{"target": "sms-gateway"},
                        {"target": "pushed-only"}]})
        wait_final(db, jid2)
        wait_for(lambda: [d[2] for d in deliveries(db, jid2)] ==
                 ["delivered", "failed"], 30, "file one delivered")
        assert "\"pushed-only\" is not configured" in \
            deliveries(db, jid2)[1][5]
        assert len(notes(him, "/sms")) == 2
    finally:
        him.down()


# ---- the address policy ----------------------------------------------

def test_metadata_private_and_loopback_targets_refused(db, start_server,
                                                       bulkhead_bin,
                                                       tmp_path):
    """No OpenHIM API at all: file targets alone make the workers
    deliver.  import_allow is empty, so none of these hosts is named:
    each delivery ends failed at its first attempt, with the reason, and
    no request leaves (the stand-in's router, on loopback, sees none)."""
    him = OpenHIM()
    try:
        sms_channel(him)
        conf = conf_file(tmp_path, "".join([
            target("metadata", "http://169.254.169.254/latest/meta-data/"),
            target("lan", "http://10.1.2.3:5001/sms"),
            target("loopback", him.router_url + "/sms", "bulkhead",
                   "s3cret"),
            target("localhost", "http://localhost:%d/sms" % him.router_port,
                   "bulkhead", "s3cret")]))
        srv = start_server(db, extra_env={"BULKHEAD_CONFIG": conf})
        jid = submit(bulkhead_bin, db, "noop", {
            "steps": 1, "step_ms": 0, "deliver": [
                {"target": "metadata"}, {"target": "lan"},
                {"target": "loopback"}, {"target": "localhost"}]})
        wait_final(db, jid)
        wait_for(lambda: len(deliveries(db, jid)) == 4 and all(
            d[2] != "pending" for d in deliveries(db, jid)), 30, "settled")
        rows = deliveries(db, jid)
        want = ["host 169.254.169.254 is cloud metadata address "
                "169.254.169.254", "host 10.1.2.3 is private address "
                "10.1.2.3", "host 127.0.0.1 is loopback address 127.0.0.1",
                "host localhost is loopback address"]
        for row, what in zip(rows, want):
            n, name, state, attempts, last, resp = row
            assert (state, attempts, last) == ("failed", 1, None), row
            assert resp.startswith("refused by the address policy: " +
                                   what), resp
            assert "name the host in import_allow" in resp
        assert router_posts(him) == []
        assert requests.get(srv.base + "/healthz", timeout=5).ok
        assert db.scalar("SELECT state FROM jobs WHERE id = %s",
                         (jid,)) == "completed"
    finally:
        him.down()


# ---- inline files ----------------------------------------------------

def test_inline_below_the_cap_urls_above(db, start_server, bulkhead_bin,
                                         tmp_path):
    him = OpenHIM()
    try:
        sms_channel(him)
        conf = conf_file(tmp_path, target(
            "small", him.router_url + "/sms", "bulkhead", "s3cret",
            inline=1048576) + target(
            "tiny", him.router_url + "/sms", "bulkhead", "s3cret",
            inline=100))
        # auth = none: the test reads the files without a token.
        srv = start_server(db, extra_env={
            "BULKHEAD_CONFIG": conf, "BULKHEAD_AUTH": "none",
            "BULKHEAD_IMPORT_ALLOW": "127.0.0.1"})
        npat = load_demo(bulkhead_bin, db, tmp_path)
        assert npat > 0
        jid = submit(bulkhead_bin, db, "export", {
            "level": "system", "types": ["Patient"],
            "deliver": [{"target": "small"}, {"target": "tiny"}]})
        assert wait_final(db, jid)["state"] == "completed"
        wait_for(lambda: [d[2] for d in deliveries(db, jid)] ==
                 ["delivered", "delivered"], 30, "delivered")
        by = {n["delivery"]["target"]: n for n in notes(him)}
        small, tiny = by["small"], by["tiny"]
        assert small["output"], small
        total = sum(o["bytes"] for o in small["output"] + small["error"])
        assert 100 <= total < 1048576
        lines = 0
        for o in small["output"]:
            assert o["type"] == "Patient"
            r = requests.get(o["url"], timeout=30,
                             headers={"Accept-Encoding": "identity"})
            assert r.status_code == 200
            assert o["inline"] == r.text        # the file, decompressed
            assert len(o["inline"].encode()) == o["bytes"]
            assert len(o["inline"].splitlines()) == o["count"]
            lines += o["count"]
        assert lines == npat
        # Above the cap: the same notification, URLs only.
        assert [o["url"] for o in tiny["output"]] == [
            o["url"] for o in small["output"]]
        assert all("inline" not in o for o in tiny["output"])
        assert len(json.dumps(small)) < INLINE_CAP
    finally:
        him.down()


# ---- cancelled jobs --------------------------------------------------

def test_cancelled_jobs_are_not_delivered(db, start_server, bulkhead_bin,
                                          tmp_path):
    """What we decided: a notification announces a job's files.  A job
    cancelled before it completes has none, so it gets no delivery at
    all.  A completed export whose client cancels it (DELETE on its
    status URL, Bulk Data §1.12: the files are removed) while its
    delivery is pending (here: the receiver answers 500 and it waits for
    its next attempt) is not notified again: the next attempt finds the
    files gone and ends the delivery failed with that reason, at once.
    Only an attempt already on the wire at the DELETE can still arrive,
    and its URLs then answer 404."""
    him = OpenHIM()
    try:
        sms_channel(him)
        him.scripts["SMS gateway"] = [500] * 50
        conf = conf_file(tmp_path, target(
            "sms-gateway", him.router_url + "/sms", "bulkhead", "s3cret"))
        srv = start_server(db, extra_env={
            "BULKHEAD_CONFIG": conf, "BULKHEAD_AUTH": "none",
            "BULKHEAD_IMPORT_ALLOW": "127.0.0.1"})
        load_demo(bulkhead_bin, db, tmp_path, families=2)
        deliver = [{"target": "sms-gateway"}]
        env = {"BULKHEAD_API_URL": srv.base, "BULKHEAD_ADMIN_TOKEN": ADMIN}

        # Cancelled while running: never completed, never delivered.
        jid = submit(bulkhead_bin, db, "noop", {
            "steps": 600, "step_ms": 100, "deliver": deliver})
        wait_job(db, jid, lambda j: j["state"] == "running")
        r = cli(bulkhead_bin, db, "jobs", "cancel", jid, env=env)
        assert r.returncode == 0, r.stderr
        assert wait_final(db, jid)["state"] == "cancelled"

        # Completed, its delivery failing, then cancelled by its client.
        xid = submit(bulkhead_bin, db, "export", {
            "level": "system", "types": ["Patient"], "deliver": deliver})
        assert wait_final(db, xid)["state"] == "completed"
        wait_for(lambda: deliveries(db, xid) and
                 deliveries(db, xid)[0][4] == 500, 30, "a failed attempt")
        r = requests.delete(srv.fhir + "/_jobs/" + xid, timeout=10)
        assert r.status_code == 202, r.text
        wait_for(lambda: deliveries(db, xid)[0][2] == "failed", 30,
                 "delivery failed")
        row = deliveries(db, xid)[0]
        assert "the files of job %s were removed" % xid in row[5], row
        sent = len(router_posts(him))
        time.sleep(4)                       # past the next backoff
        assert len(router_posts(him)) == sent
        assert deliveries(db, jid) == []
        assert {n["jobId"] for n in notes(him)} == {xid}
        # The job itself keeps its state; only its files went.
        assert db.scalar("SELECT state FROM jobs WHERE id = %s",
                         (xid,)) == "completed"
    finally:
        him.down()


# ---- default channels ------------------------------------------------

def test_install_channels(db, start_server, bulkhead_bin):
    him = OpenHIM()
    auth = ("root@openhim.org", "openhim-password")
    names = ["Bulkhead bulk data", "Bulkhead nightly export poll"]
    try:
        env = env_for(him)
        r = run_cli(bulkhead_bin, ["openhim", "install-channels"], env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == "default channels: installed 2: " \
            "[\"Bulkhead bulk data\",\"Bulkhead nightly export poll\"]\n"
        assert sorted(c["name"] for c in him.channels) == names
        poll = next(c for c in him.channels if c["type"] == "polling")
        assert poll["routes"][0]["path"] == "/openhim/poll/nightly"
        assert ("POST", "/mediators", 201) in him.api_log   # registered
        # Again: nothing to create, and nothing that would fail.
        r = run_cli(bulkhead_bin, ["openhim", "install-channels"], env=env)
        assert r.returncode == 0, r.stderr
        assert "all 2 already in OpenHIM" in r.stdout.decode()
        assert len(him.channels) == 2
        # Why it asks first: core's names are unique, so [] (all) now
        # fails, and an unknown name is a 400.
        url = him.api_url + "/mediators/%s/channels" % URN
        assert requests.post(url, json=[], auth=auth,
                             timeout=5).status_code == 500
        assert requests.post(url, json=["nope"], auth=auth,
                             timeout=5).status_code == 400
        # One deleted in the console: only it comes back.
        him.channels = [c for c in him.channels if c["name"] != names[0]]
        r = run_cli(bulkhead_bin, ["openhim", "install-channels"], env=env)
        assert "installed 1: [\"Bulkhead bulk data\"]" in r.stdout.decode()
        assert sorted(c["name"] for c in him.channels) == names
        # Wrong password, OpenHIM down: one line, exit 1.
        r = run_cli(bulkhead_bin, ["openhim", "install-channels"],
                    env=env_for(him, pw="wrong"))
        err = r.stderr.decode()
        assert r.returncode == 1 and err.count("\n") == 1, err
        assert "HTTP 401 to POST /mediators" in err
        him.down()
        r = run_cli(bulkhead_bin, ["openhim", "install-channels"], env=env)
        err = r.stderr.decode()
        assert r.returncode == 1 and err.count("\n") == 1, err
        assert "unreachable" in err
        r = run_cli(bulkhead_bin, ["openhim", "bogus"], env=env)
        assert r.returncode == 2
    finally:
        him.down()

    # openhim_install_channels = 1: the scheduler does it once registered.
    him2 = OpenHIM()
    try:
        srv = start_server(db, extra_env=dict(
            env_for(him2), BULKHEAD_OPENHIM_INSTALL_CHANNELS="1"))
        wait_for(lambda: len(him2.channels) == 2, 20, "channels")
        wait_for(lambda: "OpenHIM: default channels: installed 2" in
                 srv.read_log(), 10, "log line")
        assert sorted(c["name"] for c in him2.channels) == names
    finally:
        him2.down()


# ---- the whole loop (make run OPENHIM=standin) -----------------------

def test_the_whole_loop(db, start_server, bulkhead_bin, tmp_path):
    """scripts/openhim-standin.sh's loop, driven step by step: its
    configuration, the stand-in and Loop, with auth = smart (the
    default): the polling route authenticates with Basic auth as core's
    routes do, and the receiver fetches the file with the signed URL the
    notification carried, no token."""
    him = OpenHIM()
    events = []
    try:
        loop = Loop(him, "bulkhead", "bulkhead-secret", token=ADMIN,
                    out=events.append)
        conf = conf_file(tmp_path, target(
            "receiver", him.router_url + "/notify", "bulkhead",
            "bulkhead-secret", channel="Receiver") +
            "schedule.nightly.cron = 0 2 * * *\n"
            "schedule.nightly.kind = export\n"
            "schedule.nightly.enabled = false\n"
            "schedule.nightly.params = {\"level\":\"system\",\"types\":"
            "[\"Patient\"],\"deliver\":[{\"target\":\"receiver\"}]}\n")
        srv = start_server(db, extra_env=dict(
            env_for(him), BULKHEAD_CONFIG=conf, BULKHEAD_AUTH="smart",
            BULKHEAD_OPENHIM_INSTALL_CHANNELS="1"))
        npat = load_demo(bulkhead_bin, db, tmp_path)
        wait_for(lambda: db.scalar("SELECT count(*) FROM schedules WHERE "
                                   "name = 'nightly'"), 15, "schedule")

        def fetched():
            loop.step()
            return [f for f in loop.fetched if f[1] == 200]
        got = wait_for(fetched, 90, "the receiver's fetch")
        text = "\n".join(events)
        assert "registered urn:mediator:bulkhead 1.0.0" in text
        assert "channels installed by Bulkhead: Bulkhead bulk data, " \
            "Bulkhead nightly export poll" in text
        tick = next(e for e in events if e.startswith("poll tick"))
        assert "-> HTTP 200 Processing job " in tick
        jid = tick.rsplit(" ", 1)[1]
        assert db.scalar("SELECT client FROM jobs WHERE id = %s",
                         (jid,)) == "schedule:nightly"
        assert any(e.startswith("router POST /notify -> 200: job %s "
                                "(export), 1 output(s)" % jid)
                   for e in events), text
        url, status, lines = got[0]
        assert url.startswith(srv.fhir + "/_jobs/" + jid)
        assert "sig=" in url and "exp=" in url
        assert len(lines) == npat
        assert all(json.loads(x)["resourceType"] == "Patient"
                   for x in lines)
        assert deliveries(db, jid)[0][2] == "delivered"
    finally:
        him.down()


# ---- docker/compose.yml ----------------------------------------------

def test_compose_config_file_checks(bulkhead_bin):
    r = config_check(bulkhead_bin, ROOT / "docker" / "bulkhead-openhim.conf")
    assert r.returncode == 0, r.stderr


def test_compose_file_validates():
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose not installed (Debian package "
                    "docker-compose; scripts/deps.sh test installs it)")
    compose = str(ROOT / "docker" / "compose.yml")
    r = subprocess.run([exe, "-f", compose, "config", "-q"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    r = subprocess.run([exe, "-f", compose, "config", "--services"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert set(r.stdout.decode().split()) >= {
        "postgres", "api", "worker", "scheduler", "mongo", "openhim-core",
        "openhim-console"}
    r = subprocess.run([exe, "-f", compose, "config"], capture_output=True,
                       timeout=120)
    text = r.stdout.decode()
    assert "jembi/openhim-core:v8.5." in text
    assert "BULKHEAD_OPENHIM_API_URL: https://openhim-core:8080" in text
