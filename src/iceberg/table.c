/* table.c — Iceberg tables of the lake: create/load, commits (append,
 * overwrite, delete files, schema changes, snapshot expiry) with optimistic
 * concurrency, scan planning with partition and column-bound pruning, time
 * travel and orphan removal.
 *
 * On disk, table NS.NAME lives in DATA/lake/NS/NAME/:
 *   data/[partition path/]<uuid>.parquet      data files (written by callers)
 *   metadata/vN.metadata.json                 table metadata, N = 1, 2, ...
 *   metadata/snap-<snapshot id>-<uuid>.avro   manifest lists
 *   metadata/<uuid>-m0.avro                   manifests
 *   metadata/version-hint.text                "N" (for path-based readers)
 *   metadata/.commit.lock                     flock'ed while publishing
 * and the catalog row (catalog.c) names the current metadata file.
 *
 * A commit, and why a crash (kill -9) anywhere leaves the table at the old or
 * the new snapshot and never refers to a missing file:
 *   1. The data files were written and fsynced by the caller.
 *   2. New manifests and the manifest list are written under fresh names and
 *      fsynced, then their directories are fsynced. Nothing refers to them yet:
 *      a crash here leaves orphans (br_ice_remove_orphans deletes them).
 *   3. Under an flock on metadata/.commit.lock (released by the kernel when a
 *      process dies), the catalog pointer is re-read: if it moved, another
 *      commit won and ours is rebuilt on the new version (optimistic retry).
 *      The new metadata is written to a temporary file, fsynced and linked
 *      to vN+1.metadata.json (link never replaces). A vN+1 left by a writer
 *      that died between this step and the next is unreferenced (the catalog
 *      names vN and we hold the lock), so it is removed first.
 *   4. The commit point: UPDATE iceberg_tables SET metadata_location = vN+1
 *      WHERE metadata_location = vN, a compare-and-swap made durable by
 *      SQLite. Before it, readers see vN; after it, vN+1.
 *   5. version-hint.text is replaced atomically (write, fsync, rename). If a
 *      crash loses this step, path-based readers see vN (still a consistent
 *      snapshot) until br_ice_load notices and repairs the hint.
 * Files a new snapshot stops referencing are deleted only by expiry, after
 * the commit that stops referencing them, so a crash there leaves orphans. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/map.h"
#include "base/util.h"
#include "iceberg/ice_int.h"

/* Optimistic commits retry on conflict. Without a pause the last winner,
 * which never has to reload, keeps winning; jittered exponential backoff
 * (1 ms doubling to 256 ms) over 40 attempts lets every writer through. */
#define COMMIT_ATTEMPTS 40

struct br_lake {
	char *root;
	br_ice_catalog *cat;
};

struct br_ice_table {
	br_lake *lake;
	char *ns, *name;
	char *dir;
	char *location;           /* file:// URI of dir */
	char *meta_loc;           /* URI of the current metadata file */
	int version;
	br_ice_meta m;
};

/* ------------------------------------------------------------------ lake */

int br_lake_open(const char *data_dir, br_lake **out, br_err *err)
{
	int rc = br_mkdirs(data_dir, err);
	if (rc)
		return rc;
	char abs[PATH_MAX];
	if (!realpath(data_dir, abs))
		return br_errno(err, BR_EIO, "realpath %s", data_dir);
	br_lake *l = br_xcalloc(1, sizeof *l);
	l->root = br_xasprintf("%s/lake", abs);
	char *db = br_xasprintf("%s/catalog.db", l->root);
	rc = br_mkdirs(l->root, err);
	if (!rc)
		rc = br_ice_catalog_open(db, &l->cat, err);
	free(db);
	if (rc) {
		br_lake_close(l);
		return rc;
	}
	*out = l;
	return 0;
}

void br_lake_close(br_lake *l)
{
	if (!l)
		return;
	br_ice_catalog_close(l->cat);
	free(l->root);
	free(l);
}

const char *br_lake_root(const br_lake *l) { return l->root; }

static int check_ident(const char *what, const char *s, br_err *err)
{
	if (!s || !*s || strlen(s) > 200 || !strcmp(s, ".") || !strcmp(s, "..") || strchr(s, '/'))
		return br_errf(err, BR_EINVAL, "invalid %s name \"%s\"", what, s ? s : "");
	return 0;
}

/* ------------------------------------------------------------ accessors */

const char *br_ice_table_dir(const br_ice_table *t) { return t->dir; }
const char *br_ice_table_location(const br_ice_table *t) { return t->location; }
int br_ice_table_version(const br_ice_table *t) { return t->version; }
const char *br_ice_table_metadata_path(const br_ice_table *t) { return t->meta_loc; }
const br_schema *br_ice_table_schema(const br_ice_table *t) { return t->m.schema; }
const br_schema *br_ice_table_schema_by_id(const br_ice_table *t, int id) { return br_ice_meta_schema(&t->m, id); }
const char *br_ice_table_partition(const br_ice_table *t) { return t->m.spec_text; }
const char *br_ice_table_metadata_json(const br_ice_table *t) { return t->m.text; }
int br_ice_table_npart(const br_ice_table *t) { return t->m.spec->n; }
const br_ice_meta *br_ice_table_meta(const br_ice_table *t) { return &t->m; }

const char *br_ice_table_property(const br_ice_table *t, const char *key)
{
	return json_string_value(json_object_get(json_object_get(t->m.j, "properties"), key));
}

void br_ice_table_snapshots(const br_ice_table *t, const br_ice_snapshot **out, size_t *n)
{
	*out = t->m.snaps;
	*n = t->m.nsnaps;
}

const br_ice_snapshot *br_ice_table_snapshot(const br_ice_table *t, int64_t id)
{
	for (size_t i = 0; i < t->m.nsnaps; i++)
		if (t->m.snaps[i].id == id)
			return &t->m.snaps[i];
	return NULL;
}

const br_ice_snapshot *br_ice_table_current(const br_ice_table *t)
{
	return t->m.current_snapshot_id < 0 ? NULL : br_ice_table_snapshot(t, t->m.current_snapshot_id);
}

const br_ice_snapshot *br_ice_table_snapshot_at(const br_ice_table *t, int64_t ts_ms)
{
	/* The snapshot log is the main branch's history in commit order; the
	 * answer is its last entry at or before ts (expired ones are skipped). */
	const br_ice_snapshot *best = NULL;
	for (size_t i = 0; i < t->m.nlog; i++) {
		if (t->m.log_ts[i] > ts_ms)
			break;
		const br_ice_snapshot *s = br_ice_table_snapshot(t, t->m.log_id[i]);
		if (s)
			best = s;
	}
	return best;
}

const char *br_ice_snapshot_prop(const br_ice_snapshot *s, const char *key)
{
	for (size_t i = 0; s && i < s->nsummary; i++)
		if (!strcmp(s->summary_keys[i], key))
			return s->summary_vals[i];
	return NULL;
}

/* --------------------------------------------------------- load / create */

static char *meta_file_uri(const br_ice_table *t, int version)
{
	return br_xasprintf("%s/metadata/v%d.metadata.json", t->location, version);
}

static int version_of(const char *loc)
{
	const char *slash = strrchr(loc, '/');
	const char *base = slash ? slash + 1 : loc;
	int v = 0;
	if (sscanf(base, "v%d.metadata.json", &v) != 1)
		return 0;
	return v;
}

static int write_hint(const br_ice_table *t, br_err *err)
{
	char *path = br_xasprintf("%s/metadata/version-hint.text", t->dir);
	char text[24];
	int n = snprintf(text, sizeof text, "%d", t->version);
	int rc = br_write_file_atomic(path, text, (size_t)n, err);
	free(path);
	return rc;
}

static int commit_lock(const br_ice_table *t, br_err *err);
static void commit_unlock(int lfd);

/* Loads the metadata file the catalog names into t (replacing what t held). */
static int load_current(br_ice_table *t, br_err *err)
{
	char *loc;
	int rc = br_ice_catalog_get(t->lake->cat, t->ns, t->name, &loc, err);
	if (rc)
		return rc;
	br_arena a;
	br_arena_init(&a, 1024);
	const char *path = br_ice_uri_path(&a, loc);
	char *text;
	size_t len;
	rc = br_read_file(path, &text, &len, err);
	if (!rc) {
		br_ice_meta m;
		rc = br_ice_meta_parse(text, len, path, &m, err);
		free(text);
		if (!rc) {
			if (t->m.j)
				br_ice_meta_free(&t->m);
			t->m = m;
			free(t->meta_loc);
			t->meta_loc = loc;
			loc = NULL;
			t->version = version_of(t->meta_loc);
		}
	}
	free(loc);
	br_arena_free(&a);
	return rc;
}

static br_ice_table *table_new(br_lake *l, const char *ns, const char *name)
{
	br_ice_table *t = br_xcalloc(1, sizeof *t);
	t->lake = l;
	t->ns = br_xstrdup(ns);
	t->name = br_xstrdup(name);
	t->dir = br_xasprintf("%s/%s/%s", l->root, ns, name);
	t->location = br_xasprintf("file://%s", t->dir);
	return t;
}

void br_ice_table_free(br_ice_table *t)
{
	if (!t)
		return;
	if (t->m.j)
		br_ice_meta_free(&t->m);
	free(t->ns);
	free(t->name);
	free(t->dir);
	free(t->location);
	free(t->meta_loc);
	free(t);
}

int br_ice_load(br_lake *l, const char *ns, const char *name, br_ice_table **out, br_err *err)
{
	int rc = check_ident("namespace", ns, err);
	if (!rc)
		rc = check_ident("table", name, err);
	if (rc)
		return rc;
	br_ice_table *t = table_new(l, ns, name);
	rc = load_current(t, err);
	if (rc) {
		br_ice_table_free(t);
		return rc;
	}
	/* Repair a hint a crash left behind (step 5 of the commit), under the
	 * commit lock and only if the catalog still names what we loaded. */
	char *hint_path = br_xasprintf("%s/metadata/version-hint.text", t->dir);
	char *hint = NULL;
	if (t->version > 0 && (br_read_file(hint_path, &hint, NULL, NULL) || atoi(hint) != t->version)) {
		int lfd = commit_lock(t, NULL);
		char *cur = NULL;
		if (lfd >= 0) {
			if (br_ice_catalog_get(l->cat, ns, name, &cur, NULL) == 0 && !strcmp(cur, t->meta_loc))
				write_hint(t, NULL);
			commit_unlock(lfd);
		}
		free(cur);
	}
	free(hint);
	free(hint_path);
	*out = t;
	return 0;
}

int br_ice_refresh(br_ice_table *t, br_err *err) { return load_current(t, err); }

int br_ice_create(br_lake *l, const char *ns, const char *name, const br_schema *schema, const char *partition,
		  const br_ice_kv *props, br_err *err)
{
	int rc = check_ident("namespace", ns, err);
	if (!rc)
		rc = check_ident("table", name, err);
	if (rc)
		return rc;
	char *loc = NULL;
	if (br_ice_catalog_get(l->cat, ns, name, &loc, NULL) == 0) {
		free(loc);
		return br_errf(err, BR_EEXIST, "table %s.%s already exists", ns, name);
	}
	br_ice_table *t = table_new(l, ns, name);
	br_arena a;
	br_arena_init(&a, 4096);
	br_ice_spec spec;
	json_t *doc = NULL;
	char *text = NULL, *meta_path = NULL, *uri = NULL;
	if (schema->root->nchildren == 0) {
		rc = br_errf(err, BR_EINVAL, "table %s.%s: the schema has no columns", ns, name);
		goto done;
	}
	rc = br_ice_spec_parse_text(partition, schema, &a, &spec, err);
	if (rc)
		goto done;
	/* The directory is not a table (the catalog says so): a create that
	 * crashed before registering it, or a dropped table. Start clean. */
	if (br_path_exists(t->dir) && (rc = br_remove_tree(t->dir, err)))
		goto done;
	char *mdir = br_xasprintf("%s/metadata", t->dir), *ddir = br_xasprintf("%s/data", t->dir);
	rc = br_mkdirs(mdir, err);
	if (!rc)
		rc = br_mkdirs(ddir, err);
	free(ddir);
	if (rc) {
		free(mdir);
		goto done;
	}
	doc = br_ice_meta_initial(t->location, schema, &spec, props);
	text = br_ice_meta_dump(doc);
	meta_path = br_xasprintf("%s/v1.metadata.json", mdir);
	rc = br_ice_write_new_file(meta_path, text, strlen(text), err);
	if (!rc)
		rc = br_fsync_dir(mdir, err);
	free(mdir);
	if (rc)
		goto done;
	t->version = 1;
	uri = meta_file_uri(t, 1);
	rc = br_ice_catalog_create(l->cat, ns, name, uri, err);
	if (!rc)
		rc = write_hint(t, err);
done:
	free(uri);
	free(meta_path);
	free(text);
	json_decref(doc);
	br_arena_free(&a);
	br_ice_table_free(t);
	return rc;
}

int br_ice_drop(br_lake *l, const char *ns, const char *name, br_err *err)
{
	int rc = check_ident("namespace", ns, err);
	if (!rc)
		rc = check_ident("table", name, err);
	if (!rc)
		rc = br_ice_catalog_drop(l->cat, ns, name, err);
	if (rc)
		return rc;
	char *dir = br_xasprintf("%s/%s/%s", l->root, ns, name);
	rc = br_remove_tree(dir, err);
	free(dir);
	return rc;
}

int br_ice_list(br_lake *l, const char *ns, char ***names, size_t *n, br_err *err)
{
	return br_ice_catalog_list(l->cat, ns, names, n, err);
}

/* ---------------------------------------------------------------- commit */

/* Builds the next metadata document from t's current one (doc is a deep copy
 * to edit). May write new manifest files; they become orphans if the commit
 * is lost. */
typedef int (*build_fn)(br_ice_table *t, void *ctx, json_t *doc, br_arena *a, br_err *err);

static int fsync_table_dirs(const br_ice_table *t, br_err *err)
{
	char *m = br_xasprintf("%s/metadata", t->dir), *d = br_xasprintf("%s/data", t->dir);
	int rc = br_fsync_dir(m, err);
	if (!rc)
		rc = br_fsync_dir(d, err);
	free(m);
	free(d);
	return rc;
}

/* The table's commit lock (an flock the kernel drops with the process):
 * returns the locked descriptor or <0. Also serialises writers of
 * version-hint.text, whose temporary file name is fixed. */
static int commit_lock(const br_ice_table *t, br_err *err)
{
	char *lock_path = br_xasprintf("%s/metadata/.commit.lock", t->dir);
	int lfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(lock_path);
	if (lfd < 0)
		return br_errno(err, BR_EIO, "open commit lock of %s.%s", t->ns, t->name);
	while (flock(lfd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(lfd);
			return br_errno(err, BR_EIO, "lock %s.%s for commit", t->ns, t->name);
		}
	}
	return lfd;
}

static void commit_unlock(int lfd)
{
	flock(lfd, LOCK_UN);
	close(lfd);
}

/* Steps 3-5 of the commit story. Returns 0 published, 1 lost the race, <0 error. */
static int publish(br_ice_table *t, const char *text, br_err *err)
{
	int lfd = commit_lock(t, err);
	if (lfd < 0)
		return lfd;
	int rc;
	char *cur = NULL, *uri = NULL, *path = NULL, *tmp = NULL;
	rc = br_ice_catalog_get(t->lake->cat, t->ns, t->name, &cur, err);
	if (rc)
		goto out;
	if (strcmp(cur, t->meta_loc)) {
		rc = 1;
		goto out;
	}
	int version = t->version + 1;
	uri = meta_file_uri(t, version);
	path = br_xasprintf("%s/metadata/v%d.metadata.json", t->dir, version);
	char uuid[37];
	br_ice_uuid(uuid);
	tmp = br_xasprintf("%s/metadata/.v%d-%s.tmp", t->dir, version, uuid);
	rc = br_ice_write_new_file(tmp, text, strlen(text), err);
	if (rc)
		goto out;
	if (unlink(path) == 0)
		br_warn("iceberg: %s.%s: removed v%d.metadata.json left by an interrupted commit", t->ns, t->name, version);
	if (link(tmp, path) != 0) {
		rc = br_errno(err, BR_EIO, "link %s", path);
		unlink(tmp);
		goto out;
	}
	unlink(tmp);
	char *mdir = br_xasprintf("%s/metadata", t->dir);
	rc = br_fsync_dir(mdir, err);
	free(mdir);
	if (rc)
		goto out;
	rc = br_ice_catalog_swap(t->lake->cat, t->ns, t->name, t->meta_loc, uri, err);
	if (rc != 0) {
		unlink(path);
		goto out;
	}
	free(t->meta_loc);
	t->meta_loc = uri;
	uri = NULL;
	t->version = version;
	if (write_hint(t, err))
		br_warn("iceberg: %s.%s: version-hint.text not updated: %s", t->ns, t->name, err ? err->msg : "");
	rc = 0;
out:
	commit_unlock(lfd);
	free(cur);
	free(uri);
	free(path);
	free(tmp);
	return rc;
}

static int commit(br_ice_table *t, build_fn fn, void *ctx, br_err *err)
{
	for (int attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
		int rc;
		if (attempt > 0 && (rc = load_current(t, err)))
			return rc;
		br_arena a;
		br_arena_init(&a, 16384);
		json_t *doc = json_deep_copy(t->m.j);
		int64_t now = br_now_ms();
		rc = fn(t, ctx, doc, &a, err);
		if (!rc) {
			br_ice_meta_log_previous(doc, t->meta_loc, t->m.last_updated_ms);
			/* Iceberg's write.metadata.previous-versions-max (default 100)
			 * bounds the log; older metadata files stay on disk. */
			const char *pmax = br_ice_table_property(t, "write.metadata.previous-versions-max");
			long keep = pmax ? atol(pmax) : 100;
			json_t *mlog = json_object_get(doc, "metadata-log");
			while (keep >= 0 && json_array_size(mlog) > (size_t)keep)
				json_array_remove(mlog, 0);
			if (json_integer_value(json_object_get(doc, "last-updated-ms")) < now)
				json_object_set_new(doc, "last-updated-ms", json_integer(now));
			char *text = br_ice_meta_dump(doc);
			/* Never publish what braid itself cannot read back. */
			br_ice_meta check;
			rc = br_ice_meta_parse(text, strlen(text), "new table metadata", &check, err);
			if (!rc) {
				br_ice_meta_free(&check);
				rc = fsync_table_dirs(t, err);
			}
			if (!rc)
				rc = publish(t, text, err);
			if (rc == 0) {
				br_ice_meta m;
				rc = br_ice_meta_parse(text, strlen(text), t->meta_loc, &m, err);
				if (!rc) {
					br_ice_meta_free(&t->m);
					t->m = m;
				}
			}
			free(text);
		}
		json_decref(doc);
		br_arena_free(&a);
		if (rc <= 0)
			return rc;
		br_debug("iceberg: %s.%s: concurrent commit, retrying (attempt %d)", t->ns, t->name, attempt + 2);
		int64_t cap_us = 1000LL << BR_MIN(attempt, 8);
		usleep((useconds_t)(cap_us / 2 + br_ice_new_snapshot_id() % (cap_us / 2 + 1)));
	}
	return br_errf(err, BR_ELIMIT, "table %s.%s: gave up after %d conflicting commits", t->ns, t->name,
		       COMMIT_ATTEMPTS);
}

/* ------------------------------------------------------------- snapshots */

typedef struct change {
	const br_ice_datafile *add;
	size_t nadd;
	const char *const *del;
	size_t ndel;
	const char *operation;
	const br_ice_kv *summary;
} change;

static const char *fs_path(br_arena *a, const char *uri) { return br_ice_uri_path(a, uri); }

/* Manifests of a snapshot (none for NULL). */
static int snapshot_manifests(const br_ice_snapshot *s, br_arena *a, br_ice_manifest **mfs, size_t *n, br_err *err)
{
	*mfs = NULL;
	*n = 0;
	if (!s)
		return 0;
	return br_ice_manifest_list_read(fs_path(a, s->manifest_list), a, mfs, n, err);
}

static void put_count(json_t *sum, const char *key, int64_t v)
{
	char b[24];
	snprintf(b, sizeof b, "%lld", (long long)v);
	json_object_set_new(sum, key, json_string(b));
}

/* Every append adds a manifest; planning reads them all, so once a table has
 * more than commit.manifest.min-count-to-merge (Iceberg's property, default
 * 100) data manifests of the default spec, the older ones are rewritten into
 * one (entries become EXISTING with explicit sequence numbers). O(entries)
 * once per merge; the old manifests stay referenced by older snapshots until
 * they expire. The manifest added by this commit (list[0] when it adds files)
 * is never merged: its entries inherit the new sequence number. */
static int merge_manifests(br_ice_table *t, br_ice_manifest *list, size_t *nlist, int64_t sid, br_arena *a,
			   br_err *err)
{
	const br_ice_meta *m = &t->m;
	const char *prop = br_ice_table_property(t, "commit.manifest.min-count-to-merge");
	long threshold = prop ? atol(prop) : 100;
	if (threshold < 2)
		threshold = 2;
	size_t cand = 0;
	for (size_t i = 0; i < *nlist; i++)
		if (list[i].content == 0 && list[i].spec_id == m->spec->spec_id && list[i].seq >= 0)
			cand++;
	if (cand <= (size_t)threshold)
		return 0;
	br_ice_entry *all = NULL;
	size_t n = 0, cap = 0;
	size_t keep = 0;
	for (size_t i = 0; i < *nlist; i++) {
		br_ice_manifest *mf = &list[i];
		if (!(mf->content == 0 && mf->spec_id == m->spec->spec_id && mf->seq >= 0)) {
			list[keep++] = *mf;
			continue;
		}
		br_ice_entry *e;
		size_t ne;
		int rc = br_ice_manifest_read(br_ice_uri_path(a, mf->path), mf, m, a, &e, &ne, err);
		if (rc)
			return rc;
		for (size_t k = 0; k < ne; k++) {
			if (e[k].status == BR_ICE_DELETED)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				br_ice_entry *na = br_arena_alloc(a, cap * sizeof *na);
				if (n)
					memcpy(na, all, n * sizeof *na);
				all = na;
			}
			all[n] = e[k];
			all[n].status = BR_ICE_EXISTING;
			n++;
		}
	}
	char uuid[37];
	br_ice_uuid(uuid);
	char *uri = br_xasprintf("%s/metadata/%s-m0.avro", t->location, uuid);
	int rc = br_ice_manifest_write(br_ice_uri_path(a, uri), uri, m, m->spec, 0, all, n, sid, a, &list[keep], err);
	free(uri);
	if (rc)
		return rc;
	*nlist = keep + 1;
	return 0;
}

static int build_change(br_ice_table *t, void *vctx, json_t *doc, br_arena *a, br_err *err)
{
	change *c = vctx;
	const br_ice_meta *m = &t->m;
	const br_ice_snapshot *parent = br_ice_table_current(t);
	int64_t sid = br_ice_new_snapshot_id();
	int64_t seq = m->last_seq + 1;
	br_ice_manifest *old;
	size_t nold;
	int rc = snapshot_manifests(parent, a, &old, &nold, err);
	if (rc)
		return rc;
	br_ice_manifest *list = br_arena_alloc(a, (nold + 1) * sizeof *list);
	size_t nlist = 0;
	int64_t added_files = 0, added_rows = 0, added_size = 0, del_files = 0, del_rows = 0, del_size = 0;
	bool *found = br_arena_alloc(a, c->ndel + 1);
	char uuid[37];

	/* The new files first, in one manifest of the default spec. */
	if (c->nadd) {
		br_ice_entry *e = br_arena_alloc(a, c->nadd * sizeof *e);
		for (size_t i = 0; i < c->nadd; i++) {
			e[i].status = BR_ICE_ADDED;
			e[i].snapshot_id = sid;
			e[i].seq = e[i].file_seq = -1;
			e[i].df = c->add[i];
			if (e[i].df.spec_id != m->spec->spec_id || e[i].df.npart != m->spec->n)
				return br_errf(err, BR_EINVAL, "%s: data file %s does not match partition spec %d", t->name,
					       c->add[i].path, m->spec->spec_id);
			added_files++;
			added_rows += c->add[i].record_count;
			added_size += c->add[i].file_size;
		}
		br_ice_uuid(uuid);
		char *uri = br_xasprintf("%s/metadata/%s-m0.avro", t->location, uuid);
		rc = br_ice_manifest_write(fs_path(a, uri), uri, m, m->spec, 0, e, c->nadd, sid, a, &list[nlist], err);
		free(uri);
		if (rc)
			return rc;
		nlist++;
	}
	/* Then the parent's manifests: carried as they are unless they hold a
	 * file being removed, in which case they are rewritten with that entry
	 * DELETED and the others EXISTING (explicit sequence numbers). */
	for (size_t i = 0; i < nold; i++) {
		br_ice_manifest *mf = &old[i];
		if (c->ndel == 0 || mf->content != 0) {
			list[nlist++] = *mf;
			continue;
		}
		br_ice_entry *e;
		size_t ne;
		rc = br_ice_manifest_read(fs_path(a, mf->path), mf, m, a, &e, &ne, err);
		if (rc)
			return rc;
		bool touched = false;
		for (size_t k = 0; k < ne; k++)
			for (size_t d = 0; d < c->ndel && e[k].status != BR_ICE_DELETED; d++)
				if (!strcmp(e[k].df.path, c->del[d]))
					touched = true;
		if (!touched) {
			list[nlist++] = *mf;
			continue;
		}
		size_t keep = 0;
		for (size_t k = 0; k < ne; k++) {
			if (e[k].status == BR_ICE_DELETED)
				continue; /* deleted by an older snapshot: not carried forward */
			bool del = false;
			for (size_t d = 0; d < c->ndel; d++)
				if (!strcmp(e[k].df.path, c->del[d]))
					del = found[d] = true;
			e[keep] = e[k];
			if (del) {
				e[keep].status = BR_ICE_DELETED;
				e[keep].snapshot_id = sid;
				del_files++;
				del_rows += e[k].df.record_count;
				del_size += e[k].df.file_size;
			} else {
				e[keep].status = BR_ICE_EXISTING;
			}
			keep++;
		}
		const br_ice_spec *spec = br_ice_meta_spec(m, mf->spec_id);
		br_ice_uuid(uuid);
		char *uri = br_xasprintf("%s/metadata/%s-m0.avro", t->location, uuid);
		rc = br_ice_manifest_write(fs_path(a, uri), uri, m, spec, 0, e, keep, sid, a, &list[nlist], err);
		free(uri);
		if (rc)
			return rc;
		nlist++;
	}
	for (size_t d = 0; d < c->ndel; d++)
		if (!found[d])
			return br_errf(err, BR_ENOTFOUND, "table %s.%s: %s is not a live file of the current snapshot",
				       t->ns, t->name, c->del[d]);
	rc = merge_manifests(t, list, &nlist, sid, a, err);
	if (rc)
		return rc;
	int64_t total_files = 0, total_rows = 0;
	for (size_t i = 0; i < nlist; i++) {
		total_files += list[i].added_files + list[i].existing_files;
		total_rows += list[i].added_rows + list[i].existing_rows;
	}
	br_ice_uuid(uuid);
	char *list_uri = br_xasprintf("%s/metadata/snap-%lld-1-%s.avro", t->location, (long long)sid, uuid);
	rc = br_ice_manifest_list_write(fs_path(a, list_uri), sid, parent ? parent->id : -1, seq, list, nlist, err);
	if (rc) {
		free(list_uri);
		return rc;
	}
	int64_t prev_size = 0;
	const char *ps = br_ice_snapshot_prop(parent, "total-files-size");
	if (ps)
		prev_size = atoll(ps);
	json_t *sum = json_object();
	json_object_set_new(sum, "operation", json_string(c->operation));
	if (added_files) {
		put_count(sum, "added-data-files", added_files);
		put_count(sum, "added-records", added_rows);
		put_count(sum, "added-files-size", added_size);
	}
	if (del_files) {
		put_count(sum, "deleted-data-files", del_files);
		put_count(sum, "deleted-records", del_rows);
		put_count(sum, "removed-files-size", del_size);
	}
	put_count(sum, "total-data-files", total_files);
	put_count(sum, "total-records", total_rows);
	put_count(sum, "total-files-size", prev_size + added_size - del_size);
	put_count(sum, "total-delete-files", 0);
	put_count(sum, "total-position-deletes", 0);
	put_count(sum, "total-equality-deletes", 0);
	for (size_t i = 0; c->summary && i < c->summary->n; i++)
		json_object_set_new(sum, c->summary->keys[i], json_string(c->summary->vals[i]));
	int64_t now = br_now_ms();
	if (now <= m->last_updated_ms)
		now = m->last_updated_ms + 1; /* keep the snapshot log strictly increasing */
	json_t *snap = json_pack("{s:I, s:I, s:I, s:s, s:o, s:i}", "snapshot-id", (json_int_t)sid, "sequence-number",
				 (json_int_t)seq, "timestamp-ms", (json_int_t)now, "manifest-list", list_uri, "summary",
				 sum, "schema-id", m->schema->schema_id);
	if (parent)
		json_object_set_new(snap, "parent-snapshot-id", json_integer(parent->id));
	free(list_uri);
	br_ice_meta_add_snapshot(doc, snap, seq, sid, now);
	return 0;
}

int br_ice_append(br_ice_table *t, const br_ice_datafile *files, size_t n, const br_ice_kv *summary, br_err *err)
{
	change c = { .add = files, .nadd = n, .operation = "append", .summary = summary };
	return commit(t, build_change, &c, err);
}

int br_ice_overwrite(br_ice_table *t, const char *const *del_paths, size_t ndel, const br_ice_datafile *add,
		     size_t nadd, const char *operation, const br_ice_kv *summary, br_err *err)
{
	if (!operation || (strcmp(operation, "overwrite") && strcmp(operation, "delete") && strcmp(operation, "replace")))
		return br_errf(err, BR_EINVAL, "unknown snapshot operation \"%s\"", operation ? operation : "");
	change c = { .add = add, .nadd = nadd, .del = del_paths, .ndel = ndel, .operation = operation,
		     .summary = summary };
	return commit(t, build_change, &c, err);
}

int br_ice_delete_files(br_ice_table *t, const char *const *paths, size_t n, const br_ice_kv *summary, br_err *err)
{
	return br_ice_overwrite(t, paths, n, NULL, 0, "delete", summary, err);
}

/* --------------------------------------------------------- schema changes */

/* Finds the field at a dotted path in a mutable type tree; *parent gets the
 * struct (or list/map) holding it and *idx its index there. */
static br_field *find_path(br_type *root, const char *path, br_type **parent, int *idx)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", path);
	br_type *cur = root;
	br_field *f = NULL;
	char *save = NULL;
	for (char *part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
		if (!cur || !br_type_is_nested(cur))
			return NULL;
		f = NULL;
		for (int i = 0; i < cur->nchildren; i++)
			if (!strcmp(cur->children[i].name, part)) {
				f = &cur->children[i];
				if (parent)
					*parent = cur;
				if (idx)
					*idx = i;
			}
		if (!f)
			return NULL;
		cur = f->type;
	}
	return f;
}

static int max_field_id(const br_type *t)
{
	int m = 0;
	for (int i = 0; i < t->nchildren; i++) {
		m = BR_MAX(m, t->children[i].id);
		m = BR_MAX(m, max_field_id(t->children[i].type));
	}
	return m;
}

static int renumber(br_type *t, int *next)
{
	/* A cloned added type gets fresh ids for all its nested fields. */
	for (int i = 0; i < t->nchildren; i++) {
		t->children[i].id = ++*next;
		renumber(t->children[i].type, next);
	}
	return 0;
}

typedef struct schema_ctx {
	const br_ice_schema_change *ch;
	size_t n;
} schema_ctx;

static bool widen_ok(const br_type *from, const br_type *to)
{
	if (from->id == to->id && from->id != BR_T_DECIMAL)
		return true;
	if (from->id == BR_T_INT && to->id == BR_T_LONG)
		return true;
	if (from->id == BR_T_FLOAT && to->id == BR_T_DOUBLE)
		return true;
	if (from->id == BR_T_DECIMAL && to->id == BR_T_DECIMAL)
		return to->scale == from->scale && to->precision >= from->precision;
	return false;
}

static int build_schema(br_ice_table *t, void *vctx, json_t *doc, br_arena *a, br_err *err)
{
	schema_ctx *c = vctx;
	const br_ice_meta *m = &t->m;
	br_type *root = br_type_clone(m->schema->root);
	int last_id = BR_MAX(m->last_column_id, max_field_id(root));
	int rc = 0;
	for (size_t i = 0; i < c->n && !rc; i++) {
		const br_ice_schema_change *ch = &c->ch[i];
		br_type *parent = NULL;
		int idx = -1;
		br_field *f = ch->name ? find_path(root, ch->name, &parent, &idx) : NULL;
		switch (ch->kind) {
		case BR_ICE_ADD_COLUMN: {
			if (!ch->name || !ch->type) {
				rc = br_errf(err, BR_EINVAL, "add column: name and type are required");
				break;
			}
			if (f) {
				rc = br_errf(err, BR_EEXIST, "add column: %s already exists", ch->name);
				break;
			}
			const char *dot = strrchr(ch->name, '.');
			br_type *into = root;
			if (dot) {
				char pp[512];
				snprintf(pp, sizeof pp, "%.*s", (int)(dot - ch->name), ch->name);
				br_field *pf = find_path(root, pp, NULL, NULL);
				if (!pf || pf->type->id != BR_T_STRUCT) {
					rc = br_errf(err, BR_EINVAL, "add column %s: %s is not a struct column", ch->name, pp);
					break;
				}
				into = pf->type;
			}
			br_type *nt = br_type_clone(ch->type);
			renumber(nt, &last_id);
			/* New columns are optional: old files have no values for them. */
			br_type_struct_add(into, ++last_id, dot ? dot + 1 : ch->name, false, nt, ch->doc);
			break;
		}
		case BR_ICE_DROP_COLUMN:
			if (!f) {
				rc = br_errf(err, BR_ENOTFOUND, "drop column: no column %s", ch->name);
				break;
			}
			if (parent->id != BR_T_STRUCT) {
				rc = br_errf(err, BR_EINVAL, "drop column: %s is not a struct field", ch->name);
				break;
			}
			for (int p = 0; p < m->spec->n; p++)
				if (m->spec->f[p].source_id == f->id)
					rc = br_errf(err, BR_EINVAL, "drop column: %s is a partition source", ch->name);
			if (!rc && parent == root && root->nchildren == 1)
				rc = br_errf(err, BR_EINVAL, "drop column: %s is the last column", ch->name);
			if (rc)
				break;
			free(f->name);
			free(f->doc);
			free(f->initial_default);
			free(f->write_default);
			br_type_free(f->type);
			memmove(&parent->children[idx], &parent->children[idx + 1],
				(size_t)(parent->nchildren - idx - 1) * sizeof *parent->children);
			parent->nchildren--;
			break;
		case BR_ICE_RENAME_COLUMN:
			if (!f || !ch->new_name || !*ch->new_name || strchr(ch->new_name, '.')) {
				rc = br_errf(err, f ? BR_EINVAL : BR_ENOTFOUND, "rename column %s: %s", ch->name,
					     f ? "invalid new name" : "no such column");
				break;
			}
			for (int k = 0; k < parent->nchildren; k++)
				if (!strcmp(parent->children[k].name, ch->new_name))
					rc = br_errf(err, BR_EEXIST, "rename column %s: %s already exists", ch->name,
						     ch->new_name);
			if (rc)
				break;
			free(f->name);
			f->name = br_xstrdup(ch->new_name);
			break;
		case BR_ICE_WIDEN_COLUMN: {
			if (!f || !ch->type) {
				rc = br_errf(err, BR_ENOTFOUND, "widen column: no column %s", ch->name ? ch->name : "");
				break;
			}
			char b1[48], b2[48];
			if (!widen_ok(f->type, ch->type)) {
				rc = br_errf(err, BR_EINVAL, "widen column %s: %s cannot become %s", ch->name,
					     br_type_name(f->type, b1, sizeof b1), br_type_name(ch->type, b2, sizeof b2));
				break;
			}
			br_type_free(f->type);
			f->type = br_type_clone(ch->type);
			break;
		}
		case BR_ICE_MAKE_OPTIONAL:
			if (!f) {
				rc = br_errf(err, BR_ENOTFOUND, "make optional: no column %s", ch->name ? ch->name : "");
				break;
			}
			f->required = false;
			break;
		default:
			rc = br_errf(err, BR_EINVAL, "unknown schema change %d", ch->kind);
		}
	}
	if (rc) {
		br_type_free(root);
		return rc;
	}
	int new_id = 0;
	for (size_t i = 0; i < m->nschemas; i++)
		new_id = BR_MAX(new_id, m->schemas[i]->schema_id + 1);
	br_schema *ns;
	rc = br_schema_new(new_id, root, &ns, err);
	if (rc)
		return rc;
	br_schema_set_identifiers(ns, m->schema->identifier_field_ids, m->schema->nidentifier);
	json_t *sj = br_schema_to_json(ns);
	json_object_set_new(sj, "schema-id", json_integer(new_id));
	json_array_append_new(json_object_get(doc, "schemas"), sj);
	json_object_set_new(doc, "current-schema-id", json_integer(new_id));
	json_object_set_new(doc, "last-column-id", json_integer(BR_MAX(last_id, ns->max_id)));
	br_schema_free(ns);
	(void)a;
	return 0;
}

int br_ice_update_schema(br_ice_table *t, const br_ice_schema_change *ch, size_t n, br_err *err)
{
	schema_ctx c = { ch, n };
	return commit(t, build_schema, &c, err);
}

/* ------------------------------------------------------------ properties */

static int build_props(br_ice_table *t, void *vctx, json_t *doc, br_arena *a, br_err *err)
{
	const br_ice_kv *kv = vctx;
	json_t *props = json_object_get(doc, "properties");
	if (!json_is_object(props)) {
		props = json_object();
		json_object_set_new(doc, "properties", props);
	}
	for (size_t i = 0; i < kv->n; i++) {
		if (kv->vals[i])
			json_object_set_new(props, kv->keys[i], json_string(kv->vals[i]));
		else
			json_object_del(props, kv->keys[i]);
	}
	(void)t, (void)a, (void)err;
	return 0;
}

int br_ice_set_properties(br_ice_table *t, const br_ice_kv *props, br_err *err)
{
	return commit(t, build_props, (void *)props, err);
}

/* ------------------------------------------------------------- pruning */

/* Literal coerced to the column type (int -> long etc.); false if impossible. */
static bool coerce(const br_value *lit, br_type_id to, br_value *out)
{
	*out = *lit;
	if (lit->type == to)
		return true;
	out->type = to;
	if (to == BR_T_LONG && lit->type == BR_T_INT) {
		out->v.i64 = lit->v.i32;
		return true;
	}
	if (to == BR_T_DOUBLE && lit->type == BR_T_FLOAT) {
		out->v.f64 = lit->v.f32;
		return true;
	}
	if (to == BR_T_INT && lit->type == BR_T_LONG && lit->v.i64 >= INT32_MIN && lit->v.i64 <= INT32_MAX) {
		out->v.i32 = (int32_t)lit->v.i64;
		return true;
	}
	if ((to == BR_T_TIMESTAMP || to == BR_T_TIMESTAMPTZ) && (lit->type == BR_T_TIMESTAMP || lit->type == BR_T_TIMESTAMPTZ))
		return true;
	return false;
}

/* Parses a bound of a column whose type may have been widened since the file
 * was written (an int bound is 4 bytes, a long bound 8). */
static bool parse_bound(const br_type *t, const uint8_t *p, size_t n, br_value *out)
{
	if (br_ice_value_parse(t, p, n, out, NULL) == 0)
		return true;
	if (t->id == BR_T_LONG && n == 4) {
		br_type it = { .id = BR_T_INT };
		if (br_ice_value_parse(&it, p, n, out, NULL))
			return false;
		int32_t v = out->v.i32;
		*out = br_value_i64(BR_T_LONG, v);
		return true;
	}
	if (t->id == BR_T_DOUBLE && n == 4) {
		br_type ft = { .id = BR_T_FLOAT };
		if (br_ice_value_parse(&ft, p, n, out, NULL))
			return false;
		float v = out->v.f32;
		*out = br_value_f64(v);
		return true;
	}
	return false;
}

/* May a range [lo, hi] (either NULL = unbounded) hold a value v with `v op lit`? */
static bool range_may_match(const br_value *lo, const br_value *hi, br_ice_op op, const br_value *lit)
{
	switch (op) {
	case BR_ICE_EQ: return !(lo && br_value_cmp(lit, lo) < 0) && !(hi && br_value_cmp(lit, hi) > 0);
	case BR_ICE_LT: return !(lo && br_value_cmp(lo, lit) >= 0);
	case BR_ICE_LE: return !(lo && br_value_cmp(lo, lit) > 0);
	case BR_ICE_GT: return !(hi && br_value_cmp(hi, lit) <= 0);
	case BR_ICE_GE: return !(hi && br_value_cmp(hi, lit) < 0);
	default: return true;
	}
}

static bool is_nan(const br_value *v)
{
	return (v->type == BR_T_FLOAT && v->v.f32 != v->v.f32) || (v->type == BR_T_DOUBLE && v->v.f64 != v->v.f64);
}

/* The predicate projected through a partition transform: the op to test on
 * partition values, or -1 when the transform cannot prune this op. */
static int project_op(const br_ice_pfield *pf, br_ice_op op)
{
	switch (pf->kind) {
	case BR_ICE_T_IDENTITY: return (int)op;
	case BR_ICE_T_BUCKET: return op == BR_ICE_EQ || op == BR_ICE_IS_NULL || op == BR_ICE_NOT_NULL ? (int)op : -1;
	case BR_ICE_T_VOID: return -1;
	default: /* monotonic (truncate, year, month, day, hour): x < c implies t(x) <= t(c) */
		switch (op) {
		case BR_ICE_LT:
		case BR_ICE_LE: return BR_ICE_LE;
		case BR_ICE_GT:
		case BR_ICE_GE: return BR_ICE_GE;
		default: return (int)op;
		}
	}
}

static bool pred_may_match(const br_ice_table *t, const br_ice_datafile *df, const br_ice_pred *p)
{
	const br_field *f = br_schema_find_name(t->m.schema, p->column);
	if (!f || br_type_is_nested(f->type))
		return true;
	br_value lit;
	bool has_lit = p->op == BR_ICE_IS_NULL || p->op == BR_ICE_NOT_NULL || coerce(&p->lit, f->type->id, &lit);
	if (!has_lit || (p->op != BR_ICE_IS_NULL && p->op != BR_ICE_NOT_NULL && (lit.is_null || is_nan(&lit))))
		return true;
	/* Partition values (of the spec the file was written with). */
	const br_ice_spec *spec = br_ice_meta_spec(&t->m, df->spec_id);
	for (int i = 0; spec && i < spec->n && i < df->npart; i++) {
		const br_ice_pfield *pf = &spec->f[i];
		if (pf->source_id != f->id)
			continue;
		int op = project_op(pf, p->op);
		if (op < 0)
			continue;
		const br_value *pv = &df->part[i];
		if (op == BR_ICE_IS_NULL) {
			if (pf->kind == BR_ICE_T_IDENTITY && !pv->is_null)
				return false;
			continue;
		}
		if (op == BR_ICE_NOT_NULL) {
			if (pv->is_null)
				return false;
			continue;
		}
		if (pv->is_null)
			return false; /* a null source value never satisfies a comparison */
		br_value tl;
		if (br_ice_apply(pf->kind, pf->param, &lit, &tl, NULL))
			continue;
		br_value pvc;
		if (!coerce(pv, tl.type, &pvc))
			continue;
		if (!range_may_match(&pvc, &pvc, (br_ice_op)op, &tl))
			return false;
	}
	/* Column statistics. */
	const br_ice_colstat *cs = NULL;
	for (int i = 0; i < df->ncols; i++)
		if (df->cols[i].field_id == f->id)
			cs = &df->cols[i];
	if (!cs)
		return true;
	if (p->op == BR_ICE_IS_NULL)
		return cs->null_count != 0;
	if (p->op == BR_ICE_NOT_NULL)
		return !(cs->null_count >= 0 && cs->value_count >= 0 && cs->null_count == cs->value_count);
	if (cs->null_count >= 0 && cs->value_count >= 0 && cs->null_count == cs->value_count)
		return false;
	br_value lo, hi;
	bool has_lo = cs->lower && parse_bound(f->type, cs->lower, cs->lower_len, &lo);
	bool has_hi = cs->upper && parse_bound(f->type, cs->upper, cs->upper_len, &hi);
	return range_may_match(has_lo ? &lo : NULL, has_hi ? &hi : NULL, p->op, &lit);
}

bool br_ice_file_may_match(const br_ice_table *t, const br_ice_datafile *df, const br_ice_pred *preds, size_t npreds)
{
	for (size_t i = 0; i < npreds; i++)
		if (!pred_may_match(t, df, &preds[i]))
			return false;
	return true;
}

/* Whether a manifest's partition summaries allow a match (false = skip it unread). */
static bool manifest_may_match(const br_ice_table *t, const br_ice_manifest *mf, const br_ice_pred *preds, size_t n)
{
	const br_ice_spec *spec = br_ice_meta_spec(&t->m, mf->spec_id);
	if (!spec || mf->npart != spec->n)
		return true;
	for (size_t k = 0; k < n; k++) {
		const br_ice_pred *p = &preds[k];
		const br_field *f = br_schema_find_name(t->m.schema, p->column);
		br_value lit;
		if (!f || br_type_is_nested(f->type) || p->op == BR_ICE_IS_NULL || p->op == BR_ICE_NOT_NULL ||
		    !coerce(&p->lit, f->type->id, &lit) || lit.is_null || is_nan(&lit))
			continue;
		for (int i = 0; i < spec->n; i++) {
			const br_ice_pfield *pf = &spec->f[i];
			const br_ice_fsummary *s = &mf->parts[i];
			int op = pf->source_id == f->id ? project_op(pf, p->op) : -1;
			if (op < 0 || op == BR_ICE_IS_NULL || op == BR_ICE_NOT_NULL)
				continue;
			br_value tl;
			if (br_ice_apply(pf->kind, pf->param, &lit, &tl, NULL))
				continue;
			br_type rt = { .id = pf->result };
			if (pf->src && pf->kind != BR_ICE_T_BUCKET) {
				rt.precision = pf->src->precision;
				rt.scale = pf->src->scale;
				rt.length = pf->src->length;
			}
			/* No bounds: every value is null or NaN (or no live entry), and
			 * neither satisfies a comparison with a number or string. */
			if (!s->lower && !s->upper)
				return false;
			br_value lo, hi;
			bool hl = s->lower && br_ice_value_parse(&rt, s->lower, s->lower_len, &lo, NULL) == 0;
			bool hh = s->upper && br_ice_value_parse(&rt, s->upper, s->upper_len, &hi, NULL) == 0;
			br_value loc, hic;
			if (hl && !coerce(&lo, tl.type, &loc))
				hl = false;
			if (hh && !coerce(&hi, tl.type, &hic))
				hh = false;
			if (!range_may_match(hl ? &loc : NULL, hh ? &hic : NULL, (br_ice_op)op, &tl))
				return false;
		}
	}
	return true;
}

/* -------------------------------------------------------------- planning */

static const br_ice_snapshot *pick_snapshot(br_ice_table *t, const br_ice_scan_opts *o, br_err *err, int *rc)
{
	*rc = 0;
	if (o && o->snapshot_id) {
		const br_ice_snapshot *s = br_ice_table_snapshot(t, o->snapshot_id);
		if (!s)
			*rc = br_errf(err, BR_ENOTFOUND, "table %s.%s has no snapshot %lld", t->ns, t->name,
				      (long long)o->snapshot_id);
		return s;
	}
	if (o && o->as_of_ms) {
		const br_ice_snapshot *s = br_ice_table_snapshot_at(t, o->as_of_ms);
		if (!s)
			*rc = br_errf(err, BR_ENOTFOUND, "table %s.%s has no snapshot at or before %lld ms", t->ns, t->name,
				      (long long)o->as_of_ms);
		return s;
	}
	return br_ice_table_current(t);
}

static void push_entry(br_arena *a, br_ice_entry **arr, size_t *n, size_t *cap, const br_ice_entry *e)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 32;
		br_ice_entry *ne = br_arena_alloc(a, nc * sizeof *ne);
		if (*n)
			memcpy(ne, *arr, *n * sizeof *ne);
		*arr = ne;
		*cap = nc;
	}
	(*arr)[(*n)++] = *e;
}

int br_ice_plan_scan(br_ice_table *t, const br_ice_scan_opts *o, br_ice_plan *out, br_err *err)
{
	memset(out, 0, sizeof *out);
	br_arena_init(&out->arena, 32768);
	out->schema = t->m.schema;
	int rc;
	const br_ice_snapshot *s = pick_snapshot(t, o, err, &rc);
	if (rc || !s)
		return rc;
	out->snapshot_id = s->id;
	br_arena *a = &out->arena;
	br_ice_manifest *mfs;
	size_t nmf;
	rc = snapshot_manifests(s, a, &mfs, &nmf, err);
	if (rc)
		return rc;
	const br_ice_pred *preds = o ? o->preds : NULL;
	size_t npreds = o ? o->npreds : 0;
	size_t fcap = 0, dcap = 0;
	for (size_t i = 0; i < nmf; i++) {
		if (npreds && mfs[i].content == 0 && !manifest_may_match(t, &mfs[i], preds, npreds)) {
			out->pruned += (size_t)(mfs[i].added_files + mfs[i].existing_files);
			continue;
		}
		br_ice_entry *e;
		size_t ne;
		rc = br_ice_manifest_read(br_ice_uri_path(a, mfs[i].path), &mfs[i], &t->m, a, &e, &ne, err);
		if (rc)
			return rc;
		for (size_t k = 0; k < ne; k++) {
			if (e[k].status == BR_ICE_DELETED)
				continue;
			if (e[k].df.content != 0) {
				push_entry(a, &out->deletes, &out->ndeletes, &dcap, &e[k]);
				continue;
			}
			if (npreds && !br_ice_file_may_match(t, &e[k].df, preds, npreds)) {
				out->pruned++;
				continue;
			}
			push_entry(a, &out->files, &out->nfiles, &fcap, &e[k]);
			out->total_records += e[k].df.record_count;
		}
	}
	return 0;
}

void br_ice_plan_free(br_ice_plan *p) { br_arena_free(&p->arena); }

/* ----------------------------------------------------------- maintenance */

/* Adds every file a snapshot references (manifest list, manifests, and the
 * data files live in it) to set (keys: filesystem paths). */
static int reachable(br_ice_table *t, const br_ice_snapshot *s, br_arena *a, br_map *set, br_err *err)
{
	const char *lp = br_ice_uri_path(a, s->manifest_list);
	br_map_put(set, lp, strlen(lp), (void *)1);
	br_ice_manifest *mfs;
	size_t nmf;
	int rc = br_ice_manifest_list_read(lp, a, &mfs, &nmf, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < nmf; i++) {
		const char *mp = br_ice_uri_path(a, mfs[i].path);
		if (br_map_get(set, mp, strlen(mp)))
			continue; /* a manifest shared with an already visited snapshot */
		br_map_put(set, mp, strlen(mp), (void *)1);
		br_ice_entry *e;
		size_t ne;
		if ((rc = br_ice_manifest_read(mp, &mfs[i], &t->m, a, &e, &ne, err)))
			return rc;
		for (size_t k = 0; k < ne; k++) {
			if (e[k].status == BR_ICE_DELETED)
				continue;
			const char *dp = br_ice_uri_path(a, e[k].df.path);
			br_map_put(set, dp, strlen(dp), (void *)1);
		}
	}
	return 0;
}

typedef struct expire_ctx {
	int64_t older_than;
	int retain_last;
	br_map expired;           /* snapshot id text -> 1 */
	size_t nexpired;
} expire_ctx;

static int build_expire(br_ice_table *t, void *vctx, json_t *doc, br_arena *a, br_err *err)
{
	expire_ctx *x = vctx;
	(void)a;
	(void)err;
	br_map_free(&x->expired);
	memset(&x->expired, 0, sizeof x->expired);
	x->nexpired = 0;
	const br_ice_meta *m = &t->m;
	/* Rank snapshots by time: the newest retain_last are kept whatever their age. */
	json_t *snaps = json_object_get(doc, "snapshots");
	json_t *keep = json_array();
	for (size_t i = 0; i < m->nsnaps; i++) {
		const br_ice_snapshot *s = &m->snaps[i];
		size_t newer = 0;
		for (size_t k = 0; k < m->nsnaps; k++)
			if (m->snaps[k].timestamp_ms > s->timestamp_ms ||
			    (m->snaps[k].timestamp_ms == s->timestamp_ms && k > i))
				newer++;
		bool expire = s->id != m->current_snapshot_id && s->timestamp_ms < x->older_than &&
			      newer >= (size_t)BR_MAX(x->retain_last, 1);
		if (expire) {
			char key[24];
			snprintf(key, sizeof key, "%lld", (long long)s->id);
			br_map_put(&x->expired, key, strlen(key), (void *)1);
			x->nexpired++;
		} else {
			json_array_append(keep, json_array_get(snaps, i));
		}
	}
	json_object_set_new(doc, "snapshots", keep);
	json_t *log = json_object_get(doc, "snapshot-log"), *nlog = json_array();
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *e = json_array_get(log, i);
		char key[24];
		snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(e, "snapshot-id")));
		if (!br_map_get(&x->expired, key, strlen(key)))
			json_array_append(nlog, e);
	}
	json_object_set_new(doc, "snapshot-log", nlog);
	return 0;
}

int br_ice_expire_snapshots(br_ice_table *t, int64_t older_than_ms, int retain_last, size_t *expired,
			    size_t *files_deleted, br_err *err)
{
	if (expired)
		*expired = 0;
	if (files_deleted)
		*files_deleted = 0;
	/* What the snapshots about to go reference, gathered before the commit. */
	br_arena a;
	br_arena_init(&a, 32768);
	br_map before = { 0 }, after = { 0 };
	expire_ctx x = { .older_than = older_than_ms, .retain_last = retain_last };
	int rc = 0;
	for (size_t i = 0; i < t->m.nsnaps && !rc; i++)
		rc = reachable(t, &t->m.snaps[i], &a, &before, err);
	/* Dry run to see whether anything expires (no commit without a change). */
	if (!rc) {
		json_t *doc = json_deep_copy(t->m.j);
		build_expire(t, &x, doc, &a, err);
		json_decref(doc);
		if (x.nexpired)
			rc = commit(t, build_expire, &x, err);
	}
	for (size_t i = 0; i < t->m.nsnaps && !rc && x.nexpired; i++)
		rc = reachable(t, &t->m.snaps[i], &a, &after, err);
	size_t deleted = 0;
	if (!rc && x.nexpired) {
		br_map_slot *slot;
		for (size_t i = 0; br_map_next(&before, &i, &slot);) {
			if (br_map_get(&after, slot->key, slot->klen))
				continue;
			if (unlink(slot->key) == 0)
				deleted++;
			else if (errno != ENOENT)
				br_warn("iceberg: expire %s.%s: cannot delete %s: %s", t->ns, t->name, slot->key, strerror(errno));
		}
	}
	if (expired)
		*expired = x.nexpired;
	if (files_deleted)
		*files_deleted = deleted;
	br_map_free(&x.expired);
	br_map_free(&before);
	br_map_free(&after);
	br_arena_free(&a);
	return rc;
}

static int sweep(const char *dir, const br_map *keep, int64_t older_than_ms, size_t *removed, br_err *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : br_errno(err, BR_EIO, "opendir %s", dir);
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = br_xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st) == 0) {
			size_t nl = strlen(de->d_name);
			bool meta = (nl > 14 && !strcmp(de->d_name + nl - 14, ".metadata.json")) ||
				    !strcmp(de->d_name, "version-hint.text") || !strcmp(de->d_name, ".commit.lock");
			if (S_ISDIR(st.st_mode)) {
				rc = sweep(p, keep, older_than_ms, removed, err);
			} else if (!meta && (int64_t)st.st_mtime * 1000 < older_than_ms && !br_map_get(keep, p, strlen(p))) {
				if (unlink(p) == 0)
					(*removed)++;
			}
		}
		free(p);
	}
	closedir(d);
	return rc;
}

int br_ice_remove_orphans(br_ice_table *t, int64_t older_than_ms, size_t *removed, br_err *err)
{
	size_t n = 0;
	br_arena a;
	br_arena_init(&a, 32768);
	br_map keep = { 0 };
	int rc = br_ice_refresh(t, err);
	for (size_t i = 0; i < t->m.nsnaps && !rc; i++)
		rc = reachable(t, &t->m.snaps[i], &a, &keep, err);
	if (!rc) {
		char *m = br_xasprintf("%s/metadata", t->dir), *d = br_xasprintf("%s/data", t->dir);
		rc = sweep(m, &keep, older_than_ms, &n, err);
		if (!rc)
			rc = sweep(d, &keep, older_than_ms, &n, err);
		free(m);
		free(d);
	}
	if (removed)
		*removed = n;
	br_map_free(&keep);
	br_arena_free(&a);
	return rc;
}
