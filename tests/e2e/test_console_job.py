"""The console's job page API (issue 16): a job's error file lines
(GET /admin/api/jobs/{id}/errors) read from its real error files, and
its audit history (GET /admin/api/jobs/{id}/audit) with the principal
that made each change.  Against a real 'bulkhead run' and PostgreSQL.
"""
import json

import requests

from conftest import run_cli
from importhelp import Importer, job_id, params_body, patient

TOKEN = "test-admin-token"
SCRIPT_REF = "<script>window.pwned=3</script>"
IMG_REF = "<img src=x onerror=window.pwned=4>"


def call(server, method, path, token=TOKEN, params=None, body=None):
    h = {"Authorization": "Bearer " + token}
    if body is not None:
        h["Content-Type"] = "application/json"
    return requests.request(method, server.base + "/admin/api/" + path,
                            headers=h, params=params, timeout=30,
                            data=None if body is None else json.dumps(body))


def bad_import(server, tmp_path, n_bad=2, n_good=3):
    """A finished import whose bad lines carry markup in their
    diagnostics (a malformed reference is quoted back).  Its job id."""
    d = tmp_path / "import"
    d.mkdir(exist_ok=True)
    lines = [patient("g%03d" % i) for i in range(n_good)]
    for i in range(n_bad):
        ref = SCRIPT_REF if i % 2 == 0 else IMG_REF
        lines.append(patient("b%03d" % i,
                             managingOrganization={"reference": ref}))
    path = d / "bad.ndjson"
    path.write_bytes(b"".join(x + b"\n" for x in lines))
    imp = Importer(server)
    url = imp.start(params_body([("Patient", "file://%s" % path)]))
    imp.manifest(url)
    return job_id(url)


def test_error_lines(db, start_server, tmp_path):
    s = start_server(db)
    jid = bad_import(s, tmp_path, n_bad=7)
    r = call(s, "GET", "jobs/%s/errors" % jid)
    assert r.status_code == 200, r.text
    e = r.json()
    assert e["job"] == jid and e["total"] == 7 and e["missing"] == 0
    assert e["more"] is False and e["offset"] == 0
    assert [x["n"] for x in e["lines"]] == list(range(7))
    first = e["lines"][0]
    assert first["severity"] == "error" and first["code"] == "structure"
    assert SCRIPT_REF in first["diagnostics"]
    assert "malformed reference" in first["diagnostics"]
    assert first["issues"] == 1 and first["location"] == "line 4"
    assert IMG_REF in e["lines"][1]["diagnostics"]
    # The database's own count of error lines.
    assert db.scalar("SELECT sum(count) FROM job_outputs WHERE job_id = %s "
                     "AND channel = 'error'", [jid]) == 7
    # Paging: offset and limit, "more" while lines are left.
    p = call(s, "GET", "jobs/%s/errors" % jid,
             params={"offset": 2, "limit": 3}).json()
    assert [x["n"] for x in p["lines"]] == [2, 3, 4] and p["more"] is True
    p = call(s, "GET", "jobs/%s/errors" % jid,
             params={"offset": 5, "limit": 3}).json()
    assert [x["n"] for x in p["lines"]] == [5, 6] and p["more"] is False
    assert call(s, "GET", "jobs/%s/errors" % jid,
                params={"offset": 99}).json()["lines"] == []
    # Bad queries: the field named.
    for q, word in (({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"),
                    ({"offset": "-1"}, "offset"), ({"page": "2"}, "page")):
        r = call(s, "GET", "jobs/%s/errors" % jid, params=q)
        assert r.status_code == 400, q
        assert word in r.json()["issue"][0]["diagnostics"]
    assert call(s, "GET", "jobs/nosuchjob/errors").status_code == 404
    assert call(s, "GET", "jobs/%s/errors" % jid, token="wrong") \
        .status_code == 401
    # A job without error files: no lines.
    ok = call(s, "POST", "jobs", body={"kind": "noop"}).json()["id"]
    e = call(s, "GET", "jobs/%s/errors" % ok).json()
    assert e["lines"] == [] and e["total"] == 0
    # Files gone (removed from disk): counted, not fatal.
    f = db.scalar("SELECT file FROM job_outputs WHERE job_id = %s AND "
                  "channel = 'error' ORDER BY seq LIMIT 1", [jid])
    (tmp_path / "data" / f).unlink()
    e = call(s, "GET", "jobs/%s/errors" % jid).json()
    assert e["missing"] == 1 and e["lines"] == []


def test_audit_history(db, start_server, bulkhead_bin):
    s = start_server(db, role="serve")      # no workers: jobs stay put
    r = run_cli(bulkhead_bin, ["admins", "add", "ops", "--role",
                               "operator"], db=db)
    assert r.returncode == 0, r.stderr
    ops = r.stdout.decode().strip()
    jid = call(s, "POST", "jobs", token=ops,
               body={"kind": "noop"}).json()["id"]
    assert call(s, "POST", "jobs/%s/pause" % jid, token=ops).status_code \
        == 200
    assert call(s, "POST", "jobs/%s/cancel" % jid).status_code == 200
    new = call(s, "POST", "jobs/%s/retry" % jid, token=ops).json()["id"]
    a = call(s, "GET", "jobs/%s/audit" % jid).json()
    assert a["job"] == jid
    acts = [x["action"] for x in a["audit"]]
    # Newest first; the retry's row (it made the new job) is listed too.
    assert acts[-3:] == ["job.cancel", "job.pause", "job.submit"], acts
    assert acts[0] == "job.retry"
    by = {x["action"]: x for x in a["audit"]}
    assert by["job.submit"]["created"] is True
    assert by["job.submit"]["principal"] == "ops"
    assert by["job.submit"]["role"] == "operator"
    assert by["job.cancel"]["principal"] == "config"
    assert by["job.cancel"]["role"] == "admin"
    assert {"field": "state", "before": "queued", "after": "paused"} in \
        by["job.pause"]["changes"]
    assert {"field": "state", "before": "paused", "after": "cancelled"} in \
        [{k: c[k] for k in ("field", "before", "after")}
         for c in by["job.cancel"]["changes"]]
    assert all(c["field"] != "updated" for x in a["audit"]
               for c in x["changes"])
    # Against the table: every row about the job, none of another's.
    n = db.scalar("SELECT count(*) FROM audit WHERE target = %s OR "
                  "(action = 'job.submit' AND after->>'id' = %s)",
                  [jid, jid])
    assert len(a["audit"]) == n
    # The new job's history starts with the retry that made it.
    b = call(s, "GET", "jobs/%s/audit" % new).json()["audit"]
    assert [x["action"] for x in b] == ["job.retry"]
    assert b[0]["created"] is True and b[0]["job"] == new
    # A viewer may read it; limit is checked.
    r = run_cli(bulkhead_bin, ["admins", "add", "eyes", "--role",
                               "viewer"], db=db)
    eyes = r.stdout.decode().strip()
    r = call(s, "GET", "jobs/%s/audit" % jid, token=eyes,
             params={"limit": 1})
    assert r.status_code == 200 and len(r.json()["audit"]) == 1
    assert call(s, "GET", "jobs/%s/audit" % jid,
                params={"limit": "x"}).status_code == 400
    assert call(s, "GET", "jobs/nosuch/audit").status_code == 404

