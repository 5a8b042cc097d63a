/* test_records.c — unit tests for src/kafka/records: the RecordBatch v2 encoder
 * against hand-laid bytes, round trips with every codec, LogAppendTime, and
 * malformed batches (CRC, truncation, lying lengths and counts, bombs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/crc32c.h"
#include "base/util.h"
#include "log/records.h"

#define MAXU (16u << 20)

/* One record, key "k", value "v", header h=x, CreateTime 1000, laid out by hand
 * from the protocol guide. */
static void test_known_bytes(void **state)
{
	(void)state;
	uint8_t want[] = {
		0, 0, 0, 0, 0, 0, 0, 5,       /* baseOffset 5 */
		0, 0, 0, 0,                   /* batchLength, patched below */
		0xff, 0xff, 0xff, 0xff,       /* partitionLeaderEpoch -1 */
		2,                            /* magic */
		0, 0, 0, 0,                   /* crc, patched below */
		0, 0,                         /* attributes */
		0, 0, 0, 0,                   /* lastOffsetDelta */
		0, 0, 0, 0, 0, 0, 0x03, 0xe8, /* baseTimestamp 1000 */
		0, 0, 0, 0, 0, 0, 0x03, 0xe8, /* maxTimestamp 1000 */
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* producerId -1 */
		0xff, 0xff,                   /* producerEpoch -1 */
		0xff, 0xff, 0xff, 0xff,       /* baseSequence -1 */
		0, 0, 0, 1,                   /* record count */
		/* record: length 12 (zig-zag 24), attributes, tsDelta 0, offsetDelta 0,
		 * key len 1 "k", value len 1 "v", 1 header: key len 1 "h", value len 1 "x" */
		24, 0, 0, 0, 2, 'k', 2, 'v', 2, 2, 'h', 2, 'x',
	};
	br_wr_be32(want + 8, sizeof want - 12);
	br_wr_be32(want + 17, br_crc32c(0, want + 21, sizeof want - 21));

	br_rb_opts o;
	br_rb_opts_default(&o);
	o.base_offset = 5;
	br_rb_builder b;
	br_rb_builder_init(&b, &o);
	br_rec_header h = { (const uint8_t *)"h", 1, (const uint8_t *)"x", 1 };
	br_rb_add(&b, 1000, "k", 1, "v", 1, &h, 1);
	br_buf out = { 0 };
	br_err err = { 0 };
	assert_int_equal(br_rb_finish(&b, &out, &err), 0);
	assert_int_equal(out.len, sizeof want);
	assert_memory_equal(out.p, want, sizeof want);

	br_rb_iter it;
	br_rb_iter_init(&it, want, sizeof want, MAXU, 0);
	br_record r;
	assert_int_equal(br_rb_iter_next(&it, &r, &err), 1);
	assert_int_equal(r.offset, 5);
	assert_int_equal(r.timestamp, 1000);
	assert_int_equal(r.key_len, 1);
	assert_memory_equal(r.key, "k", 1);
	assert_memory_equal(r.value, "v", 1);
	assert_int_equal(r.header_count, 1);
	size_t pos = 0;
	br_rec_header got;
	assert_true(br_record_header_next(&r, &pos, &got));
	assert_memory_equal(got.key, "h", 1);
	assert_memory_equal(got.value, "x", 1);
	assert_false(br_record_header_next(&r, &pos, &got));
	assert_int_equal(it.hdr.producer_id, -1);
	assert_int_equal(br_rb_iter_next(&it, &r, &err), 0);
	br_rb_iter_free(&it);
	br_rb_builder_free(&b);
	br_buf_free(&out);
}

/* Builds `nbatches` batches of `per` records each with the codec into out. */
static void build(br_buf *out, enum br_codec codec, int nbatches, int per, int64_t base)
{
	br_rb_opts o;
	br_rb_opts_default(&o);
	o.codec = codec;
	o.base_offset = base;
	o.producer_id = 42;
	o.producer_epoch = 1;
	o.base_sequence = 0;
	br_rb_builder b;
	br_rb_builder_init(&b, &o);
	br_err err = { 0 };
	char key[32], val[200];
	for (int i = 0; i < nbatches * per; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		int vlen = snprintf(val, sizeof val, "{\"n\":%d,\"pad\":\"%0*d\"}", i, i % 100, 0);
		br_rec_header hs[2] = { { (const uint8_t *)"trace", 5, (const uint8_t *)key, (int32_t)strlen(key) },
			                { (const uint8_t *)"nil", 3, NULL, -1 } };
		/* timestamps go backwards now and then: deltas may be negative */
		int64_t ts = 1700000000000 + (i % 7 == 3 ? -50 : i);
		br_rb_add(&b, ts, i % 5 == 0 ? NULL : key, (int32_t)strlen(key), i % 11 == 0 ? NULL : val, vlen,
		             hs, i % 3);
		if ((i + 1) % per == 0)
			assert_int_equal(br_rb_finish(&b, out, &err), 0);
	}
	br_rb_builder_free(&b);
}

static void check_all(const br_buf *in, enum br_codec codec, int n, int64_t base)
{
	br_rb_iter it;
	br_rb_iter_init(&it, in->p, in->len, MAXU, 0);
	br_record r;
	br_err err = { 0 };
	char key[32], val[200];
	int i = 0, rc;
	while ((rc = br_rb_iter_next(&it, &r, &err)) == 1) {
		snprintf(key, sizeof key, "key-%d", i);
		int vlen = snprintf(val, sizeof val, "{\"n\":%d,\"pad\":\"%0*d\"}", i, i % 100, 0);
		assert_int_equal(r.offset, base + i);
		assert_int_equal(r.timestamp, 1700000000000 + (i % 7 == 3 ? -50 : i));
		assert_int_equal(br_rb_codec(r.batch), codec);
		if (i % 5 == 0) {
			assert_null(r.key);
			assert_int_equal(r.key_len, -1);
		} else {
			assert_int_equal(r.key_len, strlen(key));
			assert_memory_equal(r.key, key, strlen(key));
		}
		if (i % 11 == 0) {
			assert_int_equal(r.value_len, -1);
		} else {
			assert_int_equal(r.value_len, vlen);
			assert_memory_equal(r.value, val, (size_t)vlen);
		}
		assert_int_equal(r.header_count, i % 3);
		size_t pos = 0;
		br_rec_header h;
		int nh = 0;
		while (br_record_header_next(&r, &pos, &h)) {
			if (nh == 0) {
				assert_memory_equal(h.key, "trace", 5);
				assert_memory_equal(h.value, key, strlen(key));
			} else {
				assert_memory_equal(h.key, "nil", 3);
				assert_int_equal(h.value_len, -1);
				assert_null(h.value);
			}
			nh++;
		}
		assert_int_equal(nh, i % 3);
		i++;
	}
	if (rc)
		fail_msg("%s: %s", br_codec_name(codec), err.msg);
	assert_int_equal(i, n);
	br_rb_iter_free(&it);
}

static void test_roundtrip_codecs(void **state)
{
	(void)state;
	for (int c = BR_CODEC_NONE; c <= BR_CODEC_ZSTD; c++) {
		br_buf b = { 0 };
		build(&b, (enum br_codec)c, 7, 300, 1000);
		check_all(&b, (enum br_codec)c, 7 * 300, 1000);
		int64_t nr, nb;
		br_err err = { 0 };
		assert_int_equal(br_rb_validate(b.p, b.len, MAXU, 0, &nr, &nb, &err), 0);
		assert_int_equal(nr, 2100);
		assert_int_equal(nb, 7);
		/* sequences advance per batch */
		br_rb_hdr h;
		size_t first = br_rd_be32(b.p + 8) + 12;
		assert_int_equal(br_rb_parse_header(b.p + first, b.len - first, first, &h, &err), 0);
		assert_int_equal(h.base_sequence, 300);
		assert_int_equal(h.base_offset, 1300);
		assert_int_equal(h.last_offset_delta, 299);
		br_buf_free(&b);
	}
}

static void test_log_append_time(void **state)
{
	(void)state;
	br_buf b = { 0 };
	build(&b, BR_CODEC_LZ4, 1, 10, 0);
	br_rb_set_base_offset(b.p, 77);
	br_rb_set_log_append_time(b.p, b.len, 1234);
	br_rb_iter it;
	br_rb_iter_init(&it, b.p, b.len, MAXU, 0);
	br_record r;
	br_err err = { 0 };
	int n = 0, rc;
	while ((rc = br_rb_iter_next(&it, &r, &err)) == 1) {
		assert_int_equal(r.timestamp, 1234);
		assert_int_equal(r.offset, 77 + n);
		assert_true(br_rb_log_append_time(r.batch));
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 10);
	br_rb_iter_free(&it);
	br_buf_free(&b);
}

static int decode_all(const uint8_t *p, size_t n, int flags, int64_t *count, br_err *err)
{
	br_rb_iter it;
	br_rb_iter_init(&it, p, n, MAXU, flags);
	br_record r;
	int rc;
	*count = 0;
	while ((rc = br_rb_iter_next(&it, &r, err)) == 1)
		++*count;
	/* a dead iterator stays dead */
	if (rc < 0)
		assert_int_equal(br_rb_iter_next(&it, &r, NULL), rc);
	br_rb_iter_free(&it);
	return rc;
}

static void test_bad_crc_and_magic(void **state)
{
	(void)state;
	br_buf b = { 0 };
	build(&b, BR_CODEC_NONE, 2, 5, 100);
	size_t second = br_rd_be32(b.p + 8) + 12;
	br_err err = { 0 };
	int64_t n;
	b.p[second + 17] ^= 1; /* the second batch's CRC */
	assert_int_equal(decode_all(b.p, b.len, 0, &n, &err), BR_ECORRUPT);
	assert_int_equal(n, 5); /* the first batch was fine */
	assert_non_null(strstr(err.msg, "offset 105"));
	assert_non_null(strstr(err.msg, "CRC"));
	char where[32];
	snprintf(where, sizeof where, "byte %zu", second);
	assert_non_null(strstr(err.msg, where));
	/* skipping the CRC check decodes it */
	assert_int_equal(decode_all(b.p, b.len, BR_RB_SKIP_CRC, &n, &err), 0);
	assert_int_equal(n, 10);
	b.p[second + 17] ^= 1;
	/* a value byte flipped: the CRC catches it */
	b.p[b.len - 3] ^= 0x40;
	assert_int_equal(decode_all(b.p, b.len, 0, &n, &err), BR_ECORRUPT);
	b.p[b.len - 3] ^= 0x40;
	/* magic 1 (old message set) is refused as unsupported, magic 7 as corrupt */
	b.p[16] = 1;
	assert_int_equal(decode_all(b.p, b.len, 0, &n, &err), BR_EUNSUPPORTED);
	assert_non_null(strstr(err.msg, "magic 1"));
	b.p[16] = 7;
	assert_int_equal(decode_all(b.p, b.len, 0, &n, &err), BR_ECORRUPT);
	br_buf_free(&b);
}

static void test_truncation(void **state)
{
	(void)state;
	for (int c = BR_CODEC_NONE; c <= BR_CODEC_ZSTD; c++) {
		br_buf b = { 0 };
		build(&b, (enum br_codec)c, 3, 20, 0);
		size_t first = br_rd_be32(b.p + 8) + 12;
		size_t second = first + br_rd_be32(b.p + first + 8) + 12;
		br_err err = { 0 };
		for (size_t cut = 1; cut < b.len; cut++) {
			int64_t n;
			int rc = decode_all(b.p, cut, 0, &n, &err);
			if (cut == first || cut == second)
				assert_int_equal(rc, 0); /* ends on a batch boundary: complete batches */
			else
				assert_true(rc < 0);
			/* with PARTIAL_TAIL, a cut ends the iteration after the complete batches */
			assert_int_equal(decode_all(b.p, cut, BR_RB_PARTIAL_TAIL, &n, &err), 0);
			assert_int_equal(n, cut < first ? 0 : cut < second ? 20 : 40);
		}
		br_buf_free(&b);
	}
}

/* Re-seals a batch after an edit so the test reaches the record decoder. */
static void reseal(uint8_t *p) { br_wr_be32(p + 17, br_rb_compute_crc(p, br_rd_be32(p + 8) + 12)); }

static void test_lying_fields(void **state)
{
	(void)state;
	br_buf b = { 0 };
	build(&b, BR_CODEC_NONE, 1, 4, 0);
	br_err err = { 0 };
	int64_t n;
	uint8_t *p = b.p;
	/* batchLength larger than the input, negative, and too small for a header */
	uint32_t len = br_rd_be32(p + 8);
	br_wr_be32(p + 8, len + 1);
	assert_int_equal(decode_all(p, b.len, 0, &n, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "batchLength"));
	br_wr_be32(p + 8, 0xffffffff);
	assert_int_equal(decode_all(p, b.len, 0, &n, &err), BR_ECORRUPT);
	br_wr_be32(p + 8, 20);
	assert_int_equal(decode_all(p, b.len, 0, &n, &err), BR_ECORRUPT);
	br_wr_be32(p + 8, len);
	/* record count: more than present, fewer than present, huge, negative */
	int32_t counts[] = { 5, 3, 0x7fffffff, -1, 0 };
	for (size_t i = 0; i < BR_ARRAY_LEN(counts); i++) {
		br_wr_be32(p + 57, (uint32_t)counts[i]);
		if (counts[i] > 3)
			br_wr_be32(p + 23, (uint32_t)counts[i]); /* keep lastOffsetDelta plausible */
		reseal(p);
		assert_int_equal(decode_all(p, b.len, 0, &n, &err), BR_ECORRUPT);
		br_wr_be32(p + 23, 3);
	}
	br_wr_be32(p + 57, 4);
	reseal(p);
	assert_int_equal(decode_all(p, b.len, 0, &n, &err), 0);
	assert_int_equal(n, 4);
	/* lastOffsetDelta below the records' deltas */
	br_wr_be32(p + 23, 2);
	reseal(p);
	assert_int_equal(decode_all(p, b.len, 0, &n, &err), BR_ECORRUPT);
	br_wr_be32(p + 23, 3);
	/* unknown codec 6 */
	p[22] |= 6;
	reseal(p);
	assert_int_equal(decode_all(p, b.len, 0, &n, &err), BR_EUNSUPPORTED);
	p[22] &= (uint8_t)~6;
	reseal(p);
	br_buf_free(&b);

	/* a record whose offsetDelta repeats: two records both with delta 0 */
	br_rb_opts o;
	br_rb_opts_default(&o);
	br_rb_builder bb;
	br_rb_builder_init(&bb, &o);
	br_buf one = { 0 };
	br_rb_add(&bb, 1, "a", 1, "b", 1, NULL, 0);
	br_rb_add(&bb, 1, "a", 1, "b", 1, NULL, 0);
	assert_int_equal(br_rb_finish(&bb, &one, &err), 0);
	/* record 0 is [len][attr][ts][off=0]...: record 1's offsetDelta byte is at
	 * 61 + (1 + rec0 len) + 3 */
	size_t r1 = 61 + 1 + (size_t)(one.p[61] >> 1);
	assert_int_equal(one.p[r1 + 3], 2); /* zig-zag 1 */
	one.p[r1 + 3] = 0;
	reseal(one.p);
	assert_int_equal(decode_all(one.p, one.len, 0, &n, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "offsetDelta"));
	/* a key length lying past the record */
	one.p[r1 + 3] = 2;
	one.p[61 + 4] = 100;
	reseal(one.p);
	assert_int_equal(decode_all(one.p, one.len, 0, &n, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "record 0"));
	br_buf_free(&one);
	br_rb_builder_free(&bb);
}

static void test_bomb(void **state)
{
	(void)state;
	/* a zstd batch whose records section expands to 64 MiB of zeros */
	size_t big = (size_t)64 << 20;
	uint8_t *zeros = calloc(1, big);
	br_buf b = { 0 };
	br_err err = { 0 };
	br_buf_grow(&b, 61);
	assert_int_equal(br_compress(BR_CODEC_ZSTD, zeros, big, &b, 0, &err), 0);
	free(zeros);
	uint8_t *p = b.p;
	br_wr_be32(p + 8, (uint32_t)(b.len - 12));
	p[16] = 2;
	br_wr_be16(p + 21, BR_CODEC_ZSTD);
	br_wr_be32(p + 23, 0);
	br_wr_be32(p + 57, 1);
	reseal(p);
	int64_t n;
	assert_int_equal(decode_all(p, b.len, 0, &n, &err), BR_ELIMIT);
	assert_non_null(strstr(err.msg, "record batch at offset 0"));
	br_buf_free(&b);
}

/* Every single-byte change of a valid batch, with the CRC check off so the record
 * decoder sees it: always terminates, never crashes (ASan/UBSan watch). */
static void test_flip_every_byte(void **state)
{
	(void)state;
	for (int c = BR_CODEC_NONE; c <= BR_CODEC_ZSTD; c += 2) {
		br_buf b = { 0 };
		build(&b, (enum br_codec)c, 2, 6, 0);
		br_err err = { 0 };
		for (size_t i = 0; i < b.len; i++) {
			uint8_t vals[] = { 0x00, 0xff, 0x80, (uint8_t)(b.p[i] ^ 1) };
			for (size_t v = 0; v < BR_ARRAY_LEN(vals); v++) {
				uint8_t save = b.p[i];
				b.p[i] = vals[v];
				int64_t n;
				int rc = decode_all(b.p, b.len, BR_RB_SKIP_CRC, &n, &err);
				assert_true(rc <= 0);
				assert_true(n <= 12);
				b.p[i] = save;
			}
		}
		br_buf_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_bytes),
		cmocka_unit_test(test_roundtrip_codecs),
		cmocka_unit_test(test_log_append_time),
		cmocka_unit_test(test_bad_crc_and_magic),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_lying_fields),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_flip_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
