# Helpers of the http_parent_* tests (sourced after http_common.sh): a front
# that calls a backend per request, loaded by 50 concurrent clients with 2,000
# requests of distinct trace ids, under weft-http; tests/lib/parent_check.py
# counts which trace each backend request joined.
PA_APPS=$WEFT_ROOT/tests/apps/python/loop_apps.py
PA_PY=/usr/bin/python3.11
: "${PA_N:=2000}" "${PA_CONC:=50}"

# pa_setup TAG: netns, cgroup, temp dir, weft-http running, the backend up.
pa_setup() {
	[ -x "$PA_PY" ] || skip "no /usr/bin/python3.11 (Debian's python3.11)"
	http_tmp
	export WEFT_OFFSETS_DB=$T/offsets	# weft-http records runtimes it finds (nginx)
	http_cgroup "$1"; PA_CG=$CG
	http_netns "$1"; PA_NS=$NS
	wh_start "$PA_CG" "$T/spans.jsonl"
	in_cg "$PA_CG" "$PA_NS" "$PA_PY" "$PA_APPS" backend --port 9000 --log "$T/backend.log" \
		--ready "$T/backend.ready"
	cleanup_add "kill -9 $! 2>/dev/null"
	wait_for 100 test -e "$T/backend.ready" || fail "backend did not start"
}

# pa_front NAME CMD...: start a front in the cgroup (it listens on 8080), load
# it, stop it; the backend log is kept per front. PA_READY_LOG: a line
# weft-http prints once it is ready for that front (its runtime's probes;
# "{pid}" in it stands for the front's pid);
# PA_CLIENT_ARGS: more options of the load client (e.g. --new-conn).
pa_front() {
	local name=$1 pid; shift
	: >"$T/backend.log"
	in_cg "$PA_CG" "$PA_NS" "$@"
	pid=$!
	cleanup_add "kill -9 $pid 2>/dev/null"
	wait_for 100 ip netns exec "$PA_NS" bash -c '</dev/tcp/127.0.0.1/8080' ||
		fail "front $name did not start"
	if [ -n "${PA_READY_LOG:-}" ]; then
		local want=${PA_READY_LOG//\{pid\}/$pid}
		wait_for 100 grep -q "$want" "$WH_LOG" ||
			{ cat "$WH_LOG" >&2; fail "weft-http: no '$want'"; }
	fi
	ip netns exec "$PA_NS" "$PA_PY" "$PA_APPS" client --port 8080 --n "$PA_N" --conc "$PA_CONC" \
		${PA_CLIENT_ARGS:-} --out "$T/$name.client" || fail "$name: the load client failed"
	# calls made after answering (fire-and-forget) may still be on their way
	wait_for 100 bash -c "[ \$(wc -l <'$T/backend.log') -ge $PA_N ]"
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	wait_for 100 bash -c "! ip netns exec '$PA_NS' bash -c '</dev/tcp/127.0.0.1/8080'" ||
		fail "front $name did not stop"
	cp "$T/backend.log" "$T/$name.backend"
}

# pa_check NAME MIN_OWN [parent_check.py options]: after wh_stop (the spans are complete then).
pa_check() {
	local name=$1 min=$2; shift 2
	"$PY" "$WEFT_ROOT/tests/lib/parent_check.py" "$T/$name.client" "$T/$name.backend" \
		"$T/spans.jsonl" --name "$name" --min-own "$min" "$@" || PA_FAILED+=" $name"
}
PA_FAILED=
