/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS capture for the flow programs: the packets on a DNS port (--dns-ports) go to user space
 * through the `dns_events` ring buffer as struct dns_event records (dns_capture.h), during the
 * same pass over the packet that accounts the flow. The includer defines the per-CPU counter map
 * (enum flow_stat slots FLOW_STAT_DNS_*) and passes it in.
 *
 *	if (!pi.fragment && dns_port(pi.sport, pi.dport) && dns_has_payload(skb, &pi))
 *		dns_capture(skb, &key, &pi, egress, owner, &stats);
 */
#ifndef FLOWSCOPE_DNS_CAPTURE_BPF_H
#define FLOWSCOPE_DNS_CAPTURE_BPF_H

#include <bpf/bpf_helpers.h>
#include "dns_capture.h"
#include "flow.h"
#include "parse.bpf.h"
#include "ringbuf.bpf.h"
#include "stats.bpf.h"

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
 * incomplete, or the TCP stream as having a gap.
 */
static __always_inline void dns_capture(struct __sk_buff *skb, const struct flow_key *key,
					const struct pkt_info *pi, bool egress,
					const struct sock_owner *owner, void *stats)
{
	__u32 off = pi->l3_len + pi->l4_len;
	__u32 plen = skb->len > off ? skb->len - off : 0;
	__u32 want = plen < dns_capture_max_bytes ? plen : dns_capture_max_bytes;
	bool tcp = pi->proto == IPPROTO_TCP;
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 ts = bpf_ktime_get_boot_ns();
	__u32 done = 0;

	for (int i = 0; i < DNS_MAX_PIECES; i++) {
		__u32 left = want - done, piece = left > DNS_CAPTURE_MAX ? DNS_CAPTURE_MAX : left;
		bool last = i == DNS_MAX_PIECES - 1 || left <= DNS_CAPTURE_MAX;
		struct dns_event *ev = ringbuf_reserve_or_count(&dns_events, sizeof(*ev), stats,
								FLOW_STAT_DNS_RINGBUF_FULL);

		if (!ev)
			return;
		ev->ts_ns = ts;
		ev->cgroup_id = key->cgroup_id;
		ev->cpu = cpu;
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
		ev->flags = egress ? DNS_EV_F_EGRESS : 0;
		/* SYN opens the first piece, FIN/RST close the last one */
		ev->tcp_flags = pi->tcp_flags &
				((i == 0 ? TCP_FLAG_SYN : 0) |
				 (last ? TCP_FLAG_FIN | TCP_FLAG_RST : 0) | TCP_FLAG_ACK);
		ev->piece_flags = last ? DNS_PIECE_F_LAST : 0;
		ev->pad[0] = ev->pad[1] = ev->pad[2] = 0;
		ev->tcp_seq = tcp ? pi->tcp_seq + done : 0;
		ev->offset = done;
		if (tcp)
			ev->payload_len = last ? plen - done : piece;
		else
			ev->payload_len = plen;
		if (last && plen > done + piece) {
			ev->piece_flags |= DNS_PIECE_F_TRUNCATED;
			stats_add(stats, FLOW_STAT_DNS_TRUNCATED, 1);
		}
		ev->cap_len = 0;
		/* the verifier needs a non-zero length with a constant upper bound */
		if (piece > 0 && piece <= DNS_CAPTURE_MAX &&
		    bpf_skb_load_bytes(skb, off + done, ev->payload, piece) == 0)
			ev->cap_len = piece;
		stats_add(stats, FLOW_STAT_DNS_EVENTS, 1);
		bpf_ringbuf_submit(ev, 0);
		done += piece;
		if (last)
			break;
	}
}

#endif /* FLOWSCOPE_DNS_CAPTURE_BPF_H */
