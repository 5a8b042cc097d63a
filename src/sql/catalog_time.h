/* catalog_time.h — the time dead letters of a topic-backed SQL table: records
 * the table's watermark tracker judged LATE (under lateness = dead_letter) or
 * QUARANTINED (forged: event time beyond append time + max_future_skew) become
 * records of the topic <table>.dlq, each exactly once across restarts.
 *
 * Ownership: a br_tdlq is owned by its table (catalog_topic.c); it borrows the
 * log. Everything runs on the log's thread. */
#ifndef BR_SQL_CATALOG_TIME_H
#define BR_SQL_CATALOG_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "log/log.h"
#include "log/records.h"

typedef struct br_tdlq {
	char *name;            /* the DLQ topic: <table>.dlq */
	char *table, *topic;
	char topic_id[33];     /* hex of the source topic's id: a re-created topic starts over */
	int32_t nparts;
	int64_t *done;         /* per source partition: highest offset already dead-lettered (-1 none) */
	br_rb_builder b;       /* pending dead letters */
	int pending;
	br_buf bytes;          /* finished batches not yet appended */
	int64_t written;       /* dead letters written by this process */
} br_tdlq;

/* Sets d up for table/topic and reads the DLQ topic (when it exists) for the
 * dead letters of this table and topic id already there: those offsets are not
 * written again. Cost: one pass over the DLQ topic per table load. */
void br_tdlq_open(br_tdlq *d, br_log *log, const char *table, const char *topic, const uint8_t topic_id[16],
		  int32_t nparts);
void br_tdlq_free(br_tdlq *d);
/* The source topic was re-created (new id) or grew partitions. */
void br_tdlq_reset(br_tdlq *d, const uint8_t topic_id[16], int32_t nparts);
void br_tdlq_grow(br_tdlq *d, int32_t nparts);
/* Queues one dead letter unless partition/offset is at or below what the DLQ
 * already holds: the original timestamp, key, value and headers (r may carry
 * them; with r NULL, key/value as given) plus headers braid.dlq.reason,
 * braid.time.table, braid.time.topic, braid.time.topic_id,
 * braid.time.partition, braid.time.offset. Returns true when queued. */
bool br_tdlq_add(br_tdlq *d, int32_t part, int64_t offset, const br_record *r, const void *key, int32_t key_len,
		 const void *value, int32_t value_len, int64_t timestamp, const char *reason);
/* Appends the queued dead letters to the DLQ topic (created with one
 * partition when missing) and makes them durable (br_partition_sync). */
int br_tdlq_flush(br_tdlq *d, br_log *log, br_err *err);

#endif
