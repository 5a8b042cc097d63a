/* log_int.h — structures shared by the files of src/log (not part of the API).
 * log.c owns topics, configs, flushing and retention; partition.c owns segments,
 * appends, reads and recovery. */
#ifndef BR_LOG_INT_H
#define BR_LOG_INT_H

#include "log/log.h"

#include "base/map.h"

/* One entry per stored batch: where it starts and when the broker appended it.
 * On disk (.index) as 16 bytes: be32 rel offset, be32 position, be64 append ms. */
typedef struct br_idx_entry {
	uint32_t rel;
	uint32_t pos;
	int64_t append_ms;
} br_idx_entry;

/* Sparse time index: max record timestamp seen up to and including the batch at
 * rel. On disk (.timeindex) as 12 bytes: be64 timestamp, be32 rel offset. */
typedef struct br_tidx_entry {
	int64_t ts;
	uint32_t rel;
} br_tidx_entry;

typedef struct br_segment {
	int64_t base;       /* offset of its first batch (file name) */
	int64_t next;       /* offset after its last batch */
	int64_t size;       /* bytes of valid batches */
	int fd, ifd, tfd;   /* .log, .index, .timeindex (ifd/tfd -1 once sealed) */
	br_idx_entry *idx;
	size_t nidx, idx_cap;
	br_tidx_entry *tidx;
	size_t ntidx, tidx_cap;
	int64_t max_ts;     /* largest record timestamp */
	int64_t max_append; /* largest broker append time */
	int64_t first_append; /* broker time of its first batch (segment.ms) */
	int64_t tidx_last_pos;
} br_segment;

/* Idempotent producer state per partition: the last few batches, so that a retry
 * of any of them is recognised (Kafka keeps 5, the max in-flight requests). */
#define BR_PRODUCER_BATCHES 5
typedef struct br_producer_state {
	int64_t pid;
	int16_t epoch;
	int n; /* batches remembered, newest last */
	struct { int32_t first_seq, last_seq; int64_t base_offset; } b[BR_PRODUCER_BATCHES];
} br_producer_state;

struct br_partition {
	br_topic *topic;
	br_log *log;
	int32_t id;
	char *dir;
	br_segment **segs; /* sorted by base offset; the last is active */
	size_t nsegs;
	int64_t leo, hw;
	int64_t ihw;       /* end of the prefix whose .index entries (append times) are durable; <= leo */
	bool dirty;        /* data written since the last data flush began */
	bool idx_dirty;    /* index entries written since the last index sync began */
	bool guard_warned; /* retention held back by the guard was logged */
	br_map producers;  /* 8-byte pid -> br_producer_state* */
};

struct br_topic {
	br_log *log;
	char *name;
	char *dir;
	uint8_t id[16];
	int32_t nparts;
	br_partition **parts;
	br_map configs; /* overrides: key -> char* value */
	/* parsed effective values */
	int64_t segment_bytes, segment_ms, retention_ms, retention_bytes, max_message_bytes;
	bool log_append_time;
};

struct br_log {
	br_log_opts o;
	char *dir;
	br_map topics; /* name -> br_topic* */
	uint64_t write_seq, durable_seq;
	bool flushing, isyncing; /* a data flush / an index sync is in flight */
	int *sealed_fds; /* dup'd fds of rolled segments' data and time index, not yet fsynced (data flush) */
	size_t nsealed, sealed_cap;
	int *sealed_ifds; /* .index fds of rolled segments, not yet fsynced (index sync) */
	size_t nisealed, isealed_cap;
	int *dir_fds;    /* partition directories that gained a segment (roll), not yet fsynced (data flush) */
	size_t ndirs, dirs_cap;
	int *trim_fds;   /* deleted (unlinked) segment data files, freed step by step (log.c: gentle deletion) */
	size_t ntrim, trim_cap;
	bool trimming;   /* a trim round is in flight */
	int64_t next_pid, pid_limit;
	br_retention_guard_fn guard; /* see br_log_set_retention_guard */
	void *guard_arg;
	br_config_guard_fn cfg_guard; /* see br_log_set_config_guard */
	void *cfg_guard_arg;
};

/* partition.c */
int br_partition_open(br_partition **out, br_topic *t, int32_t id, br_err *err);
void br_partition_free(br_partition *p, bool sync);
int br_partition_roll(br_partition *p, int64_t now_ms, br_err *err);
int br_partition_retention(br_partition *p, int64_t now_ms);
void br_log_add_sealed_fd(br_log *log, int fd);
void br_log_add_sealed_ifd(br_log *log, int fd);
void br_log_add_dir_fd(br_log *log, int fd);
/* Takes ownership of fd, an unlinked segment's data: its blocks are freed by trim rounds. */
void br_log_trim_add(br_log *log, int fd);
/* Hands a dup of every segment's data fd to the trimmer (the topic is being deleted). */
void br_partition_trim_all(br_partition *p);

#endif
