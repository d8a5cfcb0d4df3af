"""Helpers for the $import end-to-end tests (test_import.py).

  - ImportFiles: the stand-in remote file server of fileserver.py (reused
    as is) with two extra routes that $import needs and fetch's tests did
    not: /slow/RATE/NAME (NAME at RATE bytes/s, so that a job can be
    cancelled or its worker killed mid-input) and /raw-ce/CODING/NAME
    (NAME's stored bytes as they are, labelled Content-Encoding: CODING,
    so that a crafted corrupt gzip or zstd body is sent exactly);
  - kick-off bodies in both forms (FHIR Parameters and the plain-JSON
    manifest of the SMART import draft);
  - Importer: kick-off, polling and the manifest of one 'bulkhead run' /
    'serve' (a conftest Server), the error files as parsed
    OperationOutcomes;
  - crafted corrupt gzip and zstd bodies whose valid prefix is known
    exactly.
"""
import importlib.util
import json
import os
import re
import sys
import time
import zlib

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fileserver  # noqa: E402
from fileserver import FileServer, etag_of, zstd_compress  # noqa: E402,F401

FHIR_JSON = "application/fhir+json"
PLAIN_JSON = "application/json"
NDJSON = "application/fhir+ndjson"
JOB_URL = re.compile(r"^(https?://[^/]+/fhir)/_jobs/([0-9a-f]{32})$")
WHERE = re.compile(r" line (\d+) \(byte offset (\d+)\)")
PROGRESS = re.compile(r"^(\d+)/(\d+) files, ([\d,]+) lines, ([\d,]+) errors$")


def e2e_conftest():
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


# ---- the file server --------------------------------------------------------

class _ImportHandler(fileserver._Handler):
    """fileserver's handler plus the routes only $import needs."""

    def _r_slow(self, parts, q):
        """/slow/RATE/NAME: NAME at about RATE bytes/s, in 20 slices a
        second; Content-Length and an ETag as /files/ sends them."""
        rate = int(parts[0])
        data = self._file("/".join(parts[1:]))
        if data is None:
            return self._not_found()
        self.send_response(200)
        self.send_header("Content-Type", NDJSON)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", etag_of(data))
        self.end_headers()
        step = max(1, rate // 20)
        for i in range(0, len(data), step):
            self.wfile.write(data[i:i + step])
            self.wfile.flush()
            if self.server.stop.wait(0.05):
                break
        self.close_connection = True

    def _r_raw_ce(self, parts, q):
        """/raw-ce/CODING/NAME: the stored bytes, labelled CODING."""
        data = self._file("/".join(parts[1:]))
        if data is None:
            return self._not_found()
        self._send(200, data, [("Content-Type", NDJSON),
                               ("Content-Encoding", parts[0])])


class ImportFiles(FileServer):
    """A FileServer (fileserver.py) serving root, with the extra routes."""

    def __init__(self, root, host="127.0.0.1", port=0):
        super().__init__(root, host, port)
        self.srv.RequestHandlerClass = _ImportHandler
        self.root = str(root)

    def put(self, name, data):
        """Writes NAME under the served root; returns its /files/ URL."""
        with open(os.path.join(self.root, name), "wb") as fp:
            fp.write(data)
        return self.url("/files/" + name)


# ---- NDJSON -----------------------------------------------------------------

def patient(pid, **extra):
    """One compact Patient line (bytes, no newline)."""
    r = {"resourceType": "Patient", "id": pid}
    r.update(extra)
    return json.dumps(r, separators=(",", ":")).encode()


def ndjson(lines, end=b"\n"):
    return b"".join(line + end for line in lines)


def line_starts(data):
    """Byte offset of the start of each line (1-based index: [0] unused)."""
    starts, pos = [None], 0
    for line in data.split(b"\n"):
        starts.append(pos)
        pos += len(line) + 1
    return starts


# ---- kick-off bodies --------------------------------------------------------

def params_body(inputs, mode=None, input_format="application/fhir+ndjson",
                source="https://openimis.example/fhir", storage="https"):
    """A Parameters kick-off body; inputs: [(type, url)] or
    [(type, url, etag)]."""
    p = []
    if input_format is not None:
        p.append({"name": "inputFormat", "valueCode": input_format})
    if source is not None:
        p.append({"name": "inputSource", "valueUri": source})
    if storage is not None:
        p.append({"name": "storageDetail",
                  "part": [{"name": "type", "valueCode": storage}]})
    if mode is not None:
        p.append({"name": "mode", "valueCode": mode})
    for inp in inputs:
        part = [{"name": "type", "valueCode": inp[0]},
                {"name": "url", "valueUri": inp[1]}]
        if len(inp) > 2:
            part.append({"name": "etag", "valueString": inp[2]})
        p.append({"name": "input", "part": part})
    return {"resourceType": "Parameters", "parameter": p}


def manifest_body(inputs, mode=None, input_format="application/fhir+ndjson",
                  source="https://openimis.example/fhir", storage="https"):
    """The same request in the plain-JSON manifest form (IMP-M)."""
    b = {"inputFormat": input_format, "inputSource": source,
         "storageDetail": {"type": storage},
         "input": [dict({"type": i[0], "url": i[1]},
                        **({"etag": i[2]} if len(i) > 2 else {}))
                   for i in inputs]}
    if mode is not None:
        b["mode"] = mode
    return b


# ---- the client -------------------------------------------------------------

def outcome(resp, status, code=None):
    """Asserts status and an OperationOutcome body; returns its issue."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].split(";")[0] in (FHIR_JSON,
                                                          PLAIN_JSON)
    oo = resp.json()
    assert oo["resourceType"] == "OperationOutcome", oo
    issue = oo["issue"][0]
    if code is not None:
        assert issue["code"] == code, oo
    return issue


class Importer:
    """$import against one running server (conftest.Server)."""

    def __init__(self, server):
        self.server = server
        self.fhir = server.fhir

    def kickoff(self, body, ctype=None, raw=None):
        if ctype is None:
            ctype = FHIR_JSON if isinstance(body, dict) and \
                body.get("resourceType") == "Parameters" else PLAIN_JSON
        data = raw if raw is not None else json.dumps(body)
        return requests.post(self.fhir + "/$import", data=data, timeout=30,
                             headers={"Content-Type": ctype,
                                      "Accept": FHIR_JSON,
                                      "Prefer": "respond-async"})

    def start(self, body, **kw):
        """Kick-off that must be accepted; returns the status URL."""
        r = self.kickoff(body, **kw)
        assert r.status_code == 202, (r.status_code, r.text)
        loc = r.headers["Content-Location"]
        assert JOB_URL.match(loc), loc
        return loc

    def wait(self, url, timeout=120, interval=0.1):
        """Polls until the job is out of progress (a fast fixed interval:
        Retry-After is checked by the tests that are about it)."""
        deadline = time.monotonic() + timeout
        while True:
            r = requests.get(url, timeout=30)
            if r.status_code != 202:
                return r
            assert time.monotonic() < deadline, "import still running: " + \
                url + " " + r.headers.get("X-Progress", "")
            time.sleep(interval)

    def manifest(self, url, timeout=120):
        r = self.wait(url, timeout)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.headers["Content-Type"].startswith(PLAIN_JSON)
        assert "Expires" in r.headers
        return r.json()

    def run(self, body, timeout=120, **kw):
        """Kick-off, wait, manifest."""
        return self.manifest(self.start(body, **kw), timeout)


def job_id(status_url):
    return JOB_URL.match(status_url).group(2)


def entry(manifest, url):
    """The output entry of one input."""
    found = [o for o in manifest["output"] if o["inputUrl"] == url]
    assert len(found) == 1, (url, manifest)
    return found[0]


def error_entries(manifest, url):
    return [e for e in manifest["error"] if e["inputUrl"] == url]


def download(url):
    r = requests.get(url, headers={"Accept-Encoding": "identity"},
                     timeout=60)
    assert r.status_code == 200, (url, r.status_code, r.text)
    assert r.headers["Content-Type"] == NDJSON
    return r.content


def outcomes(manifest, url):
    """Every OperationOutcome of the input's error files, in order; checks
    that each entry's count is its file's number of lines."""
    oos = []
    for e in error_entries(manifest, url):
        assert e["type"] == "OperationOutcome"
        body = download(e["url"])
        lines = body.split(b"\n")
        assert lines[-1] == b"", "error file does not end with a newline"
        got = [json.loads(x) for x in lines[:-1]]
        assert len(got) == e["count"], (e, len(got))
        for oo in got:
            assert oo["resourceType"] == "OperationOutcome"
            assert len(oo["issue"]) == 1
        oos.extend(got)
    return oos


def issues(oos, severity=None):
    """[(severity, code, line or None, offset or None, diagnostics)]."""
    out = []
    for oo in oos:
        i = oo["issue"][0]
        m = WHERE.search(i["diagnostics"])
        t = (i["severity"], i["code"], int(m.group(1)) if m else None,
             int(m.group(2)) if m else None, i["diagnostics"])
        if severity is None or t[0] == severity:
            out.append(t)
    return out


def check_counts(manifest):
    """linesRead = count + failed + blank for every input, and the totals
    are the sums (IMP-S-02)."""
    tot = {"read": 0, "loaded": 0, "failed": 0, "blank": 0}
    for o in manifest["output"]:
        x = o["extension"]
        assert x["linesRead"] == o["count"] + x["failed"] + x["blank"], o
        tot["read"] += x["linesRead"]
        tot["loaded"] += o["count"]
        tot["failed"] += x["failed"]
        tot["blank"] += x["blank"]
    assert manifest["extension"]["totals"] == tot, manifest


# ---- crafted corrupt bodies -------------------------------------------------

def gzip_corrupt_after(prefix, rest):
    """A gzip body that decodes to exactly prefix and then fails: prefix
    is deflated and fully flushed (byte-aligned, all of it decodable),
    then the next block header is made invalid (BTYPE 11, reserved)."""
    co = zlib.compressobj(6, zlib.DEFLATED, 31)
    body = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    at = len(body)
    body = bytearray(body + co.compress(rest) + co.flush())
    body[at] = 0x07        # BFINAL=1, BTYPE=11: "invalid block type"
    return bytes(body)


def _zstd_blocks(frame):
    """[(offset, last, type, size)] of the blocks of one zstd frame."""
    b = frame
    assert b[:4] == b"\x28\xb5\x2f\xfd"
    fhd = b[4]
    single = (fhd >> 5) & 1
    pos = 5 + (0 if single else 1) + [0, 1, 2, 4][fhd & 3]
    pos += [1 if single else 0, 2, 4, 8][fhd >> 6]
    blocks = []
    while True:
        h = b[pos] | (b[pos + 1] << 8) | (b[pos + 2] << 16)
        last, typ, size = h & 1, (h >> 1) & 3, h >> 3
        blocks.append((pos, last, typ, size))
        pos += 3 + (1 if typ == 1 else size)
        if last:
            return blocks


ZSTD_BLOCK = 128 * 1024    # zstd's largest block: the CLI cuts at it


def zstd_corrupt_after(prefix, rest):
    """A one-frame zstd body that decodes to exactly prefix and then
    fails: prefix (exactly one block, ZSTD_BLOCK bytes) + rest compressed
    together, then the second block's header gets the reserved block type
    3 ("Data corruption detected")."""
    assert len(prefix) == ZSTD_BLOCK and len(rest) > 1024
    frame = bytearray(zstd_compress(prefix + rest))
    blocks = _zstd_blocks(bytes(frame))
    assert len(blocks) >= 2, blocks
    frame[blocks[1][0]] |= 0x06
    return bytes(frame)


def lines_of_size(size, idfmt):
    """Patient lines totalling exactly size bytes (newlines included),
    ids idfmt % i; the last line is padded to fit."""
    out, n, i = [], 0, 0
    while True:
        line = patient(idfmt % i) + b"\n"
        if n + len(line) + 80 > size:
            break
        out.append(line)
        n += len(line)
        i += 1
    base = len(patient(idfmt % i, text="")) + 1
    out.append(patient(idfmt % i, text="x" * (size - n - base)) + b"\n")
    data = b"".join(out)
    assert len(data) == size
    return data
