/* meta.c — Metadata (v0-12) and InitProducerId (v0-4): what the cluster looks like
 * (one broker that leads every partition) and idempotent producer ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "kafka/handlers.h"

static void write_partitions(br_buf *out, br_kreq *r, br_topic *t, int32_t node)
{
	int v = r->version;
	bool f = r->flex;
	int32_t n = br_topic_partition_count(t);
	br_kw_arr(out, f, n);
	for (int32_t i = 0; i < n; i++) {
		br_kw_i16(out, BR_KE_NONE);
		br_kw_i32(out, i);
		br_kw_i32(out, node); /* leader */
		if (v >= 7)
			br_kw_i32(out, 0); /* leader epoch: one broker, never changes */
		br_kw_arr(out, f, 1); /* replicas */
		br_kw_i32(out, node);
		br_kw_arr(out, f, 1); /* isr */
		br_kw_i32(out, node);
		if (v >= 5)
			br_kw_arr(out, f, 0); /* offline replicas */
		br_kw_tags(out, f);
	}
}

static const uint8_t zero_uuid[16];

static void write_topic(br_buf *out, br_kreq *r, int16_t error, br_kstr name, br_topic *t, int32_t node)
{
	bool f = r->flex;
	br_kw_i16(out, error);
	if (t)
		br_kw_str(out, f, br_topic_name(t));
	else
		br_kw_kstr(out, f, name);
	if (r->version >= 10)
		br_kw_uuid(out, t ? br_topic_id(t) : zero_uuid);
	if (r->version >= 1)
		br_kw_bool(out, false); /* is_internal */
	if (t)
		write_partitions(out, r, t, node);
	else
		br_kw_arr(out, f, 0);
	if (r->version >= 8)
		br_kw_i32(out, INT32_MIN); /* topic authorized operations: not computed */
	br_kw_tags(out, f);
}

static const char *cluster_id(br_broker *b)
{
	static char id[64];
	if (id[0])
		return id;
	char *path = br_xasprintf("%s/cluster_id", br_broker_options(b)->data_dir), *text = NULL;
	if (br_read_file(path, &text, NULL, NULL) == 0 && strlen(text) > 0 && strlen(text) < sizeof id) {
		snprintf(id, sizeof id, "%s", text);
		id[strcspn(id, "\n")] = 0;
	} else {
		/* 22 characters like Kafka's base64 UUIDs; stable once written */
		static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		uint64_t x = (uint64_t)br_now_ms() * 6364136223846793005ULL ^ (uint64_t)br_mono_ns();
		for (int i = 0; i < 22; i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			id[i] = al[(x >> 58) & 63];
		}
		id[22] = 0;
		br_write_file_atomic(path, id, 22, NULL);
	}
	free(text);
	free(path);
	return id;
}

int br_h_metadata(br_broker *b, br_kreq *r, br_buf *out)
{
	int v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	const br_broker_opts *o = br_broker_options(b);
	/* request: topics (null = all from v1; empty = all in v0) */
	int32_t n = br_kr_arr(c, f, v >= 10 ? 17 : 2);
	size_t topics_pos = c->pos;
	for (int32_t i = 0; i < n && !c->bad; i++) {
		if (v >= 10) {
			uint8_t id[16];
			br_kr_uuid(c, id);
		}
		br_kr_str(c, f);
		br_kr_tags(c, f);
	}
	bool allow_auto = true;
	if (v >= 4)
		allow_auto = br_kr_bool(c);
	if (v >= 8 && v <= 10)
		br_kr_bool(c);
	if (v >= 8)
		br_kr_bool(c);
	br_kr_tags(c, f);
	if (c->bad)
		return BR_KCLOSE;
	bool all = n < 0 || (v == 0 && n == 0);

	if (v >= 3)
		br_kw_i32(out, 0); /* throttle */
	br_kw_arr(out, f, 1);  /* brokers */
	br_kw_i32(out, o->node_id);
	br_kw_str(out, f, br_broker_advertised_host(b));
	br_kw_i32(out, br_broker_port(b));
	if (v >= 1)
		br_kw_str(out, f, NULL); /* rack */
	br_kw_tags(out, f);
	if (v >= 2)
		br_kw_str(out, f, cluster_id(b));
	if (v >= 1)
		br_kw_i32(out, o->node_id); /* controller */
	br_log *log = br_broker_log(b);
	if (all) {
		br_topic **list;
		size_t nt = br_log_topics(log, &list);
		br_kw_arr(out, f, (int32_t)nt);
		for (size_t i = 0; i < nt; i++)
			write_topic(out, r, BR_KE_NONE, (br_kstr){ NULL, -1 }, list[i], o->node_id);
		free(list);
	} else {
		c->pos = topics_pos;
		br_kw_arr(out, f, n);
		for (int32_t i = 0; i < n; i++) {
			uint8_t id[16] = { 0 };
			if (v >= 10)
				br_kr_uuid(c, id);
			br_kstr name = br_kr_str(c, f);
			br_kr_tags(c, f);
			br_topic *t = NULL;
			int16_t err = BR_KE_NONE;
			if (name.len < 0) {
				/* lookup by id (v10+) */
				br_topic **list;
				size_t nt = br_log_topics(log, &list);
				for (size_t k = 0; k < nt && !t; k++)
					if (!memcmp(br_topic_id(list[k]), id, 16))
						t = list[k];
				free(list);
				err = t ? BR_KE_NONE : BR_KE_UNKNOWN_TOPIC_ID;
			} else if (br_topic_name_check(name.p, (size_t)name.len, NULL)) {
				err = BR_KE_INVALID_TOPIC_EXCEPTION;
			} else {
				t = br_broker_topic_auto(b, name, allow_auto);
				if (!t)
					err = BR_KE_UNKNOWN_TOPIC_OR_PARTITION;
			}
			write_topic(out, r, err, name, t, o->node_id);
		}
	}
	if (v >= 8 && v <= 10)
		br_kw_i32(out, INT32_MIN); /* cluster authorized operations */
	br_kw_tags(out, f);
	return 0;
}

/* InitProducerId: idempotent producers only. Transactional ids are refused with
 * a clear error until transactions exist. v3+ may ask to bump the epoch of a
 * known producer id (KIP-360), which keeps its sequence state valid. */
int br_h_init_producer_id(br_broker *b, br_kreq *r, br_buf *out)
{
	br_cur *c = &r->body;
	bool f = r->flex;
	br_kstr txn = br_kr_str(c, f);
	br_kr_i32(c); /* transaction timeout */
	int64_t pid = -1;
	int16_t epoch = -1;
	if (r->version >= 3) {
		pid = br_kr_i64(c);
		epoch = br_kr_i16(c);
	}
	br_kr_tags(c, f);
	if (c->bad)
		return BR_KCLOSE;
	int16_t err = BR_KE_NONE;
	if (txn.len >= 0) {
		err = BR_KE_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
		br_info("InitProducerId: transactional id \"%.*s\" refused: transactions are not supported", txn.len > 100 ? 100 : txn.len, txn.p);
		pid = -1;
		epoch = -1;
	} else if (pid >= 0 && epoch >= 0 && epoch < INT16_MAX) {
		epoch++;
	} else {
		br_err e = { 0 };
		if (br_log_new_producer_id(br_broker_log(b), &pid, &e)) {
			br_warn("InitProducerId: %s", e.msg);
			err = BR_KE_KAFKA_STORAGE_ERROR;
			pid = -1;
		}
		epoch = err ? -1 : 0;
	}
	br_kw_i32(out, 0); /* throttle */
	br_kw_i16(out, err);
	br_kw_i64(out, pid);
	br_kw_i16(out, epoch);
	br_kw_tags(out, f);
	return 0;
}
