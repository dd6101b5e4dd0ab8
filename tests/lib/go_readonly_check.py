#!/usr/bin/python3
"""Checks of tests/integration/go_readonly.test (weft-go, read-only mode).

Reads DIR/spans.jsonl, DIR/map.*.json (bpftool dumps of the pinned connection
map after given requests), DIR/ss.txt and the services' logs. Environment:
GO_PORTS and PIDS as "NAME=value ..." lists; GO_SERVER_SYSCALLS=1 when
weft-go ran with --server-syscalls (go_readonly_syscalls.test).
"""
import json
import os
import sys

d = sys.argv[1]
ports = dict(kv.split("=") for kv in os.environ["GO_PORTS"].split())
pids = {k: int(v) for k, v in (kv.split("=") for kv in os.environ["PIDS"].split())}
errors = []
SYSCALLS = os.environ.get("GO_SERVER_SYSCALLS") == "1"


def check(cond, msg):
    if not cond:
        errors.append(msg)


spans = [json.loads(l) for l in open(os.path.join(d, "spans.jsonl")) if l.strip()]


def path_of(s):
    a = s.get("attributes", {})
    if "url.path" in a:
        return a["url.path"]
    full = a.get("url.full", "")
    i = full.find("/", full.find("//") + 2)
    return full[i:] if i >= 0 else ""


def find(svc, kind, path):
    got = [s for s in spans if s["pid"] == pids[svc] and s["kind"] == kind and path_of(s) == path]
    check(len(got) == 1, f"{svc} {kind} {path}: {len(got)} spans, expected 1")
    return got[0] if got else None


def load_map(tag):
    out = {}
    for e in json.load(open(os.path.join(d, f"map.{tag}.json"))):
        f = e.get("formatted", e)
        k, v = f["key"], f["value"]
        ctx = v["ctx"]
        tid = "".join("%02x" % int(b) for b in ctx["trace_id"])
        sid = "".join("%02x" % int(b) for b in ctx["span_id"])
        out[(int(k["tgid"]), int(k["fd"]))] = (tid, sid, int(v["version"]))
    return out


def published(tag, svc):
    return {fd: v for (tgid, fd), v in load_map(tag).items() if tgid == pids[svc]}


def peer_of(pid, fd):
    for line in open(os.path.join(d, "ss.txt")):
        if f"pid={pid},fd={fd})" in line:
            return line.split()[4]
    return None


T1, P1 = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

# Request 1: A continues curl's trace; each hop's client span is the child of its server span.
a_srv, a_cli = find("A", "server", "/one"), find("A", "client", "/one")
if a_srv and a_cli:
    check(a_srv["trace_id"] == T1 and a_srv["parent_span_id"] == P1, f"A server span does not continue curl's trace: {a_srv}")
    check(a_srv["attributes"].get("weft.parent_source") == "header", "A server parent source not header")
    check(a_srv["attributes"].get("http.response.status_code") == 200, "A server status not 200")
    check(a_cli["trace_id"] == T1 and a_cli["parent_span_id"] == a_srv["span_id"], f"A client span is not the child of A's server span: {a_cli}")
    check(a_cli["attributes"].get("http.response.status_code") == 200, "A client status not 200")
    check(str(ports["B"]) in a_cli["attributes"].get("url.full", "") or a_cli["attributes"].get("server.port") == int(ports["B"]), f"A client span misses B's port: {a_cli['attributes']}")
    pub = published("one", "A")
    check(len(pub) == 1, f"A published {len(pub)} contexts after request 1, expected 1: {pub}")
    for fd, (tid, sid, ver) in pub.items():
        check((tid, sid) == (T1, a_cli["span_id"]), f"A published {tid}-{sid}, expected {T1}-{a_cli['span_id']}")
        check(ver == 2, "bad layout version (weft_conn_ctx.h: 2)")
        check(peer_of(pids["A"], fd) == f"127.0.0.1:{ports['B']}", f"A's published fd {fd} is not its connection to B ({peer_of(pids['A'], fd)})")
b_srv, b_cli = find("B", "server", "/one"), find("B", "client", "/one")
if b_srv and b_cli:
    # Read-only: nothing was written, so B saw no traceparent and started a trace.
    check(b_srv["parent_span_id"] == "" and b_srv["trace_id"] != T1, "B server span should be a new trace in read-only mode")
    check(b_cli["trace_id"] == b_srv["trace_id"] and b_cli["parent_span_id"] == b_srv["span_id"], "B client not child of B server")
    pub = published("one", "B")
    check(any((tid, sid) == (b_cli["trace_id"], b_cli["span_id"]) for tid, sid, _ in pub.values()), f"B's context not published: {pub}")
    for fd in pub:
        check(peer_of(pids["B"], fd) == f"127.0.0.1:{ports['C']}", f"B's published fd {fd} is not its connection to C")
find("C", "server", "/one")

# Request 2: no header -> a new trace, the client its child.
s, c = find("A", "server", "/two"), find("A", "client", "/two")
if s and c:
    check(s["parent_span_id"] == "" and s["trace_id"] != T1, "request 2 should start a new trace")
    check(s["trace_flags"] & 3 == 3, "a new trace should be sampled with a random trace id (flags 03)")
    check(c["trace_id"] == s["trace_id"] and c["parent_span_id"] == s["span_id"], "request 2 client not child")
    pub = published("two", "A")
    check(any((tid, sid) == (c["trace_id"], c["span_id"]) for tid, sid, _ in pub.values()), "request 2 context not published (keep-alive reuse)")

# Request 3: invalid (uppercase) traceparent -> a new trace.
s = find("A", "server", "/three")
if s:
    check(s["parent_span_id"] == "" and s["trace_id"] not in (T1, T1.upper()), "invalid traceparent was accepted")

# A call from a goroutine the handler spawned (two levels down).
s, c = find("G", "server", "/gor"), find("G", "client", "/gor")
if s and c:
    check(s["trace_id"] == "1" * 32 and s["parent_span_id"] == "2" * 16, "G server span wrong")
    check(c["trace_id"] == "1" * 32 and c["parent_span_id"] == s["span_id"], f"goroutine client span lost its parent: {c}")
    pub = published("gor", "G")
    check(any((tid, sid) == ("1" * 32, c["span_id"]) for tid, sid, _ in pub.values()), "goroutine call context not published")

# App-set traceparent: it is the client span's context, nothing is published.
c = find("P", "client", "/app")
if c:
    check(c["trace_id"] == "0af7651916cd43dd8448eb211c80319c" and c["span_id"] == "b7ad6b7169203331", f"app-set traceparent not the client context: {c}")
    check(published("app", "P") == {}, "a context was published although the app set its own traceparent")

# TLS: spans (https), nothing published (the network level cannot insert into TLS).
# With --server-syscalls (GO_SERVER_SYSCALLS=1) the services' SERVER spans come
# from their plaintext HTTP/1 bytes at read/write: a TLS request gets none, and
# the call its handler makes starts a new trace (docs/weft-go.md).
if SYSCALLS:
    got = [sp for sp in spans if sp["pid"] in (pids["TA"], pids["TB"]) and sp["kind"] == "server" and path_of(sp) == "/tls"]
    check(got == [], f"--server-syscalls: a TLS request got a SERVER span: {got}")
    c = find("TA", "client", "/tls")
    if c:
        check(c["parent_span_id"] == "" and c["attributes"].get("url.full", "").startswith("https://"), f"TA client span: {c}")
        check(published("tls", "TA") == {}, "a TLS connection's context was published")
else:
    s, c = find("TA", "server", "/tls"), find("TA", "client", "/tls")
    if s and c:
        check(s["trace_id"] == "5" * 32 and s["parent_span_id"] == "6" * 16, "TA server span wrong")
        check(s["attributes"].get("url.scheme") == "https", f"TA server span not https: {s['attributes']}")
        check(c["trace_id"] == "5" * 32 and c["parent_span_id"] == s["span_id"], "TA client span not child")
        check(c["attributes"].get("url.full", "").startswith("https://"), f"TA client url not https: {c['attributes']}")
        check(published("tls", "TA") == {}, "a TLS connection's context was published")
    t = find("TB", "server", "/tls")

# url.scheme from each request's own TLS state: plain services say http, the
# TLS pair https; a client span carries it as url.full's scheme.
tls_pids = {pids["TA"], pids["TB"]}
kinds = {"server": 0, "client": 0}
for sp in spans:
    if sp["pid"] not in pids.values():
        continue
    a, want = sp.get("attributes", {}), "https" if sp["pid"] in tls_pids else "http"
    got = a.get("url.scheme") if sp["kind"] == "server" else a.get("url.full", "").split("://")[0]
    kinds[sp["kind"]] = kinds.get(sp["kind"], 0) + 1
    check(got == want, f"{sp['kind']} span of pid {sp['pid']} {path_of(sp)}: scheme {got!r}, want {want!r}")
check(kinds["server"] > 100 and kinds["client"] > 100, f"too few spans to check schemes: {kinds}")

# 100 concurrent requests: each trace stays with its request.
for n in range(1, 101):
    s, c = find("A", "server", f"/c{n}"), find("A", "client", f"/c{n}")
    if s and c:
        check(s["trace_id"] == "%032x" % (0xABC000 + n) and s["parent_span_id"] == "%016x" % n, f"/c{n}: server span has the wrong trace")
        check(c["trace_id"] == s["trace_id"] and c["parent_span_id"] == s["span_id"], f"/c{n}: client span crossed to another request")

# Nothing written: every hop logs what it received.
for name in ("B", "C", "TB"):
    for line in open(os.path.join(d, f"{name}.log")):
        if "path=/app" in line:
            check("n=1 traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" in line, f"app-set header altered: {line}")
        elif line.startswith("recv"):
            check(" n=0 " in line, f"read-only mode wrote a header: {line.strip()}")

for e in errors[:30]:
    print("FAIL:", e)
print(f"{len(spans)} spans, {len(errors)} problems")
sys.exit(1 if errors else 0)
