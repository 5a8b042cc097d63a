/* window.h — time in SQL: the window table functions TUMBLE/HOP/SESSION
 * (binding and lowering), windowed GROUP BY, the emit option of views, table
 * time options (event_time, watermark_delay, ...) and the ingest path that
 * decides lateness per partition and moves views' watermarks. docs/time.md. */
#ifndef BR_SQL_WINDOW_H
#define BR_SQL_WINDOW_H

#include <jansson.h>

#include "flow/time.h"
#include "sql/plan.h"

/* ------------------------------------------------- for the table owner */

/* Reads one DefElem of CREATE TABLE ... WITH (...) into o. BR_ENOTFOUND when
 * the option is not a time option (the caller may own it), BR_EINVAL with a
 * message for a bad value. */
int br_sql_time_defelem(br_time_opts *o, json_t *defelem, br_err *err);
/* Declares (or, with o NULL, forgets) the time options of a table. Checks the
 * event_time column exists and is BIGINT (microseconds), TIMESTAMP or
 * TIMESTAMPTZ, or is "_append_time". Resets the table's watermark tracker. */
int br_sql_set_table_time(br_sql *s, const char *table, const br_time_opts *o, br_err *err);
/* The number of partitions of the table's log (default 1). The global
 * watermark waits for every partition (until idle_timeout), so this must be
 * set before rows of a multi-partition log are ingested: a partition the
 * tracker does not know of cannot hold the watermark back. */
int br_sql_set_table_partitions(br_sql *s, const char *table, int nparts, br_err *err);
/* CREATE TABLE's WITH list: every option must be a time option; then
 * br_sql_set_table_time. */
int br_sql_table_options(br_sql *s, const char *table, json_t *options, br_err *err);
/* The time options of a table, NULL if it has none. */
const br_time_opts *br_sql_table_time(br_sql *s, const char *table);

/* The ingest path: rows of `table` read from partition `partition` of its
 * log, in log order, with their broker append times (NULL: no append time —
 * rows inserted by SQL — so nothing can be forged). Every row with a positive
 * weight is classified by the table's tracker (flow/time.h); rows judged
 * ON_TIME or LATE_UPDATE are applied (br_sql_apply), the others are not, and
 * their verdict (and reason) is reported in verdicts[i] / reasons[i] when
 * given so the caller can send them to the dead-letter topic. Rows with a
 * negative weight (retractions) are applied as they are. Then the table's
 * global watermark moves, and every view reading it takes a step at the new
 * watermark (closing windows). On a table whose catalog judges time itself
 * (vt->tracker: topic-backed) the rows are only written (br_sql_apply) and
 * judged when the catalog reads them back; verdicts are not reported here.
 * A table without time options is a plain
 * br_sql_apply. */
int br_sql_ingest(br_sql *s, const char *table, int partition, const br_batch *rows, const int64_t *append_times,
		  uint8_t *verdicts, const char **reasons, br_err *err);
/* Current global watermark of a table (BR_TIME_NONE if none yet or no time). */
int64_t br_sql_table_watermark(br_sql *s, const char *table);
/* SHOW WATERMARKS: one row per (table, partition): table, partition,
 * watermark, max_event_time, idle, on_time, late_applied, late, quarantined. */
int br_sql_show_watermarks(br_sql *s, br_sql_result *res, br_err *err);

/* ------------------------------------------------ hooks for the binder */

typedef struct br_window_spec {
	int kind;           /* br_window_kind */
	int tcol;           /* time column in the input */
	int64_t size, slide, offset, gap;
	int nkeys;          /* SESSION keys */
	int *keys;
	int64_t lateness;   /* allowed lateness of the source table */
	/* On a P_JOIN (set by br_window_rewrite): an interval join on
	 * left column atcol and right column btcol, lower <= a - b <= upper. */
	bool interval_join;
	bool window_join;   /* ... on window_end = window_end (lower = upper = 0) */
	int atcol, btcol;
	int64_t lower, upper;
} br_window_spec;

/* A FROM item that is a RangeFunction: TUMBLE(t, col, size [, offset]),
 * HOP(t, col, slide, size [, offset]), SESSION(t, col, gap [, key, ...]).
 * Sets *out to a P_WINDOW plan over a scan of t and *qual to its name. */
int br_bind_window_tvf(bind_env *env, json_t *rangefunction, plan **out, const char **qual, br_err *err);

/* ------------------------------------------------ hooks for lowering */

/* State of a lowering the window code reads and writes. */
typedef struct br_window_lower {
	int emit;           /* br_emit_mode of the view being built */
	int nwinagg;        /* windowed aggregates built */
} br_window_lower;

int br_lower_window(br_circuit *c, const plan *p, br_op *in, br_op **out, br_err *err);
/* Builds a windowed aggregate when p (a P_AGG) groups by window_start and/or
 * window_end of one window function below it (through maps, filters,
 * aggregates' group columns, ...; only one of them: TUMBLE or HOP, whose
 * size gives the other); returns 1 without building anything when p is a
 * plain aggregate. */
int br_lower_window_agg(br_circuit *c, const plan *p, br_op *in, br_window_lower *wl, br_op **out, br_err *err);
/* The same for ranking functions (p a P_RANK) partitioned by a window's
 * column: a top-N per window whose state is released when the window closes. */
int br_lower_window_rank(br_circuit *c, const plan *p, br_op *in, br_window_lower *wl, br_op **out, br_err *err);
/* Marks, in a view's plan, inner joins whose filters bound the difference of
 * the two sides' event-time columns (a.ts BETWEEN b.ts - 10 AND b.ts + 5) so
 * they lower to interval joins that release state on the watermark. */
void br_window_rewrite(br_sql *s, plan *p, br_arena *arena);
int br_lower_interval_join(br_circuit *c, const plan *p, br_op *a, br_op *b, br_op **out, br_err *err);
/* A view's WITH (...) options: emit = 'changelog' | 'on_window_close'. */
int br_sql_view_options(json_t *options, int *emit, br_err *err);

/* Tables whose catalog decides event time (vt->tracker): at session open the
 * session takes the time options of every such table; after each poll it
 * steps the views reading a table whose global watermark moved. */
void br_sql_time_adopt(br_sql *s);
int br_sql_time_polled(br_sql *s, br_err *err);

/* Session state owned by window.c (table trackers), freed with the session. */
void br_sql_time_free(br_sql *s);

/* Provided by exec.c: steps every view reading `table` at its new watermark
 * (min over the timed tables it reads). */
int br_sql_views_watermark(br_sql *s, const char *table, br_err *err);

#endif
