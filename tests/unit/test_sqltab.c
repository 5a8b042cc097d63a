/* test_sqltab.c — unit tests for tables backed by topics (src/sql/catalog_topic.c):
 * upsert and tombstone semantics, records produced by others, keyless tables,
 * attaching to a topic, and the catalog persisting tables and views across
 * sessions (views catch up with what was written while no session ran). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "flow/flow.h"
#include "log/log.h"
#include "log/records.h"
#include "sql/sql.h"

static char dir[256];

typedef struct sess {
	br_log *log;
	br_sql *s;
} sess;

static void open_log(br_log **log)
{
	br_log_opts o;
	br_log_opts_default(&o);
	char *ld = br_xasprintf("%s/log", dir);
	o.dir = ld;
	br_err err = { 0 };
	assert_int_equal(br_log_open(log, &o, &err), 0);
	free(ld);
}

static void sess_open(sess *x)
{
	open_log(&x->log);
	br_catalog *cat;
	br_err err = { 0 };
	int rc = br_catalog_topic_open(&cat, x->log, dir, &err);
	if (rc)
		fail_msg("catalog open: %s", err.msg);
	x->s = br_sql_open(cat);
	if (br_sql_restore(x->s, &err))
		fail_msg("restore: %s", err.msg);
}

static void sess_close(sess *x)
{
	br_sql_close(x->s);
	br_log_close(x->log);
}

static void fmt_val(br_buf *b, const br_value *v)
{
	if (v->is_null)
		br_buf_printf(b, "NULL");
	else if (v->type == BR_T_LONG)
		br_buf_printf(b, "%" PRId64, v->v.i64);
	else if (v->type == BR_T_DOUBLE)
		br_buf_printf(b, "%g", v->v.f64);
	else if (v->type == BR_T_BOOLEAN)
		br_buf_printf(b, "%s", v->v.b ? "t" : "f");
	else
		br_buf_printf(b, "%.*s", (int)v->v.bytes.len, v->v.bytes.p);
}

/* Runs sql; the last result's rows as "a|b" lines joined by ';' (in the
 * query's order: use ORDER BY). Fails the test on error. */
static char *q(sess *x, const char *sql)
{
	br_sql_result r = { 0 };
	br_err err = { 0 };
	if (br_sql_exec(x->s, sql, &r, &err))
		fail_msg("%s: %s", sql, err.msg);
	br_buf b = { 0 };
	br_value row[16];
	for (int64_t i = 0; r.has_rows && i < r.rows.nrows; i++) {
		br_batch_get_row(&r.rows, i, row);
		if (i)
			br_buf_u8(&b, ';');
		for (int c = 0; c < r.ncols; c++) {
			if (c)
				br_buf_u8(&b, '|');
			fmt_val(&b, &row[c]);
		}
	}
	br_buf_u8(&b, 0);
	br_sql_result_free(&r);
	return (char *)b.p;
}

#define assert_q(x, sql, want)                \
	do {                                  \
		char *got_ = q(x, sql);       \
		assert_string_equal(got_, want); \
		free(got_);                   \
	} while (0)

static int qerr(sess *x, const char *sql, char *msg, size_t cap)
{
	br_err err = { 0 };
	int rc = br_sql_exec(x->s, sql, NULL, &err);
	snprintf(msg, cap, "%s", err.msg);
	return rc;
}

/* Appends records (key, value; NULL = null) to topic/partition as one batch, durably. */
static void produce(br_log *log, const char *topic, int32_t part, int n, const char *const *keys,
		    const char *const *vals)
{
	br_rb_opts o;
	br_rb_opts_default(&o);
	br_rb_builder b;
	br_rb_builder_init(&b, &o);
	for (int i = 0; i < n; i++)
		br_rb_add(&b, br_now_ms(), keys[i], keys[i] ? (int32_t)strlen(keys[i]) : -1, vals[i],
			  vals[i] ? (int32_t)strlen(vals[i]) : -1, NULL, 0);
	br_buf out = { 0 };
	br_err err = { 0 };
	assert_int_equal(br_rb_finish(&b, &out, &err), 0);
	br_partition *p = br_topic_partition(br_log_topic(log, topic, strlen(topic)), part);
	assert_non_null(p);
	br_append_result res = { 0 };
	assert_int_equal(br_partition_append(p, out.p, out.len, br_now_ms(), &res, &err), 0);
	assert_int_equal(res.status, BR_APPEND_OK);
	assert_int_equal(br_partition_sync(p, &err), 0);
	br_buf_free(&out);
	br_rb_builder_free(&b);
}

static int64_t records(br_log *log, const char *topic)
{
	br_topic *t = br_log_topic(log, topic, strlen(topic));
	int64_t n = 0;
	for (int32_t p = 0; p < br_topic_partition_count(t); p++)
		n += br_partition_end_offset(br_topic_partition(t, p));
	return n;
}

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/braid-test-sqltab-%d", (int)getpid());
	br_remove_tree(dir, NULL);
	br_mkdirs(dir, NULL);
	return 0;
}

static int teardown(void **state)
{
	br_remove_tree(dir, NULL);
	return 0;
}

static void test_upsert(void **state)
{
	sess x;
	sess_open(&x);
	free(q(&x, "CREATE TABLE t (id bigint PRIMARY KEY, name text, n bigint) WITH (partitions = 3, "
		   "commit_interval = '500 ms');"
		   "CREATE MATERIALIZED VIEW v AS SELECT count(*), sum(n) FROM t"));
	br_topic *tp = br_log_topic(x.log, "t", 1);
	assert_non_null(tp);
	assert_int_equal(br_topic_partition_count(tp), 3);
	assert_string_equal(br_topic_config(tp, "braid.lake.mode", NULL), "json");
	assert_string_equal(br_topic_config(tp, "braid.lake.commit.interval.ms", NULL), "500");
	assert_non_null(strstr(br_topic_config(tp, "braid.lake.schema", NULL), "\"name\""));
	free(q(&x, "INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20)"));
	assert_q(&x, "SELECT * FROM v", "2|30");
	/* an existing key replaces the row */
	free(q(&x, "INSERT INTO t VALUES (1, 'A', 11)"));
	assert_q(&x, "SELECT id, name, n FROM t ORDER BY id", "1|A|11;2|b|20");
	assert_q(&x, "SELECT * FROM v", "2|31");
	free(q(&x, "UPDATE t SET n = n + 1 WHERE id = 2"));
	assert_q(&x, "SELECT * FROM v", "2|32");
	/* an update of the key: a tombstone for the old key, a record for the new */
	free(q(&x, "UPDATE t SET id = 5 WHERE id = 1"));
	assert_q(&x, "SELECT id, name FROM t ORDER BY id", "2|b;5|A");
	free(q(&x, "DELETE FROM t WHERE id = 2"));
	assert_q(&x, "SELECT id, name, n FROM t ORDER BY id", "5|A|11");
	assert_q(&x, "SELECT * FROM v", "1|11");
	/* 2 + 1 + 1 + 2 (tombstone + new key) + 1 tombstone */
	assert_int_equal(records(x.log, "t"), 7);
	char msg[600];
	assert_int_not_equal(qerr(&x, "INSERT INTO t VALUES (NULL, 'z', 1)", msg, sizeof msg), 0);
	assert_string_equal(msg, "null value in column \"id\" of relation \"t\" violates not-null constraint");
	assert_int_equal(records(x.log, "t"), 7);
	/* the topic deleted and created again (Kafka admin): the table starts over */
	br_err err = { 0 };
	assert_int_equal(br_log_delete_topic(x.log, "t", &err), 0);
	assert_int_equal(br_log_create_topic(x.log, "t", 1, NULL, 0, &err), 0);
	const char *keys[] = { "{\"id\":7}" };
	const char *vals[] = { "{\"id\":7,\"name\":\"g\",\"n\":70}" };
	produce(x.log, "t", 0, 1, keys, vals);
	assert_q(&x, "SELECT id, name, n FROM t ORDER BY id", "7|g|70");
	assert_q(&x, "SELECT * FROM v", "1|70");
	sess_close(&x);
}

/* Records that Kafka clients produce to a table's topic are rows. */
static void test_external_records(void **state)
{
	sess x;
	sess_open(&x);
	free(q(&x, "CREATE TABLE u (id bigint, k text, n bigint, PRIMARY KEY (id));"
		   "CREATE MATERIALIZED VIEW uv AS SELECT k, sum(n) FROM u GROUP BY k"));
	const char *keys[] = { "{\"id\":1}", NULL, "x", "{\"id\":3}", "{\"id\":2}", "3", NULL };
	const char *vals[] = { "{\"id\":1,\"k\":\"a\",\"n\":5}", "{\"id\":2,\"k\":\"a\",\"n\":7,\"extra\":true}",
			       "not json", "{\"id\":3,\"k\":\"b\",\"n\":\"wrong type\"}", NULL, NULL,
			       "{\"id\":4,\"k\":\"b\"}" };
	produce(x.log, "u", 0, 7, keys, vals);
	/* 1 and 2 inserted, 2 deleted by its tombstone, 3 never valid (its tombstone
	 * deletes nothing), 4 with a missing column (NULL) */
	assert_q(&x, "SELECT id, k, n FROM u ORDER BY id", "1|a|5;4|b|NULL");
	assert_q(&x, "SELECT * FROM uv ORDER BY k", "a|5;b|NULL");
	assert_int_equal(br_catalog_topic_skipped(br_sql_catalog(x.s)), 2);

	/* random bytes as keys and values are skipped, never a crash or a row */
	{
		char kb[64][24], vb[64][24];
		const char *rk[64], *rv[64];
		uint32_t seed = 12345;
		for (int i = 0; i < 64; i++) {
			for (int j = 0; j < 23; j++) {
				seed = seed * 1103515245u + 12345u;
				kb[i][j] = (char)(1 + (seed >> 16) % 255);
				seed = seed * 1103515245u + 12345u;
				vb[i][j] = (char)(1 + (seed >> 16) % 255);
			}
			kb[i][23] = vb[i][23] = 0;
			vb[i][0] = i % 2 ? '{' : vb[i][0];
			rk[i] = i % 3 ? kb[i] : NULL;
			rv[i] = i % 5 ? vb[i] : NULL;
		}
		produce(x.log, "u", 0, 64, rk, rv);
		assert_q(&x, "SELECT id, k, n FROM u ORDER BY id", "1|a|5;4|b|NULL");
	}
	/* partitions added to the topic (CreatePartitions) are followed too */
	br_err err = { 0 };
	assert_int_equal(br_log_set_partitions(x.log, "u", 3, &err), 0);
	const char *k2[] = { "{\"id\":9}" };
	const char *v2[] = { "{\"id\":9,\"k\":\"a\",\"n\":1}" };
	produce(x.log, "u", 2, 1, k2, v2);
	assert_q(&x, "SELECT * FROM uv ORDER BY k", "a|6;b|NULL");
	free(q(&x, "INSERT INTO u VALUES (10, 'c', 1), (11, 'c', 2), (12, 'c', 3), (13, 'c', 4)"));
	assert_q(&x, "SELECT * FROM uv ORDER BY k", "a|6;b|NULL;c|10");
	sess_close(&x);
}

static void test_keyless_and_attach(void **state)
{
	sess x;
	sess_open(&x);
	free(q(&x, "CREATE TABLE e (a bigint, b text)"));
	free(q(&x, "INSERT INTO e VALUES (1, 'x'), (1, 'x')"));
	assert_q(&x, "SELECT count(*) FROM e", "2");
	char msg[600];
	assert_int_not_equal(qerr(&x, "DELETE FROM e WHERE a = 1", msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "unsupported: deleting rows of table \"e\", which has no primary key"));
	assert_int_not_equal(qerr(&x, "CREATE TABLE e2 (a bigint) WITH (topic = 'e', partitions = 2)", msg, sizeof msg), 0);
	/* a topic of the table's name exists: attach explicitly */
	br_err err = { 0 };
	assert_int_equal(br_log_create_topic(x.log, "raw", 2, NULL, 0, &err), 0);
	const char *keys[] = { NULL, NULL };
	const char *vals[] = { "{\"a\":1}", "{\"a\":2}" };
	produce(x.log, "raw", 1, 2, keys, vals);
	assert_int_not_equal(qerr(&x, "CREATE TABLE raw (a bigint)", msg, sizeof msg), 0);
	assert_string_equal(msg, "topic \"raw\" already exists: attach the table to it with WITH (topic = 'raw')");
	free(q(&x, "CREATE TABLE r (a bigint) WITH (topic = 'raw')"));
	assert_q(&x, "SELECT sum(a) FROM r", "3");
	assert_int_not_equal(qerr(&x, "CREATE TABLE bad (a bigint) WITH (colour = 'red')", msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "unsupported: table option \"colour\""));
	/* list: sorted names, for SHOW TABLES */
	char **names;
	int n;
	br_catalog *cat = br_sql_catalog(x.s);
	assert_int_equal(cat->vt->list(cat, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "e");
	assert_string_equal(names[1], "r");
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	/* DROP TABLE deletes the topic it created, not one it attached to */
	free(q(&x, "DROP TABLE r; DROP TABLE e"));
	assert_non_null(br_log_topic(x.log, "raw", 3));
	assert_null(br_log_topic(x.log, "e", 1));
	sess_close(&x);
}

/* Tables and views persist; a later session sees the views caught up with
 * everything written since, by SQL or by producers while no session ran. */
static void test_persistence(void **state)
{
	sess x;
	sess_open(&x);
	free(q(&x, "CREATE TABLE p (id bigint PRIMARY KEY, g text, n bigint) WITH (partitions = 2);"
		   "CREATE MATERIALIZED VIEW pv AS SELECT g, count(*), sum(n) FROM p GROUP BY g;"
		   "CREATE MATERIALIZED VIEW gone AS SELECT * FROM p;"
		   "INSERT INTO p VALUES (1, 'a', 1), (2, 'a', 2), (3, 'b', 3);"
		   "DROP VIEW gone"));
	assert_q(&x, "SELECT * FROM pv ORDER BY g", "a|2|3;b|1|3");
	sess_close(&x);

	br_log *log;
	open_log(&log);
	const char *keys[] = { "{\"id\":3}", "{\"id\":4}", "{\"id\":1}" };
	const char *vals[] = { "{\"id\":3,\"g\":\"a\",\"n\":30}", "{\"id\":4,\"g\":\"c\",\"n\":4}", NULL };
	produce(log, "p", 1, 3, keys, vals);
	br_log_close(log);

	sess_open(&x);
	assert_q(&x, "SELECT * FROM pv ORDER BY g", "a|2|32;c|1|4");
	assert_q(&x, "SELECT id FROM p ORDER BY id", "2;3;4");
	char msg[600];
	assert_int_not_equal(qerr(&x, "SELECT * FROM gone", msg, sizeof msg), 0);
	free(q(&x, "INSERT INTO p VALUES (5, 'c', 5)"));
	assert_q(&x, "SELECT * FROM pv ORDER BY g", "a|2|32;c|2|9");
	sess_close(&x);

	char *path = br_xasprintf("%s/sql/catalog.json", dir);
	char *text;
	size_t len;
	assert_int_equal(br_read_file(path, &text, &len, NULL), 0);
	assert_non_null(strstr(text, "CREATE MATERIALIZED VIEW pv AS SELECT g, count(*), sum(n) FROM p GROUP BY g"));
	assert_null(strstr(text, "gone"));
	free(text);
	free(path);
}


/* Records of the dead-letter topic: "reason@partition:offset" joined by ';'. */
static char *dead_letters(br_log *log, const char *topic)
{
	br_buf out = { 0 };
	br_topic *t = br_log_topic(log, topic, strlen(topic));
	br_partition *p = t ? br_topic_partition(t, 0) : NULL;
	br_buf buf = { 0 };
	br_err err = { 0 };
	if (p && br_partition_end_offset(p) > 0)
		assert_int_equal(br_partition_read(p, 0, 1 << 20, 0, &buf, &err), 0);
	br_rb_iter it;
	br_rb_iter_init(&it, buf.p, buf.len, 1 << 20, 0);
	br_record r;
	while (br_rb_iter_next(&it, &r, &err) == 1) {
		size_t pos = 0;
		br_rec_header h;
		char reason[16] = "", part[8] = "", off[24] = "";
		while (br_record_header_next(&r, &pos, &h)) {
			char *dst = h.key_len == 16 && !memcmp(h.key, "braid.dlq.reason", 16) ? reason
				  : h.key_len == 20 && !memcmp(h.key, "braid.time.partition", 20) ? part
				  : h.key_len == 17 && !memcmp(h.key, "braid.time.offset", 17) ? off : NULL;
			if (dst)
				snprintf(dst, h.key_len == 16 ? 5 : 8, "%.*s", (int)h.value_len, (const char *)h.value);
		}
		br_buf_printf(&out, "%s%s@%s:%s", out.len ? ";" : "", reason, part, off);
	}
	br_rb_iter_free(&it);
	br_buf_free(&buf);
	br_buf_u8(&out, 0);
	return (char *)out.p;
}

#define assert_dlq(log, topic, want)                   \
	do {                                           \
		char *got_ = dead_letters(log, topic); \
		assert_string_equal(got_, want);       \
		free(got_);                            \
	} while (0)

/* Event time on a topic-backed table: records judged in log order per
 * partition with their broker append times, LATE and QUARANTINED ones in
 * <table>.dlq exactly once across sessions, options kept in catalog.json. */
static void test_event_time(void **state)
{
	sess x;
	sess_open(&x);
	char msg[600];
	assert_int_not_equal(qerr(&x, "CREATE TABLE bad (k text, ts text) WITH (event_time = 'ts')", msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "event_time column \"ts\" is text"));
	assert_null(br_log_topic(x.log, "bad", 3));
	assert_int_not_equal(qerr(&x, "CREATE TABLE bad (ts bigint) WITH (event_time = 'ts', lateness = 'later')", msg,
				  sizeof msg), 0);
	assert_non_null(strstr(msg, "lateness"));
	free(q(&x, "CREATE TABLE ev (k text, ts bigint, n bigint) WITH (partitions = 2, event_time = 'ts', "
		   "watermark_delay = '1 s', lateness = 'dead_letter', max_future_skew = '1 minute');"
		   "CREATE MATERIALIZED VIEW w WITH (emit = 'on_window_close') AS SELECT window_start, count(*), sum(n) "
		   "FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end"));
	/* event times 100 s in the past, on 10 s window boundaries */
	int64_t base = (br_now_ms() * 1000 / 10000000 - 10) * 10000000;
	char v[8][96];
	const char *keys[8] = { 0 }, *vals[8];
	int64_t ts[] = { 1, 2, 15 };
	for (int i = 0; i < 3; i++) {
		snprintf(v[i], sizeof v[i], "{\"k\":\"a\",\"ts\":%" PRId64 ",\"n\":%d}", base + ts[i] * 1000000, i + 1);
		vals[i] = v[i];
	}
	produce(x.log, "ev", 0, 3, keys, vals);
	snprintf(v[3], sizeof v[3], "{\"k\":\"b\",\"ts\":%" PRId64 ",\"n\":10}", base + 3000000);
	snprintf(v[4], sizeof v[4], "{\"k\":\"b\",\"ts\":%" PRId64 ",\"n\":20}", base + 25000000);
	vals[0] = v[3];
	vals[1] = v[4];
	produce(x.log, "ev", 1, 2, keys, vals);
	/* p0: late (below base+14s) and forged (an hour ahead of its append time) */
	snprintf(v[5], sizeof v[5], "{\"k\":\"a\",\"ts\":%" PRId64 ",\"n\":100}", base + 5000000);
	snprintf(v[6], sizeof v[6], "{\"k\":\"a\",\"ts\":%" PRId64 ",\"n\":1000}", base + (int64_t)7200000000);
	vals[0] = v[5];
	vals[1] = v[6];
	produce(x.log, "ev", 0, 2, keys, vals);
	/* global watermark base+14s closes [base, base+10s): 1 + 2 + 10 */
	char want[200];
	snprintf(want, sizeof want, "%" PRId64 "|3|13", base);
	assert_q(&x, "SELECT * FROM w", want);
	assert_q(&x, "SELECT count(*), sum(n) FROM ev", "5|36");
	snprintf(want, sizeof want, "ev|0|%" PRId64 "|%" PRId64 "|f|3|0|1|1;ev|1|%" PRId64 "|%" PRId64 "|f|2|0|0|0",
		 base + 14000000, base + 15000000, base + 24000000, base + 25000000);
	assert_q(&x, "SHOW WATERMARKS", want);
	assert_dlq(x.log, "ev.dlq", "late@0:3;quar@0:4");
	sess_close(&x);

	/* a new session: options from catalog.json, the same verdicts from the log,
	 * no dead letter written twice */
	sess_open(&x);
	snprintf(want, sizeof want, "%" PRId64 "|3|13", base);
	assert_q(&x, "SELECT * FROM w", want);
	snprintf(want, sizeof want, "ev|0|%" PRId64 "|%" PRId64 "|f|3|0|1|1;ev|1|%" PRId64 "|%" PRId64 "|f|2|0|0|0",
		 base + 14000000, base + 15000000, base + 24000000, base + 25000000);
	assert_q(&x, "SHOW WATERMARKS", want);
	assert_dlq(x.log, "ev.dlq", "late@0:3;quar@0:4");
	/* SQL's rows are records too: judged when read back (late on p0 here) */
	free(q(&x, "INSERT INTO ev VALUES ('b', 1, 1)"));
	assert_q(&x, "SELECT count(*) FROM ev", "5");
	assert_dlq(x.log, "ev.dlq", "late@0:3;quar@0:4;late@0:5");
	/* DROP forgets the options; a table without them takes every record */
	free(q(&x, "DROP VIEW w; DROP TABLE ev; CREATE TABLE ev (k text, ts bigint, n bigint)"));
	free(q(&x, "INSERT INTO ev VALUES ('b', 1, 1)"));
	assert_q(&x, "SELECT count(*) FROM ev", "1");
	assert_q(&x, "SHOW WATERMARKS", "");
	sess_close(&x);
}

/* An upsert table with event time and lateness = update: a record is judged
 * before it replaces a row, so a late update beyond allowed_lateness leaves
 * the row as it was; within it the row (and the open window) changes; a
 * tombstone always deletes. */
static void test_event_time_upsert(void **state)
{
	sess x;
	sess_open(&x);
	free(q(&x, "CREATE TABLE up (id bigint PRIMARY KEY, ts bigint, n bigint) WITH (event_time = 'ts', "
		   "watermark_delay = '1 s', lateness = 'update', allowed_lateness = '5 s');"
		   "CREATE MATERIALIZED VIEW uw AS SELECT window_start, count(*), sum(n) "
		   "FROM TUMBLE(up, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end"));
	free(q(&x, "INSERT INTO up VALUES (1, 1000000, 1), (2, 2000000, 2), (3, 20000000, 3)"));
	/* watermark 19 s: an update at 15 s is within allowed lateness (>= 14 s),
	 * one at 3 s is not */
	free(q(&x, "UPDATE up SET ts = 15000000, n = 10 WHERE id = 3"));
	free(q(&x, "INSERT INTO up VALUES (1, 3000000, 100)"));
	assert_q(&x, "SELECT id, ts, n FROM up ORDER BY id", "1|1000000|1;2|2000000|2;3|15000000|10");
	assert_q(&x, "SELECT * FROM uw ORDER BY 1", "0|2|3;10000000|1|10");
	assert_q(&x, "SHOW WATERMARKS", "up|0|19000000|20000000|f|3|1|1|0");
	free(q(&x, "DELETE FROM up WHERE id = 2"));
	assert_q(&x, "SELECT id FROM up ORDER BY id", "1;3");
	sess_close(&x);
	/* rebuilt from the log: the same table and counters */
	sess_open(&x);
	assert_q(&x, "SELECT id, ts, n FROM up ORDER BY id", "1|1000000|1;3|15000000|10");
	assert_q(&x, "SHOW WATERMARKS", "up|0|19000000|20000000|f|3|1|1|0");
	sess_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_upsert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_external_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyless_and_attach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_time_upsert, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
