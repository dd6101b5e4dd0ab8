// SPDX-License-Identifier: BSD-2-Clause
/*
 * http-forwarder: a small thread-per-connection HTTP/1.1 forwarding service
 * for bench/http (service A in front of B). Each client connection gets one
 * thread and one keep-alive connection to the upstream; every request is
 * written upstream in one write and the response copied back in one write.
 *
 *   http-forwarder LISTEN_PORT UPSTREAM_IPV4 UPSTREAM_PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536

static struct sockaddr_in upstream;

/* Read one message (header block + Content-Length body) into buf; its length, or -1. */
static ssize_t read_msg(int fd, char *buf, size_t *have)
{
	for (;;) {
		char *he = memmem(buf, *have, "\r\n\r\n", 4);

		if (he) {
			size_t hlen = he + 4 - buf, clen = 0;
			char *cl = NULL;

			*he = 0;
			for (char *p = buf; (p = strstr(p, "\r\n")); p += 2)
				if (!strncasecmp(p + 2, "content-length:", 15)) {
					cl = p + 17;
					break;
				}
			*he = '\r';
			if (cl)
				clen = strtoul(cl, NULL, 10);
			if (hlen + clen > BUF)
				return -1;
			while (*have < hlen + clen) {
				ssize_t n = read(fd, buf + *have, BUF - *have);

				if (n <= 0)
					return -1;
				*have += n;
			}
			return hlen + clen;
		}
		if (*have == BUF)
			return -1;
		ssize_t n = read(fd, buf + *have, BUF - *have);

		if (n <= 0)
			return -1;
		*have += n;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static void *serve(void *arg)
{
	int c = (int)(long)arg, u, one = 1;
	char *in = malloc(BUF), *out = malloc(BUF);
	size_t ih = 0, oh = 0;

	u = socket(AF_INET, SOCK_STREAM, 0);
	if (!in || !out || u < 0 || connect(u, (struct sockaddr *)&upstream, sizeof(upstream)))
		goto done;
	setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		ssize_t rq = read_msg(c, in, &ih), rs;

		if (rq < 0 || write_all(u, in, rq))
			break;
		memmove(in, in + rq, ih - rq);
		ih -= rq;
		rs = read_msg(u, out, &oh);
		if (rs < 0 || write_all(c, out, rs))
			break;
		memmove(out, out + rs, oh - rs);
		oh -= rs;
	}
done:
	if (u >= 0)
		close(u);
	close(c);
	free(in);
	free(out);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int l, one = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: http-forwarder LISTEN_PORT UPSTREAM_IPV4 UPSTREAM_PORT\n");
		return 2;
	}
	upstream.sin_family = AF_INET;
	upstream.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &upstream.sin_addr) != 1) {
		fprintf(stderr, "http-forwarder: error: bad upstream address %s\n", argv[2]);
		return 2;
	}
	a.sin_port = htons(atoi(argv[1]));
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 512)) {
		perror("http-forwarder: error: listen");
		return 1;
	}
	for (;;) {
		int c = accept(l, NULL, NULL);
		pthread_t t;

		if (c < 0)
			continue;
		if (pthread_create(&t, NULL, serve, (void *)(long)c))
			close(c);
		else
			pthread_detach(t);
	}
}
