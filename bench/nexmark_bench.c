/* nexmark_bench.c — Nexmark queries as SQL views over braid's generator
 * (src/gen/nexmark.h), in process: events/s of the whole SQL path (binder-
 * built circuits, the watermark tracker of br_sql_ingest, window operators,
 * view integration), one query per run.
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -o build/bench/nexmark_bench bench/nexmark_bench.c build/libbraid.a \
 *      $(pkg-config --libs jansson libxxhash libpg_query) -lm
 *   build/bench/nexmark_bench QUERY [events 2000000] [emit changelog|on_window_close]
 *
 * Tables persons / auctions / bids with Nexmark's columns, event_time =
 * date_time, watermark_delay = '4 seconds' (Nexmark's DDL). The generator
 * makes $RATE (10,000) events per second of event time (persons:auctions:bids
 * = 1:3:46; 2M events = 200 s = 20 tumbling windows), fed in batches of 10,000 events (one br_sql_ingest per table and
 * batch, which also moves the watermark and closes windows). The tables do
 * not keep rows (a catalog whose apply is a no-op, as a topic-backed table's
 * rows live in the log): what is measured is the views.
 *
 * QUERY: q5 (hot items, HOP 2 s / 10 s, window join with the per-window max),
 * q7 (highest bid: bids interval-joined with the max of their 10 s window),
 * q8 (new users: TUMBLE 10 s persons window-joined with auctions),
 * q11 (user sessions, SESSION gap 10 s per bidder),
 * q12 (bids per bidder per 10 s window; Nexmark uses processing time, here
 * event time: the in-process path has no broker append time),
 * tumble (count per auction, TUMBLE 10 s), hop (avg price per auction,
 * HOP 2 s / 10 s), session (= q11), ijoin (bids ⋈ auctions on id with
 * bid.date_time BETWEEN auction.date_time AND + 10 s).
 * Prints one JSON line: events/s by wall clock and by process CPU time (the
 * machine is shared: compare CPU rates), output rows (changes emitted), the
 * view's final row count and resident memory. Single-threaded: braid steps
 * views on one thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "gen/nexmark.h"
#include "sql/sql.h"
#include "sql/window.h"

static double now_s(int clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double rss_mb(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (double)res * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

/* ------------------------------------------ a catalog that keeps no rows */

typedef struct sinkcat {
	br_catalog base;
	br_catalog *mem;
} sinkcat;

static br_catalog *mem_of(br_catalog *c) { return ((sinkcat *)c)->mem; }
static int sk_create(br_catalog *c, const br_sql_table *def, br_err *err)
{
	return mem_of(c)->vt->create(mem_of(c), def, err);
}
static int sk_drop(br_catalog *c, const char *name, br_err *err) { return mem_of(c)->vt->drop(mem_of(c), name, err); }
static const br_sql_table *sk_find(br_catalog *c, const char *name) { return mem_of(c)->vt->find(mem_of(c), name); }
static int sk_scan(br_catalog *c, const char *name, br_batch *out, br_err *err)
{
	return mem_of(c)->vt->scan(mem_of(c), name, out, err);
}
static int sk_apply(br_catalog *c, const char *name, const br_batch *delta, br_err *err) { return 0; }
static void sk_free(br_catalog *c)
{
	mem_of(c)->vt->free(mem_of(c));
	free(c);
}
static const br_catalog_vt sink_vt = { sk_create, sk_drop, sk_find, sk_scan, sk_apply, sk_free,
				       NULL, NULL, NULL, NULL };

/* ------------------------------------------------------------- queries */

static const struct {
	const char *name, *sql;
} queries[] = {
	{ "q5",
	  "SELECT AuctionBids.auction, AuctionBids.num, AuctionBids.starttime FROM "
	  "(SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime "
	  " FROM HOP(bids, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) "
	  " GROUP BY auction, window_start, window_end) AS AuctionBids "
	  "JOIN (SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime FROM "
	  " (SELECT count(*) AS num, window_start AS starttime, window_end AS endtime "
	  "  FROM HOP(bids, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) "
	  "  GROUP BY auction, window_start, window_end) AS CountBids "
	  " GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids "
	  "ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime "
	  "AND AuctionBids.num >= MaxBids.maxn" },
	{ "q7",
	  "SELECT B.auction, B.price, B.bidder, B.date_time FROM bids AS B "
	  "JOIN (SELECT max(price) AS maxprice, window_end AS date_time "
	  " FROM TUMBLE(bids, date_time, INTERVAL '10' SECOND) GROUP BY window_start, window_end) AS B1 "
	  "ON B.price = B1.maxprice "
	  "WHERE B.date_time BETWEEN B1.date_time - INTERVAL '10' SECOND AND B1.date_time" },
	{ "q8",
	  "SELECT P.id, P.name, P.starttime FROM "
	  "(SELECT id, name, window_start AS starttime, window_end AS endtime "
	  " FROM TUMBLE(persons, date_time, INTERVAL '10' SECOND) GROUP BY id, name, window_start, window_end) AS P "
	  "JOIN (SELECT seller, window_start AS starttime, window_end AS endtime "
	  " FROM TUMBLE(auctions, date_time, INTERVAL '10' SECOND) GROUP BY seller, window_start, window_end) AS A "
	  "ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime" },
	{ "q11",
	  "SELECT bidder, count(*) AS bid_count, window_start, window_end "
	  "FROM SESSION(bids, date_time, INTERVAL '10' SECOND, bidder) GROUP BY bidder, window_start, window_end" },
	{ "q12",
	  "SELECT bidder, count(*) AS bid_count, window_start, window_end "
	  "FROM TUMBLE(bids, date_time, INTERVAL '10' SECOND) GROUP BY bidder, window_start, window_end" },
	{ "tumble",
	  "SELECT auction, count(*) AS n, window_start, window_end "
	  "FROM TUMBLE(bids, date_time, INTERVAL '10' SECOND) GROUP BY auction, window_start, window_end" },
	{ "hop",
	  "SELECT auction, avg(price) AS avg_price, window_start, window_end "
	  "FROM HOP(bids, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) GROUP BY auction, window_start, window_end" },
	{ "session",
	  "SELECT bidder, count(*) AS n, window_start, window_end "
	  "FROM SESSION(bids, date_time, INTERVAL '10' SECOND, bidder) GROUP BY bidder, window_start, window_end" },
	{ "ijoin",
	  "SELECT B.auction, B.price, A.seller, B.date_time FROM bids AS B JOIN auctions AS A ON B.auction = A.id "
	  "WHERE B.date_time BETWEEN A.date_time AND A.date_time + INTERVAL '10' SECOND" },
};

static const char *ddl =
	"CREATE TABLE persons(id bigint, name text, email text, city text, state text, date_time timestamp) "
	" WITH (event_time = 'date_time', watermark_delay = '4 seconds');"
	"CREATE TABLE auctions(id bigint, item_name text, seller bigint, category bigint, initial_bid bigint, "
	" reserve bigint, date_time timestamp, expires timestamp) "
	" WITH (event_time = 'date_time', watermark_delay = '4 seconds');"
	"CREATE TABLE bids(auction bigint, bidder bigint, price bigint, channel text, date_time timestamp) "
	" WITH (event_time = 'date_time', watermark_delay = '4 seconds')";

static int64_t out_rows;
static void on_delta(void *arg, const char *view, const br_batch *delta) { out_rows += delta->nrows; }

static br_value S(const char *s) { return br_value_bytes(BR_T_STRING, s, strlen(s)); }
static br_value L(int64_t x) { return br_value_i64(BR_T_LONG, x); }
static br_value T(int64_t ms) { return br_value_i64(BR_T_TIMESTAMP, ms * 1000); }

int main(int argc, char **argv)
{
	const char *qname = argc > 1 ? argv[1] : "q5";
	int64_t n = argc > 2 ? atoll(argv[2]) : 2000000;
	const char *emit = argc > 3 ? argv[3] : "changelog";
	const char *sql = NULL;
	for (size_t i = 0; i < sizeof queries / sizeof *queries; i++)
		if (!strcmp(queries[i].name, qname))
			sql = queries[i].sql;
	if (!sql || n <= 0 || (strcmp(emit, "changelog") && strcmp(emit, "on_window_close"))) {
		fprintf(stderr, "usage: nexmark_bench q5|q7|q8|q11|q12|tumble|hop|session|ijoin [events] "
				"[changelog|on_window_close]\n");
		return 2;
	}
	sinkcat *cat = br_xcalloc(1, sizeof *cat);
	cat->base.vt = &sink_vt;
	cat->mem = br_catalog_mem_new();
	br_sql *s = br_sql_open(&cat->base);
	br_err err = { 0 };
	char *view = br_xasprintf("CREATE MATERIALIZED VIEW v WITH (emit = '%s') AS %s", emit, sql);
	if (br_sql_exec(s, ddl, NULL, &err) || br_sql_exec(s, view, NULL, &err)) {
		fprintf(stderr, "nexmark_bench: %s\n", err.msg);
		return 1;
	}
	free(view);
	br_sql_set_view_listener(s, on_delta, NULL);
	const char *tabs[3] = { "persons", "auctions", "bids" };
	br_batch b[3];
	for (int t = 0; t < 3; t++)
		br_batch_init(&b[t], br_sql_catalog(s)->vt->find(br_sql_catalog(s), tabs[t])->rowtype, true);
	br_nx_gen g;
	int64_t rate = getenv("RATE") ? atoll(getenv("RATE")) : 10000;
	br_nx_init(&g, 42, 1700000000000LL, rate > 0 ? rate : 10000);
	const int64_t BATCH = 10000;
	double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
	for (int64_t i = 0; i < n; i++) {
		br_nx_event e;
		br_nx_next(&g, &e);
		if (e.kind == BR_NX_PERSON) {
			br_value r[6] = { L(e.id), S(e.name), S(e.email), S(e.city), S(e.state), T(e.date_time) };
			br_batch_append_row(&b[0], r, 1);
		} else if (e.kind == BR_NX_AUCTION) {
			br_value r[8] = { L(e.id), S(e.item_name), L(e.seller), L(e.category), L(e.initial_bid),
					  L(e.reserve), T(e.date_time), T(e.expires) };
			br_batch_append_row(&b[1], r, 1);
		} else {
			br_value r[5] = { L(e.auction), L(e.bidder), L(e.price), S(e.channel), T(e.date_time) };
			br_batch_append_row(&b[2], r, 1);
		}
		if ((i + 1) % BATCH && i + 1 != n)
			continue;
		for (int t = 0; t < 3; t++) {
			if (br_sql_ingest(s, tabs[t], 0, &b[t], NULL, NULL, NULL, &err)) {
				fprintf(stderr, "nexmark_bench: %s\n", err.msg);
				return 1;
			}
			br_batch_reset(&b[t]);
		}
	}
	double wall = now_s(CLOCK_MONOTONIC) - t0, cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	br_sql_result r = { 0 };
	if (br_sql_exec(s, "SELECT count(*) FROM v", &r, &err)) {
		fprintf(stderr, "nexmark_bench: %s\n", err.msg);
		return 1;
	}
	br_value cnt;
	br_batch_get_row(&r.rows, 0, &cnt);
	char *plan = NULL;
	bool windowed = !br_sql_explain_view(s, "v", &plan, &err) &&
			(strstr(plan, "window ") || strstr(plan, "interval join") || strstr(plan, "session"));
	printf("{\"query\":\"%s\",\"emit\":\"%s\",\"events\":%" PRId64 ",\"events_per_s\":%.0f,\"events_per_cpu_s\":%.0f,"
	       "\"output_changes\":%" PRId64 ",\"view_rows\":%" PRId64 ",\"rss_mb\":%.1f,\"window_operators\":%s}\n",
	       qname, emit, n, (double)n / wall, (double)n / cpu, out_rows, cnt.v.i64, rss_mb(), windowed ? "true" : "false");
	if (getenv("EXPLAIN"))
		fprintf(stderr, "%s", plan);
	free(plan);
	br_sql_result_free(&r);
	for (int t = 0; t < 3; t++)
		br_batch_free(&b[t]);
	br_sql_close(s);
	return 0;
}
