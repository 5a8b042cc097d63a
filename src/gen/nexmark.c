/* nexmark.c — the Nexmark-style event generator (see nexmark.h): a
 * splitmix64 stream drives every choice, so events depend only on the seed,
 * the start time, the rate and the event number. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gen/nexmark.h"

static const char *const first_names[] = { "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah",
					    "Deiter", "Walter" };
static const char *const last_names[] = { "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith",
					   "Jones", "Noris" };
static const char *const cities[] = { "Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend",
				       "Redmond", "Seattle", "Kent", "Cheyenne" };
static const char *const states[] = { "AZ", "CA", "ID", "OR", "WA", "WY" };
static const char *const channels[] = { "web", "app", "partner", "api" };
static const char *const items[] = { "lamp", "bike", "guitar", "camera", "watch", "chair", "book", "poster" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rnd(br_nx_gen *g)
{
	uint64_t z = (g->state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void br_nx_init(br_nx_gen *g, uint64_t seed, int64_t start_ms, int64_t rate)
{
	memset(g, 0, sizeof *g);
	g->state = seed;
	g->start_ms = start_ms;
	g->rate = rate > 0 ? rate : 1;
}

/* An id among the last `window` of count ids starting at 1000 (recent ones
 * are hot, as in Nexmark). count >= 1. */
static int64_t recent(br_nx_gen *g, int64_t count, int64_t window)
{
	int64_t w = count < window ? count : window;
	return 1000 + count - 1 - (int64_t)(rnd(g) % (uint64_t)w);
}

void br_nx_next(br_nx_gen *g, br_nx_event *e)
{
	int64_t i = g->next++;
	memset(e, 0, sizeof *e);
	e->date_time = g->start_ms + i * 1000 / g->rate;
	int slot = (int)(i % 50);
	if (slot == 0) {
		e->kind = BR_NX_PERSON;
		e->id = 1000 + g->persons++;
		const char *first = first_names[rnd(g) % N(first_names)];
		const char *last = last_names[rnd(g) % N(last_names)];
		snprintf(e->name, sizeof e->name, "%s %s", first, last);
		snprintf(e->email, sizeof e->email, "%s.%" PRId64 "@example.com", first, e->id);
		e->city = cities[rnd(g) % N(cities)];
		e->state = states[rnd(g) % N(states)];
	} else if (slot <= 3) {
		e->kind = BR_NX_AUCTION;
		e->id = 1000 + g->auctions++;
		snprintf(e->item_name, sizeof e->item_name, "%s #%" PRId64, items[rnd(g) % N(items)], e->id);
		e->seller = recent(g, g->persons, 50);
		e->category = 10 + (int64_t)(rnd(g) % 5);
		e->initial_bid = 1 + (int64_t)(rnd(g) % 100);
		e->reserve = e->initial_bid + (int64_t)(rnd(g) % 1000);
		e->expires = e->date_time + 10000 + (int64_t)(rnd(g) % 50000);
	} else {
		e->kind = BR_NX_BID;
		e->auction = recent(g, g->auctions, 20);
		e->bidder = recent(g, g->persons, 100);
		e->price = 1 + (int64_t)(rnd(g) % 10000);
		e->channel = channels[rnd(g) % N(channels)];
	}
}

const char *br_nx_topic(br_nx_kind k) { return k == BR_NX_PERSON ? "persons" : k == BR_NX_AUCTION ? "auctions" : "bids"; }

void br_nx_json(const br_nx_event *e, br_buf *out)
{
	char b[512];
	int n;
	/* the strings are ours: letters, digits, spaces, '.', '@', '#' — no JSON escapes needed */
	if (e->kind == BR_NX_PERSON)
		n = snprintf(b, sizeof b,
			     "{\"id\":%" PRId64 ",\"name\":\"%s\",\"email\":\"%s\",\"city\":\"%s\",\"state\":\"%s\","
			     "\"date_time\":%" PRId64 "}",
			     e->id, e->name, e->email, e->city, e->state, e->date_time);
	else if (e->kind == BR_NX_AUCTION)
		n = snprintf(b, sizeof b,
			     "{\"id\":%" PRId64 ",\"item_name\":\"%s\",\"seller\":%" PRId64 ",\"category\":%" PRId64
			     ",\"initial_bid\":%" PRId64 ",\"reserve\":%" PRId64 ",\"date_time\":%" PRId64
			     ",\"expires\":%" PRId64 "}",
			     e->id, e->item_name, e->seller, e->category, e->initial_bid, e->reserve, e->date_time,
			     e->expires);
	else
		n = snprintf(b, sizeof b,
			     "{\"auction\":%" PRId64 ",\"bidder\":%" PRId64 ",\"price\":%" PRId64
			     ",\"channel\":\"%s\",\"date_time\":%" PRId64 "}",
			     e->auction, e->bidder, e->price, e->channel, e->date_time);
	br_buf_put(out, b, (size_t)n);
}
