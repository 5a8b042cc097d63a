/* sql_bench.c — braid's side of the SQL benchmark (bench/sql_bench.mjs runs it
 * beside DuckDB): a join + group-by materialized view over Nexmark-like bids and
 * auctions, kept current under small deltas, and the same query as one batch.
 *   sql_bench gen DIR BIDS        write DIR/bids.parquet (BIDS rows) and
 *                                 DIR/auctions.parquet (BIDS/10 rows), zstd
 *   sql_bench incr DIR DELTAS N   load both files, create the view, then apply
 *                                 DELTAS deltas of N bid rows (90% inserts, 10%
 *                                 deletes of loaded bids); prints JSON timings
 *   sql_bench batch DIR           load both files and run the query once
 * Single-threaded; every figure is wall time of this process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "flow/flow.h"
#include "parquet/parquet.h"
#include "sql/sql.h"

#define VIEW_SQL                                                                                               \
	"SELECT a.category, count(*) AS bids, sum(b.price) AS volume, max(b.price) AS top "                   \
	"FROM bids b JOIN auctions a ON b.auction = a.id GROUP BY a.category"

static const char *bids_schema =
	"{\"type\":\"struct\",\"fields\":["
	"{\"id\":1,\"name\":\"auction\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"bidder\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":3,\"name\":\"price\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":4,\"name\":\"channel\",\"required\":true,\"type\":\"string\"}]}";
static const char *auctions_schema =
	"{\"type\":\"struct\",\"fields\":["
	"{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"seller\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":3,\"name\":\"category\",\"required\":true,\"type\":\"long\"}]}";

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static inline uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int fail(const br_err *err)
{
	fprintf(stderr, "sql_bench: %s\n", err->msg);
	return 1;
}

static double now_s(void) { return (double)br_mono_ns() / 1e9; }

/* CPU time of this thread: on a shared machine a delta's wall time includes
 * the moments another process had the core; its CPU time does not. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void gen_bid(br_batch *b, int64_t nauctions, int64_t w)
{
	static const char *channels[] = { "Google", "Facebook", "Baidu", "Apple" };
	char s[32];
	br_col_append_i64(&b->cols[0], (int64_t)(rnd() % (uint64_t)nauctions));
	br_col_append_i64(&b->cols[1], 1000 + (int64_t)(rnd() % 100000));
	br_col_append_i64(&b->cols[2], 100 + (int64_t)(rnd() % 1000000));
	uint64_t c = rnd() % 100;
	int n = c < 90 ? snprintf(s, sizeof s, "%s", channels[c % 4]) : snprintf(s, sizeof s, "ch-%d", (int)(c % 10));
	br_col_append_bytes(&b->cols[3], s, (size_t)n);
	br_batch_row_done(b, w);
}

static int write_file(const char *path, const char *schema_json, int64_t rows, int64_t nauctions, bool bids)
{
	br_err err = { 0 };
	br_schema *s;
	if (br_schema_parse(schema_json, strlen(schema_json), &s, &err))
		return fail(&err);
	br_pq_options o;
	br_pq_options_default(&o);
	o.fsync = false;
	br_pq_writer *w;
	if (br_pq_writer_open(path, s, &o, &w, &err))
		return fail(&err);
	br_batch b;
	br_batch_init(&b, s->root, false);
	for (int64_t i = 0; i < rows; i += 65536) {
		br_batch_reset(&b);
		for (int64_t j = i; j < BR_MIN(rows, i + 65536); j++) {
			if (bids) {
				gen_bid(&b, nauctions, 1);
				continue;
			}
			br_col_append_i64(&b.cols[0], j);
			br_col_append_i64(&b.cols[1], (int64_t)(rnd() % 10000));
			br_col_append_i64(&b.cols[2], (int64_t)(rnd() % 50));
			br_batch_row_done(&b, 1);
		}
		if (br_pq_writer_write(w, &b, &err))
			return fail(&err);
	}
	br_pq_metrics m = { 0 };
	if (br_pq_writer_close(w, &m, &err))
		return fail(&err);
	br_pq_metrics_free(&m);
	br_batch_free(&b);
	br_schema_free(s);
	return 0;
}

static int cmd_gen(const char *dir, int64_t bids)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/auctions.parquet", dir);
	if (write_file(p, auctions_schema, bids / 10, 0, false))
		return 1;
	snprintf(p, sizeof p, "%s/bids.parquet", dir);
	return write_file(p, bids_schema, bids, bids / 10, true);
}

/* Streams a Parquet file into a table; keeps up to *nkeep of the first rows in
 * keep (for later deletes). Returns the number of rows loaded, -1 on error. */
static int64_t load(br_sql *s, const char *dir, const char *table, br_batch *keep, int64_t nkeep)
{
	char p[4096];
	br_err err = { 0 };
	snprintf(p, sizeof p, "%s/%s.parquet", dir, table);
	br_pq_reader *r;
	if (br_pq_reader_open(p, &r, &err))
		return fail(&err), -1;
	br_pq_reader_set_batch_rows(r, 65536);
	int64_t n = 0;
	br_batch b = { 0 };
	int rc;
	while ((rc = br_pq_reader_next(r, &b, &err)) == 1) {
		if (br_sql_apply(s, table, &b, &err))
			break;
		for (int64_t i = 0; keep && i < b.nrows && keep->nrows < nkeep; i++) {
			br_value v[4];
			br_batch_get_row(&b, i, v);
			br_batch_append_row(keep, v, -1);
		}
		n += b.nrows;
	}
	br_batch_free(&b);
	if (rc != 0) {
		br_pq_reader_close(r);
		return fail(&err), -1;
	}
	br_pq_reader_close(r);
	return n;
}

static br_sql *open_tables(br_err *err)
{
	br_sql *s = br_sql_open(NULL);
	if (br_sql_exec(s,
			"CREATE TABLE bids (auction BIGINT, bidder BIGINT, price BIGINT, channel TEXT);"
			"CREATE TABLE auctions (id BIGINT, seller BIGINT, category BIGINT)",
			NULL, err)) {
		br_sql_close(s);
		return NULL;
	}
	return s;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The view's totals, to check against DuckDB's answer on the same data. */
static int totals(br_sql *s, const char *from, int64_t *bids, int64_t *volume, int64_t *groups)
{
	char q[256];
	snprintf(q, sizeof q, "SELECT count(*), sum(bids), sum(volume) FROM %s", from);
	br_sql_result r = { 0 };
	br_err err = { 0 };
	if (br_sql_exec(s, q, &r, &err))
		return fail(&err);
	br_value v[3];
	br_batch_get_row(&r.rows, 0, v);
	*groups = v[0].v.i64;
	*bids = v[1].v.i64;
	*volume = v[2].v.i64;
	br_sql_result_free(&r);
	return 0;
}

static int cmd_incr(const char *dir, int ndeltas, int nrows)
{
	br_err err = { 0 };
	br_sql *s = open_tables(&err);
	if (!s)
		return fail(&err);
	const br_sql_table *bt = br_sql_catalog(s)->vt->find(br_sql_catalog(s), "bids");
	br_batch keep;
	br_batch_init(&keep, bt->rowtype, true);
	int64_t ndel = (int64_t)ndeltas * nrows / 10;
	double t0 = now_s();
	int64_t na = load(s, dir, "auctions", NULL, 0), nb = load(s, dir, "bids", &keep, ndel);
	if (na < 0 || nb < 0)
		return 1;
	double t1 = now_s();
	if (br_sql_exec(s, "CREATE MATERIALIZED VIEW v AS " VIEW_SQL, NULL, &err))
		return fail(&err);
	double t2 = now_s();
	int64_t b0, v0, g0;
	if (totals(s, "v", &b0, &v0, &g0))
		return 1;
	double *dt = br_xcalloc((size_t)ndeltas, sizeof *dt), *dc = br_xcalloc((size_t)ndeltas, sizeof *dc);
	br_batch d;
	br_batch_init(&d, bt->rowtype, true);
	int64_t next_del = 0;
	fprintf(stderr, "sql_bench: deltas start\n"); /* a mark for profilers */
	for (int i = 0; i < ndeltas; i++) {
		br_batch_reset(&d);
		int dels = nrows / 10;
		for (int j = 0; j < dels && next_del < keep.nrows; j++, next_del++) {
			br_value v[4];
			br_batch_get_row(&keep, next_del, v);
			br_batch_append_row(&d, v, -1);
		}
		for (int j = d.nrows; j < nrows; j++)
			gen_bid(&d, na, 1);
		double a = now_s(), ac = cpu_s();
		if (br_sql_apply(s, "bids", &d, &err))
			return fail(&err);
		dt[i] = now_s() - a;
		dc[i] = cpu_s() - ac;
	}
	int64_t b1, v1, g1;
	if (totals(s, "v", &b1, &v1, &g1))
		return 1;
	qsort(dt, (size_t)ndeltas, sizeof *dt, cmp_d);
	qsort(dc, (size_t)ndeltas, sizeof *dc, cmp_d);
	printf("{\"auctions\":%lld,\"bids\":%lld,\"load_s\":%.3f,\"view_s\":%.3f,\"deltas\":%d,\"delta_rows\":%d,"
	       "\"delta_p50_ms\":%.3f,\"delta_p99_ms\":%.3f,\"delta_max_ms\":%.3f,"
	       "\"delta_cpu_p50_ms\":%.3f,\"delta_cpu_p99_ms\":%.3f,"
	       "\"groups\":%lld,\"view_bids\":%lld,\"view_volume\":%lld,\"final_bids\":%lld,\"final_volume\":%lld}\n",
	       (long long)na, (long long)nb, t1 - t0, t2 - t1, ndeltas, nrows, dt[ndeltas / 2] * 1e3,
	       dt[(ndeltas * 99) / 100] * 1e3, dt[ndeltas - 1] * 1e3, dc[ndeltas / 2] * 1e3,
	       dc[(ndeltas * 99) / 100] * 1e3, (long long)g0, (long long)b0, (long long)v0,
	       (long long)b1, (long long)v1);
	(void)g1;
	free(dt);
	free(dc);
	br_batch_free(&d);
	br_batch_free(&keep);
	br_sql_close(s);
	return 0;
}

static int cmd_batch(const char *dir)
{
	br_err err = { 0 };
	br_sql *s = open_tables(&err);
	if (!s)
		return fail(&err);
	double t0 = now_s();
	if (load(s, dir, "auctions", NULL, 0) < 0 || load(s, dir, "bids", NULL, 0) < 0)
		return 1;
	double t1 = now_s();
	br_sql_result r = { 0 };
	if (br_sql_exec(s, "SELECT count(*), sum(bids), sum(volume) FROM (" VIEW_SQL ") q", &r, &err))
		return fail(&err);
	double t2 = now_s();
	br_value v[3];
	br_batch_get_row(&r.rows, 0, v);
	printf("{\"load_s\":%.3f,\"query_s\":%.3f,\"total_s\":%.3f,\"groups\":%lld,\"bids\":%lld,\"volume\":%lld}\n",
	       t1 - t0, t2 - t1, t2 - t0, (long long)v[0].v.i64, (long long)v[1].v.i64, (long long)v[2].v.i64);
	br_sql_result_free(&r);
	br_sql_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "gen"))
		return cmd_gen(argv[2], atoll(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "incr"))
		return cmd_incr(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "batch"))
		return cmd_batch(argv[2]);
	fprintf(stderr, "usage: sql_bench gen DIR BIDS | incr DIR DELTAS ROWS | batch DIR\n");
	return 2;
}
