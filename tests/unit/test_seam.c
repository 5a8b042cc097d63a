/* test_seam.c — unit tests for the backfill seam of SQL tables (src/sql/seam.c):
 * the frontier and dead-letter checks of one snapshot, rows below the frontier
 * only, upsert rows in (partition, offset) order whatever the file order,
 * column mapping by name with int→long widening, the fall-back reasons, and an
 * upsert table's tombstones read back from the dead-letter topic, and the
 * projection (columns the table does not use are not read) with its progress. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "iceberg/iceberg.h"
#include "log/log.h"
#include "log/records.h"
#include "sql/progress.h"
#include "sql/seam.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/braid-seam-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	br_remove_tree(dir, NULL);
	return 0;
}

static void test_frontier(void **state)
{
	(void)state;
	int64_t high[3] = { 5, 10, 0 }, f[3];
	char why[256];
	br_seam_spec sp = { .nparts = 2, .high = high };
	assert_int_equal(br_seam_frontier(NULL, NULL, &sp, f, why, sizeof why), 0);
	assert_non_null(strstr(why, "no frontier"));
	assert_int_equal(br_seam_frontier("1:3,0:5", "4", &sp, f, why, sizeof why), 1);
	assert_int_equal(f[0], 5);
	assert_int_equal(f[1], 3);
	/* a partition never tiered (absent) starts at 0 */
	assert_int_equal(br_seam_frontier("1:2", NULL, &sp, f, why, sizeof why), 1);
	assert_int_equal(f[0], 0);
	assert_int_equal(f[1], 2);
	/* upsert: any dead letter may be a tombstone */
	sp.upsert = true;
	assert_int_equal(br_seam_frontier("0:5,1:3", "4", &sp, f, why, sizeof why), 0);
	assert_non_null(strstr(why, "dead-lettered"));
	assert_int_equal(br_seam_frontier("0:5,1:3", "0", &sp, f, why, sizeof why), 1);
	/* a lake that is not of this log */
	assert_int_equal(br_seam_frontier("0:6,1:3", "0", &sp, f, why, sizeof why), 0);
	assert_non_null(strstr(why, "past the log's end"));
	assert_int_equal(br_seam_frontier("0:1,1:1,2:1", "0", &sp, f, why, sizeof why), 0);
	assert_non_null(strstr(why, "3 partitions"));
	assert_int_equal(br_seam_frontier("zz", NULL, &sp, f, why, sizeof why), 0);
}

static const char *lake_schema =
	"{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
	"{\"id\":1,\"name\":\"_partition\",\"required\":true,\"type\":\"int\"},"
	"{\"id\":2,\"name\":\"_offset\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":10,\"name\":\"id\",\"required\":false,\"type\":\"long\"},"
	"{\"id\":11,\"name\":\"name\",\"required\":false,\"type\":\"string\"},"
	"{\"id\":12,\"name\":\"v\",\"required\":false,\"type\":\"int\"}]}";

typedef struct lrow {
	int32_t p;
	int64_t off, id;
	const char *name;
	int32_t v;
} lrow;

/* One commit of rows with the given frontier and dead-letter count. */
static void commit(br_ice_table *t, const lrow *rows, int n, const char *front, const char *dlq)
{
	br_batch b;
	br_batch_init(&b, br_ice_table_schema(t)->root, false);
	for (int i = 0; i < n; i++) {
		br_col_append_i32(&b.cols[0], rows[i].p);
		br_col_append_i64(&b.cols[1], rows[i].off);
		br_col_append_i64(&b.cols[2], rows[i].id);
		br_col_append_bytes(&b.cols[3], rows[i].name, strlen(rows[i].name));
		br_col_append_i32(&b.cols[4], rows[i].v);
		br_batch_row_done(&b, 1);
	}
	const char *k[] = { "braid.frontier", "braid.dlq.records" }, *v[] = { front, dlq };
	br_ice_kv kv = { 2, k, v };
	br_err err = { 0 };
	if (br_ice_append_batch(t, &b, &kv, &err))
		fail_msg("%s", err.msg);
	br_batch_free(&b);
}

typedef struct seen {
	int n;
	int64_t id[64], v[64];
	char name[64][16];
} seen;

static int take(void *arg, const br_value *row, br_err *err)
{
	(void)err;
	seen *s = arg;
	assert_true(s->n < 64);
	assert_int_equal(row[0].type, BR_T_LONG);
	assert_int_equal(row[2].type, BR_T_LONG); /* v: int in the lake, long in SQL */
	s->id[s->n] = row[0].v.i64;
	s->v[s->n] = row[2].v.i64;
	snprintf(s->name[s->n], sizeof s->name[0], "%.*s", (int)row[1].v.bytes.len, (const char *)row[1].v.bytes.p);
	s->n++;
	return 0;
}

static void test_read(void **state)
{
	(void)state;
	char *cols[] = { "id", "name", "v" };
	br_type_id types[] = { BR_T_LONG, BR_T_STRING, BR_T_LONG };
	int64_t high[2] = { 100, 100 }, f[2];
	br_seam_spec sp = { .ncols = 3, .cols = cols, .types = types, .nparts = 2, .high = high };
	char why[256];
	br_err err = { 0 };
	seen s = { 0 };
	/* no lake table: silent fall-back */
	assert_int_equal(br_seam_read(dir, "t", &sp, f, take, &s, why, sizeof why, &err), 0);
	assert_string_equal(why, "");

	br_lake *l;
	assert_int_equal(br_lake_open(dir, &l, &err), 0);
	br_schema *sc;
	assert_int_equal(br_schema_parse(lake_schema, strlen(lake_schema), &sc, &err), 0);
	assert_int_equal(br_ice_create(l, "kafka", "t", sc, NULL, NULL, &err), 0);
	br_schema_free(sc);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "kafka", "t", &t, &err), 0);
	/* files out of offset order: the newer update of id 1 (offset 2) comes first */
	lrow a[] = { { 0, 2, 1, "new", 30 }, { 1, 0, 7, "p1", 70 } };
	commit(t, a, 2, "0:3,1:1", "0");
	/* a later commit whose rows include one at/past its own frontier (p0@9):
	 * never taken from the lake, the log is its source */
	lrow b[] = { { 0, 1, 1, "old", 20 }, { 0, 0, 2, "two", 5 }, { 0, 9, 3, "late", 1 } };
	commit(t, b, 3, "0:3,1:1", "0");

	sp.upsert = true;
	assert_int_equal(br_seam_read(dir, "t", &sp, f, take, &s, why, sizeof why, &err), 1);
	assert_int_equal(f[0], 3);
	assert_int_equal(f[1], 1);
	assert_int_equal(s.n, 4);
	/* (partition, offset) order: p0@0 id 2, p0@1 id 1 old, p0@2 id 1 new, p1@0 id 7 */
	assert_int_equal(s.id[0], 2);
	assert_string_equal(s.name[1], "old");
	assert_string_equal(s.name[2], "new");
	assert_int_equal(s.v[2], 30);
	assert_int_equal(s.id[3], 7);

	/* keyless: the same rows, any order */
	sp.upsert = false;
	memset(&s, 0, sizeof s);
	assert_int_equal(br_seam_read(dir, "t", &sp, f, take, &s, why, sizeof why, &err), 1);
	assert_int_equal(s.n, 4);

	/* a later snapshot with a dead letter: upsert falls back, keyless does not */
	lrow c[] = { { 1, 2, 8, "p1b", 80 } };
	commit(t, c, 1, "0:3,1:4", "1");
	sp.upsert = true;
	memset(&s, 0, sizeof s);
	assert_int_equal(br_seam_read(dir, "t", &sp, f, take, &s, why, sizeof why, &err), 0);
	assert_int_equal(s.n, 0);
	assert_non_null(strstr(why, "dead-lettered"));
	sp.upsert = false;
	assert_int_equal(br_seam_read(dir, "t", &sp, f, take, &s, why, sizeof why, &err), 1);
	assert_int_equal(s.n, 5);
	assert_int_equal(f[1], 4);

	/* the lake's columns must be the table's: by name, compatible types */
	types[1] = BR_T_LONG;
	memset(&s, 0, sizeof s);
	assert_int_equal(br_seam_read(dir, "t", &sp, f, take, &s, why, sizeof why, &err), 0);
	assert_non_null(strstr(why, "column \"name\" is string"));
	types[1] = BR_T_STRING;
	cols[2] = "w";
	assert_int_equal(br_seam_read(dir, "t", &sp, f, take, &s, why, sizeof why, &err), 0);
	assert_non_null(strstr(why, "\"w\" is not in the lake table"));
	assert_int_equal(s.n, 0);
	cols[2] = "v";

	/* the log's end below the frontier: not this log's lake */
	high[1] = 2;
	assert_int_equal(br_seam_read(dir, "t", &sp, f, take, &s, why, sizeof why, &err), 0);
	assert_non_null(strstr(why, "past the log's end"));

	br_ice_table_free(t);
	br_lake_close(l);
}

/* Appends records (key, value; NULL = null) with optional source headers to p. */
typedef struct rec {
	const char *key, *value, *src_topic, *src_off;
} rec;

static void append(br_log *log, const char *topic, const rec *rs, int n)
{
	br_rb_opts o;
	br_rb_opts_default(&o);
	br_rb_builder b;
	br_rb_builder_init(&b, &o);
	for (int i = 0; i < n; i++) {
		br_rec_header h[3] = {
			{ (const uint8_t *)"braid.source.topic", 18, (const uint8_t *)rs[i].src_topic,
			  rs[i].src_topic ? (int32_t)strlen(rs[i].src_topic) : 0 },
			{ (const uint8_t *)"braid.source.partition", 22, (const uint8_t *)"0", 1 },
			{ (const uint8_t *)"braid.source.offset", 19, (const uint8_t *)rs[i].src_off,
			  rs[i].src_off ? (int32_t)strlen(rs[i].src_off) : 0 },
		};
		br_rb_add(&b, 1000, rs[i].key, rs[i].key ? (int32_t)strlen(rs[i].key) : -1, rs[i].value,
			  rs[i].value ? (int32_t)strlen(rs[i].value) : -1, h, rs[i].src_topic ? 3 : 0);
	}
	br_buf bytes = { 0 };
	br_err err = { 0 };
	assert_int_equal(br_rb_finish(&b, &bytes, &err), 0);
	br_partition *p = br_topic_partition(br_log_topic(log, topic, strlen(topic)), 0);
	br_append_result res = { 0 };
	assert_int_equal(br_partition_append(p, bytes.p, bytes.len, 1000, &res, &err), 0);
	assert_int_equal(res.status, BR_APPEND_OK);
	assert_int_equal(br_partition_sync(p, &err), 0);
	br_buf_free(&bytes);
	br_rb_builder_free(&b);
}

typedef struct events {
	char s[512];
} events;

static int ev_row(void *arg, const br_value *row, br_err *err)
{
	(void)err;
	events *e = arg;
	size_t n = strlen(e->s);
	snprintf(e->s + n, sizeof e->s - n, "row %" PRId64 " %.*s;", row[0].v.i64, (int)row[1].v.bytes.len,
		 (const char *)row[1].v.bytes.p);
	return 0;
}

static int ev_tomb(void *arg, const uint8_t *key, int32_t len, br_err *err)
{
	(void)err;
	events *e = arg;
	size_t n = strlen(e->s);
	snprintf(e->s + n, sizeof e->s - n, "tomb %.*s;", key ? (int)len : 4, key ? (const char *)key : "null");
	return 0;
}

static int count_row(void *arg, const br_value *row, br_err *err)
{
	(void)row;
	(void)err;
	(*(int64_t *)arg)++;
	return 0;
}

static int reports;
static void on_report(void *arg, const br_sql_progress *p)
{
	(void)arg;
	(void)p;
	reports++;
}

/* The seam reads only the table's columns (and _partition/_offset): a wide
 * column the table does not declare costs no bytes. Progress counts the
 * snapshot's rows and the bytes actually read, against the files' bytes. */
static void test_projection(void **state)
{
	(void)state;
	static const char *wide =
		"{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
		"{\"id\":1,\"name\":\"_partition\",\"required\":true,\"type\":\"int\"},"
		"{\"id\":2,\"name\":\"_offset\",\"required\":true,\"type\":\"long\"},"
		"{\"id\":10,\"name\":\"id\",\"required\":false,\"type\":\"long\"},"
		"{\"id\":11,\"name\":\"payload\",\"required\":false,\"type\":\"string\"}]}";
	br_err err = { 0 };
	br_lake *l;
	assert_int_equal(br_lake_open(dir, &l, &err), 0);
	br_schema *sc;
	assert_int_equal(br_schema_parse(wide, strlen(wide), &sc, &err), 0);
	assert_int_equal(br_ice_create(l, "kafka", "w", sc, NULL, NULL, &err), 0);
	br_schema_free(sc);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "kafka", "w", &t, &err), 0);
	enum { N = 2000 };
	br_batch b;
	br_batch_init(&b, br_ice_table_schema(t)->root, false);
	uint64_t x = 42;
	char pay[512];
	for (int i = 0; i < N; i++) {
		for (size_t k = 0; k < sizeof pay; k++) { /* incompressible */
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			pay[k] = (char)('a' + (x >> 59));
		}
		br_col_append_i32(&b.cols[0], 0);
		br_col_append_i64(&b.cols[1], i);
		br_col_append_i64(&b.cols[2], i);
		br_col_append_bytes(&b.cols[3], pay, sizeof pay);
		br_batch_row_done(&b, 1);
	}
	char front[32];
	snprintf(front, sizeof front, "0:%d", N);
	const char *k[] = { "braid.frontier", "braid.dlq.records" }, *v[] = { front, "0" };
	br_ice_kv kv = { 2, k, v };
	assert_int_equal(br_ice_append_batch(t, &b, &kv, &err), 0);
	br_batch_free(&b);

	/* every column: the bytes a scan without projection reads */
	br_ice_scan *s;
	assert_int_equal(br_ice_scan_open(t, NULL, &s, &err), 0);
	br_batch out = { 0 };
	while (br_ice_scan_next(s, &out, &err) == 1)
		;
	int64_t all = br_ice_scan_bytes_read(s);
	br_batch_free(&out);
	br_ice_scan_close(s);
	assert_true(all > N * 256); /* 5 bits of entropy per byte, zstd */

	char *cols[] = { "id" };
	br_type_id types[] = { BR_T_LONG };
	int64_t high[1] = { N }, f[1];
	br_progress pr;
	br_progress_start(&pr, on_report, NULL, "w", false, 0, 0);
	br_seam_spec sp = { .ncols = 1, .cols = cols, .types = types, .nparts = 1, .high = high, .progress = &pr };
	char why[256];
	int64_t rows = 0;
	int used = br_seam_read(dir, "w", &sp, f, count_row, &rows, why, sizeof why, &err);
	if (used != 1)
		fail_msg("seam: %d %s %s", used, why, err.msg);
	assert_int_equal(rows, N);
	assert_int_equal(pr.p.rows_done, N);
	assert_int_equal(pr.p.rows_total, N);
	assert_true(pr.p.bytes_total > N * 256);        /* the files' size (a full scan reads page headers twice: "all" may exceed it) */
	assert_true(pr.p.bytes_done > 0);
	assert_true(pr.p.bytes_done * 10 < all);         /* the payload's pages were never read */
	print_message("projection: %" PRId64 " bytes read of %" PRId64 " (all columns: %" PRId64 ")\n", pr.p.bytes_done,
		      pr.p.bytes_total, all);
	br_progress_end(&pr);
	assert_true(reports >= 1);
	assert_string_equal(pr.p.phase, "done");
	br_ice_table_free(t);
	br_lake_close(l);
}

static void test_dead_letters(void **state)
{
	(void)state;
	br_log_opts lo;
	br_log_opts_default(&lo);
	char *ld = br_xasprintf("%s/log", dir);
	lo.dir = ld;
	br_log *log;
	br_err err = { 0 };
	assert_int_equal(br_log_open(&log, &lo, &err), 0);
	free(ld);
	assert_int_equal(br_log_create_topic(log, "u", 1, NULL, 0, &err), 0);
	assert_int_equal(br_log_create_topic(log, "u.dlq", 1, NULL, 0, &err), 0);
	/* the source log: @0 id 1, @1 not JSON, @2 tombstone of id 1, @3 id 2 (past the frontier) */
	rec src[] = { { "{\"id\":1}", "{\"id\":1,\"name\":\"a\",\"v\":1}", NULL, NULL },
		      { "{\"id\":3}", "nope", NULL, NULL },
		      { "{\"id\":1}", NULL, NULL, NULL },
		      { "{\"id\":2}", "{\"id\":2,\"name\":\"b\",\"v\":2}", NULL, NULL } };
	append(log, "u", src, 4);
	/* the DLQ: the two dead letters of u below the frontier, one of another
	 * topic, one of u past the frontier (a crash before the commit) */
	rec dlq[] = { { "{\"id\":9}", NULL, "other", "0" },
		      { "{\"id\":3}", "nope", "u", "1" },
		      { "{\"id\":1}", NULL, "u", "2" },
		      { "{\"id\":2}", NULL, "u", "3" } };
	append(log, "u.dlq", dlq, 4);

	br_lake *l;
	assert_int_equal(br_lake_open(dir, &l, &err), 0);
	br_schema *sc;
	assert_int_equal(br_schema_parse(lake_schema, strlen(lake_schema), &sc, &err), 0);
	assert_int_equal(br_ice_create(l, "kafka", "u", sc, NULL, NULL, &err), 0);
	br_schema_free(sc);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "kafka", "u", &t, &err), 0);
	lrow a[] = { { 0, 0, 1, "a", 1 } };
	commit(t, a, 1, "0:3", "2");

	char *cols[] = { "id", "name", "v" };
	br_type_id types[] = { BR_T_LONG, BR_T_STRING, BR_T_LONG };
	int64_t high[1] = { 4 }, f[1];
	br_seam_spec sp = { .ncols = 3, .cols = cols, .types = types, .nparts = 1, .high = high, .upsert = true,
			    .log = log, .tomb = ev_tomb };
	char why[256];
	events e = { { 0 } };
	assert_int_equal(br_seam_read(dir, "u", &sp, f, ev_row, &e, why, sizeof why, &err), 1);
	assert_int_equal(f[0], 3);
	assert_string_equal(e.s, "row 1 a;tomb {\"id\":1};");

	/* a snapshot that counts a dead letter the DLQ no longer has: the log is read */
	lrow b[] = { { 0, 9, 5, "x", 5 } };
	commit(t, b, 1, "0:3", "3");
	memset(&e, 0, sizeof e);
	assert_int_equal(br_seam_read(dir, "u", &sp, f, ev_row, &e, why, sizeof why, &err), 0);
	assert_string_equal(e.s, "");
	assert_non_null(strstr(why, "3 records were dead-lettered but 2 are in topic u.dlq"));

	br_ice_table_free(t);
	br_lake_close(l);
	br_log_close(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frontier),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_projection, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
