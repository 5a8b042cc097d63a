/* map.c — linear-probing hash map with tombstones, hashed with xxh3. */
#include "map.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util.h"

#define TOMB ((char *)1)

uint64_t br_hash(const void *p, size_t n) { return XXH3_64bits(p, n); }

static br_map_slot *find(const br_map *m, const void *key, size_t klen, uint64_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		br_map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != TOMB && s->hash == h && s->klen == klen && !memcmp(s->key, key, klen))
			return s;
	}
}

void *br_map_get(const br_map *m, const void *key, size_t klen)
{
	br_map_slot *s = find(m, key, klen, br_hash(key, klen));
	return s ? s->val : NULL;
}

static void grow(br_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	if (m->count * 2 < m->cap) /* mostly tombstones: rehash in place size */
		ncap = m->cap;
	br_map_slot *old = m->slots;
	size_t ocap = m->cap;
	m->slots = br_xcalloc(ncap, sizeof *m->slots);
	m->cap = ncap;
	m->used = m->count;
	for (size_t i = 0; i < ocap; i++) {
		br_map_slot *s = &old[i];
		if (!s->key || s->key == TOMB)
			continue;
		size_t j = s->hash & (ncap - 1);
		while (m->slots[j].key)
			j = (j + 1) & (ncap - 1);
		m->slots[j] = *s;
	}
	free(old);
}

void *br_map_put(br_map *m, const void *key, size_t klen, void *val)
{
	uint64_t h = br_hash(key, klen);
	br_map_slot *s = find(m, key, klen, h);
	if (s) {
		void *old = s->val;
		s->val = val;
		return old;
	}
	if ((m->used + 1) * 10 > m->cap * 7)
		grow(m);
	size_t mask = m->cap - 1, i = h & mask;
	while (m->slots[i].key && m->slots[i].key != TOMB)
		i = (i + 1) & mask;
	s = &m->slots[i];
	if (!s->key)
		m->used++;
	s->key = br_xmalloc(klen + 1);
	memcpy(s->key, key, klen);
	s->key[klen] = 0;
	s->klen = klen;
	s->hash = h;
	s->val = val;
	m->count++;
	return NULL;
}

void *br_map_del(br_map *m, const void *key, size_t klen)
{
	br_map_slot *s = find(m, key, klen, br_hash(key, klen));
	if (!s)
		return NULL;
	void *old = s->val;
	free(s->key);
	s->key = TOMB;
	s->val = NULL;
	m->count--;
	return old;
}

void br_map_free(br_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != TOMB)
			free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof *m);
}

int br_map_next(const br_map *m, size_t *i, br_map_slot **slot)
{
	while (*i < m->cap) {
		br_map_slot *s = &m->slots[(*i)++];
		if (s->key && s->key != TOMB) {
			*slot = s;
			return 1;
		}
	}
	return 0;
}
