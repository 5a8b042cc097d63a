/* http.c — the HTTP/1.1 listener on the broker's libuv loop and its request
 * parser. It serves a handful of read-only GET endpoints; the rest of the
 * HTTP surface (REST, console, Iceberg REST catalog) will be routed here.
 *
 * REQUEST (RFC 9112): request-line = method SP request-target SP "HTTP/1." DIGIT,
 * then header fields "name: value", then an empty line; lines end in CRLF (a
 * bare LF is accepted, as RFC 9112 2.2 allows). Only the head is read: the
 * endpoints take no body, so a request announcing one (Content-Length > 0 or
 * any Transfer-Encoding) is answered 413 and the connection closed, which
 * keeps the framing trivially safe (no request smuggling through bodies).
 *
 * LIMITS (hostile clients): a head is at most BR_HTTP_MAX_HEAD bytes and
 * BR_HTTP_MAX_HEADERS fields (else 431); a connection idle for idle_ms without
 * completing a request is closed (slowloris); at most max_conns connections
 * are open (more are closed at accept); every response says Connection: close
 * and the connection is shut down after it, so a client cannot pipeline an
 * unbounded queue of responses (what it still sends is read and dropped for
 * up to LINGER_MS, so the kernel does not reset the connection before the
 * client read the response). Responses are built whole in memory: the
 * metrics page is O(topics x partitions) lines.
 *
 * ENDPOINTS: GET/HEAD /metrics (Prometheus text format 0.0.4, metrics.c),
 * GET/HEAD /health ("ok"); other paths 404, other methods 405. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "base/listen.h"
#include "base/util.h"
#include "http/http.h"

/* ------------------------------------------------------------------ parser */

static bool is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The end of the line starting at p[i] (index of its '\n'), or n. */
static size_t line_end(const uint8_t *p, size_t n, size_t i)
{
	const uint8_t *q = memchr(p + i, '\n', n - i);
	return q ? (size_t)(q - p) : n;
}

/* Whether value v[0..len) (already trimmed) contains token tok as a list item. */
static bool has_token(const char *v, size_t len, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < len && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return true;
	}
	return false;
}

static int parse_header(const uint8_t *p, size_t s, size_t e, br_http_req *r, bool *keep_alive)
{
	size_t c = s;
	while (c < e && is_tchar(p[c]))
		c++;
	if (c == s || c >= e || p[c] != ':')
		return -400; /* no name, or whitespace before the colon (RFC 9112 5.1) */
	const char *name = (const char *)p + s;
	size_t nl = c - s;
	size_t vs = c + 1, ve = e;
	while (vs < ve && (p[vs] == ' ' || p[vs] == '\t'))
		vs++;
	while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
		ve--;
	for (size_t i = vs; i < ve; i++)
		if (p[i] < 0x20 && p[i] != '\t')
			return -400;
	const char *v = (const char *)p + vs;
	size_t vl = ve - vs;
	if (nl == 14 && !strncasecmp(name, "content-length", 14)) {
		if (!vl || vl > 15)
			return -400;
		int64_t n = 0;
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -400;
			n = n * 10 + (v[i] - '0');
		}
		if (r->content_length >= 0 && r->content_length != n)
			return -400; /* conflicting lengths: a smuggling attempt */
		r->content_length = n;
	} else if (nl == 17 && !strncasecmp(name, "transfer-encoding", 17)) {
		r->chunked = true;
	} else if (nl == 10 && !strncasecmp(name, "connection", 10)) {
		if (has_token(v, vl, "close"))
			r->close = true;
		if (has_token(v, vl, "keep-alive"))
			*keep_alive = true;
	}
	return 0;
}

int br_http_parse(const uint8_t *p, size_t n, br_http_req *r)
{
	memset(r, 0, sizeof *r);
	r->content_length = -1;
	size_t lim = n < BR_HTTP_MAX_HEAD ? n : BR_HTTP_MAX_HEAD;
	size_t i = 0;
	while (i < lim && (p[i] == '\r' || p[i] == '\n')) /* RFC 9112 2.2: ignore leading empty lines */
		i++;
	size_t e = line_end(p, lim, i);
	if (e == lim)
		return n >= BR_HTTP_MAX_HEAD ? -431 : 0;
	size_t le = e > i && p[e - 1] == '\r' ? e - 1 : e;
	/* method SP target SP version */
	size_t ms = i;
	while (i < le && is_tchar(p[i]))
		i++;
	if (i == ms || i >= le || p[i] != ' ')
		return -400;
	r->method = (const char *)p + ms;
	r->method_len = i - ms;
	size_t ts = ++i;
	while (i < le && p[i] > 0x20 && p[i] < 0x7f)
		i++;
	if (i == ts || i >= le || p[i] != ' ')
		return -400;
	size_t te = i;
	r->path = (const char *)p + ts;
	const uint8_t *qm = memchr(p + ts, '?', te - ts);
	r->path_len = (qm ? (size_t)(qm - p) : te) - ts;
	if (qm) {
		r->query = (const char *)qm + 1;
		r->query_len = te - (size_t)(qm - p) - 1;
	}
	i++;
	if (le - i != 8 || memcmp(p + i, "HTTP/", 5))
		return -400;
	if (p[i + 5] != '1' || p[i + 6] != '.' || p[i + 7] < '0' || p[i + 7] > '9')
		return -505;
	r->minor = p[i + 7] - '0';
	bool keep_alive = false;
	int nh = 0;
	for (i = e + 1;;) {
		if (i >= lim)
			return n >= BR_HTTP_MAX_HEAD ? -431 : 0;
		e = line_end(p, lim, i);
		if (e == lim)
			return n >= BR_HTTP_MAX_HEAD ? -431 : 0;
		le = e > i && p[e - 1] == '\r' ? e - 1 : e;
		if (le == i) { /* the empty line: end of the head */
			r->head_len = e + 1;
			break;
		}
		if (p[i] == ' ' || p[i] == '\t')
			return -400; /* obsolete line folding */
		if (++nh > BR_HTTP_MAX_HEADERS)
			return -431;
		int rc = parse_header(p, i, le, r, &keep_alive);
		if (rc)
			return rc;
		i = e + 1;
	}
	if (r->minor == 0 && !keep_alive)
		r->close = true;
	return 1;
}

/* ------------------------------------------------------------------ server */

#define LINGER_MS 2000

typedef struct hconn {
	uv_tcp_t tcp;         /* first: the handle's address is the hconn's */
	uv_timer_t timer;
	struct hconn *prev, *next;
	br_http_server *srv;
	uint8_t in[BR_HTTP_MAX_HEAD];
	size_t inlen;
	bool answered, closing;
	int handles;          /* open handles of this connection (tcp, timer) */
} hconn;

typedef struct hwrite {
	uv_write_t w;
	hconn *c;
	br_buf data;
} hwrite;

struct br_http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	int port;
	br_http_opts o;
	struct br_broker *broker;
	hconn *conns;
	int nconns;
	int open_handles;     /* listener + every connection's handles */
};

static void on_handle_closed(uv_handle_t *h)
{
	br_http_server *s = h->data;
	s->open_handles--;
}

static void on_conn_handle_closed(uv_handle_t *h)
{
	hconn *c = h->data;
	br_http_server *s = c->srv;
	s->open_handles--;
	if (--c->handles == 0)
		free(c);
}

static void conn_close(hconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	br_http_server *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_idle(uv_timer_t *t);

static void on_shutdown(uv_shutdown_t *sd, int status)
{
	hconn *c = sd->data;
	free(sd);
	if (status || c->closing)
		return conn_close(c);
	/* lingering close: read and drop what the client still sends until it
	 * closes or LINGER_MS pass, so unread request bytes do not make the
	 * kernel reset the connection before the client read our response */
	uv_timer_start(&c->timer, on_idle, LINGER_MS, 0);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_write(uv_write_t *w, int status)
{
	hwrite *hw = (hwrite *)w;
	br_buf_free(&hw->data);
	hconn *c = hw->c;
	free(hw);
	if (status || c->closing)
		return conn_close(c);
	/* Connection: close — one response per connection; FIN first */
	uv_shutdown_t *sd = br_xmalloc(sizeof *sd);
	sd->data = c;
	if (uv_shutdown(sd, (uv_stream_t *)&c->tcp, on_shutdown)) {
		free(sd);
		conn_close(c);
	}
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static void respond(hconn *c, int status, const char *ctype, const br_buf *body, bool head_only)
{
	c->answered = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_stop(&c->timer);
	hwrite *hw = br_xcalloc(1, sizeof *hw);
	hw->c = c;
	size_t blen = body ? body->len : 0;
	br_buf_printf(&hw->data,
		      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n"
		      "Cache-Control: no-store\r\n%s\r\n",
		      status, reason_of(status), ctype, blen, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (blen && !head_only)
		br_buf_put(&hw->data, body->p, blen);
	uv_buf_t b = uv_buf_init((char *)hw->data.p, (unsigned)hw->data.len);
	if (uv_write(&hw->w, (uv_stream_t *)&c->tcp, &b, 1, on_write)) {
		br_buf_free(&hw->data);
		free(hw);
		conn_close(c);
	}
}

static void respond_text(hconn *c, int status, const char *text, bool head_only)
{
	br_buf b = { 0 };
	br_buf_printf(&b, "%s\n", text);
	respond(c, status, "text/plain; charset=utf-8", &b, head_only);
	br_buf_free(&b);
}

static bool path_is(const br_http_req *r, const char *p)
{
	size_t n = strlen(p);
	return r->path_len == n && !memcmp(r->path, p, n);
}

static void route(hconn *c, const br_http_req *r)
{
	bool get = r->method_len == 3 && !memcmp(r->method, "GET", 3);
	bool head = r->method_len == 4 && !memcmp(r->method, "HEAD", 4);
	if (r->chunked || r->content_length > 0)
		return respond_text(c, 413, "request bodies are not accepted", false);
	bool metrics = path_is(r, "/metrics"), health = path_is(r, "/health");
	if (!metrics && !health)
		return respond_text(c, 404, "not found (try /metrics or /health)", head);
	if (!get && !head)
		return respond_text(c, 405, "method not allowed", false);
	if (health)
		return respond_text(c, 200, "ok", head);
	br_buf body = { 0 };
	br_http_metrics(c->srv->broker, &body);
	respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", &body, head);
	br_buf_free(&body);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	hconn *c = h->data;
	(void)hint;
	if (c->answered)
		c->inlen = 0; /* lingering: input is dropped */
	*b = uv_buf_init((char *)c->in + c->inlen, (unsigned)(sizeof c->in - c->inlen));
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	hconn *c = st->data;
	(void)buf;
	if (n == UV_ENOBUFS || n == 0)
		return;
	if (n < 0) {
		conn_close(c);
		return;
	}
	if (c->answered)
		return; /* lingering after the response: dropped */
	c->inlen += (size_t)n;
	br_http_req r;
	int rc = br_http_parse(c->in, c->inlen, &r);
	if (rc == 0 && c->inlen >= sizeof c->in)
		rc = -431;
	if (rc < 0)
		respond_text(c, -rc, reason_of(-rc), false);
	else if (rc > 0)
		route(c, &r);
}

static void on_idle(uv_timer_t *t)
{
	conn_close(t->data);
}

static void on_connection(uv_stream_t *l, int status)
{
	br_http_server *s = l->data;
	if (status < 0)
		return;
	hconn *c = br_xcalloc(1, sizeof *c);
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	uv_timer_init(s->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	s->open_handles += 2;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) || s->nconns > s->o.max_conns) {
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, on_idle, (uint64_t)s->o.idle_ms, 0);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int br_http_server_start(br_http_server **out, uv_loop_t *loop, const char *host, int port, const br_http_opts *o,
			 struct br_broker *b, br_err *err)
{
	br_http_server *s = br_xcalloc(1, sizeof *s);
	s->loop = loop;
	s->broker = b;
	if (o)
		s->o = *o;
	if (s->o.idle_ms <= 0)
		s->o.idle_ms = 10000;
	if (s->o.max_conns <= 0)
		s->o.max_conns = 256;
	s->open_handles = 1;
	int rc = br_uv_listen(loop, &s->listener, s, host, port, on_connection, &s->port, "HTTP listener", err);
	if (rc == BR_EINVAL) {
		free(s);
		return rc;
	}
	if (rc) {
		br_http_server_stop(s);
		return rc;
	}
	*out = s;
	return 0;
}

int br_http_server_port(const br_http_server *s) { return s->port; }

void br_http_server_stop(br_http_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	if (!uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, on_handle_closed);
	/* close callbacks (and write callbacks cancelled by the close) run on the
	 * next loop turns; NOWAIT never blocks on the other users' timers */
	for (int i = 0; s->open_handles > 0 && i < 1000; i++)
		uv_run(s->loop, UV_RUN_NOWAIT);
	free(s);
}
