/* topic.c — `braid topic create|alter|describe|frontier`: topics of a running
 * server, spoken to over the Kafka protocol (the server's log is its own: a
 * second process must not open it), plus the lake side of a topic read from
 * the data directory (the table's snapshot summary: frontier and counts).
 *
 * The Kafka client here is the smallest that does the job: one blocking TCP
 * connection, classic (non-flexible) request versions — CreateTopics v1,
 * IncrementalAlterConfigs v0, DescribeConfigs v1, Metadata v4, ListOffsets v1
 * — each response read whole and decoded with the bounds-checked cursor. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "cli/cli.h"
#include "kafka/wire.h"
#include "tier/tier.h"

enum { K_METADATA = 3, K_LIST_OFFSETS = 2, K_CREATE_TOPICS = 19, K_DESCRIBE_CONFIGS = 32, K_INCR_ALTER = 44 };

typedef struct kconn {
	int fd;
	int32_t corr;
} kconn;

static int kconnect(kconn *k, const char *bootstrap, br_err *err)
{
	char host[256];
	const char *colon = strrchr(bootstrap, ':');
	if (!colon || colon == bootstrap || (size_t)(colon - bootstrap) >= sizeof host)
		return br_errf(err, BR_EINVAL, "--bootstrap \"%s\": expected HOST:PORT", bootstrap);
	memcpy(host, bootstrap, (size_t)(colon - bootstrap));
	host[colon - bootstrap] = 0;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int g = getaddrinfo(host, colon + 1, &hints, &ai);
	if (g)
		return br_errf(err, BR_EIO, "%s: %s", bootstrap, gai_strerror(g));
	k->fd = -1;
	for (struct addrinfo *a = ai; a && k->fd < 0; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
		if (fd < 0)
			continue;
		struct timeval tv = { 30, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			k->fd = fd;
		else
			close(fd);
	}
	freeaddrinfo(ai);
	if (k->fd < 0)
		return br_errf(err, BR_EIO, "cannot connect to %s: %s (is `braid serve` running there?)", bootstrap,
			       strerror(errno));
	k->corr = 0;
	return 0;
}

/* Sends one request (header v1) and reads the response body after its
 * correlation id into *resp. */
static int kcall(kconn *k, int16_t key, int16_t ver, const br_buf *body, br_buf *resp, br_err *err)
{
	br_buf req = { 0 };
	br_kw_i32(&req, 0); /* size, patched below */
	br_kw_i16(&req, key);
	br_kw_i16(&req, ver);
	br_kw_i32(&req, ++k->corr);
	br_kw_str(&req, false, "braid-cli");
	br_buf_put(&req, body->p, body->len);
	br_wr_be32(req.p, (uint32_t)(req.len - 4));
	size_t off = 0;
	int rc = 0;
	while (off < req.len && !rc) {
		ssize_t w = write(k->fd, req.p + off, req.len - off);
		if (w <= 0)
			rc = br_errf(err, BR_EIO, "sending a request: %s", strerror(errno));
		else
			off += (size_t)w;
	}
	br_buf_free(&req);
	uint8_t hdr[8];
	for (off = 0; !rc && off < sizeof hdr;) {
		ssize_t r = read(k->fd, hdr + off, sizeof hdr - off);
		if (r <= 0)
			rc = br_errf(err, BR_EIO, "reading a response: %s", r ? strerror(errno) : "connection closed");
		else
			off += (size_t)r;
	}
	if (rc)
		return rc;
	uint32_t size = br_rd_be32(hdr);
	if (size < 4 || size > (64u << 20) || (int32_t)br_rd_be32(hdr + 4) != k->corr)
		return br_errf(err, BR_EIO, "malformed response (size %u)", size);
	br_buf_reset(resp);
	uint8_t *p = br_buf_grow(resp, size - 4);
	for (off = 0; off < size - 4;) {
		ssize_t r = read(k->fd, p + off, size - 4 - off);
		if (r <= 0)
			return br_errf(err, BR_EIO, "reading a response: %s", r ? strerror(errno) : "connection closed");
		off += (size_t)r;
	}
	return 0;
}

static const char *kerr_text(int16_t code, br_kstr msg, char *buf, size_t cap)
{
	if (msg.len > 0)
		snprintf(buf, cap, "%.*s (Kafka error %d)", msg.len, msg.p, code);
	else
		snprintf(buf, cap, "Kafka error %d", code);
	return buf;
}

/* ------------------------------------------------------------ arguments */

typedef struct args {
	const char *cmd, *topic, *bootstrap, *data;
	int32_t partitions;
	const char **set;   /* "K=V" */
	size_t nset;
	const char **del;   /* "K" */
	size_t ndel;
} args;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: braid topic <command> TOPIC [flags]\n"
		"\n"
		"  create TOPIC [--partitions N] [--config K=V]...   create a topic on a running server\n"
		"  alter TOPIC [--config K=V]... [--delete K]...      set / remove config overrides (others stay)\n"
		"  describe TOPIC                                      partitions, configs, and the lake side:\n"
		"                                                      frontier, lag, records tiered / dead-lettered\n"
		"  frontier TOPIC                                      the lake frontier (data directory only)\n"
		"\n"
		"flags: --bootstrap HOST:PORT (default 127.0.0.1:9092), --data DIR (default braid-data)\n"
		"\n"
		"Lake configs: braid.lake.mode (key_value | json | off), braid.lake.schema (Iceberg schema JSON\n"
		"or infer), braid.lake.partition (e.g. day(_timestamp)), braid.lake.commit.interval.ms,\n"
		"braid.lake.commit.bytes, braid.lake.dlq, braid.lake.compact.commits, braid.lake.compact.bytes.\n"
		"The partition spec, a declared schema and the mode cannot change once the table exists.\n");
}

static int parse_args(int argc, char **argv, args *a)
{
	memset(a, 0, sizeof *a);
	a->bootstrap = "127.0.0.1:9092";
	a->data = "braid-data";
	a->partitions = 1;
	if (argc < 2)
		return -1;
	a->cmd = argv[1];
	a->set = br_xcalloc((size_t)argc, sizeof *a->set);
	a->del = br_xcalloc((size_t)argc, sizeof *a->del);
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i], *v = NULL;
		const char *eq = !strncmp(s, "--", 2) ? strchr(s, '=') : NULL;
		char flag[32] = "";
		if (!strncmp(s, "--", 2)) {
			size_t l = eq ? (size_t)(eq - s) : strlen(s);
			snprintf(flag, sizeof flag, "%.*s", (int)l, s);
			if (eq)
				v = eq + 1;
			else if (strcmp(flag, "--help") && i + 1 < argc)
				v = argv[++i];
		}
		if (!strcmp(s, "-h") || !strcmp(flag, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(flag, "--bootstrap") && v)
			a->bootstrap = v;
		else if (!strcmp(flag, "--data") && v)
			a->data = v;
		else if (!strcmp(flag, "--partitions") && v)
			a->partitions = (int32_t)atoi(v);
		else if (!strcmp(flag, "--config") && v && strchr(v, '='))
			a->set[a->nset++] = v;
		else if (!strcmp(flag, "--delete") && v)
			a->del[a->ndel++] = v;
		else if (s[0] != '-' && !a->topic)
			a->topic = s;
		else {
			fprintf(stderr, "braid topic %s: unexpected argument \"%s\"\n", a->cmd, s);
			return -1;
		}
	}
	if (!a->topic || a->partitions < 1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------- commands */

static int do_create(kconn *k, const args *a, br_err *err)
{
	br_buf b = { 0 }, r = { 0 };
	br_kw_arr(&b, false, 1);
	br_kw_str(&b, false, a->topic);
	br_kw_i32(&b, a->partitions);
	br_kw_i16(&b, -1);
	br_kw_arr(&b, false, 0);
	br_kw_arr(&b, false, (int32_t)a->nset);
	for (size_t i = 0; i < a->nset; i++) {
		const char *eq = strchr(a->set[i], '=');
		br_kw_strn(&b, false, a->set[i], (int32_t)(eq - a->set[i]));
		br_kw_str(&b, false, eq + 1);
	}
	br_kw_i32(&b, 30000);
	br_kw_bool(&b, false);
	int rc = kcall(k, K_CREATE_TOPICS, 1, &b, &r, err);
	if (!rc) {
		br_cur c = br_cur_make(r.p, r.len);
		int32_t n = br_kr_arr(&c, false, 4);
		br_kr_str(&c, false);
		int16_t code = br_kr_i16(&c);
		br_kstr msg = br_kr_str(&c, false);
		char t[400];
		if (c.bad || n != 1)
			rc = br_errf(err, BR_EIO, "malformed CreateTopics response");
		else if (code)
			rc = br_errf(err, BR_EINVAL, "%s", kerr_text(code, msg, t, sizeof t));
		else
			printf("created topic %s (%d partition%s)\n", a->topic, a->partitions, a->partitions == 1 ? "" : "s");
	}
	br_buf_free(&b);
	br_buf_free(&r);
	return rc;
}

static int do_alter(kconn *k, const args *a, br_err *err)
{
	if (!a->nset && !a->ndel)
		return br_errf(err, BR_EINVAL, "nothing to change: give --config K=V or --delete K");
	br_buf b = { 0 }, r = { 0 };
	br_kw_arr(&b, false, 1);
	br_kw_i8(&b, 2); /* TOPIC */
	br_kw_str(&b, false, a->topic);
	br_kw_arr(&b, false, (int32_t)(a->nset + a->ndel));
	for (size_t i = 0; i < a->nset; i++) {
		const char *eq = strchr(a->set[i], '=');
		br_kw_strn(&b, false, a->set[i], (int32_t)(eq - a->set[i]));
		br_kw_i8(&b, 0); /* SET */
		br_kw_str(&b, false, eq + 1);
	}
	for (size_t i = 0; i < a->ndel; i++) {
		br_kw_str(&b, false, a->del[i]);
		br_kw_i8(&b, 1); /* DELETE */
		br_kw_str(&b, false, NULL);
	}
	br_kw_bool(&b, false);
	int rc = kcall(k, K_INCR_ALTER, 0, &b, &r, err);
	if (!rc) {
		br_cur c = br_cur_make(r.p, r.len);
		br_kr_i32(&c);
		int32_t n = br_kr_arr(&c, false, 4);
		int16_t code = br_kr_i16(&c);
		br_kstr msg = br_kr_str(&c, false);
		char t[600];
		if (c.bad || n != 1)
			rc = br_errf(err, BR_EIO, "malformed IncrementalAlterConfigs response");
		else if (code)
			rc = br_errf(err, BR_EINVAL, "%s", kerr_text(code, msg, t, sizeof t));
		else
			printf("altered topic %s\n", a->topic);
	}
	br_buf_free(&b);
	br_buf_free(&r);
	return rc;
}

/* Partition count (Metadata v4, which can ask not to auto-create the topic);
 * 0 when the topic does not exist. */
static int partition_count(kconn *k, const char *topic, int32_t *np, br_err *err)
{
	br_buf b = { 0 }, r = { 0 };
	br_kw_arr(&b, false, 1);
	br_kw_str(&b, false, topic);
	br_kw_bool(&b, false);
	int rc = kcall(k, K_METADATA, 4, &b, &r, err);
	*np = 0;
	if (!rc) {
		br_cur c = br_cur_make(r.p, r.len);
		br_kr_i32(&c); /* throttle */
		int32_t nb = br_kr_arr(&c, false, 4);
		for (int32_t i = 0; i < nb && !c.bad; i++) {
			br_kr_i32(&c);
			br_kr_str(&c, false);
			br_kr_i32(&c);
			br_kr_str(&c, false);
		}
		br_kr_str(&c, false); /* cluster id */
		br_kr_i32(&c);
		int32_t nt = br_kr_arr(&c, false, 4);
		int16_t code = nt == 1 ? br_kr_i16(&c) : 3;
		br_kr_str(&c, false);
		br_kr_bool(&c);
		int32_t nparts = br_kr_arr(&c, false, 4);
		if (c.bad)
			rc = br_errf(err, BR_EIO, "malformed Metadata response");
		else if (!code)
			*np = nparts;
	}
	br_buf_free(&b);
	br_buf_free(&r);
	return rc;
}

/* Log end offsets (ListOffsets v1, latest). */
static int end_offsets(kconn *k, const char *topic, int32_t np, int64_t *ends, br_err *err)
{
	br_buf b = { 0 }, r = { 0 };
	br_kw_i32(&b, -1);
	br_kw_arr(&b, false, 1);
	br_kw_str(&b, false, topic);
	br_kw_arr(&b, false, np);
	for (int32_t p = 0; p < np; p++) {
		br_kw_i32(&b, p);
		br_kw_i64(&b, -1);
	}
	int rc = kcall(k, K_LIST_OFFSETS, 1, &b, &r, err);
	for (int32_t p = 0; p < np; p++)
		ends[p] = -1;
	if (!rc) {
		br_cur c = br_cur_make(r.p, r.len);
		br_kr_arr(&c, false, 4);
		br_kr_str(&c, false);
		int32_t n = br_kr_arr(&c, false, 4);
		for (int32_t i = 0; i < n && !c.bad; i++) {
			int32_t p = br_kr_i32(&c);
			int16_t code = br_kr_i16(&c);
			br_kr_i64(&c);
			int64_t off = br_kr_i64(&c);
			if (!c.bad && !code && p >= 0 && p < np)
				ends[p] = off;
		}
		if (c.bad)
			rc = br_errf(err, BR_EIO, "malformed ListOffsets response");
	}
	br_buf_free(&b);
	br_buf_free(&r);
	return rc;
}

static int print_configs(kconn *k, const char *topic, br_err *err)
{
	br_buf b = { 0 }, r = { 0 };
	br_kw_arr(&b, false, 1);
	br_kw_i8(&b, 2);
	br_kw_str(&b, false, topic);
	br_kw_arr(&b, false, -1);
	br_kw_bool(&b, false);
	int rc = kcall(k, K_DESCRIBE_CONFIGS, 1, &b, &r, err);
	if (!rc) {
		br_cur c = br_cur_make(r.p, r.len);
		br_kr_i32(&c);
		br_kr_arr(&c, false, 4);
		int16_t code = br_kr_i16(&c);
		br_kstr msg = br_kr_str(&c, false);
		br_kr_i8(&c);
		br_kr_str(&c, false);
		char t[400];
		if (code && !c.bad) {
			rc = br_errf(err, BR_EINVAL, "%s", kerr_text(code, msg, t, sizeof t));
		} else {
			int32_t n = br_kr_arr(&c, false, 4);
			printf("configs:\n");
			for (int32_t i = 0; i < n && !c.bad; i++) {
				br_kstr name = br_kr_str(&c, false), val = br_kr_str(&c, false);
				br_kr_bool(&c);
				int8_t src = br_kr_i8(&c);
				br_kr_bool(&c);
				int32_t ns = br_kr_arr(&c, false, 4);
				for (int32_t s = 0; s < ns && !c.bad; s++) {
					br_kr_str(&c, false);
					br_kr_str(&c, false);
					br_kr_i8(&c);
				}
				/* source 1 is DYNAMIC_TOPIC_CONFIG: an override set on this topic */
				if (!c.bad)
					printf("  %-32.*s %.*s%s\n", name.len, name.p, val.len > 0 ? val.len : 0,
					       val.len > 0 ? val.p : "", src == 1 ? "  (set on the topic)" : "");
			}
			if (c.bad)
				rc = br_errf(err, BR_EIO, "malformed DescribeConfigs response");
		}
	}
	br_buf_free(&b);
	br_buf_free(&r);
	return rc;
}

static int do_describe(kconn *k, const args *a, br_err *err)
{
	int32_t np;
	int rc = partition_count(k, a->topic, &np, err);
	if (rc)
		return rc;
	if (!np)
		return br_errf(err, BR_ENOTFOUND, "topic %s does not exist on %s", a->topic, a->bootstrap);
	printf("topic %s\npartitions %d\n", a->topic, np);
	if ((rc = print_configs(k, a->topic, err)))
		return rc;
	int64_t *ends = br_xcalloc((size_t)np, sizeof *ends);
	if ((rc = end_offsets(k, a->topic, np, ends, err))) {
		free(ends);
		return rc;
	}
	int64_t *f = NULL, tiered = 0, dead = 0;
	int32_t nf = 0;
	br_err e = { 0 };
	int frc = br_tier_frontier_read(a->data, a->topic, &f, &nf, &tiered, &dead, &e);
	if (frc == BR_ENOTFOUND)
		printf("lake: no table kafka.%s in %s yet\n", a->topic, a->data);
	else if (frc)
		printf("lake: %s\n", e.msg);
	else {
		printf("lake: table kafka.%s\n", a->topic);
		printf("  partition\tlog_end\tfrontier\tlag\n");
		int64_t lag = 0;
		for (int32_t p = 0; p < np; p++) {
			int64_t fr = p < nf && f[p] >= 0 ? f[p] : 0;
			int64_t l = ends[p] >= fr ? ends[p] - fr : 0;
			lag += l;
			printf("  %d\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\n", p, ends[p], fr, l);
		}
		printf("  records tiered %" PRId64 ", dead-lettered %" PRId64 ", not yet tiered %" PRId64 "\n", tiered,
		       dead, lag);
	}
	free(f);
	free(ends);
	return 0;
}

static int do_frontier(const args *a, br_err *err)
{
	int64_t *f = NULL, tiered = 0, dead = 0;
	int32_t n = 0;
	int rc = br_tier_frontier_read(a->data, a->topic, &f, &n, &tiered, &dead, err);
	if (rc)
		return rc;
	printf("partition\tfrontier\n");
	for (int32_t i = 0; i < n; i++)
		printf("%d\t%" PRId64 "\n", i, f[i] < 0 ? 0 : f[i]);
	printf("# tiered %" PRId64 " dead-lettered %" PRId64 "\n", tiered, dead);
	free(f);
	return 0;
}

int br_cli_topic(int argc, char **argv)
{
	args a;
	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		usage(stdout);
		return 0;
	}
	if (parse_args(argc, argv, &a)) {
		usage(stderr);
		free(a.set);
		free(a.del);
		return 2;
	}
	br_err err = { 0 };
	int rc;
	if (!strcmp(a.cmd, "frontier"))
		rc = do_frontier(&a, &err);
	else if (!strcmp(a.cmd, "create") || !strcmp(a.cmd, "alter") || !strcmp(a.cmd, "describe")) {
		kconn k;
		rc = kconnect(&k, a.bootstrap, &err);
		if (!rc) {
			rc = a.cmd[0] == 'c' ? do_create(&k, &a, &err) : a.cmd[0] == 'a' ? do_alter(&k, &a, &err)
											: do_describe(&k, &a, &err);
			close(k.fd);
		}
	} else {
		fprintf(stderr, "braid topic: unknown command \"%s\"\n", a.cmd);
		usage(stderr);
		rc = 2;
	}
	free(a.set);
	free(a.del);
	if (rc == 2)
		return 2;
	if (rc) {
		fprintf(stderr, "braid topic %s: %s\n", a.cmd, err.msg);
		return 1;
	}
	return 0;
}
