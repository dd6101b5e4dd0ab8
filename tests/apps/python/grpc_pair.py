#!/usr/bin/env python3
"""A Python grpcio pair over cleartext HTTP/2, without generated code (raw
bytes in and out through a generic handler).

  grpc_pair.py server PORT DIR      serve /weft.test.Echo/Say on 127.0.0.1:PORT;
                                    one JSON line per call into DIR/calls.jsonl:
                                    the traceparent and tracestate values the
                                    call carried and the app's own metadata
                                    (x-weft-n, the x-big lengths, and "md": a
                                    hash of the request and of every other
                                    metadata field in order);
                                    DIR/server.ready once listening; env
                                    WEFT_GRPC_MAX_FRAME: the server's
                                    SETTINGS_MAX_FRAME_SIZE
  grpc_pair.py server PORT DIR NEXT the same, and each call first calls
                                    127.0.0.1:NEXT (a relay): the answer is
                                    "relay:" + NEXT's
  grpc_pair.py client PORT N BIG [CONC]
                                    N unary calls on one channel, CONC (4) at a
                                    time; each carries metadata x-weft-n (its
                                    number) and, when BIG > 0, x-big with BIG
                                    bytes (BIG -1: big_size(n) bytes, from 0 to
                                    16000) after one small call (x-weft-n
                                    warmup); prints each response in call
                                    order (the uninstrumented run must print
                                    the same)
  grpc_pair.py status PORT N [CONC] N calls, CONC (8) at a time, call i in mode
                                    MODES[i % 5] (metadata x-weft-mode): ok,
                                    notfound (initial metadata, then
                                    context.abort NOT_FOUND: headers, then
                                    trailers), bigtrailer (OK with a 40000-byte
                                    trailing field: HEADERS + CONTINUATION to a
                                    client allowing 16384-byte frames), tonly
                                    (context.abort INTERNAL before anything:
                                    a Trailers-Only response), unimplemented
                                    (a method the server lacks: Trailers-Only
                                    UNIMPLEMENTED from grpc itself); prints
                                    one JSON line per call: n, mode, the
                                    status code, the trailer's length
  grpc_pair.py load PORT SECS CONC  load mode (benchmarks): CONC callers make
                                    unary calls back to back (a closed loop,
                                    CONC in flight, fixed 64-byte request) for
                                    SECS seconds; prints one line
                                    "load rpcs=N errors=E secs=S rps=R"; a
                                    server with WEFT_GRPC_QUIET=1 in its
                                    environment writes no calls.jsonl
"""
import concurrent.futures
import hashlib
import json
import os
import sys
import threading
import time

import grpc

METHOD = "/weft.test.Echo/Say"
MODES = ("ok", "notfound", "bigtrailer", "tonly", "unimplemented")
BIG_TRAILER = 40000
# metadata near the 16384-byte frame limit passes grpc's own 8 KiB default
OPTS = [("grpc.max_metadata_size", 1 << 20)]


def server(port, d, nxt=0):
    lock = threading.Lock()
    path = os.path.join(d, "calls.jsonl")
    onward = grpc.insecure_channel("127.0.0.1:%d" % nxt, options=OPTS).unary_unary(METHOD) if nxt else None

    quiet = os.environ.get("WEFT_GRPC_QUIET") == "1"

    def say(req, ctx):
        if quiet:
            return b"echo:" + req
        md = ctx.invocation_metadata()
        rec = {
            "traceparent": [v for k, v in md if k == "traceparent"],
            "tracestate": [v for k, v in md if k == "tracestate"],
            "n": [v for k, v in md if k == "x-weft-n"],
            "big": [len(v) for k, v in md if k == "x-big"],
            "md": hashlib.sha256(json.dumps([req.hex()] + [[k, v if isinstance(v, str) else v.hex()]
                                            for k, v in md if k not in ("traceparent", "tracestate")]
                                           ).encode()).hexdigest(),
        }
        with lock, open(path, "a") as out:
            out.write(json.dumps(rec) + "\n")
        mode = [v for k, v in md if k == "x-weft-mode"]
        if mode == ["notfound"]:
            ctx.send_initial_metadata(())
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
        elif mode == ["tonly"]:
            ctx.abort(grpc.StatusCode.INTERNAL, "failed before any response")
        elif mode == ["bigtrailer"]:
            ctx.set_trailing_metadata((("x-trailer", "t" * BIG_TRAILER),))
        if onward:
            return b"relay:" + onward(req, metadata=[("x-weft-n", rec["n"][0])], timeout=30)
        return b"echo:" + req

    handler = grpc.method_handlers_generic_handler(
        "weft.test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)})
    opts = OPTS
    if os.environ.get("WEFT_GRPC_MAX_FRAME"):
        opts = OPTS + [("grpc.http2.max_frame_size", int(os.environ["WEFT_GRPC_MAX_FRAME"]))]
    srv = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=4), options=opts)
    srv.add_generic_rpc_handlers((handler,))
    srv.add_insecure_port("127.0.0.1:%d" % port)
    srv.start()
    open(os.path.join(d, "server.ready"), "w").close()
    srv.wait_for_termination()


def big_size(i):
    return (i * 7919) % 16001


def client(port, n, big, conc):
    ch = grpc.insecure_channel("127.0.0.1:%d" % port, options=OPTS)
    say = ch.unary_unary(METHOD)

    def one(i):
        md = [("x-weft-n", str(i))]
        size = big_size(i) if big < 0 else big
        if size:
            md.append(("x-big", "b" * size))
        return say(b"request %d" % i, metadata=md, timeout=30)

    if big:
        # one small call first: the server's SETTINGS (its larger frame limit)
        # have been read before a big header block goes out
        say(b"warmup", metadata=[("x-weft-n", "warmup")], timeout=30)
    with concurrent.futures.ThreadPoolExecutor(max_workers=conc) as pool:
        for r in pool.map(one, range(n)):
            print(r.decode())
    ch.close()


def status(port, n, conc):
    # 16384-byte frames at most towards this client: the big trailer needs CONTINUATION
    ch = grpc.insecure_channel("127.0.0.1:%d" % port,
                               options=OPTS + [("grpc.http2.max_frame_size", 16384)])
    calls = {m: ch.unary_unary(METHOD if m != "unimplemented" else "/weft.test.Echo/Missing")
             for m in MODES}

    def one(i):
        mode = MODES[i % len(MODES)]
        try:
            r = calls[mode].with_call(b"request %d" % i, timeout=30,
                                      metadata=[("x-weft-n", str(i)), ("x-weft-mode", mode)])
            code, trailer = grpc.StatusCode.OK, r[1].trailing_metadata()
        except grpc.RpcError as e:
            code, trailer = e.code(), e.trailing_metadata()
        tl = [len(v) for k, v in trailer or () if k == "x-trailer"]
        return {"n": i, "mode": mode, "code": code.value[0], "trailer": tl}

    with concurrent.futures.ThreadPoolExecutor(max_workers=conc) as pool:
        for r in pool.map(one, range(n)):
            print(json.dumps(r))
    ch.close()


def load(port, secs, conc):
    ch = grpc.insecure_channel("127.0.0.1:%d" % port, options=OPTS)
    say = ch.unary_unary(METHOD)
    req = b"r" * 64
    say(req, timeout=30)  # connected before the clock starts
    lock = threading.Lock()
    done = [0, 0]  # rpcs, errors
    start = time.monotonic()
    end = start + secs

    def caller():
        n = e = 0
        while time.monotonic() < end:
            try:
                say(req, timeout=30)
                n += 1
            except grpc.RpcError:
                e += 1
        with lock:
            done[0] += n
            done[1] += e

    threads = [threading.Thread(target=caller) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - start
    print("load rpcs=%d errors=%d secs=%.3f rps=%.1f" % (done[0], done[1], took, done[0] / took))
    ch.close()


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "status":
        status(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 8)
    elif sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    else:
        client(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
               int(sys.argv[5]) if len(sys.argv) > 5 else 4)
