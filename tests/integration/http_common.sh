# Helpers for the weft-http integration tests (sourced after tests/lib/common.sh).
: "${WEFT_HTTP:=weft-http}"
HTTP_APPS=$WEFT_ROOT/tests/apps/python

http_need() {
	[ "$(id -u)" = 0 ] || fail "weft-http tests need root"
	command -v "$WEFT_HTTP" >/dev/null || fail "weft-http not built: run make build/bin/weft-http"
	# no tracefs mount here: weft-http mounts it itself when absent
}

# tests/lib/common.sh's helpers register cleanups in the shell that calls them,
# so calling them as $(...) loses the cleanup. These set globals instead.
http_tmp() { T=$(mktemp -d "${TMPDIR:-/tmp}/weft-test.XXXXXX"); cleanup_add "rm -rf '$T'"; }
http_netns() { # $1: tag -> $NS
	NS="weft-$1-$$"
	ip netns add "$NS" || fail "cannot create netns $NS"
	cleanup_add "ip netns pids '$NS' | xargs -r kill -9; ip netns del '$NS'"
	ip -n "$NS" link set lo up
}
http_cgroup() { # $1: tag -> $CG
	local root; root=$(cgroup_root)
	CG="$root/weft-test-$1-$$"
	mkdir -p "$CG" || fail "cannot create cgroup $CG"
	# the test shell and this cleanup's own subshell leave it first (it kills what is left), and
	# a killed injector can take a while to leave (its uprobes unregistered): rmdir until it has
	cleanup_add "echo \$\$ > '$root/cgroup.procs'; echo \$BASHPID > '$root/cgroup.procs'; for _cg_n in \$(seq 100); do for p in \$(cat '$CG/cgroup.procs' 2>/dev/null); do kill -9 \$p; done; rmdir '$CG' 2>/dev/null && break; sleep 0.1; done"
}

# http_bridge TAG NAME...: a netns per NAME, all on one bridge (in a netns of
# its own), NAME number i at 10.231.0.i/24. Sets NSOF[NAME] and IPOF[NAME]
# (declare -A NSOF IPOF before calling).
http_bridge() {
	local tag=$1 br x n=1; shift
	http_netns "$tag-br"; br=$NS
	ip -n "$br" link add br0 type bridge && ip -n "$br" link set br0 up || fail "cannot make bridge"
	for x in "$@"; do
		http_netns "$tag-$x"; NSOF[$x]=$NS; IPOF[$x]=10.231.0.$n; n=$((n + 1))
		ip -n "$br" link add "v$x" type veth peer name eth0 netns "$NS" || fail "cannot make veth"
		ip -n "$br" link set "v$x" master br0 up
		ip -n "$NS" addr add "${IPOF[$x]}/24" dev eth0
		ip -n "$NS" link set eth0 up
	done
}

# Run a command inside cgroup $1 (and netns $2 when not empty), in the background.
# Usage: in_cg CG NS CMD...   (sets $!)
in_cg() {
	local cg=$1 ns=$2; shift 2
	# join the cgroup first: `ip netns exec` remounts /sys, hiding cgroup2 mounts
	if [ -n "$ns" ]; then
		bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" ip netns exec "$ns" "$@" &
	else
		bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@" &
	fi
}

# Start weft-http on cgroup $1 writing spans to $2 (extra args after); waits for "ready"
# (WH_READY_TENTHS tenths of a second, default 300; longer under qemu).
wh_start() {
	local cg=$1 spans=$2; shift 2
	WH_SPANS=$spans
	WH_LOG=$(mktemp "${TMPDIR:-/tmp}/weft-http-log.XXXXXX")
	cleanup_add "rm -f '$WH_LOG'"
	"$WEFT_HTTP" --cgroup "$cg" --spans-file "$spans" "$@" 2>"$WH_LOG" &
	WH_PID=$!
	cleanup_add "kill -9 $WH_PID 2>/dev/null"
	injector_ready weft-http "$WH_LOG" "${WH_READY_TENTHS:-300}" $WH_PID
}

# The bpf_loop call sites in the programs weft-http ($WH_PID) has loaded, as
# the verifier left them (found through the process's fds): a call of
# bpf_loop, or of a *_cb subprogram where the verifier inlined it. Without
# bpf_loop the loop branches are dead code and removed, so 0 proves that the
# bounded-loop paths are the ones running.
wh_loop_calls() {
	local n=0 id c ids
	ids=$(grep -h '^prog_id:' /proc/"$WH_PID"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -un)
	[ -n "$ids" ] || { echo "no BPF programs held by weft-http (pid $WH_PID)" >&2; return 1; }
	for id in $ids; do
		c=$(bpftool prog dump xlated id "$id") || { echo "bpftool prog dump xlated id $id failed" >&2; return 1; }
		n=$((n + $(grep -cE 'call (bpf_loop|.*_cb$)' <<<"$c")))
	done
	echo "$n"
}

# Stop weft-http with SIGINT and wait; prints its log; checks the span trees.
wh_stop() {
	kill -INT "$WH_PID" 2>/dev/null
	wait "$WH_PID"
	local rc=$?
	cat "$WH_LOG" >&2
	[ $rc = 0 ] || fail "weft-http exited with $rc"
	[ ! -f "$WH_SPANS" ] || check_span_trees "$WH_SPANS"
}
