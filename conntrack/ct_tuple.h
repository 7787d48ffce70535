/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conntrack tuples: the key of a connection in one direction, as ctnetlink describes it, and the
 * few operations on them that the table and the netlink side share. Pure functions, no I/O.
 */
#ifndef FLOWSCOPE_CT_TUPLE_H
#define FLOWSCOPE_CT_TUPLE_H

#include <stdbool.h>
#include <stdint.h>

struct nlmsghdr;

/* An IP address, network order; for AF_INET only bytes[0..3] are used, the rest must be zero. */
struct ct_addr {
	uint8_t bytes[16];
};

/*
 * One direction of a connection, as conntrack's CTA_TUPLE_ORIG / CTA_TUPLE_REPLY describe it.
 * Ports are in host order. ICMP and ICMPv6 entries are identified by the echo identifier
 * (CTA_PROTO_ICMP_ID / CTA_PROTO_ICMPV6_ID), carried in src_port in both directions; dst_port is 0.
 * Type and code are not part of the key (only echo-style queries have conntrack entries keyed by
 * id).
 */
struct ct_tuple {
	struct ct_addr src; /* CTA_IP_V4_SRC / CTA_IP_V6_SRC */
	struct ct_addr dst; /* CTA_IP_V4_DST / CTA_IP_V6_DST */
	uint16_t src_port; /* CTA_PROTO_SRC_PORT; ICMP: CTA_PROTO_ICMP(V6)_ID */
	uint16_t dst_port; /* CTA_PROTO_DST_PORT; ICMP: 0 */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t proto; /* IPPROTO_TCP, _UDP, _SCTP, _ICMP (AF_INET only), _ICMPV6 (AF_INET6 only) */
};

/* Where the table learnt an entry from; decides what a copy of a known entry may change. */
enum ct_source {
	CT_FROM_DUMP = 0, /* a dump of the table (initial sync, resync, refresh) */
	CT_FROM_EVENT = 1, /* a NEW event: the entry was created about when it was read */
	CT_FROM_GET = 2, /* the answer to a point GET: the entry is alive now */
};

/*
 * Validate a tuple and zero its unused bytes (IPv4 bytes[4..15], ICMP dst_port) so that tuples
 * compare with memcmp. Returns 0, -EAFNOSUPPORT or -EPROTONOSUPPORT.
 */
int ct_tuple_check(struct ct_tuple *t);

/* Byte equality of two checked tuples. */
bool ct_tuple_equal(const struct ct_tuple *a, const struct ct_tuple *b);

/* inverse(t): src and dst swapped; for ICMP/ICMPv6 the id stays in src_port. */
void ct_tuple_inverse(const struct ct_tuple *t, struct ct_tuple *out);

/* True when reply_tuple is not the inverse of orig_tuple, i.e. conntrack translated the flow. */
bool ct_tuple_is_nat(const struct ct_tuple *orig_tuple, const struct ct_tuple *reply_tuple);

/*
 * Parse an IPCTNL_MSG_CT_NEW/DELETE message (event, dump or GET answer) into its two tuples.
 * The message is untrusted bytes. Returns 0, -EBADMSG when tuples are missing or malformed,
 * -EPROTONOSUPPORT for families and protocols that are not tracked (GRE, DCCP, bridge, ...).
 */
int ct_tuples_from_nlmsg(const struct nlmsghdr *nlh, struct ct_tuple *orig_tuple,
			 struct ct_tuple *reply_tuple);

#endif /* FLOWSCOPE_CT_TUPLE_H */
