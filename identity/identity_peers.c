// SPDX-License-Identifier: Apache-2.0
/*
 * One interval's flows by tuple, for matching the two local ends of a connection. Open
 * addressing with linear probing; a slot is live when its generation is the index's, so a reset
 * is one increment. The table doubles when half full, up to the bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

#define DEFAULT_MAX_FLOWS 65536
#define MIN_SLOTS 1024

#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMPV6_ 58

struct peer_slot {
	struct identity_flow_tuple t;
	uint64_t cgroup_id;
	uint32_t gen; /* live when == peers->gen */
	bool ambiguous;
};

struct identity_peers {
	struct peer_slot *slots;
	uint32_t n_slots; /* a power of two */
	uint32_t used;
	uint32_t max_flows;
	uint32_t gen;
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

static bool same(const struct identity_flow_tuple *a, const struct identity_flow_tuple *b)
{
	return a->src_port == b->src_port && a->dst_port == b->dst_port &&
	       a->ip_version == b->ip_version && a->proto == b->proto &&
	       !memcmp(a->src_addr, b->src_addr, 16) && !memcmp(a->dst_addr, b->dst_addr, 16);
}

/* The slot holding t, or the free slot where it goes. */
static struct peer_slot *probe(const struct identity_peers *p, const struct identity_flow_tuple *t)
{
	struct key_bytes k;
	uint32_t mask = p->n_slots - 1, i;

	key_of(t, &k);
	i = (uint32_t)hash_key(&k) & mask;
	for (;;) {
		struct peer_slot *s = &p->slots[i];

		if (s->gen != p->gen || same(&s->t, t))
			return s;
		i = (i + 1) & mask;
	}
}

static int grow(struct identity_peers *p)
{
	struct peer_slot *old = p->slots;
	uint32_t old_n = p->n_slots, gen = p->gen;

	p->n_slots = old_n ? old_n * 2 : MIN_SLOTS;
	p->slots = calloc(p->n_slots, sizeof(*p->slots));
	if (!p->slots) {
		p->slots = old;
		p->n_slots = old_n;
		return -ENOMEM;
	}
	/* generation 0 marks free slots in a fresh table */
	p->gen = 1;
	for (uint32_t i = 0; i < old_n; i++) {
		if (old[i].gen != gen)
			continue;
		struct peer_slot *s = probe(p, &old[i].t);

		*s = old[i];
		s->gen = p->gen;
	}
	free(old);
	return 0;
}

int identity_peers_create(uint32_t max_flows, struct identity_peers **out)
{
	struct identity_peers *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->max_flows = max_flows ? max_flows : DEFAULT_MAX_FLOWS;
	p->gen = 1;
	if (grow(p)) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

void identity_peers_destroy(struct identity_peers *p)
{
	if (!p)
		return;
	free(p->slots);
	free(p);
}

void identity_peers_reset(struct identity_peers *p)
{
	p->used = 0;
	if (++p->gen == 0) {
		/* wrapped: old slots could look live again */
		memset(p->slots, 0, (size_t)p->n_slots * sizeof(*p->slots));
		p->gen = 1;
	}
}

int identity_peers_add(struct identity_peers *p, const struct identity_flow_tuple *t,
		       uint64_t cgroup_id)
{
	struct peer_slot *s = probe(p, t);
	int err;

	if (s->gen == p->gen) {
		if (s->cgroup_id != cgroup_id)
			s->ambiguous = true;
		return 0;
	}
	if (p->used >= p->max_flows)
		return -ENOSPC;
	if ((p->used + 1) * 2 > p->n_slots) {
		err = grow(p);
		if (err)
			return err;
		s = probe(p, t);
	}
	s->t = *t;
	s->cgroup_id = cgroup_id;
	s->ambiguous = false;
	s->gen = p->gen;
	p->used++;
	return 0;
}

int identity_peers_find(const struct identity_peers *p, const struct identity_flow_tuple *actual,
			uint64_t *peer_cgroup_id)
{
	struct identity_flow_tuple inv = *actual;
	const struct peer_slot *s;

	memcpy(inv.src_addr, actual->dst_addr, 16);
	memcpy(inv.dst_addr, actual->src_addr, 16);
	if (actual->proto != IPPROTO_ICMP_ && actual->proto != IPPROTO_ICMPV6_) {
		inv.src_port = actual->dst_port;
		inv.dst_port = actual->src_port;
	}
	s = probe(p, &inv);
	if (s->gen != p->gen)
		return IDENTITY_PEER_NONE;
	if (s->ambiguous)
		return IDENTITY_PEER_AMBIGUOUS;
	*peer_cgroup_id = s->cgroup_id;
	return IDENTITY_PEER_FOUND;
}
