/* cli.h — the subcommands of the braid binary, one entry point each. */
#ifndef BR_CLI_H
#define BR_CLI_H

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
int br_cli_topic(int argc, char **argv); /* braid topic ... (topic.c) */

#endif
