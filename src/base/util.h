/* util.h — clocks, logging, and the filesystem helpers braid's durable files use
 * (mkdir -p, fsync of a directory, atomic replace of a small file). */
#ifndef BR_UTIL_H
#define BR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define BR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define BR_MIN(a, b) ((a) < (b) ? (a) : (b))
#define BR_MAX(a, b) ((a) > (b) ? (a) : (b))

int64_t br_now_ms(void);        /* wall clock, ms since the Unix epoch */
int64_t br_mono_ns(void);       /* monotonic clock, ns */
/* Proleptic Gregorian dates <-> days since 1970-01-01 (H. Hinnant's
 * days_from_civil / civil_from_days: exact over the whole int64 range of
 * years that fit, no loops, negative days included). */
int64_t br_days_from_civil(int64_t y, int m, int d);
void br_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

enum { BR_LOG_DEBUG, BR_LOG_INFO, BR_LOG_WARN, BR_LOG_ERROR };
extern int br_log_level;
void br_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define br_info(...) br_logf(BR_LOG_INFO, __VA_ARGS__)
#define br_warn(...) br_logf(BR_LOG_WARN, __VA_ARGS__)
#define br_debug(...) br_logf(BR_LOG_DEBUG, __VA_ARGS__)

/* Slow-event trace, for finding latency stalls: with BRAID_TRACE_SLOW=MS in the
 * environment (read by br_trace_init), br_trace_slow logs every traced event (an
 * event-loop iteration, a request, an fsync, a segment roll, ...) that took longer
 * than MS since t0, with the CLOCK_MONOTONIC time it started, so a stall a client
 * saw can be matched with its cause. Off by default: then t0 is 0 and the cost is
 * one branch. Thread-safe (one write(2) per line). */
extern int64_t br_trace_slow_ns;
void br_trace_init(void);
#define BR_TRACE_T0() (br_trace_slow_ns ? br_mono_ns() : 0)
void br_trace_slow(int64_t t0_ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation that cannot fail: out-of-memory ends the process with a message. */
void *br_xmalloc(size_t n);
void *br_xcalloc(size_t n, size_t size);
void *br_xrealloc(void *p, size_t n);
char *br_xstrdup(const char *s);
char *br_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int br_mkdirs(const char *path, br_err *err);
int br_fsync_dir(const char *path, br_err *err);
/* Writes path.tmp, fsyncs it, renames over path, fsyncs the directory. */
int br_write_file_atomic(const char *path, const void *p, size_t n, br_err *err);
/* Reads a whole (small) file; caller frees *out. */
int br_read_file(const char *path, char **out, size_t *len, br_err *err);
/* rm -rf; used for topic deletion and test cleanup. */
int br_remove_tree(const char *path, br_err *err);
bool br_path_exists(const char *path);

/* Parses "100", "100ms", "5s", "2m", "1h", "7d" into milliseconds; -1 on error. */
int64_t br_parse_duration_ms(const char *s);
/* Parses "100", "64k", "1M", "1G" (binary units) into bytes; -1 on error. */
int64_t br_parse_size(const char *s);

#endif
