/* demo.c — `braid serve --demo`: a Nexmark generator (src/gen) on the
 * broker's loop that produces persons, auctions and bids as JSON records into
 * the topics of the same names (through the log API, made durable by the
 * broker's group commit, tiered to kafka.<topic> like any produce), and a few
 * example views over them that psql can SELECT and SUBSCRIBE to.
 *
 * Until SQL tables are backed by topics, the generator also applies each
 * batch of events to SQL tables persons / auctions / bids (br_sql_apply), so
 * the views see exactly the events the topics received, batch for batch; the
 * SUBSCRIBE frontier says which topic offsets a step reflects. Every tick
 * (100 ms) produces the events whose event time has come (start + i/rate),
 * at most 2 s worth, so a stalled loop catches up without one huge step. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "base/util.h"
#include "cli/cli.h"
#include "flow/flow.h"
#include "gen/nexmark.h"
#include "kafka/broker.h"
#include "log/records.h"
#include "pgwire/pgwire.h"
#include "sql/sql.h"

#define TICK_MS 100

static const char *const setup_sql[] = {
	"CREATE TABLE persons (id bigint, name text, email text, city text, state text, date_time bigint)",
	"CREATE TABLE auctions (id bigint, item_name text, seller bigint, category bigint, initial_bid bigint, "
	"reserve bigint, date_time bigint, expires bigint)",
	"CREATE TABLE bids (auction bigint, bidder bigint, price bigint, channel text, date_time bigint)",
	/* a count per channel */
	"CREATE VIEW bids_per_channel AS SELECT channel, count(*) AS bids, max(price) AS top_price "
	"FROM bids GROUP BY channel",
	/* a tumbling window of 10 s of event time (date_time is ms since the epoch) */
	"CREATE VIEW bids_per_10s AS SELECT date_time / 10000 * 10000 AS window_start, count(*) AS bids, "
	"sum(price) AS volume FROM bids GROUP BY date_time / 10000",
	/* a join: bids with their auctions, per category */
	"CREATE VIEW category_volume AS SELECT a.category, count(*) AS bids, sum(b.price) AS volume, "
	"max(b.price) AS top_price FROM bids b JOIN auctions a ON a.id = b.auction GROUP BY a.category",
};

struct br_demo {
	uv_timer_t timer;
	bool closed;
	br_broker *b;
	br_sql *sql;
	br_pg_hub *hub;
	br_demo_opts o;
	br_nx_gen gen;
	int64_t produced;
	br_partition *parts[3];
	br_rb_builder rb[3];
	br_batch delta[3];
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

static br_value vs(const char *s) { return br_value_bytes(BR_T_STRING, s, strlen(s)); }
static br_value vl(int64_t x) { return br_value_i64(BR_T_LONG, x); }

/* The event as a row of its SQL table (the same fields as its JSON). */
static int event_row(const br_nx_event *e, br_value *r)
{
	if (e->kind == BR_NX_PERSON) {
		r[0] = vl(e->id), r[1] = vs(e->name), r[2] = vs(e->email), r[3] = vs(e->city), r[4] = vs(e->state);
		r[5] = vl(e->date_time);
	} else if (e->kind == BR_NX_AUCTION) {
		r[0] = vl(e->id), r[1] = vs(e->item_name), r[2] = vl(e->seller), r[3] = vl(e->category);
		r[4] = vl(e->initial_bid), r[5] = vl(e->reserve), r[6] = vl(e->date_time), r[7] = vl(e->expires);
	} else {
		r[0] = vl(e->auction), r[1] = vl(e->bidder), r[2] = vl(e->price), r[3] = vs(e->channel);
		r[4] = vl(e->date_time);
	}
	return (int)e->kind;
}

/* One tick: the due events into the topics, then into the SQL tables. */
static int produce(br_demo *d, int64_t n, br_err *err)
{
	br_value row[8];
	for (int64_t i = 0; i < n; i++) {
		br_nx_event e;
		br_nx_next(&d->gen, &e);
		int k = event_row(&e, row);
		br_buf_reset(&d->json);
		br_nx_json(&e, &d->json);
		char key[32];
		int kl = snprintf(key, sizeof key, "%" PRId64, e.kind == BR_NX_BID ? e.auction : e.id);
		br_rb_add(&d->rb[k], e.date_time, key, kl, d->json.p, (int32_t)d->json.len, NULL, 0);
		br_batch_append_row(&d->delta[k], row, 1);
	}
	d->produced += n;
	char frontier[160];
	int fl = 0;
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
		fl += snprintf(frontier + fl, sizeof frontier - (size_t)fl, "%s%s/0:%" PRId64, k ? " " : "", tables[k],
			       br_partition_end_offset(d->parts[k]));
	}
	br_broker_flush_soon(d->b);
	br_pg_hub_set_frontier(d->hub, frontier);
	for (int k = 0; k < 3; k++) {
		int rc = d->delta[k].nrows ? br_sql_apply(d->sql, tables[k], &d->delta[k], err) : 0;
		const br_type *t = d->delta[k].type;
		br_batch_free(&d->delta[k]);
		br_batch_init(&d->delta[k], t, true);
		if (rc)
			return rc;
	}
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

int br_demo_start(br_demo **out, br_broker *b, br_sql *sql, br_pg_hub *hub, const br_demo_opts *o, br_err *err)
{
	br_demo *d = br_xcalloc(1, sizeof *d);
	d->b = b;
	d->sql = sql;
	d->hub = hub;
	d->o = *o;
	if (d->o.start_ms < 0)
		d->o.start_ms = br_now_ms();
	br_nx_init(&d->gen, d->o.seed, d->o.start_ms, d->o.rate);
	br_log *log = br_broker_log(b);
	static const char *const cfg[] = { "braid.lake.mode", "json", "braid.lake.commit.interval.ms", "5000" };
	int rc = 0;
	for (int k = 0; k < 3 && !rc; k++) {
		br_topic *tp = br_log_topic(log, tables[k], strlen(tables[k]));
		if (!tp && !(rc = br_log_create_topic(log, tables[k], 1, cfg, 2, err)))
			tp = br_log_topic(log, tables[k], strlen(tables[k]));
		if (rc)
			break;
		if (br_partition_end_offset(br_topic_partition(tp, 0)) > 0) {
			/* the SQL tables are in memory: old records would be in the
			 * topics but not in the views, and the views must stay true */
			rc = br_errf(err, BR_EEXIST,
				     "demo: topic %s already has records; start the demo on a fresh --data directory",
				     tables[k]);
			break;
		}
		d->parts[k] = br_topic_partition(tp, 0);
	}
	for (size_t i = 0; !rc && i < BR_ARRAY_LEN(setup_sql); i++)
		if ((rc = br_sql_exec(sql, setup_sql[i], NULL, err)))
			br_errctx(err, "demo: %s", setup_sql[i]);
	if (rc) {
		free(d);
		return rc;
	}
	br_catalog *cat = br_sql_catalog(sql);
	for (int k = 0; k < 3; k++) {
		br_rb_opts ro;
		br_rb_opts_default(&ro);
		br_rb_builder_init(&d->rb[k], &ro);
		br_batch_init(&d->delta[k], cat->vt->find(cat, tables[k])->rowtype, true);
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
	for (int k = 0; k < 3; k++) {
		br_rb_builder_free(&d->rb[k]);
		br_batch_free(&d->delta[k]);
	}
	br_buf_free(&d->bytes);
	br_buf_free(&d->json);
	free(d);
}
