// SPDX-License-Identifier: Apache-2.0
/*
 * The pieces lie densely in insertion order in one array (so that the drain reads them in one
 * sequential pass, and the memory a table holds is what its pieces take), found through an
 * index: open addressing with linear probing over a power-of-two array of entry numbers (+1; 0:
 * free) beside their keys' hashes, at most half full, so that a probe reads an entry's key only
 * when its hash matches (the entries are the cache misses: a probe of the index is not). Both are anonymous mappings of their own (mmap): the pieces' array
 * grows with mremap (no copy), and a table grown for a burst is unmapped (its pages go back to
 * the system, not to the allocator's heap) after SHRINK_AFTER resets that each used less than an
 * eighth of it.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "flow_table.h"

#define TABLE_MIN 1024 /* pieces of a new or shrunk table */
#define SHRINK_AFTER 8 /* resets with little use before a grown table shrinks */
#define BATCH 16 /* keys hashed and prefetched at a time (flow_table_add_many(), _take_merge()) */

#define E_WHOLE 0x1
#define E_TAKEN 0x2

struct entry {
	struct flow_key key;
	struct flow_value val;
	uint32_t state; /* E_* */
};

struct flow_table {
	struct entry *e; /* e[0..n) */
	uint32_t n, cap; /* pieces in e, and its room */
	uint64_t *idx; /* idx_cap of (key hash << 32 | entry number + 1); 0: free */
	uint32_t idx_cap; /* a power of two, at least 2 * cap */
	uint32_t max; /* keys allowed */
	uint32_t idle; /* resets in a row that used less than an eighth of cap */
};

#define FLOW_F_INITIATOR (FLOW_F_INITIATOR_SRC | FLOW_F_INITIATOR_DST)
#define FLOW_F_VERDICT (FLOW_F_INITIATOR | FLOW_F_FROM_SYN)

void flow_value_merge(struct flow_value *a, const struct flow_value *b)
{
	a->tx_bytes += b->tx_bytes;
	a->tx_packets += b->tx_packets;
	a->rx_bytes += b->rx_bytes;
	a->rx_packets += b->rx_packets;
	if (b->first_ns < a->first_ns)
		a->first_ns = b->first_ns;
	if (b->last_ns > a->last_ns)
		a->last_ns = b->last_ns;
	a->tcp_flags |= b->tcp_flags;
	if (!(a->flags & FLOW_F_FROM_SYN) &&
	    ((b->flags & FLOW_F_FROM_SYN) ||
	     (!(a->flags & FLOW_F_INITIATOR) && (b->flags & FLOW_F_INITIATOR))))
		a->flags = (a->flags & ~FLOW_F_VERDICT) | (b->flags & FLOW_F_VERDICT);
	a->flags |= b->flags & FLOW_F_REMEMBERED;
	if (!a->pid && b->pid) {
		a->pid = b->pid;
		memcpy(a->comm, b->comm, sizeof(a->comm));
	}
}

static uint32_t key_hash(const struct flow_key *k)
{
	uint64_t w[6], h = 0xcbf29ce484222325ull;

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 6; i++) {
		h ^= w[i];
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return (uint32_t)(h >> 32);
}

static void *map_anon(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Maps a table's arrays for cap pieces; 0 or -ENOMEM (t unchanged). */
static int map_arrays(struct flow_table *t, uint32_t cap)
{
	struct entry *e = map_anon((size_t)cap * sizeof(*e));
	uint64_t *idx = e ? map_anon((size_t)cap * 2 * sizeof(*idx)) : NULL;

	if (!idx) {
		if (e)
			munmap(e, (size_t)cap * sizeof(*e));
		return -ENOMEM;
	}
	t->e = e;
	t->cap = cap;
	t->idx = idx;
	t->idx_cap = cap * 2;
	return 0;
}

static void unmap_arrays(struct flow_table *t)
{
	munmap(t->e, (size_t)t->cap * sizeof(*t->e));
	munmap(t->idx, (size_t)t->idx_cap * sizeof(*t->idx));
}

struct flow_table *flow_table_create(uint32_t max_flows)
{
	struct flow_table *t = map_anon(sizeof(*t));

	if (!t)
		return NULL;
	t->n = 0;
	t->max = max_flows;
	t->idle = 0;
	if (map_arrays(t, TABLE_MIN)) {
		munmap(t, sizeof(*t));
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void flow_table_destroy(struct flow_table *t)
{
	if (!t)
		return;
	unmap_arrays(t);
	munmap(t, sizeof(*t));
}

#define IDX_ENTRY(v) ((uint32_t)(v)) /* entry number + 1 */
#define IDX_HASH(v) ((uint32_t)((v) >> 32))

/* The index slot of k (hash h): holding its entry, or 0 where it would go. */
static uint64_t *slot_of(const struct flow_table *t, const struct flow_key *k, uint32_t h)
{
	uint32_t mask = t->idx_cap - 1, i = h & mask;

	while (t->idx[i] && (IDX_HASH(t->idx[i]) != h ||
			     memcmp(&t->e[IDX_ENTRY(t->idx[i]) - 1].key, k, sizeof(*k))))
		i = (i + 1) & mask;
	return &t->idx[i];
}

/* Doubles the room: the pieces' array moves (mremap), the index is made anew. */
static int grow(struct flow_table *t)
{
	uint32_t cap = t->cap * 2, old_idx_cap = t->idx_cap;
	uint64_t *idx, *old_idx = t->idx;
	void *e;

	if (cap < t->cap || cap > UINT32_MAX / 2)
		return -ENOMEM;
	idx = map_anon((size_t)cap * 2 * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	e = mremap(t->e, (size_t)t->cap * sizeof(*t->e), (size_t)cap * sizeof(*t->e),
		   MREMAP_MAYMOVE);
	if (e == MAP_FAILED) {
		munmap(idx, (size_t)cap * 2 * sizeof(*idx));
		return -ENOMEM;
	}
	t->e = e;
	t->cap = cap;
	t->idx = idx;
	t->idx_cap = cap * 2;
	for (uint32_t i = 0; i < old_idx_cap; i++) {
		uint64_t v = old_idx[i];
		uint32_t j = IDX_HASH(v) & (t->idx_cap - 1);

		if (!v)
			continue;
		while (t->idx[j])
			j = (j + 1) & (t->idx_cap - 1);
		t->idx[j] = v;
	}
	munmap(old_idx, (size_t)old_idx_cap * sizeof(*old_idx));
	return 0;
}

/* flow_table_add() with k's hash h known. */
static int add_hashed(struct flow_table *t, const struct flow_key *k, const struct flow_value *v,
		      bool whole, uint32_t h)
{
	uint64_t *slot = slot_of(t, k, h);
	struct entry *e;

	if (*slot) {
		e = &t->e[IDX_ENTRY(*slot) - 1];
		flow_value_merge(&e->val, v);
		if (whole)
			e->state |= E_WHOLE;
		return 0;
	}
	/* a mapped slot's counts need no room of the bound: its flow holds a map entry already */
	if (whole && t->n >= t->max)
		return -ENOSPC;
	if (t->n == t->cap) {
		if (grow(t))
			return -ENOMEM;
		slot = slot_of(t, k, h);
	}
	e = &t->e[t->n];
	e->key = *k;
	e->val = *v;
	e->state = whole ? E_WHOLE : 0;
	*slot = (uint64_t)h << 32 | ++t->n;
	return 0;
}

int flow_table_add(struct flow_table *t, const struct flow_key *k, const struct flow_value *v,
		   bool whole)
{
	return add_hashed(t, k, v, whole, key_hash(k));
}

/*
 * The hashes of n (at most BATCH) keys, stride bytes apart from k0, into h, with the index slot
 * each probe starts at, and then the entry that slot names when its hash matches, prefetched:
 * the probes that follow find their cache lines loaded (one miss per key, overlapped, instead of
 * one or two in a row). Only a hint: a slot that changes meanwhile is probed as it is.
 */
static void prefetch_keys(const struct flow_table *t, const void *k0, size_t stride, uint32_t n,
			  uint32_t *h)
{
	uint32_t mask = t->idx_cap - 1;

	for (uint32_t i = 0; i < n; i++) {
		h[i] = key_hash((const struct flow_key *)((const char *)k0 + i * stride));
		__builtin_prefetch(&t->idx[h[i] & mask]);
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = t->idx[h[i] & mask];

		if (v && IDX_HASH(v) == h[i])
			__builtin_prefetch(&t->e[IDX_ENTRY(v) - 1]);
	}
}

uint32_t flow_table_add_many(struct flow_table *t, const struct flow_piece *p, uint32_t n,
			     bool whole, int *ret)
{
	uint32_t refused = 0, h[BATCH];

	for (uint32_t base = 0; base < n; base += BATCH) {
		uint32_t m = n - base < BATCH ? n - base : BATCH;

		prefetch_keys(t, &p[base].key, sizeof(*p), m, h);
		for (uint32_t i = 0; i < m; i++) {
			ret[base + i] =
				add_hashed(t, &p[base + i].key, &p[base + i].val, whole, h[i]);
			refused += ret[base + i] != 0;
		}
	}
	return refused;
}

/* flow_table_take() with k's hash h known. */
static int take_hashed(struct flow_table *t, const struct flow_key *k, uint32_t h,
		       struct flow_value *out, bool *whole)
{
	uint64_t *slot = slot_of(t, k, h);
	struct entry *e;

	if (!*slot)
		return -ENOENT;
	e = &t->e[IDX_ENTRY(*slot) - 1];
	if (e->state & E_TAKEN)
		return -ENOENT;
	e->state |= E_TAKEN;
	*out = e->val;
	*whole = e->state & E_WHOLE;
	return 0;
}

int flow_table_take(struct flow_table *t, const struct flow_key *k, struct flow_value *out,
		    bool *whole)
{
	if (!t->n)
		return -ENOENT;
	return take_hashed(t, k, key_hash(k), out, whole);
}

uint32_t flow_table_take_merge(struct flow_table *t, const struct flow_key *k, struct flow_value *v,
			       uint32_t n)
{
	uint32_t merged = 0, h[BATCH];

	if (!t->n)
		return 0;
	for (uint32_t base = 0; base < n; base += BATCH) {
		uint32_t m = n - base < BATCH ? n - base : BATCH;

		prefetch_keys(t, &k[base], sizeof(*k), m, h);
		for (uint32_t i = 0; i < m; i++) {
			struct flow_value piece;
			bool whole;

			if (take_hashed(t, &k[base + i], h[i], &piece, &whole))
				continue;
			flow_value_merge(&v[base + i], &piece);
			merged++;
		}
	}
	return merged;
}

bool flow_table_next(const struct flow_table *t, uint32_t *pos, struct flow_key *k,
		     struct flow_value *v, bool *whole)
{
	for (uint32_t i = *pos; i < t->n; i++) {
		const struct entry *e = &t->e[i];

		if (e->state & E_TAKEN)
			continue;
		*k = e->key;
		*v = e->val;
		*whole = e->state & E_WHOLE;
		*pos = i + 1;
		return true;
	}
	*pos = t->n;
	return false;
}

uint32_t flow_table_count(const struct flow_table *t)
{
	return t->n;
}

void flow_table_reset(struct flow_table *t)
{
	struct flow_table small = *t;

	t->idle = t->n < t->cap / 8 ? t->idle + 1 : 0;
	if (t->cap > TABLE_MIN && t->idle >= SHRINK_AFTER && map_arrays(&small, TABLE_MIN) == 0) {
		unmap_arrays(t);
		*t = small;
		t->idle = 0;
	} else if (t->n) {
		/* the index only (a few bytes a piece): the pieces are written over */
		memset(t->idx, 0, (size_t)t->idx_cap * sizeof(*t->idx));
	}
	t->n = 0;
}

uint64_t flow_table_bytes(const struct flow_table *t)
{
	return (uint64_t)t->cap * sizeof(*t->e) + (uint64_t)t->idx_cap * sizeof(*t->idx);
}
