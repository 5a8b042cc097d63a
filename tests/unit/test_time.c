/* test_time.c — unit tests for src/flow/time.c: interval text, time options,
 * the watermark tracker (lateness, idle partitions, forged timestamps), the
 * window operators (tumble/hop assignment, sessions under retraction, the
 * windowed aggregate in both emit modes with state release), and determinism
 * across partition interleavings, batch sizes and step boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "flow/time.h"
#include "sql/sql.h"
#include "sql/window.h"

#define SEC 1000000LL

/* ------------------------------------------------------------- helpers */

static br_value L(int64_t x) { return br_value_i64(BR_T_LONG, x); }
static br_value TS(int64_t x) { return br_value_i64(BR_T_TIMESTAMP, x); }
static br_value S(const char *s) { return br_value_bytes(BR_T_STRING, s, strlen(s)); }

static void feed(br_circuit *c, br_op *in, int ncols, int nrows, const br_value *vals, const int64_t *w)
{
	br_batch b;
	br_batch_init(&b, in->out_type, true);
	for (int i = 0; i < nrows; i++)
		br_batch_append_row(&b, vals + i * ncols, w ? w[i] : 1);
	br_err err = { 0 };
	assert_int_equal(br_circuit_feed(c, in, &b, &err), 0);
	br_batch_free(&b);
}

static void fmt_row(const br_value *v, int n, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		const br_value *x = &v[i];
		char tmp[64];
		if (x->is_null)
			snprintf(tmp, sizeof tmp, "NULL");
		else if (x->type == BR_T_STRING)
			snprintf(tmp, sizeof tmp, "'%.*s'", (int)x->v.bytes.len, x->v.bytes.p);
		else if (x->type == BR_T_DOUBLE)
			snprintf(tmp, sizeof tmp, "%g", x->v.f64);
		else
			snprintf(tmp, sizeof tmp, "%" PRId64, x->v.i64);
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", tmp);
	}
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted "row*weight" lines joined by ';' of a consolidated Z-set given as
 * a ztab (integrate contents). */
static char *ztab_text(const br_ztab *t, int ncols)
{
	size_t cap = 64, n = 0;
	char **lines = malloc(cap * sizeof *lines);
	br_zent *e;
	br_value v[16];
	for (size_t i = 0; (e = br_ztab_next(t, &i));) {
		if (!e->w)
			continue;
		assert_int_equal(br_row_decode(e->key, e->klen, v, ncols, NULL), 0);
		char row[300];
		fmt_row(v, ncols, row, sizeof row);
		if (n == cap)
			lines = realloc(lines, (cap *= 2) * sizeof *lines);
		lines[n++] = br_xasprintf("%s*%" PRId64, row, e->w);
	}
	qsort(lines, n, sizeof *lines, cmp_str);
	br_buf b = { 0 };
	for (size_t i = 0; i < n; i++) {
		br_buf_printf(&b, "%s%s", i ? ";" : "", lines[i]);
		free(lines[i]);
	}
	free(lines);
	br_buf_u8(&b, 0);
	return (char *)b.p;
}

static char *contents(const br_op *integ, int ncols) { return ztab_text(br_op_contents(integ), ncols); }

static void expect(const br_op *integ, int ncols, const char *want)
{
	char *got = contents(integ, ncols);
	if (strcmp(got, want))
		fail_msg("got  %s\nwant %s", got, want);
	free(got);
}

static void step(br_circuit *c)
{
	br_err err = { 0 };
	if (br_circuit_step(c, &err))
		fail_msg("step: %s", err.msg);
}

static void watermark(br_circuit *c, int64_t wm)
{
	br_err err = { 0 };
	assert_int_equal(br_time_circuit_watermark(c, wm, &err), 0);
}

/* The delta of op's last step, as text (consolidated). */
static char *delta_text(const br_op *op)
{
	br_arena a;
	br_arena_init(&a, 0);
	br_ztab t;
	br_ztab_init(&t, &a);
	br_buf k = { 0 };
	br_value v[16];
	int n = op->out.ncols;
	for (int64_t i = 0; i < op->out.nrows; i++) {
		br_batch_get_row(&op->out, i, v);
		br_buf_reset(&k);
		br_row_encode(&k, v, n);
		br_ztab_upsert(&t, k.p, k.len)->w += br_batch_weight(&op->out, i);
	}
	char *s = ztab_text(&t, n);
	br_buf_free(&k);
	br_ztab_free(&t);
	br_arena_free(&a);
	return s;
}

/* ---------------------------------------------------------- intervals */

static void test_intervals(void **state)
{
	br_err err = { 0 };
	int64_t us;
	struct { const char *s; int64_t us; } ok[] = {
		{ "5 seconds", 5 * SEC }, { "1 minute", 60 * SEC }, { "500 ms", 500000 }, { "1m30s", 90 * SEC },
		{ "1 hour 30 minutes", 5400 * SEC }, { "2.5s", 2500000 }, { "00:01:30", 90 * SEC }, { "1:30", 90 * SEC },
		{ "10 us", 10 }, { "1 DAY", 86400 * SEC }, { "0 s", 0 }, { " 7 Seconds ", 7 * SEC },
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		if (br_time_parse_interval(ok[i].s, &us, &err))
			fail_msg("%s: %s", ok[i].s, err.msg);
		assert_int_equal(us, ok[i].us);
	}
	const char *bad[] = { "5", "", "-1 s", "5 parsecs", "s", "1e300 days", "abc" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (!br_time_parse_interval(bad[i], &us, &err))
			fail_msg("accepted \"%s\"", bad[i]);
	assert_int_equal(br_time_parse_interval("5 parsecs", &us, &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "unknown unit \"parsecs\""));
}

static void test_options(void **state)
{
	br_err err = { 0 };
	br_time_opts o;
	br_time_opts_default(&o);
	const char *k[] = { "event_time", "watermark_delay", "lateness", "allowed_lateness", "idle_timeout",
			    "max_future_skew" };
	const char *v[] = { "ts", "5 seconds", "update", "1 minute", "30 seconds", "1 minute" };
	assert_int_equal(br_time_parse_options(&o, 6, k, v, &err), 0);
	assert_string_equal(o.event_time, "ts");
	assert_int_equal(o.watermark_delay, 5 * SEC);
	assert_int_equal(o.lateness, BR_LATE_UPDATE);
	assert_int_equal(o.allowed_lateness, 60 * SEC);
	assert_int_equal(o.idle_timeout, 30 * SEC);
	assert_int_equal(o.max_future_skew, 60 * SEC);
	br_buf b = { 0 };
	br_time_opts_format(&o, &b);
	br_buf_u8(&b, 0);
	assert_string_equal((char *)b.p, "event_time=ts, watermark_delay=5s, lateness=update, allowed_lateness=60s, "
					 "idle_timeout=30s, max_future_skew=60s");
	br_buf_free(&b);

	br_time_opts_default(&o);
	assert_int_equal(br_time_parse_option(&o, "compression", "zstd", &err), BR_ENOTFOUND);
	assert_int_equal(br_time_parse_option(&o, "lateness", "ignore", &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "not drop, update or dead_letter"));
	assert_int_equal(br_time_parse_option(&o, "watermark_delay", "5", &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "watermark_delay"));
	const char *k2[] = { "watermark_delay" }, *v2[] = { "5 s" };
	assert_int_equal(br_time_parse_options(&o, 1, k2, v2, &err), BR_EINVAL); /* no event_time */
	const char *k3[] = { "event_time", "allowed_lateness" }, *v3[] = { "ts", "5 s" };
	br_time_opts_default(&o);
	assert_int_equal(br_time_parse_options(&o, 2, k3, v3, &err), BR_EINVAL); /* needs lateness=update */
}

/* ------------------------------------------------------------ tracker */

static void test_tracker_lateness(void **state)
{
	br_time_opts o;
	br_time_opts_default(&o);
	strcpy(o.event_time, "ts");
	o.watermark_delay = 5 * SEC;
	br_wm_tracker t;
	br_wm_init(&t, &o, 1);
	const char *why;
	assert_int_equal(br_wm_global(&t), BR_TIME_NONE);
	/* events (s): 10 12 8 7 6 20 15 14 */
	assert_int_equal(br_wm_observe(&t, 0, false, 10 * SEC, 100 * SEC, &why), BR_TIME_ON_TIME);
	assert_int_equal(br_wm_partition(&t, 0), 5 * SEC);
	assert_int_equal(br_wm_observe(&t, 0, false, 12 * SEC, 100 * SEC, &why), BR_TIME_ON_TIME);
	assert_int_equal(br_wm_partition(&t, 0), 7 * SEC);
	assert_int_equal(br_wm_observe(&t, 0, false, 8 * SEC, 100 * SEC, &why), BR_TIME_ON_TIME);  /* out of order, within delay */
	assert_int_equal(br_wm_observe(&t, 0, false, 7 * SEC, 100 * SEC, &why), BR_TIME_ON_TIME);  /* exactly at the watermark */
	assert_int_equal(br_wm_observe(&t, 0, false, 7 * SEC - 1, 100 * SEC, &why), BR_TIME_LATE); /* 1us below */
	assert_non_null(strstr(why, "late"));
	assert_int_equal(br_wm_partition(&t, 0), 7 * SEC); /* late records never move it */
	assert_int_equal(br_wm_observe(&t, 0, false, 20 * SEC, 100 * SEC, &why), BR_TIME_ON_TIME);
	assert_int_equal(br_wm_observe(&t, 0, false, 15 * SEC, 100 * SEC, &why), BR_TIME_ON_TIME);
	assert_int_equal(br_wm_observe(&t, 0, false, 14 * SEC, 100 * SEC, &why), BR_TIME_LATE);
	assert_int_equal(br_wm_observe(&t, 0, true, 0, 100 * SEC, &why), BR_TIME_LATE);
	assert_string_equal(why, "event time is NULL");
	assert_int_equal(br_wm_global(&t), 15 * SEC);
	assert_int_equal(t.parts[0].on_time, 6);
	assert_int_equal(t.parts[0].late, 3);
	br_wm_free(&t);

	/* lateness = update, allowed 3s: late by <= 3s is applied, beyond is not */
	o.lateness = BR_LATE_UPDATE;
	o.allowed_lateness = 3 * SEC;
	br_wm_init(&t, &o, 1);
	assert_int_equal(br_wm_observe(&t, 0, false, 20 * SEC, 0, &why), BR_TIME_ON_TIME); /* wm 15 */
	assert_int_equal(br_wm_observe(&t, 0, false, 12 * SEC, 0, &why), BR_TIME_LATE_UPDATE);
	assert_int_equal(br_wm_observe(&t, 0, false, 12 * SEC - 1, 0, &why), BR_TIME_LATE);
	assert_int_equal(br_wm_partition(&t, 0), 15 * SEC);
	assert_int_equal(t.parts[0].late_applied, 1);
	br_wm_free(&t);
}

static void test_tracker_partitions_idle(void **state)
{
	br_time_opts o;
	br_time_opts_default(&o);
	strcpy(o.event_time, "ts");
	o.watermark_delay = 1 * SEC;
	o.idle_timeout = 10 * SEC;
	br_wm_tracker t;
	br_wm_init(&t, &o, 2);
	/* append times drive idleness, event times the watermark */
	br_wm_observe(&t, 0, false, 100 * SEC, 1000 * SEC, NULL);
	assert_int_equal(br_wm_global(&t), BR_TIME_NONE); /* partition 1 not seen, not idle yet */
	br_wm_observe(&t, 1, false, 50 * SEC, 1001 * SEC, NULL);
	assert_int_equal(br_wm_global(&t), 49 * SEC); /* min(99, 49) */
	br_wm_observe(&t, 0, false, 200 * SEC, 1011 * SEC, NULL);
	assert_false(br_wm_idle(&t, 1)); /* 1011 - 1001 = 10: not more than the timeout */
	assert_int_equal(br_wm_global(&t), 49 * SEC);
	br_wm_observe(&t, 0, false, 300 * SEC, 1012 * SEC, NULL);
	assert_true(br_wm_idle(&t, 1));
	assert_int_equal(br_wm_global(&t), 299 * SEC); /* idle partition no longer holds it back */
	/* partition 1 resumes: it counts again, but the global watermark never goes back */
	assert_int_equal(br_wm_observe(&t, 1, false, 60 * SEC, 1013 * SEC, NULL), BR_TIME_ON_TIME);
	assert_false(br_wm_idle(&t, 1));
	assert_int_equal(br_wm_global(&t), 299 * SEC);
	br_wm_observe(&t, 1, false, 400 * SEC, 1014 * SEC, NULL);
	br_wm_observe(&t, 0, false, 500 * SEC, 1014 * SEC, NULL);
	assert_int_equal(br_wm_global(&t), 399 * SEC);
	br_wm_free(&t);

	/* a partition that never receives anything stops holding back after the timeout */
	br_wm_init(&t, &o, 3);
	br_wm_observe(&t, 0, false, 5 * SEC, 0, NULL);
	assert_int_equal(br_wm_global(&t), BR_TIME_NONE);
	br_wm_observe(&t, 0, false, 30 * SEC, 11 * SEC, NULL);
	assert_int_equal(br_wm_global(&t), 29 * SEC);
	br_wm_free(&t);
}

/* One forged far-future event among 10,000 honest ones (1 event/ms, out of
 * order by up to 400 ms, delay 1 s): every honest one is on time, the forged
 * one is quarantined, and the watermark never jumps. */
static void test_forged_timestamp(void **state)
{
	br_time_opts o;
	br_time_opts_default(&o);
	strcpy(o.event_time, "ts");
	o.watermark_delay = 1 * SEC;
	o.max_future_skew = 60 * SEC;
	br_wm_tracker t;
	br_wm_init(&t, &o, 1);
	int64_t base = 1700000000LL * SEC;
	uint64_t rng = 42;
	int quarantined = 0, late = 0;
	for (int i = 0; i < 10000; i++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		int64_t append = base + i * 1000LL;
		int64_t ev = append - (int64_t)((rng >> 33) % 400000);
		if (i == 5000) {
			const char *why;
			int v = br_wm_observe(&t, 0, false, base + 365LL * 86400 * SEC, append, &why);
			assert_int_equal(v, BR_TIME_QUARANTINED);
			assert_non_null(strstr(why, "max_future_skew"));
			quarantined++;
		}
		int v = br_wm_observe(&t, 0, false, ev, append, NULL);
		late += v == BR_TIME_LATE;
		assert_true(br_wm_global(&t) <= append);
	}
	assert_int_equal(late, 0);
	assert_int_equal(quarantined, 1);
	assert_int_equal(t.parts[0].on_time, 10000);
	assert_int_equal(t.parts[0].quarantined, 1);
	br_wm_free(&t);

	/* without the skew limit the same forged event makes honest data late */
	o.max_future_skew = -1;
	br_wm_init(&t, &o, 1);
	br_wm_observe(&t, 0, false, base, base, NULL);
	br_wm_observe(&t, 0, false, base + 365LL * 86400 * SEC, base, NULL);
	assert_int_equal(br_wm_observe(&t, 0, false, base + 1, base, NULL), BR_TIME_LATE);
	br_wm_free(&t);
}

/* ---------------------------------------------------------- operators */

static void test_tumble_hop_assign(void **state)
{
	br_circuit c;
	br_circuit_init(&c);
	br_type_id ty[2] = { BR_T_STRING, BR_T_TIMESTAMP };
	br_op *in = br_op_input(&c, 2, ty);
	br_op *tum = br_op_window_assign(&c, in, BR_WIN_TUMBLE, 1, 10, 0, 0);
	br_op *hop = br_op_window_assign(&c, in, BR_WIN_HOP, 1, 10, 5, 0);
	br_op *it = br_op_integrate(&c, tum), *ih = br_op_integrate(&c, hop);
	assert_int_equal(tum->out_type->children[2].type->id, BR_T_TIMESTAMP);
	/* boundaries: 0 and 10 start windows, 9 is the last of [0,10), -1 is in [-10,0) */
	br_value rows[] = { S("a"), TS(0), S("b"), TS(9), S("c"), TS(10), S("d"), TS(-1), S("e"), br_value_null(BR_T_TIMESTAMP) };
	feed(&c, in, 2, 5, rows, NULL);
	step(&c);
	expect(it, 4, "'a',0,0,10*1;'b',9,0,10*1;'c',10,10,20*1;'d',-1,-10,0*1");
	expect(ih, 4, "'a',0,-5,5*1;'a',0,0,10*1;'b',9,0,10*1;'b',9,5,15*1;'c',10,10,20*1;'c',10,5,15*1;"
		      "'d',-1,-10,0*1;'d',-1,-5,5*1");
	int64_t w[] = { -1 };
	feed(&c, in, 2, 1, rows + 4, w); /* retract c */
	step(&c);
	expect(it, 4, "'a',0,0,10*1;'b',9,0,10*1;'d',-1,-10,0*1");
	br_circuit_free(&c);

	/* hop whose size is not a multiple of the slide: size 10, slide 4 */
	br_circuit_init(&c);
	in = br_op_input(&c, 2, ty);
	hop = br_op_window_assign(&c, in, BR_WIN_HOP, 1, 10, 4, 0);
	ih = br_op_integrate(&c, hop);
	feed(&c, in, 2, 1, rows + 4, NULL); /* t = 10: windows starting 8, 4, (0 ends at 10: no) */
	step(&c);
	expect(ih, 4, "'c',10,4,14*1;'c',10,8,18*1");
	br_circuit_free(&c);
}

static void test_session_merge_split(void **state)
{
	br_circuit c;
	br_circuit_init(&c);
	br_type_id ty[2] = { BR_T_STRING, BR_T_LONG };
	br_op *in = br_op_input(&c, 2, ty);
	int keys[1] = { 0 };
	br_op *s = br_op_session(&c, in, 1, 10, 1, keys, 0);
	br_op *it = br_op_integrate(&c, s);
	br_value r1[] = { S("k"), L(0), S("k"), L(30), S("j"), L(5) };
	feed(&c, in, 2, 3, r1, NULL);
	step(&c);
	expect(it, 4, "'j',5,5,15*1;'k',0,0,10*1;'k',30,30,40*1");
	/* 10 is not within the gap of 0 (0 + 10 is the end, exclusive): new session */
	br_value r2[] = { S("k"), L(10) };
	feed(&c, in, 2, 1, r2, NULL);
	step(&c);
	expect(it, 4, "'j',5,5,15*1;'k',0,0,10*1;'k',10,10,20*1;'k',30,30,40*1");
	/* 19 and 25 bridge [10,20) and [30,40): one session [10,40) */
	br_value r3[] = { S("k"), L(19), S("k"), L(25) };
	feed(&c, in, 2, 2, r3, NULL);
	step(&c);
	expect(it, 4, "'j',5,5,15*1;'k',0,0,10*1;'k',10,10,40*1;'k',19,10,40*1;'k',25,10,40*1;'k',30,10,40*1");
	char *d = delta_text(s);
	/* only the changed rows moved */
	assert_string_equal(d, "'k',10,10,20*-1;'k',10,10,40*1;'k',19,10,40*1;'k',25,10,40*1;'k',30,10,40*1;'k',30,30,40*-1");
	free(d);
	/* retracting the bridge splits the session again */
	int64_t neg[] = { -1 };
	feed(&c, in, 2, 1, r3 + 2, neg);
	step(&c);
	expect(it, 4, "'j',5,5,15*1;'k',0,0,10*1;'k',10,10,29*1;'k',19,10,29*1;'k',30,30,40*1");
	/* watermark 30 releases sessions ending at or before 30 */
	assert_int_equal(br_session_rows(s), 5);
	watermark(&c, 30);
	step(&c);
	assert_int_equal(br_session_rows(s), 1);
	expect(it, 4, "'j',5,5,15*1;'k',0,0,10*1;'k',10,10,29*1;'k',19,10,29*1;'k',30,30,40*1");
	br_circuit_free(&c);
}

/* events (key, ts) -> tumble(10) -> window agg GROUP BY window_start,
 * window_end, key: count(*), sum(v) */
typedef struct wagg_fix {
	br_circuit c;
	br_op *in, *win, *agg, *integ;
} wagg_fix;

static void wagg_build(wagg_fix *f, int emit, int64_t lateness, bool hop)
{
	br_circuit_init(&f->c);
	br_type_id ty[3] = { BR_T_STRING, BR_T_LONG, BR_T_LONG };
	f->in = br_op_input(&f->c, 3, ty);
	f->win = br_op_window_assign(&f->c, f->in, hop ? BR_WIN_HOP : BR_WIN_TUMBLE, 1, 10, 5, 0);
	int g[3] = { 3, 4, 0 };
	br_agg_spec a[2] = { { .kind = BR_AGG_COUNT_STAR, .col = -1, .distinct = false, .type = BR_T_LONG }, { .kind = BR_AGG_SUM, .col = 2, .distinct = false, .type = BR_T_LONG } };
	f->agg = br_op_window_agg(&f->c, f->win, 3, 4, 3, g, 2, a, emit, lateness);
	f->integ = br_op_integrate(&f->c, f->agg);
}

static void test_window_agg_changelog(void **state)
{
	wagg_fix f;
	wagg_build(&f, BR_EMIT_CHANGELOG, 5, false);
	br_value r1[] = { S("a"), L(1), L(10), S("a"), L(9), L(1), S("b"), L(10), L(7) };
	feed(&f.c, f.in, 3, 3, r1, NULL);
	step(&f.c);
	expect(f.integ, 5, "0,10,'a',2,11*1;10,20,'b',1,7*1");
	assert_int_equal(br_window_agg_open_panes(f.agg), 1); /* one bucket: ends within the same second */
	/* watermark 12: [0,10) stays open until 10 + 5 (allowed lateness) */
	watermark(&f.c, 12);
	step(&f.c);
	/* a late update within the allowed lateness retracts and replaces */
	br_value r2[] = { S("a"), L(3), L(100) };
	feed(&f.c, f.in, 3, 1, r2, NULL);
	step(&f.c);
	char *d = delta_text(f.agg);
	assert_string_equal(d, "0,10,'a',2,11*-1;0,10,'a',3,111*1");
	free(d);
	/* watermark 15 closes [0,10): its rows stay in the view */
	watermark(&f.c, 15);
	step(&f.c);
	expect(f.integ, 5, "0,10,'a',3,111*1;10,20,'b',1,7*1");
	/* a row for the closed window is dropped and counted (sources filter these) */
	feed(&f.c, f.in, 3, 1, r2, NULL);
	step(&f.c);
	assert_int_equal(br_window_agg_dropped(f.agg), 1);
	expect(f.integ, 5, "0,10,'a',3,111*1;10,20,'b',1,7*1");
	/* retraction inside an open window */
	int64_t neg[] = { -1 };
	feed(&f.c, f.in, 3, 1, r1 + 6, neg);
	step(&f.c);
	expect(f.integ, 5, "0,10,'a',3,111*1");
	/* once every window that can end in the bucket has closed, its state is freed */
	watermark(&f.c, SEC + 3);
	step(&f.c);
	assert_int_equal(br_window_agg_open_panes(f.agg), 1);
	watermark(&f.c, SEC + 4); /* last possible end SEC - 1, + 5 allowed lateness */
	step(&f.c);
	assert_int_equal(br_window_agg_open_panes(f.agg), 0);
	expect(f.integ, 5, "0,10,'a',3,111*1");
	br_circuit_free(&f.c);
}

static void test_window_agg_on_close(void **state)
{
	wagg_fix f;
	wagg_build(&f, BR_EMIT_ON_WINDOW_CLOSE, 0, true); /* hop size 10 slide 5 */
	br_value r1[] = { S("a"), L(1), L(10), S("a"), L(7), L(1), S("b"), L(12), L(7) };
	feed(&f.c, f.in, 3, 3, r1, NULL);
	step(&f.c);
	assert_int_equal(f.agg->out.nrows, 0); /* nothing before a window closes */
	expect(f.integ, 5, "");
	int64_t neg[] = { -1 };
	feed(&f.c, f.in, 3, 1, r1 + 3, neg); /* retraction before close: never shows */
	watermark(&f.c, 10);                 /* closes [-5,5) and [0,10) (end <= 10) */
	step(&f.c);
	char *d = delta_text(f.agg);
	assert_string_equal(d, "-5,5,'a',1,10*1;0,10,'a',1,10*1");
	free(d);
	/* the emitted rows are final: only additions ever (append-only) */
	watermark(&f.c, 10);
	step(&f.c);
	assert_int_equal(f.agg->out.nrows, 0);
	watermark(&f.c, 100);
	step(&f.c);
	d = delta_text(f.agg);
	assert_string_equal(d, "10,20,'b',1,7*1;5,15,'b',1,7*1");
	free(d);
	watermark(&f.c, SEC);
	step(&f.c);
	assert_int_equal(f.agg->out.nrows, 0);
	assert_int_equal(br_window_agg_open_panes(f.agg), 0);
	expect(f.integ, 5, "-5,5,'a',1,10*1;0,10,'a',1,10*1;10,20,'b',1,7*1;5,15,'b',1,7*1");
	br_circuit_free(&f.c);
}

/* ---------------------------------------------------------- determinism
 *
 * 3 partitions of events (key, ts, v) in log order, out of order within the
 * partition by up to 3 s, with a few very late ones. Each run merges the
 * partitions in a different random interleaving, cuts steps at random
 * points, observes every record through a tracker (delay 3 s, lateness per
 * policy) and feeds accepted records to tumble(10 s) -> window agg. The
 * integrated output must be the same in every run; under changelog it must
 * equal the batch aggregate of the accepted records, under on_window_close
 * that aggregate restricted to windows closed by the final watermark. */

#define NP 3
#define NEV 600

typedef struct ev { int64_t ts, v, append; int key; } ev;

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

static void make_log(ev log[NP][NEV])
{
	uint64_t s = 7;
	for (int p = 0; p < NP; p++)
		for (int i = 0; i < NEV; i++) {
			int64_t base = (int64_t)i * SEC / 2 + p * 300000;
			int64_t jitter = (int64_t)(rnd(&s) % 3000) * 1000;
			if (rnd(&s) % 50 == 0)
				jitter += 20 * SEC; /* very late */
			else if (rnd(&s) % 25 == 0)
				jitter += 3 * SEC; /* late by less than the allowed lateness */
			log[p][i] = (ev){ base - jitter, (int64_t)(rnd(&s) % 100), base + SEC, (int)(rnd(&s) % 4) };
		}
}

static char *run_once(ev log[NP][NEV], uint64_t seed, int emit, int lateness, char **batch_out)
{
	br_time_opts o;
	br_time_opts_default(&o);
	strcpy(o.event_time, "ts");
	o.watermark_delay = 3 * SEC;
	o.lateness = lateness;
	o.allowed_lateness = lateness == BR_LATE_UPDATE ? 4 * SEC : 0;
	br_wm_tracker t;
	br_wm_init(&t, &o, NP);
	wagg_fix f;
	br_circuit_init(&f.c);
	br_type_id ty[3] = { BR_T_STRING, BR_T_LONG, BR_T_LONG };
	f.in = br_op_input(&f.c, 3, ty);
	f.win = br_op_window_assign(&f.c, f.in, BR_WIN_TUMBLE, 1, 10 * SEC, 0, 0);
	int g[3] = { 3, 4, 0 };
	br_agg_spec a[2] = { { .kind = BR_AGG_COUNT_STAR, .col = -1, .distinct = false, .type = BR_T_LONG }, { .kind = BR_AGG_SUM, .col = 2, .distinct = false, .type = BR_T_LONG } };
	f.agg = br_op_window_agg(&f.c, f.win, 3, 4, 3, g, 2, a, emit, o.allowed_lateness);
	f.integ = br_op_integrate(&f.c, f.agg);
	/* the batch reference: a plain aggregate over the accepted records */
	br_circuit bc;
	br_circuit_init(&bc);
	br_op *bin = br_op_input(&bc, 3, ty);
	br_op *bwin = br_op_window_assign(&bc, bin, BR_WIN_TUMBLE, 1, 10 * SEC, 0, 0);
	br_op *bagg = br_op_aggregate(&bc, bwin, 3, g, 2, a);
	br_op *binteg = br_op_integrate(&bc, bagg);
	br_batch acc, all;
	br_batch_init(&acc, f.in->out_type, true);
	br_batch_init(&all, f.in->out_type, true);
	int pos[NP] = { 0 };
	uint64_t s = seed;
	int left = NP * NEV;
	static const char *keys[4] = { "k0", "k1", "k2", "k3" };
	while (left) {
		int p = (int)(rnd(&s) % NP);
		int run = 1 + (int)(rnd(&s) % 40);
		for (int r = 0; r < run && pos[p] < NEV; r++, left--) {
			ev *e = &log[p][pos[p]++];
			int v = br_wm_observe(&t, p, false, e->ts, e->append, NULL);
			if (v != BR_TIME_ON_TIME && v != BR_TIME_LATE_UPDATE)
				continue;
			br_value row[3] = { S(keys[e->key]), L(e->ts), L(e->v) };
			br_batch_append_row(&acc, row, 1);
			br_batch_append_row(&all, row, 1);
		}
		if (rnd(&s) % 3 == 0 || !left) { /* a step boundary */
			br_err err = { 0 };
			assert_int_equal(br_circuit_feed(&f.c, f.in, &acc, &err), 0);
			br_batch_reset(&acc);
			watermark(&f.c, br_wm_global(&t));
			step(&f.c);
			assert_int_equal(br_window_agg_dropped(f.agg), 0);
		}
	}
	int64_t final_wm = br_wm_global(&t), nlate = 0, napplied = 0;
	for (int p = 0; p < NP; p++) {
		nlate += t.parts[p].late;
		napplied += t.parts[p].late_applied;
	}
	assert_true(nlate > 5); /* the fixture does exercise lateness */
	assert_true(lateness == BR_LATE_UPDATE ? napplied > 5 : napplied == 0);
	br_err err = { 0 };
	assert_int_equal(br_circuit_feed(&bc, bin, &all, &err), 0);
	step(&bc);
	char *got = contents(f.integ, 5);
	if (batch_out) {
		if (emit == BR_EMIT_CHANGELOG) {
			*batch_out = contents(binteg, 5);
		} else { /* only windows closed by the final watermark */
			br_arena ar;
			br_arena_init(&ar, 0);
			br_ztab z;
			br_ztab_init(&z, &ar);
			br_zent *e;
			br_value v[5];
			for (size_t i = 0; (e = br_ztab_next(br_op_contents(binteg), &i));) {
				assert_int_equal(br_row_decode(e->key, e->klen, v, 5, NULL), 0);
				if (e->w && v[1].v.i64 + o.allowed_lateness <= final_wm)
					br_ztab_upsert(&z, e->key, e->klen)->w = e->w;
			}
			*batch_out = ztab_text(&z, 5);
			br_ztab_free(&z);
			br_arena_free(&ar);
		}
	}
	br_batch_free(&acc);
	br_batch_free(&all);
	br_circuit_free(&bc);
	br_circuit_free(&f.c);
	br_wm_free(&t);
	return got;
}

static void test_determinism(void **state)
{
	static ev log[NP][NEV];
	make_log(log);
	for (int mode = 0; mode < 4; mode++) {
		int emit = mode & 1 ? BR_EMIT_ON_WINDOW_CLOSE : BR_EMIT_CHANGELOG;
		int lateness = mode & 2 ? BR_LATE_UPDATE : BR_LATE_DROP;
		char *batch = NULL;
		char *first = run_once(log, 1, emit, lateness, &batch);
		assert_true(strlen(first) > 100);
		if (strcmp(first, batch))
			fail_msg("mode %d: streamed\n%s\nbatch\n%s", mode, first, batch);
		for (uint64_t seed = 2; seed < 12; seed++) {
			char *again = run_once(log, seed, emit, lateness, NULL);
			if (strcmp(first, again))
				fail_msg("mode %d seed %" PRIu64 " differs:\n%s\n%s", mode, seed, first, again);
			free(again);
		}
		free(first);
		free(batch);
	}
}

static br_expr *xcol(int i)
{
	br_expr *e = calloc(1, sizeof *e);
	e->kind = BR_X_COL;
	e->col = i;
	e->type = BR_T_LONG;
	e->pos = -1;
	return e;
}

static br_expr *xconst(int64_t v)
{
	br_expr *e = calloc(1, sizeof *e);
	e->kind = BR_X_CONST;
	e->k = L(v);
	e->type = BR_T_LONG;
	e->pos = -1;
	return e;
}

static br_expr *xbin(br_xkind k, br_type_id t, br_expr *a, br_expr *b)
{
	br_expr *e = calloc(1, sizeof *e);
	e->kind = k;
	e->type = t;
	e->nargs = 2;
	e->args = calloc(2, sizeof *e->args);
	e->args[0] = a;
	e->args[1] = b;
	e->pos = -1;
	return e;
}

static void xfree(br_expr *e)
{
	for (int i = 0; i < e->nargs; i++)
		xfree(e->args[i]);
	free(e->args);
	free(e);
}

/* a(k, t) and b(k, t): a.t BETWEEN b.t - 5 AND b.t, by hand, then against a
 * hash join + filter under random inserts and deletes. */
static void test_interval_join(void **state)
{
	br_circuit c;
	br_circuit_init(&c);
	br_type_id ty[2] = { BR_T_STRING, BR_T_LONG };
	br_op *a = br_op_input(&c, 2, ty), *b = br_op_input(&c, 2, ty);
	int k0[1] = { 0 };
	br_op *j = br_op_interval_join(&c, a, b, 1, k0, k0, 1, 1, -5, 0, 0);
	br_op *it = br_op_integrate(&c, j);
	/* reference: equi-join then 0 >= a.t - b.t >= -5 */
	br_op *hj = br_op_join(&c, a, b, 1, k0, k0);
	br_expr *d = xbin(BR_X_SUB, BR_T_LONG, xcol(1), xcol(3));
	br_expr *pred = xbin(BR_X_AND, BR_T_BOOLEAN, xbin(BR_X_GE, BR_T_BOOLEAN, d, xconst(-5)),
			     xbin(BR_X_LE, BR_T_BOOLEAN, xcol(1), xcol(3)));
	br_op *ref = br_op_integrate(&c, br_op_filter(&c, hj, pred));
	br_value a1[] = { S("x"), L(10) }, b1[] = { S("x"), L(12), S("x"), L(20), S("y"), L(12) };
	feed(&c, a, 2, 1, a1, NULL);
	feed(&c, b, 2, 3, b1, NULL);
	step(&c);
	expect(it, 4, "'x',10,'x',12*1");
	br_value a2[] = { S("x"), L(18) };
	feed(&c, a, 2, 1, a2, NULL);
	step(&c);
	expect(it, 4, "'x',10,'x',12*1;'x',18,'x',20*1");
	int64_t neg[] = { -1 };
	feed(&c, b, 2, 1, b1 + 2, neg);
	step(&c);
	expect(it, 4, "'x',10,'x',12*1");
	assert_int_equal(br_interval_join_rows(j), 4);
	/* watermark 16: a rows with t + 5 < 16 (a.t = 10) and b rows with t < 16 (12, 12) go */
	watermark(&c, 16);
	step(&c);
	assert_int_equal(br_interval_join_rows(j), 1);
	expect(it, 4, "'x',10,'x',12*1");
	br_circuit_free(&c);

	/* random inserts/deletes without watermarks: equal to join + filter */
	br_circuit_init(&c);
	a = br_op_input(&c, 2, ty);
	b = br_op_input(&c, 2, ty);
	j = br_op_interval_join(&c, a, b, 1, k0, k0, 1, 1, -5, 0, 0);
	it = br_op_integrate(&c, j);
	hj = br_op_join(&c, a, b, 1, k0, k0);
	ref = br_op_integrate(&c, br_op_filter(&c, hj, pred));
	uint64_t r = 3;
	static const char *keys[3] = { "p", "q", "r" };
	br_value live[2][400];
	int nlive[2] = { 0, 0 };
	for (int st = 0; st < 60; st++) {
		for (int side = 0; side < 2; side++) {
			int n = (int)(rnd(&r) % 6);
			for (int i = 0; i < n; i++) {
				br_value row[2];
				int64_t w = 1;
				if (nlive[side] > 2 && rnd(&r) % 3 == 0) { /* delete a live row */
					int idx = (int)(rnd(&r) % (uint64_t)(nlive[side] / 2));
					row[0] = live[side][2 * idx];
					row[1] = live[side][2 * idx + 1];
					live[side][2 * idx] = live[side][nlive[side] - 2];
					live[side][2 * idx + 1] = live[side][nlive[side] - 1];
					nlive[side] -= 2;
					w = -1;
				} else {
					row[0] = S(keys[rnd(&r) % 3]);
					row[1] = L((int64_t)(rnd(&r) % 40));
					if (nlive[side] < 398) {
						live[side][nlive[side]++] = row[0];
						live[side][nlive[side]++] = row[1];
					}
					else
						continue;
				}
				feed(&c, side ? b : a, 2, 1, row, &w);
			}
		}
		step(&c);
		char *got = contents(it, 4), *want = contents(ref, 4);
		if (strcmp(got, want))
			fail_msg("step %d\ngot  %s\nwant %s", st, got, want);
		free(got);
		free(want);
	}
	br_circuit_free(&c);
	xfree(pred);
}

/* ---------------------------------------------------------------- SQL */

/* Runs sql; returns the last result's rows as sorted "a|b|c" lines joined by
 * ';' (or "ERR: message"). */
static char *q(br_sql *s, const char *sql)
{
	br_sql_result r = { 0 };
	br_err err = { 0 };
	if (br_sql_exec(s, sql, &r, &err))
		return br_xasprintf("ERR: %s", err.msg);
	size_t n = r.has_rows ? (size_t)r.rows.nrows : 0;
	char **lines = calloc(n + 1, sizeof *lines);
	for (size_t i = 0; i < n; i++) {
		br_buf b = { 0 };
		for (int c = 0; c < r.ncols; c++) {
			br_value v = br_col_value(&r.rows.cols[c], (int64_t)i);
			if (c)
				br_buf_printf(&b, "|");
			if (v.is_null)
				br_buf_printf(&b, "NULL");
			else
				br_value_format(&v, NULL, &b);
		}
		br_buf_u8(&b, 0);
		lines[i] = (char *)b.p;
	}
	qsort(lines, n, sizeof *lines, cmp_str);
	br_buf o = { 0 };
	for (size_t i = 0; i < n; i++) {
		br_buf_printf(&o, "%s%s", i ? ";" : "", lines[i]);
		free(lines[i]);
	}
	free(lines);
	br_buf_u8(&o, 0);
	br_sql_result_free(&r);
	return (char *)o.p;
}

static void qeq(br_sql *s, const char *sql, const char *want)
{
	char *got = q(s, sql);
	if (strcmp(got, want))
		fail_msg("%s\ngot  %s\nwant %s", sql, got, want);
	free(got);
}

static void qerr(br_sql *s, const char *sql, const char *want_substr)
{
	char *got = q(s, sql);
	if (strncmp(got, "ERR: ", 5) || !strstr(got, want_substr))
		fail_msg("%s\ngot  %s\nwant an error with \"%s\"", sql, got, want_substr);
	free(got);
}

static void test_sql_windows(void **state)
{
	br_sql *s = br_sql_open(NULL);
	qeq(s, "CREATE TABLE t(k text, ts bigint, v bigint)", "");
	qeq(s, "INSERT INTO t VALUES ('a', 0, 1), ('a', 9999999, 2), ('b', 10000000, 4), ('a', 12000000, 8), "
	       "('b', -1, 16)", "");
	/* boundaries: 9.999999 s is in [0,10), 10 s starts [10,20), -1 us is in [-10,0) */
	qeq(s, "SELECT k, ts, window_start, window_end FROM TUMBLE(t, ts, INTERVAL '10' SECOND)",
	    "a|0|0|10000000;a|12000000|10000000|20000000;a|9999999|0|10000000;b|-1|-10000000|0;"
	    "b|10000000|10000000|20000000");
	qeq(s, "SELECT window_start, k, count(*), sum(v) FROM TUMBLE(t, ts, INTERVAL '10 seconds') "
	       "GROUP BY window_start, window_end, k",
	    "-10000000|b|1|16;0|a|2|3;10000000|a|1|8;10000000|b|1|4");
	/* HOP(slide 5 s, size 10 s): every row is in two windows */
	qeq(s, "SELECT w.window_start, count(*) FROM HOP(t, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) AS w "
	       "GROUP BY 1, w.window_end",
	    "-10000000|1;-5000000|2;0|2;10000000|2;5000000|3");
	/* SESSION(gap 3 s) per key: a's 0 and 9.99 s are apart, 9.99 and 12 s together */
	qeq(s, "SELECT k, window_start, window_end, count(*) FROM SESSION(t, ts, INTERVAL '3' SECOND, k) "
	       "GROUP BY k, window_start, window_end",
	    "a|0|3000000|1;a|9999999|15000000|2;b|-1|2999999|1;b|10000000|13000000|1");
	/* a TUMBLE joined and filtered like any relation */
	qeq(s, "SELECT count(*) FROM TUMBLE(t, ts, INTERVAL '10' SECOND) WHERE window_start >= 0 AND k = 'a'", "3");
	/* offset: windows [2 s, 12 s) */
	qeq(s, "SELECT DISTINCT window_start FROM TUMBLE(t, ts, INTERVAL '10' SECOND, INTERVAL '2' SECOND)",
	    "-8000000;12000000;2000000");

	qerr(s, "SELECT * FROM TUMBLE(t, k, INTERVAL '10' SECOND)", "must be timestamp, timestamptz or bigint");
	qerr(s, "SELECT * FROM TUMBLE(t, ts)", "TUMBLE takes (table, time column, size [, offset])");
	qerr(s, "SELECT * FROM TUMBLE(nope, ts, INTERVAL '1' SECOND)", "relation \"nope\" does not exist");
	qerr(s, "SELECT * FROM TUMBLE(t, ts, INTERVAL '1' MONTH)", "months or years");
	qerr(s, "SELECT * FROM TUMBLE(t, ts, '5 parsecs')", "unknown unit");
	qerr(s, "SELECT * FROM generate_series(1, 3)", "unsupported: function generate_series in FROM");
	/* malformed calls fail cleanly */
	const char *bad[] = {
		"SELECT * FROM TUMBLE()", "SELECT * FROM TUMBLE(t.x, ts, 1)", "SELECT * FROM TUMBLE(t, ts, -5)",
		"SELECT * FROM TUMBLE(t, ts, INTERVAL '0' SECOND)", "SELECT * FROM HOP(t, ts, 1, 2, 3, 4)",
		"SELECT * FROM SESSION(t, ts, 1, nope)", "SELECT * FROM TUMBLE(t, ts, NULL)",
		"SELECT * FROM TUMBLE(t, ts, 'x'::text)", "SELECT * FROM LATERAL TUMBLE(t, ts, 1)",
		"SELECT * FROM TUMBLE(t, ts, 1) WITH ORDINALITY", "SELECT * FROM ROWS FROM (TUMBLE(t, ts, 1))",
		"SELECT * FROM TUMBLE(t, ts, INTERVAL '1e30' DAY)", "SELECT * FROM TUMBLE(t, ts, 1.5)",
		"SELECT * FROM HOP(t, ts, 1, 1000000)", "SELECT * FROM TUMBLE(t, 1, 1)", "SELECT * FROM TUMBLE(1, ts, 1)",
		"SELECT * FROM TUMBLE(t, ts, '1 s', '1 s', '1 s')", "SELECT * FROM SESSION(t, ts)",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *got = q(s, bad[i]);
		if (strncmp(got, "ERR: ", 5))
			fail_msg("%s: accepted: %s", bad[i], got);
		free(got);
	}
	/* extreme but valid: huge offset, times near the int64 ends */
	qeq(s, "SELECT count(*) FROM TUMBLE(t, ts, 10, -9223372036854775807)", "5");
	qeq(s, "CREATE TABLE ext(ts bigint); INSERT INTO ext VALUES (9223372036854775807), (-9223372036854775807), (0)",
	    "");
	qeq(s, "SELECT window_start FROM HOP(ext, ts, INTERVAL '1' DAY, INTERVAL '2' DAY)", "-86400000000;0");
	qerr(s, "CREATE MATERIALIZED VIEW bad WITH (emit = 'on_window_close') AS SELECT k FROM t",
	     "needs a GROUP BY window_start, window_end");
	qerr(s, "CREATE MATERIALIZED VIEW bad WITH (emit = 'sometimes') AS SELECT k FROM t", "emit must be");
	qerr(s, "CREATE TABLE u(ts bigint) WITH (event_time = 'nope')", "event_time column \"nope\" does not exist");
	qerr(s, "CREATE TABLE u(ts text) WITH (event_time = 'ts')", "must be timestamp");
	qerr(s, "CREATE TABLE u(ts bigint) WITH (event_time = 'ts', watermark_delay = 'soon')", "watermark_delay");
	qerr(s, "CREATE TABLE u(ts bigint) WITH (colour = 'blue')", "unsupported: table option \"colour\"");
	qeq(s, "SELECT count(*) FROM u", "ERR: relation \"u\" does not exist at character 22"); /* not half-created */
	br_sql_close(s);
}

/* A source with event time: lateness per partition, views in both emit
 * modes, forged timestamps through the ingest path, SHOW WATERMARKS. */
static void test_sql_emit_and_lateness(void **state)
{
	br_sql *s = br_sql_open(NULL);
	qeq(s, "CREATE TABLE t(k text, ts bigint, v bigint) WITH (event_time = 'ts', watermark_delay = '2 seconds', "
	       "lateness = 'update', allowed_lateness = '3 seconds', max_future_skew = '1 minute')", "");
	const char *agg = "SELECT window_start, window_end, k, count(*) AS n, sum(v) AS s FROM "
			  "TUMBLE(t, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, k";
	char *sql = br_xasprintf("CREATE MATERIALIZED VIEW cl AS %s;"
				 "CREATE MATERIALIZED VIEW owc WITH (emit = 'on_window_close') AS %s", agg, agg);
	qeq(s, sql, "");
	free(sql);
	/* windows over a column that is not the event time never close */
	qerr(s, "CREATE MATERIALIZED VIEW bad WITH (emit = 'on_window_close') AS SELECT window_start, window_end, "
		"count(*) FROM TUMBLE(t, v, 10) GROUP BY window_start, window_end", "of a table's event_time column");
	qeq(s, "CREATE MATERIALIZED VIEW byv AS SELECT window_start, window_end, count(*) FROM TUMBLE(t, v, 10) "
	       "GROUP BY window_start, window_end", "");
	qeq(s, "INSERT INTO t VALUES ('a', 1000000, 1), ('a', 9000000, 2)", "");
	qeq(s, "SELECT * FROM cl", "0|10000000|a|2|3");
	qeq(s, "SELECT * FROM owc", "");
	/* 14 s: watermark 12 s; [0,10) stays open until 10 + 3 (allowed lateness) */
	qeq(s, "INSERT INTO t VALUES ('a', 14000000, 4)", "");
	qeq(s, "SELECT * FROM owc", "");
	/* 9.5 s is late (below 12 s) but within the allowed 3 s: it updates [0,10) */
	qeq(s, "INSERT INTO t VALUES ('a', 9500000, 8)", "");
	qeq(s, "SELECT * FROM cl", "0|10000000|a|3|11;10000000|20000000|a|1|4");
	/* 16 s: watermark 14 s closes [0,10) (10 + 3 <= 14); on_window_close emits it, final */
	qeq(s, "INSERT INTO t VALUES ('b', 16000000, 16)", "");
	qeq(s, "SELECT * FROM owc", "0|10000000|a|3|11");
	/* 5 s is 9 s late: beyond the allowed lateness, dropped (never applied) */
	qeq(s, "INSERT INTO t VALUES ('a', 5000000, 32)", "");
	qeq(s, "SELECT * FROM cl", "0|10000000|a|3|11;10000000|20000000|a|1|4;10000000|20000000|b|1|16");
	qeq(s, "SELECT count(*) FROM t", "5");
	qeq(s, "SELECT * FROM byv", "0|10|4;10|20|1"); /* v = 1, 2, 4, 8 | 16: never closed */
	qeq(s, "SHOW WATERMARKS", "t|0|14000000|16000000|false|4|1|1|0");
	br_err err = { 0 };

	/* the ingest path: partition 1, broker append times; one forged event */
	assert_int_equal(br_sql_set_table_partitions(s, "t", 2, &err), 0);
	br_sql_table *tab = (br_sql_table *)br_sql_catalog(s)->vt->find(br_sql_catalog(s), "t");
	br_batch b;
	br_batch_init(&b, tab->rowtype, true);
	br_value r1[3] = { S("c"), L(15000000), L(64) }, r2[3] = { S("c"), L(4000000000000LL), L(128) };
	br_batch_append_row(&b, r1, 1);
	br_batch_append_row(&b, r2, 1);
	int64_t app[2] = { 20000000, 20000000 };
	uint8_t verdicts[2];
	const char *why[2];
	assert_int_equal(br_sql_ingest(s, "t", 1, &b, app, verdicts, why, &err), 0);
	assert_int_equal(verdicts[0], BR_TIME_ON_TIME);
	assert_int_equal(verdicts[1], BR_TIME_QUARANTINED);
	assert_non_null(strstr(why[1], "max_future_skew"));
	br_batch_free(&b);
	/* partition 1's watermark is 13 s: the global one stays at 14 s... */
	qeq(s, "SHOW WATERMARKS", "t|0|14000000|16000000|false|4|1|1|0;t|1|13000000|15000000|false|1|0|0|1");
	assert_int_equal(br_sql_table_watermark(s, "t"), 14000000);
	qeq(s, "SELECT * FROM owc", "0|10000000|a|3|11");
	/* ...until both partitions pass 23 s: [10,20) closes */
	br_batch_init(&b, tab->rowtype, true);
	br_value r3[3] = { S("c"), L(26000000), L(256) };
	br_batch_append_row(&b, r3, 1);
	assert_int_equal(br_sql_ingest(s, "t", 1, &b, app, NULL, NULL, &err), 0);
	qeq(s, "SELECT * FROM owc", "0|10000000|a|3|11");
	assert_int_equal(br_sql_ingest(s, "t", 0, &b, app, NULL, NULL, &err), 0);
	br_batch_free(&b);
	qeq(s, "SELECT * FROM owc",
	    "0|10000000|a|3|11;10000000|20000000|a|1|4;10000000|20000000|b|1|16;10000000|20000000|c|1|64");
	/* a view created later backfills and closes what the watermark already closed */
	sql = br_xasprintf("CREATE MATERIALIZED VIEW owc2 WITH (emit = 'on_window_close') AS %s", agg);
	qeq(s, sql, "");
	free(sql);
	qeq(s, "SELECT * FROM owc2",
	    "0|10000000|a|3|11;10000000|20000000|a|1|4;10000000|20000000|b|1|16;10000000|20000000|c|1|64");
	br_sql_close(s);
}

/* The same 3-partition log through br_sql_ingest with different interleavings
 * and batch sizes: identical views in both emit modes, equal to the batch
 * query over the accepted rows (on_window_close: over the closed windows). */
static const char *sql_agg_hop = "SELECT window_start, window_end, k, count(*), sum(v), min(v), max(v) FROM "
				 "HOP(t, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY window_start, window_end, k";
static const char *sql_agg_session = "SELECT window_start, window_end, k, count(*), sum(v) FROM "
				     "SESSION(t, ts, INTERVAL '300 ms', k) GROUP BY window_start, window_end, k";

static char *sql_run(ev log[NP][NEV], const char *agg, uint64_t seed, char **cl, char **batch, char **batch_closed)
{
	br_sql *s = br_sql_open(NULL);
	qeq(s, "CREATE TABLE t(k text, ts bigint, v bigint) WITH (event_time = 'ts', watermark_delay = '3 seconds', "
	       "lateness = 'update', allowed_lateness = '4 seconds')", "");
	char *sql = br_xasprintf("CREATE MATERIALIZED VIEW cl AS %s;"
				 "CREATE MATERIALIZED VIEW owc WITH (emit = 'on_window_close') AS %s", agg, agg);
	qeq(s, sql, "");
	free(sql);
	br_err perr = { 0 };
	assert_int_equal(br_sql_set_table_partitions(s, "t", NP, &perr), 0);
	br_sql_table *tab = (br_sql_table *)br_sql_catalog(s)->vt->find(br_sql_catalog(s), "t");
	static const char *keys[4] = { "k0", "k1", "k2", "k3" };
	int pos[NP] = { 0 }, left = NP * NEV;
	uint64_t r = seed;
	while (left) {
		int p = (int)(rnd(&r) % NP);
		int run = 1 + (int)(rnd(&r) % 60);
		br_batch b;
		br_batch_init(&b, tab->rowtype, true);
		int64_t app[64];
		for (int i = 0; i < run && pos[p] < NEV; i++, left--) {
			ev *e = &log[p][pos[p]++];
			br_value row[3] = { S(keys[e->key]), L(e->ts), L(e->v) };
			app[b.nrows] = e->append;
			br_batch_append_row(&b, row, 1);
		}
		br_err err = { 0 };
		if (br_sql_ingest(s, "t", p, &b, app, NULL, NULL, &err))
			fail_msg("ingest: %s", err.msg);
		br_batch_free(&b);
	}
	char *owc = q(s, "SELECT * FROM owc");
	*cl = q(s, "SELECT * FROM cl");
	if (batch) {
		*batch = q(s, agg);
		sql = br_xasprintf("SELECT * FROM (%s) AS a WHERE window_end + 4000000 <= %" PRId64, agg,
				   br_sql_table_watermark(s, "t"));
		*batch_closed = q(s, sql);
		free(sql);
	}
	br_sql_close(s);
	return owc;
}

static void sql_determinism(ev log[NP][NEV], const char *agg)
{
	char *cl, *batch, *closed;
	char *owc = sql_run(log, agg, 1, &cl, &batch, &closed);
	assert_true(strlen(owc) > 1000);
	if (strcmp(cl, batch))
		fail_msg("changelog view != batch query:\n%s\n%s", cl, batch);
	if (strcmp(owc, closed))
		fail_msg("on_window_close view != batch query over closed windows:\n%s\n%s", owc, closed);
	for (uint64_t seed = 2; seed < 6; seed++) {
		char *cl2;
		char *owc2 = sql_run(log, agg, seed, &cl2, NULL, NULL);
		if (strcmp(owc, owc2) || strcmp(cl, cl2))
			fail_msg("seed %" PRIu64 " gives a different view", seed);
		free(owc2);
		free(cl2);
	}
	free(owc);
	free(cl);
	free(batch);
	free(closed);
}

/* Feeds 200 random batches (some rows late) to the timed tables a(k, ts, x)
 * and b(k, ts); after each, view `view` must equal the batch query qry. */
static void random_ingest(br_sql *s, const char *view, const char *qry, br_type_id tt, const char *owc_view,
			  bool only_a);
static void interval_join_random(br_sql *s, const char *view, const char *qry, br_type_id tt)
{
	random_ingest(s, view, qry, tt, NULL, false);
}

/* ... and when owc_view is given, that view (on_window_close, a column `we`
 * = window_end, allowed lateness 1 s) must equal the batch query over the
 * windows closed by the watermark of both tables. */
static void random_ingest(br_sql *s, const char *view, const char *qry, br_type_id tt, const char *owc_view,
			  bool only_a)
{
	br_err err = { 0 };
	br_sql_table *ta = (br_sql_table *)br_sql_catalog(s)->vt->find(br_sql_catalog(s), "a");
	br_sql_table *tb = (br_sql_table *)br_sql_catalog(s)->vt->find(br_sql_catalog(s), "b");
	uint64_t r = 11;
	int64_t now = tt == BR_T_LONG ? 0 : 1700000000LL * SEC;
	char *sel = br_xasprintf("SELECT * FROM %s", view);
	for (int st = 0; st < 200; st++) {
		bool side = rnd(&r) % 2 && !only_a;
		br_batch bt;
		br_batch_init(&bt, side ? tb->rowtype : ta->rowtype, true);
		int n = 1 + (int)(rnd(&r) % 5);
		for (int i = 0; i < n; i++) {
			now += 100000;
			int64_t ts = now - (int64_t)(rnd(&r) % 1500000); /* sometimes late */
			br_value row[3] = { L((int64_t)(rnd(&r) % 4)), br_value_i64(tt, ts), L(st) };
			br_batch_append_row(&bt, row, 1);
		}
		if (br_sql_ingest(s, side ? "b" : "a", 0, &bt, NULL, NULL, NULL, &err))
			fail_msg("%s", err.msg);
		br_batch_free(&bt);
		char *v = q(s, sel), *want = q(s, qry);
		if (strcmp(v, want))
			fail_msg("%s step %d\nview  %s\nbatch %s", view, st, v, want);
		if (owc_view) {
			int64_t wa = br_sql_table_watermark(s, "a"), wb = br_sql_table_watermark(s, "b");
			int64_t wm = only_a || wa < wb ? wa : wb;
			char *o = br_xasprintf("SELECT * FROM %s", owc_view);
			char *c = tt == BR_T_LONG ? br_xasprintf("SELECT * FROM (%s) AS x WHERE we + 1000000 <= %" PRId64, qry, wm)
				  : br_xasprintf("SELECT * FROM (%s) AS x WHERE we + INTERVAL '1 second' <= "
						 "TIMESTAMP '1970-01-01' + %" PRId64 " * INTERVAL '1 microsecond'", qry, wm);
			char *ov = q(s, o), *cv = wm == BR_TIME_NONE ? br_xstrdup("") : q(s, c);
			if (strcmp(ov, cv))
				fail_msg("%s step %d (watermark %" PRId64 ")\nview  %s\nbatch %s", owc_view, st, wm, ov, cv);
			free(o);
			free(c);
			free(ov);
			free(cv);
		}
		if (st == 199)
			assert_true(strlen(v) > 200);
		free(v);
		free(want);
	}
	free(sel);
}

static void explain_has(br_sql *s, const char *view, const char *want)
{
	char *plan = NULL;
	br_err err = { 0 };
	assert_int_equal(br_sql_explain_view(s, view, &plan, &err), 0);
	if (want[0] == '!' ? strstr(plan, want + 1) != NULL : !strstr(plan, want))
		fail_msg("EXPLAIN %s: want %s\n%s", view, want, plan);
	free(plan);
}

static void create_view(br_sql *s, const char *name, const char *with, const char *qry)
{
	char *sql = br_xasprintf("CREATE MATERIALIZED VIEW %s %s AS %s", name, with, qry);
	qeq(s, sql, "");
	free(sql);
}

/* An interval join between two timed tables: lowered to the interval join
 * (EXPLAIN), equal to the batch query after every ingest. */
static void test_sql_interval_join(void **state)
{
	br_sql *s = br_sql_open(NULL);
	qeq(s, "CREATE TABLE a(k bigint, ts bigint, x bigint) WITH (event_time = 'ts', watermark_delay = '1 second');"
	       "CREATE TABLE b(k bigint, ts bigint) WITH (event_time = 'ts', watermark_delay = '1 second')", "");
	const char *qry = "SELECT a.k, a.ts, a.x, b.ts FROM a JOIN b ON a.k = b.k "
			  "WHERE a.ts BETWEEN b.ts - 3000000 AND b.ts + 1000000";
	create_view(s, "j", "", qry);
	explain_has(s, "j", "interval join keys=1 a.t - b.t in [-3000000us, 1000000us]");
	/* a join over a column that is not the event time stays a hash join */
	create_view(s, "j2", "", "SELECT a.k FROM a JOIN b ON a.k = b.k WHERE a.x BETWEEN b.ts - 1 AND b.ts");
	explain_has(s, "j2", "!interval");
	interval_join_random(s, "j", qry, BR_T_LONG);
	br_sql_close(s);
}

/* The same on TIMESTAMP columns with INTERVAL arithmetic, in every spelling. */
static void test_sql_interval_join_timestamps(void **state)
{
	br_sql *s = br_sql_open(NULL);
	qeq(s, "CREATE TABLE a(k bigint, ts timestamp, x bigint) WITH (event_time = 'ts', watermark_delay = '1 second');"
	       "CREATE TABLE b(k bigint, ts timestamp) WITH (event_time = 'ts', watermark_delay = '1 second')", "");
	/* the SQL-standard field qualifier binds like PostgreSQL's */
	qeq(s, "SELECT INTERVAL '10' SECOND, INTERVAL '2' MINUTE, INTERVAL '1.5' HOUR, INTERVAL '1' DAY TO SECOND, "
	       "INTERVAL '1 day 2 hours' DAY TO HOUR",
	    "00:00:10|00:02:00|01:30:00|00:00:01|1 day 02:00:00");
	qerr(s, "SELECT CAST(k AS INTERVAL SECOND) FROM a", "field qualifier");
	const char *q1 = "SELECT a.k, a.ts, a.x, b.ts FROM a JOIN b ON a.k = b.k "
			 "WHERE a.ts BETWEEN b.ts - INTERVAL '3' SECOND AND b.ts + INTERVAL '1 second'";
	create_view(s, "j1", "", q1);
	explain_has(s, "j1", "interval join keys=1 a.t - b.t in [-3000000us, 1000000us]");
	/* >= / <= / <, the constant on either side, the sides swapped, in ON */
	const char *q2 = "SELECT a.k, a.ts, b.ts FROM b JOIN a ON a.k = b.k AND a.ts >= b.ts - INTERVAL '2 seconds' "
			 "AND INTERVAL '500 ms' + b.ts > a.ts";
	create_view(s, "j2", "", q2);
	/* the join's left side is b here: b.ts - a.ts in (-0.5 s, 2 s] */
	explain_has(s, "j2", "interval join keys=1 a.t - b.t in [-499999us, 2000000us]");
	const char *q3 = "SELECT a.k, a.ts, b.ts FROM a, b WHERE a.k = b.k AND b.ts <= a.ts AND "
			 "a.ts < b.ts + INTERVAL '00:00:02'";
	create_view(s, "j3", "", q3);
	explain_has(s, "j3", "interval join keys=1 a.t - b.t in [0us, 1999999us]");
	/* a month has no fixed length: not an interval join (correct, unbounded) */
	create_view(s, "jm", "", "SELECT a.k FROM a JOIN b ON a.k = b.k WHERE a.ts BETWEEN b.ts - INTERVAL '1' MONTH AND b.ts");
	explain_has(s, "jm", "!interval join");
	interval_join_random(s, "j1", q1, BR_T_TIMESTAMP);
	br_sql_close(s);
	s = br_sql_open(NULL);
	qeq(s, "CREATE TABLE a(k bigint, ts timestamp, x bigint) WITH (event_time = 'ts', watermark_delay = '1 second');"
	       "CREATE TABLE b(k bigint, ts timestamp) WITH (event_time = 'ts', watermark_delay = '1 second')", "");
	create_view(s, "j2", "", q2);
	interval_join_random(s, "j2", q2, BR_T_TIMESTAMP);
	create_view(s, "j3", "", q3);
	br_sql_close(s);
}

/* br_op_window_join by hand: rows match on key and window end; a window's
 * rows stay until the watermark passes its end + allowed lateness. */
static void test_window_join_release(void **state)
{
	br_circuit c;
	br_circuit_init(&c);
	br_type_id ty[3] = { BR_T_STRING, BR_T_LONG, BR_T_LONG }; /* k, window_start, window_end */
	br_op *a = br_op_input(&c, 3, ty), *b = br_op_input(&c, 3, ty);
	int ka[2] = { 0, 2 };
	br_op *j = br_op_window_join(&c, a, b, 2, ka, ka, 2, 2, 5);
	br_op *it = br_op_integrate(&c, j);
	br_value a1[] = { S("x"), L(0), L(10), S("x"), L(10), L(20) }, b1[] = { S("x"), L(0), L(10), S("y"), L(0), L(10) };
	feed(&c, a, 3, 2, a1, NULL);
	feed(&c, b, 3, 2, b1, NULL);
	step(&c);
	expect(it, 6, "'x',0,10,'x',0,10*1");
	assert_int_equal(br_interval_join_rows(j), 4);
	/* watermark 15 = end 10 + lateness 5: window [0,10) may still change */
	watermark(&c, 15);
	step(&c); /* watermarks act at the next step */
	assert_int_equal(br_interval_join_rows(j), 4);
	/* a late update of window [0,10) retracts and re-joins */
	int64_t w[] = { -1, 1 };
	br_value b2[] = { S("x"), L(0), L(10), S("x"), L(0), L(10) };
	feed(&c, b, 3, 2, b2, w);
	step(&c);
	expect(it, 6, "'x',0,10,'x',0,10*1");
	/* watermark 16: [0,10) is closed on both sides, its 3 rows are freed */
	watermark(&c, 16);
	step(&c);
	assert_int_equal(br_interval_join_rows(j), 1);
	br_value b3[] = { S("x"), L(10), L(20) };
	feed(&c, b, 3, 1, b3, NULL);
	step(&c);
	expect(it, 6, "'x',0,10,'x',0,10*1;'x',10,20,'x',10,20*1");
	watermark(&c, 100);
	step(&c);
	assert_int_equal(br_interval_join_rows(j), 0);
	br_buf e = { 0 };
	br_circuit_explain(&c, &e);
	br_buf_u8(&e, 0);
	assert_non_null(strstr((char *)e.p, "window join keys=2 on window_end"));
	br_buf_free(&e);
	br_circuit_free(&c);
}

/* br_op_window_topn by hand: the highest value per window (partitioned by
 * window_start alone, the end found by the size), released on close; under
 * on_window_close each window's final top row appears once. */
static void test_window_topn_release(void **state)
{
	for (int emit = 0; emit < 2; emit++) {
		br_circuit c;
		br_circuit_init(&c);
		br_type_id ty[3] = { BR_T_STRING, BR_T_LONG, BR_T_LONG }; /* k, v, window_start */
		br_op *in = br_op_input(&c, 3, ty);
		br_window_cols wc = { 2, -1, 10 * SEC, emit, 0 };
		int part[1] = { 2 }, kinds[1] = { BR_WIN_ROW_NUMBER };
		br_sort_key key[1] = { { 1, true, false } };
		br_op *t = br_op_window_topn(&c, in, &wc, 1, part, 1, key, 1, kinds, 1);
		br_op *it = br_op_integrate(&c, t);
		br_value r1[] = { S("x"), L(5), L(0), S("y"), L(7), L(0), S("z"), L(1), L(10 * SEC) };
		feed(&c, in, 3, 3, r1, NULL);
		step(&c);
		expect(it, 4, emit ? "" : "'y',7,0,1*1;'z',1,10000000,1*1");
		/* y's retraction before the close: x is now on top */
		int64_t w[] = { -1 };
		feed(&c, in, 3, 1, r1 + 3, w);
		watermark(&c, 10 * SEC); /* closes [0,10 s) (end = 0 + 10 s) */
		step(&c);
		expect(it, 4, emit ? "'x',5,0,1*1" : "'x',5,0,1*1;'z',1,10000000,1*1");
		/* panes are 1 s buckets of window end: [10 s, 11 s) is not wholly closed yet */
		assert_int_equal(br_window_agg_open_panes(t), 2);
		/* rows for a closed window are dropped */
		br_value late[] = { S("q"), L(99), L(0) };
		feed(&c, in, 3, 1, late, NULL);
		watermark(&c, 21 * SEC);
		step(&c);
		expect(it, 4, "'x',5,0,1*1;'z',1,10000000,1*1");
		assert_int_equal(br_window_agg_open_panes(t), 0);
		assert_int_equal(br_window_agg_dropped(t), 1);
		br_circuit_free(&c);
	}
}

/* Window joins (Nexmark q8's shape): two windowed aggregates joined on the
 * window and a key, lowered to a window join; both emit modes equal the
 * batch query after every ingest. */
static void test_sql_window_join(void **state)
{
	br_sql *s = br_sql_open(NULL);
	qeq(s, "CREATE TABLE a(k bigint, ts timestamp, x bigint) WITH (event_time = 'ts', watermark_delay = '1 second', "
	       "lateness = 'update', allowed_lateness = '1 second');"
	       "CREATE TABLE b(k bigint, ts timestamp) WITH (event_time = 'ts', watermark_delay = '500 ms', "
	       "lateness = 'update', allowed_lateness = '1 second')", "");
	const char *qry =
		"SELECT A.k, A.ws, A.we, A.n, A.sx, B.n AS bn FROM "
		"(SELECT k, window_start AS ws, window_end AS we, count(*) AS n, sum(x) AS sx "
		" FROM TUMBLE(a, ts, INTERVAL '2' SECOND) GROUP BY k, window_start, window_end) A "
		"JOIN (SELECT k, window_start AS ws, window_end AS we, count(*) AS n "
		" FROM TUMBLE(b, ts, INTERVAL '2' SECOND) GROUP BY k, window_start, window_end) B "
		"ON A.k = B.k AND A.ws = B.ws AND A.we = B.we";
	create_view(s, "wj", "", qry);
	create_view(s, "wjc", "WITH (emit = 'on_window_close')", qry);
	explain_has(s, "wj", "window join keys=3 on window_end");
	explain_has(s, "wj", "window aggregate groups=3 aggs=2 emit=changelog");
	explain_has(s, "wjc", "window aggregate groups=3 aggs=1 emit=on_window_close");
	/* raw windowed rows joined on the window (no aggregate) */
	const char *raw = "SELECT x.k, x.ts, y.ts AS bts, x.window_end AS we FROM TUMBLE(a, ts, INTERVAL '1' SECOND) AS x "
			  "JOIN TUMBLE(b, ts, INTERVAL '1' SECOND) AS y ON x.k = y.k AND x.window_end = y.window_end";
	create_view(s, "wr", "", raw);
	explain_has(s, "wr", "window join keys=2");
	/* a SESSION's end moves while it grows: a plain join */
	create_view(s, "ws", "", "SELECT x.k FROM SESSION(a, ts, INTERVAL '1' SECOND, k) AS x "
				 "JOIN SESSION(b, ts, INTERVAL '1' SECOND, k) AS y ON x.k = y.k AND x.window_end = y.window_end");
	explain_has(s, "ws", "!window join");
	/* windowed rows joined with a plain table: the table's rows may come
	 * after the window closed, so the GROUP BY above is a plain aggregate */
	qeq(s, "CREATE TABLE d(k bigint, name text)", "");
	const char *dim = "SELECT x.window_end AS we, d.name, count(*) AS n FROM TUMBLE(a, ts, INTERVAL '1' SECOND) AS x "
			  "JOIN d ON x.k = d.k GROUP BY x.window_start, x.window_end, d.name";
	create_view(s, "wd", "", dim);
	explain_has(s, "wd", "!window aggregate");
	random_ingest(s, "wj", qry, BR_T_TIMESTAMP, "wjc", false);
	char *n = q(s, "SELECT count(*) > 20 FROM wjc"); /* the comparison above was not vacuous */
	assert_string_equal(n, "true");
	free(n);
	char *sel = q(s, "SELECT * FROM wr"), *want = q(s, raw);
	assert_string_equal(sel, want);
	free(sel);
	free(want);
	/* a dimension row arriving long after the windows closed still counts */
	qeq(s, "INSERT INTO d VALUES (1, 'one'), (2, 'two')", "");
	sel = q(s, "SELECT * FROM wd");
	want = q(s, dim);
	assert_string_equal(sel, want);
	assert_true(strlen(sel) > 100);
	free(sel);
	free(want);
	br_sql_close(s);
}

/* ROW_NUMBER() top-N per window (Nexmark q7: the highest bid of each window;
 * q5: the hottest items of each hopping window, over a windowed aggregate)
 * and GROUP BY window_start alone: per-window operators, both emit modes
 * equal to the batch query after every ingest. */
static void test_sql_window_topn(void **state)
{
	const char *q7 = "SELECT * FROM (SELECT k, x, ts, window_end AS we, ROW_NUMBER() OVER "
			 "(PARTITION BY window_start, window_end ORDER BY x DESC) AS rn "
			 "FROM TUMBLE(a, ts, INTERVAL '2' SECOND)) AS t WHERE rn <= 1";
	const char *q5 = "SELECT * FROM (SELECT k, n, we, ROW_NUMBER() OVER (PARTITION BY we ORDER BY n DESC, k) AS rn "
			 "FROM (SELECT k, window_end AS we, count(*) AS n FROM HOP(a, ts, INTERVAL '1' SECOND, "
			 "INTERVAL '3' SECOND) GROUP BY k, window_start, window_end) AS c) AS t WHERE rn <= 2";
	const char *qs = "SELECT window_start + INTERVAL '2' SECOND AS we, k, count(*) AS n, max(x) AS mx "
			 "FROM TUMBLE(a, ts, INTERVAL '2' SECOND) GROUP BY window_start, k";
	const char *qe = "SELECT window_end AS we, count(*) AS n FROM HOP(a, ts, INTERVAL '1' SECOND, INTERVAL '2' SECOND) "
			 "GROUP BY window_end";
	/* Nexmark's own q7: bids joined by time with their window's maximum; the
	 * window_end of a window on event time bounds an interval join too */
	const char *q7j = "SELECT B.k, B.x, B.ts, B1.we FROM a AS B JOIN (SELECT max(x) AS mx, window_end AS we "
			  "FROM TUMBLE(a, ts, INTERVAL '2' SECOND) GROUP BY window_start, window_end) AS B1 "
			  "ON B.x = B1.mx WHERE B.ts BETWEEN B1.we - INTERVAL '2' SECOND AND B1.we";
	const char *qry[] = { q7, q5, qs, qe, q7j };
	const char *plans[] = { "window top-n partitions=2 limit=1", "window top-n partitions=1 limit=2",
				"window aggregate groups=2 aggs=2", "window aggregate groups=1 aggs=1",
				"interval join keys=1 a.t - b.t in [-2000000us, 0us]" };
	for (int i = 0; i < 5; i++) {
		br_sql *s = br_sql_open(NULL);
		qeq(s, "CREATE TABLE a(k bigint, ts timestamp, x bigint) WITH (event_time = 'ts', "
		       "watermark_delay = '1 second', lateness = 'update', allowed_lateness = '1 second');"
		       "CREATE TABLE b(k bigint, ts timestamp)", "");
		create_view(s, "v", "", qry[i]);
		create_view(s, "vc", "WITH (emit = 'on_window_close')", qry[i]);
		explain_has(s, "v", plans[i]);
		explain_has(s, "vc", plans[i]);
		random_ingest(s, "v", qry[i], BR_T_TIMESTAMP, "vc", true);
		char *n = q(s, "SELECT count(*) > 20 FROM vc");
		assert_string_equal(n, "true");
		free(n);
		br_sql_close(s);
	}
	/* a ranking not partitioned by the window stays the plain operator */
	br_sql *s = br_sql_open(NULL);
	qeq(s, "CREATE TABLE a(k bigint, ts timestamp, x bigint) WITH (event_time = 'ts')", "");
	create_view(s, "p", "", "SELECT * FROM (SELECT k, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x) AS rn "
				"FROM TUMBLE(a, ts, INTERVAL '2' SECOND)) AS t WHERE rn <= 1");
	explain_has(s, "p", "!window top-n");
	br_sql_close(s);
}

static void test_sql_determinism(void **state)
{
	static ev log[NP][NEV];
	make_log(log);
	sql_determinism(log, sql_agg_hop);
	sql_determinism(log, sql_agg_session);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_intervals),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_tracker_lateness),
		cmocka_unit_test(test_tracker_partitions_idle),
		cmocka_unit_test(test_forged_timestamp),
		cmocka_unit_test(test_tumble_hop_assign),
		cmocka_unit_test(test_session_merge_split),
		cmocka_unit_test(test_window_agg_changelog),
		cmocka_unit_test(test_window_agg_on_close),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_interval_join),
		cmocka_unit_test(test_sql_windows),
		cmocka_unit_test(test_sql_emit_and_lateness),
		cmocka_unit_test(test_sql_interval_join),
		cmocka_unit_test(test_sql_interval_join_timestamps),
		cmocka_unit_test(test_window_join_release),
		cmocka_unit_test(test_window_topn_release),
		cmocka_unit_test(test_sql_window_join),
		cmocka_unit_test(test_sql_window_topn),
		cmocka_unit_test(test_sql_determinism),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
