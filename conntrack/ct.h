/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NAT translation cache over the kernel's conntrack table (ctnetlink, through libmnl and
 * libnetfilter_conntrack).
 *
 * A flow seen by a socket names the address the socket used (a Service VIP, say). conntrack knows
 * where the packets really went: a DNAT'd connection has
 *   orig_tuple  client:cport -> VIP:vport
 *   reply_tuple backend:bport -> client:cport   (-> node:nport when the source was masqueraded)
 * The cache keeps the entries whose reply_tuple is not the inverse of the orig_tuple, fed by one
 * dump of the table and then by NEW/DESTROY events, and answers lookups without a netlink round
 * trip. A miss may fall back to a rate-limited point GET.
 *
 * Time is always passed in by the caller as now_ns (CLOCK_MONOTONIC nanoseconds, or any clock that
 * never goes backwards); the cache never reads a clock itself.
 *
 * Every function returns 0 (or a non-negative enum ct_status) on success and a negative errno on
 * failure. Not thread-safe: one cache belongs to one event loop.
 */
#ifndef FLOWSCOPE_CT_H
#define FLOWSCOPE_CT_H

#include <stdbool.h>
#include <stdint.h>

struct ct_cache;

/* An IP address, network order; for AF_INET only bytes[0..3] are used, the rest must be zero. */
struct ct_addr {
	uint8_t bytes[16];
};

/*
 * One direction of a connection, as conntrack's CTA_TUPLE_ORIG / CTA_TUPLE_REPLY describe it.
 * Ports are in host order. ICMP and ICMPv6 entries are identified by the echo identifier
 * (CTA_PROTO_ICMP_ID / CTA_PROTO_ICMPV6_ID), carried in src_port in both directions; dst_port is 0.
 * Type and code are not part of the key (only echo-style queries have conntrack entries keyed by
 * id).
 */
struct ct_tuple {
	struct ct_addr src; /* CTA_IP_V4_SRC / CTA_IP_V6_SRC */
	struct ct_addr dst; /* CTA_IP_V4_DST / CTA_IP_V6_DST */
	uint16_t src_port; /* CTA_PROTO_SRC_PORT; ICMP: CTA_PROTO_ICMP(V6)_ID */
	uint16_t dst_port; /* CTA_PROTO_DST_PORT; ICMP: 0 */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t proto; /* IPPROTO_TCP, _UDP, _SCTP, _ICMP (AF_INET only), _ICMPV6 (AF_INET6 only) */
};

/* Which of an entry's tuples a lookup matched. */
enum ct_dir {
	CT_DIR_ORIG = 0, /* the input was the orig_tuple: the socket that opened the flow */
	CT_DIR_REPLY = 1, /* the input was the reply_tuple: the socket that accepted it */
};

/* Outcome of a lookup (non-negative); failures are negative errno values. */
enum ct_status {
	CT_OK = 0, /* found (in the cache or by a point GET); *out is filled */
	CT_NOT_FOUND = 1, /* no entry; *out holds the input unchanged and nat = false */
	CT_RATELIMITED = 2, /* cache miss and no GET budget left; *out as for CT_NOT_FOUND */
};

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

/* Counters, all monotonic since create. Every lookup increments exactly one of the first five. */
struct ct_stats {
	uint64_t hit; /* answered from the cache */
	uint64_t miss; /* not cached and no GET attempted (policy said no, or fallback disabled) */
	uint64_t fallback_hit; /* not cached, found by a point GET (NFCT_Q_GET) */
	uint64_t fallback_miss; /* not cached, point GET found nothing */
	uint64_t fallback_ratelimited; /* not cached, GET budget exhausted */
	uint64_t fallback_errors; /* point GETs that failed with something else than ENOENT */
	uint64_t evictions; /* entries dropped by the max_entries LRU bound */
	uint64_t expirations; /* destroyed entries dropped after their grace period */
	uint64_t resyncs; /* dumps after ENOBUFS, an interrupted dump or ct_cache_resync() */
	uint64_t refreshes; /* periodic dumps (opts.refresh_ns) */
	uint64_t enobufs; /* ENOBUFS on the event socket: events were lost */
	uint64_t events; /* NEW/DESTROY event messages handled */
	uint64_t parse_errors; /* messages that could not be turned into tuples, ignored */
	uint64_t dumped; /* entries seen by dumps (all entries, NAT'd or not) */
	uint64_t last_sync_ns; /* duration of the last complete dump, in now_ns units */
	uint32_t entries; /* entries cached now, live and destroyed */
	uint32_t destroyed_entries; /* of which in their grace period */
	uint64_t mem_bytes; /* bytes the cache allocated (tables and entries) */
	bool synced; /* the initial dump completed */
	bool dumping; /* a dump is in progress */
};

/*
 * Fallback policy: return true when a cache miss for orig_tuple deserves a point GET (for example
 * when its destination is inside the cluster's Service range). NULL means every miss does.
 */
typedef bool (*ct_translatable_fn)(const struct ct_tuple *tuple, void *arg);

struct ct_cache_opts {
	/*
	 * Network namespace whose conntrack table is read: a netns file such as /proc/1/ns/net or
	 * /var/run/netns/NAME. NULL: the caller's own. The netlink sockets are opened by a
	 * short-lived thread that setns()es into it (CAP_SYS_ADMIN needed); the calling thread never
	 * changes namespace. Sockets stay bound to that namespace for the cache's life.
	 */
	const char *netns_path;
	/*
	 * Bound on cached entries (live and destroyed); default 131072, 128 bytes each plus 16 bytes
	 * of hash index. When full, the least recently used live entry goes (second-chance
	 * approximation), and only when none is live the oldest destroyed one.
	 */
	uint32_t max_entries;
	uint64_t grace_ns; /* how long destroyed entries still resolve; default 60 s */
	/*
	 * Point GETs per second on cache misses (token bucket, burst of one second's worth).
	 * Default 1000, about 1% of a core at ~9 µs per GET. 0 with no_fallback disables them.
	 */
	uint32_t fallback_per_sec;
	bool no_fallback;
	ct_translatable_fn translatable; /* see ct_translatable_fn */
	void *translatable_arg;
	/* Pure cache: no sockets, no dump, no events, no GET. For tests and offline use. */
	bool no_netlink;
	/* Receive buffer of the event socket in bytes; default 8 MiB. Tests set it tiny. */
	uint32_t event_rcvbuf;
	/* Dump datagrams (~100 entries each) read per ct_cache_process() call; default 64. */
	uint32_t dump_budget;
	/*
	 * Re-dump the table this often (default 300 s; UINT64_MAX: never). With
	 * net.netfilter.nf_conntrack_events=2, the default since Linux 6.0, the kernel only
	 * reports DESTROY for entries created while a listener existed: entries older than the
	 * cache never send one. A refresh marks the entries it no longer finds destroyed.
	 */
	uint64_t refresh_ns;
};

/* Fill opts with the defaults above (all zero, which create also accepts). */
void ct_cache_opts_init(struct ct_cache_opts *opts);

/*
 * Create a cache. Unless opts->no_netlink, opens the event socket (subscribed to
 * NFNLGRP_CONNTRACK_NEW and NFNLGRP_CONNTRACK_DESTROY) and starts a dump of the table; the
 * dump is read by ct_cache_process(), so create does not block on a large table. opts may be NULL.
 * Returns 0 and *out, or -EINVAL (bad option), -ENOMEM, -errno of open()/setns() on the netns
 * path (-ENOENT, -EPERM) or of the netlink sockets.
 */
int ct_cache_create(const struct ct_cache_opts *opts, uint64_t now_ns, struct ct_cache **out);

/* Close the sockets and free everything. NULL is accepted. */
void ct_cache_destroy(struct ct_cache *cache);

/*
 * A descriptor for the caller's epoll (EPOLLIN, level-triggered): readable when events or dump
 * data are waiting. Returns the fd, or -ENOTCONN for a no_netlink cache.
 */
int ct_cache_fd(const struct ct_cache *cache);

/*
 * Do pending work without blocking: read queued events, a bounded slice of a running dump
 * (opts->dump_budget datagrams), start the periodic refresh dump when due, and expire destroyed
 * entries older than the grace period. Call when ct_cache_fd() is readable and at least once per
 * export interval. ENOBUFS on the event
 * socket is counted and starts a resync dump; entries the resync no longer finds are treated as
 * destroyed at now_ns. Returns 0, or a negative errno from the sockets (the cache stays usable).
 */
int ct_cache_process(struct ct_cache *cache, uint64_t now_ns);

/*
 * Resolve a flow. tuple is what the local socket saw, local endpoint first: src = local,
 * dst = remote. It is tried as an orig_tuple (the socket opened the flow) and then as a reply_tuple
 * (the socket accepted it). On a cache miss, when fallback is enabled, the translatable policy
 * agrees and the token bucket has budget, a point GET (IPCTNL_MSG_CT_GET on the orig_tuple) asks
 * the kernel; what it finds is cached, translated or not, so the same flow costs one GET.
 * Returns CT_OK, CT_NOT_FOUND or CT_RATELIMITED with *out always filled, or -EINVAL (NULL
 * argument), -EAFNOSUPPORT, -EPROTONOSUPPORT. Unused bytes (IPv4 bytes[4..15], ICMP dst_port)
 * are ignored. A hit costs ~300 ns on a 200k-entry table (memory-bound), a GET ~9 µs.
 */
int ct_cache_lookup(struct ct_cache *cache, const struct ct_tuple *tuple, uint64_t now_ns,
		    struct ct_result *out);

/*
 * Start a dump now (or right after the running one): entries it does not find are treated as
 * destroyed at the time it completes. Counted in resyncs. Returns 0, -ENOTCONN for a no_netlink
 * cache, or -errno from sending the request.
 */
int ct_cache_resync(struct ct_cache *cache, uint64_t now_ns);

/* Copy the counters. */
void ct_cache_stats(const struct ct_cache *cache, struct ct_stats *out);

/*
 * Insert or replace the entry for orig_tuple by hand (what the dump and NEW events do). Entries
 * that are not NAT'd are accepted too and answer nat = false. A destroyed entry is revived.
 * May evict the least recently used entry. Returns 0, -EINVAL, -EAFNOSUPPORT, -EPROTONOSUPPORT.
 */
int ct_cache_insert(struct ct_cache *cache, const struct ct_tuple *orig_tuple,
		    const struct ct_tuple *reply_tuple, uint64_t now_ns);

/*
 * Mark the entry for orig_tuple destroyed at now_ns (what a DESTROY event does): it keeps
 * resolving, with destroyed = true, until now_ns + grace_ns. Returns CT_OK or CT_NOT_FOUND.
 */
int ct_cache_remove(struct ct_cache *cache, const struct ct_tuple *orig_tuple, uint64_t now_ns);

/* inverse(t): src and dst swapped; for ICMP/ICMPv6 the id stays in src_port. */
void ct_tuple_inverse(const struct ct_tuple *t, struct ct_tuple *out);

/* True when reply_tuple is not the inverse of orig_tuple, i.e. conntrack translated the flow. */
bool ct_tuple_is_nat(const struct ct_tuple *orig_tuple, const struct ct_tuple *reply_tuple);

#endif /* FLOWSCOPE_CT_H */
