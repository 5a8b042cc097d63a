/* arena.c — chunked bump allocator. */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct br_arena_chunk {
	br_arena_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

void br_arena_init(br_arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
}

/* Chunks double from chunk_size up to HUGE, so an arena holding operator state
 * for millions of rows makes few large chunks (few page faults, and huge pages
 * where the kernel allows them on request: less TLB pressure for the random
 * probes of hash tables into arena keys), while a per-request arena stays at
 * its small first chunk. */
#define HUGE ((size_t)2 << 20)

static br_arena_chunk *new_chunk(br_arena *a, size_t n)
{
	size_t size = a->chunk_size;
	if (a->head && a->head->size < HUGE && a->head->size * 2 > size)
		size = a->head->size * 2;
	else if (a->head && a->head->size >= HUGE && HUGE > size)
		size = HUGE;
	if (n > size)
		size = n;
	br_arena_chunk *c;
	if (size >= HUGE) {
		size = (sizeof *c + size + HUGE - 1) / HUGE * HUGE - sizeof *c;
		void *p = NULL;
		if (posix_memalign(&p, HUGE, sizeof *c + size))
			return NULL;
		madvise(p, sizeof *c + size, MADV_HUGEPAGE);
		c = p;
	} else if (!(c = malloc(sizeof *c + size)))
		return NULL;
	c->size = size;
	c->used = 0;
	c->next = a->head;
	a->head = c;
	return c;
}

void *br_arena_alloc(br_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	br_arena_chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		c = new_chunk(a, n);
		if (!c) {
			fprintf(stderr, "braid: out of memory in arena (%zu bytes)\n", n);
			abort();
		}
	}
	void *p = c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

char *br_arena_strndup(br_arena *a, const char *s, size_t n)
{
	char *p = br_arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

void br_arena_reset(br_arena *a)
{
	br_arena_chunk *c = a->head;
	if (!c)
		return;
	/* keep the oldest chunk (the last in the list): it is the common-size one */
	while (c->next) {
		br_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	c->used = 0;
	a->head = c;
}

void br_arena_free(br_arena *a)
{
	br_arena_chunk *c = a->head;
	while (c) {
		br_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
}

size_t br_arena_bytes(const br_arena *a)
{
	size_t n = 0;
	for (const br_arena_chunk *c = a->head; c; c = c->next)
		n += sizeof *c + c->size;
	return n;
}
