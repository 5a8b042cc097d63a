/* server.c — the broker's network side: a libuv TCP server reading Kafka request
 * frames, dispatching them to handlers, and writing responses back in request
 * order; plus the timers that drive group commit, parked fetches, group timeouts
 * and retention.
 *
 * Framing: every request and response is a be32 size followed by that many bytes.
 * A request header is api_key i16, api_version i16, correlation_id i32, client_id
 * (i16-length nullable string, never compact), then a tagged-field section when
 * the API version is flexible (header v2). A response header is correlation_id i32
 * plus a tagged-field section when flexible (header v1) — except ApiVersions,
 * whose response header is always v0 so a client can parse it before it knows
 * what the broker speaks.
 *
 * Ordering: Kafka clients pipeline requests and expect responses in order on each
 * connection. Each request takes a slot in its connection's FIFO when it arrives;
 * a slot is filled at once or later (produce waiting for fsync, fetch waiting for
 * data, JoinGroup waiting for the rebalance), and slots are written out from the
 * head as they fill. A slot outlives its connection if needed: its owner finishes
 * it and it is freed then.
 *
 * Durability: a produce is answered only when a flush covering its append has
 * completed (see log.h: begin/run/end). Flushes run on libuv's thread pool, one at
 * a time, every flush_ms (0 = as soon as anything is written). */
#include "kafka/broker.h"
#include "tier/tier.h" /* tier hook */

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/util.h"
#include "kafka/handlers.h"

#define MAX_PENDING_WRITE (64 << 20) /* stop reading from a client this far behind */

struct br_kslot {
	br_kslot *next;
	br_kconn *conn;    /* NULL once the connection is gone */
	bool done;
	br_buf out;        /* the whole response frame */
	size_t body_start; /* where the body begins in out */
	int16_t key;       /* metrics hook: the request's API key */
};

struct br_kconn {
	uv_tcp_t tcp;
	br_broker *b;
	br_kconn *prev, *next; /* all connections */
	br_buf in;
	br_kslot *head, *tail;
	size_t writing;    /* bytes handed to uv_write, not yet completed */
	bool closing, paused;
	br_buf *capture;   /* br_broker_handle_frame: collect responses here */
	char peer[64];     /* ip:port, for log lines */
	char host[48];     /* "/ip", for DescribeGroups */
};

typedef struct durable_waiter {
	struct durable_waiter *next;
	uint64_t seq;
	br_kslot *slot;
	int64_t t0; /* when it started waiting (tracing only) */
} durable_waiter;

typedef struct parked {
	struct parked *next;
	br_kreq req;       /* body points into body_copy */
	uint8_t *body_copy;
	int64_t deadline_ms;
	br_kretry fn;
} parked;

struct br_broker {
	br_broker_opts o;
	br_broker_durable_fn durable_fn; /* after a flush moved high watermarks (SQL views follow) */
	void *durable_arg;
	char *data_dir, *host, *adv_host;
	uv_loop_t loop;
	uv_tcp_t listener;
	uv_timer_t flush_timer, tick_timer, retention_timer;
	uv_async_t stop_async;
	uv_signal_t sigint, sigterm;
	uv_work_t flush_work[4];
	size_t flush_parts, flush_left;
	br_flush *flush;   /* the data flush in flight (acks wait for it) */
	uv_work_t isync_work;
	br_flush *isync;   /* the index sync in flight (append times; nobody waits) */
	uv_work_t trim_work;
	br_trim *trim;     /* the trim round in flight (blocks of deleted segments, log.h) */
	bool flush_wanted;
	int64_t last_flush_ns, last_isync_ns;
	int64_t flush_t0, isync_t0, iter_t0; /* tracing: flush / index sync queued, loop woke */
	uv_prepare_t trace_prepare;
	uv_check_t trace_check;
	int port;
	br_log *log;
	br_groups *groups;
	br_kconn *conns;
	durable_waiter *wait_head, *wait_tail;
	parked *parked;
	bool running, fatal;
	br_buf scratch;
	int lock_fd;
	/* tier hook: topic -> table tiering (src/tier), polled on tick_timer and woken by tier_async */
	br_tier *tier;
	uv_async_t tier_async;
	br_broker_stats stats; /* metrics hook (src/http) */
};

void br_broker_opts_default(br_broker_opts *o)
{
	memset(o, 0, sizeof *o);
	o->data_dir = "braid-data";
	o->host = "127.0.0.1";
	o->port = 9092;
	o->auto_create_topics = true;
	o->flush_ms = 1;
	o->max_request_bytes = 100 << 20;
	o->retention_check_ms = 60000;
	o->tiering = true;
	br_log_opts_default(&o->log);
}

const br_broker_stats *br_broker_stats_get(const br_broker *b) { return &b->stats; }
struct br_tier *br_broker_tier(br_broker *b) { return b->tier; }

br_log *br_broker_log(br_broker *b) { return b->log; }
br_groups *br_broker_groups(br_broker *b) { return b->groups; }
const br_broker_opts *br_broker_options(const br_broker *b) { return &b->o; }
const char *br_broker_advertised_host(const br_broker *b) { return b->adv_host; }
int br_broker_port(const br_broker *b) { return b->port; }
/* pgwire hook: other listeners share the broker's loop */
uv_loop_t *br_broker_loop(br_broker *b) { return &b->loop; }

/* ---- slots and writing ---- */

static void slot_free(br_kslot *s)
{
	br_buf_free(&s->out);
	free(s);
}

typedef struct write_req {
	uv_write_t req;
	br_kconn *conn;
	br_buf data;
} write_req;

static void conn_close(br_kconn *c);
static void conn_resume(br_kconn *c);
static void flush_start(br_broker *b);

static void on_write(uv_write_t *w, int status)
{
	write_req *wr = (write_req *)w;
	br_kconn *c = wr->conn;
	c->writing -= wr->data.len;
	br_buf_free(&wr->data);
	free(wr);
	if (status < 0 && !c->closing)
		conn_close(c);
	else if (c->paused && !c->closing && c->writing < MAX_PENDING_WRITE / 2)
		conn_resume(c);
}

/* Sends every finished slot at the head of the connection's FIFO. */
static void conn_drain(br_kconn *c)
{
	while (c->head && c->head->done) {
		br_kslot *s = c->head;
		c->head = s->next;
		if (!c->head)
			c->tail = NULL;
		if (c->capture) {
			br_buf_put(c->capture, s->out.p, s->out.len);
			slot_free(s);
			continue;
		}
		if (c->closing) {
			slot_free(s);
			continue;
		}
		write_req *wr = br_xcalloc(1, sizeof *wr);
		wr->conn = c;
		wr->data = s->out; /* moves the bytes: no copy */
		free(s);
		uv_buf_t buf = uv_buf_init((char *)wr->data.p, (unsigned)wr->data.len);
		c->writing += wr->data.len;
		int rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
		if (rc) {
			c->writing -= wr->data.len;
			br_buf_free(&wr->data);
			free(wr);
			conn_close(c);
			return;
		}
	}
}

static void slot_complete(br_kslot *s)
{
	br_wr_be32(s->out.p, (uint32_t)(s->out.len - 4));
	if (s->conn && s->key >= 0 && s->key < BR_KSTATS_APIS) /* metrics hook */
		s->conn->b->stats.bytes_out[s->key] += (int64_t)s->out.len;
	s->done = true;
	if (s->conn)
		conn_drain(s->conn);
	else
		slot_free(s);
}

br_kslot *br_kreq_defer(br_kreq *req) { return req->slot; }
const char *br_kconn_peer(const br_kconn *c) { return c->host; }
bool br_kslot_alive(const br_kslot *s) { return s->conn != NULL && !s->conn->closing; }

void br_kslot_finish(br_kslot *s, const br_buf *body)
{
	if (body)
		br_buf_put(&s->out, body->p, body->len);
	slot_complete(s);
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
	br_kconn *c = h->data;
	br_buf_free(&c->in);
	free(c);
}

static void conn_close(br_kconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	/* finished slots go now; pending ones are orphaned and freed by their owner */
	br_kslot *s = c->head;
	while (s) {
		br_kslot *next = s->next;
		if (s->done)
			slot_free(s);
		else
			s->conn = NULL;
		s = next;
	}
	c->head = c->tail = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else if (c->b->conns == c)
		c->b->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (!c->capture)
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static br_kslot *slot_new(br_kconn *c)
{
	br_kslot *s = br_xcalloc(1, sizeof *s);
	s->conn = c;
	if (c->tail)
		c->tail->next = s;
	else
		c->head = s;
	c->tail = s;
	return s;
}

/* Removes a slot that will never be answered (acks=0); it is the tail. */
static void slot_drop(br_kconn *c, br_kslot *s)
{
	br_kslot **pp = &c->head, *prev = NULL;
	while (*pp && *pp != s) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp)
		*pp = s->next;
	if (c->tail == s)
		c->tail = prev;
	slot_free(s);
	conn_drain(c);
}

static void process_frame(br_kconn *c, uint8_t *frame, size_t len)
{
	br_broker *b = c->b;
	br_cur cur = br_cur_make(frame, len);
	br_kreq r = { 0 };
	r.key = br_kr_i16(&cur);
	r.version = br_kr_i16(&cur);
	r.correlation_id = br_kr_i32(&cur);
	r.client_id = br_kr_str(&cur, false);
	r.conn = c;
	r.now_ms = br_now_ms();
	if (cur.bad) {
		br_info("%s: truncated request header, closing", c->peer);
		conn_close(c);
		return;
	}
	const br_kapi *api = br_kapi_find(r.key);
	bool supported = api && r.version >= api->min && r.version <= api->max;
	if (!api || (!supported && r.key != BR_API_API_VERSIONS)) {
		br_info("%s: %s api key %d version %d, closing", c->peer, api ? "unsupported" : "unknown", r.key, r.version);
		conn_close(c);
		return;
	}
	r.flex = supported && api->flex_min >= 0 && r.version >= api->flex_min;
	br_kr_tags(&cur, r.flex);
	if (cur.bad) {
		conn_close(c);
		return;
	}
	r.body = br_cur_make(cur.p + cur.pos, cur.len - cur.pos);
	br_kslot *s = slot_new(c);
	r.slot = s;
	s->key = r.key;
	if (r.key >= 0 && r.key < BR_KSTATS_APIS) { /* metrics hook */
		b->stats.requests[r.key]++;
		b->stats.bytes_in[r.key] += (int64_t)len + 4;
	}
	br_buf_be32(&s->out, 0); /* size, filled at completion */
	br_buf_be32(&s->out, (uint32_t)r.correlation_id);
	if (r.flex && r.key != BR_API_API_VERSIONS)
		br_kw_tags(&s->out, true);
	s->body_start = s->out.len;
	int64_t t0 = BR_TRACE_T0();
	int rc = api->fn(b, &r, &s->out);
	br_trace_slow(t0, "%s v%d request from %s (%zu bytes)", api->name, r.version, c->peer, len);
	switch (rc) {
	case 0:
		slot_complete(s);
		break;
	case BR_KDEFER:
		break;
	case BR_KNORESP:
		slot_drop(c, s);
		break;
	default:
		br_info("%s: malformed %s v%d request (correlation id %d), closing", c->peer, api->name, r.version, r.correlation_id);
		s->done = true;
		s->out.len = 0;
		conn_close(c);
		break;
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	br_kconn *c = h->data;
	size_t want = 64 * 1024;
	if (c->in.len >= 4) { /* read the rest of a large frame in one go */
		size_t frame = (size_t)br_rd_be32(c->in.p) + 4;
		if (frame > c->in.len && frame - c->in.len > want && frame <= (size_t)c->b->o.max_request_bytes + 4)
			want = frame - c->in.len;
	}
	br_buf_reserve(&c->in, want);
	*buf = uv_buf_init((char *)c->in.p + c->in.len, (unsigned)(c->in.cap - c->in.len));
	(void)suggested;
}

static void conn_consume(br_kconn *c)
{
	size_t pos = 0;
	while (!c->closing && c->in.len - pos >= 4) {
		int32_t size = (int32_t)br_rd_be32(c->in.p + pos);
		if (size < 0 || size > c->b->o.max_request_bytes) {
			br_info("%s: request frame of %d bytes exceeds the limit of %" PRId64 ", closing", c->peer, size,
			        c->b->o.max_request_bytes);
			conn_close(c);
			return;
		}
		if (c->in.len - pos - 4 < (size_t)size)
			break;
		process_frame(c, c->in.p + pos + 4, (size_t)size);
		pos += 4 + (size_t)size;
	}
	if (c->closing)
		return;
	memmove(c->in.p, c->in.p + pos, c->in.len - pos);
	c->in.len -= pos;
	if (c->in.cap > (4 << 20) && c->in.len < (1 << 20)) { /* give back a big frame's memory */
		br_buf small = { 0 };
		br_buf_put(&small, c->in.p, c->in.len);
		br_buf_free(&c->in);
		c->in = small;
	}
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	br_kconn *c = st->data;
	(void)buf;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->in.len += (size_t)n;
	conn_consume(c);
	if (!c->closing && c->writing > MAX_PENDING_WRITE) {
		uv_read_stop(st);
		c->paused = true;
	}
	if (!c->closing && br_log_write_seq(c->b->log) != br_log_durable_seq(c->b->log))
		flush_start(c->b);
}

static void conn_resume(br_kconn *c)
{
	c->paused = false;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_connection(uv_stream_t *server, int status)
{
	br_broker *b = server->data;
	if (status < 0)
		return;
	br_kconn *c = br_xcalloc(1, sizeof *c);
	c->b = b;
	uv_tcp_init(&b->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	struct sockaddr_storage ss;
	int len = sizeof ss;
	snprintf(c->peer, sizeof c->peer, "client");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
		char ip[32];
		uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
		snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
		snprintf(c->host, sizeof c->host, "/%s", ip);
	}
	c->next = b->conns;
	if (b->conns)
		b->conns->prev = c;
	b->conns = c;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- durability waiters and parked requests ---- */

int br_broker_defer_until_durable(br_broker *b, br_kreq *r, uint64_t seq, const br_buf *body)
{
	br_kslot *s = r->slot;
	br_buf_put(&s->out, body->p, body->len);
	if (seq <= br_log_durable_seq(b->log)) {
		slot_complete(s);
		return BR_KDEFER;
	}
	durable_waiter *w = br_xcalloc(1, sizeof *w);
	w->seq = seq;
	w->slot = s;
	w->t0 = BR_TRACE_T0();
	if (b->wait_tail)
		b->wait_tail->next = w;
	else
		b->wait_head = w;
	b->wait_tail = w;
	return BR_KDEFER;
}

static void release_waiters(br_broker *b)
{
	uint64_t durable = br_log_durable_seq(b->log);
	while (b->wait_head && b->wait_head->seq <= durable) {
		durable_waiter *w = b->wait_head;
		b->wait_head = w->next;
		if (!b->wait_head)
			b->wait_tail = NULL;
		br_trace_slow(w->t0, "produce answered after waiting for durability");
		slot_complete(w->slot);
		free(w);
	}
}

int br_broker_park(br_broker *b, br_kreq *r, int64_t deadline_ms, br_kretry fn)
{
	parked *p = br_xcalloc(1, sizeof *p);
	p->req = *r;
	size_t n = r->body.len;
	p->body_copy = br_xmalloc(n);
	memcpy(p->body_copy, r->body.p, n);
	p->req.body = br_cur_make(p->body_copy, n);
	p->req.conn = NULL;
	p->deadline_ms = deadline_ms;
	p->fn = fn;
	p->next = b->parked;
	b->parked = p;
	return BR_KDEFER;
}

/* Re-runs parked requests: all of them when data arrived, only the expired ones
 * otherwise. */
static void retry_parked(br_broker *b, bool data_arrived)
{
	int64_t now = br_now_ms();
	parked **pp = &b->parked;
	while (*pp) {
		parked *p = *pp;
		bool final = now >= p->deadline_ms || b->fatal || !br_kslot_alive(p->req.slot);
		if (!final && !data_arrived) {
			pp = &p->next;
			continue;
		}
		p->req.now_ms = now;
		p->req.body.pos = 0;
		p->req.body.bad = false;
		br_buf_reset(&b->scratch);
		int rc = br_kslot_alive(p->req.slot) ? p->fn(b, &p->req, &b->scratch, final) : 0;
		if (rc == BR_KDEFER && !final) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		br_kslot_finish(p->req.slot, rc == 0 ? &b->scratch : NULL);
		free(p->body_copy);
		free(p);
	}
}

/* ---- group commit ---- */

/* Group commit. A flush starts as soon as something is written and no flush is in
 * flight, but not sooner than flush_ms after the previous one started: under light
 * load a produce waits for one fsync only; under heavy load the appends of a whole
 * interval share one. The files of a flush are fsynced in parallel on libuv's
 * thread pool (the data and index of one segment, and different partitions, are
 * independent), so a flush costs about one fsync, not one per file. */
static void flush_work(uv_work_t *w)
{
	br_broker *b = w->data;
	br_log_flush_run_part(b->flush, (size_t)(w - b->flush_work), b->flush_parts);
}

static void flush_done(uv_work_t *w, int status)
{
	br_broker *b = w->data;
	br_err err = { 0 };
	(void)status;
	if (--b->flush_left)
		return;
	br_trace_slow(b->flush_t0, "data flush of %zu file(s), from queueing to done", br_log_flush_files(b->flush));
	int64_t t0 = BR_TRACE_T0();
	if (br_log_flush_end(b->log, b->flush, &err)) {
		/* After a failed fsync nothing later can be promised (the kernel may have
		 * dropped the dirty pages): stop accepting work, as PostgreSQL does. */
		br_logf(BR_LOG_ERROR, "%s; stopping the broker", err.msg);
		b->fatal = true;
		br_broker_stop(b);
	}
	b->flush = NULL;
	release_waiters(b);
	retry_parked(b, true);
	br_trace_slow(t0, "flush end: answering produces and parked fetches");
	if (b->flush_wanted || br_log_write_seq(b->log) != br_log_durable_seq(b->log))
		flush_start(b);
	/* after the next flush started: the views' step never delays a commit */
	if (b->durable_fn)
		b->durable_fn(b->durable_arg);
}

/* A whole flush (data and indexes) on the calling thread (shutdown,
 * br_broker_handle_frame), then the produces it covers are answered. No flush
 * may be in flight. */
static void flush_sync(br_broker *b, const char *what)
{
	br_flush *f = br_log_flush_begin(b->log);
	if (f) {
		br_log_flush_run(f);
		br_err err = { 0 };
		if (br_log_flush_end(b->log, f, &err))
			br_logf(BR_LOG_ERROR, "%s: %s", what, err.msg);
	}
	release_waiters(b);
}

void br_broker_on_durable(br_broker *b, br_broker_durable_fn fn, void *arg)
{
	b->durable_fn = fn;
	b->durable_arg = arg;
}

static void on_flush_timer(uv_timer_t *t)
{
	flush_start(t->data);
}

static void tier_poll(br_broker *b);

/* The index sync (log.c): the .index files, off the ack path, about every
 * ISYNC_MS. It starts together with a data flush when one is starting (both
 * fdatasyncs then share one ext4 journal commit; an index sync running alone
 * would commit by itself, and a data flush arriving meanwhile would wait for
 * that commit and then its own: measured as a worse p99), or from the tick when
 * no produce is flowing. */
#define ISYNC_MS 100
static void isync_work(uv_work_t *w)
{
	br_broker *b = w->data;
	br_log_flush_run(b->isync);
}

static void isync_done(uv_work_t *w, int status)
{
	br_broker *b = w->data;
	br_err err = { 0 };
	(void)status;
	br_trace_slow(b->isync_t0, "index sync of %zu file(s), from queueing to done", br_log_flush_files(b->isync));
	if (br_log_flush_end(b->log, b->isync, &err)) {
		br_logf(BR_LOG_ERROR, "%s (index); stopping the broker", err.msg);
		b->fatal = true;
		br_broker_stop(b);
	}
	b->isync = NULL;
	tier_poll(b); /* append times just became readable */
}

static void isync_start(br_broker *b)
{
	if (b->isync || b->fatal || br_mono_ns() - b->last_isync_ns < ISYNC_MS * 1000000LL ||
	    !br_log_index_sync_wanted(b->log))
		return;
	b->last_isync_ns = br_mono_ns();
	b->isync = br_log_flush_begin_what(b->log, BR_FLUSH_INDEX);
	if (!b->isync)
		return;
	b->isync_work.data = b;
	b->isync_t0 = BR_TRACE_T0();
	uv_queue_work(&b->loop, &b->isync_work, isync_work, isync_done);
}

static void flush_start(br_broker *b)
{
	if (b->flush) {
		b->flush_wanted = true;
		return;
	}
	b->flush_wanted = false;
	if (b->fatal)
		return;
	int64_t now = br_mono_ns(), wait_ms = (b->last_flush_ns + b->o.flush_ms * 1000000 - now + 999999) / 1000000;
	if (b->o.flush_ms > 0 && wait_ms > 0) {
		if (!uv_is_active((uv_handle_t *)&b->flush_timer))
			uv_timer_start(&b->flush_timer, on_flush_timer, (uint64_t)wait_ms, 0);
		return;
	}
	b->flush = br_log_flush_begin_what(b->log, BR_FLUSH_DATA);
	if (!b->flush)
		return;
	b->last_flush_ns = now;
	size_t files = br_log_flush_files(b->flush);
	b->flush_parts = files < BR_ARRAY_LEN(b->flush_work) ? (files ? files : 1) : BR_ARRAY_LEN(b->flush_work);
	b->flush_left = b->flush_parts;
	b->flush_t0 = BR_TRACE_T0();
	for (size_t i = 0; i < b->flush_parts; i++) {
		b->flush_work[i].data = b;
		uv_queue_work(&b->loop, &b->flush_work[i], flush_work, flush_done);
	}
	isync_start(b); /* when due: alongside, in the same journal commit */
}

void br_broker_flush_soon(br_broker *b) { flush_start(b); }

/* tier hook: the tier thread finished a job (called on the tier thread). */
static void tier_wake(void *arg)
{
	br_broker *b = arg;
	uv_async_send(&b->tier_async);
}

/* tier hook: run the tiering scheduler; its dead-letter appends need a flush. */
static void tier_poll(br_broker *b)
{
	int64_t t0 = br_mono_ns();
	if (b->tier && br_tier_poll(b->tier, br_now_ms()) > 0)
		flush_start(b);
	int64_t dt = (br_mono_ns() - t0) / 1000000;
	if (dt > 50) /* it should only plan (index lookups): say so if it ever stalls */
		br_warn("tier poll held the loop for %lld ms", (long long)dt);
}

static void on_tier_async(uv_async_t *a)
{
	tier_poll(a->data);
}

/* One trim round per tick: deleted segments' blocks go a few MiB at a time
 * (log.c: gentle deletion), on the thread pool. */
static void trim_work(uv_work_t *w)
{
	br_broker *b = w->data;
	br_log_trim_run(b->trim);
}

static void trim_done(uv_work_t *w, int status)
{
	br_broker *b = w->data;
	(void)status;
	br_log_trim_end(b->log, b->trim);
	b->trim = NULL;
}

static void trim_start(br_broker *b)
{
	if (b->trim || !(b->trim = br_log_trim_begin(b->log)))
		return;
	b->trim_work.data = b;
	uv_queue_work(&b->loop, &b->trim_work, trim_work, trim_done);
}

static void on_tick(uv_timer_t *t)
{
	br_broker *b = t->data;
	int64_t t0 = BR_TRACE_T0();
	br_groups_tick(b->groups, br_now_ms());
	retry_parked(b, false);
	if (!b->flush) /* else the next data flush takes it along */
		isync_start(b);
	tier_poll(b); /* tier hook */
	trim_start(b);
	br_trace_slow(t0, "tick (groups, parked fetches, index sync, tiering)");
}

static void on_retention(uv_timer_t *t)
{
	br_broker *b = t->data;
	int64_t t0 = BR_TRACE_T0();
	int n = br_log_enforce_retention(b->log, br_now_ms());
	br_trace_slow(t0, "retention (%d segment(s) deleted)", n);
	if (n)
		br_info("retention: deleted %d segment(s)", n);
}

/* ---- lifecycle ---- */

br_topic *br_broker_topic_auto(br_broker *b, br_kstr name, bool create)
{
	if (name.len < 0)
		return NULL;
	br_topic *t = br_log_topic(b->log, name.p, (size_t)name.len);
	if (t || !create || !b->o.auto_create_topics || br_topic_name_check(name.p, (size_t)name.len, NULL))
		return t;
	char tmp[256];
	snprintf(tmp, sizeof tmp, "%.*s", name.len, name.p);
	br_err err = { 0 };
	if (br_log_create_topic(b->log, tmp, (int32_t)b->o.log.default_partitions, NULL, 0, &err)) {
		br_warn("auto-create topic %s: %s", tmp, err.msg);
		return NULL;
	}
	br_info("created topic %s with %" PRId64 " partition(s) (auto-create)", tmp, b->o.log.default_partitions);
	return br_log_topic(b->log, name.p, (size_t)name.len);
}

/* One process per data directory: an exclusive flock on <data>/LOCK, released by
 * the kernel when the process dies, so a crash never leaves a stale lock. */
static int lock_data_dir(const char *dir, int *fd_out, br_err *err)
{
	char *path = br_xasprintf("%s/LOCK", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int rc = 0;
	if (fd < 0)
		rc = br_errno(err, BR_EIO, "open %s", path);
	else if (flock(fd, LOCK_EX | LOCK_NB)) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		rc = br_errf(err, BR_EEXIST, "data directory %s is in use by another braid process%s%s%s", dir,
		             pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
		close(fd);
		fd = -1;
	} else {
		char pid[32];
		int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
		if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
			br_warn("cannot write pid to %s", path);
	}
	free(path);
	*fd_out = fd;
	return rc;
}

int br_broker_open(br_broker **out, const br_broker_opts *o, br_err *err)
{
	br_broker *b = br_xcalloc(1, sizeof *b);
	b->o = *o;
	b->data_dir = br_xstrdup(o->data_dir);
	b->host = br_xstrdup(o->host ? o->host : "127.0.0.1");
	b->adv_host = br_xstrdup(o->advertised_host ? o->advertised_host : b->host);
	b->o.data_dir = b->data_dir;
	b->o.host = b->host;
	char *logdir = br_xasprintf("%s/log", b->data_dir), *gdir = br_xasprintf("%s/groups", b->data_dir);
	b->o.log.dir = logdir;
	b->lock_fd = -1;
	br_trace_init();
	int rc = br_mkdirs(b->data_dir, err);
	if (!rc)
		rc = lock_data_dir(b->data_dir, &b->lock_fd, err);
	if (!rc)
		rc = br_log_open(&b->log, &b->o.log, err);
	if (!rc)
		rc = br_groups_open(&b->groups, b, gdir, err);
	free(logdir);
	free(gdir);
	b->o.log.dir = NULL;
	if (!rc && uv_loop_init(&b->loop))
		rc = br_errf(err, BR_EIO, "cannot initialise the event loop");
	if (rc) {
		br_groups_close(b->groups);
		br_log_close(b->log);
		if (b->lock_fd >= 0)
			close(b->lock_fd);
		free(b->data_dir);
		free(b->host);
		free(b->adv_host);
		free(b);
		return rc;
	}
	struct sockaddr_storage addr;
	int urc = uv_ip4_addr(b->host, o->port, (struct sockaddr_in *)&addr);
	if (urc)
		urc = uv_ip6_addr(b->host, o->port, (struct sockaddr_in6 *)&addr);
	uv_tcp_init(&b->loop, &b->listener);
	b->listener.data = b;
	if (!urc)
		urc = uv_tcp_bind(&b->listener, (struct sockaddr *)&addr, 0);
	if (!urc)
		urc = uv_listen((uv_stream_t *)&b->listener, 1024, on_connection);
	if (urc) {
		rc = br_errf(err, BR_EIO, "cannot listen for Kafka clients on %s:%d: %s", b->host, o->port, uv_strerror(urc));
		br_broker_close(b);
		return rc;
	}
	struct sockaddr_storage bound;
	int blen = sizeof bound;
	uv_tcp_getsockname(&b->listener, (struct sockaddr *)&bound, &blen);
	b->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	uv_timer_init(&b->loop, &b->flush_timer);
	uv_timer_init(&b->loop, &b->tick_timer);
	uv_timer_init(&b->loop, &b->retention_timer);
	b->flush_timer.data = b->tick_timer.data = b->retention_timer.data = b;
	/* tier hook */
	uv_async_init(&b->loop, &b->tier_async, on_tier_async);
	b->tier_async.data = b;
	br_tier_opts to = { .data_dir = b->data_dir, .wake = tier_wake, .wake_arg = b, .priority = b->o.tier_priority,
			    .threads = b->o.tier_threads, .spread = b->o.tier_spread };
	if (b->o.tiering && (rc = br_tier_open(&b->tier, b->log, &to, err))) {
		br_broker_close(b);
		return rc;
	}
	*out = b;
	return 0;
}

/* Tracing: the loop's work between two polls (check runs right after the poll
 * returns, prepare right before the next one blocks). */
static void on_trace_check(uv_check_t *h)
{
	br_broker *b = h->data;
	b->iter_t0 = br_mono_ns();
}

static void on_trace_prepare(uv_prepare_t *h)
{
	br_broker *b = h->data;
	br_trace_slow(b->iter_t0, "event-loop iteration (work between two polls)");
	b->iter_t0 = 0;
}

static void on_stop(uv_async_t *a)
{
	br_broker *b = a->data;
	uv_stop(&b->loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
	br_broker *b = s->data;
	br_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
	uv_stop(&b->loop);
}

void br_broker_stop(br_broker *b)
{
	if (b->running)
		uv_async_send(&b->stop_async);
}

int br_broker_run(br_broker *b, bool handle_signals)
{
	uv_async_init(&b->loop, &b->stop_async, on_stop);
	b->stop_async.data = b;
	if (handle_signals) {
		uv_signal_init(&b->loop, &b->sigint);
		uv_signal_init(&b->loop, &b->sigterm);
		b->sigint.data = b->sigterm.data = b;
		uv_signal_start(&b->sigint, on_signal, SIGINT);
		uv_signal_start(&b->sigterm, on_signal, SIGTERM);
	}
	uv_timer_start(&b->tick_timer, on_tick, 100, 100);
	if (br_trace_slow_ns) {
		uv_prepare_init(&b->loop, &b->trace_prepare);
		uv_check_init(&b->loop, &b->trace_check);
		b->trace_prepare.data = b->trace_check.data = b;
		uv_prepare_start(&b->trace_prepare, on_trace_prepare);
		uv_check_start(&b->trace_check, on_trace_check);
	}
	uv_timer_start(&b->retention_timer, on_retention, (uint64_t)b->o.retention_check_ms, (uint64_t)b->o.retention_check_ms);
	b->running = true;
	uv_run(&b->loop, UV_RUN_DEFAULT);
	b->running = false;
	return b->fatal ? BR_EIO : 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (uv_is_closing(h))
		return;
	br_kconn *c = h->data;
	if (h->type == UV_TCP && c && h != (uv_handle_t *)&((br_broker *)arg)->listener) {
		conn_close(c);
		return;
	}
	uv_close(h, NULL);
}

void br_broker_close(br_broker *b)
{
	if (!b)
		return;
	/* no retention check from here on: the tier closes below, and with it
	 * the guard that keeps what the lake does not hold yet */
	uv_timer_stop(&b->retention_timer);
	/* finish the flush in flight, then one last flush so every produce can be
	 * answered truthfully before the connections go */
	while (b->flush || b->isync || b->trim)
		uv_run(&b->loop, UV_RUN_ONCE);
	flush_sync(b, "final flush");
	br_tier_close(b->tier); /* tier hook: waits for the job in flight */
	b->tier = NULL;
	while (b->parked) {
		parked *p = b->parked;
		b->parked = p->next;
		br_buf_reset(&b->scratch);
		p->req.body.pos = 0;
		int rc = br_kslot_alive(p->req.slot) ? p->fn(b, &p->req, &b->scratch, true) : 1;
		br_kslot_finish(p->req.slot, rc == 0 ? &b->scratch : NULL);
		free(p->body_copy);
		free(p);
	}
	uv_run(&b->loop, UV_RUN_NOWAIT); /* let the last responses go out */
	uv_walk(&b->loop, close_walk, b);
	uv_run(&b->loop, UV_RUN_DEFAULT);
	uv_loop_close(&b->loop);
	while (b->wait_head) { /* answered only if durable; the rest are dropped */
		durable_waiter *w = b->wait_head;
		b->wait_head = w->next;
		if (w->slot->conn == NULL)
			slot_free(w->slot);
		free(w);
	}
	br_groups_close(b->groups);
	br_log_close(b->log);
	if (b->lock_fd >= 0)
		close(b->lock_fd);
	br_buf_free(&b->scratch);
	free(b->data_dir);
	free(b->host);
	free(b->adv_host);
	free(b);
}

int br_broker_handle_frame(br_broker *b, const uint8_t *frame, size_t len, br_buf *out)
{
	br_kconn c = { 0 };
	c.b = b;
	c.capture = out;
	snprintf(c.peer, sizeof c.peer, "fuzz");
	uint8_t *copy = br_xmalloc(len ? len : 1);
	memcpy(copy, frame, len);
	process_frame(&c, copy, len);
	free(copy);
	bool closed = c.closing;
	if (!closed)
		conn_close(&c); /* orphans deferred slots (finished later by their owners) */
	/* make every write durable and every parked request answer, so nothing points at c */
	flush_sync(b, "flush");
	retry_parked(b, true);
	return closed ? BR_KCLOSE : 0;
}
