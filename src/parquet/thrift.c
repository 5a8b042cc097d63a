/* thrift.c — the Thrift compact protocol, as Parquet uses it for its footer and
 * page headers: an encoder that appends to a br_buf and a decoder that never
 * reads outside its bytes and never recurses deeper than BR_TC_MAX_DEPTH.
 *
 * Wire format (Thrift "compact protocol" specification):
 *   struct   a sequence of fields, then one STOP byte (0x00).
 *   field    header byte: high nibble = field id delta (1..15) from the
 *            previous field of the same struct, low nibble = type; when the
 *            delta does not fit, the high nibble is 0 and the id follows as a
 *            zig-zag varint i16. Bool fields carry their value in the type
 *            nibble (1 true, 2 false) and have no payload.
 *   i16/i32/i64  zig-zag ULEB128 varints; double 8 bytes little-endian;
 *   binary   ULEB128 length then the bytes (strings are UTF-8 binary);
 *   list/set header byte: high nibble = size (0..14) and low nibble = element
 *            type, or 0xF_ then the size as ULEB128; elements follow without
 *            headers (a bool element is one byte, 1 = true);
 *   map      ULEB128 size, then (if size > 0) one byte key type << 4 | value type.
 * A nested struct starts its field ids from 0 again; the encoder and decoder
 * keep the previous id of each open struct. */
#include <string.h>

#include "pq_internal.h"

/* ------------------------------------------------------------ encoder */

static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

void br_tw_init(br_tw *w, br_buf *out)
{
	memset(w, 0, sizeof *w);
	w->out = out;
}

void br_tw_field(br_tw *w, int type, int16_t id)
{
	int16_t delta = (int16_t)(id - w->last[w->depth]);
	if (delta > 0 && delta <= 15) {
		br_buf_u8(w->out, (uint8_t)(delta << 4 | type));
	} else {
		br_buf_u8(w->out, (uint8_t)type);
		br_buf_uvarint(w->out, zz(id));
	}
	w->last[w->depth] = id;
}

void br_tw_i32(br_tw *w, int16_t id, int32_t v)
{
	br_tw_field(w, BR_TC_I32, id);
	br_buf_uvarint(w->out, zz(v));
}

void br_tw_i64(br_tw *w, int16_t id, int64_t v)
{
	br_tw_field(w, BR_TC_I64, id);
	br_buf_uvarint(w->out, zz(v));
}

void br_tw_bool(br_tw *w, int16_t id, bool v) { br_tw_field(w, v ? BR_TC_TRUE : BR_TC_FALSE, id); }

void br_tw_bin(br_tw *w, int16_t id, const void *p, size_t n)
{
	br_tw_field(w, BR_TC_BINARY, id);
	br_tw_elem_bin(w, p, n);
}

void br_tw_str(br_tw *w, int16_t id, const char *s) { br_tw_bin(w, id, s, strlen(s)); }

void br_tw_elem_struct_begin(br_tw *w)
{
	w->depth++;
	w->last[w->depth] = 0;
}

void br_tw_struct_begin(br_tw *w, int16_t id)
{
	br_tw_field(w, BR_TC_STRUCT, id);
	br_tw_elem_struct_begin(w);
}

void br_tw_struct_end(br_tw *w)
{
	br_buf_u8(w->out, BR_TC_STOP);
	w->depth--;
}

void br_tw_stop(br_tw *w) { br_buf_u8(w->out, BR_TC_STOP); }

void br_tw_list(br_tw *w, int16_t id, int elem_type, size_t n)
{
	br_tw_field(w, BR_TC_LIST, id);
	if (n < 15) {
		br_buf_u8(w->out, (uint8_t)(n << 4 | (size_t)elem_type));
	} else {
		br_buf_u8(w->out, (uint8_t)(0xf0 | elem_type));
		br_buf_uvarint(w->out, n);
	}
}

void br_tw_elem_i32(br_tw *w, int32_t v) { br_buf_uvarint(w->out, zz(v)); }

void br_tw_elem_bin(br_tw *w, const void *p, size_t n)
{
	br_buf_uvarint(w->out, n);
	br_buf_put(w->out, p, n);
}

/* ------------------------------------------------------------ decoder */

static int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

int br_tr_field(br_tr *r, int16_t *last, int *type, int16_t *id)
{
	uint8_t b = br_cur_u8(&r->c);
	if (r->c.bad || b == BR_TC_STOP)
		return 0;
	*type = b & 15;
	if (b >> 4) {
		*id = (int16_t)(*last + (b >> 4));
	} else {
		int64_t v = unzz(br_cur_uvarint(&r->c));
		if (v < INT16_MIN || v > INT16_MAX)
			r->c.bad = true;
		*id = (int16_t)v;
	}
	*last = *id;
	if (*type > BR_TC_STRUCT)
		r->c.bad = true;
	return r->c.bad ? 0 : 1;
}

int32_t br_tr_i32(br_tr *r)
{
	int64_t v = unzz(br_cur_uvarint(&r->c));
	if (v < INT32_MIN || v > INT32_MAX)
		r->c.bad = true;
	return (int32_t)v;
}

int64_t br_tr_i64(br_tr *r) { return unzz(br_cur_uvarint(&r->c)); }

const uint8_t *br_tr_bin(br_tr *r, size_t *n)
{
	uint64_t len = br_cur_uvarint(&r->c);
	if (len > br_cur_left(&r->c)) {
		r->c.bad = true;
		*n = 0;
		return NULL;
	}
	*n = (size_t)len;
	return br_cur_take(&r->c, (size_t)len);
}

void br_tr_list(br_tr *r, int *elem_type, uint32_t *n)
{
	uint8_t b = br_cur_u8(&r->c);
	uint64_t size = b >> 4;
	*elem_type = b & 15;
	if (size == 15)
		size = br_cur_uvarint(&r->c);
	if (size > br_cur_left(&r->c) || *elem_type > BR_TC_STRUCT || r->c.bad) {
		r->c.bad = true;
		size = 0;
	}
	*n = (uint32_t)size;
}

void br_tr_skip(br_tr *r, int type)
{
	if (r->c.bad)
		return;
	switch (type) {
	case BR_TC_TRUE: case BR_TC_FALSE:
		break; /* a bool field's value is its type nibble */
	case BR_TC_BYTE:
		br_cur_u8(&r->c);
		break;
	case BR_TC_I16: case BR_TC_I32: case BR_TC_I64:
		br_cur_uvarint(&r->c);
		break;
	case BR_TC_DOUBLE:
		br_cur_take(&r->c, 8);
		break;
	case BR_TC_BINARY: {
		size_t n;
		br_tr_bin(r, &n);
		break;
	}
	case BR_TC_LIST: case BR_TC_SET: {
		int et;
		uint32_t n;
		br_tr_list(r, &et, &n);
		if (++r->depth > BR_TC_MAX_DEPTH)
			r->c.bad = true;
		for (uint32_t i = 0; i < n && !r->c.bad; i++) {
			if (et == BR_TC_TRUE || et == BR_TC_FALSE)
				br_cur_u8(&r->c); /* bool elements take a byte */
			else
				br_tr_skip(r, et);
		}
		r->depth--;
		break;
	}
	case BR_TC_MAP: {
		uint64_t n = br_cur_uvarint(&r->c);
		if (n > br_cur_left(&r->c)) {
			r->c.bad = true;
			break;
		}
		if (n == 0)
			break;
		uint8_t kv = br_cur_u8(&r->c);
		if (++r->depth > BR_TC_MAX_DEPTH)
			r->c.bad = true;
		for (uint64_t i = 0; i < n && !r->c.bad; i++) {
			int kt = kv >> 4, vt = kv & 15;
			if (kt == BR_TC_TRUE || kt == BR_TC_FALSE)
				br_cur_u8(&r->c);
			else
				br_tr_skip(r, kt);
			if (vt == BR_TC_TRUE || vt == BR_TC_FALSE)
				br_cur_u8(&r->c);
			else
				br_tr_skip(r, vt);
		}
		r->depth--;
		break;
	}
	case BR_TC_STRUCT: {
		if (++r->depth > BR_TC_MAX_DEPTH) {
			r->c.bad = true;
			break;
		}
		int16_t last = 0, id;
		int t;
		while (br_tr_field(r, &last, &t, &id))
			br_tr_skip(r, t);
		r->depth--;
		break;
	}
	default:
		r->c.bad = true;
		break;
	}
}
