/* records.c — Kafka RecordBatch v2: header checks, CRC, decompression and record
 * decoding (an iterator over concatenated batches), and the batch encoder.
 * Every input here may be hostile (a producer's request, a damaged segment).
 *
 * Layout (Kafka protocol guide, "Record Batch"; all integers big-endian):
 *
 *   offset  size  field
 *        0     8  baseOffset            first record's offset (0 from producers)
 *        8     4  batchLength           bytes from partitionLeaderEpoch to the end
 *       12     4  partitionLeaderEpoch
 *       16     1  magic                 2 (0 and 1 are the old message sets, which
 *                                       keep magic at the same byte: rejected here)
 *       17     4  crc                   CRC-32C of bytes 21..end
 *       21     2  attributes            bits 0-2 codec (0 none, 1 gzip, 2 snappy,
 *                                       3 lz4, 4 zstd), 3 timestampType (1 =
 *                                       LogAppendTime), 4 transactional, 5 control,
 *                                       6 hasDeleteHorizonMs
 *       23     4  lastOffsetDelta
 *       27     8  baseTimestamp
 *       35     8  maxTimestamp
 *       43     8  producerId            -1 when not idempotent
 *       51     2  producerEpoch
 *       53     4  baseSequence
 *       57     4  recordCount
 *       61        records               recordCount records, compressed as a whole
 *                                       by the codec in attributes
 *
 *   record (varint = zig-zag varint as in protobuf):
 *     length varint (bytes after this field), attributes int8,
 *     timestampDelta varlong, offsetDelta varint,
 *     keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
 *     headerCount varint, then per header: keyLength varint (>= 0), key,
 *     valueLength varint (-1 = null), value.
 *
 * Invariants checked on decode (each failure names the batch's base offset and
 * byte position): magic 2; 49 <= batchLength and the batch fits the input; codec
 * known; CRC matches; the decompressed records fit the caller's bound; exactly
 * recordCount records, each consuming exactly its length, that fill the records
 * section exactly; offsetDelta strictly increasing within [0, lastOffsetDelta];
 * lengths >= -1 (>= 0 for header keys) and inside the record. Offsets never
 * overflow (baseOffset >= 0 and baseOffset + lastOffsetDelta checked). Every loop
 * consumes at least one byte per step, so a lying count ends at the input's end.
 *
 * Timestamps: a record's time is baseTimestamp + timestampDelta (CreateTime), or
 * maxTimestamp for every record when the batch says LogAppendTime (the broker
 * stamps it there without rewriting the records). */
#include "log/records.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/crc32c.h"

#define BATCH_ERR(err, code, h, pos, ...) batch_err(err, code, (h) ? (h)->base_offset : -1, pos, __VA_ARGS__)

static int batch_err(br_err *err, int code, int64_t base, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int batch_err(br_err *err, int code, int64_t base, size_t pos, const char *fmt, ...)
{
	if (!err)
		return code;
	char what[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return br_errf(err, code, "record batch at offset %" PRId64 " (byte %zu): %s", base, pos, what);
}

int br_rb_parse_header(const uint8_t *p, size_t len, size_t pos, br_rb_hdr *h, br_err *err)
{
	memset(h, 0, sizeof *h);
	if (len < 17)
		return batch_err(err, BR_ECORRUPT, len >= 8 ? (int64_t)br_rd_be64(p) : -1, pos,
		                 "truncated: %zu bytes, a batch header needs %d", len, BR_RB_HEADER_SIZE);
	h->base_offset = (int64_t)br_rd_be64(p);
	h->batch_length = (int32_t)br_rd_be32(p + 8);
	h->partition_leader_epoch = (int32_t)br_rd_be32(p + 12);
	h->magic = (int8_t)p[16];
	if (h->magic != 2)
		return BATCH_ERR(err, h->magic == 0 || h->magic == 1 ? BR_EUNSUPPORTED : BR_ECORRUPT, h, pos,
		                 "magic %d (only record batch v2, magic 2, is supported)", h->magic);
	if (h->batch_length < BR_RB_HEADER_SIZE - BR_RB_LOG_OVERHEAD)
		return BATCH_ERR(err, BR_ECORRUPT, h, pos, "batchLength %" PRId32 " is shorter than a batch header",
		                 h->batch_length);
	if ((size_t)h->batch_length > len - BR_RB_LOG_OVERHEAD)
		return BATCH_ERR(err, BR_ECORRUPT, h, pos, "batchLength %" PRId32 " but only %zu bytes remain",
		                 h->batch_length, len - BR_RB_LOG_OVERHEAD);
	h->crc = br_rd_be32(p + 17);
	h->attributes = (int16_t)br_rd_be16(p + 21);
	h->last_offset_delta = (int32_t)br_rd_be32(p + 23);
	h->base_timestamp = (int64_t)br_rd_be64(p + 27);
	h->max_timestamp = (int64_t)br_rd_be64(p + 35);
	h->producer_id = (int64_t)br_rd_be64(p + 43);
	h->producer_epoch = (int16_t)br_rd_be16(p + 51);
	h->base_sequence = (int32_t)br_rd_be32(p + 53);
	h->record_count = (int32_t)br_rd_be32(p + 57);
	if (br_rb_codec(h) > BR_CODEC_ZSTD)
		return BATCH_ERR(err, BR_EUNSUPPORTED, h, pos, "unknown compression codec %d", br_rb_codec(h));
	if (h->base_offset < 0)
		return BATCH_ERR(err, BR_ECORRUPT, h, pos, "negative baseOffset");
	if (h->last_offset_delta < 0 || h->base_offset > INT64_MAX - h->last_offset_delta)
		return BATCH_ERR(err, BR_ECORRUPT, h, pos, "lastOffsetDelta %" PRId32 " out of range",
		                 h->last_offset_delta);
	if (h->record_count < 0)
		return BATCH_ERR(err, BR_ECORRUPT, h, pos, "negative record count %" PRId32, h->record_count);
	if (h->record_count > 0 && h->record_count - 1 > h->last_offset_delta)
		return BATCH_ERR(err, BR_ECORRUPT, h, pos,
		                 "%" PRId32 " records cannot have distinct offset deltas up to lastOffsetDelta %" PRId32,
		                 h->record_count, h->last_offset_delta);
	return 0;
}

uint32_t br_rb_compute_crc(const uint8_t *p, size_t size)
{
	return br_crc32c(0, p + BR_RB_ATTR_OFFSET, size - BR_RB_ATTR_OFFSET);
}

int br_rb_check_crc(const uint8_t *p, const br_rb_hdr *h, size_t pos, br_err *err)
{
	uint32_t want = br_rb_compute_crc(p, br_rb_size(h));
	if (want != h->crc)
		return BATCH_ERR(err, BR_ECORRUPT, h, pos, "CRC 0x%08" PRIx32 " but the bytes give 0x%08" PRIx32,
		                 h->crc, want);
	return 0;
}

void br_rb_set_base_offset(uint8_t *p, int64_t base_offset) { br_wr_be64(p, (uint64_t)base_offset); }

void br_rb_set_log_append_time(uint8_t *p, size_t size, int64_t append_time_ms)
{
	uint16_t attr = br_rd_be16(p + BR_RB_ATTR_OFFSET) | BR_ATTR_LOG_APPEND_TIME;
	br_wr_be16(p + BR_RB_ATTR_OFFSET, attr);
	br_wr_be64(p + 35, (uint64_t)append_time_ms);
	br_wr_be32(p + BR_RB_CRC_OFFSET, br_rb_compute_crc(p, size));
}

/* ---- decoding ---- */

void br_rb_iter_init(br_rb_iter *it, const void *p, size_t len, size_t max_uncompressed, int flags)
{
	memset(it, 0, sizeof *it);
	it->in = br_cur_make(p, len);
	it->max_uncompressed = max_uncompressed;
	it->flags = flags;
}

void br_rb_iter_free(br_rb_iter *it) { br_buf_free(&it->dec); }

static int iter_fail(br_rb_iter *it, int code)
{
	it->failed = code;
	it->in_batch = false;
	return code;
}

int br_rb_iter_next_batch(br_rb_iter *it, br_err *err)
{
	if (it->failed)
		return br_errf(err, it->failed, "record batch iterator used after an error");
	it->in_batch = false;
	size_t pos = it->in.pos, left = it->in.len - it->in.pos;
	if (!left)
		return 0;
	const uint8_t *p = it->in.p + pos;
	if (it->flags & BR_RB_PARTIAL_TAIL) {
		/* A Fetch response cuts the last batch at max_bytes: stop at a cut batch,
		 * but only when what is there is plausibly its start. */
		if (left < BR_RB_HEADER_SIZE ||
		    (int64_t)(int32_t)br_rd_be32(p + 8) > (int64_t)(left - BR_RB_LOG_OVERHEAD)) {
			it->in.pos = it->in.len;
			return 0;
		}
	}
	br_rb_hdr *h = &it->hdr;
	int rc = br_rb_parse_header(p, left, pos, h, err);
	if (rc)
		return iter_fail(it, rc);
	size_t size = br_rb_size(h);
	if (!(it->flags & BR_RB_SKIP_CRC) && (rc = br_rb_check_crc(p, h, pos, err)))
		return iter_fail(it, rc);
	const uint8_t *sect = p + BR_RB_HEADER_SIZE;
	size_t sect_len = size - BR_RB_HEADER_SIZE;
	enum br_codec codec = br_rb_codec(h);
	if (codec == BR_CODEC_NONE) {
		if (sect_len > it->max_uncompressed)
			return iter_fail(it, BATCH_ERR(err, BR_ELIMIT, h, pos, "%zu bytes of records exceed the limit of %zu",
			                               sect_len, it->max_uncompressed));
		it->recs = br_cur_make(sect, sect_len);
	} else {
		br_buf_reset(&it->dec);
		br_err derr = { 0 };
		rc = br_decompress(codec, sect, sect_len, it->max_uncompressed, &it->dec, &derr);
		if (rc)
			return iter_fail(it, BATCH_ERR(err, rc, h, pos, "records section (%s): %s", br_codec_name(codec),
			                               derr.msg));
		it->recs = br_cur_make(it->dec.p, it->dec.len);
	}
	if (h->record_count == 0 && it->recs.len)
		return iter_fail(it, BATCH_ERR(err, BR_ECORRUPT, h, pos,
		                               "record count 0 but the records section holds %zu bytes", it->recs.len));
	it->in.pos += size;
	it->batch_pos = pos;
	it->left = h->record_count;
	it->prev_delta = -1;
	it->in_batch = true;
	return 1;
}

/* Reads a length-prefixed byte string: -1 is null when nullable. */
static bool read_bytes(br_cur *c, bool nullable, const uint8_t **p, int32_t *len)
{
	int64_t n = br_cur_varint(c);
	if (c->bad || n < (nullable ? -1 : 0) || n > INT32_MAX)
		return false;
	*len = (int32_t)n;
	*p = NULL;
	if (n < 0)
		return true;
	*p = br_cur_take(c, (size_t)n);
	return *p != NULL;
}

static int decode_record(br_rb_iter *it, br_record *rec, br_err *err)
{
	const br_rb_hdr *h = &it->hdr;
	int32_t idx = h->record_count - it->left;
	size_t rpos = it->recs.pos;
#define REC_ERR(fmt, ...)                                                                          \
	iter_fail(it, BATCH_ERR(err, BR_ECORRUPT, h, it->batch_pos,                               \
	                        "record %" PRId32 " (byte %zu of the records section): " fmt, idx, rpos, \
	                        ##__VA_ARGS__))
	int64_t len = br_cur_varint(&it->recs);
	if (it->recs.bad) {
		if (rpos == it->recs.len)
			return iter_fail(it, BATCH_ERR(err, BR_ECORRUPT, h, it->batch_pos,
			                               "record count %" PRId32 " but the records section ends after %" PRId32,
			                               h->record_count, idx));
		return REC_ERR("bad length varint");
	}
	if (len < 0 || (uint64_t)len > br_cur_left(&it->recs))
		return REC_ERR("length %" PRId64 " but %zu bytes remain", len, br_cur_left(&it->recs));
	br_cur r = br_cur_make(br_cur_take(&it->recs, (size_t)len), (size_t)len);
	memset(rec, 0, sizeof *rec);
	rec->batch = h;
	rec->attributes = (int8_t)br_cur_u8(&r);
	int64_t ts_delta = br_cur_varint(&r);
	int64_t off_delta = br_cur_varint(&r);
	if (r.bad)
		return REC_ERR("truncated before its key");
	if (off_delta <= it->prev_delta || off_delta > h->last_offset_delta)
		return REC_ERR("offsetDelta %" PRId64 " not increasing within [%" PRId64 ", %" PRId32 "]", off_delta,
		               it->prev_delta + 1, h->last_offset_delta);
	if (!read_bytes(&r, true, &rec->key, &rec->key_len))
		return REC_ERR("bad key length");
	if (!read_bytes(&r, true, &rec->value, &rec->value_len))
		return REC_ERR("bad value length");
	int64_t hc = br_cur_varint(&r);
	/* each header takes at least 2 bytes: a count beyond that is a lie */
	if (r.bad || hc < 0 || (uint64_t)hc > br_cur_left(&r) / 2)
		return REC_ERR("bad header count %" PRId64, hc);
	size_t hstart = r.pos;
	for (int64_t i = 0; i < hc; i++) {
		const uint8_t *p;
		int32_t n;
		if (!read_bytes(&r, false, &p, &n))
			return REC_ERR("header %" PRId64 ": bad key length", i);
		if (!read_bytes(&r, true, &p, &n))
			return REC_ERR("header %" PRId64 ": bad value length", i);
	}
	if (r.pos != r.len)
		return REC_ERR("%zu bytes left over after its fields", r.len - r.pos);
	rec->header_count = (int32_t)hc;
	rec->headers = r.p + hstart;
	rec->headers_len = r.pos - hstart;
	rec->offset = h->base_offset + off_delta;
	rec->timestamp = br_rb_log_append_time(h) ? h->max_timestamp
	                                             : (int64_t)((uint64_t)h->base_timestamp + (uint64_t)ts_delta);
	it->prev_delta = off_delta;
	if (--it->left == 0 && br_cur_left(&it->recs))
		return iter_fail(it, BATCH_ERR(err, BR_ECORRUPT, h, it->batch_pos,
		                               "%zu bytes left in the records section after record count %" PRId32,
		                               br_cur_left(&it->recs), h->record_count));
	return 1;
#undef REC_ERR
}

int br_rb_iter_next(br_rb_iter *it, br_record *rec, br_err *err)
{
	if (it->failed)
		return br_errf(err, it->failed, "record batch iterator used after an error");
	while (!it->in_batch || it->left == 0) {
		int rc = br_rb_iter_next_batch(it, err);
		if (rc <= 0)
			return rc;
	}
	return decode_record(it, rec, err);
}

bool br_record_header_next(const br_record *r, size_t *pos, br_rec_header *h)
{
	if (*pos >= r->headers_len)
		return false;
	br_cur c = br_cur_make(r->headers, r->headers_len);
	c.pos = *pos;
	if (!read_bytes(&c, false, &h->key, &h->key_len) || !read_bytes(&c, true, &h->value, &h->value_len))
		return false; /* cannot happen: validated on decode */
	*pos = c.pos;
	return true;
}

int br_rb_validate(const void *p, size_t len, size_t max_uncompressed, int flags,
                        int64_t *records, int64_t *batches, br_err *err)
{
	br_rb_iter it;
	br_rb_iter_init(&it, p, len, max_uncompressed, flags & ~BR_RB_PARTIAL_TAIL);
	int64_t nr = 0, nb = 0;
	int rc;
	while ((rc = br_rb_iter_next_batch(&it, err)) == 1) {
		nb++;
		br_record rec;
		while (it.left > 0 && (rc = decode_record(&it, &rec, err)) == 1)
			nr++;
		if (rc < 0)
			break;
	}
	br_rb_iter_free(&it);
	if (records)
		*records = nr;
	if (batches)
		*batches = nb;
	return rc < 0 ? rc : 0;
}

/* ---- encoding ---- */

void br_rb_opts_default(br_rb_opts *o)
{
	memset(o, 0, sizeof *o);
	o->partition_leader_epoch = -1;
	o->producer_id = -1;
	o->producer_epoch = -1;
	o->base_sequence = -1;
}

void br_rb_builder_init(br_rb_builder *b, const br_rb_opts *o)
{
	memset(b, 0, sizeof *b);
	if (o)
		b->opts = *o;
	else
		br_rb_opts_default(&b->opts);
}

void br_rb_builder_free(br_rb_builder *b) { br_buf_free(&b->recs); }

static size_t varint_len(int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 1;
	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

static size_t bytes_len(int32_t len) { return varint_len(len) + (len > 0 ? (size_t)len : 0); }

static void put_bytes(br_buf *b, const void *p, int32_t len)
{
	br_buf_varint(b, len);
	if (len > 0)
		br_buf_put(b, p, (size_t)len);
}

void br_rb_add(br_rb_builder *b, int64_t timestamp, const void *key, int32_t key_len,
                  const void *value, int32_t value_len, const br_rec_header *headers, int32_t header_count)
{
	if (!key)
		key_len = -1;
	if (!value)
		value_len = -1;
	if (b->count == 0)
		b->base_ts = b->max_ts = timestamp;
	if (timestamp > b->max_ts)
		b->max_ts = timestamp;
	int64_t ts_delta = (int64_t)((uint64_t)timestamp - (uint64_t)b->base_ts);
	size_t body = 1 + varint_len(ts_delta) + varint_len(b->count) + bytes_len(key_len) + bytes_len(value_len) +
	              varint_len(header_count);
	for (int32_t i = 0; i < header_count; i++)
		body += bytes_len(headers[i].key_len) + bytes_len(headers[i].value ? headers[i].value_len : -1);
	br_buf_reserve(&b->recs, body + 10);
	br_buf_varint(&b->recs, (int64_t)body);
	br_buf_u8(&b->recs, 0);
	br_buf_varint(&b->recs, ts_delta);
	br_buf_varint(&b->recs, b->count);
	put_bytes(&b->recs, key, key_len);
	put_bytes(&b->recs, value, value_len);
	br_buf_varint(&b->recs, header_count);
	for (int32_t i = 0; i < header_count; i++) {
		put_bytes(&b->recs, headers[i].key, headers[i].key_len);
		put_bytes(&b->recs, headers[i].value, headers[i].value ? headers[i].value_len : -1);
	}
	b->count++;
}

int br_rb_finish(br_rb_builder *b, br_buf *out, br_err *err)
{
	if (!b->count)
		return 0;
	const br_rb_opts *o = &b->opts;
	size_t start = out->len;
	br_buf_grow(out, BR_RB_HEADER_SIZE);
	if (o->codec == BR_CODEC_NONE) {
		br_buf_put(out, b->recs.p, b->recs.len);
	} else {
		int rc = br_compress(o->codec, b->recs.p, b->recs.len, out, o->level, err);
		if (rc) {
			out->len = start;
			return rc;
		}
	}
	size_t size = out->len - start;
	if (size - BR_RB_LOG_OVERHEAD > INT32_MAX) {
		out->len = start;
		return br_errf(err, BR_ELIMIT, "record batch of %zu bytes is too large", size);
	}
	uint8_t *p = out->p + start; /* the buffer may have moved while growing */
	uint16_t attr = (uint16_t)o->codec | (o->log_append_time ? BR_ATTR_LOG_APPEND_TIME : 0) |
	                (o->transactional ? BR_ATTR_TRANSACTIONAL : 0) | (o->control ? BR_ATTR_CONTROL : 0);
	br_wr_be64(p, (uint64_t)o->base_offset);
	br_wr_be32(p + 8, (uint32_t)(size - BR_RB_LOG_OVERHEAD));
	br_wr_be32(p + 12, (uint32_t)o->partition_leader_epoch);
	p[16] = 2;
	br_wr_be16(p + 21, attr);
	br_wr_be32(p + 23, (uint32_t)(b->count - 1));
	br_wr_be64(p + 27, (uint64_t)b->base_ts);
	br_wr_be64(p + 35, (uint64_t)b->max_ts);
	br_wr_be64(p + 43, (uint64_t)o->producer_id);
	br_wr_be16(p + 51, (uint16_t)o->producer_epoch);
	br_wr_be32(p + 53, (uint32_t)o->base_sequence);
	br_wr_be32(p + 57, (uint32_t)b->count);
	br_wr_be32(p + BR_RB_CRC_OFFSET, br_rb_compute_crc(p, size));
	b->opts.base_offset = (int64_t)((uint64_t)b->opts.base_offset + (uint64_t)b->count); /* no UB at INT64_MAX */
	if (b->opts.base_sequence >= 0) /* sequences wrap to 0 after INT32_MAX, as in Kafka */
		b->opts.base_sequence = (int32_t)(((int64_t)b->opts.base_sequence + b->count) % ((int64_t)INT32_MAX + 1));
	b->count = 0;
	br_buf_reset(&b->recs);
	return 0;
}
