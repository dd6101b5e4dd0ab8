#!/usr/bin/env python3
"""Hop-by-hop checks of a Go net/http HTTP/2 chain run (tests/apps/go/chain
-h2 tls|h2c) under weft-go: read-only with weft-http's h2c insertion
(tests/integration/go_h2c_lockdown.test) or writing itself into the HEADERS
frames (tests/vm/go_h2_write.test, go_vm_h2.sh).

    go_h2_chain_check.py T TP VARIANT... [--path PATH=TP2]...

T/spans.jsonl holds the exported spans; T/VARIANT/{A,B,C}.log what each hop
received (the chain's recv lines) and T/VARIANT/pids their pids. Per variant
(the requests /one with traceparent TP to A, /two without, /c1../c100 at
once from the chain's client on one connection, each with its own
traceparent; --path: one more request PATH sent to A with traceparent TP2):
  - a hop receives exactly one traceparent; beyond A, it names the caller's
    exported CLIENT span (same trace, its span id, the caller's pid, HTTP/2),
    whose parent is the caller's SERVER span, which continues what the
    caller received;
  - /two: one new trace from A's SERVER span on;
  - the 100: every hop receives its own request's trace, naming a CLIENT
    span of that request (no context crosses streams), and B and C served
    them over one connection each.
"""
import os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from span_file import Spans

args, extra = [], {}
it = iter(sys.argv[1:])
for a in it:
    if a == "--path":
        p, tp = next(it).split("=", 1)
        extra[p] = tp
    else:
        args.append(a)
T, TP, variants = args[0], args[1], args[2:]
spans_file = Spans(T + "/spans.jsonl")
spans, one = spans_file.all, spans_file.one

def path(s):
    a = s["attributes"]
    return a.get("url.path") or re.sub(r"^[a-z]+://[^/]*", "", a.get("url.full", ""))

def recv(v, hop):
    """path -> traceparent values hop received."""
    out = {}
    for l in open("%s/%s/%s.log" % (T, v, hop)):
        m = re.match(r"recv name=\S+ path=(\S+) n=(\d+) traceparent=(\S*)$", l)
        if not m or m.group(1) == "/healthz":
            continue
        tps = m.group(3).split(",") if m.group(3) else []
        if int(m.group(2)) != len(tps):
            sys.exit("%s %s: n=%s but %s" % (v, hop, m.group(2), tps))
        if m.group(1) in out:
            sys.exit("%s %s: %s received twice" % (v, hop, m.group(1)))
        out[m.group(1)] = tps
    return out

def server_span(pid, p, tp):
    """The SERVER span at pid for path p continuing tp (None: a new trace)."""
    got = [s for s in spans if s["pid"] == pid and s["kind"] == "server" and path(s) == p]
    if len(got) != 1:
        sys.exit("pid %d: %d SERVER spans for %s" % (pid, len(got), p))
    s = got[0]
    if tp is None:
        if s.get("parent_span_id") or s["attributes"].get("weft.parent_source") != "generated":
            sys.exit("pid %d %s: SERVER span %s is no new trace" % (pid, p, s["span_id"]))
    elif (s["trace_id"], s.get("parent_span_id"), s["attributes"].get("weft.parent_source")) != \
            (tp.split("-")[1], tp.split("-")[2], "header"):
        sys.exit("pid %d %s: SERVER span %s does not continue %s" % (pid, p, s["span_id"], tp))
    return s

def hop(v, caller, r_callee, p, prev_tp):
    """The callee received one traceparent naming caller's CLIENT span for p,
    a child of caller's SERVER span (which continues prev_tp)."""
    tps = r_callee[p]
    if len(tps) != 1:
        sys.exit("%s %s: the callee of pid %d received %d traceparents: %s" % (v, p, caller, len(tps), tps))
    tp = tps[0]
    srv = server_span(caller, p, prev_tp)
    c = one(tp.split("-")[2])
    if c["kind"] != "client" or c["pid"] != caller or path(c) != p:
        sys.exit("%s %s: %s names %s, not a CLIENT span of pid %d" % (v, p, tp, c, caller))
    if c["trace_id"] != tp.split("-")[1] or c["trace_id"] != srv["trace_id"] or \
            c.get("parent_span_id") != srv["span_id"]:
        sys.exit("%s %s: CLIENT span %s is not in %s as a child of SERVER span %s" % (v, p, c["span_id"], tp, srv["span_id"]))
    if str(c["attributes"].get("network.protocol.version")) != "2":
        sys.exit("%s %s: CLIENT span %s is not HTTP/2" % (v, p, c["span_id"]))
    return tp, srv

for v in variants:
    pids = dict(x.split("=") for x in open("%s/%s/pids" % (T, v)).read().split())
    A, B, C = int(pids["A"]), int(pids["B"]), int(pids["C"])
    rA, rB, rC = recv(v, "A"), recv(v, "B"), recv(v, "C")
    want = {"/one", "/two"} | set(extra) | {"/c%d" % i for i in range(1, 101)}
    for h, r in (("A", rA), ("B", rB), ("C", rC)):
        if set(r) != want:
            sys.exit("%s: %s received %s" % (v, h, sorted(set(r) ^ want)[:5]))
    if rA["/one"] != [TP] or rA["/two"] != []:
        sys.exit("%s: A received %s and %s" % (v, rA["/one"], rA["/two"]))
    for p, tp in extra.items():
        if rA[p] != [tp]:
            sys.exit("%s: A received %s for %s, curl sent %s" % (v, rA[p], p, tp))
    for p, first in [("/one", TP), ("/two", None)] + sorted(extra.items()):
        tp, srv = hop(v, A, rB, p, first)
        if first is None and tp.split("-")[1] != srv["trace_id"]:
            sys.exit("%s /two: B's context %s is not in A's new trace" % (v, tp))
        tp, _ = hop(v, B, rC, p, tp)
        server_span(C, p, tp)
    peers = {}
    for i in range(1, 101):
        p, t = "/c%d" % i, "%032x" % (0xabc000 + i)
        app = "00-%s-%016x-01" % (t, i)
        if rA[p] != [app]:
            sys.exit("%s: A received %s for %s, the client sent %s" % (v, rA[p], p, app))
        prev = app
        for caller, r in ((A, rB), (B, rC)):
            tp, _ = hop(v, caller, r, p, prev)
            if tp.split("-")[1] != t:
                sys.exit("%s: %s carried trace %s, its own is %s: contexts crossed" % (v, p, tp, t))
            prev = tp
        server_span(C, p, prev)
        for pid in (B, C):
            srv = server_span(pid, p, (rB if pid == B else rC)[p][0])
            peers.setdefault(pid, set()).add(srv["attributes"].get("network.peer.port"))
    for pid, ports in peers.items():
        if len(ports) != 1 or None in ports:
            sys.exit("%s: pid %d served the 100 over connections from ports %s, want one" % (v, pid, sorted(map(str, ports))))
print("HTTP/2 chain: ok (%s)" % " ".join(variants))
