/* seam.h — the backfill seam of SQL tables: the rows of a topic that are
 * already in the lake (table kafka.<topic>, json mode) are read from its
 * current Iceberg snapshot, up to the lake frontier recorded in that same
 * snapshot; the caller then reads the log from the frontier on. See seam.c for
 * the exactness argument and when the lake is not used.
 *
 * Ownership: nothing returned outlives a call. Row values passed to the
 * callback borrow the reader's buffers and are valid during the call only. */
#ifndef BR_SQL_SEAM_H
#define BR_SQL_SEAM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "log/log.h"
#include "types/types.h"

struct br_progress;

/* One row of the table's declared columns (ncols values, in declared order).
 * A non-zero return stops the read and is returned by br_seam_read. */
typedef int (*br_seam_row_fn)(void *arg, const br_value *row, br_err *err);
/* An upsert table's tombstone (from the dead-letter topic): the record key
 * (NULL when the record had none). Same return convention. */
typedef int (*br_seam_tomb_fn)(void *arg, const uint8_t *key, int32_t key_len, br_err *err);
/* A row with its source coordinates and broker append time (µs since the
 * epoch, INT64_MIN when the lake row has none). Same return convention. */
typedef int (*br_seam_row_at_fn)(void *arg, int32_t partition, int64_t offset, int64_t append_time,
				 const br_value *row, br_err *err);

typedef struct br_seam_spec {
	int ncols;
	char *const *cols;        /* declared column names */
	const br_type_id *types;  /* their types (boolean, long, double, string...) */
	bool upsert;              /* rows in (_partition, _offset) order, with the tombstones that tiering
				     dead-lettered (read back from the DLQ topic when log and tomb are set;
				     without them an upsert table with dead letters does not use the lake) */
	br_log *log;              /* for the dead-letter topic (may be NULL); loop thread */
	br_seam_tomb_fn tomb;     /* may be NULL */
	/* A table with event time judges rows in log order per partition: rows in
	 * (_partition, _offset) order for a keyless table too (holding an encoded
	 * copy of each until sorted, as for upsert tables), each handed to row_at
	 * (instead of fn) with its partition, offset and _append_time. */
	bool ordered;
	br_seam_row_at_fn row_at; /* may be NULL */
	int32_t nparts;           /* the topic's partition count now */
	const int64_t *high;      /* per partition: the log's high watermark now (nparts entries) */
	int64_t *pos;             /* may be NULL: else set to {partition, offset} of each row and
				     tombstone before fn / tomb sees it (view checkpoints) */
	struct br_progress *progress; /* may be NULL: phase "lake" with the snapshot's rows and file bytes */
} br_seam_spec;

/* Reads the lake part of a table. Returns
 *   1  the lake was used: fn saw every row of the snapshot whose _offset is
 *      below the snapshot's frontier F[p], and frontier[p] (nparts entries,
 *      the caller's array) holds F[p] (0 for a partition the lake never saw):
 *      read the log from there;
 *   0  the lake cannot be used (no table, key_value mode, no frontier, a column
 *      missing or of another type, dead letters under an upsert table, a
 *      frontier past the log's end): why (whysz bytes) says so, "" when there
 *      is nothing to say (no lake table yet); read the log from its start;
 *  <0  reading failed after fn may have seen rows (err says why): the caller
 *      discards them and reads the log from its start. */
int br_seam_read(const char *data_dir, const char *topic, const br_seam_spec *spec, int64_t *frontier,
		 br_seam_row_fn fn, void *arg, char *why, size_t whysz, br_err *err);

/* The snapshot-consistency check alone (exposed for tests): from the summary
 * values of ONE snapshot (frontier text "p:next,...", dead-letter count text,
 * either may be NULL), fills frontier[nparts] or says why not (return 0). */
int br_seam_frontier(const char *frontier_text, const char *dlq_text, const br_seam_spec *spec,
		     int64_t *frontier, char *why, size_t whysz);

#endif
