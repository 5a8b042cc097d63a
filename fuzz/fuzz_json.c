/* fuzz_json.c — libFuzzer harness for tiering's schema-driven JSON parser
 * (src/tier/tier_json.c), which decodes record values produced by anyone.
 * Input: a selector byte (bit 0: a declared schema with nested struct, list,
 * map, date and timestamp columns; else an inferred one), then the value.
 * Checks beyond "no crash": a failed row appends nothing (all or nothing), a
 * good row leaves a batch that validates, inference never fails on a parsed
 * value and its changes name a path and a type. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tier/tier_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *SCHEMA =
	"{\"type\":\"struct\",\"schema-id\":0,\"fields\":["
	"{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"n\",\"required\":false,\"type\":\"int\"},"
	"{\"id\":3,\"name\":\"p\",\"required\":false,\"type\":\"double\"},"
	"{\"id\":4,\"name\":\"f\",\"required\":false,\"type\":\"float\"},"
	"{\"id\":5,\"name\":\"s\",\"required\":false,\"type\":\"string\"},"
	"{\"id\":6,\"name\":\"ts\",\"required\":false,\"type\":\"timestamptz\"},"
	"{\"id\":7,\"name\":\"d\",\"required\":false,\"type\":\"date\"},"
	"{\"id\":8,\"name\":\"b\",\"required\":false,\"type\":\"boolean\"},"
	"{\"id\":9,\"name\":\"l\",\"required\":false,\"type\":{\"type\":\"list\",\"element-id\":10,\"element\":\"int\",\"element-required\":false}},"
	"{\"id\":11,\"name\":\"m\",\"required\":false,\"type\":{\"type\":\"map\",\"key-id\":12,\"key\":\"string\",\"value-id\":13,\"value\":\"binary\",\"value-required\":false}},"
	"{\"id\":14,\"name\":\"st\",\"required\":false,\"type\":{\"type\":\"struct\",\"fields\":["
	"{\"id\":15,\"name\":\"a\",\"required\":true,\"type\":\"int\"},"
	"{\"id\":16,\"name\":\"t\",\"required\":false,\"type\":\"timestamp\"}]}}]}";

static br_type *roots[2];
static br_tjson *json;

static void setup(void)
{
	for (int k = 0; k < 2; k++) {
		br_type *st = br_type_struct();
		const char *meta[] = { "_partition", "_offset", "_timestamp", "_append_time", "_key", "_headers" };
		for (int i = 0; i < 6; i++)
			br_type_struct_add(st, i + 1, meta[i], false, br_type_new(BR_T_BINARY), NULL);
		if (br_tier_json_add_columns(st, k ? SCHEMA : "infer", NULL))
			abort();
		roots[k] = st;
	}
	json = br_tjson_new();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!json)
		setup();
	if (size < 1)
		return 0;
	const br_type *root = roots[data[0] & 1];
	char reason[256];
	if (br_tjson_parse(json, data + 1, size - 1, reason, sizeof reason)) {
		if (!reason[0])
			abort();
		return 0;
	}
	const br_ice_schema_change *ch;
	size_t n;
	if (br_tjson_infer(json, root, 6, &ch, &n, reason, sizeof reason) == 0)
		for (size_t i = 0; i < n; i++)
			if (!ch[i].name || !ch[i].name[0] || !ch[i].type)
				abort();
	br_batch b;
	br_batch_init(&b, root, false);
	int ok = br_tjson_check(json, root, 6, reason, sizeof reason);
	int rc = br_tjson_append(json, &b, 6, reason, sizeof reason);
	if ((ok == 0) != (rc == 0))
		abort(); /* the check and the append must agree */
	for (int c = 6; c < b.ncols; c++)
		if (b.cols[c].len != (rc ? 0 : 1))
			abort(); /* all or nothing */
	if (!rc) {
		for (int c = 0; c < 6; c++)
			br_col_append_null(&b.cols[c]);
		br_batch_row_done(&b, 1);
		if (br_batch_validate(&b, NULL))
			abort();
	}
	br_batch_free(&b);
	return 0;
}
