#!/usr/bin/python3
"""Sends requests that already carry a traceparent, in awkward shapes, one
connection each, and reads each response. Prints the traceparent values sent.

  tp_client.py HOST PORT
"""
import socket
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
TPS = [
    "00-11111111111111111111111111111111-1111111111111111-01",
    "00-22222222222222222222222222222222-2222222222222222-00",
    "00-33333333333333333333333333333333-3333333333333333-01",
    "00-44444444444444444444444444444444-4444444444444444-01",
    "00-55555555555555555555555555555555-5555555555555555-01",
]
SHAPES = [
    # (path, list of writes)
    ("/first", [b"GET /first HTTP/1.1\r\ntraceparent: %s\r\nHost: x\r\n\r\n"]),
    ("/later", [b"GET /later HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nTraceParent:   %s  \r\n\r\n"]),
    ("/write2", [b"GET /write2 HTTP/1.1\r\nHost: x\r\n", b"X-A: 1\r\nTRACEPARENT: %s\r\n", b"\r\n"]),
    ("/bytes", None),
    ("/post", [b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n", b"traceparent:%s\r\n\r\n", b"abc"]),
]


def main():
    for (path, writes), tp in zip(SHAPES, TPS):
        t = tp.encode()
        if writes is None:
            whole = b"GET /bytes HTTP/1.1\r\nHost: x\r\ntraceparent: %s\r\n\r\n" % t
            writes = [bytes([c]) for c in whole]
        else:
            writes = [w % t if b"%s" in w else w for w in writes]
        s = socket.create_connection((HOST, PORT))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for w in writes:
            s.sendall(w)
            if len(writes) < 10:
                time.sleep(0.02)
        got = b""
        while b"\r\n\r\n" not in got:
            b = s.recv(4096)
            if not b:
                break
            got += b
        if not got.startswith(b"HTTP/1.1 200"):
            sys.exit("%s: bad response %r" % (path, got[:60]))
        s.close()
        print(path, tp)


main()
