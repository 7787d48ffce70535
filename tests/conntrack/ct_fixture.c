// SPDX-License-Identifier: Apache-2.0
/* Test fixture: build ctnetlink requests with libnetfilter_conntrack, send them in batches. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ct_fixture.h"

#define FX_BATCH 256
#define FX_BUF (256U << 10)

struct ct_fixture {
	struct mnl_socket *sock;
	uint32_t seq;
	uint32_t queued; /* requests in buf */
	size_t len; /* bytes in buf */
	char buf[FX_BUF];
	char rbuf[FX_BUF];
};

struct ct_tuple fx_tuple(uint8_t proto, const char *src, uint16_t sport, const char *dst,
			 uint16_t dport)
{
	struct ct_tuple t;

	memset(&t, 0, sizeof(t));
	t.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	inet_pton(t.family, src, t.src.bytes);
	inet_pton(t.family, dst, t.dst.bytes);
	t.proto = proto;
	t.src_port = sport;
	t.dst_port = dport;
	return t;
}

int fx_open(const char *netns_path, struct ct_fixture **out)
{
	struct ct_fixture *fx;
	int self = -1, target = -1;
	int bytes = 16 << 20;
	int err = 0;

	fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -ENOMEM;
	if (netns_path) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		target = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0) {
			err = -errno;
			goto cleanup;
		}
	}
	fx->sock = mnl_socket_open(NETLINK_NETFILTER);
	if (!fx->sock || mnl_socket_bind(fx->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		err = -errno;
	else
		setsockopt(mnl_socket_get_fd(fx->sock), SOL_SOCKET, SO_RCVBUFFORCE, &bytes,
			   sizeof(bytes));
	if (netns_path && setns(self, CLONE_NEWNET) < 0)
		abort(); /* a test thread stuck in the wrong namespace must not go on */
cleanup:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	if (err) {
		fx_close(fx);
		return err;
	}
	*out = fx;
	return 0;
}

void fx_close(struct ct_fixture *fx)
{
	if (!fx)
		return;
	if (fx->sock)
		mnl_socket_close(fx->sock);
	free(fx);
}

static void set_tuple(struct nf_conntrack *ct, const struct ct_tuple *t, bool reply)
{
	if (t->family == AF_INET) {
		uint32_t a;

		memcpy(&a, t->src.bytes, 4);
		nfct_set_attr_u32(ct, reply ? ATTR_REPL_IPV4_SRC : ATTR_IPV4_SRC, a);
		memcpy(&a, t->dst.bytes, 4);
		nfct_set_attr_u32(ct, reply ? ATTR_REPL_IPV4_DST : ATTR_IPV4_DST, a);
	} else {
		nfct_set_attr(ct, reply ? ATTR_REPL_IPV6_SRC : ATTR_IPV6_SRC, t->src.bytes);
		nfct_set_attr(ct, reply ? ATTR_REPL_IPV6_DST : ATTR_IPV6_DST, t->dst.bytes);
	}
	nfct_set_attr_u8(ct, reply ? ATTR_REPL_L3PROTO : ATTR_L3PROTO, t->family);
	nfct_set_attr_u8(ct, reply ? ATTR_REPL_L4PROTO : ATTR_L4PROTO, t->proto);
	if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6) {
		if (reply)
			return; /* the kernel derives the reply's type; id is shared */
		nfct_set_attr_u8(ct, ATTR_ICMP_TYPE, t->proto == IPPROTO_ICMP ? 8 : 128);
		nfct_set_attr_u8(ct, ATTR_ICMP_CODE, 0);
		nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(t->src_port));
		return;
	}
	nfct_set_attr_u16(ct, reply ? ATTR_REPL_PORT_SRC : ATTR_PORT_SRC, htons(t->src_port));
	nfct_set_attr_u16(ct, reply ? ATTR_REPL_PORT_DST : ATTR_PORT_DST, htons(t->dst_port));
}

static int queue(struct ct_fixture *fx, int type, uint16_t flags, const struct ct_tuple *orig,
		 const struct ct_tuple *reply)
{
	struct nf_conntrack *ct;
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int err = 0;

	if (fx->len + 1024 > sizeof(fx->buf) || fx->queued == FX_BATCH) {
		err = fx_flush(fx);
		if (err)
			return err;
	}
	ct = nfct_new();
	if (!ct)
		return -ENOMEM;
	set_tuple(ct, orig, false);
	if (reply) {
		set_tuple(ct, reply, true);
		nfct_set_attr_u32(ct, ATTR_TIMEOUT, 3600);
		if (orig->proto == IPPROTO_TCP)
			nfct_set_attr_u8(ct, ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
	}
	nlh = mnl_nlmsg_put_header(fx->buf + fx->len);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++fx->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = orig->family;
	nfg->version = NFNETLINK_V0;
	if (nfct_nlmsg_build(nlh, ct) < 0)
		err = -errno;
	nfct_destroy(ct);
	if (err)
		return err;
	fx->len += nlh->nlmsg_len;
	fx->queued++;
	return 0;
}

int fx_create(struct ct_fixture *fx, const struct ct_tuple *orig_tuple,
	      const struct ct_tuple *reply_tuple)
{
	return queue(fx, IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL, orig_tuple, reply_tuple);
}

int fx_delete(struct ct_fixture *fx, const struct ct_tuple *orig_tuple)
{
	return queue(fx, IPCTNL_MSG_CT_DELETE, 0, orig_tuple, NULL);
}

int fx_flush(struct ct_fixture *fx)
{
	int err = 0;

	if (!fx->queued)
		return 0;
	if (mnl_socket_sendto(fx->sock, fx->buf, fx->len) < 0)
		return -errno;
	/* one ack (NLMSG_ERROR, 0 or -errno) per request */
	while (fx->queued) {
		ssize_t n = mnl_socket_recvfrom(fx->sock, fx->rbuf, sizeof(fx->rbuf));
		struct nlmsghdr *nlh = (struct nlmsghdr *)fx->rbuf;
		int left = (int)n;

		if (n < 0)
			return -errno;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (e->error && !err)
				err = e->error;
			fx->queued--;
		}
	}
	fx->len = 0;
	return err;
}

int fx_last_netfilter_socket(void)
{
	struct sockaddr_nl sa;
	socklen_t len;
	int proto, best = -ENOENT;

	/* descriptors are handed out lowest first: the socket opened last is normally the highest */
	for (int fd = 3; fd < 1024; fd++) {
		len = sizeof(proto);
		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0 ||
		    proto != NETLINK_NETFILTER)
			continue;
		len = sizeof(sa);
		if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
		    sa.nl_family != AF_NETLINK || sa.nl_groups)
			continue;
		best = fd;
	}
	return best;
}

int fx_send_get(int fd, const struct ct_tuple *t, uint32_t seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nf_conntrack *ct = nfct_new();
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int ret;

	if (!ct)
		return -ENOMEM;
	nfct_set_attr_u8(ct, ATTR_L3PROTO, t->family);
	nfct_set_attr_u8(ct, ATTR_L4PROTO, t->proto);
	if (t->family == AF_INET) {
		uint32_t a;

		memcpy(&a, t->src.bytes, 4);
		nfct_set_attr_u32(ct, ATTR_IPV4_SRC, a);
		memcpy(&a, t->dst.bytes, 4);
		nfct_set_attr_u32(ct, ATTR_IPV4_DST, a);
	} else {
		nfct_set_attr(ct, ATTR_IPV6_SRC, t->src.bytes);
		nfct_set_attr(ct, ATTR_IPV6_DST, t->dst.bytes);
	}
	nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(t->src_port));
	nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(t->dst_port));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = t->family;
	nfg->version = NFNETLINK_V0;
	ret = nfct_nlmsg_build(nlh, ct) < 0 ? -errno : 0;
	nfct_destroy(ct);
	if (!ret && send(fd, nlh, nlh->nlmsg_len, 0) != (ssize_t)nlh->nlmsg_len)
		ret = -errno;
	return ret;
}
