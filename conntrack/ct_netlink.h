/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctnetlink I/O: the kernel's conntrack table read through three NETLINK_NETFILTER sockets (libmnl,
 * libnetfilter_conntrack to build GET requests), all opened inside the chosen network namespace
 * and all non-blocking:
 *   events: NFNLGRP_CONNTRACK_NEW and NFNLGRP_CONNTRACK_DESTROY;
 *   dump:   IPCTNL_MSG_CT_GET with NLM_F_DUMP, read a slice at a time;
 *   get:    point IPCTNL_MSG_CT_GET requests, sent without waiting and answered later.
 * What it reads is handed to the caller through struct ct_netlink_ops; it keeps no table itself.
 * Time is passed in by the caller (now_ns, one clock that never goes backwards); it never reads a
 * clock. Not thread-safe: one handle belongs to one event loop.
 */
#ifndef FLOWSCOPE_CT_NETLINK_H
#define FLOWSCOPE_CT_NETLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "ct_tuple.h"

struct ct_netlink;

/* Where what the sockets read goes. Every member must be set; arg is passed back unchanged. */
struct ct_netlink_ops {
	/* An entry seen by a dump (CT_FROM_DUMP) or a NEW event (CT_FROM_EVENT). */
	void (*entry)(void *arg, const struct ct_tuple *orig_tuple,
		      const struct ct_tuple *reply_tuple, enum ct_source src, uint64_t now_ns);
	/* A DESTROY event for the entry with this orig_tuple. */
	void (*destroyed)(void *arg, const struct ct_tuple *orig_tuple, uint64_t now_ns);
	/* A dump starts; the entries it reports follow. */
	void (*dump_begin)(void *arg);
	/* A dump ended; complete: it reported the whole table (no error, no NLM_F_DUMP_INTR). */
	void (*dump_end)(void *arg, bool complete, uint64_t now_ns);
};

struct ct_netlink_opts {
	/*
	 * Network namespace whose conntrack table is read: a netns file such as /proc/1/ns/net or
	 * /var/run/netns/NAME. NULL: the caller's own. The sockets are opened by a short-lived
	 * thread that setns()es into it (CAP_SYS_ADMIN needed); the calling thread never changes
	 * namespace. Sockets stay bound to that namespace for the handle's life.
	 */
	const char *netns_path;
	uint32_t event_rcvbuf; /* receive buffer of the event socket in bytes; default 8 MiB */
	uint32_t dump_budget; /* dump datagrams (~100 entries each) per process call; default 64 */
	/*
	 * Re-dump the table this often (default 300 s; UINT64_MAX: never). With
	 * net.netfilter.nf_conntrack_events=2, the default since Linux 6.0, the kernel only
	 * reports DESTROY for entries created while a listener existed: entries older than the
	 * listener never send one. A refresh lets the caller sweep the entries it no longer finds.
	 */
	uint64_t refresh_ns;
	/* Point GETs per second (token bucket, burst of one second's worth); default 1000. */
	uint32_t get_per_sec;
	uint32_t get_max_inflight; /* GETs sent and not yet answered, at most; default 64 */
	/* A GET not answered within this long completes with -ETIMEDOUT; default 250 ms. */
	uint64_t get_timeout_ns;
};

/* Counters, monotonic since new, and gauges (marked). */
struct ct_netlink_stats {
	uint64_t resyncs; /* dumps after ENOBUFS, an interrupted dump or ct_netlink_resync() */
	uint64_t refreshes; /* periodic dumps (opts.refresh_ns) */
	uint64_t enobufs; /* ENOBUFS on the event socket: events were lost */
	uint64_t events; /* NEW/DESTROY event messages handled */
	uint64_t parse_errors; /* messages that could not be turned into tuples, ignored */
	uint64_t dumped; /* entries seen by dumps (all entries, NAT'd or not) */
	uint64_t last_sync_ns; /* duration of the last complete dump, in now_ns units */
	uint64_t get_sent; /* GET requests sent */
	uint64_t get_found; /* completed: found (CT_GET_FOUND) */
	uint64_t get_not_found; /* completed: no such entry (CT_GET_NOT_FOUND) */
	uint64_t get_timeouts; /* completed: no answer by the deadline (-ETIMEDOUT) */
	uint64_t get_errors; /* completed: another error from the kernel or a bad answer */
	uint64_t get_cancelled; /* completed: the handle was freed first (-ECANCELED) */
	uint64_t get_ratelimited; /* refused: token bucket empty (-EAGAIN) */
	uint64_t get_busy; /* refused: get_max_inflight reached (-EBUSY) */
	uint64_t get_stale; /* answers matching no request in flight (late or foreign): dropped */
	uint32_t get_inflight; /* gauge: GETs waiting for their answer */
	bool synced; /* gauge: a complete dump has been read */
	bool events_complete; /* gauge: ct_netlink_events_complete_ns() is not 0 */
	bool dumping; /* gauge: a dump is in progress */
	uint64_t mem_bytes; /* gauge: bytes allocated by the handle */
};

/* Outcome of a GET, passed to its ct_get_done_fn; failures are negative errno values. */
enum ct_get_status {
	CT_GET_FOUND = 0, /* the kernel has the entry: orig_tuple and reply_tuple are set */
	CT_GET_NOT_FOUND = 1, /* ENOENT: no entry has that tuple */
};

/*
 * Completion of a GET, called exactly once per request ct_netlink_get() accepted, from
 * ct_netlink_process(), ct_netlink_expire() or ct_netlink_destroy(). status: CT_GET_FOUND,
 * CT_GET_NOT_FOUND, -ETIMEDOUT (deadline passed), -ECANCELED (handle being freed), -EBADMSG or
 * -EPROTONOSUPPORT (an answer that does not parse), or another -errno from the kernel. The
 * tuples are NULL unless CT_GET_FOUND and valid during the call only. It must not call
 * ct_netlink_destroy().
 */
typedef void (*ct_get_done_fn)(void *arg, int status, const struct ct_tuple *orig_tuple,
			       const struct ct_tuple *reply_tuple, uint64_t now_ns);

/* Fill opts with the defaults above (all zero, which new also accepts). */
void ct_netlink_opts_init(struct ct_netlink_opts *opts);

/*
 * Open the sockets (the event socket first, subscribed, then the dump request sent, so nothing
 * falls between them). The dump is read by ct_netlink_process(): new does not block on a large
 * table. opts may be NULL; ops must be complete. Returns 0 and *out, -EINVAL, -ENOMEM, -errno
 * of open()/setns() on the netns path (-ENOENT, -EPERM) or of the netlink sockets.
 */
int ct_netlink_create(const struct ct_netlink_opts *opts, const struct ct_netlink_ops *ops,
		      void *arg, uint64_t now_ns, struct ct_netlink **out);

/*
 * Complete GETs in flight with -ECANCELED (now_ns of the latest call), close the sockets, free.
 * NULL is accepted.
 */
void ct_netlink_destroy(struct ct_netlink *nl);

/*
 * A descriptor for the caller's epoll (EPOLLIN, level-triggered): readable when events, dump
 * data or GET answers are waiting.
 */
int ct_netlink_fd(const struct ct_netlink *nl);

/*
 * Do pending work without blocking: read queued events, GET answers (each completes its
 * request), a bounded slice of a running dump, start the periodic refresh when due, and then
 * complete the GETs whose deadline has passed (ct_netlink_expire()). Call when the fd is
 * readable and at least once per export interval. ENOBUFS on the event socket is counted and
 * starts a resync dump. Returns 0, or a negative errno from the sockets (the handle stays
 * usable).
 */
int ct_netlink_process(struct ct_netlink *nl, uint64_t now_ns);

/*
 * Complete the GETs whose deadline is at or before now_ns with -ETIMEDOUT, without reading the
 * sockets (for a deadline timer); an answer that arrives for one later is dropped and counted
 * in get_stale.
 */
void ct_netlink_expire(struct ct_netlink *nl, uint64_t now_ns);

/*
 * Read the GET answers already queued, without blocking and without the other sockets or
 * deadlines: each completes its request. The kernel answers a GET while it is being sent, so
 * right after ct_netlink_get() the answer is normally there. Returns 0 or -errno of the socket.
 */
int ct_netlink_read_answers(struct ct_netlink *nl, uint64_t now_ns);

/* The earliest deadline of a GET in flight, or UINT64_MAX when none is. */
uint64_t ct_netlink_next_deadline(const struct ct_netlink *nl);

/*
 * Start a dump now (or right after the running one): the caller's dump_end() then sweeps what it
 * no longer finds. Counted in resyncs. Returns 0 or -errno from sending the request.
 */
int ct_netlink_resync(struct ct_netlink *nl, uint64_t now_ns);

/*
 * Ask the kernel for the entry that has tuple as one of its tuples (the kernel finds either
 * direction): sends IPCTNL_MSG_CT_GET and returns without waiting. The answer is matched to the
 * request by sequence number and delivered through done(arg, ...) later, from
 * ct_netlink_process(); it times out get_timeout_ns after now_ns. Returns 0 (done will be
 * called exactly once), or, with done never called: -EAGAIN (rate limit), -EBUSY
 * (get_max_inflight reached), -EINVAL, -EAFNOSUPPORT, -EPROTONOSUPPORT, -ENOMEM, or -errno of
 * the send.
 */
int ct_netlink_get(struct ct_netlink *nl, const struct ct_tuple *tuple, uint64_t now_ns,
		   ct_get_done_fn done, void *arg);

/*
 * Read the queued events only (no GET answers, no dump, no deadlines: the callbacks called are
 * ops.entry, ops.destroyed and, when ENOBUFS starts a resync, ops.dump_begin). Returns 0 or
 * -errno of the socket.
 */
int ct_netlink_read_events(struct ct_netlink *nl, uint64_t now_ns);

/*
 * Whether the event stream is known whole, and up to when: the now_ns of the latest event read
 * that emptied the socket, provided that a complete dump has ended with no event lost (ENOBUFS)
 * since it began, and that the namespace's net.netfilter.nf_conntrack_events was non-zero when
 * last read (at create, then at most once a second from ct_netlink_process()). Every entry
 * confirmed before that time was then seen, by the dump or by its NEW event. 0 otherwise:
 * before the first sync, after an overrun until the resync dump completes, with events off,
 * or when the sysctl cannot be read.
 */
uint64_t ct_netlink_events_complete_ns(const struct ct_netlink *nl);

/* Copy the counters. */
void ct_netlink_stats(const struct ct_netlink *nl, struct ct_netlink_stats *out);

#endif /* FLOWSCOPE_CT_NETLINK_H */
