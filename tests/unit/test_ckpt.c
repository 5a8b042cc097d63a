/* test_ckpt.c — checkpoints of operator state (flow/ckpt.c, the save/load hooks
 * of ops.c) and the checkpoint file (sql/checkpoint.c). For every stateful
 * operator kind: a circuit steps through random inserts and deletes, its state
 * is saved and loaded into a fresh circuit of the same shape, and both then
 * take the same further steps: every output delta (consolidated) and the
 * integrated contents must be identical. Corrupt files and state are refused
 * with an error, never loaded and never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "flow/ckpt.h"
#include "flow/flow.h"
#include "sql/checkpoint.h"

/* Rows: (k LONG 0..4, v LONG 0..19, s STRING of 4 values); table b: (k, w). */
#define MAXROWS 4096

typedef struct live {
	int64_t k[MAXROWS], v[MAXROWS];
	int n;
} live;

static uint64_t br_xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 88172645463325252ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static const char *strs[] = { "a", "bb", "", "zz" };

typedef struct built {
	br_circuit c;
	br_op *ina, *inb, *integ;
	int ncols;
	br_expr *exprs[2];
} built;

typedef void (*build_fn)(built *b);

static br_expr *colx(int i, br_type_id t)
{
	br_expr *e = calloc(1, sizeof *e);
	e->kind = BR_X_COL;
	e->col = i;
	e->type = t;
	e->pos = -1;
	return e;
}

static br_op *inputs(built *b)
{
	br_circuit_init(&b->c);
	br_type_id ta[3] = { BR_T_LONG, BR_T_LONG, BR_T_STRING }, tb[2] = { BR_T_LONG, BR_T_LONG };
	b->ina = br_op_input(&b->c, 3, ta);
	b->inb = br_op_input(&b->c, 2, tb);
	return b->ina;
}

static void finish(built *b, br_op *last)
{
	b->integ = br_op_integrate(&b->c, last);
	b->ncols = br_op_ncols(last);
}

static void b_join(built *b)
{
	int ak[1] = { 0 }, bk[1] = { 0 };
	br_op *a = inputs(b);
	finish(b, br_op_join(&b->c, a, b->inb, 1, ak, bk));
}

static void b_left_join(built *b)
{
	int ak[1] = { 0 }, bk[1] = { 0 };
	br_op *a = inputs(b);
	finish(b, br_op_join_outer(&b->c, a, b->inb, 1, ak, bk, BR_JOIN_FULL));
}

static void b_agg(built *b)
{
	int g[1] = { 0 };
	br_agg_spec aggs[] = {
		{ .kind = BR_AGG_COUNT_STAR, .col = -1, .type = BR_T_LONG },
		{ .kind = BR_AGG_SUM, .col = 1, .type = BR_T_LONG },
		{ .kind = BR_AGG_MIN, .col = 1, .type = BR_T_LONG },
		{ .kind = BR_AGG_MAX, .col = 2, .type = BR_T_STRING },
		{ .kind = BR_AGG_COUNT, .col = 1, .distinct = true, .type = BR_T_LONG },
		{ .kind = BR_AGG_SUM, .col = 1, .distinct = true, .type = BR_T_LONG },
		{ .kind = BR_AGG_AVG, .col = 1, .type = BR_T_DOUBLE },
		{ .kind = BR_AGG_STRING_AGG, .col = 2, .type = BR_T_STRING, .sep = ",", .seplen = 1 },
	};
	finish(b, br_op_aggregate(&b->c, inputs(b), 1, g, 8, aggs));
}

static void b_global_agg(built *b)
{
	br_agg_spec aggs[] = { { .kind = BR_AGG_COUNT_STAR, .col = -1, .type = BR_T_LONG },
			       { .kind = BR_AGG_MAX, .col = 1, .type = BR_T_LONG } };
	finish(b, br_op_aggregate(&b->c, inputs(b), 0, NULL, 2, aggs));
}

static void b_distinct(built *b)
{
	/* distinct over (k, s): a map drops v so rows repeat */
	br_op *in = inputs(b);
	b->exprs[0] = colx(0, BR_T_LONG);
	b->exprs[1] = colx(2, BR_T_STRING);
	finish(b, br_op_distinct(&b->c, br_op_map(&b->c, in, 2, b->exprs)));
}

static void b_except_all(built *b)
{
	br_op *in = inputs(b);
	b->exprs[0] = colx(0, BR_T_LONG);
	b->exprs[1] = colx(1, BR_T_LONG);
	br_op *m = br_op_map(&b->c, in, 2, b->exprs);
	finish(b, br_op_setop(&b->c, m, b->inb, BR_SET_EXCEPT_ALL));
}

static void b_topn(built *b)
{
	int p[1] = { 0 };
	br_sort_key k[1] = { { .col = 1, .desc = true } };
	int kinds[2] = { BR_WIN_ROW_NUMBER, BR_WIN_RANK };
	finish(b, br_op_window(&b->c, inputs(b), 1, p, 1, k, 2, kinds, 3));
}

static void b_plain(built *b) { finish(b, inputs(b)); }

static void built_free(built *b)
{
	br_circuit_free(&b->c);
	free(b->exprs[0]);
	free(b->exprs[1]);
}

/* A random step: inserts and deletes of live rows into a, a few rows into b. */
static void make_step(uint64_t *rng, live *l, br_batch *da, br_batch *db)
{
	int n = 1 + (int)(br_xorshift(rng) % 12);
	for (int i = 0; i < n; i++) {
		if (l->n && br_xorshift(rng) % 3 == 0) {
			int j = (int)(br_xorshift(rng) % (uint64_t)l->n);
			br_value r[3] = { br_value_i64(BR_T_LONG, l->k[j]), br_value_i64(BR_T_LONG, l->v[j]),
					  br_value_bytes(BR_T_STRING, strs[l->v[j] % 4], strlen(strs[l->v[j] % 4])) };
			br_batch_append_row(da, r, -1);
			l->k[j] = l->k[l->n - 1];
			l->v[j] = l->v[l->n - 1];
			l->n--;
		} else if (l->n < MAXROWS) {
			int64_t k = (int64_t)(br_xorshift(rng) % 5), v = (int64_t)(br_xorshift(rng) % 20);
			br_value r[3] = { br_value_i64(BR_T_LONG, k), br_value_i64(BR_T_LONG, v),
					  br_value_bytes(BR_T_STRING, strs[v % 4], strlen(strs[v % 4])) };
			br_batch_append_row(da, r, 1);
			l->k[l->n] = k;
			l->v[l->n++] = v;
		}
	}
	if (br_xorshift(rng) % 2) {
		br_value r[2] = { br_value_i64(BR_T_LONG, (int64_t)(br_xorshift(rng) % 5)),
				  br_value_i64(BR_T_LONG, (int64_t)(br_xorshift(rng) % 20)) };
		br_batch_append_row(db, r, br_xorshift(rng) % 4 ? 1 : -1);
	}
}

static int qcmp(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* A Z-set as sorted text: consolidated, zero weights dropped. */
static char *zset_text(const br_batch *b, int ncols)
{
	br_arena a;
	br_arena_init(&a, 4096);
	br_ztab t;
	br_ztab_init(&t, &a);
	br_buf k = { 0 };
	br_value row[16];
	for (int64_t i = 0; i < b->nrows; i++) {
		br_batch_get_row(b, i, row);
		br_buf_reset(&k);
		br_row_encode(&k, row, ncols);
		br_ztab_upsert(&t, k.p, k.len)->w += br_batch_weight(b, i);
	}
	br_buf out = { 0 };
	char **lines = calloc(t.count + 1, sizeof *lines);
	size_t n = 0, i = 0;
	br_zent *e;
	while ((e = br_ztab_next(&t, &i))) {
		if (!e->w)
			continue;
		br_buf l = { 0 };
		for (uint32_t j = 0; j < e->klen; j++)
			br_buf_printf(&l, "%02x", e->key[j]);
		br_buf_printf(&l, "*%" PRId64, e->w);
		br_buf_u8(&l, 0);
		lines[n++] = (char *)l.p;
	}
	qsort(lines, n, sizeof *lines, qcmp);
	for (size_t j = 0; j < n; j++) {
		br_buf_printf(&out, "%s;", lines[j]);
		free(lines[j]);
	}
	br_buf_u8(&out, 0);
	free(lines);
	br_buf_free(&k);
	br_ztab_free(&t);
	br_arena_free(&a);
	return (char *)out.p;
}


static char *contents_text(const br_op *integ, int ncols)
{
	(void)ncols;
	const br_ztab *t = br_op_contents(integ);
	char **lines = calloc(t->count + 1, sizeof *lines);
	size_t n = 0, i = 0;
	br_zent *e;
	while ((e = br_ztab_next(t, &i))) {
		if (!e->w)
			continue;
		br_buf l = { 0 };
		for (uint32_t j = 0; j < e->klen; j++)
			br_buf_printf(&l, "%02x", e->key[j]);
		br_buf_printf(&l, "*%" PRId64, e->w);
		br_buf_u8(&l, 0);
		lines[n++] = (char *)l.p;
	}
	qsort(lines, n, sizeof *lines, qcmp);
	br_buf out = { 0 };
	for (size_t j = 0; j < n; j++) {
		br_buf_printf(&out, "%s;", lines[j]);
		free(lines[j]);
	}
	br_buf_u8(&out, 0);
	free(lines);
	return (char *)out.p;
}

static void step_both(built *x, built *y, br_batch *da, br_batch *db)
{
	br_err err = { 0 };
	built *bs[2] = { x, y };
	char *outs[2] = { 0 };
	for (int i = 0; i < 2; i++) {
		if (!bs[i])
			continue;
		assert_int_equal(br_circuit_feed(&bs[i]->c, bs[i]->ina, da, &err), 0);
		assert_int_equal(br_circuit_feed(&bs[i]->c, bs[i]->inb, db, &err), 0);
		assert_int_equal(br_circuit_step(&bs[i]->c, &err), 0);
		outs[i] = zset_text(&bs[i]->integ->out, bs[i]->ncols);
	}
	if (y) {
		if (strcmp(outs[0], outs[1]))
			fail_msg("output delta differs after load:\n  stepped %s\n  loaded  %s", outs[0], outs[1]);
		char *c0 = contents_text(x->integ, x->ncols), *c1 = contents_text(y->integ, y->ncols);
		if (strcmp(c0, c1))
			fail_msg("contents differ after load:\n  stepped %s\n  loaded  %s", c0, c1);
		free(c0);
		free(c1);
	}
	free(outs[0]);
	free(outs[1]);
	br_batch_reset(da);
	br_batch_reset(db);
}

static void roundtrip(build_fn fn, uint64_t seed)
{
	built x = { 0 }, y = { 0 };
	fn(&x);
	live l = { 0 };
	uint64_t rng = seed;
	br_batch da, db;
	br_batch_init(&da, x.ina->out_type, true);
	br_batch_init(&db, x.inb->out_type, true);
	for (int s = 0; s < 40; s++) {
		make_step(&rng, &l, &da, &db);
		step_both(&x, NULL, &da, &db);
	}
	br_buf st = { 0 };
	br_err err = { 0 };
	assert_int_equal(br_circuit_save(&x.c, &st, &err), 0);
	fn(&y);
	assert_true(br_circuit_shape(&x.c) == br_circuit_shape(&y.c));
	if (br_circuit_load(&y.c, st.p, st.len, &err))
		fail_msg("load: %s", err.msg);
	{ /* the loaded state saves to the same bytes' contents (same size) */
		br_buf st2 = { 0 };
		assert_int_equal(br_circuit_save(&y.c, &st2, &err), 0);
		assert_int_equal(st2.len, st.len);
		br_buf_free(&st2);
	}
	for (int s = 0; s < 40; s++) {
		make_step(&rng, &l, &da, &db);
		step_both(&x, &y, &da, &db);
	}
	/* truncated state is refused (never crashes) */
	for (size_t cut = 0; cut < st.len; cut += 1 + st.len / 50) {
		built z = { 0 };
		fn(&z);
		br_err e2 = { 0 };
		assert_int_not_equal(br_circuit_load(&z.c, st.p, cut, &e2), 0);
		built_free(&z);
	}
	br_buf_free(&st);
	br_batch_free(&da);
	br_batch_free(&db);
	built_free(&x);
	built_free(&y);
}

static void test_join(void **state) { (void)state; for (uint64_t s = 1; s <= 5; s++) roundtrip(b_join, s); }
static void test_outer_join(void **state) { (void)state; for (uint64_t s = 1; s <= 5; s++) roundtrip(b_left_join, s); }
static void test_aggregate(void **state) { (void)state; for (uint64_t s = 1; s <= 5; s++) roundtrip(b_agg, s); }
static void test_global_aggregate(void **state) { (void)state; roundtrip(b_global_agg, 3); }
static void test_distinct(void **state) { (void)state; for (uint64_t s = 1; s <= 5; s++) roundtrip(b_distinct, s); }
static void test_except_all(void **state) { (void)state; for (uint64_t s = 1; s <= 5; s++) roundtrip(b_except_all, s); }
static void test_topn(void **state) { (void)state; for (uint64_t s = 1; s <= 5; s++) roundtrip(b_topn, s); }
static void test_integrate(void **state) { (void)state; roundtrip(b_plain, 9); }

/* State of one shape does not load into another. */
static void test_shape_mismatch(void **state)
{
	(void)state;
	built a = { 0 }, b = { 0 };
	b_join(&a);
	b_agg(&b);
	assert_true(br_circuit_shape(&a.c) != br_circuit_shape(&b.c));
	br_buf st = { 0 };
	br_err err = { 0 };
	assert_int_equal(br_circuit_save(&a.c, &st, &err), 0);
	assert_int_not_equal(br_circuit_load(&b.c, st.p, st.len, &err), 0);
	br_buf_free(&st);
	built_free(&a);
	built_free(&b);
}

static uint8_t *dup(const br_buf *b)
{
	uint8_t *p = malloc(b->len ? b->len : 1);
	memcpy(p, b->p, b->len);
	return p;
}

/* The file: a round trip, then every single-byte change, every truncation
 * and another version are refused with an error. */
static void test_file_corrupt(void **state)
{
	(void)state;
	br_ckpt_writer w;
	br_ckpt_writer_init(&w);
	uint8_t id[16] = { 1, 2, 3 };
	int64_t next[3] = { 10, 0, 123456789 };
	br_ckpt_add_table(&w, "ev", id, 3, next);
	br_ckpt_add_view(&w, "agg", 42, 43, (const uint8_t *)"state", 5);
	br_buf f = { 0 };
	br_ckpt_finish(&w, 1000, &f);
	br_sql_ckpt *ck;
	br_err err = { 0 };
	assert_int_equal(br_ckpt_decode(dup(&f), f.len, &ck, &err), 0);
	assert_int_equal(ck->ntables, 1);
	assert_int_equal(ck->nviews, 1);
	assert_string_equal(ck->tables[0].name, "ev");
	assert_int_equal(ck->tables[0].nparts, 3);
	assert_int_equal(ck->tables[0].next[2], 123456789);
	assert_true(br_ckpt_find_view(ck, "agg")->sql_hash == 42);
	assert_int_equal(br_ckpt_find_view(ck, "agg")->len, 5);
	assert_int_equal(ck->written_ms, 1000);
	br_ckpt_free(ck);
	for (size_t i = 0; i < f.len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			uint8_t *p = dup(&f);
			p[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(br_ckpt_decode(p, f.len, &ck, &err), 0);
			assert_null(ck);
		}
	}
	for (size_t n = 0; n < f.len; n++)
		assert_int_not_equal(br_ckpt_decode(dup(&f), n, &ck, &err), 0);
	/* another state version: refused as unsupported, not as corrupt */
	uint8_t *p = dup(&f);
	p[15] ^= 0x7f;
	assert_int_equal(br_ckpt_decode(p, f.len, &ck, &err), BR_EUNSUPPORTED);
	br_buf_free(&f);
	br_ckpt_writer_free(&w);
}

/* Garbage after a valid header is never loaded into a circuit. */
static void test_state_garbage(void **state)
{
	(void)state;
	uint64_t rng = 77;
	build_fn fns[] = { b_join, b_left_join, b_agg, b_distinct, b_except_all, b_topn, b_plain };
	for (size_t f = 0; f < sizeof fns / sizeof *fns; f++) {
		built a = { 0 };
		fns[f](&a);
		live l = { 0 };
		br_batch da, db;
		br_batch_init(&da, a.ina->out_type, true);
		br_batch_init(&db, a.inb->out_type, true);
		for (int s = 0; s < 10; s++) {
			make_step(&rng, &l, &da, &db);
			step_both(&a, NULL, &da, &db);
		}
		br_buf st = { 0 };
		br_err err = { 0 };
		assert_int_equal(br_circuit_save(&a.c, &st, &err), 0);
		for (int k = 0; k < 200; k++) {
			uint8_t *p = dup(&st);
			size_t at = br_xorshift(&rng) % st.len;
			p[at] = (uint8_t)br_xorshift(&rng);
			built z = { 0 };
			fns[f](&z);
			br_err e2 = { 0 };
			/* may load (a changed weight is still a state) or fail; must not crash */
			if (!br_circuit_load(&z.c, p, st.len, &e2)) {
				make_step(&rng, &l, &da, &db);
				br_circuit_feed(&z.c, z.ina, &da, &e2);
				br_circuit_feed(&z.c, z.inb, &db, &e2);
				br_circuit_step(&z.c, &e2);
				br_batch_reset(&da);
				br_batch_reset(&db);
			}
			built_free(&z);
			free(p);
		}
		br_buf_free(&st);
		br_batch_free(&da);
		br_batch_free(&db);
		built_free(&a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_join),           cmocka_unit_test(test_outer_join),
		cmocka_unit_test(test_aggregate),      cmocka_unit_test(test_global_aggregate),
		cmocka_unit_test(test_distinct),       cmocka_unit_test(test_except_all),
		cmocka_unit_test(test_topn),           cmocka_unit_test(test_integrate),
		cmocka_unit_test(test_shape_mismatch), cmocka_unit_test(test_file_corrupt),
		cmocka_unit_test(test_state_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
