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
 * a deleted row back. So an upsert table uses the lake only when the snapshot
 * says no record was ever dead-lettered (braid.dlq.records = 0); otherwise it
 * reads the whole log, as before. Upsert rows are applied in (_partition,
 * _offset) order, the order the log reader applies them, because data files
 * (after compaction especially) need not be in offset order.
 *
 * WHEN THE LAKE IS NOT USED (the log is read from its start, as before): no
 * table kafka.<topic>, a key_value mode table (no typed columns), no frontier
 * in the current snapshot, a declared column missing from the table or of
 * another type (int read as long and float as double are accepted), or a
 * frontier past the log's high watermark or over more partitions than the
 * topic has (the lake is then not of this log, e.g. a topic deleted and made
 * again under the same name).
 *
 * COST. One pass over the snapshot's data files through br_ice_scan (every
 * column is decoded, the key/headers too: the scan API has no projection yet);
 * an upsert table also holds an encoded copy of every lake row until sorted.
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
#include "sql/seam.h"
#include "tier/tier.h"

int br_seam_frontier(const char *frontier_text, const char *dlq_text, const br_seam_spec *spec,
		     int64_t *frontier, char *why, size_t whysz)
{
	if (!frontier_text) {
		snprintf(why, whysz, "the lake snapshot records no frontier");
		return 0;
	}
	if (spec->upsert && dlq_text && strtoll(dlq_text, NULL, 10) != 0) {
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
	int ipart, ioff;
	int *idx;
} colmap;

static bool type_fits(br_type_id lake, br_type_id want)
{
	return lake == want || (lake == BR_T_INT && want == BR_T_LONG) || (lake == BR_T_FLOAT && want == BR_T_DOUBLE);
}

static int map_columns(const br_type *root, const br_seam_spec *spec, colmap *m, char *why, size_t whysz)
{
	m->ipart = m->ioff = -1;
	for (int i = 0; i < root->nchildren; i++) {
		const br_field *f = &root->children[i];
		if (f->id == 1 && !strcmp(f->name, "_partition") && f->type->id == BR_T_INT)
			m->ipart = i;
		if (f->id == 2 && !strcmp(f->name, "_offset") && f->type->id == BR_T_LONG)
			m->ioff = i;
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

/* An upsert table's lake row, kept until all are sorted by (partition, offset). */
typedef struct held {
	int32_t p;
	int64_t off;
	uint32_t len;
	const uint8_t *enc;
} held;

static int held_cmp(const void *a, const void *b)
{
	const held *x = a, *y = b;
	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	return (x->off > y->off) - (x->off < y->off);
}

typedef struct scanner {
	const br_seam_spec *spec;
	const int64_t *frontier;
	br_seam_row_fn fn;
	void *arg;
	colmap m;
	br_value *row;
	br_arena arena;           /* upsert: encoded rows */
	held *hs;
	size_t nh, caph;
	br_buf enc;
} scanner;

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
		if (!spec->upsert) {
			int rc = s->fn(s->arg, s->row, err);
			if (rc)
				return rc;
			continue;
		}
		br_buf_reset(&s->enc);
		br_row_encode(&s->enc, s->row, spec->ncols);
		if (s->nh == s->caph) {
			s->caph = s->caph ? s->caph * 2 : 4096;
			s->hs = br_xrealloc(s->hs, s->caph * sizeof *s->hs);
		}
		uint8_t *copy = br_arena_alloc(&s->arena, s->enc.len ? s->enc.len : 1);
		memcpy(copy, s->enc.p, s->enc.len);
		s->hs[s->nh++] = (held){ p, off, (uint32_t)s->enc.len, copy };
	}
	return 0;
}

/* Upsert rows in (partition, offset) order, the log reader's order. */
static int apply_held(scanner *s, br_err *err)
{
	qsort(s->hs, s->nh, sizeof *s->hs, held_cmp);
	for (size_t k = 0; k < s->nh; k++) {
		if (k && s->hs[k].p == s->hs[k - 1].p && s->hs[k].off == s->hs[k - 1].off)
			continue; /* an offset twice would be a broken table: apply it once */
		int rc = br_row_decode(s->hs[k].enc, s->hs[k].len, s->row, s->spec->ncols, err);
		if (!rc)
			rc = s->fn(s->arg, s->row, err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Returns 0 when used, 1 when not usable (why), <0 on error. */
static int scan_rows(br_ice_table *tb, int64_t snap, const br_seam_spec *spec, const int64_t *frontier,
		     br_seam_row_fn fn, void *arg, char *why, size_t whysz, br_err *err)
{
	/* columns are checked against the table's current schema before any row */
	scanner s = { .spec = spec, .frontier = frontier, .fn = fn, .arg = arg };
	s.m.idx = br_xcalloc((size_t)spec->ncols + 1, sizeof(int));
	if (!map_columns(br_ice_table_schema(tb)->root, spec, &s.m, why, whysz)) {
		free(s.m.idx);
		return 1;
	}
	br_ice_scan_opts o = { .snapshot_id = snap };
	br_ice_scan *sc;
	int rc = br_ice_scan_open(tb, &o, &sc, err);
	if (rc) {
		free(s.m.idx);
		return rc;
	}
	s.row = br_xcalloc((size_t)spec->ncols + 1, sizeof *s.row);
	br_arena_init(&s.arena, 1 << 20);
	br_batch b = { 0 };
	/* the scan's batches are in the current schema: same positions as mapped */
	while ((rc = br_ice_scan_next(sc, &b, err)) == 1)
		if ((rc = take_batch(&s, &b, err)))
			break;
	if (!rc && spec->upsert)
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
		rc = scan_rows(tb, s->id, spec, frontier, fn, arg, why, whysz, err);
		if (rc < 0)
			br_errctx(err, "reading table kafka.%s, snapshot %" PRId64, topic, s->id);
		else
			rc = rc == 0; /* 1: used */
	}
	br_ice_table_free(tb);
	br_lake_close(l);
	return rc;
}
