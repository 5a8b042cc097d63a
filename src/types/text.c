/* text.c — text and JSON forms of values (see text.h for the accepted forms). */
#include "types/text.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Reads exactly `width` digits at *p. */
static bool digits(const char **p, const char *end, int width, int64_t *v)
{
	int64_t x = 0;
	for (int i = 0; i < width; i++) {
		if (*p >= end || !isdigit((unsigned char)**p))
			return false;
		x = x * 10 + (**p - '0');
		(*p)++;
	}
	*v = x;
	return true;
}

static bool parse_date(const char **p, const char *end, int64_t *days)
{
	int64_t y, m, d;
	bool neg = *p < end && **p == '-';
	if (neg)
		(*p)++;
	if (!digits(p, end, 4, &y) || *p >= end || **p != '-')
		return false;
	(*p)++;
	if (!digits(p, end, 2, &m) || *p >= end || **p != '-')
		return false;
	(*p)++;
	if (!digits(p, end, 2, &d))
		return false;
	if (neg)
		y = -y;
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && is_leap(y)))
		return false;
	*days = br_days_from_civil(y, (int)m, (int)d);
	return true;
}

static bool parse_time(const char **p, const char *end, int64_t *us)
{
	int64_t h, mi, s = 0, frac = 0;
	if (!digits(p, end, 2, &h) || *p >= end || **p != ':')
		return false;
	(*p)++;
	if (!digits(p, end, 2, &mi))
		return false;
	if (*p < end && **p == ':') {
		(*p)++;
		if (!digits(p, end, 2, &s))
			return false;
		if (*p < end && **p == '.') {
			(*p)++;
			int n = 0;
			while (*p < end && isdigit((unsigned char)**p)) {
				if (n < 6)
					frac = frac * 10 + (**p - '0');
				n++;
				(*p)++;
			}
			if (!n)
				return false;
			for (; n < 6; n++)
				frac *= 10;
		}
	}
	if (h > 23 || mi > 59 || s > 60)
		return false;
	*us = ((h * 60 + mi) * 60 + s) * 1000000 + frac;
	return true;
}

static bool parse_timestamp(const char *s, size_t n, bool tz, int64_t *us)
{
	const char *p = s, *end = s + n;
	int64_t days, t = 0;
	if (!parse_date(&p, end, &days))
		return false;
	if (p < end && (*p == 'T' || *p == ' ')) {
		p++;
		if (!parse_time(&p, end, &t))
			return false;
	}
	int64_t off_us = 0;
	if (p < end && (*p == 'Z' || *p == 'z')) {
		p++;
	} else if (p < end && (*p == '+' || *p == '-')) {
		int sign = *p == '-' ? -1 : 1;
		int64_t oh, om = 0;
		p++;
		if (!digits(&p, end, 2, &oh))
			return false;
		if (p < end && *p == ':')
			p++;
		if (p < end && !digits(&p, end, 2, &om))
			return false;
		off_us = sign * (oh * 3600 + om * 60) * 1000000LL;
	}
	if (p != end)
		return false;
	if (off_us && !tz)
		return false; /* a zone on a timestamp without zone would be silently wrong */
	*us = days * 86400000000LL + t - off_us;
	return true;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool parse_hex(const char *s, size_t n, br_buf *out)
{
	if (n >= 2 && s[0] == '\\' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		n -= 2;
	}
	if (n % 2)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int a = hexval((unsigned char)s[i]), b = hexval((unsigned char)s[i + 1]);
		if (a < 0 || b < 0)
			return false;
		br_buf_u8(out, (uint8_t)(a << 4 | b));
	}
	return true;
}

static bool parse_decimal(const char *s, size_t n, int precision, int scale, __int128 *out)
{
	const char *p = s, *end = s + n;
	bool neg = false;
	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	__int128 v = 0;
	int ndig = 0, nfrac = 0;
	bool dot = false, any = false;
	for (; p < end; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			return false;
		any = true;
		if (dot && ++nfrac > scale)
			return false;
		v = v * 10 + (*p - '0');
		if (v || dot)
			ndig++;
		if (ndig > 38)
			return false;
	}
	if (!any)
		return false;
	for (; nfrac < scale; nfrac++, ndig++)
		v *= 10;
	__int128 limit = 1;
	for (int i = 0; i < precision; i++)
		limit *= 10;
	if (v >= limit)
		return false;
	*out = neg ? -v : v;
	return true;
}

int br_value_parse_text(const br_type *t, const char *s, size_t n, br_buf *scratch, br_value *out, br_err *err)
{
	char tmp[128];
	char tn[32];
	memset(out, 0, sizeof *out);
	out->type = t->id;
	bool ok = true;
	const char *p = s, *end = s + n;
	if (t->id != BR_T_STRING && t->id != BR_T_BINARY && t->id != BR_T_FIXED) {
		while (p < end && isspace((unsigned char)*p))
			p++;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
	}
	size_t len = (size_t)(end - p);
	bool numeric = t->id == BR_T_INT || t->id == BR_T_LONG || t->id == BR_T_FLOAT || t->id == BR_T_DOUBLE;
	if (numeric || t->id == BR_T_BOOLEAN) {
		if (len >= sizeof tmp || !len)
			goto bad;
		memcpy(tmp, p, len);
		tmp[len] = 0;
	}
	switch (t->id) {
	case BR_T_BOOLEAN:
		if (!strcasecmp(tmp, "true") || !strcasecmp(tmp, "t") || !strcmp(tmp, "1") || !strcasecmp(tmp, "yes"))
			out->v.b = true;
		else if (!strcasecmp(tmp, "false") || !strcasecmp(tmp, "f") || !strcmp(tmp, "0") || !strcasecmp(tmp, "no"))
			out->v.b = false;
		else
			ok = false;
		break;
	case BR_T_INT:
	case BR_T_LONG: {
		char *e;
		errno = 0;
		long long v = strtoll(tmp, &e, 10);
		ok = !errno && *e == 0 && (t->id == BR_T_LONG || (v >= INT32_MIN && v <= INT32_MAX));
		if (t->id == BR_T_INT)
			out->v.i32 = (int32_t)v;
		else
			out->v.i64 = v;
		break;
	}
	case BR_T_FLOAT:
	case BR_T_DOUBLE: {
		char *e;
		double v = strtod(tmp, &e);
		ok = *e == 0;
		if (t->id == BR_T_FLOAT)
			out->v.f32 = (float)v;
		else
			out->v.f64 = v;
		break;
	}
	case BR_T_DECIMAL: ok = parse_decimal(p, len, t->precision, t->scale, &out->v.dec); break;
	case BR_T_DATE: {
		int64_t d;
		ok = parse_date(&p, end, &d) && p == end && d >= INT32_MIN && d <= INT32_MAX;
		out->v.i32 = (int32_t)d;
		break;
	}
	case BR_T_TIME: ok = parse_time(&p, end, &out->v.i64) && p == end; break;
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ: ok = parse_timestamp(p, len, t->id == BR_T_TIMESTAMPTZ, &out->v.i64); break;
	case BR_T_STRING:
		out->v.bytes.p = (const uint8_t *)s;
		out->v.bytes.len = n;
		break;
	case BR_T_UUID: {
		size_t start = scratch->len;
		char hexonly[64];
		size_t k = 0;
		for (const char *q = p; q < end && k < sizeof hexonly; q++)
			if (*q != '-')
				hexonly[k++] = *q;
		ok = len == 36 && p[8] == '-' && p[13] == '-' && p[18] == '-' && p[23] == '-' && k == 32 &&
		     parse_hex(hexonly, 32, scratch);
		out->v.bytes.p = scratch->p + start;
		out->v.bytes.len = 16;
		break;
	}
	case BR_T_FIXED:
	case BR_T_BINARY: {
		size_t start = scratch->len;
		ok = parse_hex(s, n, scratch) && (t->id == BR_T_BINARY || (int)(scratch->len - start) == t->length);
		out->v.bytes.p = scratch->p ? scratch->p + start : (const uint8_t *)"";
		out->v.bytes.len = scratch->len - start;
		break;
	}
	default:
		return br_errf(err, BR_EINVAL, "a %s value has no text form (use JSON lines)", br_type_name(t, tn, sizeof tn));
	}
	if (ok)
		return 0;
bad:
	return br_errf(err, BR_EINVAL, "\"%.*s\" is not a valid %s", (int)(n > 80 ? 80 : n), s, br_type_name(t, tn, sizeof tn));
}

int br_col_append_text(br_col *c, const char *s, size_t n, br_err *err)
{
	br_buf scratch = { 0 };
	br_value v;
	int rc = br_value_parse_text(c->type, s, n, &scratch, &v, err);
	if (!rc)
		br_col_append_value(c, &v);
	br_buf_free(&scratch);
	return rc;
}

static int json_type_err(const br_type *t, const json_t *j, br_err *err)
{
	char tn[32];
	static const char *names[] = { "an object", "an array", "a string", "an integer", "a number", "true", "false", "null" };
	return br_errf(err, BR_EINVAL, "expected a %s value, got %s", br_type_name(t, tn, sizeof tn),
	               names[json_typeof(j) < 8 ? json_typeof(j) : 0]);
}

int br_col_append_json(br_col *c, bool required, const json_t *j, br_err *err)
{
	const br_type *t = c->type;
	if (!j || json_is_null(j)) {
		if (required)
			return br_errf(err, BR_EINVAL, "null for a required value");
		br_col_append_null(c);
		return 0;
	}
	int rc;
	switch (t->id) {
	case BR_T_STRUCT: {
		if (!json_is_object(j))
			return json_type_err(t, j, err);
		for (int i = 0; i < t->nchildren; i++) {
			const br_field *f = &t->children[i];
			rc = br_col_append_json(&c->children[i], f->required, json_object_get(j, f->name), err);
			if (rc)
				return br_errctx(err, "field %s", f->name);
		}
		br_col_append_struct(c);
		return 0;
	}
	case BR_T_LIST: {
		if (!json_is_array(j))
			return json_type_err(t, j, err);
		size_t i;
		json_t *e;
		json_array_foreach(j, i, e)
			if ((rc = br_col_append_json(&c->children[0], t->children[0].required, e, err)))
				return br_errctx(err, "element %zu", i);
		br_col_close_list(c);
		return 0;
	}
	case BR_T_MAP: {
		if (!json_is_object(j))
			return json_type_err(t, j, err);
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) {
			json_t *jk = json_string(k);
			rc = br_col_append_json(&c->children[0], true, jk, err);
			json_decref(jk);
			if (!rc)
				rc = br_col_append_json(&c->children[1], t->children[1].required, v, err);
			if (rc)
				return br_errctx(err, "map key \"%.40s\"", k);
		}
		br_col_close_list(c);
		return 0;
	}
	case BR_T_BOOLEAN:
		if (!json_is_boolean(j))
			return json_type_err(t, j, err);
		br_col_append_bool(c, json_is_true(j));
		return 0;
	case BR_T_INT:
	case BR_T_LONG:
		if (!json_is_integer(j))
			return json_type_err(t, j, err);
		if (t->id == BR_T_INT) {
			json_int_t v = json_integer_value(j);
			if (v < INT32_MIN || v > INT32_MAX)
				return br_errf(err, BR_EINVAL, "%" JSON_INTEGER_FORMAT " is out of range for int", v);
			br_col_append_i32(c, (int32_t)v);
		} else {
			br_col_append_i64(c, json_integer_value(j));
		}
		return 0;
	case BR_T_FLOAT:
	case BR_T_DOUBLE:
		if (!json_is_number(j))
			return json_type_err(t, j, err);
		if (t->id == BR_T_FLOAT)
			br_col_append_f32(c, (float)json_number_value(j));
		else
			br_col_append_f64(c, json_number_value(j));
		return 0;
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ:
		if (json_is_integer(j)) { /* epoch milliseconds */
			br_col_append_i64(c, json_integer_value(j) * 1000);
			return 0;
		}
		break;
	case BR_T_DATE:
		if (json_is_integer(j)) {
			br_col_append_i32(c, (int32_t)json_integer_value(j));
			return 0;
		}
		break;
	case BR_T_DECIMAL:
		if (json_is_integer(j) || json_is_real(j)) {
			char num[64];
			int n = json_is_integer(j) ? snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j))
			                           : snprintf(num, sizeof num, "%.*f", t->scale, json_real_value(j));
			return br_col_append_text(c, num, (size_t)n, err);
		}
		break;
	default: break;
	}
	if (!json_is_string(j))
		return json_type_err(t, j, err);
	return br_col_append_text(c, json_string_value(j), json_string_length(j), err);
}

static void json_escape(const uint8_t *p, size_t n, br_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	br_buf_u8(out, '"');
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];
		if (ch == '"' || ch == '\\') {
			br_buf_u8(out, '\\');
			br_buf_u8(out, ch);
		} else if (ch < 0x20) {
			br_buf_printf(out, "\\u00%c%c", hex[ch >> 4], hex[ch & 15]);
		} else {
			br_buf_u8(out, ch);
		}
	}
	br_buf_u8(out, '"');
}

void br_col_format_json(const br_col *c, int64_t i, br_buf *out)
{
	const br_type *t = c->type;
	if (!br_col_valid(c, i)) {
		br_buf_printf(out, "null");
		return;
	}
	int64_t s, e;
	switch (t->id) {
	case BR_T_STRUCT:
		br_buf_u8(out, '{');
		for (int k = 0; k < t->nchildren; k++) {
			if (k)
				br_buf_u8(out, ',');
			json_escape((const uint8_t *)t->children[k].name, strlen(t->children[k].name), out);
			br_buf_u8(out, ':');
			br_col_format_json(&c->children[k], i, out);
		}
		br_buf_u8(out, '}');
		return;
	case BR_T_LIST:
		br_col_range(c, i, &s, &e);
		br_buf_u8(out, '[');
		for (int64_t k = s; k < e; k++) {
			if (k > s)
				br_buf_u8(out, ',');
			br_col_format_json(&c->children[0], k, out);
		}
		br_buf_u8(out, ']');
		return;
	case BR_T_MAP:
		br_col_range(c, i, &s, &e);
		br_buf_u8(out, '{');
		for (int64_t k = s; k < e; k++) {
			if (k > s)
				br_buf_u8(out, ',');
			br_buf key = { 0 };
			br_col_format_text(&c->children[0], k, &key);
			json_escape(key.p ? key.p : (const uint8_t *)"", key.len, out);
			br_buf_free(&key);
			br_buf_u8(out, ':');
			br_col_format_json(&c->children[1], k, out);
		}
		br_buf_u8(out, '}');
		return;
	case BR_T_BOOLEAN:
	case BR_T_INT:
	case BR_T_LONG:
		br_col_format_text(c, i, out);
		return;
	case BR_T_FLOAT:
	case BR_T_DOUBLE: {
		double d = t->id == BR_T_FLOAT ? (double)br_col_f32(c, i) : br_col_f64(c, i);
		if (isfinite(d))
			br_col_format_text(c, i, out);
		else
			br_buf_printf(out, "\"%s\"", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	default: {
		br_buf tmp = { 0 };
		br_col_format_text(c, i, &tmp);
		json_escape(tmp.p ? tmp.p : (const uint8_t *)"", tmp.len, out);
		br_buf_free(&tmp);
	}
	}
}

void br_col_format_text(const br_col *c, int64_t i, br_buf *out)
{
	if (!br_col_valid(c, i))
		return;
	if (br_type_is_nested(c->type)) {
		br_col_format_json(c, i, out);
		return;
	}
	br_value v = br_col_value(c, i);
	br_value_format(&v, c->type, out);
}
