/* meta.c — Parquet's FileMetaData footer and PageHeader, encoded and decoded
 * with the Thrift compact protocol (field ids from parquet-format's
 * parquet.thrift). Only the fields braid uses are kept; every other field is
 * skipped, so files from newer writers still decode.
 *
 * File layout (parquet-format README):
 *   "PAR1" | column chunks of row group 0 | ... | FileMetaData | u32 LE length
 *   of FileMetaData | "PAR1"
 * A column chunk is an optional dictionary page then data pages; each page is
 * a Thrift PageHeader followed by compressed_page_size bytes of body. */
#include <string.h>

#include "pq_internal.h"

/* ------------------------------------------------------------- encoding */

static void enc_logical(br_tw *w, const pq_logical *l)
{
	br_tw_struct_begin(w, 10);
	br_tw_struct_begin(w, (int16_t)l->kind);
	switch (l->kind) {
	case PQ_LT_DECIMAL:
		br_tw_i32(w, 1, l->scale);
		br_tw_i32(w, 2, l->precision);
		break;
	case PQ_LT_TIME:
	case PQ_LT_TIMESTAMP:
		br_tw_bool(w, 1, l->utc);
		br_tw_struct_begin(w, 2);          /* TimeUnit union */
		br_tw_struct_begin(w, (int16_t)l->unit); /* empty MilliSeconds/MicroSeconds/NanoSeconds */
		br_tw_struct_end(w);
		br_tw_struct_end(w);
		break;
	case PQ_LT_INTEGER:
		br_tw_field(w, BR_TC_BYTE, 1);
		br_buf_u8(w->out, (uint8_t)l->bit_width);
		br_tw_bool(w, 2, l->is_signed);
		break;
	default:
		break;
	}
	br_tw_struct_end(w);
	br_tw_struct_end(w);
}

static void enc_stats(br_tw *w, int16_t id, const pq_stats *s)
{
	br_tw_struct_begin(w, id);
	if (s->has_null_count)
		br_tw_i64(w, 3, s->null_count);
	if (s->has_max)
		br_tw_bin(w, 5, s->max, s->max_len);
	if (s->has_min)
		br_tw_bin(w, 6, s->min, s->min_len);
	br_tw_struct_end(w);
}

void br_pq_encode_file_meta(const pq_file_meta *m, br_buf *out)
{
	br_tw w;
	br_tw_init(&w, out);
	br_tw_i32(&w, 1, m->version);
	br_tw_list(&w, 2, BR_TC_STRUCT, (size_t)m->nschema);
	for (int i = 0; i < m->nschema; i++) {
		const pq_schema_el *e = &m->schema[i];
		br_tw_elem_struct_begin(&w);
		if (e->type >= 0)
			br_tw_i32(&w, 1, e->type);
		if (e->type == PQ_FIXED)
			br_tw_i32(&w, 2, e->type_length);
		if (e->repetition >= 0)
			br_tw_i32(&w, 3, e->repetition);
		br_tw_str(&w, 4, e->name);
		if (e->num_children > 0 || e->type < 0)
			br_tw_i32(&w, 5, e->num_children);
		if (e->converted >= 0)
			br_tw_i32(&w, 6, e->converted);
		if (e->converted == PQ_CT_DECIMAL) {
			br_tw_i32(&w, 7, e->scale);
			br_tw_i32(&w, 8, e->precision);
		}
		if (e->field_id >= 0)
			br_tw_i32(&w, 9, e->field_id);
		if (e->logical.kind)
			enc_logical(&w, &e->logical);
		br_tw_struct_end(&w);
	}
	br_tw_i64(&w, 3, m->num_rows);
	br_tw_list(&w, 4, BR_TC_STRUCT, (size_t)m->nrow_groups);
	for (int g = 0; g < m->nrow_groups; g++) {
		const pq_row_group *rg = &m->row_groups[g];
		br_tw_elem_struct_begin(&w);
		br_tw_list(&w, 1, BR_TC_STRUCT, (size_t)rg->ncols);
		int64_t total_compressed = 0;
		for (int c = 0; c < rg->ncols; c++) {
			const pq_column *col = &rg->cols[c];
			total_compressed += col->total_compressed;
			br_tw_elem_struct_begin(&w);
			int64_t start = col->dictionary_page_offset >= 0 ? col->dictionary_page_offset : col->data_page_offset;
			br_tw_i64(&w, 2, start);
			br_tw_struct_begin(&w, 3);
			br_tw_i32(&w, 1, col->type);
			br_tw_list(&w, 2, BR_TC_I32, (size_t)col->nenc);
			for (int k = 0; k < col->nenc; k++)
				br_tw_elem_i32(&w, col->encodings[k]);
			br_tw_list(&w, 3, BR_TC_BINARY, (size_t)col->npath);
			for (int k = 0; k < col->npath; k++)
				br_tw_elem_bin(&w, col->path[k], strlen(col->path[k]));
			br_tw_i32(&w, 4, col->codec);
			br_tw_i64(&w, 5, col->num_values);
			br_tw_i64(&w, 6, col->total_uncompressed);
			br_tw_i64(&w, 7, col->total_compressed);
			br_tw_i64(&w, 9, col->data_page_offset);
			if (col->dictionary_page_offset >= 0)
				br_tw_i64(&w, 11, col->dictionary_page_offset);
			enc_stats(&w, 12, &col->stats);
			br_tw_struct_end(&w);
			br_tw_struct_end(&w);
		}
		br_tw_i64(&w, 2, rg->total_byte_size);
		br_tw_i64(&w, 3, rg->num_rows);
		if (rg->ncols) {
			int64_t start = rg->cols[0].dictionary_page_offset >= 0 ? rg->cols[0].dictionary_page_offset
									      : rg->cols[0].data_page_offset;
			br_tw_i64(&w, 5, start);
		}
		br_tw_i64(&w, 6, total_compressed);
		br_tw_field(&w, BR_TC_I16, 7);
		br_buf_uvarint(out, ((uint64_t)g << 1));
		br_tw_struct_end(&w);
	}
	if (m->nkv) {
		br_tw_list(&w, 5, BR_TC_STRUCT, (size_t)m->nkv);
		for (int i = 0; i < m->nkv; i++) {
			br_tw_elem_struct_begin(&w);
			br_tw_str(&w, 1, m->kv[i].key);
			br_tw_str(&w, 2, m->kv[i].value);
			br_tw_struct_end(&w);
		}
	}
	if (m->created_by)
		br_tw_str(&w, 6, m->created_by);
	if (m->ncolumn_orders) {
		/* TYPE_ORDER for every leaf: min_value/max_value follow the logical
		 * type's order (signed ints, unsigned bytes), so readers may trust them. */
		br_tw_list(&w, 7, BR_TC_STRUCT, (size_t)m->ncolumn_orders);
		for (int i = 0; i < m->ncolumn_orders; i++) {
			br_tw_elem_struct_begin(&w);
			br_tw_struct_begin(&w, 1);
			br_tw_struct_end(&w);
			br_tw_struct_end(&w);
		}
	}
	br_tw_stop(&w);
}

void br_pq_encode_page_header(const pq_page_header *h, br_buf *out)
{
	br_tw w;
	br_tw_init(&w, out);
	br_tw_i32(&w, 1, h->type);
	br_tw_i32(&w, 2, h->uncompressed_size);
	br_tw_i32(&w, 3, h->compressed_size);
	if (h->type == PQ_PAGE_DATA) {
		br_tw_struct_begin(&w, 5);
		br_tw_i32(&w, 1, h->num_values);
		br_tw_i32(&w, 2, h->encoding);
		br_tw_i32(&w, 3, h->def_encoding);
		br_tw_i32(&w, 4, h->rep_encoding);
		br_tw_struct_end(&w);
	} else if (h->type == PQ_PAGE_DICTIONARY) {
		br_tw_struct_begin(&w, 7);
		br_tw_i32(&w, 1, h->num_values);
		br_tw_i32(&w, 2, h->encoding);
		br_tw_struct_end(&w);
	}
	br_tw_stop(&w);
}

/* ------------------------------------------------------------- decoding */

/* Loops over the fields of one struct with `id` and `ft` (type) in scope; the
 * body must consume or br_tr_skip every field. */
#define EACH_FIELD(r) for (int16_t last_ = 0, id = 0, more_ = 1; more_; more_ = 0) \
	for (int ft = 0; br_tr_field((r), &last_, &ft, &id);)

/* Room for a decoded list of *n elements. A hostile footer of empty structs
 * would otherwise turn each byte into a hundred-byte struct: the decoder may
 * allocate at most 32 times the footer size (real footers need ~3 times).
 * On refusal the input is marked bad and *n becomes 0. */
static void *list_alloc(br_tr *r, br_arena *a, uint32_t *n, size_t size)
{
	size_t need = (size_t)(*n ? *n : 1) * size;
	if (need > r->budget) {
		r->c.bad = true;
		*n = 0;
		return br_arena_alloc(a, size);
	}
	r->budget -= need;
	return br_arena_alloc(a, need);
}

static const char *dup_str(br_arena *a, const uint8_t *p, size_t n)
{
	return br_arena_strndup(a, p ? (const char *)p : "", p ? n : 0);
}

static void dec_time_unit(br_tr *r, pq_logical *l)
{
	EACH_FIELD(r) {
		l->unit = id;
		br_tr_skip(r, ft);
	}
}

static void dec_logical(br_tr *r, pq_logical *l)
{
	if (++r->depth > BR_TC_MAX_DEPTH) {
		r->c.bad = true;
		return;
	}
	EACH_FIELD(r) {
		if (ft != BR_TC_STRUCT) {
			br_tr_skip(r, ft);
			continue;
		}
		l->kind = id;
		EACH_FIELD(r) {
			if (l->kind == PQ_LT_DECIMAL && id == 1 && ft == BR_TC_I32)
				l->scale = br_tr_i32(r);
			else if (l->kind == PQ_LT_DECIMAL && id == 2 && ft == BR_TC_I32)
				l->precision = br_tr_i32(r);
			else if ((l->kind == PQ_LT_TIME || l->kind == PQ_LT_TIMESTAMP) && id == 1)
				l->utc = ft == BR_TC_TRUE;
			else if ((l->kind == PQ_LT_TIME || l->kind == PQ_LT_TIMESTAMP) && id == 2 && ft == BR_TC_STRUCT)
				dec_time_unit(r, l);
			else if (l->kind == PQ_LT_INTEGER && id == 1 && ft == BR_TC_BYTE)
				l->bit_width = (int8_t)br_cur_u8(&r->c);
			else if (l->kind == PQ_LT_INTEGER && id == 2)
				l->is_signed = ft == BR_TC_TRUE;
			else
				br_tr_skip(r, ft);
		}
	}
	r->depth--;
}

static void dec_schema_el(br_tr *r, br_arena *a, pq_schema_el *e)
{
	memset(e, 0, sizeof *e);
	e->type = e->repetition = e->converted = e->field_id = -1;
	e->name = "";
	EACH_FIELD(r) {
		size_t n;
		const uint8_t *p;
		if (ft == BR_TC_I32 && id >= 1 && id <= 9 && id != 4) {
			int32_t v = br_tr_i32(r);
			switch (id) {
			case 1: e->type = v; break;
			case 2: e->type_length = v; break;
			case 3: e->repetition = v; break;
			case 5: e->num_children = v; break;
			case 6: e->converted = v; break;
			case 7: e->scale = v; break;
			case 8: e->precision = v; break;
			case 9: e->field_id = v; break;
			}
		} else if (id == 4 && ft == BR_TC_BINARY) {
			p = br_tr_bin(r, &n);
			e->name = dup_str(a, p, n);
		} else if (id == 10 && ft == BR_TC_STRUCT) {
			dec_logical(r, &e->logical);
		} else {
			br_tr_skip(r, ft);
		}
	}
}

static void dec_stats(br_tr *r, pq_stats *s)
{
	const uint8_t *lmin = NULL, *lmax = NULL;
	size_t lmin_n = 0, lmax_n = 0;
	EACH_FIELD(r) {
		if (id == 3 && ft == BR_TC_I64) {
			s->null_count = br_tr_i64(r);
			s->has_null_count = true;
		} else if (id == 5 && ft == BR_TC_BINARY) {
			s->max = br_tr_bin(r, &s->max_len);
			s->has_max = true;
		} else if (id == 6 && ft == BR_TC_BINARY) {
			s->min = br_tr_bin(r, &s->min_len);
			s->has_min = true;
		} else if (id == 1 && ft == BR_TC_BINARY) {
			lmax = br_tr_bin(r, &lmax_n);
		} else if (id == 2 && ft == BR_TC_BINARY) {
			lmin = br_tr_bin(r, &lmin_n);
		} else {
			br_tr_skip(r, ft);
		}
	}
	/* The legacy min/max used signed byte order for binary; they are kept
	 * (flagged) for numeric columns only, where the order is the same. */
	if (!s->has_min && !s->has_max && lmin && lmax) {
		s->min = lmin;
		s->min_len = lmin_n;
		s->max = lmax;
		s->max_len = lmax_n;
		s->has_min = s->has_max = s->legacy = true;
	}
}

static void dec_column_meta(br_tr *r, br_arena *a, pq_column *c)
{
	EACH_FIELD(r) {
		int et;
		uint32_t n;
		switch (id) {
		case 1: if (ft == BR_TC_I32) { c->type = br_tr_i32(r); continue; } break;
		case 2:
			if (ft != BR_TC_LIST)
				break;
			br_tr_list(r, &et, &n);
			if (et != BR_TC_I32) {
				r->c.bad = true;
				continue;
			}
			c->encodings = list_alloc(r, a, &n, sizeof(int));
			c->nenc = (int)n;
			for (uint32_t i = 0; i < n; i++)
				c->encodings[i] = br_tr_i32(r);
			continue;
		case 3:
			if (ft != BR_TC_LIST)
				break;
			br_tr_list(r, &et, &n);
			if (et != BR_TC_BINARY) {
				r->c.bad = true;
				continue;
			}
			c->path = list_alloc(r, a, &n, sizeof(char *));
			c->npath = (int)n;
			for (uint32_t i = 0; i < n; i++) {
				size_t len;
				const uint8_t *p = br_tr_bin(r, &len);
				c->path[i] = dup_str(a, p, len);
			}
			continue;
		case 4: if (ft == BR_TC_I32) { c->codec = br_tr_i32(r); continue; } break;
		case 5: if (ft == BR_TC_I64) { c->num_values = br_tr_i64(r); continue; } break;
		case 6: if (ft == BR_TC_I64) { c->total_uncompressed = br_tr_i64(r); continue; } break;
		case 7: if (ft == BR_TC_I64) { c->total_compressed = br_tr_i64(r); continue; } break;
		case 9: if (ft == BR_TC_I64) { c->data_page_offset = br_tr_i64(r); continue; } break;
		case 11: if (ft == BR_TC_I64) { c->dictionary_page_offset = br_tr_i64(r); continue; } break;
		case 12: if (ft == BR_TC_STRUCT) { dec_stats(r, &c->stats); continue; } break;
		}
		br_tr_skip(r, ft);
	}
}

static void dec_row_group(br_tr *r, br_arena *a, pq_row_group *g)
{
	EACH_FIELD(r) {
		if (id == 1 && ft == BR_TC_LIST) {
			int et;
			uint32_t n;
			br_tr_list(r, &et, &n);
			if (et != BR_TC_STRUCT) {
				r->c.bad = true;
				continue;
			}
			g->cols = list_alloc(r, a, &n, sizeof *g->cols);
			g->ncols = (int)n;
			for (uint32_t i = 0; i < n && !r->c.bad; i++) {
				pq_column *c = &g->cols[i];
				c->dictionary_page_offset = -1;
				c->type = -1;
				EACH_FIELD(r) {
					if (id == 3 && ft == BR_TC_STRUCT)
						dec_column_meta(r, a, c);
					else
						br_tr_skip(r, ft);
				}
			}
		} else if (id == 2 && ft == BR_TC_I64) {
			g->total_byte_size = br_tr_i64(r);
		} else if (id == 3 && ft == BR_TC_I64) {
			g->num_rows = br_tr_i64(r);
		} else {
			br_tr_skip(r, ft);
		}
	}
}

int br_pq_decode_file_meta(const uint8_t *p, size_t n, br_arena *a, pq_file_meta *m, br_err *err)
{
	memset(m, 0, sizeof *m);
	br_tr r = { .c = br_cur_make(p, n), .budget = 32 * n + (1 << 20) };
	bool seen_schema = false, seen_rows = false, seen_groups = false;
	EACH_FIELD(&r) {
		int et;
		uint32_t cnt;
		if (id == 1 && ft == BR_TC_I32) {
			m->version = br_tr_i32(&r);
		} else if (id == 2 && ft == BR_TC_LIST) {
			br_tr_list(&r, &et, &cnt);
			if (et != BR_TC_STRUCT)
				r.c.bad = true;
			m->schema = list_alloc(&r, a, &cnt, sizeof *m->schema);
			m->nschema = (int)cnt;
			for (uint32_t i = 0; i < cnt && !r.c.bad; i++)
				dec_schema_el(&r, a, &m->schema[i]);
			seen_schema = true;
		} else if (id == 3 && ft == BR_TC_I64) {
			m->num_rows = br_tr_i64(&r);
			seen_rows = true;
		} else if (id == 4 && ft == BR_TC_LIST) {
			br_tr_list(&r, &et, &cnt);
			if (et != BR_TC_STRUCT)
				r.c.bad = true;
			m->row_groups = list_alloc(&r, a, &cnt, sizeof *m->row_groups);
			m->nrow_groups = (int)cnt;
			for (uint32_t i = 0; i < cnt && !r.c.bad; i++)
				dec_row_group(&r, a, &m->row_groups[i]);
			seen_groups = true;
		} else if (id == 5 && ft == BR_TC_LIST) {
			br_tr_list(&r, &et, &cnt);
			if (et != BR_TC_STRUCT)
				r.c.bad = true;
			m->kv = list_alloc(&r, a, &cnt, sizeof *m->kv);
			m->nkv = (int)cnt;
			for (uint32_t i = 0; i < cnt && !r.c.bad; i++) {
				m->kv[i].key = m->kv[i].value = "";
				EACH_FIELD(&r) {
					size_t len;
					const uint8_t *s;
					if ((id == 1 || id == 2) && ft == BR_TC_BINARY) {
						s = br_tr_bin(&r, &len);
						if (id == 1)
							m->kv[i].key = dup_str(a, s, len);
						else
							m->kv[i].value = dup_str(a, s, len);
					} else {
						br_tr_skip(&r, ft);
					}
				}
			}
		} else if (id == 6 && ft == BR_TC_BINARY) {
			size_t len;
			const uint8_t *s = br_tr_bin(&r, &len);
			m->created_by = dup_str(a, s, len);
		} else {
			br_tr_skip(&r, ft);
		}
	}
	if (r.c.bad)
		return br_errf(err, BR_ECORRUPT, "footer: malformed Thrift at byte %zu of %zu", r.c.pos, n);
	if (!seen_schema || !seen_rows || !seen_groups || m->nschema < 1)
		return br_errf(err, BR_ECORRUPT, "footer: FileMetaData lacks schema, num_rows or row_groups");
	return 0;
}

int br_pq_decode_page_header(const uint8_t *p, size_t n, pq_page_header *h, size_t *used, br_err *err)
{
	memset(h, 0, sizeof *h);
	h->type = -1;
	h->is_compressed = true;
	br_tr r = { .c = br_cur_make(p, n) };
	bool seen_sizes = false;
	EACH_FIELD(&r) {
		if (id == 1 && ft == BR_TC_I32) {
			h->type = br_tr_i32(&r);
		} else if (id == 2 && ft == BR_TC_I32) {
			h->uncompressed_size = br_tr_i32(&r);
		} else if (id == 3 && ft == BR_TC_I32) {
			h->compressed_size = br_tr_i32(&r);
			seen_sizes = true;
		} else if (id == 5 && ft == BR_TC_STRUCT) {
			h->has_data = true;
			EACH_FIELD(&r) {
				if (ft != BR_TC_I32) { br_tr_skip(&r, ft); continue; }
				int32_t v = br_tr_i32(&r);
				if (id == 1) h->num_values = v;
				else if (id == 2) h->encoding = v;
				else if (id == 3) h->def_encoding = v;
				else if (id == 4) h->rep_encoding = v;
			}
		} else if (id == 7 && ft == BR_TC_STRUCT) {
			h->has_dict = true;
			EACH_FIELD(&r) {
				if (ft != BR_TC_I32) { br_tr_skip(&r, ft); continue; }
				int32_t v = br_tr_i32(&r);
				if (id == 1) h->num_values = v;
				else if (id == 2) h->encoding = v;
			}
		} else if (id == 8 && ft == BR_TC_STRUCT) {
			h->has_v2 = true;
			EACH_FIELD(&r) {
				if (id == 7 && (ft == BR_TC_TRUE || ft == BR_TC_FALSE)) { h->is_compressed = ft == BR_TC_TRUE; continue; }
				if (ft != BR_TC_I32) { br_tr_skip(&r, ft); continue; }
				int32_t v = br_tr_i32(&r);
				switch (id) {
				case 1: h->num_values = v; break;
				case 2: h->num_nulls = v; break;
				case 3: h->num_rows = v; break;
				case 4: h->encoding = v; break;
				case 5: h->def_len = v; break;
				case 6: h->rep_len = v; break;
				}
			}
		} else {
			br_tr_skip(&r, ft);
		}
	}
	if (r.c.bad)
		return br_errf(err, BR_ECORRUPT, "page header: malformed Thrift at byte %zu", r.c.pos);
	if (!seen_sizes || h->type < 0 || h->compressed_size < 0 || h->uncompressed_size < 0 || h->num_values < 0)
		return br_errf(err, BR_ECORRUPT, "page header: missing or negative type/sizes/counts");
	*used = r.c.pos;
	return 0;
}
