/* fuzz_request.c — libFuzzer harness for the broker's request decoder and handlers:
 * each input is one request frame (without its 4-byte size) handed to
 * br_broker_handle_frame on a broker opened once, on a temporary data directory,
 * with port 0. The directory is removed at exit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/util.h"
#include "kafka/broker.h"


static br_broker *broker;
static char dir[64];

static void cleanup(void)
{
	if (broker)
		br_broker_close(broker);
	broker = NULL;
	if (dir[0])
		br_remove_tree(dir, NULL);
}

static int setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/braid-fuzz-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	/* the broker logs every malformed frame at info level: millions of lines */
	br_log_level = BR_LOG_ERROR;
	br_broker_opts o;
	br_broker_opts_default(&o);
	o.data_dir = dir;
	o.port = 0;
	br_err err = { 0 };
	if (br_broker_open(&broker, &o, &err)) {
		fprintf(stderr, "fuzz_request: br_broker_open: %s\n", err.msg);
		br_remove_tree(dir, NULL);
		dir[0] = 0;
		return -1;
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int state; /* 0 = not set up, 1 = ready, -1 = nothing to fuzz */
	if (!state)
		state = setup() ? -1 : 1;
	if (state < 0)
		return 0;
	br_buf out = { 0 };
	(void)br_broker_handle_frame(broker, data, size, &out);
	br_buf_free(&out);
	return 0;
}
