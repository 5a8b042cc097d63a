/* catalog_time.c — time dead letters of topic-backed SQL tables (catalog_time.h):
 * LATE (lateness = dead_letter) and QUARANTINED records go to <table>.dlq.
 *
 * A DEAD LETTER is the source record's timestamp, key, value and headers, plus
 *   braid.dlq.reason       the tracker's reason ("late: ...", "quarantined: ...")
 *   braid.time.table       the SQL table
 *   braid.time.topic       its topic, braid.time.topic_id the topic's id (hex)
 *   braid.time.partition   source partition, braid.time.offset source offset.
 * The header names differ from tiering's braid.source.* on purpose: tiering
 * (read_dlq_tail) and the seam (dead tombstones) count their own dead letters
 * in a DLQ topic that may be this same one (<topic>.dlq when the table owns
 * its topic), and must not count these.
 *
 * EXACTLY ONCE. A table is rebuilt from lake + log at every load, so its
 * tracker judges every record again, with the same verdicts (a pure function
 * of each partition's records and their durable append times). Before the
 * first poll the DLQ is read for this table's and topic id's dead letters, and
 * per partition the highest source offset found is `done`: verdicts at or
 * below it are not written again. Records are judged in offset order per
 * partition, so `done` only grows. Dead letters are appended and synced at
 * the end of the poll that judged them; a crash before the sync loses them
 * and the next load writes them again (they are not in the DLQ, so `done` is
 * below them). Retention of the DLQ topic deleting old dead letters would let
 * them be written again — only if the source records are still readable. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "sql/catalog_time.h"

static void hex16(const uint8_t id[16], char out[33])
{
	static const char *h = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = h[id[i] >> 4];
		out[2 * i + 1] = h[id[i] & 15];
	}
	out[32] = 0;
}

static bool hdr_is(const br_rec_header *h, const char *name)
{
	size_t n = strlen(name);
	return h->key_len == (int32_t)n && !memcmp(h->key, name, n);
}

static bool hdr_eq(const br_rec_header *h, const char *val)
{
	size_t n = strlen(val);
	return h->value && h->value_len == (int32_t)n && !memcmp(h->value, val, n);
}

static int64_t hdr_int(const br_rec_header *h)
{
	char v[32];
	if (!h->value || h->value_len <= 0 || h->value_len >= (int32_t)sizeof v)
		return -1;
	memcpy(v, h->value, (size_t)h->value_len);
	v[h->value_len] = 0;
	return strtoll(v, NULL, 10);
}

/* One pass over the DLQ topic: the highest source offset per partition among
 * this table's dead letters of this topic id. */
static void scan_done(br_tdlq *d, br_log *log)
{
	br_topic *dt = br_log_topic(log, d->name, strlen(d->name));
	br_partition *dp = dt && br_topic_partition_count(dt) > 0 ? br_topic_partition(dt, 0) : NULL;
	if (!dp)
		return;
	int64_t off = br_partition_start_offset(dp), seen = 0;
	br_buf buf = { 0 };
	br_err err = { 0 };
	while (off < br_partition_high_watermark(dp)) {
		br_buf_reset(&buf);
		if (br_partition_read(dp, off, 4 << 20, BR_READ_AT_LEAST_ONE, &buf, &err) || !buf.len)
			break;
		br_rb_iter it;
		br_rb_iter_init(&it, buf.p, buf.len, 64u << 20, BR_RB_SKIP_CRC);
		br_record r;
		int64_t next = off;
		while (br_rb_iter_next(&it, &r, &err) == 1) {
			next = r.offset + 1;
			size_t pos = 0;
			br_rec_header h;
			bool table = false, id = false;
			int64_t p = -1, o = -1;
			while (br_record_header_next(&r, &pos, &h)) {
				if (hdr_is(&h, "braid.time.table"))
					table = hdr_eq(&h, d->table);
				else if (hdr_is(&h, "braid.time.topic_id"))
					id = hdr_eq(&h, d->topic_id);
				else if (hdr_is(&h, "braid.time.partition"))
					p = hdr_int(&h);
				else if (hdr_is(&h, "braid.time.offset"))
					o = hdr_int(&h);
			}
			if (table && id && p >= 0 && p < d->nparts && o > d->done[p]) {
				d->done[p] = o;
				seen++;
			}
		}
		br_rb_iter_free(&it);
		if (next <= off)
			break;
		off = next;
	}
	br_buf_free(&buf);
	if (err.msg[0])
		br_warn("table %s: reading dead letters in %s: %s", d->table, d->name, err.msg);
	if (seen)
		br_debug("table %s: dead letters already in %s are not written again", d->table, d->name);
}

void br_tdlq_open(br_tdlq *d, br_log *log, const char *table, const char *topic, const uint8_t topic_id[16],
		  int32_t nparts)
{
	memset(d, 0, sizeof *d);
	d->name = br_xasprintf("%.240s.dlq", table);
	d->table = br_xstrdup(table);
	d->topic = br_xstrdup(topic);
	br_tdlq_reset(d, topic_id, nparts);
	scan_done(d, log);
}

void br_tdlq_reset(br_tdlq *d, const uint8_t topic_id[16], int32_t nparts)
{
	hex16(topic_id, d->topic_id);
	free(d->done);
	d->nparts = 0;
	d->done = NULL;
	br_tdlq_grow(d, nparts);
}

void br_tdlq_grow(br_tdlq *d, int32_t nparts)
{
	if (nparts <= d->nparts)
		return;
	d->done = br_xrealloc(d->done, sizeof *d->done * (size_t)nparts);
	for (int32_t p = d->nparts; p < nparts; p++)
		d->done[p] = -1;
	d->nparts = nparts;
}

void br_tdlq_free(br_tdlq *d)
{
	if (d->pending)
		br_rb_builder_free(&d->b);
	br_buf_free(&d->bytes);
	free(d->done);
	free(d->name);
	free(d->table);
	free(d->topic);
	memset(d, 0, sizeof *d);
}

bool br_tdlq_add(br_tdlq *d, int32_t part, int64_t offset, const br_record *r, const void *key, int32_t key_len,
		 const void *value, int32_t value_len, int64_t timestamp, const char *reason)
{
	if (part < 0)
		return false;
	br_tdlq_grow(d, part + 1);
	if (offset <= d->done[part])
		return false;
	d->done[part] = offset;
	if (!d->pending) {
		br_rb_opts o;
		br_rb_opts_default(&o);
		br_rb_builder_init(&d->b, &o);
	}
	br_rec_header hs[72];
	int32_t nh = 0;
	size_t pos = 0;
	br_rec_header h;
	while (r && nh < 64 && br_record_header_next(r, &pos, &h))
		hs[nh++] = h;
	if (r) {
		key = r->key;
		key_len = r->key ? r->key_len : -1;
		value = r->value;
		value_len = r->value ? r->value_len : -1;
		timestamp = r->timestamp;
	}
	char ps[16], os[24];
	snprintf(ps, sizeof ps, "%d", part);
	snprintf(os, sizeof os, "%" PRId64, offset);
	const char *extra[][2] = { { "braid.dlq.reason", reason ? reason : "late" }, { "braid.time.table", d->table },
				   { "braid.time.topic", d->topic }, { "braid.time.topic_id", d->topic_id },
				   { "braid.time.partition", ps }, { "braid.time.offset", os } };
	for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
		hs[nh++] = (br_rec_header){ (const uint8_t *)extra[i][0], (int32_t)strlen(extra[i][0]),
					    (const uint8_t *)extra[i][1], (int32_t)strlen(extra[i][1]) };
	br_rb_add(&d->b, timestamp, key, key ? key_len : -1, value, value ? value_len : -1, hs, nh);
	d->pending++;
	/* batches stay far below the broker's max.message.bytes (1 MiB default) */
	if (d->b.recs.len >= 256 * 1024) {
		br_rb_finish(&d->b, &d->bytes, NULL);
		br_rb_builder_free(&d->b);
		d->pending = 0;
	}
	return true;
}

int br_tdlq_flush(br_tdlq *d, br_log *log, br_err *err)
{
	int rc = 0;
	if (d->pending) {
		rc = br_rb_finish(&d->b, &d->bytes, err);
		br_rb_builder_free(&d->b);
		d->pending = 0;
	}
	if (rc || !d->bytes.len) {
		br_buf_reset(&d->bytes);
		return rc;
	}
	br_topic *dt = br_log_topic(log, d->name, strlen(d->name));
	if (!dt) {
		if ((rc = br_log_create_topic(log, d->name, 1, NULL, 0, err)))
			return br_errctx(err, "creating dead-letter topic %s", d->name);
		br_info("table %s: created dead-letter topic %s", d->table, d->name);
		dt = br_log_topic(log, d->name, strlen(d->name));
	}
	br_partition *dp = dt ? br_topic_partition(dt, 0) : NULL;
	br_append_result res = { 0 };
	if (!dp)
		rc = br_errf(err, BR_ENOTFOUND, "dead-letter topic %s has no partition", d->name);
	else if (!(rc = br_partition_append(dp, d->bytes.p, d->bytes.len, br_now_ms(), &res, err)) &&
		 res.status != BR_APPEND_OK)
		rc = br_errf(err, BR_EIO, "append refused: %s", res.msg);
	if (!rc)
		rc = br_partition_sync(dp, err);
	br_buf_reset(&d->bytes);
	if (rc)
		return br_errctx(err, "writing dead letters of table %s to %s", d->table, d->name);
	return 0;
}
