/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Shared between flow.bpf.c and the agent: types, limits and the map record layouts only. */
#ifndef FLOWSCOPE_FLOW_H
#define FLOWSCOPE_FLOW_H

#define FLOW_COMM_LEN 16
#define FLOW_DEFAULT_MAX_FLOWS 65536
/*
 * The socket owner table (`sock_owner`, 40 bytes a slot; a power of two of slots): a socket's
 * record is in one of FLOW_OWNER_PROBES slots, FLOW_OWNER_SLOT(cookie, 0..PROBES-1). Slot 0 is
 * cookie mod FLOW_SOCK_OWNERS, so that sockets created one after the other (consecutive
 * cookies) never collide before the table wraps; the others lie a quarter of the table apart,
 * so that a run of long-lived sockets (a connection pool) does not also take a newer socket's
 * other slots when it wraps.
 */
#define FLOW_SOCK_OWNERS 131072
#define FLOW_OWNER_PROBES 4
#define FLOW_OWNER_STRIDE (FLOW_SOCK_OWNERS / 4 + 1)
/* A slot's cookie while its owner is being written (no socket has this cookie). */
#define FLOW_OWNER_CLAIMED (~0ull)
#define FLOW_OWNER_SLOT(cookie, i) \
	((__u32)((cookie) + (__u64)(i)*FLOW_OWNER_STRIDE) & (FLOW_SOCK_OWNERS - 1))

/* Bits of flow_value.flags. */
#define FLOW_F_INITIATOR_SRC 0x01 /* the local endpoint opened the flow */
#define FLOW_F_INITIATOR_DST 0x02 /* the remote peer opened it */
#define FLOW_F_FROM_SYN 0x04 /* the initiator comes from a SYN, not from the first packet */
/* flow_value only: the flow's entry in flow_meta was found (the drain need not write one) */
#define FLOW_F_REMEMBERED 0x08
/* flow_cache_slot only: the flow has an entry in the flow map (the slot holds counts to add to
 * it); without, the slot holds the whole flow (first_ns, flags, pid, comm) */
#define FLOW_F_MAPPED 0x10

/*
 * One flow as seen by one cgroup: the local endpoint is the socket's side, so egress packets are
 * keyed (src, dst) and ingress packets (dst, src). Addresses are network order; IPv4 uses the
 * first 4 bytes and zeroes the rest. Ports are host order; for ICMP/ICMPv6 echo, lport is the
 * echo identifier and rport is 0; other ICMP messages use 0/0.
 */
struct flow_key {
	__u64 cgroup_id;
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u8 ip_version; /* 4 or 6 */
	__u8 proto; /* IPPROTO_* */
	__u8 cgroup_version; /* 2: cgroup_id is a v2 cgroup's; 1: a v1 memory cgroup's */
	__u8 pad;
};

/*
 * Counters for one interval. Packets count wire segments: a GSO/GRO skb carrying n segments adds
 * n packets and skb->len + (n - 1) * (L3 + L4 header length) bytes (see docs/records.md).
 */
struct flow_value {
	__u64 first_ns; /* bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE) of the first packet */
	__u64 last_ns;
	__u64 tx_bytes;
	__u64 tx_packets;
	__u64 rx_bytes;
	__u64 rx_packets;
	__u32 tcp_flags; /* OR of TCP header byte 13; 32 bits wide for the atomic OR */
	__u32 pid; /* tgid of the socket's creator, 0 when unknown */
	__u32 flags; /* FLOW_F_*, set once when the entry is created */
	char comm[FLOW_COMM_LEN];
};

/*
 * The per-CPU flow cache (`flow_cache`): a packet of a flow that one of its CPU's slots holds
 * is counted in the slot, with no hash map lookup and no atomic. A slot holds a flow's both
 * directions (the key is the same for egress and ingress), in one of two ways:
 * - cache-only (no FLOW_F_MAPPED; TCP only, see flow.bpf.c slot_take()): the flow's first
 *   packet on this CPU took the slot, and the slot holds the whole flow as a flow_value would (first_ns, flags, pid, comm); the flow map
 *   has no entry for it from this CPU. A short connection lives and ends here: its RST, or the
 *   first packet after a FIN each way, writes the slot whole to the `flow_done` ring
 *   (struct flow_done) and frees it; the ring full, or the slot taken over by another flow,
 *   the slot goes into the flow map (inserted, or added to the entry another CPU made).
 * - mapped (FLOW_F_MAPPED): the flow had an entry in the flow map when the slot was taken (made
 *   by another CPU, by an earlier packet of the flow, or by this one: UDP, ICMP), and the slot
 *   holds counts to add to
 *   it: in BPF when another flow takes the slot over or the connection ends as above, and by
 *   the agent at the interval's end.
 * The agent merges, per flow key and interval, the ring's records, the slots of the interval's
 * parity (after the programs switched to the next one) and the flow map's entries into one
 * record (agent/flow_table.c), so that what it exports holds exactly what the packets imply.
 *
 * Set-associative: FLOW_CACHE_SETS sets of FLOW_CACHE_WAYS slots, the set chosen by the key's
 * hash. Each slot has a 32-bit tag (the hash, bit 0 set; 0: the slot is free) kept apart from
 * the slots, so that a lookup reads the set's four tags from one cache line and the one key
 * whose tag matches, not four keys.
 */
#define FLOW_CACHE_WAYS 4 /* slots per set */
#define FLOW_CACHE_SETS 64 /* sets per CPU and parity: a power of two */
#define FLOW_CACHE_SLOTS (FLOW_CACHE_SETS * FLOW_CACHE_WAYS)

/*
 * Flow maps in rotation (flows[0..FLOW_MAPS-1], flow_parity the one in use): with three, one
 * map-in-map update per drain both waits for the programs of the old parity and installs the
 * empty map the next drain switches to.
 */
#define FLOW_MAPS 3

/*
 * 120 bytes: 256 of them, their tags and candidates fit the 32 KiB a per-CPU array's value may
 * have (PCPU_MIN_UNIT_SIZE), hence the narrow tcp_flags, marks and flags.
 */
struct flow_cache_slot {
	struct flow_key key;
	__u64 first_ns; /* cache-only: as flow_value's; mapped: unset */
	__u64 last_ns; /* bpf_ktime_get_coarse_ns() of the slot's last packet (flow_cache.now_ns) */
	__u64 tx_bytes;
	__u64 tx_packets;
	__u64 rx_bytes;
	__u64 rx_packets; /* tx_packets + rx_packets == 0: the slot holds nothing to fold */
	__u8 tcp_flags; /* OR of TCP header byte 13 */
	__u8 marks; /* FLOW_SLOT_FIN_*: the directions a FIN went in while the slot held it;
		       FLOW_SLOT_HANDSHAKE */
	__u16 flags; /* FLOW_F_*: FLOW_F_MAPPED, and for a cache-only slot flow_value's flags */
	__u32 pid; /* cache-only: as flow_value's */
	char comm[FLOW_COMM_LEN]; /* cache-only: as flow_value's */
};

/*
 * A record of the `flow_done` ring buffer: a cache-only slot's whole flow, written when its
 * connection ended (RST, or the first packet after a FIN each way). parity: the flow map and
 * interval the packets belong to (flow_parity of the run that wrote it).
 */
struct flow_done {
	struct flow_key key;
	struct flow_value val;
	__u32 parity;
	__u32 pad;
};

/* The flow_done ring buffer's size when the agent does not set one (bytes, a power of two). */
#define FLOW_DONE_RINGBUF_BYTES (2u << 20)

/* Bits of flow_cache_slot.marks. */
#define FLOW_SLOT_FIN_TX 0x1
#define FLOW_SLOT_FIN_RX 0x2
/* a listener's SYN or SYN-ACK took the slot: the handshake's final ACK is still to come (and
 * leaves the listener's owner in the handoff when it hits the slot) */
#define FLOW_SLOT_HANDSHAKE 0x4

/* One CPU's slots for one parity (flow_parity: the flow map in use, flows[parity]). */
struct flow_cache {
	__u32 busy; /* a run of the programs holds the slots: one nested on this CPU skips them */
	__u32 pad;
	/* CLOCK_MONOTONIC_COARSE moves once per tick: now_ns is what it read during tick
	 * `jiffies` (bpf_jiffies64()), read again when the tick changed */
	__u64 jiffies;
	__u64 now_ns;
	/* packets the skb programs saw on this CPU with this parity's slots (FLOW_STAT_PACKETS'
	 * share kept here; the agent adds it to the counter when it folds the slots) */
	__u64 packets;
	__u32 cand[FLOW_CACHE_SETS]; /* tag of the last flow that missed a full set: a second
					miss in a row takes a slot */
	__u32 tag[FLOW_CACHE_SLOTS]; /* slot[i]'s tag: the key's hash | 1; 0: free */
	struct flow_cache_slot slot[FLOW_CACHE_SLOTS];
};

/* Kept across intervals per flow key (the `flow_meta` LRU map). */
struct flow_meta {
	__u32 flags; /* FLOW_F_* of the flow's first interval, or a later SYN's; never REMEMBERED */
	__u32 pid;
	char comm[FLOW_COMM_LEN];
};

/* Recorded by cgroup/sock_create in the creating process's context, keyed by socket cookie. */
struct sock_owner {
	__u32 tgid;
	__u32 pad;
	char comm[FLOW_COMM_LEN];
	/* --cgroup-mode v1: the creator's v1 memory cgroup (its kernfs node id, the inode number of
	 * its directory in the memory hierarchy's mount); 0 when not recorded */
	__u64 v1_cgroup_id;
};

/*
 * One side of a TCP connection as a packet to its listener shows it and as the accepted socket
 * knows it: the local side's addresses and ports (network order addresses, host order ports, as
 * in flow_key) and the listener's v2 cgroup, which the accepted socket inherits. Six words.
 */
struct flow_conn {
	__u64 cgroup_id;
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u32 pad;
};

/*
 * The per-CPU handshake handoff (`handoff`, flow.bpf.c): the listener's owner for the
 * connection whose packet to the listener this CPU saw last, for the accepted socket that packet
 * creates (within the same softirq) to take.
 */
struct flow_handoff {
	struct flow_conn conn;
	struct sock_owner owner;
	__u32 busy; /* a run holds the handoff: a nested one leaves it alone */
	__u32 full; /* owner is the listener's owner for conn; 0: nothing to take */
};

/* One slot of the `sock_owner` table. */
struct sock_owner_slot {
	__u64 cookie; /* the socket's cookie; 0: the slot is free */
	struct sock_owner owner;
};

/*
 * What the start-up walk of open sockets (flow.bpf.c flow_owner_walk and flow_owner_walk_tcp,
 * _udp) did with a socket of the IPv4/IPv6 families, in the records it writes to the iterators'
 * output.
 */
enum flow_owner_walk_result {
	FLOW_OWNER_WALK_INSERTED = 1, /* the holding process recorded as the socket's owner */
	FLOW_OWNER_WALK_EXISTING, /* the socket had an owner record already (sock_create's, or an
				     earlier holder's in this walk) */
	FLOW_OWNER_WALK_TABLE_FULL, /* the socket's sock_owner slots were all taken */
	FLOW_OWNER_WALK_OUTSIDE, /* the socket's cgroup is not under the attached one */
	FLOW_OWNER_WALK_PENDING, /* no cookie yet: owner noted in owner_seed for the second pass */
};

/* One record of the walk's first pass (iter/task_file), per socket file. */
struct flow_owner_walk_rec {
	__u8 result; /* enum flow_owner_walk_result */
	__u8 pad[3];
	__u32 pid; /* the holding process (tgid) */
	__u32 netns; /* the socket's network namespace (inode number), for a PENDING one */
	__u32 pad2;
};

/* Values of the programs' cgroup_mode (--cgroup-mode after auto is decided). */
#define FLOW_CGROUP_MODE_V1 1
#define FLOW_CGROUP_MODE_V2 2

/* Indexes of the per-CPU `stats` array; every way a packet goes uncounted has its own slot. */
enum flow_stat {
	FLOW_STAT_PACKETS, /* packets seen by the skb programs (incl. skipped) */
	FLOW_STAT_MAP_FULL, /* packets not accounted: the flow map was full */
	FLOW_STAT_MAP_FULL_BYTES, /* their bytes */
	FLOW_STAT_MALFORMED, /* truncated or malformed IP/L4 header: not accounted */
	FLOW_STAT_OTHER_PROTO, /* IP protocols other than TCP/UDP/ICMP/ICMPv6: not accounted */
	FLOW_STAT_NON_IP, /* neither IPv4 nor IPv6 */
	FLOW_STAT_FRAGMENTS, /* non-first fragments, accounted with ports 0 */
	FLOW_STAT_SELF, /* the agent's own packets, skipped on purpose */
	FLOW_STAT_NO_OWNER, /* new flows whose socket had no owner record (pid 0) */
	FLOW_STAT_DNS_EVENTS, /* DNS events (packet pieces) handed to user space */
	FLOW_STAT_DNS_RINGBUF_FULL, /* DNS pieces that found the ring buffer full: the rest of
				       their packet was lost with them */
	FLOW_STAT_DNS_TRUNCATED, /* DNS packets cut at dns_capture_max_bytes (or DNS_MAX_PIECES) */
	FLOW_STAT_CACHE_ORPHAN, /* packets counted in a flow cache slot whose flow entry was gone
				   when the slot was folded (cannot happen: counted, never lost
				   silently) */
	FLOW_STAT_OWNER_MAP_FULL, /* socket owners not recorded: the socket's sock_owner
				     slots were taken, or a listener's owner found the handshake
				     handoff held by a run it interrupted */
	FLOW_STAT_DONE_RING_FULL, /* ended flows of cache-only slots that found the flow_done
				     ring full: put into the flow map instead (not a loss) */
	FLOW_STAT_MAX,
};

#endif /* FLOWSCOPE_FLOW_H */
