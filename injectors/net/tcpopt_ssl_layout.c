// SPDX-License-Identifier: BSD-2-Clause
/*
 * Measure OpenSSL's SSL -> rbio and BIO -> method/num offsets (see
 * tcpopt_ssl_layout.h). In a child: dlopen the library, make an SSL object
 * with SSL_set_fd(MAGIC), then find in its memory the pointer SSL_get_rbio()
 * returns, and in that BIO the BIO_s_socket() method pointer and MAGIC.
 * The method and fd must occur exactly once in the range searched (rbio: the
 * first match, as wbio holds the same pointer), else the layout is reported
 * unknown (and weft-tcpopt falls back to the syscall tracepoints).
 */

#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tcpopt_ssl_layout.h"

#define SSL_SCAN 2048 /* bytes of the SSL object searched for rbio */
#define BIO_SCAN 96   /* bytes of the BIO searched for method and num */
#define FD_MAGIC 0x3a5c1
#define BIO_TYPE_SOCKET_ 0x0505

typedef void *(*fn_v)(void);
typedef void *(*fn_p)(void *);
typedef int (*fn_pi)(void *, int);
typedef int (*fn_ip)(const void *);

/*
 * The offset in [0, n) step `step` where `what` (size sz) is: the first one,
 * or with `once` the only one (else -1).
 */
static int find(const unsigned char *base, int n, int step, const void *what, size_t sz, int once)
{
	int found = -1;

	for (int off = 0; off + (int)sz <= n; off += step) {
		if (memcmp(base + off, what, sz))
			continue;
		if (found >= 0)
			return -1; /* ambiguous */
		found = off;
		if (!once)
			break;
	}
	return found;
}

static void measure(const char *lib, struct tcpopt_ssl_layout *l)
{
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	fn_v tls_method, bio_s_socket;
	fn_p ctx_new, ssl_new, get_rbio;
	fn_pi set_fd;
	fn_ip method_type;
	void *ctx, *ssl, *bio, *meth;
	int fd = FD_MAGIC;

	if (!h)
		return;
	tls_method = (fn_v)dlsym(h, "TLS_method");
	bio_s_socket = (fn_v)dlsym(h, "BIO_s_socket");
	ctx_new = (fn_p)dlsym(h, "SSL_CTX_new");
	ssl_new = (fn_p)dlsym(h, "SSL_new");
	get_rbio = (fn_p)dlsym(h, "SSL_get_rbio");
	set_fd = (fn_pi)dlsym(h, "SSL_set_fd");
	method_type = (fn_ip)dlsym(h, "BIO_method_type");
	if (!tls_method || !bio_s_socket || !ctx_new || !ssl_new || !get_rbio || !set_fd ||
	    !method_type)
		return;
	ctx = ctx_new(tls_method());
	ssl = ctx ? ssl_new(ctx) : NULL;
	if (!ssl || set_fd(ssl, FD_MAGIC) != 1)
		return;
	bio = get_rbio(ssl);
	meth = bio_s_socket();
	if (!bio || !meth || method_type(bio) != BIO_TYPE_SOCKET_ ||
	    *(const int *)meth != BIO_TYPE_SOCKET_)
		return;
	/* SSL_set_fd makes one BIO both rbio and wbio: rbio comes first */
	l->rbio_off = find(ssl, SSL_SCAN, 8, &bio, sizeof(bio), 0);
	l->method_off = find(bio, BIO_SCAN, 8, &meth, sizeof(meth), 1);
	l->num_off = find(bio, BIO_SCAN, 4, &fd, sizeof(fd), 1);
}

int tcpopt_ssl_layout(const char *libssl, struct tcpopt_ssl_layout *out)
{
	struct tcpopt_ssl_layout l = {-1, -1, -1};
	int pfd[2], st = 0;
	pid_t pid;

	*out = l;
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		measure(libssl, &l);
		if (write(pfd[1], &l, sizeof(l)) != sizeof(l))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &l, sizeof(l)) != sizeof(l))
		l = (struct tcpopt_ssl_layout){-1, -1, -1};
	close(pfd[0]);
	waitpid(pid, &st, 0);
	if (l.rbio_off < 0 || l.method_off < 0 || l.num_off < 0)
		return -1;
	*out = l;
	return 0;
}
