/* fuzz_http.c — libFuzzer harness for the HTTP request parser (src/http/http.c),
 * which reads bytes from anyone who can reach the --http port.
 * Input: a request head (any bytes). Checks beyond "no crash": the parser is
 * bounded (a complete head lies within the input and BR_HTTP_MAX_HEAD), every
 * pointer it returns points inside the input, a failure is one of the three
 * statuses it promises, and a prefix of a complete head never parses as a
 * different complete head (incremental reads see the same request). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *data, size_t size, const char *p, size_t n)
{
	return (const uint8_t *)p >= data && (const uint8_t *)p + n <= data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	br_http_req r;
	int rc = br_http_parse(data, size, &r);
	if (rc < 0) {
		if (rc != -400 && rc != -431 && rc != -505)
			abort();
		return 0;
	}
	if (rc == 0) {
		if (size >= BR_HTTP_MAX_HEAD)
			abort(); /* "need more" past the limit would let a client grow the buffer */
		return 0;
	}
	if (rc != 1 || r.head_len == 0 || r.head_len > size || r.head_len > BR_HTTP_MAX_HEAD)
		abort();
	if (!inside(data, r.head_len, r.method, r.method_len) || !inside(data, r.head_len, r.path, r.path_len) ||
	    (r.query && !inside(data, r.head_len, r.query, r.query_len)) || r.method_len == 0 || r.path_len > size)
		abort();
	/* the head alone parses the same; one byte less never completes it */
	br_http_req r2;
	if (br_http_parse(data, r.head_len, &r2) != 1 || r2.head_len != r.head_len || r2.path_len != r.path_len)
		abort();
	if (br_http_parse(data, r.head_len - 1, &r2) == 1)
		abort();
	return 0;
}
