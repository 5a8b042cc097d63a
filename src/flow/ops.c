/* ops.c — the operators of a circuit (filter, map, union, join, aggregate,
 * distinct, set operations, window/top-N, integrate) and the circuit that steps them; the
 * stateful operators keep their state in arena-backed br_ztabs. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "flow/ckpt.h"
#include "flow/flow.h"

/* State save/load hooks (checkpoints), defined at the end of the file. */
static int join_save(br_op *op, br_buf *out, br_err *err);
static int join_load(br_op *op, br_cur *in, br_err *err);
static int agg_save(br_op *op, br_buf *out, br_err *err);
static int agg_load(br_op *op, br_cur *in, br_err *err);
static int set_save(br_op *op, br_buf *out, br_err *err);
static int set_load(br_op *op, br_cur *in, br_err *err);
static int win_save(br_op *op, br_buf *out, br_err *err);
static int win_load(br_op *op, br_cur *in, br_err *err);
static int integ_save(br_op *op, br_buf *out, br_err *err);
static int integ_load(br_op *op, br_cur *in, br_err *err);

/* ------------------------------------------------------------- helpers */

br_type *br_flow_row_type(int ncols, const br_type_id *types)
{
	br_type *st = br_type_struct();
	for (int i = 0; i < ncols; i++) {
		char name[24];
		snprintf(name, sizeof name, "c%d", i + 1);
		br_type *t = types[i] == BR_T_INTERVAL ? br_type_fixed(16) : br_type_new(types[i]);
		br_type_struct_add(st, i + 1, name, false, t, NULL);
	}
	return st;
}

void br_batch_append_row(br_batch *b, const br_value *vals, int64_t w)
{
	for (int i = 0; i < b->ncols; i++) {
		br_col *c = &b->cols[i];
		br_value v = vals[i];
		br_type_id t = c->type->id;
		if (!v.is_null && v.type != t) {
			/* Numeric widening only; the binder made every other type agree. */
			if (t == BR_T_DOUBLE)
				v = br_value_f64(v.type == BR_T_INT ? v.v.i32 : v.type == BR_T_FLOAT ? v.v.f32 : (double)v.v.i64);
			else if (t == BR_T_LONG && v.type == BR_T_INT)
				v = br_value_i64(BR_T_LONG, v.v.i32);
			else if (t == BR_T_LONG && v.type == BR_T_DOUBLE) /* saturating: a cast out of range is UB */
				v = br_value_i64(BR_T_LONG, !(v.v.f64 == v.v.f64) ? 0 : v.v.f64 >= 9.2233720368547758e18 ? INT64_MAX
							   : v.v.f64 <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v.v.f64);
			else if (t == BR_T_STRING && v.type != BR_T_BINARY)
				v = br_value_null(t);
			else if (t == BR_T_DATE || t == BR_T_TIMESTAMP || t == BR_T_TIMESTAMPTZ || t == BR_T_TIME)
				br_val_retag(&v, t); /* decoded from a row key as LONG */
		}
		br_col_append_value(c, &v);
	}
	br_batch_row_done(b, w);
}

void br_batch_get_row(const br_batch *b, int64_t i, br_value *vals)
{
	for (int k = 0; k < b->ncols; k++)
		vals[k] = br_col_value(&b->cols[k], i);
}

br_op *br_op_new(br_circuit *c, const br_op_vt *vt, int ncols, const br_type_id *types)
{
	br_op *op = br_xcalloc(1, sizeof *op);
	op->vt = vt;
	op->id = c->nops;
	op->out_type = br_flow_row_type(ncols, types);
	br_batch_init(&op->out, op->out_type, true);
	if (c->nops == c->capops) {
		c->capops = c->capops ? c->capops * 2 : 8;
		c->ops = br_xrealloc(c->ops, (size_t)c->capops * sizeof *c->ops);
	}
	c->ops[c->nops++] = op;
	return op;
}

br_op *br_op_new_pair(br_circuit *c, const br_op_vt *vt, const br_op *a, const br_op *b)
{
	int na = br_op_ncols(a), nb = br_op_ncols(b);
	br_type_id *t = br_xcalloc((size_t)(na + nb) + 1, sizeof *t);
	for (int i = 0; i < na; i++)
		t[i] = br_op_col_type(a, i);
	for (int i = 0; i < nb; i++)
		t[na + i] = br_op_col_type(b, i);
	br_op *op = br_op_new(c, vt, na + nb, t);
	free(t);
	return op;
}

br_value *br_circuit_row_buf(br_circuit *c, int n)
{
	return br_arena_alloc(&c->scratch, sizeof(br_value) * (size_t)(n ? n : 1));
}

/* --------------------------------------------------------------- input */

static int input_step(br_op *op, br_circuit *c, br_err *err) { return 0; }
static void simple_explain(const br_op *op, br_buf *out) { br_buf_printf(out, "%s", op->vt->name); }
static const br_op_vt input_vt = { "input", input_step, NULL, br_op_save_none, br_op_load_none, NULL, simple_explain };

br_op *br_op_input(br_circuit *c, int ncols, const br_type_id *types)
{
	return br_op_new(c, &input_vt, ncols, types);
}

int br_circuit_feed(br_circuit *c, br_op *input, const br_batch *b, br_err *err)
{
	if (input->vt != &input_vt)
		return br_errf(err, BR_EINVAL, "circuit: operator %d is not an input", input->id);
	if (b->ncols != br_op_ncols(input))
		return br_errf(err, BR_EINVAL, "circuit: input %d expects %d columns, got %d", input->id, br_op_ncols(input),
			       b->ncols);
	br_value *row = br_circuit_row_buf(c, b->ncols);
	for (int64_t i = 0; i < b->nrows; i++) {
		br_batch_get_row(b, i, row);
		br_batch_append_row(&input->out, row, br_batch_weight(b, i));
	}
	return 0;
}

int br_circuit_feed_take(br_circuit *c, br_op *input, br_batch *b, br_err *err)
{
	if (input->vt != &input_vt || input->out.nrows || b->type != input->out.type ||
	    b->has_weight != input->out.has_weight || b->ncols != input->out.ncols)
		return br_circuit_feed(c, input, b, err);
	br_batch t = input->out;
	input->out = *b;
	*b = t;
	return 0;
}

/* -------------------------------------------------------------- filter */

typedef struct { br_expr *pred; } filter_st;

static int filter_step(br_op *op, br_circuit *c, br_err *err)
{
	filter_st *st = op->st;
	const br_batch *in = &op->in[0]->out;
	br_value *row = br_circuit_row_buf(c, in->ncols), v;
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		int rc = br_expr_eval(st->pred, &c->ev, row, &v, err);
		if (rc)
			return rc;
		if (br_val_is_true(&v))
			br_batch_append_row(&op->out, row, br_batch_weight(in, i));
	}
	return 0;
}

static void free_st(br_op *op) { free(op->st); }
static const br_op_vt filter_vt = { "filter", filter_step, NULL, br_op_save_none, br_op_load_none, free_st, simple_explain };

br_op *br_op_filter(br_circuit *c, br_op *in, br_expr *pred)
{
	int n = br_op_ncols(in);
	br_type_id *t = br_xcalloc((size_t)n + 1, sizeof *t);
	for (int i = 0; i < n; i++)
		t[i] = br_op_col_type(in, i);
	br_op *op = br_op_new(c, &filter_vt, n, t);
	free(t);
	filter_st *st = br_xcalloc(1, sizeof *st);
	st->pred = pred;
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

/* ----------------------------------------------------------------- map */

typedef struct { int n; br_expr **exprs; } map_st;

static int map_step(br_op *op, br_circuit *c, br_err *err)
{
	map_st *st = op->st;
	const br_batch *in = &op->in[0]->out;
	br_value *row = br_circuit_row_buf(c, in->ncols), *o = br_circuit_row_buf(c, st->n);
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		for (int k = 0; k < st->n; k++) {
			int rc = br_expr_eval(st->exprs[k], &c->ev, row, &o[k], err);
			if (rc)
				return rc;
		}
		br_batch_append_row(&op->out, o, br_batch_weight(in, i));
	}
	return 0;
}

static void map_free(br_op *op)
{
	map_st *st = op->st;
	free(st->exprs);
	free(st);
}
static const br_op_vt map_vt = { "map", map_step, NULL, br_op_save_none, br_op_load_none, map_free, simple_explain };

br_op *br_op_map(br_circuit *c, br_op *in, int n, br_expr **exprs)
{
	br_type_id *t = br_xcalloc((size_t)n + 1, sizeof *t);
	for (int i = 0; i < n; i++)
		t[i] = exprs[i]->type;
	br_op *op = br_op_new(c, &map_vt, n, t);
	free(t);
	map_st *st = br_xcalloc(1, sizeof *st);
	st->n = n;
	st->exprs = br_xcalloc((size_t)n + 1, sizeof *st->exprs);
	memcpy(st->exprs, exprs, sizeof *exprs * (size_t)n);
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

/* --------------------------------------------------------------- union */

static int union_step(br_op *op, br_circuit *c, br_err *err)
{
	bool neg = op->st != NULL;
	for (int s = 0; s < 2; s++) {
		const br_batch *in = &op->in[s]->out;
		br_value *row = br_circuit_row_buf(c, in->ncols);
		for (int64_t i = 0; i < in->nrows; i++) {
			br_batch_get_row(in, i, row);
			int64_t w = br_batch_weight(in, i);
			br_batch_append_row(&op->out, row, s == 1 && neg ? -w : w);
		}
	}
	return 0;
}
static const br_op_vt union_vt = { "union", union_step, NULL, br_op_save_none, br_op_load_none, NULL, simple_explain };

static br_type_id *common_types(const br_op *a, const br_op *b)
{
	int n = br_op_ncols(a);
	br_type_id *t = br_xcalloc((size_t)n + 1, sizeof *t);
	for (int i = 0; i < n; i++) {
		t[i] = br_op_col_type(a, i);
		if (i < br_op_ncols(b) && br_op_col_type(b, i) == BR_T_DOUBLE)
			t[i] = t[i] == BR_T_LONG ? BR_T_DOUBLE : t[i];
	}
	return t;
}

br_op *br_op_union(br_circuit *c, br_op *a, br_op *b, bool negate_b)
{
	br_type_id *t = common_types(a, b);
	br_op *op = br_op_new(c, &union_vt, br_op_ncols(a), t);
	free(t);
	op->st = negate_b ? (void *)1 : NULL;
	op->nin = 2;
	op->in[0] = a;
	op->in[1] = b;
	return op;
}

/* ---------------------------------------------------------------- join
 *
 * State per side: `idx` maps an encoded join key to a list of the side's rows
 * with that key; `rows` maps key||row to the row's list node, so repeated
 * inserts and deletes of one row merge into one weight instead of growing the
 * list. A step computes ΔA⋈B + (A+ΔA)⋈ΔB, which equals ΔA⋈B + A⋈ΔB + ΔA⋈ΔB.
 * Nodes whose weight returned to 0 stay in their list (skipped): the cost of
 * arena allocation, paid back when the operator is freed.
 *
 * Outer joins add padded rows (the preserved side's row, NULLs for the other)
 * for keys the other side lacks. Each `idx` entry's weight is the side's total
 * weight for that key, so "no match" is other.count(k) == 0. With z(k) that
 * indicator, the padded rows change by
 *   Σk A'(k)·(z'(k) − z(k)) + ΔA(k)·z(k)
 * (A' = A + ΔA, z' after the step): rows of keys whose indicator flipped, plus
 * the delta's rows under the old indicator. Rows with a NULL key never match,
 * so their padded rows are just the delta's (no state). */

typedef struct jnode {
	const uint8_t *row;
	uint32_t len;
	int64_t w;
	struct jnode *next;
} jnode;

typedef struct {
	br_arena arena;
	br_ztab idx, rows;
	int nkeys;
	int *keys;
	int ncols;
} jside;

typedef struct {
	jside side[2];
	br_buf kbuf;
	int kind; /* br_join_kind */
} join_st;

static bool key_of(const jside *s, const br_value *row, br_value *kv)
{
	for (int k = 0; k < s->nkeys; k++) {
		kv[k] = row[s->keys[k]];
		if (kv[k].is_null)
			return false;
	}
	return true;
}

static int join_probe(br_op *op, br_circuit *c, int s, br_err *err)
{
	join_st *st = op->st;
	jside *me = &st->side[s], *other = &st->side[1 - s];
	const br_batch *in = &op->in[s]->out;
	int na = st->side[0].ncols, nb = st->side[1].ncols;
	br_value *row = br_circuit_row_buf(c, in->ncols), *kv = br_circuit_row_buf(c, me->nkeys), *orow = br_circuit_row_buf(c, other->ncols);
	br_value *outrow = br_circuit_row_buf(c, na + nb);
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		if (!key_of(me, row, kv))
			continue;
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, kv, me->nkeys);
		br_zent *e = br_ztab_find(&other->idx, st->kbuf.p, st->kbuf.len);
		if (!e)
			continue;
		int64_t w = br_batch_weight(in, i);
		for (jnode *n = e->aux; n; n = n->next) {
			if (!n->w)
				continue;
			int rc = br_row_decode(n->row, n->len, orow, other->ncols, err);
			if (rc)
				return rc;
			const br_value *ra = s == 0 ? row : orow, *rb = s == 0 ? orow : row;
			memcpy(outrow, ra, sizeof *ra * (size_t)na);
			memcpy(outrow + na, rb, sizeof *rb * (size_t)nb);
			br_batch_append_row(&op->out, outrow, w * n->w);
		}
	}
	return 0;
}

static void join_update(br_op *op, br_circuit *c, int s)
{
	join_st *st = op->st;
	jside *me = &st->side[s];
	const br_batch *in = &op->in[s]->out;
	br_value *row = br_circuit_row_buf(c, in->ncols), *kv = br_circuit_row_buf(c, me->nkeys);
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		if (!key_of(me, row, kv))
			continue; /* a NULL key never matches: no need to remember the row */
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, kv, me->nkeys);
		size_t klen = st->kbuf.len;
		br_row_encode(&st->kbuf, row, me->ncols);
		br_zent *re = br_ztab_upsert(&me->rows, st->kbuf.p, st->kbuf.len);
		jnode *n = re->aux;
		if (!n) {
			n = br_arena_alloc(&me->arena, sizeof *n);
			n->row = re->key + klen;
			n->len = (uint32_t)(re->klen - klen);
			re->aux = n;
			br_zent *ke = br_ztab_upsert(&me->idx, st->kbuf.p, klen);
			n->next = ke->aux;
			ke->aux = n;
		}
		n->w += br_batch_weight(in, i);
		re->w = n->w;
		br_ztab_find(&me->idx, st->kbuf.p, klen)->w += br_batch_weight(in, i);
	}
}

/* A batch query's inner join (c->once): the smaller delta is hashed, the other
 * probes it, and nothing is kept for a later step. Build rows stay in their
 * input's delta (alive until the producer's next step) and are named by
 * index, so they are neither encoded nor copied. */
typedef struct onode {
	int64_t row;
	struct onode *next;
} onode;

static int join_once(br_op *op, br_circuit *c, br_err *err)
{
	join_st *st = op->st;
	int bs = op->in[0]->out.nrows <= op->in[1]->out.nrows ? 0 : 1, ps = 1 - bs;
	const br_batch *bin = &op->in[bs]->out, *pin = &op->in[ps]->out;
	jside *bside = &st->side[bs], *pside = &st->side[ps];
	int na = st->side[0].ncols, nb = st->side[1].ncols;
	br_ztab idx;
	br_ztab_init(&idx, &c->scratch);
	br_value *row = br_circuit_row_buf(c, bside->ncols), *kv = br_circuit_row_buf(c, bside->nkeys);
	for (int64_t i = 0; i < bin->nrows; i++) {
		br_batch_get_row(bin, i, row);
		if (!key_of(bside, row, kv))
			continue;
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, kv, bside->nkeys);
		br_zent *e = br_ztab_upsert(&idx, st->kbuf.p, st->kbuf.len);
		onode *n = br_arena_alloc(&c->scratch, sizeof *n);
		n->row = i;
		n->next = e->aux;
		e->aux = n;
	}
	br_value *prow = br_circuit_row_buf(c, pside->ncols), *out = br_circuit_row_buf(c, na + nb);
	kv = br_circuit_row_buf(c, pside->nkeys);
	br_value *pout = out + (ps == 0 ? 0 : na), *bout = out + (bs == 0 ? 0 : na);
	for (int64_t i = 0; idx.count && i < pin->nrows; i++) {
		br_batch_get_row(pin, i, prow);
		if (!key_of(pside, prow, kv))
			continue;
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, kv, pside->nkeys);
		br_zent *e = br_ztab_find(&idx, st->kbuf.p, st->kbuf.len);
		if (!e)
			continue;
		int64_t w = br_batch_weight(pin, i);
		for (onode *n = e->aux; n; n = n->next) {
			memcpy(pout, prow, sizeof *prow * (size_t)pside->ncols);
			br_batch_get_row(bin, n->row, bout);
			br_batch_append_row(&op->out, out, w * br_batch_weight(bin, n->row));
		}
	}
	br_ztab_free(&idx);
	(void)err;
	return 0;
}

/* Emits row (of side s) padded with NULLs for the other side. */
static void emit_padded(br_op *op, br_circuit *c, int s, const br_value *row, int64_t w)
{
	join_st *st = op->st;
	int na = st->side[0].ncols, nb = st->side[1].ncols;
	br_value *out = br_circuit_row_buf(c, na + nb);
	for (int i = 0; i < na + nb; i++)
		out[i] = br_value_null(br_op_col_type(op, i));
	memcpy(out + (s == 0 ? 0 : na), row, sizeof *row * (size_t)(s == 0 ? na : nb));
	br_batch_append_row(&op->out, out, w);
}

typedef struct { int64_t old[2]; } kcounts;

/* Before the step's updates: old per-key counts of both sides for every key
 * either delta touches. */
static void outer_snapshot(br_op *op, br_circuit *c, br_ztab *touched, br_arena *ta)
{
	join_st *st = op->st;
	for (int s = 0; s < 2; s++) {
		const br_batch *in = &op->in[s]->out;
		br_value *row = br_circuit_row_buf(c, in->ncols), *kv = br_circuit_row_buf(c, st->side[s].nkeys);
		for (int64_t i = 0; i < in->nrows; i++) {
			br_batch_get_row(in, i, row);
			if (!key_of(&st->side[s], row, kv))
				continue;
			br_buf_reset(&st->kbuf);
			br_row_encode(&st->kbuf, kv, st->side[s].nkeys);
			br_zent *e = br_ztab_upsert(touched, st->kbuf.p, st->kbuf.len);
			if (!e->aux) {
				kcounts *k = br_arena_alloc(ta, sizeof *k);
				for (int t = 0; t < 2; t++) {
					br_zent *ie = br_ztab_find(&st->side[t].idx, st->kbuf.p, st->kbuf.len);
					k->old[t] = ie ? ie->w : 0;
				}
				e->aux = k;
			}
		}
	}
}

/* After the updates: padded rows of preserved side s (see the formula above). */
static int outer_emit(br_op *op, br_circuit *c, int s, const br_ztab *touched, br_err *err)
{
	join_st *st = op->st;
	jside *me = &st->side[s], *other = &st->side[1 - s];
	const br_batch *in = &op->in[s]->out;
	br_value *row = br_circuit_row_buf(c, me->ncols), *kv = br_circuit_row_buf(c, me->nkeys);
	/* the delta's rows under the old indicator */
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		int64_t w = br_batch_weight(in, i);
		if (!key_of(me, row, kv)) {
			emit_padded(op, c, s, row, w);
			continue;
		}
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, kv, me->nkeys);
		const kcounts *k = br_ztab_find(touched, st->kbuf.p, st->kbuf.len)->aux;
		if (k->old[1 - s] == 0)
			emit_padded(op, c, s, row, w);
	}
	/* keys whose indicator flipped: every current row of the key */
	br_zent *e;
	for (size_t i = 0; (e = br_ztab_next(touched, &i));) {
		const kcounts *k = e->aux;
		br_zent *oe = br_ztab_find(&other->idx, e->key, e->klen);
		int64_t now = oe ? oe->w : 0;
		int64_t dz = (int64_t)(now == 0) - (int64_t)(k->old[1 - s] == 0);
		if (!dz)
			continue;
		br_zent *me_e = br_ztab_find(&me->idx, e->key, e->klen);
		for (jnode *n = me_e ? me_e->aux : NULL; n; n = n->next) {
			if (!n->w)
				continue;
			int rc = br_row_decode(n->row, n->len, row, me->ncols, err);
			if (rc)
				return rc;
			emit_padded(op, c, s, row, n->w * dz);
		}
	}
	return 0;
}

static int join_step(br_op *op, br_circuit *c, br_err *err)
{
	join_st *st = op->st;
	if (c->once && st->kind == BR_JOIN_INNER)
		return join_once(op, c, err);
	br_ztab touched;
	br_ztab_init(&touched, &c->scratch);
	if (st->kind != BR_JOIN_INNER)
		outer_snapshot(op, c, &touched, &c->scratch);
	int rc = join_probe(op, c, 0, err);
	if (!rc) {
		join_update(op, c, 0);
		rc = join_probe(op, c, 1, err);
	}
	if (!rc)
		join_update(op, c, 1);
	if (!rc && (st->kind == BR_JOIN_LEFT || st->kind == BR_JOIN_FULL))
		rc = outer_emit(op, c, 0, &touched, err);
	if (!rc && (st->kind == BR_JOIN_RIGHT || st->kind == BR_JOIN_FULL))
		rc = outer_emit(op, c, 1, &touched, err);
	br_ztab_free(&touched);
	return rc;
}

static void join_free(br_op *op)
{
	join_st *st = op->st;
	for (int s = 0; s < 2; s++) {
		br_ztab_free(&st->side[s].idx);
		br_ztab_free(&st->side[s].rows);
		br_arena_free(&st->side[s].arena);
		free(st->side[s].keys);
	}
	br_buf_free(&st->kbuf);
	free(st);
}

static void join_explain(const br_op *op, br_buf *out)
{
	const join_st *st = op->st;
	static const char *kinds[] = { "", " left", " right", " full" };
	br_buf_printf(out, "join%s keys=%d", kinds[st->kind], st->side[0].nkeys);
}
static const br_op_vt join_vt = { "join", join_step, NULL, join_save, join_load, join_free, join_explain };

br_op *br_op_join(br_circuit *c, br_op *a, br_op *b, int nkeys, const int *akeys, const int *bkeys)
{
	return br_op_join_outer(c, a, b, nkeys, akeys, bkeys, BR_JOIN_INNER);
}

br_op *br_op_join_outer(br_circuit *c, br_op *a, br_op *b, int nkeys, const int *akeys, const int *bkeys, int kind)
{
	int na = br_op_ncols(a), nb = br_op_ncols(b);
	br_op *op = br_op_new_pair(c, &join_vt, a, b);
	join_st *st = br_xcalloc(1, sizeof *st);
	st->kind = kind;
	for (int s = 0; s < 2; s++) {
		jside *js = &st->side[s];
		br_arena_init(&js->arena, 64 * 1024);
		br_ztab_init(&js->idx, &js->arena);
		br_ztab_init(&js->rows, &js->arena);
		js->nkeys = nkeys;
		js->keys = br_xcalloc((size_t)nkeys + 1, sizeof(int));
		if (nkeys)
			memcpy(js->keys, s == 0 ? akeys : bkeys, sizeof(int) * (size_t)nkeys);
		js->ncols = s == 0 ? na : nb;
	}
	op->st = st;
	op->nin = 2;
	op->in[0] = a;
	op->in[1] = b;
	return op;
}

/* ----------------------------------------------------------- aggregate
 *
 * State: groups keyed by the encoded group columns. A group keeps its row
 * count, per aggregate a running count of non-null inputs and an exact integer
 * sum (int128), and — for min/max, DISTINCT aggregates and sums of doubles — a
 * multiset of the input values (value -> multiplicity), so that deletes are
 * exact: min/max survive the deletion of the current extreme, and double sums
 * are recomputed in value order so that the result does not depend on the
 * order rows arrived (determinism over speed: O(distinct values) per touched
 * group). A group also keeps its last emitted row, so a step retracts it and
 * emits the new one. */

typedef struct {
	int64_t nn, ntrue;
	__int128 isum;
	br_ztab *ms;
	/* Kept as values enter and leave the multiset (weight crossing 0), so
	 * the common aggregates never rescan it: a heap of the live values (min,
	 * max), how many there are and their exact sum (DISTINCT count/sum). */
	br_xheap *xh;
	int64_t nlive;
	__int128 lsum;
	br_type_id in_type;
	/* min/max of a batch query (agg_st.once): the running extreme */
	br_value ext;
	bool has_ext;
} aggst;

typedef struct group {
	int64_t cnt;
	int64_t touched_step;
	const uint8_t *key;   /* encoded group columns (the table's copy) */
	uint32_t klen;
	uint8_t *out;         /* last emitted output row (valid when outlen > 0 or has_out) */
	uint32_t outlen, outcap;
	bool has_out;
	aggst a[];
} group;

typedef struct {
	br_arena arena;
	br_ztab groups;
	int ngroup, naggs, ncols_in;
	int *gcols;
	br_agg_spec *aggs;
	group **touched;
	size_t ntouched, captouched;
	br_buf kbuf;
	int64_t step;
	bool started;
	/* Stepped once from empty with only insertions (a batch query): min/max
	 * keep the running extreme instead of the multiset deletes would need. */
	bool once;
	br_ztab **all_ms; /* every multiset, for freeing */
	size_t nms, capms;
	br_xheap **all_xh; /* every heap, for freeing */
	size_t nxh, capxh;
} agg_st;

static bool needs_ms(const agg_st *st, const br_agg_spec *s, const br_op *in)
{
	if (s->distinct || s->kind == BR_AGG_MIN || s->kind == BR_AGG_MAX || s->kind == BR_AGG_STRING_AGG ||
	    s->kind == BR_AGG_ARRAY_AGG)
		return true;
	return (s->kind == BR_AGG_SUM || s->kind == BR_AGG_AVG) && s->col >= 0 && br_op_col_type(in, s->col) == BR_T_DOUBLE;
}

static bool is_plain_minmax(const br_agg_spec *s)
{
	return !s->distinct && (s->kind == BR_AGG_MIN || s->kind == BR_AGG_MAX);
}

static group *agg_group(br_op *op, const uint8_t *key, size_t klen)
{
	agg_st *st = op->st;
	br_zent *e = br_ztab_upsert(&st->groups, key, klen);
	group *g = e->aux;
	if (!g) {
		g = br_arena_alloc(&st->arena, sizeof *g + sizeof(aggst) * (size_t)st->naggs);
		g->touched_step = -1;
		g->key = e->key;
		g->klen = e->klen;
		for (int k = 0; k < st->naggs; k++) {
			if (st->aggs[k].col >= 0)
				g->a[k].in_type = br_op_col_type(op->in[0], st->aggs[k].col);
			if (needs_ms(st, &st->aggs[k], op->in[0]) && !(st->once && is_plain_minmax(&st->aggs[k]))) {
				g->a[k].ms = br_xcalloc(1, sizeof(br_ztab));
				br_ztab_init(g->a[k].ms, &st->arena);
				if (st->aggs[k].kind == BR_AGG_MIN || st->aggs[k].kind == BR_AGG_MAX) {
					g->a[k].xh = br_arena_alloc(&st->arena, sizeof(br_xheap));
					br_xheap_init(g->a[k].xh, st->aggs[k].kind == BR_AGG_MAX);
					if (st->nxh == st->capxh) {
						st->capxh = st->capxh ? st->capxh * 2 : 16;
						st->all_xh = br_xrealloc(st->all_xh, st->capxh * sizeof *st->all_xh);
					}
					st->all_xh[st->nxh++] = g->a[k].xh;
				}
				if (st->nms == st->capms) {
					st->capms = st->capms ? st->capms * 2 : 16;
					st->all_ms = br_xrealloc(st->all_ms, st->capms * sizeof *st->all_ms);
				}
				st->all_ms[st->nms++] = g->a[k].ms;
			}
		}
		e->aux = g;
	}
	if (g->touched_step != st->step) {
		g->touched_step = st->step;
		if (st->ntouched == st->captouched) {
			st->captouched = st->captouched ? st->captouched * 2 : 64;
			st->touched = br_xrealloc(st->touched, st->captouched * sizeof *st->touched);
		}
		st->touched[st->ntouched++] = g;
	}
	return g;
}

static int cmp_vals(const void *a, const void *b) { return br_val_cmp(a, b); }

/* string_agg / array_agg: the multiset holds [order keys..., value] rows. */
typedef struct { br_value *v; int64_t m; } lrow;

static int lrow_cmp(const void *x, const void *y, void *arg)
{
	const br_agg_spec *s = arg;
	const lrow *a = x, *b = y;
	for (int j = 0; j <= s->norder; j++) {
		const br_value *u = &a->v[j], *v = &b->v[j];
		bool desc = j < s->norder && s->odesc[j], nf = j < s->norder ? s->onulls_first[j] : false;
		if (u->is_null || v->is_null) {
			if (u->is_null && v->is_null)
				continue;
			return u->is_null ? (nf ? -1 : 1) : (nf ? 1 : -1);
		}
		int r = br_val_cmp(u, v);
		if (r)
			return desc ? -r : r;
	}
	return 0;
}

/* PostgreSQL's array element quoting: "" around empty strings, NULL, and
 * anything with braces, commas, quotes, backslashes or blanks. */
static void array_elem(br_buf *out, const br_value *v, br_type_id t)
{
	if (v->is_null) {
		br_buf_printf(out, "NULL");
		return;
	}
	br_buf tb = { 0 };
	if (t == BR_T_STRING)
		br_buf_put(&tb, v->v.bytes.p, v->v.bytes.len);
	else if (t == BR_T_DOUBLE)
		br_buf_printf(&tb, "%.15g", v->v.f64);
	else
		br_val_format_pg(v, t, &tb);
	bool q = tb.len == 0 || (tb.len == 4 && !strncasecmp((const char *)tb.p, "null", 4));
	for (size_t i = 0; i < tb.len && !q; i++)
		q = strchr("{},\\\" \t\n", tb.p[i]) != NULL;
	if (q)
		br_buf_u8(out, '"');
	for (size_t i = 0; i < tb.len; i++) {
		if (q && (tb.p[i] == '"' || tb.p[i] == '\\'))
			br_buf_u8(out, '\\');
		br_buf_u8(out, tb.p[i]);
	}
	if (q)
		br_buf_u8(out, '"');
	br_buf_free(&tb);
}

static int agg_list(agg_st *st, br_circuit *c, group *g, int k, const br_op *in, br_value *out, br_err *err)
{
	const br_agg_spec *s = &st->aggs[k];
	br_ztab *ms = g->a[k].ms;
	int nv = s->norder + 1;
	size_t n = 0, i = 0;
	br_zent *e;
	while ((e = br_ztab_next(ms, &i)))
		n += e->w > 0;
	if (!n) {
		*out = br_value_null(BR_T_STRING);
		return 0;
	}
	lrow *rows = br_arena_alloc(&c->scratch, sizeof *rows * n);
	size_t m = 0;
	for (i = 0; (e = br_ztab_next(ms, &i));) {
		if (e->w <= 0)
			continue;
		rows[m].v = br_arena_alloc(&c->scratch, sizeof(br_value) * (size_t)nv);
		int rc = br_row_decode(e->key, e->klen, rows[m].v, nv, err);
		if (rc)
			return rc;
		rows[m++].m = s->distinct ? 1 : e->w;
	}
	qsort_r(rows, m, sizeof *rows, lrow_cmp, (void *)s);
	br_type_id vt = br_op_col_type(in, s->col);
	br_buf b = { 0 };
	if (s->kind == BR_AGG_ARRAY_AGG)
		br_buf_u8(&b, '{');
	bool first = true;
	for (size_t j = 0; j < m; j++)
		for (int64_t r = 0; r < rows[j].m; r++) {
			const br_value *v = &rows[j].v[s->norder];
			if (!first) {
				if (s->kind == BR_AGG_ARRAY_AGG)
					br_buf_u8(&b, ',');
				else
					br_buf_put(&b, s->sep, s->seplen);
			}
			first = false;
			if (s->kind == BR_AGG_ARRAY_AGG)
				array_elem(&b, v, vt);
			else
				br_buf_put(&b, v->v.bytes.p, v->v.bytes.len);
			if (b.len > (256u << 20)) {
				br_buf_free(&b);
				return br_errf(err, BR_ELIMIT, "%s: result larger than 256 MiB",
					       s->kind == BR_AGG_ARRAY_AGG ? "array_agg" : "string_agg");
			}
		}
	if (s->kind == BR_AGG_ARRAY_AGG)
		br_buf_u8(&b, '}');
	char *p = br_arena_alloc(&c->scratch, b.len + 1);
	if (b.len)
		memcpy(p, b.p, b.len);
	*out = br_value_bytes(BR_T_STRING, p, b.len);
	br_buf_free(&b);
	return 0;
}

/* Computes the current value of aggregate k of group g into *out. */
static int agg_value(agg_st *st, br_circuit *c, group *g, int k, const br_op *in, br_value *out, br_err *err)
{
	const br_agg_spec *s = &st->aggs[k];
	aggst *a = &g->a[k];
	if (s->kind == BR_AGG_STRING_AGG || s->kind == BR_AGG_ARRAY_AGG)
		return agg_list(st, c, g, k, in, out, err);
	if (s->kind == BR_AGG_COUNT_STAR) {
		*out = br_value_i64(BR_T_LONG, g->cnt);
		return 0;
	}
	if (st->once && is_plain_minmax(s)) {
		*out = a->has_ext ? a->ext : br_value_null(s->type);
		return 0;
	}
	if (a->xh) {
		uint32_t klen;
		br_xheap_compact(a->xh, a->ms, (size_t)a->nlive);
		const uint8_t *key = br_xheap_top(a->xh, a->ms, &klen);
		if (!key) {
			*out = br_value_null(s->type);
			return 0;
		}
		return br_row_decode(key, klen, out, 1, err);
	}
	if (a->ms && s->distinct && s->kind == BR_AGG_COUNT) {
		*out = br_value_i64(BR_T_LONG, a->nlive);
		return 0;
	}
	if (a->ms && s->distinct && (s->kind == BR_AGG_SUM || s->kind == BR_AGG_AVG) && a->in_type == BR_T_LONG) {
		a->isum = a->lsum; /* the integer sum below, over live distinct values */
		a->nn = a->nlive;
	} else if (a->ms) {
		/* Live distinct values, sorted: double sums read them in value order so
		 * the result does not depend on arrival order. */
		size_t n = 0, i = 0;
		br_zent *e;
		while ((e = br_ztab_next(a->ms, &i)))
			n += e->w > 0;
		br_value *vals = br_arena_alloc(&c->scratch, sizeof *vals * (n ? n : 1));
		int64_t *mult = br_arena_alloc(&c->scratch, sizeof *mult * (n ? n : 1));
		size_t m = 0;
		i = 0;
		while ((e = br_ztab_next(a->ms, &i))) {
			if (e->w <= 0)
				continue;
			int rc = br_row_decode(e->key, e->klen, &vals[m], 1, err);
			if (rc)
				return rc;
			mult[m++] = e->w;
		}
		if (s->kind == BR_AGG_MIN || s->kind == BR_AGG_MAX) {
			if (!m) {
				*out = br_value_null(s->type);
				return 0;
			}
			size_t best = 0;
			for (size_t j = 1; j < m; j++) {
				int r = br_val_cmp(&vals[j], &vals[best]);
				if (s->kind == BR_AGG_MIN ? r < 0 : r > 0)
					best = j;
			}
			*out = vals[best];
			return 0;
		}
		if (s->kind == BR_AGG_COUNT) {
			int64_t cnt = 0;
			for (size_t j = 0; j < m; j++)
				cnt += s->distinct ? 1 : mult[j];
			*out = br_value_i64(BR_T_LONG, cnt);
			return 0;
		}
		/* Sort only needs value order; multiplicities move with their value. */
		typedef struct { br_value v; int64_t m; } vm;
		vm *arr = br_arena_alloc(&c->scratch, sizeof *arr * (m ? m : 1));
		for (size_t j = 0; j < m; j++) {
			arr[j].v = vals[j];
			arr[j].m = s->distinct ? 1 : mult[j];
		}
		qsort(arr, m, sizeof *arr, cmp_vals);
		int64_t cnt = 0;
		double dsum = 0;
		__int128 isum = 0;
		bool any_true = false, all_true = true;
		for (size_t j = 0; j < m; j++) {
			cnt += arr[j].m;
			if (arr[j].v.type == BR_T_DOUBLE)
				dsum += arr[j].v.v.f64 * (double)arr[j].m;
			else if (arr[j].v.type == BR_T_BOOLEAN) {
				any_true |= arr[j].v.v.b;
				all_true &= arr[j].v.v.b;
			} else
				isum += (__int128)arr[j].v.v.i64 * arr[j].m;
		}
		if (!cnt) {
			*out = br_value_null(s->type);
			return 0;
		}
		if (s->kind == BR_AGG_BOOL_AND || s->kind == BR_AGG_BOOL_OR) {
			*out = (br_value){ .type = BR_T_BOOLEAN };
			out->v.b = s->kind == BR_AGG_BOOL_AND ? all_true : any_true;
			return 0;
		}
		bool dbl = m && arr[0].v.type == BR_T_DOUBLE;
		double total = dbl ? dsum : (double)isum;
		if (s->kind == BR_AGG_AVG) {
			*out = br_value_f64(total / (double)cnt);
			return 0;
		}
		if (dbl) {
			*out = br_value_f64(dsum);
			return 0;
		}
		a->isum = isum; /* fall through to the integer sum below */
		a->nn = cnt;
	}
	switch (s->kind) {
	case BR_AGG_COUNT: *out = br_value_i64(BR_T_LONG, a->nn); return 0;
	case BR_AGG_SUM:
		if (a->nn <= 0) {
			*out = br_value_null(s->type);
			return 0;
		}
		if (a->isum > INT64_MAX || a->isum < INT64_MIN)
			return br_errf(err, BR_EINVAL, "bigint out of range (sum)");
		*out = br_value_i64(BR_T_LONG, (int64_t)a->isum);
		return 0;
	case BR_AGG_AVG:
		*out = a->nn > 0 ? br_value_f64((double)a->isum / (double)a->nn) : br_value_null(BR_T_DOUBLE);
		return 0;
	case BR_AGG_BOOL_AND: case BR_AGG_BOOL_OR:
		if (a->nn <= 0) {
			*out = br_value_null(BR_T_BOOLEAN);
			return 0;
		}
		*out = (br_value){ .type = BR_T_BOOLEAN };
		out->v.b = s->kind == BR_AGG_BOOL_AND ? a->ntrue == a->nn : a->ntrue > 0;
		return 0;
	default:
		*out = br_value_null(s->type);
		return 0;
	}
}

/* A value entered (d = 1) or left (d = -1) the live multiset of a. */
static void agg_live(aggst *a, const br_zent *e, const br_value *v, int d)
{
	a->nlive += d;
	if (v->type == BR_T_LONG)
		a->lsum += (__int128)v->v.i64 * d;
	if (a->xh && d > 0)
		br_xheap_push(a->xh, e->key, e->klen); /* leaving values drop out lazily */
}

static void agg_extreme(agg_st *st, aggst *a, const br_agg_spec *s, const br_value *v)
{
	if (a->has_ext) {
		int r = br_val_cmp(v, &a->ext);
		if (s->kind == BR_AGG_MIN ? r >= 0 : r <= 0)
			return;
	}
	a->ext = *v;
	a->has_ext = true;
	if ((v->type == BR_T_STRING || v->type == BR_T_BINARY || v->type == BR_T_INTERVAL) && v->v.bytes.len) {
		uint8_t *p = br_arena_alloc(&st->arena, v->v.bytes.len);
		memcpy(p, v->v.bytes.p, v->v.bytes.len);
		a->ext.v.bytes.p = p;
	}
}

static int agg_step(br_op *op, br_circuit *c, br_err *err)
{
	agg_st *st = op->st;
	const br_batch *in = &op->in[0]->out;
	st->step++;
	st->ntouched = 0;
	br_value *row = br_circuit_row_buf(c, in->ncols), *kv = br_circuit_row_buf(c, st->ngroup);
	int nout = st->ngroup + st->naggs;
	br_value *outrow = br_circuit_row_buf(c, nout);
	if (!st->started && c->once) {
		st->once = true;
		for (int64_t i = 0; st->once && i < in->nrows; i++)
			st->once = br_batch_weight(in, i) > 0;
	}
	if (!st->started && st->ngroup == 0)
		agg_group(op, (const uint8_t *)"", 0); /* the global group exists from the start */
	st->started = true;
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		int64_t w = br_batch_weight(in, i);
		for (int k = 0; k < st->ngroup; k++)
			kv[k] = row[st->gcols[k]];
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, kv, st->ngroup);
		group *g = agg_group(op, st->kbuf.p, st->kbuf.len);
		g->cnt += w;
		for (int k = 0; k < st->naggs; k++) {
			const br_agg_spec *s = &st->aggs[k];
			if (s->col < 0)
				continue;
			const br_value *v = &row[s->col];
			aggst *a = &g->a[k];
			if (s->kind == BR_AGG_STRING_AGG || s->kind == BR_AGG_ARRAY_AGG) {
				/* array_agg keeps NULL elements; string_agg skips them */
				if (v->is_null && s->kind == BR_AGG_STRING_AGG)
					continue;
				br_value kv2[BR_AGG_MAX_ORDER + 1];
				for (int j = 0; j < s->norder; j++)
					kv2[j] = row[s->ocols[j]];
				kv2[s->norder] = *v;
				br_buf_reset(&st->kbuf);
				br_row_encode(&st->kbuf, kv2, s->norder + 1);
				br_ztab_upsert(a->ms, st->kbuf.p, st->kbuf.len)->w += w;
				continue;
			}
			if (v->is_null)
				continue;
			if (st->once && is_plain_minmax(s)) {
				agg_extreme(st, a, s, v);
				continue;
			}
			if (a->ms) {
				br_buf_reset(&st->kbuf);
				br_row_encode(&st->kbuf, v, 1);
				br_zent *e = br_ztab_upsert(a->ms, st->kbuf.p, st->kbuf.len);
				int64_t old = e->w;
				e->w += w;
				if ((old > 0) != (e->w > 0))
					agg_live(a, e, v, e->w > 0 ? 1 : -1);
				continue;
			}
			a->nn += w;
			if (v->type == BR_T_BOOLEAN)
				a->ntrue += v->v.b ? w : 0;
			else if (v->type == BR_T_LONG)
				a->isum += (__int128)v->v.i64 * w;
		}
	}
	for (size_t t = 0; t < st->ntouched; t++) {
		group *g = st->touched[t];
		/* Retract what this group showed before, then show its new row. */
		if (g->has_out) {
			int rc = br_row_decode(g->out, g->outlen, outrow, nout, err);
			if (rc)
				return rc;
			br_batch_append_row(&op->out, outrow, -1);
			g->has_out = false;
		}
		if (g->cnt <= 0 && st->ngroup > 0)
			continue;
		int rc = br_row_decode(g->key, g->klen, outrow, st->ngroup, err);
		if (rc)
			return rc;
		for (int k = 0; k < st->naggs; k++) {
			if ((rc = agg_value(st, c, g, k, op->in[0], &outrow[st->ngroup + k], err)))
				return rc;
		}
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, outrow, nout);
		/* The row's buffer is reused while it fits, so a group that changes
		 * every step does not grow the arena every step. */
		if (st->kbuf.len > g->outcap) {
			g->outcap = (uint32_t)(st->kbuf.len * 2);
			g->out = br_arena_alloc(&st->arena, g->outcap);
		}
		memcpy(g->out, st->kbuf.p, st->kbuf.len);
		g->outlen = (uint32_t)st->kbuf.len;
		g->has_out = true;
		br_batch_append_row(&op->out, outrow, 1);
	}
	return 0;
}

static void agg_free(br_op *op)
{
	agg_st *st = op->st;
	for (size_t i = 0; i < st->nms; i++) {
		br_ztab_free(st->all_ms[i]);
		free(st->all_ms[i]);
	}
	free(st->all_ms);
	for (size_t i = 0; i < st->nxh; i++)
		br_xheap_free(st->all_xh[i]);
	free(st->all_xh);
	br_ztab_free(&st->groups);
	br_arena_free(&st->arena);
	free(st->gcols);
	free(st->aggs);
	free(st->touched);
	br_buf_free(&st->kbuf);
	free(st);
}

static void agg_explain(const br_op *op, br_buf *out)
{
	const agg_st *st = op->st;
	br_buf_printf(out, "aggregate groups=%d aggs=%d", st->ngroup, st->naggs);
}
static const br_op_vt agg_vt = { "aggregate", agg_step, NULL, agg_save, agg_load, agg_free, agg_explain };

br_op *br_op_aggregate(br_circuit *c, br_op *in, int ngroup, const int *gcols, int naggs, const br_agg_spec *aggs)
{
	br_type_id *t = br_xcalloc((size_t)(ngroup + naggs) + 1, sizeof *t);
	for (int i = 0; i < ngroup; i++)
		t[i] = br_op_col_type(in, gcols[i]);
	for (int i = 0; i < naggs; i++)
		t[ngroup + i] = aggs[i].type;
	br_op *op = br_op_new(c, &agg_vt, ngroup + naggs, t);
	free(t);
	agg_st *st = br_xcalloc(1, sizeof *st);
	br_arena_init(&st->arena, 64 * 1024);
	br_ztab_init(&st->groups, &st->arena);
	st->ngroup = ngroup;
	st->naggs = naggs;
	st->gcols = br_xcalloc((size_t)ngroup + 1, sizeof(int));
	if (ngroup)
		memcpy(st->gcols, gcols, sizeof(int) * (size_t)ngroup);
	st->aggs = br_xcalloc((size_t)naggs + 1, sizeof *st->aggs);
	if (naggs)
		memcpy(st->aggs, aggs, sizeof *aggs * (size_t)naggs);
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

/* ---------------------------------------------- distinct, set operations
 *
 * Both keep the integral of their input(s) per row. distinct outputs a row
 * with weight 1 while its integral is positive; a set operation outputs
 * f(wa, wb) copies of a row, f being the operation's multiplicity rule. A step
 * emits f(new) - f(old) for every row its deltas touched. */

typedef struct {
	br_arena arena;
	br_ztab rows;
	int kind; /* -1 distinct, else br_setop_kind */
	br_buf kbuf;
} set_st;

typedef struct { int64_t wa, wb; } wpair;

static int64_t set_f(int kind, int64_t wa, int64_t wb)
{
	switch (kind) {
	case -1: return wa > 0;
	case BR_SET_INTERSECT: return wa > 0 && wb > 0;
	case BR_SET_EXCEPT: return wa > 0 && wb <= 0;
	case BR_SET_INTERSECT_ALL: return BR_MAX(0, BR_MIN(wa, wb));
	default: return BR_MAX(0, wa - wb);
	}
}

static int set_step(br_op *op, br_circuit *c, br_err *err)
{
	set_st *st = op->st;
	for (int s = 0; s < op->nin; s++) {
		const br_batch *in = &op->in[s]->out;
		br_value *row = br_circuit_row_buf(c, in->ncols);
		for (int64_t i = 0; i < in->nrows; i++) {
			br_batch_get_row(in, i, row);
			br_buf_reset(&st->kbuf);
			br_row_encode(&st->kbuf, row, br_op_ncols(op));
			br_zent *e = br_ztab_upsert(&st->rows, st->kbuf.p, st->kbuf.len);
			wpair *p = e->aux;
			if (!p)
				e->aux = p = br_arena_alloc(&st->arena, sizeof *p);
			int64_t before = set_f(st->kind, p->wa, p->wb), w = br_batch_weight(in, i);
			if (s == 0)
				p->wa += w;
			else
				p->wb += w;
			int64_t after = set_f(st->kind, p->wa, p->wb);
			e->w = p->wa;
			if (after != before)
				br_batch_append_row(&op->out, row, after - before);
		}
	}
	return 0;
}

static void set_free(br_op *op)
{
	set_st *st = op->st;
	br_ztab_free(&st->rows);
	br_arena_free(&st->arena);
	br_buf_free(&st->kbuf);
	free(st);
}
static const br_op_vt distinct_vt = { "distinct", set_step, NULL, set_save, set_load, set_free, simple_explain };
static const br_op_vt setop_vt = { "setop", set_step, NULL, set_save, set_load, set_free, simple_explain };

static br_op *set_new(br_circuit *c, const br_op_vt *vt, br_op *a, br_op *b, int kind)
{
	br_type_id *t = b ? common_types(a, b) : common_types(a, a);
	br_op *op = br_op_new(c, vt, br_op_ncols(a), t);
	free(t);
	set_st *st = br_xcalloc(1, sizeof *st);
	br_arena_init(&st->arena, 64 * 1024);
	br_ztab_init(&st->rows, &st->arena);
	st->kind = kind;
	op->st = st;
	op->nin = b ? 2 : 1;
	op->in[0] = a;
	op->in[1] = b;
	return op;
}

br_op *br_op_distinct(br_circuit *c, br_op *in) { return set_new(c, &distinct_vt, in, NULL, -1); }
br_op *br_op_setop(br_circuit *c, br_op *a, br_op *b, int kind) { return set_new(c, &setop_vt, a, b, kind); }

/* -------------------------------------------------------------- window
 *
 * Ranking functions per partition (ROW_NUMBER, RANK, DENSE_RANK), also the
 * engine of top-N: state is, per partition, the multiset of its rows (encoded
 * row -> weight) and the rows it emitted last time. A step applies the deltas,
 * then for every touched partition retracts what it emitted and emits the new
 * ranking (only ranks <= limit when there is a limit). Re-ranking a touched
 * partition costs O(P log P) for P live rows: fine for per-group top-N over
 * many small groups; a global ORDER BY ... LIMIT over a big table pays it per
 * step (an order-statistics tree would make it O(log P); not needed yet). */

typedef struct wpart {
	br_ztab rows;            /* encoded input row -> weight */
	int64_t touched_step;
	struct wout { const uint8_t *key; uint32_t len; int64_t w; } *emitted; /* output rows emitted last (malloc) */
	size_t nemitted;
} wpart;

typedef struct {
	br_arena arena;
	br_ztab parts;
	int npart, nkeys, nfuncs, ncols_in;
	int *pcols, *kinds;
	br_sort_key *keys;
	int64_t limit, step;
	wpart **touched, **all;
	size_t ntouched, captouched, nall, capall;
	br_buf kbuf;
} win_st;

typedef struct { br_value *v; int64_t w; } wrow;

static int wrow_cmp(const void *x, const void *y, void *arg)
{
	const win_st *st = arg;
	const wrow *a = x, *b = y;
	for (int i = 0; i < st->nkeys; i++) {
		const br_sort_key *k = &st->keys[i];
		const br_value *u = &a->v[k->col], *v = &b->v[k->col];
		if (u->is_null || v->is_null) {
			if (u->is_null && v->is_null)
				continue;
			return u->is_null ? (k->nulls_first ? -1 : 1) : (k->nulls_first ? 1 : -1);
		}
		int r = br_val_cmp(u, v);
		if (r)
			return k->desc ? -r : r;
	}
	return 0;
}

/* Peers compare equal on the sort keys; ties are then broken by the whole row
 * so that ROW_NUMBER does not depend on arrival order. */
static int wrow_total(const void *x, const void *y, void *arg)
{
	const win_st *st = arg;
	int r = wrow_cmp(x, y, arg);
	if (r)
		return r;
	const wrow *a = x, *b = y;
	for (int i = 0; i < st->ncols_in; i++) {
		const br_value *u = &a->v[i], *v = &b->v[i];
		if (u->is_null || v->is_null) {
			if (u->is_null != v->is_null)
				return u->is_null ? 1 : -1;
			continue;
		}
		if ((r = br_val_cmp(u, v)))
			return r;
	}
	return 0;
}

static int win_rerank(br_op *op, br_circuit *c, wpart *p, br_err *err)
{
	win_st *st = op->st;
	int nin = st->ncols_in, nout = nin + st->nfuncs, rc;
	br_value *orow = br_circuit_row_buf(c, nout);
	for (size_t i = 0; i < p->nemitted; i++) {
		if ((rc = br_row_decode(p->emitted[i].key, p->emitted[i].len, orow, nout, err)))
			return rc;
		br_batch_append_row(&op->out, orow, -p->emitted[i].w);
	}
	p->nemitted = 0;
	size_t n = 0, i = 0;
	br_zent *e;
	while ((e = br_ztab_next(&p->rows, &i)))
		n += e->w > 0;
	if (!n)
		return 0;
	wrow *rows = br_arena_alloc(&c->scratch, sizeof *rows * n);
	size_t m = 0;
	for (i = 0; (e = br_ztab_next(&p->rows, &i));) {
		if (e->w <= 0)
			continue;
		rows[m].v = br_arena_alloc(&c->scratch, sizeof(br_value) * (size_t)nout);
		if ((rc = br_row_decode(e->key, e->klen, rows[m].v, nin, err)))
			return rc;
		for (int k = 0; k < nin; k++)
			br_val_retag(&rows[m].v[k], br_op_col_type(op->in[0], k));
		rows[m++].w = e->w;
	}
	qsort_r(rows, m, sizeof *rows, wrow_total, st);
	p->emitted = br_xrealloc(p->emitted, sizeof *p->emitted * (m * 2 + 1));
	int64_t rownum = 0, rank = 0, dense = 0;
	for (size_t j = 0; j < m; j++) {
		bool peer = j > 0 && wrow_cmp(&rows[j - 1], &rows[j], st) == 0;
		/* a row of weight w is w identical rows: each gets its own number */
		for (int64_t r = 0; r < rows[j].w; r++) {
			rownum++;
			if (!(peer || r > 0)) {
				rank = rownum;
				dense++;
			}
			bool keep = st->limit < 0;
			for (int f = 0; f < st->nfuncs; f++) {
				int64_t x = st->kinds[f] == BR_WIN_ROW_NUMBER ? rownum : st->kinds[f] == BR_WIN_RANK ? rank : dense;
				rows[j].v[nin + f] = br_value_i64(BR_T_LONG, x);
				keep |= f == 0 && x <= st->limit;
			}
			if (!keep)
				continue;
			br_buf_reset(&st->kbuf);
			br_row_encode(&st->kbuf, rows[j].v, nout);
			if (p->nemitted && p->emitted[p->nemitted - 1].len == st->kbuf.len &&
			    !memcmp(p->emitted[p->nemitted - 1].key, st->kbuf.p, st->kbuf.len)) {
				p->emitted[p->nemitted - 1].w++; /* same row, same ranks (RANK over duplicates) */
			} else {
				if (p->nemitted >= m * 2 + 1)
					p->emitted = br_xrealloc(p->emitted, sizeof *p->emitted * (p->nemitted * 2 + 2));
				uint8_t *k = br_arena_alloc(&st->arena, st->kbuf.len ? st->kbuf.len : 1);
				memcpy(k, st->kbuf.p, st->kbuf.len);
				p->emitted[p->nemitted++] = (struct wout){ k, (uint32_t)st->kbuf.len, 1 };
			}
			br_batch_append_row(&op->out, rows[j].v, 1);
		}
		if (st->limit >= 0 && st->nfuncs && rownum >= st->limit && st->kinds[0] == BR_WIN_ROW_NUMBER)
			break; /* nothing further can be kept */
	}
	return 0;
}

/* Top-N: a row strictly behind the last row a full partition emitted cannot
 * change what it emits (inserted, it ranks past the limit; deleted, it was
 * not shown and ranked nobody shown), so the partition need not be re-ranked.
 * This is what makes a step cost O(changed rows) for most top-N updates,
 * instead of O(partition). "Full": ROW_NUMBER and RANK emitted at least
 * limit rows; DENSE_RANK's last emitted value reached the limit. */
static int win_beyond(br_op *op, br_circuit *c, wpart *p, const br_value *row, bool *skip, br_err *err)
{
	win_st *st = op->st;
	*skip = false;
	if (st->limit < 0 || !p->nemitted || !st->nfuncs)
		return 0;
	int nin = st->ncols_in, nout = nin + st->nfuncs;
	int64_t total = 0;
	for (size_t i = 0; i < p->nemitted; i++)
		total += p->emitted[i].w;
	br_value *last = br_circuit_row_buf(c, nout);
	int rc = br_row_decode(p->emitted[p->nemitted - 1].key, p->emitted[p->nemitted - 1].len, last, nout, err);
	if (rc)
		return rc;
	for (int k = 0; k < nin; k++)
		br_val_retag(&last[k], br_op_col_type(op->in[0], k));
	bool full = st->kinds[0] == BR_WIN_DENSE_RANK ? last[nin].v.i64 >= st->limit : total >= st->limit;
	if (!full)
		return 0;
	wrow a = { (br_value *)row, 1 }, b = { last, 1 };
	int cmp = st->kinds[0] == BR_WIN_ROW_NUMBER ? wrow_total(&a, &b, st) : wrow_cmp(&a, &b, st);
	*skip = cmp > 0;
	return 0;
}

static int win_step(br_op *op, br_circuit *c, br_err *err)
{
	win_st *st = op->st;
	const br_batch *in = &op->in[0]->out;
	st->step++;
	st->ntouched = 0;
	br_value *row = br_circuit_row_buf(c, in->ncols), *kv = br_circuit_row_buf(c, st->npart);
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		for (int k = 0; k < st->npart; k++)
			kv[k] = row[st->pcols[k]];
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, kv, st->npart);
		br_zent *pe = br_ztab_upsert(&st->parts, st->kbuf.p, st->kbuf.len);
		wpart *p = pe->aux;
		if (!p) {
			p = br_arena_alloc(&st->arena, sizeof *p);
			memset(p, 0, sizeof *p);
			br_ztab_init(&p->rows, &st->arena);
			p->touched_step = -1;
			pe->aux = p;
			if (st->nall == st->capall) {
				st->capall = st->capall ? st->capall * 2 : 16;
				st->all = br_xrealloc(st->all, sizeof *st->all * st->capall);
			}
			st->all[st->nall++] = p;
		}
		int rc;
		bool skip = false;
		if (p->touched_step != st->step && (rc = win_beyond(op, c, p, row, &skip, err)))
			return rc;
		if (p->touched_step != st->step && !skip) {
			p->touched_step = st->step;
			if (st->ntouched == st->captouched) {
				st->captouched = st->captouched ? st->captouched * 2 : 64;
				st->touched = br_xrealloc(st->touched, sizeof *st->touched * st->captouched);
			}
			st->touched[st->ntouched++] = p;
		}
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, row, in->ncols);
		br_ztab_upsert(&p->rows, st->kbuf.p, st->kbuf.len)->w += br_batch_weight(in, i);
	}
	for (size_t t = 0; t < st->ntouched; t++) {
		int rc = win_rerank(op, c, st->touched[t], err);
		if (rc)
			return rc;
	}
	return 0;
}

static void win_free(br_op *op)
{
	win_st *st = op->st;
	for (size_t i = 0; i < st->nall; i++) {
		br_ztab_free(&st->all[i]->rows);
		free(st->all[i]->emitted);
	}
	free(st->all);
	free(st->touched);
	br_ztab_free(&st->parts);
	br_arena_free(&st->arena);
	free(st->pcols);
	free(st->kinds);
	free(st->keys);
	br_buf_free(&st->kbuf);
	free(st);
}

static void win_explain(const br_op *op, br_buf *out)
{
	const win_st *st = op->st;
	br_buf_printf(out, "window partitions=%d keys=%d funcs=%d", st->npart, st->nkeys, st->nfuncs);
	if (st->limit >= 0)
		br_buf_printf(out, " top=%" PRId64, st->limit);
}
static const br_op_vt win_vt = { "window", win_step, NULL, win_save, win_load, win_free, win_explain };

br_op *br_op_window(br_circuit *c, br_op *in, int npart, const int *pcols, int nkeys, const br_sort_key *keys,
		    int nfuncs, const int *kinds, int64_t limit)
{
	int nin = br_op_ncols(in);
	br_type_id *t = br_xcalloc((size_t)(nin + nfuncs) + 1, sizeof *t);
	for (int i = 0; i < nin; i++)
		t[i] = br_op_col_type(in, i);
	for (int i = 0; i < nfuncs; i++)
		t[nin + i] = BR_T_LONG;
	br_op *op = br_op_new(c, &win_vt, nin + nfuncs, t);
	free(t);
	win_st *st = br_xcalloc(1, sizeof *st);
	br_arena_init(&st->arena, 64 * 1024);
	br_ztab_init(&st->parts, &st->arena);
	st->npart = npart;
	st->nkeys = nkeys;
	st->nfuncs = nfuncs;
	st->ncols_in = nin;
	st->limit = limit;
	st->pcols = br_xcalloc((size_t)npart + 1, sizeof(int));
	if (npart)
		memcpy(st->pcols, pcols, sizeof(int) * (size_t)npart);
	st->keys = br_xcalloc((size_t)nkeys + 1, sizeof *st->keys);
	if (nkeys)
		memcpy(st->keys, keys, sizeof *keys * (size_t)nkeys);
	st->kinds = br_xcalloc((size_t)nfuncs + 1, sizeof(int));
	if (nfuncs)
		memcpy(st->kinds, kinds, sizeof(int) * (size_t)nfuncs);
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

/* ----------------------------------------------------------- integrate */

typedef struct {
	br_arena arena;
	br_ztab rows;
	br_buf kbuf;
} integ_st;

static int integ_step(br_op *op, br_circuit *c, br_err *err)
{
	integ_st *st = op->st;
	const br_batch *in = &op->in[0]->out;
	br_value *row = br_circuit_row_buf(c, in->ncols);
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, row, in->ncols);
		int64_t w = br_batch_weight(in, i);
		br_ztab_upsert(&st->rows, st->kbuf.p, st->kbuf.len)->w += w;
		br_batch_append_row(&op->out, row, w);
	}
	return 0;
}

static void integ_free(br_op *op)
{
	integ_st *st = op->st;
	br_ztab_free(&st->rows);
	br_arena_free(&st->arena);
	br_buf_free(&st->kbuf);
	free(st);
}
static const br_op_vt integ_vt = { "integrate", integ_step, NULL, integ_save, integ_load, integ_free, simple_explain };

br_op *br_op_integrate(br_circuit *c, br_op *in)
{
	br_type_id *t = common_types(in, in);
	br_op *op = br_op_new(c, &integ_vt, br_op_ncols(in), t);
	free(t);
	integ_st *st = br_xcalloc(1, sizeof *st);
	br_arena_init(&st->arena, 64 * 1024);
	br_ztab_init(&st->rows, &st->arena);
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

const br_ztab *br_op_contents(const br_op *op)
{
	return op->vt == &integ_vt ? &((const integ_st *)op->st)->rows : NULL;
}

/* ------------------------------------------------------------- circuit */

void br_circuit_init(br_circuit *c)
{
	memset(c, 0, sizeof *c);
	br_arena_init(&c->scratch, 64 * 1024);
	c->ev.scratch = &c->scratch;
}

void br_circuit_free(br_circuit *c)
{
	for (int i = 0; i < c->nops; i++) {
		br_op *op = c->ops[i];
		if (op->vt->free)
			op->vt->free(op);
		br_batch_free(&op->out);
		br_type_free(op->out_type);
		free(op);
	}
	free(c->ops);
	br_arena_free(&c->scratch);
	memset(c, 0, sizeof *c);
}

int br_circuit_step(br_circuit *c, br_err *err)
{
	int rc = 0;
	for (int i = 0; i < c->nops && !rc; i++) {
		br_op *op = c->ops[i];
		if (op->vt == &input_vt) {
			op->rows_out += op->out.nrows;
			continue;
		}
		br_batch_reset(&op->out);
		uint64_t t0 = br_mono_ns();
		rc = op->vt->step(op, c, err);
		op->step_ns += br_mono_ns() - t0;
		op->rows_out += op->out.nrows;
	}
	/* Inputs' deltas are consumed by this step; the next feed starts afresh. */
	for (int i = 0; i < c->nops; i++)
		if (c->ops[i]->vt == &input_vt)
			br_batch_reset(&c->ops[i]->out);
	br_arena_reset(&c->scratch);
	c->steps++;
	return rc;
}

void br_circuit_explain(const br_circuit *c, br_buf *out)
{
	for (int i = 0; i < c->nops; i++) {
		const br_op *op = c->ops[i];
		br_buf_printf(out, "%d: ", op->id);
		op->vt->explain(op, out);
		for (int k = 0; k < op->nin; k++)
			br_buf_printf(out, "%s%d", k ? ", " : " <- ", op->in[k]->id);
		br_buf_printf(out, " (%d cols)\n", br_op_ncols(op));
	}
}

/* ---------------------------------------------------------------- stats */

static size_t xheap_bytes(const br_xheap *h) { return h->cap * sizeof *h->a; }

static void join_stats(const join_st *st, br_op_stats *o)
{
	for (int s = 0; s < 2; s++) {
		const jside *j = &st->side[s];
		o->rows += (int64_t)j->rows.count;
		o->bytes += br_arena_bytes(&j->arena) + br_ztab_bytes(&j->idx) + br_ztab_bytes(&j->rows);
	}
}

static void agg_stats(const agg_st *st, br_op_stats *o)
{
	o->rows = (int64_t)st->groups.count;
	o->bytes = br_arena_bytes(&st->arena) + br_ztab_bytes(&st->groups) + st->captouched * sizeof *st->touched;
	for (size_t i = 0; i < st->nms; i++)
		o->bytes += br_ztab_bytes(st->all_ms[i]);
	for (size_t i = 0; i < st->nxh; i++)
		o->bytes += xheap_bytes(st->all_xh[i]);
}

static void win_stats(const win_st *st, br_op_stats *o)
{
	o->bytes = br_arena_bytes(&st->arena) + br_ztab_bytes(&st->parts) +
		   (st->captouched + st->capall) * sizeof(wpart *);
	for (size_t i = 0; i < st->nall; i++) {
		o->rows += (int64_t)st->all[i]->rows.count;
		o->bytes += br_ztab_bytes(&st->all[i]->rows) + st->all[i]->nemitted * sizeof *st->all[i]->emitted;
	}
}

void br_op_state(const br_op *op, br_op_stats *out)
{
	*out = (br_op_stats){ 0 };
	if (op->vt == &join_vt) {
		join_stats(op->st, out);
	} else if (op->vt == &agg_vt) {
		agg_stats(op->st, out);
	} else if (op->vt == &distinct_vt || op->vt == &setop_vt) {
		const set_st *st = op->st;
		out->rows = (int64_t)st->rows.count;
		out->bytes = br_arena_bytes(&st->arena) + br_ztab_bytes(&st->rows);
	} else if (op->vt == &win_vt) {
		win_stats(op->st, out);
	} else if (op->vt == &integ_vt) {
		const integ_st *st = op->st;
		out->rows = (int64_t)st->rows.count;
		out->bytes = br_arena_bytes(&st->arena) + br_ztab_bytes(&st->rows);
	} else if (op->stats) {
		op->stats(op, out);
	}
}

size_t br_circuit_state_bytes(const br_circuit *c)
{
	size_t n = 0;
	for (int i = 0; i < c->nops; i++) {
		br_op_stats st;
		br_op_state(c->ops[i], &st);
		n += st.bytes;
	}
	return n;
}

void br_circuit_explain_analyze(const br_circuit *c, br_buf *out)
{
	size_t total = 0;
	for (int i = 0; i < c->nops; i++) {
		const br_op *op = c->ops[i];
		br_buf_printf(out, "%d: ", op->id);
		op->vt->explain(op, out);
		for (int k = 0; k < op->nin; k++)
			br_buf_printf(out, "%s%d", k ? ", " : " <- ", op->in[k]->id);
		br_op_stats st;
		br_op_state(op, &st);
		total += st.bytes;
		br_buf_printf(out, " (rows out %" PRId64 ", %.3f ms", op->rows_out, (double)op->step_ns / 1e6);
		if (st.bytes)
			br_buf_printf(out, "; state %" PRId64 " entries, %.1f KiB", st.rows, (double)st.bytes / 1024);
		br_buf_printf(out, ")\n");
	}
	br_buf_printf(out, "steps: %" PRId64 ", state: %.1f KiB\n", c->steps, (double)total / 1024);
}

/* ------------------------------------------------------ state save/load
 *
 * The checkpoint hooks (layout helpers and the circuit framing: ckpt.c). Each
 * operator writes what its step cannot recompute: integrated weights, and the
 * rows it emitted last where a step retracts them (aggregate, window). Derived
 * structures (a join's per-key lists, min/max heaps, live counts and sums) are
 * rebuilt while loading, so the saved bytes stay small and a loaded operator
 * is indistinguishable from one that stepped through the same input. Entries
 * whose weights are all 0 are not saved. A loader trusts nothing: every count
 * and length is checked against the bytes left (the cursor turns `bad`). */

static int ck_bad(br_cur *in, br_err *err, const char *what)
{
	return in->bad ? br_errf(err, BR_ECORRUPT, "checkpoint: truncated %s state", what) : 0;
}

/* join: kind, then per side the rows (key||row, key length, weight). */
static int join_save(br_op *op, br_buf *out, br_err *err)
{
	join_st *st = op->st;
	br_ck_int(out, st->kind);
	for (int s = 0; s < 2; s++) {
		size_t live = 0, i = 0;
		br_zent *e;
		while ((e = br_ztab_next(&st->side[s].rows, &i)))
			live += ((const jnode *)e->aux)->w != 0;
		br_buf_uvarint(out, live);
		for (i = 0; (e = br_ztab_next(&st->side[s].rows, &i));) {
			const jnode *n = e->aux;
			if (!n->w)
				continue;
			br_ck_bytes(out, e->key, e->klen);
			br_buf_uvarint(out, e->klen - n->len);
			br_ck_int(out, n->w);
		}
	}
	return 0;
}

static int join_load(br_op *op, br_cur *in, br_err *err)
{
	join_st *st = op->st;
	if (br_ck_get_int(in) != st->kind)
		return br_errf(err, BR_ECORRUPT, "checkpoint: join kind differs");
	for (int s = 0; s < 2 && !in->bad; s++) {
		jside *me = &st->side[s];
		uint64_t n = br_ck_get_count(in);
		for (uint64_t k = 0; k < n && !in->bad; k++) {
			uint32_t len;
			const uint8_t *b = br_ck_get_bytes(in, &len);
			uint64_t klen = br_cur_uvarint(in);
			int64_t w = br_ck_get_int(in);
			if (in->bad || klen > len || !w) {
				in->bad = in->bad || klen > len;
				continue;
			}
			br_zent *re = br_ztab_upsert(&me->rows, b, len);
			jnode *jn = re->aux;
			if (!jn) {
				jn = br_arena_alloc(&me->arena, sizeof *jn);
				jn->row = re->key + klen;
				jn->len = (uint32_t)(re->klen - klen);
				re->aux = jn;
				br_zent *ke = br_ztab_upsert(&me->idx, b, (size_t)klen);
				jn->next = ke->aux;
				ke->aux = jn;
			} else if (re->klen - jn->len != klen) {
				return br_errf(err, BR_ECORRUPT, "checkpoint: join row saved twice with two key lengths");
			}
			jn->w = br_ck_add(jn->w, w);
			re->w = jn->w;
			{
				br_zent *ke = br_ztab_find(&me->idx, b, (size_t)klen);
				ke->w = br_ck_add(ke->w, w);
			}
		}
	}
	return ck_bad(in, err, "join");
}

/* aggregate: started, then per group its key, row count, last emitted row and
 * per aggregate the running count/true count/integer sum and the multiset. */
static int agg_save(br_op *op, br_buf *out, br_err *err)
{
	agg_st *st = op->st;
	br_ck_int(out, st->started);
	br_buf_uvarint(out, st->groups.count);
	br_zent *e;
	for (size_t i = 0; (e = br_ztab_next(&st->groups, &i));) {
		const group *g = e->aux;
		br_ck_bytes(out, e->key, e->klen);
		br_ck_int(out, g->cnt);
		br_buf_u8(out, g->has_out);
		if (g->has_out)
			br_ck_bytes(out, g->out, g->outlen);
		for (int k = 0; k < st->naggs; k++) {
			const aggst *a = &g->a[k];
			br_ck_int(out, a->nn);
			br_ck_int(out, a->ntrue);
			br_ck_int(out, (int64_t)(a->isum >> 64));
			br_ck_int(out, (int64_t)(uint64_t)a->isum);
			br_buf_u8(out, a->ms != NULL);
			if (a->ms)
				br_ck_ztab(out, a->ms);
		}
	}
	return 0;
}

static int agg_load(br_op *op, br_cur *in, br_err *err)
{
	agg_st *st = op->st;
	st->started = br_ck_get_int(in) != 0;
	uint64_t n = br_ck_get_count(in);
	for (uint64_t gi = 0; gi < n && !in->bad; gi++) {
		uint32_t klen, olen = 0;
		const uint8_t *key = br_ck_get_bytes(in, &klen);
		int64_t cnt = br_ck_get_int(in);
		bool has_out = br_cur_u8(in) != 0;
		const uint8_t *o = has_out ? br_ck_get_bytes(in, &olen) : NULL;
		if (in->bad)
			break;
		group *g = agg_group(op, key, klen);
		g->cnt = cnt;
		g->has_out = has_out;
		if (has_out) {
			g->outcap = olen ? olen : 1;
			g->out = br_arena_alloc(&st->arena, g->outcap);
			if (olen)
				memcpy(g->out, o, olen);
			g->outlen = olen;
		}
		for (int k = 0; k < st->naggs && !in->bad; k++) {
			aggst *a = &g->a[k];
			const br_agg_spec *s = &st->aggs[k];
			a->nn = br_ck_get_int(in);
			a->ntrue = br_ck_get_int(in);
			uint64_t hi = (uint64_t)br_ck_get_int(in), lo = (uint64_t)br_ck_get_int(in);
			a->isum = (__int128)(((unsigned __int128)hi << 64) | lo);
			bool has_ms = br_cur_u8(in) != 0;
			if (in->bad)
				break;
			if (has_ms != (a->ms != NULL))
				return br_errf(err, BR_ECORRUPT, "checkpoint: aggregate %d multiset mismatch", k);
			if (!has_ms)
				continue;
			uint64_t m = br_ck_get_count(in);
			for (uint64_t j = 0; j < m && !in->bad; j++) {
				uint32_t vlen;
				const uint8_t *vk = br_ck_get_bytes(in, &vlen);
				int64_t w = br_ck_get_int(in);
				if (in->bad || !w)
					continue;
				br_zent *e = br_ztab_upsert(a->ms, vk, vlen);
				int64_t old = e->w;
				e->w = br_ck_add(e->w, w);
				if (s->kind == BR_AGG_STRING_AGG || s->kind == BR_AGG_ARRAY_AGG || (old > 0) == (e->w > 0))
					continue;
				br_value v;
				int rc = br_row_decode(e->key, e->klen, &v, 1, err);
				if (rc)
					return rc;
				br_val_retag(&v, a->in_type);
				agg_live(a, e, &v, e->w > 0 ? 1 : -1);
			}
		}
	}
	st->ntouched = 0; /* agg_group listed them as touched by this load */
	return ck_bad(in, err, "aggregate");
}

/* distinct / set operations: per row the integrals of both inputs. */
static int set_save(br_op *op, br_buf *out, br_err *err)
{
	set_st *st = op->st;
	size_t n = 0, i = 0;
	br_zent *e;
	while ((e = br_ztab_next(&st->rows, &i))) {
		const wpair *p = e->aux;
		n += p && (p->wa || p->wb);
	}
	br_buf_uvarint(out, n);
	for (i = 0; (e = br_ztab_next(&st->rows, &i));) {
		const wpair *p = e->aux;
		if (!p || !(p->wa || p->wb))
			continue;
		br_ck_bytes(out, e->key, e->klen);
		br_ck_int(out, p->wa);
		br_ck_int(out, p->wb);
	}
	return 0;
}

static int set_load(br_op *op, br_cur *in, br_err *err)
{
	set_st *st = op->st;
	uint64_t n = br_ck_get_count(in);
	for (uint64_t k = 0; k < n && !in->bad; k++) {
		uint32_t len;
		const uint8_t *key = br_ck_get_bytes(in, &len);
		int64_t wa = br_ck_get_int(in), wb = br_ck_get_int(in);
		if (in->bad)
			break;
		br_zent *e = br_ztab_upsert(&st->rows, key, len);
		wpair *p = e->aux;
		if (!p)
			e->aux = p = br_arena_alloc(&st->arena, sizeof *p);
		p->wa = br_ck_add(p->wa, wa);
		p->wb = br_ck_add(p->wb, wb);
		e->w = p->wa;
	}
	return ck_bad(in, err, "distinct/set operation");
}

/* window: per partition its key, its rows and the rows it emitted last. */
static int win_save(br_op *op, br_buf *out, br_err *err)
{
	win_st *st = op->st;
	br_buf_uvarint(out, st->parts.count);
	br_zent *e;
	for (size_t i = 0; (e = br_ztab_next(&st->parts, &i));) {
		const wpart *p = e->aux;
		br_ck_bytes(out, e->key, e->klen);
		br_ck_ztab(out, &p->rows);
		br_buf_uvarint(out, p->nemitted);
		for (size_t k = 0; k < p->nemitted; k++) {
			br_ck_bytes(out, p->emitted[k].key, p->emitted[k].len);
			br_ck_int(out, p->emitted[k].w);
		}
	}
	return 0;
}

static int win_load(br_op *op, br_cur *in, br_err *err)
{
	win_st *st = op->st;
	uint64_t n = br_ck_get_count(in);
	for (uint64_t k = 0; k < n && !in->bad; k++) {
		uint32_t len;
		const uint8_t *key = br_ck_get_bytes(in, &len);
		if (in->bad)
			break;
		br_zent *pe = br_ztab_upsert(&st->parts, key, len);
		wpart *p = pe->aux;
		if (!p) {
			p = br_arena_alloc(&st->arena, sizeof *p);
			memset(p, 0, sizeof *p);
			br_ztab_init(&p->rows, &st->arena);
			p->touched_step = -1;
			pe->aux = p;
			if (st->nall == st->capall) {
				st->capall = st->capall ? st->capall * 2 : 16;
				st->all = br_xrealloc(st->all, sizeof *st->all * st->capall);
			}
			st->all[st->nall++] = p;
		}
		int rc = br_ck_get_ztab(in, &p->rows, err);
		if (rc)
			return rc;
		uint64_t m = br_ck_get_count(in);
		if (in->bad)
			break;
		p->emitted = br_xrealloc(p->emitted, sizeof *p->emitted * (size_t)(p->nemitted + m + 1));
		for (uint64_t j = 0; j < m && !in->bad; j++) {
			uint32_t el;
			const uint8_t *eb = br_ck_get_bytes(in, &el);
			int64_t w = br_ck_get_int(in);
			if (in->bad)
				break;
			uint8_t *copy = br_arena_alloc(&st->arena, el ? el : 1);
			if (el)
				memcpy(copy, eb, el);
			p->emitted[p->nemitted++] = (struct wout){ copy, el, w };
		}
	}
	return ck_bad(in, err, "window");
}

static int integ_save(br_op *op, br_buf *out, br_err *err)
{
	br_ck_ztab(out, &((integ_st *)op->st)->rows);
	return 0;
}

static int integ_load(br_op *op, br_cur *in, br_err *err)
{
	return br_ck_get_ztab(in, &((integ_st *)op->st)->rows, err);
}
