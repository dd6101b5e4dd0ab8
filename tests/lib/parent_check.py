#!/usr/bin/python3
"""Check which trace each backend request of a front joined (tests/integration/http_parent_*).

  parent_check.py CLIENT_OUT BACKEND_LOG SPANS [--min-own PCT] [--max-own PCT] [--name NAME]

CLIENT_OUT: loop_apps.py client's lines {path, trace, span, status};
BACKEND_LOG: the backend's lines {path, traceparent: [...]}; SPANS: weft's
JSON lines. Each backend request is: own (its client request's trace id),
wrong (another client request's trace id), new (a trace of its own), two
(more than one traceparent) or none. Prints one line of counts and fails on
any wrong/two/none, on a client request that failed or whose backend request
is missing, on fewer than --min-own or more than --max-own % own, and when
the spans do not make, per client request, one SERVER span of the front under the client's span with the
backend request below it: own: front CLIENT span under that SERVER span,
backend SERVER span under the CLIENT span whose id the backend received; new:
the front's CLIENT span as the root of the new trace, the same below it.
"""
import argparse
import json
import sys

p = argparse.ArgumentParser()
p.add_argument("client")
p.add_argument("backend")
p.add_argument("spans")
p.add_argument("--min-own", type=float, default=0.0)
p.add_argument("--max-own", type=float, default=100.0)
p.add_argument("--name", default="front")
p.add_argument("--handoff", action="store_true",
               help="the request is answered by another thread than the one that read it: "
               "no front SERVER span is required")
a = p.parse_args()

reqs = [json.loads(l) for l in open(a.client)]
back = {}
for l in open(a.backend):
    r = json.loads(l)
    back.setdefault(r["path"], []).append(r["traceparent"])
spans = [json.loads(l) for l in open(a.spans)]
by_id = {(s["trace_id"], s["span_id"]): s for s in spans}
kids = {}
for s in spans:
    kids.setdefault((s["trace_id"], s["parent_span_id"]), []).append(s)
traces = {r["trace"] for r in reqs}
problems = []
n = dict(own=0, wrong=0, new=0, two=0, none=0, missing=0, failed=0, tree_bad=0)


def kind(s):
    return s["kind"].upper()


for r in reqs:
    if r["status"] != 200:
        n["failed"] += 1
        continue
    got = back.get(r["path"])
    if not got:
        n["missing"] += 1
        continue
    tps = got[-1]	# the request that answered (nginx may retry)
    if len(tps) != 1:
        n["two" if tps else "none"] += 1
        continue
    _, tid, sid, _ = tps[0].split("-")
    cls = "own" if tid == r["trace"] else "wrong" if tid in traces else "new"
    n[cls] += 1
    if cls == "wrong":
        continue
    # the tree of this request: SERVER(front) under the client's span
    srv = [s for s in kids.get((r["trace"], r["span"]), []) if kind(s) == "SERVER"]
    cl = by_id.get((tid, sid))
    bsrv = [s for s in kids.get((tid, sid), []) if kind(s) == "SERVER"]
    why = None
    if len(srv) != 1 and not a.handoff:
        why = "%d front SERVER spans under the client's span" % len(srv)
    elif not cl or kind(cl) != "CLIENT":
        why = "no CLIENT span with the id the backend received"
    elif cls == "own" and (not srv or cl["parent_span_id"] != srv[0]["span_id"]):
        why = "CLIENT span not under the front's SERVER span"
    elif cls == "new" and cl["parent_span_id"] != "":
        why = "new trace's CLIENT span is not its root"
    elif len(bsrv) != 1:
        why = "%d backend SERVER spans under the CLIENT span" % len(bsrv)
    if why:
        n["tree_bad"] += 1
        if len(problems) < 5:
            problems.append("%s %s: %s" % (r["path"], cls, why))

total = len(reqs)
print("%s: requests=%d own=%d new=%d wrong=%d two=%d none=%d missing=%d failed=%d tree-bad=%d"
      % (a.name, total, n["own"], n["new"], n["wrong"], n["two"], n["none"], n["missing"],
         n["failed"], n["tree_bad"]))
for x in problems:
    print("  ", x)
bad = [k for k in ("wrong", "two", "none", "missing", "failed", "tree_bad") if n[k]]
low, high = n["own"] * 100.0 < a.min_own * total, n["own"] * 100.0 > a.max_own * total
if total == 0 or bad or low or high:
    print("%s: FAIL (%s%s%s)" % (a.name, " ".join(bad), " own below %g%%" % a.min_own if low else "",
                                " own above %g%%" % a.max_own if high else ""))
    sys.exit(1)
