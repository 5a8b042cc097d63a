/* records.h — Kafka RecordBatch v2 (magic 2): decoding a buffer of concatenated
 * batches into records, and encoding records into a batch. The layout, the
 * validation rules and the error story are in records.c.
 *
 * Ownership: a decoded br_record points into the caller's input (uncompressed
 * batches) or into the iterator's own buffer (compressed ones); either way it is
 * valid until the next br_rb_iter_next / br_rb_iter_free. */
#ifndef BR_KAFKA_RECORDS_H
#define BR_KAFKA_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/compress.h"
#include "base/err.h"

enum {
	BR_RB_HEADER_SIZE = 61,   /* fixed header, baseOffset..recordCount */
	BR_RB_LOG_OVERHEAD = 12,  /* baseOffset + batchLength: bytes not counted by batchLength */
	BR_RB_CRC_OFFSET = 17,    /* where the crc field sits */
	BR_RB_ATTR_OFFSET = 21,   /* the CRC covers from here to the end of the batch */
};

/* attributes bits */
enum {
	BR_ATTR_CODEC_MASK = 0x07,
	BR_ATTR_LOG_APPEND_TIME = 0x08,
	BR_ATTR_TRANSACTIONAL = 0x10,
	BR_ATTR_CONTROL = 0x20,
	BR_ATTR_DELETE_HORIZON = 0x40,
};

typedef struct br_rb_hdr {
	int64_t base_offset;
	int32_t batch_length;          /* bytes after this field; whole batch = batch_length + 12 */
	int32_t partition_leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
} br_rb_hdr;

static inline enum br_codec br_rb_codec(const br_rb_hdr *h) { return (enum br_codec)(h->attributes & BR_ATTR_CODEC_MASK); }
static inline bool br_rb_log_append_time(const br_rb_hdr *h) { return h->attributes & BR_ATTR_LOG_APPEND_TIME; }
static inline bool br_rb_transactional(const br_rb_hdr *h) { return h->attributes & BR_ATTR_TRANSACTIONAL; }
static inline bool br_rb_control(const br_rb_hdr *h) { return h->attributes & BR_ATTR_CONTROL; }
static inline size_t br_rb_size(const br_rb_hdr *h) { return (size_t)h->batch_length + BR_RB_LOG_OVERHEAD; }

/* Reads and checks the fixed header of the batch at p[0..len): magic 2, a
 * batchLength that covers the header and fits in len, a known codec, a record
 * count >= 0 and lastOffsetDelta >= 0. Does not check the CRC. Errors:
 * BR_ECORRUPT (malformed), BR_EUNSUPPORTED (magic 0/1, unknown codec).
 * `pos` is only used in the error message (byte position of p in its input). */
int br_rb_parse_header(const uint8_t *p, size_t len, size_t pos, br_rb_hdr *h, br_err *err);
/* CRC-32C over attributes..end of the batch, compared with the stored crc. */
int br_rb_check_crc(const uint8_t *p, const br_rb_hdr *h, size_t pos, br_err *err);
/* The CRC the batch at p should carry (p must hold br_rb_size bytes). */
uint32_t br_rb_compute_crc(const uint8_t *p, size_t size);

/* In-place edits the broker makes on append. The base offset is outside the CRC;
 * LogAppendTime rewrites maxTimestamp and the timestampType bit and so the CRC.
 * p must hold a whole batch of `size` bytes whose header was checked. */
void br_rb_set_base_offset(uint8_t *p, int64_t base_offset);
void br_rb_set_log_append_time(uint8_t *p, size_t size, int64_t append_time_ms);

/* One record header (Kafka "headers" of a record). The key is never null; a null
 * value has value_len -1 and value NULL. */
typedef struct br_rec_header {
	const uint8_t *key;
	int32_t key_len;
	const uint8_t *value;
	int32_t value_len;
} br_rec_header;

typedef struct br_record {
	int64_t offset;         /* absolute: baseOffset + offsetDelta */
	int64_t timestamp;      /* baseTimestamp + delta, or maxTimestamp under LogAppendTime */
	int8_t attributes;      /* record attributes (unused by Kafka today) */
	const uint8_t *key;     /* NULL when null (key_len -1) */
	int32_t key_len;
	const uint8_t *value;   /* NULL when null (value_len -1) */
	int32_t value_len;
	int32_t header_count;
	const uint8_t *headers; /* the encoded header array (validated), for br_record_header_next */
	size_t headers_len;
	const br_rb_hdr *batch; /* the batch holding this record */
} br_record;

/* Iterates over a record's headers: *pos starts at 0; returns true with *h filled,
 * false after the last one. The bytes were validated when the record was decoded. */
bool br_record_header_next(const br_record *r, size_t *pos, br_rec_header *h);

enum {
	BR_RB_SKIP_CRC = 1,      /* trust the CRC (bytes already verified, e.g. read from our own log) */
	BR_RB_PARTIAL_TAIL = 2,  /* a truncated last batch ends the iteration (Fetch responses may
	                            * end with a partial batch) instead of being an error */
};

typedef struct br_rb_iter {
	br_cur in;                 /* the concatenated batches */
	size_t max_uncompressed;   /* bound on one batch's decompressed records */
	int flags;
	br_rb_hdr hdr;          /* the current batch */
	size_t batch_pos;          /* its byte position in the input */
	bool in_batch;
	br_cur recs;               /* the current batch's records section */
	int32_t left;              /* records not yet returned from the current batch */
	int64_t prev_delta;
	int failed;                /* sticky error code, 0 while healthy */
	br_buf dec;                /* decompressed records of the current batch */
} br_rb_iter;

/* max_uncompressed: the largest decompressed records section accepted for one
 * batch (a decompression bomb fails with BR_ELIMIT). */
void br_rb_iter_init(br_rb_iter *it, const void *p, size_t len, size_t max_uncompressed, int flags);
/* Moves to the next batch: returns 1 with it->hdr filled (CRC checked, records
 * section decompressed), 0 at the end of the input, or a negative BR_E* with err
 * naming the batch's base offset and byte position. Records of the previous batch
 * not yet read are skipped. */
int br_rb_iter_next_batch(br_rb_iter *it, br_err *err);
/* The next record, crossing batch boundaries (batches with no records are
 * skipped): 1 with *rec filled, 0 at the end, negative BR_E* on malformed input.
 * Records of control batches (transaction markers) are returned too: callers
 * that want data only skip them with br_rb_control(rec->batch).
 * After an error the iterator is dead: every later call returns the same code
 * (so a careless caller cannot loop on a bad batch). */
int br_rb_iter_next(br_rb_iter *it, br_record *rec, br_err *err);
/* Byte position just after the last complete batch consumed so far. */
static inline size_t br_rb_iter_pos(const br_rb_iter *it) { return it->in.pos; }
void br_rb_iter_free(br_rb_iter *it);

/* Validates every batch and record of p[0..len) (the whole input must be complete
 * batches) without keeping anything; counts records and batches when non-NULL. */
int br_rb_validate(const void *p, size_t len, size_t max_uncompressed, int flags,
                        int64_t *records, int64_t *batches, br_err *err);

/* ---- encoding ---- */

typedef struct br_rb_opts {
	int64_t base_offset;            /* 0 for a produce request */
	enum br_codec codec;
	int level;                      /* codec level, 0 = default */
	int32_t partition_leader_epoch; /* -1 from producers */
	int64_t producer_id;            /* -1 unless idempotent */
	int16_t producer_epoch;         /* -1 unless idempotent */
	int32_t base_sequence;          /* -1 unless idempotent */
	bool log_append_time;           /* timestampType bit (set by the broker, not producers) */
	bool transactional;
	bool control;
} br_rb_opts;

void br_rb_opts_default(br_rb_opts *o);

typedef struct br_rb_builder {
	br_rb_opts opts;
	br_buf recs;         /* the encoded (uncompressed) records */
	int32_t count;
	int64_t base_ts, max_ts;
} br_rb_builder;

void br_rb_builder_init(br_rb_builder *b, const br_rb_opts *o);
/* Adds one record; offsets are consecutive from the base offset. key/value NULL
 * with len -1 = null. The first record's timestamp is the batch's baseTimestamp. */
void br_rb_add(br_rb_builder *b, int64_t timestamp, const void *key, int32_t key_len,
                  const void *value, int32_t value_len, const br_rec_header *headers, int32_t header_count);
/* Appends the finished batch (compressed per opts, CRC set) to out and resets the
 * builder for a next batch with base offset advanced past these records. A builder
 * with no records appends nothing. */
int br_rb_finish(br_rb_builder *b, br_buf *out, br_err *err);
void br_rb_builder_free(br_rb_builder *b);

#endif
