/* types.h — braid's one vocabulary for data: br_type / br_schema (Iceberg's type
 * system with field ids, and its JSON form), br_batch (columnar rows in the
 * Arrow memory layout, plus an optional int64 Z-set weight), and br_value. */
#ifndef BR_TYPES_H
#define BR_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/map.h"

/* ---------------------------------------------------------------- types
 *
 * A br_type is a tree. Primitive types are leaves. Nested types hold their
 * children as br_fields (so every child carries an Iceberg field id):
 *   struct: nchildren fields, in order;
 *   list:   children[0] is the element (name "element");
 *   map:    children[0] is the key (name "key", always required),
 *           children[1] is the value (name "value").
 * Ownership: a br_type owns its children (fields, their names, docs and types);
 * br_type_free frees the whole tree. Constructors never fail (allocation
 * failure ends the process, see br_xmalloc). */

typedef enum br_type_id {
	BR_T_BOOLEAN,
	BR_T_INT,         /* int32 */
	BR_T_LONG,        /* int64 */
	BR_T_FLOAT,
	BR_T_DOUBLE,
	BR_T_DECIMAL,     /* decimal(precision <= 38, scale) */
	BR_T_DATE,        /* int32 days since 1970-01-01 */
	BR_T_TIME,        /* int64 microseconds since midnight */
	BR_T_TIMESTAMP,   /* int64 microseconds since epoch, no zone */
	BR_T_TIMESTAMPTZ, /* int64 microseconds since epoch, UTC */
	BR_T_STRING,      /* UTF-8 */
	BR_T_UUID,        /* 16 bytes, big-endian as printed */
	BR_T_FIXED,       /* fixed[length] bytes */
	BR_T_BINARY,
	BR_T_STRUCT,
	BR_T_LIST,
	BR_T_MAP,
	BR_T__COUNT
} br_type_id;

typedef struct br_type br_type;

typedef struct br_field {
	int id;             /* Iceberg field id, > 0 */
	char *name;         /* owned */
	bool required;
	br_type *type;      /* owned */
	char *doc;          /* owned, may be NULL */
	/* Iceberg v3 defaults, kept as compact JSON text so they round-trip; owned,
	 * may be NULL. */
	char *initial_default;
	char *write_default;
} br_field;

struct br_type {
	br_type_id id;
	int precision, scale; /* decimal */
	int length;           /* fixed */
	int nchildren;        /* struct: fields; list: 1; map: 2 */
	br_field *children;   /* owned array */
};

static inline bool br_type_is_nested(const br_type *t) { return t->id >= BR_T_STRUCT; }

br_type *br_type_new(br_type_id id);                 /* a primitive (not decimal/fixed) */
br_type *br_type_decimal(int precision, int scale);
br_type *br_type_fixed(int length);
br_type *br_type_struct(void);                       /* empty; add fields below */
/* Appends a field to a struct, taking ownership of t; returns the new field
 * (valid until the next add). doc may be NULL. */
br_field *br_type_struct_add(br_type *st, int id, const char *name, bool required, br_type *t,
			     const char *doc);
br_type *br_type_list(int element_id, bool element_required, br_type *element);
br_type *br_type_map(int key_id, br_type *key, int value_id, bool value_required, br_type *value);
void br_type_free(br_type *t);
br_type *br_type_clone(const br_type *t);
/* Structural equality including field ids, names, requiredness. */
bool br_type_equal(const br_type *a, const br_type *b);
/* The Iceberg name of a primitive ("int", "decimal(9,2)", "fixed[16]"); for
 * nested types "struct", "list", "map". Writes into buf (>= 32 bytes). */
const char *br_type_name(const br_type *t, char *buf, size_t cap);
/* Bytes per value in a br_col values buffer for fixed-width types (boolean: 0,
 * meaning bit-packed; string/binary/nested: 0). */
int br_type_width(const br_type *t);

/* Iceberg JSON (spec Appendix C). from_json does not keep a reference to j. */
int br_type_from_json(const json_t *j, br_type **out, br_err *err);
json_t *br_type_to_json(const br_type *t); /* new reference */

/* --------------------------------------------------------------- schema
 *
 * A schema is a schema id plus a struct type. It indexes every field (at any
 * depth) by id and by its dotted full name ("a.b", list elements as
 * "a.element", map parts as "m.key" / "m.value"). Fields returned by lookups
 * are owned by the schema. */

typedef struct br_schema {
	int schema_id;
	br_type *root;                 /* owned; always a struct */
	int nidentifier;
	int *identifier_field_ids;     /* owned, may be NULL */
	/* indexes (built by br_schema_new) */
	int max_id;                    /* highest field id in the tree, 0 if none */
	br_map by_name;                /* full name -> br_field* */
	br_map by_id;                  /* decimal id text -> br_field* */
	br_map parent_of;              /* decimal id text -> parent br_field* (absent at top) */
} br_schema;

/* Takes ownership of root (must be a struct). Fails with BR_EINVAL on duplicate
 * field ids or non-positive ids (root is freed in that case too). */
int br_schema_new(int schema_id, br_type *root, br_schema **out, br_err *err);
void br_schema_free(br_schema *s);
br_schema *br_schema_clone(const br_schema *s);
const br_field *br_schema_find_id(const br_schema *s, int id);
const br_field *br_schema_find_name(const br_schema *s, const char *full_name);
/* Parent field of a field id (NULL for top-level or unknown ids). */
const br_field *br_schema_parent(const br_schema *s, int id);
/* Sets identifier field ids (copied). */
void br_schema_set_identifiers(br_schema *s, const int *ids, int n);

/* Iceberg schema JSON: {"type":"struct","schema-id":N,"identifier-field-ids":[..],"fields":[..]} */
int br_schema_from_json(const json_t *j, br_schema **out, br_err *err);
int br_schema_parse(const char *text, size_t len, br_schema **out, br_err *err);
json_t *br_schema_to_json(const br_schema *s); /* new reference */
char *br_schema_print(const br_schema *s);     /* compact JSON text, caller frees */

/* ---------------------------------------------------------------- values
 *
 * One scalar of a primitive type, for statistics, bounds, predicates and
 * partition values. Bytes (string/binary/fixed/uuid) are borrowed from whatever
 * produced the value. Decimals are the unscaled integer as int128. */

typedef struct br_value {
	br_type_id type;
	bool is_null;
	union {
		bool b;
		int32_t i32;   /* int, date */
		int64_t i64;   /* long, time, timestamp, timestamptz */
		float f32;
		double f64;
		__int128 dec;  /* decimal: unscaled */
		struct {
			const uint8_t *p;
			size_t len;
		} bytes;       /* string, binary, fixed, uuid */
	} v;
} br_value;

static inline br_value br_value_null(br_type_id t) { br_value v = { 0 }; v.type = t; v.is_null = true; return v; }
static inline br_value br_value_i32(br_type_id t, int32_t x) { br_value v = { 0 }; v.type = t; v.v.i32 = x; return v; }
static inline br_value br_value_i64(br_type_id t, int64_t x) { br_value v = { 0 }; v.type = t; v.v.i64 = x; return v; }
static inline br_value br_value_f64(double x) { br_value v = { 0 }; v.type = BR_T_DOUBLE; v.v.f64 = x; return v; }
static inline br_value br_value_bytes(br_type_id t, const void *p, size_t n)
{
	br_value v = { 0 };
	v.type = t;
	v.v.bytes.p = (const uint8_t *)p;
	v.v.bytes.len = n;
	return v;
}
/* Total order used for min/max statistics: nulls first; for floats NaN is
 * greater than every number; bytes compare as unsigned memcmp then length.
 * Both values must have the same type id. */
int br_value_cmp(const br_value *a, const br_value *b);
/* Human/JSON-friendly text (timestamps as ISO-8601, decimals with scale);
 * appended to out. The type gives decimal scale; may be NULL for others. */
void br_value_format(const br_value *v, const br_type *t, br_buf *out);

/* ----------------------------------------------------------------- batch
 *
 * Columnar rows in the Arrow memory layout. Every column of every depth is a
 * br_col with:
 *   len         number of slots;
 *   validity    bitmap, bit i (LSB first) set = slot i is not null. Empty
 *               (validity.len == 0) means every slot is valid;
 *   values      fixed-width values (width = br_type_width):
 *                 boolean: bit-packed, LSB first (Arrow);
 *                 int, date: int32; long, time, timestamp(tz): int64;
 *                 float, double; decimal: 16-byte two's complement int128,
 *                 little-endian (Arrow Decimal128); uuid: 16 bytes as printed
 *                 (big-endian); fixed[L]: L bytes;
 *               string/binary: the concatenated bytes;
 *   offsets     int32, len+1 entries (first is 0) for string, binary, list, map;
 *   children    struct: one column per field (each of length len);
 *               list: 1 (elements); map: 2 (keys, values), indexed by offsets.
 * A null slot still occupies its place: zeroed bytes for fixed width, an empty
 * range for offsets, null child slots for struct children.
 * Ownership: a batch owns all its buffers and columns; the type is borrowed
 * and must outlive the batch. br_batch_free releases everything. */

typedef struct br_col {
	const br_type *type;   /* borrowed */
	int64_t len;
	int64_t null_count;
	br_buf validity;
	br_buf values;
	br_buf offsets;
	int nchildren;
	struct br_col *children; /* owned array */
} br_col;

typedef struct br_batch {
	const br_type *type;   /* borrowed; a struct, one column per field */
	int64_t nrows;
	int ncols;
	br_col *cols;          /* owned array */
	bool has_weight;
	br_buf weights;        /* int64 per row when has_weight */
} br_batch;

/* Builds empty columns for every field of struct_type. */
void br_batch_init(br_batch *b, const br_type *struct_type, bool has_weight);
void br_batch_free(br_batch *b);
/* Drops all rows, keeps the allocated capacity. */
void br_batch_reset(br_batch *b);
/* Marks one row as complete: every top-level column must have received exactly
 * one slot. weight is stored when has_weight (ignored otherwise). */
void br_batch_row_done(br_batch *b, int64_t weight);
/* Checks column lengths, offsets and children against nrows (for batches that
 * came from outside code); BR_EINVAL with the column name on mismatch. */
int br_batch_validate(const br_batch *b, br_err *err);

void br_col_init(br_col *c, const br_type *t);
void br_col_free(br_col *c);
void br_col_reset(br_col *c);

/* Appending. Each call adds one slot to c. For struct, append to the children
 * first, then br_col_append_struct (or _null, which also pads the children with
 * nulls). For list/map, append the elements (or keys and values) to the
 * children first, then br_col_close_list (records the end offset). */
void br_col_append_null(br_col *c);
void br_col_append_bool(br_col *c, bool v);
void br_col_append_i32(br_col *c, int32_t v);   /* int, date */
void br_col_append_i64(br_col *c, int64_t v);   /* long, time, timestamp(tz) */
void br_col_append_f32(br_col *c, float v);
void br_col_append_f64(br_col *c, double v);
void br_col_append_dec(br_col *c, __int128 unscaled);
/* string, binary; for uuid/fixed/decimal n must equal the width */
void br_col_append_bytes(br_col *c, const void *p, size_t n);
void br_col_append_struct(br_col *c);
void br_col_close_list(br_col *c);              /* list and map */
/* Appends a br_value of c's primitive type (null allowed). */
void br_col_append_value(br_col *c, const br_value *v);
/* Appends n non-null fixed-width values (br_type_width bytes each) at once. */
void br_col_append_raw(br_col *c, const void *p, int64_t n);
/* Appends n non-null strings/binaries of src: slots idx[k] (idx non-NULL) or
 * start + k. src and dst are string or binary columns. */
void br_col_append_strings(br_col *dst, const br_col *src, const uint32_t *idx, int64_t start, int64_t n);
/* Appends slot i of src (same type as dst, any depth) to dst. */
void br_col_append_from(br_col *dst, const br_col *src, int64_t i);

/* Reading slot i (no bounds checks: i < c->len is the caller's contract). */
static inline bool br_col_valid(const br_col *c, int64_t i)
{
	return c->validity.len == 0 || (c->validity.p[i >> 3] >> (i & 7) & 1);
}
static inline bool br_col_bool(const br_col *c, int64_t i) { return c->values.p[i >> 3] >> (i & 7) & 1; }
static inline int32_t br_col_i32(const br_col *c, int64_t i) { int32_t v; memcpy(&v, c->values.p + 4 * i, 4); return v; }
static inline int64_t br_col_i64(const br_col *c, int64_t i) { int64_t v; memcpy(&v, c->values.p + 8 * i, 8); return v; }
static inline float br_col_f32(const br_col *c, int64_t i) { float v; memcpy(&v, c->values.p + 4 * i, 4); return v; }
static inline double br_col_f64(const br_col *c, int64_t i) { double v; memcpy(&v, c->values.p + 8 * i, 8); return v; }
static inline __int128 br_col_dec(const br_col *c, int64_t i) { __int128 v; memcpy(&v, c->values.p + 16 * i, 16); return v; }
static inline int32_t br_col_off(const br_col *c, int64_t i) { int32_t v; memcpy(&v, c->offsets.p + 4 * i, 4); return v; }
/* string/binary: pointer and length; uuid/fixed/decimal: pointer to width bytes. */
const uint8_t *br_col_bytes(const br_col *c, int64_t i, size_t *len);
/* list/map: the child slot range [*start, *end). */
static inline void br_col_range(const br_col *c, int64_t i, int64_t *start, int64_t *end)
{
	*start = br_col_off(c, i);
	*end = br_col_off(c, i + 1);
}
/* Slot i of a primitive column as a br_value (bytes borrowed from c). */
br_value br_col_value(const br_col *c, int64_t i);
static inline int64_t br_batch_weight(const br_batch *b, int64_t i)
{
	int64_t w = 1;
	if (b->has_weight)
		memcpy(&w, b->weights.p + 8 * i, 8);
	return w;
}

#endif
