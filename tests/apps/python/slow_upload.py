#!/usr/bin/python3
"""A large upload written in small pieces over a few seconds, then one more
request on the same connection. Touches PROGRESS once a third is sent (so a
test can kill weft-http mid-transfer); records every byte sent in OUT.

  slow_upload.py HOST PORT MBYTES PROGRESS OUT
"""
import os
import socket
import sys
import time

host, port, mb, progress, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
size = mb << 20
body = os.urandom(1 << 16)
s = socket.create_connection((host, port))
sent = bytearray()


def send(b):
    s.sendall(b)
    sent.extend(b)


def response():
    got = b""
    while not got.endswith(b"ok"):
        b = s.recv(4096)
        if not b:
            sys.exit("connection closed before the response")
        got += b


send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
left, n = size, 0
while left:
    piece = body[:min(left, len(body))]
    send(piece)
    left -= len(piece)
    n += 1
    if n == (size // len(body)) // 3:
        open(progress, "w").close()
    time.sleep(0.004)
response()
send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
response()
s.close()
open(out, "wb").write(sent)
