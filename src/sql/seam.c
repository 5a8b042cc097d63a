/* seam.c — the backfill seam of SQL tables: rows below the lake frontier come
 * from the Iceberg snapshot of kafka.<topic>, the rest from the log.
 *
 * WHY IT IS EXACT. Tiering commits data files and the frontier F (per
 * partition, the next offset not yet in the table) in ONE snapshot (tier.c,
 * EXACTLY ONCE), and compaction's "replace" snapshots keep the rows and the
 * frontier. So the rows of snapshot S with _partition = p are exactly the
 * records of p below F_S[p] that tiering did not dead-letter. We load the
 * table metadata once, take its current snapshot S, read F from S's summary and
 * plan the scan with snapshot_id = S: a commit made meanwhile by the tier
 * thread is a newer snapshot we do not look at, so no offset is skipped or
 * read twice. The caller then reads the log from F[p] on (its reader skips the
 * records below F[p] of a batch that straddles it). Rows at or past F[p] (none
 * in a sane table) are dropped, so the log stays their only source.
 *
 * WHAT THE LAKE CANNOT GIVE. A record that tiering dead-letters is not in the
 * table. For a table without a primary key that is harmless: tiering and the
 * log reader refuse the same records (a value that is not a JSON object or has
 * a value of the wrong type). For an upsert table it is not: a tombstone (null
 * value) is dead-lettered, and a delete that the lake does not show would bring
 * a deleted row back. So an upsert table also reads the dead letters of its
 * topic below the frontier back from the DLQ topic (see read_dead_letters:
 * all of them must be there, counted against the snapshot's
 * braid.dlq.records) and applies lake rows and tombstones together in
 * (_partition, _offset) order, the order the log reader applies them (data
 * files, after compaction especially, need not be in offset order). If the DLQ
 * lost some (its own retention), the table reads the whole log, as before.
 *
 * A TABLE WITH EVENT TIME (spec->ordered) judges rows in log order per
 * partition, with their broker append times: its rows are held and sorted by
 * (_partition, _offset) too, and handed over with _append_time (row_at).
 *
 * WHEN THE LAKE IS NOT USED (the log is read from its start, as before): no
 * table kafka.<topic>, a key_value mode table (no typed columns), no frontier
 * in the current snapshot, a declared column missing from the table or of
 * another type (int read as long and float as double are accepted), or a
 * frontier past the log's high watermark or over more partitions than the
 * topic has (the lake is then not of this log, e.g. a topic deleted and made
 * again under the same name).
 *
 * COST. One pass over the snapshot's data files through br_ice_scan, reading
 * only the table's columns and _partition/_offset (projection: the pages of
 * _key, _headers, the timestamps and unused value columns are never read);
 * an upsert table also holds an encoded copy of every lake row until sorted.
 * There is nothing to push down: the table holds all its rows (views filter
 * later), and the frontier cut is per row (a file straddling it is read).
 * Progress (spec->progress): rows of the snapshot and bytes of its files
 * (total from the manifests, done as the Parquet reader reads them).
 * Snapshot files are never deleted by tiering (compaction only adds a
 * snapshot); `braid table expire` run during the read can make it fail, and
 * the caller then falls back to the log. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/util.h"
#include "flow/flow.h"
#include "iceberg/iceberg.h"
#include "log/records.h"
#include "sql/progress.h"
#include "sql/seam.h"
#include "tier/tier.h"

int br_seam_frontier(const char *frontier_text, const char *dlq_text, const br_seam_spec *spec,
		     int64_t *frontier, char *why, size_t whysz)
{
	if (!frontier_text) {
		snprintf(why, whysz, "the lake snapshot records no frontier");
		return 0;
	}
	if (spec->upsert && dlq_text && strtoll(dlq_text, NULL, 10) != 0 && !(spec->log && spec->tomb)) {
		snprintf(why, whysz, "%s records were dead-lettered (tombstones are, and the lake cannot show "
			 "deletes): an upsert table reads the log", dlq_text);
		return 0;
	}
	int64_t *f = NULL;
	int32_t n = 0;
	br_err e = { 0 };
	if (br_tier_frontier_parse(frontier_text, &f, &n, &e)) {
		snprintf(why, whysz, "the lake frontier does not parse: %s", e.msg);
		return 0;
	}
	int ok = 1;
	if (n > spec->nparts) {
		snprintf(why, whysz, "the lake frontier covers %d partitions, the topic has %d", n, spec->nparts);
		ok = 0;
	}
	for (int32_t p = 0; ok && p < spec->nparts; p++) {
		frontier[p] = p < n && f[p] > 0 ? f[p] : 0;
		if (frontier[p] > spec->high[p]) {
			snprintf(why, whysz, "the lake frontier of partition %d (%" PRId64 ") is past the log's end (%"
				 PRId64 "): the lake is not of this log", p, frontier[p], spec->high[p]);
			ok = 0;
		}
	}
	free(f);
	return ok;
}

/* Where each declared column is in the scanned batches. */
typedef struct colmap {
	int ipart, ioff, iapp;    /* iapp: _append_time, -1 when absent */
	int *idx;
} colmap;

static bool type_fits(br_type_id lake, br_type_id want)
{
	return lake == want || (lake == BR_T_INT && want == BR_T_LONG) || (lake == BR_T_FLOAT && want == BR_T_DOUBLE);
}

static int map_columns(const br_type *root, const br_seam_spec *spec, colmap *m, char *why, size_t whysz)
{
	m->ipart = m->ioff = m->iapp = -1;
	for (int i = 0; i < root->nchildren; i++) {
		const br_field *f = &root->children[i];
		if (f->id == 1 && !strcmp(f->name, "_partition") && f->type->id == BR_T_INT)
			m->ipart = i;
		if (f->id == 2 && !strcmp(f->name, "_offset") && f->type->id == BR_T_LONG)
			m->ioff = i;
		if (f->id == 4 && !strcmp(f->name, "_append_time") && f->type->id == BR_T_TIMESTAMPTZ)
			m->iapp = i;
		if (f->id == 9 && !strcmp(f->name, "_value")) {
			snprintf(why, whysz, "the lake table is in key_value mode (no typed columns)");
			return 0;
		}
	}
	if (m->ipart < 0 || m->ioff < 0) {
		snprintf(why, whysz, "the lake table has no _partition/_offset columns");
		return 0;
	}
	for (int c = 0; c < spec->ncols; c++) {
		m->idx[c] = -1;
		for (int i = 0; i < root->nchildren; i++)
			if (!strcmp(root->children[i].name, spec->cols[c]))
				m->idx[c] = i;
		if (m->idx[c] < 0) {
			snprintf(why, whysz, "column \"%s\" is not in the lake table", spec->cols[c]);
			return 0;
		}
		const br_type *lt = root->children[m->idx[c]].type;
		if (!type_fits(lt->id, spec->types[c])) {
			char a[64], b[64];
			br_type *want = br_type_new(spec->types[c]);
			snprintf(why, whysz, "column \"%s\" is %s in the lake table, %s in the SQL table", spec->cols[c],
				 br_type_name(lt, a, sizeof a), br_type_name(want, b, sizeof b));
			br_type_free(want);
			return 0;
		}
	}
	return 1;
}

/* Row i of b as the declared columns (widening int and float). */
static void get_row(const br_batch *b, const colmap *m, const br_seam_spec *spec, int64_t i, br_value *row)
{
	for (int c = 0; c < spec->ncols; c++) {
		br_value v = br_col_value(&b->cols[m->idx[c]], i);
		if (!v.is_null && v.type == BR_T_INT && spec->types[c] == BR_T_LONG)
			v = br_value_i64(BR_T_LONG, v.v.i32);
		else if (!v.is_null && v.type == BR_T_FLOAT && spec->types[c] == BR_T_DOUBLE)
			v = br_value_f64(v.v.f32);
		v.type = spec->types[c];
		row[c] = v;
	}
}

/* An upsert table's lake row or dead letter, kept until all are sorted by
 * (partition, offset). */
enum { H_ROW, H_TOMB, H_SKIP };
typedef struct held {
	int32_t p;
	int kind;                 /* H_ROW: enc is the encoded row; H_TOMB: the record key (NULL: none) */
	int64_t off;
	int64_t at;               /* H_ROW: _append_time (INT64_MIN: none) */
	int32_t len;
	const uint8_t *enc;
} held;

static int held_cmp(const void *a, const void *b)
{
	const held *x = a, *y = b;
	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return (x->kind > y->kind) - (x->kind < y->kind);
}

typedef struct scanner {
	const br_seam_spec *spec;
	const int64_t *frontier;
	br_seam_row_fn fn;
	void *arg;
	colmap m;
	br_value *row;
	br_arena arena;           /* upsert: encoded rows and dead letters' keys */
	held *hs;
	size_t nh, caph;
	br_buf enc;
} scanner;

static void hold(scanner *s, int32_t p, int64_t off, int64_t at, int kind, const uint8_t *b, int32_t len)
{
	if (s->nh == s->caph) {
		s->caph = s->caph ? s->caph * 2 : 4096;
		s->hs = br_xrealloc(s->hs, s->caph * sizeof *s->hs);
	}
	const uint8_t *copy = NULL;
	if (b) {
		uint8_t *c = br_arena_alloc(&s->arena, len > 0 ? (size_t)len : 1);
		memcpy(c, b, (size_t)len);
		copy = c;
	}
	s->hs[s->nh++] = (held){ p, kind, off, at, len, copy };
}

/* The rows of one scanned batch below the frontier: to fn, or held (upsert). */
static int take_batch(scanner *s, const br_batch *b, br_err *err)
{
	const br_seam_spec *spec = s->spec;
	for (int64_t i = 0; i < b->nrows; i++) {
		int32_t p = br_col_i32(&b->cols[s->m.ipart], i);
		int64_t off = br_col_i64(&b->cols[s->m.ioff], i);
		if (p < 0 || p >= spec->nparts || off >= s->frontier[p])
			continue; /* the log is their source (see the header) */
		get_row(b, &s->m, spec, i, s->row);
		if (!spec->upsert && !spec->ordered) {
			if (spec->pos) {
				spec->pos[0] = p;
				spec->pos[1] = off;
			}
			int rc = s->fn(s->arg, s->row, err);
			if (rc)
				return rc;
			continue;
		}
		br_buf_reset(&s->enc);
		br_row_encode(&s->enc, s->row, spec->ncols);
		int64_t at = s->m.iapp >= 0 && br_col_valid(&b->cols[s->m.iapp], i) ? br_col_i64(&b->cols[s->m.iapp], i)
										      : INT64_MIN;
		hold(s, p, off, at, H_ROW, s->enc.p, (int32_t)s->enc.len);
	}
	return 0;
}

/* The last value of header `name` of r as a NUL-terminated string (tiering
 * appends its braid.source.* headers after the record's own ones). */
static bool header(const br_record *r, const char *name, char *out, size_t cap)
{
	size_t pos = 0, n = strlen(name);
	br_rec_header h;
	bool found = false;
	while (br_record_header_next(r, &pos, &h))
		if (h.key_len == (int32_t)n && !memcmp(h.key, name, n) && h.value && (size_t)h.value_len < cap) {
			memcpy(out, h.value, (size_t)h.value_len);
			out[h.value_len] = 0;
			found = true;
		}
	return found;
}

/* DEAD LETTERS OF AN UPSERT TABLE. Tiering dead-letters tombstones (and
 * records that do not fit) to the DLQ topic with headers braid.source.topic /
 * .partition / .offset, durably BEFORE the commit that moves the frontier past
 * them (tier.c, DEAD LETTERS), and each exactly once. So the dead letters of
 * this topic below F[p] are in the DLQ, and there are braid.dlq.records of
 * them: we hold every one (tombstones to apply, others to skip as the log
 * reader does) and refuse the lake (return 1 with why) unless the count
 * matches — e.g. the DLQ's retention deleted some. */
static int read_dead_letters(scanner *s, const char *topic, int64_t want, char *why, size_t whysz, br_err *err)
{
	const br_seam_spec *spec = s->spec;
	br_topic *tp = br_log_topic(spec->log, topic, strlen(topic));
	const char *cfg = tp ? br_topic_config(tp, "braid.lake.dlq", NULL) : NULL;
	char *name = cfg && *cfg && strcmp(cfg, topic) && !br_topic_name_check(cfg, strlen(cfg), NULL)
			     ? br_xstrdup(cfg) : br_xasprintf("%.240s.dlq", topic);
	br_topic *dt = br_log_topic(spec->log, name, strlen(name));
	br_partition *dp = dt && br_topic_partition_count(dt) > 0 ? br_topic_partition(dt, 0) : NULL;
	int64_t found = 0, off = dp ? br_partition_start_offset(dp) : 0;
	size_t first = s->nh;
	br_buf buf = { 0 };
	int rc = 0;
	while (dp && !rc && off < br_partition_high_watermark(dp)) {
		br_buf_reset(&buf);
		if ((rc = br_partition_read(dp, off, 4 << 20, BR_READ_AT_LEAST_ONE, &buf, err)) || !buf.len)
			break;
		for (size_t pos = 0; !rc && pos < buf.len;) {
			br_rb_hdr h;
			if ((rc = br_rb_parse_header(buf.p + pos, buf.len - pos, pos, &h, err)))
				break;
			size_t size = br_rb_size(&h);
			br_rb_iter it;
			br_rb_iter_init(&it, buf.p + pos, size, 64u << 20, BR_RB_SKIP_CRC);
			br_record r;
			char src[256], ps[16], os[24];
			while ((rc = br_rb_iter_next(&it, &r, err)) == 1) {
				if (r.offset < off || !header(&r, "braid.source.topic", src, sizeof src) ||
				    strcmp(src, topic) || !header(&r, "braid.source.partition", ps, sizeof ps) ||
				    !header(&r, "braid.source.offset", os, sizeof os))
					continue;
				int32_t p = (int32_t)strtol(ps, NULL, 10);
				int64_t o = strtoll(os, NULL, 10);
				if (p < 0 || p >= spec->nparts || o < 0 || o >= s->frontier[p])
					continue;
				hold(s, p, o, INT64_MIN, r.value ? H_SKIP : H_TOMB, r.key, r.key ? r.key_len : -1);
			}
			br_rb_iter_free(&it);
			off = h.base_offset + h.last_offset_delta + 1;
			pos += size;
		}
		if (rc > 0)
			rc = 0;
	}
	br_buf_free(&buf);
	if (rc)
		return br_errctx(err, "reading dead-letter topic %s", name);
	/* distinct (partition, offset) among the dead letters just held */
	qsort(s->hs + first, s->nh - first, sizeof *s->hs, held_cmp);
	for (size_t k = first; k < s->nh; k++)
		found += k == first || s->hs[k].p != s->hs[k - 1].p || s->hs[k].off != s->hs[k - 1].off;
	if (found != want)
		snprintf(why, whysz, "%" PRId64 " records were dead-lettered but %" PRId64 " are in topic %s (the "
			 "tombstones among them are needed): an upsert table reads the log", want, found, name);
	free(name);
	return found == want ? 0 : 1;
}

/* Upsert rows and tombstones in (partition, offset) order, the log reader's. */
static int apply_held(scanner *s, br_err *err)
{
	qsort(s->hs, s->nh, sizeof *s->hs, held_cmp);
	for (size_t k = 0; k < s->nh; k++) {
		held *h = &s->hs[k];
		if (k && h->p == s->hs[k - 1].p && h->off == s->hs[k - 1].off)
			continue; /* an offset twice would be a broken table: apply it once */
		int rc = 0;
		if (s->spec->pos) {
			s->spec->pos[0] = h->p;
			s->spec->pos[1] = h->off;
		}
		if (h->kind == H_ROW && !(rc = br_row_decode(h->enc, (size_t)h->len, s->row, s->spec->ncols, err)))
			rc = s->spec->row_at ? s->spec->row_at(s->arg, h->p, h->off, h->at, s->row, err)
					     : s->fn(s->arg, s->row, err);
		else if (h->kind == H_TOMB)
			rc = s->spec->tomb(s->arg, h->enc, h->len, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Returns 0 when used, 1 when not usable (why), <0 on error. */
static int scan_rows(br_ice_table *tb, const char *topic, const br_ice_snapshot *snap, const br_seam_spec *spec,
		     const int64_t *frontier, br_seam_row_fn fn, void *arg, char *why, size_t whysz, br_err *err)
{
	/* columns are checked against the table's current schema before any row */
	scanner s = { .spec = spec, .frontier = frontier, .fn = fn, .arg = arg };
	s.m.idx = br_xcalloc((size_t)spec->ncols + 1, sizeof(int));
	if (!map_columns(br_ice_table_schema(tb)->root, spec, &s.m, why, whysz)) {
		free(s.m.idx);
		return 1;
	}
	/* projection: the declared columns and _partition/_offset, by field id,
	 * and _append_time where rows are judged by event time (row_at) */
	const br_type *root = br_ice_table_schema(tb)->root;
	int *ids = br_xcalloc((size_t)spec->ncols + 3, sizeof *ids);
	int nids = 0;
	ids[nids++] = root->children[s.m.ipart].id;
	ids[nids++] = root->children[s.m.ioff].id;
	if (s.m.iapp >= 0 && spec->row_at)
		ids[nids++] = root->children[s.m.iapp].id;
	for (int c = 0; c < spec->ncols; c++)
		ids[nids++] = root->children[s.m.idx[c]].id;
	br_ice_scan_opts o = { .snapshot_id = snap->id, .field_ids = ids, .nfield_ids = nids };
	br_ice_scan *sc;
	int rc = br_ice_scan_open(tb, &o, &sc, err);
	free(ids);
	if (rc) {
		free(s.m.idx);
		return rc;
	}
	br_progress *pr = spec->progress;
	int64_t bytes0 = pr ? pr->p.bytes_done : 0;
	if (pr) {
		const br_ice_plan *pl = br_ice_scan_plan(sc);
		int64_t fbytes = 0;
		for (size_t i = 0; i < pl->nfiles; i++)
			fbytes += pl->files[i].df.file_size;
		br_progress_phase(pr, "lake", pl->total_records, fbytes);
	}
	s.row = br_xcalloc((size_t)spec->ncols + 1, sizeof *s.row);
	br_arena_init(&s.arena, 1 << 20);
	br_batch b = { 0 };
	/* the scan's batches are in the current schema: same positions as mapped */
	while ((rc = br_ice_scan_next(sc, &b, err)) == 1) {
		if ((rc = take_batch(&s, &b, err)))
			break;
		if (pr) {
			br_progress_bytes_at(pr, bytes0, br_ice_scan_bytes_read(sc));
			br_progress_add(pr, b.nrows, 0);
		}
	}
	if (pr) /* the bytes read, all of them (smaller than the files' when projected) */
		br_progress_bytes_at(pr, bytes0, br_ice_scan_bytes_read(sc));
	const char *dead = br_ice_snapshot_prop(snap, "braid.dlq.records");
	if (!rc && spec->upsert && dead && strtoll(dead, NULL, 10) > 0)
		rc = read_dead_letters(&s, topic, strtoll(dead, NULL, 10), why, whysz, err);
	if (!rc && (spec->upsert || spec->ordered))
		rc = apply_held(&s, err);
	br_batch_free(&b);
	br_ice_scan_close(sc);
	br_buf_free(&s.enc);
	br_arena_free(&s.arena);
	free(s.hs);
	free(s.row);
	free(s.m.idx);
	return rc;
}

int br_seam_read(const char *data_dir, const char *topic, const br_seam_spec *spec, int64_t *frontier,
		 br_seam_row_fn fn, void *arg, char *why, size_t whysz, br_err *err)
{
	why[0] = 0;
	char path[4096];
	snprintf(path, sizeof path, "%s/lake/kafka/%s", data_dir, topic);
	if (!br_path_exists(path))
		return 0; /* never tiered: nothing to say */
	br_lake *l;
	br_err e = { 0 };
	if (br_lake_open(data_dir, &l, &e)) {
		snprintf(why, whysz, "the lake does not open: %s", e.msg);
		return 0;
	}
	br_ice_table *tb;
	if (br_ice_load(l, "kafka", topic, &tb, &e)) {
		if (e.code != BR_ENOTFOUND)
			snprintf(why, whysz, "table kafka.%s does not load: %s", topic, e.msg);
		br_lake_close(l);
		return 0;
	}
	/* ONE snapshot: its frontier and (below) its files. */
	const br_ice_snapshot *s = br_ice_table_current(tb);
	int rc = 0;
	if (!s)
		snprintf(why, whysz, "table kafka.%s has no snapshot yet", topic);
	else if (br_seam_frontier(br_ice_snapshot_prop(s, "braid.frontier"),
				  br_ice_snapshot_prop(s, "braid.dlq.records"), spec, frontier, why, whysz)) {
		rc = scan_rows(tb, topic, s, spec, frontier, fn, arg, why, whysz, err);
		if (rc < 0)
			br_errctx(err, "reading table kafka.%s, snapshot %" PRId64, topic, s->id);
		else
			rc = rc == 0; /* 1: used */
	}
	br_ice_table_free(tb);
	br_lake_close(l);
	return rc;
}
