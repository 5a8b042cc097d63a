/* test_seam.c — unit tests for the backfill seam of SQL tables (src/sql/seam.c):
 * the frontier and dead-letter checks of one snapshot, rows below the frontier
 * only, upsert rows in (partition, offset) order whatever the file order,
 * column mapping by name with int→long widening, and the fall-back reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "iceberg/iceberg.h"
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frontier),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
