/* optimize.c — rewrites of a bound logical plan before it is lowered: filter
 * conjuncts move down through inner joins (and to the preserved side of outer
 * ones) so joins index fewer rows, and columns nobody reads are dropped below
 * joins so they index narrower rows — for a materialized view, state it
 * keeps for ever. Nodes are never modified in place (a plan may share
 * subtrees, e.g. a CTE used twice): a changed node is a copy. */
#include <string.h>

#include "base/util.h"
#include "sql/plan.h"

typedef struct {
	br_arena *a;
} opt;

static bool pushable(const br_expr *e)
{
	if (e->kind == BR_X_SUBQ || e->kind == BR_X_PARAM || e->kind == BR_X_AGGREF)
		return false;
	for (int i = 0; i < e->nargs; i++)
		if (!pushable(e->args[i]))
			return false;
	return true;
}

/* The range of COL indexes e reads ([INT32_MAX, -1] when none). */
static void col_range(const br_expr *e, int *lo, int *hi)
{
	if (e->kind == BR_X_COL) {
		*lo = BR_MIN(*lo, e->col);
		*hi = BR_MAX(*hi, e->col);
	}
	for (int i = 0; i < e->nargs; i++)
		col_range(e->args[i], lo, hi);
}

static br_expr *shift(opt *o, const br_expr *e, int delta)
{
	br_expr *c = br_arena_alloc(o->a, sizeof *c);
	*c = *e;
	if (c->kind == BR_X_COL)
		c->col += delta;
	if (e->nargs) {
		c->args = br_arena_alloc(o->a, sizeof *c->args * (size_t)e->nargs);
		for (int i = 0; i < e->nargs; i++)
			c->args[i] = shift(o, e->args[i], delta);
	}
	return c;
}

static plan *copy(opt *o, const plan *p)
{
	plan *c = br_arena_alloc(o->a, sizeof *c);
	*c = *p;
	/* Presentation belongs to a query's root; the root is restored by the caller. */
	c->nvisible = p->ncols;
	c->nsort = 0;
	c->sort = NULL;
	c->limit = -1;
	c->offset = 0;
	return c;
}

static plan *filter(opt *o, plan *in, br_expr *e)
{
	plan *f = br_arena_alloc(o->a, sizeof *f); /* zeroed */
	f->kind = P_FILTER;
	f->ncols = in->ncols;
	f->types = in->types;
	f->names = in->names;
	f->in[0] = in;
	f->pred = e;
	f->has_subq = in->has_subq;
	f->nvisible = in->ncols;
	f->limit = -1;
	return f;
}

/* Applies predicate e (over p's columns) to p as low as it can go. */
static plan *push(opt *o, plan *p, br_expr *e)
{
	if (p->kind == P_FILTER && !p->has_subq) {
		plan *c = copy(o, p);
		c->in[0] = push(o, p->in[0], e);
		return c;
	}
	if (p->kind == P_JOIN) {
		int ln = p->in[0]->ncols, lo = INT32_MAX, hi = -1;
		col_range(e, &lo, &hi);
		bool left = hi < ln, right = lo >= ln && hi >= 0;
		int k = p->joinkind;
		if (left && (k == BR_JOIN_INNER || k == BR_JOIN_LEFT)) {
			plan *c = copy(o, p);
			c->in[0] = push(o, p->in[0], e);
			return c;
		}
		if (right && (k == BR_JOIN_INNER || k == BR_JOIN_RIGHT)) {
			plan *c = copy(o, p);
			c->in[1] = push(o, p->in[1], shift(o, e, -ln));
			return c;
		}
	}
	return filter(o, p, e);
}

static void conjuncts(br_expr *e, br_expr ***v, int *n, int *cap)
{
	if (e->kind == BR_X_AND && e->nargs == 2) {
		conjuncts(e->args[0], v, n, cap);
		conjuncts(e->args[1], v, n, cap);
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = br_xrealloc(*v, sizeof **v * (size_t)*cap);
	}
	(*v)[(*n)++] = e;
}

static plan *walk(opt *o, plan *p)
{
	plan *a = p->in[0] ? walk(o, p->in[0]) : NULL, *b = p->in[1] ? walk(o, p->in[1]) : NULL;
	if (p->kind == P_FILTER && !p->has_subq && pushable(p->pred) && a &&
	    (a->kind == P_JOIN || (a->kind == P_FILTER && !a->has_subq))) {
		br_expr **v = NULL;
		int n = 0, cap = 0;
		conjuncts(p->pred, &v, &n, &cap);
		plan *r = a;
		for (int i = 0; i < n; i++)
			r = push(o, r, v[i]);
		free(v);
		return r;
	}
	if (a == p->in[0] && b == p->in[1])
		return p;
	plan *c = copy(o, p);
	c->in[0] = a;
	c->in[1] = b;
	return c;
}

/* ---------------------------------------------------- projection push-down
 *
 * Columns nobody above reads are dropped as low as possible: a scan under a
 * join gets a projection, so the join's state (for ever, in a view) and its
 * output rows hold only the columns that are used. prune(p, need) returns a
 * plan whose columns are a subset of p's, in p's order, covering every needed
 * one; map[i] is p's column i in it (-1: dropped). Nodes whose columns mean
 * something beyond their position (windows, rankings, set operations,
 * DISTINCT, subqueries that read the row) keep their shape. */

static bool has_param_or_subq(const br_expr *e)
{
	if (e->kind == BR_X_SUBQ || e->kind == BR_X_PARAM)
		return true;
	for (int i = 0; i < e->nargs; i++)
		if (has_param_or_subq(e->args[i]))
			return true;
	return false;
}

static void need_cols(const br_expr *e, bool *need)
{
	if (e->kind == BR_X_COL)
		need[e->col] = true;
	for (int i = 0; i < e->nargs; i++)
		need_cols(e->args[i], need);
}

static br_expr *remap(opt *o, const br_expr *e, const int *map)
{
	br_expr *c = br_arena_alloc(o->a, sizeof *c);
	*c = *e;
	if (c->kind == BR_X_COL)
		c->col = map[e->col];
	if (e->nargs) {
		c->args = br_arena_alloc(o->a, sizeof *c->args * (size_t)e->nargs);
		for (int i = 0; i < e->nargs; i++)
			c->args[i] = remap(o, e->args[i], map);
	}
	return c;
}

static int *identity(opt *o, int n)
{
	int *m = br_arena_alloc(o->a, sizeof *m * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++)
		m[i] = i;
	return m;
}

static bool *all_needed(opt *o, int n)
{
	bool *need = br_arena_alloc(o->a, (size_t)(n ? n : 1));
	memset(need, 1, (size_t)n);
	return need;
}

static plan *prune(opt *o, plan *p, const bool *need, int **map);

/* p keeps its shape; each input is pruned to what p reads (all of it). */
static plan *keep_shape(opt *o, plan *p, int **map)
{
	*map = identity(o, p->ncols);
	plan *in[2] = { p->in[0], p->in[1] };
	for (int k = 0; k < 2 && in[k]; k++) {
		int *m;
		in[k] = prune(o, in[k], all_needed(o, in[k]->ncols), &m);
	}
	if (in[0] == p->in[0] && in[1] == p->in[1])
		return p;
	plan *c = copy(o, p);
	c->in[0] = in[0];
	c->in[1] = in[1];
	return c;
}

/* The columns of p that need marks, as a projection (NULL if all). */
static plan *project(opt *o, plan *p, const bool *need, int **map)
{
	int n = 0;
	int *m = br_arena_alloc(o->a, sizeof *m * (size_t)(p->ncols ? p->ncols : 1));
	for (int i = 0; i < p->ncols; i++)
		m[i] = need[i] ? n++ : -1;
	*map = m;
	if (n == p->ncols)
		return NULL;
	plan *q = br_arena_alloc(o->a, sizeof *q); /* zeroed */
	q->kind = P_MAP;
	q->ncols = q->nexprs = n;
	q->types = br_arena_alloc(o->a, sizeof *q->types * (size_t)(n ? n : 1));
	q->names = br_arena_alloc(o->a, sizeof *q->names * (size_t)(n ? n : 1));
	q->exprs = br_arena_alloc(o->a, sizeof *q->exprs * (size_t)(n ? n : 1));
	for (int i = 0; i < p->ncols; i++) {
		if (m[i] < 0)
			continue;
		br_expr *e = br_arena_alloc(o->a, sizeof *e);
		e->kind = BR_X_COL;
		e->type = p->types[i];
		e->col = i;
		e->pos = -1;
		q->types[m[i]] = p->types[i];
		q->names[m[i]] = p->names[i];
		q->exprs[m[i]] = e;
	}
	q->in[0] = p;
	q->nvisible = n;
	q->limit = -1;
	return q;
}

static plan *prune_map(opt *o, plan *p, const bool *need, int **map)
{
	bool *nin = br_arena_alloc(o->a, (size_t)(p->in[0]->ncols ? p->in[0]->ncols : 1));
	memset(nin, 0, (size_t)p->in[0]->ncols);
	int n = 0;
	for (int i = 0; i < p->nexprs; i++)
		if (need[i]) {
			need_cols(p->exprs[i], nin);
			n++;
		}
	int *im;
	plan *in = prune(o, p->in[0], nin, &im);
	if (n == p->nexprs && in == p->in[0]) {
		*map = identity(o, p->ncols);
		return p;
	}
	plan *c = copy(o, p);
	c->in[0] = in;
	c->ncols = c->nexprs = c->nvisible = n;
	c->types = br_arena_alloc(o->a, sizeof *c->types * (size_t)(n ? n : 1));
	c->names = br_arena_alloc(o->a, sizeof *c->names * (size_t)(n ? n : 1));
	c->exprs = br_arena_alloc(o->a, sizeof *c->exprs * (size_t)(n ? n : 1));
	int *m = br_arena_alloc(o->a, sizeof *m * (size_t)(p->ncols ? p->ncols : 1));
	for (int i = 0, k = 0; i < p->nexprs; i++) {
		m[i] = need[i] ? k : -1;
		if (!need[i])
			continue;
		c->types[k] = p->types[i];
		c->names[k] = p->names[i];
		c->exprs[k++] = remap(o, p->exprs[i], im);
	}
	*map = m;
	return c;
}

static plan *prune_filter(opt *o, plan *p, const bool *need, int **map)
{
	bool *nin = br_arena_alloc(o->a, (size_t)(p->ncols ? p->ncols : 1));
	memcpy(nin, need, (size_t)p->ncols);
	need_cols(p->pred, nin);
	plan *in = prune(o, p->in[0], nin, map);
	if (in == p->in[0])
		return p;
	plan *c = copy(o, p);
	c->in[0] = in;
	c->ncols = c->nvisible = in->ncols;
	c->types = in->types;
	c->names = in->names;
	c->pred = remap(o, p->pred, *map);
	return c;
}

static plan *prune_join(opt *o, plan *p, const bool *need, int **map)
{
	int ln = p->in[0]->ncols, rn = p->in[1]->ncols;
	bool *nl = br_arena_alloc(o->a, (size_t)(ln ? ln : 1)), *nr = br_arena_alloc(o->a, (size_t)(rn ? rn : 1));
	memcpy(nl, need, (size_t)ln);
	memcpy(nr, need + ln, (size_t)rn);
	for (int k = 0; k < p->nkeys; k++) {
		nl[p->lkeys[k]] = true;
		nr[p->rkeys[k]] = true;
	}
	int *lm, *rm;
	plan *l = prune(o, p->in[0], nl, &lm), *r = prune(o, p->in[1], nr, &rm);
	if (l == p->in[0] && r == p->in[1]) {
		*map = identity(o, p->ncols);
		return p;
	}
	plan *c = copy(o, p);
	c->in[0] = l;
	c->in[1] = r;
	c->ncols = c->nvisible = l->ncols + r->ncols;
	c->types = br_arena_alloc(o->a, sizeof *c->types * (size_t)(c->ncols ? c->ncols : 1));
	c->names = br_arena_alloc(o->a, sizeof *c->names * (size_t)(c->ncols ? c->ncols : 1));
	memcpy(c->types, l->types, sizeof *c->types * (size_t)l->ncols);
	memcpy(c->types + l->ncols, r->types, sizeof *c->types * (size_t)r->ncols);
	memcpy(c->names, l->names, sizeof *c->names * (size_t)l->ncols);
	memcpy(c->names + l->ncols, r->names, sizeof *c->names * (size_t)r->ncols);
	c->lkeys = br_arena_alloc(o->a, sizeof *c->lkeys * (size_t)(p->nkeys ? p->nkeys : 1));
	c->rkeys = br_arena_alloc(o->a, sizeof *c->rkeys * (size_t)(p->nkeys ? p->nkeys : 1));
	for (int k = 0; k < p->nkeys; k++) {
		c->lkeys[k] = lm[p->lkeys[k]];
		c->rkeys[k] = rm[p->rkeys[k]];
	}
	int *m = br_arena_alloc(o->a, sizeof *m * (size_t)(p->ncols ? p->ncols : 1));
	for (int i = 0; i < ln; i++)
		m[i] = lm[i];
	for (int i = 0; i < rn; i++)
		m[ln + i] = rm[i] < 0 ? -1 : l->ncols + rm[i];
	*map = m;
	return c;
}

static plan *prune_agg(opt *o, plan *p, int **map)
{
	int n = p->in[0]->ncols;
	bool *nin = br_arena_alloc(o->a, (size_t)(n ? n : 1));
	memset(nin, 0, (size_t)n);
	for (int g = 0; g < p->ngroup; g++)
		nin[p->gcols[g]] = true;
	for (int k = 0; k < p->naggs; k++) {
		const br_agg_spec *s = &p->aggs[k];
		if (s->col >= 0)
			nin[s->col] = true;
		for (int j = 0; j < s->norder; j++)
			nin[s->ocols[j]] = true;
	}
	int *im;
	plan *in = prune(o, p->in[0], nin, &im);
	*map = identity(o, p->ncols);
	if (in == p->in[0])
		return p;
	plan *c = copy(o, p);
	c->in[0] = in;
	c->gcols = br_arena_alloc(o->a, sizeof *c->gcols * (size_t)(p->ngroup ? p->ngroup : 1));
	for (int g = 0; g < p->ngroup; g++)
		c->gcols[g] = im[p->gcols[g]];
	c->aggs = br_arena_alloc(o->a, sizeof *c->aggs * (size_t)(p->naggs ? p->naggs : 1));
	for (int k = 0; k < p->naggs; k++) {
		c->aggs[k] = p->aggs[k];
		if (p->aggs[k].col >= 0)
			c->aggs[k].col = im[p->aggs[k].col];
		for (int j = 0; j < p->aggs[k].norder; j++)
			c->aggs[k].ocols[j] = im[p->aggs[k].ocols[j]];
	}
	return c;
}

static bool reads_row(const plan *p)
{
	if (p->has_subq || (p->pred && has_param_or_subq(p->pred)))
		return true;
	for (int i = 0; i < p->nexprs; i++)
		if (has_param_or_subq(p->exprs[i]))
			return true;
	return false;
}

static plan *prune(opt *o, plan *p, const bool *need, int **map)
{
	if (reads_row(p)) {
		*map = identity(o, p->ncols);
		return p; /* correlated subqueries address the row by position */
	}
	switch (p->kind) {
	case P_SCAN: {
		plan *q = project(o, p, need, map);
		return q ? q : p;
	}
	case P_MAP: return prune_map(o, p, need, map);
	case P_FILTER: return prune_filter(o, p, need, map);
	case P_JOIN:
		if (!p->win)
			return prune_join(o, p, need, map);
		return keep_shape(o, p, map);
	case P_AGG: return prune_agg(o, p, map);
	default: return keep_shape(o, p, map);
	}
}

plan *br_plan_optimize(br_arena *a, plan *p)
{
	opt o = { a };
	plan *r = walk(&o, p);
	int *map;
	r = prune(&o, r, all_needed(&o, r->ncols), &map);
	if (r == p)
		return p;
	if (r->ncols != p->ncols)
		return p; /* cannot happen: rewrites keep the row shape */
	/* The root keeps the query's names and presentation. */
	plan *root = copy(&o, r);
	root->names = p->names;
	root->nvisible = p->nvisible;
	root->nsort = p->nsort;
	root->sort = p->sort;
	root->limit = p->limit;
	root->offset = p->offset;
	return root;
}
