/* sql.h — braid's SQL front end: the session API (statements parsed by
 * libpg_query, bound, planned, run as flow circuits; materialized views kept
 * current incrementally) and the catalog interface tables live behind. */
#ifndef BR_SQL_H
#define BR_SQL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "types/types.h"

/* ------------------------------------------------------------- catalog
 *
 * Tables live behind this interface so the session does not care where rows
 * are kept (in memory now; topics and lake tables later). Column types are
 * flow types (flow.h): BR_T_BOOLEAN, BR_T_LONG, BR_T_DOUBLE, BR_T_STRING,
 * BR_T_DATE, BR_T_TIMESTAMP, BR_T_TIMESTAMPTZ, BR_T_INTERVAL. */

typedef struct br_sql_table {
	char *name;
	int ncols;
	char **cols;
	br_type_id *types;
	br_type *rowtype;   /* struct of the columns, for batches */
	/* PRIMARY KEY column positions (npk 0: none). In a catalog backed by a
	 * log, a table with a key is an upsert table (see catalog_topic.c). */
	int npk;
	int *pk;
	/* CREATE TABLE ... WITH (key = value, ...) as text, for the catalog to
	 * interpret (the in-memory catalog ignores them). */
	int nopts;
	char **opt_keys, **opt_vals;
	/* The time options among them (event_time, watermark_delay, ...), as text:
	 * the session keeps them (window.h); a catalog whose tables follow a log
	 * decides lateness itself as it reads records (catalog_topic.c) and keeps
	 * them; others ignore them. */
	int ntopts;
	char **topt_keys, **topt_vals;
} br_sql_table;

/* A table's effective change, handed out by a log-backed catalog's poll. */
typedef int (*br_catalog_delta_fn)(void *arg, const char *table, const br_batch *delta, br_err *err);

/* Backfill progress: a table loading (lake below the frontier, then the log up
 * to the high watermark it saw when it started) or a view's first step over
 * its tables' contents. Totals are -1 when unknown; eta_s -1 likewise. */
typedef struct br_sql_progress {
	const char *name;     /* table or view */
	bool is_view;
	const char *phase;    /* "lake", "log" (tables), "step" (views), "done" */
	int64_t rows_done, rows_total;
	int64_t bytes_done, bytes_total;
	double elapsed_s, rows_per_s, eta_s;
} br_sql_progress;
/* Called often enough for a progress bar (at most every ~100 ms, and once
 * with phase "done"); p is valid during the call only. */
typedef void (*br_sql_progress_cb)(void *arg, const br_sql_progress *p);
/* One line: "table t [lake] 45%, 4.5M/10.0M rows, 120.0MB/300.0MB, 1.2M rows/s, 3.1 s, ETA 5 s". */
void br_sql_progress_format(const br_sql_progress *p, char *out, size_t n);

typedef struct br_catalog br_catalog;
struct br_topic_row;
struct br_log;
typedef struct br_catalog_vt {
	/* def is copied. BR_EEXIST if the name is taken. */
	int (*create)(br_catalog *c, const br_sql_table *def, br_err *err);
	int (*drop)(br_catalog *c, const char *name, br_err *err);
	const br_sql_table *(*find)(br_catalog *c, const char *name);
	/* Appends the table's current rows (weighted, consolidated) to out, which
	 * the caller initialized with the table's rowtype and has_weight. */
	int (*scan)(br_catalog *c, const char *name, br_batch *out, br_err *err);
	/* Applies a weighted delta (inserts > 0, deletes < 0). */
	int (*apply)(br_catalog *c, const char *name, const br_batch *delta, br_err *err);
	void (*free)(br_catalog *c);
	/* Optional entries below: NULL where a catalog has no such thing. */
	/* Table names, sorted; the array and each name are malloc'd (caller frees). */
	int (*list)(br_catalog *c, char ***names, int *n);
	/* A catalog whose tables live in a log: apply() only appends records, and
	 * rows reach the tables when poll() reads what the log holds beyond what it
	 * read before (SQL's own writes and other producers' alike), handing each
	 * table's effective delta (an upsert as retraction + insertion) to cb. */
	int (*poll)(br_catalog *c, br_catalog_delta_fn cb, void *arg, br_err *err);
	/* A catalog that keeps views across sessions: told when one is created (sql:
	 * its CREATE statement) or dropped (sql NULL). */
	int (*save_view)(br_catalog *c, const char *name, const char *sql, br_err *err);
	/* The kept views in creation order; arrays and strings malloc'd (caller frees). */
	int (*views)(br_catalog *c, char ***names, char ***sqls, int *n);
	/* A catalog that decides event time as it reads its log: the watermark
	 * tracker of a table with time options (owned by the catalog, valid until
	 * the table is dropped), NULL for a table without. Its poll hands cb only
	 * the rows the tracker accepted, in log order per partition; the session
	 * reads watermarks and counters from it and steps views at the table's new
	 * watermark after each poll (window.h). */
	struct br_wm_tracker *(*tracker)(br_catalog *c, const char *table);
	/* SHOW TOPICS: every topic of the catalog's log; *rows malloc'd (free
	 * with br_topic_rows_free). */
	int (*topics)(br_catalog *c, struct br_topic_row **rows, int *n, br_err *err);
	/* A catalog that follows a log: per partition of a table, the next offset
	 * not yet read (what the table, and every view over it, reflects after a
	 * poll), and its topic's id. *next stays the catalog's, valid until the
	 * next poll. BR_ENOTFOUND for an unknown table. */
	int (*offsets)(br_catalog *c, const char *table, const int64_t **next, int32_t *nparts, uint8_t topic_id[16]);
	/* Where view checkpoints are kept (sql/checkpoint.h), NULL for none. */
	const char *(*ckpt_path)(br_catalog *c);
	/* The checkpoint found at open, reduced to the tables whose load stopped
	 * at its offsets (their later records reach views at the first poll).
	 * Ownership passes to the caller; NULL when there is none. */
	struct br_sql_ckpt *(*take_ckpt)(br_catalog *c);
} br_catalog_vt;

/* One row of SHOW TOPICS. Lake figures are -1 for a topic without a table. */
typedef struct br_topic_row {
	char *name, *lake_mode;   /* malloc'd */
	int32_t partitions;
	int64_t records;          /* held by the log: Σ end − start */
	int64_t log_end;          /* Σ next offset */
	int64_t lake_frontier;    /* Σ lake frontier */
	int64_t lake_lag;         /* Σ records not yet in the lake */
	int64_t dead_lettered;    /* over the table's life */
	bool sql_table;           /* backs a table of this catalog */
} br_topic_row;
void br_topic_rows_free(br_topic_row *rows, int n);
/* The rows of SHOW TOPICS for a log whose lake lives under data_dir;
 * is_table says which topics back a table. */
int br_catalog_show_topics(struct br_log *log, const char *data_dir, bool (*is_table)(void *, const char *),
			   void *arg, br_topic_row **rows, int *nrows);

struct br_catalog {
	const br_catalog_vt *vt;
	/* Where a catalog that loads tables reports their backfill (may be NULL);
	 * br_sql_set_progress_listener sets it too. */
	br_sql_progress_cb progress;
	void *progress_arg;
};

br_catalog *br_catalog_mem_new(void);

/* The catalog of a data directory (catalog_topic.c): each table is backed by
 * the topic of the same name (JSON records, braid.lake.mode=json with the
 * columns as declared schema); table and view definitions persist in
 * <data>/sql/catalog.json. The log is borrowed and must outlive the catalog;
 * every call happens on the log's thread. Opening reads every table's topic
 * from the log start, so the tables hold their current rows. */
struct br_log;
int br_catalog_topic_open(br_catalog **out, struct br_log *log, const char *data_dir, br_err *err);
/* The same, reporting each table's load (lake, then log) to cb (may be NULL). */
int br_catalog_topic_open_progress(br_catalog **out, struct br_log *log, const char *data_dir,
				   br_sql_progress_cb cb, void *arg, br_err *err);
/* Records skipped because they did not fit the table (not JSON, wrong types). */
int64_t br_catalog_topic_skipped(br_catalog *c);
/* For view outputs: the log and data directory of a topic catalog (NULL for
 * other catalogs), and the next offset the catalog reads per partition of a
 * table (false if c is not a topic catalog or has no such table; the array is
 * the catalog's, valid until the next poll). */
struct br_log *br_catalog_topic_log(br_catalog *c);
const char *br_catalog_topic_data_dir(br_catalog *c);
bool br_catalog_topic_offsets(br_catalog *c, const char *table, const int64_t **next, int32_t *nparts);

/* ------------------------------------------------------------- session */

typedef struct br_sql br_sql;

/* The last statement's answer. rows has no weight column: a row that occurs
 * twice is there twice, in ORDER BY order when the query had one. */
typedef struct br_sql_result {
	int ncols;
	char **names;
	br_type_id *types;
	br_type *rowtype;
	br_batch rows;
	bool has_rows;      /* false for statements that return no rows */
	char tag[64];       /* "SELECT 3", "INSERT 0 2", "CREATE TABLE" ... */
} br_sql_result;

/* Takes ownership of cat (NULL: a fresh in-memory catalog). */
br_sql *br_sql_open(br_catalog *cat);
void br_sql_close(br_sql *s);
/* Runs every statement of sql; res (may be NULL) receives the last one's
 * result. Errors carry PostgreSQL-style messages with a 1-based character
 * position; features braid lacks fail with a message starting "unsupported:". */
int br_sql_exec(br_sql *s, const char *sql, br_sql_result *res, br_err *err);
void br_sql_result_free(br_sql_result *r);
/* True when sql starts with braid's DESCRIBE (not PostgreSQL grammar: front
 * ends that split statements with libpg_query hand such text to br_sql_exec
 * whole). */
bool br_sql_is_describe(const char *sql);
/* Applies a delta that arrived from outside SQL (records produced to a
 * table's topic, a lake backfill): the catalog stores it and every view that
 * reads the table takes one step. delta has the table's rowtype; weights
 * (when present) are multiplicities, negative for deletes. */
int br_sql_apply(br_sql *s, const char *table, const br_batch *delta, br_err *err);
/* Called after each step of each view with the view's output delta for that
 * step (weighted; not consolidated: a row may appear twice or cancel). The
 * batch is valid only during the call. */
typedef void (*br_sql_view_cb)(void *arg, const char *view, const br_batch *delta);
void br_sql_set_view_listener(br_sql *s, br_sql_view_cb cb, void *arg);
/* Backfill progress of the tables this session loads (CREATE TABLE on a topic
 * with data) and of the views it creates; cb NULL stops it. */
void br_sql_set_progress_listener(br_sql *s, br_sql_progress_cb cb, void *arg);
/* Every relation with its columns, tables first then views, each group in
 * name order (pgwire's pg_catalog answers). The arrays are valid only during
 * the call. False when the catalog cannot list its tables (no vt->list):
 * then only the views were listed. */
typedef void (*br_sql_rel_cb)(void *arg, const char *name, bool is_view, int ncols, char *const *cols,
			      const br_type_id *types);
bool br_sql_relations(br_sql *s, br_sql_rel_cb cb, void *arg);
/* The catalog the session was opened with (owned by the session). */
br_catalog *br_sql_catalog(br_sql *s);
/* A catalog with poll (log-backed): reads what arrived since the last poll and
 * steps the views; br_sql_exec does it before every statement. A view that
 * cannot follow is marked unusable (as with INSERT) and reported in err. */
int br_sql_poll(br_sql *s, br_err *err);
/* Re-creates the views the catalog kept (vt->views) from their SQL text; they
 * start from the tables' current contents. Views that fail are reported in
 * err (the others are restored). */
int br_sql_restore(br_sql *s, br_err *err);
/* The input frontier of a view: per table it reads and per partition, the
 * next offset not yet reflected (a log-backed catalog only), appended to out
 * as "t:0=123,1=456" (tables separated by ';', in the view's input order).
 * Valid after any step and between polls: a view's delta handed to the
 * listener reflects exactly this frontier. BR_ENOTFOUND for no such view,
 * BR_EUNSUPPORTED for a catalog without offsets. */
int br_sql_view_frontier(br_sql *s, const char *view, br_buf *out);
/* View checkpoints (checkpoint.c; a catalog with ckpt_path only): every
 * interval_ms of wall time and/or every `records` records read by the
 * catalog (0 turns a trigger off; both 0: only at br_sql_close), the state
 * of every view is written with the offsets it reflects. The default is
 * 10 s, no record trigger. */
void br_sql_set_checkpoint(br_sql *s, int64_t interval_ms, int64_t records);
/* Writes a checkpoint now (tests, shutdown); 0 when none is kept. */
int br_sql_checkpoint(br_sql *s, br_err *err);
/* The circuit of a materialized view as text (EXPLAIN). */
int br_sql_explain_view(br_sql *s, const char *view, char **out, br_err *err);
/* The most bytes of operator state one materialized view may hold (0, the
 * default: no limit). A view that grows beyond it stops answering with an
 * error saying so (like a view a change failed in), and CREATE fails. */
void br_sql_set_view_memory_limit(br_sql *s, size_t bytes);

#endif
