/* subscribe_tail.c — produce → SUBSCRIBE latency in C (issue 7): a librdkafka
 * producer sends JSON records {"id","t0"} (t0 = CLOCK_MONOTONIC µs at send) at
 * a fixed rate to a table's topic; a minimal PostgreSQL wire client on its own
 * thread runs SUBSCRIBE on a view that carries t0 as its last column and takes
 * the arrival time of every inserted row (one clock, one process, no
 * interpreter in the path). bench/tail_latency.py --c creates the table and the
 * view and runs this.
 *   subscribe_tail --brokers B --topic T --pg-port P --view V --rate R --seconds S
 * Prints one JSON line: rows, p50/p99/p999/max ms. */
#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *brokers = "127.0.0.1:9092", *topic = "ev", *view = "ev_v";
static int pg_port = 5433, rate = 10000;
static double seconds = 5;
static int64_t *lat;
static atomic_llong nlat;
static long long cap;
static atomic_int stop;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int full_write(int fd, const void *p, size_t n)
{
	for (const char *c = p; n;) {
		ssize_t w = write(fd, c, n);
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void put32(char *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static uint32_t get32(const char *p) { uint32_t v; memcpy(&v, p, 4); return ntohl(v); }

/* A CopyData payload: lines "_frontier \t _weight \t cols... \t t0". */
static void take_rows(const char *p, size_t n, int64_t at)
{
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		const char *tab1 = memchr(p, '\t', (size_t)(nl - p)), *last = NULL;
		for (const char *q = p; q < nl; q++)
			if (*q == '\t')
				last = q;
		if (tab1 && last && tab1[1] != '-') {
			long long i = atomic_fetch_add(&nlat, 1);
			if (i < cap)
				lat[i] = at - strtoll(last + 1, NULL, 10);
		}
		p = nl + 1;
	}
}

static void *reader(void *arg)
{
	int fd = *(int *)arg;
	size_t cap_b = 1 << 22, len = 0;
	char *buf = malloc(cap_b);
	while (!atomic_load(&stop)) {
		if (len == cap_b)
			buf = realloc(buf, cap_b *= 2);
		ssize_t r = read(fd, buf + len, cap_b - len);
		if (r <= 0)
			break;
		int64_t at = now_us();
		len += (size_t)r;
		size_t off = 0;
		while (len - off >= 5) {
			uint32_t m = get32(buf + off + 1);
			if (len - off < 1 + (size_t)m)
				break;
			if (buf[off] == 'd')
				take_rows(buf + off + 5, m - 4, at);
			else if (buf[off] == 'E')
				fprintf(stderr, "subscribe_tail: server error: %.*s\n", (int)(m - 4), buf + off + 5);
			off += 1 + m;
		}
		memmove(buf, buf + off, len - off);
		len -= off;
	}
	free(buf);
	return NULL;
}

/* Startup (trust auth), then the SUBSCRIBE query; returns the socket. */
static int pg_subscribe(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)pg_port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char msg[512];
	const char params[] = "user\0bench\0database\0braid\0";
	uint32_t n = 8 + sizeof params;
	put32(msg, n);
	put32(msg + 4, 196608);
	memcpy(msg + 8, params, sizeof params);
	if (full_write(fd, msg, n))
		return -1;
	char hdr[5];
	for (;;) { /* until ReadyForQuery */
		if (recv(fd, hdr, 5, MSG_WAITALL) != 5)
			return -1;
		uint32_t m = get32(hdr + 1) - 4;
		char *body = malloc(m + 1);
		if (m && recv(fd, body, m, MSG_WAITALL) != (ssize_t)m)
			return -1;
		free(body);
		if (hdr[0] == 'Z')
			break;
		if (hdr[0] == 'E')
			return -1;
	}
	int q = snprintf(msg + 5, sizeof msg - 5, "SUBSCRIBE %s WITH (snapshot = false)", view) + 1;
	msg[0] = 'Q';
	put32(msg + 1, (uint32_t)q + 4);
	return full_write(fd, msg, (size_t)q + 5) ? -1 : fd;
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "subscribe_tail: %s=%s: %s\n", k, v, err);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--brokers")) brokers = v;
		else if (!strcmp(k, "--topic")) topic = v;
		else if (!strcmp(k, "--view")) view = v;
		else if (!strcmp(k, "--pg-port")) pg_port = atoi(v);
		else if (!strcmp(k, "--rate")) rate = atoi(v);
		else if (!strcmp(k, "--seconds")) seconds = atof(v);
		else { fprintf(stderr, "subscribe_tail: unknown option %s\n", k); return 2; }
	}
	long long total = (long long)(rate * seconds);
	cap = total + 1024;
	lat = calloc((size_t)cap, sizeof *lat);
	int fd = pg_subscribe();
	if (fd < 0) {
		fprintf(stderr, "subscribe_tail: cannot SUBSCRIBE to %s on port %d\n", view, pg_port);
		return 1;
	}
	pthread_t th;
	pthread_create(&th, NULL, reader, &fd);
	usleep(200000); /* the subscription is registered before the first record */
	char err[256];
	rd_kafka_conf_t *pc = rd_kafka_conf_new();
	set(pc, "bootstrap.servers", brokers);
	set(pc, "acks", "all");
	set(pc, "linger.ms", "0");
	set(pc, "socket.nagle.disable", "true");
	set(pc, "queue.buffering.max.messages", "1000000");
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "subscribe_tail: %s\n", err);
		return 2;
	}
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int64_t start = now_us();
	char v[96];
	for (long long i = 0; i < total;) {
		long long due = (long long)((now_us() - start) * (double)rate / 1e6);
		for (; i < total && i <= due; i++) {
			int n = snprintf(v, sizeof v, "{\"id\":%lld,\"t0\":%lld}", i, (long long)now_us());
			while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, v, (size_t)n, NULL, 0,
						NULL) == -1)
				rd_kafka_poll(rk, 1);
		}
		rd_kafka_poll(rk, 0);
		struct timespec nap = { 0, 50000 };
		nanosleep(&nap, NULL);
	}
	rd_kafka_flush(rk, 30000);
	for (int w = 0; w < 200 && atomic_load(&nlat) < total; w++)
		usleep(100000);
	atomic_store(&stop, 1);
	shutdown(fd, SHUT_RDWR);
	pthread_join(th, NULL);
	long long n = atomic_load(&nlat) < cap ? atomic_load(&nlat) : cap;
	qsort(lat, (size_t)n, sizeof *lat, cmp);
#define Q(p) (n ? lat[(long long)((p) * (double)(n - 1))] / 1000.0 : 0)
	printf("{\"rate\":%d,\"sent\":%lld,\"received\":%lld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
	       "\"max_ms\":%.3f}\n", rate, total, n, Q(0.5), Q(0.99), Q(0.999), n ? lat[n - 1] / 1000.0 : 0);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	free(lat);
	return n == total ? 0 : 1;
}
