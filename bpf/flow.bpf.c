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
#include "dns_capture.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_AH 51
#define IPPROTO_ICMPV6 58
#define IPPROTO_DSTOPTS 60
#define AF_INET 2
#define AF_INET6 10

#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

/* IPv6 extension headers walked before giving up on finding the L4 header. */
#define MAX_IPV6_EXT_HDRS 6

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
/* Ports whose UDP/TCP payload is DNS (--dns-ports), one bit per port. */
const volatile __u32 dns_port_bitmap[DNS_PORT_BITMAP_WORDS] = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, DNS_RINGBUF_BYTES);
} dns_events SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOW_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n;
}

/* Header offsets beyond this always go through bpf_skb_load_bytes(). */
#define MAX_DIRECT_OFF 256

/*
 * Copies len header bytes at off. Headers are almost always in the linear part of the skb, where
 * reading them directly costs ~1 ns against ~3 ns per bpf_skb_load_bytes() call (bench/bpf);
 * the helper remains for headers in paged data. len must be a constant at each call site.
 */
static __always_inline int load_hdr(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	/* the bound lets the verifier track data + off as a packet pointer */
	if (off <= MAX_DIRECT_OFF && data + off + len <= data_end) {
		__builtin_memcpy(to, data + off, len);
		return 0;
	}
	return bpf_skb_load_bytes(skb, off, to, len);
}

/*
 * Like load_hdr(), without the copy when the header is in the linear part: returns a pointer into
 * the packet, or to buf filled by bpf_skb_load_bytes(), or NULL. Saves copying whole headers to
 * read a few fields of them on the hot path.
 */
static __always_inline void *hdr_ptr(struct __sk_buff *skb, __u32 off, void *buf, __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (off <= MAX_DIRECT_OFF && data + off + len <= data_end)
		return data + off;
	if (bpf_skb_load_bytes(skb, off, buf, len))
		return NULL;
	return buf;
}

/* What the header walk learned about one packet. */
struct pkt_info {
	__u32 tcp_seq;
	__u32 l3_len; /* IP header incl. IPv6 extension headers */
	__u32 l4_len; /* TCP header incl. options, UDP 8, ICMP 8 */
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 tcp_flags;
	__u8 fragment; /* non-first fragment: no L4 header */
};

struct tcp_hdr_min {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff_res;
	__u8 flags;
};

/*
 * Returns 0 when the L4 header was read (or the packet is a non-first fragment, which has none),
 * 1 for a protocol that is not accounted (fragments included), -1 when the header is malformed
 * or cut short: all l4_len bytes must be in the packet, since GSO accounting repeats them.
 */
static __always_inline int parse_l4(struct __sk_buff *skb, __u32 off, struct pkt_info *pi)
{
	if (pi->proto != IPPROTO_TCP && pi->proto != IPPROTO_UDP && pi->proto != IPPROTO_ICMP &&
	    pi->proto != IPPROTO_ICMPV6)
		return 1;
	if (pi->fragment)
		return 0;

	switch (pi->proto) {
	case IPPROTO_TCP: {
		struct tcp_hdr_min buf, *th = hdr_ptr(skb, off, &buf, sizeof(buf));
		__u32 doff;

		if (!th)
			return -1;
		doff = (th->doff_res >> 4) * 4;
		if (doff < 20 || off + doff > skb->len)
			return -1;
		pi->sport = bpf_ntohs(th->source);
		pi->dport = bpf_ntohs(th->dest);
		pi->tcp_flags = th->flags;
		/* a SYN's own sequence number is the ISN: its payload (TCP Fast Open) starts
		 * one later (RFC 9293 §3.4) */
		pi->tcp_seq = bpf_ntohl(th->seq) + !!(th->flags & TCP_FLAG_SYN);
		pi->l4_len = doff;
		return 0;
	}
	case IPPROTO_UDP: {
		__be16 buf[2], *ports;

		if (off + 8 > skb->len)
			return -1;
		ports = hdr_ptr(skb, off, buf, sizeof(buf));
		if (!ports)
			return -1;
		pi->sport = bpf_ntohs(ports[0]);
		pi->dport = bpf_ntohs(ports[1]);
		pi->l4_len = 8;
		return 0;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		/* type, code, checksum, then the echo identifier */
		__u8 hdr[6];

		if (off + 8 > skb->len || load_hdr(skb, off, hdr, sizeof(hdr)))
			return -1;
		if (pi->proto == IPPROTO_ICMP
			    ? (hdr[0] == ICMP_ECHO || hdr[0] == ICMP_ECHOREPLY)
			    : (hdr[0] == ICMPV6_ECHO_REQUEST || hdr[0] == ICMPV6_ECHO_REPLY)) {
			/* both ends of an echo exchange key on the identifier */
			pi->sport = ((__u16)hdr[4] << 8) | hdr[5];
			pi->dport = pi->sport;
		}
		pi->l4_len = 8;
		return 0;
	}
	}
	return 1;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct flow_key *key,
				      struct pkt_info *pi, bool egress)
{
	struct iphdr buf, *ip = hdr_ptr(skb, 0, &buf, sizeof(buf));
	__u32 ihl;

	if (!ip)
		return -1;
	ihl = ip->ihl * 4;
	if (ip->version != 4 || ihl < sizeof(*ip))
		return -1;
	key->ip_version = 4;
	if (egress) {
		*(__u32 *)key->laddr = ip->saddr;
		*(__u32 *)key->raddr = ip->daddr;
	} else {
		*(__u32 *)key->laddr = ip->daddr;
		*(__u32 *)key->raddr = ip->saddr;
	}
	pi->proto = ip->protocol;
	pi->l3_len = ihl;
	/* fragment offset != 0: the L4 header is in the first fragment only */
	pi->fragment = (bpf_ntohs(ip->frag_off) & 0x1fff) != 0;
	return parse_l4(skb, ihl, pi);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct flow_key *key,
				      struct pkt_info *pi, bool egress)
{
	struct ipv6hdr ip6;
	__u32 off = sizeof(ip6);
	__u8 nexthdr;

	if (load_hdr(skb, 0, &ip6, sizeof(ip6)))
		return -1;
	if (ip6.version != 6)
		return -1;
	key->ip_version = 6;
	if (egress) {
		__builtin_memcpy(key->laddr, &ip6.saddr, 16);
		__builtin_memcpy(key->raddr, &ip6.daddr, 16);
	} else {
		__builtin_memcpy(key->laddr, &ip6.daddr, 16);
		__builtin_memcpy(key->raddr, &ip6.saddr, 16);
	}
	nexthdr = ip6.nexthdr;

#pragma unroll
	for (int i = 0; i < MAX_IPV6_EXT_HDRS; i++) {
		__u8 ext[4];

		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS && nexthdr != IPPROTO_FRAGMENT &&
		    nexthdr != IPPROTO_AH)
			break;
		if (load_hdr(skb, off, ext, sizeof(ext)))
			return -1;
		if (nexthdr == IPPROTO_FRAGMENT) {
			/* RFC 8200 §4.5: offset is the upper 13 bits of bytes 2-3 */
			nexthdr = ext[0];
			off += 8;
			/* a later fragment carries payload, not the headers nexthdr names */
			if ((((__u16)ext[2] << 8 | ext[3]) & 0xfff8) != 0) {
				pi->fragment = 1;
				break;
			}
		} else if (nexthdr == IPPROTO_AH) {
			/* RFC 4302 §2.2: payload length in 4-octet units, minus 2 */
			nexthdr = ext[0];
			off += ((__u32)ext[1] + 2) * 4;
		} else {
			nexthdr = ext[0];
			off += ((__u32)ext[1] + 1) * 8;
		}
	}
	if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	    nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_AH)
		return -1; /* more extension headers than we walk */
	pi->proto = nexthdr;
	pi->l3_len = off;
	return parse_l4(skb, off, pi);
}

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

/*
 * The id of the task's cgroup in the v1 hierarchy that holds the memory controller (every
 * container runtime places containers in that one): task->cgroups->subsys[memory_cgrp_id]
 * ->cgroup->kn->id, read with CO-RE (the subsystem index is an enum value relocation). 0 when
 * the kernel has no memory controller.
 */
static __always_inline __u64 v1_memory_cgroup_id(struct task_struct *task)
{
	long ss = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	long count = bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT);
	struct cgroup_subsys_state *css;

	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id) || ss < 0 ||
	    ss >= count)
		return 0;
	css = BPF_CORE_READ(task, cgroups, subsys[ss]);
	if (!css)
		return 0;
	return BPF_CORE_READ(css, cgroup, kn, id);
}

static __always_inline void fill_owner(struct __sk_buff *skb, struct flow_value *val)
{
	struct sock_owner *owner = owner_of(skb);

	if (!owner)
		return;
	val->pid = owner->tgid;
	__builtin_memcpy(val->comm, owner->comm, sizeof(val->comm));
}

static __always_inline bool is_dns_port(__u16 port)
{
	return dns_port_bitmap[port >> 5] & (1u << (port & 31));
}

/*
 * Hands a DNS packet to user space: header facts and its payload. A UDP datagram is one event
 * with up to DNS_CAPTURE_MAX payload bytes. A TCP skb can be a GSO/GRO super-packet carrying a
 * whole large answer (the reason DNS uses TCP), so its payload is cut into consecutive events of
 * DNS_CAPTURE_MAX bytes, each with its own sequence number, up to DNS_TCP_MAX_CHUNKS of them;
 * what is left beyond is reported as missing (DNS_EV_F_TRUNCATED).
 */
static __always_inline void capture_dns(struct __sk_buff *skb, const struct flow_key *key,
					const struct pkt_info *pi, bool egress)
{
	__u32 off = pi->l3_len + pi->l4_len;
	__u32 plen = skb->len > off ? skb->len - off : 0;
	bool tcp = pi->proto == IPPROTO_TCP;
	struct sock_owner *owner;
	__u32 done = 0;
	__u64 ts;

	/* TCP segments without payload matter only for their SYN/FIN/RST (stream boundaries) */
	if (plen == 0 && (!tcp || !(pi->tcp_flags & 0x07)))
		return;
	owner = owner_of(skb);
	if (owner && owner->tgid == self_tgid)
		return;
	ts = bpf_ktime_get_boot_ns();

	for (int i = 0; i < DNS_TCP_MAX_CHUNKS; i++) {
		__u32 left = plen - done, piece = left > DNS_CAPTURE_MAX ? DNS_CAPTURE_MAX : left;
		bool last = !tcp || i == DNS_TCP_MAX_CHUNKS - 1 || left <= DNS_CAPTURE_MAX;
		struct dns_event *ev = bpf_ringbuf_reserve(&dns_events, sizeof(*ev), 0);

		if (!ev) {
			/* later pieces of a TCP skb show up as a gap in the stream */
			stat_add(FLOW_STAT_DNS_RINGBUF_FULL, 1);
			return;
		}
		ev->ts_ns = ts;
		ev->cgroup_id = key->cgroup_id;
		if (owner) {
			ev->pid = owner->tgid;
			__builtin_memcpy(ev->comm, owner->comm, sizeof(ev->comm));
		} else {
			ev->pid = 0;
			__builtin_memset(ev->comm, 0, sizeof(ev->comm));
		}
		if (egress) {
			__builtin_memcpy(ev->saddr, key->laddr, 16);
			__builtin_memcpy(ev->daddr, key->raddr, 16);
		} else {
			__builtin_memcpy(ev->saddr, key->raddr, 16);
			__builtin_memcpy(ev->daddr, key->laddr, 16);
		}
		ev->sport = pi->sport;
		ev->dport = pi->dport;
		ev->ip_version = key->ip_version;
		ev->proto = pi->proto;
		/* SYN opens the first piece, FIN/RST close the last one */
		ev->tcp_flags = pi->tcp_flags & ((i == 0 ? TCP_FLAG_SYN : 0) |
						 (last ? 0x05 /* FIN|RST */ : 0) | TCP_FLAG_ACK);
		ev->tcp_seq = pi->tcp_seq + done;
		ev->flags = egress ? DNS_EV_F_EGRESS : 0;
		if (key->cgroup_version == 1)
			ev->flags |= DNS_EV_F_CGROUP_V1;
		/* a piece's length; the last one covers the rest of the skb, captured or not */
		ev->payload_len = last ? left : piece;
		if (left > DNS_CAPTURE_MAX && last) {
			ev->flags |= DNS_EV_F_TRUNCATED;
			stat_add(FLOW_STAT_DNS_TRUNCATED, 1);
		}
		ev->cap_len = 0;
		/* the verifier needs a non-zero length with a constant upper bound */
		if (piece > 0 && piece <= DNS_CAPTURE_MAX &&
		    bpf_skb_load_bytes(skb, off + done, ev->payload, piece) == 0)
			ev->cap_len = piece;
		stat_add(FLOW_STAT_DNS_EVENTS, 1);
		bpf_ringbuf_submit(ev, 0);
		done += piece;
		if (last)
			break;
	}
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

	stat_add(FLOW_STAT_PACKETS, 1);

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		ret = parse_ipv4(skb, &key, &pi, egress);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		ret = parse_ipv6(skb, &key, &pi, egress);
	} else {
		stat_add(FLOW_STAT_NON_IP, 1);
		return 1;
	}
	if (ret < 0) {
		stat_add(FLOW_STAT_MALFORMED, 1);
		return 1;
	}
	if (ret > 0) {
		stat_add(FLOW_STAT_OTHER_PROTO, 1);
		return 1;
	}
	if (pi.fragment)
		stat_add(FLOW_STAT_FRAGMENTS, 1);

	set_cgroup(skb, &key);
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
	else if (!pi.fragment && (is_dns_port(pi.sport) || is_dns_port(pi.dport)))
		capture_dns(skb, &key, &pi, egress);

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
			stat_add(FLOW_STAT_SELF, 1);
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
		ret = bpf_map_update_elem(map, &key, &init, BPF_NOEXIST);
		if (ret == 0) {
			/* counted once per flow created, not per packet of a flow the full map refused */
			if (!init.pid)
				stat_add(FLOW_STAT_NO_OWNER, 1);
			return 1;
		}
		if (ret != -17 /* EEXIST: another CPU created it first */) {
			stat_add(FLOW_STAT_MAP_FULL, 1);
			stat_add(FLOW_STAT_MAP_FULL_BYTES, bytes);
			return 1;
		}
		val = bpf_map_lookup_elem(map, &key);
		if (!val) {
			stat_add(FLOW_STAT_MAP_FULL, 1);
			stat_add(FLOW_STAT_MAP_FULL_BYTES, bytes);
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
