"""FHIR Bulk Data Access $export: an executable checklist.

One test per requirement of /work/shared/SPEC.md (§1.2-§1.16, §4 CMP-*,
ND-*, §5 PP-*), named by its id, against the real binary and a real
PostgreSQL.  Most tests share one 'bulkhead run' and one dataset
(conformance_env in conftest.py); the few that need a server without
workers, a failing job or a dropped database start their own.

A product bug is a test marked xfail(strict=True, reason="BUG: ...").

Every server here runs with auth = smart and every request carries the
checklist client's access token (conftest.py); the SMART requirements
themselves (AUTH-*) are test_smart_auth.py's.
"""
import gzip
import http.client
import importlib.util
import json
import os
import re
import sys
import time
import uuid
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import psycopg2
import pytest
import requests



def _helpers():
    """conformance/conftest.py as pytest loaded it (the name 'conftest' may
    belong to another directory's conftest when several are loaded)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "conftest.py")
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and os.path.abspath(f) == path:
            return mod
    spec = importlib.util.spec_from_file_location("bulkhead_conformance",
                                                  path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_h = _helpers()
FHIR_JSON, NDJSON = _h.FHIR_JSON, _h.NDJSON
admin_exec, cli, download = _h.admin_exec, _h.cli, _h.download
client_headers, NO_TOKEN = _h.client_headers, _h.NO_TOKEN
fresh_database, identity_bytes = _h.fresh_database, _h.identity_bytes
is_outcome, poll, raw_bytes = _h.is_outcome, _h.poll, _h.raw_bytes
read_ndjson, running = _h.read_ndjson, _h.running

OPENIMIS_TYPES = {"Location", "Organization", "Practitioner", "InsurancePlan",
                  "Medication", "ActivityDefinition", "Patient", "Group",
                  "Coverage", "Claim", "ClaimResponse"}
COMPARTMENT = {"Patient", "Coverage", "Claim", "ClaimResponse"}
CONTEXT = {"Organization", "Practitioner", "Location"}
JOB_URL = re.compile(r"^(https?://[^/]+/fhir)/_jobs/([0-9a-f]{32})$")
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?"
                     r"(Z|[+-]\d{2}:\d{2})$")
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/"
             "v3-ObservationValue", "code": "SUBSETTED"}
TRANSIENT = {"transient", "lock-error", "no-store", "exception", "timeout",
             "incomplete", "throttled"}


@pytest.fixture(scope="module")
def env(conformance_env):
    return conformance_env


def parse_instant(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def iso(ts):
    """A timestamptz from psycopg2 as a FHIR instant in UTC."""
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def live_until(env, tt, where="true", args=None):
    """(type, id) of live rows with last_updated <= tt."""
    return env.store_ids("last_updated <= %%s AND (%s)" % where,
                         [tt] + list(args or []))


def patient_of(r):
    if r["resourceType"] == "Patient":
        return r["id"]
    ref = (r.get("beneficiary") if r["resourceType"] == "Coverage"
           else r.get("patient")) or {}
    return ref.get("reference", "")[len("Patient/"):]


def warnings_text(export):
    lines = export.lines("error").get("OperationOutcome", [])
    return [json.loads(line) for line in lines]


def raw(server, method, target, headers=(), body=None):
    """A request with headers sent exactly as given, repeats included,
    plus the checklist client's token unless headers hold one."""
    headers = list(headers)
    if not any(k.lower() == "authorization" for k, _ in headers):
        headers += list(client_headers(server).items())
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        hdrs = {}
        for k, v in resp.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        return resp.status, hdrs, resp.read()
    finally:
        conn.close()


def family_group(env):
    """A generated family Group (all members active)."""
    return sorted(i for t, i in env.store_ids("type = 'Group'")
                  if i != env.crafted["group"])[0]


@pytest.fixture(scope="module")
def idle(bh_bin, bh_pg, tmp_path_factory):
    """'bulkhead serve' without any worker: every job stays queued.  One
    export per client (a registered SMART client each: idle_kickoff's
    name; its jobs answer only its token, so tests poll and DELETE them
    with idle_auth(idle, name))."""
    tmp = tmp_path_factory.mktemp("idle")
    with fresh_database(bh_pg) as db:
        with running(bh_bin, db, tmp, "serve",
                     {"BULKHEAD_EXPORT_MAX_PER_CLIENT": "1"}) as s:
            yield s


@pytest.fixture(scope="module")
def lab(env, bh_bin, tmp_path_factory):
    """A laboratory API process on the checklist's store with auth = none
    (what changes with authorization off); no token is sent to it."""
    tmp = tmp_path_factory.mktemp("lab")
    with running(bh_bin, env.db, tmp, "serve",
                 {"BULKHEAD_DATA_DIR": str(env.data_dir),
                  "BULKHEAD_AUTH": "none"}) as s:
        yield s


def idle_auth(idle, name):
    """The Authorization header of idle's client name."""
    return client_headers(idle, name)


def idle_kickoff(idle, name, prefer="respond-async", params=None):
    h = {"Accept": FHIR_JSON, "Prefer": prefer}
    h.update(idle_auth(idle, name))
    return requests.get(idle.fhir + "/$export", params=params or
                        {"_type": "Patient"}, headers=h, timeout=30)


# ===================================================================
# §1.2 Kick-off: endpoints and methods
# ===================================================================

def test_EXP_K_01_three_kickoff_endpoints(env):
    """EXP-K-01: [base]/$export, [base]/Patient/$export and
    [base]/Group/[id]/$export exist."""
    for path in ("/$export", "/Patient/$export",
                 "/Group/%s/$export" % family_group(env)):
        e = env.export(path)
        assert e.kickoff.status_code == 202
        m = JOB_URL.match(e.url)
        assert m and m.group(1) == env.fhir, e.url
        assert e.final.status_code == 200, e.final.text


def test_EXP_K_02_async_request_pattern(env):
    """EXP-K-02: the operation follows the FHIR Asynchronous Request
    Pattern (202 + Content-Location, poll, 200 + manifest)."""
    k = env.kickoff(params={"_type": "Medication"})
    assert k.status_code == 202
    assert "Content-Location" in k.headers
    # The kick-off answers at once: no data in its body.
    assert "output" not in k.text
    final = poll(k.headers["Content-Location"])
    assert final.status_code == 200
    assert final.headers["Content-Type"].startswith("application/json")
    assert {"transactionTime", "output", "error"} <= set(final.json())


def test_EXP_K_03_get_and_post_kickoff(env):
    """EXP-K-03: kick-off by GET with query parameters (SHALL) and by POST
    with a Parameters body (MAY)."""
    get = env.export(params={"_type": "Patient,Coverage"})
    post = env.export(method="POST", body={
        "resourceType": "Parameters", "parameter": [
            {"name": "_type", "valueString": "Patient,Coverage"}]})
    assert get.ids() == post.ids()
    assert {t for t, _ in get.ids()} == {"Patient", "Coverage"}
    # application/json is accepted for the body as well.
    k = env.kickoff(method="POST", body=json.dumps({
        "resourceType": "Parameters", "parameter": [
            {"name": "_type", "valueString": "Medication"}]}),
        headers={"Content-Type": "application/json"})
    assert k.status_code == 202, k.text
    assert poll(k.headers["Content-Location"]).status_code == 200


def test_EXP_K_03b_post_parameter_value_types(env):
    """EXP-K-03b: POST Parameters values: valueString, valueInstant,
    valueReference (patient), valueBoolean; a body that is not Parameters
    is a 400 OperationOutcome."""
    p0 = env.crafted["patients"][0]
    e = env.export("/Patient/$export", method="POST", body={
        "resourceType": "Parameters", "parameter": [
            {"name": "_outputFormat", "valueString": "ndjson"},
            {"name": "_since", "valueInstant": "2000-01-01T00:00:00Z"},
            {"name": "_until", "valueDateTime": "2099-01-01T00:00:00+00:00"},
            {"name": "_type", "valueString": "Patient,Coverage"},
            {"name": "patient", "valueReference": {"reference":
                                                   "Patient/" + p0}},
            {"name": "allowPartialManifests", "valueBoolean": False}]})
    got = e.resources()
    assert set(got["Patient"]) == {p0}
    assert {patient_of(r) for r in got.get("Coverage", {}).values()} <= {p0}
    assert set(got) <= {"Patient", "Coverage"}
    r = env.kickoff(method="POST", body={"resourceType": "Patient"})
    is_outcome(r, 400)


def test_EXP_K_04_repeated_parameters_are_one_list(env):
    """EXP-K-04: a parameter repeated is treated as one comma-joined
    list (GET repeats and POST repeats)."""
    joined = env.export(params={"_type": "Patient,Coverage"})
    repeated = env.export(params=[("_type", "Patient"),
                                  ("_type", "Coverage")])
    post = env.export(method="POST", body={
        "resourceType": "Parameters", "parameter": [
            {"name": "_type", "valueString": "Patient"},
            {"name": "_type", "valueString": "Coverage"}]})
    assert joined.ids() == repeated.ids() == post.ids()


def test_EXP_K_05_patient_level_uses_the_compartment(env):
    """EXP-K-05: Patient-level export returns the Patient compartment
    (plus helpful Organization/Practitioner/Location context)."""
    e = env.export("/Patient/$export")
    got = e.resources()
    assert COMPARTMENT <= set(got)
    # Provenance targeting the compartment: EXP-P-IA-5 (tested there).
    assert set(got) <= COMPARTMENT | CONTEXT | {"Group", "Provenance"}
    tt = e.manifest["transactionTime"]
    assert {("Patient", i) for i in got["Patient"]} == \
        live_until(env, tt, "type = 'Patient'")
    for t in ("Coverage", "Claim", "ClaimResponse"):
        assert {(t, i) for i in got[t]} == \
            live_until(env, tt, "type = %s AND patient IS NOT NULL", [t])
        for r in got[t].values():
            assert patient_of(r) in got["Patient"]


# ===================================================================
# §1.3 Kick-off headers
# ===================================================================

def test_EXP_H_01_accept_header(env):
    """EXP-H-01: the server MAY reject a missing Accept; Bulkhead does, as
    the reference implementation does: an Accept that does not list
    application/fhir+json is a 400 (an incompatible one may be 406), with
    an OperationOutcome."""
    for accept in (FHIR_JSON, "application/fhir+json; q=0.9, */*;q=0.1"):
        k = env.kickoff(params={"_type": "InsurancePlan"},
                        headers={"Accept": accept})
        assert k.status_code == 202, (accept, k.text)
        assert poll(k.headers["Content-Location"]).status_code == 200
    for accept in (None, "*/*", "application/json"):
        is_outcome(env.kickoff(params={"_type": "InsurancePlan"},
                               headers={"Accept": accept}), 400)
    r = env.kickoff(params={"_type": "InsurancePlan"},
                    headers={"Accept": "application/fhir+xml"})
    assert r.status_code in (400, 406)
    is_outcome(r)


def test_EXP_H_02_prefer_respond_async_required(env):
    """EXP-H-02: without Prefer: respond-async the server MAY return an
    error; Bulkhead does (400 OperationOutcome), as the reference
    implementation does.  handling=lenient alone is not respond-async."""
    is_outcome(env.kickoff(params={"_type": "InsurancePlan"},
                           headers={"Prefer": None}), 400)
    is_outcome(env.kickoff(params={"_type": "InsurancePlan"},
                           headers={"Prefer": "handling=lenient"}), 400)
    k = env.kickoff(params={"_type": "InsurancePlan"},
                    headers={"Prefer": "respond-async, handling=lenient"})
    assert k.status_code == 202, k.text
    assert poll(k.headers["Content-Location"]).status_code == 200


def test_EXP_H_03_separate_export_status_in_one_or_repeated_headers(env):
    """EXP-H-03: Prefer: respond-async,separate-export-status, in one
    header or in repeated headers."""
    for headers in ([("Prefer", "respond-async,separate-export-status")],
                    [("Prefer", "respond-async"),
                     ("Prefer", "separate-export-status")]):
        st, h, body = raw(env.server, "GET",
                          "/fhir/$export?_type=InsurancePlan",
                          [("Accept", FHIR_JSON)] + headers)
        assert st == 202, body
        final = poll(h["content-location"][0])
        assert final.status_code == 200
        assert final.headers["X-Export-Status"] == "200 OK"


def test_EXP_H_03a_preference_applied(env):
    """EXP-H-03a: a server honouring separate-export-status returns
    Preference-Applied with respond-async and separate-export-status."""
    st, h, body = raw(env.server, "GET", "/fhir/$export?_type=InsurancePlan",
                      [("Accept", FHIR_JSON), ("Prefer", "respond-async"),
                       ("Prefer", "separate-export-status")])
    assert st == 202
    applied = {t.strip().lower() for v in h["preference-applied"]
               for t in v.split(",")}
    assert {"respond-async", "separate-export-status"} <= applied
    poll(h["content-location"][0])


def test_EXP_H_03b_x_export_status(env, idle):
    """EXP-H-03b: with separate-export-status each status request answers
    200 and X-Export-Status carries the job's status (202 while running,
    200 OK when complete)."""
    k = idle_kickoff(idle, "h03b", "respond-async, separate-export-status")
    assert k.status_code == 202
    r = requests.get(k.headers["Content-Location"], timeout=30,
                     headers=idle_auth(idle, "h03b"))
    assert r.status_code == 200
    assert r.headers["X-Export-Status"] == "202 Accepted"
    assert "X-Progress" in r.headers
    k = env.kickoff(params={"_type": "Medication"},
                    headers={"Prefer":
                             "respond-async, separate-export-status"})
    final = poll(k.headers["Content-Location"])
    assert final.status_code == 200
    assert final.headers["X-Export-Status"] == "200 OK"
    assert "transactionTime" in final.json()


def test_EXP_H_04_handling_lenient_and_strict(env):
    """EXP-H-04: Prefer: handling=lenient lets the server ignore an
    unsupported parameter; handling=strict (the default) refuses it."""
    params = {"_type": "Medication", "unknownThing": "1"}
    is_outcome(env.kickoff(params=params), 400)
    is_outcome(env.kickoff(params=params, headers={
        "Prefer": "respond-async, handling=strict"}), 400)
    k = env.kickoff(params=params, headers={
        "Prefer": "respond-async, handling=lenient"})
    assert k.status_code == 202, k.text
    assert poll(k.headers["Content-Location"]).status_code == 200


def test_EXP_H_05_prefer_parsed_as_token_list(env):
    """EXP-H-05: Prefer is a comma-separated, case-insensitive token list
    that may be split across several header lines."""
    st, h, body = raw(env.server, "GET",
                      "/fhir/$export?_type=Medication&unknownThing=1",
                      [("Accept", FHIR_JSON), ("Prefer", "RESPOND-ASYNC"),
                       ("Prefer", "Handling=Lenient")])
    assert st == 202, body
    applied = ",".join(h["preference-applied"]).lower()
    assert "handling=lenient" in applied
    assert "respond-async" in applied
    poll(h["content-location"][0])


# ===================================================================
# §1.4 Kick-off parameters
# ===================================================================

def test_EXP_P_OF_1_default_output_format_is_ndjson(env):
    """EXP-P-OF-1: the default _outputFormat is application/fhir+ndjson."""
    e = env.export(params={"_type": "Medication"})
    item = e.items()[0]
    r = download(item["url"])
    assert r.status_code == 200
    assert r.headers["Content-Type"] == NDJSON
    for line in identity_bytes(r).decode().splitlines():
        assert json.loads(line)["resourceType"] == "Medication"


def test_EXP_P_OF_2_output_format_aliases(env):
    """EXP-P-OF-2: application/fhir+ndjson, application/ndjson and ndjson
    are equivalent."""
    exports = env.exports([{"params": {"_type": "Coverage",
                                       "_outputFormat": f}}
                           for f in ("application/fhir+ndjson",
                                     "application/ndjson", "ndjson")])
    ids = [e.ids() for e in exports]
    assert ids[0] == ids[1] == ids[2] and ids[0]


def test_EXP_P_OF_4_unknown_output_format(env):
    """EXP-P-OF-4: an unknown format is a 400 OperationOutcome
    (not-supported); 'application/fhir ndjson' (an unencoded '+') is
    taken as application/fhir+ndjson."""
    oo = is_outcome(env.kickoff(params={"_outputFormat": "text/csv"}), 400)
    assert oo["issue"][0]["code"] == "not-supported"
    r = requests.get(env.fhir + "/$export?_type=Medication&_outputFormat="
                     "application/fhir+ndjson", headers={"Accept": FHIR_JSON,
                                                          "Prefer":
                                                          "respond-async"},
                     timeout=30)
    assert r.status_code == 202, r.text
    assert poll(r.headers["Content-Location"]).status_code == 200


def median_updated(env):
    return env.db.scalar(
        "SELECT last_updated FROM resources WHERE NOT deleted ORDER BY "
        "last_updated, type, id OFFSET (SELECT count(*) / 2 FROM resources)"
        " LIMIT 1")


def test_EXP_P_SI_1_since_is_strictly_after(env):
    """EXP-P-SI-1: _since includes resources whose lastUpdated is strictly
    later than the instant."""
    cut = median_updated(env)
    since = cut.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    e = env.export(params={"_since": since})
    tt = e.manifest["transactionTime"]
    on_cut = env.store_ids("last_updated = %s", [cut])
    assert on_cut, "the cut instant must be some resource's lastUpdated"
    assert e.ids() == live_until(env, tt, "last_updated > %s", [cut])
    assert not (e.ids() & on_cut)
    for t, d in e.resources().items():
        for r in d.values():
            assert parse_instant(r["meta"]["lastUpdated"]) > cut




@pytest.mark.parametrize("since", [
    "2026-01-01", "2026-01-01T00:00:00", "2026-01-01T00:00Z",
    "2026-13-01T00:00:00Z", "yesterday", "2026-01-01T00:00:00 00:00x",
    "2026-02-30T00:00:00Z",
    "2026-01-01T00:00:61Z",
    "2026-01-01T00:00:00+25:00"])
def test_EXP_P_SI_5_since_must_be_an_instant(env, since):
    """EXP-P-SI-5: _since must be a FHIR instant (seconds and zone); else
    400 with an OperationOutcome, lenient or not."""
    for prefer in ("respond-async", "respond-async, handling=lenient"):
        r = env.kickoff(params={"_type": "Medication", "_since": since},
                        headers={"Prefer": prefer})
        if r.status_code == 202:
            requests.delete(r.headers["Content-Location"], timeout=30)
        is_outcome(r, 400)


def test_EXP_P_UN_1_until_is_strictly_before(env):
    """EXP-P-UN-1: _until includes only resources last updated before
    the instant."""
    cut = median_updated(env)
    until = cut.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    e = env.export(params={"_until": until})
    tt = e.manifest["transactionTime"]
    assert e.ids() == live_until(env, tt, "last_updated < %s", [cut])
    assert not (e.ids() & env.store_ids("last_updated = %s", [cut]))


def test_EXP_P_TY_1_only_listed_types(env):
    """EXP-P-TY-1: the response contains only the listed types."""
    e = env.export(params={"_type": "Patient,Coverage"})
    tt = e.manifest["transactionTime"]
    assert {i["type"] for i in e.items()} == {"Patient", "Coverage"}
    assert e.ids() == live_until(env, tt, "type IN ('Patient', 'Coverage')")


def test_EXP_P_TY_2_all_types_without_type(env):
    """EXP-P-TY-2: without _type every supported type is returned."""
    e = env.export()
    # Provenance: the crafted dataset holds some (EXP-P-IA-5).
    assert {i["type"] for i in e.items()} == OPENIMIS_TYPES | {"Provenance"}


def test_EXP_P_TY_5_unsupported_types(env):
    """EXP-P-TY-5: unsupported types, or only non-compartment types at
    Patient/Group level, are an error with an OperationOutcome; under
    lenient the server may go ahead."""
    is_outcome(env.kickoff(params={"_type": "NotAType"}), 400)
    is_outcome(env.kickoff("/Patient/$export",
                           params={"_type": "InsurancePlan"}), 400)
    is_outcome(env.kickoff("/Group/%s/$export" % family_group(env),
                           params={"_type": "Medication"}), 400)
    # Lenient drops them too, but no exportable type is left: still 400.
    is_outcome(env.kickoff("/Patient/$export",
                           params={"_type": "InsurancePlan"},
                           headers={"Prefer":
                                    "respond-async, handling=lenient"}),
               400)
    e = env.export("/Patient/$export", params={
        "_type": "InsurancePlan,Patient"}, headers={
        "Prefer": "respond-async, handling=lenient"})
    assert {i["type"] for i in e.items()} == {"Patient"}
    assert any("InsurancePlan" in json.dumps(w) for w in warnings_text(e))


def test_EXP_P_EL_1_elements_trim(env):
    """EXP-P-EL-1: elements not listed (and not mandatory) are left out;
    'Type.element' applies to one type, a bare 'element' to every type
    that has it."""
    e = env.export(params={"_type": "Patient,Practitioner,Coverage",
                           "_elements": "gender,Coverage.period"})
    got = e.resources()
    for t in ("Patient", "Practitioner"):
        assert got[t]
        for r in got[t].values():
            assert set(r) <= {"resourceType", "id", "meta", "gender"}, r
        assert any("gender" in r for r in got[t].values())
    for r in got["Coverage"].values():
        # period listed; status, beneficiary, payor mandatory in R4
        assert set(r) <= {"resourceType", "id", "meta", "period", "status",
                          "beneficiary", "payor"}, r
        assert "period" in r and "gender" not in r


def test_EXP_P_EL_2_subsetted_tag_and_mandatory_elements(env):
    """EXP-P-EL-2: trimmed resources keep mandatory elements and carry the
    SUBSETTED tag."""
    e = env.export(params={"_type": "Claim,Coverage", "_elements": "id"})
    got = e.resources()
    for r in got["Coverage"].values():
        assert {"status", "beneficiary", "payor"} <= set(r)
    for r in got["Claim"].values():
        assert {"status", "type", "use", "patient", "created", "provider",
                "priority", "insurance"} <= set(r)
        assert "item" not in r and "diagnosis" not in r
    for d in got.values():
        for r in d.values():
            assert SUBSETTED in r["meta"]["tag"], r["meta"]


def test_EXP_P_PA_1_patient_list_narrows(env):
    """EXP-P-PA-1: no resources from the compartment of a patient outside
    the POSTed list."""
    want = set(env.crafted["patients"][:2])
    e = env.export("/Patient/$export", method="POST", body={
        "resourceType": "Parameters", "parameter": [
            {"name": "patient", "valueReference": {"reference":
                                                   "Patient/" + p}}
            for p in sorted(want)]})
    got = e.resources()
    tt = e.manifest["transactionTime"]
    assert set(got["Patient"]) == want
    for t in ("Coverage", "Claim", "ClaimResponse"):
        for r in got.get(t, {}).values():
            assert patient_of(r) in want
    expected = live_until(env, tt, "patient = ANY(%s)", [sorted(want)])
    assert {(t, i) for t, i in e.ids() if t in COMPARTMENT} == expected


def test_EXP_P_PA_2_unknown_or_non_member_patient(env):
    """EXP-P-PA-2: an unknown patient, or one not in the Group, is an
    error with an OperationOutcome."""
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference":
                                               "Patient/no-such-patient"}}]}
    is_outcome(env.kickoff("/Patient/$export", method="POST", body=body),
               400)
    inactive = sorted(env.crafted["inactive_members"])[0]
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference":
                                               "Patient/" + inactive}}]}
    is_outcome(env.kickoff("/Group/%s/$export" % env.crafted["group"],
                           method="POST", body=body), 400)


def test_EXP_P_IA_4_include_associated_data_unknown_value(env):
    """EXP-P-IA-4: a value the server cannot honour is an error with an
    OperationOutcome (or, lenient, it goes on and says so)."""
    for v in ("_Custom", "LatestProvenanceResources,Bogus"):
        oo = is_outcome(env.kickoff(params={"includeAssociatedData": v}),
                        400)
        assert "includeAssociatedData" in oo["issue"][0]["diagnostics"]
    e = env.export(params={"_type": "Medication", "includeAssociatedData":
                           "_Custom"},
                   headers={"Prefer": "respond-async, handling=lenient"})
    assert any("includeAssociatedData" in json.dumps(w)
               for w in warnings_text(e))
    assert {i["type"] for i in e.items()} == {"Medication"}


def test_EXP_P_TF_1_type_filter_applied(env):
    """EXP-P-TF-1: _typeFilter filters its type to the criteria."""
    e = env.export(params={"_type": "Patient,Coverage",
                           "_typeFilter": "Patient?gender=female"})
    got = e.resources()
    tt = e.manifest["transactionTime"]
    assert all(r.get("gender") == "female" for r in got["Patient"].values())
    females = {("Patient", i) for (t, i), c in env.store(
        "type = 'Patient' AND last_updated <= %s", [tt]).items()
        if json.loads(c).get("gender") == "female"}
    assert {("Patient", i) for i in got["Patient"]} == females
    # Coverage has no filter: untouched (EXP-P-TF-5).
    assert {("Coverage", i) for i in got["Coverage"]} == \
        live_until(env, tt, "type = 'Coverage'")


def test_EXP_P_TF_3_unsupported_filter(env):
    """EXP-P-TF-3: filters the server cannot support are an error with an
    OperationOutcome; lenient may go ahead (and report it)."""
    is_outcome(env.kickoff(params={"_typeFilter": "Patient?nickname=x"}),
               400)
    e = env.export(params={"_type": "Patient",
                           "_typeFilter": "Patient?nickname=x"},
                   headers={"Prefer": "respond-async, handling=lenient"})
    assert any("nickname" in json.dumps(w) for w in warnings_text(e))
    tt = e.manifest["transactionTime"]
    assert e.ids() == live_until(env, tt, "type = 'Patient'")


def test_EXP_P_TF_5_filters_of_one_type_are_ored(env):
    """EXP-P-TF-5: queries for one type are ORed; types without a filter
    are left alone; a resource failing every query is not returned."""
    e = env.export(params=[("_type", "Patient,Claim"),
                           ("_typeFilter", "Patient?gender=female"),
                           ("_typeFilter", "Patient?birthdate=lt1960")])
    got = e.resources()
    tt = e.manifest["transactionTime"]
    want = {i for (t, i), c in env.store(
        "type = 'Patient' AND last_updated <= %s", [tt]).items()
        if json.loads(c).get("gender") == "female" or
        json.loads(c).get("birthDate", "9999") < "1960"}
    assert set(got["Patient"]) == want
    assert any(r.get("gender") != "female" for r in got["Patient"].values())
    assert {("Claim", i) for i in got["Claim"]} == \
        live_until(env, tt, "type = 'Claim'")


def test_EXP_P_TF_7_comma_splitting_and_type_list(env):
    """EXP-P-TF-7: a comma splits filters only before 'Type?'; otherwise
    it is a value OR; a filter on a type outside _type is refused."""
    e = env.export(params={
        "_type": "Patient,Coverage",
        "_typeFilter": "Patient?gender=male,Coverage?status=active,cancelled"})
    got = e.resources()
    tt = e.manifest["transactionTime"]
    assert got["Patient"] and all(r["gender"] == "male"
                                  for r in got["Patient"].values())
    want = {i for (t, i), c in env.store(
        "type = 'Coverage' AND last_updated <= %s", [tt]).items()
        if json.loads(c)["status"] in ("active", "cancelled")}
    assert set(got["Coverage"]) == want
    oo = is_outcome(env.kickoff(params={
        "_type": "Patient", "_typeFilter": "Claim?status=active"}), 400)
    assert oo["issue"][0]["code"] == "invalid"


# ===================================================================
# §1.5 Unsupported or invalid parameters and Prefer: handling
# ===================================================================

def test_EXP_L_01_strict_rejects_unsupported(env):
    """EXP-L-01: without lenient, an unsupported parameter is a 4xx with
    an OperationOutcome."""
    r = env.kickoff(params={"_type": "Patient", "_count": "10"})
    oo = is_outcome(r, 400)
    assert "_count" in oo["issue"][0]["diagnostics"]


def test_EXP_L_02_lenient_runs_the_export(env):
    """EXP-L-02: with lenient, unsupported parameters are ignored and the
    export runs."""
    e = env.export(params={"_type": "Coverage", "_count": "10"},
                   headers={"Prefer": "respond-async, handling=lenient"})
    tt = e.manifest["transactionTime"]
    assert e.ids() == live_until(env, tt, "type = 'Coverage'")


def test_EXP_L_03_one_outcome_per_ignored_parameter(env):
    """EXP-L-03: under lenient, one OperationOutcome per ignored parameter
    in the manifest's error file(s)."""
    e = env.export(params={"_type": "Medication", "_count": "10",
                           "includeAssociatedData": "_Custom"},
                   headers={"Prefer": "respond-async, handling=lenient"})
    oos = warnings_text(e)
    assert len(oos) == 2, oos
    assert all(o["resourceType"] == "OperationOutcome" for o in oos)
    text = json.dumps(oos)
    assert "_count" in text and "includeAssociatedData" in text
    assert {i["type"] for i in e.items("error")} == {"OperationOutcome"}


def test_EXP_L_04_unsupported_type_is_an_error(env):
    """EXP-L-04: resource types asked for but not supported get an error
    with an OperationOutcome."""
    oo = is_outcome(env.kickoff(params={"_type": "Patient,Bogus"}), 400)
    assert "Bogus" in oo["issue"][0]["diagnostics"]


def test_EXP_L_05_malformed_since_400_even_lenient(env):
    """EXP-L-05: a malformed _since is a 400 even under lenient; lenient
    handling that took effect is echoed in Preference-Applied."""
    is_outcome(env.kickoff(params={"_since": "last tuesday"}, headers={
        "Prefer": "respond-async, handling=lenient"}), 400)
    k = env.kickoff(params={"_type": "Medication", "_count": "1"}, headers={
        "Prefer": "respond-async, handling=lenient"})
    assert k.status_code == 202
    assert "handling=lenient" in k.headers["Preference-Applied"]
    poll(k.headers["Content-Location"])


# ===================================================================
# §1.6 Kick-off responses
# ===================================================================

def test_EXP_KR_01_success_response(env):
    """EXP-KR-01: success is 202 Accepted with the absolute status URL in
    Content-Location (optionally an OperationOutcome body)."""
    k = env.kickoff(params={"_type": "Medication"})
    assert k.status_code == 202
    loc = urlsplit(k.headers["Content-Location"])
    assert loc.scheme in ("http", "https") and loc.netloc
    assert JOB_URL.match(k.headers["Content-Location"])
    if k.content:
        assert k.json()["resourceType"] == "OperationOutcome"
    poll(k.headers["Content-Location"])


def test_EXP_KR_03_errors_are_operation_outcomes(env):
    """EXP-KR-03: kick-off errors are 4xx/5xx with a JSON
    OperationOutcome body."""
    for r in (env.kickoff(params={"_typeFilter": "Patient?foo=bar"}),
              env.kickoff("/Group/no-such-group/$export"),
              env.kickoff(method="POST", body=b"not json",
                          headers={"Content-Type": FHIR_JSON})):
        assert 400 <= r.status_code < 600
        assert r.headers["Content-Type"] == FHIR_JSON
        is_outcome(r)


def test_EXP_KR_04_429_when_an_export_is_running(idle):
    """EXP-KR-04: a client that starts a new export while one is running
    gets 429 Too Many Requests with Retry-After."""
    first = idle_kickoff(idle, "kr04")
    assert first.status_code == 202
    second = idle_kickoff(idle, "kr04")
    oo = is_outcome(second, 429)
    assert oo["issue"][0]["code"] == "throttled"
    assert re.fullmatch(r"\d+", second.headers["Retry-After"])
    # Another client is not affected.
    assert idle_kickoff(idle, "kr04-other").status_code == 202
    # Once the first is cancelled, the client may start again.
    assert requests.delete(first.headers["Content-Location"], timeout=30,
                           headers=idle_auth(idle, "kr04")).status_code \
        == 202
    assert idle_kickoff(idle, "kr04").status_code == 202


# ===================================================================
# §1.7 Group export
# ===================================================================

def test_EXP_G_01_group_export_covers_members(env):
    """EXP-G-01: a Group export covers the Group's members."""
    gid = family_group(env)
    group = json.loads(env.store("type = 'Group' AND id = %s", [gid])
                       [("Group", gid)])
    members = {m["entity"]["reference"][8:] for m in group["member"]}
    e = env.export("/Group/%s/$export" % gid)
    got = e.resources()
    assert set(got["Patient"]) == members
    assert set(got["Group"]) == {gid}
    for t in ("Coverage", "Claim", "ClaimResponse"):
        for r in got.get(t, {}).values():
            assert patient_of(r) in members


def test_EXP_G_02_inactive_and_ended_members_left_out(env):
    """EXP-G-02: inactive members and members whose period has ended are
    left out (with their compartments)."""
    e = env.export("/Group/%s/$export" % env.crafted["group"])
    got = e.resources()
    active = env.crafted["active_members"]
    assert set(got["Patient"]) == active
    tt = e.manifest["transactionTime"]
    expected = live_until(env, tt, "patient = ANY(%s)", [sorted(active)])
    assert {(t, i) for t, i in e.ids() if t in COMPARTMENT} == expected


# ===================================================================
# §1.8 Cancellation / delete
# ===================================================================

def test_EXP_D_01_delete_removes_files(env):
    """EXP-D-01: DELETE on the status URL cancels the job or, once
    complete, releases its files (which the server then removes)."""
    e = env.export(params={"_type": "Patient"}, cache=False)
    url = e.items()[0]["url"]
    assert download(url).status_code == 200
    job = JOB_URL.match(e.url).group(2)
    jobdir = env.data_dir / "jobs" / job
    assert jobdir.is_dir()
    assert requests.delete(e.url, timeout=30).status_code == 202
    is_outcome(download(url), 404)
    assert not jobdir.exists()


def test_EXP_D_02_delete_success_202(env, idle):
    """EXP-D-02: a successful DELETE is 202 Accepted (optional
    OperationOutcome body), for running and completed jobs."""
    e = env.export(params={"_type": "Medication"}, cache=False)
    r = requests.delete(e.url, timeout=30)
    assert r.status_code == 202
    if r.content:
        assert r.json()["resourceType"] == "OperationOutcome"
    queued = idle_kickoff(idle, "d02")
    r = requests.delete(queued.headers["Content-Location"], timeout=30,
                        headers=idle_auth(idle, "d02"))
    assert r.status_code == 202


def test_EXP_D_03_delete_errors_are_outcomes(env):
    """EXP-D-03: DELETE errors are 4xx/5xx with an OperationOutcome."""
    r = requests.delete(env.fhir + "/_jobs/" + "0" * 32, timeout=30)
    is_outcome(r, 404)
    r = requests.delete(env.fhir + "/_jobs/not-a-job!", timeout=30)
    assert 400 <= r.status_code < 500
    is_outcome(r)


def test_EXP_D_04_poll_after_delete_is_404(env, idle):
    """EXP-D-04: after DELETE, polling the status URL answers 404 with an
    OperationOutcome."""
    e = env.export(params={"_type": "Medication"}, cache=False)
    assert requests.delete(e.url, timeout=30).status_code == 202
    is_outcome(requests.get(e.url, timeout=30), 404)
    queued = idle_kickoff(idle, "d04")
    url = queued.headers["Content-Location"]
    d04 = idle_auth(idle, "d04")
    assert requests.delete(url, timeout=30, headers=d04).status_code == 202
    is_outcome(requests.get(url, timeout=30, headers=d04), 404)


def test_EXP_D_05_delete_is_idempotent(env):
    """EXP-D-05: repeating DELETE answers consistently (404), and polling
    stays 404."""
    e = env.export(params={"_type": "Medication"}, cache=False)
    assert requests.delete(e.url, timeout=30).status_code == 202
    for _ in range(2):
        is_outcome(requests.delete(e.url, timeout=30), 404)
        is_outcome(requests.get(e.url, timeout=30), 404)


# ===================================================================
# §1.9 Status polling
# ===================================================================

def test_EXP_S_02_retry_after_integer_seconds(idle):
    """EXP-S-02: in-progress answers carry Retry-After as integer seconds
    with a modest value."""
    k = idle_kickoff(idle, "s02")
    r = requests.get(k.headers["Content-Location"], timeout=30,
                     headers=idle_auth(idle, "s02"))
    assert r.status_code == 202
    assert re.fullmatch(r"\d+", r.headers["Retry-After"])
    assert 1 <= int(r.headers["Retry-After"]) <= 120


def test_EXP_S_05_in_progress_202_x_progress(idle):
    """EXP-S-05: in progress is 202 Accepted, with an X-Progress header
    shorter than 100 characters."""
    k = idle_kickoff(idle, "s05")
    r = requests.get(k.headers["Content-Location"], timeout=30,
                     headers=idle_auth(idle, "s05"))
    assert r.status_code == 202
    assert 0 < len(r.headers["X-Progress"]) < 100


def test_EXP_S_07_failed_job_is_an_error_outcome(bh_bin, bh_pg,
                                                 tmp_path_factory):
    """EXP-S-07: a failed job answers 4xx/5xx with an OperationOutcome
    (application/fhir+json); with separate-export-status, 200 plus
    X-Export-Status carrying the error status."""
    tmp = tmp_path_factory.mktemp("s07")
    gen = tmp / "gen"
    with fresh_database(bh_pg) as db:
        cli(bh_bin, None, "generate", "--families", "2", "--seed", "7",
            "--out", str(gen), "--today", "2026-06-01")
        pid = read_ndjson(gen / "Patient.ndjson")[0]["id"]
        body = json.dumps({"resourceType": "Parameters", "parameter": [
            {"name": "patient", "valueReference": {"reference":
                                                   "Patient/" + pid}}]})
        with running(bh_bin, db, tmp, "serve") as api:
            cli(bh_bin, db, "load", str(gen))
            urls = []
            for prefer in ("respond-async",
                           "respond-async, separate-export-status"):
                k = requests.post(api.fhir + "/Patient/$export", data=body,
                                  headers={"Content-Type": FHIR_JSON,
                                           "Accept": FHIR_JSON,
                                           "Prefer": prefer}, timeout=30)
                assert k.status_code == 202, k.text
                urls.append(k.headers["Content-Location"])
            # The patient goes away before a worker runs the jobs.
            db.query("UPDATE resources SET deleted = true, last_updated = "
                     "now() WHERE type = 'Patient' AND id = %s", [pid])
            with running(bh_bin, db, tmp, "worker", wait=False):
                plain = poll(urls[0])
                oo = is_outcome(plain)
                assert 400 <= plain.status_code < 600
                assert plain.headers["Content-Type"] == FHIR_JSON
                assert oo["issue"][0]["severity"] in ("error", "fatal")
                sep = poll(urls[1])
                assert sep.status_code == 200
                assert sep.headers["X-Export-Status"].split()[0] == \
                    str(plain.status_code)
                is_outcome(sep)


def test_EXP_S_08_transient_code_when_status_request_fails(
        bh_bin, bh_pg, tmp_path_factory):
    """EXP-S-08: when the status request itself fails, the
    OperationOutcome uses a transient issue code."""
    tmp = tmp_path_factory.mktemp("s08")
    with fresh_database(bh_pg) as db:
        with running(bh_bin, db, tmp, "serve") as api:
            k = requests.get(api.fhir + "/$export", headers={
                "Accept": FHIR_JSON, "Prefer": "respond-async"}, timeout=30)
            assert k.status_code == 202
            admin_exec(bh_pg, 'DROP DATABASE "%s" WITH (FORCE)' % db.name)
            deadline = time.monotonic() + 15
            while True:
                r = requests.get(k.headers["Content-Location"], timeout=30)
                if r.status_code >= 500 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert r.status_code == 503, r.text
            assert is_outcome(r)["issue"][0]["code"] in TRANSIENT


def test_EXP_S_10_complete_status(env):
    """EXP-S-10: complete is 200 OK, Content-Type application/json, an
    Expires header, and the manifest as body."""
    e = env.export()
    r = e.final
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert parsedate_to_datetime(r.headers["Expires"]).tzinfo is not None
    assert r.json()["output"]


def test_EXP_S_11_opaque_restart_safe_status_urls(env, bh_bin, tmp_path):
    """EXP-S-11: status URLs are opaque and unguessable (128-bit random)
    and survive a server restart (job state lives in PostgreSQL)."""
    a = env.export(params={"_type": "Medication"}, cache=False)
    b = env.export(params={"_type": "Medication"}, cache=False)
    ida, idb = JOB_URL.match(a.url).group(2), JOB_URL.match(b.url).group(2)
    assert ida != idb
    assert len(ida) == 32
    # Another API process (a restarted server) knows the job.
    with running(bh_bin, env.db, tmp_path, "serve",
                 {"BULKHEAD_DATA_DIR": str(env.data_dir)}) as other:
        r = requests.get(other.fhir + "/_jobs/" + ida, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["transactionTime"] == \
            a.manifest["transactionTime"]
        url = r.json()["output"][0]["url"]
        assert url.startswith(other.fhir + "/_jobs/" + ida + "/files/")
        assert download(url).status_code == 200


# ===================================================================
# §1.10 The completion manifest
# ===================================================================

def test_EXP_M_01_transaction_time_snapshot(env):
    """EXP-M-01: transactionTime is an instant; the output holds every
    matching resource modified up to it, and none modified after it."""
    e = env.export()
    tt = e.manifest["transactionTime"]
    assert INSTANT.match(tt), tt
    assert parse_instant(tt) <= datetime.now(timezone.utc)
    assert e.ids() == live_until(env, tt)
    counts = {i["type"]: 0 for i in e.items()}
    for i in e.items():
        counts[i["type"]] += i["count"]
    for t, n in counts.items():
        assert n == len(live_until(env, tt, "type = %s", [t]))


def test_EXP_M_02_request_url(env):
    """EXP-M-02: request is the full kick-off URL (for POST, without the
    body parameters)."""
    e = env.export(params={"_type": "Patient,Coverage"})
    req = e.manifest["request"]
    assert req.startswith(env.fhir + "/$export?")
    assert "_type=Patient,Coverage" in req.replace("%2C", ",")
    post = env.export(method="POST", body={
        "resourceType": "Parameters", "parameter": [
            {"name": "_type", "valueString": "Patient,Coverage"}]})
    assert post.manifest["request"] == env.fhir + "/$export"


def test_EXP_M_03_requires_access_token(env, lab):
    """EXP-M-03: requiresAccessToken is a boolean, and true only when the
    files need a token.  auth = smart (the checklist's server): true; a
    file without a token is a 401, with one a 200.  auth = none (a
    laboratory API process on the same store): false, files fetched
    without one."""
    e = env.export()
    assert e.manifest["requiresAccessToken"] is True
    url = e.items()[0]["url"]
    is_outcome(download(url, headers=NO_TOKEN), 401)
    assert download(url).status_code == 200
    job = JOB_URL.match(e.url).group(2)
    r = requests.get(lab.fhir + "/_jobs/" + job, headers=NO_TOKEN,
                     timeout=30)
    assert r.status_code == 200, r.text
    manifest = r.json()
    assert manifest["requiresAccessToken"] is False
    r = download(manifest["output"][0]["url"], headers=NO_TOKEN)
    assert r.status_code == 200


def test_EXP_M_04_output_items(env):
    """EXP-M-04: output items have type, absolute url and count; one type
    per file; an empty array (and no items) for types without data."""
    e = env.export()
    for item in e.items():
        assert set(item) >= {"type", "url"}
        assert urlsplit(item["url"]).scheme in ("http", "https")
        assert isinstance(item["count"], int) and item["count"] > 0
        lines = env.file_bytes(item["url"]).decode().splitlines()
        assert len(lines) == item["count"]
        assert {json.loads(l)["resourceType"] for l in lines} == \
            {item["type"]}
    empty = env.export(params={"_type": "Observation"})
    assert empty.manifest["output"] == []
    none = env.export(params={"_type": "Patient,Medication",
                              "_typeFilter": "Patient?gender=nosuchcode"})
    assert {i["type"] for i in none.items()} == {"Medication"}


def test_EXP_M_05_deleted_array(env):
    """EXP-M-05: with _since, deleted lists files of resources deleted
    after _since; a resource in deleted is not in output."""
    e = env.export(params={"_since": "2026-06-02T00:00:00Z"})
    deleted = e.items("deleted")
    assert deleted and all(i["type"] == "Bundle" for i in deleted)
    gone = set()
    for line in e.lines("deleted")["Bundle"]:
        for entry in json.loads(line)["entry"]:
            gone.add(tuple(entry["request"]["url"].split("/")))
    assert gone == {("Patient", "conf-del-1"), ("Coverage", "conf-del-cov")}
    assert not (gone & e.ids())
    full = env.export()
    assert "deleted" not in full.manifest or full.manifest["deleted"] == []


def test_EXP_M_06_error_array(env):
    """EXP-M-06: error is always present ([] when there is none); it lists
    NDJSON files of OperationOutcome."""
    assert env.export().manifest["error"] == []
    e = env.export(params={"_type": "Medication", "_count": "10"},
                   headers={"Prefer": "respond-async, handling=lenient"})
    items = e.items("error")
    assert items and all(i["type"] == "OperationOutcome" for i in items)
    for i in items:
        r = download(i["url"])
        assert r.headers["Content-Type"] == NDJSON
        for line in identity_bytes(r).decode().splitlines():
            assert json.loads(line)["resourceType"] == "OperationOutcome"


def test_EXP_M_11_stu2_stu3_manifest_keys(env):
    """EXP-M-11: transactionTime, request, requiresAccessToken, output and
    error always, plus count; no STU4 outcome; extension an object."""
    for e in (env.export(), env.export(params={"_type": "Observation"})):
        m = e.manifest
        assert {"transactionTime", "request", "requiresAccessToken",
                "output", "error"} <= set(m)
        assert "outcome" not in m
        assert isinstance(m.get("extension", {}), dict)
        assert all("count" in i for i in m["output"])


def test_EXP_DEL_01_deleted_bundles(env):
    """EXP-DEL-01: each line of a deleted file is a transaction Bundle
    whose entries have request.method DELETE and request.url, and no
    resource."""
    e = env.export(params={"_since": "2026-06-02T00:00:00Z"})
    lines = e.lines("deleted")["Bundle"]
    assert lines
    for line in lines:
        b = json.loads(line)
        assert b["resourceType"] == "Bundle" and b["type"] == "transaction"
        assert b["entry"]
        for entry in b["entry"]:
            assert entry["request"]["method"] == "DELETE"
            assert re.fullmatch(r"[A-Z][A-Za-z]+/[A-Za-z0-9.-]{1,64}",
                                entry["request"]["url"])
            assert "resource" not in entry


# ===================================================================
# §1.12 - §1.14 Files
# ===================================================================

def test_EXP_F_06_latest_version_only(env):
    """EXP-F-06: output holds only the latest version of each
    resource."""
    e = env.export(params={"_type": "Patient"})
    lines = e.lines()["Patient"]
    ids = [json.loads(l)["id"] for l in lines]
    assert len(ids) == len(set(ids))
    ver = e.resources()["Patient"]["conf-ver"]
    assert ver["name"] == [{"family": "VersionTwo"}]


def test_EXP_F_08_download_content_type(env):
    """EXP-F-08: a download is 200 with Content-Type
    application/fhir+ndjson."""
    for item in env.export().items():
        r = download(item["url"], "gzip")
        assert r.status_code == 200
        assert r.headers["Content-Type"] == NDJSON


def test_EXP_F_09_compression_negotiated(env):
    """EXP-F-09: the file is sent identity, gzip or a coding listed in
    Accept-Encoding, and Content-Encoding says which."""
    url = env.export().items()[0]["url"]
    plain = download(url, "identity")
    assert plain.headers.get("Content-Encoding", "identity") == "identity"
    gz = download(url, "gzip")
    assert gz.headers["Content-Encoding"] == "gzip"
    assert identity_bytes(gz) == raw_bytes(plain)
    r = requests.get(url, headers={"Accept-Encoding": None}, stream=True,
                     timeout=30)
    assert r.headers.get("Content-Encoding", "identity") == "identity"


def test_EXP_F_11_range_etag_vary(env):
    """EXP-F-11: Range/206 and strong ETags on stored files; Vary:
    Accept-Encoding."""
    url = env.export().items()[0]["url"]
    full = download(url)
    body = raw_bytes(full)
    etag = full.headers["ETag"]
    assert not etag.startswith("W/") and etag.startswith('"')
    assert "accept-encoding" in full.headers["Vary"].lower()
    part = download(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206
    assert raw_bytes(part) == body[10:100]
    assert part.headers["Content-Range"] == "bytes 10-99/%d" % len(body)
    assert download(url, headers={"If-None-Match": etag}).status_code == 304


def test_EXP_E_01_expires_header(env):
    """EXP-E-01: the complete status carries Expires (an HTTP-date in the
    future)."""
    r = env.export().final
    exp = parsedate_to_datetime(r.headers["Expires"])
    assert exp > datetime.now(timezone.utc)
    assert r.headers["Expires"].endswith("GMT")


def test_EXP_O_01_one_type_per_file(env):
    """EXP-O-01: without organizeOutputBy each file holds a single
    resource type."""
    for e in (env.export(), env.export("/Patient/$export")):
        for item in e.items():
            types = {json.loads(l)["resourceType"] for l in
                     env.file_bytes(item["url"]).decode().splitlines()}
            assert types == {item["type"]}


def test_EXP_O_02_organize_output_by_patient_blocks(env):
    """EXP-O-02 / EXP-M-08: organizeOutputBy=Patient gives blocks (a
    Parameters header with a valueReference to the patient, the patient,
    then resources referencing it); outputOrganizedBy set, no type."""
    e = env.export("/Group/%s/$export" % family_group(env),
                   params={"organizeOutputBy": "Patient"})
    m = e.manifest
    assert m["outputOrganizedBy"] == "Patient"
    assert m["output"] and all("type" not in i for i in m["output"])
    current = None
    seen = set()
    for item in m["output"]:
        for line in env.file_bytes(item["url"]).decode().splitlines():
            r = json.loads(line)
            if r["resourceType"] == "Parameters":
                ref = r["parameter"][0]["valueReference"]["reference"]
                assert r["parameter"][0]["name"] == "header"
                current = ref[len("Patient/"):]
                assert current not in seen
                seen.add(current)
                continue
            assert current is not None
            assert patient_of(r) == current, (current, r["id"])
    group = json.loads(env.store("type = 'Group' AND id = %s",
                                 [family_group(env)])
                       [("Group", family_group(env))])
    assert seen == {m["entity"]["reference"][8:] for m in group["member"]}


# ===================================================================
# §1.16 CapabilityStatement
# ===================================================================

@pytest.fixture(scope="module")
def metadata(env):
    r = requests.get(env.fhir + "/metadata", headers={"Accept": FHIR_JSON},
                     timeout=30)
    assert r.status_code == 200
    return r.json()


def test_EXP_CS_01_instantiates_bulk_data(metadata):
    """EXP-CS-01: CapabilityStatement.instantiates holds the bulk-data
    CapabilityStatement canonical."""
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" \
        in metadata["instantiates"]


def test_EXP_CS_02_export_operations_declared(metadata, lab):
    """EXP-CS-02: export operations: system in rest.operation, Patient and
    Group in rest.resource[].operation, with the IG canonicals."""
    base = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
    rest = metadata["rest"][0]

    def declared(ops, name, canonical):
        return any(o["name"] == name and
                   o["definition"].split("|")[0] == canonical for o in ops)
    # Names as in the IG's own CapabilityStatement (issue 11, item 4).
    assert declared(rest.get("operation", []), "export", base + "export")
    res = {r["type"]: r for r in rest["resource"]}
    assert declared(res["Patient"].get("operation", []), "patient-export",
                    base + "patient-export")
    assert declared(res["Group"].get("operation", []), "group-export",
                    base + "group-export")
    # With auth = smart the SMART oauth-uris extension names the token
    # URL (AUTH-D-05); without authorization there is none (EXP-SEC-02).
    assert "oauth-uris" in json.dumps(rest.get("security", {}))
    off = requests.get(lab.fhir + "/metadata", timeout=30,
                       headers={"Accept": FHIR_JSON}).json()["rest"][0]
    assert "oauth-uris" not in json.dumps(off.get("security", {}))


def test_EXP_CS_04_types_and_type_filter_search_params(metadata):
    """EXP-CS-04: the statement reflects the bulk operations: exportable
    types under rest.resource, _typeFilter parameters under searchParam."""
    res = {r["type"]: r for r in metadata["rest"][0]["resource"]}
    assert OPENIMIS_TYPES <= set(res)
    want = {
        "Patient": {"identifier", "gender", "birthdate", "family"},
        "Group": {"identifier", "type"},
        "Coverage": {"status", "beneficiary", "period", "class-value"},
        "Claim": {"status", "use", "created", "patient", "provider",
                  "identifier"},
        "ClaimResponse": {"outcome", "created", "request"},
    }
    for t in OPENIMIS_TYPES:
        names = {p["name"] for p in res[t].get("searchParam", [])}
        assert {"_id", "_lastUpdated"} <= names, t
        assert want.get(t, set()) <= names, (t, names)


# ===================================================================
# §4 NDJSON and compression
# ===================================================================

def test_CMP_01_encoding_negotiated_and_reported(env):
    """CMP-01: compression is negotiated with Accept-Encoding and reported
    with Content-Encoding; identity and gzip always work."""
    url = env.export().items()[0]["url"]
    want = raw_bytes(download(url, "identity"))
    for ae, enc in (("gzip", "gzip"), ("zstd", "zstd"),
                    ("identity", "identity"), ("br, gzip;q=0.5", "gzip"),
                    ("gzip;q=0.2, zstd;q=0.9", "zstd")):
        r = download(url, ae)
        assert r.status_code == 200
        assert r.headers.get("Content-Encoding", "identity") == enc, ae
        assert identity_bytes(r) == want


def test_CMP_02_gzip_is_rfc1952_and_type_unchanged(env):
    """CMP-02: gzip is RFC 1952 and Content-Type stays
    application/fhir+ndjson (never application/gzip)."""
    url = env.export().items()[0]["url"]
    r = download(url, "gzip")
    data = raw_bytes(r)
    assert data[:3] == b"\x1f\x8b\x08"
    assert r.headers["Content-Type"] == NDJSON
    gzip.decompress(data)


def zstd_window(data):
    """Window size of the first zstd frame (RFC 8878 §3.1.1.1)."""
    assert data[:4] == b"\x28\xb5\x2f\xfd"
    fhd = data[4]
    single = (fhd >> 5) & 1
    fcs_flag = fhd >> 6
    did_flag = fhd & 3
    pos = 5
    if not single:
        wd = data[pos]
        pos += 1
        exponent, mantissa = wd >> 3, wd & 7
        base = 1 << (10 + exponent)
        return base + (base // 8) * mantissa
    pos += (0, 1, 2, 4)[did_flag]
    size = {0: 1, 1: 2, 2: 4, 3: 8}[fcs_flag]
    fcs = int.from_bytes(data[pos:pos + size], "little")
    return fcs + 256 if size == 2 else fcs


def test_CMP_03_zstd_window_at_most_8mb(env):
    """CMP-03: zstd content needs a window of at most 8 MB (RFC 9659)."""
    e = env.export()
    biggest = max(e.items(), key=lambda i: i["count"])
    for item in (e.items()[0], biggest):
        r = download(item["url"], "zstd")
        assert r.headers["Content-Encoding"] == "zstd"
        assert zstd_window(raw_bytes(r)) <= 8 * 1024 * 1024


def test_CMP_04_zstd_only_when_accepted(env):
    """CMP-04: Content-Encoding: zstd only when Accept-Encoding lists zstd
    with q>0; otherwise gzip or identity."""
    url = env.export().items()[0]["url"]
    for ae in ("gzip", "zstd;q=0, gzip", "identity", "deflate, gzip",
               "zstd;q=0"):
        r = download(url, ae)
        assert r.status_code == 200, ae
        assert r.headers.get("Content-Encoding", "identity") != "zstd", ae
    assert download(url, "zstd;q=0.1").headers["Content-Encoding"] == "zstd"


def all_file_bytes(env):
    out = []
    for e in (env.export(), env.export(params={"_since":
                                               "2026-06-02T00:00:00Z"}),
              env.export(params={"_type": "Medication", "_count": "10"},
                         headers={"Prefer":
                                  "respond-async, handling=lenient"})):
        for ch in ("output", "deleted", "error"):
            for item in e.items(ch):
                out.append((item, env.file_bytes(item["url"])))
    return out


def test_ND_01_one_compact_resource_per_line(env):
    """ND-01: one resource per line, serialized without whitespace."""
    for item, data in all_file_bytes(env):
        for line in data.decode("utf-8").split("\n")[:-1]:
            r = json.loads(line)
            assert json.dumps(r, separators=(",", ":"),
                              ensure_ascii=False) == line


def test_ND_03_valid_json_lines_utf8(env):
    """ND-03: each line is valid JSON followed by LF, no raw newline or CR
    inside, UTF-8 encoded."""
    for item, data in all_file_bytes(env):
        text = data.decode("utf-8", errors="strict")
        assert text.endswith("\n")
        assert "\r" not in text
        for line in text[:-1].split("\n"):
            assert isinstance(json.loads(line), dict)


def test_ND_05_media_type_and_aliases(env):
    """ND-05: downloads are labelled application/fhir+ndjson; the three
    _outputFormat spellings are accepted."""
    for f in ("application/fhir+ndjson", "application/ndjson", "ndjson"):
        e = env.export(params={"_type": "Coverage", "_outputFormat": f})
        r = download(e.items()[0]["url"])
        assert r.headers["Content-Type"] == NDJSON


def test_ND_06_writer_rules(env):
    """ND-06: LF only, exactly one resource per line, no BOM, the last
    line ends with LF, resourceType first, no empty file listed."""
    for item, data in all_file_bytes(env):
        assert not data.startswith(b"\xef\xbb\xbf")
        assert data and data.endswith(b"\n")
        assert b"\r" not in data and b"\n\n" not in data
        for line in data.split(b"\n")[:-1]:
            assert line.startswith(b'{"resourceType":"'), line[:40]
            assert line == line.strip()


# ===================================================================
# §5 Pain points
# ===================================================================

def _sanitized(binary):
    """True for an ASan build (its leak checker is what sees PP-14's
    leak)."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


ASAN = _sanitized(os.environ.get("BULKHEAD_BIN", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "build", "bulkhead"))) \
    and "detect_leaks=0" not in os.environ.get("ASAN_OPTIONS", "")


def test_PP_14_unknown_or_foreign_job_ids_404(env, bh_bin, tmp_path):
    """PP-14: unknown or foreign job ids give a 404 OperationOutcome,
    never a 500."""
    noop = cli(bh_bin, env.db, "jobs", "submit", "noop").stdout.decode()
    noop = noop.strip()
    ids = ["0" * 32, uuid.uuid4().hex, noop, "x" * 200, "..", "a.b",
           "%00", "%2e%2e"]
    # An API process of its own, so that its log (and a sanitizer's
    # report at exit) belongs to these requests alone.
    with running(bh_bin, env.db, tmp_path, "serve",
                 {"BULKHEAD_DATA_DIR": str(env.data_dir)}) as api:
        for i in ids:
            for method in ("GET", "DELETE"):
                st, h, body = raw(api, method, "/fhir/_jobs/" + i)
                assert st == 404, (method, i, st, body)
                assert json.loads(body)["resourceType"] == \
                    "OperationOutcome"
            st, h, body = raw(api, "GET", "/fhir/_jobs/%s/files/"
                              "Patient-0001.ndjson.zst" % i)
            assert st == 404, (i, st, body)
            assert json.loads(body)["resourceType"] == "OperationOutcome"


def test_PP_09_transaction_time_and_since_chain(env):
    """PP-09: a resource modified after transactionTime (even by a
    transaction still open when the export started) is not in that export,
    and an export with _since=transactionTime picks it up."""
    conn = psycopg2.connect(env.db.url)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE resources SET content = %s, "
                        "last_updated = now(), version = version + 1 "
                        "WHERE type = 'Patient' AND id = 'conf-pp09'",
                        [json.dumps({"resourceType": "Patient",
                                     "id": "conf-pp09",
                                     "gender": "female"},
                                    separators=(",", ":"))])
            # The writer's transaction is open while the export runs.
            first = env.export(params={"_type": "Patient"}, cache=False)
        conn.commit()
    finally:
        conn.close()
    old = first.resources()["Patient"]["conf-pp09"]
    assert old["gender"] == "unknown"
    changed = env.db.scalar("SELECT last_updated FROM resources WHERE "
                            "type = 'Patient' AND id = 'conf-pp09'")
    tt = first.manifest["transactionTime"]
    assert parse_instant(tt) < changed, (tt, iso(changed))
    # The incremental chain: each export starts at the previous one's
    # transactionTime.  (Another writer still open, even in another
    # database of the cluster, may hold an export's transactionTime back;
    # then the change is for the next link, never lost.)
    for _ in range(4):
        nxt = env.export(params={"_type": "Patient", "_since": tt},
                         cache=False)
        got = nxt.resources().get("Patient", {})
        if "conf-pp09" in got:
            assert got["conf-pp09"]["gender"] == "female"
            return
        tt = nxt.manifest["transactionTime"]
        assert parse_instant(tt) < changed, (tt, iso(changed))
        time.sleep(0.5)
    pytest.fail("the change never reached an export: " + iso(changed))


# ===================================================================
# What an outside Bulk Data test suite checks (issue 11)
# ===================================================================

LEVELS = ("/$export", "/Patient/$export", "/Group/%s/$export")
PARAMS_BODY = {"resourceType": "Parameters", "parameter": [
    {"name": "_type", "valueString": "Patient"}]}


def level_paths(env):
    return [p % env.crafted["group"] if "%s" in p else p for p in LEVELS]


def test_EXP_S_05_in_progress_has_no_json_content_type(idle):
    """EXP-S-05: an in-progress answer is 202 with X-Progress and
    Retry-After and no body, so no JSON Content-Type (a client parsing
    any body labelled JSON failed on an empty one); with
    separate-export-status the same holds for its 200."""
    for prefer in ("respond-async", "respond-async, separate-export-status"):
        name = "s05b-" + prefer[-6:]
        k = idle_kickoff(idle, name, prefer)
        assert k.status_code == 202, k.text
        r = requests.get(k.headers["Content-Location"], timeout=30,
                         headers=idle_auth(idle, name))
        assert r.status_code in (200, 202), r.status_code
        assert "X-Progress" in r.headers and "Retry-After" in r.headers
        ctype = r.headers.get("Content-Type", "")
        if r.content:
            assert r.json()["resourceType"] == "OperationOutcome"
        else:
            assert "json" not in ctype, ctype
        _h.check_empty_or_outcome(r)
        d = requests.delete(k.headers["Content-Location"], timeout=30,
                            headers=idle_auth(idle, name))
        assert d.status_code == 202
        _h.check_empty_or_outcome(d)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_EXP_H_01_missing_or_json_only_accept_rejected(env, method):
    """EXP-H-01: at all three levels, GET and POST, a kick-off without
    Accept, or whose Accept lacks application/fhir+json, is a 400
    OperationOutcome."""
    body = PARAMS_BODY if method == "POST" else None
    params = None if method == "POST" else {"_type": "Patient"}
    for path in level_paths(env):
        for accept in (None, "application/json"):
            r = env.kickoff(path, params=params, method=method, body=body,
                            headers={"Accept": accept})
            oo = is_outcome(r, 400)
            assert "Accept" in json.dumps(oo), oo


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_EXP_H_02_missing_respond_async_rejected(env, method):
    """EXP-H-02: at all three levels, GET and POST, a kick-off without
    Prefer: respond-async is a 400 OperationOutcome."""
    body = PARAMS_BODY if method == "POST" else None
    params = None if method == "POST" else {"_type": "Patient"}
    for path in level_paths(env):
        r = env.kickoff(path, params=params, method=method, body=body,
                        headers={"Prefer": None})
        oo = is_outcome(r, 400)
        assert "respond-async" in json.dumps(oo), oo


def test_EXP_P_SI_5_future_since_rejected(env):
    """EXP-P-SI-5: a _since in the future can only be a client bug: 400
    OperationOutcome on GET and POST, as for an invalid instant."""
    future = "2057-01-01T00:00:00+05:00"
    is_outcome(env.kickoff(params={"_since": future}), 400)
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "_since", "valueInstant": future}]}
    is_outcome(env.kickoff(method="POST", body=body), 400)
    is_outcome(env.kickoff("/Patient/$export", params={"_since": future},
                           headers={"Prefer":
                                    "respond-async, handling=lenient"}),
               400)


def test_EXP_CS_02_operation_names_and_definitions(metadata):
    """EXP-CS-02: system operation 'export', Patient 'patient-export' and
    Group 'group-export', each with its IG canonical definition."""
    base = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
    rest = metadata["rest"][0]
    assert [(o["name"], o["definition"]) for o in rest["operation"]
            if o["definition"].startswith(base)] == [
                ("export", base + "export")]
    res = {r["type"]: r for r in rest["resource"]}
    for t, name in (("Patient", "patient-export"),
                    ("Group", "group-export")):
        ops = [(o["name"], o["definition"]) for o in res[t]["operation"]]
        assert ops == [(name, base + name)], ops


def all_provenance(env):
    """{id: resource} of every live Provenance in the store: the crafted
    ones and the generated claims' (bulkhead generate writes some)."""
    return {i: json.loads(c) for (_, i), c in
            env.store("type = 'Provenance'").items()}


def target_refs(p):
    """A Provenance's targets as "Type/id", any version suffix dropped."""
    return {"/".join(t.get("reference", "").split("/")[:2])
            for t in p.get("target", [])}


def provenance_of(env, refs):
    """{id: resource} of the Provenance targeting any of refs."""
    return {i: p for i, p in all_provenance(env).items()
            if target_refs(p) & set(refs)}


def latest_of(env, refs):
    out = {}
    every = all_provenance(env).values()  # one query, not one per ref
    for ref in refs:
        cands = [p for p in every if ref in target_refs(p)]
        if cands:
            best = max(cands, key=lambda p: (parse_instant(p["recorded"]),
                                             p["id"]))
            out[best["id"]] = best
    return out


def test_EXP_P_IA_1_latest_and_relevant_provenance(env):
    """EXP-P-IA-1/IA-3: LatestProvenanceResources adds, for each exported
    resource, its newest Provenance; RelevantProvenanceResources all of
    them; both (comma-separated, or repeated, GET or POST) give the
    larger set.  _type need not name Provenance."""
    p = env.crafted["patients"]
    refs = {"Patient/" + x for x in p}
    grp = "/Group/%s/$export" % env.crafted["group"]
    members = {"Patient/" + x for x in env.crafted["active_members"]}
    latest = env.export("/Patient/$export", params={
        "_type": "Patient", "includeAssociatedData":
        "LatestProvenanceResources"})
    got = latest.resources().get("Provenance", {})
    exported = {"Patient/" + i for i in latest.resources()["Patient"]}
    assert refs <= exported
    assert set(got) == set(latest_of(env, exported)) == {
        "conf-prov-new", "conf-prov-two"}
    assert [i["type"] for i in latest.items()].count("Provenance") >= 1
    relevant = env.export("/Patient/$export", params={
        "_type": "Patient", "includeAssociatedData":
        "RelevantProvenanceResources"})
    assert set(relevant.resources()["Provenance"]) == set(
        provenance_of(env, exported)) == {"conf-prov-old", "conf-prov-new",
                                           "conf-prov-two"}
    both = env.export(grp, params={"_type": "Patient",
                                   "includeAssociatedData":
                                   "LatestProvenanceResources,"
                                   "RelevantProvenanceResources"})
    assert set(both.resources()["Provenance"]) == set(
        provenance_of(env, members | {"Group/" + env.crafted["group"]}))
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Patient"},
        {"name": "includeAssociatedData",
         "valueCode": "LatestProvenanceResources"},
        {"name": "includeAssociatedData",
         "valueCode": "RelevantProvenanceResources"}]}
    post = env.export(grp, method="POST", body=body)
    assert set(post.resources()["Provenance"]) == set(
        both.resources()["Provenance"])
    # Without the parameter, no Provenance at Patient level.
    plain = env.export("/Patient/$export", params={"_type": "Patient"})
    assert "Provenance" not in {i["type"] for i in plain.items()}
    # System level, _type=Medication: no Medication has Provenance.
    sysl = env.export(params={"_type": "Medication",
                              "includeAssociatedData":
                              "RelevantProvenanceResources"})
    assert "Provenance" not in sysl.resources()
    for line in sum(sysl.lines().values(), []):
        assert json.loads(line)["resourceType"] == "Medication"


def test_EXP_P_IA_5_provenance_without_the_parameter(env):
    """EXP-P-IA-5: without includeAssociatedData, a Patient- or Group-level
    export includes every Provenance whose target is in the Patient
    compartment (a resource it exports for its patients), a system-level
    export every Provenance; a _type list that leaves Provenance out
    leaves it out."""
    def compartment_refs(e):
        return {t + "/" + i for t, rs in e.resources().items()
                if t not in ("Provenance", "Organization", "Practitioner",
                             "Location")
                for i in rs}
    plain = env.export("/Patient/$export")
    got = set(plain.resources().get("Provenance", {}))
    assert got == set(provenance_of(env, compartment_refs(plain)))
    # The crafted ones among the generated claims' Provenance.
    assert {"conf-prov-old", "conf-prov-new", "conf-prov-two"} <= got
    grp = env.export("/Group/%s/$export" % env.crafted["group"])
    members = {"Patient/" + x for x in env.crafted["active_members"]}
    assert members | {"Group/" + env.crafted["group"]} <= \
        compartment_refs(grp)
    assert set(grp.resources().get("Provenance", {})) == set(
        provenance_of(env, compartment_refs(grp)))
    # _type naming Provenance: the Provenance of the listed types' rows.
    typed = env.export("/Patient/$export",
                       params={"_type": "Patient,Provenance"})
    assert set(typed.resources().get("Provenance", {})) == set(
        provenance_of(env, compartment_refs(typed)))
    assert not [w for w in warnings_text(typed) if "Provenance" in
                json.dumps(w)]
    # _type leaving it out: none.
    for path in ("/Patient/$export",
                 "/Group/%s/$export" % env.crafted["group"]):
        e = env.export(path, params={"_type": "Patient"})
        assert "Provenance" not in {i["type"] for i in e.items()}
    # System level: every Provenance.
    sysl = env.export()
    assert set(sysl.resources()["Provenance"]) == {
        i for _, i in env.store_ids("type = 'Provenance'")}


def test_EXP_P_TY_5_out_of_compartment_types_dropped_with_warning(env):
    """EXP-P-TY-5: at Patient and Group level a _type list mixing
    compartment types with others is accepted: the others are left out
    with a warning in the manifest's error file; only a list with no
    exportable type at all is a 400."""
    for path in level_paths(env)[1:]:
        e = env.export(path, params={"_type": "ActivityDefinition,Patient"})
        assert {i["type"] for i in e.items()} == {"Patient"}
        text = json.dumps(warnings_text(e))
        assert "ActivityDefinition" in text, text
        is_outcome(env.kickoff(path, params={"_type": "ActivityDefinition"}),
                   400)


def test_EXP_M_06_kickoff_warnings_first_in_error_file(env):
    """EXP-M-06 / EXP-L-03: warnings go to the error channel as
    {type: OperationOutcome, url} NDJSON files, and the file's first line
    is an OperationOutcome of the kick-off's own warnings."""
    e = env.export("/Patient/$export", params={
        "_type": "InsurancePlan,Coverage", "_count": "3"},
        headers={"Prefer": "respond-async, handling=lenient"})
    items = e.items("error")
    assert items and all(set(i) >= {"type", "url"} and
                         i["type"] == "OperationOutcome" for i in items)
    lines = [json.loads(x) for x in env.file_bytes(items[0]["url"])
             .decode().splitlines()]
    # One OperationOutcome per ignored parameter (EXP-L-03), the
    # kick-off's first: InsurancePlan (item 6, even when strict) and _count.
    assert all(o["resourceType"] == "OperationOutcome" for o in lines)
    assert lines[0]["issue"][0]["severity"] == "warning"
    assert "InsurancePlan" in json.dumps(lines[0]), lines[0]
    assert "_count" in json.dumps(lines[1]), lines[1]
