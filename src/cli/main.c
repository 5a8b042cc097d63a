/* main.c — the braid command line: `braid serve` and friends. Each subcommand
 * parses its flags here and calls the module that does the work. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "cli/cli.h"
#include "kafka/broker.h"
#include "pgwire/pgwire.h" /* pgwire */
#include "tier/tier.h"     /* tier hook: --tier-priority */
#include "http/http.h"     /* --http: metrics and health */
#include "sql/sql.h"       /* pgwire */

#define BRAID_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f,
	        "braid %s — a Kafka-compatible log whose topics become Iceberg tables, with incremental SQL views\n"
	        "\n"
	        "usage: braid <command> [flags]\n"
	        "\n"
	        "commands:\n"
	        "  serve      run the server (Kafka protocol on 127.0.0.1:9092 by default)\n"
	        "  sql        an embedded SQL session over a data directory (REPL, -c SQL, -f FILE)\n"
	        "  table      Iceberg tables of a data directory: create, append, scan, inspect, history, ...\n"
	        "  topic      topics of a running server: create, alter, describe (configs, lake frontier, lag,\n"
	        "             records tiered / dead-lettered); frontier TOPIC --data DIR\n"
	        "  version    print the version\n"
	        "  help       this text; `braid <command> --help` describes a command's flags\n",
	        BRAID_VERSION);
}

static void serve_usage(FILE *f)
{
	fprintf(f,
	        "usage: braid serve [flags]\n"
	        "\n"
	        "Runs braid in the foreground until Ctrl-C or SIGTERM, which shut it down cleanly\n"
	        "(pending produces are flushed and fsynced, files closed).\n"
	        "\n"
	        "  --data DIR               data directory (default ./braid-data); SQL tables are topics,\n"
	        "                           table and view definitions live in DIR/sql (shared with\n"
	        "                           `braid sql` when no server runs)\n"
	        "  --kafka HOST:PORT        Kafka listener (default 127.0.0.1:9092; port 0 = any free port)\n"
	        "  --advertised-host HOST   host name Metadata gives clients (default: the --kafka host)\n"
	        "  --pg HOST:PORT           PostgreSQL listener (default 127.0.0.1:5433; port 0 = any free port)\n"
	        "  --pg-password PASSWORD   require SCRAM-SHA-256 with this password (default: trust)\n"
	        "  --pg-subscribe-buffer SIZE  a SUBSCRIBE client that lets more than SIZE bytes of changes\n"
	        "                           wait unread is dropped with an error (default 16M)\n"
	        "  --http HOST:PORT         HTTP listener: GET /metrics (Prometheus), /health (default 127.0.0.1:8080;\n"
	        "                           when the default port is taken braid serves on without it; off = none)\n"
	        "  --view-memory-limit SIZE  operator state one materialized view may hold (e.g. 512M); a view\n"
	        "                           that outgrows it stops answering with an error (default: no limit)\n"
	        "\n"
	        "view checkpoints (DIR/sql/views.ckpt; a restart loads views from it, then replays the records\n"
	        "after its offsets; also written at shutdown):\n"
	        "  --checkpoint-interval D  every D of wall time (default 10s; 0 = only at shutdown)\n"
	        "  --checkpoint-records N   also after every N records read into tables (default 0 = off)\n"
	        "\n"
	        "demo (make run):\n"
	        "  --demo                   generate Nexmark events into the tables persons/auctions/bids (topics\n"
	        "                           of those names), with example views; continues after a restart\n"
	        "  --demo-rate N            events per second (default 1000)\n"
	        "  --demo-seed N            generator seed (default 42): same seed, same events\n"
	        "  --demo-events N          stop after N events (default: never)\n"
	        "  --demo-start-ms MS       event time of the first event (default: now)\n"
	        "\n"
	        "durability (a produce with acks=1/all is answered only once durable):\n"
	        "  --flush-ms N             group commit: at most one fsync every N ms; writes arriving\n"
	        "                           meanwhile share the next one (default 1)\n"
	        "  --fsync-each-request     fsync before answering each request (same as --flush-ms 0)\n"
	        "\n"
	        "topics (broker-wide defaults; topic configs override them):\n"
	        "  --no-auto-create         refuse Metadata/Produce for unknown topics (default: create them)\n"
	        "  --no-tiering             do not turn topics into Iceberg tables (whatever braid.lake.mode says)\n"
	        "  --tier-priority P        CPU priority of the tiering threads: idle (default: only CPU that produce and\n"
	        "                           fetch leave idle; the lake lags under saturation), low (nice 10) or normal\n"
	        "  --tier-threads N         tiering parse workers (default 0 = one per CPU; -1 = parse on the tier thread)\n"
	        "  --tier-spread            catch-up jobs: each parse worker also encodes a Parquet file of its own\n"
	        "                           (more CPU; default: the tier thread encodes one file per job)\n"
	        "  --default-partitions N   partitions of auto-created topics (default 1)\n"
	        "  --segment-bytes SIZE     roll a segment past SIZE (default 1G; k/M/G suffixes)\n"
	        "  --segment-ms DURATION    roll a segment older than DURATION (default 7d; ms/s/m/h/d)\n"
	        "  --retention-ms DURATION  delete segments older than DURATION (default 7d; -1 = forever)\n"
	        "  --retention-bytes SIZE   per partition size limit (default -1 = none)\n"
	        "  --retention-check-ms N   how often retention runs (default 60000)\n"
	        "  --max-message-bytes N    largest record batch accepted (default 1048588)\n"
	        "\n"
	        "limits and logging:\n"
	        "  --max-request-bytes SIZE larger request frames close the connection (default 100M)\n"
	        "  --log-level LEVEL        debug, info (default), warn or error\n"
	        "  -h, --help               this text\n");
}

static int parse_hostport(const char *s, const char **host, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon)
		return -1;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535 || end == colon + 1)
		return -1;
	static char hosts[4][256];
	static int next;
	char *h = hosts[next++ & 3];
	size_t n = (size_t)(colon - s);
	if (n >= 256)
		return -1;
	memcpy(h, s, n);
	h[n] = 0;
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') { /* [::1]:9092 */
		memmove(h, h + 1, n - 2);
		h[n - 2] = 0;
	}
	*host = h[0] ? h : "0.0.0.0";
	*port = (int)p;
	return 0;
}

static int bad_value(const char *flag, const char *v)
{
	fprintf(stderr, "braid serve: invalid value for %s: \"%s\" (see braid serve --help)\n", flag, v);
	return 2;
}


/* The tables and views rebuilt at start (lake, then log): a log line every
 * 5 s while one is long, and one when it is done. */
static void log_progress(void *arg, const br_sql_progress *p)
{
	static double last;
	(void)arg;
	bool done = !strcmp(p->phase, "done");
	if (done ? p->rows_done == 0 : p->elapsed_s - last < 5.0)
		return;
	char line[256];
	br_sql_progress_format(p, line, sizeof line);
	br_info("backfill: %s", line);
	last = done ? 0 : p->elapsed_s;
}

static int cmd_serve(int argc, char **argv)
{
	br_broker_opts o;
	br_broker_opts_default(&o);
	enum { O_DATA = 1, O_KAFKA, O_ADV, O_PG, O_HTTP, O_FLUSH, O_FSYNC, O_NOAUTO, O_NOTIER, O_PARTS, O_SEGB, O_SEGMS, O_RETMS,
	       O_RETB, O_RETCHK, O_MAXMSG, O_MAXREQ, O_LOGLEVEL, O_PGPASS,
	       O_PGSUBBUF, O_DEMO, O_DEMO_RATE, O_DEMO_SEED, O_DEMO_EVENTS, O_DEMO_START, O_TIERPRIO, O_TIERTHR, O_TIERSPREAD, O_VIEWMEM,
	       O_CKPT_MS, O_CKPT_REC };
	static const struct option opts[] = {
		{ "data", required_argument, 0, O_DATA }, { "kafka", required_argument, 0, O_KAFKA },
		{ "advertised-host", required_argument, 0, O_ADV }, { "pg", required_argument, 0, O_PG },
		{ "http", required_argument, 0, O_HTTP }, { "flush-ms", required_argument, 0, O_FLUSH },
		{ "fsync-each-request", no_argument, 0, O_FSYNC }, { "no-auto-create", no_argument, 0, O_NOAUTO },
		{ "no-tiering", no_argument, 0, O_NOTIER }, { "tier-priority", required_argument, 0, O_TIERPRIO },
		{ "tier-threads", required_argument, 0, O_TIERTHR },
		{ "tier-spread", no_argument, 0, O_TIERSPREAD },
		{ "default-partitions", required_argument, 0, O_PARTS }, { "segment-bytes", required_argument, 0, O_SEGB },
		{ "segment-ms", required_argument, 0, O_SEGMS }, { "retention-ms", required_argument, 0, O_RETMS },
		{ "retention-bytes", required_argument, 0, O_RETB }, { "retention-check-ms", required_argument, 0, O_RETCHK },
		{ "max-message-bytes", required_argument, 0, O_MAXMSG }, { "max-request-bytes", required_argument, 0, O_MAXREQ },
		{ "log-level", required_argument, 0, O_LOGLEVEL }, { "help", no_argument, 0, 'h' },
		{ "pg-password", required_argument, 0, O_PGPASS }, /* pgwire */
		{ "pg-subscribe-buffer", required_argument, 0, O_PGSUBBUF }, { "demo", no_argument, 0, O_DEMO },
		{ "demo-rate", required_argument, 0, O_DEMO_RATE }, { "demo-seed", required_argument, 0, O_DEMO_SEED },
		{ "demo-events", required_argument, 0, O_DEMO_EVENTS },
		{ "demo-start-ms", required_argument, 0, O_DEMO_START },
		{ "view-memory-limit", required_argument, 0, O_VIEWMEM },
		{ "checkpoint-interval", required_argument, 0, O_CKPT_MS },
		{ "checkpoint-records", required_argument, 0, O_CKPT_REC },
		{ 0, 0, 0, 0 },
	};
	int c;
	int64_t v;
	const char *pg = "127.0.0.1:5433", *http = "127.0.0.1:8080";
	const char *pg_password = NULL;
	bool http_set = false, demo = false;
	int64_t pg_subbuf = 0, view_mem = 0, ckpt_ms = 10000, ckpt_rec = 0;
	br_demo_opts dopt;
	br_demo_opts_default(&dopt);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': serve_usage(stdout); return 0;
		case O_DATA: o.data_dir = optarg; break;
		case O_KAFKA:
			if (parse_hostport(optarg, &o.host, &o.port))
				return bad_value("--kafka", optarg);
			break;
		case O_ADV: o.advertised_host = optarg; break;
		case O_PG: pg = optarg; break;
		case O_PGPASS: pg_password = optarg; break;
		case O_PGSUBBUF:
			if ((v = br_parse_size(optarg)) < 1)
				return bad_value("--pg-subscribe-buffer", optarg);
			pg_subbuf = v;
			break;
		case O_VIEWMEM:
			if ((v = br_parse_size(optarg)) < 1)
				return bad_value("--view-memory-limit", optarg);
			view_mem = v;
			break;
		case O_DEMO: demo = true; break;
		case O_CKPT_MS:
			if (!strcmp(optarg, "0") || !strcmp(optarg, "off"))
				ckpt_ms = 0;
			else if ((ckpt_ms = br_parse_duration_ms(optarg)) < 1)
				return bad_value("--checkpoint-interval", optarg);
			break;
		case O_CKPT_REC:
			if ((ckpt_rec = atoll(optarg)) < 0)
				return bad_value("--checkpoint-records", optarg);
			break;
		case O_DEMO_RATE:
			if ((v = atoll(optarg)) < 1 || v > 10000000)
				return bad_value("--demo-rate", optarg);
			dopt.rate = v;
			demo = true;
			break;
		case O_DEMO_SEED: dopt.seed = strtoull(optarg, NULL, 10); demo = true; break;
		case O_DEMO_EVENTS:
			if ((v = atoll(optarg)) < 0)
				return bad_value("--demo-events", optarg);
			dopt.max_events = v;
			demo = true;
			break;
		case O_DEMO_START: dopt.start_ms = atoll(optarg); demo = true; break;
		case O_HTTP: http = optarg; http_set = true; break;
		case O_FLUSH:
			if ((v = br_parse_duration_ms(optarg)) < 0)
				return bad_value("--flush-ms", optarg);
			o.flush_ms = v;
			break;
		case O_FSYNC: o.flush_ms = 0; break;
		case O_NOAUTO: o.auto_create_topics = false; break;
		case O_NOTIER: o.tiering = false; break;
		case O_TIERPRIO: /* tier hook */
			if (!strcmp(optarg, "idle"))
				o.tier_priority = BR_TIER_IDLE;
			else if (!strcmp(optarg, "low"))
				o.tier_priority = BR_TIER_LOW;
			else if (!strcmp(optarg, "normal"))
				o.tier_priority = BR_TIER_NORMAL;
			else
				return bad_value("--tier-priority", optarg);
			break;
		case O_TIERTHR: /* tier hook */
			if ((v = atoll(optarg)) < -1 || v > 64)
				return bad_value("--tier-threads", optarg);
			o.tier_threads = (int)v;
			break;
		case O_TIERSPREAD: o.tier_spread = true; break; /* tier hook */
		case O_PARTS:
			if ((v = atoll(optarg)) < 1 || v > 100000)
				return bad_value("--default-partitions", optarg);
			o.log.default_partitions = v;
			break;
		case O_SEGB:
			if ((v = br_parse_size(optarg)) < 1024 || v > (1LL << 31))
				return bad_value("--segment-bytes", optarg);
			o.log.segment_bytes = v;
			break;
		case O_SEGMS:
			if ((v = br_parse_duration_ms(optarg)) < 1)
				return bad_value("--segment-ms", optarg);
			o.log.segment_ms = v;
			break;
		case O_RETMS:
			v = strcmp(optarg, "-1") ? br_parse_duration_ms(optarg) : -1;
			if (v < 0 && strcmp(optarg, "-1"))
				return bad_value("--retention-ms", optarg);
			o.log.retention_ms = v;
			break;
		case O_RETB:
			v = strcmp(optarg, "-1") ? br_parse_size(optarg) : -1;
			if (v < 0 && strcmp(optarg, "-1"))
				return bad_value("--retention-bytes", optarg);
			o.log.retention_bytes = v;
			break;
		case O_RETCHK:
			if ((v = br_parse_duration_ms(optarg)) < 1)
				return bad_value("--retention-check-ms", optarg);
			o.retention_check_ms = v;
			break;
		case O_MAXMSG:
			if ((v = br_parse_size(optarg)) < 1 || v > (1LL << 30))
				return bad_value("--max-message-bytes", optarg);
			o.log.max_message_bytes = v;
			break;
		case O_MAXREQ:
			if ((v = br_parse_size(optarg)) < 1024 || v > (1LL << 30))
				return bad_value("--max-request-bytes", optarg);
			o.max_request_bytes = v;
			break;
		case O_LOGLEVEL:
			if (!strcmp(optarg, "debug")) br_log_level = BR_LOG_DEBUG;
			else if (!strcmp(optarg, "info")) br_log_level = BR_LOG_INFO;
			else if (!strcmp(optarg, "warn")) br_log_level = BR_LOG_WARN;
			else if (!strcmp(optarg, "error")) br_log_level = BR_LOG_ERROR;
			else return bad_value("--log-level", optarg);
			break;
		default: serve_usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "braid serve: unexpected argument \"%s\" (see braid serve --help)\n", argv[optind]);
		return 2;
	}
	const char *h = NULL, *pg_host;
	int port, pg_port;
	if (parse_hostport(pg, &pg_host, &pg_port))
		return bad_value("--pg", pg);
	bool http_on = strcmp(http, "off") != 0;
	if (http_on && parse_hostport(http, &h, &port))
		return bad_value("--http", http);
	signal(SIGPIPE, SIG_IGN);
	br_err err = { 0 };
	br_broker *b;
	if (br_broker_open(&b, &o, &err)) {
		fprintf(stderr, "braid serve: %s\n", err.msg);
		return 1;
	}
	br_info("braid %s serving Kafka on %s:%d, data in %s (group commit %s)", BRAID_VERSION, o.host, br_broker_port(b),
	        o.data_dir, o.flush_ms ? "on" : "off: fsync per request");
	/* pgwire: the PostgreSQL surface on the broker's loop, over the data
	 * directory's SQL catalog (tables are topics, views persist); every pgwire
	 * session shares this one br_sql */
	br_catalog *cat;
	if (br_catalog_topic_open_progress(&cat, br_broker_log(b), o.data_dir, log_progress, NULL, &err)) {
		fprintf(stderr, "braid serve: %s\n", err.msg);
		br_broker_close(b);
		return 1;
	}
	br_sql *sql = br_sql_open(cat);
	br_sql_set_view_memory_limit(sql, (size_t)view_mem);
	br_sql_set_checkpoint(sql, ckpt_ms, ckpt_rec);
	br_sql_set_progress_listener(sql, log_progress, NULL);
	if (br_sql_restore(sql, &err))
		br_warn("%s", err.msg);
	br_sql_set_progress_listener(sql, NULL, NULL); /* statements report to their client */
	br_pg_hub *hub = br_pg_hub_new(sql); /* SUBSCRIBE streams */
	br_pg_server *pgs = NULL;
	br_pg_config pgc = { .password = pg_password, .max_stream_backlog = (size_t)pg_subbuf };
	if (br_pg_server_start(&pgs, br_broker_loop(b), pg_host, pg_port, &pgc, br_pg_hub_executor(hub), &err)) {
		fprintf(stderr, "braid serve: %s\n", err.msg);
		br_broker_close(b);
		br_pg_hub_free(hub);
		br_sql_close(sql);
		return 1;
	}
	br_info("serving PostgreSQL on %s:%d (%s)", pg_host, br_pg_server_port(pgs),
	        pg_password ? "SCRAM-SHA-256 password" : "trust: any user, no password");
	/* where `braid sql` tells users to connect while this server holds the dir */
	char *addr_path = br_xasprintf("%s/sql/pg-address", o.data_dir);
	char addr[300];
	int alen = snprintf(addr, sizeof addr, "%s %d\n", pg_host, br_pg_server_port(pgs));
	char *sqldir = br_xasprintf("%s/sql", o.data_dir);
	if (br_mkdirs(sqldir, &err) || br_write_file_atomic(addr_path, addr, (size_t)alen, &err))
		br_warn("%s", err.msg);
	free(sqldir);
	/* views follow records that Kafka clients produce to tables' topics even
	 * when no SQL statement runs (each statement also polls first) */
	br_sql_follower *follow = br_cli_sql_follow(br_broker_loop(b), sql, 100);
	/* HTTP: metrics and health on the same loop (reads log and tier state
	 * without locks). An explicit --http that cannot bind stops the server;
	 * the default port being taken (another braid) only costs the surface. */
	br_http_server *hs = NULL;
	if (http_on && br_http_server_start(&hs, br_broker_loop(b), h, port, NULL, b, &err)) {
		if (http_set) {
			fprintf(stderr, "braid serve: %s\n", err.msg);
			br_cli_sql_follow_stop(follow);
			br_pg_server_stop(pgs);
			br_pg_hub_free(hub);
			br_sql_close(sql);
			br_broker_close(b);
			return 1;
		}
		br_warn("%s; serving without HTTP (set --http)", err.msg);
	}
	if (hs)
		br_info("serving HTTP on %s:%d (/metrics, /health)", h, br_http_server_port(hs));
	/* and at once when a group commit makes produced records readable: the
	 * latency from produce to SUBSCRIBE is then one flush, not the timer */
	br_broker_on_durable(b, br_cli_sql_follow_now, follow);
	br_demo *dm = NULL;
	if (demo && br_demo_start(&dm, b, sql, &dopt, &err))
		br_logf(BR_LOG_ERROR, "demo: %s", err.msg); /* the server itself serves on */
	if (dm)
		br_info("demo: %" PRId64 " Nexmark events/s into tables persons, auctions, bids (topics of the same "
		        "names); views bids_per_channel, bids_per_10s, category_volume", dopt.rate);
	int rc = br_broker_run(b, true);
	br_demo_stop(dm);
	br_broker_on_durable(b, NULL, NULL);
	br_cli_sql_follow_stop(follow);
	br_http_server_stop(hs);
	br_pg_server_stop(pgs);
	br_pg_hub_free(hub);
	unlink(addr_path);
	free(addr_path);
	br_sql_close(sql);
	br_broker_close(b);
	br_info("stopped");
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("braid %s\n", BRAID_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "table"))
		return br_cli_table(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sql"))
		return br_cli_sql(argc - 1, argv + 1);
	if (!strcmp(argv[1], "topic")) /* tier hook */
		return br_cli_topic(argc - 1, argv + 1);
	fprintf(stderr, "braid: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
