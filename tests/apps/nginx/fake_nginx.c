/*
 * A stand-in for an nginx build (tests/integration/analyze_nginx.test): it
 * exports the functions weft's nginx rule probes, with a request struct laid
 * out as with NGX_HTTP_CACHE (one more pointer before `upstream`: offset 80,
 * not Debian's 72). -DNO_PATTERN: an ngx_http_upstream_create whose code
 * does not show r->upstream (the analyzer must leave the field out).
 * It waits (pause) so that weft-http can look at it.
 */
#include <stdlib.h>
#include <unistd.h>

struct conn { void *data, *read, *write; int fd; };
struct up { void *h1, *h2; void *peer_connection; char pad[1000]; void *cleanup; };
struct req { unsigned sig; struct conn *connection; void *ctx[7]; void *cache; struct up *upstream;
	     void *pool; struct req *main; };

__attribute__((noinline)) void *ngx_pcalloc(void *pool, unsigned long n)
{
	(void)pool;
	return calloc(1, n);
}

__attribute__((noinline)) void ngx_http_upstream_cleanup(struct req *r)
{
	r->main = 0;
}

#ifdef NO_PATTERN
int ngx_http_upstream_create(struct req *r)
{
	return r ? 0 : -1;
}
#else
int ngx_http_upstream_create(struct req *r)
{
	struct up *u = r->upstream;

	if (u && u->cleanup)
		ngx_http_upstream_cleanup(r);
	u = ngx_pcalloc(r->pool, sizeof(*u));
	if (!u)
		return -1;
	r->upstream = u;
	return 0;
}
#endif

void ngx_http_upstream_init(struct req *r)
{
	r->connection->fd++;
}

long ngx_event_connect_peer(void *pc)
{
	return pc ? -2 : -1;
}

int main(int argc, char **argv)
{
	struct req r = { 0 };

	(void)argv;
	if (argc > 5)
		return ngx_http_upstream_create(&r);
	pause();
	return 0;
}
