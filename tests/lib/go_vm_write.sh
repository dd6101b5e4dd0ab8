#!/bin/bash
# Guest side of the weft-go write-path tests (tests/vm/go_write*.test), run in
# the VM by tests/vm/run, where bpf_probe_write_user is allowed.
#
#   go_vm_write.sh main   DB BIN        every scenario with one build of the chain
#   go_vm_write.sh discover DB BIN      two "pods" found by --cgroup, no --exe
#   go_vm_write.sh forward DB BIN       a reverse proxy (chain -mode proxy) that copies
#                                       the incoming traceparent: replaced in the buffer
#   go_vm_write.sh tracestate DB BIN    tracestate written beside the traceparent (one
#                                       write), inherited by spawned goroutines; the
#                                       app's own and a proxy's copy untouched
#   go_vm_write.sh matrix DB BIN...     one chain through every binary, two requests
#   go_vm_write.sh load   DB BIN SECS [REQS]
#                                       wrk through the chain, uninstrumented then
#                                       instrumented, SECS each; with REQS > 0 the
#                                       instrumented run ends after REQS responses
#                                       (SECS is then only its upper bound) and the
#                                       uninstrumented one lasts at most 60 s
#
# DB is an offsets database the host filled with weft-analyze (--no-analyze here).
cd "$(dirname "$0")/../.." || exit 1
PIN_NAME=weft-go-vm . tests/lib/go_vm_guest.sh

check_writes_clean() {	# LOG: writes done, no skip for a bad state, no room or a fault
	grep -E 'writes: [1-9][0-9]* done' "$1" || fail "no write done: $(cat "$1")"
	grep -q 'state 0, space 0, .* fault 0, shared header map 0, not a bufio.Writer 0, forwarded 0)' "$1" || fail "writes skipped: $(grep writes: "$1")"
}

main() {
	local bin=$1
	go_weft_start "$T/weft.log" --db "$db" --no-analyze --exe "$bin" --spans-file "$T/spans.jsonl"
	grep -q 'writes on' "$T/weft.log" || fail "writes not enabled: $(cat "$T/weft.log")"
	# GO_SERVER_SYSCALLS=1 (go_write_syscalls.test, with GO_WEFT_EXTRA=--server-syscalls):
	# SERVER spans from syscalls, said; TLS requests get none on that path (not sent)
	if [ "${GO_SERVER_SYSCALLS:-}" = 1 ]; then
		grep -q 'writes on; plaintext HTTP/1 SERVER spans from read/write syscalls' "$T/weft.log" ||
			fail "the syscall path not chosen: $(cat "$T/weft.log")"
	fi
	go_start C "$bin" "$T"
	go_start B "$bin" "$T" -next "http://127.0.0.1:$GO_PORT_C"
	go_start A "$bin" "$T" -next "http://127.0.0.1:$GO_PORT_B"
	go_start G "$bin" "$T" -next "http://127.0.0.1:$GO_PORT_C" -mode goroutine
	go_start P "$bin" "$T" -next "http://127.0.0.1:$GO_PORT_C" -mode appset
	go_start TB "$bin" "$T" -tls -next "http://127.0.0.1:$GO_PORT_C"
	go_start TA "$bin" "$T" -tls -next "https://127.0.0.1:$GO_PORT_TB"
	local tp1=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	local app=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	local checks=("chain:/one:A,B,C:$tp1" "chain:/two:A,B,C:-")
	out=$(curl -sf -H "traceparent: $tp1" "http://127.0.0.1:$GO_PORT_A/one") || fail "request failed"
	[ "$out" = "A>B>C/one" ] || fail "answer '$out'"
	curl -sf "http://127.0.0.1:$GO_PORT_A/two" >/dev/null || fail "request 2 failed"
	for i in 1 2 3 4 5; do	# keep-alive: the same connections, one header each time
		tp=00-$(printf %032x $((0x5000 + i)))-$(printf %016x $((0x77 + i)))-01
		curl -sf -H "traceparent: $tp" "http://127.0.0.1:$GO_PORT_A/k$i" >/dev/null || fail "k$i failed"
		checks+=("chain:/k$i:A,B,C:$tp")
	done
	curl -sf -H "traceparent: 00-11111111111111111111111111111111-2222222222222222-01" \
		"http://127.0.0.1:$GO_PORT_G/gor" >/dev/null || fail "goroutine request failed"
	checks+=("chain:/gor:G,C:00-11111111111111111111111111111111-2222222222222222-01")
	curl -sf "http://127.0.0.1:$GO_PORT_P/app" >/dev/null || fail "app-set request failed"
	# TLS: the header is written into the buffer before encryption.
	if [ "${GO_SERVER_SYSCALLS:-}" != 1 ]; then
		out=$(curl -skf -H "traceparent: $tp1" "https://127.0.0.1:$GO_PORT_TA/tls") || fail "TLS request failed"
		[ "$out" = "TA>TB>C/tls" ] || fail "TLS answer '$out'"
		checks+=("chain:/tls:TA,TB,C:$tp1")
	fi
	checks+=("appset:/app:P,C:$app")
	go_concurrent "http://127.0.0.1:$GO_PORT_A" 100
	for i in $(seq 1 100); do
		checks+=("chain:/c$i:A,B,C:00-$(printf %032x $((0xabc000 + i)))-$(printf %016x "$i")-01")
	done
	conns=$(ss -tnH state established "( dport = :$GO_PORT_B )" | wc -l)
	echo "connections A->B after 107 requests: $conns"
	[ "$conns" -ge 1 ] && [ "$conns" -le 30 ] || fail "keep-alive not in use: $conns connections from A to B for 107 requests"
	go_weft_stop
	cat "$T/weft.log"
	check_writes_clean "$T/weft.log"
	grep -q 'app-set 1,' "$T/weft.log" || fail "the app-set request was not counted as skipped"
	PIDS="A=$GO_PID_A B=$GO_PID_B C=$GO_PID_C G=$GO_PID_G P=$GO_PID_P TA=$GO_PID_TA TB=$GO_PID_TB" \
		$PY tests/lib/go_write_check.py "$T" "${checks[@]}" || fail "checks failed"
	ok "write path: chain, new trace, keep-alive, goroutine, app-set, TLS, 100 concurrent"
}

# A Go reverse proxy (httputil.ReverseProxy) copies the incoming traceparent
# and tracestate onto its request: weft-go replaces the copied traceparent in
# the buffer with its CLIENT span's context (same 55 bytes), child of the
# SERVER span; the proxy's tracestate copy goes out untouched, once.
forward() {
	local bin=$1 i tp out checks=()
	go_weft_start "$T/weft.log" --db "$db" --no-analyze --exe "$bin" --spans-file "$T/spans.jsonl"
	grep -q 'writes on' "$T/weft.log" || fail "writes not enabled: $(cat "$T/weft.log")"
	# GO_SERVER_SYSCALLS=1 (go_write_syscalls.test, with GO_WEFT_EXTRA=--server-syscalls):
	# SERVER spans from syscalls, said; TLS requests get none on that path (not sent)
	if [ "${GO_SERVER_SYSCALLS:-}" = 1 ]; then
		grep -q 'writes on; plaintext HTTP/1 SERVER spans from read/write syscalls' "$T/weft.log" ||
			fail "the syscall path not chosen: $(cat "$T/weft.log")"
	fi
	go_start C "$bin" "$T"
	go_start X "$bin" "$T" -mode proxy -next "http://127.0.0.1:$GO_PORT_C"
	for i in 1 2 3 4 5; do	# keep-alive: the same connection each time
		tp=00-$(printf %032x $((0x6000 + i)))-$(printf %016x $((0x99 + i)))-01
		out=$(curl -sf -H "traceparent: $tp" -H "tracestate: k=v$i" "http://127.0.0.1:$GO_PORT_X/f$i") ||
			fail "f$i failed"
		[ "$out" = "C/f$i" ] || fail "answer '$out'"
		checks+=("chain:/f$i:X,C:$tp")
	done
	curl -sf "http://127.0.0.1:$GO_PORT_X/f0" >/dev/null || fail "f0 failed"	# no header: inserted
	checks+=("chain:/f0:X,C:-")
	go_weft_stop
	cat "$T/weft.log"
	check_writes_clean "$T/weft.log"
	grep -q 'writes: 6 done' "$T/weft.log" || fail "want 5 replacements and 1 insertion: $(grep writes: "$T/weft.log")"
	for i in 1 2 3 4 5; do
		grep -qx "recvts name=C path=/f$i n=1 tracestate=k=v$i" "$T/C.log" ||
			fail "C did not get the proxy's tracestate once for /f$i: $(grep "path=/f$i " "$T/C.log")"
		# X's SERVER and CLIENT spans and C's SERVER span carry it
		[ "$(grep -c "\"trace_state\":\"k=v$i\"" "$T/spans.jsonl")" = 3 ] ||
			fail "/f$i: spans with trace_state k=v$i: $(grep -c "\"trace_state\":\"k=v$i\"" "$T/spans.jsonl"), want 3"
	done
	PIDS="X=$GO_PID_X C=$GO_PID_C" $PY tests/lib/go_write_check.py "$T" "${checks[@]}" || fail "checks failed"
	ok "forwarded traceparent replaced in the proxy's buffer (5 requests, keep-alive), 1 inserted"
}

# tracestate (issue 14): A (direct, POST with a body), G (goroutine mode), S
# (the app sets its own tracestate) and X (a reverse proxy) call the raw sink
# R, which records every request byte. The requests go once without weft-go
# (the baseline), then with it, then 200 + 50 concurrent ones (A, G):
# go_tracestate_check.py says what R must have received.
tracestate() {
	local bin=$1 n
	rm -f "$T/R.port"
	$PY tests/lib/raw_sink.py --port-file "$T/R.port" --log "$T/R.jsonl" 2>"$T/R.err" &
	cleanup_add "kill -9 $!"
	wait_for 100 test -s "$T/R.port" || fail "raw sink did not start: $(cat "$T/R.err")"
	local r=http://127.0.0.1:$(cat "$T/R.port")
	go_start A "$bin" "$T" -next "$r" -body "hello body"
	go_start G "$bin" "$T" -next "$r" -mode goroutine
	go_start S "$bin" "$T" -next "$r" -app-ts "app=1 ,  x=y"
	go_start X "$bin" "$T" -next "$r" -mode proxy
	local ports="A=$GO_PORT_A G=$GO_PORT_G S=$GO_PORT_S X=$GO_PORT_X"
	$PY tests/lib/go_tracestate_check.py send $ports || fail "baseline requests failed"
	go_weft_start "$T/weft.log" --db "$db" --no-analyze --exe "$bin" --spans-file "$T/spans.jsonl"
	grep -q 'writes on' "$T/weft.log" || fail "writes not enabled: $(cat "$T/weft.log")"
	$PY tests/lib/go_tracestate_check.py send $ports --concurrent || fail "requests with weft-go failed"
	go_weft_stop
	cat "$T/weft.log"
	for n in A G S X; do
		eval "kill -0 \$GO_PID_$n" 2>/dev/null || fail "service $n died: $(tail -5 "$T/$n.log")"
	done
	PIDS="A=$GO_PID_A G=$GO_PID_G S=$GO_PID_S X=$GO_PID_X" \
		$PY tests/lib/go_tracestate_check.py check "$T" || fail "tracestate checks failed"
	check_writes_clean "$T/weft.log"
	# 11 cases (X's a replacement) and 250 concurrent requests, one write each;
	# tracestate beside 4 of the cases' traceparents and all 250 concurrent
	# ones, not beside the one without room for it
	grep -q 'writes: 261 done' "$T/weft.log" || fail "want 261 writes: $(grep writes: "$T/weft.log")"
	grep -q 'tracestate: 254 written beside a traceparent, 1 not' "$T/weft.log" ||
		fail "want 254 tracestate lines written, 1 not: $(grep tracestate: "$T/weft.log")"
	ok "tracestate written with the traceparent (one write), goroutines inherit it, app's and proxy's own untouched, 250 concurrent"
}

# One chain through every build: S1 -> S2 -> ... -> SN -> L, so each build
# serves (reads the incoming header) and calls (writes the outgoing one).
matrix() {
	local args=() b i n=$# names=() pidlist=""
	for b in "$@"; do args+=(--exe "$b"); done
	go_weft_start "$T/weft.log" --db "$db" --no-analyze "${args[@]}" --spans-file "$T/spans.jsonl"
	cat "$T/weft.log"
	local bins=("$@")
	go_start L "${bins[0]}" "$T"
	local next=$GO_PORT_L
	for ((i = n; i >= 1; i--)); do
		go_start "S$i" "${bins[i-1]}" "$T" -next "http://127.0.0.1:$next"
		eval "next=\$GO_PORT_S$i; pidlist+=\" S$i=\$GO_PID_S$i\""
	done
	for ((i = 1; i <= n; i++)); do names+=("S$i"); done
	names+=(L)
	local hops; hops=$(IFS=,; echo "${names[*]}")
	local tp=00-$(printf %032x 0x9001)-$(printf %016x 0x34)-01
	out=$(curl -sf -H "traceparent: $tp" "http://127.0.0.1:$GO_PORT_S1/m") || fail "request failed"
	[[ $out == "S1>S2>"* ]] || fail "answer '$out'"
	curl -sf "http://127.0.0.1:$GO_PORT_S1/n" >/dev/null || fail "request failed"
	go_weft_stop
	tail -4 "$T/weft.log"
	check_writes_clean "$T/weft.log"
	for ((i = 1; i <= n; i++)); do echo "S$i: $(basename "${bins[i-1]}")"; done
	PIDS="$pidlist L=$GO_PID_L" $PY tests/lib/go_write_check.py "$T" "chain:/m:$hops:$tp" "chain:/n:$hops:-" ||
		fail "checks failed (S<i> is the i-th build above)"
	ok "one chain through $n builds: every hop got exactly one traceparent, parents right"
}

# A line into the guest kernel's log, so that its tail places OOM kills and
# segfaults in the test's timeline.
kmsg() { echo "weft-test $$: $*" >/dev/kmsg 2>/dev/null; }

# watch_exit NAME: note in $T/gone when chain service NAME exits (guest uptime,
# comparable with dmesg's timestamps, and wall clock, comparable with wrk's
# progress lines).
watch_exit() {
	local pid; eval "pid=\$GO_PID_$1"
	(tail --pid="$pid" -f /dev/null
	 echo "service $1 (pid $pid) gone at uptime $(cut -d' ' -f1 /proc/uptime), $(date +%T.%N)" >>"$T/gone"
	 kmsg "service $1 (pid $pid) gone") 2>/dev/null &
	cleanup_add "kill $!"	# runs before the service's own kill -9
}

# service_gone NAME PID: print on stderr why a chain service is gone: its exit
# status, when, its output (a Go crash names the signal, the fault address and
# the goroutines' stacks), the guest kernel's log tail (OOM killer, segfault
# lines), weft-go's counters, wrk's summary; REPLY := a one-line summary.
# Not in a subshell: wait needs the service to be our child.
service_gone() {
	local n=$1 pid=$2 st why log=$T/$1.log
	wait "$pid"
	st=$?
	why="exit status $st"
	((st > 128)) && why+=" (SIG$(kill -l $((st - 128)) 2>/dev/null))"
	{
		echo "=== service $n (pid $pid) is gone: $why"
		cat "$T/gone" 2>/dev/null
		echo "=== its output: $(wc -l <"$log") lines, the first 80 and the last 30"
		head -n 80 "$log"
		echo "..."
		tail -n 30 "$log"
		echo "=== guest kernel log, last 40 lines (uptime $(cut -d' ' -f1 /proc/uptime))"
		dmesg 2>&1 | tail -n 40
		echo "=== weft-go counters"
		grep -E 'writes:|spans:|uprobe hits|lost|skip' "$T/weft.log"
		echo "=== wrk, instrumented"
		grep -v '^progress' "$T/wrk1.txt"
	} >&2
	local go_says kernel_says
	go_says=$(grep -m1 -E '^(panic|fatal error|unexpected fault|SIG[A-Z]+|\[signal)' "$log")
	kernel_says=$(dmesg 2>/dev/null | grep -iE 'oom-kill|killed process|segfault|general protection|traps:' | tail -n1)
	REPLY="$n $why, Go: '$go_says', kernel: '$kernel_says'"
}

# wrk through A->B->C for SECS, once without weft-go and once with it: no
# error, every answer identical to the uninstrumented one, no crash.
load() {
	local bin=$1 secs=$2 reqs=${3:-0} secs0=$2
	((reqs > 0 && secs0 > 60)) && secs0=60
	# A crash prints every goroutine, runtime frames included (service_gone).
	export GOTRACEBACK=system
	go_start C "$bin" "$T" -quiet
	go_start B "$bin" "$T" -quiet -next "http://127.0.0.1:$GO_PORT_C"
	go_start A "$bin" "$T" -quiet -next "http://127.0.0.1:$GO_PORT_B"
	for n in A B C; do watch_exit "$n"; done
	curl -sf -o "$T/want" "http://127.0.0.1:$GO_PORT_A/load" || fail "request failed"
	want=$(cat "$T/want")
	# wrk runs response() in each thread's Lua state and done() in the main one:
	# the counts are globals of the threads, summed in done() through setup()'s list.
	cat >"$T/check.lua" <<LUA
wrk.path = "/load"
local f = assert(io.open("$T/want", "rb"))
local want = f:read("*a")
f:close()
local limit = tonumber(os.getenv("WEFT_LOAD_LIMIT") or "0")
bad, seen, first_bad = 0, 0, ""
local threads = {}
setup = function(thread) table.insert(threads, thread) end
response = function(status, headers, body)
	if status ~= 200 or body ~= want then
		if bad == 0 then first_bad = string.format("status %d body '%s' (control characters shown as ?)", status, (body:sub(1, 200):gsub("%c", "?"))) end
		bad = bad + 1
	end
	seen = seen + 1
	if seen % 10000 == 0 then
		io.write(string.format("progress %d answers, %d not identical, at %s\n", seen, bad, os.date("%H:%M:%S")))
		io.flush()
	end
	if limit > 0 and seen == limit then
		io.write("limit reached\n")
		io.flush()
		wrk.thread:stop()
	end
end
done = function(summary, latency, requests)
	local nbad, first = 0, ""
	for _, t in ipairs(threads) do
		nbad = nbad + t:get("bad")
		if first == "" then first = t:get("first_bad") end
	end
	io.write(string.format("requests %d errors %d non2xx %d mismatched %d\n", summary.requests,
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
		summary.errors.status, nbad))
	if first ~= "" then io.write("first answer not identical: " .. first .. "\n") end
end
LUA
	WEFT_LOAD_LIMIT=0 wrk -t1 -c8 --timeout 30s -d"${secs0}s" -s "$T/check.lua" "http://127.0.0.1:$GO_PORT_A" >"$T/wrk0.txt" 2>&1 || fail "wrk failed"
	echo "uninstrumented: $(grep -E '^requests|Requests/sec' "$T/wrk0.txt" | tr '\n' ' ')"
	kmsg "uninstrumented run done, weft-go starts"
	go_weft_start "$T/weft.log" --db "$db" --no-analyze --exe "$bin" --spans-file /dev/null --verbose
	kmsg "weft-go running, instrumented run starts"
	# Progress lines (every 10k answers) go to the console as they come: a soak
	# takes half an hour. wrk's main thread sleeps for the whole -d even when its
	# thread stops at the limit, so it is stopped with SIGINT (its own early stop,
	# which still reports) once the Lua script says the limit is reached.
	WEFT_LOAD_LIMIT=$reqs wrk -t1 -c8 --timeout 30s -d"${secs}s" -s "$T/check.lua" \
		"http://127.0.0.1:$GO_PORT_A" >"$T/wrk1.txt" 2>&1 &
	local wrk_pid=$! rc
	tail -n +1 -f --pid=$wrk_pid "$T/wrk1.txt" | grep --line-buffered '^progress' &
	local tail_pid=$!
	if ((reqs > 0)); then
		while kill -0 $wrk_pid 2>/dev/null && ! grep -q '^limit reached' "$T/wrk1.txt"; do sleep 1; done
		kill -INT $wrk_pid 2>/dev/null
	fi
	wait $wrk_pid
	rc=$?
	wait $tail_pid
	[ $rc = 0 ] || fail "wrk failed (status $rc): $(cat "$T/wrk1.txt")"
	echo "instrumented:   $(grep -E '^requests|Requests/sec' "$T/wrk1.txt" | tr '\n' ' ')"
	kmsg "instrumented run done, weft-go stops"
	go_weft_stop
	cat "$T/weft.log"
	local gone=""
	for n in A B C; do
		eval "pid=\$GO_PID_$n"
		kill -0 "$pid" 2>/dev/null || { service_gone "$n" "$pid"; gone+=" $REPLY"; }
	done
	[ -z "$gone" ] || fail "service crashed:$gone (details above)"
	grep -q '^requests [0-9]* errors 0 non2xx 0 mismatched 0$' "$T/wrk0.txt" || fail "uninstrumented run had failures: $(cat "$T/wrk0.txt")"
	grep -q '^requests [0-9]* errors 0 non2xx 0 mismatched 0$' "$T/wrk1.txt" || fail "instrumented run had failures: $(cat "$T/wrk1.txt")"
	check_writes_clean "$T/weft.log"
	local want_reqs=$reqs
	reqs=$(sed -n 's/^requests \([0-9]*\) .*/\1/p' "$T/wrk1.txt")
	[ "$reqs" -ge "$want_reqs" ] || fail "only $reqs of $want_reqs requests within ${secs}s"
	if [ "$want_reqs" = 0 ]; then	# a time-bound run: not stalled, not crawling
		local rps0 rps1
		rps0=$(sed -n 's/^Requests\/sec: *\([0-9]*\).*/\1/p' "$T/wrk0.txt")
		rps1=$(sed -n 's/^Requests\/sec: *\([0-9]*\).*/\1/p' "$T/wrk1.txt")
		[ -n "$rps0" ] && [ -n "$rps1" ] || fail "no request rate in wrk's output"
		[ "$reqs" -ge 100 ] && [ $((rps1 * 4)) -ge "$rps0" ] ||
			fail "instrumented: $reqs requests, $rps1/s against $rps0/s uninstrumented (less than a quarter)"
	fi
	writes=$(sed -n 's/.*writes: \([0-9]*\) done.*/\1/p' "$T/weft.log")
	# Every request crossed two instrumented client calls (A->B, B->C).
	[ "$writes" -ge $((2 * reqs)) ] || fail "$writes writes for $reqs requests (expected 2 per request)"
	# Uprobe hits: at most 7 per service per request with one client call (A, B: the
	# write site and the probe after it, for forwarded traceparents), 3 for the leaf C. Requests = server spans / 3 (wrk does not count the last ones);
	# 2% + 100 more for connection set-up (goroutines) and entries run twice
	# after a stack growth.
	hits=$(sed -n 's/.*uprobe hits in targets: \([0-9]*\).*/\1/p' "$T/weft.log")
	served=$(sed -n 's/.*spans: \([0-9]*\) server.*/\1/p' "$T/weft.log" | head -1)
	n=$((served / 3))
	[ -n "$hits" ] && [ "$n" -gt 0 ] && [ "$hits" -le $((17 * n * 102 / 100 + 100)) ] ||
		fail "$hits uprobe hits for $n requests (expected <= 17 per request through A, B, C)"
	echo "uprobe hits per request through A, B, C: $(awk -v h="$hits" -v n="$n" 'BEGIN {printf "%.2f", h / n}')"
	out=$(curl -sf "http://127.0.0.1:$GO_PORT_A/load") && [ "$out" = "$want" ] || fail "services broken after the run"
	ok "load: $reqs requests with writes on, 0 failed, 0 mismatched, 0 crashes, $writes writes"
}

# Discovery with writes (issue 16): two chain services started as containerd
# pods would be (binary only in a private mount namespace, kubepods-shaped
# cgroup), found by weft-go --cgroup with no --exe, C before weft-go (read at
# start), A after (its exec event); A -> C: C receives exactly one traceparent,
# written by weft-go, naming A's CLIENT span; spans carry each pod's
# container.id and k8s.pod.uid.
discover() {
	local bin=$1 p checks=() cg qos
	cg=$(cgroup_root)/weft-vm-disc-$$
	qos=$cg/kubepods.slice/kubepods-besteffort.slice
	mkdir -p "$qos" || fail "cannot create $qos in the guest's cgroup2"
	cleanup_add "rmdir '$qos' '$cg/kubepods.slice' '$cg'"
	go_pod_start C "$bin" "$T" "$qos" 1
	go_weft_start "$T/weft.log" --db "$db" --no-analyze --cgroup "$cg" --spans-file "$T/spans.jsonl" --verbose
	grep -q 'writes on' "$T/weft.log" || fail "writes not enabled: $(cat "$T/weft.log")"
	go_pod_start A "$bin" "$T" "$qos" 2 -next "http://127.0.0.1:$GO_PORT_C"
	for p in $GO_PID_C $GO_PID_A; do
		wait_for 300 grep -q "pid $p (.*): ready to trace" "$T/weft.log" ||
			{ cat "$T/weft.log" >&2; fail "pod process $p not found and attached"; }
	done
	local tp1=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	out=$(curl -sf -H "traceparent: $tp1" "http://127.0.0.1:$GO_PORT_A/d1") || fail "request d1 failed"
	[ "$out" = "A>C/d1" ] || fail "answer '$out'"
	checks+=("chain:/d1:A,C:$tp1")
	curl -sf "http://127.0.0.1:$GO_PORT_A/d2" >/dev/null || fail "request d2 failed"
	checks+=("chain:/d2:A,C:-")
	tp=00-$(printf %032x 0x7003)-$(printf %016x 0x73)-01
	curl -sf -H "traceparent: $tp" "http://127.0.0.1:$GO_PORT_A/d3" >/dev/null || fail "request d3 failed"
	checks+=("chain:/d3:A,C:$tp")
	go_weft_stop
	grep 'discovery:' "$T/weft.log"
	check_writes_clean "$T/weft.log"
	grep -q 'writes: 3 done' "$T/weft.log" || fail "want 3 writes (one per request A -> C): $(grep writes: "$T/weft.log")"
	PIDS="A=$GO_PID_A C=$GO_PID_C" $PY tests/lib/go_write_check.py "$T" "${checks[@]}" || fail "checks failed"
	$PY - "$T/spans.jsonl" "$GO_PID_A:$POD_CID_A:$POD_UID_A" "$GO_PID_C:$POD_CID_C:$POD_UID_C" <<'PYEOF' || fail "resource check failed"
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for arg in sys.argv[2:]:
    pid, cid, uid = arg.split(":")
    mine = [s for s in spans if s["pid"] == int(pid)]
    if not mine:
        sys.exit(f"no span of pid {pid}")
    for s in mine:
        r = s["resource"]
        if r.get("container.id") != cid or r.get("k8s.pod.uid") != uid:
            sys.exit(f"pid {pid}: resource {r}, want container.id {cid}, k8s.pod.uid {uid}")
print(f"ok: {len(spans)} spans, each with its pod's container.id and k8s.pod.uid")
PYEOF
	ok "discovery with writes: pods found by --cgroup, no --exe; C got one traceparent naming A's CLIENT span"
}

case $scenario in
main) main "$@" ;;
discover) discover "$@" ;;
forward) forward "$@" ;;
tracestate) tracestate "$@" ;;
matrix) matrix "$@" ;;
load) load "$@" ;;
*) fail "unknown scenario $scenario" ;;
esac
