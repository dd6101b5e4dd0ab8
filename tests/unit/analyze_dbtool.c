// SPDX-License-Identifier: BSD-2-Clause
/*
 * Test driver of the offsets database API, used as an injector would:
 *   analyze_dbtool lookup [--strict] DB BINARY   print the record as JSON (exit 3: miss)
 *   analyze_dbtool verify DB                     decode every record; exit 1 if any is bad
 *   analyze_dbtool seal FILE                     rewrite a record's checksum line (to test
 *                                                what the checksum alone would not catch)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include "offsets.h"

static int lookup(int argc, char **argv)
{
	bool strict = argc > 2 && strcmp(argv[2], "--strict") == 0;
	struct weft_record *rec = NULL;
	struct weft_db *db;
	char err[512] = "";
	int rc;

	if (argc != 4 + strict) {
		fprintf(stderr, "usage: analyze_dbtool lookup [--strict] DB BINARY\n");
		return 2;
	}
	db = weft_db_open(argv[2 + strict], strict ? WEFT_DB_STRICT : 0, err, sizeof(err));
	if (!db) {
		fprintf(stderr, "analyze_dbtool: error: %s\n", err);
		return 1;
	}
	rc = weft_db_lookup_path(db, argv[3 + strict], &rec, err, sizeof(err));
	weft_db_close(db);
	if (err[0])
		fprintf(stderr, "analyze_dbtool: %s: %s\n", rc == -ENOENT ? "warning" : "error",
			err);
	if (rc == -ENOENT)
		return 3;
	if (rc)
		return 1;
	weft_record_write_json(rec, stdout);
	weft_record_free(rec);
	return 0;
}

static int verify(const char *dir)
{
	struct dirent *de;
	int bad = 0, ok = 0;
	DIR *d = opendir(dir);

	if (!d) {
		fprintf(stderr, "analyze_dbtool: error: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		struct weft_record *rec = NULL;
		char path[4096], err[256] = "", *buf;
		long len;
		FILE *f;

		if (de->d_name[0] == '.') {
			if (strncmp(de->d_name, ".tmp", 4) == 0) {
				printf("leftover temporary file %s\n", de->d_name);
				bad++;
			}
			continue;
		}
		if (strcmp(de->d_name, "stat") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "r");
		if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
			printf("bad %s: unreadable\n", de->d_name);
			bad++;
			if (f)
				fclose(f);
			continue;
		}
		buf = malloc((size_t)len + 1);
		if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
			printf("bad %s: short read\n", de->d_name);
			bad++;
		} else if (weft_record_decode(buf, (size_t)len, &rec, err, sizeof(err))) {
			printf("bad %s: %s\n", de->d_name, err);
			bad++;
		} else if (strcmp(rec->hash, de->d_name) != 0) {
			printf("bad %s: hash inside is %s\n", de->d_name, rec->hash);
			bad++;
		} else {
			ok++;
		}
		weft_record_free(rec);
		free(buf);
		fclose(f);
	}
	closedir(d);
	printf("%d valid, %d bad\n", ok, bad);
	return bad ? 1 : 0;
}

static int seal(const char *path)
{
	char *buf = NULL, *end;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "r+");

	if (!f || getdelim(&buf, &cap, 0, f) < 0) {
		fprintf(stderr, "analyze_dbtool: error: cannot read %s\n", path);
		return 1;
	}
	len = strlen(buf);
	end = len > 21 ? buf + len - 21 : NULL;
	if (!end || strncmp(end, "end ", 4) != 0) {
		fprintf(stderr, "analyze_dbtool: error: %s has no end line\n", path);
		return 1;
	}
	if (fseek(f, (long)(end - buf), SEEK_SET) ||
	    fprintf(f, "end %016llx\n",
		    (unsigned long long)XXH3_64bits(buf, (size_t)(end - buf))) != 21 ||
	    fclose(f)) {
		fprintf(stderr, "analyze_dbtool: error: cannot write %s\n", path);
		return 1;
	}
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "lookup") == 0)
		return lookup(argc, argv);
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2]);
	if (argc == 3 && strcmp(argv[1], "seal") == 0)
		return seal(argv[2]);
	fprintf(stderr,
		"usage: analyze_dbtool lookup [--strict] DB BINARY | verify DB | seal FILE\n");
	return 2;
}
