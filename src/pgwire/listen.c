/* listen.c — the PostgreSQL listener on a libuv loop: accepts connections,
 * moves bytes between sockets and br_pg_conn state machines, routes
 * CancelRequests to the connection they name, and applies back-pressure
 * (a client that does not read its results stops being read from). */
#include <stdlib.h>
#include <sys/random.h>

#include <uv.h>

#include "base/listen.h"
#include "base/util.h"
#include "pgwire/pgwire.h"

/* Above this many unsent bytes a connection stops reading until its output
 * drains: one client cannot make the server buffer without bound. */
#define WRITE_HIGH (8u << 20)

typedef struct pconn {
	uv_tcp_t tcp;        /* first: the handle's address is the pconn's */
	struct pconn *prev, *next;
	br_pg_server *srv;
	br_pg_conn *pc;
	br_buf out;
	bool closing, paused;
} pconn;

typedef struct wreq {
	uv_write_t w;
	pconn *c;
	uint8_t *data;
} wreq;

struct br_pg_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	int port;
	br_pg_config cfg;
	char *server_version, *password;
	br_pg_executor ex;
	pconn *conns;
	int open_handles;
	int32_t next_pid;
};

static void on_handle_closed(uv_handle_t *h)
{
	br_pg_server *s = h->data;
	s->open_handles--;
}

static void on_conn_closed(uv_handle_t *h)
{
	pconn *c = (pconn *)h;
	br_pg_server *s = c->srv;
	br_pg_conn_free(c->pc);
	br_buf_free(&c->out);
	free(c);
	s->open_handles--;
}

static void conn_close(pconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char slab[65536]; /* the loop is single-threaded; data is consumed in on_read */
	(void)h;
	(void)hint;
	*b = uv_buf_init(slab, sizeof slab);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void on_write(uv_write_t *w, int status)
{
	wreq *r = (wreq *)w;
	pconn *c = r->c;
	free(r->data);
	free(r);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) < WRITE_HIGH / 2) {
		c->paused = false;
		uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	}
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	pconn *c = req->data;
	free(req);
	conn_close(c);
}

/* Sends what the state machine produced; closes after it when asked. */
static void flush(pconn *c, bool then_close)
{
	if (c->out.len) {
		wreq *r = br_xmalloc(sizeof *r);
		r->c = c;
		r->data = c->out.p;
		uv_buf_t b = uv_buf_init((char *)c->out.p, (unsigned)c->out.len);
		c->out = (br_buf){ 0 };
		if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, on_write)) {
			free(r->data);
			free(r);
			conn_close(c);
			return;
		}
	}
	if (then_close) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		uv_shutdown_t *sd = br_xmalloc(sizeof *sd);
		sd->data = c;
		if (uv_shutdown(sd, (uv_stream_t *)&c->tcp, on_shutdown)) {
			free(sd);
			conn_close(c);
		}
		return;
	}
	if (!c->paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_HIGH) {
		c->paused = true;
		uv_read_stop((uv_stream_t *)&c->tcp);
	}
}

/* br_pg_writer: stream bytes produced outside on_read (SUBSCRIBE deltas). */
static size_t write_async(void *arg, br_buf *out, bool close)
{
	pconn *c = arg;
	if (c->closing) {
		br_buf_reset(out);
		return 0;
	}
	br_buf_put(&c->out, out->p, out->len);
	br_buf_reset(out);
	flush(c, close);
	return c->closing ? 0 : uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

static void cancel(br_pg_server *s, br_pg_conn *from)
{
	int32_t pid, key;
	br_pg_conn_cancel_key(from, &pid, &key);
	for (pconn *c = s->conns; c; c = c->next)
		if (c->pc != from && br_pg_conn_pid(c->pc) == pid && br_pg_conn_key(c->pc) == key) {
			br_pg_conn_cancel(c->pc);
			return;
		}
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	pconn *c = (pconn *)st;
	if (c->closing)
		return;
	if (n < 0) {
		conn_close(c);
		return;
	}
	if (n == 0)
		return;
	int rc = br_pg_conn_feed(c->pc, (const uint8_t *)b->base, (size_t)n, &c->out);
	if (rc == BR_PG_CANCEL)
		cancel(c->srv, c->pc);
	flush(c, rc != 0);
}

static void on_connection(uv_stream_t *l, int status)
{
	br_pg_server *s = l->data;
	if (status < 0)
		return;
	pconn *c = br_xcalloc(1, sizeof *c);
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	s->open_handles++;
	if (uv_accept(l, (uv_stream_t *)&c->tcp)) {
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	int32_t key = 0;
	if (getrandom(&key, sizeof key, 0) != (ssize_t)sizeof key)
		key = (int32_t)br_mono_ns();
	s->next_pid = s->next_pid % 1000000000 + 1;
	c->pc = br_pg_conn_new(&s->cfg, s->ex, s->next_pid, key);
	br_pg_conn_set_writer(c->pc, write_async, c);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int br_pg_server_start(br_pg_server **out, uv_loop_t *loop, const char *host, int port, const br_pg_config *cfg,
		       br_pg_executor ex, br_err *err)
{
	br_pg_server *s = br_xcalloc(1, sizeof *s);
	s->loop = loop;
	s->ex = ex;
	if (cfg)
		s->cfg = *cfg;
	if (s->cfg.server_version)
		s->cfg.server_version = s->server_version = br_xstrdup(s->cfg.server_version);
	if (s->cfg.password)
		s->cfg.password = s->password = br_xstrdup(s->cfg.password);
	s->open_handles = 1;
	int rc = br_uv_listen(loop, &s->listener, s, host, port, on_connection, &s->port, "PostgreSQL listener", err);
	if (rc == BR_EINVAL) {
		free(s->server_version);
		free(s->password);
		free(s);
		return rc;
	}
	if (rc) {
		br_pg_server_stop(s);
		return rc;
	}
	*out = s;
	return 0;
}

int br_pg_server_port(const br_pg_server *s) { return s->port; }

void br_pg_server_stop(br_pg_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	if (!uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, on_handle_closed);
	/* close callbacks run on the next loop turns; NOWAIT never blocks on the
	 * other users' timers */
	for (int i = 0; s->open_handles > 0 && i < 1000; i++)
		uv_run(s->loop, UV_RUN_NOWAIT);
	free(s->server_version);
	free(s->password);
	free(s);
}
