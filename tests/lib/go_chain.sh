# Helpers for weft-go tests: start chain services and weft-go.
# Source after common.sh. Runs on the host and inside the VM guest alike.

# chain_launch NAME BIN DIR [ARGS...]: start a test service that writes its
# port to DIR/NAME.port, wait for that file; sets CHAIN_PID and CHAIN_PORT;
# its stdout goes to DIR/NAME.log.
chain_launch() {
	local name=$1 bin=$2 dir=$3; shift 3
	rm -f "$dir/$name.port"
	"$bin" -name "$name" -port-file "$dir/$name.port" "$@" >"$dir/$name.log" 2>&1 &
	CHAIN_PID=$!
	cleanup_add "kill -9 $CHAIN_PID"
	wait_for 100 test -s "$dir/$name.port" || fail "service $name did not start: $(cat "$dir/$name.log")"
	CHAIN_PORT=$(cat "$dir/$name.port")
}

# go_start NAME BIN DIR [ARGS...]: start a chain service, wait until it serves;
# sets GO_PORT_<NAME> and GO_PID_<NAME>; its stdout goes to DIR/NAME.log.
go_start() {
	local name=$1 bin=$2 dir=$3; shift 3
	chain_launch "$name" "$bin" "$dir" "$@"
	local pid=$CHAIN_PID port=$CHAIN_PORT scheme=http opt=
	case " $* " in
	*" -tls "* | *" -h2 tls "*) scheme=https ;;
	*" -h2 h2c "*) opt=--http2-prior-knowledge ;;
	esac
	wait_for 100 curl -skf $opt "$scheme://127.0.0.1:$port/healthz" || fail "service $name does not answer"
	printf -v "GO_PORT_$name" %s "$port"
	printf -v "GO_PID_$name" %s "$pid"
}

# go_weft_start LOG ARGS...: start weft-go (with $GO_WEFT_EXTRA), wait for its
# ready line; sets WEFT_GO_PID.
go_weft_start() {
	local log=$1 prev= a; shift
	WEFT_GO_SPANS=	# the spans file go_weft_stop checks
	for a in "$@"; do [ "$prev" = --spans-file ] && WEFT_GO_SPANS=$a; prev=$a; done
	# GO_WEFT_EXTRA: more arguments for every start (a wrapper test's
	# --server-syscalls, e.g. go_readonly_syscalls.test)
	weft-go "$@" ${GO_WEFT_EXTRA:-} >"$log" 2>&1 &
	WEFT_GO_PID=$!
	cleanup_add "kill -INT $WEFT_GO_PID; sleep 0.5; kill -9 $WEFT_GO_PID"
	injector_ready weft-go "$log" 600 $WEFT_GO_PID
}

# go_weft_stop: SIGINT, wait for the exit; fails on a non-zero status or when
# the spans file (--spans-file) breaks the span-tree invariant.
go_weft_stop() {
	kill -INT "$WEFT_GO_PID"
	wait "$WEFT_GO_PID" || fail "weft-go exited with status $?"
	[ -z "$WEFT_GO_SPANS" ] || [ ! -f "$WEFT_GO_SPANS" ] || check_span_trees "$WEFT_GO_SPANS"
}

# go_concurrent URLBASE N: N requests /c1../cN, 20 at a time from one curl,
# request i carrying trace id 0xabc000+i and parent id i; fails unless all 200.
go_concurrent() {
	local base=$1 n=$2 i args=(-Z --parallel-max 20)
	for ((i = 1; i <= n; i++)); do
		((i > 1)) && args+=(--next)
		args+=(-sk -o /dev/null -w '%{http_code}\n'
			-H "traceparent: 00-$(printf %032x $((0xabc000 + i)))-$(printf %016x "$i")-01" "$base/c$i")
	done
	local codes; codes=$(curl "${args[@]}" 2>/dev/null)
	[ "$(grep -c '^200$' <<<"$codes")" -eq "$n" ] || fail "concurrent requests failed: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
}

# go_pod_start NAME BIN DIR QOS N [ARGS...]: a chain service as containerd
# would run a pod: in cgroup QOS/kubepods-besteffort-pod<uid>.slice/
# cri-containerd-<64 hex>.scope, its binary copied into a tmpfs of a private
# mount namespace (the host path does not exist). N numbers the pod (uid and
# id from N and our pid). Sets GO_PORT_, GO_PID_, POD_CID_, POD_UID_<NAME>.
go_pod_start() {
	local name=$1 bin=$2 dir=$3 qos=$4 n=$5 uid cid; shift 5
	uid=$(printf '%08x-5b6a-4978-8695-%012x' "$n" $$)
	cid=$(printf '%056x%08x' $$ "$n")
	local pod=$qos/kubepods-besteffort-pod${uid//-/_}.slice
	local ctr=$pod/cri-containerd-$cid.scope root=$dir/root-$name
	mkdir -p "$ctr" "$root" || fail "cannot create $ctr"
	# (busy until its process is gone: retried)
	cleanup_add "wait_for 100 rmdir '$ctr'; rmdir '$pod'"
	rm -f "$dir/$name.port"
	(echo $BASHPID >"$ctr/cgroup.procs" && exec unshare -m --propagation private sh -c \
		"mount -t tmpfs tmpfs '$root' && cp '$bin' '$root/chain' && exec '$root/chain' -name $name -port-file '$dir/$name.port' $*") \
		>"$dir/$name.log" 2>&1 &
	local pid=$!
	cleanup_add "kill -9 $pid"
	wait_for 100 test -s "$dir/$name.port" || { cat "$dir/$name.log" >&2; fail "pod $name did not start"; }
	[ ! -e "$root/chain" ] || fail "pod $name's binary is visible outside its mount namespace"
	printf -v "GO_PID_$name" %s "$pid"
	printf -v "GO_PORT_$name" %s "$(cat "$dir/$name.port")"
	printf -v "POD_CID_$name" %s "$cid"
	printf -v "POD_UID_$name" %s "$uid"
}

# grpc_start NAME BIN DIR [ARGS...]: start a gRPC chain service
# (tests/apps/go/grpcchain), wait until a call reaches it; sets GO_PORT_<NAME>
# and GO_PID_<NAME>; its stdout goes to DIR/NAME.log. The readiness call is
# to a path "/ready" the checks can leave out.
grpc_start() {
	local name=$1 bin=$2 dir=$3; shift 3
	chain_launch "$name" "$bin" "$dir" "$@"
	local pid=$CHAIN_PID port=$CHAIN_PORT
	"$bin" -call "127.0.0.1:$port" -path /ready >/dev/null ||
		fail "gRPC service $name does not answer: $(cat "$dir/$name.log")"
	printf -v "GO_PORT_$name" %s "$port"
	printf -v "GO_PID_$name" %s "$pid"
}
