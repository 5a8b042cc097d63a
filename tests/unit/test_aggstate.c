/* test_aggstate.c — aggregate state: br_xheap (min/max) against a reference
 * multiset under random inserts and removes, br_ztab's incremental growth
 * (every key findable, iterated once, while entries move between arrays), and
 * the aggregate's min/max/count(DISTINCT)/sum(DISTINCT) under retraction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "flow/flow.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The heap's top equals the extreme of a reference multiset while values
 * come and go (lazy deletion, duplicates from re-entering values, compaction),
 * for longs (inline fast path) and strings (decoded comparison). */
static void check_heap(bool max, bool strings)
{
	br_arena arena;
	br_arena_init(&arena, 4096);
	br_ztab live;
	br_ztab_init(&live, &arena);
	br_xheap h;
	br_xheap_init(&h, max);
	enum { N = 1000 };
	int64_t mult[N] = { 0 };
	size_t nlive = 0;
	char sbuf[32];
	br_buf kb = { 0 };
	for (int step = 0; step < 200000; step++) {
		int i = (int)(rnd() % N);
		int64_t w = (rnd() % 2 && mult[i] > 0) ? -1 : 1;
		br_value v = br_value_i64(BR_T_LONG, i - 500);
		if (strings) {
			int n = snprintf(sbuf, sizeof sbuf, "v%04d", i);
			v = br_value_bytes(BR_T_STRING, sbuf, (size_t)n);
		}
		br_buf_reset(&kb);
		br_row_encode(&kb, &v, 1);
		br_zent *e = br_ztab_upsert(&live, kb.p, kb.len);
		int64_t old = e->w;
		e->w += w;
		mult[i] += w;
		if (old <= 0 && e->w > 0) {
			nlive++;
			br_xheap_push(&h, e->key, e->klen);
		} else if (old > 0 && e->w <= 0)
			nlive--;
		if (step % 7)
			continue;
		br_xheap_compact(&h, &live, nlive);
		int want = -1;
		for (int j = 0; j < N; j++)
			if (mult[j] > 0 && (want < 0 || max))
				want = j;
		uint32_t klen;
		const uint8_t *top = br_xheap_top(&h, &live, &klen);
		if (want < 0) {
			assert_null(top);
			continue;
		}
		assert_non_null(top);
		br_value got;
		br_err err;
		assert_int_equal(br_row_decode(top, klen, &got, 1, &err), 0);
		if (strings) {
			int n = snprintf(sbuf, sizeof sbuf, "v%04d", want);
			assert_int_equal(got.v.bytes.len, n);
			assert_memory_equal(got.v.bytes.p, sbuf, (size_t)n);
		} else
			assert_int_equal(got.v.i64, want - 500);
		assert_true(h.n <= 2 * nlive + 64 + 7);
	}
	br_buf_free(&kb);
	br_xheap_free(&h);
	br_ztab_free(&live);
	br_arena_free(&arena);
}

static void test_xheap(void **state)
{
	(void)state;
	check_heap(false, false);
	check_heap(true, false);
	check_heap(false, true);
	check_heap(true, true);
}

static void test_ztab_growth(void **state)
{
	(void)state;
	br_arena arena;
	br_arena_init(&arena, 1 << 16);
	br_ztab t;
	br_ztab_init(&t, &arena);
	enum { N = 50000 };
	for (int64_t i = 0; i < N; i++) {
		int64_t k = i * 2654435761LL;
		br_ztab_upsert(&t, &k, sizeof k)->w += i + 1;
		/* Re-upsert an older key: it may still sit in the old array. */
		int64_t j = (i / 2) * 2654435761LL;
		br_ztab_upsert(&t, &j, sizeof j)->w += 0;
		if (i % 4999)
			continue;
		for (int64_t q = 0; q <= i; q++) {
			int64_t kq = q * 2654435761LL;
			br_zent *e = br_ztab_find(&t, &kq, sizeof kq);
			assert_non_null(e);
			assert_int_equal(e->w, q + 1);
		}
		size_t seen = 0, it = 0;
		int64_t sum = 0;
		br_zent *e;
		while ((e = br_ztab_next(&t, &it))) {
			seen++;
			sum += e->w;
		}
		assert_int_equal(seen, (size_t)i + 1);
		assert_int_equal(sum, (i + 1) * (i + 2) / 2);
	}
	int64_t absent = -7;
	assert_null(br_ztab_find(&t, &absent, sizeof absent));
	br_ztab_free(&t);
	br_arena_free(&arena);
}

/* min, max, count(DISTINCT), sum(DISTINCT) over one group while values come
 * and go with multiplicities; checked against a recount after every step. */
static void test_aggregate_churn(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t[] = { BR_T_LONG };
	br_op *in = br_op_input(&c, 1, t);
	br_agg_spec aggs[] = {
		{ .kind = BR_AGG_MIN, .col = 0, .type = BR_T_LONG },
		{ .kind = BR_AGG_MAX, .col = 0, .type = BR_T_LONG },
		{ .kind = BR_AGG_COUNT, .col = 0, .type = BR_T_LONG, .distinct = true },
		{ .kind = BR_AGG_SUM, .col = 0, .type = BR_T_LONG, .distinct = true },
	};
	br_op *agg = br_op_aggregate(&c, in, 0, NULL, 4, aggs);
	br_op *out = br_op_integrate(&c, agg);
	int64_t mult[64] = { 0 };
	br_err err = { 0 };
	for (int step = 0; step < 300; step++) {
		br_batch b;
		br_batch_init(&b, in->out_type, true);
		for (int r = 0; r < 20; r++) {
			int v = (int)(rnd() % 64);
			int64_t w = (rnd() % 3 == 0 && mult[v] > 0) ? -1 : 1;
			mult[v] += w;
			br_value x = br_value_i64(BR_T_LONG, v * 7 - 100);
			br_batch_append_row(&b, &x, w);
		}
		assert_int_equal(br_circuit_feed(&c, in, &b, &err), 0);
		br_batch_free(&b);
		assert_int_equal(br_circuit_step(&c, &err), 0);
		int64_t mn = INT64_MAX, mx = INT64_MIN, nd = 0, sd = 0;
		for (int v = 0; v < 64; v++)
			if (mult[v] > 0) {
				int64_t x = v * 7 - 100;
				mn = x < mn ? x : mn;
				mx = x > mx ? x : mx;
				nd++;
				sd += x;
			}
		const br_ztab *z = br_op_contents(out);
		br_zent *e;
		int rows = 0;
		for (size_t i = 0; (e = br_ztab_next(z, &i));) {
			if (e->w == 0)
				continue;
			assert_int_equal(e->w, 1);
			br_value v[4];
			assert_int_equal(br_row_decode(e->key, e->klen, v, 4, &err), 0);
			rows++;
			if (!nd) {
				assert_true(v[0].is_null && v[1].is_null);
				continue;
			}
			assert_int_equal(v[0].v.i64, mn);
			assert_int_equal(v[1].v.i64, mx);
			assert_int_equal(v[2].v.i64, nd);
			assert_int_equal(v[3].v.i64, sd);
		}
		assert_int_equal(rows, 1);
	}
	br_circuit_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xheap),
		cmocka_unit_test(test_ztab_growth),
		cmocka_unit_test(test_aggregate_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
