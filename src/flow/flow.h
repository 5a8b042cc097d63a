/* flow.h — braid's dataflow engine (DBSP): Z-sets (rows with int64 weights),
 * scalar expressions, the br_op operator interface and circuits that map input
 * deltas to output deltas one step at a time. Knows nothing of SQL or Kafka. */
#ifndef BR_FLOW_H
#define BR_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "types/types.h"

/* ------------------------------------------------------------ row keys
 *
 * Operator state is keyed by an encoded row: the values of a row (or of a key
 * made of some columns) serialized so that two rows are equal as SQL grouping
 * values (NULL equals NULL, -0.0 equals 0.0) exactly when their bytes are. Per
 * value: one tag byte, then the payload:
 *   0 NULL        (no payload)
 *   1 boolean     1 byte, 0 or 1
 *   2 long        8 bytes little-endian (int, date, time, timestamps too)
 *   3 double      8 bytes IEEE, -0.0 stored as 0.0, every NaN as one NaN
 *   4 string      u32 length little-endian, then the bytes
 *   5 interval    16 bytes: months i32, days i32, microseconds i64 (all LE)
 * Flow types: BOOLEAN, LONG (all SQL integers), DOUBLE (real, double, numeric),
 * STRING, DATE (br_value.v.i32 days since 1970-01-01), TIMESTAMP and
 * TIMESTAMPTZ (v.i64 microseconds since the epoch, UTC; a timestamp without
 * zone is read as UTC) and BR_T_INTERVAL below. Dates and timestamps share tag
 * 2, so a decoded key gives them back as LONG: br_val_retag restores the
 * declared type where it matters (br_batch_append_row does it per column).
 *
 * INTERVAL is flow-only: PostgreSQL's (months, days, microseconds), carried in
 * a br_value of type BR_T_INTERVAL (an alias of BR_T_FIXED, which nothing else
 * in flow uses) whose 16 bytes are the tag-5 payload, and stored in batches as
 * a fixed[16] column. Intervals compare by their span (a month = 30 days, a
 * day = 24 hours, as PostgreSQL does); grouping keys compare the three fields,
 * so '1 day' and '24 hours' are equal in WHERE but two groups in GROUP BY. A
 * query's result turns interval columns into PostgreSQL's text form. */
#define BR_T_INTERVAL BR_T_FIXED

typedef struct br_interval {
	int32_t months, days;
	int64_t us;
} br_interval;
br_interval br_interval_get(const br_value *v);
/* An interval value whose bytes live in arena. */
br_value br_interval_value(br_arena *arena, br_interval iv);
/* Gives a value decoded from a row key (tag 2 -> LONG) its declared type t. */
void br_val_retag(br_value *v, br_type_id t);
/* PostgreSQL's text form of a flow value (DateStyle ISO, UTC): appended to out. */
void br_val_format_pg(const br_value *v, br_type_id t, br_buf *out);

void br_row_encode(br_buf *out, const br_value *vals, int n);
/* Decodes n values; strings point into p. BR_ECORRUPT on malformed bytes. */
int br_row_decode(const uint8_t *p, size_t len, br_value *vals, int n, br_err *err);
/* SQL three-valued comparison helpers over the flow value types (long, double,
 * string, boolean). br_val_cmp orders NULL first; numeric types compare as
 * numbers across long/double. */
int br_val_cmp(const br_value *a, const br_value *b);
bool br_val_is_true(const br_value *v);

/* -------------------------------------------------------------- Z-set table
 *
 * Open-addressing hash table from encoded rows to a weight and an auxiliary
 * pointer. Keys are copied into the arena the table was given (no per-row
 * malloc); entries are never removed, a weight of 0 means absent (so keys of
 * deleted rows stay in the arena until the table is freed: the cost of never
 * moving keys). Grows at 50% load, incrementally: the old slot array stays
 * until each upsert has moved a few of its entries, so no single step pays
 * for rehashing a large table. Upserts invalidate entry pointers and must not
 * happen while iterating with br_ztab_next. */

typedef struct br_zent {
	uint64_t hash;
	const uint8_t *key;
	uint32_t klen;
	int64_t w;
	void *aux;
} br_zent;

typedef struct br_ztab {
	br_zent *slots;
	size_t cap, count;   /* count: entries in slots and old together */
	br_zent *old;        /* the previous slot array while entries move out */
	size_t oldcap, moved; /* moved: old slots visited so far */
	br_arena *arena; /* borrowed */
} br_ztab;

void br_ztab_init(br_ztab *t, br_arena *arena);
void br_ztab_free(br_ztab *t);
br_zent *br_ztab_find(const br_ztab *t, const void *key, size_t klen);
/* Finds or inserts (w 0, aux NULL) and returns the entry; valid until next upsert. */
br_zent *br_ztab_upsert(br_ztab *t, const void *key, size_t klen);
/* for (size_t i = 0; (e = br_ztab_next(t, &i));) visits every entry. */
br_zent *br_ztab_next(const br_ztab *t, size_t *i);
/* Bytes of the slot arrays (keys live in the table's arena). */
size_t br_ztab_bytes(const br_ztab *t);

/* ------------------------------------------------------------ extreme heap
 *
 * The min (or max) of a multiset that changes: a binary heap of encoded single
 * values (row keys of one value, borrowed: they must outlive the heap, as the
 * keys of a br_ztab do), ordered as br_val_cmp orders values. Values that
 * leave are not removed: br_xheap_top drops entries whose multiplicity in
 * `live` is no longer positive when they reach the top, and br_xheap_compact
 * rebuilds from `live` when dead entries outnumber live ones, so pushes cost
 * O(1) on average, a top O(log n) amortized, and memory O(live values). */

typedef struct br_xh_ent {
	const uint8_t *key;
	uint32_t klen;
	bool fast;       /* a long (row key tag 2), value in ik */
	int64_t ik;
} br_xh_ent;

typedef struct br_xheap {
	br_xh_ent *a;    /* owned */
	size_t n, cap;
	bool max;
} br_xheap;

void br_xheap_init(br_xheap *h, bool max);
void br_xheap_free(br_xheap *h);
/* Call when a value's multiplicity becomes positive. */
void br_xheap_push(br_xheap *h, const uint8_t *key, uint32_t klen);
/* The extreme value whose weight in live is positive, NULL if none. */
const uint8_t *br_xheap_top(br_xheap *h, const br_ztab *live, uint32_t *klen);
/* Rebuilds from live (nlive values with positive weight) if mostly dead. */
void br_xheap_compact(br_xheap *h, const br_ztab *live, size_t nlive);

/* ------------------------------------------------------------ expressions */

typedef enum br_xkind {
	BR_X_CONST, BR_X_COL, BR_X_PARAM, /* PARAM: column of an enclosing query's row */
	BR_X_NEG, BR_X_ADD, BR_X_SUB, BR_X_MUL, BR_X_DIV, BR_X_MOD,
	BR_X_EQ, BR_X_NE, BR_X_LT, BR_X_LE, BR_X_GT, BR_X_GE,
	BR_X_DISTINCT, BR_X_NOTDISTINCT,
	BR_X_AND, BR_X_OR, BR_X_NOT, BR_X_ISNULL, BR_X_ISNOTNULL,
	BR_X_CASE,     /* args: [when, then]*, else (always present, may be NULL const) */
	BR_X_COALESCE, BR_X_NULLIF, BR_X_ABS, BR_X_CAST, BR_X_IN, /* IN: args[0] IN args[1..] */
	BR_X_CONCAT, BR_X_LIKE, BR_X_ILIKE, BR_X_LOWER, BR_X_UPPER, BR_X_LENGTH,
	BR_X_FUNC,     /* a scalar function: fn is a br_fn; NULL in -> NULL out unless noted */
	BR_X_SUBQ,     /* evaluated through a hook (the SQL layer runs a nested query) */
	BR_X_AGGREF,   /* placeholder a planner rewrites away; evaluating it is an error */
} br_xkind;

typedef enum br_fn {
	/* numeric */
	BR_F_ROUND, BR_F_ROUND2, BR_F_TRUNC, BR_F_TRUNC2, BR_F_CEIL, BR_F_FLOOR, BR_F_POWER, BR_F_SQRT, BR_F_LN,
	BR_F_LOG10, BR_F_EXP, BR_F_SIGN, BR_F_GREATEST, BR_F_LEAST, /* GREATEST/LEAST skip NULLs */
	/* strings */
	BR_F_SUBSTR, BR_F_POSITION, BR_F_REPLACE, BR_F_BTRIM, BR_F_LTRIM, BR_F_RTRIM, BR_F_LPAD, BR_F_RPAD,
	BR_F_CONCAT, BR_F_CONCAT_WS, /* NULL arguments are skipped */
	BR_F_SPLIT_PART, BR_F_LEFT, BR_F_RIGHT, BR_F_STARTS_WITH, BR_F_REVERSE, BR_F_REPEAT, BR_F_STRPOS,
	BR_F_INITCAP, BR_F_OCTET_LENGTH,
	/* date/time: args[0] is the field or unit name where there is one */
	BR_F_EXTRACT, BR_F_DATE_TRUNC, BR_F_TO_TIMESTAMP, BR_F_MAKE_DATE,
	BR_F_LIKE_ESC, BR_F_ILIKE_ESC, /* LIKE with an ESCAPE character: args s, pattern, escape */
} br_fn;

typedef struct br_expr br_expr;
typedef struct br_eval br_eval;

/* Evaluates a subquery for the current row; out's bytes must live in ev->scratch. */
typedef int (*br_subq_fn)(void *subq, br_eval *ev, const br_value *row, br_value *out, br_err *err);

struct br_expr {
	br_xkind kind;
	br_type_id type;    /* result type: BOOLEAN, LONG, DOUBLE or STRING */
	int nargs;
	br_expr **args;
	br_value k;         /* CONST (string bytes owned by the expression's arena) */
	int col;            /* COL, PARAM */
	int depth;          /* PARAM: 1 = the immediately enclosing query */
	int pos;            /* source position for error messages, -1 if none */
	int fn;             /* FUNC: br_fn */
	void *subq;         /* SUBQ: opaque to flow */
	br_subq_fn subq_fn;
};

/* Evaluation context: scratch memory for values made during evaluation (reset
 * by the caller between batches) and the rows of enclosing queries. */
#define BR_EVAL_MAX_DEPTH 16
struct br_eval {
	br_arena *scratch;
	int nouter;
	const br_value *outer[BR_EVAL_MAX_DEPTH];
};

int br_expr_eval(const br_expr *e, br_eval *ev, const br_value *row, br_value *out, br_err *err);

/* --------------------------------------------------------------- operators
 *
 * An operator consumes its inputs' deltas of one step and leaves its own delta
 * in `out` (a weighted br_batch, not consolidated: a row may appear more than
 * once and weights may cancel). Hooks for watermarks and for saving/loading
 * state are part of the interface from the start; operators that keep no state
 * or have no time semantics leave them NULL. */

typedef struct br_op br_op;
typedef struct br_circuit br_circuit;

typedef struct br_op_vt {
	const char *name;
	int (*step)(br_op *op, br_circuit *c, br_err *err);
	int (*watermark)(br_op *op, int64_t wm, br_err *err);
	int (*save)(br_op *op, br_buf *out, br_err *err);
	int (*load)(br_op *op, br_cur *in, br_err *err);
	void (*free)(br_op *op);
	void (*explain)(const br_op *op, br_buf *out);
} br_op_vt;

/* What an operator holds: entries of its main state table and bytes of
 * memory (arenas, hash slots, side tables). */
typedef struct br_op_stats {
	int64_t rows;
	size_t bytes;
} br_op_stats;

struct br_op {
	const br_op_vt *vt;
	int id;
	int nin;
	br_op *in[2];
	br_type *out_type; /* owned struct type of the output rows */
	br_batch out;      /* this step's delta */
	void *st;          /* operator state */
	/* State of an operator defined outside ops.c (NULL: it keeps none). */
	void (*stats)(const br_op *op, br_op_stats *out);
	int64_t rows_out;  /* rows emitted over all steps (EXPLAIN ANALYZE) */
	uint64_t step_ns;  /* time in step over all steps */
};

enum br_agg_kind { BR_AGG_COUNT_STAR, BR_AGG_COUNT, BR_AGG_SUM, BR_AGG_AVG, BR_AGG_MIN, BR_AGG_MAX,
		   BR_AGG_BOOL_AND, BR_AGG_BOOL_OR, BR_AGG_STRING_AGG, BR_AGG_ARRAY_AGG };

#define BR_AGG_MAX_ORDER 4
typedef struct br_agg_spec {
	int kind;         /* br_agg_kind */
	int col;          /* input column of the argument (-1 for count(*)) */
	bool distinct;
	br_type_id type;  /* result type */
	/* string_agg / array_agg: the separator (borrowed; string_agg only) and
	 * the ORDER BY inside the call as input columns. Without ORDER BY the
	 * values are ordered by value: PostgreSQL leaves the order unspecified,
	 * and a view's answer must not depend on the order rows arrived. */
	const char *sep;
	size_t seplen;
	int norder;
	int ocols[BR_AGG_MAX_ORDER];
	bool odesc[BR_AGG_MAX_ORDER], onulls_first[BR_AGG_MAX_ORDER];
} br_agg_spec;

enum br_setop_kind { BR_SET_INTERSECT, BR_SET_EXCEPT, BR_SET_INTERSECT_ALL, BR_SET_EXCEPT_ALL };

/* A circuit owns its operators, in an order where inputs precede users. */
struct br_circuit {
	int nops, capops;
	br_op **ops;
	br_eval ev;
	br_arena scratch;
	int64_t steps;
	/* A batch query: stepped once from empty state, then freed. Operators
	 * may then skip state that only a later step would read (a join builds
	 * one side; min/max keep the running extreme, not the value multiset). */
	bool once;
};

void br_circuit_init(br_circuit *c);
void br_circuit_free(br_circuit *c);

/* For operators implemented outside ops.c (time.c): a new operator appended
 * to c (which owns it and frees it through vt->free), its output shape, and
 * per-step scratch rows (freed when the step ends). */
br_op *br_op_new(br_circuit *c, const br_op_vt *vt, int ncols, const br_type_id *types);
/* A new operator whose rows are a's columns followed by b's (joins). */
br_op *br_op_new_pair(br_circuit *c, const br_op_vt *vt, const br_op *a, const br_op *b);
static inline int br_op_ncols(const br_op *op) { return op->out_type->nchildren; }
static inline br_type_id br_op_col_type(const br_op *op, int i) { return op->out_type->children[i].type->id; }
br_value *br_circuit_row_buf(br_circuit *c, int n);

/* Builders: each returns the new operator (owned by c). Column types are flow
 * types (BOOLEAN, LONG, DOUBLE, STRING). Names are for EXPLAIN only. */
br_op *br_op_input(br_circuit *c, int ncols, const br_type_id *types);
br_op *br_op_filter(br_circuit *c, br_op *in, br_expr *pred);       /* pred borrowed */
br_op *br_op_map(br_circuit *c, br_op *in, int n, br_expr **exprs); /* exprs borrowed */
br_op *br_op_union(br_circuit *c, br_op *a, br_op *b, bool negate_b);
/* Equi-join on key columns (nkeys may be 0: cross product). Output = a's
 * columns then b's. NULL keys never match (SQL). */
br_op *br_op_join(br_circuit *c, br_op *a, br_op *b, int nkeys, const int *akeys, const int *bkeys);
/* Outer variants: BR_JOIN_LEFT keeps every row of a (b's columns NULL when no
 * b row has its key), BR_JOIN_RIGHT every row of b, BR_JOIN_FULL both. */
enum br_join_kind { BR_JOIN_INNER, BR_JOIN_LEFT, BR_JOIN_RIGHT, BR_JOIN_FULL };
br_op *br_op_join_outer(br_circuit *c, br_op *a, br_op *b, int nkeys, const int *akeys, const int *bkeys, int kind);
/* Output = group columns, then one column per aggregate. ngroup 0 is a global
 * aggregate: exactly one output row at all times. */
br_op *br_op_aggregate(br_circuit *c, br_op *in, int ngroup, const int *gcols, int naggs,
		       const br_agg_spec *aggs);
br_op *br_op_distinct(br_circuit *c, br_op *in);
/* Ranking window functions over partitions: output = the input columns, then
 * one column per function (LONG). Rows of a partition are ordered by the sort
 * keys, ties broken by the whole row so that ROW_NUMBER is deterministic.
 * limit >= 0 emits only rows ranked <= limit (top-N per group: the binder sets
 * it from a WHERE rn <= N above). Cost: a step re-ranks each touched
 * partition, O(P log P) for a partition of P rows (see ops.c). */
enum br_win_kind { BR_WIN_ROW_NUMBER, BR_WIN_RANK, BR_WIN_DENSE_RANK };
typedef struct br_sort_key {
	int col;
	bool desc, nulls_first;
} br_sort_key;
br_op *br_op_window(br_circuit *c, br_op *in, int npart, const int *pcols, int nkeys, const br_sort_key *keys,
		    int nfuncs, const int *kinds, int64_t limit);
br_op *br_op_setop(br_circuit *c, br_op *a, br_op *b, int kind);
/* Keeps the Z-set integral of its input (a view's contents); out = input delta. */
br_op *br_op_integrate(br_circuit *c, br_op *in);
/* The integrated contents of an integrate operator. */
const br_ztab *br_op_contents(const br_op *op);

/* Sets the delta of an input operator for the next step (rows copied; weights
 * from b, 1 when b has none). Types must match the input's column types. */
int br_circuit_feed(br_circuit *c, br_op *input, const br_batch *b, br_err *err);
/* The same for a batch the caller gives up: when the input holds nothing yet
 * and b has its row type and weights, b's buffers are moved in (no copy: a
 * backfill's large delta) and b is left empty, to be freed by the caller as
 * before; otherwise the rows are copied as by br_circuit_feed. */
int br_circuit_feed_take(br_circuit *c, br_op *input, br_batch *b, br_err *err);
/* Runs every operator once, in order; inputs' deltas are consumed (cleared). */
int br_circuit_step(br_circuit *c, br_err *err);
void br_circuit_explain(const br_circuit *c, br_buf *out);
/* The state an operator holds now. */
void br_op_state(const br_op *op, br_op_stats *out);
/* Bytes of state of every operator of c (a view's memory). */
size_t br_circuit_state_bytes(const br_circuit *c);
/* EXPLAIN ANALYZE: the circuit with, per operator, rows emitted, time spent
 * over all steps so far and the state it holds. */
void br_circuit_explain_analyze(const br_circuit *c, br_buf *out);

/* Helpers for building flow struct types and weighted batches. */
br_type *br_flow_row_type(int ncols, const br_type_id *types);
void br_batch_append_row(br_batch *b, const br_value *vals, int64_t w);
/* Reads row i of b into vals (b->ncols entries; bytes borrowed from b). */
void br_batch_get_row(const br_batch *b, int64_t i, br_value *vals);

#endif
