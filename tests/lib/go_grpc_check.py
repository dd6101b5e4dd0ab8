#!/usr/bin/env python3
"""Hop-by-hop checks of a Go gRPC chain run (tests/apps/go/grpcchain) under
weft-go: read-only with weft-http's h2c insertion (go_grpc_lockdown.test) or
writing itself (tests/vm/go_grpc_write.test, go_vm_grpc.sh).

    go_grpc_check.py T TP VARIANT...

T/spans.jsonl holds the exported spans; T/VARIANT/{A,B,C}.log what each hop
received (the chain's echo) and T/VARIANT/pids their pids. For each variant
(the calls /one, /s with traceparent TP from the client; /two, /s2 without;
/c1../c100 concurrent on one connection):
  - every hop receives exactly one traceparent;
  - beyond the client's own (left alone), it names the caller's exported
    CLIENT span (same trace, its span id, the caller's pid), whose parent is
    the caller's SERVER span, which continues what the caller received;
  - without one from the client: one new trace rooted at its CLIENT span;
  - concurrent RPCs: each hop's context in its own RPC's trace.
"""
import os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from span_file import Spans
T, TP, variants = sys.argv[1], sys.argv[2], sys.argv[3:]
tid, psid = TP.split("-")[1], TP.split("-")[2]
spans_file = Spans(T + "/spans.jsonl")
spans, one = spans_file.all, spans_file.one
U, S = "/weft.test.Chain/Unary", "/weft.test.Chain/Stream"

def recv(v, hop):
    """path -> (method, traceparent values) of what hop received."""
    out = {}
    for l in open("%s/%s/%s.log" % (T, v, hop)):
        m = re.match(r"recv name=\S+ method=(\S+) path=(\S+) n=(\d+) traceparent=(\S*) app=", l)
        if not m:
            continue
        tps = m.group(4).split(",") if m.group(4) else []
        if int(m.group(3)) != len(tps):
            sys.exit("%s %s: n=%s but %s" % (v, hop, m.group(3), tps))
        if m.group(2) == "/ready":
            continue  # readiness calls (B and C get two)
        if m.group(2) in out:
            sys.exit("%s %s: %s received twice" % (v, hop, m.group(2)))
        out[m.group(2)] = (m.group(1), tps)
    return out

def server_span(pid, method, tp):
    """The SERVER span at pid continuing traceparent tp."""
    t, p = tp.split("-")[1], tp.split("-")[2]
    got = [s for s in spans if s["pid"] == pid and s["kind"] == "server" and s["name"] == method
           and s["trace_id"] == t and s.get("parent_span_id") == p]
    if len(got) != 1:
        sys.exit("pid %d: %d SERVER spans of %s continue %s" % (pid, len(got), method, tp))
    if got[0]["attributes"].get("weft.parent_source") != "header":
        sys.exit("pid %d: SERVER span %s: parent source %s" % (pid, got[0]["span_id"],
                 got[0]["attributes"].get("weft.parent_source")))
    return got[0]

def client_named(tp, method, caller_pid=None):
    """traceparent tp names an exported CLIENT span of method (at caller_pid)."""
    if len(tp) != 55:
        sys.exit("not a traceparent: %r" % tp)
    c = one(tp.split("-")[2])
    if c["kind"] != "client" or c["name"] != method or c["trace_id"] != tp.split("-")[1]:
        sys.exit("%s names %s" % (tp, c))
    if caller_pid is not None and c["pid"] != caller_pid:
        sys.exit("%s names a CLIENT span of pid %d, not the caller %d" % (tp, c["pid"], caller_pid))
    return c

for v in variants:
    pids = dict(x.split("=") for x in open("%s/%s/pids" % (T, v)).read().split())
    A, B, C = int(pids["A"]), int(pids["B"]), int(pids["C"])
    rA, rB, rC = recv(v, "A"), recv(v, "B"), recv(v, "C")
    # every RPC at every hop carries exactly one traceparent
    for hop, r in (("A", rA), ("B", rB), ("C", rC)):
        for p, (m, tps) in r.items():
            if len(tps) != 1:
                sys.exit("%s: %s received %d traceparents for %s: %s" % (v, hop, len(tps), p, tps))
    # the client's own traceparent: A gets it untouched; then each hop names its caller's CLIENT span
    for p, m in (("/one", U), ("/s", S)):
        if rA[p][1] != [TP]:
            sys.exit("%s: A received %s for %s, the client sent %s" % (v, rA[p][1], p, TP))
        prev_tp = TP
        for caller, callee, r in ((A, B, rB), (B, C, rC)):
            tp = r[p][1][0]
            srv = server_span(caller, m, prev_tp)
            c = client_named(tp, m, caller)
            if c["trace_id"] != tid or c.get("parent_span_id") != srv["span_id"]:
                sys.exit("%s %s: the CLIENT span %s is not a child of its SERVER span %s" % (v, p, c["span_id"], srv["span_id"]))
            prev_tp = tp
        server_span(C, m, prev_tp)
    # no traceparent from the client: one new trace from the client's CLIENT span
    for p, m in (("/two", U), ("/s2", S)):
        tp = rA[p][1][0]
        root = client_named(tp, m)
        if root["pid"] in (A, B, C) or root.get("parent_span_id") or \
                root["attributes"].get("weft.parent_source") != "generated":
            sys.exit("%s %s: A's parent %s is not a new trace's root CLIENT span at the client" % (v, p, root))
        prev_tp = tp
        for caller, r in ((A, rB), (B, rC)):
            tp = r[p][1][0]
            srv = server_span(caller, m, prev_tp)
            c = client_named(tp, m, caller)
            if c["trace_id"] != root["trace_id"] or c.get("parent_span_id") != srv["span_id"]:
                sys.exit("%s %s: hop context %s is not in the new trace %s" % (v, p, tp, root["trace_id"]))
            prev_tp = tp
        server_span(C, m, prev_tp)
    # 100 concurrent RPCs on one connection per hop: each in its own trace
    for i in range(1, 101):
        p, t = "/c%d" % i, "%032x" % (0xabc000 + i)
        if rA[p][1] != ["00-%s-%016x-01" % (t, i)]:
            sys.exit("%s: A received %s for %s" % (v, rA[p][1], p))
        prev_tp = rA[p][1][0]
        for caller, r in ((A, rB), (B, rC)):
            tp = r[p][1][0]
            if tp.split("-")[1] != t:
                sys.exit("%s: %s carried trace %s, its own is %s: contexts crossed" % (v, p, tp, t))
            srv = server_span(caller, U, prev_tp)
            c = client_named(tp, U, caller)
            if c.get("parent_span_id") != srv["span_id"]:
                sys.exit("%s: %s: CLIENT span %s is not a child of SERVER span %s" % (v, p, c["span_id"], srv["span_id"]))
            prev_tp = tp
        server_span(C, U, prev_tp)
print("gRPC chain: ok (%s)" % " ".join(variants))
