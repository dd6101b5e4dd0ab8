// SPDX-License-Identifier: BSD-2-Clause
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "procinfo.h"

#define ENVIRON_MAX (256 * 1024)

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t n, total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)total < size) {
		n = read(fd, buf + total, size - (size_t)total);
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	return total;
}

int weft_proc_start_time(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parens: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* p+2 is field 3 (state); field 22 is starttime */
	p += 2;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	*start = strtoull(p, NULL, 10);
	return 0;
}

int weft_proc_exe(pid_t pid, char *path, size_t size)
{
	char link[64];
	ssize_t n;
	size_t len;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, path, size - 1);
	if (n <= 0)
		return -1;
	path[n] = '\0';
	len = (size_t)n;
	if (len > 10 && !strcmp(path + len - 10, " (deleted)"))
		path[len - 10] = '\0';
	return 0;
}

int weft_proc_comm(pid_t pid, char *comm, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	n = read_file(path, comm, size - 1);
	if (n <= 0)
		return -1;
	comm[n] = '\0';
	if (n > 0 && comm[n - 1] == '\n')
		comm[n - 1] = '\0';
	return 0;
}

int weft_proc_getenv(pid_t pid, const char *name, char *val, size_t size)
{
	char path[64], *buf, *p, *end;
	size_t nl = strlen(name);
	ssize_t n;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	buf = malloc(ENVIRON_MAX);
	if (!buf)
		return -1;
	n = read_file(path, buf, ENVIRON_MAX);
	if (n <= 0)
		goto out;
	end = buf + n;
	for (p = buf; p < end; p += strnlen(p, (size_t)(end - p)) + 1) {
		size_t l = strnlen(p, (size_t)(end - p));

		if (l > nl && p[nl] == '=' && !memcmp(p, name, nl)) {
			size_t vl = l - nl - 1;

			if (vl >= size)
				vl = size - 1;
			memcpy(val, p + nl + 1, vl);
			val[vl] = '\0';
			ret = (int)vl;
			break;
		}
	}
out:
	free(buf);
	return ret;
}

static int pread_full(int fd, void *buf, size_t n, off_t off)
{
	return pread(fd, buf, n, off) == (ssize_t)n ? 0 : -1;
}

/* Find .go.buildinfo in a 64-bit little-endian ELF; copy the Go version. */
static int go_buildinfo(int fd, char *ver, size_t versz)
{
	static const char magic[] = "\xff Go buildinf:";
	Elf64_Ehdr eh;
	Elf64_Shdr sh, strsh;
	unsigned char bi[64];
	char name[16];

	if (pread_full(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 4096 ||
	    eh.e_shstrndx >= eh.e_shnum)
		return -1;
	if (pread_full(fd, &strsh, sizeof(strsh),
		       (off_t)(eh.e_shoff + (uint64_t)eh.e_shstrndx * sizeof(sh))))
		return -1;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		if (pread_full(fd, &sh, sizeof(sh), (off_t)(eh.e_shoff + (uint64_t)i * sizeof(sh))))
			return -1;
		if (sh.sh_name >= strsh.sh_size ||
		    pread(fd, name, sizeof(name), (off_t)(strsh.sh_offset + sh.sh_name)) <= 0)
			continue;
		name[sizeof(name) - 1] = '\0';
		if (strcmp(name, ".go.buildinfo"))
			continue;
		ver[0] = '\0';
		if (sh.sh_type == SHT_NOBITS || pread_full(fd, bi, sizeof(bi), (off_t)sh.sh_offset))
			return 0;
		/* Go 1.18+: flags bit 1 = inline strings; varint length at 32 */
		if (!memcmp(bi, magic, 14) && (bi[15] & 2) && bi[32] < 0x80 && bi[32] > 0 &&
		    (size_t)bi[32] < versz && 33 + (size_t)bi[32] <= sizeof(bi)) {
			memcpy(ver, bi + 33, bi[32]);
			ver[bi[32]] = '\0';
		}
		return 0;
	}
	return -1;
}

const char *weft_proc_runtime(pid_t pid, const char *exe_name, char *ver, size_t versz)
{
	static const struct {
		const char *prefix;
		const char *runtime;
	} by_name[] = {
	    {"python", "cpython"}, {"node", "nodejs"},	 {"java", "java"}, {"ruby", "ruby"},
	    {"php", "php"},	   {"dotnet", "dotnet"}, {"perl", "perl"},
	};
	char path[64];
	int fd, go;

	ver[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		go = go_buildinfo(fd, ver, versz);
		close(fd);
		if (go == 0)
			return "go";
	}
	if (!exe_name)
		return NULL;
	for (size_t i = 0; i < sizeof(by_name) / sizeof(by_name[0]); i++)
		if (!strncmp(exe_name, by_name[i].prefix, strlen(by_name[i].prefix)))
			return by_name[i].runtime;
	return NULL;
}
