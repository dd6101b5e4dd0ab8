#!/bin/bash
# Guest side of weft-go's net/http HTTP/2 write test (tests/vm/go_h2_write.test),
# run in the VM by tests/vm/run, where bpf_probe_write_user is allowed:
# weft-go writes traceparent (and tracestate) into the HEADERS frames of
# net/http's bundled HTTP/2 client (TLS) and of x/net's (h2c) itself
# (go_h2pub.bpf.c, go_h2write.bpf.c).
#
#   go_vm_h2.sh chain DB BIN...   the chain A -> B -> C of each build
#                                 (tests/apps/go/chain), over TLS and over h2c
#
# DB is an offsets database the host filled with weft-analyze (--no-analyze here).
cd "$(dirname "$0")/../.." || exit 1
PIN_NAME=weft-go-vm-h2 . tests/lib/go_vm_guest.sh
export GOTRACEBACK=system
# a stream or connection error reaches the chain's log (a failed next hop)
# or the client's, a crash its log
H2ERR='COMPRESSION_ERROR|FRAME_SIZE_ERROR|PROTOCOL_ERROR|hpack|frame too large|panic:|fatal error:'
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
TP2=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 TS=congo=t61rcWkgMzE
BODY=$(printf 'b%.0s' {1..300})

# run_chain MODE BIN DIR [CLIENT]: the chain A -> B -> C of BIN over MODE
# (tls, h2c), /one with traceparent TP, /two without, /ts with TP2 and
# tracestate TS, and the 100 concurrent requests of the chain's client
# (CLIENT, default BIN) on one connection to A; the answers (status, HTTP
# version, body) in DIR/answers.
run_chain() {
	local mode=$1 b=$2 D=$3 cli=${4:-$2} scheme=http opt=--http2-prior-knowledge h
	[ "$mode" = tls ] && scheme=https opt=--http2
	mkdir -p "$D"
	go_start C "$b" "$D" -h2 "$mode"
	go_start B "$b" "$D" -h2 "$mode" -next "$scheme://127.0.0.1:$GO_PORT_C"
	# A's calls are POSTs with a 300-byte body: their DATA frames grow the
	# Framer's wbuf, so that A's later HEADERS frames fit there (written in
	# wbuf), while B's GETs never leave room (written in the bufio.Writer)
	go_start A "$b" "$D" -h2 "$mode" -next "$scheme://127.0.0.1:$GO_PORT_B" -body "$BODY"
	printf '%s\n' "A=$GO_PID_A B=$GO_PID_B C=$GO_PID_C" >"$D/pids"
	get() { # the body (its newline dropped), status and HTTP version on one line
		local out
		out=$(curl -sk "$opt" -w ' %{http_code} %{http_version}' "$@" "$scheme://127.0.0.1:$GO_PORT_A$p") &&
			echo "${out//$'\n'/}"
	}
	{
		p=/one get -H "traceparent: $TP"
		p=/two get
		p=/ts get -H "traceparent: $TP2" -H "tracestate: $TS"
	} >"$D/answers" || fail "$mode $b: a request failed: $(cat "$D/answers")"
	printf 'A>B>C/%s 200 2\n' one two ts | diff - "$D/answers" >&2 || fail "$mode $b: answers (above)"
	"$cli" -h2 "$mode" -get "$scheme://127.0.0.1:$GO_PORT_A" -n 100 >"$D/conc.out" 2>"$D/client.err" ||
		fail "$D: concurrent requests failed: $(grep -v ' status=200 ' "$D/conc.out" | head -3)
A: $(grep -v '^recv' "$D/A.log" | tail -5)
B: $(grep -v '^recv' "$D/B.log" | tail -5)
client: $(tail -5 "$D/client.err")"
	grep -qx 'conns=1' "$D/conc.out" || fail "$mode $b: the client used $(grep conns= "$D/conc.out") connections, want 1"
	sort "$D/conc.out" >>"$D/answers"
	kill -9 "$GO_PID_A" "$GO_PID_B" "$GO_PID_C"
	wait "$GO_PID_A" "$GO_PID_B" "$GO_PID_C" 2>/dev/null
	for h in A B C client; do
		[ $h = client ] && f=$D/client.err || f=$D/$h.log
		! grep -E "$H2ERR" "$f" | head -3 | grep . || fail "$mode $b: $h: HTTP/2 errors or a crash"
	done
}

chain() {
	local exes=() b v mode variants= h want
	# what an uninstrumented chain answers (the first build; all answer alike)
	for mode in tls h2c; do
		run_chain "$mode" "$1" "$T/ref-$mode"
	done
	for b in "$@"; do exes+=(--exe "$b"); done
	go_weft_start "$T/weft.log" --db "$db" --no-analyze "${exes[@]}" --spans-file "$T/spans.jsonl" --verbose
	for b in "$@"; do
		grep -q "^weft-go: $b (.*): [0-9]* uprobes[^;]*, writes on.*; HTTP/2 client HEADERS frames written (net/http, x/net) at WriteHeaders' call of endWrite, or in the connection's bufio.Writer\$" "$T/weft.log" ||
			fail "$b: HTTP/2 client writes not on: $(grep -F "$b" "$T/weft.log")"
	done
	# the client traced in the first round only (its requests carry the
	# app's own traceparents, the same every round: a CLIENT span with the
	# app's span id), an untraced copy of it after that
	cp "$1" "$T/client"
	for mode in tls h2c; do
		for b in "$@"; do
			v=$mode-${b##*/chain-}
			run_chain "$mode" "$b" "$T/$v" "$([ -z "$variants" ] && echo "$b" || echo "$T/client")"
			variants+=" $v"
			diff "$T/ref-$mode/answers" "$T/$v/answers" >&2 ||
				fail "$v: answers differ from the uninstrumented chain's (above)"
			# the span's tracestate once beside the traceparent, hop by hop
			for h in A B C; do
				grep -qxF "recvts name=$h path=/ts n=1 tracestate=$TS" "$T/$v/$h.log" ||
					fail "$v: $h did not get the tracestate once: $(grep ' path=/ts ' "$T/$v/$h.log")"
			done
		done
	done
	# writes exclude publication: nothing for weft-http
	left=$(bpftool -j map dump pinned "$WEFT_PIN_DIR/go_stream_ctx") || fail "bpftool cannot dump go_stream_ctx"
	[ "$(jq length <<<"$left")" -eq 0 ] || fail "go_stream_ctx has $(jq length <<<"$left") entries while writing"
	WEFT_GO_SPANS= go_weft_stop # its counters first, then the span trees
	cat "$T/weft.log"
	check_span_trees "$T/spans.jsonl"
	# shellcheck disable=SC2086
	$PY tests/lib/go_h2_chain_check.py "$T" "$TP" --path "/ts=$TP2" $variants || fail "HTTP/2 chain checks failed"
	# per build and mode: A -> B and B -> C of /one, /two, /ts and the 100,
	# two with tracestate (/ts); the 100 the client sent with its own
	# traceparent in the first round (traced then) left as they are
	n=$(($# * 2))
	want="HTTP/2 client writes (net/http, x/net): $((n * 206)) HEADERS frames ($((n * 2)) with tracestate, [0-9]* in the bufio.Writer), 0 skipped (.*), 100 with the app's own traceparent (left as is)"
	grep -q "^weft-go: $want\$" "$T/weft.log" || fail "want '$want': $(grep 'HTTP/2 client writes' "$T/weft.log")"
	# per build and mode, B's 103 in the bufio.Writer, and A's 100 concurrent
	# ones (after its first POST on that connection) in wbuf
	bw=$(sed -n 's/.*HTTP\/2 client writes.* (.* with tracestate, \([0-9]*\) in the bufio.Writer).*/\1/p' "$T/weft.log")
	[ "${bw:-0}" -ge $((n * 103)) ] && [ $((n * 206 - bw)) -ge $((n * 100)) ] ||
		fail "${bw:-?} of $((n * 206)) frames written in the bufio.Writer: want B's $((n * 103)) there at least, A's $((n * 100)) in wbuf at least"
	ok "net/http HTTP/2 chain with writes, TLS and h2c:$variants"
}

case $scenario in
chain) chain "$@" ;;
*) fail "unknown scenario $scenario" ;;
esac
