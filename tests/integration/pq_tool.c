/* pq_tool.c — test driver for braid's Parquet code, used by
 * test_parquet_duckdb.mjs (built there with cc against build/libbraid.a):
 *   pq_tool gen OUT CODEC ROWS [DICT_BYTES]  write every Iceberg type from formulas
 *   pq_tool copy IN OUT CODEC        read IN with braid, write it back with braid
 *   pq_tool count IN FIELD_ID OP V   rows and row groups read under a filter (long column)
 *   pq_tool schema IN                the Iceberg JSON schema braid derives
 *   pq_tool pages IN                 column chunks holding both dictionary and PLAIN data pages */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "parquet/parquet.h"
#include "parquet/pq_internal.h"

static const char *gen_schema =
	"{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
	"{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"b\",\"required\":false,\"type\":\"boolean\"},"
	"{\"id\":3,\"name\":\"i32\",\"required\":false,\"type\":\"int\"},"
	"{\"id\":4,\"name\":\"i64\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":5,\"name\":\"f32\",\"required\":true,\"type\":\"float\"},"
	"{\"id\":6,\"name\":\"f64\",\"required\":false,\"type\":\"double\"},"
	"{\"id\":7,\"name\":\"d9\",\"required\":true,\"type\":\"decimal(9,2)\"},"
	"{\"id\":8,\"name\":\"d18\",\"required\":true,\"type\":\"decimal(18,3)\"},"
	"{\"id\":9,\"name\":\"d38\",\"required\":true,\"type\":\"decimal(38,4)\"},"
	"{\"id\":10,\"name\":\"dt\",\"required\":true,\"type\":\"date\"},"
	"{\"id\":11,\"name\":\"tm\",\"required\":true,\"type\":\"time\"},"
	"{\"id\":12,\"name\":\"ts\",\"required\":true,\"type\":\"timestamp\"},"
	"{\"id\":13,\"name\":\"tstz\",\"required\":true,\"type\":\"timestamptz\"},"
	"{\"id\":14,\"name\":\"s\",\"required\":false,\"type\":\"string\"},"
	"{\"id\":15,\"name\":\"u\",\"required\":true,\"type\":\"uuid\"},"
	"{\"id\":16,\"name\":\"fx\",\"required\":true,\"type\":\"fixed[4]\"},"
	"{\"id\":17,\"name\":\"bl\",\"required\":true,\"type\":\"binary\"},"
	"{\"id\":18,\"name\":\"li\",\"required\":false,\"type\":{\"type\":\"list\",\"element-id\":19,"
	"\"element\":\"int\",\"element-required\":false}},"
	"{\"id\":20,\"name\":\"st\",\"required\":false,\"type\":{\"type\":\"struct\",\"fields\":["
	"{\"id\":21,\"name\":\"a\",\"required\":true,\"type\":\"int\"},"
	"{\"id\":22,\"name\":\"b\",\"required\":false,\"type\":\"string\"}]}},"
	"{\"id\":23,\"name\":\"mp\",\"required\":false,\"type\":{\"type\":\"map\",\"key-id\":24,\"key\":\"string\","
	"\"value-id\":25,\"value\":\"double\",\"value-required\":false}},"
	"{\"id\":26,\"name\":\"ls\",\"required\":true,\"type\":{\"type\":\"list\",\"element-id\":27,"
	"\"element-required\":true,\"element\":{\"type\":\"struct\",\"fields\":["
	"{\"id\":28,\"name\":\"x\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":29,\"name\":\"y\",\"required\":false,\"type\":{\"type\":\"list\",\"element-id\":30,"
	"\"element\":\"int\",\"element-required\":true}}]}}}"
	"]}";

static int die(const char *what, const br_err *err)
{
	(void)what; /* braid's messages already name the file */
	fprintf(stderr, "pq_tool: %s\n", err->msg);
	return 1;
}

static void put_str(br_col *c, const char *s) { br_col_append_bytes(c, s, strlen(s)); }

static void gen_row(br_batch *b, int64_t i)
{
	char t[64];
	br_col *c = b->cols;
	br_col_append_i64(&c[0], i);
	if (i % 7 == 0) br_col_append_null(&c[1]); else br_col_append_bool(&c[1], i % 2 == 0);
	if (i % 5 == 0) br_col_append_null(&c[2]); else br_col_append_i32(&c[2], (int32_t)(i * 37 - 5000));
	br_col_append_i64(&c[3], i * 1000000007LL * (i % 2 ? -1 : 1));
	br_col_append_f32(&c[4], (float)i / 4.0f);
	if (i % 11 == 0) br_col_append_null(&c[5]); else br_col_append_f64(&c[5], (double)i * 0.125);
	br_col_append_dec(&c[6], i * 314 - 100000);
	br_col_append_dec(&c[7], (__int128)i * 123456789123LL);
	br_col_append_dec(&c[8], (__int128)i * ((__int128)100000000000LL * 1000000000LL) + i);
	br_col_append_i32(&c[9], (int32_t)(19723 + i));
	br_col_append_i64(&c[10], (i * 7000003LL) % 86400000000LL);
	br_col_append_i64(&c[11], 1704067200000000LL + i * 1001000LL);
	br_col_append_i64(&c[12], 1704067200000000LL + i * 1001000LL + 3600000000LL);
	snprintf(t, sizeof t, "str_%d", (int)(i % 50));
	if (i % 3 == 0) br_col_append_null(&c[13]); else put_str(&c[13], t);
	uint8_t u[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
	for (int k = 0; k < 8; k++)
		u[8 + k] = (uint8_t)((uint64_t)i >> (56 - 8 * k));
	br_col_append_bytes(&c[14], u, 16);
	uint8_t fx[4] = { (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
	br_col_append_bytes(&c[15], fx, 4);
	snprintf(t, sizeof t, "bin%lld", (long long)i);
	put_str(&c[16], t);
	if (i % 4 == 0) {
		br_col_append_null(&c[17]);
	} else {
		br_col *e = &c[17].children[0];
		int32_t vals[2] = { (int32_t)i, (int32_t)i + 1 };
		for (int k = 0; k < i % 4; k++) {
			if (k < 2) br_col_append_i32(e, vals[k]); else br_col_append_null(e);
		}
		br_col_close_list(&c[17]);
	}
	if (i % 9 == 0) {
		br_col_append_null(&c[18]);
	} else {
		br_col_append_i32(&c[18].children[0], (int32_t)i);
		snprintf(t, sizeof t, "s%lld", (long long)i);
		put_str(&c[18].children[1], t);
		br_col_append_struct(&c[18]);
	}
	if (i % 6 == 0) {
		br_col_append_null(&c[19]);
	} else {
		snprintf(t, sizeof t, "k%d", (int)(i % 3));
		put_str(&c[19].children[0], t);
		br_col_append_f64(&c[19].children[1], (double)i);
		put_str(&c[19].children[0], "z");
		br_col_append_null(&c[19].children[1]);
		br_col_close_list(&c[19]);
	}
	if (i % 5 != 1) {
		br_col *st = &c[20].children[0];
		br_col_append_i64(&st->children[0], i);
		br_col_append_i32(&st->children[1].children[0], (int32_t)i);
		br_col_append_i32(&st->children[1].children[0], (int32_t)i);
		br_col_close_list(&st->children[1]);
		br_col_append_struct(st);
	}
	br_col_close_list(&c[20]);
	br_batch_row_done(b, 1);
}

static int cmd_gen(const char *out, const char *codec, int64_t rows, int64_t dict_bytes)
{
	br_err err = { 0 };
	br_schema *s;
	if (br_schema_parse(gen_schema, strlen(gen_schema), &s, &err))
		return die("schema", &err);
	br_pq_options o;
	br_pq_options_default(&o);
	o.codec = br_pq_codec_parse(codec);
	o.fsync = false;
	o.page_bytes = 64 << 10; /* several pages per chunk */
	o.row_group_bytes = 256 << 10; /* several row groups */
	if (dict_bytes > 0) {
		/* small pages and dictionary: chunks switch from dictionary to PLAIN pages */
		o.dict_bytes = dict_bytes;
		o.page_bytes = 1024;
		o.row_group_bytes = 8 << 20;
	}
	br_pq_writer *w;
	if (br_pq_writer_open(out, s, &o, &w, &err))
		return die(out, &err);
	br_batch b;
	br_batch_init(&b, s->root, false);
	for (int64_t i = 0; i < rows; i++) {
		gen_row(&b, i);
		if (b.nrows == 4096 || i + 1 == rows) {
			if (br_pq_writer_write(w, &b, &err))
				return die(out, &err);
			br_batch_reset(&b);
		}
	}
	br_pq_metrics m;
	if (br_pq_writer_close(w, &m, &err))
		return die(out, &err);
	printf("{\"rows\":%lld,\"row_groups\":%d,\"bytes\":%lld}\n", (long long)m.nrows, m.nrow_groups,
	       (long long)m.file_bytes);
	br_pq_metrics_free(&m);
	br_batch_free(&b);
	br_schema_free(s);
	return 0;
}

static int cmd_copy(const char *in, const char *out, const char *codec)
{
	br_err err = { 0 };
	br_pq_reader *r;
	if (br_pq_reader_open(in, &r, &err))
		return die(in, &err);
	br_pq_reader_set_batch_rows(r, 1000);
	const br_schema *s = br_pq_reader_schema(r);
	br_pq_options o;
	br_pq_options_default(&o);
	o.codec = br_pq_codec_parse(codec);
	o.fsync = false;
	br_pq_writer *w;
	if (br_pq_writer_open(out, s, &o, &w, &err))
		return die(out, &err);
	br_batch b = { 0 };
	int rc;
	int64_t rows = 0;
	while ((rc = br_pq_reader_next(r, &b, &err)) > 0) {
		rows += b.nrows;
		/* the batch type is the reader's projection; same fields as the schema */
		br_batch view = b;
		view.type = s->root;
		if (br_pq_writer_write(w, &view, &err))
			return die(out, &err);
	}
	if (rc < 0)
		return die(in, &err);
	br_batch_free(&b);
	if (br_pq_writer_close(w, NULL, &err))
		return die(out, &err);
	br_pq_reader_close(r);
	printf("{\"rows\":%lld}\n", (long long)rows);
	return 0;
}

static int cmd_count(const char *in, int field, const char *op, long long v)
{
	br_err err = { 0 };
	br_pq_reader *r;
	if (br_pq_reader_open(in, &r, &err))
		return die(in, &err);
	br_pq_op o = !strcmp(op, "=") ? BR_PQ_EQ : !strcmp(op, "<") ? BR_PQ_LT : !strcmp(op, "<=") ? BR_PQ_LE
		   : !strcmp(op, ">") ? BR_PQ_GT : BR_PQ_GE;
	br_value val = br_value_i64(BR_T_LONG, v);
	if (br_pq_reader_filter(r, field, o, &val, &err))
		return die(in, &err);
	int ids[1] = { field };
	if (br_pq_reader_project(r, ids, 1, &err))
		return die(in, &err);
	br_batch b = { 0 };
	int rc;
	int64_t rows = 0, match = 0;
	while ((rc = br_pq_reader_next(r, &b, &err)) > 0) {
		rows += b.nrows;
		for (int64_t i = 0; i < b.nrows; i++) {
			if (!br_col_valid(&b.cols[0], i))
				continue;
			int64_t x = br_col_i64(&b.cols[0], i);
			match += o == BR_PQ_EQ ? x == v : o == BR_PQ_LT ? x < v : o == BR_PQ_LE ? x <= v : o == BR_PQ_GT ? x > v : x >= v;
		}
	}
	if (rc < 0)
		return die(in, &err);
	printf("{\"rows_read\":%lld,\"matches\":%lld,\"row_groups\":%d,\"skipped\":%d}\n", (long long)rows,
	       (long long)match, br_pq_reader_num_row_groups(r), br_pq_reader_skipped_row_groups(r));
	br_batch_free(&b);
	br_pq_reader_close(r);
	return 0;
}

static int cmd_schema(const char *in)
{
	br_err err = { 0 };
	br_pq_reader *r;
	if (br_pq_reader_open(in, &r, &err))
		return die(in, &err);
	char *t = br_schema_print(br_pq_reader_schema(r));
	printf("%s\n", t);
	free(t);
	br_pq_reader_close(r);
	return 0;
}

/* Walks every page header of every chunk (a test may use the internal header). */
static int cmd_pages(const char *in)
{
	char *img;
	size_t n;
	br_err err = { 0 };
	if (br_read_file(in, &img, &n, &err))
		return die(in, &err);
	uint32_t flen;
	memcpy(&flen, img + n - 8, 4);
	br_arena a;
	br_arena_init(&a, 4096);
	pq_file_meta m;
	if (br_pq_decode_file_meta((uint8_t *)img + n - 8 - flen, flen, &a, &m, &err))
		return die(in, &err);
	int mixed = 0, chunks = 0;
	for (int g = 0; g < m.nrow_groups; g++)
		for (int c = 0; c < m.row_groups[g].ncols; c++, chunks++) {
			pq_column *col = &m.row_groups[g].cols[c];
			int64_t pos = col->dictionary_page_offset >= 0 ? col->dictionary_page_offset : col->data_page_offset;
			int64_t end = pos + col->total_compressed;
			int dict = 0, plain = 0;
			while (pos < end) {
				pq_page_header h;
				size_t used;
				if (br_pq_decode_page_header((uint8_t *)img + pos, (size_t)(end - pos), &h, &used, &err))
					return die(in, &err);
				if (h.type == PQ_PAGE_DATA)
					*(h.encoding == PQ_ENC_RLE_DICTIONARY ? &dict : &plain) += 1;
				pos += (int64_t)used + h.compressed_size;
			}
			mixed += dict && plain;
		}
	printf("{\"chunks\":%d,\"mixed_chunks\":%d}\n", chunks, mixed);
	br_arena_free(&a);
	free(img);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "pages"))
		return cmd_pages(argv[2]);
	if (argc >= 5 && !strcmp(argv[1], "gen"))
		return cmd_gen(argv[2], argv[3], atoll(argv[4]), argc >= 6 ? atoll(argv[5]) : 0);
	if (argc >= 5 && !strcmp(argv[1], "copy"))
		return cmd_copy(argv[2], argv[3], argv[4]);
	if (argc >= 6 && !strcmp(argv[1], "count"))
		return cmd_count(argv[2], atoi(argv[3]), argv[4], atoll(argv[5]));
	if (argc >= 3 && !strcmp(argv[1], "schema"))
		return cmd_schema(argv[2]);
	fprintf(stderr, "usage: pq_tool gen OUT CODEC ROWS | copy IN OUT CODEC | count IN FIELD OP V | schema IN\n");
	return 2;
}
