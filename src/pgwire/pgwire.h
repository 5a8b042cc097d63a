/* pgwire.h — the PostgreSQL wire protocol (3.0) server: a connection state
 * machine that turns client bytes into calls on an executor and executor
 * answers into server bytes (no I/O inside, so tests and the fuzzer drive it
 * directly), a libuv listener around it, and an executor backed by br_sql.
 *
 * The protocol layer knows nothing of SQL: it talks to a br_pg_executor, a
 * small vtable (run a query string, prepare / describe / execute one
 * statement with parameters, cancel). Results travel as br_batch rows typed
 * by a br_type struct, braid's one vocabulary between modules. */
#ifndef BR_PGWIRE_H
#define BR_PGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "types/types.h"

/* ------------------------------------------------------------ executor */

typedef struct br_pg_conn br_pg_conn;

/* An error as PostgreSQL reports it (ErrorResponse / NoticeResponse fields). */
typedef struct br_pg_error {
	char severity[10];  /* "ERROR", "FATAL", "WARNING", "NOTICE" */
	char sqlstate[6];   /* five characters, e.g. "42P01" */
	int position;       /* 1-based character in the query text; 0 = none */
	char message[512];
	char detail[256];   /* "" = none */
	char hint[256];     /* "" = none */
} br_pg_error;

/* Fills e (severity ERROR) and returns -1. */
int br_pg_errorf(br_pg_error *e, const char *sqlstate, int position, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* One statement's answer. The executor owns every field; the protocol layer
 * reads it and hands it back to vt->result_free. */
typedef struct br_pg_result {
	bool has_rows;       /* a row-returning statement (RowDescription + DataRows) */
	int ncols;
	char **names;        /* ncols column names */
	const br_type *rowtype; /* struct of ncols fields: types, decimal scale */
	br_batch rows;       /* the rows (no weights), valid when has_rows */
	char tag[64];        /* CommandComplete tag: "SELECT 3", "INSERT 0 2" ... */
	br_pg_error notice;  /* sent as NoticeResponse when message[0] != 0 */
	/* A stream (SUBSCRIBE): the protocol sends CopyOutResponse (ncols text
	 * columns), then vt->stream_start; CopyData follows through
	 * br_pg_conn_stream_data until the stream ends (no rows, no tag). Only in
	 * a simple Query, as its last statement. */
	bool stream;
	void *priv;          /* executor's own */
} br_pg_result;

/* Sends one statement's answer; nonzero when it could not be sent whole (the
 * client already has an ErrorResponse). */
typedef int (*br_pg_emit)(void *ctx, br_pg_result *res);

typedef struct br_pg_executor_vt {
	/* A session per client connection; NULL refuses the connection (e filled). */
	void *(*open)(void *ctx, const char *user, const char *database, br_pg_error *e);
	void (*close)(void *sess);
	/* Simple query: runs the statements of sql in order, handing each answer to
	 * emit (which sends it before the next statement runs). Zero statements
	 * (empty or only comments) emit nothing. On the first failure it fills e
	 * and returns -1; the statements already emitted stay done. When emit
	 * fails it stops and returns 1 (the error is already sent). */
	int (*query)(void *sess, const char *sql, br_pg_emit emit, void *emit_ctx, br_pg_error *e);
	/* Extended query, Parse: checks that sql is at most one statement and says
	 * how many parameters ($1..$n) it uses, whether it is empty, and whether it
	 * returns rows. */
	int (*prepare)(void *sess, const char *sql, int *nparams, bool *empty, bool *returns_rows, br_pg_error *e);
	/* Describe of a prepared statement that returns rows: its columns (res gets
	 * names and rowtype; rows may be left empty), without side effects. */
	int (*describe)(void *sess, const char *sql, int nparams, const uint32_t *oids, br_pg_result *res,
			br_pg_error *e);
	/* Runs one statement. params[i] is parameter $i+1 as PostgreSQL text (NULL
	 * = SQL NULL); oids[i] its declared type (0 = unspecified). */
	int (*execute)(void *sess, const char *sql, int nparams, const char *const *params, const uint32_t *oids,
		       br_pg_result *res, br_pg_error *e);
	void (*result_free)(br_pg_result *res);
	/* A CancelRequest for this session arrived (may be NULL). */
	void (*cancel)(void *sess);
	/* A stream answer was announced on conn: start feeding it; the returned
	 * handle is given back to stream_stop (both may be NULL: no streams). */
	void *(*stream_start)(void *sess, br_pg_result *res, br_pg_conn *conn);
	/* The stream ended (cancel, client gone, dropped for a full buffer): the
	 * executor must not touch conn after this. */
	void (*stream_stop)(void *sess, void *handle);
} br_pg_executor_vt;

typedef struct br_pg_executor {
	const br_pg_executor_vt *vt;
	void *ctx;
} br_pg_executor;

/* The executor over braid's SQL engine. sql_ctx is a br_sql * shared by all
 * sessions (one catalog: what one client creates, the others see). It answers
 * psql's catalog queries; SUBSCRIBE needs the hub below. */
struct br_sql;
br_pg_executor br_pg_sql_executor(struct br_sql *sql);

/* The same executor plus SUBSCRIBE: the hub installs itself as sql's view
 * listener and copies each view's deltas to its subscribers. Owned by the
 * caller; free it after the server stopped (no subscriber left). */
typedef struct br_pg_hub br_pg_hub;
br_pg_hub *br_pg_hub_new(struct br_sql *sql);
void br_pg_hub_free(br_pg_hub *h);
br_pg_executor br_pg_hub_executor(br_pg_hub *h);
/* Overrides SUBSCRIBE's _frontier column with this text (copied). Without
 * it, _frontier is the view's input offsets (br_sql_view_frontier, e.g.
 * "bids:0=1234,1=99") over a log-backed catalog, else the number of steps the
 * views took so far. */
void br_pg_hub_set_frontier(br_pg_hub *h, const char *text);

/* ------------------------------------------------------------ connection */

typedef struct br_pg_config {
	const char *server_version;   /* ParameterStatus server_version; default "15.0 (braid)" */
	const char *password;         /* NULL: trust; else SCRAM-SHA-256 for every user */
	uint32_t max_message;         /* larger messages close the connection; default 64 MiB */
	size_t max_stream_backlog;    /* a stream whose unsent bytes pass this is dropped; default 16 MiB */
} br_pg_config;

enum {
	BR_PG_CLOSE = 1,  /* send what is in out, then close */
	BR_PG_CANCEL = 2, /* a CancelRequest: see br_pg_conn_cancel_key, then close */
};

br_pg_conn *br_pg_conn_new(const br_pg_config *cfg, br_pg_executor ex, int32_t pid, int32_t key);
void br_pg_conn_free(br_pg_conn *c);
/* Feeds bytes from the client; appends what to send to out. Returns 0,
 * BR_PG_CLOSE or BR_PG_CANCEL. Never fails on bad input: protocol violations
 * become an ErrorResponse (08P01) followed by BR_PG_CLOSE. */
int br_pg_conn_feed(br_pg_conn *c, const uint8_t *p, size_t n, br_buf *out);
/* After BR_PG_CANCEL: the backend pid and secret key the client named. */
void br_pg_conn_cancel_key(const br_pg_conn *c, int32_t *pid, int32_t *key);
int32_t br_pg_conn_pid(const br_pg_conn *c);
int32_t br_pg_conn_key(const br_pg_conn *c);
/* Forwards a cancel to this connection's executor session; a stream in
 * progress ends with 57014 and the connection is ready again. */
void br_pg_conn_cancel(br_pg_conn *c);
/* How bytes leave outside br_pg_conn_feed (streams): write takes out's bytes
 * (leaving it empty), closes after them when asked, and returns how many bytes
 * are still waiting to be sent on the socket. */
typedef size_t (*br_pg_writer)(void *arg, br_buf *out, bool close);
void br_pg_conn_set_writer(br_pg_conn *c, br_pg_writer write, void *arg);
/* The connection whose statement is running (NULL between statements), and a
 * NoticeResponse sent to it at once, behind what its statement already
 * answered (progress of a long statement). */
br_pg_conn *br_pg_conn_running(void);
void br_pg_conn_notice(br_pg_conn *c, const br_pg_error *e);
/* Queues one CopyData row of the current stream (n = 0 with flush: none);
 * flush sends what is queued. Returns -1 when there is no
 * stream any more, or when the client let more than max_stream_backlog bytes
 * pile up: then it got an ErrorResponse (53400) and the connection closes.
 * Either way the stream is over for the caller, which forgets it
 * (vt->stream_stop is not called for it). */
int br_pg_conn_stream_data(br_pg_conn *c, const void *p, size_t n, bool flush);
/* Ends the current stream with error e (ErrorResponse, then ReadyForQuery:
 * the session goes on); vt->stream_stop is not called. */
void br_pg_conn_stream_fail(br_pg_conn *c, const br_pg_error *e);

/* ------------------------------------------------------------ values
 *
 * PostgreSQL type OIDs and the text / binary value formats (values.c). */

enum {
	BR_PG_BOOL = 16, BR_PG_BYTEA = 17, BR_PG_NAME = 19, BR_PG_INT8 = 20, BR_PG_INT2 = 21, BR_PG_INT4 = 23,
	BR_PG_TEXT = 25, BR_PG_OID = 26, BR_PG_FLOAT4 = 700, BR_PG_FLOAT8 = 701, BR_PG_UNKNOWN = 705,
	BR_PG_BPCHAR = 1042, BR_PG_VARCHAR = 1043, BR_PG_DATE = 1082, BR_PG_TIME = 1083, BR_PG_TIMESTAMP = 1114,
	BR_PG_TIMESTAMPTZ = 1184, BR_PG_NUMERIC = 1700, BR_PG_UUID = 2950,
};

/* The PostgreSQL type of a braid column type: OID, typlen, typmod. */
uint32_t br_pg_type_of(const br_type *t, int16_t *typlen, int32_t *typmod);
/* Appends slot i of c in format 0 (text) or 1 (binary). c must not be null at
 * i. BR_EUNSUPPORTED when the type has no such format here. */
int br_pg_encode_value(const br_col *c, int64_t i, int format, br_buf *out, br_err *err);
/* A parameter received in binary format, as PostgreSQL text (appended to out,
 * NUL-terminated). BR_EINVAL names what is wrong. */
int br_pg_binary_to_text(uint32_t oid, const uint8_t *p, size_t n, br_buf *out, br_err *err);

/* ------------------------------------------------------------ listener */

typedef struct br_pg_server br_pg_server;
struct uv_loop_s;

/* Binds host:port (port 0 = any free port) on loop and serves connections
 * with ex. cfg strings are copied. */
int br_pg_server_start(br_pg_server **out, struct uv_loop_s *loop, const char *host, int port,
		       const br_pg_config *cfg, br_pg_executor ex, br_err *err);
int br_pg_server_port(const br_pg_server *s);
/* Closes the listener and every connection, running the loop until their
 * handles are closed. */
void br_pg_server_stop(br_pg_server *s);

#endif
