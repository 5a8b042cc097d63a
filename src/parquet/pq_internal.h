/* pq_internal.h — what the Parquet writer and reader share inside src/parquet:
 * the Thrift compact protocol codec, the footer and page-header structs of
 * parquet.thrift (only the fields braid reads or writes), the level and value
 * encodings, and the page codecs. Not for use outside src/parquet. */
#ifndef BR_PQ_INTERNAL_H
#define BR_PQ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/util.h"

/* ------------------------------------------------ Thrift compact protocol
 * (thrift.c explains the wire format) */

enum {
	BR_TC_STOP = 0, BR_TC_TRUE = 1, BR_TC_FALSE = 2, BR_TC_BYTE = 3, BR_TC_I16 = 4,
	BR_TC_I32 = 5, BR_TC_I64 = 6, BR_TC_DOUBLE = 7, BR_TC_BINARY = 8, BR_TC_LIST = 9,
	BR_TC_SET = 10, BR_TC_MAP = 11, BR_TC_STRUCT = 12,
};

#define BR_TC_MAX_DEPTH 32

typedef struct br_tw {
	br_buf *out;
	int depth;
	int16_t last[BR_TC_MAX_DEPTH]; /* last field id per open struct */
} br_tw;

void br_tw_init(br_tw *w, br_buf *out);
void br_tw_field(br_tw *w, int type, int16_t id);
void br_tw_i32(br_tw *w, int16_t id, int32_t v);
void br_tw_i64(br_tw *w, int16_t id, int64_t v);
void br_tw_bool(br_tw *w, int16_t id, bool v);
void br_tw_bin(br_tw *w, int16_t id, const void *p, size_t n);
void br_tw_str(br_tw *w, int16_t id, const char *s);
void br_tw_struct_begin(br_tw *w, int16_t id); /* a struct-typed field */
void br_tw_struct_end(br_tw *w);              /* writes STOP */
void br_tw_list(br_tw *w, int16_t id, int elem_type, size_t n);
/* list elements */
void br_tw_elem_i32(br_tw *w, int32_t v);
void br_tw_elem_bin(br_tw *w, const void *p, size_t n);
void br_tw_elem_struct_begin(br_tw *w);
/* The top-level struct: its fields are written at depth 0; end with br_tw_stop. */
void br_tw_stop(br_tw *w);

typedef struct br_tr {
	br_cur c;
	int depth;
	size_t budget;   /* bytes the decoded structures may still take (meta.c) */
} br_tr;

/* Next field of the current struct: returns 1 and sets type and id, 0 at STOP,
 * and sets c.bad on malformed input. *last holds the previous field id. */
int br_tr_field(br_tr *r, int16_t *last, int *type, int16_t *id);
int32_t br_tr_i32(br_tr *r);
int64_t br_tr_i64(br_tr *r);
const uint8_t *br_tr_bin(br_tr *r, size_t *n);
/* List header; n is bounded by the bytes left (every element takes >= 1 byte). */
void br_tr_list(br_tr *r, int *elem_type, uint32_t *n);
/* Skips one value of the given type (nesting bounded by BR_TC_MAX_DEPTH). */
void br_tr_skip(br_tr *r, int type);

/* --------------------------------------------------- parquet.thrift subset */

enum { PQ_BOOLEAN = 0, PQ_INT32 = 1, PQ_INT64 = 2, PQ_INT96 = 3, PQ_FLOAT = 4, PQ_DOUBLE = 5,
       PQ_BYTE_ARRAY = 6, PQ_FIXED = 7 };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };
enum { PQ_CT_NONE = -1, PQ_CT_UTF8 = 0, PQ_CT_MAP = 1, PQ_CT_MAP_KEY_VALUE = 2, PQ_CT_LIST = 3,
       PQ_CT_ENUM = 4, PQ_CT_DECIMAL = 5, PQ_CT_DATE = 6, PQ_CT_TIME_MILLIS = 7, PQ_CT_TIME_MICROS = 8,
       PQ_CT_TIMESTAMP_MILLIS = 9, PQ_CT_TIMESTAMP_MICROS = 10, PQ_CT_UINT_8 = 11, PQ_CT_UINT_16 = 12,
       PQ_CT_UINT_32 = 13, PQ_CT_UINT_64 = 14, PQ_CT_INT_8 = 15, PQ_CT_INT_16 = 16, PQ_CT_INT_32 = 17,
       PQ_CT_INT_64 = 18, PQ_CT_JSON = 19, PQ_CT_BSON = 20, PQ_CT_INTERVAL = 21 };
/* LogicalType union member ids */
enum { PQ_LT_NONE = 0, PQ_LT_STRING = 1, PQ_LT_MAP = 2, PQ_LT_LIST = 3, PQ_LT_ENUM = 4, PQ_LT_DECIMAL = 5,
       PQ_LT_DATE = 6, PQ_LT_TIME = 7, PQ_LT_TIMESTAMP = 8, PQ_LT_INTEGER = 10, PQ_LT_UNKNOWN = 11,
       PQ_LT_JSON = 12, PQ_LT_BSON = 13, PQ_LT_UUID = 14, PQ_LT_FLOAT16 = 15 };
enum { PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };
enum { PQ_ENC_PLAIN = 0, PQ_ENC_PLAIN_DICTIONARY = 2, PQ_ENC_RLE = 3, PQ_ENC_BIT_PACKED = 4,
       PQ_ENC_DELTA_BINARY_PACKED = 5, PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6, PQ_ENC_DELTA_BYTE_ARRAY = 7,
       PQ_ENC_RLE_DICTIONARY = 8, PQ_ENC_BYTE_STREAM_SPLIT = 9 };
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICTIONARY = 2, PQ_PAGE_DATA_V2 = 3 };

typedef struct pq_logical {
	int kind;          /* PQ_LT_* */
	int scale, precision;
	bool utc;          /* time, timestamp */
	int unit;          /* PQ_UNIT_* */
	int bit_width;     /* integer */
	bool is_signed;
} pq_logical;

typedef struct pq_schema_el {
	int type;          /* PQ_* physical, -1 for groups */
	int type_length;
	int repetition;    /* -1 absent (root) */
	const char *name;
	int num_children;  /* 0 for leaves */
	int converted;     /* PQ_CT_*, -1 absent */
	int scale, precision;
	int field_id;      /* -1 absent */
	pq_logical logical;
} pq_schema_el;

typedef struct pq_stats {
	const uint8_t *min, *max; /* min_value/max_value (or legacy min/max when trusted) */
	size_t min_len, max_len;
	bool has_min, has_max;
	bool legacy;        /* from the deprecated min/max fields */
	bool has_null_count;
	int64_t null_count;
} pq_stats;

typedef struct pq_column {
	int type;
	int nenc;
	int *encodings;
	int npath;
	const char **path;
	int codec;
	int64_t num_values;
	int64_t total_uncompressed, total_compressed;
	int64_t data_page_offset;
	int64_t dictionary_page_offset; /* -1 absent */
	pq_stats stats;
} pq_column;

typedef struct pq_row_group {
	int ncols;
	pq_column *cols;
	int64_t total_byte_size;
	int64_t num_rows;
} pq_row_group;

typedef struct pq_kv {
	const char *key, *value;
} pq_kv;

typedef struct pq_file_meta {
	int32_t version;
	int nschema;
	pq_schema_el *schema;
	int64_t num_rows;
	int nrow_groups;
	pq_row_group *row_groups;
	int nkv;
	pq_kv *kv;
	const char *created_by;
	int ncolumn_orders;    /* written: one TypeDefinedOrder per leaf */
} pq_file_meta;

typedef struct pq_page_header {
	int type;
	int32_t uncompressed_size, compressed_size;
	/* data page v1 / v2 / dictionary */
	int32_t num_values;
	int encoding;
	int def_encoding, rep_encoding;  /* v1 */
	int32_t num_nulls, num_rows;     /* v2 */
	int32_t def_len, rep_len;        /* v2 */
	bool is_compressed;              /* v2, default true */
	bool has_data, has_dict, has_v2;
} pq_page_header;

void br_pq_encode_file_meta(const pq_file_meta *m, br_buf *out);
/* Decodes into structures allocated from a (strings borrow from p, so p must
 * outlive the result). Every count is checked against the bytes left. */
int br_pq_decode_file_meta(const uint8_t *p, size_t n, br_arena *a, pq_file_meta *m, br_err *err);
void br_pq_encode_page_header(const pq_page_header *h, br_buf *out);
/* *used = header bytes consumed. */
int br_pq_decode_page_header(const uint8_t *p, size_t n, pq_page_header *h, size_t *used, br_err *err);

/* ------------------------------------------------------------ encodings */

/* Bits needed for values 0..max. */
static inline int pq_bit_width(uint64_t max)
{
	int w = 0;
	while (max) {
		w++;
		max >>= 1;
	}
	return w;
}

/* RLE / bit-packed hybrid (levels, dictionary indices, booleans). */
void br_pq_rle_encode(const uint32_t *v, size_t n, int bit_width, br_buf *out);
/* Decodes exactly n values; BR_ECORRUPT (with err) if the input ends first or
 * a value exceeds bit_width. */
int br_pq_rle_decode(const uint8_t *p, size_t len, int bit_width, uint32_t *out, size_t n, br_err *err);
/* True when the first n values are RLE runs (not bit-packed) of value: the
 * definition levels of a page without nulls, recognised from the run headers
 * alone so they need not be expanded. False on anything else, malformed
 * input included (the caller then decodes, and reports, as usual). */
bool br_pq_rle_all_equal(const uint8_t *p, size_t len, int bit_width, uint32_t value, size_t n);
/* Little-endian bit packing of 8-value groups. */
void br_pq_bitpack(const uint32_t *v, size_t n, int bit_width, br_buf *out);

/* DELTA_BINARY_PACKED: decodes up to max values; *n_out values, *used bytes. */
int br_pq_delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t max, size_t *n_out, size_t *used,
		    br_err *err);
void br_pq_delta_encode(const int64_t *v, size_t n, br_buf *out);

/* Appends n bytes the caller will overwrite at once (no zero fill, unlike
 * br_buf_grow: page-sized buffers are filled by a decoder or a read). */
static inline uint8_t *br_pq_take(br_buf *b, size_t n)
{
	br_buf_reserve(b, n);
	uint8_t *p = b->p + b->len;
	b->len += n;
	return p;
}

/* Rows per morsel of a shared (parallel) scan: tests split small files. */
typedef struct br_pq_reader br_pq_reader;
void br_pq_reader_set_morsel_rows(br_pq_reader *r, int64_t rows);

/* ---------------------------------------------------------------- codecs */

enum { PQ_CODEC_UNCOMPRESSED = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_GZIP = 2, PQ_CODEC_LZO = 3,
       PQ_CODEC_BROTLI = 4, PQ_CODEC_LZ4 = 5, PQ_CODEC_ZSTD = 6, PQ_CODEC_LZ4_RAW = 7 };

int br_pq_compress(int codec, int level, const void *in, size_t n, br_buf *out, br_err *err);
/* Decoder state kept across pages (a reader has one; not shared between
 * threads). Zero-initialised; br_pq_dctx_free releases it. */
typedef struct br_pq_dctx {
	void *zstd;   /* ZSTD_DCtx, created at the first zstd page */
} br_pq_dctx;
void br_pq_dctx_free(br_pq_dctx *c);
/* Output must be exactly out_len bytes (from the page header). ctx may be
 * NULL (a context per call). */
int br_pq_decompress(int codec, br_pq_dctx *ctx, const void *in, size_t n, size_t out_len, br_buf *out,
		     br_err *err);

#endif
