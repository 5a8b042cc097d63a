/* catalog.c — the lake's catalog: a SQLite database laid out exactly as
 * Iceberg's JDBC catalog (org.apache.iceberg.jdbc.JdbcUtil), so Iceberg's own
 * JdbcCatalog and pyiceberg's SqlCatalog can open it:
 *
 *   iceberg_tables(catalog_name, table_namespace, table_name,
 *                  metadata_location, previous_metadata_location)
 *     primary key (catalog_name, table_namespace, table_name)
 *   iceberg_namespace_properties(catalog_name, namespace, property_key,
 *                  property_value)
 *     primary key (catalog_name, namespace, property_key)
 *
 * braid's catalog_name is "braid"; namespaces are dotted strings. The commit
 * point of every table change is one UPDATE ... WHERE metadata_location = old:
 * SQLite makes it atomic and durable (journal + fsync), and the WHERE clause
 * makes it a compare-and-swap, which is all optimistic concurrency needs. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "iceberg/ice_int.h"

#define CATALOG_NAME "braid"

struct br_ice_catalog {
	sqlite3 *db;
	char *path;
};

static int db_err(br_ice_catalog *c, br_err *err, const char *what)
{
	return br_errf(err, BR_EIO, "catalog %s: %s: %s", c->path, what, sqlite3_errmsg(c->db));
}

int br_ice_catalog_open(const char *db_path, br_ice_catalog **out, br_err *err)
{
	br_ice_catalog *c = br_xcalloc(1, sizeof *c);
	c->path = br_xstrdup(db_path);
	if (sqlite3_open_v2(db_path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		int rc = db_err(c, err, "open");
		br_ice_catalog_close(c);
		return rc;
	}
	/* Several braid processes (or a CLI next to a server) may commit at once:
	 * wait for the lock instead of failing. FULL sync: the swap is the commit. */
	sqlite3_busy_timeout(c->db, 10000);
	const char *ddl = "PRAGMA synchronous=FULL;"
			  "CREATE TABLE IF NOT EXISTS iceberg_tables("
			  "catalog_name VARCHAR(255) NOT NULL,"
			  "table_namespace VARCHAR(255) NOT NULL,"
			  "table_name VARCHAR(255) NOT NULL,"
			  "metadata_location VARCHAR(1000),"
			  "previous_metadata_location VARCHAR(1000),"
			  "PRIMARY KEY (catalog_name, table_namespace, table_name));"
			  "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties("
			  "catalog_name VARCHAR(255) NOT NULL,"
			  "namespace VARCHAR(255) NOT NULL,"
			  "property_key VARCHAR(255),"
			  "property_value VARCHAR(1000),"
			  "PRIMARY KEY (catalog_name, namespace, property_key));";
	char *msg = NULL;
	if (sqlite3_exec(c->db, ddl, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = br_errf(err, BR_EIO, "catalog %s: create tables: %s", db_path, msg ? msg : "?");
		sqlite3_free(msg);
		br_ice_catalog_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void br_ice_catalog_close(br_ice_catalog *c)
{
	if (!c)
		return;
	sqlite3_close(c->db);
	free(c->path);
	free(c);
}

static int prep(br_ice_catalog *c, const char *sql, sqlite3_stmt **st, br_err *err)
{
	if (sqlite3_prepare_v2(c->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_err(c, err, "prepare");
	return 0;
}

static void bind_texts(sqlite3_stmt *st, const char *const *v, int n)
{
	for (int i = 0; i < n; i++)
		sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT);
}

int br_ice_catalog_create(br_ice_catalog *c, const char *ns, const char *name, const char *metadata_location,
			  br_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(c,
		      "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, metadata_location, "
		      "previous_metadata_location) VALUES (?,?,?,?,null)",
		      &st, err);
	if (rc)
		return rc;
	const char *v[] = { CATALOG_NAME, ns, name, metadata_location };
	bind_texts(st, v, 4);
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s == SQLITE_CONSTRAINT)
		return br_errf(err, BR_EEXIST, "table %s.%s already exists", ns, name);
	if (s != SQLITE_DONE)
		return db_err(c, err, "insert table");
	/* Like JdbcCatalog.createNamespace: a namespace exists once it has a property row. */
	if (prep(c,
		 "INSERT OR IGNORE INTO iceberg_namespace_properties (catalog_name, namespace, property_key, "
		 "property_value) VALUES (?,?,'exists','true')",
		 &st, err) == 0) {
		const char *nv[] = { CATALOG_NAME, ns };
		bind_texts(st, nv, 2);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	return 0;
}

int br_ice_catalog_get(br_ice_catalog *c, const char *ns, const char *name, char **location, br_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(c,
		      "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? "
		      "AND table_name = ?",
		      &st, err);
	if (rc)
		return rc;
	const char *v[] = { CATALOG_NAME, ns, name };
	bind_texts(st, v, 3);
	int s = sqlite3_step(st);
	if (s == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		*location = br_xstrdup((const char *)sqlite3_column_text(st, 0));
		rc = 0;
	} else if (s == SQLITE_ROW || s == SQLITE_DONE) {
		rc = br_errf(err, BR_ENOTFOUND, "table %s.%s does not exist", ns, name);
	} else {
		rc = db_err(c, err, "select table");
	}
	sqlite3_finalize(st);
	return rc;
}

int br_ice_catalog_swap(br_ice_catalog *c, const char *ns, const char *name, const char *old_loc,
			const char *new_loc, br_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(c,
		      "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? WHERE "
		      "catalog_name = ? AND table_namespace = ? AND table_name = ? AND metadata_location = ?",
		      &st, err);
	if (rc)
		return rc;
	const char *v[] = { new_loc, old_loc, CATALOG_NAME, ns, name, old_loc };
	bind_texts(st, v, 6);
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_err(c, err, "update table pointer");
	return sqlite3_changes(c->db) == 1 ? 0 : 1;
}

int br_ice_catalog_drop(br_ice_catalog *c, const char *ns, const char *name, br_err *err)
{
	sqlite3_stmt *st;
	int rc = prep(c, "DELETE FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
		      &st, err);
	if (rc)
		return rc;
	const char *v[] = { CATALOG_NAME, ns, name };
	bind_texts(st, v, 3);
	int s = sqlite3_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_err(c, err, "delete table");
	if (sqlite3_changes(c->db) != 1)
		return br_errf(err, BR_ENOTFOUND, "table %s.%s does not exist", ns, name);
	return 0;
}

int br_ice_catalog_list(br_ice_catalog *c, const char *ns, char ***names, size_t *n, br_err *err)
{
	sqlite3_stmt *st;
	bool all = !ns || !*ns;
	int rc = prep(c,
		      all ? "SELECT table_namespace, table_name FROM iceberg_tables WHERE catalog_name = ? ORDER BY 1, 2"
			  : "SELECT table_namespace, table_name FROM iceberg_tables WHERE catalog_name = ? AND "
			    "table_namespace = ? ORDER BY 1, 2",
		      &st, err);
	if (rc)
		return rc;
	const char *v[] = { CATALOG_NAME, ns };
	bind_texts(st, v, all ? 1 : 2);
	*names = NULL;
	*n = 0;
	size_t cap = 0;
	int s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			*names = br_xrealloc(*names, cap * sizeof **names);
		}
		(*names)[(*n)++] = br_xasprintf("%s.%s", (const char *)sqlite3_column_text(st, 0),
						(const char *)sqlite3_column_text(st, 1));
	}
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_err(c, err, "list tables");
	return 0;
}
