// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target over whole files, as weft-analyze handles them: the input
 * becomes a file (a memfd), opened by its /proc path, analysed from the file
 * descriptor (weft_analyze_fd: fstat, read into read-only memory, ELF headers,
 * sections, .go.buildinfo, .gopclntab, .symtab, DWARF, disassembly), its
 * record stored in a database, looked up again (by hash, and by file through
 * the stat cache) and printed as JSON. Then the raw pclntab, modinfo and
 * record parsers get the same bytes, so that they are reached without a
 * valid ELF around them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "analyze.h"
#include "internal.h"

static struct weft_db *db;
static char dbdir[4096];
static int memfd = -1, dbfd = -1;
static FILE *devnull;

static void sink(void *ctx, const char *name, size_t namelen, uint64_t entry, uint64_t size)
{
	*(size_t *)ctx += namelen + (size_t)(entry ^ size);
}

/* Remove the database directory (records, stat cache) at exit. */
static void cleanup(void)
{
	const char *sub[] = {"stat", ""};

	weft_db_close(db);
	for (size_t i = 0; i < 2; i++) {
		char path[4200];
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "%s/%s", dbdir, sub[i]);
		d = opendir(path);
		while (d && (de = readdir(d)))
			if (de->d_name[0] != '.' || strncmp(de->d_name, ".tmp", 4) == 0)
				unlinkat(dirfd(d), de->d_name, 0);
		if (d)
			closedir(d);
		rmdir(path);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char err[512];

	/* Under $TMPDIR (the replay test's own directory), else /tmp. */
	snprintf(dbdir, sizeof(dbdir), "%s/weft-fuzz-analyze.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dbdir)) {
		perror("fuzz_analyze: mkdtemp");
		exit(1);
	}
	db = weft_db_open(dbdir, WEFT_DB_CREATE | WEFT_DB_BATCH, err, sizeof(err));
	memfd = memfd_create("fuzz-binary", MFD_CLOEXEC);
	dbfd = open(dbdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	devnull = fopen("/dev/null", "w");
	if (!db || memfd < 0 || dbfd < 0 || !devnull) {
		fprintf(stderr, "fuzz_analyze: cannot set up: %s\n",
			db ? "memfd or /dev/null" : err);
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

/* The whole-file path of weft-analyze over one input. */
static void analyze_file(const uint8_t *data, size_t size)
{
	struct weft_record *rec = NULL, *back = NULL;
	char path[64], err[512];
	int fd;

	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		abort();
	if (weft_analyze_fd(fd, "fuzz", NULL, &rec, err, sizeof(err)) == WEFT_ANALYZE_OK) {
		/* What it produced must store, read back (by hash and by file) and print. */
		if (weft_db_store(db, rec, err, sizeof(err)) ||
		    weft_db_lookup_hash(db, rec->hash, "fuzz", &back, err, sizeof(err)))
			abort();
		weft_record_free(back);
		back = NULL;
		if (weft_db_lookup_fd(db, fd, "fuzz", &back, err, sizeof(err)))
			abort();
		weft_record_free(back);
		if (weft_record_write_json(rec, devnull))
			abort();
		unlinkat(dbfd, rec->hash, 0);
		weft_record_free(rec);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct weft_record *rec = NULL;
	struct gobuildinfo bi = {0};
	char err[256];
	size_t acc = 0;
	uint8_t *copy;

	analyze_file(data, size);
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	pclntab_walk_raw(copy, size, 0x401000, sink, &acc, err, sizeof(err));
	gobuildinfo_parse_modinfo((const char *)copy, size, &bi);
	gobuildinfo_free(&bi);
	/* Records from a damaged database. */
	if (weft_record_decode((const char *)copy, size, &rec, err, sizeof(err)) == 0)
		weft_record_free(rec);
	free(copy);
	return 0;
}
