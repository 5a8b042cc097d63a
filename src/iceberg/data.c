/* data.c — the rows of a table: writing br_batches as Parquet data files (one
 * file per partition, with the Iceberg column metrics of each file), reading
 * a scan back as batches in the table's current schema (columns matched by
 * field id, so renamed, added, dropped and widened columns read correctly),
 * and compaction of small files.
 *
 * Reading old files under a new schema: a column whose id the file lacks
 * (added later) reads as nulls; a column the file stores narrower (int for a
 * long, float for a double, decimal with a smaller precision) is converted;
 * names in the file do not matter. Delete files are not applied (braid never
 * writes them; br_ice_scan_open refuses a snapshot that has some). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/util.h"
#include "iceberg/ice_int.h"

/* ------------------------------------------------------------- row copy */

static void copy_slot(br_col *dst, const br_col *src, int64_t i)
{
	if (!br_col_valid(src, i)) {
		br_col_append_null(dst);
		return;
	}
	switch (src->type->id) {
	case BR_T_STRUCT:
		for (int k = 0; k < src->nchildren; k++)
			copy_slot(&dst->children[k], &src->children[k], i);
		br_col_append_struct(dst);
		return;
	case BR_T_LIST:
	case BR_T_MAP: {
		int64_t s, e;
		br_col_range(src, i, &s, &e);
		for (int64_t r = s; r < e; r++)
			for (int k = 0; k < src->nchildren; k++)
				copy_slot(&dst->children[k], &src->children[k], r);
		br_col_close_list(dst);
		return;
	}
	default: {
		br_value v = br_col_value(src, i);
		br_col_append_value(dst, &v);
		return;
	}
	}
}

/* -------------------------------------------------------------- writing */

static const uint8_t *bound_bytes(br_arena *a, br_value v, bool upper, size_t *len)
{
	/* Long strings: a prefix is still a valid lower bound; an upper bound
	 * would have to be incremented, so it is left out instead. */
	if ((v.type == BR_T_STRING || v.type == BR_T_BINARY) && v.v.bytes.len > 64) {
		if (upper)
			return NULL;
		size_t cut = 64;
		while (v.type == BR_T_STRING && cut > 0 && (v.v.bytes.p[cut] & 0xc0) == 0x80)
			cut--;
		v.v.bytes.len = cut;
	}
	br_buf b = { 0 };
	br_ice_value_bytes(&v, &b);
	uint8_t *p = br_arena_alloc(a, b.len ? b.len : 1);
	if (b.len)
		memcpy(p, b.p, b.len);
	*len = b.len;
	br_buf_free(&b);
	return p;
}

/* One data file being written: at data/<part path>/<uuid>.parquet. */
struct br_ice_file_writer {
	br_ice_table *t;
	br_value *part;        /* borrowed (write_one) or NULL: unpartitioned */
	char *dir, *path;
	br_pq_writer *w;
};

static int file_open(br_ice_table *t, const br_value *part, const br_pq_options *opt, br_ice_file_writer **out,
		     br_err *err)
{
	const br_ice_meta *m = br_ice_table_meta(t);
	br_buf rel = { 0 };
	br_ice_partition_path(t, part, &rel);
	br_buf_u8(&rel, 0);
	const char *pp = (const char *)rel.p;
	br_ice_file_writer *fw = br_xcalloc(1, sizeof *fw);
	fw->t = t;
	fw->part = (br_value *)part;
	fw->dir = *pp ? br_xasprintf("%s/data/%s", br_ice_table_dir(t), pp) : br_xasprintf("%s/data", br_ice_table_dir(t));
	br_buf_free(&rel);
	char uuid[37];
	br_ice_uuid(uuid);
	fw->path = br_xasprintf("%s/%s.parquet", fw->dir, uuid);
	int rc = br_mkdirs(fw->dir, err);
	if (!rc)
		rc = br_pq_writer_open(fw->path, m->schema, opt, &fw->w, err);
	if (rc) {
		free(fw->dir);
		free(fw->path);
		free(fw);
		return rc;
	}
	*out = fw;
	return 0;
}

static void file_free(br_ice_file_writer *fw)
{
	free(fw->dir);
	free(fw->path);
	free(fw);
}

void br_ice_file_abort(br_ice_file_writer *fw)
{
	if (!fw)
		return;
	br_pq_writer_abort(fw->w);
	file_free(fw);
}

int br_ice_file_write(br_ice_file_writer *fw, const br_batch *b, br_err *err)
{
	return b->nrows ? br_pq_writer_write(fw->w, b, err) : 0;
}

/* Closes the Parquet file and describes it in *df; the directory is noted in
 * dirs (fsynced by the caller) or, with dirs NULL, fsynced here. Frees fw. */
static int file_close(br_ice_file_writer *fw, br_arena *a, br_map *dirs, br_ice_datafile *df, br_err *err)
{
	br_ice_table *t = fw->t;
	const br_ice_meta *m = br_ice_table_meta(t);
	const br_value *part = fw->part;
	br_pq_metrics met = { 0 };
	int rc = br_pq_writer_close(fw->w, &met, err);
	if (!rc) {
		if (dirs)
			br_map_put(dirs, fw->dir, strlen(fw->dir), (void *)1);
		else
			rc = br_fsync_dir(fw->dir, err);
		const char *path = fw->path;
		memset(df, 0, sizeof *df);
		char *uri = br_xasprintf("file://%s", path);
		df->path = br_arena_strndup(a, uri, strlen(uri));
		free(uri);
		df->format = "PARQUET";
		df->spec_id = m->spec->spec_id;
		df->npart = m->spec->n;
		df->part = br_arena_alloc(a, (size_t)(df->npart ? df->npart : 1) * sizeof *df->part);
		for (int i = 0; i < df->npart; i++) {
			df->part[i] = part[i];
			if (!part[i].is_null && (part[i].type == BR_T_STRING || part[i].type == BR_T_BINARY ||
						 part[i].type == BR_T_FIXED || part[i].type == BR_T_UUID)) {
				df->part[i].v.bytes.p = (const uint8_t *)br_arena_strndup(
					a, (const char *)part[i].v.bytes.p, part[i].v.bytes.len);
			}
		}
		df->record_count = met.nrows;
		df->file_size = met.file_bytes;
		df->sort_order_id = 0;
		df->ncols = met.ncols;
		df->cols = br_arena_alloc(a, (size_t)(met.ncols ? met.ncols : 1) * sizeof *df->cols);
		for (int i = 0; i < met.ncols; i++) {
			const br_pq_col_metrics *cm = &met.cols[i];
			br_ice_colstat *cs = &df->cols[i];
			cs->field_id = cm->field_id;
			cs->column_size = cm->compressed_bytes;
			cs->value_count = cm->value_count;
			cs->null_count = cm->null_count;
			bool fp = cm->field && (cm->field->type->id == BR_T_FLOAT || cm->field->type->id == BR_T_DOUBLE);
			cs->nan_count = fp ? cm->nan_count : -1;
			if (cm->has_bounds) {
				cs->lower = bound_bytes(a, cm->min, false, &cs->lower_len);
				cs->upper = bound_bytes(a, cm->max, true, &cs->upper_len);
			}
		}
		br_pq_metrics_free(&met);
	}
	file_free(fw);
	return rc;
}

int br_ice_file_open(br_ice_table *t, const br_pq_options *opt, br_ice_file_writer **out, br_err *err)
{
	const br_ice_meta *m = br_ice_table_meta(t);
	if (m->spec->n)
		return br_errf(err, BR_EUNSUPPORTED, "table %s is partitioned: write its rows with br_ice_write_files",
			       br_ice_table_location(t));
	br_pq_options def;
	if (!opt) {
		br_pq_options_default(&def);
		const char *codec = br_ice_table_property(t, "write.parquet.compression-codec");
		if (codec) {
			int c = br_pq_codec_parse(codec);
			if (c < 0)
				return br_errf(err, BR_EINVAL, "table %s: unknown write.parquet.compression-codec \"%s\"",
					       br_ice_table_location(t), codec);
			def.codec = c;
		}
		opt = &def;
	}
	return file_open(t, NULL, opt, out, err);
}

int br_ice_file_close(br_ice_file_writer *fw, br_arena *a, br_ice_datafile *df, br_err *err)
{
	return file_close(fw, a, NULL, df, err);
}

/* Writes one batch as one Parquet file at data/<part path>/<uuid>.parquet and
 * describes it in *df. */
static int write_one(br_ice_table *t, const br_batch *b, const br_value *part, const br_pq_options *opt, br_arena *a,
		     br_map *dirs, br_ice_datafile *df, br_err *err)
{
	br_ice_file_writer *fw;
	int rc = file_open(t, part, opt, &fw, err);
	if (rc)
		return rc;
	if ((rc = br_pq_writer_write(fw->w, b, err))) {
		br_ice_file_abort(fw);
		return rc;
	}
	return file_close(fw, a, dirs, df, err);
}

typedef struct group {
	br_batch b;
	br_value *part;
} group;

int br_ice_write_files(br_ice_table *t, const br_batch *b, const br_pq_options *opt, br_arena *a,
		       br_ice_datafile **files, size_t *n, br_err *err)
{
	const br_ice_meta *m = br_ice_table_meta(t);
	*files = NULL;
	*n = 0;
	if (!br_type_equal(b->type, m->schema->root))
		return br_errf(err, BR_EINVAL, "table %s: the batch's columns do not match the current schema",
			       br_ice_table_location(t));
	int rc = br_batch_validate(b, err);
	if (rc || b->nrows == 0)
		return rc;
	br_pq_options def;
	if (!opt) {
		/* Iceberg's table property names the codec; zstd when absent. */
		br_pq_options_default(&def);
		const char *codec = br_ice_table_property(t, "write.parquet.compression-codec");
		if (codec) {
			int c = br_pq_codec_parse(codec);
			if (c < 0)
				return br_errf(err, BR_EINVAL, "table %s: unknown write.parquet.compression-codec \"%s\"",
					       br_ice_table_location(t), codec);
			def.codec = c;
		}
		opt = &def;
	}
	br_map dirs = { 0 };
	int np = m->spec->n;
	if (np == 0) {
		*files = br_arena_alloc(a, sizeof **files);
		rc = write_one(t, b, NULL, opt, a, &dirs, *files, err);
		if (!rc)
			*n = 1;
	} else {
		/* Split the rows by partition tuple; O(rows) with one hash lookup each. */
		br_map groups = { 0 };
		group **order = NULL;
		size_t ng = 0, cap = 0;
		br_value *pv = br_xcalloc((size_t)np, sizeof *pv);
		br_buf key = { 0 }, prev_key = { 0 };
		group *prev = NULL;
		for (int64_t r = 0; r < b->nrows && !rc; r++) {
			rc = br_ice_partition_of(t, b, r, pv, err);
			if (rc)
				break;
			br_buf_reset(&key);
			for (int i = 0; i < np; i++) {
				br_buf_u8(&key, pv[i].is_null ? 0 : 1);
				size_t mark = key.len;
				br_buf_be32(&key, 0);
				br_ice_value_bytes(&pv[i], &key);
				br_wr_be32(key.p + mark, (uint32_t)(key.len - mark - 4));
			}
			/* Rows usually come in runs of one partition (time order): the
			 * previous row's group is checked before hashing. */
			group *g = NULL;
			if (prev && prev_key.len == key.len && !memcmp(prev_key.p, key.p, key.len))
				g = prev;
			else
				g = br_map_get(&groups, key.p, key.len);
			if (!g) {
				g = br_arena_alloc(a, sizeof *g);
				br_batch_init(&g->b, b->type, false);
				g->part = br_arena_alloc(a, (size_t)np * sizeof *g->part);
				for (int i = 0; i < np; i++) {
					g->part[i] = pv[i];
					if (!pv[i].is_null && (pv[i].type == BR_T_STRING || pv[i].type == BR_T_BINARY ||
							       pv[i].type == BR_T_FIXED || pv[i].type == BR_T_UUID))
						g->part[i].v.bytes.p = (const uint8_t *)br_arena_strndup(
							a, (const char *)pv[i].v.bytes.p, pv[i].v.bytes.len);
				}
				br_map_put(&groups, key.p, key.len, g);
				if (ng == cap) {
					cap = cap ? 2 * cap : 8;
					order = br_xrealloc(order, cap * sizeof *order);
				}
				order[ng++] = g;
			}
			if (g != prev) {
				prev = g;
				br_buf_reset(&prev_key);
				br_buf_put(&prev_key, key.p, key.len);
			}
			for (int c = 0; c < b->ncols; c++)
				copy_slot(&g->b.cols[c], &b->cols[c], r);
			br_batch_row_done(&g->b, 1);
		}
		br_buf_free(&prev_key);
		if (!rc) {
			*files = br_arena_alloc(a, (ng ? ng : 1) * sizeof **files);
			for (size_t i = 0; i < ng && !rc; i++) {
				rc = write_one(t, &order[i]->b, order[i]->part, opt, a, &dirs, &(*files)[i], err);
				if (!rc)
					(*n)++;
			}
		}
		for (size_t i = 0; i < ng; i++)
			br_batch_free(&order[i]->b);
		free(order);
		free(pv);
		br_buf_free(&key);
		br_map_free(&groups);
	}
	/* The new files' directory entries must be durable before a commit refers to them. */
	br_map_slot *slot;
	for (size_t i = 0; !rc && br_map_next(&dirs, &i, &slot);)
		rc = br_fsync_dir(slot->key, err);
	br_map_free(&dirs);
	return rc;
}

int br_ice_append_batch(br_ice_table *t, const br_batch *b, const br_ice_kv *summary, br_err *err)
{
	br_arena a;
	br_arena_init(&a, 16384);
	br_ice_datafile *files;
	size_t n;
	int rc = br_ice_write_files(t, b, NULL, &a, &files, &n, err);
	if (!rc)
		rc = br_ice_append(t, files, n, summary, err);
	br_arena_free(&a);
	return rc;
}

/* ---------------------------------------------------------------- scans */

struct br_ice_scan {
	br_ice_plan plan;
	br_schema *schema;        /* a copy of the table's current schema: commits during a scan do not disturb it */
	size_t next_file;
	br_pq_reader *r;
	const char *file;         /* the open file's path */
	int *src;                 /* per output column: index among projected columns, -1 = absent */
	br_batch rb;              /* the reader's batch */
	br_ice_pred *preds;
	size_t npreds;
	int *want;                /* projection (field ids), NULL = all */
	int nwant;
	int64_t bytes_done;       /* bytes read by the files already closed */
};

static bool wanted(const br_ice_scan *s, int id)
{
	if (!s->want)
		return true;
	for (int i = 0; i < s->nwant; i++)
		if (s->want[i] == id)
			return true;
	return false;
}

static int open_next(br_ice_scan *s, br_err *err)
{
	while (s->next_file < s->plan.nfiles) {
		const br_ice_entry *e = &s->plan.files[s->next_file++];
		const char *path = br_ice_uri_path(&s->plan.arena, e->df.path);
		int rc = br_pq_reader_open(path, &s->r, err);
		if (rc)
			return rc;
		s->file = path;
		const br_schema *fs = br_pq_reader_schema(s->r);
		const br_type *root = s->schema->root;
		int *ids = br_xcalloc((size_t)(root->nchildren ? root->nchildren : 1), sizeof *ids);
		int nids = 0;
		for (int i = 0; i < root->nchildren; i++) {
			const br_field *f = &root->children[i];
			const br_field *ff = br_schema_find_id(fs, f->id);
			bool top = ff && !br_schema_parent(fs, f->id) && wanted(s, f->id);
			s->src[i] = top ? nids : -1;
			if (top)
				ids[nids++] = f->id;
		}
		rc = br_pq_reader_project(s->r, ids, nids, err);
		free(ids);
		for (size_t k = 0; !rc && k < s->npreds; k++) {
			const br_field *f = br_schema_find_name(s->schema, s->preds[k].column);
			const br_field *ff = f ? br_schema_find_id(fs, f->id) : NULL;
			if (!ff || br_type_is_nested(ff->type) || ff->type->id != s->preds[k].lit.type ||
			    s->preds[k].op > BR_ICE_GE)
				continue;
			rc = br_pq_reader_filter(s->r, ff->id, (br_pq_op)s->preds[k].op, &s->preds[k].lit, err);
		}
		if (rc) {
			br_pq_reader_close(s->r);
			s->r = NULL;
			return rc;
		}
		memset(&s->rb, 0, sizeof s->rb);
		return 1;
	}
	return 0;
}

int br_ice_scan_open(br_ice_table *t, const br_ice_scan_opts *o, br_ice_scan **out, br_err *err)
{
	br_ice_scan *s = br_xcalloc(1, sizeof *s);
	int rc = br_ice_plan_scan(t, o, &s->plan, err);
	if (!rc && s->plan.ndeletes)
		rc = br_errf(err, BR_EUNSUPPORTED, "table %s: snapshot %lld has delete files (not supported by braid's reader)",
			     br_ice_table_location(t), (long long)s->plan.snapshot_id);
	if (rc) {
		br_ice_plan_free(&s->plan);
		free(s);
		return rc;
	}
	s->schema = br_schema_clone(br_ice_table_schema(t));
	s->src = br_xcalloc((size_t)(s->schema->root->nchildren + 1), sizeof *s->src);
	if (o && o->npreds) {
		s->npreds = o->npreds;
		s->preds = br_arena_alloc(&s->plan.arena, o->npreds * sizeof *s->preds);
		memcpy(s->preds, o->preds, o->npreds * sizeof *s->preds);
	}
	if (o && o->field_ids) {
		s->nwant = o->nfield_ids;
		s->want = br_arena_alloc(&s->plan.arena, ((size_t)o->nfield_ids + 1) * sizeof *s->want);
		memcpy(s->want, o->field_ids, (size_t)o->nfield_ids * sizeof *s->want);
	}
	*out = s;
	return 0;
}

const br_ice_plan *br_ice_scan_plan(const br_ice_scan *s) { return &s->plan; }

int64_t br_ice_scan_bytes_read(const br_ice_scan *s)
{
	return s->bytes_done + (s->r ? br_pq_reader_bytes_read(s->r) : 0);
}

static void repoint(br_col *c, const br_type *t)
{
	c->type = t;
	for (int i = 0; i < c->nchildren && i < t->nchildren; i++)
		repoint(&c->children[i], t->children[i].type);
}

/* Copies slot i of src into dst where the two types differ by schema
 * evolution: struct fields matched by id (missing ones null), primitives
 * widened. O(values) — only for files written under an older schema. */
static void copy_slot_by_id(br_col *dst, const br_col *src, int64_t i)
{
	if (!br_col_valid(src, i)) {
		br_col_append_null(dst);
		return;
	}
	const br_type *dt = dst->type, *st = src->type;
	switch (dt->id) {
	case BR_T_STRUCT:
		if (st->id != BR_T_STRUCT)
			break;
		for (int k = 0; k < dt->nchildren; k++) {
			int j = -1;
			for (int q = 0; q < st->nchildren && q < src->nchildren; q++)
				if (st->children[q].id == dt->children[k].id)
					j = q;
			if (j >= 0)
				copy_slot_by_id(&dst->children[k], &src->children[j], i);
			else
				br_col_append_null(&dst->children[k]);
		}
		br_col_append_struct(dst);
		return;
	case BR_T_LIST:
	case BR_T_MAP: {
		if (st->id != dt->id)
			break;
		int64_t a, b;
		br_col_range(src, i, &a, &b);
		for (int64_t r = a; r < b; r++)
			for (int k = 0; k < dst->nchildren && k < src->nchildren; k++)
				copy_slot_by_id(&dst->children[k], &src->children[k], r);
		br_col_close_list(dst);
		return;
	}
	default: {
		br_value v = br_col_value(src, i);
		if (dt->id == BR_T_LONG && v.type == BR_T_INT)
			br_col_append_i64(dst, v.v.i32);
		else if (dt->id == BR_T_DOUBLE && v.type == BR_T_FLOAT)
			br_col_append_f64(dst, v.v.f32);
		else if (dt->id == BR_T_DECIMAL && v.type == BR_T_DECIMAL)
			br_col_append_dec(dst, v.v.dec);
		else if (dt->id == v.type && !br_type_is_nested(dt))
			br_col_append_value(dst, &v);
		else
			break;
		return;
	}
	}
	br_col_append_null(dst); /* an incompatible file type: nothing sensible to show */
}

/* Moves or converts column j of the reader's batch into out column i. */
static void take_column(br_ice_scan *s, br_batch *out, int i, int j)
{
	br_col *src = &s->rb.cols[j];
	br_col *dst = &out->cols[i];
	const br_type *want = out->type->children[i].type;
	bool same = br_type_is_nested(want) ? br_type_equal(src->type, want)
					    : src->type->id == want->id &&
						      (want->id != BR_T_DECIMAL || src->type->precision == want->precision);
	if (same) {
		/* Same physical layout: steal the buffers, leave the reader an empty column. */
		const br_type *rt = src->type;
		br_col_free(dst);
		*dst = *src;
		repoint(dst, want);
		br_col_init(src, rt);
		return;
	}
	/* Evolved since the file was written (widened, fields added or renamed). */
	for (int64_t r = 0; r < src->len; r++)
		copy_slot_by_id(dst, src, r);
}

int br_ice_scan_next(br_ice_scan *s, br_batch *out, br_err *err)
{
	for (;;) {
		if (!s->r) {
			int rc = open_next(s, err);
			if (rc <= 0)
				return rc;
		}
		int rc = br_pq_reader_next(s->r, &s->rb, err);
		if (rc < 0)
			return br_errctx(err, "scan"), rc;
		if (rc == 0) {
			br_batch_free(&s->rb);
			s->bytes_done += br_pq_reader_bytes_read(s->r);
			br_pq_reader_close(s->r);
			s->r = NULL;
			continue;
		}
		if (out->cols)
			br_batch_free(out);
		br_batch_init(out, s->schema->root, false);
		for (int i = 0; i < out->ncols; i++) {
			if (s->src[i] >= 0) {
				take_column(s, out, i, s->src[i]);
			} else {
				for (int64_t r = 0; r < s->rb.nrows; r++)
					br_col_append_null(&out->cols[i]);
			}
		}
		out->nrows = s->rb.nrows;
		return 1;
	}
}

void br_ice_scan_close(br_ice_scan *s)
{
	if (!s)
		return;
	if (s->r) {
		br_batch_free(&s->rb);
		br_pq_reader_close(s->r);
	}
	free(s->src);
	if (s->schema)
		br_schema_free(s->schema);
	br_ice_plan_free(&s->plan);
	free(s);
}

/* The current snapshot's summary properties other than Iceberg's own
 * (operation, added-*, deleted-*, removed-*, total-*): maintenance commits
 * (compaction, row deletes) carry them forward, so a property such as the
 * tiering frontier stays on the newest snapshot. Memory from a. */
static void parent_extras(br_ice_table *t, br_arena *a, br_ice_kv *out)
{
	const br_ice_snapshot *cur = br_ice_table_current(t);
	size_t n = cur ? cur->nsummary : 0, nk = 0;
	const char **keys = br_arena_alloc(a, (n + 1) * sizeof *keys);
	const char **vals = br_arena_alloc(a, (n + 1) * sizeof *vals);
	for (size_t i = 0; i < n; i++) {
		const char *k = cur->summary_keys[i];
		if (!strcmp(k, "operation") || !strncmp(k, "added-", 6) || !strncmp(k, "deleted-", 8) ||
		    !strncmp(k, "total-", 6) || !strncmp(k, "removed-", 8) || !strcmp(k, "changed-partition-count"))
			continue;
		keys[nk] = br_arena_strndup(a, k, strlen(k));
		vals[nk] = br_arena_strndup(a, cur->summary_vals[i], strlen(cur->summary_vals[i]));
		nk++;
	}
	*out = (br_ice_kv){ nk, keys, vals };
}

/* A scan over exactly these entries (copied), read in schema s. */
static br_ice_scan *scan_files(const br_schema *s, const br_ice_entry *files, size_t n)
{
	br_ice_scan *sc = br_xcalloc(1, sizeof *sc);
	sc->schema = br_schema_clone(s);
	sc->src = br_xcalloc((size_t)(s->root->nchildren + 1), sizeof *sc->src);
	br_arena_init(&sc->plan.arena, 4096);
	sc->plan.files = br_arena_alloc(&sc->plan.arena, (n ? n : 1) * sizeof *sc->plan.files);
	memcpy(sc->plan.files, files, n * sizeof *files);
	sc->plan.nfiles = n;
	return sc;
}

/* ----------------------------------------------------------- row deletes */

/* Exact value of one predicate on one row (SQL semantics: a comparison with a
 * null is not true). cols[k] is the column of preds[k], -1 when the column is
 * missing (then only IS NULL holds). */
static bool row_matches(const br_batch *b, int64_t r, const br_ice_pred *preds, const int *cols, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const br_ice_pred *p = &preds[k];
		br_value v = cols[k] >= 0 ? br_col_value(&b->cols[cols[k]], r) : br_value_null(p->lit.type);
		if (p->op == BR_ICE_IS_NULL) {
			if (!v.is_null)
				return false;
			continue;
		}
		if (p->op == BR_ICE_NOT_NULL) {
			if (v.is_null)
				return false;
			continue;
		}
		if (v.is_null || p->lit.is_null)
			return false;
		br_value lit = p->lit;
		/* literals of a narrower type compare as the column's type */
		if (v.type == BR_T_LONG && lit.type == BR_T_INT)
			lit = br_value_i64(BR_T_LONG, lit.v.i32);
		else if (v.type == BR_T_DOUBLE && lit.type == BR_T_FLOAT)
			lit = br_value_f64(lit.v.f32);
		else if (v.type == BR_T_TIMESTAMPTZ && lit.type == BR_T_TIMESTAMP)
			lit.type = BR_T_TIMESTAMPTZ;
		else if (v.type == BR_T_TIMESTAMP && lit.type == BR_T_TIMESTAMPTZ)
			lit.type = BR_T_TIMESTAMP;
		if (lit.type != v.type)
			return false;
		int c = br_value_cmp(&v, &lit);
		bool ok = p->op == BR_ICE_EQ ? c == 0 : p->op == BR_ICE_LT ? c < 0 : p->op == BR_ICE_LE ? c <= 0
			: p->op == BR_ICE_GT ? c > 0 : c >= 0;
		if (!ok)
			return false;
	}
	return true;
}

int br_ice_delete_rows(br_ice_table *t, const br_ice_pred *preds, size_t npreds, int64_t *deleted, br_err *err)
{
	if (deleted)
		*deleted = 0;
	const br_schema *s = br_ice_table_schema(t);
	int *cols = br_xcalloc(npreds + 1, sizeof *cols);
	for (size_t k = 0; k < npreds; k++) {
		const br_field *f = br_schema_find_name(s, preds[k].column);
		cols[k] = -1;
		for (int c = 0; f && c < s->root->nchildren; c++)
			if (s->root->children[c].id == f->id)
				cols[k] = c;
		if (cols[k] < 0 || br_type_is_nested(f->type)) {
			free(cols);
			return br_errf(err, f ? BR_EUNSUPPORTED : BR_ENOTFOUND,
				       "delete rows: %s is not a top-level primitive column", preds[k].column);
		}
	}
	br_ice_scan_opts o = { .preds = preds, .npreds = npreds };
	br_ice_plan plan;
	int rc = br_ice_plan_scan(t, &o, &plan, err);
	br_arena a;
	br_arena_init(&a, 16384);
	const char **del = br_arena_alloc(&a, (plan.nfiles + 1) * sizeof *del);
	size_t ndel = 0;
	br_ice_datafile *add = NULL;
	size_t nadd = 0, capadd = 0;
	int64_t total = 0;
	/* Copy-on-write, file by file: a file with a matching row is replaced by
	 * a file of its other rows (or just removed when none remain). */
	for (size_t i = 0; !rc && i < plan.nfiles; i++) {
		br_ice_scan *sc = scan_files(s, &plan.files[i], 1);
		br_batch keep, b = { 0 };
		br_batch_init(&keep, sc->schema->root, false);
		int64_t hits = 0;
		while ((rc = br_ice_scan_next(sc, &b, err)) == 1) {
			for (int64_t r = 0; r < b.nrows; r++) {
				if (row_matches(&b, r, preds, cols, npreds)) {
					hits++;
					continue;
				}
				for (int c = 0; c < b.ncols; c++)
					copy_slot(&keep.cols[c], &b.cols[c], r);
				br_batch_row_done(&keep, 1);
			}
		}
		if (b.cols)
			br_batch_free(&b);
		if (!rc && hits) {
			del[ndel++] = plan.files[i].df.path;
			total += hits;
			if (keep.nrows) {
				/* keep's type is the scan's schema copy: equal to the table's */
				keep.type = s->root;
				br_ice_datafile *files;
				size_t n;
				rc = br_ice_write_files(t, &keep, NULL, &a, &files, &n, err);
				for (size_t k = 0; !rc && k < n; k++) {
					if (nadd == capadd) {
						capadd = capadd ? 2 * capadd : 8;
						br_ice_datafile *na = br_arena_alloc(&a, capadd * sizeof *na);
						if (nadd)
							memcpy(na, add, nadd * sizeof *na);
						add = na;
					}
					add[nadd++] = files[k];
				}
			}
		}
		br_batch_free(&keep);
		br_ice_scan_close(sc);
	}
	if (!rc && ndel) {
		br_ice_kv sum;
		parent_extras(t, &a, &sum);
		rc = br_ice_overwrite(t, del, ndel, add, nadd, nadd ? "overwrite" : "delete", &sum, err);
	}
	if (!rc && deleted)
		*deleted = total;
	br_arena_free(&a);
	br_ice_plan_free(&plan);
	free(cols);
	return rc;
}

/* ----------------------------------------------------------- compaction */

int br_ice_compact(br_ice_table *t, int64_t small_file_bytes, size_t *rewritten, size_t *written, br_err *err)
{
	if (rewritten)
		*rewritten = 0;
	if (written)
		*written = 0;
	br_ice_plan plan;
	int rc = br_ice_plan_scan(t, NULL, &plan, err);
	if (rc)
		return rc;
	const br_ice_meta *m = br_ice_table_meta(t);
	/* Small files of the current spec, grouped by partition: all rows of a
	 * partition's small files are read through one scan and rewritten. */
	size_t nsmall = 0;
	const char **del = br_arena_alloc(&plan.arena, (plan.nfiles + 1) * sizeof *del);
	for (size_t i = 0; i < plan.nfiles; i++)
		if (plan.files[i].df.file_size < small_file_bytes && plan.files[i].df.spec_id == m->spec->spec_id &&
		    plan.files[i].df.content == 0)
			del[nsmall++] = plan.files[i].df.path;
	if (nsmall < 2 || plan.ndeletes) {
		br_ice_plan_free(&plan);
		return 0; /* nothing worth a rewrite */
	}
	br_batch all;
	br_batch_init(&all, m->schema->root, false);
	br_ice_entry *small = br_arena_alloc(&plan.arena, nsmall * sizeof *small);
	for (size_t i = 0, k = 0; i < plan.nfiles; i++)
		if (k < nsmall && plan.files[i].df.path == del[k])
			small[k++] = plan.files[i];
	br_ice_scan *sc = scan_files(m->schema, small, nsmall);
	br_batch b = { 0 };
	while ((rc = br_ice_scan_next(sc, &b, err)) == 1) {
		for (int64_t r = 0; r < b.nrows; r++) {
			for (int c = 0; c < b.ncols; c++)
				copy_slot(&all.cols[c], &b.cols[c], r);
			br_batch_row_done(&all, 1);
		}
	}
	if (b.cols)
		br_batch_free(&b);
	br_ice_scan_close(sc);
	br_arena a;
	br_arena_init(&a, 16384);
	br_ice_datafile *files = NULL;
	size_t n = 0;
	if (!rc)
		rc = br_ice_write_files(t, &all, NULL, &a, &files, &n, err);
	br_batch_free(&all);
	if (!rc) {
		br_ice_kv sum;
		parent_extras(t, &a, &sum);
		rc = br_ice_overwrite(t, del, nsmall, files, n, "replace", &sum, err);
	}
	if (!rc) {
		if (rewritten)
			*rewritten = nsmall;
		if (written)
			*written = n;
	}
	br_arena_free(&a);
	br_ice_plan_free(&plan);
	return rc;
}
