/* iceberg.h — Apache Iceberg (format v2) tables on the local filesystem: the
 * lake and its SQLite catalog, table create/load, commits (append, overwrite,
 * delete files) with optimistic concurrency, scan planning with pruning, time
 * travel, schema evolution, partition transforms, snapshot expiry and orphan
 * removal. This is the only header other modules (tier, sql, cli) include.
 *
 * Ownership: a br_lake owns its catalog connection; a br_ice_table owns its
 * loaded metadata and everything returned by its accessors (valid until the
 * next commit/refresh on that table or br_ice_table_free). A br_ice_plan owns
 * its arena; every pointer in it dies with br_ice_plan_free.
 *
 * A typical caller (the CLI, tiering):
 *   br_lake_open(data_dir, &lake)        once per process
 *   br_ice_create(lake, ns, name, schema, "day(ts)", NULL)
 *   br_ice_load(lake, ns, name, &t)
 *   br_ice_append_batch(t, &batch, &summary_props)   rows in the current schema
 *   br_ice_scan_open(t, &opts, &scan); while (br_ice_scan_next(scan, &b) == 1) ...
 *   br_ice_table_snapshots(t, ...)       history; br_ice_table_metadata_json(t) inspect
 *   br_ice_expire_snapshots / br_ice_remove_orphans / br_ice_compact   maintenance */
#ifndef BR_ICEBERG_H
#define BR_ICEBERG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "parquet/parquet.h"
#include "types/types.h"

typedef struct br_lake br_lake;
typedef struct br_ice_table br_ice_table;

/* String key/value pairs: table properties and snapshot summary extras. */
typedef struct br_ice_kv {
	size_t n;
	const char *const *keys;
	const char *const *vals;
} br_ice_kv;

/* ------------------------------------------------------------------ files */

typedef struct br_ice_colstat {
	int field_id;
	int64_t column_size;      /* bytes on disk, -1 unknown */
	int64_t value_count;      /* values incl. nulls, -1 unknown */
	int64_t null_count;       /* -1 unknown */
	int64_t nan_count;        /* -1 unknown */
	const uint8_t *lower;     /* single-value serialization (spec Appendix D); NULL = none */
	size_t lower_len;
	const uint8_t *upper;
	size_t upper_len;
} br_ice_colstat;

typedef struct br_ice_datafile {
	int content;              /* 0 data, 1 position deletes, 2 equality deletes */
	const char *path;         /* full URI, "file:///..." for local files */
	const char *format;       /* "PARQUET" */
	int spec_id;
	int npart;
	br_value *part;           /* the partition tuple, one value per spec field */
	int64_t record_count;
	int64_t file_size;
	int ncols;
	br_ice_colstat *cols;
	int nsplits;
	int64_t *splits;          /* row group offsets, ascending */
	int sort_order_id;        /* -1: none */
} br_ice_datafile;

enum { BR_ICE_EXISTING = 0, BR_ICE_ADDED = 1, BR_ICE_DELETED = 2 };

typedef struct br_ice_entry {
	int status;               /* BR_ICE_EXISTING / ADDED / DELETED */
	int64_t snapshot_id;
	int64_t seq;              /* data sequence number (inherited when read) */
	int64_t file_seq;
	br_ice_datafile df;
} br_ice_entry;

/* ------------------------------------------------------------- snapshots */

typedef struct br_ice_snapshot {
	int64_t id;
	int64_t parent_id;        /* -1: none */
	int64_t seq;
	int64_t timestamp_ms;
	int schema_id;            /* -1: unknown */
	const char *manifest_list;
	const char *operation;    /* summary "operation" */
	size_t nsummary;
	const char **summary_keys;
	const char **summary_vals;
} br_ice_snapshot;

/* A snapshot summary value by key, or NULL. */
const char *br_ice_snapshot_prop(const br_ice_snapshot *s, const char *key);

/* ----------------------------------------------------------- lake, table */

/* Opens (creating if needed) DATA_DIR/lake and its catalog DATA_DIR/lake/catalog.db. */
int br_lake_open(const char *data_dir, br_lake **out, br_err *err);
void br_lake_close(br_lake *l);
const char *br_lake_root(const br_lake *l); /* absolute DATA_DIR/lake */

/* Creates NS.NAME at DATA_DIR/lake/NS/NAME with metadata v1 (no snapshot).
 * partition: NULL/"" for unpartitioned, else comma-separated fields, each
 * "col" (identity), "transform(col)" with transform identity, year, month, day,
 * hour, void, or "bucket[N](col)" / "truncate[W](col)" (also "bucket(N, col)").
 * The schema's field ids are kept as given. BR_EEXIST if the table exists. */
int br_ice_create(br_lake *l, const char *ns, const char *name, const br_schema *schema, const char *partition,
		  const br_ice_kv *props, br_err *err);
int br_ice_load(br_lake *l, const char *ns, const char *name, br_ice_table **out, br_err *err);
/* Re-reads the catalog pointer (picks up commits by others). */
int br_ice_refresh(br_ice_table *t, br_err *err);
void br_ice_table_free(br_ice_table *t);
/* Removes the table from the catalog and deletes its directory. */
int br_ice_drop(br_lake *l, const char *ns, const char *name, br_err *err);
/* Names of the tables in a namespace ("" for all, as "ns.name"); caller frees
 * each string and the array. */
int br_ice_list(br_lake *l, const char *ns, char ***names, size_t *n, br_err *err);

const char *br_ice_table_dir(const br_ice_table *t);        /* filesystem path */
const char *br_ice_table_location(const br_ice_table *t);   /* "file:///..." */
int br_ice_table_version(const br_ice_table *t);            /* N of vN.metadata.json */
const char *br_ice_table_metadata_path(const br_ice_table *t);
const br_schema *br_ice_table_schema(const br_ice_table *t); /* current schema */
/* A schema of the table by id (NULL if unknown). */
const br_schema *br_ice_table_schema_by_id(const br_ice_table *t, int schema_id);
/* The partition spec as text in the syntax br_ice_create accepts ("" if none). */
const char *br_ice_table_partition(const br_ice_table *t);
const br_ice_snapshot *br_ice_table_current(const br_ice_table *t); /* NULL: empty table */
void br_ice_table_snapshots(const br_ice_table *t, const br_ice_snapshot **out, size_t *n);
const br_ice_snapshot *br_ice_table_snapshot(const br_ice_table *t, int64_t id);
/* The snapshot current at time ts_ms (from the snapshot log), NULL if none. */
const br_ice_snapshot *br_ice_table_snapshot_at(const br_ice_table *t, int64_t ts_ms);
/* The whole table metadata JSON text (as on disk). */
const char *br_ice_table_metadata_json(const br_ice_table *t);
const char *br_ice_table_property(const br_ice_table *t, const char *key);

/* ----------------------------------------------------------------- commits
 * Every commit is optimistic: it is built on the loaded version, published by
 * writing v(N+1).metadata.json and swapping the catalog pointer only if it
 * still names vN; if another writer won, the table is refreshed and the commit
 * rebuilt (up to a few times, then BR_ELIMIT). On success the table object
 * holds the new version. Data files must already be written and durable. */

/* Adds data files (operation "append"). summary: extra snapshot summary
 * properties (may be NULL), e.g. the tiering frontier. */
int br_ice_append(br_ice_table *t, const br_ice_datafile *files, size_t n, const br_ice_kv *summary, br_err *err);
/* Removes the files at del_paths (full URIs as in the manifests) and adds the
 * given files, in one snapshot. operation: "overwrite", "delete" or "replace"
 * (compaction: same rows). Every path must be live in the current snapshot
 * (BR_ENOTFOUND otherwise). */
int br_ice_overwrite(br_ice_table *t, const char *const *del_paths, size_t ndel, const br_ice_datafile *add,
		     size_t nadd, const char *operation, const br_ice_kv *summary, br_err *err);
int br_ice_delete_files(br_ice_table *t, const char *const *paths, size_t n, const br_ice_kv *summary, br_err *err);

/* Schema evolution by field id. Changes apply in order; the result becomes a
 * new schema (new schema-id) and the current one. Old data files keep their
 * field ids, so readers map columns by id, never by name. */
enum {
	BR_ICE_ADD_COLUMN,    /* name (dotted for a nested struct parent), type, doc; always optional */
	BR_ICE_DROP_COLUMN,   /* name */
	BR_ICE_RENAME_COLUMN, /* name -> new_name (the last path part) */
	BR_ICE_WIDEN_COLUMN,  /* name, type: int->long, float->double, decimal(P,S)->decimal(P2>=P,S) */
	BR_ICE_MAKE_OPTIONAL, /* name */
};
typedef struct br_ice_schema_change {
	int kind;
	const char *name;
	const char *new_name;
	const br_type *type;      /* borrowed, cloned */
	const char *doc;
} br_ice_schema_change;
int br_ice_update_schema(br_ice_table *t, const br_ice_schema_change *ch, size_t n, br_err *err);

/* Expires snapshots older than older_than_ms, always keeping the current one and
 * the newest retain_last; then deletes manifest lists, manifests and data files
 * that no remaining snapshot references (after the commit, so a crash only
 * leaves unreferenced files, see remove_orphans). Counts are optional outputs. */
int br_ice_expire_snapshots(br_ice_table *t, int64_t older_than_ms, int retain_last, size_t *expired,
			    size_t *files_deleted, br_err *err);
/* Deletes files under data/ and metadata/ that no snapshot references and that
 * are older than older_than_ms (in-flight writes are younger). Metadata JSON
 * files and version-hint.text are always kept. */
int br_ice_remove_orphans(br_ice_table *t, int64_t older_than_ms, size_t *removed, br_err *err);

/* Sets (or, with a NULL value, removes) table properties in one commit. */
int br_ice_set_properties(br_ice_table *t, const br_ice_kv *props, br_err *err);

/* ----------------------------------------------------------- scan planning */

typedef enum br_ice_op {
	BR_ICE_EQ,
	BR_ICE_LT,
	BR_ICE_LE,
	BR_ICE_GT,
	BR_ICE_GE,
	BR_ICE_IS_NULL,
	BR_ICE_NOT_NULL,
} br_ice_op;

/* column: dotted name in the scanned schema; lit: same type as the column. */
typedef struct br_ice_pred {
	const char *column;
	br_ice_op op;
	br_value lit;
} br_ice_pred;

typedef struct br_ice_scan_opts {
	int64_t snapshot_id;      /* 0: current (or as_of_ms) */
	int64_t as_of_ms;         /* 0: none; else the snapshot current at that time */
	const br_ice_pred *preds; /* conjunction; may be NULL */
	size_t npreds;
	/* Projection: field ids of the top-level columns to read (NULL: all).
	 * The batches keep the current schema's shape; other columns are null
	 * and their pages are never read. */
	const int *field_ids;
	int nfield_ids;
} br_ice_scan_opts;

typedef struct br_ice_plan {
	br_arena arena;
	int64_t snapshot_id;      /* 0 if the table has no snapshot */
	const br_schema *schema;  /* the table's current schema (read old files through it by id) */
	size_t nfiles;
	br_ice_entry *files;      /* live data files to read, in manifest order */
	size_t ndeletes;
	br_ice_entry *deletes;    /* live delete files (positional/equality) */
	size_t pruned;            /* files skipped by partition values or column bounds */
	int64_t total_records;    /* sum of record_count over files */
} br_ice_plan;

int br_ice_plan_scan(br_ice_table *t, const br_ice_scan_opts *o, br_ice_plan *out, br_err *err);
void br_ice_plan_free(br_ice_plan *p);

/* Whether a file may hold rows matching every predicate (false = prunable).
 * Exposed for readers that prune row groups the same way. */
bool br_ice_file_may_match(const br_ice_table *t, const br_ice_datafile *df, const br_ice_pred *preds,
			   size_t npreds);

/* ------------------------------------------------------------ data files */

/* Writes the rows of b (its type must equal the current schema's root) as
 * Parquet files under data/, one per partition of the default spec, fsynced,
 * and describes them in *files (memory from a) with their column metrics.
 * opt NULL: defaults (zstd). Nothing is committed: pass them to br_ice_append
 * or br_ice_overwrite. */
int br_ice_write_files(br_ice_table *t, const br_batch *b, const br_pq_options *opt, br_arena *a,
		       br_ice_datafile **files, size_t *n, br_err *err);
/* Streaming: one data file of an unpartitioned table (BR_EUNSUPPORTED when
 * partitioned) written batch by batch, so a writer of many rows holds one small
 * batch at a time rather than all of them (the tiering hot path). opt NULL:
 * as br_ice_write_files. br_ice_file_close writes the footer, fsyncs the file
 * and its directory, describes it in *df (memory from a) and frees the writer,
 * also on failure; br_ice_file_abort removes the file. Nothing is committed. */
typedef struct br_ice_file_writer br_ice_file_writer;
int br_ice_file_open(br_ice_table *t, const br_pq_options *opt, br_ice_file_writer **out, br_err *err);
int br_ice_file_write(br_ice_file_writer *w, const br_batch *b, br_err *err);
int br_ice_file_close(br_ice_file_writer *w, br_arena *a, br_ice_datafile *df, br_err *err);
void br_ice_file_abort(br_ice_file_writer *w);
/* br_ice_write_files + br_ice_append in one call. */
int br_ice_append_batch(br_ice_table *t, const br_batch *b, const br_ice_kv *summary, br_err *err);

/* A scan: the rows of a snapshot as batches in the table's current schema
 * (columns matched by field id; columns missing from old files are null,
 * narrower ones are widened). Predicates prune files and Parquet row groups
 * only: rows of a kept row group are all returned, the caller filters rows. */
typedef struct br_ice_scan br_ice_scan;
int br_ice_scan_open(br_ice_table *t, const br_ice_scan_opts *o, br_ice_scan **out, br_err *err);
/* out: zeroed before the first call; refilled by each call (1 rows, 0 end,
 * <0 error); the caller br_batch_free's it after the last call. The batch's
 * type is the scan's copy of the current schema root (valid until close). */
int br_ice_scan_next(br_ice_scan *s, br_batch *out, br_err *err);
const br_ice_plan *br_ice_scan_plan(const br_ice_scan *s);
/* File bytes read so far by the scan (Parquet footers and pages). */
int64_t br_ice_scan_bytes_read(const br_ice_scan *s);
void br_ice_scan_close(br_ice_scan *s);

/* Deletes the rows matching every predicate (top-level primitive columns;
 * SQL semantics, a comparison with null is false) by copy-on-write: files
 * with matching rows are replaced by files of their other rows, in one
 * "overwrite" (or "delete") snapshot that keeps the parent's extra summary
 * properties. *deleted: rows removed (optional). */
int br_ice_delete_rows(br_ice_table *t, const br_ice_pred *preds, size_t npreds, int64_t *deleted, br_err *err);

/* Rewrites the data files smaller than small_file_bytes of the current
 * snapshot into one file per partition ("replace" snapshot that keeps the
 * parent's extra summary properties). No commit when fewer than 2 files are
 * small. Counts are optional outputs. */
int br_ice_compact(br_ice_table *t, int64_t small_file_bytes, size_t *rewritten, size_t *written, br_err *err);

/* ---------------------------------------------------------- transforms etc. */

/* murmur3_x86_32 with seed 0, as Iceberg's bucket transform uses. */
int32_t br_ice_murmur3(const void *p, size_t n);
/* Iceberg's hash of a value (spec Appendix B); BR_EINVAL for unhashable types. */
int br_ice_hash(const br_value *v, int32_t *out, br_err *err);
/* Applies a transform ("identity", "bucket[16]", "truncate[4]", "year", "month",
 * "day", "hour", "void") to v. Bytes of the result borrow v's bytes. */
int br_ice_transform(const char *transform, const br_value *v, br_value *out, br_err *err);
/* The result type of a transform applied to a source type. */
int br_ice_transform_type(const char *transform, const br_type *src, br_type_id *out, br_err *err);
/* Single-value binary serialization (spec Appendix D), appended to out. */
void br_ice_value_bytes(const br_value *v, br_buf *out);
/* Parses it back; bytes of the value borrow p. t gives the type (decimal scale). */
int br_ice_value_parse(const br_type *t, const uint8_t *p, size_t n, br_value *out, br_err *err);

/* Computes the partition tuple (one value per field of the table's default
 * spec) of row `row` of a batch in the table's current schema. Values borrow
 * the batch's bytes. out must hold br_ice_table_npart(t) values. */
int br_ice_table_npart(const br_ice_table *t);
int br_ice_partition_of(const br_ice_table *t, const br_batch *b, int64_t row, br_value *out, br_err *err);
/* The Hive-style directory of a partition tuple under data/ ("id_bucket=3/ts_day=2024-01-05"),
 * appended to out ("" for unpartitioned). */
void br_ice_partition_path(const br_ice_table *t, const br_value *part, br_buf *out);

/* Column statistics of a batch for a data file entry: value, null and NaN
 * counts and lower/upper bounds for every primitive top-level column of the
 * current schema. Memory from a. */
void br_ice_batch_stats(const br_ice_table *t, const br_batch *b, br_arena *a, br_ice_colstat **out, int *n);

#endif
