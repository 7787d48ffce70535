// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-cgroup flow accounting at cgroup_skb ingress/egress, and the socket owner record written at
 * cgroup/sock_create. Every skb program returns 1: flowscope observes, it never filters.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "flow.h"
#include "cgroup_v1.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "stats.bpf.h"

#define AF_INET 2
/*
 * Cut-down builds for measuring what a new flow costs (docs/benchmarks.md, "New flows in the
 * flow cache"); 0 in every real build. 1: a new flow returns right after the flow map's lookup
 * missed (no entry, the cache slot is taken all the same); 2: after the owner lookup; 3: after
 * the flow_meta lookup (1-3: the flow map's path, account(): since cache-only slots, UDP and
 * ICMP flows, a TCP flow's miss in a full set, nested runs); 4: a cache miss returns at once,
 * before the flow map. Counts are then wrong by design: for bench builds only, never committed
 * with another value.
 */
#ifndef FLOW_CUT
#define FLOW_CUT 0
#endif
#define AF_INET6 10

/*
 * The agent's own tgid as sock_create sees it (init PID namespace): its packets (to Kafka, its
 * DNS lookups) are not accounted. Set by the agent after load, from a socket of its own: getpid()
 * would be the tgid in the agent's PID namespace, which differs in a container.
 */
__u32 self_tgid = 0;
/*
 * FLOW_CGROUP_MODE_V2: flows are keyed by the packet's socket's v2 cgroup. FLOW_CGROUP_MODE_V1
 * (hybrid and legacy hosts): by the v1 memory cgroup of the socket's creator, recorded at
 * cgroup/sock_create; sockets without that record (older than the agent) fall back to v2.
 */
const volatile __u8 cgroup_mode = FLOW_CGROUP_MODE_V2;

struct flow_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLOW_DEFAULT_MAX_FLOWS);
	/* Memory follows the number of live flows instead of --max-flows up front. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
};

/*
 * Three flow maps in rotation, flows[0..2], one in use: flows[flow_parity]. At the end of each
 * interval the agent switches flow_parity to the next one (empty, installed by the previous
 * drain) and waits for running programs (an update of `flows`, like any map-in-map update,
 * waits for them with synchronize_rcu; that update installs the empty map for the drain after):
 * the map and the flow cache slots of the old parity are then drained and folded with no
 * writer racing them. A program reads flow_parity once per packet, so the map and the cache
 * slots it uses always belong together.
 */
struct flow_map flows_a SEC(".maps");
struct flow_map flows_b SEC(".maps");
struct flow_map flows_c SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, FLOW_MAPS);
	__type(key, __u32);
	__array(values, struct flow_map);
} flows SEC(".maps") = {
	.values = { &flows_a, &flows_b, &flows_c },
};

/* Which of flows[0..2] (and of the flow_cache entries) is in use; set by the agent. */
__u32 flow_parity = 0;

/*
 * The per-CPU flow cache (flow.h), one entry per parity: what makes a packet of a busy flow
 * cheap. The hash map lookup of a 48-byte key and the atomics on an entry shared between CPUs
 * cost 60-150 ns per packet in real traffic (cache misses; docs/benchmarks.md), a hit in the
 * CPU's own slots a fraction of it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOW_MAPS);
	__type(key, __u32);
	__type(value, struct flow_cache);
} flow_cache SEC(".maps");

/*
 * Whole flows of cache-only slots whose connection ended (struct flow_done), for the agent,
 * which reads them from its loop every FLOW_DONE_POLL_MS and at each drain; sized by the agent.
 * A record wakes the agent only when the ring is more than half full (flow_done_wake_bytes):
 * the agent must not wake per record.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FLOW_DONE_RINGBUF_BYTES);
} flow_done SEC(".maps");

/* Unread bytes in flow_done beyond which a record wakes the agent: half the ring's size. */
const volatile __u64 flow_done_wake_bytes = FLOW_DONE_RINGBUF_BYTES / 2;
/*
 * true: a new flow's first packet that takes a cache slot keeps the flow in the slot alone
 * (cache-only, flow.h), without a flow map entry. false: it creates the entry, the slot only
 * adds counts to it (the behaviour before cache-only slots; for tests of the map's own paths).
 */
const volatile bool cache_only_flows = true;

/*
 * What a flow's earlier intervals learnt (initiator, owner), for its later intervals, which start
 * with an empty flow map. The programs only look it up, once per flow and interval, on the
 * new-entry path (and mend an entry in place: a SYN's verdict, an owner learnt). The agent writes
 * it at each drain, for the flows still open at the interval's end that it did not hold yet
 * (agent/flow_collector.c, feed_meta): a flow that opens and closes within one interval never
 * costs an insert, nor the LRU's list lock, on the packet path. An LRU map: forgetting a long-idle
 * flow only costs a later interval its initiator. Sized to --max-flows by the agent.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FLOW_DEFAULT_MAX_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct flow_meta);
} flow_meta SEC(".maps");

/*
 * Socket owners, by socket cookie: written at cgroup/sock_create, dropped at cgroup/sock_release
 * (close()) or, for TCP, when the kernel destroys the socket. An open-addressed table in an array:
 * a socket takes the first free of its FLOW_OWNER_PROBES slots (flow.h FLOW_OWNER_SLOT,
 * claimed with a compare-and-swap of the cookie), and a lookup compares at most as many
 * cookies. No lock, no allocation and no RCU free per socket: a hash map update cost ~430 ns
 * per sock_create in the connect/close loop (docs/benchmarks.md), socket storage ~1.1 us.
 * The kernel hands cookies out in per-CPU batches of 4,096, consecutive within a batch, so the
 * sockets of one CPU only collide once the table has wrapped around them; with more than 32
 * CPUs making sockets at once, batches 32 apart share their first slot and take the other
 * probes. A socket that finds its slots taken has no owner (FLOW_STAT_OWNER_MAP_FULL).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FLOW_SOCK_OWNERS);
	__type(key, __u32);
	__type(value, struct sock_owner_slot);
} sock_owner SEC(".maps");

/*
 * Accepted connections: sock_create never sees an accepted socket, which takes its listener's
 * owner from the packet that creates it, through this per-CPU handoff (struct flow_handoff);
 * nothing is kept between a SYN and its handshake's end. In tcp_v4_rcv()/tcp_v6_rcv() the
 * final ACK of a handshake passes tcp_filter() on the listener (the cgroup ingress run, with
 * skb->sk the listener: the one that owns the child, after reuseport_migrate_sock() too, on the
 * request socket path and the syncookie path alike) and then, within the same call,
 * tcp_check_req() (or cookie_v4/v6_check()) makes the child with syn_recv_sock() and
 * tcp_child_process() moves it from SYN_RECV to ESTABLISHED: flow_sock_state, the child's
 * addresses set by then. So the ingress run of a packet to a listener (a final ACK; a SYN, for
 * Fast Open below) leaves the listener's owner here with the connection (flow_conn), and the
 * ESTABLISHED transition takes it only for the very connection it names: a handoff that no child
 * took (an ACK the listener refused) never names another connection's owner. A Fast Open child
 * is made at the SYN (tcp_try_fastopen()) and becomes ESTABLISHED at the final ACK, which goes
 * to the child, not the listener: its SYN-ACK, which leaves within the SYN's tcp_conn_request()
 * with skb->sk the child (SYN_RECV, a full socket), takes the SYN's handoff (handshake()).
 * No other write comes between a write and its take: only ingress runs write, and the ingress
 * path runs with bottom halves off on this CPU from the run to the state change (under
 * PREEMPT_RT a per-CPU local lock, which also keeps the task on this CPU), the Fast Open
 * SYN-ACK's egress run within it too. A take in task context (a Fast Open child's final ACK
 * processed from its backlog at release_sock()) may come between, or be interrupted by a
 * softirq's write: it takes only a handoff naming its own connection, and the busy flag, taken
 * with a compare-and-swap as the flow cache's, keeps either run off a half-written handoff (a
 * write that finds it busy records nothing: counted in FLOW_STAT_OWNER_MAP_FULL).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_handoff);
} handoff SEC(".maps");

/* Per-CPU counters, enum flow_stat; every way a packet or DNS event goes uncounted has one. */
STATS_MAP(stats, FLOW_STAT_MAX);

#define DNS_CAPTURE_STATS stats
#include "dns_capture.bpf.h"

/* The owner record of the socket with this cookie, or NULL. */
static __always_inline struct sock_owner *owner_find(__u64 cookie)
{
	struct sock_owner_slot *slot;
	__u32 idx;

	if (!cookie)
		return NULL;
	for (__u32 i = 0; i < FLOW_OWNER_PROBES; i++) {
		idx = FLOW_OWNER_SLOT(cookie, i);
		slot = bpf_map_lookup_elem(&sock_owner, &idx);
		if (slot && slot->cookie == cookie)
			return &slot->owner;
	}
	return NULL;
}

/* Records owner for the socket with this cookie; counted when its slots are all taken. */
static __always_inline void owner_insert(__u64 cookie, const struct sock_owner *owner)
{
	struct sock_owner_slot *slot;
	__u32 idx;

	for (__u32 i = 0; i < FLOW_OWNER_PROBES; i++) {
		idx = FLOW_OWNER_SLOT(cookie, i);
		slot = bpf_map_lookup_elem(&sock_owner, &idx);
		/*
		 * Claimed first, the cookie published after the owner: an accepted socket's packets
		 * on another CPU may look it up while flow_sock_state writes it, and must find it
		 * whole or not at all (the exchange is a full barrier).
		 */
		if (slot &&
		    __sync_val_compare_and_swap(&slot->cookie, 0, FLOW_OWNER_CLAIMED) == 0) {
			__builtin_memcpy(&slot->owner, owner, sizeof(slot->owner));
			__sync_lock_test_and_set(&slot->cookie, cookie);
			return;
		}
	}
	stats_add(&stats, FLOW_STAT_OWNER_MAP_FULL, 1);
}

/* Frees the slot of the socket with this cookie, if it has one. */
static __always_inline void owner_delete(__u64 cookie)
{
	struct sock_owner_slot *slot;
	__u32 idx;

	if (!cookie)
		return;
	for (__u32 i = 0; i < FLOW_OWNER_PROBES; i++) {
		idx = FLOW_OWNER_SLOT(cookie, i);
		slot = bpf_map_lookup_elem(&sock_owner, &idx);
		if (slot && slot->cookie == cookie) {
			/* nobody else claims a slot that is not free */
			slot->cookie = 0;
			return;
		}
	}
}

/*
 * The owner of the packet's socket: the record sock_create wrote for it (for an accepted socket,
 * the one it took from the handoff); NULL for sockets older than the agent, request and
 * time-wait sockets.
 */
static __always_inline struct sock_owner *owner_of(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return NULL;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return NULL;
	return owner_find(bpf_get_socket_cookie(skb));
}

/* Whether two connections are the same: six 8-byte words (no padding left unset). */
static __always_inline bool conn_equal(const struct flow_conn *a, const struct flow_conn *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	_Static_assert(sizeof(struct flow_conn) == 6 * sizeof(__u64), "flow_conn is six words");
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) |
		 (x[5] ^ y[5]));
}

/*
 * The socket with this cookie, the accepted socket of conn, takes the listener's owner from
 * this CPU's handoff if the handoff names conn (and the socket has no owner yet).
 */
static __always_inline void handoff_take(const struct flow_conn *conn, __u64 cookie)
{
	__u32 zero = 0;
	struct flow_handoff *h = bpf_map_lookup_elem(&handoff, &zero);

	/* full read before the exchange only to spare it: under busy it is read again */
	if (!h || !h->full || !cookie)
		return;
	if (__sync_val_compare_and_swap(&h->busy, 0, 1) != 0)
		return; /* the interrupted run's write counted the owner it lost, if any */
	if (h->full && conn_equal(&h->conn, conn)) {
		h->full = 0;
		if (!owner_find(cookie))
			owner_insert(cookie, &h->owner);
	}
	barrier();
	h->busy = 0;
}

/* The connection of a packet's flow key (its local side's addresses and ports). */
static __always_inline void conn_of_key(struct flow_conn *conn, const struct flow_key *key,
					__u64 cgroup_id)
{
	conn->cgroup_id = cgroup_id;
	__builtin_memcpy(conn->laddr, key->laddr, sizeof(conn->laddr));
	__builtin_memcpy(conn->raddr, key->raddr, sizeof(conn->raddr));
	conn->lport = key->lport;
	conn->rport = key->rport;
	conn->pad = 0;
}

/*
 * Whether a TCP packet may matter to the handshake (handshake() below): a SYN-ACK leaving, a
 * SYN or a segment with ACK arriving (no RST). The others need no call.
 */
static __always_inline bool handshake_packet(const struct pkt_info *pi, bool egress)
{
	__u32 f = pi->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST);

	if (egress)
		return f == (TCP_FLAG_SYN | TCP_FLAG_ACK);
	return f == TCP_FLAG_SYN || f == TCP_FLAG_ACK;
}

/*
 * What a packet of a TCP connection does for the handshake (handoff above); key is complete.
 * A packet to a listener (a final ACK, or a SYN) leaves the listener's owner and the connection
 * in the handoff (nothing to take when the listener has none); a Fast Open child's SYN-ACK takes
 * it. Returns true for a listener's SYN or SYN-ACK, or a SYN-ACK leaving with no full socket
 * (its cache slot is marked
 * FLOW_SLOT_HANDSHAKE, so that the final ACK, a hit of that slot, comes here too). Not inlined:
 * its frame is its own, not the programs' (512-byte stack with dns_capture()'s).
 */
static __noinline bool handshake(struct __sk_buff *skb, const struct flow_key *key,
				 const struct pkt_info *pi, bool egress)
{
	__u32 flags = pi->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST);
	struct bpf_sock *sk = skb->sk;
	struct sock_owner *owner;
	struct flow_handoff *h;
	struct flow_conn conn;
	__u32 zero = 0;

	if (!sk)
		return false;
	sk = bpf_sk_fullsock(sk);
	/* a SYN-ACK of a request socket (the kernel shows its listener here, but if not) */
	if (!sk)
		return egress && flags == (TCP_FLAG_SYN | TCP_FLAG_ACK);
	if (sk->state != BPF_TCP_LISTEN) {
		/* only a Fast Open child is a full socket in SYN_RECV with a SYN-ACK to send */
		if (egress && sk->state == BPF_TCP_SYN_RECV &&
		    flags == (TCP_FLAG_SYN | TCP_FLAG_ACK)) {
			conn_of_key(&conn, key, bpf_skb_cgroup_id(skb));
			handoff_take(&conn, bpf_get_socket_cookie(skb));
		}
		return false;
	}
	if (egress || (flags != TCP_FLAG_SYN && flags != TCP_FLAG_ACK))
		return egress && flags == (TCP_FLAG_SYN | TCP_FLAG_ACK);
	conn_of_key(&conn, key, bpf_skb_cgroup_id(skb));
	owner = owner_find(bpf_get_socket_cookie(skb));
	h = bpf_map_lookup_elem(&handoff, &zero);
	if (!h)
		return flags == TCP_FLAG_SYN;
	if (__sync_val_compare_and_swap(&h->busy, 0, 1) != 0) {
		if (owner)
			stats_add(&stats, FLOW_STAT_OWNER_MAP_FULL, 1);
		return flags == TCP_FLAG_SYN;
	}
	__builtin_memcpy(&h->conn, &conn, sizeof(conn));
	if (owner)
		__builtin_memcpy(&h->owner, owner, sizeof(h->owner));
	h->full = !!owner;
	barrier();
	h->busy = 0;
	return flags == TCP_FLAG_SYN;
}

/* The cgroup a packet is accounted to: see cgroup_mode. */
static __always_inline void set_cgroup(struct __sk_buff *skb, struct flow_key *key,
				       const struct pkt_info *pi, bool egress)
{
	if (cgroup_mode == FLOW_CGROUP_MODE_V1) {
		struct sock_owner *owner = owner_of(skb);

		if (owner && owner->v1_cgroup_id) {
			key->cgroup_id = owner->v1_cgroup_id;
			key->cgroup_version = 1;
			return;
		}
	}
	key->cgroup_id = bpf_skb_cgroup_id(skb);
	key->cgroup_version = 2;
}

/* The packet's socket's owner into pid and comm (both left as they are without one). */
static __always_inline void fill_owner(struct __sk_buff *skb, __u32 *pid, char *comm)
{
	struct sock_owner *owner = owner_of(skb);

	if (!owner)
		return;
	*pid = owner->tgid;
	__builtin_memcpy(comm, owner->comm, FLOW_COMM_LEN);
}

static __always_inline __u32 initiator_flags(const struct pkt_info *pi, bool egress)
{
	if (pi->proto == IPPROTO_TCP) {
		if (!(pi->tcp_flags & TCP_FLAG_SYN))
			return 0; /* joined mid-connection: only a SYN tells */
		/* SYN from us, or SYN-ACK to us, means we opened it */
		if (!!(pi->tcp_flags & TCP_FLAG_ACK) != egress)
			return FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN;
		return FLOW_F_INITIATOR_DST | FLOW_F_FROM_SYN;
	}
	return egress ? FLOW_F_INITIATOR_SRC : FLOW_F_INITIATOR_DST;
}

/*
 * A flow new to this interval (a new flow map entry, or a cache-only slot): carry the initiator
 * and owner over from an earlier interval, unless this packet is a SYN; a known owner wins over
 * none. Only a lookup: FLOW_F_REMEMBERED tells the agent's drain that the memory holds the flow
 * (it writes it for the flows without). flags, pid and comm are the new flow's (flow_value's or
 * the slot's).
 */
static __always_inline void remember(const struct flow_key *key, __u32 *flags, __u32 *pid,
				     char *comm)
{
	struct flow_meta *meta = bpf_map_lookup_elem(&flow_meta, key);

	if (!meta)
		return;
	/* a SYN now is a new connection on the same 5-tuple: its verdict replaces the memory */
	if ((meta->flags & (FLOW_F_INITIATOR_SRC | FLOW_F_INITIATOR_DST)) &&
	    !(*flags & FLOW_F_FROM_SYN))
		*flags = meta->flags;
	else
		meta->flags = *flags;
	if (!*pid && meta->pid) {
		*pid = meta->pid;
		__builtin_memcpy(comm, meta->comm, FLOW_COMM_LEN);
	} else if (*pid && !meta->pid) {
		meta->pid = *pid;
		__builtin_memcpy(meta->comm, comm, FLOW_COMM_LEN);
	}
	*flags |= FLOW_F_REMEMBERED;
}

/* Adds a packet to a flow map entry (shared between CPUs: atomics). */
static __always_inline void count_in(struct flow_value *val, bool egress, __u64 bytes,
				     __u64 packets, __u64 now, __u32 tcp_flags)
{
	if (egress) {
		__sync_fetch_and_add(&val->tx_bytes, bytes);
		__sync_fetch_and_add(&val->tx_packets, packets);
	} else {
		__sync_fetch_and_add(&val->rx_bytes, bytes);
		__sync_fetch_and_add(&val->rx_packets, packets);
	}
	if (now > val->last_ns)
		val->last_ns = now;
	if ((val->tcp_flags & tcp_flags) != tcp_flags)
		__sync_fetch_and_or(&val->tcp_flags, tcp_flags);
}

/*
 * Counts a packet in the flow map flows[parity], creating the flow's entry if it has none.
 * Returns true when the entry exists afterwards (the packet is counted in it), false when the
 * packet is not accounted (the agent's own, or the map is full: counted in stats).
 */
static __always_inline bool account(struct __sk_buff *skb, const struct flow_key *key,
				    const struct pkt_info *pi, __u32 parity, bool egress,
				    __u64 bytes, __u64 packets, __u64 now)
{
	struct flow_value *val;
	void *map;
	int ret;

	map = bpf_map_lookup_elem(&flows, &parity);
	if (!map)
		return false;
	val = bpf_map_lookup_elem(map, key);
	if (!val) {
		struct flow_value init = {};

		if (FLOW_CUT == 1)
			return true;
		fill_owner(skb, &init.pid, init.comm);
		if (FLOW_CUT == 2)
			return true;
		if (init.pid && init.pid == self_tgid) {
			stats_add(&stats, FLOW_STAT_SELF, 1);
			return false;
		}
		init.first_ns = now;
		init.last_ns = now;
		init.flags = initiator_flags(pi, egress);
		remember(key, &init.flags, &init.pid, init.comm);
		if (FLOW_CUT == 3)
			return true;
		init.tcp_flags = pi->tcp_flags;
		if (egress) {
			init.tx_bytes = bytes;
			init.tx_packets = packets;
		} else {
			init.rx_bytes = bytes;
			init.rx_packets = packets;
		}
		ret = map_try_insert(map, key, &init, (void **)&val);
		if (ret == 0) {
			/* counted once per flow created, not per packet of a flow the full map refused */
			if (!init.pid)
				stats_add(&stats, FLOW_STAT_NO_OWNER, 1);
			return true;
		}
		/* -EEXIST: another CPU created it first, and val is that entry */
		if (ret != -EEXIST) {
			stats_add(&stats, FLOW_STAT_MAP_FULL, 1);
			stats_add(&stats, FLOW_STAT_MAP_FULL_BYTES, bytes);
			return false;
		}
	}

	count_in(val, egress, bytes, packets, now, pi->tcp_flags);
	return true;
}

/*
 * Adds a mapped cache slot's counts to its flow's entry in flows[parity] and empties the slot.
 * The entry exists (the slot was taken when it did, and entries leave the map only once it is
 * no longer in use); if not, the packets are counted as orphans.
 */
static __always_inline void fold_slot(struct flow_cache_slot *slot, __u32 parity)
{
	struct flow_value *val;
	void *map;

	map = bpf_map_lookup_elem(&flows, &parity);
	val = map ? bpf_map_lookup_elem(map, &slot->key) : NULL;
	if (!val) {
		stats_add(&stats, FLOW_STAT_CACHE_ORPHAN, slot->tx_packets + slot->rx_packets);
	} else {
		if (slot->tx_packets) {
			__sync_fetch_and_add(&val->tx_bytes, slot->tx_bytes);
			__sync_fetch_and_add(&val->tx_packets, slot->tx_packets);
		}
		if (slot->rx_packets) {
			__sync_fetch_and_add(&val->rx_bytes, slot->rx_bytes);
			__sync_fetch_and_add(&val->rx_packets, slot->rx_packets);
		}
		if (slot->last_ns > val->last_ns)
			val->last_ns = slot->last_ns;
		if ((val->tcp_flags & slot->tcp_flags) != slot->tcp_flags)
			__sync_fetch_and_or(&val->tcp_flags, slot->tcp_flags);
	}
	slot->tx_bytes = slot->tx_packets = 0;
	slot->rx_bytes = slot->rx_packets = 0;
}

/* A cache-only slot's whole flow as a flow map entry's value (or a flow_done record's). */
static __always_inline void slot_value(const struct flow_cache_slot *slot, struct flow_value *v)
{
	v->first_ns = slot->first_ns;
	v->last_ns = slot->last_ns;
	v->tx_bytes = slot->tx_bytes;
	v->tx_packets = slot->tx_packets;
	v->rx_bytes = slot->rx_bytes;
	v->rx_packets = slot->rx_packets;
	v->tcp_flags = slot->tcp_flags;
	v->pid = slot->pid;
	v->flags = slot->flags & ~FLOW_F_MAPPED;
	__builtin_memcpy(v->comm, slot->comm, sizeof(v->comm));
}

/*
 * A cache-only slot's flow into flows[parity] (another flow takes the slot over, or the flow
 * ended and found the flow_done ring full): inserted as a new entry, or added to the entry
 * another CPU made meanwhile (-EEXIST; its initiator yields to the slot's when only the slot's
 * comes from a SYN, its owner to the slot's when it has none); the map full, the slot's packets
 * are counted in FLOW_STAT_MAP_FULL. Not inlined: its flow_value lives in its own frame, not in
 * the programs' (512-byte stack).
 */
static __noinline void slot_spill(struct flow_cache_slot *slot, __u32 parity)
{
	struct flow_value v, *val;
	void *map;
	int ret;

	slot_value(slot, &v);
	map = bpf_map_lookup_elem(&flows, &parity);
	ret = map ? map_try_insert(map, &slot->key, &v, (void **)&val) : -ENOENT;
	if (ret == 0)
		return;
	if (ret == -EEXIST && val) {
		if (v.tx_packets) {
			__sync_fetch_and_add(&val->tx_bytes, v.tx_bytes);
			__sync_fetch_and_add(&val->tx_packets, v.tx_packets);
		}
		if (v.rx_packets) {
			__sync_fetch_and_add(&val->rx_bytes, v.rx_bytes);
			__sync_fetch_and_add(&val->rx_packets, v.rx_packets);
		}
		if (v.last_ns > val->last_ns)
			val->last_ns = v.last_ns;
		if (v.first_ns < val->first_ns)
			val->first_ns = v.first_ns;
		if ((val->tcp_flags & v.tcp_flags) != v.tcp_flags)
			__sync_fetch_and_or(&val->tcp_flags, v.tcp_flags);
		if ((v.flags & FLOW_F_FROM_SYN) && !(val->flags & FLOW_F_FROM_SYN))
			val->flags = v.flags | (val->flags & FLOW_F_REMEMBERED);
		if (!val->pid && v.pid) {
			__builtin_memcpy(val->comm, v.comm, sizeof(val->comm));
			val->pid = v.pid;
		}
		return;
	}
	stats_add(&stats, FLOW_STAT_MAP_FULL, v.tx_packets + v.rx_packets);
	stats_add(&stats, FLOW_STAT_MAP_FULL_BYTES, v.tx_bytes + v.rx_bytes);
}

/* A spilled or ended slot holds nothing for the agent's fold any more. */
static __always_inline void slot_empty(struct flow_cache_slot *slot)
{
	slot->tx_bytes = slot->tx_packets = 0;
	slot->rx_bytes = slot->rx_packets = 0;
}

/*
 * A cache-only slot's flow has ended: written whole to the flow_done ring for the agent (the
 * ring full: into the flow map, counted in FLOW_STAT_DONE_RING_FULL). The slot is then free.
 */
static __always_inline void slot_done(struct flow_cache_slot *slot, __u32 parity)
{
	struct flow_done *rec = bpf_ringbuf_reserve(&flow_done, sizeof(*rec), 0);
	__u64 avail;

	if (!rec) {
		stats_add(&stats, FLOW_STAT_DONE_RING_FULL, 1);
		slot_spill(slot, parity);
		slot_empty(slot);
		return;
	}
	__builtin_memcpy(&rec->key, &slot->key, sizeof(rec->key));
	slot_value(slot, &rec->val);
	rec->parity = parity;
	rec->pad = 0;
	/* no wakeup per record: the agent reads the ring on a timer, unless it fills up */
	avail = bpf_ringbuf_query(&flow_done, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(rec,
			   avail > flow_done_wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	slot_empty(slot);
}

/* A slot that adds counts to its flow's map entry (FLOW_F_MAPPED), empty. */
static __always_inline void slot_init_mapped(struct flow_cache_slot *slot,
					     const struct flow_key *key)
{
	__builtin_memcpy(&slot->key, key, sizeof(*key));
	slot->tx_bytes = slot->tx_packets = 0;
	slot->rx_bytes = slot->rx_packets = 0;
	slot->last_ns = 0;
	slot->tcp_flags = 0;
	slot->flags = FLOW_F_MAPPED;
}

/*
 * A flow's first packet on this CPU takes `slot` (free, or its victim just spilled or folded).
 * With cache_only_flows, a TCP flow's slot then holds the whole flow, unless the flow map has
 * an entry for it (another CPU's: packets of one flow on several CPUs are normal with RSS),
 * which the packet is counted in and the slot adds to (mapped). A SYN without ACK opens a new
 * connection: it skips the map lookup (the pieces of it on other CPUs, if any, the agent
 * merges). Other flows (and all without cache_only_flows) make or find their map entry and the
 * slot adds to it. Returns true when the slot holds the flow afterwards (the caller sets its
 * tag), false when the packet is not accounted (the agent's own, or the flow map full: counted
 * in stats). marks is the caller's.
 */
static __always_inline bool slot_take(struct __sk_buff *skb, const struct flow_key *key,
				      const struct pkt_info *pi, __u32 parity, bool egress,
				      __u64 bytes, __u64 packets, struct flow_cache_slot *slot)
{
	/* a fresh read, not the tick's: a new flow's first_ns is what the clock says at its first
	 * packet (within the tick, as before the cache) */
	__u64 now = bpf_ktime_get_coarse_ns();
	struct flow_value *val;
	__u32 flags;
	void *map;

	/*
	 * TCP only: a UDP or ICMP flow's initiator is the direction of its first packet, which
	 * the map entry that packet creates keeps (the reply, on another CPU, finds it); two
	 * cache-only pieces on two CPUs could not tell which came first (their first_ns share a
	 * tick of the coarse clock). A TCP flow's verdict is its SYN's, which wins in any order.
	 */
	if (!cache_only_flows || pi->proto != IPPROTO_TCP) {
		if (!account(skb, key, pi, parity, egress, bytes, packets, now))
			return false;
		slot_init_mapped(slot, key);
		return true;
	}
	if ((pi->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN) {
		map = bpf_map_lookup_elem(&flows, &parity);
		val = map ? bpf_map_lookup_elem(map, key) : NULL;
		if (val) {
			count_in(val, egress, bytes, packets, now, pi->tcp_flags);
			slot_init_mapped(slot, key);
			return true;
		}
	}
	slot->pid = 0;
	__builtin_memset(slot->comm, 0, sizeof(slot->comm));
	fill_owner(skb, &slot->pid, slot->comm);
	if (slot->pid && slot->pid == self_tgid) {
		stats_add(&stats, FLOW_STAT_SELF, 1);
		return false;
	}
	__builtin_memcpy(&slot->key, key, sizeof(*key));
	slot->first_ns = now;
	slot->last_ns = now;
	flags = initiator_flags(pi, egress);
	remember(key, &flags, &slot->pid, slot->comm);
	slot->flags = (__u16)flags;
	slot->tcp_flags = pi->tcp_flags;
	slot->tx_bytes = slot->tx_packets = 0;
	slot->rx_bytes = slot->rx_packets = 0;
	if (egress) {
		slot->tx_bytes = bytes;
		slot->tx_packets = packets;
	} else {
		slot->rx_bytes = bytes;
		slot->rx_packets = packets;
	}
	/* once per flow piece: a flow that a CPU holds in a slot, or whose first packets came
	 * after its connection ended, counts again */
	if (!slot->pid)
		stats_add(&stats, FLOW_STAT_NO_OWNER, 1);
	return true;
}

/* Whether two flow keys are equal: six 8-byte words (the key has no padding left unset). */
static __always_inline bool key_equal(const struct flow_key *a, const struct flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	_Static_assert(sizeof(struct flow_key) == 6 * sizeof(__u64), "flow_key is six words");
	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) |
		 (x[5] ^ y[5]));
}

/* A cheap hash of a flow key, for the cache slot index and the takeover candidate. */
static __always_inline __u32 key_hash(const struct flow_key *k)
{
	const __u64 *x = (const __u64 *)k;
	__u64 h = x[0] ^ x[1] ^ x[2] ^ x[3] ^ x[4] ^ x[5];

	h ^= h >> 32;
	h *= 0x9e3779b97f4a7c15ull;
	return (__u32)(h >> 32);
}

static __always_inline void handle_skb(struct __sk_buff *skb, bool egress)
{
	struct flow_key key = {};
	struct pkt_info pi = {};
	struct flow_cache *cache;
	struct flow_cache_slot *slot;
	__u32 segs, parity, h, tag, set, first, i, way, free_way;
	__u64 now, jiffies, bytes, packets;
	int ret;

	/*
	 * Read once per packet, so that the map and the cache slots a run uses belong together.
	 * A run nested in another on this CPU (softirq over task context) finds the slots busy
	 * and uses the map only: cache NULL. Taken with a compare-and-swap, not a load and a
	 * store: on a preemptible kernel (preempt=full, PREEMPT_RT) a run in task context can be
	 * preempted between the two, with migration off, by another task whose run then shares
	 * the slots.
	 */
	parity = *(volatile __u32 *)&flow_parity;
	if (parity >= FLOW_MAPS)
		parity = 0; /* never: the agent writes 0..FLOW_MAPS-1 */
	cache = bpf_map_lookup_elem(&flow_cache, &parity);
	if (cache && __sync_val_compare_and_swap(&cache->busy, 0, 1) == 0) {
		/* FLOW_STAT_PACKETS' share in the cache's first line, not a second per-CPU map's */
		cache->packets++;
	} else {
		cache = NULL;
		stats_add(&stats, FLOW_STAT_PACKETS, 1);
	}

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		ret = parse_ipv4(skb, key.laddr, key.raddr, &pi, egress);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		ret = parse_ipv6(skb, key.laddr, key.raddr, &pi, egress);
	} else {
		stats_add(&stats, FLOW_STAT_NON_IP, 1);
		goto out;
	}
	if (ret < 0) {
		stats_add(&stats, FLOW_STAT_MALFORMED, 1);
		goto out;
	}
	if (ret > 0) {
		stats_add(&stats, FLOW_STAT_OTHER_PROTO, 1);
		goto out;
	}
	if (pi.fragment)
		stats_add(&stats, FLOW_STAT_FRAGMENTS, 1);

	set_cgroup(skb, &key, &pi, egress);
	key.ip_version = pi.ip_version;
	key.proto = pi.proto;
	if (egress) {
		key.lport = pi.sport;
		key.rport = pi.dport;
	} else {
		key.lport = pi.dport;
		key.rport = pi.sport;
	}
	if (pi.proto == IPPROTO_ICMP || pi.proto == IPPROTO_ICMPV6)
		key.rport = 0;
	else if (!pi.fragment && dns_port(pi.sport, pi.dport) && dns_has_payload(skb, &pi)) {
		struct sock_owner *owner = owner_of(skb);

		/* the agent's own lookups are not its users' */
		if (!owner || owner->tgid != self_tgid)
			dns_capture(skb, &key, &pi, owner, egress);
	}

	/* One GSO/GRO skb stands for gso_segs wire packets, each with its own headers. */
	segs = skb->gso_segs;
	bytes = skb->len;
	packets = 1;
	if (segs > 1) {
		packets = segs;
		bytes += (__u64)(segs - 1) * (pi.l3_len + pi.l4_len);
	}

	if (!cache) {
		if (pi.proto == IPPROTO_TCP && handshake_packet(&pi, egress))
			handshake(skb, &key, &pi, egress);
		account(skb, &key, &pi, parity, egress, bytes, packets, bpf_ktime_get_coarse_ns());
		return;
	}
	h = key_hash(&key);
	tag = h | 1;
	set = (h >> 1) & (FLOW_CACHE_SETS - 1);
	first = set * FLOW_CACHE_WAYS;
	/*
	 * CLOCK_MONOTONIC_COARSE, the flows' clock, advances once per tick, when jiffies does:
	 * read it when the tick has changed since this CPU last read it. A plain load of jiffies
	 * is cheaper than the clock's seqcount read, which cost ~25 ns per packet in real traffic
	 * (docs/benchmarks.md).
	 */
	jiffies = bpf_jiffies64();
	if (jiffies != cache->jiffies) {
		cache->jiffies = jiffies;
		cache->now_ns = bpf_ktime_get_coarse_ns();
	}
	now = cache->now_ns;

	way = FLOW_CACHE_WAYS;
	free_way = FLOW_CACHE_WAYS;
#pragma unroll
	for (i = 0; i < FLOW_CACHE_WAYS; i++) {
		__u32 t = cache->tag[(first + i) & (FLOW_CACHE_SLOTS - 1)];

		if (t == tag &&
		    key_equal(&cache->slot[(first + i) & (FLOW_CACHE_SLOTS - 1)].key, &key)) {
			way = i;
			break;
		}
		if (!t && free_way == FLOW_CACHE_WAYS)
			free_way = i;
	}
	if (way < FLOW_CACHE_WAYS) {
		slot = &cache->slot[(first + way) & (FLOW_CACHE_SLOTS - 1)];
		if (egress) {
			slot->tx_bytes += bytes;
			slot->tx_packets += packets;
		} else {
			slot->rx_bytes += bytes;
			slot->rx_packets += packets;
		}
		/*
		 * now is the clock as read at this CPU's first packet of the tick, and the coarse
		 * clock moves a little after jiffies does: a slot's first_ns, read afresh when it
		 * was taken, may lie a tick past it. last_ns never goes below first_ns.
		 */
		if (now > slot->last_ns)
			slot->last_ns = now;
		slot->tcp_flags |= pi.tcp_flags;
		/*
		 * The handshake of a connection to a listener: its final ACK hits the slot its SYN
		 * took (one bit tells); a SYN may start a new connection in an old connection's
		 * slot, and a Fast Open child's SYN-ACK hits its SYN's.
		 */
		if ((slot->marks & FLOW_SLOT_HANDSHAKE) ||
		    ((pi.tcp_flags & TCP_FLAG_SYN) && handshake_packet(&pi, egress))) {
			if (handshake(skb, &key, &pi, egress))
				slot->marks |= FLOW_SLOT_HANDSHAKE;
			else
				slot->marks &= ~FLOW_SLOT_HANDSHAKE;
		}
		/*
		 * A RST, or the first packet (the last ACK) after a FIN each way, ends the
		 * connection: a cache-only slot goes whole to the flow_done ring, a mapped one's
		 * counts to the flow's entry, while its lines are still in this CPU's caches, and
		 * the slot is freed, so that the next new flow of the set takes it at its first
		 * packet and its later packets hit (a full set gives a slot only at a flow's second
		 * miss, after a fold or spill of the victim). A later packet of the flow misses and
		 * starts a piece of its own (or is counted in the flow's entry), which the agent
		 * merges with the rest.
		 */
		if ((pi.tcp_flags & TCP_FLAG_RST) ||
		    ((slot->marks & (FLOW_SLOT_FIN_TX | FLOW_SLOT_FIN_RX)) ==
			     (FLOW_SLOT_FIN_TX | FLOW_SLOT_FIN_RX) &&
		     !(pi.tcp_flags & TCP_FLAG_FIN))) {
			if (slot->flags & FLOW_F_MAPPED)
				fold_slot(slot, parity);
			else
				slot_done(slot, parity);
			cache->tag[(first + way) & (FLOW_CACHE_SLOTS - 1)] = 0;
		} else if (pi.tcp_flags & TCP_FLAG_FIN) {
			slot->marks |= egress ? FLOW_SLOT_FIN_TX : FLOW_SLOT_FIN_RX;
		}
	} else if (FLOW_CUT == 4) {
		goto out;
	} else {
		/*
		 * A free slot of the set, or, when the set is full, one of its slots on the flow's
		 * second miss in a row (the set's candidate), so that more flows than ways
		 * interleaved packet by packet do not evict each other at every packet.
		 */
		bool hs = pi.proto == IPPROTO_TCP && handshake_packet(&pi, egress) &&
			  handshake(skb, &key, &pi, egress);
		__u32 idx;

		if (free_way == FLOW_CACHE_WAYS && cache->cand[set] != tag) {
			cache->cand[set] = tag;
			account(skb, &key, &pi, parity, egress, bytes, packets,
				bpf_ktime_get_coarse_ns());
			goto out;
		}
		way = free_way < FLOW_CACHE_WAYS ? free_way : (h >> 16) & (FLOW_CACHE_WAYS - 1);
		idx = (first + way) & (FLOW_CACHE_SLOTS - 1);
		slot = &cache->slot[idx];
		if (free_way == FLOW_CACHE_WAYS) {
			/* the victim (a pseudo-random way) goes to the flow map */
			if (!(slot->flags & FLOW_F_MAPPED)) {
				slot_spill(slot, parity);
				slot_empty(slot);
			} else if (slot->tx_packets | slot->rx_packets) {
				fold_slot(slot, parity);
			}
			cache->tag[idx] = 0;
		}
		cache->cand[set] = 0;
		if (slot_take(skb, &key, &pi, parity, egress, bytes, packets, slot)) {
			slot->marks = hs ? FLOW_SLOT_HANDSHAKE : 0;
			if (pi.tcp_flags & TCP_FLAG_FIN)
				slot->marks |= egress ? FLOW_SLOT_FIN_TX : FLOW_SLOT_FIN_RX;
			cache->tag[idx] = tag;
		}
	}
out:
	if (cache) {
		barrier();
		cache->busy = 0;
	}
}

SEC("cgroup_skb/ingress")
int flow_ingress(struct __sk_buff *skb)
{
	handle_skb(skb, false);
	return 1;
}

SEC("cgroup_skb/egress")
int flow_egress(struct __sk_buff *skb)
{
	handle_skb(skb, true);
	return 1;
}

SEC("cgroup/sock_create")
int flow_sock_create(struct bpf_sock *sk)
{
	struct task_struct *task;
	struct sock_owner owner;
	__u64 cookie;

	if (sk->family != AF_INET && sk->family != AF_INET6)
		return 1;
	task = bpf_get_current_task_btf();
	owner.tgid = bpf_get_current_pid_tgid() >> 32;
	owner.pad = 0;
	/* the process's name (its main thread's), not the creating thread's: a resolver or
	 * client-library thread would otherwise name the flow; read through the task's BTF
	 * pointers (a plain load, no probe-read helper) */
	__builtin_memcpy(owner.comm, task->group_leader->comm, sizeof(owner.comm));
	owner.v1_cgroup_id = cgroup_mode == FLOW_CGROUP_MODE_V1 ? v1_memory_cgroup_id(task) : 0;
	cookie = bpf_get_socket_cookie(sk);
	owner_insert(cookie, &owner);
	return 1; /* 0 would refuse the socket */
}

/*
 * close(): the socket's owner record goes with it, unless it is a TCP socket: close() runs this
 * before the socket sends its FIN (or its RST, with unread data), so flow_sock_destroy drops
 * that one when the kernel destroys the socket. Sockets older than the agent have no record.
 */
SEC("cgroup/sock_release")
int flow_sock_release(struct bpf_sock *sk)
{
	if (sk->family != AF_INET && sk->family != AF_INET6)
		return 1;
	if (sk->protocol == IPPROTO_TCP)
		return 1;
	owner_delete(bpf_get_socket_cookie(sk));
	return 1;
}

/* An IPv4 connection on an AF_INET6 socket (::ffff:a.b.c.d) has IPv4 packets. */
static __always_inline bool v4_mapped(const struct in6_addr *a)
{
	return !a->in6_u.u6_addr32[0] && !a->in6_u.u6_addr32[1] &&
	       a->in6_u.u6_addr32[2] == bpf_htonl(0xffff);
}

/*
 * TCP state changes (every TCP socket on the host): an accepted socket becoming ESTABLISHED
 * takes its listener's owner from the handoff its final ACK left on this CPU.
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(flow_sock_state, struct sock *sk, int oldstate, int newstate)
{
	const struct sock_common *c = &sk->__sk_common;
	struct flow_conn conn = {};

	if (oldstate != TCP_SYN_RECV || newstate != TCP_ESTABLISHED ||
	    sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (c->skc_family == AF_INET || v4_mapped(&c->skc_v6_daddr)) {
		*(__u32 *)conn.laddr = c->skc_rcv_saddr;
		*(__u32 *)conn.raddr = c->skc_daddr;
	} else {
		__builtin_memcpy(conn.laddr, &c->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(conn.raddr, &c->skc_v6_daddr, 16);
	}
	conn.lport = c->skc_num;
	conn.rport = bpf_ntohs(c->skc_dport);
	conn.cgroup_id = sk->sk_cgrp_data.cgroup->kn->id;
	handoff_take(&conn, bpf_get_socket_cookie(sk));
	return 0;
}

/*
 * A TCP socket destroyed (tcp_v4_destroy_sock(), for IPv6 too): after its last packet as a full
 * socket (the FIN and last ACKs, or a close()'s RST, both sent before; a time-wait or request
 * socket has no record), so its owner record goes. Not at TCP_CLOSE, which the kernel sets
 * before an abortive close sends its RST, and which a socket may leave again (connect() after
 * a refused one). A socket that never had a cookie has no record.
 */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(flow_sock_destroy, struct sock *sk)
{
	owner_delete(sk->__sk_common.skc_cookie.counter);
	return 0;
}

/*
 * The cgroup the programs are attached to (--cgroup-root), by id: the start-up walk records only
 * sockets under it, whose packets the skb programs see (and whose UDP records the attached
 * sock_release deletes). 0 or 1 (the v2 root): every socket. Set by the agent before the walk.
 */
__u64 walk_cgroup_root_id = 0;

/* Whether the socket's v2 cgroup is walk_cgroup_root_id or below it (at most 64 levels up). */
static __always_inline bool walk_under_root(struct sock *sk)
{
	struct cgroup *cg;

	if (walk_cgroup_root_id <= 1)
		return true;
	cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	for (int i = 0; i < 64 && cg; i++) {
		if (BPF_CORE_READ(cg, kn, id) == walk_cgroup_root_id)
			return true;
		cg = BPF_CORE_READ(cg, self.parent, cgroup);
	}
	return false;
}

/*
 * Owners noted by the walk's first pass for sockets that had no cookie yet, by socket inode:
 * the second pass (iter/tcp, iter/udp) reaches the socket through a pointer the cookie helper
 * takes and moves the owner into sock_owner. Emptied by the agent after the walk.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLOW_SOCK_OWNERS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sock_owner);
} owner_seed SEC(".maps");

/* Records owner for cookie unless the socket has an owner record: enum flow_owner_walk_result. */
static __always_inline __u8 walk_insert(__u64 cookie, const struct sock_owner *owner)
{
	if (owner_find(cookie))
		return FLOW_OWNER_WALK_EXISTING;
	/* owner_insert() counts a table that is full in FLOW_STAT_OWNER_MAP_FULL too */
	owner_insert(cookie, owner);
	return owner_find(cookie) ? FLOW_OWNER_WALK_INSERTED : FLOW_OWNER_WALK_TABLE_FULL;
}

/*
 * Owners of sockets opened before the agent, first pass: run once at start, after every other
 * program is attached (agent/flow_collector.c), over every process's open files. A socket file
 * of the IPv4/IPv6 families gets an owner record naming the process that holds it, made as
 * sock_create makes it (tgid, the main thread's comm, the v1 memory cgroup in v1 mode), unless it
 * has one: sock_create's (a socket created during the walk), or the first holder's of a socket
 * several processes share (tasks come in pid order: the lowest pid holding it). A socket whose
 * cookie the kernel has not made yet cannot get it here (a socket reached through a file is not
 * a pointer the cookie helper takes): its owner waits in owner_seed for the second pass.
 */
SEC("iter/task_file")
int flow_owner_walk(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct flow_owner_walk_rec rec = {};
	struct sock_owner owner;
	struct socket *sock;
	struct sock *sk;
	__u16 family;
	__u64 cookie, ino;
	long ret;

	if (!task || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	rec.pid = task->tgid;
	if (!walk_under_root(sk)) {
		rec.result = FLOW_OWNER_WALK_OUTSIDE;
		goto out;
	}
	owner.tgid = task->tgid;
	owner.pad = 0;
	__builtin_memcpy(owner.comm, task->group_leader->comm, sizeof(owner.comm));
	owner.v1_cgroup_id = cgroup_mode == FLOW_CGROUP_MODE_V1 ? v1_memory_cgroup_id(task) : 0;
	cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (cookie) {
		rec.result = walk_insert(cookie, &owner);
		goto out;
	}
	ino = BPF_CORE_READ(file, f_inode, i_ino);
	/* BPF_NOEXIST: the first holder's, as above */
	ret = bpf_map_update_elem(&owner_seed, &ino, &owner, BPF_NOEXIST);
	if (ret) {
		rec.result = ret == -EEXIST ? FLOW_OWNER_WALK_EXISTING : FLOW_OWNER_WALK_TABLE_FULL;
		goto out;
	}
	rec.result = FLOW_OWNER_WALK_PENDING;
	rec.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
out:
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

/* Second pass, per socket of one network namespace: the owner the first pass noted, if any. */
static __always_inline void walk_adopt(struct seq_file *seq, struct sock *sk)
{
	struct sock_owner *owner;
	__u8 result;
	__u64 ino;

	ino = BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino);
	if (!ino)
		return;
	owner = bpf_map_lookup_elem(&owner_seed, &ino);
	if (!owner)
		return;
	/* the kernel makes the socket's cookie here, the one the skb programs will see */
	result = walk_insert(bpf_get_socket_cookie(sk), owner);
	bpf_map_delete_elem(&owner_seed, &ino);
	bpf_seq_write(seq, &result, sizeof(result));
}

/*
 * The walk's second pass over the TCP and UDP sockets of the network namespace the agent's
 * thread is in when it creates the iterator (the kernel's tcp and udp iterators go one
 * namespace at a time): one byte per owner moved, enum flow_owner_walk_result.
 */
SEC("iter/tcp")
int flow_owner_walk_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc); /* a full socket: not a time-wait or request one */
	if (tp)
		walk_adopt(ctx->meta->seq, (struct sock *)tp);
	return 0;
}

SEC("iter/udp")
int flow_owner_walk_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;

	if (udp)
		walk_adopt(ctx->meta->seq, (struct sock *)udp);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
