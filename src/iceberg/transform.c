/* transform.c — Iceberg partition transforms (identity, bucket[N], truncate[W],
 * year, month, day, hour, void), the murmur3_x86_32 hash behind bucket, and the
 * single-value binary serialization used for bounds and partition summaries
 * (Iceberg table spec, "Partition Transforms", Appendices B and D).
 *
 * Single-value serialization (Appendix D)
 *   boolean          one byte, 0x00 false / 0x01 true
 *   int, date        4 bytes little-endian (date: days from 1970-01-01)
 *   long, time, timestamp, timestamptz   8 bytes little-endian (microseconds)
 *   float, double    4 / 8 bytes IEEE-754 little-endian
 *   string           UTF-8 bytes, no length
 *   uuid             16 bytes big-endian
 *   fixed, binary    the bytes
 *   decimal          unscaled value, two's complement big-endian, fewest bytes
 *
 * Hashing (Appendix B): int and long hash the 8-byte little-endian long
 * (so int 34 and long 34 hash alike); date as int, time and timestamps as long;
 * strings their UTF-8 bytes; uuid its 16 big-endian bytes; decimal the bytes
 * of its unscaled value as above. bucket[N] = (hash & INT32_MAX) % N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "iceberg/ice_int.h"

/* ------------------------------------------------------------------ murmur3 */

static uint32_t rotl32(uint32_t x, int r) { return x << r | x >> (32 - r); }

int32_t br_ice_murmur3(const void *data, size_t n)
{
	const uint8_t *p = data;
	const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
	uint32_t h = 0;
	size_t nblocks = n / 4;
	for (size_t i = 0; i < nblocks; i++) {
		uint32_t k = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
			     (uint32_t)p[4 * i + 3] << 24;
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
		h = rotl32(h, 13);
		h = h * 5 + 0xe6546b64;
	}
	const uint8_t *tail = p + nblocks * 4;
	uint32_t k = 0;
	switch (n & 3) {
	case 3:
		k ^= (uint32_t)tail[2] << 16;
		/* fallthrough */
	case 2:
		k ^= (uint32_t)tail[1] << 8;
		/* fallthrough */
	case 1:
		k ^= tail[0];
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
	}
	h ^= (uint32_t)n;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return (int32_t)h;
}

/* Minimal two's-complement big-endian bytes of an int128 (Java BigInteger.toByteArray). */
static size_t dec_bytes(__int128 v, uint8_t out[16])
{
	uint8_t full[16];
	unsigned __int128 u = (unsigned __int128)v;
	for (int i = 15; i >= 0; i--, u >>= 8)
		full[i] = (uint8_t)u;
	size_t start = 0;
	while (start < 15) {
		bool redundant = (full[start] == 0x00 && !(full[start + 1] & 0x80)) ||
				 (full[start] == 0xff && (full[start + 1] & 0x80));
		if (!redundant)
			break;
		start++;
	}
	memcpy(out, full + start, 16 - start);
	return 16 - start;
}

static void le_bytes(uint64_t v, int n, uint8_t *out)
{
	for (int i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

int br_ice_hash(const br_value *v, int32_t *out, br_err *err)
{
	uint8_t b[16];
	switch (v->type) {
	case BR_T_INT:
	case BR_T_DATE:
		le_bytes((uint64_t)(int64_t)v->v.i32, 8, b);
		*out = br_ice_murmur3(b, 8);
		return 0;
	case BR_T_LONG:
	case BR_T_TIME:
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ:
		le_bytes((uint64_t)v->v.i64, 8, b);
		*out = br_ice_murmur3(b, 8);
		return 0;
	case BR_T_FLOAT:
	case BR_T_DOUBLE: {
		/* Spec: floats hash as the double's bits, -0.0 as 0.0 (not valid for bucket). */
		double d = v->type == BR_T_FLOAT ? (double)v->v.f32 : v->v.f64;
		if (d == 0)
			d = 0;
		uint64_t u;
		memcpy(&u, &d, 8);
		le_bytes(u, 8, b);
		*out = br_ice_murmur3(b, 8);
		return 0;
	}
	case BR_T_DECIMAL: {
		size_t n = dec_bytes(v->v.dec, b);
		*out = br_ice_murmur3(b, n);
		return 0;
	}
	case BR_T_STRING:
	case BR_T_UUID:
	case BR_T_FIXED:
	case BR_T_BINARY:
		*out = br_ice_murmur3(v->v.bytes.p, v->v.bytes.len);
		return 0;
	default:
		return br_errf(err, BR_EINVAL, "iceberg: values of type %d cannot be hashed", (int)v->type);
	}
}

/* --------------------------------------------------------------- transforms */

static int64_t floordiv64(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int br_ice_parse_transform(const char *s, br_ice_tkind *kind, int *param)
{
	*param = 0;
	static const struct {
		const char *name;
		br_ice_tkind k;
	} simple[] = { { "identity", BR_ICE_T_IDENTITY }, { "year", BR_ICE_T_YEAR }, { "month", BR_ICE_T_MONTH },
		       { "day", BR_ICE_T_DAY },           { "hour", BR_ICE_T_HOUR }, { "void", BR_ICE_T_VOID } };
	for (size_t i = 0; i < BR_ARRAY_LEN(simple); i++)
		if (!strcmp(s, simple[i].name)) {
			*kind = simple[i].k;
			return 0;
		}
	const char *rest = NULL;
	if (!strncmp(s, "bucket[", 7))
		*kind = BR_ICE_T_BUCKET, rest = s + 7;
	else if (!strncmp(s, "truncate[", 9))
		*kind = BR_ICE_T_TRUNCATE, rest = s + 9;
	else
		return BR_EINVAL;
	char *end;
	long v = strtol(rest, &end, 10);
	if (end == rest || strcmp(end, "]") || v <= 0 || v > INT32_MAX)
		return BR_EINVAL;
	*param = (int)v;
	return 0;
}

static bool is_time_type(br_type_id t)
{
	return t == BR_T_DATE || t == BR_T_TIMESTAMP || t == BR_T_TIMESTAMPTZ;
}

int br_ice_transform_type(const char *transform, const br_type *src, br_type_id *out, br_err *err)
{
	br_ice_tkind k;
	int param;
	if (br_ice_parse_transform(transform, &k, &param))
		return br_errf(err, BR_EINVAL, "iceberg: unknown partition transform \"%s\"", transform);
	if (br_type_is_nested(src))
		return br_errf(err, BR_EINVAL, "iceberg: cannot partition by a nested column");
	switch (k) {
	case BR_ICE_T_IDENTITY:
	case BR_ICE_T_VOID:
		*out = src->id;
		return 0;
	case BR_ICE_T_BUCKET:
		if (src->id == BR_T_BOOLEAN || src->id == BR_T_FLOAT || src->id == BR_T_DOUBLE)
			break;
		*out = BR_T_INT;
		return 0;
	case BR_ICE_T_TRUNCATE:
		if (src->id != BR_T_INT && src->id != BR_T_LONG && src->id != BR_T_STRING && src->id != BR_T_BINARY &&
		    src->id != BR_T_DECIMAL)
			break;
		*out = src->id;
		return 0;
	case BR_ICE_T_YEAR:
	case BR_ICE_T_MONTH:
		if (!is_time_type(src->id))
			break;
		*out = BR_T_INT;
		return 0;
	case BR_ICE_T_DAY:
		if (!is_time_type(src->id))
			break;
		*out = BR_T_DATE;
		return 0;
	case BR_ICE_T_HOUR:
		if (src->id != BR_T_TIMESTAMP && src->id != BR_T_TIMESTAMPTZ)
			break;
		*out = BR_T_INT;
		return 0;
	}
	char buf[48];
	return br_errf(err, BR_EINVAL, "iceberg: transform %s does not apply to %s", transform,
		       br_type_name(src, buf, sizeof buf));
}

/* Byte length of the first w UTF-8 code points of s. */
static size_t utf8_prefix(const uint8_t *s, size_t n, int w)
{
	size_t i = 0;
	for (int cp = 0; cp < w && i < n; cp++) {
		i++;
		while (i < n && (s[i] & 0xc0) == 0x80)
			i++;
	}
	return i;
}

int br_ice_apply(br_ice_tkind k, int param, const br_value *v, br_value *out, br_err *err)
{
	if (v->is_null || k == BR_ICE_T_VOID) {
		*out = br_value_null(v->type);
		if (k == BR_ICE_T_BUCKET || k == BR_ICE_T_YEAR || k == BR_ICE_T_MONTH || k == BR_ICE_T_HOUR)
			out->type = BR_T_INT;
		else if (k == BR_ICE_T_DAY)
			out->type = BR_T_DATE;
		return 0;
	}
	switch (k) {
	case BR_ICE_T_IDENTITY:
		*out = *v;
		return 0;
	case BR_ICE_T_BUCKET: {
		int32_t h;
		int rc = br_ice_hash(v, &h, err);
		if (rc)
			return rc;
		*out = br_value_i32(BR_T_INT, (int32_t)(((uint32_t)h & INT32_MAX) % (uint32_t)param));
		return 0;
	}
	case BR_ICE_T_TRUNCATE:
		*out = *v;
		switch (v->type) {
		case BR_T_INT:
			out->v.i32 = (int32_t)((int64_t)v->v.i32 - (((int64_t)v->v.i32 % param) + param) % param);
			return 0;
		case BR_T_LONG:
			out->v.i64 = v->v.i64 - (((v->v.i64 % param) + param) % param);
			return 0;
		case BR_T_DECIMAL:
			out->v.dec = v->v.dec - (((v->v.dec % param) + param) % param);
			return 0;
		case BR_T_STRING:
			out->v.bytes.len = utf8_prefix(v->v.bytes.p, v->v.bytes.len, param);
			return 0;
		case BR_T_BINARY:
			out->v.bytes.len = BR_MIN(v->v.bytes.len, (size_t)param);
			return 0;
		default:
			break;
		}
		break;
	case BR_ICE_T_YEAR:
	case BR_ICE_T_MONTH:
	case BR_ICE_T_DAY:
	case BR_ICE_T_HOUR: {
		int64_t days, us = 0;
		if (v->type == BR_T_DATE) {
			if (k == BR_ICE_T_HOUR)
				break;
			days = v->v.i32;
		} else if (v->type == BR_T_TIMESTAMP || v->type == BR_T_TIMESTAMPTZ) {
			us = v->v.i64;
			days = floordiv64(us, 86400000000LL);
		} else {
			break;
		}
		if (k == BR_ICE_T_HOUR) {
			*out = br_value_i32(BR_T_INT, (int32_t)floordiv64(us, 3600000000LL));
			return 0;
		}
		if (k == BR_ICE_T_DAY) {
			*out = br_value_i32(BR_T_DATE, (int32_t)days);
			return 0;
		}
		int64_t y;
		int m, d;
		br_civil_from_days(days, &y, &m, &d);
		*out = br_value_i32(BR_T_INT, (int32_t)(k == BR_ICE_T_YEAR ? y - 1970 : (y - 1970) * 12 + (m - 1)));
		return 0;
	}
	case BR_ICE_T_VOID:
		break;
	}
	return br_errf(err, BR_EINVAL, "iceberg: transform cannot be applied to a value of type %d", (int)v->type);
}

int br_ice_transform(const char *transform, const br_value *v, br_value *out, br_err *err)
{
	br_ice_tkind k;
	int param;
	if (br_ice_parse_transform(transform, &k, &param))
		return br_errf(err, BR_EINVAL, "iceberg: unknown partition transform \"%s\"", transform);
	return br_ice_apply(k, param, v, out, err);
}

void br_ice_transform_text(br_ice_tkind k, const br_value *v, br_buf *out)
{
	if (v->is_null) {
		br_buf_put(out, "null", 4);
		return;
	}
	int64_t y;
	int m, d;
	switch (k) {
	case BR_ICE_T_YEAR:
		br_buf_printf(out, "%d", 1970 + v->v.i32);
		return;
	case BR_ICE_T_MONTH:
		br_buf_printf(out, "%04d-%02d", 1970 + (int)floordiv64(v->v.i32, 12), (int)(v->v.i32 - 12 * floordiv64(v->v.i32, 12)) + 1);
		return;
	case BR_ICE_T_DAY:
		br_civil_from_days(v->v.i32, &y, &m, &d);
		br_buf_printf(out, "%04lld-%02d-%02d", (long long)y, m, d);
		return;
	case BR_ICE_T_HOUR:
		br_civil_from_days(floordiv64(v->v.i32, 24), &y, &m, &d);
		br_buf_printf(out, "%04lld-%02d-%02d-%02d", (long long)y, m, d, (int)(v->v.i32 - 24 * floordiv64(v->v.i32, 24)));
		return;
	default:
		break;
	}
	br_buf tmp = { 0 };
	br_value_format(v, NULL, &tmp);
	/* Keep the path readable and safe: escape what is not [A-Za-z0-9._-]. */
	for (size_t i = 0; i < tmp.len; i++) {
		uint8_t c = tmp.p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-')
			br_buf_u8(out, c);
		else
			br_buf_printf(out, "%%%02X", c);
	}
	br_buf_free(&tmp);
}

/* ------------------------------------------------------ single-value bytes */

void br_ice_value_bytes(const br_value *v, br_buf *out)
{
	uint8_t b[16];
	switch (v->type) {
	case BR_T_BOOLEAN:
		br_buf_u8(out, v->v.b ? 1 : 0);
		return;
	case BR_T_INT:
	case BR_T_DATE:
		le_bytes((uint32_t)v->v.i32, 4, b);
		br_buf_put(out, b, 4);
		return;
	case BR_T_LONG:
	case BR_T_TIME:
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ:
		le_bytes((uint64_t)v->v.i64, 8, b);
		br_buf_put(out, b, 8);
		return;
	case BR_T_FLOAT: {
		uint32_t u;
		memcpy(&u, &v->v.f32, 4);
		le_bytes(u, 4, b);
		br_buf_put(out, b, 4);
		return;
	}
	case BR_T_DOUBLE: {
		uint64_t u;
		memcpy(&u, &v->v.f64, 8);
		le_bytes(u, 8, b);
		br_buf_put(out, b, 8);
		return;
	}
	case BR_T_DECIMAL: {
		size_t n = dec_bytes(v->v.dec, b);
		br_buf_put(out, b, n);
		return;
	}
	case BR_T_STRING:
	case BR_T_UUID:
	case BR_T_FIXED:
	case BR_T_BINARY:
		br_buf_put(out, v->v.bytes.p, v->v.bytes.len);
		return;
	default:
		return;
	}
}

int br_ice_value_parse(const br_type *t, const uint8_t *p, size_t n, br_value *out, br_err *err)
{
	memset(out, 0, sizeof *out);
	out->type = t->id;
	uint64_t u = 0;
	switch (t->id) {
	case BR_T_BOOLEAN:
		if (n != 1)
			break;
		out->v.b = p[0] != 0;
		return 0;
	case BR_T_INT:
	case BR_T_DATE:
	case BR_T_FLOAT:
		if (n != 4)
			break;
		for (int i = 3; i >= 0; i--)
			u = u << 8 | p[i];
		if (t->id == BR_T_FLOAT) {
			uint32_t u32 = (uint32_t)u;
			memcpy(&out->v.f32, &u32, 4);
		} else {
			out->v.i32 = (int32_t)(uint32_t)u;
		}
		return 0;
	case BR_T_LONG:
	case BR_T_TIME:
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ:
	case BR_T_DOUBLE:
		if (n != 8)
			break;
		for (int i = 7; i >= 0; i--)
			u = u << 8 | p[i];
		if (t->id == BR_T_DOUBLE)
			memcpy(&out->v.f64, &u, 8);
		else
			out->v.i64 = (int64_t)u;
		return 0;
	case BR_T_DECIMAL: {
		if (n == 0 || n > 16)
			break;
		unsigned __int128 x = (p[0] & 0x80) ? ~(unsigned __int128)0 : 0;
		for (size_t i = 0; i < n; i++)
			x = x << 8 | p[i];
		out->v.dec = (__int128)x;
		return 0;
	}
	case BR_T_UUID:
		if (n != 16)
			break;
		/* fallthrough */
	case BR_T_STRING:
	case BR_T_FIXED:
	case BR_T_BINARY:
		out->v.bytes.p = p;
		out->v.bytes.len = n;
		return 0;
	default:
		break;
	}
	char buf[48];
	return br_errf(err, BR_ECORRUPT, "iceberg: %zu bytes are not a serialized %s", n,
		       br_type_name(t, buf, sizeof buf));
}
