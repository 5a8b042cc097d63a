/* test_iceberg.c — unit tests for src/iceberg: transforms against the spec's
 * test vectors, single-value serialization, the table lifecycle (create,
 * append, delete, overwrite, time travel, schema evolution, expiry, orphans),
 * pruning, optimistic concurrency, the JDBC catalog layout and bad metadata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "iceberg/avro.h"
#include "iceberg/ice_int.h"
#include "iceberg/iceberg.h"

/* ------------------------------------------------------------ transforms */

static void test_murmur3_spec_vectors(void **state)
{
	(void)state;
	br_err err = { 0 };
	int32_t h;
	/* Iceberg spec, Appendix B: hash test values. */
	br_value v = br_value_i32(BR_T_INT, 34);
	assert_int_equal(br_ice_hash(&v, &h, &err), 0);
	assert_int_equal(h, 2017239379);
	v = br_value_i64(BR_T_LONG, 34);
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, 2017239379);
	v = (br_value){ .type = BR_T_DECIMAL, .v.dec = 1420 }; /* 14.20 */
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -500754589);
	v = br_value_i32(BR_T_DATE, 17486); /* 2017-11-16 */
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -653330422);
	v = br_value_i64(BR_T_TIME, 81068000000LL); /* 22:31:08 */
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -662762989);
	v = br_value_i64(BR_T_TIMESTAMP, 1510871468000000LL); /* 2017-11-16T22:31:08 */
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -2047944441);
	v = br_value_i64(BR_T_TIMESTAMPTZ, 1510871468000000LL);
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -2047944441);
	v = br_value_bytes(BR_T_STRING, "iceberg", 7);
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, 1210000089);
	const uint8_t uuid[16] = { 0xf7, 0x9c, 0x3e, 0x09, 0x67, 0x7c, 0x4b, 0xbd,
				   0xa4, 0x79, 0x3f, 0x34, 0x9c, 0xb7, 0x85, 0xe7 };
	v = br_value_bytes(BR_T_UUID, uuid, 16);
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, 1488055340);
	v = br_value_bytes(BR_T_BINARY, "\x00\x01\x02\x03", 4);
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -188683207);
	v = br_value_bytes(BR_T_FIXED, "\x00\x01\x02\x03", 4);
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -188683207);
	v = (br_value){ .type = BR_T_FLOAT, .v.f32 = 1.0f };
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -142385009);
	v = br_value_f64(1.0);
	br_ice_hash(&v, &h, &err);
	assert_int_equal(h, -142385009);
	/* bucket[N] = (hash & INT_MAX) % N */
	br_value out;
	v = br_value_i32(BR_T_INT, 34);
	assert_int_equal(br_ice_transform("bucket[100]", &v, &out, &err), 0);
	assert_int_equal(out.v.i32, 2017239379 % 100);
	v = br_value_bytes(BR_T_STRING, "iceberg", 7);
	br_ice_transform("bucket[16]", &v, &out, &err);
	assert_int_equal(out.v.i32, (1210000089 & INT32_MAX) % 16);
}

static void test_transforms(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_value out, v;
	/* truncate: spec examples */
	v = br_value_i32(BR_T_INT, 1);
	br_ice_transform("truncate[10]", &v, &out, &err);
	assert_int_equal(out.v.i32, 0);
	v = br_value_i32(BR_T_INT, -1);
	br_ice_transform("truncate[10]", &v, &out, &err);
	assert_int_equal(out.v.i32, -10);
	v = br_value_i64(BR_T_LONG, 19);
	br_ice_transform("truncate[10]", &v, &out, &err);
	assert_int_equal(out.v.i64, 10);
	v = (br_value){ .type = BR_T_DECIMAL, .v.dec = 1065 }; /* 10.65, W=50 -> 10.50 */
	br_ice_transform("truncate[50]", &v, &out, &err);
	assert_true(out.v.dec == 1050);
	v = br_value_bytes(BR_T_STRING, "iceberg", 7);
	br_ice_transform("truncate[3]", &v, &out, &err);
	assert_int_equal(out.v.bytes.len, 3);
	v = br_value_bytes(BR_T_STRING, "\xc3\xa9t\xc3\xa9", 6); /* "été": code points, not bytes */
	br_ice_transform("truncate[2]", &v, &out, &err);
	assert_int_equal(out.v.bytes.len, 3);
	/* time transforms, 2017-11-16T22:31:08 */
	v = br_value_i64(BR_T_TIMESTAMP, 1510871468000000LL);
	br_ice_transform("year", &v, &out, &err);
	assert_int_equal(out.v.i32, 47);
	br_ice_transform("month", &v, &out, &err);
	assert_int_equal(out.v.i32, 47 * 12 + 10);
	br_ice_transform("day", &v, &out, &err);
	assert_int_equal(out.v.i32, 17486);
	assert_int_equal(out.type, BR_T_DATE);
	br_ice_transform("hour", &v, &out, &err);
	assert_int_equal(out.v.i32, 17486 * 24 + 22);
	/* before the epoch: floor, not truncation toward zero */
	v = br_value_i64(BR_T_TIMESTAMP, -1);
	br_ice_transform("day", &v, &out, &err);
	assert_int_equal(out.v.i32, -1);
	br_ice_transform("year", &v, &out, &err);
	assert_int_equal(out.v.i32, -1);
	v = br_value_i32(BR_T_DATE, 17486);
	br_ice_transform("month", &v, &out, &err);
	assert_int_equal(out.v.i32, 574);
	/* nulls stay null; bad transforms are errors */
	v = br_value_null(BR_T_LONG);
	br_ice_transform("bucket[4]", &v, &out, &err);
	assert_true(out.is_null);
	v = br_value_i32(BR_T_INT, 1);
	assert_int_equal(br_ice_transform("bucket[0]", &v, &out, &err), BR_EINVAL);
	assert_int_equal(br_ice_transform("hour", &v, &out, &err), BR_EINVAL);
	br_type *dbl = br_type_new(BR_T_DOUBLE);
	br_type_id rt;
	assert_int_equal(br_ice_transform_type("bucket[4]", dbl, &rt, &err), BR_EINVAL);
	br_type_free(dbl);
}

static void test_single_value(void **state)
{
	(void)state;
	br_buf b = { 0 };
	br_value v = br_value_i32(BR_T_INT, -2), out;
	br_ice_value_bytes(&v, &b);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.p, "\xfe\xff\xff\xff", 4);
	br_type *it = br_type_new(BR_T_INT);
	assert_int_equal(br_ice_value_parse(it, b.p, b.len, &out, NULL), 0);
	assert_int_equal(out.v.i32, -2);
	assert_int_not_equal(br_ice_value_parse(it, b.p, 3, &out, NULL), 0);
	br_type_free(it);
	br_buf_reset(&b);
	v = (br_value){ .type = BR_T_DECIMAL, .v.dec = -1 };
	br_ice_value_bytes(&v, &b);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.p[0], 0xff);
	br_buf_reset(&b);
	v = (br_value){ .type = BR_T_DECIMAL, .v.dec = 1420 };
	br_ice_value_bytes(&v, &b);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.p, "\x05\x8c", 2);
	br_type *dt = br_type_decimal(9, 2);
	assert_int_equal(br_ice_value_parse(dt, b.p, b.len, &out, NULL), 0);
	assert_true(out.v.dec == 1420);
	br_type_free(dt);
	br_buf_free(&b);
}

/* ----------------------------------------------------------------- tables */

static char tmpdir[256];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/braid-ice-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	br_remove_tree(tmpdir, NULL);
	return 0;
}

static const char *schema_json =
	"{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
	"{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"name\",\"required\":false,\"type\":\"string\"},"
	"{\"id\":3,\"name\":\"ts\",\"required\":false,\"type\":\"timestamp\"},"
	"{\"id\":4,\"name\":\"n\",\"required\":false,\"type\":\"int\"}]}";

/* A fake data file for ids [lo, hi] on one day, with bounds on id and n. */
typedef struct fake {
	br_ice_datafile df;
	br_value part[2];
	br_ice_colstat cols[2];
	uint8_t lo[8], hi[8], nlo[4], nhi[4];
	char path[512];
} fake;

static void make_fake(fake *f, const br_ice_table *t, const char *name, int64_t lo, int64_t hi, int64_t day_us,
		      bool touch)
{
	memset(f, 0, sizeof *f);
	snprintf(f->path, sizeof f->path, "%s/data/%s.parquet", br_ice_table_location(t), name);
	if (touch) {
		char *p = br_xasprintf("%s/data/%s.parquet", br_ice_table_dir(t), name);
		FILE *fp = fopen(p, "w");
		fputs("not really parquet", fp);
		fclose(fp);
		free(p);
	}
	f->df.path = f->path;
	f->df.format = "PARQUET";
	f->df.record_count = hi - lo + 1;
	f->df.file_size = 100 * (hi - lo + 1);
	f->df.sort_order_id = -1;
	br_err err = { 0 };
	int np = br_ice_table_npart(t);
	f->df.npart = np;
	f->df.part = f->part;
	if (np == 2) {
		br_value idv = br_value_i64(BR_T_LONG, lo);
		assert_int_equal(br_ice_transform("bucket[4]", &idv, &f->part[0], &err), 0);
		br_value ts = br_value_i64(BR_T_TIMESTAMP, day_us);
		assert_int_equal(br_ice_transform("day", &ts, &f->part[1], &err), 0);
	}
	for (int i = 0; i < 8; i++) {
		f->lo[i] = (uint8_t)((uint64_t)lo >> (8 * i));
		f->hi[i] = (uint8_t)((uint64_t)hi >> (8 * i));
	}
	for (int i = 0; i < 4; i++) {
		f->nlo[i] = (uint8_t)((uint32_t)lo >> (8 * i));
		f->nhi[i] = (uint8_t)((uint32_t)hi >> (8 * i));
	}
	f->cols[0] = (br_ice_colstat){ .field_id = 1, .column_size = 10, .value_count = hi - lo + 1, .null_count = 0,
				       .nan_count = -1, .lower = f->lo, .lower_len = 8, .upper = f->hi, .upper_len = 8 };
	f->cols[1] = (br_ice_colstat){ .field_id = 4, .column_size = -1, .value_count = hi - lo + 1, .null_count = 0,
				       .nan_count = -1, .lower = f->nlo, .lower_len = 4, .upper = f->nhi, .upper_len = 4 };
	f->df.cols = f->cols;
	f->df.ncols = 2;
}

static br_lake *open_lake(void)
{
	br_lake *l;
	br_err err = { 0 };
	int rc = br_lake_open(tmpdir, &l, &err);
	if (rc)
		fail_msg("%s", err.msg);
	return l;
}

static br_schema *test_schema(void)
{
	br_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(schema_json, strlen(schema_json), &s, &err), 0);
	return s;
}

static size_t plan_count(br_ice_table *t, int64_t snap, const br_ice_pred *p, size_t np, size_t *pruned)
{
	br_ice_plan plan;
	br_err err = { 0 };
	br_ice_scan_opts o = { .snapshot_id = snap, .preds = p, .npreds = np };
	int rc = br_ice_plan_scan(t, &o, &plan, &err);
	if (rc)
		fail_msg("%s", err.msg);
	size_t n = plan.nfiles;
	if (pruned)
		*pruned = plan.pruned;
	br_ice_plan_free(&plan);
	return n;
}

static void test_table_lifecycle(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_lake *l = open_lake();
	br_schema *s = test_schema();
	const char *pk[] = { "owner" }, *pv[] = { "tests" };
	br_ice_kv props = { 1, pk, pv };
	assert_int_equal(br_ice_create(l, "db", "events", s, "bucket[4](id), day(ts)", &props, &err), 0);
	assert_int_equal(br_ice_create(l, "db", "events", s, NULL, NULL, &err), BR_EEXIST);
	assert_int_equal(br_ice_create(l, "db", "bad", s, "bucket[4](nosuch)", NULL, &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "nosuch"));
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "db", "events", &t, &err), 0);
	assert_int_equal(br_ice_table_version(t), 1);
	assert_null(br_ice_table_current(t));
	assert_string_equal(br_ice_table_partition(t), "bucket[4](id), day(ts)");
	assert_string_equal(br_ice_table_property(t, "owner"), "tests");
	const char *sk0[] = { "owner", "write.parquet.compression-codec" }, *sv0[] = { NULL, "snappy" };
	br_ice_kv setp = { 2, sk0, sv0 };
	assert_int_equal(br_ice_set_properties(t, &setp, &err), 0);
	assert_null(br_ice_table_property(t, "owner"));
	assert_string_equal(br_ice_table_property(t, "write.parquet.compression-codec"), "snappy");
	assert_int_equal(br_ice_table_version(t), 2);
	assert_int_equal(plan_count(t, 0, NULL, 0, NULL), 0);

	/* two appends; the second carries a summary property */
	int64_t day1 = 1700000000000000LL, day2 = day1 + 86400000000LL;
	fake f1, f2, f3;
	make_fake(&f1, t, "f1", 1, 100, day1, true);
	make_fake(&f2, t, "f2", 101, 200, day2, true);
	assert_int_equal(br_ice_append(t, &f1.df, 1, NULL, &err), 0);
	int64_t snap1 = br_ice_table_current(t)->id;
	const char *sk[] = { "braid.frontier" }, *sv[] = { "{\"0\":42}" };
	br_ice_kv sum = { 1, sk, sv };
	assert_int_equal(br_ice_append(t, &f2.df, 1, &sum, &err), 0);
	const br_ice_snapshot *cur = br_ice_table_current(t);
	int64_t snap2 = cur->id;
	assert_int_equal(br_ice_table_version(t), 4);
	assert_string_equal(br_ice_snapshot_prop(cur, "braid.frontier"), "{\"0\":42}");
	assert_string_equal(br_ice_snapshot_prop(cur, "total-records"), "200");
	assert_string_equal(cur->operation, "append");
	assert_int_equal(cur->parent_id, snap1);
	assert_int_equal(cur->seq, 2);
	assert_int_equal(plan_count(t, 0, NULL, 0, NULL), 2);
	assert_int_equal(plan_count(t, snap1, NULL, 0, NULL), 1);

	/* sequence numbers are inherited from the manifest list */
	br_ice_plan plan;
	assert_int_equal(br_ice_plan_scan(t, NULL, &plan, &err), 0);
	assert_int_equal(plan.nfiles, 2);
	for (size_t i = 0; i < plan.nfiles; i++) {
		bool first = !strcmp(plan.files[i].df.path, f1.path);
		assert_int_equal(plan.files[i].seq, first ? 1 : 2);
		assert_int_equal(plan.files[i].df.part[0].v.i32, first ? f1.part[0].v.i32 : f2.part[0].v.i32);
		assert_int_equal(plan.files[i].df.ncols, 2);
	}
	assert_int_equal(plan.total_records, 200);
	br_ice_plan_free(&plan);

	/* pruning: bounds on id, partition on day, bucket on id equality */
	br_ice_pred p = { "id", BR_ICE_EQ, br_value_i64(BR_T_LONG, 101) }; /* f2's bucket and bounds */
	size_t pruned;
	assert_int_equal(plan_count(t, 0, &p, 1, &pruned), 1);
	assert_int_equal(pruned, 1);
	p = (br_ice_pred){ "id", BR_ICE_GT, br_value_i64(BR_T_LONG, 500) };
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 0);
	p = (br_ice_pred){ "n", BR_ICE_LE, br_value_i32(BR_T_INT, 100) };
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 1);
	p = (br_ice_pred){ "ts", BR_ICE_GE, br_value_i64(BR_T_TIMESTAMP, day2) };
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 1);
	p = (br_ice_pred){ "ts", BR_ICE_LT, br_value_i64(BR_T_TIMESTAMP, day1) };
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 1); /* same day as f1: may match */
	p = (br_ice_pred){ "ts", BR_ICE_LT, br_value_i64(BR_T_TIMESTAMP, day1 - 2 * 86400000000LL) };
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 0);
	p = (br_ice_pred){ "id", BR_ICE_IS_NULL, br_value_null(BR_T_LONG) };
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 0);

	/* delete f1, then overwrite f2 with f3 */
	const char *del[] = { f1.path };
	assert_int_equal(br_ice_delete_files(t, del, 1, NULL, &err), 0);
	assert_string_equal(br_ice_table_current(t)->operation, "delete");
	assert_string_equal(br_ice_snapshot_prop(br_ice_table_current(t), "total-records"), "100");
	assert_int_equal(plan_count(t, 0, NULL, 0, NULL), 1);
	assert_int_equal(br_ice_delete_files(t, del, 1, NULL, &err), BR_ENOTFOUND);
	make_fake(&f3, t, "f3", 201, 250, day2, true);
	const char *del2[] = { f2.path };
	assert_int_equal(br_ice_overwrite(t, del2, 1, &f3.df, 1, "overwrite", NULL, &err), 0);
	assert_int_equal(plan_count(t, 0, NULL, 0, NULL), 1);
	assert_int_equal(plan_count(t, snap2, NULL, 0, NULL), 2); /* time travel by id */

	/* time travel by timestamp */
	const br_ice_snapshot *s1 = br_ice_table_snapshot(t, snap1);
	br_ice_scan_opts o = { .as_of_ms = s1->timestamp_ms };
	assert_int_equal(br_ice_plan_scan(t, &o, &plan, &err), 0);
	assert_int_equal(plan.snapshot_id, snap1);
	br_ice_plan_free(&plan);
	o.as_of_ms = s1->timestamp_ms - 1;
	assert_int_equal(br_ice_plan_scan(t, &o, &plan, &err), BR_ENOTFOUND);
	br_ice_plan_free(&plan);
	o = (br_ice_scan_opts){ .snapshot_id = 12345 };
	assert_int_equal(br_ice_plan_scan(t, &o, &plan, &err), BR_ENOTFOUND);
	br_ice_plan_free(&plan);

	/* every manifest and manifest list reads back with the Avro reader */
	const br_ice_snapshot *snaps;
	size_t ns;
	br_ice_table_snapshots(t, &snaps, &ns);
	assert_int_equal(ns, 4);

	/* reload from the catalog: same state; version hint matches */
	br_ice_table *t2;
	assert_int_equal(br_ice_load(l, "db", "events", &t2, &err), 0);
	assert_int_equal(br_ice_table_version(t2), br_ice_table_version(t));
	char *hint_path = br_xasprintf("%s/metadata/version-hint.text", br_ice_table_dir(t)), *hint;
	assert_int_equal(br_read_file(hint_path, &hint, NULL, &err), 0);
	assert_int_equal(atoi(hint), br_ice_table_version(t));
	free(hint);
	br_ice_table_free(t2);
	/* a hint left behind by a crash after the pointer swap is repaired on load */
	assert_int_equal(br_write_file_atomic(hint_path, "2", 1, &err), 0);
	assert_int_equal(br_ice_load(l, "db", "events", &t2, &err), 0);
	assert_int_equal(br_read_file(hint_path, &hint, NULL, &err), 0);
	assert_int_equal(atoi(hint), br_ice_table_version(t));
	free(hint);
	free(hint_path);
	br_ice_table_free(t2);

	/* expire everything but the current snapshot: f1 and f2 go, f3 stays */
	size_t expired, deleted;
	assert_int_equal(br_ice_expire_snapshots(t, br_now_ms() + 1000, 1, &expired, &deleted, &err), 0);
	assert_int_equal(expired, 3);
	assert_true(deleted >= 2);
	char *p1 = br_xasprintf("%s/data/f1.parquet", br_ice_table_dir(t));
	char *p3 = br_xasprintf("%s/data/f3.parquet", br_ice_table_dir(t));
	assert_false(br_path_exists(p1));
	assert_true(br_path_exists(p3));
	assert_int_equal(plan_count(t, 0, NULL, 0, NULL), 1);
	assert_null(br_ice_table_snapshot(t, snap2));

	/* orphans: an unreferenced file goes, referenced ones stay */
	char *orphan = br_xasprintf("%s/data/orphan.parquet", br_ice_table_dir(t));
	FILE *fp = fopen(orphan, "w");
	fclose(fp);
	size_t removed;
	assert_int_equal(br_ice_remove_orphans(t, br_now_ms() - 3600 * 1000, &removed, &err), 0);
	assert_int_equal(removed, 0); /* too young */
	assert_int_equal(br_ice_remove_orphans(t, br_now_ms() + 5000, &removed, &err), 0);
	assert_int_equal(removed, 1);
	assert_false(br_path_exists(orphan));
	assert_true(br_path_exists(p3));
	assert_int_equal(plan_count(t, 0, NULL, 0, NULL), 1);
	free(orphan);
	free(p1);
	free(p3);
	br_ice_table_free(t);
	br_schema_free(s);
	br_lake_close(l);
}

static void test_schema_evolution(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_lake *l = open_lake();
	br_schema *s = test_schema();
	assert_int_equal(br_ice_create(l, "db", "evo", s, "", NULL, &err), 0);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "db", "evo", &t, &err), 0);
	fake f1;
	make_fake(&f1, t, "e1", 1, 10, 0, false);
	assert_int_equal(br_ice_append(t, &f1.df, 1, NULL, &err), 0);
	br_type *lt = br_type_new(BR_T_LONG), *st = br_type_new(BR_T_STRING), *dt = br_type_new(BR_T_DOUBLE);
	br_ice_schema_change ch[] = {
		{ .kind = BR_ICE_ADD_COLUMN, .name = "extra", .type = st, .doc = "added later" },
		{ .kind = BR_ICE_RENAME_COLUMN, .name = "name", .new_name = "label" },
		{ .kind = BR_ICE_WIDEN_COLUMN, .name = "n", .type = lt },
		{ .kind = BR_ICE_MAKE_OPTIONAL, .name = "id" },
		{ .kind = BR_ICE_DROP_COLUMN, .name = "ts" },
	};
	assert_int_equal(br_ice_update_schema(t, ch, BR_ARRAY_LEN(ch), &err), 0);
	const br_schema *ns = br_ice_table_schema(t);
	assert_int_equal(ns->schema_id, 1);
	assert_int_equal(br_schema_find_name(ns, "extra")->id, 5);
	assert_false(br_schema_find_name(ns, "extra")->required);
	assert_int_equal(br_schema_find_name(ns, "label")->id, 2);
	assert_null(br_schema_find_name(ns, "name"));
	assert_null(br_schema_find_name(ns, "ts"));
	assert_int_equal(br_schema_find_name(ns, "n")->type->id, BR_T_LONG);
	assert_false(br_schema_find_name(ns, "id")->required);
	assert_non_null(br_ice_table_schema_by_id(t, 0));
	/* an old int bound still prunes the widened long column */
	br_ice_pred p = { "n", BR_ICE_GT, br_value_i64(BR_T_LONG, 50) };
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 0);
	p.lit = br_value_i64(BR_T_LONG, 5);
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 1);
	/* refused changes leave the table as it was */
	int v = br_ice_table_version(t);
	br_ice_schema_change bad[] = {
		{ .kind = BR_ICE_WIDEN_COLUMN, .name = "n", .type = dt },
	};
	assert_int_equal(br_ice_update_schema(t, bad, 1, &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "cannot become"));
	br_ice_schema_change bad2[] = { { .kind = BR_ICE_ADD_COLUMN, .name = "label", .type = st } };
	assert_int_equal(br_ice_update_schema(t, bad2, 1, &err), BR_EEXIST);
	br_ice_schema_change bad3[] = { { .kind = BR_ICE_DROP_COLUMN, .name = "nosuch" } };
	assert_int_equal(br_ice_update_schema(t, bad3, 1, &err), BR_ENOTFOUND);
	assert_int_equal(br_ice_table_version(t), v);
	/* decimal precision widening; nested struct columns get fresh ids */
	br_type *d9 = br_type_decimal(9, 2), *d18 = br_type_decimal(18, 2), *d18s3 = br_type_decimal(18, 3);
	br_type *loc = br_type_struct();
	br_type_struct_add(loc, 100, "lat", false, br_type_new(BR_T_DOUBLE), NULL);
	br_ice_schema_change more[] = {
		{ .kind = BR_ICE_ADD_COLUMN, .name = "amount", .type = d9 },
		{ .kind = BR_ICE_ADD_COLUMN, .name = "loc", .type = loc },
		{ .kind = BR_ICE_ADD_COLUMN, .name = "loc.lon", .type = dt },
		{ .kind = BR_ICE_WIDEN_COLUMN, .name = "amount", .type = d18 },
	};
	assert_int_equal(br_ice_update_schema(t, more, BR_ARRAY_LEN(more), &err), 0);
	ns = br_ice_table_schema(t);
	assert_int_equal(br_schema_find_name(ns, "amount")->type->precision, 18);
	int lat = br_schema_find_name(ns, "loc.lat")->id, lon = br_schema_find_name(ns, "loc.lon")->id;
	assert_true(lat > 5 && lon > lat && lat != 100);
	br_ice_schema_change bad4[] = { { .kind = BR_ICE_WIDEN_COLUMN, .name = "amount", .type = d18s3 } };
	assert_int_equal(br_ice_update_schema(t, bad4, 1, &err), BR_EINVAL);
	/* the metadata records every schema; last-column-id covers nested ids */
	const char *md = br_ice_table_metadata_json(t);
	char want[64];
	snprintf(want, sizeof want, "\"last-column-id\": %d", lon);
	assert_non_null(strstr(md, want));
	br_type_free(d9);
	br_type_free(d18);
	br_type_free(d18s3);
	br_type_free(loc);
	br_type_free(lt);
	br_type_free(st);
	br_type_free(dt);
	br_ice_table_free(t);
	br_schema_free(s);
	br_lake_close(l);
}

static void test_concurrent_commits(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_lake *l = open_lake();
	br_schema *s = test_schema();
	assert_int_equal(br_ice_create(l, "db", "conc", s, NULL, NULL, &err), 0);
	br_ice_table *a, *b;
	assert_int_equal(br_ice_load(l, "db", "conc", &a, &err), 0);
	assert_int_equal(br_ice_load(l, "db", "conc", &b, &err), 0);
	fake fa, fb;
	make_fake(&fa, a, "a", 1, 5, 0, false);
	make_fake(&fb, b, "b", 6, 9, 0, false);
	assert_int_equal(br_ice_append(a, &fa.df, 1, NULL, &err), 0);
	/* b still holds v1: its commit is rebuilt on v2 and keeps a's file */
	assert_int_equal(br_ice_append(b, &fb.df, 1, NULL, &err), 0);
	assert_int_equal(br_ice_table_version(b), 3);
	assert_int_equal(plan_count(b, 0, NULL, 0, NULL), 2);
	assert_int_equal(br_ice_table_current(b)->seq, 2);
	/* an interrupted commit's leftover v4 does not block the next one */
	char *stale = br_xasprintf("%s/metadata/v4.metadata.json", br_ice_table_dir(b));
	FILE *fp = fopen(stale, "w");
	fputs("{ half a file", fp);
	fclose(fp);
	assert_int_equal(br_ice_refresh(a, &err), 0);
	assert_int_equal(br_ice_delete_files(a, (const char *[]){ fa.path }, 1, NULL, &err), 0);
	assert_int_equal(br_ice_table_version(a), 4);
	assert_int_equal(plan_count(a, 0, NULL, 0, NULL), 1);
	free(stale);
	br_ice_table_free(a);
	br_ice_table_free(b);

	/* the catalog is Iceberg's JDBC layout */
	char *db = br_xasprintf("%s/lake/catalog.db", tmpdir);
	sqlite3 *sq;
	assert_int_equal(sqlite3_open(db, &sq), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(sq,
					    "SELECT catalog_name, table_namespace, table_name, metadata_location, "
					    "previous_metadata_location FROM iceberg_tables WHERE table_name = 'conc'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "braid");
	assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "/db/conc/metadata/v4.metadata.json"));
	assert_non_null(strstr((const char *)sqlite3_column_text(st, 4), "v3.metadata.json"));
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(sq, "SELECT property_value FROM iceberg_namespace_properties WHERE namespace='db'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	sqlite3_finalize(st);
	sqlite3_close(sq);
	free(db);
	char **names;
	size_t n;
	assert_int_equal(br_ice_list(l, "db", &names, &n, &err), 0);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	assert_int_equal(br_ice_drop(l, "db", "conc", &err), 0);
	assert_int_equal(br_ice_load(l, "db", "conc", &a, &err), BR_ENOTFOUND);
	br_schema_free(s);
	br_lake_close(l);
}

/* kill -9 at random moments of a stream of commits: the table always loads,
 * every file its snapshots reference exists, and commits go on afterwards. */
static void test_crash_during_commit(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_lake *l = open_lake();
	br_schema *s = test_schema();
	assert_int_equal(br_ice_create(l, "db", "crash", s, "bucket[4](id), day(ts)", NULL, &err), 0);
	br_schema_free(s);
	br_lake_close(l);
	int killed_commits = 0, last_version = 1;
	for (int round = 0; round < 6; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			br_lake *cl;
			br_ice_table *ct;
			if (br_lake_open(tmpdir, &cl, NULL) || br_ice_load(cl, "db", "crash", &ct, NULL))
				_exit(2);
			for (int i = 0;; i++) {
				char name[64];
				snprintf(name, sizeof name, "r%d-%d", round, i);
				fake f;
				make_fake(&f, ct, name, i * 10 + 1, i * 10 + 10, 1700000000000000LL, true);
				if (i % 3 == 2) {
					br_ice_plan plan;
					if (br_ice_plan_scan(ct, NULL, &plan, NULL) == 0 && plan.nfiles > 0) {
						const char *del[] = { plan.files[0].df.path };
						br_ice_overwrite(ct, del, 1, &f.df, 1, "overwrite", NULL, NULL);
					}
					br_ice_plan_free(&plan);
				} else {
					br_ice_append(ct, &f.df, 1, NULL, NULL);
				}
			}
		}
		/* Let the child commit at least twice (slow under ASan), then kill it
		 * at a moment that varies from round to round. */
		char *hint_path = br_xasprintf("%s/lake/db/crash/metadata/version-hint.text", tmpdir);
		for (int waited = 0; waited < 1000; waited++) {
			char *hint = NULL;
			int v = br_read_file(hint_path, &hint, NULL, NULL) == 0 ? atoi(hint) : 0;
			free(hint);
			if (v >= last_version + 2)
				break;
			usleep(10000);
		}
		free(hint_path);
		usleep((useconds_t)((round * 37 % 7) * 3000));
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));

		l = open_lake();
		br_ice_table *t;
		if (br_ice_load(l, "db", "crash", &t, &err))
			fail_msg("round %d: %s", round, err.msg);
		killed_commits += br_ice_table_version(t) - last_version;
		/* every snapshot's files are there */
		const br_ice_snapshot *snaps;
		size_t ns;
		br_ice_table_snapshots(t, &snaps, &ns);
		for (size_t i = 0; i < ns; i++) {
			br_ice_plan plan;
			br_ice_scan_opts o = { .snapshot_id = snaps[i].id };
			if (br_ice_plan_scan(t, &o, &plan, &err))
				fail_msg("round %d snapshot %zu: %s", round, i, err.msg);
			br_arena a;
			br_arena_init(&a, 1024);
			for (size_t k = 0; k < plan.nfiles; k++)
				assert_true(br_path_exists(br_ice_uri_path(&a, plan.files[k].df.path)));
			br_arena_free(&a);
			br_ice_plan_free(&plan);
		}
		/* and the next commit succeeds */
		fake f;
		char name[64];
		snprintf(name, sizeof name, "after%d", round);
		make_fake(&f, t, name, 1, 2, 1700000000000000LL, true);
		if (br_ice_append(t, &f.df, 1, NULL, &err))
			fail_msg("round %d: commit after crash: %s", round, err.msg);
		last_version = br_ice_table_version(t);
		br_ice_table_free(t);
		br_lake_close(l);
	}
	/* the children did commit before they were killed */
	assert_true(killed_commits >= 6);
}

/* Many small appends: manifests are merged past the table's threshold and
 * planning still sees every file with its original sequence number. */
static void test_manifest_merge(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_lake *l = open_lake();
	br_schema *s = test_schema();
	const char *pk[] = { "commit.manifest.min-count-to-merge", "write.metadata.previous-versions-max" },
		   *pv[] = { "4", "5" };
	br_ice_kv props = { 2, pk, pv };
	assert_int_equal(br_ice_create(l, "db", "merge", s, NULL, &props, &err), 0);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "db", "merge", &t, &err), 0);
	for (int i = 0; i < 12; i++) {
		fake f;
		char name[32];
		snprintf(name, sizeof name, "m%d", i);
		make_fake(&f, t, name, i * 10, i * 10 + 9, 0, false);
		assert_int_equal(br_ice_append(t, &f.df, 1, NULL, &err), 0);
	}
	br_arena a;
	br_arena_init(&a, 4096);
	br_ice_manifest *mfs;
	size_t nmf;
	assert_int_equal(br_ice_manifest_list_read(br_ice_uri_path(&a, br_ice_table_current(t)->manifest_list), &a, &mfs,
						   &nmf, &err),
			 0);
	assert_true(nmf <= 5);
	json_t *doc = json_loads(br_ice_table_metadata_json(t), 0, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "metadata-log")), 5);
	json_decref(doc);
	br_ice_plan plan;
	assert_int_equal(br_ice_plan_scan(t, NULL, &plan, &err), 0);
	assert_int_equal(plan.nfiles, 12);
	for (size_t i = 0; i < plan.nfiles; i++) {
		int k = atoi(strrchr(plan.files[i].df.path, 'm') + 1);
		assert_int_equal(plan.files[i].seq, k + 1);
	}
	br_ice_plan_free(&plan);
	br_arena_free(&a);
	br_ice_table_free(t);
	br_schema_free(s);
	br_lake_close(l);
}

/* Nested evolution on real files: a field added to a struct reads as null
 * in old files, a renamed nested field keeps its values (matched by id). */
static void test_nested_evolution(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_lake *l = open_lake();
	const char *js = "{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
			 "{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"int\"},"
			 "{\"id\":2,\"name\":\"loc\",\"required\":false,\"type\":{\"type\":\"struct\",\"fields\":["
			 "{\"id\":3,\"name\":\"lat\",\"required\":false,\"type\":\"float\"}]}}]}";
	br_schema *s;
	assert_int_equal(br_schema_parse(js, strlen(js), &s, &err), 0);
	assert_int_equal(br_ice_create(l, "db", "nested", s, NULL, NULL, &err), 0);
	br_schema_free(s);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "db", "nested", &t, &err), 0);
	br_batch b;
	br_batch_init(&b, br_ice_table_schema(t)->root, false);
	for (int i = 0; i < 3; i++) {
		br_col_append_i32(&b.cols[0], i);
		br_col_append_f32(&b.cols[1].children[0], (float)i + 0.5f);
		br_col_append_struct(&b.cols[1]);
		br_batch_row_done(&b, 1);
	}
	assert_int_equal(br_ice_append_batch(t, &b, NULL, &err), 0);
	br_batch_free(&b);
	br_type *lt = br_type_new(BR_T_LONG), *dt = br_type_new(BR_T_DOUBLE), *st = br_type_new(BR_T_STRING);
	br_ice_schema_change ch[] = {
		{ .kind = BR_ICE_WIDEN_COLUMN, .name = "id", .type = lt },
		{ .kind = BR_ICE_WIDEN_COLUMN, .name = "loc.lat", .type = dt },
		{ .kind = BR_ICE_RENAME_COLUMN, .name = "loc.lat", .new_name = "latitude" },
		{ .kind = BR_ICE_ADD_COLUMN, .name = "loc.city", .type = st },
	};
	if (br_ice_update_schema(t, ch, BR_ARRAY_LEN(ch), &err))
		fail_msg("%s", err.msg);
	br_batch_init(&b, br_ice_table_schema(t)->root, false);
	br_col_append_i64(&b.cols[0], 100);
	br_col_append_f64(&b.cols[1].children[0], 9.25);
	br_col_append_bytes(&b.cols[1].children[1], "Oslo", 4);
	br_col_append_struct(&b.cols[1]);
	br_batch_row_done(&b, 1);
	assert_int_equal(br_ice_append_batch(t, &b, NULL, &err), 0);
	br_batch_free(&b);
	br_ice_scan *sc;
	assert_int_equal(br_ice_scan_open(t, NULL, &sc, &err), 0);
	br_batch r = { 0 };
	int rc, rows = 0;
	double latsum = 0;
	int cities = 0;
	while ((rc = br_ice_scan_next(sc, &r, &err)) == 1) {
		assert_int_equal(br_batch_validate(&r, &err), 0);
		for (int64_t i = 0; i < r.nrows; i++, rows++) {
			assert_int_equal(r.cols[0].type->id, BR_T_LONG);
			int64_t id = br_col_i64(&r.cols[0], i);
			const br_col *lat = &r.cols[1].children[0], *city = &r.cols[1].children[1];
			assert_true(br_col_valid(lat, i));
			latsum += br_col_f64(lat, i);
			if (br_col_valid(city, i)) {
				cities++;
				assert_int_equal(id, 100);
			}
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(rows, 4);
	assert_int_equal(cities, 1);
	assert_true(latsum == 0.5 + 1.5 + 2.5 + 9.25);
	br_batch_free(&r);
	br_ice_scan_close(sc);
	br_type_free(lt);
	br_type_free(dt);
	br_type_free(st);
	br_ice_table_free(t);
	br_lake_close(l);
}

/* Writers in separate processes committing at the same time: every commit
 * lands exactly once (optimistic retries under real contention). */
static void test_concurrent_processes(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_lake *l = open_lake();
	br_schema *s = test_schema();
	assert_int_equal(br_ice_create(l, "db", "race", s, NULL, NULL, &err), 0);
	br_schema_free(s);
	br_lake_close(l);
	enum { WRITERS = 4, COMMITS = 10 };
	pid_t pids[WRITERS];
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0) {
			br_lake *cl;
			br_ice_table *ct;
			br_err cerr = { 0 };
			if (br_lake_open(tmpdir, &cl, &cerr) || br_ice_load(cl, "db", "race", &ct, &cerr)) {
				fprintf(stderr, "writer %d: %s\n", w, cerr.msg);
				_exit(2);
			}
			for (int i = 0; i < COMMITS; i++) {
				char name[32];
				snprintf(name, sizeof name, "w%d-%d", w, i);
				fake f;
				make_fake(&f, ct, name, i, i, 0, false);
				if (br_ice_append(ct, &f.df, 1, NULL, &cerr)) {
					fprintf(stderr, "writer %d: %s\n", w, cerr.msg);
					_exit(3);
				}
			}
			br_ice_table_free(ct);
			br_lake_close(cl);
			_exit(0);
		}
	}
	/* Reap every writer before judging: a failed assertion tears the
	 * directory down, which must not happen under running writers. */
	int failed = 0;
	for (int w = 0; w < WRITERS; w++) {
		int status;
		waitpid(pids[w], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	assert_int_equal(failed, 0);
	l = open_lake();
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "db", "race", &t, &err), 0);
	assert_int_equal(br_ice_table_version(t), 1 + WRITERS * COMMITS);
	assert_int_equal(plan_count(t, 0, NULL, 0, NULL), WRITERS * COMMITS);
	assert_int_equal(br_ice_table_current(t)->seq, WRITERS * COMMITS);
	br_ice_table_free(t);
	br_lake_close(l);
}

/* Column statistics of a batch: counts, NaN excluded from bounds, long
 * strings get a truncated lower bound and no upper bound. */
static void test_batch_stats(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_lake *l = open_lake();
	const char *js = "{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
			 "{\"id\":1,\"name\":\"x\",\"required\":false,\"type\":\"double\"},"
			 "{\"id\":2,\"name\":\"s\",\"required\":false,\"type\":\"string\"}]}";
	br_schema *s;
	assert_int_equal(br_schema_parse(js, strlen(js), &s, &err), 0);
	assert_int_equal(br_ice_create(l, "db", "stats", s, "truncate[2](s)", NULL, &err), 0);
	br_schema_free(s);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "db", "stats", &t, &err), 0);
	br_batch b;
	br_batch_init(&b, br_ice_table_schema(t)->root, false);
	double xs[] = { 3.5, -1.0, NAN, 7.25 };
	char big[100];
	memset(big, 'z', sizeof big);
	for (int i = 0; i < 4; i++) {
		br_col_append_f64(&b.cols[0], xs[i]);
		if (i == 1)
			br_col_append_null(&b.cols[1]);
		else if (i == 3)
			br_col_append_bytes(&b.cols[1], big, sizeof big);
		else
			br_col_append_bytes(&b.cols[1], i ? "bb" : "ab", 2);
		br_batch_row_done(&b, 1);
	}
	br_arena a;
	br_arena_init(&a, 1024);
	br_ice_colstat *cs;
	int n;
	br_ice_batch_stats(t, &b, &a, &cs, &n);
	assert_int_equal(n, 2);
	assert_int_equal(cs[0].value_count, 4);
	assert_int_equal(cs[0].nan_count, 1);
	assert_int_equal(cs[0].null_count, 0);
	double lo, hi;
	memcpy(&lo, cs[0].lower, 8);
	memcpy(&hi, cs[0].upper, 8);
	assert_true(lo == -1.0 && hi == 7.25);
	assert_int_equal(cs[1].null_count, 1);
	assert_int_equal(cs[1].lower_len, 2);
	assert_memory_equal(cs[1].lower, "ab", 2);
	assert_null(cs[1].upper); /* the max is 100 bytes long */
	/* partition tuple and path of a row */
	br_value part[1];
	assert_int_equal(br_ice_partition_of(t, &b, 3, part, &err), 0);
	assert_int_equal(part[0].v.bytes.len, 2);
	br_buf path = { 0 };
	br_ice_partition_path(t, part, &path);
	assert_int_equal(path.len, strlen("s_trunc=zz"));
	assert_memory_equal(path.p, "s_trunc=zz", path.len);
	br_buf_free(&path);
	br_arena_free(&a);
	br_batch_free(&b);
	br_ice_table_free(t);
	br_lake_close(l);
}

static void test_bad_metadata(void **state)
{
	(void)state;
	br_err err = { 0 };
	br_ice_meta m;
	const char *bad = "{\"format-version\":2,\"table-uuid\":\"x\",\"location\":\"file:///x\"}";
	assert_int_equal(br_ice_meta_parse(bad, strlen(bad), "v9.metadata.json", &m, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "v9.metadata.json"));
	assert_non_null(strstr(err.msg, "last-sequence-number"));
	assert_int_equal(br_ice_meta_parse("{", 1, "v1.metadata.json", &m, &err), BR_ECORRUPT);
	const char *v1 = "{\"format-version\":1}";
	assert_int_equal(br_ice_meta_parse(v1, strlen(v1), "f", &m, &err), BR_EUNSUPPORTED);
	/* a table whose current metadata file is truncated fails to load with its name */
	br_lake *l = open_lake();
	br_schema *s = test_schema();
	assert_int_equal(br_ice_create(l, "db", "trunc", s, NULL, NULL, &err), 0);
	char *p = br_xasprintf("%s/lake/db/trunc/metadata/v1.metadata.json", tmpdir);
	assert_int_equal(truncate(p, 100), 0);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "db", "trunc", &t, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "v1.metadata.json"));
	free(p);
	/* a truncated manifest list fails planning with its name */
	assert_int_equal(br_ice_create(l, "db", "trunc2", s, NULL, NULL, &err), 0);
	assert_int_equal(br_ice_load(l, "db", "trunc2", &t, &err), 0);
	fake f;
	make_fake(&f, t, "x", 1, 3, 0, false);
	assert_int_equal(br_ice_append(t, &f.df, 1, NULL, &err), 0);
	br_arena scratch;
	br_arena_init(&scratch, 1024);
	const char *ml = br_ice_uri_path(&scratch, br_ice_table_current(t)->manifest_list);
	assert_int_equal(truncate(ml, 200), 0);
	br_ice_plan plan;
	assert_int_equal(br_ice_plan_scan(t, NULL, &plan, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "snap-"));
	br_ice_plan_free(&plan);
	br_arena_free(&scratch);
	br_ice_table_free(t);
	br_schema_free(s);
	br_lake_close(l);
}


/* ------------------------------------------------------------- scenario
 * Real Parquet data through the whole life of a table. The integration tests
 * run it as `test_iceberg --scenario DIR` and compare what icebird and
 * python3-avro read with the rows braid returns (printed as JSON on stdout). */

static const char *scn_schema =
	"{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
	"{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"name\",\"required\":false,\"type\":\"string\"},"
	"{\"id\":3,\"name\":\"qty\",\"required\":false,\"type\":\"int\"},"
	"{\"id\":4,\"name\":\"price\",\"required\":false,\"type\":\"double\"},"
	"{\"id\":5,\"name\":\"ts\",\"required\":false,\"type\":\"timestamptz\"}]}";

static const int64_t scn_base_us = 1700000000000000LL;

/* Rows lo..hi in the table's current schema (by column name). */
static void scn_batch(const br_schema *s, br_batch *b, int lo, int hi)
{
	br_batch_init(b, s->root, false);
	char buf[32];
	for (int i = lo; i <= hi; i++) {
		for (int c = 0; c < s->root->nchildren; c++) {
			const br_field *f = &s->root->children[c];
			br_col *col = &b->cols[c];
			if (!strcmp(f->name, "id"))
				br_col_append_i64(col, i);
			else if (!strcmp(f->name, "name") || !strcmp(f->name, "label")) {
				if (i % 5 == 0) {
					br_col_append_null(col);
				} else {
					snprintf(buf, sizeof buf, "n%d", i);
					br_col_append_bytes(col, buf, strlen(buf));
				}
			} else if (!strcmp(f->name, "qty")) {
				if (f->type->id == BR_T_LONG)
					br_col_append_i64(col, (int64_t)i * 10);
				else
					br_col_append_i32(col, i * 10);
			} else if (!strcmp(f->name, "price"))
				br_col_append_f64(col, i * 1.5);
			else if (!strcmp(f->name, "ts"))
				br_col_append_i64(col, scn_base_us + (int64_t)i * 3 * 3600 * 1000000LL);
			else if (!strcmp(f->name, "note")) {
				snprintf(buf, sizeof buf, "note%d", i);
				br_col_append_bytes(col, buf, strlen(buf));
			} else
				br_col_append_null(col);
		}
		br_batch_row_done(b, 1);
	}
}

/* Scans snapshot snap (0 = current) and appends its rows as a JSON array of
 * {field id: value} objects to out; returns the row count. */
static int64_t scn_rows(br_ice_table *t, int64_t snap, br_buf *out)
{
	br_ice_scan *sc;
	br_err err = { 0 };
	br_ice_scan_opts o = { .snapshot_id = snap };
	if (br_ice_scan_open(t, &o, &sc, &err))
		fail_msg("%s", err.msg);
	br_batch b = { 0 };
	int rc;
	int64_t n = 0;
	br_buf_u8(out, '[');
	while ((rc = br_ice_scan_next(sc, &b, &err)) == 1) {
		for (int64_t r = 0; r < b.nrows; r++, n++) {
			br_buf_printf(out, "%s{", n ? "," : "");
			for (int c = 0; c < b.ncols; c++) {
				const br_field *f = &b.type->children[c];
				br_value v = br_col_value(&b.cols[c], r);
				br_buf_printf(out, "%s\"%d\":", c ? "," : "", f->id);
				if (v.is_null)
					br_buf_printf(out, "null");
				else if (v.type == BR_T_INT)
					br_buf_printf(out, "%d", v.v.i32);
				else if (v.type == BR_T_DOUBLE)
					br_buf_printf(out, "%.17g", v.v.f64);
				else if (v.type == BR_T_STRING)
					br_buf_printf(out, "\"%.*s\"", (int)v.v.bytes.len, (const char *)v.v.bytes.p);
				else
					br_buf_printf(out, "%lld", (long long)v.v.i64);
			}
			br_buf_u8(out, '}');
		}
	}
	if (rc < 0)
		fail_msg("%s", err.msg);
	br_buf_u8(out, ']');
	if (b.cols)
		br_batch_free(&b);
	br_ice_scan_close(sc);
	return n;
}

/* Runs the scenario in dir; returns its JSON description (caller frees). */
static char *run_scenario(const char *dir)
{
	br_err err = { 0 };
	br_lake *l;
	if (br_lake_open(dir, &l, &err))
		fail_msg("%s", err.msg);
	br_schema *s;
	assert_int_equal(br_schema_parse(scn_schema, strlen(scn_schema), &s, &err), 0);
	if (br_ice_create(l, "db", "events", s, "bucket[2](id), day(ts)", NULL, &err))
		fail_msg("%s", err.msg);
	br_schema_free(s);
	br_ice_table *t;
	assert_int_equal(br_ice_load(l, "db", "events", &t, &err), 0);
	br_batch b;
	scn_batch(br_ice_table_schema(t), &b, 1, 6);
	if (br_ice_append_batch(t, &b, NULL, &err))
		fail_msg("%s", err.msg);
	br_batch_free(&b);
	scn_batch(br_ice_table_schema(t), &b, 7, 10);
	const char *fk[] = { "braid.frontier" }, *fv[] = { "{\"0\":10}" };
	br_ice_kv frontier = { 1, fk, fv };
	assert_int_equal(br_ice_append_batch(t, &b, &frontier, &err), 0);
	br_batch_free(&b);
	/* delete the data file holding id 1 */
	br_ice_pred p = { "id", BR_ICE_EQ, br_value_i64(BR_T_LONG, 1) };
	br_ice_scan_opts o = { .preds = &p, .npreds = 1 };
	br_ice_plan plan;
	assert_int_equal(br_ice_plan_scan(t, &o, &plan, &err), 0);
	assert_int_equal(plan.nfiles, 1);
	const char *del[] = { plan.files[0].df.path };
	assert_int_equal(br_ice_delete_files(t, del, 1, NULL, &err), 0);
	br_ice_plan_free(&plan);
	/* evolve */
	br_type *lt = br_type_new(BR_T_LONG), *st = br_type_new(BR_T_STRING);
	br_ice_schema_change ch[] = {
		{ .kind = BR_ICE_RENAME_COLUMN, .name = "name", .new_name = "label" },
		{ .kind = BR_ICE_WIDEN_COLUMN, .name = "qty", .type = lt },
		{ .kind = BR_ICE_ADD_COLUMN, .name = "note", .type = st },
		{ .kind = BR_ICE_DROP_COLUMN, .name = "price" },
	};
	if (br_ice_update_schema(t, ch, BR_ARRAY_LEN(ch), &err))
		fail_msg("%s", err.msg);
	br_type_free(lt);
	br_type_free(st);
	scn_batch(br_ice_table_schema(t), &b, 11, 14);
	fv[0] = "{\"0\":14}";
	assert_int_equal(br_ice_append_batch(t, &b, &frontier, &err), 0);
	br_batch_free(&b);
	/* row-level delete by copy-on-write */
	br_ice_pred p12 = { "id", BR_ICE_EQ, br_value_i64(BR_T_LONG, 12) };
	int64_t ndel;
	if (br_ice_delete_rows(t, &p12, 1, &ndel, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(ndel, 1);
	size_t rewritten, written;
	if (br_ice_compact(t, 1 << 30, &rewritten, &written, &err))
		fail_msg("%s", err.msg);
	assert_true(rewritten > written);

	/* describe every metadata version: its snapshot and braid's rows */
	br_buf out = { 0 };
	br_buf_printf(&out, "{\"table_url\":\"%s\",\"versions\":[", br_ice_table_location(t));
	int last = br_ice_table_version(t);
	for (int v = 2; v <= last; v++) {
		char *path = br_xasprintf("%s/metadata/v%d.metadata.json", br_ice_table_dir(t), v), *text;
		size_t len;
		assert_int_equal(br_read_file(path, &text, &len, &err), 0);
		br_ice_meta m;
		assert_int_equal(br_ice_meta_parse(text, len, path, &m, &err), 0);
		br_buf_printf(&out, "%s{\"metadata\":\"v%d.metadata.json\",\"snapshot\":%lld,\"rows\":", v > 2 ? "," : "", v,
			      (long long)m.current_snapshot_id);
		scn_rows(t, m.current_snapshot_id, &out);
		br_buf_u8(&out, '}');
		br_ice_meta_free(&m);
		free(text);
		free(path);
	}
	const br_ice_snapshot *cur = br_ice_table_current(t);
	const char *fr = br_ice_snapshot_prop(cur, "braid.frontier");
	br_buf_printf(&out, "],\"current_operation\":\"%s\",\"frontier\":\"%s\"}", cur->operation,
		      fr && !strcmp(fr, "{\"0\":14}") ? "kept" : "lost");
	br_buf_u8(&out, 0);
	br_ice_table_free(t);
	br_lake_close(l);
	return (char *)out.p;
}

static void test_data_scenario(void **state)
{
	(void)state;
	char *json = run_scenario(tmpdir);
	/* the final snapshot holds ids 2..14 once each (id 1's file was deleted,
	 * along with whatever else shared its partition) */
	assert_non_null(strstr(json, "\"current_operation\":\"replace\""));
	assert_non_null(strstr(json, "\"frontier\":\"kept\""));
	br_lake *l = open_lake();
	br_ice_table *t;
	br_err err = { 0 };
	assert_int_equal(br_ice_load(l, "db", "events", &t, &err), 0);
	br_buf rows = { 0 };
	int64_t n = scn_rows(t, 0, &rows);
	br_buf_u8(&rows, 0);
	assert_true(n >= 8 && n <= 13);
	assert_null(strstr((const char *)rows.p, "\"1\":1,"));
	assert_non_null(strstr((const char *)rows.p, "\"6\":\"note14\""));
	assert_non_null(strstr((const char *)rows.p, "\"2\":\"n11\""));
	assert_null(strstr((const char *)rows.p, "\"1\":12,"));
	/* pruning by bounds on real files: only the file with id 13 */
	br_ice_pred p = { "id", BR_ICE_EQ, br_value_i64(BR_T_LONG, 13) };
	assert_int_equal(plan_count(t, 0, &p, 1, NULL), 1);
	br_buf_free(&rows);
	br_ice_table_free(t);
	br_lake_close(l);
	free(json);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur3_spec_vectors),
		cmocka_unit_test(test_transforms),
		cmocka_unit_test(test_single_value),
		cmocka_unit_test_setup_teardown(test_table_lifecycle, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_schema_evolution, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_concurrent_commits, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_bad_metadata, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_crash_during_commit, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_manifest_merge, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_concurrent_processes, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_nested_evolution, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_batch_stats, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_data_scenario, setup_dir, teardown_dir),
	};
	br_log_level = BR_LOG_ERROR;
	if (argc == 3 && !strcmp(argv[1], "--scenario")) {
		char *json = run_scenario(argv[2]);
		puts(json);
		free(json);
		return 0;
	}
	return cmocka_run_group_tests_name("iceberg", tests, NULL, NULL);
}
