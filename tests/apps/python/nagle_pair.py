#!/usr/bin/env python3
"""A keep-alive HTTP/1.1 pair whose client leaves Nagle on (no TCP_NODELAY),
as nginx does with its upstreams.

  nagle_pair.py server PORT FILE   answer each request with 200; append one line
                                   per request to FILE: how many traceparent
                                   lines it carried
  nagle_pair.py client PORT N      N requests on one connection, each in one
                                   send; prints the median and the largest
                                   round trip in ms
"""
import socket
import statistics
import sys
import time


def read_request(conn, buf):
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def server(port, path):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    open(path + ".ready", "w").close()
    while True:
        conn, _ = ls.accept()
        buf = b""
        with open(path, "a") as out:
            while True:
                head, buf = read_request(conn, buf)
                if head is None:
                    break
                n = sum(1 for line in head.split(b"\r\n")
                        if line.lower().startswith(b"traceparent:"))
                out.write("%d\n" % n)
                out.flush()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.close()


def client(port, n):
    s = socket.create_connection(("127.0.0.1", port))
    assert s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
    req = b"GET /item HTTP/1.1\r\nHost: backend\r\nUser-Agent: nagle-pair\r\n\r\n"
    times = []
    buf = b""
    for _ in range(n):
        t0 = time.monotonic()
        s.sendall(req)
        while b"\r\n\r\nok" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("connection closed")
            buf += chunk
        buf = buf.split(b"\r\n\r\nok", 1)[1]
        times.append((time.monotonic() - t0) * 1000)
    print("median %.2f max %.2f" % (statistics.median(times), max(times)))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3])
    else:
        client(int(sys.argv[2]), int(sys.argv[3]))
