// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft-probe: what this kernel and host allow weft to do (`weft doctor`).
 *
 * Every BPF capability is tested by loading a real tiny program from
 * weft_probe.bpf.c, and by attaching and detaching it where attaching is the
 * question (uprobes, kprobes, fentry, tracepoints, sockops on a private empty
 * cgroup, sk_msg on a private sockhash, TCX and clsact on the loopback of a
 * private network namespace). Nothing stays loaded or attached afterwards.
 * Prints one line per capability with its reason, then the verdict for each
 * --propagation setting.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "host.h"
#include "log.h"
#include "mounts.h"
#include "tools/weft_probe.skel.h"

#define SECURITYFS_DIR WEFT_SECURITYFS_DIR
#define LOCKDOWN_FILE SECURITYFS_DIR "/lockdown"

/* The libbpf message most worth quoting as a reason, ranked. */
static char libbpf_why[200];
static int libbpf_why_rank;
static bool libbpf_why_strong;

static int why_rank(const char *line)
{
	static const char *const ignore[] = {"ulimit", "failed to load object",
					     "failed to load BPF skeleton", "failed to load: -"};
	static const char *const verdict[] = {"cannot use helper", "unknown func", "invalid func"};
	static const char *const failure[] = {
	    "load failed",   "failed to create",  "failed to attach", "perf event",
	    "not supported", "Permission denied", "not permitted"};

	for (size_t i = 0; i < sizeof(ignore) / sizeof(ignore[0]); i++)
		if (strstr(line, ignore[i]))
			return 0;
	for (size_t i = 0; i < sizeof(verdict) / sizeof(verdict[0]); i++)
		if (strstr(line, verdict[i]))
			return 3;
	for (size_t i = 0; i < sizeof(failure) / sizeof(failure[0]); i++)
		if (strstr(line, failure[i]))
			return 2;
	return 1;
}

static void keep_why(const char *line)
{
	int rank = why_rank(line);
	const char *q;
	size_t n;

	if (rank <= libbpf_why_rank)
		return;
	while (*line == ' ' || *line == '\t')
		line++;
	if (!strncmp(line, "libbpf: ", 8))
		line += 8;
	if (!strncmp(line, "prog '", 6) && (q = strstr(line, "': ")))
		line = q + 3;
	snprintf(libbpf_why, sizeof(libbpf_why), "%s", line);
	n = strlen(libbpf_why);
	while (n && (libbpf_why[n - 1] == '\n' || libbpf_why[n - 1] == ' '))
		libbpf_why[--n] = '\0';
	libbpf_why_rank = rank;
	libbpf_why_strong = rank >= 2;
}

static int libbpf_capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[4096];
	char *line, *save = NULL;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (*line && !strstr(line, "BEGIN PROG LOAD LOG") &&
		    !strstr(line, "END PROG LOAD LOG"))
			keep_why(line);
	return 0;
}

static void why_reset(void)
{
	libbpf_why[0] = '\0';
	libbpf_why_rank = 0;
	libbpf_why_strong = false;
}

/* A line of the report: "name       status  reason". */
static void report(const char *name, const char *status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(const char *name, const char *status, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	printf("%-13s %-4s %s\n", name, status, why);
}

static const char *yesno(bool ok)
{
	return ok ? "yes" : "no";
}

/* A file system weft needs, mounted by weft_ensure_*() (rc) if it was absent. */
static bool report_mount(const char *name, int rc, const char *dir, const char *need)
{
	if (rc < 0)
		report(name, "no", "cannot mount at %s: %s: %s", dir, strerror(-rc), need);
	else
		report(name, "yes", "%s %s", rc ? "was not mounted; mounted it at" : "mounted at",
		       dir);
	return rc >= 0;
}

/* Open the probe object with only program @name set to load. */
static struct weft_probe *open_one(const char *name, struct bpf_program **out)
{
	struct weft_probe *skel = weft_probe__open();
	struct bpf_program *p;

	*out = NULL;
	if (!skel) {
		snprintf(libbpf_why, sizeof(libbpf_why), "cannot open the probe object: %s",
			 strerror(errno));
		return NULL;
	}
	bpf_object__for_each_program(p, skel->obj)
	{
		bool me = strcmp(bpf_program__name(p), name) == 0;

		bpf_program__set_autoload(p, me);
		if (me)
			*out = p;
	}
	return skel;
}

/* Load program @name; on success return the skeleton (caller destroys). */
static struct weft_probe *load_one(const char *name, struct bpf_program **prog)
{
	struct weft_probe *skel;

	why_reset();
	skel = open_one(name, prog);
	if (!skel)
		return NULL;
	if (weft_probe__load(skel)) {
		if (!libbpf_why[0])
			snprintf(libbpf_why, sizeof(libbpf_why), "load failed: %s",
				 strerror(errno));
		weft_probe__destroy(skel);
		return NULL;
	}
	return skel;
}

static bool attach_ok(struct bpf_link *link)
{
	int err = libbpf_get_error(link);

	if (err) {
		if (!libbpf_why_strong)
			snprintf(libbpf_why, sizeof(libbpf_why), "attach failed: %s",
				 strerror(-err));
		return false;
	}
	bpf_link__destroy(link);
	return true;
}

/* A function of our own for the uprobe test. */
__attribute__((noinline, used)) int weft_probe_uprobe_target(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static bool probe_load(const char *name)
{
	struct bpf_program *prog;
	struct weft_probe *skel = load_one(name, &prog);

	weft_probe__destroy(skel);
	return skel != NULL;
}

static bool probe_uprobe(void)
{
	struct bpf_uprobe_opts opts = {.sz = sizeof(opts), .func_name = "weft_probe_uprobe_target"};
	struct bpf_program *prog;
	struct weft_probe *skel = load_one("probe_uprobe", &prog);
	bool ok;

	if (!skel)
		return false;
	ok = attach_ok(bpf_program__attach_uprobe_opts(prog, getpid(), "/proc/self/exe", 0, &opts));
	weft_probe__destroy(skel);
	return ok;
}

static bool probe_attach_auto(const char *name)
{
	struct bpf_program *prog;
	struct weft_probe *skel = load_one(name, &prog);
	bool ok;

	if (!skel)
		return false;
	ok = attach_ok(bpf_program__attach(prog));
	weft_probe__destroy(skel);
	return ok;
}

/* sockops on a fresh empty child cgroup, so no socket of the host is touched. */
static bool probe_sockops(const char *cgroot)
{
	struct bpf_program *prog;
	struct weft_probe *skel;
	char dir[160];
	bool ok = false;
	int fd;

	if (!cgroot) {
		snprintf(libbpf_why, sizeof(libbpf_why), "no cgroup v2 mount to attach to");
		return false;
	}
	skel = load_one("probe_sockops", &prog);
	if (!skel)
		return false;
	snprintf(dir, sizeof(dir), "%s/weft-doctor-%d", cgroot, (int)getpid());
	if (mkdir(dir, 0755) && errno != EEXIST) {
		snprintf(libbpf_why, sizeof(libbpf_why), "cannot create cgroup %s: %s", dir,
			 strerror(errno));
		goto out;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(libbpf_why, sizeof(libbpf_why), "cannot open cgroup %s: %s", dir,
			 strerror(errno));
	} else {
		ok = attach_ok(bpf_program__attach_cgroup(prog, fd));
		close(fd);
	}
	rmdir(dir);
out:
	weft_probe__destroy(skel);
	return ok;
}

/* sk_msg attached to (and detached from) the object's own sockhash. */
static bool probe_sk_msg(void)
{
	struct bpf_program *prog;
	struct weft_probe *skel = load_one("probe_sk_msg", &prog);
	int map, pfd, err;

	if (!skel)
		return false;
	map = bpf_map__fd(skel->maps.probe_socks);
	pfd = bpf_program__fd(prog);
	err = bpf_prog_attach(pfd, map, BPF_SK_MSG_VERDICT, 0);
	if (err)
		snprintf(libbpf_why, sizeof(libbpf_why), "attach to a sockhash failed: %s",
			 strerror(errno));
	else
		bpf_prog_detach2(pfd, map, BPF_SK_MSG_VERDICT);
	weft_probe__destroy(skel);
	return err == 0;
}

/* Attach a TC program to the loopback of a private network namespace. */
static bool probe_tc(const char *name, bool tcx)
{
	struct bpf_program *prog;
	struct weft_probe *skel = load_one(name, &prog);
	int status = 0;
	pid_t pid;

	if (!skel)
		return false;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int err;

		if (unshare(CLONE_NEWNET))
			_exit(10);
		if (tcx) {
			struct bpf_link *l = bpf_program__attach_tcx(prog, 1, NULL);

			err = (int)libbpf_get_error(l);
			if (!err)
				bpf_link__destroy(l);
		} else {
			struct bpf_tc_hook hook = {
			    .sz = sizeof(hook), .ifindex = 1, .attach_point = BPF_TC_INGRESS};
			struct bpf_tc_opts topts = {.sz = sizeof(topts),
						    .prog_fd = bpf_program__fd(prog)};

			err = bpf_tc_hook_create(&hook);
			if (!err)
				err = bpf_tc_attach(&hook, &topts);
		}
		_exit(err ? (-err & 0x7f) : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0) {
		snprintf(libbpf_why, sizeof(libbpf_why), "fork failed: %s", strerror(errno));
		status = -1;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;

		if (code == 10)
			snprintf(libbpf_why, sizeof(libbpf_why),
				 "cannot make a private network namespace to test in");
		else if (!libbpf_why_strong)
			snprintf(libbpf_why, sizeof(libbpf_why), "attach failed: %s",
				 code ? strerror(code) : "child crashed");
	}
	weft_probe__destroy(skel);
	return status == 0;
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: weft-probe [--help] [--version]\n"
		"Report what this kernel and host allow weft to do: BTF, lockdown and the Go\n"
		"memory write, uprobes, kprobes, fentry, tracepoints, bpf_loop, sockops, sk_msg,\n"
		"TCP header options, TCX, clsact, cgroup v2, bpffs, securityfs, and which\n"
		"--propagation settings fully work here. Every BPF capability is tested by\n"
		"loading (and attaching, then detaching) a tiny real program. Needs root.\n"
		"Run as `weft doctor`.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {NULL, 0, NULL, 0}};
	bool btf, bpffs, write, uprobe, kprobe, fentry, tp, loop;
	bool sockops, skmsg, hdropt, tcx, clsact;
	char why_write[256], why_kprobe[256], why_fentry[256], why_tcx[256], mode_buf[32];
	const char *mode, *cg;
	struct utsname u;
	int c;

	weft_log_init("weft-probe", false);
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("weft-probe %s\n", WEFT_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		weft_err("unexpected argument '%s': see weft-probe --help", argv[optind]);
		return 2;
	}
	if (geteuid() != 0) {
		weft_err("loading test programs needs root: run `sudo weft doctor`");
		return 1;
	}
	libbpf_set_print(libbpf_capture);
	uname(&u);
	printf("kernel        %s %s\n", u.release, u.machine);

	btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
	report("BTF", yesno(btf), "%s",
	       btf ? "/sys/kernel/btf/vmlinux present: CO-RE programs load unchanged"
		   : "/sys/kernel/btf/vmlinux missing: needs a kernel built with "
		     "CONFIG_DEBUG_INFO_BTF (5.4+)");

	bpffs = report_mount("bpffs", weft_ensure_bpffs(), WEFT_BPFFS_DIR, "pins need it");
	report_mount("securityfs", weft_ensure_securityfs(), WEFT_SECURITYFS_DIR,
		     "lockdown mode unknown");
	report_mount("tracefs", weft_ensure_tracefs(), WEFT_TRACEFS_DIR,
		     "syscall tracepoints need it");

	cg = weft_cgroup2_root(false);
	report("cgroup2", yesno(cg), "%s%s", cg ? "mounted at " : "",
	       cg ? cg
		  : "no cgroup v2 mount at /sys/fs/cgroup or /sys/fs/cgroup/unified: "
		    "mount -t cgroup2 none /sys/fs/cgroup/unified (sockops need it)");

	mode = weft_lockdown_mode(mode_buf, sizeof(mode_buf));
	report("lockdown", mode ? mode : "?", "%s",
	       mode ? "from " LOCKDOWN_FILE
		    : "no " LOCKDOWN_FILE ": kernel without the lockdown LSM (or no securityfs)");

	write = probe_load("probe_write_user");
	snprintf(why_write, sizeof(why_write), "%s", libbpf_why);
	if (write)
		report("go-write", "yes",
		       "a program calling bpf_probe_write_user loaded: weft-go "
		       "writes traceparent into Go requests");
	else
		report("go-write", "no",
		       "kernel refused a program calling bpf_probe_write_user (%s%s%s): weft-go "
		       "runs read-only here; the Go memory write needs another kernel (lockdown "
		       "none), e.g. tests/vm/run",
		       mode && strcmp(mode, "none") ? "lockdown " : "",
		       mode && strcmp(mode, "none") ? mode : "",
		       mode && strcmp(mode, "none") ? "" : why_write);

	uprobe = probe_uprobe();
	report("uprobes", yesno(uprobe), "%s%s",
	       uprobe ? "attached and detached a uprobe" : "uprobe attach failed: ",
	       uprobe ? "" : libbpf_why);

	kprobe = probe_attach_auto("probe_kprobe");
	snprintf(why_kprobe, sizeof(why_kprobe), "%s", libbpf_why);
	fentry = probe_attach_auto("probe_fentry");
	snprintf(why_fentry, sizeof(why_fentry), "%s", libbpf_why);
	report("kprobes", yesno(kprobe), "%s%s",
	       kprobe ? "attached and detached a kprobe"
		      : "kprobe attach failed (weft does not "
			"need kprobes): ",
	       kprobe ? "" : why_kprobe);
	report("fentry", yesno(fentry), "%s%s",
	       fentry ? "attached and detached an fentry program"
		      : "fentry load/attach failed (weft does not need fentry): ",
	       fentry ? "" : why_fentry);

	tp = probe_attach_auto("probe_tracepoint");
	report("tracepoints", yesno(tp), "%s%s",
	       tp ? "attached and detached a syscall tracepoint"
		  : "syscall tracepoint attach failed (mount tracefs at /sys/kernel/tracing?): ",
	       tp ? "" : libbpf_why);

	loop = probe_load("probe_bpf_loop");
	report("bpf_loop", yesno(loop), "%s%s",
	       loop ? "a program calling bpf_loop loaded" : "needs kernel 5.17+: ",
	       loop ? "" : libbpf_why);

	sockops = probe_sockops(cg);
	report("sockops", yesno(sockops), "%s%s",
	       sockops ? "attached and detached sockops on an empty cgroup" : "",
	       sockops ? "" : libbpf_why);
	skmsg = probe_sk_msg();
	report("sk_msg", yesno(skmsg), "%s%s",
	       skmsg ? "attached and detached sk_msg (bpf_msg_push_data) on a sockhash" : "",
	       skmsg ? "" : libbpf_why);
	hdropt = probe_load("probe_tcp_hdr_opt");
	report("tcp-hdr-opt", yesno(hdropt), "%s%s",
	       hdropt ? "sockops with bpf_reserve/store/load_hdr_opt loaded"
		      : "TCP header option helpers refused (kernel 5.10+): ",
	       hdropt ? "" : libbpf_why);

	tcx = probe_tc("probe_tcx", true);
	snprintf(why_tcx, sizeof(why_tcx), "%s", libbpf_why);
	clsact = probe_tc("probe_clsact", false);
	report("tcx", yesno(tcx), "%s%s",
	       tcx ? "attached a TCX program (kernel 6.6+)"
		   : "TCX needs kernel 6.6+ (clsact serves otherwise): ",
	       tcx ? "" : why_tcx);
	report("clsact", yesno(clsact), "%s%s",
	       clsact ? "attached a TC program to a clsact qdisc" : "clsact: ",
	       clsact ? "" : libbpf_why);

	/* Verdicts per --propagation setting. */
	{
		bool go_base = btf && uprobe && tp && bpffs;
		bool headers = go_base && sockops && skmsg && loop && cg;
		bool tcp = sockops && hdropt && cg && bpffs;
		char go_why[160];

		snprintf(go_why, sizeof(go_why), "%s",
			 !go_base ? "needs BTF, uprobes, tracepoints and bpffs"
			 : write  ? "weft-go writes traceparent into Go requests"
				  : "weft-go gives read-only spans only: the Go memory write needs "
				    "another kernel");
		report("propagation", "", "all: %s",
		       (headers && tcp) ? "works (headers and tcp)"
					: "partial: see headers and tcp");
		report("propagation", "", "headers: %s%s",
		       headers ? "works"
			       : "does not work: needs uprobes, tracepoints, sockops, "
				 "sk_msg, bpf_loop, cgroup2, bpffs",
		       headers
			   ? (write ? " (weft-go writes Go headers, weft-http the rest)"
				    : " (Go context reaches the wire through weft-http; weft-go "
				      "read-only)")
			   : "");
		report("propagation", "", "tcp: %s",
		       tcp ? "works (TCP option kind 25 between instrumented hosts)"
			   : "does not work: needs sockops with header options, cgroup2, bpffs");
		report("propagation", "", "go: %s (%s)",
		       go_base && write ? "works"
		       : go_base	? "partial"
					: "does not work",
		       go_why);
		report("propagation", "", "disabled: works (nothing loaded)");
	}
	return 0;
}
