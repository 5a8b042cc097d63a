/* buf.h — growable byte buffer and a bounds-checked cursor over bytes, with the
 * big-endian integer helpers every binary format in braid needs.
 * A br_buf owns its bytes (free with br_buf_free); a br_cur borrows them. */
#ifndef BR_BUF_H
#define BR_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct br_buf {
	uint8_t *p;
	size_t len, cap;
} br_buf;

void br_buf_free(br_buf *b);
/* Grows capacity to at least len+n; aborts the process only on malloc failure. */
void br_buf_reserve(br_buf *b, size_t n);
void br_buf_put(br_buf *b, const void *p, size_t n);
/* Appends n zero bytes and returns a pointer to them (valid until the next grow). */
uint8_t *br_buf_grow(br_buf *b, size_t n);
void br_buf_printf(br_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void br_buf_reset(br_buf *b) { b->len = 0; }
static inline void br_buf_u8(br_buf *b, uint8_t v) { br_buf_put(b, &v, 1); }
void br_buf_be16(br_buf *b, uint16_t v);
void br_buf_be32(br_buf *b, uint32_t v);
void br_buf_be64(br_buf *b, uint64_t v);

static inline uint16_t br_rd_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t br_rd_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t br_rd_be64(const uint8_t *p) { return (uint64_t)br_rd_be32(p) << 32 | br_rd_be32(p + 4); }
static inline void br_wr_be16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void br_wr_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void br_wr_be64(uint8_t *p, uint64_t v) { br_wr_be32(p, v >> 32); br_wr_be32(p + 4, (uint32_t)v); }

/* Zig-zag varints as in protobuf / Kafka records. */
size_t br_put_uvarint(uint8_t *p, uint64_t v); /* p needs 10 bytes */
void br_buf_uvarint(br_buf *b, uint64_t v);
void br_buf_varint(br_buf *b, int64_t v);

/* A read cursor. Reads past the end set `bad` and return zeros, so a decoder can
 * read a whole structure and check once (no read ever leaves the buffer). */
typedef struct br_cur {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
} br_cur;

static inline br_cur br_cur_make(const void *p, size_t len) { return (br_cur){ (const uint8_t *)p, len, 0, false }; }
static inline size_t br_cur_left(const br_cur *c) { return c->bad ? 0 : c->len - c->pos; }
/* NULL (and bad) if fewer than n left. Inline: row decoders call it per value. */
static inline const uint8_t *br_cur_take(br_cur *c, size_t n)
{
	if (c->bad || c->len - c->pos < n) {
		c->bad = true;
		return NULL;
	}
	const uint8_t *p = c->p + c->pos;
	c->pos += n;
	return p;
}
static inline uint8_t br_cur_u8(br_cur *c)
{
	const uint8_t *p = br_cur_take(c, 1);
	return p ? p[0] : 0;
}
uint16_t br_cur_be16(br_cur *c);
uint32_t br_cur_be32(br_cur *c);
uint64_t br_cur_be64(br_cur *c);
uint64_t br_cur_uvarint(br_cur *c);
int64_t br_cur_varint(br_cur *c);

#endif
