/* fetch.c — Fetch (v4-12) with long polling, and ListOffsets (v0-7).
 * Consumers see only the durable prefix of a partition (up to its high
 * watermark), so nothing a consumer read can vanish in a crash. */
#include <string.h>

#include "base/util.h"
#include "kafka/handlers.h"

/* Runs a fetch over the request; writes the response to out. Returns BR_KDEFER
 * (out untouched) when fewer than min_bytes are available and it may wait. */
static int fetch_run(br_broker *b, br_kreq *r, br_buf *out, bool final)
{
	br_cur *c = &r->body;
	int v = r->version;
	bool f = r->flex;
	size_t out_start = out->len;
	br_kr_i32(c); /* replica id */
	int32_t max_wait = br_kr_i32(c);
	int32_t min_bytes = br_kr_i32(c);
	int32_t max_bytes = br_kr_i32(c);
	br_kr_i8(c); /* isolation level: no transactions, so committed = all durable */
	int32_t session_id = 0, session_epoch = -1;
	if (v >= 7) {
		session_id = br_kr_i32(c);
		session_epoch = br_kr_i32(c);
	}
	int32_t nt = br_kr_arr(c, f, 4);
	if (c->bad)
		return BR_KCLOSE;
	if (max_bytes <= 0)
		max_bytes = 1;
	/* Fetch sessions (KIP-227) are not kept: answering session id 0 tells the
	 * client to keep sending full requests. */
	int16_t top_err = session_id != 0 && session_epoch > 0 ? BR_KE_FETCH_SESSION_ID_NOT_FOUND : BR_KE_NONE;
	if (v >= 1)
		br_kw_i32(out, 0); /* throttle */
	if (v >= 7) {
		br_kw_i16(out, top_err);
		br_kw_i32(out, 0); /* session id */
	}
	br_kw_arr(out, f, top_err ? 0 : nt);
	int64_t total = 0;
	br_log *log = br_broker_log(b);
	for (int32_t i = 0; i < nt && !c->bad; i++) {
		br_kstr name = br_kr_str(c, f);
		int32_t np = br_kr_arr(c, f, 16);
		br_topic *t = name.len > 0 ? br_log_topic(log, name.p, (size_t)name.len) : NULL;
		if (!top_err) {
			br_kw_kstr(out, f, name);
			br_kw_arr(out, f, np);
		}
		for (int32_t j = 0; j < np && !c->bad; j++) {
			int32_t idx = br_kr_i32(c);
			if (v >= 9)
				br_kr_i32(c); /* current leader epoch */
			int64_t offset = br_kr_i64(c);
			if (v >= 12)
				br_kr_i32(c); /* last fetched epoch */
			if (v >= 5)
				br_kr_i64(c); /* log start offset (followers only) */
			int32_t part_max = br_kr_i32(c);
			br_kr_tags(c, f);
			if (c->bad || top_err)
				continue;
			br_partition *p = t ? br_topic_partition(t, idx) : NULL;
			int16_t err = BR_KE_NONE;
			int64_t hw = -1, start = -1;
			br_kw_i32(out, idx);
			size_t err_pos = out->len;
			br_kw_i16(out, 0);
			if (p) {
				hw = br_partition_high_watermark(p);
				start = br_partition_start_offset(p);
			} else {
				err = BR_KE_UNKNOWN_TOPIC_OR_PARTITION;
			}
			br_kw_i64(out, hw);
			br_kw_i64(out, hw); /* last stable offset */
			if (v >= 5)
				br_kw_i64(out, start);
			br_kw_arr(out, f, -1); /* aborted transactions: none */
			if (v >= 11)
				br_kw_i32(out, -1); /* preferred read replica */
			/* records: length prefix, then the stored batches as they are */
			size_t len_pos = out->len;
			if (f)
				br_buf_grow(out, 5); /* room for a uvarint length, fixed below */
			else
				br_kw_i32(out, 0);
			size_t data_pos = out->len;
			int64_t budget = max_bytes - total, limit = part_max < budget ? part_max : budget;
			if (p && limit > 0) {
				br_err e = { 0 };
				/* KIP-74: only the first non-empty partition may exceed the limits */
				int rc = br_partition_read(p, offset, limit, total == 0 ? BR_READ_AT_LEAST_ONE : 0, out, &e);
				if (rc == BR_ENOTFOUND)
					err = BR_KE_OFFSET_OUT_OF_RANGE;
				else if (rc) {
					br_warn("fetch: %s", e.msg);
					err = BR_KE_KAFKA_STORAGE_ERROR;
				}
			} else if (p && (offset < start || offset > br_partition_end_offset(p))) {
				err = BR_KE_OFFSET_OUT_OF_RANGE;
			}
			size_t n = out->len - data_pos;
			total += (int64_t)n;
			br_wr_be16(out->p + err_pos, (uint16_t)err);
			if (f) {
				/* compact bytes: uvarint(n+1), written in a fixed 5-byte form so the
				 * data need not move (a varint may carry redundant 0x80 groups) */
				uint64_t lv = (uint64_t)n + 1;
				for (int k = 0; k < 5; k++) {
					out->p[len_pos + k] = (uint8_t)((lv & 0x7f) | (k < 4 ? 0x80 : 0));
					lv >>= 7;
				}
			} else {
				br_wr_be32(out->p + len_pos, (uint32_t)n);
			}
			br_kw_tags(out, f);
		}
		br_kr_tags(c, f);
		if (!top_err)
			br_kw_tags(out, f);
	}
	if (v >= 7) { /* forgotten topics */
		int32_t nf = br_kr_arr(c, f, 4);
		for (int32_t i = 0; i < nf && !c->bad; i++) {
			br_kr_str(c, f);
			int32_t np = br_kr_arr(c, f, 4);
			for (int32_t j = 0; j < np && !c->bad; j++)
				br_kr_i32(c);
			br_kr_tags(c, f);
		}
	}
	if (v >= 11)
		br_kr_str(c, f); /* rack id */
	br_kr_tags(c, f);
	if (c->bad) {
		out->len = out_start;
		return BR_KCLOSE;
	}
	br_kw_tags(out, f);
	if (!final && !top_err && total < min_bytes && max_wait > 0) {
		out->len = out_start;
		return BR_KDEFER;
	}
	return 0;
}

static int fetch_retry(br_broker *b, br_kreq *r, br_buf *out, bool final) { return fetch_run(b, r, out, final); }

int br_h_fetch(br_broker *b, br_kreq *r, br_buf *out)
{
	int rc = fetch_run(b, r, out, false);
	if (rc != BR_KDEFER)
		return rc;
	br_cur peek = r->body;
	peek.pos = 4;
	int32_t max_wait = br_kr_i32(&peek);
	return br_broker_park(b, r, r->now_ms + max_wait, fetch_retry);
}

/* ListOffsets: -1 latest (high watermark), -2 earliest, -3 max timestamp (v7),
 * else the first offset with timestamp >= the given one. */
int br_h_list_offsets(br_broker *b, br_kreq *r, br_buf *out)
{
	br_cur *c = &r->body;
	int v = r->version;
	bool f = r->flex;
	br_kr_i32(c); /* replica id */
	if (v >= 2)
		br_kr_i8(c); /* isolation level */
	int32_t nt = br_kr_arr(c, f, 4);
	if (c->bad)
		return BR_KCLOSE;
	if (v >= 2)
		br_kw_i32(out, 0);
	br_kw_arr(out, f, nt);
	br_log *log = br_broker_log(b);
	for (int32_t i = 0; i < nt && !c->bad; i++) {
		br_kstr name = br_kr_str(c, f);
		int32_t np = br_kr_arr(c, f, 12);
		br_topic *t = name.len > 0 ? br_log_topic(log, name.p, (size_t)name.len) : NULL;
		br_kw_kstr(out, f, name);
		br_kw_arr(out, f, np);
		for (int32_t j = 0; j < np && !c->bad; j++) {
			int32_t idx = br_kr_i32(c);
			if (v >= 4)
				br_kr_i32(c); /* current leader epoch */
			int64_t ts = br_kr_i64(c);
			if (v == 0)
				br_kr_i32(c); /* max num offsets */
			br_kr_tags(c, f);
			if (c->bad)
				break;
			br_partition *p = t ? br_topic_partition(t, idx) : NULL;
			int16_t err = p ? BR_KE_NONE : BR_KE_UNKNOWN_TOPIC_OR_PARTITION;
			int64_t off = -1, found = -1;
			if (p && ts == -1)
				off = br_partition_high_watermark(p);
			else if (p && ts == -2)
				off = br_partition_start_offset(p);
			else if (p && ts == -3 && v >= 7) {
				br_err e = { 0 };
				if (br_partition_max_timestamp(p, &off, &found, &e)) {
					br_warn("list offsets: %s", e.msg);
					err = BR_KE_KAFKA_STORAGE_ERROR;
				}
			} else if (p && ts >= 0) {
				br_err e = { 0 };
				if (br_partition_offset_for_time(p, ts, &off, &found, &e)) {
					br_warn("list offsets: %s", e.msg);
					err = BR_KE_KAFKA_STORAGE_ERROR;
				}
			} else if (p) {
				err = BR_KE_INVALID_REQUEST;
			}
			br_kw_i32(out, idx);
			br_kw_i16(out, err);
			if (v == 0) {
				br_kw_arr(out, f, off >= 0 ? 1 : 0);
				if (off >= 0)
					br_kw_i64(out, off);
			} else {
				br_kw_i64(out, found);
				br_kw_i64(out, off);
				if (v >= 4)
					br_kw_i32(out, 0); /* leader epoch */
			}
			br_kw_tags(out, f);
		}
		br_kr_tags(c, f);
		br_kw_tags(out, f);
	}
	br_kr_tags(c, f);
	return c->bad ? BR_KCLOSE : 0;
}
