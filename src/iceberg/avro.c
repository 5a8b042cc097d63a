/* avro.c — Avro object container files (Apache Avro specification 1.11,
 * "Object Container Files" and "Binary Encoding"): schema JSON, value encoding
 * and decoding, block framing and the null/deflate/snappy codecs.
 *
 * File layout
 *   header   4 bytes magic 'O' 'b' 'j' 0x01
 *            file metadata: an Avro map<bytes> (see "map" below) holding at
 *            least "avro.schema" (the writer schema as JSON text) and
 *            optionally "avro.codec" ("null" when absent, "deflate", "snappy")
 *            16 bytes sync marker, random per file
 *   blocks   long  number of records in the block (> 0)
 *            long  byte size of the (compressed) records
 *            the records, each the binary encoding of the schema
 *            16 bytes: the file's sync marker again (lets a reader detect a
 *            torn or misaligned block)
 *   A file ends after the last block; there is no footer.
 *
 * Binary encoding of values
 *   null     nothing
 *   boolean  one byte, 0 or 1
 *   int,long zig-zag varint (7 bits per byte, low groups first)
 *   float    4 bytes IEEE-754 little-endian; double: 8 bytes
 *   bytes,string  long length, then the bytes (strings are UTF-8)
 *   record   the fields in schema order, no framing
 *   enum     int: index of the symbol
 *   array    blocks: long count, then count items; a negative count -n means n
 *            items preceded by a long byte size; a count of 0 ends the array
 *   map      like array, each item a string key followed by the value
 *   union    long: index of the branch, then the value of that branch
 *   fixed    exactly size bytes
 *
 * Codecs: "deflate" is raw RFC 1951 deflate (no zlib header); "snappy" is a
 * snappy block followed by the 4-byte big-endian CRC-32 (ISO, as zlib's crc32)
 * of the uncompressed bytes.
 *
 * Defences against hostile files: every length is checked against the bytes
 * left before anything is allocated; an array or map can only claim as many
 * items as bytes are left (plus a small slack for zero-byte items such as
 * null); schemas may be recursive, so decoding depth is bounded; a
 * decompressed block is bounded (BR_AVRO_MAX_BLOCK). */
#include "iceberg/avro.h"

#include <jansson.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/util.h"

#define BR_AVRO_MAX_DEPTH 64
#define BR_AVRO_MAX_BLOCK (256u << 20)
#define BR_AVRO_ZERO_SLACK 4096 /* items allowed beyond the bytes left (zero-size items) */

static const uint8_t avro_magic[4] = { 'O', 'b', 'j', 1 };

/* ----------------------------------------------------------------- schema */

typedef struct schema_ctx {
	br_arena *a;
	br_avro_schema **named;
	size_t nnamed, capnamed;
	br_err *err;
	int depth;
} schema_ctx;

static const struct {
	const char *name;
	br_avro_kind kind;
} prim_names[] = {
	{ "null", BR_AVRO_NULL },     { "boolean", BR_AVRO_BOOLEAN }, { "int", BR_AVRO_INT },
	{ "long", BR_AVRO_LONG },     { "float", BR_AVRO_FLOAT },     { "double", BR_AVRO_DOUBLE },
	{ "bytes", BR_AVRO_BYTES },   { "string", BR_AVRO_STRING },
};

static int prim_kind(const char *s)
{
	for (size_t i = 0; i < BR_ARRAY_LEN(prim_names); i++)
		if (!strcmp(prim_names[i].name, s))
			return (int)prim_names[i].kind;
	return -1;
}

static br_avro_schema *new_schema(schema_ctx *x, br_avro_kind k)
{
	br_avro_schema *s = br_arena_alloc(x->a, sizeof *s);
	s->kind = k;
	return s;
}

static br_avro_schema *find_named(schema_ctx *x, const char *ref, const char *ns)
{
	for (size_t i = 0; i < x->nnamed; i++) {
		const char *full = x->named[i]->name;
		if (!strcmp(full, ref))
			return x->named[i];
		if (ns && *ns && !strchr(ref, '.')) {
			size_t nl = strlen(ns);
			if (!strncmp(full, ns, nl) && full[nl] == '.' && !strcmp(full + nl + 1, ref))
				return x->named[i];
		}
	}
	/* Fall back to the short name: schemas written by some tools omit namespaces. */
	for (size_t i = 0; i < x->nnamed; i++) {
		const char *dot = strrchr(x->named[i]->name, '.');
		if (!strchr(ref, '.') && dot && !strcmp(dot + 1, ref))
			return x->named[i];
	}
	return NULL;
}

static int register_named(schema_ctx *x, br_avro_schema *s, json_t *j, const char **ns_io)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	if (!name || !*name)
		return br_errf(x->err, BR_ECORRUPT, "avro schema: named type without a \"name\"");
	const char *ns = json_string_value(json_object_get(j, "namespace"));
	if (strchr(name, '.')) {
		s->name = br_arena_strndup(x->a, name, strlen(name));
		const char *dot = strrchr(s->name, '.');
		*ns_io = br_arena_strndup(x->a, s->name, (size_t)(dot - s->name));
	} else {
		if (!ns)
			ns = *ns_io;
		if (ns && *ns) {
			size_t n = strlen(ns) + strlen(name) + 2;
			char *full = br_arena_alloc(x->a, n);
			snprintf(full, n, "%s.%s", ns, name);
			s->name = full;
			*ns_io = br_arena_strndup(x->a, ns, strlen(ns));
		} else {
			s->name = br_arena_strndup(x->a, name, strlen(name));
			*ns_io = NULL;
		}
	}
	if (x->nnamed == x->capnamed) {
		x->capnamed = x->capnamed ? 2 * x->capnamed : 16;
		x->named = br_xrealloc(x->named, x->capnamed * sizeof *x->named);
	}
	x->named[x->nnamed++] = s;
	return 0;
}

static int parse_schema(schema_ctx *x, json_t *j, const char *ns, br_avro_schema **out);

static int parse_object(schema_ctx *x, json_t *j, const char *ns, br_avro_schema **out)
{
	json_t *jt = json_object_get(j, "type");
	if (!jt)
		return br_errf(x->err, BR_ECORRUPT, "avro schema: object without \"type\"");
	if (!json_is_string(jt)) /* {"type": {...}} or {"type": [...]} wraps another schema */
		return parse_schema(x, jt, ns, out);
	const char *t = json_string_value(jt);
	const char *logical = json_string_value(json_object_get(j, "logicalType"));
	br_avro_schema *s;
	int pk = prim_kind(t);
	if (pk >= 0) {
		s = new_schema(x, (br_avro_kind)pk);
	} else if (!strcmp(t, "record") || !strcmp(t, "error")) {
		s = new_schema(x, BR_AVRO_RECORD);
		const char *myns = ns;
		if (register_named(x, s, j, &myns))
			return x->err ? x->err->code : BR_ECORRUPT;
		json_t *fields = json_object_get(j, "fields");
		if (!json_is_array(fields))
			return br_errf(x->err, BR_ECORRUPT, "avro schema: record %s has no \"fields\" array", s->name);
		s->n = json_array_size(fields);
		s->fields = br_arena_alloc(x->a, s->n * sizeof *s->fields);
		for (size_t i = 0; i < s->n; i++) {
			json_t *f = json_array_get(fields, i);
			const char *fname = json_string_value(json_object_get(f, "name"));
			if (!fname)
				return br_errf(x->err, BR_ECORRUPT, "avro schema: record %s field %zu has no name", s->name, i);
			s->fields[i].name = br_arena_strndup(x->a, fname, strlen(fname));
			json_t *fid = json_object_get(f, "field-id");
			s->fields[i].field_id = json_is_integer(fid) ? (int)json_integer_value(fid) : -1;
			json_t *ft = json_object_get(f, "type");
			if (!ft)
				return br_errf(x->err, BR_ECORRUPT, "avro schema: field %s.%s has no type", s->name, fname);
			int rc = parse_schema(x, ft, myns, &s->fields[i].type);
			if (rc)
				return rc;
		}
	} else if (!strcmp(t, "enum")) {
		s = new_schema(x, BR_AVRO_ENUM);
		const char *myns = ns;
		if (register_named(x, s, j, &myns))
			return x->err ? x->err->code : BR_ECORRUPT;
		json_t *syms = json_object_get(j, "symbols");
		if (!json_is_array(syms))
			return br_errf(x->err, BR_ECORRUPT, "avro schema: enum %s has no \"symbols\" array", s->name);
		s->n = json_array_size(syms);
		s->symbols = br_arena_alloc(x->a, s->n * sizeof *s->symbols);
		for (size_t i = 0; i < s->n; i++) {
			const char *sym = json_string_value(json_array_get(syms, i));
			if (!sym)
				return br_errf(x->err, BR_ECORRUPT, "avro schema: enum %s symbol %zu is not a string", s->name, i);
			s->symbols[i] = br_arena_strndup(x->a, sym, strlen(sym));
		}
	} else if (!strcmp(t, "fixed")) {
		s = new_schema(x, BR_AVRO_FIXED);
		const char *myns = ns;
		if (register_named(x, s, j, &myns))
			return x->err ? x->err->code : BR_ECORRUPT;
		json_t *size = json_object_get(j, "size");
		if (!json_is_integer(size) || json_integer_value(size) < 0 || json_integer_value(size) > (1 << 20))
			return br_errf(x->err, BR_ECORRUPT, "avro schema: fixed %s has no valid \"size\"", s->name);
		s->size = (size_t)json_integer_value(size);
	} else if (!strcmp(t, "array")) {
		s = new_schema(x, BR_AVRO_ARRAY);
		json_t *items = json_object_get(j, "items");
		if (!items)
			return br_errf(x->err, BR_ECORRUPT, "avro schema: array without \"items\"");
		int rc = parse_schema(x, items, ns, &s->items);
		if (rc)
			return rc;
	} else if (!strcmp(t, "map")) {
		s = new_schema(x, BR_AVRO_MAP);
		json_t *values = json_object_get(j, "values");
		if (!values)
			return br_errf(x->err, BR_ECORRUPT, "avro schema: map without \"values\"");
		int rc = parse_schema(x, values, ns, &s->items);
		if (rc)
			return rc;
	} else {
		br_avro_schema *named = find_named(x, t, ns);
		if (!named)
			return br_errf(x->err, BR_ECORRUPT, "avro schema: unknown type \"%s\"", t);
		*out = named;
		return 0;
	}
	if (logical)
		s->logical = br_arena_strndup(x->a, logical, strlen(logical));
	*out = s;
	return 0;
}

static int parse_schema(schema_ctx *x, json_t *j, const char *ns, br_avro_schema **out)
{
	if (++x->depth > BR_AVRO_MAX_DEPTH) {
		x->depth--;
		return br_errf(x->err, BR_ECORRUPT, "avro schema: nested deeper than %d", BR_AVRO_MAX_DEPTH);
	}
	int rc = 0;
	if (json_is_string(j)) {
		const char *t = json_string_value(j);
		int pk = prim_kind(t);
		if (pk >= 0) {
			*out = new_schema(x, (br_avro_kind)pk);
		} else {
			*out = find_named(x, t, ns);
			if (!*out)
				rc = br_errf(x->err, BR_ECORRUPT, "avro schema: unknown type \"%s\"", t);
		}
	} else if (json_is_array(j)) {
		br_avro_schema *s = new_schema(x, BR_AVRO_UNION);
		s->n = json_array_size(j);
		if (s->n == 0)
			rc = br_errf(x->err, BR_ECORRUPT, "avro schema: empty union");
		s->branches = br_arena_alloc(x->a, s->n * sizeof *s->branches);
		for (size_t i = 0; !rc && i < s->n; i++) {
			rc = parse_schema(x, json_array_get(j, i), ns, &s->branches[i]);
			if (!rc && s->branches[i]->kind == BR_AVRO_UNION)
				rc = br_errf(x->err, BR_ECORRUPT, "avro schema: union directly inside a union");
		}
		*out = s;
	} else if (json_is_object(j)) {
		rc = parse_object(x, j, ns, out);
	} else {
		rc = br_errf(x->err, BR_ECORRUPT, "avro schema: a type must be a string, array or object");
	}
	x->depth--;
	return rc;
}

int br_avro_schema_parse(br_arena *a, const char *json, size_t len, br_avro_schema **out, br_err *err)
{
	json_error_t je;
	json_t *j = json_loadb(json, len, JSON_DECODE_ANY, &je);
	if (!j)
		return br_errf(err, BR_ECORRUPT, "avro schema: invalid JSON at line %d: %s", je.line, je.text);
	schema_ctx x = { .a = a, .err = err };
	int rc = parse_schema(&x, j, NULL, out);
	free(x.named);
	json_decref(j);
	return rc;
}

int br_avro_field_index(const br_avro_schema *rec, const char *name)
{
	if (!rec || rec->kind != BR_AVRO_RECORD)
		return -1;
	for (size_t i = 0; i < rec->n; i++)
		if (!strcmp(rec->fields[i].name, name))
			return (int)i;
	return -1;
}

/* ----------------------------------------------------------------- values */

br_avro_val br_avro_record(br_arena *a, size_t n)
{
	br_avro_val v = { .kind = BR_AVRO_RECORD, .branch = -1, .n = n };
	v.items = br_arena_alloc(a, n * sizeof *v.items);
	return v;
}

br_avro_val br_avro_array(br_arena *a, size_t n)
{
	br_avro_val v = br_avro_record(a, n);
	v.kind = BR_AVRO_ARRAY;
	return v;
}

br_avro_val br_avro_map(br_arena *a, size_t n)
{
	br_avro_val v = br_avro_record(a, n);
	v.kind = BR_AVRO_MAP;
	v.keys = br_arena_alloc(a, n * sizeof *v.keys);
	return v;
}

const br_avro_val *br_avro_get(const br_avro_schema *rec, const br_avro_val *v, const char *name)
{
	int i = br_avro_field_index(rec, name);
	if (i < 0 || !v || v->kind != BR_AVRO_RECORD || (size_t)i >= v->n)
		return NULL;
	const br_avro_val *f = &v->items[i];
	return f->kind == BR_AVRO_NULL ? NULL : f;
}

char *br_avro_strdup(br_arena *a, const br_avro_val *v)
{
	if (!v)
		return NULL;
	return br_arena_strndup(a, (const char *)(v->p ? v->p : (const uint8_t *)""), v->len);
}

static const char *kind_name(br_avro_kind k)
{
	static const char *names[] = { "null",   "boolean", "int",   "long",  "float", "double", "bytes",
				       "string", "record",  "enum",  "array", "map",   "union",  "fixed" };
	return (unsigned)k < BR_ARRAY_LEN(names) ? names[k] : "?";
}

static bool kind_fits(br_avro_kind schema, br_avro_kind val)
{
	if (schema == val)
		return true;
	/* Promotions the writer performs silently: the caller built an int for a long field etc. */
	if (schema == BR_AVRO_LONG && val == BR_AVRO_INT)
		return true;
	if ((schema == BR_AVRO_DOUBLE || schema == BR_AVRO_FLOAT) &&
	    (val == BR_AVRO_FLOAT || val == BR_AVRO_DOUBLE))
		return true;
	if ((schema == BR_AVRO_BYTES || schema == BR_AVRO_STRING) && (val == BR_AVRO_BYTES || val == BR_AVRO_STRING))
		return true;
	if (schema == BR_AVRO_ENUM && val == BR_AVRO_INT)
		return true;
	if (schema == BR_AVRO_FIXED && val == BR_AVRO_BYTES)
		return true;
	return false;
}

static int encode(br_buf *out, const br_avro_schema *s, const br_avro_val *v, int depth, br_err *err)
{
	if (depth > BR_AVRO_MAX_DEPTH)
		return br_errf(err, BR_EINVAL, "avro encode: value nested deeper than %d", BR_AVRO_MAX_DEPTH);
	if (s->kind == BR_AVRO_UNION) {
		int64_t b = v->branch;
		if (b < 0 || (size_t)b >= s->n) {
			b = -1;
			for (size_t i = 0; i < s->n && b < 0; i++)
				if (s->branches[i]->kind == v->kind)
					b = (int64_t)i;
			for (size_t i = 0; i < s->n && b < 0; i++)
				if (kind_fits(s->branches[i]->kind, v->kind))
					b = (int64_t)i;
			if (b < 0)
				return br_errf(err, BR_EINVAL, "avro encode: no union branch for a %s value", kind_name(v->kind));
		}
		br_buf_varint(out, b);
		return encode(out, s->branches[b], v, depth + 1, err);
	}
	if (!kind_fits(s->kind, v->kind))
		return br_errf(err, BR_EINVAL, "avro encode: %s value for a %s field", kind_name(v->kind),
			       kind_name(s->kind));
	switch (s->kind) {
	case BR_AVRO_NULL:
		return 0;
	case BR_AVRO_BOOLEAN:
		br_buf_u8(out, v->i ? 1 : 0);
		return 0;
	case BR_AVRO_INT:
		if (v->i < INT32_MIN || v->i > INT32_MAX)
			return br_errf(err, BR_EINVAL, "avro encode: %lld does not fit an int", (long long)v->i);
		/* fallthrough */
	case BR_AVRO_LONG:
		br_buf_varint(out, v->i);
		return 0;
	case BR_AVRO_ENUM:
		if (v->i < 0 || (uint64_t)v->i >= s->n)
			return br_errf(err, BR_EINVAL, "avro encode: enum %s has no symbol %lld", s->name, (long long)v->i);
		br_buf_varint(out, v->i);
		return 0;
	case BR_AVRO_FLOAT: {
		float f = (float)v->d;
		uint32_t u;
		memcpy(&u, &f, 4);
		uint8_t b[4] = { (uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24) };
		br_buf_put(out, b, 4);
		return 0;
	}
	case BR_AVRO_DOUBLE: {
		uint64_t u;
		memcpy(&u, &v->d, 8);
		uint8_t b[8];
		for (int i = 0; i < 8; i++)
			b[i] = (uint8_t)(u >> (8 * i));
		br_buf_put(out, b, 8);
		return 0;
	}
	case BR_AVRO_BYTES:
	case BR_AVRO_STRING:
		br_buf_varint(out, (int64_t)v->len);
		br_buf_put(out, v->p, v->len);
		return 0;
	case BR_AVRO_FIXED:
		if (v->len != s->size)
			return br_errf(err, BR_EINVAL, "avro encode: %zu bytes for fixed %s of size %zu", v->len, s->name,
				       s->size);
		br_buf_put(out, v->p, v->len);
		return 0;
	case BR_AVRO_RECORD:
		if (v->n != s->n)
			return br_errf(err, BR_EINVAL, "avro encode: record %s has %zu fields, value has %zu", s->name,
				       s->n, v->n);
		for (size_t i = 0; i < s->n; i++) {
			int rc = encode(out, s->fields[i].type, &v->items[i], depth + 1, err);
			if (rc)
				return br_errctx(err, "field %s", s->fields[i].name), rc;
		}
		return 0;
	case BR_AVRO_ARRAY:
	case BR_AVRO_MAP:
		/* One block with every item, then the terminating empty block. */
		if (v->n) {
			br_buf_varint(out, (int64_t)v->n);
			for (size_t i = 0; i < v->n; i++) {
				if (s->kind == BR_AVRO_MAP) {
					br_buf_varint(out, (int64_t)v->keys[i].len);
					br_buf_put(out, v->keys[i].p, v->keys[i].len);
				}
				int rc = encode(out, s->items, &v->items[i], depth + 1, err);
				if (rc)
					return rc;
			}
		}
		br_buf_varint(out, 0);
		return 0;
	case BR_AVRO_UNION:
		break;
	}
	return br_errf(err, BR_EINVAL, "avro encode: unexpected schema kind %d", (int)s->kind);
}

int br_avro_encode(br_buf *out, const br_avro_schema *s, const br_avro_val *v, br_err *err)
{
	return encode(out, s, v, 0, err);
}

static int dec_err(br_cur *c, br_err *err, const char *what)
{
	return br_errf(err, BR_ECORRUPT, "%s at byte %zu of the block", what, c->pos);
}

/* Reads a long that must be a length or count in [0, max]. */
static int dec_len(br_cur *c, size_t max, size_t *out, br_err *err, const char *what)
{
	int64_t n = br_cur_varint(c);
	if (c->bad)
		return dec_err(c, err, "truncated length");
	if (n < 0 || (uint64_t)n > max) {
		char msg[128];
		snprintf(msg, sizeof msg, "%s length %lld out of range (at most %zu)", what, (long long)n, max);
		return dec_err(c, err, msg);
	}
	*out = (size_t)n;
	return 0;
}

static int decode(br_cur *c, br_arena *a, const br_avro_schema *s, br_avro_val *v, int depth, int64_t *budget,
		  br_err *err)
{
	if (depth > BR_AVRO_MAX_DEPTH)
		return dec_err(c, err, "value nested too deeply");
	memset(v, 0, sizeof *v);
	v->branch = -1;
	v->kind = s->kind;
	switch (s->kind) {
	case BR_AVRO_NULL:
		return 0;
	case BR_AVRO_BOOLEAN: {
		uint8_t b = br_cur_u8(c);
		if (c->bad)
			return dec_err(c, err, "truncated boolean");
		if (b > 1)
			return dec_err(c, err, "boolean byte is neither 0 nor 1");
		v->i = b;
		return 0;
	}
	case BR_AVRO_INT:
	case BR_AVRO_LONG:
		v->i = br_cur_varint(c);
		if (c->bad)
			return dec_err(c, err, "truncated or overlong varint");
		if (s->kind == BR_AVRO_INT && (v->i < INT32_MIN || v->i > INT32_MAX))
			return dec_err(c, err, "int out of 32-bit range");
		return 0;
	case BR_AVRO_ENUM:
		v->i = br_cur_varint(c);
		if (c->bad)
			return dec_err(c, err, "truncated enum");
		if (v->i < 0 || (uint64_t)v->i >= s->n)
			return dec_err(c, err, "enum index out of range");
		return 0;
	case BR_AVRO_FLOAT: {
		const uint8_t *p = br_cur_take(c, 4);
		if (!p)
			return dec_err(c, err, "truncated float");
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		float f;
		memcpy(&f, &u, 4);
		v->d = f;
		return 0;
	}
	case BR_AVRO_DOUBLE: {
		const uint8_t *p = br_cur_take(c, 8);
		if (!p)
			return dec_err(c, err, "truncated double");
		uint64_t u = 0;
		for (int i = 7; i >= 0; i--)
			u = u << 8 | p[i];
		memcpy(&v->d, &u, 8);
		return 0;
	}
	case BR_AVRO_BYTES:
	case BR_AVRO_STRING:
	case BR_AVRO_FIXED: {
		size_t n = s->size;
		if (s->kind != BR_AVRO_FIXED && dec_len(c, br_cur_left(c), &n, err, kind_name(s->kind)))
			return BR_ECORRUPT;
		const uint8_t *p = br_cur_take(c, n);
		if (!p)
			return dec_err(c, err, "truncated bytes");
		/* Copy with a NUL so strings can be used as C strings by callers. */
		v->p = (const uint8_t *)br_arena_strndup(a, (const char *)p, n);
		v->len = n;
		return 0;
	}
	case BR_AVRO_RECORD:
		v->n = s->n;
		v->items = br_arena_alloc(a, s->n * sizeof *v->items);
		for (size_t i = 0; i < s->n; i++) {
			int rc = decode(c, a, s->fields[i].type, &v->items[i], depth + 1, budget, err);
			if (rc)
				return rc;
		}
		return 0;
	case BR_AVRO_ARRAY:
	case BR_AVRO_MAP: {
		size_t cap = 0;
		for (;;) {
			int64_t cnt = br_cur_varint(c);
			if (c->bad)
				return dec_err(c, err, "truncated array/map block count");
			if (cnt == 0)
				break;
			if (cnt < 0) {
				if (cnt == INT64_MIN)
					return dec_err(c, err, "array/map block count out of range");
				cnt = -cnt;
				int64_t bytes = br_cur_varint(c);
				if (c->bad || bytes < 0 || (uint64_t)bytes > br_cur_left(c))
					return dec_err(c, err, "bad array/map block byte size");
			}
			if ((uint64_t)cnt > br_cur_left(c) + BR_AVRO_ZERO_SLACK || cnt > *budget)
				return dec_err(c, err, "array/map item count larger than the bytes left");
			*budget -= cnt;
			size_t need = v->n + (size_t)cnt;
			if (need > cap) {
				size_t ncap = cap ? cap : 8;
				while (ncap < need)
					ncap *= 2;
				br_avro_val *ni = br_arena_alloc(a, ncap * sizeof *ni);
				if (v->n)
					memcpy(ni, v->items, v->n * sizeof *ni);
				v->items = ni;
				if (s->kind == BR_AVRO_MAP) {
					br_avro_val *nk = br_arena_alloc(a, ncap * sizeof *nk);
					if (v->n)
						memcpy(nk, v->keys, v->n * sizeof *nk);
					v->keys = nk;
				}
				cap = ncap;
			}
			for (int64_t i = 0; i < cnt; i++) {
				if (s->kind == BR_AVRO_MAP) {
					static br_avro_schema str = { .kind = BR_AVRO_STRING };
					int rc = decode(c, a, &str, &v->keys[v->n], depth + 1, budget, err);
					if (rc)
						return rc;
				}
				int rc = decode(c, a, s->items, &v->items[v->n], depth + 1, budget, err);
				if (rc)
					return rc;
				v->n++;
			}
		}
		return 0;
	}
	case BR_AVRO_UNION: {
		int64_t b = br_cur_varint(c);
		if (c->bad)
			return dec_err(c, err, "truncated union branch");
		if (b < 0 || (uint64_t)b >= s->n)
			return dec_err(c, err, "union branch index out of range");
		int rc = decode(c, a, s->branches[b], v, depth + 1, budget, err);
		v->branch = (int32_t)b;
		return rc;
	}
	}
	return dec_err(c, err, "unexpected schema kind");
}

int br_avro_decode(br_cur *c, br_arena *a, const br_avro_schema *s, br_avro_val *out, br_err *err)
{
	/* Items of zero-byte types (null, empty records) cost no input, so the
	 * total number of array/map items in one value is bounded separately. */
	int64_t budget = (int64_t)(br_cur_left(c) * 2) + BR_AVRO_ZERO_SLACK;
	return decode(c, a, s, out, 0, &budget, err);
}

/* ----------------------------------------------------------------- writer */

static void put_str(br_buf *b, const char *s, size_t n)
{
	br_buf_varint(b, (int64_t)n);
	br_buf_put(b, s, n);
}

static const char *codec_name(int codec)
{
	return codec == BR_AVRO_CODEC_DEFLATE ? "deflate" : codec == BR_AVRO_CODEC_SNAPPY ? "snappy" : "null";
}

int br_avro_writer_init(br_avro_writer *w, const char *schema_json, int codec, const char *const *meta_keys,
			const char *const *meta_vals, size_t nmeta, br_err *err)
{
	memset(w, 0, sizeof *w);
	br_arena_init(&w->arena, 8192);
	w->codec = codec;
	w->block_target = 64 << 10;
	int rc = br_avro_schema_parse(&w->arena, schema_json, strlen(schema_json), &w->schema, err);
	if (rc) {
		br_arena_free(&w->arena);
		return rc;
	}
	/* The sync marker only has to be unlikely to appear inside the data. */
	uint64_t seed = (uint64_t)br_mono_ns() ^ (uint64_t)br_now_ms() << 20 ^ (uintptr_t)w;
	for (int i = 0; i < 16; i++) {
		seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
		w->sync[i] = (uint8_t)(seed >> 24);
	}
	br_buf_put(&w->out, avro_magic, 4);
	br_buf_varint(&w->out, (int64_t)(nmeta + 2));
	put_str(&w->out, "avro.schema", 11);
	put_str(&w->out, schema_json, strlen(schema_json));
	put_str(&w->out, "avro.codec", 10);
	const char *cn = codec_name(codec);
	put_str(&w->out, cn, strlen(cn));
	for (size_t i = 0; i < nmeta; i++) {
		put_str(&w->out, meta_keys[i], strlen(meta_keys[i]));
		put_str(&w->out, meta_vals[i], strlen(meta_vals[i]));
	}
	br_buf_varint(&w->out, 0);
	br_buf_put(&w->out, w->sync, 16);
	return 0;
}

static int flush_block(br_avro_writer *w, br_err *err)
{
	if (!w->block_count)
		return 0;
	const uint8_t *data = w->block.p;
	size_t len = w->block.len;
	br_buf tmp = { 0 };
	if (w->codec == BR_AVRO_CODEC_DEFLATE) {
		z_stream z = { 0 };
		if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return br_errf(err, BR_ENOMEM, "avro: deflateInit failed");
		br_buf_reserve(&tmp, deflateBound(&z, (uLong)len));
		z.next_in = (Bytef *)data;
		z.avail_in = (uInt)len;
		z.next_out = tmp.p;
		z.avail_out = (uInt)tmp.cap;
		int zrc = deflate(&z, Z_FINISH);
		tmp.len = z.total_out;
		deflateEnd(&z);
		if (zrc != Z_STREAM_END) {
			br_buf_free(&tmp);
			return br_errf(err, BR_EIO, "avro: deflate failed (%d)", zrc);
		}
		data = tmp.p, len = tmp.len;
	} else if (w->codec == BR_AVRO_CODEC_SNAPPY) {
		size_t cap = snappy_max_compressed_length(len);
		br_buf_reserve(&tmp, cap + 4);
		if (snappy_compress((const char *)data, len, (char *)tmp.p, &cap) != SNAPPY_OK) {
			br_buf_free(&tmp);
			return br_errf(err, BR_EIO, "avro: snappy compression failed");
		}
		tmp.len = cap;
		br_buf_be32(&tmp, (uint32_t)crc32(0, data, (uInt)len));
		data = tmp.p, len = tmp.len;
	}
	br_buf_varint(&w->out, (int64_t)w->block_count);
	br_buf_varint(&w->out, (int64_t)len);
	br_buf_put(&w->out, data, len);
	br_buf_put(&w->out, w->sync, 16);
	br_buf_free(&tmp);
	br_buf_reset(&w->block);
	w->block_count = 0;
	return 0;
}

int br_avro_writer_add(br_avro_writer *w, const br_avro_val *v, br_err *err)
{
	size_t mark = w->block.len;
	int rc = br_avro_encode(&w->block, w->schema, v, err);
	if (rc) {
		w->block.len = mark;
		return rc;
	}
	w->block_count++;
	w->records++;
	if (w->block.len >= w->block_target)
		return flush_block(w, err);
	return 0;
}

int br_avro_writer_finish(br_avro_writer *w, br_err *err)
{
	return flush_block(w, err);
}

void br_avro_writer_free(br_avro_writer *w)
{
	br_buf_free(&w->out);
	br_buf_free(&w->block);
	br_arena_free(&w->arena);
}

/* ----------------------------------------------------------------- reader */

static int rd_err(br_avro_reader *r, br_err *err, int code, const char *fmt, const char *detail)
{
	char msg[256];
	snprintf(msg, sizeof msg, fmt, detail ? detail : "");
	return br_errf(err, code, "%s: %s", r->name, msg);
}

int br_avro_reader_open(br_avro_reader *r, const uint8_t *p, size_t len, const char *name, br_err *err)
{
	memset(r, 0, sizeof *r);
	br_arena_init(&r->arena, 16384);
	r->name = br_arena_strndup(&r->arena, name ? name : "avro", strlen(name ? name : "avro"));
	br_cur c = br_cur_make(p, len);
	const uint8_t *m = br_cur_take(&c, 4);
	if (!m || memcmp(m, avro_magic, 4))
		return rd_err(r, err, BR_ECORRUPT, "not an Avro object container file (bad magic)%s", NULL);
	size_t cap = 0;
	for (;;) {
		int64_t cnt = br_cur_varint(&c);
		if (c.bad)
			return rd_err(r, err, BR_ECORRUPT, "truncated header metadata%s", NULL);
		if (cnt == 0)
			break;
		if (cnt < 0) {
			if (cnt == INT64_MIN)
				return rd_err(r, err, BR_ECORRUPT, "bad header metadata count%s", NULL);
			cnt = -cnt;
			br_cur_varint(&c);
		}
		if ((uint64_t)cnt > br_cur_left(&c) / 2)
			return rd_err(r, err, BR_ECORRUPT, "header metadata count larger than the file%s", NULL);
		if (r->nmeta + (size_t)cnt > cap) {
			cap = r->nmeta + (size_t)cnt;
			char **nk = br_arena_alloc(&r->arena, cap * sizeof *nk);
			uint8_t **nv = br_arena_alloc(&r->arena, cap * sizeof *nv);
			size_t *nl = br_arena_alloc(&r->arena, cap * sizeof *nl);
			if (r->nmeta) {
				memcpy(nk, r->meta_keys, r->nmeta * sizeof *nk);
				memcpy(nv, r->meta_vals, r->nmeta * sizeof *nv);
				memcpy(nl, r->meta_lens, r->nmeta * sizeof *nl);
			}
			r->meta_keys = nk, r->meta_vals = nv, r->meta_lens = nl;
		}
		for (int64_t i = 0; i < cnt; i++) {
			for (int kv = 0; kv < 2; kv++) {
				int64_t n = br_cur_varint(&c);
				const uint8_t *s = (n >= 0 && !c.bad) ? br_cur_take(&c, (size_t)n) : NULL;
				if (!s)
					return rd_err(r, err, BR_ECORRUPT, "truncated header metadata entry%s", NULL);
				char *copy = br_arena_strndup(&r->arena, (const char *)s, (size_t)n);
				if (kv == 0) {
					r->meta_keys[r->nmeta] = copy;
				} else {
					r->meta_vals[r->nmeta] = (uint8_t *)copy;
					r->meta_lens[r->nmeta] = (size_t)n;
				}
			}
			r->nmeta++;
		}
	}
	const uint8_t *sync = br_cur_take(&c, 16);
	if (!sync)
		return rd_err(r, err, BR_ECORRUPT, "truncated header (no sync marker)%s", NULL);
	memcpy(r->sync, sync, 16);
	const char *schema = NULL;
	size_t schema_len = 0;
	for (size_t i = 0; i < r->nmeta; i++)
		if (!strcmp(r->meta_keys[i], "avro.schema"))
			schema = (const char *)r->meta_vals[i], schema_len = r->meta_lens[i];
	if (!schema)
		return rd_err(r, err, BR_ECORRUPT, "header has no avro.schema%s", NULL);
	int rc = br_avro_schema_parse(&r->arena, schema, schema_len, &r->schema, err);
	if (rc)
		return br_errctx(err, "%s", r->name), rc;
	const char *codec = br_avro_reader_meta(r, "avro.codec");
	if (!codec || !strcmp(codec, "null"))
		r->codec = BR_AVRO_CODEC_NULL;
	else if (!strcmp(codec, "deflate"))
		r->codec = BR_AVRO_CODEC_DEFLATE;
	else if (!strcmp(codec, "snappy"))
		r->codec = BR_AVRO_CODEC_SNAPPY;
	else
		return rd_err(r, err, BR_EUNSUPPORTED, "unsupported codec \"%s\"", codec);
	r->file = c;
	return 0;
}

const char *br_avro_reader_meta(const br_avro_reader *r, const char *key)
{
	for (size_t i = 0; i < r->nmeta; i++)
		if (!strcmp(r->meta_keys[i], key))
			return (const char *)r->meta_vals[i];
	return NULL;
}

static int inflate_block(br_avro_reader *r, const uint8_t *p, size_t n, br_err *err)
{
	br_buf out = { 0 };
	z_stream z = { 0 };
	if (inflateInit2(&z, -15) != Z_OK)
		return br_errf(err, BR_ENOMEM, "%s: inflateInit failed", r->name);
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	int zrc;
	do {
		if (out.cap - out.len < 4096) {
			if (out.cap >= BR_AVRO_MAX_BLOCK) {
				inflateEnd(&z);
				br_buf_free(&out);
				return br_errf(err, BR_ELIMIT, "%s: block at offset %zu inflates past %u bytes", r->name,
					       r->block_off, BR_AVRO_MAX_BLOCK);
			}
			br_buf_reserve(&out, out.cap ? out.cap : n * 4 + 4096);
		}
		z.next_out = out.p + out.len;
		z.avail_out = (uInt)(out.cap - out.len);
		zrc = inflate(&z, Z_NO_FLUSH);
		out.len = (size_t)(z.next_out - out.p);
	} while (zrc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
	inflateEnd(&z);
	if (zrc != Z_STREAM_END && !(zrc == Z_OK && z.avail_in == 0) && !(zrc == Z_BUF_ERROR && z.avail_in == 0)) {
		br_buf_free(&out);
		return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu: corrupt deflate data", r->name, r->block_off);
	}
	uint8_t *copy = br_arena_alloc(&r->arena, out.len ? out.len : 1);
	if (out.len)
		memcpy(copy, out.p, out.len);
	r->block = br_cur_make(copy, out.len);
	br_buf_free(&out);
	return 0;
}

static int unsnappy_block(br_avro_reader *r, const uint8_t *p, size_t n, br_err *err)
{
	size_t ulen;
	if (n < 4 || snappy_uncompressed_length((const char *)p, n - 4, &ulen) != SNAPPY_OK)
		return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu: corrupt snappy data", r->name, r->block_off);
	if (ulen > BR_AVRO_MAX_BLOCK)
		return br_errf(err, BR_ELIMIT, "%s: block at offset %zu claims %zu uncompressed bytes", r->name,
			       r->block_off, ulen);
	uint8_t *out = br_arena_alloc(&r->arena, ulen ? ulen : 1);
	if (snappy_uncompress((const char *)p, n - 4, (char *)out, &ulen) != SNAPPY_OK)
		return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu: corrupt snappy data", r->name, r->block_off);
	if ((uint32_t)crc32(0, out, (uInt)ulen) != br_rd_be32(p + n - 4))
		return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu: snappy CRC-32 mismatch", r->name,
			       r->block_off);
	r->block = br_cur_make(out, ulen);
	return 0;
}

static int next_block(br_avro_reader *r, br_err *err)
{
	br_cur *c = &r->file;
	r->block_off = c->pos;
	int64_t cnt = br_cur_varint(c);
	int64_t size = br_cur_varint(c);
	if (c->bad)
		return br_errf(err, BR_ECORRUPT, "%s: truncated block header at offset %zu", r->name, r->block_off);
	if (cnt <= 0 || size < 0 || (uint64_t)size > br_cur_left(c))
		return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu: bad record count %lld or size %lld (%zu bytes left)",
			       r->name, r->block_off, (long long)cnt, (long long)size, br_cur_left(c));
	const uint8_t *data = br_cur_take(c, (size_t)size);
	const uint8_t *sync = br_cur_take(c, 16);
	if (!sync)
		return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu is truncated (no sync marker)", r->name,
			       r->block_off);
	if (memcmp(sync, r->sync, 16))
		return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu: sync marker mismatch", r->name, r->block_off);
	int rc = 0;
	if (r->codec == BR_AVRO_CODEC_DEFLATE)
		rc = inflate_block(r, data, (size_t)size, err);
	else if (r->codec == BR_AVRO_CODEC_SNAPPY)
		rc = unsnappy_block(r, data, (size_t)size, err);
	else
		r->block = br_cur_make(data, (size_t)size);
	if (rc)
		return rc;
	if ((uint64_t)cnt > br_cur_left(&r->block) + BR_AVRO_ZERO_SLACK)
		return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu claims %lld records in %zu bytes", r->name,
			       r->block_off, (long long)cnt, br_cur_left(&r->block));
	r->block_left = cnt;
	return 0;
}

int br_avro_reader_next(br_avro_reader *r, br_arena *a, br_avro_val *out, br_err *err)
{
	if (r->block_left == 0) {
		if (br_cur_left(&r->block))
			return br_errf(err, BR_ECORRUPT, "%s: block at offset %zu has %zu bytes after its last record",
				       r->name, r->block_off, br_cur_left(&r->block));
		if (br_cur_left(&r->file) == 0)
			return 0;
		int rc = next_block(r, err);
		if (rc)
			return rc;
	}
	int rc = br_avro_decode(&r->block, a ? a : &r->arena, r->schema, out, err);
	if (rc)
		return br_errctx(err, "%s: record %lld (block at offset %zu)", r->name, (long long)r->record_no,
				 r->block_off),
		       rc;
	r->block_left--;
	r->record_no++;
	return 1;
}

void br_avro_reader_free(br_avro_reader *r)
{
	br_arena_free(&r->arena);
}
