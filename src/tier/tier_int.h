/* tier_int.h — what tier.c needs from tier_json.c: the value columns of a json
 * mode table and the schema-driven JSON parser that fills them. Internal to
 * tier/ (and the fuzz harness, which feeds it outside bytes). */
#ifndef BR_TIER_INT_H
#define BR_TIER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "iceberg/iceberg.h"
#include "types/types.h"

/* Adds the value columns (field ids from 10 up) to the table's root struct from
 * braid.lake.schema: an Iceberg schema JSON (its fields are renumbered); NULL or
 * "infer" adds none (inference adds them as they appear). */
int br_tier_json_add_columns(br_type *root, const char *schema_cfg, br_err *err);

/* A reusable parser (one per thread). */
typedef struct br_tjson br_tjson;
br_tjson *br_tjson_new(void);
void br_tjson_free(br_tjson *j);
/* Parses one record value p[0..n) (syntax only; must be an object). On failure
 * a reason is written to reason[0..cap) and a negative BR_E* returned. The parse
 * stays valid (and p must stay alive) until the next br_tjson_parse. */
int br_tjson_parse(br_tjson *j, const uint8_t *p, size_t n, char *reason, size_t cap);
/* Schema changes the parsed value needs to fit root's columns from index
 * `first` on (new columns, int -> long). *ch points into j (valid until the next
 * call). A failure means the record must be dead-lettered. */
int br_tjson_infer(br_tjson *j, const br_type *root, int first, const br_ice_schema_change **ch, size_t *n,
		   char *reason, size_t cap);
/* Whether the parsed value converts to root's columns from `first` on. */
int br_tjson_check(br_tjson *j, const br_type *root, int first, char *reason, size_t cap);
/* Appends the parsed value to b's columns from `first` on: all or nothing (a
 * failing value appends nothing). Each of those columns gets one slot. */
int br_tjson_append(br_tjson *j, br_batch *b, int first, char *reason, size_t cap);

/* Whether p[0..n) is well-formed UTF-8. */
bool br_tier_utf8_valid(const uint8_t *p, size_t n);

#endif
