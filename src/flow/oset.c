/* oset.c — br_oset: an ordered set of encoded single values (a treap whose
 * nodes come from an arena and are recycled through a free list), so min/max
 * aggregates answer in O(log n) and survive the deletion of the extreme. */
#include <string.h>

#include "flow/flow.h"

struct br_onode {
	const uint8_t *key;
	uint32_t klen;
	uint32_t prio;
	br_onode *l, *r;
};

void br_oset_init(br_oset *s, br_arena *arena)
{
	memset(s, 0, sizeof *s);
	s->arena = arena;
	s->seed = 0x2545f491u;
}

/* Keys are row keys of one value; they order as br_val_cmp orders values. */
static int key_cmp(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
	br_value va, vb;
	br_err err;
	if (br_row_decode(a, alen, &va, 1, &err) || br_row_decode(b, blen, &vb, 1, &err))
		return alen == blen ? memcmp(a, b, alen) : (alen < blen ? -1 : 1);
	return br_val_cmp(&va, &vb);
}

/* Priorities from a fixed-seed xorshift: the tree's shape, like everything
 * else in a circuit, is a function of its input alone. */
static uint32_t next_prio(br_oset *s)
{
	uint32_t x = s->seed;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return s->seed = x;
}

static br_onode *rot_right(br_onode *n)
{
	br_onode *l = n->l;
	n->l = l->r;
	l->r = n;
	return l;
}

static br_onode *rot_left(br_onode *n)
{
	br_onode *r = n->r;
	n->r = r->l;
	r->l = n;
	return r;
}

static br_onode *ins(br_onode *n, br_onode *x, bool *dup)
{
	if (!n)
		return x;
	int c = key_cmp(x->key, x->klen, n->key, n->klen);
	if (c == 0) {
		*dup = true;
		return n;
	}
	if (c < 0) {
		n->l = ins(n->l, x, dup);
		if (n->l->prio > n->prio)
			n = rot_right(n);
	} else {
		n->r = ins(n->r, x, dup);
		if (n->r->prio > n->prio)
			n = rot_left(n);
	}
	return n;
}

void br_oset_insert(br_oset *s, const uint8_t *key, uint32_t klen)
{
	br_onode *x = s->free;
	if (x)
		s->free = x->l;
	else
		x = br_arena_alloc(s->arena, sizeof *x);
	*x = (br_onode){ .key = key, .klen = klen, .prio = next_prio(s) };
	bool dup = false;
	s->root = ins(s->root, x, &dup);
	if (dup) {
		x->l = s->free;
		s->free = x;
	} else
		s->n++;
}

static br_onode *del(br_oset *s, br_onode *n, const uint8_t *key, uint32_t klen)
{
	if (!n)
		return NULL;
	int c = key_cmp(key, klen, n->key, n->klen);
	if (c < 0) {
		n->l = del(s, n->l, key, klen);
		return n;
	}
	if (c > 0) {
		n->r = del(s, n->r, key, klen);
		return n;
	}
	if (!n->l || !n->r) {
		br_onode *child = n->l ? n->l : n->r;
		n->l = s->free;
		s->free = n;
		s->n--;
		return child;
	}
	/* Rotate the higher-priority child up and keep deleting below it. */
	if (n->l->prio > n->r->prio) {
		n = rot_right(n);
		n->r = del(s, n->r, key, klen);
	} else {
		n = rot_left(n);
		n->l = del(s, n->l, key, klen);
	}
	return n;
}

void br_oset_remove(br_oset *s, const uint8_t *key, uint32_t klen)
{
	s->root = del(s, s->root, key, klen);
}

const uint8_t *br_oset_first(const br_oset *s, uint32_t *klen)
{
	br_onode *n = s->root;
	if (!n)
		return NULL;
	while (n->l)
		n = n->l;
	*klen = n->klen;
	return n->key;
}

const uint8_t *br_oset_last(const br_oset *s, uint32_t *klen)
{
	br_onode *n = s->root;
	if (!n)
		return NULL;
	while (n->r)
		n = n->r;
	*klen = n->klen;
	return n->key;
}
