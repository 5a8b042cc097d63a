/* fsync_latency.c — the floor under acks=all latency: how long fdatasync() of a
 * small append takes on the disk that holds the data directory. Appends N
 * blocks of SIZE bytes to FILE, fdatasync after each, and prints percentiles.
 *
 *   fsync_latency FILE [N=2000] [SIZE=8192] [--json] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: fsync_latency FILE [N] [SIZE] [--json]\n");
		return 2;
	}
	int n = argc > 2 && argv[2][0] != '-' ? atoi(argv[2]) : 2000;
	int size = argc > 3 && argv[3][0] != '-' ? atoi(argv[3]) : 8192;
	int json = !strcmp(argv[argc - 1], "--json");
	if (n < 10 || size < 1) {
		fprintf(stderr, "fsync_latency: N >= 10 and SIZE >= 1\n");
		return 2;
	}
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	char *buf = calloc(1, (size_t)size);
	double *d = calloc((size_t)n, sizeof *d);
	for (int i = 0; i < n; i++) {
		if (write(fd, buf, (size_t)size) != size) {
			perror("write");
			return 1;
		}
		double t = now_ms();
		if (fdatasync(fd)) {
			perror("fdatasync");
			return 1;
		}
		d[i] = now_ms() - t;
	}
	close(fd);
	unlink(argv[1]);
	qsort(d, (size_t)n, sizeof *d, cmp);
	double p50 = d[n / 2], p99 = d[n * 99 / 100], p999 = d[n * 999 / 1000], max = d[n - 1];
	if (json)
		printf("{\"n\":%d,\"size\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f}\n", n, size, p50, p99, p999, max);
	else
		printf("fdatasync after %d-byte appends (%d): p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n", size, n, p50, p99, p999, max);
	free(buf);
	free(d);
	return 0;
}
