/* test_log.c — unit tests for src/log: appends, reads, recovery of torn tails,
 * idempotent producers, time lookups, retention, topic admin and names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "base/util.h"
#include "log/log.h"
#include "log/records.h"

/* An uncompressed RecordBatch v2 of n records with values "v<i>" and timestamps
 * ts0 + i; producer id/seq as given (-1 for none). */
static void make_batch(br_buf *b, int n, int64_t ts0, int64_t pid, int16_t epoch, int32_t seq)
{
	br_buf recs = { 0 };
	for (int i = 0; i < n; i++) {
		br_buf r = { 0 };
		char val[32];
		int vlen = snprintf(val, sizeof val, "v%d", i);
		br_buf_u8(&r, 0);
		br_buf_varint(&r, i);      /* timestamp delta */
		br_buf_varint(&r, i);      /* offset delta */
		br_buf_varint(&r, -1);     /* key: null */
		br_buf_varint(&r, vlen);
		br_buf_put(&r, val, (size_t)vlen);
		br_buf_varint(&r, 0);      /* headers */
		br_buf_varint(&recs, (int64_t)r.len);
		br_buf_put(&recs, r.p, r.len);
		br_buf_free(&r);
	}
	size_t start = b->len;
	br_buf_be64(b, 0);
	br_buf_be32(b, (uint32_t)(49 + recs.len));
	br_buf_be32(b, (uint32_t)-1);
	br_buf_u8(b, 2);
	br_buf_be32(b, 0); /* crc */
	br_buf_be16(b, 0);
	br_buf_be32(b, (uint32_t)(n - 1));
	br_buf_be64(b, (uint64_t)ts0);
	br_buf_be64(b, (uint64_t)(ts0 + n - 1));
	br_buf_be64(b, (uint64_t)pid);
	br_buf_be16(b, (uint16_t)epoch);
	br_buf_be32(b, (uint32_t)seq);
	br_buf_be32(b, (uint32_t)n);
	br_buf_put(b, recs.p, recs.len);
	br_wr_be32(b->p + start + 17, br_crc32c(0, b->p + start + 21, b->len - start - 21));
	br_buf_free(&recs);
}

typedef struct fixture {
	char dir[64];
	br_log *log;
	br_log_opts o;
} fixture;

static void flush_all(br_log *log)
{
	br_flush *f = br_log_flush_begin(log);
	if (f) {
		br_log_flush_run(f);
		assert_int_equal(br_log_flush_end(log, f, NULL), 0);
	}
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	strcpy(fx->dir, "/tmp/braid-test-log-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	br_log_opts_default(&fx->o);
	fx->o.dir = fx->dir;
	br_err err = { 0 };
	assert_int_equal(br_log_open(&fx->log, &fx->o, &err), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	br_log_close(fx->log);
	br_remove_tree(fx->dir, NULL);
	free(fx);
	return 0;
}

static void reopen(fixture *fx)
{
	br_log_close(fx->log);
	br_err err = { 0 };
	int rc = br_log_open(&fx->log, &fx->o, &err);
	if (rc)
		fail_msg("reopen: %s", err.msg);
}

static br_partition *part(fixture *fx, const char *topic, int p)
{
	br_topic *t = br_log_topic(fx->log, topic, strlen(topic));
	assert_non_null(t);
	return br_topic_partition(t, p);
}

static void append_ok(br_partition *p, int n, int64_t ts, int64_t expect_base)
{
	br_buf b = { 0 };
	make_batch(&b, n, ts, -1, -1, -1);
	br_append_result res;
	br_err err = { 0 };
	assert_int_equal(br_partition_append(p, b.p, b.len, 1000, &res, &err), 0);
	assert_int_equal(res.status, BR_APPEND_OK);
	assert_int_equal(res.base_offset, expect_base);
	br_buf_free(&b);
}

static void test_append_read(void **state)
{
	fixture *fx = *state;
	assert_int_equal(br_log_create_topic(fx->log, "t1", 2, NULL, 0, NULL), 0);
	br_partition *p = part(fx, "t1", 1);
	append_ok(p, 10, 100, 0);
	append_ok(p, 5, 200, 10);
	assert_int_equal(br_partition_end_offset(p), 15);
	/* nothing visible before the flush */
	assert_int_equal(br_partition_high_watermark(p), 0);
	br_buf out = { 0 };
	assert_int_equal(br_partition_read(p, 0, 1 << 20, BR_READ_AT_LEAST_ONE, &out, NULL), 0);
	assert_int_equal(out.len, 0);
	flush_all(fx->log);
	assert_int_equal(br_partition_high_watermark(p), 15);
	assert_int_equal(br_partition_read(p, 12, 1 << 20, BR_READ_AT_LEAST_ONE, &out, NULL), 0);
	/* the whole second batch, with its assigned base offset */
	assert_true(out.len > 61);
	assert_int_equal((int64_t)br_rd_be64(out.p), 10);
	assert_int_equal(br_crc32c(0, out.p + 21, out.len - 21), br_rd_be32(out.p + 17));
	br_buf_reset(&out);
	/* max_bytes 1: one batch anyway with AT_LEAST_ONE, none without */
	assert_int_equal(br_partition_read(p, 0, 1, BR_READ_AT_LEAST_ONE, &out, NULL), 0);
	assert_int_equal((int64_t)br_rd_be64(out.p), 0);
	size_t first = out.len;
	br_buf_reset(&out);
	assert_int_equal(br_partition_read(p, 0, 1, 0, &out, NULL), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(br_partition_read(p, 0, 1 << 20, 0, &out, NULL), 0);
	assert_true(out.len > first);
	br_buf_reset(&out);
	assert_int_equal(br_partition_read(p, 16, 100, 0, &out, NULL), BR_ENOTFOUND);
	br_buf_free(&out);
	/* survives a reopen */
	reopen(fx);
	p = part(fx, "t1", 1);
	assert_int_equal(br_partition_end_offset(p), 15);
	assert_int_equal(br_partition_high_watermark(p), 15);
	assert_int_equal(br_partition_append_time(p, 12), 1000);
	append_ok(p, 1, 300, 15);
}

/* The data flush (the ack path) makes batches readable by consumers; the index
 * sync makes their append times readable too, and only then does a read plan
 * (tiering) include them. An index entry lost in a crash gets the data file's
 * mtime, never less than the entry before it. */
static void flush_what(br_log *log, int what)
{
	br_flush *f = br_log_flush_begin_what(log, what);
	assert_non_null(f);
	assert_int_equal(br_log_flush_kind(f), what);
	br_log_flush_run(f);
	assert_int_equal(br_log_flush_end(log, f, NULL), 0);
}

static void test_index_sync(void **state)
{
	fixture *fx = *state;
	assert_int_equal(br_log_create_topic(fx->log, "isync", 1, NULL, 0, NULL), 0);
	br_partition *p = part(fx, "isync", 0);
	append_ok(p, 10, 100, 0);
	assert_true(br_log_index_sync_wanted(fx->log));
	flush_what(fx->log, BR_FLUSH_DATA);
	assert_null(br_log_flush_begin_what(fx->log, BR_FLUSH_DATA)); /* nothing left */
	assert_int_equal(br_partition_high_watermark(p), 10);
	br_buf out = { 0 };
	assert_int_equal(br_partition_read(p, 0, 1 << 20, BR_READ_AT_LEAST_ONE, &out, NULL), 0);
	assert_true(out.len > 61);
	br_buf_free(&out);
	br_read_plan plan;
	assert_int_equal(br_partition_plan_read(p, 0, 1 << 20, &plan, NULL), 0);
	assert_int_equal(plan.nbatches, 0);
	br_read_plan_free(&plan);
	flush_what(fx->log, BR_FLUSH_INDEX);
	assert_false(br_log_index_sync_wanted(fx->log));
	assert_int_equal(br_partition_plan_read(p, 0, 1 << 20, &plan, NULL), 0);
	assert_int_equal(plan.nbatches, 1);
	assert_int_equal(plan.batch_append[0], 1000);
	br_read_plan_free(&plan);
	/* a second batch whose index entry never reaches the disk */
	append_ok(p, 5, 200, 10);
	flush_what(fx->log, BR_FLUSH_DATA);
	char path[256];
	snprintf(path, sizeof path, "%s/isync/0/00000000000000000000.index", fx->dir);
	reopen(fx); /* close syncs everything: cut the index back to its first entry */
	assert_int_equal(truncate(path, 16), 0);
	snprintf(path, sizeof path, "%s/isync/0/00000000000000000000.log", fx->dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	reopen(fx);
	p = part(fx, "isync", 0);
	assert_int_equal(br_partition_end_offset(p), 15);
	assert_int_equal(br_partition_append_time(p, 3), 1000);
	assert_int_equal(br_partition_append_time(p, 12), (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
}

static void test_reject_corrupt(void **state)
{
	fixture *fx = *state;
	assert_int_equal(br_log_create_topic(fx->log, "bad", 1, NULL, 0, NULL), 0);
	br_partition *p = part(fx, "bad", 0);
	br_buf b = { 0 };
	make_batch(&b, 3, 1, -1, -1, -1);
	br_append_result res;
	b.p[b.len - 1] ^= 1; /* payload flip: CRC mismatch */
	assert_int_equal(br_partition_append(p, b.p, b.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_CORRUPT);
	b.p[b.len - 1] ^= 1;
	b.p[16] = 1; /* magic 1 */
	assert_int_equal(br_partition_append(p, b.p, b.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_UNSUPPORTED);
	b.p[16] = 2;
	assert_int_equal(br_partition_append(p, b.p, b.len - 3, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_CORRUPT);
	assert_int_equal(br_partition_end_offset(p), 0);
	br_buf_free(&b);
}

static void test_torn_tail(void **state)
{
	fixture *fx = *state;
	assert_int_equal(br_log_create_topic(fx->log, "torn", 1, NULL, 0, NULL), 0);
	br_partition *p = part(fx, "torn", 0);
	append_ok(p, 4, 10, 0);
	append_ok(p, 4, 20, 4);
	flush_all(fx->log);
	char path[256];
	snprintf(path, sizeof path, "%s/torn/0/00000000000000000000.log", fx->dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	/* half a third batch, as a crash mid-write leaves it */
	br_buf b = { 0 };
	make_batch(&b, 4, 30, -1, -1, -1);
	int fd = open(path, O_WRONLY | O_APPEND);
	assert_true(write(fd, b.p, b.len / 2) > 0);
	close(fd);
	br_buf_free(&b);
	reopen(fx);
	p = part(fx, "torn", 0);
	assert_int_equal(br_partition_end_offset(p), 8);
	assert_int_equal(stat(path, &st), 0);
	append_ok(p, 2, 40, 8);
	flush_all(fx->log);
	reopen(fx);
	assert_int_equal(br_partition_end_offset(part(fx, "torn", 0)), 10);
	/* a corrupted (bit-flipped) last batch is cut too */
	fd = open(path, O_RDWR);
	assert_int_equal(stat(path, &st), 0);
	uint8_t byte;
	assert_int_equal(pread(fd, &byte, 1, st.st_size - 2), 1);
	byte ^= 0xff;
	assert_int_equal(pwrite(fd, &byte, 1, st.st_size - 2), 1);
	close(fd);
	reopen(fx);
	assert_int_equal(br_partition_end_offset(part(fx, "torn", 0)), 8);
}

static void test_idempotence(void **state)
{
	fixture *fx = *state;
	assert_int_equal(br_log_create_topic(fx->log, "idem", 1, NULL, 0, NULL), 0);
	br_partition *p = part(fx, "idem", 0);
	br_append_result res;
	br_buf b1 = { 0 }, b2 = { 0 }, b3 = { 0 };
	make_batch(&b1, 3, 1, 77, 0, 0);
	make_batch(&b2, 3, 1, 77, 0, 3);
	make_batch(&b3, 3, 1, 77, 0, 9);
	br_buf copy = { 0 };
	br_buf_put(&copy, b1.p, b1.len);
	assert_int_equal(br_partition_append(p, b1.p, b1.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_OK);
	assert_int_equal(br_partition_append(p, b2.p, b2.len, 1, &res, NULL), 0);
	assert_int_equal(res.base_offset, 3);
	/* a retry of the first batch: same offset back, nothing written */
	assert_int_equal(br_partition_append(p, copy.p, copy.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_DUPLICATE);
	assert_int_equal(res.base_offset, 0);
	assert_int_equal(br_partition_end_offset(p), 6);
	assert_int_equal(br_partition_append(p, b3.p, b3.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_OUT_OF_ORDER);
	/* state survives a restart (rebuilt from batch headers) */
	flush_all(fx->log);
	reopen(fx);
	p = part(fx, "idem", 0);
	br_buf_reset(&copy);
	make_batch(&copy, 3, 1, 77, 0, 3);
	assert_int_equal(br_partition_append(p, copy.p, copy.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_DUPLICATE);
	assert_int_equal(res.base_offset, 3);
	/* an older epoch is fenced */
	br_buf_reset(&copy);
	make_batch(&copy, 1, 1, 77, 1, 0);
	assert_int_equal(br_partition_append(p, copy.p, copy.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_OK);
	br_buf_reset(&copy);
	make_batch(&copy, 1, 1, 77, 0, 6);
	assert_int_equal(br_partition_append(p, copy.p, copy.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_FENCED_EPOCH);
	br_buf_free(&b1);
	br_buf_free(&b2);
	br_buf_free(&b3);
	br_buf_free(&copy);
}

static void test_time_lookup(void **state)
{
	fixture *fx = *state;
	const char *kv[] = { "segment.bytes", "1024" };
	assert_int_equal(br_log_create_topic(fx->log, "times", 1, kv, 1, NULL), 0);
	br_partition *p = part(fx, "times", 0);
	/* 50 batches of 10 records, timestamps 1000*k + i: several segments */
	for (int k = 0; k < 50; k++)
		append_ok(p, 10, 1000 * k, 10 * k);
	flush_all(fx->log);
	int64_t off, ts;
	assert_int_equal(br_partition_offset_for_time(p, 0, &off, &ts, NULL), 0);
	assert_int_equal(off, 0);
	assert_int_equal(br_partition_offset_for_time(p, 25003, &off, &ts, NULL), 0);
	assert_int_equal(off, 253);
	assert_int_equal(ts, 25003);
	assert_int_equal(br_partition_offset_for_time(p, 25010, &off, &ts, NULL), 0);
	assert_int_equal(off, 260);
	assert_int_equal(br_partition_offset_for_time(p, 999999, &off, &ts, NULL), 0);
	assert_int_equal(off, -1);
	assert_int_equal(br_partition_max_timestamp(p, &off, &ts, NULL), 0);
	assert_int_equal(off, 499);
	assert_int_equal(ts, 49009);
	/* reads cross segment boundaries */
	br_buf out = { 0 };
	int64_t next = 0;
	while (next < 500) {
		br_buf_reset(&out);
		assert_int_equal(br_partition_read(p, next, 300, BR_READ_AT_LEAST_ONE, &out, NULL), 0);
		assert_true(out.len > 0);
		for (size_t pos = 0; pos < out.len;) {
			assert_int_equal((int64_t)br_rd_be64(out.p + pos), next);
			next += (int32_t)br_rd_be32(out.p + pos + 23) + 1;
			pos += br_rd_be32(out.p + pos + 8) + 12;
		}
	}
	br_buf_free(&out);
	/* a read plan (made here, executed anywhere) covers whole batches across
	 * segments, with their append times, and reads the same bytes */
	br_read_plan plan;
	assert_int_equal(br_partition_plan_read(p, 123, 1 << 30, &plan, NULL), 0);
	assert_int_equal(plan.from, 120);
	assert_int_equal(plan.to, 500);
	assert_true(plan.nspans > 1);
	assert_int_equal(plan.nbatches, 38);
	assert_int_equal(plan.batch_base[0], 120);
	assert_int_equal(plan.batch_append[0], 1000);
	br_buf pb = { 0 };
	assert_int_equal(br_read_plan_exec(&plan, &pb, NULL), 0);
	int64_t expect = 120;
	for (size_t pos = 0; pos < pb.len;) {
		assert_int_equal((int64_t)br_rd_be64(pb.p + pos), expect);
		assert_int_equal(br_crc32c(0, pb.p + pos + 21, br_rd_be32(pb.p + pos + 8) + 12 - 21), br_rd_be32(pb.p + pos + 17));
		expect += (int32_t)br_rd_be32(pb.p + pos + 23) + 1;
		pos += br_rd_be32(pb.p + pos + 8) + 12;
	}
	assert_int_equal(expect, 500);
	br_read_plan_free(&plan);
	br_buf_free(&pb);
	/* a small budget still returns one batch */
	assert_int_equal(br_partition_plan_read(p, 0, 1, &plan, NULL), 0);
	assert_int_equal(plan.nbatches, 1);
	assert_int_equal(plan.to, 10);
	br_read_plan_free(&plan);
	/* reopen: sealed segments load their indexes, the answers stay */
	reopen(fx);
	p = part(fx, "times", 0);
	assert_int_equal(br_partition_offset_for_time(p, 25003, &off, &ts, NULL), 0);
	assert_int_equal(off, 253);
	assert_int_equal(br_partition_end_offset(p), 500);
}

/* ListOffsets by time inside a compressed batch finds the exact record. */
static void test_time_lookup_compressed(void **state)
{
	fixture *fx = *state;
	assert_int_equal(br_log_create_topic(fx->log, "ztimes", 1, NULL, 0, NULL), 0);
	br_partition *p = part(fx, "ztimes", 0);
	br_rb_opts o;
	br_rb_opts_default(&o);
	o.codec = BR_CODEC_ZSTD;
	br_rb_builder bb;
	br_rb_builder_init(&bb, &o);
	for (int i = 0; i < 100; i++)
		br_rb_add(&bb, 5000 + 10 * i, NULL, -1, "value", 5, NULL, 0);
	br_buf b = { 0 };
	assert_int_equal(br_rb_finish(&bb, &b, NULL), 0);
	br_rb_builder_free(&bb);
	br_append_result res;
	assert_int_equal(br_partition_append(p, b.p, b.len, 1, &res, NULL), 0);
	assert_int_equal(res.status, BR_APPEND_OK);
	br_buf_free(&b);
	flush_all(fx->log);
	int64_t off, ts;
	assert_int_equal(br_partition_offset_for_time(p, 5421, &off, &ts, NULL), 0);
	assert_int_equal(off, 43);
	assert_int_equal(ts, 5430);
}

static void test_retention(void **state)
{
	fixture *fx = *state;
	const char *kv[] = { "segment.bytes", "1024", "retention.bytes", "2048" };
	assert_int_equal(br_log_create_topic(fx->log, "ret", 1, kv, 2, NULL), 0);
	br_partition *p = part(fx, "ret", 0);
	for (int k = 0; k < 40; k++)
		append_ok(p, 10, k, 10 * k);
	flush_all(fx->log);
	assert_true(br_log_enforce_retention(fx->log, 2000) > 0);
	int64_t start = br_partition_start_offset(p);
	assert_true(start > 0);
	assert_int_equal(br_partition_end_offset(p), 400);
	br_buf out = { 0 };
	assert_int_equal(br_partition_read(p, 0, 100, 0, &out, NULL), BR_ENOTFOUND);
	assert_int_equal(br_partition_read(p, start, 100000, 0, &out, NULL), 0);
	assert_int_equal((int64_t)br_rd_be64(out.p), start);
	br_buf_free(&out);
	/* retention by time: everything old goes, the end offset stays */
	const char *kv2[] = { "retention.ms", "10" };
	assert_int_equal(br_log_set_configs(fx->log, "ret", kv2, 1, true, NULL), 0);
	br_log_enforce_retention(fx->log, 1000000);
	assert_int_equal(br_partition_start_offset(p), 400);
	assert_int_equal(br_partition_end_offset(p), 400);
	reopen(fx);
	p = part(fx, "ret", 0);
	assert_int_equal(br_partition_start_offset(p), 400);
	append_ok(p, 1, 1, 400);
}

/* Deleted segments lose their names at once and their blocks a step (4 MiB) per
 * trim round, so the disk never gets one huge discard (log.c: gentle deletion). */
static void test_gentle_delete(void **state)
{
	fixture *fx = *state;
	const char *kv[] = { "segment.bytes", "5242880" };
	assert_int_equal(br_log_create_topic(fx->log, "gd", 1, kv, 1, NULL), 0);
	br_partition *p = part(fx, "gd", 0);
	for (int k = 0; k < 120; k++)
		append_ok(p, 5000, k, 5000 * k);
	flush_all(fx->log);
	assert_null(br_log_trim_begin(fx->log)); /* nothing deleted yet */
	const char *kv2[] = { "retention.ms", "10" };
	assert_int_equal(br_log_set_configs(fx->log, "gd", kv2, 1, true, NULL), 0);
	assert_true(br_log_enforce_retention(fx->log, 1000000) > 0);
	char path[128];
	snprintf(path, sizeof path, "%s/gd/0/%020d.log", fx->dir, 0);
	struct stat st;
	assert_int_equal(stat(path, &st), -1); /* the name went at once */
	int64_t pending = br_log_trim_pending(fx->log);
	assert_true(pending > ((int64_t)4 << 20));
	int rounds = 0;
	br_trim *t;
	while ((t = br_log_trim_begin(fx->log))) {
		assert_null(br_log_trim_begin(fx->log)); /* one round at a time */
		br_log_trim_run(t);
		br_log_trim_end(fx->log, t);
		int64_t left = br_log_trim_pending(fx->log);
		assert_true(left < pending && pending - left <= ((int64_t)4 << 20));
		pending = left;
		rounds++;
	}
	assert_int_equal(pending, 0);
	assert_true(rounds >= 2);
	/* deleting a topic hands its segments to the same rounds */
	append_ok(p, 5000, 0, 600000);
	assert_int_equal(br_log_delete_topic(fx->log, "gd", NULL), 0);
	assert_true(br_log_trim_pending(fx->log) > 0);
	while ((t = br_log_trim_begin(fx->log))) {
		br_log_trim_run(t);
		br_log_trim_end(fx->log, t);
	}
	assert_int_equal(br_log_trim_pending(fx->log), 0);
}

static void test_topic_admin(void **state)
{
	fixture *fx = *state;
	br_err err = { 0 };
	assert_int_equal(br_log_create_topic(fx->log, "..", 1, NULL, 0, &err), BR_EINVAL);
	assert_int_equal(br_log_create_topic(fx->log, "a/b", 1, NULL, 0, &err), BR_EINVAL);
	assert_int_equal(br_log_create_topic(fx->log, "../x", 1, NULL, 0, &err), BR_EINVAL);
	char longname[300];
	memset(longname, 'a', 250);
	longname[250] = 0;
	assert_int_equal(br_log_create_topic(fx->log, longname, 1, NULL, 0, &err), BR_EINVAL);
	longname[249] = 0;
	assert_int_equal(br_log_create_topic(fx->log, longname, 1, NULL, 0, &err), 0);
	const char *bad[] = { "cleanup.policy", "compact" };
	assert_int_equal(br_log_create_topic(fx->log, "c", 1, bad, 1, &err), BR_EINVAL);
	const char *unknown[] = { "no.such.config", "1" };
	assert_int_equal(br_log_create_topic(fx->log, "c", 1, unknown, 1, &err), BR_EINVAL);
	const char *good[] = { "message.timestamp.type", "LogAppendTime", "braid.lake.mode", "json" };
	assert_int_equal(br_log_create_topic(fx->log, "c", 1, good, 2, &err), 0);
	assert_int_equal(br_log_create_topic(fx->log, "c", 1, NULL, 0, &err), BR_EEXIST);
	assert_int_equal(br_log_set_partitions(fx->log, "c", 4, &err), 0);
	assert_int_equal(br_log_set_partitions(fx->log, "c", 2, &err), BR_EINVAL);
	/* LogAppendTime stamps the batch */
	br_partition *p = part(fx, "c", 3);
	br_buf b = { 0 };
	make_batch(&b, 2, 5, -1, -1, -1);
	br_append_result res;
	assert_int_equal(br_partition_append(p, b.p, b.len, 424242, &res, NULL), 0);
	assert_int_equal(res.log_append_time, 424242);
	assert_int_equal((int64_t)br_rd_be64(b.p + 35), 424242);
	assert_int_equal(br_crc32c(0, b.p + 21, b.len - 21), br_rd_be32(b.p + 17));
	br_buf_free(&b);
	reopen(fx);
	br_topic *t = br_log_topic(fx->log, "c", 1);
	assert_int_equal(br_topic_partition_count(t), 4);
	bool ov;
	assert_string_equal(br_topic_config(t, "message.timestamp.type", &ov), "LogAppendTime");
	assert_true(ov);
	assert_string_equal(br_topic_config(t, "braid.lake.mode", &ov), "json");
	assert_string_equal(br_topic_config(t, "retention.ms", &ov), "604800000");
	assert_false(ov);
	/* replace-all config semantics */
	const char *kv[] = { "retention.ms", "1000" };
	assert_int_equal(br_log_set_configs(fx->log, "c", kv, 1, false, &err), 0);
	assert_string_equal(br_topic_config(t, "message.timestamp.type", &ov), "CreateTime");
	assert_int_equal(br_log_delete_topic(fx->log, "c", &err), 0);
	assert_null(br_log_topic(fx->log, "c", 1));
	assert_int_equal(br_log_delete_topic(fx->log, "c", &err), BR_ENOTFOUND);
	reopen(fx);
	assert_null(br_log_topic(fx->log, "c", 1));
	assert_int_equal(br_log_create_topic(fx->log, "c", 1, NULL, 0, &err), 0);
	assert_int_equal(br_partition_end_offset(part(fx, "c", 0)), 0);
}

static void test_producer_ids(void **state)
{
	fixture *fx = *state;
	int64_t a, b2;
	assert_int_equal(br_log_new_producer_id(fx->log, &a, NULL), 0);
	assert_int_equal(br_log_new_producer_id(fx->log, &b2, NULL), 0);
	assert_true(b2 > a);
	reopen(fx);
	int64_t c;
	assert_int_equal(br_log_new_producer_id(fx->log, &c, NULL), 0);
	assert_true(c > b2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_time_lookup_compressed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gentle_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_producer_ids, setup, teardown),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
