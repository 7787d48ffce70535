// SPDX-License-Identifier: Apache-2.0
/*
 * ctnetlink I/O for the cache: three NETLINK_NETFILTER sockets, all opened inside the chosen
 * network namespace.
 *   events: bound to NFNLGRP_CONNTRACK_NEW and NFNLGRP_CONNTRACK_DESTROY, non-blocking;
 *   dump:   IPCTNL_MSG_CT_GET with NLM_F_DUMP, read a slice at a time, non-blocking;
 *   get:    point IPCTNL_MSG_CT_GET (what nfct_query(NFCT_Q_GET) sends), blocking with a timeout.
 * The events socket is bound before the dump is requested, so nothing falls between the two.
 * UPDATE events are not needed: NAT bindings are set before an entry is confirmed, so the NEW
 * event (and the dump) already carry the final reply_tuple.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ct_priv.h"

#define CT_DEFAULT_EVENT_RCVBUF (8U << 20)
#define CT_DEFAULT_DUMP_BUDGET 64
/* event datagrams per ct_cache_process() call; epoll is level-triggered, the rest waits */
#define CT_EVENT_BUDGET 4096
/* large enough for any dump skb the kernel builds (it caps them at 32 KiB) */
#define CT_RECV_BUF (64U << 10)
#define CT_GET_TIMEOUT_MS 1000

struct ct_netlink {
	struct mnl_socket *events;
	struct mnl_socket *dump;
	struct mnl_socket *get;
	int epfd;
	uint32_t dump_seq;
	uint32_t get_seq;
	bool dumping;
	bool dump_intr; /* the running dump saw NLM_F_DUMP_INTR: its result is not a snapshot */
	bool resync_pending; /* events were lost while a dump was running: dump again after it */
	uint64_t dump_start_ns;
	char buf[CT_RECV_BUF];
};

struct cb_ctx {
	struct ct_cache *cache;
	uint64_t now_ns;
};

static void set_rcvbuf(struct mnl_socket *sock, int bytes)
{
	int fd = mnl_socket_get_fd(sock);

	/* FORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; fall back to the capped one */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

static int open_socket(struct mnl_socket **out, unsigned int groups, int flags)
{
	struct mnl_socket *sock;
	int err;

	sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | flags);
	if (!sock)
		return -errno;
	if (mnl_socket_bind(sock, groups, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		mnl_socket_close(sock);
		return err;
	}
	*out = sock;
	return 0;
}

struct open_args {
	const char *netns_path;
	struct ct_netlink *nl;
	int event_rcvbuf;
	int err;
};

/* Runs on its own thread so that setns() never moves the caller's thread. */
static void *open_sockets(void *arg)
{
	struct open_args *a = arg;
	struct ct_netlink *nl = a->nl;
	unsigned int groups = (1U << (NFNLGRP_CONNTRACK_NEW - 1)) |
			      (1U << (NFNLGRP_CONNTRACK_DESTROY - 1));
	struct timeval tv = { .tv_sec = CT_GET_TIMEOUT_MS / 1000 };
	int fd;

	if (a->netns_path) {
		fd = open(a->netns_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			a->err = -errno;
			return NULL;
		}
		if (setns(fd, CLONE_NEWNET) < 0) {
			a->err = -errno;
			close(fd);
			return NULL;
		}
		close(fd);
	}
	a->err = open_socket(&nl->events, groups, SOCK_NONBLOCK);
	if (a->err)
		return NULL;
	set_rcvbuf(nl->events, a->event_rcvbuf);
	a->err = open_socket(&nl->dump, 0, SOCK_NONBLOCK);
	if (a->err)
		return NULL;
	a->err = open_socket(&nl->get, 0, 0);
	if (a->err)
		return NULL;
	if (setsockopt(mnl_socket_get_fd(nl->get), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		a->err = -errno;
	return NULL;
}

static int dump_start(struct ct_cache *cache, uint64_t now_ns)
{
	struct ct_netlink *nl = cache->nl;
	char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg))];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++nl->dump_seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC; /* both IPv4 and IPv6 entries */
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (mnl_socket_sendto(nl->dump, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	cache->gen++;
	nl->dumping = true;
	nl->dump_intr = false;
	nl->dump_start_ns = now_ns;
	cache->stats.dumping = true;
	return 0;
}

/* Events were lost: dump again now, or right after the running dump. */
int ct_netlink_resync(struct ct_cache *cache, uint64_t now_ns)
{
	if (cache->nl->dumping) {
		cache->nl->resync_pending = true;
		return 0;
	}
	cache->stats.resyncs++;
	return dump_start(cache, now_ns);
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cb_ctx *ctx = data;
	struct ct_tuple orig, reply;
	int err;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		ctx->cache->nl->dump_intr = true;
	ctx->cache->stats.dumped++;
	err = ct_tuples_from_nlmsg(nlh, &orig, &reply);
	if (err == -EPROTONOSUPPORT)
		return MNL_CB_OK;
	if (err) {
		ctx->cache->stats.parse_errors++;
		return MNL_CB_OK;
	}
	ct_cache_apply_new(ctx->cache, &orig, &reply, CT_FROM_DUMP, ctx->now_ns);
	return MNL_CB_OK;
}

static int dump_finish(struct ct_cache *cache, bool complete, uint64_t now_ns)
{
	struct ct_netlink *nl = cache->nl;

	nl->dumping = false;
	cache->stats.dumping = false;
	if (complete && !nl->dump_intr) {
		/* whatever the dump did not see ended while we were not listening */
		ct_cache_sweep(cache, now_ns);
		cache->stats.synced = true;
		cache->stats.last_sync_ns = now_ns - nl->dump_start_ns;
	} else {
		nl->resync_pending = true;
	}
	if (!nl->resync_pending)
		return 0;
	nl->resync_pending = false;
	cache->stats.resyncs++;
	return dump_start(cache, now_ns);
}

static int dump_read(struct ct_cache *cache, uint64_t now_ns)
{
	struct ct_netlink *nl = cache->nl;
	struct cb_ctx ctx = { .cache = cache, .now_ns = now_ns };
	uint32_t portid = mnl_socket_get_portid(nl->dump);
	uint32_t budget = cache->opts.dump_budget ? cache->opts.dump_budget
						  : CT_DEFAULT_DUMP_BUDGET;
	ssize_t n;
	int ret;

	for (uint32_t i = 0; i < budget && nl->dumping; i++) {
		n = mnl_socket_recvfrom(nl->dump, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			ret = -errno;
			dump_finish(cache, false, now_ns);
			return ret;
		}
		ret = mnl_cb_run(nl->buf, n, nl->dump_seq, portid, dump_cb, &ctx);
		if (ret == MNL_CB_STOP)
			return dump_finish(cache, true, now_ns);
		if (ret == MNL_CB_ERROR) {
			/* NLMSG_ERROR ends the dump (EINTR/EBUSY when the table moved under it) */
			ret = -errno;
			dump_finish(cache, false, now_ns);
			return ret;
		}
	}
	return 0;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cb_ctx *ctx = data;
	struct ct_tuple orig, reply;
	int err;

	ctx->cache->stats.events++;
	err = ct_tuples_from_nlmsg(nlh, &orig, &reply);
	if (err == -EPROTONOSUPPORT)
		return MNL_CB_OK;
	if (err) {
		ctx->cache->stats.parse_errors++;
		return MNL_CB_OK;
	}
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == IPCTNL_MSG_CT_DELETE)
		ct_cache_remove(ctx->cache, &orig, ctx->now_ns);
	else
		ct_cache_apply_new(ctx->cache, &orig, &reply, CT_FROM_EVENT, ctx->now_ns);
	return MNL_CB_OK;
}

static int events_read(struct ct_cache *cache, uint64_t now_ns)
{
	struct ct_netlink *nl = cache->nl;
	struct cb_ctx ctx = { .cache = cache, .now_ns = now_ns };
	ssize_t n;
	int err;

	for (int i = 0; i < CT_EVENT_BUDGET; i++) {
		n = mnl_socket_recvfrom(nl->events, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno != ENOBUFS)
				return -errno;
			/* the socket overran and dropped events: our view is stale */
			cache->stats.enobufs++;
			err = ct_netlink_resync(cache, now_ns);
			if (err)
				return err;
			continue;
		}
		mnl_cb_run(nl->buf, n, 0, 0, event_cb, &ctx);
	}
	return 0;
}

int ct_netlink_process(struct ct_cache *cache, uint64_t now_ns)
{
	struct ct_netlink *nl = cache->nl;
	int err;

	err = events_read(cache, now_ns);
	if (!err && !nl->dumping && now_ns >= nl->dump_start_ns &&
	    now_ns - nl->dump_start_ns >= cache->opts.refresh_ns) {
		cache->stats.refreshes++;
		err = dump_start(cache, now_ns);
	}
	if (!err && nl->dumping)
		err = dump_read(cache, now_ns);
	return err;
}

struct get_ctx {
	struct ct_tuple *orig;
	struct ct_tuple *reply;
	int err;
};

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	struct get_ctx *ctx = data;

	ctx->err = ct_tuples_from_nlmsg(nlh, ctx->orig, ctx->reply);
	return MNL_CB_OK;
}

static void query_set_tuple(struct nf_conntrack *ct, const struct ct_tuple *t)
{
	nfct_set_attr_u8(ct, ATTR_L3PROTO, t->family);
	nfct_set_attr_u8(ct, ATTR_L4PROTO, t->proto);
	if (t->family == AF_INET) {
		uint32_t src, dst;

		memcpy(&src, t->src.bytes, 4);
		memcpy(&dst, t->dst.bytes, 4);
		nfct_set_attr_u32(ct, ATTR_IPV4_SRC, src);
		nfct_set_attr_u32(ct, ATTR_IPV4_DST, dst);
	} else {
		nfct_set_attr(ct, ATTR_IPV6_SRC, t->src.bytes);
		nfct_set_attr(ct, ATTR_IPV6_DST, t->dst.bytes);
	}
	if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6) {
		/* an echo request is the only ICMP orig_tuple keyed by id */
		nfct_set_attr_u8(ct, ATTR_ICMP_TYPE, t->proto == IPPROTO_ICMP ? 8 : 128);
		nfct_set_attr_u8(ct, ATTR_ICMP_CODE, 0);
		nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(t->src_port));
	} else {
		nfct_set_attr_u16(ct, ATTR_PORT_SRC, htons(t->src_port));
		nfct_set_attr_u16(ct, ATTR_PORT_DST, htons(t->dst_port));
	}
}

int ct_netlink_get(struct ct_cache *cache, const struct ct_tuple *tuple,
		   struct ct_tuple *found_orig, struct ct_tuple *found_reply)
{
	struct ct_netlink *nl = cache->nl;
	struct get_ctx ctx = { .orig = found_orig, .reply = found_reply, .err = -ENOENT };
	uint32_t portid = mnl_socket_get_portid(nl->get);
	struct nf_conntrack *query;
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	ssize_t n;
	int ret;

	/* a fresh object each time: a reused one would keep attributes of the previous tuple */
	query = nfct_new();
	if (!query)
		return -ENOMEM;
	query_set_tuple(query, tuple);
	nlh = mnl_nlmsg_put_header(nl->buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->get_seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = tuple->family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	ret = nfct_nlmsg_build(nlh, query) < 0 ? -errno : 0;
	nfct_destroy(query);
	if (ret)
		return ret;
	if (mnl_socket_sendto(nl->get, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->get, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(nl->buf, n, nl->get_seq, portid, get_cb, &ctx);
	} while (ret == MNL_CB_OK);
	if (ret == MNL_CB_ERROR)
		return errno == ENOENT ? CT_NOT_FOUND : -errno;
	if (ctx.err == -ENOENT)
		return CT_NOT_FOUND;
	return ctx.err ? ctx.err : CT_OK;
}

int ct_netlink_fd(const struct ct_netlink *nl)
{
	return nl->epfd;
}

size_t ct_netlink_mem(const struct ct_netlink *nl)
{
	return sizeof(*nl);
}

static int epoll_add(int epfd, struct mnl_socket *sock)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.fd = mnl_socket_get_fd(sock);
	return epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0 ? -errno : 0;
}

int ct_netlink_open(struct ct_cache *cache, uint64_t now_ns)
{
	struct open_args args = { .netns_path = cache->opts.netns_path };
	struct ct_netlink *nl;
	pthread_t thread;
	int err;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->epfd = -1;
	cache->nl = nl;
	args.nl = nl;
	args.event_rcvbuf = cache->opts.event_rcvbuf ? (int)cache->opts.event_rcvbuf
						     : (int)CT_DEFAULT_EVENT_RCVBUF;
	err = -pthread_create(&thread, NULL, open_sockets, &args);
	if (err)
		goto cleanup;
	pthread_join(thread, NULL);
	err = args.err;
	if (err)
		goto cleanup;
	nl->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (nl->epfd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = epoll_add(nl->epfd, nl->events);
	if (!err)
		err = epoll_add(nl->epfd, nl->dump);
	if (!err)
		err = dump_start(cache, now_ns);
	if (err)
		goto cleanup;
	return 0;

cleanup:
	ct_netlink_close(nl);
	cache->nl = NULL;
	return err;
}

void ct_netlink_close(struct ct_netlink *nl)
{
	if (!nl)
		return;
	if (nl->epfd >= 0)
		close(nl->epfd);
	if (nl->get)
		mnl_socket_close(nl->get);
	if (nl->dump)
		mnl_socket_close(nl->dump);
	if (nl->events)
		mnl_socket_close(nl->events);
	free(nl);
}
