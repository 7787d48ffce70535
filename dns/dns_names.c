// SPDX-License-Identifier: Apache-2.0
/*
 * IP -> name cache: (cgroup id, address) to the question name of the response that gave the
 * address. Bounded, least recently used evicted first; expiry checked when an entry is read or
 * is the eviction candidate, so no timer is needed.
 *
 * Names are stored in uncompressed wire form and compared label by label (ASCII case-folded),
 * never as text: text is made only for the caller of a lookup, by the same renderer as every
 * other name, so a name can never stand for another one whose text it imitates.
 */
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_index.h"
#include "dns_wire.h"

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
	uint8_t name_len, old_len; /* wire octets of name, old_name */
	uint8_t name[DNS_NAME_WIRE_MAX]; /* wire form, as in the question */
	uint8_t old_name[DNS_NAME_WIRE_MAX];
};

/*
 * Scratch for the CNAME walk of one response, grown to the largest answer section seen: every
 * distinct name of the answers (owners, CNAME targets, the qname) gets an id, found through a
 * small open-addressing table keyed by dns_name_hash() and checked with dns_name_equal().
 */
struct learn_scratch {
	uint32_t cap_answers; /* arrays below sized for this many answers */
	uint32_t *slot; /* name id or DNS_INDEX_NONE; slots_for(cap_answers) of them */
	uint32_t mask; /* slots in use for the current response - 1 */
	uint16_t *name_off; /* per name id: an offset where the name occurs */
	uint64_t *name_hash;
	uint32_t *first_cname; /* per name id: first CNAME answer owned by it, or NONE */
	uint8_t *reached; /* per name id: the question name or reached from it */
	uint32_t *queue; /* name ids to follow */
	uint32_t *owner; /* per answer: id of its owner name */
	uint32_t *next_cname; /* per answer: next CNAME answer with the same owner */
};

struct dns_names {
	struct dns_index index;
	struct names_entry *entries;
	uint32_t max_entries;
	uint32_t free_head; /* entries freed since, linked through next */
	uint32_t used; /* entries[0..used) have been handed out at least once */
	uint32_t lru_head, lru_tail;
	uint64_t min_hold_ns;
	struct dns_names_stats stats;
	struct learn_scratch scratch;
	char text[DNS_NAME_TEXT_MAX]; /* the name last returned by a lookup */
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
	/*
	 * Entries are handed out in order (used) before the free list is read, so the calloc'd
	 * array is only touched as the cache fills: 64k entries are 37 MiB of address space, and a
	 * node that resolves a few hundred names keeps a few hundred KiB of them resident.
	 */
	c->free_head = DNS_INDEX_NONE;
	c->used = 0;
	c->lru_head = c->lru_tail = DNS_INDEX_NONE;
	return c;
fail:
	free(c->entries);
	free(c);
	return NULL;
}

static void scratch_free(struct learn_scratch *s)
{
	free(s->slot);
	free(s->name_off);
	free(s->name_hash);
	free(s->first_cname);
	free(s->reached);
	free(s->queue);
	free(s->owner);
	free(s->next_cname);
	memset(s, 0, sizeof(*s));
}

/* Hash slots for the names of @n answers (at most 2 per answer plus the qname), half full. */
static uint32_t slots_for(uint32_t n)
{
	uint32_t slots = 2;

	while (slots < 2 * (2 * n + 1))
		slots <<= 1;
	return slots;
}

/* Room for the walk of @n answers (names: at most 2 per answer plus the qname). */
static int scratch_reserve(struct learn_scratch *s, uint32_t n)
{
	uint32_t names, slots;

	if (n <= s->cap_answers && s->slot)
		return 0;
	scratch_free(s);
	if (n < 32)
		n = 32;
	names = 2 * n + 1;
	slots = slots_for(n);
	s->slot = malloc(sizeof(*s->slot) * slots);
	s->name_off = malloc(sizeof(*s->name_off) * names);
	s->name_hash = malloc(sizeof(*s->name_hash) * names);
	s->first_cname = malloc(sizeof(*s->first_cname) * names);
	s->reached = malloc(sizeof(*s->reached) * names);
	s->queue = malloc(sizeof(*s->queue) * names);
	s->owner = malloc(sizeof(*s->owner) * n);
	s->next_cname = malloc(sizeof(*s->next_cname) * n);
	if (!s->slot || !s->name_off || !s->name_hash || !s->first_cname || !s->reached ||
	    !s->queue || !s->owner || !s->next_cname) {
		scratch_free(s);
		return -1;
	}
	s->cap_answers = n;
	return 0;
}

void dns_names_destroy(struct dns_names *c)
{
	if (!c)
		return;
	scratch_free(&c->scratch);
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

static inline uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * Two names in uncompressed wire form, ASCII case-folded (RFC 4343). Length octets are at most
 * 63, below 'A', so folding the whole form folds only label octets.
 */
static bool wire_equal(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	if (a_len != b_len)
		return false;
	for (size_t i = 0; i < a_len; i++) {
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	}
	return true;
}

static void store(struct dns_names *c, const struct names_key *key, const uint8_t *name,
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
		if (!wire_equal(n->name, n->name_len, name, name_len)) {
			memcpy(n->old_name, n->name, n->name_len);
			n->old_len = n->name_len;
			n->old_learnt_ns = n->learnt_ns;
			n->old_expires_ns = n->expires_ns;
			n->has_old = true;
			n->learnt_ns = now_ns;
		}
	} else {
		if (c->free_head == DNS_INDEX_NONE && c->used == c->max_entries) {
			uint32_t victim = c->lru_tail;

			if (c->entries[victim].expires_ns <= now_ns)
				c->stats.expirations++;
			else
				c->stats.evictions++;
			remove_entry(c, victim);
		}
		if (c->free_head != DNS_INDEX_NONE) {
			e = c->free_head;
			c->free_head = c->entries[e].next;
		} else {
			e = c->used++;
		}
		c->entries[e].key = *key;
		c->entries[e].hash = hash;
		c->entries[e].learnt_ns = now_ns;
		c->entries[e].has_old = false;
		dns_index_insert(&c->index, hash, e);
		c->stats.inserts++;
		c->stats.entries++;
	}
	n = &c->entries[e];
	memcpy(n->name, name, name_len);
	n->name_len = (uint8_t)name_len;
	n->expires_ns = expires_ns;
	lru_push_front(c, e);
}

/* Id of the name at @off, a new one if no equal name has one yet; *n_names grows then. */
static uint32_t name_id(struct learn_scratch *s, const struct dns_msg *r, uint16_t off,
			uint32_t *n_names)
{
	uint64_t h = dns_name_hash(r->wire, r->len, off);
	uint32_t i, id;

	for (i = (uint32_t)h & s->mask;; i = (i + 1) & s->mask) {
		id = s->slot[i];
		if (id == DNS_INDEX_NONE)
			break;
		if (s->name_hash[id] == h && dns_name_equal(r->wire, r->len, s->name_off[id], off))
			return id;
	}
	id = (*n_names)++;
	s->slot[i] = id;
	s->name_off[id] = off;
	s->name_hash[id] = h;
	s->first_cname[id] = DNS_INDEX_NONE;
	s->reached[id] = 0;
	return id;
}

size_t dns_names_learn(struct dns_names *c, uint64_t cgroup_id, const struct dns_msg *resp,
		       uint64_t now_ns)
{
	struct learn_scratch *s;
	uint8_t qname[DNS_NAME_WIRE_MAX];
	uint32_t n_names = 0, head = 0, tail = 0, qid;
	size_t learnt = 0, qname_len;

	if (!c || !resp || !resp->qr || resp->rcode != 0 || !resp->has_question)
		return 0;
	s = &c->scratch;
	if (scratch_reserve(s, resp->n_answers) < 0) {
		c->stats.learn_nomem++;
		return 0;
	}
	/* only the slots this response needs: a small one after a large one stays cheap */
	s->mask = slots_for(resp->n_answers) - 1;
	memset(s->slot, 0xff, sizeof(*s->slot) * ((size_t)s->mask + 1));

	/* Name ids of the qname and every owner; CNAME answers listed under their owner's id. */
	qid = name_id(s, resp, resp->qname_off, &n_names);
	for (uint32_t i = resp->n_answers; i-- > 0;) {
		const struct dns_rr *rr = &resp->answers[i];

		s->owner[i] = name_id(s, resp, rr->name_off, &n_names);
		if (rr->type == DNS_TYPE_CNAME) {
			s->next_cname[i] = s->first_cname[s->owner[i]];
			s->first_cname[s->owner[i]] = i;
		}
	}

	/*
	 * The names that stand for the question name: itself and every CNAME target reached from
	 * it, in any order of the answers (RFC 2181 §5 does not fix it). Each name is followed
	 * once, so the walk is linear in the answers.
	 */
	s->reached[qid] = 1;
	s->queue[tail++] = qid;
	while (head < tail) {
		uint32_t id = s->queue[head++];

		for (uint32_t a = s->first_cname[id]; a != DNS_INDEX_NONE; a = s->next_cname[a]) {
			uint32_t t = name_id(s, resp, resp->answers[a].data.target_off, &n_names);

			if (!s->reached[t]) {
				s->reached[t] = 1;
				s->queue[tail++] = t;
			}
		}
	}

	qname_len = dns_name_flatten(resp->wire, resp->len, resp->qname_off, qname);
	for (size_t i = 0; i < resp->n_answers; i++) {
		const struct dns_rr *rr = &resp->answers[i];
		struct names_key key;
		uint64_t hold;

		if ((rr->type != DNS_TYPE_A && rr->type != DNS_TYPE_AAAA) || rr->rclass != 1 ||
		    !s->reached[s->owner[i]])
			continue;
		if (rr->type == DNS_TYPE_A)
			make_key(&key, cgroup_id, 4, rr->data.a);
		else
			make_key(&key, cgroup_id, 6, rr->data.aaaa);
		hold = (uint64_t)rr->ttl * 1000000000ull;
		if (hold < c->min_hold_ns)
			hold = c->min_hold_ns;
		store(c, &key, qname, qname_len,
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
	enum dns_status status;
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
		status = dns_name_text(n->old_name, n->old_len, 0, c->text, sizeof(c->text));
	else
		status = dns_name_text(n->name, n->name_len, 0, c->text, sizeof(c->text));
	/* stored names were valid wire names, and DNS_NAME_TEXT_MAX holds any of them */
	return status == DNS_OK ? c->text : NULL;
}

void dns_names_get_stats(const struct dns_names *c, struct dns_names_stats *out)
{
	if (c && out)
		*out = c->stats;
}
