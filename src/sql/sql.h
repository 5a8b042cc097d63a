/* sql.h — braid's SQL front end: the session API (statements parsed by
 * libpg_query, bound, planned, run as flow circuits; materialized views kept
 * current incrementally) and the catalog interface tables live behind. */
#ifndef BR_SQL_H
#define BR_SQL_H

#include <stdbool.h>
#include <stdint.h>

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
} br_catalog_vt;

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
/* The circuit of a materialized view as text (EXPLAIN). */
int br_sql_explain_view(br_sql *s, const char *view, char **out, br_err *err);

#endif
