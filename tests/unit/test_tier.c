/* test_tier.c — unit tests for src/tier: the frontier text, the schema-driven
 * JSON parser (conversions, all-or-nothing rows, inference), and tiering end to
 * end over a real log without the broker: rows, frontier, schema evolution, dead
 * letters and the restart that must not write a dead letter twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "iceberg/iceberg.h"
#include "log/log.h"
#include "log/records.h"
#include "tier/tier.h"
#include "tier/tier_int.h"

static void test_frontier_text(void **state)
{
	(void)state;
	int64_t *f;
	int32_t n;
	assert_int_equal(br_tier_frontier_parse("0:12,2:7", &f, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_int_equal(f[0], 12);
	assert_int_equal(f[1], -1);
	assert_int_equal(f[2], 7);
	char *s = br_tier_frontier_format(f, n);
	assert_string_equal(s, "0:12,2:7");
	free(s);
	free(f);
	assert_int_equal(br_tier_frontier_parse("", &f, &n, NULL), 0);
	assert_int_equal(n, 0);
	free(f);
	br_err err = { 0 };
	assert_int_equal(br_tier_frontier_parse("0:1,x", &f, &n, &err), BR_ECORRUPT);
	assert_int_equal(br_tier_frontier_parse("0:-1", &f, &n, &err), BR_ECORRUPT);
	assert_int_equal(br_tier_frontier_parse("0:5;", &f, &n, &err), BR_ECORRUPT);
}

/* A root like a json table's: 6 metadata columns, then the declared ones. */
static br_type *json_root(const char *schema)
{
	br_type *st = br_type_struct();
	const char *meta[] = { "_partition", "_offset", "_timestamp", "_append_time", "_key", "_headers" };
	for (int i = 0; i < 6; i++)
		br_type_struct_add(st, i + 1, meta[i], false, br_type_new(BR_T_BINARY), NULL);
	br_err err = { 0 };
	int rc = br_tier_json_add_columns(st, schema, &err);
	if (rc)
		fail_msg("%s", err.msg);
	return st;
}

static const char *SCHEMA =
	"{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
	"{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"price\",\"required\":false,\"type\":\"double\"},"
	"{\"id\":3,\"name\":\"name\",\"required\":false,\"type\":\"string\"},"
	"{\"id\":4,\"name\":\"ts\",\"required\":false,\"type\":\"timestamptz\"},"
	"{\"id\":5,\"name\":\"ok\",\"required\":false,\"type\":\"boolean\"},"
	"{\"id\":6,\"name\":\"tags\",\"required\":false,\"type\":{\"type\":\"list\",\"element-id\":7,\"element\":\"int\",\"element-required\":false}},"
	"{\"id\":8,\"name\":\"bid\",\"required\":false,\"type\":{\"type\":\"struct\",\"fields\":["
	"{\"id\":9,\"name\":\"auction\",\"required\":true,\"type\":\"int\"},"
	"{\"id\":10,\"name\":\"day\",\"required\":false,\"type\":\"date\"}]}}]}";

static int row(br_tjson *j, br_batch *b, const char *json, char *reason)
{
	int rc = br_tjson_parse(j, (const uint8_t *)json, strlen(json), reason, 256);
	if (!rc)
		rc = br_tjson_append(j, b, 6, reason, 256);
	return rc;
}

static void test_json_declared(void **state)
{
	(void)state;
	br_type *root = json_root(SCHEMA);
	assert_int_equal(root->nchildren, 13);
	assert_string_equal(root->children[6].name, "id");
	assert_int_equal(root->children[6].id, 10);
	assert_true(root->children[6].required);
	br_batch b;
	br_batch_init(&b, root, false);
	br_tjson *j = br_tjson_new();
	char reason[256];
	assert_int_equal(row(j, &b, "{\"id\": 7, \"price\": 2.5, \"name\": \"caf\\u00e9 \\ud83d\\ude00\", "
				     "\"ts\": \"2024-01-05T10:00:00.123Z\", \"ok\": true, \"tags\": [1, null, 3], "
				     "\"bid\": {\"auction\": 42, \"day\": \"2024-01-05\"}, \"extra\": {\"ignored\": [1]}}",
			     reason), 0);
	assert_int_equal(row(j, &b, "{\"id\": -9223372036854775808, \"ts\": 1704448800123}", reason), 0);
	/* failures append nothing */
	struct { const char *json, *want; } bad[] = {
		{ "{\"price\": 1}", "missing required field id" },
		{ "{\"id\": null}", "required field id is null" },
		{ "{\"id\": \"7\"}", "field id: expected long, got string" },
		{ "{\"id\": 1.5}", "field id: 1.5 does not fit long" },
		{ "{\"id\": 9223372036854775808}", "does not fit long" },
		{ "{\"id\": 1, \"bid\": {\"day\": \"2024-01-05\"}}", "missing required field bid.auction" },
		{ "{\"id\": 1, \"bid\": {\"auction\": 3000000000}}", "field bid.auction: 3000000000 does not fit int" },
		{ "{\"id\": 1, \"tags\": [1, \"x\"]}", "field tags[]: expected int, got string" },
		{ "{\"id\": 1, \"ts\": \"yesterday\"}", "not an ISO-8601 timestamp" },
		{ "not json", "invalid JSON" },
		{ "[1,2]", "not a JSON object" },
		{ "{\"id\": 1", "invalid JSON" },
		{ "{\"id\": 1} x", "trailing bytes" },
		{ "{\"id\": 01}", "invalid JSON" },
		{ "{\"a\": \"\\x\"}", "bad escape" },
		{ "{\"id\": 1, \"name\": \"\xff\"}", "field name: string is not valid UTF-8" },
		{ "{\"id\": 1, \"name\": \"\xed\xa0\x80\"}", "not valid UTF-8" },
	};
	for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++) {
		reason[0] = 0;
		assert_int_not_equal(row(j, &b, bad[i].json, reason), 0);
		if (!strstr(reason, bad[i].want))
			fail_msg("%s: reason \"%s\" lacks \"%s\"", bad[i].json, reason, bad[i].want);
	}
	assert_int_equal(br_tjson_parse(j, NULL, 0, reason, sizeof reason), BR_EINVAL);
	/* the metadata columns are the caller's: fill them so the rows are complete */
	for (int r = 0; r < 2; r++) {
		for (int c = 0; c < 6; c++)
			br_col_append_null(&b.cols[c]);
		br_batch_row_done(&b, 1);
	}
	assert_int_equal(b.nrows, 2);
	assert_int_equal(br_batch_validate(&b, NULL), 0);
	assert_int_equal(br_col_i64(&b.cols[6], 0), 7);
	assert_int_equal(br_col_i64(&b.cols[6], 1), INT64_MIN);
	assert_true(br_col_f64(&b.cols[7], 0) == 2.5);
	assert_false(br_col_valid(&b.cols[7], 1));
	size_t len;
	const uint8_t *s = br_col_bytes(&b.cols[8], 0, &len);
	assert_int_equal(len, strlen("café 😀"));
	assert_memory_equal(s, "café 😀", len);
	assert_int_equal(br_col_i64(&b.cols[9], 0), 1704448800123000LL);
	assert_int_equal(br_col_i64(&b.cols[9], 1), 1704448800123000LL);
	assert_true(br_col_bool(&b.cols[10], 0));
	int64_t st, en;
	br_col_range(&b.cols[11], 0, &st, &en);
	assert_int_equal(en - st, 3);
	assert_false(br_col_valid(&b.cols[11].children[0], st + 1));
	assert_int_equal(br_col_i32(&b.cols[12].children[0], 0), 42);
	assert_int_equal(br_col_i32(&b.cols[12].children[1], 0), 19727);
	assert_false(br_col_valid(&b.cols[12], 1));
	br_tjson_free(j);
	br_batch_free(&b);
	br_type_free(root);
}

static void test_utf8(void **state)
{
	(void)state;
	const char *good[] = { "", "abc", "caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf" };
	const char *bad[] = { "\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80" };
	for (size_t i = 0; i < BR_ARRAY_LEN(good); i++)
		assert_true(br_tier_utf8_valid((const uint8_t *)good[i], strlen(good[i])));
	for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++)
		assert_false(br_tier_utf8_valid((const uint8_t *)bad[i], strlen(bad[i])));
}

static void test_json_schema_errors(void **state)
{
	(void)state;
	br_type *st = br_type_struct();
	br_type_struct_add(st, 1, "_offset", true, br_type_new(BR_T_LONG), NULL);
	br_err err = { 0 };
	assert_int_not_equal(br_tier_json_add_columns(st, "{not json", &err), 0);
	assert_int_equal(br_tier_json_add_columns(st, "{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"_offset\","
						  "\"required\":false,\"type\":\"int\"}]}", &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "clashes"));
	assert_int_equal(br_tier_json_add_columns(st, "{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"u\","
						  "\"required\":false,\"type\":\"uuid\"}]}", &err), BR_EUNSUPPORTED);
	assert_int_equal(br_tier_json_add_columns(st, "infer", &err), 0);
	assert_int_equal(st->nchildren, 1);
	br_type_free(st);
}

static void test_json_infer(void **state)
{
	(void)state;
	br_type *root = json_root(NULL);
	br_tjson *j = br_tjson_new();
	char reason[256];
	const char *v = "{\"a\": 1, \"b\": \"x\", \"c\": null, \"d\": {\"e\": 2.5, \"f\": [1, 5000000000]}, "
			"\"g\": [], \"_offset\": 3, \"h.i\": 1, \"k\": true}";
	assert_int_equal(br_tjson_parse(j, (const uint8_t *)v, strlen(v), reason, sizeof reason), 0);
	const br_ice_schema_change *ch;
	size_t n;
	assert_int_equal(br_tjson_infer(j, root, 6, &ch, &n, reason, sizeof reason), 0);
	assert_int_equal(n, 4); /* a, b, d, k: null, [], metadata names and dotted keys wait or are ignored */
	assert_string_equal(ch[0].name, "a");
	assert_int_equal(ch[0].type->id, BR_T_INT);
	assert_string_equal(ch[2].name, "d");
	assert_int_equal(ch[2].type->id, BR_T_STRUCT);
	assert_int_equal(ch[2].type->children[1].type->id, BR_T_LIST);
	assert_int_equal(ch[2].type->children[1].type->children[0].type->id, BR_T_LONG);
	assert_int_equal(ch[3].kind, BR_ICE_ADD_COLUMN);
	/* an int column receiving a large value is widened; a nested new field added */
	br_type_struct_add(root, 20, "a", false, br_type_new(BR_T_INT), NULL);
	br_type *d = br_type_struct();
	br_type_struct_add(d, 22, "e", false, br_type_new(BR_T_DOUBLE), NULL);
	br_type_struct_add(root, 21, "d", false, d, NULL);
	v = "{\"a\": 3000000000, \"d\": {\"e\": 1, \"z\": \"new\"}}";
	assert_int_equal(br_tjson_parse(j, (const uint8_t *)v, strlen(v), reason, sizeof reason), 0);
	assert_int_equal(br_tjson_infer(j, root, 6, &ch, &n, reason, sizeof reason), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ch[0].kind, BR_ICE_WIDEN_COLUMN);
	assert_string_equal(ch[0].name, "a");
	assert_int_equal(ch[0].type->id, BR_T_LONG);
	assert_int_equal(ch[1].kind, BR_ICE_ADD_COLUMN);
	assert_string_equal(ch[1].name, "d.z");
	br_tjson_free(j);
	br_type_free(root);
}

static void test_json_hostile(void **state)
{
	(void)state;
	br_tjson *j = br_tjson_new();
	char reason[256];
	char deep[400];
	memset(deep, '[', sizeof deep);
	assert_int_not_equal(br_tjson_parse(j, (const uint8_t *)deep, sizeof deep, reason, sizeof reason), 0);
	const char *bad[] = { "{", "{\"", "{\"a\"", "{\"a\":", "{\"a\":\"\\u12", "{\"a\":-}", "{\"a\":1.}", "{\"a\":1e}",
			      "{\"a\":tru}", "{\"a\":[1,]}", "{,}", "{\"a\":1,}", "\"\\u00", "" };
	for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++)
		assert_int_not_equal(br_tjson_parse(j, (const uint8_t *)bad[i], strlen(bad[i]), reason, sizeof reason), 0);
	br_tjson_free(j);
}

/* ------------------------------------------------- end to end over a log */

typedef struct fx {
	char dir[64];
	br_log *log;
	br_tier *tier;
} fx;

static void flush_all(br_log *log)
{
	br_flush *f = br_log_flush_begin(log);
	if (f) {
		br_log_flush_run(f);
		assert_int_equal(br_log_flush_end(log, f, NULL), 0);
	}
}

static void open_all(fx *x)
{
	char *ld = br_xasprintf("%s/log", x->dir);
	br_log_opts o;
	br_log_opts_default(&o);
	o.dir = ld;
	br_err err = { 0 };
	if (br_log_open(&x->log, &o, &err))
		fail_msg("%s", err.msg);
	free(ld);
	br_tier_opts to = { .data_dir = x->dir, .spread = true }; /* spread: test_tier_parallel covers it */
	assert_int_equal(br_tier_open(&x->tier, x->log, &to, &err), 0);
}

static void close_all(fx *x)
{
	br_tier_close(x->tier);
	br_log_close(x->log);
}

static void produce(br_log *log, const char *topic, int32_t part, const char *const *values, int n)
{
	br_rb_opts o;
	br_rb_opts_default(&o);
	br_rb_builder bl;
	br_rb_builder_init(&bl, &o);
	br_rec_header h = { (const uint8_t *)"src", 3, (const uint8_t *)"unit", 4 };
	for (int i = 0; i < n; i++)
		br_rb_add(&bl, 1700000000000 + i, "k", 1, values[i], values[i] ? (int32_t)strlen(values[i]) : -1, &h, 1);
	br_buf out = { 0 };
	assert_int_equal(br_rb_finish(&bl, &out, NULL), 0);
	br_rb_builder_free(&bl);
	br_append_result res;
	br_err err = { 0 };
	br_partition *p = br_topic_partition(br_log_topic(log, topic, strlen(topic)), part);
	assert_int_equal(br_partition_append(p, out.p, out.len, br_now_ms(), &res, &err), 0);
	assert_int_equal(res.status, BR_APPEND_OK);
	br_buf_free(&out);
	flush_all(log);
}

/* Polls (flushing whatever tiering appended) until kafka.topic's frontier
 * covers `want` records in partition 0. */
static void wait_frontier(fx *x, const char *topic, int64_t want)
{
	/* up to a minute: the parse workers run at idle priority, so a busy
	 * machine (a build beside the tests) can hold them back for seconds */
	for (int i = 0; i < 12000; i++) {
		if (br_tier_poll(x->tier, br_now_ms() + 100000))
			flush_all(x->log);
		int64_t *f = NULL, t, d;
		int32_t n = 0;
		if (br_tier_frontier_read(x->dir, topic, &f, &n, &t, &d, NULL) == 0 && n > 0 && f[0] >= want) {
			free(f);
			return;
		}
		free(f);
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	fail_msg("frontier of %s did not reach %" PRId64, topic, want);
}

static int64_t count_rows(const char *dir, const char *topic, int64_t *sum_col, const char *col)
{
	br_lake *l;
	br_ice_table *t;
	assert_int_equal(br_lake_open(dir, &l, NULL), 0);
	assert_int_equal(br_ice_load(l, "kafka", topic, &t, NULL), 0);
	br_ice_scan *s;
	br_ice_scan_opts o = { 0 };
	assert_int_equal(br_ice_scan_open(t, &o, &s, NULL), 0);
	br_batch b = { 0 };
	int64_t n = 0;
	int ci = -1;
	while (br_ice_scan_next(s, &b, NULL) == 1) {
		for (int c = 0; col && c < b.type->nchildren; c++)
			if (!strcmp(b.type->children[c].name, col))
				ci = c;
		for (int64_t r = 0; ci >= 0 && r < b.nrows; r++)
			if (br_col_valid(&b.cols[ci], r))
				*sum_col += b.cols[ci].type->id == BR_T_LONG ? br_col_i64(&b.cols[ci], r) : br_col_i32(&b.cols[ci], r);
		n += b.nrows;
	}
	br_batch_free(&b);
	br_ice_scan_close(s);
	br_ice_table_free(t);
	br_lake_close(l);
	return n;
}

static int64_t dlq_count(br_log *log, const char *dlq)
{
	br_topic *t = br_log_topic(log, dlq, strlen(dlq));
	return t ? br_partition_end_offset(br_topic_partition(t, 0)) : 0;
}

static void test_tier_end_to_end(void **state)
{
	(void)state;
	fx x = { 0 };
	strcpy(x.dir, "/tmp/braid-test-tier-XXXXXX");
	assert_non_null(mkdtemp(x.dir));
	open_all(&x);
	const char *kv[] = { "braid.lake.mode", "json", "braid.lake.schema", "infer", "braid.lake.commit.interval.ms", "0" };
	assert_int_equal(br_log_create_topic(x.log, "ev", 1, kv, 3, NULL), 0);
	const char *kv2[] = { "braid.lake.mode", "key_value", "braid.lake.commit.interval.ms", "0" };
	assert_int_equal(br_log_create_topic(x.log, "raw", 1, kv2, 2, NULL), 0);
	const char *v1[] = { "{\"a\": 1}", "{\"a\": 2, \"b\": \"x\"}", "oops", NULL, "{\"a\": \"str\"}", "{\"a\": 3000000000}" };
	produce(x.log, "ev", 0, v1, 6);
	produce(x.log, "raw", 0, v1, 6);
	wait_frontier(&x, "ev", 6);
	wait_frontier(&x, "raw", 6);
	int64_t sum = 0;
	assert_int_equal(count_rows(x.dir, "ev", &sum, "a"), 3);
	assert_int_equal(sum, 3000000003LL); /* a widened to long: old rows read through the new schema */
	assert_int_equal(count_rows(x.dir, "raw", &sum, NULL), 6);
	assert_int_equal(dlq_count(x.log, "ev.dlq"), 3);
	int64_t tiered = 0, dead = 0;
	/* the counts move when the loop collects the finished job, after the commit is on disk */
	for (int i = 0; i < 2000 && br_tier_counts(x.tier, "ev", &tiered, &dead) && tiered < 3; i++) {
		br_tier_poll(x.tier, br_now_ms() + 100000);
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	assert_true(br_tier_counts(x.tier, "ev", &tiered, &dead));
	assert_int_equal(tiered, 3);
	assert_int_equal(dead, 3);

	/* a crash between the dead letters' append and the commit: poll without
	 * ever flushing, so the job waits for durability and never commits; close
	 * (which fsyncs the log: the dead letters survive) and open again. The
	 * restart reads the DLQ tail and must not write those dead letters twice. */
	const char *v2[] = { "{\"a\": 4}", "[]", "{\"a\": 1.5}" };
	produce(x.log, "ev", 0, v2, 3);
	for (int i = 0; i < 2000 && dlq_count(x.log, "ev.dlq") < 5; i++) {
		br_tier_poll(x.tier, br_now_ms() + 100000);
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(dlq_count(x.log, "ev.dlq"), 5);
	int64_t *f0, t0, d0;
	int32_t n0;
	assert_int_equal(br_tier_frontier_read(x.dir, "ev", &f0, &n0, &t0, &d0, NULL), 0);
	assert_int_equal(f0[0], 6); /* not committed */
	free(f0);
	close_all(&x);
	open_all(&x);
	wait_frontier(&x, "ev", 9);
	sum = 0;
	assert_int_equal(count_rows(x.dir, "ev", &sum, "a"), 4);
	assert_int_equal(dlq_count(x.log, "ev.dlq"), 5);
	int64_t *f, t2, d2;
	int32_t n;
	assert_int_equal(br_tier_frontier_read(x.dir, "ev", &f, &n, &t2, &d2, NULL), 0);
	assert_int_equal(t2, 4);
	assert_int_equal(d2, 5);
	free(f);
	/* a deleted topic is forgotten by tiering; its table stays in the lake */
	int64_t a, d;
	assert_true(br_tier_counts(x.tier, "raw", &a, &d));
	assert_int_equal(br_log_delete_topic(x.log, "raw", NULL), 0);
	for (int i = 0; i < 1000 && br_tier_counts(x.tier, "raw", &a, &d); i++) {
		br_tier_poll(x.tier, br_now_ms() + 100000);
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	assert_false(br_tier_counts(x.tier, "raw", &a, &d));
	assert_int_equal(br_tier_frontier_read(x.dir, "raw", &f, &n, NULL, NULL, NULL), 0);
	assert_int_equal(f[0], 6);
	free(f);
	/* switching a json topic to key_value is refused while the table exists
	 * (the config guard), and changes nothing */
	const char *kvm[] = { "braid.lake.mode", "key_value" };
	br_err e = { 0 };
	assert_int_equal(br_log_set_configs(x.log, "ev", kvm, 1, true, &e), BR_EINVAL);
	assert_non_null(strstr(e.msg, "cannot change from json to key_value"));
	const char *part[] = { "braid.lake.partition", "day(_timestamp)" };
	assert_int_equal(br_log_set_configs(x.log, "ev", part, 1, true, &e), BR_EINVAL);
	assert_non_null(strstr(e.msg, "braid.lake.partition cannot change"));
	assert_string_equal(br_topic_config(br_log_topic(x.log, "ev", 2), "braid.lake.mode", NULL), "json");
	/* through off, the guard cannot tell the table's layout: tiering still
	 * refuses to write rows of the wrong shape */
	const char *off[] = { "braid.lake.mode", "off" };
	assert_int_equal(br_log_set_configs(x.log, "ev", off, 1, true, NULL), 0);
	assert_int_equal(br_log_set_configs(x.log, "ev", kvm, 1, true, NULL), 0);
	const char *v3[] = { "{\"a\": 5}" };
	produce(x.log, "ev", 0, v3, 1);
	for (int i = 0; i < 100; i++) {
		br_tier_poll(x.tier, br_now_ms() + 100000);
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(br_tier_frontier_read(x.dir, "ev", &f, &n, NULL, NULL, NULL), 0);
	assert_int_equal(f[0], 9);
	free(f);
	close_all(&x);
	br_remove_tree(x.dir, NULL);
}

/* A catch-up job big enough for the parse workers (> 4 MiB stored, > 8
 * units: spread over one file per worker on 2+ CPUs), with a new column
 * midway, an int widened later and bad records throughout: every record ends
 * up once in the table or the DLQ, in one commit, and the stats count them. */
static void test_tier_parallel(void **state)
{
	(void)state;
	fx x = { 0 };
	strcpy(x.dir, "/tmp/braid-test-tier-XXXXXX");
	assert_non_null(mkdtemp(x.dir));
	open_all(&x);
	const char *off[] = { "braid.lake.mode", "off" };
	assert_int_equal(br_log_create_topic(x.log, "big", 1, off, 1, NULL), 0);
	enum { N = 90000, BATCH = 1000 };
	char *vals[BATCH];
	int64_t want_sum = 0, want_rows = 0, want_dead = 0;
	char pad[101];
	memset(pad, 'p', 100);
	pad[100] = 0;
	for (int base = 0; base < N; base += BATCH) {
		for (int i = 0; i < BATCH; i++) {
			int64_t k = base + i;
			int64_t id = k >= 60000 ? k + 3000000000LL : k;
			if (k % 997 == 0) {
				vals[i] = br_xstrdup("oops");
				want_dead++;
			} else {
				vals[i] = k >= 40000 ? br_xasprintf("{\"id\": %" PRId64 ", \"pad\": \"%s\", \"b\": %d}", id, pad, i)
						     : br_xasprintf("{\"id\": %" PRId64 ", \"pad\": \"%s\"}", id, pad);
				want_sum += id;
				want_rows++;
			}
		}
		produce(x.log, "big", 0, (const char *const *)vals, BATCH);
		for (int i = 0; i < BATCH; i++)
			free(vals[i]);
	}
	const char *on[] = { "braid.lake.mode", "json", "braid.lake.schema", "infer" };
	br_err e = { 0 };
	assert_int_equal(br_log_set_configs(x.log, "big", on, 2, true, &e), 0);
	wait_frontier(&x, "big", N);
	int64_t sum = 0;
	assert_int_equal(count_rows(x.dir, "big", &sum, "id"), want_rows);
	assert_int_equal(sum, want_sum);
	assert_int_equal(dlq_count(x.log, "big.dlq"), want_dead);
	/* the first record needed new columns, so that job ran in unit order
	 * after its evolution; a second catch-up under the evolved schema is
	 * spread over the workers' files (no poll while producing: one job) */
	for (int base = N; base < 2 * N; base += BATCH) {
		for (int i = 0; i < BATCH; i++) {
			int64_t id = base + i + 3000000000LL;
			vals[i] = br_xasprintf("{\"id\": %" PRId64 ", \"pad\": \"%s\", \"b\": %d}", id, pad, i);
			want_sum += id;
			want_rows++;
		}
		produce(x.log, "big", 0, (const char *const *)vals, BATCH);
		for (int i = 0; i < BATCH; i++)
			free(vals[i]);
	}
	wait_frontier(&x, "big", 2 * N);
	sum = 0;
	assert_int_equal(count_rows(x.dir, "big", &sum, "id"), want_rows);
	assert_int_equal(sum, want_sum);
	assert_int_equal(dlq_count(x.log, "big.dlq"), want_dead);
	br_tier_stats st = { 0 };
	for (int i = 0; i < 2000 && br_tier_stats_get(x.tier, "big", &st) && (!st.nparts || st.tiered[0] < want_rows); i++) {
		br_tier_poll(x.tier, br_now_ms() + 100000);
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	assert_true(br_tier_stats_get(x.tier, "big", &st));
	assert_int_equal(st.nparts, 1);
	assert_int_equal(st.tiered[0], want_rows);
	assert_int_equal(st.dead[0], want_dead);
	assert_int_equal(st.frontier[0], 2 * N);
	assert_true(st.commits >= 1);
	assert_true(st.bytes_written > 0);
	close_all(&x);
	br_remove_tree(x.dir, NULL);
}

int main(void)
{
	br_log_level = BR_LOG_WARN;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frontier_text),     cmocka_unit_test(test_json_declared),
		cmocka_unit_test(test_json_schema_errors), cmocka_unit_test(test_json_infer),
		cmocka_unit_test(test_json_hostile),      cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_tier_end_to_end),  cmocka_unit_test(test_tier_parallel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
