/* ice_int.h — what the files of src/iceberg share among themselves and nobody
 * else: transform kinds, partition specs, parsed table metadata, manifest and
 * manifest-list codecs, the SQLite catalog. Other modules use iceberg.h. */
#ifndef BR_ICE_INT_H
#define BR_ICE_INT_H

#include <jansson.h>

#include "iceberg/iceberg.h"

/* ---------------------------------------------------------- transforms */

typedef enum br_ice_tkind {
	BR_ICE_T_IDENTITY,
	BR_ICE_T_BUCKET,
	BR_ICE_T_TRUNCATE,
	BR_ICE_T_YEAR,
	BR_ICE_T_MONTH,
	BR_ICE_T_DAY,
	BR_ICE_T_HOUR,
	BR_ICE_T_VOID,
} br_ice_tkind;

/* 0 ok, BR_EINVAL if s is not a transform. */
int br_ice_parse_transform(const char *s, br_ice_tkind *kind, int *param);
int br_ice_apply(br_ice_tkind k, int param, const br_value *v, br_value *out, br_err *err);
/* Human text of a partition value for paths ("2024-01-05" for day). */
void br_ice_transform_text(br_ice_tkind k, const br_value *v, br_buf *out);

/* --------------------------------------------------------------- specs */

typedef struct br_ice_pfield {
	int source_id;
	int field_id;
	const char *name;
	const char *transform;
	br_ice_tkind kind;
	int param;
	br_type_id result;        /* type of the partition value */
	const br_type *src;       /* source column type in the current schema (NULL if dropped) */
} br_ice_pfield;

typedef struct br_ice_spec {
	int spec_id;
	int n;
	br_ice_pfield *f;
} br_ice_spec;

/* Parses the textual spec syntax of br_ice_create against a schema into spec
 * fields (memory from a), with field ids from 1000 on. */
int br_ice_spec_parse_text(const char *text, const br_schema *s, br_arena *a, br_ice_spec *out, br_err *err);
/* The spec in JSON (partition-specs element) and its fields array. */
json_t *br_ice_spec_json(const br_ice_spec *spec);

/* ------------------------------------------------------------ metadata */

typedef struct br_ice_meta {
	json_t *j;                /* owned: the whole document */
	br_arena arena;           /* parsed pieces below */
	const char *location;
	const char *uuid;
	int64_t last_seq;
	int64_t last_updated_ms;
	int last_column_id;
	int current_schema_id;
	int default_spec_id;
	int last_partition_id;
	int64_t current_snapshot_id; /* -1: none */
	size_t nschemas;
	br_schema **schemas;      /* owned */
	const br_schema *schema;  /* current */
	size_t nspecs;
	br_ice_spec *specs;
	const br_ice_spec *spec;  /* default */
	size_t nsnaps;
	br_ice_snapshot *snaps;
	size_t nlog;              /* snapshot-log */
	int64_t *log_ts;
	int64_t *log_id;
	char *text;               /* the JSON text as read or written (owned) */
	const char *spec_text;    /* default spec in br_ice_create syntax */
} br_ice_meta;

/* Parses and validates table metadata JSON (format v2, every required field);
 * name is used in error messages. Takes no ownership of text (copies it). */
int br_ice_meta_parse(const char *text, size_t len, const char *name, br_ice_meta *m, br_err *err);
void br_ice_meta_free(br_ice_meta *m);
/* A new v2 metadata document for an empty table. */
json_t *br_ice_meta_initial(const char *location, const br_schema *schema, const br_ice_spec *spec,
			    const br_ice_kv *props);
const br_ice_spec *br_ice_meta_spec(const br_ice_meta *m, int spec_id);
const br_schema *br_ice_meta_schema(const br_ice_meta *m, int schema_id);
/* Adds a snapshot object to the document and makes it current on branch main
 * (snapshots, snapshot-log, refs, current-snapshot-id, last-sequence-number,
 * last-updated-ms). Takes ownership of snap. */
void br_ice_meta_add_snapshot(json_t *doc, json_t *snap, int64_t seq, int64_t id, int64_t ts_ms);
/* Appends {timestamp-ms, metadata-file} to metadata-log. */
void br_ice_meta_log_previous(json_t *doc, const char *prev_file, int64_t ts_ms);
/* Pretty JSON text of a document (caller frees). */
char *br_ice_meta_dump(const json_t *doc);
/* Fills a random v4 UUID string (37 bytes). */
void br_ice_uuid(char out[37]);
/* A new positive random 63-bit snapshot id. */
int64_t br_ice_new_snapshot_id(void);

/* The parsed metadata of a loaded table (br_ice_table is opaque outside table.c). */
const br_ice_meta *br_ice_table_meta(const br_ice_table *t);

/* ----------------------------------------------------------- manifests */

typedef struct br_ice_fsummary {
	bool contains_null;
	int contains_nan;         /* -1 unknown */
	const uint8_t *lower, *upper;
	size_t lower_len, upper_len;
} br_ice_fsummary;

/* One manifest_file record of a manifest list. */
typedef struct br_ice_manifest {
	const char *path;         /* full URI */
	int64_t length;
	int spec_id;
	int content;              /* 0 data, 1 deletes */
	int64_t seq;              /* -1: assign the snapshot's sequence number when listed */
	int64_t min_seq;          /* -1: likewise */
	int64_t added_snapshot_id;
	int added_files, existing_files, deleted_files;
	int64_t added_rows, existing_rows, deleted_rows;
	int npart;
	br_ice_fsummary *parts;
} br_ice_manifest;

/* Writes a manifest file of entries (entries with status ADDED and seq < 0 get
 * null sequence numbers, to be inherited) to the filesystem path fs_path,
 * fsynced. Fills info with the counts, partition summaries, length and
 * min_seq (or -1 when it depends on the new snapshot's number). */
int br_ice_manifest_write(const char *fs_path, const char *uri, const br_ice_meta *m, const br_ice_spec *spec,
			  int content, const br_ice_entry *e, size_t n, int64_t snapshot_id, br_arena *a,
			  br_ice_manifest *info, br_err *err);
/* Reads the entries of a manifest, inheriting snapshot id and sequence numbers
 * from its manifest-list record mf. Memory from a. */
int br_ice_manifest_read(const char *fs_path, const br_ice_manifest *mf, const br_ice_meta *m, br_arena *a,
			 br_ice_entry **out, size_t *n, br_err *err);
int br_ice_manifest_list_write(const char *fs_path, int64_t snapshot_id, int64_t parent_id, int64_t seq,
			       const br_ice_manifest *mfs, size_t n, br_err *err);
int br_ice_manifest_list_read(const char *fs_path, br_arena *a, br_ice_manifest **out, size_t *n, br_err *err);

/* Filesystem path of a "file://" URI (or a plain path); arena copy. */
const char *br_ice_uri_path(br_arena *a, const char *uri);
/* Writes bytes to a new file and fsyncs it (not atomic: callers use fresh names). */
int br_ice_write_new_file(const char *path, const void *p, size_t n, br_err *err);

/* ------------------------------------------------------------- catalog */

typedef struct br_ice_catalog br_ice_catalog;
int br_ice_catalog_open(const char *db_path, br_ice_catalog **out, br_err *err);
void br_ice_catalog_close(br_ice_catalog *c);
/* Registers a new table; BR_EEXIST if it exists. */
int br_ice_catalog_create(br_ice_catalog *c, const char *ns, const char *name, const char *metadata_location,
			  br_err *err);
/* Current metadata location (caller frees); BR_ENOTFOUND if absent. */
int br_ice_catalog_get(br_ice_catalog *c, const char *ns, const char *name, char **location, br_err *err);
/* Points the table at new_loc only if it still points at old_loc: 0 swapped,
 * 1 another commit came first (nothing changed), <0 error. */
int br_ice_catalog_swap(br_ice_catalog *c, const char *ns, const char *name, const char *old_loc,
			const char *new_loc, br_err *err);
int br_ice_catalog_drop(br_ice_catalog *c, const char *ns, const char *name, br_err *err);
int br_ice_catalog_list(br_ice_catalog *c, const char *ns, char ***names, size_t *n, br_err *err);

#endif
