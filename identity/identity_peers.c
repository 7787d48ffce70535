// SPDX-License-Identifier: Apache-2.0
/*
 * One interval's flows by tuple, for matching the two local ends of a connection. The tuples sit
 * in a dense array in the order they came (48 bytes each, grown by doubling up to the bound, so
 * memory follows the flows); an open-addressing table of 4-byte entry numbers (linear probing,
 * at most half full) finds them. A reset forgets the entries and clears the table; after an
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

/* 0 in a slot: empty; otherwise the entry's index + 1 */
#define SLOT_EMPTY 0u

struct peer_entry {
	struct identity_flow_tuple t;
	bool ambiguous;
	uint64_t cgroup_id;
};

struct identity_peers {
	struct peer_entry *entries; /* [0, used) live */
	uint32_t *slots; /* n_slots = 2 * cap entry numbers */
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

static uint32_t hash_tuple(const struct identity_flow_tuple *t)
{
	struct key_bytes k;

	key_of(t, &k);
	return (uint32_t)hash_key(&k);
}

static bool same(const struct identity_flow_tuple *a, const struct identity_flow_tuple *b)
{
	return a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       a->ip_version == b->ip_version && a->proto == b->proto &&
	       !memcmp(a->src_addr, b->src_addr, 16) && !memcmp(a->dst_addr, b->dst_addr, 16);
}

/* The slot holding t, or the empty slot where it goes. */
static uint32_t *probe(const struct identity_peers *p, const struct identity_flow_tuple *t)
{
	uint32_t mask = 2 * p->cap - 1, i = hash_tuple(t) & mask;

	for (;;) {
		uint32_t *s = &p->slots[i];

		if (*s == SLOT_EMPTY || same(&p->entries[*s - 1].t, t))
			return s;
		i = (i + 1) & mask;
	}
}

/* Room for cap entries (a power of two, >= used), the live ones kept and their slots rebuilt. */
static int resize(struct identity_peers *p, uint32_t cap)
{
	uint32_t *slots = calloc(2 * (size_t)cap, sizeof(*slots));
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
	for (uint32_t e = 0; e < p->used; e++)
		*probe(p, &p->entries[e].t) = e + 1;
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

int identity_peers_add(struct identity_peers *p, const struct identity_flow_tuple *t,
		       uint64_t cgroup_id)
{
	uint32_t *s = probe(p, t);
	struct peer_entry *e;
	int err;

	if (*s != SLOT_EMPTY) {
		e = &p->entries[*s - 1];
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
		s = probe(p, t);
	}
	e = &p->entries[p->used];
	memset(e, 0, sizeof(*e));
	e->t = *t;
	e->cgroup_id = cgroup_id;
	*s = ++p->used;
	return 0;
}

int identity_peers_find(const struct identity_peers *p, const struct identity_flow_tuple *actual,
			uint64_t *peer_cgroup_id)
{
	struct identity_flow_tuple inv = *actual;
	const uint32_t *s;
	const struct peer_entry *e;

	memcpy(inv.src_addr, actual->dst_addr, 16);
	memcpy(inv.dst_addr, actual->src_addr, 16);
	if (actual->proto != IPPROTO_ICMP_ && actual->proto != IPPROTO_ICMPV6_) {
		inv.src_port = actual->dst_port;
		inv.dst_port = actual->src_port;
	}
	s = probe(p, &inv);
	if (*s == SLOT_EMPTY)
		return IDENTITY_PEER_NONE;
	e = &p->entries[*s - 1];
	if (e->ambiguous)
		return IDENTITY_PEER_AMBIGUOUS;
	*peer_cgroup_id = e->cgroup_id;
	return IDENTITY_PEER_FOUND;
}
