/* time.h — event time in flow: interval text, a source's time options, the
 * per-partition watermark tracker (lateness and forged timestamps decided as a
 * pure function of the log order), and the window operators (TUMBLE/HOP
 * assignment, SESSION, windowed aggregate with emit modes and state release).
 * Times are int64 microseconds since the epoch (UTC), whatever the column's
 * type (LONG, TIMESTAMP, TIMESTAMPTZ). docs/time.md is the user-facing story. */
#ifndef BR_FLOW_TIME_H
#define BR_FLOW_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "flow/flow.h"

#define BR_TIME_NONE INT64_MIN /* "no watermark yet" / "no event seen" */

/* ------------------------------------------------------------ intervals
 *
 * "5 seconds", "1 minute", "500 ms", "1m30s", "1 hour 30 minutes", "2.5s",
 * "00:01:30" -> microseconds. Units: us/usec/microsecond(s), ms/msec/
 * millisecond(s), s/sec/second(s), m/min/minute(s), h/hour(s), d/day(s),
 * w/week(s). A bare number is rejected (ambiguous). Negative is rejected. */
int br_time_parse_interval(const char *s, int64_t *us, br_err *err);

/* --------------------------------------------------------- source options */

enum br_lateness { BR_LATE_DROP, BR_LATE_UPDATE, BR_LATE_DEAD_LETTER };

typedef struct br_time_opts {
	char event_time[64];        /* event-time column; "" = none; "_append_time" = broker time */
	int64_t watermark_delay;    /* us, bounded out-of-orderness (default 0) */
	int lateness;               /* br_lateness (default drop) */
	int64_t allowed_lateness;   /* us, how long closed windows still accept updates (lateness = update) */
	int64_t idle_timeout;       /* us of broker append time; 0 = partitions never count as idle */
	int64_t max_future_skew;    /* us; events later than append_time + skew are quarantined; -1 = no limit */
} br_time_opts;

void br_time_opts_default(br_time_opts *o);
/* Sets one option from its text (keys: event_time, watermark_delay, lateness,
 * allowed_lateness, idle_timeout, max_future_skew). Returns BR_ENOTFOUND for a
 * key that is not a time option (the caller may own it), BR_EINVAL with a
 * message for a bad value. */
int br_time_parse_option(br_time_opts *o, const char *key, const char *val, br_err *err);
/* All of n key/value pairs; unknown keys are errors here. */
int br_time_parse_options(br_time_opts *o, int n, const char *const *keys, const char *const *vals, br_err *err);
/* "event_time=ts, watermark_delay=5s, ..." for SHOW/EXPLAIN. */
void br_time_opts_format(const br_time_opts *o, br_buf *out);

/* ------------------------------------------------------ watermark tracker
 *
 * One per source. The ingest path calls br_wm_observe for every record in log
 * order per partition (partitions may interleave arbitrarily). For partition p:
 *   max_p = greatest accepted event time so far; wm_p = max_p - watermark_delay.
 * A record with event time t and broker append time a is
 *   QUARANTINED  when max_future_skew >= 0 and t > a + max_future_skew
 *                (it never moves max_p: a forged future timestamp cannot make
 *                honest data late);
 *   LATE         when t < wm_p as it stands before the record (the policy says
 *                what happens: dropped or sent to the dead-letter topic), except
 *   LATE_UPDATE  under lateness = update when t >= wm_p - allowed_lateness: the
 *                record is applied and updates windows that are still open;
 *   ON_TIME      otherwise (max_p moves to max(max_p, t)).
 * Each verdict depends only on the partition's own records before it, so it
 * is the same in backfill and live tail, for any interleaving.
 * Global watermark = min over non-idle partitions of wm_p, never decreasing. A
 * partition is idle when the greatest append time seen on any partition is
 * more than idle_timeout past its own last append time (broker time, never
 * the wall clock). Partitions never seen count from the first append time the
 * tracker saw. Accepted records (ON_TIME, LATE_UPDATE) satisfy
 * t >= global - allowed_lateness at the moment they are observed, which is what
 * lets windows close on the global watermark without losing any of them. */

enum br_time_verdict { BR_TIME_ON_TIME, BR_TIME_LATE_UPDATE, BR_TIME_LATE, BR_TIME_QUARANTINED };

typedef struct br_wm_part {
	int64_t max_event;          /* BR_TIME_NONE before the first accepted record */
	int64_t last_append;        /* BR_TIME_NONE before the first record */
	int64_t on_time, late_applied, late, quarantined; /* counters */
} br_wm_part;

typedef struct br_wm_tracker {
	br_time_opts opts;
	int nparts;
	br_wm_part *parts;          /* owned */
	int64_t first_append, max_append;
	int64_t global;             /* last value returned by br_wm_global (monotone) */
} br_wm_tracker;

void br_wm_init(br_wm_tracker *t, const br_time_opts *o, int nparts);
void br_wm_free(br_wm_tracker *t);
/* Grows the partition count (CreatePartitions). */
void br_wm_set_partitions(br_wm_tracker *t, int nparts);
/* Classifies one record and updates the partition's state. A NULL event time
 * is a LATE-class rejection with its own reason (reason is static text). */
int br_wm_observe(br_wm_tracker *t, int partition, bool null_time, int64_t event_time, int64_t append_time,
		  const char **reason);
int64_t br_wm_partition(const br_wm_tracker *t, int partition);
bool br_wm_idle(const br_wm_tracker *t, int partition);
/* Recomputes the global watermark (monotone; BR_TIME_NONE until every
 * non-idle partition has a record). */
int64_t br_wm_global(br_wm_tracker *t);

/* ---------------------------------------------------------- window ops
 *
 * Watermarks reach a circuit through br_time_circuit_watermark: every operator
 * with a watermark hook records it, and acts on it at the circuit's next step,
 * after that step's data (so a step's records are assigned before the windows
 * they might belong to close). The caller computes the watermark after
 * observing every record it fed. */
int br_time_circuit_watermark(br_circuit *c, int64_t wm, br_err *err);

enum br_window_kind { BR_WIN_TUMBLE, BR_WIN_HOP, BR_WIN_SESSION };
enum br_emit_mode { BR_EMIT_CHANGELOG, BR_EMIT_ON_WINDOW_CLOSE };

/* Output = input columns, window_start, window_end (the time column's type).
 * TUMBLE: [floor((t - offset) / size) * size + offset, + size).
 * HOP: one row per window [s, s + size) with s = k * slide + offset and
 * s <= t < s + size (ceil(size/slide) rows per input row: callers bound the
 * ratio; SQL refuses more than 10,000). Rows with a NULL time, or too close to
 * the ends of the int64 range for a window to be representable, are dropped.
 * Only offset mod slide matters. Stateless. */
br_op *br_op_window_assign(br_circuit *c, br_op *in, int kind, int tcol, int64_t size, int64_t slide, int64_t offset);

/* SESSION: per key (nkeys columns, 0 = one global session stream), events
 * closer than gap belong to one session [first, last + gap). Output = input
 * columns, window_start, window_end; when an event merges or a retraction
 * splits sessions, the rows of the sessions that changed are retracted with
 * their old bounds and re-emitted with the new ones. State: per key, the live
 * rows in time order; sessions whose end + allowed_lateness <= watermark are
 * final and released. Cost: O(rows of the key) per touched key and step. */
br_op *br_op_session(br_circuit *c, br_op *in, int tcol, int64_t gap, int nkeys, const int *keys,
		     int64_t allowed_lateness);
/* A negative allowed_lateness, for the session, windowed aggregate and
 * interval join operators, means "this time column is not the one the
 * watermark is about": watermarks are ignored and nothing is ever released
 * (windows over another column of a source stay correct, unbounded). */

/* Windowed aggregate: like br_op_aggregate (output = group columns, then the
 * aggregates), but its state is split into panes, one per (window_start,
 * window_end) read from columns wscol/wecol (which should be group columns).
 * A pane closes when the watermark reaches window_end + allowed_lateness: its
 * state is freed (memory is bounded by the open windows). emit CHANGELOG:
 * updates as rows arrive (a late row retracts and replaces); emit
 * ON_WINDOW_CLOSE: nothing until the pane closes, then its final rows, once
 * (append-only output). Rows for a closed pane are dropped and counted
 * (br_window_agg_dropped); with sources filtered by br_wm_observe there are
 * none. */
br_op *br_op_window_agg(br_circuit *c, br_op *in, int wscol, int wecol, int ngroup, const int *gcols, int naggs,
			const br_agg_spec *aggs, int emit, int64_t allowed_lateness);
int64_t br_window_agg_dropped(const br_op *op);

/* Where a windowed operator finds each row's window: its window_start and
 * window_end input columns; one of them may be -1 when the windows have a
 * fixed size (TUMBLE, HOP), the other then being found by adding (or
 * subtracting) size. */
typedef struct br_window_cols {
	int wscol, wecol;
	int64_t size;
	int emit;                  /* br_emit_mode */
	int64_t allowed_lateness;  /* as for br_op_window_agg */
} br_window_cols;
/* br_op_window_agg with the window given by br_window_cols (GROUP BY
 * window_start alone, or window_end alone). */
br_op *br_op_window_agg_cols(br_circuit *c, br_op *in, const br_window_cols *w, int ngroup, const int *gcols,
			     int naggs, const br_agg_spec *aggs);
/* Top-N per window: br_op_window (ROW_NUMBER/RANK/DENSE_RANK over partitions
 * that include the window's column, output = input columns then one LONG per
 * function, only ranks <= limit when limit >= 0) with its state split into
 * the same per-window panes as the windowed aggregate: a window's partitions
 * are freed when the watermark passes its end + allowed_lateness, and under
 * on_window_close its final top N rows are emitted then, once. */
br_op *br_op_window_topn(br_circuit *c, br_op *in, const br_window_cols *w, int npart, const int *pcols, int nkeys,
			 const br_sort_key *keys, int nfuncs, const int *kinds, int64_t limit);

/* Interval join (inner): rows a ++ b where the key columns are equal (NULL
 * keys never match) and b.t + lower <= a.t <= b.t + upper (lower may be
 * negative), i.e. a.ts BETWEEN b.ts + lower AND b.ts + upper. Incremental
 * like br_op_join (dA|><|B + A'|><|dB). State: per side and key, the live
 * rows; a row of a is released once no future b can match it
 * (a.t - lower < watermark - allowed_lateness), a row of b once
 * b.t + upper < watermark - allowed_lateness: memory is bounded by the rows
 * within the interval of the watermark. Probing is linear in the rows of a
 * key. */
br_op *br_op_interval_join(br_circuit *c, br_op *a, br_op *b, int nkeys, const int *akeys, const int *bkeys,
			   int atcol, int btcol, int64_t lower, int64_t upper, int64_t allowed_lateness);
/* Window join (inner): two windowed inputs joined on keys that include
 * a.window_end = b.window_end (awecol, bwecol; TUMBLE or HOP windows on event
 * time). An interval join with lower = upper = 0 on the window ends: a row is
 * released once the watermark is past its window's end + allowed_lateness,
 * when no row of that window can arrive or change on either side. */
br_op *br_op_window_join(br_circuit *c, br_op *a, br_op *b, int nkeys, const int *akeys, const int *bkeys,
			 int awecol, int bwecol, int64_t allowed_lateness);
/* Rows held by an interval join (both sides). */
int64_t br_interval_join_rows(const br_op *op);
int64_t br_window_agg_open_panes(const br_op *op);
/* Open sessions kept by a session operator (rows held). */
int64_t br_session_rows(const br_op *op);

#endif
