/* test_parquet.c — unit tests for src/parquet: the Thrift compact codec, the
 * RLE/bit-packed and delta encodings, writer -> reader round trips of every
 * type (nested, nulls, every codec, many pages and row groups, dictionary
 * fallback), projection, row-group skipping, metrics, and hostile files
 * (every truncation and many corruptions must fail cleanly, never crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/util.h"
#include "parquet/parquet.h"
#include "parquet/pq_internal.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* ------------------------------------------------------------- thrift */

static void test_thrift(void **state)
{
	(void)state;
	br_buf b = { 0 };
	br_tw w;
	br_tw_init(&w, &b);
	br_tw_i32(&w, 1, -7);
	br_tw_i64(&w, 40, INT64_MIN); /* delta > 15: long form */
	br_tw_bool(&w, 41, true);
	br_tw_struct_begin(&w, 42);
	br_tw_str(&w, 1, "inner");
	br_tw_struct_end(&w);
	br_tw_list(&w, 43, BR_TC_I32, 20);
	for (int i = 0; i < 20; i++)
		br_tw_elem_i32(&w, i * 1000);
	br_tw_i32(&w, 44, 99);
	br_tw_stop(&w);

	br_tr r = { .c = br_cur_make(b.p, b.len) };
	int16_t last = 0, id;
	int t;
	assert_int_equal(br_tr_field(&r, &last, &t, &id), 1);
	assert_int_equal(id, 1);
	assert_int_equal(br_tr_i32(&r), -7);
	assert_int_equal(br_tr_field(&r, &last, &t, &id), 1);
	assert_int_equal(id, 40);
	assert_true(br_tr_i64(&r) == INT64_MIN);
	assert_int_equal(br_tr_field(&r, &last, &t, &id), 1);
	assert_int_equal(t, BR_TC_TRUE);
	assert_int_equal(br_tr_field(&r, &last, &t, &id), 1);
	assert_int_equal(t, BR_TC_STRUCT);
	br_tr_skip(&r, t); /* unknown fields are skipped whole */
	assert_int_equal(br_tr_field(&r, &last, &t, &id), 1);
	int et;
	uint32_t n;
	br_tr_list(&r, &et, &n);
	assert_int_equal(n, 20);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(br_tr_i32(&r), (int)i * 1000);
	assert_int_equal(br_tr_field(&r, &last, &t, &id), 1);
	assert_int_equal(id, 44);
	assert_int_equal(br_tr_i32(&r), 99);
	assert_int_equal(br_tr_field(&r, &last, &t, &id), 0);
	assert_false(r.c.bad);

	/* a list claiming more elements than bytes is refused */
	uint8_t lie[] = { 0xf5, 0xff, 0xff, 0xff, 0x0f, 0x02 };
	br_tr r2 = { .c = br_cur_make(lie, sizeof lie) };
	br_tr_list(&r2, &et, &n);
	assert_true(r2.c.bad);
	/* deep nesting is bounded */
	uint8_t deep[200];
	for (size_t i = 0; i < sizeof deep; i++)
		deep[i] = 0x1c; /* field delta 1, type struct */
	br_tr r3 = { .c = br_cur_make(deep, sizeof deep) };
	br_tr_skip(&r3, BR_TC_STRUCT);
	assert_true(r3.c.bad);
	br_buf_free(&b);
}

/* ----------------------------------------------------------- encodings */

static void test_rle(void **state)
{
	(void)state;
	for (int bw = 0; bw <= 32; bw++) {
		size_t n = 1 + rnd() % 3000;
		uint32_t *v = malloc(n * 4), *o = malloc(n * 4);
		uint64_t mask = bw == 32 ? 0xffffffffu : ((1ull << bw) - 1);
		for (size_t i = 0; i < n; i++) {
			/* mix long runs and noise */
			v[i] = (i / 50) % 3 == 0 ? (uint32_t)(7 & mask) : (uint32_t)(rnd() & mask);
		}
		br_buf b = { 0 };
		br_pq_rle_encode(v, n, bw, &b);
		assert_int_equal(br_pq_rle_decode(b.p, b.len, bw, o, n, NULL), 0);
		assert_memory_equal(v, o, n * 4);
		/* truncated input fails, never overreads (ASan checks) */
		if (b.len > 2 && bw > 0) {
			br_err err;
			uint8_t *cut = malloc(b.len / 2);
			memcpy(cut, b.p, b.len / 2);
			assert_int_equal(br_pq_rle_decode(cut, b.len / 2, bw, o, n, &err), BR_ECORRUPT);
			free(cut);
		}
		br_buf_free(&b);
		free(v);
		free(o);
	}
	/* long bit-packed runs (the 64-bit-load unpacker) in a buffer of exactly
	 * the encoded size, so ASan sees any read past the input; also decoding
	 * fewer values than a run holds */
	for (int bw = 1; bw <= 32; bw++) {
		for (size_t n = 1; n < 200; n += 1 + n / 4) {
			uint32_t v[200], o[200];
			uint64_t mask = bw == 32 ? 0xffffffffu : ((1ull << bw) - 1);
			for (size_t i = 0; i < n; i++)
				v[i] = (uint32_t)(rnd() & mask);
			br_buf b = { 0 };
			br_pq_rle_encode(v, n, bw, &b);
			uint8_t *exact = malloc(b.len);
			memcpy(exact, b.p, b.len);
			assert_int_equal(br_pq_rle_decode(exact, b.len, bw, o, n, NULL), 0);
			assert_memory_equal(v, o, n * 4);
			assert_int_equal(br_pq_rle_decode(exact, b.len, bw, o, n / 2 + 1, NULL), 0);
			assert_memory_equal(v, o, (n / 2 + 1) * 4);
			free(exact);
			br_buf_free(&b);
		}
	}
	/* an RLE value wider than the bit width */
	uint8_t bad[] = { 0x08, 0x05 };
	uint32_t o[4];
	br_err err;
	assert_int_equal(br_pq_rle_decode(bad, 2, 2, o, 4, &err), BR_ECORRUPT);
	/* a huge run asks for no more than the caller's count */
	uint8_t huge[] = { 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x01 };
	assert_int_equal(br_pq_rle_decode(huge, sizeof huge, 1, o, 4, &err), 0);
	assert_int_equal(o[3], 1);
}

static void test_delta(void **state)
{
	(void)state;
	size_t sizes[] = { 0, 1, 2, 127, 128, 129, 1000, 5000 };
	for (size_t k = 0; k < BR_ARRAY_LEN(sizes); k++) {
		size_t n = sizes[k];
		int64_t *v = malloc((n + 1) * 8), *o = malloc((n + 1) * 8);
		for (size_t i = 0; i < n; i++)
			v[i] = i % 97 == 5 ? INT64_MIN : i % 89 == 3 ? INT64_MAX : (int64_t)(rnd() % 100000) - 50000 + (int64_t)i * 3;
		br_buf b = { 0 };
		br_pq_delta_encode(v, n, &b);
		size_t got, used;
		assert_int_equal(br_pq_delta_decode(b.p, b.len, o, n, &got, &used, NULL), 0);
		assert_int_equal(got, n);
		assert_int_equal(used, b.len);
		if (n)
			assert_memory_equal(v, o, n * 8);
		if (n > 1) {
			br_err err;
			assert_int_equal(br_pq_delta_decode(b.p, b.len / 2, o, n, &got, &used, &err), BR_ECORRUPT);
			assert_int_equal(br_pq_delta_decode(b.p, b.len, o, n - 1, &got, &used, &err), BR_ECORRUPT);
		}
		br_buf_free(&b);
		free(v);
		free(o);
	}
}

/* ---------------------------------------------------------- round trip */

static const char *all_types =
	"{\"type\":\"struct\",\"fields\":["
	"{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"b\",\"required\":false,\"type\":\"boolean\"},"
	"{\"id\":3,\"name\":\"i\",\"required\":false,\"type\":\"int\"},"
	"{\"id\":4,\"name\":\"f\",\"required\":false,\"type\":\"float\"},"
	"{\"id\":5,\"name\":\"d\",\"required\":true,\"type\":\"double\"},"
	"{\"id\":6,\"name\":\"d9\",\"required\":false,\"type\":\"decimal(9,2)\"},"
	"{\"id\":7,\"name\":\"d18\",\"required\":false,\"type\":\"decimal(18,0)\"},"
	"{\"id\":8,\"name\":\"d38\",\"required\":false,\"type\":\"decimal(38,10)\"},"
	"{\"id\":9,\"name\":\"dt\",\"required\":false,\"type\":\"date\"},"
	"{\"id\":10,\"name\":\"tm\",\"required\":false,\"type\":\"time\"},"
	"{\"id\":11,\"name\":\"ts\",\"required\":false,\"type\":\"timestamp\"},"
	"{\"id\":12,\"name\":\"tz\",\"required\":false,\"type\":\"timestamptz\"},"
	"{\"id\":13,\"name\":\"s\",\"required\":false,\"type\":\"string\"},"
	"{\"id\":14,\"name\":\"u\",\"required\":false,\"type\":\"uuid\"},"
	"{\"id\":15,\"name\":\"fx\",\"required\":false,\"type\":\"fixed[3]\"},"
	"{\"id\":16,\"name\":\"bin\",\"required\":false,\"type\":\"binary\"},"
	"{\"id\":17,\"name\":\"l\",\"required\":false,\"type\":{\"type\":\"list\",\"element-id\":18,"
	"\"element\":{\"type\":\"list\",\"element-id\":19,\"element\":\"string\",\"element-required\":false},"
	"\"element-required\":false}},"
	"{\"id\":20,\"name\":\"m\",\"required\":false,\"type\":{\"type\":\"map\",\"key-id\":21,\"key\":\"int\","
	"\"value-id\":22,\"value\":{\"type\":\"struct\",\"fields\":["
	"{\"id\":23,\"name\":\"p\",\"required\":false,\"type\":\"double\"},"
	"{\"id\":24,\"name\":\"q\",\"required\":true,\"type\":{\"type\":\"list\",\"element-id\":25,"
	"\"element\":\"long\",\"element-required\":true}}]},\"value-required\":false}},"
	"{\"id\":26,\"name\":\"st\",\"required\":true,\"type\":{\"type\":\"struct\",\"fields\":["
	"{\"id\":27,\"name\":\"x\",\"required\":false,\"type\":{\"type\":\"struct\",\"fields\":["
	"{\"id\":28,\"name\":\"y\",\"required\":false,\"type\":\"string\"}]}}]}}"
	"]}";

static void rand_value(br_col *c, int64_t row, int depth);

/* A random value that is not null (for required fields). */
static void rand_required(br_col *c, int64_t row, int depth)
{
	br_col tmp;
	br_col_init(&tmp, c->type);
	do {
		br_col_reset(&tmp);
		rand_value(&tmp, row, depth);
	} while (!br_col_valid(&tmp, 0));
	br_col_append_from(c, &tmp, 0);
	br_col_free(&tmp);
}

static void rand_value(br_col *c, int64_t row, int depth)
{
	const br_type *t = c->type;
	char s[48];
	if (rnd() % 6 == 0) {
		br_col_append_null(c);
		return;
	}
	switch (t->id) {
	case BR_T_BOOLEAN: br_col_append_bool(c, rnd() & 1); break;
	case BR_T_INT: case BR_T_DATE: br_col_append_i32(c, (int32_t)rnd()); break;
	case BR_T_LONG: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ: br_col_append_i64(c, (int64_t)rnd()); break;
	case BR_T_TIME: br_col_append_i64(c, (int64_t)(rnd() % 86400000000ULL)); break;
	case BR_T_FLOAT: br_col_append_f32(c, (float)(int32_t)rnd() / 7.0f); break;
	case BR_T_DOUBLE: br_col_append_f64(c, (double)(int64_t)rnd() / 3.0); break;
	case BR_T_DECIMAL: {
		__int128 lim = 1;
		for (int i = 0; i < t->precision; i++)
			lim *= 10;
		__int128 v = (__int128)((((unsigned __int128)rnd() << 64) | rnd()) % (unsigned __int128)lim);
		if (rnd() & 1)
			v = -v;
		br_col_append_dec(c, v);
		break;
	}
	case BR_T_STRING: case BR_T_BINARY: {
		/* low cardinality sometimes, so dictionaries are used and overflow */
		int n = rnd() % 3 ? snprintf(s, sizeof s, "v%d", (int)(rnd() % 20))
				  : snprintf(s, sizeof s, "value-%llu", (unsigned long long)rnd());
		br_col_append_bytes(c, s, (size_t)n);
		break;
	}
	case BR_T_UUID: case BR_T_FIXED: {
		uint8_t b[16];
		for (int i = 0; i < 16; i++)
			b[i] = (uint8_t)rnd();
		br_col_append_bytes(c, b, (size_t)br_type_width(t));
		break;
	}
	case BR_T_STRUCT:
		for (int k = 0; k < c->nchildren; k++) {
			if (t->children[k].required)
				rand_required(&c->children[k], row, depth + 1);
			else
				rand_value(&c->children[k], row, depth + 1);
		}
		br_col_append_struct(c);
		break;
	default: {
		int n = (int)(rnd() % 4);
		for (int e = 0; e < n; e++)
			for (int k = 0; k < c->nchildren; k++) {
				br_col *ch = &c->children[k];
				if (t->children[k].required && !br_type_is_nested(ch->type)) {
					/* keys and required elements are never null */
					if (ch->type->id == BR_T_INT)
						br_col_append_i32(ch, e + (int)row);
					else
						br_col_append_i64(ch, (int64_t)rnd());
				} else if (t->children[k].required) {
					rand_required(ch, row, depth + 1);
				} else {
					rand_value(ch, row, depth + 1);
				}
			}
		br_col_close_list(c);
		break;
	}
	}
}

/* Required columns must not hold nulls: regenerate until valid. */
static void rand_row(br_batch *b, int64_t row)
{
	for (int k = 0; k < b->ncols; k++) {
		const br_field *f = &b->type->children[k];
		br_col *c = &b->cols[k];
		if (f->id == 1) {
			br_col_append_i64(c, row);
			continue;
		}
		if (f->required)
			rand_required(c, row, 0);
		else
			rand_value(c, row, 0);
	}
	br_batch_row_done(b, 1);
}

static bool slot_equal(const br_col *a, int64_t i, const br_col *b, int64_t j)
{
	bool va = br_col_valid(a, i), vb = br_col_valid(b, j);
	if (va != vb)
		return false;
	if (!va)
		return true;
	switch (a->type->id) {
	case BR_T_STRUCT:
		for (int k = 0; k < a->nchildren; k++)
			if (!slot_equal(&a->children[k], i, &b->children[k], j))
				return false;
		return true;
	case BR_T_LIST: case BR_T_MAP: {
		int64_t s1, e1, s2, e2;
		br_col_range(a, i, &s1, &e1);
		br_col_range(b, j, &s2, &e2);
		if (e1 - s1 != e2 - s2)
			return false;
		for (int64_t k = 0; k < e1 - s1; k++)
			for (int c = 0; c < a->nchildren; c++)
				if (!slot_equal(&a->children[c], s1 + k, &b->children[c], s2 + k))
					return false;
		return true;
	}
	default: {
		br_value x = br_col_value(a, i), y = br_col_value(b, j);
		if (a->type->id == BR_T_FLOAT || a->type->id == BR_T_DOUBLE)
			return memcmp(&x.v, &y.v, a->type->id == BR_T_FLOAT ? 4 : 8) == 0;
		return br_value_cmp(&x, &y) == 0;
	}
	}
}

/* Text of a slot, for failure messages. */
static void slot_text(const br_col *c, int64_t i, br_buf *out)
{
	if (!br_col_valid(c, i)) {
		br_buf_printf(out, "null");
		return;
	}
	switch (c->type->id) {
	case BR_T_STRUCT:
		br_buf_printf(out, "{");
		for (int k = 0; k < c->nchildren; k++) {
			slot_text(&c->children[k], i, out);
			br_buf_printf(out, k + 1 < c->nchildren ? "," : "");
		}
		br_buf_printf(out, "}");
		return;
	case BR_T_LIST: case BR_T_MAP: {
		int64_t s, e;
		br_col_range(c, i, &s, &e);
		br_buf_printf(out, "[");
		for (int64_t j = s; j < e; j++)
			for (int k = 0; k < c->nchildren; k++) {
				slot_text(&c->children[k], j, out);
				br_buf_printf(out, " ");
			}
		br_buf_printf(out, "]");
		return;
	}
	default: {
		br_value v = br_col_value(c, i);
		br_value_format(&v, c->type, out);
	}
	}
}

static char *tmp_path(const char *tag)
{
	return br_xasprintf("/tmp/braid-test-parquet-%d-%s.parquet", (int)getpid(), tag);
}

static void write_file(const char *path, const br_schema *s, br_pq_options *o, br_batch *all, int64_t rows,
		       br_pq_metrics *m)
{
	br_err err = { 0 };
	br_pq_writer *w;
	assert_int_equal(br_pq_writer_open(path, s, o, &w, &err), 0);
	br_batch b;
	br_batch_init(&b, s->root, false);
	for (int64_t r = 0; r < rows; r++) {
		rand_row(&b, r);
		for (int k = 0; k < b.ncols; k++)
			br_col_append_from(&all->cols[k], &b.cols[k], b.nrows - 1);
		br_batch_row_done(all, 1);
		if (b.nrows == 777 || r + 1 == rows) {
			int rc = br_pq_writer_write(w, &b, &err);
			if (rc)
				fail_msg("%s", err.msg);
			br_batch_reset(&b);
		}
	}
	br_batch_free(&b);
	int rc = br_pq_writer_close(w, m, &err);
	if (rc)
		fail_msg("%s", err.msg);
}

static void check_file(const char *path, const br_batch *all, int64_t batch_rows)
{
	br_err err = { 0 };
	br_pq_reader *r;
	int rc = br_pq_reader_open(path, &r, &err);
	if (rc)
		fail_msg("%s", err.msg);
	br_pq_reader_set_batch_rows(r, batch_rows);
	assert_int_equal(br_pq_reader_num_rows(r), all->nrows);
	assert_true(br_type_equal(br_pq_reader_schema(r)->root, all->type));
	br_batch b = { 0 };
	int64_t row = 0;
	while ((rc = br_pq_reader_next(r, &b, &err)) > 0) {
		assert_true(b.nrows <= batch_rows);
		assert_int_equal(br_batch_validate(&b, &err), 0);
		for (int64_t i = 0; i < b.nrows; i++, row++)
			for (int k = 0; k < b.ncols; k++)
				if (!slot_equal(&b.cols[k], i, &all->cols[k], row)) {
					br_buf t = { 0 };
					slot_text(&b.cols[k], i, &t);
					br_buf_printf(&t, " != ");
					slot_text(&all->cols[k], row, &t);
					br_buf_u8(&t, 0);
					fail_msg("row %lld column %s differs: %s", (long long)row, all->type->children[k].name,
						 (char *)t.p);
				}
	}
	if (rc < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(row, all->nrows);
	br_batch_free(&b);
	br_pq_reader_close(r);
}

static void test_roundtrip_all(void **state)
{
	(void)state;
	br_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(all_types, strlen(all_types), &s, &err), 0);
	int codecs[] = { BR_PQ_ZSTD, BR_PQ_SNAPPY, BR_PQ_GZIP, BR_PQ_UNCOMPRESSED, BR_PQ_LZ4_RAW };
	for (size_t c = 0; c < BR_ARRAY_LEN(codecs); c++) {
		char *path = tmp_path("all");
		br_pq_options o;
		br_pq_options_default(&o);
		o.codec = codecs[c];
		o.fsync = false;
		o.page_bytes = 4096;             /* many pages */
		o.row_group_bytes = 64 << 10;    /* several row groups */
		o.dict_bytes = 2048;             /* dictionary fallback mid-chunk */
		o.dictionary = c != 3;
		br_batch all;
		br_batch_init(&all, s->root, false);
		br_pq_metrics m;
		write_file(path, s, &o, &all, 6000, &m);
		assert_true(m.nrow_groups > 1);
		assert_int_equal(m.nrows, 6000);
		check_file(path, &all, c == 0 ? 1 : 1000);
		br_pq_metrics_free(&m);
		br_batch_free(&all);
		unlink(path);
		free(path);
	}
	br_schema_free(s);
}

static void test_metrics_projection_filter(void **state)
{
	(void)state;
	const char *js = "{\"type\":\"struct\",\"fields\":["
			 "{\"id\":1,\"name\":\"k\",\"required\":true,\"type\":\"long\"},"
			 "{\"id\":2,\"name\":\"s\",\"required\":false,\"type\":\"string\"},"
			 "{\"id\":3,\"name\":\"x\",\"required\":false,\"type\":\"double\"}]}";
	br_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(js, strlen(js), &s, &err), 0);
	char *path = tmp_path("proj");
	br_pq_options o;
	br_pq_options_default(&o);
	o.fsync = false;
	o.row_group_bytes = 16 << 10;
	br_pq_writer *w;
	assert_int_equal(br_pq_writer_open(path, s, &o, &w, &err), 0);
	br_batch b;
	br_batch_init(&b, s->root, false);
	for (int i = 0; i < 50000; i++) {
		br_col_append_i64(&b.cols[0], i);
		char t[16];
		snprintf(t, sizeof t, "n%05d", i);
		if (i % 10 == 0)
			br_col_append_null(&b.cols[1]);
		else
			br_col_append_bytes(&b.cols[1], t, strlen(t));
		br_col_append_f64(&b.cols[2], i == 7 ? NAN : i * 0.5);
		br_batch_row_done(&b, 1);
	}
	assert_int_equal(br_pq_writer_write(w, &b, &err), 0);
	br_pq_metrics m;
	assert_int_equal(br_pq_writer_close(w, &m, &err), 0);
	assert_int_equal(m.ncols, 3);
	assert_int_equal(m.cols[0].field_id, 1);
	assert_int_equal(m.cols[1].null_count, 5000);
	assert_int_equal(m.cols[1].value_count, 50000);
	assert_int_equal(m.cols[2].nan_count, 1);
	assert_true(m.cols[0].has_bounds);
	assert_int_equal(m.cols[0].min.v.i64, 0);
	assert_int_equal(m.cols[0].max.v.i64, 49999);
	assert_int_equal(m.cols[1].min.v.bytes.len, 6);
	assert_memory_equal(m.cols[1].min.v.bytes.p, "n00001", 6);
	assert_memory_equal(m.cols[1].max.v.bytes.p, "n49999", 6);
	assert_true(m.cols[2].max.v.f64 == 49999 * 0.5);
	assert_true(m.nrow_groups > 3);
	br_pq_metrics_free(&m);

	/* projection: x then k; filter k >= 45000 skips row groups */
	br_pq_reader *r;
	assert_int_equal(br_pq_reader_open(path, &r, &err), 0);
	int ids[] = { 3, 1 };
	assert_int_equal(br_pq_reader_project(r, ids, 2, &err), 0);
	br_value v = br_value_i64(BR_T_LONG, 45000);
	assert_int_equal(br_pq_reader_filter(r, 1, BR_PQ_GE, &v, &err), 0);
	br_value sv = br_value_bytes(BR_T_STRING, "n4", 2);
	assert_int_equal(br_pq_reader_filter(r, 2, BR_PQ_GT, &sv, &err), 0);
	assert_int_equal(br_pq_reader_filter(r, 99, BR_PQ_GT, &sv, &err), BR_ENOTFOUND);
	const br_type *pt = br_pq_reader_type(r);
	assert_int_equal(pt->nchildren, 2);
	assert_string_equal(pt->children[0].name, "x");
	br_batch out = { 0 };
	int rc;
	int64_t seen = 0, match = 0;
	while ((rc = br_pq_reader_next(r, &out, &err)) > 0) {
		for (int64_t i = 0; i < out.nrows; i++) {
			int64_t k = br_col_i64(&out.cols[1], i);
			match += k >= 45000;
			if (k != 7)
				assert_true(br_col_f64(&out.cols[0], i) == k * 0.5);
		}
		seen += out.nrows;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(match, 5000);
	assert_true(seen < 20000);
	assert_true(br_pq_reader_skipped_row_groups(r) > 0);
	br_batch_free(&out);
	br_pq_reader_close(r);

	/* a bad projection is refused */
	assert_int_equal(br_pq_reader_open(path, &r, &err), 0);
	int bad[] = { 42 };
	assert_int_equal(br_pq_reader_project(r, bad, 1, &err), BR_ENOTFOUND);
	int twice[] = { 1, 1 };
	assert_int_equal(br_pq_reader_project(r, twice, 2, &err), BR_EINVAL);
	br_pq_reader_close(r);

	br_batch_free(&b);
	br_schema_free(s);
	unlink(path);
	free(path);
}

/* ------------------------------------------ parallel scans, dict codes */

typedef struct par_part {
	const char *path;
	atomic_int *next;
	int64_t morsel;
	int64_t rows, sum;
	int bad;
} par_part;

static void *par_scan(void *arg)
{
	par_part *pp = arg;
	br_err err = { 0 };
	br_pq_reader *r;
	if (br_pq_reader_open(pp->path, &r, &err)) {
		pp->bad++;
		return NULL;
	}
	br_pq_reader_share_row_groups(r, pp->next);
	br_pq_reader_set_batch_rows(r, 777);
	if (pp->morsel)
		br_pq_reader_set_morsel_rows(r, pp->morsel);
	br_batch b = { 0 };
	int rc;
	while ((rc = br_pq_reader_next(r, &b, &err)) > 0) {
		for (int64_t i = 0; i < b.nrows; i++) {
			int64_t k = br_col_i64(&b.cols[0], i);
			size_t n;
			const uint8_t *p = br_col_bytes(&b.cols[1], i, &n);
			char t[32];
			snprintf(t, sizeof t, "c%d", (int)(k % 37));
			pp->bad += n != strlen(t) || memcmp(p, t, n) != 0;
			snprintf(t, sizeof t, "n%d", (int)(k % 3));
			if (k % 10 == 0) {
				pp->bad += br_col_valid(&b.cols[3], i);
			} else {
				p = br_col_bytes(&b.cols[3], i, &n);
				pp->bad += n != strlen(t) || memcmp(p, t, n) != 0;
			}
			snprintf(t, sizeof t, "unique-%d", (int)(k / 2));
			p = br_col_bytes(&b.cols[4], i, &n);
			pp->bad += n != strlen(t) || memcmp(p, t, n) != 0;
			pp->sum += k;
		}
		pp->rows += b.nrows;
	}
	pp->bad += rc != 0;
	br_batch_free(&b);
	br_pq_reader_close(r);
	return NULL;
}

static void test_parallel_and_codes(void **state)
{
	(void)state;
	const char *js = "{\"type\":\"struct\",\"fields\":["
			 "{\"id\":1,\"name\":\"k\",\"required\":true,\"type\":\"long\"},"
			 "{\"id\":2,\"name\":\"c\",\"required\":true,\"type\":\"string\"},"
			 "{\"id\":3,\"name\":\"d\",\"required\":true,\"type\":\"string\"},"
			 "{\"id\":4,\"name\":\"n\",\"required\":false,\"type\":\"string\"},"
			 "{\"id\":5,\"name\":\"u\",\"required\":true,\"type\":\"string\"}]}";
	br_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(js, strlen(js), &s, &err), 0);
	char *path = tmp_path("par");
	br_pq_options o;
	br_pq_options_default(&o);
	o.fsync = false;
	o.row_group_bytes = 16 << 10;
	o.page_bytes = 1 << 10;
	o.dict_bytes = 2 << 10; /* u falls back to PLAIN inside each chunk */
	br_pq_writer *w;
	assert_int_equal(br_pq_writer_open(path, s, &o, &w, &err), 0);
	br_batch b;
	br_batch_init(&b, s->root, false);
	const int N = 60000;
	for (int i = 0; i < N; i++) {
		char t[64];
		br_col_append_i64(&b.cols[0], i);
		snprintf(t, sizeof t, "c%d", i % 37);
		br_col_append_bytes(&b.cols[1], t, strlen(t));
		snprintf(t, sizeof t, "a-channel-name-longer-than-16-bytes-%d", i % 5);
		br_col_append_bytes(&b.cols[2], t, strlen(t));
		snprintf(t, sizeof t, "n%d", i % 3);
		if (i % 10 == 0)
			br_col_append_null(&b.cols[3]);
		else
			br_col_append_bytes(&b.cols[3], t, strlen(t));
		snprintf(t, sizeof t, "unique-%d", i / 2);
		br_col_append_bytes(&b.cols[4], t, strlen(t));
		br_batch_row_done(&b, 1);
		if (b.nrows == 50) {
			/* small writes: pages close before u's dictionary overflows */
			assert_int_equal(br_pq_writer_write(w, &b, &err), 0);
			br_batch_reset(&b);
		}
	}
	assert_int_equal(br_pq_writer_write(w, &b, &err), 0);
	br_pq_metrics m;
	assert_int_equal(br_pq_writer_close(w, &m, &err), 0);
	assert_true(m.nrow_groups > 4);
	br_pq_metrics_free(&m);

	/* two threads share the row groups, whole or in morsels of 97 rows (the
	 * later ones start by skipping pages and part of a page, with nulls):
	 * every row exactly once, columns still aligned */
	for (int v = 0; v < 4; v++) {
		int64_t morsel = v & 1 ? 97 : 0;
		bool two = v & 2; /* one reader takes every morsel in order: it skips on */
		atomic_int next = 0;
		par_part pp[2] = { { path, &next, morsel, 0, 0, 0 }, { path, &next, morsel, 0, 0, 0 } };
		pthread_t t2;
		if (two)
			assert_int_equal(pthread_create(&t2, NULL, par_scan, &pp[1]), 0);
		par_scan(&pp[0]);
		if (two)
			pthread_join(t2, NULL);
		assert_int_equal(pp[0].bad + pp[1].bad, 0);
		assert_int_equal(pp[0].rows + pp[1].rows, N);
		assert_true(pp[0].sum + pp[1].sum == (int64_t)N * (N - 1) / 2);
	}

	/* dictionary codes name the same strings as the batch */
	br_pq_reader *r;
	assert_int_equal(br_pq_reader_open(path, &r, &err), 0);
	int ids[] = { 2, 3, 4, 5, 1 };
	assert_int_equal(br_pq_reader_project(r, ids, 5, &err), 0);
	br_pq_reader_set_batch_rows(r, 100);
	br_batch out = { 0 };
	const uint32_t *codes;
	const br_col *dict;
	uint64_t id;
	assert_false(br_pq_reader_dict_codes(r, 0, &codes, &dict, &id)); /* before the first batch */
	assert_false(br_pq_reader_dict_codes(r, 9, &codes, &dict, &id));
	int rc, with_codes = 0, u_codes = 0, u_plain = 0;
	while ((rc = br_pq_reader_next(r, &out, &err)) > 0) {
		for (int k = 0; k < 4; k++) {
			if (!br_pq_reader_dict_codes(r, k, &codes, &dict, &id)) {
				assert_true(k >= 2); /* c and d are dictionary-encoded throughout */
				u_plain += k == 3;
				continue;
			}
			assert_int_equal(out.cols[k].null_count, 0); /* n's nulls leave no codes */
			with_codes++;
			u_codes += k == 3;
			for (int64_t i = 0; i < out.nrows; i++) {
				size_t n1, n2;
				assert_true(codes[i] < (uint32_t)dict->len);
				const uint8_t *p1 = br_col_bytes(&out.cols[k], i, &n1);
				const uint8_t *p2 = br_col_bytes(dict, codes[i], &n2);
				assert_int_equal(n1, n2);
				assert_memory_equal(p1, p2, n1);
			}
		}
	}
	assert_int_equal(rc, 0);
	assert_true(with_codes > 2 * N / 100);
	assert_true(u_plain > 0);
	(void)u_codes;
	br_batch_free(&out);
	br_pq_reader_close(r);

	br_batch_free(&b);
	br_schema_free(s);
	unlink(path);
	free(path);
}

static void test_empty_and_errors(void **state)
{
	(void)state;
	const char *js = "{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"k\",\"required\":true,\"type\":\"long\"}]}";
	br_schema *s, *s2;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(js, strlen(js), &s, &err), 0);
	char *path = tmp_path("empty");
	br_pq_writer *w;
	assert_int_equal(br_pq_writer_open(path, s, NULL, &w, &err), 0);
	assert_int_equal(br_pq_writer_close(w, NULL, &err), 0);
	br_pq_reader *r;
	assert_int_equal(br_pq_reader_open(path, &r, &err), 0);
	assert_int_equal(br_pq_reader_num_rows(r), 0);
	br_batch b = { 0 };
	assert_int_equal(br_pq_reader_next(r, &b, &err), 0);
	br_batch_free(&b);
	br_pq_reader_close(r);

	/* a batch of another type is refused */
	const char *js2 = "{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"k\",\"required\":true,\"type\":\"int\"}]}";
	assert_int_equal(br_schema_parse(js2, strlen(js2), &s2, &err), 0);
	assert_int_equal(br_pq_writer_open(path, s, NULL, &w, &err), 0);
	br_batch_init(&b, s2->root, false);
	br_col_append_i32(&b.cols[0], 1);
	br_batch_row_done(&b, 1);
	assert_int_equal(br_pq_writer_write(w, &b, &err), BR_EINVAL);
	br_pq_writer_abort(w);
	assert_false(br_path_exists(path));
	br_batch_free(&b);

	assert_int_equal(br_pq_reader_open("/nonexistent/x.parquet", &r, &err), BR_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/x.parquet"));
	assert_int_equal(br_pq_writer_open("/nonexistent/dir/x.parquet", s, NULL, &w, &err), BR_EIO);
	br_schema_free(s);
	br_schema_free(s2);
	free(path);
}

/* Reads a whole image; returns the status. Must never crash or hang. */
static int read_all(const uint8_t *p, size_t n)
{
	br_pq_reader *r;
	br_err err = { 0 };
	int rc = br_pq_reader_open_mem(p, n, "mem.parquet", &r, &err);
	if (rc) {
		assert_true(strlen(err.msg) > 0);
		return rc;
	}
	br_pq_reader_set_batch_rows(r, 100);
	br_batch b = { 0 };
	while ((rc = br_pq_reader_next(r, &b, &err)) > 0)
		assert_int_equal(br_batch_validate(&b, NULL), 0);
	if (rc < 0)
		assert_non_null(strstr(err.msg, "mem.parquet"));
	br_batch_free(&b);
	br_pq_reader_close(r);
	return rc;
}

static void test_hostile(void **state)
{
	(void)state;
	br_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(all_types, strlen(all_types), &s, &err), 0);
	char *path = tmp_path("hostile");
	br_pq_options o;
	br_pq_options_default(&o);
	o.fsync = false;
	o.page_bytes = 1024;
	o.codec = BR_PQ_UNCOMPRESSED; /* so flips reach the levels and values */
	br_batch all;
	br_batch_init(&all, s->root, false);
	write_file(path, s, &o, &all, 300, NULL);
	br_batch_free(&all);
	char *img;
	size_t n;
	assert_int_equal(br_read_file(path, &img, &n, &err), 0);
	assert_int_equal(read_all((uint8_t *)img, n), 0);
	/* every truncation */
	for (size_t k = 0; k < n; k += (k < 64 || n - k < 4096) ? 1 : 61)
		assert_true(read_all((uint8_t *)img, k) < 0);
	/* byte flips everywhere */
	uint8_t *copy = malloc(n);
	for (int t = 0; t < 3000; t++) {
		memcpy(copy, img, n);
		int flips = 1 + (int)(rnd() % 4);
		for (int f = 0; f < flips; f++) {
			size_t at = t < 1500 ? n - 9 - rnd() % BR_MIN(n - 9, 3000) : rnd() % n;
			copy[at] = (uint8_t)rnd();
		}
		read_all(copy, n);
	}
	free(copy);
	free(img);
	unlink(path);
	free(path);
	br_schema_free(s);
}

/* A footer of a million empty schema elements must not cost 80 MB. */
static void test_footer_budget(void **state)
{
	(void)state;
	size_t n = 1000000;
	br_buf b = { 0 };
	br_buf_u8(&b, 0x29);       /* field 2 (schema), list */
	br_buf_u8(&b, 0xfc);       /* long-form size, struct elements */
	br_buf_uvarint(&b, n);
	br_buf_grow(&b, n);        /* n empty structs: STOP bytes */
	br_buf_u8(&b, 0);
	br_arena a;
	br_arena_init(&a, 4096);
	pq_file_meta m;
	br_err err;
	assert_int_equal(br_pq_decode_file_meta(b.p, b.len, &a, &m, &err), BR_ECORRUPT);
	br_arena_free(&a);
	br_buf_free(&b);
}

/* One row with a very long list: pages close per row and stay readable. */
static void test_long_list(void **state)
{
	(void)state;
	const char *js = "{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"l\",\"required\":true,"
			 "\"type\":{\"type\":\"list\",\"element-id\":2,\"element\":\"long\",\"element-required\":false}}]}";
	br_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(js, strlen(js), &s, &err), 0);
	char *path = tmp_path("longlist");
	br_pq_options o;
	br_pq_options_default(&o);
	o.fsync = false;
	o.page_bytes = 4096;
	br_batch all;
	br_batch_init(&all, s->root, false);
	br_pq_writer *w;
	assert_int_equal(br_pq_writer_open(path, s, &o, &w, &err), 0);
	for (int r = 0; r < 5; r++) {
		for (int k = 0; k < 100000 * (r % 2); k++) {
			if (k % 9 == 0)
				br_col_append_null(&all.cols[0].children[0]);
			else
				br_col_append_i64(&all.cols[0].children[0], k);
		}
		br_col_close_list(&all.cols[0]);
		br_batch_row_done(&all, 1);
	}
	assert_int_equal(br_pq_writer_write(w, &all, &err), 0);
	assert_int_equal(br_pq_writer_close(w, NULL, &err), 0);
	check_file(path, &all, 2);
	br_batch_free(&all);
	br_schema_free(s);
	unlink(path);
	free(path);
}

/* Builds a one-column, one-page file: required leaf el, data page v1,
 * uncompressed, the given encoding and body. */
static void craft(br_buf *f, pq_schema_el *leaf, int enc, const br_buf *body, int32_t n)
{
	br_buf_put(f, "PAR1", 4);
	pq_page_header h = { .type = PQ_PAGE_DATA, .uncompressed_size = (int32_t)body->len,
			     .compressed_size = (int32_t)body->len, .num_values = n, .encoding = enc,
			     .def_encoding = PQ_ENC_RLE, .rep_encoding = PQ_ENC_RLE };
	br_pq_encode_page_header(&h, f);
	br_buf_put(f, body->p, body->len);
	pq_schema_el els[2];
	memset(els, 0, sizeof els);
	els[0] = (pq_schema_el){ .type = -1, .repetition = -1, .name = "schema", .num_children = 1, .converted = -1,
				 .field_id = -1 };
	els[1] = *leaf;
	const char *path[1] = { leaf->name };
	int encs[2] = { enc, PQ_ENC_RLE };
	pq_column col = { .type = leaf->type, .nenc = 2, .encodings = encs, .npath = 1, .path = path,
			  .codec = PQ_CODEC_UNCOMPRESSED, .num_values = n, .total_uncompressed = (int64_t)f->len - 4,
			  .total_compressed = (int64_t)f->len - 4, .data_page_offset = 4, .dictionary_page_offset = -1 };
	pq_row_group rg = { .ncols = 1, .cols = &col, .total_byte_size = (int64_t)f->len - 4, .num_rows = n };
	pq_file_meta m = { .version = 1, .nschema = 2, .schema = els, .num_rows = n, .nrow_groups = 1,
			   .row_groups = &rg };
	size_t start = f->len;
	br_pq_encode_file_meta(&m, f);
	uint32_t flen = (uint32_t)(f->len - start);
	br_buf_put(f, &flen, 4);
	br_buf_put(f, "PAR1", 4);
}

static void read_one_col(const br_buf *f, br_batch *b)
{
	br_pq_reader *r;
	br_err err = { 0 };
	int rc = br_pq_reader_open_mem(f->p, f->len, "crafted.parquet", &r, &err);
	if (rc)
		fail_msg("%s", err.msg);
	memset(b, 0, sizeof *b);
	rc = br_pq_reader_next(r, b, &err);
	if (rc != 1)
		fail_msg("%s", err.msg);
	/* the batch's type belongs to the reader: keep a copy of the values only */
	br_type *t = br_type_clone(b->type);
	br_batch copy;
	br_batch_init(&copy, t, false);
	for (int64_t i = 0; i < b->nrows; i++) {
		br_col_append_from(&copy.cols[0], &b->cols[0], i);
		br_batch_row_done(&copy, 1);
	}
	br_batch_free(b);
	br_pq_reader_close(r);
	*b = copy;
}

/* Encodings DuckDB did not produce in the cross-check: DELTA_BYTE_ARRAY and
 * INT96 timestamps, from hand-built pages. */
static void test_crafted_encodings(void **state)
{
	(void)state;
	/* DELTA_BYTE_ARRAY: prefix lengths, suffix lengths, suffix bytes */
	const char *vals[] = { "apple", "applesauce", "apply", "banana", "", "band" };
	int64_t pre[] = { 0, 5, 4, 0, 0, 0 }, suf[6];
	br_buf body = { 0 }, bytes = { 0 };
	for (int i = 0; i < 6; i++) {
		suf[i] = (int64_t)strlen(vals[i]) - pre[i];
		br_buf_put(&bytes, vals[i] + pre[i], (size_t)suf[i]);
	}
	br_pq_delta_encode(pre, 6, &body);
	br_pq_delta_encode(suf, 6, &body);
	br_buf_put(&body, bytes.p, bytes.len);
	pq_schema_el el = { .type = PQ_BYTE_ARRAY, .repetition = PQ_REQUIRED, .name = "s", .converted = PQ_CT_UTF8,
			    .field_id = 1, .logical = { .kind = PQ_LT_STRING } };
	br_buf f = { 0 };
	craft(&f, &el, PQ_ENC_DELTA_BYTE_ARRAY, &body, 6);
	br_batch b;
	read_one_col(&f, &b);
	assert_int_equal(b.nrows, 6);
	for (int i = 0; i < 6; i++) {
		size_t n;
		const uint8_t *p = br_col_bytes(&b.cols[0], i, &n);
		assert_int_equal(n, strlen(vals[i]));
		assert_memory_equal(p, vals[i], n);
	}
	const br_type *bt = b.type;
	br_batch_free(&b);
	br_type_free((br_type *)bt);

	/* a prefix longer than the previous value is refused */
	body.len = 0;
	int64_t bad_pre[] = { 0, 9 };
	int64_t bad_suf[] = { 1, 1 };
	br_pq_delta_encode(bad_pre, 2, &body);
	br_pq_delta_encode(bad_suf, 2, &body);
	br_buf_put(&body, "ab", 2);
	f.len = 0;
	craft(&f, &el, PQ_ENC_DELTA_BYTE_ARRAY, &body, 2);
	br_pq_reader *r;
	br_err err = { 0 };
	assert_int_equal(br_pq_reader_open_mem(f.p, f.len, "crafted.parquet", &r, &err), 0);
	br_batch out = { 0 };
	assert_int_equal(br_pq_reader_next(r, &out, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "column s"));
	br_batch_free(&out);
	br_pq_reader_close(r);

	/* a bare repeated field (legacy): rows [1, 2], [], [3] */
	body.len = 0;
	br_buf lv = { 0 };
	uint32_t reps[] = { 0, 1, 0, 0 }, defs[] = { 1, 1, 0, 1 };
	br_pq_rle_encode(reps, 4, 1, &lv);
	uint32_t ln = (uint32_t)lv.len;
	br_buf_put(&body, &ln, 4);
	br_buf_put(&body, lv.p, lv.len);
	lv.len = 0;
	br_pq_rle_encode(defs, 4, 1, &lv);
	ln = (uint32_t)lv.len;
	br_buf_put(&body, &ln, 4);
	br_buf_put(&body, lv.p, lv.len);
	int32_t iv[] = { 1, 2, 3 };
	br_buf_put(&body, iv, sizeof iv);
	br_buf_free(&lv);
	pq_schema_el elr = { .type = PQ_INT32, .repetition = PQ_REPEATED, .name = "r", .converted = -1, .field_id = 5 };
	f.len = 0;
	craft(&f, &elr, PQ_ENC_PLAIN, &body, 4);
	/* the footer says 4 rows (craft uses the entry count); 3 are complete */
	assert_int_equal(br_pq_reader_open_mem(f.p, f.len, "crafted.parquet", &r, &err), 0);
	const br_type *lt = br_pq_reader_schema(r)->root->children[0].type;
	assert_int_equal(lt->id, BR_T_LIST);
	assert_true(lt->children[0].required);
	br_pq_reader_set_batch_rows(r, 3);
	assert_int_equal(br_pq_reader_next(r, &out, &err), 1);
	int64_t st, en;
	br_col_range(&out.cols[0], 0, &st, &en);
	assert_int_equal(en - st, 2);
	assert_int_equal(br_col_i32(&out.cols[0].children[0], st + 1), 2);
	br_col_range(&out.cols[0], 1, &st, &en);
	assert_int_equal(en - st, 0);
	br_col_range(&out.cols[0], 2, &st, &en);
	assert_int_equal(en - st, 1);
	assert_int_equal(br_col_i32(&out.cols[0].children[0], st), 3);
	/* the claimed fourth row has no entries left: a clear error */
	assert_int_equal(br_pq_reader_next(r, &out, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "ends before"));
	br_batch_free(&out);
	br_pq_reader_close(r);

	/* INT96: nanoseconds of the day, then the Julian day */
	body.len = 0;
	int64_t nanos = 1500000000LL;     /* 00:00:01.5 */
	uint32_t jday = 2440588 + 1;      /* 1970-01-02 */
	br_buf_put(&body, &nanos, 8);
	br_buf_put(&body, &jday, 4);
	jday = 2440588 - 1;               /* 1969-12-31 */
	br_buf_put(&body, &nanos, 8);
	br_buf_put(&body, &jday, 4);
	pq_schema_el el96 = { .type = PQ_INT96, .repetition = PQ_REQUIRED, .name = "t", .converted = -1, .field_id = 1 };
	f.len = 0;
	craft(&f, &el96, PQ_ENC_PLAIN, &body, 2);
	read_one_col(&f, &b);
	assert_int_equal(b.type->children[0].type->id, BR_T_TIMESTAMP);
	assert_true(br_col_i64(&b.cols[0], 0) == 86400000000LL + 1500000);
	assert_true(br_col_i64(&b.cols[0], 1) == -86400000000LL + 1500000);
	bt = b.type;
	br_batch_free(&b);
	br_type_free((br_type *)bt);
	br_buf_free(&f);
	br_buf_free(&body);
	br_buf_free(&bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thrift),
		cmocka_unit_test(test_rle),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_roundtrip_all),
		cmocka_unit_test(test_metrics_projection_filter),
		cmocka_unit_test(test_empty_and_errors),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_footer_budget),
		cmocka_unit_test(test_long_list),
		cmocka_unit_test(test_crafted_encodings),
		cmocka_unit_test(test_parallel_and_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
