/* log.c — the log as a whole: topics and their configs, opening and recovery of
 * the data directory, group-commit flushing, retention and the gentle deletion
 * of segments, producer ids.
 *
 * Layout under <log> (= <data>/log):
 *   <topic>/topic.json     {"name","id","partitions","configs":{k:v}} — written
 *                          atomically (tmp + fsync + rename + fsync dir) and the
 *                          commit point of a create, partition add or config change
 *   <topic>/<p>/           one directory per partition (see partition.c)
 *   producer_ids           "next=N": ids below N may have been handed out
 *   .trash/                topics being deleted (renamed here, then removed)
 * A topic directory without topic.json is a create that crashed before its commit
 * point and is removed at open. Topic names follow Kafka's rules, so a name is a
 * safe single path component ("." and ".." are refused). */
#include "log/log_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#include "base/util.h"

#define PID_BLOCK 1000

void br_log_opts_default(br_log_opts *o)
{
	memset(o, 0, sizeof *o);
	o->dir = "braid-data/log";
	o->default_partitions = 1;
	o->segment_bytes = 1 << 30;
	o->segment_ms = 7LL * 24 * 3600 * 1000;
	o->retention_ms = 7LL * 24 * 3600 * 1000;
	o->retention_bytes = -1;
	o->max_message_bytes = 1048588; /* Kafka's default */
}

/* ---- names and configs ---- */

int br_topic_name_check(const char *name, size_t len, br_err *err)
{
	if (len == 0)
		return br_errf(err, BR_EINVAL, "topic name is empty");
	if (len > 249)
		return br_errf(err, BR_EINVAL, "topic name is %zu characters long; at most 249 are allowed", len);
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return br_errf(err, BR_EINVAL, "topic name cannot be \".\" or \"..\"");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return br_errf(err, BR_EINVAL, "topic name \"%.*s\" has an illegal character at %zu (allowed: ASCII letters, digits, '.', '_', '-')",
			               (int)(len > 64 ? 64 : len), name, i);
	}
	return 0;
}

enum cfg_kind { CFG_LONG, CFG_ENUM };
typedef struct cfg_def {
	const char *key;
	enum cfg_kind kind;
	int64_t min;
	const char *choices; /* '|'-separated for CFG_ENUM */
	const char *doc;
} cfg_def;

static const cfg_def cfg_defs[] = {
	{ "cleanup.policy", CFG_ENUM, 0, "delete", "Only 'delete' (retention by time and size); compaction is not supported." },
	{ "compression.type", CFG_ENUM, 0, "producer", "Batches are stored as the producer compressed them." },
	{ "max.message.bytes", CFG_LONG, 0, NULL, "Largest record batch accepted, in bytes." },
	{ "message.timestamp.type", CFG_ENUM, 0, "CreateTime|LogAppendTime", "Whether record timestamps are the producer's or the broker's append time." },
	{ "min.insync.replicas", CFG_LONG, 1, NULL, "Always 1: braid is a single-replica log made durable by fsync." },
	{ "retention.bytes", CFG_LONG, -1, NULL, "Per partition: oldest segments are deleted beyond this size (-1 = no limit)." },
	{ "retention.ms", CFG_LONG, -1, NULL, "Segments whose newest broker append time is older are deleted (-1 = forever)." },
	{ "segment.bytes", CFG_LONG, 1024, NULL, "A segment is rolled past this size." },
	{ "segment.ms", CFG_LONG, 1, NULL, "A segment older than this (since its first append) is rolled." },
};

const char *const *br_topic_config_keys(void)
{
	static const char *keys[BR_ARRAY_LEN(cfg_defs) + 1];
	for (size_t i = 0; i < BR_ARRAY_LEN(cfg_defs); i++)
		keys[i] = cfg_defs[i].key;
	return keys;
}

static const cfg_def *cfg_find(const char *key)
{
	for (size_t i = 0; i < BR_ARRAY_LEN(cfg_defs); i++)
		if (!strcmp(cfg_defs[i].key, key))
			return &cfg_defs[i];
	return NULL;
}

const char *br_topic_config_doc(const char *key)
{
	const cfg_def *d = cfg_find(key);
	return d ? d->doc : NULL;
}

static bool parse_long(const char *s, int64_t *v)
{
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return false;
	*v = x;
	return true;
}

int br_topic_config_check(const char *key, const char *value, br_err *err)
{
	if (!strncmp(key, "braid.", 6))
		return 0; /* braid's own keys are checked by the modules that use them */
	const cfg_def *d = cfg_find(key);
	if (!d)
		return br_errf(err, BR_EINVAL, "unknown topic config \"%.100s\"", key);
	if (!value)
		return br_errf(err, BR_EINVAL, "config %s needs a value", key);
	if (d->kind == CFG_LONG) {
		int64_t v;
		if (!parse_long(value, &v) || v < d->min)
			return br_errf(err, BR_EINVAL, "config %s must be an integer >= %" PRId64 ", got \"%.100s\"", key, d->min, value);
		if (!strcmp(key, "min.insync.replicas") && v != 1)
			return br_errf(err, BR_EINVAL, "min.insync.replicas must be 1 on a single-replica broker");
		if (!strcmp(key, "segment.bytes") && v > (1LL << 31))
			return br_errf(err, BR_EINVAL, "segment.bytes must be at most 2147483648");
		return 0;
	}
	const char *c = d->choices;
	size_t n = strlen(value);
	while (c) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);
		if (len == n && !strncmp(c, value, n))
			return 0;
		c = bar ? bar + 1 : NULL;
	}
	return br_errf(err, BR_EINVAL, "config %s must be one of %s, got \"%.100s\"", key, d->choices, value);
}

static const char *cfg_default(const br_log *log, const char *key, char *tmp, size_t tsz)
{
	const br_log_opts *o = &log->o;
	if (!strcmp(key, "cleanup.policy")) return "delete";
	if (!strcmp(key, "compression.type")) return "producer";
	if (!strcmp(key, "message.timestamp.type")) return "CreateTime";
	if (!strcmp(key, "min.insync.replicas")) return "1";
	int64_t v = !strcmp(key, "max.message.bytes") ? o->max_message_bytes
	          : !strcmp(key, "retention.bytes") ? o->retention_bytes
	          : !strcmp(key, "retention.ms") ? o->retention_ms
	          : !strcmp(key, "segment.bytes") ? o->segment_bytes
	          : !strcmp(key, "segment.ms") ? o->segment_ms : 0;
	snprintf(tmp, tsz, "%" PRId64, v);
	return tmp;
}

const char *br_topic_config(const br_topic *t, const char *key, bool *is_override)
{
	const char *v = br_map_gets(&t->configs, key);
	if (is_override)
		*is_override = v != NULL;
	if (v)
		return v;
	static char tmp[32]; /* loop thread only, as the whole log */
	return cfg_find(key) ? cfg_default(t->log, key, tmp, sizeof tmp) : NULL;
}

bool br_topic_config_next(const br_topic *t, size_t *i, const char **key, const char **value)
{
	br_map_slot *s;
	if (!br_map_next(&t->configs, i, &s))
		return false;
	*key = s->key;
	*value = s->val;
	return true;
}

static int64_t cfg_long(const br_topic *t, const char *key)
{
	int64_t v = 0;
	parse_long(br_topic_config(t, key, NULL), &v);
	return v;
}

static void topic_apply_configs(br_topic *t)
{
	t->segment_bytes = cfg_long(t, "segment.bytes");
	t->segment_ms = cfg_long(t, "segment.ms");
	t->retention_ms = cfg_long(t, "retention.ms");
	t->retention_bytes = cfg_long(t, "retention.bytes");
	t->max_message_bytes = cfg_long(t, "max.message.bytes");
	t->log_append_time = !strcmp(br_topic_config(t, "message.timestamp.type", NULL), "LogAppendTime");
}

/* ---- topic.json ---- */

static void uuid_hex(const uint8_t id[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int k = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[id[i] >> 4];
		out[k++] = hex[id[i] & 15];
	}
	out[k] = 0;
}

static bool uuid_parse(const char *s, uint8_t id[16])
{
	int k = 0;
	for (const char *c = s; *c && k < 32; c++) {
		if (*c == '-')
			continue;
		int v = (*c >= '0' && *c <= '9') ? *c - '0' : (*c >= 'a' && *c <= 'f') ? *c - 'a' + 10 : -1;
		if (v < 0)
			return false;
		if (k % 2 == 0)
			id[k / 2] = (uint8_t)(v << 4);
		else
			id[k / 2] |= (uint8_t)v;
		k++;
	}
	return k == 32;
}

static int topic_save(br_topic *t, br_err *err)
{
	json_t *cfg = json_object();
	size_t it = 0;
	br_map_slot *s;
	while (br_map_next(&t->configs, &it, &s))
		json_object_set_new(cfg, s->key, json_string(s->val));
	char id[37];
	uuid_hex(t->id, id);
	json_t *root = json_pack("{s:s, s:s, s:i, s:o}", "name", t->name, "id", id, "partitions", (json_int_t)t->nparts, "configs", cfg);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	char *path = br_xasprintf("%s/topic.json", t->dir);
	int rc = br_write_file_atomic(path, text, strlen(text), err);
	free(path);
	free(text);
	return rc;
}

static void topic_free(br_topic *t, bool sync)
{
	for (int32_t i = 0; i < t->nparts; i++)
		if (t->parts[i])
			br_partition_free(t->parts[i], sync);
	free(t->parts);
	size_t it = 0;
	br_map_slot *s;
	while (br_map_next(&t->configs, &it, &s))
		free(s->val);
	br_map_free(&t->configs);
	free(t->name);
	free(t->dir);
	free(t);
}

static int topic_open_parts(br_topic *t, int32_t from, br_err *err)
{
	t->parts = br_xrealloc(t->parts, (size_t)t->nparts * sizeof *t->parts);
	for (int32_t i = from; i < t->nparts; i++)
		t->parts[i] = NULL;
	for (int32_t i = from; i < t->nparts; i++) {
		int rc = br_partition_open(&t->parts[i], t, i, err);
		if (rc)
			return br_errctx(err, "topic %s partition %d", t->name, i);
	}
	return 0;
}

static br_topic *topic_new(br_log *log, const char *name)
{
	br_topic *t = br_xcalloc(1, sizeof *t);
	t->log = log;
	t->name = br_xstrdup(name);
	t->dir = br_xasprintf("%s/%s", log->dir, name);
	return t;
}

static int topic_load(br_log *log, const char *name, br_err *err)
{
	char *path = br_xasprintf("%s/%s/topic.json", log->dir, name);
	char *text = NULL;
	int rc = br_read_file(path, &text, NULL, err);
	if (rc == BR_ENOTFOUND) {
		/* a create that crashed before its commit point */
		char *dir = br_xasprintf("%s/%s", log->dir, name);
		br_warn("recovery: removing incomplete topic directory %s", dir);
		rc = br_remove_tree(dir, err);
		free(dir);
		free(path);
		return rc;
	}
	if (rc) {
		free(path);
		return rc;
	}
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	free(text);
	json_t *jparts = json_object_get(root, "partitions"), *jid = json_object_get(root, "id"), *jcfg = json_object_get(root, "configs");
	br_topic *t = topic_new(log, name);
	if (!root || !json_is_integer(jparts) || json_integer_value(jparts) < 1 || json_integer_value(jparts) > 100000 ||
	    !json_is_string(jid) || !uuid_parse(json_string_value(jid), t->id) || (jcfg && !json_is_object(jcfg))) {
		rc = br_errf(err, BR_ECORRUPT, "%s: not a valid topic file (%s)", path, root ? "missing or bad fields" : jerr.text);
		json_decref(root);
		topic_free(t, false);
		free(path);
		return rc;
	}
	free(path);
	const char *k;
	json_t *v;
	json_object_foreach(jcfg, k, v)
		if (json_is_string(v))
			br_map_put(&t->configs, k, strlen(k), br_xstrdup(json_string_value(v)));
	topic_apply_configs(t);
	t->nparts = (int32_t)json_integer_value(jparts);
	json_decref(root);
	rc = topic_open_parts(t, 0, err);
	if (rc) {
		topic_free(t, false);
		return rc;
	}
	br_map_put(&log->topics, t->name, strlen(t->name), t);
	return 0;
}

/* ---- producer ids ---- */

static int pid_reserve(br_log *log, br_err *err)
{
	char *path = br_xasprintf("%s/producer_ids", log->dir);
	char text[64];
	int64_t limit = log->next_pid + PID_BLOCK;
	int n = snprintf(text, sizeof text, "next=%" PRId64 "\n", limit);
	int rc = br_write_file_atomic(path, text, (size_t)n, err);
	free(path);
	if (!rc)
		log->pid_limit = limit;
	return rc;
}

int br_log_new_producer_id(br_log *log, int64_t *id, br_err *err)
{
	if (log->next_pid >= log->pid_limit) {
		int rc = pid_reserve(log, err);
		if (rc)
			return rc;
	}
	*id = log->next_pid++;
	return 0;
}

/* ---- open / close ---- */

int br_log_open(br_log **out, const br_log_opts *o, br_err *err)
{
	br_log *log = br_xcalloc(1, sizeof *log);
	log->o = *o;
	log->dir = br_xstrdup(o->dir);
	log->o.dir = log->dir;
	int rc = br_mkdirs(log->dir, err);
	char *trash = br_xasprintf("%s/.trash", log->dir);
	if (!rc)
		rc = br_remove_tree(trash, err); /* deletions that crashed half-way */
	free(trash);
	if (!rc) {
		char *path = br_xasprintf("%s/producer_ids", log->dir), *text = NULL;
		if (br_read_file(path, &text, NULL, NULL) == 0) {
			long long v = 0;
			if (sscanf(text, "next=%lld", &v) == 1 && v > 0)
				log->next_pid = log->pid_limit = v;
			free(text);
		}
		free(path);
	}
	DIR *d = rc ? NULL : opendir(log->dir);
	if (!rc && !d)
		rc = br_errno(err, BR_EIO, "open %s", log->dir);
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.' || !strcmp(e->d_name, ".trash")))
			continue;
		if (br_topic_name_check(e->d_name, strlen(e->d_name), NULL))
			continue;
		char *path = br_xasprintf("%s/%s", log->dir, e->d_name);
		struct stat st;
		bool dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
		free(path);
		if (dir)
			rc = topic_load(log, e->d_name, err);
	}
	if (d)
		closedir(d);
	if (rc) {
		br_log_close(log);
		return rc;
	}
	*out = log;
	return 0;
}

void br_log_close(br_log *log)
{
	if (!log)
		return;
	size_t it = 0;
	br_map_slot *s;
	while (br_map_next(&log->topics, &it, &s))
		topic_free(s->val, true);
	br_map_free(&log->topics);
	for (size_t i = 0; i < log->nsealed; i++) {
		if (log->sealed_fds[i] >= 0) {
			if (fdatasync(log->sealed_fds[i]))
				br_warn("close: fsync of a sealed segment failed: %s", strerror(errno));
			close(log->sealed_fds[i]);
		}
	}
	for (size_t i = 0; i < log->nisealed; i++) {
		if (fdatasync(log->sealed_ifds[i]))
			br_warn("close: fsync of a sealed index failed: %s", strerror(errno));
		close(log->sealed_ifds[i]);
	}
	for (size_t i = 0; i < log->ndirs; i++) {
		if (fsync(log->dir_fds[i]))
			br_warn("close: fsync of a partition directory failed: %s", strerror(errno));
		close(log->dir_fds[i]);
	}
	free(log->dir_fds);
	for (size_t i = 0; i < log->ntrim; i++)
		close(log->trim_fds[i]);
	free(log->sealed_fds);
	free(log->sealed_ifds);
	free(log->trim_fds);
	free(log->dir);
	free(log);
}

/* ---- topic admin ---- */

br_topic *br_log_topic(br_log *log, const char *name, size_t len) { return br_map_get(&log->topics, name, len); }

static int cmp_topic(const void *a, const void *b)
{
	return strcmp((*(br_topic *const *)a)->name, (*(br_topic *const *)b)->name);
}

size_t br_log_topics(br_log *log, br_topic ***out)
{
	br_topic **list = br_xmalloc((log->topics.count + 1) * sizeof *list);
	size_t n = 0, it = 0;
	br_map_slot *s;
	while (br_map_next(&log->topics, &it, &s))
		list[n++] = s->val;
	qsort(list, n, sizeof *list, cmp_topic);
	*out = list;
	return n;
}

const char *br_topic_name(const br_topic *t) { return t->name; }
const uint8_t *br_topic_id(const br_topic *t) { return t->id; }
int32_t br_topic_partition_count(const br_topic *t) { return t->nparts; }
br_partition *br_topic_partition(br_topic *t, int32_t p) { return p >= 0 && p < t->nparts ? t->parts[p] : NULL; }

int br_log_create_topic(br_log *log, const char *name, int32_t partitions, const char *const *kv, size_t n, br_err *err)
{
	int rc = br_topic_name_check(name, strlen(name), err);
	if (rc)
		return rc;
	if (br_log_topic(log, name, strlen(name)))
		return br_errf(err, BR_EEXIST, "topic \"%s\" already exists", name);
	if (partitions < 1 || partitions > 100000)
		return br_errf(err, BR_EINVAL, "number of partitions must be between 1 and 100000, got %d", partitions);
	for (size_t i = 0; i < n; i++)
		if ((rc = br_topic_config_check(kv[2 * i], kv[2 * i + 1], err)))
			return rc;
	br_topic *t = topic_new(log, name);
	if (RAND_bytes(t->id, 16) != 1) {
		topic_free(t, false);
		return br_errf(err, BR_EIO, "no randomness for a topic id");
	}
	t->id[6] = (t->id[6] & 0x0f) | 0x40; /* a version-4 UUID */
	t->id[8] = (t->id[8] & 0x3f) | 0x80;
	for (size_t i = 0; i < n; i++)
		free(br_map_put(&t->configs, kv[2 * i], strlen(kv[2 * i]), br_xstrdup(kv[2 * i + 1])));
	topic_apply_configs(t);
	t->nparts = partitions;
	rc = br_mkdirs(t->dir, err);
	if (!rc)
		rc = topic_open_parts(t, 0, err);
	if (!rc)
		rc = topic_save(t, err); /* the commit point */
	if (!rc)
		rc = br_fsync_dir(log->dir, err);
	if (rc) {
		char *dir = br_xstrdup(t->dir);
		topic_free(t, false);
		br_remove_tree(dir, NULL);
		free(dir);
		return rc;
	}
	br_map_put(&log->topics, t->name, strlen(t->name), t);
	return 0;
}

int br_log_delete_topic(br_log *log, const char *name, br_err *err)
{
	br_topic *t = br_log_topic(log, name, strlen(name));
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "topic \"%.249s\" does not exist", name);
	char *trash = br_xasprintf("%s/.trash", log->dir);
	char id[37];
	uuid_hex(t->id, id);
	char *dest = br_xasprintf("%s/%s-%s", trash, name, id);
	int rc = br_mkdirs(trash, err);
	if (!rc && rename(t->dir, dest))
		rc = br_errno(err, BR_EIO, "move %s to %s", t->dir, dest);
	if (!rc)
		rc = br_fsync_dir(log->dir, err); /* the commit point of a delete */
	if (!rc) {
		br_map_del(&log->topics, name, strlen(name));
		for (int32_t i = 0; i < t->nparts; i++) /* their blocks go gradually (gentle deletion) */
			br_partition_trim_all(t->parts[i]);
		topic_free(t, false);
		if (br_remove_tree(dest, err))
			br_warn("delete topic: %s (left in %s, removed at next start)", err ? err->msg : "", dest);
	}
	free(dest);
	free(trash);
	return rc;
}

int br_log_set_partitions(br_log *log, const char *name, int32_t total, br_err *err)
{
	br_topic *t = br_log_topic(log, name, strlen(name));
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "topic \"%.249s\" does not exist", name);
	if (total <= t->nparts)
		return br_errf(err, BR_EINVAL, "topic %s has %d partitions; the new count %d must be larger", name, t->nparts, total);
	if (total > 100000)
		return br_errf(err, BR_EINVAL, "at most 100000 partitions");
	int32_t old = t->nparts;
	t->nparts = total;
	int rc = topic_open_parts(t, old, err);
	if (!rc)
		rc = topic_save(t, err);
	if (rc) {
		for (int32_t i = old; i < total; i++)
			if (t->parts[i])
				br_partition_free(t->parts[i], false);
		t->nparts = old;
	}
	return rc;
}

void br_log_set_config_guard(br_log *log, br_config_guard_fn fn, void *arg)
{
	log->cfg_guard = fn;
	log->cfg_guard_arg = arg;
}

/* Asks the guard about each braid.* override that changes between old and the
 * topic's new configs. O(overrides). */
static int config_guard(br_log *log, br_topic *t, br_map *old, br_err *err)
{
	if (!log->cfg_guard)
		return 0;
	size_t it = 0;
	br_map_slot *s;
	while (br_map_next(&t->configs, &it, &s)) {
		if (s->klen < 6 || memcmp(s->key, "braid.", 6))
			continue;
		const char *was = br_map_get(old, s->key, s->klen);
		if (was && !strcmp(was, s->val))
			continue;
		int rc = log->cfg_guard(log->cfg_guard_arg, t, s->key, was, s->val, err);
		if (rc)
			return rc;
	}
	it = 0;
	while (br_map_next(old, &it, &s)) {
		if (s->klen < 6 || memcmp(s->key, "braid.", 6) || br_map_get(&t->configs, s->key, s->klen))
			continue;
		int rc = log->cfg_guard(log->cfg_guard_arg, t, s->key, s->val, NULL, err);
		if (rc)
			return rc;
	}
	return 0;
}

int br_log_set_configs(br_log *log, const char *name, const char *const *kv, size_t n, bool incremental, br_err *err)
{
	br_topic *t = br_log_topic(log, name, strlen(name));
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "topic \"%.249s\" does not exist", name);
	for (size_t i = 0; i < n; i++) {
		if (incremental && !kv[2 * i + 1]) {
			if (!cfg_find(kv[2 * i]) && strncmp(kv[2 * i], "braid.", 6))
				return br_errf(err, BR_EINVAL, "unknown topic config \"%.100s\"", kv[2 * i]);
			continue;
		}
		int rc = br_topic_config_check(kv[2 * i], kv[2 * i + 1], err);
		if (rc)
			return rc;
	}
	br_map old = t->configs;
	memset(&t->configs, 0, sizeof t->configs);
	size_t it = 0;
	br_map_slot *s;
	if (incremental)
		while (br_map_next(&old, &it, &s))
			br_map_put(&t->configs, s->key, s->klen, br_xstrdup(s->val));
	for (size_t i = 0; i < n; i++) {
		const char *k = kv[2 * i], *v = kv[2 * i + 1];
		free(v ? br_map_put(&t->configs, k, strlen(k), br_xstrdup(v)) : br_map_del(&t->configs, k, strlen(k)));
	}
	int rc = config_guard(log, t, &old, err);
	if (!rc)
		rc = topic_save(t, err);
	br_map *drop = rc ? &t->configs : &old;
	it = 0;
	while (br_map_next(drop, &it, &s))
		free(s->val);
	br_map_free(drop);
	if (rc)
		t->configs = old;
	topic_apply_configs(t);
	return rc;
}

/* ---- group commit ----
 * Two kinds of sync, each at most one at a time and independent of the other:
 *   data  (BR_FLUSH_DATA):  the .log files of dirty partitions and of rolled
 *                           segments; its end moves the high watermarks and lets
 *                           produces be answered. This is the ack path.
 *   index (BR_FLUSH_INDEX): the .index files (which alone hold the broker append
 *                           time of CreateTime batches); its end moves each
 *                           partition's ihw, the limit of br_partition_plan_read.
 * Keeping the index out of the ack path halves the fsyncs a produce waits for
 * (two files synced in parallel cost about 1.3x one at the median and 2-4x at
 * p99 on this disk: the slower of two fsyncs plus a second journal commit). The
 * broker syncs indexes about every 100 ms, alongside a data flush (server.c); a
 * crash loses at most the append times of that window, which no reader saw (see
 * partition.c: crash story). */

static void fd_list_add(int **list, size_t *n, size_t *cap, int fd)
{
	if (fd < 0)
		return;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*list = br_xrealloc(*list, *cap * sizeof **list);
	}
	(*list)[(*n)++] = fd;
}

struct br_flush {
	int what;      /* BR_FLUSH_DATA and/or BR_FLUSH_INDEX */
	uint64_t seq;
	int *fds;      /* the first ndirs are directories (fsync), the rest files (fdatasync) */
	size_t nfds, ndirs;
	struct mark { uint8_t topic_id[16]; char *topic; int32_t part; int64_t leo; bool data, index; } *marks;
	size_t nmarks;
	int *errnos; /* per fd, so parallel parts never share a word */
	char **labels; /* per fd, what it is: only while tracing (BRAID_TRACE_SLOW) */
};

/* Adds fd to the flush; with tracing on, also a label naming it. */
static void flush_add(br_flush *f, size_t *cap, int fd, const char *what, const char *topic, int32_t part)
{
	if (fd < 0)
		return;
	size_t n = f->nfds, lcap = *cap;
	fd_list_add(&f->fds, &f->nfds, cap, fd);
	if (!br_trace_slow_ns)
		return;
	if (*cap != lcap || !f->labels)
		f->labels = br_xrealloc(f->labels, *cap * sizeof *f->labels);
	f->labels[n] = topic ? br_xasprintf("%s of %s/%d", what, topic, part) : br_xstrdup(what);
}


void br_log_add_sealed_fd(br_log *log, int fd) { fd_list_add(&log->sealed_fds, &log->nsealed, &log->sealed_cap, fd); }
void br_log_add_sealed_ifd(br_log *log, int fd) { fd_list_add(&log->sealed_ifds, &log->nisealed, &log->isealed_cap, fd); }
void br_log_add_dir_fd(br_log *log, int fd) { fd_list_add(&log->dir_fds, &log->ndirs, &log->dirs_cap, fd); }

uint64_t br_log_write_seq(const br_log *log) { return log->write_seq; }
uint64_t br_log_durable_seq(const br_log *log) { return log->durable_seq; }

static bool index_pending(const br_log *log)
{
	if (log->nisealed)
		return true;
	size_t it = 0;
	br_map_slot *s;
	while (br_map_next((br_map *)&log->topics, &it, &s)) {
		br_topic *t = s->val;
		for (int32_t i = 0; i < t->nparts; i++)
			if (t->parts[i]->idx_dirty)
				return true;
	}
	return false;
}

bool br_log_index_sync_wanted(const br_log *log) { return !log->isyncing && index_pending(log); }

br_flush *br_log_flush_begin_what(br_log *log, int what)
{
	if (log->flushing || (log->write_seq == log->durable_seq && !log->nsealed && !log->ndirs))
		what &= ~BR_FLUSH_DATA;
	if ((what & BR_FLUSH_INDEX) && (log->isyncing || !index_pending(log))) /* O(partitions), as below */
		what &= ~BR_FLUSH_INDEX;
	if (!what)
		return NULL;
	br_flush *f = br_xcalloc(1, sizeof *f);
	f->what = what;
	f->seq = log->write_seq;
	size_t cap = 0, mcap = 0;
	if (what & BR_FLUSH_DATA) {
		for (size_t i = 0; i < log->ndirs; i++) /* first: fds[0..ndirs) get fsync */
			flush_add(f, &cap, log->dir_fds[i], "partition directory", NULL, 0);
		f->ndirs = f->nfds;
		log->ndirs = 0;
		for (size_t i = 0; i < log->nsealed; i++)
			flush_add(f, &cap, log->sealed_fds[i], "rolled segment", NULL, 0);
		log->nsealed = 0;
		log->flushing = true;
	}
	if (what & BR_FLUSH_INDEX) {
		for (size_t i = 0; i < log->nisealed; i++)
			flush_add(f, &cap, log->sealed_ifds[i], "rolled index", NULL, 0);
		log->nisealed = 0;
		log->isyncing = true;
	}
	size_t it = 0;
	br_map_slot *s;
	while (br_map_next(&log->topics, &it, &s)) {
		br_topic *t = s->val;
		for (int32_t i = 0; i < t->nparts; i++) {
			br_partition *p = t->parts[i];
			bool data = (what & BR_FLUSH_DATA) && p->dirty, index = (what & BR_FLUSH_INDEX) && p->idx_dirty;
			if (!data && !index)
				continue;
			br_segment *a = p->segs[p->nsegs - 1];
			if (data) {
				p->dirty = false;
				flush_add(f, &cap, dup(a->fd), "data", t->name, i);
			}
			if (index) {
				p->idx_dirty = false;
				flush_add(f, &cap, dup(a->ifd), "index", t->name, i);
			}
			if (f->nmarks == mcap) {
				mcap = mcap ? mcap * 2 : 16;
				f->marks = br_xrealloc(f->marks, mcap * sizeof *f->marks);
			}
			struct mark *m = &f->marks[f->nmarks++];
			memcpy(m->topic_id, t->id, 16);
			m->topic = br_xstrdup(t->name);
			m->part = i;
			m->leo = p->leo;
			m->data = data;
			m->index = index;
		}
	}
	f->errnos = br_xcalloc(f->nfds ? f->nfds : 1, sizeof *f->errnos);
	return f;
}

br_flush *br_log_flush_begin(br_log *log) { return br_log_flush_begin_what(log, BR_FLUSH_ALL); }

size_t br_log_flush_files(const br_flush *f) { return f->nfds; }
int br_log_flush_kind(const br_flush *f) { return f->what; }

void br_log_flush_run_part(br_flush *f, size_t i, size_t n)
{
	for (size_t k = i; k < f->nfds; k += n) {
		int64_t t0 = BR_TRACE_T0();
		if (k < f->ndirs ? fsync(f->fds[k]) : fdatasync(f->fds[k]))
			f->errnos[k] = errno;
		br_trace_slow(t0, "fdatasync of %s", f->labels ? f->labels[k] : "?");
	}
}

void br_log_flush_run(br_flush *f) { br_log_flush_run_part(f, 0, 1); }

int br_log_flush_end(br_log *log, br_flush *f, br_err *err)
{
	int rc = 0, failed = 0;
	for (size_t i = 0; i < f->nfds; i++) {
		close(f->fds[i]);
		if (f->labels)
			free(f->labels[i]);
		if (f->errnos[i] && !failed)
			failed = f->errnos[i];
	}
	if (failed) {
		errno = failed;
		rc = br_errno(err, BR_EIO, "fsync of the log failed");
	} else {
		for (size_t i = 0; i < f->nmarks; i++) {
			struct mark *m = &f->marks[i];
			br_topic *t = br_log_topic(log, m->topic, strlen(m->topic));
			if (!t || memcmp(t->id, m->topic_id, 16) || m->part >= t->nparts)
				continue; /* deleted (or re-created) while flushing */
			br_partition *p = t->parts[m->part];
			if (m->data && m->leo > p->hw)
				p->hw = m->leo;
			if (m->index && m->leo > p->ihw)
				p->ihw = m->leo;
		}
		if (f->what & BR_FLUSH_DATA)
			log->durable_seq = f->seq;
	}
	for (size_t i = 0; i < f->nmarks; i++)
		free(f->marks[i].topic);
	free(f->marks);
	free(f->fds);
	free(f->labels);
	free(f->errnos);
	if (f->what & BR_FLUSH_DATA)
		log->flushing = false;
	if (f->what & BR_FLUSH_INDEX)
		log->isyncing = false;
	free(f);
	return rc;
}

/* ---- gentle deletion ----
 * On ext4 mounted with `discard` (this machine's root file system), freeing a
 * file's blocks sends the disk a discard for them, and the virtual disk serves
 * nothing else meanwhile: an unlink of 512 MB cost 199 ms of discard time
 * (/proc/diskstats), and every fdatasync in that window waited for it (the
 * broker's BRAID_TRACE_SLOW trace: data flushes of 45-145 ms right after another
 * process's rm, against ~0.5 ms normally; the same with a preallocated file that
 * needs no journal commit, so it is the disk, not the journal). A 1 GiB segment
 * deleted at once would stall every produce for ~400 ms. So a deleted segment's
 * data file is unlinked (its name goes; nothing reads it any more) but kept open,
 * and trim rounds cut it down from the end TRIM_STEP at a time: ftruncate, then
 * fdatasync so the step's discard goes out with its own journal commit (about
 * 0.4 ms of disk time per MiB here, so ~2 ms per step) instead of piling up for
 * the next one. One round per broker tick (~100 ms) frees 40 MB/s; a longer
 * backlog takes more steps per round (one more per TRIM_CATCHUP pending), so
 * deletion keeps up with any ingest rate. The last close frees the rest. After a
 * crash, ext4's orphan recovery frees whatever an open unlinked file still held.
 * Index files are small and deleted at once. */
#define TRIM_STEP ((off_t)4 << 20)
#define TRIM_CATCHUP ((int64_t)256 << 20)

struct br_trim {
	int *fds;
	size_t nfds;
	int64_t steps; /* this round's budget of TRIM_STEPs */
	bool *done;    /* per fd: emptied (or failed: then closed, freeing the rest at once) */
};

void br_log_trim_add(br_log *log, int fd) { fd_list_add(&log->trim_fds, &log->ntrim, &log->trim_cap, fd); }

int64_t br_log_trim_pending(const br_log *log)
{
	int64_t total = 0;
	struct stat st;
	for (size_t i = 0; i < log->ntrim; i++)
		if (fstat(log->trim_fds[i], &st) == 0)
			total += st.st_size;
	return total;
}

br_trim *br_log_trim_begin(br_log *log)
{
	if (log->trimming || !log->ntrim)
		return NULL;
	br_trim *t = br_xcalloc(1, sizeof *t);
	t->steps = 1 + br_log_trim_pending(log) / TRIM_CATCHUP;
	t->fds = log->trim_fds;
	t->nfds = log->ntrim;
	t->done = br_xcalloc(t->nfds, sizeof *t->done);
	log->trim_fds = NULL;
	log->ntrim = log->trim_cap = 0;
	log->trimming = true;
	return t;
}

void br_log_trim_run(br_trim *t)
{
	for (size_t i = 0; i < t->nfds && t->steps > 0; i++) {
		struct stat st;
		while (!t->done[i] && t->steps > 0) {
			if (fstat(t->fds[i], &st)) {
				t->done[i] = true;
				break;
			}
			off_t to = st.st_size > TRIM_STEP ? st.st_size - TRIM_STEP : 0;
			int64_t t0 = BR_TRACE_T0();
			if (ftruncate(t->fds[i], to) || fdatasync(t->fds[i]))
				to = 0; /* cannot trim: the close frees it all at once */
			br_trace_slow(t0, "trim step of a deleted segment (%lld bytes left)", (long long)to);
			t->done[i] = to == 0;
			t->steps--;
		}
	}
}

void br_log_trim_end(br_log *log, br_trim *t)
{
	for (size_t i = 0; i < t->nfds; i++) {
		if (t->done[i])
			close(t->fds[i]);
		else
			br_log_trim_add(log, t->fds[i]);
	}
	free(t->fds);
	free(t->done);
	free(t);
	log->trimming = false;
}

int br_partition_sync(br_partition *p, br_err *err)
{
	br_log *log = p->log;
	for (size_t i = 0; i < log->ndirs; i++)
		if (fsync(log->dir_fds[i]))
			return br_errno(err, BR_EIO, "fsync of a partition directory failed");
	for (size_t i = 0; i < log->nsealed; i++)
		if (log->sealed_fds[i] >= 0 && fdatasync(log->sealed_fds[i]))
			return br_errno(err, BR_EIO, "fsync of a rolled segment failed");
	for (size_t i = 0; i < log->nisealed; i++)
		if (log->sealed_ifds[i] >= 0 && fdatasync(log->sealed_ifds[i]))
			return br_errno(err, BR_EIO, "fsync of a rolled segment's index failed");
	br_segment *a = p->segs[p->nsegs - 1];
	if ((a->fd >= 0 && fdatasync(a->fd)) || (a->ifd >= 0 && fdatasync(a->ifd)))
		return br_errno(err, BR_EIO, "fsync of %s/%d failed", p->topic->name, p->id);
	if (p->leo > p->hw)
		p->hw = p->leo;
	/* the indexes (append times) are durable too, unless an index sync in
	 * flight holds the index of a rolled segment of p not yet covered (its end
	 * moves ihw then): readers of append times (br_partition_plan_read) see
	 * the records at once */
	if ((!log->isyncing || p->ihw >= a->base) && p->leo > p->ihw)
		p->ihw = p->leo;
	return 0;
}

void br_log_set_retention_guard(br_log *log, br_retention_guard_fn fn, void *arg)
{
	log->guard = fn;
	log->guard_arg = arg;
}

int br_log_enforce_retention(br_log *log, int64_t now_ms)
{
	int n = 0;
	size_t it = 0;
	br_map_slot *s;
	while (br_map_next(&log->topics, &it, &s)) {
		br_topic *t = s->val;
		for (int32_t i = 0; i < t->nparts; i++)
			n += br_partition_retention(t->parts[i], now_ms);
	}
	return n;
}
