/* buf.c — growable buffer and bounds-checked cursor. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void br_buf_free(br_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void br_buf_reserve(br_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap - b->len < n)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		/* Out of memory is not bad input: there is nothing sane to return. */
		fprintf(stderr, "braid: out of memory growing a buffer to %zu bytes\n", cap);
		abort();
	}
	b->p = p;
	b->cap = cap;
}

void br_buf_put(br_buf *b, const void *p, size_t n)
{
	if (!n)
		return;
	br_buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

uint8_t *br_buf_grow(br_buf *b, size_t n)
{
	if (!n && !b->p)
		br_buf_reserve(b, 1); /* never hand out NULL, even for nothing */
	br_buf_reserve(b, n);
	uint8_t *p = b->p + b->len;
	memset(p, 0, n);
	b->len += n;
	return p;
}

void br_buf_printf(br_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	br_buf_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void br_buf_be16(br_buf *b, uint16_t v) { br_wr_be16(br_buf_grow(b, 2), v); }
void br_buf_be32(br_buf *b, uint32_t v) { br_wr_be32(br_buf_grow(b, 4), v); }
void br_buf_be64(br_buf *b, uint64_t v) { br_wr_be64(br_buf_grow(b, 8), v); }

size_t br_put_uvarint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

void br_buf_uvarint(br_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	br_buf_put(b, tmp, br_put_uvarint(tmp, v));
}

void br_buf_varint(br_buf *b, int64_t v)
{
	br_buf_uvarint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

uint16_t br_cur_be16(br_cur *c)
{
	const uint8_t *p = br_cur_take(c, 2);
	return p ? br_rd_be16(p) : 0;
}

uint32_t br_cur_be32(br_cur *c)
{
	const uint8_t *p = br_cur_take(c, 4);
	return p ? br_rd_be32(p) : 0;
}

uint64_t br_cur_be64(br_cur *c)
{
	const uint8_t *p = br_cur_take(c, 8);
	return p ? br_rd_be64(p) : 0;
}

uint64_t br_cur_uvarint(br_cur *c)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (c->bad || c->pos >= c->len) {
			c->bad = true;
			return 0;
		}
		uint8_t byte = c->p[c->pos++];
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	c->bad = true; /* more than 10 bytes: not a varint */
	return 0;
}

int64_t br_cur_varint(br_cur *c)
{
	uint64_t u = br_cur_uvarint(c);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}
