/* fuzz_pgcat.c — libFuzzer harness over pgwire's text recognizers: any bytes
 * as one simple Query against the br_sql executor with the SUBSCRIBE hub (the
 * pg_catalog matcher of pgcatalog.c, the SUBSCRIBE parser of subscribe.c, the
 * statement splitter). A session with a table and a view and a streaming
 * connection: the answer is a result, an error or a stream — never a crash,
 * leak or undefined behaviour — and the output is well-framed messages. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "pgwire/pgwire.h"
#include "sql/sql.h"

static size_t sink(void *arg, br_buf *out, bool close)
{
	br_buf_put(arg, out->p, out->len);
	br_buf_reset(out);
	return 0;
}

static void check_framing(const br_buf *b)
{
	size_t i = 0;
	while (i < b->len) {
		if (b->len - i < 5)
			abort();
		uint32_t len = br_rd_be32(b->p + i + 1);
		if (len < 4 || i + 1 + len > b->len)
			abort();
		i += 1 + len;
	}
}

static void msg(br_buf *b, char type, const void *body, size_t n)
{
	br_buf_u8(b, (uint8_t)type);
	br_buf_be32(b, (uint32_t)(n + 4));
	br_buf_put(b, body, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096 || memchr(data, 0, size))
		return 0;
	br_sql *s = br_sql_open(NULL);
	br_err err;
	if (br_sql_exec(s, "CREATE TABLE bids (a bigint, p double precision, w text); INSERT INTO bids VALUES (1, 2.5, 'x');"
			   "CREATE VIEW v AS SELECT a, count(*) AS n FROM bids GROUP BY a", NULL, &err))
		abort();
	br_pg_hub *hub = br_pg_hub_new(s);
	br_pg_conn *c = br_pg_conn_new(NULL, br_pg_hub_executor(hub), 1, 2);
	br_buf async = { 0 }, in = { 0 }, out = { 0 };
	br_pg_conn_set_writer(c, sink, &async);
	static const uint8_t startup[] = { 0, 0, 0, 17, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'f', 'z', 0, 0 };
	br_buf_put(&in, startup, sizeof startup);
	br_buf q = { 0 };
	br_buf_put(&q, data, size);
	br_buf_u8(&q, 0);
	msg(&in, 'Q', q.p, q.len);
	br_pg_conn_feed(c, in.p, in.len, &out);
	/* a step while a stream may be open, then the stream ends */
	br_sql_exec(s, "INSERT INTO bids VALUES (1, 1, 'y')", NULL, &err);
	br_pg_conn_cancel(c);
	check_framing(&out);
	check_framing(&async);
	br_pg_conn_free(c);
	br_pg_hub_free(hub);
	br_sql_close(s);
	br_buf_free(&in);
	br_buf_free(&out);
	br_buf_free(&async);
	br_buf_free(&q);
	return 0;
}
