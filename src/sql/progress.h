/* progress.h — the backfill progress meter shared by the seam (lake rows),
 * the catalog's log catch-up and view creation: counts rows and bytes done of
 * total, derives rate and ETA, and reports to a br_sql_progress_cb at most
 * every 100 ms (and once at the end).
 *
 * Ownership: a br_progress lives on its caller's stack; name is borrowed. */
#ifndef BR_SQL_PROGRESS_H
#define BR_SQL_PROGRESS_H

#include "sql/sql.h"

typedef struct br_progress {
	br_sql_progress p;
	br_sql_progress_cb cb;
	void *arg;
	int64_t t0_ns, last_ns;
} br_progress;

/* Starts a meter (cb NULL: counts only). Totals -1 when unknown. */
void br_progress_start(br_progress *pr, br_sql_progress_cb cb, void *arg, const char *name, bool is_view,
		       int64_t rows_total, int64_t bytes_total);
/* Enters a phase ("lake", "log", "step"); totals add to the meter's (-1: unknown). */
void br_progress_phase(br_progress *pr, const char *phase, int64_t more_rows, int64_t more_bytes);
/* Adds work done; reports when 100 ms passed since the last report. */
void br_progress_add(br_progress *pr, int64_t rows, int64_t bytes);
/* Sets the bytes done (a reader's running total) without a report. */
void br_progress_bytes_at(br_progress *pr, int64_t base, int64_t now);
/* Phase "done": totals become what was done; one last report. */
void br_progress_end(br_progress *pr);
/* Recomputes elapsed, rate and ETA into pr->p (for a snapshot without report). */
void br_progress_update(br_progress *pr);

#endif
