// SPDX-License-Identifier: BSD-2-Clause
/*
 * The reliable lockdown test (DESIGN.md section 3): the verifier refuses
 * bpf_probe_write_user when the kernel is locked down, whatever
 * /sys/kernel/security/lockdown says or whether securityfs is mounted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include "mounts.h"
#include "go_probe.h"

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

/* Lockdown mode as the kernel reports it ("[integrity]"), or "unknown". */
static void lockdown_mode(char *out, size_t len)
{
	char buf[128] = "", *a, *b;
	FILE *f;

	snprintf(out, len, "unknown");
	weft_ensure_securityfs();
	f = fopen(WEFT_SECURITYFS_DIR "/lockdown", "r");
	if (!f)
		return;
	if (fgets(buf, sizeof(buf), f) && (a = strchr(buf, '[')) && (b = strchr(a, ']'))) {
		*b = 0;
		snprintf(out, len, "%s", a + 1);
	}
	fclose(f);
}

bool go_probe_write_user(char *why, size_t whylen)
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

	fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "weft_go_wprobe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), &opts);
	if (fd >= 0) {
		close(fd);
		return true;
	}
	err = errno;
	lockdown_mode(mode, sizeof(mode));
	snprintf(why, whylen, "the kernel refuses bpf_probe_write_user (%s; lockdown: %s)",
		 strerror(err), mode);
	return false;
}

bool go_has_uprobe_multi(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (getenv("WEFT_GO_NO_UPROBE_MULTI"))
		return false;
	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 6);
}
