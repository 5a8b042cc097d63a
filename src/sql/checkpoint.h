/* checkpoint.h — the file that lets materialized views survive a restart:
 * <data>/sql/views.ckpt holds, for one moment, every table's read offsets and
 * every view's operator state (layout and crash story: checkpoint.c). The
 * session (exec.c) writes it and loads views from it; the topic catalog
 * (catalog_topic.c) reads its tables part at open to stop each table's load
 * at the offsets the views reflect. Internal to sql/. */
#ifndef BR_SQL_CHECKPOINT_H
#define BR_SQL_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define BR_CKPT_FILE "views.ckpt"
#define BR_CKPT_FORMAT 1

typedef struct br_ckpt_table {
	char *name;              /* the SQL table */
	uint8_t topic_id[16];    /* of its topic: a re-created topic does not match */
	int32_t nparts;
	int64_t *next;           /* per partition: the next offset not reflected */
} br_ckpt_table;

typedef struct br_ckpt_view {
	char *name;
	uint64_t sql_hash;       /* br_ckpt_hash of its CREATE statement */
	uint64_t shape;          /* br_circuit_shape of its circuit */
	const uint8_t *state;    /* br_circuit_save bytes (inside the file buffer) */
	size_t len;
} br_ckpt_view;

/* A decoded checkpoint; every pointer is owned by it (br_ckpt_free). */
typedef struct br_sql_ckpt {
	uint8_t *bytes;          /* the file (views' state points into it) */
	size_t nbytes;
	int64_t written_ms;
	int ntables, nviews;
	br_ckpt_table *tables;
	br_ckpt_view *views;
} br_sql_ckpt;

uint64_t br_ckpt_hash(const char *text);
/* Decodes a whole file image (takes ownership of p, malloc'd, even on
 * failure). BR_ECORRUPT with what is wrong: magic, version, length, checksum,
 * or structure. This is what fuzz/fuzz_ckpt.c feeds. */
int br_ckpt_decode(uint8_t *p, size_t n, br_sql_ckpt **out, br_err *err);
/* Reads and decodes path; BR_ENOTFOUND when there is no file. */
int br_ckpt_read(const char *path, br_sql_ckpt **out, br_err *err);
void br_ckpt_free(br_sql_ckpt *ck);
const br_ckpt_table *br_ckpt_find_table(const br_sql_ckpt *ck, const char *name);
const br_ckpt_view *br_ckpt_find_view(const br_sql_ckpt *ck, const char *name);
/* Drops a table's entry (the catalog could not stop at its offsets: views
 * that read it rebuild). */
void br_ckpt_forget_table(br_sql_ckpt *ck, const char *name);

/* Building a file: begin, the tables, the views, then finish (which appends
 * the checksum) and write atomically. */
typedef struct br_ckpt_writer {
	br_buf body;
	uint32_t ntables, nviews;
	br_buf tables, views;
} br_ckpt_writer;
void br_ckpt_writer_init(br_ckpt_writer *w);
void br_ckpt_add_table(br_ckpt_writer *w, const char *name, const uint8_t topic_id[16], int32_t nparts,
		       const int64_t *next);
void br_ckpt_add_view(br_ckpt_writer *w, const char *name, uint64_t sql_hash, uint64_t shape, const uint8_t *state,
		      size_t len);
/* The whole file image in out (w is then empty again). */
void br_ckpt_finish(br_ckpt_writer *w, int64_t now_ms, br_buf *out);
void br_ckpt_writer_free(br_ckpt_writer *w);

/* ---------------------------------------------- the session side (checkpoint.c)
 * Hooks exec.c calls; the policy (when to write) is br_sql_set_checkpoint's. */
struct br_sql;
struct br_circuit;
typedef struct br_sql_ckst br_sql_ckst;
/* exec.c: the session's checkpoint state slot, and its views. */
br_sql_ckst **br_sql_ckpt_slot(struct br_sql *s);
/* skip: why the view must not be checkpointed (broken, ...), NULL if it may. */
typedef void (*br_sql_view_visit)(void *arg, const char *name, const char *sql, struct br_circuit *c,
				  const char *skip);
void br_sql_each_view(struct br_sql *s, br_sql_view_visit fn, void *arg);
/* After every poll: writes a checkpoint when one is due. */
void br_sql_ckpt_maybe(struct br_sql *s);
/* At br_sql_close: a last checkpoint (when enabled), then frees the state. */
void br_sql_ckpt_close(struct br_sql *s);
/* br_sql_restore: takes the catalog's checkpoint; has_view says whether a
 * kept view (by name) is in it; load_view (called by CREATE while restoring)
 * returns 1 when the circuit was loaded, 0 when the view is not to be loaded
 * (build it from the tables), <0 when its state does not fit (err says why);
 * loaded ends the loading pass (the checkpoint is freed), end_restore the
 * restore. */
void br_sql_ckpt_begin_restore(struct br_sql *s);
bool br_sql_ckpt_has_view(struct br_sql *s, const char *name);
int br_sql_ckpt_load_view(struct br_sql *s, const char *name, const char *sql, struct br_circuit *c, int ntables,
			  char *const *tables, br_err *err);
void br_sql_ckpt_loaded(struct br_sql *s);
void br_sql_ckpt_end_restore(struct br_sql *s);

#endif
