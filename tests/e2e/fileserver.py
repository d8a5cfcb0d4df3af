"""A stand-in for a remote file server, for the import fetcher's tests.

This is NOT a real object store: a small HTTP/1.1 server (Python's
http.server) on real sockets on 127.0.0.1 (and ::1 when asked), serving
files from one directory, with routes that misbehave on purpose:

  /files/NAME             NAME as stored, no Content-Encoding, an ETag
                          ("sha256-<first 16 hex>", strong); Content-Length
  /noetag/NAME            the same without an ETag
  /weaketag/NAME          the same with a weak ETag W/"..."
  /chunked/NAME           the same in chunked transfer coding
  /ce/gzip/NAME           gzip(NAME) with Content-Encoding: gzip
  /ce/zstd/NAME           zstd(NAME) (the zstd CLI) with Content-Encoding: zstd
  /ce/br/NAME             NAME with Content-Encoding: br (unsupported)
  /ce/gzip,zstd/NAME      NAME with Content-Encoding: gzip, zstd (stacked)
  /corrupt/gzip           a gzip body damaged after its header, CE gzip
  /corrupt/zstd           a zstd frame damaged in its block, CE zstd
  /truncated/gzip/NAME    gzip(NAME) cut in half, CE gzip
  /stall/N/NAME           Content-Length of NAME, sends N bytes, then
                          sleeps (STALL_SECONDS) and closes
  /short/NAME             Content-Length of NAME + 100, sends NAME, closes
  /hang                   accepts, reads the request, never answers
  /redirect?to=URL[&code=302]  a redirect (relative or absolute Location)
  /loop/N                 redirects to /loop/N+1 forever
  /status/CODE            that status with a short body
  anything else           404 Not Found

Used as a context manager from pytest fixtures (a thread per server):

    with FileServer(root) as srv:
        srv.url("/files/a.ndjson")

or standalone: python3 fileserver.py DIR [PORT].
"""
import gzip
import hashlib
import http.server
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse

STALL_SECONDS = 30


def zstd_compress(data):
    """zstd-compresses bytes with the zstd CLI (Debian package 'zstd')."""
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def etag_of(data):
    return '"sha256-%s"' % hashlib.sha256(data).hexdigest()[:16]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fileserver-standin/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _file(self, name):
        root = self.server.root
        path = os.path.normpath(os.path.join(root, name))
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return None
        with open(path, "rb") as fp:
            return fp.read()

    def _send(self, code, body, headers=(), reason=None):
        self.send_response(code, reason)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _not_found(self):
        self._send(404, b"not found\n", [("Content-Type", "text/plain")],
                   "Not Found")

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.split("/")[1:]
        self.server.requests.append((u.path, dict(self.headers)))
        route = parts[0] if parts else ""
        try:
            handler = getattr(self, "_r_" + route.replace("-", "_"), None)
            if handler is None:
                self._not_found()
            else:
                handler(parts[1:], urllib.parse.parse_qs(u.query))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _plain(self, parts, etag=True, weak=False):
        data = self._file("/".join(parts))
        if data is None:
            return self._not_found()
        hdrs = [("Content-Type", "application/fhir+ndjson")]
        if etag:
            hdrs.append(("ETag", ("W/" if weak else "") + etag_of(data)))
        self._send(200, data, hdrs)

    def _r_files(self, parts, q):
        self._plain(parts)

    def _r_noetag(self, parts, q):
        self._plain(parts, etag=False)

    def _r_weaketag(self, parts, q):
        self._plain(parts, weak=True)

    def _r_chunked(self, parts, q):
        data = self._file("/".join(parts))
        if data is None:
            return self._not_found()
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(data), 1000):
            chunk = data[i:i + 1000]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _r_ce(self, parts, q):
        if len(parts) < 2:
            return self._not_found()
        coding, data = parts[0], self._file("/".join(parts[1:]))
        if data is None:
            return self._not_found()
        if coding == "gzip":
            body = gzip.compress(data, mtime=0)
        elif coding == "zstd":
            body = zstd_compress(data)
        else:
            body = data
        self._send(200, body, [("Content-Encoding", coding),
                               ("ETag", etag_of(data))])

    def _r_corrupt(self, parts, q):
        data = b"".join(b'{"resourceType":"Patient","id":"p%d"}\n' % i
                        for i in range(2000))
        coding = parts[0] if parts else ""
        if coding == "gzip":
            body = bytearray(gzip.compress(data, mtime=0))
            for i in range(12, 40):
                body[i] ^= 0x5A
        elif coding == "zstd":
            body = bytearray(zstd_compress(data))
            for i in range(len(body) // 2, len(body) // 2 + 16):
                body[i] ^= 0x5A
        else:
            return self._not_found()
        self._send(200, bytes(body), [("Content-Encoding", coding)])

    def _r_truncated(self, parts, q):
        data = self._file("/".join(parts[1:]))
        if data is None or parts[0] != "gzip":
            return self._not_found()
        body = gzip.compress(data, mtime=0)
        self._send(200, body[:len(body) // 2],
                   [("Content-Encoding", "gzip")])

    def _r_stall(self, parts, q):
        n = int(parts[0])
        data = self._file("/".join(parts[1:]))
        if data is None:
            return self._not_found()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:n])
        self.wfile.flush()
        self.server.stop.wait(STALL_SECONDS)
        self.close_connection = True

    def _r_short(self, parts, q):
        data = self._file("/".join(parts))
        if data is None:
            return self._not_found()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data) + 100))
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _r_hang(self, parts, q):
        self.server.stop.wait(STALL_SECONDS)
        self.close_connection = True

    def _r_redirect(self, parts, q):
        code = int(q.get("code", ["302"])[0])
        self._send(code, b"moved\n", [("Location", q["to"][0])])

    def _r_loop(self, parts, q):
        n = int(parts[0]) if parts else 0
        self._send(302, b"", [("Location", "/loop/%d" % (n + 1))])

    def _r_status(self, parts, q):
        code = int(parts[0])
        self._send(code, b"status body\n")


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, addr, family, root):
        self.address_family = family
        super().__init__(addr, _Handler)
        self.root = os.path.realpath(root)
        self.requests = []
        self.stop = threading.Event()


class FileServer:
    """One stand-in server on host (127.0.0.1 or ::1), port chosen by the
    kernel, serving files from root, run in a daemon thread."""

    def __init__(self, root, host="127.0.0.1", port=0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.srv = _Server((host, port), family, root)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.srv.stop.set()
        self.srv.shutdown()
        self.srv.server_close()

    @property
    def requests(self):
        return self.srv.requests

    def url(self, path, host=None):
        h = host or self.host
        if ":" in h:
            h = "[%s]" % h
        return "http://%s:%d%s" % (h, self.port, path)


if __name__ == "__main__":
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    with FileServer(sys.argv[1], port=port) as srv:
        print("serving %s on %s" % (sys.argv[1], srv.url("/")), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
