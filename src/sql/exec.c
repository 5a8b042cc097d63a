/* exec.c — the SQL session: runs statements, lowers plans to flow circuits,
 * runs batch queries (one step over the tables' contents) and keeps
 * materialized views current (one step per change to a table they read). */
#include <ctype.h>
#include <inttypes.h>
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/util.h"
#include "sql/checkpoint.h"
#include "sql/plan.h"
#include "sql/pgnode.h"
#include "sql/sink.h"
#include "sql/progress.h"
#include "sql/window.h"

typedef struct br_sql_view br_sql_view;
struct br_sql_view {
	char *name;
	br_arena arena;     /* the plan and its expressions */
	plan *p;
	br_circuit circ;
	int ninputs;
	char **input_tables;
	br_op **inputs;
	br_op *out;         /* integrate: the view's contents */
	char **deps;        /* distinct table names it reads */
	int ndeps;
	/* Set when a step failed (e.g. division by zero on a new row): operator
	 * state may be half-updated, so the view refuses to answer from then on
	 * rather than give a wrong answer. */
	char *broken;
	uint64_t mem_checked_ns; /* last memory-limit check (br_mono_ns) */
	char *sql;          /* its CREATE statement (checkpoints check it did not change) */
	/* Its backfill (the first step over its relations' contents): rows and
	 * bytes fed, time; phase "done" once it tails. SHOW VIEWS reports it. */
	br_sql_progress backfill;
};

struct br_sql {
	br_catalog *cat;
	br_map views;       /* name -> br_sql_view* */
	int depth;          /* nested plan executions (correlated subqueries) */
	br_sql_view_cb listener;
	void *listener_arg;
	bool restoring;     /* re-creating kept views: do not save them again */
	void *time;         /* table time options and watermarks: window.c */
	void *sinks;        /* views' outputs: sink.c */
	size_t view_mem_limit; /* bytes of state one view may hold (0: no limit) */
	br_sql_ckst *ckpt;  /* view checkpoints: checkpoint.c */
	br_sql_progress_cb progress;
	void *progress_arg;
};

void **br_sql_time_slot(br_sql *s);
void **br_sql_time_slot(br_sql *s) { return &s->time; }
void **br_sql_sink_slot(br_sql *s) { return &s->sinks; }

const plan *br_sql_view_plan(br_sql *s, const char *view)
{
	br_sql_view *v = br_map_gets(&s->views, view);
	return v ? v->p : NULL;
}

/* The binder's view lookup: a view, or the sink table ("ns.name") of one,
 * which has the view's columns (its rows come from the lake: feed_relation). */
static const plan *find_view_plan(br_sql *s, const char *name)
{
	const plan *p = br_sql_view_plan(s, name);
	const char *owner = p ? NULL : br_sink_table_view(s, name);
	return owner ? br_sql_view_plan(s, owner) : p;
}

static int view_rows(const br_sql_view *v, br_batch *out, br_err *err)
{
	const br_ztab *t = br_op_contents(v->out);
	br_value *row = br_xcalloc((size_t)v->p->ncols + 1, sizeof *row);
	br_zent *e;
	int rc = 0;
	for (size_t i = 0; !rc && (e = br_ztab_next(t, &i));) {
		if (!e->w)
			continue;
		if (!(rc = br_row_decode(e->key, e->klen, row, v->p->ncols, err)))
			br_batch_append_row(out, row, e->w);
	}
	free(row);
	return rc;
}

int br_sql_view_rows(br_sql *s, const char *view, br_batch *out, br_err *err)
{
	br_sql_view *v = br_map_gets(&s->views, view);
	if (!v)
		return br_errf(err, BR_ENOTFOUND, "view \"%s\" does not exist", view);
	return view_rows(v, out, err);
}

void br_sql_view_base_tables(br_sql *s, const char *view, const char ***names, int *n)
{
	br_sql_view *v = br_map_gets(&s->views, view);
	for (int i = 0; v && i < v->ninputs; i++) {
		const char *t = v->input_tables[i];
		if (!t)
			continue;
		if (br_map_gets(&s->views, t)) {
			br_sql_view_base_tables(s, t, names, n);
			continue;
		}
		bool seen = false;
		for (int k = 0; k < *n && !seen; k++)
			seen = !strcmp((*names)[k], t);
		if (seen)
			continue;
		*names = br_xrealloc(*names, sizeof **names * (size_t)(*n + 1));
		(*names)[(*n)++] = t;
	}
}

br_sql *br_sql_open(br_catalog *cat)
{
	br_sql *s = br_xcalloc(1, sizeof *s);
	s->cat = cat ? cat : br_catalog_mem_new();
	br_sql_time_adopt(s); /* time options of the tables a catalog kept */
	return s;
}

void br_sql_set_view_memory_limit(br_sql *s, size_t bytes) { s->view_mem_limit = bytes; }

/* One step of a view's circuit, then its memory budget: a view over its
 * budget stops answering (it is marked broken by the caller) rather than
 * taking the process's memory from the log and the other views. */
static int view_step(br_sql *s, br_sql_view *v, br_err *err)
{
	int rc = br_circuit_step(&v->circ, err);
	/* Counting walks the state of time operators key by key: at most every
	 * 100 ms, so a view over its limit stops within 100 ms of steps. */
	uint64_t now = br_mono_ns();
	if (rc || !s->view_mem_limit || (v->mem_checked_ns && now - v->mem_checked_ns < 100000000))
		return rc;
	v->mem_checked_ns = now;
	size_t used = br_circuit_state_bytes(&v->circ);
	if (used > s->view_mem_limit)
		return br_errf(err, BR_ELIMIT,
			       "materialized view \"%s\" holds %.1f MiB of state, over its limit of %.1f MiB "
			       "(--view-memory-limit)", v->name, (double)used / (1 << 20),
			       (double)s->view_mem_limit / (1 << 20));
	return 0;
}

static void view_free(br_sql_view *v)
{
	br_circuit_free(&v->circ);
	br_arena_free(&v->arena);
	free(v->inputs);
	free(v->input_tables);
	free(v->deps);
	free(v->broken);
	free(v->sql);
	free(v->name);
	free(v);
}

void br_sql_close(br_sql *s)
{
	if (!s)
		return;
	br_sink_close_all(s); /* commits what is pending: before the views and the log go */
	br_sql_ckpt_close(s); /* a clean shutdown leaves a checkpoint of every view */
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&s->views, &i, &slot);)
		view_free(slot->val);
	br_map_free(&s->views);
	br_sql_time_free(s);
	s->cat->vt->free(s->cat);
	free(s);
}

void br_sql_result_free(br_sql_result *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->ncols; i++)
		free(r->names[i]);
	free(r->names);
	free(r->types);
	if (r->has_rows)
		br_batch_free(&r->rows);
	if (r->rowtype)
		br_type_free(r->rowtype);
	memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------ lowering */

typedef struct lower_ctx {
	br_circuit *c;
	int n, cap;
	const char **tables;
	br_op **inputs;
	br_window_lower win;
} lower_ctx;

static int lower(lower_ctx *lc, const plan *p, br_op **out, br_err *err)
{
	br_op *a = NULL, *b = NULL;
	int rc;
	if (p->in[0] && (rc = lower(lc, p->in[0], &a, err)))
		return rc;
	if (p->in[1] && (rc = lower(lc, p->in[1], &b, err)))
		return rc;
	switch (p->kind) {
	case P_SCAN:
	case P_VALUES: {
		*out = br_op_input(lc->c, p->ncols, p->types);
		if (lc->n == lc->cap) {
			lc->cap = lc->cap ? lc->cap * 2 : 4;
			lc->tables = br_xrealloc(lc->tables, sizeof *lc->tables * (size_t)lc->cap);
			lc->inputs = br_xrealloc(lc->inputs, sizeof *lc->inputs * (size_t)lc->cap);
		}
		lc->tables[lc->n] = p->kind == P_SCAN ? p->table : NULL;
		lc->inputs[lc->n++] = *out;
		return 0;
	}
	case P_FILTER: *out = br_op_filter(lc->c, a, p->pred); return 0;
	case P_MAP: *out = br_op_map(lc->c, a, p->nexprs, p->exprs); return 0;
	case P_JOIN:
		if (p->win) /* an interval join on event times (window.c) */
			return br_lower_interval_join(lc->c, p, a, b, out, err);
		*out = br_op_join_outer(lc->c, a, b, p->nkeys, p->lkeys, p->rkeys, p->joinkind);
		return 0;
	case P_AGG:
		if ((rc = br_lower_window_agg(lc->c, p, a, &lc->win, out, err)) <= 0)
			return rc;
		*out = br_op_aggregate(lc->c, a, p->ngroup, p->gcols, p->naggs, p->aggs);
		return 0;
	case P_WINDOW: return br_lower_window(lc->c, p, a, out, err);
	case P_DISTINCT: *out = br_op_distinct(lc->c, a); return 0;
	case P_UNION: *out = br_op_union(lc->c, a, b, p->negate); return 0;
	case P_SETOP: *out = br_op_setop(lc->c, a, b, p->setkind); return 0;
	case P_RANK:
		if ((rc = br_lower_window_rank(lc->c, p, a, &lc->win, out, err)) <= 0)
			return rc;
		*out = br_op_window(lc->c, a, p->ngroup, p->gcols, p->nwkeys, p->wkeys, p->nwfuncs, p->wkinds, p->wlimit);
		return 0;
	}
	return br_errf(err, BR_EINVAL, "plan: unknown node");
}

static int64_t col_bytes(const br_col *c)
{
	int64_t n = (int64_t)(c->validity.len + c->values.len + c->offsets.len);
	for (int i = 0; i < c->nchildren; i++)
		n += col_bytes(&c->children[i]);
	return n;
}

/* Reads a relation's current contents (table or view) into a batch fed to in;
 * pr (may be NULL) counts its rows and columnar bytes. */
static int feed_relation(br_sql *s, br_circuit *c, br_op *in, const char *name, br_progress *pr, br_err *err)
{
	br_batch b;
	br_batch_init(&b, in->out_type, true);
	int rc = 0;
	if (!name) {
		br_batch_row_done(&b, 1); /* the one row of zero columns */
	} else if (s->cat->vt->find(s->cat, name)) {
		rc = s->cat->vt->scan(s->cat, name, &b, err);
	} else {
		br_sql_view *v = br_map_gets(&s->views, name);
		if (!v && br_sink_table_view(s, name)) {
			rc = br_sink_table_scan(s, name, &b, err);
		} else if (!v) {
			rc = br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", name);
		} else if (v->broken) {
			rc = br_errf(err, BR_EINVAL, "materialized view \"%s\" is unusable since a change failed in it: %s",
				     name, v->broken);
		} else {
			rc = view_rows(v, &b, err);
		}
	}
	if (!rc && pr) {
		int64_t bytes = (int64_t)b.weights.len;
		for (int i = 0; i < b.ncols; i++)
			bytes += col_bytes(&b.cols[i]);
		br_progress_phase(pr, "scan", b.nrows, bytes);
		br_progress_add(pr, b.nrows, bytes);
	}
	if (!rc)
		rc = br_circuit_feed_take(c, in, &b, err);
	br_batch_free(&b);
	return rc;
}

typedef struct sort_ctx {
	const sort_key *keys;
	int n;
} sort_ctx;

static int row_cmp(const void *x, const void *y, void *arg)
{
	const sort_ctx *sc = arg;
	const br_value *a = *(br_value *const *)x, *b = *(br_value *const *)y;
	for (int i = 0; i < sc->n; i++) {
		const sort_key *k = &sc->keys[i];
		const br_value *u = &a[k->col], *v = &b[k->col];
		int r;
		if (u->is_null || v->is_null) {
			if (u->is_null && v->is_null)
				continue;
			r = u->is_null ? (k->nulls_first ? -1 : 1) : (k->nulls_first ? 1 : -1);
			return r;
		}
		r = br_val_cmp(u, v);
		if (r)
			return k->desc ? -r : r;
	}
	return 0;
}

/* Consolidated rows of an integrate operator, each repeated by its weight. */
static int collect(const br_op *integ, int ncols, br_arena *arena, br_value ***rows, int64_t *nrows, br_err *err)
{
	const br_ztab *t = br_op_contents(integ);
	int64_t n = 0;
	br_zent *e;
	for (size_t i = 0; (e = br_ztab_next(t, &i));) {
		if (e->w < 0)
			return br_errf(err, BR_EINVAL, "internal: negative multiplicity %" PRId64 " in a result", e->w);
		n += e->w;
	}
	if (n > 100000000)
		return br_errf(err, BR_ELIMIT, "result too large (%" PRId64 " rows)", n);
	br_value **r = br_arena_alloc(arena, sizeof *r * (size_t)(n ? n : 1));
	int64_t k = 0;
	for (size_t i = 0; (e = br_ztab_next(t, &i));) {
		if (!e->w)
			continue;
		br_value *vals = br_arena_alloc(arena, sizeof *vals * (size_t)(ncols ? ncols : 1));
		/* Strings must outlive the circuit: decode from a copy in the caller's arena. */
		uint8_t *key = br_arena_alloc(arena, e->klen ? e->klen : 1);
		memcpy(key, e->key, e->klen);
		int rc = br_row_decode(key, e->klen, vals, ncols, err);
		if (rc)
			return rc;
		for (int64_t w = 0; w < e->w; w++)
			r[k++] = vals;
	}
	*rows = r;
	*nrows = n;
	return 0;
}

/* Builds the circuit of p with an integrate operator at its root. */
static int build_circuit(const plan *p, br_circuit *c, lower_ctx *lc, br_op **integ, br_err *err)
{
	int emit = lc->win.emit; /* the one setting a caller may make before */
	br_circuit_init(c);
	memset(lc, 0, sizeof *lc);
	lc->c = c;
	lc->win.emit = emit;
	br_op *root;
	int rc = lower(lc, p, &root, err);
	if (!rc)
		*integ = br_op_integrate(c, root);
	return rc;
}

int br_exec_plan(br_sql *s, const plan *p, const br_eval *outer, const br_value *row, br_arena *arena,
		 br_value ***rows, int64_t *nrows, br_err *err)
{
	if (s->depth >= BR_EVAL_MAX_DEPTH - 1)
		return br_errf(err, BR_ELIMIT, "subqueries nested too deeply");
	br_circuit c;
	lower_ctx lc = { 0 };
	br_op *integ = NULL;
	int rc = build_circuit(p, &c, &lc, &integ, err);
	c.once = true;
	if (!rc && outer) {
		for (int i = 0; i < outer->nouter; i++)
			c.ev.outer[i] = outer->outer[i];
		c.ev.nouter = outer->nouter;
	}
	if (!rc && row)
		c.ev.outer[c.ev.nouter++] = row;
	/* a top-level query reports progress as a view's backfill does */
	br_progress pr;
	br_progress_start(&pr, s->depth ? NULL : s->progress, s->progress_arg, "query", false, 0, 0);
	s->depth++;
	for (int i = 0; !rc && i < lc.n; i++)
		rc = feed_relation(s, &c, lc.inputs[i], lc.tables[i], &pr, err);
	if (!rc) {
		br_progress_phase(&pr, "step", 0, 0);
		br_progress_add(&pr, 0, 0);
		rc = br_circuit_step(&c, err);
	}
	s->depth--;
	if (!rc)
		br_progress_end(&pr);
	br_value **all = NULL;
	int64_t n = 0;
	if (!rc)
		rc = collect(integ, p->ncols, arena, &all, &n, err);
	if (!rc) {
		if (p->nsort) {
			sort_ctx sc = { p->sort, p->nsort };
			qsort_r(all, (size_t)n, sizeof *all, row_cmp, &sc);
		}
		int64_t off = BR_MIN(p->offset, n);
		int64_t cnt = n - off;
		if (p->limit >= 0 && p->limit < cnt)
			cnt = p->limit;
		*rows = all + off;
		*nrows = cnt;
	}
	br_circuit_free(&c);
	free(lc.tables);
	free(lc.inputs);
	return rc;
}

/* ----------------------------------------------------------- statements */

typedef struct stmt_ctx {
	br_sql *s;
	br_arena arena;
	bind_env env;
	const char *sql;
	const char *stmt_text; /* this statement alone (kept with a view) */
	br_sql_result *res;
	br_err *err;
} stmt_ctx;

static void result_set(br_sql_result *res, int ncols, char **names, const br_type_id *types)
{
	if (!res)
		return;
	br_sql_result_free(res);
	res->ncols = ncols;
	res->names = br_xcalloc((size_t)ncols + 1, sizeof(char *));
	res->types = br_xcalloc((size_t)ncols + 1, sizeof(br_type_id));
	for (int i = 0; i < ncols; i++) {
		res->names[i] = br_xstrdup(names[i] ? names[i] : "?column?");
		res->types[i] = types[i];
	}
	res->rowtype = br_flow_row_type(ncols, types);
	br_batch_init(&res->rows, res->rowtype, false);
	res->has_rows = true;
}

static void result_tag(br_sql_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void result_tag(br_sql_result *res, const char *fmt, ...)
{
	if (!res)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->tag, sizeof res->tag, fmt, ap);
	va_end(ap);
}

static int step_views(br_sql *s, const char *table, const br_batch *delta, br_err *err);

/* Marks every view that reads view (directly or through others) unusable. */
static void break_readers(br_sql *s, const char *view, const char *why)
{
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&s->views, &i, &slot);) {
		br_sql_view *v = slot->val;
		for (int k = 0; !v->broken && k < v->ninputs; k++)
			if (v->input_tables[k] && !strcmp(v->input_tables[k], view)) {
				v->broken = br_xasprintf("materialized view \"%s\" it reads is unusable: %s", view, why);
				break_readers(s, v->name, why);
			}
	}
}

/* After a step of v: its delta goes to SUBSCRIBE, its outputs (sink.c) and
 * the views that read v (silver -> gold), which step in turn. */
static void view_stepped(br_sql *s, br_sql_view *v, int *first, br_err *err)
{
	const br_batch *d = &v->out->out;
	if (s->listener)
		s->listener(s->listener_arg, v->name, d);
	if (s->sinks)
		br_sink_delta(s, v->name, d);
	br_err derr;
	int rc = d->nrows ? step_views(s, v->name, d, &derr) : 0;
	if (rc && !*first) {
		*first = rc;
		*err = derr;
	}
}

/* Steps every view that reads table with the table's delta. */
static int step_views(br_sql *s, const char *table, const br_batch *delta, br_err *err)
{
	int rc = 0;
	br_map_slot *slot;
	int first = 0;
	br_err verr;
	for (size_t i = 0; br_map_next(&s->views, &i, &slot);) {
		br_sql_view *v = slot->val;
		bool reads = false;
		if (v->broken)
			continue;
		for (int k = 0; k < v->ninputs && !rc; k++)
			if (v->input_tables[k] && !strcmp(v->input_tables[k], table)) {
				reads = true;
				rc = br_circuit_feed(&v->circ, v->inputs[k], delta, &verr);
			}
		if (reads && !rc)
			rc = view_step(s, v, &verr);
		if (rc) {
			/* The other views still follow the table; this one stops answering,
			 * and so do the views over it (they would miss its deltas). */
			v->broken = br_xstrdup(verr.msg);
			break_readers(s, v->name, verr.msg);
			if (!first) {
				first = rc;
				br_errf(err, rc,
					"the change to \"%s\" was applied, but materialized view \"%s\" could not follow it "
					"and is now unusable (DROP and re-create it): %s", table, v->name, verr.msg);
			}
			rc = 0;
			continue;
		}
		if (reads)
			view_stepped(s, v, &first, err);
	}
	return first;
}

static int poll_delta(void *arg, const char *table, const br_batch *delta, br_err *err)
{
	return step_views(arg, table, delta, err);
}

int br_sql_poll(br_sql *s, br_err *err)
{
	int rc = s->cat->vt->poll ? s->cat->vt->poll(s->cat, poll_delta, s, err) : 0;
	/* after every row the poll brought: watermarks that moved close windows */
	if (!rc && s->cat->vt->poll)
		rc = br_sql_time_polled(s, err);
	/* Outputs commit after a whole poll: the frontier is then the catalog's.
	 * A failed commit is retried at the next poll, not an error of the statement. */
	br_err serr;
	if (s->sinks && br_sink_tick(s, false, &serr))
		br_warn("%s", serr.msg);
	br_sql_ckpt_maybe(s); /* between polls every view reflects the same offsets */
	return rc;
}

br_sql_ckst **br_sql_ckpt_slot(br_sql *s) { return &s->ckpt; }

void br_sql_each_view(br_sql *s, br_sql_view_visit fn, void *arg)
{
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&s->views, &i, &slot);) {
		br_sql_view *v = slot->val;
		const char *skip = v->broken;
		/* watermark trackers (window.c) are not in checkpoints yet */
		for (int k = 0; k < v->ninputs && !skip; k++) {
			if (v->input_tables[k] && br_sql_table_time(s, v->input_tables[k]))
				skip = "it reads a table with event time (watermark state is not checkpointed yet)";
			else if (v->input_tables[k] && br_map_gets(&s->views, v->input_tables[k]))
				skip = "it reads another view (rebuilt from that view's contents once it is restored)";
		}
		fn(arg, v->name, v->sql, &v->circ, skip);
	}
}

int br_sql_view_frontier(br_sql *s, const char *view, br_buf *out)
{
	br_sql_view *v = br_map_gets(&s->views, view);
	if (!v)
		return BR_ENOTFOUND;
	if (!s->cat->vt->offsets)
		return BR_EUNSUPPORTED;
	size_t start = out->len;
	for (int i = 0; i < v->ninputs; i++) {
		const char *t = v->input_tables[i];
		bool seen = !t;
		for (int k = 0; k < i && !seen; k++)
			seen = v->input_tables[k] && !strcmp(v->input_tables[k], t);
		const int64_t *next;
		int32_t n;
		uint8_t id[16];
		if (seen || s->cat->vt->offsets(s->cat, t, &next, &n, id))
			continue;
		br_buf_printf(out, "%s%s:", out->len > start ? ";" : "", t);
		for (int32_t p = 0; p < n; p++)
			br_buf_printf(out, "%s%d=%" PRId64, p ? "," : "", p, next[p]);
	}
	return 0;
}

/* Applies a delta to a table and steps every view that reads it. A log-backed
 * catalog only writes records: the rows come back through its poll, the same
 * way other producers' records do, so upserts become their effective delta. */
static int apply_delta(br_sql *s, const char *table, const br_batch *delta, br_err *err)
{
	int rc = s->cat->vt->apply(s->cat, table, delta, err);
	if (rc)
		return rc;
	if (s->cat->vt->poll)
		return br_sql_poll(s, err);
	return step_views(s, table, delta, err);
}

int br_sql_apply(br_sql *s, const char *table, const br_batch *delta, br_err *err)
{
	const br_sql_table *t = s->cat->vt->find(s->cat, table);
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", table);
	if (delta->ncols != t->ncols)
		return br_errf(err, BR_EINVAL, "table \"%s\" has %d columns, the delta has %d", table, t->ncols,
			       delta->ncols);
	for (int i = 0; i < t->ncols; i++)
		if (delta->cols[i].type->id != t->types[i])
			return br_errf(err, BR_EINVAL, "table \"%s\" column \"%s\" is %s, the delta's is not", table,
				       t->cols[i], br_flow_type_name(t->types[i]));
	int rc = br_batch_validate(delta, err);
	if (rc)
		return br_errctx(err, "delta for \"%s\"", table);
	return apply_delta(s, table, delta, err);
}

void br_sql_set_progress_listener(br_sql *s, br_sql_progress_cb cb, void *arg)
{
	s->progress = cb;
	s->progress_arg = arg;
	s->cat->progress = cb;
	s->cat->progress_arg = arg;
}

void br_sql_set_view_listener(br_sql *s, br_sql_view_cb cb, void *arg)
{
	s->listener = cb;
	s->listener_arg = arg;
}

br_catalog *br_sql_catalog(br_sql *s) { return s->cat; }

/* ------------------------------------------------------------ listing */

typedef struct name_list {
	int n, cap;
	char **v;
} name_list;

static void name_add(void *arg, const char *name)
{
	name_list *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = br_xrealloc(l->v, sizeof *l->v * (size_t)l->cap);
	}
	l->v[l->n++] = br_xstrdup(name);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

bool br_sql_relations(br_sql *s, br_sql_rel_cb cb, void *arg)
{
	char **tl = NULL;
	int tn = 0;
	bool listed = s->cat->vt->list && s->cat->vt->list(s->cat, &tl, &tn) == 0;
	name_list vl = { 0 };
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&s->views, &i, &slot);)
		name_add(&vl, ((br_sql_view *)slot->val)->name);
	if (vl.n)
		qsort(vl.v, (size_t)vl.n, sizeof *vl.v, name_cmp);
	for (int i = 0; i < tn; i++) {
		const br_sql_table *t = s->cat->vt->find(s->cat, tl[i]);
		if (t)
			cb(arg, t->name, false, t->ncols, t->cols, t->types);
		free(tl[i]);
	}
	free(tl);
	for (int i = 0; i < vl.n; i++) {
		const br_sql_view *v = br_map_gets(&s->views, vl.v[i]);
		if (v)
			cb(arg, v->name, true, v->p->nvisible, v->p->names, v->p->types);
		free(vl.v[i]);
	}
	free(vl.v);
	return listed;
}

static int exec_select(stmt_ctx *x, json_t *sel)
{
	plan *p;
	int rc = br_bind_select(&x->env, sel, &p, x->err);
	if (rc)
		return rc;
	br_value **rows;
	int64_t n;
	if ((rc = br_exec_plan(x->s, p, NULL, NULL, &x->arena, &rows, &n, x->err)))
		return rc;
	/* Intervals exist only inside circuits (flow.h): results show their text. */
	br_type_id *types = br_arena_alloc(&x->arena, sizeof *types * (size_t)(p->nvisible + 1));
	bool any_iv = false;
	for (int c = 0; c < p->nvisible; c++) {
		types[c] = p->types[c] == BR_T_INTERVAL ? BR_T_STRING : p->types[c];
		any_iv |= p->types[c] == BR_T_INTERVAL;
	}
	result_set(x->res, p->nvisible, p->names, types);
	if (x->res) {
		/* The batch is built on nvisible columns: hidden sort columns drop here. */
		br_buf tb = { 0 };
		for (int64_t i = 0; i < n; i++) {
			for (int c = 0; any_iv && c < p->nvisible; c++) {
				if (p->types[c] != BR_T_INTERVAL || rows[i][c].is_null)
					continue;
				br_buf_reset(&tb);
				br_val_format_pg(&rows[i][c], BR_T_INTERVAL, &tb);
				rows[i][c] = br_value_bytes(BR_T_STRING, br_arena_strndup(&x->arena, (const char *)tb.p, tb.len), tb.len);
			}
			br_batch_append_row(&x->res->rows, rows[i], 1);
		}
		br_buf_free(&tb);
	}
	result_tag(x->res, "SELECT %" PRId64, n);
	return 0;
}

/* A PRIMARY KEY constraint (col: the column it is written on, or NULL for a
 * table constraint) adds its column names to *keys; a second key is an error. */
static int pkey_constraint(stmt_ctx *x, json_t *con, json_t **keys, const char *col)
{
	const char *ct = jstr(con, "contype");
	if (!ct || strcmp(ct, "CONSTR_PRIMARY"))
		return 0;
	if (*keys)
		return br_errf(x->err, BR_EINVAL, "multiple primary keys for table are not allowed");
	*keys = json_array();
	if (col) {
		json_array_append_new(*keys, json_string(col));
		return 0;
	}
	size_t i;
	json_t *k, *kin;
	json_array_foreach(jget(con, "keys"), i, k) {
		const char *kn = !strcmp(ntype(k, &kin), "String") ? jstr(kin, "sval") : NULL;
		json_array_append_new(*keys, json_string(kn ? kn : "?"));
	}
	return 0;
}

/* Resolves the primary key names to positions and copies WITH (...) options as
 * text into def (memory in the statement's arena). */
/* Time options (event_time, watermark_delay, ...: window.c) go to timeopts;
 * the rest are the catalog's. */
static int table_keys_and_options(stmt_ctx *x, json_t *in, json_t *keys, br_sql_table *def, json_t *timeopts)
{
	size_t i;
	json_t *k;
	def->npk = (int)json_array_size(keys);
	def->pk = br_arena_alloc(&x->arena, sizeof(int) * (size_t)(def->npk + 1));
	json_array_foreach(keys, i, k) {
		const char *kn = json_string_value(k);
		def->pk[i] = -1;
		for (int c = 0; c < def->ncols; c++)
			if (!strcmp(def->cols[c], kn))
				def->pk[i] = c;
		if (def->pk[i] < 0)
			return br_errf(x->err, BR_EINVAL, "column \"%s\" named in key does not exist", kn);
		for (size_t j = 0; j < i; j++)
			if (def->pk[j] == def->pk[i])
				return br_errf(x->err, BR_EINVAL, "column \"%s\" appears twice in primary key constraint", kn);
	}
	json_t *opts = jget(in, "options"), *o;
	def->nopts = (int)json_array_size(opts);
	def->opt_keys = br_arena_alloc(&x->arena, sizeof(char *) * (size_t)(def->nopts + 1));
	def->opt_vals = br_arena_alloc(&x->arena, sizeof(char *) * (size_t)(def->nopts + 1));
	def->topt_keys = br_arena_alloc(&x->arena, sizeof(char *) * (size_t)(def->nopts + 1));
	def->topt_vals = br_arena_alloc(&x->arena, sizeof(char *) * (size_t)(def->nopts + 1));
	def->nopts = 0;
	json_array_foreach(opts, i, o) {
		json_t *d, *a;
		br_time_opts probe;
		br_time_opts_default(&probe);
		br_err terr = { 0 };
		int trc = br_sql_time_defelem(&probe, o, &terr);
		if (trc != BR_ENOTFOUND)
			json_array_append(timeopts, o); /* and as text for a catalog that decides time itself */
		ntype(o, &d);
		const char *key = jstr(d, "defname"), *at = ntype(jget(d, "arg"), &a);
		char num[32];
		const char *val = NULL;
		if (!strcmp(at, "String"))
			val = jstr(a, "sval");
		else if (!strcmp(at, "Float"))
			val = jstr(a, "fval");
		else if (!strcmp(at, "Integer")) {
			snprintf(num, sizeof num, "%" PRId64, (int64_t)json_integer_value(jget(a, "ival")));
			val = num;
		} else if (!strcmp(at, "TypeName")) {
			json_t *names = jget(a, "names"), *last;
			ntype(json_array_get(names, json_array_size(names) - 1), &last);
			val = jstr(last, "sval");
		}
		if (trc != BR_ENOTFOUND) {
			if (key && val) {
				def->topt_keys[def->ntopts] = br_arena_strndup(&x->arena, key, strlen(key));
				def->topt_vals[def->ntopts++] = br_arena_strndup(&x->arena, val, strlen(val));
			}
			continue;
		}
		if (!key || !val)
			return br_errf(x->err, BR_EINVAL, "table option \"%s\" needs a value", key ? key : "?");
		def->opt_keys[def->nopts] = br_arena_strndup(&x->arena, key, strlen(key));
		def->opt_vals[def->nopts++] = br_arena_strndup(&x->arena, val, strlen(val));
	}
	return 0;
}

static int exec_create_table(stmt_ctx *x, json_t *in)
{
	json_t *rel = jget(in, "relation");
	const char *name = jstr(rel, "relname");
	json_t *elts = jget(in, "tableElts");
	if (!name)
		return br_errf(x->err, BR_EINVAL, "CREATE TABLE without a name");
	if (jget(in, "inhRelations") || jget(in, "partspec") || jget(in, "ofTypename"))
		return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: CREATE TABLE ... INHERITS/PARTITION/OF");
	if (x->s->cat->vt->find(x->s->cat, name) || br_map_gets(&x->s->views, name)) {
		if (json_is_true(jget(in, "if_not_exists"))) {
			result_tag(x->res, "CREATE TABLE");
			return 0;
		}
		return br_errf(x->err, BR_EEXIST, "relation \"%s\" already exists", name);
	}
	int n = (int)json_array_size(elts);
	br_sql_table def = { .name = (char *)name, .ncols = 0 };
	def.cols = br_arena_alloc(&x->arena, sizeof(char *) * (size_t)(n + 1));
	def.types = br_arena_alloc(&x->arena, sizeof(br_type_id) * (size_t)(n + 1));
	json_t *pkeys = NULL; /* PRIMARY KEY: the column names, as a table constraint gives them */
	for (int i = 0; i < n; i++) {
		json_t *cd;
		const char *t = ntype(json_array_get(elts, (size_t)i), &cd);
		if (!strcmp(t, "Constraint")) {
			/* other table constraints: accepted, not enforced */
			if (pkey_constraint(x, cd, &pkeys, NULL))
				return x->err->code;
			continue;
		}
		if (strcmp(t, "ColumnDef"))
			return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: %s in CREATE TABLE", t);
		const char *cn = jstr(cd, "colname");
		json_t *tn = jget(cd, "typeName");
		/* Reuse the binder's type names through a cast of NULL. */
		json_t *castnode = json_pack("{s:{s:{s:{s:b}},s:O}}", "TypeCast", "arg", "A_Const", "isnull", 1, "typeName", tn);
		br_expr *e;
		int rc = br_bind_const_expr(&x->env, castnode, &e, x->err);
		json_decref(castnode);
		if (rc)
			return br_errctx(x->err, "column \"%s\"", cn ? cn : "?");
		for (int k = 0; k < def.ncols; k++)
			if (cn && !strcmp(def.cols[k], cn))
				return br_errf(x->err, BR_EINVAL, "column \"%s\" specified more than once", cn);
		def.cols[def.ncols] = (char *)(cn ? cn : "?");
		def.types[def.ncols++] = e->type;
		size_t k;
		json_t *con;
		json_array_foreach(jget(cd, "constraints"), k, con) {
			json_t *ci;
			if (!strcmp(ntype(con, &ci), "Constraint") && pkey_constraint(x, ci, &pkeys, cn))
				return x->err->code;
		}
	}
	json_t *timeopts = json_array();
	int rc = table_keys_and_options(x, in, pkeys, &def, timeopts);
	json_decref(pkeys);
	if (!rc)
		rc = x->s->cat->vt->create(x->s->cat, &def, x->err);
	if (!rc && json_array_size(timeopts) && (rc = br_sql_table_options(x->s, name, timeopts, x->err))) {
		br_err derr; /* WITH (...) is part of the statement: no table without it */
		x->s->cat->vt->drop(x->s->cat, name, &derr);
	}
	json_decref(timeopts);
	if (!rc)
		result_tag(x->res, "CREATE TABLE");
	return rc;
}

static const br_sql_table *find_table(stmt_ctx *x, json_t *rel)
{
	const char *name = jstr(rel, "relname");
	const br_sql_table *t = name ? x->s->cat->vt->find(x->s->cat, name) : NULL;
	if (!t) {
		if (name && br_map_gets(&x->s->views, name))
			br_errf(x->err, BR_EINVAL, "cannot change materialized view \"%s\"", name);
		else
			br_errf(x->err, BR_ENOTFOUND, "relation \"%s\" does not exist", name ? name : "?");
	}
	return t;
}

static int exec_insert(stmt_ctx *x, json_t *in)
{
	const br_sql_table *t = find_table(x, jget(in, "relation"));
	if (!t)
		return x->err->code;
	if (jget(in, "onConflictClause") || jget(in, "returningList") || jget(in, "withClause"))
		return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: INSERT with ON CONFLICT, RETURNING or WITH");
	/* Target column positions (default: all, in order). */
	json_t *cols = jget(in, "cols");
	int ncols = cols ? (int)json_array_size(cols) : t->ncols;
	int *pos = br_arena_alloc(&x->arena, sizeof(int) * (size_t)(ncols + 1));
	for (int i = 0; i < ncols; i++) {
		if (!cols) {
			pos[i] = i;
			continue;
		}
		json_t *rt;
		ntype(json_array_get(cols, (size_t)i), &rt);
		const char *cn = jstr(rt, "name");
		pos[i] = -1;
		for (int k = 0; cn && k < t->ncols; k++)
			if (!strcmp(t->cols[k], cn))
				pos[i] = k;
		if (pos[i] < 0)
			return br_errf(x->err, BR_EINVAL, "column \"%s\" of relation \"%s\" does not exist", cn ? cn : "?",
				       t->name);
		for (int k = 0; k < i; k++)
			if (pos[k] == pos[i])
				return br_errf(x->err, BR_EINVAL, "column \"%s\" specified more than once", cn);
	}
	json_t *sel = jget(jget(in, "selectStmt"), "SelectStmt");
	if (!sel)
		return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: INSERT ... DEFAULT VALUES");
	br_batch delta;
	br_batch_init(&delta, t->rowtype, true);
	br_value *row = br_arena_alloc(&x->arena, sizeof *row * (size_t)(t->ncols + 1));
	br_eval ev = { .scratch = &x->arena };
	int rc = 0;
	int64_t count = 0;
	json_t *vl = jget(sel, "valuesLists");
	if (vl) {
		size_t i;
		json_t *lst;
		json_array_foreach(vl, i, lst) {
			json_t *items = jget(jget(lst, "List"), "items");
			if ((int)json_array_size(items) != ncols) {
				rc = br_errf(x->err, BR_EINVAL, "INSERT has %s expressions than target columns",
					     (int)json_array_size(items) > ncols ? "more" : "fewer");
				break;
			}
			for (int k = 0; k < t->ncols; k++)
				row[k] = br_value_null(t->types[k]);
			for (int k = 0; k < ncols && !rc; k++) {
				br_expr *e;
				json_t *item = json_array_get(items, (size_t)k), *din;
				if (!strcmp(ntype(item, &din), "SetToDefault"))
					continue;
				if ((rc = br_bind_const_expr(&x->env, item, &e, x->err)) ||
				    (rc = br_bind_coerce(&x->env, e, t->types[pos[k]], &e, x->err)))
					break;
				rc = br_expr_eval(e, &ev, NULL, &row[pos[k]], x->err);
			}
			if (rc)
				break;
			br_batch_append_row(&delta, row, 1);
			count++;
		}
	} else {
		plan *p;
		br_value **rows;
		int64_t n;
		if (!(rc = br_bind_select(&x->env, sel, &p, x->err)) && p->nvisible != ncols)
			rc = br_errf(x->err, BR_EINVAL, "INSERT has %s expressions than target columns",
				     p->nvisible > ncols ? "more" : "fewer");
		for (int k = 0; !rc && k < ncols; k++)
			if (p->types[k] != t->types[pos[k]] && !(p->types[k] == BR_T_LONG && t->types[pos[k]] == BR_T_DOUBLE))
				rc = br_errf(x->err, BR_EINVAL, "column \"%s\" is of type %s but expression is of type %s",
					     t->cols[pos[k]], br_flow_type_name(t->types[pos[k]]), br_flow_type_name(p->types[k]));
		if (!rc)
			rc = br_exec_plan(x->s, p, NULL, NULL, &x->arena, &rows, &n, x->err);
		for (int64_t i = 0; !rc && i < n; i++) {
			for (int k = 0; k < t->ncols; k++)
				row[k] = br_value_null(t->types[k]);
			for (int k = 0; k < ncols; k++)
				row[pos[k]] = rows[i][k];
			br_batch_append_row(&delta, row, 1);
			count++;
		}
	}
	if (!rc) /* a table with event time decides lateness (time.h); else a plain delta */
		rc = br_sql_table_time(x->s, t->name) ? br_sql_ingest(x->s, t->name, 0, &delta, NULL, NULL, NULL, x->err)
						      : apply_delta(x->s, t->name, &delta, x->err);
	br_batch_free(&delta);
	if (!rc)
		result_tag(x->res, "INSERT 0 %" PRId64, count);
	return rc;
}

/* DELETE and UPDATE: scan the table, retract matching rows, insert new ones. */
static int exec_modify(stmt_ctx *x, json_t *in, bool update)
{
	const br_sql_table *t = find_table(x, jget(in, "relation"));
	if (!t)
		return x->err->code;
	if (jget(in, "usingClause") || jget(in, "fromClause") || jget(in, "returningList") || jget(in, "withClause"))
		return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: USING/FROM/RETURNING/WITH in %s",
			       update ? "UPDATE" : "DELETE");
	int rc = 0;
	br_expr *where = NULL;
	if (jget(in, "whereClause")) {
		if ((rc = br_bind_table_expr(&x->env, t, jget(in, "whereClause"), &where, x->err)))
			return rc;
		if (where->type != BR_T_BOOLEAN)
			return br_errf(x->err, BR_EINVAL, "argument of WHERE must be type boolean, not type %s",
				       br_flow_type_name(where->type));
	}
	int nset = 0;
	int *setcol = NULL;
	br_expr **setexpr = NULL;
	if (update) {
		json_t *tl = jget(in, "targetList");
		nset = (int)json_array_size(tl);
		setcol = br_arena_alloc(&x->arena, sizeof(int) * (size_t)(nset + 1));
		setexpr = br_arena_alloc(&x->arena, sizeof(br_expr *) * (size_t)(nset + 1));
		for (int i = 0; i < nset; i++) {
			json_t *rt;
			ntype(json_array_get(tl, (size_t)i), &rt);
			const char *cn = jstr(rt, "name");
			setcol[i] = -1;
			for (int k = 0; cn && k < t->ncols; k++)
				if (!strcmp(t->cols[k], cn))
					setcol[i] = k;
			if (setcol[i] < 0)
				return br_errf(x->err, BR_EINVAL, "column \"%s\" of relation \"%s\" does not exist", cn ? cn : "?",
					       t->name);
			if (jget(rt, "indirection"))
				return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: UPDATE of a subfield");
			if ((rc = br_bind_table_expr(&x->env, t, jget(rt, "val"), &setexpr[i], x->err)) ||
			    (rc = br_bind_coerce(&x->env, setexpr[i], t->types[setcol[i]], &setexpr[i], x->err)))
				return rc;
		}
	}
	br_batch cur, delta;
	br_batch_init(&cur, t->rowtype, true);
	br_batch_init(&delta, t->rowtype, true);
	br_value *row = br_arena_alloc(&x->arena, sizeof *row * (size_t)(t->ncols + 1));
	br_value *nrow = br_arena_alloc(&x->arena, sizeof *nrow * (size_t)(t->ncols + 1));
	br_eval ev = { .scratch = &x->arena };
	int64_t count = 0;
	rc = x->s->cat->vt->scan(x->s->cat, t->name, &cur, x->err);
	for (int64_t i = 0; !rc && i < cur.nrows; i++) {
		br_batch_get_row(&cur, i, row);
		int64_t w = br_batch_weight(&cur, i);
		if (where) {
			br_value v;
			if ((rc = br_expr_eval(where, &ev, row, &v, x->err)))
				break;
			if (!br_val_is_true(&v))
				continue;
		}
		br_batch_append_row(&delta, row, -w);
		if (update) {
			memcpy(nrow, row, sizeof *row * (size_t)t->ncols);
			for (int k = 0; k < nset && !rc; k++)
				rc = br_expr_eval(setexpr[k], &ev, row, &nrow[setcol[k]], x->err);
			if (rc)
				break;
			br_batch_append_row(&delta, nrow, w);
		}
		count += w;
	}
	if (!rc)
		rc = apply_delta(x->s, t->name, &delta, x->err);
	br_batch_free(&cur);
	br_batch_free(&delta);
	if (!rc)
		result_tag(x->res, "%s %" PRId64, update ? "UPDATE" : "DELETE", count);
	return rc;
}

/* A view's watermark: the least of the watermarks of the timed tables it
 * reads; BR_TIME_NONE while one has none, INT64_MAX when it reads none. */
static int64_t view_watermark(br_sql *s, const br_sql_view *v)
{
	int64_t wm = INT64_MAX;
	for (int i = 0; i < v->ninputs; i++)
		if (v->input_tables[i] && br_sql_table_time(s, v->input_tables[i])) {
			int64_t t = br_sql_table_watermark(s, v->input_tables[i]);
			wm = t < wm ? t : wm;
		}
	return wm;
}

/* Steps v at its watermark (closing windows); false if it has none to act on. */
static int view_step_watermark(br_sql *s, br_sql_view *v, bool *stepped, br_err *err)
{
	int64_t wm = view_watermark(s, v);
	*stepped = false;
	if (wm == BR_TIME_NONE || wm == INT64_MAX)
		return 0;
	int rc = br_time_circuit_watermark(&v->circ, wm, err);
	if (!rc)
		rc = view_step(s, v, err);
	*stepped = !rc;
	return rc;
}

int br_sql_views_watermark(br_sql *s, const char *table, br_err *err)
{
	br_map_slot *slot;
	int first = 0;
	for (size_t i = 0; br_map_next(&s->views, &i, &slot);) {
		br_sql_view *v = slot->val;
		bool reads = false, stepped;
		for (int k = 0; k < v->ninputs; k++)
			reads |= v->input_tables[k] && !strcmp(v->input_tables[k], table);
		if (!reads || v->broken)
			continue;
		br_err verr;
		int rc = view_step_watermark(s, v, &stepped, &verr);
		if (rc) {
			v->broken = br_xstrdup(verr.msg);
			break_readers(s, v->name, verr.msg);
			if (!first)
				first = br_errf(err, rc, "materialized view \"%s\" could not follow the watermark of \"%s\" "
						"and is now unusable: %s", v->name, table, verr.msg);
			continue;
		}
		if (stepped && v->out->out.nrows)
			view_stepped(s, v, &first, err);
	}
	return first;
}

static int exec_create_view(stmt_ctx *x, const char *name, json_t *sel, bool if_not_exists, json_t *options)
{
	if (!name || !sel)
		return br_errf(x->err, BR_EINVAL, "malformed CREATE VIEW");
	if (x->s->cat->vt->find(x->s->cat, name) || br_map_gets(&x->s->views, name)) {
		if (if_not_exists) {
			result_tag(x->res, "CREATE MATERIALIZED VIEW");
			return 0;
		}
		return br_errf(x->err, BR_EEXIST, "relation \"%s\" already exists", name);
	}
	br_sql_view *v = br_xcalloc(1, sizeof *v);
	v->name = br_xstrdup(name);
	br_arena_init(&v->arena, 16 * 1024);
	bind_env env = x->env;
	env.arena = &v->arena;
	env.for_view = true;
	int rc = br_bind_select(&env, sel, &v->p, x->err);
	if (!rc && (v->p->limit >= 0 || v->p->offset))
		rc = br_errf(x->err, BR_EUNSUPPORTED, "unsupported: LIMIT/OFFSET in a materialized view");
	if (!rc)
		br_window_rewrite(x->s, v->p, &v->arena);
	lower_ctx lc = { 0 };
	br_sink_spec sink = { 0 };
	json_t *viewopts = NULL; /* the options that are not sink_* */
	if (!rc)
		rc = br_sink_take_options(options, &viewopts, &sink, x->err);
	if (!rc)
		rc = br_sql_view_options(viewopts, &lc.win.emit, x->err);
	json_decref(viewopts);
	if (!rc) {
		rc = build_circuit(v->p, &v->circ, &lc, &v->out, x->err);
		if (!rc && lc.win.emit == BR_EMIT_ON_WINDOW_CLOSE && !lc.win.nwinagg)
			rc = br_errf(x->err, BR_EINVAL, "emit = 'on_window_close' needs a GROUP BY window_start, "
				     "window_end over TUMBLE, HOP or SESSION of a table's event_time column");
		v->ninputs = lc.n;
		v->inputs = lc.inputs;
		v->input_tables = (char **)lc.tables;
	} else {
		br_circuit_init(&v->circ);
	}
	v->sql = br_xstrdup(x->stmt_text ? x->stmt_text : "");
	/* A restart loads the view's state from its checkpoint (checkpoint.c),
	 * which replaces the backfill; the catalog's first poll then brings it
	 * the records after the checkpoint's offsets. */
	bool loaded = false;
	if (!rc && x->s->restoring) {
		int lrc = br_sql_ckpt_load_view(x->s, v->name, v->sql, &v->circ, v->ninputs, v->input_tables,
						x->err);
		if (lrc < 0)
			rc = lrc;
		loaded = lrc == 1;
	}
	/* Backfill: the tables' current contents are the first delta (one large
	 * step; progress: rows and bytes scanned, then the step). */
	br_progress pr;
	br_progress_start(&pr, x->s->progress, x->s->progress_arg, v->name, true, 0, 0);
	for (int i = 0; !rc && !loaded && i < v->ninputs; i++) {
		const char *in = v->input_tables[i];
		if (in && !x->s->cat->vt->find(x->s->cat, in) && !br_map_gets(&x->s->views, in) &&
		    br_sink_table_view(x->s, in))
			rc = br_errf(x->err, BR_EUNSUPPORTED, "unsupported: a materialized view over the sink table %s "
				     "(read its view \"%s\" instead: it changes with it)", in, br_sink_table_view(x->s, in));
		else /* a view over a view steps with the other's deltas (view_stepped) */
			rc = feed_relation(x->s, &v->circ, v->inputs[i], in, &pr, x->err);
	}
	if (!rc && !loaded) {
		br_progress_phase(&pr, "step", 0, 0);
		br_progress_add(&pr, 0, 0);
		rc = view_step(x->s, v, x->err);
	}
	if (!rc) {
		br_progress_end(&pr);
		v->backfill = pr.p;
		v->backfill.name = NULL;
	}
	bool stepped;
	if (!rc && !loaded) /* windows the backfill already closed */
		rc = view_step_watermark(x->s, v, &stepped, x->err);
	if (rc) {
		br_sink_spec_free(&sink);
		view_free(v);
		return rc;
	}
	br_map_put(&x->s->views, name, strlen(name), v);
	/* Outputs start from the view's contents (reconciled with what the sink
	 * already holds), before the view is kept: a failing sink fails CREATE. */
	if ((sink.table || sink.topic) && (rc = br_sink_attach(x->s, name, &sink, x->err))) {
		br_sink_spec_free(&sink);
		br_map_del(&x->s->views, name, strlen(name));
		view_free(v);
		return rc;
	}
	if (x->s->cat->vt->save_view && !x->s->restoring &&
	    (rc = x->s->cat->vt->save_view(x->s->cat, name, x->stmt_text, x->err))) {
		br_sink_detach(x->s, name);
		br_map_del(&x->s->views, name, strlen(name));
		view_free(v);
		return rc;
	}
	result_tag(x->res, "CREATE MATERIALIZED VIEW");
	return 0;
}

static int exec_drop(stmt_ctx *x, json_t *in)
{
	const char *rt = jstr(in, "removeType");
	bool missing_ok = json_is_true(jget(in, "missing_ok"));
	size_t i;
	json_t *obj;
	json_array_foreach(jget(in, "objects"), i, obj) {
		json_t *lst = jget(jget(obj, "List"), "items");
		json_t *last = json_array_get(lst, json_array_size(lst) - 1), *sin;
		ntype(last, &sin);
		const char *name = jstr(sin, "sval");
		if (!name)
			return br_errf(x->err, BR_EINVAL, "malformed DROP");
		if (rt && (!strcmp(rt, "OBJECT_VIEW") || !strcmp(rt, "OBJECT_MATVIEW"))) {
			if (!br_map_gets(&x->s->views, name)) {
				if (missing_ok)
					continue;
				return br_errf(x->err, BR_ENOTFOUND, "view \"%s\" does not exist", name);
			}
			br_map_slot *slot;
			for (size_t k = 0; br_map_next(&x->s->views, &k, &slot);) {
				br_sql_view *d = slot->val;
				for (int j = 0; j < d->ninputs; j++)
					if (d->input_tables[j] && !strcmp(d->input_tables[j], name))
						return br_errf(x->err, BR_EINVAL, "cannot drop materialized view %s because "
							       "materialized view %s depends on it", name, d->name);
			}
			br_sink_detach(x->s, name);
			view_free(br_map_del(&x->s->views, name, strlen(name)));
			if (x->s->cat->vt->save_view) {
				int rc = x->s->cat->vt->save_view(x->s->cat, name, NULL, x->err);
				if (rc)
					return rc;
			}
			continue;
		}
		if (!rt || strcmp(rt, "OBJECT_TABLE"))
			return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: DROP %s", rt ? rt + 7 : "?");
		if (!x->s->cat->vt->find(x->s->cat, name)) {
			if (missing_ok)
				continue;
			return br_errf(x->err, BR_ENOTFOUND, "table \"%s\" does not exist", name);
		}
		br_map_slot *slot;
		for (size_t k = 0; br_map_next(&x->s->views, &k, &slot);) {
			br_sql_view *v = slot->val;
			for (int j = 0; j < v->ninputs; j++)
				if (v->input_tables[j] && !strcmp(v->input_tables[j], name))
					return br_errf(x->err, BR_EINVAL,
						       "cannot drop table %s because materialized view %s depends on it", name,
						       v->name);
		}
		int rc = x->s->cat->vt->drop(x->s->cat, name, x->err);
		if (rc)
			return rc;
		br_sql_set_table_time(x->s, name, NULL, x->err);
	}
	result_tag(x->res, "DROP");
	return 0;
}

/* ------------------------------------------------- SHOW and DESCRIBE */

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* SHOW TOPICS: a row per topic of the log behind the catalog. */
static int exec_show_topics(stmt_ctx *x)
{
	if (!x->s->cat->vt->topics)
		return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: SHOW TOPICS without a log (an in-memory session)");
	br_topic_row *rows = NULL;
	int n = 0, rc = x->s->cat->vt->topics(x->s->cat, &rows, &n, x->err);
	if (rc)
		return rc;
	char *cols[] = { "topic", "partitions", "lake_mode", "records", "log_end", "lake_frontier", "lake_lag",
			 "dead_lettered", "sql_table" };
	br_type_id types[] = { BR_T_STRING, BR_T_LONG, BR_T_STRING, BR_T_LONG, BR_T_LONG,
			       BR_T_LONG, BR_T_LONG, BR_T_LONG, BR_T_BOOLEAN };
	result_set(x->res, 9, cols, types);
	for (int i = 0; x->res && i < n; i++) {
		const br_topic_row *r = &rows[i];
		int64_t lake[] = { r->lake_frontier, r->lake_lag, r->dead_lettered };
		br_value v[9];
		v[0] = br_value_bytes(BR_T_STRING, r->name, strlen(r->name));
		v[1] = br_value_i64(BR_T_LONG, r->partitions);
		v[2] = br_value_bytes(BR_T_STRING, r->lake_mode, strlen(r->lake_mode));
		v[3] = br_value_i64(BR_T_LONG, r->records);
		v[4] = br_value_i64(BR_T_LONG, r->log_end);
		for (int k = 0; k < 3; k++)
			v[5 + k] = lake[k] < 0 ? br_value_null(BR_T_LONG) : br_value_i64(BR_T_LONG, lake[k]);
		v[8] = (br_value){ .type = BR_T_BOOLEAN };
		v[8].v.b = r->sql_table;
		br_batch_append_row(&x->res->rows, v, 1);
	}
	br_topic_rows_free(rows, n);
	result_tag(x->res, "SHOW %d", n);
	return 0;
}

/* SHOW VIEWS: each view's state and backfill, by name. A view is
 * "backfilling" only inside its CREATE (the statement runs on the loop thread,
 * so another session sees it once it tails); "tailing" after, with the
 * figures of its backfill (rows and columnar bytes fed, rate, time); "broken"
 * once a step failed. */
static int show_views(stmt_ctx *x)
{
	int n = 0;
	br_sql_view **vs = br_xcalloc(x->s->views.count + 1, sizeof *vs);
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&x->s->views, &i, &slot);)
		vs[n++] = slot->val;
	char **names = br_xcalloc((size_t)n + 1, sizeof *names);
	for (int i = 0; i < n; i++)
		names[i] = vs[i]->name;
	qsort(names, (size_t)n, sizeof *names, cmp_name);
	char *cols[] = { "name", "state", "rows_done", "rows_total", "bytes_done", "bytes_total", "rows_per_s", "eta_s",
			 "seconds" };
	br_type_id types[] = { BR_T_STRING, BR_T_STRING, BR_T_LONG, BR_T_LONG, BR_T_LONG, BR_T_LONG, BR_T_DOUBLE,
			       BR_T_DOUBLE, BR_T_DOUBLE };
	result_set(x->res, 9, cols, types);
	for (int i = 0; i < n && x->res; i++) {
		br_sql_view *v = br_map_gets(&x->s->views, names[i]);
		const br_sql_progress *p = &v->backfill;
		const char *state = v->broken ? "broken" : p->phase && !strcmp(p->phase, "done") ? "tailing" : "backfilling";
		br_value row[9] = {
			br_value_bytes(BR_T_STRING, v->name, strlen(v->name)), br_value_bytes(BR_T_STRING, state, strlen(state)),
			br_value_i64(BR_T_LONG, p->rows_done), br_value_i64(BR_T_LONG, p->rows_total),
			br_value_i64(BR_T_LONG, p->bytes_done), br_value_i64(BR_T_LONG, p->bytes_total),
			br_value_f64(p->rows_per_s), br_value_f64(p->eta_s > 0 ? p->eta_s : 0), br_value_f64(p->elapsed_s),
		};
		br_batch_append_row(&x->res->rows, row, 1);
	}
	free(names);
	free(vs);
	result_tag(x->res, "SHOW %d", n);
	return 0;
}

/* SHOW TABLES: one text column "name", sorted (SHOW VIEWS, SHOW TOPICS above). */
static int exec_show(stmt_ctx *x, const char *what)
{
	char **names = NULL;
	int n = 0, rc;
	if (what && !strcmp(what, "topics"))
		return exec_show_topics(x);
	if (what && !strcmp(what, "tables")) {
		if (!x->s->cat->vt->list)
			return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: SHOW TABLES on this catalog");
		if ((rc = x->s->cat->vt->list(x->s->cat, &names, &n)))
			return rc;
	} else if (what && !strcmp(what, "views")) {
		return show_views(x);
	} else {
		return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: SHOW %s", what ? what : "?");
	}
	qsort(names, (size_t)n, sizeof *names, cmp_name);
	char *cols[1] = { "name" };
	br_type_id types[1] = { BR_T_STRING };
	result_set(x->res, 1, cols, types);
	for (int i = 0; i < n; i++) {
		br_value v = br_value_bytes(BR_T_STRING, names[i], strlen(names[i]));
		if (x->res)
			br_batch_append_row(&x->res->rows, &v, 1);
		free(names[i]);
	}
	free(names);
	result_tag(x->res, "SHOW %d", n);
	return 0;
}

/* DESCRIBE name: the columns of a table or view, with PostgreSQL type names. */
static int exec_describe(stmt_ctx *x, const char *name)
{
	const br_sql_table *t = x->s->cat->vt->find(x->s->cat, name);
	br_sql_view *v = t ? NULL : br_map_gets(&x->s->views, name);
	if (!t && !v)
		return br_errf(x->err, BR_ENOTFOUND, "relation \"%s\" does not exist", name);
	char *cols[2] = { "column_name", "column_type" };
	br_type_id types[2] = { BR_T_STRING, BR_T_STRING };
	result_set(x->res, 2, cols, types);
	int n = t ? t->ncols : v->p->nvisible;
	for (int i = 0; x->res && i < n; i++) {
		const char *cn = t ? t->cols[i] : v->p->names[i];
		const char *tn = br_flow_type_name(t ? t->types[i] : v->p->types[i]);
		br_value row[2] = { br_value_bytes(BR_T_STRING, cn, strlen(cn)), br_value_bytes(BR_T_STRING, tn, strlen(tn)) };
		br_batch_append_row(&x->res->rows, row, 1);
	}
	result_tag(x->res, "DESCRIBE %d", n);
	return 0;
}

/* DESCRIBE is not PostgreSQL grammar: a statement that starts with DESCRIBE
 * (or DESC) and a name is taken here, up to its ';'. Returns the length
 * consumed, 0 when sql does not start with it. */
static size_t describe_prefix(const char *sql, char *name, size_t cap)
{
	const char *p = sql;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	size_t kw = !strncasecmp(p, "describe", 8) ? 8 : !strncasecmp(p, "desc", 4) ? 4 : 0;
	if (!kw || (p[kw] != ' ' && p[kw] != '\t' && p[kw] != '\n'))
		return 0;
	p += kw;
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	size_t n = 0;
	if (*p == '"') { /* quoted identifier, "" is a quote */
		for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
			if (*p == '"')
				p++;
			if (n + 1 < cap)
				name[n++] = *p;
		}
		if (*p != '"')
			return 0;
		p++;
	} else {
		for (; *p && (isalnum((unsigned char)*p) || *p == '_' || *p == '.'); p++)
			if (n + 1 < cap)
				name[n++] = (char)tolower((unsigned char)*p);
	}
	name[n] = 0;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (!n || (*p && *p != ';'))
		return 0;
	if (*p == ';')
		p++;
	/* a.b: the part after the last dot (there is one schema) */
	char *dot = strrchr(name, '.');
	if (dot)
		memmove(name, dot + 1, strlen(dot));
	return (size_t)(p - sql);
}

bool br_sql_is_describe(const char *sql)
{
	char name[256];
	return describe_prefix(sql, name, sizeof name) > 0;
}

/* ------------------------------------------------------------- EXPLAIN */

static bool explain_analyze(json_t *options)
{
	size_t i;
	json_t *d, *in;
	json_array_foreach(options, i, d) {
		ntype(d, &in);
		const char *name = jstr(in, "defname");
		if (name && !strcmp(name, "analyze"))
			return true;
	}
	return false;
}

/* The result: one text column, a row per line of text. */
static void explain_result(stmt_ctx *x, const br_buf *text)
{
	char *names[1] = { "QUERY PLAN" };
	br_type_id types[1] = { BR_T_STRING };
	result_set(x->res, 1, names, types);
	for (size_t i = 0; x->res && i < text->len;) {
		size_t j = i;
		while (j < text->len && text->p[j] != '\n')
			j++;
		br_value v = br_value_bytes(BR_T_STRING, (const char *)text->p + i, j - i);
		br_batch_append_row(&x->res->rows, &v, 1);
		i = j + 1;
	}
	result_tag(x->res, "EXPLAIN");
}

/* SELECT * FROM v, v a materialized view: its name, else NULL. */
static const char *matview_of(stmt_ctx *x, json_t *q)
{
	json_t *from = jget(q, "fromClause"), *tl = jget(q, "targetList"), *rv, *rt, *cr;
	if (json_array_size(from) != 1 || json_array_size(tl) != 1 || jget(q, "whereClause") || jget(q, "groupClause") ||
	    jget(q, "sortClause") || jget(q, "limitCount") || jget(q, "distinctClause"))
		return NULL;
	if (strcmp(ntype(json_array_get(from, 0), &rv), "RangeVar") || jget(rv, "schemaname"))
		return NULL;
	ntype(json_array_get(tl, 0), &rt);
	json_t *fields = jget(jget(jget(rt, "val"), "ColumnRef"), "fields");
	if (json_array_size(fields) != 1 || strcmp(ntype(json_array_get(fields, 0), &cr), "A_Star"))
		return NULL;
	const char *name = jstr(rv, "relname");
	return name && br_map_gets(&x->s->views, name) ? name : NULL;
}

/* EXPLAIN [ANALYZE] SELECT: the circuit; with ANALYZE the query runs once and
 * each operator shows rows emitted, time and state. EXPLAIN ANALYZE of
 * SELECT * FROM a materialized view shows the view's own circuit with what it
 * did over all its steps and the state it holds. */
static int exec_explain(stmt_ctx *x, json_t *q, bool analyze)
{
	br_buf out = { 0 };
	const char *mv = analyze ? matview_of(x, q) : NULL;
	if (mv) {
		br_sql_view *v = br_map_gets(&x->s->views, mv);
		br_buf_printf(&out, "materialized view %s:\n", mv);
		br_circuit_explain_analyze(&v->circ, &out);
		explain_result(x, &out);
		br_buf_free(&out);
		return 0;
	}
	plan *p;
	int rc = br_bind_select(&x->env, q, &p, x->err);
	if (rc)
		return rc;
	br_circuit c;
	lower_ctx lc = { 0 };
	br_op *integ;
	if (!(rc = build_circuit(p, &c, &lc, &integ, x->err)) && analyze) {
		c.once = true;
		uint64_t t0 = br_mono_ns();
		for (int i = 0; !rc && i < lc.n; i++)
			rc = feed_relation(x->s, &c, lc.inputs[i], lc.tables[i], NULL, x->err);
		uint64_t t1 = br_mono_ns();
		if (!rc)
			rc = br_circuit_step(&c, x->err);
		if (!rc) {
			br_circuit_explain_analyze(&c, &out);
			br_buf_printf(&out, "read tables: %.3f ms, run: %.3f ms\n", (double)(t1 - t0) / 1e6,
				      (double)(br_mono_ns() - t1) / 1e6);
		}
	} else if (!rc) {
		br_circuit_explain(&c, &out);
	}
	if (!rc)
		explain_result(x, &out);
	br_buf_free(&out);
	br_circuit_free(&c);
	free(lc.tables);
	free(lc.inputs);
	return rc;
}

static int exec_stmt(stmt_ctx *x, json_t *stmt)
{
	json_t *in;
	const char *t = ntype(stmt, &in);
	if (!strcmp(t, "SelectStmt"))
		return exec_select(x, in);
	if (!strcmp(t, "CreateStmt"))
		return exec_create_table(x, in);
	if (!strcmp(t, "InsertStmt"))
		return exec_insert(x, in);
	if (!strcmp(t, "DeleteStmt"))
		return exec_modify(x, in, false);
	if (!strcmp(t, "UpdateStmt"))
		return exec_modify(x, in, true);
	if (!strcmp(t, "DropStmt"))
		return exec_drop(x, in);
	if (!strcmp(t, "ViewStmt")) {
		const char *name = jstr(jget(in, "view"), "relname");
		if (jget(in, "aliases"))
			return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: column names on CREATE VIEW");
		return exec_create_view(x, name, jget(jget(in, "query"), "SelectStmt"), false, jget(in, "options"));
	}
	if (!strcmp(t, "CreateTableAsStmt")) {
		const char *ot = jstr(in, "objtype");
		if (!ot || strcmp(ot, "OBJECT_MATVIEW"))
			return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: CREATE TABLE AS");
		json_t *into = jget(in, "into");
		if (jget(into, "colNames"))
			return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: column names on CREATE MATERIALIZED VIEW");
		return exec_create_view(x, jstr(jget(into, "rel"), "relname"), jget(jget(in, "query"), "SelectStmt"),
					json_is_true(jget(in, "if_not_exists")), jget(into, "options"));
	}
	if (!strcmp(t, "ExplainStmt")) {
		json_t *q;
		if (strcmp(ntype(jget(in, "query"), &q), "SelectStmt"))
			return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: EXPLAIN of this statement");
		return exec_explain(x, q, explain_analyze(jget(in, "options")));
	}
	if (!strcmp(t, "IndexStmt")) {
		/* Indexes never change an answer; braid's operators index their own
		 * state, so CREATE INDEX is accepted and has no effect. */
		json_t *rel = jget(in, "relation");
		if (!find_table(x, rel))
			return x->err->code;
		result_tag(x->res, "CREATE INDEX");
		return 0;
	}
	if (!strcmp(t, "VariableShowStmt") && jstr(in, "name") && !strcasecmp(jstr(in, "name"), "watermarks"))
		return br_sql_show_watermarks(x->s, x->res, x->err);
	if (!strcmp(t, "VariableShowStmt"))
		return exec_show(x, jstr(in, "name"));
	if (!strcmp(t, "TransactionStmt")) {
		result_tag(x->res, "%s", "OK"); /* every statement is its own transaction */
		return 0;
	}
	return br_errf(x->err, BR_EUNSUPPORTED, "unsupported: statement %s", t[0] ? t : "(unknown)");
}

int br_sql_exec(br_sql *s, const char *sql, br_sql_result *res, br_err *err)
{
	br_err local;
	if (!err)
		err = &local;
	err->code = 0;
	err->msg[0] = 0;
	if (res) {
		br_sql_result_free(res);
	}
	char dname[256];
	size_t dlen = describe_prefix(sql, dname, sizeof dname);
	if (dlen) {
		stmt_ctx x = { .s = s, .sql = sql, .res = res, .err = err };
		br_arena_init(&x.arena, 4096);
		int rc = exec_describe(&x, dname);
		br_arena_free(&x.arena);
		const char *rest = sql + dlen;
		while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')
			rest++;
		if (rc || !*rest)
			return rc;
		sql = rest;
		if (res) /* the last statement's result wins */
			br_sql_result_free(res);
	}
	PgQueryParseResult pr = pg_query_parse(sql);
	if (pr.error) {
		int rc = br_errf(err, BR_EINVAL, "%s at character %d", pr.error->message, pr.error->cursorpos);
		pg_query_free_parse_result(pr);
		return rc;
	}
	json_error_t je;
	json_t *root = json_loads(pr.parse_tree, 0, &je);
	pg_query_free_parse_result(pr);
	if (!root) /* jansson refuses trees deeper than 2048 levels */
		return br_errf(err, BR_EUNSUPPORTED, "unsupported: statement nested too deeply (%s)", je.text);
	int rc = 0;
	size_t i;
	json_t *st;
	json_array_foreach(jget(root, "stmts"), i, st) {
		stmt_ctx x = { .s = s, .sql = sql, .res = res, .err = err };
		br_arena_init(&x.arena, 16 * 1024);
		size_t len = strlen(sql), loc = (size_t)json_integer_value(jget(st, "stmt_location"));
		size_t slen = (size_t)json_integer_value(jget(st, "stmt_len"));
		loc = BR_MIN(loc, len);
		if (!slen || slen > len - loc)
			slen = len - loc;
		while (slen && (sql[loc] == ' ' || sql[loc] == '\n' || sql[loc] == '\t' || sql[loc] == '\r'))
			loc++, slen--;
		x.stmt_text = br_arena_strndup(&x.arena, sql + loc, slen);
		/* A log-backed catalog first takes in what arrived since the last
		 * statement; a view that cannot follow is marked unusable and says
		 * so when queried, so this statement goes on. */
		br_err perr = { 0 };
		if (s->cat->vt->poll && !s->restoring && br_sql_poll(s, &perr))
			br_warn("%s", perr.msg);
		x.env = (bind_env){ .session = s, .cat = s->cat, .find_view = find_view_plan, .arena = &x.arena, .sql = sql };
		if (res) {
			br_sql_result_free(res);
		}
		rc = exec_stmt(&x, jget(st, "stmt"));
		br_arena_free(&x.arena);
		if (rc)
			break;
	}
	json_decref(root);
	return rc;
}

/* Two passes (statements do not poll meanwhile: s->restoring): first the
 * views the checkpoint holds, loaded from it; then one poll hands them what
 * the tables read past the checkpoint's offsets; then every other view is
 * rebuilt from the tables' contents, which by then include those records. A
 * view whose state does not load is rebuilt in the second pass. */
int br_sql_restore(br_sql *s, br_err *err)
{
	if (!s->cat->vt->views)
		return 0;
	char **names, **sqls;
	int n, rc = 0;
	s->cat->vt->views(s->cat, &names, &sqls, &n);
	s->restoring = true;
	bool *done = br_xcalloc((size_t)n + 1, sizeof *done);
	br_sql_ckpt_begin_restore(s);
	for (int i = 0; i < n; i++) {
		br_err verr = { 0 };
		if (!br_sql_ckpt_has_view(s, names[i]))
			continue;
		if (br_sql_exec(s, sqls[i], NULL, &verr))
			br_warn("view %s: its checkpoint does not load (%s); it rebuilds from lake + log", names[i],
				verr.msg);
		else
			done[i] = true;
	}
	br_sql_ckpt_loaded(s);
	br_err perr = { 0 };
	if (s->cat->vt->poll && br_sql_poll(s, &perr))
		br_warn("%s", perr.msg);
	for (int i = 0; i < n; i++) {
		br_err verr = { 0 };
		if (!done[i] && br_sql_exec(s, sqls[i], NULL, &verr) && !rc)
			rc = br_errf(err, verr.code, "view \"%s\" could not be re-created: %s", names[i], verr.msg);
		free(names[i]);
		free(sqls[i]);
	}
	free(done);
	br_sql_ckpt_end_restore(s);
	s->restoring = false;
	free(names);
	free(sqls);
	return rc;
}

int br_sql_explain_view(br_sql *s, const char *view, char **out, br_err *err)
{
	br_sql_view *v = br_map_gets(&s->views, view);
	if (!v)
		return br_errf(err, BR_ENOTFOUND, "view \"%s\" does not exist", view);
	br_buf b = { 0 };
	br_circuit_explain(&v->circ, &b);
	br_buf_u8(&b, 0);
	*out = (char *)b.p;
	return 0;
}
