"""OpenHIM polling channels, the collecting side and the route's
authentication (issue 15): GET /openhim/poll/{schedule}/outputs and Basic
auth of admin principals, against a real 'bulkhead run' (auth = smart,
the default) on a small generated store and the OpenHIM stand-in, whose
polling ticks send what core's polling app sends (route username and
password as Basic auth, X-OpenHIM-LastRunAt, X-OpenHIM-TransactionID).

Covered: outputs since a time (header, query parameter, and the
JavaScript date core really sends) are exactly the later jobs' outputs,
each with a signed URL that downloads with no token; a bad since;
unknown schedule; Basic auth good, wrong token, wrong name, viewer role,
missing; the run endpoint through Basic auth; database down: both
endpoints answer application/json+openhim with "error" set."""
import base64
import json
import time
from datetime import datetime, timezone

import requests

from faulthelp import ThrowawayCluster
from jobhelp import cli, wait_final
from conftest import run_cli
from openhim_standin import OpenHIM

URN = "urn:mediator:bulkhead"
ADMIN = {"Authorization": "Bearer test-admin-token"}
NIGHTLY = {"cron": "0 2 * * *", "timezone": "UTC", "enabled": False,
           "misfire": "skip",
           "job": {"kind": "export", "params": {"level": "system"}}}
NO_TOKEN = {"Authorization": None, "Accept-Encoding": "identity"}


def add(bulkhead_bin, db, name, role):
    """A new admin principal; its token."""
    r = run_cli(bulkhead_bin, ["admins", "add", name, "--role", role],
                db=db)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().strip()


def load_store(bulkhead_bin, db, tmp_path):
    gen = tmp_path / "gen"
    r = cli(bulkhead_bin, None, "generate", "--families", "3", "--seed",
            "7", "--out", str(gen), "--today", "2026-06-01")
    assert r.returncode == 0, r.stderr.decode()
    r = cli(bulkhead_bin, db, "load", str(gen))
    assert r.returncode == 0, r.stderr.decode()


def put_schedule(srv, name="nightly", body=NIGHTLY):
    r = requests.put(srv.base + "/admin/api/schedules/" + name,
                     headers=ADMIN, json=body, timeout=10)
    assert r.status_code in (200, 201), r.text


def run_now(srv, db, name="nightly"):
    r = requests.post(srv.base + "/admin/api/schedules/%s/run" % name,
                      headers=ADMIN, timeout=10)
    assert r.status_code == 202, r.text
    j = wait_final(db, r.json()["id"], timeout=120)
    assert j["state"] == "completed", j
    return j["id"]


def iso_now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def poll_channel(him, srv, path, user, password):
    return him.add_channel({
        "name": "poll " + path, "type": "polling", "urlPattern": "^/poll$",
        "pollingSchedule": "0 3 * * *",
        "routes": [{"name": "Bulkhead", "host": "127.0.0.1",
                    "port": srv.port, "path": path, "primary": True,
                    "username": user, "password": password}]})


def basic(user, password):
    return "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()


def get(srv, path, auth=None, **headers):
    h = dict(headers)
    if auth is not None:
        h["Authorization"] = auth
    return requests.get(srv.base + path, headers=h, timeout=30)


def outputs_of(mr):
    body = json.loads(mr["response"]["body"])
    return body, [j["jobId"] for j in body["jobs"]]


def test_outputs_since_and_basic_auth(bulkhead_bin, db, start_server,
                                      tmp_path):
    him = OpenHIM()
    try:
        srv = start_server(db)
        load_store(bulkhead_bin, db, tmp_path)
        put_schedule(srv)
        op = add(bulkhead_bin, db, "openhim", "operator")
        viewer = add(bulkhead_bin, db, "watcher", "viewer")
        a = run_now(srv, db)
        time.sleep(1.2)
        since = iso_now()
        time.sleep(1.2)
        b = run_now(srv, db)
        c = run_now(srv, db)

        # A polling tick, as core sends it: Basic auth from the route.
        ch = poll_channel(him, srv, "/openhim/poll/nightly/outputs",
                          "openhim", op)
        tx = him.tick(ch["name"], last_run_at=since)
        assert tx["response"]["status"] == 200, tx["response"]
        assert "application/json+openhim" in tx["response"]["contentType"]
        mr = tx["mediatorResponse"]
        assert mr["x-mediator-urn"] == URN
        assert mr["status"] == "Successful"
        assert mr["response"]["status"] == 200
        assert mr["response"]["headers"]["content-type"] == \
            "application/json"
        assert mr["orchestrations"] == []
        body, jobs = outputs_of(mr)
        assert jobs == [b, c]                # exactly the later jobs
        assert mr["properties"]["jobs"] == "2"
        assert mr["properties"]["truncated"] == "false"
        assert body["truncated"] is False
        files = 0
        for j in body["jobs"]:
            assert j["kind"] == "export" and j["output"]
            for o in j["output"]:
                assert "sig=" in o["url"] and "&exp=" in o["url"]
                assert o["count"] > 0 and o["type"]
                r = requests.get(o["url"], headers=NO_TOKEN, timeout=30)
                assert r.status_code == 200, (o["url"], r.text)
                assert len(r.content.decode().splitlines()) == o["count"]
                files += 1
        assert mr["properties"]["files"] == str(files + sum(
            len(j["error"]) for j in body["jobs"]))

        # The same through the since query parameter; and the date core
        # really sends (JavaScript Date.toString of lastRunAt).
        r = get(srv, "/openhim/poll/nightly/outputs?since=" +
                since.replace("+", "%2B"), basic("openhim", op))
        assert r.status_code == 200, r.text
        assert outputs_of(r.json())[1] == [b, c]
        t = datetime.fromisoformat(since)
        js = t.strftime("%a %b %d %Y %H:%M:%S GMT+0000 "
                        "(Coordinated Universal Time)")
        r = get(srv, "/openhim/poll/nightly/outputs", basic("openhim", op),
                **{"X-OpenHIM-LastRunAt": js})
        assert r.status_code == 200, r.text
        # whole seconds, and a finished over a second before since
        assert outputs_of(r.json())[1] == [b, c]
        # No since at all: every job whose files are there.
        r = get(srv, "/openhim/poll/nightly/outputs", basic("openhim", op))
        assert outputs_of(r.json())[1] == [a, b, c]

        # A bad since: Failed, 400, an OperationOutcome.
        r = get(srv, "/openhim/poll/nightly/outputs?since=yesterday",
                basic("openhim", op))
        assert r.status_code == 200      # a mediator response: see body
        assert r.headers["Content-Type"].startswith(
            "application/json+openhim")
        mr = r.json()
        assert mr["status"] == "Failed" and mr["response"]["status"] == 400
        oo = json.loads(mr["response"]["body"])
        assert oo["resourceType"] == "OperationOutcome"
        assert "since" in oo["issue"][0]["diagnostics"]
        assert "error" not in mr
        r = get(srv, "/openhim/poll/nightly/outputs", basic("openhim", op),
                **{"X-OpenHIM-LastRunAt": "2026-13-01T00:00:00Z"})
        assert r.json()["response"]["status"] == 400
        # Unknown schedule: Failed, 404.
        r = get(srv, "/openhim/poll/nope/outputs", basic("openhim", op))
        mr = r.json()
        assert mr["status"] == "Failed" and mr["response"]["status"] == 404

        # Authentication.
        for auth in (None, basic("openhim", "bha_wrong"),
                     basic("watcher", op),          # another's token
                     basic("openhim", ""), "Basic !!!", "Bearer bha_x"):
            r = get(srv, "/openhim/poll/nightly/outputs", auth)
            assert r.status_code == 401, (auth, r.text)
            ch_ = r.headers["WWW-Authenticate"]
            assert 'Basic realm="bulkhead"' in ch_ and "Bearer" in ch_
            mr = r.json()
            assert mr["status"] == "Failed"
            assert mr["response"]["status"] == 401
            assert json.loads(mr["response"]["body"])[
                "issue"][0]["code"] == "login"
        r = get(srv, "/openhim/poll/nightly/outputs",
                basic("watcher", viewer))
        assert r.status_code == 403
        assert "operator" in json.loads(r.json()["response"]["body"])[
            "issue"][0]["diagnostics"]
        # Bearer of the operator, and the legacy admin_token as "config".
        assert get(srv, "/openhim/poll/nightly/outputs",
                   "Bearer " + op).status_code == 200
        assert get(srv, "/openhim/poll/nightly/outputs",
                   basic("config", "test-admin-token")).status_code == 200
        assert get(srv, "/openhim/poll/nightly/outputs",
                   basic("openhim", "test-admin-token")).status_code == 401

        # The run endpoint through the route's Basic auth.
        ch2 = poll_channel(him, srv, "/openhim/poll/nightly", "openhim", op)
        mr = him.tick(ch2["name"])["mediatorResponse"]
        assert mr["status"] == "Processing", mr
        assert mr["response"]["status"] == 202
        assert get(srv, "/openhim/poll/nightly",
                   basic("watcher", viewer)).status_code == 403

        # No token, signature or password in the log.
        log = srv.read_log()
        assert op not in log and viewer not in log
        assert "sig=" not in log
    finally:
        him.down()


def test_pages_end_on_a_millisecond(bulkhead_bin, db, start_server,
                                    tmp_path):
    """More jobs than a page: nextSince is the last listed job's finish,
    in milliseconds, and the page ends where a millisecond ends, so
    following nextSince lists every job exactly once even when several
    finished within one millisecond (here three per millisecond, the
    cut falling inside a group)."""
    srv = start_server(db)
    load_store(bulkhead_bin, db, tmp_path)
    put_schedule(srv)
    a = run_now(srv, db)
    # 150 more completed jobs of the schedule, copies of a's row, three
    # to a millisecond, 100 µs apart, none on a whole millisecond.
    db.query(
        "INSERT INTO jobs SELECT (jsonb_populate_record(NULL::jobs, "
        "to_jsonb(j) || jsonb_build_object('id', j.id || lpad(g::text, 4, "
        "'0'), 'finished', '2026-01-01T00:00:00Z'::timestamptz + "
        "make_interval(secs => (g / 3) * 0.001 + mod(g, 3) * 0.0001 "
        "+ 0.00005)))).* "
        "FROM jobs j, generate_series(0, 149) g WHERE j.id = %s", (a,))
    auth = basic("config", "test-admin-token")
    seen, since, pages = [], None, 0
    while True:
        path = "/openhim/poll/nightly/outputs"
        if since is not None:
            path += "?since=" + since
        r = get(srv, path, auth)
        assert r.status_code == 200, r.text
        body, jobs = outputs_of(r.json())
        seen += jobs
        pages += 1
        if not body["truncated"]:
            break
        since = body["nextSince"]
        assert since.endswith("Z") and len(since.split(".")[1]) == 4
        assert pages < 5
    assert pages == 2
    assert len(seen) == len(set(seen)) == 151
    assert seen[-1] == a
    # the first page stopped before the millisecond the cut fell in
    first = db.query("SELECT id FROM jobs WHERE id LIKE %s ORDER BY "
                     "finished, id LIMIT 99", (a + "%",))
    assert seen[:99] == [x[0] for x in first if x[0] != a]


def test_database_down_answers_error(bulkhead_bin, start_server):
    """Infrastructure failures answer application/json+openhim with
    "error" set (OpenHIM then auto-retries), on both endpoints, whether
    the principal is looked up in the database or is the legacy
    admin_token."""
    pg = ThrowawayCluster()
    try:
        db = pg.database("bh_poll_down")
        srv = start_server(db)
        put_schedule(srv)
        op = add(bulkhead_bin, db, "openhim", "operator")
        assert get(srv, "/openhim/poll/nightly/outputs",
                   basic("openhim", op)).status_code == 200
        pg.stop()
        for path in ("/openhim/poll/nightly",
                     "/openhim/poll/nightly/outputs"):
            for auth in (basic("openhim", op),
                         basic("config", "test-admin-token")):
                r = get(srv, path, auth,
                        **{"X-OpenHIM-TransactionID": "tx-down-1"})
                assert r.status_code == 500, (path, r.status_code, r.text)
                assert r.headers["Content-Type"].startswith(
                    "application/json+openhim"), r.headers
                mr = r.json()
                assert mr["x-mediator-urn"] == URN
                assert mr["error"]["message"], mr
        pg.start()
    finally:
        pg.destroy()
