// SPDX-License-Identifier: Apache-2.0
/*
 * Open addressing with linear probing over a power-of-two array of entries, at most 3/4 full,
 * in its own anonymous mapping (mmap). An entry is in use when its generation is the table's:
 * a reset is a new generation, with no pass over the entries and no page faults in the next
 * interval. A table grown for a burst shrinks back (munmap: the pages go back to the system,
 * not to the allocator's heap) after SHRINK_AFTER resets that each used less than an eighth of
 * it.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "flow_table.h"

#define TABLE_MIN 1024 /* entries of a new or shrunk table */
#define SHRINK_AFTER 8 /* resets with little use before a grown table shrinks */

#define E_WHOLE 0x1
#define E_TAKEN 0x2

struct entry {
	struct flow_key key;
	struct flow_value val;
	uint16_t gen; /* in use when the table's gen */
	uint16_t state; /* E_* */
};

struct flow_table {
	struct entry *e;
	uint32_t cap; /* a power of two */
	uint32_t n; /* keys in it */
	uint32_t max; /* keys allowed */
	uint16_t gen; /* never 0: entries of a fresh mapping are free */
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

static struct entry *map_entries(uint32_t cap)
{
	void *p = mmap(NULL, (size_t)cap * sizeof(struct entry), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

struct flow_table *flow_table_create(uint32_t max_flows)
{
	struct flow_table *t =
		mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (t == MAP_FAILED)
		return NULL;
	t->cap = TABLE_MIN;
	t->max = max_flows;
	t->n = 0;
	t->gen = 1;
	t->idle = 0;
	t->e = map_entries(t->cap);
	if (!t->e) {
		munmap(t, sizeof(*t));
		return NULL;
	}
	return t;
}

void flow_table_destroy(struct flow_table *t)
{
	if (!t)
		return;
	munmap(t->e, (size_t)t->cap * sizeof(struct entry));
	munmap(t, sizeof(*t));
}

/* The entry of k, or the free one where it would go. */
static struct entry *slot_of(struct entry *e, uint32_t cap, uint16_t gen, const struct flow_key *k)
{
	uint32_t i = key_hash(k) & (cap - 1);

	while (e[i].gen == gen && memcmp(&e[i].key, k, sizeof(*k)))
		i = (i + 1) & (cap - 1);
	return &e[i];
}

static int grow(struct flow_table *t)
{
	uint32_t cap = t->cap * 2;
	struct entry *e;

	if (cap < t->cap)
		return -ENOMEM;
	e = map_entries(cap);
	if (!e)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->cap; i++) {
		if (t->e[i].gen == t->gen) {
			struct entry *to = slot_of(e, cap, 1, &t->e[i].key);

			*to = t->e[i];
			to->gen = 1;
		}
	}
	t->gen = 1;
	munmap(t->e, (size_t)t->cap * sizeof(struct entry));
	t->e = e;
	t->cap = cap;
	return 0;
}

int flow_table_add(struct flow_table *t, const struct flow_key *k, const struct flow_value *v,
		   bool whole)
{
	struct entry *e = slot_of(t->e, t->cap, t->gen, k);

	if (e->gen == t->gen) {
		flow_value_merge(&e->val, v);
		if (whole)
			e->state |= E_WHOLE;
		return 0;
	}
	if (t->n >= t->max)
		return -ENOSPC;
	if ((uint64_t)(t->n + 1) * 4 > (uint64_t)t->cap * 3) {
		if (grow(t))
			return -ENOMEM;
		e = slot_of(t->e, t->cap, t->gen, k);
	}
	e->key = *k;
	e->val = *v;
	e->gen = t->gen;
	e->state = whole ? E_WHOLE : 0;
	t->n++;
	return 0;
}

int flow_table_take(struct flow_table *t, const struct flow_key *k, struct flow_value *out,
		    bool *whole)
{
	struct entry *e;

	if (!t->n)
		return -ENOENT;
	e = slot_of(t->e, t->cap, t->gen, k);
	if (e->gen != t->gen || (e->state & E_TAKEN))
		return -ENOENT;
	e->state |= E_TAKEN;
	*out = e->val;
	*whole = e->state & E_WHOLE;
	return 0;
}

bool flow_table_next(const struct flow_table *t, uint32_t *pos, struct flow_key *k,
		     struct flow_value *v, bool *whole)
{
	for (uint32_t i = *pos; t->n && i < t->cap; i++) {
		const struct entry *e = &t->e[i];

		if (e->gen != t->gen || (e->state & E_TAKEN))
			continue;
		*k = e->key;
		*v = e->val;
		*whole = e->state & E_WHOLE;
		*pos = i + 1;
		return true;
	}
	*pos = t->cap;
	return false;
}

uint32_t flow_table_count(const struct flow_table *t)
{
	return t->n;
}

void flow_table_reset(struct flow_table *t)
{
	t->idle = t->n < t->cap / 8 ? t->idle + 1 : 0;
	if (t->cap > TABLE_MIN && t->idle >= SHRINK_AFTER) {
		struct entry *e = map_entries(TABLE_MIN);

		if (e) {
			munmap(t->e, (size_t)t->cap * sizeof(struct entry));
			t->e = e;
			t->cap = TABLE_MIN;
			t->gen = 1;
			t->n = 0;
			t->idle = 0;
			return;
		}
	}
	t->n = 0;
	if (++t->gen == 0) {
		/* wrapped: entries of every older generation are free again */
		memset(t->e, 0, (size_t)t->cap * sizeof(struct entry));
		t->gen = 1;
	}
}

uint64_t flow_table_bytes(const struct flow_table *t)
{
	return (uint64_t)t->cap * sizeof(struct entry);
}
