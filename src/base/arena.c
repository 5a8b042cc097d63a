/* arena.c — chunked bump allocator. */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void *br_arena_alloc(br_arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	br_arena_chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = n > a->chunk_size ? n : a->chunk_size;
		c = malloc(sizeof *c + size);
		if (!c) {
			fprintf(stderr, "braid: out of memory in arena (%zu bytes)\n", size);
			abort();
		}
		c->size = size;
		c->used = 0;
		c->next = a->head;
		a->head = c;
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
