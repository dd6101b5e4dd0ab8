# bench/cost.sh: where an injector's CPU per request goes, for bench/*/run
# (sourced). The added CPU per request is split into traps (uprobe hits per
# request x the trap cost bench/go/trapcost measures), BPF run time
# (bpf_stats), the injector's own CPU (/proc/PID/stat utime+stime: ring-buffer
# wakeups and reads, span assembly, export) and the remainder. perf profiles
# of loaded runs are kept under bench/out/ as the evidence.

BENCH_OUT=${BENCH_OUT:-$WEFT_ROOT/bench/out}

# cpu_ticks PID...: user+system clock ticks of these processes (all their
# threads, exited ones included); a process that is gone counts 0.
cpu_ticks() {
	local p s=0 t
	for p in "$@"; do
		t=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) && s=$((s + ${t:-0}))
	done
	echo "$s"
}

# cg_usec CGROUP_DIR: CPU microseconds used by the cgroup's processes so far
# (cgroup v2 cpu.stat usage_usec: user + system, exited processes included).
cg_usec() {
	awk '$1 == "usage_usec" {print $2}' "$1/cpu.stat"
}

# usec_per_req USEC REQUESTS: microseconds per request.
usec_per_req() {
	awk -v u="$1" -v n="$2" 'BEGIN {printf "%.2f", (n > 0 ? u / n : 0)}'
}

# ticks_per_req TICKS REQUESTS: microseconds of CPU per request.
ticks_per_req() {
	awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (n > 0 ? t * 1e6 / hz / n : 0)}'
}

# median: the median of the numbers on stdin, one a line ("n/a" for none).
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "n/a"}'; }

# ratio A B: A / B to two decimals ("n/a" when B is not positive).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }

# smaps PID: "Rss Private Shared" in kB from /proc/PID/smaps_rollup.
smaps() {
	awk '/^Rss:/ {r=$2} /^Private_(Clean|Dirty):/ {p+=$2} /^Shared_(Clean|Dirty):/ {s+=$2} END {print r, p, s}' "/proc/$1/smaps_rollup"
}

# go_progstat [PID]: "run_cnt run_time_ns" summed over weft-go's uprobe
# programs (go_* except the exec/exit tracepoints; one program per uprobe
# site, so runs = hits); with PID only those that process holds (its fds'
# prog_id), so other weft-go instances on the machine do not count.
go_progstat() {
	local ids=
	[ -z "${1:-}" ] || ids=$(sed -n 's/^prog_id:[[:space:]]*//p' /proc/"$1"/fdinfo/* 2>/dev/null | tr '\n' ' ')
	bpftool prog show -j | $PY -c "import json,sys
ids = set(int(i) for i in sys.argv[1].split())
c = t = 0
for p in json.load(sys.stdin):
    n = p.get('name', '')
    if n.startswith('go_') and n not in ('go_exec', 'go_exit') and p.get('type') == 'kprobe' and (not ids or p['id'] in ids):
        c += p.get('run_cnt', 0); t += p.get('run_time_ns', 0)
print(c, t)" "$ids"
}

# trap_cost TRAPCOST_BIN: ns of one uprobe hit net of its empty program's
# bpf_stats time (that time is in the BPF row): median of 3 runs. Needs
# kernel.bpf_stats_enabled=1 for the net figure.
trap_cost() {
	local i
	for i in 1 2 3; do "$1" 100000; done |
		awk '{print $2 - $1 - $3}' | sort -g | awk '{a[NR] = $1} END {printf "%.0f", a[2]}'
}

# perf_start NAME: perf record -a -g of the whole machine into
# $BENCH_OUT/NAME.perf.data until perf_stop.
perf_start() {
	mkdir -p "$BENCH_OUT"
	PERF_NAME=$1
	perf record -q -a -g -F 499 -o "$BENCH_OUT/$1.perf.data" -- sleep 3600 >"$BENCH_OUT/$1.perf.log" 2>&1 &
	PERF_PID=$!
	cleanup_add "kill -INT $PERF_PID 2>/dev/null"
	sleep 0.3
}

# perf_stop: ends the recording and summarises it into
# $BENCH_OUT/NAME-perf.txt (top symbols with their comm and dso, self time,
# then the same by comm and dso); fails if the profile is empty.
perf_stop() {
	local d=$BENCH_OUT/$PERF_NAME.perf.data s=$BENCH_OUT/$PERF_NAME-perf.txt
	kill -INT "$PERF_PID" 2>/dev/null
	wait "$PERF_PID" 2>/dev/null
	{
		echo "# perf record -a -g -F 499 of the machine during a loaded run ($PERF_NAME), $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "# perf report --stdio --no-children --sort comm,dso,sym -g none (self time, top entries)"
		perf report -i "$d" --stdio --no-children --sort comm,dso,sym -g none --percent-limit 0.5 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -60
		echo "# perf report --stdio --no-children --sort comm,dso -g none"
		perf report -i "$d" --stdio --no-children --sort comm,dso -g none --percent-limit 1 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -30
	} >"$s"
	rm -f "$d.old"
	grep -q '%' "$s" || { echo "bench: perf recorded nothing for $PERF_NAME (see $BENCH_OUT/$PERF_NAME.perf.log)" >&2; return 1; }
}

# perf_top NAME N [COMMS]: the N top self-time lines of NAME's summary (only
# those of the commands matching the extended regex COMMS: the machine is
# shared), as a Markdown code block.
perf_top() {
	echo '```'
	sed -n '3,/^# perf report/p' "$BENCH_OUT/$1-perf.txt" | grep -v '^#' |
		awk -v re="^(${3:-.*})$" '$2 ~ re' | head -"$2" | sed 's/[[:space:]]*$//'
	echo '```'
}

# stats_run BEFORE AFTER CMD...: CMD with bpf_stats on (an accounting run:
# the measured runs keep it off, as in production, since its accounting adds
# to every program run), between two snapshots of every program's stats
# (bpftool prog show -j) into BEFORE and AFTER; off again after. CMD runs in
# this shell (the variables it sets stay); its status is returned.
stats_run() {
	local before=$1 after=$2 rc
	shift 2
	sysctl -qw kernel.bpf_stats_enabled=1
	bpftool prog show -j >"$before"
	"$@"
	rc=$?
	bpftool prog show -j >"$after"
	sysctl -qw kernel.bpf_stats_enabled=0
	return $rc
}

# cost_table NAME HITS TRAP_NS BPF_NS INJ_US BASE_US WEFT_US [HOW [TRAP_HOW]]: the added CPU
# per request of injector NAME, split (Markdown). HITS: uprobe hits per
# request; TRAP_NS: one hit's cost; BPF_NS: BPF run time per request; INJ_US:
# the injector's CPU per request; BASE_US / WEFT_US: the workload processes'
# CPU per request (user + system, so the kernel's work in their context,
# traps and BPF runs included) without and with the injector; HOW: how those
# were measured (default: utime+stime of the workload's processes); TRAP_HOW:
# where TRAP_NS comes from (default: bench/go/trapcost.c's hit).
cost_table() {
	awk -v name="$1" -v hits="$2" -v trap="$3" -v bpf="$4" -v inj="$5" -v base="$6" -v weft="$7" \
		-v how="${8:-the utime+stime of the workload processes (/proc/PID/stat, 10 ms ticks)}" \
		-v trapwhy="${9:-bench/go/trapcost.c: an empty function called 100000 times, with and without an empty uprobe program, net of the bpf_stats time of that program; median of 3}" 'BEGIN {
		t = hits * trap / 1000; b = bpf / 1000; w = weft - base
		total = w + inj; rest = w - t - b
		printf "| part of the added CPU per request | us per request | share | how it is measured |\n"
		printf "|---|---|---|---|\n"
		printf "| traps (uprobe hits) | %.2f | %s | %.2f hits per request (program runs of the uprobe programs / requests) x %.0f ns per hit (%s) |\n", t, pct(t, total), hits, trap, trapwhy
		printf "| BPF run time | %.2f | %s | bpf_stats (kernel.bpf_stats_enabled=1): run_time_ns of %s'"'"'s programs over the loaded run / requests (raw, the accounting'"'"'s own cost per run included) |\n", b, pct(b, total), name
		printf "| %s'"'"'s own CPU (ring buffers, span assembly, export) | %.2f | %s | /proc/PID/stat utime+stime of the injector over the loaded run / requests (10 ms ticks) |\n", name, inj, pct(inj, total), name
		printf "| remainder | %.2f | %s | the workload'"'"'s added CPU minus traps and BPF: syscall tracepoint entry and exit paths, sk_msg/sockops plumbing, cache and scheduling effects |\n", rest, pct(rest, total)
		printf "| **total added** | %.2f | 100%% | %s per request with %s minus without (%.2f - %.2f us, same run), plus %s'"'"'s own CPU |\n", total, how, name, weft, base, name
		if (rest < 0)
			printf "\nThe remainder is negative: the parts measured on their own (trapcost'"'"'s hit in a tight loop, bpf_stats) add up to more than the added CPU measured directly in this run; on this shared VM one hit'"'"'s cost swings with the load (steal time, the exception path), so the traps row is an upper estimate here and the total is the reliable figure.\n"
	}
	function pct(x, tot) { return tot > 0 ? sprintf("%.0f%%", 100 * x / tot) : "n/a" }'
}
