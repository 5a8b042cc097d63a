/* tier.c — topic → table tiering: the loop-thread scheduler that copies stored
 * batches out of the log, the tier thread that turns them into Parquet files and
 * Iceberg commits, and the frontier bookkeeping that makes it exactly once.
 *
 * THE TABLE. Topic T with braid.lake.mode != off is the Iceberg table kafka.T at
 * <data>/lake/kafka/T/, created on first need with these columns (field ids fixed,
 * so every reader maps them by id):
 *    1 _partition int (required)     2 _offset long (required)
 *    3 _timestamp timestamptz        4 _append_time timestamptz (broker time)
 *    5 _key binary                   6 _headers map<string,binary> (key 7, value 8)
 *    9 _value binary                 key_value mode
 *   10.. the value's columns         json mode (see tier_json.c)
 * Kafka times are milliseconds; Iceberg's timestamptz is microseconds (x1000).
 * The partition spec is braid.lake.partition as br_ice_create reads it
 * ("day(_timestamp)", "bucket(16, auction)").
 *
 * THE FRONTIER. Every snapshot that tiering commits carries in its summary:
 *   braid.frontier        "0:1234,1:999,..."  for every partition p, the next
 *                         offset of p not yet in the table (all partitions, the
 *                         untouched ones with their previous value);
 *   braid.tiered.records  records tiered into the table over its life;
 *   braid.dlq.records     records dead-lettered over its life;
 *   braid.dlq.end         (json mode, once a dead letter was written) the end
 *                         offset of the DLQ topic's partition 0 after the dead
 *                         letters this commit accounts for (see DEAD LETTERS).
 * Snapshots made by others (compaction "replace", deletes) keep the parent's
 * extra summary properties, so the current snapshot always holds the frontier.
 *
 * EXACTLY ONCE. A job covers [frontier[p], to[p]) for some partitions; its data
 * files are written and fsynced first, then ONE Iceberg commit publishes them
 * together with the new frontier (the catalog pointer swap is the commit point).
 * A crash before the swap leaves only unreferenced files (orphans, removed by
 * br_ice_remove_orphans), and the old frontier: the restarted broker reads the
 * frontier back from the current snapshot and tiers the same range again. A crash
 * after the swap leaves the new frontier: nothing is tiered twice. Records below
 * the frontier inside the first batch read (a batch straddling it) are skipped.
 *
 * DEAD LETTERS (json mode). A value that does not fit (not JSON, wrong type,
 * missing required field, evolution not allowed) becomes a record of the DLQ
 * topic (braid.lake.dlq, default <topic>.dlq, created with 1 partition): the
 * original key, value and headers plus headers braid.dlq.reason,
 * braid.source.topic, braid.source.partition, braid.source.offset. The frontier
 * passes it, so each source record ends up exactly once in the table or the DLQ:
 *   1. the tier thread builds rows, writes the data files and the DLQ batches;
 *   2. the loop appends the DLQ batches (the log is the loop's) and waits until
 *      br_log_durable_seq covers the append;
 *   3. the tier thread commits files + frontier, with braid.dlq.end = the DLQ's
 *      end offset after step 2 in the summary.
 * A crash between 2 and 3 leaves dead letters whose source records are past the
 * frontier. On restart, before dead-lettering anything, the loop reads the DLQ
 * from the last committed braid.dlq.end to its end and notes, per source
 * partition, the highest source offset of this topic found there; records at
 * or below it are counted but not written again.
 *
 * SCHEMA EVOLUTION (braid.lake.schema=infer). When a record needs a new column
 * or an int widened to long, the rows built so far are written as files under
 * the old schema, the table's schema is updated (a metadata commit that does
 * not move the frontier), and the job continues under the new schema; all its
 * files are then published by the one data commit. Readers map old files by
 * field id. A record that triggers an evolution and then fails for another
 * reason is dead-lettered; the column it added stays (harmless: all null).
 *
 * COMPACTION. Every braid.lake.compact.commits (default 10) commits, the tier
 * thread rewrites the files smaller than braid.lake.compact.bytes (default 8M)
 * with br_ice_compact: a "replace" snapshot that keeps the parent's summary and
 * so the frontier. At start, files older than 10 minutes that no snapshot
 * references (left by a crash between file write and commit) are removed.
 *
 * THREADS. The log belongs to the loop thread: br_tier_poll (loop) reads the
 * stored bytes of a job (at most max_job_bytes, at least 1 MiB per partition)
 * and the broker append time of each batch, then queues the job to the single
 * tier thread, which owns the lake and the tables, and hands the job back
 * through a done list plus the wake callback. Decoding and parsing run on a
 * pool of parse workers (see "parallel parse workers" below: units of
 * CHUNK_ROWS records, collected in order; with --tier-spread a large job
 * spreads Parquet encoding over the workers too, one file each); small
 * jobs, partitioned tables and a server
 * without workers take the serial path, where the tier thread parses and
 * each full chunk goes to an encoder thread (Parquet pages, zstd) that
 * writes it into the job's open data file while the tier thread parses the
 * next one. Every file of a job is published by its one commit. All these
 * threads run at SCHED_IDLE (or the --tier-priority given). Not libuv's
 * pool: the broker's fsyncs run there and must never queue behind a Parquet
 * write. One job per topic is in flight at a time, so commits of a table are
 * serial and the loop's frontier copy is the table's. A job failure (disk full,
 * corrupt batch) makes the topic re-read its frontier from the table after a
 * back-off, so a commit whose outcome is unknown is never guessed at. The copy
 * on the loop thread costs a memcpy of up to max_job_bytes from the page cache
 * (tens of ms for 64 MiB): a pause of the loop we accept for now.
 *
 * Topic configs read here: braid.lake.mode (key_value default, json, off),
 * braid.lake.schema (Iceberg schema JSON or "infer", the default in json mode),
 * braid.lake.partition, braid.lake.commit.interval.ms (default 10 s),
 * braid.lake.commit.bytes (default 64M: pending bytes that start a job before
 * the interval; a job cut short by its byte budget makes the next one due at
 * once, so catch-up runs jobs back to back), braid.lake.dlq,
 * braid.lake.compact.commits/.bytes. Schema and partition spec are read when
 * the table is created. Changes on a topic whose
 * table exists are checked by the config guard (br_log_set_config_guard) when
 * they are made: a new partition spec, a declared schema (other than "infer")
 * and a switch between key_value and json are refused with the reason (the
 * AlterConfigs caller sees it); the others take effect at the next job. A mode
 * change made through "off" cannot be seen there: tiering then refuses to write
 * (logged, retried with back-off), since the table's columns are those of the
 * mode that created it.
 *
 * RETENTION. The log's retention guard (br_log_set_retention_guard) answers,
 * per partition, the tstate frontier: retention never deletes a segment
 * holding an offset at or past it, so a record is dropped from the log only
 * once the lake holds it (a topic whose frontier is not known yet keeps
 * everything; lake mode off pins nothing).
 *
 * Control batches (transaction markers) are skipped with a log line: the broker
 * refuses transactional produce today, so they cannot appear, but a log written by
 * a future version must not corrupt the table. The frontier passes them. */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/util.h"
#include "iceberg/iceberg.h"
#include "log/records.h"
#include "tier/tier.h"
#include "tier/tier_int.h"

enum { MODE_OFF, MODE_KV, MODE_JSON };
enum { JOB_INIT, JOB_TIER };
/* a JOB_TIER job: built on the tier thread; with dead letters it goes back to
 * the loop (PHASE_DLQ) to append them, waits there until they are durable, and
 * returns to the tier thread to commit (PHASE_COMMIT). */
enum { PHASE_BUILD, PHASE_DLQ, PHASE_COMMIT, PHASE_DONE };

#define DEFAULT_INTERVAL_MS 10000
#define DEFAULT_COMMIT_BYTES (64LL << 20)
#define RETRY_MS 1000
#define DEFAULT_COMPACT_COMMITS 10
#define DEFAULT_COMPACT_BYTES (8LL << 20)
#define ORPHAN_AGE_MS (10 * 60 * 1000)
#define MAX_UNCOMPRESSED (256u << 20)

typedef struct job_part {
	int32_t p;
	int64_t from, to;         /* offsets covered: [from, to) */
	br_read_plan plan;        /* where the stored batches are (made on the loop thread) */
	br_buf bytes;             /* the stored batches, read by the tier thread */
	int64_t *batch_base;      /* per batch: base offset and broker append time */
	int64_t *batch_append;
	size_t nbatches;
} job_part;

typedef struct job {
	struct job *next;
	int kind;
	char *topic;
	int mode;
	char *schema_cfg;         /* braid.lake.schema (json mode) */
	char *partition_cfg;      /* braid.lake.partition */
	int32_t nparts;
	int64_t *frontier;        /* new frontier of every partition (JOB_TIER) */
	job_part *parts;
	size_t njparts;
	int64_t tot_tiered, tot_dead; /* life totals before this job */
	bool more;                /* the byte budget cut a partition short: more is due now */
	bool infer;               /* braid.lake.schema=infer */
	int64_t compact_commits;  /* braid.lake.compact.commits: compact after this many commits (0 = never) */
	int64_t compact_bytes;    /* braid.lake.compact.bytes: files below this size are rewritten */
	int phase;
	int64_t *dlq_done;        /* per partition: highest source offset already in the DLQ (-1 none) */
	char *dlq_topic;
	/* built by the tier thread */
	br_arena arena;           /* data file descriptions */
	br_ice_datafile *files;
	size_t nfiles;
	br_ice_file_writer *fw;   /* unpartitioned tables: the data file being streamed */
	br_batch spare;           /* the rows the encoder thread is writing (has_spare) */
	bool has_spare;
	br_rb_builder dlqb;
	bool dlq_started;
	br_buf dlq;               /* dead letters: RecordBatch v2 bytes for the DLQ topic */
	int64_t dlq_end;          /* DLQ end offset after our append (-1: none) */
	uint64_t dlq_seq;         /* log write sequence to wait for */
	/* results */
	int rc;
	br_err err;
	int64_t rows, dead;
	int64_t dead_logged;      /* dead letters logged so far (workers count atomically) */
	int64_t *prows, *pdead;   /* per partition (nparts): rows tiered, records dead-lettered */
	br_ice_file_writer **wfw; /* spread mode (see run_parallel): worker i's data file */
	int64_t *wrows;           /* rows worker i wrote into it */
	int nwfw;
	int64_t *loaded;          /* JOB_INIT: frontier read from the table */
	int32_t nloaded;
} job;

typedef struct tstate {
	bool ready, busy, warned_mode;
	int64_t *dlq_done;            /* see job.dlq_done; ndlq entries */
	int32_t ndlq;
	int64_t dlq_end;              /* from the last snapshot (-1 none) */
	int64_t *frontier;
	int32_t n;
	int64_t last_commit_ms, retry_after_ms;
	int fails;                    /* failed jobs in a row */
	int64_t tiered, dead;         /* this process */
	bool behind;                  /* the last job left due records behind (catch-up) */
	int64_t tot_tiered, tot_dead; /* table life */
	/* metrics (this process): per partition (n) and per table */
	int64_t *ptiered, *pdead;
	int32_t nstats;
	int64_t commits, bytes_written, last_commit_wall_ms;
} tstate;

struct br_tier {
	br_log *log;
	br_tier_opts o;
	char *data_dir;
	br_map topics;            /* name -> tstate* (loop thread) */
	/* shared with the tier thread, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *queue, *done;
	bool stop;
	pthread_t thread;
	/* tier thread only */
	br_lake *lake;
	br_map tables;            /* name -> br_ice_table* */
	br_tjson *json;
	job *waiting;             /* loop thread: jobs whose dead letters are not durable yet */
	struct tier_pool *pool;   /* parse workers (NULL: parse on the tier thread) */
	/* the encoder thread: Parquet-encodes and compresses one chunk of rows
	 * into the open data file while the tier thread parses the next */
	struct {
		pthread_t thread;
		pthread_mutex_t mu;
		pthread_cond_t cv;
		br_ice_file_writer *fw;
		const br_batch *b;
		bool busy, stop, started;
		int rc;
		br_err err;
	} enc;
};

/* ------------------------------------------------------------- frontier text */

int br_tier_frontier_parse(const char *s, int64_t **frontier, int32_t *n, br_err *err)
{
	int64_t *f = NULL;
	int32_t cnt = 0;
	const char *p = s;
	while (*p) {
		char *end;
		long long part = strtoll(p, &end, 10);
		if (end == p || *end != ':' || part < 0 || part > 1000000)
			goto bad;
		p = end + 1;
		long long off = strtoll(p, &end, 10);
		if (end == p || off < 0 || (*end && *end != ','))
			goto bad;
		p = *end ? end + 1 : end;
		if (part >= cnt) {
			f = br_xrealloc(f, (size_t)(part + 1) * sizeof *f);
			for (int32_t i = cnt; i <= part; i++)
				f[i] = -1;
			cnt = (int32_t)part + 1;
		}
		f[part] = off;
	}
	*frontier = f;
	*n = cnt;
	return 0;
bad:
	free(f);
	return br_errf(err, BR_ECORRUPT, "bad frontier \"%.200s\" at byte %zu", s, (size_t)(p - s));
}

char *br_tier_frontier_format(const int64_t *frontier, int32_t n)
{
	br_buf b = { 0 };
	for (int32_t i = 0; i < n; i++)
		if (frontier[i] >= 0)
			br_buf_printf(&b, "%s%d:%" PRId64, b.len ? "," : "", i, frontier[i]);
	br_buf_u8(&b, 0);
	return (char *)b.p;
}

/* --------------------------------------------------------------- the table */

static br_type *meta_struct(void)
{
	br_type *st = br_type_struct();
	br_type_struct_add(st, 1, "_partition", true, br_type_new(BR_T_INT), NULL);
	br_type_struct_add(st, 2, "_offset", true, br_type_new(BR_T_LONG), NULL);
	br_type_struct_add(st, 3, "_timestamp", false, br_type_new(BR_T_TIMESTAMPTZ), "record time (producer or log append time)");
	br_type_struct_add(st, 4, "_append_time", false, br_type_new(BR_T_TIMESTAMPTZ), "broker append time");
	br_type_struct_add(st, 5, "_key", false, br_type_new(BR_T_BINARY), NULL);
	br_type_struct_add(st, 6, "_headers", false,
			   br_type_map(7, br_type_new(BR_T_STRING), 8, false, br_type_new(BR_T_BINARY)), NULL);
	return st;
}

static int table_schema(const job *j, br_schema **out, br_err *err)
{
	br_type *st = meta_struct();
	if (j->mode == MODE_KV) {
		br_type_struct_add(st, 9, "_value", false, br_type_new(BR_T_BINARY), NULL);
	} else {
		int rc = br_tier_json_add_columns(st, j->schema_cfg, err);
		if (rc) {
			br_type_free(st);
			return rc;
		}
	}
	return br_schema_new(0, st, out, err);
}

static int read_frontier(const br_ice_table *tb, int64_t **f, int32_t *n, int64_t *tiered, int64_t *dead,
			 int64_t *dlq_end, br_err *err)
{
	if (dlq_end)
		*dlq_end = -1;
	*f = NULL;
	*n = 0;
	if (tiered)
		*tiered = 0;
	if (dead)
		*dead = 0;
	const br_ice_snapshot *s = br_ice_table_current(tb);
	if (!s)
		return 0;
	const char *v = br_ice_snapshot_prop(s, "braid.frontier");
	if (v) {
		int rc = br_tier_frontier_parse(v, f, n, err);
		if (rc)
			return br_errctx(err, "table %s, snapshot %" PRId64, br_ice_table_dir(tb), s->id);
	}
	if (tiered && (v = br_ice_snapshot_prop(s, "braid.tiered.records")))
		*tiered = strtoll(v, NULL, 10);
	if (dead && (v = br_ice_snapshot_prop(s, "braid.dlq.records")))
		*dead = strtoll(v, NULL, 10);
	if (dlq_end && (v = br_ice_snapshot_prop(s, "braid.dlq.end")))
		*dlq_end = strtoll(v, NULL, 10);
	return 0;
}

int br_tier_frontier_read(const char *data_dir, const char *topic, int64_t **frontier, int32_t *n,
			  int64_t *tiered, int64_t *dead_lettered, br_err *err)
{
	br_lake *l;
	int rc = br_lake_open(data_dir, &l, err);
	if (rc)
		return rc;
	br_ice_table *tb;
	rc = br_ice_load(l, "kafka", topic, &tb, err);
	if (!rc) {
		rc = read_frontier(tb, frontier, n, tiered, dead_lettered, NULL, err);
		br_ice_table_free(tb);
	}
	br_lake_close(l);
	return rc;
}

/* --------------------------------------------------------- the tier thread */

/* The table must have the layout this mode writes (see THE TABLE): a table made
 * by other means, or in another mode before braid.lake.mode changed, is refused
 * rather than written with rows of the wrong shape. */
static int check_layout(const br_ice_table *tb, job *j)
{
	const br_type *root = br_ice_table_schema(tb)->root;
	static const br_type_id want[] = { BR_T_INT, BR_T_LONG, BR_T_TIMESTAMPTZ, BR_T_TIMESTAMPTZ, BR_T_BINARY, BR_T_MAP };
	bool ok = root->nchildren >= 6;
	for (int i = 0; ok && i < 6; i++)
		ok = root->children[i].id == i + 1 && root->children[i].type->id == want[i];
	ok = ok && root->children[5].type->children[0].type->id == BR_T_STRING &&
	     root->children[5].type->children[1].type->id == BR_T_BINARY;
	bool kv_shape = ok && root->nchildren == 7 && root->children[6].id == 9 &&
			root->children[6].type->id == BR_T_BINARY && !strcmp(root->children[6].name, "_value");
	if (!ok)
		return br_errf(&j->err, BR_EINVAL, "table kafka.%s does not have the columns of a topic table", j->topic);
	if ((j->mode == MODE_KV) != kv_shape)
		return br_errf(&j->err, BR_EUNSUPPORTED,
			       "table kafka.%s was made in %s mode; braid.lake.mode=%s cannot write it (drop the table "
			       "or set the mode back)", j->topic, kv_shape ? "key_value" : "json",
			       j->mode == MODE_KV ? "key_value" : "json");
	return 0;
}

/* The table of the job's topic, loaded (or created) once and cached; its
 * layout is checked on every call, since the mode may change between jobs. */
static int load_table(br_tier *t, job *j, br_ice_table **out);
static int get_table(br_tier *t, job *j, br_ice_table **out)
{
	int rc = load_table(t, j, out);
	return rc ? rc : check_layout(*out, j);
}

static int load_table(br_tier *t, job *j, br_ice_table **out)
{
	br_ice_table *tb = br_map_gets(&t->tables, j->topic);
	if (tb) {
		*out = tb;
		return 0;
	}
	int rc = 0;
	if (!t->lake && (rc = br_lake_open(t->data_dir, &t->lake, &j->err)))
		return rc;
	rc = br_ice_load(t->lake, "kafka", j->topic, &tb, &j->err);
	if (rc == BR_ENOTFOUND) {
		br_schema *s;
		if ((rc = table_schema(j, &s, &j->err)))
			return br_errctx(&j->err, "topic %s", j->topic);
		rc = br_ice_create(t->lake, "kafka", j->topic, s, j->partition_cfg, NULL, &j->err);
		br_schema_free(s);
		if (rc == BR_EEXIST)
			rc = 0;
		if (!rc) {
			br_info("tier: created table kafka.%s (%s mode%s%s)", j->topic, j->mode == MODE_KV ? "key_value" : "json",
				j->partition_cfg && *j->partition_cfg ? ", partitioned by " : "",
				j->partition_cfg ? j->partition_cfg : "");
			rc = br_ice_load(t->lake, "kafka", j->topic, &tb, &j->err);
		}
	}
	if (rc)
		return rc;
	br_map_put(&t->tables, j->topic, strlen(j->topic), tb);
	*out = tb;
	return 0;
}

static void drop_table(br_tier *t, const char *topic)
{
	br_ice_table *tb = br_map_del(&t->tables, topic, strlen(topic));
	br_ice_table_free(tb);
}

/* A header key that is not UTF-8 (Kafka says keys are strings, but bytes are
 * bytes) is stored with each byte read as Latin-1, so the _headers column stays
 * valid UTF-8 for every reader; the value (binary) is kept as is. */
static void append_latin1(br_col *c, const uint8_t *p, size_t n)
{
	br_buf b = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x80)
			br_buf_u8(&b, p[i]);
		else {
			br_buf_u8(&b, (uint8_t)(0xc0 | p[i] >> 6));
			br_buf_u8(&b, (uint8_t)(0x80 | (p[i] & 0x3f)));
		}
	}
	br_col_append_bytes(c, b.p ? b.p : (const uint8_t *)"", b.len);
	br_buf_free(&b);
}

/* Appends the metadata columns of one record (columns 0..5). */
static void add_meta(br_batch *b, int32_t part, const br_record *r, int64_t append_ms)
{
	br_col_append_i32(&b->cols[0], part);
	br_col_append_i64(&b->cols[1], r->offset);
	if (r->timestamp >= 0)
		br_col_append_i64(&b->cols[2], r->timestamp * 1000);
	else
		br_col_append_null(&b->cols[2]);
	if (append_ms >= 0)
		br_col_append_i64(&b->cols[3], append_ms * 1000);
	else
		br_col_append_null(&b->cols[3]);
	if (r->key)
		br_col_append_bytes(&b->cols[4], r->key, (size_t)r->key_len);
	else
		br_col_append_null(&b->cols[4]);
	br_col *h = &b->cols[5];
	size_t pos = 0;
	br_rec_header rh;
	while (br_record_header_next(r, &pos, &rh)) {
		if (br_tier_utf8_valid(rh.key, (size_t)rh.key_len))
			br_col_append_bytes(&h->children[0], rh.key, (size_t)rh.key_len);
		else
			append_latin1(&h->children[0], rh.key, (size_t)rh.key_len);
		if (rh.value)
			br_col_append_bytes(&h->children[1], rh.value, (size_t)rh.value_len);
		else
			br_col_append_null(&h->children[1]);
	}
	br_col_close_list(h);
}

/* Adds one dead letter to the job's DLQ batches: the original key, value and
 * headers plus the reason and the source coordinates. Batches are cut at
 * DLQ_BATCH bytes so each stays under the broker's max.message.bytes. */
#define DLQ_BATCH (256 << 10)
static void add_dead_to(br_rb_builder *bld, bool *started, br_buf *out, const char *topic, int32_t part,
			const br_record *r, const char *reason)
{
	if (!*started) {
		br_rb_opts o;
		br_rb_opts_default(&o);
		br_rb_builder_init(bld, &o);
		*started = true;
	}
	br_rec_header hs[64];
	int32_t nh = 0;
	size_t pos = 0;
	br_rec_header h;
	while (nh < 60 && br_record_header_next(r, &pos, &h))
		hs[nh++] = h;
	char ps[16], os[24];
	snprintf(ps, sizeof ps, "%d", part);
	snprintf(os, sizeof os, "%" PRId64, r->offset);
	const char *extra[][2] = { { "braid.dlq.reason", reason }, { "braid.source.topic", topic },
				   { "braid.source.partition", ps }, { "braid.source.offset", os } };
	for (size_t i = 0; i < 4; i++)
		hs[nh++] = (br_rec_header){ (const uint8_t *)extra[i][0], (int32_t)strlen(extra[i][0]),
					    (const uint8_t *)extra[i][1], (int32_t)strlen(extra[i][1]) };
	br_rb_add(bld, r->timestamp, r->key, r->key ? r->key_len : -1, r->value, r->value ? r->value_len : -1, hs, nh);
	if (bld->recs.len >= DLQ_BATCH)
		br_rb_finish(bld, out, NULL);
}

static void add_dead(job *j, int32_t part, const br_record *r, const char *reason)
{
	add_dead_to(&j->dlqb, &j->dlq_started, &j->dlq, j->topic, part, r, reason);
}

/* Closes the job's open DLQ batch, so bytes appended after it keep the
 * source order (the DLQ dedup after a crash relies on it). */
static void finish_dead(job *j)
{
	if (j->dlq_started) {
		br_rb_finish(&j->dlqb, &j->dlq, NULL);
		br_rb_builder_free(&j->dlqb);
		j->dlq_started = false;
	}
}

#define CHUNK_ROWS 8192

static void add_file(job *j, const br_ice_datafile *files, size_t n)
{
	j->files = br_xrealloc(j->files, (j->nfiles + n) * sizeof *j->files);
	memcpy(j->files + j->nfiles, files, n * sizeof *files);
	j->nfiles += n;
}

/* The calling thread's priority per br_tier_opts.priority (see tier.h). */
static void lower_priority(br_tier *t)
{
	struct sched_param sp = { 0 };
	int nice = t->o.priority == BR_TIER_NORMAL ? 0 : t->o.priority == BR_TIER_LOW ? 10 : 19;
	if (t->o.priority == BR_TIER_IDLE && !pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp))
		return;
	if (nice && setpriority(PRIO_PROCESS, (id_t)gettid(), nice))
		br_warn("tier: cannot lower the tier thread's priority: %s", strerror(errno));
}

/* Waits until the encoder thread is idle; returns the status of its last
 * write (its error goes to the job). */
static int enc_wait(br_tier *t, job *j)
{
	pthread_mutex_lock(&t->enc.mu);
	while (t->enc.busy)
		pthread_cond_wait(&t->enc.cv, &t->enc.mu);
	int rc = t->enc.rc;
	if (rc)
		j->err = t->enc.err;
	t->enc.rc = 0;
	pthread_mutex_unlock(&t->enc.mu);
	return rc;
}

static void enc_submit(br_tier *t, br_ice_file_writer *fw, const br_batch *b)
{
	pthread_mutex_lock(&t->enc.mu);
	t->enc.fw = fw;
	t->enc.b = b;
	t->enc.busy = true;
	pthread_cond_broadcast(&t->enc.cv);
	pthread_mutex_unlock(&t->enc.mu);
}

static void *enc_main(void *arg)
{
	br_tier *t = arg;
	pthread_setname_np(pthread_self(), "braid-tier-enc");
	lower_priority(t);
	pthread_mutex_lock(&t->enc.mu);
	for (;;) {
		while (!t->enc.busy && !t->enc.stop)
			pthread_cond_wait(&t->enc.cv, &t->enc.mu);
		if (t->enc.stop)
			break;
		pthread_mutex_unlock(&t->enc.mu);
		br_err e = { 0 };
		int rc = br_ice_file_write(t->enc.fw, t->enc.b, &e);
		pthread_mutex_lock(&t->enc.mu);
		t->enc.rc = rc;
		if (rc)
			t->enc.err = e;
		t->enc.busy = false;
		pthread_cond_broadcast(&t->enc.cv);
	}
	pthread_mutex_unlock(&t->enc.mu);
	return NULL;
}

/* Streams the rows built so far into the job's open data file once they are
 * CHUNK_ROWS: the batch stays a few MiB (warm in cache, no page faults from
 * growing column buffers) however large the job. The chunk is handed to the
 * encoder thread (Parquet pages, zstd) and the tier thread goes on parsing
 * into the spare batch: two chunks in flight, so parsing and encoding use
 * both cores when they are free. A partitioned table keeps its rows until
 * flush_rows, which splits them by partition. */
static int chunk_rows(br_tier *t, br_ice_table *tb, job *j, br_batch *b)
{
	if (b->nrows < CHUNK_ROWS || *br_ice_table_partition(tb))
		return 0;
	int rc = 0;
	if (!j->fw && (rc = br_ice_file_open(tb, NULL, &j->fw, &j->err)))
		return rc;
	if (!t->enc.started) { /* no encoder thread: encode here */
		if ((rc = br_ice_file_write(j->fw, b, &j->err)))
			return rc;
		br_batch_reset(b);
		return 0;
	}
	if ((rc = enc_wait(t, j)))
		return rc;
	if (!j->has_spare) {
		br_batch_init(&j->spare, b->type, false);
		j->has_spare = true;
	} else
		br_batch_reset(&j->spare);
	br_batch full = *b;
	*b = j->spare;
	j->spare = full;
	enc_submit(t, j->fw, &j->spare);
	return 0;
}

/* Drops the spare batch (its type is the schema's, which an update frees). */
static void drop_spare(job *j)
{
	if (j->has_spare)
		br_batch_free(&j->spare);
	j->has_spare = false;
}

/* Writes the rows built so far as data files (kept in the job until the commit). */
static int flush_rows(br_tier *t, br_ice_table *tb, job *j, br_batch *b)
{
	int rc = 0;
	if (j->fw) {
		br_ice_file_writer *fw = j->fw;
		j->fw = NULL;
		rc = enc_wait(t, j);
		drop_spare(j);
		if (rc || (rc = br_ice_file_write(fw, b, &j->err))) {
			br_ice_file_abort(fw);
			return rc;
		}
		br_ice_datafile *df = br_arena_alloc(&j->arena, sizeof *df);
		if ((rc = br_ice_file_close(fw, &j->arena, df, &j->err)))
			return rc;
		add_file(j, df, 1);
		br_batch_reset(b);
		return 0;
	}
	if (!b->nrows)
		return 0;
	br_ice_datafile *files;
	size_t n;
	rc = br_ice_write_files(tb, b, NULL, &j->arena, &files, &n, &j->err);
	if (rc)
		return rc;
	add_file(j, files, n);
	br_batch_reset(b);
	return 0;
}

/* Json mode: one record. Returns 0 (row added or dead-lettered) or a job error. */
static int json_record(br_tier *t, br_ice_table *tb, job *j, br_batch *b, const job_part *jp, const br_record *r,
		       int64_t append_ms)
{
	char reason[300];
	int rc = br_tjson_parse(t->json, r->value, r->value ? (size_t)r->value_len : 0, reason, sizeof reason);
	if (!rc && j->infer) {
		const br_ice_schema_change *ch;
		size_t nch;
		rc = br_tjson_infer(t->json, b->type, 6, &ch, &nch, reason, sizeof reason);
		if (!rc && nch) {
			/* rows so far keep the old schema (their files carry the old field ids) */
			if ((rc = flush_rows(t, tb, j, b)))
				return rc;
			/* the batch borrows the old schema's types, which the update frees */
			br_batch_free(b);
			br_err e = { 0 };
			rc = br_ice_update_schema(tb, ch, nch, &e);
			br_batch_init(b, br_ice_table_schema(tb)->root, false);
			if (rc == BR_EIO)
				return br_errf(&j->err, rc, "schema update of kafka.%s: %s", j->topic, e.msg);
			if (rc)
				snprintf(reason, sizeof reason, "schema evolution not allowed: %.250s", e.msg);
			else {
				char *sc = br_schema_print(br_ice_table_schema(tb));
				br_info("tier: kafka.%s schema evolved to %s", j->topic, sc);
				free(sc);
			}
		}
	}
	if (!rc)
		rc = br_tjson_append(t->json, b, 6, reason, sizeof reason);
	if (rc) {
		j->dead++;
		if (r->offset > (jp->p < j->nparts ? j->dlq_done[jp->p] : -1))
			add_dead(j, jp->p, r, reason);
		if (j->dead <= 3 || j->dead % 10000 == 0)
			br_info("tier: %s/%d offset %" PRId64 " dead-lettered: %s", j->topic, jp->p, r->offset, reason);
		return 0;
	}
	add_meta(b, jp->p, r, append_ms);
	br_batch_row_done(b, 1);
	j->rows++;
	return 0;
}

/* Background compaction: every compact_commits commits, the small files of the
 * table are rewritten into one per partition by a "replace" snapshot, which
 * keeps the parent's summary, so the frontier is untouched. It runs on the tier
 * thread between jobs, so it never races our own commits; a failure only costs
 * the compaction (the next commit reloads the table). Files grow until they
 * pass compact_bytes and are then left alone, which bounds the rewriting. */
static void maybe_compact(br_tier *t, br_ice_table *tb, job *j)
{
	if (j->compact_commits <= 0)
		return;
	/* commits since the last compaction, from the snapshot chain (so a restart
	 * does not reset the count); the walk stops after compact_commits steps */
	const br_ice_snapshot *sn = br_ice_table_current(tb);
	int64_t n = 0;
	while (sn && n < j->compact_commits && !(sn->operation && !strcmp(sn->operation, "replace"))) {
		n++;
		sn = sn->parent_id >= 0 ? br_ice_table_snapshot(tb, sn->parent_id) : NULL;
	}
	if (n < j->compact_commits)
		return;
	size_t rw = 0, wr = 0;
	br_err e = { 0 };
	int64_t t0 = br_mono_ns();
	if (br_ice_compact(tb, j->compact_bytes, &rw, &wr, &e)) {
		br_warn("tier: compacting kafka.%s: %s", j->topic, e.msg);
		drop_table(t, j->topic);
	} else if (rw)
		br_info("tier: compacted kafka.%s: %zu small files into %zu in %.0f ms", j->topic, rw, wr,
			(double)(br_mono_ns() - t0) / 1e6);
}

static int commit(br_tier *t, job *j)
{
	br_ice_table *tb;
	int rc = get_table(t, j, &tb);
	if (rc)
		return rc;
	char *fr = br_tier_frontier_format(j->frontier, j->nparts);
	char *tiered = br_xasprintf("%" PRId64, j->tot_tiered + j->rows);
	char *dead = br_xasprintf("%" PRId64, j->tot_dead + j->dead);
	char *dend = br_xasprintf("%" PRId64, j->dlq_end);
	const char *keys[] = { "braid.frontier", "braid.tiered.records", "braid.dlq.records", "braid.dlq.end" };
	const char *vals[] = { fr, tiered, dead, dend };
	br_ice_kv sum = { j->dlq_end >= 0 ? 4 : 3, keys, vals };
	rc = br_ice_append(tb, j->files, j->nfiles, &sum, &j->err);
	if (rc)
		br_errctx(&j->err, "commit to kafka.%s", j->topic);
	else
		maybe_compact(t, tb, j);
	free(fr);
	free(tiered);
	free(dead);
	free(dend);
	j->phase = PHASE_DONE;
	return rc;
}

/* The index of the stored batch holding offset `off` (the last batch whose
 * base offset is <= off; 0 when none): O(log batches). */
static size_t batch_index(const job_part *jp, int64_t off)
{
	size_t lo = 0, hi = jp->nbatches;
	while (hi - lo > 1) {
		size_t m = lo + (hi - lo) / 2;
		if (jp->batch_base[m] <= off)
			lo = m;
		else
			hi = m;
	}
	return lo;
}

/* The broker append time of the record at `off`; *bi is the batch index of
 * the previous record of the same range (SIZE_MAX before the first). */
static int64_t append_time(const job_part *jp, size_t *bi, int64_t off)
{
	if (*bi == SIZE_MAX)
		*bi = batch_index(jp, off);
	while (*bi + 1 < jp->nbatches && jp->batch_base[*bi + 1] <= off)
		(*bi)++;
	return *bi < jp->nbatches ? jp->batch_append[*bi] : -1;
}

/* Key_value mode: one record is one row (columns 0..6). */
static void kv_record(br_batch *b, int32_t part, const br_record *r, int64_t append_ms)
{
	add_meta(b, part, r, append_ms);
	if (r->value)
		br_col_append_bytes(&b->cols[6], r->value, (size_t)r->value_len);
	else
		br_col_append_null(&b->cols[6]);
	br_batch_row_done(b, 1);
}

/* Whether the record is data of this job (in range, not a transaction marker). */
static bool job_record(const job *j, const job_part *jp, const br_record *r, int64_t *last_control)
{
	if (r->offset < jp->from || r->offset >= jp->to)
		return false;
	if (br_rb_control(r->batch)) {
		if (r->batch->base_offset != *last_control)
			br_warn("tier: %s/%d: skipping control batch at offset %" PRId64 " (transactions are not tiered)",
				j->topic, jp->p, r->batch->base_offset);
		*last_control = r->batch->base_offset;
		return false;
	}
	return true;
}

/* The serial path: the records of jp->bytes[lo, hi) into b on the tier thread
 * (chunks streamed through the encoder thread), schema evolution included. */
static int serial_range(br_tier *t, br_ice_table *tb, job *j, br_batch *b, const job_part *jp, size_t lo, size_t hi)
{
	br_rb_iter it;
	br_rb_iter_init(&it, jp->bytes.p + lo, hi - lo, MAX_UNCOMPRESSED, BR_RB_SKIP_CRC);
	br_record r;
	size_t bi = SIZE_MAX;
	int64_t last_control = -1, rows0 = j->rows, dead0 = j->dead;
	int n, rc = 0;
	while (!rc && (n = br_rb_iter_next(&it, &r, &j->err)) == 1) {
		if (!job_record(j, jp, &r, &last_control))
			continue;
		int64_t append_ms = append_time(jp, &bi, r.offset);
		if (j->mode == MODE_KV) {
			kv_record(b, jp->p, &r, append_ms);
			j->rows++;
		} else
			rc = json_record(t, tb, j, b, jp, &r, append_ms);
		if (!rc)
			rc = chunk_rows(t, tb, j, b);
	}
	if (!rc && n < 0) {
		rc = n;
		br_errctx(&j->err, "topic %s partition %d", j->topic, jp->p);
	}
	br_rb_iter_free(&it);
	if (jp->p < j->nparts) {
		j->prows[jp->p] += j->rows - rows0;
		j->pdead[jp->p] += j->dead - dead0;
	}
	return rc;
}

/* ------------------------------------------------- parallel parse workers
 *
 * For an unpartitioned table the job's stored bytes are cut at batch
 * boundaries into units of about CHUNK_ROWS records. A pool of parse workers
 * (braid serve --tier-threads, default one per core) decodes and parses units
 * in any order, each into its own batch and its own dead-letter buffer; the
 * tier thread collects them in unit order, encodes each batch into the job's
 * one open data file and appends its dead letters, so the file's rows, the
 * DLQ order and the commit (files + frontier in one snapshot) are exactly
 * those of the serial path. At most workers + 2 units are in flight (their
 * batches are reused slot by slot), which bounds memory to a few MiB each.
 *
 * Schema inference: a worker that meets a record needing a schema change
 * (new column, int widened) gives its unit back marked need_serial. The tier
 * thread waits for the units in flight, drops their results (they were built
 * under the old schema), runs that unit on the serial path (which evolves the
 * schema between files) and resumes the workers after it. Evolution is rare,
 * so the cost is a few units parsed twice. */

#define MAX_WORKERS 64
#define PARALLEL_BYTES (4u << 20) /* stored bytes from which a job goes to the workers */

typedef struct unit {
	struct unit *next;        /* the pool's queue */
	job *j;
	const job_part *jp;
	size_t lo, hi;            /* bytes of jp->bytes: whole batches */
	br_batch *b;              /* the slot batch rows go to (tier thread's) */
	/* results */
	bool done, need_serial, written;
	int rc;
	br_err err;
	br_rb_builder dlqb;
	bool dlq_started;
	br_buf dlq;               /* dead letters, RecordBatch v2 bytes */
	int64_t rows, dead;
} unit;

typedef struct tier_pool {
	pthread_t th[MAX_WORKERS];
	br_tjson *json[MAX_WORKERS];
	int n;                    /* workers started */
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	unit *head, *tail;
	bool stop;
} tier_pool;

/* A worker: one unit's records into u->b, without touching the job or the
 * table (only reads: the job's config, the part's bytes, dlq_done). */
static void unit_run(br_tjson *json, int wi, unit *u)
{
	job *j = u->j;
	const job_part *jp = u->jp;
	br_rb_iter it;
	br_rb_iter_init(&it, jp->bytes.p + u->lo, u->hi - u->lo, MAX_UNCOMPRESSED, BR_RB_SKIP_CRC);
	br_record r;
	size_t bi = SIZE_MAX;
	int64_t last_control = -1;
	char reason[300];
	int n;
	while ((n = br_rb_iter_next(&it, &r, &u->err)) == 1) {
		if (!job_record(j, jp, &r, &last_control))
			continue;
		int64_t append_ms = append_time(jp, &bi, r.offset);
		if (j->mode == MODE_KV) {
			kv_record(u->b, jp->p, &r, append_ms);
			u->rows++;
			continue;
		}
		int rc = br_tjson_parse(json, r.value, r.value ? (size_t)r.value_len : 0, reason, sizeof reason);
		if (!rc && j->infer) {
			const br_ice_schema_change *ch;
			size_t nch;
			rc = br_tjson_infer(json, u->b->type, 6, &ch, &nch, reason, sizeof reason);
			if (!rc && nch) {
				u->need_serial = true;
				break;
			}
		}
		if (!rc)
			rc = br_tjson_append(json, u->b, 6, reason, sizeof reason);
		if (rc) {
			u->dead++;
			if (r.offset > (jp->p < j->nparts ? j->dlq_done[jp->p] : -1))
				add_dead_to(&u->dlqb, &u->dlq_started, &u->dlq, j->topic, jp->p, &r, reason);
			int64_t k = __atomic_add_fetch(&j->dead_logged, 1, __ATOMIC_RELAXED);
			if (k <= 3 || k % 10000 == 0)
				br_info("tier: %s/%d offset %" PRId64 " dead-lettered: %s", j->topic, jp->p, r.offset,
					reason);
			continue;
		}
		add_meta(u->b, jp->p, &r, append_ms);
		br_batch_row_done(u->b, 1);
		u->rows++;
	}
	if (n < 0) {
		u->rc = n;
		br_errctx(&u->err, "topic %s partition %d", j->topic, jp->p);
	}
	br_rb_iter_free(&it);
	if (u->dlq_started) {
		br_rb_finish(&u->dlqb, &u->dlq, NULL);
		br_rb_builder_free(&u->dlqb);
		u->dlq_started = false;
	}
	/* spread mode: this worker encodes its rows into its own data file */
	if (!u->rc && !u->need_serial && wi >= 0 && wi < j->nwfw && u->b->nrows) {
		u->rc = br_ice_file_write(j->wfw[wi], u->b, &u->err);
		j->wrows[wi] += u->b->nrows;
		u->written = true;
	}
}

typedef struct worker_arg {
	br_tier *t;
	int i;
} worker_arg;

static void *worker_main(void *arg);

static void pool_submit(tier_pool *p, unit *u)
{
	u->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = u;
	else
		p->head = u;
	p->tail = u;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

/* Waits for unit u; meanwhile the tier thread runs queued units itself (with
 * json, its own parser), so a job never stalls on a handoff to a worker that
 * the scheduler has not woken yet (SCHED_IDLE workers on a busy machine). */
static void pool_wait(tier_pool *p, br_tjson *json, unit *u)
{
	pthread_mutex_lock(&p->mu);
	while (!u->done) {
		unit *q = json ? p->head : NULL;
		if (!q) {
			pthread_cond_wait(&p->done, &p->mu);
			continue;
		}
		p->head = q->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		unit_run(json, -1, q);
		pthread_mutex_lock(&p->mu);
		q->done = true;
	}
	pthread_mutex_unlock(&p->mu);
}

/* Cuts a part's stored bytes into units of about CHUNK_ROWS records at batch
 * boundaries (a header that does not parse ends the cutting: the worker's
 * iterator then reports the error with its position). */
static void cut_units(job *j, const job_part *jp, unit **us, size_t *nu, size_t *cap)
{
	const uint8_t *p = jp->bytes.p;
	size_t len = jp->bytes.len, pos = 0;
	while (pos < len) {
		size_t start = pos;
		int64_t recs = 0;
		while (pos < len && recs < CHUNK_ROWS) {
			br_rb_hdr h;
			br_err e = { 0 };
			if (br_rb_parse_header(p + pos, len - pos, pos, &h, &e)) {
				pos = len;
				break;
			}
			recs += (int64_t)h.last_offset_delta + 1;
			pos += br_rb_size(&h);
		}
		if (*nu == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*us = br_xrealloc(*us, *cap * sizeof **us);
		}
		unit *u = &(*us)[(*nu)++];
		memset(u, 0, sizeof *u);
		u->j = j;
		u->jp = jp;
		u->lo = start;
		u->hi = pos;
	}
}

/* A unit whose worker met a schema change, run on the serial path: its rows
 * end up in the open data file (or the files the evolution closed). */
static int serial_unit(br_tier *t, br_ice_table *tb, job *j, unit *u)
{
	br_batch b;
	br_batch_init(&b, br_ice_table_schema(tb)->root, false);
	int rc = serial_range(t, tb, j, &b, u->jp, u->lo, u->hi);
	if (j->fw) {
		int erc = enc_wait(t, j);
		rc = rc ? rc : erc;
	}
	drop_spare(j);
	if (!rc && b.nrows) {
		if (!j->fw)
			rc = br_ice_file_open(tb, NULL, &j->fw, &j->err);
		if (!rc)
			rc = br_ice_file_write(j->fw, &b, &j->err);
	}
	br_batch_free(&b);
	finish_dead(j);
	return rc;
}

static void unit_clear(unit *u)
{
	br_buf_free(&u->dlq);
	br_batch *b = u->b;
	job *j = u->j;
	const job_part *jp = u->jp;
	size_t lo = u->lo, hi = u->hi;
	memset(u, 0, sizeof *u);
	u->b = b;
	u->j = j;
	u->jp = jp;
	u->lo = lo;
	u->hi = hi;
}

/* Ends spread mode: the worker files that got rows join the job's files (ok),
 * the others are removed; on failure (!ok) all are removed. */
static int close_spread(job *j, bool ok)
{
	int rc = 0;
	for (int i = 0; i < j->nwfw; i++) {
		br_ice_file_writer *fw = j->wfw[i];
		if (!ok || rc || !j->wrows[i]) {
			br_ice_file_abort(fw);
			continue;
		}
		br_ice_datafile *df = br_arena_alloc(&j->arena, sizeof *df);
		if (!(rc = br_ice_file_close(fw, &j->arena, df, &j->err)))
			add_file(j, df, 1);
	}
	free(j->wfw);
	free(j->wrows);
	j->wfw = NULL;
	j->wrows = NULL;
	j->nwfw = 0;
	return rc;
}

/* With br_tier_opts.spread (braid serve --tier-spread), a job of at least
 * this many units per worker is spread: each worker encodes the units it
 * parsed into a data file of its own, so Parquet encoding and zstd run on
 * every core too (in ordered mode the tier thread encodes, and encoding is
 * the larger half of the per-record cost). Not the default: several writers
 * each build their own dictionaries and page buffers, which cost 10-35% more
 * CPU in the loaded-machine measurements (docs/PERFORMANCE.md), and CPU is
 * what a shared machine lacks. Otherwise a job keeps one file, encoded in
 * unit order by the tier thread. Either way all files commit together with
 * the frontier. */
#define SPREAD_UNITS 4

/* The parallel build (see above): every part's records into the job's data
 * file(s), dead letters in unit order. */
static int run_parallel(br_tier *t, br_ice_table *tb, job *j)
{
	tier_pool *p = t->pool;
	unit *us = NULL;
	size_t nu = 0, cap = 0;
	for (size_t k = 0; k < j->njparts; k++)
		cut_units(j, &j->parts[k], &us, &nu, &cap);
	size_t nslots = (size_t)p->n + 2;
	br_batch slots[MAX_WORKERS + 2];
	bool slot_init[MAX_WORKERS + 2] = { false };
	size_t sub = 0, col = 0;
	int rc = 0;
	if (t->o.spread && p->n >= 2 && nu >= (size_t)SPREAD_UNITS * (size_t)p->n) {
		j->wfw = br_xcalloc((size_t)p->n, sizeof *j->wfw);
		j->wrows = br_xcalloc((size_t)p->n, sizeof *j->wrows);
		for (int i = 0; i < p->n && !rc; i++)
			if (!(rc = br_ice_file_open(tb, NULL, &j->wfw[i], &j->err)))
				j->nwfw++;
	}
	while (col < nu && !rc) {
		for (; sub < nu && sub - col < nslots; sub++) {
			size_t si = sub % nslots;
			if (!slot_init[si])
				br_batch_init(&slots[si], br_ice_table_schema(tb)->root, false);
			else
				br_batch_reset(&slots[si]);
			slot_init[si] = true;
			us[sub].b = &slots[si];
			pool_submit(p, &us[sub]);
		}
		unit *u = &us[col];
		/* spread: the workers keep both cores busy; the tier thread
		 * helping would only add a file and a third runnable thread */
		pool_wait(p, j->nwfw ? NULL : t->json, u);
		if (u->rc) {
			rc = u->rc;
			j->err = u->err;
			break;
		}
		if (u->need_serial) {
			/* the units after it were built under the old schema, whose
			 * types the update frees: wait for them, drop them and the
			 * slots; the worker files keep the old schema and are closed */
			for (size_t i = col + 1; i < sub; i++) {
				pool_wait(p, t->json, &us[i]);
				unit_clear(&us[i]);
			}
			sub = col + 1;
			for (size_t i = 0; i < nslots; i++)
				if (slot_init[i])
					br_batch_free(&slots[i]);
			memset(slot_init, 0, sizeof slot_init);
			if (!(rc = close_spread(j, true)))
				rc = serial_unit(t, tb, j, u);
			unit_clear(u);
			col++;
			continue;
		}
		if (u->b->nrows && !u->written) {
			if (!j->fw)
				rc = br_ice_file_open(tb, NULL, &j->fw, &j->err);
			if (!rc)
				rc = br_ice_file_write(j->fw, u->b, &j->err);
		}
		if (u->dlq.len) {
			finish_dead(j);
			br_buf_put(&j->dlq, u->dlq.p, u->dlq.len);
		}
		j->rows += u->rows;
		j->dead += u->dead;
		if (u->jp->p < j->nparts) {
			j->prows[u->jp->p] += u->rows;
			j->pdead[u->jp->p] += u->dead;
		}
		unit_clear(u);
		col++;
	}
	for (size_t i = col; i < sub; i++) /* after a failure: the workers must be done with them */
		pool_wait(p, t->json, &us[i]);
	int crc = close_spread(j, !rc);
	rc = rc ? rc : crc;
	for (size_t i = 0; i < nu; i++)
		br_buf_free(&us[i].dlq);
	for (size_t i = 0; i < nslots; i++)
		if (slot_init[i])
			br_batch_free(&slots[i]);
	free(us);
	return rc;
}

static int run_tier(br_tier *t, job *j)
{
	if (j->phase == PHASE_COMMIT) {
		int rc = commit(t, j);
		if (rc)
			drop_table(t, j->topic);
		return rc;
	}
	br_ice_table *tb;
	int rc = get_table(t, j, &tb);
	if (rc)
		return rc;
	if (!t->json) /* also kv mode: the tier thread runs queued units while it waits */
		t->json = br_tjson_new();
	/* the stored bytes, read here rather than on the loop thread */
	for (size_t k = 0; k < j->njparts && !rc; k++) {
		job_part *jp = &j->parts[k];
		if (jp->plan.nspans) {
			rc = br_read_plan_exec(&jp->plan, &jp->bytes, &j->err);
			br_read_plan_free(&jp->plan);
			if (rc)
				br_errctx(&j->err, "tier: %s/%d", j->topic, jp->p);
		}
	}
	/* a small job (steady state: one commit interval of records) stays on
	 * the tier thread: handing it to workers would only add wake-ups */
	size_t bytes = 0;
	for (size_t k = 0; k < j->njparts; k++)
		bytes += j->parts[k].bytes.len;
	bool parallel = t->pool && !*br_ice_table_partition(tb) && bytes >= PARALLEL_BYTES;
	if (!rc && parallel)
		rc = run_parallel(t, tb, j);
	br_batch b;
	br_batch_init(&b, br_ice_table_schema(tb)->root, false);
	for (size_t k = 0; k < j->njparts && !rc && !parallel; k++)
		rc = serial_range(t, tb, j, &b, &j->parts[k], 0, j->parts[k].bytes.len);
	if (!rc)
		rc = flush_rows(t, tb, j, &b);
	if (rc && j->fw) {
		enc_wait(t, j); /* the encoder may still be writing into it */
		br_ice_file_abort(j->fw);
		j->fw = NULL;
	}
	drop_spare(j);
	br_batch_free(&b);
	if (!rc)
		finish_dead(j);
	if (!rc && j->dlq.len) {
		j->phase = PHASE_DLQ; /* the loop appends the dead letters, then sends the job back */
		return 0;
	}
	if (!rc)
		rc = commit(t, j);
	if (rc)
		drop_table(t, j->topic); /* reload: the table object may not match the disk */
	return rc;
}

static int run_init(br_tier *t, job *j)
{
	drop_table(t, j->topic);
	br_ice_table *tb;
	int rc = get_table(t, j, &tb);
	if (!rc)
		rc = read_frontier(tb, &j->loaded, &j->nloaded, &j->tot_tiered, &j->tot_dead, &j->dlq_end, &j->err);
	if (!rc) {
		/* files of commits a crash interrupted: written, never referenced */
		size_t removed = 0;
		br_err e = { 0 };
		if (br_ice_remove_orphans(tb, br_now_ms() - ORPHAN_AGE_MS, &removed, &e))
			br_warn("tier: removing orphan files of kafka.%s: %s", j->topic, e.msg);
		else if (removed)
			br_info("tier: removed %zu orphan file(s) of kafka.%s", removed, j->topic);
	}
	if (rc)
		drop_table(t, j->topic);
	return rc;
}

static void *tier_main(void *arg)
{
	br_tier *t = arg;
	/* Tiering is background work: it must lose every contest for the CPU with
	 * the loop thread (produce and fetch latency) and with clients. SCHED_IDLE
	 * runs it only on otherwise idle CPU time; under sustained saturation it
	 * falls behind and catches up later in large commits (the frontier makes
	 * that safe), which is the trade the lake issue asks for. An operator who
	 * prefers a bounded lag gives it a share with --tier-priority low|normal. */
	pthread_setname_np(pthread_self(), "braid-tier"); /* for top -H, perf and bench/tier_bench.py */
	lower_priority(t);
	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->queue && !t->stop)
			pthread_cond_wait(&t->cv, &t->mu);
		if (t->stop)
			break;
		job *j = t->queue;
		t->queue = j->next;
		pthread_mutex_unlock(&t->mu);
		j->rc = j->kind == JOB_INIT ? run_init(t, j) : run_tier(t, j);
		pthread_mutex_lock(&t->mu);
		j->next = t->done;
		t->done = j;
		if (t->o.wake)
			t->o.wake(t->o.wake_arg);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* --------------------------------------------------------- the loop thread */

static void job_free(job *j)
{
	for (size_t k = 0; k < j->njparts; k++) {
		br_read_plan_free(&j->parts[k].plan);
		br_buf_free(&j->parts[k].bytes);
		free(j->parts[k].batch_base);
		free(j->parts[k].batch_append);
	}
	free(j->parts);
	br_arena_free(&j->arena);
	free(j->files);
	if (j->dlq_started)
		br_rb_builder_free(&j->dlqb);
	br_buf_free(&j->dlq);
	free(j->dlq_done);
	free(j->prows);
	free(j->pdead);
	free(j->dlq_topic);
	free(j->frontier);
	free(j->loaded);
	free(j->topic);
	free(j->schema_cfg);
	free(j->partition_cfg);
	free(j);
}

static int topic_mode(const br_topic *tp);

/* The retention guard (loop thread): records at or past the frontier are not in
 * the lake yet, so the log must keep them. A tiered topic whose frontier is not
 * known yet (before its first JOB_INIT ends, or after a failed job) keeps
 * everything; a topic with lake mode off pins nothing; an unknown mode (a typo
 * that stops tiering) keeps everything rather than lose data from both places. */
static int64_t retain_from(void *arg, const br_topic *tp, int32_t p)
{
	br_tier *t = arg;
	if (topic_mode(tp) == MODE_OFF)
		return INT64_MAX;
	tstate *s = br_map_gets(&t->topics, br_topic_name(tp));
	if (!s || !s->ready || p >= s->n)
		return 0;
	return s->frontier[p];
}

/* The guard once tiering has stopped: tiered topics keep everything. */
static int64_t retain_all(void *arg, const br_topic *tp, int32_t p)
{
	(void)arg;
	(void)p;
	return topic_mode(tp) == MODE_OFF ? INT64_MAX : 0;
}

static const char *mode_name(const char *v)
{
	return !v || !*v ? "key_value" : v;
}

/* The config guard (loop thread): braid.lake.* changes on a topic whose table
 * exists either take effect at the next job (commit interval and bytes,
 * compaction, DLQ topic, schema=infer) or are refused here, with the reason,
 * because the table cannot follow them: the partition spec and a declared
 * schema are read only when the table is created, and the columns of a
 * key_value table are not those of a json one. */
static int config_guard(void *arg, const br_topic *tp, const char *key, const char *was, const char *now, br_err *err)
{
	br_tier *t = arg;
	if (strncmp(key, "braid.lake.", 11))
		return 0;
	char *dir = br_xasprintf("%s/lake/kafka/%s", t->data_dir, br_topic_name(tp));
	bool exists = access(dir, F_OK) == 0;
	free(dir);
	if (!exists)
		return 0;
	const char *name = br_topic_name(tp);
	if (!strcmp(key, "braid.lake.partition") && strcmp(was ? was : "", now ? now : ""))
		return br_errf(err, BR_EINVAL,
			       "braid.lake.partition cannot change: table kafka.%s exists and keeps the partition spec "
			       "it was created with (\"%s\"); drop the table (braid table drop kafka.%s) to re-create it, "
			       "or use a new topic", name, was ? was : "", name);
	if (!strcmp(key, "braid.lake.schema") && now && strcmp(now, "infer"))
		return br_errf(err, BR_EINVAL,
			       "braid.lake.schema cannot be declared anew: table kafka.%s exists and keeps its columns "
			       "(set braid.lake.schema=infer to add columns as they appear, or change them with "
			       "braid table alter)", name);
	if (!strcmp(key, "braid.lake.mode")) {
		const char *a = mode_name(was), *b = mode_name(now);
		if (strcmp(a, "off") && strcmp(b, "off") && strcmp(a, b))
			return br_errf(err, BR_EINVAL,
				       "braid.lake.mode cannot change from %s to %s: table kafka.%s has the columns of %s "
				       "mode; drop the table (braid table drop kafka.%s) or use a new topic", a, b, name, a,
				       name);
	}
	return 0;
}

static void *worker_main(void *arg)
{
	worker_arg *wa = arg;
	br_tier *t = wa->t;
	tier_pool *p = t->pool;
	br_tjson *json = p->json[wa->i];
	int wa_i = wa->i;
	char name[16];
	snprintf(name, sizeof name, "braid-tier-w%d", wa->i);
	free(wa);
	pthread_setname_np(pthread_self(), name);
	lower_priority(t);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		unit *u = p->head;
		p->head = u->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		unit_run(json, wa_i, u);
		pthread_mutex_lock(&p->mu);
		u->done = true;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void pool_stop(br_tier *t)
{
	tier_pool *p = t->pool;
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++) {
		pthread_join(p->th[i], NULL);
		br_tjson_free(p->json[i]);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
	t->pool = NULL;
}

/* Starts n parse workers (0: one per online CPU). Without any, the tier
 * thread parses (the serial path): n < 0. */
static void pool_start(br_tier *t, int n)
{
	if (n < 0)
		return;
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c > 0 ? (int)c : 1;
	}
	n = BR_MIN(n, MAX_WORKERS);
	tier_pool *p = br_xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	t->pool = p;
	for (int i = 0; i < n; i++) {
		worker_arg *wa = br_xmalloc(sizeof *wa);
		*wa = (worker_arg){ t, i };
		p->json[i] = br_tjson_new();
		if (pthread_create(&p->th[i], NULL, worker_main, wa)) {
			free(wa);
			br_tjson_free(p->json[i]);
			break;
		}
		p->n++;
	}
	if (!p->n) {
		br_warn("tier: cannot start parse workers; parsing on the tier thread");
		pool_stop(t);
	}
}

int br_tier_open(br_tier **out, br_log *log, const br_tier_opts *o, br_err *err)
{
	br_tier *t = br_xcalloc(1, sizeof *t);
	t->log = log;
	t->o = *o;
	if (t->o.max_job_bytes <= 0)
		t->o.max_job_bytes = 64LL << 20;
	t->data_dir = br_xstrdup(o->data_dir);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->thread, NULL, tier_main, t)) {
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->cv);
		free(t->data_dir);
		free(t);
		return br_errf(err, BR_EIO, "cannot start the tiering thread");
	}
	pthread_mutex_init(&t->enc.mu, NULL);
	pthread_cond_init(&t->enc.cv, NULL);
	t->enc.started = pthread_create(&t->enc.thread, NULL, enc_main, t) == 0;
	if (!t->enc.started)
		br_warn("tier: cannot start the encoder thread; encoding on the tier thread");
	pool_start(t, o->threads);
	br_log_set_retention_guard(log, retain_from, t);
	br_log_set_config_guard(log, config_guard, t);
	*out = t;
	return 0;
}

static int topic_mode(const br_topic *tp)
{
	const char *m = br_topic_config(tp, "braid.lake.mode", NULL);
	if (!m || !*m || !strcmp(m, "key_value"))
		return MODE_KV;
	if (!strcmp(m, "json"))
		return MODE_JSON;
	if (!strcmp(m, "off"))
		return MODE_OFF;
	return -1;
}

static int64_t cfg_num(const br_topic *tp, const char *key, int64_t def, bool size)
{
	const char *v = br_topic_config(tp, key, NULL);
	if (!v || !*v)
		return def;
	int64_t n = size ? br_parse_size(v) : br_parse_duration_ms(v);
	return n < 0 ? def : n;
}

static char *cfg_dup(const br_topic *tp, const char *key)
{
	const char *v = br_topic_config(tp, key, NULL);
	return v && *v ? br_xstrdup(v) : NULL;
}

static void submit(br_tier *t, job *j)
{
	pthread_mutex_lock(&t->mu);
	job **pp = &t->queue;
	while (*pp)
		pp = &(*pp)->next;
	*pp = j;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static job *job_new(int kind, br_topic *tp, int mode)
{
	job *j = br_xcalloc(1, sizeof *j);
	j->kind = kind;
	j->topic = br_xstrdup(br_topic_name(tp));
	j->mode = mode;
	j->schema_cfg = cfg_dup(tp, "braid.lake.schema");
	j->partition_cfg = cfg_dup(tp, "braid.lake.partition");
	j->infer = mode == MODE_JSON && (!j->schema_cfg || !strcmp(j->schema_cfg, "infer"));
	j->dlq_topic = cfg_dup(tp, "braid.lake.dlq");
	if (!j->dlq_topic || !strcmp(j->dlq_topic, j->topic) ||
	    br_topic_name_check(j->dlq_topic, strlen(j->dlq_topic), NULL)) {
		free(j->dlq_topic);
		j->dlq_topic = br_xasprintf("%.240s.dlq", j->topic);
	}
	j->dlq_end = -1;
	j->compact_commits = cfg_num(tp, "braid.lake.compact.commits", DEFAULT_COMPACT_COMMITS, true);
	j->compact_bytes = cfg_num(tp, "braid.lake.compact.bytes", DEFAULT_COMPACT_BYTES, true);
	br_arena_init(&j->arena, 16384);
	return j;
}

/* Copies the due ranges of every partition into a job. Returns NULL when nothing
 * is to be tiered after all. Cost: one read per partition, bounded by the job's
 * byte budget shared evenly between the partitions. */
static job *build_job(br_tier *t, tstate *s, br_topic *tp, int mode)
{
	int32_t np = br_topic_partition_count(tp);
	if (np > s->n) {
		s->frontier = br_xrealloc(s->frontier, (size_t)np * sizeof *s->frontier);
		for (int32_t i = s->n; i < np; i++)
			s->frontier[i] = 0;
		s->n = np;
	}
	job *j = job_new(JOB_TIER, tp, mode);
	j->nparts = s->n;
	j->frontier = br_xmalloc((size_t)s->n * sizeof *j->frontier);
	memcpy(j->frontier, s->frontier, (size_t)s->n * sizeof *j->frontier);
	j->parts = br_xcalloc((size_t)np, sizeof *j->parts);
	j->tot_tiered = s->tot_tiered;
	j->tot_dead = s->tot_dead;
	j->dlq_end = s->dlq_end;
	j->dlq_done = br_xmalloc((size_t)s->n * sizeof *j->dlq_done);
	j->prows = br_xcalloc((size_t)s->n, sizeof *j->prows);
	j->pdead = br_xcalloc((size_t)s->n, sizeof *j->pdead);
	for (int32_t p = 0; p < s->n; p++)
		j->dlq_done[p] = s->dlq_done && p < s->ndlq ? s->dlq_done[p] : -1;
	int64_t budget = BR_MAX(t->o.max_job_bytes / np, 1 << 20);
	bool moved = false;
	for (int32_t p = 0; p < np; p++) {
		br_partition *pp = br_topic_partition(tp, p);
		int64_t from = s->frontier[p], start = br_partition_start_offset(pp);
		int64_t hw = br_partition_high_watermark(pp);
		if (from < start) {
			br_warn("tier: %s/%d: offsets %" PRId64 "..%" PRId64 " were deleted by retention before they "
				"were tiered; the table skips them", j->topic, p, from, start - 1);
			from = start;
			j->frontier[p] = start;
			moved = true;
		}
		if (from > br_partition_end_offset(pp)) {
			/* the topic was deleted and created again under the same name */
			if (!s->warned_mode)
				br_warn("tier: %s/%d: table frontier %" PRId64 " is past the log end %" PRId64
					"; not tiering this partition", j->topic, p, from, br_partition_end_offset(pp));
			s->warned_mode = true;
			continue;
		}
		if (from >= hw)
			continue;
		job_part *jp = &j->parts[j->njparts];
		br_err err = { 0 };
		/* only index lookups here: the tier thread reads the bytes (run_tier) */
		if (br_partition_plan_read(pp, from, budget, &jp->plan, &err)) {
			br_warn("tier: %s/%d: read at %" PRId64 ": %s", j->topic, p, from, err.msg);
			br_read_plan_free(&jp->plan);
			continue;
		}
		int64_t to = jp->plan.to;
		if (to < hw)
			j->more = true;
		jp->batch_base = jp->plan.batch_base;
		jp->batch_append = jp->plan.batch_append;
		jp->nbatches = jp->plan.nbatches;
		jp->plan.batch_base = jp->plan.batch_append = NULL; /* now the job part's */
		if (to > hw)
			to = hw;
		if (to <= from) {
			br_read_plan_free(&jp->plan);
			free(jp->batch_base);
			free(jp->batch_append);
			memset(jp, 0, sizeof *jp);
			continue;
		}
		jp->p = p;
		jp->from = from;
		jp->to = to;
		j->frontier[p] = to;
		j->njparts++;
	}
	if (!j->njparts && !moved) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* Reads the DLQ written after the table's last commit (from its braid.dlq.end)
 * and records, per source partition, the highest offset of this topic already
 * dead-lettered: those records are past the frontier but must not be
 * dead-lettered twice after a crash between the DLQ append and the commit.
 * Cost: one pass over the DLQ records appended since that commit. */
static void read_dlq_tail(br_tier *t, tstate *s, const char *topic, const char *dlq_topic, int32_t nparts)
{
	free(s->dlq_done);
	s->ndlq = nparts;
	s->dlq_done = br_xmalloc((size_t)BR_MAX(nparts, 1) * sizeof *s->dlq_done);
	for (int32_t i = 0; i < nparts; i++)
		s->dlq_done[i] = -1;
	br_topic *dt = br_log_topic(t->log, dlq_topic, strlen(dlq_topic));
	if (!dt)
		return;
	br_partition *dp = br_topic_partition(dt, 0);
	int64_t from = BR_MAX(s->dlq_end, br_partition_start_offset(dp)), end = br_partition_end_offset(dp);
	br_buf buf = { 0 };
	size_t tl = strlen(topic);
	int64_t seen = 0;
	while (from < end) {
		br_err err = { 0 };
		br_buf_reset(&buf);
		if (br_partition_read(dp, from, 8 << 20, BR_READ_UNCOMMITTED | BR_READ_AT_LEAST_ONE, &buf, &err) ||
		    !buf.len) {
			if (err.msg[0])
				br_warn("tier: reading dead letters of %s at %" PRId64 ": %s", dlq_topic, from, err.msg);
			break;
		}
		br_rb_iter it;
		br_rb_iter_init(&it, buf.p, buf.len, MAX_UNCOMPRESSED, BR_RB_SKIP_CRC | BR_RB_PARTIAL_TAIL);
		br_record r;
		int64_t next = from;
		while (br_rb_iter_next(&it, &r, &err) == 1) {
			next = r.offset + 1;
			if (r.offset < from)
				continue;
			size_t pos = 0;
			br_rec_header h;
			bool mine = false;
			int64_t sp = -1, so = -1;
			while (br_record_header_next(&r, &pos, &h)) {
				char v[32] = "";
				if (h.value && h.value_len > 0 && h.value_len < (int32_t)sizeof v)
					memcpy(v, h.value, (size_t)h.value_len);
				if (h.key_len == 18 && !memcmp(h.key, "braid.source.topic", 18))
					mine = h.value && (size_t)h.value_len == tl && !memcmp(h.value, topic, tl);
				else if (h.key_len == 22 && !memcmp(h.key, "braid.source.partition", 22))
					sp = strtoll(v, NULL, 10);
				else if (h.key_len == 19 && !memcmp(h.key, "braid.source.offset", 19))
					so = strtoll(v, NULL, 10);
			}
			if (mine && sp >= 0 && sp < nparts && so > s->dlq_done[sp]) {
				s->dlq_done[sp] = so;
				seen++;
			}
		}
		br_rb_iter_free(&it);
		if (next <= from)
			break;
		from = next;
	}
	br_buf_free(&buf);
	if (seen)
		br_info("tier: %s: %" PRId64 " dead letter(s) in %s were written after the last commit; not writing them again",
			topic, seen, dlq_topic);
}

/* Appends a job's dead letters to the DLQ topic (loop thread). */
static int append_dead(br_tier *t, job *j, int64_t now)
{
	br_topic *dt = br_log_topic(t->log, j->dlq_topic, strlen(j->dlq_topic));
	if (!dt) {
		int rc = br_log_create_topic(t->log, j->dlq_topic, 1, NULL, 0, &j->err);
		if (rc && rc != BR_EEXIST)
			return br_errctx(&j->err, "creating dead-letter topic %s", j->dlq_topic);
		br_info("tier: created dead-letter topic %s", j->dlq_topic);
		dt = br_log_topic(t->log, j->dlq_topic, strlen(j->dlq_topic));
		if (!dt)
			return br_errf(&j->err, BR_EIO, "dead-letter topic %s vanished", j->dlq_topic);
	}
	br_partition *dp = br_topic_partition(dt, 0);
	br_append_result res;
	memset(&res, 0, sizeof res);
	int rc = br_partition_append(dp, j->dlq.p, j->dlq.len, now, &res, &j->err);
	if (!rc && res.status != BR_APPEND_OK)
		rc = br_errf(&j->err, BR_EIO, "%s", res.msg);
	if (rc)
		return br_errctx(&j->err, "appending dead letters of %s to %s", j->topic, j->dlq_topic);
	j->dlq_end = br_partition_end_offset(dp);
	j->dlq_seq = br_log_write_seq(t->log);
	return 0;
}

/* Makes the per-partition counters hold n partitions. */
static void stats_grow(tstate *s, int32_t n)
{
	if (n <= s->nstats)
		return;
	s->ptiered = br_xrealloc(s->ptiered, (size_t)n * sizeof *s->ptiered);
	s->pdead = br_xrealloc(s->pdead, (size_t)n * sizeof *s->pdead);
	for (int32_t i = s->nstats; i < n; i++)
		s->ptiered[i] = s->pdead[i] = 0;
	s->nstats = n;
}

/* Applies a job's outcome to the topic's state. Returns 1 when the job was
 * kept (waiting for its dead letters to become durable), else 0. *appended is
 * set when the log was written. */
static int finish(br_tier *t, job *j, int64_t now, bool *appended)
{
	tstate *s = br_map_gets(&t->topics, j->topic);
	if (!s)
		return 0;
	if (!j->rc && j->kind == JOB_TIER && j->phase == PHASE_DLQ) {
		if (!(j->rc = append_dead(t, j, now))) {
			*appended = true;
			j->next = t->waiting;
			t->waiting = j;
			return 1;
		}
	}
	s->busy = false;
	if (j->rc) {
		/* back-off doubles up to a minute: a lasting problem (bad schema config,
		 * full disk) is retried and reported without flooding the log */
		int64_t wait = RETRY_MS << BR_MIN(s->fails, 6);
		s->fails++;
		br_warn("tier: %s: %s (retrying in %" PRId64 " ms)", j->topic, j->err.msg, wait);
		s->ready = false;
		s->retry_after_ms = now + wait;
		return 0;
	}
	s->fails = 0;
	if (j->kind == JOB_INIT) {
		free(s->frontier);
		s->frontier = j->loaded;
		s->n = j->nloaded;
		j->loaded = NULL;
		for (int32_t i = 0; i < s->n; i++)
			if (s->frontier[i] < 0)
				s->frontier[i] = 0;
		s->tot_tiered = j->tot_tiered;
		s->tot_dead = j->tot_dead;
		s->dlq_end = j->dlq_end;
		br_topic *tp = br_log_topic(t->log, j->topic, strlen(j->topic));
		if (j->mode == MODE_JSON && tp)
			read_dlq_tail(t, s, j->topic, j->dlq_topic, br_topic_partition_count(tp));
		s->ready = true;
		s->last_commit_ms = now;
		char *fr = br_tier_frontier_format(s->frontier, s->n);
		br_info("tier: topic %s resumes at frontier {%s}", j->topic, fr);
		free(fr);
		return 0;
	}
	memcpy(s->frontier, j->frontier, (size_t)j->nparts * sizeof *s->frontier);
	stats_grow(s, s->n);
	for (int32_t p = 0; p < j->nparts && p < s->n; p++) {
		s->ptiered[p] += j->prows[p];
		s->pdead[p] += j->pdead[p];
	}
	s->commits++;
	for (size_t i = 0; i < j->nfiles; i++)
		s->bytes_written += j->files[i].file_size;
	s->last_commit_wall_ms = br_now_ms();
	s->behind = j->more;
	s->dlq_end = j->dlq_end;
	s->tiered += j->rows;
	s->dead += j->dead;
	s->tot_tiered += j->rows;
	s->tot_dead += j->dead;
	s->last_commit_ms = now;
	br_debug("tier: %s: committed %" PRId64 " rows, %" PRId64 " dead letters", j->topic, j->rows, j->dead);
	return 0;
}

int br_tier_poll(br_tier *t, int64_t now)
{
	pthread_mutex_lock(&t->mu);
	job *done = t->done;
	t->done = NULL;
	pthread_mutex_unlock(&t->mu);
	bool appended = false;
	while (done) {
		job *j = done;
		done = j->next;
		if (!finish(t, j, now, &appended))
			job_free(j);
	}
	/* dead letters durable: the commit whose frontier passes them may go */
	for (job **pp = &t->waiting; *pp;) {
		job *j = *pp;
		if (br_log_durable_seq(t->log) >= j->dlq_seq) {
			*pp = j->next;
			j->phase = PHASE_COMMIT;
			submit(t, j);
		} else
			pp = &j->next;
	}
	br_topic **tps;
	size_t nt = br_log_topics(t->log, &tps);
	for (size_t i = 0; i < nt; i++) {
		br_topic *tp = tps[i];
		const char *name = br_topic_name(tp);
		tstate *s = br_map_gets(&t->topics, name);
		int mode = topic_mode(tp);
		if (mode < 0) {
			if (s && !s->warned_mode)
				br_warn("tier: topic %s: unknown braid.lake.mode \"%s\" (off, key_value, json); not tiered",
					name, br_topic_config(tp, "braid.lake.mode", NULL));
			if (s)
				s->warned_mode = true;
			mode = MODE_OFF;
		}
		if (mode == MODE_OFF)
			continue;
		if (!s) {
			s = br_xcalloc(1, sizeof *s);
			s->dlq_end = -1;
			br_map_put(&t->topics, name, strlen(name), s);
		}
		if (s->busy || now < s->retry_after_ms)
			continue;
		if (!s->ready) {
			s->busy = true;
			submit(t, job_new(JOB_INIT, tp, mode));
			continue;
		}
		int64_t interval = cfg_num(tp, "braid.lake.commit.interval.ms", DEFAULT_INTERVAL_MS, false);
		int64_t bytes_due = cfg_num(tp, "braid.lake.commit.bytes", DEFAULT_COMMIT_BYTES, true);
		int64_t pending = 0;
		bool any = false;
		int32_t np = br_topic_partition_count(tp);
		for (int32_t p = 0; p < np; p++) {
			br_partition *pp = br_topic_partition(tp, p);
			int64_t f = p < s->n ? s->frontier[p] : 0;
			if (f < br_partition_high_watermark(pp)) {
				any = true;
				pending += br_partition_bytes_after(pp, f);
			}
		}
		/* catching up (the last job was cut by its byte budget): the next job
		 * starts at once rather than after the commit interval */
		if (!any || (now - s->last_commit_ms < interval && pending < bytes_due && !s->behind))
			continue;
		job *j = build_job(t, s, tp, mode);
		if (j) {
			s->busy = true;
			submit(t, j);
		}
	}
	free(tps);
	/* forget deleted topics (their tables stay in the lake); O(tiered topics) */
	br_map_slot *sl;
	for (size_t i = 0; br_map_next(&t->topics, &i, &sl);) {
		tstate *s = sl->val;
		if (s->busy || br_log_topic(t->log, sl->key, sl->klen))
			continue;
		br_map_del(&t->topics, sl->key, sl->klen); /* leaves a tombstone: iteration goes on */
		free(s->frontier);
		free(s->dlq_done);
		free(s->ptiered);
		free(s->pdead);
		free(s);
	}
	return appended ? 1 : 0;
}

bool br_tier_counts(br_tier *t, const char *topic, int64_t *tiered, int64_t *dead_lettered)
{
	tstate *s = br_map_gets(&t->topics, topic);
	if (!s)
		return false;
	*tiered = s->tiered;
	*dead_lettered = s->dead;
	return true;
}

bool br_tier_stats_get(br_tier *t, const char *topic, br_tier_stats *out)
{
	tstate *s = t ? br_map_gets(&t->topics, topic) : NULL;
	if (!s)
		return false;
	stats_grow(s, s->n);
	*out = (br_tier_stats){ .ready = s->ready, .nparts = s->n, .frontier = s->frontier, .tiered = s->ptiered,
				.dead = s->pdead, .commits = s->commits, .bytes_written = s->bytes_written,
				.last_commit_ms = s->last_commit_wall_ms };
	return true;
}

void br_tier_close(br_tier *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	if (t->enc.started) {
		pthread_mutex_lock(&t->enc.mu);
		t->enc.stop = true;
		pthread_cond_broadcast(&t->enc.cv);
		pthread_mutex_unlock(&t->enc.mu);
		pthread_join(t->enc.thread, NULL);
	}
	pthread_mutex_destroy(&t->enc.mu);
	pthread_cond_destroy(&t->enc.cv);
	pool_stop(t);
	/* Without tiering the lake frontier is unknown: a retention check that
	 * still runs (the broker's loop turns once more while it shuts down) must
	 * keep every segment of a tiered topic, not delete what the lake lacks. */
	br_log_set_retention_guard(t->log, retain_all, NULL);
	br_log_set_config_guard(t->log, NULL, NULL);
	job *lists[3] = { t->queue, t->done, t->waiting };
	for (int k = 0; k < 3; k++)
		while (lists[k]) {
			job *j = lists[k];
			lists[k] = j->next;
			job_free(j);
		}
	br_map_slot *sl;
	for (size_t i = 0; br_map_next(&t->topics, &i, &sl);) {
		tstate *s = sl->val;
		free(s->frontier);
		free(s->dlq_done);
		free(s->ptiered);
		free(s->pdead);
		free(s);
	}
	br_map_free(&t->topics);
	for (size_t i = 0; br_map_next(&t->tables, &i, &sl);)
		br_ice_table_free(sl->val);
	br_map_free(&t->tables);
	br_lake_close(t->lake);
	br_tjson_free(t->json);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t->data_dir);
	free(t);
}
