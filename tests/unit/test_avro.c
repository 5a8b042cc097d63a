/* test_avro.c — unit tests for src/iceberg/avro: every type round-trips through
 * each codec, named types and recursion resolve, and truncated or corrupted
 * files fail with a message naming the file, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "iceberg/avro.h"

static const char *all_schema =
	"{\"type\":\"record\",\"name\":\"all\",\"namespace\":\"t\",\"fields\":["
	"{\"name\":\"n\",\"type\":\"null\"},"
	"{\"name\":\"b\",\"type\":\"boolean\"},"
	"{\"name\":\"i\",\"type\":\"int\",\"field-id\":7},"
	"{\"name\":\"l\",\"type\":\"long\"},"
	"{\"name\":\"f\",\"type\":\"float\"},"
	"{\"name\":\"d\",\"type\":\"double\"},"
	"{\"name\":\"by\",\"type\":\"bytes\"},"
	"{\"name\":\"s\",\"type\":\"string\"},"
	"{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"color\",\"symbols\":[\"R\",\"G\",\"B\"]}},"
	"{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
	"{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
	"{\"name\":\"u\",\"type\":[\"null\",\"string\"]},"
	"{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"md5\",\"size\":4}},"
	"{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"inner\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}},"
	"{\"name\":\"r2\",\"type\":\"inner\"},"
	"{\"name\":\"e2\",\"type\":\"t.color\"}"
	"]}";

static br_avro_val make_row(br_arena *a, int k)
{
	br_avro_val v = br_avro_record(a, 16);
	v.items[0] = br_avro_null();
	v.items[1] = br_avro_bool(k & 1);
	v.items[2] = br_avro_int(-k * 1000);
	v.items[3] = br_avro_long((int64_t)k * 123456789012LL);
	v.items[4] = br_avro_float(1.5f * (float)k);
	v.items[5] = br_avro_double(-2.25 * k);
	v.items[6] = br_avro_bytes("\0\1\2", 3);
	v.items[7] = br_avro_str(k % 2 ? "odd" : "even");
	v.items[8] = br_avro_int(k % 3);
	v.items[9] = br_avro_array(a, (size_t)(k % 4));
	for (size_t i = 0; i < v.items[9].n; i++)
		v.items[9].items[i] = br_avro_long((int64_t)i - 1);
	v.items[10] = br_avro_map(a, 2);
	v.items[10].keys[0] = br_avro_str("k1");
	v.items[10].items[0] = br_avro_str("v1");
	v.items[10].keys[1] = br_avro_str("k2");
	v.items[10].items[1] = br_avro_str("v2");
	v.items[11] = k % 2 ? br_avro_null() : br_avro_str("some");
	v.items[12] = br_avro_bytes("abcd", 4);
	v.items[13] = br_avro_record(a, 1);
	v.items[13].items[0] = br_avro_int(k);
	v.items[14] = br_avro_record(a, 1);
	v.items[14].items[0] = br_avro_int(-k);
	v.items[15] = br_avro_int(2);
	return v;
}

static void check_row(const br_avro_schema *s, const br_avro_val *v, int k)
{
	assert_int_equal(v->kind, BR_AVRO_RECORD);
	assert_int_equal(v->n, 16);
	assert_int_equal(br_avro_get(s, v, "b")->i, k & 1);
	assert_int_equal(br_avro_get(s, v, "i")->i, -k * 1000);
	assert_int_equal(br_avro_get(s, v, "l")->i, (int64_t)k * 123456789012LL);
	assert_true(br_avro_get(s, v, "f")->d == 1.5 * k);
	assert_true(br_avro_get(s, v, "d")->d == -2.25 * k);
	assert_int_equal(br_avro_get(s, v, "by")->len, 3);
	assert_memory_equal(br_avro_get(s, v, "by")->p, "\0\1\2", 3);
	assert_string_equal((const char *)br_avro_get(s, v, "s")->p, k % 2 ? "odd" : "even");
	assert_int_equal(br_avro_get(s, v, "e")->i, k % 3);
	const br_avro_val *arr = br_avro_get(s, v, "a");
	assert_int_equal(arr->n, (size_t)(k % 4));
	for (size_t i = 0; i < arr->n; i++)
		assert_int_equal(arr->items[i].i, (int64_t)i - 1);
	const br_avro_val *m = br_avro_get(s, v, "m");
	assert_int_equal(m->n, 2);
	assert_string_equal((const char *)m->keys[1].p, "k2");
	assert_string_equal((const char *)m->items[1].p, "v2");
	const br_avro_val *u = br_avro_get(s, v, "u");
	if (k % 2)
		assert_null(u);
	else
		assert_string_equal((const char *)u->p, "some");
	assert_memory_equal(br_avro_get(s, v, "fx")->p, "abcd", 4);
	assert_int_equal(br_avro_get(s, v, "r")->items[0].i, k);
	assert_int_equal(br_avro_get(s, v, "r2")->items[0].i, -k);
	assert_int_equal(br_avro_get(s, v, "e2")->i, 2);
}

static void write_file(int codec, int nrows, br_buf *out)
{
	br_avro_writer w;
	br_err err = { 0 };
	const char *k[] = { "iceberg.x" }, *val[] = { "42" };
	assert_int_equal(br_avro_writer_init(&w, all_schema, codec, k, val, 1, &err), 0);
	w.block_target = 512; /* several blocks */
	br_arena a;
	br_arena_init(&a, 4096);
	for (int i = 0; i < nrows; i++) {
		br_avro_val v = make_row(&a, i);
		assert_int_equal(br_avro_writer_add(&w, &v, &err), 0);
	}
	assert_int_equal(br_avro_writer_finish(&w, &err), 0);
	out->len = 0;
	br_buf_put(out, w.out.p, w.out.len);
	br_arena_free(&a);
	br_avro_writer_free(&w);
}

static int read_all(const uint8_t *p, size_t n, int expect_rows, br_err *err)
{
	br_avro_reader r;
	int rc = br_avro_reader_open(&r, p, n, "test.avro", err);
	int k = 0;
	while (rc == 0) {
		br_avro_val v;
		rc = br_avro_reader_next(&r, NULL, &v, err);
		if (rc == 1) {
			if (expect_rows >= 0)
				check_row(r.schema, &v, k);
			k++;
			rc = 0;
		} else {
			break;
		}
	}
	if (rc == 0 && expect_rows >= 0) {
		assert_int_equal(k, expect_rows);
		assert_string_equal(br_avro_reader_meta(&r, "iceberg.x"), "42");
	}
	br_avro_reader_free(&r);
	return rc;
}

static void test_roundtrip_codecs(void **state)
{
	(void)state;
	int codecs[] = { BR_AVRO_CODEC_NULL, BR_AVRO_CODEC_DEFLATE, BR_AVRO_CODEC_SNAPPY };
	br_buf b = { 0 };
	for (size_t c = 0; c < BR_ARRAY_LEN(codecs); c++) {
		write_file(codecs[c], 100, &b);
		br_err err = { 0 };
		assert_int_equal(read_all(b.p, b.len, 100, &err), 0);
		write_file(codecs[c], 0, &b);
		assert_int_equal(read_all(b.p, b.len, 0, &err), 0);
	}
	br_buf_free(&b);
}

static void test_field_ids_and_recursion(void **state)
{
	(void)state;
	br_arena a;
	br_arena_init(&a, 4096);
	br_avro_schema *s;
	br_err err = { 0 };
	assert_int_equal(br_avro_schema_parse(&a, all_schema, strlen(all_schema), &s, &err), 0);
	assert_int_equal(s->fields[br_avro_field_index(s, "i")].field_id, 7);
	assert_int_equal(s->fields[0].field_id, -1);
	const char *rec = "{\"type\":\"record\",\"name\":\"node\",\"fields\":[{\"name\":\"v\",\"type\":\"int\"},"
			  "{\"name\":\"next\",\"type\":[\"null\",\"node\"]}]}";
	assert_int_equal(br_avro_schema_parse(&a, rec, strlen(rec), &s, &err), 0);
	/* a linked list 1 -> 2 -> null */
	br_avro_val n2 = br_avro_record(&a, 2), n1 = br_avro_record(&a, 2);
	n2.items[0] = br_avro_int(2);
	n2.items[1] = br_avro_null();
	n1.items[0] = br_avro_int(1);
	n1.items[1] = n2;
	br_buf b = { 0 };
	assert_int_equal(br_avro_encode(&b, s, &n1, &err), 0);
	br_cur c = br_cur_make(b.p, b.len);
	br_avro_val out;
	assert_int_equal(br_avro_decode(&c, &a, s, &out, &err), 0);
	assert_int_equal(out.items[1].items[0].i, 2);
	assert_int_equal(out.items[1].items[1].kind, BR_AVRO_NULL);
	/* a value nested past the depth limit is refused, not a stack overflow */
	br_buf_reset(&b);
	for (int i = 0; i < 1000; i++)
		br_buf_varint(&b, 1), br_buf_varint(&b, 1); /* v=..., branch 1 (node) */
	c = br_cur_make(b.p, b.len);
	assert_int_not_equal(br_avro_decode(&c, &a, s, &out, &err), 0);
	assert_non_null(strstr(err.msg, "deep"));
	/* bad schemas */
	const char *bad[] = { "{", "{\"type\":\"record\"}", "\"nosuch\"", "[]", "{\"type\":\"fixed\",\"name\":\"f\"}" };
	for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++)
		assert_int_not_equal(br_avro_schema_parse(&a, bad[i], strlen(bad[i]), &s, &err), 0);
	br_buf_free(&b);
	br_arena_free(&a);
}

static void test_encode_type_errors(void **state)
{
	(void)state;
	br_arena a;
	br_arena_init(&a, 4096);
	br_avro_schema *s;
	br_err err = { 0 };
	const char *js = "{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}";
	assert_int_equal(br_avro_schema_parse(&a, js, strlen(js), &s, &err), 0);
	br_avro_val v = br_avro_record(&a, 1);
	v.items[0] = br_avro_str("no");
	br_buf b = { 0 };
	assert_int_equal(br_avro_encode(&b, s, &v, &err), BR_EINVAL);
	assert_non_null(strstr(err.msg, "field x"));
	v.items[0] = br_avro_long(1LL << 40);
	assert_int_equal(br_avro_encode(&b, s, &v, &err), BR_EINVAL);
	br_buf_free(&b);
	br_arena_free(&a);
}

static void test_truncated_and_corrupt(void **state)
{
	(void)state;
	int codecs[] = { BR_AVRO_CODEC_NULL, BR_AVRO_CODEC_DEFLATE, BR_AVRO_CODEC_SNAPPY };
	br_buf b = { 0 };
	for (size_t cdx = 0; cdx < BR_ARRAY_LEN(codecs); cdx++) {
		write_file(codecs[cdx], 20, &b);
		br_err err = { 0 };
		/* every proper prefix fails cleanly (a prefix ending exactly at a block
		 * boundary is a valid shorter file) */
		int fails = 0;
		for (size_t n = 0; n < b.len; n++) {
			err.msg[0] = 0;
			int rc = read_all(b.p, n, -1, &err);
			if (rc) {
				fails++;
				assert_non_null(strstr(err.msg, "test.avro"));
			}
		}
		assert_true(fails > (int)b.len / 2);
		/* flipping any single byte never crashes */
		for (size_t i = 0; i < b.len; i++) {
			b.p[i] ^= 0x5a;
			read_all(b.p, b.len, -1, &err);
			b.p[i] ^= 0x5a;
		}
	}
	/* specific messages */
	br_err err = { 0 };
	assert_int_equal(read_all((const uint8_t *)"PAR1xxxx", 8, -1, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "bad magic"));
	write_file(BR_AVRO_CODEC_NULL, 3, &b);
	b.p[b.len - 1] ^= 1; /* last byte of the trailing sync marker */
	assert_int_equal(read_all(b.p, b.len, -1, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "sync marker"));
	br_buf_free(&b);
}

static void test_huge_counts(void **state)
{
	(void)state;
	/* an array of nulls claiming 2^62 items in a few bytes */
	br_arena a;
	br_arena_init(&a, 4096);
	br_avro_schema *s;
	br_err err = { 0 };
	const char *js = "{\"type\":\"array\",\"items\":\"null\"}";
	assert_int_equal(br_avro_schema_parse(&a, js, strlen(js), &s, &err), 0);
	br_buf b = { 0 };
	for (int i = 0; i < 100; i++)
		br_buf_varint(&b, 4000);
	br_buf_varint(&b, 0);
	br_cur c = br_cur_make(b.p, b.len);
	br_avro_val v;
	assert_int_equal(br_avro_decode(&c, &a, s, &v, &err), BR_ECORRUPT);
	br_buf_reset(&b);
	br_buf_varint(&b, INT64_MAX / 2);
	c = br_cur_make(b.p, b.len);
	assert_int_equal(br_avro_decode(&c, &a, s, &v, &err), BR_ECORRUPT);
	assert_non_null(strstr(err.msg, "count"));
	br_buf_free(&b);
	br_arena_free(&a);
}


/* ------------------------------------------------------- --dump FILE
 * Prints every record of an Avro file as one JSON line (bytes and fixed as
 * hex strings, enums as their symbol), for test_avro_python.py to compare
 * with what python3-avro wrote. */
static void dump_str(const br_avro_val *v, br_buf *o)
{
	br_buf_u8(o, '"');
	for (size_t i = 0; i < v->len; i++) {
		uint8_t c = v->p[i];
		if (c == '"' || c == '\\')
			br_buf_printf(o, "\\%c", c);
		else if (c < 0x20)
			br_buf_printf(o, "\\u%04x", c);
		else
			br_buf_u8(o, c);
	}
	br_buf_u8(o, '"');
}

static void dump_val(const br_avro_schema *s, const br_avro_val *v, br_buf *o)
{
	if (s->kind == BR_AVRO_UNION)
		s = s->branches[v->branch >= 0 ? v->branch : 0];
	switch (s->kind) {
	case BR_AVRO_NULL: br_buf_printf(o, "null"); return;
	case BR_AVRO_BOOLEAN: br_buf_printf(o, v->i ? "true" : "false"); return;
	case BR_AVRO_INT:
	case BR_AVRO_LONG: br_buf_printf(o, "%lld", (long long)v->i); return;
	case BR_AVRO_FLOAT:
	case BR_AVRO_DOUBLE: br_buf_printf(o, "%.17g", v->d); return;
	case BR_AVRO_ENUM: br_buf_printf(o, "\"%s\"", s->symbols[v->i]); return;
	case BR_AVRO_STRING: dump_str(v, o); return;
	case BR_AVRO_BYTES:
	case BR_AVRO_FIXED:
		br_buf_u8(o, '"');
		for (size_t i = 0; i < v->len; i++)
			br_buf_printf(o, "%02x", v->p[i]);
		br_buf_u8(o, '"');
		return;
	case BR_AVRO_RECORD:
		br_buf_u8(o, '{');
		for (size_t i = 0; i < s->n; i++) {
			br_buf_printf(o, "%s\"%s\":", i ? "," : "", s->fields[i].name);
			dump_val(s->fields[i].type, &v->items[i], o);
		}
		br_buf_u8(o, '}');
		return;
	case BR_AVRO_ARRAY:
		br_buf_u8(o, '[');
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				br_buf_u8(o, ',');
			dump_val(s->items, &v->items[i], o);
		}
		br_buf_u8(o, ']');
		return;
	case BR_AVRO_MAP:
		br_buf_u8(o, '{');
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				br_buf_u8(o, ',');
			dump_str(&v->keys[i], o);
			br_buf_u8(o, ':');
			dump_val(s->items, &v->items[i], o);
		}
		br_buf_u8(o, '}');
		return;
	case BR_AVRO_UNION: return;
	}
}

static int dump_file(const char *path)
{
	char *data;
	size_t len;
	br_err err = { 0 };
	if (br_read_file(path, &data, &len, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	br_avro_reader r;
	int rc = br_avro_reader_open(&r, (const uint8_t *)data, len, path, &err);
	br_buf o = { 0 };
	while (rc == 0) {
		br_avro_val v;
		rc = br_avro_reader_next(&r, NULL, &v, &err);
		if (rc != 1)
			break;
		rc = 0;
		o.len = 0;
		dump_val(r.schema, &v, &o);
		printf("%.*s\n", (int)o.len, (const char *)o.p);
	}
	if (rc < 0)
		fprintf(stderr, "%s\n", err.msg);
	br_buf_free(&o);
	br_avro_reader_free(&r);
	free(data);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--dump"))
		return dump_file(argv[2]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_codecs),      cmocka_unit_test(test_field_ids_and_recursion),
		cmocka_unit_test(test_encode_type_errors),    cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_huge_counts),
	};
	return cmocka_run_group_tests_name("avro", tests, NULL, NULL);
}
