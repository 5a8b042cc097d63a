/* demo.c — `braid serve --demo`: a Nexmark generator (src/gen) on the
 * broker's loop that produces persons, auctions and bids as JSON records into
 * the topics of the SQL tables of the same names (through the log API, made
 * durable by the broker's group commit, tiered to kafka.<topic> like any
 * produce), and a few example views over them that psql can SELECT and
 * SUBSCRIBE to. The views follow the records as they follow any producer's:
 * the server's SQL follower polls the tables' topics.
 *
 * Every tick (100 ms) produces the events whose event time has come (start +
 * i/rate), at most 2 s worth, so a stalled loop catches up without one huge
 * append. On a data directory that already has the demo, it continues after
 * the events the topics hold (the generator is deterministic: skipping n
 * events reproduces its state), so a restart extends the same sequence. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/util.h"
#include "cli/cli.h"
#include "gen/nexmark.h"
#include "kafka/broker.h"
#include "log/records.h"
#include "sql/sql.h"

#define TICK_MS 100

static const char *const setup_sql[] = {
	"CREATE TABLE IF NOT EXISTS persons (id bigint, name text, email text, city text, state text, "
	"date_time bigint) WITH (commit_interval = '5s')",
	"CREATE TABLE IF NOT EXISTS auctions (id bigint, item_name text, seller bigint, category bigint, "
	"initial_bid bigint, reserve bigint, date_time bigint, expires bigint) WITH (commit_interval = '5s')",
	"CREATE TABLE IF NOT EXISTS bids (auction bigint, bidder bigint, price bigint, channel text, "
	"date_time bigint) WITH (commit_interval = '5s')",
	/* a count per channel */
	"CREATE MATERIALIZED VIEW IF NOT EXISTS bids_per_channel AS SELECT channel, count(*) AS bids, "
	"max(price) AS top_price FROM bids GROUP BY channel",
	/* a tumbling window of 10 s of event time (date_time is ms since the epoch) */
	"CREATE MATERIALIZED VIEW IF NOT EXISTS bids_per_10s AS SELECT date_time / 10000 * 10000 AS window_start, "
	"count(*) AS bids, sum(price) AS volume FROM bids GROUP BY date_time / 10000",
	/* a join: bids with their auctions, per category */
	"CREATE MATERIALIZED VIEW IF NOT EXISTS category_volume AS SELECT a.category, count(*) AS bids, "
	"sum(b.price) AS volume, max(b.price) AS top_price FROM bids b JOIN auctions a ON a.id = b.auction "
	"GROUP BY a.category",
};

struct br_demo {
	uv_timer_t timer;
	bool closed;
	br_broker *b;
	br_sql *sql;
	br_demo_opts o;
	br_nx_gen gen;
	int64_t produced;
	br_partition *parts[3];
	br_rb_builder rb[3];
	br_buf bytes, json;
};

static const char *const tables[3] = { "persons", "auctions", "bids" };

void br_demo_opts_default(br_demo_opts *o)
{
	memset(o, 0, sizeof *o);
	o->rate = 1000;
	o->seed = 42;
	o->start_ms = -1;
	o->max_events = -1;
}

/* One tick: the due events into the tables' topics. */
static int produce(br_demo *d, int64_t n, br_err *err)
{
	for (int64_t i = 0; i < n; i++) {
		br_nx_event e;
		br_nx_next(&d->gen, &e);
		int k = (int)e.kind;
		br_buf_reset(&d->json);
		br_nx_json(&e, &d->json);
		char key[32];
		int kl = snprintf(key, sizeof key, "%" PRId64, e.kind == BR_NX_BID ? e.auction : e.id);
		br_rb_add(&d->rb[k], e.date_time, key, kl, d->json.p, (int32_t)d->json.len, NULL, 0);
	}
	d->produced += n;
	for (int k = 0; k < 3; k++) {
		br_buf_reset(&d->bytes);
		int rc = br_rb_finish(&d->rb[k], &d->bytes, err);
		if (!rc && d->bytes.len) {
			br_append_result res;
			rc = br_partition_append(d->parts[k], d->bytes.p, d->bytes.len, br_now_ms(), &res, err);
			if (!rc && res.status != BR_APPEND_OK)
				rc = br_errf(err, BR_EINVAL, "demo: append to %s refused: %s", tables[k], res.msg);
		}
		if (rc)
			return rc;
	}
	br_broker_flush_soon(d->b);
	return 0;
}

static void on_tick(uv_timer_t *t)
{
	br_demo *d = t->data;
	int64_t due = (br_now_ms() - d->o.start_ms) * d->o.rate / 1000 + 1;
	if (d->o.max_events >= 0 && due > d->o.max_events)
		due = d->o.max_events;
	int64_t n = due - d->produced;
	if (n > 2 * d->o.rate)
		n = 2 * d->o.rate;
	if (n <= 0)
		return;
	br_err err = { 0 };
	if (produce(d, n, &err)) {
		br_logf(BR_LOG_ERROR, "demo generator stopped: %s", err.msg);
		uv_timer_stop(&d->timer);
	}
}

int br_demo_start(br_demo **out, br_broker *b, br_sql *sql, const br_demo_opts *o, br_err *err)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < BR_ARRAY_LEN(setup_sql); i++)
		if ((rc = br_sql_exec(sql, setup_sql[i], NULL, err)))
			return br_errctx(err, "%s", setup_sql[i]);
	br_demo *d = br_xcalloc(1, sizeof *d);
	d->b = b;
	d->sql = sql;
	d->o = *o;
	/* the events the topics already hold (a restarted demo); one partition each */
	br_log *log = br_broker_log(b);
	int64_t held = 0;
	for (int k = 0; k < 3; k++) {
		br_topic *tp = br_log_topic(log, tables[k], strlen(tables[k]));
		if (!tp || br_topic_partition_count(tp) != 1) {
			free(d);
			return br_errf(err, BR_EINVAL, "table %s is not the demo's (its topic must have one partition)",
				       tables[k]);
		}
		d->parts[k] = br_topic_partition(tp, 0);
		held += br_partition_end_offset(d->parts[k]);
	}
	if (d->o.max_events >= 0 && held > d->o.max_events)
		held = d->o.max_events;
	if (d->o.start_ms < 0) /* event `held` is due now */
		d->o.start_ms = br_now_ms() - held * 1000 / d->o.rate;
	br_nx_init(&d->gen, d->o.seed, d->o.start_ms, d->o.rate);
	for (int64_t i = 0; i < held; i++) { /* deterministic: replaying reproduces the state */
		br_nx_event e;
		br_nx_next(&d->gen, &e);
	}
	d->produced = held;
	for (int k = 0; k < 3; k++) {
		br_rb_opts ro;
		br_rb_opts_default(&ro);
		br_rb_builder_init(&d->rb[k], &ro);
	}
	uv_timer_init(br_broker_loop(b), &d->timer);
	d->timer.data = d;
	uv_timer_start(&d->timer, on_tick, 0, TICK_MS);
	*out = d;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	((br_demo *)h->data)->closed = true;
}

void br_demo_stop(br_demo *d)
{
	if (!d)
		return;
	uv_close((uv_handle_t *)&d->timer, on_closed);
	for (int i = 0; !d->closed && i < 1000; i++)
		uv_run(d->timer.loop, UV_RUN_NOWAIT);
	for (int k = 0; k < 3; k++)
		br_rb_builder_free(&d->rb[k]);
	br_buf_free(&d->bytes);
	br_buf_free(&d->json);
	free(d);
}
