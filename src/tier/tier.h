/* tier.h — tiering: every lake-enabled topic is also the Iceberg table
 * kafka.<topic>, fed continuously from the log, exactly once. The frontier
 * (per partition, the next offset not yet in the table) lives in the summary of
 * the table's current snapshot; see tier.c for the layout and the crash story.
 *
 * Threads: br_tier_open/poll/close run on the broker's loop thread (the log is
 * single-threaded); decoding and Iceberg commits run on one dedicated tier
 * thread, Parquet encoding of streamed chunks on an encoder thread, both owned
 * by the br_tier. br_tier_open installs the log's retention guard (records past
 * the frontier are kept) and config guard (braid.lake.* changes an existing
 * table cannot follow are refused); br_tier_close removes them. Ownership:
 * br_tier owns its threads, its lake handle and every job; it borrows the log
 * (which must outlive it). */
#ifndef BR_TIER_H
#define BR_TIER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "log/log.h"

typedef struct br_tier br_tier;

/* Called on the tier thread when a job finished: the broker turns it into a
 * uv_async_send so br_tier_poll runs soon on the loop thread. */
typedef void (*br_tier_wake_fn)(void *arg);

typedef struct br_tier_opts {
	const char *data_dir;        /* <data>; tables go to <data>/lake/kafka/<topic> */
	br_tier_wake_fn wake;        /* may be NULL (then only the poll timer drives it) */
	void *wake_arg;
	int64_t max_job_bytes;       /* stored batch bytes copied per job; default 64 MiB */
	int priority;                /* of the tier threads: BR_TIER_IDLE (0, default), _LOW, _NORMAL */
	int threads;                 /* JSON/record parse workers; 0 = one per online CPU, < 0 = none
	                              * (the tier thread parses, as for partitioned tables) */
	bool spread;                 /* catch-up jobs: each worker also encodes its own data file (see
	                              * tier.c; costs 10-35% more CPU in the measurements so far) */
} br_tier_opts;

/* Tier thread priorities. IDLE (SCHED_IDLE) runs tiering only on CPU nothing
 * else wants: produce and fetch latency are untouched, but under saturation the
 * lake lags until the load drops. LOW (nice 10) and NORMAL (nice 0) give
 * tiering a share of a busy machine, bounding the lag at a cost in latency. */
enum { BR_TIER_IDLE = 0, BR_TIER_LOW = 1, BR_TIER_NORMAL = 2 };

int br_tier_open(br_tier **out, br_log *log, const br_tier_opts *o, br_err *err);
/* Loop thread, every ~100 ms and after a wake: collects finished jobs, appends
 * dead letters, starts due jobs. Returns 1 when it appended to the log (the
 * caller must start a flush so the appends become durable), else 0. */
int br_tier_poll(br_tier *t, int64_t now_ms);
/* Loop thread: waits for the job in flight to end, stops the thread. */
void br_tier_close(br_tier *t);

/* Counts since this process started tiering the topic (loop thread). Returns
 * false when the topic is not tiered. */
bool br_tier_counts(br_tier *t, const char *topic, int64_t *tiered, int64_t *dead_lettered);

/* Metrics of a tiered topic (loop thread; since this process started): the
 * pointers are borrowed and valid until the next br_tier_poll. Returns false
 * when the topic is not tiered. */
typedef struct br_tier_stats {
	bool ready;               /* the frontier is known (read back from the table) */
	int32_t nparts;           /* entries of the arrays */
	const int64_t *frontier;  /* per partition: next offset not yet in the table */
	const int64_t *tiered;    /* per partition: records written to the table */
	const int64_t *dead;      /* per partition: records dead-lettered */
	int64_t commits;          /* data commits */
	int64_t bytes_written;    /* Parquet bytes those commits published */
	int64_t last_commit_ms;   /* wall clock of the last commit, 0 = none yet */
} br_tier_stats;
bool br_tier_stats_get(br_tier *t, const char *topic, br_tier_stats *out);

/* The frontier of kafka.<topic> from the table's current snapshot, read from
 * disk (safe while a server runs). *frontier: malloc'd, *n entries (partition i
 * at index i; -1 for a partition never tiered). Totals are optional outputs
 * (records tiered / dead-lettered over the table's life). BR_ENOTFOUND when the
 * table does not exist. */
int br_tier_frontier_read(const char *data_dir, const char *topic, int64_t **frontier, int32_t *n,
			  int64_t *tiered, int64_t *dead_lettered, br_err *err);

/* Frontier text as stored in the snapshot summary ("0:1234,1:999"): parse and
 * format. Parsing accepts partitions in any order; missing ones are -1. */
int br_tier_frontier_parse(const char *s, int64_t **frontier, int32_t *n, br_err *err);
char *br_tier_frontier_format(const int64_t *frontier, int32_t n);

#endif
