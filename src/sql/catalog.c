/* catalog.c — the in-memory catalog behind br_catalog_vt: each table is a
 * Z-set of encoded rows (row -> multiplicity) in a br_ztab, until tables are
 * wired to topics. */
#include <stdlib.h>
#include <string.h>

#include "base/map.h"
#include "base/util.h"
#include "flow/flow.h"
#include "sql/sql.h"

typedef struct memtable {
	br_sql_table def;
	br_arena arena;
	br_ztab rows;
} memtable;

typedef struct memcat {
	br_catalog base;
	br_map tables; /* name -> memtable* */
} memcat;

static void table_free(memtable *t)
{
	for (int i = 0; i < t->def.ncols; i++)
		free(t->def.cols[i]);
	free(t->def.cols);
	free(t->def.types);
	free(t->def.name);
	br_type_free(t->def.rowtype);
	br_ztab_free(&t->rows);
	br_arena_free(&t->arena);
	free(t);
}

static int mem_create(br_catalog *c, const br_sql_table *def, br_err *err)
{
	memcat *m = (memcat *)c;
	if (br_map_gets(&m->tables, def->name))
		return br_errf(err, BR_EEXIST, "relation \"%s\" already exists", def->name);
	memtable *t = br_xcalloc(1, sizeof *t);
	t->def.name = br_xstrdup(def->name);
	t->def.ncols = def->ncols;
	t->def.cols = br_xcalloc((size_t)def->ncols + 1, sizeof(char *));
	t->def.types = br_xcalloc((size_t)def->ncols + 1, sizeof(br_type_id));
	for (int i = 0; i < def->ncols; i++) {
		t->def.cols[i] = br_xstrdup(def->cols[i]);
		t->def.types[i] = def->types[i];
	}
	t->def.rowtype = br_flow_row_type(def->ncols, def->types);
	br_arena_init(&t->arena, 64 * 1024);
	br_ztab_init(&t->rows, &t->arena);
	br_map_put(&m->tables, def->name, strlen(def->name), t);
	return 0;
}

static int mem_drop(br_catalog *c, const char *name, br_err *err)
{
	memcat *m = (memcat *)c;
	memtable *t = br_map_del(&m->tables, name, strlen(name));
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "table \"%s\" does not exist", name);
	table_free(t);
	return 0;
}

static const br_sql_table *mem_find(br_catalog *c, const char *name)
{
	memtable *t = br_map_gets(&((memcat *)c)->tables, name);
	return t ? &t->def : NULL;
}

static int mem_scan(br_catalog *c, const char *name, br_batch *out, br_err *err)
{
	memtable *t = br_map_gets(&((memcat *)c)->tables, name);
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", name);
	br_value *row = br_xcalloc((size_t)t->def.ncols + 1, sizeof *row);
	br_zent *e;
	int rc = 0;
	for (size_t i = 0; (e = br_ztab_next(&t->rows, &i));) {
		if (!e->w)
			continue;
		if ((rc = br_row_decode(e->key, e->klen, row, t->def.ncols, err)))
			break;
		br_batch_append_row(out, row, e->w);
	}
	free(row);
	return rc;
}

static int mem_apply(br_catalog *c, const char *name, const br_batch *delta, br_err *err)
{
	memtable *t = br_map_gets(&((memcat *)c)->tables, name);
	if (!t)
		return br_errf(err, BR_ENOTFOUND, "relation \"%s\" does not exist", name);
	if (delta->ncols != t->def.ncols)
		return br_errf(err, BR_EINVAL, "table \"%s\" has %d columns, delta has %d", name, t->def.ncols,
			       delta->ncols);
	br_value *row = br_xcalloc((size_t)t->def.ncols + 1, sizeof *row);
	br_buf key = { 0 };
	for (int64_t i = 0; i < delta->nrows; i++) {
		br_batch_get_row(delta, i, row);
		br_buf_reset(&key);
		br_row_encode(&key, row, t->def.ncols);
		br_ztab_upsert(&t->rows, key.p, key.len)->w += br_batch_weight(delta, i);
	}
	br_buf_free(&key);
	free(row);
	return 0;
}

static void mem_free(br_catalog *c)
{
	memcat *m = (memcat *)c;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&m->tables, &i, &slot);)
		table_free(slot->val);
	br_map_free(&m->tables);
	free(m);
}

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int mem_list(br_catalog *c, char ***names, int *n)
{
	memcat *m = (memcat *)c;
	char **out = br_xcalloc(m->tables.count + 1, sizeof(char *));
	int k = 0;
	br_map_slot *slot;
	for (size_t i = 0; br_map_next(&m->tables, &i, &slot);)
		out[k++] = br_xstrdup(slot->key);
	qsort(out, (size_t)k, sizeof *out, name_cmp);
	*names = out;
	*n = k;
	return 0;
}

static const br_catalog_vt mem_vt = {
	.create = mem_create,
	.drop = mem_drop,
	.find = mem_find,
	.scan = mem_scan,
	.apply = mem_apply,
	.free = mem_free,
	.list = mem_list,
};

br_catalog *br_catalog_mem_new(void)
{
	memcat *m = br_xcalloc(1, sizeof *m);
	m->base.vt = &mem_vt;
	return &m->base;
}
