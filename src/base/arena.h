/* arena.h — bump allocator for per-request and per-step memory.
 * Everything allocated from an arena is freed at once by br_arena_reset/free;
 * nothing allocated here is freed individually. */
#ifndef BR_ARENA_H
#define BR_ARENA_H

#include <stddef.h>

typedef struct br_arena_chunk br_arena_chunk;
typedef struct br_arena {
	br_arena_chunk *head;
	size_t chunk_size; /* default size of a new chunk; large requests get their own */
} br_arena;

void br_arena_init(br_arena *a, size_t chunk_size);
void *br_arena_alloc(br_arena *a, size_t n);   /* 16-byte aligned, zeroed */
char *br_arena_strndup(br_arena *a, const char *s, size_t n);
/* Keeps the first chunk for reuse and frees the rest. */
void br_arena_reset(br_arena *a);
void br_arena_free(br_arena *a);
/* Bytes of the chunks the arena holds (what it costs, not what is used). */
size_t br_arena_bytes(const br_arena *a);

#endif
