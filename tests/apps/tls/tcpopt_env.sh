# Shared setup for tests/integration/tcpopt_*.test. Source after tests/lib/common.sh.
#
# Topology (each a network namespace, veth pairs, /24s unique per test run):
#   client (10.X.1.1) --- (10.X.1.2) A (10.X.2.1) --- (10.X.2.2) B
# A and B are Python HTTPS services (OpenSSL) placed in a child cgroup $CG;
# weft-tcpopt attaches to that cgroup. Everything is removed at exit.
export TLS_APPS=$WEFT_ROOT/tests/apps/tls
# weft-tcpopt reuses the go_conn_ctx pinned in $WEFT_PIN_DIR: a directory of
# this test's own (empty unless the test pins there), never the default one
# where another weft-go on the machine may have pinned its map
export WEFT_PIN_DIR=${WEFT_PIN_DIR:-/sys/fs/bpf/weft-tcpopt-none-$$}
TCPOPT_NET=$(( ($$ % 200) + 20 ))

# tcpopt_topology TAG: sets NS_C NS_A NS_B IP_C IP_A1 IP_A2 IP_B, TMP, CG, certs in $TMP
tcpopt_topology() {
	local tag=$1 x=$TCPOPT_NET
	ensure_bpffs	# for the tests' own pins; tracefs weft-tcpopt mounts itself
	# (common.sh's helpers register their cleanup inside $(...), where it is
	# lost; register it here in the test's own shell)
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/weft-tcpopt.XXXXXX"); cleanup_add "rm -rf '$TMP'"
	tcpopt_netns NS_C "to$tag-c"; tcpopt_netns NS_A "to$tag-a"; tcpopt_netns NS_B "to$tag-b"
	IP_C=10.$x.1.1 IP_A1=10.$x.1.2 IP_A2=10.$x.2.1 IP_B=10.$x.2.2
	ip link add "tc$$c" type veth peer name "ta$$c" || fail "veth"
	ip link set "tc$$c" netns "$NS_C"; ip link set "ta$$c" netns "$NS_A"
	ip link add "tb$$b" type veth peer name "ta$$b" || fail "veth"
	ip link set "tb$$b" netns "$NS_B"; ip link set "ta$$b" netns "$NS_A"
	ip -n "$NS_C" addr add "$IP_C/24" dev "tc$$c"; ip -n "$NS_C" link set "tc$$c" up
	ip -n "$NS_A" addr add "$IP_A1/24" dev "ta$$c"; ip -n "$NS_A" link set "ta$$c" up
	ip -n "$NS_A" addr add "$IP_A2/24" dev "ta$$b"; ip -n "$NS_A" link set "ta$$b" up
	ip -n "$NS_B" addr add "$IP_B/24" dev "tb$$b"; ip -n "$NS_B" link set "tb$$b" up
	local root; root=$(cgroup_root); CG="$root/weft-test-tcpopt$tag-$$"
	mkdir -p "$CG" || fail "cannot create cgroup $CG"
	cleanup_add "echo \$\$ > '$root/cgroup.procs'; echo \$BASHPID > '$root/cgroup.procs'; for _tcpopt_n in \$(seq 50); do for p in \$(cat '$CG/cgroup.procs' 2>/dev/null); do kill -9 \$p; done; rmdir '$CG' 2>/dev/null && break; sleep 0.1; done"
	"$TLS_APPS/mkcerts.sh" "$TMP" "$IP_A1" "$IP_A2" "$IP_B" 127.0.0.1 || fail "cannot make certificates"
}

# tcpopt_netns VAR TAG: a netns weft-TAG-$$ named in $VAR, deleted at exit
tcpopt_netns() {
	local -n _v=$1
	_v="weft-$2-$$"
	ip netns add "$_v" || fail "cannot create netns $_v"
	cleanup_add "ip netns pids '$_v' | xargs -r kill -9; ip netns del '$_v'"
	ip -n "$_v" link set lo up
}

# in_cg NS CMD...: run CMD in namespace NS inside the test cgroup. The cgroup is
# joined first: `ip netns exec` remounts /sys, hiding the cgroup2 mount.
in_cg() {
	local ns=$1; shift
	sh -c 'echo $$ > "$0/cgroup.procs" && exec ip netns exec "$@"' "$CG" "$ns" "$@"
}

# start_weft LOG SPANS [ARGS...]: start weft-tcpopt on $CG, wait for ready; sets WEFT_PID
start_weft() {
	local log=$1 spans=$2; shift 2
	WEFT_SPANS=$spans
	weft-tcpopt --cgroup "$CG" --spans-file "$spans" "$@" 2>"$log" &
	WEFT_PID=$!
	cleanup_add "kill -INT $WEFT_PID; sleep 1; kill -9 $WEFT_PID"
	injector_ready weft-tcpopt "$log" 100 $WEFT_PID
}

# stop_weft: SIGINT, wait for exit (spans flushed, counters printed); checks the span trees
stop_weft() {
	kill -INT "$WEFT_PID" 2>/dev/null
	wait "$WEFT_PID"; local rc=$?
	[ $rc -eq 0 ] || fail "weft-tcpopt exited with $rc"
	[ ! -f "$WEFT_SPANS" ] || check_span_trees "$WEFT_SPANS"
}

# start_service NS NAME PORT [ARGS...]: HTTPS service in NS, in the cgroup; waits for ready
start_service() {
	local ns=$1 name=$2 port=$3; shift 3
	rm -f "$TMP/$name.out"	# a restart must not see the last instance's "ready"
	in_cg "$ns" "$PY" "$TLS_APPS/https_service.py" --port "$port" --cert "$TMP/server.pem" \
		--key "$TMP/server.key" --ca "$TMP/ca.pem" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	cleanup_add "kill $!"
	wait_for 100 grep -q ready "$TMP/$name.out" || { cat "$TMP/$name.err" >&2; fail "service $name did not start"; }
}

# counter NAME LOG: value of a weft-tcpopt exit counter
counter() { sed -n "s/.*counters:.* $1=\([0-9]*\).*/\1/p" "$2" | tail -n1; }
