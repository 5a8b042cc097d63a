/* pgcatalog.c — the part of PostgreSQL's system catalog that psql's \d
 * family and drivers ask for, answered from braid's real tables and views.
 *
 * braid has no pg_class: the catalog lives in br_sql (tables behind a
 * br_catalog, materialized views in the session). Rather than build the
 * dozens of catalog relations and the SQL they need (regex operators,
 * LEFT JOINs, CASE, pg_get_expr, format_type, regclass casts...), this file
 * recognizes the queries psql 15 sends, by fragments of their text that
 * identify each one, pulls out their parameters (name patterns, relkind
 * lists, oids) and builds the answer. Every answer is true: one schema
 * "public", owner = the session's user, every relation is a table ('r') or
 * a view ('v'; braid's views are materialized but psql's \dv should list
 * them), no indexes, constraints, triggers, rules or policies. A catalog
 * query of any other shape fails with 0A000 saying which ones are
 * answered: never a guess.
 *
 * Relation oids are a hash of the name (stable while the relation exists,
 * so psql's lookup-then-describe sequence finds the same relation), above
 * 16384 where PostgreSQL's user oids start. Name patterns are psql's
 * translation of \d patterns into regular expressions ("^(foo.*)$"),
 * matched with POSIX extended regexes, which agree with PostgreSQL's on
 * everything psql generates. */
#include <ctype.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pg_query.h>

#include "base/util.h"
#include "flow/flow.h"
#include "pgwire/pg_int.h"

#define SCHEMA "public"
#define DATABASE "braid"

/* ------------------------------------------------------------ matching */

/* The statement with runs of white space made one space, for matching. */
static char *normalize(const char *sql)
{
	size_t n = strlen(sql);
	char *o = br_xmalloc(n + 1), *w = o;
	bool sp = false;
	for (const char *p = sql; *p; p++) {
		if (isspace((unsigned char)*p)) {
			sp = w != o;
			continue;
		}
		if (sp)
			*w++ = ' ';
		sp = false;
		*w++ = *p;
	}
	*w = 0;
	return o;
}

static bool has(const char *q, const char *frag) { return strstr(q, frag) != NULL; }

/* The string literal that follows frag ('...' with '' for a quote), or NULL. */
static char *literal_after(const char *q, const char *frag)
{
	const char *p = strstr(q, frag);
	if (!p)
		return NULL;
	p += strlen(frag);
	while (*p == ' ')
		p++;
	if (*p == 'E' && p[1] == '\'')
		p++;
	if (*p != '\'')
		return NULL;
	br_buf b = { 0 };
	for (p++; *p; p++) {
		if (*p == '\'') {
			if (p[1] != '\'')
				break;
			p++;
		}
		br_buf_u8(&b, (uint8_t)*p);
	}
	br_buf_u8(&b, 0);
	return (char *)b.p;
}

static bool regex_match(const char *pattern, const char *s)
{
	regex_t re;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB))
		return false;
	bool m = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

/* ------------------------------------------------------------ relations */

typedef struct rel {
	char *name;
	bool is_view;
	int ncols;
	char **cols;
	br_type_id *types;
	int64_t oid;
} rel;

typedef struct rels {
	int n, cap;
	rel *v;
} rels;

static int64_t name_oid(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return 16384 + (int64_t)(h % 2000000000u);
}

static void add_rel(void *arg, const char *name, bool is_view, int ncols, char *const *cols, const br_type_id *types)
{
	rels *r = arg;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->v = br_xrealloc(r->v, sizeof *r->v * (size_t)r->cap);
	}
	rel *x = &r->v[r->n++];
	x->name = br_xstrdup(name);
	x->is_view = is_view;
	x->ncols = ncols;
	x->cols = br_xcalloc((size_t)ncols + 1, sizeof *x->cols);
	x->types = br_xcalloc((size_t)ncols + 1, sizeof *x->types);
	for (int i = 0; i < ncols; i++) {
		x->cols[i] = br_xstrdup(cols[i]);
		x->types[i] = types[i];
	}
	x->oid = name_oid(name);
}

static void rels_free(rels *r)
{
	for (int i = 0; i < r->n; i++) {
		for (int k = 0; k < r->v[i].ncols; k++)
			free(r->v[i].cols[k]);
		free(r->v[i].cols);
		free(r->v[i].types);
		free(r->v[i].name);
	}
	free(r->v);
}

static int rel_cmp(const void *a, const void *b) { return strcmp(((const rel *)a)->name, ((const rel *)b)->name); }

static rel *rel_by_oid(rels *r, int64_t oid)
{
	for (int i = 0; i < r->n; i++)
		if (r->v[i].oid == oid)
			return &r->v[i];
	return NULL;
}

/* PostgreSQL's name for a braid column type (format_type). */
static const char *type_name(br_type_id t)
{
	br_type *bt = br_type_new(t);
	int16_t len;
	int32_t mod;
	uint32_t oid = br_pg_type_of(bt, &len, &mod);
	br_type_free(bt);
	switch (oid) {
	case BR_PG_BOOL: return "boolean";
	case BR_PG_INT2: return "smallint";
	case BR_PG_INT4: return "integer";
	case BR_PG_INT8: return "bigint";
	case BR_PG_FLOAT4: return "real";
	case BR_PG_FLOAT8: return "double precision";
	case BR_PG_NUMERIC: return "numeric";
	case BR_PG_DATE: return "date";
	case BR_PG_TIME: return "time without time zone";
	case BR_PG_TIMESTAMP: return "timestamp without time zone";
	case BR_PG_TIMESTAMPTZ: return "timestamp with time zone";
	case BR_PG_UUID: return "uuid";
	case BR_PG_BYTEA: return "bytea";
	default: return "text";
	}
}

/* ------------------------------------------------------------ answers */

/* A result under construction: columns typed bool / long / string. */
typedef struct ans {
	br_sql_result *sr;
	br_value *row;
	int col;
} ans;

static void ans_init(ans *a, int ncols, const char *const *names, const char *types)
{
	br_sql_result *sr = a->sr = br_xcalloc(1, sizeof *sr);
	sr->ncols = ncols;
	sr->names = br_xcalloc((size_t)ncols + 1, sizeof *sr->names);
	sr->types = br_xcalloc((size_t)ncols + 1, sizeof *sr->types);
	for (int i = 0; i < ncols; i++) {
		sr->names[i] = br_xstrdup(names[i]);
		sr->types[i] = types[i] == 'b' ? BR_T_BOOLEAN : types[i] == 'i' ? BR_T_LONG : BR_T_STRING;
	}
	sr->rowtype = br_flow_row_type(ncols, sr->types);
	br_batch_init(&sr->rows, sr->rowtype, false);
	sr->has_rows = true;
	a->row = br_xcalloc((size_t)ncols + 1, sizeof *a->row);
	a->col = 0;
}

static void put_s(ans *a, const char *s)
{
	a->row[a->col] = s ? br_value_bytes(BR_T_STRING, s, strlen(s)) : br_value_null(BR_T_STRING);
	a->col++;
}
static void put_i(ans *a, int64_t v) { a->row[a->col++] = br_value_i64(BR_T_LONG, v); }
static void put_b(ans *a, bool v)
{
	br_value x = br_value_i64(BR_T_BOOLEAN, 0);
	x.v.b = v;
	a->row[a->col++] = x;
}
static void put_null(ans *a) { a->row[a->col] = br_value_null(a->sr->types[a->col]); a->col++; }

static void end_row(ans *a)
{
	br_batch_append_row(&a->sr->rows, a->row, 1);
	a->col = 0;
}

static void ans_done(ans *a, br_pg_result *res)
{
	br_sql_result *sr = a->sr;
	snprintf(sr->tag, sizeof sr->tag, "SELECT %" PRId64, sr->rows.nrows);
	free(a->row);
	memset(res, 0, sizeof *res);
	res->priv = sr;
	res->has_rows = true;
	res->ncols = sr->ncols;
	res->names = sr->names;
	res->rowtype = sr->rowtype;
	res->rows = sr->rows;
	snprintf(res->tag, sizeof res->tag, "%s", sr->tag);
}

/* Whether relation x passes the query's schema and name patterns. */
static bool rel_matches(const char *q, const rel *x)
{
	char *np = literal_after(q, "c.relname OPERATOR(pg_catalog.~)");
	char *sp = literal_after(q, "n.nspname OPERATOR(pg_catalog.~)");
	bool ok = (!np || regex_match(np, x->name)) && (!sp || regex_match(sp, SCHEMA));
	free(np);
	free(sp);
	return ok;
}

/* The relkinds of "c.relkind IN ('r','p',...)" that braid has. */
static void relkinds(const char *q, bool *tables, bool *views)
{
	*tables = *views = true;
	const char *p = strstr(q, "c.relkind IN (");
	if (!p)
		return;
	*tables = *views = false;
	for (p += 14; *p && *p != ')'; p++)
		if (p[0] == '\'' && p[2] == '\'') {
			*tables |= p[1] == 'r' || p[1] == 'p';
			*views |= p[1] == 'v' || p[1] == 'm';
			p += 2;
		}
}

/* \d \dt \dv \dm ... : Schema | Name | Type | Owner */
static void list_relations(const char *q, rels *r, const char *user, br_pg_result *res)
{
	bool t, v;
	relkinds(q, &t, &v);
	static const char *const names[] = { "Schema", "Name", "Type", "Owner" };
	ans a;
	ans_init(&a, 4, names, "ssss");
	for (int i = 0; i < r->n; i++) {
		rel *x = &r->v[i];
		if ((x->is_view ? !v : !t) || !rel_matches(q, x))
			continue;
		put_s(&a, SCHEMA);
		put_s(&a, x->name);
		put_s(&a, x->is_view ? "view" : "table");
		put_s(&a, user);
		end_row(&a);
	}
	ans_done(&a, res);
}

/* \d NAME, first step: oid, nspname, relname of the matching relations. */
static void lookup_relations(const char *q, rels *r, br_pg_result *res)
{
	static const char *const names[] = { "oid", "nspname", "relname" };
	ans a;
	ans_init(&a, 3, names, "iss");
	for (int i = 0; i < r->n; i++)
		if (rel_matches(q, &r->v[i])) {
			put_i(&a, r->v[i].oid);
			put_s(&a, SCHEMA);
			put_s(&a, r->v[i].name);
			end_row(&a);
		}
	ans_done(&a, res);
}

static int64_t oid_after(const char *q, const char *frag)
{
	char *s = literal_after(q, frag);
	int64_t v = s ? strtoll(s, NULL, 10) : -1;
	free(s);
	return v;
}

/* \d NAME, second step: the relation's flags (psql 15's column list). */
static void relation_info(rel *x, br_pg_result *res)
{
	static const char *const names[] = { "relchecks", "relkind", "relhasindex", "relhasrules", "relhastriggers",
					     "relrowsecurity", "relforcerowsecurity", "relhasoids", "relispartition",
					     "?column?", "reltablespace", "reloftype", "relpersistence", "relreplident",
					     "amname" };
	ans a;
	ans_init(&a, 15, names, "isbbbbbbbsisssS");
	if (x) {
		put_i(&a, 0);
		put_s(&a, x->is_view ? "v" : "r");
		for (int i = 0; i < 7; i++)
			put_b(&a, false);
		put_s(&a, "");
		put_i(&a, 0);
		put_s(&a, "");
		put_s(&a, "p");
		put_s(&a, x->is_view ? "n" : "d");
		put_null(&a); /* no access method: braid's tables are not PostgreSQL heaps */
		end_row(&a);
	}
	ans_done(&a, res);
}

/* \d NAME, third step: the columns. */
static void relation_columns(const char *q, rel *x, br_pg_result *res)
{
	bool verbose = has(q, "a.attstorage");
	static const char *const names[] = { "attname", "format_type", "pg_get_expr", "attnotnull", "attcollation",
					     "attidentity", "attgenerated", "attstorage", "attcompression",
					     "attstattarget", "col_description" };
	int n = verbose ? 11 : 7;
	ans a;
	ans_init(&a, n, names, "sssbsssssis");
	for (int i = 0; x && i < x->ncols; i++) {
		put_s(&a, x->cols[i]);
		put_s(&a, type_name(x->types[i]));
		put_null(&a);
		put_b(&a, false);
		put_null(&a);
		put_s(&a, "");
		put_s(&a, "");
		if (verbose) {
			put_s(&a, x->types[i] == BR_T_STRING ? "x" : "p");
			put_s(&a, "");
			put_null(&a);
			put_null(&a);
		}
		end_row(&a);
	}
	ans_done(&a, res);
}

/* The number of columns a SELECT returns (the first arm of a set
 * operation), from libpg_query's parse tree; 0 if it is not a SELECT. */
static int select_width(const char *sql)
{
	PgQueryParseResult pr = pg_query_parse(sql);
	int n = 0;
	json_t *root = pr.error ? NULL : json_loads(pr.parse_tree, 0, NULL);
	json_t *sel = json_object_get(json_object_get(json_array_get(json_object_get(root, "stmts"), 0), "stmt"),
				      "SelectStmt");
	while (sel && json_object_get(sel, "larg"))
		sel = json_object_get(sel, "larg");
	if (sel)
		n = (int)json_array_size(json_object_get(sel, "targetList"));
	json_decref(root);
	pg_query_free_parse_result(pr);
	return n;
}

/* A query about things braid does not have (indexes, constraints,
 * publications, ...): the true answer is no rows, in the query's columns. */
static void empty_answer(int ncols, br_pg_result *res)
{
	const char *names[16];
	char types[17] = { 0 };
	static const char *const cn[] = { "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8",
					  "c9", "c10", "c11", "c12", "c13", "c14", "c15", "c16" };
	for (int i = 0; i < ncols && i < 16; i++) {
		names[i] = cn[i];
		types[i] = 's';
	}
	ans a;
	ans_init(&a, ncols < 16 ? ncols : 16, names, types);
	ans_done(&a, res);
}

/* ------------------------------------------------------------ entry */

bool br_pgcat_wants(const char *sql)
{
	/* cheap filter first; then the parse tree decides, so a name in a
	 * comment or a string literal is not a catalog query */
	static const char *const frags[] = { "pg_", "information_schema" };
	bool maybe = false;
	for (size_t i = 0; i < BR_ARRAY_LEN(frags) && !maybe; i++)
		maybe = strcasestr(sql, frags[i]) != NULL;
	if (!maybe)
		return false;
	PgQueryParseResult pr = pg_query_parse(sql);
	/* in the JSON tree, quotes inside SQL strings are escaped, so these
	 * fragments only match real relation references */
	bool yes = !pr.error && pr.parse_tree &&
		   (strstr(pr.parse_tree, "\"schemaname\":\"pg_catalog\"") ||
		    strstr(pr.parse_tree, "\"schemaname\":\"information_schema\"") ||
		    strstr(pr.parse_tree, "\"relname\":\"pg_"));
	pg_query_free_parse_result(pr);
	return yes;
}

int br_pgcat_answer(br_sql *sql, const char *user, const char *stmt, br_pg_result *res, br_pg_error *e)
{
	char *q = normalize(stmt);
	rels r = { 0 };
	if (!br_sql_relations(sql, add_rel, &r)) {
		rels_free(&r);
		free(q);
		return br_pg_errorf(e, "0A000", 0, "unsupported: catalog queries over a table catalog that cannot list its tables");
	}
	if (r.n)
		qsort(r.v, (size_t)r.n, sizeof *r.v, rel_cmp);
	int rc = 0, n;
	if (has(q, "FROM pg_catalog.pg_class c") && has(q, "as \"Owner\"") && has(q, "c.relkind IN (") &&
	    !has(q, "\"Size\"")) {
		list_relations(q, &r, user, res);
	} else if (has(q, "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c")) {
		lookup_relations(q, &r, res);
	} else if (has(q, "SELECT c.relchecks, c.relkind, c.relhasindex") && has(q, "WHERE c.oid = '")) {
		relation_info(rel_by_oid(&r, oid_after(q, "WHERE c.oid =")), res);
	} else if (has(q, "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)") &&
		   has(q, "WHERE a.attrelid = '")) {
		relation_columns(q, rel_by_oid(&r, oid_after(q, "WHERE a.attrelid =")), res);
	} else if ((has(q, "pg_catalog.pg_publication") || has(q, "pg_catalog.pg_statistic_ext") ||
		    has(q, "pg_catalog.pg_inherits") || has(q, "pg_catalog.pg_policy") ||
		    has(q, "pg_catalog.pg_trigger") || has(q, "pg_catalog.pg_constraint") ||
		    has(q, "pg_catalog.pg_rewrite") || has(q, "pg_catalog.pg_index ")) &&
		   (n = select_width(stmt)) > 0) {
		/* psql's footers of \d NAME: braid has none of these objects */
		empty_answer(n, res);
	} else if (has(q, "FROM pg_catalog.pg_database d")) {
		static const char *const names[] = { "Name", "Owner", "Encoding", "Collate", "Ctype",
						     "ICU Locale", "Locale Provider", "Access privileges" };
		ans a;
		ans_init(&a, 8, names, "ssssssss");
		put_s(&a, DATABASE);
		put_s(&a, user);
		put_s(&a, "UTF8");
		put_s(&a, "C");
		put_s(&a, "C");
		put_null(&a);
		put_s(&a, "libc");
		put_null(&a);
		end_row(&a);
		ans_done(&a, res);
	} else if (has(q, "FROM pg_catalog.pg_namespace n") && has(q, "AS \"Owner\"")) {
		static const char *const names[] = { "Name", "Owner" };
		ans a;
		ans_init(&a, 2, names, "ss");
		char *np = literal_after(q, "n.nspname OPERATOR(pg_catalog.~)");
		if (!np || regex_match(np, SCHEMA)) {
			put_s(&a, SCHEMA);
			put_s(&a, user);
			end_row(&a);
		}
		free(np);
		ans_done(&a, res);
	} else {
		rc = br_pg_errorf(e, "0A000", 0,
				  "unsupported: this query on PostgreSQL's system catalog; braid answers the catalog "
				  "queries of psql's \\d, \\dt, \\dv, \\d NAME, \\l and \\dn");
	}
	rels_free(&r);
	free(q);
	return rc;
}

/* ------------------------------------------------------------ SET / SHOW
 *
 * Drivers set and read a few run-time parameters. braid's are fixed (the
 * values ParameterStatus announced at startup), except application_name: a
 * SET to the value braid already has succeeds, any other value fails with
 * 0A000 naming the fixed value, never pretending to have changed. */

static const struct {
	const char *name, *value;
	const char *const accept[4]; /* other spellings of the same value */
} params[] = {
	{ "server_version", "15.0 (braid)", { NULL } },
	{ "server_encoding", "UTF8", { NULL } },
	{ "client_encoding", "UTF8", { "utf-8", "unicode", NULL } },
	{ "DateStyle", "ISO, MDY", { "iso", "iso,mdy", NULL } },
	{ "IntervalStyle", "postgres", { NULL } },
	{ "TimeZone", "UTC", { "utc", "etc/utc", "gmt", NULL } },
	{ "standard_conforming_strings", "on", { "true", NULL } },
	{ "integer_datetimes", "on", { NULL } },
	{ "search_path", "public", { "\"$user\", public", "\"$user\",public", NULL } },
	/* floats are printed shortest-exact, which PostgreSQL does for any value above 0 */
	{ "extra_float_digits", "1", { "2", "3", NULL } },
};

static bool same_value(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a == ' ') { a++; continue; }
		if (*b == ' ') { b++; continue; }
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++, b++;
	}
	while (*a == ' ') a++;
	while (*b == ' ') b++;
	return !*a && !*b;
}

static void one_value(const char *col, const char *v, br_pg_result *res)
{
	const char *names[1] = { col };
	ans a;
	ans_init(&a, 1, names, "s");
	put_s(&a, v);
	end_row(&a);
	ans_done(&a, res);
	snprintf(res->tag, sizeof res->tag, "SHOW");
	snprintf(((br_sql_result *)res->priv)->tag, sizeof res->tag, "SHOW");
}

/* The text of a SET's value list (A_Const strings, numbers, identifiers). */
static void set_value(json_t *args, br_buf *out)
{
	size_t i;
	json_t *a;
	json_array_foreach(args, i, a) {
		if (i)
			br_buf_put(out, ", ", 2);
		json_t *c = json_object_get(a, "A_Const");
		json_t *v;
		const char *sv = NULL;
		char num[32];
		if ((v = json_object_get(json_object_get(c, "sval"), "sval")))
			sv = json_string_value(v);
		else if ((v = json_object_get(json_object_get(c, "ival"), "ival"))) {
			snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
			sv = num;
		} else if (json_object_get(c, "ival")) {
			sv = "0";
		} else if ((v = json_object_get(json_object_get(c, "fval"), "fval")))
			sv = json_string_value(v);
		if (sv)
			br_buf_put(out, sv, strlen(sv));
	}
	br_buf_u8(out, 0);
}

/* SHOW forms the SQL engine answers (braid's own, not server settings). */
static bool engine_show(const char *name)
{
	static const char *const names[] = { "watermarks", "tables", "views", "topics" };
	for (size_t i = 0; name && i < BR_ARRAY_LEN(names); i++)
		if (!strcasecmp(name, names[i]))
			return true;
	return false;
}

int br_pgcat_setting(const char *stmt, char **app_name, br_pg_result *res, br_pg_error *e)
{
	const char *p = stmt;
	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, "set", 3) && strncasecmp(p, "show", 4) && strncasecmp(p, "reset", 5))
		return 1;
	PgQueryParseResult pr = pg_query_parse(stmt);
	json_t *root = pr.error ? NULL : json_loads(pr.parse_tree, 0, NULL);
	pg_query_free_parse_result(pr);
	json_t *st = json_object_get(json_array_get(json_object_get(root, "stmts"), 0), "stmt");
	json_t *show = json_object_get(st, "VariableShowStmt"), *set = json_object_get(st, "VariableSetStmt");
	int rc = 1;
	if (show || set) {
		const char *name = json_string_value(json_object_get(show ? show : set, "name"));
		const char *kind = set ? json_string_value(json_object_get(set, "kind")) : NULL;
		int k = -1;
		for (size_t i = 0; name && i < BR_ARRAY_LEN(params); i++)
			if (!strcasecmp(name, params[i].name))
				k = (int)i;
		bool app = name && !strcasecmp(name, "application_name");
		rc = 0;
		if (show && k < 0 && !app && engine_show(name))
			rc = 1; /* SHOW WATERMARKS, SHOW TABLES ...: the SQL engine's */
		else if (set && kind && strcmp(kind, "VAR_SET_VALUE") && strcmp(kind, "VAR_SET_DEFAULT") &&
		    strcmp(kind, "VAR_RESET")) {
			rc = br_pg_errorf(e, "0A000", 0, "unsupported: this form of SET");
		} else if (!name || (k < 0 && !app)) {
			rc = br_pg_errorf(e, "42704", 0, "unrecognized configuration parameter \"%s\"", name ? name : "");
		} else if (show) {
			one_value(app ? "application_name" : params[k].name, app ? (*app_name ? *app_name : "") : params[k].value,
				  res);
		} else {
			br_buf v = { 0 };
			set_value(json_object_get(set, "args"), &v);
			const char *val = strcmp(kind, "VAR_SET_VALUE") ? NULL : (const char *)v.p;
			if (app) {
				free(*app_name);
				*app_name = val ? br_xstrdup(val) : NULL;
			} else if (val) {
				bool ok = same_value(val, params[k].value);
				for (int j = 0; params[k].accept[j] && !ok; j++)
					ok = same_value(val, params[k].accept[j]);
				if (!ok)
					rc = br_pg_errorf(e, "0A000", 0, "unsupported: braid's %s is fixed at '%s'", params[k].name,
							  params[k].value);
			}
			br_buf_free(&v);
			if (!rc) {
				memset(res, 0, sizeof *res);
				br_sql_result *sr = br_xcalloc(1, sizeof *sr);
				snprintf(sr->tag, sizeof sr->tag, "%s", strcmp(kind, "VAR_RESET") ? "SET" : "RESET");
				res->priv = sr;
				snprintf(res->tag, sizeof res->tag, "%s", sr->tag);
			}
		}
	}
	json_decref(root);
	return rc;
}
