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
 * Hands a DNS packet to user space: header facts and its payload. A UDP datagram is one event
 * with up to DNS_CAPTURE_MAX payload bytes. A TCP skb can be a GSO/GRO super-packet carrying a
 * whole large answer (the reason DNS uses TCP), so its payload is cut into consecutive events of
 * DNS_CAPTURE_MAX bytes, each with its own sequence number, up to DNS_TCP_MAX_CHUNKS of them;
 * what is left beyond is reported as missing (DNS_EV_F_TRUNCATED).
 */
static __always_inline void dns_capture(struct __sk_buff *skb, const struct flow_key *key,
					const struct pkt_info *pi, bool egress,
					const struct sock_owner *owner, void *stats)
{
	__u32 off = pi->l3_len + pi->l4_len;
	__u32 plen = skb->len > off ? skb->len - off : 0;
	bool tcp = pi->proto == IPPROTO_TCP;
	__u32 done = 0;
	__u64 ts;

	ts = bpf_ktime_get_boot_ns();

	for (int i = 0; i < DNS_TCP_MAX_CHUNKS; i++) {
		__u32 left = plen - done, piece = left > DNS_CAPTURE_MAX ? DNS_CAPTURE_MAX : left;
		bool last = !tcp || i == DNS_TCP_MAX_CHUNKS - 1 || left <= DNS_CAPTURE_MAX;
		struct dns_event *ev = ringbuf_reserve_or_count(&dns_events, sizeof(*ev), stats,
								FLOW_STAT_DNS_RINGBUF_FULL);

		/* later pieces of a TCP skb show up as a gap in the stream */
		if (!ev)
			return;
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
		ev->tcp_flags = pi->tcp_flags &
				((i == 0 ? TCP_FLAG_SYN : 0) |
				 (last ? TCP_FLAG_FIN | TCP_FLAG_RST : 0) | TCP_FLAG_ACK);
		ev->tcp_seq = pi->tcp_seq + done;
		ev->flags = egress ? DNS_EV_F_EGRESS : 0;
		/* a piece's length; the last one covers the rest of the skb, captured or not */
		ev->payload_len = last ? left : piece;
		if (left > DNS_CAPTURE_MAX && last) {
			ev->flags |= DNS_EV_F_TRUNCATED;
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
