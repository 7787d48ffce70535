// SPDX-License-Identifier: Apache-2.0
/*
 * flow_collector_drain() against the real programs: the collector attaches to a fresh child
 * cgroup of our own (no process lives in it, so no real traffic lands in the maps), packets are
 * fed with BPF_PROG_TEST_RUN, and each drain must swap the active map, empty the old one and
 * turn every entry into exactly one record. Needs root; fails, never skips, without it.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "flow.skel.h"
#include "flow_collector.h"
#include "flow_fixture.h"
#include "loop.h"
#include "pipeline.h"

#define L4 "192.0.2.1"
#define R4 "198.51.100.7"

struct fx {
	char cgroup[4200];
	struct flow_collector *fc;
	struct flow_bpf *skel;
	uint64_t cgid;
	struct flow_record *recs;
	size_t n_recs, cap_recs;
};

static int teardown(void **state);

static int cache_fd(struct fx *fx)
{
	return bpf_map__fd(fx->skel->maps.flow_cache);
}

static int setup(void **state)
{
	struct flow_collector_opts opts = { .max_flows = 8192 };
	struct fx *fx = calloc(1, sizeof(*fx));
	char mnt[4000], err[512];
	int ret;

	if (!fx)
		return -1;
	*state = fx;
	fx->cgid = fx_self_cgroup_id();
	if (!fx->cgid || fx_cgroup2_mount(mnt, sizeof(mnt))) {
		print_error("cgroup v2 is not mounted, or this process's cgroup is not found\n");
		goto fail;
	}
	snprintf(fx->cgroup, sizeof(fx->cgroup), "%s/fs%d-flow-drain", mnt, (int)getpid());
	if (mkdir(fx->cgroup, 0755)) {
		print_error("mkdir %s: %s\n", fx->cgroup, strerror(errno));
		fx->cgroup[0] = '\0';
		goto fail;
	}
	opts.cgroup_path = fx->cgroup;
	ret = flow_collector_create(&opts, &fx->fc, err, sizeof(err));
	if (ret) {
		print_error("flow_collector_open: %s\n", err);
		goto fail;
	}
	fx->skel = flow_collector_skel(fx->fc);
	return 0;
fail:
	/* cmocka skips teardown after a failed setup: clean up here */
	teardown(state);
	*state = NULL;
	return -1;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (!fx)
		return 0;
	flow_collector_destroy(fx->fc);
	if (fx->cgroup[0] && rmdir(fx->cgroup))
		print_error("rmdir %s: %s\n", fx->cgroup, strerror(errno));
	free(fx->recs);
	free(fx);
	return 0;
}

static void collect(void *ctx, struct flow_record *r)
{
	struct fx *fx = ctx;

	if (fx->n_recs == fx->cap_recs) {
		fx->cap_recs = fx->cap_recs ? 2 * fx->cap_recs : 16;
		fx->recs = realloc(fx->recs, fx->cap_recs * sizeof(*fx->recs));
		assert_non_null(fx->recs);
	}
	fx->recs[fx->n_recs++] = *r;
}

static int drain(struct fx *fx)
{
	fx->n_recs = 0;
	return flow_collector_drain(fx->fc, collect, fx);
}

static uint64_t epoch_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The id of the inner map the programs currently write to. */
static uint32_t active_map_id(struct fx *fx)
{
	uint32_t parity = fx->skel->bss->flow_parity, id = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.flows), &parity, &id), 0);
	return id;
}

static uint32_t map_id(struct bpf_map *map)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	assert_int_equal(bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len), 0);
	return info.id;
}

static const struct flow_record *find(struct fx *fx, uint8_t proto, uint16_t src_port)
{
	for (size_t i = 0; i < fx->n_recs; i++)
		if (fx->recs[i].proto == proto && fx->recs[i].src_port == src_port)
			return &fx->recs[i];
	fail_msg("no record for proto %u src_port %u", proto, src_port);
	return NULL;
}

static void assert_addr4(const struct record_addr *a, const char *text)
{
	struct record_addr want = {};

	assert_int_equal(inet_pton(AF_INET, text, want.bytes), 1);
	assert_memory_equal(a->bytes, want.bytes, sizeof(want.bytes));
}

/*
 * Interval 1: a SYN and a UDP datagram leave. Interval 2: an ACK of the same TCP flow arrives;
 * the kernel cannot tell its initiator any more, the collector remembers it. Interval 3: empty.
 */
static void test_swap_and_drain(void **state)
{
	struct fx *fx = *state;
	uint32_t id_a = map_id(fx->skel->maps.flows_a), id_b = map_id(fx->skel->maps.flows_b);
	uint32_t id_a2;
	const struct flow_record *r;
	uint64_t t0 = epoch_ns(), t1;
	struct pkt p;

	assert_int_equal(active_map_id(fx), id_a);
	pkt_tcp4(&p, L4, 40000, R4, 80, TH_SYN, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_udp4(&p, L4, 40001, R4, 53, 20);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_udp4(&p, R4, 53, L4, 40001, 80);
	fx_run(fx->skel->progs.flow_ingress, &p, 0, 0);
	t1 = epoch_ns();

	assert_int_equal(drain(fx), 2);
	assert_int_equal(fx->n_recs, 2);
	assert_int_equal(active_map_id(fx), id_b);
	/* the drained map held two flows: emptied in place, not replaced (empty_in_place()) */
	id_a2 = map_id(fx->skel->maps.flows_a);
	assert_int_equal(id_a2, id_a);
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flows_a)), 0);

	r = find(fx, IPPROTO_TCP, 40000);
	assert_int_equal(r->cgroup_id, fx->cgid);
	assert_int_equal(r->ip_version, 4);
	assert_addr4(&r->src_addr, L4);
	assert_addr4(&r->dst_addr, R4);
	assert_int_equal(r->dst_port, 80);
	assert_int_equal(r->tx_bytes, 40);
	assert_int_equal(r->tx_packets, 1);
	assert_int_equal(r->rx_bytes, 0);
	assert_int_equal(r->rx_packets, 0);
	assert_int_equal(r->tcp_flags, TH_SYN);
	assert_int_equal(r->initiator, INITIATOR_SRC);
	assert_int_equal(r->pid, 0);
	assert_string_equal(r->comm, "");
	/* coarse monotonic stamps converted to the wall clock: inside the window we measured,
	 * give or take one tick of the coarse clock (at most 10 ms) */
	assert_in_range(r->start_ns, t0 - 10000000, t1 + 1000000);
	assert_in_range(r->end_ns, r->start_ns, t1 + 1000000);
	assert_false(r->nat);
	assert_memory_equal(&r->dst_actual_addr, &r->dst_addr, sizeof(r->dst_addr));
	assert_int_equal(r->dst_actual_port, 80);

	r = find(fx, IPPROTO_UDP, 40001);
	assert_int_equal(r->dst_port, 53);
	assert_int_equal(r->tx_bytes, 48);
	assert_int_equal(r->tx_packets, 1);
	assert_int_equal(r->rx_bytes, 108);
	assert_int_equal(r->rx_packets, 1);
	assert_int_equal(r->initiator, INITIATOR_SRC);

	/* interval 2: counters restart at zero in the other map and parity (the ACK is the
	 * flow's first packet there: a cache-only slot of parity 1, no map entry) */
	pkt_tcp4(&p, R4, 80, L4, 40000, TH_ACK, 0);
	fx_run(fx->skel->progs.flow_ingress, &p, 0, 0);
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flows_a)), 0);
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flows_b)), 0);
	assert_int_equal(fx_flows_count(bpf_map__fd(fx->skel->maps.flows_b), cache_fd(fx), 1), 1);
	assert_int_equal(drain(fx), 1);
	/* three maps in rotation: flows_c, installed empty by the first drain */
	assert_int_equal(active_map_id(fx), map_id(fx->skel->maps.flows_c));
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flows_b)), 0);
	r = find(fx, IPPROTO_TCP, 40000);
	assert_int_equal(r->tx_bytes, 0);
	assert_int_equal(r->tx_packets, 0);
	assert_int_equal(r->rx_bytes, 40);
	assert_int_equal(r->rx_packets, 1);
	assert_int_equal(r->tcp_flags, TH_ACK);
	/* the interval-1 SYN's verdict (kept in flow_meta) wins over "unknown" */
	assert_int_equal(r->initiator, INITIATOR_SRC);

	assert_int_equal(drain(fx), 0);
	assert_int_equal(fx->n_recs, 0);
	/* back to flows_a, emptied in place by the first drain; flows_b (no entry) likewise */
	assert_int_equal(active_map_id(fx), id_a2);
	assert_int_equal(map_id(fx->skel->maps.flows_b), id_b);
}

/* More flows than one batch syscall returns: every one comes out exactly once. */
static void test_drain_many(void **state)
{
	struct fx *fx = *state;
	const unsigned int n = 5000;
	int fd = bpf_map__fd(fx->skel->maps.flows_a);
	uint8_t *seen = calloc(n, 1);
	uint32_t id_a = map_id(fx->skel->maps.flows_a);

	assert_non_null(seen);
	assert_int_equal(active_map_id(fx), id_a);
	for (unsigned int i = 0; i < n; i++) {
		struct flow_key k =
			fx_key(fx->cgid, IPPROTO_UDP, L4, (uint16_t)(10000 + i), R4, 53);
		struct flow_value v = { .tx_bytes = 100 + i, .tx_packets = 1 };

		assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST), 0);
	}
	assert_int_equal(drain(fx), (int)n);
	assert_int_equal(fx->n_recs, n);
	for (size_t i = 0; i < fx->n_recs; i++) {
		unsigned int idx = fx->recs[i].src_port - 10000u;

		assert_true(idx < n);
		assert_false(seen[idx]);
		seen[idx] = 1;
		assert_int_equal(fx->recs[i].tx_bytes, 100 + idx);
	}
	/* 5000 flows, more than a drain deletes: the map was replaced by a new, empty one */
	assert_int_not_equal(map_id(fx->skel->maps.flows_a), id_a);
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flows_a)), 0);
	free(seen);
}

/*
 * The per-CPU flow cache: all but the first packets of a busy flow are counted in a cache slot,
 * which the drain folds into the record. Interval 1: one datagram out, which takes a slot with
 * nothing in it yet. The next interval of the same parity (flows[0], its slots): 10 datagrams
 * out and 5 in, which must not be taken for interval 1's flow (its entry is gone with its map).
 * The next one of that parity again: 7 out. Every record exact, no packet counted as an
 * orphan.
 */
static void test_cache_folded(void **state)
{
	struct fx *fx = *state;
	uint64_t stats[FLOW_STAT_MAX];
	const struct flow_record *r;
	struct pkt out, in;

	pkt_udp4(&out, L4, 40002, R4, 53, 20);
	pkt_udp4(&in, R4, 53, L4, 40002, 80);
	fx_run(fx->skel->progs.flow_egress, &out, 0, 0);
	assert_int_equal(drain(fx), 1);
	assert_int_equal(find(fx, IPPROTO_UDP, 40002)->tx_packets, 1);
	for (int i = 1; i < FLOW_MAPS; i++)
		assert_int_equal(drain(fx), 0);
	assert_int_equal(fx->skel->bss->flow_parity, 0);

	for (int i = 0; i < 10; i++)
		fx_run(fx->skel->progs.flow_egress, &out, 0, 0);
	for (int i = 0; i < 5; i++)
		fx_run(fx->skel->progs.flow_ingress, &in, 0, 0);
	assert_int_equal(drain(fx), 1);
	r = find(fx, IPPROTO_UDP, 40002);
	assert_int_equal(r->tx_packets, 10);
	assert_int_equal(r->tx_bytes, 10 * 48);
	assert_int_equal(r->rx_packets, 5);
	assert_int_equal(r->rx_bytes, 5 * 108);
	assert_in_range(r->end_ns, r->start_ns, epoch_ns() + 1000000);

	for (int i = 1; i < FLOW_MAPS; i++)
		assert_int_equal(drain(fx), 0);
	assert_int_equal(fx->skel->bss->flow_parity, 0);

	for (int i = 0; i < 7; i++)
		fx_run(fx->skel->progs.flow_egress, &out, 0, 0);
	assert_int_equal(drain(fx), 1);
	r = find(fx, IPPROTO_UDP, 40002);
	assert_int_equal(r->tx_packets, 7);
	assert_int_equal(r->tx_bytes, 7 * 48);
	assert_int_equal(r->rx_packets, 0);

	/* the collector's sum: the kernel's counters and the packets its folds took out */
	assert_int_equal(flow_collector_stats(fx->fc, stats), 0);
	assert_int_equal(stats[FLOW_STAT_CACHE_ORPHAN], 0);
	assert_int_equal(stats[FLOW_STAT_PACKETS], 23);
}

/*
 * flow_meta is written by the drain, not by the programs. Interval 1: a connection that opens
 * and closes (SYN, then FIN) and a UDP flow that stays open: only the open one is remembered.
 * Interval 2: the UDP flow's first packet comes in (a reply: the kernel alone would say the
 * peer initiated it) and finds the memory (FLOW_F_REMEMBERED, the local end initiated it, the
 * owner the memory holds). Then the race: entries the previous drain wrote after the interval's
 * first packet of their flow. A datagram in, whose flow the drain finds remembered: its record
 * takes the memory's initiator and owner; a SYN in, whose verdict replaces the memory's; the
 * last packets of a connection (FIN, no SYN seen this interval): its record takes the memory's
 * initiator and owner too, and the memory is left as it was (a closed flow is not written).
 */
static void test_meta_fed_by_drain(void **state)
{
	struct fx *fx = *state;
	int meta_fd = bpf_map__fd(fx->skel->maps.flow_meta);
	struct flow_key tcp = fx_key(fx->cgid, IPPROTO_TCP, L4, 40010, R4, 80);
	struct flow_key udp = fx_key(fx->cgid, IPPROTO_UDP, L4, 40011, R4, 53);
	struct flow_key late = fx_key(fx->cgid, IPPROTO_UDP, L4, 40012, R4, 53);
	struct flow_key syn = fx_key(fx->cgid, IPPROTO_TCP, L4, 40013, R4, 80);
	struct flow_key fin = fx_key(fx->cgid, IPPROTO_TCP, L4, 40014, R4, 80);
	struct flow_meta m = { 0 };
	struct flow_value v = { 0 };
	const struct flow_record *r;
	struct pkt p;
	int fd;

	pkt_tcp4(&p, L4, 40010, R4, 80, TH_SYN, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_tcp4(&p, L4, 40010, R4, 80, TH_FIN | TH_ACK, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_udp4(&p, L4, 40011, R4, 53, 20);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	/* nothing written by the programs */
	assert_int_equal(fx_flow_count(meta_fd), 0);
	assert_int_equal(drain(fx), 2);
	assert_int_equal(fx_flow_count(meta_fd), 1);
	assert_int_equal(bpf_map_lookup_elem(meta_fd, &tcp, &m), -ENOENT);
	assert_int_equal(bpf_map_lookup_elem(meta_fd, &udp, &m), 0);
	assert_int_equal(m.flags, FLOW_F_INITIATOR_SRC);

	/* interval 2 (flows_b): the reply finds the memory; give it an owner to carry */
	m.pid = 4242;
	strcpy(m.comm, "resolver");
	assert_int_equal(bpf_map_update_elem(meta_fd, &udp, &m, BPF_EXIST), 0);
	pkt_udp4(&p, R4, 53, L4, 40011, 80);
	fx_run(fx->skel->progs.flow_ingress, &p, 0, 0);
	assert_int_equal(
		fx_flow_lookup(bpf_map__fd(fx->skel->maps.flows_b), cache_fd(fx), 1, &udp, &v), 0);
	assert_int_equal(v.flags, FLOW_F_INITIATOR_SRC | FLOW_F_REMEMBERED);
	assert_int_equal(v.pid, 4242);
	assert_string_equal(v.comm, "resolver");

	/* the race: flows of interval 2 that the kernel did not find, remembered since */
	fd = bpf_map__fd(fx->skel->maps.flows_b);
	v = (struct flow_value){ .rx_bytes = 80, .rx_packets = 1, .flags = FLOW_F_INITIATOR_DST };
	assert_int_equal(bpf_map_update_elem(fd, &late, &v, BPF_NOEXIST), 0);
	m = (struct flow_meta){ .flags = FLOW_F_INITIATOR_SRC, .pid = 77 };
	strcpy(m.comm, "client");
	assert_int_equal(bpf_map_update_elem(meta_fd, &late, &m, BPF_NOEXIST), 0);
	v = (struct flow_value){ .rx_bytes = 40,
				 .rx_packets = 1,
				 .tcp_flags = TH_SYN,
				 .pid = 88,
				 .flags = FLOW_F_INITIATOR_DST | FLOW_F_FROM_SYN };
	strcpy(v.comm, "server");
	assert_int_equal(bpf_map_update_elem(fd, &syn, &v, BPF_NOEXIST), 0);
	m = (struct flow_meta){ .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN };
	assert_int_equal(bpf_map_update_elem(meta_fd, &syn, &m, BPF_NOEXIST), 0);
	v = (struct flow_value){ .tx_bytes = 52, .tx_packets = 1, .tcp_flags = TH_FIN | TH_ACK };
	assert_int_equal(bpf_map_update_elem(fd, &fin, &v, BPF_NOEXIST), 0);
	m = (struct flow_meta){ .flags = FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN, .pid = 99 };
	strcpy(m.comm, "keepalive");
	assert_int_equal(bpf_map_update_elem(meta_fd, &fin, &m, BPF_NOEXIST), 0);

	assert_int_equal(drain(fx), 4);
	r = find(fx, IPPROTO_UDP, 40011);
	assert_int_equal(r->initiator, INITIATOR_SRC);
	assert_int_equal(r->pid, 4242);
	assert_string_equal(r->comm, "resolver");
	r = find(fx, IPPROTO_UDP, 40012);
	assert_int_equal(r->initiator, INITIATOR_SRC);
	assert_int_equal(r->pid, 77);
	assert_string_equal(r->comm, "client");
	assert_int_equal(r->rx_packets, 1);
	r = find(fx, IPPROTO_TCP, 40013);
	assert_int_equal(r->initiator, INITIATOR_DST);
	assert_int_equal(r->pid, 88);
	/* the SYN's verdict and owner replaced the memory */
	assert_int_equal(bpf_map_lookup_elem(meta_fd, &syn, &m), 0);
	assert_int_equal(m.flags, FLOW_F_INITIATOR_DST | FLOW_F_FROM_SYN);
	assert_int_equal(m.pid, 88);
	assert_string_equal(m.comm, "server");
	r = find(fx, IPPROTO_TCP, 40014);
	assert_int_equal(r->initiator, INITIATOR_SRC);
	assert_int_equal(r->pid, 99);
	assert_string_equal(r->comm, "keepalive");
	assert_int_equal(r->tx_packets, 1);
	/* the late flows' memory is unchanged; nothing else was added */
	assert_int_equal(bpf_map_lookup_elem(meta_fd, &late, &m), 0);
	assert_int_equal(m.flags, FLOW_F_INITIATOR_SRC);
	assert_int_equal(m.pid, 77);
	assert_int_equal(bpf_map_lookup_elem(meta_fd, &fin, &m), 0);
	assert_int_equal(m.flags, FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN);
	assert_int_equal(m.pid, 99);
	assert_int_equal(fx_flow_count(meta_fd), 4);
}

/* A sink that keeps the flow records it is given in the fixture's array. */
struct rec_sink {
	struct sink base;
	struct fx *fx;
};

static int rec_emit(struct sink *s, const struct record *r)
{
	collect(((struct rec_sink *)s)->fx, RECORD_OF(r, struct flow_record));
	return 0;
}

static uint64_t rec_destroy(struct sink *s)
{
	(void)s;
	return 0;
}

static void on_stop(struct loop *l, uint64_t expirations, void *arg)
{
	(void)expirations, (void)arg;
	loop_stop(l, 0);
}

/*
 * With a loop (the agent), an export leaves the flow_meta writes of its new flows to the loop,
 * after the export. Interval 1: a datagram leaves; once exported nothing is written yet.
 * Interval 2: the reply arrives before the loop wrote the memory, so the kernel does not find it
 * (it would say the peer initiated the flow); the loop then writes it. The next export mends the
 * flow from the memory: the local end initiated it, as in interval 1.
 */
static void test_meta_written_after_the_export(void **state)
{
	const struct sink_ops ops = { .emit = rec_emit, .destroy = rec_destroy };
	struct fx *fx = *state;
	int meta_fd = bpf_map__fd(fx->skel->maps.flow_meta);
	struct flow_key udp = fx_key(fx->cgid, IPPROTO_UDP, L4, 40020, R4, 53);
	struct rec_sink sink = { .base.ops = &ops, .fx = fx };
	struct loop *l = loop_create();
	struct pipeline *p = pipeline_create(&sink.base);
	struct flow_meta m = { 0 };
	const struct flow_record *r;
	struct pkt pk;

	assert_non_null(l);
	assert_non_null(p);
	assert_int_equal(flow_collector_attach(fx->fc, l, p, 3600), 0);
	pkt_udp4(&pk, L4, 40020, R4, 53, 20);
	fx_run(fx->skel->progs.flow_egress, &pk, 0, 0);
	fx->n_recs = 0;
	assert_int_equal(flow_collector_export(fx->fc), 0);
	assert_int_equal(fx->n_recs, 1);
	assert_int_equal(fx->recs[0].initiator, INITIATOR_SRC);
	assert_int_equal(fx_flow_count(meta_fd), 0); /* not yet: the loop writes it */

	pkt_udp4(&pk, R4, 53, L4, 40020, 80);
	fx_run(fx->skel->progs.flow_ingress, &pk, 0, 0);
	assert_true(loop_add_oneshot(l, 50, on_stop, NULL) > 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(fx_flow_count(meta_fd), 1);
	assert_int_equal(bpf_map_lookup_elem(meta_fd, &udp, &m), 0);
	assert_int_equal(m.flags, FLOW_F_INITIATOR_SRC);

	fx->n_recs = 0;
	assert_int_equal(flow_collector_export(fx->fc), 0);
	r = find(fx, IPPROTO_UDP, 40020);
	assert_int_equal(r->rx_packets, 1);
	assert_int_equal(r->initiator, INITIATOR_SRC);
	/* the collector's timers are the loop's: it goes first */
	flow_collector_destroy(fx->fc);
	fx->fc = NULL;
	pipeline_destroy(p);
	loop_destroy(l);
}

/* Pins the caller to CPU cpu; *old: the affinity to restore. Fails without that CPU. */
static void pin_cpu(int cpu, cpu_set_t *old)
{
	cpu_set_t one;

	assert_int_equal(sched_getaffinity(0, sizeof(*old), old), 0);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		fail_msg("pinning to CPU %d: %s (the test needs two CPUs)", cpu, strerror(errno));
}

static void unpin(const cpu_set_t *old)
{
	assert_int_equal(sched_setaffinity(0, sizeof(*old), old), 0);
}

/*
 * A short connection split over two CPUs, as RSS does on a real node: the SYN leaves and the
 * SYN-ACK arrives on CPU 0, the handshake's ACK, two data segments and the RST on CPU 1. Each
 * CPU holds its piece in a cache-only slot (CPU 1's first packet is no SYN: it looks the flow
 * map up and finds nothing), CPU 1's RST writes its piece to the ring, and the flow map stays
 * empty. The drain gives exactly one record: the sum, the SYN's initiator.
 */
static void test_short_flow_on_two_cpus(void **state)
{
	struct fx *fx = *state;
	const struct flow_record *r;
	uint64_t stats[FLOW_STAT_MAX];
	cpu_set_t old;
	struct pkt p;

	pin_cpu(0, &old);
	pkt_tcp4(&p, L4, 40100, R4, 80, TH_SYN, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_tcp4(&p, R4, 80, L4, 40100, TH_SYN | TH_ACK, 0);
	fx_run(fx->skel->progs.flow_ingress, &p, 0, 0);
	unpin(&old);
	pin_cpu(1, &old);
	pkt_tcp4(&p, L4, 40100, R4, 80, TH_ACK, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_tcp4(&p, L4, 40100, R4, 80, TH_ACK | TH_PUSH, 100);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_tcp4(&p, R4, 80, L4, 40100, TH_ACK | TH_PUSH, 300);
	fx_run(fx->skel->progs.flow_ingress, &p, 0, 0);
	pkt_tcp4(&p, L4, 40100, R4, 80, TH_RST, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	unpin(&old);
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flows_a)), 0);

	assert_int_equal(drain(fx), 1);
	assert_int_equal(fx->n_recs, 1);
	r = find(fx, IPPROTO_TCP, 40100);
	assert_int_equal(r->tx_packets, 4);
	assert_int_equal(r->tx_bytes, 3 * 40 + 140);
	assert_int_equal(r->rx_packets, 2);
	assert_int_equal(r->rx_bytes, 40 + 340);
	assert_int_equal(r->tcp_flags, TH_SYN | TH_ACK | TH_PUSH | TH_RST);
	assert_int_equal(r->initiator, INITIATOR_SRC);
	assert_in_range(r->end_ns, r->start_ns, epoch_ns() + 1000000);
	/* a closed flow is not remembered */
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flow_meta)), 0);
	assert_int_equal(flow_collector_stats(fx->fc, stats), 0);
	assert_int_equal(stats[FLOW_STAT_PACKETS], 6);
	assert_int_equal(stats[FLOW_STAT_CACHE_ORPHAN], 0);
	assert_int_equal(stats[FLOW_STAT_DONE_RING_FULL], 0);
	assert_int_equal(stats[FLOW_STAT_MAP_FULL], 0);
}

/*
 * A connection open across an interval boundary, never in the flow map. Interval 1: the
 * handshake, in a cache-only slot; the drain makes its record from the slot and remembers the
 * open flow (flow_meta). Interval 2: a segment arrives (no SYN: the memory gives the
 * initiator), then a FIN each way and the last ACK end it into the ring; its record holds
 * interval 2's packets alone.
 */
static void test_flow_open_across_intervals(void **state)
{
	struct fx *fx = *state;
	int meta_fd = bpf_map__fd(fx->skel->maps.flow_meta);
	struct flow_key k = fx_key(fx->cgid, IPPROTO_TCP, L4, 40110, R4, 80);
	const struct flow_record *r;
	struct flow_meta m;
	struct pkt p;

	pkt_tcp4(&p, L4, 40110, R4, 80, TH_SYN, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_tcp4(&p, R4, 80, L4, 40110, TH_SYN | TH_ACK, 0);
	fx_run(fx->skel->progs.flow_ingress, &p, 0, 0);
	pkt_tcp4(&p, L4, 40110, R4, 80, TH_ACK, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flows_a)), 0);
	assert_int_equal(drain(fx), 1);
	r = find(fx, IPPROTO_TCP, 40110);
	assert_int_equal(r->tx_packets, 2);
	assert_int_equal(r->rx_packets, 1);
	assert_int_equal(r->tcp_flags, TH_SYN | TH_ACK);
	assert_int_equal(r->initiator, INITIATOR_SRC);
	assert_int_equal(bpf_map_lookup_elem(meta_fd, &k, &m), 0);
	assert_int_equal(m.flags, FLOW_F_INITIATOR_SRC | FLOW_F_FROM_SYN);

	pkt_tcp4(&p, R4, 80, L4, 40110, TH_ACK | TH_PUSH, 200);
	fx_run(fx->skel->progs.flow_ingress, &p, 0, 0);
	pkt_tcp4(&p, L4, 40110, R4, 80, TH_FIN | TH_ACK, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	pkt_tcp4(&p, R4, 80, L4, 40110, TH_FIN | TH_ACK, 0);
	fx_run(fx->skel->progs.flow_ingress, &p, 0, 0);
	pkt_tcp4(&p, L4, 40110, R4, 80, TH_ACK, 0);
	fx_run(fx->skel->progs.flow_egress, &p, 0, 0);
	assert_int_equal(fx_flow_count(bpf_map__fd(fx->skel->maps.flows_b)), 0);
	assert_int_equal(drain(fx), 1);
	r = find(fx, IPPROTO_TCP, 40110);
	assert_int_equal(r->tx_packets, 2);
	assert_int_equal(r->tx_bytes, 80);
	assert_int_equal(r->rx_packets, 2);
	assert_int_equal(r->rx_bytes, 240 + 40);
	assert_int_equal(r->tcp_flags, TH_ACK | TH_PUSH | TH_FIN);
	assert_int_equal(r->initiator, INITIATOR_SRC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_swap_and_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_fed_by_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_written_after_the_export, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cache_folded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_flow_on_two_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_open_across_intervals, setup, teardown),
	};

	return cmocka_run_group_tests_name("flow_drain", tests, NULL, NULL);
}
