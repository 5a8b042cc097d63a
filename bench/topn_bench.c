/* topn_bench.c — incremental maintenance of one materialized view over an
 * in-memory table t(g, v, ts): N base rows in G groups, the view created
 * (backfill), then 100 deltas of 100 inserted rows, one INSERT statement each
 * (parse and bind included). Prints backfill time and the median and p99 time
 * per delta, in process CPU time: the machine is shared, and wall time there
 * measures the neighbours. Run the top-N view and a peer view (GROUP BY) in the
 * same session of runs and compare medians.
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -o build/bench/topn_bench bench/topn_bench.c build/libbraid.a \
 *      $(pkg-config --libs libuv libzstd liblz4 zlib jansson libxxhash openssl snappy sqlite3) -lpg_query -lm -lpthread
 *   build/bench/topn_bench 100000 1000 "SELECT g, v, rn FROM (SELECT g, v, row_number() OVER
 *      (PARTITION BY g ORDER BY v DESC) AS rn FROM t) s WHERE rn <= 3"
 *   build/bench/topn_bench 100000 1000 "SELECT g, count(*), max(v) FROM t GROUP BY g" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql/sql.h"

static double cpu_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One INSERT of n random rows into buf. */
static void rows_sql(char *buf, int n, int groups)
{
	size_t o = (size_t)sprintf(buf, "INSERT INTO t VALUES ");
	for (int i = 0; i < n; i++)
		o += (size_t)sprintf(buf + o, "%s(%d, %d, timestamp '2024-01-01' + %d * interval '1 second')", i ? "," : "",
				     rand() % groups, rand() % 1000000, rand() % 86400);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: topn_bench BASE_ROWS GROUPS VIEW_SELECT\n");
		return 2;
	}
	int base = atoi(argv[1]), groups = atoi(argv[2]);
	if (base < 0 || groups < 1)
		return 2;
	br_sql *s = br_sql_open(NULL);
	br_err err;
	char *buf = malloc(1 << 20);
	if (br_sql_exec(s, "CREATE TABLE t(g BIGINT, v BIGINT, ts TIMESTAMP)", NULL, &err))
		goto fail;
	srand(1);
	for (int done = 0; done < base; done += 1000) {
		rows_sql(buf, base - done < 1000 ? base - done : 1000, groups);
		if (br_sql_exec(s, buf, NULL, &err))
			goto fail;
	}
	snprintf(buf, 1 << 20, "CREATE MATERIALIZED VIEW v AS %s", argv[3]);
	double t0 = cpu_s();
	if (br_sql_exec(s, buf, NULL, &err))
		goto fail;
	double backfill = cpu_s() - t0, d[100];
	for (int k = 0; k < 100; k++) {
		rows_sql(buf, 100, groups);
		t0 = cpu_s();
		if (br_sql_exec(s, buf, NULL, &err))
			goto fail;
		d[k] = cpu_s() - t0;
	}
	qsort(d, 100, sizeof *d, cmpd);
	printf("base=%d groups=%d backfill=%.1f ms delta(100 rows): median %.2f ms, p99 %.2f ms (CPU)\n", base, groups,
	       backfill * 1e3, d[50] * 1e3, d[98] * 1e3);
	br_sql_close(s);
	free(buf);
	return 0;
fail:
	fprintf(stderr, "topn_bench: %s\n", err.msg);
	br_sql_close(s);
	free(buf);
	return 1;
}
