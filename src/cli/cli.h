/* cli.h — the subcommands of the braid binary, one entry point each. */
#ifndef BR_CLI_H
#define BR_CLI_H

#include <stdint.h>

#include "base/err.h"

int br_cli_table(int argc, char **argv); /* braid table ... (table.c) */

/* `braid serve --demo` (demo.c): a Nexmark generator feeding topics persons,
 * auctions, bids and the SQL tables of the same names, plus example views. */
typedef struct br_demo_opts {
	int64_t rate;        /* events per second (default 1000) */
	uint64_t seed;       /* default 42 */
	int64_t start_ms;    /* event time of event 0; -1 (default) = now */
	int64_t max_events;  /* stop after this many; -1 (default) = never */
} br_demo_opts;
typedef struct br_demo br_demo;
struct br_broker;
struct br_sql;
struct br_pg_hub;
void br_demo_opts_default(br_demo_opts *o);
/* Creates the topics (refusing ones that already hold records), tables and
 * views, and starts producing on the broker's loop. Owned by the caller. */
int br_demo_start(br_demo **out, struct br_broker *b, struct br_sql *sql, struct br_pg_hub *hub,
		  const br_demo_opts *o, br_err *err);
/* Stops producing and closes the timer (before br_broker_close). */
void br_demo_stop(br_demo *d);

#endif
