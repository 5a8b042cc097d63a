/* parquet_bench.c — braid's side of the Parquet benchmark (bench/parquet_bench.mjs
 * runs it beside DuckDB): 10 million Nexmark bids written as zstd Parquet, then a
 * scan computing count(*), sum(price) and a count per channel.
 *   parquet_bench write OUT ROWS    generate bids and write them; prints timings
 *   parquet_bench gen ROWS          generate only (to subtract generation time)
 *   parquet_bench scan FILE [N [M]] scan price and channel on N threads (default 1)
 *                                   sharing the row groups; prints results and time.
 *                                   M "dict" (default): the group-by hashes each
 *                                   dictionary entry once and counts codes where the
 *                                   reader offers them; "rows": hashes every row
 * Writing is single-threaded, like braid's tiering worker. Scan experiments:
 * BATCH_ROWS=N sets the reader's batch size, MORSEL_ROWS=N its morsel size
 * (a huge N reads whole row groups). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/resource.h>
#define XXH_INLINE_ALL /* the hash of a short key is a few instructions: no call */
#include <xxhash.h>

#include "base/util.h"
#include "parquet/parquet.h"
#include "parquet/pq_internal.h" /* br_pq_reader_set_morsel_rows */

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

/* count per channel: groups in a dense array (stable indices), found through
 * an open-addressing table of indices keyed by (hash, length, first 16 bytes),
 * with the full key kept for longer strings, as a query engine's group-by
 * would. */
typedef struct group {
	uint64_t h;
	uint32_t len;
	uint64_t k0, k1;
	char *key;
	int64_t count;
} group;

typedef struct groups {
	group *g;          /* dense, n used of gcap */
	size_t n, gcap;
	uint64_t *slot;    /* hash's high 32 bits << 32 | index + 1 into g; 0 = empty */
	size_t cap;
} groups;

static void groups_grow(groups *t)
{
	size_t cap = t->cap ? t->cap * 2 : 64;
	free(t->slot);
	t->slot = br_xcalloc(cap, sizeof *t->slot);
	t->cap = cap;
	for (size_t i = 0; i < t->n; i++) {
		size_t s = t->g[i].h & (cap - 1);
		while (t->slot[s])
			s = (s + 1) & (cap - 1);
		t->slot[s] = (t->g[i].h >> 32) << 32 | (i + 1);
	}
}

/* The index of the group of key p[0..n) whose hash is h, created with count 0
 * if new. */
static size_t groups_find_h(groups *t, const uint8_t *p, size_t n, uint64_t h)
{
	if (2 * (t->n + 1) > t->cap)
		groups_grow(t);
	uint64_t k[2] = { 0, 0 };
	memcpy(k, p, BR_MIN(n, 16));
	size_t s = h & (t->cap - 1);
	for (;; s = (s + 1) & (t->cap - 1)) {
		uint64_t e = t->slot[s];
		if (!e)
			break;
		if (e >> 32 != h >> 32)
			continue; /* decided without touching the group */
		size_t i = (uint32_t)e - 1;
		group *g = &t->g[i];
		if (g->h == h && g->len == n && g->k0 == k[0] && g->k1 == k[1] && (n <= 16 || !memcmp(g->key, p, n)))
			return i;
	}
	if (t->n == t->gcap) {
		t->gcap = t->gcap ? t->gcap * 2 : 64;
		t->g = br_xrealloc(t->g, t->gcap * sizeof *t->g);
	}
	group *g = &t->g[t->n];
	g->h = h;
	g->len = (uint32_t)n;
	g->k0 = k[0];
	g->k1 = k[1];
	g->key = br_xmalloc(n + 1);
	memcpy(g->key, p, n);
	g->key[n] = 0;
	g->count = 0;
	t->slot[s] = (h >> 32) << 32 | (t->n + 1);
	return t->n++;
}

static size_t groups_find(groups *t, const uint8_t *p, size_t n)
{
	return groups_find_h(t, p, n, XXH3_64bits(p, n));
}

/* Finds the groups of all n entries of a dictionary into gix. The table is
 * larger than the L2 cache, so every find would wait on memory twice (slot,
 * then group); hashing everything first lets the loop prefetch the slot 16
 * entries ahead and the group 8 ahead, so the waits overlap. */
static void groups_find_dict(groups *t, const br_col *dict, uint32_t *gix, uint64_t *hs)
{
	const int32_t *o = (const int32_t *)(const void *)dict->offsets.p;
	const uint8_t *v = dict->values.p;
	size_t n = (size_t)dict->len;
	for (size_t e = 0; e < n; e++)
		hs[e] = XXH3_64bits(v + o[e], (size_t)(o[e + 1] - o[e]));
	while (2 * (t->n + n) > t->cap) /* room for all: no growth mid-loop */
		groups_grow(t);
	for (size_t e = 0; e < n; e++) {
		if (e + 16 < n)
			__builtin_prefetch(&t->slot[hs[e + 16] & (t->cap - 1)]);
		if (e + 8 < n) {
			uint64_t sv = t->slot[hs[e + 8] & (t->cap - 1)];
			if (sv)
				__builtin_prefetch(&t->g[(uint32_t)sv - 1]);
		}
		gix[e] = (uint32_t)groups_find_h(t, v + o[e], (size_t)(o[e + 1] - o[e]), hs[e]);
	}
}

static void groups_add(groups *t, const uint8_t *p, size_t n, int64_t count)
{
	size_t i = groups_find(t, p, n); /* may move t->g */
	t->g[i].count += count;
}

static void groups_free(groups *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->g[i].key);
	free(t->g);
	free(t->slot);
}

static void fold_counts(groups *t, const uint32_t *gix, const int64_t *dcount, size_t ndict)
{
	for (size_t e = 0; e < ndict; e++)
		t->g[gix[e]].count += dcount[e];
}

/* One scan thread: its own reader over the row groups it takes from the
 * shared counter, and its own partial aggregate (merged at the end, as a
 * parallel query engine's thread-local aggregation would). */
typedef struct scan_part {
	const char *path;
	atomic_int *next;
	bool use_dict;
	int64_t count, sum;
	groups t;
	br_err err;
	int rc;
} scan_part;

static void *scan_thread(void *arg)
{
	scan_part *sp = arg;
	br_pq_reader *r;
	if ((sp->rc = br_pq_reader_open(sp->path, &r, &sp->err)))
		return NULL;
	const br_schema *s = br_pq_reader_schema(r);
	const br_field *price = br_schema_find_name(s, "price"), *channel = br_schema_find_name(s, "channel");
	if (!price || !channel) {
		sp->rc = br_errf(&sp->err, BR_EINVAL, "%s lacks price or channel", sp->path);
		br_pq_reader_close(r);
		return NULL;
	}
	int ids[2] = { price->id, channel->id };
	if ((sp->rc = br_pq_reader_project(r, ids, 2, &sp->err))) {
		br_pq_reader_close(r);
		return NULL;
	}
	br_pq_reader_share_row_groups(r, sp->next);
	if (getenv("BATCH_ROWS"))
		br_pq_reader_set_batch_rows(r, atoll(getenv("BATCH_ROWS")));
	if (getenv("MORSEL_ROWS")) /* experiments: 1e18 = whole row groups */
		br_pq_reader_set_morsel_rows(r, atoll(getenv("MORSEL_ROWS")));
	br_batch b = { 0 };
	int rc;
	uint64_t dict_id = 0;
	uint32_t *gix = NULL;    /* group of each entry of dictionary dict_id */
	int64_t *dcount = NULL;  /* rows per entry not yet added to the groups */
	size_t ndict = 0;
	uint64_t *hs = NULL;     /* hashes of the dictionary's entries */
	while ((rc = br_pq_reader_next(r, &b, &sp->err)) > 0) {
		sp->count += b.nrows;
		const br_col *pc = &b.cols[0], *cc = &b.cols[1];
		int64_t sum = 0;
		if (!pc->validity.len) {
			const int64_t *v = (const int64_t *)(const void *)pc->values.p;
			for (int64_t i = 0; i < b.nrows; i++)
				sum += v[i];
		} else {
			for (int64_t i = 0; i < b.nrows; i++)
				if (br_col_valid(pc, i))
					sum += br_col_i64(pc, i);
		}
		sp->sum += sum;
		const uint32_t *codes;
		const br_col *dict;
		uint64_t id;
		if (sp->use_dict && br_pq_reader_dict_codes(r, 1, &codes, &dict, &id)) {
			/* each dictionary entry is hashed once; rows are counted per
			 * code in a small dense array, added to the groups when the
			 * dictionary changes */
			if (id != dict_id) {
				fold_counts(&sp->t, gix, dcount, ndict);
				dict_id = id;
				ndict = (size_t)dict->len;
				gix = br_xrealloc(gix, BR_MAX(ndict, 1) * sizeof *gix);
				hs = br_xrealloc(hs, BR_MAX(ndict, 1) * sizeof *hs);
				dcount = br_xrealloc(dcount, BR_MAX(ndict, 1) * sizeof *dcount);
				memset(dcount, 0, ndict * sizeof *dcount);
				groups_find_dict(&sp->t, dict, gix, hs);
			}
			for (int64_t i = 0; i < b.nrows; i++)
				dcount[codes[i]]++;
		} else {
			for (int64_t i = 0; i < b.nrows; i++) {
				size_t n;
				const uint8_t *p = br_col_bytes(cc, i, &n);
				groups_add(&sp->t, p, n, 1);
			}
		}
	}
	fold_counts(&sp->t, gix, dcount, ndict);
	free(gix);
	free(hs);
	free(dcount);
	sp->rc = rc < 0 ? rc : 0;
	br_batch_free(&b);
	br_pq_reader_close(r);
	return NULL;
}

static int cmd_scan(const char *path, int threads, bool use_dict)
{
	int64_t t0 = br_mono_ns();
	double c0 = cpu_s();
	atomic_int next = 0;
	scan_part *parts = br_xcalloc((size_t)threads, sizeof *parts);
	pthread_t *tid = br_xcalloc((size_t)threads, sizeof *tid);
	for (int i = 0; i < threads; i++) {
		parts[i].path = path;
		parts[i].next = &next;
		parts[i].use_dict = use_dict;
		if (i > 0 && pthread_create(&tid[i], NULL, scan_thread, &parts[i])) {
			fprintf(stderr, "parquet_bench: pthread_create failed\n");
			return 1;
		}
	}
	scan_thread(&parts[0]);
	for (int i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	int64_t count = 0, sum = 0;
	groups t = { 0 };
	for (int i = 0; i < threads; i++) {
		if (parts[i].rc)
			return fail(&parts[i].err);
		count += parts[i].count;
		sum += parts[i].sum;
		groups *pt = &parts[i].t;
		for (size_t k = 0; k < pt->n; k++)
			if (pt->g[k].count)
				groups_add(&t, (const uint8_t *)pt->g[k].key, pt->g[k].len, pt->g[k].count);
		groups_free(pt);
	}
	double secs = (double)(br_mono_ns() - t0) / 1e9;
	int64_t google = 0;
	for (size_t i = 0; i < t.n; i++)
		if (!strcmp(t.g[i].key, "Google"))
			google = t.g[i].count;
	printf("{\"count\":%lld,\"sum_price\":%lld,\"groups\":%zu,\"google\":%lld,\"threads\":%d,\"seconds\":%.3f,\"cpu\":%.3f}\n",
	       (long long)count, (long long)sum, t.n, (long long)google, threads, secs, cpu_s() - c0);
	groups_free(&t);
	free(parts);
	free(tid);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "write"))
		return cmd_write(argv[2], atoll(argv[3]), true);
	if (argc >= 3 && !strcmp(argv[1], "gen"))
		return cmd_write(NULL, atoll(argv[2]), false);
	if (argc >= 3 && !strcmp(argv[1], "scan"))
		return cmd_scan(argv[2], argc >= 4 ? BR_MAX(1, atoi(argv[3])) : 1, !(argc >= 5 && !strcmp(argv[4], "rows")));
	fprintf(stderr, "usage: parquet_bench write OUT ROWS | gen ROWS | scan FILE [THREADS [dict|rows]]\n");
	return 2;
}
