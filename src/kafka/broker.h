/* broker.h — the Kafka broker: a libuv TCP server speaking the Kafka protocol over
 * the log. This header is the broker's public face (start/stop) plus the small
 * internal interface that request handlers (the kafka/ handler files) are written against.
 *
 * Ownership: br_broker owns the log, the group coordinator and every connection. */
#ifndef BR_KAFKA_BROKER_H
#define BR_KAFKA_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "kafka/wire.h"
#include "log/log.h"

typedef struct br_broker br_broker;
typedef struct br_kconn br_kconn;
typedef struct br_kslot br_kslot;
typedef struct br_groups br_groups;

typedef struct br_broker_opts {
	const char *data_dir;        /* <data>; the log lives in <data>/log, groups in <data>/groups */
	const char *host;            /* listen address, default 127.0.0.1 */
	int port;                    /* default 9092; 0 = pick a free port */
	const char *advertised_host; /* what Metadata tells clients; default = host */
	int32_t node_id;             /* default 0 */
	bool auto_create_topics;     /* auto.create.topics.enable, default true */
	int64_t flush_ms;            /* group commit interval; 0 = fsync before each ack */
	int64_t max_request_bytes;   /* frames above this close the connection; default 100 MiB */
	int64_t retention_check_ms;  /* how often retention runs; default 60 s */
	int64_t group_initial_rebalance_delay_ms; /* default 0 (wait for more joiners) */
	bool tiering;                /* topics -> Iceberg tables (src/tier); default true */
	int tier_priority;           /* BR_TIER_IDLE (default), BR_TIER_LOW, BR_TIER_NORMAL (tier/tier.h) */
	int tier_threads;            /* tiering parse workers: 0 = one per CPU, -1 = none (tier/tier.h) */
	bool tier_spread;            /* catch-up: workers encode a file each (tier/tier.h) */
	br_log_opts log;             /* topic defaults */
} br_broker_opts;

void br_broker_opts_default(br_broker_opts *o);

/* Opens the data dir (recovering the log) and binds the port. */
int br_broker_open(br_broker **out, const br_broker_opts *o, br_err *err);
int br_broker_port(const br_broker *b); /* the bound port (useful with port 0) */
/* Runs the event loop until br_broker_stop (or SIGINT/SIGTERM when handle_signals). */
int br_broker_run(br_broker *b, bool handle_signals);
/* Asks a running loop to stop; safe from a signal handler or another thread. */
void br_broker_stop(br_broker *b);
/* Flushes, fsyncs, closes everything. */
void br_broker_close(br_broker *b);
/* The broker's libuv loop, for other listeners that share it (pgwire). Their
 * handles must be closed before br_broker_close, which closes what is left. */
struct uv_loop_s *br_broker_loop(br_broker *b);

/* Makes what was appended outside a request (br_partition_append on the loop
 * thread, e.g. the demo generator) durable and visible: starts a group-commit
 * flush now or after the flush interval. */
void br_broker_flush_soon(br_broker *b);
/* Called on the loop thread after each group commit that moved high
 * watermarks (produced records became readable): `braid serve` steps its SQL
 * views there, so a produced record reaches SUBSCRIBE without waiting for the
 * follower's timer. fn NULL removes it. */
typedef void (*br_broker_durable_fn)(void *arg);
void br_broker_on_durable(br_broker *b, br_broker_durable_fn fn, void *arg);

/* Request counters since start, per Kafka API key below BR_KSTATS_APIS (loop
 * thread; for the metrics page of src/http): requests, request bytes (frames
 * with their size prefix), response bytes. */
enum { BR_KSTATS_APIS = 80 };
typedef struct br_broker_stats {
	int64_t requests[BR_KSTATS_APIS];
	int64_t bytes_in[BR_KSTATS_APIS];
	int64_t bytes_out[BR_KSTATS_APIS];
} br_broker_stats;
const br_broker_stats *br_broker_stats_get(const br_broker *b);
/* The tiering of this broker (NULL with tiering off), for metrics. */
struct br_tier *br_broker_tier(br_broker *b);

/* ---- for request handlers ---- */

typedef struct br_kreq {
	int16_t key, version;
	int32_t correlation_id;
	br_kstr client_id;
	bool flex;         /* request uses the flexible header/body encoding */
	br_cur body;       /* the request body, after the header */
	br_kconn *conn;
	br_kslot *slot;    /* the response's place in the connection's order (server-owned) */
	int64_t now_ms;
} br_kreq;

/* A handler writes the response body (after the header, which the server writes)
 * into out and returns 0; or returns BR_KDEFER after br_kreq_defer to answer later;
 * or returns BR_KCLOSE to close the connection (a malformed request). */
enum { BR_KDEFER = 1, BR_KCLOSE = 2, BR_KNORESP = 3 /* acks=0: no response at all */ };
typedef int (*br_khandler)(br_broker *b, br_kreq *req, br_buf *out);

/* Reserves this request's place in its connection's response order. */
br_kslot *br_kreq_defer(br_kreq *req);
/* Delivers a deferred response body (copied). Safe after the connection closed:
 * the slot is then just freed. The slot is invalid after this call. */
void br_kslot_finish(br_kslot *s, const br_buf *body);
/* The client's address ("/127.0.0.1" form, as Kafka's ClientHost shows it). */
const char *br_kconn_peer(const br_kconn *c);
/* Whether the connection of a deferred slot is still open. */
bool br_kslot_alive(const br_kslot *s);

br_log *br_broker_log(br_broker *b);
br_groups *br_broker_groups(br_broker *b);
const br_broker_opts *br_broker_options(const br_broker *b);
const char *br_broker_advertised_host(const br_broker *b);
/* Decodes one request frame (without its 4-byte size) and runs its handler
 * against this broker without a network connection; appends the response frames
 * that are ready to out. Returns 0, or BR_KCLOSE when the server would close the
 * connection. For fuzzing and tests. */
int br_broker_handle_frame(br_broker *b, const uint8_t *frame, size_t len, br_buf *out);
/* Produce: answers this request once the log's write sequence seq is durable. */
int br_broker_defer_until_durable(br_broker *b, br_kreq *r, uint64_t seq, const br_buf *body);
/* Fetch: parks the request until new data is durable or deadline_ms passes; the
 * handler is then run again on the same request bytes with r->now_ms updated
 * (final=true at the deadline, when it must answer whatever it has). */
typedef int (*br_kretry)(br_broker *b, br_kreq *r, br_buf *out, bool final);
int br_broker_park(br_broker *b, br_kreq *r, int64_t deadline_ms, br_kretry fn);
/* Creates the topic if auto-creation is on; returns it or NULL. */
br_topic *br_broker_topic_auto(br_broker *b, br_kstr name, bool create);

#endif
