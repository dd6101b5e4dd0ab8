#!/usr/bin/python3
"""Byte-exactness checker for weft-http.

  stream_check.py server --dir D --port P [--echo-port P2] [--tls-port P3 --cert C --key K]
      HTTP/1.1 sink: parses requests (Content-Length, chunked), answers each with
      a small response, and writes every byte received on a connection to
      D/recv-<client port>.bin when the connection closes. --echo-port: a
      non-HTTP echo service. --tls-port: the same HTTP sink behind TLS.
  stream_check.py client --dir D --host H --port P [--requests N] [--conns C]
                         [--scenarios LIST] [--echo-port P2] [--tls-port P3] [--seed S]
      Sends the scenarios, waits for every response, records what it sent on
      each connection in D/sent-<local port>.bin.
  stream_check.py verify --dir D --expect-tp 0|1
      For every connection: received == sent, apart from exactly one inserted
      "traceparent: 00-...\\r\\n" right after each request line (--expect-tp 1,
      only for requests that had none and whose request line ended in the send()
      that ended the header block: weft-http never holds bytes back, so it
      leaves a block it saw only in part alone), and nothing else.
"""
import argparse
import bisect
import os
import random
import re
import socket
import ssl
import threading

RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
TP_LINE = re.compile(rb"traceparent: 00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]\r\n")


def parse_requests(data):
    """Split a whole stream into requests: list of (start, reqline_end, end, has_tp)."""
    out = parse_requests_prefix(data, None)
    if (out[-1][2] if out else 0) != len(data):
        raise SystemExit("stream does not end at a request boundary")
    return out


def body_hint(head):
    """Bytes needed before a request starting at head can be complete (0: unknown)."""
    he = head.find(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head[:he].lower()) if he > 0 else None
    return he + 4 + int(m.group(1)) if m else 0


class Sink(threading.Thread):
    def __init__(self, conn, peer_port, d, tls=False):
        super().__init__(daemon=True)
        self.c, self.port, self.d, self.tls = conn, peer_port, d, tls

    def run(self):
        buf, pos, need = bytearray(), 0, 0
        try:
            while True:
                b = self.c.recv(1 << 18)
                if not b:
                    break
                buf += b
                if len(buf) < need:
                    continue	# inside a known-length body: nothing to parse yet
                reqs = parse_requests_prefix(bytes(buf[pos:]), None)
                if reqs:
                    pos += reqs[-1][2]
                    self.c.sendall(RESP * len(reqs))
                need = pos + body_hint(bytes(buf[pos:pos + 65536]))
        finally:
            name = "recv-%s%d.bin" % ("tls-" if self.tls else "", self.port)
            self.c.close()
            with open(os.path.join(self.d, name + ".tmp"), "wb") as f:
                f.write(buf)
            os.rename(os.path.join(self.d, name + ".tmp"), os.path.join(self.d, name))


def parse_requests_prefix(data, limit):
    """The complete requests at the start of data (stops at the first incomplete one)."""
    out, i = [], 0
    while limit is None or len(out) < limit:
        try:
            r = parse_requests_one(data, i)
        except (ValueError, IndexError):
            break
        if r is None:
            break
        out.append(r)
        i = r[2]
    return out


def parse_requests_one(data, i):
    """The complete request starting at offset i: (start, reqline_end, end, has_tp), or None."""
    he = data.find(b"\r\n\r\n", i)
    if he < 0:
        return None
    he += 4
    rl = data.index(b"\r\n", i) + 2
    head = data[rl:he].lower()
    has_tp = b"\ntraceparent:" in b"\n" + head
    m = re.search(rb"(?:^|\n)content-length:\s*(\d+)", head)
    end = he
    if re.search(rb"(?:^|\n)transfer-encoding:[^\n]*chunked", head):
        j = he
        while True:
            le = data.find(b"\r\n", j)
            if le < 0:
                return None
            size = int(data[j:le].split(b";")[0], 16)
            j = le + 2
            if size == 0:
                while True:
                    le = data.find(b"\r\n", j)
                    if le < 0:
                        return None
                    j, empty = le + 2, le == j
                    if empty:
                        break
                break
            j += size + 2
        end = j
    elif m:
        end = he + int(m.group(1))
    if end > len(data):
        return None
    return (i, rl, end, has_tp)


def echo(conn):
    try:
        while True:
            b = conn.recv(65536)
            if not b:
                break
            conn.sendall(b)
    finally:
        conn.close()


def serve(args):
    def listen(port, fam):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(("::", port))
        else:
            s.bind(("0.0.0.0", port))
        s.listen(128)
        return s

    def loop(s, kind, ctx=None):
        while True:
            c, peer = s.accept()
            if kind == "echo":
                threading.Thread(target=echo, args=(c,), daemon=True).start()
                continue
            if ctx:
                try:
                    c = ctx.wrap_socket(c, server_side=True)
                except ssl.SSLError:
                    c.close()
                    continue
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            Sink(c, peer[1], args.dir, tls=bool(ctx)).start()

    ths = []
    for fam in (socket.AF_INET, socket.AF_INET6):
        ths.append(threading.Thread(target=loop, args=(listen(args.port, fam), "http"), daemon=True))
    if args.echo_port:
        ths.append(threading.Thread(target=loop, args=(listen(args.echo_port, socket.AF_INET), "echo"), daemon=True))
    if args.tls_port:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        ths.append(threading.Thread(target=loop, args=(listen(args.tls_port, socket.AF_INET), "http", ctx), daemon=True))
    for t in ths:
        t.start()
    open(os.path.join(args.dir, "server.ready"), "w").close()
    threading.Event().wait()


# ------------------------------------------------------------------ client

def req(rnd, i, body=b"", extra=b"", chunked=None, method=None):
    method = method or (b"POST" if body or chunked else rnd.choice([b"GET", b"HEAD", b"DELETE", b"OPTIONS"]))
    h = b"%s /item/%d?q=%d HTTP/1.1\r\nHost: svc\r\nUser-Agent: stream-check\r\n" % (method, i, rnd.randrange(1 << 30))
    h += extra
    if chunked is not None:
        h += b"Transfer-Encoding: chunked\r\n\r\n"
        for c in chunked:
            h += b"%x\r\n%s\r\n" % (len(c), c)
        return h + b"0\r\n\r\n"
    if body:
        h += b"Content-Length: %d\r\n" % len(body)
    return h + b"\r\n" + body


def scenario(name, rnd, n):
    """Yield (family, writes, nreq): each element of writes is one send() call."""
    if name == "keepalive":
        # n requests on a few keep-alive connections, each written by one send()
        per = max(1, n // 4)
        for k in range(4):
            reqs = []
            for i in range(per):
                body = rnd.randbytes(rnd.choice([0, 0, 0, 10, 300, 3000])) if rnd.random() < 0.5 else b""
                reqs.append(req(rnd, i, body))
            yield socket.AF_INET, [[r] for r in reqs], per
    elif name == "pipelined":
        reqs = [req(rnd, i, rnd.randbytes(rnd.choice([0, 5, 100]))) for i in range(50)]
        writes = []
        for j in range(0, 50, 5):
            writes.append([b"".join(reqs[j:j + 5])])
        # plus one write ending mid-request
        blob = b"".join(req(rnd, 100 + i) for i in range(6))
        writes.append([blob[:len(blob) // 2 + 3], blob[len(blob) // 2 + 3:]])
        yield socket.AF_INET, writes, 56
    elif name == "bytewise":
        r = [req(rnd, 1), req(rnd, 2, b"hello body"), req(rnd, 3)]
        yield socket.AF_INET, [[bytes([c]) for c in x] for x in r], 3
    elif name == "bigheaders":
        extra = b"".join(b"X-Big-%d: %s\r\n" % (k, b"v" * 200) for k in range(30))  # ~6.5 KB
        yield socket.AF_INET, [[req(rnd, 1, extra=extra)], [req(rnd, 2, b"x" * 10, extra=extra)]], 2
    elif name == "bigbody":
        body = rnd.randbytes(1 << 20)
        r = req(rnd, 1, body)
        hl = r.index(b"\r\n\r\n") + 4
        yield socket.AF_INET, [[r[:hl], r[hl:]], [req(rnd, 2)], [req(rnd, 3, body)]], 3
    elif name == "chunked":
        chunks = [rnd.randbytes(rnd.randrange(1, 5000)) for _ in range(20)]
        # a chunk that looks like a request line must stay body
        chunks.append(b"GET /not-a-request HTTP/1.1\r\nHost: x\r\n\r\n")
        r = req(rnd, 1, chunked=chunks)
        pieces = [r[i:i + 777] for i in range(0, len(r), 777)]
        yield socket.AF_INET, [pieces, [req(rnd, 2)]], 2
    elif name == "ipv6":
        yield socket.AF_INET6, [[req(rnd, i, rnd.randbytes(i * 7))] for i in range(20)], 20
    else:
        raise SystemExit("unknown scenario " + name)


def run_conn(args, fam, writes, nreq):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    host = args.host6 if fam == socket.AF_INET6 else args.host
    s.connect((host, args.port))
    port = s.getsockname()[1]
    sent = bytearray()
    ends = []	# offset after each send()
    got = want = 0
    buf = pending = b""
    for group in writes:
        for w in group:
            s.sendall(w)
            sent += w
            ends.append(len(sent))
        # wait for the responses to the requests completed by this group
        pending += b"".join(group)
        done = parse_requests_prefix(pending, None)
        if done:
            want += len(done)
            pending = pending[done[-1][2]:]
        while got < want:
            b = s.recv(65536)
            if not b:
                raise SystemExit("server closed early")
            buf += b
            while buf.startswith(RESP):
                buf = buf[len(RESP):]
                got += 1
    if got != nreq:
        raise SystemExit("conn %d: %d responses, expected %d" % (port, got, nreq))
    s.close()
    with open(os.path.join(args.dir, "sent-%d.bin" % port), "wb") as f:
        f.write(sent)
    with open(os.path.join(args.dir, "writes-%d.txt" % port), "w") as f:
        f.write(" ".join(map(str, ends)))
    return nreq


def run_echo(args, rnd):
    s = socket.create_connection((args.host, args.echo_port))
    data = b"HELO not http\r\n" + rnd.randbytes(100000) + b"GET / HTTP/1.1\r\n\r\n"
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    if got != data:
        raise SystemExit("echo: stream changed (%d bytes back of %d)" % (len(got), len(data)))


def run_tls(args, rnd):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection((args.host, args.tls_port))
    port = raw.getsockname()[1]
    s = ctx.wrap_socket(raw)
    data = b"".join(req(rnd, i, rnd.randbytes(100)) for i in range(10))
    s.sendall(data)
    got = b""
    while len(got) < 10 * len(RESP):
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    if got != RESP * 10:
        raise SystemExit("tls: bad responses")
    with open(os.path.join(args.dir, "sent-tls-%d.bin" % port), "wb") as f:
        f.write(data)


def client(args):
    rnd = random.Random(args.seed)
    total = 0
    for name in args.scenarios.split(","):
        n = args.requests if name == "keepalive" else 0
        for fam, writes, nreq in scenario(name, rnd, n):
            total += run_conn(args, fam, writes, nreq)
    if args.echo_port:
        run_echo(args, rnd)
    if args.tls_port:
        run_tls(args, rnd)
    print("client: %d request/response pairs" % total)


def verify(args):
    files = sorted(f for f in os.listdir(args.dir) if f.startswith("sent-"))
    if not files:
        raise SystemExit("verify: nothing sent")
    nreq = ntp = 0
    for f in files:
        sent = open(os.path.join(args.dir, f), "rb").read()
        rf = os.path.join(args.dir, "recv-" + f[5:])
        if not os.path.exists(rf):
            raise SystemExit("verify: %s: server recorded nothing" % f)
        recv = open(rf, "rb").read()
        tls = f.startswith("sent-tls-")
        wf = os.path.join(args.dir, "writes-" + f[5:-4] + ".txt")
        ends = [int(x) for x in open(wf).read().split()] if os.path.exists(wf) else [len(sent)]
        sreqs = parse_requests(sent)
        rreqs = parse_requests(recv)
        if len(sreqs) != len(rreqs):
            raise SystemExit("verify: %s: %d requests sent, %d received" % (f, len(sreqs), len(rreqs)))
        stripped = bytearray()
        added = 0
        for (s0, srl, se, stp), (r0, rrl, re_, rtp) in zip(sreqs, rreqs):
            stripped += recv[r0:rrl]
            body_from = rrl
            he = sent.find(b"\r\n\r\n", s0) + 3	# the header block's last byte
            whole = bisect.bisect_right(ends, srl - 1) == bisect.bisect_right(ends, he)
            if args.expect_tp and not stp and not tls and whole:
                m = TP_LINE.match(recv, rrl)
                if not m:
                    raise SystemExit("verify: %s: request at %d has no inserted traceparent: %r"
                                     % (f, s0, recv[r0:rrl + 80]))
                body_from = m.end()
                added += 1
            stripped += recv[body_from:re_]
        if bytes(stripped) != sent:
            i = next((k for k in range(min(len(sent), len(stripped))) if sent[k] != stripped[k]),
                     min(len(sent), len(stripped)))
            raise SystemExit("verify: %s: bytes differ at %d (sent %r, got %r)"
                             % (f, i, sent[i:i + 40], bytes(stripped[i:i + 40])))
        # exactly one traceparent per request: nothing inserted anywhere else
        if len(TP_LINE.findall(recv)) != len(TP_LINE.findall(sent)) + added:
            raise SystemExit("verify: %s: unexpected traceparent lines" % f)
        nreq += len(sreqs)
        ntp += added
    print("verify: %d connections, %d requests, %d traceparent lines inserted, identical otherwise"
          % (len(files), nreq, ntp))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("server")
    s.add_argument("--dir", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--echo-port", type=int)
    s.add_argument("--tls-port", type=int)
    s.add_argument("--cert")
    s.add_argument("--key")
    c = sub.add_parser("client")
    c.add_argument("--dir", required=True)
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--host6", default="::1")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--echo-port", type=int)
    c.add_argument("--tls-port", type=int)
    c.add_argument("--requests", type=int, default=1000)
    c.add_argument("--scenarios", default="keepalive,pipelined,bytewise,bigheaders,bigbody,chunked,ipv6")
    c.add_argument("--seed", type=int, default=1)
    v = sub.add_parser("verify")
    v.add_argument("--dir", required=True)
    v.add_argument("--expect-tp", type=int, default=1)
    a = p.parse_args()
    {"server": serve, "client": client, "verify": verify}[a.cmd](a)


if __name__ == "__main__":
    main()
