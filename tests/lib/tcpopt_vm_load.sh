#!/bin/bash
# Guest side of tests/vm/tcpopt_load.test, run in the VM (Linux 6.1) by
# tests/vm/run: weft-tcpopt loads and gets ready, one HTTPS request through
# A -> B carries the option (B's SERVER span is the child of A's CLIENT span).
# weft-http's readiness on 6.1 is tests/vm/http_preexisting.test's (it waits
# for the same --cgroup load): not loaded here a second time.
cd "$(dirname "$0")/../.." || exit 1
export WEFT_ROOT=$PWD
. tests/lib/common.sh
export WEFT_PIN_DIR=/sys/fs/bpf/weft-tcpopt-vm-$$
mkdir -p "$WEFT_PIN_DIR" && cleanup_add "rm -rf '$WEFT_PIN_DIR'"
. tests/apps/tls/tcpopt_env.sh
uname -r

tcpopt_topology vmload
# loading takes tens of seconds under qemu's emulation: wait up to 240 s
weft-tcpopt --cgroup "$CG" --spans-file "$TMP/spans.jsonl" 2>"$TMP/weft.log" &
WEFT_PID=$! WEFT_SPANS=$TMP/spans.jsonl
cleanup_add "kill -INT $WEFT_PID; sleep 1; kill -9 $WEFT_PID"
injector_ready weft-tcpopt "$TMP/weft.log" 2400 $WEFT_PID
ok "weft-tcpopt ready on $(uname -r)"
start_service "$NS_B" b 8443
start_service "$NS_A" a 8443 --downstream "https://$IP_B:8443"
ip netns exec "$NS_C" "$PY" "$TLS_APPS/https_client.py" "https://$IP_A1:8443/vm" \
	--ca "$TMP/ca.pem" >"$TMP/client.out" || fail "python client request failed"
stop_weft
cat "$TMP/weft.log"
[ "$(counter options_written "$TMP/weft.log")" -ge 1 ] || fail "no option written"
[ "$(counter options_received "$TMP/weft.log")" -ge 1 ] || fail "no option received"
"$PY" - "$TMP/spans.jsonl" <<'PYEOF' || { cat "$TMP/spans.jsonl" >&2; fail "span checks failed"; }
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cl = [s for s in spans if s["kind"] == "client"]
sv = [s for s in spans if s["kind"] == "server" and s["trace_id"] in {c["trace_id"] for c in cl}]
assert len(cl) == 1, cl
child = [s for s in sv if s.get("parent_span_id") == cl[0]["span_id"]]
assert len(child) == 1, "B's SERVER span is not the child of A's CLIENT span: %s" % spans
PYEOF
ok "one request through A -> B: B's SERVER span is the child of A's CLIENT span"
