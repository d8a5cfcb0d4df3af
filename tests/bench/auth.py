"""tests/bench/auth — what SMART Backend Services authorization costs
(issue 13): the same requests against two 'bulkhead serve' processes on
one store, one with auth = smart, one with auth = none.

  1. kick-off: GET /fhir/$export?_type=Patient (Accept, Prefer:
     respond-async), then DELETE of the job it made, BENCH_AUTH_KICKOFFS
     times (default 600) on one keep-alive connection, in
     BENCH_AUTH_KICK_ROUNDS (default 20) alternating rounds against the
     two servers (a busy machine then slows both alike).  With auth the kick-off carries a valid access token from
     POST /auth/token.  'serve' has no workers, so a job stays queued
     until its DELETE.  Printed: median and mean kick-off latency (the
     DELETE not counted) and the fastest one (the floor a busy machine
     does not move), the API process's CPU per kick-off+DELETE, and the
     ratios smart : none (target: at most 1.1);
  2. token issuance: POST /auth/token with RS384 and with ES384 client
     assertions (signed beforehand, each with its own jti),
     BENCH_AUTH_TOKENS each (default 200), one after another on one
     keep-alive connection: tokens/s, median latency, and API CPU per
     token;
  3. 200 pollers: BENCH_AUTH_CLIENTS clients (default 20), each with a
     queued job and its own token; 'wrk -c 200 -t 2 -d 10s --latency'
     cycles through their status URLs, each request with its client's
     token (smart) or none (none: auth = none shows every job), in
     alternating rounds (BENCH_AUTH_ROUNDS, default 2), twice:
       paced: each poller waits BENCH_AUTH_THINK_MS (default 20) after
         every answer: up to 10,000 polls/s, a thousand times what 200
         real pollers send (they wait Retry-After, seconds), and what the
         target is about (p99 < 10 ms);
       saturating: no wait, a closed loop that takes both cores (wrk and
         the server share them): the cost of the token check shows as
         fewer polls/s, and p99 is then the queue of a saturated machine.
     Printed: p50, p99 and polls/s of each, the API process's CPU per
     poll and its ratio smart : none (the token check's own cost), and
     the store's transactions (pg_stat_database xact_commit +
     xact_rollback, read after the statistics flush) per poll, net of the
     same idle interval: the token check must add none.

Asserts nothing about time (shared machines: see common.py).
Environment: BENCH_AUTH_FAMILIES (default 50: the store only needs
Patients), the counts above, BENCH_AUTH_THINK_MS, BULKHEAD_DATABASE_URL (the cluster;
scripts/bench.sh sets it), BULKHEAD_BIN.
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import (BIN, ROOT, free_port, fresh_db, loadavg,
                    proc_cpu_seconds, sql, wrk_parse)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
import authhelp  # noqa: E402  (tests/e2e/authhelp.py: keys, assertions)
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

DBNAME = "bulkhead_bench_auth"
ADMIN_TOKEN = "bench-admin-token"
FHIR_JSON = "application/fhir+json"
STATS_FLUSH_S = 11      # PostgreSQL 15 backends flush stats within 10 s


def log(msg=""):
    print(msg, flush=True)


class Serve:
    """'bulkhead serve' (the API alone, no workers) on a free port."""

    def __init__(self, url, work, auth):
        self.port = free_port()
        self.auth = auth
        self.base = "http://127.0.0.1:%d" % self.port
        env = dict(os.environ, BULKHEAD_DATABASE_URL=url,
                   BULKHEAD_LISTEN="127.0.0.1:%d" % self.port,
                   BULKHEAD_DATA_DIR=os.path.join(work, "data"),
                   BULKHEAD_ADMIN_TOKEN=ADMIN_TOKEN, BULKHEAD_AUTH=auth,
                   BULKHEAD_EXPORT_MAX_PER_CLIENT="1000")
        env.pop("BULKHEAD_BASE_URL", None)
        self.logf = open(os.path.join(work, "serve-%s.log" % auth), "wb")
        self.proc = subprocess.Popen([BIN, "serve"], env=env,
                                     stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                st, _, _ = self.request("GET", "/healthz")
                if st == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("serve (%s) did not start" % auth)
            time.sleep(0.1)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=60)

    def request(self, method, path, headers=None, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, \
                r.read()
        finally:
            c.close()

    def keepalive(self, method, path, headers=None, body=None):
        """One request on the kept-alive connection."""
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()

    def cpu(self):
        return proc_cpu_seconds(self.proc.pid) or 0.0

    def stop(self):
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


class Client:
    """A registered client of the smart server and its token."""

    def __init__(self, srv, name, key, scope="system/*.read"):
        self.srv, self.name, self.key, self.kid = srv, name, key, name + "-1"
        self.scope = scope
        jwk = public_jwk(key, self.kid)
        st, _, body = srv.request("PUT", "/admin/api/clients/" + name, {
            "Authorization": "Bearer " + ADMIN_TOKEN,
            "Content-Type": "application/json"},
            json.dumps({"jwks": {"keys": [jwk]}, "scope": scope}))
        if st not in (200, 201):
            raise RuntimeError("register %s: %d %s" % (name, st, body))
        self._tok, self._got = None, 0.0

    def assertion(self):
        return authhelp.assertion(self.srv.base + "/auth/token", self.name,
                                  self.key, self.kid)

    def token(self):
        if self._tok is None or time.monotonic() - self._got > 200:
            st, _, body = self.srv.request("POST", "/auth/token", {
                "Content-Type": "application/x-www-form-urlencoded"},
                token_form(self.assertion(), self.scope))
            if st != 200:
                raise RuntimeError("token %s: %d %s" % (self.name, st, body))
            self._tok, self._got = json.loads(body)["access_token"], \
                time.monotonic()
        return self._tok


def public_jwk(key, kid):
    pub = key.public_key().public_numbers()

    def b64int(n, size=None):
        return authhelp.b64u(n.to_bytes(size or (n.bit_length() + 7) // 8,
                                        "big"))
    if hasattr(pub, "n"):
        return {"kty": "RSA", "kid": kid, "n": b64int(pub.n),
                "e": b64int(pub.e)}
    return {"kty": "EC", "kid": kid, "crv": "P-384", "x": b64int(pub.x, 48),
            "y": b64int(pub.y, 48)}


def token_form(jwt, scope):
    return ("grant_type=client_credentials&client_assertion_type=%s&"
            "client_assertion=%s&scope=%s" % (authhelp.JWT_BEARER, jwt,
                                               scope))


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


# ---- 1. kick-off -------------------------------------------------------

def kickoffs(srv, token, n):
    """n kick-offs, each followed by the DELETE of its job: ([kick-off
    seconds], API CPU seconds for all of it)."""
    h = {"Accept": FHIR_JSON, "Prefer": "respond-async"}
    if token:
        h["Authorization"] = "Bearer " + token
    lat = []
    cpu0 = srv.cpu()
    for _ in range(n):
        t0 = time.perf_counter()
        st, hdrs, body = srv.keepalive("GET", "/fhir/$export?_type=Patient",
                                       h)
        lat.append(time.perf_counter() - t0)
        if st != 202:
            raise RuntimeError("kick-off (%s): %d %s" % (srv.auth, st,
                                                         body[:300]))
        path = "/" + hdrs["content-location"].split("/", 3)[3]
        st, _, body = srv.keepalive("DELETE", path, h)
        if st != 202:
            raise RuntimeError("DELETE (%s): %d %s" % (srv.auth, st, body))
    return lat, srv.cpu() - cpu0


def bench_kickoff(smart, none, client, n, rounds):
    lat = {"smart": [], "none": []}
    cpu = {"smart": 0.0, "none": 0.0}
    kickoffs(smart, client.token(), 20)     # warm both up
    kickoffs(none, None, 20)
    per = max(1, n // rounds)
    for _ in range(rounds):
        for srv in (none, smart):
            tok = client.token() if srv is smart else None
            l, c = kickoffs(srv, tok, per)
            lat[srv.auth] += l
            cpu[srv.auth] += c
    med = {k: statistics.median(v) * 1e3 for k, v in lat.items()}
    mean = {k: statistics.mean(v) * 1e3 for k, v in lat.items()}
    cpuk = {k: cpu[k] / len(lat[k]) * 1e3 for k in cpu}
    low = {k: min(v) * 1e3 for k, v in lat.items()}
    log("kick-off (_type=Patient, then DELETE), %d each, %d rounds:"
        % (len(lat["smart"]), rounds))
    for k in ("none", "smart"):
        log("  auth=%-5s median %.2f ms, mean %.2f ms, min %.2f ms, p99 "
            "%.2f ms; API CPU %.2f ms per kick-off+DELETE"
            % (k, med[k], mean[k], low[k], pct(lat[k], 99) * 1e3, cpuk[k]))
    log("  ratio smart/none: median latency %.2f, mean %.2f, min %.2f, API "
        "CPU %.2f (target <= 1.1)" % (
            med["smart"] / med["none"], mean["smart"] / mean["none"],
            low["smart"] / low["none"], cpuk["smart"] / cpuk["none"]
            if cpuk["none"] else float("nan")))


# ---- 2. token issuance ---------------------------------------------------

def bench_tokens(smart, clients, n):
    for alg, client in clients:
        forms = [token_form(client.assertion(), client.scope)
                 for _ in range(n)]
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        lat = []
        cpu0 = smart.cpu()
        t0 = time.perf_counter()
        for body in forms:
            t1 = time.perf_counter()
            st, _, resp = smart.keepalive("POST", "/auth/token", h, body)
            lat.append(time.perf_counter() - t1)
            if st != 200:
                raise RuntimeError("token %s: %d %s" % (alg, st, resp))
        dt = time.perf_counter() - t0
        cpu = smart.cpu() - cpu0
        log("token issuance %s: %d in %.2f s: %.0f tokens/s, median %.2f ms, "
            "p99 %.2f ms; API CPU %.2f ms per token" % (
                alg, n, dt, n / dt, statistics.median(lat) * 1e3,
                pct(lat, 99) * 1e3, cpu / n * 1e3))


# ---- 3. 200 pollers ------------------------------------------------------

LUA = """
local targets = %s
local think = %d
local i = 0
if think > 0 then
  delay = function() return think end
end
request = function()
  i = i + 1
  local t = targets[(i %% #targets) + 1]
  if t[2] ~= "" then
    return wrk.format("GET", t[1], {["Authorization"] = "Bearer " .. t[2]})
  end
  return wrk.format("GET", t[1])
end
"""


def lua_table(targets):
    return "{" + ",".join("{%s,%s}" % (json.dumps(p), json.dumps(t))
                          for p, t in targets) + "}"


def xacts(admin):
    """Transactions of the bench store so far (read from the cluster's
    maintenance database, so the reading itself is not counted)."""
    rows = sql(admin, "SELECT xact_commit + xact_rollback FROM "
               "pg_stat_database WHERE datname = '%s'" % DBNAME)
    return rows[0][0]


def wrk(srv, targets, work, think_ms):
    script = os.path.join(work, "poll-%s.lua" % srv.auth)
    with open(script, "w") as f:
        f.write(LUA % (lua_table(targets), think_ms))
    p = subprocess.run(["wrk", "-c", "200", "-t", "2", "-d", "10s",
                        "--latency", "--timeout", "5s", "-s", script,
                        srv.base + targets[0][0]],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    text = p.stdout.decode(errors="replace")
    res = wrk_parse(text)
    if p.returncode != 0 or res["requests"] is None:
        raise RuntimeError("wrk: " + text)
    return res


def bench_pollers(smart, none, clients, admin, rounds, work, think_ms):
    jobs = []
    for c in clients:
        st, hdrs, body = smart.request("GET", "/fhir/$export?_type=Patient", {
            "Accept": FHIR_JSON, "Prefer": "respond-async",
            "Authorization": "Bearer " + c.token()})
        if st != 202:
            raise RuntimeError("kick-off %s: %d %s" % (c.name, st, body))
        jobs.append((c, "/" + hdrs["content-location"].split("/", 3)[3]))
    # The idle rate of transactions (key reloads, house-keeping).
    time.sleep(STATS_FLUSH_S)
    x0 = xacts(admin)
    time.sleep(10)
    time.sleep(STATS_FLUSH_S)
    idle = xacts(admin) - x0
    log("200 pollers (wrk -c 200 -t 2 -d 10s), %d clients each with a "
        "queued job; store transactions in 10 s idle: %d"
        % (len(clients), idle))
    for mode, think in (("paced", think_ms), ("saturating", 0)):
        log(" %s%s:" % (mode, " (%d ms after every answer)" % think
                        if think else " (closed loop, no wait)"))
        res = {"smart": [], "none": []}
        for rnd in range(rounds):
            for srv in (none, smart):
                targets = [(p, c.token() if srv is smart else "")
                           for c, p in jobs]
                time.sleep(STATS_FLUSH_S)
                x0 = xacts(admin)
                cpu0 = srv.cpu()
                r = wrk(srv, targets, work, think)
                r["cpu"] = (srv.cpu() - cpu0) / r["requests"] * 1e6
                time.sleep(STATS_FLUSH_S)
                r["xact"] = xacts(admin) - x0
                res[srv.auth].append(r)
                log("  auth=%-5s round %d: %d polls, %.0f polls/s, p50 %.2f "
                    "ms, p99 %.2f ms, API CPU %.1f us per poll, non-2xx %d "
                    "%s; store transactions %d (%.5f per poll, net of idle "
                    "%.5f)" % (
                        srv.auth, rnd + 1, r["requests"], r["rps"], r["p50"],
                        r["p99"], r["cpu"], r["non2xx"], r["errors"],
                        r["xact"], r["xact"] / r["requests"],
                        max(0, r["xact"] - idle) / r["requests"]))
        # The status cache re-reads a polled job on a timer, not per
        # poll: its transactions follow the clock.  The token check's own
        # share is the difference between the modes.
        tx = {k: statistics.mean([r["xact"] for r in v])
              for k, v in res.items()}
        polls = {k: statistics.mean([r["requests"] for r in v])
                 for k, v in res.items()}
        cpu = {k: statistics.median([r["cpu"] for r in v])
               for k, v in res.items()}
        log("  store transactions per 10 s of polling: smart %.0f, none "
            "%.0f; the token check's share: %.5f per poll (target: about 0)"
            % (tx["smart"], tx["none"],
               (tx["smart"] - tx["none"]) / polls["smart"]))
        p99 = {k: statistics.median([r["p99"] for r in v])
               for k, v in res.items()}
        log("  median p99: smart %.2f ms, none %.2f ms: ratio %.2f%s; API "
            "CPU per poll smart %.1f us, none %.1f us: ratio %.2f" % (
                p99["smart"], p99["none"], p99["smart"] / p99["none"],
                " (target p99 < 10 ms)" if think else "",
                cpu["smart"], cpu["none"], cpu["smart"] / cpu["none"]))
    for c, p in jobs:
        smart.request("DELETE", p, {"Authorization": "Bearer " + c.token()})


def main():
    admin_root = os.environ["BULKHEAD_DATABASE_URL"]
    families = int(os.environ.get("BENCH_AUTH_FAMILIES", "50"))
    n_kick = int(os.environ.get("BENCH_AUTH_KICKOFFS", "600"))
    kick_rounds = int(os.environ.get("BENCH_AUTH_KICK_ROUNDS", "20"))
    n_tok = int(os.environ.get("BENCH_AUTH_TOKENS", "200"))
    n_clients = int(os.environ.get("BENCH_AUTH_CLIENTS", "20"))
    rounds = int(os.environ.get("BENCH_AUTH_ROUNDS", "2"))
    think = int(os.environ.get("BENCH_AUTH_THINK_MS", "20"))
    if shutil.which("wrk") is None:
        log("wrk is missing: apt-get install wrk (scripts/deps.sh bench)")
        return 1
    work = tempfile.mkdtemp(prefix="auth-", dir=os.path.join(
        ROOT, "var", "bench") if os.path.isdir(os.path.join(
            ROOT, "var", "bench")) else None)
    url = fresh_db(admin_root, DBNAME)
    env = dict(os.environ, BULKHEAD_DATABASE_URL=url)
    subprocess.run([BIN, "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gen = os.path.join(work, "gen")
    subprocess.run([BIN, "generate", "--families", str(families), "--seed",
                    "7", "--out", gen], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([BIN, "load", gen], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log("load average before: %s" % loadavg())
    smart = Serve(url, work, "smart")
    none = Serve(url, work, "none")
    try:
        rsa_client = Client(smart, "bench-rsa", authhelp.rsa_key())
        ec_client = Client(smart, "bench-ec",
                           ec.generate_private_key(ec.SECP384R1()))
        bench_kickoff(smart, none, rsa_client, n_kick, kick_rounds)
        bench_tokens(smart, [("RS384", rsa_client), ("ES384", ec_client)],
                     n_tok)
        key = authhelp.rsa_key()
        pollers = [Client(smart, "poller-%02d" % i, key)
                   for i in range(n_clients)]
        bench_pollers(smart, none, pollers, admin_root, rounds, work, think)
    finally:
        smart.stop()
        none.stop()
    log("load average after: %s" % loadavg())
    sql(admin_root, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % DBNAME)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
