/* window.c — time in SQL: binding the window table functions (TUMBLE, HOP,
 * SESSION) and lowering them and windowed GROUP BYs to flow's window
 * operators; table time options, per-table watermark trackers, the ingest
 * path (lateness per partition, watermarks to views) and SHOW WATERMARKS. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/util.h"
#include "sql/pgnode.h"
#include "sql/window.h"

/* Provided by exec.c: where the session keeps window.c's state. */
void **br_sql_time_slot(br_sql *s);

static int perr(br_err *err, int loc, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int perr(br_err *err, int loc, int code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (loc >= 0)
		return br_errf(err, code, "%s at character %d", msg, loc + 1);
	return br_errf(err, code, "%s", msg);
}

static bool is_time_type(br_type_id t)
{
	return t == BR_T_LONG || t == BR_T_TIMESTAMP || t == BR_T_TIMESTAMPTZ;
}

/* ------------------------------------------------------ session state */

typedef struct ttime {
	br_time_opts opts;
	br_wm_tracker own;
	/* &own, or the tracker of a catalog that decides time as it reads its
	 * log (vt->tracker: borrowed, and rows reach it as records) */
	br_wm_tracker *wm;
	bool borrowed;
	int64_t delivered;  /* borrowed: the global watermark views were last stepped at */
} ttime;

typedef struct stime {
	br_map tables; /* table name -> ttime* */
} stime;

static stime *st_of(br_sql *s, bool create)
{
	void **slot = br_sql_time_slot(s);
	if (!*slot && create)
		*slot = br_xcalloc(1, sizeof(stime));
	return *slot;
}

void br_sql_time_free(br_sql *s)
{
	stime *st = st_of(s, false);
	if (!st)
		return;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&st->tables, &i, &slot);) {
		ttime *t = slot->val;
		br_wm_free(&t->own);
		free(t);
	}
	br_map_free(&st->tables);
	free(st);
	*br_sql_time_slot(s) = NULL;
}

static ttime *table_time(br_sql *s, const char *table)
{
	stime *st = st_of(s, false);
	return st ? br_map_gets(&st->tables, table) : NULL;
}

const br_time_opts *br_sql_table_time(br_sql *s, const char *table)
{
	ttime *t = table_time(s, table);
	return t ? &t->opts : NULL;
}

int64_t br_sql_table_watermark(br_sql *s, const char *table)
{
	ttime *t = table_time(s, table);
	return t ? t->wm->global : BR_TIME_NONE;
}

int br_sql_time_defelem(br_time_opts *o, json_t *defelem, br_err *err)
{
	json_t *d;
	if (strcmp(ntype(defelem, &d), "DefElem"))
		return br_errf(err, BR_EINVAL, "malformed option");
	const char *key = jstr(d, "defname");
	json_t *arg = jget(d, "arg"), *ain;
	const char *t = ntype(arg, &ain);
	char num[32];
	const char *val = NULL;
	if (!strcmp(t, "String"))
		val = jstr(ain, "sval");
	else if (!strcmp(t, "TypeName")) /* an unquoted word: lateness = drop */
		val = jstr(jget(json_array_get(jget(ain, "names"), json_array_size(jget(ain, "names")) - 1), "String"),
			   "sval");
	else if (!strcmp(t, "Integer")) {
		snprintf(num, sizeof num, "%" PRId64, (int64_t)json_integer_value(jget(ain, "ival")));
		val = num;
	}
	if (!key)
		return br_errf(err, BR_EINVAL, "malformed option");
	if (!val)
		return br_errf(err, BR_EINVAL, "option %s needs a quoted value", key);
	return br_time_parse_option(o, key, val, err);
}

int br_sql_set_table_time(br_sql *s, const char *table, const br_time_opts *o, br_err *err)
{
	stime *st = st_of(s, true);
	ttime *old = br_map_del(&st->tables, table, strlen(table));
	if (old) {
		br_wm_free(&old->own);
		free(old);
	}
	if (!o || !o->event_time[0])
		return 0;
	br_catalog *cat = br_sql_catalog(s);
	const br_sql_table *t = cat->vt->find(cat, table);
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", table);
	br_wm_tracker *tr = cat->vt->tracker ? cat->vt->tracker(cat, table) : NULL;
	if (tr) { /* the catalog checked the options and judges the records */
		ttime *n = br_xcalloc(1, sizeof *n);
		n->opts = tr->opts;
		n->wm = tr;
		n->borrowed = true;
		n->delivered = tr->global;
		br_map_put(&st->tables, table, strlen(table), n);
		return 0;
	}
	if (strcmp(o->event_time, "_append_time")) {
		int c = -1;
		for (int i = 0; i < t->ncols; i++)
			if (!strcmp(t->cols[i], o->event_time))
				c = i;
		if (c < 0)
			return br_errf(err, BR_EINVAL, "event_time column \"%s\" does not exist in \"%s\"", o->event_time,
				       table);
		if (!is_time_type(t->types[c]))
			return br_errf(err, BR_EINVAL,
				       "event_time column \"%s\" is %s; it must be timestamp, timestamptz or bigint "
				       "(microseconds since the epoch)", o->event_time, br_flow_type_name(t->types[c]));
	}
	ttime *n = br_xcalloc(1, sizeof *n);
	n->opts = *o;
	br_wm_init(&n->own, o, 1);
	n->wm = &n->own;
	br_map_put(&st->tables, table, strlen(table), n);
	return 0;
}

int br_sql_set_table_partitions(br_sql *s, const char *table, int nparts, br_err *err)
{
	ttime *t = table_time(s, table);
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "table \"%s\" has no event time", table);
	if (nparts < 1 || nparts < t->wm->nparts)
		return br_errf(err, BR_EINVAL, "table \"%s\": partition count %d (has %d)", table, nparts, t->wm->nparts);
	br_wm_set_partitions(t->wm, nparts);
	return 0;
}

int br_sql_table_options(br_sql *s, const char *table, json_t *options, br_err *err)
{
	br_time_opts o;
	br_time_opts_default(&o);
	size_t i;
	json_t *d;
	json_array_foreach(options, i, d) {
		int rc = br_sql_time_defelem(&o, d, err);
		if (rc == BR_ENOTFOUND) {
			json_t *in;
			ntype(d, &in);
			return perr(err, jloc(in), BR_EUNSUPPORTED, "unsupported: table option \"%s\"",
				    jstr(in, "defname") ? jstr(in, "defname") : "?");
		}
		if (rc)
			return rc;
	}
	/* Cross-option checks (event_time present, allowed_lateness needs update). */
	int rc = br_time_parse_options(&o, 0, NULL, NULL, err);
	if (rc)
		return rc;
	return br_sql_set_table_time(s, table, &o, err);
}

void br_sql_time_adopt(br_sql *s)
{
	br_catalog *cat = br_sql_catalog(s);
	char **names;
	int n;
	if (!cat->vt->tracker || !cat->vt->list || cat->vt->list(cat, &names, &n))
		return;
	for (int i = 0; i < n; i++) {
		br_wm_tracker *tr = cat->vt->tracker(cat, names[i]);
		br_err err = { 0 };
		if (tr && br_sql_set_table_time(s, names[i], &tr->opts, &err))
			br_warn("table %s: %s", names[i], err.msg);
		free(names[i]);
	}
	free(names);
}

int br_sql_time_polled(br_sql *s, br_err *err)
{
	stime *st = st_of(s, false);
	if (!st)
		return 0;
	/* names first: stepping views must not run while the map is walked */
	char **moved = br_xcalloc(st->tables.count + 1, sizeof *moved);
	size_t n = 0;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&st->tables, &i, &slot);) {
		ttime *t = slot->val;
		if (t->borrowed && t->wm->global != t->delivered) {
			t->delivered = t->wm->global;
			moved[n++] = br_xstrdup(slot->key);
		}
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = br_sql_views_watermark(s, moved[i], err);
		free(moved[i]);
	}
	free(moved);
	return rc;
}

/* ------------------------------------------------------------ ingest */

int br_sql_ingest(br_sql *s, const char *table, int partition, const br_batch *rows, const int64_t *append_times,
		  uint8_t *verdicts, const char **reasons, br_err *err)
{
	ttime *t = table_time(s, table);
	if (!t || t->borrowed) /* borrowed: the rows become records, judged when the catalog reads them back */
		return br_sql_apply(s, table, rows, err);
	if (partition < 0)
		return br_errf(err, BR_EINVAL, "partition %d", partition);
	const br_sql_table *tab = br_sql_catalog(s)->vt->find(br_sql_catalog(s), table);
	if (!tab)
		return br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", table);
	int tcol = -1;
	for (int i = 0; i < tab->ncols; i++)
		if (!strcmp(tab->cols[i], t->opts.event_time))
			tcol = i;
	bool by_append = tcol < 0; /* "_append_time": broker time is the event time */
	if (by_append && !append_times)
		return br_errf(err, BR_EINVAL, "table \"%s\" uses _append_time but the rows have no append time", table);
	br_batch acc;
	br_batch_init(&acc, tab->rowtype, true);
	br_value *row = br_xcalloc((size_t)rows->ncols + 1, sizeof *row);
	for (int64_t i = 0; i < rows->nrows; i++) {
		br_batch_get_row(rows, i, row);
		int64_t w = br_batch_weight(rows, i);
		int v = BR_TIME_ON_TIME;
		const char *why = NULL;
		if (w > 0) {
			int64_t app = append_times ? append_times[i] : BR_TIME_NONE;
			bool null_time = !by_append && row[tcol].is_null;
			int64_t ev = by_append ? app : null_time ? 0 : row[tcol].v.i64;
			v = br_wm_observe(t->wm, partition, null_time, ev, app, &why);
		}
		if (verdicts)
			verdicts[i] = (uint8_t)v;
		if (reasons)
			reasons[i] = why;
		if (v == BR_TIME_ON_TIME || v == BR_TIME_LATE_UPDATE)
			br_batch_append_row(&acc, row, w);
	}
	free(row);
	int rc = acc.nrows ? br_sql_apply(s, table, &acc, err) : 0;
	br_batch_free(&acc);
	int64_t before = t->wm->global;
	if (!rc && br_wm_global(t->wm) != before)
		rc = br_sql_views_watermark(s, table, err);
	return rc;
}

int br_sql_show_watermarks(br_sql *s, br_sql_result *res, br_err *err)
{
	static const char *names[] = { "table", "partition", "watermark", "max_event_time", "idle", "on_time",
				       "late_applied", "late", "quarantined" };
	static const br_type_id types[] = { BR_T_STRING, BR_T_LONG, BR_T_LONG, BR_T_LONG, BR_T_BOOLEAN, BR_T_LONG,
					    BR_T_LONG, BR_T_LONG, BR_T_LONG };
	enum { N = 9 };
	if (!res)
		return 0;
	br_sql_result_free(res);
	res->ncols = N;
	res->names = br_xcalloc(N, sizeof(char *));
	res->types = br_xcalloc(N, sizeof(br_type_id));
	for (int i = 0; i < N; i++) {
		res->names[i] = br_xstrdup(names[i]);
		res->types[i] = types[i];
	}
	res->rowtype = br_flow_row_type(N, types);
	br_batch_init(&res->rows, res->rowtype, false);
	res->has_rows = true;
	stime *st = st_of(s, false);
	/* Tables in name order (the map's order is not stable). */
	const char **tabs = NULL;
	size_t n = 0;
	br_map_slot *slot;
	if (st) {
		tabs = br_xcalloc(st->tables.count + 1, sizeof *tabs);
		for (size_t i = 0; br_map_next(&st->tables, &i, &slot);)
			tabs[n++] = slot->key;
		for (size_t a = 1; a < n; a++) /* insertion sort: few tables */
			for (size_t b = a; b > 0 && strcmp(tabs[b - 1], tabs[b]) > 0; b--) {
				const char *x = tabs[b];
				tabs[b] = tabs[b - 1];
				tabs[b - 1] = x;
			}
	}
	for (size_t k = 0; k < n; k++) {
		ttime *t = br_map_gets(&st->tables, tabs[k]);
		for (int p = 0; p < t->wm->nparts; p++) {
			const br_wm_part *pp = &t->wm->parts[p];
			int64_t wm = br_wm_partition(t->wm, p);
			br_value v[N] = {
				br_value_bytes(BR_T_STRING, tabs[k], strlen(tabs[k])),
				br_value_i64(BR_T_LONG, p),
				wm == BR_TIME_NONE ? br_value_null(BR_T_LONG) : br_value_i64(BR_T_LONG, wm),
				pp->max_event == BR_TIME_NONE ? br_value_null(BR_T_LONG) : br_value_i64(BR_T_LONG, pp->max_event),
				{ .type = BR_T_BOOLEAN, .v.b = br_wm_idle(t->wm, p) },
				br_value_i64(BR_T_LONG, pp->on_time),
				br_value_i64(BR_T_LONG, pp->late_applied),
				br_value_i64(BR_T_LONG, pp->late),
				br_value_i64(BR_T_LONG, pp->quarantined),
			};
			br_batch_append_row(&res->rows, v, 1);
		}
	}
	free(tabs);
	snprintf(res->tag, sizeof res->tag, "SHOW");
	return 0;
}

/* ------------------------------------------------------------ binding */

/* Interval microseconds from a literal: INTERVAL '1' MINUTE (TypeCast with a
 * field mask typmod), INTERVAL '1 minute', '1 minute', or an integer
 * (microseconds, or the column's own unit for a bigint time column). */
static int interval_arg(json_t *node, const char *what, int64_t *us, br_err *err)
{
	json_t *in;
	const char *t = ntype(node, &in);
	int loc = jloc(in);
	int64_t mask = 0;
	const int64_t max_us = (int64_t)1e18; /* window bounds must stay far from the int64 ends */
	if (!strcmp(t, "TypeCast")) {
		json_t *names = jget(jget(in, "typeName"), "names"), *nin;
		ntype(json_array_get(names, json_array_size(names) - 1), &nin);
		const char *tn = jstr(nin, "sval");
		if (!tn || strcmp(tn, "interval"))
			return perr(err, loc, BR_EINVAL, "%s must be an interval", what);
		json_t *tm = json_array_get(jget(jget(in, "typeName"), "typmods"), 0), *tmin;
		if (tm && !strcmp(ntype(tm, &tmin), "A_Const"))
			mask = json_integer_value(jget(jget(tmin, "ival"), "ival"));
		t = ntype(jget(in, "arg"), &in);
		if (jloc(in) >= 0)
			loc = jloc(in);
	}
	if (strcmp(t, "A_Const"))
		return perr(err, loc, BR_EUNSUPPORTED, "unsupported: %s must be a constant interval", what);
	json_t *iv = jget(jget(in, "ival"), "ival");
	if (jget(in, "ival")) {
		int64_t v = json_is_integer(iv) ? json_integer_value(iv) : 0;
		if (v <= 0 || v > max_us)
			return perr(err, loc, BR_EINVAL, "%s must be positive and below 10^18 us", what);
		*us = v;
		return 0;
	}
	const char *sv = jstr(jget(in, "sval"), "sval");
	if (!sv)
		return perr(err, loc, BR_EINVAL, "%s must be an interval", what);
	if (mask) {
		/* PostgreSQL's field bits: the smallest field named is the unit of a bare number. */
		static const struct { int64_t bit, us; } f[] = {
			{ 1 << 12, 1000000 }, { 1 << 11, 60000000 }, { 1 << 10, 3600000000LL }, { 1 << 3, 86400000000LL },
		};
		char *end;
		double x = strtod(sv, &end);
		while (*end == ' ')
			end++;
		if (end != sv && !*end) {
			for (size_t i = 0; i < sizeof f / sizeof *f; i++)
				if (mask & f[i].bit) {
					if (!(x > 0) || x * (double)f[i].us > 1e18)
						return perr(err, loc, BR_EINVAL, "%s must be positive and below 10^18 us", what);
					*us = (int64_t)(x * (double)f[i].us);
					return 0;
				}
			return perr(err, loc, BR_EUNSUPPORTED, "unsupported: %s in months or years", what);
		}
	}
	br_err e2;
	if (br_time_parse_interval(sv, us, &e2))
		return perr(err, loc, BR_EINVAL, "%s: %s", what, e2.msg);
	if (*us <= 0 || *us > max_us)
		return perr(err, loc, BR_EINVAL, "%s must be positive and below 10^18 us", what);
	return 0;
}

static const char *colref_name(json_t *node, int *loc)
{
	json_t *in;
	if (strcmp(ntype(node, &in), "ColumnRef"))
		return NULL;
	*loc = jloc(in);
	json_t *fields = jget(in, "fields");
	json_t *f, *fin;
	if (json_array_size(fields) != 1)
		return NULL;
	f = json_array_get(fields, 0);
	if (strcmp(ntype(f, &fin), "String"))
		return NULL;
	return jstr(fin, "sval");
}

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

int br_bind_window_tvf(bind_env *env, json_t *rf, plan **out, const char **qual, br_err *err)
{
	int loc = jloc(rf);
	if (json_is_true(jget(rf, "lateral")) || json_is_true(jget(rf, "ordinality")) || json_is_true(jget(rf, "is_rowsfrom")))
		return perr(err, loc, BR_EUNSUPPORTED, "unsupported: LATERAL/WITH ORDINALITY/ROWS FROM");
	json_t *fns = jget(rf, "functions");
	json_t *items = jget(jget(json_array_get(fns, 0), "List"), "items");
	json_t *fc;
	if (json_array_size(fns) != 1 || strcmp(ntype(json_array_get(items, 0), &fc), "FuncCall"))
		return perr(err, loc, BR_EUNSUPPORTED, "unsupported: function in FROM");
	json_t *fname = jget(fc, "funcname"), *fnin;
	ntype(json_array_get(fname, json_array_size(fname) - 1), &fnin);
	const char *name = jstr(fnin, "sval");
	loc = jloc(fc);
	int kind = !name ? -1 : !strcasecmp(name, "tumble") ? BR_WIN_TUMBLE : !strcasecmp(name, "hop") ? BR_WIN_HOP
		: !strcasecmp(name, "session") ? BR_WIN_SESSION : -1;
	if (kind < 0)
		return perr(err, loc, BR_EUNSUPPORTED, "unsupported: function %s in FROM (only TUMBLE, HOP, SESSION)",
			    name ? name : "?");
	json_t *args = jget(fc, "args");
	int nargs = (int)json_array_size(args);
	int minargs = kind == BR_WIN_HOP ? 4 : 3;
	if (nargs < minargs || (kind == BR_WIN_TUMBLE && nargs > 4) || (kind == BR_WIN_HOP && nargs > 5))
		return perr(err, loc, BR_EINVAL, "%s takes (table, time column, %s)", kind == BR_WIN_TUMBLE ? "TUMBLE" :
			    kind == BR_WIN_HOP ? "HOP" : "SESSION", kind == BR_WIN_TUMBLE ? "size [, offset]" :
			    kind == BR_WIN_HOP ? "slide, size [, offset]" : "gap [, key column, ...]");
	int aloc = loc;
	const char *tname = colref_name(json_array_get(args, 0), &aloc);
	if (!tname)
		return perr(err, aloc, BR_EINVAL, "the first argument of %s must be a table name", name);
	const br_sql_table *tab = env->cat->vt->find(env->cat, tname);
	const plan *view = tab ? NULL : env->find_view(env->session, tname);
	if (!tab && !view)
		return perr(err, aloc, BR_EINVAL, "relation \"%s\" does not exist", tname);
	int nc = tab ? tab->ncols : view->nvisible;
	plan *scan = pnew(env, P_SCAN, nc);
	scan->table = br_arena_strndup(env->arena, tname, strlen(tname));
	for (int i = 0; i < nc; i++) {
		scan->types[i] = tab ? tab->types[i] : view->types[i];
		const char *cn = tab ? tab->cols[i] : view->names[i];
		scan->names[i] = br_arena_strndup(env->arena, cn, strlen(cn));
	}
	const char *cname = colref_name(json_array_get(args, 1), &aloc);
	if (!cname)
		return perr(err, aloc, BR_EINVAL, "the second argument of %s must be a column name", name);
	br_window_spec *w = br_arena_alloc(env->arena, sizeof *w);
	w->kind = kind;
	w->tcol = -1;
	for (int i = 0; i < nc; i++)
		if (!strcmp(scan->names[i], cname))
			w->tcol = i;
	if (w->tcol < 0)
		return perr(err, aloc, BR_EINVAL, "column \"%s\" does not exist", cname);
	if (!is_time_type(scan->types[w->tcol]))
		return perr(err, aloc, BR_EINVAL, "window time column \"%s\" must be timestamp, timestamptz or bigint, not %s",
			    cname, br_flow_type_name(scan->types[w->tcol]));
	int rc;
	if (kind == BR_WIN_TUMBLE) {
		if ((rc = interval_arg(json_array_get(args, 2), "TUMBLE size", &w->size, err)))
			return rc;
		w->slide = w->size;
	} else if (kind == BR_WIN_HOP) {
		if ((rc = interval_arg(json_array_get(args, 2), "HOP slide", &w->slide, err)) ||
		    (rc = interval_arg(json_array_get(args, 3), "HOP size", &w->size, err)))
			return rc;
		/* every row becomes ceil(size/slide) rows: bound the blow-up */
		if (w->size / w->slide > 10000)
			return perr(err, loc, BR_EINVAL, "HOP size / slide is above 10000 windows per row");
	} else {
		if ((rc = interval_arg(json_array_get(args, 2), "SESSION gap", &w->gap, err)))
			return rc;
		w->nkeys = nargs - 3;
		w->keys = br_arena_alloc(env->arena, sizeof(int) * (size_t)(w->nkeys + 1));
		for (int k = 0; k < w->nkeys; k++) {
			const char *kn = colref_name(json_array_get(args, (size_t)(3 + k)), &aloc);
			w->keys[k] = -1;
			for (int i = 0; kn && i < nc; i++)
				if (!strcmp(scan->names[i], kn))
					w->keys[k] = i;
			if (w->keys[k] < 0)
				return perr(err, aloc, BR_EINVAL, "SESSION key \"%s\" is not a column of \"%s\"", kn ? kn : "?",
					    tname);
		}
	}
	int optarg = kind == BR_WIN_TUMBLE ? 3 : 4;
	if (kind != BR_WIN_SESSION && nargs > optarg) {
		json_t *a = json_array_get(args, (size_t)optarg), *ain;
		/* an offset may be zero, which interval_arg refuses: read it directly */
		if (!strcmp(ntype(a, &ain), "A_Const") && json_is_integer(jget(jget(ain, "ival"), "ival")))
			w->offset = json_integer_value(jget(jget(ain, "ival"), "ival"));
		else if (!strcmp(ntype(a, &ain), "A_Const") && !jget(ain, "ival") && !jget(ain, "sval"))
			w->offset = 0;
		else if ((rc = interval_arg(a, "window offset", &w->offset, err)))
			return rc;
	}
	/* Watermarks say nothing about other columns: windows over any column but
	 * the table's event time never close (lateness -1, see flow/time.h). */
	const br_time_opts *to = tab ? br_sql_table_time(env->session, tname) : NULL;
	w->lateness = to && !strcmp(to->event_time, cname) ? to->allowed_lateness : -1;
	plan *p = pnew(env, P_WINDOW, nc + 2);
	memcpy(p->types, scan->types, sizeof(br_type_id) * (size_t)nc);
	memcpy(p->names, scan->names, sizeof(char *) * (size_t)nc);
	p->types[nc] = p->types[nc + 1] = scan->types[w->tcol];
	p->names[nc] = "window_start";
	p->names[nc + 1] = "window_end";
	p->in[0] = scan;
	p->win = w;
	json_t *alias = jget(rf, "alias");
	const char *an = jstr(alias, "aliasname");
	*qual = an ? an : scan->table;
	json_t *cn = jget(alias, "colnames");
	for (size_t i = 0; i < json_array_size(cn) && (int)i < p->ncols; i++) {
		json_t *sin;
		ntype(json_array_get(cn, i), &sin);
		if (jstr(sin, "sval"))
			p->names[i] = br_arena_strndup(env->arena, jstr(sin, "sval"), strlen(jstr(sin, "sval")));
	}
	*out = p;
	return 0;
}

/* ------------------------------------------------------------ lowering */

int br_lower_window(br_circuit *c, const plan *p, br_op *in, br_op **out, br_err *err)
{
	const br_window_spec *w = p->win;
	if (w->kind == BR_WIN_SESSION)
		*out = br_op_session(c, in, w->tcol, w->gap, w->nkeys, w->keys, w->lateness);
	else
		*out = br_op_window_assign(c, in, w->kind, w->tcol, w->size, w->slide, w->offset);
	return 0;
}

/* Follows column col of p down to a window function; returns it and sets
 * *which (0 start, 1 end). The column passes unchanged through maps (bare
 * column references), filters, DISTINCT, ranking (input columns), the group
 * columns of an aggregate and either side of a window join: every row above
 * then belongs to the window its column names, and once the watermark has
 * closed that window no row for it changes any more (its input is final).
 * Not through other joins: a row of a table joined to windowed rows may
 * arrive after the window closed and still produce rows for it. */
static const plan *window_origin(const plan *p, int col, int *which)
{
	for (;;) {
		switch (p->kind) {
		case P_WINDOW: {
			int n = p->ncols - 2;
			if (col < n)
				return NULL;
			*which = col - n;
			return p;
		}
		case P_FILTER:
		case P_DISTINCT:
			break;
		case P_RANK:
			if (col >= p->in[0]->ncols)
				return NULL;
			break;
		case P_MAP:
			if (p->exprs[col]->kind != BR_X_COL)
				return NULL;
			col = p->exprs[col]->col;
			break;
		case P_AGG:
			if (col >= p->ngroup)
				return NULL;
			col = p->gcols[col];
			break;
		case P_JOIN:
			if (p->joinkind != BR_JOIN_INNER || !p->win || !p->win->window_join)
				return NULL;
			if (col >= p->in[0]->ncols) {
				col -= p->in[0]->ncols;
				p = p->in[1];
				continue;
			}
			break;
		default:
			return NULL;
		}
		p = p->in[0];
	}
}

/* Among columns cols[n] of p's input, the window_start and window_end of one
 * window function (the first found). False when neither is, or when only one
 * is and the windows have no fixed size (SESSION). */
static bool window_cols_of(const plan *in, int n, const int *cols, br_window_lower *wl, br_window_cols *wc,
			   const plan **wpp)
{
	const plan *wp = NULL;
	wc->wscol = wc->wecol = -1;
	for (int g = 0; g < n; g++) {
		int which;
		const plan *o = window_origin(in, cols[g], &which);
		if (!o || (wp && o != wp))
			continue;
		wp = o;
		if (which == 0 && wc->wscol < 0)
			wc->wscol = cols[g];
		else if (which == 1 && wc->wecol < 0)
			wc->wecol = cols[g];
	}
	if (!wp || ((wc->wscol < 0 || wc->wecol < 0) && wp->win->kind == BR_WIN_SESSION))
		return false;
	wc->size = wp->win->size;
	wc->emit = wl ? wl->emit : BR_EMIT_CHANGELOG;
	wc->allowed_lateness = wp->win->lateness;
	*wpp = wp;
	return true;
}

int br_lower_window_agg(br_circuit *c, const plan *p, br_op *in, br_window_lower *wl, br_op **out, br_err *err)
{
	br_window_cols wc;
	const plan *wp;
	if (!window_cols_of(p->in[0], p->ngroup, p->gcols, wl, &wc, &wp))
		return 1;
	*out = br_op_window_agg_cols(c, in, &wc, p->ngroup, p->gcols, p->naggs, p->aggs);
	if (wl && wp->win->lateness >= 0)
		wl->nwinagg++;
	return 0;
}

int br_lower_window_rank(br_circuit *c, const plan *p, br_op *in, br_window_lower *wl, br_op **out, br_err *err)
{
	br_window_cols wc;
	const plan *wp;
	if (!window_cols_of(p->in[0], p->ngroup, p->gcols, wl, &wc, &wp))
		return 1;
	*out = br_op_window_topn(c, in, &wc, p->ngroup, p->gcols, p->nwkeys, p->wkeys, p->nwfuncs, p->wkinds, p->wlimit);
	if (wl && wp->win->lateness >= 0)
		wl->nwinagg++;
	return 0;
}

/* ------------------------------------------------------ interval joins */

/* Column col of p as (table, column name) when it is a bare column of a scan
 * through maps and filters. */
static const plan *scan_origin(const plan *p, int col, int *scol)
{
	for (;;) {
		if (p->kind == P_SCAN) {
			*scol = col;
			return p;
		}
		if (p->kind == P_FILTER) {
			p = p->in[0];
			continue;
		}
		if (p->kind == P_MAP && p->exprs[col]->kind == BR_X_COL) {
			col = p->exprs[col]->col;
			p = p->in[0];
			continue;
		}
		if (p->kind == P_JOIN && p->joinkind == BR_JOIN_INNER) {
			int w = p->in[0]->ncols;
			if (col >= w) {
				col -= w;
				p = p->in[1];
			} else {
				p = p->in[0];
			}
			continue;
		}
		return NULL;
	}
}

/* The allowed lateness of the timed table whose event-time column col of p
 * is; -1 if it is not one. The window_end of a window on event time counts
 * too (Nexmark q7 joins bids with the maximum of their window by time): rows
 * of window [s, e) arrive or change only while watermark < e + lateness, so
 * every future row has window_end >= watermark - lateness, the property the
 * interval join releases rows by. A window_start does not have it. */
static int64_t event_time_lateness(br_sql *s, const plan *p, int col)
{
	int sc, which;
	const plan *scan = scan_origin(p, col, &sc);
	const br_time_opts *o = scan ? br_sql_table_time(s, scan->table) : NULL;
	if (o && !strcmp(o->event_time, scan->names[sc]))
		return o->allowed_lateness;
	const plan *w = window_origin(p, col, &which);
	return w && which == 1 ? w->win->lateness : -1;
}

/* A constant offset in microseconds: an integer (on a bigint time column) or
 * an interval of days and microseconds (on a timestamp: times are UTC, so a
 * day is 86,400 s). An interval with months has no fixed length: refused. */
static bool const_us(const br_expr *e, int64_t *k)
{
	if (e->kind != BR_X_CONST || e->k.is_null)
		return false;
	if (e->type == BR_T_LONG) {
		*k = e->k.v.i64;
		return true;
	}
	if (e->type != BR_T_INTERVAL)
		return false;
	br_interval iv = br_interval_get(&e->k);
	const int64_t day = 86400000000LL, lim = (int64_t)1e18;
	if (iv.months || iv.days > 10000000 || iv.days < -10000000 || iv.us > lim || iv.us < -lim)
		return false;
	*k = iv.days * day + iv.us;
	return true;
}

/* e as column + constant (COL, COL + k, k + COL, COL - k); false otherwise. */
static bool col_plus(const br_expr *e, int *col, int64_t *k)
{
	if (e->kind == BR_X_COL) {
		*col = e->col;
		*k = 0;
		return true;
	}
	if (e->kind != BR_X_ADD && e->kind != BR_X_SUB)
		return false;
	if (e->args[0]->kind == BR_X_COL && const_us(e->args[1], k)) {
		*col = e->args[0]->col;
		if (e->kind == BR_X_SUB)
			*k = -*k;
		return true;
	}
	if (e->kind == BR_X_ADD && e->args[1]->kind == BR_X_COL && const_us(e->args[0], k)) {
		*col = e->args[1]->col;
		return true;
	}
	return false;
}

/* A conjunct x + kx (op) y + ky with x on the left side (< w) and y on the
 * right, as a bound on x - y; sets *is_lower / *bound. */
static bool diff_bound(const br_expr *e, int w, int *ac, int *bc, bool *is_lower, int64_t *bound)
{
	if (e->nargs != 2 || !(e->kind == BR_X_GE || e->kind == BR_X_LE || e->kind == BR_X_GT || e->kind == BR_X_LT))
		return false;
	int x, y;
	int64_t kx, ky;
	if (!col_plus(e->args[0], &x, &kx) || !col_plus(e->args[1], &y, &ky))
		return false;
	bool ge = e->kind == BR_X_GE || e->kind == BR_X_GT;
	int64_t strict = e->kind == BR_X_GT ? 1 : e->kind == BR_X_LT ? -1 : 0;
	if (x >= w && y < w) { /* flip to left op right */
		int t = x;
		x = y;
		y = t;
		int64_t tk = kx;
		kx = ky;
		ky = tk;
		ge = !ge;
		strict = -strict;
	}
	if (!(x < w && y >= w))
		return false;
	/* x + kx >= y + ky  <=>  x - y >= ky - kx (+1 if strict) */
	*ac = x;
	*bc = y - w;
	*is_lower = ge;
	*bound = ky - kx + strict;
	return true;
}

/* A window join: an inner join with window_end = window_end among its keys,
 * both of TUMBLE or HOP windows on event time (a session's end moves while
 * it grows). It is an interval join on the two window_end columns with
 * lower = upper = 0: a row is released once the watermark has passed its
 * window's end + allowed lateness, when neither side can change any more. */
static void window_join(plan *j, br_arena *arena)
{
	for (int k = 0; k < j->nkeys; k++) {
		int wa, wb;
		const plan *oa = window_origin(j->in[0], j->lkeys[k], &wa), *ob = window_origin(j->in[1], j->rkeys[k], &wb);
		if (!oa || !ob || wa != 1 || wb != 1 || oa->win->kind == BR_WIN_SESSION ||
		    ob->win->kind == BR_WIN_SESSION || oa->win->lateness < 0 || ob->win->lateness < 0)
			continue;
		br_window_spec *sp = br_arena_alloc(arena, sizeof *sp);
		sp->interval_join = true;
		sp->window_join = true;
		sp->atcol = j->lkeys[k];
		sp->btcol = j->rkeys[k];
		sp->lower = sp->upper = 0;
		sp->lateness = oa->win->lateness > ob->win->lateness ? oa->win->lateness : ob->win->lateness;
		j->win = sp;
		return;
	}
}

void br_window_rewrite(br_sql *s, plan *p, br_arena *arena)
{
	if (!p)
		return;
	br_window_rewrite(s, p->in[0], arena);
	br_window_rewrite(s, p->in[1], arena);
	if (p->kind == P_JOIN && p->joinkind == BR_JOIN_INNER && !p->win)
		window_join(p, arena);
	if (p->kind != P_FILTER)
		return;
	/* the filter chain right above a join (build_joins puts one conjunct per filter) */
	const plan *f = p;
	while (f->kind == P_FILTER)
		f = f->in[0];
	if (f->kind != P_JOIN || f->joinkind != BR_JOIN_INNER || f->win)
		return;
	plan *j = (plan *)f;
	int w = j->in[0]->ncols, ac = -1, bc = -1;
	bool have_lo = false, have_hi = false;
	int64_t lo = 0, hi = 0;
	for (const plan *g = p; g->kind == P_FILTER; g = g->in[0]) {
		int a, b;
		bool is_lower;
		int64_t bound;
		if (!diff_bound(g->pred, w, &a, &b, &is_lower, &bound) || (ac >= 0 && (a != ac || b != bc)))
			continue;
		ac = a;
		bc = b;
		if (is_lower) {
			lo = have_lo && lo > bound ? lo : bound;
			have_lo = true;
		} else {
			hi = have_hi && hi < bound ? hi : bound;
			have_hi = true;
		}
	}
	if (!have_lo || !have_hi || lo > hi)
		return;
	int64_t la = event_time_lateness(s, j->in[0], ac), lb = event_time_lateness(s, j->in[1], bc);
	if (la < 0 || lb < 0)
		return; /* not both event times: the watermark says nothing about them */
	br_window_spec *sp = br_arena_alloc(arena, sizeof *sp);
	sp->interval_join = true;
	sp->atcol = ac;
	sp->btcol = bc;
	sp->lower = lo;
	sp->upper = hi;
	sp->lateness = la > lb ? la : lb;
	j->win = sp;
}

int br_lower_interval_join(br_circuit *c, const plan *p, br_op *a, br_op *b, br_op **out, br_err *err)
{
	const br_window_spec *w = p->win;
	if (w->window_join) {
		*out = br_op_window_join(c, a, b, p->nkeys, p->lkeys, p->rkeys, w->atcol, w->btcol, w->lateness);
		return 0;
	}
	*out = br_op_interval_join(c, a, b, p->nkeys, p->lkeys, p->rkeys, w->atcol, w->btcol, w->lower, w->upper,
				   w->lateness);
	return 0;
}

int br_sql_view_options(json_t *options, int *emit, br_err *err)
{
	*emit = BR_EMIT_CHANGELOG;
	size_t i;
	json_t *d;
	json_array_foreach(options, i, d) {
		json_t *in, *ain;
		ntype(d, &in);
		const char *key = jstr(in, "defname");
		const char *t = ntype(jget(in, "arg"), &ain);
		const char *val = !strcmp(t, "String") ? jstr(ain, "sval") : NULL;
		if (!key || strcmp(key, "emit"))
			return perr(err, jloc(in), BR_EUNSUPPORTED, "unsupported: view option \"%s\"", key ? key : "?");
		if (val && !strcasecmp(val, "on_window_close"))
			*emit = BR_EMIT_ON_WINDOW_CLOSE;
		else if (val && !strcasecmp(val, "changelog"))
			*emit = BR_EMIT_CHANGELOG;
		else
			return perr(err, jloc(in), BR_EINVAL, "emit must be 'changelog' or 'on_window_close'");
	}
	return 0;
}
