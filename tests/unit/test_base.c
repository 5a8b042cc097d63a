/* test_base.c — unit tests for src/base: buffers, varints, crc32c, map, arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/crc32c.h"
#include "base/map.h"
#include "base/util.h"

static void test_varint_roundtrip(void **state)
{
	(void)state;
	int64_t vals[] = { 0, 1, -1, 63, -64, 64, 300, -300, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN };
	br_buf b = { 0 };
	for (size_t i = 0; i < BR_ARRAY_LEN(vals); i++)
		br_buf_varint(&b, vals[i]);
	br_cur c = br_cur_make(b.p, b.len);
	for (size_t i = 0; i < BR_ARRAY_LEN(vals); i++)
		assert_int_equal(br_cur_varint(&c), vals[i]);
	assert_false(c.bad);
	assert_int_equal(br_cur_left(&c), 0);
	br_cur_varint(&c);
	assert_true(c.bad);
	br_buf_free(&b);
}

static void test_varint_overlong(void **state)
{
	(void)state;
	uint8_t bytes[11];
	memset(bytes, 0xff, sizeof bytes);
	br_cur c = br_cur_make(bytes, sizeof bytes);
	br_cur_uvarint(&c);
	assert_true(c.bad);
}

static void test_crc32c_known(void **state)
{
	(void)state;
	/* RFC 3720 test vector: 32 bytes of zeros -> 0x8a9136aa; "123456789" -> 0xe3069283 */
	uint8_t zeros[32] = { 0 };
	assert_int_equal(br_crc32c(0, zeros, 32), 0x8a9136aa);
	assert_int_equal(br_crc32c(0, "123456789", 9), 0xe3069283);
	/* incremental = one shot */
	uint32_t c = br_crc32c(0, "1234", 4);
	assert_int_equal(br_crc32c(c, "56789", 5), 0xe3069283);
}

/* The three-chain path (blocks of 8 KiB and 256 B) against one byte at a time,
 * which takes the single-chain tail only: every length around the block sizes,
 * every start alignment, and a running crc carried in. */
static void test_crc32c_long(void **state)
{
	(void)state;
	size_t cap = 3 * 8192 * 2 + 3 * 256 + 64;
	uint8_t *buf = malloc(cap);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < cap; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	size_t lens[] = { 767, 768, 769, 1000, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 7, 3 * 8192 + 3 * 256 + 9, cap - 8 };
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
		for (size_t off = 0; off < 8; off++) {
			uint32_t slow = 0x12345678;
			for (size_t i = 0; i < lens[li]; i++)
				slow = br_crc32c(slow, buf + off + i, 1);
			assert_int_equal(br_crc32c(0x12345678, buf + off, lens[li]), slow);
		}
	free(buf);
}

static void test_map(void **state)
{
	(void)state;
	br_map m = { 0 };
	char key[32];
	for (intptr_t i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k%ld", (long)i);
		assert_null(br_map_put(&m, key, strlen(key), (void *)(i + 1)));
	}
	for (intptr_t i = 0; i < 1000; i += 2) {
		snprintf(key, sizeof key, "k%ld", (long)i);
		assert_ptr_equal(br_map_del(&m, key, strlen(key)), (void *)(i + 1));
	}
	assert_int_equal(m.count, 500);
	for (intptr_t i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k%ld", (long)i);
		void *v = br_map_gets(&m, key);
		if (i % 2)
			assert_ptr_equal(v, (void *)(i + 1));
		else
			assert_null(v);
	}
	size_t it = 0, n = 0;
	br_map_slot *s;
	while (br_map_next(&m, &it, &s))
		n++;
	assert_int_equal(n, 500);
	br_map_free(&m);
}

static void test_arena(void **state)
{
	(void)state;
	br_arena a;
	br_arena_init(&a, 128);
	char *big = br_arena_alloc(&a, 4096);
	memset(big, 1, 4096);
	for (int i = 0; i < 100; i++) {
		uint8_t *p = br_arena_alloc(&a, 24);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_int_equal(p[0], 0);
	}
	br_arena_reset(&a);
	assert_non_null(br_arena_strndup(&a, "hello", 3));
	br_arena_free(&a);
}

static void test_parse_units(void **state)
{
	(void)state;
	assert_int_equal(br_parse_duration_ms("5"), 5);
	assert_int_equal(br_parse_duration_ms("5ms"), 5);
	assert_int_equal(br_parse_duration_ms("2s"), 2000);
	assert_int_equal(br_parse_duration_ms("1h"), 3600000);
	assert_int_equal(br_parse_duration_ms("x"), -1);
	assert_int_equal(br_parse_size("1k"), 1024);
	assert_int_equal(br_parse_size("100MiB"), 100 * 1024 * 1024);
	assert_int_equal(br_parse_size("12q"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_roundtrip), cmocka_unit_test(test_varint_overlong),
		cmocka_unit_test(test_crc32c_known),     cmocka_unit_test(test_crc32c_long),     cmocka_unit_test(test_map),
		cmocka_unit_test(test_arena),            cmocka_unit_test(test_parse_units),
	};
	return cmocka_run_group_tests_name("base", tests, NULL, NULL);
}
