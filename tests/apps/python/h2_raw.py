#!/usr/bin/env python3
"""Cleartext HTTP/2 written by hand on a socket (frames built here, header
blocks by python3-hpack), to check weft-http's frame tracking byte by byte.

  h2_raw.py server PORT DIR [MAXFRAME]
      HTTP/2 server: SETTINGS (with SETTINGS_MAX_FRAME_SIZE=MAXFRAME when
      given), then every header block decoded with a real HPACK decoder; one
      JSON line per stream into DIR/streams.jsonl when it ends: its header
      fields and its DATA bytes (hex); answers each stream with :status 200.
      A block that does not decode is written as {"error": ...}.
      DIR/server.ready once listening.
  h2_raw.py sink PORT DIR
      Records every connection's bytes to DIR/recv-<client port>.bin at EOF.
  h2_raw.py client PORT DIR SCENARIO
      One connection; writes DIR/expect.jsonl: per stream, the fields sent and
      the traceparent count weft-http must leave (1: inserted, 0: left alone,
      "own": the app's own one only). Scenarios:
        split     requests whose frames are cut at every byte of the frame
                  header (a send per piece), one sent a byte per send, DATA
                  payloads that look like HEADERS frames, each followed by a
                  request sent whole
        big       one request whose HEADERS frame is 16350 bytes (expected
                  inserted only when the server said MAXFRAME >= 16419)
        indexed   the app's own traceparent, with incremental indexing, then
                  again by dynamic-table index: never a second one
      Every response must come back (:status 200 per stream).
  h2_raw.py grpc PORT DIR N
      N unary gRPC calls (/weft.test.Echo/Say, tests/apps/python/grpc_pair.py)
      on one connection, up to 32 streams open at a time, following the
      server's SETTINGS_MAX_FRAME_SIZE (header blocks above it go on in
      CONTINUATION). Call i carries x-weft-n 100000+i and an x-big field of
      (i * 7919) % 20001 bytes; its frames are sent whole when i % 10 == 0,
      else each cut after byte i % 10 of its 9-byte header (a send per piece),
      and every 97th call goes a byte per send. Writes DIR/expect.jsonl (the
      traceparent count weft-http must leave: 1 for whole sends, 0 otherwise)
      and prints, per call in order, the response's header fields, message
      and trailer fields (the uninstrumented run must print the same).
  h2_raw.py front PORT DIR H2PORT
      A thread-per-request HTTP/1 server: each request is answered after one
      HTTP/2 request (a connection of its own, from the handler's thread) to
      the server on H2PORT; DIR/server.ready once listening.
  h2_raw.py notsent PORT DIR CASE
      A stream that starts like HTTP/2 but is not (CASE: noframe, http1,
      ack, settings-stream, bytewise-ping, diverge); the bytes sent go to
      DIR/sent-<local port>.bin.
"""
import json
import os
import socket
import struct
import sys

import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, ACK = 1, 4, 1


def frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def read_frame(s):
    h = recv_exact(s, 9)
    ln = int.from_bytes(h[:3], "big")
    return h[3], h[4], int.from_bytes(h[5:9], "big") & 0x7FFFFFFF, recv_exact(s, ln)


def fragment(flags, p):
    """A HEADERS frame's header block fragment: without padding and priority."""
    if flags & 0x8:
        p = p[1:len(p) - p[0]]
    if flags & 0x20:
        p = p[5:]
    return p


# ------------------------------------------------------------------- server

def serve_conn(c, d, maxframe):
    if recv_exact(c, 24) != PREFACE:
        return
    settings = struct.pack(">HI", 5, maxframe) if maxframe else b""
    c.sendall(frame(SETTINGS, 0, 0, settings))
    dec, enc = hpack.Decoder(), hpack.Encoder()
    dec.max_allowed_table_size = 65536
    streams, block = {}, None
    out = open(os.path.join(d, "streams.jsonl"), "a", buffering=1)
    while True:
        try:
            t, fl, sid, p = read_frame(c)
        except EOFError:
            return
        if t == SETTINGS and not fl & ACK:
            c.sendall(frame(SETTINGS, ACK, 0, b""))
            continue
        if t == HEADERS:
            block, bsid, bend = fragment(fl, p), sid, fl & END_STREAM
        elif t == CONTINUATION:
            block += p
        elif t == DATA:
            streams.setdefault(sid, {"fields": [], "data": ""})["data"] += p.hex()
            if fl & END_STREAM:
                end_stream(c, enc, out, sid, streams.pop(sid))
            continue
        else:
            continue
        if not fl & END_HEADERS:
            continue
        try:
            fields = [[k, v] for k, v in dec.decode(block)]
        except Exception as e:  # noqa: BLE001 -- any decoding failure is the finding
            out.write(json.dumps({"sid": bsid, "error": repr(e)}) + "\n")
            return
        st = streams.setdefault(bsid, {"fields": [], "data": ""})
        st["fields"] += fields
        if bend:
            end_stream(c, enc, out, bsid, streams.pop(bsid))


def end_stream(c, enc, out, sid, st):
    st["sid"] = sid
    out.write(json.dumps(st) + "\n")
    c.sendall(frame(HEADERS, END_STREAM | END_HEADERS, sid, enc.encode([(":status", "200")])))


def listen(port, d):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    open(os.path.join(d, "server.ready"), "w").close()
    return ls


def server(port, d, maxframe):
    ls = listen(port, d)
    while True:
        c, _ = ls.accept()
        serve_conn(c, d, maxframe)
        c.close()


def sink(port, d):
    ls = listen(port, d)
    while True:
        c, peer = ls.accept()
        b = b""
        while True:
            x = c.recv(65536)
            if not x:
                break
            b += x
        with open(os.path.join(d, "recv-%d.bin" % peer[1]), "wb") as f:
            f.write(b)
        c.close()


# ------------------------------------------------------------------- client

class Client:
    def __init__(self, port, d):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.expect = open(os.path.join(d, "expect.jsonl"), "w")
        self.enc = hpack.Encoder()
        self.sid = 1
        self.open = 0

    def start(self, table=True):
        if not table:
            # a dynamic table of 0: every block stays free of dynamic indexes
            self.enc.header_table_size = 0
        self.s.sendall(PREFACE + frame(SETTINGS, 0, 0, b""))
        while True:  # the server's SETTINGS first: its max frame size is known
            t, fl, _, _ = read_frame(self.s)
            if t == SETTINGS and not fl & ACK:
                return

    def fields(self, extra=()):
        return [(":method", "POST"), (":scheme", "http"), (":path", "/weft.test/S%d" % self.sid),
                (":authority", "peer"), ("x-weft-n", str(self.sid))] + list(extra)

    def request(self, pieces, tp, extra=(), data=None, block=None):
        """Send one request; pieces(frames) -> the list of sends."""
        f = self.fields(extra)
        hb = block if block is not None else self.enc.encode(f)
        frames = [frame(HEADERS, END_HEADERS | (0 if data is not None else END_STREAM), self.sid, hb)]
        if data is not None:
            frames.append(frame(DATA, END_STREAM, self.sid, data))
        for p in pieces(frames):
            if p:
                self.s.send(p)
        self.expect.write(json.dumps({"sid": self.sid, "fields": [list(x) for x in f], "tp": tp,
                                      "data": (data or b"").hex()}) + "\n")
        self.sid += 2
        self.open += 1

    def finish(self):
        done = 0
        while done < self.open:
            t, fl, sid, p = read_frame(self.s)
            if t == SETTINGS and not fl & ACK:
                self.s.sendall(frame(SETTINGS, ACK, 0, b""))
            if t == HEADERS and fl & END_STREAM:
                done += 1
        self.expect.close()
        self.s.close()


def whole(frames):
    return [b"".join(frames)]


def cut_header(k):
    # every frame cut after byte k of its header: header[:k] | header[k:] + payload
    return lambda frames: [x for f in frames for x in (f[:k], f[k:])]


def bytewise(frames):
    b = b"".join(frames)
    return [b[i:i + 1] for i in range(len(b))]


# a DATA payload that looks like a HEADERS frame with END_HEADERS, and a traceparent
FAKE = frame(HEADERS, END_HEADERS, 99, b"\x00\x0btraceparent\x01x") * 3


def client(port, d, scenario):
    c = Client(port, d)
    if scenario == "split":
        c.start(table=False)
        c.request(whole, 1)
        for k in range(1, 10):
            c.request(cut_header(k), 0, data=FAKE)
            c.request(whole, 1)
        c.request(bytewise, 0, data=FAKE)
        c.request(whole, 1, data=FAKE)
        # a request whose DATA frame's last 5 bytes go with the next request's
        # HEADERS frame, whole, in one send: both get their traceparent
        frames = []
        c.request(lambda f: frames.extend(f) or [], 1, data=FAKE)
        tail = frames[1][-5:]
        c.s.send(b"".join(frames)[:-5])
        hb = c.enc.encode(c.fields())
        c.s.send(tail + frame(HEADERS, END_HEADERS | END_STREAM, c.sid, hb))
        c.request(lambda f: [], 1, block=hb)
    elif scenario == "big":
        c.start(table=False)
        base = c.enc.encode(c.fields())
        name = b"x-big"
        # literal without indexing, new name; value length as a 7-bit-prefix integer
        vlen = 16350 - len(base) - 2 - len(name) - 3
        v = vlen - 127
        lit = b"\x00" + bytes([len(name)]) + name + bytes([0x7F, (v & 0x7F) | 0x80, v >> 7]) + b"v" * vlen
        assert len(base) + len(lit) == 16350
        hb = base + lit
        c.request(whole, int(os.environ.get("EXPECT_TP", "0")), extra=[("x-big", "v" * vlen)], block=hb)
    elif scenario == "indexed":
        c.start(table=True)
        own = ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        c.request(whole, "own", extra=[own])   # literal with incremental indexing
        c.request(whole, "own", extra=[own])   # the same by dynamic-table index
        c.request(whole, "unsure")              # dynamic references: no traceparent can be ruled out
    c.finish()


def header_frames(sid, hb, maxframe, end_stream):
    """A header block as HEADERS (+ CONTINUATION) frames of at most maxframe bytes."""
    chunks = [hb[i:i + maxframe] for i in range(0, len(hb), maxframe)] or [b""]
    out = []
    for j, c in enumerate(chunks):
        fl = END_HEADERS if j == len(chunks) - 1 else 0
        if j == 0:
            out.append(frame(HEADERS, fl | (END_STREAM if end_stream else 0), sid, c))
        else:
            out.append(frame(CONTINUATION, fl, sid, c))
    return out


def grpc_client(port, d, n):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, b""))
    maxframe = 16384
    while True:
        t, fl, _, p = read_frame(s)
        if t == SETTINGS and not fl & ACK:
            for j in range(0, len(p) - 5, 6):
                k, v = struct.unpack(">HI", p[j:j + 6])
                if k == 5:
                    maxframe = v
            s.sendall(frame(SETTINGS, ACK, 0, b""))
            break
    enc, dec = hpack.Encoder(), hpack.Decoder()
    dec.max_allowed_table_size = 65536
    dec.max_header_list_size = 1 << 20
    expect = open(os.path.join(d, "expect.jsonl"), "w")
    results, open_, sid_n = {}, {}, {}
    sent = done = 0
    block = None
    while done < n:
        while sent < n and len(open_) < 32:
            i, sid = sent, 2 * sent + 1
            big = (i * 7919) % 20001
            fields = [(":method", "POST"), (":scheme", "http"), (":path", "/weft.test.Echo/Say"),
                      (":authority", "127.0.0.1:%d" % port), ("content-type", "application/grpc"),
                      ("te", "trailers"), ("x-weft-n", str(100000 + i))]
            hb = enc.encode(fields)
            if big:
                # raw (Python's Huffman coder is slow for 20 KB), same encoder, same block
                hb += enc.encode([("x-big", "r" * big)], huffman=False)
            msg = b"raw %d" % i
            frames = header_frames(sid, hb, maxframe, False)
            frames.append(frame(DATA, END_STREAM, sid, b"\0" + struct.pack(">I", len(msg)) + msg))
            k = i % 10
            if i % 97 == 0:
                pieces = bytewise(frames)
            elif k == 0:
                pieces = whole(frames)
            else:
                pieces = cut_header(k)(frames)
            for p in pieces:
                if p:
                    s.send(p)
            tp = 1 if k == 0 and i % 97 else 0
            expect.write(json.dumps({"n": 100000 + i, "tp": tp}) + "\n")
            open_[sid] = {"n": i, "headers": [], "data": b"", "trailers": []}
            sent += 1
        t, fl, sid, p = read_frame(s)
        ended = None
        if t == SETTINGS and not fl & ACK:
            s.sendall(frame(SETTINGS, ACK, 0, b""))
        elif t == PING and not fl & ACK:
            s.sendall(frame(PING, ACK, 0, p))
        elif t in (RST_STREAM, GOAWAY):
            raise SystemExit("stream %d: frame type %d from the server: %s" % (sid, t, p.hex()))
        elif t == DATA:
            open_[sid]["data"] += p
            if p:
                s.sendall(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(p))))
            ended = sid if fl & END_STREAM else None
        elif t in (HEADERS, CONTINUATION):
            if t == HEADERS:
                block, bsid, bend = fragment(fl, p), sid, fl & END_STREAM
            else:
                block += p
            if fl & END_HEADERS:
                st = open_[bsid]
                st["trailers" if st["headers"] else "headers"] = [[k, v] for k, v in dec.decode(block)]
                ended = bsid if bend else None
        if ended is not None:
            st = open_.pop(ended)
            results[st["n"]] = {"n": st["n"], "headers": st["headers"], "data": st["data"].hex(),
                                "trailers": st["trailers"]}
            done += 1
    expect.close()
    s.close()
    for i in range(n):
        print(json.dumps(results[i]))


def notsent(port, d, case):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    hb = hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"), (":path", "/"),
                                 (":authority", "x")])
    req = frame(HEADERS, END_HEADERS | END_STREAM, 1, hb)
    sends = {
        "noframe": [PREFACE + req * 3],
        "http1": [PREFACE, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", req],
        "ack": [PREFACE + frame(SETTINGS, ACK, 0, b"") + req],
        "settings-stream": [PREFACE + frame(SETTINGS, 0, 1, b"") + req],
        "bytewise-ping": [bytes([b]) for b in PREFACE + frame(PING, 0, 0, b"12345678") + req],
        "diverge": [PREFACE[:10], b"XX" + PREFACE[12:] + frame(SETTINGS, 0, 0, b"") + req],
    }[case]
    with open(os.path.join(d, "sent-%d.bin" % s.getsockname()[1]), "wb") as f:
        f.write(b"".join(sends))
    for p in sends:
        s.send(p)
    s.close()


def front(port, d, h2port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            c = Client(h2port, d)
            c.start(table=False)
            c.request(whole, 1)
            c.finish()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    open(os.path.join(d, "server.ready"), "w").close()
    srv.serve_forever()


if __name__ == "__main__":
    cmd, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if cmd == "server":
        server(port, d, int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    elif cmd == "sink":
        sink(port, d)
    elif cmd == "front":
        front(port, d, int(sys.argv[4]))
    elif cmd == "client":
        client(port, d, sys.argv[4])
    elif cmd == "grpc":
        grpc_client(port, d, int(sys.argv[4]))
    else:
        notsent(port, d, sys.argv[4])
