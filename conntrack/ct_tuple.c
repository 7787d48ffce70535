// SPDX-License-Identifier: Apache-2.0
/* Tuples: validation, inverse, NAT detection, and parsing them out of ctnetlink messages. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ct_tuple.h"

static bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

static bool proto_is_icmp(uint8_t proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

int ct_tuple_check(struct ct_tuple *t)
{
	if (t->family == AF_INET) {
		memset(t->src.bytes + 4, 0, 12);
		memset(t->dst.bytes + 4, 0, 12);
		if (t->proto == IPPROTO_ICMPV6)
			return -EPROTONOSUPPORT;
	} else if (t->family == AF_INET6) {
		if (t->proto == IPPROTO_ICMP)
			return -EPROTONOSUPPORT;
	} else {
		return -EAFNOSUPPORT;
	}
	if (proto_is_icmp(t->proto))
		t->dst_port = 0;
	else if (!proto_has_ports(t->proto))
		return -EPROTONOSUPPORT;
	return 0;
}

bool ct_tuple_equal(const struct ct_tuple *a, const struct ct_tuple *b)
{
	/* struct ct_tuple has no padding (38 bytes of byte and u16 members) */
	return memcmp(a, b, sizeof(*a)) == 0;
}

void ct_tuple_inverse(const struct ct_tuple *t, struct ct_tuple *out)
{
	struct ct_tuple in = *t; /* out may alias t */

	out->family = in.family;
	out->proto = in.proto;
	out->src = in.dst;
	out->dst = in.src;
	if (proto_is_icmp(in.proto)) {
		/* conntrack keeps the echo id in the source slot of both directions */
		out->src_port = in.src_port;
		out->dst_port = 0;
	} else {
		out->src_port = in.dst_port;
		out->dst_port = in.src_port;
	}
}

bool ct_tuple_is_nat(const struct ct_tuple *orig_tuple, const struct ct_tuple *reply_tuple)
{
	struct ct_tuple inv;

	ct_tuple_inverse(orig_tuple, &inv);
	return !ct_tuple_equal(&inv, reply_tuple);
}

struct attr_table {
	const struct nlattr *tb[CTA_MAX + 1];
	int max;
};

static int collect_attr(const struct nlattr *attr, void *data)
{
	struct attr_table *t = data;
	int type = mnl_attr_get_type(attr);

	/* unknown attributes from newer kernels are skipped, not errors */
	if (type <= t->max)
		t->tb[type] = attr;
	return MNL_CB_OK;
}

static int parse_nested(const struct nlattr *nest, int max, struct attr_table *t)
{
	memset(t->tb, 0, sizeof(t->tb[0]) * (max + 1));
	t->max = max;
	return mnl_attr_parse_nested(nest, collect_attr, t) < 0 ? -EBADMSG : 0;
}

static int copy_addr(const struct nlattr *a, struct ct_addr *out, size_t len)
{
	if (!a || mnl_attr_get_payload_len(a) != len)
		return -EBADMSG;
	memset(out, 0, sizeof(*out));
	memcpy(out->bytes, mnl_attr_get_payload(a), len);
	return 0;
}

static int get_be16(const struct nlattr *a, uint16_t *out)
{
	if (!a || mnl_attr_get_payload_len(a) < sizeof(uint16_t))
		return -EBADMSG;
	*out = ntohs(mnl_attr_get_u16(a));
	return 0;
}

/* One CTA_TUPLE_ORIG / CTA_TUPLE_REPLY nest: CTA_TUPLE_IP and CTA_TUPLE_PROTO inside. */
static int parse_tuple(const struct nlattr *nest, uint8_t family, struct ct_tuple *t)
{
	struct attr_table tuple, ip, proto;
	int err;

	if (!nest)
		return -EBADMSG;
	memset(t, 0, sizeof(*t));
	t->family = family;
	err = parse_nested(nest, CTA_TUPLE_MAX, &tuple);
	if (err)
		return err;
	if (!tuple.tb[CTA_TUPLE_IP] || !tuple.tb[CTA_TUPLE_PROTO])
		return -EBADMSG;
	err = parse_nested(tuple.tb[CTA_TUPLE_IP], CTA_IP_MAX, &ip);
	if (err)
		return err;
	if (family == AF_INET) {
		err = copy_addr(ip.tb[CTA_IP_V4_SRC], &t->src, 4);
		if (!err)
			err = copy_addr(ip.tb[CTA_IP_V4_DST], &t->dst, 4);
	} else {
		err = copy_addr(ip.tb[CTA_IP_V6_SRC], &t->src, 16);
		if (!err)
			err = copy_addr(ip.tb[CTA_IP_V6_DST], &t->dst, 16);
	}
	if (err)
		return err;
	err = parse_nested(tuple.tb[CTA_TUPLE_PROTO], CTA_PROTO_MAX, &proto);
	if (err)
		return err;
	if (!proto.tb[CTA_PROTO_NUM])
		return -EBADMSG;
	t->proto = mnl_attr_get_u8(proto.tb[CTA_PROTO_NUM]);
	if (proto_has_ports(t->proto)) {
		err = get_be16(proto.tb[CTA_PROTO_SRC_PORT], &t->src_port);
		if (!err)
			err = get_be16(proto.tb[CTA_PROTO_DST_PORT], &t->dst_port);
	} else if (t->proto == IPPROTO_ICMP) {
		err = get_be16(proto.tb[CTA_PROTO_ICMP_ID], &t->src_port);
	} else if (t->proto == IPPROTO_ICMPV6) {
		err = get_be16(proto.tb[CTA_PROTO_ICMPV6_ID], &t->src_port);
	} else {
		return -EPROTONOSUPPORT;
	}
	if (err)
		return err;
	return ct_tuple_check(t);
}

int ct_tuples_from_nlmsg(const struct nlmsghdr *nlh, struct ct_tuple *orig_tuple,
			 struct ct_tuple *reply_tuple)
{
	const struct nfgenmsg *nfg;
	struct attr_table top;
	int err;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nfg)))
		return -EBADMSG;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6)
		return -EPROTONOSUPPORT;
	memset(top.tb, 0, sizeof(top.tb));
	top.max = CTA_MAX;
	if (mnl_attr_parse(nlh, sizeof(*nfg), collect_attr, &top) < 0)
		return -EBADMSG;
	err = parse_tuple(top.tb[CTA_TUPLE_ORIG], nfg->nfgen_family, orig_tuple);
	if (!err)
		err = parse_tuple(top.tb[CTA_TUPLE_REPLY], nfg->nfgen_family, reply_tuple);
	return err;
}
