/* zset.c — the Z-set building blocks of flow: the row key encoding (layout in
 * flow.h), value comparison with SQL ordering, and br_ztab, the arena-backed
 * hash table every stateful operator keeps its state in. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/map.h"
#include "base/util.h"
#include "flow/flow.h"

static void put_le64(br_buf *out, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	br_buf_put(out, b, 8);
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void br_row_encode(br_buf *out, const br_value *vals, int n)
{
	for (int i = 0; i < n; i++) {
		const br_value *v = &vals[i];
		if (v->is_null) {
			br_buf_u8(out, 0);
			continue;
		}
		switch (v->type) {
		case BR_T_BOOLEAN:
			br_buf_u8(out, 1);
			br_buf_u8(out, v->v.b ? 1 : 0);
			break;
		case BR_T_INT: case BR_T_DATE:
			br_buf_u8(out, 2);
			put_le64(out, (uint64_t)(int64_t)v->v.i32);
			break;
		case BR_T_DOUBLE: case BR_T_FLOAT: {
			double d = v->type == BR_T_FLOAT ? v->v.f32 : v->v.f64;
			uint64_t u;
			if (d == 0)
				d = 0; /* -0.0 groups with 0.0 */
			if (isnan(d))
				d = NAN;
			memcpy(&u, &d, 8);
			br_buf_u8(out, 3);
			put_le64(out, u);
			break;
		}
		case BR_T_INTERVAL:
			br_buf_u8(out, 5);
			br_buf_put(out, v->v.bytes.p, 16);
			break;
		case BR_T_STRING: case BR_T_BINARY: {
			uint8_t l[4];
			uint32_t len = (uint32_t)v->v.bytes.len;
			for (int k = 0; k < 4; k++)
				l[k] = (uint8_t)(len >> (8 * k));
			br_buf_u8(out, 4);
			br_buf_put(out, l, 4);
			br_buf_put(out, v->v.bytes.p, len);
			break;
		}
		default: /* long, time, timestamps */
			br_buf_u8(out, 2);
			put_le64(out, (uint64_t)v->v.i64);
			break;
		}
	}
}

int br_row_decode(const uint8_t *p, size_t len, br_value *vals, int n, br_err *err)
{
	br_cur c = br_cur_make(p, len);
	for (int i = 0; i < n; i++) {
		br_value *v = &vals[i];
		memset(v, 0, sizeof *v);
		uint8_t tag = br_cur_u8(&c);
		const uint8_t *q;
		switch (tag) {
		case 0: v->is_null = true; v->type = BR_T_LONG; break;
		case 1: v->type = BR_T_BOOLEAN; v->v.b = br_cur_u8(&c) != 0; break;
		case 2:
			v->type = BR_T_LONG;
			if ((q = br_cur_take(&c, 8)))
				v->v.i64 = (int64_t)get_le64(q);
			break;
		case 3:
			v->type = BR_T_DOUBLE;
			if ((q = br_cur_take(&c, 8))) {
				uint64_t u = get_le64(q);
				memcpy(&v->v.f64, &u, 8);
			}
			break;
		case 4: {
			uint32_t l = 0;
			if ((q = br_cur_take(&c, 4)))
				l = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
			v->type = BR_T_STRING;
			v->v.bytes.p = br_cur_take(&c, l);
			v->v.bytes.len = l;
			break;
		}
		case 5:
			v->type = BR_T_INTERVAL;
			v->v.bytes.p = br_cur_take(&c, 16);
			v->v.bytes.len = 16;
			break;
		default:
			return br_errf(err, BR_ECORRUPT, "row key: bad tag %u at byte %zu", tag, c.pos - 1);
		}
		if (c.bad)
			return br_errf(err, BR_ECORRUPT, "row key: truncated at value %d", i);
	}
	if (br_cur_left(&c) != 0)
		return br_errf(err, BR_ECORRUPT, "row key: %zu trailing bytes", br_cur_left(&c));
	return 0;
}

/* Types whose values are integers: numbers, and dates and timestamps (which
 * come back from row keys as LONG, so they must compare with LONG). */
static bool is_intlike(br_type_id t)
{
	return t == BR_T_LONG || t == BR_T_INT || t == BR_T_DATE || t == BR_T_TIME || t == BR_T_TIMESTAMP ||
	       t == BR_T_TIMESTAMPTZ;
}

static bool is_num(br_type_id t)
{
	return is_intlike(t) || t == BR_T_DOUBLE || t == BR_T_FLOAT;
}

static int64_t ival(const br_value *v)
{
	return v->type == BR_T_INT || v->type == BR_T_DATE ? v->v.i32 : v->v.i64;
}

br_interval br_interval_get(const br_value *v)
{
	br_interval iv = { 0 };
	if (v->is_null || v->type != BR_T_INTERVAL || v->v.bytes.len != 16)
		return iv;
	const uint8_t *p = v->v.bytes.p;
	iv.months = (int32_t)(uint32_t)(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
	iv.days = (int32_t)(uint32_t)(p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24);
	iv.us = (int64_t)get_le64(p + 8);
	return iv;
}

br_value br_interval_value(br_arena *arena, br_interval iv)
{
	uint8_t *p = br_arena_alloc(arena, 16);
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)((uint32_t)iv.months >> (8 * i));
		p[4 + i] = (uint8_t)((uint32_t)iv.days >> (8 * i));
	}
	for (int i = 0; i < 8; i++)
		p[8 + i] = (uint8_t)((uint64_t)iv.us >> (8 * i));
	return br_value_bytes(BR_T_INTERVAL, p, 16);
}

void br_val_retag(br_value *v, br_type_id t)
{
	if (v->type == t)
		return;
	if (v->is_null) {
		v->type = t;
		return;
	}
	if (t == BR_T_DATE && (v->type == BR_T_LONG || is_intlike(v->type))) {
		int64_t x = ival(v);
		*v = br_value_i32(BR_T_DATE, (int32_t)x);
	} else if ((t == BR_T_TIMESTAMP || t == BR_T_TIMESTAMPTZ || t == BR_T_TIME) && is_intlike(v->type)) {
		int64_t x = ival(v);
		*v = br_value_i64(t, x);
	}
}

/* PostgreSQL orders intervals by their span with 30-day months. */
static __int128 span(const br_value *v)
{
	br_interval iv = br_interval_get(v);
	return ((__int128)iv.months * 30 + iv.days) * 86400000000LL + iv.us;
}

static double as_double(const br_value *v)
{
	switch (v->type) {
	case BR_T_INT: return v->v.i32;
	case BR_T_FLOAT: return v->v.f32;
	case BR_T_DOUBLE: return v->v.f64;
	default: return (double)v->v.i64;
	}
}

int br_val_cmp(const br_value *a, const br_value *b)
{
	if (a->is_null || b->is_null)
		return (int)!a->is_null - (int)!b->is_null;
	if (a->type == BR_T_INTERVAL && b->type == BR_T_INTERVAL) {
		__int128 x = span(a), y = span(b);
		return (x > y) - (x < y);
	}
	if (is_num(a->type) && is_num(b->type)) {
		if (is_intlike(a->type) && is_intlike(b->type)) {
			int64_t x = ival(a), y = ival(b);
			return (x > y) - (x < y);
		}
		double x = as_double(a), y = as_double(b);
		if (isnan(x) || isnan(y)) /* PostgreSQL: NaN sorts above every number */
			return (int)isnan(x) - (int)isnan(y);
		return (x > y) - (x < y);
	}
	if (a->type == BR_T_BOOLEAN && b->type == BR_T_BOOLEAN)
		return (int)a->v.b - (int)b->v.b;
	if ((a->type == BR_T_STRING || a->type == BR_T_BINARY) && (b->type == BR_T_STRING || b->type == BR_T_BINARY)) {
		size_t n = BR_MIN(a->v.bytes.len, b->v.bytes.len);
		int r = n ? memcmp(a->v.bytes.p, b->v.bytes.p, n) : 0;
		if (r)
			return r < 0 ? -1 : 1;
		return (a->v.bytes.len > b->v.bytes.len) - (a->v.bytes.len < b->v.bytes.len);
	}
	/* Mixed kinds cannot meet after binding; order by type id to stay total. */
	return (a->type > b->type) - (a->type < b->type);
}

bool br_val_is_true(const br_value *v)
{
	return !v->is_null && v->type == BR_T_BOOLEAN && v->v.b;
}

/* ------------------------------------------------------------------ ztab */

void br_ztab_init(br_ztab *t, br_arena *arena)
{
	memset(t, 0, sizeof *t);
	t->arena = arena;
}

void br_ztab_free(br_ztab *t)
{
	free(t->slots);
	free(t->old);
	t->old = NULL;
	t->oldcap = t->moved = 0;
	t->slots = NULL;
	t->cap = t->count = 0;
}

static br_zent *probe(const br_zent *slots, size_t cap, uint64_t h, const void *key, size_t klen)
{
	size_t i = h & (cap - 1);
	for (;;) {
		const br_zent *e = &slots[i];
		if (!e->key || (e->hash == h && e->klen == klen && (!klen || memcmp(e->key, key, klen) == 0)))
			return (br_zent *)e;
		i = (i + 1) & (cap - 1);
	}
}

/* An old-table slot whose entry has moved: still occupied (probes pass over
 * it), never equal to a key. */
#define MOVED UINT32_MAX

static br_zent *find_old(const br_ztab *t, const void *key, size_t klen, uint64_t h)
{
	if (!t->old)
		return NULL;
	br_zent *e = probe(t->old, t->oldcap, h, key, klen);
	return e->key ? e : NULL;
}

br_zent *br_ztab_find(const br_ztab *t, const void *key, size_t klen)
{
	if (!t->cap)
		return NULL;
	if (!key)
		key = "";
	uint64_t h = br_hash(key, klen);
	br_zent *e = probe(t->slots, t->cap, h, key, klen);
	return e->key ? e : find_old(t, key, klen, h);
}

static br_zent *move_entry(br_ztab *t, br_zent *o)
{
	br_zent *n = probe(t->slots, t->cap, o->hash, o->key, o->klen);
	*n = *o;
	o->klen = MOVED;
	return n;
}

/* Moves the next few entries of the old table; frees it when all are moved.
 * Four slots per upsert finish the old table (cap/2 slots) long before the new
 * one (cap) can fill to half, so growth never stalls one step for a whole
 * rehash. */
static void migrate(br_ztab *t, size_t nslots)
{
	for (; t->old && nslots; nslots--) {
		br_zent *o = &t->old[t->moved++];
		if (o->key && o->klen != MOVED)
			move_entry(t, o);
		if (t->moved == t->oldcap) {
			free(t->old);
			t->old = NULL;
			t->oldcap = t->moved = 0;
		}
	}
}

/* Large slot arrays ask for huge pages: probes land on random slots, and with
 * 4 KiB pages nearly every one is a TLB miss. */
static br_zent *alloc_slots(size_t n)
{
	size_t bytes = n * sizeof(br_zent), huge = (size_t)2 << 20;
	if (bytes < 2 * huge)
		return br_xcalloc(n, sizeof(br_zent));
	void *p = NULL;
	if (posix_memalign(&p, huge, bytes))
		return br_xcalloc(n, sizeof(br_zent));
	madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

static void grow(br_ztab *t)
{
	migrate(t, SIZE_MAX);
	t->old = t->slots;
	t->oldcap = t->cap;
	t->moved = 0;
	t->cap = t->cap ? t->cap * 2 : 16;
	t->slots = alloc_slots(t->cap);
	if (!t->old)
		t->oldcap = 0;
	else if (t->oldcap <= 1024)
		migrate(t, SIZE_MAX); /* small tables move at once */
}

br_zent *br_ztab_upsert(br_ztab *t, const void *key, size_t klen)
{
	if ((t->count + 1) * 2 > t->cap)
		grow(t);
	migrate(t, 4);
	if (!key)
		key = "";
	uint64_t h = br_hash(key, klen);
	br_zent *e = probe(t->slots, t->cap, h, key, klen);
	if (e->key)
		return e;
	br_zent *o = find_old(t, key, klen, h);
	if (o)
		return move_entry(t, o);
	/* A zero-length key still needs a non-NULL pointer to mark the slot used. */
	uint8_t *k = br_arena_alloc(t->arena, klen ? klen : 1);
	if (klen)
		memcpy(k, key, klen);
	e->key = k;
	e->klen = (uint32_t)klen;
	e->hash = h;
	e->w = 0;
	e->aux = NULL;
	t->count++;
	return e;
}

br_zent *br_ztab_next(const br_ztab *t, size_t *i)
{
	while (*i < t->cap + t->oldcap) {
		br_zent *e = *i < t->cap ? &t->slots[*i] : &t->old[*i - t->cap];
		(*i)++;
		if (e->key && e->klen != MOVED)
			return e;
	}
	return NULL;
}

size_t br_ztab_bytes(const br_ztab *t) { return (t->cap + t->oldcap) * sizeof(br_zent); }
