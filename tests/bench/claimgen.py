"""tests/bench/claimgen — the isolation benchmark's own Claim generator,
independent of 'bulkhead generate' (src/tools/), so that the benchmark's
input has shapes and sizes Bulkhead's generator never made.

Each line is a FHIR R4 Claim of about 2.0 KB on average (from ~1.1 to
~4.7 KB): 1-8 items with varied productOrService codings, quantities and
prices, 1-5 diagnoses (ICD-10 codes), 0-3 supportingInfo entries, an
identifier or two, a billablePeriod, insurance and the openIMIS-style
extensions, all drawn from a seeded random generator (the same bytes on
every run with the same seed).  Ids are "bc-" and seven digits.

  python3 claimgen.py N OUT [SEED]      # writes N lines to OUT
"""
import json
import random
import sys

ICD = ["A09", "B50.9", "E11.9", "I10", "J06.9", "J18.9", "K29.7", "N39.0",
       "O80", "R50.9", "S06.0", "Z00.0", "A15.0", "B54", "D50.9", "H10.9",
       "L03.9", "M54.5", "T14.1", "Z34.9"]
SERVICES = [("A1", "Consultation"), ("X-RAY", "Chest X-ray"),
            ("LAB-FBC", "Full blood count"), ("LAB-MAL", "Malaria RDT"),
            ("M-PCM500", "Paracetamol 500 mg"), ("M-AMOX250", "Amoxicillin "
             "250 mg suspension"), ("SURG-MIN", "Minor surgery"),
            ("ADM-DAY", "Admission, per day"), ("DELIV", "Normal delivery"),
            ("DENT-EXT", "Tooth extraction"), ("ECG", "Electrocardiogram"),
            ("US-ABD", "Abdominal ultrasound")]
WORDS = ("patient referred from the dispensary with fever cough abdominal "
         "pain follow up visit after treatment chronic condition reviewed "
         "and medication renewed no complications observed").split()


def claim(rng, i):
    n_items = rng.choice([1, 1, 1, 1, 2, 2, 2, 3, 3, 5, 8])
    n_diag = rng.choice([1, 1, 2, 2, 3, 4, 5])
    day = 1 + rng.randrange(28)
    month = 1 + rng.randrange(12)
    start = "2025-%02d-%02d" % (month, day)
    end = "2025-%02d-%02d" % (month, min(28, day + rng.randrange(4)))
    items, total = [], 0.0
    for k in range(n_items):
        code, text = rng.choice(SERVICES)
        qty = rng.choice([1, 1, 1, 2, 3, 5, 10, 20])
        price = round(rng.uniform(0.5, 250.0), 2)
        total += qty * price
        item = {"sequence": k + 1,
                "diagnosisSequence": [1 + rng.randrange(n_diag)],
                "productOrService": {"coding": [{
                    "system": "https://bench.example/CodeSystem/service",
                    "code": code}]},
                "quantity": {"value": qty},
                "unitPrice": {"value": price, "currency": "USD"},
                "net": {"value": round(qty * price, 2), "currency": "USD"}}
        if rng.random() < 0.4:
            item["productOrService"]["coding"][0]["display"] = text
        if rng.random() < 0.3:
            item["extension"] = [{
                "url": "https://openimis.org/fhir/StructureDefinition/"
                       "claim-item-policy", "valueReference": {
                           "reference": "Coverage/cov-%d" % rng.randrange(
                               10 ** 6)}}]
        items.append(item)
    c = {"resourceType": "Claim", "id": "bc-%07d" % i,
         "meta": {"lastUpdated": "2025-%02d-%02dT%02d:%02d:00Z" % (
             month, day, rng.randrange(24), rng.randrange(60))},
         "identifier": [{"system": "https://bench.example/claim-code",
                         "value": "CLM%09d" % (i * 7919 % 10 ** 9)}],
         "status": "active",
         "type": {"coding": [{"system": "http://terminology.hl7.org/"
                              "CodeSystem/claim-type",
                              "code": rng.choice(["institutional",
                                                  "professional",
                                                  "pharmacy"])}]},
         "use": "claim",
         "patient": {"reference": "Patient/bp-%d" % rng.randrange(200000)},
         "billablePeriod": {"start": start, "end": end},
         "created": end,
         "enterer": {"reference": "Practitioner/pr-%d" % rng.randrange(500)},
         "provider": {"reference": "Organization/hf-%d" % rng.randrange(300)},
         "priority": {"coding": [{"code": "normal"}]},
         "diagnosis": [{"sequence": k + 1, "diagnosisCodeableConcept": {
             "coding": [{"system": "http://hl7.org/fhir/sid/icd-10",
                         "code": rng.choice(ICD)}]}}
             for k in range(n_diag)],
         "insurance": [{"sequence": 1, "focal": True, "coverage": {
             "reference": "Coverage/cov-%d" % rng.randrange(10 ** 6)}}],
         "item": items,
         "total": {"value": round(total, 2), "currency": "USD"}}
    if rng.random() < 0.5:
        c["identifier"].append({"system": "https://bench.example/visit",
                                "value": "V-%d" % rng.randrange(10 ** 8)})
    n_info = rng.choice([0, 0, 1, 2, 3])
    if n_info:
        c["supportingInfo"] = [{
            "sequence": k + 1,
            "category": {"coding": [{"code": "info"}]},
            "valueString": " ".join(rng.choice(WORDS) for _ in range(
                rng.randrange(3, 16)))} for k in range(n_info)]
    return json.dumps(c, separators=(",", ":"))


def write(n, path, seed=20261204):
    """Writes n Claims to path; returns the mean line length in bytes."""
    rng = random.Random(seed)
    size = 0
    with open(path, "w", buffering=1 << 20) as f:
        for i in range(n):
            line = claim(rng, i)
            size += len(line) + 1
            f.write(line)
            f.write("\n")
    return size / max(1, n)


if __name__ == "__main__":
    mean = write(int(sys.argv[1]), sys.argv[2],
                 int(sys.argv[3]) if len(sys.argv) > 3 else 20261204)
    print("mean line %.0f bytes" % mean)
