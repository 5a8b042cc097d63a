/* parquet.h — braid's Parquet writer and reader: br_batch rows in, Parquet
 * files out (every Iceberg type, nested included, with field ids, statistics
 * and the Iceberg spec's type mapping), and back again with projection,
 * row-group skipping and bounded-size batches. */
#ifndef BR_PARQUET_H
#define BR_PARQUET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "types/types.h"

/* Codec numbers are parquet.thrift's CompressionCodec. */
enum {
	BR_PQ_UNCOMPRESSED = 0,
	BR_PQ_SNAPPY = 1,
	BR_PQ_GZIP = 2,
	BR_PQ_ZSTD = 6,
	BR_PQ_LZ4_RAW = 7,
};

typedef struct br_pq_options {
	int codec;               /* default BR_PQ_ZSTD */
	int level;               /* 0 = codec default */
	int64_t row_group_bytes; /* flush a row group past this (default 128 MiB) */
	int64_t page_bytes;      /* close a data page past this (default 1 MiB) */
	int64_t dict_bytes;      /* fall back to PLAIN past this dictionary size (default 1 MiB) */
	bool dictionary;         /* default true */
	bool fsync;              /* fsync the file on close (default true) */
} br_pq_options;

void br_pq_options_default(br_pq_options *o);
/* "zstd", "snappy", "gzip", "none"/"uncompressed", "lz4_raw" -> codec; -1 if unknown. */
int br_pq_codec_parse(const char *name);

/* What a written file holds, per leaf column, for Iceberg's data file entries. */
typedef struct br_pq_col_metrics {
	int field_id;
	const br_field *field;      /* borrowed from the writer's schema */
	int64_t compressed_bytes;   /* all pages of the column, headers included */
	int64_t value_count;        /* leaf entries, nulls included */
	int64_t null_count;
	int64_t nan_count;
	bool has_bounds;            /* min/max of the non-null, non-NaN values */
	br_value min, max;          /* bytes owned by the metrics */
} br_pq_col_metrics;

typedef struct br_pq_metrics {
	int64_t file_bytes;
	int64_t nrows;
	int nrow_groups;
	int ncols;
	br_pq_col_metrics *cols;    /* owned */
} br_pq_metrics;

void br_pq_metrics_free(br_pq_metrics *m);

/* ---------------------------------------------------------------- writer
 * Streaming: batches are shredded into pages as they come; a row group is
 * held in memory (compressed) until it reaches row_group_bytes, then written.
 * The schema must outlive the writer. After a failed write the writer can
 * only be aborted. Writers and readers are not shared between threads (one
 * per thread is fine). */
typedef struct br_pq_writer br_pq_writer;

int br_pq_writer_open(const char *path, const br_schema *schema, const br_pq_options *opt, br_pq_writer **out,
		      br_err *err);
/* b's type must equal the schema's root struct (same fields and types). */
int br_pq_writer_write(br_pq_writer *w, const br_batch *b, br_err *err);
/* Writes the last row group and the footer, closes the file and frees w (also
 * on failure). metrics may be NULL; otherwise the caller frees it. */
int br_pq_writer_close(br_pq_writer *w, br_pq_metrics *metrics, br_err *err);
/* Gives up: closes, removes the partial file, frees w. */
void br_pq_writer_abort(br_pq_writer *w);

/* ---------------------------------------------------------------- reader
 * Reads the footer at open; then br_pq_reader_next returns batches of at most
 * batch_rows rows (default 65536) that never span row groups. Only the pages
 * of projected columns are read, one page per column at a time. */
typedef struct br_pq_reader br_pq_reader;

typedef enum br_pq_op { BR_PQ_EQ, BR_PQ_LT, BR_PQ_LE, BR_PQ_GT, BR_PQ_GE } br_pq_op;

int br_pq_reader_open(const char *path, br_pq_reader **out, br_err *err);
void br_pq_reader_close(br_pq_reader *r);
/* The file's schema, mapped back from Parquet logical/converted types (the
 * writer's mapping reversed; int8/int16 read as int, uint32 as long, INT96 and
 * millisecond/nanosecond times as microseconds). Field ids come from the file;
 * a file without them (or with duplicates) gets ids 1..n in pre-order. Owned
 * by the reader. */
const br_schema *br_pq_reader_schema(const br_pq_reader *r);
int64_t br_pq_reader_num_rows(const br_pq_reader *r);
int br_pq_reader_num_row_groups(const br_pq_reader *r);
/* Reads only these top-level fields, in this order (before the first next). */
int br_pq_reader_project(br_pq_reader *r, const int *field_ids, int n, br_err *err);
/* Skips row groups whose statistics prove that no row has `field op v` (v of
 * the field's primitive type; several predicates are ANDed). */
int br_pq_reader_filter(br_pq_reader *r, int field_id, br_pq_op op, const br_value *v, br_err *err);
void br_pq_reader_set_batch_rows(br_pq_reader *r, int64_t rows);
/* File bytes read so far (footer and the pages of projected columns in the row
 * groups not skipped). */
int64_t br_pq_reader_bytes_read(const br_pq_reader *r);
/* The type of the batches (a struct of the projected fields), owned by r. */
const br_type *br_pq_reader_type(const br_pq_reader *r);
/* Fills b (zero it before the first call; the reader initialises it, then
 * resets it on each call; free it
 * with br_batch_free after the last call, before br_pq_reader_close).
 * Returns 1 with rows, 0 at the end, negative on error. */
int br_pq_reader_next(br_pq_reader *r, br_batch *b, br_err *err);
/* Parallel scans: several readers of the same file, one per thread, share
 * its row groups through *next (an atomic counter starting at 0, owned by the
 * caller and outliving the readers): each reader takes the next row group
 * nobody has taken yet, so together they return every row exactly once, in no
 * fixed order, and a thread that finishes early takes more. Set before the
 * first next. The unit of work is a morsel: a row group, or with only
 * top-level primitive columns projected, a part of about a million rows of
 * one (pages before it are skipped by their headers; its dictionary is read
 * again), so a file of a few large row groups still keeps every thread busy.
 * Batches never span morsels. */
void br_pq_reader_share_row_groups(br_pq_reader *r, atomic_int *next);
/* Dictionary codes of the batch the last next returned, for consumers that
 * gain from seeing each distinct value once (a group-by hashes the dictionary,
 * then counts codes). True when projected column k is a top-level primitive
 * column whose every row in that batch is a value of one dictionary (no nulls,
 * no PLAIN-encoded page inside the batch): then (*codes)[i] is row i's index
 * into *dict (a column of the field's type, without nulls) and *dict_id names
 * that dictionary: the same id means the same dictionary, so per-entry work
 * can be kept across batches. Both are owned by r and valid until the next
 * call of next or close. False otherwise: read the batch's column. */
bool br_pq_reader_dict_codes(const br_pq_reader *r, int k, const uint32_t **codes, const br_col **dict,
			     uint64_t *dict_id);
/* Row groups skipped by filters so far. */
int br_pq_reader_skipped_row_groups(const br_pq_reader *r);

/* Reads a file image in memory (borrowed; must outlive r); name is used in
 * error messages. For tests and the fuzz harness. */
int br_pq_reader_open_mem(const void *p, size_t n, const char *name, br_pq_reader **out, br_err *err);

#endif
