/* err.c — formatting of br_err messages. */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int br_errf(br_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int br_errno(br_err *err, int code, const char *fmt, ...)
{
	int saved = errno;
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < sizeof err->msg)
			snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
		err->code = code;
	}
	return code;
}

int br_errctx(br_err *err, const char *fmt, ...)
{
	if (!err)
		return BR_EINVAL;
	char prefix[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(prefix, sizeof prefix - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return err->code;
	size_t plen = strlen(prefix);
	memcpy(prefix + plen, ": ", 3);
	plen += 2;
	size_t old = strnlen(err->msg, sizeof err->msg - 1);
	if (plen + old >= sizeof err->msg)
		old = sizeof err->msg - 1 - plen;
	memmove(err->msg + plen, err->msg, old);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + old] = 0;
	return err->code;
}

const char *br_strerror(int code)
{
	switch (code) {
	case BR_OK: return "ok";
	case BR_EIO: return "I/O error";
	case BR_ECORRUPT: return "corrupt data";
	case BR_EINVAL: return "invalid argument";
	case BR_ENOMEM: return "out of memory";
	case BR_ENOTFOUND: return "not found";
	case BR_EEXIST: return "already exists";
	case BR_ELIMIT: return "limit exceeded";
	case BR_EUNSUPPORTED: return "unsupported";
	}
	return "unknown error";
}
