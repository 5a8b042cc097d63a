/* catalog_topic.c — the catalog of a data directory: SQL tables backed by
 * topics of the log, and table/view definitions kept in <data>/sql/catalog.json.
 *
 * A TABLE IS A TOPIC. `CREATE TABLE t (...)` creates topic t (partitions = N,
 * braid.lake.mode=json, braid.lake.schema = the columns as an Iceberg schema,
 * braid.lake.commit.interval.ms from commit_interval), or attaches to an
 * existing topic with WITH (topic = 'name') without changing its configs.
 * A row is a record whose value is a JSON object with the column names as
 * keys (missing keys are NULL, unknown keys ignored). INSERT/UPDATE/DELETE
 * append such records and make them durable (br_partition_sync) before they
 * return; Kafka clients may produce the same records. The table's contents
 * are a function of the log alone:
 *   - without a primary key, every record adds one row (the topic can only be
 *     appended to, so DELETE/UPDATE are refused);
 *   - with a primary key (an upsert table), a record replaces the row with the
 *     same key values (taken from the value), and a tombstone (null value)
 *     deletes the row whose key is in the record key. SQL writes the key as
 *     the JSON object of the key columns ({"id":1}); a tombstone's key may also
 *     be the bare JSON value (1, "a") or, for one text key column, raw text.
 *     Records are spread over partitions by Kafka's murmur2 of the key bytes
 *     (the Java client's default), so one key stays in one partition and its
 *     updates keep their order.
 * Records that do not fit (not a JSON object, a value of the wrong type, a
 * NULL key column) are skipped with a counted warning; the tiering DLQ keeps
 * them for the lake.
 *
 * FOLLOWING THE LOG. Per table and partition the catalog keeps the next offset
 * to read. poll() reads every partition from there to its high watermark (the
 * durable prefix: a crash can never take back a row a view has shown) and
 * hands the table's effective delta to the caller (an upsert that changes a row
 * is a retraction of the old row plus the new one; one that changes nothing is
 * no delta). The tables hold their current contents in memory (keyed rows in
 * a hash map, one malloc per row; keyless rows as a Z-set in an arena).
 *
 * THE SEAM. When a table is loaded (session open, CREATE TABLE on an existing
 * topic), the records already tiered come from the lake: seam.h reads the
 * rows of the current snapshot of kafka.<topic> below the frontier F[p] that
 * the same snapshot records, they are applied as records would be, and next[p]
 * starts at F[p]; an upsert table also gets the tombstones that tiering
 * dead-lettered (seam_tomb). So log segments that retention removed after
 * tiering are not needed. Where the lake cannot be used (seam.c says when:
 * e.g. a key_value lake, a DLQ that lost dead letters), the table is read from
 * its log start as before, and records removed by retention are then missing.
 *
 * TIME. A table created WITH (event_time = 'col', watermark_delay, lateness,
 * allowed_lateness, idle_timeout, max_future_skew) keeps a watermark tracker
 * (flow/time.h) that judges every record in log order per partition, with the
 * broker append time of its batch (the .index's; the lake's _append_time for
 * rows read from the lake, which the seam hands over in (partition, offset)
 * order): ON_TIME and LATE_UPDATE rows are applied, LATE ones are dropped
 * (counted) or, under lateness = dead_letter, written to <table>.dlq, and
 * QUARANTINED ones (forged: event time beyond append time + max_future_skew)
 * always are (catalog_time.c, exactly once across restarts). Tombstones have no
 * event time: they delete. So the table, and every verdict, is a function of
 * the log alone: a new session that rebuilds the table judges the same. The
 * log is read only where the append times are durable too
 * (br_partition_plan_read), so a crash cannot change a verdict already made.
 * The session borrows the tracker (vt->tracker): SHOW WATERMARKS reads it, and
 * after each poll the views reading the table step at its new global
 * watermark (window.h). SQL's INSERT into such a table writes records like any
 * producer; they are judged when read back.
 *
 * VIEW CHECKPOINTS. When <data>/sql/views.ckpt (sql/checkpoint.c) is valid,
 * each table it names is still loaded whole (lake + log, as above), but the
 * effective delta of the records at or past the checkpoint's offset of their
 * partition (lake rows carry their offset, log records theirs) is kept aside
 * (ttable.pend) and handed to the views at the first poll: the views loaded
 * from the checkpoint reflect exactly the records before those offsets, so
 * they continue as if nothing had stopped. The session reads offsets() after
 * every poll for view frontiers and the next checkpoint.
 *
 * catalog.json (atomic replace = commit point):
 *   {"version":1,
 *    "tables":[{"name","topic","owns_topic","columns":[{"name","type"}],
 *               "primary_key":[names],"options":{key:value},"read":[next offset per partition]}],
 *    (options: every WITH option as text, time options included)
 *    "views":[{"name","sql","offsets":{table:[next offset per partition]}}]}
 * Column types are Iceberg primitive names ("long", "string"...). "read" and
 * "offsets" record what the tables and views reflected when the file was last
 * written (at every DDL and at close); the next session rebuilds both from the
 * log start, so a crash between writes loses nothing. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/util.h"
#include "flow/flow.h"
#include "flow/time.h"
#include "log/log.h"
#include "log/records.h"
#include "sql/catalog_time.h"
#include "sql/plan.h"
#include "sql/checkpoint.h"
#include "sql/progress.h"
#include "sql/seam.h"
#include "sql/sql.h"
#include "types/text.h"

typedef struct stored_row {
	uint32_t len;
	uint8_t b[];
} stored_row;

typedef struct ttable {
	br_sql_table def;     /* owned copies */
	char *topic;
	bool owns_topic;      /* created with the table: DROP TABLE deletes it */
	json_t *options;      /* as given in WITH (...) */
	int32_t nparts;
	int64_t *next;        /* per partition: next offset to read */
	uint8_t topic_id[16]; /* of the topic read so far (a re-created topic starts over) */
	br_type *keytype;     /* struct of the key columns (keyed tables) */
	br_map bykey;         /* keyed: encoded key -> stored_row* (malloc'd) */
	br_arena arena;       /* keyless: keys of rows */
	br_ztab rows;         /* keyless: encoded row -> multiplicity */
	int64_t rr;           /* keyless: next partition for SQL writes */
	/* EVENT TIME (WITH (event_time = ...), see "TIME" above) */
	bool timed;
	int tcol;             /* event-time column, -1: _append_time */
	br_wm_tracker wm;     /* judges every record in log order per partition */
	br_tdlq dlq;          /* <table>.dlq: LATE (dead_letter) and QUARANTINED records */
	/* Restart from a view checkpoint (see VIEW CHECKPOINTS above): records at
	 * or past from[p] are also gathered as the effective delta in pend, which
	 * the first poll hands to the views loaded from the checkpoint. */
	int64_t *from;        /* NULL when not restarting from a checkpoint */
	int32_t nfrom;
	br_batch pend;
	bool has_pend;
} ttable;

typedef struct view_def {
	char *name, *sql;
} view_def;

typedef struct topiccat {
	br_catalog base;
	br_log *log;
	char *data;           /* <data> */
	char *dir;            /* <data>/sql */
	br_map tables;        /* name -> ttable* */
	view_def *views;
	int nviews;
	int64_t skipped;
	char *ckpt_path;      /* <data>/sql/views.ckpt */
	br_sql_ckpt *ck;      /* read at open, until the session takes it */
	br_progress *loading; /* the load in progress (lake, then log), for poll_table's reads */
} topiccat;

/* ------------------------------------------------------------ helpers */

static void table_free(ttable *t)
{
	for (int i = 0; i < t->def.ncols; i++)
		free(t->def.cols[i]);
	for (int i = 0; i < t->def.nopts; i++) {
		free(t->def.opt_keys[i]);
		free(t->def.opt_vals[i]);
	}
	free(t->def.opt_keys);
	free(t->def.opt_vals);
	free(t->def.cols);
	free(t->def.types);
	free(t->def.pk);
	free(t->def.name);
	br_type_free(t->def.rowtype);
	br_type_free(t->keytype);
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&t->bykey, &i, &s);)
		free(s->val);
	br_map_free(&t->bykey);
	br_ztab_free(&t->rows);
	br_arena_free(&t->arena);
	json_decref(t->options);
	if (t->timed) {
		br_wm_free(&t->wm);
		br_tdlq_free(&t->dlq);
	}
	free(t->from);
	if (t->has_pend)
		br_batch_free(&t->pend);
	free(t->next);
	free(t->topic);
	free(t);
}

static ttable *table_new(const br_sql_table *def)
{
	ttable *t = br_xcalloc(1, sizeof *t);
	t->def.name = br_xstrdup(def->name);
	t->def.ncols = def->ncols;
	t->def.cols = br_xcalloc((size_t)def->ncols + 1, sizeof(char *));
	t->def.types = br_xcalloc((size_t)def->ncols + 1, sizeof(br_type_id));
	for (int i = 0; i < def->ncols; i++) {
		t->def.cols[i] = br_xstrdup(def->cols[i]);
		t->def.types[i] = def->types[i];
	}
	t->def.rowtype = br_flow_row_type(def->ncols, def->types);
	t->def.npk = def->npk;
	t->def.pk = br_xcalloc((size_t)def->npk + 1, sizeof(int));
	br_type_id kt[64];
	for (int i = 0; i < def->npk && i < 64; i++) {
		t->def.pk[i] = def->pk[i];
		kt[i] = def->types[def->pk[i]];
	}
	if (def->npk)
		t->keytype = br_flow_row_type(def->npk, kt);
	br_arena_init(&t->arena, 64 * 1024);
	br_ztab_init(&t->rows, &t->arena);
	t->options = json_object();
	return t;
}

static br_partition *table_part(topiccat *c, ttable *t, int32_t p)
{
	br_topic *tp = br_log_topic(c->log, t->topic, strlen(t->topic));
	return tp ? br_topic_partition(tp, p) : NULL;
}

/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) and the Java
 * client's default partition for a key: toPositive(murmur2(key)) % n. */
static int32_t murmur2(const uint8_t *data, size_t len)
{
	const uint32_t m = 0x5bd1e995;
	const int r = 24;
	uint32_t h = 0x9747b28c ^ (uint32_t)len;
	size_t n4 = len / 4;
	for (size_t i = 0; i < n4; i++) {
		const uint8_t *p = data + i * 4;
		uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	const uint8_t *tail = data + n4 * 4;
	switch (len % 4) {
	case 3: h ^= (uint32_t)tail[2] << 16; /* fall through */
	case 2: h ^= (uint32_t)tail[1] << 8;  /* fall through */
	case 1: h ^= tail[0]; h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)h;
}

static int32_t key_partition(const uint8_t *key, size_t len, int32_t n)
{
	return (int32_t)(((uint32_t)murmur2(key, len) & 0x7fffffffu) % (uint32_t)n);
}

/* JSON text of a string (column names in records and keys). */
static void put_json_str(br_buf *out, const char *s)
{
	json_t *js = json_string(s);
	char *q = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
	if (q)
		br_buf_put(out, q, strlen(q));
	else
		br_buf_put(out, "\"?\"", 3);
	free(q);
	json_decref(js);
}

static int strcmp_ptr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ------------------------------------------------------------ time options */

static bool time_key(const char *k)
{
	br_time_opts o;
	br_time_opts_default(&o);
	br_err e = { 0 };
	return br_time_parse_option(&o, k, "1 s", &e) != BR_ENOTFOUND;
}

/* The time options among a table's options (a JSON object of texts): *o, and
 * the event-time column in *tcol (-1: _append_time). o->event_time is "" when
 * the table has no event time. */
static int time_opts(const br_sql_table *def, json_t *options, br_time_opts *o, int *tcol, br_err *err)
{
	br_time_opts_default(o);
	*tcol = -1;
	const char *k;
	json_t *v;
	int n = 0, rc;
	json_object_foreach(options, k, v) {
		if (!time_key(k))
			continue;
		if ((rc = br_time_parse_option(o, k, json_string_value(v), err)))
			return rc;
		n++;
	}
	if (!n)
		return 0;
	if ((rc = br_time_parse_options(o, 0, NULL, NULL, err)) || !o->event_time[0] ||
	    !strcmp(o->event_time, "_append_time"))
		return rc;
	for (int i = 0; i < def->ncols; i++)
		if (!strcmp(def->cols[i], o->event_time))
			*tcol = i;
	if (*tcol < 0)
		return br_errf(err, BR_EINVAL, "event_time column \"%s\" does not exist in \"%s\"", o->event_time,
			       def->name);
	br_type_id ty = def->types[*tcol];
	if (ty != BR_T_LONG && ty != BR_T_TIMESTAMP && ty != BR_T_TIMESTAMPTZ)
		return br_errf(err, BR_EINVAL,
			       "event_time column \"%s\" is %s; it must be timestamp, timestamptz or bigint "
			       "(microseconds since the epoch)", o->event_time, br_flow_type_name(ty));
	return 0;
}

/* A table with event time gets its tracker and dead-letter topic (nparts and
 * topic_id known). */
static int table_time_init(topiccat *c, ttable *t, br_err *err)
{
	br_time_opts o;
	int tcol;
	int rc = time_opts(&t->def, t->options, &o, &tcol, err);
	if (rc || !o.event_time[0])
		return rc;
	t->timed = true;
	t->tcol = tcol;
	br_wm_init(&t->wm, &o, BR_MAX(t->nparts, 1));
	br_tdlq_open(&t->dlq, c->log, t->def.name, t->topic, t->topic_id, t->nparts);
	return 0;
}

/* ------------------------------------------------------------ reading records */

/* Values of one record into row (strings point into scratch's buffers). */
static int decode_value(ttable *t, br_batch *scratch, const uint8_t *p, size_t n, br_value *row, br_err *err)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)p, n, 0, &je);
	if (!j)
		return br_errf(err, BR_EINVAL, "value is not JSON: %s", je.text);
	int rc = 0;
	if (!json_is_object(j))
		rc = br_errf(err, BR_EINVAL, "value is not a JSON object");
	br_batch_reset(scratch);
	for (int i = 0; !rc && i < t->def.ncols; i++)
		if ((rc = br_col_append_json(&scratch->cols[i], false, json_object_get(j, t->def.cols[i]), err)))
			br_errctx(err, "column \"%s\"", t->def.cols[i]);
	json_decref(j);
	if (rc)
		return rc;
	br_batch_row_done(scratch, 1);
	br_batch_get_row(scratch, 0, row);
	for (int i = 0; i < t->def.npk; i++)
		if (row[t->def.pk[i]].is_null)
			return br_errf(err, BR_EINVAL, "key column \"%s\" is null", t->def.cols[t->def.pk[i]]);
	return 0;
}

/* The key values of a tombstone's record key. */
static int decode_key(ttable *t, br_batch *scratch, const uint8_t *p, size_t n, br_value *key, br_err *err)
{
	if (!p)
		return br_errf(err, BR_EINVAL, "tombstone without a key");
	br_batch_reset(scratch);
	json_error_t je;
	json_t *j = json_loadb((const char *)p, n, JSON_DECODE_ANY, &je);
	int rc = 0;
	if (j && json_is_object(j)) {
		for (int i = 0; !rc && i < t->def.npk; i++) {
			const char *name = t->def.cols[t->def.pk[i]];
			if ((rc = br_col_append_json(&scratch->cols[i], true, json_object_get(j, name), err)))
				br_errctx(err, "key column \"%s\"", name);
		}
	} else if (t->def.npk == 1 && j && !json_is_null(j) &&
		   !br_col_append_json(&scratch->cols[0], true, j, err)) {
		/* a bare JSON value for a one-column key */
	} else if (t->def.npk == 1 && t->keytype->children[0].type->id == BR_T_STRING) {
		br_batch_reset(scratch);
		json_t *s = json_stringn((const char *)p, n);
		rc = s ? br_col_append_json(&scratch->cols[0], true, s, err)
		       : br_errf(err, BR_EINVAL, "key is not valid UTF-8");
		json_decref(s);
	} else {
		rc = br_errf(err, BR_EINVAL, "key is not a JSON object of the key columns");
	}
	json_decref(j);
	if (rc)
		return rc;
	br_batch_row_done(scratch, 1);
	br_batch_get_row(scratch, 0, key);
	return 0;
}

typedef struct reader {
	topiccat *c;
	ttable *t;
	br_batch scratch, keyscratch, delta;
	br_value *row, *key, *old;
	br_buf enc, kenc;
	br_catalog_delta_fn cb;
	void *arg;
	int64_t skipped;
	/* lake rows to dead-letter (timed tables): written once the seam read
	 * succeeded, from the log's record when it still has it */
	struct lake_dead { int32_t p; int64_t off, at; const char *why; uint8_t *enc; uint32_t len; } *dead;
	size_t ndead;
	int64_t pos[2];       /* partition and offset of the record being applied */
} reader;

/* Past the offsets of the view checkpoint the table restarts from. */
static bool past_ckpt(const reader *rd)
{
	const ttable *t = rd->t;
	if (!t->from)
		return false;
	int64_t f = rd->pos[0] >= 0 && rd->pos[0] < t->nfrom ? t->from[rd->pos[0]] : 0;
	return rd->pos[1] >= f;
}

/* Deltas are built only for a caller that wants them (not while a table is
 * loaded at open or creation: no view reads it yet), and at open for the
 * records past a view checkpoint's offsets. */
static void emit_row(reader *rd, const br_value *row, int64_t w)
{
	if (rd->cb || past_ckpt(rd))
		br_batch_append_row(&rd->delta, row, w);
}

static void emit_stored(reader *rd, const stored_row *s, int64_t w, br_err *err)
{
	if ((rd->cb || past_ckpt(rd)) && !br_row_decode(s->b, s->len, rd->old, rd->t->def.ncols, err))
		br_batch_append_row(&rd->delta, rd->old, w);
}

/* Applies one row (a record's value, or a lake row) to the table's state and
 * its delta. */
static int apply_row(reader *rd, const br_value *row)
{
	ttable *t = rd->t;
	br_err err = { 0 };
	br_buf_reset(&rd->enc);
	br_row_encode(&rd->enc, row, t->def.ncols);
	if (!t->def.npk) {
		br_ztab_upsert(&t->rows, rd->enc.p, rd->enc.len)->w += 1;
		emit_row(rd, row, 1);
		return 0;
	}
	for (int i = 0; i < t->def.npk; i++)
		rd->key[i] = row[t->def.pk[i]];
	br_buf_reset(&rd->kenc);
	br_row_encode(&rd->kenc, rd->key, t->def.npk);
	stored_row *old = br_map_get(&t->bykey, rd->kenc.p, rd->kenc.len);
	if (old && old->len == rd->enc.len && !memcmp(old->b, rd->enc.p, old->len))
		return 0; /* the same row again: no change */
	if (old)
		emit_stored(rd, old, -1, &err);
	stored_row *s = br_xmalloc(sizeof *s + rd->enc.len);
	s->len = (uint32_t)rd->enc.len;
	memcpy(s->b, rd->enc.p, rd->enc.len);
	br_map_put(&t->bykey, rd->kenc.p, rd->kenc.len, s);
	free(old);
	emit_row(rd, row, 1);
	return 0;
}

/* Applies one record to the table's state and its delta. */
static int apply_record(reader *rd, const br_record *r, br_err *err)
{
	ttable *t = rd->t;
	int rc;
	if (!r->value) {
		if (!t->def.npk)
			return br_errf(err, BR_EINVAL, "null value in a table without a primary key");
		if ((rc = decode_key(t, &rd->keyscratch, r->key, r->key ? (size_t)r->key_len : 0, rd->key, err)))
			return rc;
		br_buf_reset(&rd->kenc);
		br_row_encode(&rd->kenc, rd->key, t->def.npk);
		stored_row *old = br_map_del(&t->bykey, rd->kenc.p, rd->kenc.len);
		if (old)
			emit_stored(rd, old, -1, err);
		free(old);
		return 0;
	}
	if ((rc = decode_value(t, &rd->scratch, r->value, (size_t)r->value_len, rd->row, err)))
		return rc;
	return apply_row(rd, rd->row);
}

/* The tracker's verdict on one row of partition part (TIME in the header). */
static int judge(ttable *t, int32_t part, const br_value *row, int64_t append_us, const char **why)
{
	bool by_append = t->tcol < 0;
	bool null_time = by_append ? append_us == BR_TIME_NONE : row[t->tcol].is_null;
	int64_t ev = by_append ? append_us : null_time ? 0 : row[t->tcol].v.i64;
	return br_wm_observe(&t->wm, part, null_time, ev, append_us, why);
}

static bool to_dead_letters(const ttable *t, int verdict)
{
	return verdict == BR_TIME_QUARANTINED || (verdict == BR_TIME_LATE && t->wm.opts.lateness == BR_LATE_DEAD_LETTER);
}

/* A record of a table with event time: judged, then applied, dead-lettered or
 * dropped (counted by the tracker). A tombstone has no event time: it deletes. */
static int apply_timed(reader *rd, int32_t part, const br_record *r, int64_t append_us, br_err *err)
{
	ttable *t = rd->t;
	if (!r->value)
		return apply_record(rd, r, err);
	int rc = decode_value(t, &rd->scratch, r->value, (size_t)r->value_len, rd->row, err);
	if (rc)
		return rc;
	const char *why;
	int v = judge(t, part, rd->row, append_us, &why);
	if (v == BR_TIME_ON_TIME || v == BR_TIME_LATE_UPDATE)
		return apply_row(rd, rd->row);
	if (to_dead_letters(t, v))
		br_tdlq_add(&t->dlq, part, r->offset, r, NULL, 0, NULL, 0, 0, why);
	return 0;
}

static void reader_init(reader *rd, topiccat *c, ttable *t, br_catalog_delta_fn cb, void *arg)
{
	*rd = (reader){ .c = c, .t = t, .cb = cb, .arg = arg };
	br_batch_init(&rd->scratch, t->def.rowtype, false);
	if (t->keytype)
		br_batch_init(&rd->keyscratch, t->keytype, false);
	br_batch_init(&rd->delta, t->def.rowtype, true);
	rd->row = br_xcalloc((size_t)t->def.ncols + 1, sizeof(br_value));
	rd->old = br_xcalloc((size_t)t->def.ncols + 1, sizeof(br_value));
	rd->key = br_xcalloc((size_t)t->def.npk + 1, sizeof(br_value));
}

static void reader_free(reader *rd)
{
	for (size_t i = 0; i < rd->ndead; i++)
		free(rd->dead[i].enc);
	free(rd->dead);
	br_buf_free(&rd->enc);
	br_buf_free(&rd->kenc);
	br_batch_free(&rd->scratch);
	if (rd->t->keytype)
		br_batch_free(&rd->keyscratch);
	br_batch_free(&rd->delta);
	free(rd->row);
	free(rd->old);
	free(rd->key);
}

static int flush_delta(reader *rd, br_err *err)
{
	int rc = 0;
	if (rd->delta.nrows && rd->cb)
		rc = rd->cb(rd->arg, rd->t->def.name, &rd->delta, err);
	else if (rd->delta.nrows && rd->t->from) { /* kept for the first poll */
		ttable *t = rd->t;
		if (!t->has_pend)
			br_batch_init(&t->pend, t->def.rowtype, true);
		t->has_pend = true;
		br_value *row = br_xcalloc((size_t)t->def.ncols + 1, sizeof *row);
		for (int64_t i = 0; i < rd->delta.nrows; i++) {
			br_batch_get_row(&rd->delta, i, row);
			br_batch_append_row(&t->pend, row, br_batch_weight(&rd->delta, i));
		}
		free(row);
	}
	br_batch_reset(&rd->delta);
	return rc;
}

/* Records of the stored batches in buf (whole batches, CRC checked on append).
 * A table with event time reads through a plan, whose batches are buf's, in
 * order, with their broker append times (ms). */
static int read_batches(reader *rd, int32_t part, const br_buf *buf, const br_read_plan *plan, br_err *err)
{
	ttable *t = rd->t;
	size_t pos = 0, bi = 0;
	while (pos < buf->len) {
		br_rb_hdr h;
		int rc = br_rb_parse_header(buf->p + pos, buf->len - pos, pos, &h, err);
		if (rc)
			return rc;
		size_t size = br_rb_size(&h);
		int64_t end = h.base_offset + h.last_offset_delta + 1;
		if (end > t->next[part] && !br_rb_control(&h)) {
			br_rb_iter it;
			br_rb_iter_init(&it, buf->p + pos, size, 64u << 20, BR_RB_SKIP_CRC);
			br_record r;
			while ((rc = br_rb_iter_next(&it, &r, err)) == 1) {
				if (r.offset < t->next[part])
					continue;
				rd->pos[0] = part;
				rd->pos[1] = r.offset;
				br_err rerr = { 0 };
				int64_t app = plan && bi < plan->nbatches && plan->batch_append[bi] >= 0
						      ? plan->batch_append[bi] * 1000 : BR_TIME_NONE;
				if (plan ? apply_timed(rd, part, &r, app, &rerr) : apply_record(rd, &r, &rerr)) {
					/* the first few by name, then a count per poll (a topic full of
					 * foreign records must not flood the log at every open) */
					if (rd->skipped++ < 5)
						br_warn("table %s: record %s/%d@%" PRId64 " skipped: %s", t->def.name, t->topic,
							part, r.offset, rerr.msg);
					rd->c->skipped++;
				}
			}
			br_rb_iter_free(&it);
			if (rc < 0)
				return rc;
		}
		if (end > t->next[part])
			t->next[part] = end;
		pos += size;
		bi++;
		if (rd->delta.nrows >= 65536 && (rc = flush_delta(rd, err)))
			return rc;
	}
	return 0;
}

/* The topic was deleted and created again (Kafka admin): its offsets start
 * over, so does the table; views see every old row retracted. */
static int restart_table(topiccat *c, ttable *t, br_topic *tp, br_catalog_delta_fn cb, void *arg, br_err *err)
{
	br_warn("table %s: topic %s was re-created; the table now holds the new topic's records", t->def.name, t->topic);
	int rc = 0;
	if (cb) {
		br_batch all, neg;
		br_batch_init(&all, t->def.rowtype, true);
		br_batch_init(&neg, t->def.rowtype, true);
		br_value *row = br_xcalloc((size_t)t->def.ncols + 1, sizeof *row);
		if (!(rc = c->base.vt->scan(&c->base, t->def.name, &all, err))) {
			for (int64_t i = 0; i < all.nrows; i++) {
				br_batch_get_row(&all, i, row);
				br_batch_append_row(&neg, row, -br_batch_weight(&all, i));
			}
			if (neg.nrows)
				rc = cb(arg, t->def.name, &neg, err);
		}
		free(row);
		br_batch_free(&all);
		br_batch_free(&neg);
	}
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&t->bykey, &i, &s);)
		free(s->val);
	br_map_free(&t->bykey);
	memset(&t->bykey, 0, sizeof t->bykey);
	br_ztab_free(&t->rows);
	br_arena_free(&t->arena);
	br_arena_init(&t->arena, 64 * 1024);
	br_ztab_init(&t->rows, &t->arena);
	if (t->nparts)
		memset(t->next, 0, sizeof *t->next * (size_t)t->nparts);
	memcpy(t->topic_id, br_topic_id(tp), 16);
	if (t->timed) { /* the tracker judges the new topic from its start */
		br_time_opts o = t->wm.opts;
		br_wm_free(&t->wm);
		br_wm_init(&t->wm, &o, BR_MAX(t->nparts, 1));
		br_tdlq_reset(&t->dlq, t->topic_id, t->nparts);
	}
	return rc;
}

static int poll_table(topiccat *c, ttable *t, br_catalog_delta_fn cb, void *arg, br_err *err)
{
	br_topic *tp = br_log_topic(c->log, t->topic, strlen(t->topic));
	if (!tp)
		return 0; /* deleted under us: the table keeps what it had */
	int rc;
	if (memcmp(t->topic_id, br_topic_id(tp), 16) && (rc = restart_table(c, t, tp, cb, arg, err)))
		return rc;
	int32_t n = br_topic_partition_count(tp);
	if (n > t->nparts) { /* partitions were added */
		t->next = br_xrealloc(t->next, sizeof *t->next * (size_t)n);
		for (int32_t p = t->nparts; p < n; p++)
			t->next[p] = 0;
		t->nparts = n;
		if (t->timed) {
			br_wm_set_partitions(&t->wm, n);
			br_tdlq_grow(&t->dlq, n);
		}
	}
	reader rd;
	bool any = false;
	for (int32_t p = 0; p < n && !any; p++)
		any = t->next[p] < br_partition_high_watermark(br_topic_partition(tp, p));
	if (!any)
		return 0;
	reader_init(&rd, c, t, cb, arg);
	br_buf buf = { 0 };
	rc = 0;
	for (int32_t p = 0; p < n && !rc; p++) {
		br_partition *part = br_topic_partition(tp, p);
		if (t->next[p] < br_partition_start_offset(part)) {
			br_warn("table %s: %s/%d starts at offset %" PRId64 " (retention), rows before it are missing",
				t->def.name, t->topic, p, br_partition_start_offset(part));
			t->next[p] = br_partition_start_offset(part);
		}
		while (!rc && !t->timed && t->next[p] < br_partition_high_watermark(part)) {
			br_buf_reset(&buf);
			if ((rc = br_partition_read(part, t->next[p], 4 << 20, BR_READ_AT_LEAST_ONE, &buf, err)))
				break;
			if (!buf.len)
				break;
			int64_t was = t->next[p];
			rc = read_batches(&rd, p, &buf, NULL, err);
			if (c->loading)
				br_progress_add(c->loading, t->next[p] - was, (int64_t)buf.len);
		}
		/* event time: only records whose append time is durable too (a plan
		 * stops there), so a verdict never changes after a crash */
		while (!rc && t->timed && t->next[p] < br_partition_high_watermark(part)) {
			br_read_plan plan;
			if ((rc = br_partition_plan_read(part, t->next[p], 4 << 20, &plan, err)))
				break;
			br_buf_reset(&buf);
			bool none = !plan.nbatches;
			int64_t was = t->next[p];
			if (!none && !(rc = br_read_plan_exec(&plan, &buf, err)))
				rc = read_batches(&rd, p, &buf, &plan, err);
			if (c->loading)
				br_progress_add(c->loading, t->next[p] - was, (int64_t)buf.len);
			br_read_plan_free(&plan);
			if (none)
				break;
		}
	}
	if (!rc)
		rc = flush_delta(&rd, err);
	if (t->timed) {
		br_wm_global(&t->wm); /* after every row of the poll: the session steps views at it */
		br_err derr = { 0 };
		if (br_tdlq_flush(&t->dlq, c->log, &derr))
			br_warn("table %s: %s", t->def.name, derr.msg);
	}
	if (rd.skipped > 5)
		br_warn("table %s: %" PRId64 " records of topic %s skipped in all (they do not fit the table)",
			t->def.name, rd.skipped, t->topic);
	br_buf_free(&buf);
	reader_free(&rd);
	if (rc)
		br_errctx(err, "reading table %s from topic %s", t->def.name, t->topic);
	return rc;
}

/* A lake row: applied as its record would be (a NULL key column is skipped,
 * as decode_value refuses it). */
static int seam_row(void *arg, const br_value *row, br_err *err)
{
	reader *rd = arg;
	ttable *t = rd->t;
	for (int i = 0; i < t->def.npk; i++)
		if (row[t->def.pk[i]].is_null) {
			rd->c->skipped++;
			return 0;
		}
	return apply_row(rd, row);
}

/* A tombstone that tiering dead-lettered, read back by the seam: deletes as
 * apply_record does (a key that does not decode is skipped, as there). */
static int seam_tomb(void *arg, const uint8_t *key, int32_t key_len, br_err *err)
{
	reader *rd = arg;
	ttable *t = rd->t;
	br_err kerr = { 0 };
	if (decode_key(t, &rd->keyscratch, key, key ? (size_t)key_len : 0, rd->key, &kerr)) {
		rd->c->skipped++;
		return 0;
	}
	br_buf_reset(&rd->kenc);
	br_row_encode(&rd->kenc, rd->key, t->def.npk);
	stored_row *old = br_map_del(&t->bykey, rd->kenc.p, rd->kenc.len);
	if (old)
		emit_stored(rd, old, -1, err);
	free(old);
	return 0;
}

/* A lake row of a table with event time: judged as its record would be (in
 * the same order: the seam sorts rows by partition and offset). Rows for the
 * dead-letter topic wait until the lake read succeeded (dead_letter_lake). */
static int seam_row_at(void *arg, int32_t p, int64_t off, int64_t append_us, const br_value *row, br_err *err)
{
	reader *rd = arg;
	ttable *t = rd->t;
	for (int i = 0; i < t->def.npk; i++)
		if (row[t->def.pk[i]].is_null) {
			rd->c->skipped++;
			return 0;
		}
	const char *why;
	int v = judge(t, p, row, append_us, &why);
	if (v == BR_TIME_ON_TIME || v == BR_TIME_LATE_UPDATE)
		return apply_row(rd, row);
	if (to_dead_letters(t, v) && (p >= t->dlq.nparts || off > t->dlq.done[p])) {
		br_buf_reset(&rd->enc);
		br_row_encode(&rd->enc, row, t->def.ncols);
		rd->dead = br_xrealloc(rd->dead, sizeof *rd->dead * (rd->ndead + 1));
		uint8_t *copy = br_xmalloc(rd->enc.len + 1);
		memcpy(copy, rd->enc.p, rd->enc.len);
		rd->dead[rd->ndead++] = (struct lake_dead){ p, off, append_us, why, copy, (uint32_t)rd->enc.len };
	}
	(void)err;
	return 0;
}

static void row_json(const ttable *t, const br_batch *b, int64_t i, int n, const int *idx, br_buf *out);

/* A dead letter judged from a lake row: the record itself when the log still
 * has it (original key, value and headers), else the row as a JSON object. */
static void dead_letter_lake(reader *rd, br_partition *part, const struct lake_dead *d)
{
	ttable *t = rd->t;
	br_buf buf = { 0 };
	br_err e = { 0 };
	bool done = false;
	if (part && d->off >= br_partition_start_offset(part) &&
	    !br_partition_read(part, d->off, 1, BR_READ_AT_LEAST_ONE, &buf, &e)) {
		for (size_t pos = 0; !done && pos < buf.len;) {
			br_rb_hdr h;
			if (br_rb_parse_header(buf.p + pos, buf.len - pos, pos, &h, &e))
				break;
			size_t size = br_rb_size(&h);
			br_rb_iter it;
			br_rb_iter_init(&it, buf.p + pos, size, 64u << 20, BR_RB_SKIP_CRC);
			br_record r;
			while (!done && br_rb_iter_next(&it, &r, &e) == 1)
				if (r.offset == d->off) {
					br_tdlq_add(&t->dlq, d->p, d->off, &r, NULL, 0, NULL, 0, 0, d->why);
					done = true;
				}
			br_rb_iter_free(&it);
			pos += size;
		}
	}
	if (!done && !br_row_decode(d->enc, d->len, rd->old, t->def.ncols, &e)) {
		br_batch one;
		br_batch_init(&one, t->def.rowtype, false);
		br_batch_append_row(&one, rd->old, 1);
		br_buf_reset(&buf);
		row_json(t, &one, 0, t->def.ncols, NULL, &buf);
		br_tdlq_add(&t->dlq, d->p, d->off, NULL, NULL, -1, buf.p, (int32_t)buf.len,
			    d->at == BR_TIME_NONE ? -1 : d->at / 1000, d->why);
		br_batch_free(&one);
	}
	br_buf_free(&buf);
}

/* Forgets every row (a lake read that failed half way). */
static void table_clear(ttable *t)
{
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&t->bykey, &i, &s);)
		free(s->val);
	br_map_free(&t->bykey);
	memset(&t->bykey, 0, sizeof t->bykey);
	br_ztab_free(&t->rows);
	br_arena_free(&t->arena);
	br_arena_init(&t->arena, 64 * 1024);
	br_ztab_init(&t->rows, &t->arena);
}

/* THE SEAM (see the header and seam.h): a table being loaded (next[] all 0)
 * takes the rows below the lake frontier from the lake and starts next[] at
 * the frontier; poll_table then reads the log from there. Any reason not to
 * use the lake leaves next[] at 0: the log is read from its start. */
static void seam_load(topiccat *c, ttable *t, br_progress *pr)
{
	br_topic *tp = br_log_topic(c->log, t->topic, strlen(t->topic));
	if (!tp || t->nparts < 1)
		return;
	int64_t *high = br_xcalloc((size_t)t->nparts, sizeof *high);
	int64_t *front = br_xcalloc((size_t)t->nparts, sizeof *front);
	for (int32_t p = 0; p < t->nparts; p++)
		high[p] = br_partition_high_watermark(br_topic_partition(tp, p));
	reader rd;
	reader_init(&rd, c, t, NULL, NULL);
	br_seam_spec spec = { .ncols = t->def.ncols, .cols = t->def.cols, .types = t->def.types,
			      .upsert = t->def.npk > 0, .nparts = t->nparts, .high = high, .log = c->log,
			      .tomb = seam_tomb, .ordered = t->timed, .row_at = t->timed ? seam_row_at : NULL,
			      .pos = rd.pos, .progress = pr };
	char why[512];
	br_err err = { 0 };
	int rc = br_seam_read(c->data, t->topic, &spec, front, seam_row, &rd, why, sizeof why, &err);
	if (rc == 1) {
		int64_t rows = 0;
		for (int32_t p = 0; p < t->nparts; p++) {
			t->next[p] = front[p];
			rows += front[p];
		}
		if (rows)
			br_info("table %s: offsets below the lake frontier of kafka.%s read from the lake",
				t->def.name, t->topic);
		for (size_t i = 0; i < rd.ndead; i++)
			dead_letter_lake(&rd, br_topic_partition(tp, rd.dead[i].p), &rd.dead[i]);
		if (t->timed && br_tdlq_flush(&t->dlq, c->log, &err))
			br_warn("table %s: %s", t->def.name, err.msg);
		flush_delta(&rd, &err); /* lake rows past a view checkpoint's offsets */
	} else if (rc < 0) {
		br_warn("table %s: %s; reading topic %s from its start instead", t->def.name, err.msg, t->topic);
		table_clear(t);
		if (t->timed) { /* the log's records are judged from the start again */
			br_time_opts o = t->wm.opts;
			br_wm_free(&t->wm);
			br_wm_init(&t->wm, &o, BR_MAX(t->nparts, 1));
		}
		if (t->has_pend)
			br_batch_reset(&t->pend);
		if (pr) /* what the lake gave is forgotten: the log phase counts from 0 */
			pr->p.rows_done = pr->p.bytes_done = pr->p.rows_total = pr->p.bytes_total = 0;
	} else if (why[0]) {
		/* a warning only when it costs rows (retention trimmed the log) */
		bool trimmed = false;
		for (int32_t p = 0; p < t->nparts; p++)
			trimmed |= br_partition_start_offset(br_topic_partition(tp, p)) > 0;
		br_logf(trimmed ? BR_LOG_WARN : BR_LOG_DEBUG,
			"table %s: the lake is not used (%s); reading topic %s from its start", t->def.name, why, t->topic);
	}
	reader_free(&rd);
	free(high);
	free(front);
}

/* A table being loaded (next[] all 0): the lake below the frontier (seam_load),
 * then the log up to the high watermark seen now, with progress reported to
 * the catalog's listener as one backfill of two phases. */
static int load_table_rows(topiccat *c, ttable *t, br_err *err)
{
	br_progress pr;
	br_progress_start(&pr, c->base.progress, c->base.progress_arg, t->def.name, false, 0, 0);
	seam_load(c, t, &pr);
	br_topic *tp = br_log_topic(c->log, t->topic, strlen(t->topic));
	int64_t rows = 0, bytes = 0;
	for (int32_t p = 0; tp && p < t->nparts && p < br_topic_partition_count(tp); p++) {
		br_partition *part = br_topic_partition(tp, p);
		int64_t from = t->next[p] > br_partition_start_offset(part) ? t->next[p] : br_partition_start_offset(part);
		if (br_partition_high_watermark(part) > from) {
			rows += br_partition_high_watermark(part) - from;
			bytes += br_partition_bytes_after(part, from);
		}
	}
	br_progress_phase(&pr, "log", rows, bytes);
	c->loading = &pr;
	int rc = poll_table(c, t, NULL, NULL, err);
	c->loading = NULL;
	br_progress_end(&pr);
	return rc;
}

/* ------------------------------------------------------------ persistence */

static json_t *tables_json(topiccat *c, json_t **offsets)
{
	json_t *arr = json_array();
	json_t *offs = json_object();
	char **names;
	int n;
	c->base.vt->list(&c->base, &names, &n);
	for (int k = 0; k < n; k++) {
		ttable *t = br_map_gets(&c->tables, names[k]);
		json_t *cols = json_array(), *pk = json_array(), *read = json_array();
		for (int i = 0; i < t->def.ncols; i++) {
			br_type *ty = br_type_new(t->def.types[i]);
			json_array_append_new(cols, json_pack("{s:s,s:o}", "name", t->def.cols[i], "type", br_type_to_json(ty)));
			br_type_free(ty);
		}
		for (int i = 0; i < t->def.npk; i++)
			json_array_append_new(pk, json_string(t->def.cols[t->def.pk[i]]));
		for (int32_t p = 0; p < t->nparts; p++)
			json_array_append_new(read, json_integer(t->next[p]));
		json_object_set(offs, t->def.name, read);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:o,s:o,s:O,s:o}", "name", t->def.name, "topic", t->topic,
						     "owns_topic", t->owns_topic, "columns", cols, "primary_key", pk,
						     "options", t->options, "read", read));
		free(names[k]);
	}
	free(names);
	*offsets = offs;
	return arr;
}

static int save(topiccat *c, br_err *err)
{
	json_t *offs;
	json_t *tables = tables_json(c, &offs);
	json_t *views = json_array();
	for (int i = 0; i < c->nviews; i++)
		json_array_append_new(views, json_pack("{s:s,s:s,s:O}", "name", c->views[i].name, "sql", c->views[i].sql,
						      "offsets", offs));
	json_t *root = json_pack("{s:i,s:o,s:o}", "version", 1, "tables", tables, "views", views);
	json_decref(offs);
	char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(root);
	char *path = br_xasprintf("%s/catalog.json", c->dir);
	int rc = br_mkdirs(c->dir, err);
	if (!rc)
		rc = br_write_file_atomic(path, text, strlen(text), err);
	free(path);
	free(text);
	return rc;
}

static int load_table(topiccat *c, json_t *jt, br_err *err)
{
	const char *name = json_string_value(json_object_get(jt, "name"));
	const char *topic = json_string_value(json_object_get(jt, "topic"));
	json_t *cols = json_object_get(jt, "columns"), *pk = json_object_get(jt, "primary_key");
	if (!name || !topic || !json_is_array(cols) || !json_array_size(cols) || json_array_size(cols) > 1600)
		return br_errf(err, BR_ECORRUPT, "a table entry lacks name, topic or columns");
	int n = (int)json_array_size(cols), npk = (int)json_array_size(pk);
	br_sql_table def = { .name = (char *)name, .ncols = n, .npk = npk };
	def.cols = br_xcalloc((size_t)n + 1, sizeof(char *));
	def.types = br_xcalloc((size_t)n + 1, sizeof(br_type_id));
	def.pk = br_xcalloc((size_t)npk + 1, sizeof(int));
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		json_t *col = json_array_get(cols, (size_t)i);
		br_type *ty = NULL;
		def.cols[i] = (char *)json_string_value(json_object_get(col, "name"));
		if (!def.cols[i] || br_type_from_json(json_object_get(col, "type"), &ty, err))
			rc = br_errf(err, BR_ECORRUPT, "table %s: column %d is malformed", name, i + 1);
		else
			def.types[i] = ty->id;
		br_type_free(ty);
	}
	for (int i = 0; i < npk && !rc; i++) {
		const char *k = json_string_value(json_array_get(pk, (size_t)i));
		def.pk[i] = -1;
		for (int j = 0; k && j < n; j++)
			if (!strcmp(def.cols[j], k))
				def.pk[i] = j;
		if (def.pk[i] < 0 || npk > 64)
			rc = br_errf(err, BR_ECORRUPT, "table %s: primary key column %s is not a column", name, k ? k : "?");
	}
	if (!rc) {
		ttable *t = table_new(&def);
		free(t->topic);
		t->topic = br_xstrdup(topic);
		t->owns_topic = json_is_true(json_object_get(jt, "owns_topic"));
		if (json_is_object(json_object_get(jt, "options"))) {
			json_decref(t->options);
			t->options = json_deep_copy(json_object_get(jt, "options"));
		}
		br_map_put(&c->tables, name, strlen(name), t);
	}
	free(def.cols);
	free(def.types);
	free(def.pk);
	return rc;
}

static int load(topiccat *c, br_err *err)
{
	char *path = br_xasprintf("%s/catalog.json", c->dir);
	if (!br_path_exists(path)) {
		free(path);
		return 0;
	}
	char *text;
	size_t len;
	int rc = br_read_file(path, &text, &len, err);
	if (rc) {
		free(path);
		return rc;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	free(text);
	if (!root || !json_is_object(root)) {
		rc = br_errf(err, BR_ECORRUPT, "%s: not a catalog (%s)", path, root ? "not an object" : je.text);
		json_decref(root);
		free(path);
		return rc;
	}
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(root, "tables"), i, e) {
		if ((rc = load_table(c, e, err)))
			break;
	}
	json_array_foreach(json_object_get(root, "views"), i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *sql = json_string_value(json_object_get(e, "sql"));
		if (rc || !name || !sql)
			continue;
		c->views = br_xrealloc(c->views, sizeof *c->views * (size_t)(c->nviews + 1));
		c->views[c->nviews++] = (view_def){ br_xstrdup(name), br_xstrdup(sql) };
	}
	json_decref(root);
	if (rc)
		br_errctx(err, "%s", path);
	free(path);
	return rc;
}

/* ------------------------------------------------------------ the vtable */

static int opt_text(const br_sql_table *def, const char *key, const char **val)
{
	for (int i = 0; i < def->nopts; i++)
		if (!strcmp(def->opt_keys[i], key)) {
			*val = def->opt_vals[i];
			return 1;
		}
	return 0;
}

/* The columns as the declared Iceberg schema of the topic's json lake mode. */
static char *schema_text(const br_sql_table *def)
{
	br_type *st = br_type_struct();
	for (int i = 0; i < def->ncols; i++) {
		bool key = false;
		for (int k = 0; k < def->npk; k++)
			key |= def->pk[k] == i;
		br_type_struct_add(st, i + 1, def->cols[i], key, br_type_new(def->types[i]), NULL);
	}
	json_t *j = br_type_to_json(st);
	json_object_set_new(j, "schema-id", json_integer(0));
	br_type_free(st);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

static int cat_create(br_catalog *cc, const br_sql_table *def, br_err *err)
{
	topiccat *c = (topiccat *)cc;
	if (br_map_gets(&c->tables, def->name))
		return br_errf(err, BR_EEXIST, "relation \"%s\" already exists", def->name);
	const char *v, *topic = NULL;
	int64_t partitions = 1, interval_ms = -1;
	for (int i = 0; i < def->nopts; i++) {
		const char *k = def->opt_keys[i];
		if (strcmp(k, "partitions") && strcmp(k, "commit_interval") && strcmp(k, "topic"))
			return br_errf(err, BR_EUNSUPPORTED,
				       "unsupported: table option \"%s\" (known: partitions, commit_interval, topic, "
				       "event_time, watermark_delay, lateness, allowed_lateness, idle_timeout, "
				       "max_future_skew)", k);
	}
	/* time options: checked before anything is created, kept with the others */
	json_t *topts = json_object();
	for (int i = 0; i < def->ntopts; i++)
		json_object_set_new(topts, def->topt_keys[i], json_string(def->topt_vals[i]));
	br_time_opts to;
	int tcol, trc = time_opts(def, topts, &to, &tcol, err);
	if (trc) {
		json_decref(topts);
		return trc;
	}
	if (opt_text(def, "partitions", &v)) {
		char *end;
		partitions = strtoll(v, &end, 10);
		if (*end || partitions < 1 || partitions > 10000)
			return br_errf(err, BR_EINVAL, "invalid value for table option \"partitions\": \"%s\"", v);
	}
	if (opt_text(def, "commit_interval", &v) && (interval_ms = br_parse_duration_ms(v)) < 1)
		return br_errf(err, BR_EINVAL,
			       "invalid value for table option \"commit_interval\": \"%s\" (e.g. '500 ms', '10 s')", v);
	bool attach = opt_text(def, "topic", &topic);
	if (!attach)
		topic = def->name;
	int rc = 0;
	br_topic *tp = NULL;
	if (br_topic_name_check(topic, strlen(topic), err))
		rc = br_errctx(err, "table \"%s\" needs a topic of the same name", def->name);
	else if (!(tp = br_log_topic(c->log, topic, strlen(topic))) && attach)
		rc = br_errf(err, BR_ENOTFOUND, "topic \"%s\" does not exist", topic);
	else if (attach && (opt_text(def, "partitions", &v) || opt_text(def, "commit_interval", &v)))
		rc = br_errf(err, BR_EINVAL, "options \"partitions\" and \"commit_interval\" apply to a topic the "
			     "table creates; an existing topic keeps its configs (change them with a Kafka admin client)");
	else if (!attach && tp)
		rc = br_errf(err, BR_EEXIST, "topic \"%s\" already exists: attach the table to it with WITH (topic = "
			     "'%s')", topic, topic);
	for (int i = 0; !rc && i < def->npk; i++)
		if (def->pk[i] < 0 || def->pk[i] >= def->ncols || def->npk > 64)
			rc = br_errf(err, BR_EINVAL, "malformed primary key");
	if (rc) {
		json_decref(topts);
		return rc;
	}
	if (!attach) {
		char *schema = schema_text(def);
		char ms[32];
		snprintf(ms, sizeof ms, "%" PRId64, interval_ms);
		const char *kv[] = { "braid.lake.mode", "json", "braid.lake.schema", schema,
				     "braid.lake.commit.interval.ms", ms };
		rc = br_log_create_topic(c->log, topic, (int32_t)partitions, kv, interval_ms > 0 ? 3 : 2, err);
		free(schema);
		if (rc) {
			json_decref(topts);
			return rc;
		}
		tp = br_log_topic(c->log, topic, strlen(topic));
	}
	ttable *t = table_new(def);
	t->topic = br_xstrdup(topic);
	t->owns_topic = !attach;
	for (int i = 0; i < def->nopts; i++)
		json_object_set_new(t->options, def->opt_keys[i], json_string(def->opt_vals[i]));
	json_object_update(t->options, topts);
	json_decref(topts);
	t->nparts = br_topic_partition_count(tp);
	t->next = br_xcalloc((size_t)t->nparts + 1, sizeof *t->next);
	memcpy(t->topic_id, br_topic_id(tp), 16);
	table_time_init(c, t, err); /* checked above: cannot fail */
	br_map_put(&c->tables, def->name, strlen(def->name), t);
	/* An attached topic's records are rows already (read now, no view can
	 * read the table yet): from the lake below its frontier, then the log. */
	if ((rc = attach ? load_table_rows(c, t, err) : poll_table(c, t, NULL, NULL, err)) || (rc = save(c, err))) {
		br_map_del(&c->tables, def->name, strlen(def->name));
		table_free(t);
		if (!attach)
			br_log_delete_topic(c->log, topic, NULL);
	}
	return rc;
}

static int cat_drop(br_catalog *cc, const char *name, br_err *err)
{
	topiccat *c = (topiccat *)cc;
	ttable *t = br_map_del(&c->tables, name, strlen(name));
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "table \"%s\" does not exist", name);
	int rc = 0;
	if (t->owns_topic && br_log_topic(c->log, t->topic, strlen(t->topic)))
		rc = br_log_delete_topic(c->log, t->topic, err);
	table_free(t);
	if (!rc)
		rc = save(c, err);
	return rc;
}

static const br_sql_table *cat_find(br_catalog *cc, const char *name)
{
	ttable *t = br_map_gets(&((topiccat *)cc)->tables, name);
	return t ? &t->def : NULL;
}

static int cat_scan(br_catalog *cc, const char *name, br_batch *out, br_err *err)
{
	ttable *t = br_map_gets(&((topiccat *)cc)->tables, name);
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", name);
	br_value *row = br_xcalloc((size_t)t->def.ncols + 1, sizeof *row);
	int rc = 0;
	if (t->def.npk) {
		br_map_slot *s;
		for (size_t i = 0; !rc && br_map_next(&t->bykey, &i, &s);) {
			stored_row *r = s->val;
			if (!(rc = br_row_decode(r->b, r->len, row, t->def.ncols, err)))
				br_batch_append_row(out, row, 1);
		}
	} else {
		br_zent *e;
		for (size_t i = 0; !rc && (e = br_ztab_next(&t->rows, &i));) {
			if (e->w && !(rc = br_row_decode(e->key, e->klen, row, t->def.ncols, err)))
				br_batch_append_row(out, row, e->w);
		}
	}
	free(row);
	return rc;
}

/* Records for one partition: batches of at most ~256 KiB of records, far
 * below max.message.bytes (1 MiB by default), appended together. */
typedef struct out_part {
	br_rb_builder b;
	br_buf bytes;      /* finished batches */
	bool used;
	int failed;
} out_part;

static void add_record(ttable *t, out_part *parts, br_buf *key, br_buf *val, bool tombstone, int64_t now)
{
	int32_t p;
	if (t->def.npk)
		p = key_partition(key->p, key->len, t->nparts);
	else
		p = (int32_t)(t->rr++ % t->nparts);
	if (!parts[p].used) {
		br_rb_opts o;
		br_rb_opts_default(&o);
		br_rb_builder_init(&parts[p].b, &o);
		parts[p].used = true;
	}
	br_rb_add(&parts[p].b, now, t->def.npk ? key->p : NULL, t->def.npk ? (int32_t)key->len : -1,
		  tombstone ? NULL : val->p, tombstone ? -1 : (int32_t)val->len, NULL, 0);
	if (parts[p].b.recs.len >= 256 * 1024 && !parts[p].failed)
		parts[p].failed = br_rb_finish(&parts[p].b, &parts[p].bytes, NULL);
}

/* The JSON object of columns cols (n of them, positions idx) of row i. */
static void row_json(const ttable *t, const br_batch *b, int64_t i, int n, const int *idx, br_buf *out)
{
	br_buf_reset(out);
	br_buf_u8(out, '{');
	for (int k = 0; k < n; k++) {
		int col = idx ? idx[k] : k;
		if (k)
			br_buf_u8(out, ',');
		put_json_str(out, t->def.cols[col]);
		br_buf_u8(out, ':');
		if (!br_col_valid(&b->cols[col], i))
			br_buf_put(out, "null", 4);
		else
			br_col_format_json(&b->cols[col], i, out);
	}
	br_buf_u8(out, '}');
}

/* SQL writes: the delta becomes records (see the header for the encoding). */
static int cat_apply(br_catalog *cc, const char *name, const br_batch *delta, br_err *err)
{
	topiccat *c = (topiccat *)cc;
	ttable *t = br_map_gets(&c->tables, name);
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", name);
	if (!delta->nrows)
		return 0;
	br_topic *tp = br_log_topic(c->log, t->topic, strlen(t->topic));
	if (!tp)
		return br_errf(err, BR_ENOTFOUND, "topic \"%s\" of table \"%s\" no longer exists", t->topic, name);
	if (t->nparts < 1)
		return br_errf(err, BR_ENOTFOUND, "topic \"%s\" of table \"%s\" has no partitions", t->topic, name);
	for (int64_t i = 0; i < delta->nrows; i++) {
		int64_t w = br_batch_weight(delta, i);
		if (w < 0 && !t->def.npk)
			return br_errf(err, BR_EUNSUPPORTED,
				       "unsupported: deleting rows of table \"%s\", which has no primary key: its rows are "
				       "records of topic \"%s\", which can only be appended (a table with a PRIMARY KEY takes "
				       "updates and deletes)", name, t->topic);
		for (int k = 0; k < t->def.npk && w > 0; k++)
			if (!br_col_valid(&delta->cols[t->def.pk[k]], i))
				return br_errf(err, BR_EINVAL,
					       "null value in column \"%s\" of relation \"%s\" violates not-null constraint",
					       t->def.cols[t->def.pk[k]], name);
	}
	out_part *parts = br_xcalloc((size_t)t->nparts, sizeof *parts);
	br_buf key = { 0 }, val = { 0 };
	br_map upserted = { 0 }; /* keys written by this delta: their retractions are not deletes */
	int64_t now = br_now_ms();
	for (int pass = 0; pass < 2; pass++) {
		for (int64_t i = 0; i < delta->nrows; i++) {
			int64_t w = br_batch_weight(delta, i);
			if (t->def.npk)
				row_json(t, delta, i, t->def.npk, t->def.pk, &key);
			if (pass == 0 && w > 0) {
				if (t->def.npk)
					br_map_put(&upserted, key.p, key.len, (void *)1);
				row_json(t, delta, i, t->def.ncols, NULL, &val);
				for (int64_t r = 0; r < w; r++)
					add_record(t, parts, &key, &val, false, now);
			} else if (pass == 1 && w < 0 && !br_map_get(&upserted, key.p, key.len)) {
				add_record(t, parts, &key, &val, true, now);
			}
		}
	}
	br_map_free(&upserted);
	int rc = 0;
	for (int32_t p = 0; p < t->nparts; p++) {
		if (!parts[p].used)
			continue;
		br_buf bytes = parts[p].bytes;
		br_partition *part = table_part(c, t, p);
		br_append_result res = { 0 };
		if (!rc && parts[p].failed)
			rc = br_errf(err, parts[p].failed, "cannot encode a record batch for %s/%d", t->topic, p);
		if (!rc)
			rc = br_rb_finish(&parts[p].b, &bytes, err);
		if (!rc && !part)
			rc = br_errf(err, BR_ENOTFOUND, "partition %d of topic %s is gone", p, t->topic);
		if (!rc && !(rc = br_partition_append(part, bytes.p, bytes.len, now, &res, err)) &&
		    res.status != BR_APPEND_OK)
			rc = br_errf(err, BR_EIO, "append to %s/%d refused: %s", t->topic, p, res.msg);
		if (!rc)
			rc = br_partition_sync(part, err);
		br_buf_free(&bytes);
		br_rb_builder_free(&parts[p].b);
	}
	free(parts);
	br_buf_free(&key);
	br_buf_free(&val);
	return rc;
}

static int cat_list(br_catalog *cc, char ***names, int *n)
{
	topiccat *c = (topiccat *)cc;
	char **out = br_xcalloc(c->tables.count + 1, sizeof(char *));
	int k = 0;
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&c->tables, &i, &s);)
		out[k++] = br_xstrdup(s->key);
	qsort(out, (size_t)k, sizeof *out, strcmp_ptr);
	*names = out;
	*n = k;
	return 0;
}

static int cat_poll(br_catalog *cc, br_catalog_delta_fn cb, void *arg, br_err *err)
{
	topiccat *c = (topiccat *)cc;
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&c->tables, &i, &s);) {
		ttable *t = s->val;
		int rc = 0;
		if (t->from) { /* the first poll after a restart from a checkpoint */
			if (t->has_pend && t->pend.nrows && cb)
				rc = cb(arg, t->def.name, &t->pend, err);
			if (t->has_pend)
				br_batch_free(&t->pend);
			t->has_pend = false;
			free(t->from);
			t->from = NULL;
		}
		if (!rc)
			rc = poll_table(c, t, cb, arg, err);
		if (rc)
			return rc;
	}
	return 0;
}

static int cat_offsets(br_catalog *cc, const char *table, const int64_t **next, int32_t *nparts,
		       uint8_t topic_id[16])
{
	ttable *t = br_map_gets(&((topiccat *)cc)->tables, table);
	if (!t)
		return BR_ENOTFOUND;
	*next = t->next;
	*nparts = t->next ? t->nparts : 0;
	memcpy(topic_id, t->topic_id, 16);
	return 0;
}

static const char *cat_ckpt_path(br_catalog *cc) { return ((topiccat *)cc)->ckpt_path; }

static br_sql_ckpt *cat_take_ckpt(br_catalog *cc)
{
	topiccat *c = (topiccat *)cc;
	br_sql_ckpt *ck = c->ck;
	c->ck = NULL;
	return ck;
}

/* VIEW CHECKPOINTS at open: a table the checkpoint knows (same topic id, no
 * offset past the log's high watermark) is loaded up to the checkpoint's
 * offsets only as far as views are concerned: records past them (from the
 * lake or the log) are applied to the table and also kept as the delta for
 * the first poll. Other tables are forgotten from the checkpoint, so views
 * that read them rebuild. */
static void ckpt_prepare(topiccat *c, ttable *t, br_topic *tp)
{
	const br_ckpt_table *ct = br_ckpt_find_table(c->ck, t->def.name);
	if (!ct)
		return;
	const char *why = NULL;
	if (memcmp(ct->topic_id, t->topic_id, 16))
		why = "its topic was re-created";
	else if (ct->nparts > t->nparts)
		why = "its topic has fewer partitions";
	for (int32_t p = 0; !why && p < ct->nparts; p++)
		if (ct->next[p] > br_partition_high_watermark(br_topic_partition(tp, p)))
			why = "the log ends before the checkpoint's offsets";
	if (why) {
		br_warn("view checkpoint: table %s cannot restart from it (%s); views over it rebuild from lake + log",
			t->def.name, why);
		br_ckpt_forget_table(c->ck, t->def.name);
		return;
	}
	t->nfrom = t->nparts;
	t->from = br_xcalloc((size_t)t->nparts + 1, sizeof *t->from);
	memcpy(t->from, ct->next, sizeof *t->from * (size_t)ct->nparts);
}

static int cat_save_view(br_catalog *cc, const char *name, const char *sql, br_err *err)
{
	topiccat *c = (topiccat *)cc;
	int at = -1;
	for (int i = 0; i < c->nviews; i++)
		if (!strcmp(c->views[i].name, name))
			at = i;
	if (at >= 0) {
		free(c->views[at].name);
		free(c->views[at].sql);
		memmove(&c->views[at], &c->views[at + 1], sizeof *c->views * (size_t)(c->nviews - at - 1));
		c->nviews--;
	}
	if (sql) {
		c->views = br_xrealloc(c->views, sizeof *c->views * (size_t)(c->nviews + 1));
		c->views[c->nviews++] = (view_def){ br_xstrdup(name), br_xstrdup(sql) };
	}
	return save(c, err);
}

static int cat_views(br_catalog *cc, char ***names, char ***sqls, int *n)
{
	topiccat *c = (topiccat *)cc;
	*names = br_xcalloc((size_t)c->nviews + 1, sizeof(char *));
	*sqls = br_xcalloc((size_t)c->nviews + 1, sizeof(char *));
	for (int i = 0; i < c->nviews; i++) {
		(*names)[i] = br_xstrdup(c->views[i].name);
		(*sqls)[i] = br_xstrdup(c->views[i].sql);
	}
	*n = c->nviews;
	return 0;
}

/* Frees everything the catalog owns (no save: see cat_free). */
static void cat_release(topiccat *c)
{
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&c->tables, &i, &s);)
		table_free(s->val);
	br_map_free(&c->tables);
	for (int i = 0; i < c->nviews; i++) {
		free(c->views[i].name);
		free(c->views[i].sql);
	}
	free(c->views);
	free(c->data);
	free(c->dir);
	free(c->ckpt_path);
	br_ckpt_free(c->ck);
	free(c);
}

static void cat_free(br_catalog *cc)
{
	topiccat *c = (topiccat *)cc;
	br_err err = { 0 };
	if (save(c, &err)) /* records the offsets the tables and views reached */
		br_warn("sql catalog: %s", err.msg);
	cat_release(c);
}

static br_wm_tracker *cat_tracker(br_catalog *cc, const char *name)
{
	ttable *t = br_map_gets(&((topiccat *)cc)->tables, name);
	return t && t->timed ? &t->wm : NULL;
}

static bool is_table(void *arg, const char *name) { return br_map_gets(&((topiccat *)arg)->tables, name) != NULL; }

static int cat_topics(br_catalog *cc, br_topic_row **rows, int *n, br_err *err)
{
	topiccat *c = (topiccat *)cc;
	(void)err;
	return br_catalog_show_topics(c->log, c->data, is_table, c, rows, n);
}

static const br_catalog_vt topic_vt = {
	.create = cat_create,
	.drop = cat_drop,
	.find = cat_find,
	.scan = cat_scan,
	.apply = cat_apply,
	.free = cat_free,
	.list = cat_list,
	.poll = cat_poll,
	.save_view = cat_save_view,
	.views = cat_views,
	.tracker = cat_tracker,
	.topics = cat_topics,
	.offsets = cat_offsets,
	.ckpt_path = cat_ckpt_path,
	.take_ckpt = cat_take_ckpt,
};

int br_catalog_topic_open(br_catalog **out, br_log *log, const char *data_dir, br_err *err)
{
	return br_catalog_topic_open_progress(out, log, data_dir, NULL, NULL, err);
}

int br_catalog_topic_open_progress(br_catalog **out, br_log *log, const char *data_dir, br_sql_progress_cb cb,
				   void *arg, br_err *err)
{
	topiccat *c = br_xcalloc(1, sizeof *c);
	c->base.vt = &topic_vt;
	c->base.progress = cb;
	c->base.progress_arg = arg;
	c->log = log;
	c->data = br_xstrdup(data_dir);
	c->dir = br_xasprintf("%s/sql", data_dir);
	c->ckpt_path = br_xasprintf("%s/%s", c->dir, BR_CKPT_FILE);
	br_err cerr = { 0 };
	int crc = br_ckpt_read(c->ckpt_path, &c->ck, &cerr);
	if (crc && crc != BR_ENOTFOUND)
		br_warn("view checkpoint unusable: %s; every view rebuilds from lake + log", cerr.msg);
	int rc = load(c, err);
	br_map_slot *s;
	for (size_t i = 0; !rc && br_map_next(&c->tables, &i, &s);) {
		ttable *t = s->val;
		br_topic *tp = br_log_topic(log, t->topic, strlen(t->topic));
		if (!tp) {
			br_warn("sql catalog: topic %s of table %s is gone; the table is empty", t->topic, t->def.name);
			continue;
		}
		t->nparts = br_topic_partition_count(tp);
		t->next = br_xcalloc((size_t)t->nparts + 1, sizeof *t->next);
		memcpy(t->topic_id, br_topic_id(tp), 16);
		br_err terr = { 0 };
		if (table_time_init(c, t, &terr))
			br_warn("sql catalog: table %s: %s; its time options are ignored", t->def.name, terr.msg);
		ckpt_prepare(c, t, tp);
		rc = load_table_rows(c, t, err);
	}
	/* tables the checkpoint names that are gone: their views rebuild */
	for (int i = 0; c->ck && i < c->ck->ntables;) {
		ttable *t = br_map_gets(&c->tables, c->ck->tables[i].name);
		if (t && t->from)
			i++;
		else
			br_ckpt_forget_table(c->ck, c->ck->tables[i].name);
	}
	if (rc) {
		cat_release(c);
		return rc;
	}
	*out = &c->base;
	return 0;
}

int64_t br_catalog_topic_skipped(br_catalog *cc) { return ((topiccat *)cc)->skipped; }

/* For view outputs (sink.c): the log, the data directory and a table's read
 * position; NULL/false on any other catalog. */
struct br_log *br_catalog_topic_log(br_catalog *cc)
{
	return cc->vt == &topic_vt ? ((topiccat *)cc)->log : NULL;
}

const char *br_catalog_topic_data_dir(br_catalog *cc)
{
	return cc->vt == &topic_vt ? ((topiccat *)cc)->data : NULL;
}

bool br_catalog_topic_offsets(br_catalog *cc, const char *table, const int64_t **next, int32_t *nparts)
{
	if (cc->vt != &topic_vt)
		return false;
	ttable *t = br_map_gets(&((topiccat *)cc)->tables, table);
	if (!t)
		return false;
	*next = t->next;
	*nparts = t->nparts;
	return true;
}
