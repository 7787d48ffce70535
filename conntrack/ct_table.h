/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The NAT translation table: conntrack entries worth remembering, indexed by both tuples, with
 * the times they were alive. Pure: no sockets, no clocks, no threads. ct_netlink.c reads the
 * kernel and ct.c feeds what it reads into this table through ct_table_learn() and friends.
 *
 * A flow seen by a socket names the address the socket used (a Service VIP, say). conntrack knows
 * where the packets really went: a DNAT'd connection has
 *   orig_tuple  client:cport -> VIP:vport
 *   reply_tuple backend:bport -> client:cport   (-> node:nport when the source was masqueraded)
 * The table keeps translated entries (reply_tuple is not the inverse of orig_tuple) and, as
 * negative entries, untranslated ones that share a tuple with a cached entry: a tuple reused by a
 * plain connection after a translated one must not inherit the old translation.
 *
 * Time (now_ns, windows) is always passed in by the caller in one clock that never goes backwards
 * (the agent uses CLOCK_MONOTONIC). Not thread-safe: a table belongs to one event loop.
 */
#ifndef FLOWSCOPE_CT_TABLE_H
#define FLOWSCOPE_CT_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_tuple.h"

struct ct_table;

/* Which of an entry's tuples a lookup matched. */
enum ct_dir {
	CT_DIR_ORIG = 0, /* the input was the orig_tuple: the socket that opened the flow */
	CT_DIR_REPLY = 1, /* the input was the reply_tuple: the socket that accepted it */
};

/* Outcome of a lookup (non-negative); failures are negative errno values. */
enum ct_status {
	CT_OK = 0, /* found; *out is filled (nat may be false: a negative entry) */
	CT_NOT_FOUND = 1, /* no entry of this flow; *out holds the input unchanged, nat = false */
	CT_RATELIMITED = 2, /* ct.h: cache miss and no GET budget left; *out as for CT_NOT_FOUND */
	CT_PENDING = 3, /* ct.h: cache miss, a GET was sent; the answer comes by callback */
};

/*
 * When a flow was seen: its first and last packet, in the table's clock. An entry resolves a
 * flow only if it was alive during the window. {0, UINT64_MAX} (CT_WINDOW_ANY) matches any time.
 */
struct ct_window {
	uint64_t first_ns;
	uint64_t last_ns;
	/*
	 * A time (same clock) by which every packet of the window had been counted, such as the
	 * start of the drain that read the flow; 0: unknown. Only ct_nat_resolve()'s choice of
	 * whether a miss needs a GET reads it; the table ignores it.
	 */
	uint64_t counted_by_ns;
};

#define CT_WINDOW_ANY ((struct ct_window){ 0, UINT64_MAX, 0 })

struct ct_result {
	/*
	 * The flow as it really ran, seen from the same socket as the input: the inverse of the
	 * other direction's tuple. For CT_DIR_ORIG, actual.dst/dst_port is the reply_tuple's source
	 * (the backend a DNAT chose) and actual.src/src_port the reply_tuple's destination (the
	 * address after SNAT/masquerade). For CT_DIR_REPLY, actual.dst/dst_port is the
	 * orig_tuple's source (the real client) and actual.src/src_port the orig_tuple's
	 * destination (the address the client dialled, e.g. a Service VIP). Equal to the input when
	 * nothing was translated.
	 */
	struct ct_tuple actual;
	bool nat; /* reply_tuple != inverse(orig_tuple) */
	bool src_nat; /* actual.src/src_port differ from the input's */
	bool dst_nat; /* actual.dst/dst_port differ from the input's */
	bool destroyed; /* conntrack destroyed the entry; it is kept for the grace period */
	uint8_t dir; /* enum ct_dir */
};

struct ct_table_opts {
	/*
	 * Bound on entries (live, destroyed and negative); default 131072, 128 bytes each plus 16
	 * bytes of hash index. When full, the least recently used live entry goes (second-chance
	 * approximation), and only when none is live the oldest destroyed one.
	 */
	uint32_t max_entries;
	uint64_t grace_ns; /* how long destroyed entries still resolve; default 60 s */
	/*
	 * How much later than a flow's last packet an entry learnt from a NEW event may have been
	 * read and still be that flow's entry; default 1 s. It covers the coarse clock of flow
	 * stamps (one tick early) and the time the event waited in the socket. An entry read later
	 * than that was created after the flow and does not resolve it.
	 */
	uint64_t birth_slack_ns;
};

/* Counters, monotonic since new, and gauges (marked). */
struct ct_table_stats {
	uint64_t hit; /* lookups that found the flow's entry */
	uint64_t miss; /* lookups that found none */
	uint64_t window_rejects; /* entries of a looked-up tuple skipped: not alive in the window */
	uint64_t evictions; /* entries dropped by the max_entries LRU bound */
	uint64_t tuple_evictions; /* old entries dropped by the per-tuple bound (CT_TUPLE_MAX) */
	uint64_t expirations; /* destroyed entries dropped after their grace period */
	uint64_t superseded; /* live entries found dead because a newer one took their tuple */
	uint64_t negatives_stored; /* untranslated entries kept because they shadow a cached one */
	uint32_t entries; /* gauge: entries now, live and destroyed */
	uint32_t destroyed_entries; /* gauge: of which in their grace period */
	uint32_t negative_entries; /* gauge: of which untranslated */
	uint64_t mem_bytes; /* gauge: bytes the table allocated (index and entries in use) */
};

/* At most this many entries share one tuple (older ones of a reused tuple are dropped first). */
#define CT_TUPLE_MAX 4

/* Fill opts with the defaults above (all zero, which ct_table_create also accepts). */
void ct_table_opts_init(struct ct_table_opts *opts);

/*
 * Allocate an empty table. opts may be NULL. Returns 0 and *out, -EINVAL (max_entries of 2^31
 * or more) or -ENOMEM.
 */
int ct_table_create(const struct ct_table_opts *opts, struct ct_table **out);

/* Free the table. NULL is accepted. */
void ct_table_destroy(struct ct_table *table);

/*
 * Learn an entry the kernel reported (dump, NEW event, GET answer). Translated entries are
 * stored; an untranslated one is stored only when it shares a tuple with a cached entry
 * (negative entry) or comes from a GET (so that the same flow costs one GET). A cached live
 * entry that shares a tuple with it is dead in the kernel (conntrack keeps tuples unique among
 * live entries) and is marked destroyed at now_ns. An entry learnt from a NEW event is born at
 * now_ns; from a dump or a GET, at an unknown time before now_ns. A copy of a known entry
 * changes nothing, except that an event or a GET brings a destroyed one back to life (a dump
 * may carry a copy taken before a DESTROY already applied). May evict (counted). Returns 0,
 * -EINVAL (NULL, or tuples of different family/protocol), -EAFNOSUPPORT, -EPROTONOSUPPORT.
 */
int ct_table_learn(struct ct_table *table, const struct ct_tuple *orig_tuple,
		   const struct ct_tuple *reply_tuple, enum ct_source src, uint64_t now_ns);

/*
 * Mark the live entry for orig_tuple destroyed at now_ns (a DESTROY event): it keeps resolving
 * flows seen before now_ns until now_ns + grace_ns. Returns CT_OK, CT_NOT_FOUND or -EINVAL.
 */
int ct_table_forget(struct ct_table *table, const struct ct_tuple *orig_tuple, uint64_t now_ns);

/* A dump starts: entries it reports from now on belong to the new generation. */
void ct_table_sync_begin(struct ct_table *table);

/*
 * A dump ended. When complete (the whole table, no NLM_F_DUMP_INTR), every live entry it did
 * not report ended while nobody listened and is marked destroyed at now_ns.
 */
void ct_table_sync_end(struct ct_table *table, bool complete, uint64_t now_ns);

/* Drop destroyed entries whose grace period is over. */
void ct_table_expire(struct ct_table *table, uint64_t now_ns);

/*
 * Resolve a flow seen in window. tuple is what the local socket saw, local endpoint first:
 * src = local, dst = remote; it is matched against orig_tuples (the socket opened the flow) and
 * reply_tuples (the socket accepted it). Of the entries with that tuple, those not alive during
 * the window are skipped (destroyed before window.first_ns, or learnt from an event more than
 * birth_slack_ns after window.last_ns), and of the rest the newest wins, translated or not;
 * except that one alive only thanks to the slack (read after window.last_ns) wins only when no
 * entry was alive in the window itself: a tuple reused within the slack keeps the first
 * connection's answer for that connection's window.
 * Returns CT_OK or CT_NOT_FOUND with *out always filled, or -EINVAL (NULL argument),
 * -EAFNOSUPPORT, -EPROTONOSUPPORT. Unused bytes (IPv4 bytes[4..15], ICMP dst_port) are
 * ignored. A hit costs ~300 ns on a 200k-entry table (memory-bound).
 */
int ct_table_lookup(struct ct_table *table, const struct ct_tuple *tuple,
		    const struct ct_window *window, uint64_t now_ns, struct ct_result *out);

/* Copy the counters. */
void ct_table_stats(const struct ct_table *table, struct ct_table_stats *out);

#endif /* FLOWSCOPE_CT_TABLE_H */
