/* plan.h — sql's internal logical plan, built by the binder and lowered to a
 * circuit by exec.c. A plan (nodes, names, expressions) lives in one arena:
 * the statement's, or the view's for a materialized view. */
#ifndef BR_SQL_PLAN_H
#define BR_SQL_PLAN_H

#include <jansson.h>

#include "base/arena.h"
#include "flow/flow.h"
#include "sql/sql.h"

typedef enum plan_kind {
	P_SCAN,     /* a table (or a materialized view's contents) */
	P_VALUES,   /* one row of zero columns: SELECT without FROM */
	P_FILTER, P_MAP, P_JOIN, P_AGG, P_DISTINCT, P_UNION, P_SETOP,
} plan_kind;

typedef struct sort_key {
	int col;
	bool desc, nulls_first;
} sort_key;

typedef struct plan plan;
struct plan {
	plan_kind kind;
	int ncols;
	br_type_id *types;
	char **names;        /* output column names (for binding and results) */
	plan *in[2];
	const char *table;   /* SCAN */
	br_expr *pred;       /* FILTER */
	int nexprs;          /* MAP */
	br_expr **exprs;
	int joinkind;        /* JOIN: br_join_kind */
	int nkeys;
	int *lkeys, *rkeys;
	int ngroup;          /* AGG */
	int *gcols;
	int naggs;
	br_agg_spec *aggs;
	int setkind;         /* SETOP */
	bool negate;         /* UNION: b subtracted (unused by SQL for now) */
	bool has_subq;       /* some expression below holds a subquery */
	/* Presentation, only meaningful at a query's root: */
	int nvisible;        /* columns shown (the rest are ORDER BY helpers) */
	int nsort;
	sort_key *sort;
	int64_t limit;       /* -1: none */
	int64_t offset;
};

/* What the binder needs from the session. */
typedef struct bind_env {
	br_sql *session;
	br_catalog *cat;
	/* Looks up a materialized view by name (NULL if none). */
	const plan *(*find_view)(br_sql *s, const char *name);
	br_arena *arena;
	const char *sql;     /* for error positions */
	bool for_view;       /* subqueries are not incremental yet: reject them */
	const void *ctes;    /* WITH names visible where the binder is (bind.c) */
} bind_env;

int br_bind_select(bind_env *env, json_t *select, plan **out, br_err *err);
/* optimize.c: the plan with filters pushed down through joins (p itself is
 * not modified; new nodes come from a, the plan's arena). */
plan *br_plan_optimize(br_arena *a, plan *p);
/* Binds a scalar expression over one table's columns (DELETE/UPDATE WHERE, SET). */
int br_bind_table_expr(bind_env *env, const br_sql_table *t, json_t *node, br_expr **out, br_err *err);
/* A constant expression (INSERT VALUES, LIMIT). */
int br_bind_const_expr(bind_env *env, json_t *node, br_expr **out, br_err *err);
/* Coerces e to type t (inserting a cast), or fails like PostgreSQL does. */
int br_bind_coerce(bind_env *env, br_expr *e, br_type_id t, br_expr **out, br_err *err);

/* Provided by exec.c: runs a plan as a batch query with the given outer rows
 * (for correlated subqueries); result rows (consolidated, expanded by weight,
 * sorted and limited as the plan says) are arrays of plan->nvisible values
 * allocated in `arena`. */
int br_exec_plan(br_sql *s, const plan *p, const br_eval *outer, const br_value *row, br_arena *arena,
		 br_value ***rows, int64_t *nrows, br_err *err);

const char *br_flow_type_name(br_type_id t);

#endif
