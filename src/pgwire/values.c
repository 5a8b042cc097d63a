/* values.c — PostgreSQL's value formats for the types braid sends and
 * receives over the wire: type OIDs of braid column types, the text format
 * (what psql prints) and the binary format (what drivers may ask for).
 *
 * Formats (PostgreSQL "Frontend/Backend Protocol", and each type's send/recv):
 *   bool        text t / f                  binary 1 byte, 0 or 1
 *   int2/4/8    text decimal                binary 2/4/8 bytes big-endian
 *   float4/8    text shortest round-trip    binary IEEE 754, big-endian
 *               (PostgreSQL 12+ with extra_float_digits = 1: exponent form
 *               below 1e-4 and from 1e15 (float4: 1e6), "NaN", "Infinity")
 *   numeric     text decimal, scale digits  binary int16 ndigits, int16 weight,
 *                                           int16 sign (0 / 0x4000 / NaN 0xC000),
 *                                           int16 dscale, ndigits int16 base-10000
 *                                           digits, most significant first; value
 *                                           = sum digit[i] * 10000^(weight - i)
 *   text        UTF-8 bytes                 the same bytes
 *   bytea       text \x + hex               the raw bytes
 *   date        YYYY-MM-DD (DateStyle ISO)  int32 days since 2000-01-01
 *   time        HH:MM:SS[.ffffff]           int64 microseconds since midnight
 *   timestamp   YYYY-MM-DD HH:MM:SS[.ffffff]  int64 microseconds since
 *   timestamptz the same plus +00 (TimeZone UTC)   2000-01-01 00:00 (UTC)
 *   uuid        8-4-4-4-12 lowercase hex    16 bytes
 * Years before 1 are written PostgreSQL's way: "0044-03-15 BC". */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pgwire/pgwire.h"

/* PostgreSQL's epoch (2000-01-01) relative to Unix's, in days and µs. */
#define PG_EPOCH_DAYS 10957
#define PG_EPOCH_US (10957LL * 86400 * 1000000)

uint32_t br_pg_type_of(const br_type *t, int16_t *typlen, int32_t *typmod)
{
	int16_t len = -1;
	int32_t mod = -1;
	uint32_t oid;
	switch (t->id) {
	case BR_T_BOOLEAN: oid = BR_PG_BOOL; len = 1; break;
	case BR_T_INT: oid = BR_PG_INT4; len = 4; break;
	case BR_T_LONG: oid = BR_PG_INT8; len = 8; break;
	case BR_T_FLOAT: oid = BR_PG_FLOAT4; len = 4; break;
	case BR_T_DOUBLE: oid = BR_PG_FLOAT8; len = 8; break;
	case BR_T_DECIMAL: oid = BR_PG_NUMERIC; mod = ((t->precision << 16) | t->scale) + 4; break;
	case BR_T_DATE: oid = BR_PG_DATE; len = 4; break;
	case BR_T_TIME: oid = BR_PG_TIME; len = 8; break;
	case BR_T_TIMESTAMP: oid = BR_PG_TIMESTAMP; len = 8; break;
	case BR_T_TIMESTAMPTZ: oid = BR_PG_TIMESTAMPTZ; len = 8; break;
	case BR_T_UUID: oid = BR_PG_UUID; len = 16; break;
	case BR_T_FIXED:
	case BR_T_BINARY: oid = BR_PG_BYTEA; break;
	default: oid = BR_PG_TEXT; break; /* string; nested types are refused at encode */
	}
	if (typlen)
		*typlen = len;
	if (typmod)
		*typmod = mod;
	return oid;
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * civil_from_days: exact over the whole int32 range, no loops). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static void put_date(br_buf *out, int64_t days, bool *bc)
{
	int64_t y;
	unsigned m, d;
	civil(days, &y, &m, &d);
	*bc = y <= 0;
	if (*bc)
		y = 1 - y; /* there is no year 0: 0 is 1 BC */
	br_buf_printf(out, "%04" PRId64 "-%02u-%02u", y, m, d);
}

static void put_time(br_buf *out, int64_t us_of_day)
{
	int64_t s = us_of_day / 1000000, frac = us_of_day % 1000000;
	br_buf_printf(out, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, s / 3600, s / 60 % 60, s % 60);
	if (frac) {
		char f[8];
		snprintf(f, sizeof f, "%06" PRId64, frac);
		int n = 6;
		while (f[n - 1] == '0')
			n--;
		br_buf_printf(out, ".%.*s", n, f);
	}
}

static void put_timestamp(br_buf *out, int64_t us, bool tz)
{
	int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
	if (rem < 0) {
		rem += 86400000000LL;
		days--;
	}
	bool bc;
	put_date(out, days, &bc);
	br_buf_u8(out, ' ');
	put_time(out, rem);
	if (tz)
		br_buf_put(out, "+00", 3);
	if (bc)
		br_buf_put(out, " BC", 3);
}

/* Shortest text that reads back to the same float, laid out as PostgreSQL's
 * float8out/float4out do (fixed notation for exponents in [-4, dig), else
 * d.ddde±XX). Cost: up to 17 snprintf/strtod round trips per value. */
static void put_float(br_buf *out, double v, bool single)
{
	if (isnan(v)) {
		br_buf_put(out, "NaN", 3);
		return;
	}
	if (isinf(v)) {
		br_buf_printf(out, "%sInfinity", v < 0 ? "-" : "");
		return;
	}
	char e[40];
	int maxp = single ? 9 : 17;
	for (int p = 1; p <= maxp; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, v);
		if (single ? strtof(e, NULL) == (float)v : strtod(e, NULL) == v)
			break;
	}
	/* e is "-d.ddde+XX": split into sign, digits and exponent */
	char digits[24];
	int nd = 0;
	const char *q = e;
	bool neg = *q == '-';
	if (neg)
		q++;
	for (; *q && *q != 'e'; q++)
		if (*q != '.')
			digits[nd++] = *q;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	int exp10 = *q == 'e' ? atoi(q + 1) : 0;
	if (neg)
		br_buf_u8(out, '-');
	if (v == 0) {
		br_buf_u8(out, '0');
		return;
	}
	int dig = single ? 6 : 15;
	if (exp10 < -4 || exp10 >= dig) {
		br_buf_u8(out, (uint8_t)digits[0]);
		if (nd > 1) {
			br_buf_u8(out, '.');
			br_buf_put(out, digits + 1, (size_t)nd - 1);
		}
		br_buf_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
	} else if (exp10 < 0) {
		br_buf_put(out, "0.", 2);
		for (int i = 0; i < -exp10 - 1; i++)
			br_buf_u8(out, '0');
		br_buf_put(out, digits, (size_t)nd);
	} else {
		for (int i = 0; i <= exp10; i++)
			br_buf_u8(out, i < nd ? (uint8_t)digits[i] : '0');
		if (nd > exp10 + 1) {
			br_buf_u8(out, '.');
			br_buf_put(out, digits + exp10 + 1, (size_t)(nd - exp10 - 1));
		}
	}
}

/* Decimal digits of |v| (no sign), most significant first; returns count. */
static int u128_digits(unsigned __int128 v, char *buf /* >= 40 */)
{
	char tmp[40];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/* A decimal as text: unscaled value and scale -> "-123.4500". */
static void put_decimal(br_buf *out, __int128 unscaled, int scale)
{
	bool neg = unscaled < 0;
	unsigned __int128 a = neg ? -(unsigned __int128)unscaled : (unsigned __int128)unscaled;
	char d[40];
	int n = u128_digits(a, d);
	if (neg)
		br_buf_u8(out, '-');
	if (scale <= 0) {
		br_buf_put(out, d, (size_t)n);
		for (int i = 0; i < -scale; i++)
			br_buf_u8(out, '0');
		return;
	}
	if (n <= scale) {
		br_buf_put(out, "0.", 2);
		for (int i = 0; i < scale - n; i++)
			br_buf_u8(out, '0');
		br_buf_put(out, d, (size_t)n);
		return;
	}
	br_buf_put(out, d, (size_t)(n - scale));
	br_buf_u8(out, '.');
	br_buf_put(out, d + n - scale, (size_t)scale);
}

/* numeric's binary form from unscaled + scale (see the layout above). */
static void put_numeric_binary(br_buf *out, __int128 unscaled, int scale)
{
	bool neg = unscaled < 0;
	unsigned __int128 a = neg ? -(unsigned __int128)unscaled : (unsigned __int128)unscaled;
	char d[40];
	int n = u128_digits(a, d);
	int sc = scale > 0 ? scale : 0;
	/* the digits as integer part . fraction part, padded to groups of four */
	char s[128];
	int ip = n - scale; /* integer digits (may be <= 0 or, for negative scale, > n) */
	int lead = ip > 0 ? (4 - ip % 4) % 4 : 0;
	int len = 0;
	for (int i = 0; i < lead; i++)
		s[len++] = '0';
	int intd = ip > 0 ? ip : 0;
	for (int i = 0; i < intd; i++)
		s[len++] = i < n ? d[i] : '0';
	int groups_int = (lead + intd) / 4;
	for (int i = 0; i < -ip && i < sc; i++)
		s[len++] = '0'; /* fraction zeros before the first digit */
	for (int i = ip > 0 ? ip : 0; i < n; i++)
		s[len++] = d[i];
	while ((len - (lead + intd)) % 4)
		s[len++] = '0';
	int ng = len / 4;
	int16_t g[32];
	for (int i = 0; i < ng; i++)
		g[i] = (int16_t)((s[4 * i] - '0') * 1000 + (s[4 * i + 1] - '0') * 100 + (s[4 * i + 2] - '0') * 10 +
				 (s[4 * i + 3] - '0'));
	int first = 0, last = ng;
	while (first < last && g[first] == 0)
		first++;
	while (last > first && g[last - 1] == 0)
		last--;
	int weight = groups_int - 1 - first;
	if (first == last)
		weight = 0;
	br_buf_be16(out, (uint16_t)(last - first));
	br_buf_be16(out, (uint16_t)(int16_t)weight);
	br_buf_be16(out, a == 0 || !neg ? 0 : 0x4000);
	br_buf_be16(out, (uint16_t)sc);
	for (int i = first; i < last; i++)
		br_buf_be16(out, (uint16_t)g[i]);
}

static const char hexd[] = "0123456789abcdef";

int br_pg_encode_value(const br_col *c, int64_t i, int format, br_buf *out, br_err *err)
{
	const br_type *t = c->type;
	bool bin = format == 1;
	uint64_t bits;
	switch (t->id) {
	case BR_T_BOOLEAN:
		if (bin)
			br_buf_u8(out, br_col_bool(c, i));
		else
			br_buf_u8(out, br_col_bool(c, i) ? 't' : 'f');
		return 0;
	case BR_T_INT:
		if (bin)
			br_buf_be32(out, (uint32_t)br_col_i32(c, i));
		else
			br_buf_printf(out, "%" PRId32, br_col_i32(c, i));
		return 0;
	case BR_T_LONG:
		if (bin)
			br_buf_be64(out, (uint64_t)br_col_i64(c, i));
		else
			br_buf_printf(out, "%" PRId64, br_col_i64(c, i));
		return 0;
	case BR_T_FLOAT: {
		float f = br_col_f32(c, i);
		if (bin) {
			uint32_t b32;
			memcpy(&b32, &f, 4);
			br_buf_be32(out, b32);
		} else
			put_float(out, f, true);
		return 0;
	}
	case BR_T_DOUBLE: {
		double f = br_col_f64(c, i);
		if (bin) {
			memcpy(&bits, &f, 8);
			br_buf_be64(out, bits);
		} else
			put_float(out, f, false);
		return 0;
	}
	case BR_T_DECIMAL:
		if (t->scale < 0 || t->scale > 38)
			return br_errf(err, BR_EUNSUPPORTED, "unsupported: decimal scale %d", t->scale);
		if (bin)
			put_numeric_binary(out, br_col_dec(c, i), t->scale);
		else
			put_decimal(out, br_col_dec(c, i), t->scale);
		return 0;
	case BR_T_DATE:
		if (bin)
			br_buf_be32(out, (uint32_t)(br_col_i32(c, i) - PG_EPOCH_DAYS));
		else {
			bool bc;
			put_date(out, br_col_i32(c, i), &bc);
			if (bc)
				br_buf_put(out, " BC", 3);
		}
		return 0;
	case BR_T_TIME:
		if (bin)
			br_buf_be64(out, (uint64_t)br_col_i64(c, i));
		else
			put_time(out, br_col_i64(c, i));
		return 0;
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ:
		if (bin)
			br_buf_be64(out, (uint64_t)br_col_i64(c, i) - (uint64_t)PG_EPOCH_US);
		else
			put_timestamp(out, br_col_i64(c, i), t->id == BR_T_TIMESTAMPTZ);
		return 0;
	case BR_T_STRING: {
		size_t n;
		const uint8_t *p = br_col_bytes(c, i, &n);
		br_buf_put(out, p, n);
		return 0;
	}
	case BR_T_BINARY:
	case BR_T_FIXED: {
		size_t n;
		const uint8_t *p = br_col_bytes(c, i, &n);
		if (bin) {
			br_buf_put(out, p, n);
			return 0;
		}
		br_buf_put(out, "\\x", 2);
		for (size_t k = 0; k < n; k++) {
			br_buf_u8(out, (uint8_t)hexd[p[k] >> 4]);
			br_buf_u8(out, (uint8_t)hexd[p[k] & 15]);
		}
		return 0;
	}
	case BR_T_UUID: {
		size_t n;
		const uint8_t *p = br_col_bytes(c, i, &n);
		if (bin) {
			br_buf_put(out, p, 16);
			return 0;
		}
		for (int k = 0; k < 16; k++) {
			if (k == 4 || k == 6 || k == 8 || k == 10)
				br_buf_u8(out, '-');
			br_buf_u8(out, (uint8_t)hexd[p[k] >> 4]);
			br_buf_u8(out, (uint8_t)hexd[p[k] & 15]);
		}
		return 0;
	}
	default: {
		char nb[32];
		return br_errf(err, BR_EUNSUPPORTED, "unsupported: sending a %s column", br_type_name(t, nb, sizeof nb));
	}
	}
}

int br_pg_binary_to_text(uint32_t oid, const uint8_t *p, size_t n, br_buf *out, br_err *err)
{
	size_t want = 0;
	switch (oid) {
	case BR_PG_BOOL: want = 1; break;
	case BR_PG_INT2: want = 2; break;
	case BR_PG_INT4: case BR_PG_OID: case BR_PG_FLOAT4: case BR_PG_DATE: want = 4; break;
	case BR_PG_INT8: case BR_PG_FLOAT8: case BR_PG_TIME: case BR_PG_TIMESTAMP: case BR_PG_TIMESTAMPTZ: want = 8; break;
	case BR_PG_UUID: want = 16; break;
	default: break;
	}
	if (want && n != want)
		return br_errf(err, BR_EINVAL, "insufficient data left in message: binary parameter of type %u has %zu bytes, "
				"expected %zu", oid, n, want);
	switch (oid) {
	case BR_PG_BOOL:
		br_buf_put(out, p[0] ? "t" : "f", 1);
		break;
	case BR_PG_INT2: br_buf_printf(out, "%d", (int16_t)br_rd_be16(p)); break;
	case BR_PG_INT4: br_buf_printf(out, "%" PRId32, (int32_t)br_rd_be32(p)); break;
	case BR_PG_OID: br_buf_printf(out, "%" PRIu32, br_rd_be32(p)); break;
	case BR_PG_INT8: br_buf_printf(out, "%" PRId64, (int64_t)br_rd_be64(p)); break;
	case BR_PG_FLOAT4: {
		uint32_t b = br_rd_be32(p);
		float f;
		memcpy(&f, &b, 4);
		put_float(out, f, true);
		break;
	}
	case BR_PG_FLOAT8: {
		uint64_t b = br_rd_be64(p);
		double f;
		memcpy(&f, &b, 8);
		put_float(out, f, false);
		break;
	}
	case BR_PG_DATE: {
		bool bc;
		put_date(out, (int64_t)(int32_t)br_rd_be32(p) + PG_EPOCH_DAYS, &bc);
		if (bc)
			br_buf_put(out, " BC", 3);
		break;
	}
	case BR_PG_TIME: {
		int64_t us = (int64_t)br_rd_be64(p);
		if (us < 0 || us > 86400000000LL)
			return br_errf(err, BR_EINVAL, "time out of range: %" PRId64 " microseconds", us);
		put_time(out, us);
		break;
	}
	case BR_PG_TIMESTAMP:
	case BR_PG_TIMESTAMPTZ: {
		int64_t us = (int64_t)br_rd_be64(p);
		/* keep the Unix-epoch shift from overflowing (PostgreSQL's own range ends
		 * far inside this) */
		if (us > INT64_MAX / 2 || us < INT64_MIN / 2)
			return br_errf(err, BR_EINVAL, "timestamp out of range");
		put_timestamp(out, us + PG_EPOCH_US, oid == BR_PG_TIMESTAMPTZ);
		break;
	}
	case BR_PG_UUID:
		for (int k = 0; k < 16; k++) {
			if (k == 4 || k == 6 || k == 8 || k == 10)
				br_buf_u8(out, '-');
			br_buf_u8(out, (uint8_t)hexd[p[k] >> 4]);
			br_buf_u8(out, (uint8_t)hexd[p[k] & 15]);
		}
		break;
	case BR_PG_BYTEA:
		br_buf_put(out, "\\x", 2);
		for (size_t k = 0; k < n; k++) {
			br_buf_u8(out, (uint8_t)hexd[p[k] >> 4]);
			br_buf_u8(out, (uint8_t)hexd[p[k] & 15]);
		}
		break;
	case BR_PG_NUMERIC: {
		br_cur cu = br_cur_make(p, n);
		int nd = br_cur_be16(&cu);
		int weight = (int16_t)br_cur_be16(&cu);
		int sign = br_cur_be16(&cu);
		int dscale = br_cur_be16(&cu);
		if (cu.bad || nd > 1000 || dscale > 1000 || br_cur_left(&cu) != (size_t)nd * 2)
			return br_errf(err, BR_EINVAL, "invalid binary numeric parameter (%zu bytes)", n);
		if (sign == 0xC000) {
			br_buf_put(out, "NaN", 3);
			break;
		}
		if (sign != 0 && sign != 0x4000)
			return br_errf(err, BR_EINVAL, "invalid sign 0x%04x in binary numeric parameter", sign);
		if (weight > 1000 || weight < -1000)
			return br_errf(err, BR_EINVAL, "binary numeric parameter weight %d out of range", weight);
		if (sign == 0x4000)
			br_buf_u8(out, '-');
		/* integer part: groups with weight >= 0 */
		if (weight < 0)
			br_buf_u8(out, '0');
		for (int w = weight, k = 0; w >= 0; w--, k++) {
			int g = k < nd ? br_rd_be16(p + 8 + 2 * k) : 0;
			if (g > 9999)
				return br_errf(err, BR_EINVAL, "invalid digit %d in binary numeric parameter", g);
			br_buf_printf(out, k == 0 ? "%d" : "%04d", g);
		}
		if (dscale > 0) {
			br_buf_u8(out, '.');
			for (int f = 0; f < dscale; f++) {
				int gi = -(f / 4) - 1; /* weight of the group holding fraction digit f */
				int k = weight - gi;
				int g = k >= 0 && k < nd ? br_rd_be16(p + 8 + 2 * k) : 0;
				if (g > 9999)
					return br_errf(err, BR_EINVAL, "invalid digit %d in binary numeric parameter", g);
				static const int div[4] = { 1000, 100, 10, 1 };
				br_buf_u8(out, (uint8_t)('0' + g / div[f % 4] % 10));
			}
		}
		break;
	}
	default:
		/* text-like types (text, varchar, name, bpchar, unknown, json ...) send
		 * their bytes as they are */
		if (memchr(p, 0, n))
			return br_errf(err, BR_EINVAL, "invalid byte sequence for encoding \"UTF8\": 0x00");
		br_buf_put(out, p, n);
		break;
	}
	br_buf_u8(out, 0);
	return 0;
}
