// SPDX-License-Identifier: Apache-2.0
/*
 * One interval's flows by tuple, for matching the two local ends of a connection. The tuples sit
 * in a dense array in the order they came (48 bytes each, grown by doubling up to the bound, so
 * memory follows the flows); an open-addressing table of 8-byte slots (linear probing, at most
 * half full) finds them: the entry number and 32 bits of the tuple's hash, so that a probe past
 * another tuple's slot reads no entry (each entry read is a cache miss once the interval's
 * flows outgrow the cache). identity_peers_find_many() prefetches the slots, then the entries,
 * of a batch of lookups before it compares any, so their misses overlap. A reset forgets the entries and clears the table; after an
 * interval that used less than a quarter of the room, both shrink, so one burst of flows does
 * not stay resident.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

#define DEFAULT_MAX_FLOWS 65536
#define MIN_ENTRIES 512

#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMPV6_ 58

/* 0 in a slot: empty; otherwise the hash's upper 32 bits << 32 | the entry's index + 1 */
#define SLOT_EMPTY 0u
#define FIND_BATCH 16

struct peer_entry {
	struct identity_flow_tuple t;
	bool ambiguous;
	uint64_t cgroup_id;
};

struct identity_peers {
	struct peer_entry *entries; /* [0, used) live */
	uint64_t *slots; /* n_slots = 2 * cap */
	uint32_t cap; /* entries allocated; a power of two */
	uint32_t used;
	uint32_t max_flows;
};

/* The tuple's bytes without padding, for hashing and comparing. */
struct key_bytes {
	uint8_t b[38];
};

static void key_of(const struct identity_flow_tuple *t, struct key_bytes *k)
{
	memcpy(k->b, t->src_addr, 16);
	memcpy(k->b + 16, t->dst_addr, 16);
	memcpy(k->b + 32, &t->src_port, 2);
	memcpy(k->b + 34, &t->dst_port, 2);
	k->b[36] = t->ip_version;
	k->b[37] = t->proto;
}

static uint64_t hash_key(const struct key_bytes *k)
{
	uint64_t h = 0x9e3779b97f4a7c15ull, w;

	for (int i = 0; i < 32; i += 8) {
		memcpy(&w, k->b + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, k->b + 32, 6);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

static uint64_t hash_tuple(const struct identity_flow_tuple *t)
{
	struct key_bytes k;

	key_of(t, &k);
	return hash_key(&k);
}

static uint32_t slot_tag(uint64_t s)
{
	return (uint32_t)(s >> 32);
}

static uint32_t slot_entry(uint64_t s)
{
	return (uint32_t)s - 1;
}

static bool same(const struct identity_flow_tuple *a, const struct identity_flow_tuple *b)
{
	return a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       a->ip_version == b->ip_version && a->proto == b->proto &&
	       !memcmp(a->src_addr, b->src_addr, 16) && !memcmp(a->dst_addr, b->dst_addr, 16);
}

/* The slot holding t (whose hash is h), or the empty slot where it goes. */
static uint64_t *probe(const struct identity_peers *p, const struct identity_flow_tuple *t,
		       uint64_t h)
{
	uint32_t mask = 2 * p->cap - 1, i = (uint32_t)h & mask, tag = (uint32_t)(h >> 32);

	for (;;) {
		uint64_t *s = &p->slots[i];

		if (*s == SLOT_EMPTY ||
		    (slot_tag(*s) == tag && same(&p->entries[slot_entry(*s)].t, t)))
			return s;
		i = (i + 1) & mask;
	}
}

static uint64_t slot_of(uint64_t h, uint32_t entry)
{
	return (h >> 32) << 32 | (entry + 1);
}

/* Room for cap entries (a power of two, >= used), the live ones kept and their slots rebuilt. */
static int resize(struct identity_peers *p, uint32_t cap)
{
	uint64_t *slots = calloc(2 * (size_t)cap, sizeof(*slots));
	struct peer_entry *entries;

	if (!slots)
		return -ENOMEM;
	entries = realloc(p->entries, (size_t)cap * sizeof(*entries));
	if (!entries) {
		if (cap > p->cap) {
			free(slots);
			return -ENOMEM;
		}
		entries = p->entries; /* a shrink that failed keeps the larger block */
	}
	p->entries = entries;
	free(p->slots);
	p->slots = slots;
	p->cap = cap;
	for (uint32_t e = 0; e < p->used; e++) {
		uint64_t h = hash_tuple(&p->entries[e].t);

		*probe(p, &p->entries[e].t, h) = slot_of(h, e);
	}
	return 0;
}

int identity_peers_create(uint32_t max_flows, struct identity_peers **out)
{
	struct identity_peers *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->max_flows = max_flows ? max_flows : DEFAULT_MAX_FLOWS;
	if (resize(p, MIN_ENTRIES)) {
		identity_peers_destroy(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

void identity_peers_destroy(struct identity_peers *p)
{
	if (!p)
		return;
	free(p->entries);
	free(p->slots);
	free(p);
}

void identity_peers_reset(struct identity_peers *p)
{
	uint32_t used = p->used;

	p->used = 0;
	if (p->cap > MIN_ENTRIES && used < p->cap / 4) {
		uint32_t cap = MIN_ENTRIES;

		while (cap < 2 * used)
			cap <<= 1;
		/* a failed shrink keeps the larger, still consistent, table */
		if (!resize(p, cap))
			return;
	}
	if (used)
		memset(p->slots, 0, 2 * (size_t)p->cap * sizeof(*p->slots));
}

static int add_hashed(struct identity_peers *p, const struct identity_flow_tuple *t,
		      uint64_t cgroup_id, uint64_t h)
{
	uint64_t *s = probe(p, t, h);
	struct peer_entry *e;
	int err;

	if (*s != SLOT_EMPTY) {
		e = &p->entries[slot_entry(*s)];
		if (e->cgroup_id != cgroup_id)
			e->ambiguous = true;
		return 0;
	}
	if (p->used >= p->max_flows)
		return -ENOSPC;
	if (p->used == p->cap) {
		err = resize(p, 2 * p->cap);
		if (err)
			return err;
		s = probe(p, t, h);
	}
	e = &p->entries[p->used];
	memset(e, 0, sizeof(*e));
	e->t = *t;
	e->cgroup_id = cgroup_id;
	*s = slot_of(h, p->used++);
	return 0;
}

int identity_peers_add(struct identity_peers *p, const struct identity_flow_tuple *t,
		       uint64_t cgroup_id)
{
	return add_hashed(p, t, cgroup_id, hash_tuple(t));
}

int identity_peers_add_many(struct identity_peers *p, const struct identity_flow_tuple *t,
			    const uint64_t *cgroup_id, size_t n, size_t *not_added)
{
	uint64_t h[FIND_BATCH];
	int err = 0, ret;

	*not_added = 0;
	for (size_t base = 0; base < n; base += FIND_BATCH) {
		size_t m = n - base < FIND_BATCH ? n - base : FIND_BATCH;
		uint32_t mask = 2 * p->cap - 1; /* an add below may grow the table: prefetch only */

		for (size_t k = 0; k < m; k++) {
			h[k] = hash_tuple(&t[base + k]);
			__builtin_prefetch(&p->slots[(uint32_t)h[k] & mask]);
		}
		for (size_t k = 0; k < m; k++) {
			ret = add_hashed(p, &t[base + k], cgroup_id[base + k], h[k]);
			if (ret) {
				(*not_added)++;
				if (!err || err == -ENOSPC)
					err = ret; /* -ENOMEM outranks -ENOSPC */
			}
		}
	}
	return err;
}

static void inverse_of(const struct identity_flow_tuple *actual, struct identity_flow_tuple *inv)
{
	*inv = *actual;
	memcpy(inv->src_addr, actual->dst_addr, 16);
	memcpy(inv->dst_addr, actual->src_addr, 16);
	if (actual->proto != IPPROTO_ICMP_ && actual->proto != IPPROTO_ICMPV6_) {
		inv->src_port = actual->dst_port;
		inv->dst_port = actual->src_port;
	}
}

static int status_of(const struct identity_peers *p, const uint64_t *s, uint64_t *peer_cgroup_id)
{
	const struct peer_entry *e;

	if (*s == SLOT_EMPTY)
		return IDENTITY_PEER_NONE;
	e = &p->entries[slot_entry(*s)];
	if (e->ambiguous)
		return IDENTITY_PEER_AMBIGUOUS;
	*peer_cgroup_id = e->cgroup_id;
	return IDENTITY_PEER_FOUND;
}

int identity_peers_find(const struct identity_peers *p, const struct identity_flow_tuple *actual,
			uint64_t *peer_cgroup_id)
{
	struct identity_flow_tuple inv;

	inverse_of(actual, &inv);
	return status_of(p, probe(p, &inv, hash_tuple(&inv)), peer_cgroup_id);
}

void identity_peers_find_many(const struct identity_peers *p,
			      const struct identity_flow_tuple *actual, size_t n, int *status,
			      uint64_t *peer_cgroup_id)
{
	struct identity_flow_tuple inv[FIND_BATCH];
	uint64_t h[FIND_BATCH];
	uint32_t mask = 2 * p->cap - 1;

	for (size_t base = 0; base < n; base += FIND_BATCH) {
		size_t m = n - base < FIND_BATCH ? n - base : FIND_BATCH;

		for (size_t k = 0; k < m; k++) {
			inverse_of(&actual[base + k], &inv[k]);
			h[k] = hash_tuple(&inv[k]);
			__builtin_prefetch(&p->slots[(uint32_t)h[k] & mask]);
		}
		/* the first slot's entry when its tag matches: almost always the one compared */
		for (size_t k = 0; k < m; k++) {
			uint64_t s = p->slots[(uint32_t)h[k] & mask];

			if (s != SLOT_EMPTY && slot_tag(s) == (uint32_t)(h[k] >> 32))
				__builtin_prefetch(&p->entries[slot_entry(s)]);
		}
		for (size_t k = 0; k < m; k++)
			status[base + k] =
				status_of(p, probe(p, &inv[k], h[k]), &peer_cgroup_id[base + k]);
	}
}
