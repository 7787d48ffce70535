/* SPDX-License-Identifier: Apache-2.0 */
/*
 * NAT resolution over the kernel's conntrack table: what the agent uses. It wires the pure
 * translation table (ct_table.h) to the netlink side (ct_netlink.h): the dump and NEW/DESTROY
 * events feed the table through ct_netlink_ops callbacks, lookups are answered from the table
 * without a netlink round trip, and a miss may ask the kernel with a point GET that is sent
 * without waiting and answered later, from ct_nat_process(), through a completion callback.
 *
 * Layers, each calling only downwards: ct.c -> ct_table.c, ct_netlink.c -> ct_tuple.c.
 * Lifecycle names: _new/_free for every object (ct_nat, ct_netlink, ct_table), as in agent/.
 *
 * Time is always passed in by the caller as now_ns (CLOCK_MONOTONIC nanoseconds, or any clock that
 * never goes backwards), flow windows in the same clock; nothing here reads a clock.
 * Not thread-safe: one handle belongs to one event loop.
 */
#ifndef FLOWSCOPE_CT_H
#define FLOWSCOPE_CT_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_netlink.h"
#include "ct_table.h"
#include "ct_tuple.h"

struct ct_nat;

/*
 * Fallback policy: return true when a cache miss for tuple deserves a point GET (for example
 * when its destination is inside the cluster's Service range). NULL means every miss does.
 */
typedef bool (*ct_translatable_fn)(const struct ct_tuple *tuple, void *arg);

struct ct_nat_opts {
	struct ct_table_opts table; /* bounds of the table (ct_table.h) */
	struct ct_netlink_opts netlink; /* netns, buffers, refresh, GET rate/in-flight/deadline */
	bool no_fallback; /* never send a GET on a miss */
	/*
	 * Send a GET on every miss, even while the event stream is whole (see ct_nat_resolve());
	 * for tests of the GET path, and for tables where events of translated entries may be
	 * filtered (a CT target's --ctevents).
	 */
	bool get_every_miss;
	ct_translatable_fn translatable; /* see ct_translatable_fn */
	void *translatable_arg;
	/* Table only: no sockets, no dump, no events, no GET. For tests and offline use. */
	bool no_netlink;
};

/*
 * Counters, monotonic since new. Every ct_nat_resolve() that passes its argument checks ends in
 * exactly one of the first eight (a pending one when its answer comes).
 */
struct ct_stats {
	uint64_t hit; /* answered from the table */
	uint64_t miss; /* not in the table and no GET sent (no callback, policy said no, disabled) */
	uint64_t not_translated; /* not in the table while the event stream covered the flow: no GET */
	uint64_t fallback_hit; /* not in the table; a GET found the flow's entry */
	uint64_t fallback_miss; /* not in the table; a GET found none (or not this flow's) */
	uint64_t fallback_ratelimited; /* not in the table; GET rate or in-flight bound reached */
	uint64_t fallback_timeouts; /* not in the table; the GET's deadline passed */
	uint64_t fallback_errors; /* not in the table; the GET failed (send, kernel, cancelled) */
	struct ct_table_stats table; /* the table's own counters (ct_table.h) */
	struct ct_netlink_stats netlink; /* the sockets' counters (ct_netlink.h); zero no_netlink */
	uint64_t mem_bytes; /* table, sockets and GETs in flight */
	/* gauge: the event stream is whole and the table evicted nothing since (ct_nat_resolve()) */
	bool events_complete;
};

/*
 * Completion of a resolution that went to the kernel (CT_PENDING), called exactly once, from
 * ct_nat_process(), ct_nat_expire() or ct_nat_destroy(). status: CT_OK (res filled from the entry
 * the GET found, learnt into the table), CT_NOT_FOUND, or a negative errno (-ETIMEDOUT,
 * -ECANCELED, ...); unless CT_OK, res holds the input tuple and nat = false. res is valid
 * during the call only. It must not call ct_nat_destroy().
 */
typedef void (*ct_resolved_fn)(void *arg, int status, const struct ct_result *res, uint64_t now_ns);

/* Fill opts with the defaults of each part (all zero, which new also accepts). */
void ct_nat_opts_init(struct ct_nat_opts *opts);

/*
 * Create the table and, unless opts->no_netlink, open the sockets and start the initial dump
 * (read by ct_nat_process(): new does not block on a large table). opts may be NULL. Returns 0
 * and *out, or the -errno of ct_table_create() or ct_netlink_create().
 */
int ct_nat_create(const struct ct_nat_opts *opts, uint64_t now_ns, struct ct_nat **out);

/* Complete GETs in flight with -ECANCELED, close the sockets, free everything. NULL is fine. */
void ct_nat_destroy(struct ct_nat *nat);

/* The descriptor for the caller's epoll (EPOLLIN), or -ENOTCONN for a no_netlink handle. */
int ct_nat_fd(const struct ct_nat *nat);

/*
 * Do pending work without blocking (ct_netlink_process(): events, GET answers, a dump slice,
 * GET deadlines), then expire destroyed entries past their grace period. Completions of
 * pending resolutions run from here. Call when ct_nat_fd() is readable, when
 * ct_nat_next_deadline() has passed, and at least once per export interval. Returns 0 or a
 * negative errno from the sockets (the handle stays usable).
 */
int ct_nat_process(struct ct_nat *nat, uint64_t now_ns);

/*
 * Complete pending resolutions whose GET deadline passed with -ETIMEDOUT, reading nothing (for
 * a deadline timer). A late answer is then dropped and counted (netlink.get_stale).
 */
void ct_nat_expire(struct ct_nat *nat, uint64_t now_ns);

/*
 * Complete the pending resolutions whose answers are already queued (ct_netlink_read_answers()),
 * without blocking and without touching events or dumps. For a caller that cannot defer its
 * record: right after CT_PENDING the kernel's answer is normally there already. Returns 0, or
 * -errno of the socket; 0 for a no_netlink handle.
 */
int ct_nat_read_answers(struct ct_nat *nat, uint64_t now_ns);

/* When the earliest pending resolution times out (now_ns units), or UINT64_MAX. */
uint64_t ct_nat_next_deadline(const struct ct_nat *nat);

/*
 * Resolve a flow seen in window (its first and last packet, in now_ns's clock). tuple is what
 * the local socket saw, local endpoint first: src = local, dst = remote (ct_table_lookup()).
 * Returns, with *out filled:
 *   CT_OK           found in the table (nat may be false: the tuple is known untranslated);
 *   CT_NOT_FOUND    not in the table, and no GET: done is NULL, fallback off or not translatable,
 *                   or the event stream covers the flow (below);
 *   CT_RATELIMITED  not in the table, and no GET budget or in-flight slot left;
 *   CT_PENDING      not in the table; a GET was sent without waiting and done(arg, ...) will be
 *                   called exactly once with the answer; *out holds the input meanwhile;
 *   -EINVAL, -EAFNOSUPPORT, -EPROTONOSUPPORT for a bad argument; -ENOMEM or -errno of the send
 *                   (counted in fallback_errors), *out holds the input.
 * A miss sends no GET while the event stream is whole up to after the flow began
 * (ct_netlink_events_complete_ns() at or after window->counted_by_ns, or when that is 0, later
 * than window->first_ns + 20 ms: the coarse flow clock and the clock conversion; an entry's NEW
 * event is queued at its confirmation, before its first packet reaches a cgroup_skb program)
 * and the table has evicted nothing since the complete dump that began that stream: every
 * translated entry alive in the window is then in the table, so the flow is not translated
 * (counted in not_translated). When the stream was last read too early for the
 * window, the queued events are read once (ct_netlink_read_events()) and the table looked up
 * again. Otherwise, and always with opts.get_every_miss, a miss sends a GET as above.
 * Never blocks. A table hit costs ~300 ns on a 200k-entry table; a GET ~9 µs of kernel time.
 */
int ct_nat_resolve(struct ct_nat *nat, const struct ct_tuple *tuple, const struct ct_window *window,
		   uint64_t now_ns, ct_resolved_fn done, void *arg, struct ct_result *out);

/*
 * Start a dump now (or right after the running one): entries it does not find are treated as
 * destroyed at the time it completes. Counted in netlink.resyncs. Returns 0, -ENOTCONN for a
 * no_netlink handle, or -errno from sending the request.
 */
int ct_nat_resync(struct ct_nat *nat, uint64_t now_ns);

/* Copy the counters. */
void ct_nat_stats(const struct ct_nat *nat, struct ct_stats *out);

/* The table itself, for feeding it by hand (tests, offline use); owned by nat. */
struct ct_table *ct_nat_table(struct ct_nat *nat);

#endif /* FLOWSCOPE_CT_H */
