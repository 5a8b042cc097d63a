/* writer.c — the Parquet writer: br_schema -> Parquet schema (Iceberg spec
 * "Parquet" appendix type mapping, field_id on every element), br_batch ->
 * definition/repetition levels and values (Dremel shredding), data pages v1
 * with PLAIN or RLE_DICTIONARY values, compressed pages, statistics, footer.
 *
 * Type mapping (Iceberg -> Parquet physical + logical/converted):
 *   boolean BOOLEAN; int INT32; long INT64; float FLOAT; double DOUBLE;
 *   decimal(P,S) INT32 (P<=9), INT64 (P<=18), else FIXED_LEN_BYTE_ARRAY of the
 *     fewest bytes holding P digits, big-endian two's complement; DECIMAL(S,P);
 *   date INT32 DATE; time INT64 TIME(false, MICROS) / TIME_MICROS;
 *   timestamp INT64 TIMESTAMP(false, MICROS), timestamptz the same with
 *     isAdjustedToUTC = true (both TIMESTAMP_MICROS for old readers);
 *   string BYTE_ARRAY STRING / UTF8; uuid FIXED_LEN_BYTE_ARRAY(16) UUID;
 *   fixed[L] FIXED_LEN_BYTE_ARRAY(L); binary BYTE_ARRAY;
 *   struct  a group; list  <group LIST> { repeated group list { element } };
 *   map     <group MAP> { repeated group key_value { required key; value } }.
 *
 * Levels: an optional node adds one definition level, a list/map adds one
 * definition and one repetition level (its repeated group). A leaf entry is
 * (rep, def, value-if-def==max_def). Data pages start at row boundaries.
 *
 * Dictionary: every column but booleans starts dictionary-encoded. When the
 * first 16384 values of a chunk hold more than half distinct values, the
 * dictionary cannot pay and the chunk is PLAIN from its start; when the
 * dictionary outgrows dict_bytes later, the current page is closed and the
 * rest of the chunk is PLAIN (readers switch per page).
 *
 * Memory: one row group of compressed pages per column is held until the row
 * group is full (row_group_bytes), because the dictionary page, known only
 * when the chunk ends, must precede the data pages.
 *
 * Crash story: the file is written in place, footer last. A file cut short by
 * a crash has no footer and every reader refuses it (no trailing "PAR1");
 * Iceberg commits name a file only after br_pq_writer_close returned, and
 * br_pq_writer_abort removes it. */
#include "parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/util.h"
#include "pq_internal.h"

typedef struct wnode {
	const br_field *f;
	int first_leaf, nleaves;
	int elem_rep;          /* list/map: repetition level of the elements */
	int nkids;
	struct wnode *kids;    /* struct: fields; list: element; map: key, value */
} wnode;

typedef struct dict {
	br_buf plain;          /* entries, PLAIN encoded (the dictionary page body) */
	br_buf ents;           /* uint32 offset, uint32 length of each entry's value bytes */
	uint32_t n;
	uint64_t *slots;       /* hash high 32 bits << 32 | entry index + 1; 0 = empty */
	uint32_t cap;
} dict;

typedef struct stats {
	bool has;
	br_value min, max;
	br_buf minb, maxb;     /* own the bytes of min/max */
	int64_t nulls, nans, values;
} stats;

typedef struct leaf {
	const br_field *f;
	const br_type *t;
	int phys, type_length;
	int max_def, max_rep;
	int npath;
	const char **path;
	/* current page */
	br_buf reps, defs;     /* uint32 each */
	br_buf plain;          /* PLAIN values (booleans: uint32 0/1) */
	br_buf idx;            /* uint32 dictionary indices */
	int64_t page_entries;
	/* current chunk */
	bool dict_on, used_dict, used_plain;
	int64_t dict_vals;     /* values looked up in the dictionary this chunk */
	dict d;
	br_buf chunk;
	int64_t chunk_entries, chunk_uncompressed;
	stats cs;              /* chunk */
	stats fs;              /* file */
	int64_t file_compressed;
} leaf;

struct br_pq_writer {
	char *path;
	int fd;
	int64_t off;
	int64_t synced_off; /* bytes already written back (see write_all) */
	br_pq_options opt;
	const br_schema *schema;
	wnode root;
	int nleaves;
	leaf *leaves;
	pq_schema_el *els;
	int nels, cap_els;
	br_arena arena;
	/* row groups written so far (metadata for the footer) */
	pq_row_group *rgs;
	int nrgs, cap_rgs;
	int64_t rg_rows, total_rows;
	br_buf tmp, body, hdr;
	br_err *err;
};

void br_pq_options_default(br_pq_options *o)
{
	memset(o, 0, sizeof *o);
	o->codec = BR_PQ_ZSTD;
	o->row_group_bytes = 128 << 20;
	o->page_bytes = 1 << 20;
	o->dict_bytes = 1 << 20;
	o->dictionary = true;
	o->fsync = true;
}

int br_pq_codec_parse(const char *name)
{
	if (!strcmp(name, "zstd")) return BR_PQ_ZSTD;
	if (!strcmp(name, "snappy")) return BR_PQ_SNAPPY;
	if (!strcmp(name, "gzip")) return BR_PQ_GZIP;
	if (!strcmp(name, "none") || !strcmp(name, "uncompressed")) return BR_PQ_UNCOMPRESSED;
	if (!strcmp(name, "lz4_raw") || !strcmp(name, "lz4")) return BR_PQ_LZ4_RAW;
	return -1;
}

/* Fewest bytes of a two's complement integer holding any P-digit number. */
static int decimal_bytes(int precision)
{
	unsigned __int128 p10 = 1;
	for (int i = 0; i < precision; i++)
		p10 *= 10;
	for (int n = 1; n < 16; n++)
		if (p10 - 1 < ((unsigned __int128)1 << (8 * n - 1)))
			return n;
	return 16;
}

/* ------------------------------------------------------------ schema */

static pq_schema_el *new_el(br_pq_writer *w, const char *name, int rep, int field_id)
{
	if (w->nels == w->cap_els) {
		w->cap_els = w->cap_els ? 2 * w->cap_els : 16;
		w->els = br_xrealloc(w->els, (size_t)w->cap_els * sizeof *w->els);
	}
	pq_schema_el *e = &w->els[w->nels++];
	memset(e, 0, sizeof *e);
	e->type = -1;
	e->converted = -1;
	e->name = name;
	e->repetition = rep;
	e->field_id = field_id;
	return e;
}

static void set_leaf_type(pq_schema_el *e, const br_type *t)
{
	switch (t->id) {
	case BR_T_BOOLEAN: e->type = PQ_BOOLEAN; break;
	case BR_T_INT: e->type = PQ_INT32; break;
	case BR_T_LONG: e->type = PQ_INT64; break;
	case BR_T_FLOAT: e->type = PQ_FLOAT; break;
	case BR_T_DOUBLE: e->type = PQ_DOUBLE; break;
	case BR_T_DECIMAL:
		e->type = t->precision <= 9 ? PQ_INT32 : t->precision <= 18 ? PQ_INT64 : PQ_FIXED;
		if (e->type == PQ_FIXED)
			e->type_length = decimal_bytes(t->precision);
		e->converted = PQ_CT_DECIMAL;
		e->scale = t->scale;
		e->precision = t->precision;
		e->logical = (pq_logical){ .kind = PQ_LT_DECIMAL, .scale = t->scale, .precision = t->precision };
		break;
	case BR_T_DATE:
		e->type = PQ_INT32;
		e->converted = PQ_CT_DATE;
		e->logical.kind = PQ_LT_DATE;
		break;
	case BR_T_TIME:
		e->type = PQ_INT64;
		e->converted = PQ_CT_TIME_MICROS;
		e->logical = (pq_logical){ .kind = PQ_LT_TIME, .utc = false, .unit = PQ_UNIT_MICROS };
		break;
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ:
		e->type = PQ_INT64;
		e->converted = PQ_CT_TIMESTAMP_MICROS;
		e->logical = (pq_logical){ .kind = PQ_LT_TIMESTAMP, .utc = t->id == BR_T_TIMESTAMPTZ,
					   .unit = PQ_UNIT_MICROS };
		break;
	case BR_T_STRING:
		e->type = PQ_BYTE_ARRAY;
		e->converted = PQ_CT_UTF8;
		e->logical.kind = PQ_LT_STRING;
		break;
	case BR_T_UUID:
		e->type = PQ_FIXED;
		e->type_length = 16;
		e->logical.kind = PQ_LT_UUID;
		break;
	case BR_T_FIXED:
		e->type = PQ_FIXED;
		e->type_length = t->length;
		break;
	case BR_T_BINARY:
		e->type = PQ_BYTE_ARRAY;
		break;
	default:
		break;
	}
}

static void build_node(br_pq_writer *w, wnode *n, const br_field *f, int def, int rep, const char **path,
		       int depth, const char *name, int repetition)
{
	memset(n, 0, sizeof *n);
	n->f = f;
	n->first_leaf = w->nleaves;
	if (repetition == PQ_OPTIONAL)
		def++;
	const br_type *t = f->type;
	path[depth] = name;
	pq_schema_el *e = new_el(w, name, repetition, f->id);
	if (!br_type_is_nested(t)) {
		set_leaf_type(e, t);
		w->leaves = br_xrealloc(w->leaves, (size_t)(w->nleaves + 1) * sizeof *w->leaves);
		leaf *L = &w->leaves[w->nleaves++];
		memset(L, 0, sizeof *L);
		L->f = f;
		L->t = t;
		L->phys = e->type;
		L->type_length = e->type_length;
		L->max_def = def;
		L->max_rep = rep;
		L->npath = depth + 1;
		L->path = br_arena_alloc(&w->arena, (size_t)(depth + 1) * sizeof(char *));
		memcpy(L->path, path, (size_t)(depth + 1) * sizeof(char *));
		n->nleaves = 1;
		return;
	}
	if (t->id == BR_T_STRUCT) {
		e->num_children = t->nchildren;
		n->nkids = t->nchildren;
		n->kids = br_xcalloc((size_t)BR_MAX(n->nkids, 1), sizeof *n->kids);
		for (int i = 0; i < t->nchildren; i++) {
			const br_field *c = &t->children[i];
			build_node(w, &n->kids[i], c, def, rep, path, depth + 1, c->name,
				   c->required ? PQ_REQUIRED : PQ_OPTIONAL);
		}
	} else {
		bool is_map = t->id == BR_T_MAP;
		e->num_children = 1;
		e->converted = is_map ? PQ_CT_MAP : PQ_CT_LIST;
		e->logical.kind = is_map ? PQ_LT_MAP : PQ_LT_LIST;
		const char *gname = is_map ? "key_value" : "list";
		pq_schema_el *g = new_el(w, gname, PQ_REPEATED, -1);
		g->num_children = t->nchildren;
		path[depth + 1] = gname;
		n->elem_rep = rep + 1;
		n->nkids = t->nchildren;
		n->kids = br_xcalloc((size_t)n->nkids, sizeof *n->kids);
		for (int i = 0; i < t->nchildren; i++) {
			const br_field *c = &t->children[i];
			build_node(w, &n->kids[i], c, def + 1, rep + 1, path, depth + 2, c->name,
				   c->required ? PQ_REQUIRED : PQ_OPTIONAL);
		}
	}
	n->nleaves = w->nleaves - n->first_leaf;
}

/* Parquet levels of nested types: 1 per struct, 2 per list/map. */
static int type_depth(const br_type *t)
{
	int d = 0;
	for (int i = 0; i < t->nchildren; i++)
		d = BR_MAX(d, type_depth(t->children[i].type));
	return d + (t->id == BR_T_STRUCT ? 1 : t->id == BR_T_LIST || t->id == BR_T_MAP ? 2 : 0);
}

static void free_node(wnode *n)
{
	for (int i = 0; i < n->nkids; i++)
		free_node(&n->kids[i]);
	free(n->kids);
}

/* ------------------------------------------------------------ values */

static void stats_reset(stats *s)
{
	s->has = false;
	s->nulls = s->nans = s->values = 0;
}

static void keep_bytes(br_value *v, br_buf *store)
{
	if (v->type == BR_T_STRING || v->type == BR_T_BINARY || v->type == BR_T_FIXED || v->type == BR_T_UUID) {
		store->len = 0;
		br_buf_put(store, v->v.bytes.p, v->v.bytes.len);
		v->v.bytes.p = store->p;
	}
}

static void stats_add(stats *s, const br_value *v)
{
	if ((v->type == BR_T_FLOAT && isnan(v->v.f32)) || (v->type == BR_T_DOUBLE && isnan(v->v.f64))) {
		s->nans++;
		return;
	}
	if (!s->has) {
		s->min = s->max = *v;
		keep_bytes(&s->min, &s->minb);
		keep_bytes(&s->max, &s->maxb);
		s->has = true;
		return;
	}
	if (br_value_cmp(v, &s->min) < 0) {
		s->min = *v;
		keep_bytes(&s->min, &s->minb);
	}
	if (br_value_cmp(v, &s->max) > 0) {
		s->max = *v;
		keep_bytes(&s->max, &s->maxb);
	}
}

static void stats_merge(stats *into, const stats *s)
{
	into->nulls += s->nulls;
	into->nans += s->nans;
	into->values += s->values;
	if (s->has) {
		stats_add(into, &s->min);
		stats_add(into, &s->max);
	}
}

/* The PLAIN bytes of one value, without the BYTE_ARRAY length prefix. */
static const uint8_t *phys_bytes(const leaf *L, const br_value *v, uint8_t tmp[16], size_t *n)
{
	switch (L->t->id) {
	case BR_T_BOOLEAN: tmp[0] = v->v.b; *n = 1; return tmp;
	case BR_T_INT: case BR_T_DATE: memcpy(tmp, &v->v.i32, 4); *n = 4; return tmp;
	case BR_T_LONG: case BR_T_TIME: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ:
		memcpy(tmp, &v->v.i64, 8); *n = 8; return tmp;
	case BR_T_FLOAT: memcpy(tmp, &v->v.f32, 4); *n = 4; return tmp;
	case BR_T_DOUBLE: memcpy(tmp, &v->v.f64, 8); *n = 8; return tmp;
	case BR_T_DECIMAL:
		if (L->phys == PQ_INT32) {
			int32_t x = (int32_t)v->v.dec;
			memcpy(tmp, &x, 4);
			*n = 4;
		} else if (L->phys == PQ_INT64) {
			int64_t x = (int64_t)v->v.dec;
			memcpy(tmp, &x, 8);
			*n = 8;
		} else {
			int w = L->type_length;
			unsigned __int128 u = (unsigned __int128)v->v.dec;
			for (int i = w - 1; i >= 0; i--) {
				tmp[i] = (uint8_t)u;
				u >>= 8;
			}
			*n = (size_t)w;
		}
		return tmp;
	default:
		*n = v->v.bytes.len;
		return v->v.bytes.p;
	}
}

static void put_plain(leaf *L, const uint8_t *p, size_t n)
{
	if (L->phys == PQ_BOOLEAN) {
		uint32_t b = p[0];
		br_buf_put(&L->plain, &b, 4);
		return;
	}
	if (L->phys == PQ_BYTE_ARRAY) {
		uint32_t len = (uint32_t)n;
		br_buf_put(&L->plain, &len, 4);
	}
	br_buf_put(&L->plain, p, n);
}

static void dict_free(dict *d)
{
	br_buf_free(&d->plain);
	br_buf_free(&d->ents);
	free(d->slots);
	memset(d, 0, sizeof *d);
}

static void dict_clear(dict *d)
{
	d->plain.len = d->ents.len = 0;
	d->n = 0;
	if (d->slots)
		memset(d->slots, 0, d->cap * sizeof *d->slots);
}

static const uint8_t *dict_entry(const dict *d, uint32_t i, uint32_t *len)
{
	uint32_t oe[2];
	memcpy(oe, d->ents.p + 8 * (size_t)i, 8);
	*len = oe[1];
	return d->plain.p + oe[0];
}

static void dict_grow(dict *d)
{
	uint32_t cap = d->cap ? d->cap * 2 : 1024;
	uint64_t *slots = br_xcalloc(cap, sizeof *slots);
	for (uint32_t k = 0; k < d->cap; k++) {
		uint64_t e = d->slots[k];
		if (!e)
			continue;
		uint32_t s = (uint32_t)(e >> 32) & (cap - 1);
		while (slots[s])
			s = (s + 1) & (cap - 1);
		slots[s] = e;
	}
	free(d->slots);
	d->slots = slots;
	d->cap = cap;
}

/* Returns the index of value p[0..n) in the dictionary, adding it if new.
 * Open addressing at <= 50% load: O(1) expected per value. Each slot keeps
 * 32 bits of the hash beside the index, so a probe touches the entry bytes
 * only on a likely match (the table outgrows the caches on big chunks). */
static uint32_t dict_index(dict *d, int phys, const uint8_t *p, size_t n)
{
	if (2 * (d->n + 1) > d->cap)
		dict_grow(d);
	uint64_t h = XXH3_64bits(p, n);
	uint64_t tag = h >> 32;
	uint32_t s = (uint32_t)tag & (d->cap - 1);
	uint64_t e;
	while ((e = d->slots[s])) {
		if (e >> 32 == tag) {
			uint32_t len;
			const uint8_t *q = dict_entry(d, (uint32_t)e - 1, &len);
			if (len == n && memcmp(q, p, n) == 0)
				return (uint32_t)e - 1;
		}
		s = (s + 1) & (d->cap - 1);
	}
	if (phys == PQ_BYTE_ARRAY) {
		uint32_t len = (uint32_t)n;
		br_buf_put(&d->plain, &len, 4);
	}
	uint32_t oe[2] = { (uint32_t)d->plain.len, (uint32_t)n };
	br_buf_put(&d->plain, p, n);
	br_buf_put(&d->ents, oe, 8);
	d->slots[s] = tag << 32 | (d->n + 1);
	return d->n++;
}

/* ------------------------------------------------------------- pages */

static int write_all(br_pq_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k = write(w->fd, b, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return br_errno(w->err, BR_EIO, "%s: write at offset %lld", w->path, (long long)w->off);
		}
		b += k;
		n -= (size_t)k;
		w->off += k;
	}
	/* Write back every few MiB as we go, waiting for it. A durable file is
	 * fsynced at the end anyway; doing it in steps keeps little dirty data in
	 * the page cache, so an fsync elsewhere on the same file system (the log's
	 * group commit: ext4 commits its journal for everyone) never waits behind
	 * hundreds of MiB of Parquet. It also paces a writer at the disk's speed. */
	if (w->opt.fsync && w->off - w->synced_off >= (4 << 20)) {
		if (sync_file_range(w->fd, w->synced_off, w->off - w->synced_off,
		                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER) == 0)
			w->synced_off = w->off;
	}
	return 0;
}

static void put_levels(br_buf *body, br_buf *tmp, const br_buf *levels, int max)
{
	tmp->len = 0;
	br_pq_rle_encode((const uint32_t *)levels->p, levels->len / 4, pq_bit_width((uint64_t)max), tmp);
	uint8_t len[4];
	uint32_t l = (uint32_t)tmp->len;
	memcpy(len, &l, 4); /* little-endian hosts only (see the Makefile's targets) */
	br_buf_put(body, len, 4);
	br_buf_put(body, tmp->p, tmp->len);
}

/* Compresses body and appends header + compressed page to dst. */
static int emit_page(br_pq_writer *w, pq_page_header *h, br_buf *dst)
{
	w->tmp.len = 0;
	int rc = br_pq_compress(w->opt.codec, w->opt.level, w->body.p, w->body.len, &w->tmp, w->err);
	if (rc)
		return br_errctx(w->err, "%s", w->path);
	h->uncompressed_size = (int32_t)w->body.len;
	h->compressed_size = (int32_t)w->tmp.len;
	w->hdr.len = 0;
	br_pq_encode_page_header(h, &w->hdr);
	br_buf_put(dst, w->hdr.p, w->hdr.len);
	br_buf_put(dst, w->tmp.p, w->tmp.len);
	return (int)(w->hdr.len + w->body.len); /* uncompressed bytes, for the chunk total */
}

static int flush_page(br_pq_writer *w, leaf *L)
{
	if (L->page_entries == 0)
		return 0;
	br_buf *body = &w->body;
	body->len = 0;
	br_buf lv = { 0 };
	if (L->max_rep)
		put_levels(body, &lv, &L->reps, L->max_rep);
	if (L->max_def)
		put_levels(body, &lv, &L->defs, L->max_def);
	br_buf_free(&lv);
	pq_page_header h = { .type = PQ_PAGE_DATA, .num_values = (int32_t)L->page_entries,
			     .def_encoding = PQ_ENC_RLE, .rep_encoding = PQ_ENC_RLE };
	if (L->dict_on) {
		int bw = BR_MAX(1, pq_bit_width(L->d.n ? L->d.n - 1 : 0));
		br_buf_u8(body, (uint8_t)bw);
		br_pq_rle_encode((const uint32_t *)L->idx.p, L->idx.len / 4, bw, body);
		h.encoding = PQ_ENC_RLE_DICTIONARY;
		L->used_dict = true;
	} else {
		if (L->phys == PQ_BOOLEAN)
			br_pq_bitpack((const uint32_t *)L->plain.p, L->plain.len / 4, 1, body);
		else
			br_buf_put(body, L->plain.p, L->plain.len);
		h.encoding = PQ_ENC_PLAIN;
		L->used_plain = true;
	}
	int rc = emit_page(w, &h, &L->chunk);
	if (rc < 0)
		return rc;
	L->chunk_uncompressed += rc;
	L->chunk_entries += L->page_entries;
	L->page_entries = 0;
	L->reps.len = L->defs.len = L->plain.len = L->idx.len = 0;
	return 0;
}

static int dict_abandon(br_pq_writer *w, leaf *L)
{
	if (L->used_dict) {
		int rc = flush_page(w, L);
		L->dict_on = false;
		return rc;
	}
	const uint32_t *ix = (const uint32_t *)L->idx.p;
	size_t n = L->idx.len / 4;
	L->dict_on = false;
	for (size_t i = 0; i < n; i++) {
		uint32_t len;
		const uint8_t *p = dict_entry(&L->d, ix[i], &len);
		put_plain(L, p, len);
	}
	L->idx.len = 0;
	dict_clear(&L->d);
	return 0;
}

static int64_t page_estimate(const leaf *L)
{
	return (int64_t)(L->plain.len + L->idx.len / 2 + (L->defs.len + L->reps.len) / 16);
}

static int64_t rowgroup_estimate(const br_pq_writer *w)
{
	int64_t n = 0;
	for (int i = 0; i < w->nleaves; i++) {
		const leaf *L = &w->leaves[i];
		n += (int64_t)L->chunk.len + page_estimate(L) + (int64_t)L->d.plain.len;
	}
	return n;
}

/* ------------------------------------------------------------ shredding */

static void leaf_entry(br_pq_writer *w, leaf *L, uint32_t rep, uint32_t def, const br_col *c, int64_t i)
{
	if (L->max_rep)
		br_buf_put(&L->reps, &rep, 4);
	if (L->max_def)
		br_buf_put(&L->defs, &def, 4);
	L->page_entries++;
	L->cs.values++;
	if ((int)def < L->max_def) {
		L->cs.nulls++;
		return;
	}
	br_value v = br_col_value(c, i);
	stats_add(&L->cs, &v);
	uint8_t tmp[16];
	size_t n;
	const uint8_t *p = phys_bytes(L, &v, tmp, &n);
	if (L->dict_on) {
		uint32_t ix = dict_index(&L->d, L->phys, p, n);
		br_buf_put(&L->idx, &ix, 4);
		L->dict_vals++;
	} else {
		put_plain(L, p, n);
	}
}

static int cmp_mem(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, BR_MIN(an, bn));
	return c ? c : (an > bn) - (an < bn);
}

/* Top-level primitive columns, rows [a, z): the same entries leaf_entry would
 * make, but a column at a time, with statistics folded per slice and the
 * values of types whose Arrow layout is their PLAIN encoding copied whole. */
static void add_flat(br_pq_writer *w, leaf *L, const br_col *c, int64_t a, int64_t z)
{
	int64_t n = z - a;
	bool nulls = c->validity.len != 0;
	br_type_id t = L->t->id;
	bool raw8 = t == BR_T_LONG || t == BR_T_TIME || t == BR_T_TIMESTAMP || t == BR_T_TIMESTAMPTZ;
	bool raw4 = t == BR_T_INT || t == BR_T_DATE;
	bool str = t == BR_T_STRING || t == BR_T_BINARY;
	if (!raw8 && !raw4 && !str) {
		for (int64_t i = a; i < z; i++)
			leaf_entry(w, L, 0, (uint32_t)(L->max_def && br_col_valid(c, i)), c, i);
		return;
	}
	if (L->max_def) {
		uint32_t *d = (uint32_t *)br_buf_grow(&L->defs, (size_t)n * 4);
		for (int64_t i = 0; i < n; i++)
			d[i] = br_col_valid(c, a + i);
	}
	L->page_entries += n;
	L->cs.values += n;
	int64_t valid = 0;
	if (raw8 || raw4) {
		size_t wd = raw8 ? 8 : 4;
		int64_t mn = INT64_MAX, mx = INT64_MIN;
		for (int64_t i = a; i < z; i++) {
			if (nulls && !br_col_valid(c, i))
				continue;
			valid++;
			int64_t v = raw8 ? br_col_i64(c, i) : br_col_i32(c, i);
			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
			if (L->dict_on) {
				uint32_t ix = dict_index(&L->d, L->phys, c->values.p + wd * (size_t)i, wd);
				br_buf_put(&L->idx, &ix, 4);
			} else if (nulls) {
				br_buf_put(&L->plain, c->values.p + wd * (size_t)i, wd);
			}
		}
		if (!L->dict_on && !nulls)
			br_buf_put(&L->plain, c->values.p + wd * (size_t)a, wd * (size_t)n);
		if (valid) {
			br_value vmin = raw8 ? br_value_i64(t, mn) : br_value_i32(t, (int32_t)mn);
			br_value vmax = raw8 ? br_value_i64(t, mx) : br_value_i32(t, (int32_t)mx);
			stats_add(&L->cs, &vmin);
			stats_add(&L->cs, &vmax);
		}
	} else {
		const uint8_t *pmin = NULL, *pmax = NULL;
		size_t lmin = 0, lmax = 0;
		for (int64_t i = a; i < z; i++) {
			if (nulls && !br_col_valid(c, i))
				continue;
			valid++;
			int32_t s0 = br_col_off(c, i), s1 = br_col_off(c, i + 1);
			const uint8_t *p = c->values.p + s0;
			size_t len = (size_t)(s1 - s0);
			if (!pmin || cmp_mem(p, len, pmin, lmin) < 0) {
				pmin = p;
				lmin = len;
			}
			if (!pmax || cmp_mem(p, len, pmax, lmax) > 0) {
				pmax = p;
				lmax = len;
			}
			if (L->dict_on) {
				uint32_t ix = dict_index(&L->d, L->phys, p, len);
				br_buf_put(&L->idx, &ix, 4);
			} else {
				uint32_t l32 = (uint32_t)len;
				br_buf_put(&L->plain, &l32, 4);
				br_buf_put(&L->plain, p, len);
			}
		}
		if (valid) {
			br_value vmin = br_value_bytes(t, pmin, lmin), vmax = br_value_bytes(t, pmax, lmax);
			stats_add(&L->cs, &vmin);
			stats_add(&L->cs, &vmax);
		}
	}
	if (L->dict_on)
		L->dict_vals += valid;
	L->cs.nulls += n - valid;
}

/* Leaves the dictionary for the rest of the chunk. If no dictionary-encoded
 * page was written yet, the current page's indices turn back into PLAIN
 * values and the chunk gets no dictionary page at all. */
static int dict_abandon(br_pq_writer *w, leaf *L);

static void empty_entries(br_pq_writer *w, const wnode *n, uint32_t rep, uint32_t def)
{
	for (int k = 0; k < n->nleaves; k++)
		leaf_entry(w, &w->leaves[n->first_leaf + k], rep, def, NULL, 0);
}

static void shred(br_pq_writer *w, const wnode *n, const br_col *c, int64_t i, uint32_t rep, uint32_t def)
{
	if (!n->f->required) {
		if (!br_col_valid(c, i)) {
			empty_entries(w, n, rep, def);
			return;
		}
		def++;
	}
	const br_type *t = n->f->type;
	if (!br_type_is_nested(t)) {
		leaf_entry(w, &w->leaves[n->first_leaf], rep, def, c, i);
		return;
	}
	if (t->id == BR_T_STRUCT) {
		for (int k = 0; k < n->nkids; k++)
			shred(w, &n->kids[k], &c->children[k], i, rep, def);
		return;
	}
	int64_t s, e;
	br_col_range(c, i, &s, &e);
	if (s == e) {
		empty_entries(w, n, rep, def);
		return;
	}
	for (int64_t j = s; j < e; j++) {
		uint32_t r = j == s ? rep : (uint32_t)n->elem_rep;
		for (int k = 0; k < n->nkids; k++)
			shred(w, &n->kids[k], &c->children[k], j, r, def + 1);
	}
}

/* ------------------------------------------------------------ row groups */

static void enc_stat_bytes(const leaf *L, const br_value *v, br_arena *a, const uint8_t **out, size_t *len)
{
	uint8_t tmp[16];
	size_t n;
	br_value x = *v;
	/* Parquet's float rule: a zero bound is written as -0 (min) or +0 (max),
	 * because the values may hold either zero. */
	if (x.type == BR_T_FLOAT && x.v.f32 == 0)
		x.v.f32 = v == &L->cs.min ? -0.0f : 0.0f;
	if (x.type == BR_T_DOUBLE && x.v.f64 == 0)
		x.v.f64 = v == &L->cs.min ? -0.0 : 0.0;
	const uint8_t *p = phys_bytes(L, &x, tmp, &n);
	uint8_t *d = br_arena_alloc(a, n ? n : 1);
	memcpy(d, p, n);
	*out = d;
	*len = n;
}

static int flush_row_group(br_pq_writer *w)
{
	if (w->rg_rows == 0)
		return 0;
	int rc;
	if (w->nrgs == w->cap_rgs) {
		w->cap_rgs = w->cap_rgs ? 2 * w->cap_rgs : 8;
		w->rgs = br_xrealloc(w->rgs, (size_t)w->cap_rgs * sizeof *w->rgs);
	}
	pq_row_group *rg = &w->rgs[w->nrgs];
	memset(rg, 0, sizeof *rg);
	rg->ncols = w->nleaves;
	rg->cols = br_arena_alloc(&w->arena, (size_t)BR_MAX(w->nleaves, 1) * sizeof *rg->cols);
	rg->num_rows = w->rg_rows;
	for (int i = 0; i < w->nleaves; i++) {
		leaf *L = &w->leaves[i];
		if ((rc = flush_page(w, L)))
			return rc;
		pq_column *col = &rg->cols[i];
		col->type = L->phys;
		col->npath = L->npath;
		col->path = L->path;
		col->codec = w->opt.codec;
		col->num_values = L->chunk_entries;
		col->dictionary_page_offset = -1;
		int64_t start = w->off, uncompressed = L->chunk_uncompressed;
		if (L->used_dict) {
			br_buf dpage = { 0 };
			w->body.len = 0;
			br_buf_put(&w->body, L->d.plain.p, L->d.plain.len);
			pq_page_header h = { .type = PQ_PAGE_DICTIONARY, .num_values = (int32_t)L->d.n,
					     .encoding = PQ_ENC_PLAIN };
			rc = emit_page(w, &h, &dpage);
			if (rc >= 0) {
				uncompressed += rc;
				col->dictionary_page_offset = w->off;
				rc = write_all(w, dpage.p, dpage.len);
			}
			br_buf_free(&dpage);
			if (rc)
				return rc;
		}
		col->data_page_offset = w->off;
		if ((rc = write_all(w, L->chunk.p, L->chunk.len)))
			return rc;
		col->total_compressed = w->off - start;
		col->total_uncompressed = uncompressed;
		int nenc = 0;
		col->encodings = br_arena_alloc(&w->arena, 3 * sizeof(int));
		if (L->used_plain || L->used_dict)
			col->encodings[nenc++] = PQ_ENC_PLAIN; /* dictionary page values are PLAIN */
		col->encodings[nenc++] = PQ_ENC_RLE;
		if (L->used_dict)
			col->encodings[nenc++] = PQ_ENC_RLE_DICTIONARY;
		col->nenc = nenc;
		col->stats.has_null_count = true;
		col->stats.null_count = L->cs.nulls;
		/* Bounds of huge values would bloat the footer (kept in memory by
		 * every reader) for little pruning: past 4 KiB they are left out. */
		br_type_id tid = L->t->id;
		bool bytes = tid == BR_T_STRING || tid == BR_T_BINARY || tid == BR_T_FIXED || tid == BR_T_UUID;
		bool small = !L->cs.has || !bytes ||
			     (L->cs.min.v.bytes.len <= 4096 && L->cs.max.v.bytes.len <= 4096);
		if (L->cs.has && small) {
			enc_stat_bytes(L, &L->cs.min, &w->arena, &col->stats.min, &col->stats.min_len);
			enc_stat_bytes(L, &L->cs.max, &w->arena, &col->stats.max, &col->stats.max_len);
			col->stats.has_min = col->stats.has_max = true;
		}
		rg->total_byte_size += uncompressed;
		L->file_compressed += col->total_compressed;
		stats_merge(&L->fs, &L->cs);
		stats_reset(&L->cs);
		L->chunk.len = 0;
		L->chunk_entries = L->chunk_uncompressed = 0;
		L->used_dict = L->used_plain = false;
		L->dict_vals = 0;
		L->dict_on = w->opt.dictionary && L->phys != PQ_BOOLEAN;
		dict_clear(&L->d);
	}
	w->nrgs++;
	w->total_rows += w->rg_rows;
	w->rg_rows = 0;
	return 0;
}

/* ------------------------------------------------------------ public API */

int br_pq_writer_open(const char *path, const br_schema *schema, const br_pq_options *opt, br_pq_writer **out,
		      br_err *err)
{
	*out = NULL;
	br_pq_writer *w = br_xcalloc(1, sizeof *w);
	if (opt)
		w->opt = *opt;
	else
		br_pq_options_default(&w->opt);
	if (w->opt.row_group_bytes <= 0)
		w->opt.row_group_bytes = 128 << 20;
	if (w->opt.page_bytes <= 0)
		w->opt.page_bytes = 1 << 20;
	if (w->opt.dict_bytes <= 0)
		w->opt.dict_bytes = 1 << 20;
	br_err scratch;
	w->err = err ? err : &scratch;
	br_arena_init(&w->arena, 16 << 10);
	w->schema = schema;
	w->path = br_xstrdup(path);
	w->fd = -1;
	int rc;
	if (w->opt.codec != BR_PQ_UNCOMPRESSED && w->opt.codec != BR_PQ_SNAPPY && w->opt.codec != BR_PQ_GZIP &&
	    w->opt.codec != BR_PQ_ZSTD && w->opt.codec != BR_PQ_LZ4_RAW) {
		rc = br_errf(err, BR_EINVAL, "%s: unsupported Parquet codec %d", path, w->opt.codec);
		goto fail;
	}
	if (type_depth(schema->root) > 60) {
		rc = br_errf(err, BR_EINVAL, "%s: schema nests deeper than 60 levels", path);
		goto fail;
	}
	/* the root element, then every field in pre-order */
	const char *path_buf[128];
	pq_schema_el *root = new_el(w, "schema", -1, -1);
	root->num_children = schema->root->nchildren;
	w->root.nkids = schema->root->nchildren;
	w->root.kids = br_xcalloc((size_t)BR_MAX(w->root.nkids, 1), sizeof *w->root.kids);
	for (int i = 0; i < schema->root->nchildren; i++) {
		const br_field *f = &schema->root->children[i];
		build_node(w, &w->root.kids[i], f, 0, 0, path_buf, 0, f->name, f->required ? PQ_REQUIRED : PQ_OPTIONAL);
	}
	for (int i = 0; i < w->nleaves; i++)
		w->leaves[i].dict_on = w->opt.dictionary && w->leaves[i].phys != PQ_BOOLEAN;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = br_errno(err, BR_EIO, "%s: cannot create", path);
		goto fail;
	}
	if ((rc = write_all(w, "PAR1", 4)))
		goto fail;
	*out = w;
	return 0;
fail:
	br_pq_writer_abort(w);
	return rc;
}

static int check_batch(const br_pq_writer *w, const br_batch *b, br_err *err)
{
	const br_type *want = w->schema->root;
	if (b->type != want && !br_type_equal(b->type, want))
		return br_errf(err, BR_EINVAL, "%s: batch type does not match the file schema", w->path);
	return br_batch_validate(b, err);
}

int br_pq_writer_write(br_pq_writer *w, const br_batch *b, br_err *err)
{
	w->err = err;
	int rc = check_batch(w, b, err);
	if (rc)
		return rc;
	/* Slices of 1024 rows: pages and row groups are closed at slice
	 * boundaries, which are row boundaries. */
	for (int64_t a = 0; a < b->nrows; a += 1024) {
		int64_t z = BR_MIN(a + 1024, b->nrows);
		for (int k = 0; k < w->root.nkids; k++) {
			const wnode *n = &w->root.kids[k];
			if (!br_type_is_nested(n->f->type)) {
				add_flat(w, &w->leaves[n->first_leaf], &b->cols[k], a, z);
			} else {
				/* nested rows can be long: pages are closed per row, so a
				 * page never grows far past page_bytes (readers bound the
				 * entries of a page) */
				for (int64_t i = a; i < z; i++) {
					shred(w, n, &b->cols[k], i, 0, 0);
					for (int q = 0; q < n->nleaves; q++) {
						leaf *L = &w->leaves[n->first_leaf + q];
						if (page_estimate(L) >= w->opt.page_bytes && (rc = flush_page(w, L)))
							return rc;
					}
				}
			}
		}
		w->rg_rows += z - a;
		for (int k = 0; k < w->nleaves; k++) {
			leaf *L = &w->leaves[k];
			if (L->dict_on && ((int64_t)L->d.plain.len > w->opt.dict_bytes ||
					   (L->dict_vals >= 16384 && (int64_t)L->d.n * 2 > L->dict_vals))) {
				/* Too many distinct values for a dictionary to pay: PLAIN
				 * from here on (or for the whole chunk, if it is early). */
				if ((rc = dict_abandon(w, L)))
					return rc;
			}
			if (page_estimate(L) >= w->opt.page_bytes && (rc = flush_page(w, L)))
				return rc;
		}
		if (rowgroup_estimate(w) >= w->opt.row_group_bytes && (rc = flush_row_group(w)))
			return rc;
	}
	return 0;
}

static void free_writer(br_pq_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	for (int i = 0; i < w->nleaves; i++) {
		leaf *L = &w->leaves[i];
		br_buf_free(&L->reps);
		br_buf_free(&L->defs);
		br_buf_free(&L->plain);
		br_buf_free(&L->idx);
		br_buf_free(&L->chunk);
		br_buf_free(&L->cs.minb);
		br_buf_free(&L->cs.maxb);
		br_buf_free(&L->fs.minb);
		br_buf_free(&L->fs.maxb);
		dict_free(&L->d);
	}
	free(w->leaves);
	free_node(&w->root);
	free(w->els);
	free(w->rgs);
	br_buf_free(&w->tmp);
	br_buf_free(&w->body);
	br_buf_free(&w->hdr);
	br_arena_free(&w->arena);
	free(w->path);
	free(w);
}

void br_pq_writer_abort(br_pq_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		unlink(w->path);
	free_writer(w);
}

static void fill_metrics(br_pq_writer *w, br_pq_metrics *m)
{
	memset(m, 0, sizeof *m);
	m->file_bytes = w->off;
	m->nrows = w->total_rows;
	m->nrow_groups = w->nrgs;
	m->ncols = w->nleaves;
	m->cols = br_xcalloc((size_t)BR_MAX(w->nleaves, 1), sizeof *m->cols);
	for (int i = 0; i < w->nleaves; i++) {
		leaf *L = &w->leaves[i];
		br_pq_col_metrics *c = &m->cols[i];
		c->field_id = L->f->id;
		c->field = L->f;
		c->compressed_bytes = L->file_compressed;
		c->value_count = L->fs.values;
		c->null_count = L->fs.nulls;
		c->nan_count = L->fs.nans;
		c->has_bounds = L->fs.has;
		if (L->fs.has) {
			c->min = L->fs.min;
			c->max = L->fs.max;
			/* hand the bytes over to the metrics */
			if (L->fs.min.v.bytes.p == L->fs.minb.p && L->fs.minb.p) {
				c->min.v.bytes.p = L->fs.minb.p;
				L->fs.minb = (br_buf){ 0 };
			}
			if (L->fs.max.v.bytes.p == L->fs.maxb.p && L->fs.maxb.p) {
				c->max.v.bytes.p = L->fs.maxb.p;
				L->fs.maxb = (br_buf){ 0 };
			}
		}
	}
}

void br_pq_metrics_free(br_pq_metrics *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->ncols; i++) {
		br_pq_col_metrics *c = &m->cols[i];
		if (c->has_bounds) {
			br_type_id t = c->min.type;
			if (t == BR_T_STRING || t == BR_T_BINARY || t == BR_T_FIXED || t == BR_T_UUID) {
				free((void *)c->min.v.bytes.p);
				free((void *)c->max.v.bytes.p);
			}
		}
	}
	free(m->cols);
	memset(m, 0, sizeof *m);
}

int br_pq_writer_close(br_pq_writer *w, br_pq_metrics *metrics, br_err *err)
{
	w->err = err;
	int rc = flush_row_group(w);
	if (rc)
		goto fail;
	pq_file_meta fm = { 0 };
	fm.version = 1;
	fm.nschema = w->nels;
	fm.schema = w->els;
	fm.num_rows = w->total_rows;
	fm.nrow_groups = w->nrgs;
	fm.row_groups = w->rgs;
	char *iceberg = br_schema_print(w->schema);
	pq_kv kv = { "iceberg.schema", iceberg };
	fm.nkv = 1;
	fm.kv = &kv;
	fm.created_by = "braid version 0.1 (build parquet)";
	fm.ncolumn_orders = w->nleaves;
	br_buf foot = { 0 };
	br_pq_encode_file_meta(&fm, &foot);
	free(iceberg);
	uint32_t flen = (uint32_t)foot.len;
	uint8_t tail[8];
	memcpy(tail, &flen, 4);
	memcpy(tail + 4, "PAR1", 4);
	rc = write_all(w, foot.p, foot.len);
	if (!rc)
		rc = write_all(w, tail, 8);
	br_buf_free(&foot);
	if (rc)
		goto fail;
	if (w->opt.fsync && fsync(w->fd) != 0) {
		rc = br_errno(err, BR_EIO, "%s: fsync", w->path);
		goto fail;
	}
	if (close(w->fd) != 0) {
		w->fd = -1;
		rc = br_errno(err, BR_EIO, "%s: close", w->path);
		goto fail;
	}
	w->fd = -1;
	if (metrics)
		fill_metrics(w, metrics);
	free_writer(w);
	return 0;
fail:
	br_pq_writer_abort(w);
	return rc;
}
