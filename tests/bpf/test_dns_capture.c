// SPDX-License-Identifier: Apache-2.0
/*
 * The DNS capture of bpf/flow.bpf.c under BPF_PROG_TEST_RUN: which packets become dns_events,
 * how a TCP skb or a UDP datagram larger than one event is cut into consecutive pieces, the
 * capture bound (--dns-capture-max-bytes), a ring buffer that fills up mid-datagram, and the
 * sequence number of a SYN's payload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cmocka.h>

#include "dns_capture.h"
#include "flow.skel.h"
#include "flow_fixture.h"
#include "flow_pkt.h"

#define MAX_EVENTS 32

struct fx {
	struct flow_bpf *skel;
	struct ring_buffer *rb;
	struct dns_event events[MAX_EVENTS];
	unsigned int n;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct fx *fx = ctx;

	assert_int_equal(size, sizeof(struct dns_event));
	assert_true(fx->n < MAX_EVENTS);
	memcpy(&fx->events[fx->n++], data, sizeof(struct dns_event));
	return 0;
}

static int setup(void **state)
{
	static struct fx fx;
	int err;

	memset(&fx, 0, sizeof(fx));
	fx.skel = flow_bpf__open();
	if (!fx.skel)
		return -1;
	fx.skel->rodata->dns_port_bitmap[53 >> 5] |= 1u << (53 & 31);
	err = flow_bpf__load(fx.skel);
	if (err) {
		print_error("flow_bpf__load: %s (root needed)\n", strerror(-err));
		return -1;
	}
	fx.rb = ring_buffer__new(bpf_map__fd(fx.skel->maps.dns_events), on_event, &fx, NULL);
	if (!fx.rb)
		return -1;
	*state = &fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	ring_buffer__free(fx->rb);
	flow_bpf__destroy(fx->skel);
	return 0;
}

static void run(struct fx *fx, const struct pkt *p)
{
	fx->n = 0;
	fx_run(fx->skel->progs.flow_egress, p, 0, 0);
	assert_true(ring_buffer__consume(fx->rb) >= 0);
}

/* A TCP skb with three events' worth of payload (GSO/GRO make such skbs): three pieces. */
static void test_tcp_skb_cut_into_pieces(void **state)
{
	struct fx *fx = *state;
	const size_t payload = 2 * DNS_CAPTURE_MAX + 400;
	struct tcphdr *th;
	struct pkt p;

	pkt_ipv4(&p, IPPROTO_TCP, "192.0.2.1", "198.51.100.53");
	th = pkt_tcp(&p, 53, 40000, TH_ACK | TH_PUSH | TH_FIN, 0);
	th->th_seq = htonl(5000);
	pkt_payload(&p, payload);
	pkt_finish(&p);
	run(fx, &p);

	assert_int_equal(fx->n, 3);
	for (unsigned int i = 0; i < 3; i++) {
		const struct dns_event *ev = &fx->events[i];
		uint32_t want = i < 2 ? DNS_CAPTURE_MAX : 400;

		assert_int_equal(ev->proto, IPPROTO_TCP);
		assert_int_equal(ev->tcp_seq, 5000 + i * DNS_CAPTURE_MAX);
		assert_int_equal(ev->payload_len, want);
		assert_int_equal(ev->cap_len, want);
		assert_int_equal(ev->flags, DNS_EV_F_EGRESS);
		assert_int_equal(ev->offset, i * DNS_CAPTURE_MAX);
		assert_int_equal(ev->piece_flags, i == 2 ? DNS_PIECE_F_LAST : 0);
		/* the FIN closes the last piece only, or the stream would end too early */
		assert_int_equal(!!(ev->tcp_flags & TH_FIN), i == 2);
		assert_int_equal(ev->sport, 53);
		assert_int_equal(ev->dport, 40000);
		/* pieces follow each other in the payload */
		assert_memory_equal(ev->payload, p.data + p.len - payload + i * DNS_CAPTURE_MAX,
				    want);
	}
}

/* TCP Fast Open: the payload of a SYN starts at ISN + 1. */
static void test_syn_payload_sequence(void **state)
{
	struct fx *fx = *state;
	struct tcphdr *th;
	struct pkt p;

	pkt_ipv4(&p, IPPROTO_TCP, "192.0.2.1", "198.51.100.53");
	th = pkt_tcp(&p, 40001, 53, TH_SYN, 0);
	th->th_seq = htonl(1000);
	pkt_payload(&p, 30);
	pkt_finish(&p);
	run(fx, &p);

	assert_int_equal(fx->n, 1);
	assert_int_equal(fx->events[0].tcp_seq, 1001);
	assert_int_equal(fx->events[0].payload_len, 30);
	assert_true(fx->events[0].tcp_flags & TH_SYN);
}

/* Other ports give no event. */
static void test_other_port(void **state)
{
	struct fx *fx = *state;
	struct pkt p;

	pkt_udp4(&p, "192.0.2.1", 40002, "198.51.100.53", 54, 100);
	run(fx, &p);
	assert_int_equal(fx->n, 0);
}

/*
 * Checks that fx->events hold a UDP datagram of wire bytes (the payload at the end of p) in
 * pieces of DNS_CAPTURE_MAX: cap bytes captured, the last piece flagged LAST, and TRUNCATED when
 * cap < wire. Every piece carries the same packet key.
 */
static void check_udp_pieces(const struct fx *fx, const struct pkt *p, size_t wire, size_t cap)
{
	unsigned int want_n = (unsigned int)((cap + DNS_CAPTURE_MAX - 1) / DNS_CAPTURE_MAX);
	const uint8_t *payload = p->data + p->len - wire;

	assert_int_equal(fx->n, want_n);
	for (unsigned int i = 0; i < fx->n; i++) {
		const struct dns_event *ev = &fx->events[i];
		size_t off = (size_t)i * DNS_CAPTURE_MAX;
		size_t want = cap - off < DNS_CAPTURE_MAX ? cap - off : DNS_CAPTURE_MAX;
		bool last = i == fx->n - 1;

		assert_int_equal(ev->proto, IPPROTO_UDP);
		assert_int_equal(ev->offset, off);
		assert_int_equal(ev->payload_len, wire);
		assert_int_equal(ev->cap_len, want);
		assert_int_equal(ev->tcp_seq, 0);
		assert_int_equal(ev->flags, DNS_EV_F_EGRESS);
		assert_int_equal(ev->piece_flags,
				 (last ? DNS_PIECE_F_LAST : 0) |
					 (last && cap < wire ? DNS_PIECE_F_TRUNCATED : 0));
		assert_memory_equal(ev->payload, payload + off, want);
		assert_memory_equal(ev, &fx->events[0], DNS_EVENT_KEY_LEN);
	}
}

/* A small datagram is one piece, whole. */
static void test_udp_one_piece(void **state)
{
	struct fx *fx = *state;
	struct pkt p;

	pkt_udp4(&p, "192.0.2.1", 40002, "198.51.100.53", 53, 300);
	run(fx, &p);
	check_udp_pieces(fx, &p, 300, 300);
}

/* A datagram longer than one event comes whole, in pieces (IPv4 and IPv6). */
static void test_udp_pieces(void **state)
{
	struct fx *fx = *state;
	uint64_t before[FLOW_STAT_MAX], after[FLOW_STAT_MAX];
	int stats_fd = bpf_map__fd(fx->skel->maps.stats);
	struct pkt p;

	fx_stats(stats_fd, bpf_map__fd(fx->skel->maps.flow_cache), before);
	pkt_udp4(&p, "198.51.100.53", 53, "192.0.2.1", 40003, 3000);
	run(fx, &p);
	check_udp_pieces(fx, &p, 3000, 3000);
	assert_int_equal(fx->events[0].sport, 53);

	pkt_udp6(&p, "2001:db8::53", 53, "2001:db8::1", 40004, 2 * DNS_CAPTURE_MAX);
	run(fx, &p);
	check_udp_pieces(fx, &p, 2 * DNS_CAPTURE_MAX, 2 * DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[0].ip_version, 6);
	fx_stats(stats_fd, bpf_map__fd(fx->skel->maps.flow_cache), after);
	assert_int_equal(after[FLOW_STAT_DNS_EVENTS] - before[FLOW_STAT_DNS_EVENTS], 4);
	assert_int_equal(after[FLOW_STAT_DNS_TRUNCATED], before[FLOW_STAT_DNS_TRUNCATED]);
	assert_int_equal(after[FLOW_STAT_DNS_RINGBUF_FULL], before[FLOW_STAT_DNS_RINGBUF_FULL]);
}

/* A flow program loaded with dns_capture_max_bytes = bound and a dns_events ring of ring bytes
 * (0: the default), port 53 a DNS port. */
static struct fx *open_fx(uint32_t bound, uint32_t ring)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->skel = flow_bpf__open();
	assert_non_null(fx->skel);
	fx->skel->rodata->dns_port_bitmap[53 >> 5] |= 1u << (53 & 31);
	fx->skel->rodata->dns_capture_max_bytes = bound;
	if (ring)
		assert_int_equal(bpf_map__set_max_entries(fx->skel->maps.dns_events, ring), 0);
	assert_int_equal(flow_bpf__load(fx->skel), 0);
	fx->rb = ring_buffer__new(bpf_map__fd(fx->skel->maps.dns_events), on_event, fx, NULL);
	assert_non_null(fx->rb);
	return fx;
}

static void close_fx(struct fx *fx)
{
	ring_buffer__free(fx->rb);
	flow_bpf__destroy(fx->skel);
	free(fx);
}

/* --dns-capture-max-bytes: the capture stops at the bound, flags the last piece and counts. */
static void test_udp_bound(void **state)
{
	struct fx *fx = open_fx(2000, 0);
	uint64_t st[FLOW_STAT_MAX];
	struct pkt p;

	(void)state;
	pkt_udp4(&p, "198.51.100.53", 53, "192.0.2.1", 40005, 3000);
	run(fx, &p);
	check_udp_pieces(fx, &p, 3000, 2000);
	fx_stats(bpf_map__fd(fx->skel->maps.stats), bpf_map__fd(fx->skel->maps.flow_cache), st);
	assert_int_equal(st[FLOW_STAT_DNS_TRUNCATED], 1);
	assert_int_equal(st[FLOW_STAT_DNS_EVENTS], 2);

	/* below one piece: one piece, cut */
	close_fx(fx);
	fx = open_fx(100, 0);
	pkt_udp4(&p, "198.51.100.53", 53, "192.0.2.1", 40005, 600);
	run(fx, &p);
	check_udp_pieces(fx, &p, 600, 100);
	/* at the bound exactly: whole */
	pkt_udp4(&p, "198.51.100.53", 53, "192.0.2.1", 40005, 100);
	run(fx, &p);
	check_udp_pieces(fx, &p, 100, 100);
	fx_stats(bpf_map__fd(fx->skel->maps.stats), bpf_map__fd(fx->skel->maps.flow_cache), st);
	assert_int_equal(st[FLOW_STAT_DNS_TRUNCATED], 1);
	close_fx(fx);
}

/* The bound on a TCP skb: the last piece stands for the rest of the skb, captured or not, so the
 * stream sees a gap of the bytes cut. */
static void test_tcp_bound(void **state)
{
	struct fx *fx = open_fx(2000, 0);
	const size_t payload = 2 * DNS_CAPTURE_MAX + 400;
	uint64_t st[FLOW_STAT_MAX];
	struct tcphdr *th;
	struct pkt p;

	(void)state;
	pkt_ipv4(&p, IPPROTO_TCP, "192.0.2.1", "198.51.100.53");
	th = pkt_tcp(&p, 53, 40000, TH_ACK | TH_PUSH | TH_FIN, 0);
	th->th_seq = htonl(7000);
	pkt_payload(&p, payload);
	pkt_finish(&p);
	run(fx, &p);
	assert_int_equal(fx->n, 2);
	assert_int_equal(fx->events[0].tcp_seq, 7000);
	assert_int_equal(fx->events[0].payload_len, DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[0].cap_len, DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[0].piece_flags, 0);
	assert_false(fx->events[0].tcp_flags & TH_FIN);
	assert_int_equal(fx->events[1].tcp_seq, 7000 + DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[1].offset, DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[1].payload_len, payload - DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[1].cap_len, 2000 - DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[1].piece_flags, DNS_PIECE_F_LAST | DNS_PIECE_F_TRUNCATED);
	assert_true(fx->events[1].tcp_flags & TH_FIN);
	assert_memory_equal(fx->events[1].payload, p.data + p.len - payload + DNS_CAPTURE_MAX,
			    2000 - DNS_CAPTURE_MAX);
	fx_stats(bpf_map__fd(fx->skel->maps.stats), bpf_map__fd(fx->skel->maps.flow_cache), st);
	assert_int_equal(st[FLOW_STAT_DNS_TRUNCATED], 1);
	close_fx(fx);
}

/*
 * A ring buffer that fills up in the middle of a datagram: the first piece stands, without
 * LAST, and the lost one is counted. The one-page ring holds two events.
 */
static void test_udp_ring_full_mid_datagram(void **state)
{
	struct fx *fx = open_fx(DNS_CAPTURE_MAX_BYTES_DEFAULT, 4096);
	uint64_t st[FLOW_STAT_MAX];
	struct pkt p;

	(void)state;
	pkt_udp4(&p, "198.51.100.53", 53, "192.0.2.1", 40006, 50);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_udp4(&p, "198.51.100.53", 53, "192.0.2.1", 40006, 3000);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	fx->n = 0;
	assert_true(ring_buffer__consume(fx->rb) >= 0);
	assert_int_equal(fx->n, 2);
	assert_int_equal(fx->events[0].piece_flags, DNS_PIECE_F_LAST);
	assert_int_equal(fx->events[1].offset, 0);
	assert_int_equal(fx->events[1].payload_len, 3000);
	assert_int_equal(fx->events[1].cap_len, DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[1].piece_flags, 0);
	fx_stats(bpf_map__fd(fx->skel->maps.stats), bpf_map__fd(fx->skel->maps.flow_cache), st);
	assert_int_equal(st[FLOW_STAT_DNS_RINGBUF_FULL], 1);
	assert_int_equal(st[FLOW_STAT_DNS_EVENTS], 2);
	close_fx(fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_skb_cut_into_pieces),
		cmocka_unit_test(test_syn_payload_sequence),
		cmocka_unit_test(test_other_port),
		cmocka_unit_test(test_udp_one_piece),
		cmocka_unit_test(test_udp_pieces),
		cmocka_unit_test(test_udp_bound),
		cmocka_unit_test(test_tcp_bound),
		cmocka_unit_test(test_udp_ring_full_mid_datagram),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
