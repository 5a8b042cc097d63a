/* tier_int.h — what tier.c needs from tier_json.c: the value columns of a json
 * mode table and the schema-driven JSON parser that fills them. Internal to tier/. */
#ifndef BR_TIER_INT_H
#define BR_TIER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "types/types.h"

/* Adds the value columns (field ids from 10 up) to the table's root struct from
 * braid.lake.schema: an Iceberg schema JSON (its fields are renumbered). */
int br_tier_json_add_columns(br_type *root, const char *schema_cfg, br_err *err);

/* Parses one JSON object value p[0..n) into the value columns of b, which start
 * at column index `first` and follow the table's schema. All or nothing: on
 * failure nothing is appended, the reason is written and a negative BR_E* is
 * returned. On success every value column received exactly one slot (the caller
 * then appends the metadata columns and ends the row). */
int br_tier_json_row(br_batch *b, int first, const uint8_t *p, size_t n, char *reason, size_t cap);

#endif
