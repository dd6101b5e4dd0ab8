#!/usr/bin/python3
"""Hostile and odd request streams for weft-http: every byte sent must arrive.

  sacred_bytes.py server --dir D --port P
      Sink on P: records every byte received on a connection to
      D/recv-<client port>.bin once the client half-closes or closes; echo on
      P+1: sends every byte back (for the "is anything held back?" cases).
  sacred_bytes.py client --dir D --port P
      Runs the cases below, one connection each, and writes D/sent-<port>.bin
      and D/expect-<port>.txt (case name, then the offsets in the sent bytes
      after which exactly one traceparent line must be inserted).
  sacred_bytes.py verify --dir D
      received == sent with exactly those traceparent lines inserted, and no
      other traceparent line anywhere.
"""
import argparse
import bisect
import os
import random
import re
import socket
import sys
import threading
import time

from stream_check import echo

NO_LOOP = os.environ.get("WEFT_HTTP_NO_BPF_LOOP") == "1"	# weft-http as without bpf_loop
SPLITS = [0]	# requests expected as split-left-alone
TP_LINE = re.compile(rb"traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]\r\n")


def chunked_body_14_digits():
    # chunk data that looks like an empty trailer line followed by a request:
    # a parser that misreads the size as 0 inserts a header into it
    data = b"\r\nGET /inside HTTP/1.1\r\nHost: y\r\n\r\n"
    return b"%014x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


def random_chunked(rnd, k):
    """A chunked upload and a GET after it, cut into writes at random points."""
    reqs = []
    head = b"POST /r%d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % k
    body = b""
    for _ in range(rnd.randrange(1, 12)):
        data = rnd.randbytes(rnd.choice([1, 2, 10, 300, 3000]))
        ext = rnd.choice([b"", b";a=b", b' ; q="x\\"y;z"', b"\t;e"])
        body += b"%s%x%s\r\n%s\r\n" % (b"0" * rnd.randrange(0, 25), len(data), ext, data)
    body += b"0" * rnd.randrange(1, 20) + rnd.choice([b"", b";last"]) + b"\r\n"
    body += rnd.choice([b"", b"X-T: GET / HTTP/1.1\r\n", b"A: 1\r\nB: 2\r\n"]) + b"\r\n"
    reqs.append(head + body)
    reqs.append(b"GET /r%d/after HTTP/1.1\r\nHost: x\r\n\r\n" % k)
    blob = b"".join(reqs)
    cuts = sorted(rnd.sample(range(1, len(blob)), min(len(blob) - 1, rnd.randrange(1, 40))))
    writes = [blob[a:b] for a, b in zip([0] + cuts, cuts + [len(blob)])]
    # inserted where the request line ends in the write that ends the block
    ends = [sum(map(len, writes[:i + 1])) for i in range(len(writes))]
    tps, at = [], 0
    for r in reqs:
        rl, he = at + r.index(b"\r\n") + 1, at + r.index(b"\r\n\r\n") + 3
        if bisect.bisect_right(ends, rl) == bisect.bisect_right(ends, he):
            tps.append(rl + 1)
        else:
            SPLITS[0] += 1
        at += len(r)
    return ("chunked-random-%d" % k, writes, "shut", tps)


def cases():
    """(name, list of writes, end: shut|close, offsets of expected insertions)."""
    req_a = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    post14 = b"POST /c14 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    body14 = chunked_body_14_digits()
    after = b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
    postx = b"POST /ext HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    bodyx = (b"5;name=\"v;a\\\"l\"\r\nhello\r\n00000000000000000001 ; x=y\r\n!\r\n"
             b"000\r\nX-Trailer: GET / HTTP/1.1\r\nX-More: 1\r\n\r\n")
    smuggled = b"GET /smuggled HTTP/1.1\r\nX: y\r\n\r\n"
    two_cl = (b"POST /cl2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n%s"
              % (len(smuggled), smuggled))
    cl_te = (b"POST /clte HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    bad_cl = b"POST /badcl HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello"
    te10 = b"POST /te10 HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    reqline = b"GET / HTTP/1.1\r\n"
    rnd = random.Random(13)
    SPLITS[0] = 2	# bytewise-complete, request-line-then-headers
    return [
        # half-close / close with bytes weft-http used to hold back
        ("halfclose-request-line", [reqline], "shut", []),
        ("halfclose-half-pipelined", [req_a + b"GET /b HTTP/1.1\r\nHo"], "shut", [17]),
        ("halfclose-method", [b"POST"], "shut", []),
        ("close-partial-block", [b"GET /c HTTP/1.1\r\nHost: x\r\n"], "close", []),
        ("halfclose-bytewise", [bytes([c]) for c in b"GET /b HTTP/1.1\r\nHost: x\r\n"], "shut", []),
        # header blocks over several writes: inserted only when the request
        # line ends in the write that ends the block
        # (without bpf_loop such a connection is given up: nothing inserted)
        ("bytewise-complete", [bytes([c]) for c in req_a] + [after], "shut",
         [] if NO_LOOP else [len(req_a) + after.index(b"\r\n") + 2]),
        ("request-line-then-headers", [reqline, b"Host: x\r\n\r\n", after], "shut",
         [] if NO_LOOP else [len(reqline) + 11 + after.index(b"\r\n") + 2]),
        ("request-line-cut", [b"GET /cut HT", b"TP/1.1\r\nHost: x\r\n\r\n", after], "shut",
         [] if NO_LOOP else [len(b"GET /cut HTTP/1.1\r\n"),
                             len(b"GET /cut HTTP/1.1\r\nHost: x\r\n\r\n") + after.index(b"\r\n") + 2]),
        # bodies: a header must never land inside one
        ("chunked-14-digit-size", [post14 + body14, after], "shut",
         [post14.index(b"\r\n") + 2, len(post14 + body14) + after.index(b"\r\n") + 2]),
        ("chunked-ext-trailer-split",
         [postx] + [bodyx[i:i + 3] for i in range(0, len(bodyx), 3)] + [after], "shut",
         [postx.index(b"\r\n") + 2, len(postx + bodyx) + after.index(b"\r\n") + 2]),
        ("two-content-length", [two_cl, after], "shut", []),
        ("content-length-and-chunked", [cl_te, after], "shut", []),
        ("content-length-list", [bad_cl, after], "shut", []),
        ("chunked-in-http-1.0", [te10, after], "shut", []),
        ("chunk-size-space-digit", [post14 + b"1 a\r\n" + b"x" * 26 + b"\r\n0\r\n\r\n", after], "shut",
         [post14.index(b"\r\n") + 2]),
        ("chunked-not-last", [b"POST /tnl HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
                              b"0\r\n\r\n", after], "shut", []),
        ("obs-fold", [b"POST /fold HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n"
                      b"0\r\n\r\n", after], "shut", []),
        # not HTTP although it starts with a method word
        ("binary-after-get", [b"GET \x00\x01\x02\x03\xff" + bytes(range(256)) * 4], "shut", []),
        ("line-protocol", [b"GET a HTTP/1.1\r\n", b"PUT b\r\n", b"more\r\n"], "shut", []),
    ] + ([] if NO_LOOP else [random_chunked(rnd, k) for k in range(12)])


# Bytes whose delivery must not wait for more writes: each is sent alone to the
# echo port and must come back within ECHO_WAIT seconds.
ECHO_CASES = [
    ("echo-request-line", b"GET a HTTP/1.1\r\n"),
    ("echo-binary-after-get", b"GET \x00\x01\x02 not http"),
    ("echo-partial-header", b"GET /x HTTP/1.1\r\nHost: x\r\n"),
    ("echo-method-only", b"POST"),
]
ECHO_WAIT = 3.0


def sink(conn, port, d):
    buf = bytearray()
    try:
        while True:
            b = conn.recv(65536)
            if not b:
                break
            buf += b
    finally:
        with open(os.path.join(d, "recv-%d.bin.tmp" % port), "wb") as f:
            f.write(buf)
        os.rename(os.path.join(d, "recv-%d.bin.tmp" % port), os.path.join(d, "recv-%d.bin" % port))
        conn.close()


def serve(args):
    def loop(s, fn, with_port):
        while True:
            c, peer = s.accept()
            a = (c, peer[1], args.dir) if with_port else (c,)
            threading.Thread(target=fn, args=a, daemon=True).start()

    ths = []
    for port, fn, wp in ((args.port, sink, True), (args.port + 1, echo, False)):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        ths.append(threading.Thread(target=loop, args=(s, fn, wp), daemon=True))
    for t in ths:
        t.start()
    open(os.path.join(args.dir, "server.ready"), "w").close()
    threading.Event().wait()


def client(args):
    bad = 0
    for name, writes, end, tp_after in cases():
        s = socket.create_connection(("127.0.0.1", args.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        port = s.getsockname()[1]
        for w in writes:
            s.sendall(w)	# each send() is one sendmsg: one sk_msg run
            if len(writes) < 20:
                time.sleep(0.01)
        if end == "shut":
            s.shutdown(socket.SHUT_WR)
            s.settimeout(10)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
        s.close()
        with open(os.path.join(args.dir, "sent-%d.bin" % port), "wb") as f:
            f.write(b"".join(writes))
        with open(os.path.join(args.dir, "expect-%d.txt" % port), "w") as f:
            f.write(" ".join([name] + [str(o) for o in tp_after]) + "\n")
    for name, data in ECHO_CASES:
        s = socket.create_connection(("127.0.0.1", args.port + 1))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(data)
        s.settimeout(0.1)
        got, t0 = b"", time.monotonic()
        while len(got) < len(data) and time.monotonic() - t0 < ECHO_WAIT:
            try:
                b = s.recv(4096)
            except socket.timeout:
                continue
            if not b:
                break
            got += b
        s.close()
        if got != data:
            print("FAIL %s: %d of %d bytes delivered within %.0f s while the connection stayed open"
                  % (name, len(got), len(data), ECHO_WAIT))
            bad = 1
        else:
            print("ok %s: %d bytes delivered at once" % (name, len(data)))
    sys.exit(bad)


def verify(args):
    bad = n = 0
    for f in sorted(os.listdir(args.dir)):
        if not f.startswith("expect-"):
            continue
        port = f[7:-4]
        exp = open(os.path.join(args.dir, f)).read().split()
        name, offs = exp[0], [int(x) for x in exp[1:]]
        sent = open(os.path.join(args.dir, "sent-%s.bin" % port), "rb").read()
        rp = os.path.join(args.dir, "recv-%s.bin" % port)
        recv = open(rp, "rb").read() if os.path.exists(rp) else None
        n += 1
        if recv is None:
            print("FAIL %s: the server recorded nothing" % name)
            bad = 1
            continue
        why, r, prev = None, 0, 0
        for o in offs + [len(sent)]:
            part = sent[prev:o]
            if recv[r:r + len(part)] != part:
                k = next((i for i in range(len(part)) if r + i >= len(recv) or recv[r + i] != part[i]), 0)
                why = "bytes differ at sent offset %d (sent %r, received %r)" % (
                    prev + k, part[k:k + 24], recv[r + k:r + k + 24])
                break
            r, prev = r + len(part), o
            if o == len(sent):
                break
            m = TP_LINE.match(recv, r)
            if not m:
                why = "no traceparent line inserted at sent offset %d (received %r)" % (o, recv[r:r + 40])
                break
            r = m.end()
        if not why and r != len(recv):
            why = "%d extra bytes received after the sent ones: %r" % (len(recv) - r, recv[r:r + 40])
        if not why and len(TP_LINE.findall(recv)) != len(TP_LINE.findall(sent)) + len(offs):
            why = "unexpected traceparent lines"
        if why:
            print("FAIL %s: %d bytes sent, %d received: %s" % (name, len(sent), len(recv), why))
            bad = 1
        else:
            print("ok %s: %d bytes sent, %d received, %d traceparent line(s) inserted"
                  % (name, len(sent), len(recv), len(offs)))
    if n != len(cases()):
        print("FAIL: %d connections recorded, %d cases" % (n, len(cases())))
        bad = 1
    print("expected: split-left-alone=%d" % (0 if NO_LOOP else SPLITS[0]))
    sys.exit(bad)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for c in ("server", "client", "verify"):
        a = sub.add_parser(c)
        a.add_argument("--dir", required=True)
        if c != "verify":
            a.add_argument("--port", type=int, required=True)
    a = p.parse_args()
    {"server": serve, "client": client, "verify": verify}[a.cmd](a)


if __name__ == "__main__":
    main()
