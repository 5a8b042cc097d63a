/* listen.c — the TCP listener the front ends share (listen.h). */
#include "base/listen.h"

int br_uv_listen(uv_loop_t *loop, uv_tcp_t *listener, void *data, const char *host, int port, uv_connection_cb cb,
		 int *bound, const char *what, br_err *err)
{
	struct sockaddr_storage addr;
	int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
	if (rc)
		rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
	if (rc)
		return br_errf(err, BR_EINVAL, "%s: bad address %s:%d", what, host, port);
	uv_tcp_init(loop, listener);
	listener->data = data;
	rc = uv_tcp_bind(listener, (struct sockaddr *)&addr, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)listener, 128, cb);
	if (rc)
		return br_errf(err, BR_EIO, "%s: cannot listen on %s:%d: %s", what, host, port, uv_strerror(rc));
	struct sockaddr_storage got;
	int len = sizeof got;
	uv_tcp_getsockname(listener, (struct sockaddr *)&got, &len);
	*bound = got.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&got)->sin6_port)
					   : ntohs(((struct sockaddr_in *)&got)->sin_port);
	return 0;
}
