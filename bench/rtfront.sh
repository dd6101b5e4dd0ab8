# Shared by the runtime-front benchmarks (bench/node/run, bench/asyncio/run;
# sourced from the repository root): a front in a cgroup of its own and a
# backend outside it, in a network namespace; per round, with the front
# restarted for each run: (a) nothing, (b) weft-http with the runtime's rule
# (the probes attached), (c) weft-http alone (the same front from a copy of
# the runtime whose record weft-analyze cannot make: no probes, its calls
# start new traces); the front's CPU per request (user+sys, traps included)
# in each; when the caller sets TRAPS_BIN and TRAPS_SITES also (d) the traps
# alone: (c) plus empty programs at the rule's uprobe sites. The caller sets
# RT_NAME and defines `front_start BINARY` (starts the front on
# 127.0.0.1:8080 in $cg/$ns, sets FRONT_PID, returns once it answers) and,
# for (d), after rt_setup, TRAPS_BIN (the binary (c) runs) and TRAPS_SITES
# (rt_sites: the rule's uprobe sites in it, as bench/uprobe_traps.c takes
# them).
set -uo pipefail
. tests/lib/common.sh
. tests/integration/http_common.sh
. bench/cost.sh
ROUNDS=${ROUNDS:-3} SECS=${SECS:-3} CONNS=${CONNS:-16}
log() { echo "bench/$RT_NAME: $*" >&2; }

# netns $ns, cgroup $cg, temp dir $T with its own offsets database, bpf_stats on
rt_setup() {
	command -v wrk >/dev/null || { log "wrk missing: tools/install-deps"; exit 1; }
	http_need
	ensure_bpffs
	http_tmp
	export WEFT_OFFSETS_DB=$T/offsets
	http_cgroup "$RT_NAME-bench"; cg=$CG
	http_netns "$RT_NAME-bench"; ns=$NS
	# throughput runs with bpf_stats off (as in production: its accounting
	# costs every program run); weft_run's accounting runs turn it on
	old_stats=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=0
	cleanup_add "sysctl -qw kernel.bpf_stats_enabled=$old_stats"
}

front_stop() {
	kill -TERM "$FRONT_PID" 2>/dev/null; wait "$FRONT_PID" 2>/dev/null
	wait_for 50 bash -c "! ip netns exec '$ns' bash -c '</dev/tcp/127.0.0.1/8080' 2>/dev/null" ||
		{ log "front did not stop"; exit 1; }
}

# user+sys CPU of process $1 so far, in clock ticks (its traps count as sys)
cpu_ticks() {
	sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | awk '{print $12 + $13}'
}

# one wrk run (more wrk options in the array WRK_ARGS): the number of requests
# into $n, the front's CPU per request (us) into $cpu
WRK_ARGS=()
wrk_n() {
	local c0
	c0=$(cpu_ticks "$FRONT_PID")
	ip netns exec "$ns" wrk -t1 -c"$CONNS" -d"${SECS}s" ${WRK_ARGS[@]+"${WRK_ARGS[@]}"} \
		http://127.0.0.1:8080/ >"$T/wrk.out" 2>&1
	n=$(awk '/requests in/{print $1}' "$T/wrk.out")
	! grep -q 'Non-2xx' "$T/wrk.out" && [ -n "$n" ] || { log "wrk failed: $(cat "$T/wrk.out")"; exit 1; }
	cpu=$(awk -v a="$c0" -v b="$(cpu_ticks "$FRONT_PID")" -v n="$n" -v hz="$(getconf CLK_TCK)" \
		'BEGIN {printf "%.1f", (b - a) * 1e6 / hz / (n > 0 ? n : 1)}')
}

# rt_sites BINARY PYTHON: the uprobe sites of a runtime rule, from BINARY's
# offsets record (weft-analyze --json, in $T/offsets), as uprobe-traps takes
# them ([ret:]FILEOFF...): PYTHON reads the record (json.load(sys.stdin) as r)
# and prints them
rt_sites() {
	"$WEFT_BIN/weft-analyze" --json --db "$T/offsets" "$1" | "$PY" -c "import json, sys
r = json.load(sys.stdin)
$2"
}

# (d)'s empty programs at $TRAPS_SITES of $TRAPS_BIN for $FRONT_PID (bench/uprobe_traps.c);
# sets TRAPS_PID once they hold (SIGINT detaches them)
traps_start() {
	local traps=$WEFT_ROOT/build/bench-rt/uprobe-traps
	[ -x "$traps" ] || { log "build first: make build/bench-rt/uprobe-traps"; exit 1; }
	# shellcheck disable=SC2086 # one word per site
	"$traps" "$TRAPS_BIN" "$FRONT_PID" $TRAPS_SITES 2>"$T/traps.log" &
	TRAPS_PID=$!
	cleanup_add "kill -9 $TRAPS_PID 2>/dev/null"
	wait_for 100 grep -q ready "$T/traps.log" || { log "uprobe-traps: $(cat "$T/traps.log")"; exit 1; }
}

# prog ids of the BPF programs process $1 holds, on one line
prog_ids() {
	cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^prog_id:/{print $2}' | sort -u | tr '\n' ' '
}

# weft_run BINARY READY_LINE [TAG.R [traps]]: the front under weft-http (with
# traps: and traps_start's empty programs); sets $n and $cpu from a run with
# bpf_stats off; with TAG.R, then an accounting run of ACCT_SECS with
# bpf_stats on: its program stats in $T/s[01].TAG.R, their links in
# $T/l.TAG.R, and weft-http's counts (both runs) in $T/ties.TAG.R
ACCT_SECS=${ACCT_SECS:-$((SECS < 2 ? SECS : 2))}
weft_run() {
	local ids tn tcpu
	wh_start "$cg" /dev/null
	front_start "$1"
	wait_for 100 grep -q "$2" "$WH_LOG" || { cat "$WH_LOG" >&2; log "weft-http: no '$2'"; exit 1; }
	[ "${4:-}" != traps ] || traps_start
	sysctl -qw kernel.bpf_stats_enabled=0	# shared switch: another run may have set it
	wrk_n
	if [ -n "${3:-}" ]; then
		tn=$n tcpu=$cpu
		ids=$(prog_ids "$WH_PID")
		[ "${4:-}" != traps ] || ids="$ids $(prog_ids "$TRAPS_PID")"
		bpftool link show -j >"$T/l.$3"
		SECS=$ACCT_SECS stats_run "$T/s0.$3" "$T/s1.$3" wrk_n
		echo "$n $ids" >"$T/ids.$3"
		n=$tn cpu=$tcpu
	fi
	if [ "${4:-}" = traps ]; then
		kill -INT "$TRAPS_PID"; wait "$TRAPS_PID" || { log "the traps exited with $?"; exit 1; }
	fi
	front_stop
	kill -INT "$WH_PID"; wait "$WH_PID" 2>/dev/null
	if [ -n "${3:-}" ]; then
		{
			grep -m1 "outgoing requests:" "$WH_LOG" | sed 's/^weft-http: outgoing requests: //'
			grep -m1 "counters:" "$WH_LOG" | grep -o 'client-spans=[0-9]*\|runtime-parent=[0-9]*\|errors=[0-9]*' | paste -sd' '
		} >"$T/ties.$3"
	fi
	return 0
}

# rt_rounds TAG RULE_BIN RULE_READY ALONE_BIN ALONE_READY: $ROUNDS rounds of
# (a), (b), (c) and, with TRAPS_SITES, (d) into $T/res.TAG
rt_rounds() {
	local tag=$1 r b w a t="" cb cw ca ct=""
	for r in $(seq 1 "$ROUNDS"); do
		front_start "$2"; wrk_n; front_stop; b=$n cb=$cpu
		weft_run "$2" "$3" "$tag.$r"; w=$n cw=$cpu
		weft_run "$4" "$5"; a=$n ca=$cpu
		if [ -n "${TRAPS_SITES:-}" ]; then
			weft_run "$4" "$5" "$tag.$r.traps" traps; t=$n ct=$cpu
		fi
		echo "$b $w $a $t" >>"$T/res.$tag"
		echo "$cb $cw $ca $ct" >>"$T/cpu.$tag"
		log "$tag round $r: uninstrumented $((b / SECS)) req/s, with the rule $((w / SECS)), weft-http alone $((a / SECS))${t:+, the traps alone $((t / SECS))}"
	done
}

# rt_table TAG RULE_LABEL: the Markdown tables of rt_rounds TAG on stdout
rt_table() {
	"$PY" - "$T" "$1" "$ROUNDS" "$SECS" "$2" <<'PYEOF' || { log "cannot compute the figures of $1 from $T"; exit 1; }
import json, statistics, sys
T, tag, rounds, secs, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
med = statistics.median
res = [list(map(int, l.split())) for l in open(f"{T}/res.{tag}")]
traps = all(len(x) > 3 for x in res)
base, weft, alone = ([x[i] // secs for x in res] for i in (0, 1, 2))
trap = [x[3] // secs for x in res] if traps else []
cpu = [list(map(float, l.split())) for l in open(f"{T}/cpu.{tag}")]
cb, cw, ca = ([x[i] for x in cpu] for i in (0, 1, 2))
ct = [x[3] for x in cpu] if traps else []
pct = lambda v, ref: [100 * a / b for a, b in zip(v, ref)]
wr, ar, tr, wa, ta, wt = pct(weft, base), pct(alone, base), pct(trap, base), pct(weft, alone), pct(trap, alone), pct(weft, trap)

def stats(run):
	"""Per request of the runs tagged run: uprobe runs, traps (a uretprobe's run is two:
	its entry and its return), their BPF ns, all programs' BPF ns; per program."""
	per, out = {}, {"runs": [], "traps": [], "ns": [], "all": []}
	for r in range(1, rounds + 1):
		a, b = ({x["id"]: x for x in json.load(open(f"{T}/s{j}.{tag}.{r}{run}"))} for j in (0, 1))
		ret = {l["prog_id"] for l in json.load(open(f"{T}/l.{tag}.{r}{run}")) if l.get("retprobe")}
		n, *ids = open(f"{T}/ids.{tag}.{r}{run}").read().split()
		n = max(int(n), 1)
		ur = ut = un = an = 0
		for i in sorted({int(x) for x in ids}):
			if i not in a or i not in b:
				continue
			dc = b[i].get("run_cnt", 0) - a[i].get("run_cnt", 0)
			dn = b[i].get("run_time_ns", 0) - a[i].get("run_time_ns", 0)
			per.setdefault((b[i].get("name", str(i)), b[i]["type"]), []).append((dc / n, dn / n))
			an += dn
			if b[i]["type"] == "kprobe":
				ur += dc; un += dn; ut += dc * (2 if i in ret else 1)
		for k, v in zip(("runs", "traps", "ns", "all"), (ur, ut, un, an)):
			out[k].append(v / n)
	return out, per

w, per = stats("")
t = stats(".traps")[0] if traps else None
f = lambda v, p=0: " ".join(f"{x:.{p}f}" for x in v)
head = [f"| figure | uninstrumented | weft-http with {label} | weft-http alone |" +
	(" the traps alone: weft-http alone and empty programs at the rule's uprobe sites |" if traps else ""),
	"|---|---|---|---|" + ("---|" if traps else "")]
def line(name, u, r, a, tp=""):
	return "| " + " | ".join([name, u, r, a] + ([tp] if traps else [])) + " |"
out = head + [
	line("throughput (req/s)", f"{med(base):.0f}", f"{med(weft):.0f}", f"{med(alone):.0f}",
	     f"{med(trap):.0f}" if traps else ""),
	line("throughput, % of uninstrumented (median of per-round ratios)", "", f"{med(wr):.1f}%",
	     f"{med(ar):.1f}%", f"{med(tr):.1f}%" if traps else ""),
	line("throughput, % of weft-http alone (median of per-round ratios)", "", f"{med(wa):.1f}%", "",
	     f"{med(ta):.1f}%" if traps else ""),
	line("front CPU per request (user+sys of the front process, us)", f"{med(cb):.1f}",
	     f"{med(cw):.1f}", f"{med(ca):.1f}", f"{med(ct):.1f}" if traps else "")]
if traps:
	out.append(line("throughput, % of the traps alone (median of per-round ratios)", "",
			f"{med(wt):.1f}%", "", ""))
out += [
	line("uprobe hits per front request (runtime probes)", "", f"{med(w['runs']):.2f}", "",
	     f"{med(t['runs']):.2f}" if traps else ""),
	line("uprobe traps per front request (a uretprobe hit is two: entry and return)", "",
	     f"{med(w['traps']):.2f}", "", f"{med(t['traps']):.2f}" if traps else ""),
	line("BPF run time of those uprobes per request (bpf_stats, raw)", "", f"{med(w['ns']):.0f} ns", "",
	     f"{med(t['ns']):.0f} ns" if traps else ""),
	line("BPF run time of all weft-http programs per request (bpf_stats, raw)", "",
	     f"{med(w['all']):.0f} ns", "", f"{med(t['all']):.0f} ns" if traps else ""),
	"", "Per program (medians over the runs with the rule; runs include those for other",
	"processes of the machine, which return at the first check):", "",
	"| program | type | runs per request | ns per request |", "|---|---|---|---|"]
for (name, typ), v in sorted(per.items(), key=lambda kv: -med(x[1] for x in kv[1])):
	rr, nr = med(x[0] for x in v), med(x[1] for x in v)
	if rr >= 0.005:
		out.append(f"| `{name}` | {'uprobe' if typ == 'kprobe' else typ} | {rr:.2f} | {nr:.0f} |")
out += ["", f"Per round: uninstrumented req/s {f(base)}; with the rule {f(weft)} (% {f(wr, 1)});",
	f"weft-http alone {f(alone)} (% {f(ar, 1)})" + (f"; the traps alone {f(trap)} (% {f(tr, 1)})" if traps else "") +
	f"; BPF ns per request {f(w['all'])}; front CPU us per request {f(cb, 1)}, {f(cw, 1)},",
	f"{f(ca, 1)}" + (f", {f(ct, 1)}" if traps else "") + " (same order).", ""]
print("\n".join(out))
PYEOF
}
