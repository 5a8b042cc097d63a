/* avro.h — Apache Avro object container files: schema parsing (JSON), a writer
 * and a reader of the binary encoding, with the null, deflate and snappy codecs.
 * Iceberg stores its manifests and manifest lists in this format. */
#ifndef BR_AVRO_H
#define BR_AVRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

typedef enum br_avro_kind {
	BR_AVRO_NULL,
	BR_AVRO_BOOLEAN,
	BR_AVRO_INT,
	BR_AVRO_LONG,
	BR_AVRO_FLOAT,
	BR_AVRO_DOUBLE,
	BR_AVRO_BYTES,
	BR_AVRO_STRING,
	BR_AVRO_RECORD,
	BR_AVRO_ENUM,
	BR_AVRO_ARRAY,
	BR_AVRO_MAP,
	BR_AVRO_UNION,
	BR_AVRO_FIXED,
} br_avro_kind;

typedef struct br_avro_schema br_avro_schema;

typedef struct br_avro_field {
	const char *name;
	int field_id;                 /* Iceberg "field-id" attribute, -1 if absent */
	br_avro_schema *type;
} br_avro_field;

/* A parsed schema. All memory (names, children) lives in the arena given to
 * br_avro_schema_parse; named types referenced twice share one node, so a
 * schema may be a graph (even a cycle, for recursive records). */
struct br_avro_schema {
	br_avro_kind kind;
	const char *name;             /* full name of record, enum, fixed */
	const char *logical;          /* "logicalType" attribute or NULL */
	size_t n;                     /* record: fields; enum: symbols; union: branches */
	br_avro_field *fields;        /* record */
	const char **symbols;         /* enum */
	br_avro_schema **branches;    /* union */
	br_avro_schema *items;        /* array items, map values */
	size_t size;                  /* fixed */
};

int br_avro_schema_parse(br_arena *a, const char *json, size_t len, br_avro_schema **out, br_err *err);
/* Index of a record field by name, or -1. */
int br_avro_field_index(const br_avro_schema *rec, const char *name);

/* A value. Scalars are plain structs; records, arrays and maps point to arrays
 * of children (usually arena memory). A value written to a union branch carries
 * that branch's own kind; `branch` names the branch index (-1: the writer picks
 * the first branch of the value's kind). A NULL-kind value is null. */
typedef struct br_avro_val br_avro_val;
struct br_avro_val {
	br_avro_kind kind;
	int32_t branch;
	int64_t i;                    /* boolean, int, long, enum symbol index */
	double d;                     /* float, double */
	const uint8_t *p;             /* bytes, string, fixed (not NUL-terminated) */
	size_t len;
	size_t n;                     /* record fields, array items, map entries */
	br_avro_val *items;           /* record fields (schema order), array items, map values */
	br_avro_val *keys;            /* map keys (strings) */
};

static inline br_avro_val br_avro_null(void) { return (br_avro_val){ .kind = BR_AVRO_NULL, .branch = -1 }; }
static inline br_avro_val br_avro_bool(bool b) { return (br_avro_val){ .kind = BR_AVRO_BOOLEAN, .branch = -1, .i = b }; }
static inline br_avro_val br_avro_int(int32_t v) { return (br_avro_val){ .kind = BR_AVRO_INT, .branch = -1, .i = v }; }
static inline br_avro_val br_avro_long(int64_t v) { return (br_avro_val){ .kind = BR_AVRO_LONG, .branch = -1, .i = v }; }
static inline br_avro_val br_avro_double(double v) { return (br_avro_val){ .kind = BR_AVRO_DOUBLE, .branch = -1, .d = v }; }
static inline br_avro_val br_avro_float(float v) { return (br_avro_val){ .kind = BR_AVRO_FLOAT, .branch = -1, .d = v }; }
/* Borrows p: it must outlive every use of the value. */
static inline br_avro_val br_avro_bytes(const void *p, size_t n)
{
	return (br_avro_val){ .kind = BR_AVRO_BYTES, .branch = -1, .p = (const uint8_t *)p, .len = n };
}
static inline br_avro_val br_avro_str(const char *s)
{
	return (br_avro_val){ .kind = BR_AVRO_STRING, .branch = -1, .p = (const uint8_t *)s, .len = strlen(s) };
}
/* Containers whose n children are zeroed arena memory (fill items[0..n-1]). */
br_avro_val br_avro_record(br_arena *a, size_t n);
br_avro_val br_avro_array(br_arena *a, size_t n);
br_avro_val br_avro_map(br_arena *a, size_t n);

/* Field of a decoded record by name (schema is the record's schema); NULL if the
 * record has no such field or the value there is null. */
const br_avro_val *br_avro_get(const br_avro_schema *rec, const br_avro_val *v, const char *name);
/* Copies a string/bytes value into arena memory as a NUL-terminated string. */
char *br_avro_strdup(br_arena *a, const br_avro_val *v);

/* Binary encoding of one value by schema (appended to out). */
int br_avro_encode(br_buf *out, const br_avro_schema *s, const br_avro_val *v, br_err *err);
/* Decodes one value; strings point into arena copies. Sets err on malformed bytes. */
int br_avro_decode(br_cur *c, br_arena *a, const br_avro_schema *s, br_avro_val *out, br_err *err);

enum { BR_AVRO_CODEC_NULL, BR_AVRO_CODEC_DEFLATE, BR_AVRO_CODEC_SNAPPY };

/* ------------------------------------------------------------------ writer
 * Builds a whole container file in memory (Iceberg's manifests are small). */
typedef struct br_avro_writer {
	br_arena arena;               /* the parsed schema */
	br_avro_schema *schema;
	int codec;
	uint8_t sync[16];
	br_buf out;                   /* the file so far */
	br_buf block;                 /* encoded records of the open block */
	size_t block_count;
	size_t block_target;          /* bytes before a block is flushed */
	int64_t records;
} br_avro_writer;

/* meta: nmeta key/value string pairs stored in the header besides avro.schema
 * and avro.codec (Iceberg puts the table schema and partition spec there). */
int br_avro_writer_init(br_avro_writer *w, const char *schema_json, int codec, const char *const *meta_keys,
			const char *const *meta_vals, size_t nmeta, br_err *err);
int br_avro_writer_add(br_avro_writer *w, const br_avro_val *v, br_err *err);
/* Flushes the last block; the file is w->out.p[0..w->out.len). */
int br_avro_writer_finish(br_avro_writer *w, br_err *err);
void br_avro_writer_free(br_avro_writer *w);

/* ------------------------------------------------------------------ reader
 * Reads a container file held in memory; borrows the bytes. Every error message
 * starts with `name` (the file name given to open). */
typedef struct br_avro_reader {
	br_arena arena;               /* schema, metadata, decompressed blocks */
	const char *name;
	br_avro_schema *schema;
	int codec;
	size_t nmeta;
	char **meta_keys;
	uint8_t **meta_vals;
	size_t *meta_lens;
	uint8_t sync[16];
	br_cur file;                  /* position of the next block */
	br_cur block;                 /* decoded bytes of the current block */
	int64_t block_left;           /* records left in the current block */
	size_t block_off;             /* file offset of the current block (for errors) */
	int64_t record_no;
} br_avro_reader;

/* Call br_avro_reader_free afterwards even when open fails. */
int br_avro_reader_open(br_avro_reader *r, const uint8_t *p, size_t len, const char *name, br_err *err);
/* Header metadata value by key (NUL-terminated copy), or NULL. */
const char *br_avro_reader_meta(const br_avro_reader *r, const char *key);
/* Decodes the next record into *out (memory from a, or the reader's arena if a
 * is NULL). Returns 1 with a record, 0 at the end of the file, <0 on error. */
int br_avro_reader_next(br_avro_reader *r, br_arena *a, br_avro_val *out, br_err *err);
void br_avro_reader_free(br_avro_reader *r);

#endif
