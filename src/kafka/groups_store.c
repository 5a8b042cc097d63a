/* groups_store.c — committed consumer-group offsets on disk: the file format, its
 * replay at open, durable appends and compaction (API in groups_store.h).
 *
 * FILE LAYOUT. <dir>/offsets.log (the name is fixed: group ids and topic names are
 * client strings and never become file names). It starts with an 8-byte magic
 * "BRGOFS01" and is followed by records, each framed as
 *
 *     u32 len       length of the payload, 1 .. 1 MiB (big-endian, as all integers)
 *     u32 crc       CRC-32C of the payload
 *     payload       len bytes
 *
 * The only payload type so far is a commit (type 1):
 *
 *     u8  type = 1
 *     u16 group length, then the group id bytes
 *     u16 topic length, then the topic name bytes
 *     i32 partition
 *     i64 committed offset
 *     i32 leader epoch (-1 = unknown)
 *     i64 commit time (ms since the epoch)
 *     i32 metadata length (-1 = null), then the metadata bytes (<= 4096)
 *
 * A later commit of the same (group, topic, partition) replaces an earlier one, so
 * the live state is the last record of each key.
 *
 * CRASH STORY. An OffsetCommit request becomes one write() of all its records,
 * followed by fdatasync() before the response is sent: an acknowledged commit is on
 * disk. A crash mid-write leaves a prefix of the records; at open, replay stops at
 * the first record that is short, has an impossible length or a CRC mismatch (or a
 * payload that does not parse), and the file is truncated there. Records before the
 * tear are applied even though their request was never answered; that is allowed
 * (the client retries and commits the same offsets again). A failed write is
 * truncated back at once, so a later good record can never sit behind garbage that
 * replay would cut it off with.
 *
 * COMPACTION. Every commit appends, so the file grows without bound while the live
 * state does not. When the file exceeds both compact_min bytes and 4x the bytes the
 * live records need, the live records are written to offsets.log.tmp, fsynced and
 * renamed over offsets.log (then the directory is fsynced): a crash leaves either
 * the old or the new file, both complete. Cost: O(live state) once per 3x growth.
 *
 * The fdatasync runs synchronously on the loop thread. Consumers commit every few
 * seconds (auto-commit) or per batch, so this costs one disk flush (~0.1-10 ms) per
 * commit request, paid by everything else on the loop; a group-commit timer like
 * the log's would be the next step if commits ever dominate. */
#include "kafka/groups_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/crc32c.h"
#include "base/map.h"
#include "base/util.h"

#define MAGIC "BRGOFS01"
#define MAGIC_LEN 8
#define REC_HDR 8
#define MAX_PAYLOAD (1u << 20)
#define REC_COMMIT 1

typedef struct soff {
	br_goffset o;   /* topic and meta point into this allocation's copies */
	size_t rec_bytes; /* framed size of the record that produced it */
} soff;

typedef struct sgroup {
	br_map offs; /* key: be32 partition + topic bytes -> soff* */
} sgroup;

struct br_gstore {
	char *dir, *path;
	int fd;
	bool broken;    /* a failed write could not be undone: refuse further commits */
	br_map groups;  /* group id -> sgroup* */
	int64_t file_bytes, live_bytes, compact_min;
};

static void key_of(br_buf *k, const char *topic, int32_t tlen, int32_t partition)
{
	br_buf_reset(k);
	br_buf_be32(k, (uint32_t)partition);
	br_buf_put(k, topic, (size_t)tlen);
}

static size_t rec_size(const br_gcommit *c)
{
	return REC_HDR + 1 + 2 + (size_t)c->group_len + 2 + (size_t)c->o.topic_len + 4 + 8 + 4 + 8 + 4 +
	       (c->o.meta ? (size_t)c->o.meta_len : 0);
}

static void encode(br_buf *b, const br_gcommit *c)
{
	size_t at = b->len;
	br_buf_grow(b, REC_HDR);
	size_t start = b->len;
	br_buf_u8(b, REC_COMMIT);
	br_buf_be16(b, (uint16_t)c->group_len);
	br_buf_put(b, c->group, (size_t)c->group_len);
	br_buf_be16(b, (uint16_t)c->o.topic_len);
	br_buf_put(b, c->o.topic, (size_t)c->o.topic_len);
	br_buf_be32(b, (uint32_t)c->o.partition);
	br_buf_be64(b, (uint64_t)c->o.offset);
	br_buf_be32(b, (uint32_t)c->o.leader_epoch);
	br_buf_be64(b, (uint64_t)c->o.commit_ms);
	br_buf_be32(b, (uint32_t)(c->o.meta ? c->o.meta_len : -1));
	if (c->o.meta)
		br_buf_put(b, c->o.meta, (size_t)c->o.meta_len);
	size_t n = b->len - start;
	br_wr_be32(b->p + at, (uint32_t)n);
	br_wr_be32(b->p + at + 4, br_crc32c(0, b->p + start, n));
}

/* Parses one payload; false if it does not follow the layout. */
static bool decode(const uint8_t *p, size_t n, br_gcommit *c)
{
	br_cur cur = br_cur_make(p, n);
	if (br_cur_u8(&cur) != REC_COMMIT)
		return false;
	c->group_len = br_cur_be16(&cur);
	c->group = (const char *)br_cur_take(&cur, (size_t)c->group_len);
	c->o.topic_len = br_cur_be16(&cur);
	c->o.topic = (const char *)br_cur_take(&cur, (size_t)c->o.topic_len);
	c->o.partition = (int32_t)br_cur_be32(&cur);
	c->o.offset = (int64_t)br_cur_be64(&cur);
	c->o.leader_epoch = (int32_t)br_cur_be32(&cur);
	c->o.commit_ms = (int64_t)br_cur_be64(&cur);
	int32_t ml = (int32_t)br_cur_be32(&cur);
	if (cur.bad || c->group_len > BR_GSTORE_MAX_NAME || c->o.topic_len > BR_GSTORE_MAX_NAME ||
	    ml < -1 || ml > BR_GSTORE_MAX_METADATA)
		return false;
	c->o.meta_len = ml < 0 ? 0 : ml;
	c->o.meta = ml < 0 ? NULL : (const char *)br_cur_take(&cur, (size_t)ml);
	if (ml >= 0 && !c->o.meta)
		return false;
	if (!c->group)
		c->group = "";
	if (!c->o.topic)
		c->o.topic = "";
	return !cur.bad && br_cur_left(&cur) == 0;
}

/* Applies a commit in memory (copying its strings). */
static void apply(br_gstore *s, const br_gcommit *c, br_buf *key)
{
	sgroup *g = br_map_get(&s->groups, c->group, (size_t)c->group_len);
	if (!g) {
		g = br_xcalloc(1, sizeof *g);
		br_map_put(&s->groups, c->group, (size_t)c->group_len, g);
	}
	key_of(key, c->o.topic, c->o.topic_len, c->o.partition);
	size_t ml = c->o.meta ? (size_t)c->o.meta_len : 0;
	soff *o = br_xmalloc(sizeof *o + (size_t)c->o.topic_len + ml + 2);
	char *t = (char *)(o + 1), *m = t + c->o.topic_len + 1;
	memcpy(t, c->o.topic, (size_t)c->o.topic_len);
	t[c->o.topic_len] = 0;
	if (ml)
		memcpy(m, c->o.meta, ml);
	m[ml] = 0;
	o->o = c->o;
	o->o.topic = t;
	o->o.meta = c->o.meta ? m : NULL;
	o->rec_bytes = rec_size(c);
	soff *old = br_map_put(&g->offs, key->p, key->len, o);
	if (old) {
		s->live_bytes -= (int64_t)old->rec_bytes;
		free(old);
	}
	s->live_bytes += (int64_t)o->rec_bytes;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int open_append(br_gstore *s, br_err *err)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (s->fd < 0)
		return br_errno(err, BR_EIO, "%s: open", s->path);
	return 0;
}

/* Replays the file into memory, cutting a torn tail. */
static int replay(br_gstore *s, br_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;
	if (br_path_exists(s->path)) {
		rc = br_read_file(s->path, &data, &len, err);
		if (rc)
			return rc;
	}
	if (len >= MAGIC_LEN && memcmp(data, MAGIC, MAGIC_LEN)) {
		free(data);
		return br_errf(err, BR_ECORRUPT, "%s: not a braid offsets file (bad magic)", s->path);
	}
	if (len < MAGIC_LEN) {
		/* new, or torn while its header was written: start over */
		free(data);
		rc = br_write_file_atomic(s->path, MAGIC, MAGIC_LEN, err);
		if (rc)
			return rc;
		s->file_bytes = MAGIC_LEN;
		return open_append(s, err);
	}
	br_buf key = { 0 };
	size_t pos = MAGIC_LEN, nrec = 0;
	const char *why = NULL;
	while (pos < len) {
		if (len - pos < REC_HDR) {
			why = "short record header";
			break;
		}
		const uint8_t *h = (const uint8_t *)data + pos;
		uint32_t n = br_rd_be32(h), crc = br_rd_be32(h + 4);
		if (n == 0 || n > MAX_PAYLOAD) {
			why = "impossible record length";
			break;
		}
		if (len - pos - REC_HDR < n) {
			why = "short record";
			break;
		}
		if (br_crc32c(0, h + REC_HDR, n) != crc) {
			why = "CRC mismatch";
			break;
		}
		br_gcommit c;
		if (!decode(h + REC_HDR, n, &c)) {
			why = "malformed record";
			break;
		}
		apply(s, &c, &key);
		pos += REC_HDR + n;
		nrec++;
	}
	br_buf_free(&key);
	free(data);
	if (why) {
		br_warn("%s: %s at offset %zu; cutting off %zu tail bytes (%zu records kept)", s->path, why,
		        pos, len - pos, nrec);
		if (truncate(s->path, (off_t)pos) != 0)
			return br_errno(err, BR_EIO, "%s: truncate to %zu", s->path, pos);
	}
	s->file_bytes = (int64_t)pos;
	rc = open_append(s, err);
	if (!rc && why && fdatasync(s->fd) != 0)
		rc = br_errno(err, BR_EIO, "%s: fdatasync", s->path);
	return rc;
}

int br_gstore_open(br_gstore **out, const char *dir, br_err *err)
{
	*out = NULL;
	int rc = br_mkdirs(dir, err);
	if (rc)
		return rc;
	br_gstore *s = br_xcalloc(1, sizeof *s);
	s->fd = -1;
	s->dir = br_xstrdup(dir);
	s->path = br_xasprintf("%s/offsets.log", dir);
	s->compact_min = 1 << 20;
	rc = replay(s, err);
	if (rc) {
		br_gstore_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void br_gstore_close(br_gstore *s)
{
	if (!s)
		return;
	br_map_slot *gs, *os;
	for (size_t i = 0; br_map_next(&s->groups, &i, &gs);) {
		sgroup *g = gs->val;
		for (size_t j = 0; br_map_next(&g->offs, &j, &os);)
			free(os->val);
		br_map_free(&g->offs);
		free(g);
	}
	br_map_free(&s->groups);
	if (s->fd >= 0)
		close(s->fd);
	free(s->dir);
	free(s->path);
	free(s);
}

static bool should_compact(const br_gstore *s)
{
	return s->file_bytes > s->compact_min && s->file_bytes > 4 * (s->live_bytes + MAGIC_LEN);
}

int br_gstore_commit(br_gstore *s, const br_gcommit *c, size_t n, br_err *err)
{
	if (s->broken)
		return br_errf(err, BR_EIO, "%s: an earlier write failed and could not be undone", s->path);
	br_buf b = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (c[i].group_len < 0 || c[i].group_len > BR_GSTORE_MAX_NAME || c[i].o.topic_len < 0 ||
		    c[i].o.topic_len > BR_GSTORE_MAX_NAME ||
		    (c[i].o.meta && (c[i].o.meta_len < 0 || c[i].o.meta_len > BR_GSTORE_MAX_METADATA))) {
			br_buf_free(&b);
			return br_errf(err, BR_EINVAL, "offset commit %zu: name or metadata too long", i);
		}
		encode(&b, &c[i]);
	}
	int rc = 0;
	if (write_all(s->fd, b.p, b.len) != 0 || fdatasync(s->fd) != 0) {
		rc = br_errno(err, BR_EIO, "%s: append %zu bytes at offset %lld", s->path, b.len,
		              (long long)s->file_bytes);
		if (ftruncate(s->fd, (off_t)s->file_bytes) != 0 || fdatasync(s->fd) != 0)
			s->broken = true;
	}
	if (!rc) {
		s->file_bytes += (int64_t)b.len;
		br_buf key = { 0 };
		for (size_t i = 0; i < n; i++)
			apply(s, &c[i], &key);
		br_buf_free(&key);
		if (should_compact(s)) {
			br_err e2;
			/* the commit itself is durable: a failed compaction only leaves a bigger file */
			if (br_gstore_compact(s, &e2))
				br_warn("offsets compaction: %s", e2.msg);
		}
	}
	br_buf_free(&b);
	return rc;
}

int br_gstore_compact(br_gstore *s, br_err *err)
{
	br_buf b = { 0 };
	br_buf_put(&b, MAGIC, MAGIC_LEN);
	br_map_slot *gs, *os;
	for (size_t i = 0; br_map_next(&s->groups, &i, &gs);) {
		sgroup *g = gs->val;
		for (size_t j = 0; br_map_next(&g->offs, &j, &os);) {
			br_gcommit c = { gs->key, (int32_t)gs->klen, ((soff *)os->val)->o };
			encode(&b, &c);
		}
	}
	int rc = br_write_file_atomic(s->path, b.p, b.len, err);
	if (!rc) {
		s->file_bytes = (int64_t)b.len;
		rc = open_append(s, err);
		if (rc)
			s->broken = true;
	}
	br_buf_free(&b);
	return rc;
}

const br_goffset *br_gstore_get(const br_gstore *s, const char *group, int32_t glen,
                                const char *topic, int32_t tlen, int32_t partition)
{
	sgroup *g = br_map_get(&s->groups, group, (size_t)glen);
	if (!g)
		return NULL;
	uint8_t stack[256];
	size_t kl = 4 + (size_t)tlen;
	uint8_t *k = kl <= sizeof stack ? stack : br_xmalloc(kl);
	br_wr_be32(k, (uint32_t)partition);
	memcpy(k + 4, topic, (size_t)tlen);
	soff *o = br_map_get(&g->offs, k, kl);
	if (k != stack)
		free(k);
	return o ? &o->o : NULL;
}

static int cmp_off(const void *a, const void *b)
{
	const br_goffset *x = *(const br_goffset *const *)a, *y = *(const br_goffset *const *)b;
	int32_t n = BR_MIN(x->topic_len, y->topic_len);
	int c = memcmp(x->topic, y->topic, (size_t)n);
	if (c)
		return c;
	if (x->topic_len != y->topic_len)
		return x->topic_len < y->topic_len ? -1 : 1;
	return x->partition < y->partition ? -1 : x->partition > y->partition;
}

size_t br_gstore_group_offsets(const br_gstore *s, const char *group, int32_t glen,
                               const br_goffset ***out)
{
	*out = NULL;
	sgroup *g = br_map_get(&s->groups, group, (size_t)glen);
	if (!g || !g->offs.count)
		return 0;
	const br_goffset **v = br_xmalloc(g->offs.count * sizeof *v);
	size_t n = 0;
	br_map_slot *os;
	for (size_t j = 0; br_map_next(&g->offs, &j, &os);)
		v[n++] = &((soff *)os->val)->o;
	qsort(v, n, sizeof *v, cmp_off);
	*out = v;
	return n;
}

bool br_gstore_has_group(const br_gstore *s, const char *group, int32_t glen)
{
	sgroup *g = br_map_get(&s->groups, group, (size_t)glen);
	return g && g->offs.count;
}

bool br_gstore_next_group(const br_gstore *s, size_t *i, const char **id, int32_t *len)
{
	br_map_slot *gs;
	if (!br_map_next(&s->groups, i, &gs))
		return false;
	*id = gs->key;
	*len = (int32_t)gs->klen;
	return true;
}

void br_gstore_set_compact_min(br_gstore *s, int64_t bytes) { s->compact_min = bytes; }
int64_t br_gstore_file_bytes(const br_gstore *s) { return s->file_bytes; }
int64_t br_gstore_live_bytes(const br_gstore *s) { return s->live_bytes + MAGIC_LEN; }
