/* test_types.c — unit tests for src/types: Iceberg schema JSON round trip,
 * lookups by id and name, value ordering and text, the Arrow-layout batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "types/types.h"

static const char *schema_json =
	"{\"type\":\"struct\",\"schema-id\":3,\"identifier-field-ids\":[1],\"fields\":["
	"{\"id\":1,\"name\":\"id\",\"required\":true,\"type\":\"long\"},"
	"{\"id\":2,\"name\":\"price\",\"required\":false,\"type\":\"decimal(9, 2)\",\"doc\":\"in euros\"},"
	"{\"id\":3,\"name\":\"tags\",\"required\":false,\"type\":{\"type\":\"list\",\"element-id\":6,"
	"\"element\":\"string\",\"element-required\":true}},"
	"{\"id\":4,\"name\":\"attrs\",\"required\":false,\"type\":{\"type\":\"map\",\"key-id\":7,\"key\":\"string\","
	"\"value-id\":8,\"value\":\"double\",\"value-required\":false}},"
	"{\"id\":5,\"name\":\"loc\",\"required\":false,\"type\":{\"type\":\"struct\",\"fields\":["
	"{\"id\":9,\"name\":\"lat\",\"required\":true,\"type\":\"float\"},"
	"{\"id\":10,\"name\":\"h\",\"required\":false,\"type\":\"fixed[3]\"}]}}"
	"]}";

static void test_schema_json(void **state)
{
	(void)state;
	br_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(schema_json, strlen(schema_json), &s, &err), 0);
	assert_int_equal(s->schema_id, 3);
	assert_int_equal(s->max_id, 10);
	assert_int_equal(s->nidentifier, 1);
	const br_field *f = br_schema_find_id(s, 2);
	assert_non_null(f);
	assert_string_equal(f->name, "price");
	assert_int_equal(f->type->id, BR_T_DECIMAL);
	assert_int_equal(f->type->precision, 9);
	assert_int_equal(f->type->scale, 2);
	assert_string_equal(f->doc, "in euros");
	assert_ptr_equal(br_schema_find_name(s, "loc.h"), br_schema_find_id(s, 10));
	assert_ptr_equal(br_schema_find_name(s, "tags.element"), br_schema_find_id(s, 6));
	assert_ptr_equal(br_schema_find_name(s, "attrs.value"), br_schema_find_id(s, 8));
	assert_ptr_equal(br_schema_parent(s, 9), br_schema_find_id(s, 5));
	assert_null(br_schema_parent(s, 1));
	assert_int_equal(br_schema_find_id(s, 10)->type->length, 3);

	char *txt = br_schema_print(s);
	br_schema *s2;
	assert_int_equal(br_schema_parse(txt, strlen(txt), &s2, &err), 0);
	assert_true(br_type_equal(s->root, s2->root));
	assert_int_equal(s2->schema_id, 3);
	br_schema *s3 = br_schema_clone(s2);
	assert_true(br_type_equal(s->root, s3->root));
	free(txt);
	br_schema_free(s);
	br_schema_free(s2);
	br_schema_free(s3);
}

static void test_schema_errors(void **state)
{
	(void)state;
	const char *bad[] = {
		"{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":true,\"type\":\"int\"},"
		"{\"id\":1,\"name\":\"b\",\"required\":true,\"type\":\"int\"}]}",
		"{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":true,\"type\":\"decimal(40,2)\"}]}",
		"{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"a\",\"type\":\"int\"}]}",
		"{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":true,\"type\":\"varchar\"}]}",
		"{\"type\":\"struct\",\"fields\":[{\"id\":1,\"name\":\"a\",\"required\":true,\"type\":{\"type\":\"list\"}}]}",
		"[1,2",
		"{\"type\":\"list\"}",
	};
	for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++) {
		br_schema *s = (br_schema *)1;
		br_err err = { 0 };
		assert_true(br_schema_parse(bad[i], strlen(bad[i]), &s, &err) < 0);
		assert_null(s);
		assert_true(strlen(err.msg) > 0);
	}
}

static void test_value_format(void **state)
{
	(void)state;
	br_buf b = { 0 };
	br_value v = br_value_i64(BR_T_TIMESTAMP, 1700000000123456LL);
	br_value_format(&v, NULL, &b);
	br_buf_u8(&b, ' ');
	v = br_value_i32(BR_T_DATE, -1);
	br_value_format(&v, NULL, &b);
	br_buf_u8(&b, ' ');
	v = br_value_i64(BR_T_TIMESTAMPTZ, -1);
	br_value_format(&v, NULL, &b);
	br_buf_u8(&b, ' ');
	br_type *dt = br_type_decimal(9, 2);
	v.type = BR_T_DECIMAL;
	v.v.dec = -5;
	br_value_format(&v, dt, &b);
	br_buf_u8(&b, ' ');
	uint8_t u[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8 };
	v = br_value_bytes(BR_T_UUID, u, 16);
	br_value_format(&v, NULL, &b);
	br_buf_u8(&b, 0);
	assert_string_equal((char *)b.p, "2023-11-14T22:13:20.123456 1969-12-31 1969-12-31T23:59:59.999999+00:00 -0.05 "
					 "12345678-9abc-def0-0102-030405060708");
	br_type_free(dt);
	br_buf_free(&b);
}

static void test_value_cmp(void **state)
{
	(void)state;
	br_value a = br_value_f64(1.0), b = br_value_f64(NAN), n = br_value_null(BR_T_DOUBLE);
	assert_true(br_value_cmp(&a, &b) < 0);
	assert_true(br_value_cmp(&n, &a) < 0);
	assert_true(br_value_cmp(&a, &n) > 0);
	assert_int_equal(br_value_cmp(&n, &n), 0);
	br_value s1 = br_value_bytes(BR_T_STRING, "ab", 2), s2 = br_value_bytes(BR_T_STRING, "abc", 3);
	br_value s3 = br_value_bytes(BR_T_STRING, "\xff", 1);
	assert_true(br_value_cmp(&s1, &s2) < 0);
	assert_true(br_value_cmp(&s2, &s3) < 0);
}

static void test_batch_builder(void **state)
{
	(void)state;
	br_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_schema_parse(schema_json, strlen(schema_json), &s, &err), 0);
	br_batch b;
	br_batch_init(&b, s->root, true);
	for (int r = 0; r < 20; r++) {
		br_col_append_i64(&b.cols[0], r);
		if (r % 3 == 0)
			br_col_append_null(&b.cols[1]);
		else
			br_col_append_dec(&b.cols[1], r * 100 + 1);
		/* tags: r % 4 elements, null when r == 5 */
		if (r == 5) {
			br_col_append_null(&b.cols[2]);
		} else {
			for (int k = 0; k < r % 4; k++) {
				char t[16];
				snprintf(t, sizeof t, "t%d", k);
				br_col_append_bytes(&b.cols[2].children[0], t, strlen(t));
			}
			br_col_close_list(&b.cols[2]);
		}
		br_col_append_bytes(&b.cols[3].children[0], "k", 1);
		br_col_append_f64(&b.cols[3].children[1], r * 0.5);
		br_col_close_list(&b.cols[3]);
		if (r % 2) {
			br_col_append_null(&b.cols[4]);
		} else {
			br_col_append_f32(&b.cols[4].children[0], (float)r);
			br_col_append_bytes(&b.cols[4].children[1], "abc", 3);
			br_col_append_struct(&b.cols[4]);
		}
		br_batch_row_done(&b, r % 2 ? -1 : 1);
	}
	assert_int_equal(br_batch_validate(&b, &err), 0);
	assert_int_equal(b.nrows, 20);
	assert_int_equal(b.cols[1].null_count, 7);
	assert_false(br_col_valid(&b.cols[1], 0));
	assert_true(br_col_valid(&b.cols[1], 1));
	assert_true(br_col_valid(&b.cols[0], 19));
	assert_true(br_col_dec(&b.cols[1], 7) == 701);
	int64_t st, en;
	br_col_range(&b.cols[2], 7, &st, &en);
	assert_int_equal(en - st, 3);
	size_t n;
	const uint8_t *p = br_col_bytes(&b.cols[2].children[0], st + 2, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "t2", 2);
	br_col_range(&b.cols[2], 5, &st, &en);
	assert_int_equal(en, st);
	assert_false(br_col_valid(&b.cols[2], 5));
	assert_int_equal(b.cols[4].children[0].len, 20);
	assert_false(br_col_valid(&b.cols[4].children[0], 1));
	assert_int_equal(br_batch_weight(&b, 3), -1);
	br_value v = br_col_value(&b.cols[0], 4);
	assert_int_equal(v.v.i64, 4);

	/* a lying batch is refused, not trusted */
	b.cols[0].len--;
	assert_int_equal(br_batch_validate(&b, &err), BR_EINVAL);
	b.cols[0].len++;
	br_batch_reset(&b);
	assert_int_equal(b.nrows, 0);
	assert_int_equal(br_batch_validate(&b, &err), 0);
	br_batch_free(&b);
	br_schema_free(s);
}

static void test_bool_column(void **state)
{
	(void)state;
	br_type *t = br_type_new(BR_T_BOOLEAN);
	br_col c;
	br_col_init(&c, t);
	for (int i = 0; i < 100; i++) {
		if (i % 7 == 0)
			br_col_append_null(&c);
		else
			br_col_append_bool(&c, i % 3 == 0);
	}
	for (int i = 0; i < 100; i++) {
		assert_int_equal(br_col_valid(&c, i), i % 7 != 0);
		if (i % 7)
			assert_int_equal(br_col_bool(&c, i), i % 3 == 0);
	}
	br_col_free(&c);
	br_type_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_json),   cmocka_unit_test(test_schema_errors),
		cmocka_unit_test(test_value_format),  cmocka_unit_test(test_value_cmp),
		cmocka_unit_test(test_batch_builder), cmocka_unit_test(test_bool_column),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
