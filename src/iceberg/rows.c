/* rows.c — what the lake needs to know about rows before they become a data
 * file entry: the partition tuple of a row under the table's default spec,
 * the Hive-style directory of a partition, and the per-column statistics
 * (value/null/NaN counts, lower/upper bounds) of a batch. */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "iceberg/ice_int.h"

static int top_index(const br_schema *s, int field_id)
{
	for (int i = 0; i < s->root->nchildren; i++)
		if (s->root->children[i].id == field_id)
			return i;
	return -1;
}

int br_ice_partition_of(const br_ice_table *t, const br_batch *b, int64_t row, br_value *out, br_err *err)
{
	const br_ice_meta *m = br_ice_table_meta(t);
	const br_ice_spec *spec = m->spec;
	for (int i = 0; i < spec->n; i++) {
		const br_ice_pfield *pf = &spec->f[i];
		int ci = top_index(m->schema, pf->source_id);
		if (ci < 0 || ci >= b->ncols)
			return br_errf(err, BR_EINVAL, "partition field %s: source column %d is not a top-level column of the batch",
				       pf->name, pf->source_id);
		br_value v = br_col_valid(&b->cols[ci], row) ? br_col_value(&b->cols[ci], row)
							     : br_value_null(b->cols[ci].type->id);
		int rc = br_ice_apply(pf->kind, pf->param, &v, &out[i], err);
		if (rc)
			return br_errctx(err, "partition field %s", pf->name), rc;
	}
	return 0;
}

void br_ice_partition_path(const br_ice_table *t, const br_value *part, br_buf *out)
{
	const br_ice_spec *spec = br_ice_table_meta(t)->spec;
	for (int i = 0; i < spec->n; i++) {
		if (i)
			br_buf_u8(out, '/');
		br_buf_printf(out, "%s=", spec->f[i].name);
		br_ice_transform_text(spec->f[i].kind, &part[i], out);
	}
}

/* Bounds of strings longer than this are truncated (lower) or left out (upper):
 * manifests stay small, and a truncated upper bound would need incrementing. */
#define BOUND_MAX 64

static const uint8_t *serialize(br_arena *a, const br_value *v, size_t *len)
{
	br_buf b = { 0 };
	br_ice_value_bytes(v, &b);
	*len = b.len;
	uint8_t *p = br_arena_alloc(a, b.len ? b.len : 1);
	if (b.len)
		memcpy(p, b.p, b.len);
	br_buf_free(&b);
	return p;
}

void br_ice_batch_stats(const br_ice_table *t, const br_batch *b, br_arena *a, br_ice_colstat **out, int *n)
{
	const br_schema *s = br_ice_table_meta(t)->schema;
	int nc = BR_MIN(s->root->nchildren, b->ncols);
	br_ice_colstat *cs = br_arena_alloc(a, (size_t)(nc ? nc : 1) * sizeof *cs);
	int k = 0;
	for (int i = 0; i < nc; i++) {
		const br_col *c = &b->cols[i];
		const br_field *f = &s->root->children[i];
		if (br_type_is_nested(f->type))
			continue;
		br_ice_colstat *st = &cs[k++];
		st->field_id = f->id;
		st->column_size = -1;
		st->value_count = c->len;
		st->null_count = 0;
		bool fp = f->type->id == BR_T_FLOAT || f->type->id == BR_T_DOUBLE;
		st->nan_count = fp ? 0 : -1;
		br_value lo = { 0 }, hi = { 0 };
		bool any = false;
		for (int64_t r = 0; r < c->len; r++) {
			if (!br_col_valid(c, r)) {
				st->null_count++;
				continue;
			}
			br_value v = br_col_value(c, r);
			if (fp && ((v.type == BR_T_FLOAT && v.v.f32 != v.v.f32) || (v.type == BR_T_DOUBLE && v.v.f64 != v.v.f64))) {
				st->nan_count++;
				continue;
			}
			if (!any || br_value_cmp(&v, &lo) < 0)
				lo = v;
			if (!any || br_value_cmp(&v, &hi) > 0)
				hi = v;
			any = true;
		}
		if (!any)
			continue;
		bool var = f->type->id == BR_T_STRING || f->type->id == BR_T_BINARY;
		if (var && lo.v.bytes.len > BOUND_MAX) {
			size_t cut = BOUND_MAX;
			/* Cut at a UTF-8 character boundary. */
			while (f->type->id == BR_T_STRING && cut > 0 && (lo.v.bytes.p[cut] & 0xc0) == 0x80)
				cut--;
			lo.v.bytes.len = cut;
		}
		st->lower = serialize(a, &lo, &st->lower_len);
		if (!(var && hi.v.bytes.len > BOUND_MAX))
			st->upper = serialize(a, &hi, &st->upper_len);
	}
	*out = cs;
	*n = k;
}
