// SPDX-License-Identifier: Apache-2.0
/*
 * Accepted sockets and their listener's owner (bpf/flow.bpf.c, the handshake handoff): the
 * programs attached to a cgroup of the test's own, real connections over loopback in the test's
 * own network namespace, and the accepted socket's record read straight from the sock_owner
 * table by its cookie (SO_COOKIE). An accepted socket never passes cgroup/sock_create: a record
 * for it comes from the handoff alone, so every case here fails without it. IPv4, IPv6 and
 * IPv4-mapped, for a plain handshake, syncookies, TCP Fast Open, a handshake completed while
 * more than 8,192 others are pending, and handoffs that name another connection. Needs root;
 * fails, never skips, without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "flow.skel.h"
#include "flow_fixture.h"

#define SRV4 "192.0.2.1"
#define CLI4 "192.0.2.2"
#define SRV6 "2001:db8::1"
#define CLI6 "2001:db8::2"
/* sources of the SYN flood: routed to a veth whose peer drops the SYN-ACKs (another host's
 * MAC address, no forwarding) */
#define FLOOD4 "198.51.100.9"
#define FLOOD6 "2001:db8:99::9"
/* more pending handshakes than the old accept_owner LRU held (8,192) */
#define FLOOD_SYNS 10000

#define LISTENER_COMM "fs-listener"
#define CLIENT_COMM "fs-client"

/* How the listener and its client talk. */
enum fam {
	FAM4, /* AF_INET both sides */
	FAM6, /* AF_INET6 both sides */
	FAM_MAPPED, /* an AF_INET6 listener (dual stack), an AF_INET client: ::ffff:192.0.2.1 */
};

struct fx {
	struct flow_bpf *skel;
	struct bpf_link *links[5];
	int owner_fd; /* sock_owner */
	int handoff_fd;
	char cg_top[4096]; /* the cgroup the programs are attached to */
	char cg_srv[4200]; /* listeners under it */
	char cg_cli[4200]; /* clients under it */
	char cg_orig[4200]; /* where the test started: outside the attached cgroup */
	uint64_t srv_cgid;
	uint64_t orig_cgid;
	uint16_t next_port;
};

static struct fx *the_fx;

static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	if (ret != 0)
		fail_msg("`%s` failed (%d)", cmd, ret);
}

/* Writes a sysctl of the test's network namespace (/proc/sys path below net/). */
static void net_sysctl(const char *name, const char *value)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/%s", name);
	f = fopen(path, "we");
	if (!f || fputs(value, f) < 0 || fclose(f))
		fail_msg("writing %s = %s: %s", path, value, strerror(errno));
}

/* A TcpExt counter of the test's network namespace (/proc/self/net/netstat). */
static uint64_t tcpext(const char *name)
{
	char names[8192], values[8192];
	FILE *f = fopen("/proc/self/net/netstat", "re");
	uint64_t found = UINT64_MAX;

	assert_non_null(f);
	while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *sn, *sv, *n, *v;

		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names, " \n", &sn);
		v = strtok_r(values, " \n", &sv);
		while (n && v) {
			if (!strcmp(n, name))
				found = strtoull(v, NULL, 10);
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
	}
	fclose(f);
	if (found == UINT64_MAX)
		fail_msg("no TcpExt counter %s", name);
	return found;
}

static uint64_t cgroup_id(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		fail_msg("stat %s: %s", path, strerror(errno));
	return st.st_ino;
}

/* Moves this process into the cgroup at path: the sockets it creates then belong to it. */
static void enter_cgroup(const char *path)
{
	char file[4300];
	FILE *f;

	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	f = fopen(file, "we");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
		fail_msg("moving into %s: %s", path, strerror(errno));
}

static void set_comm(const char *comm)
{
	assert_int_equal(prctl(PR_SET_NAME, comm, 0, 0, 0), 0);
}

static socklen_t sockaddr_of(int af, const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, addr, &a->sin_addr), 1);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, addr, &a->sin6_addr), 1);
	return sizeof(*a);
}

/*
 * A listener on port, created in the cgroup at cg with comm LISTENER_COMM (its owner record
 * names this process and that comm). fastopen: TCP_FASTOPEN on it.
 */
static int listener(enum fam fam, uint16_t port, const char *cg, bool fastopen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, qlen = 64, fd, af = fam == FAM4 ? AF_INET : AF_INET6;

	enter_cgroup(cg);
	set_comm(LISTENER_COMM);
	fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	set_comm(CLIENT_COMM);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	if (fam == FAM_MAPPED) {
		int zero = 0;

		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)), 0);
		len = sockaddr_of(AF_INET6, "::", port, &ss);
	} else {
		len = sockaddr_of(af, fam == FAM4 ? SRV4 : SRV6, port, &ss);
	}
	if (bind(fd, (struct sockaddr *)&ss, len))
		fail_msg("bind port %u: %s", port, strerror(errno));
	if (fastopen)
		assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)), 0);
	assert_int_equal(listen(fd, 20000), 0);
	return fd;
}

/*
 * A client socket of the cgroup cg_cli, bound to the client address (and to cport unless 0).
 * Not yet connected.
 */
static int client(struct fx *fx, enum fam fam, uint16_t cport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, fd, af = fam == FAM6 ? AF_INET6 : AF_INET;

	enter_cgroup(fx->cg_cli);
	fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	len = sockaddr_of(af, fam == FAM6 ? CLI6 : CLI4, cport, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len))
		fail_msg("bind client port %u: %s", cport, strerror(errno));
	return fd;
}

static socklen_t server_addr(enum fam fam, uint16_t port, struct sockaddr_storage *ss)
{
	return sockaddr_of(fam == FAM6 ? AF_INET6 : AF_INET, fam == FAM6 ? SRV6 : SRV4, port, ss);
}

static void connect_to(int fd, enum fam fam, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = server_addr(fam, port, &ss);

	if (connect(fd, (struct sockaddr *)&ss, len))
		fail_msg("connect to port %u: %s", port, strerror(errno));
}

static int accept_one(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		fail_msg("accept: %s", strerror(errno));
	return fd;
}

static uint64_t cookie_of(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
	assert_true(cookie != 0);
	return cookie;
}

/* The sock_owner record of the socket fd, as the skb programs find it: 0, or -1 without one. */
static int owner_record(struct fx *fx, int fd, struct sock_owner *out)
{
	uint64_t cookie = cookie_of(fd);
	int found = -1;

	for (uint32_t i = 0; i < FLOW_OWNER_PROBES; i++) {
		struct sock_owner_slot slot;
		uint32_t idx = FLOW_OWNER_SLOT(cookie, i);

		assert_int_equal(bpf_map_lookup_elem(fx->owner_fd, &idx, &slot), 0);
		if (slot.cookie == cookie) {
			if (found == 0)
				fail_msg("socket cookie %llu has two owner records",
					 (unsigned long long)cookie);
			*out = slot.owner;
			found = 0;
		}
	}
	return found;
}

/*
 * The accepted socket fd must carry its listener's owner (this process, LISTENER_COMM). The
 * record is written while the kernel processes the final ACK, before or just after accept()
 * returns it: a short wait, never a pass without the record.
 */
static void assert_listener_owner(struct fx *fx, int fd, const char *what)
{
	struct sock_owner o;
	int tries = 0;

	while (owner_record(fx, fd, &o) && tries++ < 100)
		usleep(2000);
	if (tries > 100)
		fail_msg("%s: the accepted socket has no owner record", what);
	if (o.tgid != (uint32_t)getpid() || strncmp(o.comm, LISTENER_COMM, FLOW_COMM_LEN))
		fail_msg("%s: owner %u \"%.16s\", want %d \"%s\"", what, o.tgid, o.comm, getpid(),
			 LISTENER_COMM);
}

static void assert_no_owner(struct fx *fx, int fd, const char *what)
{
	struct sock_owner o;

	usleep(20000);
	if (!owner_record(fx, fd, &o))
		fail_msg("%s: the accepted socket has owner %u \"%.16s\", want none", what, o.tgid,
			 o.comm);
}

static uint16_t port(struct fx *fx)
{
	return fx->next_port++;
}

/* One connection to a new listener; the accepted socket must carry the listener's owner. */
static void one_handshake(struct fx *fx, enum fam fam, const char *what)
{
	uint16_t p = port(fx);
	int lfd = listener(fam, p, fx->cg_srv, false);
	int cfd = client(fx, fam, 0);
	int afd;

	connect_to(cfd, fam, p);
	afd = accept_one(lfd);
	assert_listener_owner(fx, afd, what);
	close(afd);
	close(cfd);
	close(lfd);
}

static void test_plain(void **state)
{
	struct fx *fx = *state;

	net_sysctl("ipv4/tcp_syncookies", "1");
	net_sysctl("ipv4/tcp_fastopen", "1");
	one_handshake(fx, FAM4, "IPv4");
	one_handshake(fx, FAM6, "IPv6");
	one_handshake(fx, FAM_MAPPED, "IPv4-mapped");
}

/* Every SYN answered with a cookie (tcp_syncookies=2): the child is made from the final ACK. */
static void test_syncookies(void **state)
{
	struct fx *fx = *state;
	uint64_t before = tcpext("SyncookiesRecv");

	net_sysctl("ipv4/tcp_fastopen", "1");
	net_sysctl("ipv4/tcp_syncookies", "2");
	one_handshake(fx, FAM4, "IPv4, syncookies");
	one_handshake(fx, FAM6, "IPv6, syncookies");
	one_handshake(fx, FAM_MAPPED, "IPv4-mapped, syncookies");
	net_sysctl("ipv4/tcp_syncookies", "1");
	/* the three handshakes really went through cookies */
	assert_int_equal(tcpext("SyncookiesRecv") - before, 3);
}

/*
 * Fast Open: the child is made at the SYN (with its data) and is in the accept queue at once; it
 * becomes ESTABLISHED at the final ACK, which goes to the child, not the listener. The client's
 * pure final ACK is dropped (nftables in the test's namespace), so the accepted socket is still
 * in SYN_RECV when its owner is read: the record comes from the SYN alone (its handoff, taken by
 * the child's SYN-ACK). The client's next data then completes the handshake.
 */
static void fastopen_handshake(struct fx *fx, enum fam fam, const char *what)
{
	struct sockaddr_storage ss;
	uint16_t p = port(fx), cport = port(fx);
	int lfd = listener(fam, p, fx->cg_srv, true);
	int cfd = client(fx, fam, cport);
	socklen_t len = server_addr(fam, p, &ss);
	struct tcp_info ti;
	socklen_t ti_len = sizeof(ti);
	char buf[8], stage[128];
	int afd;

	sh("nft add rule inet fsacc out tcp sport %u tcp dport %u 'tcp flags == ack' drop", cport,
	   p);
	if (sendto(cfd, "tfo", 3, MSG_FASTOPEN, (struct sockaddr *)&ss, len) != 3)
		fail_msg("%s: sendto MSG_FASTOPEN: %s", what, strerror(errno));
	afd = accept_one(lfd);
	assert_int_equal(recv(afd, buf, sizeof(buf), 0), 3);
	snprintf(stage, sizeof(stage), "%s, before the final ACK", what);
	assert_listener_owner(fx, afd, stage);
	assert_int_equal(getsockopt(afd, IPPROTO_TCP, TCP_INFO, &ti, &ti_len), 0);
	if (ti.tcpi_state != TCP_SYN_RECV)
		fail_msg("%s: the accepted socket is in state %u, want SYN_RECV", what,
			 ti.tcpi_state);
	assert_int_equal(send(cfd, "more", 4, 0), 4);
	assert_int_equal(recv(afd, buf, sizeof(buf), 0), 4);
	assert_listener_owner(fx, afd, what);
	close(afd);
	close(cfd);
	close(lfd);
}

static void test_fastopen(void **state)
{
	struct fx *fx = *state;
	uint64_t before = tcpext("TCPFastOpenPassive");

	net_sysctl("ipv4/tcp_syncookies", "1");
	/* client and server, no cookie needed on either side */
	net_sysctl("ipv4/tcp_fastopen", "519");
	fastopen_handshake(fx, FAM4, "IPv4, Fast Open");
	fastopen_handshake(fx, FAM6, "IPv6, Fast Open");
	fastopen_handshake(fx, FAM_MAPPED, "IPv4-mapped, Fast Open");
	net_sysctl("ipv4/tcp_fastopen", "1");
	/* the three children were made at the SYN */
	assert_int_equal(tcpext("TCPFastOpenPassive") - before, 3);
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* A raw TCP segment (no options, no payload) from src:sport to dst:dport, sent on fd. */
static void raw_tcp(int fd, int af, const char *src, uint16_t sport, const char *dst,
		    uint16_t dport, uint8_t flags, uint32_t seq)
{
	uint8_t buf[60] = {};
	struct tcphdr *th;
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(af, dst, 0, &ss);
	uint8_t pseudo_tail[4] = { 0, IPPROTO_TCP, 0, sizeof(*th) }; /* v4 and v6 sum alike */
	size_t ip_len = af == AF_INET ? sizeof(struct iphdr) : sizeof(struct ip6_hdr);
	uint32_t sum;

	th = (struct tcphdr *)(buf + ip_len);
	th->source = htons(sport);
	th->dest = htons(dport);
	th->seq = htonl(seq);
	th->doff = sizeof(*th) / 4;
	th->th_flags = flags;
	th->window = htons(65535);
	if (af == AF_INET) {
		struct iphdr *ip = (struct iphdr *)buf;

		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->tot_len = htons(ip_len + sizeof(*th));
		assert_int_equal(inet_pton(AF_INET, src, &ip->saddr), 1);
		assert_int_equal(inet_pton(AF_INET, dst, &ip->daddr), 1);
		sum = csum_add(0, &ip->saddr, 8);
	} else {
		struct ip6_hdr *ip6 = (struct ip6_hdr *)buf;

		ip6->ip6_flow = htonl(6u << 28);
		ip6->ip6_plen = htons(sizeof(*th));
		ip6->ip6_nxt = IPPROTO_TCP;
		ip6->ip6_hops = 64;
		assert_int_equal(inet_pton(AF_INET6, src, &ip6->ip6_src), 1);
		assert_int_equal(inet_pton(AF_INET6, dst, &ip6->ip6_dst), 1);
		sum = csum_add(0, &ip6->ip6_src, 32);
	}
	sum = csum_add(sum, pseudo_tail, sizeof(pseudo_tail));
	sum = csum_add(sum, th, sizeof(*th));
	th->check = csum_fold(sum);
	if (sendto(fd, buf, ip_len + sizeof(*th), 0, (struct sockaddr *)&ss, len) < 0)
		fail_msg("raw send: %s", strerror(errno));
}

static int raw_socket(int af)
{
	int fd = socket(af, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);

	assert_true(fd >= 0);
	return fd;
}

/* Handshakes pending on the listener's port (request sockets), counted by ss. */
static unsigned int pending(uint16_t p)
{
	char cmd[128];
	unsigned int n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ss -Htn state syn-recv '( sport = :%u )' | wc -l", p);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%u", &n), 1);
	pclose(f);
	return n;
}

/*
 * A real handshake whose SYN came before FLOOD_SYNS others that stay pending, and whose
 * completion (the client's first data: its pure final ACK is dropped by nftables in the test's
 * namespace) comes after them. The old accept_owner LRU (8,192 entries, written at each SYN)
 * lost the real SYN's entry to the flood.
 */
static void flood_handshake(struct fx *fx, enum fam fam, const char *what)
{
	uint16_t p = port(fx), cport = port(fx);
	int af_raw = fam == FAM6 ? AF_INET6 : AF_INET;
	int lfd = listener(fam, p, fx->cg_srv, false);
	int cfd = client(fx, fam, cport);
	int rfd = raw_socket(af_raw);
	unsigned int n;
	char buf[8];
	int afd;

	sh("nft add rule inet fsacc out tcp sport %u tcp dport %u 'tcp flags == ack' drop", cport,
	   p);
	/* the client thinks it is connected; the server holds a request socket */
	connect_to(cfd, fam, p);
	for (unsigned int i = 0; i < FLOOD_SYNS; i++)
		raw_tcp(rfd, af_raw, fam == FAM6 ? FLOOD6 : FLOOD4, (uint16_t)(1024 + i),
			fam == FAM6 ? SRV6 : SRV4, p, TH_SYN, 1000 + i);
	n = pending(p);
	if (n <= FLOOD_SYNS)
		fail_msg("%s: %u handshakes pending, want more than %u", what, n, FLOOD_SYNS);
	assert_int_equal(send(cfd, "data", 4, 0), 4);
	afd = accept_one(lfd);
	assert_int_equal(recv(afd, buf, sizeof(buf), 0), 4);
	assert_listener_owner(fx, afd, what);
	close(afd);
	close(cfd);
	close(rfd);
	close(lfd);
}

static void test_syn_flood(void **state)
{
	struct fx *fx = *state;

	net_sysctl("ipv4/tcp_fastopen", "1");
	/* real request sockets for every SYN, none refused (the test's namespace only) */
	net_sysctl("ipv4/tcp_syncookies", "0");
	net_sysctl("ipv4/tcp_max_syn_backlog", "65536");
	flood_handshake(fx, FAM4, "IPv4, SYN flood");
	flood_handshake(fx, FAM6, "IPv6, SYN flood");
	flood_handshake(fx, FAM_MAPPED, "IPv4-mapped, SYN flood");
	net_sysctl("ipv4/tcp_syncookies", "1");
}

static void pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	assert_true(cpu >= 0);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
}

static void unpin_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (int i = 0; i < libbpf_num_possible_cpus() && i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* This CPU's handoff (the test is pinned to one CPU). */
static struct flow_handoff handoff_here(struct fx *fx)
{
	int ncpu = libbpf_num_possible_cpus();
	struct flow_handoff *v = calloc((size_t)ncpu, sizeof(*v));
	struct flow_handoff h;
	uint32_t zero = 0;
	int cpu = sched_getcpu();

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(fx->handoff_fd, &zero, v), 0);
	h = v[cpu];
	free(v);
	return h;
}

/* Every CPU's handoff set to h. */
static void handoff_set(struct fx *fx, const struct flow_handoff *h)
{
	int ncpu = libbpf_num_possible_cpus();
	struct flow_handoff *v = calloc((size_t)ncpu, sizeof(*v));
	uint32_t zero = 0;

	assert_non_null(v);
	for (int i = 0; i < ncpu; i++)
		v[i] = *h;
	assert_int_equal(bpf_map_update_elem(fx->handoff_fd, &zero, v, BPF_ANY), 0);
	free(v);
}

static struct flow_conn conn_of(enum fam fam, uint64_t cgid, uint16_t lport, uint16_t rport)
{
	struct flow_conn c = { .cgroup_id = cgid, .lport = lport, .rport = rport };

	if (fam == FAM6) {
		assert_int_equal(inet_pton(AF_INET6, SRV6, c.laddr), 1);
		assert_int_equal(inet_pton(AF_INET6, CLI6, c.raddr), 1);
	} else {
		assert_int_equal(inet_pton(AF_INET, SRV4, c.laddr), 1);
		assert_int_equal(inet_pton(AF_INET, CLI4, c.raddr), 1);
	}
	return c;
}

/*
 * A handoff left by a real packet: a bare ACK to a listener that makes no child (no request
 * socket for it: the kernel answers with a RST) leaves the listener's owner for a connection
 * that never comes. A connection accepted next on this CPU by a listener outside the attached
 * cgroup (no ingress run of ours, so nothing overwrites the handoff; the state change is seen
 * for every socket) has other ports and another cgroup: it must not take that owner.
 */
static void stale_real(struct fx *fx, enum fam fam, const char *what)
{
	int af_raw = fam == FAM6 ? AF_INET6 : AF_INET;
	uint16_t pa = port(fx), pb = port(fx), cport = port(fx);
	int la = listener(fam, pa, fx->cg_srv, false);
	int lb = listener(fam, pb, fx->cg_orig, false);
	int rfd = raw_socket(af_raw);
	struct flow_handoff h;
	struct flow_conn want;
	int cfd, afd;

	raw_tcp(rfd, af_raw, fam == FAM6 ? FLOOD6 : FLOOD4, cport, fam == FAM6 ? SRV6 : SRV4, pa,
		TH_ACK, 4242);
	h = handoff_here(fx);
	/* the precondition: the handoff names the bare ACK's connection and listener A's owner */
	want = (struct flow_conn){ .cgroup_id = fx->srv_cgid, .lport = pa, .rport = cport };
	if (fam == FAM6) {
		assert_int_equal(inet_pton(AF_INET6, SRV6, want.laddr), 1);
		assert_int_equal(inet_pton(AF_INET6, FLOOD6, want.raddr), 1);
	} else {
		assert_int_equal(inet_pton(AF_INET, SRV4, want.laddr), 1);
		assert_int_equal(inet_pton(AF_INET, FLOOD4, want.raddr), 1);
	}
	assert_int_equal(h.full, 1);
	assert_memory_equal(&h.conn, &want, sizeof(want));
	assert_int_equal(h.owner.tgid, getpid());
	assert_string_equal(h.owner.comm, LISTENER_COMM);

	cfd = client(fx, fam, cport);
	connect_to(cfd, fam, pb);
	afd = accept_one(lb);
	assert_no_owner(fx, afd, what);
	close(afd);
	close(cfd);
	close(rfd);
	close(la);
	close(lb);
}

/*
 * A handoff that differs from the accepted connection in one field only (local port, remote
 * port, cgroup, an address) gives it nothing; the same handoff naming it exactly gives it the
 * handoff's owner (the state change really takes from the handoff: the cases above can fail).
 */
static void stale_field(struct fx *fx, enum fam fam, int field, const char *what)
{
	uint16_t pb = port(fx), cport = port(fx);
	int lb = listener(fam, pb, fx->cg_orig, false);
	struct flow_handoff h = { .full = 1 };
	int cfd, afd;

	h.conn = conn_of(fam, fx->orig_cgid, pb, cport);
	switch (field) {
	case 1:
		h.conn.lport++;
		break;
	case 2:
		h.conn.rport++;
		break;
	case 3:
		h.conn.cgroup_id = fx->srv_cgid;
		break;
	case 4:
		h.conn.raddr[fam == FAM6 ? 15 : 3] ^= 1;
		break;
	default:
		break;
	}
	h.owner.tgid = 4242;
	snprintf(h.owner.comm, sizeof(h.owner.comm), "fs-stale");
	handoff_set(fx, &h);
	cfd = client(fx, fam, cport);
	connect_to(cfd, fam, pb);
	afd = accept_one(lb);
	if (field) {
		assert_no_owner(fx, afd, what);
	} else {
		struct sock_owner o;

		if (owner_record(fx, afd, &o))
			fail_msg("%s: no owner from an exact handoff", what);
		assert_int_equal(o.tgid, 4242);
		assert_string_equal(o.comm, "fs-stale");
	}
	close(afd);
	close(cfd);
	close(lb);
	memset(&h, 0, sizeof(h));
	handoff_set(fx, &h);
}

static void test_stale_handoff(void **state)
{
	static const enum fam fams[] = { FAM4, FAM6, FAM_MAPPED };
	static const char *names[] = { "IPv4", "IPv6", "IPv4-mapped" };
	struct fx *fx = *state;
	char what[128];

	net_sysctl("ipv4/tcp_fastopen", "1");
	pin_cpu();
	net_sysctl("ipv4/tcp_syncookies", "0");
	for (int i = 0; i < 3; i++) {
		snprintf(what, sizeof(what), "%s, stale handoff from a bare ACK", names[i]);
		stale_real(fx, fams[i], what);
		for (int field = 0; field <= 4; field++) {
			snprintf(what, sizeof(what), "%s, handoff off in field %d", names[i],
				 field);
			stale_field(fx, fams[i], field, what);
		}
	}
	net_sysctl("ipv4/tcp_syncookies", "1");
	unpin_cpu();
}

static int group_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char mnt[4096], line[4096];
	FILE *f;
	int cg_fd, err, i = 0;

	if (!fx)
		return -1;
	the_fx = fx;
	fx->next_port = 20000;
	if (unshare(CLONE_NEWNET)) {
		print_error("unshare(CLONE_NEWNET): %s (root needed)\n", strerror(errno));
		return -1;
	}
	if (system("ip link set lo up && ip addr add " SRV4 "/24 dev lo && "
		   "ip addr add " SRV6 "/64 dev lo nodad && ip addr add " CLI6 "/64 dev lo nodad "
		   "&& "
		   "ip link add fsd0 type veth peer name fsd1 && ip link set fsd0 up && "
		   "ip link set fsd1 up && ip route add 198.51.100.0/24 dev fsd0 && "
		   "ip route add 2001:db8:99::/64 dev fsd0 && "
		   "ip neigh add " FLOOD4 " lladdr 02:00:00:00:00:01 dev fsd0 nud permanent && "
		   "ip neigh add " FLOOD6 " lladdr 02:00:00:00:00:01 dev fsd0 nud permanent && "
		   "nft add table inet fsacc && "
		   "nft add chain inet fsacc out '{ type filter hook output priority 0; }'")) {
		print_error("setting up the test's network namespace failed\n");
		return -1;
	}
	if (fx_cgroup2_mount(mnt, sizeof(mnt))) {
		print_error("cgroup v2 is not mounted\n");
		return -1;
	}
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(fx->cg_orig, sizeof(fx->cg_orig), "%.1024s%.2048s", mnt, line + 3);
		}
	}
	if (f)
		fclose(f);
	snprintf(fx->cg_top, sizeof(fx->cg_top), "%.1024s/fs%dacc", mnt, getpid());
	snprintf(fx->cg_srv, sizeof(fx->cg_srv), "%.2048s/srv", fx->cg_top);
	snprintf(fx->cg_cli, sizeof(fx->cg_cli), "%.2048s/cli", fx->cg_top);
	if (!fx->cg_orig[0] || mkdir(fx->cg_top, 0755) || mkdir(fx->cg_srv, 0755) ||
	    mkdir(fx->cg_cli, 0755)) {
		print_error("making the test's cgroups: %s\n", strerror(errno));
		return -1;
	}
	fx->srv_cgid = cgroup_id(fx->cg_srv);
	fx->orig_cgid = cgroup_id(fx->cg_orig);
	fx->skel = flow_bpf__open_and_load();
	if (!fx->skel) {
		print_error("flow_bpf__open_and_load: %s (root needed)\n", strerror(errno));
		return -1;
	}
	cg_fd = open(fx->cg_top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0)
		return -1;
	fx->links[i++] = bpf_program__attach_cgroup(fx->skel->progs.flow_ingress, cg_fd);
	fx->links[i++] = bpf_program__attach_cgroup(fx->skel->progs.flow_egress, cg_fd);
	fx->links[i++] = bpf_program__attach_cgroup(fx->skel->progs.flow_sock_create, cg_fd);
	fx->links[i++] = bpf_program__attach(fx->skel->progs.flow_sock_state);
	fx->links[i++] = bpf_program__attach(fx->skel->progs.flow_sock_destroy);
	close(cg_fd);
	for (i = 0; i < 5; i++) {
		err = libbpf_get_error(fx->links[i]);
		if (err) {
			fx->links[i] = NULL;
			print_error("attaching program %d: %s\n", i, strerror(-err));
			return -1;
		}
	}
	fx->owner_fd = bpf_map__fd(fx->skel->maps.sock_owner);
	fx->handoff_fd = bpf_map__fd(fx->skel->maps.handoff);
	net_sysctl("core/somaxconn", "65535");
	net_sysctl("ipv4/conf/all/rp_filter", "0");
	net_sysctl("ipv4/conf/lo/rp_filter", "0");
	*state = fx;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *fx = *state ? *state : the_fx;

	if (!fx)
		return 0;
	if (fx->cg_orig[0])
		enter_cgroup(fx->cg_orig);
	for (int i = 0; i < 5; i++)
		bpf_link__destroy(fx->links[i]);
	flow_bpf__destroy(fx->skel);
	rmdir(fx->cg_srv);
	rmdir(fx->cg_cli);
	rmdir(fx->cg_top);
	free(fx);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),	      cmocka_unit_test(test_syncookies),
		cmocka_unit_test(test_fastopen),      cmocka_unit_test(test_syn_flood),
		cmocka_unit_test(test_stale_handoff),
	};

	/* FS_TEST_FILTER=test_fastopen runs one case (cmocka's pattern) */
	if (getenv("FS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("FS_TEST_FILTER"));
	return cmocka_run_group_tests_name("flow_accept", tests, group_setup, group_teardown);
}
