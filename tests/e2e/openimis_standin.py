"""A stand-in for openIMIS's FHIR R4 module, for the openIMIS job tests.

This is NOT openIMIS: a small HTTP/1.1 server (Python's http.server) on
real sockets on 127.0.0.1 that serves the surface of the openIMIS FHIR R4
module (openimis-be-api_fhir_r4_py) as ../shared/OPENIMIS.md part A
digests it from the module's source, so that Bulkhead's client talks to
it exactly as it would to a real deployment:

  POST <base>/login/    {"username","password"} -> {"token": <JWT>, "exp":
                        <epoch>}; later requests send "Authorization: Bearer
                        <token>" (A1.1, views/login_viewset.py).  HTTP Basic
                        is accepted too (A1.1: DRF BasicAuthentication).  A
                        token past its exp answers 401, as the JWT check does.
  GET <base>/<Type>/    a searchset Bundle with total, link self/next/
                        previous and entry[].fullUrl + resource (A1.1,
                        paginations.py FhirBundleResultsSetPagination):
                        "_count" is the page size (default 10), "page-offset"
                        the page NUMBER from 1 (DRF PageNumberPagination);
                        only current rows (validity_to IS NULL), ordered by
                        validity_from (views/fhir/insuree.py list).  The
                        next/previous links are passed through
                        urllib.parse.quote_plus (A1.1 [gotcha], at commit
                        9f63fab; a later commit comments that out: pass
                        encode_links=False for that behaviour).
  _lastUpdated          on validity_from, prefixes eq ne gt lt ge le sa eb,
                        value %Y-%m-%dT%H:%M:%S (A1.1,
                        views/filters/requestParameterFilter.py); a bad value
                        answers 400.
  Coverage, Contract    carry no "id", only identifier UUID (+ ACSN) (A1.6,
                        A1.7).
  GET <base>/Claim/?identifier=CODE  the claim with that code, or 404
                        (A1.1: Claim accepts identifier; the list view
                        retrieves by identifier like the insuree view).
  GET <base>/ClaimResponse/<claim uuid>  the claim's adjudication view
                        (A1.2: ClaimResponse is a GET view of Claim).
  POST <base>/Claim/    201 with a ClaimResponse (A1.8 POST behaviour), or
                        400 with an OperationOutcome: claim code not under
                        the configured type (A1.3 fhir_code_for_imis_claim_
                        code_type, "MR" by default), a duplicate code
                        (check_unique_claim_code), an unknown patient, or a
                        missing created/total (both required on input).

Versioning follows A1.1 [gotcha]: an update copies the row to history (the
current row keeps its id and uuid and gets a new validity_from), a delete
is soft (validity_to set), so a deleted resource simply stops being listed.

Speed (so that the bench measures Bulkhead and the pace, not this
process; tests/bench/openimis.py): every row's JSON is rendered once
(Row.text, on first listing or by warm()), each type's current rows are
kept sorted by validity_from until the type changes (a version counter),
_lastUpdated selects by bisection on that order, and a page is the join
of its rows' pre-rendered texts.  What a page says is unchanged.  The
server is threaded (a thread per connection, ThreadingMixIn), as Django
under gunicorn serves one request per worker at a time.

Test controls (not openIMIS; Python calls on the object, the server runs
in a thread): rps_limit (429 beyond N requests per wall-clock second),
token_ttl (seconds a login token lives), delay (seconds added to each
answer), go_down()/come_up() (the listening socket closed and reopened on
the same port), counters of POSTs per claim code (also as JSON at
GET /_standin/stats, for the bench's stand-in in its own process, with
peak_rps: the most requests seen in one wall-clock second; POST
/_standin/reset_peak starts that count again).

    with StandIn() as oi:
        oi.add_families(100)
        oi.base   # http://127.0.0.1:PORT/api/api_fhir_r4

or standalone, for the bench: python3 openimis_standin.py FAMILIES [PORT]
"""
import base64
import bisect
import collections
import datetime
import http.server
import json
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid

IDS = "https://openimis.github.io/openimis_fhir_r4_ig/CodeSystem/openimis-identifiers"
EXT = "https://openimis.github.io/openimis_fhir_r4_ig/StructureDefinition/"
FMT = "%Y-%m-%dT%H:%M:%S"


def ident(code, value):
    return {"type": {"coding": [{"system": IDS, "code": code}]},
            "use": "usual", "value": value}


def now():
    return datetime.datetime.utcnow().replace(microsecond=0)


class Row:
    __slots__ = ("key", "res", "vf", "vt", "_text", "_entry")

    def __init__(self, key, res, vf):
        self.key = key
        self.res = res
        self.vf = vf
        self.vt = None
        self._text = None
        self._entry = None

    @property
    def text(self):
        """The resource as compact JSON bytes, rendered once (a put makes
        a new Row, so res never changes under it)."""
        if self._text is None:
            self._text = json.dumps(self.res,
                                    separators=(",", ":")).encode()
        return self._text

    def entry(self, full):
        """The Bundle entry with fullUrl under full (a JSON string's
        opening, bytes), kept for the last full asked for."""
        e = self._entry
        if e is None or e[0] != full:
            if "id" in self.res:
                b = b'{"resource":%s,"fullUrl":%s%s"}' % (
                    self.text, full, self.res["id"].encode())
            else:
                b = b'{"resource":%s}' % self.text
            e = self._entry = (full, b)
        return e[1]


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True    # headers and body go out separately

    def log_message(self, *a):
        pass

    def handle(self):
        # Tracked so that go_down() also drops kept-alive connections.
        conns = self.server.standin.conns
        conns.add(self.connection)
        try:
            super().handle()
        except OSError:
            pass
        finally:
            conns.discard(self.connection)

    def _send(self, code, obj, extra=None):
        self._send_raw(code, json.dumps(obj).encode(), extra)

    def _send_raw(self, code, body, extra=None):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _outcome(self, code, text, extra=None):
        self._send(code, {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "invalid",
             "details": {"text": text}}]}, extra)

    def do_GET(self):
        self.server.standin.handle(self, "GET")

    def do_POST(self):
        self.server.standin.handle(self, "POST")


class StandIn:
    def __init__(self, rps_limit=0, token_ttl=86400, claim_code_type="MR",
                 encode_links=True, user="admin", password="admin123",
                 port=0):
        self.rps_limit = rps_limit
        self.token_ttl = token_ttl
        self.claim_code_type = claim_code_type
        self.encode_links = encode_links
        self.user, self.password = user, password
        self.delay = 0.0
        self.lock = threading.Lock()
        self.rows = collections.defaultdict(dict)   # type -> key -> Row
        self.version = collections.Counter()        # type -> changes
        self.order = {}     # type -> (version, rows by vf, their vfs)
        self.history = collections.defaultdict(list)
        self.tokens = {}
        self.conns = set()
        self.chfids = set()
        self.posts = collections.Counter()          # claim code -> POSTs
        self.accepted = {}                          # claim code -> uuid
        self.responses = {}                         # uuid -> ClaimResponse
        self.refused = 0
        self.logins = 0
        self.status = collections.Counter()         # HTTP status counts
        self.requests = 0
        self.sec, self.in_sec = 0, 0
        self.psec, self.pin_sec, self.peak_rps = 0, 0, 0
        self.port = port
        self.srv = None
        self.thread = None

    # ---- lifecycle ----

    def start(self):
        self.srv = _Server(("127.0.0.1", self.port), _Handler)
        self.srv.standin = self
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.srv is not None:
            self.srv.shutdown()
            self.srv.server_close()
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.srv = None

    go_down = stop
    come_up = start

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    @property
    def base(self):
        return "http://127.0.0.1:%d/api/api_fhir_r4" % self.port

    # ---- data ----

    def put(self, rtype, key, res, vf=None):
        """Inserts or updates (history copy + new validity_from)."""
        with self.lock:
            old = self.rows[rtype].get(key)
            if old is not None:
                self.history[rtype].append(old)
            self.rows[rtype][key] = Row(key, res, vf or now())
            self.version[rtype] += 1

    def delete(self, rtype, key):
        """Soft delete: validity_to set, the row stops being listed."""
        with self.lock:
            self.rows[rtype][key].vt = now()
            self.version[rtype] += 1

    def current(self, rtype):
        with self.lock:
            return [r for r in self.rows[rtype].values() if r.vt is None]

    def _ordered(self, rtype):
        """(rows, vfs): the current rows of rtype by validity_from (stable
        over insertion order, as the module's ORDER BY validity_from
        leaves ties to the heap), kept until the type changes."""
        with self.lock:
            ver = self.version[rtype]
            o = self.order.get(rtype)
            if o is not None and o[0] == ver:
                return o[1], o[2]
            rows = [r for r in self.rows[rtype].values() if r.vt is None]
        rows.sort(key=lambda r: r.vf)
        vfs = [r.vf for r in rows]
        with self.lock:
            self.order[rtype] = (ver, rows, vfs)
        return rows, vfs

    def warm(self):
        """Sorts every type and renders every row's entry now (for
        requests on <base>/<Type>/), so that the first pages are served as
        fast as the rest."""
        for rtype in list(self.rows):
            full = json.dumps("http://127.0.0.1:%d/api/api_fhir_r4/%s/" % (
                self.port, rtype))[:-1].encode()
            for r in self._ordered(rtype)[0]:
                r.entry(full)

    def add_families(self, n, members=3, vf=None):
        """n families: a Group, its Patients (first is head), a Contract
        and a Coverage each.  Returns the patient uuids."""
        pats = []
        for f in range(n):
            fam = str(uuid.uuid4())
            mem = []
            for m in range(members):
                pid = str(uuid.uuid4())
                chfid = "%09d" % (len(self.rows["Patient"]) + 1)
                self.put("Patient", pid, {
                    "resourceType": "Patient", "id": pid,
                    "identifier": [ident("UUID", pid), ident("Code", chfid)],
                    "name": [{"use": "usual", "family": "Fam%d" % f,
                              "given": ["M%d" % m]}],
                    "birthDate": "1990-03-24", "gender": "female",
                    "extension": [
                        {"url": EXT + "patient-is-head",
                         "valueBoolean": m == 0},
                        {"url": EXT + "patient-group-reference",
                         "valueReference": {"reference": "Group/" + fam}}]},
                    vf)
                self.chfids.add(chfid)
                mem.append((pid, chfid))
                pats.append(pid)
            self.put("Group", fam, {
                "resourceType": "Group", "id": fam, "type": "Person",
                "actual": True, "quantity": members,
                "identifier": [ident("UUID", fam), ident("Code", mem[0][1])],
                "member": [{"entity": {"reference": "Patient/" + p,
                                       "display": c}} for p, c in mem]}, vf)
            pol = str(uuid.uuid4())
            self.put("Contract", pol, {
                "resourceType": "Contract", "status": "Policy",
                "identifier": [ident("UUID", pol)],
                "legalState": {"text": "Offered"},
                "subject": [{"reference": "Group/" + fam}]}, vf)
            self.put("Coverage", pol, {
                "resourceType": "Coverage", "status": "active",
                "identifier": [ident("UUID", pol)],
                "beneficiary": {"reference": "Patient/" + mem[0][1]},
                "period": {"start": "2026-01-01T00:00:00",
                           "end": "2026-12-31T00:00:00"}}, vf)
        return pats

    # ---- HTTP ----

    def _auth(self, h):
        a = h.headers.get("Authorization", "")
        if a.startswith("Bearer "):
            exp = self.tokens.get(a[7:])
            return exp is not None and exp > time.time()
        if a.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(a[6:]).decode().partition(":")
            except Exception:
                return False
            return u == self.user and p == self.password
        return False

    def _limited(self):
        if not self.rps_limit:
            return False
        with self.lock:
            s = int(time.time())
            if s != self.sec:
                self.sec, self.in_sec = s, 0
            self.in_sec += 1
            return self.in_sec > self.rps_limit

    def handle(self, h, method):
        with self.lock:
            self.requests += 1
            s = int(time.time())
            if s != self.psec:
                self.psec, self.pin_sec = s, 0
            self.pin_sec += 1
            self.peak_rps = max(self.peak_rps, self.pin_sec)
        if self.delay:
            time.sleep(self.delay)
        u = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        path = u.path
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else b""
        pre = "/api/api_fhir_r4/"
        code = self._route(h, method, path, q, body, pre)
        with self.lock:
            self.status[code] += 1

    def _route(self, h, method, path, q, body, pre):
        if self._limited():
            h._outcome(429, "Too many requests", {"Retry-After": "1"})
            return 429
        if path == "/_standin/stats":     # test control, not openIMIS
            with self.lock:
                h._send(200, {"requests": self.requests,
                              "accepted": len(self.accepted),
                              "refused": self.refused,
                              "max_posts": max(self.posts.values() or [0]),
                              "logins": self.logins,
                              "peak_rps": self.peak_rps,
                              "status": dict(self.status)})
            return 200
        if path == "/_standin/reset_peak":  # test control, not openIMIS
            with self.lock:
                self.peak_rps, self.pin_sec = 0, 0
            h._send(200, {})
            return 200
        if not path.startswith(pre):
            h._outcome(404, "not found")
            return 404
        rest = path[len(pre):].strip("/")
        if rest == "login" and method == "POST":
            try:
                cred = json.loads(body)
            except ValueError:
                cred = {}
            if cred.get("username") != self.user or \
                    cred.get("password") != self.password:
                h._send(401, {"error": "Invalid credentials"})
                return 401
            exp = int(time.time() + self.token_ttl)
            hdr = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}')
            pl = base64.urlsafe_b64encode(json.dumps(
                {"username": self.user, "exp": exp,
                 "jti": uuid.uuid4().hex}).encode())
            tok = (hdr + b"." + pl + b".c2ln").decode().replace("=", "")
            with self.lock:
                self.tokens[tok] = exp
                self.logins += 1
            h._send(200, {"token": tok, "exp": exp})
            return 200
        if not self._auth(h):
            h._outcome(401, "Authentication credentials were not provided.")
            return 401
        if rest.startswith("ClaimResponse/") and method == "GET":
            with self.lock:
                cr = self.responses.get(rest.split("/", 1)[1])
            if cr is None:
                h._outcome(404, "not found")
                return 404
            h._send(200, cr)
            return 200
        if "/" in rest:
            h._outcome(404, "not found")
            return 404
        if method == "POST" and rest == "Claim":
            return self._post_claim(h, body)
        if method != "GET":
            h._outcome(405, "method not allowed")
            return 405
        return self._search(h, rest, q)

    def _search(self, h, rtype, q):
        if rtype == "Claim" and "identifier" in q:
            with self.lock:
                cid = self.accepted.get(q["identifier"])
                row = self.rows["Claim"].get(cid) if cid else None
            if row is None:
                h._outcome(404, "No Claim with identifier %s"
                           % q["identifier"])
                return 404
            h._send(200, row.res)
            return 200
        rows, vfs = self._ordered(rtype)
        lu = q.get("_lastUpdated")
        if lu:
            ops = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
            op = lu[:2] if lu[:2] in ops else "eq"
            try:
                v = datetime.datetime.strptime(
                    lu[2:] if lu[:2] in ops else lu, FMT)
            except ValueError:
                h._outcome(400, "_lastUpdated value is not a valid datetime")
                return 400
            lo = bisect.bisect_left(vfs, v)
            hi = bisect.bisect_right(vfs, v)
            if op == "eq":
                rows = rows[lo:hi]
            elif op == "ne":
                rows = rows[:lo] + rows[hi:]
            elif op == "gt":
                rows = rows[hi:]
            elif op in ("ge", "sa"):
                rows = rows[lo:]
            elif op == "lt":
                rows = rows[:lo]
            else:                                   # le, eb
                rows = rows[:hi]
        try:
            size = int(q.get("_count", 10))
            page = int(q.get("page-offset", 1))
            assert size > 0 and page > 0
        except (ValueError, AssertionError):
            h._outcome(404, "Invalid page.")
            return 404
        npages = max(1, (len(rows) + size - 1) // size)
        if page > npages:
            h._outcome(404, "Invalid page.")
            return 404
        me = "http://127.0.0.1:%d%s" % (self.port, h.path)

        def link(rel, p):
            qq = dict(q)
            qq["page-offset"] = str(p)
            url = "http://127.0.0.1:%d%s?%s" % (
                self.port, urllib.parse.urlsplit(h.path).path,
                urllib.parse.urlencode(qq))
            if self.encode_links:
                url = urllib.parse.quote_plus(url)
            return {"relation": rel, "url": url}
        links = [{"relation": "self", "url": me}]
        if page < npages:
            links.append(link("next", page + 1))
        if page > 1:
            links.append(link("previous", page - 1))
        full = json.dumps("http://127.0.0.1:%d%s" % (
            self.port, urllib.parse.urlsplit(h.path).path))[:-1].encode()
        head = json.dumps({"resourceType": "Bundle", "type": "searchset",
                           "total": len(rows), "link": links},
                          separators=(",", ":")).encode()
        h._send_raw(200, b"".join((
            head[:-1], b',"entry":[',
            b",".join(r.entry(full)
                      for r in rows[(page - 1) * size:page * size]),
            b"]}")))
        return 200

    def _post_claim(self, h, body):
        try:
            c = json.loads(body)
        except ValueError:
            h._outcome(400, "JSON parse error")
            return 400
        code = None
        for i in c.get("identifier") or []:
            for cd in ((i.get("type") or {}).get("coding") or []):
                if cd.get("code") == self.claim_code_type:
                    code = i.get("value")
        with self.lock:
            if code:
                self.posts[code] += 1
        if c.get("resourceType") != "Claim" or not code:
            self.refused += 1
            h._outcome(400, "Claim without a %s identifier"
                       % self.claim_code_type)
            return 400
        pref = ((c.get("patient") or {}).get("reference") or "")
        pid = pref.split("/", 1)[-1]
        with self.lock:
            known = pid in self.rows["Patient"] or pid in self.chfids
            dup = code in self.accepted
        err = None
        if dup:
            err = "Claim code %s already exists" % code
        elif not known:
            err = "Insuree %s not found" % pid
        elif "created" not in c or "total" not in c:
            err = "Claim requires created and total"
        if err:
            with self.lock:
                self.refused += 1
            h._outcome(400, err)
            return 400
        cid = str(uuid.uuid4())
        stored = dict(c)
        stored["id"] = cid
        stored["identifier"] = [ident("UUID", cid),
                                ident(self.claim_code_type, code)]
        self.put("Claim", cid, stored)
        cr = {
            "resourceType": "ClaimResponse", "id": cid,
            "identifier": [ident("UUID", cid),
                           ident(self.claim_code_type, code)],
            "status": "active", "use": "claim", "outcome": "complete",
            "created": c["created"],
            "request": {"reference": "Claim/" + cid},
            "patient": c.get("patient"),
            "item": [{"itemSequence": it.get("sequence", k + 1),
                      "adjudication": [{"category": {"coding": [
                          {"code": "-2"}], "text": "valuated"}}]}
                     for k, it in enumerate(c.get("item") or [])]}
        with self.lock:
            self.accepted[code] = cid
            self.responses[cid] = cr
        h._send(201, cr)
        return 201


if __name__ == "__main__":
    oi = StandIn(port=int(sys.argv[2]) if len(sys.argv) > 2 else 0,
                 rps_limit=int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    oi.add_families(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
    oi.start()
    oi.warm()       # after start: the entries' fullUrl names the port
    print(oi.base, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        oi.stop()
