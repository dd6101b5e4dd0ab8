#!/usr/bin/python3
"""HTTPS test client: N GET requests, on one keep-alive connection or a new one each.

  https_client.py URL --ca CA [-n N] [--keepalive] [--traceparent TP] [--post-size N]
Prints one line per response: "<status> <path>"; exits 1 on any failure.
"""
import argparse
import http.client
import os
import ssl
import sys
import urllib.parse

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("--ca", required=True)
ap.add_argument("-n", type=int, default=1)
ap.add_argument("--keepalive", action="store_true")
ap.add_argument("--traceparent")
ap.add_argument("--post-size", type=int, default=0, help="POST this many random bytes")
args = ap.parse_args()
u = urllib.parse.urlsplit(args.url)
ctx = ssl.create_default_context(cafile=args.ca)
conn = None
rc = 0
for i in range(args.n):
    if conn is None or not args.keepalive:
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
    path = "%s%s" % (u.path or "/", i if args.n > 1 else "")
    hdrs = {"traceparent": args.traceparent} if args.traceparent else {}
    if args.post_size:
        conn.request("POST", path, body=os.urandom(args.post_size), headers=hdrs)
    else:
        conn.request("GET", path, headers=hdrs)
    r = conn.getresponse()
    r.read()
    print(r.status, path, flush=True)
    if r.status != 200:
        rc = 1
    if not args.keepalive:
        conn.close()
sys.exit(rc)
