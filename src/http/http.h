/* http.h — the HTTP surface: a small HTTP/1.1 server on the broker's libuv
 * loop (GET /metrics in Prometheus text format, GET /health), its request
 * parser (pure, fuzzed: fuzz/fuzz_http.c) and the metrics page (metrics.c).
 * The layout of a request, the limits and why they are safe are in http.c.
 *
 * Threads: everything runs on the loop thread that owns the broker, so the
 * metrics read the log and tiering state without locks.
 * Ownership: br_http_server owns its listener and connections; it borrows the
 * loop and the broker, which must outlive it (stop it before closing them). */
#ifndef BR_HTTP_H
#define BR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct uv_loop_s;
struct br_broker;

/* Bounds on one request: a request head (request line + headers) longer than
 * BR_HTTP_MAX_HEAD is refused with 431; a connection idle (no complete request
 * and no pending write) for idle_ms is closed. */
enum { BR_HTTP_MAX_HEAD = 8192, BR_HTTP_MAX_HEADERS = 64 };

/* A parsed request head. Pointers point into the parsed bytes. */
typedef struct br_http_req {
	const char *method;  /* "GET", ... (not NUL-terminated: method_len) */
	size_t method_len;
	const char *path;    /* the target without its query string */
	size_t path_len;
	const char *query;   /* after '?', or NULL */
	size_t query_len;
	int minor;           /* HTTP/1.<minor> */
	size_t head_len;     /* bytes of the head, blank line included */
	int64_t content_length; /* -1 when absent */
	bool chunked;        /* Transfer-Encoding present (we accept no bodies) */
	bool close;          /* Connection: close, or HTTP/1.0 without keep-alive */
} br_http_req;

/* Parses the request head at p[0..n). Returns 1 with *r filled when the head is
 * complete, 0 when more bytes are needed (n < BR_HTTP_MAX_HEAD), or a negative
 * HTTP status: -400 (malformed), -431 (head too large), -505 (not HTTP/1.x).
 * Lines end in CRLF or a bare LF; obsolete line folding is refused. O(n). */
int br_http_parse(const uint8_t *p, size_t n, br_http_req *r);

typedef struct br_http_opts {
	int64_t idle_ms;     /* default 10 s */
	int max_conns;       /* default 256; more are closed at accept */
} br_http_opts;

typedef struct br_http_server br_http_server;

/* Listens on host:port (port 0 picks a free one) and serves the broker's
 * metrics. */
int br_http_server_start(br_http_server **out, struct uv_loop_s *loop, const char *host, int port,
			 const br_http_opts *o, struct br_broker *b, br_err *err);
int br_http_server_port(const br_http_server *s);
/* Closes the listener and every connection (runs the loop until they closed). */
void br_http_server_stop(br_http_server *s);

/* The Prometheus text page (metrics.c): appends it to out. Loop thread. */
void br_http_metrics(struct br_broker *b, br_buf *out);

#endif
