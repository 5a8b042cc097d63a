/* listen.h — a TCP listener on a libuv loop, as the Kafka, PostgreSQL and HTTP
 * front ends open theirs: an IPv4 or IPv6 literal, port 0 for any free port. */
#ifndef BR_LISTEN_H
#define BR_LISTEN_H

#include <uv.h>

#include "base/err.h"

/* Initialises listener on loop (listener->data = data), binds host:port and
 * listens with cb; *bound gets the port the kernel gave. BR_EINVAL (a bad
 * address): listener was not initialised. BR_EIO: it was, and the caller
 * closes it (uv_close) as for any open handle. what names the listener in
 * the message ("HTTP listener"). */
int br_uv_listen(uv_loop_t *loop, uv_tcp_t *listener, void *data, const char *host, int port, uv_connection_cb cb,
		 int *bound, const char *what, br_err *err);

#endif
