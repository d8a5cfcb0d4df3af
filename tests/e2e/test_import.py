"""$import end to end: the real binary, a real PostgreSQL, and a stand-in
remote file server (fileserver.py, through importhelp.ImportFiles) over
real HTTP on 127.0.0.1, plus file:// inputs from the import directory.

Most tests share one 'bulkhead run' on one database (the module fixture
'env': allowlist 127.0.0.1, stall timeout 2 s, at most 25 inputs, 100
lines per batch so that every multi-batch path is exercised).  Each of
those tests writes resources whose ids start with its own prefix and
counts rows by that prefix.  Tests that need another configuration (no
worker, small job limit, another import dir, a crash) start their own
server on their own database.

Every corpus case asserts exact numbers: the manifest's count, linesRead,
failed and blank for the input, the rows in the store (SQL), the number
of OperationOutcomes in the input's error file(s) and the line numbers
and byte offsets they name.

A product bug is a test marked xfail(strict=True, reason="BUG: ...").
"""
import json
import os
import signal
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest
import requests

from importhelp import (FHIR_JSON, PLAIN_JSON, PROGRESS, ZSTD_BLOCK,
                        ImportFiles, Importer, check_counts, download,
                        e2e_conftest, entry, error_entries, etag_of,
                        gzip_corrupt_after, issues, job_id, line_starts,
                        lines_of_size, manifest_body, ndjson, outcome,
                        outcomes, params_body, patient, zstd_corrupt_after)
from jobhelp import wait_for

_c = e2e_conftest()
Database, Server, run_cli = _c.Database, _c.Server, _c.run_cli

SHARED_ENV = {
    "BULKHEAD_IMPORT_ALLOW": "127.0.0.1",
    "BULKHEAD_IMPORT_STALL_TIMEOUT": "2",
    "BULKHEAD_IMPORT_CONNECT_TIMEOUT": "2",
    "BULKHEAD_IMPORT_MAX_INPUTS": "25",
    "BULKHEAD_IMPORT_MAX_JOBS": "10",
    "BULKHEAD_IMPORT_BATCH_LINES": "100",
}
MAX_INPUTS = 25
DEFAULT_MAX_LINE = 16 * 1024 * 1024


# ---- fixtures ---------------------------------------------------------------

def admin_exec(admin, sql):
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


class Env:
    """The shared service: server, database, file server, client."""

    def __init__(self, server, db, files, import_dir):
        self.server = server
        self.db = db
        self.files = files
        self.import_dir = str(import_dir)
        self.imp = Importer(server)

    def prefix(self):
        return "t" + uuid.uuid4().hex[:10]

    def file_url(self, name, data):
        path = os.path.join(self.import_dir, name)
        with open(path, "wb") as fp:
            fp.write(data)
        return "file://" + path

    def rows(self, prefix, type_="Patient"):
        return self.db.scalar("SELECT count(*) FROM resources WHERE type = "
                              "%s AND id LIKE %s", (type_, prefix + "%"))

    def snapshot(self, prefix, type_="Patient"):
        return self.db.query(
            "SELECT id, version, last_updated, patient, deleted, content "
            "FROM resources WHERE type = %s AND id LIKE %s ORDER BY id",
            (type_, prefix + "%"))

    def import_jobs(self):
        return self.db.scalar("SELECT count(*) FROM jobs WHERE kind = "
                              "'import'")


@pytest.fixture(scope="module")
def env(pg_admin, bulkhead_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("import")
    (tmp / "import").mkdir()
    served = tmp / "served"
    served.mkdir()
    name = "bh_test_imp_" + uuid.uuid4().hex[:10]
    admin_exec(pg_admin, 'CREATE DATABASE "%s"' % name)
    db = Database(pg_admin, name)
    server = None
    try:
        with ImportFiles(served) as files:
            server = Server(bulkhead_bin, db, tmp, "run", SHARED_ENV)
            server.wait_ready()
            yield Env(server, db, files, tmp / "import")
    finally:
        if server is not None:
            server.stop()
            log = server.log_path.read_text(errors="replace")
            for bad in ("AddressSanitizer", "LeakSanitizer",
                        "runtime error:"):
                assert bad not in log, log
        admin_exec(pg_admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                   % name)


def one(env, data, name=None, type_="Patient", via="http", mode=None):
    """Imports one input; returns (manifest, input url, output entry,
    its OperationOutcomes)."""
    name = name or "in-%s.ndjson" % uuid.uuid4().hex[:8]
    if via == "http":
        url = env.files.put(name, data)
    else:
        url = env.file_url(name, data)
    m = env.imp.run(params_body([(type_, url)], mode=mode))
    check_counts(m)
    return m, url, entry(m, url), outcomes(m, url)


def expect(e, count, failed=0, blank=0, read=None):
    """The input's output entry has exactly these numbers."""
    x = e["extension"]
    got = (e["count"], x["failed"], x["blank"], x["linesRead"])
    want = (count, failed, blank,
            read if read is not None else count + failed + blank)
    assert got == want, "count, failed, blank, linesRead: %r != %r" % (
        got, want)


def expect_line_errors(oos, url, data, lines, code="structure"):
    """Exactly one error OperationOutcome per failed line, in order, each
    naming the input URL, its 1-based line and a byte offset inside that
    line (IMP-S-03)."""
    starts = line_starts(data)
    got = issues(oos)
    assert [(s, ln) for s, _, ln, _, _ in got] == \
        [("error", ln) for ln in lines], got
    for (sev, c, ln, off, diag), oo in zip(got, oos):
        assert c == code, diag
        assert diag.startswith(url + " line %d (byte offset " % ln), diag
        end = starts[ln + 1] if ln + 1 < len(starts) else len(data)
        assert starts[ln] <= off <= end, (diag, starts[ln], end)
        assert oo["issue"][0]["location"] == ["line %d" % ln]


def fatal(oos, url, *texts):
    """Exactly one OperationOutcome, fatal, naming the URL and texts."""
    assert len(oos) == 1, oos
    i = oos[0]["issue"][0]
    assert i["severity"] == "fatal", i
    assert i["diagnostics"].startswith(url), i
    for t in texts:
        assert t in i["diagnostics"], i
    return i["diagnostics"]


def claim(cid, **over):
    """A Claim with every element required-elements.json asks for."""
    c = {"resourceType": "Claim", "id": cid, "status": "active",
         "type": {"coding": [{"system": "http://terminology.hl7.org/"
                              "CodeSystem/claim-type", "code":
                              "professional"}]},
         "use": "claim", "patient": {"reference": "Patient/p-" + cid},
         "created": "2026-05-28",
         "provider": {"reference": "Organization/o1"},
         "priority": {"coding": [{"code": "normal"}]},
         "insurance": [{"sequence": 1, "focal": True,
                        "coverage": {"reference": "Coverage/c1"}}]}
    for k, v in over.items():
        if v is None:
            c.pop(k)
        else:
            c[k] = v
    return json.dumps(c, separators=(",", ":")).encode()


# ---- kick-off, status, manifest, cancel (IMP-R-01, IMP-S-01/02/04) ----------

@pytest.mark.parametrize("form", ["parameters", "manifest"])
def test_kickoff_both_forms_and_manifest(env, form):
    """IMP-R-01 (Parameters, and the IMP-M plain-JSON manifest mapped to
    the same job), IMP-a-01: kick-off answers 202 + Content-Location and
    an informational OperationOutcome; the status URL ends in 200 with
    the import manifest of IMP-S-02: transactionTime, request,
    requiresAccessToken, one output entry per input with count and the
    linesRead/failed/blank split, error: [] when nothing failed, totals."""
    p = env.prefix()
    a = ndjson([patient("%s-a%d" % (p, i)) for i in range(7)])
    b = ndjson([patient("%s-b%d" % (p, i)) for i in range(3)])
    ua = env.files.put(p + "-a.ndjson", a)
    ub = env.file_url(p + "-b.ndjson", b)
    inputs = [("Patient", ua), ("Patient", ub)]
    body = params_body(inputs) if form == "parameters" else \
        manifest_body(inputs)
    r = env.imp.kickoff(body)
    assert r.status_code == 202, r.text
    assert r.headers["Content-Location"].startswith(env.server.fhir +
                                                    "/_jobs/")
    info = r.json()
    assert info["resourceType"] == "OperationOutcome"
    assert info["issue"][0]["severity"] == "information"
    t0 = datetime.now(timezone.utc)
    m = env.imp.manifest(r.headers["Content-Location"])
    assert set(m) == {"transactionTime", "request", "requiresAccessToken",
                      "output", "error", "extension"}
    tt = datetime.fromisoformat(m["transactionTime"].replace("Z", "+00:00"))
    assert abs((tt - t0).total_seconds()) < 60
    assert m["request"] == env.server.fhir + "/$import"
    assert m["requiresAccessToken"] is True     # auth = smart, the default
    assert m["output"] == [
        {"type": "Patient", "inputUrl": ua, "count": 7,
         "extension": {"linesRead": 7, "failed": 0, "blank": 0}},
        {"type": "Patient", "inputUrl": ub, "count": 3,
         "extension": {"linesRead": 3, "failed": 0, "blank": 0}}]
    assert m["error"] == []
    assert m["extension"] == {"totals": {"read": 10, "loaded": 10,
                                         "failed": 0, "blank": 0}}
    assert env.rows(p) == 10
    params = env.db.scalar("SELECT params FROM jobs WHERE id = %s",
                           (job_id(r.headers["Content-Location"]),))
    assert params["mode"] == "IncrementalLoad"    # the default
    assert params["inputSource"] == "https://openimis.example/fhir"


def test_status_in_progress_has_x_progress_and_retry_after(env):
    """IMP-S-01, IMP-a-03: while running, 202 with X-Progress under 100
    characters ("0/1 files, N lines, M errors", the lines growing) and an
    integer Retry-After; then 200."""
    p = env.prefix()
    data = ndjson([patient("%s-%05d" % (p, i), text="x" * 60)
                   for i in range(3000)])
    env.files.put(p + ".ndjson", data)
    url = env.files.url("/slow/%d/%s.ndjson" % (len(data) // 3, p))
    loc = env.imp.start(params_body([("Patient", url)]))
    seen = []
    deadline = time.monotonic() + 60
    while True:
        r = requests.get(loc, timeout=30)
        if r.status_code != 202:
            break
        prog = r.headers["X-Progress"]
        assert len(prog) < 100
        ra = r.headers["Retry-After"]
        assert ra.isdigit() and 1 <= int(ra) <= 120, ra
        # EXP-S-05 (issue 11): an in-progress answer has no body, so no
        # JSON content type a client would try to parse.
        assert "Content-Type" not in r.headers and r.content == b""
        m = PROGRESS.match(prog)
        if m:
            seen.append(m.groups())
        else:
            assert prog in ("queued", "starting"), prog
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    assert seen, "no X-Progress of the running import was seen"
    assert all(s[0] in ("0", "1") and s[1] == "1" and s[3] == "0"
               for s in seen), seen
    assert [s[0] for s in seen] == sorted(s[0] for s in seen), seen
    lines = [int(s[2].replace(",", "")) for s in seen]
    assert lines == sorted(lines) and lines[-1] > lines[0] >= 0, seen
    assert entry(r.json(), url)["count"] == 3000
    assert env.rows(p) == 3000


def test_delete_cancels_a_running_import(env):
    """IMP-S-04, IMP-a-03: DELETE on a running import answers 202 with an
    OperationOutcome; later polls answer 404 with an OperationOutcome (so
    does a second DELETE); the worker stops the job (state cancelled) and
    removes its files."""
    p = env.prefix()
    data = ndjson([patient("%s-%05d" % (p, i), text="y" * 60)
                   for i in range(5000)])
    env.files.put(p + ".ndjson", data)
    url = env.files.url("/slow/%d/%s.ndjson" % (len(data) // 20, p))
    loc = env.imp.start(params_body([("Patient", url)]))
    jid = job_id(loc)

    def running_with_lines():
        r = requests.get(loc, timeout=30)
        m = PROGRESS.match(r.headers.get("X-Progress", ""))
        return m and int(m.group(3).replace(",", "")) > 0
    wait_for(running_with_lines, 60, 0.1, "the import to read lines")
    r = requests.delete(loc, timeout=30)
    assert r.status_code == 202, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
    outcome(requests.get(loc, timeout=30), 404, "not-found")
    outcome(requests.delete(loc, timeout=30), 404, "not-found")
    wait_for(lambda: env.db.scalar("SELECT state FROM jobs WHERE id = %s",
                                   (jid,)) == "cancelled", 60, 0.1,
             "the job to be cancelled")
    outcome(requests.get(loc, timeout=30), 404, "not-found")
    assert not os.path.exists(os.path.join(str(env.server.env[
        "BULKHEAD_DATA_DIR"]), "jobs", jid))
    # What was committed before the stop stays, in whole batches (100
    # lines each here): nothing half-loaded.
    n = env.rows(p)
    assert n < 5000 and n % 100 == 0, n


def test_more_inputs_than_the_limit(env):
    """IMP-R-04.8: more inputs than BULKHEAD_IMPORT_MAX_INPUTS (25 here)
    is refused at kick-off with 400 and an OperationOutcome; no job."""
    p = env.prefix()
    before = env.import_jobs()
    inputs = [("Patient", env.files.url("/files/%s-%d.ndjson" % (p, i)))
              for i in range(MAX_INPUTS + 1)]
    for body in (params_body(inputs), manifest_body(inputs)):
        i = outcome(env.imp.kickoff(body), 400, "invalid")
        assert "26 inputs" in i["diagnostics"] and "25" in \
            i["diagnostics"], i
    assert env.import_jobs() == before
    # The limit itself is fine.
    url = env.files.put(p + "-0.ndjson", ndjson([patient(p + "-x")]))
    ok = [("Patient", url)] + [("Patient", env.files.url(
        "/files/%s-%d.ndjson" % (p, i))) for i in range(1, MAX_INPUTS)]
    m = env.imp.run(params_body(ok))
    assert len(m["output"]) == MAX_INPUTS
    assert entry(m, url)["count"] == 1
    assert len(m["error"]) == MAX_INPUTS - 1     # 404s: one fatal each


def _bad_bodies(fhir_url_ok):
    good = [("Patient", fhir_url_ok)]
    pb = params_body(good)
    unknown = params_body(good)
    unknown["parameter"].append({"name": "frobnicate", "valueString": "x"})
    no_url = params_body(good)
    no_url["parameter"].append({"name": "input", "part": [
        {"name": "type", "valueCode": "Patient"}]})
    no_url_m = manifest_body(good)
    no_url_m["input"].append({"type": "Patient"})
    return [
        ("not-json", None, b'{"resourceType": "Parameters", "parameter": [',
         FHIR_JSON, "must be a FHIR Parameters"),
        ("json-array", None, b"[1, 2]", PLAIN_JSON, "must be a FHIR"),
        ("wrong-resourceType", {"resourceType": "Patient", "id": "x"},
         None, FHIR_JSON, "not a Parameters"),
        ("unknown-parameter", unknown, None, FHIR_JSON,
         "unknown parameter frobnicate"),
        ("bad-inputFormat", params_body(good, input_format="text/csv"),
         None, FHIR_JSON, "inputFormat text/csv"),
        ("bad-inputFormat-manifest", manifest_body(
            good, input_format="application/parquet"), None, PLAIN_JSON,
         "inputFormat application/parquet"),
        ("bad-storageDetail", params_body(good, storage="aws-s3"), None,
         FHIR_JSON, "storageDetail type aws-s3"),
        ("bad-storageDetail-manifest", manifest_body(good,
                                                     storage="azure-blob"),
         None, PLAIN_JSON, "storageDetail type azure-blob"),
        ("bad-mode", params_body(good, mode="Replace"), None, FHIR_JSON,
         "mode Replace"),
        ("bad-mode-manifest", manifest_body(good, mode="initial"), None,
         PLAIN_JSON, "mode initial"),
        ("input-without-url", no_url, None, FHIR_JSON,
         "input 2: needs type and url"),
        ("input-without-url-manifest", no_url_m, None, PLAIN_JSON,
         "input 2: needs type and url"),
        ("manifest-without-input", {"inputFormat": "application/fhir+ndjson"},
         None, PLAIN_JSON, '"input" must be an array'),
        ("no-input", dict(pb, parameter=pb["parameter"][:3]), None,
         FHIR_JSON, "no input given"),
        ("non-FHIR-type", params_body([("Insuree", fhir_url_ok)]), None,
         FHIR_JSON, "Insuree is not a FHIR R4 resource type"),
        ("duplicate-url", params_body(good + good), None, FHIR_JSON,
         "input 2 repeats the url of input 1"),
        ("ftp-scheme", params_body([("Patient", "ftp://127.0.0.1/a.ndjson")]),
         None, FHIR_JSON, "scheme ftp is not supported"),
        ("not-a-url", params_body([("Patient", "no url at all")]), None,
         FHIR_JSON, "is not a URL"),
    ]


BAD_BODY_IDS = [c[0] for c in _bad_bodies("http://x/")]


@pytest.mark.parametrize("case", BAD_BODY_IDS)
def test_bad_bodies_are_refused(env, case):
    """IMP-R-01, IMP-a-01, IMP-S-04: a body that is not JSON, not a
    Parameters resource, or has an unknown parameter, an inputFormat other
    than NDJSON, an unsupported storageDetail type, a bad mode, an input
    without url, a non-FHIR type, a duplicate input URL or an ftp:// URL
    is refused with 400 and an OperationOutcome saying why; no job."""
    url = env.files.url("/files/bad-body.ndjson")
    _, body, raw, ctype, why = [c for c in _bad_bodies(url)
                                if c[0] == case][0]
    before = env.import_jobs()
    i = outcome(env.imp.kickoff(body, ctype=ctype, raw=raw), 400, "invalid")
    assert i["severity"] in ("error", "fatal")
    assert why in i["diagnostics"], i
    assert env.import_jobs() == before


@pytest.mark.parametrize("url", [
    "http://example.org/Patient.ndjson",
    "https://files.openimis.example/Patient.ndjson",
    "http://127.0.0.2:8080/Patient.ndjson",
    "http://localhost:8080/Patient.ndjson",
])
def test_host_not_on_the_allowlist(env, url):
    """IMP-R-04.1: an http(s) host not on BULKHEAD_IMPORT_ALLOW is refused
    at kick-off (400, OperationOutcome naming the allowlist); no job."""
    before = env.import_jobs()
    i = outcome(env.imp.kickoff(params_body([("Patient", url)])), 400,
                "invalid")
    assert "is not on the import allowlist" in i["diagnostics"], i
    assert env.import_jobs() == before


def test_file_outside_the_import_dir(env, tmp_path):
    """IMP-R-04.1: file:// URLs outside BULKHEAD_IMPORT_DIR (absolute
    elsewhere, or climbing out with .. or %2e%2e) are refused at
    kick-off with 400; no job."""
    outside = tmp_path / "outside.ndjson"
    outside.write_bytes(ndjson([patient("outside-1")]))
    d = env.import_dir
    before = env.import_jobs()
    for url in ["file://" + str(outside), "file:///etc/passwd",
                "file://" + d + "/../outside.ndjson",
                "file://" + d + "/%2e%2e/outside.ndjson",
                "file://" + d, "file://" + d + "x/a.ndjson"]:
        i = outcome(env.imp.kickoff(params_body([("Patient", url)])), 400,
                    "invalid")
        assert "under the import directory" in i["diagnostics"], (url, i)
    assert env.import_jobs() == before
    assert env.db.scalar("SELECT count(*) FROM resources WHERE id = "
                         "'outside-1'") == 0


@pytest.mark.parametrize("how", ["link", "dirlink", "dirlink-missing",
                                 "dotdot"])
def test_escapes_refused_at_kickoff_as_the_worker_refuses_them(env, tmp_path,
                                                                how):
    """IMP-R-04.1: escapes that the kick-off's old lexical check let
    through to the worker (a symlink out of the import dir, a file below a
    symlinked directory out, present or missing, a trailing %2e%2e) are
    refused at kick-off by the worker's own rule (bulk/confine.h), with the
    reason the worker gives, "<path>: outside import_dir" (the worker side:
    tests/e2e/test_fetch.py::test_file_outside); 400, no job, nothing
    loaded."""
    p = env.prefix()
    outside = tmp_path / "out"
    outside.mkdir()
    (outside / "secret.ndjson").write_bytes(ndjson([patient(p + "-secret")]))
    d = env.import_dir
    link = os.path.join(d, p + "-link.ndjson")
    os.symlink(str(outside / "secret.ndjson"), link)
    dirlink = os.path.join(d, p + "-dir")
    os.symlink(str(outside), dirlink)
    path, shown = {
        "link": (link, link),
        "dirlink": (dirlink + "/secret.ndjson",) * 2,
        "dirlink-missing": (dirlink + "/missing.ndjson",) * 2,
        "dotdot": (d + "/%2e%2e", d + "/.."),
    }[how]
    good = env.file_url(p + "-ok.ndjson", ndjson([patient(p + "-ok")]))
    before = env.import_jobs()
    i = outcome(env.imp.kickoff(params_body([("Patient", good),
                                             ("Patient", "file://" + path)])),
                400, "invalid")
    assert "input 2: file URLs must name a file under the import " \
        "directory" in i["diagnostics"], i
    assert "(%s: outside import_dir)" % shown in i["diagnostics"], i
    assert env.import_jobs() == before
    assert env.rows(p + "-secret") == 0
    assert env.rows(p + "-ok") == 0


# ---- the bad-input corpus (IMP-S-03, IMP-R-04.4, ND-03/04/07) ---------------

def test_truncated_last_line(env):
    """ND-07, IMP-S-03: the last line cut mid-object (no newline) is one
    failed line; the five before it load."""
    p = env.prefix()
    data = ndjson([patient("%s-%d" % (p, i)) for i in range(5)]) + \
        b'{"resourceType":"Patient","id":"%s-5","name":[{"fam' % \
        p.encode()
    m, url, e, oos = one(env, data)
    expect(e, 5, failed=1)
    expect_line_errors(oos, url, data, [6])
    assert "invalid JSON" in oos[0]["issue"][0]["diagnostics"]
    assert env.rows(p) == 5
    assert len(error_entries(m, url)) == 1


def test_invalid_json(env):
    """IMP-S-03: unparseable lines (trailing comma, not JSON, a JSON array,
    an unterminated string, two objects on one line) each fail alone."""
    p = env.prefix()
    bad = {3: b'{"resourceType":"Patient","id":"%s-x3",}' % p.encode(),
           5: b"not json at all",
           6: b'[{"resourceType":"Patient","id":"%s-x6"}]' % p.encode(),
           8: b'{"resourceType":"Patient","id":"%s-x8' % p.encode(),
           9: b'{"resourceType":"Patient","id":"%s-x9"}{"a":1}' %
           p.encode()}
    lines = [bad.get(n, patient("%s-%d" % (p, n))) for n in range(1, 11)]
    data = ndjson(lines)
    m, url, e, oos = one(env, data)
    expect(e, 5, failed=5)
    expect_line_errors(oos, url, data, sorted(bad))
    for _, _, _, _, diag in issues(oos):
        assert "invalid JSON" in diag or "not" in diag, diag
    assert env.rows(p) == 5
    assert env.db.scalar("SELECT count(*) FROM resources WHERE id LIKE %s",
                         (p + "-x%",)) == 0


def test_wrong_resource_type(env):
    """IMP-d-01: a resource whose type is not the input's type is a failed
    line (it is not loaded under either type)."""
    p = env.prefix()
    obs = json.dumps({"resourceType": "Observation", "id": p + "-o",
                      "status": "final", "code": {"text": "x"}},
                     separators=(",", ":")).encode()
    data = ndjson([patient(p + "-1"), obs, patient(p + "-3"),
                   b'{"resourceType":"Patients","id":"%s-4"}' % p.encode()])
    m, url, e, oos = one(env, data)
    expect(e, 2, failed=2)
    expect_line_errors(oos, url, data, [2, 4])
    assert "Observation" in oos[0]["issue"][0]["diagnostics"]
    assert env.rows(p) == 2
    assert env.rows(p, "Observation") == 0


def test_missing_id(env):
    """IMP-S-03: a resource without an id fails (ids are kept, never
    invented: IMP-a-02)."""
    p = env.prefix()
    data = ndjson([patient(p + "-1"),
                   b'{"resourceType":"Patient","name":[{"family":"X"}]}',
                   patient(p + "-3"), b'{"resourceType":"Patient"}'])
    m, url, e, oos = one(env, data)
    expect(e, 2, failed=2)
    expect_line_errors(oos, url, data, [2, 4])
    assert all("missing id" in d for *_, d in issues(oos))
    assert env.rows(p) == 2


def test_invalid_id(env):
    """IMP-S-03: ids outside the FHIR id syntax [A-Za-z0-9-.]{1,64} fail:
    a space, a slash, empty, 65 characters, a number."""
    p = env.prefix()
    bad = {2: b'{"resourceType":"Patient","id":"%s bad"}' % p.encode(),
           3: b'{"resourceType":"Patient","id":"%s/x"}' % p.encode(),
           4: b'{"resourceType":"Patient","id":""}',
           5: b'{"resourceType":"Patient","id":"%s"}' % (
               p.encode() + b"-" + b"a" * (64 - len(p))),
           6: b'{"resourceType":"Patient","id":42}'}
    ok64 = (p + "-" + "b" * (63 - len(p))).encode()
    assert len(ok64) == 64
    lines = [bad.get(n, patient("%s-%d" % (p, n))) for n in range(1, 8)]
    lines.append(b'{"resourceType":"Patient","id":"%s"}' % ok64)
    data = ndjson(lines)
    m, url, e, oos = one(env, data)
    expect(e, 3, failed=5)
    expect_line_errors(oos, url, data, sorted(bad))
    assert env.rows(p) == 3


def test_invalid_utf8(env):
    """ND-03, ND-07: a line that is not UTF-8 (a stray 0xFF, an overlong
    encoding, a truncated sequence, a UTF-16 surrogate) fails, with the
    byte offset of the bad byte; valid multi-byte text loads."""
    p = env.prefix().encode()
    bad = {2: b'{"resourceType":"Patient","id":"%s-2","name":[{"text":'
              b'"a\xffb"}]}' % p,
           3: b'{"resourceType":"Patient","id":"%s-3","name":[{"text":'
              b'"\xc0\xaf"}]}' % p,
           4: b'{"resourceType":"Patient","id":"%s-4","name":[{"text":'
              b'"\xe2\x82"}]}' % p,
           5: b'{"resourceType":"Patient","id":"%s-5","name":[{"text":'
              b'"\xed\xa0\x80"}]}' % p}
    good = [b'{"resourceType":"Patient","id":"%s-1","name":[{"text":'
            b'"Zo\xc3\xab \xe2\x82\xac \xf0\x9f\x98\x80"}]}' % p,
            b'{"resourceType":"Patient","id":"%s-6"}' % p]
    data = ndjson([good[0], bad[2], bad[3], bad[4], bad[5], good[1]])
    m, url, e, oos = one(env, data)
    expect(e, 2, failed=4)
    expect_line_errors(oos, url, data, [2, 3, 4, 5])
    starts = line_starts(data)
    for (_, _, ln, off, diag) in issues(oos):
        assert "UTF-8" in diag, diag
        first_bad = min(i for i, c in enumerate(bad[ln]) if c >= 0x80)
        assert off == starts[ln] + first_bad, (diag, starts[ln] + first_bad)
    assert env.rows(p.decode()) == 2
    content = env.db.scalar("SELECT content FROM resources WHERE type = "
                            "'Patient' AND id = %s", (p.decode() + "-1",))
    assert content.encode() == good[0]


def test_line_longer_than_the_cap(env):
    """IMP-R-04.4, ND-07: a 20 MB line with the default 16 MB cap
    (BULKHEAD_IMPORT_MAX_LINE) is one failed line ("too-long", at the
    line's start); the lines around it load."""
    p = env.prefix()
    big = patient(p + "-big", text="z" * (20 * 1024 * 1024))
    assert len(big) > DEFAULT_MAX_LINE
    data = ndjson([patient(p + "-1"), patient(p + "-2"), big,
                   patient(p + "-4"), patient(p + "-5")])
    m, url, e, oos = one(env, data, via="file")
    expect(e, 4, failed=1)
    expect_line_errors(oos, url, data, [3], code="too-long")
    assert issues(oos)[0][3] == line_starts(data)[3]
    assert "longer than %d bytes" % DEFAULT_MAX_LINE in \
        oos[0]["issue"][0]["diagnostics"]
    assert env.rows(p) == 4
    assert env.rows(p + "-big") == 0


def test_empty_file(env):
    """ND-06/07: an empty input is read to its end: count 0, linesRead 0,
    no error entry."""
    m, url, e, oos = one(env, b"")
    expect(e, 0)
    assert oos == [] and m["error"] == []


def test_blank_lines_are_skipped_and_counted(env):
    """ND-04 (blank lines MAY be skipped, and are documented), ND-07:
    blank lines (empty, spaces, tabs, a lone CR) in the middle and at the
    end are counted as blank, not failed, and do not shift line numbers."""
    p = env.prefix()
    lines = [patient(p + "-1"), b"", patient(p + "-3"), b"  \t ",
             b"{bad", b"\r", patient(p + "-7"), b"", b"", b""]
    data = ndjson(lines)
    m, url, e, oos = one(env, data)
    expect(e, 3, failed=1, blank=6)
    expect_line_errors(oos, url, data, [5])
    assert env.rows(p) == 3


def test_trailing_blank_lines_without_final_newline(env):
    """ND-07: a missing final LF is accepted; trailing blank lines count."""
    p = env.prefix()
    data = patient(p + "-1") + b"\n" + patient(p + "-2") + b"\n\n\n" + \
        patient(p + "-3")
    m, url, e, oos = one(env, data)
    expect(e, 3, blank=2)
    assert oos == []
    assert env.rows(p) == 3


def test_crlf_line_ends(env):
    """ND-03/04, ND-07: CRLF line ends are accepted; the CR is not part of
    the stored resource; offsets and line numbers count the CRs."""
    p = env.prefix()
    lines = [patient("%s-%d" % (p, i)) for i in range(1, 6)]
    lines[3] = b'{"resourceType":"Patient","id":"%s-4",' % p.encode()
    data = ndjson(lines[:2] + [b""] + lines[2:], end=b"\r\n")
    m, url, e, oos = one(env, data)
    expect(e, 4, failed=1, blank=1)
    expect_line_errors(oos, url, data, [5])
    assert env.rows(p) == 4
    stored = env.db.query("SELECT content FROM resources WHERE type = "
                          "'Patient' AND id LIKE %s ORDER BY id", (p + "%",))
    assert [r[0].encode() for r in stored] == \
        [lines[i] for i in (0, 1, 2, 4)]


def test_http_404(env):
    """IMP-S-03/04: an input the server answers 404 for is one fatal
    OperationOutcome in its error file; count 0; nothing read."""
    url = env.files.url("/files/%s-missing.ndjson" % env.prefix())
    m = env.imp.run(params_body([("Patient", url)]))
    check_counts(m)
    expect(entry(m, url), 0)
    fatal(outcomes(m, url), url, "HTTP 404")
    assert len(error_entries(m, url)) == 1


def test_connection_refused(env):
    """IMP-S-03/04: a closed port is one fatal OperationOutcome."""
    port = _c.free_port()
    url = "http://127.0.0.1:%d/Patient.ndjson" % port
    m = env.imp.run(params_body([("Patient", url)]))
    check_counts(m)
    expect(entry(m, url), 0)
    fatal(outcomes(m, url), url, "connection refused")


def test_server_stalls_mid_file(env):
    """IMP-R-04.9, IMP-S-04: the server sends part of the body (cut in
    the middle of line 6) then stalls; after
    BULKHEAD_IMPORT_STALL_TIMEOUT (2 s) the input ends with one fatal
    OperationOutcome, and the five complete lines before the stall are
    loaded."""
    p = env.prefix()
    lines = [patient("%s-%d" % (p, i), text="s" * 40) for i in range(1, 11)]
    data = ndjson(lines)
    cut = line_starts(data)[6] + 10
    env.files.put(p + ".ndjson", data)
    url = env.files.url("/stall/%d/%s.ndjson" % (cut, p))
    t0 = time.monotonic()
    m = env.imp.run(params_body([("Patient", url)]))
    assert time.monotonic() - t0 >= 2
    check_counts(m)
    expect(entry(m, url), 5)
    fatal(outcomes(m, url), url, "stalled")
    assert env.rows(p) == 5


def _prefix_and_rest(p, n_prefix, n_rest):
    pre = ndjson([patient("%s-a%d" % (p, i)) for i in range(n_prefix)])
    rest = ndjson([patient("%s-b%d" % (p, i)) for i in range(n_rest)])
    return pre, rest


def _corrupt_case(env, coding):
    """A body whose first part decodes (then the coding is corrupt), sent
    with Content-Encoding; returns (manifest, url, prefix lines, p)."""
    p = env.prefix()
    if coding == "gzip":
        pre, rest = _prefix_and_rest(p, 60, 60)
        body = gzip_corrupt_after(pre, rest)
    else:
        pre = lines_of_size(ZSTD_BLOCK, p + "-a%d")
        rest = lines_of_size(200000, p + "-b%d")
        body = zstd_corrupt_after(pre, rest)
    env.files.put(p + ".body", body)
    url = env.files.url("/raw-ce/%s/%s.body" % (coding, p))
    m = env.imp.run(params_body([("Patient", url)]))
    check_counts(m)
    return m, url, pre.count(b"\n"), p


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_corrupt_encoding_is_a_fatal_outcome(env, coding):
    """IMP-R-04.2, IMP-S-04: a gzip or zstd body that turns corrupt
    mid-stream ends the input with one fatal OperationOutcome naming the
    corruption; nothing after it is loaded; counts add up and every
    counted line is in the store."""
    m, url, npre, p = _corrupt_case(env, coding)
    e = entry(m, url)
    fatal(outcomes(m, url), url, "corrupt %s data" % coding)
    assert e["extension"]["failed"] == 0
    assert e["count"] <= npre
    assert env.rows(p + "-b") == 0
    assert env.rows(p + "-a") == e["count"]


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_corrupt_encoding_keeps_the_valid_prefix(env, coding):
    """IMP-R-04.9: the valid prefix decoded before the corruption counts
    as read and is loaded: exactly its lines (60 for gzip; one 128 KB
    zstd block for zstd), then the fatal OperationOutcome."""
    m, url, npre, p = _corrupt_case(env, coding)
    expect(entry(m, url), npre)
    fatal(outcomes(m, url), url, "corrupt %s data" % coding)
    assert env.rows(p + "-a") == npre


def test_etag_mismatch(env):
    """IMP-R-04.3, IMP-d-01: an input whose etag does not match the
    server's ETag is one fatal OperationOutcome and nothing is loaded;
    with the matching etag (quoted, as the server sends it) it loads."""
    p = env.prefix()
    data = ndjson([patient("%s-%d" % (p, i)) for i in range(4)])
    url = env.files.put(p + ".ndjson", data)
    m = env.imp.run(params_body([("Patient", url, '"sha256-0000"')]))
    check_counts(m)
    expect(entry(m, url), 0)
    fatal(outcomes(m, url), url, "ETag mismatch", "sha256-0000",
          etag_of(data))
    assert env.rows(p) == 0
    m = env.imp.run(params_body([("Patient", url, etag_of(data))]))
    expect(entry(m, url), 4)
    assert m["error"] == []
    assert env.rows(p) == 4


def test_twenty_inputs_one_fails(env):
    """IMP-R-04.9, IMP-a-02: twenty inputs, one of them a 404: the other
    nineteen load fully (each its own output entry and count), the
    failing one has count 0 and its own error entry; totals add up."""
    p = env.prefix()
    urls = []
    for i in range(20):
        if i == 12:
            urls.append(env.files.url("/files/%s-gone.ndjson" % p))
        elif i % 2:
            urls.append(env.file_url("%s-%02d.ndjson" % (p, i), ndjson(
                [patient("%s-%02d-%d" % (p, i, j)) for j in range(10)])))
        else:
            urls.append(env.files.put("%s-%02d.ndjson" % (p, i), ndjson(
                [patient("%s-%02d-%d" % (p, i, j)) for j in range(10)])))
    m = env.imp.run(params_body([("Patient", u) for u in urls]))
    check_counts(m)
    assert [o["inputUrl"] for o in m["output"]] == urls
    for i, u in enumerate(urls):
        expect(entry(m, u), 0 if i == 12 else 10)
    assert [e["inputUrl"] for e in m["error"]] == [urls[12]]
    fatal(outcomes(m, urls[12]), urls[12], "HTTP 404")
    assert m["extension"]["totals"] == {"read": 190, "loaded": 190,
                                        "failed": 0, "blank": 0}
    assert env.rows(p) == 190


def test_missing_required_elements_and_malformed_references(env):
    """IMP-a-02 (validation reported in error), IMP-S-03: a Claim without
    a required element (status, insurance, patient) fails, and so does one
    with a malformed reference ("not a ref", a reference that is not a
    string, an unknown type); the valid Claims load."""
    p = env.prefix()
    bad = {2: claim(p + "-2", status=None),
           3: claim(p + "-3", insurance=None),
           5: claim(p + "-5", patient={"reference": "not a ref"}),
           6: claim(p + "-6", patient={"reference": 17}),
           7: claim(p + "-7", provider={"reference": "Clinic/7"}),
           8: claim(p + "-8", patient=None)}
    lines = [bad.get(n, claim("%s-%d" % (p, n))) for n in range(1, 11)]
    data = ndjson(lines)
    m, url, e, oos = one(env, data, type_="Claim")
    expect(e, 4, failed=6)
    expect_line_errors(oos, url, data, sorted(bad))
    diags = {ln: d for _, _, ln, _, d in issues(oos)}
    assert "Claim.status is required" in diags[2]
    assert "Claim.insurance is required" in diags[3]
    assert 'malformed reference "not a ref"' in diags[5]
    assert "not a string" in diags[6]
    assert "Clinic/7" in diags[7]
    assert "Claim.patient is required" in diags[8]
    starts = line_starts(data)
    assert issues(oos)[2][3] == starts[5] + bad[5].index(b"not a ref")
    assert env.rows(p, "Claim") == 4
    assert set(r[0] for r in env.db.query(
        "SELECT id FROM resources WHERE type = 'Claim' AND id LIKE %s",
        (p + "%",))) == {"%s-%d" % (p, n) for n in (1, 4, 9, 10)}


def test_duplicate_id_within_one_input(env):
    """IMP-d-01, IMP-S-03: the same id twice in one input: the last wins,
    one row in the store, and a warning OperationOutcome names both
    lines; both lines count as read and committed (nothing failed)."""
    p = env.prefix()
    lines = [patient(p + "-1"), patient(p + "-dup", gender="male"),
             patient(p + "-3"), patient(p + "-dup", gender="female"),
             patient(p + "-5")]
    data = ndjson(lines)
    m, url, e, oos = one(env, data)
    expect(e, 5)
    got = issues(oos)
    assert [(s, ln) for s, _, ln, _, _ in got] == [("warning", 2)], got
    assert "line 4 wins over line 2" in got[0][4]
    assert env.rows(p) == 4
    row = env.db.query("SELECT version, content FROM resources WHERE type "
                       "= 'Patient' AND id = %s", (p + "-dup",))
    assert row == [(1, lines[3].decode())]


def test_duplicate_id_across_batches_within_one_input(env):
    """IMP-d-01, IMP-S-03: the same id at line 1 and line 150 of one input
    (two batches apart): the last wins, one row, a warning OperationOutcome
    as within one batch, and the row is version 1 like every other row
    this one import created."""
    p = env.prefix()
    lines = [patient("%s-%03d" % (p, i)) for i in range(1, 201)]
    lines[149] = patient(p + "-001", gender="other")
    data = ndjson(lines)
    m, url, e, oos = one(env, data)
    expect(e, 200)
    assert env.rows(p) == 199
    row = env.db.query("SELECT version, content FROM resources WHERE type "
                       "= 'Patient' AND id = %s", (p + "-001",))
    assert row[0][1] == lines[149].decode()
    got = issues(oos)
    assert [(s, ln) for s, _, ln, _, _ in got] == [("warning", 1)], got
    assert row[0][0] == 1


def test_duplicate_ids_across_batches_rerun_changes_nothing(env):
    """IMP-R-04.7, IMP-S-03: an input repeating ids across batches (line 1
    and 150; lines 120 and 130 and 260), imported twice: the second run
    reports the same warnings and leaves every row as the first left it
    (version 1, the last line's content, same last_updated)."""
    p = env.prefix()
    lines = [patient("%s-%03d" % (p, i)) for i in range(1, 301)]
    lines[149] = patient(p + "-001", gender="other")
    lines[129] = patient(p + "-120", gender="male")
    lines[259] = patient(p + "-120", gender="female")
    data = ndjson(lines)
    m, url, e, oos = one(env, data)
    expect(e, 300)
    want = [(s, ln) for s, _, ln, _, _ in issues(oos)]
    assert want == [("warning", 1), ("warning", 120), ("warning", 130)]
    q = ("SELECT id, version, last_updated, content FROM resources WHERE "
         "type = 'Patient' AND id LIKE %s ORDER BY id")
    rows = env.db.query(q, (p + "-%",))
    assert len(rows) == 297
    assert set(r[1] for r in rows) == {1}
    byid = {r[0]: r[3] for r in rows}
    assert byid[p + "-001"] == lines[149].decode()
    assert byid[p + "-120"] == lines[259].decode()
    m2 = env.imp.run(params_body([("Patient", url)]))
    check_counts(m2)
    expect(entry(m2, url), 300)
    assert [(s, ln) for s, _, ln, _, _ in issues(outcomes(m2, url))] == want
    assert env.db.query(q, (p + "-%",)) == rows


def test_duplicate_warning_names_the_lines_byte_offset(env):
    """IMP-S-03: the duplicate-id warning names the superseded line and
    that line's byte offset, like every other per-line outcome."""
    p = env.prefix()
    lines = [patient(p + "-1"), patient(p + "-dup", gender="male"),
             patient(p + "-dup", gender="female")]
    data = ndjson(lines)
    m, url, e, oos = one(env, data)
    got = issues(oos)
    assert [(s, ln) for s, _, ln, _, _ in got] == [("warning", 2)], got
    assert got[0][3] == line_starts(data)[2], got[0][4]


def test_bad_meta_last_updated(env):
    """IMP-S-03: meta.lastUpdated that is not a FHIR instant (a date only,
    no zone, a month 13, not a string) fails the line; it is never loaded
    with a made-up time."""
    p = env.prefix()
    bad = {2: patient(p + "-2", meta={"lastUpdated": "2024-01-01"}),
           3: patient(p + "-3", meta={"lastUpdated": "2024-01-01T10:00:00"}),
           4: patient(p + "-4", meta={"lastUpdated":
                                      "2024-13-01T10:00:00Z"}),
           5: patient(p + "-5", meta={"lastUpdated": 1700000000})}
    lines = [bad.get(n, patient("%s-%d" % (p, n), meta={
        "lastUpdated": "2024-01-01T10:00:00+01:00"})) for n in range(1, 7)]
    data = ndjson(lines)
    m, url, e, oos = one(env, data)
    expect(e, 2, failed=4)
    expect_line_errors(oos, url, data, sorted(bad))
    assert all("meta.lastUpdated" in d for *_, d in issues(oos))
    assert env.rows(p) == 2


def test_same_ids_in_two_inputs_loaded_concurrently(env):
    """IMP-R-04.7: two inputs of one import, read at the same time by two
    threads, carry the same 300 ids with different content (the direct
    COPY of one of them meets the other's rows: the upsert retry): nothing
    fails, 300 rows, each with the content of one of the two inputs."""
    p = env.prefix()
    a = [patient("%s-%03d" % (p, i), gender="male") for i in range(300)]
    b = [patient("%s-%03d" % (p, i), gender="female") for i in range(300)]
    ua = env.files.put(p + "-a.ndjson", ndjson(a))
    ub = env.file_url(p + "-b.ndjson", ndjson(b))
    m = env.imp.run(params_body([("Patient", ua), ("Patient", ub)]))
    check_counts(m)
    expect(entry(m, ua), 300)
    expect(entry(m, ub), 300)
    assert m["error"] == []
    rows = env.snapshot(p)
    assert len(rows) == 300
    for i, r in enumerate(rows):
        assert r[5].encode() in (a[i], b[i]), r
        assert r[1] in (1, 2)


# ---- loading semantics ------------------------------------------------------

def test_reimport_unchanged_leaves_the_store_alone(env):
    """IMP-R-04.7: the same import run twice: the same counts, the same
    rows, version still 1 and last_updated unchanged (the upsert path)."""
    p = env.prefix()
    lines = [patient("%s-%03d" % (p, i)) for i in range(250)]
    url = env.files.put(p + ".ndjson", ndjson(lines))
    body = params_body([("Patient", url)])
    m1 = env.imp.run(body)
    expect(entry(m1, url), 250)
    before = env.snapshot(p)
    assert len(before) == 250 and {r[1] for r in before} == {1}
    m2 = env.imp.run(body)
    expect(entry(m2, url), 250)
    assert m2["error"] == []
    assert env.snapshot(p) == before


def test_reimport_changed_content_is_a_new_version(env):
    """IMP-R-04.7, IMP-d-01: re-importing with changed content for some
    ids makes those version 2 (new content, and with IncrementalLoad the
    new meta.lastUpdated); unchanged ids stay version 1 untouched; new ids
    are version 1."""
    p = env.prefix()
    old = [patient("%s-%03d" % (p, i), meta={
        "lastUpdated": "2024-01-01T00:00:00Z"}) for i in range(150)]
    url = env.files.put(p + ".ndjson", ndjson(old))
    env.imp.run(params_body([("Patient", url)]))
    before = {r[0]: r for r in env.snapshot(p)}
    new = list(old)
    changed = set(range(0, 150, 7))
    for i in changed:
        new[i] = patient("%s-%03d" % (p, i), gender="unknown", meta={
            "lastUpdated": "2025-02-03T04:05:06.789Z"})
    new.append(patient(p + "-new"))
    env.files.put(p + ".ndjson", ndjson(new))
    m = env.imp.run(params_body([("Patient", url)]))
    expect(entry(m, url), 151)
    after = {r[0]: r for r in env.snapshot(p)}
    assert len(after) == 151
    for i in range(150):
        rid = "%s-%03d" % (p, i)
        if i in changed:
            assert after[rid][1] == 2
            assert after[rid][5] == new[i].decode()
            assert after[rid][2] == datetime(2025, 2, 3, 4, 5, 6, 789000,
                                             tzinfo=timezone.utc)
        else:
            assert after[rid] == before[rid]
    assert after[p + "-new"][1] == 1


def test_incremental_load_keeps_meta_last_updated(env):
    """IMP-d-01 (IncrementalLoad keeps lastUpdated): with
    mode=IncrementalLoad, last_updated is the resource's meta.lastUpdated
    (any offset, fractions kept); without one, the import time."""
    p = env.prefix()
    data = ndjson([
        patient(p + "-1", meta={"lastUpdated": "2020-01-02T03:04:05Z"}),
        patient(p + "-2", meta={"lastUpdated":
                                "2021-06-30T23:59:59.123+02:00"}),
        patient(p + "-3")])
    t0 = datetime.now(timezone.utc) - timedelta(seconds=5)
    m, url, e, oos = one(env, data, mode="IncrementalLoad")
    t1 = datetime.now(timezone.utc) + timedelta(seconds=5)
    expect(e, 3)
    lu = {r[0]: r[2] for r in env.snapshot(p)}
    assert lu[p + "-1"] == datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert lu[p + "-2"] == datetime(2021, 6, 30, 21, 59, 59, 123000,
                                    tzinfo=timezone.utc)
    assert t0 <= lu[p + "-3"] <= t1


def test_initial_load_uses_the_import_time(env):
    """IMP-R-01 mode: with mode=InitialLoad, last_updated is the import
    time, whatever meta.lastUpdated says; the content is kept as sent."""
    p = env.prefix()
    lines = [patient("%s-%d" % (p, i), meta={
        "lastUpdated": "2020-01-02T03:04:05Z"}) for i in range(3)]
    t0 = datetime.now(timezone.utc) - timedelta(seconds=5)
    m, url, e, oos = one(env, ndjson(lines), mode="InitialLoad")
    t1 = datetime.now(timezone.utc) + timedelta(seconds=5)
    expect(e, 3)
    rows = env.snapshot(p)
    assert all(t0 <= r[2] <= t1 for r in rows), rows
    assert [r[5].encode() for r in rows] == lines


def test_export_with_type_filter_finds_imported_claims(bulkhead_bin, db,
                                                        start_server,
                                                        tmp_path):
    """IMP-R-01 and EXP _typeFilter: Claims imported with $import are in
    the store as export reads it: `$export?_type=Claim&_typeFilter=
    Claim?status=active` returns exactly the imported active Claims' ids
    (the cancelled ones left out), byte for byte as imported."""
    gen = tmp_path / "gen"
    r = run_cli(bulkhead_bin, ["generate", "--families", "25", "--seed",
                               "5", "--today", "2026-06-01", "--out",
                               str(gen)])
    assert r.returncode == 0, r.stderr
    claims = []
    for n, line in enumerate((gen / "Claim.ndjson").read_bytes()
                             .splitlines()):
        c = json.loads(line)
        if n % 3 == 0:
            c["status"] = "cancelled"
        claims.append(json.dumps(c, separators=(",", ":")).encode())
    (tmp_path / "import").mkdir()
    path = tmp_path / "import" / "Claim.ndjson"
    path.write_bytes(ndjson(claims))
    srv = start_server(db)
    imp = Importer(srv)
    url = "file://" + str(path)
    m = imp.run(manifest_body([("Claim", url)]))
    expect(entry(m, url), len(claims))
    active = {json.loads(c)["id"]: c for c in claims
              if json.loads(c)["status"] == "active"}
    assert 0 < len(active) < len(claims)
    k = requests.get(srv.fhir + "/$export", params={
        "_type": "Claim", "_typeFilter": "Claim?status=active"},
        headers={"Accept": FHIR_JSON, "Prefer": "respond-async"},
        timeout=30)
    assert k.status_code == 202, k.text
    done = imp.wait(k.headers["Content-Location"])
    assert done.status_code == 200, done.text
    got = {}
    for o in done.json()["output"]:
        assert o["type"] == "Claim"
        for line in download(o["url"]).splitlines():
            got[json.loads(line)["id"]] = line
    assert set(got) == set(active)
    assert all(got[i] == active[i] for i in active)


# ---- kick-off configuration (serve alone: nothing runs) ---------------------

def test_too_many_imports_at_once(bulkhead_bin, db, start_server, tmp_path):
    """IMP-R-04.8, IMP-a-03, IMP-S-01: with only 'serve' running (no
    worker, jobs stay queued) and BULKHEAD_IMPORT_MAX_JOBS=2, two
    kick-offs are accepted and the third gets 429 + an integer
    Retry-After + an OperationOutcome; a queued job's status is 202 with
    X-Progress "queued" and an integer Retry-After; DELETE of a queued
    job frees a slot (202, then 404 on the status URL)."""
    (tmp_path / "import").mkdir()
    srv = start_server(db, role="serve", extra_env={
        "BULKHEAD_IMPORT_MAX_JOBS": "2",
        "BULKHEAD_IMPORT_ALLOW": "127.0.0.1"})
    imp = Importer(srv)

    def body(i):
        return params_body([("Patient", "http://127.0.0.1:9/%d.ndjson" % i)])
    locs = [imp.start(body(1)), imp.start(manifest_body(
        [("Patient", "http://127.0.0.1:9/2.ndjson")]))]
    r = imp.kickoff(body(3))
    outcome(r, 429, "throttled")
    assert r.headers["Retry-After"].isdigit(), r.headers
    assert db.scalar("SELECT count(*) FROM jobs WHERE kind = 'import'") == 2
    s = requests.get(locs[0], timeout=30)
    assert s.status_code == 202
    assert s.headers["X-Progress"] == "queued"
    assert s.headers["Retry-After"].isdigit()
    d = requests.delete(locs[0], timeout=30)
    assert d.status_code == 202, d.text
    outcome(requests.get(locs[0], timeout=30), 404, "not-found")
    assert db.scalar("SELECT state FROM jobs WHERE id = %s",
                     (job_id(locs[0]),)) == "cancelled"
    imp.start(body(4))
    outcome(imp.kickoff(body(5)), 429, "throttled")


@pytest.mark.parametrize("how", ["trailing-slash", "relative", "symlink"])
def test_import_dir_spellings_accept_files_inside(bulkhead_bin, db,
                                                   start_server, tmp_path,
                                                   how):
    """IMP-R-04.1: file:// URLs naming a file inside the import dir are
    accepted however BULKHEAD_IMPORT_DIR is spelled (trailing slash,
    relative to the working directory, through a symlink)."""
    real = tmp_path / "imp"
    real.mkdir()
    (real / "a.ndjson").write_bytes(ndjson([patient("a-1")]))
    if how == "trailing-slash":
        conf = str(real) + "/"
    elif how == "relative":
        conf = os.path.relpath(str(real), os.getcwd())
    else:
        os.symlink(str(real), str(tmp_path / "link"))
        conf = str(tmp_path / "link")
    srv = start_server(db, role="serve", extra_env={
        "BULKHEAD_IMPORT_DIR": conf})
    url = "file://" + str(real / "a.ndjson")
    r = Importer(srv).kickoff(params_body([("Patient", url)]))
    assert r.status_code == 202, r.text


# ---- crash and resume (IMP-R-04.7/9) ----------------------------------------

CRASH_LINES = 50000
CRASH_BAD = {1234: b'{"resourceType":"Patient","id":"%s-bad-a"',
             17777: b'{"resourceType":"Patient"}',
             30001: b'{"resourceType":"Observation","id":"%s-obs"}',
             49999: b'{"resourceType":"Patient","id":"bad id"}'}
CRASH_BLANK = {2000, 2001, 41000}


# line: the earlier line it repeats, in the same batch with 100 lines per
# batch (the shared service) as with 1000 (the crashed one)
CRASH_DUPS = {30: 10, 650: 620}


def _crash_input(p, dups):
    lines = []
    for n in range(1, CRASH_LINES + 1):
        if dups and n in CRASH_DUPS:
            lines.append(patient("%s-%05d" % (p, CRASH_DUPS[n]),
                                 gender="male", birthDate="1990-01-01"))
        elif n in CRASH_BAD:
            b = CRASH_BAD[n]
            lines.append(b % p.encode() if b"%s" in b else b)
        elif n in CRASH_BLANK:
            lines.append(b"")
        else:
            lines.append(patient("%s-%05d" % (p, n), gender="female",
                                 birthDate="1990-01-01"))
    return ndjson(lines)


@pytest.mark.parametrize("dups", [False, True],
                         ids=["clean", "with-duplicate-ids"])
def test_worker_killed_mid_import_resumes_exactly(env, bulkhead_bin, db,
                                                   start_server, dups):
    """IMP-R-04.7/9, IMP-S-04: 'serve' + one 'worker' (lease 5 s,
    heartbeat 1 s, 1000 lines per batch); the worker is killed with
    SIGKILL in the middle of a 50,000-line input, after some batches are
    committed; another worker takes the job over when the lease expires
    and completes it.  The manifest counts, the error file and the store
    equal those of an undisturbed run of the same input (on the shared
    service): no duplicate rows, nothing missing, every row version 1.
    Variant: the input also repeats two ids early on (in the first,
    committed, batch), whose warnings must survive the resume too."""
    p = env.prefix()
    data = _crash_input(p, dups)
    expected_loaded = CRASH_LINES - len(CRASH_BAD) - len(CRASH_BLANK)
    expected_rows = expected_loaded - (len(CRASH_DUPS) if dups else 0)

    # The undisturbed run.
    url0 = env.files.put(p + "-undisturbed.ndjson", data)
    m0 = env.imp.run(params_body([("Patient", url0)]))
    expect(entry(m0, url0), expected_loaded, failed=len(CRASH_BAD),
           blank=len(CRASH_BLANK))
    want_issues = [t[:4] for t in issues(outcomes(m0, url0))]
    assert sorted(t[2] for t in want_issues) == sorted(
        list(CRASH_BAD) + (list(CRASH_DUPS.values()) if dups else []))
    want_rows = db_rows(env.db, p)
    assert len(want_rows) == expected_rows

    # The crashed run, on its own database.
    cenv = {"BULKHEAD_JOB_LEASE": "5", "BULKHEAD_JOB_HEARTBEAT": "1",
            "BULKHEAD_IMPORT_BATCH_LINES": "1000",
            "BULKHEAD_IMPORT_ALLOW": "127.0.0.1"}
    api = start_server(db, role="serve", extra_env=cenv)
    w1 = start_server(db, role="worker", extra_env=cenv, wait=False)
    url = env.files.url("/slow/%d/%s-undisturbed.ndjson" % (
        len(data) // 4, p))
    imp = Importer(api)
    loc = imp.start(params_body([("Patient", url)]))
    jid = job_id(loc)

    def committed():
        cp = db.scalar("SELECT checkpoint FROM jobs WHERE id = %s", (jid,))
        return cp["inputs"][0]["committed"] if cp else 0
    wait_for(lambda: committed() >= 5000, 60, 0.05,
             "5000 committed lines")
    os.kill(w1.proc.pid, signal.SIGKILL)
    w1.proc.wait()
    j = db.query("SELECT state, attempts FROM jobs WHERE id = %s", (jid,))
    assert j == [("running", 1)], j
    partial = db.scalar("SELECT count(*) FROM resources")
    if dups:
        # A repeated id moves the input to its stage table: committed
        # batches wait there and merge into the store at the input's end.
        assert partial == 0, partial
        partial = db.scalar("SELECT count(*) FROM imp_stage_%s_1" % jid)
    assert 4000 <= partial < expected_rows, partial
    assert requests.get(loc, timeout=30).status_code == 202

    start_server(db, role="worker", extra_env=cenv, wait=False)
    m = imp.manifest(loc, timeout=120)
    assert db.query("SELECT state, attempts FROM jobs WHERE id = %s",
                    (jid,)) == [("completed", 2)]
    check_counts(m)
    assert entry(m, url)["count"] == entry(m0, url0)["count"]
    assert entry(m, url)["extension"] == entry(m0, url0)["extension"]
    assert m["extension"] == m0["extension"]
    assert [e["count"] for e in m["error"]] == \
        [e["count"] for e in m0["error"]]
    assert sorted(t[:4] for t in issues(outcomes(m, url))) == \
        sorted(want_issues)
    got_rows = db_rows(db, p)
    assert len(got_rows) == expected_rows
    assert got_rows == want_rows
    assert db.scalar("SELECT count(*) FROM resources") == expected_rows
    assert db.scalar("SELECT max(version) FROM resources") == 1


def db_rows(db, p):
    return db.query("SELECT type, id, version, patient, deleted, content "
                    "FROM resources WHERE id LIKE %s ORDER BY type, id",
                    (p + "%",))
