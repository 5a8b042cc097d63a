/* produce.c — Produce (v3-9): validates and appends record batches to the log and
 * answers once the appends are durable (acks=1 and acks=all are the same on a
 * single broker: durable means fsynced under the group-commit policy). */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "kafka/handlers.h"

static int16_t status_error(enum br_append_status st)
{
	switch (st) {
	case BR_APPEND_OK:
	case BR_APPEND_DUPLICATE: return BR_KE_NONE; /* a retry gets the first offset back */
	case BR_APPEND_CORRUPT: return BR_KE_CORRUPT_MESSAGE;
	case BR_APPEND_TOO_LARGE: return BR_KE_MESSAGE_TOO_LARGE;
	case BR_APPEND_OUT_OF_ORDER: return BR_KE_OUT_OF_ORDER_SEQUENCE_NUMBER;
	case BR_APPEND_FENCED_EPOCH: return BR_KE_INVALID_PRODUCER_EPOCH;
	case BR_APPEND_UNSUPPORTED: return BR_KE_UNSUPPORTED_FOR_MESSAGE_FORMAT;
	case BR_APPEND_IO: return BR_KE_KAFKA_STORAGE_ERROR;
	}
	return BR_KE_UNKNOWN_SERVER_ERROR;
}

static void write_partition(br_buf *out, br_kreq *r, int32_t idx, int16_t err, const br_append_result *res, const char *msg)
{
	bool f = r->flex;
	br_kw_i32(out, idx);
	br_kw_i16(out, err);
	br_kw_i64(out, res ? res->base_offset : -1);
	if (r->version >= 2)
		br_kw_i64(out, res ? res->log_append_time : -1);
	if (r->version >= 5)
		br_kw_i64(out, res ? res->log_start_offset : -1);
	if (r->version >= 8) {
		br_kw_arr(out, f, 0); /* record_errors */
		br_kw_str(out, f, err ? msg : NULL);
	}
	br_kw_tags(out, f);
}

int br_h_produce(br_broker *b, br_kreq *r, br_buf *out)
{
	br_cur *c = &r->body;
	bool f = r->flex;
	if (r->version >= 3)
		br_kr_str(c, f); /* transactional id: batches are checked per batch */
	int16_t acks = br_kr_i16(c);
	br_kr_i32(c); /* timeout: appends never wait on replicas */
	int32_t nt = br_kr_arr(c, f, 4);
	if (c->bad)
		return BR_KCLOSE;
	bool acks_ok = acks == 0 || acks == 1 || acks == -1;
	br_buf body = { 0 };
	br_kw_arr(&body, f, nt);
	bool appended = false;
	for (int32_t i = 0; i < nt && !c->bad; i++) {
		br_kstr name = br_kr_str(c, f);
		int32_t np = br_kr_arr(c, f, 8);
		br_kw_kstr(&body, f, name);
		br_kw_arr(&body, f, np);
		bool bad_name = name.len < 0 || br_topic_name_check(name.p, (size_t)name.len, NULL) != 0;
		br_topic *t = bad_name || !acks_ok ? NULL : br_broker_topic_auto(b, name, true);
		for (int32_t j = 0; j < np && !c->bad; j++) {
			int32_t idx = br_kr_i32(c);
			br_kstr recs = br_kr_bytes(c, f);
			br_kr_tags(c, f);
			if (c->bad)
				break;
			if (!acks_ok) {
				write_partition(&body, r, idx, BR_KE_INVALID_REQUIRED_ACKS, NULL, "acks must be -1, 0 or 1");
				continue;
			}
			if (bad_name) {
				write_partition(&body, r, idx, BR_KE_INVALID_TOPIC_EXCEPTION, NULL, "invalid topic name");
				continue;
			}
			br_partition *p = t ? br_topic_partition(t, idx) : NULL;
			if (!p) {
				write_partition(&body, r, idx, BR_KE_UNKNOWN_TOPIC_OR_PARTITION, NULL, "unknown topic or partition");
				continue;
			}
			if (recs.len <= 0) {
				write_partition(&body, r, idx, BR_KE_CORRUPT_MESSAGE, NULL, "no records");
				continue;
			}
			br_append_result res;
			br_err err = { 0 };
			/* the request buffer is ours: the log rewrites offsets in place */
			br_partition_append(p, (uint8_t *)recs.p, (size_t)recs.len, r->now_ms, &res, &err);
			if (res.status != BR_APPEND_OK && res.status != BR_APPEND_DUPLICATE)
				br_info("produce to %s/%d refused: %s", br_topic_name(t), idx, res.msg);
			else
				appended = true;
			write_partition(&body, r, idx, status_error(res.status), &res, res.msg);
		}
		br_kr_tags(c, f);
	}
	br_kr_tags(c, f);
	if (c->bad) {
		br_buf_free(&body);
		return BR_KCLOSE;
	}
	if (r->version >= 1)
		br_kw_i32(&body, 0); /* throttle */
	br_kw_tags(&body, f);
	int rc;
	if (acks == 0) {
		rc = BR_KNORESP;
	} else if (appended) {
		rc = br_broker_defer_until_durable(b, r, br_log_write_seq(br_broker_log(b)), &body);
	} else {
		br_buf_put(out, body.p, body.len);
		rc = 0;
	}
	br_buf_free(&body);
	return rc;
}
