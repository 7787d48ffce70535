// SPDX-License-Identifier: Apache-2.0
/*
 * TCP, syscall and OOM events against real sockets and processes (issue 10 acceptance 2, 3, 7,
 * 8). Each test's processes run in a cgroup of their own and a network namespace of their own
 * (loopback only), and the tracer is filtered to those cgroups in the kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracer_fixture.h"

/* What a child reports back over a pipe. */
struct net_result {
	int err; /* 0, or the step that failed */
	pid_t server_pid;
	pid_t client_pid;
	uint16_t port;
	uint16_t client_port;
	uint16_t refused_port;
	uint16_t refused_client_port;
	int refused_errno;
};

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)))
		ret = -1;
	close(fd);
	return ret;
}

static socklen_t make_addr(int v, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (v == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	a->sin6_addr = in6addr_loopback;
	return sizeof(*a);
}

static int listener(int v, uint16_t port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t l = make_addr(v, port, &ss);
	int one = 1;
	int fd = socket(v == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, l) || listen(fd, backlog)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connects from local port lport (0: any); returns the fd or -errno. */
static int connect_to(int v, uint16_t port, uint16_t lport, uint16_t *got_lport)
{
	struct sockaddr_storage ss, ls;
	socklen_t l = make_addr(v, port, &ss);
	int fd = socket(v == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	if (lport) {
		socklen_t ll = make_addr(v, lport, &ls);

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ls, ll)) {
			close(fd);
			return -1000;
		}
	}
	if (connect(fd, (struct sockaddr *)&ss, l)) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (got_lport) {
		socklen_t ll = sizeof(ls);

		getsockname(fd, (struct sockaddr *)&ls, &ll);
		*got_lport = ntohs(v == 4 ? ((struct sockaddr_in *)&ls)->sin_port
					  : ((struct sockaddr_in6 *)&ls)->sin6_port);
	}
	return fd;
}

/* Child: netns of its own; a server child listens and accepts once; we connect, then connect to
 * a closed port. */
static void tcp_child(const struct tfx_cgroup *cg, int v, int out)
{
	struct net_result r = { 0 };
	int ready[2];
	char c;

	r.client_pid = getpid();
	r.port = 8080;
	r.refused_port = 8081;
	r.refused_client_port = 40001;
	if (tfx_cgroup_enter(cg) || unshare(CLONE_NEWNET) || lo_up()) {
		r.err = 1;
		goto out;
	}
	if (pipe(ready)) {
		r.err = 2;
		goto out;
	}
	r.server_pid = fork();
	if (r.server_pid == 0) {
		int l = listener(v, r.port, 16);

		if (write(ready[1], l >= 0 ? "y" : "n", 1) != 1 || l < 0)
			_exit(1);
		int a = accept(l, NULL, NULL);

		if (a < 0)
			_exit(2);
		if (read(a, &c, 1) < 0)
			_exit(3);
		close(a);
		close(l);
		_exit(0);
	}
	if (read(ready[0], &c, 1) != 1 || c != 'y') {
		r.err = 3;
		goto out;
	}
	int fd = connect_to(v, r.port, 0, &r.client_port);

	if (fd < 0) {
		r.err = 4;
		goto out;
	}
	close(fd);
	int st;

	waitpid(r.server_pid, &st, 0);
	fd = connect_to(v, r.refused_port, r.refused_client_port, NULL);
	r.refused_errno = fd < 0 ? -fd : 0;
	if (fd >= 0)
		close(fd);
out:
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(10);
	_exit(0);
}

static bool addr_is_loopback(int v, const uint8_t a[16])
{
	if (v == 4)
		return a[0] == 127 && a[1] == 0 && a[2] == 0 && a[3] == 1;
	return !memcmp(a, &in6addr_loopback, 16);
}

static const struct tfx_event *find_tcp(const struct tfx_events *evs, enum tr_event kind,
					uint16_t sport, uint16_t dport)
{
	for (size_t i = 0; i < evs->n; i++) {
		const struct tfx_event *e = &evs->v[i];

		if (e->kind == kind && (!sport || e->tcp.sport == sport) &&
		    (!dport || e->tcp.dport == dport))
			return e;
	}
	return NULL;
}

static void run_tcp(int v)
{
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	struct net_result r;
	int p[2];
	char name[16];

	snprintf(name, sizeof(name), "tcp%d", v);
	tfx_cgroup_create(&cg, name);
	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	tfx_opts_init(&o, &evs);
	tfx_enable(&o, TR_EV_TCP_CONNECT, &cg.id);
	tfx_enable(&o, TR_EV_TCP_ACCEPT, &cg.id);
	tfx_enable(&o, TR_EV_TCP_LISTEN, &cg.id);
	tfx_enable(&o, TR_EV_TCP_CONNECT_ERROR, &cg.id);
	tfx_enable(&o, TR_EV_TCP_CLOSE, &cg.id);
	struct event_tracer *et = tfx_open(&o);

	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();

	if (pid == 0)
		tcp_child(&cg, v, p[1]);
	assert_int_equal(read(p[0], &r, sizeof(r)), sizeof(r));
	tfx_wait(pid);
	close(p[0]);
	close(p[1]);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.refused_errno, ECONNREFUSED);
	tfx_drain(et, &evs, 500);

	const struct tfx_event *e = find_tcp(&evs, TR_EV_TCP_LISTEN, r.port, 0);

	assert_non_null(e);
	assert_int_equal(e->ctx.pid, r.server_pid);
	assert_int_equal(e->tcp.ip_version, v);

	e = find_tcp(&evs, TR_EV_TCP_CONNECT, r.client_port, r.port);
	assert_non_null(e);
	assert_int_equal(e->ctx.pid, r.client_pid);
	assert_int_equal(e->ctx.cgroup_id, cg.id);
	assert_int_equal(e->tcp.ip_version, v);
	assert_true(addr_is_loopback(v, e->tcp.saddr) && addr_is_loopback(v, e->tcp.daddr));
	assert_false(e->ctx.flags & TR_F_OWNER_UNKNOWN);

	e = find_tcp(&evs, TR_EV_TCP_ACCEPT, r.port, r.client_port);
	assert_non_null(e);
	assert_int_equal(e->ctx.pid, r.server_pid); /* the server's, not the softirq's task */
	assert_int_equal(e->tcp.ip_version, v);
	assert_true(addr_is_loopback(v, e->tcp.saddr) && addr_is_loopback(v, e->tcp.daddr));

	e = find_tcp(&evs, TR_EV_TCP_CONNECT_ERROR, r.refused_client_port, r.refused_port);
	assert_non_null(e);
	assert_int_equal(e->tcp.error, ECONNREFUSED);
	assert_int_equal(e->ctx.pid, r.client_pid);
	assert_int_equal(e->tcp.ip_version, v);
	assert_true(addr_is_loopback(v, e->tcp.saddr) && addr_is_loopback(v, e->tcp.daddr));
	assert_int_equal(tfx_count(&evs, TR_EV_TCP_CONNECT_ERROR, 0), 1);

	e = find_tcp(&evs, TR_EV_TCP_CLOSE, r.client_port, r.port);
	assert_non_null(e);
	assert_int_equal(e->ctx.pid, r.client_pid);

	event_tracer_destroy(et);
	tfx_events_free(&evs);
	tfx_cgroup_destroy(&cg);
}

static void test_tcp_v4(void **state)
{
	(void)state;
	run_tcp(4);
}

static void test_tcp_v6(void **state)
{
	(void)state;
	run_tcp(6);
}

/* Sends fd over the datagram socket sp with SCM_RIGHTS; returns 0 or -1. */
static int send_fd(int sp, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char b = 'f';
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sp, &m, 0) == 1 ? 0 : -1;
}

/* The fd send_fd() sent, received from sp; or -1. */
static int recv_fd(int sp)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sp, &m, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * Child: in cg_srv and a netns of its own, a listener made before the tracer opens, and a client
 * of the same netns in cg_cli. in_flight: the listener's only reference is in flight in a unix
 * socket's queue (SCM_RIGHTS) while the tracer opens, so that no process's file table holds it
 * and the start-up walk cannot find its owner; it comes back before the accept. Both wait until
 * go[0] is closed; the server accepts once.
 */
static void walk_child(const struct tfx_cgroup *cg_srv, const struct tfx_cgroup *cg_cli,
		       bool in_flight, int ready, int go[2], int out)
{
	struct net_result r = { 0 };
	int l = -1, sp[2] = { -1, -1 }, st;
	char c;

	r.port = 8082;
	r.server_pid = getpid();
	if (tfx_cgroup_enter(cg_srv) || unshare(CLONE_NEWNET) || lo_up() ||
	    (l = listener(4, r.port, 16)) < 0) {
		r.err = 1;
		goto out;
	}
	if (in_flight) {
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sp) || send_fd(sp[0], l)) {
			r.err = 5;
			goto out;
		}
		close(l);
		l = -1;
	}
	r.client_pid = fork();
	if (r.client_pid == 0) {
		/* the server is the listener's only holder, whatever the pids' order */
		close(l);
		close(sp[0]);
		close(sp[1]);
		close(go[1]);
		if (tfx_cgroup_enter(cg_cli) || read(go[0], &c, 1) != 0)
			_exit(1);
		int fd = connect_to(4, r.port, 0, NULL);

		if (fd < 0 || write(fd, "x", 1) != 1)
			_exit(2);
		close(fd);
		_exit(0);
	}
	close(go[1]);
	if (write(ready, "y", 1) != 1 || read(go[0], &c, 1) != 0) {
		r.err = 2;
		goto out;
	}
	if (in_flight && (l = recv_fd(sp[1])) < 0) {
		r.err = 6;
		goto out;
	}
	int a = accept(l, NULL, NULL);
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);

	if (a < 0 || getpeername(a, (struct sockaddr *)&peer, &pl) || read(a, &c, 1) != 1) {
		r.err = 3;
		goto out;
	}
	r.client_port = ntohs(peer.sin_port);
	close(a);
	close(l);
	if (waitpid(r.client_pid, &st, 0) != r.client_pid || !WIFEXITED(st) || WEXITSTATUS(st))
		r.err = 4;
out:
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(10);
	_exit(0);
}

/* One run of walk_child() under a tracer: its cgroups, events and report. */
struct walk_run {
	struct tfx_cgroup srv, cli;
	uint64_t ids[2];
	struct tfx_events evs;
	struct net_result r;
	struct event_tracer *et;
};

/*
 * A server listening before the tracer opens, in a network namespace of its own (a pod's), and
 * a client made after, in cgroups name_srv and name_cli: the tracer is opened while both wait,
 * then they connect. The accept is filtered in the kernel to the server's cgroup. Fills *w; the
 * accept is left to the caller to check, walk_run_end() frees it all.
 */
static void run_walk(struct walk_run *w, const char *name, bool in_flight)
{
	struct event_tracer_opts o;
	int p[2], ready[2], go[2];
	char c, cg_name[64];

	memset(w, 0, sizeof(*w));
	snprintf(cg_name, sizeof(cg_name), "%s_srv", name);
	tfx_cgroup_create(&w->srv, cg_name);
	snprintf(cg_name, sizeof(cg_name), "%s_cli", name);
	tfx_cgroup_create(&w->cli, cg_name);
	w->ids[0] = w->srv.id;
	w->ids[1] = w->cli.id;
	w->evs.cgroup_ids = w->ids;
	w->evs.n_cgroup_ids = 2;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();

	if (pid == 0)
		walk_child(&w->srv, &w->cli, in_flight, ready[1], go, p[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	/* the accept filtered in the kernel to the server's cgroup: the filter must test the
	 * cgroup the record names (the client's, before, was filtered out) */
	tfx_opts_init(&o, &w->evs);
	tfx_enable(&o, TR_EV_TCP_ACCEPT, &w->srv.id);
	tfx_enable(&o, TR_EV_TCP_CONNECT, NULL);
	w->et = tfx_open(&o);

	close(go[1]);
	assert_int_equal(read(p[0], &w->r, sizeof(w->r)), sizeof(w->r));
	tfx_wait(pid);
	close(p[0]);
	close(p[1]);
	close(ready[0]);
	close(ready[1]);
	assert_int_equal(w->r.err, 0);
	tfx_drain(w->et, &w->evs, 500);

	/* the client's socket was made after the tracer: its own context */
	const struct tfx_event *e =
		find_tcp(&w->evs, TR_EV_TCP_CONNECT, w->r.client_port, w->r.port);

	assert_non_null(e);
	assert_int_equal(e->ctx.pid, w->r.client_pid);
	assert_int_equal(e->ctx.cgroup_id, w->cli.id);
	assert_false(e->ctx.flags & TR_F_OWNER_UNKNOWN);
	assert_int_equal(tfx_count(&w->evs, TR_EV_TCP_ACCEPT, 0), 1);
}

static void walk_run_end(struct walk_run *w)
{
	event_tracer_destroy(w->et);
	tfx_events_free(&w->evs);
	tfx_cgroup_destroy(&w->cli);
	tfx_cgroup_destroy(&w->srv);
}

/*
 * The start-up walk enters every network namespace: the accept on a listener made before the
 * tracer, in a namespace of its own, names the server (pid, comm, cgroup), not the client whose
 * task the softirq interrupted, and the walk's counts add up.
 */
static void test_tcp_walk_netns(void **state)
{
	struct event_tracer_socket_walk sw;
	char comm[TR_COMM_LEN] = { 0 };
	struct walk_run w;
	FILE *f;

	(void)state;
	f = fopen("/proc/self/comm", "r");
	assert_non_null(f);
	assert_non_null(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	run_walk(&w, "walk", false);
	const struct tfx_event *e = find_tcp(&w.evs, TR_EV_TCP_ACCEPT, w.r.port, w.r.client_port);

	assert_non_null(e);
	assert_false(e->ctx.flags & TR_F_OWNER_UNKNOWN);
	assert_int_equal(e->ctx.pid, w.r.server_pid);
	assert_int_equal(e->ctx.tid, w.r.server_pid);
	assert_int_equal(e->ctx.ns_pid, w.r.server_pid);
	assert_int_equal(e->ctx.ppid, getpid());
	assert_string_equal(e->ctx.comm, comm);
	assert_int_equal(e->ctx.uid, getuid());
	assert_int_equal(e->ctx.gid, getgid());
	assert_int_equal(e->ctx.cgroup_id, w.srv.id);

	event_tracer_socket_walk_stats(w.et, &sw);
	assert_true(sw.recorded >= 1);
	assert_true(sw.netns >= 1);
	assert_int_equal(sw.found, sw.recorded + sw.had_owner + sw.table_full + sw.not_reached);
	walk_run_end(&w);
}

/*
 * A TCP socket without an owner record: the server's listener exists before the tracer but is
 * held by no process while the walk runs (in flight over SCM_RIGHTS). The accept runs in softirq
 * on the client's task; its record must name no process and the server socket's cgroup, not the
 * client's pid and cgroup (as it did when the context fell back to the current task).
 */
static void test_tcp_unowned(void **state)
{
	struct walk_run w;

	(void)state;
	run_walk(&w, "unowned", true);
	const struct tfx_event *e = find_tcp(&w.evs, TR_EV_TCP_ACCEPT, w.r.port, w.r.client_port);

	assert_non_null(e);
	assert_true(e->ctx.flags & TR_F_OWNER_UNKNOWN);
	assert_int_equal(e->ctx.pid, 0);
	assert_int_equal(e->ctx.tid, 0);
	assert_int_equal(e->ctx.ns_pid, 0);
	assert_int_equal(e->ctx.ppid, 0);
	assert_string_equal(e->ctx.comm, "");
	assert_int_equal(e->ctx.uid, (uint32_t)-1);
	assert_int_equal(e->ctx.gid, (uint32_t)-1);
	assert_int_equal(e->ctx.cgroup_id, w.srv.id);
	walk_run_end(&w);
}

/* Child: n connections to a listener of its own, in its own netns. */
static void connect_loop_child(const struct tfx_cgroup *cg, int n, int out)
{
	int ok = 0;

	if (tfx_cgroup_enter(cg) || unshare(CLONE_NEWNET) || lo_up())
		goto out;
	int l = listener(4, 9000, 512);

	if (l < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		int fd = connect_to(4, 9000, 0, NULL);

		if (fd < 0)
			goto out;
		close(fd);
		ok++;
	}
out:
	if (write(out, &ok, sizeof(ok)) != sizeof(ok))
		_exit(10);
	_exit(0);
}

static pid_t start_loop(const struct tfx_cgroup *cg, int n, int p[2])
{
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();

	if (pid == 0)
		connect_loop_child(cg, n, p[1]);
	return pid;
}

/* 5/s, burst 1, 100 connections in one second: at most 6 events, the rest counted. */
static void test_rate_limit(void **state)
{
	(void)state;
	struct tfx_cgroup a, b;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	struct event_tracer_counts c;
	uint64_t ids[2];
	int pa[2], pb[2], na = 0, nb = 0;

	tfx_cgroup_create(&a, "ratea");
	tfx_cgroup_create(&b, "rateb");
	ids[0] = a.id;
	ids[1] = b.id;
	evs.cgroup_ids = ids;
	evs.n_cgroup_ids = 2;
	tfx_opts_init(&o, &evs);
	o.events[TR_EV_TCP_CONNECT].enabled = true;
	o.events[TR_EV_TCP_CONNECT].rate_per_second = 5;
	o.events[TR_EV_TCP_CONNECT].rate_burst = 1;
	o.events[TR_EV_TCP_CONNECT].filter.cgroup_ids = ids;
	o.events[TR_EV_TCP_CONNECT].filter.n_cgroup_ids = 2;
	struct event_tracer *et = tfx_open(&o);

	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t ca = start_loop(&a, 100, pa);
	pid_t cb = start_loop(&b, 1, pb);

	assert_int_equal(read(pa[0], &na, sizeof(na)), sizeof(na));
	assert_int_equal(read(pb[0], &nb, sizeof(nb)), sizeof(nb));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tfx_wait(ca);
	tfx_wait(cb);
	for (int i = 0; i < 2; i++) {
		close(pa[i]);
		close(pb[i]);
	}
	assert_int_equal(na, 100);
	assert_int_equal(nb, 1);
	double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

	print_message("100 connections in %.3f s\n", secs);
	assert_true(secs < 1.0);
	tfx_drain(et, &evs, 500);

	size_t ea = 0, eb = 0;

	for (size_t i = 0; i < evs.n; i++) {
		if (evs.v[i].kind != TR_EV_TCP_CONNECT)
			continue;
		ea += evs.v[i].ctx.cgroup_id == a.id;
		eb += evs.v[i].ctx.cgroup_id == b.id;
	}
	event_tracer_counts(et, TR_EV_TCP_CONNECT, 0, &c);
	print_message("cgroup a: %zu events, suppressed %llu; cgroup b: %zu events\n", ea,
		      (unsigned long long)c.suppressed, eb);
	assert_true(ea >= 1 && ea <= 6);
	assert_int_equal(c.suppressed, 100 - ea);
	assert_int_equal(eb, 1);
	assert_int_equal(c.lost, 0);
	event_tracer_destroy(et);
	tfx_events_free(&evs);
	tfx_cgroup_destroy(&a);
	tfx_cgroup_destroy(&b);
}

struct sys_result {
	int err;
	pid_t pid;
	int connect_ret;
	int refused_ret;
	int unshare_ret;
	int setns_ret;
	int open_fd;
	int private_ret; /* mount(NULL, "/", NULL, MS_REC | MS_PRIVATE) in its own mount namespace */
	int mount_ret; /* a tmpfs mounted there: three strings in one record */
};

static void syscall_child(const struct tfx_cgroup *cg, const char *path, const char *mnt,
			  const char *src, int out)
{
	struct sys_result r = { .pid = getpid() };
	int nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (nsfd < 0 || tfx_cgroup_enter(cg)) {
		r.err = 1;
		goto out;
	}
	r.unshare_ret = unshare(CLONE_NEWNET | CLONE_NEWUTS);
	if (r.unshare_ret || lo_up()) {
		r.err = 2;
		goto out;
	}
	int l = listener(4, 7070, 4);

	if (l < 0) {
		r.err = 3;
		goto out;
	}
	int fd = connect_to(4, 7070, 0, NULL);

	r.connect_ret = fd < 0 ? fd : 0;
	if (fd >= 0)
		close(fd);
	fd = connect_to(4, 7071, 0, NULL);
	r.refused_ret = fd < 0 ? fd : 0;
	r.setns_ret = setns(nsfd, CLONE_NEWNET);
	r.open_fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	/* a mount namespace of its own, private first, so nothing reaches the host's mounts */
	if (unshare(CLONE_NEWNS)) {
		r.err = 4;
		goto out;
	}
	r.private_ret = mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	r.mount_ret = r.private_ret ? -1 : mount(src, mnt, "tmpfs", MS_NOSUID, NULL);
out:
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(10);
	_exit(0);
}

static const struct tfx_event *find_sys(const struct tfx_events *evs, int nr, int nth)
{
	for (size_t i = 0; i < evs->n; i++)
		if (evs->v[i].kind == TR_EV_SYSCALL && (int)evs->v[i].sys.nr == nr && nth-- == 0)
			return &evs->v[i];
	return NULL;
}

static void test_syscalls(void **state)
{
	(void)state;
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	struct sys_result r;
	char path[128], mnt[128], src[64], flags[256];
	int p[2];

	tfx_cgroup_create(&cg, "sys");
	snprintf(path, sizeof(path), "/tmp/fs%d_openat", getpid());
	snprintf(mnt, sizeof(mnt), "/tmp/fs%d_mnt", getpid());
	snprintf(src, sizeof(src), "fs%d_src", getpid());
	assert_int_equal(mkdir(mnt, 0700), 0);
	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	tfx_opts_init(&o, &evs);
	tfx_enable_syscall(&o, SYS_connect, &cg.id);
	tfx_enable_syscall(&o, SYS_unshare, &cg.id);
	tfx_enable_syscall(&o, SYS_setns, &cg.id);
	tfx_enable_syscall(&o, SYS_openat, &cg.id);
	tfx_enable_syscall(&o, SYS_mount, &cg.id);
	struct event_tracer *et = tfx_open(&o);

	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();

	if (pid == 0)
		syscall_child(&cg, path, mnt, src, p[1]);
	assert_int_equal(read(p[0], &r, sizeof(r)), sizeof(r));
	tfx_wait(pid);
	close(p[0]);
	close(p[1]);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.connect_ret, 0);
	assert_int_equal(r.refused_ret, -ECONNREFUSED);
	assert_true(r.open_fd >= 0);
	assert_int_equal(r.private_ret, 0);
	assert_int_equal(r.mount_ret, 0);
	tfx_drain(et, &evs, 500);

	const struct tfx_event *e = find_sys(&evs, SYS_connect, 0);

	assert_non_null(e);
	assert_string_equal(e->name, "connect");
	assert_int_equal(e->ctx.pid, r.pid);
	assert_int_equal(e->sys.ret, 0);
	assert_int_equal(e->sys.addr_len, sizeof(struct sockaddr_in));
	const struct sockaddr_in *sin = (const struct sockaddr_in *)e->sys.addr;

	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 7070);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	e = find_sys(&evs, SYS_connect, 1);
	assert_non_null(e);
	assert_int_equal(e->sys.ret, -ECONNREFUSED);
	sin = (const struct sockaddr_in *)e->sys.addr;
	assert_int_equal(ntohs(sin->sin_port), 7071);

	e = find_sys(&evs, SYS_unshare, 0);
	assert_non_null(e);
	assert_int_equal(e->sys.ret, 0);
	assert_string_equal(event_tracer_flags("clone", e->sys.args[0], flags, sizeof(flags)),
			    "CLONE_NEWUTS|CLONE_NEWNET");
	e = find_sys(&evs, SYS_setns, 0);
	assert_non_null(e);
	assert_int_equal(e->sys.ret, 0);
	assert_string_equal(event_tracer_flags("clone", e->sys.args[1], flags, sizeof(flags)), "CLO"
											       "NE_"
											       "NEW"
											       "NE"
											       "T");

	bool found = false;

	for (int i = 0; (e = find_sys(&evs, SYS_openat, i)); i++) {
		if (!e->sys.str_len[0] || strcmp(e->sys.str[0], path))
			continue;
		found = true;
		assert_int_equal(e->sys.ret, r.open_fd);
		assert_string_equal(event_tracer_flags("open", e->sys.args[2], flags,
						       sizeof(flags)),
				    "O_WRONLY|O_CREAT|O_CLOEXEC");
	}
	assert_true(found);

	/* strings packed after the fixed part: a missing one takes no room, the next follows */
	e = find_sys(&evs, SYS_mount, 0);
	assert_non_null(e);
	assert_int_equal(e->sys.ret, 0);
	assert_int_equal(e->sys.str_len[0], 0);
	assert_string_equal(e->sys.str[1], "/");
	assert_int_equal(e->sys.str_len[2], 0);
	assert_string_equal(event_tracer_flags("mount", e->sys.args[3], flags, sizeof(flags)),
			    "MS_REC|MS_PRIVATE");
	e = find_sys(&evs, SYS_mount, 1);
	assert_non_null(e);
	assert_int_equal(e->sys.ret, 0);
	assert_string_equal(e->sys.str[0], src);
	assert_int_equal(e->sys.str_len[0], strlen(src) + 1);
	assert_string_equal(e->sys.str[1], mnt);
	assert_string_equal(e->sys.str[2], "tmpfs");
	assert_null(find_sys(&evs, SYS_mount, 2));
	rmdir(mnt);
	unlink(path);
	event_tracer_destroy(et);
	tfx_events_free(&evs);
	tfx_cgroup_destroy(&cg);
}

/* A process over its v1 memory cgroup limit (this hybrid host's memory controller is v1). */
static void test_oom_kill(void **state)
{
	(void)state;
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	char mem[600], p[700];
	FILE *f;

	tfx_cgroup_create(&cg, "oom");
	snprintf(mem, sizeof(mem), "/sys/fs/cgroup/memory/fs%d_oom", getpid());
	rmdir(mem);
	if (mkdir(mem, 0755)) {
		/* a v2 memory controller instead: memory.max in the test's own group */
		snprintf(mem, sizeof(mem), "%s", cg.path);
		snprintf(p, sizeof(p), "%s/memory.max", mem);
	} else {
		snprintf(p, sizeof(p), "%s/memory.limit_in_bytes", mem);
	}
	f = fopen(p, "w");
	if (!f)
		fail_msg("%s: %s", p, strerror(errno));
	fprintf(f, "%d\n", 32 << 20);
	assert_int_equal(fclose(f), 0);

	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	tfx_opts_init(&o, &evs);
	tfx_enable(&o, TR_EV_OOM_KILL, &cg.id);
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXIT, &cg.id);
	struct event_tracer *et = tfx_open(&o);
	pid_t pid = fork();

	if (pid == 0) {
		char procs[700];

		if (tfx_cgroup_enter(&cg))
			_exit(1);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", mem);
		FILE *pf = fopen(procs, "w");

		if (!pf || fprintf(pf, "0\n") < 0 || fclose(pf))
			_exit(2);
		for (int i = 0; i < 1024; i++) {
			char *m = malloc(1 << 20);

			if (!m)
				_exit(3);
			memset(m, i, 1 << 20);
		}
		_exit(4);
	}
	int st = tfx_wait(pid);

	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	tfx_drain(et, &evs, 500);
	const struct tfx_event *e = tfx_find(&evs, TR_EV_OOM_KILL, pid);

	assert_non_null(e);
	assert_int_equal(e->ctx.cgroup_id, cg.id);
	assert_int_equal(e->ctx.ppid, getpid());
	assert_true(e->oom.total_vm_pages > 0);
	const struct tfx_event *x = tfx_find(&evs, TR_EV_SCHED_PROCESS_EXIT, pid);

	assert_non_null(x);
	assert_int_equal(x->exit.signal, SIGKILL);
	event_tracer_destroy(et);
	tfx_events_free(&evs);
	if (strcmp(mem, cg.path))
		rmdir(mem);
	tfx_cgroup_destroy(&cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_v4),	       cmocka_unit_test(test_tcp_v6),
		cmocka_unit_test(test_tcp_walk_netns), cmocka_unit_test(test_tcp_unowned),
		cmocka_unit_test(test_rate_limit),     cmocka_unit_test(test_syscalls),
		cmocka_unit_test(test_oom_kill),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "tracer kernel tests need root\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
