/* reader.c — the Parquet reader: footer and schema (with the LIST / MAP
 * backward-compatibility rules of LogicalTypes.md), row-group skipping by
 * column statistics, page-at-a-time decoding of the projected columns (data
 * pages v1 and v2; PLAIN, PLAIN_DICTIONARY/RLE_DICTIONARY, RLE booleans,
 * DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
 * BYTE_STREAM_SPLIT; every codec braid links) and reassembly of nested values
 * from repetition/definition levels into Arrow-layout br_batches.
 *
 * Assembly: a value of a schema node is read by peeking the (rep, def) of the
 * next entry of the node's first leaf. def below the node's level: a null, and
 * one entry is consumed from every leaf below it. A list/map whose repeated
 * group is undefined is empty (again one entry per leaf); otherwise elements
 * are read while the next entry's rep reaches the list's element level.
 * Top-level primitive columns skip all this (read_flat). A repeated field
 * outside a LIST/MAP group (legacy writers) reads as a required list of
 * required elements.
 *
 * Trust: nothing in the file is believed before it is checked. The footer
 * must fit the file (and 256 MiB), its decoded structures may take at most 32
 * times its size, the Thrift decoder is bounded, every column chunk
 * must lie inside the data area, page sizes must fit their chunk, level and
 * value decoders stop at their page, dictionary indices are checked against
 * the dictionary. A page may claim at most 2^24 entries, so a tiny hostile
 * RLE run cannot ask for gigabytes. Errors name the file, the column and the
 * file offset of the page.
 *
 * Memory: the footer, one dictionary and one decompressed page per projected
 * leaf column, the batch being built (at most batch_rows rows) with one
 * uint32 dictionary code per row for flat dictionary columns, and one zstd
 * decompression context.
 *
 * Parallel scans: readers of one file on several threads share a row-group
 * counter; each reader is otherwise private to its thread, so nothing inside
 * is locked. */
#include "parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "pq_internal.h"

#define MAX_PAGE_ENTRIES (1 << 24)
/* Parallel scans split row groups into morsels of this many rows, so two
 * threads stay busy on a file of a few large row groups. */
#define MORSEL_ROWS (1 << 20)
#define MAX_PAGE_BYTES (1 << 30)

enum { K_LEAF, K_STRUCT, K_LIST, K_MAP };

typedef struct rnode {
	const pq_schema_el *el;
	int kind;
	bool optional;
	int def;               /* definition level at which this node is present */
	int rdef, rrep;        /* list/map: levels of the repeated group */
	int first_leaf, nleaves;
	int nkids;
	struct rnode *kids;    /* struct: fields; list: element; map: key, value */
	int field_id;
} rnode;

typedef struct rleaf {
	const pq_schema_el *el;
	const char *name;      /* dotted path, for messages */
	int max_def, max_rep;
	int phys, type_length;
	const br_type *t;      /* target type (owned by the schema) */
	int scale_mul;         /* time unit conversion: multiply (>0) or divide (<0) to micros */
	bool uint32;           /* UINT_32 -> long */
	int field_id;
} rleaf;

/* The decoding state of one projected leaf column in the current row group. */
typedef struct lstream {
	rleaf *lf;
	const pq_column *meta;
	int64_t pos, end;       /* file range of the chunk still to read */
	int64_t entries_left;   /* num_values of the chunk not yet seen in pages */
	br_buf raw, page;
	br_col dict;
	bool has_dict;
	int32_t dict_maxlen;    /* longest string in dict (byte arrays) */
	uint64_t dict_id;       /* changes with every dictionary page read */
	br_buf codes;           /* uint32 dict index per row of the last batch */
	bool codes_ok;          /* the last batch's rows all came from dict */
	br_buf defs, reps;      /* uint32 */
	int64_t n, i;           /* entries in the page, cursor */
	br_col vals;            /* dense non-null values of the page */
	int64_t vi;
	bool by_index;          /* dictionary page: values are dict[ix[vi]] */
	bool flat;              /* a top-level primitive column (read_flat) */
	const uint8_t *rawp;    /* flat raw PLAIN page: values read in place */
	br_buf ix;              /* uint32 dictionary indices of the page */
	int64_t nvals;          /* values in the page (either form) */
	bool dense;             /* no nulls in the page: read_flat skips the levels */
	int64_t page_off;       /* file offset of the current page (for messages) */
	br_buf tmp, tmp2;
} lstream;

typedef struct pred {
	int leaf;
	br_pq_op op;
	br_value v;
	br_buf bytes;
} pred;

struct br_pq_reader {
	char *name;
	int fd;
	const uint8_t *mem;
	int64_t size;
	br_arena arena;
	uint8_t *footer;
	pq_file_meta fm;
	rnode root;
	int nleaves;
	rleaf *leaves;
	br_schema *schema;
	/* projection */
	int nproj;
	int *proj;              /* indexes into root.kids */
	br_type *proj_type;
	lstream *streams;       /* one per leaf; used only for projected leaves */
	bool *leaf_on;
	bool started;
	/* filters */
	int npred;
	pred *preds;
	int skipped;
	/* position */
	uint64_t dict_ids;      /* dictionary pages read so far (for lstream.dict_id) */
	br_pq_dctx dctx;        /* page decompression state, reused */
	int rg;                 /* current row group, -1 before the first */
	atomic_int *next_rg;    /* shared with other readers (parallel scans), or NULL */
	int *morsel_first;      /* shared scans: first morsel number of each row group, +1 entry */
	int64_t morsel_rows;    /* MORSEL_ROWS unless a test sets it */
	int64_t morsel_end;     /* row (in row group rg) where the current morsel ends, -1 if none */
	int64_t rows_left;
	int64_t batch_rows;
	br_err *err;
	int rc;
	int64_t bytes_read;     /* file bytes read so far (footer, pages): what projection and skipping save */
};

/* ------------------------------------------------------------------ I/O */

static int src_read(br_pq_reader *r, int64_t off, size_t n, br_buf *dst, br_err *err)
{
	dst->len = 0;
	if (off < 0 || off > r->size || (int64_t)n > r->size - off)
		return br_errf(err, BR_ECORRUPT, "%s: read of %zu bytes at offset %" PRId64 " is past the end (%" PRId64 " bytes)",
			       r->name, n, off, r->size);
	uint8_t *p = br_pq_take(dst, n);
	r->bytes_read += (int64_t)n;
	if (r->mem) {
		memcpy(p, r->mem + off, n);
		return 0;
	}
	size_t done = 0;
	while (done < n) {
		ssize_t k = pread(r->fd, p + done, n - done, off + (int64_t)done);
		if (k < 0)
			return br_errno(err, BR_EIO, "%s: read at offset %" PRId64, r->name, off + (int64_t)done);
		if (k == 0)
			return br_errf(err, BR_ECORRUPT, "%s: file ends at offset %" PRId64, r->name, off + (int64_t)done);
		done += (size_t)k;
	}
	return 0;
}

/* --------------------------------------------------------------- schema */

static int classify(const pq_schema_el *e)
{
	if (e->num_children == 0)
		return K_LEAF;
	if (e->logical.kind == PQ_LT_LIST || e->converted == PQ_CT_LIST)
		return K_LIST;
	if (e->logical.kind == PQ_LT_MAP || e->converted == PQ_CT_MAP || e->converted == PQ_CT_MAP_KEY_VALUE)
		return K_MAP;
	return K_STRUCT;
}

typedef struct sctx {
	br_pq_reader *r;
	int idx;               /* next schema element */
	br_err *err;
} sctx;

static int build_rnode(sctx *s, rnode *n, int parent_def, int parent_rep, int depth, const char *prefix);

/* Parses children [s->idx, +count) of a group into n->kids. */
static int build_kids(sctx *s, rnode *n, int count, int def, int rep, int depth, const char *prefix)
{
	n->nkids = count;
	n->kids = br_xcalloc((size_t)BR_MAX(count, 1), sizeof *n->kids);
	for (int i = 0; i < count; i++) {
		int rc = build_rnode(s, &n->kids[i], def, rep, depth + 1, prefix);
		if (rc)
			return rc;
	}
	return 0;
}

static int build_rnode(sctx *s, rnode *n, int parent_def, int parent_rep, int depth, const char *prefix)
{
	br_pq_reader *r = s->r;
	if (depth > 64)
		return br_errf(s->err, BR_ECORRUPT, "%s: schema nests deeper than 64 levels", r->name);
	if (s->idx >= r->fm.nschema)
		return br_errf(s->err, BR_ECORRUPT, "%s: schema has fewer elements than its num_children claim",
			       r->name);
	const pq_schema_el *e = &r->fm.schema[s->idx++];
	memset(n, 0, sizeof *n);
	n->el = e;
	n->field_id = e->field_id;
	n->first_leaf = r->nleaves;
	char *name = prefix ? br_xasprintf("%s.%s", prefix, e->name) : br_xstrdup(e->name);
	int rc = 0;
	if (e->num_children < 0 || e->num_children > r->fm.nschema - s->idx) {
		rc = br_errf(s->err, BR_ECORRUPT, "%s: schema element \"%s\" has %d children", r->name, name,
			     e->num_children);
		goto out;
	}
	if (e->repetition == PQ_REPEATED) {
		/* A bare repeated field (legacy writers, LogicalTypes.md): a
		 * required list whose required elements are the field itself. */
		n->kind = K_LIST;
		n->def = parent_def;
		n->rdef = parent_def + 1;
		n->rrep = parent_rep + 1;
		r->fm.schema[s->idx - 1].repetition = PQ_REQUIRED;
		s->idx--;
		n->nkids = 1;
		n->kids = br_xcalloc(1, sizeof *n->kids);
		rc = build_rnode(s, &n->kids[0], n->rdef, n->rrep, depth + 1, prefix);
		goto out;
	}
	n->optional = e->repetition == PQ_OPTIONAL;
	n->def = parent_def + (n->optional ? 1 : 0);
	n->kind = classify(e);
	if (n->kind == K_LEAF) {
		if (e->type < PQ_BOOLEAN || e->type > PQ_FIXED) {
			rc = br_errf(s->err, BR_ECORRUPT, "%s: column \"%s\" has no valid physical type", r->name, name);
			goto out;
		}
		if (e->type == PQ_FIXED && (e->type_length <= 0 || e->type_length > (1 << 24))) {
			rc = br_errf(s->err, BR_ECORRUPT, "%s: column \"%s\" has fixed length %d", r->name, name,
				     e->type_length);
			goto out;
		}
		r->leaves = br_xrealloc(r->leaves, (size_t)(r->nleaves + 1) * sizeof *r->leaves);
		rleaf *L = &r->leaves[r->nleaves++];
		memset(L, 0, sizeof *L);
		L->el = e;
		L->name = br_arena_strndup(&r->arena, name, strlen(name));
		L->max_def = n->def;
		L->max_rep = parent_rep;
		L->phys = e->type;
		L->type_length = e->type_length;
		n->nleaves = 1;
		goto out;
	}
	if (n->kind == K_STRUCT) {
		rc = build_kids(s, n, e->num_children, n->def, parent_rep, depth, name);
		goto out;
	}
	/* LIST / MAP: exactly one repeated child */
	if (e->num_children != 1 || s->idx >= r->fm.nschema || r->fm.schema[s->idx].repetition != PQ_REPEATED) {
		rc = br_errf(s->err, BR_EUNSUPPORTED, "%s: %s group \"%s\" is not one repeated child", r->name,
			     n->kind == K_LIST ? "LIST" : "MAP", name);
		goto out;
	}
	const pq_schema_el *g = &r->fm.schema[s->idx];
	n->rdef = n->def + 1;
	n->rrep = parent_rep + 1;
	char *gname = br_xasprintf("%s.%s", name, g->name);
	if (n->kind == K_MAP) {
		s->idx++;
		if (g->num_children != 2) {
			rc = br_errf(s->err, BR_EUNSUPPORTED, "%s: MAP \"%s\" key_value group has %d children", r->name,
				     name, g->num_children);
		} else {
			rc = build_kids(s, n, 2, n->rdef, n->rrep, depth + 1, gname);
			if (!rc && n->kids[0].optional)
				rc = br_errf(s->err, BR_ECORRUPT, "%s: MAP \"%s\" has an optional key", r->name, name);
		}
		free(gname);
		goto out;
	}
	/* LIST: three-level unless the repeated child is itself the element
	 * (a primitive, a group of several fields, or named "array" or
	 * "<list>_tuple": the backward-compatibility rules). */
	bool two_level = g->num_children == 0 || g->num_children > 1 || strcmp(g->name, "array") == 0;
	char *tuple = br_xasprintf("%s_tuple", e->name);
	if (strcmp(g->name, tuple) == 0)
		two_level = true;
	free(tuple);
	if (two_level) {
		/* the repeated node is the (required) element */
		r->fm.schema[s->idx].repetition = PQ_REQUIRED;
		n->nkids = 1;
		n->kids = br_xcalloc(1, sizeof *n->kids);
		rc = build_rnode(s, &n->kids[0], n->rdef, n->rrep, depth + 1, name);
	} else {
		s->idx++;
		rc = build_kids(s, n, 1, n->rdef, n->rrep, depth + 1, gname);
	}
	free(gname);
out:
	n->nleaves = r->nleaves - n->first_leaf;
	free(name);
	return rc;
}

static void free_rnode(rnode *n)
{
	for (int i = 0; i < n->nkids; i++)
		free_rnode(&n->kids[i]);
	free(n->kids);
}

/* Maps a Parquet leaf to an Iceberg type, and records the value conversion. */
static int leaf_type(br_pq_reader *r, rleaf *L, br_type **out, br_err *err)
{
	const pq_schema_el *e = L->el;
	const pq_logical *lg = &e->logical;
	int ct = e->converted;
	*out = NULL;
	bool is_dec = lg->kind == PQ_LT_DECIMAL || ct == PQ_CT_DECIMAL;
	if (is_dec) {
		int p = lg->kind == PQ_LT_DECIMAL ? lg->precision : e->precision;
		int sc = lg->kind == PQ_LT_DECIMAL ? lg->scale : e->scale;
		if (p < 1 || p > 38 || sc < 0 || sc > p)
			return br_errf(err, BR_EUNSUPPORTED, "%s: column %s is decimal(%d,%d), outside decimal(38)", r->name,
				       L->name, p, sc);
		if (L->phys == PQ_BOOLEAN || L->phys == PQ_FLOAT || L->phys == PQ_DOUBLE || L->phys == PQ_INT96 ||
		    (L->phys == PQ_FIXED && L->type_length > 16))
			return br_errf(err, BR_ECORRUPT, "%s: column %s: decimal on an unsuitable physical type", r->name,
				       L->name);
		*out = br_type_decimal(p, sc);
		return 0;
	}
	switch (L->phys) {
	case PQ_BOOLEAN:
		*out = br_type_new(BR_T_BOOLEAN);
		return 0;
	case PQ_INT32:
		if (lg->kind == PQ_LT_DATE || ct == PQ_CT_DATE) {
			*out = br_type_new(BR_T_DATE);
		} else if (lg->kind == PQ_LT_TIME || ct == PQ_CT_TIME_MILLIS) {
			*out = br_type_new(BR_T_TIME);
			L->scale_mul = 1000;
		} else if ((lg->kind == PQ_LT_INTEGER && !lg->is_signed && lg->bit_width == 32) || ct == PQ_CT_UINT_32) {
			*out = br_type_new(BR_T_LONG);
			L->uint32 = true;
		} else {
			*out = br_type_new(BR_T_INT);
		}
		return 0;
	case PQ_INT64:
	case PQ_INT96: {
		int unit = 0;
		bool ts = false, utc = false, time = false;
		if (L->phys == PQ_INT96) {
			ts = true;
			unit = PQ_UNIT_NANOS;
		} else if (lg->kind == PQ_LT_TIMESTAMP) {
			ts = true;
			unit = lg->unit;
			utc = lg->utc;
		} else if (lg->kind == PQ_LT_TIME) {
			time = true;
			unit = lg->unit;
		} else if (ct == PQ_CT_TIMESTAMP_MICROS || ct == PQ_CT_TIMESTAMP_MILLIS) {
			ts = utc = true; /* converted types meant instants */
			unit = ct == PQ_CT_TIMESTAMP_MILLIS ? PQ_UNIT_MILLIS : PQ_UNIT_MICROS;
		} else if (ct == PQ_CT_TIME_MICROS) {
			time = true;
			unit = PQ_UNIT_MICROS;
		}
		if (unit == PQ_UNIT_MILLIS)
			L->scale_mul = 1000;
		else if (unit == PQ_UNIT_NANOS)
			L->scale_mul = -1000;
		*out = br_type_new(ts ? (utc ? BR_T_TIMESTAMPTZ : BR_T_TIMESTAMP) : time ? BR_T_TIME : BR_T_LONG);
		return 0;
	}
	case PQ_FLOAT:
		*out = br_type_new(BR_T_FLOAT);
		return 0;
	case PQ_DOUBLE:
		*out = br_type_new(BR_T_DOUBLE);
		return 0;
	case PQ_BYTE_ARRAY:
		if (lg->kind == PQ_LT_STRING || lg->kind == PQ_LT_ENUM || lg->kind == PQ_LT_JSON || ct == PQ_CT_UTF8 ||
		    ct == PQ_CT_ENUM || ct == PQ_CT_JSON)
			*out = br_type_new(BR_T_STRING);
		else
			*out = br_type_new(BR_T_BINARY);
		return 0;
	case PQ_FIXED:
		if (lg->kind == PQ_LT_UUID && L->type_length == 16)
			*out = br_type_new(BR_T_UUID);
		else
			*out = br_type_fixed(L->type_length);
		return 0;
	}
	return br_errf(err, BR_ECORRUPT, "%s: column %s has physical type %d", r->name, L->name, L->phys);
}

/* Builds the br_type of node n; ids come from the file or, when use_pos,
 * from pre-order position. */
static int node_type(br_pq_reader *r, rnode *n, bool use_pos, int *pos, br_type **out, br_err *err)
{
	int rc;
	*out = NULL;
	if (n->kind == K_LEAF) {
		rleaf *L = &r->leaves[n->first_leaf];
		return leaf_type(r, L, out, err);
	}
	br_type *kt[2] = { NULL, NULL };
	int ids[2] = { 0, 0 };
	if (n->kind == K_STRUCT) {
		br_type *st = br_type_struct();
		for (int i = 0; i < n->nkids; i++) {
			rnode *k = &n->kids[i];
			int id = use_pos ? ++*pos : k->field_id;
			k->field_id = id;
			br_type *ft;
			if ((rc = node_type(r, k, use_pos, pos, &ft, err))) {
				br_type_free(st);
				return rc;
			}
			br_type_struct_add(st, id, k->el->name, !k->optional, ft, NULL);
		}
		*out = st;
		return 0;
	}
	for (int i = 0; i < n->nkids; i++) {
		rnode *k = &n->kids[i];
		ids[i] = use_pos ? ++*pos : k->field_id;
		k->field_id = ids[i];
		if ((rc = node_type(r, k, use_pos, pos, &kt[i], err))) {
			br_type_free(kt[0]);
			return rc;
		}
	}
	if (n->kind == K_LIST)
		*out = br_type_list(ids[0], !n->kids[0].optional, kt[0]);
	else
		*out = br_type_map(ids[0], kt[0], ids[1], !n->kids[1].optional, kt[1]);
	return 0;
}

static bool ids_usable(const rnode *n, br_map *seen)
{
	for (int i = 0; i < n->nkids; i++) {
		const rnode *k = &n->kids[i];
		char key[16];
		if (k->field_id <= 0)
			return false;
		snprintf(key, sizeof key, "%d", k->field_id);
		if (br_map_gets(seen, key))
			return false;
		br_map_put(seen, key, strlen(key), (void *)1);
		if (!ids_usable(k, seen))
			return false;
	}
	return true;
}

static void bind_leaf_types(br_pq_reader *r, rnode *n, const br_type *t)
{
	if (n->kind == K_LEAF) {
		r->leaves[n->first_leaf].t = t;
		r->leaves[n->first_leaf].field_id = n->field_id;
		return;
	}
	for (int i = 0; i < n->nkids; i++)
		bind_leaf_types(r, &n->kids[i], t->children[i].type);
}

/* --------------------------------------------------------------- footer */

static int check_chunks(br_pq_reader *r, br_err *err)
{
	int64_t data_end = r->size - 8;
	for (int g = 0; g < r->fm.nrow_groups; g++) {
		pq_row_group *rg = &r->fm.row_groups[g];
		if (rg->ncols != r->nleaves)
			return br_errf(err, BR_ECORRUPT, "%s: row group %d has %d column chunks, the schema %d leaves",
				       r->name, g, rg->ncols, r->nleaves);
		if (rg->num_rows < 0)
			return br_errf(err, BR_ECORRUPT, "%s: row group %d has %" PRId64 " rows", r->name, g, rg->num_rows);
		for (int c = 0; c < rg->ncols; c++) {
			pq_column *col = &rg->cols[c];
			const rleaf *L = &r->leaves[c];
			if (col->type != L->phys)
				return br_errf(err, BR_ECORRUPT, "%s: row group %d column %s: chunk type %d, schema type %d",
					       r->name, g, L->name, col->type, L->phys);
			int64_t start = col->data_page_offset;
			if (col->dictionary_page_offset > 0 && col->dictionary_page_offset < start)
				start = col->dictionary_page_offset;
			if (start < 4 || col->total_compressed < 0 || col->total_compressed > data_end - start ||
			    col->num_values < 0)
				return br_errf(err, BR_ECORRUPT,
					       "%s: row group %d column %s: chunk at offset %" PRId64 " size %" PRId64
					       " lies outside the file",
					       r->name, g, L->name, start, col->total_compressed);
		}
	}
	return 0;
}

static int open_common(br_pq_reader *r, br_err *err)
{
	br_arena_init(&r->arena, 16 << 10);
	r->batch_rows = 65536;
	r->morsel_rows = MORSEL_ROWS;
	r->morsel_end = -1;
	r->rg = -1;
	if (r->size < 12)
		return br_errf(err, BR_ECORRUPT, "%s: %" PRId64 " bytes is too short for Parquet", r->name, r->size);
	br_buf b = { 0 };
	int rc = src_read(r, r->size - 8, 8, &b, err);
	if (rc)
		goto out;
	uint32_t flen = (uint32_t)b.p[0] | (uint32_t)b.p[1] << 8 | (uint32_t)b.p[2] << 16 | (uint32_t)b.p[3] << 24;
	if (memcmp(b.p + 4, "PAR1", 4) != 0) {
		rc = br_errf(err, BR_ECORRUPT, "%s: no PAR1 magic at the end: truncated, not Parquet, or an encrypted footer",
			     r->name);
		goto out;
	}
	if (flen > (256u << 20)) {
		rc = br_errf(err, BR_ELIMIT, "%s: footer of %u bytes is over the 256 MiB limit", r->name, flen);
		goto out;
	}
	if ((int64_t)flen > r->size - 12) {
		rc = br_errf(err, BR_ECORRUPT, "%s: footer length %u exceeds the file (%" PRId64 " bytes)", r->name, flen,
			     r->size);
		goto out;
	}
	if ((rc = src_read(r, 0, 4, &b, err)))
		goto out;
	if (memcmp(b.p, "PAR1", 4) != 0) {
		rc = br_errf(err, BR_ECORRUPT, "%s: no PAR1 magic at the start", r->name);
		goto out;
	}
	if ((rc = src_read(r, r->size - 8 - flen, flen, &b, err)))
		goto out;
	r->footer = b.p;
	b = (br_buf){ 0 };
	if ((rc = br_pq_decode_file_meta(r->footer, flen, &r->arena, &r->fm, err))) {
		br_errctx(err, "%s: footer at offset %" PRId64, r->name, r->size - 8 - (int64_t)flen);
		goto out;
	}
	const pq_schema_el *root = &r->fm.schema[0];
	sctx s = { r, 1, err };
	memset(&r->root, 0, sizeof r->root);
	r->root.kind = K_STRUCT;
	r->root.el = root;
	if (root->num_children < 0 || root->num_children > r->fm.nschema - 1) {
		rc = br_errf(err, BR_ECORRUPT, "%s: root schema element has %d children", r->name, root->num_children);
		goto out;
	}
	if ((rc = build_kids(&s, &r->root, root->num_children, 0, 0, 0, NULL)))
		goto out;
	if (s.idx != r->fm.nschema) {
		rc = br_errf(err, BR_ECORRUPT, "%s: schema has %d elements, the tree uses %d", r->name, r->fm.nschema,
			     s.idx);
		goto out;
	}
	if ((rc = check_chunks(r, err)))
		goto out;
	br_map seen = { 0 };
	bool use_pos = !ids_usable(&r->root, &seen);
	br_map_free(&seen);
	int pos = 0;
	br_type *rt;
	if ((rc = node_type(r, &r->root, use_pos, &pos, &rt, err)))
		goto out;
	if ((rc = br_schema_new(0, rt, &r->schema, err))) {
		br_errctx(err, "%s", r->name);
		goto out;
	}
	bind_leaf_types(r, &r->root, r->schema->root);
	r->streams = br_xcalloc((size_t)BR_MAX(r->nleaves, 1), sizeof *r->streams);
	r->leaf_on = br_xcalloc((size_t)BR_MAX(r->nleaves, 1), sizeof *r->leaf_on);
	for (int i = 0; i < r->nleaves; i++)
		r->streams[i].lf = &r->leaves[i];
out:
	br_buf_free(&b);
	return rc;
}

int br_pq_reader_open(const char *path, br_pq_reader **out, br_err *err)
{
	*out = NULL;
	br_pq_reader *r = br_xcalloc(1, sizeof *r);
	r->name = br_xstrdup(path);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		int rc = br_errno(err, errno == ENOENT ? BR_ENOTFOUND : BR_EIO, "%s: cannot open", path);
		br_pq_reader_close(r);
		return rc;
	}
	struct stat st;
	if (fstat(r->fd, &st) != 0) {
		int rc = br_errno(err, BR_EIO, "%s: stat", path);
		br_pq_reader_close(r);
		return rc;
	}
	r->size = st.st_size;
	int rc = open_common(r, err);
	if (rc) {
		br_pq_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

int br_pq_reader_open_mem(const void *p, size_t n, const char *name, br_pq_reader **out, br_err *err)
{
	*out = NULL;
	br_pq_reader *r = br_xcalloc(1, sizeof *r);
	r->name = br_xstrdup(name);
	r->fd = -1;
	r->mem = p;
	r->size = (int64_t)n;
	int rc = open_common(r, err);
	if (rc) {
		br_pq_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

static void stream_free(lstream *s)
{
	br_buf_free(&s->codes);
	br_buf_free(&s->raw);
	br_buf_free(&s->page);
	br_buf_free(&s->defs);
	br_buf_free(&s->reps);
	br_buf_free(&s->tmp);
	br_buf_free(&s->tmp2);
	br_buf_free(&s->ix);
	if (s->dict.type)
		br_col_free(&s->dict);
	if (s->vals.type)
		br_col_free(&s->vals);
}

void br_pq_reader_close(br_pq_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	for (int i = 0; r->streams && i < r->nleaves; i++)
		stream_free(&r->streams[i]);
	free(r->streams);
	free(r->leaf_on);
	free(r->morsel_first);
	br_pq_dctx_free(&r->dctx);
	for (int i = 0; i < r->npred; i++)
		br_buf_free(&r->preds[i].bytes);
	free(r->preds);
	free(r->proj);
	br_type_free(r->proj_type);
	br_schema_free(r->schema);
	free_rnode(&r->root);
	free(r->leaves);
	free(r->footer);
	br_arena_free(&r->arena);
	free(r->name);
	free(r);
}

const br_schema *br_pq_reader_schema(const br_pq_reader *r) { return r->schema; }
int64_t br_pq_reader_num_rows(const br_pq_reader *r) { return r->fm.num_rows; }
int br_pq_reader_num_row_groups(const br_pq_reader *r) { return r->fm.nrow_groups; }
int br_pq_reader_skipped_row_groups(const br_pq_reader *r) { return r->skipped; }
void br_pq_reader_set_batch_rows(br_pq_reader *r, int64_t rows) { r->batch_rows = rows > 0 ? rows : 65536; }
void br_pq_reader_share_row_groups(br_pq_reader *r, atomic_int *next) { r->next_rg = next; }
void br_pq_reader_set_morsel_rows(br_pq_reader *r, int64_t rows) { r->morsel_rows = rows > 0 ? rows : MORSEL_ROWS; }

bool br_pq_reader_dict_codes(const br_pq_reader *r, int k, const uint32_t **codes, const br_col **dict,
			     uint64_t *dict_id)
{
	if (!r->started || r->rc || k < 0 || k >= r->nproj)
		return false;
	const rnode *n = &r->root.kids[r->proj[k]];
	if (n->kind != K_LEAF)
		return false;
	const lstream *s = &r->streams[n->first_leaf];
	if (!s->flat || !s->codes_ok || !s->codes.len)
		return false;
	*codes = (const uint32_t *)(const void *)s->codes.p;
	*dict = &s->dict;
	*dict_id = s->dict_id;
	return true;
}

int br_pq_reader_project(br_pq_reader *r, const int *field_ids, int n, br_err *err)
{
	if (r->started)
		return br_errf(err, BR_EINVAL, "%s: projection must be set before reading", r->name);
	int *proj = br_xmalloc((size_t)BR_MAX(n, 1) * sizeof(int));
	for (int i = 0; i < n; i++) {
		int k = -1;
		for (int j = 0; j < r->root.nkids; j++)
			if (r->root.kids[j].field_id == field_ids[i])
				k = j;
		if (k < 0) {
			free(proj);
			return br_errf(err, BR_ENOTFOUND, "%s: no top-level column with field id %d", r->name, field_ids[i]);
		}
		for (int j = 0; j < i; j++)
			if (proj[j] == k) {
				free(proj);
				return br_errf(err, BR_EINVAL, "%s: field id %d projected twice", r->name, field_ids[i]);
			}
		proj[i] = k;
	}
	free(r->proj);
	r->proj = proj;
	r->nproj = n;
	return 0;
}

static const br_type *make_proj_type(br_pq_reader *r)
{
	if (r->proj_type)
		return r->proj_type;
	if (!r->proj) {
		r->nproj = r->root.nkids;
		r->proj = br_xmalloc((size_t)BR_MAX(r->nproj, 1) * sizeof(int));
		for (int i = 0; i < r->nproj; i++)
			r->proj[i] = i;
	}
	br_type *st = br_type_struct();
	for (int i = 0; i < r->nproj; i++) {
		const br_field *f = &r->schema->root->children[r->proj[i]];
		br_field *g = br_type_struct_add(st, f->id, f->name, f->required, br_type_clone(f->type), f->doc);
		(void)g;
		const rnode *n = &r->root.kids[r->proj[i]];
		for (int k = 0; k < n->nleaves; k++)
			r->leaf_on[n->first_leaf + k] = true;
		if (n->kind == K_LEAF && r->leaves[n->first_leaf].max_rep == 0)
			r->streams[n->first_leaf].flat = true;
	}
	r->proj_type = st;
	return st;
}

const br_type *br_pq_reader_type(const br_pq_reader *r) { return make_proj_type((br_pq_reader *)r); }

/* -------------------------------------------------------------- values */

static inline int64_t rd_le64(const uint8_t *p) { int64_t v; memcpy(&v, p, 8); return v; }
static inline int32_t rd_le32(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

/* Appends one physical value (PLAIN bytes, no BYTE_ARRAY prefix) to c,
 * converted to the leaf's Iceberg type. */
static int append_phys(const rleaf *L, br_col *c, const uint8_t *p, size_t n)
{
	switch (L->t->id) {
	case BR_T_BOOLEAN:
		br_col_append_bool(c, p[0] & 1);
		return 0;
	case BR_T_INT: case BR_T_DATE:
		br_col_append_i32(c, rd_le32(p));
		return 0;
	case BR_T_FLOAT: {
		float f;
		memcpy(&f, p, 4);
		br_col_append_f32(c, f);
		return 0;
	}
	case BR_T_DOUBLE: {
		double d;
		memcpy(&d, p, 8);
		br_col_append_f64(c, d);
		return 0;
	}
	case BR_T_LONG: case BR_T_TIME: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ: {
		int64_t v;
		if (L->phys == PQ_INT96) {
			/* nanoseconds of the day (8 bytes) then the Julian day (4 bytes) */
			int64_t nanos = rd_le64(p);
			int64_t jday = (uint32_t)rd_le32(p + 8);
			v = (jday - 2440588) * 86400000000LL + nanos / 1000;
		} else if (L->phys == PQ_INT32) {
			v = L->uint32 ? (int64_t)(uint32_t)rd_le32(p) : rd_le32(p);
			if (L->scale_mul > 0)
				v *= L->scale_mul;
		} else {
			v = rd_le64(p);
			if (L->scale_mul > 0)
				v = (int64_t)((uint64_t)v * (uint64_t)L->scale_mul);
			else if (L->scale_mul < 0) {
				int64_t d = -L->scale_mul;
				v = v / d - (v % d < 0); /* floor, so pre-1970 instants round down */
			}
		}
		br_col_append_i64(c, v);
		return 0;
	}
	case BR_T_DECIMAL: {
		__int128 v;
		if (L->phys == PQ_INT32) {
			v = rd_le32(p);
		} else if (L->phys == PQ_INT64) {
			v = rd_le64(p);
		} else {
			if (n > 16 || n == 0) {
				if (n == 0) {
					v = 0;
					br_col_append_dec(c, v);
					return 0;
				}
				return -1;
			}
			/* big-endian two's complement, sign-extended */
			unsigned __int128 u = (p[0] & 0x80) ? ~(unsigned __int128)0 : 0;
			for (size_t i = 0; i < n; i++)
				u = u << 8 | p[i];
			v = (__int128)u;
		}
		br_col_append_dec(c, v);
		return 0;
	}
	default:
		if (L->t->id == BR_T_UUID || L->t->id == BR_T_FIXED) {
			if ((int)n != br_type_width(L->t))
				return -1;
		}
		br_col_append_bytes(c, p, n);
		return 0;
	}
}

static size_t phys_width(const rleaf *L)
{
	switch (L->phys) {
	case PQ_INT32: case PQ_FLOAT: return 4;
	case PQ_INT64: case PQ_DOUBLE: return 8;
	case PQ_INT96: return 12;
	case PQ_FIXED: return (size_t)L->type_length;
	default: return 0;
	}
}

/* True when the PLAIN bytes of the leaf are its Arrow values (no conversion). */
static bool is_raw(const rleaf *L)
{
	switch (L->t->id) {
	case BR_T_INT: case BR_T_DATE: return L->phys == PQ_INT32;
	case BR_T_FLOAT: return L->phys == PQ_FLOAT;
	case BR_T_DOUBLE: return L->phys == PQ_DOUBLE;
	case BR_T_LONG: case BR_T_TIME: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ:
		return L->phys == PQ_INT64 && L->scale_mul == 0;
	default: return false;
	}
}

/* Decodes nvals PLAIN values from p[0..len) into c. */
static int decode_plain(br_pq_reader *r, lstream *s, const uint8_t *p, size_t len, int64_t nvals, br_col *c,
			br_err *err)
{
	const rleaf *L = s->lf;
	if (L->phys == PQ_BOOLEAN) {
		if ((size_t)((nvals + 7) / 8) > len)
			goto short_;
		for (int64_t i = 0; i < nvals; i++) {
			uint8_t b = p[i >> 3] >> (i & 7) & 1;
			append_phys(L, c, &b, 1);
		}
		return 0;
	}
	if (L->phys == PQ_BYTE_ARRAY) {
		br_cur cur = br_cur_make(p, len);
		for (int64_t i = 0; i < nvals; i++) {
			const uint8_t *lp = br_cur_take(&cur, 4);
			if (!lp)
				goto short_;
			uint32_t n = (uint32_t)rd_le32(lp);
			const uint8_t *v = br_cur_take(&cur, n);
			if (!v)
				goto short_;
			if (append_phys(L, c, v, n))
				goto bad;
		}
		return 0;
	}
	size_t w = phys_width(L);
	if ((uint64_t)nvals * w > len)
		goto short_;
	if (is_raw(L)) {
		if (c == &s->vals && s->flat)
			s->rawp = p; /* read_flat copies straight from the page */
		else
			br_col_append_raw(c, p, nvals);
		return 0;
	}
	for (int64_t i = 0; i < nvals; i++)
		if (append_phys(L, c, p + (size_t)i * w, w))
			goto bad;
	return 0;
short_:
	return br_errf(err, BR_ECORRUPT, "%s: column %s, page at offset %" PRId64 ": PLAIN values run past the page",
		       r->name, L->name, s->page_off);
bad:
	return br_errf(err, BR_ECORRUPT, "%s: column %s, page at offset %" PRId64 ": value does not fit its type",
		       r->name, L->name, s->page_off);
}

/* The largest of v[0..n) (0 for none): a reduction without an early exit,
 * so it vectorizes; checks of indices and levels use it. */
static uint32_t max_u32(const uint32_t *v, int64_t n)
{
	uint32_t m[8] = { 0 };
	int64_t i = 0;
	for (; i + 8 <= n; i += 8)
		for (int k = 0; k < 8; k++)
			m[k] = v[i + k] > m[k] ? v[i + k] : m[k];
	for (; i < n; i++)
		m[0] = v[i] > m[0] ? v[i] : m[0];
	for (int k = 1; k < 8; k++)
		m[0] = m[k] > m[0] ? m[k] : m[0];
	return m[0];
}

static int corrupt(br_pq_reader *r, lstream *s, br_err *err, const char *what)
{
	return br_errf(err, BR_ECORRUPT, "%s: column %s, page at offset %" PRId64 ": %s", r->name, s->lf->name,
		       s->page_off, what);
}

static int decode_values(br_pq_reader *r, lstream *s, int enc, const uint8_t *p, size_t len, int64_t nvals,
			 br_err *err)
{
	const rleaf *L = s->lf;
	br_col *c = &s->vals;
	int rc;
	switch (enc) {
	case PQ_ENC_PLAIN:
		return decode_plain(r, s, p, len, nvals, c, err);
	case PQ_ENC_PLAIN_DICTIONARY:
	case PQ_ENC_RLE_DICTIONARY: {
		/* kept as indices: values are copied once, from the dictionary
		 * straight into the batch */
		if (!s->has_dict)
			return corrupt(r, s, err, "dictionary-encoded page without a dictionary page");
		s->ix.len = 0;
		if (nvals == 0) {
			s->by_index = true;
			return 0;
		}
		if (len < 1)
			return corrupt(r, s, err, "dictionary indices missing");
		uint32_t *ix = (uint32_t *)br_pq_take(&s->ix, (size_t)nvals * 4);
		if ((rc = br_pq_rle_decode(p + 1, len - 1, p[0], ix, (size_t)nvals, err)))
			return br_errctx(err, "%s: column %s, page at offset %" PRId64, r->name, L->name, s->page_off);
		if (max_u32(ix, nvals) >= (uint64_t)s->dict.len)
			return corrupt(r, s, err, "dictionary index out of range");
		s->by_index = true;
		return 0;
	}
	case PQ_ENC_RLE: {
		if (L->phys != PQ_BOOLEAN)
			return corrupt(r, s, err, "RLE encoding on a non-boolean column");
		if (len < 4)
			return corrupt(r, s, err, "RLE boolean length missing");
		uint32_t n = (uint32_t)rd_le32(p);
		if (n > len - 4)
			return corrupt(r, s, err, "RLE boolean length exceeds the page");
		s->tmp.len = 0;
		uint32_t *v = (uint32_t *)br_pq_take(&s->tmp, (size_t)nvals * 4 + 4);
		if ((rc = br_pq_rle_decode(p + 4, n, 1, v, (size_t)nvals, err)))
			return br_errctx(err, "%s: column %s, page at offset %" PRId64, r->name, L->name, s->page_off);
		for (int64_t i = 0; i < nvals; i++)
			br_col_append_bool(c, v[i] & 1);
		return 0;
	}
	case PQ_ENC_DELTA_BINARY_PACKED: {
		if (L->phys != PQ_INT32 && L->phys != PQ_INT64)
			return corrupt(r, s, err, "DELTA_BINARY_PACKED on a non-integer column");
		s->tmp.len = 0;
		int64_t *v = (int64_t *)br_pq_take(&s->tmp, (size_t)nvals * 8 + 8);
		size_t got, used;
		if ((rc = br_pq_delta_decode(p, len, v, (size_t)nvals, &got, &used, err)))
			return br_errctx(err, "%s: column %s, page at offset %" PRId64, r->name, L->name, s->page_off);
		if ((int64_t)got != nvals)
			return corrupt(r, s, err, "DELTA_BINARY_PACKED value count differs from the levels");
		for (int64_t i = 0; i < nvals; i++) {
			uint8_t b[8];
			if (L->phys == PQ_INT32) {
				int32_t x = (int32_t)v[i];
				memcpy(b, &x, 4);
			} else {
				memcpy(b, &v[i], 8);
			}
			if (append_phys(L, c, b, phys_width(L)))
				return corrupt(r, s, err, "value does not fit its type");
		}
		return 0;
	}
	case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
	case PQ_ENC_DELTA_BYTE_ARRAY: {
		if (L->phys != PQ_BYTE_ARRAY && !(enc == PQ_ENC_DELTA_BYTE_ARRAY && L->phys == PQ_FIXED))
			return corrupt(r, s, err, "DELTA byte-array encoding on a non-byte-array column");
		size_t got, used, off = 0;
		s->tmp.len = 0;
		int64_t *pre = NULL;
		if (enc == PQ_ENC_DELTA_BYTE_ARRAY) {
			pre = (int64_t *)br_pq_take(&s->tmp, (size_t)nvals * 8 + 8);
			if ((rc = br_pq_delta_decode(p, len, pre, (size_t)nvals, &got, &used, err)))
				return br_errctx(err, "%s: column %s, page at offset %" PRId64 " (prefix lengths)", r->name,
						 L->name, s->page_off);
			if ((int64_t)got != nvals)
				return corrupt(r, s, err, "DELTA_BYTE_ARRAY prefix count differs from the levels");
			off = used;
		}
		s->tmp2.len = 0;
		int64_t *lens = (int64_t *)br_pq_take(&s->tmp2, (size_t)nvals * 8 + 8);
		if ((rc = br_pq_delta_decode(p + off, len - off, lens, (size_t)nvals, &got, &used, err)))
			return br_errctx(err, "%s: column %s, page at offset %" PRId64 " (lengths)", r->name, L->name,
					 s->page_off);
		if ((int64_t)got != nvals)
			return corrupt(r, s, err, "DELTA length count differs from the levels");
		off += used;
		br_buf prev = { 0 };
		for (int64_t i = 0; i < nvals; i++) {
			if (lens[i] < 0 || (uint64_t)lens[i] > len - off) {
				br_buf_free(&prev);
				return corrupt(r, s, err, "DELTA byte-array data run past the page");
			}
			const uint8_t *v = p + off;
			size_t n = (size_t)lens[i];
			off += n;
			if (pre) {
				if (pre[i] < 0 || (uint64_t)pre[i] > prev.len) {
					br_buf_free(&prev);
					return corrupt(r, s, err, "DELTA_BYTE_ARRAY prefix longer than the previous value");
				}
				prev.len = (size_t)pre[i];
				br_buf_put(&prev, v, n);
				v = prev.p;
				n = prev.len;
			}
			if (append_phys(L, c, v ? v : (const uint8_t *)"", n)) {
				br_buf_free(&prev);
				return corrupt(r, s, err, "value does not fit its type");
			}
		}
		br_buf_free(&prev);
		return 0;
	}
	case PQ_ENC_BYTE_STREAM_SPLIT: {
		size_t w = phys_width(L);
		if (!w || L->phys == PQ_INT96)
			return corrupt(r, s, err, "BYTE_STREAM_SPLIT on an unsupported column type");
		if ((uint64_t)nvals * w > len)
			return corrupt(r, s, err, "BYTE_STREAM_SPLIT data shorter than its values");
		uint8_t buf[64];
		uint8_t *one = w <= sizeof buf ? buf : br_xmalloc(w);
		for (int64_t i = 0; i < nvals; i++) {
			for (size_t k = 0; k < w; k++)
				one[k] = p[k * (size_t)nvals + (size_t)i];
			if (append_phys(L, c, one, w)) {
				if (one != buf)
					free(one);
				return corrupt(r, s, err, "value does not fit its type");
			}
		}
		if (one != buf)
			free(one);
		return 0;
	}
	default: {
		char msg[64];
		snprintf(msg, sizeof msg, "encoding %d is not supported", enc);
		br_errf(err, BR_EUNSUPPORTED, "%s: column %s, page at offset %" PRId64 ": %s", r->name, L->name,
			s->page_off, msg);
		return BR_EUNSUPPORTED;
	}
	}
}

/* --------------------------------------------------------------- pages */

/* After a dictionary page: the longest string, and 16 zero bytes past the
 * values, so gather_strings may copy every short string as 16 bytes. */
static void dict_prepare(lstream *s)
{
	s->dict_maxlen = 0;
	if (s->dict.type->id != BR_T_STRING && s->dict.type->id != BR_T_BINARY)
		return;
	const int32_t *o = (const int32_t *)(const void *)s->dict.offsets.p;
	int32_t m = 0;
	for (int64_t i = 0; i < s->dict.len; i++)
		m = BR_MAX(m, o[i + 1] - o[i]);
	s->dict_maxlen = m;
	br_buf_reserve(&s->dict.values, 16);
	memset(s->dict.values.p + s->dict.values.len, 0, 16);
}


/* Decodes n levels into out. With dense (definition levels of a flat
 * column, which read_flat alone reads), a page whose levels are all max (no
 * nulls) sets *dense and leaves out alone: no per-value work at all. */
static int decode_levels(br_pq_reader *r, lstream *s, const uint8_t *p, size_t len, int max, br_buf *out,
			 int64_t n, bool *dense, br_err *err)
{
	if (dense) {
		*dense = br_pq_rle_all_equal(p, len, pq_bit_width((uint64_t)max), (uint32_t)max, (size_t)n);
		if (*dense)
			return 0;
	}
	out->len = 0;
	uint32_t *v = (uint32_t *)br_pq_take(out, (size_t)n * 4 + 4);
	int rc = br_pq_rle_decode(p, len, pq_bit_width((uint64_t)max), v, (size_t)n, err);
	if (rc)
		return br_errctx(err, "%s: column %s, page at offset %" PRId64 " (levels)", r->name, s->lf->name,
				 s->page_off);
	if (max_u32(v, n) > (uint32_t)max)
		return corrupt(r, s, err, "level above the column's maximum");
	return 0;
}

/* Reads the next page of the chunk. Returns 1 when a data page is loaded, 0
 * at the end of the chunk, negative on error. */
static int load_page(br_pq_reader *r, lstream *s, int64_t *skip, br_err *err)
{
	const rleaf *L = s->lf;
	for (;;) {
		if (s->pos >= s->end)
			return 0;
		s->page_off = s->pos;
		/* The header is small: read up to 64 KiB of the chunk, more only if
		 * a header (with large statistics) needs it. */
		size_t want = (size_t)BR_MIN(s->end - s->pos, 64 << 10);
		pq_page_header h;
		size_t used = 0;
		int rc;
		for (;;) {
			if ((rc = src_read(r, s->pos, want, &s->raw, err)))
				return rc;
			br_err e2 = { 0 };
			rc = br_pq_decode_page_header(s->raw.p, s->raw.len, &h, &used, &e2);
			if (rc == 0)
				break;
			if ((int64_t)want >= s->end - s->pos || want >= (16u << 20))
				return br_errf(err, rc, "%s: column %s, page at offset %" PRId64 ": %s", r->name, L->name,
					       s->page_off, e2.msg);
			want = (size_t)BR_MIN(s->end - s->pos, (int64_t)want * 4);
		}
		int64_t body_off = s->pos + (int64_t)used;
		if (h.compressed_size > s->end - body_off || h.uncompressed_size > MAX_PAGE_BYTES)
			return corrupt(r, s, err, "page size exceeds its column chunk");
		s->pos = body_off + h.compressed_size;
		if (h.type == PQ_PAGE_DICTIONARY) {
			if (!h.has_dict || h.num_values > MAX_PAGE_ENTRIES)
				return corrupt(r, s, err, "bad dictionary page header");
			if (h.encoding != PQ_ENC_PLAIN && h.encoding != PQ_ENC_PLAIN_DICTIONARY)
				return corrupt(r, s, err, "dictionary page is not PLAIN");
			if ((rc = src_read(r, body_off, (size_t)h.compressed_size, &s->raw, err)))
				return rc;
			s->page.len = 0;
			if ((rc = br_pq_decompress(s->meta->codec, &r->dctx, s->raw.p, s->raw.len,
						(size_t)h.uncompressed_size, &s->page, err)))
				return br_errctx(err, "%s: column %s, dictionary page at offset %" PRId64, r->name, L->name,
						 s->page_off);
			br_col_reset(&s->dict);
			s->has_dict = true;
			if ((rc = decode_plain(r, s, s->page.p, s->page.len, h.num_values, &s->dict, err)))
				return rc;
			dict_prepare(s);
			s->dict_id = ++r->dict_ids;
			continue;
		}
		if (h.type != PQ_PAGE_DATA && h.type != PQ_PAGE_DATA_V2)
			continue; /* index pages and unknown pages carry nothing we need */
		if ((h.type == PQ_PAGE_DATA && !h.has_data) || (h.type == PQ_PAGE_DATA_V2 && !h.has_v2))
			return corrupt(r, s, err, "data page without its header");
		if (h.num_values > MAX_PAGE_ENTRIES)
			return corrupt(r, s, err, "page claims more than 2^24 values");
		if (h.num_values > s->entries_left)
			return corrupt(r, s, err, "pages hold more values than the column chunk");
		s->entries_left -= h.num_values;
		if (skip && h.num_values <= *skip) {
			/* a page wholly before a morsel's first row: not even read */
			*skip -= h.num_values;
			continue;
		}
		if ((rc = src_read(r, body_off, (size_t)h.compressed_size, &s->raw, err)))
			return rc;
		int64_t n = h.num_values;
		const uint8_t *vp;
		size_t vlen;
		/* flat columns may skip expanding levels that are all defined */
		bool dense = false, *flat_dense = s->flat && !L->max_rep ? &dense : NULL;
		s->page.len = 0;
		if (h.type == PQ_PAGE_DATA) {
			if ((rc = br_pq_decompress(s->meta->codec, &r->dctx, s->raw.p, s->raw.len,
						(size_t)h.uncompressed_size, &s->page, err)))
				return br_errctx(err, "%s: column %s, page at offset %" PRId64, r->name, L->name, s->page_off);
			br_cur c = br_cur_make(s->page.p, s->page.len);
			if (L->max_rep) {
				if (h.rep_encoding != PQ_ENC_RLE)
					return corrupt(r, s, err, "repetition levels not RLE encoded");
				uint32_t ln = br_cur_left(&c) >= 4 ? (uint32_t)rd_le32(c.p + c.pos) : 0;
				br_cur_take(&c, 4);
				const uint8_t *lp = br_cur_take(&c, ln);
				if (!lp)
					return corrupt(r, s, err, "repetition levels run past the page");
				if ((rc = decode_levels(r, s, lp, ln, L->max_rep, &s->reps, n, NULL, err)))
					return rc;
			}
			if (L->max_def) {
				if (h.def_encoding != PQ_ENC_RLE)
					return corrupt(r, s, err, "definition levels not RLE encoded");
				uint32_t ln = br_cur_left(&c) >= 4 ? (uint32_t)rd_le32(c.p + c.pos) : 0;
				br_cur_take(&c, 4);
				const uint8_t *lp = br_cur_take(&c, ln);
				if (!lp)
					return corrupt(r, s, err, "definition levels run past the page");
				if ((rc = decode_levels(r, s, lp, ln, L->max_def, &s->defs, n, flat_dense, err)))
					return rc;
			}
			vp = c.p + c.pos;
			vlen = br_cur_left(&c);
		} else {
			if (h.rep_len < 0 || h.def_len < 0 || (int64_t)h.rep_len + h.def_len > h.compressed_size ||
			    (int64_t)h.rep_len + h.def_len > h.uncompressed_size)
				return corrupt(r, s, err, "v2 level lengths exceed the page");
			const uint8_t *p = s->raw.p;
			if (L->max_rep &&
			    (rc = decode_levels(r, s, p, (size_t)h.rep_len, L->max_rep, &s->reps, n, NULL, err)))
				return rc;
			if (L->max_def && (rc = decode_levels(r, s, p + h.rep_len, (size_t)h.def_len, L->max_def, &s->defs, n,
							      flat_dense, err)))
				return rc;
			size_t lv = (size_t)h.rep_len + (size_t)h.def_len;
			size_t clen = s->raw.len - lv, ulen = (size_t)h.uncompressed_size - lv;
			if (h.is_compressed && s->meta->codec != PQ_CODEC_UNCOMPRESSED) {
				if ((rc = br_pq_decompress(s->meta->codec, &r->dctx, p + lv, clen, ulen, &s->page, err)))
					return br_errctx(err, "%s: column %s, page at offset %" PRId64, r->name, L->name,
							 s->page_off);
			} else {
				br_buf_put(&s->page, p + lv, clen);
			}
			vp = s->page.p;
			vlen = s->page.len;
		}
		int64_t nvals = n;
		if (L->max_def && !dense) {
			const uint32_t *d = (const uint32_t *)s->defs.p;
			nvals = 0;
			for (int64_t i = 0; i < n; i++)
				nvals += d[i] == (uint32_t)L->max_def;
		}
		br_col_reset(&s->vals);
		s->vi = 0;
		s->by_index = false;
		s->rawp = NULL;
		if ((rc = decode_values(r, s, h.encoding, vp ? vp : (const uint8_t *)"", vlen, nvals, err)))
			return rc;
		if (!s->by_index && !s->rawp && s->vals.len != nvals)
			return corrupt(r, s, err, "value count differs from the definition levels");
		s->nvals = nvals;
		s->dense = dense || nvals == n;
		s->n = n;
		s->i = 0;
		if (n > 0)
			return 1;
	}
}

static inline uint32_t cur_def(const lstream *s) { return s->lf->max_def ? ((const uint32_t *)s->defs.p)[s->i] : 0; }
static inline uint32_t cur_rep(const lstream *s) { return s->lf->max_rep ? ((const uint32_t *)s->reps.p)[s->i] : 0; }

/* Makes an entry available; 1 if there is one, 0 at the end of the chunk. */
static int peek(br_pq_reader *r, lstream *s)
{
	if (s->i < s->n)
		return 1;
	int rc = load_page(r, s, NULL, r->err);
	if (rc < 0) {
		r->rc = rc;
		return 0;
	}
	return rc;
}

static int start_row_group(br_pq_reader *r, int g)
{
	pq_row_group *rg = &r->fm.row_groups[g];
	for (int i = 0; i < r->nleaves; i++) {
		if (!r->leaf_on[i])
			continue;
		lstream *s = &r->streams[i];
		const pq_column *col = &rg->cols[i];
		s->meta = col;
		int64_t start = col->data_page_offset;
		if (col->dictionary_page_offset > 0 && col->dictionary_page_offset < start)
			start = col->dictionary_page_offset;
		s->pos = start;
		s->end = start + col->total_compressed;
		s->entries_left = col->num_values;
		s->has_dict = false;
		s->n = s->i = 0;
		if (!s->vals.type) {
			br_col_init(&s->vals, s->lf->t);
			br_col_init(&s->dict, s->lf->t);
		}
		br_col_reset(&s->dict);
		br_col_reset(&s->vals);
	}
	r->rows_left = rg->num_rows;
	return 0;
}

static void ran_out(br_pq_reader *r, const lstream *s);

/* Skips the first n rows of a flat column's chunk (the rows of earlier
 * morsels): whole pages by their headers, then entries of one page. */
static void skip_flat(br_pq_reader *r, lstream *s, int64_t n)
{
	while (n > 0 && !r->rc) {
		if (s->i >= s->n) {
			int rc = load_page(r, s, &n, r->err);
			if (rc < 0) {
				r->rc = rc;
				return;
			}
			if (rc == 0) {
				if (n > 0)
					ran_out(r, s);
				return;
			}
			if (n == 0)
				return;
		}
		int64_t take = BR_MIN(n, s->n - s->i), vals = take;
		if (s->lf->max_def && !s->dense) {
			const uint32_t *d = (const uint32_t *)s->defs.p + s->i;
			vals = 0;
			for (int64_t k = 0; k < take; k++)
				vals += d[k] == (uint32_t)s->lf->max_def;
		}
		s->vi += vals;
		s->i += take;
		n -= take;
	}
}

/* Shared scans of flat projections go by morsels (row-group parts of
 * MORSEL_ROWS rows); nested projections by whole row groups, since their
 * pages cannot be skipped by row count. */
static void plan_morsels(br_pq_reader *r)
{
	bool flat = true;
	for (int k = 0; k < r->nproj; k++) {
		const rnode *n = &r->root.kids[r->proj[k]];
		flat = flat && n->kind == K_LEAF && r->leaves[n->first_leaf].max_rep == 0;
	}
	r->morsel_first = br_xmalloc((size_t)(r->fm.nrow_groups + 1) * sizeof(int));
	for (int pass = 0; pass < 2; pass++) {
		int64_t m = 0;
		for (int g = 0; g < r->fm.nrow_groups; g++) {
			r->morsel_first[g] = (int)m;
			int64_t rows = r->fm.row_groups[g].num_rows; /* >= 0: check_chunks */
			/* at most 1024 morsels per row group, however many rows it claims */
			m += flat && rows > r->morsel_rows ? BR_MIN((rows - 1) / r->morsel_rows + 1, 1024) : 1;
			if (m > INT32_MAX / 2)
				break;
		}
		if (m <= INT32_MAX / 2) {
			r->morsel_first[r->fm.nrow_groups] = (int)m;
			return;
		}
		flat = false; /* a footer claiming absurd row counts: whole row groups */
	}
}

/* Takes the next morsel of a shared scan: row group *g, rows [*first, *last).
 * False at the end. */
static bool take_morsel(br_pq_reader *r, int *g, int64_t *first, int64_t *last)
{
	if (!r->morsel_first)
		plan_morsels(r);
	int m = atomic_fetch_add_explicit(r->next_rg, 1, memory_order_relaxed);
	int n = r->fm.nrow_groups;
	if (m < 0 || m >= r->morsel_first[n])
		return false;
	int lo = 0, hi = n - 1; /* last row group whose first morsel is <= m */
	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (r->morsel_first[mid] <= m)
			lo = mid;
		else
			hi = mid - 1;
	}
	int64_t rows = r->fm.row_groups[lo].num_rows, k = m - r->morsel_first[lo];
	int64_t parts = r->morsel_first[lo + 1] - r->morsel_first[lo];
	int64_t size = (rows - 1) / parts + 1; /* morsel_rows unless capped */
	*g = lo;
	*first = BR_MIN(rows, k * size);
	*last = BR_MIN(rows, (k + 1) * size);
	return true;
}

/* ------------------------------------------------------------ assembly */

static void ran_out(br_pq_reader *r, const lstream *s)
{
	if (!r->rc)
		r->rc = br_errf(r->err, BR_ECORRUPT, "%s: column %s ends before its row group's last row", r->name,
				s->lf->name);
}

static void copy_value(br_pq_reader *r, lstream *s, br_col *out)
{
	if (s->vi >= s->nvals) {
		ran_out(r, s);
		return;
	}
	if (s->by_index)
		br_col_append_from(out, &s->dict, ((const uint32_t *)s->ix.p)[s->vi++]);
	else
		br_col_append_from(out, &s->vals, s->vi++);
}

/* Consumes one entry from every leaf under n (a null or an empty list). */
static void skip_entries(br_pq_reader *r, const rnode *n)
{
	for (int k = 0; k < n->nleaves; k++) {
		lstream *s = &r->streams[n->first_leaf + k];
		if (!peek(r, s)) {
			ran_out(r, s);
			return;
		}
		s->i++;
	}
}

static void read_value(br_pq_reader *r, const rnode *n, br_col *out, int depth)
{
	if (r->rc)
		return;
	lstream *first = &r->streams[n->first_leaf];
	if (n->nleaves == 0) {
		/* a group without leaves cannot be stored in Parquet */
		r->rc = br_errf(r->err, BR_ECORRUPT, "%s: group without columns", r->name);
		return;
	}
	if (!peek(r, first)) {
		ran_out(r, first);
		return;
	}
	uint32_t d = cur_def(first);
	if (n->optional && d < (uint32_t)n->def) {
		br_col_append_null(out);
		skip_entries(r, n);
		return;
	}
	switch (n->kind) {
	case K_LEAF:
		if (d == (uint32_t)first->lf->max_def) {
			copy_value(r, first, out);
		} else {
			r->rc = br_errf(r->err, BR_ECORRUPT, "%s: column %s: required value missing (level %u)", r->name,
					first->lf->name, d);
			return;
		}
		first->i++;
		return;
	case K_STRUCT:
		for (int k = 0; k < n->nkids && !r->rc; k++)
			read_value(r, &n->kids[k], &out->children[k], depth + 1);
		br_col_append_struct(out);
		return;
	default:
		if (d < (uint32_t)n->rdef) {
			skip_entries(r, n);
			br_col_close_list(out);
			return;
		}
		for (;;) {
			for (int k = 0; k < n->nkids && !r->rc; k++)
				read_value(r, &n->kids[k], &out->children[k], depth + 1);
			if (r->rc || !peek(r, first) || cur_rep(first) < (uint32_t)n->rrep)
				break;
		}
		br_col_close_list(out);
		return;
	}
}

/* Appends dict[ix[0..n)] to a string column without nulls. Dictionary strings
 * of at most 16 bytes (channel names, country codes: the common case) are
 * copied as one fixed 16-byte move each, which the compiler turns into two
 * loads and stores instead of a memcpy call; the bytes past a string's end
 * are overwritten by the next one. */
static void gather_strings(br_col *out, const lstream *s, const uint32_t *ix, int64_t n)
{
	const br_col *d = &s->dict;
	if (s->dict_maxlen > 16 || out->validity.len) {
		br_col_append_strings(out, d, ix, 0, n);
		return;
	}
	br_buf_reserve(&out->values, (size_t)n * 16 + 16);
	br_buf_reserve(&out->offsets, 4 * (size_t)n);
	const int32_t *so = (const int32_t *)(const void *)d->offsets.p;
	const uint8_t *sv = d->values.p;
	uint8_t *vp = out->values.p;
	int32_t *op = (int32_t *)(void *)(out->offsets.p + out->offsets.len);
	int32_t end = (int32_t)out->values.len;
	for (int64_t k = 0; k < n; k++) {
		uint32_t i = ix[k];
		memcpy(vp + end, sv + so[i], 16);
		end += so[i + 1] - so[i];
		op[k] = end;
	}
	out->values.len = (size_t)end;
	out->offsets.len += 4 * (size_t)n;
	out->len += n;
}

/* Appends dict[ix[0..n)] of width w (4 or 8) to a column without nulls. */
static void gather_fixed(br_col *out, const br_col *d, const uint32_t *ix, int64_t n, int w)
{
	if (out->validity.len) {
		for (int64_t q = 0; q < n; q++)
			br_col_append_from(out, d, ix[q]);
		return;
	}
	uint8_t *g = br_pq_take(&out->values, (size_t)w * (size_t)n);
	const uint8_t *dv = d->values.p;
	if (w == 8)
		for (int64_t q = 0; q < n; q++)
			memcpy(g + 8 * q, dv + 8 * (size_t)ix[q], 8);
	else
		for (int64_t q = 0; q < n; q++)
			memcpy(g + 4 * q, dv + 4 * (size_t)ix[q], 4);
	out->len += n;
}

/* Top-level primitive columns: one entry per row, no recursion; runs of
 * non-null fixed-width values are copied whole. */
static void read_flat(br_pq_reader *r, lstream *s, int64_t rows, br_col *out)
{
	int max = s->lf->max_def;
	int w = br_type_width(out->type);
	bool bulk = w > 0;
	/* the dictionary codes of the batch, kept while every row is a
	 * dictionary value of the same dictionary */
	s->codes.len = 0;
	s->codes_ok = true;
	uint64_t dict_id = 0;
	while (rows > 0 && !r->rc) {
		if (!peek(r, s)) {
			ran_out(r, s);
			return;
		}
		int64_t take = BR_MIN(rows, s->n - s->i);
		const uint32_t *d = max && !s->dense ? (const uint32_t *)s->defs.p + s->i : NULL;
		const uint32_t *ix = s->by_index ? (const uint32_t *)s->ix.p : NULL;
		const br_col *src = s->by_index ? &s->dict : &s->vals;
		int64_t k = 0;
		while (k < take) {
			if (d && d[k] != (uint32_t)max) {
				s->codes_ok = false;
				br_col_append_null(out);
				k++;
				continue;
			}
			/* a run of values */
			int64_t e = k + 1;
			if (d)
				while (e < take && d[e] == (uint32_t)max)
					e++;
			else
				e = take;
			int64_t cnt = e - k;
			if (s->vi + cnt > s->nvals) {
				ran_out(r, s);
				return;
			}
			if (s->codes_ok) {
				if (ix && k == 0 && e == take && (!dict_id || dict_id == s->dict_id)) {
					dict_id = s->dict_id;
					br_buf_put(&s->codes, ix + s->vi, 4 * (size_t)cnt);
				} else {
					s->codes_ok = false;
				}
			}
			if (bulk && !ix) {
				const uint8_t *base = s->rawp ? s->rawp : s->vals.values.p;
				br_col_append_raw(out, base + (size_t)w * (size_t)s->vi, cnt);
			} else if (bulk && (w == 4 || w == 8)) {
				gather_fixed(out, src, ix + s->vi, cnt, w);
			} else if (ix && (out->type->id == BR_T_STRING || out->type->id == BR_T_BINARY)) {
				gather_strings(out, s, ix + s->vi, cnt);
			} else if (out->type->id == BR_T_STRING || out->type->id == BR_T_BINARY) {
				br_col_append_strings(out, src, ix ? ix + s->vi : NULL, s->vi, cnt);
			} else {
				for (int64_t q = 0; q < cnt; q++)
					br_col_append_from(out, src, ix ? ix[s->vi + q] : s->vi + q);
			}
			s->vi += cnt;
			k = e;
		}
		s->i += take;
		rows -= take;
	}
}

/* ------------------------------------------------------------- filters */

int br_pq_reader_filter(br_pq_reader *r, int field_id, br_pq_op op, const br_value *v, br_err *err)
{
	int leaf = -1;
	for (int i = 0; i < r->nleaves; i++)
		if (r->leaves[i].field_id == field_id && r->leaves[i].max_rep == 0)
			leaf = i;
	if (leaf < 0)
		return br_errf(err, BR_ENOTFOUND, "%s: no primitive, non-repeated column with field id %d", r->name,
			       field_id);
	if (v->type != r->leaves[leaf].t->id || v->is_null)
		return br_errf(err, BR_EINVAL, "%s: filter on field %d: constant of the wrong type", r->name, field_id);
	r->preds = br_xrealloc(r->preds, (size_t)(r->npred + 1) * sizeof *r->preds);
	pred *p = &r->preds[r->npred++];
	memset(p, 0, sizeof *p);
	p->leaf = leaf;
	p->op = op;
	p->v = *v;
	if (v->type == BR_T_STRING || v->type == BR_T_BINARY || v->type == BR_T_FIXED || v->type == BR_T_UUID) {
		br_buf_put(&p->bytes, v->v.bytes.p, v->v.bytes.len);
		p->v.v.bytes.p = p->bytes.p;
	}
	return 0;
}

static bool stat_value(const rleaf *L, const uint8_t *p, size_t n, br_col *tmp, br_value *out)
{
	br_col_reset(tmp);
	size_t w = phys_width(L);
	if (L->phys == PQ_BOOLEAN ? n < 1 : (w && n != w))
		return false;
	if (append_phys(L, tmp, p, n))
		return false;
	*out = br_col_value(tmp, 0);
	if ((out->type == BR_T_FLOAT && out->v.f32 != out->v.f32) || (out->type == BR_T_DOUBLE && out->v.f64 != out->v.f64))
		return false; /* NaN bounds prove nothing */
	return true;
}

/* True when the statistics of row group g prove no row matches. */
static bool can_skip(br_pq_reader *r, int g)
{
	const pq_row_group *rg = &r->fm.row_groups[g];
	for (int i = 0; i < r->npred; i++) {
		const pred *p = &r->preds[i];
		const rleaf *L = &r->leaves[p->leaf];
		const pq_column *c = &rg->cols[p->leaf];
		const pq_stats *st = &c->stats;
		if (st->has_null_count && rg->num_rows > 0 && st->null_count >= c->num_values && c->num_values > 0)
			return true; /* all null: no comparison is true */
		if (!st->has_min || !st->has_max)
			continue;
		if (st->legacy && (L->phys == PQ_BYTE_ARRAY || L->phys == PQ_FIXED || L->phys == PQ_INT96 ||
				   (L->t->id == BR_T_LONG && L->uint32)))
			continue; /* old writers ordered bytes as signed */
		br_col tmp;
		br_col_init(&tmp, L->t);
		br_value mn, mx;
		bool ok = stat_value(L, st->min, st->min_len, &tmp, &mn);
		br_buf mnb = { 0 };
		if (ok && (mn.type == BR_T_STRING || mn.type == BR_T_BINARY || mn.type == BR_T_FIXED || mn.type == BR_T_UUID)) {
			br_buf_put(&mnb, mn.v.bytes.p, mn.v.bytes.len);
			mn.v.bytes.p = mnb.p;
		}
		ok = ok && stat_value(L, st->max, st->max_len, &tmp, &mx);
		bool skip = false;
		if (ok) {
			int cmin = br_value_cmp(&p->v, &mn), cmax = br_value_cmp(&p->v, &mx);
			switch (p->op) {
			case BR_PQ_EQ: skip = cmin < 0 || cmax > 0; break;
			case BR_PQ_LT: skip = cmin <= 0; break;  /* v <= min: nothing below v */
			case BR_PQ_LE: skip = cmin < 0; break;
			case BR_PQ_GT: skip = cmax >= 0; break;
			case BR_PQ_GE: skip = cmax > 0; break;
			}
		}
		br_buf_free(&mnb);
		br_col_free(&tmp);
		if (skip)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------- next */

int br_pq_reader_next(br_pq_reader *r, br_batch *b, br_err *err)
{
	br_err scratch;
	r->err = err ? err : &scratch;
	if (r->rc)
		return r->rc;
	const br_type *pt = make_proj_type(r);
	/* b is zeroed by the caller before the first call */
	if (b->type != pt)
		br_batch_init(b, pt, false);
	else
		br_batch_reset(b);
	r->started = true;
	while (r->rows_left == 0) {
		int g = r->rg + 1;
		int64_t first = 0, last = -1;
		if (r->next_rg && !take_morsel(r, &g, &first, &last))
			g = r->fm.nrow_groups;
		if (g >= r->fm.nrow_groups || g < 0) {
			r->rg = r->fm.nrow_groups; /* stays at the end */
			r->next_rg = NULL;
			return 0;
		}
		/* a later morsel of the row group this reader is in: skip on from
		 * here, keeping the dictionaries and the page in hand */
		bool on = g == r->rg && last >= 0 && r->morsel_end >= 0 && first >= r->morsel_end;
		int64_t from = on ? r->morsel_end : 0;
		r->rg = g;
		r->morsel_end = last;
		if (can_skip(r, r->rg)) {
			r->skipped += first == 0;
			r->morsel_end = -1;
			continue;
		}
		if (!on)
			start_row_group(r, r->rg);
		if (last >= 0) {
			for (int k = 0; k < r->nproj && first > from; k++)
				skip_flat(r, &r->streams[r->root.kids[r->proj[k]].first_leaf], first - from);
			if (r->rc)
				return r->rc;
			r->rows_left = last - first;
		}
	}
	int64_t n = BR_MIN(r->batch_rows, r->rows_left);
	for (int k = 0; k < r->nproj && !r->rc; k++) {
		const rnode *node = &r->root.kids[r->proj[k]];
		br_col *col = &b->cols[k];
		if (node->kind == K_LEAF && r->leaves[node->first_leaf].max_rep == 0) {
			read_flat(r, &r->streams[node->first_leaf], n, col);
		} else {
			for (int64_t i = 0; i < n && !r->rc; i++)
				read_value(r, node, col, 0);
		}
	}
	if (r->rc)
		return r->rc;
	b->nrows = n; /* reader batches carry no weights */
	r->rows_left -= n;
	return 1;
}

int64_t br_pq_reader_bytes_read(const br_pq_reader *r) { return r->bytes_read; }
