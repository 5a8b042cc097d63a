/* test_flow.c — unit tests for src/flow: row keys, the Z-set table, expression
 * NULL semantics, and every operator fed inserts and retractions step by step
 * (the integrated output must equal the expected Z-set after each step). */
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
#include "flow/flow.h"

/* ------------------------------------------------------------- helpers */

static br_value L(int64_t x) { return br_value_i64(BR_T_LONG, x); }
static br_value N(void) { return br_value_null(BR_T_LONG); }
static br_value S(const char *s) { return br_value_bytes(BR_T_STRING, s, strlen(s)); }

/* Feeds rows (n values each) with weights into an input operator. */
static void feed(br_circuit *c, br_op *in, int ncols, int nrows, const br_value *vals, const int64_t *w)
{
	br_batch b;
	br_batch_init(&b, in->out_type, true);
	for (int i = 0; i < nrows; i++)
		br_batch_append_row(&b, vals + i * ncols, w[i]);
	br_err err = { 0 };
	assert_int_equal(br_circuit_feed(c, in, &b, &err), 0);
	br_batch_free(&b);
}

static void fmt_row(const br_value *v, int n, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		const br_value *x = &v[i];
		char tmp[64];
		if (x->is_null)
			snprintf(tmp, sizeof tmp, "NULL");
		else if (x->type == BR_T_STRING)
			snprintf(tmp, sizeof tmp, "'%.*s'", (int)x->v.bytes.len, x->v.bytes.p);
		else if (x->type == BR_T_DOUBLE)
			snprintf(tmp, sizeof tmp, "%g", x->v.f64);
		else if (x->type == BR_T_BOOLEAN)
			snprintf(tmp, sizeof tmp, "%s", x->v.b ? "t" : "f");
		else
			snprintf(tmp, sizeof tmp, "%" PRId64, x->v.i64);
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", tmp);
	}
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The integrated contents of op as sorted "row*weight" lines joined by ';'. */
static char *contents(const br_op *integ, int ncols)
{
	const br_ztab *t = br_op_contents(integ);
	char *lines[256];
	int n = 0;
	br_zent *e;
	br_value v[16];
	for (size_t i = 0; (e = br_ztab_next(t, &i));) {
		if (!e->w)
			continue;
		assert_int_equal(br_row_decode(e->key, e->klen, v, ncols, NULL), 0);
		char row[200];
		fmt_row(v, ncols, row, sizeof row);
		lines[n] = br_xasprintf("%s*%" PRId64, row, e->w);
		n++;
		assert_true(n < 256);
	}
	qsort(lines, (size_t)n, sizeof *lines, cmp_str);
	br_buf b = { 0 };
	for (int i = 0; i < n; i++) {
		br_buf_printf(&b, "%s%s", i ? ";" : "", lines[i]);
		free(lines[i]);
	}
	br_buf_u8(&b, 0);
	return (char *)b.p;
}

static void step_expect(br_circuit *c, const br_op *integ, int ncols, const char *want)
{
	br_err err = { 0 };
	assert_int_equal(br_circuit_step(c, &err), 0);
	char *got = contents(integ, ncols);
	if (strcmp(got, want))
		fail_msg("got  %s\nwant %s", got, want);
	free(got);
}

static br_expr *col(int i, br_type_id t)
{
	br_expr *e = calloc(1, sizeof *e);
	e->kind = BR_X_COL;
	e->col = i;
	e->type = t;
	e->pos = -1;
	return e;
}

static br_expr *konst(br_value v)
{
	br_expr *e = calloc(1, sizeof *e);
	e->kind = BR_X_CONST;
	e->k = v;
	e->type = v.is_null ? BR_T_LONG : v.type;
	e->pos = -1;
	return e;
}

static br_expr *bin(br_xkind k, br_type_id t, br_expr *a, br_expr *b)
{
	br_expr *e = calloc(1, sizeof *e);
	e->kind = k;
	e->type = t;
	e->nargs = 2;
	e->args = calloc(2, sizeof *e->args);
	e->args[0] = a;
	e->args[1] = b;
	e->pos = -1;
	return e;
}

static void expr_free(br_expr *e)
{
	for (int i = 0; i < e->nargs; i++)
		expr_free(e->args[i]);
	free(e->args);
	free(e);
}

/* --------------------------------------------------------------- tests */

static void test_row_roundtrip(void **state)
{
	(void)state;
	br_value in[5] = { L(-7), N(), S("héllo"), br_value_f64(-0.0), { .type = BR_T_BOOLEAN } };
	in[4].v.b = true;
	br_buf b = { 0 };
	br_row_encode(&b, in, 5);
	br_value out[5];
	br_err err = { 0 };
	assert_int_equal(br_row_decode(b.p, b.len, out, 5, &err), 0);
	assert_int_equal(out[0].v.i64, -7);
	assert_true(out[1].is_null);
	assert_int_equal(out[2].v.bytes.len, strlen("héllo"));
	assert_memory_equal(out[2].v.bytes.p, "héllo", out[2].v.bytes.len);
	assert_true(out[3].v.f64 == 0.0);
	assert_true(out[4].v.b);
	/* -0.0 and 0.0 group together */
	br_buf z = { 0 };
	br_value zero = br_value_f64(0.0);
	br_row_encode(&z, &zero, 1);
	assert_memory_equal(z.p, b.p + b.len - 2 - 9, 9);
	/* Every truncation is an error, never a read past the end. */
	for (size_t n = 0; n < b.len; n++)
		assert_int_not_equal(br_row_decode(b.p, n, out, 5, &err), 0);
	uint8_t bad[] = { 9 };
	assert_int_equal(br_row_decode(bad, 1, out, 1, &err), BR_ECORRUPT);
	br_buf_free(&b);
	br_buf_free(&z);
}

static void test_ztab_grow(void **state)
{
	(void)state;
	br_arena a;
	br_arena_init(&a, 4096);
	br_ztab t;
	br_ztab_init(&t, &a);
	for (int i = 0; i < 5000; i++) {
		char k[16];
		int n = snprintf(k, sizeof k, "k%d", i);
		br_ztab_upsert(&t, k, (size_t)n)->w += i;
	}
	br_ztab_upsert(&t, "", 0)->w = 42; /* the empty key is a key */
	assert_int_equal(t.count, 5001);
	for (int i = 0; i < 5000; i += 7) {
		char k[16];
		int n = snprintf(k, sizeof k, "k%d", i);
		br_zent *e = br_ztab_find(&t, k, (size_t)n);
		assert_non_null(e);
		assert_int_equal(e->w, i);
	}
	assert_int_equal(br_ztab_find(&t, "", 0)->w, 42);
	assert_null(br_ztab_find(&t, "nope", 4));
	br_ztab_free(&t);
	br_arena_free(&a);
}

static void test_expr_nulls(void **state)
{
	(void)state;
	br_arena a;
	br_arena_init(&a, 4096);
	br_eval ev = { .scratch = &a };
	br_err err = { 0 };
	br_value row[2] = { L(3), N() }, out;
	/* 3 + NULL is NULL; NULL = NULL is NULL; NULL AND false is false */
	br_expr *e = bin(BR_X_ADD, BR_T_LONG, col(0, BR_T_LONG), col(1, BR_T_LONG));
	assert_int_equal(br_expr_eval(e, &ev, row, &out, &err), 0);
	assert_true(out.is_null);
	expr_free(e);
	e = bin(BR_X_EQ, BR_T_BOOLEAN, col(1, BR_T_LONG), col(1, BR_T_LONG));
	assert_int_equal(br_expr_eval(e, &ev, row, &out, &err), 0);
	assert_true(out.is_null);
	br_value f = { .type = BR_T_BOOLEAN };
	br_expr *and = bin(BR_X_AND, BR_T_BOOLEAN, e, konst(f));
	assert_int_equal(br_expr_eval(and, &ev, row, &out, &err), 0);
	assert_false(out.is_null);
	assert_false(out.v.b);
	expr_free(and);
	/* division by zero and overflow are errors, as in PostgreSQL */
	e = bin(BR_X_DIV, BR_T_LONG, col(0, BR_T_LONG), konst(L(0)));
	assert_int_equal(br_expr_eval(e, &ev, row, &out, &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "division by zero"));
	expr_free(e);
	e = bin(BR_X_MUL, BR_T_LONG, konst(L(INT64_MAX)), konst(L(2)));
	assert_int_equal(br_expr_eval(e, &ev, row, &out, &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "out of range"));
	expr_free(e);
	/* LIKE */
	br_value srow[1] = { S("braid engine") };
	e = bin(BR_X_LIKE, BR_T_BOOLEAN, col(0, BR_T_STRING), konst(S("br%n_ine")));
	assert_int_equal(br_expr_eval(e, &ev, srow, &out, &err), 0);
	assert_true(out.v.b);
	expr_free(e);
	br_arena_free(&a);
}

static void test_filter_map_union(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t2[2] = { BR_T_LONG, BR_T_LONG };
	br_op *a = br_op_input(&c, 2, t2), *b = br_op_input(&c, 2, t2);
	br_expr *pred = bin(BR_X_GT, BR_T_BOOLEAN, col(0, BR_T_LONG), konst(L(1)));
	br_op *f = br_op_filter(&c, a, pred);
	br_expr *sum = bin(BR_X_ADD, BR_T_LONG, col(0, BR_T_LONG), col(1, BR_T_LONG));
	br_expr *ex[1] = { sum };
	br_op *m = br_op_map(&c, f, 1, ex);
	br_expr *ex2[1] = { col(0, BR_T_LONG) };
	br_op *mb = br_op_map(&c, b, 1, ex2);
	br_op *u = br_op_union(&c, m, mb, false);
	br_op *out = br_op_integrate(&c, u);
	br_value r1[] = { L(1), L(10), L(2), L(20), L(3), N() };
	int64_t w1[] = { 1, 1, 2 };
	feed(&c, a, 2, 3, r1, w1);
	br_value rb[] = { L(22), L(0) };
	int64_t wb[] = { 1 };
	feed(&c, b, 2, 1, rb, wb);
	step_expect(&c, out, 1, "22*2;NULL*2");
	/* retract one copy of (3,NULL) and the (2,20) row: linear ops pass -w on */
	br_value r2[] = { L(3), N(), L(2), L(20) };
	int64_t w2[] = { -1, -1 };
	feed(&c, a, 2, 2, r2, w2);
	step_expect(&c, out, 1, "22*1;NULL*1");
	br_circuit_free(&c);
	expr_free(pred);
	expr_free(sum);
	expr_free(ex2[0]);
}

static void test_join_retractions(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t2[2] = { BR_T_LONG, BR_T_STRING };
	br_op *a = br_op_input(&c, 2, t2), *b = br_op_input(&c, 2, t2);
	int ka[1] = { 0 }, kb[1] = { 0 };
	br_op *j = br_op_join(&c, a, b, 1, ka, kb);
	br_op *out = br_op_integrate(&c, j);
	br_value ra[] = { L(1), S("a1"), L(2), S("a2"), N(), S("anull") };
	int64_t wa[] = { 1, 1, 1 };
	br_value rb[] = { L(1), S("b1"), N(), S("bnull") };
	int64_t wb[] = { 1, 1 };
	feed(&c, a, 2, 3, ra, wa);
	feed(&c, b, 2, 2, rb, wb);
	/* ΔA⋈ΔB in the same step; NULL keys never match */
	step_expect(&c, out, 4, "1,'a1',1,'b1'*1");
	br_value rb2[] = { L(2), S("b2"), L(1), S("b1") };
	int64_t wb2[] = { 2, 1 };
	feed(&c, b, 2, 2, rb2, wb2);
	step_expect(&c, out, 4, "1,'a1',1,'b1'*2;2,'a2',2,'b2'*2");
	/* delete a1 and one b2 at once: ΔA⋈B + A⋈ΔB + ΔA⋈ΔB */
	br_value da[] = { L(1), S("a1") };
	int64_t wda[] = { -1 };
	br_value db[] = { L(2), S("b2") };
	int64_t wdb[] = { -1 };
	feed(&c, a, 2, 1, da, wda);
	feed(&c, b, 2, 1, db, wdb);
	step_expect(&c, out, 4, "2,'a2',2,'b2'*1");
	/* re-insert a1: it meets b1's two copies from state */
	feed(&c, a, 2, 1, da, wa);
	step_expect(&c, out, 4, "1,'a1',1,'b1'*2;2,'a2',2,'b2'*1");
	br_circuit_free(&c);
}

static void test_outer_join_flips(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t2[2] = { BR_T_LONG, BR_T_STRING };
	br_op *a = br_op_input(&c, 2, t2), *b = br_op_input(&c, 2, t2);
	int k[1] = { 0 };
	br_op *left = br_op_integrate(&c, br_op_join_outer(&c, a, b, 1, k, k, BR_JOIN_LEFT));
	br_op *full = br_op_integrate(&c, br_op_join_outer(&c, a, b, 1, k, k, BR_JOIN_FULL));
	br_value ra[] = { L(1), S("a1"), N(), S("an") };
	int64_t w2[] = { 1, 1 }, w1[] = { 1 }, wd[] = { -1 };
	feed(&c, a, 2, 2, ra, w2);
	step_expect(&c, left, 4, "1,'a1',NULL,NULL*1;NULL,'an',NULL,NULL*1");
	/* a b row with key 1 arrives: the padded row of a1 is retracted */
	br_value rb[] = { L(1), S("b1") };
	feed(&c, b, 2, 1, rb, w1);
	step_expect(&c, left, 4, "1,'a1',1,'b1'*1;NULL,'an',NULL,NULL*1");
	/* a second a row with key 1 and a b row with key 2, same step */
	br_value ra2[] = { L(1), S("a1b") }, rb2[] = { L(2), S("b2") };
	feed(&c, a, 2, 1, ra2, w1);
	feed(&c, b, 2, 1, rb2, w1);
	step_expect(&c, full, 4, "1,'a1',1,'b1'*1;1,'a1b',1,'b1'*1;NULL,'an',NULL,NULL*1;NULL,NULL,2,'b2'*1");
	/* the only b row of key 1 leaves: both a rows are padded again */
	feed(&c, b, 2, 1, rb, wd);
	step_expect(&c, left, 4, "1,'a1',NULL,NULL*1;1,'a1b',NULL,NULL*1;NULL,'an',NULL,NULL*1");
	char *s = contents(full, 4);
	assert_string_equal(s, "1,'a1',NULL,NULL*1;1,'a1b',NULL,NULL*1;NULL,'an',NULL,NULL*1;NULL,NULL,2,'b2'*1");
	free(s);
	br_circuit_free(&c);
}

static void test_cross_join(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t1[1] = { BR_T_LONG };
	br_op *a = br_op_input(&c, 1, t1), *b = br_op_input(&c, 1, t1);
	br_op *out = br_op_integrate(&c, br_op_join(&c, a, b, 0, NULL, NULL));
	br_value ra[] = { L(1), L(2) }, rb[] = { L(10) };
	int64_t w[] = { 1, 1 };
	feed(&c, a, 1, 2, ra, w);
	feed(&c, b, 1, 1, rb, w);
	step_expect(&c, out, 2, "1,10*1;2,10*1");
	br_circuit_free(&c);
}

static void test_aggregate_retractions(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t[2] = { BR_T_STRING, BR_T_LONG };
	br_op *in = br_op_input(&c, 2, t);
	int g[1] = { 0 };
	br_agg_spec aggs[] = {
		{ .kind = BR_AGG_COUNT_STAR, .col = -1, .distinct = false, .type = BR_T_LONG }, { .kind = BR_AGG_COUNT, .col = 1, .distinct = false, .type = BR_T_LONG },
		{ .kind = BR_AGG_SUM, .col = 1, .distinct = false, .type = BR_T_LONG },        { .kind = BR_AGG_MIN, .col = 1, .distinct = false, .type = BR_T_LONG },
		{ .kind = BR_AGG_MAX, .col = 1, .distinct = false, .type = BR_T_LONG },        { .kind = BR_AGG_COUNT, .col = 1, .distinct = true, .type = BR_T_LONG },
		{ .kind = BR_AGG_AVG, .col = 1, .distinct = false, .type = BR_T_DOUBLE },
	};
	br_op *out = br_op_integrate(&c, br_op_aggregate(&c, in, 1, g, 7, aggs));
	br_value r[] = { S("x"), L(5), S("x"), L(1), S("x"), L(5), S("x"), N(), S("y"), L(7) };
	int64_t w[] = { 1, 1, 1, 1, 1 };
	feed(&c, in, 2, 5, r, w);
	step_expect(&c, out, 8, "'x',4,3,11,1,5,2,3.66667*1;'y',1,1,7,7,7,1,7*1");
	/* delete the minimum of x: min must move to 5 (kept multiset) */
	br_value d[] = { S("x"), L(1) };
	int64_t wd[] = { -1 };
	feed(&c, in, 2, 1, d, wd);
	step_expect(&c, out, 8, "'x',3,2,10,5,5,1,5*1;'y',1,1,7,7,7,1,7*1");
	/* delete all of y: the group disappears */
	br_value dy[] = { S("y"), L(7) };
	feed(&c, in, 2, 1, dy, wd);
	step_expect(&c, out, 8, "'x',3,2,10,5,5,1,5*1");
	br_circuit_free(&c);
}

static void test_global_aggregate_empty(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t[1] = { BR_T_LONG };
	br_op *in = br_op_input(&c, 1, t);
	br_agg_spec aggs[] = { { .kind = BR_AGG_COUNT_STAR, .col = -1, .distinct = false, .type = BR_T_LONG }, { .kind = BR_AGG_SUM, .col = 0, .distinct = false, .type = BR_T_LONG } };
	br_op *out = br_op_integrate(&c, br_op_aggregate(&c, in, 0, NULL, 2, aggs));
	/* no input at all: one row, count 0, sum NULL */
	step_expect(&c, out, 2, "0,NULL*1");
	br_value r[] = { L(4) };
	int64_t w[] = { 1 }, wd[] = { -1 };
	feed(&c, in, 1, 1, r, w);
	step_expect(&c, out, 2, "1,4*1");
	feed(&c, in, 1, 1, r, wd);
	step_expect(&c, out, 2, "0,NULL*1");
	br_circuit_free(&c);
}

static void test_distinct_and_setops(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t[1] = { BR_T_LONG };
	br_op *a = br_op_input(&c, 1, t), *b = br_op_input(&c, 1, t);
	br_op *d = br_op_integrate(&c, br_op_distinct(&c, a));
	br_op *in = br_op_integrate(&c, br_op_setop(&c, a, b, BR_SET_INTERSECT));
	br_op *ex = br_op_integrate(&c, br_op_setop(&c, a, b, BR_SET_EXCEPT));
	br_op *exa = br_op_integrate(&c, br_op_setop(&c, a, b, BR_SET_EXCEPT_ALL));
	br_value ra[] = { L(1), L(2), N() }, rb[] = { L(2), N() };
	int64_t wa[] = { 3, 1, 1 }, wb[] = { 1, 1 };
	feed(&c, a, 1, 3, ra, wa);
	feed(&c, b, 1, 2, rb, wb);
	br_err err = { 0 };
	assert_int_equal(br_circuit_step(&c, &err), 0);
	char *s;
	assert_string_equal(s = contents(d, 1), "1*1;2*1;NULL*1"), free(s);
	assert_string_equal(s = contents(in, 1), "2*1;NULL*1"), free(s); /* set ops treat NULLs as equal */
	assert_string_equal(s = contents(ex, 1), "1*1"), free(s);
	assert_string_equal(s = contents(exa, 1), "1*3"), free(s);
	/* retract two of the three 1s and the 2 from b */
	br_value ra2[] = { L(1) }, rb2[] = { L(2) };
	int64_t wa2[] = { -2 }, wb2[] = { -1 };
	feed(&c, a, 1, 1, ra2, wa2);
	feed(&c, b, 1, 1, rb2, wb2);
	assert_int_equal(br_circuit_step(&c, &err), 0);
	assert_string_equal(s = contents(d, 1), "1*1;2*1;NULL*1"), free(s);
	assert_string_equal(s = contents(in, 1), "NULL*1"), free(s);
	assert_string_equal(s = contents(ex, 1), "1*1;2*1"), free(s);
	assert_string_equal(s = contents(exa, 1), "1*1;2*1"), free(s);
	br_buf ex_text = { 0 };
	br_circuit_explain(&c, &ex_text);
	assert_non_null(strstr((const char *)ex_text.p, "setop"));
	br_buf_free(&ex_text);
	br_circuit_free(&c);
}

/* Top-2 per group with ROW_NUMBER: deleting a shown row re-admits the next
 * one; a row behind a full group changes nothing; duplicates get numbers of
 * their own. RANK and DENSE_RANK over ties. */
static void test_window_topn(void **state)
{
	(void)state;
	br_circuit c;
	br_circuit_init(&c);
	br_type_id t[2] = { BR_T_LONG, BR_T_LONG };
	br_op *in = br_op_input(&c, 2, t);
	int pc[1] = { 0 }, rn[1] = { BR_WIN_ROW_NUMBER }, rk[2] = { BR_WIN_RANK, BR_WIN_DENSE_RANK };
	br_sort_key k[1] = { { .col = 1, .desc = true, .nulls_first = true } };
	br_op *top = br_op_integrate(&c, br_op_window(&c, in, 1, pc, 1, k, 1, rn, 2));
	br_op *all = br_op_integrate(&c, br_op_window(&c, in, 1, pc, 1, k, 2, rk, -1));
	br_value r1[] = { L(1), L(5), L(1), L(9), L(1), L(7), L(2), L(3), L(2), L(3) };
	int64_t w1[] = { 1, 1, 1, 1, 1 };
	feed(&c, in, 2, 5, r1, w1);
	step_expect(&c, top, 3, "1,7,2*1;1,9,1*1;2,3,1*1;2,3,2*1");
	char *got = contents(all, 4);
	assert_string_equal(got, "1,5,3,3*1;1,7,2,2*1;1,9,1,1*1;2,3,1,1*2");
	free(got);
	/* delete the best of group 1: 5 comes in at number 2 */
	br_value d1[] = { L(1), L(9) };
	int64_t wd[] = { -1 };
	feed(&c, in, 2, 1, d1, wd);
	step_expect(&c, top, 3, "1,5,2*1;1,7,1*1;2,3,1*1;2,3,2*1");
	/* a row behind the full group changes nothing shown; then it is deleted */
	br_value r2[] = { L(1), L(1) };
	feed(&c, in, 2, 1, r2, w1);
	step_expect(&c, top, 3, "1,5,2*1;1,7,1*1;2,3,1*1;2,3,2*1");
	got = contents(all, 4);
	assert_string_equal(got, "1,1,3,3*1;1,5,2,2*1;1,7,1,1*1;2,3,1,1*2");
	free(got);
	feed(&c, in, 2, 1, r2, wd);
	step_expect(&c, top, 3, "1,5,2*1;1,7,1*1;2,3,1*1;2,3,2*1");
	/* a better row pushes 5 out */
	br_value r3[] = { L(1), L(8) };
	feed(&c, in, 2, 1, r3, w1);
	step_expect(&c, top, 3, "1,7,2*1;1,8,1*1;2,3,1*1;2,3,2*1");
	/* emptying group 2 removes its rows */
	br_value d2[] = { L(2), L(3) };
	int64_t wd2[] = { -2 };
	feed(&c, in, 2, 1, d2, wd2);
	step_expect(&c, top, 3, "1,7,2*1;1,8,1*1");
	br_circuit_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_roundtrip),
		cmocka_unit_test(test_ztab_grow),
		cmocka_unit_test(test_expr_nulls),
		cmocka_unit_test(test_filter_map_union),
		cmocka_unit_test(test_join_retractions),
		cmocka_unit_test(test_cross_join),
		cmocka_unit_test(test_outer_join_flips),
		cmocka_unit_test(test_aggregate_retractions),
		cmocka_unit_test(test_global_aggregate_empty),
		cmocka_unit_test(test_distinct_and_setops),
		cmocka_unit_test(test_window_topn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
