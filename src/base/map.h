/* map.h — open-addressing hash map from byte-string keys to pointers.
 * The map owns copies of its keys; values are owned by whoever put them.
 * O(1) average; grows at 70% load. Iteration order is unspecified. */
#ifndef BR_MAP_H
#define BR_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct br_map_slot {
	char *key; /* NUL-terminated copy; NULL = empty, (char*)1 = tombstone */
	size_t klen;
	uint64_t hash;
	void *val;
} br_map_slot;

typedef struct br_map {
	br_map_slot *slots;
	size_t cap, count, used; /* used counts tombstones too */
} br_map;

uint64_t br_hash(const void *p, size_t n);
void *br_map_get(const br_map *m, const void *key, size_t klen);
/* Inserts or replaces; returns the previous value (or NULL). */
void *br_map_put(br_map *m, const void *key, size_t klen, void *val);
/* Removes and returns the value (or NULL). */
void *br_map_del(br_map *m, const void *key, size_t klen);
void br_map_free(br_map *m); /* frees keys and slots, not values */
/* Iterate: for (size_t i = 0; br_map_next(m, &i, &slot);) */
int br_map_next(const br_map *m, size_t *i, br_map_slot **slot);

static inline void *br_map_gets(const br_map *m, const char *k);
#include <string.h>
static inline void *br_map_gets(const br_map *m, const char *k) { return br_map_get(m, k, strlen(k)); }

#endif
