/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* DNS packets handed from the cgroup_skb programs to user space through the `dns_events` ring. */
#ifndef FLOWSCOPE_DNS_CAPTURE_H
#define FLOWSCOPE_DNS_CAPTURE_H

/*
 * Payload bytes per event. Covers any UDP answer up to the common EDNS(0) size of 1232; longer
 * datagrams are cut and flagged (DNS_EV_F_TRUNCATED, FLOW_STAT_DNS_TRUNCATED). A TCP skb (GSO/GRO
 * can make it tens of kB) is split into up to DNS_TCP_MAX_CHUNKS consecutive events.
 */
#define DNS_CAPTURE_MAX 1536
#define DNS_TCP_MAX_CHUNKS 16
#define DNS_RINGBUF_BYTES (4u << 20)
#define DNS_PORT_BITMAP_WORDS (65536 / 32)

#define DNS_EV_F_EGRESS 0x01 /* sent by the cgroup's socket; else received */
#define DNS_EV_F_TRUNCATED 0x02 /* payload_len > DNS_CAPTURE_MAX */
#define DNS_EV_F_CGROUP_V1 0x04 /* cgroup_id is a v1 memory cgroup's (flow_key.cgroup_version 1) */

/* Addresses and ports as on the packet (saddr = the packet's source), not local/remote. */
struct dns_event {
	__u64 ts_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;
	__u32 pid;
	__u32 tcp_seq; /* TCP: sequence number of the first payload byte (host order) */
	char comm[16];
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 ip_version;
	__u8 proto;
	__u8 flags; /* DNS_EV_F_* */
	__u8 tcp_flags;
	__u32 payload_len; /* bytes of the stream this event stands for: a piece of the skb's L4
			      payload, or (last piece, UDP) all of the rest */
	__u32 cap_len; /* bytes in payload[]; payload_len - cap_len were not captured */
	__u8 payload[DNS_CAPTURE_MAX];
};

#endif /* FLOWSCOPE_DNS_CAPTURE_H */
