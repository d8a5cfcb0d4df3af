"""Named admin principals (issue 13, Admin API): 'bulkhead admins' on the
database, the roles of /admin/api (viewer reads, operator controls jobs
and schedules, admin changes limits), disabled and rotated tokens, the
legacy admin_token as principal "config", and the audit trail naming the
principal.  No token may reach the server log or the audit table.
"""
import hashlib
import json
import re

import pytest

from conftest import run_cli
from jobhelp import job
from test_admin import SCHEDULE, TOKEN, call, diag, limits_row, put_job

TOKEN_RE = re.compile(r"^bha_[A-Za-z0-9_-]{43}$")


def admins(bulkhead_bin, db, *args):
    return run_cli(bulkhead_bin, ["admins"] + list(args), db=db)


def add(bulkhead_bin, db, name, role):
    r = admins(bulkhead_bin, db, "add", name, "--role", role)
    assert r.returncode == 0, r.stderr
    tok = r.stdout.decode().strip()
    assert TOKEN_RE.match(tok), tok
    assert "shown only this once" in r.stderr.decode()
    assert tok not in r.stderr.decode()
    return tok


def listed(bulkhead_bin, db):
    r = admins(bulkhead_bin, db, "list", "--json")
    assert r.returncode == 0, r.stderr
    return {a["name"]: a for a in json.loads(r.stdout)["admins"]}


def audit_rows(db):
    return db.query("SELECT action, target, actor, principal, role, "
                    "before, after FROM audit ORDER BY id")


def no_secret_anywhere(server, db, tokens):
    log = server.read_log()
    dump = json.dumps(db.query("SELECT row_to_json(a) FROM audit a"),
                      default=str)
    for t in tokens:
        assert t not in log
        assert t not in dump
    # Nor the stored hash, in hex.
    for (h,) in db.query("SELECT encode(token_hash, 'hex') FROM admins"):
        assert h not in dump and h not in log


@pytest.fixture
def api(db, start_server, bulkhead_bin):
    # The CLI migrates the fresh database before the server starts.
    assert admins(bulkhead_bin, db, "list").returncode == 0
    return start_server(db, role="serve")


def test_admins_add_list_and_the_stored_hash(api, db, bulkhead_bin):
    v = add(bulkhead_bin, db, "vera", "viewer")
    o = add(bulkhead_bin, db, "otto", "operator")
    a = add(bulkhead_bin, db, "ada", "admin")
    assert len({v, o, a}) == 3
    got = listed(bulkhead_bin, db)
    assert {n: x["role"] for n, x in got.items()} == {
        "vera": "viewer", "otto": "operator", "ada": "admin"}
    for x in got.values():
        assert x["disabled"] is False and x["created"].endswith("Z")
        assert x["rotated"] is None and x["last_used"] is None
    for name, tok in (("vera", v), ("otto", o), ("ada", a)):
        h = db.scalar("SELECT encode(token_hash, 'hex') FROM admins "
                      "WHERE name = %s", (name,))
        assert h == hashlib.sha256(tok.encode()).hexdigest()
    table = admins(bulkhead_bin, db, "list")
    out = table.stdout.decode()
    assert table.returncode == 0 and out.startswith("NAME")
    assert "otto" in out and "operator" in out
    for tok in (v, o, a):
        assert tok not in out
    # The CLI's changes are audited, without the token's hash.
    rows = [r for r in audit_rows(db) if r[0] == "admin.add"]
    assert [r[1] for r in rows] == ["vera", "otto", "ada"]
    for r in rows:
        assert r[2].startswith("cli:") and "token_hash" not in r[6]
        assert r[6]["role"] in ("viewer", "operator", "admin")
    # Used once, last_used is set.
    assert call(api, "GET", "/admin/api/jobs", token=v).status_code == 200
    assert listed(bulkhead_bin, db)["vera"]["last_used"] is not None
    no_secret_anywhere(api, db, [v, o, a])


def test_viewer_reads_and_is_refused_every_change(api, db, bulkhead_bin):
    v = add(bulkhead_bin, db, "vera", "viewer")
    jid = put_job(db, "queued")
    assert call(api, "PUT", "/admin/api/schedules/s1",
                body=SCHEDULE).status_code == 201
    for path in ("/admin/api/jobs", "/admin/api/jobs/" + jid,
                 "/admin/api/schedules", "/admin/api/schedules/s1",
                 "/admin/api/limits"):
        r = call(api, "GET", path, token=v)
        assert r.status_code == 200, (path, r.text)
    before = (job(db, jid), db.query("SELECT * FROM schedules"),
              limits_row(db), audit_rows(db))
    for method, path, body in (
            ("POST", "/admin/api/jobs/%s/cancel" % jid, None),
            ("POST", "/admin/api/jobs/%s/pause" % jid, None),
            ("POST", "/admin/api/jobs/%s/retry" % jid, None),
            ("PUT", "/admin/api/schedules/s1", SCHEDULE),
            ("POST", "/admin/api/schedules/s1/run", None),
            ("POST", "/admin/api/schedules/s1/pause", None),
            ("DELETE", "/admin/api/schedules/s1", None),
            ("PUT", "/admin/api/limits", {"max_jobs_total": 5})):
        r = call(api, method, path, token=v, body=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.headers["Content-Type"] == "application/json"
        msg = diag(r)
        assert "vera" in msg and "viewer" in msg, msg
        assert r.json()["issue"][0]["code"] == "forbidden"
    assert (job(db, jid), db.query("SELECT * FROM schedules"),
            limits_row(db), audit_rows(db)) == before
    log = api.read_log()
    assert re.search(r"admin principal vera \(viewer\) refused: POST "
                     r"/admin/api/jobs/\w+/cancel needs the role operator",
                     log), log
    no_secret_anywhere(api, db, [v])


def test_operator_controls_jobs_and_schedules_not_limits(api, db,
                                                         bulkhead_bin):
    o = add(bulkhead_bin, db, "otto", "operator")
    jid = put_job(db, "queued")
    r = call(api, "POST", "/admin/api/jobs/%s/pause" % jid, token=o)
    assert r.status_code == 200 and r.json()["state"] == "paused"
    r = call(api, "POST", "/admin/api/jobs/%s/cancel" % jid, token=o)
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    r = call(api, "PUT", "/admin/api/schedules/s1", token=o, body=SCHEDULE)
    assert r.status_code == 201, r.text
    r = call(api, "POST", "/admin/api/schedules/s1/pause", token=o)
    assert r.status_code == 200, r.text
    n = len(audit_rows(db))
    before = limits_row(db)
    r = call(api, "PUT", "/admin/api/limits", token=o,
             body={"max_jobs_total": 5})
    assert r.status_code == 403 and "admin" in diag(r)
    assert limits_row(db) == before and len(audit_rows(db)) == n
    r = call(api, "DELETE", "/admin/api/schedules/s1", token=o)
    assert r.status_code == 204
    api_rows = [x for x in audit_rows(db) if not x[0].startswith("admin.")]
    assert [x[0] for x in api_rows] == [
        "job.pause", "job.cancel", "schedule.put", "schedule.pause",
        "schedule.delete"]
    want = "token:" + hashlib.sha256(o.encode()).hexdigest()[:16]
    for action, target, actor, principal, role, _, _ in api_rows:
        assert (principal, role, actor) == ("otto", "operator", want)
    no_secret_anywhere(api, db, [o])


def test_admin_changes_limits_and_config_token_is_principal_config(
        api, db, bulkhead_bin):
    a = add(bulkhead_bin, db, "ada", "admin")
    r = call(api, "PUT", "/admin/api/limits", token=a,
             body={"max_jobs_total": 5})
    assert r.status_code == 200, r.text
    r = call(api, "PUT", "/admin/api/limits", body={"max_jobs_total": 6})
    assert r.status_code == 200, r.text
    rows = [x for x in audit_rows(db) if x[0] == "limits.put"]
    assert [(x[3], x[4]) for x in rows] == [("ada", "admin"),
                                            ("config", "admin")]
    assert rows[1][2] == "token:" + hashlib.sha256(
        TOKEN.encode()).hexdigest()[:16]
    no_secret_anywhere(api, db, [a, TOKEN])


def test_disabled_principal_is_401_until_enabled(api, db, bulkhead_bin):
    o = add(bulkhead_bin, db, "otto", "operator")
    assert call(api, "GET", "/admin/api/jobs", token=o).status_code == 200
    r = admins(bulkhead_bin, db, "disable", "otto")
    assert r.returncode == 0 and b"disabled" in r.stdout
    assert listed(bulkhead_bin, db)["otto"]["disabled"] is True
    jid = put_job(db, "queued")
    for method, path in (("GET", "/admin/api/jobs"),
                         ("POST", "/admin/api/jobs/%s/pause" % jid)):
        r = call(api, method, path, token=o)
        assert r.status_code == 401, r.text
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
        assert "disabled" in diag(r)
    assert job(db, jid)["state"] == "queued"
    assert admins(bulkhead_bin, db, "enable", "otto").returncode == 0
    assert call(api, "GET", "/admin/api/jobs", token=o).status_code == 200
    actions = [x[0] for x in audit_rows(db)]
    assert actions == ["admin.add", "admin.disable", "admin.enable"]
    no_secret_anywhere(api, db, [o])


def test_rotated_token_old_refused_new_accepted(api, db, bulkhead_bin):
    old = add(bulkhead_bin, db, "ada", "admin")
    assert call(api, "GET", "/admin/api/limits", token=old).status_code \
        == 200
    r = admins(bulkhead_bin, db, "rotate", "ada")
    assert r.returncode == 0, r.stderr
    new = r.stdout.decode().strip()
    assert TOKEN_RE.match(new) and new != old
    assert new not in r.stderr.decode()
    r = call(api, "GET", "/admin/api/limits", token=old)
    assert r.status_code == 401 and "invalid admin token" in diag(r)
    assert call(api, "GET", "/admin/api/limits", token=new).status_code \
        == 200
    assert listed(bulkhead_bin, db)["ada"]["rotated"] is not None
    assert [x[0] for x in audit_rows(db)] == ["admin.add", "admin.rotate"]
    r = admins(bulkhead_bin, db, "rotate", "nobody")
    assert r.returncode == 1 and b"no admin principal" in r.stderr
    no_secret_anywhere(api, db, [old, new])


def test_deleted_principal_is_401(api, db, bulkhead_bin):
    v = add(bulkhead_bin, db, "vera", "viewer")
    r = admins(bulkhead_bin, db, "delete", "vera")
    assert r.returncode == 0 and b"deleted" in r.stdout
    assert call(api, "GET", "/admin/api/jobs", token=v).status_code == 401
    assert listed(bulkhead_bin, db) == {}
    for sub in ("delete", "disable", "enable"):
        r = admins(bulkhead_bin, db, sub, "vera")
        assert r.returncode == 1 and b'no admin principal "vera"' in \
            r.stderr


@pytest.mark.parametrize("args,word", [
    (["add", "eve", "--role", "superuser"], "unknown role"),
    (["add", "eve", "--role", ""], "unknown role"),
    (["add", "eve"], "missing --role"),
    (["add", "--role", "admin"], "missing NAME"),
    (["add", "config", "--role", "admin"], "reserved"),
    (["add", "-eve", "--role", "admin"], "bad name"),
    (["add", "e ve", "--role", "admin"], "bad name"),
    (["add", "x" * 64, "--role", "admin"], "bad name"),
    (["add", "eve", "--role", "admin", "--json"], "unknown option"),
    (["frobnicate", "eve"], "unknown subcommand"),
])
def test_admins_add_bad_input_is_usage_error_and_creates_nothing(
        db, bulkhead_bin, args, word):
    r = admins(bulkhead_bin, db, *args)
    assert r.returncode == 2, r
    err = r.stderr.decode()
    assert word in err, err
    assert r.stdout == b""
    if args[0] == "add":
        assert len(err.strip().splitlines()) == 1, err
    assert listed(bulkhead_bin, db) == {}
    assert db.scalar("SELECT count(*) FROM audit") == 0


def test_admins_add_existing_name_keeps_its_token(api, db, bulkhead_bin):
    v = add(bulkhead_bin, db, "vera", "viewer")
    r = admins(bulkhead_bin, db, "add", "vera", "--role", "admin")
    assert r.returncode == 1 and b"exists already" in r.stderr
    assert r.stdout == b""
    assert listed(bulkhead_bin, db)["vera"]["role"] == "viewer"
    assert call(api, "GET", "/admin/api/jobs", token=v).status_code == 200


def test_principals_work_without_admin_token(db, start_server, bulkhead_bin):
    a = add(bulkhead_bin, db, "ada", "admin")
    s = start_server(db, role="serve",
                     extra_env={"BULKHEAD_ADMIN_TOKEN": ""})
    r = call(s, "PUT", "/admin/api/limits", token=a,
             body={"max_jobs_total": 5})
    assert r.status_code == 200, r.text
    r = call(s, "GET", "/admin/api/limits", token=TOKEN)
    assert r.status_code == 401
    assert "bulkhead admins add" in diag(r)
    no_secret_anywhere(s, db, [a])
