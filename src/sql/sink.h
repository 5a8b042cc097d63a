/* sink.h — outputs of a materialized view (sink.c): WITH (sink_table =
 * 'ns.name') writes its contents to an Iceberg table, WITH (sink_topic =
 * 'name') its changelog to a topic; both exactly once across restarts by
 * reconciliation (sink.c explains). Internal to src/sql: exec.c calls the
 * hooks, sink.c reads views through the accessors below. */
#ifndef BR_SQL_SINK_H
#define BR_SQL_SINK_H

#include <jansson.h>
#include <stdbool.h>

#include "sql/plan.h"

/* What WITH (...) asked of a view's outputs (strings malloc'd, br_sink_spec_free). */
typedef struct br_sink_spec {
	char *table;          /* "ns.name" or NULL */
	char *topic;          /* topic name or NULL */
	int64_t interval_ms;  /* sink_interval: commit at most this long after a change (default 1000) */
	int64_t max_rows;     /* sink_rows: commit as soon as this many rows are pending (default 100000) */
} br_sink_spec;

/* Takes the sink_* options out of a view's WITH list: *rest (new reference)
 * holds the others, spec the sink ones. BR_EINVAL for a bad value. */
int br_sink_take_options(json_t *options, json_t **rest, br_sink_spec *spec, br_err *err);
void br_sink_spec_free(br_sink_spec *spec);

/* Hooks for exec.c (all on the session's thread). */
/* Starts the outputs of a view that was just created (or re-created at
 * restore): creates the table/topic if missing, else reconciles (writes view
 * contents minus what the sink holds). Takes spec's strings. */
int br_sink_attach(br_sql *s, const char *view, br_sink_spec *spec, br_err *err);
/* Forgets a view's outputs (DROP VIEW); what they hold stays. */
void br_sink_detach(br_sql *s, const char *view);
/* A view's output delta of one step. */
void br_sink_delta(br_sql *s, const char *view, const br_batch *delta);
/* Commits the outputs whose cadence is due (force: all with pending rows). */
int br_sink_tick(br_sql *s, bool force, br_err *err);
/* Commits what is pending and frees every sink (session close). */
void br_sink_close_all(br_sql *s);
/* The view whose sink_table is name ("ns.name"), or NULL. */
const char *br_sink_table_view(br_sql *s, const char *name);
/* The rows of a view's sink table as committed (SQL over "ns.name"): appended to
 * out, a weighted batch of the view's flow row type. */
int br_sink_table_scan(br_sql *s, const char *name, br_batch *out, br_err *err);

/* Accessors of exec.c for sink.c. */
void **br_sql_sink_slot(br_sql *s);
/* The view's columns (NULL if no such view). */
const plan *br_sql_view_plan(br_sql *s, const char *view);
/* The view's current contents, consolidated, appended to out (initialized
 * with the view's flow row type, weighted). */
int br_sql_view_rows(br_sql *s, const char *view, br_batch *out, br_err *err);
/* The tables a view reads (through views it reads too): each name once,
 * appended to *names (br_xrealloc'd; the strings are borrowed). */
void br_sql_view_base_tables(br_sql *s, const char *view, const char ***names, int *n);

#endif
