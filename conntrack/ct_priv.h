/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by ct_cache.c (the pure cache), ct_tuple.c (tuples and their netlink form) and
 * ct_netlink.c (sockets, dump, events, point GET). Not for callers; the unit tests include it to
 * reach the message parser.
 */
#ifndef FLOWSCOPE_CT_PRIV_H
#define FLOWSCOPE_CT_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "ct.h"

struct nlmsghdr;
struct ct_netlink;

#define CT_NIL UINT32_MAX

enum ct_entry_state {
	CT_ENTRY_FREE = 0,
	CT_ENTRY_LIVE = 1,
	CT_ENTRY_DESTROYED = 2,
};

/*
 * Links are indexes into ct_cache.entries; CT_NIL ends a chain or list. An entry is two cache
 * lines, aligned: what a hash chain walk reads (orig_tuple, hnext, state) is in the first, the
 * reply_tuple a hit needs in the second, which the walk prefetches so both misses overlap.
 */
struct ct_entry {
	struct ct_tuple orig_tuple;
	uint8_t state; /* enum ct_entry_state */
	uint8_t referenced; /* hit since it last passed the LRU tail (second chance) */
	uint8_t nat; /* ct_tuple_is_nat(orig_tuple, reply_tuple), computed once */
	uint32_t hnext[2]; /* hash chains, [CT_DIR_ORIG] keyed by orig_tuple, [CT_DIR_REPLY] by reply */
	uint32_t gen; /* dump generation that last saw it, for the sweep after a resync */
	struct ct_tuple reply_tuple;
	uint32_t prev, next; /* live list (LRU order) or destroyed list (destroy order) */
	uint64_t destroyed_ns;
} __attribute__((aligned(64)));

struct ct_list {
	uint32_t first, last;
};

struct ct_cache {
	struct ct_cache_opts opts;
	struct ct_entry *entries; /* max_entries slots; pages are touched only once used */
	uint32_t *buckets[2]; /* heads, [CT_DIR_ORIG] and [CT_DIR_REPLY] */
	uint32_t nbuckets; /* power of two */
	uint32_t used; /* slots handed out at least once; beyond it all are free */
	uint32_t free_head; /* freed slots, chained through next */
	struct ct_list live; /* first = most recently used */
	struct ct_list destroyed; /* first = destroyed earliest */
	uint64_t seed;
	uint32_t gen;
	double tokens; /* GET budget */
	uint64_t tokens_ns;
	struct ct_stats stats;
	struct ct_netlink *nl; /* NULL for a no_netlink cache */
};

/* ct_tuple.c */
int ct_tuple_check(struct ct_tuple *t); /* validate, zero unused bytes; 0 or -errno */
bool ct_tuple_equal(const struct ct_tuple *a, const struct ct_tuple *b);
/*
 * Parse an IPCTNL_MSG_CT_NEW/DELETE message (event, dump or GET answer) into its two tuples.
 * Returns 0, -EBADMSG when tuples are missing or malformed, -EPROTONOSUPPORT for protocols the
 * cache does not track (GRE, DCCP, ...).
 */
int ct_tuples_from_nlmsg(const struct nlmsghdr *nlh, struct ct_tuple *orig_tuple,
			 struct ct_tuple *reply_tuple);

/* ct_cache.c, used by ct_netlink.c */
enum ct_source {
	CT_FROM_DUMP,
	CT_FROM_EVENT,
};
void ct_cache_apply_new(struct ct_cache *cache, const struct ct_tuple *orig_tuple,
			const struct ct_tuple *reply_tuple, enum ct_source src, uint64_t now_ns);
void ct_cache_sweep(struct ct_cache *cache, uint64_t now_ns); /* after a complete resync dump */

/* ct_netlink.c */
int ct_netlink_open(struct ct_cache *cache, uint64_t now_ns);
void ct_netlink_close(struct ct_netlink *nl);
int ct_netlink_fd(const struct ct_netlink *nl);
int ct_netlink_process(struct ct_cache *cache, uint64_t now_ns);
int ct_netlink_resync(struct ct_cache *cache, uint64_t now_ns);
/* Point GET of orig_tuple: CT_OK with both tuples filled, CT_NOT_FOUND, or -errno. */
int ct_netlink_get(struct ct_cache *cache, const struct ct_tuple *orig_tuple,
		   struct ct_tuple *found_orig, struct ct_tuple *found_reply);
size_t ct_netlink_mem(const struct ct_netlink *nl);

#endif /* FLOWSCOPE_CT_PRIV_H */
