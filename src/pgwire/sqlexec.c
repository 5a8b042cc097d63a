/* sqlexec.c — the pgwire executor over braid's SQL engine (br_sql): splits a
 * query string into statements, substitutes extended-protocol parameters,
 * and turns br_sql's PostgreSQL-style error texts into SQLSTATE + position.
 *
 * Parameters. br_sql has no parameter slots, so $n is replaced by a SQL
 * literal before the statement runs: the value as a quoted string, which
 * PostgreSQL (and br_sql) treat as a literal of unknown type that takes the
 * type its context needs, exactly as an unspecified parameter type does; a
 * declared type adds a cast ('42'::bigint). Quoting doubles single quotes;
 * standard_conforming_strings is on, so backslashes are plain characters.
 * The scanner that finds $n skips string literals (including E'' escapes),
 * quoted identifiers, dollar-quoted strings and both comment forms, so a
 * "$1" inside any of those is left alone. Error positions are mapped back
 * from the substituted text to the client's text. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include <pg_query.h>

#include "base/util.h"
#include "pgwire/pg_int.h"

typedef struct sess {
	br_sql *sql;
	br_pg_hub *hub;   /* NULL: no SUBSCRIBE */
	char *user;
	char *app_name;   /* SET application_name */
	br_pg_sub *sub;   /* the stream in progress */
} sess;

static void *x_open(void *ctx, const char *user, const char *database, br_pg_error *e)
{
	sess *s = br_xcalloc(1, sizeof *s);
	s->sql = ctx;
	s->user = br_xstrdup(user ? user : "braid");
	return s;
}

static void *x_open_hub(void *ctx, const char *user, const char *database, br_pg_error *e)
{
	sess *s = x_open(br_pgsub_hub_sql(ctx), user, database, e);
	s->hub = ctx;
	return s;
}

static void x_close(void *p)
{
	sess *s = p;
	if (s->sub)
		br_pgsub_detach(s->hub, s->sub);
	free(s->user);
	free(s->app_name);
	free(s);
}

/* ------------------------------------------------------------ errors */

static const struct {
	const char *pat; /* substring of the message */
	const char *state;
} states[] = {
	{ "syntax error", "42601" },
	{ "unterminated", "42601" },
	{ "zero-length delimited identifier", "42601" },
	{ "INSERT has more", "42601" },
	{ "INSERT has fewer", "42601" },
	{ "cannot insert multiple commands", "42601" },
	{ "missing FROM-clause entry", "42P01" },
	{ "is ambiguous", "42702" },
	{ "column ", "42703" },               /* "column \"x\" does not exist" (checked with "does not exist") */
	{ "already exists", "42P07" },
	{ "function ", "42883" },
	{ "operator does not exist", "42883" },
	{ "invalid input syntax", "22P02" },
	{ "division by zero", "22012" },
	{ "out of range", "22003" },
	{ "must be type", "42804" },
	{ "cannot be matched", "42804" },
	{ "cannot use type", "42804" },
	{ "must appear in the GROUP BY", "42803" },
	{ "aggregate function", "42803" },
	{ "more than one row returned", "21000" },
	{ "does not exist", "42P01" },        /* relation, table, view */
};

/* Position in characters (PostgreSQL counts characters, br_sql bytes). */
static int byte_to_char_pos(const char *sql, int bytepos)
{
	int chars = 0;
	size_t n = strlen(sql);
	for (int i = 0; i < bytepos - 1 && (size_t)i < n; i++)
		if (((unsigned char)sql[i] & 0xC0) != 0x80)
			chars++;
	return chars + 1;
}

/* Fills e from br_sql's error: strips the position suffix, picks the SQLSTATE. */
static void map_error(const br_err *err, br_pg_error *e, int *bytepos)
{
	memset(e, 0, sizeof *e);
	snprintf(e->severity, sizeof e->severity, "ERROR");
	snprintf(e->message, sizeof e->message, "%s", err->msg);
	*bytepos = 0;
	char *m = e->message;
	char *at = strstr(m, " at character ");
	if (at && at[14]) {
		char *end;
		long v = strtol(at + 14, &end, 10);
		if (!*end && v > 0) {
			*bytepos = (int)v;
			*at = 0;
		}
	}
	at = strstr(m, " (at position ");
	if (!*bytepos && at) {
		char *end;
		long v = strtol(at + 14, &end, 10);
		if (end[0] == ')' && !end[1] && v > 0) {
			*bytepos = (int)v;
			*at = 0;
		}
	}
	const char *st = NULL;
	if (!strncmp(m, "unsupported:", 12)) {
		st = "0A000";
		/* "unsupported: x" reads as PostgreSQL's "x is not supported" would */
	} else {
		for (size_t i = 0; i < BR_ARRAY_LEN(states) && !st; i++) {
			if (!strstr(m, states[i].pat))
				continue;
			if ((!strcmp(states[i].pat, "column ") || !strcmp(states[i].pat, "function ")) &&
			    !strstr(m, "does not exist"))
				continue;
			st = states[i].state;
		}
	}
	if (!st)
		st = err->code == BR_EUNSUPPORTED ? "0A000" : err->code == BR_EINVAL ? "42000" : "XX000";
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", st);
}

/* ------------------------------------------------------------ results */

static void to_result(br_sql_result *sr, br_pg_result *res)
{
	memset(res, 0, sizeof *res);
	res->priv = sr;
	res->has_rows = sr->has_rows;
	res->ncols = sr->ncols;
	res->names = sr->names;
	res->rowtype = sr->rowtype;
	if (sr->has_rows)
		res->rows = sr->rows; /* shallow view; sr still owns the buffers */
	snprintf(res->tag, sizeof res->tag, "%s", sr->tag);
}

static void x_result_free(br_pg_result *res)
{
	if (res->stream) {
		br_pgsub_result_free(res);
		return;
	}
	br_sql_result *sr = res->priv;
	if (sr) {
		br_sql_result_free(sr);
		free(sr);
	}
	memset(res, 0, sizeof *res);
}

static const char *skip_blank(const char *p)
{
	for (;;) {
		while (isspace((unsigned char)*p) || *p == '(')
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

static bool keyword(const char *p, const char *kw);

/* br_sql answers every transaction statement with "OK": each statement is its
 * own transaction. Clients read the tag PostgreSQL would send, and a WARNING
 * says that the block has no effect (ReadyForQuery stays 'I', which is the
 * truth: no transaction is open). */
static void transaction_tag(const char *sql, br_pg_result *r)
{
	if (strcmp(r->tag, "OK"))
		return;
	const char *p = skip_blank(sql);
	const char *tag = keyword(p, "begin") || keyword(p, "start") ? "BEGIN"
			  : keyword(p, "commit") || keyword(p, "end")   ? "COMMIT"
			  : keyword(p, "rollback") || keyword(p, "abort") ? "ROLLBACK"
									: NULL;
	if (!tag)
		return;
	snprintf(r->tag, sizeof r->tag, "%s", tag);
	br_pg_errorf(&r->notice, "01000", 0, "braid runs every statement as its own transaction; %s has no effect", tag);
	snprintf(r->notice.severity, sizeof r->notice.severity, "WARNING");
}

/* Backfill progress of a long statement (CREATE MATERIALIZED VIEW, CREATE
 * TABLE on a topic with data, a big SELECT) as NOTICE messages to its client:
 * none in the first second, then one per second and one at the end. */
static double notice_last;

static void on_progress(void *arg, const br_sql_progress *p)
{
	(void)arg;
	bool done = !strcmp(p->phase, "done");
	if (p->elapsed_s < 1.0 || (!done && p->elapsed_s - notice_last < 1.0))
		return;
	br_pg_error n = { 0 };
	snprintf(n.severity, sizeof n.severity, "NOTICE");
	snprintf(n.sqlstate, sizeof n.sqlstate, "00000");
	char line[256];
	br_sql_progress_format(p, line, sizeof line);
	snprintf(n.message, sizeof n.message, "backfill: %s", line);
	br_pg_conn_notice(br_pg_conn_running(), &n);
	notice_last = done ? 0 : p->elapsed_s;
}

/* Runs one statement; positions in errors are bytes of sql. */
static int run(sess *s, const char *sql, br_pg_result *res, int *bytepos, br_pg_error *e)
{
	if (br_pgcat_wants(sql))
		return br_pgcat_answer(s->sql, s->user, sql, res, e);
	int set = br_pgcat_setting(sql, &s->app_name, res, e);
	if (set <= 0)
		return set;
	br_sql_result *sr = br_xcalloc(1, sizeof *sr);
	br_err err = { 0 };
	notice_last = 0;
	br_sql_set_progress_listener(s->sql, on_progress, NULL);
	int xrc = br_sql_exec(s->sql, sql, sr, &err);
	br_sql_set_progress_listener(s->sql, NULL, NULL);
	if (xrc) {
		br_sql_result_free(sr);
		free(sr);
		map_error(&err, e, bytepos);
		return -1;
	}
	to_result(sr, res);
	transaction_tag(sql, res);
	if (!strncmp(res->tag, "DROP", 4))
		br_pgsub_views_changed(s->hub);
	return 0;
}

static int x_query(void *p, const char *sql, br_pg_emit emit, void *ectx, br_pg_error *e)
{
	sess *s = p;
	if (br_pgsub_is(sql)) {
		/* not PostgreSQL grammar: the whole Query is the one SUBSCRIBE */
		if (!s->hub)
			return br_pg_errorf(e, "0A000", 0, "unsupported: SUBSCRIBE on this executor");
		br_pg_result r;
		if (br_pgsub_prepare(s->hub, sql, &r, e))
			return -1;
		int rc = emit(ectx, &r) ? 1 : 0;
		x_result_free(&r);
		return rc;
	}
	if (br_sql_is_describe(sql)) {
		br_pg_result r;
		int bp = 0;
		if (run(s, sql, &r, &bp, e)) {
			e->position = bp ? byte_to_char_pos(sql, bp) : 0;
			return -1;
		}
		int rc = emit(ectx, &r) ? 1 : 0;
		x_result_free(&r);
		return rc;
	}
	PgQuerySplitResult sp = pg_query_split_with_parser(sql);
	if (sp.error) {
		br_pg_errorf(e, "42601", byte_to_char_pos(sql, sp.error->cursorpos), "%s", sp.error->message);
		pg_query_free_split_result(sp);
		return -1;
	}
	/* The whole string is parsed first (as PostgreSQL does): a syntax error
	 * anywhere runs nothing. */
	int rc = 0;
	size_t total = strlen(sql);
	char *piece = br_xmalloc(total + 1);
	for (int i = 0; i < sp.n_stmts && rc == 0; i++) {
		int loc = sp.stmts[i]->stmt_location, len = sp.stmts[i]->stmt_len;
		if (loc < 0 || (size_t)loc > total)
			continue;
		if (len <= 0 || (size_t)(loc + len) > total)
			len = (int)(total - (size_t)loc);
		/* Each statement runs alone (a copy of its text), so a Query of N
		 * statements costs O(total length), and br_sql's positions are
		 * shifted by the statement's offset. */
		memcpy(piece, sql + loc, (size_t)len);
		piece[len] = 0;
		br_pg_result r;
		int bp = 0;
		if (run(s, piece, &r, &bp, e)) {
			e->position = bp ? byte_to_char_pos(sql, bp + loc) : 0;
			rc = -1;
			break;
		}
		if (r.tag[0] && emit(ectx, &r)) /* no tag: only comments */
			rc = 1;
		x_result_free(&r);
	}
	free(piece);
	pg_query_free_split_result(sp);
	return rc;
}

/* ------------------------------------------------------------ parameters */

static bool ident_char(char ch) { return isalnum((unsigned char)ch) || ch == '_' || ch == '$' || (ch & 0x80); }

typedef struct subst {
	int orig, orig_len, out, out_len; /* byte ranges of one replaced $n */
} subst;

/* Walks sql; for each $n outside literals and comments calls back (when out
 * is non-NULL, appends the substituted text). Returns the highest n seen. */
static int scan_params(const char *sql, br_buf *out, int np, const char *const *params, const uint32_t *oids,
		       subst **subs, int *nsubs)
{
	int maxn = 0;
	size_t n = strlen(sql), i = 0;
	int cap = 0;
	while (i < n) {
		char ch = sql[i];
		size_t start = i;
		if (ch == '-' && sql[i + 1] == '-') {
			while (i < n && sql[i] != '\n')
				i++;
		} else if (ch == '/' && sql[i + 1] == '*') {
			int depth = 0;
			while (i < n) {
				if (sql[i] == '/' && sql[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (sql[i] == '*' && sql[i + 1] == '/') {
					i += 2;
					if (--depth == 0)
						break;
				} else
					i++;
			}
		} else if (ch == '\'' || ch == '"') {
			bool esc = ch == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
				   (i < 2 || !ident_char(sql[i - 2]));
			i++;
			while (i < n) {
				if (esc && sql[i] == '\\' && i + 1 < n) {
					i += 2;
					continue;
				}
				if (sql[i] == ch) {
					if (sql[i + 1] == ch) {
						i += 2;
						continue;
					}
					i++;
					break;
				}
				i++;
			}
		} else if (ch == '$' && isdigit((unsigned char)sql[i + 1]) && (i == 0 || !ident_char(sql[i - 1]))) {
			size_t j = i + 1;
			long v = 0;
			while (j < n && isdigit((unsigned char)sql[j])) {
				if (v < 100000)
					v = v * 10 + (sql[j] - '0');
				j++;
			}
			if (v > maxn)
				maxn = (int)v;
			if (out) {
				int k = (int)v - 1;
				subst sb = { (int)i, (int)(j - i), (int)out->len, 0 };
				if (k >= 0 && k < np) {
					const char *val = params[k];
					const char *cast = "";
					switch (oids[k]) {
					case BR_PG_BOOL: cast = "::boolean"; break;
					case BR_PG_INT2: case BR_PG_INT4: case BR_PG_INT8: case BR_PG_OID: cast = "::bigint"; break;
					case BR_PG_FLOAT4: case BR_PG_FLOAT8: case BR_PG_NUMERIC: cast = "::double precision"; break;
					case BR_PG_TEXT: case BR_PG_VARCHAR: case BR_PG_BPCHAR: case BR_PG_NAME: cast = "::text"; break;
					default: break;
					}
					if (!val)
						br_buf_put(out, "NULL", 4);
					else {
						br_buf_u8(out, '\'');
						for (const char *q = val; *q; q++) {
							if (*q == '\'')
								br_buf_u8(out, '\'');
							br_buf_u8(out, (uint8_t)*q);
						}
						br_buf_u8(out, '\'');
					}
					br_buf_put(out, cast, strlen(cast));
				} else
					br_buf_put(out, sql + i, j - i); /* br_sql reports it */
				sb.out_len = (int)out->len - sb.out;
				if (*nsubs == cap) {
					cap = cap ? 2 * cap : 8;
					*subs = br_xrealloc(*subs, (size_t)cap * sizeof **subs);
				}
				(*subs)[(*nsubs)++] = sb;
			}
			i = j;
			continue;
		} else if (ch == '$' && (i == 0 || !ident_char(sql[i - 1]))) {
			/* dollar quote: $tag$ ... $tag$ */
			size_t j = i + 1;
			while (j < n && (isalnum((unsigned char)sql[j]) || sql[j] == '_'))
				j++;
			if (j < n && sql[j] == '$' && !isdigit((unsigned char)sql[i + 1])) {
				size_t tl = j - i + 1;
				const char *end = NULL;
				for (size_t k = j + 1; k + tl <= n; k++)
					if (sql[k] == '$' && !memcmp(sql + k, sql + i, tl)) {
						end = sql + k;
						break;
					}
				i = end ? (size_t)(end - sql) + tl : n;
			} else
				i++;
		} else
			i++;
		if (out)
			br_buf_put(out, sql + start, i - start);
	}
	return maxn;
}

/* Byte position in the substituted text -> byte position in the original. */
static int unmap_pos(int pos, const subst *subs, int nsubs)
{
	int delta = 0;
	for (int k = 0; k < nsubs; k++) {
		int p0 = pos - 1;
		if (p0 < subs[k].out)
			break;
		if (p0 < subs[k].out + subs[k].out_len)
			return subs[k].orig + 1;
		delta = (subs[k].orig + subs[k].orig_len) - (subs[k].out + subs[k].out_len);
	}
	return pos + delta;
}

static bool keyword(const char *p, const char *kw)
{
	size_t l = strlen(kw);
	return !strncasecmp(p, kw, l) && !ident_char(p[l]);
}

static bool returns_rows(const char *sql)
{
	const char *p = skip_blank(sql);
	static const char *const kw[] = { "select", "values", "with", "table", "show", "explain" };
	for (size_t i = 0; i < BR_ARRAY_LEN(kw); i++)
		if (keyword(p, kw[i]))
			return true;
	return false;
}

static int x_prepare(void *p, const char *sql, int *nparams, bool *empty, bool *rows, br_pg_error *e)
{
	if (br_pgsub_is(sql))
		return br_pg_errorf(e, "0A000", 0,
				    "unsupported: SUBSCRIBE in the extended query protocol (send it as a simple Query)");
	/* parsing here puts a syntax error at Parse, as in PostgreSQL */
	PgQuerySplitResult sp = pg_query_split_with_parser(sql);
	if (sp.error) {
		br_pg_errorf(e, "42601", byte_to_char_pos(sql, sp.error->cursorpos), "%s", sp.error->message);
		pg_query_free_split_result(sp);
		return -1;
	}
	int n = sp.n_stmts;
	pg_query_free_split_result(sp);
	if (n > 1)
		return br_pg_errorf(e, "42601", 0, "cannot insert multiple commands into a prepared statement");
	*empty = n == 0;
	*rows = !*empty && returns_rows(sql);
	*nparams = scan_params(sql, NULL, 0, NULL, NULL, NULL, NULL);
	return 0;
}

static int x_execute(void *p, const char *sql, int np, const char *const *params, const uint32_t *oids,
		     br_pg_result *res, br_pg_error *e)
{
	br_buf text = { 0 };
	subst *subs = NULL;
	int nsubs = 0;
	scan_params(sql, &text, np, params, oids, &subs, &nsubs);
	br_buf_u8(&text, 0);
	int bp = 0;
	int rc = run(p, (const char *)text.p, res, &bp, e);
	if (rc && bp)
		e->position = byte_to_char_pos(sql, unmap_pos(bp, subs, nsubs));
	free(subs);
	br_buf_free(&text);
	return rc;
}

/* Describe of a statement: runs it with every parameter NULL. Only called for
 * row-returning statements (SELECT and the like), so it changes nothing; the
 * cost is one execution of the query. */
static int x_describe(void *p, const char *sql, int np, const uint32_t *oids, br_pg_result *res, br_pg_error *e)
{
	const char **nulls = br_xcalloc((size_t)np + 1, sizeof *nulls);
	int rc = x_execute(p, sql, np, nulls, oids, res, e);
	free(nulls);
	return rc;
}

static void x_cancel(void *p)
{
	/* Statements run to completion on the event loop thread, so a cancel can
	 * only arrive between them, when PostgreSQL too has nothing to cancel. */
}

static void *x_stream_start(void *p, br_pg_result *res, br_pg_conn *conn)
{
	sess *s = p;
	if (s->sub) /* a stream of this session that ended without stream_stop */
		br_pgsub_detach(s->hub, s->sub);
	s->sub = br_pgsub_attach(s->hub, res, conn);
	return s->sub;
}

static void x_stream_stop(void *p, void *handle)
{
	sess *s = p;
	if (s->sub && s->sub == handle)
		br_pgsub_detach(s->hub, s->sub);
	s->sub = NULL;
}

static const br_pg_executor_vt sql_vt = {
	.open = x_open,
	.close = x_close,
	.query = x_query,
	.prepare = x_prepare,
	.describe = x_describe,
	.execute = x_execute,
	.result_free = x_result_free,
	.cancel = x_cancel,
};

static const br_pg_executor_vt hub_vt = {
	.open = x_open_hub,
	.close = x_close,
	.query = x_query,
	.prepare = x_prepare,
	.describe = x_describe,
	.execute = x_execute,
	.result_free = x_result_free,
	.cancel = x_cancel,
	.stream_start = x_stream_start,
	.stream_stop = x_stream_stop,
};

br_pg_executor br_pg_sql_executor(struct br_sql *sql) { return (br_pg_executor){ &sql_vt, sql }; }

br_pg_executor br_pg_hub_executor(br_pg_hub *h) { return (br_pg_executor){ &hub_vt, h }; }
