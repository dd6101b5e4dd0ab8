#!/usr/bin/python3
"""A test service for weft-http: ThreadingHTTPServer that records the raw
headers of every request it receives (one JSON line per request in --log) and,
with --next URL, calls the next service (urllib, a new connection per call)
before answering. No tracing library: propagation is weft-http's job.

  chain_service.py --port P [--bind ADDR] [--log FILE] [--next URL] [--ready FILE]
"""
import argparse
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import socket


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _record(self, body_len):
        rec = {
            "path": self.path,
            "method": self.command,
            "traceparent": self.headers.get_all("traceparent") or [],
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_len": body_len,
        }
        with LOCK:
            with open(ARGS.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if ARGS.log:
            self._record(len(body))
        status, out = 200, b"ok " + self.path.encode() + b"\n"
        if ARGS.next:
            try:
                with urllib.request.urlopen(ARGS.next + self.path, timeout=10) as r:
                    out += r.read()
            except Exception as e:  # report, do not hide
                status, out = 502, ("upstream failed: %s\n" % e).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = _handle
    do_POST = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--log")
    p.add_argument("--next")
    p.add_argument("--ready")
    ARGS = p.parse_args()
    if ":" in ARGS.bind:
        Server.address_family = socket.AF_INET6
    srv = Server((ARGS.bind, ARGS.port), Handler)
    if ARGS.ready:
        open(ARGS.ready, "w").close()
    srv.serve_forever()


LOCK = threading.Lock()
ARGS = None
if __name__ == "__main__":
    main()
