#!/bin/bash
# Guest side of weft-go's gRPC write tests, run in the VM by tests/vm/run,
# where bpf_probe_write_user is allowed: weft-go writes traceparent into
# grpc-go's HEADERS frames itself (go_h2write.bpf.c).
#
#   go_vm_grpc.sh chain DB BIN...   the chain client -> A -> B -> C of each
#                                   build (tests/vm/go_grpc_write.test)
#   go_vm_grpc.sh soak DB BIN N     N RPCs through one build's chain client -> A -> B
#                                   (tests/vm/go_grpc_soak.test, make soak-vm)
#   go_vm_grpc.sh load DB BIN SECS  the unary pair A -> B under the chain's load
#                                   mode, without and with weft-go writing (bench/grpc)
#
# DB is an offsets database the host filled with weft-analyze (--no-analyze here).
cd "$(dirname "$0")/../.." || exit 1
PIN_NAME=weft-go-vm-grpc . tests/lib/go_vm_guest.sh
# grpc-go logs transport errors (a peer's GOAWAY, COMPRESSION_ERROR, frame
# size errors) at warning and info levels: all of it into the services' logs.
export GRPC_GO_LOG_SEVERITY_LEVEL=info GRPC_GO_LOG_VERBOSITY_LEVEL=2 GOTRACEBACK=system
H2ERR='COMPRESSION_ERROR|FRAME_SIZE_ERROR|PROTOCOL_ERROR|hpack|frame too large|panic:|fatal error:'

# LOG N: exactly N gRPC writes done, none skipped, nothing published (writes
# exclude it).
check_grpc_writes() {
	local log=$1 want=$2 n
	n=$(sed -n 's/.*gRPC writes: \([0-9]*\) HEADERS frames.*/\1/p' "$log")
	[ "$n" = "$want" ] || fail "want $want gRPC writes: $(grep 'gRPC writes' "$log")"
	echo "gRPC writes: $n of $want HEADERS frames"
	grep -q "gRPC writes: [0-9]* HEADERS frames (.*), 0 skipped" "$log" ||
		fail "gRPC writes skipped: $(grep 'gRPC writes' "$log")"
	! grep -q 'published:' "$log" || fail "weft-go published contexts while writing: $(grep published: "$log")"
}

# the services' logs: no HTTP/2 error, no crash
check_logs_clean() {
	local f
	for f in "$@"; do
		! grep -E "$H2ERR" "$f" | head -3 | grep . || fail "$(basename "$f"): HTTP/2 errors or a crash"
	done
}

chain() {
	local exes=() b v variants= out i h
	for b in "$@"; do exes+=(--exe "$b"); done
	go_weft_start "$T/weft.log" --db "$db" --no-analyze "${exes[@]}" --spans-file "$T/spans.jsonl" --verbose
	for b in "$@"; do
		grep -q "^weft-go: $b (.*): [0-9]* uprobes[^;]*, writes on (.*gRPC)" "$T/weft.log" ||
			fail "$b: gRPC writes not on: $(grep -F "$b" "$T/weft.log")"
		# HEADERS frames trapped at WriteHeaders' call of endWrite when the
		# record has that site, else at every endWrite (the fallback)
		if find "$db" -maxdepth 1 -type f -exec grep -lx "path $b" {} + | xargs -r grep -q '^site golang.org/x/net/http2.(\*Framer).WriteHeaders:call:'; then
			h="gRPC HEADERS frames at (\*Framer).WriteHeaders' call of endWrite;"
		else
			h="gRPC HEADERS frames at every (\*Framer).endWrite (its offsets record has no call of endWrite in WriteHeaders"
		fi
		grep -q "^weft-go: $b (.*): [0-9]* uprobes[^;]*, writes on (.*gRPC); $h" "$T/weft.log" ||
			fail "$b: want '$h' in its start-up line: $(grep -F "$b" "$T/weft.log")"
	done
	TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	TP2=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 TS=congo=t61rcWkgMzE
	for b in "$@"; do
		v=${b##*/grpcchain-}
		variants+=" $v"
		D=$T/$v; mkdir -p "$D"
		grpc_start C "$b" "$D"
		grpc_start B "$b" "$D" -next "127.0.0.1:$GO_PORT_C"
		grpc_start A "$b" "$D" -next "127.0.0.1:$GO_PORT_B"
		printf '%s\n' "A=$GO_PID_A B=$GO_PID_B C=$GO_PID_C" >"$D/pids"
		call() { "$b" -call "127.0.0.1:$GO_PORT_A" "$@" 2>>"$D/client.err"; }
		# the answers and the app's metadata an uninstrumented chain gives
		# (tests/integration/go_grpc_context.test: the same without weft)
		out=$(call -path /one -tp "$TP" -app v1) || fail "$v: unary call failed: $out"
		[ "$out" = "resp i=1 answer=A>B>C/one header=A trailer=A status=OK" ] || fail "$v: unary answered '$out'"
		out=$(call -path /two -app v2) || fail "$v: unary call without traceparent failed: $out"
		[ "$out" = "resp i=1 answer=A>B>C/two header=A trailer=A status=OK" ] || fail "$v: /two answered '$out'"
		out=$(call -rpc stream -path /s -count 4 -tp "$TP") || fail "$v: streaming call failed: $out"
		[ "$out" = "resp i=1 answer=A>B>C/s#1|A>B>C/s#2|A>B>C/s#3|A>B>C/s#4 header=A trailer=A status=OK" ] ||
			fail "$v: streaming answered '$out'"
		out=$(call -rpc stream -path /s2 -count 2) || fail "$v: streaming call without traceparent failed: $out"
		[ "$out" = "resp i=1 answer=A>B>C/s2#1|A>B>C/s2#2 header=A trailer=A status=OK" ] ||
			fail "$v: /s2 answered '$out'"
		call -n 100 >"$D/conc.out" || fail "$v: concurrent calls failed: $(grep -v 'status=OK' "$D/conc.out" | head -3)"
		for ((i = 1; i <= 100; i++)); do echo "resp i=$i answer=A>B>C/c$i header=A trailer=A status=OK"; done |
			diff -q - "$D/conc.out" >/dev/null || fail "$v: concurrent answers differ: $(head -3 "$D/conc.out")"
		for h in A B C; do
			[ "$(grep -c " path=/one .* app=v1\$" "$D/$h.log")" -eq 1 ] ||
				fail "$v: $h: x-weft-app of /one: $(grep ' path=/one ' "$D/$h.log")"
		done
		# the served request's tracestate goes on beside the traceparent, once per hop
		out=$(call -path /ts -tp "$TP2" -ts "$TS") || fail "$v: call with tracestate failed: $out"
		[ "$out" = "resp i=1 answer=A>B>C/ts header=A trailer=A status=OK" ] || fail "$v: /ts answered '$out'"
		for h in A B C; do
			grep -qxF "ts name=$h rpc=/ts n=1 values=[\"$TS\"]" "$D/$h.log" ||
				fail "$v: $h did not get the tracestate once: $(grep 'rpc=/ts ' "$D/$h.log")"
			grep -q "^recv name=$h method=\S* path=/ts n=1 traceparent=00-${TP2:3:32}-" "$D/$h.log" ||
				fail "$v: $h: /ts not in the client's trace: $(grep ' path=/ts ' "$D/$h.log")"
		done
		kill -9 "$GO_PID_A" "$GO_PID_B" "$GO_PID_C"
		wait "$GO_PID_A" "$GO_PID_B" "$GO_PID_C" 2>/dev/null
		check_logs_clean "$D/A.log" "$D/B.log" "$D/C.log" "$D/client.err"
	done
	# nothing published for weft-http: the frames were written
	left=$(bpftool -j map dump pinned "$WEFT_PIN_DIR/go_stream_ctx") || fail "bpftool cannot dump go_stream_ctx"
	[ "$(jq length <<<"$left")" -eq 0 ] || fail "go_stream_ctx has $(jq length <<<"$left") entries while writing"
	go_weft_stop
	cat "$T/weft.log"
	# shellcheck disable=SC2086
	$PY tests/lib/go_grpc_check.py "$T" "$TP" $variants || fail "gRPC chain checks failed"
	grep -q "gRPC calls whose app sent its own traceparent (left as is): $(($# * 103))\$" "$T/weft.log" ||
		fail "want $(($# * 103)) app-set calls: $(grep 'own traceparent' "$T/weft.log")"
	# per build: the readiness calls (client -> C, B, A; B -> C twice; A -> B),
	# A -> B and B -> C of the 105 calls, client -> A of /two and /s2 (the
	# client sends its own traceparent otherwise); /ts's two with tracestate
	check_grpc_writes "$T/weft.log" $(($# * (6 + 2 * 105 + 2)))
	grep -q "gRPC writes: [0-9]* HEADERS frames ($(($# * 2)) with tracestate," "$T/weft.log" ||
		fail "want $(($# * 2)) HEADERS frames with tracestate: $(grep 'gRPC writes' "$T/weft.log")"
	ok "gRPC chain with writes:$variants"
}

soak() {
	local b=$1 n=$2 nu ns s
	go_weft_start "$T/weft.log" --db "$db" --no-analyze --exe "$b" --spans-file /dev/null --verbose
	grep -q "writes on (.*gRPC)" "$T/weft.log" || fail "gRPC writes not on: $(cat "$T/weft.log")"
	# client -> A -> B: two written hops per RPC (qemu's software emulation
	# makes ~45 RPCs/s through three)
	grpc_start B "$b" "$T" -quiet
	grpc_start A "$b" "$T" -quiet -next "127.0.0.1:$GO_PORT_B"
	# three quarters unary, one quarter server-streaming (3 answers), on two
	# connections to A, 8 callers each; every result compared
	nu=$((n * 3 / 4)) ns=$((n - n * 3 / 4))
	"$b" -call "127.0.0.1:$GO_PORT_A" -rpcs "$nu" -c 8 -path /soak -app s \
		-want "answer=A>B/soak header=A trailer=A status=OK" >"$T/unary.out" 2>"$T/unary.err" &
	local pu=$!
	"$b" -call "127.0.0.1:$GO_PORT_A" -rpcs "$ns" -c 8 -rpc stream -path /ss -app s \
		-want "answer=A>B/ss#1|A>B/ss#2|A>B/ss#3 header=A trailer=A status=OK" >"$T/stream.out" 2>"$T/stream.err" &
	local ps=$!
	wait $pu; local ru=$?
	wait $ps; local rs=$?
	echo "unary: $(cat "$T/unary.out") $(head -3 "$T/unary.err")"
	echo "stream: $(cat "$T/stream.out") $(head -3 "$T/stream.err")"
	for s in A B; do
		local pid=GO_PID_$s
		kill -0 "${!pid}" 2>/dev/null || fail "service $s is gone: $(tail -20 "$T/$s.log")"
	done
	go_weft_stop
	cat "$T/weft.log"
	[ $ru = 0 ] && [ $rs = 0 ] || fail "calls failed or differed (unary $ru, stream $rs)"
	grep -q "^load rpcs=$nu errors=0 .* differ=0\$" "$T/unary.out" || fail "unary: $(cat "$T/unary.out")"
	grep -q "^load rpcs=$ns errors=0 .* differ=0\$" "$T/stream.out" || fail "stream: $(cat "$T/stream.out")"
	check_logs_clean "$T/A.log" "$T/B.log" "$T/unary.err" "$T/stream.err"
	# every RPC's two hops written (client -> A, A -> B), and the 3 of the
	# readiness calls (client -> B, client -> A -> B), but for the calls
	# whose CLIENT span the kernel's task storage refused ("not started",
	# counted: no span, nothing to write)
	local nost
	nost=$(sed -n 's/.*, \([0-9]*\) not started .*/\1/p' "$T/weft.log")
	echo "CLIENT or SERVER spans not started (no per-thread state): ${nost:-?}"
	check_grpc_writes "$T/weft.log" $((2 * n + 3 - ${nost:-0}))
	ok "gRPC soak with writes: $n RPCs, 0 failed, 0 differing, no HTTP/2 error, no crash"
}

# The unary pair A -> B (A calls B per RPC) under the chain's load mode (8
# callers on one connection, SECS seconds), uninstrumented and then with
# weft-go writing; every answer compared. Prints both rates, the uprobe hits
# per RPC in A and B, and the writes.
load() {
	local b=$1 secs=$2 r0 r1 n hits w
	grpc_start B "$b" "$T" -quiet
	grpc_start A "$b" "$T" -quiet -next "127.0.0.1:$GO_PORT_B"
	"$b" -call "127.0.0.1:$GO_PORT_A" -load "${secs}s" -c 8 -path /load \
		-want "answer=A>B/load header=A trailer=A status=OK" >"$T/load0.out" 2>&1 ||
		fail "uninstrumented load run failed: $(tail -3 "$T/load0.out")"
	kill -9 "$GO_PID_A" "$GO_PID_B"
	wait "$GO_PID_A" "$GO_PID_B" 2>/dev/null
	go_weft_start "$T/weft.log" --db "$db" --no-analyze --exe "$b" --spans-file /dev/null --verbose
	grep -q "writes on (.*gRPC)" "$T/weft.log" || fail "gRPC writes not on: $(cat "$T/weft.log")"
	grpc_start B "$b" "$T" -quiet
	grpc_start A "$b" "$T" -quiet -next "127.0.0.1:$GO_PORT_B"
	"$b" -call "127.0.0.1:$GO_PORT_A" -load "${secs}s" -c 8 -path /load \
		-want "answer=A>B/load header=A trailer=A status=OK" >"$T/load1.out" 2>&1 ||
		fail "instrumented load run failed: $(tail -3 "$T/load1.out")"
	go_weft_stop
	cat "$T/weft.log"
	check_logs_clean "$T/A.log" "$T/B.log"
	for f in load0 load1; do
		grep -q "^load rpcs=[0-9]* errors=0 .* differ=0\$" "$T/$f.out" || fail "$f: $(cat "$T/$f.out")"
	done
	r0=$(sed -n 's/^load .* rps=\([0-9.]*\).*/\1/p' "$T/load0.out")
	r1=$(sed -n 's/^load .* rps=\([0-9.]*\).*/\1/p' "$T/load1.out")
	n=$(sed -n 's/^load rpcs=\([0-9]*\).*/\1/p' "$T/load1.out")
	hits=$(sed -n 's/.*uprobe hits in targets: \([0-9]*\).*/\1/p' "$T/weft.log")
	w=$(sed -n 's/.*gRPC writes: \([0-9]*\) HEADERS frames.*/\1/p' "$T/weft.log")
	[ -n "$r0" ] && [ -n "$r1" ] && [ "${n:-0}" -gt 0 ] && [ -n "$hits" ] || fail "no figures from the load runs"
	[ "${w:-0}" -ge "$n" ] || fail "$w gRPC writes for $n RPCs (want one per A -> B call at least)"
	echo "uninstrumented: rps=$r0"
	echo "with weft-go writing: rps=$r1 rpcs=$n writes=$w"
	echo "uprobe hits per RPC in A and B: $(awk -v h="$hits" -v n="$n" 'BEGIN {printf "%.2f", h / n}')"
	ok "load: $n RPCs with writes on, 0 failed, 0 differing, no HTTP/2 error"
}

case $scenario in
chain) chain "$@" ;;
soak) soak "$@" ;;
load) load "$@" ;;
*) fail "unknown scenario $scenario" ;;
esac
