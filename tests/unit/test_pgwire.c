/* test_pgwire.c — unit tests for src/pgwire: the protocol state machine driven
 * byte by byte against a scripted executor (startup, simple and extended
 * query, row limits, error recovery, hostile input), the value formats, SCRAM,
 * and the br_sql executor (parameters, statement splitting, SQLSTATEs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/util.h"
#include "pgwire/pgwire.h"
#include "pgwire/scram.h"
#include "sql/sql.h"

/* ------------------------------------------------------------ fake executor
 *
 * "rows N": N rows of (i bigint, s text, f double, b boolean, d decimal(10,2),
 * t timestamptz), row i null in s when i % 3 == 2. "fail": 42P01 at 3.
 * "echo": one text column with the parameters joined by '|' (NULL as <null>).
 * Anything else: tag "OK" without rows. Statements in a query are split at ';'. */

typedef struct fake {
	br_type *rowtype;
	br_type *echotype;
	int cancels;
	char last[256];
} fake;

static fake F;

static void *f_open(void *ctx, const char *user, const char *db, br_pg_error *e)
{
	if (!strcmp(user, "nobody")) {
		br_pg_errorf(e, "28000", 0, "role \"%s\" does not exist", user);
		return NULL;
	}
	return &F;
}
static void f_close(void *s) { (void)s; }

static int f_run(const char *sql, int np, const char *const *params, br_pg_result *r, br_pg_error *e)
{
	memset(r, 0, sizeof *r);
	while (*sql == ' ')
		sql++;
	snprintf(F.last, sizeof F.last, "%s", sql);
	if (!strncmp(sql, "fail", 4))
		return br_pg_errorf(e, "42P01", 3, "relation \"x\" does not exist");
	if (!strncmp(sql, "rows", 4)) {
		int n = atoi(sql + 4);
		r->has_rows = true;
		r->ncols = 6;
		static char *names[] = { "i", "s", "f", "b", "d", "t" };
		r->names = names;
		r->rowtype = F.rowtype;
		br_batch_init(&r->rows, F.rowtype, false);
		for (int i = 0; i < n; i++) {
			br_col_append_i64(&r->rows.cols[0], i);
			char s[32];
			snprintf(s, sizeof s, "row %d", i);
			if (i % 3 == 2)
				br_col_append_null(&r->rows.cols[1]);
			else
				br_col_append_bytes(&r->rows.cols[1], s, strlen(s));
			br_col_append_f64(&r->rows.cols[2], i + 0.5);
			br_col_append_bool(&r->rows.cols[3], i & 1);
			br_col_append_dec(&r->rows.cols[4], -12345 * (__int128)(i + 1));
			br_col_append_i64(&r->rows.cols[5], 1700000000123456LL + i);
			br_batch_row_done(&r->rows, 1);
		}
		snprintf(r->tag, sizeof r->tag, "SELECT %d", n);
		r->priv = r; /* marks an owned batch */
		return 0;
	}
	if (!strncmp(sql, "echo", 4)) {
		r->has_rows = true;
		r->ncols = 1;
		static char *names[] = { "echo" };
		r->names = names;
		r->rowtype = F.echotype;
		br_batch_init(&r->rows, F.echotype, false);
		br_buf b = { 0 };
		for (int i = 0; i < np; i++)
			br_buf_printf(&b, "%s%s", i ? "|" : "", params[i] ? params[i] : "<null>");
		br_col_append_bytes(&r->rows.cols[0], b.p ? (const char *)b.p : "", b.len);
		br_buf_free(&b);
		br_batch_row_done(&r->rows, 1);
		snprintf(r->tag, sizeof r->tag, "SELECT 1");
		r->priv = r;
		return 0;
	}
	if (!strncmp(sql, "warn", 4)) {
		snprintf(r->notice.sqlstate, sizeof r->notice.sqlstate, "01000");
		snprintf(r->notice.message, sizeof r->notice.message, "careful");
	}
	snprintf(r->tag, sizeof r->tag, "OK");
	return 0;
}

static void f_free(br_pg_result *r)
{
	if (r->priv)
		br_batch_free(&r->rows);
	memset(r, 0, sizeof *r);
}

static int f_query(void *s, const char *sql, br_pg_emit emit, void *ctx, br_pg_error *e)
{
	char *copy = br_xstrdup(sql), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(copy, ";", &save); t && !rc; t = strtok_r(NULL, ";", &save)) {
		while (*t == ' ')
			t++;
		if (!*t)
			continue;
		br_pg_result r;
		if (f_run(t, 0, NULL, &r, e)) {
			rc = -1;
			break;
		}
		if (emit(ctx, &r))
			rc = 1;
		f_free(&r);
	}
	free(copy);
	return rc;
}

static int f_prepare(void *s, const char *sql, int *np, bool *empty, bool *rows, br_pg_error *e)
{
	if (strchr(sql, ';'))
		return br_pg_errorf(e, "42601", 0, "cannot insert multiple commands into a prepared statement");
	*np = 0;
	for (const char *p = sql; (p = strchr(p, '$')); p++)
		if (atoi(p + 1) > *np)
			*np = atoi(p + 1);
	*empty = !*sql;
	*rows = !strncmp(sql, "rows", 4) || !strncmp(sql, "echo", 4);
	return 0;
}

static int f_execute(void *s, const char *sql, int np, const char *const *params, const uint32_t *oids,
		     br_pg_result *r, br_pg_error *e)
{
	return f_run(sql, np, params, r, e);
}

static int f_describe(void *s, const char *sql, int np, const uint32_t *oids, br_pg_result *r, br_pg_error *e)
{
	return f_run(sql, 0, NULL, r, e);
}

static void f_cancel(void *s) { F.cancels++; }

static const br_pg_executor_vt fake_vt = { f_open, f_close, f_query, f_prepare, f_describe, f_execute, f_free, f_cancel, NULL, NULL };

static int setup(void **state)
{
	(void)state;
	F.rowtype = br_type_struct();
	br_type_struct_add(F.rowtype, 1, "i", false, br_type_new(BR_T_LONG), NULL);
	br_type_struct_add(F.rowtype, 2, "s", false, br_type_new(BR_T_STRING), NULL);
	br_type_struct_add(F.rowtype, 3, "f", false, br_type_new(BR_T_DOUBLE), NULL);
	br_type_struct_add(F.rowtype, 4, "b", false, br_type_new(BR_T_BOOLEAN), NULL);
	br_type_struct_add(F.rowtype, 5, "d", false, br_type_decimal(10, 2), NULL);
	br_type_struct_add(F.rowtype, 6, "t", false, br_type_new(BR_T_TIMESTAMPTZ), NULL);
	F.echotype = br_type_struct();
	br_type_struct_add(F.echotype, 1, "echo", false, br_type_new(BR_T_STRING), NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	br_type_free(F.rowtype);
	br_type_free(F.echotype);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static void msg(br_buf *b, char type, const void *body, size_t n)
{
	br_buf_u8(b, (uint8_t)type);
	br_buf_be32(b, (uint32_t)(n + 4));
	br_buf_put(b, body, n);
}

static void startup(br_buf *b, const char *user)
{
	br_buf body = { 0 };
	br_buf_be32(&body, 196608);
	br_buf_put(&body, "user", 5);
	br_buf_put(&body, user, strlen(user) + 1);
	br_buf_put(&body, "database", 9);
	br_buf_put(&body, "db", 3);
	br_buf_u8(&body, 0);
	br_buf_be32(b, (uint32_t)body.len + 4);
	br_buf_put(b, body.p, body.len);
	br_buf_free(&body);
}

static void query(br_buf *b, const char *sql) { msg(b, 'Q', sql, strlen(sql) + 1); }

static void parse(br_buf *b, const char *name, const char *sql, int n, const uint32_t *oids)
{
	br_buf body = { 0 };
	br_buf_put(&body, name, strlen(name) + 1);
	br_buf_put(&body, sql, strlen(sql) + 1);
	br_buf_be16(&body, (uint16_t)n);
	for (int i = 0; i < n; i++)
		br_buf_be32(&body, oids[i]);
	msg(b, 'P', body.p, body.len);
	br_buf_free(&body);
}

/* params: n values (NULL = SQL NULL) with formats pf (NULL: all text);
 * result format rfmt for every column (-1: none given, meaning text) */
static void bind(br_buf *b, const char *portal, const char *stmt, int n, const char *const *vals,
		 const size_t *lens, const int16_t *pf, int rfmt)
{
	br_buf body = { 0 };
	br_buf_put(&body, portal, strlen(portal) + 1);
	br_buf_put(&body, stmt, strlen(stmt) + 1);
	br_buf_be16(&body, pf ? (uint16_t)n : 0);
	for (int i = 0; pf && i < n; i++)
		br_buf_be16(&body, (uint16_t)pf[i]);
	br_buf_be16(&body, (uint16_t)n);
	for (int i = 0; i < n; i++) {
		if (!vals[i]) {
			br_buf_be32(&body, 0xFFFFFFFFu);
			continue;
		}
		size_t l = lens ? lens[i] : strlen(vals[i]);
		br_buf_be32(&body, (uint32_t)l);
		br_buf_put(&body, vals[i], l);
	}
	if (rfmt < 0)
		br_buf_be16(&body, 0);
	else {
		br_buf_be16(&body, 1);
		br_buf_be16(&body, (uint16_t)rfmt);
	}
	msg(b, 'B', body.p, body.len);
	br_buf_free(&body);
}

static void describe(br_buf *b, char kind, const char *name)
{
	br_buf body = { 0 };
	br_buf_u8(&body, (uint8_t)kind);
	br_buf_put(&body, name, strlen(name) + 1);
	msg(b, 'D', body.p, body.len);
	br_buf_free(&body);
}

static void execute(br_buf *b, const char *portal, int32_t max)
{
	br_buf body = { 0 };
	br_buf_put(&body, portal, strlen(portal) + 1);
	br_buf_be32(&body, (uint32_t)max);
	msg(b, 'E', body.p, body.len);
	br_buf_free(&body);
}

static void sync_(br_buf *b) { msg(b, 'S', NULL, 0); }

/* The backend message types in out, as a string ("RSSSKZ"), checking framing. */
static void types(const br_buf *out, char *s, size_t cap)
{
	size_t i = 0, k = 0;
	while (i < out->len) {
		if (out->len - i == 1 && out->p[i] == 'N') { /* SSL refusal byte */
			s[k++] = '!';
			break;
		}
		assert_true(out->len - i >= 5);
		uint32_t len = br_rd_be32(out->p + i + 1);
		assert_true(len >= 4 && i + 1 + len <= out->len);
		if (k + 1 < cap)
			s[k++] = (char)out->p[i];
		i += 1 + len;
	}
	s[k] = 0;
}

/* The body of the n-th message of type t (NULL if none). */
static const uint8_t *find(const br_buf *out, char t, int nth, uint32_t *blen)
{
	size_t i = 0;
	while (i + 5 <= out->len) {
		uint32_t len = br_rd_be32(out->p + i + 1);
		if (out->p[i] == (uint8_t)t && nth-- == 0) {
			*blen = len - 4;
			return out->p + i + 5;
		}
		i += 1 + len;
	}
	return NULL;
}

/* Field f of an ErrorResponse body. */
static const char *err_field(const uint8_t *b, char f)
{
	while (*b) {
		if (*b == (uint8_t)f)
			return (const char *)b + 1;
		b += strlen((const char *)b) + 1;
	}
	return "";
}

/* Value k of a DataRow body into buf ("NULL" for null). */
static const char *cell(const uint8_t *row, int k, char *buf, size_t cap)
{
	const uint8_t *p = row + 2;
	for (int i = 0;; i++) {
		int32_t l = (int32_t)br_rd_be32(p);
		if (i == k) {
			if (l < 0)
				return "NULL";
			snprintf(buf, cap, "%.*s", l, p + 4);
			return buf;
		}
		p += 4 + (l > 0 ? l : 0);
	}
}

static br_pg_conn *connected(br_buf *out)
{
	br_pg_conn *c = br_pg_conn_new(NULL, (br_pg_executor){ &fake_vt, NULL }, 7, 99);
	br_buf in = { 0 };
	startup(&in, "alice");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, out), 0);
	br_buf_free(&in);
	return c;
}

/* ------------------------------------------------------------ protocol */

static void test_startup(void **state)
{
	(void)state;
	br_pg_conn *c = br_pg_conn_new(NULL, (br_pg_executor){ &fake_vt, NULL }, 7, 99);
	br_buf in = { 0 }, out = { 0 };
	/* SSLRequest, then the startup packet, fed one byte at a time */
	br_buf_be32(&in, 8);
	br_buf_be32(&in, 80877103);
	startup(&in, "alice");
	for (size_t i = 0; i < in.len; i++)
		assert_int_equal(br_pg_conn_feed(c, in.p + i, 1, &out), 0);
	assert_int_equal(out.p[0], 'N');
	br_buf rest = { out.p + 1, out.len - 1, 0 };
	char t[64];
	types(&rest, t, sizeof t);
	assert_string_equal(t, "RSSSSSSSSSSSKZ");
	uint32_t n;
	const uint8_t *k = find(&rest, 'K', 0, &n);
	assert_int_equal(br_rd_be32(k), 7);
	assert_int_equal(br_rd_be32(k + 4), 99);
	bool seen = false;
	for (int i = 0; find(&rest, 'S', i, &n); i++) {
		const char *p = (const char *)find(&rest, 'S', i, &n);
		if (!strcmp(p, "server_version"))
			seen = !strncmp(p + strlen(p) + 1, "15.", 3);
	}
	assert_true(seen);
	br_pg_conn_free(c);
	br_buf_free(&in);
	br_buf_free(&out);
}

static void test_startup_refused(void **state)
{
	(void)state;
	br_buf in = { 0 }, out = { 0 };
	br_pg_conn *c = br_pg_conn_new(NULL, (br_pg_executor){ &fake_vt, NULL }, 1, 1);
	startup(&in, "nobody");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), BR_PG_CLOSE);
	uint32_t n;
	const uint8_t *e = find(&out, 'E', 0, &n);
	assert_non_null(e);
	assert_string_equal(err_field(e, 'S'), "FATAL");
	assert_string_equal(err_field(e, 'C'), "28000");
	br_pg_conn_free(c);
	/* protocol 2.0 is refused */
	br_buf_reset(&in);
	br_buf_reset(&out);
	c = br_pg_conn_new(NULL, (br_pg_executor){ &fake_vt, NULL }, 1, 1);
	br_buf_be32(&in, 8);
	br_buf_be32(&in, 2 << 16);
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), BR_PG_CLOSE);
	assert_string_equal(err_field(find(&out, 'E', 0, &n), 'C'), "0A000");
	br_pg_conn_free(c);
	/* cancel request */
	br_buf_reset(&in);
	br_buf_reset(&out);
	c = br_pg_conn_new(NULL, (br_pg_executor){ &fake_vt, NULL }, 1, 1);
	br_buf_be32(&in, 16);
	br_buf_be32(&in, 80877102);
	br_buf_be32(&in, 42);
	br_buf_be32(&in, 4242);
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), BR_PG_CANCEL);
	int32_t pid, key;
	br_pg_conn_cancel_key(c, &pid, &key);
	assert_int_equal(pid, 42);
	assert_int_equal(key, 4242);
	assert_int_equal(out.len, 0);
	br_pg_conn_free(c);
	br_buf_free(&in);
	br_buf_free(&out);
}

static void test_simple_query(void **state)
{
	(void)state;
	br_buf in = { 0 }, out = { 0 };
	br_pg_conn *c = connected(&out);
	br_buf_reset(&out);
	query(&in, "rows 3; warn; other");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	char t[64];
	types(&out, t, sizeof t);
	assert_string_equal(t, "TDDDCNCCZ");
	uint32_t n;
	const uint8_t *T = find(&out, 'T', 0, &n);
	assert_int_equal(br_rd_be16(T), 6);
	assert_string_equal((const char *)T + 2, "i");
	assert_int_equal(br_rd_be32(T + 2 + 2 + 4 + 2), BR_PG_INT8);
	char buf[64];
	const uint8_t *row2 = find(&out, 'D', 2, &n);
	assert_string_equal(cell(row2, 0, buf, sizeof buf), "2");
	assert_string_equal(cell(row2, 1, buf, sizeof buf), "NULL");
	assert_string_equal(cell(row2, 2, buf, sizeof buf), "2.5");
	assert_string_equal(cell(row2, 3, buf, sizeof buf), "f");
	assert_string_equal(cell(row2, 4, buf, sizeof buf), "-370.35");
	assert_string_equal(cell(row2, 5, buf, sizeof buf), "2023-11-14 22:13:20.123458+00");
	assert_string_equal((const char *)find(&out, 'C', 0, &n), "SELECT 3");
	assert_string_equal(err_field(find(&out, 'N', 0, &n), 'C'), "01000");
	assert_int_equal(*find(&out, 'Z', 0, &n), 'I');
	/* error stops the rest; empty query */
	br_buf_reset(&in);
	br_buf_reset(&out);
	query(&in, "other; fail; rows 1");
	query(&in, "");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	types(&out, t, sizeof t);
	assert_string_equal(t, "CEZIZ");
	const uint8_t *e = find(&out, 'E', 0, &n);
	assert_string_equal(err_field(e, 'C'), "42P01");
	assert_string_equal(err_field(e, 'P'), "3");
	assert_string_equal(err_field(e, 'S'), "ERROR");
	br_pg_conn_free(c);
	br_buf_free(&in);
	br_buf_free(&out);
}

static void test_extended(void **state)
{
	(void)state;
	br_buf in = { 0 }, out = { 0 };
	br_pg_conn *c = connected(&out);
	br_buf_reset(&out);
	uint32_t oids[2] = { BR_PG_INT4, 0 };
	parse(&in, "s1", "echo $1 $2 $3", 2, oids);
	describe(&in, 'S', "s1");
	/* binary int4 258, text with a quote, NULL */
	const char *vals[3] = { "\x00\x00\x01\x02", "x'y", NULL };
	size_t lens[3] = { 4, 3, 0 };
	int16_t pf[3] = { 1, 0, 0 };
	bind(&in, "", "s1", 3, vals, lens, pf, 1);
	describe(&in, 'P', "");
	execute(&in, "", 0);
	sync_(&in);
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	char t[64];
	types(&out, t, sizeof t);
	assert_string_equal(t, "1tT2TDCZ");
	uint32_t n;
	const uint8_t *pd = find(&out, 't', 0, &n);
	assert_int_equal(br_rd_be16(pd), 3);
	assert_int_equal(br_rd_be32(pd + 2), BR_PG_INT4);
	assert_int_equal(br_rd_be32(pd + 6), BR_PG_TEXT);
	/* the portal's RowDescription says binary */
	const uint8_t *T = find(&out, 'T', 1, &n);
	assert_int_equal(br_rd_be16(T + n - 2), 1);
	char buf[64];
	assert_string_equal(cell(find(&out, 'D', 0, &n), 0, buf, sizeof buf), "258|x'y|<null>");
	assert_string_equal((const char *)find(&out, 'C', 0, &n), "SELECT 1");
	br_pg_conn_free(c);
	br_buf_free(&in);
	br_buf_free(&out);
}

static void test_row_limit(void **state)
{
	(void)state;
	br_buf in = { 0 }, out = { 0 };
	br_pg_conn *c = connected(&out);
	br_buf_reset(&out);
	parse(&in, "", "rows 5", 0, NULL);
	bind(&in, "cur", "", 0, NULL, NULL, NULL, 1);
	execute(&in, "cur", 2);
	execute(&in, "cur", 2);
	execute(&in, "cur", 2);
	sync_(&in);
	execute(&in, "cur", 2); /* the portal died at Sync */
	sync_(&in);
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	char t[64];
	types(&out, t, sizeof t);
	assert_string_equal(t, "12DDsDDsDCZEZ");
	uint32_t n;
	assert_string_equal((const char *)find(&out, 'C', 0, &n), "SELECT 1");
	assert_string_equal(err_field(find(&out, 'E', 0, &n), 'C'), "34000");
	/* binary cells: int8 4 big-endian, float8 4.5, bool, numeric -617.25, timestamptz */
	const uint8_t *row = find(&out, 'D', 4, &n);
	assert_int_equal(br_rd_be32(row + 2), 8);
	assert_int_equal(br_rd_be64(row + 6), 4);
	const uint8_t *p = row + 14;
	assert_int_equal(br_rd_be32(p), 5);
	assert_memory_equal(p + 4, "row 4", 5);
	p += 9;
	assert_int_equal(br_rd_be32(p), 8);
	uint64_t bits = br_rd_be64(p + 4);
	double f;
	memcpy(&f, &bits, 8);
	assert_true(f == 4.5);
	p += 12;
	assert_int_equal(br_rd_be32(p), 1);
	assert_int_equal(p[4], 0);
	p += 5;
	static const uint8_t num[] = { 0, 0, 0, 12, 0, 2, 0, 0, 0x40, 0, 0, 2, 0x02, 0x69, 0x09, 0xc4 };
	assert_memory_equal(p, num, sizeof num);
	br_pg_conn_free(c);
	br_buf_free(&in);
	br_buf_free(&out);
}

static void test_error_skips_to_sync(void **state)
{
	(void)state;
	br_buf in = { 0 }, out = { 0 };
	br_pg_conn *c = connected(&out);
	br_buf_reset(&out);
	parse(&in, "", "fail", 0, NULL);
	bind(&in, "", "", 0, NULL, NULL, NULL, -1);
	execute(&in, "", 0);
	parse(&in, "", "rows 1", 0, NULL); /* skipped */
	sync_(&in);
	parse(&in, "two", "rows 1", 0, NULL);
	parse(&in, "two", "rows 1", 0, NULL); /* duplicate name: 42P05 */
	sync_(&in);
	bind(&in, "", "missing", 0, NULL, NULL, NULL, -1);
	sync_(&in);
	parse(&in, "", "a; b", 0, NULL);
	sync_(&in);
	const char *v[1] = { "1" };
	bind(&in, "", "two", 1, v, NULL, NULL, -1); /* too many parameters */
	sync_(&in);
	/* Close, then the statement is gone */
	br_buf cl = { 0 };
	br_buf_u8(&cl, 'S');
	br_buf_put(&cl, "two", 4);
	msg(&in, 'C', cl.p, cl.len);
	br_buf_free(&cl);
	describe(&in, 'S', "two");
	sync_(&in);
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	char t[64];
	types(&out, t, sizeof t);
	assert_string_equal(t, "12EZ1EZEZEZEZ3EZ");
	uint32_t n;
	assert_string_equal(err_field(find(&out, 'E', 0, &n), 'C'), "42P01");
	assert_string_equal(err_field(find(&out, 'E', 1, &n), 'C'), "42P05");
	assert_string_equal(err_field(find(&out, 'E', 2, &n), 'C'), "26000");
	assert_string_equal(err_field(find(&out, 'E', 3, &n), 'C'), "42601");
	assert_string_equal(err_field(find(&out, 'E', 4, &n), 'C'), "08P01");
	assert_string_equal(err_field(find(&out, 'E', 5, &n), 'C'), "26000");
	br_pg_conn_free(c);
	br_buf_free(&in);
	br_buf_free(&out);
}

static void test_hostile(void **state)
{
	(void)state;
	static const struct {
		const char *bytes;
		size_t n;
	} cases[] = {
		{ "Q\x7f\xff\xff\xff", 5 },          /* length past max_message */
		{ "Q\x00\x00\x00\x02", 5 },          /* length below 4 */
		{ "?\x00\x00\x00\x04", 5 },          /* unknown type */
		{ "Q\x00\x00\x00\x06" "ab", 7 },        /* no terminator */
		{ "p\x00\x00\x00\x04", 5 },          /* password message after startup */
	};
	for (size_t i = 0; i < BR_ARRAY_LEN(cases); i++) {
		br_buf out = { 0 };
		br_pg_conn *c = connected(&out);
		br_buf_reset(&out);
		int rc = br_pg_conn_feed(c, (const uint8_t *)cases[i].bytes, cases[i].n, &out);
		uint32_t n;
		const uint8_t *e = find(&out, 'E', 0, &n);
		if (i == 4) { /* 'p' outside authentication: a protocol error, not fatal */
			assert_non_null(e);
		} else {
			assert_int_equal(rc, BR_PG_CLOSE);
			assert_non_null(e);
			assert_string_equal(err_field(e, 'C'), "08P01");
			assert_int_equal(br_pg_conn_feed(c, (const uint8_t *)"S\0\0\0\4", 5, &out), BR_PG_CLOSE);
		}
		br_pg_conn_free(c);
		br_buf_free(&out);
	}
	/* a hostile startup length and a startup packet without terminator */
	br_buf out = { 0 };
	br_pg_conn *c = br_pg_conn_new(NULL, (br_pg_executor){ &fake_vt, NULL }, 1, 1);
	assert_int_equal(br_pg_conn_feed(c, (const uint8_t *)"\xff\xff\xff\xff", 4, &out), BR_PG_CLOSE);
	br_pg_conn_free(c);
	br_buf_reset(&out);
	c = br_pg_conn_new(NULL, (br_pg_executor){ &fake_vt, NULL }, 1, 1);
	assert_int_equal(br_pg_conn_feed(c, (const uint8_t *)"\0\0\0\x0e\0\3\0\0user\0x", 14, &out), BR_PG_CLOSE);
	br_pg_conn_free(c);
	/* Bind with counts that lie */
	br_buf in = { 0 };
	br_buf_reset(&out);
	c = connected(&out);
	parse(&in, "", "echo $1", 0, NULL);
	msg(&in, 'B', "\0\0\x7f\xff", 4);
	msg(&in, 'B', "\0\0\0\0\0\x01\x7f\xff\xff\xff", 10);
	msg(&in, 'B', "\0\0\0\0\0\x01\xff\xff\xff\xfe", 10);
	msg(&in, 'E', "\0", 1);
	msg(&in, 'D', "X\0", 2);
	msg(&in, 'C', "S", 1);
	sync_(&in);
	br_buf_reset(&out);
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	char t[64];
	types(&out, t, sizeof t);
	assert_string_equal(t, "1EZ");
	br_pg_conn_free(c);
	br_buf_free(&in);
	br_buf_free(&out);
}

/* ------------------------------------------------------------ values */

static void enc(br_type *t, void (*fill)(br_col *), int fmt, br_buf *out)
{
	br_col col;
	br_col_init(&col, t);
	fill(&col);
	br_buf_reset(out);
	br_err err = { 0 };
	assert_int_equal(br_pg_encode_value(&col, 0, fmt, out, &err), 0);
	br_col_free(&col);
	br_buf_u8(out, 0);
	out->len--;
}

static double g_f;
static void fill_f(br_col *c) { br_col_append_f64(c, g_f); }
static float g_f32;
static void fill_f32(br_col *c) { br_col_append_f32(c, g_f32); }
static int32_t g_i32;
static void fill_i32(br_col *c) { br_col_append_i32(c, g_i32); }
static int64_t g_i64;
static void fill_i64(br_col *c) { br_col_append_i64(c, g_i64); }
static __int128 g_dec;
static void fill_dec(br_col *c) { br_col_append_dec(c, g_dec); }

static void test_value_text(void **state)
{
	(void)state;
	br_buf out = { 0 };
	br_type *d = br_type_new(BR_T_DOUBLE);
	static const struct {
		double v;
		const char *want;
	} fl[] = {
		{ 0.1, "0.1" }, { 1.5, "1.5" }, { 100, "100" }, { 1e15, "1e+15" }, { 123456789012345, "123456789012345" },
		{ 0.0001, "0.0001" }, { 0.00001, "1e-05" }, { -2.5e-10, "-2.5e-10" }, { 1.0 / 3, "0.3333333333333333" },
		{ 0, "0" }, { 1e300 * 1e300, "Infinity" },
	};
	for (size_t i = 0; i < BR_ARRAY_LEN(fl); i++) {
		g_f = fl[i].v;
		enc(d, fill_f, 0, &out);
		assert_string_equal((const char *)out.p, fl[i].want);
	}
	br_type_free(d);
	br_type *f4 = br_type_new(BR_T_FLOAT);
	g_f32 = 0.1f;
	enc(f4, fill_f32, 0, &out);
	assert_string_equal((const char *)out.p, "0.1");
	g_f32 = 1234567.0f;
	enc(f4, fill_f32, 0, &out);
	assert_string_equal((const char *)out.p, "1.234567e+06");
	br_type_free(f4);
	br_type *dt = br_type_new(BR_T_DATE);
	g_i32 = 0;
	enc(dt, fill_i32, 0, &out);
	assert_string_equal((const char *)out.p, "1970-01-01");
	g_i32 = -719528; /* proleptic year 0 (a leap year) = 1 BC */
	enc(dt, fill_i32, 0, &out);
	assert_string_equal((const char *)out.p, "0001-01-01 BC");
	g_i32 = 19000;
	enc(dt, fill_i32, 1, &out);
	assert_int_equal(br_rd_be32(out.p), 19000 - 10957);
	br_type_free(dt);
	br_type *ts = br_type_new(BR_T_TIMESTAMP);
	g_i64 = -1; /* one microsecond before the epoch */
	enc(ts, fill_i64, 0, &out);
	assert_string_equal((const char *)out.p, "1969-12-31 23:59:59.999999");
	g_i64 = 86400LL * 1000000 * 365;
	enc(ts, fill_i64, 0, &out);
	assert_string_equal((const char *)out.p, "1971-01-01 00:00:00");
	br_type_free(ts);
	br_type *dec = br_type_decimal(20, 4);
	g_dec = -5;
	enc(dec, fill_dec, 0, &out);
	assert_string_equal((const char *)out.p, "-0.0005");
	g_dec = 123456789;
	enc(dec, fill_dec, 0, &out);
	assert_string_equal((const char *)out.p, "12345.6789");
	/* binary numeric 12345.6789: ndigits 3, weight 1, sign 0, dscale 4, digits 1 2345 6789 */
	enc(dec, fill_dec, 1, &out);
	static const uint8_t want[] = { 0, 3, 0, 1, 0, 0, 0, 4, 0, 1, 0x09, 0x29, 0x1a, 0x85 };
	assert_int_equal(out.len, sizeof want);
	assert_memory_equal(out.p, want, sizeof want);
	/* binary numeric -0.0005: ndigits 1, weight -1, sign 0x4000, dscale 4, digit 5 */
	g_dec = -5;
	enc(dec, fill_dec, 1, &out);
	static const uint8_t want2[] = { 0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 5 };
	assert_int_equal(out.len, sizeof want2);
	assert_memory_equal(out.p, want2, sizeof want2);
	br_type_free(dec);
	br_buf_free(&out);
}

static void test_binary_params(void **state)
{
	(void)state;
	br_buf out = { 0 };
	br_err err = { 0 };
	static const uint8_t i8[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe };
	assert_int_equal(br_pg_binary_to_text(BR_PG_INT8, i8, 8, &out, &err), 0);
	assert_string_equal((const char *)out.p, "-2");
	br_buf_reset(&out);
	assert_int_equal(br_pg_binary_to_text(BR_PG_INT4, i8, 3, &out, &err), BR_EINVAL);
	static const uint8_t num[] = { 0, 3, 0, 1, 0, 0, 0, 4, 0, 1, 0x09, 0x29, 0x1a, 0x85 };
	br_buf_reset(&out);
	assert_int_equal(br_pg_binary_to_text(BR_PG_NUMERIC, num, sizeof num, &out, &err), 0);
	assert_string_equal((const char *)out.p, "12345.6789");
	static const uint8_t num2[] = { 0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 5 };
	br_buf_reset(&out);
	assert_int_equal(br_pg_binary_to_text(BR_PG_NUMERIC, num2, sizeof num2, &out, &err), 0);
	assert_string_equal((const char *)out.p, "-0.0005");
	static const uint8_t bad[] = { 0, 9, 0, 0, 0, 0, 0, 0 };
	br_buf_reset(&out);
	assert_int_equal(br_pg_binary_to_text(BR_PG_NUMERIC, bad, sizeof bad, &out, &err), BR_EINVAL);
	static const uint8_t ts[] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	br_buf_reset(&out);
	assert_int_equal(br_pg_binary_to_text(BR_PG_TIMESTAMP, ts, 8, &out, &err), 0);
	assert_string_equal((const char *)out.p, "2000-01-01 00:00:00.000001");
	br_buf_reset(&out);
	assert_int_equal(br_pg_binary_to_text(BR_PG_TEXT, (const uint8_t *)"a\0b", 3, &out, &err), BR_EINVAL);
	br_buf_free(&out);
}

/* ------------------------------------------------------------ SCRAM */

static void b64(const uint8_t *p, size_t n, char *out) { EVP_EncodeBlock((unsigned char *)out, p, (int)n); }

/* A client run of RFC 7677 against the server; returns the step result of the final message. */
static int scram_client(const char *server_pw, const char *client_pw)
{
	br_pg_scram *s = br_pg_scram_new(server_pw);
	const char *cfb = "n=,r=rOprNGfwEbeRWgbNEkqO";
	br_buf m = { 0 }, reply = { 0 };
	br_buf_put(&m, "SCRAM-SHA-256", 14);
	br_buf_be32(&m, (uint32_t)strlen(cfb) + 3);
	br_buf_put(&m, "n,,", 3);
	br_buf_put(&m, cfb, strlen(cfb));
	br_err err = { 0 };
	assert_int_equal(br_pg_scram_step(s, m.p, m.len, &reply, &err), 0);
	br_buf_u8(&reply, 0);
	char sf[256];
	snprintf(sf, sizeof sf, "%s", (const char *)reply.p);
	/* r=...,s=...,i=4096 */
	char nonce[128], salt64[64];
	int iter;
	assert_int_equal(sscanf(sf, "r=%127[^,],s=%63[^,],i=%d", nonce, salt64, &iter), 3);
	assert_int_equal(strncmp(nonce, "rOprNGfwEbeRWgbNEkqO", 20), 0);
	uint8_t salt[64];
	int sl = EVP_DecodeBlock(salt, (const unsigned char *)salt64, (int)strlen(salt64));
	while (sl > 0 && salt64[strlen(salt64) - 1] == '=' && sl > 16)
		sl--;
	uint8_t salted[32], ckey[32], stored[32], sig[32], proof[32];
	PKCS5_PBKDF2_HMAC(client_pw, (int)strlen(client_pw), salt, 16, iter, EVP_sha256(), 32, salted);
	unsigned int l = 32;
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, ckey, &l);
	SHA256(ckey, 32, stored);
	char without[256], auth[768];
	snprintf(without, sizeof without, "c=biws,r=%s", nonce);
	snprintf(auth, sizeof auth, "%s,%s,%s", cfb, sf, without);
	HMAC(EVP_sha256(), stored, 32, (const unsigned char *)auth, strlen(auth), sig, &l);
	for (int i = 0; i < 32; i++)
		proof[i] = ckey[i] ^ sig[i];
	char p64[64], final[512];
	b64(proof, 32, p64);
	snprintf(final, sizeof final, "%s,p=%s", without, p64);
	br_buf_reset(&reply);
	int rc = br_pg_scram_step(s, (const uint8_t *)final, strlen(final), &reply, &err);
	if (rc == 1)
		assert_int_equal(strncmp((const char *)reply.p, "v=", 2), 0);
	br_pg_scram_free(s);
	br_buf_free(&m);
	br_buf_free(&reply);
	return rc;
}

static void test_scram(void **state)
{
	(void)state;
	assert_int_equal(scram_client("pencil", "pencil"), 1);
	assert_int_equal(scram_client("pencil", "pen"), BR_EINVAL);
	/* garbage first message */
	br_pg_scram *s = br_pg_scram_new("x");
	br_buf reply = { 0 };
	br_err err = { 0 };
	assert_true(br_pg_scram_step(s, (const uint8_t *)"SCRAM-SHA-256\0\0\0\0\x05p=x,,", 23, &reply, &err) < 0);
	br_pg_scram_free(s);
	s = br_pg_scram_new("x");
	assert_true(br_pg_scram_step(s, (const uint8_t *)"SCRAM-SHA-256\0\xff\xff\xff\xff", 18, &reply, &err) < 0);
	br_pg_scram_free(s);
	br_buf_free(&reply);
}

/* ------------------------------------------------------------ br_sql executor */

typedef struct {
	br_buf text;
	int n;
} collect;

static int collect_emit(void *ctx, br_pg_result *r)
{
	collect *c = ctx;
	c->n++;
	br_buf_printf(&c->text, "[%s]", r->tag);
	for (int64_t i = 0; r->has_rows && i < r->rows.nrows; i++)
		for (int k = 0; k < r->ncols; k++) {
			br_err err = { 0 };
			br_buf_u8(&c->text, k ? ',' : ' ');
			if (!br_col_valid(&r->rows.cols[k], i))
				br_buf_put(&c->text, "NULL", 4);
			else
				assert_int_equal(br_pg_encode_value(&r->rows.cols[k], i, 0, &c->text, &err), 0);
		}
	return 0;
}

static void test_sql_executor(void **state)
{
	(void)state;
	br_sql *sql = br_sql_open(NULL);
	br_pg_executor ex = br_pg_sql_executor(sql);
	br_pg_error e = { 0 };
	void *s = ex.vt->open(ex.ctx, "u", "d", &e);
	collect c = { 0 };
	assert_int_equal(ex.vt->query(s, "CREATE TABLE t (a bigint, b text); INSERT INTO t VALUES (1, 'x'), (2, 'y''z');"
				       " SELECT a, b FROM t ORDER BY a", collect_emit, &c, &e), 0);
	br_buf_u8(&c.text, 0);
	assert_string_equal((const char *)c.text.p, "[CREATE TABLE][INSERT 0 2][SELECT 2] 1,x 2,y'z");
	/* error position counts from the start of the whole query string */
	assert_int_equal(ex.vt->query(s, "SELECT 1; SELECT nope FROM t", collect_emit, &c, &e), -1);
	assert_string_equal(e.sqlstate, "42703");
	assert_int_equal(e.position, 18);
	assert_int_equal(ex.vt->query(s, "SELECT * FROM zz", collect_emit, &c, &e), -1);
	assert_string_equal(e.sqlstate, "42P01");
	assert_int_equal(ex.vt->query(s, "SELEC 1", collect_emit, &c, &e), -1);
	assert_string_equal(e.sqlstate, "42601");
	assert_int_equal(e.position, 1);
	/* prepare: parameters, emptiness, multiple statements */
	int np;
	bool empty, rows;
	assert_int_equal(ex.vt->prepare(s, "SELECT b FROM t WHERE a = $2 OR b = '$1' -- $7\n", &np, &empty, &rows, &e), 0);
	assert_int_equal(np, 2);
	assert_false(empty);
	assert_true(rows);
	assert_int_equal(ex.vt->prepare(s, "-- nothing", &np, &empty, &rows, &e), 0);
	assert_true(empty);
	assert_int_equal(ex.vt->prepare(s, "SELECT 1; SELECT 2", &np, &empty, &rows, &e), -1);
	assert_string_equal(e.sqlstate, "42601");
	/* execute with parameters: quotes survive, typed and untyped */
	const char *params[2] = { "y'z", "1" };
	uint32_t oids[2] = { 0, BR_PG_INT8 };
	br_pg_result r;
	assert_int_equal(ex.vt->execute(s, "SELECT a FROM t WHERE b = $1 OR a = $2 ORDER BY a", 2, params, oids, &r, &e), 0);
	assert_int_equal(r.rows.nrows, 2);
	ex.vt->result_free(&r);
	const char *bad[1] = { "abc" };
	uint32_t i8[1] = { BR_PG_INT8 };
	assert_int_equal(ex.vt->execute(s, "SELECT a FROM t WHERE a = $1", 1, bad, i8, &r, &e), -1);
	assert_string_equal(e.sqlstate, "22P02");
	/* an error after a substituted parameter points into the client's text */
	const char *longp[1] = { "a much longer value than $1" };
	assert_int_equal(ex.vt->execute(s, "SELECT $1, nope FROM t", 1, longp, NULL ? NULL : (uint32_t[]){ 0 }, &r, &e), -1);
	assert_string_equal(e.sqlstate, "42703");
	assert_int_equal(e.position, 12);
	/* describe runs row-returning statements with NULL parameters */
	assert_int_equal(ex.vt->describe(s, "SELECT a, b FROM t WHERE a = $1", 1, (uint32_t[]){ 0 }, &r, &e), 0);
	assert_true(r.has_rows);
	assert_int_equal(r.ncols, 2);
	assert_string_equal(r.names[1], "b");
	ex.vt->result_free(&r);
	ex.vt->close(s);
	br_buf_free(&c.text);
	br_sql_close(sql);
}

/* ------------------------------------------------------------ SUBSCRIBE */

typedef struct wcap {
	br_buf got;
	size_t backlog; /* what the fake socket says is still unsent */
	bool closed;
} wcap;

static size_t w_capture(void *arg, br_buf *out, bool close)
{
	wcap *w = arg;
	br_buf_put(&w->got, out->p, out->len);
	br_buf_reset(out);
	w->closed |= close;
	return w->backlog;
}

/* The CopyData bodies in b, each line once, joined as "line|line|". */
static void copy_lines(const br_buf *b, char *s, size_t cap)
{
	size_t k = 0;
	uint32_t n;
	const uint8_t *d;
	for (int i = 0; (d = find(b, 'd', i, &n)); i++)
		k += (size_t)snprintf(s + k, cap - k, "%.*s|", (int)n - 1, d); /* without the newline */
	s[k] = 0;
}

static void test_subscribe(void **state)
{
	(void)state;
	br_sql *sql = br_sql_open(NULL);
	br_pg_hub *hub = br_pg_hub_new(sql);
	br_pg_config cfg = { .max_stream_backlog = 1000 };
	br_pg_conn *c = br_pg_conn_new(&cfg, br_pg_hub_executor(hub), 7, 99);
	wcap w = { 0 };
	br_pg_conn_set_writer(c, w_capture, &w);
	br_buf in = { 0 }, out = { 0 };
	char t[64], lines[1024];
	startup(&in, "alice");
	query(&in, "CREATE TABLE t (k text, v bigint); CREATE VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k;"
		   " INSERT INTO t VALUES ('a', 1), ('b', 2)");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	br_buf_reset(&in);
	br_buf_reset(&out);
	/* errors: a table, a missing view, a bad option */
	query(&in, "SUBSCRIBE t");
	query(&in, "SUBSCRIBE TO nope");
	query(&in, "SUBSCRIBE s WITH (snapshot = maybe)");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	types(&out, t, sizeof t);
	assert_string_equal(t, "EZEZEZ");
	uint32_t n;
	assert_string_equal(err_field(find(&out, 'E', 0, &n), 'C'), "42809");
	assert_string_equal(err_field(find(&out, 'E', 1, &n), 'C'), "42P01");
	br_buf_reset(&in);
	br_buf_reset(&out);
	/* the snapshot, then the deltas of a step another session causes */
	query(&in, "SUBSCRIBE TO s WITH (snapshot = true)");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	br_buf_put(&out, w.got.p, w.got.len);
	br_buf_reset(&w.got);
	types(&out, t, sizeof t);
	assert_string_equal(t, "Hdd"); /* no ReadyForQuery while streaming */
	copy_lines(&out, lines, sizeof lines);
	/* _frontier: without a frontier text, the steps taken so far (one: the INSERT) */
	assert_true(!strcmp(lines, "1\t1\ta\t1|1\t1\tb\t2|") || !strcmp(lines, "1\t1\tb\t2|1\t1\ta\t1|"));
	br_err err = { 0 };
	assert_int_equal(br_sql_exec(sql, "INSERT INTO t VALUES ('a', 5)", NULL, &err), 0);
	br_pg_hub_set_frontier(hub, "t/0:3");
	assert_int_equal(br_sql_exec(sql, "INSERT INTO t VALUES ('c\tx', NULL)", NULL, &err), 0);
	copy_lines(&w.got, lines, sizeof lines);
	assert_true(strstr(lines, "2\t-1\ta\t1|") && strstr(lines, "2\t1\ta\t6|"));
	assert_non_null(strstr(lines, "t/0:3\t1\tc\\tx\t\\N|")); /* COPY escapes and \N */
	/* queries sent meanwhile wait; a cancel ends the stream, then they run */
	br_buf_reset(&in);
	br_buf_reset(&out);
	br_buf_reset(&w.got);
	query(&in, "SELECT 1");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	assert_int_equal(out.len, 0);
	br_pg_conn_cancel(c);
	types(&w.got, t, sizeof t);
	assert_string_equal(t, "EZTDCZ");
	assert_string_equal(err_field(find(&w.got, 'E', 0, &n), 'C'), "57014");
	/* DROP VIEW (by another session) ends the streams of that view */
	br_buf_reset(&in);
	br_buf_reset(&w.got);
	query(&in, "SUBSCRIBE s WITH (snapshot = false)");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	br_pg_conn *other = br_pg_conn_new(&cfg, br_pg_hub_executor(hub), 8, 98);
	br_buf in2 = { 0 }, out2 = { 0 };
	startup(&in2, "bob");
	query(&in2, "CREATE VIEW s2 AS SELECT k FROM t; DROP VIEW s2");
	assert_int_equal(br_pg_conn_feed(other, in2.p, in2.len, &out2), 0);
	assert_int_equal(w.got.len, 0); /* s2 had no subscriber: s's stream goes on */
	br_buf_reset(&in2);
	query(&in2, "DROP VIEW s");
	assert_int_equal(br_pg_conn_feed(other, in2.p, in2.len, &out2), 0);
	types(&w.got, t, sizeof t);
	assert_string_equal(t, "EZ");
	assert_string_equal(err_field(find(&w.got, 'E', 0, &n), 'C'), "57P01");
	br_pg_conn_free(other);
	br_buf_free(&in2);
	br_buf_free(&out2);
	assert_int_equal(br_sql_exec(sql, "CREATE VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k", NULL, &err), 0);
	/* a stream whose client does not read is dropped, and the engine goes on */
	br_buf_reset(&in);
	br_buf_reset(&out);
	br_buf_reset(&w.got);
	query(&in, "SUBSCRIBE s WITH (snapshot = false)");
	assert_int_equal(br_pg_conn_feed(c, in.p, in.len, &out), 0);
	w.backlog = 5000;
	assert_int_equal(br_sql_exec(sql, "INSERT INTO t VALUES ('b', 1)", NULL, &err), 0);
	assert_true(w.closed);
	types(&w.got, t, sizeof t);
	assert_string_equal(t, "ddE");
	assert_string_equal(err_field(find(&w.got, 'E', 0, &n), 'C'), "53400");
	assert_int_equal(br_sql_exec(sql, "INSERT INTO t VALUES ('b', 1)", NULL, &err), 0);
	br_pg_conn_free(c); /* the session forgets its (dropped) stream */
	br_pg_hub_free(hub);
	br_sql_close(sql);
	br_buf_free(&in);
	br_buf_free(&out);
	br_buf_free(&w.got);
}

/* ------------------------------------------------------------ pg_catalog */

static void test_catalog(void **state)
{
	(void)state;
	br_sql *sql = br_sql_open(NULL);
	br_pg_executor ex = br_pg_sql_executor(sql);
	br_pg_error e = { 0 };
	void *s = ex.vt->open(ex.ctx, "u", "d", &e);
	collect c = { 0 };
	assert_int_equal(ex.vt->query(s, "CREATE TABLE bids (a bigint, p double precision, w text, ok boolean);"
				       " CREATE VIEW v AS SELECT a, count(*) AS n FROM bids GROUP BY a", collect_emit, &c, &e), 0);
	br_buf_reset(&c.text);
	/* psql 15's \dt b* */
	const char *dt = "SELECT n.nspname as \"Schema\",\n  c.relname as \"Name\",\n  CASE c.relkind WHEN 'r' THEN 'table' "
			 "WHEN 'v' THEN 'view' END as \"Type\",\n  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"\n"
			 "FROM pg_catalog.pg_class c\n     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
			 "WHERE c.relkind IN ('r','p','')\n  AND c.relname OPERATOR(pg_catalog.~) '^(b.*)$' COLLATE "
			 "pg_catalog.default\n  AND pg_catalog.pg_table_is_visible(c.oid)\nORDER BY 1,2;";
	assert_int_equal(ex.vt->query(s, dt, collect_emit, &c, &e), 0);
	br_buf_u8(&c.text, 0);
	assert_string_equal((const char *)c.text.p, "[SELECT 1] public,bids,table,u");
	/* \d v: lookup, then the columns by oid */
	br_buf_reset(&c.text);
	assert_int_equal(ex.vt->query(s, "SELECT c.oid,\n  n.nspname,\n  c.relname\nFROM pg_catalog.pg_class c\n     LEFT JOIN "
				       "pg_catalog.pg_namespace n ON n.oid = c.relnamespace\nWHERE c.relname "
				       "OPERATOR(pg_catalog.~) '^(v)$' COLLATE pg_catalog.default", collect_emit, &c, &e), 0);
	br_buf_u8(&c.text, 0);
	char oid[32];
	assert_int_equal(sscanf((const char *)c.text.p, "[SELECT 1] %31[0-9],public,v", oid), 1);
	char q[512];
	snprintf(q, sizeof q, "SELECT a.attname,\n  pg_catalog.format_type(a.atttypid, a.atttypmod),\n  a.attnotnull\n"
		 "FROM pg_catalog.pg_attribute a\nWHERE a.attrelid = '%s' AND a.attnum > 0 AND NOT a.attisdropped", oid);
	br_buf_reset(&c.text);
	assert_int_equal(ex.vt->query(s, q, collect_emit, &c, &e), 0);
	br_buf_u8(&c.text, 0);
	assert_string_equal((const char *)c.text.p, "[SELECT 2] a,bigint,NULL,f,NULL,, n,bigint,NULL,f,NULL,,");
	/* an unknown catalog query is refused, never guessed */
	assert_int_equal(ex.vt->query(s, "SELECT relname FROM pg_catalog.pg_class", collect_emit, &c, &e), -1);
	assert_string_equal(e.sqlstate, "0A000");
	/* catalog names in comments and strings do not make a catalog query */
	br_buf_reset(&c.text);
	assert_int_equal(ex.vt->query(s, "SELECT 'pg_catalog.pg_class' -- FROM pg_class", collect_emit, &c, &e), 0);
	br_buf_u8(&c.text, 0);
	assert_string_equal((const char *)c.text.p, "[SELECT 1] pg_catalog.pg_class");
	/* SET / SHOW: fixed parameters accept their own value, refuse others */
	br_buf_reset(&c.text);
	assert_int_equal(ex.vt->query(s, "SET extra_float_digits = 3; SET TIME ZONE 'UTC'; SHOW search_path;"
				       " SET application_name TO 'app'; SHOW application_name", collect_emit, &c, &e), 0);
	br_buf_u8(&c.text, 0);
	assert_string_equal((const char *)c.text.p, "[SET][SET][SHOW] public[SET][SHOW] app");
	assert_int_equal(ex.vt->query(s, "SET TimeZone = 'Europe/Paris'", collect_emit, &c, &e), -1);
	assert_string_equal(e.sqlstate, "0A000");
	assert_int_equal(ex.vt->query(s, "SHOW nope", collect_emit, &c, &e), -1);
	assert_string_equal(e.sqlstate, "42704");
	/* SUBSCRIBE needs the hub */
	assert_int_equal(ex.vt->query(s, "SUBSCRIBE v", collect_emit, &c, &e), -1);
	assert_string_equal(e.sqlstate, "0A000");
	ex.vt->close(s);
	br_buf_free(&c.text);
	br_sql_close(sql);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_startup),
		cmocka_unit_test(test_startup_refused),
		cmocka_unit_test(test_simple_query),
		cmocka_unit_test(test_extended),
		cmocka_unit_test(test_row_limit),
		cmocka_unit_test(test_error_skips_to_sync),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_value_text),
		cmocka_unit_test(test_binary_params),
		cmocka_unit_test(test_scram),
		cmocka_unit_test(test_sql_executor),
		cmocka_unit_test(test_subscribe),
		cmocka_unit_test(test_catalog),
	};
	return cmocka_run_group_tests_name("pgwire", tests, setup, teardown);
}
