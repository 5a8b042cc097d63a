/* wire.c — Kafka protocol primitive types (see wire.h). All integers are
 * big-endian; compact (flexible-version) lengths are unsigned varints holding N+1
 * so that 0 can mean null. */
#include "wire.h"

int8_t br_kr_i8(br_cur *c) { return (int8_t)br_cur_u8(c); }
int16_t br_kr_i16(br_cur *c) { return (int16_t)br_cur_be16(c); }
int32_t br_kr_i32(br_cur *c) { return (int32_t)br_cur_be32(c); }
int64_t br_kr_i64(br_cur *c) { return (int64_t)br_cur_be64(c); }
bool br_kr_bool(br_cur *c) { return br_cur_u8(c) != 0; }

static int32_t read_len(br_cur *c, bool flex, bool wide)
{
	if (flex) {
		uint64_t n = br_cur_uvarint(c);
		if (n > (uint64_t)INT32_MAX) {
			c->bad = true;
			return 0;
		}
		return (int32_t)n - 1;
	}
	return wide ? br_kr_i32(c) : br_kr_i16(c);
}

static br_kstr read_blob(br_cur *c, int32_t len)
{
	br_kstr s = { NULL, -1 };
	if (c->bad || len < -1) {
		c->bad = true;
		return (br_kstr){ "", 0 };
	}
	if (len == -1)
		return s;
	const uint8_t *p = br_cur_take(c, (size_t)len);
	if (!p)
		return (br_kstr){ "", 0 };
	s.p = (const char *)p;
	s.len = len;
	return s;
}

br_kstr br_kr_str(br_cur *c, bool flex) { return read_blob(c, read_len(c, flex, false)); }
br_kstr br_kr_bytes(br_cur *c, bool flex) { return read_blob(c, read_len(c, flex, true)); }

int32_t br_kr_arr(br_cur *c, bool flex, int min_elem_bytes)
{
	int32_t n = read_len(c, flex, true);
	if (c->bad)
		return 0;
	if (n < -1) {
		c->bad = true;
		return 0;
	}
	if (n > 0 && (uint64_t)n * (uint64_t)(min_elem_bytes > 0 ? min_elem_bytes : 1) > br_cur_left(c)) {
		c->bad = true;
		return 0;
	}
	return n;
}

void br_kr_uuid(br_cur *c, uint8_t out[16])
{
	const uint8_t *p = br_cur_take(c, 16);
	if (p)
		memcpy(out, p, 16);
	else
		memset(out, 0, 16);
}

void br_kr_tags(br_cur *c, bool flex)
{
	if (!flex)
		return;
	uint64_t n = br_cur_uvarint(c);
	for (uint64_t i = 0; i < n && !c->bad; i++) {
		br_cur_uvarint(c); /* tag */
		uint64_t size = br_cur_uvarint(c);
		if (size > br_cur_left(c)) {
			c->bad = true;
			return;
		}
		br_cur_take(c, (size_t)size);
	}
}

void br_kw_i8(br_buf *b, int8_t v) { br_buf_u8(b, (uint8_t)v); }
void br_kw_i16(br_buf *b, int16_t v) { br_buf_be16(b, (uint16_t)v); }
void br_kw_i32(br_buf *b, int32_t v) { br_buf_be32(b, (uint32_t)v); }
void br_kw_i64(br_buf *b, int64_t v) { br_buf_be64(b, (uint64_t)v); }
void br_kw_bool(br_buf *b, bool v) { br_buf_u8(b, v ? 1 : 0); }

static void write_len(br_buf *b, bool flex, bool wide, int32_t len)
{
	if (flex)
		br_buf_uvarint(b, (uint64_t)(len + 1));
	else if (wide)
		br_kw_i32(b, len);
	else
		br_kw_i16(b, (int16_t)len);
}

void br_kw_strn(br_buf *b, bool flex, const char *s, int32_t len)
{
	if (!s)
		len = -1;
	write_len(b, flex, false, len);
	if (len > 0)
		br_buf_put(b, s, (size_t)len);
}

void br_kw_str(br_buf *b, bool flex, const char *s) { br_kw_strn(b, flex, s, s ? (int32_t)strlen(s) : -1); }
void br_kw_kstr(br_buf *b, bool flex, br_kstr s) { br_kw_strn(b, flex, s.len < 0 ? NULL : s.p, s.len); }

void br_kw_bytes(br_buf *b, bool flex, const void *p, int32_t len)
{
	if (!p && len != 0)
		len = -1;
	write_len(b, flex, true, len);
	if (len > 0)
		br_buf_put(b, p, (size_t)len);
}

void br_kw_arr(br_buf *b, bool flex, int32_t n) { write_len(b, flex, true, n); }
void br_kw_uuid(br_buf *b, const uint8_t id[16]) { br_buf_put(b, id, 16); }

void br_kw_tags(br_buf *b, bool flex)
{
	if (flex)
		br_buf_u8(b, 0);
}
