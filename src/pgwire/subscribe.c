/* subscribe.c — SUBSCRIBE: a view's deltas streamed to PostgreSQL clients.
 *
 *   SUBSCRIBE [TO] view [WITH (snapshot = true|false)]
 *   COPY (SUBSCRIBE [TO] view [WITH (...)]) TO STDOUT     -- Materialize's form
 *
 * The answer is a COPY-out stream (psql prints CopyData as it arrives, which
 * a row result would not: psql waits for CommandComplete), in COPY's text
 * format, one line per changed row:
 *
 *   _frontier \t _weight \t col1 \t col2 ...
 *
 * _weight is the Z-set weight (+n inserted, -n deleted); _frontier is what
 * the input had reached when the view took the step that produced the row:
 * for views over topic-backed tables, the next offset of every partition of
 * every table the view reads ("bids:0=120,1=98;persons:0=40",
 * br_sql_view_frontier), so a client knows exactly which input each batch
 * reflects and frontiers only grow; br_pg_hub_set_frontier overrides it; for
 * other catalogs it is the number of steps the views took. With snapshot = true (the default) the stream
 * starts with the view's current rows at weight +1 each, all under the
 * frontier of that moment; the snapshot (taken when the statement is
 * prepared) and the registration (when the protocol layer has announced the
 * stream) happen in one turn of the event loop, so no step falls between.
 *
 * The hub is the br_sql view listener. A step's delta is encoded once per
 * view and written to every subscriber of that view (no per-subscriber
 * work beyond the copy). Nothing ever waits for a subscriber: the bytes go
 * to its socket's queue, and a subscriber whose queue passes the configured
 * backlog is dropped with an error (br_pg_conn_stream_data). Cost: O(rows
 * in the delta) per step for a view with subscribers, nothing for others. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "flow/flow.h"
#include "pgwire/pg_int.h"

struct br_pg_sub {
	br_pg_sub *next;
	char *view;
	bool dead;        /* dropped (slow or gone): kept until its session detaches it */
	br_pg_conn *conn;
};

struct br_pg_hub {
	br_sql *sql;
	br_pg_sub *subs;
	int64_t steps;
	char *frontier;
	br_buf line, rows;
};

typedef struct sub_req {
	char *view;
	bool snapshot;
	int ncols;
	char **names;
	br_sql_result *snap; /* the view's rows when SUBSCRIBE was prepared */
} sub_req;

/* ------------------------------------------------------------ parsing */

static const char *skip_ws(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			p = e ? e + 2 : p + strlen(p);
		} else
			return p;
	}
}

static bool kw(const char **pp, const char *word)
{
	const char *p = skip_ws(*pp);
	size_t n = strlen(word);
	if (strncasecmp(p, word, n) || isalnum((unsigned char)p[n]) || p[n] == '_')
		return false;
	*pp = p + n;
	return true;
}

static bool punct(const char **pp, char ch)
{
	const char *p = skip_ws(*pp);
	if (*p != ch)
		return false;
	*pp = p + 1;
	return true;
}

/* An identifier: bare (folded to lower case) or "quoted". */
static char *ident(const char **pp)
{
	const char *p = skip_ws(*pp);
	br_buf b = { 0 };
	if (*p == '"') {
		p++;
		for (; *p; p++) {
			if (*p == '"') {
				if (p[1] != '"')
					break;
				p++;
			}
			br_buf_u8(&b, (uint8_t)*p);
		}
		if (*p != '"' || !b.len) {
			br_buf_free(&b);
			return NULL;
		}
		p++;
	} else {
		if (!isalpha((unsigned char)*p) && *p != '_') {
			br_buf_free(&b);
			return NULL;
		}
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '$')
			br_buf_u8(&b, (uint8_t)tolower((unsigned char)*p++));
	}
	br_buf_u8(&b, 0);
	*pp = p;
	return (char *)b.p;
}

bool br_pgsub_is(const char *stmt)
{
	const char *p = stmt;
	if (kw(&p, "subscribe"))
		return true;
	return kw(&p, "copy") && punct(&p, '(') && kw(&p, "subscribe");
}

static int parse(const char *stmt, sub_req *r, br_pg_error *e)
{
	const char *p = stmt;
	bool copy = kw(&p, "copy");
	if (copy && !punct(&p, '('))
		return br_pg_errorf(e, "42601", 0, "syntax error in COPY (SUBSCRIBE ...) TO STDOUT");
	if (!kw(&p, "subscribe"))
		return br_pg_errorf(e, "42601", 0, "syntax error: expected SUBSCRIBE");
	const char *save = p;
	if (!kw(&p, "to"))
		p = save;
	else if (!*skip_ws(p) || *skip_ws(p) == ';' || !strncasecmp(skip_ws(p), "with", 4))
		p = save; /* a view named "to" */
	r->view = ident(&p);
	if (!r->view)
		return br_pg_errorf(e, "42601", (int)(skip_ws(p) - stmt) + 1, "syntax error: SUBSCRIBE needs a view name");
	if (punct(&p, '.')) { /* schema.view: braid has the one schema "public" */
		if (strcmp(r->view, "public")) {
			br_pg_errorf(e, "3F000", 0, "schema \"%s\" does not exist", r->view);
			return -1;
		}
		free(r->view);
		r->view = ident(&p);
		if (!r->view)
			return br_pg_errorf(e, "42601", 0, "syntax error: SUBSCRIBE needs a view name");
	}
	r->snapshot = true;
	if (kw(&p, "with")) {
		if (!punct(&p, '('))
			return br_pg_errorf(e, "42601", (int)(skip_ws(p) - stmt) + 1, "syntax error: expected ( after WITH");
		do {
			char *opt = ident(&p);
			if (!opt || strcmp(opt, "snapshot")) {
				br_pg_errorf(e, "42601", 0, "unknown SUBSCRIBE option \"%s\" (known: snapshot)", opt ? opt : "");
				free(opt);
				return -1;
			}
			free(opt);
			punct(&p, '=');
			if (kw(&p, "true") || kw(&p, "on"))
				r->snapshot = true;
			else if (kw(&p, "false") || kw(&p, "off"))
				r->snapshot = false;
			else
				return br_pg_errorf(e, "22023", 0, "snapshot must be true or false");
		} while (punct(&p, ','));
		if (!punct(&p, ')'))
			return br_pg_errorf(e, "42601", (int)(skip_ws(p) - stmt) + 1, "syntax error: expected )");
	}
	if (copy && !(punct(&p, ')') && kw(&p, "to") && kw(&p, "stdout")))
		return br_pg_errorf(e, "42601", 0, "syntax error: expected COPY (SUBSCRIBE ...) TO STDOUT");
	punct(&p, ';');
	if (*skip_ws(p))
		return br_pg_errorf(e, "42601", (int)(skip_ws(p) - stmt) + 1, "syntax error at or near \"%.20s\"",
				    skip_ws(p));
	return 0;
}

/* ------------------------------------------------------------ prepare */

typedef struct find_ctx {
	const char *name;
	bool found, is_view;
	sub_req *r;
} find_ctx;

static void find_rel(void *arg, const char *name, bool is_view, int ncols, char *const *cols, const br_type_id *types)
{
	find_ctx *f = arg;
	if (strcmp(name, f->name))
		return;
	f->found = true;
	f->is_view = is_view;
	if (!is_view)
		return;
	f->r->ncols = ncols + 2;
	f->r->names = br_xcalloc((size_t)ncols + 2, sizeof(char *));
	f->r->names[0] = br_xstrdup("_frontier");
	f->r->names[1] = br_xstrdup("_weight");
	for (int i = 0; i < ncols; i++)
		f->r->names[i + 2] = br_xstrdup(cols[i]);
}

static void req_free(sub_req *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->ncols; i++)
		free(r->names[i]);
	free(r->names);
	free(r->view);
	if (r->snap) {
		br_sql_result_free(r->snap);
		free(r->snap);
	}
	free(r);
}

static void stream_result_free(br_pg_result *res)
{
	req_free(res->priv);
	memset(res, 0, sizeof *res);
}

int br_pgsub_prepare(br_pg_hub *hub, const char *stmt, br_pg_result *res, br_pg_error *e)
{
	sub_req *r = br_xcalloc(1, sizeof *r);
	if (parse(stmt, r, e)) {
		req_free(r);
		return -1;
	}
	find_ctx f = { .name = r->view, .r = r };
	br_sql_relations(hub->sql, find_rel, &f);
	if (!f.found || !f.is_view) {
		if (f.found)
			br_pg_errorf(e, "42809", 0,
				     "\"%s\" is a table: SUBSCRIBE streams a view's changes (CREATE VIEW v AS SELECT * FROM %s)",
				     r->view, r->view);
		else
			br_pg_errorf(e, "42P01", 0, "view \"%s\" does not exist", r->view);
		req_free(r);
		return -1;
	}
	if (r->snapshot) {
		/* The snapshot is the view's contents now, as SELECT answers them; a
		 * view that cannot answer (broken by a failed step) fails here. */
		char *q = br_xmalloc(strlen(r->view) * 2 + 32);
		char *w = q + sprintf(q, "SELECT * FROM \"");
		for (const char *v = r->view; *v; v++) {
			if (*v == '"')
				*w++ = '"';
			*w++ = *v;
		}
		strcpy(w, "\"");
		r->snap = br_xcalloc(1, sizeof *r->snap);
		br_err err = { 0 };
		int rc = br_sql_exec(hub->sql, q, r->snap, &err);
		free(q);
		if (rc) {
			br_pg_errorf(e, "XX000", 0, "SUBSCRIBE %s: %s", r->view, err.msg);
			req_free(r);
			return -1;
		}
	}
	memset(res, 0, sizeof *res);
	res->stream = true;
	res->ncols = r->ncols;
	res->names = r->names;
	snprintf(res->tag, sizeof res->tag, "SUBSCRIBE");
	res->priv = r;
	return 0;
}

void br_pgsub_result_free(br_pg_result *res) { stream_result_free(res); }

/* ------------------------------------------------------------ encoding */

/* COPY text format: backslash escapes for the bytes that delimit. */
static void copy_escape(br_buf *o, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '\\': br_buf_put(o, "\\\\", 2); break;
		case '\t': br_buf_put(o, "\\t", 2); break;
		case '\n': br_buf_put(o, "\\n", 2); break;
		case '\r': br_buf_put(o, "\\r", 2); break;
		default: br_buf_u8(o, p[i]);
		}
	}
}

/* The frontier a view's rows reflect: set by br_pg_hub_set_frontier, else
 * the view's input offsets ("t:0=123,1=456", br_sql_view_frontier) when its
 * tables follow a log, else the step count. NUL-terminated in out. */
static void frontier_text(br_pg_hub *h, const char *view, br_buf *out)
{
	br_buf_reset(out);
	if (h->frontier)
		br_buf_printf(out, "%s", h->frontier);
	else if (br_sql_view_frontier(h->sql, view, out) || !out->len) {
		br_buf_reset(out);
		br_buf_printf(out, "%" PRId64, h->steps);
	}
	br_buf_u8(out, 0);
}

/* Appends one line per row of b (weight w_override when nonzero, else the
 * row's weight) to h->rows, each line a CopyData body, lengths in offs. */
static void encode_rows(br_pg_hub *h, const br_batch *b, int64_t w_override, const char *frontier, br_buf *lens)
{
	for (int64_t i = 0; i < b->nrows; i++) {
		int64_t w = w_override ? w_override : br_batch_weight(b, i);
		if (!w)
			continue;
		size_t start = h->rows.len;
		copy_escape(&h->rows, (const uint8_t *)frontier, strlen(frontier));
		char wb[32];
		int wn = snprintf(wb, sizeof wb, "\t%" PRId64, w);
		br_buf_put(&h->rows, wb, (size_t)wn);
		for (int k = 0; k < b->ncols; k++) {
			br_buf_u8(&h->rows, '\t');
			const br_col *col = &b->cols[k];
			if (!br_col_valid(col, i)) {
				br_buf_put(&h->rows, "\\N", 2);
				continue;
			}
			br_buf_reset(&h->line);
			br_err err = { 0 };
			if (br_pg_encode_value(col, i, 0, &h->line, &err)) {
				br_buf_reset(&h->line);
				br_buf_put(&h->line, "?", 1);
			}
			copy_escape(&h->rows, h->line.p, h->line.len);
		}
		br_buf_u8(&h->rows, '\n');
		size_t len = h->rows.len - start;
		br_buf_put(lens, &len, sizeof len);
	}
}

/* Writes the encoded rows to one subscriber; -1 when it is gone. */
static int send_encoded(br_pg_hub *h, br_pg_conn *conn, const br_buf *lens)
{
	size_t off = 0;
	for (size_t k = 0; k + sizeof(size_t) <= lens->len; k += sizeof(size_t)) {
		size_t len;
		memcpy(&len, lens->p + k, sizeof len);
		if (br_pg_conn_stream_data(conn, h->rows.p + off, len, false))
			return -1;
		off += len;
	}
	return br_pg_conn_stream_data(conn, NULL, 0, true);
}

/* ------------------------------------------------------------ streams */

static void unlink_sub(br_pg_hub *h, br_pg_sub *s)
{
	for (br_pg_sub **pp = &h->subs; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s->view);
	free(s);
}

br_pg_sub *br_pgsub_attach(br_pg_hub *h, br_pg_result *res, br_pg_conn *conn)
{
	sub_req *r = res->priv;
	br_pg_sub *s = br_xcalloc(1, sizeof *s);
	s->view = br_xstrdup(r->view);
	s->conn = conn;
	s->next = h->subs;
	h->subs = s;
	if (!r->snap || !r->snap->has_rows)
		return s;
	br_buf fr = { 0 };
	frontier_text(h, r->view, &fr);
	br_buf lens = { 0 };
	br_buf_reset(&h->rows);
	encode_rows(h, &r->snap->rows, 1, (const char *)fr.p, &lens);
	int rc = send_encoded(h, conn, &lens);
	br_buf_free(&lens);
	br_buf_free(&fr);
	if (rc)
		s->dead = true; /* dropped during the snapshot: its connection is closing */
	return s;
}

void br_pgsub_detach(br_pg_hub *h, br_pg_sub *sub)
{
	if (sub)
		unlink_sub(h, sub);
}

/* br_sql view listener: every step of every view. */
static void on_view_delta(void *arg, const char *view, const br_batch *delta)
{
	br_pg_hub *h = arg;
	h->steps++;
	bool any = false;
	for (br_pg_sub *s = h->subs; s && !any; s = s->next)
		any = !s->dead && !strcmp(s->view, view);
	if (!any || !delta->nrows)
		return;
	br_buf fr = { 0 };
	frontier_text(h, view, &fr);
	br_buf lens = { 0 };
	br_buf_reset(&h->rows);
	encode_rows(h, delta, 0, (const char *)fr.p, &lens);
	if (lens.len) {
		for (br_pg_sub *s = h->subs; s; s = s->next)
			if (!s->dead && !strcmp(s->view, view) && send_encoded(h, s->conn, &lens))
				s->dead = true; /* its connection is closing */
	}
	br_buf_free(&lens);
	br_buf_free(&fr);
}

typedef struct gone_ctx {
	br_pg_hub *h;
	char **live;
	int n, cap;
} gone_ctx;

static void note_view(void *arg, const char *name, bool is_view, int ncols, char *const *cols, const br_type_id *types)
{
	gone_ctx *g = arg;
	if (!is_view)
		return;
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 16;
		g->live = br_xrealloc(g->live, sizeof *g->live * (size_t)g->cap);
	}
	g->live[g->n++] = br_xstrdup(name);
}

void br_pgsub_views_changed(br_pg_hub *h)
{
	if (!h || !h->subs)
		return;
	gone_ctx g = { .h = h };
	br_sql_relations(h->sql, note_view, &g);
	/* mark first, end after: ending a stream runs what its client sent
	 * meanwhile, which may change the list */
	int nend = 0;
	br_pg_conn **end = NULL;
	for (br_pg_sub *s = h->subs; s; s = s->next) {
		bool live = false;
		for (int i = 0; i < g.n && !live; i++)
			live = !strcmp(g.live[i], s->view);
		if (live || s->dead)
			continue;
		s->dead = true;
		end = br_xrealloc(end, sizeof *end * (size_t)(nend + 1));
		end[nend++] = s->conn;
	}
	for (int i = 0; i < nend; i++) {
		br_pg_error e;
		br_pg_errorf(&e, "57P01", 0, "SUBSCRIBE ended: the view was dropped");
		br_pg_conn_stream_fail(end[i], &e);
	}
	free(end);
	for (int i = 0; i < g.n; i++)
		free(g.live[i]);
	free(g.live);
}

br_pg_hub *br_pg_hub_new(br_sql *sql)
{
	br_pg_hub *h = br_xcalloc(1, sizeof *h);
	h->sql = sql;
	br_sql_set_view_listener(sql, on_view_delta, h);
	return h;
}

void br_pg_hub_free(br_pg_hub *h)
{
	if (!h)
		return;
	br_sql_set_view_listener(h->sql, NULL, NULL);
	while (h->subs)
		unlink_sub(h, h->subs);
	free(h->frontier);
	br_buf_free(&h->line);
	br_buf_free(&h->rows);
	free(h);
}

void br_pg_hub_set_frontier(br_pg_hub *h, const char *text)
{
	free(h->frontier);
	h->frontier = text ? br_xstrdup(text) : NULL;
}

br_sql *br_pgsub_hub_sql(br_pg_hub *h) { return h->sql; }
