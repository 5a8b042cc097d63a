/* produce_bench.c — produce throughput against a Kafka-protocol broker with a real
 * librdkafka producer (acks=all, linger, large batches): sends N records of a
 * given size and prints records/s and MB/s, measured from the first produce call
 * to the last delivery report. Built by bench/run.sh (cc + pkg-config rdkafka).
 *
 *   produce_bench --brokers 127.0.0.1:9092 --topic t --count 2000000 --size 100
 *                 [--partitions 1] [--acks all] [--linger-ms 5] [--batch-bytes 1000000]
 *                 [--compression none] [--set librdkafka.key=value]... [--json] [--stats]
 *
 * Values are one static buffer passed without copy (librdkafka's flag 0), so the
 * client's own copying does not dominate what is measured. */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long delivered, failed;
static char first_error[256];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err) {
		if (!failed++)
			snprintf(first_error, sizeof first_error, "%s", rd_kafka_err2str(m->err));
	} else {
		delivered++;
	}
}

/* --stats: librdkafka's statistics JSON every second on stderr (rtt, batch sizes,
 * in-flight requests), to see where a slow run waits. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	(void)rk;
	(void)opaque;
	fprintf(stderr, "STATS %.*s\n", (int)len, json);
	return 0;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "produce_bench: %s=%s: %s\n", k, v, err);
		exit(2);
	}
}

/* Creates the topic with the wanted partition count (an existing topic is fine).
 * A broker without CreateTopics gets a warning: run it with enough default
 * partitions for auto-creation instead. */
static void create_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
	char err[256];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
	if (!nt) {
		fprintf(stderr, "produce_bench: %s\n", err);
		exit(2);
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
	const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
	if (!res || rd_kafka_event_error(ev)) {
		fprintf(stderr, "produce_bench: warning: CreateTopics failed (%s); relying on auto-creation\n",
		        ev ? rd_kafka_event_error_string(ev) : "no answer");
		goto out;
	}
	size_t n;
	const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
	for (size_t i = 0; i < n; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
		if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			fprintf(stderr, "produce_bench: warning: create %s: %s; relying on auto-creation\n", topic,
			        rd_kafka_err2str(e));
	}
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);
}

int main(int argc, char **argv)
{
	const char *brokers = "127.0.0.1:9092", *topic = "bench", *acks = "all", *linger = "5",
	           *batch_bytes = "1000000", *compression = "none";
	const char *extra[16];
	int nextra = 0;
	long long count = 1000000;
	int size = 100, partitions = 1, json = 0, stats = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--json") || !strcmp(a, "--stats")) {
			*(a[2] == 'j' ? &json : &stats) = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "produce_bench: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--brokers")) brokers = v;
		else if (!strcmp(a, "--topic")) topic = v;
		else if (!strcmp(a, "--count")) count = atoll(v);
		else if (!strcmp(a, "--size")) size = atoi(v);
		else if (!strcmp(a, "--partitions")) partitions = atoi(v);
		else if (!strcmp(a, "--acks")) acks = v;
		else if (!strcmp(a, "--linger-ms")) linger = v;
		else if (!strcmp(a, "--batch-bytes")) batch_bytes = v;
		else if (!strcmp(a, "--compression")) compression = v;
		else if (!strcmp(a, "--set") && nextra < 16) extra[nextra++] = v;
		else {
			fprintf(stderr, "produce_bench: unknown option %s\n", a);
			return 2;
		}
	}
	if (count <= 0 || size < 0 || partitions <= 0) {
		fprintf(stderr, "produce_bench: bad --count, --size or --partitions\n");
		return 2;
	}

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	set(conf, "bootstrap.servers", brokers);
	set(conf, "acks", acks);
	set(conf, "linger.ms", linger);
	set(conf, "batch.size", batch_bytes);
	set(conf, "batch.num.messages", "1000000");
	set(conf, "queue.buffering.max.messages", "2000000");
	set(conf, "queue.buffering.max.kbytes", "2097151");
	set(conf, "message.max.bytes", "100000000");
	set(conf, "compression.codec", compression);
	for (int i = 0; i < nextra; i++) {
		char kv[256];
		snprintf(kv, sizeof kv, "%s", extra[i]);
		char *eq = strchr(kv, '=');
		if (!eq) {
			fprintf(stderr, "produce_bench: --set wants key=value\n");
			return 2;
		}
		*eq = 0;
		set(conf, kv, eq + 1);
	}
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	if (stats) {
		set(conf, "statistics.interval.ms", "1000");
		rd_kafka_conf_set_stats_cb(conf, stats_cb);
	}
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "produce_bench: %s\n", err);
		return 2;
	}
	/* one partition: let the broker auto-create the topic (fewer APIs needed) */
	if (partitions > 1)
		create_topic(rk, topic, partitions);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

	char *value = malloc((size_t)size + 1);
	for (int i = 0; i < size; i++)
		value[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];

	double t0 = now_s();
	for (long long i = 0; i < count; i++) {
		int32_t part = partitions > 1 ? (int32_t)(i % partitions) : 0;
		while (rd_kafka_produce(rkt, part, 0, value, (size_t)size, NULL, 0, NULL) == -1) {
			rd_kafka_resp_err_t e = rd_kafka_last_error();
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				fprintf(stderr, "produce_bench: produce: %s\n", rd_kafka_err2str(e));
				return 1;
			}
			rd_kafka_poll(rk, 1);
		}
		if ((i & 0xffff) == 0)
			rd_kafka_poll(rk, 0);
	}
	while (rd_kafka_outq_len(rk) > 0 && now_s() - t0 < 300)
		rd_kafka_poll(rk, 5);
	double secs = now_s() - t0;

	double rps = delivered / secs, mbps = (double)delivered * size / secs / 1e6;
	if (json)
		printf("{\"records\":%lld,\"size\":%d,\"seconds\":%.3f,\"records_per_s\":%.0f,\"mb_per_s\":%.1f,"
		       "\"failed\":%lld}\n",
		       delivered, size, secs, rps, mbps, failed);
	else
		printf("produce: %lld records of %d bytes in %.2f s: %.0f records/s, %.1f MB/s (acks=%s, linger %s ms,"
		       " %d partition(s))%s%s\n",
		       delivered, size, secs, rps, mbps, acks, linger, partitions, failed ? "; FAILED: " : "",
		       failed ? first_error : "");
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	free(value);
	return failed || delivered != count ? 1 : 0;
}
