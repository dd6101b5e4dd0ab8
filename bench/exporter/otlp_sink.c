// SPDX-License-Identifier: BSD-2-Clause
/*
 * otlp_sink: a minimal OTLP/HTTP receiver for benchmarks.
 *
 * Listens on 127.0.0.1 (port given, or 0 for any), accepts any number of
 * keep-alive HTTP/1.1 connections on one epoll thread, reads each request
 * (Content-Length or chunked body, "Expect: 100-continue" answered) and
 * answers "200 OK" with an empty body (an empty ExportTraceServiceResponse).
 * With --decode it unpacks each body as an ExportTraceServiceRequest
 * (protobuf-c, uncompressed) and counts its spans, so a benchmark can tell
 * spans received from spans sent; without, bodies are discarded unread.
 * Prints the port on stdout once listening; on SIGUSR1 prints
 * "requests N bytes N spans N bad N" (body bytes; spans decoded; bodies that
 * did not decode) and goes on; on SIGINT or SIGTERM prints it and exits.
 *
 *   otlp_sink [--decode] [PORT]
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

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

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
	uint8_t *body; /* --decode: the request's body so far */
	size_t blen, bcap;
};

static uint64_t n_requests, n_bytes, n_spans, n_bad;
static int decode;

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

static void count_spans(struct conn *c)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req =
	    opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, c->blen, c->body);

	c->blen = 0;
	if (!req) {
		n_bad++;
		return;
	}
	for (size_t r = 0; r < req->n_resource_spans; r++)
		for (size_t s = 0; s < req->resource_spans[r]->n_scope_spans; s++)
			n_spans += req->resource_spans[r]->scope_spans[s]->n_spans;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
	    req, NULL);
}

static void keep_body(struct conn *c, const char *p, size_t n)
{
	if (c->bcap - c->blen < n) {
		size_t cap = c->bcap ? c->bcap : 65536;
		uint8_t *b;

		while (cap - c->blen < n)
			cap *= 2;
		b = realloc(c->body, cap);
		if (!b) {
			fprintf(stderr, "otlp_sink: error: out of memory keeping a body: run "
					"without --decode\n");
			exit(1);
		}
		c->body = b;
		c->bcap = cap;
	}
	memcpy(c->body + c->blen, p, n);
	c->blen += n;
}

static void request_done(struct conn *c)
{
	n_requests++;
	if (decode)
		count_spans(c);
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
			if (decode)
				keep_body(c, buf, take);
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

	if (argc > 1 && !strcmp(argv[1], "--decode")) {
		decode = 1;
		argc--;
		argv++;
	}
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
	sigaddset(&mask, SIGUSR1);
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
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) != sizeof(si))
					continue;
				printf("requests %llu bytes %llu spans %llu bad %llu\n",
				       (unsigned long long)n_requests, (unsigned long long)n_bytes,
				       (unsigned long long)n_spans, (unsigned long long)n_bad);
				fflush(stdout);
				if (si.ssi_signo != SIGUSR1)
					return 0;
				continue;
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
					free(c->body);
					free(c);
					break;
				}
			}
		}
	}
}
