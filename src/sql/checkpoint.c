/* checkpoint.c — the view checkpoint file, <data>/sql/views.ckpt.
 *
 * LAYOUT (big-endian fixed fields, varints as in base/buf.h):
 *   0   8  magic "BRAIDCKP"
 *   8   4  file format version (BR_CKPT_FORMAT)
 *   12  4  operator state version (BR_CKPT_STATE_VERSION, flow/ckpt.h)
 *   16  8  written at, ms since the epoch (for log lines only)
 *   24  8  body length N
 *   32  N  body:
 *            uvarint ntables, per table: bytes name, 16 bytes topic id,
 *                    uvarint nparts, per partition varint next offset
 *            uvarint nviews, per view: bytes name, be64 hash of its CREATE
 *                    statement, be64 circuit shape, bytes operator state
 *   32+N 4 CRC-32C of bytes [0, 32+N)
 * (bytes = uvarint length, then the bytes.) A file is valid only when its
 * size is exactly 36+N, the magic, both versions and the checksum match and
 * the body parses to its last byte.
 *
 * WHAT ONE FILE MEANS. It is one consistent cut: every view's state reflects
 * exactly the tables' offsets written beside it (the session writes it
 * between two polls, when every view has taken every delta the catalog read).
 * A restart loads the tables up to those offsets, loads each view's state,
 * then hands the views the effective delta of everything after the offsets
 * (catalog_topic.c), so a view continues as if it had never stopped.
 *
 * CRASH STORY. The file is replaced with br_write_file_atomic (temp file,
 * fsync, rename, fsync of the directory): a crash leaves the old checkpoint
 * or the new one, never a mix. A file that is torn anyway (a disk that lies,
 * a user's editor) fails the checksum; a file written by another binary
 * fails the version checks; a view whose SQL or circuit shape changed fails
 * its hashes. Every such case is logged and the affected views rebuild from
 * lake + log, which is always correct, only slower. A checkpoint never holds
 * anything a crash could take back: the offsets are below the log's high
 * watermarks (the catalog reads only durable records). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/map.h"
#include "base/util.h"
#include "flow/ckpt.h"
#include "sql/checkpoint.h"

#define MAGIC "BRAIDCKP"
#define HDR 32

uint64_t br_ckpt_hash(const char *text) { return br_hash(text, strlen(text)); }

static char *get_str(br_cur *c)
{
	uint32_t n;
	const uint8_t *p = br_ck_get_bytes(c, &n);
	if (c->bad)
		return NULL;
	char *s = br_xmalloc((size_t)n + 1);
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

void br_ckpt_free(br_sql_ckpt *ck)
{
	if (!ck)
		return;
	for (int i = 0; i < ck->ntables; i++) {
		free(ck->tables[i].name);
		free(ck->tables[i].next);
	}
	for (int i = 0; i < ck->nviews; i++)
		free(ck->views[i].name);
	free(ck->tables);
	free(ck->views);
	free(ck->bytes);
	free(ck);
}

static int decode_body(br_sql_ckpt *ck, br_cur *c, br_err *err)
{
	uint64_t nt = br_ck_get_count(c);
	ck->tables = br_xcalloc(nt + 1, sizeof *ck->tables);
	for (uint64_t i = 0; i < nt && !c->bad; i++) {
		br_ckpt_table *t = &ck->tables[ck->ntables];
		t->name = get_str(c);
		const uint8_t *id = br_cur_take(c, 16);
		uint64_t np = br_ck_get_count(c);
		if (c->bad || np > INT32_MAX) {
			free(t->name);
			c->bad = true;
			break;
		}
		ck->ntables++;
		memcpy(t->topic_id, id, 16);
		t->nparts = (int32_t)np;
		t->next = br_xcalloc(np + 1, sizeof *t->next);
		for (uint64_t p = 0; p < np; p++) {
			t->next[p] = br_ck_get_int(c);
			if (t->next[p] < 0)
				c->bad = true;
		}
	}
	uint64_t nv = br_ck_get_count(c);
	ck->views = br_xcalloc(nv + 1, sizeof *ck->views);
	for (uint64_t i = 0; i < nv && !c->bad; i++) {
		br_ckpt_view *v = &ck->views[ck->nviews];
		v->name = get_str(c);
		v->sql_hash = br_cur_be64(c);
		v->shape = br_cur_be64(c);
		uint32_t len;
		v->state = br_ck_get_bytes(c, &len);
		v->len = len;
		if (c->bad) {
			free(v->name);
			break;
		}
		ck->nviews++;
	}
	if (c->bad)
		return br_errf(err, BR_ECORRUPT, "checkpoint: body is truncated or malformed");
	if (br_cur_left(c))
		return br_errf(err, BR_ECORRUPT, "checkpoint: %zu bytes after the last view", br_cur_left(c));
	return 0;
}

int br_ckpt_decode(uint8_t *p, size_t n, br_sql_ckpt **out, br_err *err)
{
	*out = NULL;
	br_sql_ckpt *ck = br_xcalloc(1, sizeof *ck);
	ck->bytes = p;
	ck->nbytes = n;
	int rc = 0;
	if (n < HDR + 4 || memcmp(p, MAGIC, 8)) {
		rc = br_errf(err, BR_ECORRUPT, "checkpoint: not a checkpoint file (%zu bytes, bad magic or too short)", n);
		goto done;
	}
	uint32_t fmt = br_rd_be32(p + 8), sv = br_rd_be32(p + 12);
	uint64_t blen = br_rd_be64(p + 24);
	ck->written_ms = (int64_t)br_rd_be64(p + 16);
	if (fmt != BR_CKPT_FORMAT || sv != BR_CKPT_STATE_VERSION) {
		rc = br_errf(err, BR_EUNSUPPORTED, "checkpoint: written in format %u with state version %u, this braid "
			     "reads format %d, state version %d", fmt, sv, BR_CKPT_FORMAT, BR_CKPT_STATE_VERSION);
		goto done;
	}
	if (blen != n - HDR - 4) {
		rc = br_errf(err, BR_ECORRUPT, "checkpoint: body length %llu, the file holds %zu (torn write?)",
			     (unsigned long long)blen, n - HDR - 4);
		goto done;
	}
	uint32_t want = br_rd_be32(p + n - 4), got = br_crc32c(0, p, n - 4);
	if (want != got) {
		rc = br_errf(err, BR_ECORRUPT, "checkpoint: checksum 0x%08x, expected 0x%08x", got, want);
		goto done;
	}
	br_cur c = br_cur_make(p + HDR, (size_t)blen);
	rc = decode_body(ck, &c, err);
done:
	if (rc) {
		br_ckpt_free(ck);
		return rc;
	}
	*out = ck;
	return 0;
}

int br_ckpt_read(const char *path, br_sql_ckpt **out, br_err *err)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return br_errf(err, BR_ENOTFOUND, "%s: no checkpoint", path);
	fclose(f);
	char *p;
	size_t n;
	int rc = br_read_file(path, &p, &n, err);
	if (rc)
		return rc;
	rc = br_ckpt_decode((uint8_t *)p, n, out, err);
	return rc ? br_errctx(err, "%s", path) : 0;
}

const br_ckpt_table *br_ckpt_find_table(const br_sql_ckpt *ck, const char *name)
{
	for (int i = 0; ck && i < ck->ntables; i++)
		if (!strcmp(ck->tables[i].name, name))
			return &ck->tables[i];
	return NULL;
}

const br_ckpt_view *br_ckpt_find_view(const br_sql_ckpt *ck, const char *name)
{
	for (int i = 0; ck && i < ck->nviews; i++)
		if (!strcmp(ck->views[i].name, name))
			return &ck->views[i];
	return NULL;
}

void br_ckpt_forget_table(br_sql_ckpt *ck, const char *name)
{
	for (int i = 0; ck && i < ck->ntables; i++)
		if (!strcmp(ck->tables[i].name, name)) {
			free(ck->tables[i].name);
			free(ck->tables[i].next);
			ck->tables[i] = ck->tables[--ck->ntables];
			return;
		}
}

/* ------------------------------------------------------------- writing */

void br_ckpt_writer_init(br_ckpt_writer *w) { memset(w, 0, sizeof *w); }

void br_ckpt_writer_free(br_ckpt_writer *w)
{
	br_buf_free(&w->body);
	br_buf_free(&w->tables);
	br_buf_free(&w->views);
}

void br_ckpt_add_table(br_ckpt_writer *w, const char *name, const uint8_t topic_id[16], int32_t nparts,
		       const int64_t *next)
{
	br_ck_bytes(&w->tables, name, strlen(name));
	br_buf_put(&w->tables, topic_id, 16);
	br_buf_uvarint(&w->tables, (uint64_t)nparts);
	for (int32_t p = 0; p < nparts; p++)
		br_ck_int(&w->tables, next[p]);
	w->ntables++;
}

void br_ckpt_add_view(br_ckpt_writer *w, const char *name, uint64_t sql_hash, uint64_t shape, const uint8_t *state,
		      size_t len)
{
	br_ck_bytes(&w->views, name, strlen(name));
	br_buf_be64(&w->views, sql_hash);
	br_buf_be64(&w->views, shape);
	br_ck_bytes(&w->views, state, len);
	w->nviews++;
}

void br_ckpt_finish(br_ckpt_writer *w, int64_t now_ms, br_buf *out)
{
	br_buf_reset(&w->body);
	br_buf_uvarint(&w->body, w->ntables);
	br_buf_put(&w->body, w->tables.p, w->tables.len);
	br_buf_uvarint(&w->body, w->nviews);
	br_buf_put(&w->body, w->views.p, w->views.len);
	br_buf_reset(out);
	br_buf_put(out, MAGIC, 8);
	br_buf_be32(out, BR_CKPT_FORMAT);
	br_buf_be32(out, BR_CKPT_STATE_VERSION);
	br_buf_be64(out, (uint64_t)now_ms);
	br_buf_be64(out, w->body.len);
	br_buf_put(out, w->body.p, w->body.len);
	br_buf_be32(out, br_crc32c(0, out->p, out->len));
	br_buf_reset(&w->tables);
	br_buf_reset(&w->views);
	w->ntables = w->nviews = 0;
}

/* ------------------------------------------------------ the session side
 *
 * WHEN. After every poll (br_sql_poll: the follower's 100 ms timer and every
 * statement) br_sql_ckpt_maybe writes one when interval_ms passed since the
 * last or when the catalog read `records` records since (the sum of its
 * tables' offsets moved that much). br_sql_close writes a last one. Writing
 * happens on the caller's thread (the broker loop): it serializes every
 * view's state and fsyncs the file, O(state) per checkpoint — the reason the
 * interval is seconds, not milliseconds. */

#include "sql/sql.h"

struct br_sql_ckst {
	int64_t interval_ms, records;
	int64_t last_ms;        /* monotonic ms of the last write (or of the start) */
	int64_t last_read;      /* the catalog's summed offsets then */
	int phase;              /* 0 running, 1 loading views, 2 rebuilding the others */
	br_sql_ckpt *ck;        /* phase 1 */
	bool warned;            /* a failed write was logged */
	uint32_t last_crc;      /* of the last file written: an identical one is not rewritten */
	size_t last_len;
	int level;              /* of restart lines: info once a policy was set (braid serve), else debug
				   (`braid sql` prints nothing but answers) */
};

static int64_t mono_ms(void) { return br_mono_ns() / 1000000; }

/* The sum of every table's offsets: how far the catalog has read. */
static int64_t read_sum(br_sql *s)
{
	br_catalog *cat = br_sql_catalog(s);
	if (!cat->vt->list || !cat->vt->offsets)
		return 0;
	char **names;
	int n;
	int64_t sum = 0;
	if (cat->vt->list(cat, &names, &n))
		return 0;
	for (int i = 0; i < n; i++) {
		const int64_t *next;
		int32_t np;
		uint8_t id[16];
		if (!cat->vt->offsets(cat, names[i], &next, &np, id))
			for (int32_t p = 0; p < np; p++)
				sum += next[p];
		free(names[i]);
	}
	free(names);
	return sum;
}

static br_sql_ckst *ckst(br_sql *s)
{
	br_sql_ckst **slot = br_sql_ckpt_slot(s);
	if (!*slot) {
		*slot = br_xcalloc(1, sizeof **slot);
		(*slot)->interval_ms = 10000;
		(*slot)->last_ms = mono_ms();
		(*slot)->last_read = -1; /* counted from the first poll */
		(*slot)->level = BR_LOG_DEBUG;
	}
	return *slot;
}

void br_sql_set_checkpoint(br_sql *s, int64_t interval_ms, int64_t records)
{
	br_sql_ckst *st = ckst(s);
	st->interval_ms = interval_ms > 0 ? interval_ms : 0;
	st->records = records > 0 ? records : 0;
	st->level = BR_LOG_INFO;
}

typedef struct save_ctx {
	br_ckpt_writer w;
	br_buf state;
	int nviews, skipped;
} save_ctx;

static void save_view(void *arg, const char *name, const char *sql, struct br_circuit *c, const char *skip)
{
	save_ctx *x = arg;
	br_err err = { 0 };
	if (skip) {
		br_logf(BR_LOG_DEBUG, "view checkpoint: view %s left out: %s", name, skip);
		x->skipped++;
		return;
	}
	br_buf_reset(&x->state);
	if (br_circuit_save(c, &x->state, &err)) {
		br_logf(BR_LOG_DEBUG, "view checkpoint: view %s left out: %s", name, err.msg);
		x->skipped++;
		return;
	}
	br_ckpt_add_view(&x->w, name, br_ckpt_hash(sql ? sql : ""), br_circuit_shape(c), x->state.p, x->state.len);
	x->nviews++;
}

int br_sql_checkpoint(br_sql *s, br_err *err)
{
	br_catalog *cat = br_sql_catalog(s);
	const char *path = cat->vt->ckpt_path ? cat->vt->ckpt_path(cat) : NULL;
	if (!path || !cat->vt->list || !cat->vt->offsets)
		return 0;
	int64_t t0 = br_mono_ns();
	save_ctx x = { 0 };
	br_ckpt_writer_init(&x.w);
	char **names;
	int n;
	if (!cat->vt->list(cat, &names, &n)) {
		for (int i = 0; i < n; i++) {
			const int64_t *next;
			int32_t np;
			uint8_t id[16];
			if (!cat->vt->offsets(cat, names[i], &next, &np, id))
				br_ckpt_add_table(&x.w, names[i], id, np, next);
			free(names[i]);
		}
		free(names);
	}
	br_sql_each_view(s, save_view, &x);
	br_buf file = { 0 };
	br_ckpt_finish(&x.w, 0, &file);
	/* Nothing moved since the last one (the time field is 0 for the
	 * comparison): skip the fsyncs. */
	br_sql_ckst *st = ckst(s);
	uint32_t crc = br_crc32c(0, file.p, file.len);
	if (crc == st->last_crc && file.len == st->last_len) {
		br_buf_free(&file);
		br_buf_free(&x.state);
		br_ckpt_writer_free(&x.w);
		return 0;
	}
	br_wr_be64(file.p + 16, (uint64_t)br_now_ms());
	br_wr_be32(file.p + file.len - 4, br_crc32c(0, file.p, file.len - 4));
	int rc = br_write_file_atomic(path, file.p, file.len, err);
	if (!rc) {
		st->last_crc = crc;
		st->last_len = file.len;
	}
	if (!rc)
		br_logf(BR_LOG_DEBUG, "view checkpoint: %d views (%d left out), %zu bytes in %.1f ms", x.nviews, x.skipped,
			file.len, (double)(br_mono_ns() - t0) / 1e6);
	br_buf_free(&file);
	br_buf_free(&x.state);
	br_ckpt_writer_free(&x.w);
	return rc;
}

void br_sql_ckpt_maybe(br_sql *s)
{
	br_sql_ckst *st = ckst(s);
	if (st->phase)
		return;
	int64_t now = mono_ms();
	bool due = st->interval_ms && now - st->last_ms >= st->interval_ms;
	if (!due && st->records) {
		int64_t r = read_sum(s);
		if (st->last_read < 0)
			st->last_read = r;
		due = r - st->last_read >= st->records;
	}
	if (!due)
		return;
	br_err err = { 0 };
	st->last_ms = now;
	st->last_read = st->records ? read_sum(s) : 0;
	if (br_sql_checkpoint(s, &err)) {
		if (!st->warned)
			br_warn("view checkpoint not written: %s (views will rebuild from lake + log after a restart)",
				err.msg);
		st->warned = true;
	} else {
		st->warned = false;
	}
}

void br_sql_ckpt_close(br_sql *s)
{
	br_sql_ckst **slot = br_sql_ckpt_slot(s);
	br_catalog *cat = br_sql_catalog(s);
	br_err err = { 0 };
	if (cat->vt->ckpt_path && (!*slot || !(*slot)->phase) && br_sql_checkpoint(s, &err))
		br_warn("view checkpoint at shutdown not written: %s", err.msg);
	if (*slot) {
		br_ckpt_free((*slot)->ck);
		free(*slot);
		*slot = NULL;
	}
}

void br_sql_ckpt_begin_restore(br_sql *s)
{
	br_sql_ckst *st = ckst(s);
	br_catalog *cat = br_sql_catalog(s);
	st->phase = 1;
	st->ck = cat->vt->take_ckpt ? cat->vt->take_ckpt(cat) : NULL;
	if (st->ck)
		br_logf(st->level, "view checkpoint: %d views, %d tables restart from their checkpoint offsets",
			st->ck->nviews, st->ck->ntables);
}

bool br_sql_ckpt_has_view(br_sql *s, const char *name)
{
	br_sql_ckst *st = ckst(s);
	bool has = st->phase == 1 && br_ckpt_find_view(st->ck, name);
	if (st->phase == 1 && st->ck && !has)
		br_logf(st->level, "view %s: not in the checkpoint; it rebuilds from lake + log", name);
	return has;
}

int br_sql_ckpt_load_view(br_sql *s, const char *name, const char *sql, struct br_circuit *c, int ntables,
			  char *const *tables, br_err *err)
{
	br_sql_ckst *st = ckst(s);
	const br_ckpt_view *v = st->phase == 1 ? br_ckpt_find_view(st->ck, name) : NULL;
	if (!v)
		return 0;
	if (v->sql_hash != br_ckpt_hash(sql))
		return br_errf(err, BR_EINVAL, "its SQL differs from the checkpoint's");
	if (v->shape != br_circuit_shape(c))
		return br_errf(err, BR_EINVAL, "its circuit differs from the checkpoint's (another braid version?)");
	/* Every table the view reads must restart from the checkpoint's offsets
	 * (the catalog forgot the tables it could not stop at). */
	for (int i = 0; i < ntables; i++)
		if (tables[i] && !br_ckpt_find_table(st->ck, tables[i]))
			return br_errf(err, BR_EINVAL, "table %s does not restart from the checkpoint", tables[i]);
	int rc = br_circuit_load(c, v->state, v->len, err);
	if (rc)
		return rc;
	br_logf(st->level, "view %s: loaded from its checkpoint", name);
	return 1;
}

void br_sql_ckpt_loaded(br_sql *s)
{
	br_sql_ckst *st = ckst(s);
	st->phase = 2;
	br_ckpt_free(st->ck);
	st->ck = NULL;
}

void br_sql_ckpt_end_restore(br_sql *s)
{
	br_sql_ckst *st = ckst(s);
	st->phase = 0;
	st->last_ms = mono_ms();
	st->last_read = -1;
}
