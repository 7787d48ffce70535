// SPDX-License-Identifier: Apache-2.0
/*
 * Reassembly of DNS datagrams captured in pieces (dns_udp.h). Waiting datagrams sit in a small
 * array searched linearly: pieces of one datagram come back to back unless CPUs interleave, so
 * it holds a handful at most, and a search over a few keys beats a hash.
 */
#include <stdlib.h>
#include <string.h>

#include "dns_udp.h"

#define DNS_UDP_MAX_PENDING 4096
#define DNS_UDP_MAX_WIRE 65535

struct pending {
	uint8_t key[DNS_UDP_KEY_MAX];
	size_t key_len;
	uint64_t first_ns;
	uint32_t wire_len;
	uint32_t have; /* bytes in buf, also the offset the next piece must have */
	uint8_t *buf; /* wire_len bytes */
};

struct dns_udp {
	dns_udp_msg_fn fn;
	void *arg;
	size_t max_pending;
	size_t n_pending;
	struct pending *pending; /* max_pending slots, the first n_pending in use */
	struct dns_udp_stats stats;
};

struct dns_udp *dns_udp_create(size_t max_pending, dns_udp_msg_fn fn, void *arg)
{
	struct dns_udp *u;

	if (!fn || max_pending == 0 || max_pending > DNS_UDP_MAX_PENDING)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->pending = calloc(max_pending, sizeof(*u->pending));
	if (!u->pending) {
		free(u);
		return NULL;
	}
	u->fn = fn;
	u->arg = arg;
	u->max_pending = max_pending;
	return u;
}

static void deliver(struct dns_udp *u, const void *key, const uint8_t *msg, size_t len,
		    size_t wire_len)
{
	u->stats.datagrams++;
	if (len < wire_len)
		u->stats.cut++;
	u->fn(key, msg, len, wire_len, u->arg);
}

/* Hands slot i over (cut unless complete) and frees it; the last slot moves into its place. */
static void finish(struct dns_udp *u, size_t i, bool incomplete)
{
	struct pending *p = &u->pending[i];

	if (incomplete)
		u->stats.incomplete++;
	deliver(u, p->key, p->buf, p->have, p->wire_len);
	free(p->buf);
	u->n_pending--;
	if (i != u->n_pending)
		*p = u->pending[u->n_pending];
	memset(&u->pending[u->n_pending], 0, sizeof(*p));
}

void dns_udp_destroy(struct dns_udp *u)
{
	if (!u)
		return;
	while (u->n_pending)
		finish(u, u->n_pending - 1, true);
	free(u->pending);
	free(u);
}

static long find(const struct dns_udp *u, const void *key, size_t key_len)
{
	for (size_t i = 0; i < u->n_pending; i++) {
		const struct pending *p = &u->pending[i];

		if (p->key_len == key_len && memcmp(p->key, key, key_len) == 0)
			return (long)i;
	}
	return -1;
}

static enum dns_status start(struct dns_udp *u, const struct dns_udp_piece *pc, uint64_t now_ns)
{
	struct pending *p;

	if (u->n_pending == u->max_pending) {
		size_t oldest = 0;

		for (size_t i = 1; i < u->n_pending; i++)
			if (u->pending[i].first_ns < u->pending[oldest].first_ns)
				oldest = i;
		finish(u, oldest, true);
	}
	p = &u->pending[u->n_pending];
	p->buf = malloc(pc->wire_len);
	if (!p->buf) {
		u->stats.nomem++;
		return DNS_ERR_NOMEM;
	}
	memcpy(p->key, pc->key, pc->key_len);
	p->key_len = pc->key_len;
	p->first_ns = now_ns;
	p->wire_len = pc->wire_len;
	memcpy(p->buf, pc->data, pc->len);
	p->have = pc->len;
	u->n_pending++;
	return DNS_OK;
}

enum dns_status dns_udp_add(struct dns_udp *u, const struct dns_udp_piece *p, uint64_t now_ns)
{
	long i;

	if (!u || !p || !p->key || p->key_len == 0 || p->key_len > DNS_UDP_KEY_MAX ||
	    (!p->data && p->len) || p->wire_len > DNS_UDP_MAX_WIRE ||
	    (uint64_t)p->offset + p->len > p->wire_len)
		return DNS_ERR_INVAL;
	u->stats.pieces++;
	i = find(u, p->key, p->key_len);
	if (p->offset == 0) {
		/* a datagram starts: one that waits under the same key will get no more pieces */
		if (i >= 0)
			finish(u, (size_t)i, true);
		if (p->last) {
			deliver(u, p->key, p->data, p->len, p->wire_len);
			return DNS_OK;
		}
		return start(u, p, now_ns);
	}
	if (i < 0) {
		u->stats.orphan_pieces++;
		return DNS_ERR_NOT_FOUND;
	}
	/*
	 * A piece in between was lost, or the piece claims another datagram length than the
	 * waiting one (whose buffer holds only its wire_len bytes): what came before it is all
	 * there will be.
	 */
	if (p->offset != u->pending[i].have || p->wire_len != u->pending[i].wire_len ||
	    (uint64_t)p->offset + p->len > u->pending[i].wire_len) {
		finish(u, (size_t)i, true);
		u->stats.orphan_pieces++;
		return DNS_ERR_NOT_FOUND;
	}
	memcpy(u->pending[i].buf + u->pending[i].have, p->data, p->len);
	u->pending[i].have += p->len;
	if (p->last)
		finish(u, (size_t)i, false);
	return DNS_OK;
}

void dns_udp_expire(struct dns_udp *u, uint64_t now_ns, uint64_t max_age_ns)
{
	if (!u)
		return;
	for (size_t i = u->n_pending; i-- > 0;) {
		if (now_ns - u->pending[i].first_ns > max_age_ns)
			finish(u, i, true);
	}
}

size_t dns_udp_pending(const struct dns_udp *u)
{
	return u ? u->n_pending : 0;
}

void dns_udp_get_stats(const struct dns_udp *u, struct dns_udp_stats *out)
{
	if (u && out)
		*out = u->stats;
}
