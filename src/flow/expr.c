/* expr.c — scalar expression evaluation for flow operators, with SQL NULL
 * semantics (three-valued logic) and PostgreSQL's arithmetic rules: integer
 * overflow and division by zero are errors, not wrapped or NULL values. */
#include <ctype.h>
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

/* ------------------------------------------------------------ date/time
 *
 * Dates are days since 1970-01-01 and timestamps microseconds since the epoch,
 * both in UTC and in the proleptic Gregorian calendar; a day is always 24
 * hours (no zones but UTC, so no daylight-saving days). Text forms follow
 * PostgreSQL's DateStyle ISO and IntervalStyle postgres. */

#define US_PER_DAY INT64_C(86400000000)
#define US_PER_HOUR INT64_C(3600000000)
#define US_PER_MIN INT64_C(60000000)
#define US_PER_SEC INT64_C(1000000)

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int mdays(int64_t y, int m)
{
	static const int n[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* PostgreSQL accepts years 4713 BC .. 294276 AD; braid stops at 200000 AD so
 * that microseconds of any valid timestamp plus a day never overflow int64. */
#define MIN_YEAR -4713
#define MAX_YEAR 200000

static bool digits(const char **p, const char *end, int min, int max, int64_t *out)
{
	int n = 0;
	int64_t v = 0;
	while (*p < end && **p >= '0' && **p <= '9' && n < max) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	*out = v;
	return n >= min;
}

static void skip_sp(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n'))
		(*p)++;
}

static bool word_is(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(end - p) == n && !strncasecmp(p, w, n);
}

/* [-]YYYY-MM-DD[( |T)HH:MM[:SS[.f]]][ ][zone][ BC]; zone = Z, UTC, GMT or
 * +-HH[[:]MM]. The offset is returned in *off_us (0 when absent). */
static bool parse_datetime(const char *s, size_t n, int64_t *us, int64_t *off_us, bool *has_time)
{
	const char *p = s, *end = s + n;
	skip_sp(&p, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
		end--;
	*off_us = 0;
	*has_time = false;
	if (word_is(p, end, "epoch")) {
		*us = 0;
		return true;
	}
	bool bc = false;
	if (end - p > 3 && !strncasecmp(end - 3, " BC", 3)) {
		bc = true;
		end -= 3;
	}
	int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
	if (!digits(&p, end, 1, 7, &y) || p >= end || *p++ != '-' || !digits(&p, end, 1, 2, &mo) || p >= end ||
	    *p++ != '-' || !digits(&p, end, 1, 2, &d))
		return false;
	if (bc)
		y = 1 - y;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays(y, (int)mo) || y < MIN_YEAR || y > MAX_YEAR)
		return false;
	if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
		p++;
		skip_sp(&p, end);
		if (p < end && *p >= '0' && *p <= '9') {
			if (!digits(&p, end, 1, 2, &h) || p >= end || *p++ != ':' || !digits(&p, end, 2, 2, &mi))
				return false;
			*has_time = true;
			if (p < end && *p == ':') {
				p++;
				if (!digits(&p, end, 2, 2, &sec))
					return false;
				if (p < end && *p == '.') {
					p++;
					int nd = 0;
					while (p < end && *p >= '0' && *p <= '9') {
						if (nd < 6)
							frac = frac * 10 + (*p - '0');
						else if (nd == 6 && *p >= '5')
							frac++; /* round at the microsecond */
						nd++;
						p++;
					}
					for (; nd < 6; nd++)
						frac *= 10;
				}
			}
			if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi || sec || frac)))
				return false;
		}
	}
	skip_sp(&p, end);
	if (p < end) {
		if (word_is(p, end, "Z") || word_is(p, end, "UTC") || word_is(p, end, "GMT")) {
			p = end;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;
			int64_t oh, om = 0;
			if (!digits(&p, end, 1, 2, &oh))
				return false;
			if (p < end && *p == ':')
				p++;
			if (p < end && !digits(&p, end, 2, 2, &om))
				return false;
			if (oh > 15 || om > 59)
				return false;
			*off_us = sign * (oh * US_PER_HOUR + om * US_PER_MIN);
		}
		if (p != end)
			return false;
	}
	*us = br_days_from_civil(y, (int)mo, (int)d) * US_PER_DAY + h * US_PER_HOUR + mi * US_PER_MIN + sec * US_PER_SEC + frac;
	return true;
}

static bool parse_date_text(const char *s, size_t n, int32_t *days)
{
	int64_t us, off;
	bool ht;
	if (!parse_datetime(s, n, &us, &off, &ht))
		return false;
	*days = (int32_t)floordiv(us, US_PER_DAY);
	return true;
}

static bool parse_ts_text(const char *s, size_t n, bool tz, int64_t *us)
{
	int64_t off;
	bool ht;
	if (!parse_datetime(s, n, us, &off, &ht))
		return false;
	if (tz)
		*us -= off; /* a timestamp without zone ignores a zone, as PostgreSQL does */
	return true;
}

/* Adds (possibly fractional) months, days and microseconds to iv, carrying
 * fractions down as PostgreSQL does (a month is 30 days, a day 24 hours).
 * False when a field would overflow. */
static bool iv_add(br_interval *iv, double months, double days, double us)
{
	double wm = trunc(months);
	days += (months - wm) * 30;
	double wd = trunc(days);
	us += (days - wd) * (double)US_PER_DAY;
	if (!(fabs(wm) < 2147483647.0 && fabs(wd) < 2147483647.0 && fabs(us) < 9.2e18))
		return false;
	int32_t m2, d2;
	int64_t u2;
	if (__builtin_add_overflow(iv->months, (int32_t)wm, &m2) || __builtin_add_overflow(iv->days, (int32_t)wd, &d2) ||
	    __builtin_add_overflow(iv->us, (int64_t)llround(us), &u2))
		return false;
	iv->months = m2;
	iv->days = d2;
	iv->us = u2;
	return true;
}

/* PostgreSQL's interval input, postgres style: [@] {number unit | [-]H:MM[:SS[.f]] | number}... [ago] */
static bool parse_interval_text(const char *s, size_t n, br_interval *out)
{
	const char *p = s, *end = s + n;
	br_interval iv = { 0 };
	bool any = false, ago = false;
	skip_sp(&p, end);
	if (p < end && *p == '@')
		p++;
	for (;;) {
		skip_sp(&p, end);
		if (p >= end)
			break;
		const char *w = p;
		while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			p++;
		if (p > w) {
			if ((size_t)(p - w) == 3 && !strncasecmp(w, "ago", 3)) {
				ago = true;
				continue;
			}
			return false;
		}
		/* a number, maybe the start of H:MM[:SS] */
		const char *q = p;
		int sign = 1;
		if (q < end && (*q == '-' || *q == '+'))
			sign = *q++ == '-' ? -1 : 1;
		const char *nstart = q;
		while (q < end && ((*q >= '0' && *q <= '9') || *q == '.'))
			q++;
		if (q == nstart)
			return false;
		char num[64];
		size_t nl = (size_t)(q - nstart);
		if (nl >= sizeof num)
			return false;
		memcpy(num, nstart, nl);
		num[nl] = 0;
		if (q < end && *q == ':') {
			int64_t h = 0, mi = 0, sec = 0, frac = 0;
			const char *r = nstart;
			if (!digits(&r, end, 1, 9, &h) || r >= end || *r++ != ':' || !digits(&r, end, 1, 2, &mi))
				return false;
			if (r < end && *r == ':') {
				r++;
				if (!digits(&r, end, 1, 2, &sec))
					return false;
				if (r < end && *r == '.') {
					r++;
					int nd = 0;
					while (r < end && *r >= '0' && *r <= '9') {
						if (nd < 6)
							frac = frac * 10 + (*r - '0');
						nd++;
						r++;
					}
					for (; nd < 6; nd++)
						frac *= 10;
				}
			}
			if (mi > 59 || sec > 59)
				return false;
			if (h > 2562047787 || __builtin_add_overflow(iv.us, sign * (h * US_PER_HOUR + mi * US_PER_MIN + sec * US_PER_SEC + frac),
									      &iv.us))
				return false;
			p = r;
			any = true;
			continue;
		}
		char *e;
		double x = strtod(num, &e) * sign;
		if (*e || !isfinite(x) || fabs(x) > 1e12)
			return false;
		p = q;
		skip_sp(&p, end);
		const char *u = p;
		while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			p++;
		char unit[16];
		size_t ul = (size_t)(p - u);
		if (ul >= sizeof unit)
			return false;
		for (size_t i = 0; i < ul; i++)
			unit[i] = (char)(u[i] | 0x20);
		unit[ul] = 0;
		if (ul > 1 && unit[ul - 1] == 's' && strcmp(unit, "s") && strcmp(unit, "ms") && strcmp(unit, "us"))
			unit[--ul] = 0; /* plural */
		bool ok = true;
		if (!ul || !strcmp(unit, "second") || !strcmp(unit, "sec") || !strcmp(unit, "s"))
			ok = iv_add(&iv, 0, 0, x * US_PER_SEC);
		else if (!strcmp(unit, "minute") || !strcmp(unit, "min") || !strcmp(unit, "m"))
			ok = iv_add(&iv, 0, 0, x * US_PER_MIN);
		else if (!strcmp(unit, "hour") || !strcmp(unit, "hr") || !strcmp(unit, "h"))
			ok = iv_add(&iv, 0, 0, x * (double)US_PER_HOUR);
		else if (!strcmp(unit, "day") || !strcmp(unit, "d"))
			ok = iv_add(&iv, 0, x, 0);
		else if (!strcmp(unit, "week") || !strcmp(unit, "w"))
			ok = iv_add(&iv, 0, x * 7, 0);
		else if (!strcmp(unit, "month") || !strcmp(unit, "mon"))
			ok = iv_add(&iv, x, 0, 0);
		else if (!strcmp(unit, "year") || !strcmp(unit, "yr") || !strcmp(unit, "y"))
			ok = iv_add(&iv, x * 12, 0, 0);
		else if (!strcmp(unit, "decade"))
			ok = iv_add(&iv, x * 120, 0, 0);
		else if (!strcmp(unit, "century") || !strcmp(unit, "centurie"))
			ok = iv_add(&iv, x * 1200, 0, 0);
		else if (!strcmp(unit, "millennium") || !strcmp(unit, "millennia"))
			ok = iv_add(&iv, x * 12000, 0, 0);
		else if (!strcmp(unit, "millisecond") || !strcmp(unit, "msec") || !strcmp(unit, "ms"))
			ok = iv_add(&iv, 0, 0, x * 1000);
		else if (!strcmp(unit, "microsecond") || !strcmp(unit, "usec") || !strcmp(unit, "us"))
			ok = iv_add(&iv, 0, 0, x);
		else
			return false;
		if (!ok)
			return false;
		any = true;
	}
	if (!any)
		return false;
	if (ago) {
		if (iv.months == INT32_MIN || iv.days == INT32_MIN || iv.us == INT64_MIN)
			return false;
		iv.months = -iv.months;
		iv.days = -iv.days;
		iv.us = -iv.us;
	}
	*out = iv;
	return true;
}

static void fmt_date(br_buf *out, int64_t days)
{
	int64_t y;
	int m, d;
	br_civil_from_days(days, &y, &m, &d);
	br_buf_printf(out, "%04" PRId64 "-%02d-%02d", y > 0 ? y : 1 - y, m, d);
}

static void fmt_secs(br_buf *out, int64_t us) /* SS[.ffffff] trimmed, us in [0, 60e6) */
{
	br_buf_printf(out, "%02" PRId64, us / US_PER_SEC);
	int64_t f = us % US_PER_SEC;
	if (f) {
		char tmp[8];
		snprintf(tmp, sizeof tmp, "%06" PRId64, f);
		int n = 6;
		while (tmp[n - 1] == '0')
			n--;
		br_buf_printf(out, ".%.*s", n, tmp);
	}
}

static void fmt_ts(br_buf *out, int64_t us, bool tz)
{
	int64_t days = floordiv(us, US_PER_DAY), t = us - days * US_PER_DAY, y;
	int m, d;
	br_civil_from_days(days, &y, &m, &d);
	fmt_date(out, days);
	br_buf_printf(out, " %02" PRId64 ":%02" PRId64 ":", t / US_PER_HOUR, t / US_PER_MIN % 60);
	fmt_secs(out, t % US_PER_MIN);
	if (tz)
		br_buf_printf(out, "+00");
	if (y <= 0)
		br_buf_printf(out, " BC");
}

/* IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.5". */
static void fmt_interval(br_buf *out, br_interval iv)
{
	bool zero = true, before = false;
	int64_t parts[3] = { iv.months / 12, iv.months % 12, iv.days };
	static const char *const names[3] = { "year", "mon", "day" };
	for (int i = 0; i < 3; i++) {
		if (!parts[i])
			continue;
		br_buf_printf(out, "%s%s%" PRId64 " %s%s", zero ? "" : " ", !zero && before && parts[i] > 0 ? "+" : "", parts[i],
			      names[i], parts[i] != 1 ? "s" : "");
		before = parts[i] < 0;
		zero = false;
	}
	if (zero || iv.us) {
		bool minus = iv.us < 0;
		uint64_t a = minus ? (uint64_t)0 - (uint64_t)iv.us : (uint64_t)iv.us;
		br_buf_printf(out, "%s%s%02" PRIu64 ":%02" PRIu64 ":", zero ? "" : " ", minus ? "-" : before ? "+" : "",
			      a / (uint64_t)US_PER_HOUR, a / (uint64_t)US_PER_MIN % 60);
		fmt_secs(out, (int64_t)(a % (uint64_t)US_PER_MIN));
	}
}

void br_val_format_pg(const br_value *v, br_type_id t, br_buf *out)
{
	br_value x = *v;
	br_val_retag(&x, t);
	switch (t) {
	case BR_T_DATE:
		fmt_date(out, x.v.i32);
		if (x.v.i32 < br_days_from_civil(1, 1, 1))
			br_buf_printf(out, " BC");
		return;
	case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ: fmt_ts(out, x.v.i64, t == BR_T_TIMESTAMPTZ); return;
	case BR_T_INTERVAL: fmt_interval(out, br_interval_get(&x)); return;
	default: br_value_format(&x, NULL, out); return;
	}
}

static bool ts_in_range(int64_t us)
{
	return us >= br_days_from_civil(MIN_YEAR, 1, 1) * US_PER_DAY && us < br_days_from_civil(MAX_YEAR + 1, 1, 1) * US_PER_DAY;
}

/* timestamp + interval: months first (the day clamped to the month's end),
 * then days, then the time, as PostgreSQL does. */
static bool ts_add(int64_t ts, br_interval iv, int sign, int64_t *out)
{
	if (iv.months) {
		int64_t days = floordiv(ts, US_PER_DAY), t = ts - days * US_PER_DAY, y;
		int m, d;
		br_civil_from_days(days, &y, &m, &d);
		int64_t mm = (int64_t)m - 1 + (int64_t)sign * iv.months;
		y += floordiv(mm, 12);
		m = (int)(mm - floordiv(mm, 12) * 12) + 1;
		if (y < MIN_YEAR || y > MAX_YEAR)
			return false;
		if (d > mdays(y, m))
			d = mdays(y, m);
		ts = br_days_from_civil(y, m, d) * US_PER_DAY + t;
	}
	__int128 r = (__int128)ts + (__int128)sign * ((__int128)iv.days * US_PER_DAY + iv.us);
	if (r < INT64_MIN / 2 || r > INT64_MAX / 2 || !ts_in_range((int64_t)r))
		return false;
	*out = (int64_t)r;
	return true;
}

/* The fields of a timestamp, for EXTRACT and date_trunc. */
typedef struct tm_parts {
	int64_t y, days;
	int m, d, h, mi;
	int64_t us_in_min; /* seconds and fraction, in microseconds */
	int dow, doy;      /* 0 = Sunday; 1-based day of year */
} tm_parts;

static tm_parts split_ts(int64_t ts)
{
	tm_parts p;
	p.days = floordiv(ts, US_PER_DAY);
	int64_t t = ts - p.days * US_PER_DAY;
	br_civil_from_days(p.days, &p.y, &p.m, &p.d);
	p.h = (int)(t / US_PER_HOUR);
	p.mi = (int)(t / US_PER_MIN % 60);
	p.us_in_min = t % US_PER_MIN;
	p.dow = (int)((p.days % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
	p.doy = (int)(p.days - br_days_from_civil(p.y, 1, 1) + 1);
	return p;
}

/* ISO 8601 week number and week-numbering year. */
static void iso_week(const tm_parts *p, int *week, int64_t *iyear)
{
	int isodow = p->dow ? p->dow : 7;
	int64_t thursday = p->days - (isodow - 1) + 3;
	int64_t y;
	int m, d;
	br_civil_from_days(thursday, &y, &m, &d);
	*iyear = y;
	*week = (int)((thursday - br_days_from_civil(y, 1, 1)) / 7 + 1);
}

static int unit_err(br_err *err, const br_expr *e, const char *unit, const char *type)
{
	char m[200];
	snprintf(m, sizeof m, "unit \"%s\" not supported for type %s", unit, type);
	return xerr(err, e, BR_EINVAL, m);
}

static void lower_name(const br_value *v, char *buf, size_t cap)
{
	size_t n = BR_MIN(v->v.bytes.len, cap - 1);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower(v->v.bytes.p[i]);
	buf[n] = 0;
	if (n > 1 && buf[n - 1] == 's' && strcmp(buf, "ms") && strcmp(buf, "us"))
		buf[n - 1] = 0; /* "hours" as "hour" */
}

static int extract_field(const br_expr *e, const br_value *unit, const br_value *v, br_type_id vt, double *out, br_err *err)
{
	char u[32];
	lower_name(unit, u, sizeof u);
	if (vt == BR_T_INTERVAL) {
		br_interval iv = br_interval_get(v);
		if (!strcmp(u, "epoch"))
			*out = (double)(iv.months / 12) * 365.25 * 86400 + (double)(iv.months % 12) * 30 * 86400 +
			       (double)iv.days * 86400 + (double)iv.us / 1e6;
		else if (!strcmp(u, "year")) *out = iv.months / 12;
		else if (!strcmp(u, "month")) *out = iv.months % 12;
		else if (!strcmp(u, "day")) *out = iv.days;
		else if (!strcmp(u, "hour")) *out = (double)(iv.us / US_PER_HOUR);
		else if (!strcmp(u, "minute")) *out = (double)(iv.us / US_PER_MIN % 60);
		else if (!strcmp(u, "second")) *out = (double)(iv.us % US_PER_MIN) / 1e6;
		else if (!strcmp(u, "millisecond")) *out = (double)(iv.us % US_PER_MIN) / 1e3;
		else if (!strcmp(u, "microsecond")) *out = (double)(iv.us % US_PER_MIN);
		else return unit_err(err, e, u, "interval");
		return 0;
	}
	int64_t ts = vt == BR_T_DATE ? (int64_t)v->v.i32 * US_PER_DAY : v->v.i64;
	tm_parts p = split_ts(ts);
	if (vt == BR_T_DATE && (!strcmp(u, "hour") || !strcmp(u, "minute") || !strcmp(u, "second") ||
				!strcmp(u, "millisecond") || !strcmp(u, "microsecond")))
		return unit_err(err, e, u, "date");
	int week;
	int64_t iyear;
	if (!strcmp(u, "year")) *out = (double)(p.y > 0 ? p.y : p.y - 1);
	else if (!strcmp(u, "month")) *out = p.m;
	else if (!strcmp(u, "day")) *out = p.d;
	else if (!strcmp(u, "hour")) *out = p.h;
	else if (!strcmp(u, "minute")) *out = p.mi;
	else if (!strcmp(u, "second")) *out = (double)p.us_in_min / 1e6;
	else if (!strcmp(u, "millisecond")) *out = (double)p.us_in_min / 1e3;
	else if (!strcmp(u, "microsecond")) *out = (double)p.us_in_min;
	else if (!strcmp(u, "epoch")) *out = (double)ts / 1e6;
	else if (!strcmp(u, "dow")) *out = p.dow;
	else if (!strcmp(u, "isodow")) *out = p.dow ? p.dow : 7;
	else if (!strcmp(u, "doy")) *out = p.doy;
	else if (!strcmp(u, "quarter")) *out = (p.m - 1) / 3 + 1;
	else if (!strcmp(u, "week")) { iso_week(&p, &week, &iyear); *out = week; }
	else if (!strcmp(u, "isoyear")) { iso_week(&p, &week, &iyear); *out = (double)iyear; }
	else if (!strcmp(u, "decade")) *out = (double)floordiv(p.y, 10);
	else if (!strcmp(u, "century")) *out = (double)(p.y > 0 ? (p.y + 99) / 100 : -((99 - (p.y - 1)) / 100));
	else if (!strcmp(u, "millennium")) *out = (double)(p.y > 0 ? (p.y + 999) / 1000 : -((999 - (p.y - 1)) / 1000));
	else if (!strcmp(u, "julian")) *out = (double)(p.days + 2440588) + (double)(ts - p.days * US_PER_DAY) / (double)US_PER_DAY;
	else return unit_err(err, e, u, vt == BR_T_DATE ? "date" : "timestamp");
	return 0;
}

static int trunc_ts(const br_expr *e, const br_value *unit, int64_t ts, int64_t *out, br_err *err)
{
	char u[32];
	lower_name(unit, u, sizeof u);
	tm_parts p = split_ts(ts);
	int64_t day0 = p.days * US_PER_DAY;
	if (!strcmp(u, "microsecond")) *out = ts;
	else if (!strcmp(u, "millisecond")) *out = floordiv(ts, 1000) * 1000;
	else if (!strcmp(u, "second")) *out = floordiv(ts, US_PER_SEC) * US_PER_SEC;
	else if (!strcmp(u, "minute")) *out = floordiv(ts, US_PER_MIN) * US_PER_MIN;
	else if (!strcmp(u, "hour")) *out = floordiv(ts, US_PER_HOUR) * US_PER_HOUR;
	else if (!strcmp(u, "day")) *out = day0;
	else if (!strcmp(u, "week")) *out = (p.days - ((p.dow + 6) % 7)) * US_PER_DAY;
	else if (!strcmp(u, "month")) *out = br_days_from_civil(p.y, p.m, 1) * US_PER_DAY;
	else if (!strcmp(u, "quarter")) *out = br_days_from_civil(p.y, (p.m - 1) / 3 * 3 + 1, 1) * US_PER_DAY;
	else if (!strcmp(u, "year")) *out = br_days_from_civil(p.y, 1, 1) * US_PER_DAY;
	else if (!strcmp(u, "decade")) *out = br_days_from_civil(floordiv(p.y, 10) * 10, 1, 1) * US_PER_DAY;
	else if (!strcmp(u, "century")) *out = br_days_from_civil(floordiv(p.y - 1, 100) * 100 + 1, 1, 1) * US_PER_DAY;
	else if (!strcmp(u, "millennium")) *out = br_days_from_civil(floordiv(p.y - 1, 1000) * 1000 + 1, 1, 1) * US_PER_DAY;
	else return unit_err(err, e, u, "timestamp");
	return 0;
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
	case BR_T_DATE: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ: case BR_T_INTERVAL: {
		br_buf b = { 0 };
		br_val_format_pg(v, v->type, &b);
		br_value r = str_value(ev, (const char *)b.p, b.len);
		br_buf_free(&b);
		return r;
	}
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
	if (v->type == BR_T_STRING && (to == BR_T_DATE || to == BR_T_TIMESTAMP || to == BR_T_TIMESTAMPTZ || to == BR_T_INTERVAL)) {
		const char *p = (const char *)v->v.bytes.p;
		size_t n = v->v.bytes.len;
		bool ok;
		if (to == BR_T_DATE) {
			int32_t d = 0;
			ok = parse_date_text(p, n, &d);
			*v = br_value_i32(BR_T_DATE, d);
		} else if (to == BR_T_INTERVAL) {
			br_interval iv;
			ok = parse_interval_text(p, n, &iv);
			if (ok)
				*v = br_interval_value(ev->scratch, iv);
		} else {
			int64_t us = 0;
			ok = parse_ts_text(p, n, to == BR_T_TIMESTAMPTZ, &us);
			*v = br_value_i64(to, us);
		}
		if (!ok) {
			char m[200];
			snprintf(m, sizeof m, "invalid input syntax for type %s: \"%.*s\"",
				 to == BR_T_DATE ? "date" : to == BR_T_INTERVAL ? "interval"
				 : to == BR_T_TIMESTAMP ? "timestamp" : "timestamp with time zone", (int)BR_MIN(n, 100), p);
			return xerr(err, e, BR_EINVAL, m);
		}
		return 0;
	}
	if (to == BR_T_DATE && (v->type == BR_T_TIMESTAMP || v->type == BR_T_TIMESTAMPTZ)) {
		*v = br_value_i32(BR_T_DATE, (int32_t)floordiv(v->v.i64, US_PER_DAY));
		return 0;
	}
	if ((to == BR_T_TIMESTAMP || to == BR_T_TIMESTAMPTZ) && (v->type == BR_T_TIMESTAMP || v->type == BR_T_TIMESTAMPTZ ||
								 v->type == BR_T_DATE)) {
		int64_t us = v->type == BR_T_DATE ? (int64_t)v->v.i32 * US_PER_DAY : v->v.i64;
		*v = br_value_i64(to, us);
		return 0;
	}
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

/* esc: the escape character, -1 for none (ESCAPE ''). */
static bool like_match(const uint8_t *s, size_t sn, const uint8_t *p, size_t pn, bool ci, int esc_ch)
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
			if (esc_ch >= 0 && pc == esc_ch && pi + 1 < pn) {
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

/* ------------------------------------------------- date/time arithmetic */

static bool is_dt(br_type_id t)
{
	return t == BR_T_DATE || t == BR_T_TIMESTAMP || t == BR_T_TIMESTAMPTZ || t == BR_T_INTERVAL;
}

static int64_t i64of(const br_value *v)
{
	return v->type == BR_T_INT || v->type == BR_T_DATE ? v->v.i32 : v->type == BR_T_BOOLEAN ? v->v.b : v->v.i64;
}

static int iv_mul(const br_expr *e, br_eval *ev, br_interval iv, double f, br_value *out, br_err *err)
{
	if (!isfinite(f))
		return xerr(err, e, BR_EINVAL, "interval out of range");
	double m = iv.months * f, d = iv.days * f, u = (double)iv.us * f;
	if (fabs(m) > INT32_MAX || fabs(d) > INT32_MAX || fabs(u) > 9.2e18)
		return xerr(err, e, BR_EINVAL, "interval out of range");
	br_interval r = { 0 };
	if (!iv_add(&r, m, d, u))
		return xerr(err, e, BR_EINVAL, "interval out of range");
	*out = br_interval_value(ev->scratch, r);
	return 0;
}

static int dt_arith(const br_expr *e, br_eval *ev, const br_value *a, const br_value *b, br_value *out, br_err *err)
{
	br_type_id lt = e->args[0]->type, rt = e->args[1]->type;
	bool sub = e->kind == BR_X_SUB;
	if (e->kind == BR_X_MUL || e->kind == BR_X_DIV) {
		const br_value *iv = lt == BR_T_INTERVAL ? a : b, *n = lt == BR_T_INTERVAL ? b : a;
		double f = num(n);
		if (e->kind == BR_X_DIV) {
			if (f == 0)
				return xerr(err, e, BR_EINVAL, "division by zero");
			f = 1 / f;
		}
		return iv_mul(e, ev, br_interval_get(iv), f, out, err);
	}
	if (lt == BR_T_INTERVAL && rt == BR_T_INTERVAL) {
		br_interval x = br_interval_get(a), y = br_interval_get(b), r;
		int s = sub ? -1 : 1;
		int64_t m = (int64_t)x.months + s * (int64_t)y.months, d = (int64_t)x.days + s * (int64_t)y.days;
		if (m < INT32_MIN || m > INT32_MAX || d < INT32_MIN || d > INT32_MAX ||
		    (sub ? __builtin_sub_overflow(x.us, y.us, &r.us) : __builtin_add_overflow(x.us, y.us, &r.us)))
			return xerr(err, e, BR_EINVAL, "interval out of range");
		r.months = (int32_t)m;
		r.days = (int32_t)d;
		*out = br_interval_value(ev->scratch, r);
		return 0;
	}
	if (lt == BR_T_DATE && rt == BR_T_DATE) { /* date - date: days */
		*out = br_value_i64(BR_T_LONG, i64of(a) - i64of(b));
		return 0;
	}
	if ((lt == BR_T_DATE && rt == BR_T_LONG) || (lt == BR_T_LONG && rt == BR_T_DATE)) {
		int64_t d = lt == BR_T_DATE ? i64of(a) : i64of(b), n = lt == BR_T_DATE ? i64of(b) : i64of(a);
		int64_t r;
		if ((sub ? __builtin_sub_overflow(d, n, &r) : __builtin_add_overflow(d, n, &r)) ||
		    !ts_in_range(r < INT64_MAX / US_PER_DAY && r > INT64_MIN / US_PER_DAY ? r * US_PER_DAY : INT64_MAX))
			return xerr(err, e, BR_EINVAL, "date out of range");
		*out = br_value_i32(BR_T_DATE, (int32_t)r);
		return 0;
	}
	if (lt != BR_T_INTERVAL && rt != BR_T_INTERVAL) { /* timestamp - timestamp */
		int64_t x = lt == BR_T_DATE ? i64of(a) * US_PER_DAY : i64of(a);
		int64_t y = rt == BR_T_DATE ? i64of(b) * US_PER_DAY : i64of(b);
		br_interval r = { 0 };
		if (__builtin_sub_overflow(x, y, &r.us))
			return xerr(err, e, BR_EINVAL, "interval out of range");
		r.days = (int32_t)(r.us / US_PER_DAY); /* justify_hours, as PostgreSQL's timestamp_mi does */
		r.us %= US_PER_DAY;
		*out = br_interval_value(ev->scratch, r);
		return 0;
	}
	/* datetime +- interval */
	const br_value *t = lt == BR_T_INTERVAL ? b : a, *iv = lt == BR_T_INTERVAL ? a : b;
	br_type_id tt = lt == BR_T_INTERVAL ? rt : lt;
	int64_t ts = tt == BR_T_DATE ? i64of(t) * US_PER_DAY : i64of(t), r;
	if (!ts_add(ts, br_interval_get(iv), sub ? -1 : 1, &r))
		return xerr(err, e, BR_EINVAL, "timestamp out of range");
	*out = br_value_i64(e->type, r);
	return 0;
}

/* ------------------------------------------------------------ functions */

/* UTF-8 helpers: functions count characters, not bytes. */
static size_t u8_len(const uint8_t *p, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += (p[i] & 0xC0) != 0x80;
	return c;
}

/* Byte offset of character k (clamped to n). */
static size_t u8_off(const uint8_t *p, size_t n, size_t k)
{
	size_t i = 0;
	while (i < n && k) {
		i++;
		while (i < n && (p[i] & 0xC0) == 0x80)
			i++;
		k--;
	}
	return i;
}

static br_value mkstr(br_eval *ev, br_buf *b)
{
	return str_value(ev, b->len ? (const char *)b->p : "", b->len);
}

static const uint8_t *memfind(const uint8_t *h, size_t hn, const uint8_t *n, size_t nn)
{
	if (!nn)
		return h;
	for (size_t i = 0; i + nn <= hn; i++)
		if (h[i] == n[0] && !memcmp(h + i, n, nn))
			return h + i;
	return NULL;
}

#define MAX_STR (64u << 20) /* results bigger than this are refused, not built */

static int pad(const br_expr *e, br_eval *ev, const br_value *s, int64_t len, const br_value *fill, bool left,
	       br_value *out, br_err *err)
{
	if (len > (int64_t)MAX_STR)
		return xerr(err, e, BR_ELIMIT, "requested length too large");
	size_t have = u8_len(s->v.bytes.p, s->v.bytes.len);
	if (len <= 0) {
		*out = str_value(ev, "", 0);
		return 0;
	}
	if ((size_t)len <= have) {
		*out = str_value(ev, (const char *)s->v.bytes.p, u8_off(s->v.bytes.p, s->v.bytes.len, (size_t)len));
		return 0;
	}
	br_buf b = { 0 };
	size_t need = (size_t)len - have, fl = fill->v.bytes.len;
	if (!left)
		br_buf_put(&b, s->v.bytes.p, s->v.bytes.len);
	size_t fc = u8_len(fill->v.bytes.p, fl);
	for (size_t i = 0; fc && i < need; i++) {
		size_t k = i % fc, o = u8_off(fill->v.bytes.p, fl, k), o2 = u8_off(fill->v.bytes.p, fl, k + 1);
		br_buf_put(&b, fill->v.bytes.p + o, o2 - o);
	}
	if (left)
		br_buf_put(&b, s->v.bytes.p, s->v.bytes.len);
	*out = mkstr(ev, &b);
	br_buf_free(&b);
	return 0;
}

static bool in_set(uint8_t c, const br_value *set)
{
	return memchr(set->v.bytes.p, c, set->v.bytes.len) != NULL;
}

static double round_half_away(double y)
{
	/* Decimal literals are doubles in braid (PostgreSQL: numeric), so 2.675 * 100
	 * is 267.49999...: a value within rounding noise of .5 counts as .5. */
	double t = trunc(y), f = fabs(y - t);
	if (fabs(f - 0.5) < 1e-9 * fmax(1, fabs(y)))
		return t + copysign(1, y);
	return round(y);
}

static int eval_func(const br_expr *e, br_eval *ev, const br_value *row, br_value *out, br_err *err)
{
	br_value a[4] = { 0 };
	int n = e->nargs, rc;
	if (e->fn == BR_F_GREATEST || e->fn == BR_F_LEAST) {
		bool have = false;
		for (int i = 0; i < n; i++) {
			br_value x;
			if ((rc = br_expr_eval(e->args[i], ev, row, &x, err)))
				return rc;
			if (x.is_null)
				continue;
			if ((rc = cast_to(e, ev, &x, e->type, err)))
				return rc;
			int c = have ? br_val_cmp(&x, out) : 0;
			if (!have || (e->fn == BR_F_GREATEST ? c > 0 : c < 0))
				*out = x;
			have = true;
		}
		if (!have)
			*out = br_value_null(e->type);
		return 0;
	}
	if (e->fn == BR_F_CONCAT || e->fn == BR_F_CONCAT_WS) {
		br_buf b = { 0 };
		br_value sep = { 0 };
		int first = 0;
		if (e->fn == BR_F_CONCAT_WS) {
			if ((rc = br_expr_eval(e->args[0], ev, row, &sep, err)))
				return rc;
			if (sep.is_null) {
				*out = br_value_null(BR_T_STRING);
				return 0;
			}
			sep = to_text(ev, &sep);
			first = 1;
		}
		bool any = false;
		for (int i = first; i < n; i++) {
			br_value x;
			if ((rc = br_expr_eval(e->args[i], ev, row, &x, err))) {
				br_buf_free(&b);
				return rc;
			}
			if (x.is_null)
				continue;
			x = to_text(ev, &x);
			if (any && first)
				br_buf_put(&b, sep.v.bytes.p, sep.v.bytes.len);
			br_buf_put(&b, x.v.bytes.p, x.v.bytes.len);
			any = true;
		}
		*out = mkstr(ev, &b);
		br_buf_free(&b);
		return 0;
	}
	for (int i = 0; i < n && i < 4; i++) {
		if ((rc = br_expr_eval(e->args[i], ev, row, &a[i], err)))
			return rc;
		if (a[i].is_null) {
			*out = br_value_null(e->type);
			return 0;
		}
	}
	const uint8_t *sp = a[0].v.bytes.p;
	size_t sn = a[0].v.bytes.len;
	double x = num(&a[0]), r;
	br_buf b = { 0 };
	switch ((br_fn)e->fn) {
	case BR_F_ROUND: case BR_F_TRUNC: case BR_F_CEIL: case BR_F_FLOOR:
		if (e->type == BR_T_LONG) {
			*out = a[0];
			return cast_to(e, ev, out, BR_T_LONG, err);
		}
		r = e->fn == BR_F_ROUND ? round_half_away(x) : e->fn == BR_F_TRUNC ? trunc(x) : e->fn == BR_F_CEIL ? ceil(x) : floor(x);
		*out = br_value_f64(r == 0 ? 0 : r);
		return 0;
	case BR_F_ROUND2: case BR_F_TRUNC2: {
		int64_t k = i64of(&a[1]);
		if (k > 300 || k < -300 || !isfinite(x)) {
			*out = br_value_f64(x);
			return 0;
		}
		double p = pow(10, (double)llabs(k)), y = k >= 0 ? x * p : x / p;
		y = e->fn == BR_F_ROUND2 ? round_half_away(y) : trunc(y);
		r = k >= 0 ? y / p : y * p;
		*out = br_value_f64(r == 0 ? 0 : r);
		return 0;
	}
	case BR_F_POWER: {
		double y = num(&a[1]);
		if (x == 0 && y < 0)
			return xerr(err, e, BR_EINVAL, "zero raised to a negative power is undefined");
		if (x < 0 && y != floor(y))
			return xerr(err, e, BR_EINVAL, "a negative number raised to a non-integer power yields a complex result");
		r = pow(x, y);
		if (isinf(r) && isfinite(x) && isfinite(y))
			return xerr(err, e, BR_EINVAL, "value out of range: overflow");
		*out = br_value_f64(r);
		return 0;
	}
	case BR_F_SQRT:
		if (x < 0)
			return xerr(err, e, BR_EINVAL, "cannot take square root of a negative number");
		*out = br_value_f64(sqrt(x));
		return 0;
	case BR_F_LN: case BR_F_LOG10:
		if (x == 0)
			return xerr(err, e, BR_EINVAL, "cannot take logarithm of zero");
		if (x < 0)
			return xerr(err, e, BR_EINVAL, "cannot take logarithm of a negative number");
		*out = br_value_f64(e->fn == BR_F_LN ? log(x) : log10(x));
		return 0;
	case BR_F_EXP:
		r = exp(x);
		if (isinf(r) && isfinite(x))
			return xerr(err, e, BR_EINVAL, "value out of range: overflow");
		*out = br_value_f64(r);
		return 0;
	case BR_F_SIGN:
		if (e->type == BR_T_LONG)
			*out = br_value_i64(BR_T_LONG, (i64of(&a[0]) > 0) - (i64of(&a[0]) < 0));
		else
			*out = br_value_f64(isnan(x) ? x : (double)((x > 0) - (x < 0)));
		return 0;
	case BR_F_SUBSTR: {
		/* characters [from, from + count) with from 1-based and possibly < 1 */
		int64_t from = i64of(&a[1]), cnt = n > 2 ? i64of(&a[2]) : INT64_MAX;
		if (cnt < 0)
			return xerr(err, e, BR_EINVAL, "negative substring length not allowed");
		int64_t end = from > 0 && cnt > INT64_MAX - from ? INT64_MAX : from + cnt; /* exclusive, 1-based */
		if (from < 1)
			from = 1;
		if (end <= from) {
			*out = str_value(ev, "", 0);
			return 0;
		}
		size_t o1 = u8_off(sp, sn, (size_t)(from - 1));
		size_t o2 = end == INT64_MAX ? sn : u8_off(sp, sn, (size_t)(end - 1));
		*out = str_value(ev, (const char *)sp + o1, o2 > o1 ? o2 - o1 : 0);
		return 0;
	}
	case BR_F_POSITION: case BR_F_STRPOS: {
		const uint8_t *f = memfind(sp, sn, a[1].v.bytes.p, a[1].v.bytes.len);
		*out = br_value_i64(BR_T_LONG, f ? (int64_t)u8_len(sp, (size_t)(f - sp)) + 1 : 0);
		return 0;
	}
	case BR_F_STARTS_WITH:
		*out = (br_value){ .type = BR_T_BOOLEAN };
		out->v.b = a[1].v.bytes.len <= sn && !memcmp(sp, a[1].v.bytes.p, a[1].v.bytes.len);
		return 0;
	case BR_F_REPLACE: {
		const uint8_t *from = a[1].v.bytes.p;
		size_t fn = a[1].v.bytes.len;
		if (!fn) {
			*out = a[0];
			return 0;
		}
		size_t i = 0;
		while (i < sn) {
			const uint8_t *f = memfind(sp + i, sn - i, from, fn);
			if (!f) {
				br_buf_put(&b, sp + i, sn - i);
				break;
			}
			br_buf_put(&b, sp + i, (size_t)(f - (sp + i)));
			br_buf_put(&b, a[2].v.bytes.p, a[2].v.bytes.len);
			if (b.len > MAX_STR) {
				br_buf_free(&b);
				return xerr(err, e, BR_ELIMIT, "replace: result too large");
			}
			i = (size_t)(f - sp) + fn;
		}
		break;
	}
	case BR_F_BTRIM: case BR_F_LTRIM: case BR_F_RTRIM: {
		br_value set = n > 1 ? a[1] : str_value(ev, " ", 1);
		size_t lo = 0, hi = sn;
		if (e->fn != BR_F_RTRIM)
			while (lo < hi && in_set(sp[lo], &set))
				lo++;
		if (e->fn != BR_F_LTRIM)
			while (hi > lo && in_set(sp[hi - 1], &set))
				hi--;
		*out = str_value(ev, (const char *)sp + lo, hi - lo);
		return 0;
	}
	case BR_F_LPAD: case BR_F_RPAD: {
		br_value fill = n > 2 ? a[2] : str_value(ev, " ", 1);
		return pad(e, ev, &a[0], i64of(&a[1]), &fill, e->fn == BR_F_LPAD, out, err);
	}
	case BR_F_SPLIT_PART: {
		int64_t k = i64of(&a[2]);
		if (k == 0)
			return xerr(err, e, BR_EINVAL, "field position must not be zero");
		const uint8_t *d = a[1].v.bytes.p;
		size_t dn = a[1].v.bytes.len;
		/* the fields, left to right */
		size_t nfields = 0, i = 0;
		size_t *fs = br_arena_alloc(ev->scratch, sizeof(size_t) * 2 * (sn + 2));
		if (!dn) {
			fs[0] = 0;
			fs[1] = sn;
			nfields = 1;
		} else {
			for (;;) {
				const uint8_t *f = memfind(sp + i, sn - i, d, dn);
				fs[2 * nfields] = i;
				fs[2 * nfields + 1] = f ? (size_t)(f - sp) : sn;
				nfields++;
				if (!f)
					break;
				i = (size_t)(f - sp) + dn;
			}
		}
		int64_t idx = k > 0 ? k - 1 : (int64_t)nfields + k;
		if (idx < 0 || idx >= (int64_t)nfields)
			*out = str_value(ev, "", 0);
		else
			*out = str_value(ev, (const char *)sp + fs[2 * idx], fs[2 * idx + 1] - fs[2 * idx]);
		return 0;
	}
	case BR_F_LEFT: case BR_F_RIGHT: {
		int64_t k = i64of(&a[1]);
		size_t len = u8_len(sp, sn);
		size_t keep = k >= 0 ? (size_t)BR_MIN((uint64_t)k, len) : (uint64_t)(-k) >= len ? 0 : len - (size_t)(-k);
		if (e->fn == BR_F_LEFT)
			*out = str_value(ev, (const char *)sp, u8_off(sp, sn, keep));
		else {
			size_t o = u8_off(sp, sn, len - keep);
			*out = str_value(ev, (const char *)sp + o, sn - o);
		}
		return 0;
	}
	case BR_F_REVERSE: {
		char *p = br_arena_alloc(ev->scratch, sn + 1);
		size_t w = sn;
		for (size_t i = 0; i < sn;) {
			size_t j = i + 1;
			while (j < sn && (sp[j] & 0xC0) == 0x80)
				j++;
			w -= j - i;
			memcpy(p + w, sp + i, j - i);
			i = j;
		}
		*out = br_value_bytes(BR_T_STRING, p, sn);
		return 0;
	}
	case BR_F_REPEAT: {
		int64_t k = i64of(&a[1]);
		if (k > 0 && sn && (k > (int64_t)MAX_STR || (uint64_t)k * sn > MAX_STR))
			return xerr(err, e, BR_ELIMIT, "requested length too large");
		for (int64_t i = 0; i < k; i++)
			br_buf_put(&b, sp, sn);
		break;
	}
	case BR_F_INITCAP: {
		char *p = br_arena_alloc(ev->scratch, sn + 1);
		bool start = true;
		for (size_t i = 0; i < sn; i++) {
			uint8_t c = sp[i];
			bool alnum = isalnum(c) || c >= 0x80;
			p[i] = (char)(start ? toupper(c) : tolower(c));
			start = !alnum;
		}
		*out = br_value_bytes(BR_T_STRING, p, sn);
		return 0;
	}
	case BR_F_OCTET_LENGTH:
		*out = br_value_i64(BR_T_LONG, (int64_t)sn);
		return 0;
	case BR_F_LIKE_ESC: case BR_F_ILIKE_ESC: {
		if (a[2].v.bytes.len > 1)
			return xerr(err, e, BR_EINVAL, "invalid escape string");
		int esc = a[2].v.bytes.len ? a[2].v.bytes.p[0] : -1;
		*out = (br_value){ .type = BR_T_BOOLEAN };
		out->v.b = like_match(sp, sn, a[1].v.bytes.p, a[1].v.bytes.len, e->fn == BR_F_ILIKE_ESC, esc);
		return 0;
	}
	case BR_F_EXTRACT: {
		double f;
		if ((rc = extract_field(e, &a[0], &a[1], e->args[1]->type, &f, err)))
			return rc;
		*out = br_value_f64(f);
		return 0;
	}
	case BR_F_DATE_TRUNC: {
		int64_t t = 0;
		if ((rc = trunc_ts(e, &a[0], i64of(&a[1]), &t, err)))
			return rc;
		*out = br_value_i64(e->type, t);
		return 0;
	}
	case BR_F_TO_TIMESTAMP: {
		double us = x * 1e6;
		if (!isfinite(us) || fabs(us) > 9e18 || !ts_in_range((int64_t)llround(us)))
			return xerr(err, e, BR_EINVAL, "timestamp out of range");
		*out = br_value_i64(BR_T_TIMESTAMPTZ, (int64_t)llround(us));
		return 0;
	}
	case BR_F_MAKE_DATE: {
		int64_t y = i64of(&a[0]), m = i64of(&a[1]), d = i64of(&a[2]);
		if (y < 0)
			y++; /* year -1 is 1 BC */
		if (y == 0 || m < 1 || m > 12 || d < 1 || y < MIN_YEAR || y > MAX_YEAR || d > mdays(y, (int)m)) {
			char msg[120];
			snprintf(msg, sizeof msg, "date field value out of range: %" PRId64 "-%02" PRId64 "-%02" PRId64, i64of(&a[0]),
				 m, d);
			return xerr(err, e, BR_EINVAL, msg);
		}
		*out = br_value_i32(BR_T_DATE, (int32_t)br_days_from_civil(y, (int)m, (int)d));
		return 0;
	}
	default:
		return xerr(err, e, BR_EUNSUPPORTED, "unsupported: function");
	}
	*out = mkstr(ev, &b);
	br_buf_free(&b);
	return 0;
}

static int arith(const br_expr *e, br_eval *ev, const br_value *a, const br_value *b, br_value *out, br_err *err)
{
	if (a->is_null || b->is_null) {
		*out = br_value_null(e->type);
		return 0;
	}
	if (is_dt(e->args[0]->type) || is_dt(e->args[1]->type))
		return dt_arith(e, ev, a, b, out, err);
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
		} else if (e->type == BR_T_INTERVAL) {
			br_interval iv = br_interval_get(&a);
			if (iv.months == INT32_MIN || iv.days == INT32_MIN || iv.us == INT64_MIN)
				return xerr(err, e, BR_EINVAL, "interval out of range");
			iv.months = -iv.months;
			iv.days = -iv.days;
			iv.us = -iv.us;
			*out = br_interval_value(ev->scratch, iv);
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
		return arith(e, ev, &a, &b, out, err);
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
		set_bool(out, like_match(a.v.bytes.p, a.v.bytes.len, b.v.bytes.p, b.v.bytes.len, e->kind == BR_X_ILIKE, '\\'));
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
	case BR_X_FUNC:
		return eval_func(e, ev, row, out, err);
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
