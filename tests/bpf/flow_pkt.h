/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Builders of the Ethernet frames fed to the cgroup_skb flow programs with BPF_PROG_TEST_RUN
 * (data_in is an Ethernet frame; the program then sees offset 0 at the IP header).
 *
 * A packet is built front to back: pkt_eth(), then an IP header, optional IPv6 extension
 * headers, an L4 header and payload, then pkt_finish() writes the IP length fields. Every
 * builder returns a pointer to the header it appended so a test can break it on purpose.
 * Addresses are text ("192.0.2.1", "2001:db8::1"); use documentation ranges only.
 */
#ifndef FLOWSCOPE_TESTS_FLOW_PKT_H
#define FLOWSCOPE_TESTS_FLOW_PKT_H

#include <arpa/inet.h>
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <net/ethernet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>

/* BPF_PROG_TEST_RUN takes up to a page minus skb head- and tailroom */
#define PKT_MAX 3584

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

struct pkt {
	uint8_t data[PKT_MAX];
	size_t len; /* bytes used, Ethernet header included */
	size_t l3; /* offset of the IP header */
	int ip_version; /* 4, 6, or 0 before an IP header was added */
};

/* skb->len as the program sees it: the frame without its Ethernet header. */
static inline size_t pkt_l3_len(const struct pkt *p)
{
	return p->len - p->l3;
}

static inline void *pkt_put(struct pkt *p, size_t n)
{
	void *h = p->data + p->len;

	assert(p->len + n <= sizeof(p->data));
	memset(h, 0, n);
	p->len += n;
	return h;
}

static inline void pkt_init(struct pkt *p, uint16_t ethertype)
{
	struct ether_header *eth;
	static const uint8_t dst[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t src[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x01 };

	memset(p, 0, sizeof(*p));
	eth = pkt_put(p, sizeof(*eth));
	memcpy(eth->ether_dhost, dst, ETH_ALEN);
	memcpy(eth->ether_shost, src, ETH_ALEN);
	eth->ether_type = htons(ethertype);
	p->l3 = p->len;
}

/* An IPv4 header without options; frame type ETH_P_IP. */
static inline struct iphdr *pkt_ipv4(struct pkt *p, uint8_t proto, const char *saddr,
				     const char *daddr)
{
	struct iphdr *ip;

	pkt_init(p, ETHERTYPE_IP);
	ip = pkt_put(p, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = proto;
	inet_pton(AF_INET, saddr, &ip->saddr);
	inet_pton(AF_INET, daddr, &ip->daddr);
	p->ip_version = 4;
	return ip;
}

/* An IPv6 header; frame type ETH_P_IPV6. */
static inline struct ip6_hdr *pkt_ipv6(struct pkt *p, uint8_t nexthdr, const char *saddr,
				       const char *daddr)
{
	struct ip6_hdr *ip6;

	pkt_init(p, ETHERTYPE_IPV6);
	ip6 = pkt_put(p, sizeof(*ip6));
	ip6->ip6_flow = htonl(6u << 28);
	ip6->ip6_nxt = nexthdr;
	ip6->ip6_hlim = 64;
	inet_pton(AF_INET6, saddr, &ip6->ip6_src);
	inet_pton(AF_INET6, daddr, &ip6->ip6_dst);
	p->ip_version = 6;
	return ip6;
}

/*
 * A generic IPv6 extension header of len bytes (a multiple of 8): hop-by-hop, routing or
 * destination options (RFC 8200 §4.3-4.6), padded with PadN so it stays well formed.
 */
static inline uint8_t *pkt_ipv6_ext(struct pkt *p, uint8_t nexthdr, size_t len)
{
	uint8_t *h;

	assert(len >= 8 && len % 8 == 0);
	h = pkt_put(p, len);
	h[0] = nexthdr;
	h[1] = (uint8_t)(len / 8 - 1);
	h[2] = 1; /* PadN over the rest */
	h[3] = (uint8_t)(len - 4);
	return h;
}

/* RFC 8200 §4.5: offset in 8-octet units, M flag for "more fragments". */
static inline struct ip6_frag *pkt_ipv6_frag(struct pkt *p, uint8_t nexthdr, uint16_t offset,
					     int more)
{
	struct ip6_frag *f = pkt_put(p, sizeof(*f));

	f->ip6f_nxt = nexthdr;
	f->ip6f_offlg = htons((uint16_t)(offset << 3) | (more ? 1 : 0));
	f->ip6f_ident = htonl(0x1234);
	return f;
}

/* RFC 4302 §2: AH with an icv_len-byte ICV; its length field is in 4-octet units minus 2. */
static inline uint8_t *pkt_ipv6_ah(struct pkt *p, uint8_t nexthdr, size_t icv_len)
{
	size_t len = 12 + icv_len;
	uint8_t *h;

	assert(len % 8 == 0);
	h = pkt_put(p, len);
	h[0] = nexthdr;
	h[1] = (uint8_t)(len / 4 - 2);
	h[7] = 1; /* SPI */
	h[11] = 1; /* sequence number */
	return h;
}

/* A TCP header of 20 + opt_len bytes (opt_len a multiple of 4, filled with NOPs). */
static inline struct tcphdr *pkt_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags,
				     size_t opt_len)
{
	struct tcphdr *th;

	assert(opt_len % 4 == 0 && opt_len <= 40);
	th = pkt_put(p, sizeof(*th) + opt_len);
	th->th_sport = htons(sport);
	th->th_dport = htons(dport);
	th->th_off = (uint8_t)((sizeof(*th) + opt_len) / 4);
	th->th_flags = flags;
	th->th_win = htons(65535);
	memset((uint8_t *)th + sizeof(*th), 1 /* NOP */, opt_len);
	return th;
}

static inline struct udphdr *pkt_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	struct udphdr *uh = pkt_put(p, sizeof(*uh));

	uh->uh_sport = htons(sport);
	uh->uh_dport = htons(dport);
	return uh;
}

/* ICMP (RFC 792) or ICMPv6 (RFC 4443) header; id is the echo identifier. */
static inline uint8_t *pkt_icmp(struct pkt *p, uint8_t type, uint16_t id)
{
	uint8_t *h = pkt_put(p, 8);

	h[0] = type;
	h[4] = (uint8_t)(id >> 8);
	h[5] = (uint8_t)id;
	h[7] = 1; /* sequence */
	return h;
}

static inline void pkt_payload(struct pkt *p, size_t n)
{
	uint8_t *d = pkt_put(p, n);

	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)i;
}

/* Writes the IP length fields (and UDP's) for the bytes appended so far. */
static inline void pkt_finish(struct pkt *p)
{
	if (p->ip_version == 4) {
		struct iphdr *ip = (struct iphdr *)(p->data + p->l3);

		ip->tot_len = htons((uint16_t)pkt_l3_len(p));
	} else if (p->ip_version == 6) {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)(p->data + p->l3);

		ip6->ip6_plen = htons((uint16_t)(pkt_l3_len(p) - sizeof(*ip6)));
	}
}

/* Cuts the frame to l3_len bytes after the Ethernet header. */
static inline void pkt_truncate(struct pkt *p, size_t l3_len)
{
	assert(p->l3 + l3_len <= p->len);
	p->len = p->l3 + l3_len;
}

/* Shorthands for the common shapes; sport/dport as on the wire. */
static inline void pkt_tcp4(struct pkt *p, const char *saddr, uint16_t sport, const char *daddr,
			    uint16_t dport, uint8_t flags, size_t payload)
{
	pkt_ipv4(p, IPPROTO_TCP, saddr, daddr);
	pkt_tcp(p, sport, dport, flags, 0);
	pkt_payload(p, payload);
	pkt_finish(p);
}

static inline void pkt_tcp6(struct pkt *p, const char *saddr, uint16_t sport, const char *daddr,
			    uint16_t dport, uint8_t flags, size_t payload)
{
	pkt_ipv6(p, IPPROTO_TCP, saddr, daddr);
	pkt_tcp(p, sport, dport, flags, 0);
	pkt_payload(p, payload);
	pkt_finish(p);
}

static inline void pkt_udp4(struct pkt *p, const char *saddr, uint16_t sport, const char *daddr,
			    uint16_t dport, size_t payload)
{
	struct udphdr *uh;

	pkt_ipv4(p, IPPROTO_UDP, saddr, daddr);
	uh = pkt_udp(p, sport, dport);
	pkt_payload(p, payload);
	uh->uh_ulen = htons((uint16_t)(sizeof(*uh) + payload));
	pkt_finish(p);
}

static inline void pkt_udp6(struct pkt *p, const char *saddr, uint16_t sport, const char *daddr,
			    uint16_t dport, size_t payload)
{
	struct udphdr *uh;

	pkt_ipv6(p, IPPROTO_UDP, saddr, daddr);
	uh = pkt_udp(p, sport, dport);
	pkt_payload(p, payload);
	uh->uh_ulen = htons((uint16_t)(sizeof(*uh) + payload));
	pkt_finish(p);
}

#endif /* FLOWSCOPE_TESTS_FLOW_PKT_H */
