#!/usr/bin/python3
"""HTTPS test service for weft-tcpopt tests (Python's ssl module = OpenSSL 3).

  https_service.py --port P --cert C --key K [--bind ADDR]
                   [--downstream https://HOST:PORT] [--ca CA] [--keepalive]

Answers every GET/POST with 200 and a small body. With --downstream, each
request first calls the downstream at the same path (prefixed /down), over a
new TLS connection per call, or over one persistent keep-alive connection
with --keepalive (calls serialised by a lock). Prints "ready" once listening.
"""
import argparse
import http.client
import http.server
import ssl
import sys
import threading
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--bind", default="0.0.0.0")
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--downstream")
ap.add_argument("--ca")
ap.add_argument("--keepalive", action="store_true")
args = ap.parse_args()

client_ctx = None
if args.downstream:
    client_ctx = ssl.create_default_context(cafile=args.ca)
    down = urllib.parse.urlsplit(args.downstream)
persistent = None
lock = threading.Lock()


def call_downstream(path):
    global persistent
    if args.keepalive:
        with lock:
            for attempt in range(2):
                if persistent is None:
                    persistent = http.client.HTTPSConnection(
                        down.hostname, down.port, context=client_ctx, timeout=10)
                try:
                    persistent.request("GET", "/down" + path)
                    r = persistent.getresponse()
                    r.read()
                    return r.status
                except (http.client.HTTPException, OSError):
                    persistent.close()
                    persistent = None
            return 502
    c = http.client.HTTPSConnection(down.hostname, down.port, context=client_ctx, timeout=10)
    try:
        c.request("GET", "/down" + path)
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave as two TLS records

    def log_message(self, *a):
        pass

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        status = 200
        if client_ctx is not None:
            ds = call_downstream(self.path)
            status = 200 if ds == 200 else 502
        body = b"ok %s\n" % self.path.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = handle_any
    do_POST = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server((args.bind, args.port), Handler)
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(args.cert, args.key)
srv.socket = sctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
