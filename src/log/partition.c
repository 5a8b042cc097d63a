/* partition.c — one partition of a topic: its segment files, appends, reads and
 * crash recovery.
 *
 * On disk, a partition is a directory <log>/<topic>/<partition>/ holding segments.
 * A segment is three files named by the offset of its first batch, zero-padded to
 * 20 digits:
 *   00000000000000001234.log        Kafka RecordBatch v2 bytes, back to back, exactly
 *                                   as produced except for the fields the broker
 *                                   owns (baseOffset, partitionLeaderEpoch = 0 and,
 *                                   under LogAppendTime, the timestamp type bit and
 *                                   maxTimestamp, with the CRC recomputed).
 *   00000000000000001234.index      one 16-byte entry per batch: be32 offset relative
 *                                   to the segment base, be32 file position, be64
 *                                   broker append time (ms). Dense per batch, sparse
 *                                   per record; it is also the only place the broker
 *                                   append time of a CreateTime batch is kept.
 *   00000000000000001234.timeindex  12-byte entries (be64 max timestamp so far, be32
 *                                   relative offset), one whenever the max record
 *                                   timestamp grows and >= 4 KiB were written since
 *                                   the previous entry.
 * A batch header is 61 bytes: baseOffset i64, batchLength i32 (bytes after this
 * field), partitionLeaderEpoch i32, magic i8 (=2), crc u32 (CRC-32C of everything
 * from attributes to the end), attributes i16, lastOffsetDelta i32, baseTimestamp
 * i64, maxTimestamp i64, producerId i64, producerEpoch i16, baseSequence i32,
 * recordCount i32.
 *
 * Invariants: batches of a segment are contiguous in offsets; segment i+1 starts at
 * segment i's end offset; the last segment is the active one (the only one
 * written) and is never deleted by retention, so the log end offset survives even
 * when every record has expired.
 *
 * Crash story: data is written with pwrite, then its index entry. The .log file is
 * fdatasync'ed by the group commit before any produce covering it is answered and
 * before consumers may read it (high watermark). The .index is fdatasync'ed by a
 * separate, slower index sync (~every 100 ms, log.c); only then may in-process
 * readers that use append times (br_partition_plan_read: tiering) see the batches.
 * On open, sealed segments trust their index files (rebuilding them by a scan when
 * missing or inconsistent); the active segment is scanned batch by batch checking
 * length, magic, CRC and offset contiguity, and everything from the first bad batch
 * on (a torn write) is cut off, and its index rewritten. Acknowledged batches were
 * fsynced, so they pass the scan: nothing acknowledged is lost. A batch whose index
 * entry did not reach the disk gets the data file's mtime as its append time; no
 * reader had seen its append time (plan_read stops at the synced index), and Kafka
 * clients never see it under CreateTime (under LogAppendTime it is in the batch).
 * Batches written but not acknowledged may survive a crash; idempotent producers
 * are deduplicated by the producer state rebuilt from the batch headers of the
 * last segments. A rolled segment's directory entry is made durable by the next
 * data flush, before any of its batches is acknowledged. A deleted segment is
 * unlinked first and its blocks freed later, a step at a time (log.c: gentle
 * deletion); after a crash, ext4's orphan recovery frees what remained. */
#include "log/log_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/util.h"
#include "log/records.h"

#define HDR 61
#define OFF_LEN 8
#define OFF_EPOCH 12
#define OFF_MAGIC 16
#define OFF_CRC 17
#define OFF_ATTR 21
#define OFF_LOD 23
#define OFF_BASE_TS 27
#define OFF_MAX_TS 35
#define OFF_PID 43
#define OFF_PEPOCH 51
#define OFF_SEQ 53
#define OFF_COUNT 57
#define TIDX_INTERVAL 4096
#define MAX_SEGMENT_REL 0x7fffffff

static char *seg_path(const br_partition *p, int64_t base, const char *ext)
{
	return br_xasprintf("%s/%020" PRId64 ".%s", p->dir, base, ext);
}

static void seg_free(br_segment *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->ifd >= 0)
		close(s->ifd);
	if (s->tfd >= 0)
		close(s->tfd);
	free(s->idx);
	free(s->tidx);
	free(s);
}

static br_segment *seg_active(const br_partition *p) { return p->segs[p->nsegs - 1]; }

static void idx_push(br_segment *s, uint32_t rel, uint32_t pos, int64_t append_ms)
{
	if (s->nidx == s->idx_cap) {
		s->idx_cap = s->idx_cap ? s->idx_cap * 2 : 64;
		s->idx = br_xrealloc(s->idx, s->idx_cap * sizeof *s->idx);
	}
	s->idx[s->nidx++] = (br_idx_entry){ rel, pos, append_ms };
	if (append_ms > s->max_append)
		s->max_append = append_ms;
	if (s->nidx == 1)
		s->first_append = append_ms;
}

/* Adds a time-index entry when the batch raises the max timestamp and enough bytes
 * passed since the last entry. Returns whether an entry was added. */
static bool tidx_note(br_segment *s, int64_t max_ts, uint32_t rel, uint32_t pos)
{
	if (max_ts <= s->max_ts && s->ntidx)
		return false;
	bool first = s->ntidx == 0;
	if (max_ts > s->max_ts)
		s->max_ts = max_ts;
	if (!first && (int64_t)pos - s->tidx_last_pos < TIDX_INTERVAL) {
		/* too close: raise the last entry instead, keeping it a true upper bound */
		s->tidx[s->ntidx - 1].ts = s->max_ts;
		s->tidx[s->ntidx - 1].rel = rel;
		return true;
	}
	if (s->ntidx == s->tidx_cap) {
		s->tidx_cap = s->tidx_cap ? s->tidx_cap * 2 : 16;
		s->tidx = br_xrealloc(s->tidx, s->tidx_cap * sizeof *s->tidx);
	}
	s->tidx[s->ntidx++] = (br_tidx_entry){ s->max_ts, rel };
	s->tidx_last_pos = pos;
	return true;
}

static int write_all(int fd, const void *buf, size_t n, off_t at, const char *what, br_err *err)
{
	const uint8_t *q = buf;
	while (n) {
		ssize_t w = at >= 0 ? pwrite(fd, q, n, at) : write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return br_errno(err, BR_EIO, "write %s", what);
		q += w;
		n -= (size_t)w;
		if (at >= 0)
			at += w;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n, off_t at)
{
	uint8_t *q = buf;
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, q + done, n - done, at + (off_t)done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

/* Rewrites the whole .index and .timeindex files from memory (recovery only). */
static int seg_write_indexes(br_partition *p, br_segment *s, br_err *err)
{
	br_buf b = { 0 };
	for (size_t i = 0; i < s->nidx; i++) {
		br_buf_be32(&b, s->idx[i].rel);
		br_buf_be32(&b, s->idx[i].pos);
		br_buf_be64(&b, (uint64_t)s->idx[i].append_ms);
	}
	char *path = seg_path(p, s->base, "index");
	int rc = br_write_file_atomic(path, b.p ? b.p : (uint8_t *)"", b.len, err);
	free(path);
	br_buf_reset(&b);
	for (size_t i = 0; !rc && i < s->ntidx; i++) {
		br_buf_be64(&b, (uint64_t)s->tidx[i].ts);
		br_buf_be32(&b, s->tidx[i].rel);
	}
	if (!rc) {
		path = seg_path(p, s->base, "timeindex");
		rc = br_write_file_atomic(path, b.p ? b.p : (uint8_t *)"", b.len, err);
		free(path);
	}
	br_buf_free(&b);
	return rc;
}

static int seg_open_index_fds(br_partition *p, br_segment *s, br_err *err)
{
	char *ip = seg_path(p, s->base, "index"), *tp = seg_path(p, s->base, "timeindex");
	s->ifd = open(ip, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	s->tfd = open(tp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int rc = 0;
	if (s->ifd < 0 || s->tfd < 0)
		rc = br_errno(err, BR_EIO, "open index of %s", ip);
	free(ip);
	free(tp);
	return rc;
}

/* Creates a segment's files. The directory entry must be durable before any
 * batch of the segment is acknowledged: a new partition fsyncs its directory here
 * (topic creation, off the ack path); a roll leaves it to the next data flush
 * (log.c), off the event loop, where an fsync of the directory waits for a
 * journal commit that a busy disk can make long. */
static int seg_create(br_partition *p, int64_t base, bool sync_dir, br_segment **out, br_err *err)
{
	br_segment *s = br_xcalloc(1, sizeof *s);
	s->base = s->next = base;
	s->ifd = s->tfd = -1;
	s->max_ts = s->max_append = s->first_append = -1;
	char *path = seg_path(p, base, "log");
	s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	int rc = 0;
	if (s->fd < 0)
		rc = br_errno(err, BR_EIO, "create segment %s", path);
	free(path);
	if (!rc)
		rc = seg_open_index_fds(p, s, err);
	if (!rc && ftruncate(s->ifd, 0) == 0 && ftruncate(s->tfd, 0) == 0 && ftruncate(s->fd, 0) == 0) {
		int dfd = sync_dir ? -1 : open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sync_dir ? br_fsync_dir(p->dir, err) == 0 : dfd >= 0) {
			if (dfd >= 0)
				br_log_add_dir_fd(p->log, dfd);
			*out = s;
			return 0;
		}
		rc = sync_dir ? BR_EIO : br_errno(err, BR_EIO, "open directory %s", p->dir);
		seg_free(s);
		return rc;
	}
	if (!rc)
		rc = br_errno(err, BR_EIO, "truncate new segment in %s", p->dir);
	seg_free(s);
	return rc;
}

/* ---- batch header checks ---- */

/* Validates the batch at buf[0..avail): returns its total size, or 0 when it is
 * not a whole valid batch (reason in why). */
static size_t batch_check(const uint8_t *buf, size_t avail, bool check_crc, const char **why)
{
	if (avail < HDR) {
		*why = "truncated batch header";
		return 0;
	}
	int32_t blen = (int32_t)br_rd_be32(buf + OFF_LEN);
	if (blen < HDR - 12) {
		*why = "batch length too small";
		return 0;
	}
	size_t total = (size_t)blen + 12;
	if (total > avail) {
		*why = "batch extends past the end of the data";
		return 0;
	}
	if (buf[OFF_MAGIC] != 2) {
		*why = buf[OFF_MAGIC] < 2 ? "record batch magic 0/1 (message sets) is not supported" : "bad magic byte";
		return 0;
	}
	if (check_crc && br_crc32c(0, buf + OFF_ATTR, total - OFF_ATTR) != br_rd_be32(buf + OFF_CRC)) {
		*why = "CRC-32C mismatch";
		return 0;
	}
	int32_t lod = (int32_t)br_rd_be32(buf + OFF_LOD), count = (int32_t)br_rd_be32(buf + OFF_COUNT);
	if (lod < 0 || count < 1 || count != lod + 1) {
		*why = "record count does not match lastOffsetDelta";
		return 0;
	}
	if ((br_rd_be16(buf + OFF_ATTR) & 7) > 4) {
		*why = "unknown compression codec";
		return 0;
	}
	return total;
}

static int64_t batch_max_ts(const uint8_t *h) { return (int64_t)br_rd_be64(h + OFF_MAX_TS); }
static int64_t batch_last_delta(const uint8_t *h) { return (int32_t)br_rd_be32(h + OFF_LOD); }

/* ---- producer state (idempotence) ---- */

static br_producer_state *producer_get(br_partition *p, int64_t pid, bool create)
{
	br_producer_state *ps = br_map_get(&p->producers, &pid, sizeof pid);
	if (!ps && create) {
		ps = br_xcalloc(1, sizeof *ps);
		ps->pid = pid;
		ps->epoch = -1;
		br_map_put(&p->producers, &pid, sizeof pid, ps);
	}
	return ps;
}

static void producer_record(br_partition *p, const uint8_t *h, int64_t base_offset)
{
	int64_t pid = (int64_t)br_rd_be64(h + OFF_PID);
	if (pid < 0)
		return;
	br_producer_state *ps = producer_get(p, pid, true);
	int16_t epoch = (int16_t)br_rd_be16(h + OFF_PEPOCH);
	if (epoch != ps->epoch) {
		ps->epoch = epoch;
		ps->n = 0;
	}
	if (ps->n == BR_PRODUCER_BATCHES) {
		memmove(ps->b, ps->b + 1, sizeof ps->b[0] * (BR_PRODUCER_BATCHES - 1));
		ps->n--;
	}
	int32_t seq = (int32_t)br_rd_be32(h + OFF_SEQ);
	ps->b[ps->n].first_seq = seq;
	ps->b[ps->n].last_seq = (int32_t)((uint32_t)seq + (uint32_t)batch_last_delta(h));
	ps->b[ps->n].base_offset = base_offset;
	ps->n++;
}

/* Decides what an idempotent batch is: new (OK), a retry of a stored batch
 * (DUPLICATE, with its offset), or a protocol violation. A producer we know
 * nothing of (new, or whose state expired) may start at any sequence, as Kafka
 * has allowed since KIP-360. Sequences wrap at INT32_MAX to 0. */
static enum br_append_status producer_check(br_partition *p, const uint8_t *h, int64_t *dup_offset, char *msg, size_t msz)
{
	int64_t pid = (int64_t)br_rd_be64(h + OFF_PID);
	if (pid < 0)
		return BR_APPEND_OK;
	br_producer_state *ps = producer_get(p, pid, false);
	if (!ps || !ps->n)
		return BR_APPEND_OK;
	int16_t epoch = (int16_t)br_rd_be16(h + OFF_PEPOCH);
	int32_t seq = (int32_t)br_rd_be32(h + OFF_SEQ);
	if (epoch < ps->epoch) {
		snprintf(msg, msz, "producer %" PRId64 " epoch %d is older than the current epoch %d", pid, epoch, ps->epoch);
		return BR_APPEND_FENCED_EPOCH;
	}
	if (epoch > ps->epoch)
		return seq == 0 ? BR_APPEND_OK : BR_APPEND_OUT_OF_ORDER;
	for (int i = 0; i < ps->n; i++)
		if (ps->b[i].first_seq == seq) {
			*dup_offset = ps->b[i].base_offset;
			return BR_APPEND_DUPLICATE;
		}
	int32_t expect = ps->b[ps->n - 1].last_seq == INT32_MAX ? 0 : ps->b[ps->n - 1].last_seq + 1;
	if (seq != expect) {
		snprintf(msg, msz, "producer %" PRId64 ": sequence %d, expected %d", pid, seq, expect);
		return BR_APPEND_OUT_OF_ORDER;
	}
	return BR_APPEND_OK;
}

/* ---- append ---- */

static bool need_roll(const br_partition *p, size_t incoming, int64_t now_ms, int64_t last_delta)
{
	const br_segment *s = seg_active(p);
	if (!s->nidx)
		return false;
	const br_topic *t = p->topic;
	if (s->size + (int64_t)incoming > t->segment_bytes)
		return true;
	if (t->segment_ms > 0 && s->first_append >= 0 && now_ms - s->first_append >= t->segment_ms)
		return true;
	return p->leo + last_delta - s->base >= MAX_SEGMENT_REL;
}

int br_partition_roll(br_partition *p, int64_t now_ms, br_err *err)
{
	(void)now_ms;
	br_segment *old = seg_active(p);
	if (!old->nidx)
		return 0;
	br_segment *s;
	int rc = seg_create(p, p->leo, false, &s, err);
	if (rc)
		return rc;
	/* the sealed files still need the fsync the next flush would have given them */
	br_log_add_sealed_fd(p->log, old->fd >= 0 ? dup(old->fd) : -1);
	br_log_add_sealed_ifd(p->log, old->ifd);
	br_log_add_sealed_fd(p->log, old->tfd);
	old->ifd = old->tfd = -1;
	p->segs = br_xrealloc(p->segs, (p->nsegs + 1) * sizeof *p->segs);
	p->segs[p->nsegs++] = s;
	return 0;
}

static void fill_status(br_append_result *res, enum br_append_status st, const char *why)
{
	res->status = st;
	snprintf(res->msg, sizeof res->msg, "%.*s", (int)sizeof res->msg - 1, why);
}

int br_partition_append(br_partition *p, uint8_t *batches, size_t len, int64_t now_ms,
                        br_append_result *res, br_err *err)
{
	br_topic *t = p->topic;
	memset(res, 0, sizeof *res);
	res->base_offset = -1;
	res->log_append_time = -1;
	res->log_start_offset = br_partition_start_offset(p);
	if (len == 0) {
		fill_status(res, BR_APPEND_CORRUPT, "empty record set");
		return 0;
	}
	/* pass 1: validate everything, so the append is all or nothing */
	int64_t total_delta = 0;
	int nbatches = 0;
	for (size_t pos = 0; pos < len;) {
		const char *why = NULL;
		size_t n = batch_check(batches + pos, len - pos, true, &why);
		if (!n) {
			fill_status(res, batches[pos + (len - pos > OFF_MAGIC ? OFF_MAGIC : 0)] < 2 && len - pos > OFF_MAGIC
			                     ? BR_APPEND_UNSUPPORTED : BR_APPEND_CORRUPT, why);
			return 0;
		}
		uint8_t *h = batches + pos;
		uint16_t attr = br_rd_be16(h + OFF_ATTR);
		if (attr & 0x30) {
			fill_status(res, BR_APPEND_UNSUPPORTED, "transactional and control batches are not supported yet");
			return 0;
		}
		if ((int64_t)n > t->max_message_bytes) {
			snprintf(res->msg, sizeof res->msg, "batch of %zu bytes exceeds max.message.bytes %" PRId64, n, t->max_message_bytes);
			res->status = BR_APPEND_TOO_LARGE;
			return 0;
		}
		int64_t dup = -1;
		enum br_append_status st = producer_check(p, h, &dup, res->msg, sizeof res->msg);
		if (st == BR_APPEND_DUPLICATE && nbatches == 0 && pos + n == len) {
			res->status = st;
			res->base_offset = dup;
			return 0;
		}
		if (st != BR_APPEND_OK) {
			if (!res->msg[0])
				snprintf(res->msg, sizeof res->msg, "%s", st == BR_APPEND_DUPLICATE ? "duplicate batch inside a multi-batch request" : "out of order sequence");
			res->status = st == BR_APPEND_DUPLICATE ? BR_APPEND_OUT_OF_ORDER : st;
			return 0;
		}
		total_delta += batch_last_delta(h) + 1;
		nbatches++;
		pos += n;
	}
	if (need_roll(p, len, now_ms, total_delta)) {
		int64_t t0 = BR_TRACE_T0();
		int rc = br_partition_roll(p, now_ms, err);
		br_trace_slow(t0, "segment roll of %s/%d", t->name, p->id);
		if (rc) {
			fill_status(res, BR_APPEND_IO, err ? err->msg : "roll failed");
			return rc;
		}
	}
	br_segment *s = seg_active(p);
	/* pass 2: assign offsets and broker-owned fields */
	br_buf ib = { 0 }, tb = { 0 };
	int64_t off = p->leo;
	res->base_offset = off;
	for (size_t pos = 0; pos < len;) {
		uint8_t *h = batches + pos;
		size_t n = (size_t)br_rd_be32(h + OFF_LEN) + 12;
		br_wr_be64(h, (uint64_t)off);
		br_wr_be32(h + OFF_EPOCH, 0);
		if (t->log_append_time) {
			br_wr_be16(h + OFF_ATTR, br_rd_be16(h + OFF_ATTR) | 0x08);
			br_wr_be64(h + OFF_MAX_TS, (uint64_t)now_ms);
			br_wr_be32(h + OFF_CRC, br_crc32c(0, h + OFF_ATTR, n - OFF_ATTR));
			res->log_append_time = now_ms;
		}
		uint32_t rel = (uint32_t)(off - s->base), fpos = (uint32_t)(s->size + (int64_t)pos);
		br_buf_be32(&ib, rel);
		br_buf_be32(&ib, fpos);
		br_buf_be64(&ib, (uint64_t)now_ms);
		off += batch_last_delta(h) + 1;
		pos += n;
	}
	char what[64];
	snprintf(what, sizeof what, "%s/%d", t->name, p->id);
	int64_t t0 = BR_TRACE_T0();
	int rc = write_all(s->fd, batches, len, (off_t)s->size, what, err);
	br_trace_slow(t0, "pwrite of %zu bytes to %s", len, what);
	if (!rc)
		rc = write_all(s->ifd, ib.p, ib.len, -1, what, err);
	if (rc) {
		/* undo: nothing of this append may remain visible */
		if (ftruncate(s->fd, (off_t)s->size) != 0)
			br_warn("%s: cannot truncate after failed write", what);
		if (ftruncate(s->ifd, (off_t)(s->nidx * 16)) != 0)
			br_warn("%s: cannot truncate index after failed write", what);
		br_buf_free(&ib);
		fill_status(res, BR_APPEND_IO, err ? err->msg : "write failed");
		return rc;
	}
	/* pass 3: in-memory indexes and producer state */
	for (size_t pos = 0; pos < len;) {
		uint8_t *h = batches + pos;
		size_t n = (size_t)br_rd_be32(h + OFF_LEN) + 12;
		uint32_t rel = (uint32_t)((int64_t)br_rd_be64(h) - s->base), fpos = (uint32_t)(s->size + (int64_t)pos);
		idx_push(s, rel, fpos, now_ms);
		if (tidx_note(s, batch_max_ts(h), rel, fpos)) {
			br_buf_reset(&tb);
			br_buf_be64(&tb, (uint64_t)s->tidx[s->ntidx - 1].ts);
			br_buf_be32(&tb, s->tidx[s->ntidx - 1].rel);
			/* the time index is advisory (rebuilt on recovery): a failed write only warns */
			if (write_all(s->tfd, tb.p, tb.len, -1, what, NULL))
				br_warn("%s: time index write failed", what);
		}
		producer_record(p, h, (int64_t)br_rd_be64(h));
		pos += n;
	}
	br_buf_free(&ib);
	br_buf_free(&tb);
	s->size += (int64_t)len;
	s->next = off;
	p->leo = off;
	p->dirty = p->idx_dirty = true;
	p->log->write_seq++;
	return 0;
}

/* ---- reads ---- */

/* Index of the segment holding offset (the last with base <= offset). */
static size_t seg_find(const br_partition *p, int64_t offset)
{
	size_t lo = 0, hi = p->nsegs;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (p->segs[mid]->base <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Index entry of the batch holding offset (the last with base <= offset). */
static size_t idx_find(const br_segment *s, int64_t offset)
{
	int64_t rel = offset - s->base;
	size_t lo = 0, hi = s->nidx;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if ((int64_t)s->idx[mid].rel <= rel)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* File position where the batches at or after `offset` start (offset on a batch
 * boundary, or the segment end). */
static int64_t pos_of_boundary(const br_segment *s, int64_t offset)
{
	if (offset >= s->next)
		return s->size;
	size_t i = idx_find(s, offset);
	if ((int64_t)s->idx[i].rel + s->base < offset)
		i++;
	return i < s->nidx ? s->idx[i].pos : s->size;
}

int br_partition_read(br_partition *p, int64_t offset, int64_t max_bytes, int flags,
                      br_buf *out, br_err *err)
{
	int64_t end = flags & BR_READ_UNCOMMITTED ? p->leo : p->hw;
	if (offset < br_partition_start_offset(p) || offset > p->leo)
		return br_errf(err, BR_ENOTFOUND, "offset %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]",
		               offset, br_partition_start_offset(p), p->leo);
	if (offset >= end)
		return 0;
	size_t si = seg_find(p, offset);
	br_segment *s = p->segs[si];
	if (offset >= s->next) { /* at the end of a sealed segment: the next one holds it */
		if (si + 1 >= p->nsegs)
			return 0;
		s = p->segs[++si];
	}
	if (!s->nidx)
		return 0;
	size_t i = idx_find(s, offset);
	int64_t start = s->idx[i].pos;
	int64_t stop = pos_of_boundary(s, end < s->next ? end : s->next);
	if (stop <= start)
		return 0;
	if (stop - start > max_bytes) {
		/* cut at the last batch boundary within max_bytes */
		int64_t cut = start;
		for (size_t j = i + 1; j < s->nidx && s->idx[j].pos - start <= max_bytes; j++)
			cut = s->idx[j].pos;
		if (cut == start && (flags & BR_READ_AT_LEAST_ONE))
			cut = i + 1 < s->nidx ? s->idx[i + 1].pos : s->size;
		if (cut < stop)
			stop = cut;
		if (stop <= start)
			return 0;
	}
	size_t n = (size_t)(stop - start);
	uint8_t *dst = br_buf_grow(out, n);
	if (read_all(s->fd, dst, n, (off_t)start)) {
		out->len -= n;
		return br_errno(err, BR_EIO, "read %s/%d segment %" PRId64 " at %" PRId64, p->topic->name, p->id, s->base, start);
	}
	return 0;
}

static void plan_push_batch(br_read_plan *pl, size_t *cap, int64_t base, int64_t append)
{
	if (pl->nbatches == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		pl->batch_base = br_xrealloc(pl->batch_base, *cap * sizeof *pl->batch_base);
		pl->batch_append = br_xrealloc(pl->batch_append, *cap * sizeof *pl->batch_append);
	}
	pl->batch_base[pl->nbatches] = base;
	pl->batch_append[pl->nbatches] = append;
	pl->nbatches++;
}

int br_partition_plan_read(br_partition *p, int64_t offset, int64_t max_bytes, br_read_plan *out, br_err *err)
{
	memset(out, 0, sizeof *out);
	out->from = out->to = offset;
	if (offset < br_partition_start_offset(p) || offset > p->leo)
		return br_errf(err, BR_ENOTFOUND, "offset %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]",
		               offset, br_partition_start_offset(p), p->leo);
	size_t cap = 0;
	bool first = true;
	int64_t limit = p->ihw < p->hw ? p->ihw : p->hw; /* data and append time durable */
	for (size_t si = seg_find(p, offset); si < p->nsegs && offset < limit; si++) {
		br_segment *s = p->segs[si];
		if (!s->nidx || offset >= s->next)
			continue;
		size_t i = idx_find(s, offset);
		int64_t start = s->idx[i].pos, end = start;
		for (; i < s->nidx; i++) {
			int64_t base = s->base + s->idx[i].rel;
			if (base >= limit)
				break;
			int64_t next_pos = i + 1 < s->nidx ? s->idx[i + 1].pos : s->size;
			if (out->bytes + (next_pos - start) > max_bytes && !(first && end == start))
				break;
			if (first && end == start)
				out->from = base;
			end = next_pos;
			plan_push_batch(out, &cap, base, s->idx[i].append_ms);
			out->to = i + 1 < s->nidx ? s->base + s->idx[i + 1].rel : s->next;
		}
		if (end > start) {
			int fd = dup(s->fd);
			if (fd < 0) {
				br_read_plan_free(out);
				return br_errno(err, BR_EIO, "dup segment of %s/%d", p->topic->name, p->id);
			}
			out->spans = br_xrealloc(out->spans, (out->nspans + 1) * sizeof *out->spans);
			out->spans[out->nspans++] = (br_read_span){ fd, start, end - start };
			out->bytes += end - start;
			first = false;
		}
		if (i < s->nidx || out->bytes >= max_bytes)
			break; /* stopped inside this segment */
		offset = s->next;
	}
	return 0;
}

int br_read_plan_exec(const br_read_plan *plan, br_buf *out, br_err *err)
{
	br_buf_reserve(out, (size_t)plan->bytes);
	for (size_t k = 0; k < plan->nspans; k++) {
		const br_read_span *sp = &plan->spans[k];
		uint8_t *dst = br_buf_grow(out, (size_t)sp->len);
		if (read_all(sp->fd, dst, (size_t)sp->len, (off_t)sp->pos)) {
			out->len -= (size_t)sp->len;
			return br_errno(err, BR_EIO, "read %" PRId64 " bytes at %" PRId64, sp->len, sp->pos);
		}
	}
	return 0;
}

void br_read_plan_free(br_read_plan *plan)
{
	for (size_t k = 0; k < plan->nspans; k++)
		close(plan->spans[k].fd);
	free(plan->spans);
	free(plan->batch_base);
	free(plan->batch_append);
	memset(plan, 0, sizeof *plan);
}

int64_t br_partition_bytes_after(const br_partition *p, int64_t offset)
{
	if (offset >= p->hw)
		return 0;
	if (offset < 0)
		offset = 0;
	int64_t total = 0;
	for (size_t si = seg_find(p, offset); si < p->nsegs; si++) {
		const br_segment *s = p->segs[si];
		if (!s->nidx)
			continue;
		int64_t from = offset > s->base ? s->idx[idx_find(s, offset)].pos : 0;
		total += pos_of_boundary(s, p->hw < s->next ? p->hw : s->next) - from;
		if (p->hw <= s->next)
			break;
	}
	return total;
}

int64_t br_partition_append_time(br_partition *p, int64_t offset)
{
	if (offset < br_partition_start_offset(p) || offset >= p->leo)
		return -1;
	br_segment *s = p->segs[seg_find(p, offset)];
	if (!s->nidx || offset >= s->next)
		return -1;
	return s->idx[idx_find(s, offset)].append_ms;
}

/* Within one batch, the first record with timestamp >= ts (decompressing the
 * batch when it is compressed). Under LogAppendTime every record carries the
 * batch's maxTimestamp, so the batch's first offset is the answer. */
static void first_in_batch(const uint8_t *b, size_t n, int64_t ts, int64_t *off, int64_t *found)
{
	*off = (int64_t)br_rd_be64(b);
	*found = batch_max_ts(b);
	if (br_rd_be16(b + OFF_ATTR) & 8)
		return;
	br_rb_iter it;
	br_rb_iter_init(&it, b, n, (size_t)256 << 20, BR_RB_SKIP_CRC);
	br_record rec;
	while (br_rb_iter_next(&it, &rec, NULL) == 1)
		if (rec.timestamp >= ts) {
			*off = rec.offset;
			*found = rec.timestamp;
			break;
		}
	br_rb_iter_free(&it);
}

int br_partition_offset_for_time(br_partition *p, int64_t ts, int64_t *offset, int64_t *found_ts, br_err *err)
{
	*offset = -1;
	*found_ts = -1;
	for (size_t si = 0; si < p->nsegs; si++) {
		br_segment *s = p->segs[si];
		if (!s->nidx || s->max_ts < ts || s->base >= p->hw)
			continue;
		/* start after the last time-index entry whose max is still below ts */
		size_t start = 0;
		for (size_t k = 0; k < s->ntidx && s->tidx[k].ts < ts; k++) {
			size_t j = idx_find(s, s->base + s->tidx[k].rel);
			start = j + 1;
		}
		uint8_t hdr[HDR];
		for (size_t i = start; i < s->nidx && s->base + s->idx[i].rel < p->hw; i++) {
			if (read_all(s->fd, hdr, HDR, s->idx[i].pos))
				return br_errno(err, BR_EIO, "read %s/%d", p->topic->name, p->id);
			if (batch_max_ts(hdr) < ts)
				continue;
			size_t n = (size_t)br_rd_be32(hdr + OFF_LEN) + 12;
			uint8_t *b = br_xmalloc(n);
			if (read_all(s->fd, b, n, s->idx[i].pos)) {
				free(b);
				return br_errno(err, BR_EIO, "read %s/%d", p->topic->name, p->id);
			}
			first_in_batch(b, n, ts, offset, found_ts);
			free(b);
			return 0;
		}
	}
	return 0;
}

int br_partition_max_timestamp(br_partition *p, int64_t *offset, int64_t *ts, br_err *err)
{
	*offset = *ts = -1;
	int64_t best = -1;
	for (size_t si = 0; si < p->nsegs; si++)
		if (p->segs[si]->nidx && p->segs[si]->base < p->hw && p->segs[si]->max_ts > best)
			best = p->segs[si]->max_ts;
	if (best < 0)
		return 0;
	/* the first record at >= best is the first carrying the maximum */
	return br_partition_offset_for_time(p, best, offset, ts, err);
}

void br_partition_trim_all(br_partition *p)
{
	for (size_t i = 0; i < p->nsegs; i++)
		if (p->segs[i]->fd >= 0) {
			int fd = dup(p->segs[i]->fd);
			if (fd >= 0)
				br_log_trim_add(p->log, fd);
		}
}

int64_t br_partition_start_offset(const br_partition *p) { return p->segs[0]->base; }
int64_t br_partition_end_offset(const br_partition *p) { return p->leo; }
int64_t br_partition_high_watermark(const br_partition *p) { return p->hw; }
int32_t br_partition_id(const br_partition *p) { return p->id; }
br_topic *br_partition_topic(const br_partition *p) { return p->topic; }

/* ---- retention ---- */

/* Unlinks a segment's files; its data's blocks are freed gradually (log.c:
 * gentle deletion), which keeps the fd. */
static void seg_delete(br_partition *p, br_segment *s)
{
	const char *exts[] = { "log", "index", "timeindex" };
	for (size_t i = 0; i < 3; i++) {
		char *path = seg_path(p, s->base, exts[i]);
		if (unlink(path) && errno != ENOENT)
			br_warn("retention: cannot delete %s: %s", path, strerror(errno));
		else if (i == 0 && s->fd >= 0) { /* nameless now: trimmed, never read again */
			br_log_trim_add(p->log, s->fd);
			s->fd = -1;
		}
		free(path);
	}
	seg_free(s);
}

int br_partition_retention(br_partition *p, int64_t now_ms)
{
	const br_topic *t = p->topic;
	br_segment *a = seg_active(p);
	/* an active segment past segment.ms, or wholly expired, is sealed first */
	if (a->nidx && a->size && p->hw == p->leo &&
	    ((t->segment_ms > 0 && now_ms - a->first_append >= t->segment_ms) ||
	     (t->retention_ms >= 0 && now_ms - a->max_append > t->retention_ms)))
		if (br_partition_roll(p, now_ms, NULL))
			br_warn("retention: roll of %s/%d failed", t->name, p->id);
	int64_t total = 0;
	for (size_t i = 0; i < p->nsegs; i++)
		total += p->segs[i]->size;
	int deleted = 0;
	/* what a reader elsewhere (tiering) still needs: asked once per partition */
	int64_t keep = INT64_MAX;
	if (p->nsegs > 1 && t->log->guard)
		keep = t->log->guard(t->log->guard_arg, t, p->id);
	while (p->nsegs > 1) {
		br_segment *s = p->segs[0];
		bool by_time = t->retention_ms >= 0 && now_ms - s->max_append > t->retention_ms;
		bool by_size = t->retention_bytes >= 0 && total - s->size >= t->retention_bytes;
		/* only what is durable may go: a segment beyond hw has unflushed bytes */
		if ((!by_time && !by_size) || s->next > p->hw)
			break;
		if (s->next > keep) {
			if (!p->guard_warned)
				br_info("retention: %s/%d keeps offsets from %" PRId64 " on: not yet in the lake (frontier %" PRId64 ")",
					t->name, p->id, s->base, keep);
			p->guard_warned = true;
			break;
		}
		p->guard_warned = false;
		total -= s->size;
		memmove(p->segs, p->segs + 1, (p->nsegs - 1) * sizeof *p->segs);
		p->nsegs--;
		seg_delete(p, s);
		deleted++;
	}
	return deleted;
}

/* ---- recovery ---- */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Loads the entries of a .index file that are consistent (increasing, inside the
 * file); returns how many were loaded. */
static size_t seg_load_index_entries(br_partition *p, br_segment *s, int64_t file_size)
{
	char *path = seg_path(p, s->base, "index");
	char *data = NULL;
	size_t n = 0;
	if (br_read_file(path, &data, &n, NULL))
		n = 0;
	free(path);
	for (size_t off = 0; off + 16 <= n; off += 16) {
		const uint8_t *e = (const uint8_t *)data + off;
		uint32_t rel = br_rd_be32(e), pos = br_rd_be32(e + 4);
		bool ok = s->nidx ? rel > s->idx[s->nidx - 1].rel && pos > s->idx[s->nidx - 1].pos : rel == 0 && pos == 0;
		if (!ok || pos >= file_size)
			break;
		idx_push(s, rel, pos, (int64_t)br_rd_be64(e + 8));
	}
	free(data);
	return s->nidx;
}

/* Loads the .index of a sealed segment; false when missing or inconsistent with
 * the data file (then the caller rebuilds it by a scan). */
static bool seg_load_index(br_partition *p, br_segment *s, int64_t file_size)
{
	if (!seg_load_index_entries(p, s, file_size))
		return false;
	uint8_t hdr[HDR];
	br_idx_entry *last = &s->idx[s->nidx - 1];
	if (read_all(s->fd, hdr, HDR, last->pos) || hdr[OFF_MAGIC] != 2 ||
	    (int64_t)br_rd_be64(hdr) != s->base + last->rel ||
	    last->pos + (int64_t)(int32_t)br_rd_be32(hdr + OFF_LEN) + 12 != file_size) {
		s->nidx = 0;
		return false;
	}
	s->next = s->base + last->rel + batch_last_delta(hdr) + 1;
	s->size = file_size;
	return true;
}

static bool seg_load_timeindex(br_partition *p, br_segment *s)
{
	char *path = seg_path(p, s->base, "timeindex");
	char *data = NULL;
	size_t n = 0;
	bool ok = br_read_file(path, &data, &n, NULL) == 0 && n % 12 == 0;
	free(path);
	for (size_t off = 0; ok && off < n; off += 12) {
		const uint8_t *e = (const uint8_t *)data + off;
		int64_t ts = (int64_t)br_rd_be64(e);
		uint32_t rel = br_rd_be32(e + 8);
		if (s->ntidx && (ts < s->tidx[s->ntidx - 1].ts || rel < s->tidx[s->ntidx - 1].rel))
			ok = false;
		else {
			if (s->ntidx == s->tidx_cap) {
				s->tidx_cap = s->tidx_cap ? s->tidx_cap * 2 : 16;
				s->tidx = br_xrealloc(s->tidx, s->tidx_cap * sizeof *s->tidx);
			}
			s->tidx[s->ntidx++] = (br_tidx_entry){ ts, rel };
			s->max_ts = ts;
		}
	}
	free(data);
	if (!ok) {
		s->ntidx = 0;
		s->max_ts = -1;
	}
	return ok;
}

/* Scans a segment's batches, verifying each, rebuilding the indexes in memory, and
 * truncating the file at the first invalid batch. Append times come from the old
 * index where it still matches, else from the previous batch. */
static int seg_scan(br_partition *p, br_segment *s, int64_t file_size, br_err *err)
{
	br_idx_entry *old = s->idx;
	size_t nold = s->nidx, oi = 0;
	s->idx = NULL;
	s->nidx = s->idx_cap = 0;
	s->ntidx = 0;
	s->max_ts = s->max_append = s->first_append = -1;
	int64_t pos = 0, expect = s->base, prev_append = 0, mtime_ms = 0;
	struct stat st;
	if (fstat(s->fd, &st) == 0)
		mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	size_t cap = 1 << 20;
	uint8_t *buf = br_xmalloc(cap);
	const char *why = NULL;
	while (pos < file_size) {
		uint8_t hdr[HDR];
		if (file_size - pos < HDR || read_all(s->fd, hdr, HDR, pos)) {
			why = "truncated batch header";
			break;
		}
		int64_t blen = (int32_t)br_rd_be32(hdr + OFF_LEN);
		if (blen < HDR - 12 || pos + blen + 12 > file_size) {
			why = "batch extends past the end of the file";
			break;
		}
		size_t n = (size_t)blen + 12;
		if (n > cap) {
			cap = n;
			buf = br_xrealloc(buf, cap);
		}
		if (read_all(s->fd, buf, n, pos)) {
			why = "read failed";
			break;
		}
		if (!batch_check(buf, n, true, &why))
			break;
		if ((int64_t)br_rd_be64(buf) != expect) {
			why = "offset not contiguous with the previous batch";
			break;
		}
		uint32_t rel = (uint32_t)(expect - s->base);
		while (oi < nold && old[oi].rel < rel)
			oi++;
		/* a batch whose index entry was not synced gets the data file's mtime: an
		 * upper bound of its true append time (retention keeps it at least as long),
		 * never below the previous batch's */
		int64_t at = oi < nold && old[oi].rel == rel && old[oi].pos == pos ? old[oi].append_ms
		                                                                    : BR_MAX(prev_append, mtime_ms);
		idx_push(s, rel, (uint32_t)pos, at);
		prev_append = at;
		tidx_note(s, batch_max_ts(buf), rel, (uint32_t)pos);
		expect += batch_last_delta(buf) + 1;
		pos += (int64_t)n;
	}
	free(buf);
	free(old);
	s->size = pos;
	s->next = expect;
	if (pos < file_size) {
		br_warn("recovery: %s/%d segment %" PRId64 ": cutting %" PRId64 " bytes at position %" PRId64 " (%s)",
		        p->topic->name, p->id, s->base, file_size - pos, pos, why ? why : "invalid batch");
		if (ftruncate(s->fd, pos) || fdatasync(s->fd))
			return br_errno(err, BR_EIO, "truncate %s/%d segment %" PRId64, p->topic->name, p->id, s->base);
	}
	return seg_write_indexes(p, s, err);
}

static int seg_load(br_partition *p, int64_t base, bool active, br_segment **out, br_err *err)
{
	br_segment *s = br_xcalloc(1, sizeof *s);
	s->base = s->next = base;
	s->ifd = s->tfd = -1;
	s->max_ts = s->max_append = s->first_append = -1;
	char *path = seg_path(p, base, "log");
	s->fd = open(path, (active ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	int rc = 0;
	struct stat st;
	if (s->fd < 0 || fstat(s->fd, &st))
		rc = br_errno(err, BR_EIO, "open segment %s", path);
	free(path);
	if (rc) {
		seg_free(s);
		return rc;
	}
	if (active) {
		/* the old index entries give the append times the scan keeps */
		seg_load_index_entries(p, s, st.st_size);
		rc = seg_scan(p, s, st.st_size, err);
		if (!rc)
			rc = seg_open_index_fds(p, s, err);
	} else if (!seg_load_index(p, s, st.st_size)) {
		br_warn("recovery: %s/%d segment %" PRId64 ": index missing or inconsistent, rebuilding", p->topic->name, p->id, base);
		rc = seg_scan(p, s, st.st_size, err);
	} else if (!seg_load_timeindex(p, s)) {
		rc = seg_scan(p, s, st.st_size, err);
	}
	if (rc) {
		seg_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Producer state from the batch headers of the last two segments: enough for the
 * retries of any producer active recently. */
static void rebuild_producers(br_partition *p)
{
	size_t from = p->nsegs > 2 ? p->nsegs - 2 : 0;
	uint8_t hdr[HDR];
	for (size_t si = from; si < p->nsegs; si++) {
		br_segment *s = p->segs[si];
		for (size_t i = 0; i < s->nidx; i++)
			if (!read_all(s->fd, hdr, HDR, s->idx[i].pos))
				producer_record(p, hdr, (int64_t)br_rd_be64(hdr));
	}
}

int br_partition_open(br_partition **out, br_topic *t, int32_t id, br_err *err)
{
	br_partition *p = br_xcalloc(1, sizeof *p);
	p->topic = t;
	p->log = t->log;
	p->id = id;
	p->dir = br_xasprintf("%s/%d", t->dir, id);
	int rc = br_mkdirs(p->dir, err);
	DIR *d = rc ? NULL : opendir(p->dir);
	if (!rc && !d)
		rc = br_errno(err, BR_EIO, "open %s", p->dir);
	int64_t *bases = NULL;
	size_t nb = 0, cap = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n != 24 || strcmp(e->d_name + 20, ".log"))
			continue;
		char *end;
		long long v = strtoll(e->d_name, &end, 10);
		if (end != e->d_name + 20 || v < 0)
			continue;
		if (nb == cap)
			bases = br_xrealloc(bases, (cap = cap ? cap * 2 : 8) * sizeof *bases);
		bases[nb++] = v;
	}
	if (d)
		closedir(d);
	if (!rc && nb)
		qsort(bases, nb, sizeof *bases, cmp_i64);
	for (size_t i = 0; !rc && i < nb; i++) {
		br_segment *s;
		rc = seg_load(p, bases[i], i + 1 == nb, &s, err);
		if (rc)
			break;
		if (p->nsegs && p->segs[p->nsegs - 1]->next != s->base)
			br_warn("recovery: %s/%d: gap between segments at %" PRId64 " and %" PRId64, t->name, id,
			        p->segs[p->nsegs - 1]->next, s->base);
		p->segs = br_xrealloc(p->segs, (p->nsegs + 1) * sizeof *p->segs);
		p->segs[p->nsegs++] = s;
	}
	free(bases);
	if (!rc && !p->nsegs) {
		br_segment *s;
		rc = seg_create(p, 0, true, &s, err);
		if (!rc) {
			p->segs = br_xmalloc(sizeof *p->segs);
			p->segs[p->nsegs++] = s;
		}
	}
	if (rc) {
		br_partition_free(p, false);
		return rc;
	}
	p->leo = p->hw = p->ihw = seg_active(p)->next;
	rebuild_producers(p);
	*out = p;
	return 0;
}

void br_partition_free(br_partition *p, bool sync)
{
	for (size_t i = 0; i < p->nsegs; i++) {
		br_segment *s = p->segs[i];
		if (sync && s->fd >= 0 && s->ifd >= 0) {
			if (fdatasync(s->fd) || fdatasync(s->ifd))
				br_warn("close: fsync of %s/%d failed: %s", p->topic->name, p->id, strerror(errno));
			if (s->tfd >= 0 && fdatasync(s->tfd))
				br_warn("close: fsync of %s/%d time index failed", p->topic->name, p->id);
		}
		seg_free(s);
	}
	free(p->segs);
	size_t it = 0;
	br_map_slot *slot;
	while (br_map_next(&p->producers, &it, &slot))
		free(slot->val);
	br_map_free(&p->producers);
	free(p->dir);
	free(p);
}
