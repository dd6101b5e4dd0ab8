#!/usr/bin/python3
"""A test service for weft-http: ThreadingHTTPServer that records the raw
headers of every request it receives (one JSON line per request in --log) and,
with --next URL, calls the next service (urllib, a new connection per call)
before answering. No tracing library: propagation is weft-http's job.

  chain_service.py --port P [--bind ADDR] [--log FILE] [--next URL] [--ready FILE]
                   [--forward] [--tp-name NAME] [--ts-name NAME] [--dup]
                   [--set-tp VALUE] [--set-ts VALUE] [--pass-body] [--echo]

With any of the options of the second line the call to --next is made with
http.client (header names sent exactly as given), one connection per call:
  --forward     copy the incoming traceparent and tracestate headers onto the
                call, as a reverse proxy does (names --tp-name/--ts-name,
                default traceparent/tracestate; --dup: traceparent twice)
  --set-tp/--set-ts  the app sets its own traceparent/tracestate values
  --pass-body   call with the incoming method and body
  --echo        answer with the request body (a leaf)
"""
import argparse
import http.client
import json
import threading
import urllib.parse
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
            "tracestate": self.headers.get_all("tracestate") or [],
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
        if ARGS.echo:
            out = body
        if ARGS.next and RAW:
            try:
                out += self._call(body)
            except Exception as e:  # report, do not hide
                status, out = 502, ("upstream failed: %s\n" % e).encode()
        elif ARGS.next:
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

    def _call(self, body):
        u = urllib.parse.urlsplit(ARGS.next)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        method = self.command if ARGS.pass_body else "GET"
        c.putrequest(method, self.path, skip_accept_encoding=True)
        if ARGS.forward:
            for v in self.headers.get_all("traceparent") or []:
                for _ in range(2 if ARGS.dup else 1):
                    c.putheader(ARGS.tp_name, v)
            for v in self.headers.get_all("tracestate") or []:
                c.putheader(ARGS.ts_name, v)
        if ARGS.set_tp:
            c.putheader("traceparent", ARGS.set_tp)
        if ARGS.set_ts:
            c.putheader("tracestate", ARGS.set_ts)
        if ARGS.pass_body:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body if ARGS.pass_body else None)
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError("status %d" % r.status)
        return data

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
    p.add_argument("--forward", action="store_true")
    p.add_argument("--tp-name", default="traceparent")
    p.add_argument("--ts-name", default="tracestate")
    p.add_argument("--dup", action="store_true")
    p.add_argument("--set-tp")
    p.add_argument("--set-ts")
    p.add_argument("--pass-body", action="store_true")
    p.add_argument("--echo", action="store_true")
    ARGS = p.parse_args()
    global RAW
    RAW = ARGS.forward or ARGS.set_tp or ARGS.set_ts or ARGS.pass_body or ARGS.echo
    if ":" in ARGS.bind:
        Server.address_family = socket.AF_INET6
    srv = Server((ARGS.bind, ARGS.port), Handler)
    if ARGS.ready:
        open(ARGS.ready, "w").close()
    srv.serve_forever()


LOCK = threading.Lock()
ARGS = None
RAW = False
if __name__ == "__main__":
    main()
