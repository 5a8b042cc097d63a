/* time.c — event time for flow: interval text, source time options, the
 * per-partition watermark tracker (lateness, idleness, forged timestamps) and
 * the window operators (assignment, sessions, windowed aggregate and top-N
 * with emit modes, interval and window joins). Semantics and the determinism
 * argument are in time.h. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/util.h"
#include "flow/time.h"

/* State accounting (EXPLAIN ANALYZE, memory limits): at the end of the file. */
static void sess_stats(const br_op *op, br_op_stats *out);
static void wagg_stats(const br_op *op, br_op_stats *out);
static void ij_stats(const br_op *op, br_op_stats *out);

/* ------------------------------------------------------------ intervals */

static int64_t unit_us(const char *u, size_t n)
{
	static const struct { const char *name; int64_t us; } units[] = {
		{ "us", 1 }, { "usec", 1 }, { "usecs", 1 }, { "microsecond", 1 }, { "microseconds", 1 },
		{ "ms", 1000 }, { "msec", 1000 }, { "msecs", 1000 }, { "millisecond", 1000 }, { "milliseconds", 1000 },
		{ "s", 1000000 }, { "sec", 1000000 }, { "secs", 1000000 }, { "second", 1000000 }, { "seconds", 1000000 },
		{ "m", 60000000 }, { "min", 60000000 }, { "mins", 60000000 }, { "minute", 60000000 },
		{ "minutes", 60000000 },
		{ "h", 3600000000LL }, { "hour", 3600000000LL }, { "hours", 3600000000LL },
		{ "d", 86400000000LL }, { "day", 86400000000LL }, { "days", 86400000000LL },
		{ "w", 604800000000LL }, { "week", 604800000000LL }, { "weeks", 604800000000LL },
	};
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (strlen(units[i].name) == n && !strncasecmp(units[i].name, u, n))
			return units[i].us;
	return -1;
}

/* "HH:MM:SS[.frac]" or "MM:SS". */
static int parse_clock(const char *s, int64_t *us)
{
	double parts[3];
	int n = 0;
	const char *p = s;
	while (n < 3) {
		char *end;
		errno = 0;
		parts[n++] = strtod(p, &end);
		if (errno || end == p || parts[n - 1] < 0)
			return -1;
		p = end;
		if (*p != ':')
			break;
		p++;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p || n < 2)
		return -1;
	double sec = n == 3 ? parts[0] * 3600 + parts[1] * 60 + parts[2] : parts[0] * 60 + parts[1];
	if (sec * 1e6 > 9.2e18)
		return -1;
	*us = (int64_t)llround(sec * 1e6);
	return 0;
}

int br_time_parse_interval(const char *s, int64_t *us, br_err *err)
{
	if (!s)
		return br_errf(err, BR_EINVAL, "missing interval");
	if (strchr(s, ':') && !parse_clock(s, us))
		return 0;
	const char *p = s;
	double total = 0;
	int nparts = 0;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (errno || end == p || !isfinite(v))
			return br_errf(err, BR_EINVAL, "invalid interval \"%s\": expected a number at \"%s\"", s, p);
		if (v < 0)
			return br_errf(err, BR_EINVAL, "invalid interval \"%s\": negative", s);
		p = end;
		while (isspace((unsigned char)*p))
			p++;
		const char *u = p;
		while (isalpha((unsigned char)*p))
			p++;
		if (p == u)
			return br_errf(err, BR_EINVAL, "invalid interval \"%s\": a unit is required (e.g. '5 seconds')", s);
		int64_t m = unit_us(u, (size_t)(p - u));
		if (m < 0)
			return br_errf(err, BR_EINVAL, "invalid interval \"%s\": unknown unit \"%.*s\"", s, (int)(p - u), u);
		total += v * (double)m;
		nparts++;
		while (isspace((unsigned char)*p) || *p == ',')
			p++;
	}
	if (!nparts)
		return br_errf(err, BR_EINVAL, "invalid interval \"%s\"", s);
	if (total > 9.2e18)
		return br_errf(err, BR_EINVAL, "invalid interval \"%s\": too large", s);
	*us = (int64_t)llround(total);
	return 0;
}

/* --------------------------------------------------------- source options */

void br_time_opts_default(br_time_opts *o)
{
	memset(o, 0, sizeof *o);
	o->lateness = BR_LATE_DROP;
	o->max_future_skew = -1;
}

int br_time_parse_option(br_time_opts *o, const char *key, const char *val, br_err *err)
{
	int64_t *iv = !strcmp(key, "watermark_delay") ? &o->watermark_delay
		: !strcmp(key, "allowed_lateness") ? &o->allowed_lateness
		: !strcmp(key, "idle_timeout") ? &o->idle_timeout
		: !strcmp(key, "max_future_skew") ? &o->max_future_skew : NULL;
	if (!val)
		return br_errf(err, BR_EINVAL, "option %s needs a value", key);
	if (iv) {
		int rc = br_time_parse_interval(val, iv, err);
		return rc ? br_errctx(err, "option %s", key) : 0;
	}
	if (!strcmp(key, "event_time")) {
		size_t n = strlen(val);
		if (!n || n >= sizeof o->event_time)
			return br_errf(err, BR_EINVAL, "option event_time: bad column name \"%s\"", val);
		memcpy(o->event_time, val, n + 1);
		return 0;
	}
	if (!strcmp(key, "lateness")) {
		if (!strcasecmp(val, "drop"))
			o->lateness = BR_LATE_DROP;
		else if (!strcasecmp(val, "update"))
			o->lateness = BR_LATE_UPDATE;
		else if (!strcasecmp(val, "dead_letter"))
			o->lateness = BR_LATE_DEAD_LETTER;
		else
			return br_errf(err, BR_EINVAL, "option lateness: \"%s\" is not drop, update or dead_letter", val);
		return 0;
	}
	return br_errf(err, BR_ENOTFOUND, "\"%s\" is not a time option", key);
}

int br_time_parse_options(br_time_opts *o, int n, const char *const *keys, const char *const *vals, br_err *err)
{
	for (int i = 0; i < n; i++) {
		int rc = br_time_parse_option(o, keys[i], vals[i], err);
		if (rc == BR_ENOTFOUND)
			return br_errf(err, BR_EINVAL, "unknown option \"%s\"", keys[i]);
		if (rc)
			return rc;
	}
	if (!o->event_time[0] && (o->watermark_delay || o->allowed_lateness || o->idle_timeout))
		return br_errf(err, BR_EINVAL, "time options need event_time = 'column'");
	if (o->allowed_lateness && o->lateness != BR_LATE_UPDATE)
		return br_errf(err, BR_EINVAL, "allowed_lateness needs lateness = 'update'");
	return 0;
}

static void fmt_us(br_buf *out, int64_t us)
{
	if (us % 1000000 == 0)
		br_buf_printf(out, "%" PRId64 "s", us / 1000000);
	else if (us % 1000 == 0)
		br_buf_printf(out, "%" PRId64 "ms", us / 1000);
	else
		br_buf_printf(out, "%" PRId64 "us", us);
}

void br_time_opts_format(const br_time_opts *o, br_buf *out)
{
	static const char *late[] = { "drop", "update", "dead_letter" };
	br_buf_printf(out, "event_time=%s, watermark_delay=", o->event_time[0] ? o->event_time : "(none)");
	fmt_us(out, o->watermark_delay);
	br_buf_printf(out, ", lateness=%s, allowed_lateness=", late[o->lateness]);
	fmt_us(out, o->allowed_lateness);
	br_buf_printf(out, ", idle_timeout=");
	if (o->idle_timeout)
		fmt_us(out, o->idle_timeout);
	else
		br_buf_printf(out, "never");
	br_buf_printf(out, ", max_future_skew=");
	if (o->max_future_skew >= 0)
		fmt_us(out, o->max_future_skew);
	else
		br_buf_printf(out, "unlimited");
}

/* ------------------------------------------------------ watermark tracker */

static int64_t sat_sub(int64_t a, int64_t b) /* a - b, b >= 0, saturating at BR_TIME_NONE + 1 */
{
	if (a == BR_TIME_NONE)
		return BR_TIME_NONE;
	return a < INT64_MIN + 1 + b ? INT64_MIN + 1 : a - b;
}

static int64_t sat_add(int64_t a, int64_t b) /* saturating a + b */
{
	if (b >= 0)
		return a > INT64_MAX - b ? INT64_MAX : a + b;
	return a < INT64_MIN - b ? INT64_MIN : a + b;
}

void br_wm_init(br_wm_tracker *t, const br_time_opts *o, int nparts)
{
	memset(t, 0, sizeof *t);
	t->opts = *o;
	t->first_append = t->max_append = BR_TIME_NONE;
	t->global = BR_TIME_NONE;
	br_wm_set_partitions(t, nparts);
}

void br_wm_free(br_wm_tracker *t)
{
	free(t->parts);
	t->parts = NULL;
	t->nparts = 0;
}

void br_wm_set_partitions(br_wm_tracker *t, int nparts)
{
	if (nparts <= t->nparts)
		return;
	t->parts = br_xrealloc(t->parts, sizeof *t->parts * (size_t)nparts);
	for (int p = t->nparts; p < nparts; p++)
		t->parts[p] = (br_wm_part){ .max_event = BR_TIME_NONE, .last_append = BR_TIME_NONE };
	t->nparts = nparts;
}

int64_t br_wm_partition(const br_wm_tracker *t, int p)
{
	if (p < 0 || p >= t->nparts)
		return BR_TIME_NONE;
	return sat_sub(t->parts[p].max_event, t->opts.watermark_delay);
}

int br_wm_observe(br_wm_tracker *t, int p, bool null_time, int64_t ev, int64_t append, const char **reason)
{
	static const char *r_null = "event time is NULL", *r_late = "late: event time below the partition's watermark",
			  *r_forged = "quarantined: event time beyond broker append time + max_future_skew";
	if (p >= t->nparts)
		br_wm_set_partitions(t, p + 1);
	br_wm_part *pp = &t->parts[p];
	if (append != BR_TIME_NONE) {
		pp->last_append = append > pp->last_append ? append : pp->last_append;
		if (t->first_append == BR_TIME_NONE || append < t->first_append)
			t->first_append = append;
		if (append > t->max_append)
			t->max_append = append;
	}
	if (reason)
		*reason = NULL;
	if (null_time) {
		pp->late++;
		if (reason)
			*reason = r_null;
		return BR_TIME_LATE;
	}
	if (t->opts.max_future_skew >= 0 && append != BR_TIME_NONE && ev > sat_add(append, t->opts.max_future_skew)) {
		pp->quarantined++;
		if (reason)
			*reason = r_forged;
		return BR_TIME_QUARANTINED;
	}
	int64_t wm = br_wm_partition(t, p);
	if (wm != BR_TIME_NONE && ev < wm) {
		if (t->opts.lateness == BR_LATE_UPDATE && ev >= sat_sub(wm, t->opts.allowed_lateness)) {
			pp->late_applied++;
			return BR_TIME_LATE_UPDATE;
		}
		pp->late++;
		if (reason)
			*reason = r_late;
		return BR_TIME_LATE;
	}
	if (pp->max_event == BR_TIME_NONE || ev > pp->max_event)
		pp->max_event = ev;
	pp->on_time++;
	return BR_TIME_ON_TIME;
}

bool br_wm_idle(const br_wm_tracker *t, int p)
{
	if (!t->opts.idle_timeout || t->max_append == BR_TIME_NONE)
		return false;
	int64_t last = t->parts[p].last_append != BR_TIME_NONE ? t->parts[p].last_append : t->first_append;
	return t->max_append - last > t->opts.idle_timeout;
}

int64_t br_wm_global(br_wm_tracker *t)
{
	int64_t g = INT64_MAX;
	int active = 0;
	for (int p = 0; p < t->nparts; p++) {
		if (br_wm_idle(t, p))
			continue;
		active++;
		int64_t w = br_wm_partition(t, p);
		if (w < g)
			g = w;
	}
	/* Every partition idle cannot happen (the one with the latest append is
	 * never idle) unless there are none; then nothing moves. */
	if (!active)
		return t->global;
	if (g != BR_TIME_NONE && (t->global == BR_TIME_NONE || g > t->global))
		t->global = g;
	return t->global;
}

/* Input types plus two columns of the time column's type. */
static br_type_id *types_plus_window(const br_op *in, int tcol)
{
	int n = br_op_ncols(in);
	br_type_id *t = br_xcalloc((size_t)n + 2, sizeof *t);
	for (int i = 0; i < n; i++)
		t[i] = br_op_col_type(in, i);
	t[n] = t[n + 1] = br_op_col_type(in, tcol);
	return t;
}

static int64_t floor_div(int64_t a, int64_t b) /* b > 0 */
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

int br_time_circuit_watermark(br_circuit *c, int64_t wm, br_err *err)
{
	for (int i = 0; i < c->nops; i++) {
		br_op *op = c->ops[i];
		if (op->vt->watermark) {
			int rc = op->vt->watermark(op, wm, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------ window assignment */

typedef struct {
	int kind, tcol;
	int64_t size, slide, offset;
} assign_st;

static int assign_step(br_op *op, br_circuit *c, br_err *err)
{
	assign_st *st = op->st;
	const br_batch *in = &op->in[0]->out;
	int n = in->ncols;
	br_value *row = br_circuit_row_buf(c, n + 2);
	br_type_id tt = br_op_col_type(op->in[0], st->tcol);
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		if (row[st->tcol].is_null)
			continue;
		int64_t t = row[st->tcol].v.i64, w = br_batch_weight(in, i);
		int64_t step = st->kind == BR_WIN_TUMBLE ? st->size : st->slide;
		if (t < INT64_MIN + 2 * st->size || t > INT64_MAX - 2 * st->size)
			continue; /* no window around t is representable */
		int64_t last = floor_div(t - st->offset, step) * step + st->offset;
		/* Windows [s, s + size) containing t, latest start first. */
		for (int64_t s = last; s > t - st->size; s -= step) {
			row[n] = br_value_i64(tt, s);
			row[n + 1] = br_value_i64(tt, s + st->size);
			br_batch_append_row(&op->out, row, w);
			if (st->kind == BR_WIN_TUMBLE)
				break;
		}
	}
	return 0;
}

static void assign_explain(const br_op *op, br_buf *out)
{
	const assign_st *st = op->st;
	if (st->kind == BR_WIN_TUMBLE)
		br_buf_printf(out, "tumble col=%d size=%" PRId64 "us", st->tcol, st->size);
	else
		br_buf_printf(out, "hop col=%d slide=%" PRId64 "us size=%" PRId64 "us", st->tcol, st->slide, st->size);
}

static void plain_free(br_op *op) { free(op->st); }
static const br_op_vt assign_vt = { "window", assign_step, NULL, NULL, NULL, plain_free, assign_explain };

br_op *br_op_window_assign(br_circuit *c, br_op *in, int kind, int tcol, int64_t size, int64_t slide, int64_t offset)
{
	br_type_id *t = types_plus_window(in, tcol);
	br_op *op = br_op_new(c, &assign_vt, br_op_ncols(in) + 2, t);
	free(t);
	assign_st *st = br_xcalloc(1, sizeof *st);
	/* Sizes beyond a quarter of the range would overflow window bounds. */
	size = size > 0 ? (size < INT64_MAX / 4 ? size : INT64_MAX / 4) : 1;
	slide = kind == BR_WIN_TUMBLE ? size : slide > 0 ? (slide < size ? slide : size) : size;
	/* Windows repeat every step: only offset mod step matters (and keeps t - offset in range). */
	offset = ((offset % slide) + slide) % slide;
	*st = (assign_st){ kind, tcol, size, slide, offset };
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

/* --------------------------------------------------------------- sessions
 *
 * State: key (encoded key columns) -> skey, holding the key's live rows sorted
 * by (time, encoded row) — a total order, so session bounds and the order of
 * emitted rows never depend on arrival order. A step gathers the delta rows of
 * each touched key, computes the key's sessions before and after applying
 * them, and emits, per row, the difference: rows whose session bounds did not
 * change and whose weight did not change emit nothing. */

typedef struct srow {
	int64_t t, w;
	uint8_t *row;        /* encoded full input row, malloc'd, owned by the skey */
	uint32_t len;
} srow;

typedef struct skey {
	srow *rows;
	size_t n, cap;
	int64_t step;        /* last step that touched it */
	srow *delta;         /* this step's delta rows (row bytes borrowed from scratch) */
	size_t nd, capd;
} skey;

typedef struct {
	int tcol, nkeys, *keys;
	int64_t gap, lateness;
	br_map keys_map;     /* encoded key -> skey* */
	br_buf kbuf, rbuf;
	int64_t step, wm, pending_wm, nrows;
	int64_t next_close;  /* no session can close below this watermark */
	skey **touched;
	size_t ntouched, captouched;
} sess_st;

static int srow_cmp(const void *a, const void *b)
{
	const srow *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->row, y->row, n);
	return r ? r : (x->len < y->len ? -1 : x->len > y->len);
}

/* Session bounds of each row in rows (sorted): end = last + gap, a row joins
 * the current session when its time is before the session's end. */
static void sessions_of(const srow *rows, size_t n, int64_t gap, int64_t *start, int64_t *end)
{
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		int64_t e = sat_add(rows[i].t, gap);
		while (j + 1 < n && rows[j + 1].t < e) {
			j++;
			int64_t e2 = sat_add(rows[j].t, gap);
			e = e2 > e ? e2 : e;
		}
		for (size_t k = i; k <= j; k++) {
			start[k] = rows[i].t;
			end[k] = e;
		}
		i = j + 1;
	}
}

static int emit_srow(br_op *op, br_circuit *c, const srow *r, int64_t s, int64_t e, int64_t w, br_err *err)
{
	int n = br_op_ncols(op->in[0]);
	br_value *row = br_circuit_row_buf(c, n + 2);
	int rc = br_row_decode(r->row, r->len, row, n, err);
	if (rc)
		return rc;
	br_type_id tt = br_op_col_type(op, n);
	row[n] = br_value_i64(tt, s);
	row[n + 1] = br_value_i64(tt, e);
	br_batch_append_row(&op->out, row, w);
	return 0;
}

static int sess_key_step(br_op *op, br_circuit *c, skey *k, br_err *err)
{
	sess_st *st = op->st;
	size_t n0 = k->n;
	int64_t *s0 = br_arena_alloc(&c->scratch, sizeof(int64_t) * (n0 + 1));
	int64_t *e0 = br_arena_alloc(&c->scratch, sizeof(int64_t) * (n0 + 1));
	srow *old = br_arena_alloc(&c->scratch, sizeof(srow) * (n0 + 1));
	if (n0)
		memcpy(old, k->rows, sizeof(srow) * n0);
	sessions_of(old, n0, st->gap, s0, e0);
	/* Apply the delta: merge weights into the sorted rows. */
	qsort(k->delta, k->nd, sizeof *k->delta, srow_cmp);
	for (size_t d = 0; d < k->nd; d++) {
		srow *x = &k->delta[d];
		size_t lo = 0, hi = k->n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (srow_cmp(&k->rows[mid], x) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < k->n && !srow_cmp(&k->rows[lo], x)) {
			k->rows[lo].w += x->w;
			continue;
		}
		if (k->n == k->cap) {
			k->cap = k->cap ? k->cap * 2 : 8;
			k->rows = br_xrealloc(k->rows, sizeof *k->rows * k->cap);
		}
		memmove(&k->rows[lo + 1], &k->rows[lo], sizeof *k->rows * (k->n - lo));
		uint8_t *copy = br_xmalloc(x->len ? x->len : 1);
		memcpy(copy, x->row, x->len);
		k->rows[lo] = (srow){ x->t, x->w, copy, x->len };
		k->n++;
		st->nrows++;
	}
	k->nd = 0;
	/* Zero-weight rows leave the key (their bytes stay valid in old[] until
	 * the end of this function: freed below). */
	uint8_t **dead = br_arena_alloc(&c->scratch, sizeof(uint8_t *) * (k->n + 1));
	size_t ndead = 0, m = 0;
	for (size_t i = 0; i < k->n; i++) {
		if (k->rows[i].w == 0) {
			dead[ndead++] = k->rows[i].row;
			continue;
		}
		k->rows[m++] = k->rows[i];
	}
	k->n = m;
	st->nrows -= (int64_t)ndead;
	int64_t *s1 = br_arena_alloc(&c->scratch, sizeof(int64_t) * (m + 1));
	int64_t *e1 = br_arena_alloc(&c->scratch, sizeof(int64_t) * (m + 1));
	sessions_of(k->rows, m, st->gap, s1, e1);
	/* Merge old and new (both sorted) and emit the differences. */
	size_t i = 0, j = 0;
	int rc = 0;
	while (!rc && (i < n0 || j < m)) {
		int cmp = i >= n0 ? 1 : j >= m ? -1 : srow_cmp(&old[i], &k->rows[j]);
		if (cmp < 0) {
			rc = emit_srow(op, c, &old[i], s0[i], e0[i], -old[i].w, err);
			i++;
		} else if (cmp > 0) {
			rc = emit_srow(op, c, &k->rows[j], s1[j], e1[j], k->rows[j].w, err);
			j++;
		} else {
			if (s0[i] == s1[j] && e0[i] == e1[j]) {
				if (old[i].w != k->rows[j].w)
					rc = emit_srow(op, c, &k->rows[j], s1[j], e1[j], k->rows[j].w - old[i].w, err);
			} else {
				rc = emit_srow(op, c, &old[i], s0[i], e0[i], -old[i].w, err);
				if (!rc)
					rc = emit_srow(op, c, &k->rows[j], s1[j], e1[j], k->rows[j].w, err);
			}
			i++;
			j++;
		}
	}
	for (size_t d = 0; d < ndead; d++)
		free(dead[d]);
	return rc;
}

/* Releases sessions that are final: end + allowed_lateness <= watermark.
 * Skipped while the watermark is below the earliest first-session end of any
 * key (next_close); otherwise one pass over the keys (O(keys) per step that
 * closes something), deleting keys left without rows. */
static void sess_release(sess_st *st)
{
	if (st->wm < st->next_close)
		return;
	int64_t next = INT64_MAX;
	br_buf empty = { 0 }; /* u32 length + bytes of each emptied key */
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&st->keys_map, &i, &slot);) {
		skey *k = slot->val;
		size_t cut = 0;
		while (cut < k->n) { /* session starting at row cut: [rows[cut].t, e) */
			size_t j = cut;
			int64_t e = sat_add(k->rows[cut].t, st->gap);
			while (j + 1 < k->n && k->rows[j + 1].t < e) {
				j++;
				int64_t e2 = sat_add(k->rows[j].t, st->gap);
				e = e2 > e ? e2 : e;
			}
			if (sat_add(e, st->lateness) > st->wm) {
				next = sat_add(e, st->lateness) < next ? sat_add(e, st->lateness) : next;
				break;
			}
			cut = j + 1;
		}
		for (size_t r = 0; r < cut; r++)
			free(k->rows[r].row);
		memmove(k->rows, k->rows + cut, sizeof *k->rows * (k->n - cut));
		k->n -= cut;
		st->nrows -= (int64_t)cut;
		if (!k->n) {
			uint32_t l = (uint32_t)slot->klen;
			br_buf_put(&empty, &l, 4);
			br_buf_put(&empty, slot->key, l);
		}
	}
	/* Deleting while iterating could skip slots: delete afterwards. */
	for (size_t off = 0; off < empty.len;) {
		uint32_t l;
		memcpy(&l, empty.p + off, 4);
		skey *k = br_map_del(&st->keys_map, empty.p + off + 4, l);
		off += 4 + l;
		if (k) {
			free(k->rows);
			free(k->delta);
			free(k);
		}
	}
	br_buf_free(&empty);
	st->next_close = next;
}

static int sess_step(br_op *op, br_circuit *c, br_err *err)
{
	sess_st *st = op->st;
	const br_batch *in = &op->in[0]->out;
	br_value *row = br_circuit_row_buf(c, in->ncols), *kv = br_circuit_row_buf(c, st->nkeys);
	st->step++;
	st->ntouched = 0;
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		if (row[st->tcol].is_null)
			continue;
		for (int k = 0; k < st->nkeys; k++)
			kv[k] = row[st->keys[k]];
		br_buf_reset(&st->kbuf);
		br_row_encode(&st->kbuf, kv, st->nkeys);
		skey *k = br_map_get(&st->keys_map, st->kbuf.p, st->kbuf.len);
		if (!k) {
			k = br_xcalloc(1, sizeof *k);
			k->step = -1;
			br_map_put(&st->keys_map, st->kbuf.p, st->kbuf.len, k);
		}
		if (k->step != st->step) {
			k->step = st->step;
			if (st->ntouched == st->captouched) {
				st->captouched = st->captouched ? st->captouched * 2 : 16;
				st->touched = br_xrealloc(st->touched, sizeof *st->touched * st->captouched);
			}
			st->touched[st->ntouched++] = k;
		}
		br_buf_reset(&st->rbuf);
		br_row_encode(&st->rbuf, row, in->ncols);
		uint8_t *bytes = br_arena_alloc(&c->scratch, st->rbuf.len ? st->rbuf.len : 1);
		memcpy(bytes, st->rbuf.p, st->rbuf.len);
		if (k->nd == k->capd) {
			k->capd = k->capd ? k->capd * 2 : 8;
			k->delta = br_xrealloc(k->delta, sizeof *k->delta * k->capd);
		}
		k->delta[k->nd++] = (srow){ row[st->tcol].v.i64, br_batch_weight(in, i), bytes, (uint32_t)st->rbuf.len };
	}
	for (size_t t = 0; t < st->ntouched; t++) {
		skey *k = st->touched[t];
		int rc = sess_key_step(op, c, k, err);
		if (rc)
			return rc;
		if (k->n) { /* its first session's end bounds when it can first close */
			int64_t e = sat_add(k->rows[0].t, st->gap);
			for (size_t j = 1; j < k->n && k->rows[j].t < e; j++)
				e = sat_add(k->rows[j].t, st->gap) > e ? sat_add(k->rows[j].t, st->gap) : e;
			e = sat_add(e, st->lateness);
			st->next_close = e < st->next_close ? e : st->next_close;
		}
	}
	if (st->pending_wm != BR_TIME_NONE && st->pending_wm > st->wm) {
		st->wm = st->pending_wm;
		sess_release(st);
	}
	return 0;
}

static int sess_watermark(br_op *op, int64_t wm, br_err *err)
{
	sess_st *st = op->st;
	if (st->lateness >= 0 && wm > st->pending_wm)
		st->pending_wm = wm;
	return 0;
}

static void sess_free(br_op *op)
{
	sess_st *st = op->st;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&st->keys_map, &i, &slot);) {
		skey *k = slot->val;
		for (size_t r = 0; r < k->n; r++)
			free(k->rows[r].row);
		free(k->rows);
		free(k->delta);
		free(k);
	}
	br_map_free(&st->keys_map);
	br_buf_free(&st->kbuf);
	br_buf_free(&st->rbuf);
	free(st->touched);
	free(st->keys);
	free(st);
}

static void sess_explain(const br_op *op, br_buf *out)
{
	const sess_st *st = op->st;
	br_buf_printf(out, "session col=%d gap=%" PRId64 "us keys=%d", st->tcol, st->gap, st->nkeys);
}
static const br_op_vt sess_vt = { "session", sess_step, sess_watermark, NULL, NULL, sess_free, sess_explain };

br_op *br_op_session(br_circuit *c, br_op *in, int tcol, int64_t gap, int nkeys, const int *keys,
		     int64_t allowed_lateness)
{
	br_type_id *t = types_plus_window(in, tcol);
	br_op *op = br_op_new(c, &sess_vt, br_op_ncols(in) + 2, t);
	op->stats = sess_stats;
	free(t);
	sess_st *st = br_xcalloc(1, sizeof *st);
	st->tcol = tcol;
	st->gap = gap > 0 ? gap : 1;
	st->lateness = allowed_lateness;
	st->nkeys = nkeys;
	st->keys = br_xcalloc((size_t)nkeys + 1, sizeof(int));
	if (nkeys)
		memcpy(st->keys, keys, sizeof(int) * (size_t)nkeys);
	st->wm = st->pending_wm = BR_TIME_NONE;
	st->next_close = INT64_MAX;
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

int64_t br_session_rows(const br_op *op)
{
	return op->vt == &sess_vt ? ((const sess_st *)op->st)->nrows : -1;
}

/* ------------------------------------------------------ windowed aggregate
 *
 * State is split by window end into buckets of BUCKET_US of event time: a
 * bucket is a private circuit input -> aggregate (-> integrate under
 * on_window_close) over the rows whose window ends in it, so every aggregate
 * semantic (min/max under retraction, DISTINCT, exact sums) is
 * br_op_aggregate's, and when the watermark has passed every window that can
 * end in a bucket, freeing its circuit frees all of their state. A bucket
 * rather than a circuit per window: an aggregate's arena costs tens of KB, and
 * sessions make many small windows; tumbling and hopping windows of a second
 * or more get a bucket each. Under on_window_close a window's rows are read
 * from its bucket's integral when the watermark passes its end (a scan of the
 * bucket: O(rows of the bucket) per watermark move that closes something in
 * it). The windowed top-N is the same machinery with br_op_window (ranking)
 * in place of the aggregate. */

#define BUCKET_US 1000000

typedef struct pane {
	int64_t bucket;      /* floor(window_end / BUCKET_US) */
	br_circuit c;
	br_op *in, *agg, *integ;
	int64_t step;
} pane;

typedef struct {
	int wscol, wecol, ngroup, naggs, emit, nin;
	int64_t size;        /* window size, when wscol or wecol is -1 */
	int out_we, out_ws;  /* window_end / window_start among the output columns, -1 if not */
	int *gcols;          /* group columns, or a top-N's partition columns */
	br_agg_spec *aggs;
	bool topn;           /* panes hold br_op_window (ranking) instead of aggregates */
	int nkeys, nfuncs, *kinds;
	br_sort_key *keys;
	int64_t limit;
	br_type_id *intypes;
	int64_t lateness, wm, pending_wm, dropped, step;
	br_map panes;        /* 8 bytes bucket -> pane* */
	pane **touched;
	size_t ntouched, captouched;
} wagg_st;

static bool window_closed(const wagg_st *st, int64_t end)
{
	return st->wm != BR_TIME_NONE && sat_add(end, st->lateness) <= st->wm;
}

static int64_t bucket_of(int64_t end) { return floor_div(end, BUCKET_US); }

/* Every window that can end in bucket b is closed at watermark wm. */
static bool bucket_closed(const wagg_st *st, int64_t b, int64_t wm)
{
	if (wm == BR_TIME_NONE)
		return false;
	int64_t last_end = b >= INT64_MAX / BUCKET_US ? INT64_MAX : (b + 1) * BUCKET_US - 1;
	return sat_add(last_end, st->lateness) <= wm;
}

static pane *pane_get(br_op *op, int64_t b)
{
	wagg_st *st = op->st;
	pane *p = br_map_get(&st->panes, &b, sizeof b);
	if (p)
		return p;
	p = br_xcalloc(1, sizeof *p);
	p->bucket = b;
	p->step = -1;
	/* Small scratch: a bucket steps over its own rows only. */
	memset(&p->c, 0, sizeof p->c);
	br_arena_init(&p->c.scratch, 4096);
	p->c.ev.scratch = &p->c.scratch;
	p->in = br_op_input(&p->c, st->nin, st->intypes);
	p->agg = st->topn ? br_op_window(&p->c, p->in, st->ngroup, st->gcols, st->nkeys, st->keys, st->nfuncs, st->kinds,
					 st->limit)
			  : br_op_aggregate(&p->c, p->in, st->ngroup, st->gcols, st->naggs, st->aggs);
	if (st->emit == BR_EMIT_ON_WINDOW_CLOSE)
		p->integ = br_op_integrate(&p->c, p->agg);
	br_map_put(&st->panes, &b, sizeof b, p);
	return p;
}

static void pane_free(pane *p)
{
	br_circuit_free(&p->c);
	free(p);
}

typedef struct emitrow {
	int64_t end, start;
	const br_zent *e;
} emitrow;

static int emitrow_cmp(const void *a, const void *b)
{
	const emitrow *x = a, *y = b;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	size_t ml = x->e->klen < y->e->klen ? x->e->klen : y->e->klen;
	int r = memcmp(x->e->key, y->e->key, ml);
	return r ? r : (x->e->klen < y->e->klen ? -1 : x->e->klen > y->e->klen);
}

/* The window end of an output row: its window_end column, or its
 * window_start + size; INT64_MIN when the output has neither. */
static int64_t out_end(const wagg_st *st, const br_value *row)
{
	if (st->out_we >= 0)
		return row[st->out_we].v.i64;
	if (st->out_ws >= 0 && st->size > 0)
		return sat_add(row[st->out_ws].v.i64, st->size);
	return INT64_MIN;
}

/* on_window_close: appends the rows of p's windows that close in (old, new]
 * (or all of them when the window end is not an output column), in window
 * order, so the append-only output has a deterministic order. */
static int pane_emit(br_op *op, br_circuit *c, pane *p, int64_t old, int64_t new, br_err *err)
{
	wagg_st *st = op->st;
	const br_ztab *t = br_op_contents(p->integ);
	int nout = br_op_ncols(op), rc = 0;
	br_value *row = br_circuit_row_buf(c, nout);
	size_t n = 0, cap = 16;
	emitrow *rows = br_xmalloc(sizeof *rows * cap);
	br_zent *e;
	for (size_t i = 0; !rc && (e = br_ztab_next(t, &i));) {
		if (!e->w)
			continue;
		if ((rc = br_row_decode(e->key, e->klen, row, nout, err)))
			break;
		int64_t end = out_end(st, row);
		int64_t start = st->out_ws >= 0 ? row[st->out_ws].v.i64 : INT64_MIN;
		if (end != INT64_MIN) {
			int64_t ce = sat_add(end, st->lateness);
			if (!(ce <= new && (old == BR_TIME_NONE || ce > old)))
				continue;
		}
		if (n == cap)
			rows = br_xrealloc(rows, sizeof *rows * (cap *= 2));
		rows[n++] = (emitrow){ end, start, e };
	}
	if (n > 1)
		qsort(rows, n, sizeof *rows, emitrow_cmp);
	for (size_t i = 0; !rc && i < n; i++) {
		rc = br_row_decode(rows[i].e->key, rows[i].e->klen, row, nout, err);
		if (!rc)
			br_batch_append_row(&op->out, row, rows[i].e->w);
	}
	free(rows);
	return rc;
}

static int bucket_cmp(const void *a, const void *b)
{
	const pane *x = *(pane *const *)a, *y = *(pane *const *)b;
	return x->bucket < y->bucket ? -1 : x->bucket > y->bucket;
}

/* The watermark moved from old to st->wm: emits (on_window_close) the windows
 * that closed, in window order, and frees buckets that are wholly closed. */
static int wagg_close(br_op *op, br_circuit *c, int64_t old, br_err *err)
{
	wagg_st *st = op->st;
	pane **touched = NULL;
	size_t n = 0, cap = 0;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&st->panes, &i, &slot);) {
		pane *p = slot->val;
		/* the earliest window end in the bucket must be closed now */
		int64_t first_end = p->bucket <= INT64_MIN / BUCKET_US ? INT64_MIN : p->bucket * BUCKET_US;
		if (!window_closed(st, first_end))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			touched = br_xrealloc(touched, sizeof *touched * cap);
		}
		touched[n++] = p;
	}
	if (n > 1)
		qsort(touched, n, sizeof *touched, bucket_cmp);
	int rc = 0;
	for (size_t k = 0; k < n; k++) {
		pane *p = touched[k];
		bool all = bucket_closed(st, p->bucket, st->wm);
		if (!rc && p->integ && (st->out_we >= 0 || (st->out_ws >= 0 && st->size > 0) || all))
			rc = pane_emit(op, c, p, old, st->wm, err);
		if (all) {
			br_map_del(&st->panes, &p->bucket, sizeof p->bucket);
			pane_free(p);
		}
	}
	free(touched);
	return rc;
}

static int wagg_step(br_op *op, br_circuit *c, br_err *err)
{
	wagg_st *st = op->st;
	const br_batch *in = &op->in[0]->out;
	br_value *row = br_circuit_row_buf(c, in->ncols);
	st->step++;
	st->ntouched = 0;
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		/* the window end: its column, or window_start + size */
		const br_value *e = &row[st->wecol >= 0 ? st->wecol : st->wscol];
		int64_t end = e->is_null ? 0 : st->wecol >= 0 ? e->v.i64 : sat_add(e->v.i64, st->size);
		if (e->is_null || (st->wscol >= 0 && row[st->wscol].is_null) || window_closed(st, end)) {
			st->dropped++;
			continue;
		}
		pane *p = pane_get(op, bucket_of(end));
		if (p->step != st->step) {
			p->step = st->step;
			if (st->ntouched == st->captouched) {
				st->captouched = st->captouched ? st->captouched * 2 : 16;
				st->touched = br_xrealloc(st->touched, sizeof *st->touched * st->captouched);
			}
			st->touched[st->ntouched++] = p;
		}
		br_batch_append_row(&p->in->out, row, br_batch_weight(in, i));
	}
	int nout = br_op_ncols(op);
	br_value *orow = br_circuit_row_buf(c, nout);
	for (size_t t = 0; t < st->ntouched; t++) {
		pane *p = st->touched[t];
		int rc = br_circuit_step(&p->c, err);
		if (rc)
			return rc;
		if (st->emit != BR_EMIT_CHANGELOG)
			continue;
		const br_batch *d = &p->agg->out;
		for (int64_t r = 0; r < d->nrows; r++) {
			br_batch_get_row(d, r, orow);
			br_batch_append_row(&op->out, orow, br_batch_weight(d, r));
		}
	}
	if (st->pending_wm != BR_TIME_NONE && st->pending_wm > st->wm) {
		int64_t old = st->wm;
		st->wm = st->pending_wm;
		return wagg_close(op, c, old, err);
	}
	return 0;
}

static int wagg_watermark(br_op *op, int64_t wm, br_err *err)
{
	wagg_st *st = op->st;
	if (st->lateness >= 0 && wm > st->pending_wm)
		st->pending_wm = wm;
	return 0;
}

static void wagg_free(br_op *op)
{
	wagg_st *st = op->st;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&st->panes, &i, &slot);)
		pane_free(slot->val);
	br_map_free(&st->panes);
	free(st->touched);
	free(st->gcols);
	free(st->aggs);
	free(st->keys);
	free(st->kinds);
	free(st->intypes);
	free(st);
}

static void wagg_explain(const br_op *op, br_buf *out)
{
	const wagg_st *st = op->st;
	if (st->topn)
		br_buf_printf(out, "window top-n partitions=%d limit=%" PRId64 " emit=%s", st->ngroup, st->limit,
			      st->emit == BR_EMIT_ON_WINDOW_CLOSE ? "on_window_close" : "changelog");
	else
		br_buf_printf(out, "window aggregate groups=%d aggs=%d emit=%s", st->ngroup, st->naggs,
			      st->emit == BR_EMIT_ON_WINDOW_CLOSE ? "on_window_close" : "changelog");
	if (st->lateness < 0)
		br_buf_printf(out, " (not on event time: never closes)");
	else if (st->lateness)
		br_buf_printf(out, " allowed_lateness=%" PRId64 "us", st->lateness);
}
static const br_op_vt wagg_vt = { "window_aggregate", wagg_step, wagg_watermark, NULL, NULL, wagg_free, wagg_explain };

static wagg_st *wagg_state(br_op *in, const br_window_cols *w, int ngroup, const int *gcols)
{
	int nin = br_op_ncols(in);
	wagg_st *st = br_xcalloc(1, sizeof *st);
	st->wscol = w->wscol;
	st->wecol = w->wecol;
	st->size = w->size;
	st->ngroup = ngroup;
	st->emit = w->emit;
	st->nin = nin;
	st->lateness = w->allowed_lateness;
	st->wm = st->pending_wm = BR_TIME_NONE;
	st->out_we = st->out_ws = -1;
	st->gcols = br_xcalloc((size_t)ngroup + 1, sizeof(int));
	if (ngroup)
		memcpy(st->gcols, gcols, sizeof(int) * (size_t)ngroup);
	st->intypes = br_xcalloc((size_t)nin + 1, sizeof *st->intypes);
	for (int i = 0; i < nin; i++)
		st->intypes[i] = br_op_col_type(in, i);
	return st;
}

br_op *br_op_window_agg_cols(br_circuit *c, br_op *in, const br_window_cols *w, int ngroup, const int *gcols,
			     int naggs, const br_agg_spec *aggs)
{
	br_type_id *t = br_xcalloc((size_t)(ngroup + naggs) + 1, sizeof *t);
	for (int i = 0; i < ngroup; i++)
		t[i] = br_op_col_type(in, gcols[i]);
	for (int i = 0; i < naggs; i++)
		t[ngroup + i] = aggs[i].type;
	br_op *op = br_op_new(c, &wagg_vt, ngroup + naggs, t);
	op->stats = wagg_stats;
	free(t);
	wagg_st *st = wagg_state(in, w, ngroup, gcols);
	st->naggs = naggs;
	for (int i = 0; i < ngroup; i++) {
		if (gcols[i] == w->wecol && w->wecol >= 0 && st->out_we < 0)
			st->out_we = i;
		if (gcols[i] == w->wscol && w->wscol >= 0 && st->out_ws < 0)
			st->out_ws = i;
	}
	st->aggs = br_xcalloc((size_t)naggs + 1, sizeof *st->aggs);
	if (naggs)
		memcpy(st->aggs, aggs, sizeof *aggs * (size_t)naggs);
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

br_op *br_op_window_agg(br_circuit *c, br_op *in, int wscol, int wecol, int ngroup, const int *gcols, int naggs,
			const br_agg_spec *aggs, int emit, int64_t allowed_lateness)
{
	br_window_cols w = { wscol, wecol, 0, emit, allowed_lateness };
	return br_op_window_agg_cols(c, in, &w, ngroup, gcols, naggs, aggs);
}

br_op *br_op_window_topn(br_circuit *c, br_op *in, const br_window_cols *w, int npart, const int *pcols, int nkeys,
			 const br_sort_key *keys, int nfuncs, const int *kinds, int64_t limit)
{
	int nin = br_op_ncols(in);
	br_type_id *t = br_xcalloc((size_t)(nin + nfuncs) + 1, sizeof *t);
	for (int i = 0; i < nin; i++)
		t[i] = br_op_col_type(in, i);
	for (int i = 0; i < nfuncs; i++)
		t[nin + i] = BR_T_LONG;
	br_op *op = br_op_new(c, &wagg_vt, nin + nfuncs, t);
	op->stats = wagg_stats;
	free(t);
	wagg_st *st = wagg_state(in, w, npart, pcols);
	st->topn = true;
	st->out_we = w->wecol; /* input columns pass through */
	st->out_ws = w->wscol;
	st->nkeys = nkeys;
	st->keys = br_xcalloc((size_t)nkeys + 1, sizeof *st->keys);
	if (nkeys)
		memcpy(st->keys, keys, sizeof *keys * (size_t)nkeys);
	st->nfuncs = nfuncs;
	st->kinds = br_xcalloc((size_t)nfuncs + 1, sizeof(int));
	if (nfuncs)
		memcpy(st->kinds, kinds, sizeof(int) * (size_t)nfuncs);
	st->limit = limit;
	op->st = st;
	op->nin = 1;
	op->in[0] = in;
	return op;
}

int64_t br_window_agg_dropped(const br_op *op)
{
	return op->vt == &wagg_vt ? ((const wagg_st *)op->st)->dropped : -1;
}

int64_t br_window_agg_open_panes(const br_op *op)
{
	return op->vt == &wagg_vt ? (int64_t)((const wagg_st *)op->st)->panes.count : -1;
}

/* ----------------------------------------------------------- interval join
 *
 * Per side: key -> ikey, the key's live rows (time, encoded row, weight) in
 * arrival order, consolidated (a retraction finds its row). A step probes the
 * other side's rows of the same key, checks the interval and emits the
 * product of the weights. Rows are released by the watermark (time.h). */

typedef struct irow {
	int64_t t, w;
	uint8_t *row;        /* malloc'd, owned by the ikey */
	uint32_t len;
} irow;

typedef struct ikey {
	irow *rows;
	size_t n, cap;
} ikey;

typedef struct iside {
	br_map index;        /* encoded key -> ikey* */
	int nkeys, *keys, tcol, ncols;
	int64_t nrows;
} iside;

typedef struct {
	iside s[2];
	bool window;         /* a window join (EXPLAIN says so) */
	int64_t lower, upper, lateness, wm, pending_wm;
	br_buf kbuf, rbuf;
} ijoin_st;

/* Encodes the key of row into kbuf; false when a key column is NULL. */
static bool ij_key(const iside *sd, const br_value *row, br_buf *kbuf, br_value *kv)
{
	for (int k = 0; k < sd->nkeys; k++) {
		kv[k] = row[sd->keys[k]];
		if (kv[k].is_null)
			return false;
	}
	br_buf_reset(kbuf);
	br_row_encode(kbuf, kv, sd->nkeys);
	return true;
}

static bool ij_match(const ijoin_st *st, int64_t ta, int64_t tb)
{
	/* tb + lower <= ta <= tb + upper, in 128 bits: no overflow */
	__int128 d = (__int128)ta - tb;
	return d >= st->lower && d <= st->upper;
}

static int ij_emit(br_op *op, br_circuit *c, const br_value *arow, int na, const irow *b, int nb, int64_t w,
		   br_err *err)
{
	br_value *out = br_circuit_row_buf(c, na + nb);
	memcpy(out, arow, sizeof *out * (size_t)na);
	int rc = br_row_decode(b->row, b->len, out + na, nb, err);
	if (!rc)
		br_batch_append_row(&op->out, out, w);
	return rc;
}

static int ij_emit_rev(br_op *op, br_circuit *c, const irow *a, int na, const br_value *brow, int nb, int64_t w,
		       br_err *err)
{
	br_value *out = br_circuit_row_buf(c, na + nb);
	int rc = br_row_decode(a->row, a->len, out, na, err);
	memcpy(out + na, brow, sizeof *out * (size_t)nb);
	if (!rc)
		br_batch_append_row(&op->out, out, w);
	return rc;
}

static void ij_insert(ijoin_st *st, iside *sd, const br_value *row, int64_t t, int64_t w)
{
	br_value kv[64];
	if (sd->nkeys > 64 || !ij_key(sd, row, &st->kbuf, kv))
		return;
	ikey *k = br_map_get(&sd->index, st->kbuf.p, st->kbuf.len);
	if (!k) {
		k = br_xcalloc(1, sizeof *k);
		br_map_put(&sd->index, st->kbuf.p, st->kbuf.len, k);
	}
	br_buf_reset(&st->rbuf);
	br_row_encode(&st->rbuf, row, sd->ncols);
	for (size_t i = 0; i < k->n; i++)
		if (k->rows[i].len == st->rbuf.len && !memcmp(k->rows[i].row, st->rbuf.p, st->rbuf.len)) {
			k->rows[i].w += w;
			if (!k->rows[i].w) {
				free(k->rows[i].row);
				k->rows[i] = k->rows[--k->n];
				sd->nrows--;
			}
			return;
		}
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 4;
		k->rows = br_xrealloc(k->rows, sizeof *k->rows * k->cap);
	}
	uint8_t *copy = br_xmalloc(st->rbuf.len ? st->rbuf.len : 1);
	memcpy(copy, st->rbuf.p, st->rbuf.len);
	k->rows[k->n++] = (irow){ t, w, copy, (uint32_t)st->rbuf.len };
	sd->nrows++;
}

/* Probes the other side with every row of side s's delta. */
static int ij_probe(br_op *op, br_circuit *c, int s, br_err *err)
{
	ijoin_st *st = op->st;
	iside *me = &st->s[s], *other = &st->s[1 - s];
	const br_batch *in = &op->in[s]->out;
	br_value *row = br_circuit_row_buf(c, in->ncols), kv[64];
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		if (row[me->tcol].is_null || me->nkeys > 64 || !ij_key(me, row, &st->kbuf, kv))
			continue;
		ikey *k = br_map_get(&other->index, st->kbuf.p, st->kbuf.len);
		int64_t t = row[me->tcol].v.i64, w = br_batch_weight(in, i);
		for (size_t r = 0; k && r < k->n; r++) {
			const irow *o = &k->rows[r];
			int rc = 0;
			if (s == 0 && ij_match(st, t, o->t))
				rc = ij_emit(op, c, row, me->ncols, o, other->ncols, w * o->w, err);
			else if (s == 1 && ij_match(st, o->t, t))
				rc = ij_emit_rev(op, c, o, other->ncols, row, me->ncols, w * o->w, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static void ij_apply(ijoin_st *st, br_op *op, br_circuit *c, int s)
{
	iside *sd = &st->s[s];
	const br_batch *in = &op->in[s]->out;
	br_value *row = br_circuit_row_buf(c, in->ncols);
	for (int64_t i = 0; i < in->nrows; i++) {
		br_batch_get_row(in, i, row);
		if (!row[sd->tcol].is_null)
			ij_insert(st, sd, row, row[sd->tcol].v.i64, br_batch_weight(in, i));
	}
}

/* Drops rows no future row of the other side can match, and keys left
 * without rows (keys such as auction ids are often never seen again). */
static void ij_release(ijoin_st *st)
{
	int64_t floor = sat_sub(st->wm, st->lateness); /* every future row has t >= floor */
	for (int s = 0; s < 2; s++) {
		iside *sd = &st->s[s];
		br_map_slot *slot;
		br_buf empty = { 0 }; /* u32 length + bytes of each empty key */
		for (size_t i = 0; br_map_next(&sd->index, &i, &slot);) {
			ikey *k = slot->val;
			for (size_t r = 0; r < k->n;) {
				/* a matches b iff a.t - upper <= b.t <= a.t - lower; b iff a.t <= b.t + upper */
				bool dead = s == 0 ? k->rows[r].t - st->lower < floor : sat_add(k->rows[r].t, st->upper) < floor;
				if (!dead) {
					r++;
					continue;
				}
				free(k->rows[r].row);
				k->rows[r] = k->rows[--k->n];
				sd->nrows--;
			}
			if (!k->n) {
				uint32_t l = (uint32_t)slot->klen;
				br_buf_put(&empty, &l, 4);
				br_buf_put(&empty, slot->key, l);
			}
		}
		/* Deleting while iterating could skip slots: delete afterwards. */
		for (size_t off = 0; off < empty.len;) {
			uint32_t l;
			memcpy(&l, empty.p + off, 4);
			ikey *k = br_map_del(&sd->index, empty.p + off + 4, l);
			off += 4 + l;
			if (k) {
				free(k->rows);
				free(k);
			}
		}
		br_buf_free(&empty);
	}
}

static int ij_step(br_op *op, br_circuit *c, br_err *err)
{
	ijoin_st *st = op->st;
	/* dA |><| B (old B), then A += dA, then A' |><| dB, then B += dB */
	int rc = ij_probe(op, c, 0, err);
	if (rc)
		return rc;
	ij_apply(st, op, c, 0);
	if ((rc = ij_probe(op, c, 1, err)))
		return rc;
	ij_apply(st, op, c, 1);
	if (st->pending_wm != BR_TIME_NONE && st->pending_wm > st->wm) {
		st->wm = st->pending_wm;
		ij_release(st);
	}
	return 0;
}

static int ij_watermark(br_op *op, int64_t wm, br_err *err)
{
	ijoin_st *st = op->st;
	if (st->lateness >= 0 && wm > st->pending_wm)
		st->pending_wm = wm;
	return 0;
}

static void ij_free(br_op *op)
{
	ijoin_st *st = op->st;
	for (int s = 0; s < 2; s++) {
		br_map_slot *slot;
		for (size_t i = 0; br_map_next(&st->s[s].index, &i, &slot);) {
			ikey *k = slot->val;
			for (size_t r = 0; r < k->n; r++)
				free(k->rows[r].row);
			free(k->rows);
			free(k);
		}
		br_map_free(&st->s[s].index);
		free(st->s[s].keys);
	}
	br_buf_free(&st->kbuf);
	br_buf_free(&st->rbuf);
	free(st);
}

static void ij_explain(const br_op *op, br_buf *out)
{
	const ijoin_st *st = op->st;
	if (st->window) {
		br_buf_printf(out, "window join keys=%d on window_end", st->s[0].nkeys);
		return;
	}
	br_buf_printf(out, "interval join keys=%d a.t - b.t in [%" PRId64 "us, %" PRId64 "us]", st->s[0].nkeys, st->lower,
		      st->upper);
}
static const br_op_vt ij_vt = { "interval_join", ij_step, ij_watermark, NULL, NULL, ij_free, ij_explain };

br_op *br_op_interval_join(br_circuit *c, br_op *a, br_op *b, int nkeys, const int *akeys, const int *bkeys,
			   int atcol, int btcol, int64_t lower, int64_t upper, int64_t allowed_lateness)
{
	int na = br_op_ncols(a), nb = br_op_ncols(b);
	br_op *op = br_op_new_pair(c, &ij_vt, a, b);
	op->stats = ij_stats;
	ijoin_st *st = br_xcalloc(1, sizeof *st);
	st->lower = lower;
	st->upper = upper;
	st->lateness = allowed_lateness;
	st->wm = st->pending_wm = BR_TIME_NONE;
	for (int s = 0; s < 2; s++) {
		iside *sd = &st->s[s];
		sd->nkeys = nkeys;
		sd->keys = br_xcalloc((size_t)nkeys + 1, sizeof(int));
		if (nkeys)
			memcpy(sd->keys, s == 0 ? akeys : bkeys, sizeof(int) * (size_t)nkeys);
		sd->tcol = s == 0 ? atcol : btcol;
		sd->ncols = s == 0 ? na : nb;
	}
	op->st = st;
	op->nin = 2;
	op->in[0] = a;
	op->in[1] = b;
	return op;
}

br_op *br_op_window_join(br_circuit *c, br_op *a, br_op *b, int nkeys, const int *akeys, const int *bkeys,
			 int awecol, int bwecol, int64_t allowed_lateness)
{
	br_op *op = br_op_interval_join(c, a, b, nkeys, akeys, bkeys, awecol, bwecol, 0, 0, allowed_lateness);
	((ijoin_st *)op->st)->window = true;
	return op;
}

int64_t br_interval_join_rows(const br_op *op)
{
	if (op->vt != &ij_vt)
		return -1;
	const ijoin_st *st = op->st;
	return st->s[0].nrows + st->s[1].nrows;
}

/* ---------------------------------------------------------------- stats */

static size_t map_bytes(const br_map *m)
{
	size_t n = m->cap * sizeof(br_map_slot);
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(m, &i, &slot);)
		n += slot->klen + 1;
	return n;
}

static void sess_stats(const br_op *op, br_op_stats *out)
{
	const sess_st *st = op->st;
	out->rows = st->nrows;
	out->bytes = map_bytes(&st->keys_map) + st->captouched * sizeof *st->touched;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&st->keys_map, &i, &slot);) {
		const skey *k = slot->val;
		out->bytes += sizeof *k + k->cap * sizeof *k->rows + k->capd * sizeof *k->delta;
		for (size_t r = 0; r < k->n; r++)
			out->bytes += k->rows[r].len;
	}
}

/* A windowed aggregate or top-N: the circuits of its open windows' panes. */
static void wagg_stats(const br_op *op, br_op_stats *out)
{
	const wagg_st *st = op->st;
	out->rows = 0;
	out->bytes = map_bytes(&st->panes) + st->captouched * sizeof *st->touched;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&st->panes, &i, &slot);) {
		const pane *pn = slot->val;
		out->bytes += sizeof *pn + br_circuit_state_bytes(&pn->c);
		for (int k = 0; k < pn->c.nops; k++) {
			br_op_stats s;
			br_op_state(pn->c.ops[k], &s);
			if (pn->c.ops[k] == pn->agg)
				out->rows += s.rows;
		}
	}
}

static void ij_stats(const br_op *op, br_op_stats *out)
{
	const ijoin_st *st = op->st;
	*out = (br_op_stats){ 0 };
	for (int s = 0; s < 2; s++) {
		const iside *sd = &st->s[s];
		out->rows += sd->nrows;
		out->bytes += map_bytes(&sd->index);
		br_map_slot *slot;
		for (size_t i = 0; br_map_next(&sd->index, &i, &slot);) {
			const ikey *k = slot->val;
			out->bytes += sizeof *k + k->cap * sizeof *k->rows;
			for (size_t r = 0; r < k->n; r++)
				out->bytes += k->rows[r].len;
		}
	}
}
