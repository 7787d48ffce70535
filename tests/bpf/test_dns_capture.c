// SPDX-License-Identifier: Apache-2.0
/*
 * The DNS capture of bpf/flow.bpf.c under BPF_PROG_TEST_RUN: which packets become dns_events,
 * how a TCP skb larger than one event is cut into consecutive pieces, and the sequence number of
 * a SYN's payload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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

/* A UDP datagram is one event, cut at DNS_CAPTURE_MAX and flagged; other ports give none. */
static void test_udp(void **state)
{
	struct fx *fx = *state;
	struct pkt p;

	pkt_udp4(&p, "192.0.2.1", 40002, "198.51.100.53", 53, DNS_CAPTURE_MAX + 100);
	run(fx, &p);
	assert_int_equal(fx->n, 1);
	assert_int_equal(fx->events[0].payload_len, DNS_CAPTURE_MAX + 100);
	assert_int_equal(fx->events[0].cap_len, DNS_CAPTURE_MAX);
	assert_int_equal(fx->events[0].flags, DNS_EV_F_EGRESS | DNS_EV_F_TRUNCATED);

	pkt_udp4(&p, "192.0.2.1", 40002, "198.51.100.53", 54, 100);
	run(fx, &p);
	assert_int_equal(fx->n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_skb_cut_into_pieces),
		cmocka_unit_test(test_syn_payload_sequence),
		cmocka_unit_test(test_udp),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
