/* pg_int.h — pgwire's internal interface between the br_sql executor
 * (sqlexec.c), the virtual system catalog (pgcatalog.c) and the delta
 * streams of SUBSCRIBE (subscribe.c). Nothing outside src/pgwire includes it. */
#ifndef BR_PG_INT_H
#define BR_PG_INT_H

#include "pgwire/pgwire.h"
#include "sql/sql.h"

/* ------------------------------------------------------------ pgcatalog.c */

/* Whether sql reads PostgreSQL's system catalog (pg_catalog.*,
 * information_schema.*, or one of the pg_* relations by its bare name). */
bool br_pgcat_wants(const char *sql);
/* Answers one such statement from braid's real tables and views (res gets a
 * br_sql_result in priv, freed by the executor's result_free). Statements of
 * a shape it does not know fail with 0A000 naming what is answered, never
 * with a made-up answer. */
int br_pgcat_answer(br_sql *sql, const char *user, const char *stmt, br_pg_result *res, br_pg_error *e);

/* SET / SHOW of run-time parameters: 1 when stmt is neither (not handled),
 * 0 answered, -1 error. app_name is the session's application_name (owned). */
int br_pgcat_setting(const char *stmt, char **app_name, br_pg_result *res, br_pg_error *e);

/* ------------------------------------------------------------ subscribe.c */

typedef struct br_pg_sub br_pg_sub;

/* Whether stmt is SUBSCRIBE (or COPY (SUBSCRIBE ...) TO STDOUT). */
bool br_pgsub_is(const char *stmt);
/* Parses and checks a SUBSCRIBE against hub's session and fills res as a
 * stream answer (COPY out: _frontier, _weight, then the view's columns). The
 * subscription starts at br_pgsub_attach. */
int br_pgsub_prepare(br_pg_hub *hub, const char *stmt, br_pg_result *res, br_pg_error *e);
/* The protocol layer sent CopyOutResponse on conn: register the stream (and
 * send the snapshot when asked). Returns the subscription, owned by the hub. */
br_pg_sub *br_pgsub_attach(br_pg_hub *hub, br_pg_result *res, br_pg_conn *conn);
/* result_free for a stream answer. */
void br_pgsub_result_free(br_pg_result *res);
br_sql *br_pgsub_hub_sql(br_pg_hub *h);
/* A DROP ran: streams of views that are gone end with an error. */
void br_pgsub_views_changed(br_pg_hub *h);
/* The stream ended (client gone, cancel, or dropped for a full buffer). */
void br_pgsub_detach(br_pg_hub *hub, br_pg_sub *sub);

#endif
