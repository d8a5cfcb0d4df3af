"""The disk under data_dir fills during an export (issue 14).

data_dir is a small tmpfs mounted by the test (root only: skipped, with
the reason, otherwise).  A $export of 'bulkhead generate --families 300'
(about 7,000 resources, several MB of NDJSON) cannot fit in 96 KB (compressed, it is about 1 MB), so its
worker meets ENOSPC.  The job must end failed with a one-line reason that
names it, no manifest may list anything (the status URL answers the
failure), no partial file may stay on the disk (the whole files already
recorded stay, so that a retry resumes after them), and the API
must keep answering (metadata, the status URL, the admin API) while and
after it happens.  Once space is back (the tmpfs grown), a retry (a new
job) completes with exact counts.
"""
import collections
import hashlib
import os
import subprocess
import time

import pytest
import requests

from jobhelp import cli, job, tables_ready, wait_for

ADMIN = {"Authorization": "Bearer test-admin-token"}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to mount a tmpfs as data_dir")


@pytest.fixture
def small_data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k,mode=0700",
                        "bulkhead-test", str(d)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: " + r.stderr.strip())
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def counts_of(d):
    out = {}
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as f:
            out[name.split(".")[0]] = sum(1 for x in f if x.strip())
    return out


def test_export_disk_full(bulkhead_bin, db, start_server, small_data_dir,
                          tmp_path):
    gen = tmp_path / "gen"
    r = cli(bulkhead_bin, None, "generate", "--families", "300", "--seed",
            "5", "--today", "2026-06-01", "--out", str(gen))
    assert r.returncode == 0, r.stderr.decode()
    s = start_server(db, extra_env={
        "BULKHEAD_DATA_DIR": str(small_data_dir),
        "BULKHEAD_EXPORT_FILE_RESOURCES": "500"})
    wait_for(lambda: tables_ready(db), 30, what="migrations")
    r = cli(bulkhead_bin, db, "load", str(gen))
    assert r.returncode == 0, r.stderr.decode()
    # One attempt: the disk stays full, retrying would only repeat it.
    db.query("UPDATE limits SET kind_max_attempts = '{\"export\": 1}'")

    k = requests.get(s.fhir + "/$export",
                     headers={"Prefer": "respond-async",
                              "Accept": "application/fhir+json"}, timeout=30)
    assert k.status_code == 202, k.text
    url = k.headers["Content-Location"]
    jid = url.rsplit("/", 1)[1]

    # The API answers throughout.
    deadline = time.time() + 120
    while job(db, jid)["state"] not in ("completed", "failed", "cancelled"):
        assert time.time() < deadline, job(db, jid)
        assert requests.get(s.fhir + "/metadata",
                            timeout=5).status_code == 200
        st = requests.get(url, timeout=5)
        assert st.status_code in (200, 202, 500), st.text
        time.sleep(0.2)

    j = job(db, jid)
    assert j["state"] == "failed", j
    reason = j["error"]
    assert "\n" not in reason, reason
    assert "No space left on device (ENOSPC" in reason, reason

    # Nothing partial is listed: the status URL answers the failure as an
    # OperationOutcome, not a manifest; the files recorded for the job
    # (kept, so that a retry resumes after them) are whole, each on the
    # disk with the size and checksum recorded.
    # (Polls are answered from a cache: the failure shows within a few s.)
    st = wait_for(lambda: _not_202(url), 30, 0.2, "the status URL to "
                  "show the failure")[0]
    body = st.json()
    assert st.status_code >= 400, (st.status_code, body)
    assert body["resourceType"] == "OperationOutcome", body
    assert "output" not in body
    recorded = {f: (b, c) for f, b, c in db.query(
        "SELECT file, bytes, checksum FROM job_outputs WHERE job_id = %s",
        [jid])}
    on_disk = {}
    for root, _, files in os.walk(small_data_dir):
        for f in files:
            p = os.path.join(root, f)
            on_disk[os.path.relpath(p, small_data_dir)] = p
    # No partial (or orphaned) file stays on the disk.
    assert set(on_disk) == set(recorded), (on_disk, recorded)
    for rel, (size, checksum) in recorded.items():
        with open(on_disk[rel], "rb") as f:
            stored = f.read()
        # The sum is of the stored bytes, the size of the NDJSON.
        assert hashlib.sha256(stored).hexdigest() == checksum, rel
        data = subprocess.run(["zstd", "-q", "-d", "-c"], input=stored,
                              capture_output=True, check=True).stdout \
            if rel.endswith(".zst") else stored
        assert len(data) == size, rel

    # The API still answers, the admin API shows the reason.
    assert requests.get(s.fhir + "/metadata", timeout=5).status_code == 200
    a = requests.get(s.base + "/admin/api/jobs/" + jid, headers=ADMIN,
                     timeout=10)
    assert a.status_code == 200 and "No space left" in a.text, a.text

    # Space back: a retry completes with exact counts.
    subprocess.run(["mount", "-o", "remount,size=256m", str(small_data_dir)],
                   check=True)
    db.query("UPDATE limits SET kind_max_attempts = '{}'")
    r = requests.post(s.base + "/admin/api/jobs/%s/retry" % jid,
                      headers=ADMIN, timeout=30)
    # A retry is a new job (retry_of names the failed one).
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["retry_of"] == jid
    jid, url = new["id"], new["status_url"]
    wait_for(lambda: job(db, jid)["state"] in ("completed", "failed"), 120,
             what="the retried export")
    assert job(db, jid)["state"] == "completed", job(db, jid)
    m = requests.get(url, headers={"Accept": "application/fhir+json"},
                     timeout=30).json()
    got = collections.Counter()
    for item in m["output"]:
        got[item["type"]] += item["count"]
    assert dict(got) == counts_of(gen)


def _not_202(url):
    st = requests.get(url, headers={"Accept": "application/fhir+json"},
                      timeout=10)
    # (A tuple: a Response with an error status is falsy.)
    return (st,) if st.status_code != 202 else None
