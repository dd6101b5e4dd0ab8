#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The span-tree invariant over exported spans (JSON lines files).

Usage: /usr/bin/python3 tests/lib/check_span_trees.py SPANS.jsonl...

Within one trace, span ids are unique and parent links form a tree: no
cycle, no span that is its own ancestor. A parent id that names no exported
span (a remote caller, a span not exported) ends the walk up, it is not an
error. Exits 1 with one line per problem; on success prints
"span trees: N traces, M spans, ok". Exits 2 when a file cannot be read or a
line is not a span.
"""
import json
import sys


def die(msg):
    print("check_span_trees: " + msg, file=sys.stderr)
    sys.exit(2)


def load(paths):
    spans = []
    for path in paths:
        try:
            with open(path) as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        s = json.loads(line)
                        spans.append((s["trace_id"], s["span_id"], s.get("parent_span_id") or ""))
                    except (ValueError, KeyError, TypeError) as e:
                        die("%s:%d: not a span line (%s): pass a JSON lines spans file"
                            % (path, n, e))
        except OSError as e:
            die("cannot read %s: %s" % (path, e.strerror))
    return spans


def check(spans):
    problems = []
    traces = {}
    for tid, sid, parent in spans:
        t = traces.setdefault(tid, {})
        if sid in t:
            problems.append("trace %s: span id %s seen twice" % (tid, sid))
            continue
        t[sid] = parent
    for tid, t in sorted(traces.items()):
        reported = set()
        for sid, parent in sorted(t.items()):
            if parent == sid:
                problems.append("trace %s: span %s is its own parent" % (tid, sid))
                reported.add(sid)
                continue
            # walk up; a walk longer than the trace has spans is in a cycle
            seen, cur = [sid], parent
            while cur in t and len(seen) <= len(t):
                if cur == sid:
                    if not reported.intersection(seen):
                        problems.append("trace %s: parent link cycle %s (span %s is its own ancestor)"
                                        % (tid, " -> ".join(seen + [cur]), sid))
                    reported.update(seen)
                    break
                if cur in seen:
                    break  # a cycle above this span; reported from a span on it
                seen.append(cur)
                cur = t[cur]
    return traces, problems


def main(argv):
    if len(argv) < 2:
        die("usage: check_span_trees.py SPANS.jsonl...")
    spans = load(argv[1:])
    traces, problems = check(spans)
    for p in problems:
        print(p)
    if problems:
        return 1
    print("span trees: %d traces, %d spans, ok" % (len(traces), len(spans)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
