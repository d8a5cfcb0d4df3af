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
    env = oi_env(oi, openimis_rps=10, openimis_page_size=10)
    start_worker(start_server, db, env)
    r = run_pull(bulkhead_bin, db, env, {"types": ["Patient"]})
    assert r["types"]["Patient"]["read"] == 120
    assert r["logins"] >= 3
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
