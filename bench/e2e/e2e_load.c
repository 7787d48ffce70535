// SPDX-License-Identifier: Apache-2.0
/*
 * e2e_load: the loads of the end-to-end benchmark (bench/e2e/e2e_bench.py), one mode per run.
 *
 *   e2e_load udp-send DST PORT NPORTS SOCKETS PAYLOAD SECONDS [RATE]
 *       SOCKETS UDP sockets (one source port each) send PAYLOAD-byte datagrams to
 *       NPORTS destination ports PORT..PORT+NPORTS-1 of DST with sendmmsg(), 64 at a time, as
 *       fast as they can for SECONDS: SOCKETS x NPORTS flows. With RATE (datagrams per
 *       second, 0: no limit) each sendmmsg() batch waits for its due time, start + sent /
 *       RATE, so the rate holds on average over the run and bursts are one batch long.
 *   e2e_load udp-recv BIND PORT NPORTS
 *       drains NPORTS ports with recvmmsg() until SIGTERM/SIGINT.
 *   e2e_load tcp-accept BIND PORT
 *       accepts connections one at a time, reads each until the client's RST or FIN and
 *       closes it, until SIGTERM/SIGINT.
 *   e2e_load connect DST PORT SECONDS [RATE]
 *       connect()/close() in a loop for SECONDS (at most RATE connections per second when
 *       given, 0: no limit); the close sends a RST (SO_LINGER 0), so no TIME_WAIT piles up on
 *       the client.
 *   e2e_load dns DST SECONDS QNAME
 *       one A query for QNAME at a time to DST:53, next query when the answer came (1 s
 *       timeout), for SECONDS.
 *   e2e_load cgroup-send DST PORT CGDIR NGROUPS SECONDS
 *       makes NGROUPS UDP sockets, the i-th while this process sits in cgroup CGDIR/g<i>
 *       (a socket keeps the cgroup it was created in), then sends one datagram per socket in
 *       turn for SECONDS: traffic from NGROUPS cgroups out of one process.
 *
 * Every mode prints one JSON line on stdout at the end ({"sent": N, ...}) and exits 0, or
 * prints an error on stderr and exits 1. udp-send and connect also print "seconds" (the time
 * they sent for) and "rate" (sent / seconds: the rate reached, datagrams or connections per
 * second).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleeps until CLOCK_MONOTONIC reads t (seconds); returns early on a signal. */
static void sleep_until(double t)
{
	struct timespec ts = { .tv_sec = (time_t)t };

	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	if (ts.tv_nsec > 999999999)
		ts.tv_nsec = 999999999;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static void die(const char *what)
{
	fprintf(stderr, "e2e_load: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr, "e2e_load: bad number '%s' (%ld..%ld)\n", s, min, max);
		exit(1);
	}
	return v;
}

static struct sockaddr_in addr4(const char *ip, long port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "e2e_load: bad IPv4 address '%s'\n", ip);
		exit(1);
	}
	return a;
}

static void handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static int udp_send(char **av)
{
	struct sockaddr_in dst = addr4(av[0], num(av[1], 1, 65535));
	long nports = num(av[2], 1, 65535 - ntohs(dst.sin_port) + 1);
	long nsock = num(av[3], 1, 60000), payload = num(av[4], 0, 1472);
	double start = now_s(), end = start + num(av[5], 1, 86400), stopped;
	long rate = av[6] ? num(av[6], 0, 100000000) : 0;
	struct sockaddr_in *dsts = calloc(nports, sizeof(*dsts));
	int *fds = calloc(nsock, sizeof(*fds));
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char buf[1472] = { 0 };
	unsigned long long sent = 0, errors = 0;
	long next_port = 0;

	if (!dsts || !fds)
		die("calloc");
	for (long p = 0; p < nports; p++) {
		dsts[p] = dst;
		dsts[p].sin_port = htons(ntohs(dst.sin_port) + p);
	}
	for (long i = 0; i < nsock; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0)
			die("socket");
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = payload;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_namelen = sizeof(dst);
	}
	handle_signals();
	while (!stop && now_s() < end) {
		for (long i = 0; i < nsock && !stop; i++) {
			if (rate) {
				/*
				 * this batch's due time: a refused call (ENOBUFS...) counts as one
				 * datagram, so the next batch is not held back for what was not sent
				 */
				double due = start + (double)(sent + errors) / rate;

				if (due >= end)
					break;
				if (due > now_s())
					sleep_until(due);
			}
			for (int m = 0; m < BATCH; m++) {
				msgs[m].msg_hdr.msg_name = &dsts[next_port];
				next_port = (next_port + 1) % nports;
			}
			int n = sendmmsg(fds[i], msgs, BATCH, 0);

			if (n > 0)
				sent += n;
			else if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED)
				errors++;
			else
				die("sendmmsg");
		}
		if (rate && start + (double)(sent + errors) / rate >= end)
			break;
	}
	stopped = now_s() - start;
	printf("{\"sent\": %llu, \"errors\": %llu, \"flows\": %ld, \"seconds\": %.3f, "
	       "\"rate\": %.0f}\n",
	       sent, errors, nsock * nports, stopped, sent / stopped);
	return 0;
}

static int udp_recv(char **av)
{
	struct sockaddr_in a = addr4(av[0], num(av[1], 1, 65535));
	long nports = num(av[2], 1, 65535 - ntohs(a.sin_port) + 1);
	int ep = epoll_create1(0);
	static char bufs[BATCH][2048];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	unsigned long long got = 0;
	int base = ntohs(a.sin_port);

	if (ep < 0)
		die("epoll_create1");
	for (long p = 0; p < nports; p++) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), rcvbuf = 4 << 20;
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

		if (fd < 0)
			die("socket");
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		a.sin_port = htons(base + p);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
			die("bind");
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			die("epoll_ctl");
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	handle_signals();
	printf("{\"ready\": true}\n");
	fflush(stdout);
	while (!stop) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 200);

		for (int i = 0; i < n; i++) {
			int r;

			while ((r = recvmmsg(evs[i].data.fd, msgs, BATCH, 0, NULL)) > 0)
				got += r;
		}
	}
	printf("{\"received\": %llu}\n", got);
	return 0;
}

static int tcp_accept(char **av)
{
	struct sockaddr_in a = addr4(av[0], num(av[1], 1, 65535));
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned long long accepted = 0;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096))
		die("bind/listen");
	/* no SA_RESTART: a signal ends the blocking accept() */
	handle_signals();
	printf("{\"ready\": true}\n");
	fflush(stdout);
	while (!stop) {
		int c = accept(fd, NULL, NULL);

		if (c >= 0) {
			char b[64];

			/*
			 * Wait for the client's RST (or FIN) before closing: closing first would
			 * send a FIN to a socket that is gone, answered by a RST from no socket,
			 * and such packets belong to no cgroup (the veth still counts them).
			 */
			while (recv(c, b, sizeof(b), 0) > 0)
				;
			accepted++;
			close(c);
		} else if (errno != EINTR && errno != ECONNABORTED) {
			die("accept");
		}
	}
	printf("{\"accepted\": %llu}\n", accepted);
	return 0;
}

static int tcp_connect(char **av, int ac)
{
	struct sockaddr_in dst = addr4(av[0], num(av[1], 1, 65535));
	double start = now_s(), end = start + num(av[2], 1, 86400);
	long rate = ac > 3 ? num(av[3], 0, 10000000) : 0;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	unsigned long long done = 0, failed = 0;
	double t_end;

	handle_signals();
	while (!stop) {
		double t = now_s();

		if (t >= end)
			break;
		if (rate) {
			/* the next connection's due time: asleep until then, not polling */
			double due = start + (double)(done + failed) / rate;

			if (due >= end)
				break;
			if (due > t)
				sleep_until(due);
		}
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		if (fd < 0)
			die("socket");
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == 0)
			done++;
		else
			failed++;
		close(fd);
	}
	t_end = now_s() - start;
	printf("{\"sent\": %llu, \"failed\": %llu, \"seconds\": %.3f, \"rate\": %.0f}\n", done,
	       failed, t_end, done / t_end);
	return 0;
}

/* A DNS query (RFC 1035 §4.1) for qname, type A, class IN, RD set; returns its length. */
static int dns_query(unsigned char *q, size_t cap, const char *qname, unsigned id)
{
	size_t pos = 12;
	const char *label = qname;

	memset(q, 0, 12);
	q[0] = id >> 8;
	q[1] = id;
	q[2] = 0x01; /* RD */
	q[5] = 1; /* QDCOUNT */
	while (*label) {
		const char *dot = strchr(label, '.');
		size_t len = dot ? (size_t)(dot - label) : strlen(label);

		if (len == 0 || len > 63 || pos + len + 6 > cap)
			return -1;
		q[pos++] = len;
		memcpy(q + pos, label, len);
		pos += len;
		label += len + (dot ? 1 : 0);
	}
	q[pos++] = 0;
	q[pos++] = 0;
	q[pos++] = 1; /* A */
	q[pos++] = 0;
	q[pos++] = 1; /* IN */
	return pos;
}

static int dns_loop(char **av)
{
	struct sockaddr_in dst = addr4(av[0], 53);
	double end = now_s() + num(av[1], 1, 86400);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned long long sent = 0, answered = 0, timeouts = 0;
	unsigned char q[512], r[1500];
	unsigned id = 1;

	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)))
		die("dns socket");
	handle_signals();
	while (!stop && now_s() < end) {
		int len = dns_query(q, sizeof(q), av[2], id);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (len < 0) {
			fprintf(stderr, "e2e_load: bad qname '%s'\n", av[2]);
			return 1;
		}
		if (send(fd, q, len, 0) != len)
			die("send");
		sent++;
		for (;;) {
			if (poll(&pfd, 1, 1000) <= 0) {
				timeouts++;
				break;
			}
			ssize_t n = recv(fd, r, sizeof(r), 0);

			if (n >= 12 && r[0] == q[0] && r[1] == q[1]) {
				answered++;
				break;
			}
		}
		id = (id + 1) & 0xffff;
	}
	printf("{\"sent\": %llu, \"answered\": %llu, \"timeouts\": %llu}\n", sent, answered,
	       timeouts);
	return 0;
}

static void enter_cgroup(const char *dir, long i)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/g%ld/cgroup.procs", dir, i);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		die(path);
	close(fd);
}

static int cgroup_send(char **av)
{
	struct sockaddr_in dst = addr4(av[0], num(av[1], 1, 65535));
	long ngroups = num(av[3], 1, 100000);
	double end = now_s() + num(av[4], 1, 86400);
	int *fds = calloc(ngroups, sizeof(*fds));
	unsigned long long sent = 0;
	char payload[32] = { 0 };

	if (!fds)
		die("calloc");
	for (long i = 0; i < ngroups; i++) {
		enter_cgroup(av[2], i);
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0)
			die("socket");
	}
	handle_signals();
	while (!stop && now_s() < end) {
		for (long i = 0; i < ngroups; i++) {
			if (sendto(fds[i], payload, sizeof(payload), 0, (struct sockaddr *)&dst,
				   sizeof(dst)) == sizeof(payload))
				sent++;
		}
	}
	printf("{\"sent\": %llu, \"cgroups\": %ld}\n", sent, ngroups);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char **av = argv + 2;
	int ac = argc - 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "udp-send") && (ac == 6 || ac == 7))
		return udp_send(av);
	if (!strcmp(mode, "udp-recv") && ac == 3)
		return udp_recv(av);
	if (!strcmp(mode, "tcp-accept") && ac == 2)
		return tcp_accept(av);
	if (!strcmp(mode, "connect") && (ac == 3 || ac == 4))
		return tcp_connect(av, ac);
	if (!strcmp(mode, "dns") && ac == 3)
		return dns_loop(av);
	if (!strcmp(mode, "cgroup-send") && ac == 5)
		return cgroup_send(av);
	fprintf(stderr, "usage: see the comment at the top of bench/e2e/e2e_load.c\n");
	return 1;
}
