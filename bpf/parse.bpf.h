/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Packet parsing for skb programs that see the packet from its IP header on (cgroup_skb): IPv4,
 * IPv6 with its extension headers, and the TCP/UDP/ICMP/ICMPv6 header, into struct pkt_info.
 * Headers are read in place when they lie in the skb's linear part, through bpf_skb_load_bytes()
 * otherwise. Every length is checked against skb->len: a header cut short is an error (-1), never
 * a read past the packet.
 *
 *	struct pkt_info pi = {};
 *	ret = parse_ipv4(skb, laddr, raddr, &pi, egress);   // 0 parsed, 1 not accounted, -1 bad
 */
#ifndef FLOWSCOPE_PARSE_BPF_H
#define FLOWSCOPE_PARSE_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

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
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

/* IPv6 extension headers walked before giving up on finding the L4 header. */
#define MAX_IPV6_EXT_HDRS 6

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
	__u8 ip_version; /* 4 or 6 */
	__u8 proto; /* IPPROTO_* of the L4 header (after IPv6 extension headers) */
	__u8 tcp_flags; /* TCP header byte 13 */
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

/*
 * Walks an IPv4 packet at offset 0 (cgroup_skb and tc after the MAC header pull): fills pi, and
 * laddr/raddr (16 bytes each, IPv4 in the first 4, the rest left as they are) with the local and
 * remote address: source and destination on egress, the other way round on ingress. Returns as
 * parse_l4(); -1 also for a header that is not IPv4.
 */
static __always_inline int parse_ipv4(struct __sk_buff *skb, __u8 *laddr, __u8 *raddr,
				      struct pkt_info *pi, bool egress)
{
	struct iphdr buf, *ip = hdr_ptr(skb, 0, &buf, sizeof(buf));
	__u32 ihl;

	if (!ip)
		return -1;
	ihl = ip->ihl * 4;
	if (ip->version != 4 || ihl < sizeof(*ip))
		return -1;
	pi->ip_version = 4;
	if (egress) {
		*(__u32 *)laddr = ip->saddr;
		*(__u32 *)raddr = ip->daddr;
	} else {
		*(__u32 *)laddr = ip->daddr;
		*(__u32 *)raddr = ip->saddr;
	}
	pi->proto = ip->protocol;
	pi->l3_len = ihl;
	/* fragment offset != 0: the L4 header is in the first fragment only */
	pi->fragment = (bpf_ntohs(ip->frag_off) & 0x1fff) != 0;
	return parse_l4(skb, ihl, pi);
}

/*
 * Walks an IPv6 packet at offset 0 and up to MAX_IPV6_EXT_HDRS extension headers (RFC 8200 §4):
 * as parse_ipv4(), with 16-byte addresses; -1 also when more extension headers follow.
 */
static __always_inline int parse_ipv6(struct __sk_buff *skb, __u8 *laddr, __u8 *raddr,
				      struct pkt_info *pi, bool egress)
{
	struct ipv6hdr ip6;
	__u32 off = sizeof(ip6);
	__u8 nexthdr;

	if (load_hdr(skb, 0, &ip6, sizeof(ip6)))
		return -1;
	if (ip6.version != 6)
		return -1;
	pi->ip_version = 6;
	if (egress) {
		__builtin_memcpy(laddr, &ip6.saddr, 16);
		__builtin_memcpy(raddr, &ip6.daddr, 16);
	} else {
		__builtin_memcpy(laddr, &ip6.daddr, 16);
		__builtin_memcpy(raddr, &ip6.saddr, 16);
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

#endif /* FLOWSCOPE_PARSE_BPF_H */
