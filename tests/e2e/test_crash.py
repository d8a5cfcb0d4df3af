"""Crash safety: kill -9 the worker running a job, again and again, and the
job still completes with exactly the output of an undisturbed run.

The dataset is 'bulkhead generate --families 400' (about 6,800 resources in
11 types).  Each test has one 'serve' and separate 'worker' processes with
5 s leases, 1 s heartbeats and small files and batches (500 resources per
export file, 500 lines per import transaction), so that every attempt
checkpoints several times and dies between checkpoints too.

  - export: the data is loaded with 'bulkhead load'; an undisturbed
    $export is the reference; then a second $export, slowed by the
    limits' rows_per_second so that it is still running when the kills
    come, loses its worker CRASH_KILLS times (default 10) at random
    moments (seeded RNG) of random attempts; a fresh worker is started
    after each kill and takes the job over when the lease expires.  The
    multiset of NDJSON lines per type across all files, and the
    manifest's counts per type, must equal the reference's.
  - import: the same files as file:// inputs; an undisturbed $import into
    one database is the reference; the disturbed one into another.  The
    stores' rows (type, id, version, last_updated, patient, deleted,
    content) and the manifests' counts must be equal.

Each kill costs about a lease (5 s) before the takeover; with the default
10 kills the two tests take about 2.5 minutes together.  CRASH_KILLS and
CRASH_SEED change the count and the random moments.
"""
import collections
import json
import os
import random
import re
import signal
import time

import pytest
import requests

from jobhelp import cli, job, log_text, tables_ready, wait_for

KILLS = int(os.environ.get("CRASH_KILLS", "10"))
SEED = int(os.environ.get("CRASH_SEED", "20260601"))
ENV = {"BULKHEAD_JOB_LEASE": "5", "BULKHEAD_JOB_HEARTBEAT": "1",
       # Every kill -9 costs the job an attempt: allow them all.
       "BULKHEAD_JOB_MAX_ATTEMPTS": "40",
       "BULKHEAD_EXPORT_FILE_RESOURCES": "500",
       "BULKHEAD_IMPORT_BATCH_LINES": "500",
       "BULKHEAD_EXPORT_MAX_PER_CLIENT": "100"}
JOB_URL = re.compile(r"^(https?://[^/]+/fhir)/_jobs/([0-9a-f]{32})$")
# rows_per_second while the kills come: slow enough that they land while
# the job runs (export: ~14 s of work for the ~6,800 rows, import: ~7 s;
# an attempt lives at most KILL_WINDOW, and loses what it had not saved), fast
# enough that most attempts save something (an import input thread
# commits every 500 lines, and the checkpoint follows within 1 s).  A
# job that still completes before all the kills were made is checked and
# followed by another one.
CRASH_RATE = {"export": 500, "import": 1000}
# When in an attempt the kill comes (seconds after the claim is seen): an
# import attempt first re-reads what it skips and commits its first batch
# only after about a second.
KILL_WINDOW = {"export": (0.1, 2.5), "import": (0.3, 3.0)}


@pytest.fixture(scope="module")
def dataset(bulkhead_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("crash") / "gen"
    r = cli(bulkhead_bin, None, "generate", "--families", "400", "--seed",
            "7", "--today", "2026-06-01", "--out", str(d))
    assert r.returncode == 0, r.stderr.decode()
    return d


def dataset_size(d):
    n = 0
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            n += sum(1 for line in f if line.strip())
    return n


class Rig:
    """One database, its 'serve' and its workers."""

    def __init__(self, start_server, db):
        self.start_server = start_server
        self.db = db
        self.api = start_server(db, role="serve", extra_env=ENV)
        self.workers = []
        self.trail = []             # saved() at each kill
        wait_for(lambda: tables_ready(self.db), 30, what="migrations")
        # Every kill costs the job an attempt: allow plenty.
        db.query("UPDATE limits SET kind_max_attempts = "
                 "'{\"export\": 50, \"import\": 50}'")

    def saved(self, jid):
        """What the job had saved when its worker died: files recorded,
        and (import) input lines committed."""
        files = self.db.scalar("SELECT count(*) FROM job_outputs WHERE "
                               "job_id = %s", [jid])
        cp = job(self.db, jid)["checkpoint"] or {}
        lines = sum(int(i.get("committed", 0)) for i in cp.get("inputs", []))
        return (files, lines)

    def worker(self):
        w = self.start_server(self.db, role="worker", extra_env=ENV,
                              wait=False)
        self.workers.append(w)
        return w

    def by_pid(self, pid):
        for w in self.workers:
            if w.proc.pid == pid and w.proc.poll() is None:
                return w
        return None

    def rate(self, rows_per_second):
        self.db.query("UPDATE limits SET rows_per_second = %s",
                      [rows_per_second])

    def final(self, jid, timeout=180):
        deadline = time.time() + timeout
        while True:
            j = job(self.db, jid)
            if j["state"] in ("completed", "failed", "cancelled"):
                return j
            assert time.time() < deadline, ("job not done", j, self.logs())
            time.sleep(0.1)

    def logs(self):
        return "\n".join(log_text(w)[-3000:] for w in self.workers)

    def kill_loop(self, jid, rng, kills, window):
        """Kills the worker holding the job's lease at a random moment of
        each new attempt, up to kills times, starting a worker after each
        kill; returns how many kills it made before the job ended or the
        count was reached."""
        done, last = 0, 0
        while done < kills:
            deadline = time.time() + 60
            while True:
                j = job(self.db, jid)
                if j["state"] in ("completed", "failed", "cancelled"):
                    return done
                if j["state"] == "running" and j["attempts"] > last and \
                        j["lease_owner"]:
                    break
                assert time.time() < deadline, ("no new attempt", j,
                                                 self.logs())
                time.sleep(0.02)
            last = j["attempts"]
            time.sleep(rng.uniform(*window))
            pid = int(j["lease_owner"].split(":")[1])
            w = self.by_pid(pid)
            assert w is not None, j["lease_owner"]
            if job(self.db, jid)["state"] != "running":
                continue            # it got away (it completed)
            os.kill(pid, signal.SIGKILL)
            w.proc.wait()
            self.trail.append(self.saved(jid))
            done += 1
            self.worker()
        return done

    def disturbed(self, kind, start, verify, rng, kills):
        """Runs jobs made by start() -> (status url, id) while killing
        their workers, kills times in all (a job that completes before
        the count is reached is verified and followed by another);
        verify(url) checks each against the reference.  Returns
        [(job id, kills it took)]."""
        done, jobs = 0, []
        while done < kills:
            self.rate(CRASH_RATE[kind])
            url, jid = start()
            n = self.kill_loop(jid, rng, kills - done, KILL_WINDOW[kind])
            done += n
            self.rate(0)
            j = self.final(jid)
            assert j["state"] == "completed", (j, self.logs())
            assert j["attempts"] == n + 1, (n, j)
            verify(url)
            jobs.append((jid, n))
        return jobs


def kickoff_export(rig, label):
    # One job at a time, all of conftest's SMART client (auth = smart):
    # the label only names the run.
    r = requests.get(rig.api.fhir + "/$export",
                     headers={"Prefer": "respond-async",
                              "Accept": "application/fhir+json"},
                     timeout=30)
    assert r.status_code == 202, r.text
    url = r.headers["Content-Location"]
    return url, JOB_URL.match(url).group(2)


def manifest(url):
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def export_result(url):
    """({type: Counter(lines)}, {type: manifest count}) of an export."""
    m = manifest(url)
    lines = collections.defaultdict(collections.Counter)
    counts = collections.Counter()
    for item in m["output"]:
        f = requests.get(item["url"], headers={"Accept-Encoding":
                                               "identity"}, timeout=60)
        assert f.status_code == 200, (item, f.status_code)
        got = [x for x in f.content.decode().split("\n") if x]
        assert len(got) == item["count"], item
        lines[item["type"]].update(got)
        counts[item["type"]] += item["count"]
    assert not m.get("error"), m["error"]
    return lines, counts


def test_export_survives_kill_9(bulkhead_bin, db, start_server, dataset):
    rig = Rig(start_server, db)
    r = cli(bulkhead_bin, db, "load", str(dataset))
    assert r.returncode == 0, r.stderr.decode()
    rig.worker()
    rig.worker()
    # The reference: undisturbed, at full speed.
    url0, jid0 = kickoff_export(rig, "reference")
    assert rig.final(jid0)["state"] == "completed"
    want_lines, want_counts = export_result(url0)
    assert sum(want_counts.values()) == dataset_size(dataset)

    def verify(url):
        got_lines, got_counts = export_result(url)
        assert got_counts == want_counts
        assert set(got_lines) == set(want_lines)
        for t in want_lines:
            assert got_lines[t] == want_lines[t], t
        # No file is listed twice, and none is left over on disk.
        m = manifest(url)
        names = [o["url"].rsplit("/", 1)[1] for o in m["output"]]
        assert len(names) == len(set(names))
        jid = JOB_URL.match(url).group(2)
        jobdir = os.path.join(rig.api.env["BULKHEAD_DATA_DIR"], "jobs", jid)
        on_disk = {n for n in os.listdir(jobdir) if not n.startswith(".")}
        assert on_disk == set(names), on_disk ^ set(names)

    n = [0]

    def start():
        n[0] += 1
        return kickoff_export(rig, "disturbed-%d" % n[0])
    jobs = rig.disturbed("export", start, verify, random.Random(SEED),
                         KILLS)
    print("export: kills per job", [k for _, k in jobs],
          "files saved at each kill", [f for f, _ in rig.trail])
    # The kills fell at different points of the work.
    assert len(set(rig.trail)) > 1, rig.trail


def import_body(import_dir, dataset):
    inputs = []
    for name in sorted(os.listdir(dataset)):
        inputs.append({"type": name.split(".")[0],
                       "url": "file://" + os.path.join(import_dir, name)})
    return {"inputFormat": "application/fhir+ndjson",
            "inputSource": "https://openimis.example/fhir",
            "storageDetail": {"type": "https"}, "input": inputs}


def kickoff_import(rig, body):
    r = requests.post(rig.api.fhir + "/$import", data=json.dumps(body),
                      headers={"Content-Type": "application/json",
                               "Accept": "application/fhir+json",
                               "Prefer": "respond-async"}, timeout=30)
    assert r.status_code == 202, r.text
    url = r.headers["Content-Location"]
    return url, JOB_URL.match(url).group(2)


def store_rows(db):
    return db.query("SELECT type, id, version, last_updated, patient, "
                    "deleted, content FROM resources ORDER BY type, id")


def import_counts(url):
    m = manifest(url)
    out = sorted((o["inputUrl"], o["type"], o["count"]) for o in m["output"])
    err = sorted((e["inputUrl"], e["count"]) for e in m.get("error") or [])
    return out, err


def test_import_survives_kill_9(bulkhead_bin, db, start_server, dataset,
                                pg_admin, tmp_path):
    import_dir = str(tmp_path / "import")
    os.makedirs(import_dir, exist_ok=True)
    for name in os.listdir(dataset):
        with open(os.path.join(dataset, name), "rb") as src, \
                open(os.path.join(import_dir, name), "wb") as dst:
            dst.write(src.read())
    body = import_body(import_dir, dataset)

    # The reference: an undisturbed import into a database of its own.
    from conftest import Database, _admin_exec
    import uuid
    ref_db = Database(pg_admin, "bh_test_" + uuid.uuid4().hex[:12])
    _admin_exec(pg_admin, 'CREATE DATABASE "%s"' % ref_db.name)
    try:
        ref = Rig(start_server, ref_db)
        ref.worker()
        url0, jid0 = kickoff_import(ref, body)
        assert ref.final(jid0)["state"] == "completed", ref.logs()
        want_rows = store_rows(ref_db)
        want_counts = import_counts(url0)
        ref.api.stop()
        for w in ref.workers:
            w.stop()
    finally:
        _admin_exec(pg_admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' %
                    ref_db.name)
    assert len(want_rows) == dataset_size(dataset)
    assert sum(c for _, _, c in want_counts[0]) == len(want_rows)

    rig = Rig(start_server, db)
    rig.worker()
    rig.worker()
    def verify(url):
        assert import_counts(url) == want_counts
        got_rows = store_rows(db)
        assert len(got_rows) == len(want_rows)
        assert got_rows == want_rows

    jobs = rig.disturbed("import", lambda: kickoff_import(rig, body),
                         verify, random.Random(SEED + 1), KILLS)
    print("import: kills per job", [k for _, k in jobs],
          "lines committed at each kill", [n for _, n in rig.trail])
    assert len(set(rig.trail)) > 1, rig.trail
