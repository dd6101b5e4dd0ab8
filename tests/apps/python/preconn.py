#!/usr/bin/env python3
"""Connections opened before weft-http starts (issue 18): a keep-alive
HTTP/1.1 pair and a grpcio client whose connection exists before the
injector, then is used for many requests.

  preconn.py http-server PORT DIR   threaded HTTP/1.1 keep-alive server on
                                    127.0.0.1:PORT; one JSON line per request
                                    into DIR/requests.jsonl (its X-Seq, the
                                    traceparent values it carried, whether its
                                    body was the one the client sent); answers
                                    in one write; DIR/server.ready once
                                    listening
  preconn.py http-client PORT DIR N one http.client connection, one warm-up
                                    request, DIR/client.ready, then waits for
                                    DIR/go and makes N requests on the same
                                    connection (GET and POST with a body in
                                    turn); prints each response; fails if the
                                    connection was ever replaced
  preconn.py grpc-client PORT DIR N one grpcio channel (grpc_pair.py's
                                    server), one warm-up call, DIR/client.ready,
                                    then waits for DIR/go and makes N calls one
                                    after another; prints each response
"""
import hashlib
import http.client
import http.server
import json
import os
import sys
import threading
import time


def body_of(i):
    """The request body of request i (POST), different lengths and bytes."""
    return (b"%d:" % i) * (1 + i % 37)


def wait_go(d):
    open(os.path.join(d, "client.ready"), "w").close()
    while not os.path.exists(os.path.join(d, "go")):
        time.sleep(0.01)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    out = None

    def answer(self):
        seq = self.headers.get("X-Seq", "")
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        ok = body == (body_of(int(seq)) if self.command == "POST" and seq.isdigit() else b"")
        rec = {"seq": seq, "method": self.command, "path": self.path,
               "traceparent": self.headers.get_all("traceparent") or [], "body_ok": ok}
        with self.lock:
            self.out.write(json.dumps(rec) + "\n")
            self.out.flush()
        resp = b"%s %s %s %s" % (self.command.encode(), self.path.encode(), seq.encode(),
                                 hashlib.sha256(body).hexdigest().encode())
        # status line, header block and body in one write
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                         % len(resp) + resp)

    do_GET = answer
    do_POST = answer

    def log_message(self, *args):
        pass


def http_server(port, d):
    Handler.out = open(os.path.join(d, "requests.jsonl"), "a")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    open(os.path.join(d, "server.ready"), "w").close()
    srv.serve_forever()


def http_client(port, d, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def one(i, seq):
        if i % 2:
            conn.request("POST", "/p/%d" % i, body=body_of(i), headers={"X-Seq": seq})
        else:
            conn.request("GET", "/g/%d" % i, headers={"X-Seq": seq})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            sys.exit("request %s: status %d" % (seq, r.status))
        return data

    one(0, "warmup")
    sock = conn.sock
    wait_go(d)
    for i in range(n):
        print(one(i, str(i)).decode())
        if conn.sock is not sock:
            sys.exit("the connection was replaced at request %d" % i)
    conn.close()


def grpc_client(port, d, n):
    import grpc
    ch = grpc.insecure_channel("127.0.0.1:%d" % port)
    say = ch.unary_unary("/weft.test.Echo/Say")
    say(b"warmup", metadata=[("x-weft-n", "warmup")], timeout=30)
    wait_go(d)
    for i in range(n):
        print(say(b"request %d" % i, metadata=[("x-weft-n", str(i))], timeout=30).decode())
    ch.close()


if __name__ == "__main__":
    mode, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "http-server":
        http_server(port, d)
    elif mode == "http-client":
        http_client(port, d, int(sys.argv[4]))
    else:
        grpc_client(port, d, int(sys.argv[4]))
