/* scram.h — the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as
 * PostgreSQL runs it inside SASL authentication messages. Internal to pgwire. */
#ifndef BR_PG_SCRAM_H
#define BR_PG_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct br_pg_scram br_pg_scram;

br_pg_scram *br_pg_scram_new(const char *password);
void br_pg_scram_free(br_pg_scram *s);
/* Feeds the body of one 'p' message (first SASLInitialResponse, then
 * SASLResponse). Returns 0 with the server-first-message in reply (send as
 * SASLContinue), 1 with the server-final-message (send as SASLFinal, then
 * the client is authenticated), BR_EINVAL when the password is wrong, or
 * BR_ECORRUPT / BR_EUNSUPPORTED for a malformed or unsupported exchange. */
int br_pg_scram_step(br_pg_scram *s, const uint8_t *body, size_t n, br_buf *reply, br_err *err);

#endif
