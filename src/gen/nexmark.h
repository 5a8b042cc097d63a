/* nexmark.h — a deterministic generator of Nexmark-style events (persons,
 * auctions, bids), for `braid serve --demo`, tests and benchmarks.
 *
 * Same seed, same start time and same rate: the same events, byte for byte.
 * Event i is a person, an auction or a bid in Nexmark's proportion 1:3:46
 * (by i mod 50), its event time is start_ms + i * 1000 / rate (so `rate`
 * events per second of event time), and every reference it holds (a bid's
 * auction and bidder, an auction's seller) names an earlier event, so joins
 * always find their partner. Plain data, no allocation. */
#ifndef BR_GEN_NEXMARK_H
#define BR_GEN_NEXMARK_H

#include <stdint.h>

#include "base/buf.h"

typedef enum br_nx_kind { BR_NX_PERSON, BR_NX_AUCTION, BR_NX_BID } br_nx_kind;

typedef struct br_nx_event {
	br_nx_kind kind;
	int64_t date_time;   /* ms since the epoch */
	/* person */
	int64_t id;          /* person id or auction id */
	const char *city, *state;
	char name[48], email[64];
	/* auction */
	char item_name[48];
	int64_t seller, category, initial_bid, reserve, expires;
	/* bid */
	int64_t auction, bidder, price;
	const char *channel;
} br_nx_event;

typedef struct br_nx_gen {
	uint64_t state;      /* splitmix64 */
	int64_t start_ms, rate, next;
	int64_t persons, auctions;  /* counts so far: ids are 1000 + count */
} br_nx_gen;

/* rate >= 1 events per second of event time. */
void br_nx_init(br_nx_gen *g, uint64_t seed, int64_t start_ms, int64_t rate);
/* The next event (event number g->next, then advances). */
void br_nx_next(br_nx_gen *g, br_nx_event *e);
/* The event as one JSON object (appended to out, no newline); its topic name. */
void br_nx_json(const br_nx_event *e, br_buf *out);
const char *br_nx_topic(br_nx_kind k);

#endif
