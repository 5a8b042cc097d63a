/* types.c — br_type trees, br_schema indexes, the Iceberg JSON form of both
 * (Iceberg spec, Appendix C "JSON serialization"), br_value ordering and text,
 * and the Arrow-layout br_batch builder. */
#include "types.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---------------------------------------------------------------- types */

static const char *const prim_names[BR_T__COUNT] = {
	[BR_T_BOOLEAN] = "boolean", [BR_T_INT] = "int",       [BR_T_LONG] = "long",
	[BR_T_FLOAT] = "float",     [BR_T_DOUBLE] = "double", [BR_T_DECIMAL] = "decimal",
	[BR_T_DATE] = "date",       [BR_T_TIME] = "time",     [BR_T_TIMESTAMP] = "timestamp",
	[BR_T_TIMESTAMPTZ] = "timestamptz", [BR_T_STRING] = "string", [BR_T_UUID] = "uuid",
	[BR_T_FIXED] = "fixed",     [BR_T_BINARY] = "binary", [BR_T_STRUCT] = "struct",
	[BR_T_LIST] = "list",       [BR_T_MAP] = "map",
};

br_type *br_type_new(br_type_id id)
{
	br_type *t = br_xcalloc(1, sizeof *t);
	t->id = id;
	if (id == BR_T_UUID)
		t->length = 16;
	return t;
}

br_type *br_type_decimal(int precision, int scale)
{
	br_type *t = br_type_new(BR_T_DECIMAL);
	t->precision = precision;
	t->scale = scale;
	return t;
}

br_type *br_type_fixed(int length)
{
	br_type *t = br_type_new(BR_T_FIXED);
	t->length = length;
	return t;
}

br_type *br_type_struct(void) { return br_type_new(BR_T_STRUCT); }

static br_field *add_child(br_type *t, int id, const char *name, bool required, br_type *ft, const char *doc)
{
	t->children = br_xrealloc(t->children, (size_t)(t->nchildren + 1) * sizeof *t->children);
	br_field *f = &t->children[t->nchildren++];
	memset(f, 0, sizeof *f);
	f->id = id;
	f->name = br_xstrdup(name);
	f->required = required;
	f->type = ft;
	f->doc = doc ? br_xstrdup(doc) : NULL;
	return f;
}

br_field *br_type_struct_add(br_type *st, int id, const char *name, bool required, br_type *t, const char *doc)
{
	return add_child(st, id, name, required, t, doc);
}

br_type *br_type_list(int element_id, bool element_required, br_type *element)
{
	br_type *t = br_type_new(BR_T_LIST);
	add_child(t, element_id, "element", element_required, element, NULL);
	return t;
}

br_type *br_type_map(int key_id, br_type *key, int value_id, bool value_required, br_type *value)
{
	br_type *t = br_type_new(BR_T_MAP);
	add_child(t, key_id, "key", true, key, NULL);
	add_child(t, value_id, "value", value_required, value, NULL);
	return t;
}

void br_type_free(br_type *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nchildren; i++) {
		br_field *f = &t->children[i];
		free(f->name);
		free(f->doc);
		free(f->initial_default);
		free(f->write_default);
		br_type_free(f->type);
	}
	free(t->children);
	free(t);
}

static char *dup_or_null(const char *s) { return s ? br_xstrdup(s) : NULL; }

br_type *br_type_clone(const br_type *t)
{
	br_type *c = br_xcalloc(1, sizeof *c);
	*c = *t;
	c->children = NULL;
	if (t->nchildren) {
		c->children = br_xcalloc((size_t)t->nchildren, sizeof *c->children);
		for (int i = 0; i < t->nchildren; i++) {
			const br_field *f = &t->children[i];
			br_field *g = &c->children[i];
			*g = *f;
			g->name = br_xstrdup(f->name);
			g->doc = dup_or_null(f->doc);
			g->initial_default = dup_or_null(f->initial_default);
			g->write_default = dup_or_null(f->write_default);
			g->type = br_type_clone(f->type);
		}
	}
	return c;
}

bool br_type_equal(const br_type *a, const br_type *b)
{
	if (a->id != b->id || a->nchildren != b->nchildren)
		return false;
	if (a->id == BR_T_DECIMAL && (a->precision != b->precision || a->scale != b->scale))
		return false;
	if (a->id == BR_T_FIXED && a->length != b->length)
		return false;
	for (int i = 0; i < a->nchildren; i++) {
		const br_field *f = &a->children[i], *g = &b->children[i];
		if (f->id != g->id || f->required != g->required || strcmp(f->name, g->name) != 0 ||
		    !br_type_equal(f->type, g->type))
			return false;
	}
	return true;
}

const char *br_type_name(const br_type *t, char *buf, size_t cap)
{
	if (t->id == BR_T_DECIMAL)
		snprintf(buf, cap, "decimal(%d, %d)", t->precision, t->scale);
	else if (t->id == BR_T_FIXED)
		snprintf(buf, cap, "fixed[%d]", t->length);
	else
		snprintf(buf, cap, "%s", t->id < BR_T__COUNT ? prim_names[t->id] : "?");
	return buf;
}

int br_type_width(const br_type *t)
{
	switch (t->id) {
	case BR_T_INT: case BR_T_DATE: case BR_T_FLOAT:
		return 4;
	case BR_T_LONG: case BR_T_TIME: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ: case BR_T_DOUBLE:
		return 8;
	case BR_T_DECIMAL: case BR_T_UUID:
		return 16;
	case BR_T_FIXED:
		return t->length;
	default:
		return 0;
	}
}

/* ----------------------------------------------------------- type JSON */

static int parse_prim(const char *s, br_type **out, br_err *err)
{
	for (int i = 0; i < BR_T__COUNT; i++) {
		if (i == BR_T_DECIMAL || i == BR_T_FIXED || i >= BR_T_STRUCT)
			continue;
		if (strcmp(s, prim_names[i]) == 0) {
			*out = br_type_new((br_type_id)i);
			return 0;
		}
	}
	int p, sc, n = 0;
	if (sscanf(s, "decimal ( %d , %d )%n", &p, &sc, &n) == 2 && n > 0 && s[n] == 0) {
		if (p < 1 || p > 38 || sc < 0 || sc > p)
			return br_errf(err, BR_EINVAL, "type \"%s\": decimal precision must be 1..38 and scale 0..precision", s);
		*out = br_type_decimal(p, sc);
		return 0;
	}
	n = 0;
	if (sscanf(s, "fixed [ %d ]%n", &p, &n) == 1 && n > 0 && s[n] == 0) {
		if (p < 1 || p > (1 << 24))
			return br_errf(err, BR_EINVAL, "type \"%s\": fixed length out of range", s);
		*out = br_type_fixed(p);
		return 0;
	}
	return br_errf(err, BR_EUNSUPPORTED, "unknown or unsupported type \"%s\"", s);
}

static int get_int(const json_t *o, const char *k, int *v, const char *ctx, br_err *err)
{
	json_t *x = json_object_get(o, k);
	if (!json_is_integer(x) || json_integer_value(x) < INT32_MIN || json_integer_value(x) > INT32_MAX)
		return br_errf(err, BR_EINVAL, "%s: \"%s\" must be an integer", ctx, k);
	*v = (int)json_integer_value(x);
	return 0;
}

static int get_bool(const json_t *o, const char *k, bool *v, const char *ctx, br_err *err)
{
	json_t *x = json_object_get(o, k);
	if (!json_is_boolean(x))
		return br_errf(err, BR_EINVAL, "%s: \"%s\" must be true or false", ctx, k);
	*v = json_is_true(x);
	return 0;
}

static char *json_text(const json_t *j)
{
	return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static int type_from_json(const json_t *j, br_type **out, int depth, br_err *err)
{
	*out = NULL;
	if (depth > 64)
		return br_errf(err, BR_EINVAL, "type nesting deeper than 64");
	if (json_is_string(j))
		return parse_prim(json_string_value(j), out, err);
	if (!json_is_object(j))
		return br_errf(err, BR_EINVAL, "a type must be a string or an object");
	const char *kind = json_string_value(json_object_get(j, "type"));
	if (!kind)
		return br_errf(err, BR_EINVAL, "nested type without a \"type\" string");
	int rc;
	if (strcmp(kind, "struct") == 0) {
		json_t *fields = json_object_get(j, "fields");
		if (!json_is_array(fields))
			return br_errf(err, BR_EINVAL, "struct without a \"fields\" array");
		br_type *st = br_type_struct();
		size_t i;
		json_t *f;
		json_array_foreach(fields, i, f) {
			int id = 0;
			bool req = false;
			const char *name = json_string_value(json_object_get(f, "name"));
			char ctx[64];
			snprintf(ctx, sizeof ctx, "struct field %zu", i);
			if (!json_is_object(f) || !name) {
				br_type_free(st);
				return br_errf(err, BR_EINVAL, "%s: not an object with a \"name\"", ctx);
			}
			br_type *ft = NULL;
			if ((rc = get_int(f, "id", &id, ctx, err)) || (rc = get_bool(f, "required", &req, ctx, err)) ||
			    (rc = type_from_json(json_object_get(f, "type"), &ft, depth + 1, err))) {
				br_type_free(st);
				return rc == 0 ? rc : br_errctx(err, "field \"%s\"", name);
			}
			br_field *nf = br_type_struct_add(st, id, name, req, ft,
							  json_string_value(json_object_get(f, "doc")));
			nf->initial_default = json_text(json_object_get(f, "initial-default"));
			nf->write_default = json_text(json_object_get(f, "write-default"));
		}
		*out = st;
		return 0;
	}
	if (strcmp(kind, "list") == 0) {
		int id = 0;
		bool req = false;
		br_type *et = NULL;
		if ((rc = get_int(j, "element-id", &id, "list", err)) ||
		    (rc = get_bool(j, "element-required", &req, "list", err)))
			return rc;
		if ((rc = type_from_json(json_object_get(j, "element"), &et, depth + 1, err)))
			return br_errctx(err, "list element");
		*out = br_type_list(id, req, et);
		return 0;
	}
	if (strcmp(kind, "map") == 0) {
		int kid = 0, vid = 0;
		bool vreq = false;
		br_type *kt = NULL, *vt = NULL;
		if ((rc = get_int(j, "key-id", &kid, "map", err)) || (rc = get_int(j, "value-id", &vid, "map", err)) ||
		    (rc = get_bool(j, "value-required", &vreq, "map", err)))
			return rc;
		if ((rc = type_from_json(json_object_get(j, "key"), &kt, depth + 1, err)))
			return br_errctx(err, "map key");
		if ((rc = type_from_json(json_object_get(j, "value"), &vt, depth + 1, err))) {
			br_type_free(kt);
			return br_errctx(err, "map value");
		}
		*out = br_type_map(kid, kt, vid, vreq, vt);
		return 0;
	}
	return br_errf(err, BR_EUNSUPPORTED, "unknown nested type \"%s\"", kind);
}

int br_type_from_json(const json_t *j, br_type **out, br_err *err) { return type_from_json(j, out, 0, err); }

static void put_default(json_t *o, const char *k, const char *text)
{
	if (!text)
		return;
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
	if (v)
		json_object_set_new(o, k, v);
}

json_t *br_type_to_json(const br_type *t)
{
	char name[64];
	switch (t->id) {
	case BR_T_STRUCT: {
		json_t *o = json_object(), *fields = json_array();
		json_object_set_new(o, "type", json_string("struct"));
		for (int i = 0; i < t->nchildren; i++) {
			const br_field *f = &t->children[i];
			json_t *fo = json_object();
			json_object_set_new(fo, "id", json_integer(f->id));
			json_object_set_new(fo, "name", json_string(f->name));
			json_object_set_new(fo, "required", json_boolean(f->required));
			json_object_set_new(fo, "type", br_type_to_json(f->type));
			if (f->doc)
				json_object_set_new(fo, "doc", json_string(f->doc));
			put_default(fo, "initial-default", f->initial_default);
			put_default(fo, "write-default", f->write_default);
			json_array_append_new(fields, fo);
		}
		json_object_set_new(o, "fields", fields);
		return o;
	}
	case BR_T_LIST: {
		json_t *o = json_object();
		json_object_set_new(o, "type", json_string("list"));
		json_object_set_new(o, "element-id", json_integer(t->children[0].id));
		json_object_set_new(o, "element", br_type_to_json(t->children[0].type));
		json_object_set_new(o, "element-required", json_boolean(t->children[0].required));
		return o;
	}
	case BR_T_MAP: {
		json_t *o = json_object();
		json_object_set_new(o, "type", json_string("map"));
		json_object_set_new(o, "key-id", json_integer(t->children[0].id));
		json_object_set_new(o, "key", br_type_to_json(t->children[0].type));
		json_object_set_new(o, "value-id", json_integer(t->children[1].id));
		json_object_set_new(o, "value", br_type_to_json(t->children[1].type));
		json_object_set_new(o, "value-required", json_boolean(t->children[1].required));
		return o;
	}
	default:
		if (t->id == BR_T_DECIMAL)
			snprintf(name, sizeof name, "decimal(%d,%d)", t->precision, t->scale);
		else
			br_type_name(t, name, sizeof name);
		return json_string(name);
	}
}

/* --------------------------------------------------------------- schema */

static void id_key(int id, char *buf, size_t cap) { snprintf(buf, cap, "%d", id); }

static int index_type(br_schema *s, br_type *t, br_field *parent, const char *prefix, br_err *err)
{
	for (int i = 0; i < t->nchildren; i++) {
		br_field *f = &t->children[i];
		char key[16];
		if (f->id <= 0)
			return br_errf(err, BR_EINVAL, "field \"%s\" has id %d; ids must be positive", f->name, f->id);
		id_key(f->id, key, sizeof key);
		if (br_map_gets(&s->by_id, key))
			return br_errf(err, BR_EINVAL, "field id %d is used twice (\"%s\")", f->id, f->name);
		br_map_put(&s->by_id, key, strlen(key), f);
		if (parent)
			br_map_put(&s->parent_of, key, strlen(key), parent);
		char *full = prefix ? br_xasprintf("%s.%s", prefix, f->name) : br_xstrdup(f->name);
		br_map_put(&s->by_name, full, strlen(full), f);
		if (f->id > s->max_id)
			s->max_id = f->id;
		int rc = index_type(s, f->type, f, full, err);
		free(full);
		if (rc)
			return rc;
	}
	return 0;
}

int br_schema_new(int schema_id, br_type *root, br_schema **out, br_err *err)
{
	*out = NULL;
	if (!root || root->id != BR_T_STRUCT) {
		br_type_free(root);
		return br_errf(err, BR_EINVAL, "a schema must be a struct");
	}
	br_schema *s = br_xcalloc(1, sizeof *s);
	s->schema_id = schema_id;
	s->root = root;
	int rc = index_type(s, root, NULL, NULL, err);
	if (rc) {
		br_schema_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void br_schema_free(br_schema *s)
{
	if (!s)
		return;
	br_type_free(s->root);
	free(s->identifier_field_ids);
	br_map_free(&s->by_name);
	br_map_free(&s->by_id);
	br_map_free(&s->parent_of);
	free(s);
}

br_schema *br_schema_clone(const br_schema *s)
{
	br_schema *c;
	/* Cannot fail: the source was already validated. */
	if (br_schema_new(s->schema_id, br_type_clone(s->root), &c, NULL))
		return NULL;
	br_schema_set_identifiers(c, s->identifier_field_ids, s->nidentifier);
	return c;
}

const br_field *br_schema_find_id(const br_schema *s, int id)
{
	char key[16];
	id_key(id, key, sizeof key);
	return br_map_gets(&s->by_id, key);
}

const br_field *br_schema_find_name(const br_schema *s, const char *full_name)
{
	return br_map_gets(&s->by_name, full_name);
}

const br_field *br_schema_parent(const br_schema *s, int id)
{
	char key[16];
	id_key(id, key, sizeof key);
	return br_map_gets(&s->parent_of, key);
}

void br_schema_set_identifiers(br_schema *s, const int *ids, int n)
{
	free(s->identifier_field_ids);
	s->identifier_field_ids = NULL;
	s->nidentifier = 0;
	if (n > 0) {
		s->identifier_field_ids = br_xmalloc((size_t)n * sizeof(int));
		memcpy(s->identifier_field_ids, ids, (size_t)n * sizeof(int));
		s->nidentifier = n;
	}
}

int br_schema_from_json(const json_t *j, br_schema **out, br_err *err)
{
	*out = NULL;
	if (!json_is_object(j))
		return br_errf(err, BR_EINVAL, "schema: not a JSON object");
	const char *kind = json_string_value(json_object_get(j, "type"));
	if (!kind || strcmp(kind, "struct") != 0)
		return br_errf(err, BR_EINVAL, "schema: \"type\" must be \"struct\"");
	int sid = 0;
	json_t *jsid = json_object_get(j, "schema-id");
	if (jsid) {
		if (!json_is_integer(jsid))
			return br_errf(err, BR_EINVAL, "schema: \"schema-id\" must be an integer");
		sid = (int)json_integer_value(jsid);
	}
	br_type *root;
	int rc = br_type_from_json(j, &root, err);
	if (rc)
		return br_errctx(err, "schema");
	if ((rc = br_schema_new(sid, root, out, err)))
		return br_errctx(err, "schema");
	json_t *ids = json_object_get(j, "identifier-field-ids");
	if (json_is_array(ids) && json_array_size(ids) > 0) {
		int n = (int)json_array_size(ids);
		int *v = br_xmalloc((size_t)n * sizeof(int));
		for (int i = 0; i < n; i++) {
			json_t *x = json_array_get(ids, (size_t)i);
			v[i] = json_is_integer(x) ? (int)json_integer_value(x) : 0;
			if (!br_schema_find_id(*out, v[i])) {
				int bad = v[i];
				free(v);
				br_schema_free(*out);
				*out = NULL;
				return br_errf(err, BR_EINVAL, "schema: identifier field %d is not a field", bad);
			}
		}
		br_schema_set_identifiers(*out, v, n);
		free(v);
	}
	return 0;
}

int br_schema_parse(const char *text, size_t len, br_schema **out, br_err *err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je);
	*out = NULL;
	if (!j)
		return br_errf(err, BR_EINVAL, "schema JSON, line %d column %d: %s", je.line, je.column, je.text);
	int rc = br_schema_from_json(j, out, err);
	json_decref(j);
	return rc;
}

json_t *br_schema_to_json(const br_schema *s)
{
	json_t *o = br_type_to_json(s->root);
	json_object_set_new(o, "schema-id", json_integer(s->schema_id));
	if (s->nidentifier) {
		json_t *a = json_array();
		for (int i = 0; i < s->nidentifier; i++)
			json_array_append_new(a, json_integer(s->identifier_field_ids[i]));
		json_object_set_new(o, "identifier-field-ids", a);
	}
	return o;
}

char *br_schema_print(const br_schema *s)
{
	json_t *o = br_schema_to_json(s);
	char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return t;
}

/* ---------------------------------------------------------------- values */

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int c = memcmp(a, b, BR_MIN(an, bn));
	if (c)
		return c < 0 ? -1 : 1;
	return an < bn ? -1 : an > bn;
}

#define CMP3(x, y) ((x) < (y) ? -1 : (x) > (y))

int br_value_cmp(const br_value *a, const br_value *b)
{
	if (a->is_null || b->is_null)
		return (int)b->is_null - (int)a->is_null; /* nulls first */
	switch (a->type) {
	case BR_T_BOOLEAN:
		return CMP3(a->v.b, b->v.b);
	case BR_T_INT: case BR_T_DATE:
		return CMP3(a->v.i32, b->v.i32);
	case BR_T_LONG: case BR_T_TIME: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ:
		return CMP3(a->v.i64, b->v.i64);
	case BR_T_FLOAT:
		if (isnan(a->v.f32) || isnan(b->v.f32))
			return (int)(isnan(a->v.f32) != 0) - (int)(isnan(b->v.f32) != 0);
		return CMP3(a->v.f32, b->v.f32);
	case BR_T_DOUBLE:
		if (isnan(a->v.f64) || isnan(b->v.f64))
			return (int)(isnan(a->v.f64) != 0) - (int)(isnan(b->v.f64) != 0);
		return CMP3(a->v.f64, b->v.f64);
	case BR_T_DECIMAL:
		return CMP3(a->v.dec, b->v.dec);
	default:
		return cmp_bytes(a->v.bytes.p, a->v.bytes.len, b->v.bytes.p, b->v.bytes.len);
	}
}

static int64_t floordiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

static void fmt_time_us(int64_t us, br_buf *out)
{
	int64_t s = us / 1000000;
	br_buf_printf(out, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
	if (us % 1000000)
		br_buf_printf(out, ".%06d", (int)(us % 1000000));
}

static void fmt_dec(__int128 v, int scale, br_buf *out)
{
	char digits[64];
	int n = 0;
	bool neg = v < 0;
	unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
	do {
		digits[n++] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u);
	while (n <= scale)
		digits[n++] = '0';
	if (neg)
		br_buf_u8(out, '-');
	for (int i = n - 1; i >= 0; i--) {
		br_buf_u8(out, (uint8_t)digits[i]);
		if (i == scale && scale > 0)
			br_buf_u8(out, '.');
	}
}

void br_value_format(const br_value *v, const br_type *t, br_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	if (v->is_null) {
		br_buf_printf(out, "null");
		return;
	}
	int64_t y;
	int m, d;
	switch (v->type) {
	case BR_T_BOOLEAN: br_buf_printf(out, v->v.b ? "true" : "false"); break;
	case BR_T_INT: br_buf_printf(out, "%" PRId32, v->v.i32); break;
	case BR_T_LONG: br_buf_printf(out, "%" PRId64, v->v.i64); break;
	case BR_T_FLOAT: br_buf_printf(out, "%.9g", (double)v->v.f32); break;
	case BR_T_DOUBLE: br_buf_printf(out, "%.17g", v->v.f64); break;
	case BR_T_DECIMAL: fmt_dec(v->v.dec, t ? t->scale : 0, out); break;
	case BR_T_DATE:
		br_civil_from_days(v->v.i32, &y, &m, &d);
		br_buf_printf(out, "%04" PRId64 "-%02d-%02d", y, m, d);
		break;
	case BR_T_TIME: fmt_time_us(v->v.i64, out); break;
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ: {
		int64_t days = floordiv(v->v.i64, 86400000000LL);
		br_civil_from_days(days, &y, &m, &d);
		br_buf_printf(out, "%04" PRId64 "-%02d-%02dT", y, m, d);
		fmt_time_us(v->v.i64 - days * 86400000000LL, out);
		if (v->type == BR_T_TIMESTAMPTZ)
			br_buf_printf(out, "+00:00");
		break;
	}
	case BR_T_STRING: br_buf_put(out, v->v.bytes.p, v->v.bytes.len); break;
	case BR_T_UUID:
		for (size_t i = 0; i < v->v.bytes.len; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				br_buf_u8(out, '-');
			br_buf_u8(out, (uint8_t)hex[v->v.bytes.p[i] >> 4]);
			br_buf_u8(out, (uint8_t)hex[v->v.bytes.p[i] & 15]);
		}
		break;
	default: /* fixed, binary: hex */
		for (size_t i = 0; i < v->v.bytes.len; i++) {
			br_buf_u8(out, (uint8_t)hex[v->v.bytes.p[i] >> 4]);
			br_buf_u8(out, (uint8_t)hex[v->v.bytes.p[i] & 15]);
		}
		break;
	}
}

/* ----------------------------------------------------------------- batch */

static void bit_put(br_buf *bm, int64_t i, bool v)
{
	size_t need = (size_t)(i >> 3) + 1;
	if (bm->len < need)
		br_buf_grow(bm, need - bm->len);
	if (v)
		bm->p[i >> 3] |= (uint8_t)(1u << (i & 7));
	else
		bm->p[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static bool has_offsets(const br_type *t)
{
	return t->id == BR_T_STRING || t->id == BR_T_BINARY || t->id == BR_T_LIST || t->id == BR_T_MAP;
}

static void put_off(br_col *c, int64_t v)
{
	int32_t o = (int32_t)v;
	br_buf_put(&c->offsets, &o, 4);
}

void br_col_init(br_col *c, const br_type *t)
{
	memset(c, 0, sizeof *c);
	c->type = t;
	if (has_offsets(t))
		put_off(c, 0);
	if (t->nchildren > 0) {
		c->nchildren = t->nchildren;
		c->children = br_xcalloc((size_t)t->nchildren, sizeof *c->children);
		for (int i = 0; i < t->nchildren; i++)
			br_col_init(&c->children[i], t->children[i].type);
	}
}

void br_col_free(br_col *c)
{
	br_buf_free(&c->validity);
	br_buf_free(&c->values);
	br_buf_free(&c->offsets);
	for (int i = 0; i < c->nchildren; i++)
		br_col_free(&c->children[i]);
	free(c->children);
	memset(c, 0, sizeof *c);
}

void br_col_reset(br_col *c)
{
	c->len = c->null_count = 0;
	c->validity.len = c->values.len = c->offsets.len = 0;
	if (has_offsets(c->type))
		put_off(c, 0);
	for (int i = 0; i < c->nchildren; i++)
		br_col_reset(&c->children[i]);
}

/* The bitmap is materialised at the first null: all earlier slots are valid. */
static void mark_valid(br_col *c, bool valid)
{
	if (!valid && c->validity.len == 0) {
		for (int64_t i = 0; i < c->len; i++)
			bit_put(&c->validity, i, true);
	}
	if (c->validity.len || !valid)
		bit_put(&c->validity, c->len, valid);
	if (!valid)
		c->null_count++;
}

static int64_t child_end(const br_col *c)
{
	return c->nchildren ? c->children[0].len : 0;
}

void br_col_append_null(br_col *c)
{
	mark_valid(c, false);
	switch (c->type->id) {
	case BR_T_BOOLEAN:
		bit_put(&c->values, c->len, false);
		break;
	case BR_T_STRING: case BR_T_BINARY:
		put_off(c, (int64_t)c->values.len);
		break;
	case BR_T_LIST: case BR_T_MAP:
		put_off(c, child_end(c));
		break;
	case BR_T_STRUCT:
		for (int i = 0; i < c->nchildren; i++)
			br_col_append_null(&c->children[i]);
		break;
	default:
		br_buf_grow(&c->values, (size_t)br_type_width(c->type));
		break;
	}
	c->len++;
}

void br_col_append_bool(br_col *c, bool v)
{
	mark_valid(c, true);
	bit_put(&c->values, c->len, v);
	c->len++;
}

void br_col_append_i32(br_col *c, int32_t v)
{
	mark_valid(c, true);
	br_buf_put(&c->values, &v, 4);
	c->len++;
}

void br_col_append_i64(br_col *c, int64_t v)
{
	mark_valid(c, true);
	br_buf_put(&c->values, &v, 8);
	c->len++;
}

void br_col_append_f32(br_col *c, float v)
{
	mark_valid(c, true);
	br_buf_put(&c->values, &v, 4);
	c->len++;
}

void br_col_append_f64(br_col *c, double v)
{
	mark_valid(c, true);
	br_buf_put(&c->values, &v, 8);
	c->len++;
}

void br_col_append_dec(br_col *c, __int128 unscaled)
{
	mark_valid(c, true);
	br_buf_put(&c->values, &unscaled, 16);
	c->len++;
}

void br_col_append_bytes(br_col *c, const void *p, size_t n)
{
	mark_valid(c, true);
	if (c->type->id == BR_T_STRING || c->type->id == BR_T_BINARY) {
		br_buf_put(&c->values, p, n);
		put_off(c, (int64_t)c->values.len);
	} else {
		size_t w = (size_t)br_type_width(c->type);
		uint8_t *d = br_buf_grow(&c->values, w);
		memcpy(d, p, BR_MIN(n, w));
	}
	c->len++;
}

void br_col_append_struct(br_col *c)
{
	mark_valid(c, true);
	c->len++;
}

void br_col_close_list(br_col *c)
{
	mark_valid(c, true);
	put_off(c, child_end(c));
	c->len++;
}

void br_col_append_value(br_col *c, const br_value *v)
{
	if (v->is_null) {
		br_col_append_null(c);
		return;
	}
	switch (c->type->id) {
	case BR_T_BOOLEAN: br_col_append_bool(c, v->v.b); break;
	case BR_T_INT: case BR_T_DATE: br_col_append_i32(c, v->v.i32); break;
	case BR_T_LONG: case BR_T_TIME: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ: br_col_append_i64(c, v->v.i64); break;
	case BR_T_FLOAT: br_col_append_f32(c, v->v.f32); break;
	case BR_T_DOUBLE: br_col_append_f64(c, v->v.f64); break;
	case BR_T_DECIMAL: br_col_append_dec(c, v->v.dec); break;
	default: br_col_append_bytes(c, v->v.bytes.p, v->v.bytes.len); break;
	}
}

void br_col_append_raw(br_col *c, const void *p, int64_t n)
{
	if (n <= 0)
		return;
	if (c->validity.len) {
		for (int64_t i = 0; i < n; i++)
			bit_put(&c->validity, c->len + i, true);
	}
	br_buf_put(&c->values, p, (size_t)n * (size_t)br_type_width(c->type));
	c->len += n;
}

void br_col_append_strings(br_col *dst, const br_col *src, const uint32_t *idx, int64_t start, int64_t n)
{
	if (n <= 0)
		return;
	const int32_t *so = (const int32_t *)(const void *)src->offsets.p;
	size_t total = 0;
	for (int64_t k = 0; k < n; k++) {
		int64_t i = idx ? idx[k] : start + k;
		total += (size_t)(so[i + 1] - so[i]);
	}
	br_buf_reserve(&dst->values, total);
	br_buf_reserve(&dst->offsets, 4 * (size_t)n);
	uint8_t *vp = dst->values.p + dst->values.len;
	int32_t *op = (int32_t *)(void *)(dst->offsets.p + dst->offsets.len);
	int32_t end = (int32_t)dst->values.len;
	for (int64_t k = 0; k < n; k++) {
		int64_t i = idx ? idx[k] : start + k;
		int32_t len = so[i + 1] - so[i];
		memcpy(vp, src->values.p + so[i], (size_t)len);
		vp += len;
		end += len;
		op[k] = end;
	}
	dst->values.len += total;
	dst->offsets.len += 4 * (size_t)n;
	if (dst->validity.len)
		for (int64_t k = 0; k < n; k++)
			bit_put(&dst->validity, dst->len + k, true);
	dst->len += n;
}

void br_col_append_from(br_col *dst, const br_col *src, int64_t i)
{
	if (!br_col_valid(src, i)) {
		br_col_append_null(dst);
		return;
	}
	switch (src->type->id) {
	case BR_T_BOOLEAN: br_col_append_bool(dst, br_col_bool(src, i)); return;
	case BR_T_STRUCT:
		for (int k = 0; k < src->nchildren; k++)
			br_col_append_from(&dst->children[k], &src->children[k], i);
		br_col_append_struct(dst);
		return;
	case BR_T_LIST: case BR_T_MAP: {
		int64_t s, e;
		br_col_range(src, i, &s, &e);
		for (int64_t j = s; j < e; j++)
			for (int k = 0; k < src->nchildren; k++)
				br_col_append_from(&dst->children[k], &src->children[k], j);
		br_col_close_list(dst);
		return;
	}
	case BR_T_STRING: case BR_T_BINARY: {
		size_t n;
		const uint8_t *p = br_col_bytes(src, i, &n);
		br_col_append_bytes(dst, p, n);
		return;
	}
	default: {
		/* fixed width: copy the slot's bytes */
		size_t w = (size_t)br_type_width(src->type);
		mark_valid(dst, true);
		br_buf_put(&dst->values, src->values.p + w * (size_t)i, w);
		dst->len++;
		return;
	}
	}
}

const uint8_t *br_col_bytes(const br_col *c, int64_t i, size_t *len)
{
	if (c->type->id == BR_T_STRING || c->type->id == BR_T_BINARY) {
		int32_t s = br_col_off(c, i), e = br_col_off(c, i + 1);
		*len = (size_t)(e - s);
		return c->values.p + s;
	}
	size_t w = (size_t)br_type_width(c->type);
	*len = w;
	return c->values.p + w * (size_t)i;
}

br_value br_col_value(const br_col *c, int64_t i)
{
	br_value v = { 0 };
	v.type = c->type->id;
	if (!br_col_valid(c, i)) {
		v.is_null = true;
		return v;
	}
	switch (c->type->id) {
	case BR_T_BOOLEAN: v.v.b = br_col_bool(c, i); break;
	case BR_T_INT: case BR_T_DATE: v.v.i32 = br_col_i32(c, i); break;
	case BR_T_LONG: case BR_T_TIME: case BR_T_TIMESTAMP: case BR_T_TIMESTAMPTZ: v.v.i64 = br_col_i64(c, i); break;
	case BR_T_FLOAT: v.v.f32 = br_col_f32(c, i); break;
	case BR_T_DOUBLE: v.v.f64 = br_col_f64(c, i); break;
	case BR_T_DECIMAL: v.v.dec = br_col_dec(c, i); break;
	case BR_T_STRUCT: case BR_T_LIST: case BR_T_MAP: break;
	default: v.v.bytes.p = br_col_bytes(c, i, &v.v.bytes.len); break;
	}
	return v;
}

void br_batch_init(br_batch *b, const br_type *struct_type, bool has_weight)
{
	memset(b, 0, sizeof *b);
	b->type = struct_type;
	b->has_weight = has_weight;
	b->ncols = struct_type->nchildren;
	b->cols = br_xcalloc((size_t)BR_MAX(b->ncols, 1), sizeof *b->cols);
	for (int i = 0; i < b->ncols; i++)
		br_col_init(&b->cols[i], struct_type->children[i].type);
}

void br_batch_free(br_batch *b)
{
	for (int i = 0; i < b->ncols; i++)
		br_col_free(&b->cols[i]);
	free(b->cols);
	br_buf_free(&b->weights);
	memset(b, 0, sizeof *b);
}

void br_batch_reset(br_batch *b)
{
	for (int i = 0; i < b->ncols; i++)
		br_col_reset(&b->cols[i]);
	b->weights.len = 0;
	b->nrows = 0;
}

void br_batch_row_done(br_batch *b, int64_t weight)
{
	if (b->has_weight)
		br_buf_put(&b->weights, &weight, 8);
	b->nrows++;
}

static int validate_col(const br_col *c, int64_t len, const char *name, br_err *err)
{
	if (c->len != len)
		return br_errf(err, BR_EINVAL, "column %s has %" PRId64 " slots, expected %" PRId64, name, c->len, len);
	if (c->validity.len && c->validity.len < (size_t)((len + 7) / 8))
		return br_errf(err, BR_EINVAL, "column %s: validity bitmap too short", name);
	const br_type *t = c->type;
	int w = br_type_width(t);
	if (t->id == BR_T_BOOLEAN && c->values.len < (size_t)((len + 7) / 8))
		return br_errf(err, BR_EINVAL, "column %s: boolean values too short", name);
	if (w && c->values.len < (size_t)w * (size_t)len)
		return br_errf(err, BR_EINVAL, "column %s: values buffer too short", name);
	int64_t child_len = len;
	if (has_offsets(t)) {
		if (c->offsets.len < 4 * (size_t)(len + 1))
			return br_errf(err, BR_EINVAL, "column %s: offsets too short", name);
		for (int64_t i = 0; i < len; i++)
			if (br_col_off(c, i + 1) < br_col_off(c, i) || br_col_off(c, 0) < 0)
				return br_errf(err, BR_EINVAL, "column %s: offsets decrease at slot %" PRId64, name, i);
		int64_t end = br_col_off(c, len);
		if ((t->id == BR_T_STRING || t->id == BR_T_BINARY) && (size_t)end > c->values.len)
			return br_errf(err, BR_EINVAL, "column %s: offsets point past the bytes", name);
		child_len = end;
	}
	if (c->nchildren != t->nchildren)
		return br_errf(err, BR_EINVAL, "column %s: %d children, type has %d", name, c->nchildren, t->nchildren);
	for (int i = 0; i < c->nchildren; i++) {
		char *cn = br_xasprintf("%s.%s", name, t->children[i].name);
		int rc = validate_col(&c->children[i], t->id == BR_T_STRUCT ? len : child_len, cn, err);
		free(cn);
		if (rc)
			return rc;
	}
	return 0;
}

int br_batch_validate(const br_batch *b, br_err *err)
{
	if (b->ncols != b->type->nchildren)
		return br_errf(err, BR_EINVAL, "batch has %d columns, type has %d", b->ncols, b->type->nchildren);
	if (b->has_weight && b->weights.len < 8 * (size_t)b->nrows)
		return br_errf(err, BR_EINVAL, "batch weight column too short");
	for (int i = 0; i < b->ncols; i++) {
		int rc = validate_col(&b->cols[i], b->nrows, b->type->children[i].name, err);
		if (rc)
			return rc;
	}
	return 0;
}
