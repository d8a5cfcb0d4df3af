"""openIMIS connection (issue 17): openimis-pull and openimis-claims-push
against openimis_standin.py, a stand-in that speaks the openIMIS FHIR R4
module's documented surface over real HTTP (see its header)."""
import datetime
import json
import os
import random
import signal
import time

import pytest

from jobhelp import (assert_clean_log, cli, job, log_text, submit,
                     tables_ready, wait_final, wait_for, wait_job, wait_log)
from openimis_standin import StandIn, ident

SHORT_LEASE = {"BULKHEAD_JOB_LEASE": "5", "BULKHEAD_JOB_HEARTBEAT": "1"}
DAY_AGO = datetime.datetime.utcnow().replace(microsecond=0) - \
    datetime.timedelta(days=1)


def oi_env(oi, **kw):
    e = {"BULKHEAD_OPENIMIS_URL": oi.base,
         "BULKHEAD_OPENIMIS_USERNAME": oi.user,
         "BULKHEAD_OPENIMIS_PASSWORD": oi.password,
         "BULKHEAD_OPENIMIS_RPS": "50",
         "BULKHEAD_OPENIMIS_PAGE_SIZE": "25"}
    e.update(SHORT_LEASE)
    e.update({"BULKHEAD_" + k.upper(): str(v) for k, v in kw.items()})
    return e


def start_worker(start_server, db, env):
    w = start_server(db, role="worker", extra_env=env, wait=False)
    wait_log(w, "started (lease")
    wait_for(lambda: tables_ready(db), 30, what="migrations")
    return w


def run_pull(bulkhead_bin, db, env, params=None, timeout=120):
    jid = submit(bulkhead_bin, db, "openimis-pull", params or {})
    j = wait_final(db, jid, timeout)
    assert j["state"] == "completed", j
    return j["result"]


def counts(db):
    return dict(db.query("SELECT type, count(*) FILTER (WHERE NOT deleted) "
                         "FROM resources GROUP BY type"))


@pytest.fixture
def oi():
    with StandIn() as s:
        yield s


def test_full_then_incremental_pull(bulkhead_bin, db, start_server, oi):
    oi.add_families(40, vf=DAY_AGO)
    env = oi_env(oi)
    w = start_worker(start_server, db, env)
    r = run_pull(bulkhead_bin, db, env)
    t = r["types"]
    assert t["Patient"] == {"read": 120, "changed": 120, "deleted": 0,
                            "full": True}
    assert t["Group"]["read"] == 40 and t["Contract"]["read"] == 40
    assert t["Coverage"]["read"] == 40 and t["Claim"]["read"] == 0
    assert counts(db) == {"Patient": 120, "Group": 40, "Contract": 40,
                          "Coverage": 40}
    # Coverage has no id in openIMIS: stored under its UUID identifier.
    cov = oi.current("Coverage")[0]
    assert db.scalar("SELECT count(*) FROM resources WHERE type = "
                     "'Coverage' AND id = %s", (cov.key,)) == 1
    # 120 patients in pages of 25: 5 pages, page-number paging.
    assert r["logins"] == 1

    # Changes: two insurees updated (a history copy, new validity_from),
    # one new family.
    p = oi.current("Patient")[:2]
    for row in p:
        res = dict(row.res)
        res["birthDate"] = "1991-01-01"
        oi.put("Patient", row.key, res)
    oi.add_families(1)
    before = oi.requests
    r = run_pull(bulkhead_bin, db, env)
    t = r["types"]
    assert t["Patient"] == {"read": 5, "changed": 5, "deleted": 0,
                            "full": False}
    assert t["Group"]["read"] == 1 and not t["Group"]["full"]
    assert oi.requests - before < 20   # one page per type, one login
    assert counts(db)["Patient"] == 123
    assert db.scalar("SELECT version FROM resources WHERE type = 'Patient' "
                     "AND id = %s", (p[0].key,)) == 2
    assert db.scalar("SELECT content::jsonb->>'birthDate' FROM resources "
                     "WHERE type = 'Patient' AND id = %s",
                     (p[0].key,)) == "1991-01-01"
    assert_clean_log(w)


def test_deleted_insuree_found_by_full_pull(bulkhead_bin, db, start_server,
                                            oi):
    oi.add_families(10, vf=DAY_AGO)
    env = oi_env(oi)
    start_worker(start_server, db, env)
    run_pull(bulkhead_bin, db, env, {"types": ["Patient", "Group"]})
    gone = oi.current("Patient")[3].key
    oi.delete("Patient", gone)
    # An incremental pull cannot see a soft delete (the row is no longer
    # listed); a full pull reconciles it.
    r = run_pull(bulkhead_bin, db, env, {"types": ["Patient"]})
    assert r["types"]["Patient"]["deleted"] == 0
    r = run_pull(bulkhead_bin, db, env, {"types": ["Patient"],
                                         "full": True})
    assert r["types"]["Patient"] == {"read": 29, "changed": 0,
                                     "deleted": 1, "full": True}
    row = db.query("SELECT deleted, version FROM resources WHERE type = "
                   "'Patient' AND id = %s", (gone,))[0]
    assert row == (True, 2)
    # A resource Bulkhead got elsewhere is never deleted by a pull.
    db.query("INSERT INTO resources (type, id, last_updated, content) "
             "VALUES ('Patient', 'local1', now(), "
             "'{\"resourceType\":\"Patient\",\"id\":\"local1\"}')")
    r = run_pull(bulkhead_bin, db, env, {"types": ["Patient"],
                                         "full": True})
    assert r["types"]["Patient"]["deleted"] == 0
    assert db.scalar("SELECT NOT deleted FROM resources WHERE id = 'local1'")


def test_token_expiring_mid_pull(bulkhead_bin, db, start_server, oi):
    oi.add_families(40, vf=DAY_AGO)
    oi.token_ttl = 2
    env = oi_env(oi, openimis_rps=5, openimis_page_size=10)
    start_worker(start_server, db, env)
    r = run_pull(bulkhead_bin, db, env, {"types": ["Patient"]})
    assert r["types"]["Patient"]["read"] == 120
    # 12 pages at 5/s outlive a 2 s token: renewed before it expired,
    # so openIMIS never had to refuse one.
    assert r["logins"] >= 2 and oi.logins == r["logins"]
    assert oi.status[401] == 0
    # A token the server forgets early (a restart): one 401, a new login.
    oi.token_ttl = 3600
    jid = submit(bulkhead_bin, db, "openimis-pull", {"types": ["Patient"],
                                                     "full": True})
    before = oi.requests
    wait_for(lambda: oi.requests >= before + 4, 30, 0.01, "some pages")
    oi.tokens.clear()
    j = wait_final(db, jid)
    assert j["state"] == "completed", j
    assert j["result"]["types"]["Patient"]["read"] == 120
    assert j["result"]["logins"] == 2
    assert oi.status[401] == 1


def test_basic_auth_and_429_storm(bulkhead_bin, db, start_server, oi):
    oi.add_families(20, vf=DAY_AGO)
    oi.rps_limit = 3
    env = oi_env(oi, openimis_auth="basic", openimis_rps=20,
                 openimis_page_size=5)
    start_worker(start_server, db, env)
    r = run_pull(bulkhead_bin, db, env, {"types": ["Patient"]})
    assert r["types"]["Patient"]["read"] == 60
    assert r["logins"] == 0 and oi.logins == 0
    assert oi.status[429] > 0
    assert r["retries"] == oi.status[429]


# ---- openimis-claims-push ----

def write_claims(tmp_path, oi, n, bad_every=100, name="claims.ndjson"):
    """n claims against the stand-in's insurees (by CHFID, as openIMIS
    accepts); every bad_every-th names an unknown insuree and is refused.
    The code is under "Code", as the fixtures send it (A1.3)."""
    chfids = sorted(oi.chfids)
    d = tmp_path / "import"
    d.mkdir(exist_ok=True)
    bad = set()
    with open(d / name, "w") as f:
        for i in range(n):
            code = "CL%06d" % i
            pat = chfids[i % len(chfids)]
            if bad_every and i % bad_every == bad_every - 1:
                pat = "999999999"
                bad.add(code)
            f.write(json.dumps({
                "resourceType": "Claim", "id": "c%06d" % i,
                "identifier": [ident("Code", code)], "status": "active",
                "use": "claim", "created": "2026-11-01",
                "type": {"coding": [{"code": "O"}]},
                "priority": {"coding": [{"code": "normal"}]},
                "provider": {"reference": "Organization/"
                             "6d0eea8c-62eb-11ea-94d6-c36229a16c2f"},
                "insurance": [{"sequence": 1, "focal": True, "coverage": {
                    "reference": "Coverage/x1"}}],
                "patient": {"reference": "Patient/" + pat},
                "billablePeriod": {"start": "2026-11-01"},
                "total": {"value": 100.0, "currency": "$"},
                "item": [{"sequence": 1, "category": {"text": "item"},
                          "productOrService": {"text": "0004"},
                          "quantity": {"value": 1}}]}) + "\n")
    return "file://" + str(d / name), bad


def import_claims(bulkhead_bin, db, url):
    jid = submit(bulkhead_bin, db, "import",
                 {"inputs": [{"type": "Claim", "url": url}]})
    j = wait_final(db, jid, 300)
    assert j["state"] == "completed", j
    assert j["result"]["loaded"] == j["result"]["lines"], j["result"]
    return jid


def outputs(db, jid):
    return db.query("SELECT channel, type, count FROM job_outputs WHERE "
                    "job_id = %s ORDER BY seq", (jid,))


def read_output(tmp_path, db, jid, channel):
    import subprocess
    lines = []
    for (f,) in db.query("SELECT file FROM job_outputs WHERE job_id = %s "
                         "AND channel = %s ORDER BY seq", (jid, channel)):
        data = subprocess.run(["zstd", "-dc", str(tmp_path / "data" / f)],
                              stdout=subprocess.PIPE, check=True).stdout
        lines += [json.loads(x) for x in data.splitlines()]
    return lines


def assert_exactly_once(oi, accepted):
    assert len(oi.accepted) == accepted
    dup = [c for c in oi.accepted if oi.posts[c] != 1]
    assert dup == [], "accepted claims POSTed twice: %r" % dup[:10]


def test_push_killed_and_resumed_exactly_once(bulkhead_bin, db,
                                              start_server, oi, tmp_path):
    n = int(os.environ.get("OPENIMIS_TEST_CLAIMS", "10000"))
    oi.add_families(50)
    url, bad = write_claims(tmp_path, oi, n)
    env = oi_env(oi, openimis_rps=1000)
    w = start_worker(start_server, db, env)
    imp = import_claims(bulkhead_bin, db, url)
    jid = submit(bulkhead_bin, db, "openimis-claims-push", {"import": imp})
    kill_at = random.randint(n // 10, n * 8 // 10)
    wait_for(lambda: len(oi.accepted) >= kill_at, 300, 0.01, "some claims")
    os.kill(w.proc.pid, signal.SIGKILL)
    w.proc.wait()
    at_kill = len(oi.accepted)
    assert at_kill < n - len(bad)
    w2 = start_worker(start_server, db, env)
    j = wait_final(db, jid, 600)
    assert j["state"] == "completed", j
    r = j["result"]
    assert r["claims"] == n
    assert r["accepted"] == n - len(bad) and r["refused"] == len(bad)
    assert_exactly_once(oi, n - len(bad))
    assert j["attempts"] == 2
    resp = read_output(tmp_path, db, jid, "output")
    assert len(resp) == n - len(bad)
    assert {x["resourceType"] for x in resp} == {"ClaimResponse"}
    errs = read_output(tmp_path, db, jid, "error")
    assert len(errs) == len(bad)
    d = errs[0]["issue"][0]["diagnostics"]
    # claim id, code, source line and openIMIS's own message
    assert "claim c000099 (code CL000099, input 1 line 100, HTTP 400): " \
        "Insuree 999999999 not found" in d, d
    # the code went under the server's type (MR), not "Code"
    c = oi.rows["Claim"][oi.accepted["CL000000"]].res
    assert c["identifier"][1]["type"]["coding"][0]["code"] == "MR"
    assert "taken over from" in log_text(w2)


def test_push_survives_openimis_down_30s(bulkhead_bin, db, start_server,
                                         oi, tmp_path):
    oi.add_families(10)
    url, bad = write_claims(tmp_path, oi, 300, bad_every=0)
    env = oi_env(oi, openimis_rps=20)
    start_worker(start_server, db, env)
    imp = import_claims(bulkhead_bin, db, url)
    jid = submit(bulkhead_bin, db, "openimis-claims-push", {"import": imp})
    wait_for(lambda: len(oi.accepted) >= 60, 60, 0.01, "some claims")
    oi.go_down()
    t0 = time.time()
    time.sleep(30)
    assert job(db, jid)["state"] == "running"
    oi.come_up()
    j = wait_final(db, jid, 120)
    assert j["state"] == "completed", j
    assert j["result"]["accepted"] == 300 and j["result"]["retries"] > 0
    assert time.time() - t0 >= 30
    assert_exactly_once(oi, 300)


def test_push_429_storm(bulkhead_bin, db, start_server, oi, tmp_path):
    oi.add_families(10)
    url, bad = write_claims(tmp_path, oi, 200, bad_every=0)
    oi.rps_limit = 4
    env = oi_env(oi, openimis_rps=40)
    start_worker(start_server, db, env)
    imp = import_claims(bulkhead_bin, db, url)
    jid = submit(bulkhead_bin, db, "openimis-claims-push", {"import": imp})
    j = wait_final(db, jid, 300)
    assert j["state"] == "completed", j
    r = j["result"]
    assert r["accepted"] == 200 and r["retries"] == oi.status[429] > 0
    assert_exactly_once(oi, 200)
    # The back-off holds the pace near what openIMIS takes: far fewer
    # 429s than requests.
    assert oi.status[429] < 200, oi.status


def test_push_paused_and_resumed(bulkhead_bin, db, start_server, oi,
                                 tmp_path):
    import requests
    oi.add_families(10)
    url, bad = write_claims(tmp_path, oi, 300)
    env = oi_env(oi, openimis_rps=30)
    start_worker(start_server, db, env)
    api = start_server(db, role="serve", extra_env=env)
    hdr = {"Authorization": "Bearer test-admin-token"}
    imp = import_claims(bulkhead_bin, db, url)
    jid = submit(bulkhead_bin, db, "openimis-claims-push", {"import": imp})
    wait_for(lambda: len(oi.accepted) >= 50, 60, 0.01, "some claims")
    r = requests.post(api.base + "/admin/api/jobs/%s/pause" % jid,
                      headers=hdr)
    assert r.status_code in (200, 202), r.text
    wait_job(db, jid, lambda j: j["state"] == "paused", 30)
    n = len(oi.accepted)
    time.sleep(2)
    assert len(oi.accepted) == n
    r = requests.post(api.base + "/admin/api/jobs/%s/resume" % jid,
                      headers=hdr)
    assert r.status_code in (200, 202), r.text
    j = wait_final(db, jid, 120)
    assert j["state"] == "completed", j
    assert j["result"]["accepted"] == 297 and j["result"]["refused"] == 3
    assert_exactly_once(oi, 297)


def test_push_since_window(bulkhead_bin, db, start_server, oi, tmp_path):
    oi.add_families(5)
    url, bad = write_claims(tmp_path, oi, 20, bad_every=0)
    env = oi_env(oi)
    start_worker(start_server, db, env)
    import_claims(bulkhead_bin, db, url)
    jid = submit(bulkhead_bin, db, "openimis-claims-push",
                 {"since": "2020-01-01T00:00:00Z"})
    j = wait_final(db, jid)
    assert j["state"] == "completed", j
    assert j["result"]["accepted"] == 20, j
    assert_exactly_once(oi, 20)


def test_import_forward_to_openimis(db, start_server, oi, tmp_path):
    """$import with "forwardTo": "openimis" (manifest form) and the same
    as a Parameters parameter: the import's manifest names the push job,
    which sends every loaded claim; a server not connected refuses it."""
    from importhelp import Importer, manifest_body, params_body
    oi.add_families(5)
    url, bad = write_claims(tmp_path, oi, 30, bad_every=10)
    url2, _ = write_claims(tmp_path, oi, 5, bad_every=0, name="c2.ndjson")
    srv = start_server(db, extra_env=oi_env(oi))
    imp = Importer(srv)
    body = manifest_body([("Claim", url)])
    body["forwardTo"] = "openimis"
    m = imp.run(body)
    push = m["extension"]["forwardedTo"]["openimis"]["job"]
    j = wait_final(db, push, 120)
    assert j["state"] == "completed", j
    assert j["result"]["accepted"] == 27 and j["result"]["refused"] == 3
    assert_exactly_once(oi, 27)

    # Parameters form: the codes are taken already, so openIMIS refuses
    # all five (duplicate claim codes), and says so.
    p = params_body([("Claim", url2)])
    p["parameter"].append({"name": "forwardTo", "valueCode": "openimis"})
    m = imp.run(p)
    push = m["extension"]["forwardedTo"]["openimis"]["job"]
    j = wait_final(db, push, 120)
    assert j["result"]["refused"] == 5, j
    assert len(oi.accepted) == 27

    body["forwardTo"] = "dhis2"
    r = imp.kickoff(body)
    assert r.status_code == 400 and "forwardTo" in r.text


def test_openimis_check_command(bulkhead_bin, db, oi):
    oi.add_families(3)
    oi.claim_code_type = "Code"   # a server configured as the fixtures
    oi.put("Claim", "u1", {"resourceType": "Claim", "id": "u1",
                           "identifier": [ident("UUID", "u1"),
                                          ident("Code", "CID00001")]})
    r = cli(bulkhead_bin, db, "openimis", "check", env=oi_env(oi))
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode() + out
    assert "login: ok" in out
    assert "Patient              9" in out and "Claim                1" in out
    assert "claim identifier types in openIMIS: UUID Code" in out
    assert "NOT what this server uses" in out
    r = cli(bulkhead_bin, db, "openimis", "check",
            env=oi_env(oi, openimis_password="wrong"))
    assert r.returncode == 1 and b"HTTP 401" in r.stderr
    # config check validates the keys
    r = cli(bulkhead_bin, db, "config", "check",
            env={"BULKHEAD_OPENIMIS_URL": "ftp://x"})
    assert r.returncode == 1 and b"openimis_url" in r.stderr
    r = cli(bulkhead_bin, db, "config", "check",
            env={"BULKHEAD_OPENIMIS_URL": oi.base})
    assert r.returncode == 1 and b"openimis_username" in r.stderr
    r = cli(bulkhead_bin, db, "config", "check",
            env={"BULKHEAD_OPENIMIS_AUTH": "oauth"})
    assert r.returncode == 1 and b"openimis_auth" in r.stderr


def test_default_schedule_follows_openimis_url(db, start_server, oi,
                                               tmp_path):
    srv = start_server(db)
    sched = "SELECT enabled, job_kind, source FROM schedules WHERE name " \
        "= 'openimis-pull'"
    wait_for(lambda: db.query(sched), 30, what="the schedule")
    time.sleep(1)
    assert db.query(sched) == [(False, "openimis-pull", "builtin")]
    srv.stop()
    start_server(db, extra_env=oi_env(oi))
    wait_for(lambda: db.query(sched)[0][0], 30, what="schedule enabled")
