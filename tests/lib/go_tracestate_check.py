#!/usr/bin/python3
"""tracestate on weft-go's write path (issue 14), run in the VM guest by
tests/lib/go_vm_write.sh tracestate. Chain services A (direct, POST with a
body), G (goroutine mode), S (the app sets its own tracestate) and X (a
reverse proxy) all call raw_sink.py R, which records every request byte.

  go_tracestate_check.py send A=PORT G=PORT S=PORT X=PORT [--concurrent]
      the cases below, one after the other (and with --concurrent the 200 + 50
      concurrent requests); each must answer 200 with the expected body.
      Sent once without weft-go (the baseline) and once with it.
  go_tracestate_check.py check DIR
      DIR/R.jsonl (the sink) and DIR/spans.jsonl; env PIDS="A=pid G=pid ...".
      Per request: exactly one traceparent; the tracestate lines exactly as
      expected (weft-go's "tracestate: <normalised incoming value>" right after
      its traceparent line, in the same write, or the app's own line
      untouched); the request with weft-go's lines taken out byte-identical to
      the baseline (a forwarded traceparent: replaced in place, same length);
      the parent id names the CLIENT span of the right service, which carries
      the tracestate.
"""
import concurrent.futures
import http.client
import json
import os
import re
import sys

TP = "00-%032x-%016x-01"
TPF = "00-%032x-%016x-%02x"	# with flags: Level 2 (random 0x02) kept, unknown bits cleared
LONG = ["m%02d=%s" % (i, chr(ord("a") + i % 26) * 26) for i in range(20)]	# 30 chars each
LONG_CUT = ",".join(LONG[:16])	# 16 * 30 + 15 = 495 <= 512 < 526
MAX32 = ["k%02d=%s" % (i, "v" * 11) for i in range(32)]	# 32 members, 32 * 15 + 31 = 511
APP_TS = "app=1 ,  x=y"	# S's own (not normalised: must arrive as is)
BODY = b"hello body"	# A's POST body (chain -body)

# (service, path, traceparent or None, tracestate header lines, the tracestate
#  lines the sink must get: "tracestate: V" from weft-go, "Tracestate: V" the app's)
CASES = [
    ("A", "/t1", TP % (0x7101, 0x11), ["a=1 , b@v=2", "c=3"], ["tracestate: a=1,b@v=2,c=3"]),
    ("A", "/t2", TPF % (0x7102, 0x12, 0x00), [], []),
    ("A", "/t3", None, ["a=1"], []),	# no traceparent: a new trace, tracestate ignored
    ("A", "/t4", TP % (0x7104, 0x14), ["A=1"], []),	# invalid key: discarded
    ("A", "/t5", TPF % (0x7105, 0x15, 0x02), [" , ".join(MAX32)], ["tracestate: " + ",".join(MAX32)]),
    ("A", "/t6", TPF % (0x7106, 0x16, 0x0b), [",".join(LONG)], ["tracestate: " + LONG_CUT]),
    ("A", "/t7", TP % (0x7107, 0x17), [",".join(MAX32 + ["k99=v"])], []),	# 33 members
    ("G", "/t8", TPF % (0x7108, 0x18, 0x03), ["g=8"], ["tracestate: g=8"]),
    ("S", "/t9", TP % (0x7109, 0x19), ["s=9"], ["Tracestate: " + APP_TS]),
    ("X", "/t10", TP % (0x710a, 0x1a), ["x=10"], ["Tracestate: x=10"]),
    # a request line of ~3.9 KB: the traceparent line still fits in the 4 KB
    # buffer, both lines do not: the traceparent goes alone (counted)
    ("A", "/t11/" + "n" * 3865, TP % (0x710b, 0x1b), ["long=" + "v" * 195], []),
]
CONC = [("A", "/c%d" % i, TP % (0xdef000 + i, i), ["c=%d" % i], ["tracestate: c=%d" % i])
        for i in range(1, 201)]
CONC += [("G", "/g%d" % i, TP % (0xdee000 + i, i), ["g=%d" % i], ["tracestate: g=%d" % i])
         for i in range(1, 51)]
ALL = CASES + CONC


def answer(svc, path):
    return ("" if svc == "X" else svc + ">") + "R" + path


def send(ports, case):
    svc, path, tp, ts, _ = case
    c = http.client.HTTPConnection("127.0.0.1", ports[svc], timeout=60)
    c.putrequest("GET", path)
    if tp:
        c.putheader("traceparent", tp)
    for v in ts:
        c.putheader("tracestate", v)
    c.endheaders()
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    if r.status != 200 or body != answer(svc, path):
        return "%s%s: %d '%s'" % (svc, path, r.status, body)
    return None


def cmd_send(args):
    ports = {k: int(v) for k, v in (a.split("=") for a in args if "=" in a)}
    errs = [e for e in (send(ports, c) for c in CASES) if e]
    if "--concurrent" in args:
        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            errs += [e for e in ex.map(lambda c: send(ports, c), CONC) if e]
    if errs:
        sys.exit("requests failed: " + "; ".join(errs[:5]))


def lines_of(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), body


def cmd_check(d):
    pids = {k: int(v) for k, v in (kv.split("=") for kv in os.environ["PIDS"].split())}
    got = {}
    for l in open(os.path.join(d, "R.jsonl")):
        r = json.loads(l)
        got.setdefault(r["path"], []).append(bytes.fromhex(r["raw"]))
    spans = {s["span_id"]: s for s in map(json.loads, open(os.path.join(d, "spans.jsonl")))}
    errors = []
    tp_line = re.compile(rb"^traceparent: (00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})$", re.I)
    for svc, path, tp, _, want in ALL:
        baseline = path in {c[1] for c in CASES}
        reqs = got.get(path, [])
        if len(reqs) != (2 if baseline else 1):
            errors.append("%s: the sink got %d requests" % (path, len(reqs)))
            continue
        lines, body = lines_of(reqs[-1])
        tps = [i for i, l in enumerate(lines) if tp_line.match(l)]
        tss = [l.decode() for l in lines if l.lower().startswith(b"tracestate:")]
        if len(tps) != 1 or len([l for l in lines if l.lower().startswith(b"traceparent")]) != 1:
            errors.append("%s: %d traceparent lines" % (path, len(tps)))
            continue
        if tss != want:
            errors.append("%s: tracestate lines %s, want %s" % (path, tss, want))
        sent = tp_line.match(lines[tps[0]]).group(1).decode()
        if tp and sent.split("-")[1] != tp.split("-")[1]:
            errors.append("%s: trace id %s, want curl's %s (contexts mixed?)" % (path, sent, tp))
        # W3C Level 2: a continued trace keeps the incoming sampled and
        # random-trace-id flags, unknown flags are sent as 0; a new trace: 03
        flags = int(tp.split("-")[3], 16) & 3 if tp else 3
        if int(sent.split("-")[3], 16) != flags:
            errors.append("%s: flags %s, want %02x" % (path, sent, flags))
        ours = lines[tps[0]].startswith(b"traceparent: ")	# inserted by weft-go (lowercase)
        if ours and want and want[0].startswith("tracestate: ") and \
                lines[tps[0] + 1:tps[0] + 2] != [want[0].encode()]:
            errors.append("%s: weft-go's tracestate line not right after its traceparent" % path)
        # The client span named by the parent id carries the served tracestate.
        cli = spans.get(sent.split("-")[2])
        if not cli or cli["kind"] != "client" or cli["pid"] != pids[svc]:
            errors.append("%s: parent id %s is not %s's CLIENT span" % (path, sent, svc))
        elif svc in "AG" and want and cli.get("trace_state") != want[0].split(": ", 1)[1]:
            errors.append("%s: %s's CLIENT span trace_state %r" % (path, svc, cli.get("trace_state")))
        if not baseline:
            if body != (BODY if svc == "A" else b""):
                errors.append("%s: body %r" % (path, body))
            continue
        # Byte for byte as without weft-go, apart from weft-go's lines (and a
        # forwarded traceparent's value, replaced in place).
        if ours:
            mine = lines[:tps[0]] + lines[tps[0] + 1:]
            mine = [l for l in mine if not l.startswith(b"tracestate: ")]
        else:
            mine = [re.sub(rb"^(Traceparent: ).*", rb"\1", l) for l in lines]
            if tp and lines[tps[0]].endswith(tp.encode()):
                errors.append("%s: the forwarded traceparent was not replaced" % path)
        base, bbody = lines_of(reqs[0])
        if not ours:
            base = [re.sub(rb"^(Traceparent: ).*", rb"\1", l) for l in base]
            if len(reqs[-1]) != len(reqs[0]):
                errors.append("%s: forwarded request length %d, was %d" % (path, len(reqs[-1]), len(reqs[0])))
        if mine != base or body != bbody:
            errors.append("%s: request differs from the app's: %r vs %r" % (path, reqs[-1], reqs[0]))
    if errors:
        for e in errors[:20]:
            print("FAIL:", e)
        sys.exit("%d tracestate check(s) failed" % len(errors))
    print("ok: %d requests checked at the sink" % len(ALL))


if __name__ == "__main__":
    if sys.argv[1] == "send":
        cmd_send(sys.argv[2:])
    else:
        cmd_check(sys.argv[2])
