"""PostgreSQL going away under running jobs (issue 14).

Each test starts a throwaway cluster of its own (faulthelp.ThrowawayCluster:
own initdb, port and socket directory; never the shared cluster), loads
'bulkhead generate --families 300' into it, and runs 'serve', two 'worker's
and 'scheduler' as separate processes.  A slowed $export of everything and a
slowed $import of the same files (file://, upserted onto the same rows)
are running when PostgreSQL

  - is restarted (pg_ctl restart -m fast), or
  - is stopped for 60 s (BULKHEAD_FAULT_STOP_S changes it) and started
    again.

Meanwhile the API is probed every 0.25 s (metadata, both status URLs, a
new kick-off, the admin job list): no answer may be a 500, every 503
carries Retry-After and an OperationOutcome, and no request may take
longer than its timeout.  No process may exit: each reconnects on its own.
Afterwards both jobs complete with exact counts (export: lines per type
equal to the dataset's; import: lines per input, no errors), or fail with
a one-line reason and complete on retry.
"""
import collections
import json
import os
import shutil
import time
import uuid

import pytest
import requests

from faulthelp import ThrowawayCluster, pg_bindir, probe
from jobhelp import job, log_text, tables_ready, wait_for

STOP_S = int(os.environ.get("BULKHEAD_FAULT_STOP_S", "60"))
ADMIN = {"Authorization": "Bearer test-admin-token"}
ENV = {"BULKHEAD_JOB_LEASE": "10", "BULKHEAD_JOB_HEARTBEAT": "1",
       "BULKHEAD_EXPORT_FILE_RESOURCES": "500",
       "BULKHEAD_IMPORT_BATCH_LINES": "500"}
# Longest any probe may take: the 2 s connect timeout plus a margin.
PROBE_TIMEOUT = 8

pytestmark = pytest.mark.skipif(pg_bindir() is None,
                                reason="PostgreSQL server binaries missing")


@pytest.fixture(scope="module")
def dataset(bulkhead_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("faults") / "gen"
    r = subprocess_run([bulkhead_bin, "generate", "--families", "300",
                        "--seed", "11", "--today", "2026-06-01",
                        "--out", str(d)])
    assert r.returncode == 0, r.stderr
    return d


def subprocess_run(argv, env=None):
    import subprocess
    return subprocess.run(argv, env=env, capture_output=True, text=True,
                          timeout=300)


def counts_of(d):
    out = {}
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            out[name.split(".")[0]] = sum(1 for x in f if x.strip())
    return out


@pytest.fixture
def cluster():
    c = ThrowawayCluster()
    yield c
    c.destroy()


class Rig:
    def __init__(self, bulkhead_bin, start_server, cluster, dataset,
                 tmp_path):
        self.cluster = cluster
        self.db = cluster.database("bh_fault_" + uuid.uuid4().hex[:8])
        self.api = start_server(self.db, role="serve", extra_env=ENV)
        wait_for(lambda: tables_ready(self.db), 30, what="migrations")
        env = dict(os.environ, BULKHEAD_DATABASE_URL=self.db.url)
        r = subprocess_run([bulkhead_bin, "load", str(dataset)], env=env)
        assert r.returncode == 0, r.stderr
        # One job per worker process: two, so that both jobs run at once.
        self.workers = [start_server(self.db, role="worker", extra_env=ENV,
                                     wait=False) for _ in range(2)]
        self.sched = start_server(self.db, role="scheduler", extra_env=ENV,
                                  wait=False)
        self.procs = [self.api, self.sched] + self.workers
        self.import_dir = self.api.env["BULKHEAD_IMPORT_DIR"]
        os.makedirs(self.import_dir, exist_ok=True)
        for name in os.listdir(dataset):
            shutil.copy(os.path.join(dataset, name), self.import_dir)
        self.names = sorted(os.listdir(dataset))
        # Both jobs at once (the default is one bulk job at a time).
        self.db.query("UPDATE limits SET max_jobs_total = 0")

    def rate(self, rows_per_second):
        self.db.query("UPDATE limits SET rows_per_second = %s",
                      [rows_per_second])

    def kickoff_export(self):
        r = requests.get(self.api.fhir + "/$export",
                         headers={"Prefer": "respond-async",
                                  "Accept": "application/fhir+json"},
                         timeout=30)
        assert r.status_code == 202, r.text
        return r.headers["Content-Location"]

    def kickoff_import(self):
        body = {"inputFormat": "application/fhir+ndjson",
                "inputSource": "https://openimis.example/fhir",
                "storageDetail": {"type": "https"},
                "input": [{"type": n.split(".")[0],
                           "url": "file://" + os.path.join(self.import_dir,
                                                           n)}
                          for n in self.names]}
        r = requests.post(self.api.fhir + "/$import", data=json.dumps(body),
                          headers={"Content-Type": "application/json",
                                   "Accept": "application/fhir+json",
                                   "Prefer": "respond-async"}, timeout=30)
        assert r.status_code == 202, r.text
        return r.headers["Content-Location"]

    def probe_all(self, urls):
        """Every API probe once; returns the statuses seen."""
        seen = []
        for method, url, kw in (
                ("GET", self.api.fhir + "/metadata", {}),
                ("GET", urls[0], {}),
                ("GET", urls[1], {}),
                ("GET", self.api.fhir + "/$export?_type=Patient",
                 {"headers": {"Prefer": "respond-async",
                              "Accept": "application/fhir+json"}}),
                ("GET", self.api.base + "/admin/api/jobs",
                 {"headers": ADMIN})):
            status, took = probe(method, url, PROBE_TIMEOUT, **kw)
            seen.append(status)
        return seen

    def alive(self):
        for p in self.procs:
            assert p.proc.poll() is None, ("exited", p.proc.returncode,
                                           log_text(p)[-4000:])

    def logs(self):
        return "\n----\n".join(log_text(p)[-3000:] for p in self.procs)

    def final(self, jid, timeout=240):
        deadline = time.time() + timeout
        while True:
            j = job(self.db, jid)
            if j["state"] in ("completed", "failed", "cancelled"):
                return j
            assert time.time() < deadline, ("job not done", j, self.logs())
            time.sleep(0.2)

    def finish(self, url):
        """The job at url completed, retried once if it failed (with a
        one-line reason).  Returns its manifest."""
        jid = url.rsplit("/", 1)[1]
        j = self.final(jid)
        if j["state"] == "failed":
            reason = j.get("error") or ""
            assert reason and "\n" not in reason.strip(), j
            r = requests.post(self.api.base + "/admin/api/jobs/%s/retry" %
                              jid, headers=ADMIN, timeout=30)
            # A retry is a new job with a status URL of its own.
            assert r.status_code == 201, r.text
            jid, url = r.json()["id"], r.json()["status_url"]
            j = self.final(jid)
        assert j["state"] == "completed", (j, self.logs())
        r = requests.get(url, headers={"Accept": "application/fhir+json"},
                         timeout=30)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()


def check_export(m, want):
    got = collections.Counter()
    for item in m["output"]:
        f = requests.get(item["url"], headers={"Accept-Encoding":
                                               "identity"}, timeout=60)
        assert f.status_code == 200, item
        lines = [x for x in f.content.split(b"\n") if x]
        assert len(lines) == item["count"], item
        got[item["type"]] += item["count"]
    assert not m.get("error"), m["error"]
    assert dict(got) == want


def check_import(m, want):
    got = collections.Counter()
    for item in m["output"]:
        got[item["type"]] += item["count"]
    assert not m.get("error"), m["error"]
    assert dict(got) == want


def run_fault(rig, want, fault):
    rig.rate(700)
    urls = [rig.kickoff_export(), rig.kickoff_import()]
    jids = [u.rsplit("/", 1)[1] for u in urls]
    try:
        wait_for(lambda: all(job(rig.db, j)["state"] == "running"
                             for j in jids), 60, what="both jobs running")
    except AssertionError:
        raise AssertionError(([(job(rig.db, j)["state"], job(rig.db, j)["started"], job(rig.db, j)["finished"], job(rig.db, j)["error"]) for j in jids], rig.logs()))
    time.sleep(1.5)
    statuses = fault(lambda: rig.probe_all(urls))
    rig.alive()
    # Back at full speed; every process reconnects by itself.
    wait_for(lambda: _try(lambda: rig.rate(0)), 30, 0.5, "database back")
    wait_for(lambda: 503 not in rig.probe_all(urls), 30, 0.5,
             "the API answering again")
    check_export(rig.finish(urls[0]), want)
    check_import(rig.finish(urls[1]), want)
    rig.alive()
    # A fresh export after the fault works end to end.
    check_export(rig.finish(rig.kickoff_export()), want)
    return statuses


def _try(f):
    try:
        f()
        return True
    except Exception:
        return False


def test_restart_during_import_and_export(bulkhead_bin, start_server,
                                          cluster, dataset, tmp_path):
    rig = Rig(bulkhead_bin, start_server, cluster, dataset, tmp_path)
    want = counts_of(dataset)

    def fault(probe_all):
        seen = probe_all()
        cluster.restart()
        # The first requests after the restart meet broken connections.
        for _ in range(12):
            seen += probe_all()
            time.sleep(0.25)
        return seen
    statuses = run_fault(rig, want, fault)
    print("statuses seen around the restart:", collections.Counter(statuses))


def test_stopped_60s_during_import_and_export(bulkhead_bin, start_server,
                                              cluster, dataset, tmp_path):
    rig = Rig(bulkhead_bin, start_server, cluster, dataset, tmp_path)
    want = counts_of(dataset)

    def fault(probe_all):
        seen = probe_all()
        cluster.stop()
        t_end = time.time() + STOP_S
        while time.time() < t_end:
            seen += probe_all()
            rig.alive()
            time.sleep(0.25)
        cluster.start()
        return seen
    statuses = run_fault(rig, want, fault)
    c = collections.Counter(statuses)
    print("statuses seen while stopped:", c)
    # While it was down, the database-backed routes said 503.
    assert c[503] > 0, c
