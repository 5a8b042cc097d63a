/* sql.c — `braid sql`: an embedded SQL session over a data directory (no
 * server): -c / -f / piped scripts, or a line-editing REPL (libedit), with
 * psql-like aligned tables, CSV (header line) or JSON lines as output.
 *
 * The session holds <data>/LOCK (the same flock `braid serve` takes), so a
 * server and a session never write one directory at once: while a server
 * holds it, `braid sql` says so and how to connect, and touches nothing.
 * Values print in PostgreSQL's text format (what psql shows over pgwire). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pg_query.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <editline/readline.h>
#include <uv.h>

#include "base/buf.h"
#include "base/util.h"
#include "cli/cli.h"
#include "log/log.h"
#include "pgwire/pgwire.h"
#include "sql/sql.h"
#include "types/text.h"

enum fmt { F_TABLE, F_CSV, F_JSON };

typedef struct cli {
	br_log *log;
	br_sql *s;
	enum fmt fmt;
	int lock_fd;
} cli;

static void sql_usage(FILE *f)
{
	fprintf(f,
	        "usage: braid sql [--data DIR] [--format table|csv|json] [-c SQL | -f FILE]\n"
	        "\n"
	        "An embedded SQL session over a data directory, no server needed. Tables are\n"
	        "topics (CREATE TABLE ... WITH (partitions = N, commit_interval = '500 ms',\n"
	        "topic = 'existing')); materialized views persist in the data directory and\n"
	        "catch up with everything written since when the next session opens it.\n"
	        "\n"
	        "  --data DIR        data directory (default ./braid-data)\n"
	        "  --format FMT      table (aligned, like psql; default), csv (with a header\n"
	        "                    line) or json (one object per row and line)\n"
	        "  -c SQL            run SQL (several statements separated by ';') and exit;\n"
	        "                    may be given more than once\n"
	        "  -f FILE           run the statements of FILE ('-' = stdin) and exit\n"
	        "  -h, --help        this text\n"
	        "\n"
	        "Without -c or -f: a REPL on a terminal (statements end with ';', \\q quits),\n"
	        "else the statements read from stdin. -c and -f stop at the first error\n"
	        "(exit status 1). While `braid serve` holds the directory, connect with psql.\n");
}

/* ------------------------------------------------------------ output */

static bool right_aligned(br_type_id t)
{
	return t == BR_T_INT || t == BR_T_LONG || t == BR_T_FLOAT || t == BR_T_DOUBLE || t == BR_T_DECIMAL;
}

/* Cell text of row i, column c; false for NULL. */
static bool cell(const br_sql_result *r, int c, int64_t i, br_buf *out)
{
	br_buf_reset(out);
	const br_col *col = &r->rows.cols[c];
	if (!br_col_valid(col, i))
		return false;
	br_err err = { 0 };
	if (br_pg_encode_value(col, i, 0, out, &err)) {
		br_buf_reset(out);
		br_col_format_text(col, i, out);
	}
	return true;
}

/* Display width: UTF-8 code points (no East Asian width table). */
static size_t width(const uint8_t *p, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		w += (p[i] & 0xC0) != 0x80;
	return w;
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

static void print_table(const br_sql_result *r, FILE *f)
{
	int nc = r->ncols;
	int64_t nr = r->rows.nrows;
	size_t *w = br_xcalloc((size_t)nc + 1, sizeof *w);
	br_buf b = { 0 };
	for (int c = 0; c < nc; c++)
		w[c] = width((const uint8_t *)r->names[c], strlen(r->names[c]));
	for (int64_t i = 0; i < nr; i++)
		for (int c = 0; c < nc; c++) {
			cell(r, c, i, &b);
			size_t cw = width(b.p, b.len);
			w[c] = cw > w[c] ? cw : w[c];
		}
	/* header: names centered, as psql does */
	for (int c = 0; c < nc; c++) {
		size_t nw = width((const uint8_t *)r->names[c], strlen(r->names[c]));
		size_t left = (w[c] - nw) / 2;
		fputs(c ? "| " : " ", f);
		pad(f, left);
		fputs(r->names[c], f);
		pad(f, w[c] - nw - left + 1);
	}
	fputc('\n', f);
	for (int c = 0; c < nc; c++) {
		if (c)
			fputc('+', f);
		for (size_t k = 0; k < w[c] + 2; k++)
			fputc('-', f);
	}
	fputc('\n', f);
	for (int64_t i = 0; i < nr; i++) {
		for (int c = 0; c < nc; c++) {
			cell(r, c, i, &b);
			size_t cw = width(b.p, b.len);
			fputs(c ? "| " : " ", f);
			bool right = right_aligned(r->types[c]);
			if (right)
				pad(f, w[c] - cw);
			fwrite(b.p, 1, b.len, f);
			if (!right && c < nc - 1)
				pad(f, w[c] - cw);
			if (c < nc - 1)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
	fprintf(f, "(%" PRId64 " row%s)\n\n", nr, nr == 1 ? "" : "s");
	br_buf_free(&b);
	free(w);
}

static void csv_field(FILE *f, const uint8_t *p, size_t n)
{
	bool quote = n == 0;
	for (size_t i = 0; i < n && !quote; i++)
		quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
	if (!quote) {
		fwrite(p, 1, n, f);
		return;
	}
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"')
			fputc('"', f);
		fputc(p[i], f);
	}
	fputc('"', f);
}

/* RFC 4180; NULL is an empty field, an empty string a quoted "" (as psql --csv). */
static void print_csv(const br_sql_result *r, FILE *f)
{
	br_buf b = { 0 };
	for (int c = 0; c < r->ncols; c++) {
		if (c)
			fputc(',', f);
		csv_field(f, (const uint8_t *)r->names[c], strlen(r->names[c]));
	}
	fputc('\n', f);
	for (int64_t i = 0; i < r->rows.nrows; i++) {
		for (int c = 0; c < r->ncols; c++) {
			if (c)
				fputc(',', f);
			if (cell(r, c, i, &b))
				csv_field(f, b.p, b.len);
		}
		fputc('\n', f);
	}
	br_buf_free(&b);
}

static void print_json(const br_sql_result *r, FILE *f)
{
	br_buf b = { 0 };
	for (int64_t i = 0; i < r->rows.nrows; i++) {
		json_t *o = json_object();
		for (int c = 0; c < r->ncols; c++) {
			const br_col *col = &r->rows.cols[c];
			json_t *v = json_null();
			if (br_col_valid(col, i)) {
				br_buf_reset(&b);
				br_col_format_json(col, i, &b);
				v = json_loadb((const char *)b.p, b.len, JSON_DECODE_ANY, NULL);
				if (!v)
					v = json_stringn((const char *)b.p, b.len);
			}
			json_object_set_new(o, r->names[c], v ? v : json_null());
		}
		char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
		fprintf(f, "%s\n", s);
		free(s);
		json_decref(o);
	}
	br_buf_free(&b);
}

static void print_result(cli *c, const br_sql_result *r)
{
	if (r->has_rows) {
		if (c->fmt == F_TABLE)
			print_table(r, stdout);
		else if (c->fmt == F_CSV)
			print_csv(r, stdout);
		else
			print_json(r, stdout);
	} else if (c->fmt == F_TABLE && r->tag[0]) {
		printf("%s\n", r->tag);
	}
	fflush(stdout);
}

/* ------------------------------------------------------------ running */

/* An error as psql prints it: the message, then for a position the line of
 * the statement it falls in with a caret under the character. */
static void print_error(const char *stmt, const br_err *err)
{
	char msg[sizeof err->msg];
	snprintf(msg, sizeof msg, "%s", err->msg);
	char *at = strstr(msg, " at character ");
	long pos = 0;
	if (at) {
		char *end;
		pos = strtol(at + 14, &end, 10);
		if (*end || pos < 1 || (size_t)pos > strlen(stmt) + 1)
			pos = 0;
		else
			*at = 0;
	}
	fprintf(stderr, "ERROR:  %s\n", msg);
	if (!pos)
		return;
	const char *line = stmt, *p = stmt + pos - 1;
	int lineno = 1;
	for (const char *q = stmt; q < p; q++)
		if (*q == '\n') {
			line = q + 1;
			lineno++;
		}
	const char *eol = strchr(line, '\n');
	int len = eol ? (int)(eol - line) : (int)strlen(line);
	char prefix[32];
	int pl = snprintf(prefix, sizeof prefix, "LINE %d: ", lineno);
	fprintf(stderr, "%s%.*s\n%*s^\n", prefix, len, line, pl + (int)width((const uint8_t *)line, (size_t)(p - line)), "");
}

/* Runs one statement (len bytes at text), printing its answer or its error. */
static int run_one(cli *c, const char *text, size_t len)
{
	char *one = br_xmalloc(len + 1);
	memcpy(one, text, len);
	one[len] = 0;
	br_sql_result r = { 0 };
	br_err err = { 0 };
	int rc = br_sql_exec(c->s, one, &r, &err);
	if (rc)
		print_error(one, &err);
	else
		print_result(c, &r);
	br_sql_result_free(&r);
	free(one);
	return rc ? 1 : 0;
}

/* The first DESCRIBE statement in text[*at, to) (what the scanner split
 * skipped: DESCRIBE is braid's, not PostgreSQL's): runs it and moves *at past
 * it; *ran false if there is none. */
static int run_gap(cli *c, const char *text, size_t *at, size_t to, bool *ran)
{
	size_t from = *at;
	while (from < to && (isspace((unsigned char)text[from]) || text[from] == ';'))
		from++;
	size_t end = from;
	while (end < to && text[end] != ';')
		end++;
	*ran = false;
	if (end == from || !br_sql_is_describe(text + from))
		return 0;
	*ran = true;
	*at = end;
	return run_one(c, text + from, end - from);
}

/* Runs each statement of text on its own, printing its answer; stops at the
 * first error (printed psql-style). */
static int run_text(cli *c, const char *text)
{
	PgQuerySplitResult sp = pg_query_split_with_scanner(text);
	if (sp.error) {
		fprintf(stderr, "ERROR:  %s\n", sp.error->message); /* the scanner's own (unterminated strings) */
		pg_query_free_split_result(sp);
		return 1;
	}
	int rc = 0;
	size_t at = 0, total = strlen(text);
	for (int i = 0; i <= sp.n_stmts && !rc; i++) {
		size_t loc = i < sp.n_stmts ? (size_t)sp.stmts[i]->stmt_location : total;
		for (bool ran = true; ran && !rc;)
			rc = run_gap(c, text, &at, loc, &ran);
		if (rc || i == sp.n_stmts)
			break;
		rc = run_one(c, text + loc, (size_t)sp.stmts[i]->stmt_len);
		at = loc + (size_t)sp.stmts[i]->stmt_len;
	}
	pg_query_free_split_result(sp);
	return rc;
}

static int run_file(cli *c, const char *path)
{
	br_buf b = { 0 };
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "braid sql: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		br_buf_put(&b, chunk, n);
	if (f != stdin)
		fclose(f);
	br_buf_u8(&b, 0);
	int rc = run_text(c, (const char *)b.p);
	br_buf_free(&b);
	return rc;
}

/* True when buf holds complete statements: the last non-blank character
 * outside strings, identifiers and comments is ';'. */
static bool complete(const char *buf)
{
	char last = 0;
	for (const char *p = buf; *p; p++) {
		if (*p == '\'' || *p == '"') {
			char q = *p;
			for (p++; *p && *p != q; p++)
				;
			if (!*p)
				return false;
			last = q;
		} else if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
			if (!*p)
				break;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			if (!e)
				return false;
			p = e + 1;
		} else if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
			last = *p;
		}
	}
	return last == ';';
}

static void repl(cli *c, const char *data)
{
	printf("braid sql — %s (\\q to quit; statements end with ';')\n", data);
	br_buf stmt = { 0 };
	using_history();
	for (;;) {
		char *line = readline(stmt.len ? "braid-> " : "braid=> ");
		if (!line)
			break;
		const char *t = line;
		while (*t == ' ' || *t == '\t')
			t++;
		if (!stmt.len && (!strcmp(t, "\\q") || !strcmp(t, "quit") || !strcmp(t, "exit"))) {
			free(line);
			break;
		}
		if (!stmt.len && !*t) {
			free(line);
			continue;
		}
		if (stmt.len)
			br_buf_u8(&stmt, '\n');
		br_buf_put(&stmt, line, strlen(line));
		free(line);
		br_buf_u8(&stmt, 0);
		stmt.len--;
		if (!complete((const char *)stmt.p))
			continue;
		add_history((const char *)stmt.p);
		run_text(c, (const char *)stmt.p);
		br_buf_reset(&stmt);
	}
	br_buf_free(&stmt);
	printf("\n");
}

/* ------------------------------------------------------------ progress */

/* Backfill progress on stderr: a bar redrawn in place on a terminal, plain
 * lines (one per second at most) otherwise; nothing for work shorter than
 * 0.3 s (1 s without a terminal), so quick statements stay quiet. */
static struct {
	bool tty, drawn;
	double last_line;
} prog;

static void on_progress(void *arg, const br_sql_progress *p)
{
	(void)arg;
	bool done = !strcmp(p->phase, "done");
	char line[256];
	if (!prog.drawn && p->elapsed_s < (prog.tty ? 0.3 : 1.0))
		return;
	if (!prog.tty && !done && p->elapsed_s - prog.last_line < 1.0)
		return;
	br_sql_progress_format(p, line, sizeof line);
	if (prog.tty) {
		int pct = p->rows_total > 0 ? (int)(20 * (double)p->rows_done / (double)p->rows_total) : 0;
		char bar[21];
		for (int i = 0; i < 20; i++)
			bar[i] = i < pct ? '#' : '.';
		bar[20] = 0;
		fprintf(stderr, "\r\033[K%s %s%s", bar, line, done ? "\n" : "");
	} else {
		fprintf(stderr, "backfill: %s\n", line);
	}
	fflush(stderr);
	prog.drawn = !done;
	prog.last_line = done ? 0 : p->elapsed_s;
}

/* The flock `braid serve` takes (src/kafka/server.c): one process per data dir. */
static int lock_dir(const char *data, int *fd_out)
{
	char *path = br_xasprintf("%s/LOCK", data);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(path);
	if (fd < 0) {
		fprintf(stderr, "braid sql: cannot open %s/LOCK: %s\n", data, strerror(errno));
		return 1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		close(fd);
		char *addr_path = br_xasprintf("%s/sql/pg-address", data), *addr = NULL;
		size_t len;
		char host[256] = "127.0.0.1";
		int port = 5433;
		if (!br_read_file(addr_path, &addr, &len, NULL) && sscanf(addr, "%255s %d", host, &port) != 2) {
			snprintf(host, sizeof host, "127.0.0.1");
			port = 5433;
		}
		free(addr);
		free(addr_path);
		fprintf(stderr,
		        "braid sql: data directory %s is held by a running braid server%s%s%s.\n"
		        "Nothing was read or changed. Connect to the server instead:\n"
		        "  psql -h %s -p %d\n",
		        data, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", host, port);
		return 3;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)n, 0) != n)
		br_warn("cannot write pid to %s/LOCK", data);
	*fd_out = fd;
	return 0;
}

int br_cli_sql(int argc, char **argv)
{
	const char *data = "braid-data", *file = NULL;
	const char **cmds = br_xcalloc((size_t)argc + 1, sizeof *cmds);
	int ncmds = 0;
	cli c = { .fmt = F_TABLE, .lock_fd = -1 };
	static const struct option opts[] = {
		{ "data", required_argument, 0, 'd' }, { "format", required_argument, 0, 'F' },
		{ "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
	};
	int o, rc = 0;
	optind = 1;
	while ((o = getopt_long(argc, argv, "c:f:h", opts, NULL)) != -1) {
		switch (o) {
		case 'd': data = optarg; break;
		case 'c': cmds[ncmds++] = optarg; break;
		case 'f': file = optarg; break;
		case 'h': sql_usage(stdout); free(cmds); return 0;
		case 'F':
			if (!strcmp(optarg, "table")) c.fmt = F_TABLE;
			else if (!strcmp(optarg, "csv")) c.fmt = F_CSV;
			else if (!strcmp(optarg, "json")) c.fmt = F_JSON;
			else {
				fprintf(stderr, "braid sql: --format must be table, csv or json, not \"%s\"\n", optarg);
				free(cmds);
				return 2;
			}
			break;
		default: sql_usage(stderr); free(cmds); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "braid sql: unexpected argument \"%s\" (see braid sql --help)\n", argv[optind]);
		free(cmds);
		return 2;
	}
	br_err err = { 0 };
	if (br_mkdirs(data, &err)) {
		fprintf(stderr, "braid sql: %s\n", err.msg);
		free(cmds);
		return 1;
	}
	if ((rc = lock_dir(data, &c.lock_fd))) {
		free(cmds);
		return rc;
	}
	br_log_opts lo;
	br_log_opts_default(&lo);
	char *logdir = br_xasprintf("%s/log", data);
	lo.dir = logdir;
	br_catalog *cat = NULL;
	prog.tty = isatty(2);
	if (br_log_open(&c.log, &lo, &err) || br_catalog_topic_open_progress(&cat, c.log, data, on_progress, NULL, &err)) {
		fprintf(stderr, "braid sql: %s\n", err.msg);
		if (c.log)
			br_log_close(c.log);
		close(c.lock_fd);
		free(logdir);
		free(cmds);
		return 1;
	}
	c.s = br_sql_open(cat);
	br_sql_set_progress_listener(c.s, on_progress, NULL);
	if (br_sql_restore(c.s, &err))
		fprintf(stderr, "WARNING:  %s\n", err.msg);
	if (ncmds) {
		for (int i = 0; i < ncmds && !rc; i++)
			rc = run_text(&c, cmds[i]);
	} else if (file) {
		rc = run_file(&c, file);
	} else if (isatty(0)) {
		repl(&c, data);
	} else {
		rc = run_file(&c, "-");
	}
	br_sql_close(c.s);
	br_log_close(c.log);
	close(c.lock_fd);
	free(logdir);
	free(cmds);
	return rc ? 1 : 0;
}

/* ------------------------------------------------------------ serve: following */

struct br_sql_follower {
	uv_timer_t timer;
};

static void on_follow(uv_timer_t *t)
{
	br_err err = { 0 };
	if (br_sql_poll(t->data, &err))
		br_warn("sql: %s", err.msg);
}

br_sql_follower *br_cli_sql_follow(struct uv_loop_s *loop, struct br_sql *sql, int period_ms)
{
	br_sql_follower *f = br_xcalloc(1, sizeof *f);
	uv_timer_init(loop, &f->timer);
	f->timer.data = sql;
	uv_timer_start(&f->timer, on_follow, (uint64_t)period_ms, (uint64_t)period_ms);
	return f;
}

void br_cli_sql_follow_now(void *follower)
{
	br_sql_follower *f = follower;
	on_follow(&f->timer);
}

static void follow_closed(uv_handle_t *h) { free(h); }

void br_cli_sql_follow_stop(br_sql_follower *f)
{
	if (!f)
		return;
	uv_timer_stop(&f->timer);
	uv_close((uv_handle_t *)&f->timer, follow_closed); /* timer is the first member */
}
