// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Per-cgroup flow accounting at cgroup_skb ingress/egress, and the socket owner record written at
 * cgroup/sock_create. Every skb program returns 1: flowscope observes, it never filters.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "flow.h"
#include "cgroup_v1.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"
#include "stats.bpf.h"

#define AF_INET 2
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
 * Two flow maps, one active. The agent swaps the active one through `flows` at the end of each
 * interval; the map-in-map update waits for running programs (synchronize_rcu), so the inactive
 * map is drained with no writer racing the batch delete.
 */
struct flow_map flows_a SEC(".maps");
struct flow_map flows_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_map);
} flows SEC(".maps") = {
	.values = { &flows_a },
};

/*
 * What a flow's first interval learnt (initiator, owner), for its later intervals, which start
 * with an empty flow map. Touched once per flow and interval, on the new-entry path only. An LRU
 * map: forgetting a long-idle flow only costs a later interval its initiator.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2 * FLOW_DEFAULT_MAX_FLOWS);
	__type(key, struct flow_key);
	__type(value, struct flow_meta);
} flow_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	/* BPF_F_CLONE: accepted sockets inherit the listener's owner. */
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct sock_owner);
} sock_owner SEC(".maps");

/* Per-CPU counters, enum flow_stat; every way a packet or DNS event goes uncounted has one. */
STATS_MAP(stats, FLOW_STAT_MAX);

#define DNS_CAPTURE_STATS stats
#include "dns_capture.bpf.h"

static __always_inline struct sock_owner *owner_of(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return NULL;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&sock_owner, sk, 0, 0);
}

/* The cgroup a packet is accounted to: see cgroup_mode. */
static __always_inline void set_cgroup(struct __sk_buff *skb, struct flow_key *key)
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

static __always_inline void fill_owner(struct __sk_buff *skb, struct flow_value *val)
{
	struct sock_owner *owner = owner_of(skb);

	if (!owner)
		return;
	val->pid = owner->tgid;
	__builtin_memcpy(val->comm, owner->comm, sizeof(val->comm));
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
 * A flow new to this interval: carry the initiator and owner over from an earlier interval,
 * unless this packet is a SYN; a known owner wins over none.
 */
static __always_inline void remember(const struct flow_key *key, struct flow_value *val)
{
	struct flow_meta *meta = bpf_map_lookup_elem(&flow_meta, key);
	struct flow_meta fresh = {};

	if (!meta) {
		fresh.flags = val->flags;
		fresh.pid = val->pid;
		__builtin_memcpy(fresh.comm, val->comm, sizeof(fresh.comm));
		bpf_map_update_elem(&flow_meta, key, &fresh, BPF_ANY);
		return;
	}
	/* a SYN now is a new connection on the same 5-tuple: its verdict replaces the memory */
	if ((meta->flags & (FLOW_F_INITIATOR_SRC | FLOW_F_INITIATOR_DST)) &&
	    !(val->flags & FLOW_F_FROM_SYN))
		val->flags = meta->flags;
	else
		meta->flags = val->flags;
	if (!val->pid && meta->pid) {
		val->pid = meta->pid;
		__builtin_memcpy(val->comm, meta->comm, sizeof(val->comm));
	} else if (val->pid && !meta->pid) {
		meta->pid = val->pid;
		__builtin_memcpy(meta->comm, val->comm, sizeof(meta->comm));
	}
}

static __always_inline int handle_skb(struct __sk_buff *skb, bool egress)
{
	struct flow_key key = {};
	struct pkt_info pi = {};
	struct flow_value *val;
	__u32 zero = 0, segs;
	__u64 now, bytes, packets;
	void *map;
	int ret;

	stats_add(&stats, FLOW_STAT_PACKETS, 1);

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		ret = parse_ipv4(skb, key.laddr, key.raddr, &pi, egress);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		ret = parse_ipv6(skb, key.laddr, key.raddr, &pi, egress);
	} else {
		stats_add(&stats, FLOW_STAT_NON_IP, 1);
		return 1;
	}
	if (ret < 0) {
		stats_add(&stats, FLOW_STAT_MALFORMED, 1);
		return 1;
	}
	if (ret > 0) {
		stats_add(&stats, FLOW_STAT_OTHER_PROTO, 1);
		return 1;
	}
	if (pi.fragment)
		stats_add(&stats, FLOW_STAT_FRAGMENTS, 1);

	set_cgroup(skb, &key);
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

	map = bpf_map_lookup_elem(&flows, &zero);
	if (!map)
		return 1;
	/*
	 * CLOCK_MONOTONIC_COARSE: one tick of resolution (1-10 ms) is plenty for flow start/end in
	 * intervals of seconds, and it costs ~3 ns against ~21 ns for bpf_ktime_get_boot_ns(),
	 * the largest single cost per packet (bench/bpf).
	 */
	now = bpf_ktime_get_coarse_ns();

	val = bpf_map_lookup_elem(map, &key);
	if (!val) {
		struct flow_value init = {};

		fill_owner(skb, &init);
		if (init.pid && init.pid == self_tgid) {
			stats_add(&stats, FLOW_STAT_SELF, 1);
			return 1;
		}
		init.first_ns = now;
		init.last_ns = now;
		init.flags = initiator_flags(&pi, egress);
		remember(&key, &init);
		init.tcp_flags = pi.tcp_flags;
		if (egress) {
			init.tx_bytes = bytes;
			init.tx_packets = packets;
		} else {
			init.rx_bytes = bytes;
			init.rx_packets = packets;
		}
		ret = map_try_insert(map, &key, &init, (void **)&val);
		if (ret == 0) {
			/* counted once per flow created, not per packet of a flow the full map refused */
			if (!init.pid)
				stats_add(&stats, FLOW_STAT_NO_OWNER, 1);
			return 1;
		}
		/* -EEXIST: another CPU created it first, and val is that entry */
		if (ret != -EEXIST) {
			stats_add(&stats, FLOW_STAT_MAP_FULL, 1);
			stats_add(&stats, FLOW_STAT_MAP_FULL_BYTES, bytes);
			return 1;
		}
	}

	if (egress) {
		__sync_fetch_and_add(&val->tx_bytes, bytes);
		__sync_fetch_and_add(&val->tx_packets, packets);
	} else {
		__sync_fetch_and_add(&val->rx_bytes, bytes);
		__sync_fetch_and_add(&val->rx_packets, packets);
	}
	if (now > val->last_ns)
		val->last_ns = now;
	if ((val->tcp_flags & pi.tcp_flags) != pi.tcp_flags)
		__sync_fetch_and_or(&val->tcp_flags, (__u32)pi.tcp_flags);
	return 1;
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
	struct sock_owner *owner;

	if (sk->family != AF_INET && sk->family != AF_INET6)
		return 1;
	owner = bpf_sk_storage_get(&sock_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (owner) {
		struct task_struct *task = bpf_get_current_task_btf();

		owner->tgid = bpf_get_current_pid_tgid() >> 32;
		/* the process's name (its main thread's), not the creating thread's: a resolver
		 * or client-library thread would otherwise name the flow */
		if (BPF_CORE_READ_STR_INTO(&owner->comm, task, group_leader, comm) < 0)
			bpf_get_current_comm(owner->comm, sizeof(owner->comm));
		owner->v1_cgroup_id = cgroup_mode == FLOW_CGROUP_MODE_V1 ? v1_memory_cgroup_id(task)
									 : 0;
	}
	return 1; /* 0 would refuse the socket */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
