/* optimize.c — rewrites of a bound logical plan before it is lowered: filter
 * conjuncts move down through inner joins (and to the preserved side of outer
 * ones) so joins index fewer rows, which for a materialized view is state it
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

plan *br_plan_optimize(br_arena *a, plan *p)
{
	opt o = { a };
	plan *r = walk(&o, p);
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
