/* parquet_bench.c — braid's side of the Parquet benchmark (bench/parquet_bench.mjs
 * runs it beside DuckDB): 10 million Nexmark bids written as zstd Parquet, then a
 * scan computing count(*), sum(price) and a count per channel.
 *   parquet_bench write OUT ROWS    generate bids and write them; prints timings
 *   parquet_bench gen ROWS          generate only (to subtract generation time)
 *   parquet_bench scan FILE         scan price and channel; prints results and time
 * Single-threaded, like braid's tiering worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>
#include <xxhash.h>

#include "base/util.h"
#include "parquet/parquet.h"

static const char *bid_schema =
	"{\"type\":\"struct\",\"fields\":["
	"{\"id\":1,\"name\":\"auction\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"bidder\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":3,\"name\":\"price\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":4,\"name\":\"channel\",\"required\":true,\"type\":\"string\"},"
	"{\"id\":5,\"name\":\"url\",\"required\":true,\"type\":\"string\"},"
	"{\"id\":6,\"name\":\"date_time\",\"required\":true,\"type\":\"timestamp\"},"
	"{\"id\":7,\"name\":\"extra\",\"required\":true,\"type\":\"string\"}]}";

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static inline uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void rand_word(char *p, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (char)('a' + rnd() % 26);
}

/* Nexmark-like bids: hot auctions, four big channels plus a long tail, urls
 * with random path parts, event time advancing 1 ms per bid. */
static void gen_batch(br_batch *b, int64_t first, int64_t n)
{
	static const char *channels[] = { "Google", "Facebook", "Baidu", "Apple" };
	char s[160];
	for (int64_t i = first; i < first + n; i++) {
		br_col_append_i64(&b->cols[0], 1000 + (int64_t)(rnd() % 10000));
		br_col_append_i64(&b->cols[1], 1000 + (int64_t)(rnd() % 100000));
		br_col_append_i64(&b->cols[2], 100 + (int64_t)(rnd() % 1000000));
		uint64_t c = rnd() % 100;
		int n1;
		if (c < 90)
			n1 = snprintf(s, sizeof s, "%s", channels[c % 4]);
		else
			n1 = snprintf(s, sizeof s, "channel-%d", (int)(rnd() % 10000));
		br_col_append_bytes(&b->cols[3], s, (size_t)n1);
		memcpy(s, "https://www.nexmark.com/", 24);
		rand_word(s + 24, 5);
		s[29] = '/';
		rand_word(s + 30, 5);
		int n2 = 35 + snprintf(s + 35, sizeof s - 35, "/item.htm?query=1&channel_id=%d", (int)(rnd() % 1000));
		br_col_append_bytes(&b->cols[4], s, (size_t)n2);
		br_col_append_i64(&b->cols[5], 1700000000000000LL + i * 1000);
		int n3 = (int)(rnd() % 24);
		rand_word(s, n3);
		br_col_append_bytes(&b->cols[6], s, (size_t)n3);
		br_batch_row_done(b, 1);
	}
}

/* CPU seconds of this process (user + system): steadier than wall time on a
 * shared machine. */
static double cpu_s(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static int fail(const br_err *err)
{
	fprintf(stderr, "parquet_bench: %s\n", err->msg);
	return 1;
}

static int cmd_write(const char *out, int64_t rows, bool do_write)
{
	br_err err = { 0 };
	br_schema *s;
	if (br_schema_parse(bid_schema, strlen(bid_schema), &s, &err))
		return fail(&err);
	br_pq_options o;
	br_pq_options_default(&o);
	o.fsync = false;
	br_pq_writer *w = NULL;
	int64_t t0 = br_mono_ns();
	double c0 = cpu_s();
	if (do_write && br_pq_writer_open(out, s, &o, &w, &err))
		return fail(&err);
	br_batch b;
	br_batch_init(&b, s->root, false);
	const int64_t B = 65536;
	for (int64_t i = 0; i < rows; i += B) {
		br_batch_reset(&b);
		gen_batch(&b, i, BR_MIN(B, rows - i));
		if (do_write && br_pq_writer_write(w, &b, &err))
			return fail(&err);
	}
	br_pq_metrics m = { 0 };
	if (do_write && br_pq_writer_close(w, &m, &err))
		return fail(&err);
	double secs = (double)(br_mono_ns() - t0) / 1e9;
	printf("{\"rows\":%lld,\"seconds\":%.3f,\"cpu\":%.3f,\"bytes\":%lld,\"row_groups\":%d}\n", (long long)rows, secs,
	       cpu_s() - c0, (long long)m.file_bytes, m.nrow_groups);
	br_pq_metrics_free(&m);
	br_batch_free(&b);
	br_schema_free(s);
	return 0;
}

/* count per channel: open addressing on (hash, length, first 16 bytes) with
 * the full key kept for longer strings, as a query engine's group-by would. */
typedef struct group {
	uint64_t h;
	uint32_t len;
	uint64_t k0, k1;
	char *key;
	int64_t count;
} group;

typedef struct groups {
	group *g;
	size_t cap, n;
} groups;

static void groups_add(groups *t, const uint8_t *p, size_t n);

static void groups_grow(groups *t)
{
	groups nt = { br_xcalloc(t->cap ? t->cap * 2 : 64, sizeof(group)), t->cap ? t->cap * 2 : 64, 0 };
	for (size_t i = 0; i < t->cap; i++) {
		group *o = &t->g[i];
		if (!o->key)
			continue;
		size_t s = o->h & (nt.cap - 1);
		while (nt.g[s].key)
			s = (s + 1) & (nt.cap - 1);
		nt.g[s] = *o;
		nt.n++;
	}
	free(t->g);
	*t = nt;
}

static void groups_add(groups *t, const uint8_t *p, size_t n)
{
	if (2 * (t->n + 1) > t->cap)
		groups_grow(t);
	uint64_t h = XXH3_64bits(p, n), k[2] = { 0, 0 };
	memcpy(k, p, BR_MIN(n, 16));
	size_t s = h & (t->cap - 1);
	for (;; s = (s + 1) & (t->cap - 1)) {
		group *g = &t->g[s];
		if (!g->key)
			break;
		if (g->h == h && g->len == n && g->k0 == k[0] && g->k1 == k[1] && (n <= 16 || !memcmp(g->key, p, n))) {
			g->count++;
			return;
		}
	}
	group *g = &t->g[s];
	g->h = h;
	g->len = (uint32_t)n;
	g->k0 = k[0];
	g->k1 = k[1];
	g->key = br_xmalloc(n + 1);
	memcpy(g->key, p, n);
	g->key[n] = 0;
	g->count = 1;
	t->n++;
}

static int cmd_scan(const char *path)
{
	br_err err = { 0 };
	int64_t t0 = br_mono_ns();
	double c0 = cpu_s();
	br_pq_reader *r;
	if (br_pq_reader_open(path, &r, &err))
		return fail(&err);
	const br_schema *s = br_pq_reader_schema(r);
	const br_field *price = br_schema_find_name(s, "price"), *channel = br_schema_find_name(s, "channel");
	if (!price || !channel) {
		fprintf(stderr, "parquet_bench: %s lacks price or channel\n", path);
		return 1;
	}
	int ids[2] = { price->id, channel->id };
	if (br_pq_reader_project(r, ids, 2, &err))
		return fail(&err);
	br_batch b = { 0 };
	int rc;
	int64_t count = 0, sum = 0;
	groups t = { 0 };
	while ((rc = br_pq_reader_next(r, &b, &err)) > 0) {
		count += b.nrows;
		const br_col *pc = &b.cols[0], *cc = &b.cols[1];
		for (int64_t i = 0; i < b.nrows; i++)
			if (br_col_valid(pc, i))
				sum += br_col_i64(pc, i);
		for (int64_t i = 0; i < b.nrows; i++) {
			size_t n;
			const uint8_t *p = br_col_bytes(cc, i, &n);
			groups_add(&t, p, n);
		}
	}
	if (rc < 0)
		return fail(&err);
	double secs = (double)(br_mono_ns() - t0) / 1e9;
	int64_t google = 0;
	for (size_t i = 0; i < t.cap; i++) {
		if (t.g[i].key && !strcmp(t.g[i].key, "Google"))
			google = t.g[i].count;
		free(t.g[i].key);
	}
	printf("{\"count\":%lld,\"sum_price\":%lld,\"groups\":%zu,\"google\":%lld,\"seconds\":%.3f,\"cpu\":%.3f}\n",
	       (long long)count, (long long)sum, t.n, (long long)google, secs, cpu_s() - c0);
	free(t.g);
	br_batch_free(&b);
	br_pq_reader_close(r);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "write"))
		return cmd_write(argv[2], atoll(argv[3]), true);
	if (argc >= 3 && !strcmp(argv[1], "gen"))
		return cmd_write(NULL, atoll(argv[2]), false);
	if (argc >= 3 && !strcmp(argv[1], "scan"))
		return cmd_scan(argv[2]);
	fprintf(stderr, "usage: parquet_bench write OUT ROWS | gen ROWS | scan FILE\n");
	return 2;
}
