/* cli.h — the subcommands of the braid binary, one entry point each. */
#ifndef BR_CLI_H
#define BR_CLI_H

#include <stdint.h>

#include "base/err.h"

int br_cli_table(int argc, char **argv); /* braid table ... (table.c) */
int br_cli_sql(int argc, char **argv);   /* braid sql ... (sql.c) */

/* braid serve: a timer on the broker's loop that polls the SQL session every
 * period_ms, so views follow records produced to tables' topics even when no
 * statement runs (sql.c). Stop it before the loop closes; it frees itself. */
struct uv_loop_s;
struct br_sql;
typedef struct br_sql_follower br_sql_follower;
br_sql_follower *br_cli_sql_follow(struct uv_loop_s *loop, struct br_sql *sql, int period_ms);
void br_cli_sql_follow_stop(br_sql_follower *f);
/* Polls now (a group commit made records readable); arg is the follower. */
void br_cli_sql_follow_now(void *follower);
int br_cli_topic(int argc, char **argv); /* braid topic ... (topic.c) */

/* `braid serve --demo` (demo.c): a Nexmark generator feeding the SQL tables
 * persons, auctions, bids (topics of the same names), plus example views. */
typedef struct br_demo_opts {
	int64_t rate;        /* events per second (default 1000) */
	uint64_t seed;       /* default 42 */
	int64_t start_ms;    /* event time of event 0; -1 (default) = now */
	int64_t max_events;  /* stop after this many; -1 (default) = never */
} br_demo_opts;
typedef struct br_demo br_demo;
struct br_broker;
struct br_sql;
void br_demo_opts_default(br_demo_opts *o);
/* Creates the tables and views unless they exist, and starts producing on
 * the broker's loop, after the events the tables' topics already hold (a
 * restarted demo continues the same sequence). Owned by the caller. */
int br_demo_start(br_demo **out, struct br_broker *b, struct br_sql *sql, const br_demo_opts *o, br_err *err);
/* Stops producing and closes the timer (before br_broker_close). */
void br_demo_stop(br_demo *d);

#endif
