// SPDX-License-Identifier: BSD-2-Clause
/*
 * weft-analyze: study Go binaries once and store their offsets records.
 *   weft-analyze [--db DIR] [-j|--jobs N] [--force] [--verbose] PATH...
 *   weft-analyze --json [--db DIR] BINARY
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "analyze.h"
#include "log.h"

enum outcome { OUT_ANALYSED, OUT_CACHED, OUT_SKIPPED, OUT_FAILED, OUT_N };

struct job {
	char *path;
	bool explicit; /* named on the command line: skips are always reported */
};

static struct {
	struct weft_db *db;
	bool force, verbose, progress, json;
	struct job *jobs;
	size_t njobs, cap;
	size_t next;		    /* next job (atomic) */
	unsigned long count[OUT_N]; /* atomic */
	unsigned long done;	    /* atomic */
	pthread_mutex_t out_lock;
	void *seen_files, *seen_dirs; /* tsearch trees of dev/ino */
	unsigned long walk_skipped;
} g = {.out_lock = PTHREAD_MUTEX_INITIALIZER};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weft-analyze [--db DIR] [-j|--jobs N] [--force] [--verbose] PATH...\n"
		"       weft-analyze --json [--db DIR] BINARY\n"
		"Study Go binaries (files, or directories walked recursively) and store one\n"
		"offsets record per binary in the offsets database.\n"
		"  --db DIR     database directory (default $WEFT_OFFSETS_DB, else %s)\n"
		"  -j, --jobs N analyse with N threads (default: number of CPUs)\n"
		"  --force      recompute records already in the database\n"
		"  --verbose    report every skipped file and its reason\n"
		"  --json       print the record of one binary as JSON on stdout\n"
		"  -h, --help   this help\n"
		"Exit: 0 when nothing failed, 1 when a binary failed, 2 on bad usage.\n",
		WEFT_DB_DEFAULT_DIR);
}

/* Clear the progress line before printing a message. */
static void msg_begin(void)
{
	pthread_mutex_lock(&g.out_lock);
	if (g.progress)
		fputs("\r\033[K", stderr);
}

static void msg_end(void)
{
	pthread_mutex_unlock(&g.out_lock);
}

struct devino {
	dev_t dev;
	ino_t ino;
};

static int cmp_devino(const void *a, const void *b)
{
	const struct devino *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* true if (dev, ino) was already in the tree. */
static bool seen(void **tree, const struct stat *st)
{
	struct devino *k = malloc(sizeof(*k)), **r;

	if (!k)
		return false;
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	r = tsearch(k, tree, cmp_devino);
	if (r && *r != k) {
		free(k);
		return true;
	}
	return false;
}

static void add_job(const char *path, bool explicit)
{
	if (g.njobs == g.cap) {
		struct job *nj;

		g.cap = g.cap ? g.cap * 2 : 64;
		nj = realloc(g.jobs, g.cap * sizeof(*nj));
		if (!nj) {
			weft_err("out of memory");
			exit(1);
		}
		g.jobs = nj;
	}
	g.jobs[g.njobs].path = strdup(path);
	g.jobs[g.njobs].explicit = explicit;
	if (g.jobs[g.njobs].path)
		g.njobs++;
}

/* A directory to walk; its ancestors tell a symlink loop. Freed when the walk ends. */
struct wdir {
	char *path;
	dev_t dev;
	ino_t ino;
	const struct wdir *up;
	struct wdir *next; /* the stack of directories still to walk */
	struct wdir *all;  /* every directory of this walk, to free them */
};

/* A file or directory of the walk that cannot be analysed: one line, counted as failed. */
static void walk_failed(const char *path, const char *name, const char *why)
{
	size_t len = strlen(path);

	msg_begin();
	if (len + strlen(name) > 400) /* the line stays whole: the middle is left out */
		weft_err("%.120s...%s/%.120s: %s", path, path + len - (len < 120 ? len : 120), name,
			 why);
	else
		weft_err("%s/%s: %s", path, name, why);
	msg_end();
	__atomic_add_fetch(&g.count[OUT_FAILED], 1, __ATOMIC_RELAXED);
}

/* The entries of one directory: files become jobs, directories go on the stack. */
static void walk_one(struct wdir *me, struct wdir **stack, struct wdir **all)
{
	struct dirent *de;
	DIR *d;

	d = opendir(me->path);
	if (!d) {
		msg_begin();
		weft_err("%s: cannot open directory: %s: check its permissions", me->path,
			 strerror(errno));
		msg_end();
		__atomic_add_fetch(&g.count[OUT_FAILED], 1, __ATOMIC_RELAXED);
		return;
	}
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", me->path, de->d_name) >=
		    (int)sizeof(path)) {
			walk_failed(me->path, de->d_name,
				    "path longer than PATH_MAX (4096 bytes): not analysed; give a "
				    "shorter path to it (a symlink, or its directory)");
			continue;
		}
		if (fstatat(dirfd(d), de->d_name, &st, 0)) {
			if (g.verbose) {
				msg_begin();
				weft_info("skipped %s: %s", path, strerror(errno));
				msg_end();
			}
			g.walk_skipped++;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			const struct wdir *a;
			struct wdir *nd;

			for (a = me; a; a = a->up)
				if (a->dev == st.st_dev && a->ino == st.st_ino)
					break;
			if (a) {
				msg_begin();
				weft_warn("%s: directory loop (a symlink to one of its parents): "
					  "not followed",
					  path);
				msg_end();
				g.walk_skipped++;
				continue;
			}
			if (seen(&g.seen_dirs, &st))
				continue; /* reached twice through symlinks: walked once */
			nd = calloc(1, sizeof(*nd));
			if (!nd || !(nd->path = strdup(path))) {
				free(nd);
				walk_failed(me->path, de->d_name, "out of memory: not walked");
				continue;
			}
			nd->dev = st.st_dev;
			nd->ino = st.st_ino;
			nd->up = me;
			nd->next = *stack;
			*stack = nd;
			nd->all = *all;
			*all = nd;
		} else if (S_ISREG(st.st_mode)) {
			if (!seen(&g.seen_files, &st))
				add_job(path, false);
		} else if (g.verbose) {
			msg_begin();
			weft_info("skipped %s: not a regular file", path);
			msg_end();
			g.walk_skipped++;
		} else {
			g.walk_skipped++;
		}
	}
	closedir(d);
}

/*
 * Walk a directory tree depth-first without recursion (a stack on the heap):
 * any depth, bounded only by PATH_MAX, with a constant amount of C stack.
 */
static void walk(const char *dir, const struct stat *dst)
{
	struct wdir root = {.path = (char *)dir, .dev = dst->st_dev, .ino = dst->st_ino};
	struct wdir *stack = &root, *all = NULL;

	while (stack) {
		struct wdir *me = stack;

		stack = me->next;
		walk_one(me, &stack, &all);
	}
	while (all) {
		struct wdir *n = all->all;

		free(all->path);
		free(all);
		all = n;
	}
}

static void add_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (!seen(&g.seen_dirs, &st))
			walk(path, &st);
		return;
	}
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && seen(&g.seen_files, &st))
		return;
	add_job(path, true); /* errors are reported when it is processed */
}

/*
 * One binary: its record from the database when current, else analysed and
 * stored. Returns the outcome; *recp (if not NULL) gets the record.
 */
static enum outcome process(const char *path, bool explicit, struct weft_record **recp)
{
	struct weft_record *rec = NULL;
	enum weft_analyze_result res;
	char err[512] = "", hash[33];
	unsigned char magic[4];
	bool have_hash = false;
	struct stat st;
	ssize_t n;
	int fd;

	if (recp)
		*recp = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int e = errno;

		msg_begin();
		weft_err("%s: cannot open: %s: %s", path, strerror(e),
			 e == EACCES ? "run as a user who can read it (root)" : "check the path");
		msg_end();
		return OUT_FAILED;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, sizeof(err), "not a regular file");
		goto skip;
	}
	n = pread(fd, magic, sizeof(magic), 0);
	if (n < 0) {
		msg_begin();
		weft_err("%s: cannot read: %s: check the file and its permissions", path,
			 strerror(errno));
		msg_end();
		close(fd);
		return OUT_FAILED;
	}
	if (n == 0) {
		snprintf(err, sizeof(err), "empty file");
		goto skip;
	}
	if (n < 4 || memcmp(magic, "\177ELF", 4) != 0) {
		snprintf(err, sizeof(err), "not an ELF file");
		goto skip;
	}
	if (g.db && !g.force) {
		have_hash = weft_db_stat_get(g.db, fd, hash) == 0;
		if (!have_hash && weft_hash_fd(fd, hash) == 0) {
			have_hash = true;
			if (weft_db_lookup_hash(g.db, hash, path, &rec, err, sizeof(err)) == 0)
				weft_db_stat_put(g.db, fd, hash);
		} else if (have_hash) {
			weft_db_lookup_hash(g.db, hash, path, &rec, err, sizeof(err));
		}
		if (rec && strcmp(rec->analyzer_version, weft_analyzer_version()) == 0) {
			close(fd);
			if (g.verbose) {
				msg_begin();
				weft_info("%s: already cached (%s)", path, hash);
				msg_end();
			}
			if (recp)
				*recp = rec;
			else
				weft_record_free(rec);
			return OUT_CACHED;
		}
		weft_record_free(rec);
		rec = NULL;
		if (err[0]) {
			/* An invalid record: say so, then recompute it. */
			msg_begin();
			weft_warn("%s: %s", path, err);
			msg_end();
			err[0] = 0;
		}
	}
	res = weft_analyze_fd(fd, path, have_hash ? hash : NULL, &rec, err, sizeof(err));
	if (res == WEFT_ANALYZE_SKIP)
		goto skip;
	if (res != WEFT_ANALYZE_OK) {
		msg_begin();
		weft_err("%s: %s: not analysed; check that it is a complete Go binary", path, err);
		msg_end();
		close(fd);
		return OUT_FAILED;
	}
	if (g.db) {
		if (weft_db_store(g.db, rec, err, sizeof(err))) {
			msg_begin();
			weft_err("%s: %s", path, err);
			msg_end();
			close(fd);
			if (recp)
				*recp = rec;
			else
				weft_record_free(rec);
			return OUT_FAILED;
		}
		weft_db_stat_put(g.db, fd, rec->hash);
	}
	close(fd);
	if (err[0]) {
		/* Analysed, with something to say (fields taken from the known/ tables). */
		msg_begin();
		weft_warn("%s: %s", path, err);
		msg_end();
	}
	if (g.verbose) {
		msg_begin();
		weft_info("%s: analysed (%s, %s%s%s, %zu fields, %zu functions)", path, rec->hash,
			  rec->runtime ? rec->runtime : "",
			  rec->runtime ? " " : "",
			  rec->runtime ? (rec->nmodules ? rec->modules[0].version : "")
			  : rec->go_version[0] ? rec->go_version : "unknown Go version",
			  rec->nfields, rec->nfuncs);
		msg_end();
	}
	if (recp)
		*recp = rec;
	else
		weft_record_free(rec);
	return OUT_ANALYSED;
skip:
	close(fd);
	if (g.json) {
		msg_begin();
		weft_err("%s: %s: no record; give a Go binary", path, err);
		msg_end();
	} else if (explicit || g.verbose) {
		msg_begin();
		weft_info("skipped %s: %s", path, err);
		msg_end();
	}
	return OUT_SKIPPED;
}

/* Make the records stored by this run durable (they are checksummed meanwhile). */
static void db_sync(void)
{
	int rc = g.db ? weft_db_sync(g.db) : 0;

	if (rc)
		weft_warn("cannot sync offsets database %s: %s: records may be lost on a crash "
			  "(they are recomputed then)",
			  weft_db_dir(g.db), strerror(-rc));
}

static void *worker(void *arg)
{
	size_t i;

	while ((i = __atomic_fetch_add(&g.next, 1, __ATOMIC_RELAXED)) < g.njobs) {
		enum outcome o = process(g.jobs[i].path, g.jobs[i].explicit, NULL);

		__atomic_add_fetch(&g.count[o], 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&g.done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static int run_json(const char *path)
{
	struct weft_record *rec = NULL;
	enum outcome o = process(path, true, &rec);

	if (o == OUT_SKIPPED || !rec) {
		weft_record_free(rec);
		return 1;
	}
	weft_record_write_json(rec, stdout);
	weft_record_free(rec);
	return fflush(stdout) ? 1 : (o == OUT_FAILED);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"force", no_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"json", no_argument, NULL, 'J'},
	    {"help", no_argument, NULL, 'h'},
	    {"jobs", required_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	const char *dbdir = NULL;
	bool json = false;
	long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
	char err[512];
	pthread_t *th;
	int c;

	weft_log_init("weft-analyze", false);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (!*optarg) {
				weft_err("--db given an empty path: give the database directory "
					 "(or leave --db out for $WEFT_OFFSETS_DB, else %s)",
					 WEFT_DB_DEFAULT_DIR);
				return 2;
			}
			dbdir = optarg;
			break;
		case 'f':
			g.force = true;
			break;
		case 'v':
			g.verbose = true;
			break;
		case 'J':
			json = true;
			break;
		case 'j': {
			char *end;

			nthreads = strtol(optarg, &end, 10);
			if (*end || nthreads < 1 || nthreads > 256) {
				weft_err(
				    "bad -j value '%s': give a number of threads from 1 to 256",
				    optarg);
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			weft_err("bad usage: unknown option or missing argument '%s': see "
				 "weft-analyze --help",
				 argv[optind - 1]);
			return 2;
		}
	}
	weft_log_init("weft-analyze", g.verbose);
	if (optind >= argc) {
		weft_err("no PATH given: see weft-analyze --help");
		return 2;
	}
	if (json && argc - optind != 1) {
		weft_err("--json takes exactly one BINARY: see weft-analyze --help");
		return 2;
	}
	if (nthreads < 1)
		nthreads = 1;
	/* Batch: records are not fsync'ed one by one; one syncfs at the end (db_sync). */
	g.db = weft_db_open(dbdir, WEFT_DB_CREATE | WEFT_DB_BATCH, err, sizeof(err));
	if (!g.db) {
		if (!json) {
			weft_err("%s", err);
			return 1;
		}
		weft_warn("%s: the record is computed but not stored", err);
	}
	if (json) {
		int rc;

		g.json = true;
		rc = run_json(argv[optind]);
		db_sync();
		weft_db_close(g.db);
		return rc;
	}
	for (int i = optind; i < argc; i++)
		add_path(argv[i]);
	g.count[OUT_SKIPPED] += g.walk_skipped;
	if ((size_t)nthreads > g.njobs)
		nthreads = g.njobs ? (long)g.njobs : 1;
	g.progress = isatty(STDERR_FILENO) && g.njobs > 1;
	th = calloc((size_t)nthreads, sizeof(*th));
	if (!th) {
		weft_err("out of memory");
		return 1;
	}
	for (long i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, NULL)) {
			weft_err("cannot start thread: %s", strerror(errno));
			return 1;
		}
	while (g.progress && __atomic_load_n(&g.done, __ATOMIC_RELAXED) < g.njobs) {
		struct timespec ts = {0, 100 * 1000 * 1000};

		pthread_mutex_lock(&g.out_lock);
		fprintf(stderr, "\r\033[Kweft-analyze: %lu/%zu files", g.done, g.njobs);
		pthread_mutex_unlock(&g.out_lock);
		nanosleep(&ts, NULL);
	}
	for (long i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	if (g.progress)
		fputs("\r\033[K", stderr);
	free(th);
	db_sync();
	printf("analysed %lu, already cached %lu, skipped %lu, failed %lu\n", g.count[OUT_ANALYSED],
	       g.count[OUT_CACHED], g.count[OUT_SKIPPED], g.count[OUT_FAILED]);
	for (size_t i = 0; i < g.njobs; i++)
		free(g.jobs[i].path);
	free(g.jobs);
	weft_db_close(g.db);
	return g.count[OUT_FAILED] ? 1 : 0;
}
