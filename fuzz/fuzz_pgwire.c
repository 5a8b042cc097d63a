/* fuzz_pgwire.c — libFuzzer harness for the PostgreSQL protocol state machine
 * (src/pgwire/proto.c, values.c, scram.c): every input is a client byte stream
 * fed to a fresh br_pg_conn.
 *
 * Input layout: byte 0 is a mode: bit 0 set = a valid StartupMessage is sent
 * first (so most inputs reach the query messages), bit 1 = the server asks for
 * a SCRAM password, bits 2-7 = the chunk size (1 + value) in which the rest is
 * fed, so message boundaries split anywhere. The executor is scripted, with
 * no SQL engine (fuzz_sql covers that): any statement returns two rows of
 * every column type pgwire encodes, statements starting with "e" fail, and
 * $n parameters are counted from the text; so Bind, Describe and Execute, text
 * and binary parameters and result formats are all reachable.
 * Beyond "no crash": the output always parses as a sequence of well-framed
 * backend messages (after the optional single 'N' SSL refusal bytes). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "pgwire/pgwire.h"

static br_type *rowtype;
static char *names[] = { "b", "i", "l", "f", "d", "n", "date", "time", "ts", "tstz", "s", "bin", "uuid" };

static void build_type(void)
{
	static const br_type_id ids[] = { BR_T_BOOLEAN, BR_T_INT, BR_T_LONG, BR_T_FLOAT, BR_T_DOUBLE, BR_T_DECIMAL,
					  BR_T_DATE, BR_T_TIME, BR_T_TIMESTAMP, BR_T_TIMESTAMPTZ, BR_T_STRING,
					  BR_T_BINARY, BR_T_UUID };
	rowtype = br_type_struct();
	for (int i = 0; i < (int)BR_ARRAY_LEN(ids); i++)
		br_type_struct_add(rowtype, i + 1, names[i], false,
				   ids[i] == BR_T_DECIMAL ? br_type_decimal(38, 6) : br_type_new(ids[i]), NULL);
}

static void *x_open(void *ctx, const char *u, const char *d, br_pg_error *e) { return &rowtype; }
static void x_close(void *s) { }

static int run(const char *sql, int np, const char *const *params, br_pg_result *r, br_pg_error *e)
{
	memset(r, 0, sizeof *r);
	if (sql[0] == 'e')
		return br_pg_errorf(e, "42601", 1, "scripted failure");
	r->has_rows = true;
	r->ncols = rowtype->nchildren;
	r->names = names;
	r->rowtype = rowtype;
	br_batch_init(&r->rows, rowtype, false);
	for (int row = 0; row < 2; row++) {
		int64_t v = row ? -86400000001LL : (int64_t)strlen(sql) * 7919;
		br_col *c = r->rows.cols;
		br_col_append_bool(&c[0], row);
		br_col_append_i32(&c[1], (int32_t)v);
		br_col_append_i64(&c[2], v);
		br_col_append_f32(&c[3], (float)v / 3);
		br_col_append_f64(&c[4], (double)v / 7);
		br_col_append_dec(&c[5], (__int128)v * 1000003);
		br_col_append_i32(&c[6], (int32_t)(v % 3000000));
		br_col_append_i64(&c[7], (v < 0 ? -v : v) % 86400000000LL);
		br_col_append_i64(&c[8], v * 1000);
		br_col_append_i64(&c[9], -v * 1000);
		const char *s = np > 0 && params[0] ? params[0] : sql;
		br_col_append_bytes(&c[10], s, strlen(s));
		br_col_append_bytes(&c[11], sql, strlen(sql));
		br_col_append_bytes(&c[12], "0123456789abcdef", 16);
		br_batch_row_done(&r->rows, 1);
	}
	snprintf(r->tag, sizeof r->tag, "SELECT 2");
	return 0;
}

static void x_free(br_pg_result *r)
{
	if (r->has_rows)
		br_batch_free(&r->rows);
	memset(r, 0, sizeof *r);
}

static int x_query(void *s, const char *sql, br_pg_emit emit, void *ctx, br_pg_error *e)
{
	if (!sql[0])
		return 0;
	br_pg_result r;
	if (run(sql, 0, NULL, &r, e))
		return -1;
	int rc = emit(ctx, &r) ? 1 : 0;
	x_free(&r);
	return rc;
}

static int x_prepare(void *s, const char *sql, int *np, bool *empty, bool *rows, br_pg_error *e)
{
	*np = 0;
	for (const char *p = sql; (p = strchr(p, '$')); p++) {
		int n = atoi(p + 1);
		if (n > *np && n < 1000)
			*np = n;
	}
	*empty = !sql[0];
	*rows = sql[0] != 'n';
	return 0;
}

static int x_execute(void *s, const char *sql, int np, const char *const *params, const uint32_t *oids,
		     br_pg_result *r, br_pg_error *e)
{
	return run(sql, np, params, r, e);
}

static int x_describe(void *s, const char *sql, int np, const uint32_t *oids, br_pg_result *r, br_pg_error *e)
{
	return run(sql, 0, NULL, r, e);
}

static const br_pg_executor_vt vt = { x_open, x_close, x_query, x_prepare, x_describe, x_execute, x_free, NULL, NULL, NULL };

static void check_framing(const br_buf *out)
{
	size_t i = 0;
	while (i < out->len && out->p[i] == 'N' && (i + 1 == out->len || out->p[i + 1] != 0))
		i++; /* SSL/GSS refusals; a NoticeResponse has a zero length byte next */
	while (i < out->len) {
		if (out->len - i < 5)
			abort();
		uint32_t len = br_rd_be32(out->p + i + 1);
		if (len < 4 || len > out->len - i - 1)
			abort();
		i += 1 + len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!rowtype)
		build_type();
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	br_pg_config cfg = { .password = mode & 2 ? "pw" : NULL, .max_message = 1 << 20 };
	br_pg_conn *c = br_pg_conn_new(&cfg, (br_pg_executor){ &vt, NULL }, 1, 2);
	br_buf out = { 0 };
	int rc = 0;
	if (mode & 1) {
		static const uint8_t st[] = { 0, 0, 0, 19, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'f', 'u', 'z', 'z', 0, 0 };
		rc = br_pg_conn_feed(c, st, sizeof st, &out);
	}
	size_t chunk = (size_t)(mode >> 2) + 1;
	for (size_t i = 0; i < size && rc == 0; i += chunk) {
		size_t n = size - i < chunk ? size - i : chunk;
		rc = br_pg_conn_feed(c, data + i, n, &out);
	}
	check_framing(&out);
	br_pg_conn_free(c);
	br_buf_free(&out);
	return 0;
}
