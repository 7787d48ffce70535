// SPDX-License-Identifier: Apache-2.0
/*
 * ctnetlink I/O (see ct_netlink.h). The events socket is bound before the dump is requested, so
 * nothing falls between the two. UPDATE events are not needed: NAT bindings are set before an
 * entry is confirmed, so the NEW event (and the dump) already carry the final reply_tuple.
 * Point GETs are sent on their own socket without NLM_F_ACK: the kernel answers each with one
 * message, an IPCTNL_MSG_CT_NEW or an NLMSG_ERROR, carrying the request's sequence number, which
 * is how an answer finds its request. An answer whose request already completed (deadline) or
 * that no request of ours asked for is dropped and counted, never taken for another's.
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
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ct_netlink.h"

#define NSEC_PER_SEC 1000000000ULL

#define CT_DEFAULT_EVENT_RCVBUF (8U << 20)
#define CT_DEFAULT_DUMP_BUDGET 64
#define CT_DEFAULT_REFRESH_NS (300ULL * 1000000000ULL)
#define CT_DEFAULT_GET_PER_SEC 1000
#define CT_DEFAULT_GET_MAX_INFLIGHT 64
#define CT_DEFAULT_GET_TIMEOUT_NS (250ULL * 1000000ULL)
#define CT_MAX_INFLIGHT 4096
/* event datagrams per ct_netlink_process() call; epoll is level-triggered, the rest waits */
#define CT_EVENT_BUDGET 4096
/* nf_conntrack_events is read again at most this often */
#define CT_SYSCTL_PERIOD_NS NSEC_PER_SEC
/* large enough for any dump skb the kernel builds (it caps them at 32 KiB) */
#define CT_RECV_BUF (64U << 10)

struct ct_get_req {
	uint32_t seq;
	bool used;
	uint64_t deadline_ns;
	ct_get_done_fn done;
	void *arg;
};

struct ct_netlink {
	struct ct_netlink_opts opts;
	struct ct_netlink_ops ops;
	void *arg;
	struct mnl_socket *events;
	struct mnl_socket *dump;
	struct mnl_socket *get;
	int epfd;
	uint32_t dump_seq;
	uint32_t get_seq;
	bool dumping;
	bool dump_intr; /* the running dump saw NLM_F_DUMP_INTR: its result is not a snapshot */
	bool resync_pending; /* events were lost while a dump was running: dump again after it */
	bool stream_ok; /* a complete dump ended and no event was lost since it began */
	bool events_enabled; /* the namespace's nf_conntrack_events was non-zero when last read */
	int sysctl_fd; /* that sysctl, opened inside the namespace; -1: could not */
	uint64_t sysctl_ns; /* when it was last read */
	uint64_t caught_up_ns; /* start of the latest event read that emptied the socket; 0: none */
	uint64_t dump_start_ns;
	uint64_t last_now_ns; /* now_ns of the latest call, for completions from close */
	double tokens; /* GET budget */
	uint64_t tokens_ns;
	struct ct_get_req *reqs; /* opts.get_max_inflight slots */
	struct ct_netlink_stats stats;
	char buf[CT_RECV_BUF];
};

void ct_netlink_opts_init(struct ct_netlink_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->event_rcvbuf = CT_DEFAULT_EVENT_RCVBUF;
	opts->dump_budget = CT_DEFAULT_DUMP_BUDGET;
	opts->refresh_ns = CT_DEFAULT_REFRESH_NS;
	opts->get_per_sec = CT_DEFAULT_GET_PER_SEC;
	opts->get_max_inflight = CT_DEFAULT_GET_MAX_INFLIGHT;
	opts->get_timeout_ns = CT_DEFAULT_GET_TIMEOUT_NS;
}

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
	int err;
};

/* Runs on its own thread so that setns() never moves the caller's thread. */
static void *open_sockets(void *arg)
{
	struct open_args *a = arg;
	struct ct_netlink *nl = a->nl;
	unsigned int groups = (1U << (NFNLGRP_CONNTRACK_NEW - 1)) |
			      (1U << (NFNLGRP_CONNTRACK_DESTROY - 1));
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
	/* /proc/sys/net answers for the namespace of the thread that opens it */
	nl->sysctl_fd = open("/proc/sys/net/netfilter/nf_conntrack_events", O_RDONLY | O_CLOEXEC);
	a->err = open_socket(&nl->events, groups, SOCK_NONBLOCK);
	if (a->err)
		return NULL;
	set_rcvbuf(nl->events, (int)nl->opts.event_rcvbuf);
	a->err = open_socket(&nl->dump, 0, SOCK_NONBLOCK);
	if (a->err)
		return NULL;
	a->err = open_socket(&nl->get, 0, SOCK_NONBLOCK);
	return NULL;
}

/* nf_conntrack_events: 0 turns events off (1: on, 2: on while someone listens, as we do) */
static void sysctl_read(struct ct_netlink *nl, uint64_t now_ns)
{
	char buf[16];
	ssize_t n;

	nl->sysctl_ns = now_ns;
	n = nl->sysctl_fd >= 0 ? pread(nl->sysctl_fd, buf, sizeof(buf) - 1, 0) : -1;
	if (n <= 0) {
		nl->events_enabled = false; /* unknown: do not rely on events */
		return;
	}
	buf[n] = 0;
	nl->events_enabled = atoi(buf) != 0;
}

static int dump_start(struct ct_netlink *nl, uint64_t now_ns)
{
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
	nl->ops.dump_begin(nl->arg);
	nl->dumping = true;
	nl->dump_intr = false;
	nl->dump_start_ns = now_ns;
	nl->stats.dumping = true;
	return 0;
}

int ct_netlink_resync(struct ct_netlink *nl, uint64_t now_ns)
{
	if (!nl)
		return -EINVAL;
	if (nl->dumping) {
		nl->resync_pending = true;
		return 0;
	}
	nl->stats.resyncs++;
	return dump_start(nl, now_ns);
}

struct cb_ctx {
	struct ct_netlink *nl;
	uint64_t now_ns;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cb_ctx *ctx = data;
	struct ct_tuple orig, reply;
	int err;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		ctx->nl->dump_intr = true;
	ctx->nl->stats.dumped++;
	err = ct_tuples_from_nlmsg(nlh, &orig, &reply);
	if (err == -EPROTONOSUPPORT)
		return MNL_CB_OK;
	if (err) {
		ctx->nl->stats.parse_errors++;
		return MNL_CB_OK;
	}
	ctx->nl->ops.entry(ctx->nl->arg, &orig, &reply, CT_FROM_DUMP, ctx->now_ns);
	return MNL_CB_OK;
}

static int dump_finish(struct ct_netlink *nl, bool complete, uint64_t now_ns)
{
	complete = complete && !nl->dump_intr;
	nl->dumping = false;
	nl->stats.dumping = false;
	/* when complete, whatever the dump did not see ended while we were not listening */
	nl->ops.dump_end(nl->arg, complete, now_ns);
	if (complete) {
		nl->stats.synced = true;
		nl->stats.last_sync_ns = now_ns - nl->dump_start_ns;
		/* a loss during this dump left resync_pending: the stream is whole after the next */
		if (!nl->resync_pending)
			nl->stream_ok = true;
	} else {
		nl->resync_pending = true;
	}
	if (!nl->resync_pending)
		return 0;
	nl->resync_pending = false;
	nl->stats.resyncs++;
	return dump_start(nl, now_ns);
}

static int dump_read(struct ct_netlink *nl, uint64_t now_ns)
{
	struct cb_ctx ctx = { .nl = nl, .now_ns = now_ns };
	uint32_t portid = mnl_socket_get_portid(nl->dump);
	ssize_t n;
	int ret;

	for (uint32_t i = 0; i < nl->opts.dump_budget && nl->dumping; i++) {
		n = mnl_socket_recvfrom(nl->dump, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			ret = -errno;
			dump_finish(nl, false, now_ns);
			return ret;
		}
		ret = mnl_cb_run(nl->buf, n, nl->dump_seq, portid, dump_cb, &ctx);
		if (ret == MNL_CB_STOP)
			return dump_finish(nl, true, now_ns);
		if (ret == MNL_CB_ERROR) {
			/* NLMSG_ERROR ends the dump (EINTR/EBUSY when the table moved under it) */
			ret = -errno;
			dump_finish(nl, false, now_ns);
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

	ctx->nl->stats.events++;
	err = ct_tuples_from_nlmsg(nlh, &orig, &reply);
	if (err == -EPROTONOSUPPORT)
		return MNL_CB_OK;
	if (err) {
		ctx->nl->stats.parse_errors++;
		return MNL_CB_OK;
	}
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == IPCTNL_MSG_CT_DELETE)
		ctx->nl->ops.destroyed(ctx->nl->arg, &orig, ctx->now_ns);
	else
		ctx->nl->ops.entry(ctx->nl->arg, &orig, &reply, CT_FROM_EVENT, ctx->now_ns);
	return MNL_CB_OK;
}

static int events_read(struct ct_netlink *nl, uint64_t now_ns)
{
	struct cb_ctx ctx = { .nl = nl, .now_ns = now_ns };
	ssize_t n;
	int err;

	for (int i = 0; i < CT_EVENT_BUDGET; i++) {
		n = mnl_socket_recvfrom(nl->events, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EAGAIN) {
				/* everything queued before now_ns was read (ENOBUFS comes first) */
				nl->caught_up_ns = now_ns;
				return 0;
			}
			if (errno == EINTR)
				continue;
			if (errno != ENOBUFS)
				return -errno;
			/* the socket overran and dropped events: our view is stale */
			nl->stats.enobufs++;
			nl->stream_ok = false;
			err = ct_netlink_resync(nl, now_ns);
			if (err)
				return err;
			continue;
		}
		mnl_cb_run(nl->buf, n, 0, 0, event_cb, &ctx);
	}
	return 0;
}

/* Free the slot first: done() may send the next GET. */
static void get_complete(struct ct_netlink *nl, struct ct_get_req *req, int status,
			 const struct ct_tuple *orig, const struct ct_tuple *reply, uint64_t now_ns)
{
	ct_get_done_fn done = req->done;
	void *arg = req->arg;

	req->used = false;
	nl->stats.get_inflight--;
	if (status == CT_GET_FOUND)
		nl->stats.get_found++;
	else if (status == CT_GET_NOT_FOUND)
		nl->stats.get_not_found++;
	else if (status == -ETIMEDOUT)
		nl->stats.get_timeouts++;
	else if (status == -ECANCELED)
		nl->stats.get_cancelled++;
	else
		nl->stats.get_errors++;
	done(arg, status, status == CT_GET_FOUND ? orig : NULL,
	     status == CT_GET_FOUND ? reply : NULL, now_ns);
}

static struct ct_get_req *get_find(struct ct_netlink *nl, uint32_t seq)
{
	for (uint32_t i = 0; i < nl->opts.get_max_inflight; i++)
		if (nl->reqs[i].used && nl->reqs[i].seq == seq)
			return &nl->reqs[i];
	return NULL;
}

/* One message on the GET socket: the answer to the request with its sequence number, or stale. */
static void get_answer(struct ct_netlink *nl, const struct nlmsghdr *nlh, uint64_t now_ns)
{
	struct ct_get_req *req = get_find(nl, nlh->nlmsg_seq);
	struct ct_tuple orig, reply;
	int status;

	if (nlh->nlmsg_type == NLMSG_NOOP)
		return;
	if (!req) {
		nl->stats.get_stale++;
		return;
	}
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
			status = -EBADMSG;
		else if (e->error == -ENOENT)
			status = CT_GET_NOT_FOUND;
		else
			status = e->error < 0 ? e->error : -EBADMSG; /* an ACK: no answer */
	} else if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_CTNETLINK &&
		   NFNL_MSG_TYPE(nlh->nlmsg_type) == IPCTNL_MSG_CT_NEW) {
		status = ct_tuples_from_nlmsg(nlh, &orig, &reply);
		if (status)
			nl->stats.parse_errors++;
		else
			status = CT_GET_FOUND;
	} else {
		status = -EBADMSG;
	}
	get_complete(nl, req, status, &orig, &reply, now_ns);
}

static int gets_read(struct ct_netlink *nl, uint64_t now_ns)
{
	/* every queued answer, and then some for stale ones: bounded, never blocks */
	uint32_t budget = 2 * nl->opts.get_max_inflight + 16;
	ssize_t n;

	int len;

	for (uint32_t i = 0; i < budget; i++) {
		n = mnl_socket_recvfrom(nl->get, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR || errno == ENOBUFS)
				continue; /* ENOBUFS: answers lost; their requests time out */
			return -errno;
		}
		len = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)nl->buf;
		     mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			get_answer(nl, nlh, now_ns);
	}
	return 0;
}

int ct_netlink_read_answers(struct ct_netlink *nl, uint64_t now_ns)
{
	if (!nl)
		return -EINVAL;
	nl->last_now_ns = now_ns;
	return gets_read(nl, now_ns);
}

void ct_netlink_expire(struct ct_netlink *nl, uint64_t now_ns)
{
	if (!nl)
		return;
	for (uint32_t i = 0; i < nl->opts.get_max_inflight && nl->stats.get_inflight; i++) {
		struct ct_get_req *req = &nl->reqs[i];

		if (req->used && req->deadline_ns <= now_ns)
			get_complete(nl, req, -ETIMEDOUT, NULL, NULL, now_ns);
	}
}

uint64_t ct_netlink_next_deadline(const struct ct_netlink *nl)
{
	uint64_t next = UINT64_MAX;

	for (uint32_t i = 0; nl && i < nl->opts.get_max_inflight; i++)
		if (nl->reqs[i].used && nl->reqs[i].deadline_ns < next)
			next = nl->reqs[i].deadline_ns;
	return next;
}

int ct_netlink_process(struct ct_netlink *nl, uint64_t now_ns)
{
	int err, gerr;

	if (!nl)
		return -EINVAL;
	nl->last_now_ns = now_ns;
	if (now_ns < nl->sysctl_ns || now_ns - nl->sysctl_ns >= CT_SYSCTL_PERIOD_NS)
		sysctl_read(nl, now_ns);
	err = events_read(nl, now_ns);
	gerr = gets_read(nl, now_ns);
	if (!err && !nl->dumping && now_ns >= nl->dump_start_ns &&
	    now_ns - nl->dump_start_ns >= nl->opts.refresh_ns) {
		nl->stats.refreshes++;
		err = dump_start(nl, now_ns);
	}
	if (!err && nl->dumping)
		err = dump_read(nl, now_ns);
	ct_netlink_expire(nl, now_ns);
	return err ? err : gerr;
}

int ct_netlink_read_events(struct ct_netlink *nl, uint64_t now_ns)
{
	if (!nl)
		return -EINVAL;
	nl->last_now_ns = now_ns;
	return events_read(nl, now_ns);
}

uint64_t ct_netlink_events_complete_ns(const struct ct_netlink *nl)
{
	if (!nl || !nl->stream_ok || !nl->events_enabled)
		return 0;
	return nl->caught_up_ns;
}

static bool take_token(struct ct_netlink *nl, uint64_t now_ns)
{
	double rate = nl->opts.get_per_sec;

	if (now_ns > nl->tokens_ns) {
		nl->tokens += (double)(now_ns - nl->tokens_ns) * rate / NSEC_PER_SEC;
		if (nl->tokens > rate)
			nl->tokens = rate;
		nl->tokens_ns = now_ns;
	}
	if (nl->tokens < 1.0)
		return false;
	nl->tokens -= 1.0;
	return true;
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

int ct_netlink_get(struct ct_netlink *nl, const struct ct_tuple *tuple, uint64_t now_ns,
		   ct_get_done_fn done, void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ct_get_req *req = NULL;
	struct nf_conntrack *query;
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct ct_tuple t;
	int ret;

	if (!nl || !tuple || !done)
		return -EINVAL;
	t = *tuple;
	ret = ct_tuple_check(&t);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < nl->opts.get_max_inflight && !req; i++)
		if (!nl->reqs[i].used)
			req = &nl->reqs[i];
	if (!req) {
		nl->stats.get_busy++;
		return -EBUSY;
	}
	if (!take_token(nl, now_ns)) {
		nl->stats.get_ratelimited++;
		return -EAGAIN;
	}
	/* a fresh object each time: a reused one would keep attributes of the previous tuple */
	query = nfct_new();
	if (!query)
		return -ENOMEM;
	query_set_tuple(query, &t);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST; /* no ACK: one answer message per request */
	/* never 0, and never the number of a request still in flight */
	do {
		nlh->nlmsg_seq = ++nl->get_seq;
	} while (!nlh->nlmsg_seq || get_find(nl, nlh->nlmsg_seq));
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = t.family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	ret = nfct_nlmsg_build(nlh, query) < 0 ? -errno : 0;
	nfct_destroy(query);
	if (ret)
		return ret;
	if (mnl_socket_sendto(nl->get, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	req->used = true;
	req->seq = nlh->nlmsg_seq;
	req->deadline_ns = now_ns + nl->opts.get_timeout_ns;
	req->done = done;
	req->arg = arg;
	nl->stats.get_sent++;
	nl->stats.get_inflight++;
	nl->last_now_ns = now_ns;
	return 0;
}

int ct_netlink_fd(const struct ct_netlink *nl)
{
	return nl ? nl->epfd : -EINVAL;
}

void ct_netlink_stats(const struct ct_netlink *nl, struct ct_netlink_stats *out)
{
	*out = nl->stats;
	out->events_complete = ct_netlink_events_complete_ns(nl) != 0;
	out->mem_bytes = sizeof(*nl) + sizeof(*nl->reqs) * nl->opts.get_max_inflight;
}

static int epoll_add(int epfd, struct mnl_socket *sock)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.fd = mnl_socket_get_fd(sock);
	return epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev) < 0 ? -errno : 0;
}

int ct_netlink_create(const struct ct_netlink_opts *opts, const struct ct_netlink_ops *ops,
		      void *arg, uint64_t now_ns, struct ct_netlink **out)
{
	struct open_args args = { 0 };
	struct ct_netlink *nl;
	pthread_t thread;
	int err;

	if (!out || !ops || !ops->entry || !ops->destroyed || !ops->dump_begin || !ops->dump_end)
		return -EINVAL;
	*out = NULL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->epfd = -1;
	nl->sysctl_fd = -1;
	if (opts)
		nl->opts = *opts;
	else
		ct_netlink_opts_init(&nl->opts);
	if (!nl->opts.event_rcvbuf)
		nl->opts.event_rcvbuf = CT_DEFAULT_EVENT_RCVBUF;
	if (!nl->opts.dump_budget)
		nl->opts.dump_budget = CT_DEFAULT_DUMP_BUDGET;
	if (!nl->opts.refresh_ns)
		nl->opts.refresh_ns = CT_DEFAULT_REFRESH_NS;
	if (!nl->opts.get_per_sec)
		nl->opts.get_per_sec = CT_DEFAULT_GET_PER_SEC;
	if (!nl->opts.get_max_inflight)
		nl->opts.get_max_inflight = CT_DEFAULT_GET_MAX_INFLIGHT;
	if (!nl->opts.get_timeout_ns)
		nl->opts.get_timeout_ns = CT_DEFAULT_GET_TIMEOUT_NS;
	nl->ops = *ops;
	nl->arg = arg;
	nl->tokens = nl->opts.get_per_sec;
	nl->tokens_ns = now_ns;
	err = -EINVAL;
	if (nl->opts.get_max_inflight > CT_MAX_INFLIGHT || nl->opts.event_rcvbuf > INT32_MAX)
		goto cleanup;
	err = -ENOMEM;
	nl->reqs = calloc(nl->opts.get_max_inflight, sizeof(*nl->reqs));
	if (!nl->reqs)
		goto cleanup;
	args.netns_path = nl->opts.netns_path;
	args.nl = nl;
	err = -pthread_create(&thread, NULL, open_sockets, &args);
	if (err)
		goto cleanup;
	pthread_join(thread, NULL);
	err = args.err;
	if (err)
		goto cleanup;
	sysctl_read(nl, now_ns);
	nl->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (nl->epfd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = epoll_add(nl->epfd, nl->events);
	if (!err)
		err = epoll_add(nl->epfd, nl->dump);
	if (!err)
		err = epoll_add(nl->epfd, nl->get);
	if (!err)
		err = dump_start(nl, now_ns);
	if (err)
		goto cleanup;
	*out = nl;
	return 0;

cleanup:
	ct_netlink_destroy(nl);
	return err;
}

void ct_netlink_destroy(struct ct_netlink *nl)
{
	if (!nl)
		return;
	for (uint32_t i = 0; nl->reqs && i < nl->opts.get_max_inflight; i++)
		if (nl->reqs[i].used)
			get_complete(nl, &nl->reqs[i], -ECANCELED, NULL, NULL, nl->last_now_ns);
	if (nl->epfd >= 0)
		close(nl->epfd);
	if (nl->sysctl_fd >= 0)
		close(nl->sysctl_fd);
	if (nl->get)
		mnl_socket_close(nl->get);
	if (nl->dump)
		mnl_socket_close(nl->dump);
	if (nl->events)
		mnl_socket_close(nl->events);
	free(nl->reqs);
	free(nl);
}
