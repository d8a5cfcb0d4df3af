"""bulk/fetch: the import input fetcher, end to end over real sockets.

Compiles tests/tools/fetch_cat.c (a driver, not a product command) against
the built static libraries in BULKHEAD_BUILD_DIR (default: the directory
of BULKHEAD_BIN, else build/; with the same -fsanitize flags when that
build is sanitized), then runs it against
fileserver.py, a stand-in remote file server on 127.0.0.1, and against
file:// URLs in a temporary import dir.  Each case asserts the exact bytes
or the exact error line "fetch_cat: <reason>".  No database is needed.
"""
import gzip
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fileserver import FileServer, etag_of, zstd_compress  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The build to link against: BULKHEAD_BUILD_DIR, else the directory of
# BULKHEAD_BIN (as 'make test' sets it, build-asan/), else build/.
BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or (
    os.path.dirname(os.environ["BULKHEAD_BIN"])
    if os.environ.get("BULKHEAD_BIN") else os.path.join(ROOT, "build"))
PKGS = "libmicrohttpd libpq libcjson libcurl libzstd libcrypto zlib"

SMALL = b"".join(b'{"resourceType":"Patient","id":"p%d"}\n' % i
                 for i in range(50))
BIG_SIZE = 20 * 1024 * 1024


def _sanitize_flags():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as fp:
            for line in fp:
                if line.startswith("BULKHEAD_SANITIZE:"):
                    v = line.split("=", 1)[1].strip()
                    return ["-fsanitize=" + v, "-fno-omit-frame-pointer"] \
                        if v else []
    except OSError:
        pass
    return []


@pytest.fixture(scope="session")
def fetch_cat(tmp_path_factory):
    libs = [os.path.join(BUILD, "libbulkhead_svc.a"),
            os.path.join(BUILD, "libbulkhead_lib.a")]
    for lib in libs:
        assert os.path.exists(lib), "build first: " + lib
    out = str(tmp_path_factory.mktemp("fetch_cat") / "fetch_cat")
    ldflags = subprocess.run(["pkg-config", "--libs"] + PKGS.split(),
                             stdout=subprocess.PIPE, check=True,
                             text=True).stdout.split()
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-g",
                    "-I", os.path.join(ROOT, "src")] + _sanitize_flags() +
                   [os.path.join(ROOT, "tests", "tools", "fetch_cat.c"),
                    "-o", out] + libs + ldflags + ["-lm"], check=True)
    return out


@pytest.fixture(scope="session")
def sanitized():
    return bool(_sanitize_flags())


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """The server's files."""
    d = tmp_path_factory.mktemp("served")
    (d / "a.ndjson").write_bytes(SMALL)
    (d / "a.ndjson.gz").write_bytes(gzip.compress(SMALL, mtime=0))
    (d / "a.ndjson.zst").write_bytes(zstd_compress(SMALL))
    half = len(SMALL) // 2
    (d / "multi.ndjson.gz").write_bytes(
        gzip.compress(SMALL[:half], mtime=0) +
        gzip.compress(SMALL[half:], mtime=0))
    (d / "multi.ndjson.zst").write_bytes(
        zstd_compress(SMALL[:half]) + zstd_compress(SMALL[half:]))
    (d / "empty.ndjson").write_bytes(b"")
    line = b'{"resourceType":"Observation","id":"%08d","status":"final"}\n'
    n = BIG_SIZE // len(line % 0) + 1
    (d / "big.ndjson").write_bytes(b"".join(line % i for i in range(n)))
    (d / "one_mb.ndjson").write_bytes(
        b"".join(line % i for i in range(1024 * 1024 // len(line % 0))))
    return d


@pytest.fixture(scope="session")
def srv(data):
    with FileServer(str(data)) as s:
        yield s


@pytest.fixture(scope="session")
def imp(tmp_path_factory):
    """An import dir tree, a sibling outside it, and ways out."""
    base = tmp_path_factory.mktemp("imp")
    root = base / "import"
    out = base / "outside"
    (root / "sub").mkdir(parents=True)
    out.mkdir()
    (root / "a.ndjson").write_bytes(SMALL)
    (root / "a.ndjson.gz").write_bytes(gzip.compress(SMALL, mtime=0))
    (root / "a.ndjson.zst").write_bytes(zstd_compress(SMALL))
    (root / "sub" / "b.ndjson").write_bytes(SMALL[:100])
    (out / "secret.ndjson").write_bytes(b"secret\n")
    os.symlink(str(out / "secret.ndjson"), str(root / "link.ndjson"))
    os.symlink(str(out), str(root / "linkdir"))
    os.symlink("a.ndjson", str(root / "inner-link.ndjson"))
    os.mkfifo(str(root / "fifo.ndjson"))
    return root


def run(fetch_cat, url, *args, timeout=60):
    p = subprocess.run([fetch_cat, url] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def ok(fetch_cat, url, *args):
    rc, out, err = run(fetch_cat, url, *args)
    assert rc == 0, err
    return out


def fails(fetch_cat, url, *args, **kw):
    """Runs a fetch that must fail; returns (stdout, the reason)."""
    rc, out, err = run(fetch_cat, url, *args, **kw)
    assert rc == 1, (rc, err)
    lines = [l for l in err.splitlines() if l.startswith("fetch_cat: ")]
    assert len(lines) == 1, err
    return out, lines[0][len("fetch_cat: "):]


ALLOW = ("--allow", "127.0.0.1")


# --- http: codings -------------------------------------------------------

def test_plain(fetch_cat, srv):
    assert ok(fetch_cat, srv.url("/files/a.ndjson"), *ALLOW) == SMALL
    hdrs = srv.requests[-1][1]
    assert hdrs.get("Accept-Encoding") == "zstd, gzip"


def test_empty_body(fetch_cat, srv):
    assert ok(fetch_cat, srv.url("/files/empty.ndjson"), *ALLOW) == b""


def test_chunked(fetch_cat, srv):
    assert ok(fetch_cat, srv.url("/chunked/a.ndjson"), *ALLOW) == SMALL


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
@pytest.mark.parametrize("bufsize", ["65536", "7"])
def test_content_encoding(fetch_cat, srv, coding, bufsize):
    assert ok(fetch_cat, srv.url("/ce/%s/a.ndjson" % coding), *ALLOW,
              "--bufsize", bufsize) == SMALL


def test_raw_bytes_are_the_encoded_size(fetch_cat, srv):
    rc, out, err = run(fetch_cat, srv.url("/ce/gzip/a.ndjson"), *ALLOW,
                       "--raw-bytes")
    assert rc == 0 and out == SMALL
    assert "raw_bytes %d" % len(gzip.compress(SMALL, mtime=0)) in err


@pytest.mark.parametrize("name", ["a.ndjson.gz", "a.ndjson.zst",
                                  "multi.ndjson.gz", "multi.ndjson.zst"])
def test_suffix_without_content_encoding(fetch_cat, srv, name):
    assert ok(fetch_cat, srv.url("/files/" + name), *ALLOW,
              "--bufsize", "100") == SMALL


def test_content_encoding_and_suffix_decode_once(fetch_cat, srv, data):
    # A stored .gz served with Content-Encoding: gzip: the coding is
    # removed, the .gz file itself comes out (never decoded twice).
    want = (data / "a.ndjson.gz").read_bytes()
    assert ok(fetch_cat, srv.url("/ce/gzip/a.ndjson.gz"), *ALLOW) == want


def test_identity_content_encoding_still_uses_suffix(fetch_cat, srv):
    assert ok(fetch_cat, srv.url("/ce/identity/a.ndjson.gz"),
              *ALLOW) == SMALL


@pytest.mark.parametrize("coding,shown", [
    ("br", '"br"'), ("deflate", '"deflate"')])
def test_unsupported_content_encoding(fetch_cat, srv, coding, shown):
    out, why = fails(fetch_cat, srv.url("/ce/%s/a.ndjson" % coding), *ALLOW)
    assert out == b""
    assert why == ("unsupported Content-Encoding %s (zstd, gzip or identity "
                   "only)" % shown)


def test_stacked_content_encoding(fetch_cat, srv):
    out, why = fails(fetch_cat, srv.url("/ce/gzip,zstd/a.ndjson"), *ALLOW)
    assert out == b""
    assert why == ('unsupported Content-Encoding "gzip,zstd" '
                   "(more than one coding)")


def test_corrupt_gzip(fetch_cat, srv):
    _, why = fails(fetch_cat, srv.url("/corrupt/gzip"), *ALLOW)
    assert re.fullmatch(r"corrupt gzip data at byte \d+: .+", why), why


def test_corrupt_zstd(fetch_cat, srv):
    _, why = fails(fetch_cat, srv.url("/corrupt/zstd"), *ALLOW)
    assert re.fullmatch(r"corrupt zstd data at byte \d+: .+", why), why


def test_truncated_gzip(fetch_cat, srv):
    out, why = fails(fetch_cat, srv.url("/truncated/gzip/a.ndjson"),
                     *ALLOW)
    assert SMALL.startswith(out)
    assert re.fullmatch(r"truncated gzip data at byte \d+", why), why


# --- http: status, connection, stalls -----------------------------------

@pytest.mark.parametrize("path,line", [
    ("/nothing-here", "HTTP 404 Not Found"),
    ("/status/500", "HTTP 500 Internal Server Error"),
    ("/status/204", "HTTP 204 No Content"),
    ("/status/206", "HTTP 206 Partial Content"),
    ("/status/403", "HTTP 403 Forbidden"),
])
def test_http_status(fetch_cat, srv, path, line):
    out, why = fails(fetch_cat, srv.url(path), *ALLOW)
    assert out == b""
    assert why == line


def test_connection_refused(fetch_cat):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out, why = fails(fetch_cat, "http://127.0.0.1:%d/x" % port, *ALLOW)
    assert why == "connection refused: 127.0.0.1:%d" % port


def test_body_shorter_than_content_length(fetch_cat, srv):
    out, why = fails(fetch_cat, srv.url("/short/a.ndjson"), *ALLOW)
    assert out == SMALL
    assert why == ("127.0.0.1:%d: transfer closed with 100 bytes remaining "
                   "to read" % srv.port)


def test_stall_mid_body(fetch_cat, srv, data):
    t0 = time.monotonic()
    out, why = fails(fetch_cat, srv.url("/stall/1000/a.ndjson"), *ALLOW,
                     "--stall", "2")
    took = time.monotonic() - t0
    assert out == SMALL[:1000]
    assert why == "no data from 127.0.0.1:%d for 2 s (stalled)" % srv.port
    assert 1.8 <= took < 10, took


def test_stall_before_headers(fetch_cat, srv):
    t0 = time.monotonic()
    out, why = fails(fetch_cat, srv.url("/hang"), *ALLOW, "--stall", "2")
    assert out == b""
    assert why == "no data from 127.0.0.1:%d for 2 s (stalled)" % srv.port
    assert time.monotonic() - t0 < 10


# --- ETag ----------------------------------------------------------------

def test_etag_match(fetch_cat, srv):
    tag = etag_of(SMALL)
    url = srv.url("/files/a.ndjson")
    assert ok(fetch_cat, url, *ALLOW, "--etag", tag) == SMALL
    assert ok(fetch_cat, url, *ALLOW, "--etag", tag.strip('"')) == SMALL
    assert ok(fetch_cat, url, *ALLOW, "--etag", "W/" + tag) == SMALL
    # Weak comparison: a weak response tag matches the same opaque tag.
    assert ok(fetch_cat, srv.url("/weaketag/a.ndjson"), *ALLOW,
              "--etag", tag) == SMALL


def test_etag_mismatch(fetch_cat, srv):
    out, why = fails(fetch_cat, srv.url("/files/a.ndjson"), *ALLOW,
                     "--etag", '"other"')
    assert out == b""
    assert why == 'ETag mismatch: expected "other", got %s' % etag_of(SMALL)


def test_etag_missing(fetch_cat, srv):
    out, why = fails(fetch_cat, srv.url("/noetag/a.ndjson"), *ALLOW,
                     "--etag", '"x"')
    assert out == b""
    assert why == 'ETag mismatch: expected "x", the response has none'


def test_etag_ignored_for_file(fetch_cat, imp):
    assert ok(fetch_cat, "file://%s/a.ndjson" % imp, "--import-dir",
              str(imp), "--etag", '"whatever"') == SMALL


# --- allowlist and SSRF --------------------------------------------------

def test_host_not_in_allowlist(fetch_cat, srv):
    n = len(srv.requests)
    _, why = fails(fetch_cat, srv.url("/files/a.ndjson"), "--allow",
                   "example.org, 10.0.0.1")
    assert why == "host 127.0.0.1 is not in import_allow"
    assert len(srv.requests) == n


def test_empty_allowlist(fetch_cat, srv):
    _, why = fails(fetch_cat, srv.url("/files/a.ndjson"))
    assert why == "host 127.0.0.1 is not allowed: import_allow is empty"
    _, why = fails(fetch_cat, srv.url("/files/a.ndjson"), "--allow", "*")
    assert why == "host 127.0.0.1 is not in import_allow"


def test_unresolvable_host(fetch_cat):
    _, why = fails(fetch_cat, "http://bulkhead-test.invalid/x", "--allow",
                   "bulkhead-test.invalid", "--connect-timeout", "10")
    assert why == "cannot resolve host bulkhead-test.invalid"


def test_localhost_listed_explicitly(fetch_cat, srv):
    url = srv.url("/files/a.ndjson", host="localhost")
    assert ok(fetch_cat, url, "--allow", "localhost") == SMALL
    assert ok(fetch_cat, url, "--allow", "example.org, LOCALHOST") == SMALL


def _loopback_alias():
    """A name other than localhost that resolves only to loopback."""
    for name in [socket.gethostname(), "vm", "runsc",
                 "localhost.localdomain", "ip6-localhost", "ip6-loopback"]:
        if not name or "localhost" == name.split(".")[-1]:
            continue
        try:
            infos = socket.getaddrinfo(name, 80, proto=socket.IPPROTO_TCP)
        except socket.gaierror:
            continue
        addrs = {i[4][0] for i in infos}
        if addrs and all(a.startswith("127.") or a == "::1" for a in addrs):
            return name, sorted(addrs)[0]
    return None, None


def test_name_resolving_to_loopback_refused(fetch_cat, srv):
    name, addr = _loopback_alias()
    if name is None:
        pytest.skip("no non-localhost name resolves to loopback here")
    n = len(srv.requests)
    _, why = fails(fetch_cat, srv.url("/files/a.ndjson", host=name),
                   "--allow", name)
    assert re.fullmatch(r"host %s resolves to loopback address (127\.[0-9.]+"
                        r"|::1): refused \(SSRF protection\)" %
                        re.escape(name), why), why
    assert len(srv.requests) == n       # nothing reached the server


def test_redirect_same_host(fetch_cat, srv):
    for code in ("301", "302", "303", "307", "308"):
        assert ok(fetch_cat, srv.url("/redirect?code=%s&to=/files/a.ndjson"
                                     % code), *ALLOW) == SMALL


def test_redirect_absolute_allowed(fetch_cat, srv):
    to = srv.url("/ce/zstd/a.ndjson")
    assert ok(fetch_cat, srv.url("/redirect?to=" + to), *ALLOW) == SMALL


def test_redirect_to_host_not_allowed(fetch_cat, srv):
    n = len(srv.requests)
    to = srv.url("/files/a.ndjson", host="localhost")
    _, why = fails(fetch_cat, srv.url("/redirect?to=" + to), *ALLOW)
    assert why == ("redirect to %s refused: host localhost is not in "
                   "import_allow" % to)
    assert len(srv.requests) == n + 1   # only the redirect itself


def test_redirect_to_loopback_name_refused(fetch_cat, srv):
    name, _ = _loopback_alias()
    if name is None:
        pytest.skip("no non-localhost name resolves to loopback here")
    to = srv.url("/files/a.ndjson", host=name)
    _, why = fails(fetch_cat, srv.url("/redirect?to=" + to), "--allow",
                   "127.0.0.1," + name)
    assert "host %s resolves to loopback address" % name in why, why


def test_redirect_hides_credentials_and_query(fetch_cat, srv):
    to = "http://user:hunter2@evil.example:8080/x?sig=TOPSECRET#frag"
    _, why = fails(fetch_cat, srv.url("/redirect?to=" +
                                      to.replace("&", "%26")), *ALLOW)
    assert why == ("redirect to http://evil.example:8080/x refused: host "
                   "evil.example is not in import_allow")


def test_redirect_to_other_scheme(fetch_cat, srv):
    _, why = fails(fetch_cat, srv.url("/redirect?to=ftp://127.0.0.1/x"),
                   *ALLOW)
    assert why == ('redirect to ftp://127.0.0.1/x refused: unsupported URL '
                   'scheme "ftp" (http and https only)')


def test_too_many_redirects(fetch_cat, srv):
    _, why = fails(fetch_cat, srv.url("/loop/0"), *ALLOW,
                   "--max-redirects", "3")
    assert why == "too many redirects (more than 3)"
    _, why = fails(fetch_cat, srv.url("/redirect?to=/files/a.ndjson"),
                   *ALLOW, "--max-redirects", "0")
    assert why == "too many redirects (more than 0)"


def test_ipv6_literal(fetch_cat, data):
    try:
        s6 = FileServer(str(data), host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    with s6:
        url = s6.url("/files/a.ndjson")
        assert ok(fetch_cat, url, "--allow", "::1") == SMALL
        assert ok(fetch_cat, url, "--allow", "[::1]") == SMALL
        _, why = fails(fetch_cat, url, *ALLOW)
        assert why == "host [::1] is not in import_allow"


@pytest.mark.parametrize("url,why", [
    ("ftp://127.0.0.1/a.ndjson",
     'unsupported URL scheme "ftp" (http, https and file only)'),
    ("gopher://127.0.0.1/a",
     'unsupported URL scheme "gopher" (http, https and file only)'),
    ("127.0.0.1/a.ndjson", "bad URL: Bad scheme"),
    ("http://exa mple.org/", "bad URL: Bad hostname"),
])
def test_refused_up_front(fetch_cat, url, why):
    assert fails(fetch_cat, url, *ALLOW)[1] == why


# --- file:// -------------------------------------------------------------

def _file(fetch_cat, imp, path, *args):
    return run(fetch_cat, "file://" + path, "--import-dir", str(imp), *args)


@pytest.mark.parametrize("name", ["a.ndjson", "a.ndjson.gz", "a.ndjson.zst",
                                  "inner-link.ndjson"])
def test_file_inside(fetch_cat, imp, name):
    assert ok(fetch_cat, "file://%s/%s" % (imp, name), "--import-dir",
              str(imp)) == SMALL


def test_file_subdir_and_dotdot_inside(fetch_cat, imp):
    assert ok(fetch_cat, "file://%s/sub/b.ndjson" % imp, "--import-dir",
              str(imp)) == SMALL[:100]
    assert ok(fetch_cat, "file://%s/sub/%%2e%%2e/a.ndjson" % imp,
              "--import-dir", str(imp)) == SMALL


@pytest.mark.parametrize("path", [
    "{imp}/../outside/secret.ndjson",
    "{imp}/%2e%2e/outside/secret.ndjson",
    "{imp}/sub/../../outside/secret.ndjson",
    "/etc/passwd",
    "/etc/does-not-exist",
    "{imp}/link.ndjson",
    "{imp}/linkdir/secret.ndjson",
    "{imp}/linkdir/missing.ndjson",
    "{imp}/%2e%2e",
    "{imp}",
])
def test_file_outside(fetch_cat, imp, path):
    out, why = fails(fetch_cat, "file://" + path.format(imp=imp),
                     "--import-dir", str(imp))
    assert out == b""
    assert why.endswith(": outside import_dir"), why


def test_file_missing_or_not_regular(fetch_cat, imp):
    _, why = fails(fetch_cat, "file://%s/missing.ndjson" % imp,
                   "--import-dir", str(imp))
    assert why == "%s/missing.ndjson: No such file or directory" % imp
    _, why = fails(fetch_cat, "file://%s/sub" % imp, "--import-dir",
                   str(imp))
    assert why == "%s/sub: not a regular file" % imp
    _, why = fails(fetch_cat, "file://%s/fifo.ndjson" % imp,
                   "--import-dir", str(imp), timeout=10)
    assert why == "%s/fifo.ndjson: not a regular file" % imp


def test_file_disabled_without_import_dir(fetch_cat, imp):
    _, why = fails(fetch_cat, "file://%s/a.ndjson" % imp)
    assert why == "file:// URLs are disabled (no import_dir)"


def test_file_with_remote_host(fetch_cat, imp):
    _, why = fails(fetch_cat, "file://example.org%s/a.ndjson" % imp,
                   "--import-dir", str(imp))
    assert why.startswith("bad URL"), why


# --- bounded memory ------------------------------------------------------

def _max_rss_kb(fetch_cat, url, args, tmp_path):
    tfile = tmp_path / "time.txt"
    outp = tmp_path / "out.bin"
    with open(outp, "wb") as fp:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(tfile),
                            fetch_cat, url] + args, stdout=fp,
                           stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0, p.stderr
    h = hashlib.sha256()
    with open(outp, "rb") as fp:
        for chunk in iter(lambda: fp.read(1 << 20), b""):
            h.update(chunk)
    return int(tfile.read_text().split()[-1]), h.hexdigest()


@pytest.mark.skipif(not os.access("/usr/bin/time", os.X_OK),
                    reason="needs /usr/bin/time")
@pytest.mark.parametrize("route", ["/files/", "/ce/gzip/", "/ce/zstd/"])
def test_big_file_bounded_memory(fetch_cat, srv, data, tmp_path, sanitized,
                                 route):
    big = (data / "big.ndjson").read_bytes()
    assert len(big) >= BIG_SIZE
    rss_big, sha = _max_rss_kb(fetch_cat, srv.url(route + "big.ndjson"),
                               list(ALLOW), tmp_path)
    assert sha == hashlib.sha256(big).hexdigest()
    rss_small, _ = _max_rss_kb(fetch_cat, srv.url(route + "one_mb.ndjson"),
                               list(ALLOW), tmp_path)
    # Memory does not grow with the file: 20 MB costs what 1 MB costs.
    assert rss_big - rss_small < 8 * 1024, (rss_big, rss_small)
    if not sanitized:
        assert rss_big < 30 * 1024, rss_big


def test_big_file_from_import_dir(fetch_cat, data, tmp_path, sanitized):
    imp = tmp_path / "imp"
    imp.mkdir()
    shutil.copy(str(data / "big.ndjson"), str(imp / "big.ndjson"))
    rss, sha = _max_rss_kb(fetch_cat, "file://%s/big.ndjson" % imp,
                           ["--import-dir", str(imp)], tmp_path)
    assert sha == hashlib.sha256((data / "big.ndjson").read_bytes()) \
        .hexdigest()
    if not sanitized:
        assert rss < 30 * 1024, rss
