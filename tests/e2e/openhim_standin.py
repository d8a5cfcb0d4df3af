"""A stand-in for OpenHIM core (v8.5) that speaks its documented API over
real HTTP, for the tests and scripts/openhim-standin.sh.  No OpenHIM can
run here (it needs MongoDB); this follows core-js (github.com/jembi/
openhim-core-js, read at fdfa87b, 2024-12-05) behaviour by behaviour:

API (HTTP here; core serves HTTPS on 8080 by default, config/default.json):
- Basic auth of API users, 401 otherwise with no body
  (src/api/authentication.js authenticate(), src/protocols/local.js).
- POST /mediators (src/api/mediators.js addMediator): urn required,
  version required and valid semver else 400; configDefs checked; an
  existing urn is replaced only when semver.gt(new, existing), keeping
  existing config values; a new mediator needs >= 1 endpoint; always 201
  on success (also when nothing changed).
- POST /mediators/:urn/heartbeat (heartbeat()): 404 unknown urn, 400
  without "uptime"; the body is the config when _configModifiedTS >
  _lastHeartbeat or "config": true was sent, else empty; records
  _lastHeartbeat and _uptime.
- PUT /mediators/:urn/config (setConfig()): validated against configDefs
  (validateConfig: string/bool/number/password/struct/array), sets
  _configModifiedTS.
- POST /mediators/:urn/channels (loadDefaultChannels()): creates the
  channels of defaultChannelConfig named in the body array, or all when
  the body is empty or []; 400 when a name is not in defaultChannelConfig;
  channel names are unique (src/model/channels.js ChannelSchema.index
  ("name", {unique: true})), so creating one that exists fails the save
  and the call answers 500 ("Could not load mediator default channel
  config"), the channels saved before it staying.
- GET /heartbeat (src/api/heartbeat.js): public, mediators' uptime or null
  after 60 s without heartbeat.
- GET /mediators, GET /channels (src/api/channels.js getChannels: the
  channels the user may see, all of them for an admin).

Router (src/koaMiddleware.js, src/middleware/*):
- Basic client auth (src/middleware/basicAuthentication.js): clientID and
  password checked as hash(password + salt) with the client's
  passwordAlgorithm (sha512 here); 401 with WWW-Authenticate otherwise.
- Channel match on the path with new RegExp(urlPattern) (requestMatching.js)
  then authorisation by clientID or role in allow (authorisation.js).
- Bodies beyond api.maxBodiesSizeMB (15 MiB) are truncated by core and the
  transaction is not rerunnable (src/utils.js enforceMaxBodiesSize); the
  stand-in answers 413 instead, so a sender that breaks the cap is seen.
- The request is recorded as a transaction (X-OpenHIM-TransactionID on the
  answer).  A channel's behaviour can be scripted: a list of answers
  (status codes, or "timeout") consumed one per request, then 200.

Polling (src/polling.js): tick(channel) sends GET to the primary route's
path with X-OpenHIM-LastRunAt (the job's lastRunAt; "now" on a manual
trigger, src/api/channels.js triggerChannel) and X-OpenHIM-TransactionID;
replay(tid) sends a recorded tick again with the same headers, as a
rerun task does (src/tasks.js).

Fault switches for tests: down() / up() (listener closed / reopened on the
same port), fail_heartbeats (answer 500 n times).

Not OpenHIM: a route's "headers" dict is sent on polling ticks (core's
RouteDef has no such field; a real route sends Basic auth from its
username/password) — the stand-in uses it to carry an operator's Bearer
token to GET /openhim/poll/{schedule}.  Loop (used by main() and the
tests) plays the operator and a receiver around Bulkhead: see its
docstring.
"""
import base64
import hashlib
import json
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import Request, urlopen

MAX_BODIES = 15 * 1024 * 1024        # api.maxBodiesSizeMB default 15
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
CONFIG_TYPES = {"string", "bool", "number", "option", "bigstring", "map",
                "struct", "password"}


def semver_key(v):
    m = SEMVER.match(v)
    major, minor, patch, pre = m.groups()
    # a pre-release sorts before its release (semver 2.0 rule 11)
    return (int(major), int(minor), int(patch), pre is None, pre or "")


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _check_value(d, v):
    t = d["type"]
    if t in ("string", "bigstring", "password"):
        return isinstance(v, str)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "bool":
        return isinstance(v, bool)
    if t == "option":
        return v in d.get("values", [])
    if t == "map":
        return isinstance(v, dict)
    if t == "struct":
        if not isinstance(v, dict):
            return False
        tdefs = {x["param"]: x for x in d.get("template", [])}
        return all(k in tdefs and (x is None or _check_value(tdefs[k], x))
                   for k, x in v.items())
    return False


def validate_config(defs, config):
    """src/api/mediators.js validateConfig: raises ValueError."""
    byname = {d["param"]: d for d in defs}
    for k, v in config.items():
        if k not in byname:
            raise ValueError("No config definition found for parameter %s" % k)
        d = byname[k]
        if v is None:
            continue
        vals = v if d.get("array") else [v]
        if d.get("array") and not isinstance(v, list):
            raise ValueError("Expected config param %s to be an array" % k)
        for x in vals:
            if not _check_value(d, x):
                raise ValueError("Expected config param %s to be a %s"
                                 % (k, d["type"]))


class OpenHIM:
    def __init__(self, api_port=0, router_port=0,
                 users={"root@openhim.org": "openhim-password"}):
        self.users = dict(users)
        self.clients = {}          # clientID -> {salt, hash, roles}
        self.mediators = {}        # urn -> document
        self.channels = []         # channel documents
        self.transactions = []     # router and polling transactions
        self.api_log = []          # (method, path, status)
        self.fail_heartbeats = 0
        self.scripts = {}          # channel name -> [status|"timeout"]
        self.lock = threading.Lock()
        self.api_port, self.router_port = api_port, router_port
        self._api = self._router = None
        self.up()

    # --- life -----------------------------------------------------------
    def _serve(self, handler, port):
        srv = ThreadingHTTPServer(("127.0.0.1", port), handler)
        srv.daemon_threads = True
        srv.him = self
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv

    def up(self):
        if self._api is None:
            self._api = self._serve(ApiHandler, self.api_port)
            self.api_port = self._api.server_address[1]
        if self._router is None:
            self._router = self._serve(RouterHandler, self.router_port)
            self.router_port = self._router.server_address[1]

    def down(self):
        for srv in (self._api, self._router):
            if srv is not None:
                srv.shutdown()
                srv.server_close()
        self._api = self._router = None

    @property
    def api_url(self):
        return "http://127.0.0.1:%d" % self.api_port

    @property
    def router_url(self):
        return "http://127.0.0.1:%d" % self.router_port

    # --- console actions ------------------------------------------------
    def add_client(self, client_id, password, roles=()):
        """POST /clients with the docs' sha512(password + salt) hash."""
        salt = uuid.uuid4().hex
        self.clients[client_id] = {
            "salt": salt, "roles": list(roles),
            "hash": hashlib.sha512((password + salt).encode()).hexdigest()}

    def set_config(self, urn, config):
        """PUT /mediators/:urn/config from the console."""
        with self.lock:
            m = self.mediators[urn]
            validate_config(m.get("configDefs", []), config)
            m["config"] = config
            m["_configModifiedTS"] = time.time()

    def add_channel(self, ch):
        ch = dict(ch)
        ch.setdefault("_id", uuid.uuid4().hex[:24])
        ch.setdefault("status", "enabled")
        with self.lock:
            self.channels.append(ch)
        return ch

    def tick(self, channel_name, last_run_at=None):
        """One polling tick (src/polling.js): GET the primary route."""
        ch = next(c for c in self.channels if c["name"] == channel_name)
        tid = uuid.uuid4().hex[:24]
        headers = {"X-OpenHIM-TransactionID": tid, "channel-id": ch["_id"]}
        if last_run_at is not None:
            headers["X-OpenHIM-LastRunAt"] = last_run_at
        return self._poll(ch, headers)

    def replay(self, tx):
        """A rerun task re-sends a stored transaction's request."""
        ch = next(c for c in self.channels if c["_id"] == tx["channelID"])
        return self._poll(ch, dict(tx["request"]["headers"]))

    def _poll(self, ch, headers):
        r = next(x for x in ch["routes"] if x.get("primary"))
        url = "http://%s:%d%s" % (r["host"], r["port"], r.get("path") or
                                  "/trigger")
        if r.get("username"):
            tok = base64.b64encode(("%s:%s" % (r["username"],
                                               r["password"])).encode())
            headers["Authorization"] = "Basic " + tok.decode()
        for k, v in (r.get("headers") or {}).items():
            headers[k] = v
        try:
            with urlopen(Request(url, headers=headers), timeout=30) as resp:
                status, ctype, body = (resp.status,
                                       resp.headers.get("Content-Type", ""),
                                       resp.read())
        except Exception as e:          # HTTPError carries a body too
            status = getattr(e, "code", 500)
            ctype = e.headers.get("Content-Type", "") if hasattr(e, "headers") and e.headers else ""
            body = e.read() if hasattr(e, "read") else b""
        tx = {"_id": headers["X-OpenHIM-TransactionID"],
              "channelID": ch["_id"], "clientID": "DUMMY-POLLING-USER",
              "request": {"method": "GET", "path": url,
                          "headers": headers, "timestamp": now_iso()},
              "response": {"status": status, "contentType": ctype,
                           "body": body.decode(errors="replace")}}
        if "application/json+openhim" in ctype:
            tx["mediatorResponse"] = json.loads(body)
        with self.lock:
            self.transactions.append(tx)
        return tx


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    @property
    def him(self):
        return self.server.him

    def reply(self, status, body=b"", ctype="application/json", extra=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def basic(self):
        a = self.headers.get("Authorization", "")
        if not a.startswith("Basic "):
            return None, None
        try:
            u, _, p = base64.b64decode(a[6:]).decode().partition(":")
        except Exception:
            return None, None
        return u, p

    def body(self, cap=None):
        n = int(self.headers.get("Content-Length") or 0)
        if cap is not None and n > cap:
            return None
        return self.rfile.read(n) if n else b""


class ApiHandler(_Base):
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        raw = self.body()
        path = self.path.split("?")[0]
        him = self.him
        if method == "GET" and path == "/heartbeat":
            now = time.time()
            return self.reply(200, {
                "master": 1, "now": int(now * 1000),
                "mediators": {u: (m.get("_uptime") if now - m.get(
                    "_lastHeartbeat", 0) <= 60 else None)
                    for u, m in him.mediators.items()}})
        u, p = self.basic()
        if u is None or him.users.get(u) != p:
            him.api_log.append((method, path, 401))
            return self.reply(401)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self.reply(400, "Malformed JSON", "text/plain")
        st = self.dispatch(method, path, body)
        him.api_log.append((method, path, st))

    def dispatch(self, method, path, body):
        him = self.him
        m = re.match(r"^/mediators/([^/]+)/(heartbeat|config|channels)$",
                     path)
        if method == "POST" and path == "/mediators":
            return self.add_mediator(body or {})
        if method == "GET" and path == "/mediators":
            self.reply(200, list(him.mediators.values()))
            return 200
        if method == "GET" and path == "/channels":
            self.reply(200, him.channels)
            return 200
        if m is None:
            self.reply(404, "Not found", "text/plain")
            return 404
        urn, what = m.group(1), m.group(2)
        with him.lock:
            med = him.mediators.get(urn)
        if med is None:
            self.reply(404, "No mediator found for this urn.", "text/plain")
            return 404
        if method == "POST" and what == "heartbeat":
            if him.fail_heartbeats > 0:
                him.fail_heartbeats -= 1
                self.reply(500, "Could not process mediator heartbeat",
                           "text/plain")
                return 500
            if not isinstance(body, dict) or body.get("uptime") is None:
                self.reply(400, "Uptime is required", "text/plain")
                return 400
            with him.lock:
                changed = med.get("_configModifiedTS", 0) > med.get(
                    "_lastHeartbeat", 0)
                send = changed or body.get("config") is True
                med["_lastHeartbeat"] = time.time()
                med["_uptime"] = body["uptime"]
                med.setdefault("_heartbeats", []).append(body)
            if send:
                self.reply(200, med.get("config") or {})
            else:
                self.reply(200)
            return 200
        if method == "PUT" and what == "config":
            try:
                him.set_config(urn, body or {})
            except ValueError as e:
                self.reply(400, str(e), "text/plain")
                return 400
            self.reply(200)
            return 200
        if method == "POST" and what == "channels":
            names = body or []
            defaults = med.get("defaultChannelConfig", [])
            chosen = [c for c in defaults if not names or
                      c["name"] in names]
            if names and len(chosen) < len(names):
                self.reply(400, "Could not load mediator default channel "
                           "config, one or more channels in the request "
                           "body not found in the mediator config (urn: %s)"
                           % urn, "text/plain")
                return 400
            for ch in chosen:
                with him.lock:
                    dup = any(c["name"] == ch["name"] for c in him.channels)
                if dup:
                    self.reply(500, "Could not load mediator default "
                               "channel config (urn: %s): E11000 duplicate "
                               "key error collection: openhim.channels "
                               "index: name_1" % urn, "text/plain")
                    return 500
                him.add_channel(json.loads(json.dumps(ch)))
            self.reply(201)
            return 201
        self.reply(404, "Not found", "text/plain")
        return 404

    def add_mediator(self, med):
        him = self.him
        try:
            if not med.get("urn"):
                raise ValueError("URN is required")
            if not med.get("version") or not SEMVER.match(med["version"]):
                raise ValueError("Version is required. Must be in SemVer "
                                 "form x.y.z")
            for d in med.get("configDefs") or []:
                if d.get("type") not in CONFIG_TYPES:
                    raise ValueError("Invalid config def type %s"
                                     % d.get("type"))
            if med.get("config") is not None:
                validate_config(med.get("configDefs") or [], med["config"])
            with him.lock:
                old = him.mediators.get(med["urn"])
                if old is not None:
                    if semver_key(med["version"]) > semver_key(
                            old["version"]):
                        if med.get("config") and old.get("config"):
                            for k in med["config"]:
                                if old["config"].get(k) is not None:
                                    med["config"][k] = old["config"][k]
                        elif old.get("config") is not None:
                            med["config"] = old["config"]
                        for k in ("_lastHeartbeat", "_uptime",
                                  "_configModifiedTS", "_heartbeats"):
                            if k in old:
                                med[k] = old[k]
                        med["_registrations"] = old["_registrations"] + 1
                        him.mediators[med["urn"]] = med
                else:
                    if not med.get("endpoints"):
                        raise ValueError("At least 1 endpoint is required")
                    med["_registrations"] = 1
                    him.mediators[med["urn"]] = med
        except ValueError as e:
            self.reply(400, str(e), "text/plain")
            return 400
        self.reply(201)
        return 201


class RouterHandler(_Base):
    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        him = self.him
        path = self.path.split("?")[0]
        u, p = self.basic()
        c = him.clients.get(u) if u is not None else None
        if c is None or hashlib.sha512((p + c["salt"]).encode()
                                       ).hexdigest() != c["hash"]:
            self.body()
            return self.reply(401, extra=[("WWW-Authenticate",
                                           'Basic realm="OpenHIM"')])
        ch = next((x for x in sorted(him.channels,
                                     key=lambda x: x.get("priority", 99))
                   if x.get("type", "http") == "http" and
                   x.get("status") == "enabled" and
                   re.search(x["urlPattern"], path) and
                   method in x.get("methods", [method])), None)
        if ch is None:
            self.body()
            return self.reply(404, "Not found", "text/plain")
        if u not in ch.get("allow", []) and not set(c["roles"]) & set(
                ch.get("allow", [])):
            self.body()
            return self.reply(401)
        raw = self.body(cap=MAX_BODIES)
        if raw is None:
            self.close_connection = True
            return self.reply(413, "body over api.maxBodiesSizeMB",
                              "text/plain")
        tid = uuid.uuid4().hex[:24]
        with him.lock:
            script = him.scripts.get(ch["name"]) or []
            step = script.pop(0) if script else 200
            him.transactions.append({
                "_id": tid, "channelID": ch["_id"], "clientID": u,
                "request": {"method": method, "path": path,
                            "headers": dict(self.headers),
                            "body": raw.decode(errors="replace"),
                            "timestamp": now_iso()},
                "response": {"status": step}})
        if step == "timeout":
            time.sleep(40)
            self.close_connection = True
            return
        self.reply(step, {"received": tid},
                   extra=[("X-OpenHIM-TransactionID", tid)])


POLL_CHANNEL = "Bulkhead nightly export poll"


class Loop:
    """The whole loop around Bulkhead, one step() a second (main() and
    test_openhim_ops.py): once Bulkhead has registered, (optionally) push
    the delivery target "receiver" as mediator config; once Bulkhead has
    installed its default channels (openhim_install_channels = 1), give
    the polling channel's route an operator's name and token (Basic auth,
    as core's routes send) and tick it
    (first at once, then every poll_every seconds), as OpenHIM's polling
    app does; for each notification routed to the "Receiver" channel
    (POST /notify), fetch every output URL it carries, as a receiver
    would.  What happens is printed, a line each, and kept in .events."""

    def __init__(self, him, client_id, password, token=None, poll_every=0,
                 push_target=False, out=print):
        self.him, self.cid, self.pw = him, client_id, password
        self.token, self.poll_every = token, poll_every
        self.push_target, self.out = push_target, out
        self.events, self.fetched = [], []
        self.registered = self.channels = False
        self.next_tick = None
        self.seen_hb, self.ntx = 0, 0
        him.add_client(client_id, password, roles=["bulkhead"])
        him.add_channel({"name": "Receiver", "urlPattern": "^/notify$",
                         "type": "http", "methods": ["POST"],
                         "allow": ["bulkhead"], "routes": []})

    def say(self, line):
        self.events.append(line)
        self.out(line)

    def step(self):
        him = self.him
        for urn, m in list(him.mediators.items()):
            if not self.registered:
                self.registered = True
                self.say("registered %s %s" % (urn, m["version"]))
                if self.push_target:
                    him.set_config(urn, {"targets": [{
                        "name": "receiver", "url": him.router_url +
                        "/notify", "username": self.cid,
                        "password": self.pw}]})
                    self.say("target 'receiver' pushed as mediator config")
            n = len(m.get("_heartbeats", []))
            if n != self.seen_hb:
                self.seen_hb = n
                self.say("%s heartbeat #%d uptime %s" % (
                    urn, n, m["_heartbeats"][-1].get("uptime")))
        poll = next((c for c in him.channels if c["name"] == POLL_CHANNEL),
                    None)
        if poll is not None and not self.channels:
            self.channels = True
            self.say("channels installed by Bulkhead: %s" % ", ".join(
                c["name"] for c in him.channels if c["name"] != "Receiver"))
            if self.token:
                # As an operator sets a real route up: username and
                # password, sent as Basic auth (the admin principal
                # "config" holds the legacy admin_token).
                for r in poll["routes"]:
                    r["username"], r["password"] = "config", self.token
            self.next_tick = time.time()
        if self.next_tick is not None and time.time() >= self.next_tick:
            self.next_tick = (time.time() + self.poll_every
                              if self.poll_every > 0 else None)
            tx = him.tick(POLL_CHANNEL, last_run_at=now_iso())
            mr = tx.get("mediatorResponse") or {}
            self.say("poll tick %s -> HTTP %s %s job %s" % (
                tx["_id"], tx["response"]["status"], mr.get("status"),
                (mr.get("properties") or {}).get("jobId")))
        for tx in him.transactions[self.ntx:]:
            self.ntx += 1
            if tx["request"].get("path") != "/notify":
                continue
            self.notified(tx)

    def notified(self, tx):
        try:
            note = json.loads(tx["request"].get("body") or "{}")
        except ValueError:
            note = {}
        self.say("router POST /notify -> %s: job %s (%s), %d output(s)" % (
            tx["response"]["status"], note.get("jobId"), note.get("kind"),
            len(note.get("output") or [])))
        if tx["response"]["status"] != 200:
            return
        for o in note.get("output") or []:
            try:
                with urlopen(Request(o["url"], headers={
                        "Accept-Encoding": "identity"}), timeout=30) as r:
                    status, data = r.status, r.read()
            except Exception as e:
                status, data = getattr(e, "code", str(e)), b""
            lines = data.decode(errors="replace").splitlines()
            self.fetched.append((o["url"], status, lines))
            self.say("receiver GET %s -> %s, %d line(s)%s" % (
                o["url"], status, len(lines),
                ", first: " + lines[0][:80] if lines else ""))


def main():
    """scripts/openhim-standin.sh: the stand-in, and Loop around
    Bulkhead."""
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--api-port", type=int, default=8081)
    ap.add_argument("--router-port", type=int, default=5001)
    ap.add_argument("--client", default="bulkhead:bulkhead-secret",
                    help="router client ID:password")
    ap.add_argument("--token", default=None,
                    help="an operator's Bulkhead admin token, sent on "
                    "polling ticks")
    ap.add_argument("--poll-every", type=int, default=600,
                    help="seconds between polling ticks (0: one tick)")
    ap.add_argument("--push-target", action="store_true",
                    help="push the target 'receiver' as mediator config")
    a = ap.parse_args()
    him = OpenHIM(a.api_port, a.router_port)
    cid, _, pw = a.client.partition(":")
    loop = Loop(him, cid, pw, a.token, a.poll_every, a.push_target,
                out=lambda line: print("openhim-standin: " + line,
                                       flush=True))
    loop.say("API %s (root@openhim.org/openhim-password), router %s "
             "(client %s)" % (him.api_url, him.router_url, cid))
    try:
        while True:
            time.sleep(1)
            loop.step()
    except KeyboardInterrupt:
        him.down()


if __name__ == "__main__":
    main()
