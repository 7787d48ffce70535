// SPDX-License-Identifier: Apache-2.0
/*
 * IP -> name cache: (cgroup id, address) to the question name of the response that gave the
 * address. Bounded, least recently used evicted first; expiry checked when an entry is read or
 * is the eviction candidate, so no timer is needed.
 */
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_index.h"
#include "dns_wire.h"

/* Longest name text stored; longer (escape-heavy) names are skipped and counted. */
#define NAME_STORE_MAX 256

struct names_key {
	uint64_t cgroup_id;
	uint8_t addr[16];
	uint8_t ip_version;
	uint8_t pad[7];
};

_Static_assert(sizeof(struct names_key) == 32, "names_key has implicit padding");

/*
 * One address of one cgroup. The name it had before the current one is kept too, so a flow that
 * started before the address was re-learnt under another name (shared ingress and CDN addresses)
 * still gets the name it was opened for.
 */
struct names_entry {
	struct names_key key;
	uint64_t expires_ns;
	uint64_t learnt_ns; /* when name became the address's name */
	uint64_t old_learnt_ns; /* old_name's, when has_old */
	uint64_t old_expires_ns;
	bool has_old;
	uint32_t hash;
	uint32_t prev, next; /* LRU list, most recent first; free list through next */
	char name[NAME_STORE_MAX];
	char old_name[NAME_STORE_MAX];
};

struct dns_names {
	struct dns_index index;
	struct names_entry *entries;
	uint32_t max_entries;
	uint32_t free_head;
	uint32_t lru_head, lru_tail;
	uint64_t min_hold_ns;
	struct dns_names_stats stats;
};

static void make_key(struct names_key *k, uint64_t cgroup_id, uint8_t ip_version,
		     const uint8_t *addr)
{
	memset(k, 0, sizeof(*k));
	k->cgroup_id = cgroup_id;
	k->ip_version = ip_version;
	memcpy(k->addr, addr, ip_version == 4 ? 4 : 16);
}

static uint32_t key_hash(const struct names_key *k)
{
	uint64_t w[4], h = 0;

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 4; i++)
		h = dns_index_mix(h, w[i]);
	return (uint32_t)(h ^ h >> 32);
}

struct find_ctx {
	const struct dns_names *c;
	const struct names_key *key;
};

static bool key_eq(const void *ctx, uint32_t e)
{
	const struct find_ctx *f = ctx;

	return !memcmp(&f->c->entries[e].key, f->key, sizeof(*f->key));
}

struct dns_names *dns_names_create(uint32_t max_entries, uint64_t min_hold_ns)
{
	struct dns_names *c;

	if (max_entries == 0 || max_entries > (1u << 24))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->entries = calloc(max_entries, sizeof(*c->entries));
	if (!c->entries || dns_index_init(&c->index, max_entries) < 0)
		goto fail;
	c->max_entries = max_entries;
	c->min_hold_ns = min_hold_ns;
	for (uint32_t i = 0; i < max_entries; i++)
		c->entries[i].next = i + 1 < max_entries ? i + 1 : DNS_INDEX_NONE;
	c->free_head = 0;
	c->lru_head = c->lru_tail = DNS_INDEX_NONE;
	return c;
fail:
	free(c->entries);
	free(c);
	return NULL;
}

void dns_names_destroy(struct dns_names *c)
{
	if (!c)
		return;
	dns_index_fini(&c->index);
	free(c->entries);
	free(c);
}

static void lru_unlink(struct dns_names *c, uint32_t e)
{
	struct names_entry *n = &c->entries[e];

	if (n->prev != DNS_INDEX_NONE)
		c->entries[n->prev].next = n->next;
	else
		c->lru_head = n->next;
	if (n->next != DNS_INDEX_NONE)
		c->entries[n->next].prev = n->prev;
	else
		c->lru_tail = n->prev;
}

static void lru_push_front(struct dns_names *c, uint32_t e)
{
	struct names_entry *n = &c->entries[e];

	n->prev = DNS_INDEX_NONE;
	n->next = c->lru_head;
	if (c->lru_head != DNS_INDEX_NONE)
		c->entries[c->lru_head].prev = e;
	else
		c->lru_tail = e;
	c->lru_head = e;
}

static void remove_entry(struct dns_names *c, uint32_t e)
{
	dns_index_remove(&c->index, c->entries[e].hash, e);
	lru_unlink(c, e);
	c->entries[e].next = c->free_head;
	c->free_head = e;
	c->stats.entries--;
}

static void store(struct dns_names *c, const struct names_key *key, const char *name,
		  size_t name_len, uint64_t expires_ns, uint64_t now_ns)
{
	struct find_ctx f = { c, key };
	uint32_t hash = key_hash(key), e;
	struct names_entry *n;

	e = dns_index_find(&c->index, hash, key_eq, &f);
	if (e != DNS_INDEX_NONE) {
		c->stats.updates++;
		lru_unlink(c, e);
		n = &c->entries[e];
		if (strcmp(n->name, name) != 0) {
			memcpy(n->old_name, n->name, sizeof(n->old_name));
			n->old_learnt_ns = n->learnt_ns;
			n->old_expires_ns = n->expires_ns;
			n->has_old = true;
			n->learnt_ns = now_ns;
		}
	} else {
		if (c->free_head == DNS_INDEX_NONE) {
			uint32_t victim = c->lru_tail;

			if (c->entries[victim].expires_ns <= now_ns)
				c->stats.expirations++;
			else
				c->stats.evictions++;
			remove_entry(c, victim);
		}
		e = c->free_head;
		c->free_head = c->entries[e].next;
		c->entries[e].key = *key;
		c->entries[e].hash = hash;
		c->entries[e].learnt_ns = now_ns;
		c->entries[e].has_old = false;
		dns_index_insert(&c->index, hash, e);
		c->stats.inserts++;
		c->stats.entries++;
	}
	n = &c->entries[e];
	memcpy(n->name, name, name_len + 1);
	n->expires_ns = expires_ns;
	lru_push_front(c, e);
}

/* Is the name at @off one of the @n names at @chain? */
static bool in_chain(const struct dns_msg *r, const uint16_t *chain, size_t n, uint16_t off)
{
	for (size_t i = 0; i < n; i++) {
		if (dns_name_equal(r->wire, r->len, chain[i], off))
			return true;
	}
	return false;
}

size_t dns_names_learn(struct dns_names *c, uint64_t cgroup_id, const struct dns_msg *resp,
		       uint64_t now_ns)
{
	uint16_t chain[DNS_MAX_ANSWERS + 1];
	bool followed[DNS_MAX_ANSWERS] = { false };
	size_t n_chain = 1, learnt = 0, name_len;
	bool grew = true;

	if (!c || !resp || !resp->qr || resp->rcode != 0 || !resp->has_question)
		return 0;
	/*
	 * The names that stand for the question name: itself and every CNAME target reached from
	 * it. Answers may come in any order (RFC 2181 §5 does not fix it), so repeat until no
	 * CNAME adds a name; each pass adds at least one, so at most n_answers passes.
	 */
	chain[0] = resp->qname_off;
	while (grew) {
		grew = false;
		for (size_t i = 0; i < resp->n_answers; i++) {
			const struct dns_rr *rr = &resp->answers[i];

			if (rr->type != DNS_TYPE_CNAME || followed[i] ||
			    !in_chain(resp, chain, n_chain, rr->name_off))
				continue;
			followed[i] = true;
			chain[n_chain++] = rr->data.target_off;
			grew = true;
		}
	}

	name_len = strlen(resp->qname);
	for (size_t i = 0; i < resp->n_answers; i++) {
		const struct dns_rr *rr = &resp->answers[i];
		struct names_key key;
		uint64_t hold;

		if ((rr->type != DNS_TYPE_A && rr->type != DNS_TYPE_AAAA) || rr->rclass != 1 ||
		    !in_chain(resp, chain, n_chain, rr->name_off))
			continue;
		if (name_len >= NAME_STORE_MAX) {
			c->stats.skipped++;
			continue;
		}
		if (rr->type == DNS_TYPE_A)
			make_key(&key, cgroup_id, 4, rr->data.a);
		else
			make_key(&key, cgroup_id, 6, rr->data.aaaa);
		hold = (uint64_t)rr->ttl * 1000000000ull;
		if (hold < c->min_hold_ns)
			hold = c->min_hold_ns;
		store(c, &key, resp->qname, name_len,
		      now_ns > UINT64_MAX - hold ? UINT64_MAX : now_ns + hold, now_ns);
		learnt++;
	}
	return learnt;
}

const char *dns_names_lookup(struct dns_names *c, uint64_t cgroup_id, uint8_t ip_version,
			     const uint8_t addr[16], uint64_t now_ns)
{
	return dns_names_lookup_at(c, cgroup_id, ip_version, addr, now_ns, now_ns);
}

const char *dns_names_lookup_at(struct dns_names *c, uint64_t cgroup_id, uint8_t ip_version,
				const uint8_t addr[16], uint64_t now_ns, uint64_t at_ns)
{
	const struct names_entry *n;
	struct names_key key;
	struct find_ctx f = { c, &key };
	uint32_t e;

	if (!c || !addr || (ip_version != 4 && ip_version != 6))
		return NULL;
	make_key(&key, cgroup_id, ip_version, addr);
	e = dns_index_find(&c->index, key_hash(&key), key_eq, &f);
	if (e == DNS_INDEX_NONE) {
		c->stats.misses++;
		return NULL;
	}
	if (c->entries[e].expires_ns <= now_ns) {
		remove_entry(c, e);
		c->stats.expirations++;
		c->stats.misses++;
		return NULL;
	}
	lru_unlink(c, e);
	lru_push_front(c, e);
	c->stats.hits++;
	n = &c->entries[e];
	/* the name became current after at_ns: the old one, if it was current then */
	if (n->learnt_ns > at_ns && n->has_old && n->old_learnt_ns <= at_ns &&
	    n->old_expires_ns > at_ns)
		return n->old_name;
	return n->name;
}

void dns_names_get_stats(const struct dns_names *c, struct dns_names_stats *out)
{
	if (c && out)
		*out = c->stats;
}
