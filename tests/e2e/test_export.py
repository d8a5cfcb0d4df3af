"""$export end to end: what the files hold, and how bad input is refused.

The read-only tests share one 'bulkhead run' on one database (the module
fixture 'srv'): the demo dataset (500 families, a fixed --today), files
rolled at 1000 resources, a crafted Group and a few tombstones.  Expected
results are computed independently, in Python, from the NDJSON that was
loaded (or from the resources table for byte-exact comparisons).  Tests
that need another configuration (body limit, concurrency limit, a job slow
enough to cancel) start their own server on their own database.

A product bug is a test marked xfail(strict=True, reason="BUG: ...").
"""
import gzip
import http.client
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import datetime

import psycopg2
import pytest
import requests


def _e2e_conftest():
    """tests/e2e/conftest.py as pytest loaded it (several conftest modules
    may be loaded in one run, and only one of them is 'conftest')."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "conftest.py")
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and os.path.abspath(f) == path:
            return mod
    spec = importlib.util.spec_from_file_location("bulkhead_e2e", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_c = _e2e_conftest()
Database, Server, run_cli = _c.Database, _c.Server, _c.run_cli
bearer_for = _c.bearer_for

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
TODAY = "2026-06-01"
FAMILIES = 500
FILE_RESOURCES = 1000
AFTER_DATA = "2026-06-02T00:00:00Z"     # later than every generated row
DELETED_AT = "2026-06-10T00:00:00Z"     # when the tombstones were made
LENIENT = "respond-async, handling=lenient"
OPENIMIS_TYPES = {"Location", "Organization", "Practitioner", "InsurancePlan",
                  "Medication", "ActivityDefinition", "Patient", "Group",
                  "Coverage", "Claim", "ClaimResponse", "Provenance"}
COMPARTMENT = ("Patient", "Coverage", "Claim", "ClaimResponse")
CONTEXT = ("Organization", "Practitioner", "Location")
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/"
             "v3-ObservationValue", "code": "SUBSETTED"}
JOB_URL = re.compile(r"^(https?://[^/]+/fhir)/_jobs/([0-9a-f]{32})$")


# ---- helpers ---------------------------------------------------------------

def admin_exec(admin, sql):
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


def cli(binary, db, *args):
    r = run_cli(binary, list(args), db=db)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert b"Sanitizer" not in r.stderr, r.stderr.decode(errors="replace")
    return r


def outcome(resp, status, code=None):
    """Asserts status and an OperationOutcome body; returns its issue."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"] in (FHIR_JSON, "application/json")
    oo = resp.json()
    assert oo["resourceType"] == "OperationOutcome", oo
    issue = oo["issue"][0]
    assert issue["severity"] in ("error", "fatal")
    if code is not None:
        assert issue["code"] == code, oo
    return issue


def poll(url, timeout=120):
    """Polls until the job is out of progress; Retry-After honoured, capped
    at 1 s."""
    deadline = time.monotonic() + timeout
    time.sleep(0.3)
    while True:
        r = requests.get(url, timeout=30)
        in_progress = r.status_code == 202 or (
            r.status_code == 200 and
            r.headers.get("X-Export-Status", "").startswith("202"))
        if not in_progress:
            return r
        assert time.monotonic() < deadline, "export still running: " + url
        time.sleep(min(max(float(r.headers.get("Retry-After", "1")), 0.05),
                       1.0))


def fetch(url, accept_encoding="identity", headers=None, method="GET"):
    """A download, its body kept exactly as sent (r.raw_bytes)."""
    h = {"Accept-Encoding": accept_encoding}
    h.update(headers or {})
    r = requests.request(method, url, headers=h, stream=True, timeout=60)
    r.raw_bytes = r.raw.read(decode_content=False)
    r._content = r.raw_bytes
    r._content_consumed = True
    return r


def decoded(r):
    enc = r.headers.get("Content-Encoding", "identity")
    if enc == "gzip":
        return gzip.decompress(r.raw_bytes)
    if enc == "zstd":
        return subprocess.run(["zstd", "-d", "-c", "-q"], input=r.raw_bytes,
                              capture_output=True, check=True).stdout
    assert enc == "identity", enc
    return r.raw_bytes


def raw(port, method, target, headers=(), body=None):
    """A request sent byte for byte (no normalising of the target), with
    conftest's access token for a /fhir target unless headers hold an
    Authorization."""
    if not any(k.lower() == "authorization" for k, _ in headers):
        headers = list(headers) + list(bearer_for(
            "http://127.0.0.1:%d%s" % (port, target)).items())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, dict((k.lower(), v) for k, v in
                                 resp.getheaders()), resp.read()
    finally:
        conn.close()


def read_ndjson(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_ndjson(path, resources):
    with open(path, "w", encoding="utf-8") as f:
        for r in resources:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


def patient_of(r):
    if r["resourceType"] == "Patient":
        return r["id"]
    ref = (r.get("beneficiary") if r["resourceType"] == "Coverage"
           else r.get("patient")) or {}
    return ref.get("reference", "")[len("Patient/"):]


def provenance_of(srv, targets):
    """Ids of the live Provenance with a target ("Type/id", any version
    suffix dropped) among targets."""
    return {i for i, r in srv.live("Provenance").items()
            if any("/".join(t.get("reference", "").split("/")[:2])
                   in targets for t in r.get("target", []))}


def refs(resource, type_):
    text = json.dumps(resource, separators=(",", ":"))
    return set(re.findall(r'"reference":"%s/([A-Za-z0-9.-]{1,64})"' % type_,
                          text))


def parameters(*pairs):
    out = []
    for name, value in pairs:
        if name == "patient":
            out.append({"name": name, "valueReference": {"reference": value}})
        else:
            out.append({"name": name, "valueString": value})
    return {"resourceType": "Parameters", "parameter": out}


class Done:
    """A finished export."""

    def __init__(self, srv, kickoff, final):
        self.srv = srv
        self.kickoff = kickoff
        self.final = final
        self.url = kickoff.headers["Content-Location"]
        self.id = JOB_URL.match(self.url).group(2)

    @property
    def manifest(self):
        assert self.final.status_code == 200, (self.final.status_code,
                                                self.final.text)
        return self.final.json()

    def items(self, channel="output"):
        return self.manifest.get(channel) or []

    def lines(self, channel="output"):
        out = {}
        for item in self.items(channel):
            out.setdefault(item["type"], []).extend(
                self.srv.file(item["url"]).decode("utf-8").splitlines())
        return out

    def resources(self, channel="output"):
        out = {}
        for t, lines in self.lines(channel).items():
            for line in lines:
                r = json.loads(line)
                out.setdefault(t, {})[r["id"]] = r
        return out

    def ids(self):
        return {(t, i) for t, d in self.resources().items() for i in d}


class Srv:
    def __init__(self, server, db, data, tomb, crafted):
        self.server = server
        self.db = db
        self.fhir = server.fhir
        self.port = server.port
        self.data = data            # {type: {id: resource}} as loaded
        self.tomb = tomb            # {(type, id)} tombstoned
        self.crafted = crafted
        self.data_dir = server.env["BULKHEAD_DATA_DIR"]
        self._cache = {}
        self._files = {}

    def live(self, type_):
        """The loaded resources of a type that are not tombstoned."""
        return {i: r for i, r in self.data.get(type_, {}).items()
                if (type_, i) not in self.tomb}

    def kickoff(self, path="/$export", params=None, body=None, headers=None,
                method=None):
        h = {"Accept": FHIR_JSON, "Prefer": "respond-async"}
        h.update(headers or {})
        if body is not None:
            h.setdefault("Content-Type", FHIR_JSON)
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        return requests.request(method or ("POST" if body is not None
                                           else "GET"),
                                self.fhir + path, params=params, data=body,
                                headers=h, timeout=30)

    def export(self, path="/$export", params=None, body=None, headers=None,
               cache=True):
        key = json.dumps([path, params, body, headers], sort_keys=True)
        if cache and key in self._cache:
            return self._cache[key]
        k = self.kickoff(path, params, body, headers)
        assert k.status_code == 202, (k.status_code, k.text)
        d = Done(self, k, poll(k.headers["Content-Location"]))
        if cache:
            self._cache[key] = d
        return d

    def file(self, url):
        if url not in self._files:
            r = fetch(url)
            assert r.status_code == 200, (url, r.status_code, r.text)
            self._files[url] = r.raw_bytes
        return self._files[url]


@pytest.fixture(scope="module")
def srv(pg_admin, bulkhead_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    gen = tmp / "gen"
    cli(bulkhead_bin, None, "generate", "--families", str(FAMILIES),
        "--seed", "99", "--out", str(gen), "--today", TODAY)
    data = {}
    for f in os.listdir(gen):
        for r in read_ndjson(gen / f):
            data.setdefault(r["resourceType"], {})[r["id"]] = r
    # A Group of three patients from three families, managed by an
    # Organization their own resources do not reference.
    groups = sorted(data["Group"].values(), key=lambda g: g["id"])
    members = [g["member"][0]["entity"]["reference"][8:] for g in groups[:3]]
    used = set()
    for t in COMPARTMENT:
        for r in data[t].values():
            if patient_of(r) in members:
                used |= refs(r, "Organization")
    manager = sorted(set(data["Organization"]) - used)[0]
    crafted_group = {
        "resourceType": "Group", "id": "e2e-group",
        "meta": {"lastUpdated": "2026-05-01T00:00:00Z"},
        "type": "person", "actual": True,
        "managingEntity": {"reference": "Organization/" + manager},
        "member": [{"entity": {"reference": "Patient/" + m}}
                   for m in members]}
    (tmp / "crafted").mkdir()
    write_ndjson(tmp / "crafted" / "Group.ndjson", [crafted_group])
    data["Group"]["e2e-group"] = crafted_group
    # Tombstones: a member of family group #4 and a Claim of another of
    # its members, and a Coverage outside it (deletion has no API yet).
    g4 = groups[3]
    g4m = [m["entity"]["reference"][8:] for m in g4["member"]]
    claim = sorted(i for i, r in data["Claim"].items()
                   if patient_of(r) in g4m[1:])[0]
    outside = sorted(i for i, r in data["Coverage"].items()
                     if patient_of(r) not in g4m)[0]
    tomb = {("Patient", g4m[0]), ("Claim", claim), ("Coverage", outside),
            ("Group", groups[4]["id"])}
    db = Database(pg_admin, "bh_test_" + uuid.uuid4().hex[:12])
    admin_exec(pg_admin, 'CREATE DATABASE "%s"' % db.name)
    s = Server(bulkhead_bin, db, tmp, "run", {
        "BULKHEAD_EXPORT_FILE_RESOURCES": str(FILE_RESOURCES),
        "BULKHEAD_EXPORT_MAX_PER_CLIENT": "1000"})
    try:
        s.wait_ready()
        cli(bulkhead_bin, db, "load", str(gen))
        cli(bulkhead_bin, db, "load", str(tmp / "crafted"))
        # Deleted "on" DELETED_AT: after all data, before any export's
        # transactionTime (which a writer open elsewhere may hold back).
        for t, i in sorted(tomb):
            db.query("UPDATE resources SET deleted = true, last_updated = "
                     "%s WHERE type = %s AND id = %s", [DELETED_AT, t, i])
        yield Srv(s, db, data, tomb, {
            "group": "e2e-group", "members": members, "manager": manager,
            "g4": g4["id"], "g4_members": g4m, "g4_tomb": {
                ("Patient", g4m[0]), ("Claim", claim)},
            "deleted_group": groups[4]["id"]})
    finally:
        rc = s.stop()
        log = s.read_log() if not s.log.closed else \
            s.log_path.read_text(errors="replace")
        admin_exec(pg_admin, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' %
                   db.name)
    assert "ERROR: AddressSanitizer" not in log, log
    assert "runtime error:" not in log, log
    assert "LeakSanitizer" not in log, log
    assert rc == 0, log


def family_group(srv):
    return sorted(i for i in srv.data["Group"] if i != "e2e-group")[0]


# ---- what the files hold ---------------------------------------------------

def test_system_export_equals_the_store(srv):
    e = srv.export()
    tt = e.manifest["transactionTime"]
    rows = srv.db.query("SELECT type, content FROM resources WHERE NOT "
                        "deleted AND last_updated <= %s", [tt])
    store = {}
    for t, c in rows:
        store.setdefault(t, []).append(c)
    lines = e.lines()
    assert set(lines) == set(store) == OPENIMIS_TYPES
    for t in store:
        # byte-exact lines, no duplicates, nothing missing
        assert sorted(lines[t]) == sorted(store[t]), t
    counts = {}
    for item in e.items():
        counts[item["type"]] = counts.get(item["type"], 0) + item["count"]
    assert counts == {t: len(v) for t, v in store.items()}
    # and the store is what was loaded, less the tombstones
    for t in OPENIMIS_TYPES:
        assert {json.loads(l)["id"] for l in lines[t]} == set(srv.live(t))


def test_file_rolling_at_file_resources(srv):
    e = srv.export()
    per_type = {}
    for item in e.items():
        lines = srv.file(item["url"]).decode().splitlines()
        assert 0 < len(lines) <= FILE_RESOURCES
        assert len(lines) == item["count"]
        per_type.setdefault(item["type"], []).append(lines)
    names = [i["url"].rsplit("/", 1)[1] for i in e.items()]
    assert len(names) == len(set(names))
    for t in ("Patient", "Claim", "ClaimResponse"):
        n = len(srv.live(t))
        assert n > 2 * FILE_RESOURCES
        files = per_type[t]
        assert len(files) == -(-n // FILE_RESOURCES)
        ids = [json.loads(l)["id"] for f in files for l in f]
        assert len(ids) == len(set(ids)) == n
        assert set(ids) == set(srv.live(t))
        # every file but the last is full
        assert all(len(f) == FILE_RESOURCES for f in files[:-1])


def test_codings_decode_to_the_same_bytes(srv):
    e = srv.export()
    for item in e.items():
        plain = fetch(item["url"], "identity")
        assert plain.status_code == 200
        assert plain.headers.get("Content-Encoding", "identity") == "identity"
        assert int(plain.headers["Content-Length"]) == len(plain.raw_bytes)
        gz = fetch(item["url"], "gzip")
        zs = fetch(item["url"], "zstd")
        assert gz.headers["Content-Encoding"] == "gzip"
        assert zs.headers["Content-Encoding"] == "zstd"
        assert decoded(gz) == decoded(zs) == plain.raw_bytes
        tags = {plain.headers["ETag"], gz.headers["ETag"], zs.headers["ETag"]}
        assert len(tags) == 3
        for r in (plain, gz, zs):
            assert r.headers["Content-Type"] == NDJSON
            assert r.headers["Vary"] == "Accept-Encoding"


def test_gzip_is_deterministic_under_its_strong_etag(srv):
    url = srv.export().items()[0]["url"]
    a, b = fetch(url, "gzip"), fetch(url, "gzip")
    assert a.headers["ETag"] == b.headers["ETag"]
    assert a.raw_bytes == b.raw_bytes


@pytest.mark.parametrize("rng,sl", [
    ("bytes=0-0", slice(0, 1)), ("bytes=0-99", slice(0, 100)),
    ("bytes=1000-1999", slice(1000, 2000)), ("bytes=-100", slice(-100, None)),
    ("bytes=500-", slice(500, None))])
def test_range_206(srv, rng, sl):
    url = srv.export().items()[0]["url"]
    body = srv.file(url)
    r = fetch(url, "identity", {"Range": rng})
    assert r.status_code == 206
    want = body[sl]
    assert r.raw_bytes == want
    start = sl.start if sl.start is None or sl.start >= 0 else \
        len(body) + sl.start
    start = start or 0
    assert r.headers["Content-Range"] == "bytes %d-%d/%d" % (
        start, start + len(want) - 1, len(body))
    assert r.headers["Accept-Ranges"] == "bytes"


def test_range_past_the_end_416(srv):
    url = srv.export().items()[0]["url"]
    n = len(srv.file(url))
    r = fetch(url, "identity", {"Range": "bytes=%d-%d" % (n, n + 10)})
    outcome(r, 416)
    assert r.headers["Content-Range"] == "bytes */%d" % n


def test_if_none_match_304(srv):
    url = srv.export().items()[0]["url"]
    for enc in ("identity", "gzip", "zstd"):
        first = fetch(url, enc)
        etag = first.headers["ETag"]
        r = fetch(url, enc, {"If-None-Match": etag})
        assert r.status_code == 304, enc
        assert r.raw_bytes == b""
        assert r.headers["ETag"] == etag
    # Another representation's tag does not match this one.
    gz_tag = fetch(url, "gzip").headers["ETag"]
    assert fetch(url, "identity", {"If-None-Match": gz_tag}).status_code \
        == 200


def _females(s):
    return {i for i, r in s.live("Patient").items()
            if r.get("gender") == "female"}


TYPE_FILTERS = [
    ("Patient", "Patient?gender=female",
     lambda r: r.get("gender") == "female"),
    ("Patient", "Patient?birthdate=lt1970",
     lambda r: r["birthDate"] < "1970-01-01"),
    ("Patient", "Patient?gender=male&birthdate=ge1990-06-15",
     lambda r: r["gender"] == "male" and r["birthDate"] >= "1990-06-15"),
    ("Patient", "Patient?identifier=100000007,100000013",
     lambda r: any(i.get("value") in ("100000007", "100000013")
                   for i in r.get("identifier", []))),
    ("Patient", "Patient?family=ma",
     lambda r: any(n.get("family", "").lower().startswith("ma")
                   for n in r.get("name", []))),
    ("Coverage", "Coverage?status=active",
     lambda r: r["status"] == "active"),
    ("Coverage", "Coverage?status=active,cancelled",
     lambda r: r["status"] in ("active", "cancelled")),
    ("Coverage", "Coverage?status:not=active",
     lambda r: r["status"] != "active"),
    ("Coverage", "Coverage?class-value=NHC0001",
     lambda r: any(c.get("value") == "NHC0001" for c in r.get("class", []))),
    ("Claim", "Claim?created=ge2026-01-17",
     lambda r: r["created"] >= "2026-01-17"),
    ("Claim", "Claim?created=lt2025-06-01",
     lambda r: r["created"] < "2025-06-01"),
    ("ClaimResponse", "ClaimResponse?outcome=partial,error",
     lambda r: r["outcome"] in ("partial", "error")),
    ("Group", "Group?identifier=100000070",
     lambda r: any(i.get("value") == "100000070"
                   for i in r.get("identifier", []))),
    ("Group", "Group?_id=e2e-group,nope", lambda r: r["id"] == "e2e-group"),
    ("Practitioner", "Practitioner?_lastUpdated=ge2026-01-01",
     lambda r: r["meta"]["lastUpdated"] >= "2026-01-01"),
]


@pytest.mark.parametrize("type_,flt,pred", TYPE_FILTERS,
                         ids=[f for _, f, _ in TYPE_FILTERS])
def test_type_filter_matches_python(srv, type_, flt, pred):
    e = srv.export(params={"_type": type_, "_typeFilter": flt})
    got = set(e.resources().get(type_, {}))
    want = {i for i, r in srv.live(type_).items() if pred(r)}
    assert want and want != set(srv.live(type_)), "filter must select"
    assert got == want


def test_type_filter_by_reference(srv):
    pid = sorted(srv.live("Patient"))[7]
    e = srv.export(params={"_type": "Claim,Coverage", "_typeFilter":
                           "Claim?patient=Patient/%s" % pid})
    got = e.resources()
    want = {i for i, r in srv.live("Claim").items() if patient_of(r) == pid}
    assert set(got.get("Claim", {})) == want
    # Coverage is not filtered.
    assert set(got["Coverage"]) == set(srv.live("Coverage"))


def test_two_type_filters_for_one_type_are_ored(srv):
    e = srv.export(params=[("_type", "Patient,ClaimResponse"),
                           ("_typeFilter", "Patient?gender=female"),
                           ("_typeFilter", "Patient?birthdate=lt1960")])
    got = e.resources()
    want = {i for i, r in srv.live("Patient").items()
            if r["gender"] == "female" or r["birthDate"] < "1960-01-01"}
    assert set(got["Patient"]) == want
    assert want - _females(srv)
    assert set(got["ClaimResponse"]) == set(srv.live("ClaimResponse"))


def test_two_type_filters_in_one_value(srv):
    e = srv.export(params={"_type": "Patient,Coverage", "_typeFilter":
                           "Patient?gender=female,Coverage?status=draft"})
    got = e.resources()
    assert set(got["Patient"]) == _females(srv)
    assert set(got["Coverage"]) == {i for i, r in
                                    srv.live("Coverage").items()
                                    if r["status"] == "draft"}


def test_elements_id_gender_on_patient(srv):
    e = srv.export(params={"_type": "Patient", "_elements": "id,gender"})
    got = e.resources()["Patient"]
    assert set(got) == set(srv.live("Patient"))
    for i, r in got.items():
        assert set(r) == {"resourceType", "id", "meta", "gender"}, r
        assert r["gender"] == srv.data["Patient"][i]["gender"]
        assert SUBSETTED in r["meta"]["tag"]
        assert r["meta"]["lastUpdated"] == \
            srv.data["Patient"][i]["meta"]["lastUpdated"]


def test_group_export_is_members_compartment_group_and_context(srv):
    gid = family_group(srv)
    group = srv.data["Group"][gid]
    members = {m["entity"]["reference"][8:] for m in group["member"]}
    e = srv.export("/Group/%s/$export" % gid)
    got = e.resources()
    want = {"Group": {gid}}
    for t in COMPARTMENT:
        want[t] = {i for i, r in srv.live(t).items()
                   if patient_of(r) in members}
    exported = [group] + [srv.data[t][i] for t in COMPARTMENT
                          for i in want[t]]
    for t in CONTEXT:
        want[t] = set().union(*(refs(r, t) for r in exported)) & \
            set(srv.live(t))
    # EXP-P-IA-5: the Provenance of the exported compartment rows comes
    # along without includeAssociatedData.
    want["Provenance"] = provenance_of(srv, {
        "%s/%s" % (t, i) for t in COMPARTMENT for i in want[t]})
    want = {t: v for t, v in want.items() if v}
    assert {t: set(v) for t, v in got.items()} == want


def test_group_export_includes_what_the_group_references(srv):
    e = srv.export("/Group/%s/$export" % srv.crafted["group"])
    got = e.resources()
    assert set(got["Patient"]) == set(srv.crafted["members"])
    assert srv.crafted["manager"] in got.get("Organization", {})


def test_group_export_with_since_lists_member_tombstones(srv):
    e = srv.export("/Group/%s/$export" % srv.crafted["g4"],
                   params={"_since": AFTER_DATA})
    assert e.manifest["output"] == []
    gone = set()
    for line in e.lines("deleted")["Bundle"]:
        for entry in json.loads(line)["entry"]:
            gone.add(tuple(entry["request"]["url"].split("/")))
    assert gone == srv.crafted["g4_tomb"]


def test_since_deleted_follows_type(srv):
    e = srv.export(params={"_type": "Patient", "_since": AFTER_DATA})
    urls = [json.loads(l)["entry"][0]["request"]["url"]
            for l in e.lines("deleted")["Bundle"]]
    assert sorted(urls) == sorted("%s/%s" % t for t in srv.tomb
                                  if t[0] == "Patient")
    e = srv.export(params={"_since": AFTER_DATA})
    urls = [en["request"]["url"] for l in e.lines("deleted")["Bundle"]
            for en in json.loads(l)["entry"]]
    assert sorted(urls) == sorted("%s/%s" % t for t in srv.tomb)
    assert e.manifest["output"] == []


def test_transaction_time_ignores_writers_in_other_databases(srv, pg_admin):
    conn = psycopg2.connect(pg_admin)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_current_xact_id(), now()")
            foreign_start = cur.fetchone()[1]
            e = srv.export(params={"_type": "Medication"}, cache=False)
    finally:
        conn.rollback()
        conn.close()
    tt = datetime.fromisoformat(e.manifest["transactionTime"].replace(
        "Z", "+00:00"))
    assert tt > foreign_start


def test_patient_level_excludes_other_types(srv):
    e = srv.export("/Patient/$export")
    types = {i["type"] for i in e.items()}
    assert types == set(COMPARTMENT) | set(CONTEXT) | {"Group",
                                                        "Provenance"}
    for t in ("InsurancePlan", "Medication", "ActivityDefinition"):
        assert t not in types
    got = e.resources()
    for t in COMPARTMENT:
        assert set(got[t]) == set(srv.live(t)), t
    # EXP-P-IA-5: every Provenance that targets a compartment row.
    assert set(got["Provenance"]) == provenance_of(srv, {
        "%s/%s" % (t, i) for t in COMPARTMENT for i in srv.live(t)})
    outcome(srv.kickoff("/Patient/$export", {"_type": "Medication"}), 400,
            "not-supported")


def test_post_patient_list_narrows(srv):
    pids = sorted(srv.live("Patient"))[10:12]
    e = srv.export("/Patient/$export", body=parameters(
        *[("patient", "Patient/" + p) for p in pids]))
    got = e.resources()
    assert set(got["Patient"]) == set(pids)
    for t in COMPARTMENT[1:]:
        assert set(got.get(t, {})) == {i for i, r in srv.live(t).items()
                                       if patient_of(r) in pids}, t
    assert "Group" not in got
    exported = [r for t in COMPARTMENT for r in got.get(t, {}).values()]
    for t in CONTEXT:
        assert set(got.get(t, {})) <= set().union(
            *(refs(r, t) for r in exported))


def test_post_patient_list_within_a_group(srv):
    gid = family_group(srv)
    members = sorted(m["entity"]["reference"][8:]
                     for m in srv.data["Group"][gid]["member"])
    e = srv.export("/Group/%s/$export" % gid, body=parameters(
        ("patient", "Patient/" + members[0])))
    got = e.resources()
    assert set(got["Patient"]) == {members[0]}
    for t in COMPARTMENT[1:]:
        for r in got.get(t, {}).values():
            assert patient_of(r) == members[0]


def test_separate_export_status(srv):
    k = srv.kickoff(params={"_type": "Medication"}, headers={
        "Prefer": "respond-async, separate-export-status"})
    assert k.status_code == 202
    applied = [t.strip() for t in k.headers["Preference-Applied"].split(",")]
    assert "respond-async" in applied and "separate-export-status" in applied
    r = poll(k.headers["Content-Location"])
    assert r.status_code == 200
    assert r.headers["X-Export-Status"] == "200 OK"
    assert r.headers["Content-Type"].startswith("application/json")
    assert [i["type"] for i in r.json()["output"]] == ["Medication"]
    assert "Expires" in r.headers


def test_organize_output_by_patient(srv):
    e = srv.export("/Patient/$export", params={"organizeOutputBy": "Patient"})
    m = e.manifest
    assert m["outputOrganizedBy"] == "Patient"
    seen, rows = {}, set()
    for n, item in enumerate(m["output"]):
        assert "type" not in item
        lines = srv.file(item["url"]).decode().splitlines()
        assert len(lines) == item["count"]
        # files roll only between blocks, after FILE_RESOURCES lines
        assert json.loads(lines[0])["resourceType"] == "Parameters"
        current = None
        for line in lines:
            r = json.loads(line)
            if r["resourceType"] == "Parameters":
                current = r["parameter"][0]["valueReference"]["reference"]
                current = current[len("Patient/"):]
                assert current not in seen, "a block split or repeated"
                seen[current] = n
                continue
            assert patient_of(r) == current
            if r["resourceType"] == "Patient":
                assert r["id"] == current
            rows.add((r["resourceType"], r["id"]))
    want = {(t, i) for t in COMPARTMENT for i in srv.live(t)}
    assert rows == want
    # a block per patient with data (a deleted patient's live Claims
    # still make a block, without its Patient)
    assert set(seen) == {patient_of(srv.data[t][i]) for t, i in want}
    assert len(m["output"]) > 1


@pytest.mark.parametrize("path", ["/$export", "/Patient/$export"])
def test_organize_output_by_other_than_patient_400(srv, path):
    outcome(srv.kickoff(path, {"organizeOutputBy": "Coverage"}), 400,
            "not-supported")


# ---- bad input -------------------------------------------------------------

@pytest.mark.parametrize("prefer", ["respond-async", LENIENT])
@pytest.mark.parametrize("since", [
    "2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00Z",
    "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+00:00 ", "",
    "2026-00-10T00:00:00Z", "2026-01-01T24:00:00Z", "1767225600"])
def test_malformed_since_400(srv, prefer, since):
    issue = outcome(srv.kickoff(params={"_since": since},
                                headers={"Prefer": prefer}), 400, "invalid")
    assert "_since" in issue["diagnostics"]


@pytest.mark.parametrize("since", [
    "2026-02-30T00:00:00Z", "2026-04-31T12:00:00Z", "2025-02-29T00:00:00Z",
    "2026-01-01T00:00:61Z", "2026-01-01T00:00:00+25:00",
    "2026-01-01T00:00:00+13:99"])
def test_impossible_since_400(srv, since):
    r = srv.kickoff(params={"_type": "Medication", "_since": since})
    if r.status_code == 202:
        requests.delete(r.headers["Content-Location"], timeout=30)
    outcome(r, 400, "invalid")


def test_malformed_until_400(srv):
    outcome(srv.kickoff(params={"_until": "2026-01-01T25:00:00Z"}), 400,
            "invalid")


def test_unknown_type_400(srv):
    issue = outcome(srv.kickoff(params={"_type": "Patient,Unicorn"}), 400,
                    "not-supported")
    assert "Unicorn" in issue["diagnostics"]


def test_unknown_type_lenient_reported_in_error_file(srv):
    e = srv.export(params={"_type": "Patient,Unicorn"},
                   headers={"Prefer": LENIENT})
    assert "handling=lenient" in e.kickoff.headers["Preference-Applied"]
    assert {i["type"] for i in e.items()} == {"Patient"}
    errors = e.lines("error")["OperationOutcome"]
    assert len(errors) == 1
    oo = json.loads(errors[0])
    assert oo["resourceType"] == "OperationOutcome"
    assert oo["issue"][0]["severity"] == "warning"
    assert "Unicorn" in oo["issue"][0]["diagnostics"]


def test_type_filter_unknown_parameter_400(srv):
    issue = outcome(srv.kickoff(params={"_typeFilter":
                                        "Patient?shoesize=42"}), 400,
                    "not-supported")
    assert "shoesize" in issue["diagnostics"]


@pytest.mark.parametrize("flt", [
    "Patient", "?gender=male", "Patient?gender", "Patient?=male",
    "Patient?birthdate=notadate", "Patient?gender:exact=male",
    "Patient?_sort=gender", "Patient?general-practitioner.name=x",
    "Patient?family=%zz", "Unicorn?x=y"])
def test_type_filter_broken_syntax_400(srv, flt):
    outcome(srv.kickoff(params={"_typeFilter": flt}), 400)


def test_patient_at_system_level_400(srv):
    pid = sorted(srv.live("Patient"))[0]
    issue = outcome(srv.kickoff(body=parameters(("patient",
                                                 "Patient/" + pid))), 400)
    assert "patient" in issue["diagnostics"]


def test_patient_in_get_query_400(srv):
    pid = sorted(srv.live("Patient"))[0]
    outcome(srv.kickoff("/Patient/$export", {"patient": "Patient/" + pid}),
            400)


def test_unknown_patient_400(srv):
    issue = outcome(srv.kickoff("/Patient/$export", body=parameters(
        ("patient", "Patient/no-such-one"))), 400, "invalid")
    assert "no-such-one" in issue["diagnostics"]


def test_group_does_not_exist_404(srv):
    outcome(srv.kickoff("/Group/no-such-group/$export"), 404, "not-found")
    # a Patient id is not a Group id
    pid = sorted(srv.live("Patient"))[0]
    outcome(srv.kickoff("/Group/%s/$export" % pid), 404, "not-found")
    # nor is a deleted Group
    outcome(srv.kickoff("/Group/%s/$export" % srv.crafted["deleted_group"]),
            404, "not-found")


@pytest.mark.parametrize("body", [
    {"resourceType": "Patient", "id": "x"},
    {"parameter": [{"name": "_type", "valueString": "Patient"}]},
    {"resourceType": "Parameters", "parameter": {"name": "_type"}},
    {"resourceType": "Parameters", "parameter": [{"valueString": "x"}]},
    {"resourceType": "Parameters", "parameter": [{"name": "_type"}]},
    [1, 2, 3]])
def test_post_body_not_parameters_400(srv, body):
    outcome(srv.kickoff(body=body), 400, "invalid")


@pytest.mark.parametrize("body", [b"not json", b"{\"resourceType\":",
                                  b"\xff\xfe{}"])
def test_post_body_not_json_400(srv, body):
    outcome(srv.kickoff(body=body), 400)


def test_post_body_over_limit_413(db, start_server):
    s = start_server(db, role="serve",
                     extra_env={"BULKHEAD_HTTP_MAX_BODY": "4096"})
    body = json.dumps(parameters(*[("_type", "Patient")] * 300)).encode()
    assert len(body) > 10000
    r = requests.post(s.fhir + "/$export", data=body, timeout=30,
                      headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON,
                               "Prefer": "respond-async"})
    outcome(r, 413)
    # chunked, so the server cannot refuse from Content-Length alone
    r = requests.post(s.fhir + "/$export", data=iter([body[:5000],
                                                      body[5000:]]),
                      timeout=30, headers={"Content-Type": FHIR_JSON,
                                           "Accept": FHIR_JSON,
                                           "Prefer": "respond-async"})
    outcome(r, 413)
    # and below the limit the same server takes it
    small = json.dumps(parameters(("_type", "Patient"))).encode()
    r = requests.post(s.fhir + "/$export", data=small, timeout=30,
                      headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON,
                               "Prefer": "respond-async"})
    assert r.status_code == 202, r.text


def test_download_url_of_another_job_404(srv):
    a = srv.export(params={"_type": "Medication"})
    b = srv.export(params={"_type": "InsurancePlan"})
    name = a.items()[0]["url"].rsplit("/", 1)[1]
    r = fetch("%s/_jobs/%s/files/%s" % (srv.fhir, b.id, name))
    outcome(r, 404, "not-found")
    assert fetch(a.items()[0]["url"]).status_code == 200


@pytest.mark.parametrize("name", [
    "..", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "%2F..%2Fx",
    "..%2F%s%2FMedication-0001.ndjson.zst", "Medication-0001.ndjson.zst%2F",
    ".", "%00", "Medication-0001.ndjson", "Medication-0001.ndjson.zst.tmp"])
def test_download_names_with_traversal_404(srv, name):
    e = srv.export(params={"_type": "Medication"})
    name = name.replace("%s", e.id)
    st, h, body = raw(srv.port, "GET", "/fhir/_jobs/%s/files/%s" %
                      (e.id, name), [("Accept-Encoding", "identity")])
    assert st == 404, (name, st, body[:200])
    assert json.loads(body)["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("job", ["0" * 32, "f" * 32, "not-a-job", "x" * 500,
                                 "%2e%2e", "../metadata"])
def test_unknown_job_id_404(srv, job):
    for method in ("GET", "DELETE"):
        st, h, body = raw(srv.port, method, "/fhir/_jobs/" + job)
        assert st == 404, (method, job, st, body[:200])
        assert json.loads(body)["resourceType"] == "OperationOutcome"


def test_format_parameter_is_not_an_unknown_export_parameter(srv):
    k = srv.kickoff(params={"_type": "Medication", "_format": "json"})
    assert k.status_code == 202, k.text
    poll(k.headers["Content-Location"])


# ---- servers of their own --------------------------------------------------

def test_delete_while_running(bulkhead_bin, db, start_server, tmp_path):
    gen = tmp_path / "gen"
    cli(bulkhead_bin, None, "generate", "--families", "150", "--seed", "5",
        "--out", str(gen), "--today", TODAY)
    s = start_server(db, extra_env={"BULKHEAD_EXPORT_FILE_RESOURCES": "1"})
    cli(bulkhead_bin, db, "load", str(gen))
    k = requests.get(s.fhir + "/$export", timeout=30,
                     headers={"Prefer": "respond-async", "Accept": FHIR_JSON})
    assert k.status_code == 202
    url = k.headers["Content-Location"]
    job = JOB_URL.match(url).group(2)
    jobdir = os.path.join(s.env["BULKHEAD_DATA_DIR"], "jobs", job)
    # Wait until it has written some files, then cancel it.
    deadline = time.monotonic() + 60
    while True:
        n = db.scalar("SELECT count(*) FROM job_outputs WHERE job_id = %s",
                      [job])
        if n >= 5:
            break
        assert time.monotonic() < deadline, "the export never started"
        time.sleep(0.05)
    r = requests.delete(url, timeout=30)
    assert r.status_code == 202, r.text
    assert db.scalar("SELECT state FROM jobs WHERE id = %s", [job]) in (
        "cancelling", "cancelled"), "the job was not running at DELETE"
    outcome(requests.get(url, timeout=30), 404, "not-found")
    deadline = time.monotonic() + 60
    while db.scalar("SELECT state FROM jobs WHERE id = %s", [job]) != \
            "cancelled" or os.path.exists(jobdir):
        assert time.monotonic() < deadline, (
            db.scalar("SELECT state FROM jobs WHERE id = %s", [job]),
            os.listdir(jobdir) if os.path.exists(jobdir) else None)
        time.sleep(0.1)
    outcome(requests.get(url, timeout=30), 404, "not-found")
    outcome(requests.delete(url, timeout=30), 404, "not-found")
    name = db.scalar("SELECT file FROM job_outputs WHERE job_id = %s "
                     "ORDER BY seq LIMIT 1", [job])
    if name is not None:
        outcome(fetch("%s/_jobs/%s/files/%s" % (s.fhir, job,
                                                name.rsplit("/", 1)[1])),
                404)


def test_429_over_the_per_client_limit(db, start_server):
    s = start_server(db, role="serve",
                     extra_env={"BULKHEAD_EXPORT_MAX_PER_CLIENT": "1"})
    h = {"Prefer": "respond-async", "Accept": FHIR_JSON}
    first = requests.get(s.fhir + "/$export", headers=h, timeout=30)
    assert first.status_code == 202
    # no worker: it stays queued
    st = requests.get(first.headers["Content-Location"], timeout=30)
    assert st.status_code == 202 and st.headers["X-Progress"] == "queued"
    r = requests.get(s.fhir + "/Patient/$export", headers=h, timeout=30)
    outcome(r, 429, "throttled")
    assert int(r.headers["Retry-After"]) > 0
    r = requests.post(s.fhir + "/$export", headers=dict(
        h, **{"Content-Type": FHIR_JSON}), timeout=30,
        data=json.dumps(parameters(("_type", "Patient"))))
    outcome(r, 429, "throttled")
    # the limit counts this client's exports only
    other = requests.get(s.fhir + "/$export", timeout=30, headers=dict(
        h, Authorization="Bearer " + s.token("another-client")))
    assert other.status_code == 202
    # and frees up when the first is cancelled
    assert requests.delete(first.headers["Content-Location"],
                           timeout=30).status_code == 202
    assert requests.get(s.fhir + "/$export", headers=h,
                        timeout=30).status_code == 202


def test_files_removed_after_retention(bulkhead_bin, db, start_server,
                                      tmp_path):
    gen = tmp_path / "gen"
    cli(bulkhead_bin, None, "generate", "--families", "2", "--seed", "3",
        "--out", str(gen), "--today", TODAY)
    s = start_server(db, extra_env={"BULKHEAD_EXPORT_RETENTION": "1"})
    cli(bulkhead_bin, db, "load", str(gen))
    k = requests.get(s.fhir + "/$export", timeout=30, headers={
        "Accept": FHIR_JSON, "Prefer": "respond-async"})
    assert k.status_code == 202
    done = poll(k.headers["Content-Location"])
    assert done.status_code == 200
    url = done.json()["output"][0]["url"]
    job = JOB_URL.match(k.headers["Content-Location"]).group(2)
    jobdir = os.path.join(s.env["BULKHEAD_DATA_DIR"], "jobs", job)
    # Expires is a second after completion; then the house-keeping job
    # (the built-in schedule runs it every 10 minutes) removes the files.
    time.sleep(1.5)
    db.query("INSERT INTO jobs (kind, params) VALUES ('housekeeping', '{}')")
    deadline = time.monotonic() + 30
    while os.path.exists(jobdir) or fetch(url).status_code != 404:
        assert time.monotonic() < deadline, "files kept past Expires"
        time.sleep(0.5)
    # Another process (a worker) changed the job: the API's status cache
    # follows within its TTL (export_cache.h), not at once.
    deadline = time.monotonic() + 10
    while True:
        r = requests.get(k.headers["Content-Location"], timeout=30)
        if r.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    outcome(r, 404, "not-found")


def test_status_cache_across_api_processes(db, start_server):
    """Two API processes on one database, each caching status answers:
    a DELETE through one is seen by that one at once (it drops its own
    answer) and by the other within the cache's TTL; a foreign job (not a
    bulk kind) stays 404 on both."""
    a = start_server(db, role="serve")
    b = start_server(db, role="serve")
    k = requests.get(a.fhir + "/$export", timeout=30,
                     headers={"Prefer": "respond-async", "Accept": FHIR_JSON})
    assert k.status_code == 202
    path = "/fhir/_jobs/" + JOB_URL.match(
        k.headers["Content-Location"]).group(2)
    # No worker: the job stays queued; both processes now cache it.
    for _ in range(5):
        for s in (a, b):
            r = requests.get(s.base + path, timeout=30)
            assert r.status_code == 202 and r.headers["X-Progress"] == \
                "queued", (r.status_code, r.text)
    assert requests.delete(a.base + path, timeout=30).status_code == 202
    outcome(requests.get(a.base + path, timeout=30), 404, "not-found")
    deadline = time.monotonic() + 10
    while True:
        r = requests.get(b.base + path, timeout=30)
        if r.status_code != 202 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    outcome(r, 404, "not-found")
    noop = db.scalar("INSERT INTO jobs (kind, params) VALUES ('noop', "
                     "'{}') RETURNING id")
    for s in (a, b):
        for _ in range(3):
            outcome(requests.get(s.fhir + "/_jobs/" + noop, timeout=30),
                    404, "not-found")


def test_progress_counts_heap_pages(srv):
    """The worker reports progress as heap pages read out of the pages
    its plan reads (Retry-After follows the work, not the step count)."""
    d = srv.export(params={"_type": "Patient,Claim"}, cache=False)
    assert d.final.status_code == 200
    p = srv.db.scalar("SELECT progress FROM jobs WHERE id = %s", [d.id])
    if isinstance(p, str):
        p = json.loads(p)
    assert p["pages"] >= p["steps"] >= 2, p
    assert 0 < p["pages_done"] <= p["pages"], p


def test_per_client_limit_holds_under_concurrent_kickoffs(db, start_server):
    import concurrent.futures
    s = start_server(db, role="serve",
                     extra_env={"BULKHEAD_EXPORT_MAX_PER_CLIENT": "1",
                                "BULKHEAD_HTTP_THREADS": "8"})
    over = []
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for round_ in range(30):
            h = {"Authorization": "Bearer " + s.token("race-%d" % round_),
                 "Accept": FHIR_JSON, "Prefer": "respond-async"}
            codes = list(pool.map(lambda _: requests.get(
                s.fhir + "/$export", headers=h, timeout=30).status_code,
                range(8)))
            assert set(codes) <= {202, 429}
            if codes.count(202) > 1:
                over.append(codes)
    assert over == []


def test_failed_export_status_hides_database_errors(bulkhead_bin, db,
                                                    start_server, tmp_path):
    gen = tmp_path / "gen"
    cli(bulkhead_bin, None, "generate", "--families", "2", "--seed", "3",
        "--out", str(gen), "--today", TODAY)
    s = start_server(db, role="serve")
    cli(bulkhead_bin, db, "load", str(gen))
    gid = read_ndjson(gen / "Group.ndjson")[0]["id"]
    k = requests.get(s.fhir + "/Group/%s/$export" % gid, timeout=30,
                     headers={"Accept": FHIR_JSON, "Prefer": "respond-async"})
    assert k.status_code == 202, k.text
    job = JOB_URL.match(k.headers["Content-Location"]).group(2)
    # One attempt (so no retries to wait for), and a database failure in
    # the worker: a table it needs is hidden.
    db.query("UPDATE jobs SET max_attempts = 1 WHERE id = %s", [job])
    db.query("ALTER TABLE job_patients RENAME TO job_patients_hidden")
    start_server(db, role="worker", wait=False)
    r = poll(k.headers["Content-Location"])
    issue = outcome(r, 500)
    assert "job_patients" not in issue["diagnostics"]
    assert "ERROR" not in issue["diagnostics"]


def test_job_max_attempts_applies_to_exports(db, start_server):
    s = start_server(db, role="serve",
                     extra_env={"BULKHEAD_JOB_MAX_ATTEMPTS": "2"})
    k = requests.get(s.fhir + "/$export", timeout=30, headers={
        "Accept": FHIR_JSON, "Prefer": "respond-async"})
    assert k.status_code == 202
    job = JOB_URL.match(k.headers["Content-Location"]).group(2)
    assert db.scalar("SELECT max_attempts FROM jobs WHERE id = %s",
                     [job]) == 2


@pytest.mark.parametrize("target", [
    "/$export", "/Patient/$export?organizeOutputBy=Patient"])
def test_export_resumes_after_its_worker_is_killed(bulkhead_bin, db,
                                                   start_server, tmp_path,
                                                   target):
    """A worker killed mid-export: another takes the job over when the
    lease expires and resumes after the last recorded file, so the files
    hold every resource exactly once (PP-04)."""
    gen = tmp_path / "gen"
    cli(bulkhead_bin, None, "generate", "--families", "80", "--seed", "8",
        "--out", str(gen), "--today", TODAY)
    env = {"BULKHEAD_JOB_LEASE": "5", "BULKHEAD_JOB_HEARTBEAT": "1",
           "BULKHEAD_EXPORT_FILE_RESOURCES": "2"}
    api = start_server(db, role="serve", extra_env=env)
    cli(bulkhead_bin, db, "load", str(gen))
    w1 = start_server(db, role="worker", extra_env=env, wait=False)
    k = requests.get(api.fhir + target, timeout=30, headers={
        "Accept": FHIR_JSON, "Prefer": "respond-async"})
    assert k.status_code == 202
    job = JOB_URL.match(k.headers["Content-Location"]).group(2)
    deadline = time.monotonic() + 60
    while db.scalar("SELECT count(*) FROM job_outputs WHERE job_id = %s",
                    [job]) < 30:
        assert time.monotonic() < deadline, "the export never started"
        time.sleep(0.02)
    w1.proc.kill()
    w1.proc.wait()
    assert db.scalar("SELECT state FROM jobs WHERE id = %s", [job]) == \
        "running", "the job ended before the worker was killed"
    start_server(db, role="worker", extra_env=env, wait=False)
    done = poll(k.headers["Content-Location"], timeout=120)
    assert done.status_code == 200, done.text
    assert db.scalar("SELECT attempts FROM jobs WHERE id = %s", [job]) == 2
    m = done.json()
    seen, headers = {}, set()
    for item in m["output"]:
        lines = fetch(item["url"]).raw_bytes.decode().splitlines()
        assert len(lines) == item["count"]
        for line in lines:
            r = json.loads(line)
            if r["resourceType"] == "Parameters":
                ref = r["parameter"][0]["valueReference"]["reference"]
                assert ref not in headers, "block exported twice: " + ref
                headers.add(ref)
                continue
            key = (r["resourceType"], r["id"])
            assert key not in seen, "exported twice: %s/%s" % key
            seen[key] = line
    tt = m["transactionTime"]
    where = "" if target == "/$export" else \
        " AND type IN ('Patient', 'Coverage', 'Claim', 'ClaimResponse')"
    rows = db.query("SELECT type, id, content FROM resources WHERE NOT "
                    "deleted AND last_updated <= %s" + where, [tt])
    assert seen == {(t, i): c for t, i, c in rows}
    names = [i["url"].rsplit("/", 1)[1] for i in m["output"]]
    assert len(names) == len(set(names))
    on_disk = set(os.listdir(os.path.join(api.env["BULKHEAD_DATA_DIR"],
                                          "jobs", job)))
    assert on_disk == set(names), "files left over from the dead attempt"
