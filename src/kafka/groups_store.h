/* groups_store.h — the durable store of committed consumer-group offsets: one
 * append-only file of CRC-framed records under <data>/groups, replayed at open and
 * compacted when it grows much larger than the live state (layout in groups_store.c).
 *
 * Ownership: br_gstore owns every br_goffset it hands out; a pointer stays valid
 * until the next commit to the same (group, topic, partition) or br_gstore_close.
 * Single-threaded (the broker's loop thread). */
#ifndef BR_KAFKA_GROUPS_STORE_H
#define BR_KAFKA_GROUPS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct br_gstore br_gstore;

/* Kafka's offset.metadata.max.bytes default: longer metadata gets
 * OFFSET_METADATA_TOO_LARGE rather than being stored. */
#define BR_GSTORE_MAX_METADATA 4096
/* Group ids and topic names are stored with a 16-bit length. */
#define BR_GSTORE_MAX_NAME 32767

typedef struct br_goffset {
	const char *topic;
	int32_t topic_len;
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch; /* -1 = unknown */
	int64_t commit_ms;
	const char *meta;     /* NULL = null metadata */
	int32_t meta_len;
} br_goffset;

/* One offset to commit; names and metadata are borrowed for the call. */
typedef struct br_gcommit {
	const char *group;
	int32_t group_len;
	br_goffset o;
} br_gcommit;

/* Opens (creating the directory and file if needed) and replays the file; a torn or
 * CRC-failing tail is cut off with a warning. */
int br_gstore_open(br_gstore **out, const char *dir, br_err *err);
void br_gstore_close(br_gstore *s);

/* Appends the commits as records and fdatasyncs before returning, so a caller may
 * acknowledge them once this returns 0. Applies them in memory only on success.
 * May rewrite the file compactly afterwards (see br_gstore_set_compact_min). */
int br_gstore_commit(br_gstore *s, const br_gcommit *c, size_t n, br_err *err);

const br_goffset *br_gstore_get(const br_gstore *s, const char *group, int32_t glen,
                                const char *topic, int32_t tlen, int32_t partition);
/* All offsets of a group sorted by (topic, partition): *out is a malloc'd array the
 * caller frees (not its elements). Returns the count (0 and *out NULL if none). */
size_t br_gstore_group_offsets(const br_gstore *s, const char *group, int32_t glen,
                               const br_goffset ***out);
bool br_gstore_has_group(const br_gstore *s, const char *group, int32_t glen);
/* Iterates over the groups that have offsets: for (size_t i = 0; br_gstore_next_group(s, &i, &id, &len);) */
bool br_gstore_next_group(const br_gstore *s, size_t *i, const char **id, int32_t *len);

/* Compaction triggers when the file exceeds both this many bytes (default 1 MiB)
 * and 4x the bytes the live records need. Tests lower it. */
void br_gstore_set_compact_min(br_gstore *s, int64_t bytes);
/* Rewrites the file with only the live records (new file + rename). */
int br_gstore_compact(br_gstore *s, br_err *err);
/* Current size of the file and of its live records, for tests and metrics. */
int64_t br_gstore_file_bytes(const br_gstore *s);
int64_t br_gstore_live_bytes(const br_gstore *s);

#endif
