/* metadata.c — Iceberg table metadata JSON (format v2, table spec "Table
 * Metadata" and Appendix C): parsing with validation of every required field,
 * the initial document of a new table, snapshot bookkeeping, partition specs.
 *
 * Document (fields braid writes; all v2-required ones are checked on read):
 *   format-version 2, table-uuid, location ("file:///..."),
 *   last-sequence-number, last-updated-ms, last-column-id,
 *   schemas [ {schema-id, type:"struct", fields} ], current-schema-id,
 *   partition-specs [ {spec-id, fields:[{name, transform, source-id, field-id}]} ],
 *   default-spec-id, last-partition-id (999 when no partition field exists yet),
 *   sort-orders [ {order-id 0, fields []} ], default-sort-order-id 0,
 *   properties {}, current-snapshot-id (-1 when empty),
 *   snapshots [ {snapshot-id, parent-snapshot-id?, sequence-number,
 *                timestamp-ms, manifest-list, summary{operation,...}, schema-id} ],
 *   snapshot-log [ {timestamp-ms, snapshot-id} ] (main branch history),
 *   metadata-log [ {timestamp-ms, metadata-file} ] (previous metadata files),
 *   refs { "main": {snapshot-id, type:"branch"} }.
 * Unknown fields are kept: braid edits the JSON tree and never rebuilds it
 * from its own structs, so other writers' fields survive a braid commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/util.h"
#include "iceberg/ice_int.h"

static void random_bytes(void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom((uint8_t *)p + got, n - got, 0);
		if (r <= 0) {
			/* No entropy source: fall back to clock bits; ids need only be unlikely to collide. */
			uint64_t x = (uint64_t)br_mono_ns() ^ (uint64_t)br_now_ms() << 21;
			for (; got < n; got++, x = x * 6364136223846793005ULL + 1442695040888963407ULL)
				((uint8_t *)p)[got] = (uint8_t)(x >> 56);
			return;
		}
		got += (size_t)r;
	}
}

void br_ice_uuid(char out[37])
{
	uint8_t b[16];
	random_bytes(b, sizeof b);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

int64_t br_ice_new_snapshot_id(void)
{
	/* 53 bits: JSON readers in JavaScript parse ids as doubles, and 2^53
	 * values keep collisions out of reach all the same. */
	uint64_t x = 0;
	while (x == 0) {
		random_bytes(&x, sizeof x);
		x &= (1ULL << 53) - 1;
	}
	return (int64_t)x;
}

/* ------------------------------------------------------------------ specs */

static const char *tname(br_ice_tkind k)
{
	switch (k) {
	case BR_ICE_T_IDENTITY: return "";
	case BR_ICE_T_BUCKET: return "bucket";
	case BR_ICE_T_TRUNCATE: return "trunc";
	case BR_ICE_T_YEAR: return "year";
	case BR_ICE_T_MONTH: return "month";
	case BR_ICE_T_DAY: return "day";
	case BR_ICE_T_HOUR: return "hour";
	case BR_ICE_T_VOID: return "null";
	}
	return "";
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = 0;
	return s;
}

static int spec_field(char *item, const br_schema *s, br_arena *a, br_ice_pfield *f, int field_id, br_err *err)
{
	char transform[64] = "identity";
	char *col = item;
	char *open = strchr(item, '(');
	if (open) {
		char *close = strrchr(item, ')');
		if (!close || close < open || trim(close + 1)[0])
			return br_errf(err, BR_EINVAL, "partition field \"%s\": unbalanced parentheses", item);
		*open = 0;
		*close = 0;
		char *fn = trim(item);
		char *args = trim(open + 1);
		char *comma = strchr(args, ',');
		if (comma) { /* bucket(16, col) / truncate(4, col) */
			*comma = 0;
			snprintf(transform, sizeof transform, "%s[%s]", fn, trim(args));
			col = trim(comma + 1);
		} else {
			snprintf(transform, sizeof transform, "%s", fn);
			col = args;
		}
	}
	col = trim(col);
	if (br_ice_parse_transform(transform, &f->kind, &f->param))
		return br_errf(err, BR_EINVAL, "partition field \"%s\": unknown transform \"%s\"", col, transform);
	const br_field *src = br_schema_find_name(s, col);
	if (!src)
		return br_errf(err, BR_EINVAL, "partition field: no column \"%s\" in the schema", col);
	int rc = br_ice_transform_type(transform, src->type, &f->result, err);
	if (rc)
		return br_errctx(err, "partition field %s", col), rc;
	f->source_id = src->id;
	f->field_id = field_id;
	f->transform = br_arena_strndup(a, transform, strlen(transform));
	f->src = src->type;
	char name[300];
	if (f->kind == BR_ICE_T_IDENTITY)
		snprintf(name, sizeof name, "%s", col);
	else
		snprintf(name, sizeof name, "%s_%s", col, tname(f->kind));
	for (char *p = name; *p; p++)
		if (*p == '.')
			*p = '_';
	f->name = br_arena_strndup(a, name, strlen(name));
	return 0;
}

int br_ice_spec_parse_text(const char *text, const br_schema *s, br_arena *a, br_ice_spec *out, br_err *err)
{
	memset(out, 0, sizeof *out);
	if (!text)
		return 0;
	char *copy = br_arena_strndup(a, text, strlen(text));
	if (!*trim(copy))
		return 0; /* unpartitioned */
	copy = br_arena_strndup(a, text, strlen(text));
	/* Split at commas outside parentheses. */
	size_t cap = 4;
	out->f = br_arena_alloc(a, cap * sizeof *out->f);
	int depth = 0;
	char *start = copy;
	for (char *p = copy;; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		if ((*p == ',' && depth == 0) || !*p) {
			bool last = !*p;
			*p = 0;
			if ((size_t)out->n == cap) {
				br_ice_pfield *nf = br_arena_alloc(a, 2 * cap * sizeof *nf);
				memcpy(nf, out->f, cap * sizeof *nf);
				out->f = nf;
				cap *= 2;
			}
			int rc = spec_field(start, s, a, &out->f[out->n], 1000 + out->n, err);
			if (rc)
				return rc;
			for (int i = 0; i < out->n; i++)
				if (!strcmp(out->f[i].name, out->f[out->n].name))
					return br_errf(err, BR_EINVAL, "partition field %s appears twice", out->f[i].name);
			out->n++;
			if (last)
				break;
			start = p + 1;
		}
	}
	return 0;
}

json_t *br_ice_spec_json(const br_ice_spec *spec)
{
	json_t *fields = json_array();
	for (int i = 0; i < spec->n; i++)
		json_array_append_new(fields, json_pack("{s:s, s:s, s:i, s:i}", "name", spec->f[i].name, "transform",
							spec->f[i].transform, "source-id", spec->f[i].source_id,
							"field-id", spec->f[i].field_id));
	return json_pack("{s:i, s:o}", "spec-id", spec->spec_id, "fields", fields);
}

/* --------------------------------------------------------------- document */

json_t *br_ice_meta_initial(const char *location, const br_schema *schema, const br_ice_spec *spec,
			    const br_ice_kv *props)
{
	char uuid[37];
	br_ice_uuid(uuid);
	int last_pid = 999;
	for (int i = 0; i < spec->n; i++)
		last_pid = BR_MAX(last_pid, spec->f[i].field_id);
	json_t *jprops = json_object();
	json_object_set_new(jprops, "write.format.default", json_string("parquet"));
	for (size_t i = 0; props && i < props->n; i++)
		json_object_set_new(jprops, props->keys[i], json_string(props->vals[i]));
	json_t *sj = br_schema_to_json(schema);
	json_object_set_new(sj, "schema-id", json_integer(0));
	return json_pack("{s:i, s:s, s:s, s:I, s:I, s:i, s:[o], s:i, s:[o], s:i, s:i, s:[{s:i, s:[]}], s:i, s:o, "
			 "s:I, s:{}, s:[], s:[], s:[]}",
			 "format-version", 2, "table-uuid", uuid, "location", location, "last-sequence-number",
			 (json_int_t)0, "last-updated-ms", (json_int_t)br_now_ms(), "last-column-id", schema->max_id,
			 "schemas", sj, "current-schema-id", 0, "partition-specs", br_ice_spec_json(spec),
			 "default-spec-id", 0, "last-partition-id", last_pid, "sort-orders", "order-id", 0, "fields",
			 "default-sort-order-id", 0, "properties", jprops, "current-snapshot-id", (json_int_t)-1,
			 "refs", "snapshots", "snapshot-log", "metadata-log");
}

void br_ice_meta_add_snapshot(json_t *doc, json_t *snap, int64_t seq, int64_t id, int64_t ts_ms)
{
	json_t *snaps = json_object_get(doc, "snapshots");
	if (!json_is_array(snaps)) {
		snaps = json_array();
		json_object_set_new(doc, "snapshots", snaps);
	}
	json_array_append_new(snaps, snap);
	json_t *log = json_object_get(doc, "snapshot-log");
	if (!json_is_array(log)) {
		log = json_array();
		json_object_set_new(doc, "snapshot-log", log);
	}
	json_array_append_new(log, json_pack("{s:I, s:I}", "timestamp-ms", (json_int_t)ts_ms, "snapshot-id", (json_int_t)id));
	json_t *refs = json_object_get(doc, "refs");
	if (!json_is_object(refs)) {
		refs = json_object();
		json_object_set_new(doc, "refs", refs);
	}
	json_object_set_new(refs, "main", json_pack("{s:I, s:s}", "snapshot-id", (json_int_t)id, "type", "branch"));
	json_object_set_new(doc, "current-snapshot-id", json_integer(id));
	json_object_set_new(doc, "last-sequence-number", json_integer(seq));
	json_object_set_new(doc, "last-updated-ms", json_integer(ts_ms));
}

void br_ice_meta_log_previous(json_t *doc, const char *prev_file, int64_t ts_ms)
{
	json_t *log = json_object_get(doc, "metadata-log");
	if (!json_is_array(log)) {
		log = json_array();
		json_object_set_new(doc, "metadata-log", log);
	}
	json_array_append_new(log, json_pack("{s:I, s:s}", "timestamp-ms", (json_int_t)ts_ms, "metadata-file", prev_file));
}

char *br_ice_meta_dump(const json_t *doc)
{
	return json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

/* ------------------------------------------------------------------ parse */

typedef struct pctx {
	const char *name;
	br_err *err;
} pctx;

static int need(pctx *x, const json_t *o, const char *key, json_type t, json_t **out)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return br_errf(x->err, BR_ECORRUPT, "%s: required field \"%s\" is missing", x->name, key);
	if (json_typeof(v) != t && !(t == JSON_REAL && json_is_integer(v)))
		return br_errf(x->err, BR_ECORRUPT, "%s: field \"%s\" has the wrong type", x->name, key);
	*out = v;
	return 0;
}

static int need_int(pctx *x, const json_t *o, const char *key, int64_t *out)
{
	json_t *v = NULL;
	int rc = need(x, o, key, JSON_INTEGER, &v);
	if (rc)
		return rc;
	*out = json_integer_value(v);
	return 0;
}

static const char *adup(br_arena *a, const char *s) { return s ? br_arena_strndup(a, s, strlen(s)) : NULL; }

static int parse_spec(pctx *x, br_ice_meta *m, json_t *js, br_ice_spec *out)
{
	int64_t id;
	json_t *fields;
	int rc = need_int(x, js, "spec-id", &id);
	if (!rc)
		rc = need(x, js, "fields", JSON_ARRAY, &fields);
	if (rc)
		return rc;
	out->spec_id = (int)id;
	out->n = (int)json_array_size(fields);
	out->f = br_arena_alloc(&m->arena, (size_t)out->n * sizeof *out->f);
	for (int i = 0; i < out->n; i++) {
		json_t *jf = json_array_get(fields, (size_t)i);
		br_ice_pfield *f = &out->f[i];
		int64_t sid, fid;
		const char *name = json_string_value(json_object_get(jf, "name"));
		const char *tr = json_string_value(json_object_get(jf, "transform"));
		if (need_int(x, jf, "source-id", &sid) || need_int(x, jf, "field-id", &fid) || !name || !tr)
			return br_errf(x->err, BR_ECORRUPT, "%s: partition spec %d field %d is incomplete", x->name,
				       out->spec_id, i);
		f->source_id = (int)sid;
		f->field_id = (int)fid;
		f->name = adup(&m->arena, name);
		f->transform = adup(&m->arena, tr);
		if (br_ice_parse_transform(tr, &f->kind, &f->param))
			return br_errf(x->err, BR_EUNSUPPORTED, "%s: partition field %s: unknown transform \"%s\"",
				       x->name, name, tr);
		/* The source type comes from the current schema; a dropped source
		 * column leaves src NULL and the value type from the transform. */
		const br_field *sf = m->schema ? br_schema_find_id(m->schema, f->source_id) : NULL;
		f->src = sf ? sf->type : NULL;
		if (sf) {
			if (br_ice_transform_type(tr, sf->type, &f->result, x->err))
				return br_errctx(x->err, "%s", x->name), x->err ? x->err->code : BR_ECORRUPT;
		} else {
			f->result = f->kind == BR_ICE_T_DAY ? BR_T_DATE : BR_T_INT;
		}
	}
	return 0;
}

static void spec_text(br_ice_meta *m)
{
	br_buf b = { 0 };
	if (m->spec) {
		for (int i = 0; i < m->spec->n; i++) {
			const br_ice_pfield *f = &m->spec->f[i];
			const br_field *src = br_schema_find_id(m->schema, f->source_id);
			const char *col = src ? src->name : "?";
			if (i)
				br_buf_put(&b, ", ", 2);
			if (f->kind == BR_ICE_T_IDENTITY)
				br_buf_printf(&b, "%s", col);
			else
				br_buf_printf(&b, "%s(%s)", f->transform, col);
		}
	}
	br_buf_u8(&b, 0);
	m->spec_text = br_arena_strndup(&m->arena, (const char *)b.p, b.len - 1);
	br_buf_free(&b);
}

static int parse_doc(pctx *x, br_ice_meta *m)
{
	json_t *j = m->j, *v = NULL;
	int64_t fv, i64;
	int rc;
	if (!json_is_object(j))
		return br_errf(x->err, BR_ECORRUPT, "%s: table metadata is not a JSON object", x->name);
	if ((rc = need_int(x, j, "format-version", &fv)))
		return rc;
	if (fv != 2)
		return br_errf(x->err, BR_EUNSUPPORTED, "%s: format-version %lld (braid reads version 2)", x->name,
			       (long long)fv);
	if ((rc = need(x, j, "table-uuid", JSON_STRING, &v)))
		return rc;
	m->uuid = adup(&m->arena, json_string_value(v));
	if ((rc = need(x, j, "location", JSON_STRING, &v)))
		return rc;
	m->location = adup(&m->arena, json_string_value(v));
	if ((rc = need_int(x, j, "last-sequence-number", &m->last_seq)) ||
	    (rc = need_int(x, j, "last-updated-ms", &m->last_updated_ms)))
		return rc;
	if ((rc = need_int(x, j, "last-column-id", &i64)))
		return rc;
	m->last_column_id = (int)i64;
	if ((rc = need_int(x, j, "current-schema-id", &i64)))
		return rc;
	m->current_schema_id = (int)i64;
	json_t *schemas;
	if ((rc = need(x, j, "schemas", JSON_ARRAY, &schemas)))
		return rc;
	m->nschemas = json_array_size(schemas);
	m->schemas = br_xcalloc(m->nschemas ? m->nschemas : 1, sizeof *m->schemas);
	for (size_t i = 0; i < m->nschemas; i++) {
		rc = br_schema_from_json(json_array_get(schemas, i), &m->schemas[i], x->err);
		if (rc)
			return br_errctx(x->err, "%s: schemas[%zu]", x->name, i), rc;
		if (m->schemas[i]->schema_id == m->current_schema_id)
			m->schema = m->schemas[i];
	}
	if (!m->schema)
		return br_errf(x->err, BR_ECORRUPT, "%s: current-schema-id %d is not among the schemas", x->name,
			       m->current_schema_id);
	json_t *specs;
	if ((rc = need(x, j, "partition-specs", JSON_ARRAY, &specs)) || (rc = need_int(x, j, "default-spec-id", &i64)))
		return rc;
	m->default_spec_id = (int)i64;
	m->nspecs = json_array_size(specs);
	m->specs = br_arena_alloc(&m->arena, m->nspecs * sizeof *m->specs);
	for (size_t i = 0; i < m->nspecs; i++) {
		if ((rc = parse_spec(x, m, json_array_get(specs, i), &m->specs[i])))
			return rc;
		if (m->specs[i].spec_id == m->default_spec_id)
			m->spec = &m->specs[i];
	}
	if (!m->spec)
		return br_errf(x->err, BR_ECORRUPT, "%s: default-spec-id %d is not among the partition-specs", x->name,
			       m->default_spec_id);
	if ((rc = need_int(x, j, "last-partition-id", &i64)))
		return rc;
	m->last_partition_id = (int)i64;
	if ((rc = need(x, j, "sort-orders", JSON_ARRAY, &v)) || (rc = need_int(x, j, "default-sort-order-id", &i64)))
		return rc;
	json_t *cur = json_object_get(j, "current-snapshot-id");
	m->current_snapshot_id = json_is_integer(cur) ? json_integer_value(cur) : -1;
	json_t *snaps = json_object_get(j, "snapshots");
	m->nsnaps = json_is_array(snaps) ? json_array_size(snaps) : 0;
	m->snaps = br_arena_alloc(&m->arena, m->nsnaps * sizeof *m->snaps);
	bool found_current = m->current_snapshot_id < 0;
	for (size_t i = 0; i < m->nsnaps; i++) {
		json_t *js = json_array_get(snaps, i);
		br_ice_snapshot *s = &m->snaps[i];
		json_t *ml, *sum;
		if ((rc = need_int(x, js, "snapshot-id", &s->id)) || (rc = need_int(x, js, "timestamp-ms", &s->timestamp_ms)) ||
		    (rc = need_int(x, js, "sequence-number", &s->seq)) || (rc = need(x, js, "manifest-list", JSON_STRING, &ml)) ||
		    (rc = need(x, js, "summary", JSON_OBJECT, &sum)))
			return br_errctx(x->err, "snapshot %zu", i), rc;
		json_t *p = json_object_get(js, "parent-snapshot-id");
		s->parent_id = json_is_integer(p) ? json_integer_value(p) : -1;
		json_t *sid = json_object_get(js, "schema-id");
		s->schema_id = json_is_integer(sid) ? (int)json_integer_value(sid) : -1;
		s->manifest_list = adup(&m->arena, json_string_value(ml));
		s->operation = adup(&m->arena, json_string_value(json_object_get(sum, "operation")));
		if (!s->operation)
			return br_errf(x->err, BR_ECORRUPT, "%s: snapshot %lld summary has no operation", x->name,
				       (long long)s->id);
		s->nsummary = json_object_size(sum);
		s->summary_keys = br_arena_alloc(&m->arena, s->nsummary * sizeof(char *));
		s->summary_vals = br_arena_alloc(&m->arena, s->nsummary * sizeof(char *));
		size_t k = 0;
		const char *key;
		json_t *val;
		json_object_foreach(sum, key, val) {
			s->summary_keys[k] = adup(&m->arena, key);
			s->summary_vals[k] = adup(&m->arena, json_is_string(val) ? json_string_value(val) : "");
			k++;
		}
		if (s->id == m->current_snapshot_id)
			found_current = true;
	}
	if (!found_current)
		return br_errf(x->err, BR_ECORRUPT, "%s: current-snapshot-id %lld is not among the snapshots", x->name,
			       (long long)m->current_snapshot_id);
	json_t *log = json_object_get(j, "snapshot-log");
	m->nlog = json_is_array(log) ? json_array_size(log) : 0;
	m->log_ts = br_arena_alloc(&m->arena, m->nlog * sizeof *m->log_ts);
	m->log_id = br_arena_alloc(&m->arena, m->nlog * sizeof *m->log_id);
	for (size_t i = 0; i < m->nlog; i++) {
		json_t *e = json_array_get(log, i);
		if ((rc = need_int(x, e, "timestamp-ms", &m->log_ts[i])) || (rc = need_int(x, e, "snapshot-id", &m->log_id[i])))
			return br_errctx(x->err, "snapshot-log[%zu]", i), rc;
	}
	spec_text(m);
	return 0;
}

int br_ice_meta_parse(const char *text, size_t len, const char *name, br_ice_meta *m, br_err *err)
{
	memset(m, 0, sizeof *m);
	br_arena_init(&m->arena, 8192);
	json_error_t je;
	m->j = json_loadb(text, len, 0, &je);
	if (!m->j)
		return br_errf(err, BR_ECORRUPT, "%s: invalid JSON at line %d column %d: %s", name, je.line, je.column,
			       je.text);
	m->text = br_xmalloc(len + 1);
	memcpy(m->text, text, len);
	m->text[len] = 0;
	pctx x = { name, err };
	br_err local;
	if (!err)
		x.err = &local;
	int rc = parse_doc(&x, m);
	if (rc)
		br_ice_meta_free(m);
	return rc;
}

void br_ice_meta_free(br_ice_meta *m)
{
	for (size_t i = 0; m->schemas && i < m->nschemas; i++)
		if (m->schemas[i])
			br_schema_free(m->schemas[i]);
	free(m->schemas);
	json_decref(m->j);
	free(m->text);
	br_arena_free(&m->arena);
	memset(m, 0, sizeof *m);
}

const br_ice_spec *br_ice_meta_spec(const br_ice_meta *m, int spec_id)
{
	for (size_t i = 0; i < m->nspecs; i++)
		if (m->specs[i].spec_id == spec_id)
			return &m->specs[i];
	return NULL;
}

const br_schema *br_ice_meta_schema(const br_ice_meta *m, int schema_id)
{
	for (size_t i = 0; i < m->nschemas; i++)
		if (m->schemas[i]->schema_id == schema_id)
			return m->schemas[i];
	return NULL;
}
