/* xheap.c — br_xheap: the extreme (min or max) of a changing multiset for the
 * min/max aggregates. A binary heap of borrowed encoded values with lazy
 * deletion: leaving values stay until they surface at the top, and the heap is
 * rebuilt from the live values when the dead outnumber them. */
#include <string.h>

#include "base/util.h"
#include "flow/flow.h"

/* Values whose row key is a long (tag 2: bigint, int, dates, timestamps) carry
 * it inline, so most comparisons touch neither the key bytes nor a decoder. */
static void ent_set(br_xh_ent *e, const uint8_t *key, uint32_t klen)
{
	e->key = key;
	e->klen = klen;
	e->fast = klen == 9 && key[0] == 2;
	if (e->fast) {
		uint64_t u = 0;
		for (int i = 8; i >= 1; i--)
			u = u << 8 | key[i];
		e->ik = (int64_t)u;
	}
}

static int ent_cmp(const br_xh_ent *a, const br_xh_ent *b)
{
	if (a->fast && b->fast)
		return (a->ik > b->ik) - (a->ik < b->ik);
	br_value va, vb;
	br_err err;
	if (br_row_decode(a->key, a->klen, &va, 1, &err) || br_row_decode(b->key, b->klen, &vb, 1, &err))
		return a->klen == b->klen ? memcmp(a->key, b->key, a->klen) : (a->klen < b->klen ? -1 : 1);
	return br_val_cmp(&va, &vb);
}

/* true when a belongs above b */
static bool above(const br_xheap *h, const br_xh_ent *a, const br_xh_ent *b)
{
	int c = ent_cmp(a, b);
	return h->max ? c > 0 : c < 0;
}

static void sift_up(br_xheap *h, size_t i)
{
	br_xh_ent x = h->a[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!above(h, &x, &h->a[p]))
			break;
		h->a[i] = h->a[p];
		i = p;
	}
	h->a[i] = x;
}

static void sift_down(br_xheap *h, size_t i)
{
	br_xh_ent x = h->a[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && above(h, &h->a[c + 1], &h->a[c]))
			c++;
		if (!above(h, &h->a[c], &x))
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	h->a[i] = x;
}

void br_xheap_init(br_xheap *h, bool max)
{
	memset(h, 0, sizeof *h);
	h->max = max;
}

void br_xheap_free(br_xheap *h)
{
	free(h->a);
	memset(h, 0, sizeof *h);
}

void br_xheap_push(br_xheap *h, const uint8_t *key, uint32_t klen)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 8;
		h->a = br_xrealloc(h->a, h->cap * sizeof *h->a);
	}
	ent_set(&h->a[h->n], key, klen);
	sift_up(h, h->n++);
}

const uint8_t *br_xheap_top(br_xheap *h, const br_ztab *live, uint32_t *klen)
{
	while (h->n) {
		const br_xh_ent *t = &h->a[0];
		const br_zent *e = br_ztab_find(live, t->key, t->klen);
		if (e && e->w > 0) {
			*klen = t->klen;
			return t->key;
		}
		h->a[0] = h->a[--h->n];
		if (h->n)
			sift_down(h, 0);
	}
	return NULL;
}

void br_xheap_compact(br_xheap *h, const br_ztab *live, size_t nlive)
{
	if (h->n <= 2 * nlive + 64)
		return;
	h->n = 0;
	const br_zent *e;
	for (size_t i = 0; (e = br_ztab_next(live, &i));)
		if (e->w > 0) {
			if (h->n == h->cap) {
				h->cap = h->cap ? h->cap * 2 : 8;
				h->a = br_xrealloc(h->a, h->cap * sizeof *h->a);
			}
			ent_set(&h->a[h->n++], e->key, e->klen);
		}
	for (size_t i = h->n / 2; i-- > 0;)
		sift_down(h, i);
}
