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
 * flow types: BR_T_BOOLEAN, BR_T_LONG, BR_T_DOUBLE, BR_T_STRING. */

typedef struct br_sql_table {
	char *name;
	int ncols;
	char **cols;
	br_type_id *types;
	br_type *rowtype;   /* struct of the columns, for batches */
} br_sql_table;

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
	/* Calls cb with every table's name (pg_catalog answers list them). */
	void (*names)(br_catalog *c, void (*cb)(void *arg, const char *name), void *arg);
} br_catalog_vt;

struct br_catalog {
	const br_catalog_vt *vt;
};

br_catalog *br_catalog_mem_new(void);

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
/* Every relation with its columns, tables first then views, each group in
 * name order (pgwire's pg_catalog answers). The arrays are valid only during
 * the call. False when the catalog cannot list its tables (no vt->names):
 * then only the views were listed. */
typedef void (*br_sql_rel_cb)(void *arg, const char *name, bool is_view, int ncols, char *const *cols,
			      const br_type_id *types);
bool br_sql_relations(br_sql *s, br_sql_rel_cb cb, void *arg);
/* The catalog the session was opened with (owned by the session). */
br_catalog *br_sql_catalog(br_sql *s);
/* The circuit of a materialized view as text (EXPLAIN). */
int br_sql_explain_view(br_sql *s, const char *view, char **out, br_err *err);

#endif
