/* tier_json.c — json lake mode: the value columns of a topic table (declared in
 * braid.lake.schema or inferred), and the schema-driven JSON parser that turns a
 * record value into one row of those columns. This is the hot path of json
 * tiering, so it does not build jansson trees: one pass checks the syntax and
 * records a flat node array, a second checks the value against the schema
 * without writing, a third appends (so a bad record leaves no partial row).
 *
 * Node array: node i describes one JSON value; its subtree is nodes [i, end).
 * The children of an object or array start at i+1 and follow each other by
 * their `end`; an object's children alternate key (a string node) and value.
 * Strings keep their raw bytes between the quotes plus a flag saying whether
 * escapes must be decoded. Depth is bounded (64), so the recursive descent
 * cannot exhaust the stack on hostile input; every byte read is bounds-checked.
 *
 * Conversions (value → column type): boolean ← true/false; int/long ← an
 * integer that fits; float/double ← any number; string/binary ← a string;
 * date ← "YYYY-MM-DD" or days; timestamp(tz) ← ISO-8601 text ("2024-01-05T10:
 * 00:00.123Z", offset or none; a bare date is midnight) or epoch milliseconds;
 * struct ← object (unknown keys ignored, missing keys null); list ← array;
 * map<string,V> ← object. null or a missing key: null, or a failure when the
 * field is required. Everything else fails with a reason naming the column.
 *
 * Inference (braid.lake.schema=infer): keys not yet in the schema become new
 * optional columns (true/false boolean, integers int or long, other numbers
 * double, strings string, objects struct, arrays list of their elements'
 * type); an int column receiving an integer beyond 32 bits is widened to long.
 * Keys whose value is null or an empty array wait until a typed value appears.
 * Keys with a '.' (not expressible as a column path), a NUL or invalid UTF-8,
 * and keys naming a metadata column (_offset...) are ignored. String values
 * must be valid UTF-8 (Iceberg strings are), else the record is dead-lettered. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "tier/tier_int.h"

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };
#define MAX_DEPTH 64

typedef struct jnode {
	uint8_t kind;
	bool esc;      /* string with escapes */
	bool is_int;   /* number without fraction or exponent */
	uint32_t end;  /* index after this subtree */
	uint32_t off, len; /* raw text: strings without quotes */
} jnode;

struct br_tjson {
	const uint8_t *in;
	size_t n, pos;
	jnode *nodes;
	size_t nn, cap;
	br_buf str;    /* decoded string scratch */
	char pathbuf[256];
	br_buf marks;  /* column states saved before an append (rollback) */
	char *reason;
	size_t rcap;
	br_ice_schema_change ch[32];
	size_t nch;
	char *chnames[32];
	br_type *chtypes[32];
};

br_tjson *br_tjson_new(void) { return br_xcalloc(1, sizeof(br_tjson)); }

static void clear_changes(br_tjson *j)
{
	for (size_t i = 0; i < j->nch; i++) {
		free(j->chnames[i]);
		br_type_free(j->chtypes[i]);
	}
	j->nch = 0;
}

void br_tjson_free(br_tjson *j)
{
	if (!j)
		return;
	clear_changes(j);
	free(j->nodes);
	br_buf_free(&j->str);
	br_buf_free(&j->marks);
	free(j);
}

static int fail(br_tjson *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(br_tjson *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->reason, j->rcap, fmt, ap);
	va_end(ap);
	return BR_EINVAL;
}

/* ------------------------------------------------------------------ syntax */

static void ws(br_tjson *j)
{
	while (j->pos < j->n && (j->in[j->pos] == ' ' || j->in[j->pos] == '\t' || j->in[j->pos] == '\n' ||
				 j->in[j->pos] == '\r'))
		j->pos++;
}

static uint32_t add_node(br_tjson *j, int kind)
{
	if (j->nn == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 64;
		j->nodes = br_xrealloc(j->nodes, j->cap * sizeof *j->nodes);
	}
	jnode *x = &j->nodes[j->nn];
	memset(x, 0, sizeof *x);
	x->kind = (uint8_t)kind;
	x->off = (uint32_t)j->pos;
	return (uint32_t)j->nn++;
}

static int parse_value(br_tjson *j, int depth);

static int parse_string(br_tjson *j)
{
	uint32_t k = add_node(j, J_STR);
	j->pos++; /* the opening quote */
	size_t start = j->pos;
	bool esc = false;
	while (j->pos < j->n) {
		uint8_t c = j->in[j->pos];
		if (c == '"') {
			jnode *x = &j->nodes[k];
			x->off = (uint32_t)start;
			x->len = (uint32_t)(j->pos - start);
			x->esc = esc;
			x->end = (uint32_t)j->nn;
			j->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(j, "invalid JSON: control character in a string at byte %zu", j->pos);
		if (c == '\\') {
			esc = true;
			if (j->pos + 1 >= j->n)
				break;
			uint8_t e = j->in[j->pos + 1];
			if (e == 'u') {
				if (j->pos + 6 > j->n)
					break;
				for (int i = 2; i < 6; i++)
					if (!strchr("0123456789abcdefABCDEF", j->in[j->pos + i]) || !j->in[j->pos + i])
						return fail(j, "invalid JSON: bad \\u escape at byte %zu", j->pos);
				j->pos += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || !e)
				return fail(j, "invalid JSON: bad escape at byte %zu", j->pos);
			j->pos += 2;
			continue;
		}
		j->pos++;
	}
	return fail(j, "invalid JSON: unterminated string");
}

static int parse_number(br_tjson *j)
{
	uint32_t k = add_node(j, J_NUM);
	size_t s = j->pos;
	bool is_int = true;
	if (j->pos < j->n && j->in[j->pos] == '-')
		j->pos++;
	if (j->pos >= j->n || j->in[j->pos] < '0' || j->in[j->pos] > '9')
		return fail(j, "invalid JSON: bad number at byte %zu", s);
	if (j->in[j->pos] == '0')
		j->pos++;
	else
		while (j->pos < j->n && j->in[j->pos] >= '0' && j->in[j->pos] <= '9')
			j->pos++;
	if (j->pos < j->n && j->in[j->pos] == '.') {
		is_int = false;
		j->pos++;
		size_t d = j->pos;
		while (j->pos < j->n && j->in[j->pos] >= '0' && j->in[j->pos] <= '9')
			j->pos++;
		if (j->pos == d)
			return fail(j, "invalid JSON: bad number at byte %zu", s);
	}
	if (j->pos < j->n && (j->in[j->pos] == 'e' || j->in[j->pos] == 'E')) {
		is_int = false;
		j->pos++;
		if (j->pos < j->n && (j->in[j->pos] == '+' || j->in[j->pos] == '-'))
			j->pos++;
		size_t d = j->pos;
		while (j->pos < j->n && j->in[j->pos] >= '0' && j->in[j->pos] <= '9')
			j->pos++;
		if (j->pos == d)
			return fail(j, "invalid JSON: bad number at byte %zu", s);
	}
	jnode *x = &j->nodes[k];
	x->off = (uint32_t)s;
	x->len = (uint32_t)(j->pos - s);
	x->is_int = is_int;
	x->end = (uint32_t)j->nn;
	return 0;
}

static int parse_lit(br_tjson *j, const char *lit, int kind)
{
	size_t l = strlen(lit);
	if (j->n - j->pos < l || memcmp(j->in + j->pos, lit, l))
		return fail(j, "invalid JSON at byte %zu", j->pos);
	uint32_t k = add_node(j, kind);
	j->pos += l;
	j->nodes[k].end = (uint32_t)j->nn;
	return 0;
}

static int parse_value(br_tjson *j, int depth)
{
	ws(j);
	if (j->pos >= j->n)
		return fail(j, "invalid JSON: unexpected end");
	if (depth > MAX_DEPTH)
		return fail(j, "JSON nested deeper than %d levels", MAX_DEPTH);
	uint8_t c = j->in[j->pos];
	int rc;
	if (c == '{' || c == '[') {
		bool obj = c == '{';
		uint32_t k = add_node(j, obj ? J_OBJ : J_ARR);
		j->pos++;
		ws(j);
		if (j->pos < j->n && j->in[j->pos] == (obj ? '}' : ']')) {
			j->pos++;
			j->nodes[k].end = (uint32_t)j->nn;
			return 0;
		}
		for (;;) {
			if (obj) {
				ws(j);
				if (j->pos >= j->n || j->in[j->pos] != '"')
					return fail(j, "invalid JSON: expected a key at byte %zu", j->pos);
				if ((rc = parse_string(j)))
					return rc;
				ws(j);
				if (j->pos >= j->n || j->in[j->pos] != ':')
					return fail(j, "invalid JSON: expected ':' at byte %zu", j->pos);
				j->pos++;
			}
			if ((rc = parse_value(j, depth + 1)))
				return rc;
			ws(j);
			if (j->pos < j->n && j->in[j->pos] == ',') {
				j->pos++;
				continue;
			}
			if (j->pos < j->n && j->in[j->pos] == (obj ? '}' : ']')) {
				j->pos++;
				break;
			}
			return fail(j, "invalid JSON: expected ',' or '%c' at byte %zu", obj ? '}' : ']', j->pos);
		}
		j->nodes[k].end = (uint32_t)j->nn;
		return 0;
	}
	if (c == '"')
		return parse_string(j);
	if (c == '-' || (c >= '0' && c <= '9'))
		return parse_number(j);
	if (c == 't')
		return parse_lit(j, "true", J_TRUE);
	if (c == 'f')
		return parse_lit(j, "false", J_FALSE);
	if (c == 'n')
		return parse_lit(j, "null", J_NULL);
	return fail(j, "invalid JSON: unexpected '%c' at byte %zu", c >= 0x20 && c < 0x7f ? c : '?', j->pos);
}

int br_tjson_parse(br_tjson *j, const uint8_t *p, size_t n, char *reason, size_t cap)
{
	j->in = p;
	j->n = n;
	j->pos = 0;
	j->nn = 0;
	j->reason = reason;
	j->rcap = cap;
	if (!p)
		return fail(j, "null value (not a JSON object)");
	if (n > UINT32_MAX / 2)
		return fail(j, "value too large");
	int rc = parse_value(j, 0);
	if (rc)
		return rc;
	ws(j);
	if (j->pos != n)
		return fail(j, "invalid JSON: trailing bytes at byte %zu", j->pos);
	if (j->nodes[0].kind != J_OBJ)
		return fail(j, "not a JSON object");
	return 0;
}

/* --------------------------------------------------------------- scalars */

/* Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF):
 * Iceberg strings are UTF-8 and readers (DuckDB) refuse files that are not. */
bool br_tier_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp;
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else
			return false;
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp < 0xe000))
			return false;
		i += len;
	}
	return true;
}

/* br_tier_utf8_valid with an 8-bytes-at-a-time ASCII fast path (values are
 * mostly ASCII). */
static bool utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w & 0x8080808080808080ull)
			break;
	}
	for (; i < n && p[i] < 0x80; i++)
		;
	return i == n || br_tier_utf8_valid(p + i, n - i);
}

static void put_utf8(br_buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t l;
	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		l = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		l = 4;
	}
	br_buf_put(b, u, l);
}

static uint32_t hex4(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		v = v << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

/* The decoded bytes of a string node; valid until the next call. The escapes
 * were checked by the parser, so decoding cannot fail (a lone surrogate
 * becomes U+FFFD). */
/* A column path for reasons, built only when a reason is written (never on
 * the hot path): each level names its parent. "value.a.b", "value.l[]". */
typedef struct jpath {
	const struct jpath *up;
	const char *name, *sep;
} jpath;

static size_t path_put(const jpath *p, char *dst, size_t cap)
{
	size_t n = p->up ? path_put(p->up, dst, cap) : 0;
	for (const char *q = p->up ? p->sep : "", *parts[2] = { q, p->name }, **x = parts; x < parts + 2; x++) {
		size_t l = strlen(*x);
		if (l > cap - 1 - n)
			l = cap - 1 - n;
		memcpy(dst + n, *x, l);
		n += l;
	}
	dst[n] = 0;
	return n;
}

static const char *P(br_tjson *j, const jpath *p)
{
	path_put(p, j->pathbuf, sizeof j->pathbuf);
	return j->pathbuf;
}

static const uint8_t *str_of(br_tjson *j, const jnode *x, size_t *len)
{
	const uint8_t *p = j->in + x->off;
	if (!x->esc) {
		*len = x->len;
		return p;
	}
	br_buf_reset(&j->str);
	for (size_t i = 0; i < x->len;) {
		if (p[i] != '\\') {
			size_t s = i;
			while (i < x->len && p[i] != '\\')
				i++;
			br_buf_put(&j->str, p + s, i - s);
			continue;
		}
		uint8_t e = p[i + 1];
		i += 2;
		switch (e) {
		case 'b': br_buf_u8(&j->str, '\b'); break;
		case 'f': br_buf_u8(&j->str, '\f'); break;
		case 'n': br_buf_u8(&j->str, '\n'); break;
		case 'r': br_buf_u8(&j->str, '\r'); break;
		case 't': br_buf_u8(&j->str, '\t'); break;
		case 'u': {
			uint32_t cp = hex4(p + i);
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= x->len && p[i] == '\\' && p[i + 1] == 'u') {
				uint32_t lo = hex4(p + i + 2);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				}
			}
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd;
			put_utf8(&j->str, cp);
			break;
		}
		default: br_buf_u8(&j->str, e); break;
		}
	}
	*len = j->str.len;
	return j->str.p ? j->str.p : (const uint8_t *)"";
}

static bool key_is(br_tjson *j, const jnode *k, const char *name)
{
	size_t l;
	const uint8_t *p = k->esc ? str_of(j, k, &l) : j->in + k->off;
	if (!k->esc)
		l = k->len;
	/* byte by byte: name's NUL ends the match (a key byte is never 0 unless
	 * escaped, and then it is compared the same way) */
	size_t i = 0;
	while (i < l && name[i] && (uint8_t)name[i] == p[i])
		i++;
	return i == l && !name[l];
}

/* An integer node as int64; false when it does not fit. */
static bool int_of(br_tjson *j, const jnode *x, int64_t *out)
{
	const uint8_t *p = j->in + x->off;
	size_t i = 0;
	bool neg = p[0] == '-';
	if (neg)
		i++;
	uint64_t v = 0;
	for (; i < x->len; i++) {
		uint64_t d = (uint64_t)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static double num_of(br_tjson *j, const jnode *x)
{
	char tmp[64];
	if (x->len < sizeof tmp) {
		memcpy(tmp, j->in + x->off, x->len);
		tmp[x->len] = 0;
		return strtod(tmp, NULL);
	}
	char *big = br_xmalloc(x->len + 1);
	memcpy(big, j->in + x->off, x->len);
	big[x->len] = 0;
	double d = strtod(big, NULL);
	free(big);
	return d;
}

static bool digits(const uint8_t *p, size_t n, int *out)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/* ISO-8601: YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|(+|-)HH[:]MM]. Sets *days
 * and *micros (since the epoch, UTC; a time without offset is taken as UTC). */
static bool parse_iso(const uint8_t *p, size_t n, int64_t *days, int64_t *micros)
{
	int y, mo, d, h = 0, mi = 0, s = 0;
	if (n < 10 || p[4] != '-' || p[7] != '-' || !digits(p, 4, &y) || !digits(p + 5, 2, &mo) ||
	    !digits(p + 8, 2, &d) || mo < 1 || mo > 12 || d < 1 || d > 31)
		return false;
	int64_t dd = br_days_from_civil(y, mo, d);
	*days = dd;
	size_t i = 10;
	int64_t frac = 0, off = 0;
	if (i < n) {
		if ((p[i] != 'T' && p[i] != ' ' && p[i] != 't') || n < i + 6 || p[i + 3] != ':' ||
		    !digits(p + i + 1, 2, &h) || !digits(p + i + 4, 2, &mi) || h > 23 || mi > 59)
			return false;
		i += 6;
		if (i < n && p[i] == ':') {
			if (n < i + 3 || !digits(p + i + 1, 2, &s) || s > 60)
				return false;
			i += 3;
			if (i < n && (p[i] == '.' || p[i] == ',')) {
				i++;
				int nd = 0;
				while (i < n && p[i] >= '0' && p[i] <= '9') {
					if (nd < 6) {
						frac = frac * 10 + (p[i] - '0');
						nd++;
					}
					i++;
				}
				if (!nd)
					return false;
				while (nd++ < 6)
					frac *= 10;
			}
		}
		if (i < n && (p[i] == 'Z' || p[i] == 'z'))
			i++;
		else if (i < n && (p[i] == '+' || p[i] == '-')) {
			int oh, om;
			bool neg = p[i] == '-';
			if (n >= i + 6 && p[i + 3] == ':' && digits(p + i + 1, 2, &oh) && digits(p + i + 4, 2, &om))
				i += 6;
			else if (n >= i + 5 && digits(p + i + 1, 2, &oh) && digits(p + i + 3, 2, &om))
				i += 5;
			else
				return false;
			off = (neg ? -1 : 1) * ((int64_t)oh * 3600 + om * 60);
		}
		if (i != n)
			return false;
	}
	*micros = ((dd * 86400 + h * 3600 + mi * 60 + s) - off) * 1000000 + frac;
	return true;
}

/* --------------------------------------------------------------- conversion */

static const char *kind_name(int k)
{
	static const char *names[] = { "null", "false", "true", "number", "string", "array", "object" };
	return names[k];
}

/* Converts node x to column type t, appending to c unless c is NULL (dry run).
 * path names the column in reasons. */
static int conv(br_tjson *j, uint32_t x, const br_field *f, br_col *c, const jpath *path)
{
	const jnode *nd = &j->nodes[x];
	const br_type *t = f->type;
	if (nd->kind == J_NULL) {
		if (f->required)
			return fail(j, "required field %s is null", P(j, path));
		if (c)
			br_col_append_null(c);
		return 0;
	}
	char tn[48];
	int64_t iv, days, us;
	size_t len;
	const uint8_t *s;
	switch (t->id) {
	case BR_T_BOOLEAN:
		if (nd->kind != J_TRUE && nd->kind != J_FALSE)
			break;
		if (c)
			br_col_append_bool(c, nd->kind == J_TRUE);
		return 0;
	case BR_T_INT:
	case BR_T_LONG:
		if (nd->kind != J_NUM)
			break;
		if (!nd->is_int || !int_of(j, nd, &iv) || (t->id == BR_T_INT && (iv < INT32_MIN || iv > INT32_MAX)))
			return fail(j, "field %s: %.*s does not fit %s", P(j, path), (int)BR_MIN(nd->len, 40), j->in + nd->off,
				    br_type_name(t, tn, sizeof tn));
		if (c) {
			if (t->id == BR_T_INT)
				br_col_append_i32(c, (int32_t)iv);
			else
				br_col_append_i64(c, iv);
		}
		return 0;
	case BR_T_FLOAT:
	case BR_T_DOUBLE:
		if (nd->kind != J_NUM)
			break;
		if (c) {
			double d = num_of(j, nd);
			if (t->id == BR_T_FLOAT)
				br_col_append_f32(c, (float)d);
			else
				br_col_append_f64(c, d);
		}
		return 0;
	case BR_T_STRING:
	case BR_T_BINARY:
		if (nd->kind != J_STR)
			break;
		s = str_of(j, nd, &len);
		if (t->id == BR_T_STRING && !utf8_ok(s, len))
			return fail(j, "field %s: string is not valid UTF-8", P(j, path));
		if (c)
			br_col_append_bytes(c, s, len);
		return 0;
	case BR_T_DATE:
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ:
		if (nd->kind == J_STR) {
			s = str_of(j, nd, &len);
			if (!parse_iso(s, len, &days, &us))
				return fail(j, "field %s: \"%.*s\" is not an ISO-8601 %s", P(j, path), (int)BR_MIN(len, 40), s,
					    t->id == BR_T_DATE ? "date" : "timestamp");
		} else if (nd->kind == J_NUM && nd->is_int && int_of(j, nd, &iv)) {
			/* dates as days, timestamps as epoch milliseconds */
			if (t->id != BR_T_DATE && (iv > INT64_MAX / 1000 || iv < INT64_MIN / 1000))
				return fail(j, "field %s: epoch milliseconds out of range", P(j, path));
			days = iv;
			us = iv * 1000;
		} else
			break;
		if (t->id == BR_T_DATE && (days < INT32_MIN || days > INT32_MAX))
			return fail(j, "field %s: date out of range", P(j, path));
		if (c) {
			if (t->id == BR_T_DATE)
				br_col_append_i32(c, (int32_t)days);
			else
				br_col_append_i64(c, us);
		}
		return 0;
	case BR_T_STRUCT: {
		if (nd->kind != J_OBJ)
			break;
		/* One pass over the keys, each matched to a field: first the field
		 * after the last match (events repeat one key order, so this hits),
		 * then all fields. O(keys) for ordered keys, O(keys x fields) worst.
		 * The last duplicate wins, as in most parsers. */
		uint32_t found_s[64], *found = found_s;
		if (t->nchildren > 64)
			found = br_xmalloc((size_t)t->nchildren * sizeof *found);
		memset(found, 0, (size_t)t->nchildren * sizeof *found);
		int guess = 0;
		for (uint32_t k = x + 1; k < nd->end; k = j->nodes[j->nodes[k].end].end) {
			const jnode *kn = &j->nodes[k];
			int hit = -1;
			if (guess < t->nchildren && key_is(j, kn, t->children[guess].name))
				hit = guess;
			else
				for (int i = 0; i < t->nchildren && hit < 0; i++)
					if (i != guess && key_is(j, kn, t->children[i].name))
						hit = i;
			if (hit >= 0) {
				found[hit] = kn->end;
				guess = hit + 1;
			}
		}
		int rc = 0;
		for (int i = 0; i < t->nchildren && !rc; i++) {
			const br_field *cf = &t->children[i];
			jpath sub = { path, cf->name, "." };
			if (found[i])
				rc = conv(j, found[i], cf, c ? &c->children[i] : NULL, &sub);
			else if (cf->required)
				rc = fail(j, "missing required field %s", P(j, &sub));
			else if (c)
				br_col_append_null(&c->children[i]);
		}
		if (found != found_s)
			free(found);
		if (rc)
			return rc;
		if (c)
			br_col_append_struct(c);
		return 0;
	}
	case BR_T_LIST: {
		if (nd->kind != J_ARR)
			break;
		jpath sub = { path, "", "[]" };
		for (uint32_t k = x + 1; k < nd->end; k = j->nodes[k].end) {
			int rc = conv(j, k, &t->children[0], c ? &c->children[0] : NULL, &sub);
			if (rc)
				return rc;
		}
		if (c)
			br_col_close_list(c);
		return 0;
	}
	case BR_T_MAP: {
		if (nd->kind != J_OBJ)
			break;
		jpath sub = { path, "", "{}" };
		for (uint32_t k = x + 1; k < nd->end; k = j->nodes[j->nodes[k].end].end) {
			s = str_of(j, &j->nodes[k], &len);
			if (!br_tier_utf8_valid(s, len))
				return fail(j, "field %s: key is not valid UTF-8", P(j, path));
			if (c)
				br_col_append_bytes(&c->children[0], s, len);
			int rc = conv(j, j->nodes[k].end, &t->children[1], c ? &c->children[1] : NULL, &sub);
			if (rc)
				return rc;
		}
		if (c)
			br_col_close_list(c);
		return 0;
	}
	default:
		return fail(j, "field %s: type %s is not supported in json mode", P(j, path), br_type_name(t, tn, sizeof tn));
	}
	return fail(j, "field %s: expected %s, got %s", P(j, path), br_type_name(t, tn, sizeof tn), kind_name(nd->kind));
}

/* Column states before an append, so a value failing halfway can be taken
 * back: the lengths of every buffer of the column and its descendants (a
 * bitmap shrunk to its old byte length is rewritten bit by bit by the next
 * append; a bitmap made during the failed value shrinks to nothing, which
 * means "all valid" again). One pass instead of a dry run plus an append. */
typedef struct colmark {
	int64_t len, null_count;
	size_t validity, values, offsets;
} colmark;

static void mark_cols(br_buf *m, const br_col *c, int n)
{
	for (int i = 0; i < n; i++) {
		colmark k = { c[i].len, c[i].null_count, c[i].validity.len, c[i].values.len, c[i].offsets.len };
		br_buf_put(m, &k, sizeof k);
		mark_cols(m, c[i].children, c[i].nchildren);
	}
}

static void rollback_cols(const colmark **m, br_col *c, int n)
{
	for (int i = 0; i < n; i++) {
		const colmark *k = (*m)++;
		c[i].len = k->len;
		c[i].null_count = k->null_count;
		c[i].validity.len = k->validity;
		c[i].values.len = k->values;
		c[i].offsets.len = k->offsets;
		rollback_cols(m, c[i].children, c[i].nchildren);
	}
}

/* The value columns as a pseudo-field for conv's struct case: the root minus
 * the metadata columns. */
static int conv_root(br_tjson *j, const br_type *root, int first, br_batch *b)
{
	br_type view = *root;
	view.nchildren = root->nchildren - first;
	view.children = root->children + first;
	br_field f = { .id = 0, .name = (char *)"value", .required = true, .type = &view };
	br_col fake;
	br_col *c = NULL;
	if (b) {
		memset(&fake, 0, sizeof fake);
		fake.type = &view;
		fake.nchildren = view.nchildren;
		fake.children = b->cols + first;
		c = &fake;
		j->marks.len = 0;
		mark_cols(&j->marks, b->cols + first, view.nchildren);
	}
	/* the struct case names columns "value.x": trim the prefix in reasons */
	jpath top = { NULL, "value", "" };
	int rc = conv(j, 0, &f, c, &top);
	/* fake is not a real column: it must not keep a validity or length of its own */
	if (c)
		br_buf_free(&fake.validity);
	if (rc) {
		if (c) {
			const colmark *m = (const colmark *)j->marks.p;
			rollback_cols(&m, b->cols + first, view.nchildren);
		}
		char *p = strstr(j->reason, "value.");
		if (p)
			memmove(p, p + 6, strlen(p + 6) + 1);
		return rc;
	}
	return 0;
}

int br_tjson_append(br_tjson *j, br_batch *b, int first, char *reason, size_t cap)
{
	j->reason = reason;
	j->rcap = cap;
	return conv_root(j, b->type, first, b);
}

int br_tjson_check(br_tjson *j, const br_type *root, int first, char *reason, size_t cap)
{
	j->reason = reason;
	j->rcap = cap;
	return conv_root(j, root, first, NULL);
}

/* --------------------------------------------------------------- inference */

static bool fits_i32(br_tjson *j, const jnode *x)
{
	int64_t v;
	return int_of(j, x, &v) && v >= INT32_MIN && v <= INT32_MAX;
}

/* The type inferred for a value, or NULL when it does not tell (null, []).
 * Field ids are placeholders: br_ice_update_schema renumbers. */
static br_type *infer_type(br_tjson *j, uint32_t x, int depth)
{
	const jnode *nd = &j->nodes[x];
	int64_t v;
	switch (nd->kind) {
	case J_TRUE:
	case J_FALSE: return br_type_new(BR_T_BOOLEAN);
	case J_STR: return br_type_new(BR_T_STRING);
	case J_NUM:
		if (nd->is_int && fits_i32(j, nd))
			return br_type_new(BR_T_INT);
		if (nd->is_int && int_of(j, nd, &v))
			return br_type_new(BR_T_LONG);
		return br_type_new(BR_T_DOUBLE);
	case J_ARR: {
		/* the widest numeric type of the elements, else the first typed element's */
		br_type *el = NULL;
		for (uint32_t k = x + 1; k < nd->end; k = j->nodes[k].end) {
			br_type *e = infer_type(j, k, depth + 1);
			if (!e)
				continue;
			if (!el)
				el = e;
			else {
				if (el->id <= BR_T_DOUBLE && e->id <= BR_T_DOUBLE && e->id > el->id && el->id != BR_T_BOOLEAN &&
				    e->id != BR_T_BOOLEAN) {
					br_type_free(el);
					el = e;
				} else
					br_type_free(e);
			}
		}
		return el ? br_type_list(1, false, el) : NULL;
	}
	case J_OBJ: {
		br_type *st = br_type_struct();
		int id = 1;
		for (uint32_t k = x + 1; k < nd->end; k = j->nodes[j->nodes[k].end].end) {
			size_t len;
			const uint8_t *s = str_of(j, &j->nodes[k], &len);
			if (!len || len > 200 || memchr(s, '.', len) || memchr(s, 0, len) || !br_tier_utf8_valid(s, len))
				continue;
			char name[256];
			snprintf(name, sizeof name, "%.*s", (int)len, s);
			bool dup = false;
			for (int i = 0; i < st->nchildren; i++)
				dup |= !strcmp(st->children[i].name, name);
			if (dup)
				continue;
			br_type *ct = infer_type(j, j->nodes[k].end, depth + 1);
			if (ct)
				br_type_struct_add(st, id++, name, false, ct, NULL);
		}
		return st;
	}
	default: return NULL;
	}
}

static bool has_change(br_tjson *j, const char *path)
{
	for (size_t i = 0; i < j->nch; i++)
		if (!strcmp(j->chnames[i], path))
			return true;
	return false;
}

static int add_change(br_tjson *j, int kind, const char *path, br_type *t)
{
	if (has_change(j, path)) {
		br_type_free(t);
		return 0;
	}
	if (j->nch == BR_ARRAY_LEN(j->ch)) {
		br_type_free(t);
		return fail(j, "too many new columns in one record");
	}
	j->chnames[j->nch] = br_xstrdup(path);
	j->chtypes[j->nch] = t;
	j->ch[j->nch] = (br_ice_schema_change){ .kind = kind, .name = j->chnames[j->nch], .type = t };
	j->nch++;
	return 0;
}

static int infer_into(br_tjson *j, uint32_t x, const br_type *t, int skip, const char *path)
{
	const jnode *nd = &j->nodes[x];
	if (nd->kind == J_NULL)
		return 0;
	if (t->id == BR_T_INT && nd->kind == J_NUM && nd->is_int && !fits_i32(j, nd)) {
		int64_t v;
		if (int_of(j, nd, &v))
			return add_change(j, BR_ICE_WIDEN_COLUMN, path, br_type_new(BR_T_LONG));
		return 0;
	}
	if (t->id == BR_T_LIST && nd->kind == J_ARR) {
		char sub[512];
		snprintf(sub, sizeof sub, "%s.element", path);
		for (uint32_t k = x + 1; k < nd->end; k = j->nodes[k].end) {
			int rc = infer_into(j, k, t->children[0].type, 0, sub);
			if (rc)
				return rc;
		}
		return 0;
	}
	if (t->id != BR_T_STRUCT || nd->kind != J_OBJ)
		return 0; /* a mismatch is the conversion's to report */
	for (uint32_t k = x + 1; k < nd->end; k = j->nodes[j->nodes[k].end].end) {
		size_t len;
		const uint8_t *s = str_of(j, &j->nodes[k], &len);
		if (!len || len > 200 || memchr(s, '.', len) || memchr(s, 0, len) || !br_tier_utf8_valid(s, len))
			continue;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)len, s);
		const br_field *cf = NULL;
		for (int i = 0; i < t->nchildren; i++)
			if (!strcmp(t->children[i].name, name)) {
				cf = &t->children[i];
				if (i < skip)
					cf = NULL, i = t->nchildren, name[0] = 0; /* a metadata column: ignored */
			}
		if (!name[0])
			continue;
		char sub[512];
		if (*path)
			snprintf(sub, sizeof sub, "%s.%s", path, name);
		else
			snprintf(sub, sizeof sub, "%s", name);
		int rc;
		if (cf)
			rc = infer_into(j, j->nodes[k].end, cf->type, 0, sub);
		else {
			br_type *nt = infer_type(j, j->nodes[k].end, 1);
			rc = nt ? add_change(j, BR_ICE_ADD_COLUMN, sub, nt) : 0;
		}
		if (rc)
			return rc;
	}
	return 0;
}

int br_tjson_infer(br_tjson *j, const br_type *root, int first, const br_ice_schema_change **ch, size_t *n,
		   char *reason, size_t cap)
{
	j->reason = reason;
	j->rcap = cap;
	clear_changes(j);
	int rc = infer_into(j, 0, root, first, "");
	*ch = j->ch;
	*n = j->nch;
	return rc;
}

/* ------------------------------------------------------------ the columns */

static int check_type(const br_type *t, const char *name, br_err *err)
{
	char tn[48];
	switch (t->id) {
	case BR_T_BOOLEAN: case BR_T_INT: case BR_T_LONG: case BR_T_FLOAT: case BR_T_DOUBLE: case BR_T_DATE:
	case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ: case BR_T_STRING: case BR_T_BINARY:
		return 0;
	case BR_T_STRUCT:
	case BR_T_LIST:
		for (int i = 0; i < t->nchildren; i++) {
			int rc = check_type(t->children[i].type, t->children[i].name, err);
			if (rc)
				return rc;
		}
		return 0;
	case BR_T_MAP:
		if (t->children[0].type->id != BR_T_STRING)
			return br_errf(err, BR_EUNSUPPORTED, "braid.lake.schema: map %s must have string keys (JSON objects)", name);
		return check_type(t->children[1].type, name, err);
	default:
		return br_errf(err, BR_EUNSUPPORTED, "braid.lake.schema: column %s has type %s, not supported in json mode",
			       name, br_type_name(t, tn, sizeof tn));
	}
}

static void renumber(br_type *t, int *next)
{
	for (int i = 0; i < t->nchildren; i++) {
		t->children[i].id = (*next)++;
		renumber(t->children[i].type, next);
	}
}

int br_tier_json_add_columns(br_type *root, const char *schema_cfg, br_err *err)
{
	if (!schema_cfg || !strcmp(schema_cfg, "infer"))
		return 0;
	br_schema *s;
	int rc = br_schema_parse(schema_cfg, strlen(schema_cfg), &s, err);
	if (rc)
		return br_errctx(err, "braid.lake.schema");
	int next = 10;
	for (int i = 0; i < s->root->nchildren && !rc; i++) {
		const br_field *f = &s->root->children[i];
		for (int k = 0; k < root->nchildren; k++)
			if (!strcmp(root->children[k].name, f->name))
				rc = br_errf(err, BR_EINVAL, "braid.lake.schema: column %s clashes with a metadata column", f->name);
		if (!rc)
			rc = check_type(f->type, f->name, err);
		if (rc)
			break;
		br_type *ct = br_type_clone(f->type);
		int id = next++;
		renumber(ct, &next);
		br_type_struct_add(root, id, f->name, f->required, ct, f->doc);
	}
	br_schema_free(s);
	return rc;
}
