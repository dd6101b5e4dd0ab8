// SPDX-License-Identifier: BSD-2-Clause
/*
 * otlp_sink: a minimal OTLP/HTTP receiver for benchmarks.
 *
 * Listens on 127.0.0.1 (port given, or 0 for any), accepts any number of
 * keep-alive HTTP/1.1 connections on one epoll thread, reads each request
 * (Content-Length or chunked body, "Expect: 100-continue" answered) and
 * answers "200 OK" with an empty body (an empty ExportTraceServiceResponse),
 * discarding the body. Prints the port on stdout once listening; on SIGINT or
 * SIGTERM prints "requests N bytes N" (body bytes) on stdout and exits.
 *
 *   otlp_sink [PORT]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR_MAX 16384
#define IOBUF (256 * 1024)

static const char ok_resp[] = "HTTP/1.1 200 OK\r\n"
			      "Content-Type: application/x-protobuf\r\n"
			      "Content-Length: 0\r\n\r\n";
static const char cont_resp[] = "HTTP/1.1 100 Continue\r\n\r\n";

enum state { ST_HEADERS, ST_BODY, ST_CHUNK_SIZE, ST_CHUNK_DATA, ST_CHUNK_CRLF, ST_TRAILER };

struct conn {
	int fd;
	enum state st;
	char hdr[HDR_MAX];
	size_t hlen;
	uint64_t left; /* body or chunk bytes still to read */
};

static uint64_t n_requests, n_bytes;

static void die(const char *what)
{
	fprintf(stderr, "otlp_sink: error: %s: %s: check the port and limits\n", what,
		strerror(errno));
	exit(1);
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* peer gone; the read side will notice */
		p += w;
		n -= (size_t)w;
	}
}

static const char *find_header(const char *hdr, const char *name)
{
	size_t nl = strlen(name);
	const char *p = strstr(hdr, "\r\n");

	while (p && p[2] != '\r') {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = strstr(p, "\r\n");
	}
	return NULL;
}

static void request_done(struct conn *c)
{
	n_requests++;
	send_all(c->fd, ok_resp, sizeof(ok_resp) - 1);
	c->st = ST_HEADERS;
	c->hlen = 0;
}

/* Start of a request whose header block is c->hdr[0..end). */
static void headers_done(struct conn *c)
{
	const char *v;

	if ((v = find_header(c->hdr, "Expect")) && strncasecmp(v, "100-continue", 12) == 0)
		send_all(c->fd, cont_resp, sizeof(cont_resp) - 1);
	if ((v = find_header(c->hdr, "Transfer-Encoding")) && strncasecmp(v, "chunked", 7) == 0) {
		c->st = ST_CHUNK_SIZE;
		c->hlen = 0;
		return;
	}
	v = find_header(c->hdr, "Content-Length");
	c->left = v ? strtoull(v, NULL, 10) : 0;
	if (c->left == 0)
		request_done(c);
	else
		c->st = ST_BODY;
}

/* Consume buf[0..n); returns -1 on a protocol error. */
static int feed(struct conn *c, const char *buf, size_t n)
{
	while (n > 0) {
		switch (c->st) {
		case ST_HEADERS:
		case ST_CHUNK_SIZE:
		case ST_CHUNK_CRLF:
		case ST_TRAILER: {
			/* Line-oriented states: collect bytes into hdr. */
			size_t take = 0;
			int done = 0;

			while (take < n && !done) {
				if (c->hlen >= HDR_MAX - 1)
					return -1;
				c->hdr[c->hlen++] = buf[take++];
				c->hdr[c->hlen] = 0;
				if (c->st == ST_HEADERS)
					done = c->hlen >= 4 &&
					       memcmp(c->hdr + c->hlen - 4, "\r\n\r\n", 4) == 0;
				else
					done = c->hlen >= 2 &&
					       memcmp(c->hdr + c->hlen - 2, "\r\n", 2) == 0;
			}
			buf += take;
			n -= take;
			if (!done)
				break;
			if (c->st == ST_HEADERS) {
				headers_done(c);
			} else if (c->st == ST_CHUNK_SIZE) {
				c->left = strtoull(c->hdr, NULL, 16);
				c->hlen = 0;
				c->st = c->left ? ST_CHUNK_DATA : ST_TRAILER;
			} else if (c->st == ST_CHUNK_CRLF) {
				c->hlen = 0;
				c->st = ST_CHUNK_SIZE;
			} else { /* trailer: ends with an empty line */
				int empty = c->hlen == 2;

				c->hlen = 0;
				if (empty)
					request_done(c);
			}
			break;
		}
		case ST_BODY:
		case ST_CHUNK_DATA: {
			size_t take = n < c->left ? n : (size_t)c->left;

			c->left -= take;
			n_bytes += take;
			buf += take;
			n -= take;
			if (c->left == 0) {
				if (c->st == ST_BODY) {
					request_done(c);
				} else {
					c->st = ST_CHUNK_CRLF;
					c->hlen = 0;
				}
			}
			break;
		}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char buf[IOBUF];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	struct epoll_event ev, evs[64];
	sigset_t mask;
	int one = 1, lfd, ep, sfd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(argc > 1 ? (uint16_t)atoi(argv[1]) : 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind 127.0.0.1");
	if (listen(lfd, 128) < 0)
		die("listen");
	getsockname(lfd, (struct sockaddr *)&sa, &sl);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0)
		die("epoll/signalfd");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

	printf("%u\n", ntohs(sa.sin_port));
	fflush(stdout);

	for (;;) {
		int n = epoll_wait(ep, evs, 64, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (evs[i].data.ptr == &sfd) {
				printf("requests %llu bytes %llu\n", (unsigned long long)n_requests,
				       (unsigned long long)n_bytes);
				return 0;
			}
			if (!c) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			for (;;) {
				ssize_t r = recv(c->fd, buf, sizeof(buf), 0);

				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
					break;
				if (r <= 0 || feed(c, buf, (size_t)r) < 0) {
					close(c->fd); /* also leaves the epoll set */
					free(c);
					break;
				}
			}
		}
	}
}
