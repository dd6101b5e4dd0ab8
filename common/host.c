// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "host.h"
#include "log.h"
#include "mounts.h"

bool weft_is_cgroup2(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

const char *weft_cgroup2_root(bool mount_it)
{
	if (weft_is_cgroup2("/sys/fs/cgroup"))
		return "/sys/fs/cgroup";
	if (weft_is_cgroup2(WEFT_CGROUP2_UNIFIED))
		return WEFT_CGROUP2_UNIFIED;
	if (!mount_it) {
		errno = ENOENT;
		return NULL;
	}
	if (mkdir(WEFT_CGROUP2_UNIFIED, 0755) && errno != EEXIST)
		return NULL;
	if (mount("none", WEFT_CGROUP2_UNIFIED, "cgroup2", 0, NULL))
		return NULL;
	weft_info("cgroup v2 was not mounted: mounted it at %s", WEFT_CGROUP2_UNIFIED);
	return WEFT_CGROUP2_UNIFIED;
}

const char *weft_lockdown_mode(char *buf, size_t len)
{
	char line[128], *a, *b;
	FILE *f;

	weft_ensure_securityfs();
	f = fopen(WEFT_SECURITYFS_DIR "/lockdown", "re");
	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	a = strchr(line, '[');
	b = a ? strchr(a, ']') : NULL;
	if (!b)
		return NULL;
	*b = '\0';
	snprintf(buf, len, "%s", a + 1);
	return buf;
}

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define NINSNS(a) (sizeof(a) / sizeof((a)[0]))

bool weft_have_probe_write_user(char *why, size_t whylen)
{
	/* *(u64 *)(r10 - 8) = 0; r1 = 0; r2 = r10 - 8; r3 = 8;
	 * call bpf_probe_write_user; r0 = 0; exit */
	const struct bpf_insn insns[] = {
	    INSN(BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0),
	    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, 0),
	    INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
	    INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -8),
	    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, 8),
	    INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_probe_write_user),
	    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
	    INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	char log[1024] = "", mode[32];
	struct bpf_prog_load_opts opts = {
	    .sz = sizeof(opts), .log_buf = log, .log_size = sizeof(log), .log_level = 1};
	int fd, err;

	fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "weft_wprobe", "GPL", insns, NINSNS(insns), &opts);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	err = errno;
	snprintf(why, whylen, "the kernel refuses bpf_probe_write_user (%s; lockdown: %s)",
		 strerror(err), weft_lockdown_mode(mode, sizeof(mode)) ?: "unknown");
	return false;
}

/* errno of a uprobe_multi link that must not attach; 0 if it did attach. */
static int uprobe_multi_refusal(int prog, const struct bpf_link_create_opts *lopts)
{
	int link = bpf_link_create(prog, -1, BPF_TRACE_UPROBE_MULTI, lopts);
	int err = errno;

	if (link >= 0) {
		close(link);
		return 0;
	}
	return err;
}

bool weft_have_uprobe_multi(void)
{
	/* r0 = 0; exit, loaded as a uprobe_multi program */
	const struct bpf_insn insns[] = {
	    INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
	    INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	struct bpf_prog_load_opts popts = {.sz = sizeof(popts),
					   .expected_attach_type = BPF_TRACE_UPROBE_MULTI};
	struct bpf_link_create_opts lopts = {.sz = sizeof(lopts)};
	unsigned long off = 0;
	bool known, fixed;
	int prog;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "weft_umprobe", "GPL", insns, NINSNS(insns),
			     &popts);
	if (prog < 0)
		return false;
	/*
	 * Two links on "/" (not a regular file), neither of which can attach.
	 * With pid 0, a kernel that knows uprobe_multi gets as far as the path
	 * and refuses it (EBADF); one that does not know the attach type
	 * refuses that first (EINVAL on Debian's 6.1). With pid -1, a kernel
	 * whose pid check has the process-filter fix refuses the pid before
	 * the path (EINVAL); one without the fix gets to the path (EBADF).
	 */
	lopts.uprobe_multi.path = "/";
	lopts.uprobe_multi.offsets = &off;
	lopts.uprobe_multi.cnt = 1;
	known = uprobe_multi_refusal(prog, &lopts) == EBADF;
	lopts.uprobe_multi.pid = -1;
	fixed = known && uprobe_multi_refusal(prog, &lopts) == EINVAL;
	close(prog);
	return fixed;
}

bool weft_have_helper(int prog_type, int helper)
{
	return libbpf_probe_bpf_helper((enum bpf_prog_type)prog_type, (enum bpf_func_id)helper,
				       NULL) == 1;
}
