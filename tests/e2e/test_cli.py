"""The operator command line over the admin API: 'bulkhead jobs',
'bulkhead schedules' and 'bulkhead limits'.

Tables by default, the API's JSON with --json, exit 0 on success, 1 when
the API refuses or cannot be reached (its message, one line on stderr),
2 for usage errors found before any request.
"""
import json
import re
import uuid

import pytest

from jobhelp import cli, job, submit, wait_final, wait_job

TOKEN = "test-admin-token"


def env_for(server, **extra):
    e = {"BULKHEAD_API_URL": server.base, "BULKHEAD_ADMIN_TOKEN": TOKEN}
    e.update(extra)
    return e


def one_line(r):
    lines = [l for l in r.stderr.decode().splitlines() if l.strip()]
    assert len(lines) == 1, r.stderr.decode()
    return lines[0]


@pytest.fixture
def api(db, start_server):
    return start_server(db, role="serve")


def put_job(db, state, kind="noop", params=None, **cols):
    jid = uuid.uuid4().hex
    row = {"id": jid, "kind": kind, "state": state,
           "params": json.dumps(params or {"steps": 1})}
    if state in ("running", "cancelling"):
        row.update(lease_owner="elsewhere:1:0",
                   lease_expires="2999-01-01T00:00:00Z", attempts=1)
    row.update(cols)
    db.query("INSERT INTO jobs (%s) VALUES (%s)" % (
        ", ".join(row), ", ".join(["%s"] * len(row))), tuple(row.values()))
    return jid


def table(out):
    """Rows of an aligned table: header columns start where values do."""
    lines = out.decode().rstrip("\n").split("\n")
    head = lines[0]
    starts = [m.start() for m in re.finditer(r"(?<!\S)\S", head)]
    # Titles may hold one space ("NEXT FIRE"): columns are 2+ apart.
    starts = [s for i, s in enumerate(starts)
              if i == 0 or head[s - 2:s] == "  "]
    rows = []
    for line in lines:
        cells = []
        for i, s in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(line)
            assert line[s - 1:s] in ("", " "), (line, s)
            cells.append(line[s:end].strip())
        rows.append(cells)
    return rows


# ---- jobs ---------------------------------------------------------------


def test_jobs_list_and_show_tables_and_json(bulkhead_bin, db, api):
    env = env_for(api)
    a = submit(bulkhead_bin, db, "noop", {"steps": 5})
    b = put_job(db, "running", progress='{"done": 2, "total": 5}',
                pause_requested=True)
    c = put_job(db, "failed", error="boom on purpose")

    r = cli(bulkhead_bin, db, "jobs", "list", env=env)
    assert r.returncode == 0, r.stderr.decode()
    rows = table(r.stdout)
    assert rows[0] == ["ID", "KIND", "STATE", "PRIO", "TRIES", "PROGRESS",
                       "CREATED"]
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == {a, b, c}
    assert by_id[a][1:3] == ["noop", "queued"]
    assert by_id[b][2] == "pausing" and by_id[b][5] == "2/5"
    assert by_id[c][2] == "failed"

    r = cli(bulkhead_bin, db, "jobs", "list", "--json", "--state", "failed",
            env=env)
    assert r.returncode == 0
    assert [j["id"] for j in json.loads(r.stdout)["jobs"]] == [c]
    r = cli(bulkhead_bin, db, "jobs", "list", "--limit", "1", "--kind",
            "noop", env=env)
    assert r.returncode == 0 and len(table(r.stdout)) == 2

    r = cli(bulkhead_bin, db, "jobs", "show", c, env=env)
    assert r.returncode == 0
    fields = dict(re.split(r"\s{2,}|(?<=\S) (?=\S)", l, 1)
                  for l in r.stdout.decode().splitlines()
                  if not l.startswith("output"))
    assert fields["id"] == c and fields["state"] == "failed"
    assert fields["error"] == "boom on purpose"
    assert fields["params"] == '{"steps":1}'
    r = cli(bulkhead_bin, db, "jobs", "show", c, "--json", env=env)
    shown = json.loads(r.stdout)
    assert shown["id"] == c and shown["error"] == "boom on purpose"
    assert shown["outputs"] == [] and "status_url" in shown


def test_jobs_actions_and_refusals(bulkhead_bin, db, api):
    env = env_for(api)
    q = put_job(db, "queued")
    r = cli(bulkhead_bin, db, "jobs", "pause", q, env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode() == "job %s: paused\n" % q
    r = cli(bulkhead_bin, db, "jobs", "pause", q, env=env)
    assert r.returncode == 1
    assert one_line(r) == "bulkhead jobs pause: job %s is already paused" % q
    r = cli(bulkhead_bin, db, "jobs", "resume", q, "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "queued"
    r = cli(bulkhead_bin, db, "jobs", "cancel", q, env=env)
    assert r.returncode == 0 and b"cancelled" in r.stdout
    assert job(db, q)["state"] == "cancelled"
    r = cli(bulkhead_bin, db, "jobs", "retry", q, env=env)
    assert r.returncode == 0, r.stderr.decode()
    new = r.stdout.decode().strip()
    assert re.fullmatch(r"[0-9a-f]{32}", new) and new != q
    assert job(db, new)["retry_of"] == q
    r = cli(bulkhead_bin, db, "jobs", "retry", new, env=env)
    assert r.returncode == 1 and "only a failed or cancelled job" in \
        one_line(r)

    run = put_job(db, "running")
    r = cli(bulkhead_bin, db, "jobs", "pause", run, env=env)
    assert r.returncode == 0 and b"pause requested" in r.stdout
    r = cli(bulkhead_bin, db, "jobs", "cancel", run, env=env)
    assert r.returncode == 0 and b"cancel requested" in r.stdout
    assert job(db, run)["state"] == "cancelling"

    r = cli(bulkhead_bin, db, "jobs", "show", "0" * 32, env=env)
    assert r.returncode == 1
    assert one_line(r) == "bulkhead jobs show: no such job"
    actions = db.query("SELECT action FROM audit ORDER BY id")
    assert [a[0] for a in actions] == ["job.pause", "job.resume",
                                       "job.cancel", "job.retry",
                                       "job.pause", "job.cancel"]


def test_watch_a_noop_job(bulkhead_bin, db, server):
    env = env_for(server)
    jid = submit(bulkhead_bin, db, "noop", {"steps": 5, "step_ms": 200})
    r = cli(bulkhead_bin, db, "jobs", "watch", jid, env=env, timeout=90)
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    # Not a terminal: one line per change, no carriage returns.
    assert "\r" not in r.stdout.decode()
    assert lines[-1] == "job %s completed" % jid
    assert re.fullmatch(r"\[#{30}\] 100%  completed\s+5/5", lines[-2]), \
        lines[-2]
    assert len(lines) == len(set(lines))
    for l in lines[:-1]:
        assert re.fullmatch(r"\[[#.]{30}\] +(\d+|\?)%  \w+\s+\S+", l), l
    assert job(db, jid)["state"] == "completed"

    bad = submit(bulkhead_bin, db, "noop", {"fail_times": 5},
                 "--max-attempts", "1")
    r = cli(bulkhead_bin, db, "jobs", "watch", bad, env=env, timeout=90)
    assert r.returncode == 1
    assert "failed" in one_line(r) and "on purpose" in one_line(r)
    r = cli(bulkhead_bin, db, "jobs", "watch", "0" * 32, env=env)
    assert r.returncode == 1 and "no such job" in one_line(r)


def test_usage_errors_exit_2_before_any_request(bulkhead_bin, db):
    # No server at all: these never get as far as a request.
    env = {"BULKHEAD_API_URL": "http://127.0.0.1:9",
           "BULKHEAD_ADMIN_TOKEN": TOKEN}
    for args in (["jobs"], ["jobs", "frobnicate"], ["jobs", "show"],
                 ["jobs", "pause"], ["jobs", "watch"],
                 ["jobs", "show", "a", "b"], ["jobs", "list", "--nope"],
                 ["jobs", "list", "--state", "sleeping"],
                 ["jobs", "list", "--kind", "nope"],
                 ["jobs", "list", "--limit", "0"],
                 ["jobs", "pause", "x", "--state", "queued"],
                 ["jobs", "show", "x", "--json=yes"],
                 ["schedules"], ["schedules", "frob"],
                 ["schedules", "set", "n", "--kind", "noop"],
                 ["schedules", "set", "n", "--cron", "* * * * *"],
                 ["schedules", "set", "n", "--cron", "* * * * *", "--kind",
                  "noop", "--params", "{bad"],
                 ["schedules", "run"], ["schedules", "delete", "n", "--json"],
                 ["limits", "frob"], ["limits", "set"],
                 ["limits", "set", "max_jobs_total"],
                 ["limits", "set", "=3"],
                 ["limits", "set", "max_jobs_total=three"],
                 ["limits", "set", "max_jobs_total=[1]"]):
        r = cli(bulkhead_bin, db, *args, env=env)
        assert r.returncode == 2, (args, r.stderr.decode())
        assert r.stderr.decode().strip(), args
        assert r.stdout == b"", args
    # No token configured: refused before any request, too.
    for args in (["jobs", "list"], ["schedules", "list"], ["limits"]):
        r = cli(bulkhead_bin, db, *args, env={
            "BULKHEAD_API_URL": "http://127.0.0.1:9",
            "BULKHEAD_ADMIN_TOKEN": ""})
        assert r.returncode == 2
        assert "BULKHEAD_ADMIN_TOKEN" in one_line(r)
    r = cli(bulkhead_bin, db, "jobs", "list", env={
        "BULKHEAD_API_URL": "ftp://x", "BULKHEAD_ADMIN_TOKEN": TOKEN})
    assert r.returncode == 2 and "BULKHEAD_API_URL" in one_line(r)
    for sub in (["jobs", "--help"], ["schedules", "help"],
                ["limits", "--help"]):
        r = cli(bulkhead_bin, db, *sub, env=env)
        assert r.returncode == 0 and b"usage:" in r.stdout


def test_api_errors_exit_1_with_one_line(bulkhead_bin, db, api):
    r = cli(bulkhead_bin, db, "jobs", "list", env={
        "BULKHEAD_API_URL": "http://127.0.0.1:9",
        "BULKHEAD_ADMIN_TOKEN": TOKEN})
    assert r.returncode == 1
    assert "cannot reach the admin API at http://127.0.0.1:9" in one_line(r)
    r = cli(bulkhead_bin, db, "limits", env=env_for(
        api, BULKHEAD_ADMIN_TOKEN="wrong"))
    assert r.returncode == 1
    assert one_line(r) == "bulkhead limits show: invalid admin token"


def test_api_location(bulkhead_bin, db, api):
    # --api wins over BULKHEAD_API_URL; a trailing /admin/api is fine.
    env = {"BULKHEAD_API_URL": "http://127.0.0.1:9",
           "BULKHEAD_ADMIN_TOKEN": TOKEN}
    r = cli(bulkhead_bin, db, "jobs", "list", "--api",
            api.base + "/admin/api/", env=env)
    assert r.returncode == 0, r.stderr.decode()
    # Without either, http://<listen> of the configuration.
    r = cli(bulkhead_bin, db, "limits", env={
        "BULKHEAD_ADMIN_TOKEN": TOKEN,
        "BULKHEAD_LISTEN": "127.0.0.1:%d" % api.port})
    assert r.returncode == 0, r.stderr.decode()
    r = cli(bulkhead_bin, db, "limits", env={
        "BULKHEAD_ADMIN_TOKEN": TOKEN,
        "BULKHEAD_LISTEN": "0.0.0.0:%d" % api.port})
    assert r.returncode == 0, r.stderr.decode()


# ---- schedules --------------------------------------------------------------


def test_schedules_cli(bulkhead_bin, db, api):
    env = env_for(api)
    # Schedules the migrations create (the house-keeping one).
    builtin = {r[0] for r in db.query("SELECT name FROM schedules")}
    r = cli(bulkhead_bin, db, "schedules", "set", "nightly", "--cron",
            "0 2 * * *", "--timezone", "Africa/Dar_es_Salaam", "--kind",
            "noop", "--params", '{"steps": 1}', env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith("schedule nightly created; next "
                                        "fire ")
    assert r.stdout.decode().rstrip().endswith("T23:00:00Z")
    r = cli(bulkhead_bin, db, "schedules", "set", "weekly", "--cron",
            "30 4 * * MON", "--kind", "noop", "--misfire", "skip",
            "--disabled", "--json", env=env)
    assert r.returncode == 0, r.stderr.decode()
    s = json.loads(r.stdout)
    assert s["enabled"] is False and s["misfire"] == "skip"
    assert s["next_fire"] is None

    r = cli(bulkhead_bin, db, "schedules", "list", env=env)
    assert r.returncode == 0
    rows = table(r.stdout)
    assert rows[0] == ["NAME", "ENABLED", "CRON", "TIMEZONE", "KIND",
                       "NEXT FIRE", "LAST FIRE", "LAST JOB"]
    rows = [row for row in rows[1:] if row[0] not in builtin]
    assert rows[0][:5] == ["nightly", "yes", "0 2 * * *",
                           "Africa/Dar_es_Salaam", "noop"]
    assert rows[1][:2] == ["weekly", "paused"] and rows[1][5] == "-"
    r = cli(bulkhead_bin, db, "schedules", "list", "--json", env=env)
    assert [x["name"] for x in json.loads(r.stdout)["schedules"]
            if x["name"] not in builtin] == ["nightly", "weekly"]

    r = cli(bulkhead_bin, db, "schedules", "run", "nightly", env=env)
    assert r.returncode == 0, r.stderr.decode()
    jid = r.stdout.decode().strip()
    assert job(db, jid)["client"] == "schedule:nightly"
    r = cli(bulkhead_bin, db, "schedules", "show", "nightly", env=env)
    assert r.returncode == 0 and ("last_job    " + jid).encode() in r.stdout

    r = cli(bulkhead_bin, db, "schedules", "pause", "nightly", env=env)
    assert r.returncode == 0 and r.stdout == b"schedule nightly paused\n"
    r = cli(bulkhead_bin, db, "schedules", "resume", "weekly", "--json",
            env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["enabled"] is True
    r = cli(bulkhead_bin, db, "schedules", "delete", "weekly", env=env)
    assert r.returncode == 0 and r.stdout == b"schedule weekly deleted\n"

    for args, msg in (
            (["delete", "weekly"], "no schedule 'weekly'"),
            (["run", "nope"], "no schedule 'nope'"),
            (["set", "x", "--cron", "0 0 31 2 *", "--kind", "noop"],
             "never fires"),
            (["set", "x", "--cron", "* * * * *", "--timezone", "Mars/Base",
              "--kind", "noop"], "unknown time zone"),
            (["set", "x", "--cron", "* * * * *", "--kind", "nope"],
             "unknown job kind"),
            (["set", "a b", "--cron", "* * * * *", "--kind", "noop"],
             "invalid schedule name"),
            (["show", "a/b"], "no such resource")):
        r = cli(bulkhead_bin, db, "schedules", *args, env=env)
        assert r.returncode == 1, (args, r.stderr.decode())
        assert msg in one_line(r), (args, one_line(r))
    assert [x[0] for x in db.query("SELECT name FROM schedules")
            if x[0] not in builtin] == ["nightly"]


# ---- limits -----------------------------------------------------------------


def test_limits_cli(bulkhead_bin, db, api):
    env = env_for(api)
    r = cli(bulkhead_bin, db, "limits", env=env)
    assert r.returncode == 0, r.stderr.decode()
    rows = dict(row for row in table(r.stdout)[1:])
    assert table(r.stdout)[0] == ["KEY", "VALUE"]
    assert rows["max_jobs_total"] == "1" and rows["max_jobs_per_kind"] == "-"
    r2 = cli(bulkhead_bin, db, "limits", "show", env=env)
    assert r2.stdout == r.stdout

    r = cli(bulkhead_bin, db, "limits", "set", "max_jobs_total=3",
            "max_jobs_per_kind.export=2", "max_jobs_per_kind.import=1",
            env=env)
    assert r.returncode == 0, r.stderr.decode()
    rows = dict(row for row in table(r.stdout)[1:])
    assert rows["max_jobs_total"] == "3"
    assert rows["max_jobs_per_kind"] == "export=2 import=1"
    # One kind changes, the others stay; '-' removes one.
    r = cli(bulkhead_bin, db, "limits", "set", "max_jobs_per_kind.export=-",
            "--json", env=env)
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["max_jobs_per_kind"] == {"import": 1}
    r = cli(bulkhead_bin, db, "limits", "--json", env=env)
    assert json.loads(r.stdout)["max_jobs_total"] == 3

    before = db.query("SELECT * FROM limits")
    for args, msg in ((["worker_nice=99"], "worker_nice"),
                      (["nope=1"], "unknown limit"),
                      (["max_jobs_per_kind.nope=1"], "unknown job kind")):
        r = cli(bulkhead_bin, db, "limits", "set", *args, env=env)
        assert r.returncode == 1, args
        assert msg in one_line(r), one_line(r)
    assert db.query("SELECT * FROM limits") == before
    assert [a[0] for a in db.query("SELECT action FROM audit ORDER BY id")] \
        == ["limits.put", "limits.put"]
