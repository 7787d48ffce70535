/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS capture for the flow programs: the packets on a DNS port (--dns-ports) go to user space
 * through the `dns_events` ring buffer as struct dns_event records (dns_capture.h), during the
 * same pass over the packet that accounts the flow. The includer defines its per-CPU counter map
 * (STATS_MAP, enum flow_stat slots FLOW_STAT_DNS_*) first and names it in DNS_CAPTURE_STATS.
 *
 *	STATS_MAP(stats, FLOW_STAT_MAX);
 *	#define DNS_CAPTURE_STATS stats
 *	#include "dns_capture.bpf.h"
 *	...
 *	if (!pi.fragment && dns_port(pi.sport, pi.dport) && dns_has_payload(skb, &pi))
 *		dns_capture(skb, &key, &pi, owner, egress);
 */
#ifndef FLOWSCOPE_DNS_CAPTURE_BPF_H
#define FLOWSCOPE_DNS_CAPTURE_BPF_H

#include <bpf/bpf_helpers.h>
#include "dns_capture.h"
#include "flow.h"
#include "parse.bpf.h"
#include "ringbuf.bpf.h"
#include "stats.bpf.h"

#ifndef DNS_CAPTURE_STATS
#error "define DNS_CAPTURE_STATS as the includer's per-CPU counter map (STATS_MAP, enum flow_stat)"
#endif

/* Ports whose UDP/TCP payload is DNS (--dns-ports), one bit per port. */
const volatile __u32 dns_port_bitmap[DNS_PORT_BITMAP_WORDS] = {};

RINGBUF_MAP(dns_events, DNS_RINGBUF_BYTES);

/* Whether either port (host order) is a DNS port. */
static __always_inline bool dns_port(__u16 sport, __u16 dport)
{
	return (dns_port_bitmap[sport >> 5] & (1u << (sport & 31))) ||
	       (dns_port_bitmap[dport >> 5] & (1u << (dport & 31)));
}

/*
 * Whether the packet is worth an event: it has L4 payload, or it is a TCP segment whose
 * SYN/FIN/RST marks a stream boundary.
 */
static __always_inline bool dns_has_payload(const struct __sk_buff *skb, const struct pkt_info *pi)
{
	return skb->len > pi->l3_len + pi->l4_len ||
	       (pi->proto == IPPROTO_TCP &&
		(pi->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_SYN | TCP_FLAG_RST)));
}

/*
 * Most L4 payload bytes captured per packet (--dns-capture-max-bytes); the rest of a longer
 * packet is counted (FLOW_STAT_DNS_TRUNCATED) and flagged on its last piece.
 */
const volatile __u32 dns_capture_max_bytes = DNS_CAPTURE_MAX_BYTES_DEFAULT;

/*
 * Hands a DNS packet to user space: its header facts and up to dns_capture_max_bytes of its L4
 * payload, in consecutive pieces of DNS_CAPTURE_MAX bytes (struct dns_event), so that a UDP
 * answer of any size (EDNS(0) allows up to 65535 bytes; at ingress a fragmented datagram arrives
 * reassembled) or a TCP GSO/GRO skb is seen whole. TCP pieces carry their own sequence numbers;
 * UDP pieces their offset in the datagram, which user space reassembles (dns/dns_udp.c). A
 * piece that finds the ring buffer full is counted (FLOW_STAT_DNS_RINGBUF_FULL) and ends the
 * packet's capture: the pieces already submitted stand, and user space counts the datagram as
 * incomplete, or the TCP stream as having a gap. Pieces handed over are counted in
 * FLOW_STAT_DNS_EVENTS, a packet cut by the bound in FLOW_STAT_DNS_TRUNCATED.
 *
 * A global function, so the verifier checks its loop of DNS_MAX_PIECES once per program, on its
 * own, rather than once for every path of the program that reaches it (inlined, that was 317k
 * instructions per program and up to a second per load). Its pointer arguments may then be NULL
 * as far as the verifier knows. Returns the number of pieces handed over.
 */
__noinline int dns_capture(struct __sk_buff *skb, const struct flow_key *key,
			   const struct pkt_info *pi, const struct sock_owner *owner, __u32 egress)
{
	/*
	 * The packet key and the other fields that are the same on every piece, gathered once, so
	 * that the loop body has no branch on them: every branch in the body would multiply the
	 * states the verifier walks through DNS_MAX_PIECES iterations.
	 */
	struct {
		__u64 ts_ns, cgroup_id;
		__u32 pid, cpu;
		char comm[16];
		__u8 saddr[16], daddr[16];
		__u16 sport, dport;
		__u8 ip_version, proto, flags, tcp_flags;
	} h = {};
	__u32 off, plen, want, n, done = 0, seq0 = 0, piece;
	__u8 fin_rst = 0;
	struct dns_event *ev;
	int ret = 0, i;

	_Static_assert(sizeof(h) == __builtin_offsetof(struct dns_event, piece_flags), "h is the "
										       "head of "
										       "struct "
										       "dns_event");
	if (!skb || !key || !pi)
		return 0;
	off = pi->l3_len + pi->l4_len;
	plen = skb->len > off ? skb->len - off : 0;
	want = plen < dns_capture_max_bytes ? plen : dns_capture_max_bytes;
	/* pieces: at least one (a TCP SYN/FIN/RST without payload), at most DNS_MAX_PIECES */
	n = want ? (want + DNS_CAPTURE_MAX - 1) / DNS_CAPTURE_MAX : 1;
	if (n > DNS_MAX_PIECES)
		n = DNS_MAX_PIECES;
	h.ts_ns = bpf_ktime_get_boot_ns();
	h.cgroup_id = key->cgroup_id;
	h.cpu = bpf_get_smp_processor_id();
	/* clang would compute &owner->comm ahead of the NULL test, and the verifier (6.18) refuses
	 * arithmetic on a maybe-NULL pointer: test, then copy */
	if (owner) {
		h.pid = owner->tgid;
		__builtin_memcpy(h.comm, owner->comm, sizeof(h.comm));
	}
	if (egress) {
		__builtin_memcpy(h.saddr, key->laddr, 16);
		__builtin_memcpy(h.daddr, key->raddr, 16);
		h.flags = DNS_EV_F_EGRESS;
	} else {
		__builtin_memcpy(h.saddr, key->raddr, 16);
		__builtin_memcpy(h.daddr, key->laddr, 16);
	}
	h.sport = pi->sport;
	h.dport = pi->dport;
	h.ip_version = key->ip_version;
	h.proto = pi->proto;
	if (pi->proto == IPPROTO_TCP) {
		seq0 = pi->tcp_seq;
		/* SYN opens the first piece, FIN/RST close the last one */
		h.tcp_flags = pi->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK);
		fin_rst = pi->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST);
	}

	/* every piece but the last: DNS_CAPTURE_MAX bytes */
	for (i = 0; i < DNS_MAX_PIECES - 1 && i < (int)n - 1; i++) {
		ev = ringbuf_reserve_or_count(&dns_events, sizeof(*ev), &DNS_CAPTURE_STATS,
					      FLOW_STAT_DNS_RINGBUF_FULL);
		if (!ev)
			goto out;
		__builtin_memcpy(ev, &h, sizeof(h));
		h.tcp_flags &= ~TCP_FLAG_SYN;
		ev->piece_flags = 0;
		ev->pad[0] = ev->pad[1] = ev->pad[2] = 0;
		ev->tcp_seq = h.proto == IPPROTO_TCP ? seq0 + done : 0;
		ev->offset = done;
		ev->payload_len = h.proto == IPPROTO_TCP ? DNS_CAPTURE_MAX : plen;
		ev->cap_len = bpf_skb_load_bytes(skb, off + done, ev->payload, DNS_CAPTURE_MAX)
				      ? 0
				      : DNS_CAPTURE_MAX;
		bpf_ringbuf_submit(ev, 0);
		ret++;
		done += DNS_CAPTURE_MAX;
	}

	/* the last piece: the rest of want; for TCP it stands for the rest of the skb */
	ev = ringbuf_reserve_or_count(&dns_events, sizeof(*ev), &DNS_CAPTURE_STATS,
				      FLOW_STAT_DNS_RINGBUF_FULL);
	if (!ev)
		goto out;
	__builtin_memcpy(ev, &h, sizeof(h));
	ev->tcp_flags |= fin_rst;
	ev->piece_flags = DNS_PIECE_F_LAST;
	ev->pad[0] = ev->pad[1] = ev->pad[2] = 0;
	ev->tcp_seq = h.proto == IPPROTO_TCP ? seq0 + done : 0;
	ev->offset = done;
	ev->payload_len = h.proto == IPPROTO_TCP ? plen - done : plen;
	piece = want > done ? want - done : 0;
	if (plen > done + piece) {
		ev->piece_flags |= DNS_PIECE_F_TRUNCATED;
		stats_add(&DNS_CAPTURE_STATS, FLOW_STAT_DNS_TRUNCATED, 1);
	}
	ev->cap_len = 0;
	/* the verifier needs a non-zero length with a constant upper bound; the barrier keeps
	 * clang from testing want > done instead of piece > 0, which leaves piece unbounded below */
	barrier_var(piece);
	if (piece > 0 && piece <= DNS_CAPTURE_MAX &&
	    bpf_skb_load_bytes(skb, off + done, ev->payload, piece) == 0)
		ev->cap_len = piece;
	bpf_ringbuf_submit(ev, 0);
	ret++;
out:
	stats_add(&DNS_CAPTURE_STATS, FLOW_STAT_DNS_EVENTS, ret);
	return ret;
}

#endif /* FLOWSCOPE_DNS_CAPTURE_BPF_H */
