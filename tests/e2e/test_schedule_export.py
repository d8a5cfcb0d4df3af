"""Scheduled exports with _since "last-success" (issue 5, job kinds:
"`_since: "last-success"` makes a nightly export incremental from the
previous successful run's `transactionTime`").

The whole service runs ('bulkhead run': API, scheduler, workers) on a
small generated store.  The schedule is created paused, so that only
run-now submits its jobs, whatever the wall clock says; between two runs
some rows are changed (and one deleted) with SQL, as openIMIS would.
What the files hold is compared with the resources table, never with
timings.
"""
import json

import requests

from jobhelp import cli, job, wait_final

TOKEN = "test-admin-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
NIGHTLY = {"cron": "0 2 * * *", "timezone": "UTC", "enabled": False,
           "misfire": "skip",
           "job": {"kind": "export",
                   "params": {"level": "system",
                              "_since": "last-success"}}}


def admin(server, method, path, body=None):
    h = dict(AUTH)
    if body is not None:
        h["Content-Type"] = "application/json"
    return requests.request(method, server.base + "/admin/api" + path,
                            headers=h, timeout=30,
                            data=json.dumps(body) if body is not None
                            else None)


def run_now(server, db, name):
    r = admin(server, "POST", "/schedules/%s/run" % name)
    assert r.status_code == 202, r.text
    j = wait_final(db, r.json()["id"], timeout=120)
    assert j["state"] == "completed", j
    return j


def manifest(server, job_id):
    r = requests.get(server.fhir + "/_jobs/" + job_id, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def contents(m, channel):
    """{(type, id)} in the files of one manifest channel, and the lines."""
    ids, lines = set(), []
    for item in m.get(channel) or []:
        r = requests.get(item["url"], headers={"Accept-Encoding":
                                               "identity"}, timeout=60)
        assert r.status_code == 200, (item["url"], r.status_code)
        for line in r.content.decode().splitlines():
            res = json.loads(line)
            lines.append(res)
            if "id" in res:
                ids.add((res["resourceType"], res["id"]))
    return ids, lines


def test_last_success_is_incremental_from_the_previous_run(
        bulkhead_bin, db, start_server, tmp_path):
    # auth = none, said outright: a schedule's jobs belong to no SMART
    # client, so with auth = smart their status and files answer 404 to
    # every token (AUTH-BE-06; test_auth_bulk.py), and this test reads
    # their manifests and files over /fhir.
    server = start_server(db, extra_env={"BULKHEAD_AUTH": "none"})
    gen = tmp_path / "gen"
    r = cli(bulkhead_bin, None, "generate", "--families", "15", "--seed",
            "5", "--out", str(gen), "--today", "2026-06-01")
    assert r.returncode == 0, r.stderr.decode()
    r = cli(bulkhead_bin, db, "load", str(gen))
    assert r.returncode == 0, r.stderr.decode()
    everything = set(db.query("SELECT type, id FROM resources "
                              "WHERE NOT deleted"))
    assert len(everything) > 100

    r = admin(server, "PUT", "/schedules/nightly", NIGHTLY)
    assert r.status_code == 201, r.text

    # First run: no earlier success, so everything, and it says so.
    j1 = run_now(server, db, "nightly")
    assert j1["client"] == "schedule:nightly"
    assert j1["params"]["_since"] == "last-success"   # stored as given
    assert "since" not in j1["result"]
    assert j1["result"]["lastSuccess"]["job"] is None
    assert "no earlier successful export" in \
        j1["result"]["lastSuccess"]["note"]
    m1 = manifest(server, j1["id"])
    tt1 = m1["transactionTime"]
    assert tt1 == j1["result"]["transactionTime"]
    assert contents(m1, "output")[0] == everything
    assert m1.get("deleted", []) == []
    _, notes = contents(m1, "error")
    assert [n["issue"][0]["severity"] for n in notes] == ["information"]
    assert "no earlier successful export" in \
        notes[0]["issue"][0]["diagnostics"]

    # Changes after the first run: two patients and a claim edited, a
    # coverage deleted (a tombstone).
    patients = [r[0] for r in db.query(
        "SELECT id FROM resources WHERE type = 'Patient' ORDER BY id "
        "LIMIT 2")]
    claim = db.scalar("SELECT id FROM resources WHERE type = 'Claim' "
                      "ORDER BY id LIMIT 1")
    coverage = db.scalar("SELECT id FROM resources WHERE type = "
                         "'Coverage' ORDER BY id LIMIT 1")
    db.query("UPDATE resources SET last_updated = clock_timestamp(), "
             "version = version + 1 WHERE (type = 'Patient' AND id = ANY(%s))"
             " OR (type = 'Claim' AND id = %s)", (patients, claim))
    db.query("UPDATE resources SET deleted = true, last_updated = "
             "clock_timestamp() WHERE type = 'Coverage' AND id = %s",
             (coverage,))
    assert db.scalar("SELECT bool_and(last_updated > %s) FROM resources "
                     "WHERE (type = 'Patient' AND id = ANY(%s)) OR "
                     "(type = 'Claim' AND id = %s)", (tt1, patients, claim))

    # Second run: only what changed after the first's transactionTime.
    j2 = run_now(server, db, "nightly")
    assert j2["result"]["since"] == tt1
    assert j2["result"]["lastSuccess"]["job"] == j1["id"]
    assert j2["result"]["lastSuccess"]["transactionTime"] == tt1
    m2 = manifest(server, j2["id"])
    assert m2["transactionTime"] > tt1
    out2, _ = contents(m2, "output")
    assert out2 == {("Patient", p) for p in patients} | {("Claim", claim)}
    _, deleted = contents(m2, "deleted")
    deleted_refs = {e["request"]["url"] for b in deleted
                    for e in b["entry"]}
    assert deleted_refs == {"Coverage/" + coverage}
    _, notes = contents(m2, "error")
    assert j1["id"] in notes[0]["issue"][0]["diagnostics"]
    assert tt1 in notes[0]["issue"][0]["diagnostics"]

    # A third run with nothing changed is empty, from the second's time.
    j3 = run_now(server, db, "nightly")
    assert j3["result"]["since"] == j2["result"]["transactionTime"]
    assert j3["result"]["lastSuccess"]["job"] == j2["id"]
    assert contents(manifest(server, j3["id"]), "output")[0] == set()


def test_last_success_outside_a_schedule(bulkhead_bin, db, server):
    # The public $export takes FHIR instants only (EXP-P-03 style 400).
    r = requests.get(server.fhir + "/$export", params={
        "_since": "last-success"}, headers={"Prefer": "respond-async",
                                            "Accept": "application/fhir+json"},
        timeout=30)
    assert r.status_code == 400, r.text
    assert db.scalar("SELECT count(*) FROM jobs WHERE kind = 'export'") == 0
    # A job no schedule made has no previous run to follow: 'jobs submit'
    # refuses it with a one-line reason and queues nothing ...
    params = json.dumps({"level": "system", "since": "last-success"})
    for extra in ([], ["--client", "ip:127.0.0.1"], ["--client",
                                                      "schedule:"]):
        r = cli(bulkhead_bin, db, "jobs", "submit", "export", params, *extra)
        assert r.returncode == 2, (extra, r.stdout, r.stderr)
        err = r.stderr.decode()
        assert err.count("\n") == 1 and "last-success" in err, err
    assert db.scalar("SELECT count(*) FROM jobs WHERE kind = 'export'") == 0
    # ... and a row put in by hand fails at run time, with the reason,
    # instead of guessing.
    jid = db.scalar("INSERT INTO jobs (kind, params) VALUES ('export', "
                    "%s) RETURNING id", [params])
    j = wait_final(db, jid)
    assert j["state"] == "failed", j
    assert "for jobs that a schedule submits" in j["error"], j


def test_since_that_is_neither_instant_nor_last_success_is_400(db, server):
    before = db.query("SELECT * FROM schedules ORDER BY name")
    n = db.scalar("SELECT count(*) FROM audit")
    for params in ({"level": "system", "_since": "yesterday"},
                   {"level": "system", "since": "2026-02-30T00:00:00Z"},
                   {"level": "system", "_since": "2026-01-01"},
                   {"level": "system", "_since": 5},
                   {"level": "system", "_since": "last-success",
                    "since": "2026-01-01T00:00:00Z"},
                   {"level": "system", "until": "last-success"}):
        body = dict(NIGHTLY, job={"kind": "export", "params": params})
        for name in ("nightly", "fresh"):
            r = admin(server, "PUT", "/schedules/" + name, body)
            assert r.status_code == 400, (params, r.text)
            assert "since" in r.text or "until" in r.text, r.text
    assert db.query("SELECT * FROM schedules ORDER BY name") == before
    assert db.scalar("SELECT count(*) FROM audit") == n
    # The good forms are accepted.
    for since in ("last-success", "2026-01-31T00:00:00Z",
                  "2026-01-31T00:00:00.123+03:00"):
        body = dict(NIGHTLY, job={"kind": "export", "params": {
            "level": "system", "_since": since}})
        r = admin(server, "PUT", "/schedules/nightly", body)
        assert r.status_code in (200, 201), (since, r.text)
