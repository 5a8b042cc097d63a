/* runner.c — sqllogictest runner for braid's SQL engine (build/slt).
 * Runs the records of each .test file given on the command line against one
 * embedded session per file and prints per-file results, then a last line
 * "N passed, N failed" counting records. Format reference:
 * https://www.sqlite.org/sqllogictest/doc/trunk/about.wiki — records are
 * separated by blank lines; `skipif`/`onlyif` name a database, and braid
 * answers as "postgresql"; results of more than hash-threshold values are
 * compared by the MD5 of the values, each followed by a newline. */
#include <ctype.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "flow/flow.h"
#include "sql/sql.h"

#define DBNAME "postgresql"

static bool verbose;    /* SLT_VERBOSE: every failure, with its SQL */
static bool views_mode; /* SLT_VIEWS: also run every query as a view */

typedef struct lines {
	char **v;
	int n, cap;
} lines;

static void lines_push(lines *l, char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = br_xrealloc(l->v, sizeof *l->v * (size_t)l->cap);
	}
	l->v[l->n++] = s;
}

static void lines_free(lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static char *format_value(const br_value *v, char type)
{
	char buf[128];
	if (v->is_null)
		return br_xstrdup("NULL");
	switch (type) {
	case 'I': {
		int64_t x = 0;
		if (v->type == BR_T_LONG)
			x = v->v.i64;
		else if (v->type == BR_T_DOUBLE)
			x = (int64_t)v->v.f64;
		else if (v->type == BR_T_BOOLEAN)
			x = v->v.b;
		else if (v->type == BR_T_STRING) {
			char tmp[64];
			size_t n = BR_MIN(v->v.bytes.len, sizeof tmp - 1);
			memcpy(tmp, v->v.bytes.p, n);
			tmp[n] = 0;
			x = strtoll(tmp, NULL, 10);
		}
		snprintf(buf, sizeof buf, "%" PRId64, x);
		return br_xstrdup(buf);
	}
	case 'R': {
		double d = 0;
		if (v->type == BR_T_LONG)
			d = (double)v->v.i64;
		else if (v->type == BR_T_DOUBLE)
			d = v->v.f64;
		else if (v->type == BR_T_BOOLEAN)
			d = v->v.b;
		else if (v->type == BR_T_STRING) {
			char tmp[64];
			size_t n = BR_MIN(v->v.bytes.len, sizeof tmp - 1);
			memcpy(tmp, v->v.bytes.p, n);
			tmp[n] = 0;
			d = strtod(tmp, NULL);
		}
		snprintf(buf, sizeof buf, "%.3f", d);
		return br_xstrdup(buf);
	}
	default: {
		if (v->type == BR_T_STRING) {
			if (!v->v.bytes.len)
				return br_xstrdup("(empty)");
			char *s = br_xmalloc(v->v.bytes.len + 1);
			for (size_t i = 0; i < v->v.bytes.len; i++) {
				uint8_t c = v->v.bytes.p[i];
				s[i] = c < ' ' || c > '~' ? '@' : (char)c;
			}
			s[v->v.bytes.len] = 0;
			return s;
		}
		if (v->type == BR_T_LONG)
			snprintf(buf, sizeof buf, "%" PRId64, v->v.i64);
		else if (v->type == BR_T_DOUBLE)
			snprintf(buf, sizeof buf, "%.3f", v->v.f64);
		else if (v->type == BR_T_BOOLEAN)
			snprintf(buf, sizeof buf, "%s", v->v.b ? "true" : "false");
		else
			snprintf(buf, sizeof buf, "?");
		return br_xstrdup(buf);
	}
	}
}

static int ncols_sort;
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_row(const void *a, const void *b)
{
	char *const *x = *(char **const *)a, *const *y = *(char **const *)b;
	for (int i = 0; i < ncols_sort; i++) {
		int r = strcmp(x[i], y[i]);
		if (r)
			return r;
	}
	return 0;
}

static void md5_hex(const lines *vals, char out[33])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	for (int i = 0; i < vals->n; i++) {
		EVP_DigestUpdate(ctx, vals->v[i], strlen(vals->v[i]));
		EVP_DigestUpdate(ctx, "\n", 1);
	}
	EVP_DigestFinal_ex(ctx, d, &dl);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

typedef struct stats {
	int64_t passed, failed, skipped;
	int shown;
	/* SLT_VIEWS=1: each query is also maintained as a materialized view (see
	 * check_as_view); a view that differs from the batch answer makes the run
	 * fail, one braid cannot maintain yet is only counted */
	int64_t v_equal, v_unsupported, v_differ;
} stats;

/* A result as sorted "v1|v2|..." rows, formatted by the record's types. */
static void result_rows(const br_sql_result *r, const char *types, lines *out)
{
	br_value *vals = br_xcalloc((size_t)r->ncols + 1, sizeof *vals);
	for (int64_t i = 0; i < r->rows.nrows; i++) {
		br_batch_get_row(&r->rows, i, vals);
		br_buf b = { 0 };
		for (int c = 0; c < r->ncols; c++) {
			char *v = format_value(&vals[c], c < (int)strlen(types) ? types[c] : 'T');
			br_buf_printf(&b, "%s%s", c ? "|" : "", v);
			free(v);
		}
		br_buf_u8(&b, 0);
		lines_push(out, (char *)b.p);
	}
	free(vals);
	if (out->n > 1)
		qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
}

/* Incremental = batch on the suite: a fresh session runs the file's DDL,
 * creates the query as a materialized view over the empty tables, then
 * replays the file's other statements one by one (each a step of the view);
 * the view must then equal the batch answer. Views braid cannot maintain
 * yet count as unsupported, not as failures. */
static void check_as_view(stats *st, const lines *stmts, const char *sql, const char *types, br_sql *batch,
			  const char *path, int line)
{
	br_sql *s = br_sql_open(NULL);
	br_err err = { 0 };
	for (int i = 0; i < stmts->n; i++)
		if (strncasecmp(stmts->v[i], "CREATE", 6) == 0 && br_sql_exec(s, stmts->v[i], NULL, &err))
			goto out;
	char *ddl = br_xasprintf("CREATE MATERIALIZED VIEW slt_view AS %s", sql);
	int rc = br_sql_exec(s, ddl, NULL, &err);
	free(ddl);
	if (rc) {
		st->v_unsupported++;
		if (verbose)
			fprintf(stdout, "  %s:%d: as a view: %s\n", path, line, err.msg);
		goto out;
	}
	for (int i = 0; i < stmts->n; i++)
		if (strncasecmp(stmts->v[i], "CREATE", 6) != 0 && br_sql_exec(s, stmts->v[i], NULL, &err)) {
			st->v_differ++;
			fprintf(stdout, "  %s:%d: view step failed: %s\n", path, line, err.msg);
			goto out;
		}
	br_sql_result rv = { 0 }, rb = { 0 };
	lines a = { 0 }, b = { 0 };
	if (br_sql_exec(s, "SELECT * FROM slt_view", &rv, &err) || br_sql_exec(batch, sql, &rb, &err)) {
		st->v_differ++;
		fprintf(stdout, "  %s:%d: view read failed: %s\n", path, line, err.msg);
	} else {
		result_rows(&rv, types, &a);
		result_rows(&rb, types, &b);
		bool same = a.n == b.n;
		for (int i = 0; same && i < a.n; i++)
			same = !strcmp(a.v[i], b.v[i]);
		if (same) {
			st->v_equal++;
		} else {
			st->v_differ++;
			fprintf(stdout, "  %s:%d: view differs from batch (%d vs %d rows)\n", path, line, a.n, b.n);
		}
	}
	lines_free(&a);
	lines_free(&b);
	br_sql_result_free(&rv);
	br_sql_result_free(&rb);
out:
	br_sql_close(s);
}



static void fail(stats *st, const char *file, int line, const char *sql, const char *why)
{
	st->failed++;
	if (verbose || st->shown < 10) {
		fprintf(stdout, "  %s:%d: %s\n", file, line, why);
		if (verbose) {
			char brief[200];
			snprintf(brief, sizeof brief, "%s", sql);
			for (char *p = brief; *p; p++)
				if (*p == '\n')
					*p = ' ';
			fprintf(stdout, "    sql: %s\n", brief);
		}
	}
	st->shown++;
}

/* Runs one query record; returns a failure description or NULL (static buffer). */
static const char *run_query(br_sql *s, const char *sql, const char *types, const char *sortmode, const lines *expect,
			     int threshold)
{
	static char why[700];
	br_sql_result r = { 0 };
	br_err err = { 0 };
	if (br_sql_exec(s, sql, &r, &err)) {
		snprintf(why, sizeof why, "query failed: %s", err.msg);
		br_sql_result_free(&r);
		return why;
	}
	if (!r.has_rows) {
		br_sql_result_free(&r);
		return "query returned no result set";
	}
	int nc = (int)strlen(types);
	if (nc != r.ncols) {
		snprintf(why, sizeof why, "expected %d columns, got %d", nc, r.ncols);
		br_sql_result_free(&r);
		return why;
	}
	int64_t nrows = r.rows.nrows;
	char ***rows = br_xcalloc((size_t)nrows + 1, sizeof *rows);
	br_value *vals = br_xcalloc((size_t)nc + 1, sizeof *vals);
	for (int64_t i = 0; i < nrows; i++) {
		br_batch_get_row(&r.rows, i, vals);
		rows[i] = br_xcalloc((size_t)nc + 1, sizeof(char *));
		for (int c = 0; c < nc; c++)
			rows[i][c] = format_value(&vals[c], types[c]);
	}
	free(vals);
	if (!strcmp(sortmode, "rowsort")) {
		ncols_sort = nc;
		qsort(rows, (size_t)nrows, sizeof *rows, cmp_row);
	}
	lines got = { 0 };
	for (int64_t i = 0; i < nrows; i++) {
		for (int c = 0; c < nc; c++)
			lines_push(&got, rows[i][c]);
		free(rows[i]);
	}
	free(rows);
	if (!strcmp(sortmode, "valuesort") && got.n > 1)
		qsort(got.v, (size_t)got.n, sizeof *got.v, cmp_str);
	const char *res = NULL;
	int en;
	char eh[64];
	if (expect->n == 1 && sscanf(expect->v[0], "%d values hashing to %40s", &en, eh) == 2) {
		char h[33];
		md5_hex(&got, h);
		if (en != got.n || strcmp(h, eh)) {
			snprintf(why, sizeof why, "expected %d values hashing to %s, got %d values hashing to %s", en, eh, got.n, h);
			res = why;
		}
	} else {
		/* Values, one per line (some suites put a row per line, space-separated). */
		lines exp = { 0 };
		for (int i = 0; i < expect->n; i++) {
			if (expect->n * nc == got.n || nc == 1) {
				lines_push(&exp, br_xstrdup(expect->v[i]));
				continue;
			}
			char *dup = br_xstrdup(expect->v[i]), *save = NULL;
			for (char *tok = strtok_r(dup, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
				lines_push(&exp, br_xstrdup(tok));
			free(dup);
		}
		if (exp.n != got.n) {
			snprintf(why, sizeof why, "expected %d values, got %d", exp.n, got.n);
			res = why;
		} else {
			for (int i = 0; i < exp.n; i++)
				if (strcmp(exp.v[i], got.v[i])) {
					snprintf(why, sizeof why, "value %d: expected \"%s\", got \"%s\"", i + 1, exp.v[i], got.v[i]);
					res = why;
					break;
				}
		}
		lines_free(&exp);
	}
	(void)threshold;
	lines_free(&got);
	br_sql_result_free(&r);
	return res;
}

static int run_file(const char *path, stats *total)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stdout, "%s: cannot open\n", path);
		return -1;
	}
	br_sql *s = br_sql_open(NULL);
	stats st = { 0 };
	lines stmts = { 0 }; /* statements that succeeded, in order (SLT_VIEWS) */
	int threshold = 0, lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	bool halted = false;
	/* Read a record: header lines, then SQL, then optional ---- and results. */
	while (!halted) {
		lines rec = { 0 };
		int start = 0;
		while ((len = getline(&line, &cap, f)) >= 0) {
			lineno++;
			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = 0;
			if (len == 0) {
				if (rec.n)
					break;
				continue;
			}
			if (line[0] == '#' && !rec.n)
				continue;
			if (!rec.n)
				start = lineno;
			lines_push(&rec, br_xstrdup(line));
		}
		if (!rec.n) {
			lines_free(&rec);
			break;
		}
		int i = 0;
		bool skip = false;
		while (i < rec.n && (!strncmp(rec.v[i], "skipif ", 7) || !strncmp(rec.v[i], "onlyif ", 7))) {
			const char *db = rec.v[i] + 7;
			bool is_pg = !strncmp(db, DBNAME, strlen(DBNAME));
			if (rec.v[i][0] == 's' ? is_pg : !is_pg)
				skip = true;
			i++;
		}
		const char *hdr = i < rec.n ? rec.v[i] : "";
		if (!strncmp(hdr, "hash-threshold", 14)) {
			threshold = atoi(hdr + 14);
		} else if (!strcmp(hdr, "halt")) {
			if (!skip)
				halted = true;
		} else if (!strncmp(hdr, "statement", 9) || !strncmp(hdr, "query", 5)) {
			/* SQL runs until "----" (queries) or the end of the record. */
			br_buf sql = { 0 };
			int k = i + 1;
			for (; k < rec.n && strcmp(rec.v[k], "----"); k++) {
				if (sql.len)
					br_buf_u8(&sql, '\n');
				br_buf_put(&sql, rec.v[k], strlen(rec.v[k]));
			}
			br_buf_u8(&sql, 0);
			if (skip) {
				st.skipped++;
			} else if (hdr[0] == 's') {
				bool want_ok = strstr(hdr, "ok") != NULL;
				br_err err = { 0 };
				int rc = br_sql_exec(s, (const char *)sql.p, NULL, &err);
				if (want_ok && rc) {
					char why[700];
					snprintf(why, sizeof why, "statement failed: %s", err.msg);
					fail(&st, path, start, (const char *)sql.p, why);
				} else if (!want_ok && !rc) {
					fail(&st, path, start, (const char *)sql.p, "statement succeeded, expected an error");
				} else {
					st.passed++;
					if (want_ok)
						lines_push(&stmts, br_xstrdup((const char *)sql.p));
				}
			} else {
				char types[64] = "", sortmode[32] = "nosort";
				sscanf(hdr, "query %63s %31s", types, sortmode);
				lines expect = { 0 };
				for (int e = k + 1; e < rec.n; e++)
					lines_push(&expect, br_xstrdup(rec.v[e]));
				const char *why = run_query(s, (const char *)sql.p, types, sortmode, &expect, threshold);
				if (why)
					fail(&st, path, start, (const char *)sql.p, why);
				else
					st.passed++;
				if (!why && views_mode)
					check_as_view(&st, &stmts, (const char *)sql.p, types, s, path, start);
				lines_free(&expect);
			}
			br_buf_free(&sql);
		}
		lines_free(&rec);
	}
	free(line);
	fclose(f);
	br_sql_close(s);
	lines_free(&stmts);
	if (views_mode)
		fprintf(stdout, "%s: as views: %" PRId64 " equal to batch, %" PRId64 " differ, %" PRId64 " unsupported\n",
			path, st.v_equal, st.v_differ, st.v_unsupported);
	if (st.shown > 10 && !verbose)
		fprintf(stdout, "  ... %d more failures (SLT_VERBOSE=1 shows all)\n", st.shown - 10);
	fprintf(stdout, "%s: %" PRId64 " passed, %" PRId64 " failed, %" PRId64 " skipped\n", path, st.passed, st.failed,
		st.skipped);
	fflush(stdout);
	total->passed += st.passed;
	total->failed += st.failed;
	total->skipped += st.skipped;
	total->v_differ += st.v_differ;
	return 0;
}

int main(int argc, char **argv)
{
	verbose = getenv("SLT_VERBOSE") != NULL;
	views_mode = getenv("SLT_VIEWS") != NULL;
	stats total = { 0 };
	int bad = 0;
	for (int i = 1; i < argc; i++)
		if (run_file(argv[i], &total))
			bad = 1;
	printf("%" PRId64 " passed, %" PRId64 " failed\n", total.passed, total.failed);
	return bad || total.failed || total.v_differ ? 1 : 0;
}
