/* sink.c — outputs of materialized views: WITH (sink_table = 'ns.name') keeps
 * an Iceberg table equal to the view, WITH (sink_topic = 'name') writes the
 * view's changelog to a topic. Exactly once across restarts, by reconciling
 * at start rather than by checkpoints.
 *
 * PENDING AND COMMITS. Every step's output delta of the view is added to the
 * sink's pending Z-set (consolidated: a row inserted then retracted before a
 * commit is never written). After a poll of the tables (br_sql_poll), a sink
 * whose oldest pending change is sink_interval old (default 1 s) or that has
 * sink_rows pending rows (default 100000) commits:
 *   - table: pending rows all positive -> one "append" snapshot of data files
 *     holding them (each row repeated by its multiplicity); any negative ->
 *     copy-on-write (table_rewrite): one "overwrite" snapshot that replaces
 *     the live files of the partitions the pending rows fall in by files of
 *     the view's rows in those partitions. The table is created partitioned
 *     by bucket[16] of its first bucketable column, so one changed row
 *     rewrites ~1/16 of the view (all of it when that column has few values).
 *     No delete files are ever written, so any Iceberg reader (icebird,
 *     DuckDB over the live files) reads the table as it is.
 *   - topic: one record per pending row with a non-zero weight, key = the
 *     row as a JSON object of the view's columns, value = the same object plus
 *     "_weight": w, header braid.frontier; appended to partition 0 and made
 *     durable (br_partition_sync) before the next step. The topic is created
 *     with one partition and retention.ms = -1 when missing: its whole history
 *     is the sink's content.
 * Every commit carries the input frontier it reflects: per base table read by
 * the view and per partition, the next offset the catalog reads, as
 * "table/p:next,..." (snapshot summary braid.view.frontier, record header
 * braid.frontier). Commits happen between polls, so the frontier is exact.
 *
 * CRASH STORY. The sink's content is what was emitted: the rows of the
 * table's current snapshot (an Iceberg commit is atomic: a crash leaves the
 * old or the new snapshot, plus orphan data files no snapshot names), or the
 * integral of the topic's changelog (sum of _weight per key over every record
 * the log recovered, partial commits included). A restarted session rebuilds
 * the view from its tables (lake + log) up to the logs' ends, then
 * br_sink_attach computes pending = view - sink content and commits it at
 * once. So after any crash, the sink equals the view again, with no row
 * doubled or lost, whatever the moment of the crash; a consumer of the topic
 * may see a retraction of a row that was "half" committed, never a wrong
 * integral. Nothing here depends on checkpoints: with them the view is
 * restored faster, and reconciliation is unchanged.
 *
 * Ownership: the session's sink slot holds a `sinks` (this file), freed by
 * br_sink_close_all; each sink owns its strings, its loaded table and its
 * pending arena. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/util.h"
#include "iceberg/iceberg.h"
#include "log/log.h"
#include "log/records.h"
#include "sql/pgnode.h"
#include "sql/sink.h"
#include "types/text.h"

typedef struct sink {
	char *view;
	br_sink_spec spec;
	char *ns, *name;          /* of spec.table */
	br_ice_table *t;
	br_arena arena;           /* keys of pending rows */
	br_ztab rows;             /* table: encoded row -> weight */
	br_ztab json;             /* topic: row JSON text -> weight */
	int64_t npending;         /* delta rows since the last commit */
	int64_t since_ms;         /* when the oldest pending change came (0: none) */
	int64_t commits;          /* table commits since attach (maintenance cadence) */
} sink;

typedef struct sinks {
	br_lake *lake;
	int n;
	sink **v;
} sinks;

static sinks *get(br_sql *s, bool create)
{
	void **slot = br_sql_sink_slot(s);
	if (!*slot && create)
		*slot = br_xcalloc(1, sizeof(sinks));
	return *slot;
}

static sink *find(br_sql *s, const char *view)
{
	sinks *ss = get(s, false);
	for (int i = 0; ss && i < ss->n; i++)
		if (!strcmp(ss->v[i]->view, view))
			return ss->v[i];
	return NULL;
}

/* ------------------------------------------------------------- options */

static const char *defelem(json_t *d, const char **val, char *num, size_t numlen)
{
	json_t *in = json_object_size(d) == 1 ? json_object_iter_value(json_object_iter(d)) : NULL;
	json_t *arg = jget(in, "arg");
	*val = NULL;
	json_t *a;
	if ((a = jget(arg, "String")))
		*val = json_string_value(jget(a, "sval"));
	else if ((a = jget(arg, "Integer"))) {
		snprintf(num, numlen, "%" PRId64, (int64_t)json_integer_value(jget(a, "ival")));
		*val = num;
	}
	return json_string_value(jget(in, "defname"));
}

int br_sink_take_options(json_t *options, json_t **rest, br_sink_spec *spec, br_err *err)
{
	memset(spec, 0, sizeof *spec);
	spec->interval_ms = 1000;
	spec->max_rows = 100000;
	*rest = json_array();
	size_t i;
	json_t *d;
	json_array_foreach(options, i, d) {
		char num[32];
		const char *val, *key = defelem(d, &val, num, sizeof num);
		if (!key || strncmp(key, "sink_", 5)) {
			json_array_append(*rest, d);
			continue;
		}
		int rc = 0;
		if (!val)
			rc = br_errf(err, BR_EINVAL, "view option \"%s\" needs a value", key);
		else if (!strcmp(key, "sink_table")) {
			const char *dot = strchr(val, '.');
			if (!dot || dot == val || !dot[1] || strchr(dot + 1, '.') || strchr(val, '/') ||
			    !strncmp(val, "kafka.", 6))
				rc = br_errf(err, BR_EINVAL, "sink_table must be 'namespace.name' (not in namespace kafka, "
					     "which holds the topics' tables), not '%s'", val);
			else {
				free(spec->table);
				spec->table = br_xstrdup(val);
			}
		} else if (!strcmp(key, "sink_topic")) {
			if (!(rc = br_topic_name_check(val, strlen(val), err))) {
				free(spec->topic);
				spec->topic = br_xstrdup(val);
			}
		} else if (!strcmp(key, "sink_interval")) {
			char *end;
			long long ms = strtoll(val, &end, 10);
			spec->interval_ms = *end ? br_parse_duration_ms(val) : ms;
			if (spec->interval_ms < 0)
				rc = br_errf(err, BR_EINVAL, "sink_interval must be a duration ('500ms', '5s'), not '%s'", val);
		} else if (!strcmp(key, "sink_rows")) {
			char *end;
			spec->max_rows = strtoll(val, &end, 10);
			if (*end || spec->max_rows < 1)
				rc = br_errf(err, BR_EINVAL, "sink_rows must be a positive number of rows, not '%s'", val);
		} else {
			rc = br_errf(err, BR_EUNSUPPORTED, "unsupported: view option \"%s\" (sink options: sink_table, "
				     "sink_topic, sink_interval, sink_rows)", key);
		}
		if (rc) {
			json_decref(*rest);
			*rest = NULL;
			br_sink_spec_free(spec);
			return rc;
		}
	}
	return 0;
}

void br_sink_spec_free(br_sink_spec *spec)
{
	free(spec->table);
	free(spec->topic);
	spec->table = spec->topic = NULL;
}

/* ------------------------------------------------------------- helpers */

/* "table/p:next,..." over the base tables the view reads. */
static char *frontier_text(br_sql *s, const char *view)
{
	const char **tabs = NULL;
	int n = 0;
	br_sql_view_base_tables(s, view, &tabs, &n);
	br_buf b = { 0 };
	for (int i = 0; i < n; i++) {
		const int64_t *next;
		int32_t np;
		if (!br_catalog_topic_offsets(br_sql_catalog(s), tabs[i], &next, &np))
			continue;
		for (int32_t p = 0; p < np; p++) {
			char part[64];
			if (b.len)
				br_buf_u8(&b, ',');
			br_buf_put(&b, tabs[i], strlen(tabs[i]));
			int len = snprintf(part, sizeof part, "/%d:%" PRId64, p, next[p]);
			br_buf_put(&b, part, (size_t)len);
		}
	}
	free(tabs);
	br_buf_u8(&b, 0);
	return (char *)b.p;
}

static void put_json_str(br_buf *out, const char *s)
{
	br_buf_u8(out, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			br_buf_u8(out, '\\');
			br_buf_u8(out, ch);
		} else if (ch < 0x20) {
			char esc[8];
			snprintf(esc, sizeof esc, "\\u%04x", ch);
			br_buf_put(out, esc, 6);
		} else {
			br_buf_u8(out, ch);
		}
	}
	br_buf_u8(out, '"');
}

/* Row i of b as a JSON object of the view's columns (the topic's record key). */
static void row_json(const plan *p, const br_batch *b, int64_t i, br_buf *out)
{
	br_buf_reset(out);
	br_buf_u8(out, '{');
	for (int k = 0; k < p->ncols; k++) {
		if (k)
			br_buf_u8(out, ',');
		put_json_str(out, p->names[k]);
		br_buf_u8(out, ':');
		if (!br_col_valid(&b->cols[k], i))
			br_buf_put(out, "null", 4);
		else
			br_col_format_json(&b->cols[k], i, out);
	}
	br_buf_u8(out, '}');
}

static void pending_reset(sink *k)
{
	br_ztab_free(&k->rows);
	br_ztab_free(&k->json);
	br_arena_free(&k->arena);
	br_arena_init(&k->arena, 64 * 1024);
	br_ztab_init(&k->rows, &k->arena);
	br_ztab_init(&k->json, &k->arena);
	k->npending = 0;
	k->since_ms = 0;
}

/* Adds the rows of b (weights times sign) to the pending Z-sets. */
static void pending_add(sink *k, const plan *p, const br_batch *b, int sign)
{
	br_value *vals = br_xcalloc((size_t)b->ncols + 1, sizeof *vals);
	br_buf key = { 0 };
	for (int64_t i = 0; i < b->nrows; i++) {
		int64_t w = br_batch_weight(b, i) * sign;
		if (!w)
			continue;
		if (k->spec.table) {
			br_batch_get_row(b, i, vals);
			br_buf_reset(&key);
			br_row_encode(&key, vals, b->ncols);
			br_ztab_upsert(&k->rows, key.p, key.len)->w += w;
		}
		if (k->spec.topic) {
			row_json(p, b, i, &key);
			br_ztab_upsert(&k->json, key.p, key.len)->w += w;
		}
	}
	k->npending += b->nrows;
	if (b->nrows && !k->since_ms)
		k->since_ms = br_now_ms();
	br_buf_free(&key);
	free(vals);
}

/* Sets every weight to 0: what an output has emitted is not pending for it
 * any more, even if the other output failed and the commit is retried. */
static void emitted(br_ztab *t)
{
	br_zent *e;
	for (size_t i = 0; (e = br_ztab_next(t, &i));)
		e->w = 0;
}

/* ------------------------------------------------------------- the table */

static int table_open(br_sql *s, sinks *ss, sink *k, const plan *p, br_err *err)
{
	const char *data = br_catalog_topic_data_dir(br_sql_catalog(s));
	int rc;
	if (!ss->lake && (rc = br_lake_open(data, &ss->lake, err)))
		return rc;
	const char *dot = strchr(k->spec.table, '.');
	k->ns = br_xstrdup(k->spec.table);
	k->ns[dot - k->spec.table] = 0;
	k->name = br_xstrdup(dot + 1);
	br_type *st = br_type_struct();
	for (int i = 0; i < p->ncols; i++) {
		if (p->types[i] == BR_T_INTERVAL) {
			br_type_free(st);
			return br_errf(err, BR_EUNSUPPORTED, "unsupported: interval column \"%s\" in sink_table %s (Iceberg "
				       "has no interval type; cast it to text)", p->names[i], k->spec.table);
		}
		br_type_struct_add(st, i + 1, p->names[i], false, br_type_new(p->types[i]), NULL);
	}
	/* bucket[16] of the first column that has a bucket transform (not
	 * boolean/double) and a plain name: retractions rewrite only their buckets */
	char *spec = NULL;
	for (int i = 0; !spec && i < p->ncols; i++) {
		bool plain = p->names[i][0] != 0;
		for (const char *c = p->names[i]; *c; c++)
			plain &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_';
		if (plain && p->types[i] != BR_T_BOOLEAN && p->types[i] != BR_T_DOUBLE)
			spec = br_xasprintf("bucket[16](%s)", p->names[i]);
	}
	br_schema *sch;
	if ((rc = br_schema_new(0, st, &sch, err))) {
		free(spec);
		return rc;
	}
	rc = br_ice_create(ss->lake, k->ns, k->name, sch, spec, NULL, err);
	free(spec);
	if (rc == BR_EEXIST)
		rc = 0;
	if (!rc)
		rc = br_ice_load(ss->lake, k->ns, k->name, &k->t, err);
	br_schema_free(sch);
	if (rc)
		return rc;
	const br_type *root = br_ice_table_schema(k->t)->root;
	bool same = root->nchildren == p->ncols;
	for (int i = 0; same && i < p->ncols; i++)
		same = !strcmp(root->children[i].name, p->names[i]) && root->children[i].type->id == p->types[i];
	if (!same)
		return br_errf(err, BR_EINVAL, "sink_table %s exists with other columns than view \"%s\" (drop it with "
			       "`braid table drop` or choose another name)", k->spec.table, k->view);
	return 0;
}

/* The table's committed rows, each as a weighted row of out's type. */
static int table_rows(sink *k, br_batch *out, br_err *err)
{
	int rc = br_ice_refresh(k->t, err);
	br_ice_scan *sc;
	if (rc || (rc = br_ice_scan_open(k->t, NULL, &sc, err)))
		return rc;
	br_batch b = { 0 };
	br_value *vals = br_xcalloc((size_t)out->ncols + 1, sizeof *vals);
	while ((rc = br_ice_scan_next(sc, &b, err)) == 1)
		for (int64_t i = 0; i < b.nrows; i++) {
			br_batch_get_row(&b, i, vals);
			br_batch_append_row(out, vals, 1);
		}
	free(vals);
	br_batch_free(&b);
	br_ice_scan_close(sc);
	return rc < 0 ? rc : 0;
}

/* Appends rows (weighted flow rows) to a batch of the table's schema, each
 * repeated by its multiplicity. */
static void expand(const br_batch *rows, br_batch *out)
{
	br_value *vals = br_xcalloc((size_t)rows->ncols + 1, sizeof *vals);
	for (int64_t i = 0; i < rows->nrows; i++) {
		br_batch_get_row(rows, i, vals);
		for (int64_t w = br_batch_weight(rows, i); w > 0; w--)
			br_batch_append_row(out, vals, 1);
	}
	free(vals);
}

/* Keeps a long-lived sink table small: every 50 commits the small files of
 * appends are compacted (a "replace" snapshot that keeps the frontier), every
 * 100 commits snapshots older than 10 minutes are expired (beyond the last 20)
 * with the files only they named. Without it each commit (every second by
 * default) would add a snapshot that every later metadata file repeats.
 * Failures only warn: the table stays correct, just larger. */
static void table_maintain(sink *k)
{
	br_err e;
	k->commits++;
	if (k->commits % 50 == 0 && br_ice_compact(k->t, 8 << 20, NULL, NULL, &e))
		br_warn("sink_table %s: compaction: %s", k->spec.table, e.msg);
	if (k->commits % 100 == 0 && br_ice_expire_snapshots(k->t, br_now_ms() - 600000, 20, NULL, NULL, &e))
		br_warn("sink_table %s: snapshot expiry: %s", k->spec.table, e.msg);
}

/* The partition tuple of row i of b (in the table's schema), encoded. */
static int part_key(const br_ice_table *t, const br_batch *b, int64_t i, br_buf *out, br_err *err)
{
	int np = br_ice_table_npart(t);
	br_value pv[8];
	if (np > 8)
		return br_errf(err, BR_EUNSUPPORTED, "sink tables support up to 8 partition fields");
	int rc = np ? br_ice_partition_of(t, b, i, pv, err) : 0;
	br_buf_reset(out);
	if (!rc)
		br_row_encode(out, pv, np);
	return rc;
}

/* Copy-on-write of the partitions the pending rows touch: their live files
 * are replaced, in one "overwrite" snapshot, by files of the view's rows in
 * those partitions. A table made here is partitioned by bucket[16] of its
 * first bucketable column, so a retraction rewrites about 1/16 of the view
 * (all of it when that column has few values, or the table is unpartitioned).
 * rows: scratch (the view's flow row type). Cost: O(view) to pick the rows, the
 * writes O(touched partitions). */
static int table_rewrite(br_sql *s, sink *k, br_batch *rows, const br_ice_kv *summary, br_err *err)
{
	const plan *p = br_sql_view_plan(s, k->view);
	const br_type *root = br_ice_table_schema(k->t)->root;
	br_map touched = { 0 };
	br_buf key = { 0 };
	br_batch pend, all, b;
	br_batch_init(&pend, root, false);
	br_batch_init(&all, root, false);
	br_batch_init(&b, root, false);
	br_value *vals = br_xcalloc((size_t)p->ncols + 1, sizeof *vals);
	br_zent *e;
	int rc = 0;
	for (size_t i = 0; !rc && (e = br_ztab_next(&k->rows, &i));)
		if (e->w && !(rc = br_row_decode(e->key, e->klen, vals, p->ncols, err)))
			br_batch_append_row(&pend, vals, 1);
	for (int64_t i = 0; !rc && i < pend.nrows; i++)
		if (!(rc = part_key(k->t, &pend, i, &key, err)))
			br_map_put(&touched, key.p, key.len, (void *)1);
	if (!rc && !(rc = br_sql_view_rows(s, k->view, rows, err)))
		expand(rows, &all);
	for (int64_t i = 0; !rc && i < all.nrows; i++)
		if (!(rc = part_key(k->t, &all, i, &key, err)) && br_map_get(&touched, key.p, key.len)) {
			br_batch_get_row(&all, i, vals);
			br_batch_append_row(&b, vals, 1);
		}
	br_ice_plan plan;
	br_arena a;
	br_arena_init(&a, 4096);
	br_ice_datafile *files = NULL;
	size_t nfiles = 0, ndel = 0;
	if (!rc && !(rc = br_ice_plan_scan(k->t, NULL, &plan, err))) {
		const char **del = br_xcalloc(plan.nfiles + 1, sizeof *del);
		for (size_t i = 0; i < plan.nfiles; i++) {
			const br_ice_datafile *df = &plan.files[i].df;
			br_buf_reset(&key);
			br_row_encode(&key, df->part, df->npart);
			if (br_map_get(&touched, key.p, key.len))
				del[ndel++] = df->path;
		}
		if (b.nrows)
			rc = br_ice_write_files(k->t, &b, NULL, &a, &files, &nfiles, err);
		if (!rc && (ndel || nfiles))
			rc = br_ice_overwrite(k->t, del, ndel, files, nfiles, nfiles ? "overwrite" : "delete", summary, err);
		free(del);
		br_ice_plan_free(&plan);
	}
	br_arena_free(&a);
	free(vals);
	br_batch_free(&pend);
	br_batch_free(&all);
	br_batch_free(&b);
	br_buf_free(&key);
	br_map_free(&touched);
	return rc;
}

static int table_commit(br_sql *s, sink *k, const char *frontier, br_err *err)
{
	const plan *p = br_sql_view_plan(s, k->view);
	bool neg = false, any = false;
	br_zent *e;
	for (size_t i = 0; (e = br_ztab_next(&k->rows, &i));) {
		neg |= e->w < 0;
		any |= e->w != 0;
	}
	if (!any)
		return 0;
	const char *keys[] = { "braid.view", "braid.view.frontier" };
	const char *vals[] = { k->view, frontier };
	br_ice_kv summary = { 2, keys, vals };
	br_type *ft = br_flow_row_type(p->ncols, p->types);
	br_batch rows, b;
	br_batch_init(&rows, ft, true);
	br_batch_init(&b, br_ice_table_schema(k->t)->root, false);
	int rc = 0;
	if (!neg) {
		br_value *row = br_xcalloc((size_t)p->ncols + 1, sizeof *row);
		for (size_t i = 0; !rc && (e = br_ztab_next(&k->rows, &i));)
			if (e->w && !(rc = br_row_decode(e->key, e->klen, row, p->ncols, err)))
				br_batch_append_row(&rows, row, e->w);
		free(row);
		expand(&rows, &b);
		if (!rc)
			rc = br_ice_append_batch(k->t, &b, &summary, err);
	} else {
		rc = table_rewrite(s, k, &rows, &summary, err);
	}
	br_batch_free(&rows);
	br_batch_free(&b);
	br_type_free(ft);
	if (rc)
		return br_errctx(err, "sink_table %s of view \"%s\"", k->spec.table, k->view);
	table_maintain(k);
	return 0;
}

/* ------------------------------------------------------------- the topic */

static int topic_open(br_sql *s, sink *k, br_partition **out, br_err *err)
{
	br_log *log = br_catalog_topic_log(br_sql_catalog(s));
	br_topic *tp = br_log_topic(log, k->spec.topic, strlen(k->spec.topic));
	if (!tp) {
		const char *kv[] = { "retention.ms", "-1" };
		int rc = br_log_create_topic(log, k->spec.topic, 1, kv, 1, err);
		if (rc)
			return br_errctx(err, "sink_topic %s of view \"%s\"", k->spec.topic, k->view);
		tp = br_log_topic(log, k->spec.topic, strlen(k->spec.topic));
	}
	*out = br_topic_partition(tp, 0);
	if (!*out)
		return br_errf(err, BR_ENOTFOUND, "sink_topic %s has no partition", k->spec.topic);
	return 0;
}

/* The _weight of a record value this file wrote ({...,"_weight":w}); 0 if none. */
static int64_t record_weight(const uint8_t *v, int32_t len)
{
	static const char tag[] = "\"_weight\":";
	const size_t tl = sizeof tag - 1;
	for (int32_t i = len - (int32_t)tl; i >= 0; i--)
		if (!memcmp(v + i, tag, tl)) {
			char num[32];
			size_t n = BR_MIN((size_t)(len - i) - tl, sizeof num - 1);
			memcpy(num, v + i + tl, n);
			num[n] = 0;
			return strtoll(num, NULL, 10);
		}
	return 0;
}

/* Subtracts the integral of the topic's changelog (every partition, every
 * record the log holds, durable or not yet) from the pending JSON Z-set. */
static int topic_integrate(br_sql *s, sink *k, br_err *err)
{
	br_log *log = br_catalog_topic_log(br_sql_catalog(s));
	br_topic *tp = br_log_topic(log, k->spec.topic, strlen(k->spec.topic));
	br_buf buf = { 0 };
	int rc = 0;
	for (int32_t p = 0; tp && !rc && p < br_topic_partition_count(tp); p++) {
		br_partition *part = br_topic_partition(tp, p);
		int64_t off = br_partition_start_offset(part), end = br_partition_end_offset(part);
		while (!rc && off < end) {
			br_buf_reset(&buf);
			if ((rc = br_partition_read(part, off, 1 << 20, BR_READ_UNCOMMITTED | BR_READ_AT_LEAST_ONE, &buf, err)))
				break;
			br_rb_iter it;
			br_rb_iter_init(&it, buf.p, buf.len, 64u << 20, BR_RB_SKIP_CRC);
			br_record r;
			int64_t next = off;
			while ((rc = br_rb_iter_next(&it, &r, err)) == 1) {
				next = r.offset + 1;
				if (r.offset < off || !r.key || !r.value || br_rb_control(r.batch))
					continue;
				int64_t w = record_weight(r.value, r.value_len);
				if (w)
					br_ztab_upsert(&k->json, r.key, (size_t)r.key_len)->w -= w;
			}
			br_rb_iter_free(&it);
			if (rc < 0)
				break;
			rc = 0;
			if (next <= off)
				break; /* no record past off: nothing more to read */
			off = next;
		}
	}
	br_buf_free(&buf);
	return rc ? br_errctx(err, "reading sink_topic %s", k->spec.topic) : 0;
}

static int topic_commit(br_sql *s, sink *k, const char *frontier, br_err *err)
{
	br_partition *part;
	int rc = topic_open(s, k, &part, err);
	if (rc)
		return rc;
	br_rb_opts o;
	br_rb_opts_default(&o);
	br_rb_builder b;
	br_rb_builder_init(&b, &o);
	br_buf bytes = { 0 }, val = { 0 };
	br_rec_header h = { (const uint8_t *)"braid.frontier", 14, (const uint8_t *)frontier, (int32_t)strlen(frontier) };
	int64_t now = br_now_ms(), n = 0;
	br_zent *e;
	for (size_t i = 0; !rc && (e = br_ztab_next(&k->json, &i));) {
		if (!e->w)
			continue;
		br_buf_reset(&val);
		char tail[48];
		int tl = snprintf(tail, sizeof tail, "%s\"_weight\":%" PRId64 "}", e->klen > 2 ? "," : "", e->w);
		br_buf_put(&val, e->key, e->klen - 1); /* the object without its '}' */
		br_buf_put(&val, tail, (size_t)tl);
		br_rb_add(&b, now, e->key, (int32_t)e->klen, val.p, (int32_t)val.len, &h, 1);
		n++;
		if (b.recs.len >= 256 * 1024)
			rc = br_rb_finish(&b, &bytes, err);
	}
	if (!rc)
		rc = br_rb_finish(&b, &bytes, err);
	br_append_result res = { 0 };
	if (!rc && n && !(rc = br_partition_append(part, bytes.p, bytes.len, now, &res, err)) &&
	    res.status != BR_APPEND_OK)
		rc = br_errf(err, BR_EIO, "append refused: %s", res.msg);
	if (!rc) /* in the log now: a retry after a failed sync must not append them again */
		emitted(&k->json);
	if (!rc && n)
		rc = br_partition_sync(part, err);
	br_rb_builder_free(&b);
	br_buf_free(&bytes);
	br_buf_free(&val);
	return rc ? br_errctx(err, "sink_topic %s of view \"%s\"", k->spec.topic, k->view) : 0;
}

/* ------------------------------------------------------------- the API */

static int commit(br_sql *s, sink *k, br_err *err)
{
	char *frontier = frontier_text(s, k->view);
	int rc = 0;
	if (k->spec.table && !(rc = table_commit(s, k, frontier, err)))
		emitted(&k->rows);
	if (!rc && k->spec.topic)
		rc = topic_commit(s, k, frontier, err);
	free(frontier);
	if (!rc)
		pending_reset(k);
	return rc;
}

static void sink_free(sink *k)
{
	if (k->t)
		br_ice_table_free(k->t);
	br_ztab_free(&k->rows);
	br_ztab_free(&k->json);
	br_arena_free(&k->arena);
	br_sink_spec_free(&k->spec);
	free(k->ns);
	free(k->name);
	free(k->view);
	free(k);
}

int br_sink_attach(br_sql *s, const char *view, br_sink_spec *spec, br_err *err)
{
	const plan *p = br_sql_view_plan(s, view);
	if (!p)
		return br_errf(err, BR_ENOTFOUND, "view \"%s\" does not exist", view);
	if (!br_catalog_topic_log(br_sql_catalog(s)))
		return br_errf(err, BR_EUNSUPPORTED, "unsupported: sink_table/sink_topic need a data directory "
			       "(braid serve, braid sql --data)");
	if (p->nvisible != p->ncols)
		return br_errf(err, BR_EUNSUPPORTED, "unsupported: ORDER BY in a view with outputs");
	for (int i = 0; i < p->ncols; i++)
		if (!strcmp(p->names[i], "_weight") && spec->topic)
			return br_errf(err, BR_EINVAL, "view \"%s\" has a column named _weight, which its sink_topic "
				       "records use for the weight", view);
	if (spec->topic && br_sql_catalog(s)->vt->find(br_sql_catalog(s), spec->topic))
		return br_errf(err, BR_EINVAL, "sink_topic %s is the topic of table %s: a view cannot write its "
			       "changelog into a table", spec->topic, spec->topic);
	sinks *ss = get(s, true);
	for (int i = 0; i < ss->n; i++)
		if ((spec->table && ss->v[i]->spec.table && !strcmp(spec->table, ss->v[i]->spec.table)) ||
		    (spec->topic && ss->v[i]->spec.topic && !strcmp(spec->topic, ss->v[i]->spec.topic)))
			return br_errf(err, BR_EEXIST, "view \"%s\" already writes to %s", ss->v[i]->view,
				       spec->table ? spec->table : spec->topic);
	sink *k = br_xcalloc(1, sizeof *k);
	k->view = br_xstrdup(view);
	k->spec = *spec;
	memset(spec, 0, sizeof *spec);
	br_arena_init(&k->arena, 64 * 1024);
	br_ztab_init(&k->rows, &k->arena);
	br_ztab_init(&k->json, &k->arena);
	/* Reconcile: pending = the view's contents - what the sink holds. */
	br_type *ft = br_flow_row_type(p->ncols, p->types);
	br_batch v, held;
	br_batch_init(&v, ft, true);
	br_batch_init(&held, ft, true);
	int rc = br_sql_view_rows(s, view, &v, err);
	if (!rc && k->spec.table && !(rc = table_open(s, ss, k, p, err)))
		rc = table_rows(k, &held, err);
	if (!rc && k->spec.topic) {
		br_partition *part;
		if (!(rc = topic_open(s, k, &part, err)))
			rc = topic_integrate(s, k, err);
	}
	if (!rc) {
		pending_add(k, p, &v, 1);
		br_sink_spec topic_only = k->spec; /* the table's rows only count against the table */
		k->spec.topic = NULL;
		pending_add(k, p, &held, -1);
		k->spec.topic = topic_only.topic;
		rc = commit(s, k, err);
	}
	br_batch_free(&v);
	br_batch_free(&held);
	br_type_free(ft);
	if (rc) {
		sink_free(k);
		return rc;
	}
	ss->v = br_xrealloc(ss->v, sizeof *ss->v * (size_t)(ss->n + 1));
	ss->v[ss->n++] = k;
	return 0;
}

void br_sink_detach(br_sql *s, const char *view)
{
	sinks *ss = get(s, false);
	for (int i = 0; ss && i < ss->n; i++)
		if (!strcmp(ss->v[i]->view, view)) {
			sink_free(ss->v[i]);
			ss->v[i] = ss->v[--ss->n];
			return;
		}
}

void br_sink_delta(br_sql *s, const char *view, const br_batch *delta)
{
	sink *k = find(s, view);
	if (k && delta->nrows)
		pending_add(k, br_sql_view_plan(s, view), delta, 1);
}

int br_sink_tick(br_sql *s, bool force, br_err *err)
{
	sinks *ss = get(s, false);
	int64_t now = br_now_ms();
	int first = 0;
	for (int i = 0; ss && i < ss->n; i++) {
		sink *k = ss->v[i];
		if (!k->since_ms)
			continue;
		if (!force && now - k->since_ms < k->spec.interval_ms && k->npending < k->spec.max_rows)
			continue;
		br_err e;
		int rc = commit(s, k, &e); /* on failure the rows stay pending: the next tick retries */
		if (rc && !first) {
			first = rc;
			*err = e;
		}
	}
	return first;
}

void br_sink_close_all(br_sql *s)
{
	sinks *ss = get(s, false);
	if (!ss)
		return;
	br_err err;
	if (br_sink_tick(s, true, &err))
		br_warn("%s", err.msg);
	for (int i = 0; i < ss->n; i++)
		sink_free(ss->v[i]);
	free(ss->v);
	if (ss->lake)
		br_lake_close(ss->lake);
	free(ss);
	*br_sql_sink_slot(s) = NULL;
}

const char *br_sink_table_view(br_sql *s, const char *name)
{
	sinks *ss = get(s, false);
	for (int i = 0; ss && i < ss->n; i++)
		if (ss->v[i]->spec.table && !strcmp(ss->v[i]->spec.table, name))
			return ss->v[i]->view;
	return NULL;
}

int br_sink_table_scan(br_sql *s, const char *name, br_batch *out, br_err *err)
{
	const char *view = br_sink_table_view(s, name);
	sink *k = view ? find(s, view) : NULL;
	if (!k)
		return br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", name);
	return table_rows(k, out, err);
}
