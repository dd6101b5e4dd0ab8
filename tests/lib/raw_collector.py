#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""raw_collector: a misbehaving OTLP/HTTP collector for tests.

    raw_collector.py --port-file F --hang [--held FILE --hold-ms MS]
    raw_collector.py --port-file F --answer STATUS --body-hex HEX [--type T]

--hang accepts every connection, reads the request and never answers. With
--held, FILE is created MS milliseconds after the first request has been
read completely (so a test can act while a request is known to wait).
--answer replies to every request with STATUS and the given body bytes.
The port is written to the --port-file once listening (readiness).
"""
import argparse
import os
import socket
import threading
import time


def read_message(c, data=b""):
    """One request from socket c, data the bytes already read from it:
    (head, Content-Length body, the bytes after it), or None at EOF."""
    while b"\r\n\r\n" not in data:
        got = c.recv(65536)
        if not got:
            return None
        data += got
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        got = c.recv(65536)
        if not got:
            return None
        body += got
    return head, body[:length], body[length:]


def read_request(c):
    m = read_message(c)
    return m[0] if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--held")
    ap.add_argument("--hold-ms", type=int, default=0)
    ap.add_argument("--answer", type=int)
    ap.add_argument("--body-hex", default="")
    ap.add_argument("--type", default="text/plain")
    a = ap.parse_args()

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(tmp, a.port_file)
    body = bytes.fromhex(a.body_hex)
    held = []          # connections kept open, never answered

    def serve(c):
        while True:
            if read_request(c) is None:
                c.close()
                return
            if a.hang:
                if a.held and not os.path.exists(a.held):
                    time.sleep(a.hold_ms / 1000.0)
                    open(a.held, "w").close()
                held.append(c)
                return
            c.sendall(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                      % (a.answer, a.type.encode(), len(body)) + body)

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
