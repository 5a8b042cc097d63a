/* topics.c — SHOW TOPICS over the topic catalog: each topic of the log with
 * its partitions, lake mode, what the log holds and how far the lake has
 * caught up (the frontier from the table's current snapshot on disk). */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "log/log.h"
#include "sql/sql.h"
#include "tier/tier.h"

void br_topic_rows_free(br_topic_row *rows, int n)
{
	for (int i = 0; i < n; i++) {
		free(rows[i].name);
		free(rows[i].lake_mode);
	}
	free(rows);
}

/* Lake figures of one topic from its table's snapshot; -1 when it has none. */
static void lake_figures(const char *data_dir, br_topic *t, br_topic_row *r)
{
	r->lake_frontier = r->lake_lag = r->dead_lettered = -1;
	int64_t *fr = NULL, dl = 0;
	int32_t n = 0;
	br_err err = { 0 };
	if (br_tier_frontier_read(data_dir, br_topic_name(t), &fr, &n, NULL, &dl, &err))
		return;
	r->lake_frontier = r->lake_lag = 0;
	r->dead_lettered = dl;
	for (int32_t p = 0; p < r->partitions; p++) {
		br_partition *part = br_topic_partition(t, p);
		int64_t f = p < n && fr[p] > 0 ? fr[p] : 0;
		int64_t end = part ? br_partition_end_offset(part) : 0;
		r->lake_frontier += f;
		r->lake_lag += end > f ? end - f : 0;
	}
	free(fr);
}

int br_catalog_show_topics(br_log *log, const char *data_dir, bool (*is_table)(void *, const char *), void *arg,
			   br_topic_row **rows, int *nrows)
{
	br_topic **ts = NULL;
	size_t n = br_log_topics(log, &ts);
	br_topic_row *out = br_xcalloc(n + 1, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		br_topic_row *r = &out[i];
		r->name = br_xstrdup(br_topic_name(ts[i]));
		const char *mode = br_topic_config(ts[i], "braid.lake.mode", NULL);
		r->lake_mode = br_xstrdup(mode ? mode : "off");
		r->partitions = br_topic_partition_count(ts[i]);
		for (int32_t p = 0; p < r->partitions; p++) {
			br_partition *part = br_topic_partition(ts[i], p);
			if (!part)
				continue;
			r->log_end += br_partition_end_offset(part);
			r->records += br_partition_end_offset(part) - br_partition_start_offset(part);
		}
		lake_figures(data_dir, ts[i], r);
		r->sql_table = is_table(arg, r->name);
	}
	free(ts);
	*rows = out;
	*nrows = (int)n;
	return 0;
}
