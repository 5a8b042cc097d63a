/* table.c — `braid table ...`: Iceberg tables of a data directory from the
 * command line (create, append CSV / JSON lines, scan, inspect, history, alter,
 * expire, compact, list, drop). Every command is one or a few Iceberg commits
 * through src/iceberg, so it is safe beside a running server. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "cli/cli.h"
#include "iceberg/iceberg.h"
#include "types/text.h"

#define APPEND_CHUNK_ROWS 500000

static void table_usage(FILE *f)
{
	fprintf(f,
	        "usage: braid table <command> NS.NAME [flags] --data DIR\n"
	        "\n"
	        "  create NS.NAME --schema FILE.json [--partition SPEC] [--property K=V]...\n"
	        "        FILE.json is an Iceberg schema in the spec's JSON form; SPEC e.g. \"day(ts),bucket[16](id)\"\n"
	        "  append NS.NAME FILE...            CSV (with a header line) or JSON lines (.json/.jsonl/.ndjson),\n"
	        "                                    by extension; all files in one commit\n"
	        "  scan NS.NAME [--snapshot ID | --as-of TIME] [--format jsonl|csv] [--limit N]\n"
	        "        TIME: epoch milliseconds or ISO-8601\n"
	        "  inspect NS.NAME                   schema, partition spec, current snapshot, files\n"
	        "  history NS.NAME                   snapshots, oldest first\n"
	        "  alter NS.NAME add-column NAME TYPE | drop-column NAME | rename-column NAME NEW |\n"
	        "                widen-column NAME TYPE | make-optional NAME\n"
	        "  expire NS.NAME [--older-than DURATION] [--retain-last N]   (default: older than 5d, keep 1)\n"
	        "  compact NS.NAME [--small-file-bytes SIZE]                  (default 32M)\n"
	        "  remove-orphans NS.NAME [--older-than DURATION]             (default 1d)\n"
	        "  list [NS]                         tables\n"
	        "  drop NS.NAME                      remove a table and its files\n"
	        "\n"
	        "  --data DIR   data directory (default ./braid-data)\n");
}

typedef struct targs {
	const char *data, *schema, *partition, *format, *as_of;
	int64_t snapshot, limit, older_than, retain_last, small_bytes;
	char **props;
	int nprops;
	char **pos; /* positional arguments after the command */
	int npos;
} targs;

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "braid table: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return code;
}

static int parse_args(int argc, char **argv, targs *a)
{
	enum { O_DATA = 256, O_SCHEMA, O_PART, O_FORMAT, O_SNAP, O_ASOF, O_LIMIT, O_OLDER, O_RETAIN, O_SMALL, O_PROP };
	static const struct option opts[] = {
		{ "data", required_argument, 0, O_DATA }, { "schema", required_argument, 0, O_SCHEMA },
		{ "partition", required_argument, 0, O_PART }, { "format", required_argument, 0, O_FORMAT },
		{ "snapshot", required_argument, 0, O_SNAP }, { "as-of", required_argument, 0, O_ASOF },
		{ "limit", required_argument, 0, O_LIMIT }, { "older-than", required_argument, 0, O_OLDER },
		{ "retain-last", required_argument, 0, O_RETAIN }, { "small-file-bytes", required_argument, 0, O_SMALL },
		{ "property", required_argument, 0, O_PROP }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	memset(a, 0, sizeof *a);
	a->data = "braid-data";
	a->format = "jsonl";
	a->limit = -1;
	a->older_than = -1;
	a->retain_last = 1;
	a->small_bytes = 32 << 20;
	a->props = calloc((size_t)argc, sizeof *a->props);
	a->pos = calloc((size_t)argc, sizeof *a->pos);
	optind = 1;
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "-h", opts, NULL)) != -1) {
		switch (c) {
		case 1: a->pos[a->npos++] = optarg; break;
		case 'h': table_usage(stdout); return 1;
		case O_DATA: a->data = optarg; break;
		case O_SCHEMA: a->schema = optarg; break;
		case O_PART: a->partition = optarg; break;
		case O_FORMAT:
			if (strcmp(optarg, "jsonl") && strcmp(optarg, "csv"))
				return fail(2, "--format must be jsonl or csv");
			a->format = optarg;
			break;
		case O_SNAP:
			a->snapshot = strtoll(optarg, &end, 10);
			if (*end || a->snapshot <= 0)
				return fail(2, "--snapshot needs a snapshot id");
			break;
		case O_ASOF: a->as_of = optarg; break;
		case O_LIMIT:
			a->limit = strtoll(optarg, &end, 10);
			if (*end || a->limit < 0)
				return fail(2, "--limit needs a number >= 0");
			break;
		case O_OLDER:
			if ((a->older_than = br_parse_duration_ms(optarg)) < 0)
				return fail(2, "--older-than needs a duration such as 7d or 12h");
			break;
		case O_RETAIN:
			a->retain_last = strtoll(optarg, &end, 10);
			if (*end || a->retain_last < 1)
				return fail(2, "--retain-last needs a number >= 1");
			break;
		case O_SMALL:
			if ((a->small_bytes = br_parse_size(optarg)) < 1)
				return fail(2, "--small-file-bytes needs a size such as 32M");
			break;
		case O_PROP:
			if (!strchr(optarg, '='))
				return fail(2, "--property needs KEY=VALUE");
			a->props[a->nprops++] = optarg;
			break;
		default: table_usage(stderr); return 2;
		}
	}
	return 0;
}

/* Splits "ns.name" at its last dot. */
static int split_name(const char *full, char *ns, char *name)
{
	const char *dot = strrchr(full, '.');
	if (!dot || dot == full || !dot[1] || dot - full >= 256 || strlen(dot + 1) >= 256)
		return fail(2, "table name \"%s\" must be NAMESPACE.NAME", full);
	memcpy(ns, full, (size_t)(dot - full));
	ns[dot - full] = 0;
	strcpy(name, dot + 1);
	return 0;
}

static int open_table(const targs *a, br_lake **lake, br_ice_table **t)
{
	char ns[256], name[256];
	if (a->npos < 1)
		return fail(2, "which table? (NS.NAME)");
	if (split_name(a->pos[0], ns, name))
		return 2;
	br_err err = { 0 };
	if (br_lake_open(a->data, lake, &err))
		return fail(1, "%s", err.msg);
	if (br_ice_load(*lake, ns, name, t, &err)) {
		br_lake_close(*lake);
		return fail(1, "%s", err.msg);
	}
	return 0;
}

/* ---- create ---- */

static int cmd_create(const targs *a)
{
	char ns[256], name[256];
	if (a->npos != 1)
		return fail(2, "create takes one table name");
	if (split_name(a->pos[0], ns, name))
		return 2;
	if (!a->schema)
		return fail(2, "create needs --schema FILE.json");
	br_err err = { 0 };
	char *text;
	size_t len;
	if (br_read_file(a->schema, &text, &len, &err))
		return fail(1, "%s", err.msg);
	br_schema *s;
	int rc = br_schema_parse(text, len, &s, &err);
	free(text);
	if (rc)
		return fail(1, "%s: %s", a->schema, err.msg);
	const char **keys = calloc((size_t)a->nprops + 1, sizeof *keys), **vals = calloc((size_t)a->nprops + 1, sizeof *vals);
	for (int i = 0; i < a->nprops; i++) {
		char *eq = strchr(a->props[i], '=');
		*eq = 0;
		keys[i] = a->props[i];
		vals[i] = eq + 1;
	}
	br_ice_kv props = { (size_t)a->nprops, keys, vals };
	br_lake *lake;
	rc = br_lake_open(a->data, &lake, &err);
	if (!rc)
		rc = br_ice_create(lake, ns, name, s, a->partition, &props, &err);
	if (rc)
		fprintf(stderr, "braid table: %s\n", err.msg);
	else
		printf("created %s.%s\n", ns, name);
	if (!rc || lake)
		br_lake_close(lake);
	br_schema_free(s);
	free(keys);
	free(vals);
	return rc ? 1 : 0;
}

/* ---- append ---- */

typedef struct appender {
	br_ice_table *t;
	const br_type *root;
	br_batch batch;
	br_arena arena;
	br_ice_datafile *files;
	size_t nfiles, cap;
	int64_t rows;
} appender;

static int flush_chunk(appender *ap, br_err *err)
{
	if (!ap->batch.nrows)
		return 0;
	br_ice_datafile *f;
	size_t n;
	int rc = br_ice_write_files(ap->t, &ap->batch, NULL, &ap->arena, &f, &n, err);
	if (rc)
		return rc;
	if (ap->nfiles + n > ap->cap) {
		ap->cap = (ap->nfiles + n) * 2;
		ap->files = br_xrealloc(ap->files, ap->cap * sizeof *ap->files);
	}
	memcpy(ap->files + ap->nfiles, f, n * sizeof *f);
	ap->nfiles += n;
	ap->rows += ap->batch.nrows;
	br_batch_reset(&ap->batch);
	return 0;
}

static int row_done(appender *ap, br_err *err)
{
	br_batch_row_done(&ap->batch, 1);
	return ap->batch.nrows >= APPEND_CHUNK_ROWS ? flush_chunk(ap, err) : 0;
}

/* One row whose cells were appended only partly (a bad value): undo by
 * rebuilding is costly, so the whole command fails instead — no commit happens. */
static int append_jsonl(appender *ap, const char *path, FILE *f, br_err *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int64_t lineno = 0;
	int rc = 0;
	while (!rc && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n)
			continue;
		json_error_t jerr;
		json_t *j = json_loadb(line, (size_t)n, 0, &jerr);
		if (!j || !json_is_object(j)) {
			rc = br_errf(err, BR_EINVAL, "%s:%" PRId64 ": %s", path, lineno, j ? "not a JSON object" : jerr.text);
			json_decref(j);
			break;
		}
		for (int i = 0; i < ap->root->nchildren && !rc; i++) {
			const br_field *fd = &ap->root->children[i];
			rc = br_col_append_json(&ap->batch.cols[i], fd->required, json_object_get(j, fd->name), err);
			if (rc)
				br_errctx(err, "%s:%" PRId64 ": column %s", path, lineno, fd->name);
		}
		json_decref(j);
		if (!rc)
			rc = row_done(ap, err);
	}
	free(line);
	return rc;
}

/* RFC 4180 CSV: fields separated by commas, optionally in double quotes ("" is a
 * quote inside); quoted fields may span lines. An empty unquoted field is null. */
typedef struct csv_field {
	size_t start, len;
	bool quoted;
} csv_field;

static int csv_record(FILE *f, br_buf *text, csv_field **fields, size_t *nf, size_t *cap, bool *eof)
{
	br_buf_reset(text);
	*nf = 0;
	int ch;
	bool inq = false, quoted = false, any = false;
	size_t start = 0;
	for (;;) {
		ch = getc(f);
		if (ch == EOF) {
			*eof = true;
			if (inq)
				return -1;
			if (!any)
				return 0;
			break;
		}
		any = true;
		if (inq) {
			if (ch == '"') {
				int nx = getc(f);
				if (nx == '"') {
					br_buf_u8(text, '"');
					continue;
				}
				if (nx != EOF)
					ungetc(nx, f);
				inq = false;
				continue;
			}
			br_buf_u8(text, (uint8_t)ch);
			continue;
		}
		if (ch == '"' && text->len == start) {
			inq = quoted = true;
			continue;
		}
		if (ch == ',' || ch == '\n') {
			if (*nf == *cap) {
				*cap = *cap ? *cap * 2 : 16;
				*fields = br_xrealloc(*fields, *cap * sizeof **fields);
			}
			size_t len = text->len - start;
			if (ch == '\n' && len && text->p[text->len - 1] == '\r' && !quoted)
				len--;
			(*fields)[(*nf)++] = (csv_field){ start, len, quoted };
			start = text->len;
			quoted = false;
			if (ch == '\n')
				return 1;
			continue;
		}
		br_buf_u8(text, (uint8_t)ch);
	}
	if (*nf == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*fields = br_xrealloc(*fields, *cap * sizeof **fields);
	}
	(*fields)[(*nf)++] = (csv_field){ start, text->len - start, quoted };
	return 1;
}

static int append_csv(appender *ap, const char *path, FILE *f, br_err *err)
{
	br_buf text = { 0 };
	csv_field *fields = NULL;
	size_t nf = 0, cap = 0;
	bool eof = false;
	int rc = 0;
	int r = csv_record(f, &text, &fields, &nf, &cap, &eof);
	if (r <= 0) {
		rc = br_errf(err, BR_EINVAL, "%s: %s", path, r < 0 ? "unterminated quote" : "empty file (a header line is needed)");
		goto out;
	}
	/* map header names to columns */
	int ncol = ap->root->nchildren;
	int *col_of = br_xmalloc(nf * sizeof *col_of);
	bool *seen = br_xcalloc((size_t)ncol, sizeof *seen);
	for (size_t i = 0; i < nf && !rc; i++) {
		col_of[i] = -1;
		for (int k = 0; k < ncol; k++)
			if (strlen(ap->root->children[k].name) == fields[i].len &&
			    !memcmp(ap->root->children[k].name, text.p + fields[i].start, fields[i].len))
				col_of[i] = k;
		if (col_of[i] < 0)
			rc = br_errf(err, BR_EINVAL, "%s: header column \"%.*s\" is not in the table", path, (int)fields[i].len,
			             (const char *)text.p + fields[i].start);
		else if (seen[col_of[i]])
			rc = br_errf(err, BR_EINVAL, "%s: column %s appears twice in the header", path, ap->root->children[col_of[i]].name);
		else
			seen[col_of[i]] = true;
	}
	for (int k = 0; k < ncol && !rc; k++)
		if (!seen[k] && ap->root->children[k].required)
			rc = br_errf(err, BR_EINVAL, "%s: required column %s is missing from the header", path, ap->root->children[k].name);
	size_t nhdr = nf;
	int64_t lineno = 1;
	while (!rc && !eof && (r = csv_record(f, &text, &fields, &nf, &cap, &eof)) != 0) {
		lineno++;
		if (r < 0) {
			rc = br_errf(err, BR_EINVAL, "%s:%" PRId64 ": unterminated quote", path, lineno);
			break;
		}
		if (nf == 1 && fields[0].len == 0 && !fields[0].quoted)
			continue; /* blank line */
		if (nf != nhdr) {
			rc = br_errf(err, BR_EINVAL, "%s:%" PRId64 ": %zu fields, the header has %zu", path, lineno, nf, nhdr);
			break;
		}
		for (int k = 0; k < ncol && !rc; k++) {
			if (seen[k])
				continue;
			br_col_append_null(&ap->batch.cols[k]);
		}
		for (size_t i = 0; i < nf && !rc; i++) {
			int k = col_of[i];
			br_col *c = &ap->batch.cols[k];
			const br_field *fd = &ap->root->children[k];
			if (!fields[i].len && !fields[i].quoted) {
				if (fd->required)
					rc = br_errf(err, BR_EINVAL, "%s:%" PRId64 ": required column %s is empty", path, lineno, fd->name);
				else
					br_col_append_null(c);
				continue;
			}
			if (br_type_is_nested(fd->type)) {
				json_error_t jerr;
				json_t *j = json_loadb((const char *)text.p + fields[i].start, fields[i].len, JSON_DECODE_ANY, &jerr);
				rc = j ? br_col_append_json(c, fd->required, j, err) : br_errf(err, BR_EINVAL, "not JSON: %s", jerr.text);
				json_decref(j);
			} else {
				rc = br_col_append_text(c, (const char *)text.p + fields[i].start, fields[i].len, err);
			}
			if (rc)
				br_errctx(err, "%s:%" PRId64 ": column %s", path, lineno, fd->name);
		}
		if (!rc)
			rc = row_done(ap, err);
	}
	free(col_of);
	free(seen);
out:
	free(fields);
	br_buf_free(&text);
	return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcasecmp(s + n - m, suffix);
}

static int cmd_append(const targs *a)
{
	if (a->npos < 2)
		return fail(2, "append needs a table and at least one file");
	br_lake *lake;
	appender ap = { 0 };
	int rc = open_table(a, &lake, &ap.t);
	if (rc)
		return rc;
	br_err err = { 0 };
	ap.root = br_ice_table_schema(ap.t)->root;
	br_batch_init(&ap.batch, ap.root, false);
	br_arena_init(&ap.arena, 0);
	for (int i = 1; i < a->npos && !rc; i++) {
		const char *path = a->pos[i];
		bool csv = ends_with(path, ".csv");
		if (!csv && !ends_with(path, ".json") && !ends_with(path, ".jsonl") && !ends_with(path, ".ndjson")) {
			rc = br_errf(&err, BR_EINVAL, "%s: use a .csv, .json, .jsonl or .ndjson file", path);
			break;
		}
		FILE *f = fopen(path, "rb");
		if (!f) {
			rc = br_errno(&err, BR_EIO, "open %s", path);
			break;
		}
		rc = csv ? append_csv(&ap, path, f, &err) : append_jsonl(&ap, path, f, &err);
		fclose(f);
	}
	if (!rc)
		rc = flush_chunk(&ap, &err);
	if (!rc && ap.nfiles) {
		char rows[32];
		snprintf(rows, sizeof rows, "%" PRId64, ap.rows);
		const char *keys[] = { "braid.source" }, *vals[] = { "braid table append" };
		br_ice_kv kv = { 1, keys, vals };
		rc = br_ice_append(ap.t, ap.files, ap.nfiles, &kv, &err);
		if (!rc)
			printf("appended %s rows in %zu file(s); snapshot %" PRId64 "\n", rows, ap.nfiles,
			       br_ice_table_current(ap.t)->id);
	} else if (!rc) {
		printf("no rows: nothing committed\n");
	}
	if (rc)
		fprintf(stderr, "braid table: %s (nothing was committed)\n", err.msg);
	/* written but uncommitted files are orphans; `remove-orphans` deletes them */
	br_batch_free(&ap.batch);
	br_arena_free(&ap.arena);
	free(ap.files);
	br_ice_table_free(ap.t);
	br_lake_close(lake);
	return rc ? 1 : 0;
}

/* ---- scan ---- */

static int64_t parse_time_arg(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*end)
		return v;
	br_type *t = br_type_new(BR_T_TIMESTAMPTZ);
	br_buf scratch = { 0 };
	br_value val;
	int64_t ms = -1;
	if (!br_value_parse_text(t, s, strlen(s), &scratch, &val, NULL))
		ms = val.v.i64 / 1000;
	br_type_free(t);
	br_buf_free(&scratch);
	return ms;
}

static void csv_cell(const br_col *c, int64_t i, br_buf *tmp, br_buf *out)
{
	if (!br_col_valid(c, i))
		return;
	br_buf_reset(tmp);
	br_col_format_text(c, i, tmp);
	bool quote = !tmp->len && c->type->id == BR_T_STRING;
	for (size_t k = 0; k < tmp->len && !quote; k++)
		quote = tmp->p[k] == ',' || tmp->p[k] == '"' || tmp->p[k] == '\n' || tmp->p[k] == '\r';
	if (!quote) {
		br_buf_put(out, tmp->p, tmp->len);
		return;
	}
	br_buf_u8(out, '"');
	for (size_t k = 0; k < tmp->len; k++) {
		if (tmp->p[k] == '"')
			br_buf_u8(out, '"');
		br_buf_u8(out, tmp->p[k]);
	}
	br_buf_u8(out, '"');
}

static int cmd_scan(const targs *a)
{
	br_lake *lake;
	br_ice_table *t;
	int rc = open_table(a, &lake, &t);
	if (rc)
		return rc;
	br_ice_scan_opts o = { 0 };
	o.snapshot_id = a->snapshot;
	if (a->as_of && (o.as_of_ms = parse_time_arg(a->as_of)) < 0) {
		br_ice_table_free(t);
		br_lake_close(lake);
		return fail(2, "--as-of needs epoch milliseconds or an ISO-8601 time");
	}
	if (a->snapshot && !br_ice_table_snapshot(t, a->snapshot)) {
		br_ice_table_free(t);
		br_lake_close(lake);
		return fail(1, "table %s has no snapshot %" PRId64, a->pos[0], a->snapshot);
	}
	br_err err = { 0 };
	br_ice_scan *scan;
	if ((rc = br_ice_scan_open(t, &o, &scan, &err))) {
		fprintf(stderr, "braid table: %s\n", err.msg);
		br_ice_table_free(t);
		br_lake_close(lake);
		return 1;
	}
	bool csv = !strcmp(a->format, "csv");
	br_batch b = { 0 };
	br_buf out = { 0 }, tmp = { 0 };
	int64_t left = a->limit;
	bool header = false;
	while (left != 0 && (rc = br_ice_scan_next(scan, &b, &err)) == 1) {
		const br_type *root = b.type;
		if (csv && !header) {
			for (int k = 0; k < root->nchildren; k++) {
				if (k)
					br_buf_u8(&out, ',');
				br_buf_printf(&out, "%s", root->children[k].name);
			}
			br_buf_u8(&out, '\n');
			header = true;
		}
		for (int64_t i = 0; i < b.nrows && left != 0; i++, left--) {
			if (csv) {
				for (int k = 0; k < root->nchildren; k++) {
					if (k)
						br_buf_u8(&out, ',');
					csv_cell(&b.cols[k], i, &tmp, &out);
				}
			} else {
				br_buf_u8(&out, '{');
				for (int k = 0; k < root->nchildren; k++) {
					if (k)
						br_buf_u8(&out, ',');
					br_buf_printf(&out, "\"%s\":", root->children[k].name);
					br_col_format_json(&b.cols[k], i, &out);
				}
				br_buf_u8(&out, '}');
			}
			br_buf_u8(&out, '\n');
			if (out.len > (1 << 20)) {
				fwrite(out.p, 1, out.len, stdout);
				br_buf_reset(&out);
			}
		}
	}
	if (csv && !header) { /* an empty table still has a header line */
		const br_type *root = br_ice_table_schema(t)->root;
		for (int k = 0; k < root->nchildren; k++)
			br_buf_printf(&out, "%s%s", k ? "," : "", root->children[k].name);
		br_buf_u8(&out, '\n');
	}
	if (out.len)
		fwrite(out.p, 1, out.len, stdout);
	if (rc < 0)
		fprintf(stderr, "braid table: %s\n", err.msg);
	br_batch_free(&b);
	br_buf_free(&out);
	br_buf_free(&tmp);
	br_ice_scan_close(scan);
	br_ice_table_free(t);
	br_lake_close(lake);
	return rc < 0 ? 1 : 0;
}

/* ---- inspect, history ---- */

static void print_time(int64_t ms)
{
	br_buf b = { 0 };
	br_value v = br_value_i64(BR_T_TIMESTAMPTZ, ms * 1000);
	br_value_format(&v, NULL, &b);
	printf("%.*s", (int)b.len, (const char *)b.p);
	br_buf_free(&b);
}

static void print_summary(const br_ice_snapshot *s, const char *indent)
{
	for (size_t k = 0; k < s->nsummary; k++)
		printf("%s%s = %s\n", indent, s->summary_keys[k], s->summary_vals[k]);
}

static int cmd_inspect(const targs *a)
{
	br_lake *lake;
	br_ice_table *t;
	int rc = open_table(a, &lake, &t);
	if (rc)
		return rc;
	char *schema = br_schema_print(br_ice_table_schema(t));
	printf("table      %s\nlocation   %s\nmetadata   %s (version %d)\nschema     %s\npartition  %s\n", a->pos[0],
	       br_ice_table_location(t), br_ice_table_metadata_path(t), br_ice_table_version(t), schema,
	       br_ice_table_partition(t)[0] ? br_ice_table_partition(t) : "(unpartitioned)");
	free(schema);
	const br_ice_snapshot *cur = br_ice_table_current(t);
	if (!cur) {
		printf("snapshot   (none: the table is empty)\n");
	} else {
		printf("snapshot   %" PRId64 " (%s, ", cur->id, cur->operation ? cur->operation : "?");
		print_time(cur->timestamp_ms);
		printf(")\n");
		print_summary(cur, "           ");
		br_ice_plan plan;
		br_err err = { 0 };
		br_ice_scan_opts o = { 0 };
		if (br_ice_plan_scan(t, &o, &plan, &err) == 0) {
			printf("files      %zu data file(s), %" PRId64 " record(s)\n", plan.nfiles, plan.total_records);
			for (size_t i = 0; i < plan.nfiles; i++)
				printf("           %s  %" PRId64 " rows  %" PRId64 " bytes\n", plan.files[i].df.path,
				       plan.files[i].df.record_count, plan.files[i].df.file_size);
			br_ice_plan_free(&plan);
		} else {
			fprintf(stderr, "braid table: %s\n", err.msg);
			rc = 1;
		}
	}
	br_ice_table_free(t);
	br_lake_close(lake);
	return rc;
}

static int cmd_history(const targs *a)
{
	br_lake *lake;
	br_ice_table *t;
	int rc = open_table(a, &lake, &t);
	if (rc)
		return rc;
	const br_ice_snapshot *snaps;
	size_t n;
	br_ice_table_snapshots(t, &snaps, &n);
	const br_ice_snapshot *cur = br_ice_table_current(t);
	for (size_t i = 0; i < n; i++) {
		const br_ice_snapshot *s = &snaps[i];
		printf("%s%" PRId64 "  ", cur && cur->id == s->id ? "* " : "  ", s->id);
		print_time(s->timestamp_ms);
		printf("  %-9s parent %" PRId64 "\n", s->operation ? s->operation : "?", s->parent_id);
		print_summary(s, "      ");
	}
	if (!n)
		printf("(no snapshots)\n");
	br_ice_table_free(t);
	br_lake_close(lake);
	return 0;
}

/* ---- alter ---- */

static int cmd_alter(const targs *a)
{
	if (a->npos < 3)
		return fail(2, "alter needs a table, an action and its arguments (see braid table --help)");
	const char *act = a->pos[1];
	br_ice_schema_change ch = { 0 };
	br_type *type = NULL;
	br_err err = { 0 };
	ch.name = a->pos[2];
	int need = 3;
	if (!strcmp(act, "add-column") || !strcmp(act, "widen-column")) {
		ch.kind = act[0] == 'a' ? BR_ICE_ADD_COLUMN : BR_ICE_WIDEN_COLUMN;
		need = 4;
		if (a->npos >= 4) {
			/* a type in the Iceberg JSON form: "long", "decimal(10,2)" or a nested JSON type */
			json_error_t jerr;
			json_t *j = json_loads(a->pos[3], JSON_DECODE_ANY, &jerr);
			if (!j)
				j = json_string(a->pos[3]);
			int rc = br_type_from_json(j, &type, &err);
			json_decref(j);
			if (rc)
				return fail(2, "type %s: %s", a->pos[3], err.msg);
			ch.type = type;
		}
	} else if (!strcmp(act, "drop-column")) {
		ch.kind = BR_ICE_DROP_COLUMN;
	} else if (!strcmp(act, "rename-column")) {
		ch.kind = BR_ICE_RENAME_COLUMN;
		need = 4;
		ch.new_name = a->npos >= 4 ? a->pos[3] : NULL;
	} else if (!strcmp(act, "make-optional")) {
		ch.kind = BR_ICE_MAKE_OPTIONAL;
	} else {
		return fail(2, "unknown alter action \"%s\"", act);
	}
	if (a->npos != need) {
		br_type_free(type);
		return fail(2, "%s takes %d argument(s)", act, need - 2);
	}
	br_lake *lake;
	br_ice_table *t;
	int rc = open_table(a, &lake, &t);
	if (!rc) {
		rc = br_ice_update_schema(t, &ch, 1, &err);
		if (rc)
			fprintf(stderr, "braid table: %s\n", err.msg);
		else {
			char *s = br_schema_print(br_ice_table_schema(t));
			printf("schema %d: %s\n", br_ice_table_schema(t)->schema_id, s);
			free(s);
		}
		br_ice_table_free(t);
		br_lake_close(lake);
		rc = rc ? 1 : 0;
	}
	br_type_free(type);
	return rc;
}

/* ---- maintenance, list, drop ---- */

static int cmd_maint(const targs *a, const char *what)
{
	br_lake *lake;
	br_ice_table *t;
	int rc = open_table(a, &lake, &t);
	if (rc)
		return rc;
	br_err err = { 0 };
	size_t x = 0, y = 0;
	int64_t now = br_now_ms();
	if (!strcmp(what, "expire")) {
		int64_t older = a->older_than >= 0 ? a->older_than : 5LL * 86400000;
		rc = br_ice_expire_snapshots(t, now - older, (int)a->retain_last, &x, &y, &err);
		if (!rc)
			printf("expired %zu snapshot(s), deleted %zu file(s)\n", x, y);
	} else if (!strcmp(what, "compact")) {
		rc = br_ice_compact(t, a->small_bytes, &x, &y, &err);
		if (!rc)
			printf("rewrote %zu small file(s) into %zu\n", x, y);
	} else {
		int64_t older = a->older_than >= 0 ? a->older_than : 86400000;
		rc = br_ice_remove_orphans(t, now - older, &x, &err);
		if (!rc)
			printf("removed %zu orphan file(s)\n", x);
	}
	if (rc)
		fprintf(stderr, "braid table: %s\n", err.msg);
	br_ice_table_free(t);
	br_lake_close(lake);
	return rc ? 1 : 0;
}

static int cmd_list(const targs *a)
{
	br_lake *lake;
	br_err err = { 0 };
	if (br_lake_open(a->data, &lake, &err))
		return fail(1, "%s", err.msg);
	char **names;
	size_t n;
	int rc = br_ice_list(lake, a->npos ? a->pos[0] : "", &names, &n, &err);
	if (rc)
		fprintf(stderr, "braid table: %s\n", err.msg);
	for (size_t i = 0; !rc && i < n; i++) {
		printf("%s\n", names[i]);
		free(names[i]);
	}
	if (!rc)
		free(names);
	br_lake_close(lake);
	return rc ? 1 : 0;
}

static int cmd_drop(const targs *a)
{
	char ns[256], name[256];
	if (a->npos != 1)
		return fail(2, "drop takes one table name");
	if (split_name(a->pos[0], ns, name))
		return 2;
	br_lake *lake;
	br_err err = { 0 };
	if (br_lake_open(a->data, &lake, &err))
		return fail(1, "%s", err.msg);
	int rc = br_ice_drop(lake, ns, name, &err);
	if (rc)
		fprintf(stderr, "braid table: %s\n", err.msg);
	else
		printf("dropped %s\n", a->pos[0]);
	br_lake_close(lake);
	return rc ? 1 : 0;
}

int br_cli_table(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		table_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	targs a;
	int rc = parse_args(argc - 1, argv + 1, &a);
	if (rc) {
		free(a.props);
		free(a.pos);
		return rc == 1 ? 0 : rc;
	}
	if (!strcmp(cmd, "create")) rc = cmd_create(&a);
	else if (!strcmp(cmd, "append")) rc = cmd_append(&a);
	else if (!strcmp(cmd, "scan")) rc = cmd_scan(&a);
	else if (!strcmp(cmd, "inspect")) rc = cmd_inspect(&a);
	else if (!strcmp(cmd, "history")) rc = cmd_history(&a);
	else if (!strcmp(cmd, "alter")) rc = cmd_alter(&a);
	else if (!strcmp(cmd, "expire") || !strcmp(cmd, "compact") || !strcmp(cmd, "remove-orphans")) rc = cmd_maint(&a, cmd);
	else if (!strcmp(cmd, "list")) rc = cmd_list(&a);
	else if (!strcmp(cmd, "drop")) rc = cmd_drop(&a);
	else {
		fprintf(stderr, "braid table: unknown command \"%s\"\n\n", cmd);
		table_usage(stderr);
		rc = 2;
	}
	free(a.props);
	free(a.pos);
	return rc;
}
