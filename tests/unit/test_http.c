/* test_http.c — unit tests for src/http: the request parser (complete heads,
 * incremental input, limits, malformed and smuggling-shaped heads). The server
 * and the metrics page are tested with curl (tests/integration/test_metrics.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static int parse(const char *s, br_http_req *r) { return br_http_parse((const uint8_t *)s, strlen(s), r); }

static void test_parse_ok(void **state)
{
	(void)state;
	br_http_req r;
	const char *s = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\nextra";
	assert_int_equal(parse(s, &r), 1);
	assert_int_equal(r.method_len, 3);
	assert_memory_equal(r.method, "GET", 3);
	assert_int_equal(r.path_len, 8);
	assert_memory_equal(r.path, "/metrics", 8);
	assert_int_equal(r.query_len, 3);
	assert_int_equal(r.minor, 1);
	assert_true(r.close);
	assert_int_equal(r.content_length, -1);
	assert_int_equal(r.head_len, strlen(s) - 5);
	/* bare LF, HTTP/1.0 closes unless keep-alive */
	assert_int_equal(parse("HEAD /health HTTP/1.0\n\n", &r), 1);
	assert_true(r.close);
	assert_int_equal(parse("GET / HTTP/1.0\nConnection: keep-alive\n\n", &r), 1);
	assert_false(r.close);
	assert_int_equal(parse("\r\nGET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r), 1);
	assert_int_equal(r.content_length, 0);
}

static void test_parse_incremental(void **state)
{
	(void)state;
	const char *s = "GET /health HTTP/1.1\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n";
	br_http_req r;
	for (size_t n = 0; n < strlen(s); n++)
		assert_int_equal(br_http_parse((const uint8_t *)s, n, &r), 0);
	assert_int_equal(br_http_parse((const uint8_t *)s, strlen(s), &r), 1);
}

static void test_parse_bad(void **state)
{
	(void)state;
	br_http_req r;
	assert_int_equal(parse("GET /x\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET  /x HTTP/1.1\r\n\r\n", &r), -400);
	assert_int_equal(parse("G(T /x HTTP/1.1\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET /x HTTP/2.0\r\n\r\n", &r), -505);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nNo colon\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nHost : a\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nA: b\x01\r\n\r\n", &r), -400);
	assert_int_equal(parse("GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 1);
	assert_true(r.chunked);
}

static void test_parse_limits(void **state)
{
	(void)state;
	br_http_req r;
	size_t n = BR_HTTP_MAX_HEAD + 100;
	char *s = malloc(n + 1);
	memset(s, 'a', n);
	memcpy(s, "GET /", 5);
	s[n] = 0;
	assert_int_equal(br_http_parse((const uint8_t *)s, n, &r), -431); /* endless request line */
	assert_int_equal(br_http_parse((const uint8_t *)s, 100, &r), 0);
	/* too many header fields */
	char *h = malloc(BR_HTTP_MAX_HEAD);
	size_t len = (size_t)snprintf(h, BR_HTTP_MAX_HEAD, "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= BR_HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(h + len, BR_HTTP_MAX_HEAD - len, "X-%d: v\r\n", i);
	len += (size_t)snprintf(h + len, BR_HTTP_MAX_HEAD - len, "\r\n");
	assert_int_equal(br_http_parse((const uint8_t *)h, len, &r), -431);
	free(h);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_incremental),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
