// SPDX-License-Identifier: Apache-2.0
/*
 * BPF_PROG_TEST_RUN tests of bpf/flow.bpf.c: crafted frames go through flow_egress and
 * flow_ingress, then the active flow map (flows_a: nothing swaps it here) and the per-CPU stats
 * must hold exactly what the packets imply. Needs root; fails, never skips, without it.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flow.skel.h"
#include "flow_fixture.h"
#include "flow_table.h"

#define L4 "192.0.2.1" /* the cgroup's end */
#define R4 "198.51.100.7" /* the peer */
#define L6 "2001:db8::1"
#define R6 "2001:db8:1::7"

#define TCP_SYNACK (TH_SYN | TH_ACK)

struct fx {
	struct flow_bpf *skel;
	int flows_fd; /* flows_a, the active map after load */
	int cache_fd; /* flow_cache: parity 0 goes with flows_a */
	int stats_fd;
	uint64_t cgid; /* what bpf_skb_cgroup_id() sees: the test run's socket is ours */
	uint64_t t0; /* boot ns before the first run */
};

/* What a flow entry must hold, beside the key and the timestamps. */
struct want {
	uint64_t tx_bytes, tx_packets;
	uint64_t rx_bytes, rx_packets;
	uint32_t tcp_flags;
	uint32_t flags; /* FLOW_F_* */
};

/*
 * Loads the programs: max_flows (0: the object's) per flow map; cache_only: the programs'
 * cache_only_flows; ring_bytes: the flow_done ring's size (0: the object's). The fixture reads
 * the ring as the agent does (fx_ring_open()).
 */
static int fx_open_opts(struct fx *fx, uint32_t max_flows, uint8_t cgroup_mode, bool cache_only,
			uint32_t ring_bytes)
{
	int err;

	memset(fx, 0, sizeof(*fx));
	fx->cgid = fx_self_cgroup_id();
	if (!fx->cgid) {
		print_error("cannot find this process's cgroup v2 id (is cgroup v2 mounted?)\n");
		return -1;
	}
	fx->skel = flow_bpf__open();
	if (!fx->skel) {
		print_error("flow_bpf__open: %s\n", strerror(errno));
		return -1;
	}
	fx->skel->rodata->cgroup_mode = cgroup_mode;
	fx->skel->rodata->cache_only_flows = cache_only;
	if (ring_bytes && bpf_map__set_max_entries(fx->skel->maps.flow_done, ring_bytes)) {
		print_error("sizing flow_done failed\n");
		return -1;
	}
	if (max_flows && (bpf_map__set_max_entries(fx->skel->maps.flows_a, max_flows) ||
			  bpf_map__set_max_entries(fx->skel->maps.flows_b, max_flows) ||
			  bpf_map__set_max_entries(fx->skel->maps.flows_c, max_flows))) {
		print_error("bpf_map__set_max_entries failed\n");
		return -1;
	}
	err = flow_bpf__load(fx->skel);
	if (err) {
		print_error("flow_bpf__load: %s (root needed)\n", strerror(-err));
		return -1;
	}
	fx->flows_fd = bpf_map__fd(fx->skel->maps.flows_a);
	fx->stats_fd = bpf_map__fd(fx->skel->maps.stats);
	fx->cache_fd = bpf_map__fd(fx->skel->maps.flow_cache);
	err = fx_ring_open(bpf_map__fd(fx->skel->maps.flow_done));
	if (err) {
		print_error("reading flow_done: %s\n", strerror(-err));
		return -1;
	}
	fx->t0 = fx_flow_clock_ns();
	return 0;
}

static int fx_open_mode(struct fx *fx, uint32_t max_flows, uint8_t cgroup_mode)
{
	return fx_open_opts(fx, max_flows, cgroup_mode, true, 0);
}

static int fx_open(struct fx *fx, uint32_t max_flows)
{
	return fx_open_mode(fx, max_flows, FLOW_CGROUP_MODE_V2);
}

/* Flows as the agent's drain would count them: map entries, cache-only slots, ring records. */
static unsigned int flows(struct fx *fx)
{
	return fx_flows_count(fx->flows_fd, fx->cache_fd, 0);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx || fx_open(fx, 0)) {
		if (fx)
			flow_bpf__destroy(fx->skel);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	fx_ring_close();
	flow_bpf__destroy(fx->skel);
	free(fx);
	return 0;
}

static void egress(struct fx *fx, const struct pkt *p)
{
	fx_run(fx->skel->progs.flow_egress, p, 0, 0);
}

static void ingress(struct fx *fx, const struct pkt *p)
{
	fx_run(fx->skel->progs.flow_ingress, p, 0, 0);
}

static struct flow_key key(struct fx *fx, uint8_t proto, const char *laddr, uint16_t lport,
			   const char *raddr, uint16_t rport)
{
	return fx_key(fx->cgid, proto, laddr, lport, raddr, rport);
}

static void assert_flow(struct fx *fx, const struct flow_key *k, const struct want *w)
{
	static const char no_comm[FLOW_COMM_LEN];
	struct flow_value v;
	uint64_t now = fx_flow_clock_ns();

	if (fx_flow_lookup(fx->flows_fd, fx->cache_fd, 0, k, &v))
		fail_msg("no flow for proto %u lport %u rport %u v%u", k->proto, k->lport, k->rport,
			 k->ip_version);
	assert_int_equal(v.tx_bytes, w->tx_bytes);
	assert_int_equal(v.tx_packets, w->tx_packets);
	assert_int_equal(v.rx_bytes, w->rx_bytes);
	assert_int_equal(v.rx_packets, w->rx_packets);
	assert_int_equal(v.tcp_flags, w->tcp_flags);
	assert_int_equal(v.flags, w->flags);
	/* the test run's socket was never seen by cgroup/sock_create */
	assert_int_equal(v.pid, 0);
	assert_memory_equal(v.comm, no_comm, sizeof(no_comm));
	assert_in_range(v.first_ns, fx->t0, now);
	assert_in_range(v.last_ns, v.first_ns, now);
}

/* Every stats slot must equal want's; slots want leaves out must be 0. */
static void assert_stats(struct fx *fx, const uint64_t want[FLOW_STAT_MAX])
{
	uint64_t got[FLOW_STAT_MAX];
	bool ok = true;

	fx_stats(fx->stats_fd, fx->cache_fd, got);
	for (unsigned int i = 0; i < FLOW_STAT_MAX; i++) {
		if (got[i] != want[i]) {
			print_error("stat %s: got %llu, want %llu\n", fx_stat_name(i),
				    (unsigned long long)got[i], (unsigned long long)want[i]);
			ok = false;
		}
	}
	if (!ok)
		fail_msg("stats differ");
}

#define STATS(...) ((const uint64_t[FLOW_STAT_MAX]){ __VA_ARGS__ })

/* A TCP connection we open: the SYN leaves, the SYN-ACK comes back. */
static void test_tcp4_client(void **state)
{
	struct fx *fx = *state;
	struct flow_key k = key(fx, IPPROTO_TCP, L4, 40000, R4, 80);
	struct pkt p;

	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	egress(fx, &p);
	pkt_tcp4(&p, R4, 80, L4, 40000, TCP_SYNACK, 0);
	ingress(fx, &p);
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_ACK, 0);
	egress(fx, &p);
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_PUSH | TH_ACK, 100);
	egress(fx, &p);
	pkt_tcp4(&p, R4, 80, L4, 40000, TH_FIN | TH_ACK, 0);
	ingress(fx, &p);

	assert_int_equal(flows(fx), 1);
	assert_flow(fx, &k,
		    &(struct want){ .tx_bytes = 40 + 40 + 140,
				    .tx_packets = 3,
				    .rx_bytes = 40 + 40,
				    .rx_packets = 2,
				    .tcp_flags = TH_SYN | TH_ACK | TH_PUSH | TH_FIN,
				    .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN });
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 5, [FLOW_STAT_NO_OWNER] = 1));
}

/* A connection the peer opens: ingress SYN, egress SYN-ACK; local port is the listener's. */
static void test_tcp4_server(void **state)
{
	struct fx *fx = *state;
	struct flow_key k = key(fx, IPPROTO_TCP, L4, 443, R4, 51000);
	struct pkt p;

	pkt_tcp4(&p, R4, 51000, L4, 443, TH_SYN, 0);
	ingress(fx, &p);
	pkt_tcp4(&p, L4, 443, R4, 51000, TCP_SYNACK, 0);
	egress(fx, &p);
	pkt_tcp4(&p, L4, 443, R4, 51000, TH_RST, 0);
	egress(fx, &p);

	assert_int_equal(flows(fx), 1);
	assert_flow(fx, &k,
		    &(struct want){ .tx_bytes = 80,
				    .tx_packets = 2,
				    .rx_bytes = 40,
				    .rx_packets = 1,
				    .tcp_flags = TH_SYN | TH_ACK | TH_RST,
				    .flags = FLOW_F_INITIATOR_DST | FLOW_F_FROM_SYN });
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 3, [FLOW_STAT_NO_OWNER] = 1));
}

/*
 * The first packet seen is a SYN-ACK: leaving, the peer opened the flow; arriving, we did.
 * A mid-stream ACK tells nothing: initiator unknown.
 */
static void test_tcp_initiator_from_synack(void **state)
{
	struct fx *fx = *state;
	struct flow_key out = key(fx, IPPROTO_TCP, L4, 8080, R4, 50001);
	struct flow_key in = key(fx, IPPROTO_TCP, L4, 50002, R4, 8080);
	struct flow_key mid = key(fx, IPPROTO_TCP, L4, 50003, R4, 8080);
	struct pkt p;

	pkt_tcp4(&p, L4, 8080, R4, 50001, TCP_SYNACK, 0);
	egress(fx, &p);
	pkt_tcp4(&p, R4, 8080, L4, 50002, TCP_SYNACK, 0);
	ingress(fx, &p);
	pkt_tcp4(&p, L4, 50003, R4, 8080, TH_ACK, 10);
	egress(fx, &p);

	assert_int_equal(flows(fx), 3);
	assert_flow(fx, &out,
		    &(struct want){ .tx_bytes = 40,
				    .tx_packets = 1,
				    .tcp_flags = TCP_SYNACK,
				    .flags = FLOW_F_INITIATOR_DST | FLOW_F_FROM_SYN });
	assert_flow(fx, &in,
		    &(struct want){ .rx_bytes = 40,
				    .rx_packets = 1,
				    .tcp_flags = TCP_SYNACK,
				    .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN });
	assert_flow(fx, &mid,
		    &(struct want){ .tx_bytes = 50, .tx_packets = 1, .tcp_flags = TH_ACK });
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 3, [FLOW_STAT_NO_OWNER] = 3));
}

static void test_tcp6_client(void **state)
{
	struct fx *fx = *state;
	struct flow_key k = key(fx, IPPROTO_TCP, L6, 40000, R6, 443);
	struct pkt p;

	pkt_tcp6(&p, L6, 40000, R6, 443, TH_SYN, 0);
	egress(fx, &p);
	pkt_tcp6(&p, R6, 443, L6, 40000, TCP_SYNACK, 0);
	ingress(fx, &p);
	pkt_tcp6(&p, L6, 40000, R6, 443, TH_PUSH | TH_ACK, 500);
	egress(fx, &p);
	pkt_tcp6(&p, R6, 443, L6, 40000, TH_PUSH | TH_ACK | TH_URG, 1000);
	ingress(fx, &p);

	assert_int_equal(flows(fx), 1);
	assert_flow(fx, &k,
		    &(struct want){ .tx_bytes = 60 + 560,
				    .tx_packets = 2,
				    .rx_bytes = 60 + 1060,
				    .rx_packets = 2,
				    .tcp_flags = TH_SYN | TH_ACK | TH_PUSH | TH_URG,
				    .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN });
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 4, [FLOW_STAT_NO_OWNER] = 1));
}

/* Without a SYN, the first packet's direction says who opened the flow. */
static void test_udp(void **state)
{
	struct fx *fx = *state;
	struct flow_key k4 = key(fx, IPPROTO_UDP, L4, 40001, R4, 53);
	struct flow_key k6 = key(fx, IPPROTO_UDP, L6, 53, R6, 40002);
	struct pkt p;

	pkt_udp4(&p, L4, 40001, R4, 53, 30);
	egress(fx, &p);
	pkt_udp4(&p, R4, 53, L4, 40001, 100);
	ingress(fx, &p);
	pkt_udp6(&p, R6, 40002, L6, 53, 30);
	ingress(fx, &p);
	pkt_udp6(&p, L6, 53, R6, 40002, 200);
	egress(fx, &p);
	egress(fx, &p);

	assert_int_equal(flows(fx), 2);
	assert_flow(fx, &k4,
		    &(struct want){ .tx_bytes = 58,
				    .tx_packets = 1,
				    .rx_bytes = 128,
				    .rx_packets = 1,
				    .flags = FLOW_F_INITIATOR_SRC });
	assert_flow(fx, &k6,
		    &(struct want){ .tx_bytes = 2 * 248,
				    .tx_packets = 2,
				    .rx_bytes = 78,
				    .rx_packets = 1,
				    .flags = FLOW_F_INITIATOR_DST });
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 5, [FLOW_STAT_NO_OWNER] = 2));
}

/*
 * --cgroup-mode v1 with a socket cgroup/sock_create never saw (the test run's, like a socket older
 * than the agent): no v1 cgroup recorded, so the packet falls back to its v2 cgroup, marked as such.
 */
static void test_v1_mode_falls_back_to_v2(void **state)
{
	struct flow_key k;
	struct pkt p;
	struct fx fx;

	(void)state;
	if (fx_open_mode(&fx, 0, FLOW_CGROUP_MODE_V1)) {
		flow_bpf__destroy(fx.skel);
		fail_msg("open");
	}
	pkt_udp4(&p, L4, 40001, R4, 53, 30);
	egress(&fx, &p);
	k = key(&fx, IPPROTO_UDP, L4, 40001, R4, 53);
	assert_int_equal(k.cgroup_version, 2);
	assert_int_equal(flows(&fx), 1);
	assert_flow(
		&fx, &k,
		&(struct want){ .tx_bytes = 58, .tx_packets = 1, .flags = FLOW_F_INITIATOR_SRC });
	/* the same key as v1 is not there */
	k.cgroup_version = 1;
	assert_int_not_equal(bpf_map_lookup_elem(fx.flows_fd, &k, &(struct flow_value){ 0 }), 0);
	fx_ring_close();
	flow_bpf__destroy(fx.skel);
}

/* Echo request and reply share one flow keyed on the identifier; other ICMP uses ports 0. */
static void test_icmp4(void **state)
{
	struct fx *fx = *state;
	struct flow_key echo = key(fx, IPPROTO_ICMP, L4, 0x1234, R4, 0);
	struct flow_key unreach = key(fx, IPPROTO_ICMP, L4, 0, R4, 0);
	struct pkt p;

	pkt_ipv4(&p, IPPROTO_ICMP, L4, R4);
	pkt_icmp(&p, ICMP_ECHO, 0x1234);
	pkt_payload(&p, 56);
	pkt_finish(&p);
	egress(fx, &p);
	pkt_ipv4(&p, IPPROTO_ICMP, R4, L4);
	pkt_icmp(&p, ICMP_ECHOREPLY, 0x1234);
	pkt_payload(&p, 56);
	pkt_finish(&p);
	ingress(fx, &p);
	/* destination unreachable quoting 28 bytes */
	pkt_ipv4(&p, IPPROTO_ICMP, R4, L4);
	pkt_icmp(&p, ICMP_DEST_UNREACH, 0);
	pkt_payload(&p, 28);
	pkt_finish(&p);
	ingress(fx, &p);

	assert_int_equal(flows(fx), 2);
	assert_flow(fx, &echo,
		    &(struct want){ .tx_bytes = 84,
				    .tx_packets = 1,
				    .rx_bytes = 84,
				    .rx_packets = 1,
				    .flags = FLOW_F_INITIATOR_SRC });
	assert_flow(
		fx, &unreach,
		&(struct want){ .rx_bytes = 56, .rx_packets = 1, .flags = FLOW_F_INITIATOR_DST });
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 3, [FLOW_STAT_NO_OWNER] = 2));
}

static void test_icmp6_echo(void **state)
{
	struct fx *fx = *state;
	struct flow_key k = key(fx, IPPROTO_ICMPV6, L6, 7, R6, 0);
	struct pkt p;

	/* the peer pings us */
	pkt_ipv6(&p, IPPROTO_ICMPV6, R6, L6);
	pkt_icmp(&p, ICMP6_ECHO_REQUEST, 7);
	pkt_payload(&p, 16);
	pkt_finish(&p);
	ingress(fx, &p);
	pkt_ipv6(&p, IPPROTO_ICMPV6, L6, R6);
	pkt_icmp(&p, ICMP6_ECHO_REPLY, 7);
	pkt_payload(&p, 16);
	pkt_finish(&p);
	egress(fx, &p);

	assert_int_equal(flows(fx), 1);
	assert_flow(fx, &k,
		    &(struct want){ .tx_bytes = 64,
				    .tx_packets = 1,
				    .rx_bytes = 64,
				    .rx_packets = 1,
				    .flags = FLOW_F_INITIATOR_DST });
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 2, [FLOW_STAT_NO_OWNER] = 1));
}

/*
 * A GSO skb of n segments counts n packets and skb->len + (n - 1) * (L3 + L4 header) bytes:
 * every wire segment repeats the IP header (options, extension headers) and the L4 header
 * (TCP options included).
 */
static void test_gso(void **state)
{
	struct fx *fx = *state;
	struct flow_key tcp = key(fx, IPPROTO_TCP, L4, 40000, R4, 5201);
	struct flow_key opts = key(fx, IPPROTO_TCP, L4, 40001, R4, 5201);
	struct flow_key udp = key(fx, IPPROTO_UDP, L6, 40002, R6, 4433);
	struct flow_key one = key(fx, IPPROTO_UDP, L4, 40003, R4, 4433);
	struct iphdr *ip;
	struct pkt p;
	size_t len;

	/* TCP with 12 bytes of options (timestamps): 52 header bytes per segment */
	pkt_ipv4(&p, IPPROTO_TCP, L4, R4);
	pkt_tcp(&p, 40000, 5201, TH_ACK, 12);
	pkt_payload(&p, 10 * 300);
	pkt_finish(&p);
	len = pkt_l3_len(&p);
	fx_run(fx->skel->progs.flow_egress, &p, 10, 300);
	/* the same on the receive side (GRO) */
	pkt_ipv4(&p, IPPROTO_TCP, R4, L4);
	pkt_tcp(&p, 5201, 40000, TH_ACK, 12);
	pkt_payload(&p, 4 * 300);
	pkt_finish(&p);
	fx_run(fx->skel->progs.flow_ingress, &p, 4, 300);
	assert_flow(fx, &tcp,
		    &(struct want){ .tx_bytes = len + 9 * 52,
				    .tx_packets = 10,
				    .rx_bytes = 20 + 32 + 1200 + 3 * 52,
				    .rx_packets = 4,
				    .tcp_flags = TH_ACK });

	/* IPv4 options are part of every segment's L3 header */
	pkt_ipv4(&p, IPPROTO_TCP, L4, R4);
	ip = (struct iphdr *)(p.data + p.l3);
	ip->ihl = 6;
	memset(pkt_put(&p, 4), IPOPT_NOP, 4);
	pkt_tcp(&p, 40001, 5201, TH_ACK, 0);
	pkt_payload(&p, 3 * 500);
	pkt_finish(&p);
	len = pkt_l3_len(&p);
	fx_run(fx->skel->progs.flow_egress, &p, 3, 500);
	assert_flow(fx, &opts,
		    &(struct want){ .tx_bytes = len + 2 * (24 + 20),
				    .tx_packets = 3,
				    .tcp_flags = TH_ACK,
				    .flags = 0 });

	/* UDP GSO over IPv6 with a hop-by-hop header: 40 + 8 + 8 bytes per segment */
	pkt_ipv6(&p, IPPROTO_HOPOPTS, L6, R6);
	pkt_ipv6_ext(&p, IPPROTO_UDP, 8);
	pkt_udp(&p, 40002, 4433);
	pkt_payload(&p, 4 * 500);
	pkt_finish(&p);
	len = pkt_l3_len(&p);
	fx_run(fx->skel->progs.flow_egress, &p, 4, 500);
	assert_flow(fx, &udp,
		    &(struct want){ .tx_bytes = len + 3 * 56,
				    .tx_packets = 4,
				    .flags = FLOW_F_INITIATOR_SRC });

	/* gso_segs 1 is one plain packet */
	pkt_udp4(&p, L4, 40003, R4, 4433, 100);
	fx_run(fx->skel->progs.flow_egress, &p, 1, 100);
	assert_flow(
		fx, &one,
		&(struct want){ .tx_bytes = 128, .tx_packets = 1, .flags = FLOW_F_INITIATOR_SRC });

	assert_int_equal(flows(fx), 4);
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 5, [FLOW_STAT_NO_OWNER] = 4));
}

/*
 * A frame whose IP header is shorter than struct iphdr / ipv6hdr never reaches the program under
 * BPF_PROG_TEST_RUN: bpf_prog_test_run_skb() refuses it with EINVAL (6.x kernels; the stack
 * validates the same before cgroup_skb). Should a kernel let one through, the program must count
 * it as MALFORMED, which the caller checks through *n.
 */
static void run_cut_ip_header(struct fx *fx, const struct pkt *p, int *n)
{
	int err = fx_try_run(fx->skel->progs.flow_egress, p, 0, 0);

	if (err == -EINVAL)
		return;
	assert_int_equal(err, 0);
	(*n)++;
}

/* A truncated header is never accounted with made-up fields: no entry, MALFORMED. */
static void test_truncated(void **state)
{
	struct fx *fx = *state;
	struct pkt p;
	int n = 0;

	/* IP headers cut short; an Ethernet header alone */
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	pkt_truncate(&p, 19);
	run_cut_ip_header(fx, &p, &n);
	pkt_tcp6(&p, L6, 40000, R6, 80, TH_SYN, 0);
	pkt_truncate(&p, 39);
	run_cut_ip_header(fx, &p, &n);
	pkt_truncate(&p, 0);
	run_cut_ip_header(fx, &p, &n);
	/* IPv4 options announced by the IHL but cut */
	pkt_ipv4(&p, IPPROTO_UDP, L4, R4);
	((struct iphdr *)(p.data + p.l3))->ihl = 7;
	memset(pkt_put(&p, 4), IPOPT_NOP, 4);
	pkt_finish(&p);
	egress(fx, &p), n++;
	/* TCP header cut: inside the ports, after the flags byte, one byte short */
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	pkt_truncate(&p, 20 + 3);
	egress(fx, &p), n++;
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	pkt_truncate(&p, 20 + 14);
	egress(fx, &p), n++;
	pkt_tcp6(&p, L6, 40000, R6, 80, TH_SYN, 0);
	pkt_truncate(&p, 40 + 19);
	ingress(fx, &p), n++;
	/* TCP data offset claims options that are not there */
	pkt_ipv4(&p, IPPROTO_TCP, L4, R4);
	pkt_tcp(&p, 40000, 80, TH_SYN, 0)->th_off = 8;
	pkt_finish(&p);
	egress(fx, &p), n++;
	/* UDP header cut at 7 bytes, and at 2 */
	pkt_udp4(&p, L4, 40001, R4, 53, 0);
	pkt_truncate(&p, 20 + 7);
	egress(fx, &p), n++;
	pkt_udp6(&p, L6, 40001, R6, 53, 0);
	pkt_truncate(&p, 40 + 2);
	ingress(fx, &p), n++;
	/* ICMP header cut before the echo identifier; ICMPv6 one byte short */
	pkt_ipv4(&p, IPPROTO_ICMP, L4, R4);
	pkt_icmp(&p, ICMP_ECHO, 1);
	pkt_finish(&p);
	pkt_truncate(&p, 20 + 4);
	egress(fx, &p), n++;
	pkt_ipv6(&p, IPPROTO_ICMPV6, L6, R6);
	pkt_icmp(&p, ICMP6_ECHO_REQUEST, 1);
	pkt_finish(&p);
	pkt_truncate(&p, 40 + 7);
	egress(fx, &p), n++;

	assert_int_equal(flows(fx), 0);
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = n, [FLOW_STAT_MALFORMED] = n));
}

static void test_bad_ip_header(void **state)
{
	struct fx *fx = *state;
	struct pkt p;
	int n = 0;

	/* IHL below 5 */
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	((struct iphdr *)(p.data + p.l3))->ihl = 4;
	egress(fx, &p), n++;
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	((struct iphdr *)(p.data + p.l3))->ihl = 0;
	ingress(fx, &p), n++;
	/* IHL 15 puts the TCP header past the end of this 40-byte packet */
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	((struct iphdr *)(p.data + p.l3))->ihl = 15;
	egress(fx, &p), n++;
	/* version 6 inside an IPv4 frame, version 4 inside an IPv6 frame */
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	((struct iphdr *)(p.data + p.l3))->version = 6;
	egress(fx, &p), n++;
	pkt_tcp6(&p, L6, 40000, R6, 80, TH_SYN, 0);
	((struct ip6_hdr *)(p.data + p.l3))->ip6_flow = htonl(4u << 28);
	egress(fx, &p), n++;
	/* TCP data offset below 5 */
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	((struct tcphdr *)(p.data + p.l3 + 20))->th_off = 4;
	egress(fx, &p), n++;

	assert_int_equal(flows(fx), 0);
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = n, [FLOW_STAT_MALFORMED] = n));
}

/* Hop-by-hop, routing and destination options before TCP; AH before UDP. */
static void test_ipv6_ext_headers(void **state)
{
	struct fx *fx = *state;
	struct flow_key tcp = key(fx, IPPROTO_TCP, L6, 40000, R6, 80);
	struct flow_key udp = key(fx, IPPROTO_UDP, L6, 40001, R6, 500);
	struct pkt p;
	size_t len;

	pkt_ipv6(&p, IPPROTO_HOPOPTS, L6, R6);
	pkt_ipv6_ext(&p, IPPROTO_ROUTING, 8);
	pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 24);
	pkt_ipv6_ext(&p, IPPROTO_TCP, 16);
	pkt_tcp(&p, 40000, 80, TH_SYN, 0);
	pkt_payload(&p, 2 * 100);
	pkt_finish(&p);
	len = pkt_l3_len(&p);
	/* two segments: the header walk's length shows in the second one's bytes */
	fx_run(fx->skel->progs.flow_egress, &p, 2, 100);

	pkt_ipv6(&p, IPPROTO_AH, R6, L6);
	pkt_ipv6_ah(&p, IPPROTO_UDP, 12);
	pkt_udp(&p, 500, 40001);
	pkt_payload(&p, 10);
	pkt_finish(&p);
	ingress(fx, &p);

	assert_int_equal(flows(fx), 2);
	assert_flow(fx, &tcp,
		    &(struct want){ .tx_bytes = len + 40 + 48 + 20,
				    .tx_packets = 2,
				    .tcp_flags = TH_SYN,
				    .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN });
	assert_flow(fx, &udp,
		    &(struct want){ .rx_bytes = 40 + 24 + 8 + 10,
				    .rx_packets = 1,
				    .flags = FLOW_F_INITIATOR_DST });
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 2, [FLOW_STAT_NO_OWNER] = 2));
}

/* The walk stops after 6 extension headers; a seventh, or one cut short, is malformed. */
static void test_ipv6_ext_limits(void **state)
{
	struct fx *fx = *state;
	struct flow_key k = key(fx, IPPROTO_UDP, L6, 40000, R6, 53);
	struct pkt p;

	pkt_ipv6(&p, IPPROTO_DSTOPTS, L6, R6);
	for (int i = 0; i < 5; i++)
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
	pkt_ipv6_ext(&p, IPPROTO_UDP, 8);
	pkt_udp(&p, 40000, 53);
	pkt_finish(&p);
	egress(fx, &p);

	pkt_ipv6(&p, IPPROTO_DSTOPTS, L6, R6);
	for (int i = 0; i < 6; i++)
		pkt_ipv6_ext(&p, IPPROTO_DSTOPTS, 8);
	pkt_ipv6_ext(&p, IPPROTO_UDP, 8);
	pkt_udp(&p, 40000, 53);
	pkt_finish(&p);
	egress(fx, &p);

	/* a hop-by-hop header whose length runs past the packet */
	pkt_ipv6(&p, IPPROTO_HOPOPTS, L6, R6);
	pkt_ipv6_ext(&p, IPPROTO_UDP, 8)[1] = 4;
	pkt_udp(&p, 40000, 53);
	pkt_finish(&p);
	egress(fx, &p);

	assert_int_equal(flows(fx), 1);
	assert_flow(fx, &k,
		    &(struct want){ .tx_bytes = 40 + 48 + 8,
				    .tx_packets = 1,
				    .flags = FLOW_F_INITIATOR_SRC });
	assert_stats(
		fx,
		STATS([FLOW_STAT_PACKETS] = 3, [FLOW_STAT_MALFORMED] = 2, [FLOW_STAT_NO_OWNER] = 1));
}

/*
 * A first fragment (offset 0) carries the L4 header: ports are parsed. Later fragments have
 * none: they are accounted with ports 0 and counted in FRAGMENTS.
 */
static void test_ipv6_fragments(void **state)
{
	struct fx *fx = *state;
	struct flow_key first = key(fx, IPPROTO_UDP, L6, 40000, R6, 4789);
	struct flow_key rest = key(fx, IPPROTO_UDP, L6, 0, R6, 0);
	struct pkt p;

	pkt_ipv6(&p, IPPROTO_FRAGMENT, L6, R6);
	pkt_ipv6_frag(&p, IPPROTO_UDP, 0, 1);
	pkt_udp(&p, 40000, 4789);
	pkt_payload(&p, 1000);
	pkt_finish(&p);
	egress(fx, &p);

	pkt_ipv6(&p, IPPROTO_FRAGMENT, L6, R6);
	pkt_ipv6_frag(&p, IPPROTO_UDP, 126, 0);
	pkt_payload(&p, 300);
	pkt_finish(&p);
	egress(fx, &p);

	assert_int_equal(flows(fx), 2);
	assert_flow(fx, &first,
		    &(struct want){ .tx_bytes = 40 + 8 + 8 + 1000,
				    .tx_packets = 1,
				    .flags = FLOW_F_INITIATOR_SRC });
	assert_flow(fx, &rest,
		    &(struct want){ .tx_bytes = 40 + 8 + 300,
				    .tx_packets = 1,
				    .flags = FLOW_F_INITIATOR_SRC });
	assert_stats(
		fx,
		STATS([FLOW_STAT_PACKETS] = 2, [FLOW_STAT_FRAGMENTS] = 1, [FLOW_STAT_NO_OWNER] = 2));
}

static void test_ipv4_fragments(void **state)
{
	struct fx *fx = *state;
	struct flow_key first = key(fx, IPPROTO_UDP, L4, 53, R4, 40000);
	struct flow_key rest = key(fx, IPPROTO_UDP, L4, 0, R4, 0);
	struct pkt p;

	/* more fragments, offset 0 */
	pkt_udp4(&p, R4, 40000, L4, 53, 1472);
	((struct iphdr *)(p.data + p.l3))->frag_off = htons(IP_MF);
	ingress(fx, &p);
	/* last fragment at offset 1480: the UDP header is not in it */
	pkt_ipv4(&p, IPPROTO_UDP, R4, L4);
	((struct iphdr *)(p.data + p.l3))->frag_off = htons(1480 / 8);
	pkt_payload(&p, 500);
	pkt_finish(&p);
	ingress(fx, &p);

	assert_int_equal(flows(fx), 2);
	assert_flow(
		fx, &first,
		&(struct want){ .rx_bytes = 1500, .rx_packets = 1, .flags = FLOW_F_INITIATOR_DST });
	assert_flow(
		fx, &rest,
		&(struct want){ .rx_bytes = 520, .rx_packets = 1, .flags = FLOW_F_INITIATOR_DST });
	assert_stats(
		fx,
		STATS([FLOW_STAT_PACKETS] = 2, [FLOW_STAT_FRAGMENTS] = 1, [FLOW_STAT_NO_OWNER] = 2));
}

/* SCTP, GRE, ESP, and fragments of them: OTHER_PROTO, no entry. Non-IP frames: NON_IP. */
static void test_other_proto(void **state)
{
	struct fx *fx = *state;
	struct pkt p;

	pkt_ipv4(&p, IPPROTO_SCTP, L4, R4);
	pkt_payload(&p, 32);
	pkt_finish(&p);
	egress(fx, &p);
	pkt_ipv6(&p, IPPROTO_GRE, L6, R6);
	pkt_payload(&p, 32);
	pkt_finish(&p);
	ingress(fx, &p);
	pkt_ipv6(&p, IPPROTO_HOPOPTS, L6, R6);
	pkt_ipv6_ext(&p, IPPROTO_ESP, 8);
	pkt_payload(&p, 32);
	pkt_finish(&p);
	egress(fx, &p);
	/* a later fragment of an SCTP datagram is still SCTP */
	pkt_ipv4(&p, IPPROTO_SCTP, L4, R4);
	((struct iphdr *)(p.data + p.l3))->frag_off = htons(100);
	pkt_payload(&p, 32);
	pkt_finish(&p);
	egress(fx, &p);
	pkt_ipv6(&p, IPPROTO_FRAGMENT, L6, R6);
	pkt_ipv6_frag(&p, IPPROTO_GRE, 100, 0);
	pkt_payload(&p, 32);
	pkt_finish(&p);
	egress(fx, &p);
	/* ARP */
	pkt_init(&p, ETHERTYPE_ARP);
	pkt_payload(&p, 28);
	egress(fx, &p);

	assert_int_equal(flows(fx), 0);
	assert_stats(
		fx,
		STATS([FLOW_STAT_PACKETS] = 6, [FLOW_STAT_OTHER_PROTO] = 5, [FLOW_STAT_NON_IP] = 1));
}

/*
 * With room for 4 flows, packets of a 5th and 6th flow are counted in MAP_FULL and their bytes
 * in MAP_FULL_BYTES; flows already in the map keep counting. Every new flow makes a map entry
 * here (cache_only_flows off): the map's own refusal is what is tested.
 */
static void test_map_full(void **state)
{
	struct fx fx;
	uint64_t full_bytes = 0;
	struct pkt p;

	(void)state;
	if (fx_open_opts(&fx, 4, FLOW_CGROUP_MODE_V2, false, 0))
		fail_msg("loading the flow programs with 4 flows");
	for (uint16_t i = 0; i < 6; i++) {
		pkt_udp4(&p, L4, 1000 + i, R4, 53, 10 * i);
		egress(&fx, &p);
		if (i >= 4)
			full_bytes += pkt_l3_len(&p);
	}
	assert_int_equal(fx_flow_count(fx.flows_fd), 4);

	/* an existing flow still counts; a new one still does not */
	pkt_udp4(&p, R4, 53, L4, 1000, 100);
	ingress(&fx, &p);
	pkt_udp4(&p, R4, 53, L4, 1005, 100);
	ingress(&fx, &p);
	full_bytes += pkt_l3_len(&p);

	for (uint16_t i = 0; i < 4; i++) {
		struct flow_key k = fx_key(fx.cgid, IPPROTO_UDP, L4, 1000 + i, R4, 53);

		assert_flow(&fx, &k,
			    &(struct want){ .tx_bytes = 28 + 10 * i,
					    .tx_packets = 1,
					    .rx_bytes = i == 0 ? 128 : 0,
					    .rx_packets = i == 0 ? 1 : 0,
					    .flags = FLOW_F_INITIATOR_SRC });
	}
	assert_int_equal(fx_flow_count(fx.flows_fd), 4);
	assert_stats(&fx, STATS([FLOW_STAT_PACKETS] = 8, [FLOW_STAT_MAP_FULL] = 3,
				[FLOW_STAT_MAP_FULL_BYTES] = full_bytes, [FLOW_STAT_NO_OWNER] = 4));
	fx_ring_close();
	flow_bpf__destroy(fx.skel);
}

/*
 * Arbitrary bytes behind an IPv4 or IPv6 ethertype: every run returns 1, and every packet ends
 * up either in a flow entry or in a drop counter, never nowhere.
 */
static void test_random_frames(void **state)
{
	struct fx *fx = *state;
	uint64_t got[FLOW_STAT_MAX], accounted = 0;
	unsigned int seed = 42;
	const int runs = 2000;
	struct flow_table *t;
	struct flow_key k;
	struct flow_value v;
	uint32_t pos = 0;
	bool whole;
	struct pkt p;

	for (int i = 0; i < runs; i++) {
		/* the kernel refuses frames shorter than the IP header (see test_truncated) */
		size_t len = (i % 2 ? 40 : 20) + (size_t)rand_r(&seed) % 80;

		if (i % 2)
			pkt_ipv6(&p, (uint8_t)rand_r(&seed), L6, R6);
		else
			pkt_ipv4(&p, (uint8_t)rand_r(&seed), L4, R4);
		pkt_payload(&p, 120);
		/* half of them keep a valid version/IHL byte, the rest is noise */
		for (size_t j = (i % 4 < 2) ? 1 : 0; j < len; j++)
			p.data[p.l3 + j] = (uint8_t)rand_r(&seed);
		pkt_truncate(&p, len);
		fx_run(i % 3 ? fx->skel->progs.flow_egress : fx->skel->progs.flow_ingress, &p, 0,
		       0);
	}

	t = fx_flows_collect(fx->flows_fd, fx->cache_fd, 0);
	while (flow_table_next(t, &pos, &k, &v, &whole)) {
		assert_true(whole);
		accounted += v.tx_packets + v.rx_packets;
	}
	flow_table_destroy(t);
	fx_stats(fx->stats_fd, fx->cache_fd, got);
	assert_int_equal(got[FLOW_STAT_PACKETS], runs);
	assert_int_equal(accounted + got[FLOW_STAT_MALFORMED] + got[FLOW_STAT_OTHER_PROTO] +
				 got[FLOW_STAT_NON_IP] + got[FLOW_STAT_MAP_FULL],
			 runs);
}

/*
 * More flows than cache slots (FLOW_CACHE_SLOTS per CPU), interleaved: sets fill, flows take
 * slots over on their second miss in a row and the evicted slots are folded
 * into their flows' entries. Every flow's counts stay exact, with nothing counted as orphan.
 */
static void test_cache_many_flows(void **state)
{
	struct fx *fx = *state;
	enum { FLOWS = FLOW_CACHE_SLOTS + FLOW_CACHE_SLOTS / 2, ROUNDS = 5, BOTH = 100 };
	struct pkt p;

	for (int r = 0; r < ROUNDS; r++) {
		for (int f = 0; f < FLOWS; f++) {
			/* two in a row: the second takes a slot of a full set over */
			pkt_udp4(&p, L4, 10000 + f, R4, 9000, 20);
			egress(fx, &p);
			egress(fx, &p);
			if (f < BOTH) {
				pkt_udp4(&p, R4, 9000, L4, 10000 + f, 30);
				ingress(fx, &p);
			}
		}
	}
	assert_int_equal(flows(fx), FLOWS);
	for (int f = 0; f < FLOWS; f++) {
		struct flow_key k = key(fx, IPPROTO_UDP, L4, 10000 + f, R4, 9000);

		assert_flow(fx, &k,
			    &(struct want){ .tx_bytes = 2 * ROUNDS * 48,
					    .tx_packets = 2 * ROUNDS,
					    .rx_bytes = f < BOTH ? ROUNDS * 58 : 0,
					    .rx_packets = f < BOTH ? ROUNDS : 0,
					    .flags = FLOW_F_INITIATOR_SRC });
	}
	assert_stats(fx,
		     STATS([FLOW_STAT_PACKETS] = ROUNDS * (2 * FLOWS + BOTH), [FLOW_STAT_NO_OWNER] =
										      FLOWS));
}

/* Pins the caller to the CPU it runs on (one CPU's flow cache); *old: the affinity to restore. */
static void pin_this_cpu(cpu_set_t *old)
{
	cpu_set_t one;

	assert_int_equal(sched_getaffinity(0, sizeof(*old), old), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
}

/* No slot of parity 0's flow cache, on any CPU, holds a packet. */
static void assert_cache_holds_no_counts(struct fx *fx)
{
	int ncpus = libbpf_num_possible_cpus();
	struct flow_cache *cache;

	assert_true(ncpus > 0);
	cache = calloc((size_t)ncpus, sizeof(*cache));
	assert_non_null(cache);
	assert_int_equal(bpf_map_lookup_elem(fx->cache_fd, &(uint32_t){ 0 }, cache), 0);
	for (int c = 0; c < ncpus; c++)
		for (int i = 0; i < FLOW_CACHE_SLOTS; i++)
			assert_int_equal(cache[c].slot[i].tx_packets + cache[c].slot[i].rx_packets,
					 0);
	free(cache);
}

/*
 * Short connections ended by a RST, twice as many as the cache has slots, on one CPU: each
 * lives in a cache-only slot alone (its SYN takes a free slot, no flow map entry), and the RST's
 * hit writes the slot whole to the flow_done ring and frees it, so that the flow map stays
 * empty, no slot keeps counts, each ring record holds its whole connection, and the next
 * connection's first packet finds a free slot. A straggler after the RST misses and takes a
 * slot of its own (a second piece of the first flow, merged with its record, and a second
 * NO_OWNER for it).
 */
static void test_cache_rst_frees_slot(void **state)
{
	struct fx *fx = *state;
	enum { CONNS = 2 * FLOW_CACHE_SLOTS };
	cpu_set_t old;
	struct pkt p;

	pin_this_cpu(&old);
	for (int c = 0; c < CONNS; c++) {
		pkt_tcp4(&p, L4, 20000 + c, R4, 80, TH_SYN, 0);
		egress(fx, &p);
		pkt_tcp4(&p, R4, 80, L4, 20000 + c, TCP_SYNACK, 0);
		ingress(fx, &p);
		pkt_tcp4(&p, L4, 20000 + c, R4, 80, TH_ACK, 0);
		egress(fx, &p);
		pkt_tcp4(&p, L4, 20000 + c, R4, 80, TH_RST, 0);
		egress(fx, &p);
	}
	pkt_tcp4(&p, R4, 80, L4, 20000, TH_RST | TH_ACK, 0);
	ingress(fx, &p);
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);

	assert_int_equal(fx_flow_count(fx->flows_fd), 0);
	assert_int_equal(flows(fx), CONNS);
	for (int c = 0; c < CONNS; c++) {
		struct flow_key k = key(fx, IPPROTO_TCP, L4, 20000 + c, R4, 80);

		assert_flow(fx, &k,
			    &(struct want){ .tx_bytes = 3 * 40,
					    .tx_packets = 3,
					    .rx_bytes = c ? 40 : 80,
					    .rx_packets = c ? 1 : 2,
					    .tcp_flags = TH_SYN | TH_ACK | TH_RST,
					    .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN });
	}
	assert_stats(fx,
		     STATS([FLOW_STAT_PACKETS] = 4 * CONNS + 1, [FLOW_STAT_NO_OWNER] = CONNS + 1));
	/* the straggler's slot is the only one holding counts: its RST ends it, to the ring */
	pin_this_cpu(&old);
	pkt_tcp4(&p, R4, 80, L4, 20000, TH_RST, 0);
	ingress(fx, &p);
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
	assert_int_equal(fx_flow_count(fx->flows_fd), 0);
	assert_cache_holds_no_counts(fx);
}

/*
 * Connections closed with a FIN each way, twice as many as the cache has slots, on one CPU: the
 * last ACK after both FINs writes the cache-only slot whole to the flow_done ring and frees it,
 * so that the flow map stays empty, each ring record holds its whole connection and no slot
 * keeps counts. Each side's close is played: we
 * close first (FIN out, FIN-ACK in, last ACK out) on even ports, the peer does on odd ones (FIN
 * in, ACK and FIN out, last ACK in).
 */
static void test_cache_fin_frees_slot(void **state)
{
	struct fx *fx = *state;
	enum { CONNS = 2 * FLOW_CACHE_SLOTS };
	cpu_set_t old;
	struct pkt p;

	pin_this_cpu(&old);
	for (int c = 0; c < CONNS; c++) {
		uint16_t port = 30000 + c;

		pkt_tcp4(&p, L4, port, R4, 80, TH_SYN, 0);
		egress(fx, &p);
		pkt_tcp4(&p, R4, 80, L4, port, TCP_SYNACK, 0);
		ingress(fx, &p);
		pkt_tcp4(&p, L4, port, R4, 80, TH_ACK, 0);
		egress(fx, &p);
		if (c % 2 == 0) {
			pkt_tcp4(&p, L4, port, R4, 80, TH_FIN | TH_ACK, 0);
			egress(fx, &p);
			pkt_tcp4(&p, R4, 80, L4, port, TH_FIN | TH_ACK, 0);
			ingress(fx, &p);
			pkt_tcp4(&p, L4, port, R4, 80, TH_ACK, 0);
			egress(fx, &p);
		} else {
			pkt_tcp4(&p, R4, 80, L4, port, TH_FIN | TH_ACK, 0);
			ingress(fx, &p);
			pkt_tcp4(&p, L4, port, R4, 80, TH_ACK, 0);
			egress(fx, &p);
			pkt_tcp4(&p, L4, port, R4, 80, TH_FIN | TH_ACK, 0);
			egress(fx, &p);
			pkt_tcp4(&p, R4, 80, L4, port, TH_ACK, 0);
			ingress(fx, &p);
		}
	}
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);

	assert_int_equal(fx_flow_count(fx->flows_fd), 0);
	assert_int_equal(flows(fx), CONNS);
	for (int c = 0; c < CONNS; c++) {
		struct flow_key k = key(fx, IPPROTO_TCP, L4, 30000 + c, R4, 80);
		uint64_t tx = 4, rx = c % 2 ? 3 : 2;

		assert_flow(fx, &k,
			    &(struct want){ .tx_bytes = tx * 40,
					    .tx_packets = tx,
					    .rx_bytes = rx * 40,
					    .rx_packets = rx,
					    .tcp_flags = TH_SYN | TH_ACK | TH_FIN,
					    .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN });
	}
	assert_cache_holds_no_counts(fx);
	assert_stats(fx, STATS([FLOW_STAT_PACKETS] = 6 * CONNS + CONNS / 2, [FLOW_STAT_NO_OWNER] =
										    CONNS));
}

/*
 * More TCP flows than cache slots, joined mid-connection (ACKs, no SYN) and interleaved: each
 * flow's first packet on a free slot keeps it cache-only (no map entry); when a set is full a
 * flow takes a slot over on its second miss in a row, and the cache-only victim is inserted
 * into the flow map (or added to its entry there, when it had one since an earlier eviction).
 * Every flow's counts stay exact across map entries and slots, with nothing counted as orphan
 * or lost, and NO_OWNER once per flow.
 */
static void test_cache_only_eviction(void **state)
{
	struct fx *fx = *state;
	enum { FLOWS = FLOW_CACHE_SLOTS + FLOW_CACHE_SLOTS / 2, ROUNDS = 5, BOTH = 100 };
	unsigned int in_map;
	struct pkt p;

	for (int r = 0; r < ROUNDS; r++) {
		for (int f = 0; f < FLOWS; f++) {
			pkt_tcp4(&p, L4, 10000 + f, R4, 443, TH_ACK, 10);
			egress(fx, &p);
			egress(fx, &p);
			if (f < BOTH) {
				pkt_tcp4(&p, R4, 443, L4, 10000 + f, TH_ACK, 20);
				ingress(fx, &p);
			}
		}
	}
	/* the victims went to the map; the slots still hold cache-only flows */
	in_map = fx_flow_count(fx->flows_fd);
	assert_in_range(in_map, 1, FLOWS - 1);
	assert_int_equal(flows(fx), FLOWS);
	for (int f = 0; f < FLOWS; f++) {
		struct flow_key k = key(fx, IPPROTO_TCP, L4, 10000 + f, R4, 443);

		assert_flow(fx, &k,
			    &(struct want){ .tx_bytes = 2 * ROUNDS * 50,
					    .tx_packets = 2 * ROUNDS,
					    .rx_bytes = f < BOTH ? ROUNDS * 60 : 0,
					    .rx_packets = f < BOTH ? ROUNDS : 0,
					    .tcp_flags = TH_ACK,
					    .flags = 0 });
	}
	assert_stats(fx,
		     STATS([FLOW_STAT_PACKETS] = ROUNDS * (2 * FLOWS + BOTH), [FLOW_STAT_NO_OWNER] =
										      FLOWS));
}

/*
 * A flow_done ring with room for fewer records than connections end: the records that do not
 * fit go to the flow map instead (DONE_RING_FULL counts them), nothing is lost, and every
 * connection is exact, from the ring or from the map.
 */
static void test_ring_full_falls_back_to_map(void **state)
{
	enum { CONNS = 40, RING = 4096 };
	/* a record takes its size plus the ring's 8-byte header, rounded to 8 bytes */
	const unsigned int fit = RING / ((sizeof(struct flow_done) + 8 + 7) / 8 * 8);
	struct fx fx;
	cpu_set_t old;
	struct pkt p;

	(void)state;
	if (fx_open_opts(&fx, 0, FLOW_CGROUP_MODE_V2, true, RING))
		fail_msg("loading the flow programs with a %u-byte flow_done ring", RING);
	pin_this_cpu(&old);
	for (int c = 0; c < CONNS; c++) {
		pkt_tcp4(&p, L4, 21000 + c, R4, 80, TH_SYN, 0);
		egress(&fx, &p);
		pkt_tcp4(&p, R4, 80, L4, 21000 + c, TCP_SYNACK, 0);
		ingress(&fx, &p);
		pkt_tcp4(&p, L4, 21000 + c, R4, 80, TH_RST, 0);
		egress(&fx, &p);
	}
	assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);

	assert_true(fit < CONNS);
	assert_int_equal(fx_flow_count(fx.flows_fd), CONNS - fit);
	assert_int_equal(flows(&fx), CONNS);
	for (int c = 0; c < CONNS; c++) {
		struct flow_key k = key(&fx, IPPROTO_TCP, L4, 21000 + c, R4, 80);

		assert_flow(&fx, &k,
			    &(struct want){ .tx_bytes = 2 * 40,
					    .tx_packets = 2,
					    .rx_bytes = 40,
					    .rx_packets = 1,
					    .tcp_flags = TH_SYN | TH_ACK | TH_RST,
					    .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN });
	}
	assert_cache_holds_no_counts(&fx);
	assert_stats(&fx, STATS([FLOW_STAT_PACKETS] = 3 * CONNS, [FLOW_STAT_NO_OWNER] = CONNS,
				[FLOW_STAT_DONE_RING_FULL] = CONNS - fit));
	fx_ring_close();
	flow_bpf__destroy(fx.skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tcp4_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp4_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_initiator_from_synack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp6_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp6_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gso, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ip_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_ext_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_ext_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv4_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_proto, setup, teardown),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_v1_mode_falls_back_to_v2),
		cmocka_unit_test_setup_teardown(test_random_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_many_flows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_rst_frees_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_fin_frees_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_only_eviction, setup, teardown),
		cmocka_unit_test(test_ring_full_falls_back_to_map),
	};

	return cmocka_run_group_tests_name("flow_prog", tests, NULL, NULL);
}
