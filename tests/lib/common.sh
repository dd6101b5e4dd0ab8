# Shared helpers for shell tests. Source it: . "$WEFT_ROOT/tests/lib/common.sh"
# Every resource a test makes is registered for cleanup on any exit.
set -uo pipefail
: "${WEFT_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${WEFT_BIN:=$WEFT_ROOT/build/bin}"
export PATH=$WEFT_BIN:$WEFT_ROOT/tools:$PATH
PY=/usr/bin/python3	# Debian's python, which sees python3-* packages

# Cleanups live in a file, so that helpers called inside $(...) (a subshell)
# still register theirs; they run in reverse order at exit.
_WEFT_CLEANUP_FILE=$(mktemp "${TMPDIR:-/tmp}/weft-cleanup.XXXXXX")
_WEFT_CLEANUP_OWNER=$BASHPID
cleanup_add() { printf '%s\n' "$*" >>"$_WEFT_CLEANUP_FILE"; }
_run_cleanups() {
	[ "$BASHPID" = "$_WEFT_CLEANUP_OWNER" ] || return 0
	local _weft_cmd
	while IFS= read -r _weft_cmd; do
		(eval "$_weft_cmd") >/dev/null 2>&1 || true
	done < <(tac "$_WEFT_CLEANUP_FILE" 2>/dev/null)
	rm -f "$_WEFT_CLEANUP_FILE"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "$*"; exit 77; }
ok() { echo "ok: $*"; }

# The injectors pin the maps they share in $WEFT_PIN_DIR (common/pins.h): a
# test gets a directory of its own unless it names one, never the host's default.
if [ -z "${WEFT_PIN_DIR:-}" ]; then
	export WEFT_PIN_DIR=/sys/fs/bpf/weft-t-$$
	cleanup_add "rm -rf '$WEFT_PIN_DIR'"
fi

# A temporary directory removed at exit.
mktempdir() { local d; d=$(mktemp -d "${TMPDIR:-/tmp}/weft-test.XXXXXX"); cleanup_add "rm -rf '$d'"; echo "$d"; }

# Wait until a command succeeds (readiness check), up to N tenths of a second.
wait_for() {
	local tries=$1; shift
	while ((tries-- > 0)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# injector_ready PROG LOG [TENTHS] [PID]: wait until injector PROG (weft-go,
# weft-http, weft-tcpopt) printed its ready line ("PROG: ready: ...", once
# everything is attached) into LOG; fail the test, showing LOG, when it does
# not come within TENTHS tenths of a second (default 300) or PID exits first.
injector_ready() {
	local prog=$1 log=$2 tenths=${3:-300} pid=${4:-}
	wait_for "$tenths" bash -c "grep -q '^$prog: ready' '$log' || { [ -n '$pid' ] && ! kill -0 '$pid'; }"
	grep -q "^$prog: ready" "$log" || { cat "$log" >&2; fail "$prog did not get ready"; }
}

# CG_PROGS := the BPF programs attached to cgroup CG, a line each (bpftool's
# header dropped). Fails the test when bpftool cannot tell, so that "nothing
# attached" is never concluded from an error. Not for use inside $(...).
cgroup_progs() {
	local out
	out=$(bpftool cgroup show "$1" 2>&1) || fail "bpftool cgroup show $1 failed: $out"
	CG_PROGS=$(grep -v '^ID' <<<"$out")
}

# A network namespace with loopback up, deleted at exit. Name: weft-<tag>-<pid>.
netns_new() {
	local ns="weft-$1-$$"
	ip netns add "$ns" || fail "cannot create netns $ns"
	cleanup_add "ip netns pids '$ns' | xargs -r kill -9; ip netns del '$ns'"
	ip -n "$ns" link set lo up
	echo "$ns"
}

# A cgroup v2 child for the test, removed at exit (processes moved out first).
cgroup_root() {
	local r=/sys/fs/cgroup/unified
	[ -f $r/cgroup.procs ] || r=/sys/fs/cgroup
	if [ ! -f $r/cgroup.procs ]; then
		mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 none /sys/fs/cgroup/unified && r=/sys/fs/cgroup/unified
	fi
	echo $r
}
cgroup_new() {
	local root cg; root=$(cgroup_root); cg="$root/weft-test-$1-$$"
	mkdir -p "$cg" || fail "cannot create cgroup $cg"
	cleanup_add "for p in \$(cat '$cg/cgroup.procs' 2>/dev/null); do echo \$p > '$root/cgroup.procs'; done; rmdir '$cg'"
	echo "$cg"
}

# check_span_trees SPANS.jsonl...: within each trace, span ids unique and parent
# links a tree (tests/lib/check_span_trees.py); fails the test otherwise.
check_span_trees() {
	"$PY" "$WEFT_ROOT/tests/lib/check_span_trees.py" "$@" >&2 ||
		fail "span trees broken (a span id twice or a parent cycle) in $*"
}

ensure_bpffs() { mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; }

# The BPF objects process PID holds open, "prog ID", "map ID" or "link ID" a
# line (from its fdinfo): to check later that they are all gone.
bpf_held() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		awk '$1 == "prog_id:" { print "prog", $2 } $1 == "map_id:" { print "map", $2 }
			$1 == "link_id:" { print "link", $2 }' "$f" 2>/dev/null
	done | sort -u
}
# The id of the BPF map pinned at PATH ("" if none).
pinned_map_id() {
	bpftool -j map show pinned "$1" 2>/dev/null | jq -r '.id // empty'
}

# bpf_held PID without the maps pinned in DIR (the injectors' shared maps,
# which outlive a killed user until the next start: common/pins.h).
bpf_held_unpinned() {
	local held m id
	held=$(bpf_held "$1")
	for m in "$2"/*; do
		id=$(pinned_map_id "$m")
		[ -n "$id" ] && held=$(grep -vx "map $id" <<<"$held")
	done
	echo "$held"
}

# Those of the list (bpf_held's output) that still exist, a line each.
bpf_left() {
	local kind id
	while read -r kind id; do
		[ -n "$kind" ] || continue
		bpftool "$kind" show id "$id" >/dev/null 2>&1 && echo "$kind $id"
	done <<<"$1"
	return 0
}
# True when none of the list is left; fails the test on an empty list (a
# process that held nothing proves nothing).
bpf_gone() {
	[ -n "$1" ] || fail "bpf_gone: empty list of BPF objects"
	[ -z "$(bpf_left "$1")" ]
}

# The value of global VAR of a BPF object process PID loaded (its .bss, .data
# or .rodata map), as bpftool prints it in JSON.
bpf_global() {
	local kind id v
	while read -r kind id; do
		[ "$kind" = map ] || continue
		v=$(bpftool -j map dump id "$id" 2>/dev/null |
			jq -e --arg v "$2" 'first(.[].formatted.value | to_entries[] | select(.key | test("^\\.(bss|data|rodata)$")) | .value[] | select(has($v)) | .[$v])' 2>/dev/null) &&
			{ echo "$v"; return 0; }
	done < <(bpf_held "$1")
	echo "no global $2 in the BPF maps of pid $1" >&2
	return 1
}
