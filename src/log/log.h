/* log.h — the durable log: topics of partitions, each a directory of segment files
 * holding Kafka RecordBatch v2 bytes exactly as produced (base offset assigned here).
 * See log.c for the on-disk layout, the recovery procedure and the crash story.
 *
 * Ownership: br_log owns every br_topic and br_partition; pointers handed out stay
 * valid until the topic is deleted or the log closed. All functions must be called
 * from one thread (the broker's loop), except br_log_flush_run (see below). */
#ifndef BR_LOG_H
#define BR_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct br_log br_log;
typedef struct br_topic br_topic;
typedef struct br_partition br_partition;

typedef struct br_log_opts {
	const char *dir;          /* root of the log: <data>/log */
	int64_t default_partitions; /* for auto-created topics (num.partitions) */
	/* broker-wide defaults that topic configs override */
	int64_t segment_bytes;    /* roll a segment past this size (log.segment.bytes) */
	int64_t segment_ms;       /* roll a segment older than this (log.roll.ms) */
	int64_t retention_ms;     /* -1 = keep forever */
	int64_t retention_bytes;  /* per partition, -1 = no limit */
	int64_t max_message_bytes; /* largest record batch accepted */
} br_log_opts;

void br_log_opts_default(br_log_opts *o);

/* Opens (creating if needed) the log under o->dir and recovers every partition:
 * a torn or CRC-failing tail is cut off, indexes are rebuilt where needed. */
int br_log_open(br_log **out, const br_log_opts *o, br_err *err);
/* fsyncs everything, writes indexes, closes files, frees memory. */
void br_log_close(br_log *log);

/* ---- topics ---- */

/* Kafka's rules: [a-zA-Z0-9._-]{1,249}, not "." or "..". */
int br_topic_name_check(const char *name, size_t len, br_err *err);
/* Checks one topic config (known Kafka key with a valid value, or a braid.* key). */
int br_topic_config_check(const char *key, const char *value, br_err *err);

/* kv: n pairs of (key, value) strings. Fails with BR_EEXIST if the topic exists. */
int br_log_create_topic(br_log *log, const char *name, int32_t partitions,
                        const char *const *kv, size_t n, br_err *err);
int br_log_delete_topic(br_log *log, const char *name, br_err *err);
/* Grows the topic to `total` partitions (never shrinks). */
int br_log_set_partitions(br_log *log, const char *name, int32_t total, br_err *err);
/* Replaces the topic's config overrides with kv (n pairs). incremental=true keeps
 * overrides not named; value NULL in incremental mode deletes that override. */
int br_log_set_configs(br_log *log, const char *name, const char *const *kv, size_t n,
                       bool incremental, br_err *err);

/* The config guard: asked by br_log_set_configs (loop thread) about every
 * braid.* override whose value changes (old or new NULL: absent); a negative
 * status refuses the whole change with err's message. Tiering installs one to
 * refuse changes an existing table cannot follow (its partition spec). */
typedef int (*br_config_guard_fn)(void *arg, const br_topic *t, const char *key, const char *old_value,
				  const char *new_value, br_err *err);
void br_log_set_config_guard(br_log *log, br_config_guard_fn fn, void *arg);

br_topic *br_log_topic(br_log *log, const char *name, size_t len);
/* Fills *out (caller frees the array, not the topics) sorted by name; returns count. */
size_t br_log_topics(br_log *log, br_topic ***out);

const char *br_topic_name(const br_topic *t);
const uint8_t *br_topic_id(const br_topic *t); /* 16 bytes */
int32_t br_topic_partition_count(const br_topic *t);
br_partition *br_topic_partition(br_topic *t, int32_t p); /* NULL if out of range */

/* Effective value of a config (override, else broker default) and whether it is
 * an override. Known keys are listed by br_topic_config_keys. */
const char *br_topic_config(const br_topic *t, const char *key, bool *is_override);
/* What a topic config means (DescribeConfigs' documentation); NULL for keys the
 * log does not know. */
const char *br_topic_config_doc(const char *key);
/* NULL-terminated list of the keys DescribeConfigs reports. */
const char *const *br_topic_config_keys(void);
/* Iterates over overrides: returns false when done. */
bool br_topic_config_next(const br_topic *t, size_t *i, const char **key, const char **value);

/* ---- partitions ---- */

enum br_append_status {
	BR_APPEND_OK = 0,
	BR_APPEND_CORRUPT,          /* bad size, magic, CRC or record count */
	BR_APPEND_TOO_LARGE,        /* batch over max.message.bytes */
	BR_APPEND_DUPLICATE,        /* idempotent retry of a stored batch: not written again */
	BR_APPEND_OUT_OF_ORDER,     /* sequence gap for a known producer */
	BR_APPEND_FENCED_EPOCH,     /* producer epoch older than the known one */
	BR_APPEND_UNSUPPORTED,      /* magic < 2, or transactional batches (not supported yet) */
	BR_APPEND_IO,               /* the disk refused; message in err */
};

typedef struct br_append_result {
	enum br_append_status status;
	int64_t base_offset;      /* of the first batch appended (or of the duplicate) */
	int64_t log_append_time;  /* -1 unless the topic uses LogAppendTime */
	int64_t log_start_offset;
	char msg[200];            /* human reason for a non-OK status */
} br_append_result;

/* Appends the concatenated RecordBatch v2 bytes in batches[0..len). The bytes are
 * modified in place (base offset, and timestamps/CRC under LogAppendTime). All
 * batches are validated before any is written: the append is all or nothing.
 * The data is written (not yet durable): the caller waits for a flush covering
 * br_log_write_seq() before acknowledging. */
int br_partition_append(br_partition *p, uint8_t *batches, size_t len, int64_t now_ms,
                        br_append_result *res, br_err *err);

int64_t br_partition_start_offset(const br_partition *p);  /* log start offset */
int64_t br_partition_end_offset(const br_partition *p);    /* LEO: next offset to assign */
int64_t br_partition_high_watermark(const br_partition *p);/* end of the durable prefix */
int32_t br_partition_id(const br_partition *p);
br_topic *br_partition_topic(const br_partition *p);

/* Reads whole batches starting with the one holding `offset`, up to the high
 * watermark (or LEO with BR_READ_UNCOMMITTED), stopping before max_bytes; with
 * BR_READ_AT_LEAST_ONE the first batch is returned even when larger (KIP-74).
 * Appends the bytes to out. Returns 0, or BR_ENOTFOUND when offset is outside
 * [start, LEO] (OFFSET_OUT_OF_RANGE), or BR_EIO. */
enum { BR_READ_UNCOMMITTED = 1, BR_READ_AT_LEAST_ONE = 2 };
int br_partition_read(br_partition *p, int64_t offset, int64_t max_bytes, int flags,
                      br_buf *out, br_err *err);
/* Reading on another thread. The durable prefix of a partition never changes,
 * so a reader elsewhere can pread it from its own descriptors: the loop thread
 * plans (index lookups only, no I/O: cheap enough never to stall produce or
 * fetch), any thread executes. Segment files deleted by retention meanwhile stay
 * readable through the plan's dup'd descriptors. Whole batches from the one
 * holding `offset`, at least one, up to max_bytes and the high watermark, and
 * only those whose broker append time is durable too (the index sync runs
 * every ~100 ms): a plan's append times never change after a crash. */
typedef struct br_read_span {
	int fd;               /* dup'd; closed by br_read_plan_free */
	int64_t pos, len;
} br_read_span;
typedef struct br_read_plan {
	br_read_span *spans;
	size_t nspans;
	int64_t *batch_base;   /* per batch: base offset and broker append time */
	int64_t *batch_append;
	size_t nbatches;
	int64_t from, to;      /* offsets covered: [first batch base, end of last batch) */
	int64_t bytes;
} br_read_plan;
int br_partition_plan_read(br_partition *p, int64_t offset, int64_t max_bytes, br_read_plan *out, br_err *err);
/* Any thread: appends the planned bytes to out. */
int br_read_plan_exec(const br_read_plan *plan, br_buf *out, br_err *err);
void br_read_plan_free(br_read_plan *plan);

/* Bytes available from offset to the high watermark (an estimate from the index,
 * used for Fetch min_bytes). */
int64_t br_partition_bytes_after(const br_partition *p, int64_t offset);

/* ListOffsets by time: the first offset whose record timestamp is >= ts, with that
 * record's timestamp; offset -1 when there is none. */
int br_partition_offset_for_time(br_partition *p, int64_t ts, int64_t *offset, int64_t *found_ts,
                                 br_err *err);
/* ListOffsets -3: the first record carrying the largest timestamp (offset -1 when
 * the partition is empty). */
int br_partition_max_timestamp(br_partition *p, int64_t *offset, int64_t *ts, br_err *err);
/* Broker append time of the batch holding offset (-1 if unknown / out of range). */
int64_t br_partition_append_time(br_partition *p, int64_t offset);

/* ---- durability (group commit) ----
 * Every append bumps the log's write sequence. A flush has three phases:
 *   begin (loop thread): captures the files to sync (dup'd fds) and the sequence;
 *   run   (any thread):  fdatasync()s them;
 *   end   (loop thread): moves the marks the flush covered.
 * Two kinds, each one at a time, independent of each other (see log.c):
 *   BR_FLUSH_DATA  the segment data: end advances each partition's high watermark
 *                  and returns the sequence now durable (the produce ack path);
 *   BR_FLUSH_INDEX the .index files, which hold the broker append times: end
 *                  advances the limit of br_partition_plan_read. Call it every
 *                  ~100 ms while br_log_index_sync_wanted.
 * Appends may continue during run. */
enum { BR_FLUSH_DATA = 1, BR_FLUSH_INDEX = 2, BR_FLUSH_ALL = 3 };
typedef struct br_flush br_flush;
uint64_t br_log_write_seq(const br_log *log);
uint64_t br_log_durable_seq(const br_log *log);
/* NULL when nothing of that kind is pending (or that kind is already in flight). */
br_flush *br_log_flush_begin_what(br_log *log, int what);
br_flush *br_log_flush_begin(br_log *log); /* = BR_FLUSH_ALL: everything written so far */
bool br_log_index_sync_wanted(const br_log *log);
void br_log_flush_run(br_flush *f);
/* The run phase split in parts that may run in parallel (fsync of independent
 * files): part i of n syncs every n-th file. */
void br_log_flush_run_part(br_flush *f, size_t i, size_t n);
size_t br_log_flush_files(const br_flush *f);
int br_log_flush_kind(const br_flush *f); /* the BR_FLUSH_* bits it covers */
/* Returns 0, or BR_EIO when an fsync failed (the broker must stop: the data
 * acknowledged so far stays durable, but nothing after can be promised). */
int br_log_flush_end(br_log *log, br_flush *f, br_err *err);

/* Synchronous durability for one partition, for callers that answer on the
 * loop thread and cannot wait for a group commit (SQL INSERT in `braid sql` and
 * pgwire): fdatasyncs the partition's active segment and index, and every
 * rolled segment not yet synced (and their indexes), then moves its high
 * watermark, and the limit of br_partition_plan_read when no index sync is in
 * flight, to the LEO.
 * Safe while a group-commit flush is in flight (its end only moves high
 * watermarks forward); that flush still syncs the same files again later. */
int br_partition_sync(br_partition *p, br_err *err);

/* Rolls and deletes segments per segment.ms / retention.ms / retention.bytes.
 * Call periodically; returns the number of segments deleted. A segment holding
 * an offset at or above the retention guard's answer for its partition is
 * kept, whatever its age or the partition's size. */
int br_log_enforce_retention(br_log *log, int64_t now_ms);
/* The retention guard: asked (on the loop thread, during retention) for the
 * lowest offset of a partition that must stay; INT64_MAX pins nothing.
 * Tiering installs one so that records not yet in the lake (at or past the
 * lake frontier) are never deleted. fn NULL removes it. */
typedef int64_t (*br_retention_guard_fn)(void *arg, const br_topic *t, int32_t partition);
void br_log_set_retention_guard(br_log *log, br_retention_guard_fn fn, void *arg);

/* Gentle deletion (log.c): segments deleted by retention or with their topic
 * lose their names at once, their blocks a few MiB at a time, so the disk's
 * discards come in small pieces instead of one stall of every fsync. Call
 * every ~100 ms: begin (loop thread; NULL when nothing is pending or a round is
 * in flight), run (any thread: ftruncate + fdatasync of one step), end (loop
 * thread). br_log_close frees what is left at once. */
typedef struct br_trim br_trim;
br_trim *br_log_trim_begin(br_log *log);
void br_log_trim_run(br_trim *t);
void br_log_trim_end(br_log *log, br_trim *t);
/* Bytes still waiting to be freed (what the next rounds will trim). */
int64_t br_log_trim_pending(const br_log *log);

/* Hands out a fresh idempotent producer id (persisted in blocks, never reused). */
int br_log_new_producer_id(br_log *log, int64_t *id, br_err *err);

#endif
