// SPDX-License-Identifier: Apache-2.0
/*
 * Query/response matcher: pending queries keyed by (cgroup id, client, server, protocol, DNS id)
 * in a bounded table, and linked in arrival order so expiry reads only the expired ones.
 */
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_index.h"

/* Laid out without padding so that memcmp() compares keys. */
struct match_key {
	uint64_t cgroup_id;
	uint8_t client_addr[16];
	uint8_t server_addr[16];
	uint16_t client_port;
	uint16_t server_port;
	uint16_t id;
	uint8_t ip_version;
	uint8_t proto;
};

_Static_assert(sizeof(struct match_key) == 48, "match_key has padding");

struct pending {
	struct match_key key;
	uint64_t ts_ns;
	void *user;
	uint32_t hash;
	uint32_t older, newer; /* arrival order list; free list through newer */
};

struct dns_match {
	struct dns_index index;
	struct pending *entries;
	uint32_t max_pending;
	uint32_t free_head; /* entries freed since, linked through newer */
	uint32_t used; /* entries[0..used) have been handed out at least once */
	uint32_t oldest, newest;
	void (*free_user)(void *user);
	struct dns_match_stats stats;
};

static void make_key(struct match_key *k, const struct dns_tuple *t, uint16_t id, bool response)
{
	size_t alen = t->ip_version == 4 ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->cgroup_id = t->cgroup_id;
	k->ip_version = t->ip_version;
	k->proto = t->proto;
	k->id = id;
	/* A response travels server -> client: its source is the query's destination. */
	memcpy(k->client_addr, response ? t->dst_addr : t->src_addr, alen);
	memcpy(k->server_addr, response ? t->src_addr : t->dst_addr, alen);
	k->client_port = response ? t->dst_port : t->src_port;
	k->server_port = response ? t->src_port : t->dst_port;
}

static uint32_t key_hash(const struct match_key *k)
{
	uint64_t w[6], h = 0;

	memcpy(w, k, sizeof(w));
	for (int i = 0; i < 6; i++)
		h = dns_index_mix(h, w[i]);
	return (uint32_t)(h ^ h >> 32);
}

struct find_ctx {
	const struct dns_match *m;
	const struct match_key *key;
};

static bool key_eq(const void *ctx, uint32_t e)
{
	const struct find_ctx *f = ctx;

	return !memcmp(&f->m->entries[e].key, f->key, sizeof(*f->key));
}

struct dns_match *dns_match_create(uint32_t max_pending, void (*free_user)(void *user))
{
	struct dns_match *m;

	if (max_pending == 0 || max_pending > (1u << 24))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->entries = calloc(max_pending, sizeof(*m->entries));
	if (!m->entries || dns_index_init(&m->index, max_pending) < 0)
		goto fail;
	m->max_pending = max_pending;
	m->free_user = free_user;
	/* Handed out in order before the free list is read: untouched entries cost no RSS. */
	m->free_head = DNS_INDEX_NONE;
	m->used = 0;
	m->oldest = m->newest = DNS_INDEX_NONE;
	return m;
fail:
	free(m->entries);
	free(m);
	return NULL;
}

void dns_match_destroy(struct dns_match *m)
{
	if (!m)
		return;
	if (m->free_user) {
		for (uint32_t e = m->oldest; e != DNS_INDEX_NONE; e = m->entries[e].newer)
			m->free_user(m->entries[e].user);
	}
	dns_index_fini(&m->index);
	free(m->entries);
	free(m);
}

static void unlink_entry(struct dns_match *m, uint32_t e)
{
	struct pending *p = &m->entries[e];

	dns_index_remove(&m->index, p->hash, e);
	if (p->older != DNS_INDEX_NONE)
		m->entries[p->older].newer = p->newer;
	else
		m->oldest = p->newer;
	if (p->newer != DNS_INDEX_NONE)
		m->entries[p->newer].older = p->older;
	else
		m->newest = p->older;
	p->user = NULL;
	p->newer = m->free_head;
	m->free_head = e;
	m->stats.pending--;
}

enum dns_status dns_match_query(struct dns_match *m, const struct dns_tuple *query, uint16_t id,
				uint64_t ts_ns, void *user)
{
	struct match_key key;
	struct find_ctx f = { m, &key };
	struct pending *p;
	uint32_t hash, e;

	if (!m || !query)
		return DNS_ERR_INVAL;
	make_key(&key, query, id, false);
	hash = key_hash(&key);
	if (dns_index_find(&m->index, hash, key_eq, &f) != DNS_INDEX_NONE) {
		m->stats.duplicates++;
		return DNS_ERR_DUPLICATE;
	}
	if (m->free_head != DNS_INDEX_NONE) {
		e = m->free_head;
		m->free_head = m->entries[e].newer;
	} else if (m->used < m->max_pending) {
		e = m->used++;
	} else {
		m->stats.dropped_full++;
		return DNS_ERR_FULL;
	}
	p = &m->entries[e];
	p->key = key;
	p->ts_ns = ts_ns;
	p->user = user;
	p->hash = hash;
	p->older = m->newest;
	p->newer = DNS_INDEX_NONE;
	if (m->newest != DNS_INDEX_NONE)
		m->entries[m->newest].newer = e;
	else
		m->oldest = e;
	m->newest = e;
	dns_index_insert(&m->index, hash, e);
	m->stats.queries++;
	m->stats.pending++;
	return DNS_OK;
}

enum dns_status dns_match_response(struct dns_match *m, const struct dns_tuple *response,
				   uint16_t id, uint64_t *query_ts_ns, void **user)
{
	struct match_key key;
	struct find_ctx f = { m, &key };
	uint32_t e;

	if (!m || !response)
		return DNS_ERR_INVAL;
	make_key(&key, response, id, true);
	e = dns_index_find(&m->index, key_hash(&key), key_eq, &f);
	if (e == DNS_INDEX_NONE) {
		m->stats.unmatched++;
		return DNS_ERR_NOT_FOUND;
	}
	if (query_ts_ns)
		*query_ts_ns = m->entries[e].ts_ns;
	if (user)
		*user = m->entries[e].user;
	unlink_entry(m, e);
	m->stats.matched++;
	return DNS_OK;
}

size_t dns_match_expire(struct dns_match *m, uint64_t now_ns, uint64_t timeout_ns,
			dns_match_timeout_fn fn, void *arg)
{
	size_t n = 0;

	if (!m)
		return 0;
	while (m->oldest != DNS_INDEX_NONE) {
		uint32_t e = m->oldest;
		struct pending *p = &m->entries[e];
		struct dns_tuple t;
		uint64_t ts = p->ts_ns;
		void *user = p->user;
		uint16_t id = p->key.id;

		/* Written so that no sum can wrap: ts + timeout <= now. */
		if (ts > now_ns || now_ns - ts < timeout_ns)
			break;
		memset(&t, 0, sizeof(t));
		t.cgroup_id = p->key.cgroup_id;
		t.ip_version = p->key.ip_version;
		t.proto = p->key.proto;
		t.src_port = p->key.client_port;
		t.dst_port = p->key.server_port;
		memcpy(t.src_addr, p->key.client_addr, 16);
		memcpy(t.dst_addr, p->key.server_addr, 16);
		unlink_entry(m, e);
		m->stats.timeouts++;
		n++;
		if (fn)
			fn(&t, id, ts, user, arg);
		else if (m->free_user)
			m->free_user(user);
	}
	return n;
}

void dns_match_get_stats(const struct dns_match *m, struct dns_match_stats *out)
{
	if (m && out)
		*out = m->stats;
}
