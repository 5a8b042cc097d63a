/* tier_json.c — json lake mode: the value columns of a topic table and the
 * schema-driven JSON parser that fills them. */
#include <stdio.h>

#include "tier/tier_int.h"

int br_tier_json_add_columns(br_type *root, const char *schema_cfg, br_err *err)
{
	(void)root;
	(void)schema_cfg;
	return br_errf(err, BR_EUNSUPPORTED, "braid.lake.mode=json is not supported yet");
}

int br_tier_json_row(br_batch *b, int first, const uint8_t *p, size_t n, char *reason, size_t cap)
{
	(void)b;
	(void)first;
	(void)p;
	(void)n;
	snprintf(reason, cap, "json mode is not supported yet");
	return BR_EUNSUPPORTED;
}
