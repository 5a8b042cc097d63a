/* expr.c — scalar expression evaluation for flow operators, with SQL NULL
 * semantics (three-valued logic) and PostgreSQL's arithmetic rules: integer
 * overflow and division by zero are errors, not wrapped or NULL values. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "flow/flow.h"

static int xerr(br_err *err, const br_expr *e, int code, const char *msg)
{
	if (e->pos >= 0)
		return br_errf(err, code, "%s at character %d", msg, e->pos + 1);
	return br_errf(err, code, "%s", msg);
}

static double num(const br_value *v)
{
	switch (v->type) {
	case BR_T_DOUBLE: return v->v.f64;
	case BR_T_FLOAT: return v->v.f32;
	case BR_T_INT: return v->v.i32;
	case BR_T_BOOLEAN: return v->v.b;
	default: return (double)v->v.i64;
	}
}

static br_value str_value(br_eval *ev, const char *s, size_t n)
{
	char *p = br_arena_strndup(ev->scratch, s, n);
	return br_value_bytes(BR_T_STRING, p, n);
}

/* Text form of a value as PostgreSQL prints it (used by casts and ||). */
static br_value to_text(br_eval *ev, const br_value *v)
{
	char tmp[64];
	int n;
	switch (v->type) {
	case BR_T_STRING: case BR_T_BINARY: return *v;
	case BR_T_BOOLEAN: return str_value(ev, v->v.b ? "true" : "false", v->v.b ? 4 : 5);
	case BR_T_DOUBLE: case BR_T_FLOAT: {
		double d = num(v);
		if (isnan(d))
			n = snprintf(tmp, sizeof tmp, "NaN");
		else if (isinf(d))
			n = snprintf(tmp, sizeof tmp, d > 0 ? "Infinity" : "-Infinity");
		else
			n = snprintf(tmp, sizeof tmp, "%.15g", d);
		return str_value(ev, tmp, (size_t)n);
	}
	case BR_T_INT: n = snprintf(tmp, sizeof tmp, "%" PRId32, v->v.i32); return str_value(ev, tmp, (size_t)n);
	default: n = snprintf(tmp, sizeof tmp, "%" PRId64, v->v.i64); return str_value(ev, tmp, (size_t)n);
	}
}

static int cast_to(const br_expr *e, br_eval *ev, br_value *v, br_type_id to, br_err *err)
{
	if (v->is_null) {
		*v = br_value_null(to);
		return 0;
	}
	if (v->type == to)
		return 0;
	if (v->type == BR_T_INT && to == BR_T_LONG) {
		*v = br_value_i64(BR_T_LONG, v->v.i32);
		return 0;
	}
	char buf[128];
	switch (to) {
	case BR_T_LONG:
		if (v->type == BR_T_DOUBLE || v->type == BR_T_FLOAT) {
			double d = round(num(v)); /* PostgreSQL rounds half away from zero */
			if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
				return xerr(err, e, BR_EINVAL, "bigint out of range");
			*v = br_value_i64(BR_T_LONG, (int64_t)d);
			return 0;
		}
		if (v->type == BR_T_BOOLEAN) {
			*v = br_value_i64(BR_T_LONG, v->v.b);
			return 0;
		}
		if (v->type == BR_T_STRING) {
			size_t n = BR_MIN(v->v.bytes.len, sizeof buf - 1);
			memcpy(buf, v->v.bytes.p, n);
			buf[n] = 0;
			char *end;
			errno = 0;
			long long x = strtoll(buf, &end, 10);
			while (*end == ' ')
				end++;
			if (errno || end == buf || *end || n != v->v.bytes.len) {
				char m[200];
				snprintf(m, sizeof m, "invalid input syntax for type bigint: \"%s\"", buf);
				return xerr(err, e, BR_EINVAL, m);
			}
			*v = br_value_i64(BR_T_LONG, x);
			return 0;
		}
		break;
	case BR_T_DOUBLE:
		if (v->type == BR_T_STRING) {
			size_t n = BR_MIN(v->v.bytes.len, sizeof buf - 1);
			memcpy(buf, v->v.bytes.p, n);
			buf[n] = 0;
			char *end;
			double d = strtod(buf, &end);
			while (*end == ' ')
				end++;
			if (end == buf || *end || n != v->v.bytes.len) {
				char m[200];
				snprintf(m, sizeof m, "invalid input syntax for type double precision: \"%s\"", buf);
				return xerr(err, e, BR_EINVAL, m);
			}
			*v = br_value_f64(d);
			return 0;
		}
		*v = br_value_f64(num(v));
		return 0;
	case BR_T_STRING:
		*v = to_text(ev, v);
		return 0;
	case BR_T_BOOLEAN:
		if (v->type == BR_T_STRING) {
			size_t n = BR_MIN(v->v.bytes.len, sizeof buf - 1);
			memcpy(buf, v->v.bytes.p, n);
			buf[n] = 0;
			bool b;
			if (!strcasecmp(buf, "t") || !strcasecmp(buf, "true") || !strcasecmp(buf, "yes") ||
			    !strcasecmp(buf, "on") || !strcmp(buf, "1"))
				b = true;
			else if (!strcasecmp(buf, "f") || !strcasecmp(buf, "false") || !strcasecmp(buf, "no") ||
				 !strcasecmp(buf, "off") || !strcmp(buf, "0"))
				b = false;
			else {
				char m[200];
				snprintf(m, sizeof m, "invalid input syntax for type boolean: \"%s\"", buf);
				return xerr(err, e, BR_EINVAL, m);
			}
			v->type = BR_T_BOOLEAN;
			v->is_null = false;
			v->v.b = b;
			return 0;
		}
		if (v->type == BR_T_LONG || v->type == BR_T_INT) {
			bool b = num(v) != 0;
			*v = (br_value){ .type = BR_T_BOOLEAN };
			v->v.b = b;
			return 0;
		}
		break;
	default:
		break;
	}
	return xerr(err, e, BR_EUNSUPPORTED, "unsupported: cast between these types");
}

static bool like_match(const uint8_t *s, size_t sn, const uint8_t *p, size_t pn, bool ci)
{
	/* Iterative matcher with backtracking to the last '%': O(sn * pn) worst case. */
	size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
	while (si < sn) {
		if (pi < pn && p[pi] == '%') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < pn) {
			uint8_t pc = p[pi];
			bool esc = false;
			if (pc == '\\' && pi + 1 < pn) {
				pc = p[pi + 1];
				esc = true;
			}
			uint8_t sc = s[si];
			if (ci) {
				if (pc >= 'A' && pc <= 'Z')
					pc = (uint8_t)(pc + 32);
				if (sc >= 'A' && sc <= 'Z')
					sc = (uint8_t)(sc + 32);
			}
			if ((!esc && pc == '_') || pc == sc) {
				si++;
				pi += esc ? 2 : 1;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return false;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < pn && p[pi] == '%')
		pi++;
	return pi == pn;
}

static int arith(const br_expr *e, const br_value *a, const br_value *b, br_value *out, br_err *err)
{
	if (a->is_null || b->is_null) {
		*out = br_value_null(e->type);
		return 0;
	}
	if (e->type == BR_T_LONG && a->type != BR_T_DOUBLE && b->type != BR_T_DOUBLE) {
		int64_t x = a->type == BR_T_INT ? a->v.i32 : a->v.i64;
		int64_t y = b->type == BR_T_INT ? b->v.i32 : b->v.i64;
		int64_t r = 0;
		bool ovf = false;
		switch (e->kind) {
		case BR_X_ADD: ovf = __builtin_add_overflow(x, y, &r); break;
		case BR_X_SUB: ovf = __builtin_sub_overflow(x, y, &r); break;
		case BR_X_MUL: ovf = __builtin_mul_overflow(x, y, &r); break;
		case BR_X_DIV:
		case BR_X_MOD:
			if (y == 0)
				return xerr(err, e, BR_EINVAL, "division by zero");
			if (y == -1) { /* INT64_MIN / -1 overflows; x % -1 is 0 */
				if (e->kind == BR_X_MOD)
					r = 0;
				else
					ovf = __builtin_sub_overflow((int64_t)0, x, &r);
			} else
				r = e->kind == BR_X_DIV ? x / y : x % y;
			break;
		default: break;
		}
		if (ovf)
			return xerr(err, e, BR_EINVAL, "bigint out of range");
		*out = br_value_i64(BR_T_LONG, r);
		return 0;
	}
	double x = num(a), y = num(b), r = 0;
	switch (e->kind) {
	case BR_X_ADD: r = x + y; break;
	case BR_X_SUB: r = x - y; break;
	case BR_X_MUL: r = x * y; break;
	case BR_X_DIV:
		if (y == 0)
			return xerr(err, e, BR_EINVAL, "division by zero");
		r = x / y;
		break;
	case BR_X_MOD:
		if (y == 0)
			return xerr(err, e, BR_EINVAL, "division by zero");
		r = fmod(x, y);
		break;
	default: break;
	}
	*out = br_value_f64(r);
	return 0;
}

static void set_bool(br_value *out, bool b)
{
	memset(out, 0, sizeof *out);
	out->type = BR_T_BOOLEAN;
	out->v.b = b;
}

int br_expr_eval(const br_expr *e, br_eval *ev, const br_value *row, br_value *out, br_err *err)
{
	br_value a, b;
	int rc;
	switch (e->kind) {
	case BR_X_CONST:
		*out = e->k;
		return 0;
	case BR_X_COL:
		*out = row[e->col];
		return 0;
	case BR_X_PARAM:
		if (e->depth < 1 || e->depth > ev->nouter)
			return xerr(err, e, BR_EINVAL, "outer column reference without an outer row");
		*out = ev->outer[ev->nouter - e->depth][e->col];
		return 0;
	case BR_X_NEG:
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)))
			return rc;
		if (a.is_null) {
			*out = br_value_null(e->type);
		} else if (e->type == BR_T_LONG) {
			int64_t x = a.type == BR_T_INT ? a.v.i32 : a.v.i64, r;
			if (__builtin_sub_overflow((int64_t)0, x, &r))
				return xerr(err, e, BR_EINVAL, "bigint out of range");
			*out = br_value_i64(BR_T_LONG, r);
		} else
			*out = br_value_f64(-num(&a));
		return 0;
	case BR_X_ADD: case BR_X_SUB: case BR_X_MUL: case BR_X_DIV: case BR_X_MOD:
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)) || (rc = br_expr_eval(e->args[1], ev, row, &b, err)))
			return rc;
		return arith(e, &a, &b, out, err);
	case BR_X_EQ: case BR_X_NE: case BR_X_LT: case BR_X_LE: case BR_X_GT: case BR_X_GE: {
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)) || (rc = br_expr_eval(e->args[1], ev, row, &b, err)))
			return rc;
		if (a.is_null || b.is_null) {
			*out = br_value_null(BR_T_BOOLEAN);
			return 0;
		}
		int c = br_val_cmp(&a, &b);
		bool r = e->kind == BR_X_EQ ? c == 0 : e->kind == BR_X_NE ? c != 0 : e->kind == BR_X_LT ? c < 0
			: e->kind == BR_X_LE ? c <= 0 : e->kind == BR_X_GT ? c > 0 : c >= 0;
		set_bool(out, r);
		return 0;
	}
	case BR_X_DISTINCT: case BR_X_NOTDISTINCT: {
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)) || (rc = br_expr_eval(e->args[1], ev, row, &b, err)))
			return rc;
		bool same = (a.is_null && b.is_null) || (!a.is_null && !b.is_null && br_val_cmp(&a, &b) == 0);
		set_bool(out, e->kind == BR_X_DISTINCT ? !same : same);
		return 0;
	}
	case BR_X_AND: case BR_X_OR: {
		/* Three-valued: AND is false if any false, else NULL if any NULL. */
		bool any_null = false, is_and = e->kind == BR_X_AND;
		for (int i = 0; i < e->nargs; i++) {
			if ((rc = br_expr_eval(e->args[i], ev, row, &a, err)))
				return rc;
			if (a.is_null)
				any_null = true;
			else if (a.v.b != is_and) {
				set_bool(out, !is_and);
				return 0;
			}
		}
		if (any_null)
			*out = br_value_null(BR_T_BOOLEAN);
		else
			set_bool(out, is_and);
		return 0;
	}
	case BR_X_NOT:
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)))
			return rc;
		if (a.is_null)
			*out = a;
		else
			set_bool(out, !a.v.b);
		return 0;
	case BR_X_ISNULL: case BR_X_ISNOTNULL:
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)))
			return rc;
		set_bool(out, a.is_null == (e->kind == BR_X_ISNULL));
		return 0;
	case BR_X_CASE: {
		int i = 0;
		for (; i + 1 < e->nargs; i += 2) {
			if ((rc = br_expr_eval(e->args[i], ev, row, &a, err)))
				return rc;
			if (br_val_is_true(&a))
				break;
		}
		if ((rc = br_expr_eval(e->args[i + 1 < e->nargs ? i + 1 : e->nargs - 1], ev, row, out, err)))
			return rc;
		return cast_to(e, ev, out, e->type, err);
	}
	case BR_X_COALESCE:
		for (int i = 0; i < e->nargs; i++) {
			if ((rc = br_expr_eval(e->args[i], ev, row, out, err)))
				return rc;
			if (!out->is_null)
				return cast_to(e, ev, out, e->type, err);
		}
		*out = br_value_null(e->type);
		return 0;
	case BR_X_NULLIF:
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)) || (rc = br_expr_eval(e->args[1], ev, row, &b, err)))
			return rc;
		if (!a.is_null && !b.is_null && br_val_cmp(&a, &b) == 0)
			*out = br_value_null(e->type);
		else
			*out = a;
		return cast_to(e, ev, out, e->type, err);
	case BR_X_ABS:
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)))
			return rc;
		if (a.is_null)
			*out = br_value_null(e->type);
		else if (e->type == BR_T_LONG) {
			int64_t x = a.type == BR_T_INT ? a.v.i32 : a.v.i64;
			if (x == INT64_MIN)
				return xerr(err, e, BR_EINVAL, "bigint out of range");
			*out = br_value_i64(BR_T_LONG, x < 0 ? -x : x);
		} else
			*out = br_value_f64(fabs(num(&a)));
		return 0;
	case BR_X_CAST:
		if ((rc = br_expr_eval(e->args[0], ev, row, out, err)))
			return rc;
		return cast_to(e, ev, out, e->type, err);
	case BR_X_IN: {
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)))
			return rc;
		if (a.is_null) {
			*out = br_value_null(BR_T_BOOLEAN);
			return 0;
		}
		bool any_null = false;
		for (int i = 1; i < e->nargs; i++) {
			if ((rc = br_expr_eval(e->args[i], ev, row, &b, err)))
				return rc;
			if (b.is_null)
				any_null = true;
			else if (br_val_cmp(&a, &b) == 0) {
				set_bool(out, true);
				return 0;
			}
		}
		if (any_null)
			*out = br_value_null(BR_T_BOOLEAN);
		else
			set_bool(out, false);
		return 0;
	}
	case BR_X_CONCAT: {
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)) || (rc = br_expr_eval(e->args[1], ev, row, &b, err)))
			return rc;
		if (a.is_null || b.is_null) {
			*out = br_value_null(BR_T_STRING);
			return 0;
		}
		a = to_text(ev, &a);
		b = to_text(ev, &b);
		size_t n = a.v.bytes.len + b.v.bytes.len;
		uint8_t *p = br_arena_alloc(ev->scratch, n + 1);
		if (a.v.bytes.len)
			memcpy(p, a.v.bytes.p, a.v.bytes.len);
		if (b.v.bytes.len)
			memcpy(p + a.v.bytes.len, b.v.bytes.p, b.v.bytes.len);
		*out = br_value_bytes(BR_T_STRING, p, n);
		return 0;
	}
	case BR_X_LIKE: case BR_X_ILIKE:
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)) || (rc = br_expr_eval(e->args[1], ev, row, &b, err)))
			return rc;
		if (a.is_null || b.is_null) {
			*out = br_value_null(BR_T_BOOLEAN);
			return 0;
		}
		a = to_text(ev, &a);
		b = to_text(ev, &b);
		set_bool(out, like_match(a.v.bytes.p, a.v.bytes.len, b.v.bytes.p, b.v.bytes.len, e->kind == BR_X_ILIKE));
		return 0;
	case BR_X_LOWER: case BR_X_UPPER: {
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)))
			return rc;
		if (a.is_null) {
			*out = br_value_null(BR_T_STRING);
			return 0;
		}
		a = to_text(ev, &a);
		uint8_t *p = br_arena_alloc(ev->scratch, a.v.bytes.len + 1);
		for (size_t i = 0; i < a.v.bytes.len; i++) {
			uint8_t c = a.v.bytes.p[i];
			if (e->kind == BR_X_LOWER && c >= 'A' && c <= 'Z')
				c = (uint8_t)(c + 32);
			if (e->kind == BR_X_UPPER && c >= 'a' && c <= 'z')
				c = (uint8_t)(c - 32);
			p[i] = c;
		}
		*out = br_value_bytes(BR_T_STRING, p, a.v.bytes.len);
		return 0;
	}
	case BR_X_LENGTH: {
		if ((rc = br_expr_eval(e->args[0], ev, row, &a, err)))
			return rc;
		if (a.is_null) {
			*out = br_value_null(BR_T_LONG);
			return 0;
		}
		a = to_text(ev, &a);
		int64_t n = 0; /* characters, not bytes: count UTF-8 lead bytes */
		for (size_t i = 0; i < a.v.bytes.len; i++)
			n += (a.v.bytes.p[i] & 0xC0) != 0x80;
		*out = br_value_i64(BR_T_LONG, n);
		return 0;
	}
	case BR_X_AGGREF:
		return xerr(err, e, BR_EINVAL, "aggregate reference outside an aggregate");
	case BR_X_SUBQ:
		if (!e->subq_fn)
			return xerr(err, e, BR_EUNSUPPORTED, "unsupported: subquery without an evaluator");
		if ((rc = e->subq_fn(e->subq, ev, row, out, err)))
			return rc;
		return out->is_null ? (*out = br_value_null(e->type), 0) : cast_to(e, ev, out, e->type, err);
	}
	return xerr(err, e, BR_EUNSUPPORTED, "unsupported: expression kind");
}
