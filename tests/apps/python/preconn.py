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
  preconn.py relay PORT DIR NEXT    a TCP relay 127.0.0.1:PORT -> 127.0.0.1:NEXT
                                    (one connection) recording the bytes the
                                    client sent in DIR/c2s.bin; DIR/relay.ready;
                                    exits once both directions ended (a reset
                                    ends one)
  preconn.py h2-refs FILE           the HTTP/2 HEADERS frames in FILE (a client's
                                    bytes from its preface on): one line each,
                                    "refs N" = how many of its fields refer to
                                    the HPACK dynamic table (an indexed field
                                    or an indexed name above the 61 static
                                    entries)
  preconn.py h2-pre FILE K          the same, following the client's HPACK
                                    dynamic table (insertions, evictions,
                                    size updates): "stream S refs N old M
                                    first F", M = references to entries
                                    inserted by the first K requests (made
                                    before the injector started) or before
                                    them, F = the earliest request (1: the
                                    first) that inserted an entry it refers
                                    to (0: one from before FILE, 1000000000:
                                    no reference)
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
        with self.lock, open(self.out, "a") as out:
            out.write(json.dumps(rec) + "\n")
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
    Handler.out = os.path.join(d, "requests.jsonl")
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


def relay(port, d, nxt):
    import socket
    lsn = socket.create_server(("127.0.0.1", port))
    open(os.path.join(d, "relay.ready"), "w").close()
    a, _ = lsn.accept()
    b = socket.create_connection(("127.0.0.1", nxt))
    rec = open(os.path.join(d, "c2s.bin"), "wb")

    def pump(src, dst, out):
        # a side that closes with bytes unread resets the connection (grpc-go's
        # client at exit): the end of that stream, everything before it relayed
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if out:
                    out.write(data)
                    out.flush()
                dst.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=pump, args=(b, a, None), daemon=True)
    t.start()
    pump(a, b, rec)
    t.join()


def hpack_int(b, i, n):
    v = b[i] & ((1 << n) - 1)
    i += 1
    if v < (1 << n) - 1:
        return v, i
    m = 0
    while True:
        v += (b[i] & 0x7f) << m
        m += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i


def hpack_skip_str(b, i):
    n, i = hpack_int(b, i, 7)
    return i + n


def h2_refs(path):
    b = open(path, "rb").read()
    if not b.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
        sys.exit("no HTTP/2 client preface")
    p = 24
    while p + 9 <= len(b):
        ln, t, fl = int.from_bytes(b[p:p + 3], "big"), b[p + 3], b[p + 4]
        sid = int.from_bytes(b[p + 5:p + 9], "big") & 0x7fffffff
        pl, p = b[p + 9:p + 9 + ln], p + 9 + ln
        if t != 1:
            continue
        end = len(pl) - (pl[0] if fl & 0x8 else 0)
        i = (1 if fl & 0x8 else 0) + (5 if fl & 0x20 else 0)
        refs = fields = 0
        while i < end:
            c = pl[i]
            fields += 1
            if c & 0x80:  # indexed field
                idx, i = hpack_int(pl, i, 7)
            elif c & 0x20 and not c & 0x40:  # dynamic table size update
                _, i = hpack_int(pl, i, 5)
                fields -= 1
                continue
            else:  # literal: incremental indexing (6-bit name index) or not (4-bit)
                idx, i = hpack_int(pl, i, 6 if c & 0x40 else 4)
                if idx == 0:
                    i = hpack_skip_str(pl, i)
                i = hpack_skip_str(pl, i)
            refs += idx > 61
        print("stream %d fields %d refs %d" % (sid, fields, refs))


def hpack_str_len(b, i):
    """Decoded length of the string literal at i, and the index after it."""
    from hpack.huffman_table import decode_huffman
    huff = b[i] & 0x80
    n, i = hpack_int(b, i, 7)
    raw = b[i:i + n]
    return (len(decode_huffman(raw)) if huff else n), i + n


def h2_pre(path, k):
    """Per request: its dynamic-table references, and those to entries of the first k requests."""
    b = open(path, "rb").read()
    if not b.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"):
        sys.exit("no HTTP/2 client preface")
    p, req, table, cap = 24, 0, [], 4096   # table: [size, request that inserted it], newest first
    block, bsid = b"", 0
    while p + 9 <= len(b):
        ln, t, fl = int.from_bytes(b[p:p + 3], "big"), b[p + 3], b[p + 4]
        sid = int.from_bytes(b[p + 5:p + 9], "big") & 0x7fffffff
        pl, p = b[p + 9:p + 9 + ln], p + 9 + ln
        if t == 1:
            end = len(pl) - (pl[0] if fl & 0x8 else 0)
            block, bsid = pl[(1 if fl & 0x8 else 0) + (5 if fl & 0x20 else 0):end], sid
        elif t == 9:
            block += pl
        else:
            continue
        if not fl & 0x4:
            continue  # END_HEADERS not yet
        req += 1
        refs = old = i = 0
        first = 10 ** 9
        pl = block
        while i < len(pl):
            c = pl[i]
            if c & 0x80:
                idx, i = hpack_int(pl, i, 7)
                ins = None
            elif c & 0x20 and not c & 0x40:
                cap, i = hpack_int(pl, i, 5)
                ins = None
                idx = 0
            else:
                idx, i = hpack_int(pl, i, 6 if c & 0x40 else 4)
                nl = None
                if idx == 0:
                    nl, i = hpack_str_len(pl, i)
                vl, i = hpack_str_len(pl, i)
                ins = (nl, vl) if c & 0x40 else None
            if idx > 61:
                refs += 1
                e = table[idx - 62] if idx - 62 < len(table) else None
                if e is None or e[1] <= k:
                    old += 1
                first = min(first, e[1] if e else 0)
            if ins:
                nl, vl = ins
                if nl is None:
                    nl = (STATIC_NAME_LEN[idx] if idx <= 61 else table[idx - 62][2])
                table.insert(0, [nl + vl + 32, req, nl])
            while table and sum(e[0] for e in table) > cap:
                table.pop()
        print("stream %d refs %d old %d first %d" % (bsid, refs, old, first))


# name lengths of the HPACK static table (RFC 7541 A), by index
STATIC_NAME_LEN = [0] + [len(n) for n in (
    ":authority :method :method :path :path :scheme :scheme :status :status :status :status "
    ":status :status :status accept-charset accept-encoding accept-language accept-ranges "
    "accept access-control-allow-origin age allow authorization cache-control "
    "content-disposition content-encoding content-language content-length content-location "
    "content-range content-type cookie date etag expect expires from host if-match "
    "if-modified-since if-none-match if-range if-unmodified-since last-modified link location "
    "max-forwards proxy-authenticate proxy-authorization range referer refresh retry-after "
    "server set-cookie strict-transport-security transfer-encoding user-agent vary via "
    "www-authenticate").split()]


if __name__ == "__main__":
    if sys.argv[1] == "h2-refs":
        h2_refs(sys.argv[2])
        sys.exit(0)
    if sys.argv[1] == "h2-pre":
        h2_pre(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    mode, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == "http-server":
        http_server(port, d)
    elif mode == "http-client":
        http_client(port, d, int(sys.argv[4]))
    elif mode == "relay":
        relay(port, d, int(sys.argv[4]))
    else:
        grpc_client(port, d, int(sys.argv[4]))
