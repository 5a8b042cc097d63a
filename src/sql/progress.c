/* progress.c — the backfill progress meter (progress.h): rows and bytes done
 * of total, rate since the start, ETA from the rows left at that rate (bytes
 * when the row total is unknown), reports throttled to one per 100 ms so a
 * meter in a loop of small batches costs a clock read per batch. */
#include "sql/progress.h"

#include <stdio.h>
#include <string.h>

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

static void human(double v, char *out, size_t n, const char *unit)
{
	const char *suffix[] = { "", "k", "M", "G", "T" };
	int i = 0;
	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(out, n, i ? "%.1f%s%s" : "%.0f%s%s", v, suffix[i], unit);
}

void br_sql_progress_format(const br_sql_progress *p, char *out, size_t n)
{
	char rd[32], rt[32] = "?", bd[32], bt[32] = "?", rate[32], eta[32] = "";
	human((double)p->rows_done, rd, sizeof rd, "");
	if (p->rows_total >= 0)
		human((double)p->rows_total, rt, sizeof rt, "");
	human((double)p->bytes_done, bd, sizeof bd, "B");
	if (p->bytes_total >= 0)
		human((double)p->bytes_total, bt, sizeof bt, "B");
	human(p->rows_per_s, rate, sizeof rate, " rows/s");
	if (strcmp(p->phase, "done") && p->eta_s >= 0)
		snprintf(eta, sizeof eta, ", ETA %.0f s", p->eta_s);
	int pct = p->rows_total > 0 ? (int)(100 * (double)p->rows_done / (double)p->rows_total) : 0;
	const char *kind = p->is_view ? "view " : p->name && !strcmp(p->name, "query") ? "" : "table ";
	snprintf(out, n, "%s%s [%s] %d%%, %s/%s rows, %s/%s, %s, %.1f s%s", kind, p->name ? p->name : "?", p->phase, pct > 100 ? 100 : pct, rd, rt, bd, bt, rate, p->elapsed_s, eta);
}
