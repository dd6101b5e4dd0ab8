// SPDX-License-Identifier: BSD-2-Clause
/*
 * The offsets database directory:
 *   DIR/<hash>            one record per binary (content-addressed)
 *   DIR/stat/<dev>-<ino>  stat cache: size, mtime_ns, ctime_ns -> hash
 * Every file is written to a temporary name and renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "offsets.h"

struct weft_db {
	char *dir;
	int dirfd;
	int flags;
	bool writable;
	bool stored; /* a record was stored (batch mode: weft_db_sync has work) */
};

#define ERR(...)                                                                                   \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

static int mkdir_p(const char *path)
{
	char *p = strdup(path), *s;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) && errno != EEXIST)
			rc = -errno;
		*s = '/';
	}
	if (!rc && mkdir(p, 0755) && errno != EEXIST)
		rc = -errno;
	free(p);
	return rc;
}

/* StrictModes-like check of a directory or file. */
static int strict_check(const char *what, const struct stat *st, char *err, size_t errlen)
{
	if (st->st_uid != 0) {
		ERR("offsets database %s is owned by uid %u, not root: run chown root %s", what,
		    (unsigned)st->st_uid, what);
		return -EPERM;
	}
	if (st->st_mode & 022) {
		ERR("offsets database %s is group/world-writable: run chmod go-w %s", what, what);
		return -EPERM;
	}
	return 0;
}

/*
 * Every ancestor of the database directory (symlinks resolved), as sshd's
 * StrictModes checks the path to authorized_keys: owned by root and not
 * group/world-writable. A root-owned sticky directory (/tmp) is allowed:
 * nobody else can rename or remove what root made in it.
 */
static int strict_ancestors(const char *dir, char *err, size_t errlen)
{
	char *real = realpath(dir, NULL), *slash;
	int rc = 0;

	if (!real) {
		ERR("cannot resolve offsets database %s: %s", dir, strerror(errno));
		return -errno;
	}
	while ((slash = strrchr(real, '/'))) {
		struct stat st;

		slash[slash == real] = 0; /* the parent ("/" for the last one) */
		if (stat(real, &st)) {
			rc = -errno;
			ERR("cannot stat %s, a parent of offsets database %s: %s", real, dir,
			    strerror(errno));
			break;
		}
		if (st.st_uid != 0) {
			ERR("offsets database %s: its parent directory %s is owned by uid %u, not "
			    "root: run chown root %s, or use a database under root-owned "
			    "directories",
			    dir, real, (unsigned)st.st_uid, real);
			rc = -EPERM;
			break;
		}
		if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)) {
			ERR("offsets database %s: its parent directory %s is group/world-writable: "
			    "run chmod go-w %s, or use a database under directories only root can "
			    "write",
			    dir, real, real);
			rc = -EPERM;
			break;
		}
		if (slash == real)
			break;
	}
	free(real);
	return rc;
}

struct weft_db *weft_db_open(const char *dir, int flags, char *err, size_t errlen)
{
	struct weft_db *db;
	struct stat st;
	int rc;

	if (dir && !*dir) {
		ERR("offsets database path is empty: give a directory, or leave the option out "
		    "for $WEFT_OFFSETS_DB, else %s",
		    WEFT_DB_DEFAULT_DIR);
		return NULL;
	}
	if (!dir)
		dir = getenv("WEFT_OFFSETS_DB");
	if (!dir || !*dir)
		dir = WEFT_DB_DEFAULT_DIR;
	if ((flags & WEFT_DB_CREATE) && (rc = mkdir_p(dir))) {
		ERR("cannot create offsets database %s: %s: check permissions or use --db DIR", dir,
		    strerror(-rc));
		return NULL;
	}
	db = calloc(1, sizeof(*db));
	if (!db || !(db->dir = strdup(dir))) {
		free(db);
		ERR("out of memory");
		return NULL;
	}
	db->flags = flags;
	db->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (db->dirfd < 0) {
		ERR("cannot open offsets database %s: %s: run weft-analyze on your binaries first "
		    "or set WEFT_OFFSETS_DB",
		    dir, strerror(errno));
		goto fail;
	}
	if (fstat(db->dirfd, &st)) {
		ERR("cannot stat offsets database %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((flags & WEFT_DB_STRICT) &&
	    (strict_check(dir, &st, err, errlen) || strict_ancestors(dir, err, errlen)))
		goto fail;
	if (flags & WEFT_DB_CREATE)
		mkdirat(db->dirfd, "stat", 0755);
	if ((flags & WEFT_DB_STRICT) && fstatat(db->dirfd, "stat", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		char sub[4096];

		snprintf(sub, sizeof(sub), "%s/stat", dir);
		if (!S_ISDIR(st.st_mode)) {
			ERR("offsets database %s is not a directory: remove it", sub);
			goto fail;
		}
		if (strict_check(sub, &st, err, errlen))
			goto fail;
	}
	db->writable = faccessat(db->dirfd, ".", W_OK, AT_EACCESS) == 0;
	return db;
fail:
	weft_db_close(db);
	return NULL;
}

void weft_db_close(struct weft_db *db)
{
	if (!db)
		return;
	if (db->dirfd >= 0)
		close(db->dirfd);
	free(db->dir);
	free(db);
}

const char *weft_db_dir(const struct weft_db *db)
{
	return db->dir;
}

/* Read a whole small file under the DB directory. */
static int read_at(struct weft_db *db, const char *name, char **buf, size_t *len, size_t max,
		   char *err, size_t errlen)
{
	struct stat st;
	size_t got = 0;
	char *b;
	/* O_NONBLOCK: a FIFO in the database's place must not hang the reader. */
	int fd = openat(db->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		close(fd);
		ERR("offsets record %s/%s is not a regular file of sane size: remove it", db->dir,
		    name);
		return -EINVAL;
	}
	if (db->flags & WEFT_DB_STRICT) {
		char what[4200];

		snprintf(what, sizeof(what), "%s/%s", db->dir, name);
		if (strict_check(what, &st, err, errlen)) {
			close(fd);
			return -EPERM;
		}
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

		if (n <= 0) {
			int e = n < 0 ? errno : EIO;

			free(b);
			close(fd);
			return -e;
		}
		got += (size_t)n;
	}
	close(fd);
	b[got] = 0;
	*buf = b;
	*len = got;
	return 0;
}

/*
 * Write a file atomically: temporary name, (fsync,) rename. Readers see the
 * old file or the new one, never a part. Without a directory fsync a crash
 * may lose the new name, which only means recomputing; stat cache entries
 * are not fsync'ed at all (a damaged one fails its checksum: a miss).
 */
static int write_at(struct weft_db *db, const char *name, const char *buf, size_t len, bool durable)
{
	static unsigned long counter;
	char tmp[256];
	size_t off = 0;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".tmp.%d.%lu.%lx", getpid(),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), (unsigned long)gettid());
	fd = openat(db->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, buf + off, len - off);

		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	if (!rc && fchmod(fd, 0644))
		rc = -errno;
	if (!rc && durable && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && renameat(db->dirfd, tmp, db->dirfd, name))
		rc = -errno;
	if (rc)
		unlinkat(db->dirfd, tmp, 0);
	return rc;
}

int weft_db_lookup_hash(struct weft_db *db, const char *hash, const char *path,
			struct weft_record **out, char *err, size_t errlen)
{
	char why[256] = "", *buf = NULL;
	size_t len = 0;
	int rc;

	if (err && errlen)
		err[0] = 0;
	if (strlen(hash) != 32 || strspn(hash, "0123456789abcdef") != 32)
		return -EINVAL;
	rc = read_at(db, hash, &buf, &len, 16u << 20, err, errlen);
	if (rc == -ENOENT)
		return rc;
	if (rc == -EPERM)
		return rc;
	if (rc) {
		if (err && errlen && !err[0])
			ERR("cannot read offsets record %s/%s: %s", db->dir, hash, strerror(-rc));
		return rc;
	}
	rc = weft_record_decode(buf, len, out, why, sizeof(why));
	free(buf);
	if (!rc && strcmp((*out)->hash, hash) != 0) {
		weft_record_free(*out);
		*out = NULL;
		snprintf(why, sizeof(why), "hash inside differs from its name");
		rc = -EINVAL;
	}
	if (rc == -ESTALE) {
		ERR("offsets record %s/%s is of an %s: the binary is analysed again", db->dir, hash,
		    why);
		return -ENOENT;
	}
	if (rc) {
		ERR("offsets record %s/%s is invalid (%s): ignored; run weft-analyze --force on "
		    "the binary",
		    db->dir, hash, why);
		return -ENOENT;
	}
	if (path) {
		char *p = strdup(path);

		if (p) {
			free((*out)->path);
			(*out)->path = p;
		}
	}
	return 0;
}

static void stat_name(const struct stat *st, char *name, size_t len)
{
	snprintf(name, len, "stat/%llx-%llx", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino);
}

static int stat_get(struct weft_db *db, const struct stat *st, char hash[33])
{
	char name[128], *buf = NULL, h[33];
	unsigned long long size, mt, ct, sum;
	size_t len;
	int n = 0;

	stat_name(st, name, sizeof(name));
	if (read_at(db, name, &buf, &len, 256, NULL, 0))
		return -ENOENT;
	if (sscanf(buf, "%llu %llu %llu %32[0-9a-f] %16llx\n%n", &size, &mt, &ct, h, &sum, &n) !=
		5 ||
	    (size_t)n != len) {
		free(buf);
		return -ENOENT;
	}
	{
		const char *sp = strrchr(buf, ' ');

		if (!sp || XXH3_64bits(buf, (size_t)(sp - buf)) != sum) {
			free(buf);
			return -ENOENT;
		}
	}
	free(buf);
	if (size != (unsigned long long)st->st_size ||
	    mt != (unsigned long long)st->st_mtim.tv_sec * 1000000000ull + st->st_mtim.tv_nsec ||
	    ct != (unsigned long long)st->st_ctim.tv_sec * 1000000000ull + st->st_ctim.tv_nsec ||
	    strlen(h) != 32)
		return -ENOENT;
	memcpy(hash, h, 33);
	return 0;
}

static void stat_put(struct weft_db *db, const struct stat *st, const char hash[33])
{
	char name[128], buf[256];
	int n;

	if (!db->writable)
		return;
	stat_name(st, name, sizeof(name));
	n = snprintf(buf, sizeof(buf), "%llu %llu %llu %s", (unsigned long long)st->st_size,
		     (unsigned long long)st->st_mtim.tv_sec * 1000000000ull + st->st_mtim.tv_nsec,
		     (unsigned long long)st->st_ctim.tv_sec * 1000000000ull + st->st_ctim.tv_nsec,
		     hash);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %016llx\n",
		      (unsigned long long)XXH3_64bits(buf, (size_t)n));
	mkdirat(db->dirfd, "stat", 0755);
	write_at(db, name, buf, (size_t)n, false);
}

int weft_db_stat_get(struct weft_db *db, int fd, char hash[33])
{
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return -ENOENT;
	return stat_get(db, &st, hash);
}

void weft_db_stat_put(struct weft_db *db, int fd, const char hash[33])
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		stat_put(db, &st, hash);
}

int weft_db_hash_fd(struct weft_db *db, int fd, char hash[33], bool *cached)
{
	struct stat st;
	int rc;

	if (cached)
		*cached = false;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (stat_get(db, &st, hash) == 0) {
		if (cached)
			*cached = true;
		return 0;
	}
	rc = weft_hash_fd(fd, hash);
	if (rc)
		return rc;
	stat_put(db, &st, hash);
	return 0;
}

int weft_db_lookup_fd(struct weft_db *db, int fd, const char *path, struct weft_record **out,
		      char *err, size_t errlen)
{
	char hash[33];
	int rc;

	if (err && errlen)
		err[0] = 0;
	rc = weft_db_hash_fd(db, fd, hash, NULL);
	if (rc) {
		ERR("cannot hash %s: %s", path ? path : "binary", strerror(-rc));
		return rc;
	}
	return weft_db_lookup_hash(db, hash, path, out, err, errlen);
}

int weft_db_lookup_path(struct weft_db *db, const char *path, struct weft_record **out, char *err,
			size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), rc;

	if (fd < 0) {
		rc = -errno;
		ERR("cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	rc = weft_db_lookup_fd(db, fd, path, out, err, errlen);
	close(fd);
	return rc;
}

int weft_db_store(struct weft_db *db, const struct weft_record *rec, char *err, size_t errlen)
{
	char why[256], *buf = NULL;
	size_t len;
	int rc;

	if (weft_record_check(rec, why, sizeof(why))) {
		ERR("refusing to store the record of %s: %s", rec->path ? rec->path : "?", why);
		return -EINVAL;
	}
	rc = weft_record_encode(rec, &buf, &len);
	if (rc) {
		ERR("cannot encode the record of %s: %s", rec->path, strerror(-rc));
		return rc;
	}
	/*
	 * fsync before rename: a name that survives a crash holds the whole
	 * record. In batch mode the checksum covers that case instead (a torn
	 * record is reported and recomputed) and one syncfs ends the batch.
	 */
	rc = write_at(db, rec->hash, buf, len, !(db->flags & WEFT_DB_BATCH));
	if (!rc)
		__atomic_store_n(&db->stored, true, __ATOMIC_RELAXED);
	free(buf);
	if (rc)
		ERR("cannot write offsets record %s/%s: %s: check the directory's permissions or "
		    "use --db DIR",
		    db->dir, rec->hash, strerror(-rc));
	return rc;
}

int weft_db_sync(struct weft_db *db)
{
	if (!db || !__atomic_load_n(&db->stored, __ATOMIC_RELAXED))
		return 0;
	return syncfs(db->dirfd) ? -errno : 0;
}
