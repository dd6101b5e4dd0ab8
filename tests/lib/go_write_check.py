#!/usr/bin/python3
"""Checks of weft-go's write path (run in the VM guest by tests/lib/go_vm_write.sh).

  go_write_check.py DIR CHECK...

DIR holds spans.jsonl and NAME.log of each chain service ("recv name=X
path=P n=N traceparent=V" lines). Environment: PIDS="A=pid B=pid ...".
CHECK is one of
  chain:PATH:A,B,C:TRACEPARENT|-    one request through services A->B->C
  appset:PATH:P,C:TRACEPARENT       P set TRACEPARENT itself; C must get it as is
"""
import json
import os
import sys

d = sys.argv[1]
pids = {k: int(v) for k, v in (kv.split("=") for kv in os.environ["PIDS"].split())}
errors = []
spans = [json.loads(l) for l in open(os.path.join(d, "spans.jsonl")) if l.strip()]


def check(cond, msg):
    if not cond:
        errors.append(msg)
    return cond


def path_of(s):
    a = s.get("attributes", {})
    if "url.path" in a:
        return a["url.path"]
    full = a.get("url.full", "")
    i = full.find("/", full.find("//") + 2)
    return full[i:] if i >= 0 else ""


_by = {}
for s in spans:
    _by.setdefault((s["pid"], s["kind"], path_of(s)), []).append(s)


def span(svc, kind, path):
    got = _by.get((pids[svc], kind, path), [])
    check(len(got) == 1, f"{svc} {kind} {path}: {len(got)} spans, expected 1")
    return got[0] if len(got) == 1 else None


_recv = {}
for name in pids:
    try:
        for line in open(os.path.join(d, f"{name}.log")):
            if line.startswith("recv "):
                f = dict(kv.split("=", 1) for kv in line.split()[1:])
                _recv.setdefault((name, f["path"]), []).append(f)
    except FileNotFoundError:
        pass


def received(svc, path):
    got = _recv.get((svc, path), [])
    check(len(got) == 1, f"{svc} received {path} {len(got)} times")
    return got[0] if got else None


def split_tp(tp):
    p = tp.split("-")
    return p[1], p[2], p[3]


def check_chain(path, hops, tp):
    first = received(hops[0], path)
    if tp != "-":
        check(first and first["n"] == "1" and first["traceparent"] == tp, f"{path}: {hops[0]} got {first}")
        want_trace, parent = split_tp(tp)[0], split_tp(tp)[1]
    else:
        check(first and first["n"] == "0", f"{path}: {hops[0]} got a traceparent: {first}")
        want_trace, parent = None, ""
    for i, h in enumerate(hops):
        srv = span(h, "server", path)
        if not srv:
            return
        if want_trace is None:
            want_trace = srv["trace_id"]
            check(srv["parent_span_id"] == "", f"{path}: first hop should start the trace")
        check(srv["trace_id"] == want_trace, f"{path}: {h} server span in trace {srv['trace_id']}, expected {want_trace}")
        check(srv["parent_span_id"] == parent, f"{path}: {h} server parent {srv['parent_span_id']}, expected {parent}")
        if i == len(hops) - 1:
            break
        cli = span(h, "client", path)
        if not cli:
            return
        check(cli["trace_id"] == want_trace and cli["parent_span_id"] == srv["span_id"], f"{path}: {h} client span not the child of its server span")
        nxt = received(hops[i + 1], path)
        if not nxt:
            return
        # Exactly one traceparent on the wire, carrying the client span's id.
        check(nxt["n"] == "1", f"{path}: {hops[i + 1]} received {nxt['n']} traceparent headers")
        check(nxt["traceparent"] == f"00-{want_trace}-{cli['span_id']}-{cli['trace_flags']:02x}",
              f"{path}: {hops[i + 1]} received {nxt['traceparent']}, expected trace {want_trace} parent {cli['span_id']}")
        parent = cli["span_id"]


def check_appset(path, hops, tp):
    cli = span(hops[0], "client", path)
    nxt = received(hops[1], path)
    if cli:
        t, s, _ = split_tp(tp)
        check(cli["trace_id"] == t and cli["span_id"] == s, f"{path}: app-set traceparent is not the client span's context")
    check(nxt and nxt["n"] == "1" and nxt["traceparent"] == tp, f"{path}: {hops[1]} got {nxt}, expected the app's header untouched")


for c in sys.argv[2:]:
    kind, path, hops, tp = c.split(":", 3)
    (check_chain if kind == "chain" else check_appset)(path, hops.split(","), tp)

for e in errors[:40]:
    print("FAIL:", e)
print(f"{len(spans)} spans, {len(sys.argv) - 2} checks, {len(errors)} problems")
sys.exit(1 if errors else 0)
