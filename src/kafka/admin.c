/* admin.c — topic administration over the Kafka protocol: CreateTopics (v0-7),
 * DeleteTopics (v0-6), CreatePartitions (v0-3), DescribeConfigs (v0-4),
 * AlterConfigs (v0-2) and IncrementalAlterConfigs (v0-1), on top of the log's API.
 *
 * Wire layouts (from the message specs in apache/kafka,
 * clients/src/main/resources/common/message, XxxRequest.json / XxxResponse.json;
 * "flex" marks the versions using compact lengths and tagged fields, which then
 * close every struct, each array element and the whole body):
 *
 *   CreateTopics req   [topics: name, num_partitions i32, replication_factor i16,
 *                       [assignments: partition i32, [broker_id i32]],
 *                       [configs: name, value?]], timeout_ms i32,
 *                       validate_only bool (v1+)                         flex v5+
 *                resp  throttle_ms i32 (v2+), [topics: name, topic_id uuid (v7+),
 *                       error i16, message? (v1+), num_partitions i32 (v5+),
 *                       replication_factor i16 (v5+), [configs: name, value?,
 *                       read_only, source i8, sensitive]? (v5+)]
 *   DeleteTopics req   v0-5 [name] | v6 [topics: name?, topic_id uuid], timeout i32
 *                resp  throttle (v1+), [name? , topic_id (v6+), error, message? (v5+)]
 *                                                                         flex v4+
 *   CreatePartitions req [topics: name, count i32, [assignments: [broker_id]]?],
 *                       timeout i32, validate_only bool
 *                resp  throttle, [name, error, message?]                  flex v2+
 *   DescribeConfigs req [resources: type i8, name, [key]?], include_synonyms (v1+),
 *                       include_documentation (v3+)
 *                resp  throttle, [error, message?, type, name, [configs: name, value?,
 *                       read_only, is_default (v0) | source i8 (v1+), sensitive,
 *                       [synonyms: name, value?, source] (v1+), config_type i8 (v3+),
 *                       documentation? (v3+)]]                            flex v4
 *   AlterConfigs req   [resources: type, name, [configs: name, value?]], validate_only
 *                resp  throttle, [error, message?, type, name]            flex v2
 *   IncrementalAlterConfigs: as AlterConfigs, each config carrying op i8
 *                       (0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT) before value. flex v1
 *
 * Every request is decoded completely before anything is changed: a truncated or
 * malformed body closes the connection (BR_KCLOSE) having done nothing, instead of
 * leaving half of a batch of topics created. After that, each topic or resource
 * succeeds or fails on its own, with its own error code and a message naming it.
 * Strings from the wire are not NUL-terminated; they are copied into a
 * per-request arena, which also holds the decoded request and the messages. */
#include "kafka/handlers.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/arena.h"
#include "base/map.h"
#include "base/util.h"

/* Error codes used here that wire.h does not name. */
enum { KE_KAFKA_STORAGE_ERROR = 56 };

/* Resource types (ConfigResource.Type) and config sources / types of
 * DescribeConfigs, as numbered by the protocol. */
enum { RES_TOPIC = 2, RES_BROKER = 4 };
enum { SRC_TOPIC = 1, SRC_STATIC_BROKER = 4, SRC_DEFAULT = 5 };
enum { CT_UNKNOWN = 0, CT_BOOLEAN = 1, CT_STRING = 2, CT_INT = 3, CT_LONG = 5, CT_DOUBLE = 6, CT_LIST = 7 };
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* A single broker cannot usefully hold more: each partition is a directory with
 * open segment files. The bound keeps one request from exhausting file handles. */
#define MAX_PARTITIONS 10000

/* What DescribeConfigs says about each topic config beyond its value. The broker
 * key is the broker-wide setting (a `braid serve` flag) the topic falls back to. */
typedef struct cfg_info {
	const char *key;
	int8_t type;
	const char *broker_key;
	const char *doc; /* NULL: the log's own (br_topic_config_doc) */
} cfg_info;

static const cfg_info cfg_infos[] = {
	{ "cleanup.policy", CT_LIST, NULL, NULL },
	{ "compression.type", CT_STRING, NULL, NULL },
	{ "delete.retention.ms", CT_LONG, NULL, NULL },
	{ "file.delete.delay.ms", CT_LONG, NULL, NULL },
	{ "flush.messages", CT_LONG, NULL, NULL },
	{ "flush.ms", CT_LONG, NULL, NULL },
	{ "index.interval.bytes", CT_INT, NULL, "Bytes of batches between two entries of the sparse offset index." },
	{ "max.compaction.lag.ms", CT_LONG, NULL, NULL },
	{ "max.message.bytes", CT_INT, "message.max.bytes", NULL },
	{ "message.timestamp.type", CT_STRING, NULL, NULL },
	{ "message.timestamp.difference.max.ms", CT_LONG, NULL, NULL },
	{ "message.timestamp.before.max.ms", CT_LONG, NULL, NULL },
	{ "message.timestamp.after.max.ms", CT_LONG, NULL, NULL },
	{ "min.cleanable.dirty.ratio", CT_DOUBLE, NULL, NULL },
	{ "min.compaction.lag.ms", CT_LONG, NULL, NULL },
	{ "min.insync.replicas", CT_INT, NULL, NULL },
	{ "preallocate", CT_BOOLEAN, NULL, NULL },
	{ "retention.bytes", CT_LONG, "log.retention.bytes", NULL },
	{ "retention.ms", CT_LONG, "log.retention.ms", NULL },
	{ "segment.bytes", CT_INT, "log.segment.bytes", NULL },
	{ "segment.index.bytes", CT_INT, NULL, NULL },
	{ "segment.jitter.ms", CT_LONG, NULL, NULL },
	{ "segment.ms", CT_LONG, "log.roll.ms", NULL },
	{ "unclean.leader.election.enable", CT_BOOLEAN, NULL, NULL },
	{ "message.downconversion.enable", CT_BOOLEAN, NULL, NULL },
	{ "local.retention.ms", CT_LONG, NULL, NULL },
	{ "local.retention.bytes", CT_LONG, NULL, NULL },
	{ "remote.storage.enable", CT_BOOLEAN, NULL, NULL },
	{ "leader.replication.throttled.replicas", CT_LIST, NULL, NULL },
	{ "follower.replication.throttled.replicas", CT_LIST, NULL, NULL },
};

static const cfg_info *cfg_find(const char *key)
{
	for (size_t i = 0; i < BR_ARRAY_LEN(cfg_infos); i++)
		if (!strcmp(cfg_infos[i].key, key))
			return &cfg_infos[i];
	return NULL;
}

/* The broker-wide value behind a topic config's broker_key, formatted into buf. */
static const char *broker_default(br_broker *b, const char *broker_key, char *buf, size_t n)
{
	const br_log_opts *lo = &br_broker_options(b)->log;
	int64_t v;
	if (!strcmp(broker_key, "message.max.bytes"))
		v = lo->max_message_bytes;
	else if (!strcmp(broker_key, "log.retention.bytes"))
		v = lo->retention_bytes;
	else if (!strcmp(broker_key, "log.retention.ms"))
		v = lo->retention_ms;
	else if (!strcmp(broker_key, "log.segment.bytes"))
		v = lo->segment_bytes;
	else if (!strcmp(broker_key, "log.roll.ms"))
		v = lo->segment_ms;
	else
		return NULL;
	snprintf(buf, n, "%" PRId64, v);
	return buf;
}

/* Where a topic's effective value comes from: its override, else the broker flag
 * behind it (STATIC_BROKER_CONFIG), else braid's built-in default. */
static int8_t config_source(bool is_override, const cfg_info *ci)
{
	return is_override ? SRC_TOPIC : ci && ci->broker_key ? SRC_STATIC_BROKER : SRC_DEFAULT;
}

/* ---- shared request plumbing ---- */

typedef struct result {
	char *name;      /* NUL-terminated copy, or NULL when the wire had null */
	int16_t error;
	char *message;   /* NULL when error is 0 */
} result;

/* A NUL inside a wire string would silently cut the C string short ("a\0/x" would
 * name topic "a"), so it becomes DEL (0x7f), which no topic name or known config
 * value accepts: the entry then fails validation with its own error. */
static char *dup_kstr(br_arena *a, br_kstr s)
{
	if (s.len < 0)
		return NULL;
	char *p = br_arena_strndup(a, s.p, (size_t)s.len);
	for (char *z = memchr(p, 0, (size_t)s.len); z; z = memchr(z, 0, (size_t)s.len - (size_t)(z - p)))
		*z = 0x7f;
	return p;
}

static void fail(br_arena *a, result *r, int16_t code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(br_arena *a, result *r, int16_t code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->error = code;
	r->message = br_arena_strndup(a, msg, strlen(msg));
}

/* Maps a log status to the protocol's error code; `invalid` is what BR_EINVAL
 * means for the API at hand (INVALID_CONFIG, INVALID_PARTITIONS, ...). */
static int16_t kerr(int rc, int16_t invalid)
{
	switch (rc) {
	case BR_EEXIST: return BR_KE_TOPIC_ALREADY_EXISTS;
	case BR_ENOTFOUND: return BR_KE_UNKNOWN_TOPIC_OR_PARTITION;
	case BR_EINVAL:
	case BR_ELIMIT: return invalid;
	case BR_EIO: return KE_KAFKA_STORAGE_ERROR;
	default: return BR_KE_UNKNOWN_SERVER_ERROR;
	}
}

/* Minimum encoded size of an array element, for br_kr_arr's plausibility check. */
static int elem(bool flex, int flex_min, int classic_min) { return flex ? flex_min : classic_min; }

/* Entries per array (topics, resources, configs of one resource). Each decoded
 * entry costs several times its wire size (copies, result, per-entry message in
 * the answer), so a 100 MiB frame of empty names could cost gigabytes; no real
 * client sends more than a few thousand. Past the bound the request is refused
 * like an undecodable one. */
#define MAX_ENTRIES 100000

static int32_t read_arr(br_cur *c, bool flex, int min_elem, const char *what)
{
	int32_t n = br_kr_arr(c, flex, min_elem);
	if (n > MAX_ENTRIES) {
		br_warn("admin request with %" PRId32 " %s (at most %d): closing the connection", n, what, MAX_ENTRIES);
		c->bad = true;
		return 0;
	}
	return n;
}

/* Occurrence counting for duplicate checks: a hash map keeps them O(n), since a
 * hostile request may name millions of entries within one frame. */
static void count_key(br_map *m, const void *k, size_t len)
{
	intptr_t c = (intptr_t)br_map_get(m, k, len);
	br_map_put(m, k, len, (void *)(c + 1));
}
static intptr_t key_count(const br_map *m, const void *k, size_t len) { return (intptr_t)br_map_get(m, k, len); }

/* Marks every name that occurs more than once among n results (Kafka rejects the
 * whole set of duplicates: which of two conflicting entries would win is undefined).
 */
static void mark_duplicates(br_arena *a, result *res, int32_t n, const char *what)
{
	br_map seen = { 0 };
	for (int32_t i = 0; i < n; i++)
		if (res[i].name)
			count_key(&seen, res[i].name, strlen(res[i].name));
	for (int32_t i = 0; i < n; i++)
		if (res[i].name && key_count(&seen, res[i].name, strlen(res[i].name)) > 1)
			fail(a, &res[i], BR_KE_INVALID_REQUEST, "%s '%s' appears more than once in the request", what,
			     res[i].name);
	br_map_free(&seen);
}

/* The first config key (of n key/value pairs) given more than once, or NULL. */
static const char *dup_config(char *const *kv, int32_t n)
{
	br_map seen = { 0 };
	const char *dup = NULL;
	for (int32_t j = 0; j < n && !dup; j++)
		if (kv[2 * j]) {
			if (key_count(&seen, kv[2 * j], strlen(kv[2 * j])))
				dup = kv[2 * j];
			count_key(&seen, kv[2 * j], strlen(kv[2 * j]));
		}
	br_map_free(&seen);
	return dup;
}

/* Topic name check with the offending name in the message. Returns true if valid. */
static bool check_name(br_arena *a, result *r)
{
	br_err e = { 0 };
	if (!r->name) {
		fail(a, r, BR_KE_INVALID_TOPIC_EXCEPTION, "topic name is null");
		return false;
	}
	if (br_topic_name_check(r->name, strlen(r->name), &e) < 0) {
		fail(a, r, BR_KE_INVALID_TOPIC_EXCEPTION, "%s", e.msg);
		return false;
	}
	return true;
}

static void write_results_header(br_buf *out, br_kreq *r, bool throttle, int32_t n)
{
	if (throttle)
		br_kw_i32(out, 0);
	br_kw_arr(out, r->flex, n);
}

/* ---- CreateTopics ---- */

typedef struct new_topic {
	result r;
	int32_t partitions;
	int16_t replication;
	int32_t n_assign;
	int32_t n_cfg;
	const char **kv; /* 2*n_cfg: key, value (value may be NULL: rejected later) */
	br_topic *created;
} new_topic;

/* Kafka refuses topics whose names differ only in '.' versus '_' ("a.b" and "a_b"),
 * because metric names fold one onto the other. */
static char *fold_name(br_arena *a, const char *name)
{
	char *f = br_arena_strndup(a, name, strlen(name));
	for (char *q = f; *q; q++)
		if (*q == '.')
			*q = '_';
	return f;
}

/* The existing topic that `name` collides with, or NULL. The map of folded names
 * is built on the first name containing '.' or '_' (O(topics) once per request). */
static const char *colliding_topic(br_arena *a, br_log *log, br_map *folded, const char *name)
{
	if (!strpbrk(name, "._"))
		return NULL;
	if (!folded->slots) {
		br_topic **all = NULL;
		size_t nt = br_log_topics(log, &all);
		for (size_t i = 0; i < nt; i++) {
			char *f = fold_name(a, br_topic_name(all[i]));
			br_map_put(folded, f, strlen(f), (void *)br_topic_name(all[i]));
		}
		free(all);
		if (!folded->slots) /* no topics yet: a placeholder entry marks the map as built */
			br_map_put(folded, "", 0, (void *)"");
	}
	char *f = fold_name(a, name);
	const char *other = br_map_get(folded, f, strlen(f));
	return other && *other && strcmp(other, name) ? other : NULL;
}

/* The configs a CreateTopics v5+ response reports for a created topic. */
static void write_created_configs(br_buf *out, bool flex, const br_topic *t)
{
	const char *const *keys = br_topic_config_keys();
	int32_t n = 0;
	while (keys[n])
		n++;
	br_kw_arr(out, flex, n);
	for (int32_t i = 0; i < n; i++) {
		bool ov = false;
		const char *v = br_topic_config(t, keys[i], &ov);
		br_kw_str(out, flex, keys[i]);
		br_kw_str(out, flex, v);
		br_kw_bool(out, false);
		br_kw_i8(out, config_source(ov, cfg_find(keys[i])));
		br_kw_bool(out, false);
		br_kw_tags(out, flex);
	}
}

int br_h_create_topics(br_broker *b, br_kreq *r, br_buf *out)
{
	br_cur *c = &r->body;
	bool flex = r->flex;
	br_arena a;
	br_arena_init(&a, 4096);

	int32_t n = read_arr(c, flex, elem(flex, 10, 16), "topics");
	if (n < 0)
		n = 0;
	new_topic *ts = br_arena_alloc(&a, sizeof *ts * (size_t)(n ? n : 1));
	for (int32_t i = 0; i < n && !c->bad; i++) {
		new_topic *t = &ts[i];
		t->r.name = dup_kstr(&a, br_kr_str(c, flex));
		t->partitions = br_kr_i32(c);
		t->replication = br_kr_i16(c);
		int32_t na = br_kr_arr(c, flex, elem(flex, 6, 8));
		t->n_assign = na;
		for (int32_t j = 0; j < na && !c->bad; j++) {
			br_kr_i32(c);
			int32_t nb = br_kr_arr(c, flex, 4);
			for (int32_t k = 0; k < nb && !c->bad; k++)
				br_kr_i32(c);
			br_kr_tags(c, flex);
		}
		int32_t nc = read_arr(c, flex, elem(flex, 3, 4), "configs");
		t->n_cfg = nc > 0 ? nc : 0;
		t->kv = br_arena_alloc(&a, sizeof(char *) * 2 * (size_t)(t->n_cfg ? t->n_cfg : 1));
		for (int32_t j = 0; j < t->n_cfg && !c->bad; j++) {
			t->kv[2 * j] = dup_kstr(&a, br_kr_str(c, flex));
			t->kv[2 * j + 1] = dup_kstr(&a, br_kr_str(c, flex));
			br_kr_tags(c, flex);
		}
		br_kr_tags(c, flex);
	}
	br_kr_i32(c); /* timeout_ms: creation is synchronous here */
	bool validate_only = r->version >= 1 ? br_kr_bool(c) : false;
	br_kr_tags(c, flex);
	if (c->bad) {
		br_arena_free(&a);
		return BR_KCLOSE;
	}

	br_log *log = br_broker_log(b);
	const br_broker_opts *bo = br_broker_options(b);
	br_map folded = { 0 }; /* built on first need, see colliding_topic */
	result *rs = br_arena_alloc(&a, sizeof *rs * (size_t)(n ? n : 1));
	for (int32_t i = 0; i < n; i++)
		rs[i] = ts[i].r;
	mark_duplicates(&a, rs, n, "topic");
	for (int32_t i = 0; i < n; i++) {
		new_topic *t = &ts[i];
		t->r = rs[i];
		if (t->r.error || !check_name(&a, &t->r))
			continue;
		if (br_log_topic(log, t->r.name, strlen(t->r.name))) {
			fail(&a, &t->r, BR_KE_TOPIC_ALREADY_EXISTS, "Topic '%s' already exists.", t->r.name);
			continue;
		}
		const char *other = colliding_topic(&a, log, &folded, t->r.name);
		if (other) {
			fail(&a, &t->r, BR_KE_INVALID_TOPIC_EXCEPTION,
			     "topic '%s' collides with existing topic '%s': '.' and '_' are the same in metric names",
			     t->r.name, other);
			continue;
		}
		if (t->n_assign > 0) {
			fail(&a, &t->r, BR_KE_INVALID_REQUEST,
			     "topic '%s': manual replica assignment is not supported by a single broker", t->r.name);
			continue;
		}
		if (t->partitions == -1)
			t->partitions = (int32_t)BR_MIN(bo->log.default_partitions, MAX_PARTITIONS);
		if (t->partitions < 1 || t->partitions > MAX_PARTITIONS) {
			fail(&a, &t->r, BR_KE_INVALID_PARTITIONS,
			     "topic '%s': number of partitions must be between 1 and %d, got %" PRId32, t->r.name,
			     MAX_PARTITIONS, t->partitions);
			continue;
		}
		if (t->replication != -1 && t->replication != 1) {
			fail(&a, &t->r, BR_KE_INVALID_REPLICATION_FACTOR,
			     "topic '%s': replication factor %d is larger than the 1 available broker", t->r.name,
			     t->replication);
			continue;
		}
		t->replication = 1;
		for (int32_t j = 0; j < t->n_cfg && !t->r.error; j++) {
			br_err e = { 0 };
			const char *k = t->kv[2 * j], *v = t->kv[2 * j + 1];
			if (!k)
				fail(&a, &t->r, BR_KE_INVALID_CONFIG, "topic '%s': config name is null", t->r.name);
			else if (!v)
				fail(&a, &t->r, BR_KE_INVALID_CONFIG, "topic '%s': config '%s' has a null value", t->r.name, k);
			else if (br_topic_config_check(k, v, &e) < 0)
				fail(&a, &t->r, BR_KE_INVALID_CONFIG, "topic '%s': %s", t->r.name, e.msg);
		}
		const char *dup = t->r.error ? NULL : dup_config((char *const *)t->kv, t->n_cfg);
		if (dup)
			fail(&a, &t->r, BR_KE_INVALID_REQUEST, "topic '%s': config '%s' given twice", t->r.name, dup);
		if (t->r.error || validate_only)
			continue;
		br_err e = { 0 };
		int rc = br_log_create_topic(log, t->r.name, t->partitions, t->kv, (size_t)t->n_cfg, &e);
		if (rc < 0) {
			fail(&a, &t->r, kerr(rc, BR_KE_INVALID_CONFIG), "%s", e.msg);
			continue;
		}
		t->created = br_log_topic(log, t->r.name, strlen(t->r.name));
		if (folded.slots) {
			char *f = fold_name(&a, t->r.name);
			br_map_put(&folded, f, strlen(f), (void *)br_topic_name(t->created));
		}
		br_info("created topic %s (%" PRId32 " partitions)", t->r.name, t->partitions);

	}

	br_map_free(&folded);
	static const uint8_t zero_id[16];
	write_results_header(out, r, r->version >= 2, n);
	for (int32_t i = 0; i < n; i++) {
		new_topic *t = &ts[i];
		br_kw_str(out, flex, t->r.name ? t->r.name : "");
		if (r->version >= 7)
			br_kw_uuid(out, t->created ? br_topic_id(t->created) : zero_id);
		br_kw_i16(out, t->r.error);
		if (r->version >= 1)
			br_kw_str(out, flex, t->r.message);
		if (r->version >= 5) {
			bool ok = !t->r.error;
			br_kw_i32(out, ok ? t->partitions : -1);
			br_kw_i16(out, ok ? t->replication : -1);
			if (t->created) {
				write_created_configs(out, flex, t->created);
			} else if (ok) {
				/* validate_only: the topic does not exist, so only the overrides
				 * the request named can be reported. */
				br_kw_arr(out, flex, t->n_cfg);
				for (int32_t j = 0; j < t->n_cfg; j++) {
					br_kw_str(out, flex, t->kv[2 * j]);
					br_kw_str(out, flex, t->kv[2 * j + 1]);
					br_kw_bool(out, false);
					br_kw_i8(out, SRC_TOPIC);
					br_kw_bool(out, false);
					br_kw_tags(out, flex);
				}
			} else {
				br_kw_arr(out, flex, 0);
			}
		}
		br_kw_tags(out, flex);
	}
	br_kw_tags(out, flex);
	br_arena_free(&a);
	return 0;
}

/* ---- DeleteTopics ---- */

int br_h_delete_topics(br_broker *b, br_kreq *r, br_buf *out)
{
	br_cur *c = &r->body;
	bool flex = r->flex;
	br_arena a;
	br_arena_init(&a, 4096);
	br_log *log = br_broker_log(b);

	int32_t n;
	if (r->version >= 6)
		n = read_arr(c, flex, 18, "topics");
	else
		n = read_arr(c, flex, elem(flex, 1, 2), "topics");
	if (n < 0)
		n = 0;
	result *rs = br_arena_alloc(&a, sizeof *rs * (size_t)(n ? n : 1));
	uint8_t(*ids)[16] = br_arena_alloc(&a, 16 * (size_t)(n ? n : 1));
	for (int32_t i = 0; i < n && !c->bad; i++) {
		rs[i].name = dup_kstr(&a, br_kr_str(c, flex));
		if (r->version >= 6) {
			br_kr_uuid(c, ids[i]);
			br_kr_tags(c, flex);
		}
	}
	br_kr_i32(c); /* timeout_ms */
	br_kr_tags(c, flex);
	if (c->bad) {
		br_arena_free(&a);
		return BR_KCLOSE;
	}

	static const uint8_t zero_id[16];
	br_map by_id_map = { 0 }; /* built on the first deletion by id */
	bool by_id_built = false;
	mark_duplicates(&a, rs, n, "topic");
	for (int32_t i = 0; i < n; i++) {
		result *t = &rs[i];
		if (t->error)
			continue;
		bool by_id = memcmp(ids[i], zero_id, 16) != 0;
		if (t->name && by_id) {
			fail(&a, t, BR_KE_INVALID_REQUEST, "topic '%s': give a topic name or a topic id, not both", t->name);
			continue;
		}
		br_topic *tp = NULL;
		if (by_id) {
			if (!by_id_built) {
				br_topic **all = NULL;
				size_t nt = br_log_topics(log, &all);
				for (size_t j = 0; j < nt; j++)
					br_map_put(&by_id_map, br_topic_id(all[j]), 16, all[j]);
				free(all);
				by_id_built = true;
			}
			tp = br_map_get(&by_id_map, ids[i], 16);
			if (tp)
				br_map_del(&by_id_map, ids[i], 16); /* about to be deleted */
			if (!tp) {
				fail(&a, t, BR_KE_UNKNOWN_TOPIC_ID, "no topic has the given topic id");
				continue;
			}
			t->name = br_arena_strndup(&a, br_topic_name(tp), strlen(br_topic_name(tp)));
		} else {
			if (!check_name(&a, t))
				continue;
			tp = br_log_topic(log, t->name, strlen(t->name));
			if (!tp) {
				fail(&a, t, BR_KE_UNKNOWN_TOPIC_OR_PARTITION, "topic '%s' does not exist", t->name);
				continue;
			}
			memcpy(ids[i], br_topic_id(tp), 16);
			if (by_id_built)
				br_map_del(&by_id_map, ids[i], 16); /* about to be deleted */
		}
		br_err e = { 0 };
		int rc = br_log_delete_topic(log, t->name, &e);
		if (rc < 0)
			fail(&a, t, kerr(rc, BR_KE_INVALID_REQUEST), "%s", e.msg);
		else
			br_info("deleted topic %s", t->name);
	}

	br_map_free(&by_id_map);
	write_results_header(out, r, r->version >= 1, n);
	for (int32_t i = 0; i < n; i++) {
		result *t = &rs[i];
		if (r->version >= 6)
			br_kw_str(out, flex, t->name);
		else
			br_kw_str(out, flex, t->name ? t->name : "");
		if (r->version >= 6)
			br_kw_uuid(out, ids[i]);
		br_kw_i16(out, t->error);
		if (r->version >= 5)
			br_kw_str(out, flex, t->message);
		br_kw_tags(out, flex);
	}
	br_kw_tags(out, flex);
	br_arena_free(&a);
	return 0;
}

/* ---- CreatePartitions ---- */

int br_h_create_partitions(br_broker *b, br_kreq *r, br_buf *out)
{
	br_cur *c = &r->body;
	bool flex = r->flex;
	br_arena a;
	br_arena_init(&a, 4096);
	br_log *log = br_broker_log(b);

	int32_t n = read_arr(c, flex, elem(flex, 7, 10), "topics");
	if (n < 0)
		n = 0;
	result *rs = br_arena_alloc(&a, sizeof *rs * (size_t)(n ? n : 1));
	int32_t *count = br_arena_alloc(&a, sizeof *count * (size_t)(n ? n : 1));
	bool *assigned = br_arena_alloc(&a, sizeof *assigned * (size_t)(n ? n : 1));
	for (int32_t i = 0; i < n && !c->bad; i++) {
		rs[i].name = dup_kstr(&a, br_kr_str(c, flex));
		count[i] = br_kr_i32(c);
		int32_t na = br_kr_arr(c, flex, elem(flex, 2, 4));
		assigned[i] = na > 0;
		for (int32_t j = 0; j < na && !c->bad; j++) {
			int32_t nb = br_kr_arr(c, flex, 4);
			for (int32_t k = 0; k < nb && !c->bad; k++)
				br_kr_i32(c);
			br_kr_tags(c, flex);
		}
		br_kr_tags(c, flex);
	}
	br_kr_i32(c); /* timeout_ms */
	bool validate_only = br_kr_bool(c);
	br_kr_tags(c, flex);
	if (c->bad) {
		br_arena_free(&a);
		return BR_KCLOSE;
	}

	mark_duplicates(&a, rs, n, "topic");
	for (int32_t i = 0; i < n; i++) {
		result *t = &rs[i];
		if (t->error || !check_name(&a, t))
			continue;
		br_topic *tp = br_log_topic(log, t->name, strlen(t->name));
		if (!tp) {
			fail(&a, t, BR_KE_UNKNOWN_TOPIC_OR_PARTITION, "topic '%s' does not exist", t->name);
			continue;
		}
		int32_t cur = br_topic_partition_count(tp);
		if (count[i] <= cur) {
			fail(&a, t, BR_KE_INVALID_PARTITIONS,
			     "topic '%s' has %" PRId32 " partitions; the count can only grow, %" PRId32 " requested", t->name,
			     cur, count[i]);
			continue;
		}
		if (count[i] > MAX_PARTITIONS) {
			fail(&a, t, BR_KE_INVALID_PARTITIONS, "topic '%s': at most %d partitions, %" PRId32 " requested",
			     t->name, MAX_PARTITIONS, count[i]);
			continue;
		}
		if (assigned[i]) {
			fail(&a, t, BR_KE_INVALID_REQUEST,
			     "topic '%s': manual replica assignment is not supported by a single broker", t->name);
			continue;
		}
		if (validate_only)
			continue;
		br_err e = { 0 };
		int rc = br_log_set_partitions(log, t->name, count[i], &e);
		if (rc < 0)
			fail(&a, t, kerr(rc, BR_KE_INVALID_PARTITIONS), "%s", e.msg);
		else
			br_info("topic %s grown to %" PRId32 " partitions", t->name, count[i]);
	}

	write_results_header(out, r, true, n);
	for (int32_t i = 0; i < n; i++) {
		br_kw_str(out, flex, rs[i].name ? rs[i].name : "");
		br_kw_i16(out, rs[i].error);
		br_kw_str(out, flex, rs[i].message);
		br_kw_tags(out, flex);
	}
	br_kw_tags(out, flex);
	br_arena_free(&a);
	return 0;
}

/* ---- DescribeConfigs ---- */

typedef struct desc_res {
	result r;
	int8_t type;
	int32_t n_keys; /* -1 = all */
	char **keys;
} desc_res;

static bool wanted(const desc_res *d, const char *key)
{
	if (d->n_keys < 0)
		return true;
	for (int32_t i = 0; i < d->n_keys; i++)
		if (d->keys[i] && !strcmp(d->keys[i], key))
			return true;
	return false;
}

typedef struct synonym {
	const char *name, *value;
	int8_t source;
} synonym;

static void write_config(br_buf *out, br_kreq *r, const char *name, const char *value, bool read_only,
                         int8_t source, const synonym *syn, int n_syn, int8_t type, const char *doc,
                         bool include_doc)
{
	bool flex = r->flex;
	br_kw_str(out, flex, name);
	br_kw_str(out, flex, value);
	br_kw_bool(out, read_only);
	if (r->version == 0)
		br_kw_bool(out, source == SRC_DEFAULT || source == SRC_STATIC_BROKER);
	else
		br_kw_i8(out, source);
	br_kw_bool(out, false); /* is_sensitive: no topic or broker config here is secret */
	if (r->version >= 1) {
		br_kw_arr(out, flex, n_syn);
		for (int i = 0; i < n_syn; i++) {
			br_kw_str(out, flex, syn[i].name);
			br_kw_str(out, flex, syn[i].value);
			br_kw_i8(out, syn[i].source);
			br_kw_tags(out, flex);
		}
	}
	if (r->version >= 3) {
		br_kw_i8(out, type);
		br_kw_str(out, flex, include_doc ? doc : NULL);
	}
	br_kw_tags(out, flex);
}

static void describe_topic(br_broker *b, br_kreq *r, br_buf *out, const desc_res *d, br_topic *t,
                           bool synonyms, bool docs)
{
	const char *const *keys = br_topic_config_keys();
	int32_t n = 0;
	for (int32_t i = 0; keys[i]; i++)
		n += wanted(d, keys[i]);
	/* braid.* overrides (the lake's braid.lake.*) have no broker default: they
	 * are listed when set on the topic, after the Kafka keys */
	const char *bk, *bv;
	for (size_t it = 0; br_topic_config_next(t, &it, &bk, &bv);)
		n += !strncmp(bk, "braid.", 6) && wanted(d, bk);
	br_kw_arr(out, r->flex, n);
	for (int32_t i = 0; keys[i]; i++) {
		if (!wanted(d, keys[i]))
			continue;
		bool ov = false;
		const char *v = br_topic_config(t, keys[i], &ov);
		const cfg_info *ci = cfg_find(keys[i]);
		char bbuf[32];
		const char *bv = ci && ci->broker_key ? broker_default(b, ci->broker_key, bbuf, sizeof bbuf) : NULL;
		/* Synonyms in Kafka's order of precedence: the topic override, then the
		 * broker setting it would otherwise fall back to. */
		synonym syn[2];
		int ns = 0;
		if (ov)
			syn[ns++] = (synonym){ keys[i], v, SRC_TOPIC };
		if (bv)
			syn[ns++] = (synonym){ ci->broker_key, bv, SRC_STATIC_BROKER };
		int8_t src = config_source(ov, ci);
		write_config(out, r, keys[i], v, false, src, syn, synonyms ? ns : 0, ci ? ci->type : CT_STRING,
		             br_topic_config_doc(keys[i]) ? br_topic_config_doc(keys[i]) : ci ? ci->doc : NULL, docs);
	}
	for (size_t it = 0; br_topic_config_next(t, &it, &bk, &bv);) {
		if (strncmp(bk, "braid.", 6) || !wanted(d, bk))
			continue;
		synonym syn = { bk, bv, SRC_TOPIC };
		write_config(out, r, bk, bv, false, SRC_TOPIC, &syn, synonyms ? 1 : 0, CT_STRING, NULL, docs);
	}
}

/* The broker resource: the settings `braid serve` was started with, read-only
 * because they come from the command line. */
static void describe_broker(br_broker *b, br_kreq *r, br_buf *out, const desc_res *d, bool synonyms,
                            bool docs)
{
	const br_broker_opts *o = br_broker_options(b);
	char v[10][48];
	snprintf(v[0], sizeof v[0], "%" PRId32, o->node_id);
	snprintf(v[1], sizeof v[1], "%" PRId64, o->log.default_partitions);
	snprintf(v[2], sizeof v[2], "%s", o->auto_create_topics ? "true" : "false");
	snprintf(v[3], sizeof v[3], "%" PRId64, o->log.segment_bytes);
	snprintf(v[4], sizeof v[4], "%" PRId64, o->log.segment_ms);
	snprintf(v[5], sizeof v[5], "%" PRId64, o->log.retention_ms);
	snprintf(v[6], sizeof v[6], "%" PRId64, o->log.retention_bytes);
	snprintf(v[7], sizeof v[7], "%" PRId64, o->log.max_message_bytes);
	snprintf(v[8], sizeof v[8], "%" PRId64, o->max_request_bytes);
	snprintf(v[9], sizeof v[9], "1");
	static const struct {
		const char *key;
		int8_t type;
		const char *doc;
	} bc[10] = {
		{ "node.id", CT_INT, "This broker's id in Metadata responses." },
		{ "num.partitions", CT_INT, "Partitions of a topic created without a count (and of auto-created topics)." },
		{ "auto.create.topics.enable", CT_BOOLEAN, "Whether Metadata and Produce create unknown topics." },
		{ "log.segment.bytes", CT_INT, "Default segment.bytes of topics." },
		{ "log.roll.ms", CT_LONG, "Default segment.ms of topics." },
		{ "log.retention.ms", CT_LONG, "Default retention.ms of topics." },
		{ "log.retention.bytes", CT_LONG, "Default retention.bytes of topics." },
		{ "message.max.bytes", CT_INT, "Default max.message.bytes of topics." },
		{ "socket.request.max.bytes", CT_INT, "Request frames larger than this close the connection." },
		{ "default.replication.factor", CT_INT, "A single broker keeps one replica." },
	};
	int32_t n = 0;
	for (size_t i = 0; i < BR_ARRAY_LEN(bc); i++)
		n += wanted(d, bc[i].key);
	br_kw_arr(out, r->flex, n);
	for (size_t i = 0; i < BR_ARRAY_LEN(bc); i++) {
		if (!wanted(d, bc[i].key))
			continue;
		synonym syn = { bc[i].key, v[i], SRC_STATIC_BROKER };
		write_config(out, r, bc[i].key, v[i], true, SRC_STATIC_BROKER, &syn, synonyms ? 1 : 0, bc[i].type,
		             bc[i].doc, docs);
	}
}

/* Whether a BROKER resource name designates this broker ("" = cluster default). */
static bool is_this_broker(br_broker *b, const char *name)
{
	char id[16];
	snprintf(id, sizeof id, "%" PRId32, br_broker_options(b)->node_id);
	return name && (!*name || !strcmp(name, id));
}

int br_h_describe_configs(br_broker *b, br_kreq *r, br_buf *out)
{
	br_cur *c = &r->body;
	bool flex = r->flex;
	br_arena a;
	br_arena_init(&a, 4096);

	int32_t n = read_arr(c, flex, elem(flex, 4, 7), "resources");
	if (n < 0)
		n = 0;
	desc_res *ds = br_arena_alloc(&a, sizeof *ds * (size_t)(n ? n : 1));
	for (int32_t i = 0; i < n && !c->bad; i++) {
		desc_res *d = &ds[i];
		d->type = br_kr_i8(c);
		d->r.name = dup_kstr(&a, br_kr_str(c, flex));
		d->n_keys = read_arr(c, flex, elem(flex, 1, 2), "config keys");
		d->keys = br_arena_alloc(&a, sizeof(char *) * (size_t)(d->n_keys > 0 ? d->n_keys : 1));
		for (int32_t j = 0; j < d->n_keys && !c->bad; j++)
			d->keys[j] = dup_kstr(&a, br_kr_str(c, flex));
		br_kr_tags(c, flex);
	}
	bool synonyms = r->version >= 1 ? br_kr_bool(c) : false;
	bool docs = r->version >= 3 ? br_kr_bool(c) : false;
	br_kr_tags(c, flex);
	if (c->bad) {
		br_arena_free(&a);
		return BR_KCLOSE;
	}

	br_log *log = br_broker_log(b);
	write_results_header(out, r, true, n);
	for (int32_t i = 0; i < n; i++) {
		desc_res *d = &ds[i];
		br_topic *t = NULL;
		if (d->type == RES_TOPIC) {
			if (check_name(&a, &d->r)) {
				t = br_log_topic(log, d->r.name, strlen(d->r.name));
				if (!t)
					fail(&a, &d->r, BR_KE_UNKNOWN_TOPIC_OR_PARTITION, "topic '%s' does not exist",
					     d->r.name);
			}
		} else if (d->type == RES_BROKER) {
			if (!is_this_broker(b, d->r.name))
				fail(&a, &d->r, BR_KE_INVALID_REQUEST, "broker '%s' is not this broker (node %" PRId32 ")",
				     d->r.name ? d->r.name : "(null)", br_broker_options(b)->node_id);
		} else {
			fail(&a, &d->r, BR_KE_INVALID_REQUEST, "resource type %d is not supported (2 = topic, 4 = broker)",
			     d->type);
		}
		br_kw_i16(out, d->r.error);
		br_kw_str(out, flex, d->r.message);
		br_kw_i8(out, d->type);
		br_kw_str(out, flex, d->r.name ? d->r.name : "");
		if (d->r.error)
			br_kw_arr(out, flex, 0);
		else if (t)
			describe_topic(b, r, out, d, t, synonyms, docs);
		else
			describe_broker(b, r, out, d, synonyms, docs);
		br_kw_tags(out, flex);
	}
	br_kw_tags(out, flex);
	br_arena_free(&a);
	return 0;
}

/* ---- AlterConfigs and IncrementalAlterConfigs ---- */

typedef struct alter_res {
	result r;
	int8_t type;
	int32_t n;
	int8_t *op;
	char **kv; /* 2*n: key, value */
} alter_res;

/* Decodes both requests (incremental adds an op byte per config). */
static int decode_alter(br_kreq *r, br_arena *a, bool incremental, alter_res **out, int32_t *count,
                        bool *validate_only)
{
	br_cur *c = &r->body;
	bool flex = r->flex;
	int32_t n = read_arr(c, flex, elem(flex, 4, 7), "resources");
	if (n < 0)
		n = 0;
	alter_res *rs = br_arena_alloc(a, sizeof *rs * (size_t)(n ? n : 1));
	for (int32_t i = 0; i < n && !c->bad; i++) {
		alter_res *x = &rs[i];
		x->type = br_kr_i8(c);
		x->r.name = dup_kstr(a, br_kr_str(c, flex));
		int32_t nc = read_arr(c, flex, elem(flex, 3 + incremental, 4 + incremental), "configs");
		x->n = nc > 0 ? nc : 0;
		x->op = br_arena_alloc(a, (size_t)(x->n ? x->n : 1));
		x->kv = br_arena_alloc(a, sizeof(char *) * 2 * (size_t)(x->n ? x->n : 1));
		for (int32_t j = 0; j < x->n && !c->bad; j++) {
			x->kv[2 * j] = dup_kstr(a, br_kr_str(c, flex));
			x->op[j] = incremental ? br_kr_i8(c) : OP_SET;
			x->kv[2 * j + 1] = dup_kstr(a, br_kr_str(c, flex));
			br_kr_tags(c, flex);
		}
		br_kr_tags(c, flex);
	}
	*validate_only = br_kr_bool(c);
	br_kr_tags(c, flex);
	*out = rs;
	*count = n;
	return c->bad ? -1 : 0;
}

/* Whether a DELETE may name this key: any config the topic reports or a braid.* key. */
static bool known_key(const char *key)
{
	const char *const *keys = br_topic_config_keys();
	for (size_t i = 0; keys[i]; i++)
		if (!strcmp(keys[i], key))
			return true;
	return cfg_find(key) || !strncmp(key, "braid.", 6);
}

/* APPEND / SUBTRACT on a list config: edits the comma-separated effective value.
 * Items are few (cleanup.policy has two), so the quadratic membership test is fine. */
static char *edit_list(br_arena *a, const char *cur, const char *arg, bool append)
{
	br_buf o = { 0 };
	char *items = br_arena_strndup(a, cur ? cur : "", cur ? strlen(cur) : 0);
	char *args = br_arena_strndup(a, arg, strlen(arg));
	char *save = NULL;
	for (char *it = strtok_r(items, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
		bool drop = false;
		if (!append) {
			char *copy = br_arena_strndup(a, args, strlen(args)), *s2 = NULL;
			for (char *x = strtok_r(copy, ",", &s2); x && !drop; x = strtok_r(NULL, ",", &s2))
				drop = !strcmp(x, it);
		}
		if (!drop)
			br_buf_printf(&o, "%s%s", o.len ? "," : "", it);
	}
	if (append) {
		char *s2 = NULL;
		for (char *x = strtok_r(args, ",", &s2); x; x = strtok_r(NULL, ",", &s2)) {
			char *copy = br_arena_strndup(a, cur ? cur : "", cur ? strlen(cur) : 0), *s3 = NULL;
			bool have = false;
			for (char *y = strtok_r(copy, ",", &s3); y && !have; y = strtok_r(NULL, ",", &s3))
				have = !strcmp(x, y);
			if (!have)
				br_buf_printf(&o, "%s%s", o.len ? "," : "", x);
		}
	}
	char *res = br_arena_strndup(a, o.len ? (const char *)o.p : "", o.len);
	br_buf_free(&o);
	return res;
}

/* Validates one resource's changes and applies them unless validate_only. */
static void alter_one(br_broker *b, br_arena *a, alter_res *x, bool incremental, bool validate_only)
{
	br_log *log = br_broker_log(b);
	if (x->type == RES_BROKER) {
		fail(a, &x->r, BR_KE_INVALID_REQUEST,
		     "broker configs are read-only: they are the flags `braid serve` was started with");
		return;
	}
	if (x->type != RES_TOPIC) {
		fail(a, &x->r, BR_KE_INVALID_REQUEST, "resource type %d is not supported (2 = topic)", x->type);
		return;
	}
	if (!check_name(a, &x->r))
		return;
	br_topic *t = br_log_topic(log, x->r.name, strlen(x->r.name));
	if (!t) {
		fail(a, &x->r, BR_KE_UNKNOWN_TOPIC_OR_PARTITION, "topic '%s' does not exist", x->r.name);
		return;
	}
	const char *dup = dup_config(x->kv, x->n);
	if (dup) {
		fail(a, &x->r, BR_KE_INVALID_REQUEST, "topic '%s': config '%s' appears more than once", x->r.name, dup);
		return;
	}
	for (int32_t j = 0; j < x->n; j++) {
		const char *k = x->kv[2 * j], *v = x->kv[2 * j + 1];
		int8_t op = x->op[j];
		br_err e = { 0 };
		if (!k) {
			fail(a, &x->r, BR_KE_INVALID_CONFIG, "topic '%s': config name is null", x->r.name);
			return;
		}
		if (op == OP_DELETE) {
			if (!known_key(k)) {
				fail(a, &x->r, BR_KE_INVALID_CONFIG, "topic '%s': unknown config '%s'", x->r.name, k);
				return;
			}
			x->kv[2 * j + 1] = NULL;
			continue;
		}
		if (op != OP_SET && op != OP_APPEND && op != OP_SUBTRACT) {
			fail(a, &x->r, BR_KE_INVALID_REQUEST, "topic '%s': config '%s': unknown operation %d", x->r.name, k,
			     op);
			return;
		}
		if (!v) {
			fail(a, &x->r, BR_KE_INVALID_CONFIG, "topic '%s': config '%s' has a null value", x->r.name, k);
			return;
		}
		if (op == OP_APPEND || op == OP_SUBTRACT) {
			const cfg_info *ci = cfg_find(k);
			if (!ci || ci->type != CT_LIST) {
				fail(a, &x->r, BR_KE_INVALID_CONFIG, "topic '%s': config '%s' is not a list: %s does not apply",
				     x->r.name, k, op == OP_APPEND ? "APPEND" : "SUBTRACT");
				return;
			}
			bool ov;
			v = edit_list(a, br_topic_config(t, k, &ov), v, op == OP_APPEND);
			x->kv[2 * j + 1] = (char *)v;
		}
		if (br_topic_config_check(k, v, &e) < 0) {
			fail(a, &x->r, BR_KE_INVALID_CONFIG, "topic '%s': %s", x->r.name, e.msg);
			return;
		}
	}
	if (validate_only)
		return;
	br_err e = { 0 };
	int rc = br_log_set_configs(log, x->r.name, (const char *const *)x->kv, (size_t)x->n, incremental, &e);
	if (rc < 0)
		fail(a, &x->r, kerr(rc, BR_KE_INVALID_CONFIG), "%s", e.msg);
}

static int alter_configs(br_broker *b, br_kreq *r, br_buf *out, bool incremental)
{
	br_arena a;
	br_arena_init(&a, 4096);
	alter_res *rs;
	int32_t n;
	bool validate_only;
	if (decode_alter(r, &a, incremental, &rs, &n, &validate_only) < 0) {
		br_arena_free(&a);
		return BR_KCLOSE;
	}
	/* A resource named twice is ambiguous: both entries fail. Keyed by type + name. */
	br_map seen = { 0 };
	char **rkey = br_arena_alloc(&a, sizeof(char *) * (size_t)(n ? n : 1));
	for (int32_t i = 0; i < n; i++) {
		const char *nm = rs[i].r.name ? rs[i].r.name : "";
		size_t len = strlen(nm) + 1;
		rkey[i] = br_arena_alloc(&a, len + 1);
		rkey[i][0] = (char)rs[i].type;
		memcpy(rkey[i] + 1, nm, len);
		count_key(&seen, rkey[i], len);
	}
	for (int32_t i = 0; i < n; i++)
		if (key_count(&seen, rkey[i], strlen(rkey[i] + 1) + 1) > 1)
			fail(&a, &rs[i].r, BR_KE_INVALID_REQUEST, "resource '%s' appears more than once",
			     rs[i].r.name ? rs[i].r.name : "");
	br_map_free(&seen);
	for (int32_t i = 0; i < n; i++)
		if (!rs[i].r.error)
			alter_one(b, &a, &rs[i], incremental, validate_only);

	bool flex = r->flex;
	write_results_header(out, r, true, n);
	for (int32_t i = 0; i < n; i++) {
		br_kw_i16(out, rs[i].r.error);
		br_kw_str(out, flex, rs[i].r.message);
		br_kw_i8(out, rs[i].type);
		br_kw_str(out, flex, rs[i].r.name ? rs[i].r.name : "");
		br_kw_tags(out, flex);
	}
	br_kw_tags(out, flex);
	br_arena_free(&a);
	return 0;
}

int br_h_alter_configs(br_broker *b, br_kreq *r, br_buf *out) { return alter_configs(b, r, out, false); }

int br_h_incremental_alter_configs(br_broker *b, br_kreq *r, br_buf *out)
{
	return alter_configs(b, r, out, true);
}
