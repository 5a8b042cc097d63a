/* backfill_bench.c — braid's side of the backfill benchmark (bench/backfill_bench.mjs
 * runs it beside DuckDB): a group-by materialized view backfilled from the lake.
 *   backfill_bench gen DIR N   a data directory whose table t (id bigint, k bigint,
 *                              v bigint, name text) has N JSON records in its topic,
 *                              all tiered by the real tiering code (in process,
 *                              normal priority) into kafka.t; prints the Parquet files
 *   backfill_bench run DIR     open DIR as `braid sql` does (table t loads the lake
 *                              below the frontier: the seam), then CREATE MATERIALIZED
 *                              VIEW v AS SELECT k, count(*), sum(v) FROM t GROUP BY k;
 *                              prints JSON: seconds and CPU of each part, rows and bytes
 *                              read from the lake, the view's totals
 * Single thread for the backfill (tiering in gen uses its own threads). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "log/log.h"
#include "log/records.h"
#include "flow/flow.h"
#include "sql/sql.h"
#include "tier/tier.h"

#define VIEW_SQL "CREATE MATERIALIZED VIEW v AS SELECT k, count(*) AS n, sum(v) AS s FROM t GROUP BY k"
#define GROUPS 1000

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void) { return (double)br_mono_ns() / 1e9; }

static void die(const char *what, const br_err *e)
{
	fprintf(stderr, "backfill_bench: %s: %s\n", what, e->msg);
	exit(1);
}

static br_log *open_log(const char *dir)
{
	br_log_opts lo;
	br_log_opts_default(&lo);
	char *logdir = br_xasprintf("%s/log", dir);
	lo.dir = logdir;
	br_log *log;
	br_err e = { 0 };
	if (br_mkdirs(dir, &e) || br_log_open(&log, &lo, &e))
		die("log", &e);
	free(logdir);
	return log;
}

static int gen(const char *dir, int64_t n)
{
	br_log *log = open_log(dir);
	br_catalog *cat;
	br_err e = { 0 };
	if (br_catalog_topic_open(&cat, log, dir, &e))
		die("catalog", &e);
	br_sql *s = br_sql_open(cat);
	if (br_sql_exec(s, "CREATE TABLE t (id bigint, k bigint, v bigint, name text)", NULL, &e))
		die("create", &e);
	br_sql_close(s);
	br_partition *p = br_topic_partition(br_log_topic(log, "t", 1), 0);
	br_rb_opts o;
	br_rb_opts_default(&o);
	br_rb_builder b;
	br_buf bytes = { 0 };
	char v[128];
	uint64_t x = 1;
	for (int64_t i = 0; i < n;) {
		br_rb_builder_init(&b, &o);
		for (int k = 0; k < 4096 && i < n; k++, i++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			int len = snprintf(v, sizeof v, "{\"id\":%" PRId64 ",\"k\":%" PRIu64 ",\"v\":%" PRIu64
				       ",\"name\":\"n%" PRIu64 "\"}", i, (x >> 33) % GROUPS, (x >> 20) % 1000, (x >> 40) % 5000);
			br_rb_add(&b, 1700000000000 + i, NULL, -1, v, len, NULL, 0);
		}
		br_buf_reset(&bytes);
		br_append_result res = { 0 };
		if (br_rb_finish(&b, &bytes, &e) || br_partition_append(p, bytes.p, bytes.len, br_now_ms(), &res, &e))
			die("append", &e);
		br_rb_builder_free(&b);
	}
	br_buf_free(&bytes);
	if (br_partition_sync(p, &e))
		die("sync", &e);
	br_flush *fl = br_log_flush_begin(log); /* the index too: tiering's read plans stop at the synced index */
	if (fl) {
		br_log_flush_run(fl);
		if (br_log_flush_end(log, fl, &e))
			die("flush", &e);
	}
	br_tier_opts to = { .data_dir = dir, .priority = BR_TIER_NORMAL };
	br_tier *t;
	if (br_tier_open(&t, log, &to, &e))
		die("tier", &e);
	double t0 = wall_s();
	for (;;) {
		br_tier_poll(t, br_now_ms());
		int64_t *f = NULL, tiered = 0;
		int32_t nf = 0;
		br_err fe = { 0 };
		bool done = !br_tier_frontier_read(dir, "t", &f, &nf, &tiered, NULL, &fe) && nf >= 1 && f[0] >= n;
		free(f);
		if (done)
			break;
		if (wall_s() - t0 > 3600) {
			fprintf(stderr, "backfill_bench: tiering did not finish\n");
			return 1;
		}
		usleep(20000);
	}
	br_tier_close(t);
	br_log_close(log);
	fprintf(stderr, "gen: %" PRId64 " records tiered in %.1f s\n", n, wall_s() - t0);
	return 0;
}

static br_sql_progress lake;
static void on_progress(void *arg, const br_sql_progress *p)
{
	(void)arg;
	if (!strcmp(p->phase, "done") && !p->is_view)
		lake = *p;
}

static int run(const char *dir)
{
	double w0 = wall_s(), c0 = cpu_s();
	br_log *log = open_log(dir);
	br_catalog *cat;
	br_err e = { 0 };
	if (br_catalog_topic_open_progress(&cat, log, dir, on_progress, NULL, &e))
		die("catalog", &e);
	double w1 = wall_s(), c1 = cpu_s();
	br_sql *s = br_sql_open(cat);
	if (br_sql_exec(s, VIEW_SQL, NULL, &e))
		die("view", &e);
	double w2 = wall_s(), c2 = cpu_s();
	br_sql_result r = { 0 };
	if (br_sql_exec(s, "SELECT count(*), sum(n), sum(s) FROM v", &r, &e))
		die("select", &e);
	br_value row[3];
	br_batch_get_row(&r.rows, 0, row);
	printf("{\"load_s\":%.3f,\"load_cpu_s\":%.3f,\"view_s\":%.3f,\"view_cpu_s\":%.3f,\"total_s\":%.3f,"
	       "\"total_cpu_s\":%.3f,\"rows\":%" PRId64 ",\"lake_bytes_read\":%" PRId64 ",\"groups\":%" PRId64
	       ",\"count\":%" PRId64 ",\"sum\":%" PRId64 "}\n",
	       w1 - w0, c1 - c0, w2 - w1, c2 - c1, w2 - w0, c2 - c0, lake.rows_done, lake.bytes_done, row[0].v.i64,
	       row[1].v.i64, row[2].v.i64);
	br_sql_result_free(&r);
	fflush(stdout);
	if (getenv("BACKFILL_NO_FREE")) /* skip freeing 10M rows at exit (not part of the backfill) */
		_exit(0);
	br_sql_close(s);
	br_log_close(log);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "gen"))
		return gen(argv[2], strtoll(argv[3], NULL, 10));
	if (argc >= 3 && !strcmp(argv[1], "run"))
		return run(argv[2]);
	fprintf(stderr, "usage: backfill_bench gen DIR N | run DIR\n");
	return 2;
}
