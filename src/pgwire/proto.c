/* proto.c — one PostgreSQL protocol 3.0 connection as a state machine: bytes
 * in, bytes out, executor calls in between. It owns message framing, the
 * startup handshake, the simple and extended query flows, prepared statements
 * and portals, and error recovery. No I/O here (listen.c moves the bytes).
 *
 * Framing (PostgreSQL "Message Formats"). All integers are big-endian.
 *   Startup packets (the first message, and SSL/GSS negotiation) have no type
 *   byte: int32 length (including itself), int32 code, body.
 *     code 196608 (3.0)   StartupMessage: (name\0 value\0)* \0
 *     code 80877103       SSLRequest    -> we answer the single byte 'N'
 *     code 80877104       GSSENCRequest -> 'N'; the client then sends Startup
 *     code 80877102       CancelRequest: int32 backend pid, int32 secret key
 *   Every later message: byte type, int32 length (including itself, not the
 *   type byte), body. Lengths below 4 or above cfg.max_message end the
 *   connection (FATAL 08P01): after a bad length nothing can be resynced.
 *
 * Frontend messages handled: Q Query (sql\0); P Parse (name\0 sql\0 int16 n,
 * n int32 type oids); B Bind (portal\0 stmt\0 int16 nf, nf int16 formats,
 * int16 np, np (int32 len or -1, bytes), int16 nr, nr int16 result formats);
 * D Describe (byte S|P, name\0); E Execute (portal\0 int32 maxrows, 0 = all);
 * C Close (byte S|P, name\0); S Sync; H Flush; X Terminate; p password /
 * SASL response during authentication; d c f (copy) are ignored as
 * PostgreSQL does outside COPY; F FunctionCall is refused.
 *
 * Backend messages: R authentication, S ParameterStatus, K BackendKeyData,
 * Z ReadyForQuery ('I': braid has no multi-statement transactions), T
 * RowDescription, D DataRow, C CommandComplete, I EmptyQueryResponse, E
 * ErrorResponse / N NoticeResponse (fields S V C M D H P, \0-terminated list),
 * 1 ParseComplete, 2 BindComplete, 3 CloseComplete, n NoData, s
 * PortalSuspended, t ParameterDescription, v NegotiateProtocolVersion.
 *
 * Flow rules kept here: a simple Query runs its statements in order and stops
 * at the first error, then ReadyForQuery. In the extended flow an error
 * discards every message until Sync (Query and Terminate still count), and
 * Sync ends the implicit transaction: all portals are dropped, prepared
 * statements stay. A simple Query drops the unnamed statement and portal.
 * A portal runs its statement once, at its first Describe or Execute, and
 * keeps the rows so Execute with a row limit can hand them out in pieces
 * (PortalSuspended between pieces). Answers are written to out as soon as
 * they exist, so Flush has nothing left to do. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "pgwire/pgwire.h"
#include "pgwire/scram.h"

#define STARTUP_MAX 10000 /* PostgreSQL's own bound on a startup packet */
#define CODE_V3 196608
#define CODE_CANCEL 80877102
#define CODE_SSL 80877103
#define CODE_GSS 80877104

typedef struct stmt {
	struct stmt *next;
	char *name, *sql;
	int nparams;
	uint32_t *oids;
	bool empty, returns_rows;
} stmt;

typedef struct portal {
	struct portal *next;
	char *name, *sql;
	bool empty, returns_rows;
	int nparams;
	char **params;    /* text form, NULL = SQL NULL */
	uint32_t *oids;
	int nfmt;
	int16_t *fmts;    /* result formats */
	bool ran;
	br_pg_result res;
	int64_t pos;      /* next row to send */
} portal;

enum { ST_STARTUP, ST_AUTH, ST_READY, ST_DEAD };

struct br_pg_conn {
	br_pg_config cfg;
	br_pg_executor ex;
	void *sess;
	int32_t pid, key;
	int state;
	br_buf in;
	size_t in_pos;
	bool skip_to_sync;
	stmt *stmts;
	portal *portals;
	int32_t cancel_pid, cancel_key;
	char *user, *database, *app;
	br_pg_scram *scram;
	br_buf *out;      /* during feed */
	br_buf scratch;
	/* SUBSCRIBE: a COPY-out stream in progress. Messages that arrive
	 * meanwhile wait in `in` (only Terminate is looked at). */
	bool streaming;
	void *stream;     /* the executor's handle */
	br_pg_writer write;
	void *write_arg;
	br_buf async;     /* stream bytes on their way to write */
};

int br_pg_errorf(br_pg_error *e, const char *sqlstate, int position, const char *fmt, ...)
{
	memset(e, 0, sizeof *e);
	snprintf(e->severity, sizeof e->severity, "ERROR");
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", sqlstate);
	e->position = position;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------ writing */

static size_t msg_begin(br_buf *o, char type)
{
	br_buf_u8(o, (uint8_t)type);
	size_t at = o->len;
	br_buf_be32(o, 0);
	return at;
}

static void msg_end(br_buf *o, size_t at) { br_wr_be32(o->p + at, (uint32_t)(o->len - at)); }

static void put_str(br_buf *o, const char *s) { br_buf_put(o, s, strlen(s) + 1); }

static void send_simple(br_pg_conn *c, char type) { msg_end(c->out, msg_begin(c->out, type)); }

static void send_param_status(br_pg_conn *c, const char *k, const char *v)
{
	size_t at = msg_begin(c->out, 'S');
	put_str(c->out, k);
	put_str(c->out, v);
	msg_end(c->out, at);
}

static void send_ready(br_pg_conn *c)
{
	size_t at = msg_begin(c->out, 'Z');
	br_buf_u8(c->out, 'I');
	msg_end(c->out, at);
}

static void send_error_msg(br_pg_conn *c, char type, const br_pg_error *e)
{
	size_t at = msg_begin(c->out, type);
	const char *sev = e->severity[0] ? e->severity : "ERROR";
	br_buf_u8(c->out, 'S');
	put_str(c->out, sev);
	br_buf_u8(c->out, 'V');
	put_str(c->out, sev);
	br_buf_u8(c->out, 'C');
	put_str(c->out, e->sqlstate[0] ? e->sqlstate : "XX000");
	br_buf_u8(c->out, 'M');
	put_str(c->out, e->message);
	if (e->detail[0]) {
		br_buf_u8(c->out, 'D');
		put_str(c->out, e->detail);
	}
	if (e->hint[0]) {
		br_buf_u8(c->out, 'H');
		put_str(c->out, e->hint);
	}
	if (e->position > 0) {
		char pos[16];
		snprintf(pos, sizeof pos, "%d", e->position);
		br_buf_u8(c->out, 'P');
		put_str(c->out, pos);
	}
	br_buf_u8(c->out, 0);
	msg_end(c->out, at);
}

static void send_error(br_pg_conn *c, const br_pg_error *e) { send_error_msg(c, 'E', e); }

static void send_errorf(br_pg_conn *c, const char *state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void send_errorf(br_pg_conn *c, const char *state, const char *fmt, ...)
{
	br_pg_error e;
	br_pg_errorf(&e, state, 0, "%s", "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof e.message, fmt, ap);
	va_end(ap);
	send_error(c, &e);
}

/* FATAL error and the end of the connection. */
static int fatal(br_pg_conn *c, const char *state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fatal(br_pg_conn *c, const char *state, const char *fmt, ...)
{
	br_pg_error e;
	br_pg_errorf(&e, state, 0, "%s", "");
	snprintf(e.severity, sizeof e.severity, "FATAL");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof e.message, fmt, ap);
	va_end(ap);
	send_error(c, &e);
	c->state = ST_DEAD;
	return BR_PG_CLOSE;
}

/* Result format of column i under a Bind's format list (0 = text). */
static int col_format(int nfmt, const int16_t *fmts, int i)
{
	if (nfmt == 0)
		return 0;
	return nfmt == 1 ? fmts[0] : fmts[i];
}

static int check_formats(br_pg_conn *c, const br_pg_result *r, int nfmt)
{
	if (nfmt > 1 && nfmt != r->ncols) {
		send_errorf(c, "08P01", "bind message has %d result formats but query has %d columns", nfmt, r->ncols);
		return -1;
	}
	return 0;
}

static void send_row_description(br_pg_conn *c, const br_pg_result *r, int nfmt, const int16_t *fmts)
{
	size_t at = msg_begin(c->out, 'T');
	br_buf_be16(c->out, (uint16_t)r->ncols);
	for (int i = 0; i < r->ncols; i++) {
		int16_t typlen;
		int32_t typmod;
		uint32_t oid = br_pg_type_of(r->rowtype->children[i].type, &typlen, &typmod);
		put_str(c->out, r->names[i]);
		br_buf_be32(c->out, 0); /* table oid */
		br_buf_be16(c->out, 0); /* column number */
		br_buf_be32(c->out, oid);
		br_buf_be16(c->out, (uint16_t)typlen);
		br_buf_be32(c->out, (uint32_t)typmod);
		br_buf_be16(c->out, (uint16_t)col_format(nfmt, fmts, i));
	}
	msg_end(c->out, at);
}

/* DataRows for rows [from, to). On an encoding failure the rows already
 * written stay and an ErrorResponse follows; returns -1. */
static int send_rows(br_pg_conn *c, const br_pg_result *r, int64_t from, int64_t to, int nfmt, const int16_t *fmts)
{
	for (int64_t i = from; i < to; i++) {
		size_t at = msg_begin(c->out, 'D');
		br_buf_be16(c->out, (uint16_t)r->ncols);
		for (int k = 0; k < r->ncols; k++) {
			const br_col *col = &r->rows.cols[k];
			if (!br_col_valid(col, i)) {
				br_buf_be32(c->out, 0xFFFFFFFFu);
				continue;
			}
			size_t lat = c->out->len;
			br_buf_be32(c->out, 0);
			br_err err = { 0 };
			if (br_pg_encode_value(col, i, col_format(nfmt, fmts, k), c->out, &err)) {
				c->out->len = at - 1; /* drop the partial DataRow */
				send_errorf(c, "0A000", "%s (column \"%s\")", err.msg, r->names[k]);
				return -1;
			}
			br_wr_be32(c->out->p + lat, (uint32_t)(c->out->len - lat - 4));
		}
		msg_end(c->out, at);
	}
	return 0;
}

static void send_tag(br_pg_conn *c, const char *tag)
{
	size_t at = msg_begin(c->out, 'C');
	put_str(c->out, tag);
	msg_end(c->out, at);
}

/* ------------------------------------------------------------ objects */

static void stmt_free(stmt *s)
{
	free(s->name);
	free(s->sql);
	free(s->oids);
	free(s);
}

static void portal_free(br_pg_conn *c, portal *p)
{
	if (p->ran)
		c->ex.vt->result_free(&p->res);
	for (int i = 0; i < p->nparams; i++)
		free(p->params[i]);
	free(p->params);
	free(p->oids);
	free(p->fmts);
	free(p->name);
	free(p->sql);
	free(p);
}

static stmt **stmt_find(br_pg_conn *c, const char *name)
{
	stmt **pp = &c->stmts;
	while (*pp && strcmp((*pp)->name, name))
		pp = &(*pp)->next;
	return pp;
}

static portal **portal_find(br_pg_conn *c, const char *name)
{
	portal **pp = &c->portals;
	while (*pp && strcmp((*pp)->name, name))
		pp = &(*pp)->next;
	return pp;
}

static void stmt_drop(br_pg_conn *c, const char *name)
{
	stmt **pp = stmt_find(c, name);
	if (*pp) {
		stmt *s = *pp;
		*pp = s->next;
		stmt_free(s);
	}
}

static void portal_drop(br_pg_conn *c, const char *name)
{
	portal **pp = portal_find(c, name);
	if (*pp) {
		portal *p = *pp;
		*pp = p->next;
		portal_free(c, p);
	}
}

static void portals_drop_all(br_pg_conn *c)
{
	while (c->portals) {
		portal *p = c->portals;
		c->portals = p->next;
		portal_free(c, p);
	}
}

/* ------------------------------------------------------------ startup */

br_pg_conn *br_pg_conn_new(const br_pg_config *cfg, br_pg_executor ex, int32_t pid, int32_t key)
{
	br_pg_conn *c = br_xcalloc(1, sizeof *c);
	if (cfg)
		c->cfg = *cfg;
	if (!c->cfg.server_version)
		c->cfg.server_version = "15.0 (braid)";
	if (!c->cfg.max_message)
		c->cfg.max_message = 64u << 20;
	c->ex = ex;
	c->pid = pid;
	c->key = key;
	return c;
}

void br_pg_conn_free(br_pg_conn *c)
{
	if (!c)
		return;
	if (c->streaming && c->ex.vt->stream_stop)
		c->ex.vt->stream_stop(c->sess, c->stream);
	c->streaming = false;
	br_buf_free(&c->async);
	portals_drop_all(c);
	while (c->stmts) {
		stmt *s = c->stmts;
		c->stmts = s->next;
		stmt_free(s);
	}
	if (c->sess)
		c->ex.vt->close(c->sess);
	br_pg_scram_free(c->scram);
	br_buf_free(&c->in);
	br_buf_free(&c->scratch);
	free(c->user);
	free(c->database);
	free(c->app);
	free(c);
}

void br_pg_conn_cancel_key(const br_pg_conn *c, int32_t *pid, int32_t *key)
{
	*pid = c->cancel_pid;
	*key = c->cancel_key;
}

int32_t br_pg_conn_pid(const br_pg_conn *c) { return c->pid; }
int32_t br_pg_conn_key(const br_pg_conn *c) { return c->key; }

void br_pg_conn_set_writer(br_pg_conn *c, br_pg_writer write, void *arg)
{
	c->write = write;
	c->write_arg = arg;
}

/* Sends what is in c->async; returns the bytes still unsent. */
static size_t async_flush(br_pg_conn *c, bool close)
{
	if (!c->write) {
		br_buf_reset(&c->async);
		return 0;
	}
	return c->write(c->write_arg, &c->async, close);
}

/* The connection whose statement runs now: the loop thread runs one at a
 * time, so a progress report from inside the engine knows where to go. */
static br_pg_conn *running;

br_pg_conn *br_pg_conn_running(void) { return running; }

void br_pg_conn_notice(br_pg_conn *c, const br_pg_error *e)
{
	if (!c || c->state == ST_DEAD)
		return;
	if (!c->write) {
		send_error_msg(c, 'N', e);
		return;
	}
	/* what the statement's earlier answers left in out goes first, then
	 * the notice, sent now (the statement is still running) */
	br_buf *save = c->out;
	if (save && save != &c->async && save->len) {
		br_buf_put(&c->async, save->p, save->len);
		br_buf_reset(save);
	}
	c->out = &c->async;
	send_error_msg(c, 'N', e);
	c->out = save;
	async_flush(c, false);
}

/* The stream is over: e (an ErrorResponse) and ReadyForQuery go out, then
 * whatever the client sent meanwhile runs. */
static void stream_end(br_pg_conn *c, const br_pg_error *e)
{
	c->streaming = false;
	c->stream = NULL;
	br_buf *save = c->out;
	c->out = &c->async;
	send_error(c, e);
	send_ready(c);
	c->out = save;
	int rc = br_pg_conn_feed(c, NULL, 0, &c->async);
	async_flush(c, rc != 0);
}

void br_pg_conn_cancel(br_pg_conn *c)
{
	if (c->streaming) {
		/* As PostgreSQL ends a COPY TO that is canceled: an error, then the
		 * connection is ready for the next query. */
		if (c->ex.vt->stream_stop)
			c->ex.vt->stream_stop(c->sess, c->stream);
		br_pg_error e;
		br_pg_errorf(&e, "57014", 0, "canceling statement due to user request");
		stream_end(c, &e);
		return;
	}
	if (c->sess && c->ex.vt->cancel)
		c->ex.vt->cancel(c->sess);
}

void br_pg_conn_stream_fail(br_pg_conn *c, const br_pg_error *e)
{
	if (c->streaming && c->state != ST_DEAD)
		stream_end(c, e);
}

int br_pg_conn_stream_data(br_pg_conn *c, const void *p, size_t n, bool flush)
{
	if (!c->streaming || c->state == ST_DEAD)
		return -1;
	if (n || !flush) {
		size_t at = msg_begin(&c->async, 'd');
		br_buf_put(&c->async, p, n);
		msg_end(&c->async, at);
	}
	if (!flush)
		return 0;
	size_t backlog = async_flush(c, false);
	size_t max = c->cfg.max_stream_backlog ? c->cfg.max_stream_backlog : (16u << 20);
	if (backlog <= max)
		return 0;
	/* A slow reader must not make the server buffer without bound nor hold
	 * back the views: it loses its stream. The error queues behind what it
	 * has not read yet. */
	c->streaming = false;
	c->stream = NULL;
	c->state = ST_DEAD;
	br_buf *save = c->out;
	c->out = &c->async;
	send_errorf(c, "53400",
		    "subscriber dropped: more than %zu bytes of changes were waiting for this client to read them", max);
	c->out = save;
	async_flush(c, true);
	return -1;
}

/* Authentication is done: open the session and say hello. */
static int start_session(br_pg_conn *c)
{
	br_pg_error e = { 0 };
	c->sess = c->ex.vt->open(c->ex.ctx, c->user, c->database, &e);
	if (!c->sess) {
		snprintf(e.severity, sizeof e.severity, "FATAL");
		send_error(c, &e);
		c->state = ST_DEAD;
		return BR_PG_CLOSE;
	}
	size_t at = msg_begin(c->out, 'R');
	br_buf_be32(c->out, 0); /* AuthenticationOk */
	msg_end(c->out, at);
	send_param_status(c, "server_version", c->cfg.server_version);
	send_param_status(c, "server_encoding", "UTF8");
	send_param_status(c, "client_encoding", "UTF8");
	send_param_status(c, "DateStyle", "ISO, MDY");
	send_param_status(c, "integer_datetimes", "on");
	send_param_status(c, "IntervalStyle", "postgres");
	send_param_status(c, "standard_conforming_strings", "on");
	send_param_status(c, "TimeZone", "UTC");
	send_param_status(c, "is_superuser", "on");
	send_param_status(c, "session_authorization", c->user);
	send_param_status(c, "application_name", c->app ? c->app : "");
	at = msg_begin(c->out, 'K');
	br_buf_be32(c->out, (uint32_t)c->pid);
	br_buf_be32(c->out, (uint32_t)c->key);
	msg_end(c->out, at);
	send_ready(c);
	c->state = ST_READY;
	return 0;
}

static int on_startup(br_pg_conn *c, const uint8_t *body, size_t n, uint32_t code)
{
	if (code == CODE_SSL || code == CODE_GSS) {
		br_buf_u8(c->out, 'N'); /* no encryption; the client goes on in clear */
		return 0;
	}
	if (code == CODE_CANCEL) {
		if (n != 8) {
			c->state = ST_DEAD;
			return BR_PG_CLOSE;
		}
		c->cancel_pid = (int32_t)br_rd_be32(body);
		c->cancel_key = (int32_t)br_rd_be32(body + 4);
		c->state = ST_DEAD;
		return BR_PG_CANCEL;
	}
	if (code >> 16 != 3)
		return fatal(c, "0A000", "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0", code >> 16,
			     code & 0xFFFF);
	/* name\0 value\0 ... \0, every string inside the packet */
	size_t i = 0;
	br_buf unknown = { 0 };
	int nunknown = 0;
	while (i < n && body[i]) {
		const uint8_t *ke = memchr(body + i, 0, n - i);
		if (!ke)
			break;
		size_t vi = (size_t)(ke - body) + 1;
		const uint8_t *ve = vi < n ? memchr(body + vi, 0, n - vi) : NULL;
		if (!ve) {
			br_buf_free(&unknown);
			return fatal(c, "08P01", "invalid startup packet layout: expected terminator as last byte");
		}
		const char *k = (const char *)body + i, *v = (const char *)body + vi;
		if (!strcmp(k, "user")) {
			free(c->user);
			c->user = br_xstrdup(v);
		} else if (!strcmp(k, "database")) {
			free(c->database);
			c->database = br_xstrdup(v);
		} else if (!strcmp(k, "application_name")) {
			free(c->app);
			c->app = br_xstrdup(v);
		} else if (!strncmp(k, "_pq_.", 5)) {
			put_str(&unknown, k);
			nunknown++;
		} /* options, client_encoding, DateStyle ...: accepted, braid's are fixed */
		i = (size_t)(ve - body) + 1;
	}
	if (i >= n || i + 1 != n) {
		br_buf_free(&unknown);
		return fatal(c, "08P01", "invalid startup packet layout: expected terminator as last byte");
	}
	if (!c->user || !c->user[0]) {
		br_buf_free(&unknown);
		return fatal(c, "28000", "no PostgreSQL user name specified in startup packet");
	}
	if (!c->database)
		c->database = br_xstrdup(c->user);
	if ((code & 0xFFFF) > 0 || nunknown) {
		size_t at = msg_begin(c->out, 'v');
		br_buf_be32(c->out, CODE_V3);
		br_buf_be32(c->out, (uint32_t)nunknown);
		br_buf_put(c->out, unknown.p, unknown.len);
		msg_end(c->out, at);
	}
	br_buf_free(&unknown);
	if (c->cfg.password) {
		c->scram = br_pg_scram_new(c->cfg.password);
		size_t at = msg_begin(c->out, 'R');
		br_buf_be32(c->out, 10); /* AuthenticationSASL */
		put_str(c->out, "SCRAM-SHA-256");
		br_buf_u8(c->out, 0);
		msg_end(c->out, at);
		c->state = ST_AUTH;
		return 0;
	}
	return start_session(c);
}

/* 'p' during authentication: SASLInitialResponse, then SASLResponse. */
static int on_auth(br_pg_conn *c, char type, const uint8_t *body, size_t n)
{
	if (type != 'p')
		return fatal(c, "08P01", "expected SASL response, got message type %d", type);
	br_buf reply = { 0 };
	br_err err = { 0 };
	int step = br_pg_scram_step(c->scram, body, n, &reply, &err);
	if (step < 0) {
		br_buf_free(&reply);
		br_pg_error e;
		br_pg_errorf(&e, step == BR_EINVAL ? "28P01" : "08P01", 0, "%s",
			     step == BR_EINVAL ? "" : err.msg);
		if (step == BR_EINVAL)
			snprintf(e.message, sizeof e.message, "password authentication failed for user \"%s\"", c->user);
		snprintf(e.severity, sizeof e.severity, "FATAL");
		send_error(c, &e);
		c->state = ST_DEAD;
		return BR_PG_CLOSE;
	}
	size_t at = msg_begin(c->out, 'R');
	br_buf_be32(c->out, step == 0 ? 11 : 12); /* SASLContinue / SASLFinal */
	br_buf_put(c->out, reply.p, reply.len);
	msg_end(c->out, at);
	br_buf_free(&reply);
	return step == 0 ? 0 : start_session(c);
}

/* ------------------------------------------------------------ queries */

static int emit_result(void *ctx, br_pg_result *r)
{
	br_pg_conn *c = ctx;
	if (r->notice.message[0]) {
		if (!r->notice.severity[0])
			snprintf(r->notice.severity, sizeof r->notice.severity, "WARNING");
		send_error_msg(c, 'N', &r->notice);
	}
	if (r->stream) {
		/* CopyOutResponse: text format, every column text */
		size_t at = msg_begin(c->out, 'H');
		br_buf_u8(c->out, 0);
		br_buf_be16(c->out, (uint16_t)r->ncols);
		for (int i = 0; i < r->ncols; i++)
			br_buf_be16(c->out, 0);
		msg_end(c->out, at);
		c->streaming = true;
		c->stream = c->ex.vt->stream_start ? c->ex.vt->stream_start(c->sess, r, c) : NULL;
		return 0;
	}
	if (r->has_rows) {
		send_row_description(c, r, 0, NULL);
		if (send_rows(c, r, 0, r->rows.nrows, 0, NULL))
			return -1; /* the error is sent; the statement's tag is not */
	}
	send_tag(c, r->tag);
	return 0;
}

typedef struct {
	br_pg_conn *c;
	int emitted;
} qctx;

static int emit_simple(void *ctx, br_pg_result *r)
{
	qctx *q = ctx;
	q->emitted++;
	return emit_result(q->c, r);
}

static int on_query(br_pg_conn *c, const uint8_t *body, size_t n)
{
	if (n == 0 || body[n - 1] != 0 || memchr(body, 0, n) != body + n - 1)
		return fatal(c, "08P01", "invalid string in message");
	stmt_drop(c, "");
	portal_drop(c, "");
	qctx q = { .c = c };
	br_pg_error e = { 0 };
	br_pg_conn *was = running;
	running = c;
	int qrc = c->ex.vt->query(c->sess, (const char *)body, emit_simple, &q, &e);
	running = was;
	if (qrc < 0)
		send_error(c, &e);
	else if (q.emitted == 0)
		send_simple(c, 'I');
	if (c->streaming)
		return 0; /* ReadyForQuery when the stream ends */
	send_ready(c);
	return 0;
}

/* A C string read from the cursor (must end inside the message). */
static const char *cur_str(br_cur *cu)
{
	if (cu->bad)
		return NULL;
	const uint8_t *s = cu->p + cu->pos;
	const uint8_t *e = memchr(s, 0, cu->len - cu->pos);
	if (!e) {
		cu->bad = true;
		return NULL;
	}
	cu->pos += (size_t)(e - s) + 1;
	return (const char *)s;
}

static int on_parse(br_pg_conn *c, br_cur *cu)
{
	const char *name = cur_str(cu), *sql = cur_str(cu);
	int n = (int16_t)br_cur_be16(cu);
	if (cu->bad || n < 0 || br_cur_left(cu) != (size_t)n * 4) {
		send_errorf(c, "08P01", "malformed Parse message");
		return -1;
	}
	if (name[0] && *stmt_find(c, name)) {
		send_errorf(c, "42P05", "prepared statement \"%s\" already exists", name);
		return -1;
	}
	int np = 0;
	bool empty = false, rows = false;
	br_pg_error e = { 0 };
	if (c->ex.vt->prepare(c->sess, sql, &np, &empty, &rows, &e)) {
		send_error(c, &e);
		return -1;
	}
	if (np > 65535) {
		send_errorf(c, "54000", "too many parameters (%d)", np);
		return -1;
	}
	if (n > np)
		np = n;
	stmt *s = br_xcalloc(1, sizeof *s);
	s->name = br_xstrdup(name);
	s->sql = br_xstrdup(sql);
	s->nparams = np;
	s->oids = br_xcalloc((size_t)np + 1, sizeof *s->oids);
	for (int i = 0; i < n; i++)
		s->oids[i] = br_cur_be32(cu);
	s->empty = empty;
	s->returns_rows = rows;
	if (!name[0])
		stmt_drop(c, "");
	s->next = c->stmts;
	c->stmts = s;
	send_simple(c, '1');
	return 0;
}

static int on_bind(br_pg_conn *c, br_cur *cu)
{
	const char *pname = cur_str(cu), *sname = cur_str(cu);
	int nf = (int16_t)br_cur_be16(cu);
	if (cu->bad || nf < 0 || br_cur_left(cu) < (size_t)nf * 2) {
		send_errorf(c, "08P01", "malformed Bind message");
		return -1;
	}
	const uint8_t *fp = br_cur_take(cu, (size_t)nf * 2);
	int np = (int16_t)br_cur_be16(cu);
	if (cu->bad || np < 0) {
		send_errorf(c, "08P01", "malformed Bind message");
		return -1;
	}
	stmt *s = *stmt_find(c, sname);
	if (!s) {
		send_errorf(c, "26000", "prepared statement \"%s\" does not exist", sname);
		return -1;
	}
	if (np != s->nparams) {
		send_errorf(c, "08P01", "bind message supplies %d parameters, but prepared statement \"%s\" requires %d", np,
			    sname, s->nparams);
		return -1;
	}
	if (nf > 1 && nf != np) {
		send_errorf(c, "08P01", "bind message has %d parameter formats but %d parameters", nf, np);
		return -1;
	}
	if (pname[0] && *portal_find(c, pname)) {
		send_errorf(c, "42P03", "cursor \"%s\" already exists", pname);
		return -1;
	}
	portal *p = br_xcalloc(1, sizeof *p);
	p->nparams = np;
	p->params = br_xcalloc((size_t)np + 1, sizeof *p->params);
	p->oids = br_xcalloc((size_t)np + 1, sizeof *p->oids);
	memcpy(p->oids, s->oids, (size_t)np * sizeof *p->oids);
	for (int i = 0; i < np; i++) {
		int32_t len = (int32_t)br_cur_be32(cu);
		if (len == -1)
			continue;
		const uint8_t *v = len >= 0 ? br_cur_take(cu, (size_t)len) : NULL;
		if (!v) {
			send_errorf(c, "08P01", "malformed Bind message: parameter $%d has length %" PRId32, i + 1, len);
			goto fail;
		}
		int fmt = nf == 0 ? 0 : br_rd_be16(fp + 2 * (nf == 1 ? 0 : i));
		br_buf_reset(&c->scratch);
		if (fmt == 0) {
			if (memchr(v, 0, (size_t)len)) {
				send_errorf(c, "22021", "invalid byte sequence for encoding \"UTF8\": 0x00 (parameter $%d)", i + 1);
				goto fail;
			}
			br_buf_put(&c->scratch, v, (size_t)len);
			br_buf_u8(&c->scratch, 0);
		} else if (fmt == 1) {
			br_err err = { 0 };
			if (!p->oids[i]) {
				send_errorf(c, "22P03", "binary parameter $%d has no declared type", i + 1);
				goto fail;
			}
			if (br_pg_binary_to_text(p->oids[i], v, (size_t)len, &c->scratch, &err)) {
				send_errorf(c, "22P03", "incorrect binary data format in bind parameter %d: %s", i + 1, err.msg);
				goto fail;
			}
		} else {
			send_errorf(c, "08P01", "unsupported format code: %d", fmt);
			goto fail;
		}
		p->params[i] = br_xstrdup((const char *)c->scratch.p);
	}
	int nr = (int16_t)br_cur_be16(cu);
	if (cu->bad || nr < 0 || br_cur_left(cu) != (size_t)nr * 2) {
		send_errorf(c, "08P01", "malformed Bind message");
		goto fail;
	}
	p->nfmt = nr;
	p->fmts = br_xcalloc((size_t)nr + 1, sizeof *p->fmts);
	for (int i = 0; i < nr; i++) {
		p->fmts[i] = (int16_t)br_cur_be16(cu);
		if (p->fmts[i] != 0 && p->fmts[i] != 1) {
			send_errorf(c, "08P01", "unsupported format code: %d", p->fmts[i]);
			goto fail;
		}
	}
	p->name = br_xstrdup(pname);
	p->sql = br_xstrdup(s->sql);
	p->empty = s->empty;
	p->returns_rows = s->returns_rows;
	if (!pname[0])
		portal_drop(c, "");
	p->next = c->portals;
	c->portals = p;
	send_simple(c, '2');
	return 0;
fail:
	p->name = NULL;
	p->sql = NULL;
	portal_free(c, p);
	return -1;
}

/* Runs a portal's statement if it has not run yet. */
static int portal_run(br_pg_conn *c, portal *p)
{
	if (p->ran)
		return 0;
	br_pg_error e = { 0 };
	memset(&p->res, 0, sizeof p->res);
	br_pg_conn *was = running;
	running = c;
	int xrc = c->ex.vt->execute(c->sess, p->sql, p->nparams, (const char *const *)p->params, p->oids, &p->res, &e);
	running = was;
	if (xrc) {
		send_error(c, &e);
		return -1;
	}
	p->ran = true;
	if (p->res.stream) {
		c->ex.vt->result_free(&p->res);
		p->ran = false;
		send_errorf(c, "0A000", "unsupported: SUBSCRIBE in the extended query protocol (send it as a simple Query)");
		return -1;
	}
	if (p->res.notice.message[0]) {
		if (!p->res.notice.severity[0])
			snprintf(p->res.notice.severity, sizeof p->res.notice.severity, "WARNING");
		send_error_msg(c, 'N', &p->res.notice);
	}
	return 0;
}

static int on_describe(br_pg_conn *c, br_cur *cu)
{
	uint8_t kind = br_cur_u8(cu);
	const char *name = cur_str(cu);
	if (cu->bad || br_cur_left(cu) != 0 || (kind != 'S' && kind != 'P')) {
		send_errorf(c, "08P01", "malformed Describe message");
		return -1;
	}
	if (kind == 'S') {
		stmt *s = *stmt_find(c, name);
		if (!s) {
			send_errorf(c, "26000", "prepared statement \"%s\" does not exist", name);
			return -1;
		}
		size_t at = msg_begin(c->out, 't');
		br_buf_be16(c->out, (uint16_t)s->nparams);
		for (int i = 0; i < s->nparams; i++)
			br_buf_be32(c->out, s->oids[i] ? s->oids[i] : BR_PG_TEXT);
		msg_end(c->out, at);
		if (!s->returns_rows || s->empty) {
			send_simple(c, 'n');
			return 0;
		}
		br_pg_result r = { 0 };
		br_pg_error e = { 0 };
		if (c->ex.vt->describe(c->sess, s->sql, s->nparams, s->oids, &r, &e)) {
			send_error(c, &e);
			return -1;
		}
		if (r.has_rows)
			send_row_description(c, &r, 0, NULL);
		else
			send_simple(c, 'n');
		c->ex.vt->result_free(&r);
		return 0;
	}
	portal *p = *portal_find(c, name);
	if (!p) {
		send_errorf(c, "34000", "portal \"%s\" does not exist", name);
		return -1;
	}
	if (!p->returns_rows || p->empty) {
		send_simple(c, 'n');
		return 0;
	}
	if (portal_run(c, p))
		return -1;
	if (!p->res.has_rows) {
		send_simple(c, 'n');
		return 0;
	}
	if (check_formats(c, &p->res, p->nfmt))
		return -1;
	send_row_description(c, &p->res, p->nfmt, p->fmts);
	return 0;
}

static int on_execute(br_pg_conn *c, br_cur *cu)
{
	const char *name = cur_str(cu);
	int32_t max = (int32_t)br_cur_be32(cu);
	if (cu->bad || br_cur_left(cu) != 0) {
		send_errorf(c, "08P01", "malformed Execute message");
		return -1;
	}
	portal *p = *portal_find(c, name);
	if (!p) {
		send_errorf(c, "34000", "portal \"%s\" does not exist", name);
		return -1;
	}
	if (p->empty) {
		send_simple(c, 'I');
		return 0;
	}
	if (portal_run(c, p))
		return -1;
	br_pg_result *r = &p->res;
	if (!r->has_rows) {
		send_tag(c, r->tag); /* again on a repeated Execute: the command ran once */
		return 0;
	}
	if (check_formats(c, r, p->nfmt))
		return -1;
	int64_t left = r->rows.nrows - p->pos;
	int64_t n = max > 0 && max < left ? max : left;
	if (send_rows(c, r, p->pos, p->pos + n, p->nfmt, p->fmts))
		return -1;
	p->pos += n;
	if (p->pos < r->rows.nrows) {
		send_simple(c, 's');
		return 0;
	}
	if (!strncmp(r->tag, "SELECT", 6)) {
		char tag[64];
		snprintf(tag, sizeof tag, "SELECT %" PRId64, n);
		send_tag(c, tag);
	} else
		send_tag(c, r->tag);
	return 0;
}

static int on_close(br_pg_conn *c, br_cur *cu)
{
	uint8_t kind = br_cur_u8(cu);
	const char *name = cur_str(cu);
	if (cu->bad || br_cur_left(cu) != 0 || (kind != 'S' && kind != 'P')) {
		send_errorf(c, "08P01", "malformed Close message");
		return -1;
	}
	if (kind == 'S')
		stmt_drop(c, name);
	else
		portal_drop(c, name);
	send_simple(c, '3');
	return 0;
}

static int on_message(br_pg_conn *c, char type, const uint8_t *body, size_t n)
{
	if (c->state == ST_AUTH)
		return on_auth(c, type, body, n);
	if (c->skip_to_sync && type != 'S' && type != 'Q' && type != 'X')
		return 0;
	br_cur cu = br_cur_make(body, n);
	int rc = 0;
	switch (type) {
	case 'Q': c->skip_to_sync = false; return on_query(c, body, n);
	case 'X': c->state = ST_DEAD; return BR_PG_CLOSE;
	case 'S':
		c->skip_to_sync = false;
		portals_drop_all(c);
		send_ready(c);
		return 0;
	case 'H': return 0;
	case 'P': rc = on_parse(c, &cu); break;
	case 'B': rc = on_bind(c, &cu); break;
	case 'D': rc = on_describe(c, &cu); break;
	case 'E': rc = on_execute(c, &cu); break;
	case 'C': rc = on_close(c, &cu); break;
	case 'd': case 'c': case 'f': return 0;
	case 'F':
		send_errorf(c, "0A000", "unsupported: the function call protocol");
		rc = -1;
		break;
	default:
		return fatal(c, "08P01", "invalid frontend message type %d", (unsigned char)type);
	}
	if (rc)
		c->skip_to_sync = true;
	return 0;
}

int br_pg_conn_feed(br_pg_conn *c, const uint8_t *p, size_t n, br_buf *out)
{
	if (c->state == ST_DEAD)
		return BR_PG_CLOSE;
	c->out = out;
	if (n)
		br_buf_put(&c->in, p, n);
	int rc = 0;
	while (rc == 0 && c->state != ST_DEAD) {
		const uint8_t *m = c->in.p + c->in_pos;
		size_t avail = c->in.len - c->in_pos;
		if (c->state == ST_STARTUP) {
			if (avail < 4)
				break;
			uint32_t len = br_rd_be32(m);
			if (len < 8 || len > STARTUP_MAX) {
				rc = fatal(c, "08P01", "invalid length of startup packet");
				break;
			}
			if (avail < len)
				break;
			c->in_pos += len;
			rc = on_startup(c, m + 8, len - 8, br_rd_be32(m + 4));
			continue;
		}
		if (avail < 5)
			break;
		if (c->streaming) {
			/* PostgreSQL reads nothing during COPY TO either; a client that
			 * leaves says so with Terminate or by closing the socket */
			if (m[0] == 'X' || avail > (1u << 20)) {
				c->state = ST_DEAD;
				rc = BR_PG_CLOSE;
			}
			break;
		}
		uint32_t len = br_rd_be32(m + 1);
		if (len < 4 || len > c->cfg.max_message) {
			rc = fatal(c, "08P01", "invalid message length %" PRIu32 " (message type %d)", len, m[0]);
			break;
		}
		if (avail - 1 < len)
			break;
		c->in_pos += 1 + (size_t)len;
		rc = on_message(c, (char)m[0], m + 5, len - 4);
	}
	/* compact: keep only the unread tail */
	if (c->in_pos == c->in.len) {
		c->in.len = c->in_pos = 0;
	} else if (c->in_pos > 65536 || c->in_pos > c->in.len / 2) {
		memmove(c->in.p, c->in.p + c->in_pos, c->in.len - c->in_pos);
		c->in.len -= c->in_pos;
		c->in_pos = 0;
	}
	c->out = NULL;
	if (rc == 0 && c->state == ST_DEAD)
		rc = BR_PG_CLOSE;
	return rc;
}
