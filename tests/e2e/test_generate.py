"""'bulkhead generate': the deterministic openIMIS-shaped NDJSON dataset.

Runs the real binary (no database needed) and checks the files: byte-level
determinism, compact one-resource-per-line JSON, resolvable references,
family/policy/claim proportions, the claims' Provenance, and policies due
for renewal in every 14-day window of the coming year.  One test loads a
small dataset into a store and exports the claims with their Provenance
(includeAssociatedData), which needs the test cluster.
"""
import datetime
import json
import os
import re
import subprocess
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TYPES = [
    "Location", "Organization", "Practitioner", "InsurancePlan",
    "Medication", "ActivityDefinition", "Group", "Patient", "Coverage",
    "Claim", "ClaimResponse", "Provenance",
]
FAMILIES = 1500
TODAY = datetime.date(2026, 11, 20)
IG = "https://openimis.github.io/openimis_fhir_r4_ig/"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                     r"-[0-9a-f]{12}$")
INSTANT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")


@pytest.fixture(scope="module")
def gen_bin(request):
    """The binary: conftest's bulkhead_bin, else BULKHEAD_BIN or build/."""
    try:
        return request.getfixturevalue("bulkhead_bin")
    except pytest.FixtureLookupError:
        path = os.environ.get("BULKHEAD_BIN",
                              os.path.join(ROOT, "build", "bulkhead"))
        assert os.access(path, os.X_OK), "build the binary first: " + path
        return path


def generate(binary, out, *args, families=FAMILIES, seed=42, today=TODAY):
    cmd = [binary, "generate", "--families", str(families), "--seed",
           str(seed), "--out", str(out)]
    if today is not None:
        cmd += ["--today", today.isoformat()]
    p = subprocess.run(cmd + list(args), capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return p


def read_bytes(out):
    return {t: (out / (t + ".ndjson")).read_bytes() for t in TYPES}


@pytest.fixture(scope="module")
def dataset(gen_bin, tmp_path_factory):
    """One --families 1500 dataset, parsed: {type: [resource, ...]}."""
    out = tmp_path_factory.mktemp("gen") / "nested" / "dir"
    p = generate(gen_bin, out)
    raw = read_bytes(out)
    data = {}
    for t in TYPES:
        text = raw[t].decode("utf-8")
        assert text.endswith("\n") and "\r" not in text
        data[t] = [json.loads(line) for line in text.split("\n")[:-1]]
    return {"out": out, "raw": raw, "data": data, "stderr": p.stderr}


def walk_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                yield v
            else:
                yield from walk_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_refs(v)


def ext(res, name):
    return [e for e in res.get("extension", [])
            if e["url"] == IG + "StructureDefinition/" + name]


def ident(res, code):
    return [i["value"] for i in res["identifier"]
            if i["type"]["coding"][0]["code"] == code]


def day(s):
    return datetime.date.fromisoformat(s[:10])


def test_files_and_summary(dataset):
    names = sorted(os.listdir(dataset["out"]))
    assert names == sorted(t + ".ndjson" for t in TYPES)
    lines = dataset["stderr"].decode().strip().split("\n")
    assert len(lines) == 1
    total = sum(len(v) for v in dataset["data"].values())
    assert re.match(r"^generated [\d,]+ resources in 12 files \(.+\) "
                    r"in [\d.]+ s$", lines[0]), lines[0]
    assert "{:,}".format(total) in lines[0]


def test_deterministic(gen_bin, dataset, tmp_path):
    # Same seed: identical bytes, also with the single-process writer.
    generate(gen_bin, tmp_path / "again", "--jobs", "1")
    assert read_bytes(tmp_path / "again") == dataset["raw"]
    # Another seed: different content.
    generate(gen_bin, tmp_path / "other", seed=43)
    other = read_bytes(tmp_path / "other")
    for t in TYPES:
        assert other[t] != dataset["raw"][t], t


def test_lines_are_compact_resources(dataset):
    lo = datetime.datetime.combine(TODAY - datetime.timedelta(days=365),
                                   datetime.time())
    hi = datetime.datetime.combine(TODAY, datetime.time())
    seen = set()
    for t in TYPES:
        assert dataset["data"][t], t
        lines = dataset["raw"][t].decode().split("\n")[:-1]
        for n, (line, res) in enumerate(zip(lines, dataset["data"][t])):
            if n % 5 == 0:      # compact, canonical JSON (sampled: slow)
                assert line == json.dumps(res, separators=(",", ":"),
                                          ensure_ascii=False)
            assert next(iter(res)) == "resourceType"
            assert res["resourceType"] == t
            assert UUID_RE.match(res["id"]), res["id"]
            assert (t, res["id"]) not in seen
            seen.add((t, res["id"]))
            stamp = res["meta"]["lastUpdated"]
            assert INSTANT_RE.match(stamp), stamp
            when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
            assert lo <= when < hi, stamp


def test_references_resolve(dataset):
    ids = {t: {r["id"] for r in dataset["data"][t]} for t in TYPES}
    count = 0
    for t in TYPES:
        for res in dataset["data"][t]:
            for ref in walk_refs(res):
                rtype, _, rid = ref.partition("/")
                assert rtype in ids and rid in ids[rtype], (t, ref)
                count += 1
    assert count > 10 * FAMILIES


def test_locations_and_facilities(dataset):
    locs = {r["id"]: r for r in dataset["data"]["Location"]}
    kinds = {}
    for loc in locs.values():
        code = loc["physicalType"]["coding"][0]["code"]
        kinds[code] = kinds.get(code, 0) + 1
        assert ident(loc, "LC")
        parent = loc.get("partOf")
        if code == "R":
            assert parent is None
        else:
            up = locs[parent["reference"].split("/")[1]]
            want = {"D": "R", "W": "D", "V": "W"}[code]
            assert up["physicalType"]["coding"][0]["code"] == want
    assert set(kinds) == {"R", "D", "W", "V"}
    orgs = dataset["data"]["Organization"]
    types = [o["type"][0]["coding"][0]["code"] for o in orgs]
    assert types.count("ins") == 1 and types.count("prov") == len(orgs) - 1
    for o in orgs:
        if o["type"][0]["coding"][0]["code"] == "prov":
            assert ident(o, "LC")


def test_families(dataset):
    data = dataset["data"]
    patients = {p["id"]: p for p in data["Patient"]}
    groups = data["Group"]
    ratio = len(patients) / len(groups)
    assert 4.0 <= ratio <= 5.2, ratio
    sizes = set()
    member_of = {}
    for g in groups:
        assert g["type"] == "person" and g["actual"] is True
        members = [m["entity"]["reference"].split("/")[1] for m in g["member"]]
        assert g["quantity"] == len(members)
        sizes.add(len(members))
        heads = [m for m in members
                 if ext(patients[m], "patient-is-head")[0]["valueBoolean"]]
        assert len(heads) == 1
        assert ident(g, "Code") == ident(patients[heads[0]], "Code")
        for m in members:
            assert m not in member_of
            member_of[m] = g["id"]
        assert ext(g, "group-address") and ext(g, "group-type")
    assert member_of.keys() == patients.keys()
    assert min(sizes) == 1 and max(sizes) >= 8
    chfids = set()
    for p in patients.values():
        ref = ext(p, "patient-group-reference")[0]["valueReference"]
        assert ref["reference"] == "Group/" + member_of[p["id"]]
        chfid = ident(p, "Code")[0]
        assert re.match(r"^\d{9}$", chfid) and chfid not in chfids
        chfids.add(chfid)
        assert ident(p, "UUID") == [p["id"]]
        assert p["maritalStatus"]["coding"][0]["code"] in "MSDW"
        assert p["gender"] in ("male", "female")
        assert DATE_RE.match(p["birthDate"])
        addr = p["address"][0]
        assert len(addr["extension"]) == 2
        assert addr["city"] and addr["district"] and addr["state"]
        assert p["generalPractitioner"][0]["reference"].startswith(
            "Organization/")


def test_one_policy_per_family(dataset):
    data = dataset["data"]
    heads = {}
    for g in data["Group"]:
        for m in g["member"]:
            heads.setdefault(g["id"], m["entity"]["reference"])
            break
    head_refs = set(heads.values())
    covs = data["Coverage"]
    assert len(covs) == len(data["Group"])
    beneficiaries = [c["beneficiary"]["reference"] for c in covs]
    assert len(set(beneficiaries)) == len(covs)
    assert set(beneficiaries) == head_refs
    statuses = {}
    for c in covs:
        statuses[c["status"]] = statuses.get(c["status"], 0) + 1
        start, end = day(c["period"]["start"]), day(c["period"]["end"])
        assert 364 <= (end - start).days <= 365
        if c["status"] == "active":
            assert end >= TODAY
        if end < TODAY:
            assert c["status"] != "active"
        dates = c["extension"]
        assert dates and all(
            e["url"] == IG + "/StructureDefinition/coverage-date"
            for e in dates)
        assert c["class"][0]["value"]
        assert c["payor"][0]["reference"].startswith("Organization/")
    assert statuses["active"] > len(covs) // 2
    assert {"active", "cancelled"} <= set(statuses)


def test_renewals_due_in_every_fortnight(dataset):
    ends = sorted(day(c["period"]["end"]) for c in dataset["data"]["Coverage"]
                  if c["status"] == "active")
    for k in range(0, 365 - 14 + 1):
        lo = TODAY + datetime.timedelta(days=k)
        hi = lo + datetime.timedelta(days=14)
        assert any(lo <= e < hi for e in ends), lo


def test_claims(dataset):
    data = dataset["data"]
    covs = {c["id"]: c for c in data["Coverage"]}
    claims = {c["id"]: c for c in data["Claim"]}
    ratio = len(claims) / len(data["Patient"])
    assert 0.8 <= ratio <= 1.2, ratio
    codes = set()
    for c in claims.values():
        assert c["status"] == "active" and c["use"] == "claim"
        cov = covs[c["insurance"][0]["coverage"]["reference"].split("/")[1]]
        created = day(c["created"])
        period = cov["period"]
        assert day(period["start"]) <= created <= day(period["end"])
        assert created <= TODAY
        bp = c["billablePeriod"]
        assert day(bp["start"]) <= day(bp["end"]) <= created
        assert c["provider"]["reference"].startswith("Organization/")
        assert c["enterer"]["reference"].startswith("Practitioner/")
        assert c["diagnosis"]
        total = 0
        for it in c["item"]:
            ref = it["extension"][0]["valueReference"]["reference"]
            kind = it["category"]["text"]
            assert ref.startswith({"item": "Medication/",
                                   "service": "ActivityDefinition/"}[kind])
            total += it["quantity"]["value"] * it["unitPrice"]["value"]
        assert abs(total - c["total"]["value"]) < 0.01
        code = ident(c, "MR")[0]
        assert code not in codes
        codes.add(code)
    responses = data["ClaimResponse"]
    assert len(responses) == len(claims)
    requests = [r["request"]["reference"].split("/")[1] for r in responses]
    assert set(requests) == claims.keys()
    outcomes = set()
    for r in responses:
        claim = claims[r["request"]["reference"].split("/")[1]]
        assert r["patient"] == claim["patient"]
        assert r["status"] == "active"
        assert day(r["created"]) >= day(claim["created"])
        outcomes.add(r["outcome"])
        assert r["total"]
    assert outcomes == {"complete", "partial", "error"}


def test_provenance(dataset):
    """Who submitted each claim: its enterer for its provider, through the
    facility's software; entered on DateClaimed; some amended later (at
    the claim's lastUpdated), a few without any."""
    data = dataset["data"]
    claims = {c["id"]: c for c in data["Claim"]}
    orgs = {o["id"]: o for o in data["Organization"]}
    pracs = {p["id"]: p for p in data["Practitioner"]}
    year_ago = (TODAY - datetime.timedelta(days=365)).isoformat()
    per_claim = {}
    for p in data["Provenance"]:
        assert len(p["target"]) == 1
        ref = p["target"][0]["reference"]
        assert ref.startswith("Claim/")
        per_claim.setdefault(ref[6:], []).append(p)
        assert INSTANT_RE.match(p["recorded"])
        assert (p["meta"]["lastUpdated"] == p["recorded"] or
                p["recorded"] < year_ago), p
        agent, = p["agent"]
        assert agent["type"]["coding"][0] == {
            "system": "http://terminology.hl7.org/CodeSystem/"
                      "provenance-participant-type",
            "code": "enterer", "display": "Enterer"}
        # A claim administrator of the facility it acts for.
        org = orgs[agent["onBehalfOf"]["reference"][13:]]
        who = pracs[agent["who"]["reference"][13:]]
        assert who["name"][0] in [c["name"] for c in org["contact"]]
        entity, = p["entity"]
        assert entity["role"] == "source"
        assert entity["what"]["identifier"]["value"].startswith(
            ident(org, "LC")[0] + "-")
        assert entity["what"]["display"]
    assert set(per_claim) <= set(claims)
    sizes = [len(v) for v in per_claim.values()]
    assert set(sizes) == {1, 2}
    assert 0.85 <= len(per_claim) / len(claims) <= 0.97
    assert 0.08 <= sizes.count(2) / len(per_claim) <= 0.25
    ops = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
    for cid, provs in per_claim.items():
        claim = claims[cid]
        provs.sort(key=lambda p: p["recorded"])
        entered = provs[0]
        assert entered["activity"]["coding"][0] == {
            "system": ops, "code": "CREATE", "display": "create"}
        assert entered["agent"][0]["who"] == {
            "reference": claim["enterer"]["reference"]}
        for p in provs:
            assert p["agent"][0]["onBehalfOf"] == {
                "reference": claim["provider"]["reference"]}
        assert entered["recorded"] <= claim["meta"]["lastUpdated"]
        assert entered["recorded"][:10] in (
            claim["created"], claim["meta"]["lastUpdated"][:10])
        if len(provs) == 2:
            amended = provs[1]
            assert amended["activity"]["coding"][0]["code"] == "UPDATE"
            assert amended["recorded"] == claim["meta"]["lastUpdated"]
            assert amended["recorded"] > entered["recorded"]
            assert amended["id"] != entered["id"]


def export_files(base, params):
    """Runs a system $export to completion: {type: [resource, ...]}."""
    k = requests.get(base + "/$export", params=params, timeout=30, headers={
        "Accept": "application/fhir+json", "Prefer": "respond-async"})
    assert k.status_code == 202, k.text
    url = k.headers["Content-Location"]
    deadline = time.monotonic() + 120
    while True:
        r = requests.get(url, timeout=30)
        if r.status_code != 202 and not r.headers.get(
                "X-Export-Status", "").startswith("202"):
            break
        assert time.monotonic() < deadline, "export still running"
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    got = {}
    for item in r.json()["output"]:
        f = requests.get(item["url"], timeout=30,
                         headers={"Accept-Encoding": "identity"})
        assert f.status_code == 200, item
        lines = [json.loads(x) for x in f.text.splitlines() if x]
        assert len(lines) == item["count"]
        got.setdefault(item["type"], []).extend(lines)
    return got


def test_loaded_claims_export_with_provenance(gen_bin, db, start_server,
                                              tmp_path):
    """The demo's Provenance through the store: _type=Claim with
    LatestProvenanceResources gives each claim's newest Provenance (one
    per claim that has any), RelevantProvenanceResources all of them."""
    out = tmp_path / "gen"
    generate(gen_bin, out, families=40, seed=7)
    s = start_server(db)
    r = subprocess.run([gen_bin, "load", str(out)], capture_output=True,
                       timeout=120, env=dict(os.environ,
                                             BULKHEAD_DATABASE_URL=db.url))
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    claims = {json.loads(x)["id"]
              for x in (out / "Claim.ndjson").read_text().splitlines()}
    provs = [json.loads(x)
             for x in (out / "Provenance.ndjson").read_text().splitlines()]
    newest = {}
    for p in provs:
        cid = p["target"][0]["reference"][6:]
        if cid not in newest or p["recorded"] > newest[cid]["recorded"]:
            newest[cid] = p
    assert len(newest) < len(provs)     # some claims have two

    latest = export_files(s.fhir, {"_type": "Claim", "includeAssociatedData":
                                   "LatestProvenanceResources"})
    assert set(latest) == {"Claim", "Provenance"}
    assert {c["id"] for c in latest["Claim"]} == claims
    got = latest["Provenance"]
    targets = [p["target"][0]["reference"][6:] for p in got]
    assert len(targets) == len(set(targets)) == len(newest)
    assert {p["id"] for p in got} == {p["id"] for p in newest.values()}

    relevant = export_files(s.fhir, {"_type": "Claim",
                                     "includeAssociatedData":
                                     "RelevantProvenanceResources"})
    assert sorted(p["id"] for p in relevant["Provenance"]) == sorted(
        p["id"] for p in provs)
    assert {c["id"] for c in relevant["Claim"]} == claims


def test_default_today_and_small_run(gen_bin, tmp_path):
    generate(gen_bin, tmp_path / "one", families=1, today=None)
    patients = (tmp_path / "one" / "Patient.ndjson").read_text().splitlines()
    assert 1 <= len(patients) <= 9
    now = datetime.datetime.utcnow()
    for line in patients:
        stamp = json.loads(line)["meta"]["lastUpdated"]
        assert datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") <= now


@pytest.mark.parametrize("args,flag", [
    (["--families", "0"], "--families"),
    (["--families", "abc"], "--families"),
    (["--families", "99999999"], "--families"),
    (["--families"], "--families"),
    (["--seed", "-1"], "--seed"),
    (["--today", "2026-02-30"], "--today"),
    (["--today", "20261120"], "--today"),
    (["--jobs", "3"], "--jobs"),
    (["--bogus"], "--bogus"),
    (["extra"], "extra"),
])
def test_bad_flags(gen_bin, tmp_path, args, flag):
    cmd = [gen_bin, "generate", "--out", str(tmp_path / "x")] + args
    p = subprocess.run(cmd, capture_output=True, timeout=30)
    assert p.returncode == 2, p
    err = p.stderr.decode()
    assert err.count("\n") == 1, err
    assert err.startswith("bulkhead generate: " + flag), err
    assert not (tmp_path / "x").exists()


def test_missing_out_and_help(gen_bin):
    p = subprocess.run([gen_bin, "generate", "--families", "5"],
                       capture_output=True, timeout=30)
    assert p.returncode == 2
    assert p.stderr.decode() == "bulkhead generate: --out: required\n"
    p = subprocess.run([gen_bin, "generate", "--help"], capture_output=True,
                       timeout=30)
    assert p.returncode == 0
    assert b"--families" in p.stdout and b"--seed" in p.stdout


def test_unwritable_out(gen_bin, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = subprocess.run([gen_bin, "generate", "--families", "3", "--out",
                        str(blocker / "sub")], capture_output=True, timeout=30)
    assert p.returncode == 1
    assert p.stderr.decode().startswith("bulkhead generate: ")
