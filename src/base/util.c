/* util.c — clocks, logging, allocation and small filesystem helpers. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <ctype.h>

int br_log_level = BR_LOG_INFO;

int64_t br_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t br_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void br_logf(int level, const char *fmt, ...)
{
	if (level < br_log_level)
		return;
	static const char *names[] = { "debug", "info", "warn", "error" };
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s %s\n", ts, names[level & 3], line);
}

int64_t br_trace_slow_ns;

void br_trace_init(void)
{
	const char *v = getenv("BRAID_TRACE_SLOW");
	double ms = v ? atof(v) : 0;
	br_trace_slow_ns = ms > 0 ? (int64_t)(ms * 1e6) : 0;
	if (br_trace_slow_ns)
		br_info("tracing events slower than %.3g ms (BRAID_TRACE_SLOW)", ms);
}

void br_trace_slow(int64_t t0_ns, const char *fmt, ...)
{
	if (!br_trace_slow_ns || !t0_ns)
		return;
	int64_t dt = br_mono_ns() - t0_ns;
	if (dt < br_trace_slow_ns)
		return;
	char what[512], line[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	int n = snprintf(line, sizeof line, "slow %.3f ms at mono %.6f: %s\n", dt / 1e6, t0_ns / 1e9, what);
	if (n > 0 && write(2, line, (size_t)BR_MIN(n, (int)sizeof line - 1)) < 0)
		return;
}

static void oom(size_t n)
{
	fprintf(stderr, "braid: out of memory (%zu bytes)\n", n);
	abort();
}

void *br_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *br_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *br_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *br_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(br_xmalloc(n), s, n);
}

char *br_xasprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return s;
}

int br_mkdirs(const char *path, br_err *err)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp)
		return br_errf(err, BR_EINVAL, "path too long: %.64s...", path);
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return br_errno(err, BR_EIO, "mkdir %s", tmp);
		*p = '/';
	}
	if (mkdir(tmp, 0755) && errno != EEXIST)
		return br_errno(err, BR_EIO, "mkdir %s", tmp);
	return 0;
}

int br_fsync_dir(const char *path, br_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return br_errno(err, BR_EIO, "open directory %s", path);
	int rc = fsync(fd);
	close(fd);
	if (rc)
		return br_errno(err, BR_EIO, "fsync directory %s", path);
	return 0;
}

int br_write_file_atomic(const char *path, const void *p, size_t n, br_err *err)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return br_errf(err, BR_EINVAL, "path too long: %.64s...", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return br_errno(err, BR_EIO, "create %s", tmp);
	const uint8_t *q = p;
	size_t left = n;
	while (left) {
		ssize_t w = write(fd, q, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			close(fd);
			return br_errno(err, BR_EIO, "write %s", tmp);
		}
		q += w;
		left -= (size_t)w;
	}
	if (fdatasync(fd)) {
		close(fd);
		return br_errno(err, BR_EIO, "fsync %s", tmp);
	}
	close(fd);
	if (rename(tmp, path))
		return br_errno(err, BR_EIO, "rename %s", tmp);
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		return br_fsync_dir(dir[0] ? dir : "/", err);
	}
	return br_fsync_dir(".", err);
}

int br_read_file(const char *path, char **out, size_t *len, br_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return br_errno(err, errno == ENOENT ? BR_ENOTFOUND : BR_EIO, "open %s", path);
	size_t cap = 4096, n = 0;
	char *p = br_xmalloc(cap);
	for (;;) {
		size_t r = fread(p + n, 1, cap - n - 1, f);
		n += r;
		if (n + 1 < cap)
			break;
		cap *= 2;
		p = br_xrealloc(p, cap);
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(p);
		return br_errf(err, BR_EIO, "read %s failed", path);
	}
	p[n] = 0;
	*out = p;
	if (len)
		*len = n;
	return 0;
}

int br_remove_tree(const char *path, br_err *err)
{
	struct stat st;
	if (lstat(path, &st))
		return errno == ENOENT ? 0 : br_errno(err, BR_EIO, "stat %s", path);
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return br_errno(err, BR_EIO, "opendir %s", path);
		struct dirent *e;
		int rc = 0;
		while (!rc && (e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *child = br_xasprintf("%s/%s", path, e->d_name);
			rc = br_remove_tree(child, err);
			free(child);
		}
		closedir(d);
		if (rc)
			return rc;
		if (rmdir(path))
			return br_errno(err, BR_EIO, "rmdir %s", path);
		return 0;
	}
	if (unlink(path))
		return br_errno(err, BR_EIO, "unlink %s", path);
	return 0;
}

bool br_path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int64_t br_parse_duration_ms(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	double mul;
	if (!*end || !strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "m") || !strcmp(end, "min"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else if (!strcmp(end, "d"))
		mul = 86400000;
	else
		return -1;
	double ms = v * mul;
	return ms > 9.2e18 ? -1 : (int64_t)ms;
}

int64_t br_parse_size(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double mul = 1;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	default: return -1;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -1;
	double b = v * mul;
	return b > 9.2e18 ? -1 : (int64_t)b;
}

int64_t br_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void br_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}
