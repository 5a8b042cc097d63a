/* fuzz_sql.c — libFuzzer harness over br_sql_exec: any bytes as SQL, against a
 * session with two small tables and a materialized view, give a result or an
 * error — never a crash, leak or undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql.h"

static const char *setup =
	"CREATE TABLE t1(a INTEGER, b INTEGER, c TEXT);"
	"CREATE TABLE t2(x INTEGER, y DOUBLE PRECISION);"
	"INSERT INTO t1 VALUES (1, 2, 'a'), (NULL, 3, 'b'), (2, NULL, NULL), (1, 2, 'a');"
	"INSERT INTO t2 VALUES (1, 0.5), (2, NULL), (NULL, -1);"
	"CREATE MATERIALIZED VIEW v AS SELECT a, count(*), max(c) FROM t1 GROUP BY a;";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096) /* bigger inputs only slow the search down */
		return 0;
	char *sql = malloc(size + 1);
	memcpy(sql, data, size);
	sql[size] = 0;
	br_sql *s = br_sql_open(NULL);
	br_err err;
	if (br_sql_exec(s, setup, NULL, &err))
		abort(); /* the fixture itself must work */
	br_sql_result r = { 0 };
	br_sql_exec(s, sql, &r, &err);
	br_sql_result_free(&r);
	/* the view must still answer after whatever the input did */
	br_sql_exec(s, "SELECT * FROM v", &r, &err);
	br_sql_result_free(&r);
	br_sql_close(s);
	free(sql);
	return 0;
}
