/* metrics.c — the /metrics page in Prometheus text exposition format 0.0.4:
 * per topic partition the log's offsets and the lake's frontier, lag and
 * tiering counters; per Kafka API the broker's request counts and bytes.
 * Runs on the loop thread (the log and the tier state are the loop's).
 * Cost: O(topics x partitions + APIs) lines per scrape, no I/O.
 *
 * Lake metrics exist for topics whose braid.lake.mode is not off and whose
 * frontier is known (read back from the table after start). Counters count
 * since this process started (Prometheus handles restarts of counters). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "kafka/broker.h"
#include "kafka/handlers.h"
#include "log/log.h"
#include "tier/tier.h"

/* A label value per the exposition format: \ " and newline escaped. Topic
 * names cannot hold them today (Kafka's name rules), but the page must stay
 * parseable whatever a name becomes. */
static void label(br_buf *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			br_buf_printf(o, "\\%c", *v);
		else if (*v == '\n')
			br_buf_printf(o, "\\n");
		else
			br_buf_u8(o, (uint8_t)*v);
	}
}

static void help(br_buf *o, const char *name, const char *type, const char *text)
{
	br_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void part_line(br_buf *o, const char *name, const char *topic, int32_t p, int64_t v)
{
	br_buf_printf(o, "%s{topic=\"", name);
	label(o, topic);
	br_buf_printf(o, "\",partition=\"%d\"} %" PRId64 "\n", p, v);
}

static void topic_line(br_buf *o, const char *name, const char *topic, const char *v)
{
	br_buf_printf(o, "%s{topic=\"", name);
	label(o, topic);
	br_buf_printf(o, "\"} %s\n", v);
}

typedef enum { M_LEO, M_HW, M_START, M_FRONTIER, M_LAG, M_TIERED, M_DEAD, M_NPART } pmetric;

static const struct {
	const char *name, *type, *help;
} pm[M_NPART] = {
	{ "braid_log_end_offset", "gauge", "Next offset the partition will assign (log end offset)." },
	{ "braid_log_high_watermark", "gauge", "End of the durable prefix consumers can read." },
	{ "braid_log_start_offset", "gauge", "First offset still in the log (retention moves it)." },
	{ "braid_lake_frontier", "gauge", "Next offset not yet in the topic's Iceberg table (lake frontier)." },
	{ "braid_lake_lag_records", "gauge", "Durable records not yet in the table: high watermark minus frontier." },
	{ "braid_lake_records_tiered_total", "counter", "Records written to the topic's table by this process." },
	{ "braid_lake_records_dead_lettered_total", "counter", "Records sent to the dead-letter topic by this process." },
};

static void partition_metrics(br_buf *o, br_log *log, br_tier *tier, pmetric m)
{
	help(o, pm[m].name, pm[m].type, pm[m].help);
	br_topic **tps;
	size_t nt = br_log_topics(log, &tps);
	for (size_t i = 0; i < nt; i++) {
		const char *name = br_topic_name(tps[i]);
		int32_t np = br_topic_partition_count(tps[i]);
		br_tier_stats st;
		bool lake = m >= M_FRONTIER && tier && br_tier_stats_get(tier, name, &st) && st.ready;
		if (m >= M_FRONTIER && !lake)
			continue;
		for (int32_t p = 0; p < np; p++) {
			br_partition *pp = br_topic_partition(tps[i], p);
			int64_t hw = br_partition_high_watermark(pp);
			int64_t f = lake && p < st.nparts ? st.frontier[p] : 0;
			int64_t v = 0;
			switch (m) {
			case M_LEO: v = br_partition_end_offset(pp); break;
			case M_HW: v = hw; break;
			case M_START: v = br_partition_start_offset(pp); break;
			case M_FRONTIER: v = f; break;
			case M_LAG: v = hw > f ? hw - f : 0; break;
			case M_TIERED: v = p < st.nparts ? st.tiered[p] : 0; break;
			case M_DEAD: v = p < st.nparts ? st.dead[p] : 0; break;
			default: break;
			}
			part_line(o, pm[m].name, name, p, v);
		}
	}
	free(tps);
}

static void table_metrics(br_buf *o, br_log *log, br_tier *tier)
{
	static const char *names[] = { "braid_lake_commits_total", "braid_lake_bytes_written_total",
				       "braid_lake_last_commit_timestamp_seconds" };
	static const char *types[] = { "counter", "counter", "gauge" };
	static const char *helps[] = { "Data commits (Iceberg snapshots) tiering made to the topic's table.",
				       "Parquet bytes those commits published.",
				       "Wall-clock time of the last commit (0: none since start)." };
	br_topic **tps;
	size_t nt = br_log_topics(log, &tps);
	for (int k = 0; k < 3; k++) {
		help(o, names[k], types[k], helps[k]);
		for (size_t i = 0; tier && i < nt; i++) {
			const char *name = br_topic_name(tps[i]);
			br_tier_stats st;
			if (!br_tier_stats_get(tier, name, &st) || !st.ready)
				continue;
			char v[48];
			if (k == 0)
				snprintf(v, sizeof v, "%" PRId64, st.commits);
			else if (k == 1)
				snprintf(v, sizeof v, "%" PRId64, st.bytes_written);
			else
				snprintf(v, sizeof v, "%" PRId64 ".%03d", st.last_commit_ms / 1000,
					 (int)(st.last_commit_ms % 1000));
			topic_line(o, names[k], name, v);
		}
	}
	free(tps);
}

static void api_metrics(br_buf *o, const br_broker_stats *s)
{
	static const char *names[] = { "braid_kafka_requests_total", "braid_kafka_request_bytes_total",
				       "braid_kafka_response_bytes_total" };
	static const char *helps[] = { "Kafka requests received, per API.",
				       "Bytes of Kafka requests received (frames with size prefix), per API.",
				       "Bytes of Kafka responses sent, per API." };
	for (int k = 0; k < 3; k++) {
		help(o, names[k], "counter", helps[k]);
		const int64_t *v = k == 0 ? s->requests : k == 1 ? s->bytes_in : s->bytes_out;
		for (const br_kapi *a = br_kapis; a->fn; a++) {
			if (a->key < 0 || a->key >= BR_KSTATS_APIS)
				continue;
			/* produce and fetch always (dashboards expect them), others once used */
			if (!v[a->key] && a->key != BR_API_PRODUCE && a->key != BR_API_FETCH)
				continue;
			br_buf_printf(o, "%s{api=\"%s\"} %" PRId64 "\n", names[k], a->name, v[a->key]);
		}
	}
}

void br_http_metrics(struct br_broker *b, br_buf *out)
{
	br_log *log = br_broker_log(b);
	br_tier *tier = br_broker_tier(b);
	help(out, "braid_up", "gauge", "1 while the server answers.");
	br_buf_printf(out, "braid_up 1\n");
	for (pmetric m = M_LEO; m < M_NPART; m++)
		partition_metrics(out, log, tier, m);
	table_metrics(out, log, tier);
	api_metrics(out, br_broker_stats_get(b));
}
