/* latency_bench.c — end-to-end produce→consume latency through a Kafka-protocol
 * broker: one librdkafka producer sends at a fixed rate, one consumer (another
 * thread, same process, so one clock; the simple consumer, no group) reads the topic from the start; each value
 * carries its send time, and the consumer records now - send time. Prints p50,
 * p99, p99.9 and max over the measured window (after a warm-up second).
 *
 *   latency_bench --brokers 127.0.0.1:9092 --topic lat --rate 50000 --seconds 10
 *                 [--size 100] [--acks all] [--linger-ms 1] [--nagle 0|1] [--json]
 *                 [--stalls MS]
 *
 * --stalls MS lists on stderr every stall: a run of records whose latency passed
 * MS, with the CLOCK_MONOTONIC send time of its first record (the clock of
 * braid's BRAID_TRACE_SLOW lines, so a stall can be matched with its cause).
 *
 * Client settings are those of a latency-sensitive user: producer linger.ms 1
 * (0 measured worse: one request per record), consumer fetch.min.bytes 1 (the
 * broker answers a parked fetch as soon as the data is durable), and Nagle's
 * algorithm off on both (librdkafka leaves it on by default: a small request
 * then waits for the ACK of the previous one). --nagle 1 restores the default. */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *brokers = "127.0.0.1:9092", *topic = "latency", *acks = "all", *linger = "1";
static int rate = 50000, seconds = 10, size = 100, json = 0, nagle = 0;
static double stall_ms = 0;
static atomic_llong sent_total;
static atomic_int producer_done;
static long long produce_failed;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "latency_bench: %s=%s: %s\n", k, v, err);
		exit(2);
	}
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err && !produce_failed++)
		fprintf(stderr, "latency_bench: delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static void *producer(void *arg)
{
	rd_kafka_t *rk = arg;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	char *value = calloc(1, (size_t)size);
	long long total = (long long)rate * seconds;
	int64_t start = now_ns();
	for (long long i = 0; i < total;) {
		/* send every message whose scheduled time has come, then nap briefly */
		int64_t due = (int64_t)((now_ns() - start) * (double)rate / 1e9);
		for (; i < total && i <= due; i++) {
			int64_t t = now_ns();
			memcpy(value, &t, sizeof t);
			while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, value, (size_t)size, NULL, 0, NULL) == -1)
				rd_kafka_poll(rk, 1);
			atomic_fetch_add(&sent_total, 1);
		}
		rd_kafka_poll(rk, 0);
		struct timespec nap = { 0, 50000 };
		nanosleep(&nap, NULL);
	}
	rd_kafka_flush(rk, 30000);
	atomic_store(&producer_done, 1);
	rd_kafka_topic_destroy(rkt);
	free(value);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--json")) {
			json = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "latency_bench: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--brokers")) brokers = v;
		else if (!strcmp(a, "--topic")) topic = v;
		else if (!strcmp(a, "--rate")) rate = atoi(v);
		else if (!strcmp(a, "--seconds")) seconds = atoi(v);
		else if (!strcmp(a, "--size")) size = atoi(v);
		else if (!strcmp(a, "--acks")) acks = v;
		else if (!strcmp(a, "--linger-ms")) linger = v;
		else if (!strcmp(a, "--nagle")) nagle = atoi(v);
		else if (!strcmp(a, "--stalls")) stall_ms = atof(v);
		else {
			fprintf(stderr, "latency_bench: unknown option %s\n", a);
			return 2;
		}
	}
	if (rate <= 0 || seconds <= 1 || size < 8) {
		fprintf(stderr, "latency_bench: need --rate > 0, --seconds > 1, --size >= 8\n");
		return 2;
	}
	char err[256];
	rd_kafka_conf_t *pc = rd_kafka_conf_new();
	set(pc, "bootstrap.servers", brokers);
	set(pc, "acks", acks);
	set(pc, "linger.ms", linger);
	set(pc, "socket.nagle.disable", nagle ? "false" : "true");
	rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
	rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
	if (!prod) {
		fprintf(stderr, "latency_bench: %s\n", err);
		return 2;
	}
	/* One message first: the producer's Metadata request auto-creates the topic,
	 * and the delivery proves it is there before the consumer starts at its end. */
	rd_kafka_topic_t *ptopic = rd_kafka_topic_new(prod, topic, NULL);
	int64_t zero = 0;
	if (rd_kafka_produce(ptopic, 0, RD_KAFKA_MSG_F_COPY, &zero, sizeof zero, NULL, 0, NULL) == -1 ||
	    rd_kafka_flush(prod, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR || produce_failed) {
		fprintf(stderr, "latency_bench: cannot produce the first message to %s\n", topic);
		return 1;
	}
	rd_kafka_topic_destroy(ptopic);

	/* The simple (group-less) consumer: no coordinator in the measured path. */
	rd_kafka_conf_t *cc = rd_kafka_conf_new();
	set(cc, "bootstrap.servers", brokers);
	set(cc, "fetch.wait.max.ms", "100");
	set(cc, "fetch.min.bytes", "1");
	set(cc, "fetch.error.backoff.ms", "10");
	set(cc, "socket.nagle.disable", nagle ? "false" : "true");
	rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
	if (!cons) {
		fprintf(stderr, "latency_bench: %s\n", err);
		return 2;
	}
	rd_kafka_topic_t *ctopic = rd_kafka_topic_new(cons, topic, NULL);
	if (rd_kafka_consume_start(ctopic, 0, RD_KAFKA_OFFSET_END) == -1) {
		fprintf(stderr, "latency_bench: consume_start: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
		return 1;
	}
	/* let the consumer settle at the end of the partition before sending */
	for (int i = 0; i < 10; i++) {
		rd_kafka_message_t *m = rd_kafka_consume(ctopic, 0, 50);
		if (m)
			rd_kafka_message_destroy(m);
	}

	long long total = (long long)rate * seconds, warm = rate; /* skip the first second */
	int64_t *lat = malloc(sizeof(int64_t) * (size_t)total);
	int64_t stall_start = 0, stall_max = 0; /* the stall in progress (--stalls) */
	long long stall_n = 0, stalls = 0;
	long long got = 0, measured = 0;
	pthread_t th;
	pthread_create(&th, NULL, producer, prod);
	int64_t deadline = 0;
	while (got < total) {
		rd_kafka_message_t *m = rd_kafka_consume(ctopic, 0, 100);
		int64_t now = now_ns();
		if (m) {
			if (!m->err && m->len >= 8) {
				int64_t t;
				memcpy(&t, m->payload, sizeof t);
				if (got++ >= warm) {
					lat[measured++] = now - t;
					if (stall_ms > 0 && now - t > stall_ms * 1e6) {
						if (!stall_n++)
							stall_start = t;
						if (now - t > stall_max)
							stall_max = now - t;
					} else if (stall_n) {
						fprintf(stderr, "stall: %lld records sent from mono %.6f waited up to %.1f ms\n",
						        stall_n, stall_start / 1e9, stall_max / 1e6);
						stalls++;
						stall_n = stall_max = 0;
					}
				}
			}
			rd_kafka_message_destroy(m);
		}
		if (atomic_load(&producer_done)) {
			if (!deadline)
				deadline = now + 10 * 1000000000LL;
			else if (now > deadline)
				break;
		}
	}
	pthread_join(th, NULL);
	if (stall_ms > 0)
		fprintf(stderr, "%lld stall(s) over %.1f ms\n", stalls + (stall_n > 0), stall_ms);
	qsort(lat, (size_t)measured, sizeof *lat, cmp);
#define PCT(p) (measured ? lat[(size_t)((measured - 1) * (p))] / 1e6 : -1.0)
	double p50 = PCT(0.50), p99 = PCT(0.99), p999 = PCT(0.999), max = PCT(1.0);
	if (json)
		printf("{\"rate\":%d,\"sent\":%lld,\"received\":%lld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
		       "\"max_ms\":%.3f}\n",
		       rate, atomic_load(&sent_total), got, p50, p99, p999, max);
	else
		printf("latency at %d records/s (%d-byte records, acks=%s, linger %s ms, nagle %s): p50 %.2f ms, p99 %.2f ms, "
		       "p99.9 %.2f ms, max %.2f ms (%lld sent, %lld received)\n",
		       rate, size, acks, linger, nagle ? "on" : "off", p50, p99, p999, max, atomic_load(&sent_total), got);
	rd_kafka_consume_stop(ctopic, 0);
	rd_kafka_topic_destroy(ctopic);
	rd_kafka_destroy(cons);
	rd_kafka_destroy(prod);
	free(lat);
	return got == total && !produce_failed ? 0 : 1;
}
