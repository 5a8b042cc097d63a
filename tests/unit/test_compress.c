/* test_compress.c — unit tests for src/base/compress: round trips of every codec,
 * bytes made by the reference tools (gzip, lz4, zstd CLIs; xerial framing by
 * hand), truncation, corruption and decompression bombs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include <zstd.h>

#include "base/compress.h"
#include "base/util.h"

static const char text[] = "hello hello hello braid";

/* printf 'hello hello hello braid' | gzip -9 -n */
static const uint8_t gz_known[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48,
	                            0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x22, 0x93, 0x8a, 0x12, 0x33, 0x53,
	                            0x00, 0xfa, 0x98, 0x3e, 0xe8, 0x17, 0x00, 0x00, 0x00 };
/* lz4 -c (frame with content checksum) */
static const uint8_t lz4_known[] = { 0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x0f, 0x00, 0x00, 0x00, 0x68,
	                             0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x06, 0x00, 0x50, 0x62, 0x72, 0x61,
	                             0x69, 0x64, 0x00, 0x00, 0x00, 0x00, 0x4a, 0x3b, 0xfc, 0x9e };
/* zstd -c from a pipe: the frame has no content size */
static const uint8_t zstd_known[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x8d, 0x00, 0x00, 0x58, 0x68, 0x65,
	                              0x6c, 0x6c, 0x6f, 0x20, 0x62, 0x72, 0x61, 0x69, 0x64, 0x01, 0x00, 0xe1,
	                              0x4a, 0x11, 0x06, 0xcb, 0xd0, 0x72 };

static void check_decodes(enum br_codec c, const void *in, size_t n, const char *want)
{
	br_buf out = { 0 };
	br_err err = { 0 };
	int rc = br_decompress(c, in, n, 1 << 20, &out, &err);
	if (rc)
		fail_msg("%s: %s", br_codec_name(c), err.msg);
	assert_int_equal(out.len, strlen(want));
	assert_memory_equal(out.p, want, out.len);
	br_buf_free(&out);
}

static void test_known_bytes(void **state)
{
	(void)state;
	check_decodes(BR_CODEC_GZIP, gz_known, sizeof gz_known, text);
	check_decodes(BR_CODEC_LZ4, lz4_known, sizeof lz4_known, text);
	check_decodes(BR_CODEC_ZSTD, zstd_known, sizeof zstd_known, text);
	/* raw snappy of "hello": varint length 5, literal tag (5-1)<<2, bytes */
	static const uint8_t raw[] = { 0x05, 0x10, 'h', 'e', 'l', 'l', 'o' };
	check_decodes(BR_CODEC_SNAPPY, raw, sizeof raw, "hello");
	/* xerial: magic, version 1, compat 1, then two blocks of [be32 len][raw] */
	static const uint8_t xer[] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
		                       0, 0, 0, 7, 0x05, 0x10, 'h', 'e', 'l', 'l', 'o',
		                       0, 0, 0, 4, 0x02, 0x04, '!', '!' };
	check_decodes(BR_CODEC_SNAPPY, xer, sizeof xer, "hello!!");
	/* concatenated gzip members decode as one stream */
	uint8_t two[2 * sizeof gz_known];
	memcpy(two, gz_known, sizeof gz_known);
	memcpy(two + sizeof gz_known, gz_known, sizeof gz_known);
	char want[64];
	snprintf(want, sizeof want, "%s%s", text, text);
	check_decodes(BR_CODEC_GZIP, two, sizeof two, want);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	/* half-compressible: runs of repeated words with random bytes in between */
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (i / 64) % 3 == 0 ? (uint8_t)(seed >> 16) : (uint8_t)("braid log lake "[i % 15]);
	}
}

static void test_roundtrip_all(void **state)
{
	(void)state;
	size_t sizes[] = { 0, 1, 100, 65535, 65536, 65537, 300000, 2000000 };
	for (int c = BR_CODEC_NONE; c <= BR_CODEC_ZSTD; c++) {
		for (size_t i = 0; i < BR_ARRAY_LEN(sizes); i++) {
			size_t n = sizes[i];
			uint8_t *in = malloc(n + 1);
			fill(in, n, (unsigned)(n + c));
			br_buf z = { 0 }, out = { 0 };
			br_err err = { 0 };
			br_buf_put(&z, "pfx", 3); /* appends, never overwrites */
			assert_int_equal(br_compress((enum br_codec)c, in, n, &z, 0, &err), 0);
			br_buf_put(&out, "x", 1);
			int rc = br_decompress((enum br_codec)c, z.p + 3, z.len - 3, n, &out, &err);
			if (rc)
				fail_msg("%s n=%zu: %s", br_codec_name(c), n, err.msg);
			assert_int_equal(out.len, n + 1);
			assert_memory_equal(out.p + 1, in, n);
			/* one byte less than needed is a limit error, and out is untouched */
			if (n > 0) {
				rc = br_decompress((enum br_codec)c, z.p + 3, z.len - 3, n - 1, &out, &err);
				assert_int_equal(rc, BR_ELIMIT);
				assert_int_equal(out.len, n + 1);
			}
			free(in);
			br_buf_free(&z);
			br_buf_free(&out);
		}
	}
}

static void test_levels_and_raw(void **state)
{
	(void)state;
	uint8_t in[10000];
	fill(in, sizeof in, 7);
	br_err err = { 0 };
	int levels[] = { 1, 9 };
	for (size_t i = 0; i < 2; i++) {
		br_buf z = { 0 }, out = { 0 };
		assert_int_equal(br_compress(BR_CODEC_GZIP, in, sizeof in, &z, levels[i], &err), 0);
		assert_int_equal(br_decompress(BR_CODEC_GZIP, z.p, z.len, sizeof in, &out, &err), 0);
		assert_memory_equal(out.p, in, sizeof in);
		br_buf_reset(&z);
		br_buf_reset(&out);
		assert_int_equal(br_compress(BR_CODEC_ZSTD, in, sizeof in, &z, levels[i], &err), 0);
		assert_int_equal(br_decompress(BR_CODEC_ZSTD, z.p, z.len, sizeof in, &out, &err), 0);
		assert_memory_equal(out.p, in, sizeof in);
		br_buf_free(&z);
		br_buf_free(&out);
	}
	br_buf z = { 0 }, out = { 0 };
	assert_int_equal(br_snappy_compress_raw(in, sizeof in, &z, &err), 0);
	assert_int_equal(br_snappy_decompress_raw(z.p, z.len, sizeof in, &out, &err), 0);
	assert_memory_equal(out.p, in, sizeof in);
	/* raw snappy also decodes through the Kafka codec (librdkafka writes raw) */
	br_buf_reset(&out);
	assert_int_equal(br_decompress(BR_CODEC_SNAPPY, z.p, z.len, sizeof in, &out, &err), 0);
	assert_int_equal(out.len, sizeof in);
	br_buf_reset(&z);
	br_buf_reset(&out);
	assert_int_equal(br_lz4_compress_block(in, sizeof in, &z, &err), 0);
	assert_int_equal(br_lz4_decompress_block(z.p, z.len, sizeof in, &out, &err), 0);
	assert_memory_equal(out.p, in, sizeof in);
	br_buf_reset(&out);
	assert_int_equal(br_lz4_decompress_block(z.p, z.len, sizeof in - 1, &out, &err), BR_ECORRUPT);
	assert_int_equal(out.len, 0);
	br_buf_free(&z);
	br_buf_free(&out);
	/* the xerial framing starts with its magic */
	assert_int_equal(br_compress(BR_CODEC_SNAPPY, in, sizeof in, &z, 0, &err), 0);
	assert_memory_equal(z.p, "\x82SNAPPY\0", 8);
	br_buf_free(&z);
	enum br_codec c;
	assert_int_equal(br_codec_parse("zstd", &c, &err), 0);
	assert_int_equal(c, BR_CODEC_ZSTD);
	assert_int_equal(br_codec_parse("brotli", &c, &err), BR_EINVAL);
}

static void test_truncated_and_corrupt(void **state)
{
	(void)state;
	uint8_t in[50000];
	fill(in, sizeof in, 3);
	for (int c = BR_CODEC_GZIP; c <= BR_CODEC_ZSTD; c++) {
		br_buf z = { 0 }, out = { 0 };
		br_err err = { 0 };
		assert_int_equal(br_compress((enum br_codec)c, in, sizeof in, &z, 0, &err), 0);
		/* every cut of the stream fails cleanly (never a short success) */
		for (size_t cut = 0; cut < z.len; cut += 1 + cut / 3) {
			int rc = br_decompress((enum br_codec)c, z.p, cut, 1 << 20, &out, &err);
			if (rc == 0)
				fail_msg("%s: truncated to %zu of %zu bytes decoded without error", br_codec_name(c), cut,
				         z.len);
			assert_int_equal(out.len, 0);
		}
		/* flipped bytes: an error or (for formats without checksums) some output,
		 * but never a crash; ASan checks the rest */
		for (size_t i = 0; i < z.len; i += 1 + z.len / 200) {
			z.p[i] ^= 0x5a;
			br_buf_reset(&out);
			(void)br_decompress((enum br_codec)c, z.p, z.len, 1 << 20, &out, &err);
			z.p[i] ^= 0x5a;
		}
		/* trailing garbage */
		br_buf_put(&z, "junkjunk", 8);
		br_buf_reset(&out);
		assert_int_not_equal(br_decompress((enum br_codec)c, z.p, z.len, 1 << 20, &out, &err), 0);
		br_buf_free(&z);
		br_buf_free(&out);
	}
	/* xerial with a lying block length */
	static const uint8_t xer[] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
		                       0x7f, 0xff, 0xff, 0xff, 0x05, 0x10, 'h' };
	br_buf out = { 0 };
	br_err err = { 0 };
	assert_int_equal(br_decompress(BR_CODEC_SNAPPY, xer, sizeof xer, 100, &out, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "claims"));
	br_buf_free(&out);
}

static void test_bomb(void **state)
{
	(void)state;
	/* 64 MiB of zeros compresses to a few KiB: with a 1 MiB limit every codec must
	 * stop with BR_ELIMIT, without allocating the whole thing */
	size_t n = (size_t)64 << 20;
	uint8_t *zeros = calloc(1, n);
	for (int c = BR_CODEC_GZIP; c <= BR_CODEC_ZSTD; c++) {
		br_buf z = { 0 }, out = { 0 };
		br_err err = { 0 };
		assert_int_equal(br_compress((enum br_codec)c, zeros, n, &z, 0, &err), 0);
		assert_true(z.len < n / 20);
		int rc = br_decompress((enum br_codec)c, z.p, z.len, 1 << 20, &out, &err);
		assert_int_equal(rc, BR_ELIMIT);
		assert_non_null(strstr(err.msg, "limit"));
		assert_int_equal(out.len, 0);
		assert_true(out.cap <= (size_t)4 << 20);
		br_buf_free(&z);
		br_buf_free(&out);
	}
	free(zeros);
	/* a raw snappy preamble claiming 2^31 bytes is refused before allocating */
	static const uint8_t lie[] = { 0x80, 0x80, 0x80, 0x80, 0x08, 0x00 };
	br_buf out = { 0 };
	br_err err = { 0 };
	assert_int_equal(br_decompress(BR_CODEC_SNAPPY, lie, sizeof lie, 1 << 20, &out, &err), BR_ELIMIT);
	br_buf_free(&out);
}

/* A zstd stream without content size whose header asks for a 128 MiB window: a
 * small bound refuses it before the decoder allocates the window; a large bound
 * accepts it. */
static void test_zstd_window(void **state)
{
	(void)state;
	uint8_t in[65536];
	fill(in, sizeof in, 11);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 27);
	uint8_t z[80000];
	ZSTD_outBuffer ob = { z, sizeof z, 0 };
	ZSTD_inBuffer ib = { in, sizeof in, 0 };
	/* streaming with no pledged size: the frame header has no content size */
	size_t left = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue); /* input seen before the end */
	assert_false(ZSTD_isError(left));
	do {
		left = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
		assert_false(ZSTD_isError(left));
	} while (left != 0);
	ZSTD_freeCCtx(c);
	assert_int_equal(ZSTD_getFrameContentSize(z, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
	br_buf out = { 0 };
	br_err err = { 0 };
	assert_int_equal(br_decompress(BR_CODEC_ZSTD, z, ob.pos, 1 << 20, &out, &err), BR_ELIMIT);
	assert_non_null(strstr(err.msg, "window"));
	assert_int_equal(out.len, 0);
	assert_int_equal(br_decompress(BR_CODEC_ZSTD, z, ob.pos, (size_t)256 << 20, &out, &err), 0);
	assert_int_equal(out.len, sizeof in);
	assert_memory_equal(out.p, in, sizeof in);
	br_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_bytes),
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_levels_and_raw),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_zstd_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
