/* cli.h — the subcommands of the braid binary, one entry point each. */
#ifndef BR_CLI_H
#define BR_CLI_H

int br_cli_table(int argc, char **argv); /* braid table ... (table.c) */
int br_cli_topic(int argc, char **argv); /* braid topic ... (topic.c) */

#endif
