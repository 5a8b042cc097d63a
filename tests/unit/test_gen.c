/* test_gen.c — the Nexmark generator (src/gen): same seed, same events; the
 * 1:3:46 mix; event times from the rate; references to earlier events only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "gen/nexmark.h"

static void run(uint64_t seed, int n, br_buf *out)
{
	br_nx_gen g;
	br_nx_init(&g, seed, 1700000000000, 500);
	for (int i = 0; i < n; i++) {
		br_nx_event e;
		br_nx_next(&g, &e);
		br_buf_put(out, br_nx_topic(e.kind), strlen(br_nx_topic(e.kind)));
		br_nx_json(&e, out);
		br_buf_u8(out, '\n');
	}
}

static void test_deterministic(void **state)
{
	(void)state;
	br_buf a = { 0 }, b = { 0 }, c = { 0 };
	run(7, 5000, &a);
	run(7, 5000, &b);
	run(8, 5000, &c);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.p, b.p, a.len);
	assert_true(a.len != c.len || memcmp(a.p, c.p, a.len));
	br_buf_free(&a);
	br_buf_free(&b);
	br_buf_free(&c);
}

static void test_mix_and_references(void **state)
{
	(void)state;
	br_nx_gen g;
	br_nx_init(&g, 1, 1000, 500);
	int count[3] = { 0 };
	int64_t last_time = 0;
	for (int i = 0; i < 10000; i++) {
		br_nx_event e;
		br_nx_next(&g, &e);
		count[e.kind]++;
		assert_int_equal(e.date_time, 1000 + (int64_t)i * 2); /* 500 events/s */
		assert_true(e.date_time >= last_time);
		last_time = e.date_time;
		if (e.kind == BR_NX_BID) {
			assert_true(e.auction >= 1000 && e.auction < 1000 + g.auctions);
			assert_true(e.bidder >= 1000 && e.bidder < 1000 + g.persons);
			assert_true(e.price >= 1);
		} else if (e.kind == BR_NX_AUCTION) {
			assert_true(e.seller >= 1000 && e.seller < 1000 + g.persons);
			assert_true(e.expires > e.date_time);
		}
	}
	assert_int_equal(count[BR_NX_PERSON], 200);
	assert_int_equal(count[BR_NX_AUCTION], 600);
	assert_int_equal(count[BR_NX_BID], 9200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_mix_and_references),
	};
	return cmocka_run_group_tests_name("gen", tests, NULL, NULL);
}
