/* manifest.c — Iceberg manifests and manifest lists (table spec, "Manifests"
 * and "Manifest Lists", format v2), stored as Avro object container files.
 *
 * A manifest file holds manifest_entry records; its Avro header metadata
 * carries "schema" (table schema JSON), "schema-id", "partition-spec" (the
 * spec's fields JSON), "partition-spec-id", "format-version" = "2" and
 * "content" = "data" | "deletes". Record layout, with Iceberg field ids:
 *   manifest_entry  0 status int (0 existing, 1 added, 2 deleted)
 *                   1 snapshot_id long?   3 sequence_number long?
 *                   4 file_sequence_number long?
 *                   2 data_file r2:
 *     134 content int, 100 file_path string, 101 file_format string,
 *     102 partition r102 {one optional field per spec field, id = partition field id},
 *     103 record_count long, 104 file_size_in_bytes long,
 *     108 column_sizes, 109 value_counts, 110 null_value_counts,
 *     137 nan_value_counts: map<int,long>; 125 lower_bounds, 128 upper_bounds:
 *     map<int,bytes> (single-value serialization), 131 key_metadata bytes?,
 *     132 split_offsets list<long>?, 135 equality_ids list<int>?,
 *     140 sort_order_id int?
 *   Maps with int keys are Avro arrays of {key, value} records with
 *   "logicalType": "map" (record names k<keyid>_v<valueid>), as Iceberg's Java
 *   writer does, since Avro maps only allow string keys. A "?" marks an
 *   optional field: a ["null", T] union with default null.
 * Every named type is defined inline exactly once (no references by name):
 * some readers (icebird) do not resolve named references.
 *
 * Sequence numbers: an ADDED entry written by braid has null sequence
 * numbers and inherits the manifest's sequence number from the manifest list
 * (so a manifest written once survives commit retries); EXISTING and DELETED
 * entries always carry both numbers explicitly.
 *
 * A manifest list holds manifest_file records (header metadata: snapshot-id,
 * parent-snapshot-id, sequence-number, format-version):
 *   500 manifest_path string, 501 manifest_length long, 502 partition_spec_id int,
 *   517 content int, 515 sequence_number long, 516 min_sequence_number long,
 *   503 added_snapshot_id long, 504/505/506 added/existing/deleted_files_count int,
 *   512/513/514 added/existing/deleted_rows_count long,
 *   507 partitions list<508 field_summary {509 contains_null boolean,
 *       518 contains_nan boolean?, 510 lower_bound bytes?, 511 upper_bound bytes?}>?,
 *   519 key_metadata bytes?
 *
 * Files are written once under fresh names (never overwritten) and fsynced
 * before anything refers to them; see table.c for the commit order. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "iceberg/avro.h"
#include "iceberg/ice_int.h"

const char *br_ice_uri_path(br_arena *a, const char *uri)
{
	const char *p = uri;
	if (!strncmp(p, "file://", 7))
		p += 7;
	else if (!strncmp(p, "file:", 5))
		p += 5;
	return br_arena_strndup(a, p, strlen(p));
}

int br_ice_write_new_file(const char *path, const void *p, size_t n, br_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return br_errno(err, errno == EEXIST ? BR_EEXIST : BR_EIO, "create %s", path);
	const uint8_t *b = p;
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(fd, b + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int rc = br_errno(err, BR_EIO, "write %s", path);
			close(fd);
			unlink(path);
			return rc;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		int rc = br_errno(err, BR_EIO, "fsync %s", path);
		close(fd);
		unlink(path);
		return rc;
	}
	if (close(fd) != 0)
		return br_errno(err, BR_EIO, "close %s", path);
	return 0;
}

/* ------------------------------------------------------------ Avro types */

static int decimal_bytes(int precision)
{
	/* Smallest two's-complement width that holds 10^precision - 1. */
	for (int n = 1; n < 16; n++)
		if ((8.0 * n - 1) >= precision * log2(10.0))
			return n;
	return 16;
}

/* The Avro type of an Iceberg primitive (for partition values). */
static void avro_type(br_buf *b, br_type_id t, const br_type *full, int fid)
{
	switch (t) {
	case BR_T_BOOLEAN: br_buf_printf(b, "\"boolean\""); return;
	case BR_T_INT: br_buf_printf(b, "\"int\""); return;
	case BR_T_LONG: br_buf_printf(b, "\"long\""); return;
	case BR_T_FLOAT: br_buf_printf(b, "\"float\""); return;
	case BR_T_DOUBLE: br_buf_printf(b, "\"double\""); return;
	case BR_T_DATE: br_buf_printf(b, "{\"type\":\"int\",\"logicalType\":\"date\"}"); return;
	case BR_T_TIME: br_buf_printf(b, "{\"type\":\"long\",\"logicalType\":\"time-micros\"}"); return;
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ:
		br_buf_printf(b, "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\",\"adjust-to-utc\":%s}",
			      t == BR_T_TIMESTAMPTZ ? "true" : "false");
		return;
	case BR_T_STRING: br_buf_printf(b, "\"string\""); return;
	case BR_T_BINARY: br_buf_printf(b, "\"bytes\""); return;
	case BR_T_UUID:
		br_buf_printf(b, "{\"type\":\"fixed\",\"name\":\"uuid_%d\",\"size\":16,\"logicalType\":\"uuid\"}", fid);
		return;
	case BR_T_FIXED:
		br_buf_printf(b, "{\"type\":\"fixed\",\"name\":\"fixed_%d\",\"size\":%d}", fid, full ? full->length : 0);
		return;
	case BR_T_DECIMAL: {
		int p = full ? full->precision : 38, s = full ? full->scale : 0;
		br_buf_printf(b,
			      "{\"type\":\"fixed\",\"name\":\"decimal_%d_%d_%d\",\"size\":%d,\"logicalType\":\"decimal\","
			      "\"precision\":%d,\"scale\":%d}",
			      p, s, fid, decimal_bytes(p), p, s);
		return;
	}
	default: br_buf_printf(b, "\"bytes\""); return;
	}
}

static void int_map(br_buf *b, const char *name, int id, int kid, int vid, const char *vtype)
{
	br_buf_printf(b,
		      ",{\"name\":\"%s\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"record\","
		      "\"name\":\"k%d_v%d\",\"fields\":[{\"name\":\"key\",\"type\":\"int\",\"field-id\":%d},"
		      "{\"name\":\"value\",\"type\":\"%s\",\"field-id\":%d}]},\"logicalType\":\"map\"}],"
		      "\"default\":null,\"field-id\":%d}",
		      name, kid, vid, kid, vtype, vid, id);
}

static char *manifest_schema(const br_ice_spec *spec)
{
	br_buf b = { 0 };
	br_buf_printf(&b, "{\"type\":\"record\",\"name\":\"manifest_entry\",\"fields\":["
			  "{\"name\":\"status\",\"type\":\"int\",\"field-id\":0},"
			  "{\"name\":\"snapshot_id\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":1},"
			  "{\"name\":\"sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":3},"
			  "{\"name\":\"file_sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":4},"
			  "{\"name\":\"data_file\",\"type\":{\"type\":\"record\",\"name\":\"r2\",\"fields\":["
			  "{\"name\":\"content\",\"type\":\"int\",\"field-id\":134},"
			  "{\"name\":\"file_path\",\"type\":\"string\",\"field-id\":100},"
			  "{\"name\":\"file_format\",\"type\":\"string\",\"field-id\":101},"
			  "{\"name\":\"partition\",\"type\":{\"type\":\"record\",\"name\":\"r102\",\"fields\":[");
	for (int i = 0; i < spec->n; i++) {
		const br_ice_pfield *f = &spec->f[i];
		br_buf_printf(&b, "%s{\"name\":\"%s\",\"type\":[\"null\",", i ? "," : "", f->name);
		avro_type(&b, f->result, f->kind == BR_ICE_T_BUCKET ? NULL : f->src, f->field_id);
		br_buf_printf(&b, "],\"default\":null,\"field-id\":%d}", f->field_id);
	}
	br_buf_printf(&b, "]},\"field-id\":102},"
			  "{\"name\":\"record_count\",\"type\":\"long\",\"field-id\":103},"
			  "{\"name\":\"file_size_in_bytes\",\"type\":\"long\",\"field-id\":104}");
	int_map(&b, "column_sizes", 108, 117, 118, "long");
	int_map(&b, "value_counts", 109, 119, 120, "long");
	int_map(&b, "null_value_counts", 110, 121, 122, "long");
	int_map(&b, "nan_value_counts", 137, 138, 139, "long");
	int_map(&b, "lower_bounds", 125, 126, 127, "bytes");
	int_map(&b, "upper_bounds", 128, 129, 130, "bytes");
	br_buf_printf(&b, ",{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":131},"
			  "{\"name\":\"split_offsets\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"long\","
			  "\"element-id\":133}],\"default\":null,\"field-id\":132},"
			  "{\"name\":\"equality_ids\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"int\","
			  "\"element-id\":136}],\"default\":null,\"field-id\":135},"
			  "{\"name\":\"sort_order_id\",\"type\":[\"null\",\"int\"],\"default\":null,\"field-id\":140}"
			  "]},\"field-id\":2}]}");
	br_buf_u8(&b, 0);
	return (char *)b.p;
}

static const char manifest_list_schema[] =
	"{\"type\":\"record\",\"name\":\"manifest_file\",\"fields\":["
	"{\"name\":\"manifest_path\",\"type\":\"string\",\"field-id\":500},"
	"{\"name\":\"manifest_length\",\"type\":\"long\",\"field-id\":501},"
	"{\"name\":\"partition_spec_id\",\"type\":\"int\",\"field-id\":502},"
	"{\"name\":\"content\",\"type\":\"int\",\"field-id\":517},"
	"{\"name\":\"sequence_number\",\"type\":\"long\",\"field-id\":515},"
	"{\"name\":\"min_sequence_number\",\"type\":\"long\",\"field-id\":516},"
	"{\"name\":\"added_snapshot_id\",\"type\":\"long\",\"field-id\":503},"
	"{\"name\":\"added_files_count\",\"type\":\"int\",\"field-id\":504},"
	"{\"name\":\"existing_files_count\",\"type\":\"int\",\"field-id\":505},"
	"{\"name\":\"deleted_files_count\",\"type\":\"int\",\"field-id\":506},"
	"{\"name\":\"added_rows_count\",\"type\":\"long\",\"field-id\":512},"
	"{\"name\":\"existing_rows_count\",\"type\":\"long\",\"field-id\":513},"
	"{\"name\":\"deleted_rows_count\",\"type\":\"long\",\"field-id\":514},"
	"{\"name\":\"partitions\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"record\","
	"\"name\":\"r508\",\"fields\":["
	"{\"name\":\"contains_null\",\"type\":\"boolean\",\"field-id\":509},"
	"{\"name\":\"contains_nan\",\"type\":[\"null\",\"boolean\"],\"default\":null,\"field-id\":518},"
	"{\"name\":\"lower_bound\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":510},"
	"{\"name\":\"upper_bound\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":511}]},"
	"\"element-id\":508}],\"default\":null,\"field-id\":507},"
	"{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"default\":null,\"field-id\":519}]}";

/* ----------------------------------------------------- value conversion */

static br_avro_val value_to_avro(br_arena *a, const br_value *v, const br_type *full)
{
	if (v->is_null)
		return br_avro_null();
	switch (v->type) {
	case BR_T_BOOLEAN: return br_avro_bool(v->v.b);
	case BR_T_INT:
	case BR_T_DATE: return br_avro_int(v->v.i32);
	case BR_T_LONG:
	case BR_T_TIME:
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ: return br_avro_long(v->v.i64);
	case BR_T_FLOAT: return br_avro_float(v->v.f32);
	case BR_T_DOUBLE: return br_avro_double(v->v.f64);
	case BR_T_STRING: {
		br_avro_val r = br_avro_bytes(v->v.bytes.p, v->v.bytes.len);
		r.kind = BR_AVRO_STRING;
		return r;
	}
	case BR_T_BINARY: return br_avro_bytes(v->v.bytes.p, v->v.bytes.len);
	case BR_T_UUID:
	case BR_T_FIXED: {
		br_avro_val r = br_avro_bytes(v->v.bytes.p, v->v.bytes.len);
		r.kind = BR_AVRO_FIXED;
		return r;
	}
	case BR_T_DECIMAL: {
		int n = decimal_bytes(full ? full->precision : 38);
		uint8_t *p = br_arena_alloc(a, (size_t)n);
		unsigned __int128 u = (unsigned __int128)v->v.dec;
		for (int i = n - 1; i >= 0; i--, u >>= 8)
			p[i] = (uint8_t)u;
		br_avro_val r = br_avro_bytes(p, (size_t)n);
		r.kind = BR_AVRO_FIXED;
		return r;
	}
	default: return br_avro_null();
	}
}

static br_value avro_to_value(const br_avro_val *v, br_type_id t)
{
	if (!v || v->kind == BR_AVRO_NULL)
		return br_value_null(t);
	br_value r = { 0 };
	r.type = t;
	switch (t) {
	case BR_T_BOOLEAN: r.v.b = v->i != 0; break;
	case BR_T_INT:
	case BR_T_DATE: r.v.i32 = (int32_t)v->i; break;
	case BR_T_LONG:
	case BR_T_TIME:
	case BR_T_TIMESTAMP:
	case BR_T_TIMESTAMPTZ: r.v.i64 = v->i; break;
	case BR_T_FLOAT: r.v.f32 = (float)v->d; break;
	case BR_T_DOUBLE: r.v.f64 = v->d; break;
	case BR_T_DECIMAL: {
		if (v->len == 0 || v->len > 16)
			return br_value_null(t);
		unsigned __int128 x = (v->p[0] & 0x80) ? ~(unsigned __int128)0 : 0;
		for (size_t i = 0; i < v->len; i++)
			x = x << 8 | v->p[i];
		r.v.dec = (__int128)x;
		break;
	}
	default:
		r.v.bytes.p = v->p;
		r.v.bytes.len = v->len;
		break;
	}
	return r;
}

/* ---------------------------------------------------------------- write */

static br_avro_val opt_long(int64_t v, bool present) { return present ? br_avro_long(v) : br_avro_null(); }

static br_avro_val stat_map(br_arena *a, const br_ice_datafile *df, int which)
{
	size_t n = 0;
	for (int i = 0; i < df->ncols; i++) {
		const br_ice_colstat *c = &df->cols[i];
		bool has = which == 0 ? c->column_size >= 0 : which == 1 ? c->value_count >= 0 : which == 2 ? c->null_count >= 0
			 : which == 3 ? c->nan_count >= 0 : which == 4 ? c->lower != NULL : c->upper != NULL;
		n += has;
	}
	if (n == 0)
		return br_avro_null();
	br_avro_val arr = br_avro_array(a, n);
	size_t k = 0;
	for (int i = 0; i < df->ncols; i++) {
		const br_ice_colstat *c = &df->cols[i];
		br_avro_val kv = br_avro_record(a, 2);
		kv.items[0] = br_avro_int(c->field_id);
		switch (which) {
		case 0: if (c->column_size < 0) continue; kv.items[1] = br_avro_long(c->column_size); break;
		case 1: if (c->value_count < 0) continue; kv.items[1] = br_avro_long(c->value_count); break;
		case 2: if (c->null_count < 0) continue; kv.items[1] = br_avro_long(c->null_count); break;
		case 3: if (c->nan_count < 0) continue; kv.items[1] = br_avro_long(c->nan_count); break;
		case 4: if (!c->lower) continue; kv.items[1] = br_avro_bytes(c->lower, c->lower_len); break;
		default: if (!c->upper) continue; kv.items[1] = br_avro_bytes(c->upper, c->upper_len); break;
		}
		arr.items[k++] = kv;
	}
	return arr;
}

static void summarize(br_arena *a, const br_ice_spec *spec, const br_ice_entry *e, size_t n, br_ice_manifest *info)
{
	info->npart = spec->n;
	info->parts = br_arena_alloc(a, (size_t)spec->n * sizeof *info->parts);
	for (int p = 0; p < spec->n; p++) {
		br_ice_fsummary *s = &info->parts[p];
		br_type_id t = spec->f[p].result;
		s->contains_nan = (t == BR_T_FLOAT || t == BR_T_DOUBLE) ? 0 : -1;
		const br_value *lo = NULL, *hi = NULL;
		for (size_t i = 0; i < n; i++) {
			if (e[i].status == BR_ICE_DELETED || p >= e[i].df.npart)
				continue;
			const br_value *v = &e[i].df.part[p];
			if (v->is_null) {
				s->contains_null = true;
				continue;
			}
			if ((t == BR_T_FLOAT && v->v.f32 != v->v.f32) || (t == BR_T_DOUBLE && v->v.f64 != v->v.f64)) {
				s->contains_nan = 1;
				continue;
			}
			if (!lo || br_value_cmp(v, lo) < 0)
				lo = v;
			if (!hi || br_value_cmp(v, hi) > 0)
				hi = v;
		}
		if (lo) {
			br_buf b = { 0 };
			br_ice_value_bytes(lo, &b);
			s->lower_len = b.len;
			s->lower = (const uint8_t *)br_arena_strndup(a, (const char *)b.p, b.len);
			b.len = 0;
			br_ice_value_bytes(hi, &b);
			s->upper_len = b.len;
			s->upper = (const uint8_t *)br_arena_strndup(a, (const char *)b.p, b.len);
			br_buf_free(&b);
		}
	}
}

int br_ice_manifest_write(const char *fs_path, const char *uri, const br_ice_meta *m, const br_ice_spec *spec,
			  int content, const br_ice_entry *e, size_t n, int64_t snapshot_id, br_arena *a,
			  br_ice_manifest *info, br_err *err)
{
	char *schema = manifest_schema(spec);
	json_t *specj = br_ice_spec_json(spec);
	char *spec_fields = json_dumps(json_object_get(specj, "fields"), JSON_COMPACT);
	json_decref(specj);
	char *table_schema = br_schema_print(m->schema);
	char schema_id[16], spec_id[16];
	snprintf(schema_id, sizeof schema_id, "%d", m->schema->schema_id);
	snprintf(spec_id, sizeof spec_id, "%d", spec->spec_id);
	const char *keys[] = { "schema", "schema-id", "partition-spec", "partition-spec-id", "format-version", "content" };
	const char *vals[] = { table_schema, schema_id, spec_fields, spec_id, "2", content ? "deletes" : "data" };
	br_avro_writer w;
	int rc = br_avro_writer_init(&w, schema, BR_AVRO_CODEC_NULL, keys, vals, 6, err);
	free(schema);
	free(spec_fields);
	free(table_schema);
	if (rc)
		return br_errctx(err, "manifest %s", fs_path), rc;

	memset(info, 0, sizeof *info);
	info->path = br_arena_strndup(a, uri, strlen(uri));
	info->spec_id = spec->spec_id;
	info->content = content;
	info->seq = -1;
	info->added_snapshot_id = snapshot_id;
	info->min_seq = -1;
	bool any_new = false;
	for (size_t i = 0; i < n && !rc; i++) {
		const br_ice_entry *en = &e[i];
		const br_ice_datafile *df = &en->df;
		bool inherit = en->status == BR_ICE_ADDED && en->seq < 0;
		if (!inherit && (en->seq < 0 || en->file_seq < 0)) {
			rc = br_errf(err, BR_EINVAL, "manifest %s: entry for %s needs explicit sequence numbers", fs_path,
				     df->path);
			break;
		}
		br_avro_val rec = br_avro_record(a, 5);
		rec.items[0] = br_avro_int(en->status);
		rec.items[1] = br_avro_long(en->snapshot_id > 0 ? en->snapshot_id : snapshot_id);
		rec.items[2] = opt_long(en->seq, !inherit);
		rec.items[3] = opt_long(en->file_seq, !inherit);
		br_avro_val d = br_avro_record(a, 16);
		d.items[0] = br_avro_int(df->content);
		d.items[1] = br_avro_str(df->path);
		d.items[2] = br_avro_str(df->format ? df->format : "PARQUET");
		d.items[3] = br_avro_record(a, (size_t)spec->n);
		for (int p = 0; p < spec->n; p++) {
			if (p < df->npart) {
				d.items[3].items[p] = value_to_avro(a, &df->part[p], spec->f[p].src);
				if (d.items[3].items[p].kind != BR_AVRO_NULL)
					d.items[3].items[p].branch = 1;
			} else {
				d.items[3].items[p] = br_avro_null();
			}
		}
		d.items[4] = br_avro_long(df->record_count);
		d.items[5] = br_avro_long(df->file_size);
		for (int k = 0; k < 6; k++)
			d.items[6 + k] = stat_map(a, df, k);
		d.items[12] = br_avro_null();
		if (df->nsplits > 0) {
			d.items[13] = br_avro_array(a, (size_t)df->nsplits);
			for (int k = 0; k < df->nsplits; k++)
				d.items[13].items[k] = br_avro_long(df->splits[k]);
		} else {
			d.items[13] = br_avro_null();
		}
		d.items[14] = br_avro_null();
		d.items[15] = df->sort_order_id >= 0 ? br_avro_int(df->sort_order_id) : br_avro_null();
		rec.items[4] = d;
		rc = br_avro_writer_add(&w, &rec, err);
		switch (en->status) {
		case BR_ICE_ADDED: info->added_files++, info->added_rows += df->record_count; break;
		case BR_ICE_EXISTING: info->existing_files++, info->existing_rows += df->record_count; break;
		default: info->deleted_files++, info->deleted_rows += df->record_count; break;
		}
		if (en->status != BR_ICE_DELETED) {
			if (inherit)
				any_new = true;
			else if (info->min_seq < 0 || en->seq < info->min_seq)
				info->min_seq = en->seq;
		}
	}
	(void)any_new; /* a new entry's number is the largest, so it never lowers min_seq */
	if (!rc)
		rc = br_avro_writer_finish(&w, err);
	if (!rc)
		rc = br_ice_write_new_file(fs_path, w.out.p, w.out.len, err);
	if (!rc) {
		info->length = (int64_t)w.out.len;
		summarize(a, spec, e, n, info);
	}
	br_avro_writer_free(&w);
	return rc;
}

int br_ice_manifest_list_write(const char *fs_path, int64_t snapshot_id, int64_t parent_id, int64_t seq,
			       const br_ice_manifest *mfs, size_t n, br_err *err)
{
	char sid[24], pid[24], sq[24];
	snprintf(sid, sizeof sid, "%lld", (long long)snapshot_id);
	if (parent_id > 0)
		snprintf(pid, sizeof pid, "%lld", (long long)parent_id);
	else
		snprintf(pid, sizeof pid, "null");
	snprintf(sq, sizeof sq, "%lld", (long long)seq);
	const char *keys[] = { "snapshot-id", "parent-snapshot-id", "sequence-number", "format-version" };
	const char *vals[] = { sid, pid, sq, "2" };
	br_avro_writer w;
	int rc = br_avro_writer_init(&w, manifest_list_schema, BR_AVRO_CODEC_NULL, keys, vals, 4, err);
	if (rc)
		return rc;
	br_arena a;
	br_arena_init(&a, 16384);
	for (size_t i = 0; i < n && !rc; i++) {
		const br_ice_manifest *mf = &mfs[i];
		br_avro_val r = br_avro_record(&a, 15);
		r.items[0] = br_avro_str(mf->path);
		r.items[1] = br_avro_long(mf->length);
		r.items[2] = br_avro_int(mf->spec_id);
		r.items[3] = br_avro_int(mf->content);
		r.items[4] = br_avro_long(mf->seq < 0 ? seq : mf->seq);
		r.items[5] = br_avro_long(mf->min_seq < 0 ? (mf->seq < 0 ? seq : mf->seq) : mf->min_seq);
		r.items[6] = br_avro_long(mf->added_snapshot_id);
		r.items[7] = br_avro_int(mf->added_files);
		r.items[8] = br_avro_int(mf->existing_files);
		r.items[9] = br_avro_int(mf->deleted_files);
		r.items[10] = br_avro_long(mf->added_rows);
		r.items[11] = br_avro_long(mf->existing_rows);
		r.items[12] = br_avro_long(mf->deleted_rows);
		br_avro_val parts = br_avro_array(&a, (size_t)mf->npart);
		for (int p = 0; p < mf->npart; p++) {
			const br_ice_fsummary *s = &mf->parts[p];
			br_avro_val fs = br_avro_record(&a, 4);
			fs.items[0] = br_avro_bool(s->contains_null);
			fs.items[1] = s->contains_nan >= 0 ? br_avro_bool(s->contains_nan) : br_avro_null();
			fs.items[2] = s->lower ? br_avro_bytes(s->lower, s->lower_len) : br_avro_null();
			fs.items[3] = s->upper ? br_avro_bytes(s->upper, s->upper_len) : br_avro_null();
			parts.items[p] = fs;
		}
		r.items[13] = parts;
		r.items[14] = br_avro_null();
		rc = br_avro_writer_add(&w, &r, err);
	}
	if (!rc)
		rc = br_avro_writer_finish(&w, err);
	if (!rc)
		rc = br_ice_write_new_file(fs_path, w.out.p, w.out.len, err);
	br_arena_free(&a);
	br_avro_writer_free(&w);
	return rc;
}

/* ----------------------------------------------------------------- read */

static int read_file(const char *fs_path, char **data, size_t *len, br_err *err)
{
	return br_read_file(fs_path, data, len, err);
}

static int64_t get_long(const br_avro_schema *s, const br_avro_val *v, const char *name, int64_t dflt)
{
	const br_avro_val *f = br_avro_get(s, v, name);
	return f ? f->i : dflt;
}

/* Reads a map<int, long|bytes> stored as array<{key,value}> into colstats. */
static void read_stat(br_arena *a, const br_avro_schema *dfs, const br_avro_val *df, const char *name, int which,
		      br_ice_datafile *out, int *cap)
{
	const br_avro_val *arr = br_avro_get(dfs, df, name);
	if (!arr || (arr->kind != BR_AVRO_ARRAY && arr->kind != BR_AVRO_MAP))
		return;
	for (size_t i = 0; i < arr->n; i++) {
		const br_avro_val *kv = &arr->items[i];
		int fid;
		const br_avro_val *val;
		if (arr->kind == BR_AVRO_MAP) {
			fid = atoi((const char *)arr->keys[i].p);
			val = kv;
		} else {
			if (kv->kind != BR_AVRO_RECORD || kv->n < 2)
				continue;
			fid = (int)kv->items[0].i;
			val = &kv->items[1];
		}
		br_ice_colstat *c = NULL;
		for (int k = 0; k < out->ncols; k++)
			if (out->cols[k].field_id == fid)
				c = &out->cols[k];
		if (!c) {
			if (out->ncols == *cap) {
				int ncap = *cap ? 2 * *cap : 8;
				br_ice_colstat *nc = br_arena_alloc(a, (size_t)ncap * sizeof *nc);
				if (out->ncols)
					memcpy(nc, out->cols, (size_t)out->ncols * sizeof *nc);
				out->cols = nc;
				*cap = ncap;
			}
			c = &out->cols[out->ncols++];
			c->field_id = fid;
			c->column_size = c->value_count = c->null_count = c->nan_count = -1;
		}
		switch (which) {
		case 0: c->column_size = val->i; break;
		case 1: c->value_count = val->i; break;
		case 2: c->null_count = val->i; break;
		case 3: c->nan_count = val->i; break;
		case 4: c->lower = val->p, c->lower_len = val->len; break;
		default: c->upper = val->p, c->upper_len = val->len; break;
		}
	}
}

int br_ice_manifest_read(const char *fs_path, const br_ice_manifest *mf, const br_ice_meta *m, br_arena *a,
			 br_ice_entry **out, size_t *n, br_err *err)
{
	char *data;
	size_t len;
	int rc = read_file(fs_path, &data, &len, err);
	if (rc)
		return rc;
	br_avro_reader r;
	rc = br_avro_reader_open(&r, (const uint8_t *)data, len, fs_path, err);
	const br_ice_spec *spec = br_ice_meta_spec(m, mf->spec_id);
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	const br_avro_schema *es = r.schema;
	int dfi = br_avro_field_index(es, "data_file");
	if (!rc && dfi < 0)
		rc = br_errf(err, BR_ECORRUPT, "%s: not a manifest (no data_file field)", fs_path);
	if (!rc && !spec)
		rc = br_errf(err, BR_ECORRUPT, "%s: partition spec %d is not in the table metadata", fs_path, mf->spec_id);
	while (!rc) {
		br_avro_val v;
		int got = br_avro_reader_next(&r, a, &v, err);
		if (got < 0) {
			rc = got;
			break;
		}
		if (got == 0)
			break;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			br_ice_entry *ne = br_arena_alloc(a, cap * sizeof *ne);
			if (*n)
				memcpy(ne, *out, *n * sizeof *ne);
			*out = ne;
		}
		br_ice_entry *e = &(*out)[*n];
		memset(e, 0, sizeof *e);
		e->status = (int)get_long(es, &v, "status", -1);
		if (e->status < 0 || e->status > 2) {
			rc = br_errf(err, BR_ECORRUPT, "%s: entry %zu has status %d", fs_path, *n, e->status);
			break;
		}
		/* Inheritance (spec "Sequence Number Inheritance"): only ADDED entries may omit them. */
		e->snapshot_id = get_long(es, &v, "snapshot_id", mf->added_snapshot_id);
		const br_avro_val *sq = br_avro_get(es, &v, "sequence_number");
		const br_avro_val *fsq = br_avro_get(es, &v, "file_sequence_number");
		if ((!sq || !fsq) && e->status != BR_ICE_ADDED) {
			rc = br_errf(err, BR_ECORRUPT, "%s: entry %zu (status %d) lacks sequence numbers", fs_path, *n,
				     e->status);
			break;
		}
		e->seq = sq ? sq->i : mf->seq;
		e->file_seq = fsq ? fsq->i : mf->seq;
		const br_avro_schema *dfs = es->fields[dfi].type;
		const br_avro_val *df = &v.items[dfi];
		if (dfs->kind != BR_AVRO_RECORD || df->kind != BR_AVRO_RECORD) {
			rc = br_errf(err, BR_ECORRUPT, "%s: entry %zu: data_file is not a record", fs_path, *n);
			break;
		}
		br_ice_datafile *d = &e->df;
		d->content = (int)get_long(dfs, df, "content", 0);
		d->path = br_avro_strdup(a, br_avro_get(dfs, df, "file_path"));
		d->format = br_avro_strdup(a, br_avro_get(dfs, df, "file_format"));
		d->spec_id = mf->spec_id;
		d->record_count = get_long(dfs, df, "record_count", -1);
		d->file_size = get_long(dfs, df, "file_size_in_bytes", -1);
		d->sort_order_id = (int)get_long(dfs, df, "sort_order_id", -1);
		if (!d->path || d->record_count < 0 || d->file_size < 0) {
			rc = br_errf(err, BR_ECORRUPT, "%s: entry %zu lacks file_path, record_count or file_size_in_bytes",
				     fs_path, *n);
			break;
		}
		/* Partition tuple: match the record's fields to the spec by field id, else by name. */
		int pi = br_avro_field_index(dfs, "partition");
		d->npart = spec->n;
		d->part = br_arena_alloc(a, (size_t)spec->n * sizeof *d->part);
		for (int p = 0; p < spec->n; p++) {
			d->part[p] = br_value_null(spec->f[p].result);
			if (pi < 0)
				continue;
			const br_avro_schema *ps = dfs->fields[pi].type;
			const br_avro_val *pv = &df->items[pi];
			if (ps->kind != BR_AVRO_RECORD || pv->kind != BR_AVRO_RECORD)
				continue;
			for (size_t k = 0; k < ps->n && k < pv->n; k++)
				if (ps->fields[k].field_id == spec->f[p].field_id ||
				    (ps->fields[k].field_id < 0 && !strcmp(ps->fields[k].name, spec->f[p].name)))
					d->part[p] = avro_to_value(&pv->items[k], spec->f[p].result);
		}
		int scap = 0;
		read_stat(a, dfs, df, "column_sizes", 0, d, &scap);
		read_stat(a, dfs, df, "value_counts", 1, d, &scap);
		read_stat(a, dfs, df, "null_value_counts", 2, d, &scap);
		read_stat(a, dfs, df, "nan_value_counts", 3, d, &scap);
		read_stat(a, dfs, df, "lower_bounds", 4, d, &scap);
		read_stat(a, dfs, df, "upper_bounds", 5, d, &scap);
		const br_avro_val *sp = br_avro_get(dfs, df, "split_offsets");
		if (sp && sp->kind == BR_AVRO_ARRAY) {
			d->nsplits = (int)sp->n;
			d->splits = br_arena_alloc(a, sp->n * sizeof *d->splits);
			for (size_t k = 0; k < sp->n; k++)
				d->splits[k] = sp->items[k].i;
		}
		(*n)++;
	}
	br_avro_reader_free(&r);
	free(data);
	return rc;
}

int br_ice_manifest_list_read(const char *fs_path, br_arena *a, br_ice_manifest **out, size_t *n, br_err *err)
{
	char *data;
	size_t len;
	int rc = read_file(fs_path, &data, &len, err);
	if (rc)
		return rc;
	br_avro_reader r;
	rc = br_avro_reader_open(&r, (const uint8_t *)data, len, fs_path, err);
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	while (!rc) {
		br_avro_val v;
		int got = br_avro_reader_next(&r, a, &v, err);
		if (got <= 0) {
			rc = got;
			break;
		}
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			br_ice_manifest *nm = br_arena_alloc(a, cap * sizeof *nm);
			if (*n)
				memcpy(nm, *out, *n * sizeof *nm);
			*out = nm;
		}
		br_ice_manifest *mf = &(*out)[*n];
		memset(mf, 0, sizeof *mf);
		const br_avro_schema *s = r.schema;
		mf->path = br_avro_strdup(a, br_avro_get(s, &v, "manifest_path"));
		mf->length = get_long(s, &v, "manifest_length", -1);
		mf->spec_id = (int)get_long(s, &v, "partition_spec_id", -1);
		mf->content = (int)get_long(s, &v, "content", 0);
		mf->seq = get_long(s, &v, "sequence_number", 0);
		mf->min_seq = get_long(s, &v, "min_sequence_number", 0);
		mf->added_snapshot_id = get_long(s, &v, "added_snapshot_id", -1);
		mf->added_files = (int)get_long(s, &v, "added_files_count", 0);
		mf->existing_files = (int)get_long(s, &v, "existing_files_count", 0);
		mf->deleted_files = (int)get_long(s, &v, "deleted_files_count", 0);
		mf->added_rows = get_long(s, &v, "added_rows_count", 0);
		mf->existing_rows = get_long(s, &v, "existing_rows_count", 0);
		mf->deleted_rows = get_long(s, &v, "deleted_rows_count", 0);
		if (!mf->path || mf->spec_id < 0) {
			rc = br_errf(err, BR_ECORRUPT, "%s: record %zu lacks manifest_path or partition_spec_id", fs_path, *n);
			break;
		}
		const br_avro_val *parts = br_avro_get(s, &v, "partitions");
		int pi = br_avro_field_index(s, "partitions");
		if (parts && parts->kind == BR_AVRO_ARRAY) {
			const br_avro_schema *ps = s->fields[pi].type;
			if (ps->kind == BR_AVRO_UNION)
				ps = ps->branches[parts->branch >= 0 ? parts->branch : 0];
			const br_avro_schema *fs = ps->kind == BR_AVRO_ARRAY ? ps->items : NULL;
			mf->npart = (int)parts->n;
			mf->parts = br_arena_alloc(a, parts->n * sizeof *mf->parts);
			for (size_t k = 0; fs && k < parts->n; k++) {
				const br_avro_val *fv = &parts->items[k];
				br_ice_fsummary *sm = &mf->parts[k];
				const br_avro_val *cn = br_avro_get(fs, fv, "contains_null");
				const br_avro_val *cnan = br_avro_get(fs, fv, "contains_nan");
				const br_avro_val *lo = br_avro_get(fs, fv, "lower_bound");
				const br_avro_val *hi = br_avro_get(fs, fv, "upper_bound");
				sm->contains_null = cn && cn->i;
				sm->contains_nan = cnan ? (int)cnan->i : -1;
				if (lo)
					sm->lower = lo->p, sm->lower_len = lo->len;
				if (hi)
					sm->upper = hi->p, sm->upper_len = hi->len;
			}
		}
		(*n)++;
	}
	br_avro_reader_free(&r);
	free(data);
	return rc;
}
