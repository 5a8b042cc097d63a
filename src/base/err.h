/* err.h — braid's error type: a status code plus a human message with context.
 * Every fallible function returns int (0 ok, negative BR_E* on failure) and, when
 * given a non-NULL br_err, fills it with a message a user can act on. */
#ifndef BR_ERR_H
#define BR_ERR_H

#include <stdarg.h>

enum {
	BR_OK = 0,
	BR_EIO = -1,      /* the OS refused: read, write, fsync, open ... */
	BR_ECORRUPT = -2, /* bytes on disk or wire that do not follow their format */
	BR_EINVAL = -3,   /* a caller or user asked for something invalid */
	BR_ENOMEM = -4,
	BR_ENOTFOUND = -5,
	BR_EEXIST = -6,
	BR_ELIMIT = -7,   /* a configured bound was exceeded */
	BR_EUNSUPPORTED = -8,
};

typedef struct br_err {
	int code;
	char msg[512];
} br_err;

/* Sets err (if non-NULL) and returns code, so callers write `return br_errf(...)`. */
int br_errf(br_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like br_errf, appending ": strerror(errno)". */
int br_errno(br_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message with more context ("file x: " + old). */
int br_errctx(br_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *br_strerror(int code);

#endif
