/* progress.c — the backfill progress meter (progress.h): rows and bytes done
 * of total, rate since the start, ETA from the rows left at that rate (bytes
 * when the row total is unknown), reports throttled to one per 100 ms so a
 * meter in a loop of small batches costs a clock read per batch. */
#include "sql/progress.h"

#include "base/util.h"

void br_progress_start(br_progress *pr, br_sql_progress_cb cb, void *arg, const char *name, bool is_view,
		       int64_t rows_total, int64_t bytes_total)
{
	*pr = (br_progress){ .cb = cb, .arg = arg };
	pr->p = (br_sql_progress){ .name = name, .is_view = is_view, .phase = "start", .rows_total = rows_total,
				   .bytes_total = bytes_total, .eta_s = -1 };
	pr->t0_ns = pr->last_ns = br_mono_ns();
}

static void add_total(int64_t *total, int64_t more)
{
	if (*total < 0 || more < 0)
		*total = -1;
	else
		*total += more;
}

void br_progress_phase(br_progress *pr, const char *phase, int64_t more_rows, int64_t more_bytes)
{
	pr->p.phase = phase;
	add_total(&pr->p.rows_total, more_rows);
	add_total(&pr->p.bytes_total, more_bytes);
}

void br_progress_update(br_progress *pr)
{
	br_sql_progress *p = &pr->p;
	p->elapsed_s = (double)(br_mono_ns() - pr->t0_ns) / 1e9;
	p->rows_per_s = p->elapsed_s > 0 ? (double)p->rows_done / p->elapsed_s : 0;
	p->eta_s = -1;
	if (p->rows_total >= 0 && p->rows_per_s > 0)
		p->eta_s = (double)(p->rows_total > p->rows_done ? p->rows_total - p->rows_done : 0) / p->rows_per_s;
	else if (p->bytes_total > 0 && p->bytes_done > 0 && p->elapsed_s > 0)
		p->eta_s = (double)(p->bytes_total > p->bytes_done ? p->bytes_total - p->bytes_done : 0) /
			   ((double)p->bytes_done / p->elapsed_s);
}

static void report(br_progress *pr)
{
	br_progress_update(pr);
	if (pr->cb)
		pr->cb(pr->arg, &pr->p);
}

void br_progress_add(br_progress *pr, int64_t rows, int64_t bytes)
{
	pr->p.rows_done += rows;
	pr->p.bytes_done += bytes;
	if (!pr->cb)
		return;
	int64_t now = br_mono_ns();
	if (now - pr->last_ns >= 100 * 1000000LL) {
		pr->last_ns = now;
		report(pr);
	}
}

void br_progress_bytes_at(br_progress *pr, int64_t base, int64_t now) { pr->p.bytes_done = base + now; }

void br_progress_end(br_progress *pr)
{
	pr->p.phase = "done";
	pr->p.rows_total = pr->p.rows_done;
	pr->p.bytes_total = pr->p.bytes_done;
	report(pr);
	pr->p.eta_s = 0;
}
