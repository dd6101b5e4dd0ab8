#!/usr/bin/python3
"""The spans invariant: within a trace, span ids are unique and parent links form a tree.

  check_span_trees.py SPANS.jsonl...

Reads weft's JSON-lines spans. Per trace: no span id twice, at most one root
(a span whose parent is empty or not a span of the trace: the caller outside
weft's view), and every parent chain reaches it without a cycle. Prints a
line per problem and exits 1, or prints "span trees: N traces, M spans, ok".
"""
import json
import sys

traces = {}
nspans = 0
for path in sys.argv[1:]:
    for line in open(path):
        if not line.strip():
            continue
        s = json.loads(line)
        traces.setdefault(s["trace_id"], []).append(s)
        nspans += 1
problems = []
for tid, ss in traces.items():
    ids = {}
    for s in ss:
        if s["span_id"] in ids:
            problems.append("trace %s: span id %s twice" % (tid, s["span_id"]))
        ids[s["span_id"]] = s
    roots = [s for s in ss if s.get("parent_span_id", "") not in ids]
    if len(roots) != 1:
        problems.append("trace %s: %d roots (%s)" % (tid, len(roots),
                        ", ".join(s["span_id"] for s in roots[:4])))
    for s in ss:
        seen, cur = set(), s
        while cur.get("parent_span_id", "") in ids:
            if cur["span_id"] in seen:
                problems.append("trace %s: parent links loop at %s" % (tid, cur["span_id"]))
                break
            seen.add(cur["span_id"])
            cur = ids[cur["parent_span_id"]]
if not sys.argv[1:]:
    print("usage: check_span_trees.py SPANS.jsonl...", file=sys.stderr)
    sys.exit(2)
for p in problems:
    print(p)
if problems:
    sys.exit(1)
print("span trees: %d traces, %d spans, ok" % (len(traces), nspans))
