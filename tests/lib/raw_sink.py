#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""raw_sink: an HTTP/1.1 leaf that records every request byte for byte.

    raw_sink.py --name R --port-file F --log L

Serves keep-alive connections, one thread each. Every request (its head up
to the blank line and a Content-Length body) is appended to L as a JSON line
{"path": ..., "raw": <hex of the bytes as received>} and answered 200 with
the body NAME + path (like tests/apps/go/chain's leaf). The port is written to
F once listening (readiness). Chunked request bodies are not supported.
"""
import argparse
import json
import os
import socket
import threading

from raw_collector import read_message	# tests/lib, beside this file


def serve(conn, name, log, lock):
    rest = b""
    with conn:
        while True:
            m = read_message(conn, rest)
            if not m:
                return
            head, body, rest = m
            raw = head + b"\r\n\r\n" + body
            path = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            with lock:
                log.write(json.dumps({"path": path, "raw": raw.hex()}) + "\n")
                log.flush()
            answer = (name + path).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", default="R")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(256)
    log = open(a.log, "a")
    lock = threading.Lock()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(tmp, a.port_file)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, a.name, log, lock), daemon=True).start()


if __name__ == "__main__":
    main()
