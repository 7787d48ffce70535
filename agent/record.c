// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "record.h"
#include "record_codec.h"

const char *record_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	return NULL;
}

/* Bytes a deep copy of r takes, 0 with errno EINVAL for a type without a codec. */
static size_t copy_size(const struct record *r, const struct record_codec **codec)
{
	const struct record_codec *c = record_codec(r->type);

	*codec = c;
	if (!c) {
		errno = EINVAL;
		return 0;
	}
	return c->size + c->extra_size(r);
}

static struct record *copy_into(const struct record_codec *c, const struct record *r, void *mem)
{
	struct record *copy = mem;
	char *p;

	memcpy(copy, r, c->size);
	p = (char *)copy + c->size;
	c->copy_extra(copy, &p);
	return copy;
}

struct record *record_dup(const struct record *r)
{
	const struct record_codec *c;
	size_t n = copy_size(r, &c);
	void *mem;

	if (!n)
		return NULL;
	mem = malloc(n);
	return mem ? copy_into(c, r, mem) : NULL;
}

void record_free(struct record *r)
{
	free(r);
}

#define ARENA_CHUNK (1u << 20)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size; /* of the mapping, this header included */
	size_t used; /* bytes of data[] handed out */
	alignas(max_align_t) unsigned char data[];
};

/* resets in a row that needed fewer chunks than the arena holds before the spare ones go */
#define ARENA_SHRINK_AFTER 8

struct record_arena {
	struct arena_chunk *chunks; /* in use, newest first */
	/* chunks of ARENA_CHUNK bytes a reset emptied, for the next copies: a steady load's
	 * intervals reuse the same pages instead of faulting fresh ones in each interval */
	struct arena_chunk *spare;
	uint32_t n_chunks, n_spare; /* in use (ARENA_CHUNK ones), spare */
	uint32_t idle; /* resets in a row that left chunks spare */
};

struct record_arena *record_arena_create(void)
{
	return calloc(1, sizeof(struct record_arena));
}

static struct arena_chunk *chunk_new(size_t data_bytes)
{
	size_t size = offsetof(struct arena_chunk, data) + data_bytes;
	struct arena_chunk *ch;

	if (size < ARENA_CHUNK)
		size = ARENA_CHUNK;
	ch = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ch == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	ch->size = size;
	ch->used = 0;
	return ch;
}

/* n bytes at a multiple of align (a power of two, at most max_align_t's) in the arena. */
static void *arena_alloc(struct record_arena *a, size_t n, size_t align)
{
	struct arena_chunk *ch = a->chunks;

	n = (n + align - 1) & ~(align - 1);
	if (ch)
		ch->used = (ch->used + align - 1) & ~(align - 1);
	if (!ch || ch->used > ch->size - offsetof(struct arena_chunk, data) ||
	    ch->size - offsetof(struct arena_chunk, data) - ch->used < n) {
		if (a->spare && n <= ARENA_CHUNK - offsetof(struct arena_chunk, data)) {
			ch = a->spare;
			a->spare = ch->next;
			a->n_spare--;
			ch->used = 0;
		} else {
			ch = chunk_new(n);
			if (!ch)
				return NULL;
		}
		if (ch->size == ARENA_CHUNK)
			a->n_chunks++;
		ch->next = a->chunks;
		a->chunks = ch;
	}
	ch->used += n;
	return ch->data + ch->used - n;
}

void *record_arena_alloc(struct record_arena *a, size_t n)
{
	return arena_alloc(a, n, 8);
}

struct record *record_arena_dup(struct record_arena *a, const struct record *r)
{
	const struct record_codec *c;
	size_t n = copy_size(r, &c);
	void *mem;

	if (!n)
		return NULL;
	mem = arena_alloc(a, n, alignof(max_align_t));
	return mem ? copy_into(c, r, mem) : NULL;
}

void record_arena_reset(struct record_arena *a)
{
	struct arena_chunk *ch = a->chunks;
	uint32_t used = a->n_chunks;

	while (ch) {
		struct arena_chunk *next = ch->next;

		if (ch->size == ARENA_CHUNK) {
			ch->next = a->spare;
			a->spare = ch;
			a->n_spare++;
		} else {
			munmap(ch, ch->size); /* a copy larger than a chunk: its own mapping */
		}
		ch = next;
	}
	a->chunks = NULL;
	a->n_chunks = 0;
	/* the first chunk always stays; beyond what the last resets needed, the rest go back */
	a->idle = a->n_spare > (used ? used : 1) ? a->idle + 1 : 0;
	if (a->idle < ARENA_SHRINK_AFTER)
		return;
	a->idle = 0;
	while (a->n_spare > (used ? used : 1)) {
		ch = a->spare;
		a->spare = ch->next;
		a->n_spare--;
		munmap(ch, ch->size);
	}
}

void record_arena_destroy(struct record_arena *a)
{
	if (!a)
		return;
	record_arena_reset(a);
	while (a->spare) {
		struct arena_chunk *next = a->spare->next;

		munmap(a->spare, a->spare->size);
		a->spare = next;
	}
	free(a);
}
