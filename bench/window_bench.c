/* window_bench.c — event-time operators on generated Nexmark-like bids,
 * in memory (flow only, no broker): events/s and resident memory while the
 * input grows, to show that windows and interval joins release their state.
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Isrc -o build/bench/window_bench bench/window_bench.c build/libbraid.a \
 *      $(pkg-config --libs jansson libxxhash) -lm
 *   build/bench/window_bench MODE [events 20000000]
 *
 * MODE tumble: bids -> tracker (3 partitions, watermark delay 3 s) ->
 *   TUMBLE(10 s, or $TUMBLE_S s) -> GROUP BY window, auction: count, sum(price), max(price),
 *   emit on_window_close (the view's output is streamed out, not kept).
 * MODE hop: HOP(slide 2 s, size 10 s) -> GROUP BY window, auction: avg(price),
 *   on_window_close.
 * MODE session: SESSION(gap 1 s) per bidder (100,000 bidders) -> GROUP BY
 *   bidder, session: count(*), on_window_close.
 * MODE plain: the TUMBLE GROUP BY with flow's plain aggregate (no watermark,
 *   state kept forever): the peer that shows what release buys.
 * MODE join: bids interval-joined with auctions on auction id,
 *   bid.ts BETWEEN auction.ts AND auction.ts + 10 s.
 * Bids: 1,000 live auctions, broker append time advances 50 us per event
 * (20,000 events/s of log time), event time = append time - U(0, 2 s).
 * Batches of 10,000 events per step; the watermark moves after each step.
 * Prints a JSON line per 10% of the input (events, rss_mb) and a summary:
 * events/s (wall clock and process CPU time: the machine is shared), output
 * rows, rss after warm-up (10%) and at the end. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flow/time.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 12345;
static uint64_t rnd(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return rng >> 33;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "tumble";
	int64_t n = argc > 2 ? atoll(argv[2]) : 20000000;
	bool tumble = !strcmp(mode, "tumble"), plain = !strcmp(mode, "plain"), join = !strcmp(mode, "join");
	bool hop = !strcmp(mode, "hop"), session = !strcmp(mode, "session");
	if (n <= 0 || !(tumble || plain || join || hop || session)) {
		fprintf(stderr, "usage: window_bench tumble|hop|session|join|plain [events]\n");
		return 2;
	}
	const int64_t SEC = 1000000, BATCH = 10000, NP = 3;
	/* TUMBLE_S: the tumbling window (10 s); smaller windows reach their
	 * steady state sooner (the quick check in `make test` uses 1 s) */
	int64_t tumble_s = getenv("TUMBLE_S") ? atoll(getenv("TUMBLE_S")) : 10;
	if (tumble_s < 1)
		tumble_s = 10;
	br_time_opts o;
	br_time_opts_default(&o);
	strcpy(o.event_time, "ts");
	o.watermark_delay = 3 * SEC;
	br_wm_tracker t;
	br_wm_init(&t, &o, (int)NP);

	br_circuit c;
	br_circuit_init(&c);
	br_type_id ty[3] = { BR_T_LONG, BR_T_LONG, BR_T_LONG }; /* auction, ts, price */
	br_op *bids = br_op_input(&c, 3, ty), *auctions = NULL, *root;
	br_type_id aty[2] = { BR_T_LONG, BR_T_LONG }; /* id, ts */
	if (join) {
		auctions = br_op_input(&c, 2, aty);
		int k[1] = { 0 };
		root = br_op_interval_join(&c, bids, auctions, 1, k, k, 1, 1, 0, 10 * SEC, 0);
	} else if (hop) {
		br_op *w = br_op_window_assign(&c, bids, BR_WIN_HOP, 1, 10 * SEC, 2 * SEC, 0);
		int g[3] = { 3, 4, 0 };
		br_agg_spec a[1] = { { .kind = BR_AGG_AVG, .col = 2, .distinct = false, .type = BR_T_DOUBLE } };
		root = br_op_window_agg(&c, w, 3, 4, 3, g, 1, a, BR_EMIT_ON_WINDOW_CLOSE, 0);
	} else if (session) {
		int k[1] = { 0 };
		br_op *w = br_op_session(&c, bids, 1, 1 * SEC, 1, k, 0);
		int g[3] = { 0, 3, 4 };
		br_agg_spec a[1] = { { .kind = BR_AGG_COUNT_STAR, .col = -1, .distinct = false, .type = BR_T_LONG } };
		root = br_op_window_agg(&c, w, 3, 4, 3, g, 1, a, BR_EMIT_ON_WINDOW_CLOSE, 0);
	} else {
		br_op *w = br_op_window_assign(&c, bids, BR_WIN_TUMBLE, 1, tumble_s * SEC, 0, 0);
		int g[3] = { 3, 4, 0 };
		br_agg_spec a[3] = { { .kind = BR_AGG_COUNT_STAR, .col = -1, .distinct = false, .type = BR_T_LONG }, { .kind = BR_AGG_SUM, .col = 2, .distinct = false, .type = BR_T_LONG },
				     { .kind = BR_AGG_MAX, .col = 2, .distinct = false, .type = BR_T_LONG } };
		root = plain ? br_op_aggregate(&c, w, 3, g, 3, a)
			     : br_op_window_agg(&c, w, 3, 4, 3, g, 3, a, BR_EMIT_ON_WINDOW_CLOSE, 0);
	}
	br_batch b, ab;
	br_batch_init(&b, bids->out_type, true);
	if (join)
		br_batch_init(&ab, auctions->out_type, true);
	int64_t base = 1700000000LL * SEC, out_rows = 0, next_auction = 1000;
	double rss_warm = 0, rss_max = 0, t0 = now_s(), c0 = cpu_s();
	br_err err = { 0 };
	for (int64_t i = 0; i < n; i++) {
		int64_t app = base + i * 50, ev = app - (int64_t)(rnd() % (uint64_t)(2 * SEC));
		int p = (int)(i % NP);
		if (br_wm_observe(&t, p, false, ev, app, NULL) == BR_TIME_ON_TIME) {
			/* bids go to one of the 1,000 most recent auctions */
			int64_t key = session ? (int64_t)(rnd() % 100000) : next_auction - 1 - (int64_t)(rnd() % 1000);
			br_value row[3] = { br_value_i64(BR_T_LONG, key),
					    br_value_i64(BR_T_LONG, ev), br_value_i64(BR_T_LONG, (int64_t)(rnd() % 10000)) };
			br_batch_append_row(&b, row, 1);
		}
		if (join && i % 20 == 0) { /* a new auction every 20 bids (1 ms of log time) */
			br_value arow[2] = { br_value_i64(BR_T_LONG, next_auction++), br_value_i64(BR_T_LONG, app - 5 * SEC) };
			br_batch_append_row(&ab, arow, 1);
		}
		if ((i + 1) % BATCH == 0 || i + 1 == n) {
			if (br_circuit_feed(&c, bids, &b, &err) || (join && br_circuit_feed(&c, auctions, &ab, &err)) ||
			    (!plain && br_time_circuit_watermark(&c, br_wm_global(&t), &err)) || br_circuit_step(&c, &err)) {
				fprintf(stderr, "window_bench: %s\n", err.msg);
				return 1;
			}
			out_rows += root->out.nrows;
			br_batch_reset(&b);
			if (join)
				br_batch_reset(&ab);
		}
		if ((i + 1) % (n / 10 > 0 ? n / 10 : 1) == 0) {
			double r = rss_mb();
			if (!rss_warm)
				rss_warm = r;
			rss_max = r > rss_max ? r : rss_max;
			printf("{\"mode\":\"%s\",\"events\":%" PRId64 ",\"rss_mb\":%.1f,\"seconds\":%.2f}\n", mode, i + 1, r,
			       now_s() - t0);
			fflush(stdout);
		}
	}
	double secs = now_s() - t0, cpu = cpu_s() - c0, rss_end = rss_mb();
	printf("{\"mode\":\"%s\",\"summary\":true,\"events\":%" PRId64 ",\"events_per_s\":%.0f,"
	       "\"events_per_cpu_s\":%.0f,\"output_rows\":%" PRId64
	       ",\"rss_warm_mb\":%.1f,\"rss_end_mb\":%.1f,\"rss_max_mb\":%.1f,\"growth_after_warmup\":%.3f,"
	       "\"state\":%" PRId64 "}\n",
	       mode, n, (double)n / secs, (double)n / cpu, out_rows, rss_warm, rss_end, rss_max, rss_warm > 0 ? rss_max / rss_warm : 0,
	       join ? br_interval_join_rows(root) : plain ? -1 : br_window_agg_open_panes(root));
	(void)tumble;
	br_batch_free(&b);
	if (join)
		br_batch_free(&ab);
	br_circuit_free(&c);
	br_wm_free(&t);
	return 0;
}
