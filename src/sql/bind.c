/* bind.c — the binder: libpg_query's JSON parse tree -> typed logical plan
 * (plan.h): names and outer references, PostgreSQL coercions, join keys, the
 * aggregate rewrite, and the decorrelation of subqueries in views. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "sql/plan.h"
#include "sql/pgnode.h"
#include "sql/window.h"

/* A literal whose type PostgreSQL would call "unknown" ('text' or NULL): it
 * takes the type its context asks for. Marked by depth == -1 on a CONST. */
#define UNKNOWN_LIT -1

typedef struct scol {
	const char *qual, *name;
	br_type_id type;
} scol;

typedef struct scope {
	int n;
	scol *cols;
	struct scope *parent;
	bool correlated; /* something below referenced a column above this scope */
} scope;

/* A WITH entry. Visible entries form a stack (next = defined earlier or in an
 * enclosing query); a reference binds the body again, which is the same as
 * inlining it (non-recursive CTEs over deterministic queries). */
typedef struct cte {
	const char *name;
	json_t *query, *colnames;
	const struct cte *next;
} cte;

typedef struct aggctx {
	int n, cap;
	br_agg_spec *specs;
	br_expr **args;
	br_expr *(*oargs)[BR_AGG_MAX_ORDER]; /* ORDER BY inside string_agg/array_agg */
	int nextra;                          /* how many oargs in all */
} aggctx;

/* Adds the ORDER BY expressions of aggregate k to the argument map. */
static void agg_order_cols(const aggctx *agg, int k, br_agg_spec *spec, plan *m, int *nm)
{
	for (int j = 0; j < spec->norder; j++) {
		spec->ocols[j] = *nm;
		m->exprs[*nm] = agg->oargs[k][j];
		m->types[*nm] = agg->oargs[k][j]->type;
		m->names[(*nm)++] = "?order?";
	}
}

/* A view's uncorrelated subqueries, each planned as a one-row relation that
 * the query cross-joins; the subquery's value is then a column. */
typedef struct liftctx {
	plan **plans;
	int *kinds;       /* br_join_kind of each (LEFT for anti-joins) */
	int n, cap;
	int width;        /* columns added so far */
	/* the query's WHERE conjuncts, where join conditions for them go */
	br_expr ***conj;
	int *nconj, *capconj;
	const struct from_acc *outer; /* the query's FROM items (for parameter sets) */
} liftctx;

/* Ranking window functions of a select list. They share one window (the
 * first one's PARTITION BY / ORDER BY); each reads as column WIN_BASE + i
 * until the window plan exists and the columns get their real positions. */
#define WIN_BASE (1 << 28)
#define WIN_MAX 8
typedef struct winctx {
	int nfuncs;
	int kinds[WIN_MAX];
	int npart, nkeys;
	br_expr **part, **keys;
	br_sort_key *dirs;
} winctx;

typedef struct bctx {
	bind_env *env;
	scope *sc;
	winctx *win;     /* non-NULL where window functions are allowed */
	liftctx *lift;   /* non-NULL where a view may lift subqueries */
	aggctx *agg;     /* non-NULL where aggregates are allowed */
	br_err *err;
} bctx;

typedef struct subq {
	plan *p;
	int kind;        /* 0 EXISTS, 1 scalar, 2 IN */
	br_expr *test;   /* IN: the left side, bound in the outer scope */
	bind_env env;
	bool correlated;
	bool cached;
	br_value *cache; /* uncorrelated: first column of every row */
	int64_t ncache;
} subq;

const char *br_flow_type_name(br_type_id t)
{
	switch (t) {
	case BR_T_BOOLEAN: return "boolean";
	case BR_T_LONG: return "bigint";
	case BR_T_DOUBLE: return "double precision";
	case BR_T_STRING: return "text";
	case BR_T_DATE: return "date";
	case BR_T_TIMESTAMP: return "timestamp without time zone";
	case BR_T_TIMESTAMPTZ: return "timestamp with time zone";
	case BR_T_INTERVAL: return "interval";
	default: return "unknown";
	}
}

/* ------------------------------------------------------------ json helpers */

/* Error with PostgreSQL's position convention (1-based character). */
static int perr(bctx *b, int loc, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int perr(bctx *b, int loc, int code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (loc >= 0)
		return br_errf(b->err, code, "%s at character %d", msg, loc + 1);
	return br_errf(b->err, code, "%s", msg);
}

/* The last String of a name list (["pg_catalog","int4"] -> "int4"). */
static const char *last_name(json_t *list)
{
	const char *r = NULL;
	size_t i;
	json_t *it, *in;
	json_array_foreach(list, i, it) {
		if (!strcmp(ntype(it, &in), "String"))
			r = jstr(in, "sval");
	}
	return r;
}

/* --------------------------------------------------------- expr builders */

static br_expr *mk(bctx *b, br_xkind k, br_type_id t, int nargs, int pos)
{
	br_expr *e = br_arena_alloc(b->env->arena, sizeof *e);
	e->kind = k;
	e->type = t;
	e->nargs = nargs;
	e->pos = pos;
	if (nargs)
		e->args = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)nargs);
	return e;
}

static br_expr *mk2(bctx *b, br_xkind k, br_type_id t, br_expr *x, br_expr *y, int pos)
{
	br_expr *e = mk(b, k, t, 2, pos);
	e->args[0] = x;
	e->args[1] = y;
	return e;
}

static br_expr *mk_col(bctx *b, int col, br_type_id t)
{
	br_expr *e = mk(b, BR_X_COL, t, 0, -1);
	e->col = col;
	return e;
}

static bool is_unknown(const br_expr *e) { return e->kind == BR_X_CONST && e->depth == UNKNOWN_LIT; }
static bool is_numeric(br_type_id t) { return t == BR_T_LONG || t == BR_T_DOUBLE; }
/* date, timestamp, timestamptz: PostgreSQL's datetime category */
static bool is_dtfam(br_type_id t) { return t == BR_T_DATE || t == BR_T_TIMESTAMP || t == BR_T_TIMESTAMPTZ; }
/* Implicit casts PostgreSQL applies without being asked (besides numbers):
 * date -> timestamp -> timestamptz. */
static bool implicit_dt(br_type_id from, br_type_id to)
{
	return (from == BR_T_DATE && (to == BR_T_TIMESTAMP || to == BR_T_TIMESTAMPTZ)) ||
	       (from == BR_T_TIMESTAMP && to == BR_T_TIMESTAMPTZ);
}
static br_type_id dt_common(br_type_id a, br_type_id b)
{
	return a == BR_T_TIMESTAMPTZ || b == BR_T_TIMESTAMPTZ ? BR_T_TIMESTAMPTZ
	       : a == BR_T_TIMESTAMP || b == BR_T_TIMESTAMP ? BR_T_TIMESTAMP : BR_T_DATE;
}

static int coerce(bctx *b, br_expr *e, br_type_id t, br_expr **out, const char *ctx)
{
	*out = e;
	if (e->type == t && !is_unknown(e))
		return 0;
	if (is_unknown(e)) {
		br_expr *c = mk(b, BR_X_CONST, t, 0, e->pos);
		if (e->k.is_null) {
			c->k = br_value_null(t);
			*out = c;
			return 0;
		}
		/* Parse the literal now, as PostgreSQL does for 'text' in a typed context. */
		br_expr *cast = mk(b, BR_X_CAST, t, 1, e->pos);
		br_expr *src = mk(b, BR_X_CONST, BR_T_STRING, 0, e->pos);
		src->k = e->k;
		cast->args[0] = src;
		br_eval ev = { .scratch = b->env->arena };
		int rc = br_expr_eval(cast, &ev, NULL, &c->k, b->err);
		if (rc)
			return rc;
		*out = c;
		return 0;
	}
	if (e->type == t)
		return 0;
	if ((e->type == BR_T_LONG && t == BR_T_DOUBLE) || implicit_dt(e->type, t)) {
		br_expr *c = mk(b, BR_X_CAST, t, 1, e->pos);
		c->args[0] = e;
		*out = c;
		return 0;
	}
	return perr(b, e->pos, BR_EINVAL, "%s: cannot use type %s where %s is expected", ctx,
		    br_flow_type_name(e->type), br_flow_type_name(t));
}

int br_bind_coerce(bind_env *env, br_expr *e, br_type_id t, br_expr **out, br_err *err)
{
	bctx b = { .env = env, .err = err };
	/* Assignment casts (INSERT): numbers round to integer columns. */
	bool dt_assign = is_dtfam(e->type) && is_dtfam(t); /* timestamp -> date is an assignment cast */
	if (!is_unknown(e) && e->type != t && !(e->type == BR_T_LONG && t == BR_T_DOUBLE) &&
	    ((is_numeric(e->type) && is_numeric(t)) || dt_assign)) {
		br_expr *c = mk(&b, BR_X_CAST, t, 1, e->pos);
		c->args[0] = e;
		*out = c;
		return 0;
	}
	return coerce(&b, e, t, out, "value");
}

/* The common type of several expressions (CASE, COALESCE, IN, UNION). */
static int common_type(bctx *b, br_expr **es, int n, br_type_id *out, const char *what)
{
	br_type_id t = BR_T__COUNT;
	for (int i = 0; i < n; i++) {
		if (is_unknown(es[i]))
			continue;
		br_type_id u = es[i]->type;
		if (t == BR_T__COUNT || t == u)
			t = u;
		else if (is_numeric(t) && is_numeric(u))
			t = BR_T_DOUBLE;
		else if (is_dtfam(t) && is_dtfam(u))
			t = dt_common(t, u);
		else
			return perr(b, es[i]->pos, BR_EINVAL, "%s types %s and %s cannot be matched", what,
				    br_flow_type_name(t), br_flow_type_name(u));
	}
	*out = t == BR_T__COUNT ? BR_T_STRING : t;
	return 0;
}

static int unify_all(bctx *b, br_expr **es, int n, br_type_id *t, const char *what)
{
	int rc = common_type(b, es, n, t, what);
	for (int i = 0; i < n && !rc; i++)
		rc = coerce(b, es[i], *t, &es[i], what);
	return rc;
}

static int need_bool(bctx *b, br_expr *e, br_expr **out, const char *ctx)
{
	if (e->type == BR_T_BOOLEAN && !is_unknown(e)) {
		*out = e;
		return 0;
	}
	if (is_unknown(e))
		return coerce(b, e, BR_T_BOOLEAN, out, ctx);
	return perr(b, e->pos, BR_EINVAL, "argument of %s must be type boolean, not type %s", ctx,
		    br_flow_type_name(e->type));
}

/* ----------------------------------------------------------- name lookup */

static int lookup(bctx *b, const char *qual, const char *name, int loc, br_expr **out)
{
	int depth = 0;
	for (scope *s = b->sc; s; s = s->parent, depth++) {
		int found = -1;
		for (int i = 0; i < s->n; i++) {
			if (strcmp(s->cols[i].name, name) || (qual && (!s->cols[i].qual || strcmp(s->cols[i].qual, qual))))
				continue;
			if (found >= 0)
				return perr(b, loc, BR_EINVAL, "column reference \"%s\" is ambiguous", name);
			found = i;
		}
		if (found < 0)
			continue;
		br_expr *e = mk(b, depth ? BR_X_PARAM : BR_X_COL, s->cols[found].type, 0, loc);
		e->col = found;
		e->depth = depth;
		for (scope *t = b->sc; t != s; t = t->parent)
			t->correlated = true;
		*out = e;
		return 0;
	}
	if (qual) {
		bool known = false;
		for (scope *s = b->sc; s && !known; s = s->parent)
			for (int i = 0; i < s->n; i++)
				known |= s->cols[i].qual && !strcmp(s->cols[i].qual, qual);
		if (!known)
			return perr(b, loc, BR_EINVAL, "missing FROM-clause entry for table \"%s\"", qual);
		return perr(b, loc, BR_EINVAL, "column %s.%s does not exist", qual, name);
	}
	return perr(b, loc, BR_EINVAL, "column \"%s\" does not exist", name);
}

/* ------------------------------------------------------------ expressions */

static int bind_expr(bctx *b, json_t *node, br_expr **out);
static int bind_query(bind_env *env, json_t *sel, scope *parent, plan **out, bool *correlated, br_err *err);

static int bind_args(bctx *b, json_t *list, br_expr ***out, int *n)
{
	*n = (int)json_array_size(list);
	*out = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(*n ? *n : 1));
	for (int i = 0; i < *n; i++) {
		int rc = bind_expr(b, json_array_get(list, (size_t)i), &(*out)[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Date/time arithmetic, PostgreSQL's operator table: date +- integer = date,
 * date - date = integer, datetime +- interval, timestamp - timestamp =
 * interval, interval +- interval, interval * number, interval / number. */
static int dt_arith_op(bctx *b, br_xkind k, br_expr *l, br_expr *r, const char *op, int loc, br_expr **out)
{
	int rc = 0;
	/* An unknown literal beside a datetime is an interval ('1 hour'), except
	 * on the left of a minus, where it is the same kind of datetime. */
	if (is_unknown(l) && !is_unknown(r))
		rc = coerce(b, l, r->type == BR_T_INTERVAL ? (k == BR_X_MUL ? BR_T_DOUBLE : BR_T_INTERVAL)
			    : k == BR_X_SUB ? r->type : BR_T_INTERVAL, &l, "operator");
	else if (is_unknown(r) && !is_unknown(l))
		rc = coerce(b, r, l->type == BR_T_INTERVAL && (k == BR_X_MUL || k == BR_X_DIV) ? BR_T_DOUBLE
			    : l->type == BR_T_DATE && r->k.is_null ? BR_T_LONG : BR_T_INTERVAL, &r, "operator");
	if (rc)
		return rc;
	br_type_id lt = l->type, rt = r->type, res = BR_T__COUNT;
	bool liv = lt == BR_T_INTERVAL, riv = rt == BR_T_INTERVAL;
	switch (k) {
	case BR_X_ADD:
		if ((lt == BR_T_DATE && rt == BR_T_LONG) || (lt == BR_T_LONG && rt == BR_T_DATE))
			res = BR_T_DATE;
		else if (liv && riv)
			res = BR_T_INTERVAL;
		else if ((is_dtfam(lt) && riv) || (liv && is_dtfam(rt)))
			res = liv ? rt : lt;
		break;
	case BR_X_SUB:
		if (lt == BR_T_DATE && rt == BR_T_LONG)
			res = BR_T_DATE;
		else if (lt == BR_T_DATE && rt == BR_T_DATE)
			res = BR_T_LONG;
		else if (liv && riv)
			res = BR_T_INTERVAL;
		else if (is_dtfam(lt) && riv)
			res = lt;
		else if (is_dtfam(lt) && is_dtfam(rt))
			res = BR_T_INTERVAL;
		break;
	case BR_X_MUL:
		if ((liv && is_numeric(rt)) || (is_numeric(lt) && riv))
			res = BR_T_INTERVAL;
		break;
	case BR_X_DIV:
		if (liv && is_numeric(rt))
			res = BR_T_INTERVAL;
		break;
	default: break;
	}
	if (res == BR_T__COUNT)
		return perr(b, loc, BR_EINVAL, "operator does not exist: %s %s %s", br_flow_type_name(lt), op,
			    br_flow_type_name(rt));
	if (res == BR_T_DATE && (liv || riv))
		res = BR_T_TIMESTAMP; /* date + interval is a timestamp */
	*out = mk2(b, k, res, l, r, loc);
	return 0;
}

static int arith_op(bctx *b, br_xkind k, br_expr *l, br_expr *r, const char *op, int loc, br_expr **out)
{
	bool ldt = !is_unknown(l) && (is_dtfam(l->type) || l->type == BR_T_INTERVAL);
	bool rdt = !is_unknown(r) && (is_dtfam(r->type) || r->type == BR_T_INTERVAL);
	if (ldt || rdt)
		return dt_arith_op(b, k, l, r, op, loc, out);
	if (is_unknown(l) && !is_unknown(r) && is_numeric(r->type)) {
		int rc = coerce(b, l, r->type, &l, "operator");
		if (rc)
			return rc;
	}
	if (is_unknown(r) && !is_unknown(l) && is_numeric(l->type)) {
		int rc = coerce(b, r, l->type, &r, "operator");
		if (rc)
			return rc;
	}
	if (is_unknown(l) && is_unknown(r) && l->k.is_null && r->k.is_null) {
		l->type = r->type = BR_T_LONG;
		l->depth = r->depth = 0;
	}
	if (!is_numeric(l->type) || !is_numeric(r->type) || is_unknown(l) || is_unknown(r))
		return perr(b, loc, BR_EINVAL, "operator does not exist: %s %s %s", br_flow_type_name(l->type), op,
			    br_flow_type_name(r->type));
	*out = mk2(b, k, l->type == BR_T_DOUBLE || r->type == BR_T_DOUBLE ? BR_T_DOUBLE : BR_T_LONG, l, r, loc);
	return 0;
}

static int cmp_op(bctx *b, br_xkind k, br_expr *l, br_expr *r, const char *op, int loc, br_expr **out)
{
	int rc = 0;
	if (is_unknown(l) && !is_unknown(r))
		rc = coerce(b, l, r->type, &l, "operator");
	else if (is_unknown(r) && !is_unknown(l))
		rc = coerce(b, r, l->type, &r, "operator");
	else if (is_unknown(l) && is_unknown(r)) {
		rc = coerce(b, l, BR_T_STRING, &l, "operator");
		if (!rc)
			rc = coerce(b, r, BR_T_STRING, &r, "operator");
	}
	if (rc)
		return rc;
	if (l->type != r->type && is_dtfam(l->type) && is_dtfam(r->type)) {
		br_type_id t = dt_common(l->type, r->type);
		if ((rc = coerce(b, l, t, &l, "operator")) || (rc = coerce(b, r, t, &r, "operator")))
			return rc;
	}
	if (l->type != r->type && !(is_numeric(l->type) && is_numeric(r->type)))
		return perr(b, loc, BR_EINVAL, "operator does not exist: %s %s %s", br_flow_type_name(l->type), op,
			    br_flow_type_name(r->type));
	*out = mk2(b, k, BR_T_BOOLEAN, l, r, loc);
	return 0;
}

static int binop(bctx *b, const char *op, br_expr *l, br_expr *r, int loc, br_expr **out)
{
	static const struct { const char *op; br_xkind k; bool cmp; } ops[] = {
		{ "+", BR_X_ADD, false }, { "-", BR_X_SUB, false }, { "*", BR_X_MUL, false },
		{ "/", BR_X_DIV, false }, { "%", BR_X_MOD, false }, { "=", BR_X_EQ, true },
		{ "<>", BR_X_NE, true }, { "!=", BR_X_NE, true }, { "<", BR_X_LT, true },
		{ "<=", BR_X_LE, true }, { ">", BR_X_GT, true }, { ">=", BR_X_GE, true },
	};
	for (size_t i = 0; i < BR_ARRAY_LEN(ops); i++)
		if (!strcmp(ops[i].op, op))
			return ops[i].cmp ? cmp_op(b, ops[i].k, l, r, op, loc, out) : arith_op(b, ops[i].k, l, r, op, loc, out);
	if (!strcmp(op, "||")) {
		int rc = 0;
		if (is_unknown(l))
			rc = coerce(b, l, BR_T_STRING, &l, "operator");
		if (!rc && is_unknown(r))
			rc = coerce(b, r, BR_T_STRING, &r, "operator");
		if (rc)
			return rc;
		if (l->type != BR_T_STRING && r->type != BR_T_STRING)
			return perr(b, loc, BR_EINVAL, "operator does not exist: %s || %s", br_flow_type_name(l->type),
				    br_flow_type_name(r->type));
		*out = mk2(b, BR_X_CONCAT, BR_T_STRING, l, r, loc);
		return 0;
	}
	return perr(b, loc, BR_EUNSUPPORTED, "unsupported: operator %s", op);
}

/* libpg_query's JSON output omits an integer constant's value when it is not
 * positive (zero, and negatives the grammar folded from "- 98"), so such a
 * value is read back from the statement text at the constant's location: signs,
 * blanks and parentheses, then the digits. */
static int64_t ival_from_text(bctx *b, int loc)
{
	const char *sql = b->env->sql;
	if (!sql || loc < 0 || (size_t)loc >= strlen(sql))
		return 0;
	const char *p = sql + loc;
	bool neg = false;
	for (;; p++) {
		if (*p == '-')
			neg = !neg;
		else if (*p != '+' && *p != '(' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			break;
	}
	int64_t x = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *p - '0', &x))
			return 0; /* cannot happen: such literals arrive as fval */
	return neg ? -x : x;
}

static int bind_const(bctx *b, json_t *in, br_expr **out)
{
	int loc = jloc(in);
	br_expr *e = mk(b, BR_X_CONST, BR_T_LONG, 0, loc);
	json_t *v;
	if (json_is_true(jget(in, "isnull"))) {
		e->k = br_value_null(BR_T_LONG);
		e->depth = UNKNOWN_LIT;
	} else if ((v = jget(in, "ival"))) {
		json_t *i = jget(v, "ival");
		e->k = br_value_i64(BR_T_LONG, json_is_integer(i) ? json_integer_value(i) : ival_from_text(b, loc));
	} else if ((v = jget(in, "fval"))) {
		const char *s = jstr(v, "fval");
		char *end;
		errno = 0;
		long long x = s ? strtoll(s, &end, 10) : 0;
		if (s && !*end && !errno) { /* integers too big for int4 arrive as fval */
			e->k = br_value_i64(BR_T_LONG, x);
		} else {
			e->type = BR_T_DOUBLE;
			e->k = br_value_f64(s ? strtod(s, NULL) : 0);
		}
	} else if ((v = jget(in, "sval"))) {
		const char *s = jstr(v, "sval");
		if (!s)
			s = "";
		size_t n = strlen(s);
		e->type = BR_T_STRING;
		e->k = br_value_bytes(BR_T_STRING, br_arena_strndup(b->env->arena, s, n), n);
		e->depth = UNKNOWN_LIT;
	} else if ((v = jget(in, "boolval"))) {
		e->type = BR_T_BOOLEAN;
		e->k = (br_value){ .type = BR_T_BOOLEAN };
		e->k.v.b = json_is_true(jget(v, "boolval"));
	} else if (jget(in, "bsval")) {
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: bit string literals");
	} else {
		e->k = br_value_i64(BR_T_LONG, 0); /* {"ival":{}}: libpg_query omits zero */
	}
	*out = e;
	return 0;
}

static int type_from_name(bctx *b, json_t *tn, int loc, br_type_id *t)
{
	const char *n = last_name(jget(tn, "names"));
	if (!n)
		return perr(b, loc, BR_EINVAL, "bad type name");
	if (json_array_size(jget(tn, "arrayBounds")))
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: array types");
	static const struct { const char *n; br_type_id t; } map[] = {
		{ "int2", BR_T_LONG }, { "int4", BR_T_LONG }, { "int8", BR_T_LONG }, { "integer", BR_T_LONG },
		{ "int", BR_T_LONG }, { "bigint", BR_T_LONG }, { "smallint", BR_T_LONG }, { "tinyint", BR_T_LONG },
		{ "float4", BR_T_DOUBLE }, { "float8", BR_T_DOUBLE }, { "real", BR_T_DOUBLE },
		{ "double", BR_T_DOUBLE }, { "numeric", BR_T_DOUBLE }, { "decimal", BR_T_DOUBLE },
		{ "text", BR_T_STRING }, { "varchar", BR_T_STRING }, { "bpchar", BR_T_STRING },
		{ "char", BR_T_STRING }, { "string", BR_T_STRING }, { "bool", BR_T_BOOLEAN },
		{ "boolean", BR_T_BOOLEAN }, { "date", BR_T_DATE }, { "timestamp", BR_T_TIMESTAMP },
		{ "timestamptz", BR_T_TIMESTAMPTZ }, { "interval", BR_T_INTERVAL }, { "datetime", BR_T_TIMESTAMP },
	};
	if (!strcasecmp(n, "interval") && json_array_size(jget(tn, "typmods")))
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: INTERVAL with a field qualifier (write INTERVAL '5 minutes')");
	for (size_t i = 0; i < BR_ARRAY_LEN(map); i++)
		if (!strcasecmp(map[i].n, n)) {
			*t = map[i].t;
			return 0;
		}
	return perr(b, loc, BR_EUNSUPPORTED, "unsupported: type %s", n);
}

/* INTERVAL '10' SECOND, INTERVAL '1' DAY TO SECOND (SQL-standard field
 * qualifiers; PostgreSQL encodes them as a field mask in the first typmod): a
 * bare number counts in the smallest field named, any other text is read as
 * INTERVAL 'text'. Only constant strings: the fields carry no meaning for a
 * cast of a column. */
static int bind_interval_fields(bctx *b, json_t *tc, int loc, br_expr **out)
{
	json_t *tm = json_array_get(jget(jget(tc, "typeName"), "typmods"), 0), *tmin, *ain;
	int64_t mask = 0;
	if (tm && !strcmp(ntype(tm, &tmin), "A_Const"))
		mask = json_integer_value(jget(jget(tmin, "ival"), "ival"));
	const char *sv = NULL;
	if (!strcmp(ntype(jget(tc, "arg"), &ain), "A_Const"))
		sv = jstr(jget(ain, "sval"), "sval");
	if (!sv)
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: INTERVAL with a field qualifier on a non-constant "
			    "(write CAST(x AS INTERVAL) or INTERVAL '5 minutes')");
	/* PostgreSQL's field bits (datetime.h), smallest unit first */
	static const struct { int64_t bit; const char *unit; } f[] = {
		{ 1 << 12, "seconds" }, { 1 << 11, "minutes" }, { 1 << 10, "hours" }, { 1 << 3, "days" },
		{ 1 << 1, "months" }, { 1 << 2, "years" },
	};
	char *end, text[128];
	(void)strtod(sv, &end);
	while (*end == ' ')
		end++;
	const char *unit = NULL;
	for (size_t i = 0; i < BR_ARRAY_LEN(f) && !unit; i++)
		if (mask & f[i].bit)
			unit = f[i].unit;
	if (end != sv && !*end && unit && strlen(sv) < 64) {
		snprintf(text, sizeof text, "%s %s", sv, unit);
		sv = text;
	}
	br_expr *lit = mk(b, BR_X_CONST, BR_T_STRING, 0, loc);
	size_t n = strlen(sv);
	lit->k = br_value_bytes(BR_T_STRING, br_arena_strndup(b->env->arena, sv, n), n);
	lit->depth = UNKNOWN_LIT;
	return coerce(b, lit, BR_T_INTERVAL, out, "CAST");
}

/* A FUNC expression over args, each coerced to want[i] (BR_T__COUNT: keep). */
static int mk_func(bctx *b, const char *name, int fn, br_expr **args, int n, const br_type_id *want, br_type_id rt,
		   int loc, br_expr **out)
{
	br_expr *e = mk(b, BR_X_FUNC, rt, n, loc);
	e->fn = fn;
	for (int i = 0; i < n; i++) {
		br_expr *a = args[i];
		if (want[i] != BR_T__COUNT && (a->type != want[i] || is_unknown(a))) {
			bool ok = is_unknown(a) || (a->type == BR_T_LONG && want[i] == BR_T_DOUBLE) || implicit_dt(a->type, want[i]);
			if (!ok) {
				char sig[200] = "";
				size_t o = 0;
				for (int j = 0; j < n && o < sizeof sig - 40; j++)
					o += (size_t)snprintf(sig + o, sizeof sig - o, "%s%s", j ? ", " : "",
							      is_unknown(args[j]) ? "unknown" : br_flow_type_name(args[j]->type));
				return perr(b, loc, BR_EINVAL, "function %s(%s) does not exist", name, sig);
			}
			int rc = coerce(b, a, want[i], &a, name);
			if (rc)
				return rc;
		}
		e->args[i] = a;
	}
	*out = e;
	return 0;
}

/* The current time, for now() and friends in batch queries: one value per
 * statement, as PostgreSQL's transaction timestamp. A materialized view must
 * not read it: its answer would depend on when it was computed. */
static int bind_now(bctx *b, br_type_id t, const char *name, int loc, br_expr **out)
{
	if (b->env->for_view)
		return perr(b, loc, BR_EINVAL,
			    "%s is not allowed in a materialized view: a view's answer must depend only on its input "
			    "(use the rows' own time columns)", name);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	br_expr *e = mk(b, BR_X_CONST, t, 0, loc);
	if (t == BR_T_DATE)
		e->k = br_value_i32(BR_T_DATE, (int32_t)(us / 86400000000LL));
	else
		e->k = br_value_i64(t, us);
	*out = e;
	return 0;
}

/* Scalar functions beyond the few above. Returns 1 when name/arity is not one. */
static int bind_scalar_func(bctx *b, const char *name, br_expr **args, int n, int loc, br_expr **out)
{
	static const struct { const char *name; int fn, nmin, nmax; br_type_id want[3]; br_type_id rt; } fns[] = {
		{ "power", BR_F_POWER, 2, 2, { BR_T_DOUBLE, BR_T_DOUBLE }, BR_T_DOUBLE },
		{ "pow", BR_F_POWER, 2, 2, { BR_T_DOUBLE, BR_T_DOUBLE }, BR_T_DOUBLE },
		{ "sqrt", BR_F_SQRT, 1, 1, { BR_T_DOUBLE }, BR_T_DOUBLE },
		{ "ln", BR_F_LN, 1, 1, { BR_T_DOUBLE }, BR_T_DOUBLE },
		{ "log", BR_F_LOG10, 1, 1, { BR_T_DOUBLE }, BR_T_DOUBLE },
		{ "log10", BR_F_LOG10, 1, 1, { BR_T_DOUBLE }, BR_T_DOUBLE },
		{ "exp", BR_F_EXP, 1, 1, { BR_T_DOUBLE }, BR_T_DOUBLE },
		{ "substr", BR_F_SUBSTR, 2, 3, { BR_T_STRING, BR_T_LONG, BR_T_LONG }, BR_T_STRING },
		{ "substring", BR_F_SUBSTR, 2, 3, { BR_T_STRING, BR_T_LONG, BR_T_LONG }, BR_T_STRING },
		{ "position", BR_F_POSITION, 2, 2, { BR_T_STRING, BR_T_STRING }, BR_T_LONG },
		{ "strpos", BR_F_STRPOS, 2, 2, { BR_T_STRING, BR_T_STRING }, BR_T_LONG },
		{ "replace", BR_F_REPLACE, 3, 3, { BR_T_STRING, BR_T_STRING, BR_T_STRING }, BR_T_STRING },
		{ "btrim", BR_F_BTRIM, 1, 2, { BR_T_STRING, BR_T_STRING }, BR_T_STRING },
		{ "trim", BR_F_BTRIM, 1, 2, { BR_T_STRING, BR_T_STRING }, BR_T_STRING },
		{ "ltrim", BR_F_LTRIM, 1, 2, { BR_T_STRING, BR_T_STRING }, BR_T_STRING },
		{ "rtrim", BR_F_RTRIM, 1, 2, { BR_T_STRING, BR_T_STRING }, BR_T_STRING },
		{ "lpad", BR_F_LPAD, 2, 3, { BR_T_STRING, BR_T_LONG, BR_T_STRING }, BR_T_STRING },
		{ "rpad", BR_F_RPAD, 2, 3, { BR_T_STRING, BR_T_LONG, BR_T_STRING }, BR_T_STRING },
		{ "split_part", BR_F_SPLIT_PART, 3, 3, { BR_T_STRING, BR_T_STRING, BR_T_LONG }, BR_T_STRING },
		{ "left", BR_F_LEFT, 2, 2, { BR_T_STRING, BR_T_LONG }, BR_T_STRING },
		{ "right", BR_F_RIGHT, 2, 2, { BR_T_STRING, BR_T_LONG }, BR_T_STRING },
		{ "starts_with", BR_F_STARTS_WITH, 2, 2, { BR_T_STRING, BR_T_STRING }, BR_T_BOOLEAN },
		{ "reverse", BR_F_REVERSE, 1, 1, { BR_T_STRING }, BR_T_STRING },
		{ "repeat", BR_F_REPEAT, 2, 2, { BR_T_STRING, BR_T_LONG }, BR_T_STRING },
		{ "initcap", BR_F_INITCAP, 1, 1, { BR_T_STRING }, BR_T_STRING },
		{ "octet_length", BR_F_OCTET_LENGTH, 1, 1, { BR_T_STRING }, BR_T_LONG },
		{ "to_timestamp", BR_F_TO_TIMESTAMP, 1, 1, { BR_T_DOUBLE }, BR_T_TIMESTAMPTZ },
		{ "make_date", BR_F_MAKE_DATE, 3, 3, { BR_T_LONG, BR_T_LONG, BR_T_LONG }, BR_T_DATE },
	};
	for (size_t i = 0; i < BR_ARRAY_LEN(fns); i++)
		if (!strcmp(fns[i].name, name) && n >= fns[i].nmin && n <= fns[i].nmax)
			return mk_func(b, name, fns[i].fn, args, n, fns[i].want, fns[i].rt, loc, out);
	int rc;
	if ((!strcmp(name, "round") || !strcmp(name, "trunc")) && n == 2) {
		br_type_id w[2] = { BR_T_DOUBLE, BR_T_LONG };
		return mk_func(b, name, name[0] == 'r' ? BR_F_ROUND2 : BR_F_TRUNC2, args, 2, w, BR_T_DOUBLE, loc, out);
	}
	if ((!strcmp(name, "round") || !strcmp(name, "trunc") || !strcmp(name, "ceil") || !strcmp(name, "ceiling") ||
	     !strcmp(name, "floor") || !strcmp(name, "sign")) && n == 1) {
		br_type_id w = is_unknown(args[0]) || args[0]->type != BR_T_LONG ? BR_T_DOUBLE : BR_T_LONG;
		int fn = name[0] == 'r' ? BR_F_ROUND : name[0] == 't' ? BR_F_TRUNC : name[0] == 'c' ? BR_F_CEIL
			: name[1] == 'l' ? BR_F_FLOOR : BR_F_SIGN;
		return mk_func(b, name, fn, args, 1, &w, w, loc, out);
	}
	if (!strcmp(name, "mod") && n == 2)
		return arith_op(b, BR_X_MOD, args[0], args[1], "%", loc, out);
	if ((!strcmp(name, "greatest") || !strcmp(name, "least")) && n >= 1) {
		br_expr *e = mk(b, BR_X_FUNC, BR_T_LONG, n, loc);
		e->fn = name[0] == 'g' ? BR_F_GREATEST : BR_F_LEAST;
		memcpy(e->args, args, sizeof *args * (size_t)n);
		if ((rc = unify_all(b, e->args, n, &e->type, name[0] == 'g' ? "GREATEST" : "LEAST")))
			return rc;
		*out = e;
		return 0;
	}
	if ((!strcmp(name, "concat") && n >= 1) || (!strcmp(name, "concat_ws") && n >= 2)) {
		br_expr *e = mk(b, BR_X_FUNC, BR_T_STRING, n, loc);
		e->fn = name[6] ? BR_F_CONCAT_WS : BR_F_CONCAT;
		for (int i = 0; i < n; i++)
			if (is_unknown(args[i]) && (rc = coerce(b, args[i], BR_T_STRING, &args[i], name)))
				return rc;
		if (e->fn == BR_F_CONCAT_WS && (rc = coerce(b, args[0], BR_T_STRING, &args[0], name)))
			return rc;
		memcpy(e->args, args, sizeof *args * (size_t)n);
		*out = e;
		return 0;
	}
	if ((!strcmp(name, "extract") || !strcmp(name, "date_part")) && n == 2) {
		br_type_id w[2] = { BR_T_STRING, is_unknown(args[1]) ? BR_T_TIMESTAMPTZ : args[1]->type };
		if (!is_dtfam(w[1]) && w[1] != BR_T_INTERVAL)
			return perr(b, loc, BR_EINVAL, "function %s(unknown, %s) does not exist", name, br_flow_type_name(w[1]));
		return mk_func(b, name, BR_F_EXTRACT, args, 2, w, BR_T_DOUBLE, loc, out);
	}
	if (!strcmp(name, "date_trunc") && n == 2) {
		br_type_id t = is_unknown(args[1]) || args[1]->type == BR_T_DATE ? BR_T_TIMESTAMPTZ : args[1]->type;
		if (t != BR_T_TIMESTAMP && t != BR_T_TIMESTAMPTZ)
			return perr(b, loc, BR_EINVAL, "function date_trunc(unknown, %s) does not exist", br_flow_type_name(t));
		br_type_id w[2] = { BR_T_STRING, t };
		return mk_func(b, name, BR_F_DATE_TRUNC, args, 2, w, t, loc, out);
	}
	if ((!strcmp(name, "now") || !strcmp(name, "transaction_timestamp") || !strcmp(name, "statement_timestamp") ||
	     !strcmp(name, "clock_timestamp")) && n == 0)
		return bind_now(b, BR_T_TIMESTAMPTZ, name, loc, out);
	return 1;
}

static bool expr_eq(const br_expr *a, const br_expr *b);

static const struct { const char *n; int kind; } agg_names[] = {
	{ "count", BR_AGG_COUNT }, { "sum", BR_AGG_SUM }, { "avg", BR_AGG_AVG }, { "min", BR_AGG_MIN },
	{ "max", BR_AGG_MAX }, { "bool_and", BR_AGG_BOOL_AND }, { "bool_or", BR_AGG_BOOL_OR },
	{ "every", BR_AGG_BOOL_AND }, { "string_agg", BR_AGG_STRING_AGG }, { "array_agg", BR_AGG_ARRAY_AGG },
};

static int bind_agg(bctx *b, json_t *in, int kind, const char *name, int loc, br_expr **out)
{
	if (!b->agg)
		return perr(b, loc, BR_EINVAL, "aggregate functions are not allowed here");
	bool listagg = kind == BR_AGG_STRING_AGG || kind == BR_AGG_ARRAY_AGG;
	if ((jget(in, "agg_order") && !listagg) || jget(in, "agg_filter") || jget(in, "over"))
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: ORDER BY, FILTER or OVER on aggregate %s", name);
	br_agg_spec spec = { .kind = kind, .col = -1, .distinct = json_is_true(jget(in, "agg_distinct")) };
	br_expr *arg = NULL, *order[BR_AGG_MAX_ORDER];
	json_t *args = jget(in, "args");
	int rc;
	if (listagg) {
		size_t want = kind == BR_AGG_STRING_AGG ? 2 : 1;
		if (json_array_size(args) != want || json_is_true(jget(in, "agg_star")))
			return perr(b, loc, BR_EINVAL, "function %s takes %zu argument%s", name, want, want > 1 ? "s" : "");
		aggctx *saved = b->agg;
		b->agg = NULL;
		br_expr *sep = NULL;
		rc = bind_expr(b, json_array_get(args, 0), &arg);
		if (!rc && want == 2)
			rc = bind_expr(b, json_array_get(args, 1), &sep);
		json_t *ol = jget(in, "agg_order");
		if (json_array_size(ol) > BR_AGG_MAX_ORDER) {
			b->agg = saved;
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: more than %d ORDER BY keys in %s", BR_AGG_MAX_ORDER, name);
		}
		for (size_t i = 0; !rc && i < json_array_size(ol); i++) {
			json_t *sb;
			ntype(json_array_get(ol, i), &sb);
			const char *dir = jstr(sb, "sortby_dir"), *nulls = jstr(sb, "sortby_nulls");
			int j = spec.norder++;
			spec.odesc[j] = dir && !strcmp(dir, "SORTBY_DESC");
			spec.onulls_first[j] = nulls && !strcmp(nulls, "SORTBY_NULLS_FIRST") ? true
				: nulls && !strcmp(nulls, "SORTBY_NULLS_LAST") ? false : spec.odesc[j];
			rc = bind_expr(b, jget(sb, "node"), &order[j]);
			if (!rc && is_unknown(order[j]))
				rc = coerce(b, order[j], BR_T_STRING, &order[j], "ORDER BY");
		}
		b->agg = saved;
		if (rc) {
			if (strstr(b->err->msg, "not allowed here"))
				return perr(b, loc, BR_EINVAL, "aggregate function calls cannot be nested");
			return rc;
		}
		if (kind == BR_AGG_STRING_AGG) {
			if ((rc = coerce(b, arg, BR_T_STRING, &arg, name)) || (rc = coerce(b, sep, BR_T_STRING, &sep, name)))
				return rc;
			if (sep->kind != BR_X_CONST)
				return perr(b, sep->pos, BR_EUNSUPPORTED, "unsupported: a string_agg separator that is not a constant");
			spec.sep = sep->k.is_null ? "" : (const char *)sep->k.v.bytes.p;
			spec.seplen = sep->k.is_null ? 0 : sep->k.v.bytes.len;
		} else if (is_unknown(arg) && (rc = coerce(b, arg, BR_T_STRING, &arg, name))) {
			return rc;
		}
		if (spec.distinct && spec.norder && (spec.norder > 1 || !expr_eq(order[0], arg)))
			return perr(b, loc, BR_EINVAL, "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list");
		spec.type = BR_T_STRING;
		goto add;
	}
	if (json_is_true(jget(in, "agg_star"))) {
		if (kind != BR_AGG_COUNT)
			return perr(b, loc, BR_EINVAL, "%s(*) is not an aggregate PostgreSQL knows", name);
		spec.kind = BR_AGG_COUNT_STAR;
		spec.type = BR_T_LONG;
	} else {
		if (json_array_size(args) != 1)
			return perr(b, loc, BR_EINVAL, "function %s takes one argument", name);
		aggctx *saved = b->agg;
		b->agg = NULL; /* aggregates do not nest */
		int rc = bind_expr(b, json_array_get(args, 0), &arg);
		b->agg = saved;
		if (rc) {
			if (strstr(b->err->msg, "not allowed here"))
				return perr(b, loc, BR_EINVAL, "aggregate function calls cannot be nested");
			return rc;
		}
		if (is_unknown(arg) && (rc = coerce(b, arg, kind == BR_AGG_BOOL_AND || kind == BR_AGG_BOOL_OR
						 ? BR_T_BOOLEAN : BR_T_LONG, &arg, name)))
			return rc;
		switch (kind) {
		case BR_AGG_COUNT: spec.type = BR_T_LONG; break;
		case BR_AGG_SUM: case BR_AGG_AVG:
			if (!is_numeric(arg->type))
				return perr(b, loc, BR_EINVAL, "function %s(%s) does not exist", name, br_flow_type_name(arg->type));
			spec.type = kind == BR_AGG_AVG ? BR_T_DOUBLE : arg->type;
			break;
		case BR_AGG_BOOL_AND: case BR_AGG_BOOL_OR:
			if (arg->type != BR_T_BOOLEAN)
				return perr(b, loc, BR_EINVAL, "function %s(%s) does not exist", name, br_flow_type_name(arg->type));
			spec.type = BR_T_BOOLEAN;
			break;
		default: spec.type = arg->type; break;
		}
	}
add:;
	aggctx *a = b->agg;
	if (a->n == a->cap) {
		int ncap = a->cap ? a->cap * 2 : 8;
		br_agg_spec *ns = br_arena_alloc(b->env->arena, sizeof *ns * (size_t)ncap);
		br_expr **na = br_arena_alloc(b->env->arena, sizeof *na * (size_t)ncap);
		br_expr *(*no)[BR_AGG_MAX_ORDER] = br_arena_alloc(b->env->arena, sizeof *no * (size_t)ncap);
		if (a->n) {
			memcpy(ns, a->specs, sizeof *ns * (size_t)a->n);
			memcpy(na, a->args, sizeof *na * (size_t)a->n);
			memcpy(no, a->oargs, sizeof *no * (size_t)a->n);
		}
		a->specs = ns;
		a->args = na;
		a->oargs = no;
		a->cap = ncap;
	}
	a->specs[a->n] = spec;
	a->args[a->n] = arg;
	for (int j = 0; j < spec.norder; j++)
		a->oargs[a->n][j] = order[j];
	a->nextra += spec.norder;
	br_expr *e = mk(b, BR_X_AGGREF, spec.type, 0, loc);
	e->col = a->n++;
	*out = e;
	return 0;
}


static plan *pnew(bind_env *env, plan_kind k, int ncols);

static int bind_window(bctx *b, json_t *in, const char *name, int loc, br_expr **out)
{
	int kind = !strcmp(name, "row_number") ? BR_WIN_ROW_NUMBER : !strcmp(name, "rank") ? BR_WIN_RANK
		: !strcmp(name, "dense_rank") ? BR_WIN_DENSE_RANK : -1;
	if (kind < 0)
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: window function %s", name);
	if (!b->win)
		return perr(b, loc, BR_EINVAL, "window functions are not allowed here");
	if (json_array_size(jget(in, "args")))
		return perr(b, loc, BR_EINVAL, "function %s takes no arguments", name);
	json_t *over = jget(in, "over");
	if (jget(over, "name") || jget(over, "refname") || jget(over, "startOffset") || jget(over, "endOffset"))
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: named windows and frames");
	winctx *w = b->win, tmp = { 0 };
	json_t *pl = jget(over, "partitionClause"), *ol = jget(over, "orderClause");
	tmp.npart = (int)json_array_size(pl);
	tmp.nkeys = (int)json_array_size(ol);
	tmp.part = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(tmp.npart + 1));
	tmp.keys = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(tmp.nkeys + 1));
	tmp.dirs = br_arena_alloc(b->env->arena, sizeof(br_sort_key) * (size_t)(tmp.nkeys + 1));
	winctx *saved = b->win;
	aggctx *sagg = b->agg;
	b->win = NULL;
	b->agg = NULL;
	int rc = 0;
	for (int i = 0; !rc && i < tmp.npart; i++)
		rc = bind_expr(b, json_array_get(pl, (size_t)i), &tmp.part[i]);
	for (int i = 0; !rc && i < tmp.nkeys; i++) {
		json_t *sb;
		ntype(json_array_get(ol, (size_t)i), &sb);
		const char *dir = jstr(sb, "sortby_dir"), *nulls = jstr(sb, "sortby_nulls");
		tmp.dirs[i].desc = dir && !strcmp(dir, "SORTBY_DESC");
		tmp.dirs[i].nulls_first = nulls && !strcmp(nulls, "SORTBY_NULLS_FIRST") ? true
			: nulls && !strcmp(nulls, "SORTBY_NULLS_LAST") ? false : tmp.dirs[i].desc;
		rc = bind_expr(b, jget(sb, "node"), &tmp.keys[i]);
	}
	b->win = saved;
	b->agg = sagg;
	if (rc)
		return rc;
	for (int i = 0; i < tmp.npart; i++)
		if (is_unknown(tmp.part[i]) && (rc = coerce(b, tmp.part[i], BR_T_STRING, &tmp.part[i], "PARTITION BY")))
			return rc;
	for (int i = 0; i < tmp.nkeys; i++)
		if (is_unknown(tmp.keys[i]) && (rc = coerce(b, tmp.keys[i], BR_T_STRING, &tmp.keys[i], "ORDER BY")))
			return rc;
	if (!w->nfuncs) {
		w->npart = tmp.npart;
		w->nkeys = tmp.nkeys;
		w->part = tmp.part;
		w->keys = tmp.keys;
		w->dirs = tmp.dirs;
	} else {
		bool same = w->npart == tmp.npart && w->nkeys == tmp.nkeys;
		for (int i = 0; same && i < tmp.npart; i++)
			same = expr_eq(w->part[i], tmp.part[i]);
		for (int i = 0; same && i < tmp.nkeys; i++)
			same = expr_eq(w->keys[i], tmp.keys[i]) && w->dirs[i].desc == tmp.dirs[i].desc &&
			       w->dirs[i].nulls_first == tmp.dirs[i].nulls_first;
		if (!same)
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: window functions over different windows in one query");
	}
	if (w->nfuncs == WIN_MAX)
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: more than %d window functions", WIN_MAX);
	w->kinds[w->nfuncs] = kind;
	br_expr *e = mk(b, BR_X_COL, BR_T_LONG, 0, loc);
	e->col = WIN_BASE + w->nfuncs++;
	*out = e;
	return 0;
}

/* Moves window placeholders (WIN_BASE + i) to their columns. */
static void win_fix(br_expr *e, int base)
{
	if (e->kind == BR_X_COL && e->col >= WIN_BASE)
		e->col = base + e->col - WIN_BASE;
	for (int i = 0; i < e->nargs; i++)
		win_fix(e->args[i], base);
}

/* Builds map(FROM row, partition and order expressions) -> window above p. */
static plan *win_plan(bctx *b, plan *p, const winctx *w)
{
	int width = p->ncols, nx = w->npart + w->nkeys;
	plan *m = pnew(b->env, P_MAP, width + nx);
	m->in[0] = p;
	m->nexprs = width + nx;
	m->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(width + nx + 1));
	for (int i = 0; i < width; i++) {
		m->exprs[i] = mk_col(b, i, p->types[i]);
		m->types[i] = p->types[i];
		m->names[i] = p->names[i];
	}
	for (int i = 0; i < nx; i++) {
		br_expr *x = i < w->npart ? w->part[i] : w->keys[i - w->npart];
		m->exprs[width + i] = x;
		m->types[width + i] = x->type;
		m->names[width + i] = "?window?";
	}
	m->has_subq = p->has_subq;
	plan *wp = pnew(b->env, P_RANK, width + nx + w->nfuncs);
	memcpy(wp->types, m->types, sizeof(br_type_id) * (size_t)(width + nx));
	memcpy(wp->names, m->names, sizeof(char *) * (size_t)(width + nx));
	for (int i = 0; i < w->nfuncs; i++) {
		wp->types[width + nx + i] = BR_T_LONG;
		wp->names[width + nx + i] = "?rank?";
	}
	wp->in[0] = m;
	wp->has_subq = m->has_subq;
	wp->ngroup = w->npart;
	wp->gcols = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)(w->npart + 1));
	for (int i = 0; i < w->npart; i++)
		wp->gcols[i] = width + i;
	wp->nwkeys = w->nkeys;
	wp->wkeys = br_arena_alloc(b->env->arena, sizeof(br_sort_key) * (size_t)(w->nkeys + 1));
	for (int i = 0; i < w->nkeys; i++) {
		wp->wkeys[i] = w->dirs[i];
		wp->wkeys[i].col = width + w->npart + i;
	}
	wp->nwfuncs = w->nfuncs;
	wp->wkinds = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)w->nfuncs);
	memcpy(wp->wkinds, w->kinds, sizeof(int) * (size_t)w->nfuncs);
	wp->wlimit = -1;
	return wp;
}

/* Top-N: a filter "rank <= N" (or < N, = N) over the first ranking column of
 * a window below tells the window to emit only ranks up to N, so a step
 * touches N rows of a group, not the whole group. Walks the plan tree. */
static void push_topn(plan *p)
{
	if (!p)
		return;
	push_topn(p->in[0]);
	push_topn(p->in[1]);
	if (p->kind != P_FILTER)
		return;
	const br_expr *e = p->pred;
	if (e->nargs != 2 || e->kind < BR_X_EQ || e->kind > BR_X_GE)
		return;
	const br_expr *cx = e->args[0], *kx = e->args[1];
	br_xkind k = e->kind;
	if (cx->kind != BR_X_COL) { /* N >= rn */
		cx = e->args[1];
		kx = e->args[0];
		k = k == BR_X_GE ? BR_X_LE : k == BR_X_GT ? BR_X_LT : k;
	}
	if (cx->kind != BR_X_COL || kx->kind != BR_X_CONST || kx->k.is_null || kx->type != BR_T_LONG)
		return;
	int64_t n = kx->k.v.i64;
	if (k == BR_X_LT)
		n--;
	else if (k != BR_X_LE && k != BR_X_EQ)
		return;
	int col = cx->col;
	for (plan *q = p->in[0]; q;) {
		if (q->kind == P_FILTER) {
			q = q->in[0];
		} else if (q->kind == P_MAP && col < q->nexprs && q->exprs[col]->kind == BR_X_COL) {
			col = q->exprs[col]->col;
			q = q->in[0];
		} else if (q->kind == P_RANK) {
			if (col == q->ncols - q->nwfuncs && n >= 0 && (q->wlimit < 0 || n < q->wlimit))
				q->wlimit = n;
			return;
		} else {
			return;
		}
	}
}

static int bind_func(bctx *b, json_t *in, br_expr **out)
{
	int loc = jloc(in);
	const char *name = last_name(jget(in, "funcname"));
	if (!name)
		return perr(b, loc, BR_EINVAL, "bad function name");
	for (size_t i = 0; i < BR_ARRAY_LEN(agg_names); i++)
		if (!strcmp(agg_names[i].n, name))
			return bind_agg(b, in, agg_names[i].kind, name, loc, out);
	if (jget(in, "over"))
		return bind_window(b, in, name, loc, out);
	br_expr **args;
	int n, rc;
	if ((rc = bind_args(b, jget(in, "args"), &args, &n)))
		return rc;
	if (!strcmp(name, "abs") && n == 1) {
		if (is_unknown(args[0]) && (rc = coerce(b, args[0], BR_T_DOUBLE, &args[0], name)))
			return rc;
		if (!is_numeric(args[0]->type))
			return perr(b, loc, BR_EINVAL, "function abs(%s) does not exist", br_flow_type_name(args[0]->type));
		br_expr *e = mk(b, BR_X_ABS, args[0]->type, 1, loc);
		e->args[0] = args[0];
		*out = e;
		return 0;
	}
	if ((!strcmp(name, "lower") || !strcmp(name, "upper") || !strcmp(name, "length") ||
	     !strcmp(name, "char_length") || !strcmp(name, "character_length")) && n == 1) {
		if ((rc = coerce(b, args[0], BR_T_STRING, &args[0], name)))
			return rc;
		br_xkind k = name[0] == 'l' && name[1] == 'o' ? BR_X_LOWER : name[0] == 'u' ? BR_X_UPPER : BR_X_LENGTH;
		br_expr *e = mk(b, k, k == BR_X_LENGTH ? BR_T_LONG : BR_T_STRING, 1, loc);
		e->args[0] = args[0];
		*out = e;
		return 0;
	}
	if ((rc = bind_scalar_func(b, name, args, n, loc, out)) <= 0)
		return rc;
	if (!strcmp(name, "coalesce") || !strcmp(name, "ifnull")) {
		br_expr *e = mk(b, BR_X_COALESCE, BR_T_LONG, n, loc);
		memcpy(e->args, args, sizeof *args * (size_t)n);
		if ((rc = unify_all(b, e->args, n, &e->type, "COALESCE")))
			return rc;
		*out = e;
		return 0;
	}
	return perr(b, loc, BR_EUNSUPPORTED, "unsupported: function %s with %d argument%s", name, n, n == 1 ? "" : "s");
}

static int subq_eval(void *sq, br_eval *ev, const br_value *row, br_value *out, br_err *err);

static plan *pnew(bind_env *env, plan_kind k, int ncols);

/* Adds a relation to join with the query's FROM items; returns the position
 * of its first column in the FROM row. */
static int lift_add(bctx *b, plan *p, int kind)
{
	liftctx *l = b->lift;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		plan **np = br_arena_alloc(b->env->arena, sizeof *np * (size_t)l->cap);
		int *nk = br_arena_alloc(b->env->arena, sizeof *nk * (size_t)l->cap);
		if (l->n) {
			memcpy(np, l->plans, sizeof *np * (size_t)l->n);
			memcpy(nk, l->kinds, sizeof *nk * (size_t)l->n);
		}
		l->plans = np;
		l->kinds = nk;
	}
	l->plans[l->n] = p;
	l->kinds[l->n++] = kind;
	int base = b->sc->n + l->width;
	l->width += p->ncols;
	return base;
}

static bool exactly_one_row(const plan *p)
{
	if (p->limit >= 0 || p->offset)
		return false;
	if (p->kind == P_MAP || p->kind == P_DISTINCT)
		return exactly_one_row(p->in[0]);
	return p->kind == P_VALUES || (p->kind == P_AGG && p->ngroup == 0);
}

static int try_scalar(bctx *b, json_t *in, br_expr **out);
static int try_exists_expr(bctx *b, json_t *in, br_expr **out);

/* In a view, an uncorrelated scalar subquery that always yields one row (an
 * aggregate without GROUP BY) or an uncorrelated EXISTS becomes a one-row
 * relation cross-joined with the query, so it is maintained incrementally
 * like everything else. Correlated subqueries need decorrelation: refused. */
static int lift_sublink(bctx *b, json_t *in, br_expr **out)
{
	int loc = jloc(in), rc;
	const char *t = jstr(in, "subLinkType");
	if (!b->lift)
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: a subquery here in a materialized view");
	if (!t || (strcmp(t, "EXISTS_SUBLINK") && strcmp(t, "EXPR_SUBLINK")))
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: %s subqueries in a materialized view",
			    t && !strcmp(t, "ANY_SUBLINK") ? "IN" : t ? t : "these");
	if (!strcmp(t, "EXPR_SUBLINK") && (rc = try_scalar(b, in, out)) <= 0)
		return rc;
	if (!strcmp(t, "EXISTS_SUBLINK") && (rc = try_exists_expr(b, in, out)) <= 0)
		return rc;
	bool corr = false;
	plan *p;
	if ((rc = bind_query(b->env, jget(jget(in, "subselect"), "SelectStmt"), b->sc, &p, &corr, b->err)))
		return rc;
	if (corr)
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: correlated subqueries in a materialized view");
	if (!strcmp(t, "EXISTS_SUBLINK")) {
		/* EXISTS (q)  ==  (SELECT count(*) > 0 FROM q) */
		plan *a = pnew(b->env, P_AGG, 1);
		a->in[0] = p;
		a->naggs = 1;
		a->aggs = br_arena_alloc(b->env->arena, sizeof *a->aggs);
		a->aggs[0] = (br_agg_spec){ .kind = BR_AGG_COUNT_STAR, .col = -1, .type = BR_T_LONG };
		a->types[0] = BR_T_LONG;
		a->names[0] = "count";
		plan *m = pnew(b->env, P_MAP, 1);
		m->in[0] = a;
		m->nexprs = 1;
		m->exprs = br_arena_alloc(b->env->arena, sizeof *m->exprs);
		br_expr *zero = mk(b, BR_X_CONST, BR_T_LONG, 0, loc);
		zero->k = br_value_i64(BR_T_LONG, 0);
		m->exprs[0] = mk2(b, BR_X_GT, BR_T_BOOLEAN, mk_col(b, 0, BR_T_LONG), zero, loc);
		m->types[0] = BR_T_BOOLEAN;
		m->names[0] = "exists";
		p = m;
	} else {
		if (p->nvisible != 1)
			return perr(b, loc, BR_EINVAL, "subquery must return only one column");
		if (!exactly_one_row(p))
			return perr(b, loc, BR_EUNSUPPORTED,
				    "unsupported: a scalar subquery in a materialized view must be an aggregate without "
				    "GROUP BY (exactly one row)");
	}
	int base = lift_add(b, p, BR_JOIN_INNER);
	br_expr *e = mk_col(b, base, p->types[0]);
	e->pos = loc;
	*out = e;
	return 0;
}

static int bind_sublink(bctx *b, json_t *in, br_expr **out)
{
	int loc = jloc(in);
	const char *t = jstr(in, "subLinkType");
	if (b->env->for_view)
		return lift_sublink(b, in, out);
	subq *s = br_arena_alloc(b->env->arena, sizeof *s);
	s->env = *b->env;
	int rc;
	if (!t || (strcmp(t, "EXISTS_SUBLINK") && strcmp(t, "EXPR_SUBLINK") && strcmp(t, "ANY_SUBLINK")))
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: %s subqueries", t ? t : "these");
	s->kind = !strcmp(t, "EXISTS_SUBLINK") ? 0 : !strcmp(t, "EXPR_SUBLINK") ? 1 : 2;
	if (s->kind == 2) {
		const char *op = last_name(jget(in, "operName"));
		if (op && strcmp(op, "="))
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: %s ANY (subquery)", op);
		if ((rc = bind_expr(b, jget(in, "testexpr"), &s->test)))
			return rc;
	}
	if ((rc = bind_query(b->env, jget(jget(in, "subselect"), "SelectStmt"), b->sc, &s->p, &s->correlated, b->err)))
		return rc;
	if (s->kind != 0 && s->p->nvisible != 1)
		return perr(b, loc, BR_EINVAL, "subquery must return only one column");
	br_expr *e = mk(b, BR_X_SUBQ, s->kind == 1 ? s->p->types[0] : BR_T_BOOLEAN, 0, loc);
	if (s->kind == 2) {
		br_expr *probe = mk_col(b, 0, s->p->types[0]);
		br_expr *cmp;
		if ((rc = cmp_op(b, BR_X_EQ, s->test, probe, "=", loc, &cmp)))
			return rc;
		s->test = cmp->args[0];
	}
	e->subq = s;
	e->subq_fn = subq_eval;
	*out = e;
	return 0;
}

static int bind_aexpr(bctx *b, json_t *in, br_expr **out)
{
	const char *kind = jstr(in, "kind");
	const char *op = last_name(jget(in, "name"));
	int loc = jloc(in), rc;
	json_t *lj = jget(in, "lexpr"), *rj = jget(in, "rexpr");
	br_expr *l = NULL, *r = NULL;
	if (!kind || !op)
		return perr(b, loc, BR_EINVAL, "malformed expression");
	if (!strcmp(kind, "AEXPR_OP")) {
		if ((rc = bind_expr(b, rj, &r)))
			return rc;
		if (!lj) { /* prefix operator */
			if (!strcmp(op, "+"))
				return (*out = r, 0);
			if (strcmp(op, "-"))
				return perr(b, loc, BR_EUNSUPPORTED, "unsupported: prefix operator %s", op);
			if (is_unknown(r) && (rc = coerce(b, r, BR_T_LONG, &r, "operator")))
				return rc;
			if (!is_numeric(r->type) && r->type != BR_T_INTERVAL)
				return perr(b, loc, BR_EINVAL, "operator does not exist: - %s", br_flow_type_name(r->type));
			if (r->kind == BR_X_CONST && !r->k.is_null && r->type == BR_T_LONG && r->k.v.i64 != INT64_MIN) {
				r->k.v.i64 = -r->k.v.i64;
				*out = r;
				return 0;
			}
			br_expr *e = mk(b, BR_X_NEG, r->type, 1, loc);
			e->args[0] = r;
			*out = e;
			return 0;
		}
		if ((rc = bind_expr(b, lj, &l)))
			return rc;
		return binop(b, op, l, r, loc, out);
	}
	if (!strcmp(kind, "AEXPR_BETWEEN") || !strcmp(kind, "AEXPR_NOT_BETWEEN")) {
		json_t *items = jget(jget(rj, "List"), "items");
		if (json_array_size(items) != 2)
			return perr(b, loc, BR_EINVAL, "malformed BETWEEN");
		br_expr *lo, *hi, *c1, *c2;
		if ((rc = bind_expr(b, lj, &l)) || (rc = bind_expr(b, json_array_get(items, 0), &lo)) ||
		    (rc = bind_expr(b, json_array_get(items, 1), &hi)))
			return rc;
		if ((rc = cmp_op(b, BR_X_GE, l, lo, ">=", loc, &c1)) || (rc = cmp_op(b, BR_X_LE, l, hi, "<=", loc, &c2)))
			return rc;
		br_expr *e = mk2(b, BR_X_AND, BR_T_BOOLEAN, c1, c2, loc);
		if (kind[6] == 'N') {
			br_expr *n = mk(b, BR_X_NOT, BR_T_BOOLEAN, 1, loc);
			n->args[0] = e;
			e = n;
		}
		*out = e;
		return 0;
	}
	if (!strcmp(kind, "AEXPR_IN")) {
		br_expr **items;
		int n;
		json_t *list = jget(jget(rj, "List"), "items");
		if (!list)
			list = rj;
		if ((rc = bind_expr(b, lj, &l)) || (rc = bind_args(b, list, &items, &n)))
			return rc;
		br_expr *e = mk(b, BR_X_IN, BR_T_BOOLEAN, n + 1, loc);
		e->args[0] = l;
		memcpy(e->args + 1, items, sizeof *items * (size_t)n);
		br_type_id t;
		if ((rc = unify_all(b, e->args, n + 1, &t, "IN")))
			return rc;
		if (!strcmp(op, "<>")) {
			br_expr *x = mk(b, BR_X_NOT, BR_T_BOOLEAN, 1, loc);
			x->args[0] = e;
			e = x;
		}
		*out = e;
		return 0;
	}
	json_t *fin;
	if ((!strcmp(kind, "AEXPR_LIKE") || !strcmp(kind, "AEXPR_ILIKE")) && !strcmp(ntype(rj, &fin), "FuncCall") &&
	    last_name(jget(fin, "funcname")) && !strcmp(last_name(jget(fin, "funcname")), "like_escape") &&
	    json_array_size(jget(fin, "args")) == 2) {
		/* x LIKE p ESCAPE c arrives as x LIKE like_escape(p, c) */
		br_expr *a3[3];
		if ((rc = bind_expr(b, lj, &a3[0])) || (rc = bind_expr(b, json_array_get(jget(fin, "args"), 0), &a3[1])) ||
		    (rc = bind_expr(b, json_array_get(jget(fin, "args"), 1), &a3[2])))
			return rc;
		static const br_type_id w[3] = { BR_T_STRING, BR_T_STRING, BR_T_STRING };
		br_expr *e;
		if ((rc = mk_func(b, "LIKE", kind[6] == 'I' ? BR_F_ILIKE_ESC : BR_F_LIKE_ESC, a3, 3, w, BR_T_BOOLEAN, loc, &e)))
			return rc;
		if (op[0] == '!') {
			br_expr *x = mk(b, BR_X_NOT, BR_T_BOOLEAN, 1, loc);
			x->args[0] = e;
			e = x;
		}
		*out = e;
		return 0;
	}
	if ((rc = bind_expr(b, lj, &l)) || (rc = bind_expr(b, rj, &r)))
		return rc;
	if (!strcmp(kind, "AEXPR_NULLIF")) {
		br_expr *e = mk2(b, BR_X_NULLIF, l->type, l, r, loc);
		br_type_id t;
		if ((rc = unify_all(b, e->args, 2, &t, "NULLIF")))
			return rc;
		e->type = e->args[0]->type;
		*out = e;
		return 0;
	}
	if (!strcmp(kind, "AEXPR_DISTINCT") || !strcmp(kind, "AEXPR_NOT_DISTINCT")) {
		br_expr *c;
		if ((rc = cmp_op(b, BR_X_EQ, l, r, "=", loc, &c)))
			return rc;
		c->kind = kind[6] == 'N' ? BR_X_NOTDISTINCT : BR_X_DISTINCT;
		*out = c;
		return 0;
	}
	if (!strcmp(kind, "AEXPR_LIKE") || !strcmp(kind, "AEXPR_ILIKE")) {
		if ((rc = coerce(b, l, BR_T_STRING, &l, "LIKE")) || (rc = coerce(b, r, BR_T_STRING, &r, "LIKE")))
			return rc;
		br_expr *e = mk2(b, kind[6] == 'I' ? BR_X_ILIKE : BR_X_LIKE, BR_T_BOOLEAN, l, r, loc);
		if (op[0] == '!') {
			br_expr *x = mk(b, BR_X_NOT, BR_T_BOOLEAN, 1, loc);
			x->args[0] = e;
			e = x;
		}
		*out = e;
		return 0;
	}
	return perr(b, loc, BR_EUNSUPPORTED, "unsupported: expression %s", kind);
}

static int bind_expr(bctx *b, json_t *node, br_expr **out)
{
	json_t *in;
	const char *t = ntype(node, &in);
	int loc = jloc(in), rc;
	if (!in)
		return perr(b, -1, BR_EINVAL, "malformed expression");
	if (!strcmp(t, "ColumnRef")) {
		json_t *f = jget(in, "fields");
		size_t n = json_array_size(f);
		const char *parts[3] = { 0 };
		for (size_t i = 0; i < n && i < 3; i++) {
			json_t *pin;
			const char *pt = ntype(json_array_get(f, i), &pin);
			if (!strcmp(pt, "A_Star"))
				return perr(b, loc, BR_EINVAL, "* is not allowed here");
			parts[i] = jstr(pin, "sval");
		}
		if (n == 1 && parts[0])
			return lookup(b, NULL, parts[0], loc, out);
		if (n == 2 && parts[0] && parts[1])
			return lookup(b, parts[0], parts[1], loc, out);
		if (n == 3 && parts[1] && parts[2])
			return lookup(b, parts[1], parts[2], loc, out);
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: column reference form");
	}
	if (!strcmp(t, "A_Const"))
		return bind_const(b, in, out);
	if (!strcmp(t, "A_Expr"))
		return bind_aexpr(b, in, out);
	if (!strcmp(t, "BoolExpr")) {
		const char *op = jstr(in, "boolop");
		br_expr **args;
		int n;
		if ((rc = bind_args(b, jget(in, "args"), &args, &n)))
			return rc;
		bool isnot = op && !strcmp(op, "NOT_EXPR");
		const char *ctx = isnot ? "NOT" : op && !strcmp(op, "OR_EXPR") ? "OR" : "AND";
		for (int i = 0; i < n; i++)
			if ((rc = need_bool(b, args[i], &args[i], ctx)))
				return rc;
		br_expr *e = mk(b, isnot ? BR_X_NOT : ctx[0] == 'O' ? BR_X_OR : BR_X_AND, BR_T_BOOLEAN, n, loc);
		if (isnot && n != 1)
			return perr(b, loc, BR_EINVAL, "malformed NOT");
		memcpy(e->args, args, sizeof *args * (size_t)n);
		*out = e;
		return 0;
	}
	if (!strcmp(t, "NullTest")) {
		br_expr *a;
		if ((rc = bind_expr(b, jget(in, "arg"), &a)))
			return rc;
		const char *k = jstr(in, "nulltesttype");
		br_expr *e = mk(b, k && !strcmp(k, "IS_NOT_NULL") ? BR_X_ISNOTNULL : BR_X_ISNULL, BR_T_BOOLEAN, 1, loc);
		e->args[0] = a;
		*out = e;
		return 0;
	}
	if (!strcmp(t, "BooleanTest")) {
		br_expr *a;
		if ((rc = bind_expr(b, jget(in, "arg"), &a)) || (rc = need_bool(b, a, &a, "IS")))
			return rc;
		const char *k = jstr(in, "booltesttype");
		if (!k)
			return perr(b, loc, BR_EINVAL, "malformed boolean test");
		bool neg = strstr(k, "_NOT_") != NULL;
		br_expr *e;
		if (strstr(k, "UNKNOWN")) {
			e = mk(b, BR_X_ISNULL, BR_T_BOOLEAN, 1, loc);
			e->args[0] = a;
		} else {
			br_expr *c = mk(b, BR_X_CONST, BR_T_BOOLEAN, 0, loc);
			c->k = (br_value){ .type = BR_T_BOOLEAN };
			c->k.v.b = strstr(k, "TRUE") != NULL;
			e = mk2(b, BR_X_NOTDISTINCT, BR_T_BOOLEAN, a, c, loc);
		}
		if (neg) {
			br_expr *x = mk(b, BR_X_NOT, BR_T_BOOLEAN, 1, loc);
			x->args[0] = e;
			e = x;
		}
		*out = e;
		return 0;
	}
	if (!strcmp(t, "CaseExpr")) {
		json_t *whens = jget(in, "args");
		int n = (int)json_array_size(whens);
		br_expr *arg = NULL;
		if (jget(in, "arg") && (rc = bind_expr(b, jget(in, "arg"), &arg)))
			return rc;
		br_expr *e = mk(b, BR_X_CASE, BR_T_LONG, 2 * n + 1, loc);
		br_expr **results = br_arena_alloc(b->env->arena, sizeof *results * (size_t)(n + 1));
		for (int i = 0; i < n; i++) {
			json_t *w;
			ntype(json_array_get(whens, (size_t)i), &w);
			br_expr *cond, *res;
			if ((rc = bind_expr(b, jget(w, "expr"), &cond)) || (rc = bind_expr(b, jget(w, "result"), &res)))
				return rc;
			if (arg) { /* CASE x WHEN v: x = v */
				if ((rc = cmp_op(b, BR_X_EQ, arg, cond, "=", jloc(w), &cond)))
					return rc;
			} else if ((rc = need_bool(b, cond, &cond, "CASE/WHEN")))
				return rc;
			e->args[2 * i] = cond;
			results[i] = res;
		}
		if (jget(in, "defresult")) {
			if ((rc = bind_expr(b, jget(in, "defresult"), &results[n])))
				return rc;
		} else {
			results[n] = mk(b, BR_X_CONST, BR_T_LONG, 0, loc);
			results[n]->k = br_value_null(BR_T_LONG);
			results[n]->depth = UNKNOWN_LIT;
		}
		if ((rc = unify_all(b, results, n + 1, &e->type, "CASE")))
			return rc;
		for (int i = 0; i < n; i++)
			e->args[2 * i + 1] = results[i];
		e->args[2 * n] = results[n];
		*out = e;
		return 0;
	}
	if (!strcmp(t, "CoalesceExpr")) {
		br_expr **args;
		int n;
		if ((rc = bind_args(b, jget(in, "args"), &args, &n)))
			return rc;
		br_expr *e = mk(b, BR_X_COALESCE, BR_T_LONG, n, loc);
		memcpy(e->args, args, sizeof *args * (size_t)n);
		if ((rc = unify_all(b, e->args, n, &e->type, "COALESCE")))
			return rc;
		*out = e;
		return 0;
	}
	if (!strcmp(t, "TypeCast")) {
		br_expr *a;
		br_type_id to = BR_T_STRING;
		const char *tn = last_name(jget(jget(in, "typeName"), "names"));
		if (tn && !strcasecmp(tn, "interval") && json_array_size(jget(jget(in, "typeName"), "typmods")))
			return bind_interval_fields(b, in, loc, out);
		if ((rc = bind_expr(b, jget(in, "arg"), &a)) || (rc = type_from_name(b, jget(in, "typeName"), loc, &to)))
			return rc;
		if (is_unknown(a))
			return coerce(b, a, to, out, "CAST");
		br_expr *e = mk(b, BR_X_CAST, to, 1, loc);
		e->args[0] = a;
		*out = e;
		return 0;
	}
	if (!strcmp(t, "FuncCall"))
		return bind_func(b, in, out);
	if (!strcmp(t, "MinMaxExpr")) {
		br_expr **args;
		int n;
		if ((rc = bind_args(b, jget(in, "args"), &args, &n)))
			return rc;
		const char *op = jstr(in, "op");
		bool g = op && !strcmp(op, "IS_GREATEST");
		rc = bind_scalar_func(b, g ? "greatest" : "least", args, n, loc, out);
		return rc > 0 ? perr(b, loc, BR_EINVAL, "malformed %s", g ? "GREATEST" : "LEAST") : rc;
	}
	if (!strcmp(t, "SQLValueFunction")) {
		const char *op = jstr(in, "op");
		if (op && (!strcmp(op, "SVFOP_CURRENT_TIMESTAMP") || !strcmp(op, "SVFOP_CURRENT_TIMESTAMP_N")))
			return bind_now(b, BR_T_TIMESTAMPTZ, "current_timestamp", loc, out);
		if (op && (!strcmp(op, "SVFOP_LOCALTIMESTAMP") || !strcmp(op, "SVFOP_LOCALTIMESTAMP_N")))
			return bind_now(b, BR_T_TIMESTAMP, "localtimestamp", loc, out);
		if (op && !strcmp(op, "SVFOP_CURRENT_DATE"))
			return bind_now(b, BR_T_DATE, "current_date", loc, out);
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: %s", op ? op + 6 : "SQL value function");
	}
	if (!strcmp(t, "SubLink"))
		return bind_sublink(b, in, out);
	return perr(b, loc, BR_EUNSUPPORTED, "unsupported: expression %s", t);
}

/* --------------------------------------------------------- subqueries */

static int subq_eval(void *sqp, br_eval *ev, const br_value *row, br_value *out, br_err *err)
{
	subq *s = sqp;
	br_value **rows = NULL, *vals = NULL;
	int64_t n = 0;
	br_arena tmp;
	br_arena_init(&tmp, 16 * 1024);
	int rc = 0;
	if (s->cached) {
		vals = s->cache;
		n = s->ncache;
	} else {
		/* EXISTS needs only to know whether any row exists; scalar needs two
		 * to detect "more than one row"; IN needs them all. */
		if ((rc = br_exec_plan(s->env.session, s->p, ev, row, &tmp, &rows, &n, err)))
			goto out;
		br_arena *keep = s->correlated ? &tmp : s->env.arena;
		vals = br_arena_alloc(keep, sizeof *vals * (size_t)(n ? n : 1));
		for (int64_t i = 0; i < n; i++) {
			vals[i] = s->kind == 0 ? br_value_null(BR_T_LONG) : rows[i][0];
			if (!vals[i].is_null && vals[i].type == BR_T_STRING) {
				char *p = br_arena_strndup(keep, (const char *)vals[i].v.bytes.p, vals[i].v.bytes.len);
				vals[i].v.bytes.p = (const uint8_t *)p;
			}
		}
		if (!s->correlated) {
			s->cache = vals;
			s->ncache = n;
			s->cached = true;
		}
	}
	if (s->kind == 0) {
		*out = (br_value){ .type = BR_T_BOOLEAN };
		out->v.b = n > 0;
	} else if (s->kind == 1) {
		if (n > 1) {
			rc = br_errf(err, BR_EINVAL, "more than one row returned by a subquery used as an expression");
			goto out;
		}
		*out = n ? vals[0] : br_value_null(s->p->types[0]);
		if (!out->is_null && out->type == BR_T_STRING) {
			char *p = br_arena_strndup(ev->scratch, (const char *)out->v.bytes.p, out->v.bytes.len);
			out->v.bytes.p = (const uint8_t *)p;
		}
	} else {
		br_value x;
		if ((rc = br_expr_eval(s->test, ev, row, &x, err)))
			goto out;
		bool any_null = false, found = false;
		for (int64_t i = 0; i < n && !found; i++) {
			if (vals[i].is_null)
				any_null = true;
			else if (!x.is_null && br_val_cmp(&x, &vals[i]) == 0)
				found = true;
		}
		if (found) {
			*out = (br_value){ .type = BR_T_BOOLEAN };
			out->v.b = true;
		} else if (x.is_null && n > 0) {
			*out = br_value_null(BR_T_BOOLEAN);
		} else if (any_null) {
			*out = br_value_null(BR_T_BOOLEAN);
		} else {
			*out = (br_value){ .type = BR_T_BOOLEAN };
		}
	}
out:
	br_arena_free(&tmp);
	return rc;
}

/* ------------------------------------------------------------- queries */

static plan *pnew(bind_env *env, plan_kind k, int ncols)
{
	plan *p = br_arena_alloc(env->arena, sizeof *p);
	p->kind = k;
	p->ncols = p->nvisible = ncols;
	p->types = br_arena_alloc(env->arena, sizeof(br_type_id) * (size_t)(ncols ? ncols : 1));
	p->names = br_arena_alloc(env->arena, sizeof(char *) * (size_t)(ncols ? ncols : 1));
	p->limit = -1;
	return p;
}

static plan *pcopy_shape(bind_env *env, plan_kind k, plan *in)
{
	plan *p = pnew(env, k, in->ncols);
	memcpy(p->types, in->types, sizeof(br_type_id) * (size_t)in->ncols);
	memcpy(p->names, in->names, sizeof(char *) * (size_t)in->ncols);
	p->in[0] = in;
	p->has_subq = in->has_subq;
	return p;
}

static bool has_kind(const br_expr *e, br_xkind k)
{
	if (e->kind == k)
		return true;
	for (int i = 0; i < e->nargs; i++)
		if (has_kind(e->args[i], k))
			return true;
	return false;
}

static bool has_subq(const br_expr *e)
{
	if (e->kind == BR_X_SUBQ)
		return true;
	for (int i = 0; i < e->nargs; i++)
		if (has_subq(e->args[i]))
			return true;
	return false;
}

/* Largest COL index used by e (-1 if none); PARAMs and subqueries report
 * INT32_MAX from subqueries so such predicates stay at the top. */
static int max_col(const br_expr *e)
{
	if (e->kind == BR_X_SUBQ)
		return INT32_MAX;
	int m = e->kind == BR_X_COL ? e->col : -1;
	for (int i = 0; i < e->nargs; i++)
		m = BR_MAX(m, max_col(e->args[i]));
	return m;
}

static bool expr_eq(const br_expr *a, const br_expr *b)
{
	if (a->kind != b->kind || a->type != b->type || a->nargs != b->nargs)
		return false;
	switch (a->kind) {
	case BR_X_COL: return a->col == b->col;
	case BR_X_PARAM: return a->col == b->col && a->depth == b->depth;
	case BR_X_CONST:
		if (a->k.is_null || b->k.is_null)
			return a->k.is_null == b->k.is_null;
		return br_val_cmp(&a->k, &b->k) == 0;
	case BR_X_SUBQ: case BR_X_AGGREF: return a == b;
	default: break;
	}
	for (int i = 0; i < a->nargs; i++)
		if (!expr_eq(a->args[i], b->args[i]))
			return false;
	return true;
}

/* Rewrites an expression bound over the FROM row into one over the aggregate's
 * output row (group columns, then aggregates). */
static int agg_rewrite(bctx *b, br_expr *e, br_expr **groups, int ng, br_expr **out)
{
	for (int i = 0; i < ng; i++)
		if (expr_eq(e, groups[i])) {
			*out = mk_col(b, i, e->type);
			return 0;
		}
	if (e->kind == BR_X_AGGREF) {
		*out = mk_col(b, ng + e->col, e->type);
		return 0;
	}
	if (e->kind == BR_X_COL && e->col >= b->sc->n)
		return perr(b, e->pos, BR_EUNSUPPORTED,
			    "unsupported: a subquery outside aggregates in an aggregate materialized view");
	if (e->kind == BR_X_COL)
		return perr(b, e->pos, BR_EINVAL,
			    "column \"%s\" must appear in the GROUP BY clause or be used in an aggregate function",
			    b->sc->cols[e->col].name);
	if (e->kind == BR_X_SUBQ && ((subq *)e->subq)->correlated)
		return perr(b, e->pos, BR_EUNSUPPORTED, "unsupported: correlated subquery in an aggregate query");
	if (e->kind == BR_X_SUBQ && ((subq *)e->subq)->test) {
		br_expr *t;
		int rc = agg_rewrite(b, ((subq *)e->subq)->test, groups, ng, &t);
		if (rc)
			return rc;
		((subq *)e->subq)->test = t;
	}
	br_expr *c = e;
	if (e->nargs) {
		c = mk(b, e->kind, e->type, e->nargs, e->pos);
		*c = *e;
		c->args = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)e->nargs);
		for (int i = 0; i < e->nargs; i++) {
			int rc = agg_rewrite(b, e->args[i], groups, ng, &c->args[i]);
			if (rc)
				return rc;
		}
	}
	*out = c;
	return 0;
}

static void add_conjuncts(bctx *b, br_expr *e, br_expr ***list, int *n, int *cap)
{
	if (e->kind == BR_X_AND) {
		for (int i = 0; i < e->nargs; i++)
			add_conjuncts(b, e->args[i], list, n, cap);
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		br_expr **nl = br_arena_alloc(b->env->arena, sizeof *nl * (size_t)*cap);
		if (*n)
			memcpy(nl, *list, sizeof *nl * (size_t)*n);
		*list = nl;
	}
	(*list)[(*n)++] = e;
}

typedef struct from_item {
	plan *p;
	const char *qual;
	const char **colquals; /* per column, for an outer join's columns (else NULL) */
	int joinkind;          /* how build_joins joins it to the items before it */
} from_item;

typedef struct from_acc from_acc;
struct from_acc {
	int n, cap;
	from_item *items;
	json_t **quals; /* ON conditions of inner joins, bound once the scope is complete */
	int nquals, capquals;
};

static int build_joins(bctx *b, from_acc *acc, br_expr **conj, int nconj, plan **out);
static int max_col(const br_expr *e);
static bool has_kind(const br_expr *e, br_xkind k);
static bool has_subq(const br_expr *e);

/* Smallest COL index used by e (INT32_MAX if none). */
static int min_col(const br_expr *e)
{
	int m = e->kind == BR_X_COL ? e->col : INT32_MAX;
	for (int i = 0; i < e->nargs; i++)
		m = BR_MIN(m, min_col(e->args[i]));
	return m;
}

/* A copy of e with every COL index moved by delta. */
static br_expr *shift_cols(bctx *b, const br_expr *e, int delta)
{
	br_expr *c = br_arena_alloc(b->env->arena, sizeof *c);
	*c = *e;
	if (c->kind == BR_X_COL)
		c->col += delta;
	if (e->nargs) {
		c->args = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)e->nargs);
		for (int i = 0; i < e->nargs; i++)
			c->args[i] = shift_cols(b, e->args[i], delta);
	}
	return c;
}

static int bind_from_item(bctx *b, json_t *node, from_acc *acc);

/* Builds one side of an outer join: its items joined, its inner ON conditions
 * applied; returns the plan and the side's columns. */
static int flatten_acc(bctx *b, from_acc *acc, plan **p, scol **cols, int *ncols)
{
	scope *ts = br_arena_alloc(b->env->arena, sizeof *ts);
	ts->parent = b->sc ? b->sc->parent : NULL;
	int width = 0;
	for (int i = 0; i < acc->n; i++)
		width += acc->items[i].p->ncols;
	ts->cols = br_arena_alloc(b->env->arena, sizeof(scol) * (size_t)(width ? width : 1));
	for (int i = 0; i < acc->n; i++)
		for (int c = 0; c < acc->items[i].p->ncols; c++)
			ts->cols[ts->n++] = (scol){ acc->items[i].colquals ? acc->items[i].colquals[c] : acc->items[i].qual,
						    acc->items[i].p->names[c], acc->items[i].p->types[c] };
	bctx tb = { .env = b->env, .sc = ts, .err = b->err };
	br_expr **conj = NULL;
	int nconj = 0, cap = 0, rc;
	for (int i = 0; i < acc->nquals; i++) {
		br_expr *e;
		if ((rc = bind_expr(&tb, acc->quals[i], &e)) || (rc = need_bool(&tb, e, &e, "JOIN/ON")))
			return rc;
		add_conjuncts(&tb, e, &conj, &nconj, &cap);
	}
	*cols = ts->cols;
	*ncols = ts->n;
	return build_joins(&tb, acc, conj, nconj, p);
}

static int bind_outer_join(bctx *b, json_t *in, int kind, from_item *it)
{
	int loc = jloc(in), rc;
	from_acc la = { 0 }, ra = { 0 };
	plan *lp, *rp;
	scol *lc, *rcols;
	int ln, rn;
	if ((rc = bind_from_item(b, jget(in, "larg"), &la)) || (rc = bind_from_item(b, jget(in, "rarg"), &ra)) ||
	    (rc = flatten_acc(b, &la, &lp, &lc, &ln)) || (rc = flatten_acc(b, &ra, &rp, &rcols, &rn)))
		return rc;
	scope *os = br_arena_alloc(b->env->arena, sizeof *os);
	os->parent = b->sc ? b->sc->parent : NULL;
	os->n = ln + rn;
	os->cols = br_arena_alloc(b->env->arena, sizeof(scol) * (size_t)(ln + rn + 1));
	memcpy(os->cols, lc, sizeof(scol) * (size_t)ln);
	memcpy(os->cols + ln, rcols, sizeof(scol) * (size_t)rn);
	bctx ob = { .env = b->env, .sc = os, .err = b->err };
	br_expr *on, **conj = NULL;
	int nconj = 0, cap = 0;
	if (!jget(in, "quals"))
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: outer join without ON");
	if ((rc = bind_expr(&ob, jget(in, "quals"), &on)) || (rc = need_bool(&ob, on, &on, "JOIN/ON")))
		return rc;
	add_conjuncts(&ob, on, &conj, &nconj, &cap);
	plan *j = pnew(b->env, P_JOIN, ln + rn);
	j->joinkind = kind;
	j->lkeys = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)(nconj + 1));
	j->rkeys = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)(nconj + 1));
	for (int i = 0; i < nconj; i++) {
		br_expr *e = conj[i];
		int x = e->nargs == 2 && e->args[0]->kind == BR_X_COL ? e->args[0]->col : -1;
		int y = e->nargs == 2 && e->args[1]->kind == BR_X_COL ? e->args[1]->col : -1;
		if (x > y) {
			int t = x;
			x = y;
			y = t;
		}
		if (e->kind == BR_X_EQ && x >= 0 && x < ln && y >= ln && e->args[0]->type == e->args[1]->type) {
			j->lkeys[j->nkeys] = x;
			j->rkeys[j->nkeys++] = y - ln;
			continue;
		}
		/* A residual condition changes which rows are padded, not just which are
		 * kept, so it cannot filter the join's output. One that reads only the
		 * side whose rows may be padded away (the right of a LEFT join, the left
		 * of a RIGHT join) filters that side's input instead: same answer. */
		int lo = min_col(e), hi = max_col(e);
		bool pure = !has_kind(e, BR_X_PARAM) && !has_subq(e);
		if (pure && kind == BR_JOIN_LEFT && (hi < 0 || lo >= ln)) {
			plan *f = pcopy_shape(b->env, P_FILTER, rp);
			f->pred = shift_cols(b, e, -ln);
			rp = f;
			continue;
		}
		if (pure && kind == BR_JOIN_RIGHT && hi < ln) {
			plan *f = pcopy_shape(b->env, P_FILTER, lp);
			f->pred = e;
			lp = f;
			continue;
		}
		return perr(b, e->pos, BR_EUNSUPPORTED,
			    "unsupported: outer join ON condition that is neither left column = right column nor about the "
			    "non-preserved side only");
	}
	for (int i = 0; i < ln + rn; i++) {
		j->types[i] = os->cols[i].type;
		j->names[i] = (char *)os->cols[i].name;
	}
	j->in[0] = lp;
	j->in[1] = rp;
	j->has_subq = lp->has_subq || rp->has_subq;
	it->p = j;
	it->colquals = br_arena_alloc(b->env->arena, sizeof(char *) * (size_t)(ln + rn + 1));
	for (int i = 0; i < ln + rn; i++)
		it->colquals[i] = os->cols[i].qual;
	return 0;
}

static int bind_from_item(bctx *b, json_t *node, from_acc *acc)
{
	json_t *in;
	const char *t = ntype(node, &in);
	int loc = jloc(in), rc;
	from_item it = { 0 };
	if (!strcmp(t, "RangeVar")) {
		const char *name = jstr(in, "relname");
		if (!name)
			return perr(b, loc, BR_EINVAL, "bad table name");
		const cte *c = b->env->ctes;
		while (c && (jstr(in, "schemaname") || strcmp(c->name, name)))
			c = c->next;
		if (c) {
			const void *saved = b->env->ctes;
			bool corr = false;
			plan *sub;
			b->env->ctes = c->next; /* a CTE sees only the ones before it */
			rc = bind_query(b->env, jget(c->query, "SelectStmt"), NULL, &sub, &corr, b->err);
			b->env->ctes = saved;
			if (rc)
				return rc;
			if (sub->nsort || sub->limit >= 0 || sub->offset)
				return perr(b, loc, BR_EUNSUPPORTED, "unsupported: ORDER BY/LIMIT in a WITH query");
			for (int i = 0; i < sub->ncols; i++) { /* names: copy, then apply the column list */
				json_t *cn = json_array_get(c->colnames, (size_t)i), *cin;
				ntype(cn, &cin);
				const char *nm = cn && jstr(cin, "sval") ? jstr(cin, "sval") : sub->names[i];
				sub->names[i] = br_arena_strndup(b->env->arena, nm, strlen(nm));
			}
			if (sub->nvisible != sub->ncols)
				return perr(b, loc, BR_EUNSUPPORTED, "unsupported: WITH query with hidden sort columns");
			const char *alias = jstr(jget(in, "alias"), "aliasname");
			it.p = sub;
			it.qual = br_arena_strndup(b->env->arena, alias ? alias : name, strlen(alias ? alias : name));
			goto add;
		}
		const char *schema = jstr(in, "schemaname");
		if (schema) { /* ns.name: a view's sink table (sink.c) */
			char *q = br_arena_alloc(b->env->arena, strlen(schema) + strlen(name) + 2);
			sprintf(q, "%s.%s", schema, name);
			name = q;
		}
		const br_sql_table *tab = b->env->cat->vt->find(b->env->cat, name);
		const plan *view = tab ? NULL : b->env->find_view(b->env->session, name);
		if (!tab && !view)
			return perr(b, loc, BR_EINVAL, "relation \"%s\" does not exist", name);
		int nc = tab ? tab->ncols : view->nvisible;
		it.p = pnew(b->env, P_SCAN, nc);
		it.p->table = br_arena_strndup(b->env->arena, name, strlen(name));
		for (int i = 0; i < nc; i++) {
			it.p->types[i] = tab ? tab->types[i] : view->types[i];
			const char *cn = tab ? tab->cols[i] : view->names[i];
			it.p->names[i] = br_arena_strndup(b->env->arena, cn, strlen(cn));
		}
		const char *alias = jstr(jget(in, "alias"), "aliasname");
		it.qual = alias ? alias : jstr(in, "relname");
	} else if (!strcmp(t, "RangeSubselect")) {
		if (json_is_true(jget(in, "lateral")))
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: LATERAL");
		bool corr = false;
		plan *sub;
		if ((rc = bind_query(b->env, jget(jget(in, "subquery"), "SelectStmt"), b->sc ? b->sc->parent : NULL, &sub,
				     &corr, b->err)))
			return rc;
		if (corr)
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: correlated subquery in FROM");
		if (sub->nsort || sub->limit >= 0 || sub->offset)
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: ORDER BY/LIMIT in a subquery in FROM");
		if (sub->nvisible != sub->ncols) {
			plan *m = pnew(b->env, P_MAP, sub->nvisible);
			m->in[0] = sub;
			m->nexprs = sub->nvisible;
			m->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(m->nexprs ? m->nexprs : 1));
			for (int i = 0; i < sub->nvisible; i++) {
				m->types[i] = sub->types[i];
				m->names[i] = sub->names[i];
				m->exprs[i] = mk_col(b, i, sub->types[i]);
			}
			m->has_subq = sub->has_subq;
			sub = m;
		}
		json_t *alias = jget(in, "alias");
		it.p = sub;
		it.qual = jstr(alias, "aliasname");
		json_t *cn = jget(alias, "colnames");
		for (size_t i = 0; i < json_array_size(cn) && (int)i < sub->ncols; i++) {
			json_t *s;
			ntype(json_array_get(cn, i), &s);
			if (jstr(s, "sval"))
				sub->names[i] = br_arena_strndup(b->env->arena, jstr(s, "sval"), strlen(jstr(s, "sval")));
		}
	} else if (!strcmp(t, "RangeFunction")) { /* TUMBLE/HOP/SESSION: window.c */
		if ((rc = br_bind_window_tvf(b->env, in, &it.p, &it.qual, b->err)))
			return rc;
	} else if (!strcmp(t, "JoinExpr")) {
		const char *jt = jstr(in, "jointype");
		if (json_is_true(jget(in, "isNatural")) || jget(in, "usingClause"))
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: NATURAL or USING joins");
		if (jget(in, "alias"))
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: alias on a join");
		int kind = !jt ? -1 : !strcmp(jt, "JOIN_INNER") ? BR_JOIN_INNER : !strcmp(jt, "JOIN_LEFT") ? BR_JOIN_LEFT
			: !strcmp(jt, "JOIN_RIGHT") ? BR_JOIN_RIGHT : !strcmp(jt, "JOIN_FULL") ? BR_JOIN_FULL : -1;
		if (kind < 0)
			return perr(b, loc, BR_EUNSUPPORTED, "unsupported: %s", jt ? jt : "join");
		if (kind != BR_JOIN_INNER) {
			if ((rc = bind_outer_join(b, in, kind, &it)))
				return rc;
			goto add;
		}
		if ((rc = bind_from_item(b, jget(in, "larg"), acc)) || (rc = bind_from_item(b, jget(in, "rarg"), acc)))
			return rc;
		if (jget(in, "quals")) {
			if (acc->nquals == acc->capquals) {
				acc->capquals = acc->capquals ? acc->capquals * 2 : 4;
				json_t **nq = br_arena_alloc(b->env->arena, sizeof *nq * (size_t)acc->capquals);
				if (acc->nquals)
					memcpy(nq, acc->quals, sizeof *nq * (size_t)acc->nquals);
				acc->quals = nq;
			}
			acc->quals[acc->nquals++] = jget(in, "quals");
		}
		return 0;
	} else {
		return perr(b, loc, BR_EUNSUPPORTED, "unsupported: FROM item %s", t);
	}
add:
	for (int i = 0; i < acc->n; i++)
		if (it.qual && acc->items[i].qual && !strcmp(it.qual, acc->items[i].qual))
			return perr(b, loc, BR_EINVAL, "table name \"%s\" specified more than once", it.qual);
	if (acc->n == acc->cap) {
		acc->cap = acc->cap ? acc->cap * 2 : 4;
		from_item *ni = br_arena_alloc(b->env->arena, sizeof *ni * (size_t)acc->cap);
		if (acc->n)
			memcpy(ni, acc->items, sizeof *ni * (size_t)acc->n);
		acc->items = ni;
	}
	acc->items[acc->n++] = it;
	return 0;
}

/* Joins the FROM items left-deep. Equality conjuncts between the accumulated
 * left side and the next item become join keys; every other conjunct is
 * applied as soon as all the columns it reads exist. */
static int build_joins(bctx *b, from_acc *acc, br_expr **conj, int nconj, plan **out)
{
	bool *used = br_arena_alloc(b->env->arena, (size_t)(nconj ? nconj : 1));
	plan *cur = NULL;
	int width = 0;
	for (int k = 0; k < acc->n; k++) {
		plan *item = acc->items[k].p;
		if (!cur) {
			cur = item;
			width = item->ncols;
		} else {
			int nk = 0;
			int *lk = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)(nconj ? nconj : 1));
			int *rk = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)(nconj ? nconj : 1));
			for (int i = 0; i < nconj; i++) {
				br_expr *e = conj[i];
				if (used[i] || e->kind != BR_X_EQ || e->args[0]->kind != BR_X_COL || e->args[1]->kind != BR_X_COL ||
				    e->args[0]->type != e->args[1]->type)
					continue;
				int x = e->args[0]->col, y = e->args[1]->col;
				if (x > y) {
					int t = x;
					x = y;
					y = t;
				}
				if (x < width && y >= width && y < width + item->ncols) {
					lk[nk] = x;
					rk[nk++] = y - width;
					used[i] = true;
				}
			}
			plan *j = pnew(b->env, P_JOIN, width + item->ncols);
			j->joinkind = acc->items[k].joinkind;
			memcpy(j->types, cur->types, sizeof(br_type_id) * (size_t)width);
			memcpy(j->types + width, item->types, sizeof(br_type_id) * (size_t)item->ncols);
			memcpy(j->names, cur->names, sizeof(char *) * (size_t)width);
			memcpy(j->names + width, item->names, sizeof(char *) * (size_t)item->ncols);
			j->in[0] = cur;
			j->in[1] = item;
			j->nkeys = nk;
			j->lkeys = lk;
			j->rkeys = rk;
			j->has_subq = cur->has_subq || item->has_subq;
			cur = j;
			width += item->ncols;
		}
		for (int i = 0; i < nconj; i++) {
			if (used[i] || max_col(conj[i]) >= width)
				continue;
			plan *f = pcopy_shape(b->env, P_FILTER, cur);
			f->pred = conj[i];
			cur = f;
			used[i] = true;
		}
	}
	for (int i = 0; i < nconj; i++) {
		if (used[i])
			continue;
		plan *f = pcopy_shape(b->env, P_FILTER, cur);
		f->pred = conj[i];
		f->has_subq |= has_subq(conj[i]);
		cur = f;
	}
	*out = cur;
	return 0;
}

static int const_int(bctx *b, json_t *node, int64_t *out)
{
	*out = -1;
	if (!node)
		return 0;
	json_t *in;
	if (!strcmp(ntype(node, &in), "A_Const") && json_is_true(jget(in, "isnull")))
		return 0;
	br_expr *e;
	int rc = bind_expr(b, node, &e);
	if (rc)
		return rc;
	if ((rc = coerce(b, e, BR_T_LONG, &e, "LIMIT")))
		return rc;
	if (max_col(e) >= 0 || has_subq(e))
		return perr(b, e->pos, BR_EUNSUPPORTED, "unsupported: non-constant LIMIT/OFFSET");
	br_value v;
	br_eval ev = { .scratch = b->env->arena };
	if ((rc = br_expr_eval(e, &ev, NULL, &v, b->err)))
		return rc;
	if (v.is_null)
		return 0;
	if (v.v.i64 < 0)
		return perr(b, e->pos, BR_EINVAL, "LIMIT/OFFSET must not be negative");
	*out = v.v.i64;
	return 0;
}

/* ORDER BY, LIMIT and OFFSET of a query whose output is p (names known). When
 * targets is non-NULL, sort expressions not in the output are bound with bc
 * and appended to the map p as hidden columns. */
static int bind_order(bctx *b, json_t *sel, plan *p, bool distinct, int (*bind_hidden)(bctx *, json_t *, br_expr **, void *),
		      void *hctx)
{
	json_t *sort = jget(sel, "sortClause");
	int n = (int)json_array_size(sort), rc;
	if (n) {
		p->sort = br_arena_alloc(b->env->arena, sizeof(sort_key) * (size_t)n);
		p->nsort = n;
	}
	for (int i = 0; i < n; i++) {
		json_t *sb;
		ntype(json_array_get(sort, (size_t)i), &sb);
		json_t *node = jget(sb, "node"), *in;
		const char *nt = ntype(node, &in);
		const char *dir = jstr(sb, "sortby_dir"), *nulls = jstr(sb, "sortby_nulls");
		if (jget(sb, "useOp"))
			return perr(b, jloc(sb), BR_EUNSUPPORTED, "unsupported: ORDER BY USING");
		sort_key *k = &p->sort[i];
		k->desc = dir && !strcmp(dir, "SORTBY_DESC");
		k->nulls_first = nulls && !strcmp(nulls, "SORTBY_NULLS_FIRST") ? true
			: nulls && !strcmp(nulls, "SORTBY_NULLS_LAST") ? false : k->desc; /* PostgreSQL: NULL is largest */
		k->col = -1;
		if (!strcmp(nt, "A_Const") && jget(in, "ival")) {
			json_t *iv = jget(jget(in, "ival"), "ival");
			int64_t pos = json_is_integer(iv) ? json_integer_value(iv) : 0;
			if (pos < 1 || pos > p->nvisible)
				return perr(b, jloc(in), BR_EINVAL, "ORDER BY position %" PRId64 " is not in select list", pos);
			k->col = (int)pos - 1;
			continue;
		}
		if (!strcmp(nt, "ColumnRef") && json_array_size(jget(in, "fields")) == 1) {
			json_t *fin;
			ntype(json_array_get(jget(in, "fields"), 0), &fin);
			const char *name = jstr(fin, "sval");
			int found = -1;
			for (int c = 0; name && c < p->nvisible; c++)
				if (p->names[c] && !strcmp(p->names[c], name)) {
					if (found >= 0 && p->kind == P_MAP && !expr_eq(p->exprs[found], p->exprs[c]))
						return perr(b, jloc(in), BR_EINVAL, "ORDER BY \"%s\" is ambiguous", name);
					if (found < 0)
						found = c;
				}
			if (found >= 0) {
				k->col = found;
				continue;
			}
		}
		if (!bind_hidden)
			return perr(b, jloc(in), BR_EUNSUPPORTED,
				    "unsupported: ORDER BY expression on a set operation (use a column name or position)");
		br_expr *e;
		if ((rc = bind_hidden(b, node, &e, hctx)))
			return rc;
		for (int c = 0; c < p->ncols; c++)
			if (expr_eq(p->exprs[c], e)) {
				k->col = c;
				break;
			}
		if (k->col >= 0)
			continue;
		if (distinct)
			return perr(b, jloc(in), BR_EINVAL, "for SELECT DISTINCT, ORDER BY expressions must appear in select list");
		br_expr **ne = br_arena_alloc(b->env->arena, sizeof *ne * (size_t)(p->ncols + 1));
		br_type_id *nt2 = br_arena_alloc(b->env->arena, sizeof *nt2 * (size_t)(p->ncols + 1));
		char **nn = br_arena_alloc(b->env->arena, sizeof *nn * (size_t)(p->ncols + 1));
		memcpy(ne, p->exprs, sizeof *ne * (size_t)p->ncols);
		memcpy(nt2, p->types, sizeof *nt2 * (size_t)p->ncols);
		memcpy(nn, p->names, sizeof *nn * (size_t)p->ncols);
		ne[p->ncols] = e;
		nt2[p->ncols] = e->type;
		nn[p->ncols] = "?sort?";
		p->exprs = ne;
		p->types = nt2;
		p->names = nn;
		k->col = p->ncols++;
		p->nexprs = p->ncols;
		p->has_subq |= has_subq(e);
	}
	if ((rc = const_int(b, jget(sel, "limitCount"), &p->limit)))
		return rc;
	int64_t off;
	if ((rc = const_int(b, jget(sel, "limitOffset"), &off)))
		return rc;
	p->offset = off < 0 ? 0 : off;
	if (jstr(sel, "limitOption") && !strcmp(jstr(sel, "limitOption"), "LIMIT_OPTION_WITH_TIES"))
		return perr(b, -1, BR_EUNSUPPORTED, "unsupported: FETCH ... WITH TIES");
	return 0;
}

typedef struct hidden_ctx {
	br_expr **groups;
	int ng;
	bool agg_mode;
} hidden_ctx;

static int bind_hidden_expr(bctx *b, json_t *node, br_expr **out, void *vctx)
{
	hidden_ctx *h = vctx;
	int rc = bind_expr(b, node, out);
	if (rc)
		return rc;
	if (is_unknown(*out) && (rc = coerce(b, *out, BR_T_STRING, out, "ORDER BY")))
		return rc;
	if (h->agg_mode)
		return agg_rewrite(b, *out, h->groups, h->ng, out);
	return 0;
}

static int bind_setop(bind_env *env, json_t *sel, scope *parent, plan **out, bool *corr, br_err *err)
{
	const char *op = jstr(sel, "op");
	bool all = json_is_true(jget(sel, "all"));
	plan *l, *r;
	int rc;
	if ((rc = bind_query(env, jget(sel, "larg"), parent, &l, corr, err)) ||
	    (rc = bind_query(env, jget(sel, "rarg"), parent, &r, corr, err)))
		return rc;
	bctx b = { .env = env, .err = err };
	if (l->nsort || r->nsort || l->limit >= 0 || r->limit >= 0 || l->offset || r->offset)
		return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: ORDER BY/LIMIT inside a set operation's branch");
	if (l->nvisible != r->nvisible)
		return perr(&b, -1, BR_EINVAL, "each %s query must have the same number of columns",
			    !strcmp(op, "SETOP_UNION") ? "UNION" : !strcmp(op, "SETOP_INTERSECT") ? "INTERSECT" : "EXCEPT");
	plan *sides[2] = { l, r };
	int n = l->nvisible;
	plan *p = pnew(env, P_UNION, n);
	for (int c = 0; c < n; c++) {
		br_type_id a = l->types[c], bt = r->types[c];
		if (a == bt)
			p->types[c] = a;
		else if (is_numeric(a) && is_numeric(bt))
			p->types[c] = BR_T_DOUBLE;
		else if (is_dtfam(a) && is_dtfam(bt))
			p->types[c] = dt_common(a, bt);
		else
			return perr(&b, -1, BR_EINVAL, "UNION types %s and %s cannot be matched", br_flow_type_name(a),
				    br_flow_type_name(bt));
		p->names[c] = l->names[c];
	}
	/* Cast each side to the common types (and drop hidden columns). */
	for (int s = 0; s < 2; s++) {
		plan *m = pnew(env, P_MAP, n);
		m->in[0] = sides[s];
		m->nexprs = n;
		m->exprs = br_arena_alloc(env->arena, sizeof(br_expr *) * (size_t)(n ? n : 1));
		for (int c = 0; c < n; c++) {
			br_expr *e = mk_col(&b, c, sides[s]->types[c]);
			if ((rc = coerce(&b, e, p->types[c], &e, "UNION")))
				return rc;
			m->exprs[c] = e;
			m->types[c] = p->types[c];
			m->names[c] = p->names[c];
		}
		m->has_subq = sides[s]->has_subq;
		sides[s] = m;
	}
	p->in[0] = sides[0];
	p->in[1] = sides[1];
	p->has_subq = sides[0]->has_subq || sides[1]->has_subq;
	if (!strcmp(op, "SETOP_UNION")) {
		if (!all) {
			plan *d = pcopy_shape(env, P_DISTINCT, p);
			p = d;
		}
	} else {
		p->kind = P_SETOP;
		bool inter = !strcmp(op, "SETOP_INTERSECT");
		p->setkind = inter ? (all ? BR_SET_INTERSECT_ALL : BR_SET_INTERSECT) : (all ? BR_SET_EXCEPT_ALL : BR_SET_EXCEPT);
	}
	if ((rc = bind_order(&b, sel, p, false, NULL, NULL)))
		return rc;
	*out = p;
	return 0;
}

/* Default output name of a select-list item, as PostgreSQL names it. */
static const char *target_name(bind_env *env, json_t *rt)
{
	const char *n = jstr(rt, "name");
	if (n)
		return n;
	json_t *in;
	const char *t = ntype(jget(rt, "val"), &in);
	if (!strcmp(t, "ColumnRef")) {
		json_t *f = jget(in, "fields"), *fin;
		ntype(json_array_get(f, json_array_size(f) - 1), &fin);
		if (jstr(fin, "sval"))
			return jstr(fin, "sval");
	}
	if (!strcmp(t, "FuncCall") && last_name(jget(in, "funcname")))
		return last_name(jget(in, "funcname"));
	if (!strcmp(t, "CaseExpr"))
		return "case";
	if (!strcmp(t, "CoalesceExpr"))
		return "coalesce";
	if (!strcmp(t, "SubLink") && jstr(in, "subLinkType") && !strcmp(jstr(in, "subLinkType"), "EXISTS_SUBLINK"))
		return "exists";
	(void)env;
	return "?column?";
}

static int bind_query_body(bind_env *env, json_t *sel, scope *parent, plan **out, bool *correlated, br_err *err);

static int bind_query(bind_env *env, json_t *sel, scope *parent, plan **out, bool *correlated, br_err *err)
{
	if (!sel)
		return br_errf(err, BR_EINVAL, "malformed query");
	json_t *with = jget(sel, "withClause");
	if (!with)
		return bind_query_body(env, sel, parent, out, correlated, err);
	if (json_is_true(jget(with, "recursive")))
		return br_errf(err, BR_EUNSUPPORTED, "unsupported: WITH RECURSIVE");
	const void *saved = env->ctes;
	size_t i;
	json_t *item;
	json_array_foreach(jget(with, "ctes"), i, item) {
		json_t *in;
		if (strcmp(ntype(item, &in), "CommonTableExpr") || !jstr(in, "ctename") || !jget(in, "ctequery"))
			return env->ctes = saved, br_errf(err, BR_EINVAL, "malformed WITH");
		json_t *q;
		if (strcmp(ntype(jget(in, "ctequery"), &q), "SelectStmt"))
			return env->ctes = saved, br_errf(err, BR_EUNSUPPORTED, "unsupported: data-modifying WITH");
		for (const cte *c = env->ctes; c != saved; c = c->next)
			if (!strcmp(c->name, jstr(in, "ctename")))
				return env->ctes = saved,
				       br_errf(err, BR_EINVAL, "WITH query name \"%s\" specified more than once", c->name);
		cte *c = br_arena_alloc(env->arena, sizeof *c);
		c->name = br_arena_strndup(env->arena, jstr(in, "ctename"), strlen(jstr(in, "ctename")));
		c->query = jget(in, "ctequery");
		c->colnames = jget(in, "aliascolnames");
		c->next = env->ctes;
		env->ctes = c;
	}
	int rc = bind_query_body(env, sel, parent, out, correlated, err);
	env->ctes = saved;
	return rc;
}

static void fill_scope(bind_env *env, scope *sc, const from_acc *acc)
{
	int width = 0;
	for (int i = 0; i < acc->n; i++)
		width += acc->items[i].p->ncols;
	sc->cols = br_arena_alloc(env->arena, sizeof(scol) * (size_t)(width ? width : 1));
	for (int i = 0; i < acc->n; i++)
		for (int c = 0; c < acc->items[i].p->ncols; c++)
			sc->cols[sc->n++] = (scol){ acc->items[i].colquals ? acc->items[i].colquals[c] : acc->items[i].qual,
						    acc->items[i].p->names[c], acc->items[i].p->types[c] };
}

static void json_conjuncts(json_t *node, json_t ***list, int *n, int *cap, br_arena *a)
{
	json_t *in;
	if (!strcmp(ntype(node, &in), "BoolExpr") && jstr(in, "boolop") && !strcmp(jstr(in, "boolop"), "AND_EXPR")) {
		size_t i;
		json_t *arg;
		json_array_foreach(jget(in, "args"), i, arg) json_conjuncts(arg, list, n, cap, a);
		return;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		json_t **nl = br_arena_alloc(a, sizeof *nl * (size_t)*cap);
		if (*n)
			memcpy(nl, *list, sizeof *nl * (size_t)*n);
		*list = nl;
	}
	(*list)[(*n)++] = node;
}

/* The inner side of a correlated subquery being turned into a join: its FROM
 * items, its uncorrelated conjuncts, and the correlation as pairs
 * (inner expression, outer column) from conditions "inner = outer". ok is
 * false when the subquery has another shape. */
typedef struct corr_inner {
	bool ok;
	from_acc acc;
	scope *isc;
	br_expr **iconj;
	int niconj;
	br_expr **ikeys;
	int *okeys;
	int nk;
} corr_inner;

/* A copy of e with PARAM (depth 1) outer column p replaced by COL(base + j),
 * j being p's position in params. */
static br_expr *params_to_cols(bctx *b, const br_expr *e, const int *params, int np, int base)
{
	br_expr *c = br_arena_alloc(b->env->arena, sizeof *c);
	*c = *e;
	if (e->kind == BR_X_PARAM && e->depth == 1)
		for (int j = 0; j < np; j++)
			if (params[j] == e->col) {
				c->kind = BR_X_COL;
				c->col = base + j;
				c->depth = 0;
			}
	if (e->nargs) {
		c->args = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)e->nargs);
		for (int i = 0; i < e->nargs; i++)
			c->args[i] = params_to_cols(b, e->args[i], params, np, base);
	}
	return c;
}

/* Correlation by other comparisons than equality (x.b < t.b): the inner side
 * is joined with D = DISTINCT(the outer parameters), taken from the one outer
 * FROM item that holds them all, and the correlated conditions become filters
 * over inner x D. The keys between the query and the result are then the
 * parameters themselves. Returns 1 when the shape does not fit. */
static int theta_params(bctx *b, corr_inner *ci, br_expr **corr, int ncorr)
{
	const from_acc *outer = b->lift ? b->lift->outer : NULL;
	if (!outer)
		return 1;
	int *params = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)(2 * ncorr + 1));
	int np = 0;
	for (int i = 0; i < ncorr; i++)
		for (int a = 0; a < 2; a++) {
			const br_expr *o = corr[i]->args[a];
			if (o->kind != BR_X_PARAM)
				continue;
			bool seen = false;
			for (int j = 0; j < np; j++)
				seen |= params[j] == o->col;
			if (!seen)
				params[np++] = o->col;
		}
	/* the FROM item holding every parameter */
	int off = 0, item = -1;
	for (int i = 0; i < outer->n && item < 0; i++) {
		int w = outer->items[i].p->ncols;
		bool all = true;
		for (int j = 0; j < np; j++)
			all &= params[j] >= off && params[j] < off + w;
		if (all)
			item = i;
		else
			off += w;
	}
	if (item < 0)
		return 1;
	plan *src = outer->items[item].p;
	plan *m = pnew(b->env, P_MAP, np);
	m->in[0] = src;
	m->nexprs = np;
	m->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)np);
	for (int j = 0; j < np; j++) {
		m->exprs[j] = mk_col(b, params[j] - off, src->types[params[j] - off]);
		m->types[j] = src->types[params[j] - off];
		m->names[j] = "?param?";
	}
	plan *d = pcopy_shape(b->env, P_DISTINCT, m);
	/* D joins the inner FROM items last: its columns follow the inner ones */
	int base = ci->isc->n;
	from_acc *acc = &ci->acc;
	if (acc->n == acc->cap) {
		acc->cap = acc->cap * 2 + 2;
		from_item *ni = br_arena_alloc(b->env->arena, sizeof *ni * (size_t)acc->cap);
		memcpy(ni, acc->items, sizeof *ni * (size_t)acc->n);
		acc->items = ni;
	}
	acc->items[acc->n++] = (from_item){ d, NULL, NULL, BR_JOIN_INNER };
	int cap = ci->niconj + ncorr + 1;
	br_expr **nc = br_arena_alloc(b->env->arena, sizeof *nc * (size_t)cap);
	if (ci->niconj)
		memcpy(nc, ci->iconj, sizeof *nc * (size_t)ci->niconj);
	for (int i = 0; i < ncorr; i++)
		nc[ci->niconj++] = params_to_cols(b, corr[i], params, np, base);
	ci->iconj = nc;
	ci->nk = np;
	for (int j = 0; j < np; j++) {
		ci->ikeys[j] = mk_col(b, base + j, m->types[j]);
		ci->okeys[j] = params[j];
	}
	return 0;
}

static int bind_corr_inner(bctx *b, json_t *sel, corr_inner *ci)
{
	memset(ci, 0, sizeof *ci);
	const char *op = jstr(sel, "op");
	if (!sel || (op && strcmp(op, "SETOP_NONE")) || jget(sel, "groupClause") || jget(sel, "havingClause") ||
	    jget(sel, "distinctClause") || jget(sel, "limitCount") || jget(sel, "limitOffset") || jget(sel, "withClause") ||
	    jget(sel, "valuesLists") || !jget(sel, "fromClause") || jget(sel, "sortClause"))
		return 0;
	ci->isc = br_arena_alloc(b->env->arena, sizeof *ci->isc);
	ci->isc->parent = b->sc;
	bctx ib = { .env = b->env, .sc = ci->isc, .err = b->err };
	int rc;
	size_t i;
	json_t *item;
	json_array_foreach(jget(sel, "fromClause"), i, item) {
		if ((rc = bind_from_item(&ib, item, &ci->acc)))
			return rc;
	}
	fill_scope(b->env, ci->isc, &ci->acc);
	json_t **jc = NULL;
	int njc = 0, capjc = 0, capi = 0;
	for (int q = 0; q < ci->acc.nquals; q++)
		json_conjuncts(ci->acc.quals[q], &jc, &njc, &capjc, b->env->arena);
	ci->acc.nquals = 0; /* bound here, as conjuncts */
	if (jget(sel, "whereClause"))
		json_conjuncts(jget(sel, "whereClause"), &jc, &njc, &capjc, b->env->arena);
	ci->ikeys = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(njc + 2));
	ci->okeys = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)(njc + 2));
	br_expr **corr = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(njc + 1));
	int ncorr = 0;
	bool all_eq = true;
	for (int q = 0; q < njc; q++) {
		br_expr *e;
		if ((rc = bind_expr(&ib, jc[q], &e)) || (rc = need_bool(&ib, e, &e, "WHERE")))
			return rc;
		if (has_subq(e))
			return 0;
		if (!has_kind(e, BR_X_PARAM)) {
			add_conjuncts(&ib, e, &ci->iconj, &ci->niconj, &capi);
			continue;
		}
		/* correlated: a comparison of a bare outer column (depth 1) with an
		 * inner expression. Comparisons are NULL when the outer value is NULL,
		 * so a NULL outer value matches nothing: what the joins below assume. */
		if (e->kind < BR_X_EQ || e->kind > BR_X_GE)
			return 0;
		br_expr *o = e->args[1], *x = e->args[0];
		if (o->kind != BR_X_PARAM) {
			o = e->args[0];
			x = e->args[1];
		}
		if (o->kind != BR_X_PARAM || o->depth != 1 || has_kind(x, BR_X_PARAM))
			return 0;
		corr[ncorr++] = e;
		if (e->kind == BR_X_EQ && o->type == x->type) {
			ci->ikeys[ci->nk] = x;
			ci->okeys[ci->nk++] = o->col;
		} else {
			all_eq = false;
		}
	}
	if (!all_eq && (rc = theta_params(b, ci, corr, ncorr)))
		return rc < 0 ? rc : 0;
	ci->ok = true;
	return 0;
}

/* x NOT IN (uncorrelated q) as a WHERE conjunct of a view. Its rule: true when
 * q is empty; otherwise only when x is not NULL, no row of q equals x and no
 * row of q is NULL (a NULL makes the answer unknown). So the query joins
 *   A = SELECT count(*), count(*) - count(y) FROM q        (one row)
 *   R = SELECT DISTINCT y, true FROM q WHERE y IS NOT NULL (left join on x = y)
 * and keeps: A.n = 0 OR (x IS NOT NULL AND R.mark IS NULL AND A.nulls = 0). */
static int try_not_in(bctx *b, json_t *in, br_expr ***conj, int *nconj, int *cap)
{
	json_t *sel = jget(jget(in, "subselect"), "SelectStmt");
	br_expr *x;
	int rc;
	if ((rc = bind_expr(b, jget(in, "testexpr"), &x)))
		return rc;
	if (x->kind != BR_X_COL)
		return 1;
	plan *q1, *q2;
	bool corr = false;
	if ((rc = bind_query(b->env, sel, b->sc, &q1, &corr, b->err)))
		return rc;
	if (corr || q1->nvisible != 1 || q1->types[0] != x->type || q1->nsort || q1->limit >= 0 || q1->offset)
		return 1;
	if ((rc = bind_query(b->env, sel, b->sc, &q2, &corr, b->err)))
		return rc;
	br_type_id ty = x->type;
	/* A: count(*), count(y) -> (n, nulls) */
	plan *a = pnew(b->env, P_AGG, 2);
	a->in[0] = q1;
	a->naggs = 2;
	a->aggs = br_arena_alloc(b->env->arena, sizeof *a->aggs * 2);
	a->aggs[0] = (br_agg_spec){ .kind = BR_AGG_COUNT_STAR, .col = -1, .type = BR_T_LONG };
	a->aggs[1] = (br_agg_spec){ .kind = BR_AGG_COUNT, .col = 0, .type = BR_T_LONG };
	a->types[0] = a->types[1] = BR_T_LONG;
	a->names[0] = a->names[1] = "?count?";
	plan *am = pnew(b->env, P_MAP, 2);
	am->in[0] = a;
	am->nexprs = 2;
	am->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * 2);
	am->exprs[0] = mk_col(b, 0, BR_T_LONG);
	am->exprs[1] = mk2(b, BR_X_SUB, BR_T_LONG, mk_col(b, 0, BR_T_LONG), mk_col(b, 1, BR_T_LONG), -1);
	am->types[0] = am->types[1] = BR_T_LONG;
	am->names[0] = am->names[1] = "?count?";
	int abase = lift_add(b, am, BR_JOIN_INNER);
	/* R: DISTINCT non-NULL y with a marker */
	plan *f = pcopy_shape(b->env, P_FILTER, q2);
	f->pred = mk(b, BR_X_ISNOTNULL, BR_T_BOOLEAN, 1, -1);
	f->pred->args[0] = mk_col(b, 0, ty);
	plan *m = pnew(b->env, P_MAP, 2);
	m->in[0] = f;
	m->nexprs = 2;
	m->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * 2);
	m->exprs[0] = mk_col(b, 0, ty);
	br_expr *mark = mk(b, BR_X_CONST, BR_T_BOOLEAN, 0, -1);
	mark->k = (br_value){ .type = BR_T_BOOLEAN };
	mark->k.v.b = true;
	m->exprs[1] = mark;
	m->types[0] = ty;
	m->types[1] = BR_T_BOOLEAN;
	m->names[0] = "?y?";
	m->names[1] = "?mark?";
	int rbase = lift_add(b, pcopy_shape(b->env, P_DISTINCT, m), BR_JOIN_LEFT);
	add_conjuncts(b, mk2(b, BR_X_EQ, BR_T_BOOLEAN, mk_col(b, x->col, ty), mk_col(b, rbase, ty), -1), conj, nconj, cap);
	br_expr *zero = mk(b, BR_X_CONST, BR_T_LONG, 0, -1);
	zero->k = br_value_i64(BR_T_LONG, 0);
	br_expr *empty = mk2(b, BR_X_EQ, BR_T_BOOLEAN, mk_col(b, abase, BR_T_LONG), zero, -1);
	br_expr *xnn = mk(b, BR_X_ISNOTNULL, BR_T_BOOLEAN, 1, -1);
	xnn->args[0] = mk_col(b, x->col, ty);
	br_expr *nomatch = mk(b, BR_X_ISNULL, BR_T_BOOLEAN, 1, -1);
	nomatch->args[0] = mk_col(b, rbase + 1, BR_T_BOOLEAN);
	br_expr *nonulls = mk2(b, BR_X_EQ, BR_T_BOOLEAN, mk_col(b, abase + 1, BR_T_LONG), zero, -1);
	br_expr *all = mk(b, BR_X_AND, BR_T_BOOLEAN, 3, -1);
	all->args[0] = xnn;
	all->args[1] = nomatch;
	all->args[2] = nonulls;
	add_conjuncts(b, mk2(b, BR_X_OR, BR_T_BOOLEAN, empty, all, -1), conj, nconj, cap);
	return 0;
}

/* Decorrelation for views: a WHERE conjunct [NOT] EXISTS (SELECT .. FROM ..
 * WHERE inner = outer AND ...) or outer IN (SELECT inner FROM .. WHERE ..),
 * where every correlated condition is "inner expression = outer column",
 * becomes a join with R = DISTINCT(inner keys, true) on those keys: an inner
 * join for EXISTS and IN (a semi-join, R being distinct), a left join keeping
 * the rows whose marker is NULL for NOT EXISTS (an anti-join). Returns 1 when
 * the conjunct does not have that shape (the caller binds it as usual), 0 when
 * it was turned into a join, or an error. */
static int try_semijoin(bctx *b, json_t *cj, br_expr ***conj, int *nconj, int *cap)
{
	json_t *in;
	bool neg = false;
	const char *t = ntype(cj, &in);
	if (!strcmp(t, "BoolExpr") && jstr(in, "boolop") && !strcmp(jstr(in, "boolop"), "NOT_EXPR") &&
	    json_array_size(jget(in, "args")) == 1) {
		neg = true;
		t = ntype(json_array_get(jget(in, "args"), 0), &in);
	}
	if (strcmp(t, "SubLink") || !b->lift)
		return 1;
	const char *lt = jstr(in, "subLinkType");
	bool is_in = lt && !strcmp(lt, "ANY_SUBLINK");
	if (!lt || (strcmp(lt, "EXISTS_SUBLINK") && !is_in))
		return 1;
	if (is_in && last_name(jget(in, "operName")) && strcmp(last_name(jget(in, "operName")), "="))
		return 1;
	if (is_in && neg)
		return try_not_in(b, in, conj, nconj, cap);
	json_t *sel = jget(jget(in, "subselect"), "SelectStmt");
	json_t *tl = jget(sel, "targetList");
	if (is_in && json_array_size(tl) != 1)
		return 1;
	corr_inner ci;
	int rc = bind_corr_inner(b, sel, &ci);
	if (rc)
		return rc;
	if (!ci.ok)
		return 1;
	br_expr **ikeys = ci.ikeys;
	int *okeys = ci.okeys, nk = ci.nk;
	bctx ib = { .env = b->env, .sc = ci.isc, .err = b->err };
	if (is_in) {
		json_t *rt;
		ntype(json_array_get(tl, 0), &rt);
		br_expr *y, *xo;
		if ((rc = bind_expr(&ib, jget(rt, "val"), &y)) || (rc = bind_expr(b, jget(in, "testexpr"), &xo)))
			return rc;
		if (has_kind(y, BR_X_PARAM) || has_subq(y) || has_kind(y, BR_X_AGGREF) || xo->kind != BR_X_COL ||
		    xo->type != y->type)
			return 1;
		ikeys[nk] = y;
		okeys[nk++] = xo->col;
	}
	if (!nk)
		return 1; /* uncorrelated: the lifting path handles EXISTS */
	plan *p;
	if ((rc = build_joins(&ib, &ci.acc, ci.iconj, ci.niconj, &p)))
		return rc;
	plan *m = pnew(b->env, P_MAP, nk + 1);
	m->in[0] = p;
	m->nexprs = nk + 1;
	m->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(nk + 1));
	for (int k = 0; k < nk; k++) {
		m->exprs[k] = ikeys[k];
		m->types[k] = ikeys[k]->type;
		m->names[k] = "?key?";
	}
	br_expr *mark = mk(b, BR_X_CONST, BR_T_BOOLEAN, 0, -1);
	mark->k = (br_value){ .type = BR_T_BOOLEAN };
	mark->k.v.b = true;
	m->exprs[nk] = mark;
	m->types[nk] = BR_T_BOOLEAN;
	m->names[nk] = "?mark?";
	plan *r = pcopy_shape(b->env, P_DISTINCT, m);
	int base = lift_add(b, r, neg ? BR_JOIN_LEFT : BR_JOIN_INNER);
	for (int k = 0; k < nk; k++)
		add_conjuncts(b, mk2(b, BR_X_EQ, BR_T_BOOLEAN, mk_col(b, okeys[k], ikeys[k]->type),
				     mk_col(b, base + k, ikeys[k]->type), -1), conj, nconj, cap);
	if (neg) {
		br_expr *isnull = mk(b, BR_X_ISNULL, BR_T_BOOLEAN, 1, -1);
		isnull->args[0] = mk_col(b, base + nk, BR_T_BOOLEAN);
		add_conjuncts(b, isnull, conj, nconj, cap);
	}
	return 0;
}

/* A correlated EXISTS anywhere in a view's expressions (under OR, in the
 * select list): R = DISTINCT(inner keys, true) is left-joined on the keys and
 * EXISTS is "R's marker is not NULL". Returns 1 when the shape does not fit
 * (uncorrelated EXISTS is lifted as count(*) > 0 instead). */
static int try_exists_expr(bctx *b, json_t *in, br_expr **out)
{
	corr_inner ci;
	int rc = bind_corr_inner(b, jget(jget(in, "subselect"), "SelectStmt"), &ci);
	if (rc)
		return rc;
	if (!ci.ok || !ci.nk)
		return 1;
	bctx ib = { .env = b->env, .sc = ci.isc, .err = b->err };
	plan *p;
	if ((rc = build_joins(&ib, &ci.acc, ci.iconj, ci.niconj, &p)))
		return rc;
	int nk = ci.nk;
	plan *m = pnew(b->env, P_MAP, nk + 1);
	m->in[0] = p;
	m->nexprs = nk + 1;
	m->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(nk + 1));
	for (int k = 0; k < nk; k++) {
		m->exprs[k] = ci.ikeys[k];
		m->types[k] = ci.ikeys[k]->type;
		m->names[k] = "?key?";
	}
	br_expr *mark = mk(b, BR_X_CONST, BR_T_BOOLEAN, 0, -1);
	mark->k = (br_value){ .type = BR_T_BOOLEAN };
	mark->k.v.b = true;
	m->exprs[nk] = mark;
	m->types[nk] = BR_T_BOOLEAN;
	m->names[nk] = "?mark?";
	int base = lift_add(b, pcopy_shape(b->env, P_DISTINCT, m), BR_JOIN_LEFT);
	liftctx *l = b->lift;
	for (int k = 0; k < nk; k++)
		add_conjuncts(b, mk2(b, BR_X_EQ, BR_T_BOOLEAN, mk_col(b, ci.okeys[k], ci.ikeys[k]->type),
				     mk_col(b, base + k, ci.ikeys[k]->type), -1), l->conj, l->nconj, l->capconj);
	br_expr *e = mk(b, BR_X_ISNOTNULL, BR_T_BOOLEAN, 1, jloc(in));
	e->args[0] = mk_col(b, base + nk, BR_T_BOOLEAN);
	*out = e;
	return 0;
}

/* v with every aggregate replaced by its value over no rows (count: 0, the
 * others: NULL). */
static br_expr *empty_agg_value(bctx *b, const br_expr *v, const aggctx *agg)
{
	br_expr *c = br_arena_alloc(b->env->arena, sizeof *c);
	*c = *v;
	if (v->kind == BR_X_AGGREF) {
		const br_agg_spec *sp = &agg->specs[v->col];
		c->kind = BR_X_CONST;
		c->nargs = 0;
		bool cnt = sp->kind == BR_AGG_COUNT || sp->kind == BR_AGG_COUNT_STAR;
		c->k = cnt ? br_value_i64(BR_T_LONG, 0) : br_value_null(sp->type);
		return c;
	}
	if (v->nargs) {
		c->args = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)v->nargs);
		for (int i = 0; i < v->nargs; i++)
			c->args[i] = empty_agg_value(b, v->args[i], agg);
	}
	return c;
}

/* Decorrelation of a scalar aggregate subquery in a view:
 *   (SELECT f(aggs) FROM .. WHERE inner = outer AND ..)
 * becomes R = SELECT inner keys, f(aggs), true FROM .. WHERE .. GROUP BY keys,
 * left-joined on the keys; the value is f over no rows where R has no row for
 * the key (so count is 0, not NULL: the classic "count bug"). Returns 1 when
 * the subquery has another shape. */
static int try_scalar(bctx *b, json_t *in, br_expr **out)
{
	int loc = jloc(in), rc;
	json_t *sel = jget(jget(in, "subselect"), "SelectStmt");
	json_t *tl = jget(sel, "targetList");
	if (json_array_size(tl) != 1)
		return 1;
	corr_inner ci;
	if ((rc = bind_corr_inner(b, sel, &ci)))
		return rc;
	if (!ci.ok || !ci.nk)
		return 1;
	aggctx agg = { 0 };
	bctx ib = { .env = b->env, .sc = ci.isc, .agg = &agg, .err = b->err };
	json_t *rt;
	ntype(json_array_get(tl, 0), &rt);
	br_expr *v;
	if ((rc = bind_expr(&ib, jget(rt, "val"), &v)))
		return rc;
	if (is_unknown(v) && (rc = coerce(&ib, v, BR_T_STRING, &v, "SELECT")))
		return rc;
	if (!agg.n || has_kind(v, BR_X_PARAM) || has_subq(v))
		return 1; /* not an aggregate: it could yield several rows */
	for (int k = 0; k < agg.n; k++)
		if (agg.args[k] && (has_kind(agg.args[k], BR_X_PARAM) || has_subq(agg.args[k])))
			return 1;
	int nk = ci.nk;
	plan *p;
	if ((rc = build_joins(&ib, &ci.acc, ci.iconj, ci.niconj, &p)))
		return rc;
	plan *m = pnew(b->env, P_MAP, nk + agg.n + agg.nextra);
	m->in[0] = p;
	m->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(nk + agg.n + agg.nextra + 1));
	int nm = 0;
	for (int k = 0; k < nk; k++) {
		m->exprs[nm] = ci.ikeys[k];
		m->types[nm] = ci.ikeys[k]->type;
		m->names[nm++] = "?key?";
	}
	br_agg_spec *specs = br_arena_alloc(b->env->arena, sizeof *specs * (size_t)agg.n);
	for (int k = 0; k < agg.n; k++) {
		specs[k] = agg.specs[k];
		if (agg.args[k]) {
			specs[k].col = nm;
			m->exprs[nm] = agg.args[k];
			m->types[nm] = agg.args[k]->type;
			m->names[nm++] = "?arg?";
		}
		agg_order_cols(&agg, k, &specs[k], m, &nm);
	}
	m->ncols = m->nvisible = m->nexprs = nm;
	plan *a = pnew(b->env, P_AGG, nk + agg.n);
	a->in[0] = m;
	a->ngroup = nk;
	a->gcols = br_arena_alloc(b->env->arena, sizeof(int) * (size_t)nk);
	for (int k = 0; k < nk; k++) {
		a->gcols[k] = k;
		a->types[k] = ci.ikeys[k]->type;
		a->names[k] = "?key?";
	}
	a->naggs = agg.n;
	a->aggs = specs;
	for (int k = 0; k < agg.n; k++) {
		a->types[nk + k] = specs[k].type;
		a->names[nk + k] = "?agg?";
	}
	br_expr *vr;
	if ((rc = agg_rewrite(&ib, v, ci.ikeys, nk, &vr)))
		return rc;
	plan *f = pnew(b->env, P_MAP, nk + 2);
	f->in[0] = a;
	f->nexprs = nk + 2;
	f->exprs = br_arena_alloc(b->env->arena, sizeof(br_expr *) * (size_t)(nk + 2));
	for (int k = 0; k < nk; k++) {
		f->exprs[k] = mk_col(b, k, ci.ikeys[k]->type);
		f->types[k] = ci.ikeys[k]->type;
		f->names[k] = "?key?";
	}
	f->exprs[nk] = vr;
	f->types[nk] = vr->type;
	f->names[nk] = "?value?";
	br_expr *mark = mk(b, BR_X_CONST, BR_T_BOOLEAN, 0, -1);
	mark->k = (br_value){ .type = BR_T_BOOLEAN };
	mark->k.v.b = true;
	f->exprs[nk + 1] = mark;
	f->types[nk + 1] = BR_T_BOOLEAN;
	f->names[nk + 1] = "?mark?";
	int base = lift_add(b, f, BR_JOIN_LEFT);
	liftctx *l = b->lift;
	for (int k = 0; k < nk; k++)
		add_conjuncts(b, mk2(b, BR_X_EQ, BR_T_BOOLEAN, mk_col(b, ci.okeys[k], ci.ikeys[k]->type),
				     mk_col(b, base + k, ci.ikeys[k]->type), -1), l->conj, l->nconj, l->capconj);
	br_expr *isnull = mk(b, BR_X_ISNULL, BR_T_BOOLEAN, 1, loc);
	isnull->args[0] = mk_col(b, base + nk + 1, BR_T_BOOLEAN);
	br_expr *e = mk(b, BR_X_CASE, v->type, 3, loc);
	e->args[0] = isnull;
	e->args[1] = empty_agg_value(b, v, &agg);
	e->args[2] = mk_col(b, base + nk, v->type);
	*out = e;
	return 0;
}

static int bind_query_body(bind_env *env, json_t *sel, scope *parent, plan **out, bool *correlated, br_err *err)
{
	const char *op = jstr(sel, "op");
	if (op && strcmp(op, "SETOP_NONE"))
		return bind_setop(env, sel, parent, out, correlated, err);
	bctx b = { .env = env, .err = err };
	int rc;
	if (jget(sel, "valuesLists"))
		return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: VALUES as a query");
	if (jget(sel, "intoClause"))
		return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: SELECT INTO");
	if (jget(sel, "windowClause"))
		return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: WINDOW");
	if (jget(sel, "lockingClause"))
		return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: FOR UPDATE/SHARE");
	json_t *dl = jget(sel, "distinctClause");
	bool distinct = dl != NULL;
	if (distinct && json_array_size(dl) > 0 && json_object_size(json_array_get(dl, 0)) > 0)
		return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: DISTINCT ON");

	/* FROM: the scope's columns are the concatenation of the items'. */
	from_acc acc = { 0 };
	scope *sc = br_arena_alloc(env->arena, sizeof *sc);
	sc->parent = parent;
	b.sc = sc; /* FROM subqueries see only the parents: sc has no columns yet */
	json_t *from = jget(sel, "fromClause");
	size_t fi;
	json_t *item;
	json_array_foreach(from, fi, item) {
		if ((rc = bind_from_item(&b, item, &acc)))
			return rc;
	}
	int width = 0;
	for (int i = 0; i < acc.n; i++)
		width += acc.items[i].p->ncols;
	sc->cols = br_arena_alloc(env->arena, sizeof(scol) * (size_t)(width ? width : 1));
	for (int i = 0; i < acc.n; i++)
		for (int c = 0; c < acc.items[i].p->ncols; c++)
			sc->cols[sc->n++] = (scol){ acc.items[i].colquals ? acc.items[i].colquals[c] : acc.items[i].qual,
						    acc.items[i].p->names[c], acc.items[i].p->types[c] };
	if (!acc.n) {
		acc.items = br_arena_alloc(env->arena, sizeof *acc.items);
		acc.items[0].p = pnew(env, P_VALUES, 0);
		acc.n = 1;
	}

	br_expr **conj = NULL;
	int nconj = 0, capconj = 0;
	liftctx lift = { .conj = &conj, .nconj = &nconj, .capconj = &capconj, .outer = &acc };
	if (env->for_view)
		b.lift = &lift;
	/* WHERE and ON conditions, split into conjuncts for the join builder. */
	for (int i = 0; i < acc.nquals; i++) {
		br_expr *e;
		if ((rc = bind_expr(&b, acc.quals[i], &e)) || (rc = need_bool(&b, e, &e, "JOIN/ON")))
			return rc;
		add_conjuncts(&b, e, &conj, &nconj, &capconj);
	}
	if (jget(sel, "whereClause") && env->for_view) {
		/* conjunct by conjunct, so [NOT] EXISTS / IN can become joins */
		json_t **jc = NULL;
		int njc = 0, capjc = 0;
		json_conjuncts(jget(sel, "whereClause"), &jc, &njc, &capjc, env->arena);
		for (int i = 0; i < njc; i++) {
			if ((rc = try_semijoin(&b, jc[i], &conj, &nconj, &capconj)) <= 0) {
				if (rc)
					return rc;
				continue;
			}
			br_expr *e;
			if ((rc = bind_expr(&b, jc[i], &e)) || (rc = need_bool(&b, e, &e, "WHERE")))
				return rc;
			add_conjuncts(&b, e, &conj, &nconj, &capconj);
		}
	} else if (jget(sel, "whereClause")) {
		br_expr *e;
		if ((rc = bind_expr(&b, jget(sel, "whereClause"), &e)) || (rc = need_bool(&b, e, &e, "WHERE")))
			return rc;
		add_conjuncts(&b, e, &conj, &nconj, &capconj);
	}
	/* Select list (aggregates allowed; they become AGGREF placeholders). */
	aggctx agg = { 0 };
	winctx win = { 0 };
	b.agg = &agg;
	b.win = &win;
	json_t *tl = jget(sel, "targetList");
	int cap = (int)json_array_size(tl) + sc->n + 1, nt = 0;
	br_expr **targets = br_arena_alloc(env->arena, sizeof *targets * (size_t)cap);
	const char **names = br_arena_alloc(env->arena, sizeof *names * (size_t)cap);
	json_t *rtj;
	json_array_foreach(tl, fi, rtj) {
		json_t *rt, *vin;
		ntype(rtj, &rt);
		json_t *val = jget(rt, "val");
		if (!strcmp(ntype(val, &vin), "ColumnRef")) {
			json_t *f = jget(vin, "fields");
			json_t *lastin;
			const char *lt = ntype(json_array_get(f, json_array_size(f) - 1), &lastin);
			if (!strcmp(lt, "A_Star")) {
				const char *q = NULL;
				if (json_array_size(f) >= 2) {
					json_t *qin;
					ntype(json_array_get(f, json_array_size(f) - 2), &qin);
					q = jstr(qin, "sval");
				}
				int added = 0;
				for (int c = 0; c < sc->n; c++) {
					if (q && (!sc->cols[c].qual || strcmp(sc->cols[c].qual, q)))
						continue;
					if (nt + 1 >= cap) {
						cap = cap * 2 + sc->n;
						br_expr **nt2 = br_arena_alloc(env->arena, sizeof *nt2 * (size_t)cap);
						const char **nn = br_arena_alloc(env->arena, sizeof *nn * (size_t)cap);
						memcpy(nt2, targets, sizeof *nt2 * (size_t)nt);
						memcpy(nn, names, sizeof *nn * (size_t)nt);
						targets = nt2;
						names = nn;
					}
					targets[nt] = mk_col(&b, c, sc->cols[c].type);
					names[nt++] = sc->cols[c].name;
					added++;
				}
				if (!added && q)
					return perr(&b, jloc(vin), BR_EINVAL, "missing FROM-clause entry for table \"%s\"", q);
				if (!added && !q && sc->n == 0)
					return perr(&b, jloc(vin), BR_EINVAL, "SELECT * with no tables specified is not valid");
				continue;
			}
		}
		if (nt + 1 >= cap) {
			cap *= 2;
			br_expr **nt2 = br_arena_alloc(env->arena, sizeof *nt2 * (size_t)cap);
			const char **nn = br_arena_alloc(env->arena, sizeof *nn * (size_t)cap);
			memcpy(nt2, targets, sizeof *nt2 * (size_t)nt);
			memcpy(nn, names, sizeof *nn * (size_t)nt);
			targets = nt2;
			names = nn;
		}
		if ((rc = bind_expr(&b, val, &targets[nt])))
			return rc;
		if (is_unknown(targets[nt]) && (rc = coerce(&b, targets[nt], BR_T_STRING, &targets[nt], "SELECT")))
			return rc;
		const char *tn = target_name(env, rt); /* points into the parse tree: copy */
		names[nt++] = br_arena_strndup(env->arena, tn, strlen(tn));
	}
	b.win = NULL;
	if (!nt && !json_array_size(tl))
		return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: SELECT with an empty select list");

	/* GROUP BY items: positions and output names refer to the select list. */
	json_t *gl = jget(sel, "groupClause");
	int ng = (int)json_array_size(gl);
	br_expr **groups = br_arena_alloc(env->arena, sizeof *groups * (size_t)(ng ? ng : 1));
	aggctx *saved = b.agg;
	b.agg = NULL;
	for (int i = 0; i < ng; i++) {
		json_t *g = json_array_get(gl, (size_t)i), *gin;
		const char *gt = ntype(g, &gin);
		if (!strcmp(gt, "A_Const") && jget(gin, "ival")) {
			json_t *iv = jget(jget(gin, "ival"), "ival");
			int64_t pos = json_is_integer(iv) ? json_integer_value(iv) : 0;
			if (pos < 1 || pos > nt)
				return perr(&b, jloc(gin), BR_EINVAL, "GROUP BY position %" PRId64 " is not in select list", pos);
			groups[i] = targets[pos - 1];
			if (max_col(groups[i]) == INT32_MAX || has_subq(groups[i]))
				return perr(&b, jloc(gin), BR_EUNSUPPORTED, "unsupported: subquery in GROUP BY");
			continue;
		}
		if (!strcmp(gt, "GroupingSet"))
			return perr(&b, jloc(gin), BR_EUNSUPPORTED, "unsupported: GROUPING SETS/ROLLUP/CUBE");
		rc = bind_expr(&b, g, &groups[i]);
		if (rc && !strcmp(gt, "ColumnRef") && json_array_size(jget(gin, "fields")) == 1) {
			/* Not an input column: PostgreSQL then tries an output column name. */
			json_t *fin;
			ntype(json_array_get(jget(gin, "fields"), 0), &fin);
			for (int c = 0; c < nt && rc; c++)
				if (jstr(fin, "sval") && !strcmp(names[c], jstr(fin, "sval"))) {
					groups[i] = targets[c];
					rc = 0;
				}
		}
		if (rc) {
			if (strstr(err->msg, "not allowed here"))
				return perr(&b, jloc(gin), BR_EINVAL, "aggregate functions are not allowed in GROUP BY");
			return rc;
		}
		if (has_subq(groups[i]))
			return perr(&b, jloc(gin), BR_EUNSUPPORTED, "unsupported: subquery in GROUP BY");
	}
	for (int i = 0; i < ng; i++) {
		/* A GROUP BY position can name an aggregate: PostgreSQL refuses. */
		if (has_kind(groups[i], BR_X_AGGREF))
			return perr(&b, groups[i]->pos, BR_EINVAL, "aggregate functions are not allowed in GROUP BY");
	}
	b.agg = saved;
	br_expr *having = NULL;
	if (jget(sel, "havingClause")) {
		if ((rc = bind_expr(&b, jget(sel, "havingClause"), &having)) || (rc = need_bool(&b, having, &having, "HAVING")))
			return rc;
	}
	/* Uncorrelated subqueries lifted out of a view's expressions join the FROM
	 * items (one row each), after the columns the scope names. */
	for (int k = 0; k < lift.n; k++) {
		if (acc.n == acc.cap) {
			acc.cap = acc.cap * 2 + 2;
			from_item *ni = br_arena_alloc(env->arena, sizeof *ni * (size_t)acc.cap);
			memcpy(ni, acc.items, sizeof *ni * (size_t)acc.n);
			acc.items = ni;
		}
		acc.items[acc.n++] = (from_item){ lift.plans[k], NULL, NULL, lift.kinds[k] };
	}
	b.lift = NULL; /* from here on (ORDER BY) a view's subquery is refused */
	plan *p;
	if ((rc = build_joins(&b, &acc, conj, nconj, &p)))
		return rc;
	bool agg_mode = ng > 0 || agg.n > 0 || having;
	if (win.nfuncs) {
		if (agg_mode)
			return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: window functions in a query with GROUP BY or aggregates");
		p = win_plan(&b, p, &win);
		for (int i = 0; i < nt; i++)
			win_fix(targets[i], p->ncols - win.nfuncs);
	}
	hidden_ctx hctx = { groups, ng, agg_mode };
	if (agg_mode) {
		/* map: group expressions then aggregate arguments */
		plan *m = pnew(env, P_MAP, ng + agg.n + agg.nextra);
		m->in[0] = p;
		m->exprs = br_arena_alloc(env->arena, sizeof(br_expr *) * (size_t)(ng + agg.n + agg.nextra + 1));
		int nm = 0;
		for (int i = 0; i < ng; i++) {
			if (is_unknown(groups[i]) && (rc = coerce(&b, groups[i], BR_T_STRING, &groups[i], "GROUP BY")))
				return rc;
			m->exprs[nm] = groups[i];
			m->types[nm] = groups[i]->type;
			m->names[nm++] = "?group?";
		}
		br_agg_spec *specs = br_arena_alloc(env->arena, sizeof *specs * (size_t)(agg.n ? agg.n : 1));
		for (int k = 0; k < agg.n; k++) {
			specs[k] = agg.specs[k];
			if (agg.args[k]) {
				specs[k].col = nm;
				m->exprs[nm] = agg.args[k];
				m->types[nm] = agg.args[k]->type;
				m->names[nm++] = "?arg?";
			}
			agg_order_cols(&agg, k, &specs[k], m, &nm);
			if (agg.args[k] && has_subq(agg.args[k]))
				return perr(&b, agg.args[k]->pos, BR_EUNSUPPORTED, "unsupported: subquery inside an aggregate");
		}
		m->ncols = m->nvisible = m->nexprs = nm;
		m->has_subq = p->has_subq;
		plan *a = pnew(env, P_AGG, ng + agg.n);
		a->in[0] = m;
		a->ngroup = ng;
		a->gcols = br_arena_alloc(env->arena, sizeof(int) * (size_t)(ng ? ng : 1));
		for (int i = 0; i < ng; i++) {
			a->gcols[i] = i;
			a->types[i] = groups[i]->type;
			a->names[i] = "?group?";
		}
		a->naggs = agg.n;
		a->aggs = specs;
		for (int k = 0; k < agg.n; k++) {
			a->types[ng + k] = specs[k].type;
			a->names[ng + k] = "?agg?";
		}
		a->has_subq = m->has_subq;
		p = a;
		if (having) {
			br_expr *h;
			if ((rc = agg_rewrite(&b, having, groups, ng, &h)))
				return rc;
			plan *f = pcopy_shape(env, P_FILTER, p);
			f->pred = h;
			f->has_subq |= has_subq(h);
			p = f;
		}
		for (int i = 0; i < nt; i++)
			if ((rc = agg_rewrite(&b, targets[i], groups, ng, &targets[i])))
				return rc;
	}
	b.agg = NULL; /* ORDER BY aggregates must already be in the select list or groups */
	if (agg_mode)
		b.agg = &agg; /* ...but may introduce new ones only before the aggregate is built */
	plan *m = pnew(env, P_MAP, nt);
	m->in[0] = p;
	m->nexprs = nt;
	m->exprs = targets;
	for (int i = 0; i < nt; i++) {
		m->types[i] = targets[i]->type;
		m->names[i] = (char *)names[i];
		m->has_subq |= has_subq(targets[i]);
	}
	m->has_subq |= p->has_subq;
	int agg_before = agg.n;
	if ((rc = bind_order(&b, sel, m, distinct, bind_hidden_expr, &hctx)))
		return rc;
	if (agg.n != agg_before)
		return perr(&b, -1, BR_EUNSUPPORTED, "unsupported: an aggregate in ORDER BY that is not in the select list");
	plan *res = m;
	if (distinct) {
		res = pcopy_shape(env, P_DISTINCT, m);
		res->nvisible = m->nvisible;
		res->nsort = m->nsort;
		res->sort = m->sort;
		res->limit = m->limit;
		res->offset = m->offset;
		m->nsort = 0;
		m->limit = -1;
		m->offset = 0;
	}
	*out = res;
	if (correlated)
		*correlated = *correlated || sc->correlated;
	return 0;
}

/* ORDER BY ... LIMIT in a materialized view: the view keeps the top rows, a
 * window numbering the rows in that order with a limit of offset + limit,
 * then "rn > offset". The view's contents are a set; a SELECT over it orders
 * them again if it wants an order. */
static int view_topn(bind_env *env, plan **pp, br_err *err)
{
	plan *p = *pp;
	bctx b = { .env = env, .err = err };
	if (!p->nsort)
		return perr(&b, -1, BR_EUNSUPPORTED,
			    "unsupported: LIMIT/OFFSET without ORDER BY in a materialized view (its rows would be arbitrary)");
	int64_t lim = p->limit < 0 ? -1 : p->limit > INT64_MAX - p->offset ? INT64_MAX : p->offset + p->limit;
	plan *w = pnew(env, P_RANK, p->ncols + 1);
	memcpy(w->types, p->types, sizeof(br_type_id) * (size_t)p->ncols);
	memcpy(w->names, p->names, sizeof(char *) * (size_t)p->ncols);
	w->types[p->ncols] = BR_T_LONG;
	w->names[p->ncols] = "?rn?";
	w->in[0] = p;
	w->has_subq = p->has_subq;
	w->nwkeys = p->nsort;
	w->wkeys = br_arena_alloc(env->arena, sizeof(br_sort_key) * (size_t)p->nsort);
	for (int i = 0; i < p->nsort; i++)
		w->wkeys[i] = (br_sort_key){ p->sort[i].col, p->sort[i].desc, p->sort[i].nulls_first };
	w->nwfuncs = 1;
	w->wkinds = br_arena_alloc(env->arena, sizeof(int));
	w->wkinds[0] = BR_WIN_ROW_NUMBER;
	w->wlimit = lim;
	plan *top = w;
	if (p->offset) {
		plan *f = pcopy_shape(env, P_FILTER, w);
		br_expr *k = mk(&b, BR_X_CONST, BR_T_LONG, 0, -1);
		k->k = br_value_i64(BR_T_LONG, p->offset);
		f->pred = mk2(&b, BR_X_GT, BR_T_BOOLEAN, mk_col(&b, p->ncols, BR_T_LONG), k, -1);
		top = f;
	}
	plan *m = pnew(env, P_MAP, p->nvisible);
	m->in[0] = top;
	m->nexprs = p->nvisible;
	m->exprs = br_arena_alloc(env->arena, sizeof(br_expr *) * (size_t)(p->nvisible + 1));
	for (int i = 0; i < p->nvisible; i++) {
		m->exprs[i] = mk_col(&b, i, p->types[i]);
		m->types[i] = p->types[i];
		m->names[i] = p->names[i];
	}
	m->has_subq = p->has_subq;
	p->nsort = 0;
	p->limit = -1;
	p->offset = 0;
	*pp = m;
	return 0;
}

int br_bind_select(bind_env *env, json_t *select, plan **out, br_err *err)
{
	bool corr = false;
	int rc = bind_query(env, select, NULL, out, &corr, err);
	if (!rc && env->for_view && ((*out)->limit >= 0 || (*out)->offset))
		rc = view_topn(env, out, err);
	if (!rc)
		*out = br_plan_optimize(env->arena, *out);
	/* after the optimizer, which never moves a filter below a window */
	if (!rc)
		push_topn(*out);
	return rc;
}

int br_bind_table_expr(bind_env *env, const br_sql_table *t, json_t *node, br_expr **out, br_err *err)
{
	scope sc = { 0 };
	sc.n = t->ncols;
	sc.cols = br_arena_alloc(env->arena, sizeof(scol) * (size_t)(t->ncols ? t->ncols : 1));
	for (int i = 0; i < t->ncols; i++)
		sc.cols[i] = (scol){ t->name, t->cols[i], t->types[i] };
	bctx b = { .env = env, .sc = &sc, .err = err };
	return bind_expr(&b, node, out);
}

int br_bind_const_expr(bind_env *env, json_t *node, br_expr **out, br_err *err)
{
	scope sc = { 0 };
	bctx b = { .env = env, .sc = &sc, .err = err };
	return bind_expr(&b, node, out);
}
