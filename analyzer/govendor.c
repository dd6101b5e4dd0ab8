// SPDX-License-Identifier: BSD-2-Clause
/*
 * Vendored Go package paths. A GOPATH-mode build whose app vendors a
 * dependency names its functions and types by the vendored import path:
 * "APP/vendor/google.golang.org/grpc.(*Server).handleStream". The analyzer
 * matches them, and stores them, under the path the code was vendored from
 * (what follows the last "/vendor/" of the package path), so a record and the
 * injectors know one name whatever the build. The standard library's own
 * vendored packages ("vendor/golang.org/x/net/...": no leading "APP/") are
 * other code than golang.org/x/net and keep their names.
 */
#include <string.h>
#include "internal.h"

#define VENDOR_DIR "/vendor/"

const char *go_unvendor(const char *name, size_t *len)
{
	/* The package path ends before the first '(' or '[' (a receiver, type
	 * arguments: those may name vendored packages of their own). */
	size_t pkg = strcspn(name, "([");
	const char *p = name, *hit = NULL;

	while ((p = memmem(p, pkg - (size_t)(p - name), VENDOR_DIR, sizeof(VENDOR_DIR) - 1))) {
		hit = p;
		p += sizeof(VENDOR_DIR) - 1;
	}
	if (!hit || !hit[sizeof(VENDOR_DIR) - 1])
		return name;
	hit += sizeof(VENDOR_DIR) - 1;
	if (len)
		*len -= (size_t)(hit - name);
	return hit;
}
