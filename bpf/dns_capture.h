/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* DNS packets handed from the cgroup_skb programs to user space through the `dns_events` ring. */
#ifndef FLOWSCOPE_DNS_CAPTURE_H
#define FLOWSCOPE_DNS_CAPTURE_H

/*
 * Payload bytes per event. A packet's L4 payload (a UDP datagram, which at cgroup_skb ingress
 * arrives reassembled from its IP fragments, or a TCP skb, which GSO/GRO can make tens of KiB)
 * is handed over in consecutive events ("pieces") of DNS_CAPTURE_MAX bytes, up to
 * DNS_MAX_PIECES of them: 64 KiB, the most a UDP datagram or an skb carries.
 */
#define DNS_CAPTURE_MAX 1536
#define DNS_MAX_PIECES 43 /* ceil(65535 / DNS_CAPTURE_MAX) */
/* Default of dns_capture_max_bytes (--dns-capture-max-bytes): a whole DNS message. */
#define DNS_CAPTURE_MAX_BYTES_DEFAULT 65535
#define DNS_RINGBUF_BYTES (4u << 20)
#define DNS_PORT_BITMAP_WORDS (65536 / 32)

/* Bits of dns_event.flags: the same on every piece of a packet. */
#define DNS_EV_F_EGRESS 0x01 /* sent by the cgroup's socket; else received */

/* Bits of dns_event.piece_flags. */
#define DNS_PIECE_F_LAST 0x01 /* the packet's last piece: no more follow */
/* last piece: the capture stopped short of the packet's end (dns_capture_max_bytes, or more than
 * DNS_MAX_PIECES pieces); payload_len tells how long the payload was */
#define DNS_PIECE_F_TRUNCATED 0x02

/*
 * One piece of a DNS packet. Addresses and ports as on the packet (saddr = the packet's source),
 * not local/remote. Every piece of one packet carries the same bytes before tcp_flags (the packet
 * key, DNS_EVENT_KEY_LEN bytes: ts_ns and cpu tell one program run from any other), and pieces of
 * one packet are reserved in order on one CPU, so they reach user space in order.
 */
struct dns_event {
	__u64 ts_ns; /* bpf_ktime_get_boot_ns() of the packet */
	__u64 cgroup_id;
	__u32 pid;
	__u32 cpu; /* bpf_get_smp_processor_id() */
	char comm[16];
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 ip_version;
	__u8 proto;
	__u8 flags; /* DNS_EV_F_* */
	/* end of the packet key */
	__u8 tcp_flags; /* TCP: SYN on the first piece, FIN/RST on the last one */
	__u8 piece_flags; /* DNS_PIECE_F_* */
	__u8 pad[3];
	__u32 tcp_seq; /* TCP: sequence number of payload[0] (host order); UDP: 0 */
	__u32 offset; /* of payload[0] in the packet's L4 payload */
	__u32 payload_len; /* UDP: length of the whole datagram payload (every piece). TCP: bytes of
			      the stream this piece stands for; the last piece covers the rest of
			      the skb, captured or not */
	__u32 cap_len; /* bytes in payload[] */
	__u8 payload[DNS_CAPTURE_MAX];
};

/* Length of the packet key at the start of struct dns_event. */
#define DNS_EVENT_KEY_LEN __builtin_offsetof(struct dns_event, tcp_flags)

#endif /* FLOWSCOPE_DNS_CAPTURE_H */
