// SPDX-License-Identifier: Apache-2.0
/*
 * bpf_bench: what the flow programs cost (needs root).
 *
 * 1. Per packet: flow_egress on a 118-byte IPv4 TCP frame of a flow that already exists, beside
 *    the empty cgroup_skb program (bench/bpf/empty.bpf.c) on the same frame, both under
 *    BPF_PROG_TEST_RUN with a large repeat, rounds interleaved, medians reported.
 * 2. What the pieces of flow_egress cost, each alone (bench/bpf/flow_parts.bpf.c).
 * 3. Drain: 100k flows put in the active flow map, then flow_collector_drain() (map swap, batch
 *    lookup-and-delete, records) timed; also the batch lookup-and-delete alone.
 * 4. DNS capture: flow_egress on UDP datagrams of one to three capture pieces to a DNS port,
 *    beside the same datagrams to a port that is not DNS (flow accounting only), so the
 *    difference is what handing the payload to the ring buffer costs. BPF_PROG_TEST_RUN takes a
 *    frame of one page at most, so the cost of a 64 KiB datagram (43 pieces) is derived from the
 *    cost per piece.
 *
 * Usage: bpf_bench [rounds [repeat]]   (defaults 11 and 1000000)
 *        bpf_bench dns [rounds]         (section 4 only; default 21 rounds)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_empty.skel.h"
#include "dns_capture.h"
#include "bench_flow_parts.skel.h"
#include "flow.skel.h"
#include "flow_collector.h"
#include "flow_pkt.h"

#define DRAIN_FLOWS 100000
#define DRAIN_ROUNDS 5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Average ns per run of prog on p over repeat runs, or a negative errno. */
static double run_ns(struct bpf_program *prog, const struct pkt *p, __u32 repeat)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = p->data, .data_size_in = (__u32)p->len,
		    .repeat = repeat);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &topts);

	if (err)
		return err;
	if (topts.retval != 1) {
		fprintf(stderr, "%s returned %u, not 1\n", bpf_program__name(prog), topts.retval);
		return -EINVAL;
	}
	return topts.duration;
}

static int bench_per_packet(int rounds, __u32 repeat)
{
	struct bench_empty_bpf *empty = NULL;
	struct flow_bpf *flow = NULL;
	double *t_flow = calloc((size_t)rounds, sizeof(double));
	double *t_empty = calloc((size_t)rounds, sizeof(double));
	double *t_diff = calloc((size_t)rounds, sizeof(double));
	double m_flow, m_empty, m_diff;
	int ret = 1;
	struct pkt p;

	if (!t_flow || !t_empty || !t_diff)
		goto out;
	flow = flow_bpf__open_and_load();
	empty = bench_empty_bpf__open_and_load();
	if (!flow || !empty) {
		fprintf(stderr, "loading the BPF programs: %s (root needed)\n", strerror(errno));
		goto out;
	}
	/* 14 + 20 + 20 + 64 = 118 bytes */
	pkt_tcp4(&p, "192.0.2.1", 40000, "198.51.100.7", 443, TH_ACK | TH_PUSH, 64);
	if (p.len != 118)
		goto out;
	/* the first run creates the flow; every later one finds it */
	if (run_ns(flow->progs.flow_egress, &p, 1) < 0)
		goto out;

	for (int r = 0; r < rounds; r++) {
		/* interleaved, so a noisy neighbour hits both alike */
		t_empty[r] = run_ns(empty->progs.empty_egress, &p, repeat);
		t_flow[r] = run_ns(flow->progs.flow_egress, &p, repeat);
		if (t_empty[r] < 0 || t_flow[r] < 0) {
			fprintf(stderr, "BPF_PROG_TEST_RUN failed\n");
			goto out;
		}
		t_diff[r] = t_flow[r] - t_empty[r];
	}
	m_flow = median(t_flow, rounds);
	m_empty = median(t_empty, rounds);
	m_diff = median(t_diff, rounds);
	printf("per packet: 118-byte IPv4 TCP frame, existing flow, median of %d rounds x %u "
	       "runs\n",
	       rounds, repeat);
	printf("  flow_egress            %6.1f ns/run  (rounds %.0f..%.0f)\n", m_flow, t_flow[0],
	       t_flow[rounds - 1]);
	printf("  empty cgroup_skb       %6.1f ns/run  (rounds %.0f..%.0f)\n", m_empty, t_empty[0],
	       t_empty[rounds - 1]);
	printf("  flow - empty           %6.1f ns/packet (median of per-round differences; "
	       "target <= 25)\n",
	       m_diff);
	printf("  flow / empty           %6.2f x\n", m_flow / m_empty);
	fflush(stdout);
	ret = 0;
out:
	bench_empty_bpf__destroy(empty);
	flow_bpf__destroy(flow);
	free(t_flow);
	free(t_empty);
	free(t_diff);
	return ret;
}

/*
 * What flow_egress's pieces cost over the empty program: each piece is its own program in
 * bench/bpf/flow_parts.bpf.c; same frame, rounds interleaved with the empty one.
 */
static int bench_parts(int rounds, __u32 repeat)
{
	struct bench_flow_parts_bpf *parts = bench_flow_parts_bpf__open_and_load();
	struct bench_empty_bpf *empty = bench_empty_bpf__open_and_load();
	struct flow_key key = {
		.cgroup_id = 1, .ip_version = 4, .proto = 6, .lport = 40000, .rport = 443
	};
	struct flow_value val = {};
	double diff[64];
	int ret = 1;
	struct pkt p;

	if (!parts || !empty || rounds > 64) {
		fprintf(stderr, "loading the part programs: %s\n", strerror(errno));
		goto out;
	}
	if (bpf_map_update_elem(bpf_map__fd(parts->maps.part_flows), &key, &val, BPF_ANY))
		goto out;
	{
		/* struct flow_key4 of flow_parts.bpf.c, the same flow */
		struct {
			uint64_t cgroup_id;
			uint32_t laddr, raddr;
			uint16_t lport, rport;
			uint8_t ip_version, proto, pad[2];
		} key4 = {
			.cgroup_id = 1, .lport = 40000, .rport = 443, .ip_version = 4, .proto = 6
		};

		if (bpf_map_update_elem(bpf_map__fd(parts->maps.part_flows4), &key4, &val, BPF_ANY))
			goto out;
	}
	pkt_tcp4(&p, "192.0.2.1", 40000, "198.51.100.7", 443, TH_ACK | TH_PUSH, 64);
	printf("pieces of flow_egress, ns/packet over the empty program (median of %d rounds)\n",
	       rounds);
	{
		struct bpf_program *prog;

		bpf_object__for_each_program(prog, parts->obj)
		{
			for (int r = 0; r < rounds; r++) {
				double e = run_ns(empty->progs.empty_egress, &p, repeat);
				double t = run_ns(prog, &p, repeat);

				if (e < 0 || t < 0)
					goto out;
				diff[r] = t - e;
			}
			printf("  %-22s %6.1f\n", bpf_program__name(prog), median(diff, rounds));
		}
	}
	ret = 0;
out:
	bench_flow_parts_bpf__destroy(parts);
	bench_empty_bpf__destroy(empty);
	return ret;
}

static void count_record(void *ctx, struct flow_record *r)
{
	(void)r;
	(*(unsigned long *)ctx)++;
}

/* 100k distinct UDP flows of one cgroup: 192.0.2.1:port -> 198.51.100.x:53. */
static void make_flows(struct flow_key *keys, struct flow_value *vals, unsigned int n)
{
	memset(keys, 0, n * sizeof(*keys));
	memset(vals, 0, n * sizeof(*vals));
	for (unsigned int i = 0; i < n; i++) {
		keys[i].cgroup_id = 1;
		keys[i].ip_version = 4;
		keys[i].proto = IPPROTO_UDP;
		inet_pton(AF_INET, "192.0.2.1", keys[i].laddr);
		inet_pton(AF_INET, "198.51.100.0", keys[i].raddr);
		keys[i].raddr[3] = (uint8_t)(i / 50000);
		keys[i].lport = (uint16_t)(10000 + i % 50000);
		keys[i].rport = 53;
		vals[i].tx_bytes = 100;
		vals[i].tx_packets = 1;
		vals[i].flags = FLOW_F_INITIATOR_SRC;
	}
}

static int fill(int fd, struct flow_key *keys, struct flow_value *vals, unsigned int n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = n;
	int err = bpf_map_update_batch(fd, keys, vals, &count, &opts);

	if (err || count != n) {
		fprintf(stderr, "bpf_map_update_batch: %s (%u of %u)\n", strerror(-err), count, n);
		return -1;
	}
	return 0;
}

/* The map the programs write to now: the one whose id flows[flow_parity] holds. */
static int active_fd(struct flow_bpf *skel)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), parity = skel->bss->flow_parity, id = 0;
	struct bpf_map *maps[FLOW_MAPS] = { skel->maps.flows_a, skel->maps.flows_b,
					    skel->maps.flows_c };

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.flows), &parity, &id);
	for (int i = 0; i < FLOW_MAPS; i++) {
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(bpf_map__fd(maps[i]), &info, &len) && info.id == id)
			return bpf_map__fd(maps[i]);
	}
	return -1;
}

/*
 * The kernel part alone: batch lookup-and-delete (or lookup only, to see what deleting costs)
 * of the whole map, 4096 per call.
 */
static int batch_read_all(int fd, struct flow_key *keys, struct flow_value *vals, bool delete)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct flow_key token;
	bool first = true;
	int total = 0, err;

	for (;;) {
		__u32 count = 4096;

		if (delete)
			err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &token, &token,
							      keys, vals, &count, &opts);
		else
			err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals,
						   &count, &opts);
		if (err && err != -ENOENT)
			return err;
		total += (int)count;
		first = false;
		if (err == -ENOENT)
			return total;
	}
}

static int bench_drain(void)
{
	struct flow_collector_opts copts = { .max_flows = 131072 };
	double cold = 0, warm[DRAIN_ROUNDS], kernel[DRAIN_ROUNDS], lookup[DRAIN_ROUNDS];
	struct flow_collector *fc = NULL;
	struct flow_key *keys = calloc(DRAIN_FLOWS, sizeof(*keys));
	struct flow_value *vals = calloc(DRAIN_FLOWS, sizeof(*vals));
	struct flow_key *kbuf = calloc(4096, sizeof(*kbuf));
	struct flow_value *vbuf = calloc(4096, sizeof(*vbuf));
	char mnt[4000] = "", cg[4200] = "", err[512];
	int ret = 1;

	if (!keys || !vals || !kbuf || !vbuf)
		goto out;
	{
		char dev[256], dir[4000], type[64];
		FILE *f = fopen("/proc/mounts", "re");

		while (f && fscanf(f, "%255s %3999s %63s %*[^\n]", dev, dir, type) == 3)
			if (!strcmp(type, "cgroup2")) {
				snprintf(mnt, sizeof(mnt), "%s", dir);
				break;
			}
		if (f)
			fclose(f);
	}
	if (!mnt[0]) {
		fprintf(stderr, "cgroup v2 is not mounted\n");
		goto out;
	}
	/* an empty child cgroup of our own: no real traffic lands in the maps */
	snprintf(cg, sizeof(cg), "%s/fs%d-bpf-bench", mnt, (int)getpid());
	if (mkdir(cg, 0755)) {
		fprintf(stderr, "mkdir %s: %s\n", cg, strerror(errno));
		cg[0] = '\0';
		goto out;
	}
	copts.cgroup_path = cg;
	if (flow_collector_create(&copts, &fc, err, sizeof(err))) {
		fprintf(stderr, "flow_collector_open: %s\n", err);
		goto out;
	}
	make_flows(keys, vals, DRAIN_FLOWS);

	/* round 0 is cold: the collector has never seen these flows (memo inserts) */
	for (int r = -1; r < DRAIN_ROUNDS; r++) {
		unsigned long n = 0;
		double t0;
		int got;

		if (fill(active_fd(flow_collector_skel(fc)), keys, vals, DRAIN_FLOWS))
			goto out;
		t0 = now_ms();
		got = flow_collector_drain(fc, count_record, &n);
		if (got != DRAIN_FLOWS || n != DRAIN_FLOWS) {
			fprintf(stderr, "drained %d flows, %lu records, want %d\n", got, n,
				DRAIN_FLOWS);
			goto out;
		}
		if (r < 0)
			cold = now_ms() - t0;
		else
			warm[r] = now_ms() - t0;
	}
	for (int r = 0; r < DRAIN_ROUNDS; r++) {
		int fd = active_fd(flow_collector_skel(fc));
		double t0;

		if (fill(fd, keys, vals, DRAIN_FLOWS))
			goto out;
		t0 = now_ms();
		if (batch_read_all(fd, kbuf, vbuf, false) != DRAIN_FLOWS)
			goto short_read;
		lookup[r] = now_ms() - t0;
		t0 = now_ms();
		if (batch_read_all(fd, kbuf, vbuf, true) != DRAIN_FLOWS)
			goto short_read;
		kernel[r] = now_ms() - t0;
	}
	printf("drain: %d flows (flow_collector_drain: swap, batch lookup-and-delete, records)\n",
	       DRAIN_FLOWS);
	printf("  first drain (flows new to the collector)  %6.1f ms\n", cold);
	printf("  later drains (median of %d)                %6.1f ms  (target < 50)\n",
	       DRAIN_ROUNDS, median(warm, DRAIN_ROUNDS));
	printf("  batch lookup-and-delete alone (median)     %6.1f ms\n",
	       median(kernel, DRAIN_ROUNDS));
	printf("  batch lookup alone, no delete (median)     %6.1f ms\n",
	       median(lookup, DRAIN_ROUNDS));
	ret = 0;
	goto out;
short_read:
	fprintf(stderr, "a batch read did not return %d flows\n", DRAIN_FLOWS);
out:
	flow_collector_destroy(fc);
	if (cg[0] && rmdir(cg))
		fprintf(stderr, "rmdir %s: %s\n", cg, strerror(errno));
	free(keys);
	free(vals);
	free(kbuf);
	free(vbuf);
	return ret;
}

static int consume_nothing(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

/* Section 4: what capturing a DNS datagram costs, by its number of pieces. */
static int bench_dns_capture(int rounds)
{
	/* payload sizes: 1 piece, 1 full piece, 2 pieces, 3 pieces (the largest frame a test run
	 * takes) */
	static const size_t sizes[] = { 100, DNS_CAPTURE_MAX, 3000, 3500 };
	/* runs per round: 3 pieces x 4000 x 1.6 KiB stay well inside the 64 MiB ring */
	const __u32 repeat = 4000;
	struct flow_bpf *flow = NULL;
	struct ring_buffer *rb = NULL;
	double *t_dns = calloc((size_t)rounds, sizeof(double));
	double *t_plain = calloc((size_t)rounds, sizeof(double));
	double *t_diff = calloc((size_t)rounds, sizeof(double));
	double per_piece = 0;
	__u64 full = 0;
	int ret = 1;

	if (!t_dns || !t_plain || !t_diff)
		goto out;
	flow = flow_bpf__open();
	if (!flow)
		goto out;
	flow->rodata->dns_port_bitmap[53 >> 5] |= 1u << (53 & 31);
	if (bpf_map__set_max_entries(flow->maps.dns_events, 64u << 20) || flow_bpf__load(flow)) {
		fprintf(stderr, "loading the flow program: %s (root needed)\n", strerror(errno));
		goto out;
	}
	rb = ring_buffer__new(bpf_map__fd(flow->maps.dns_events), consume_nothing, NULL, NULL);
	if (!rb)
		goto out;
	printf("DNS capture: flow_egress on a UDP datagram to port 53 (captured) minus the same to "
	       "port 54 (not DNS),\nmedian of %d rounds x %u runs, ring buffer drained between "
	       "rounds\n",
	       rounds, repeat);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t pieces = (sizes[k] + DNS_CAPTURE_MAX - 1) / DNS_CAPTURE_MAX;
		struct pkt dns, plain;
		double m;

		pkt_udp4(&dns, "198.51.100.53", 53, "192.0.2.1", 40000, sizes[k]);
		pkt_udp4(&plain, "198.51.100.53", 54, "192.0.2.1", 40000, sizes[k]);
		/* the first runs create the flows */
		if (run_ns(flow->progs.flow_egress, &dns, 1) < 0 ||
		    run_ns(flow->progs.flow_egress, &plain, 1) < 0)
			goto out;
		/* round -1 warms caches and the ring's pages up and is not counted */
		for (int r = -1; r < rounds; r++) {
			double tp, td;

			if (ring_buffer__consume(rb) < 0)
				goto out;
			tp = run_ns(flow->progs.flow_egress, &plain, repeat);
			td = run_ns(flow->progs.flow_egress, &dns, repeat);
			if (tp < 0 || td < 0)
				goto out;
			if (r < 0)
				continue;
			t_plain[r] = tp;
			t_dns[r] = td;
			t_diff[r] = td - tp;
		}
		m = median(t_diff, rounds);
		printf("  %5zu-byte payload, %zu piece%s: %6.1f ns/run captured, %6.1f not DNS, "
		       "capture %6.1f ns (%5.1f ns/piece)\n",
		       sizes[k], pieces, pieces > 1 ? "s" : " ", median(t_dns, rounds),
		       median(t_plain, rounds), m, m / (double)pieces);
		if (k == sizeof(sizes) / sizeof(sizes[0]) - 1)
			per_piece = m / (double)pieces;
	}
	ring_buffer__consume(rb);
	{
		__u64 v[256];
		__u32 key = FLOW_STAT_DNS_RINGBUF_FULL;
		int ncpu = libbpf_num_possible_cpus();

		if (ncpu > 0 && ncpu <= 256 &&
		    bpf_map_lookup_elem(bpf_map__fd(flow->maps.stats), &key, v) == 0)
			for (int c = 0; c < ncpu; c++)
				full += v[c];
	}
	if (full) {
		fprintf(stderr, "%llu pieces found the ring full: the figures are not valid\n",
			(unsigned long long)full);
		goto out;
	}
	printf("  derived: a 65535-byte datagram (%d pieces) ~%.0f ns to capture\n", DNS_MAX_PIECES,
	       per_piece * DNS_MAX_PIECES);
	fflush(stdout);
	ret = 0;
out:
	ring_buffer__free(rb);
	flow_bpf__destroy(flow);
	free(t_dns);
	free(t_plain);
	free(t_diff);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "dns") == 0) {
		int r = argc > 2 ? atoi(argv[2]) : 21;

		if (r < 1) {
			fprintf(stderr, "usage: %s dns [rounds]\n", argv[0]);
			return 2;
		}
		return bench_dns_capture(r);
	}

	int rounds = argc > 1 ? atoi(argv[1]) : 11;
	long repeat = argc > 2 ? atol(argv[2]) : 1000000;

	if (rounds < 1 || repeat < 1 || repeat > 100000000) {
		fprintf(stderr, "usage: %s [rounds [repeat]]\n", argv[0]);
		return 2;
	}
	printf("bpf_bench (flow programs)\n");
	if (bench_per_packet(rounds, (__u32)repeat))
		return 1;
	if (bench_parts(rounds, (__u32)repeat))
		return 1;
	if (bench_dns_capture(rounds))
		return 1;
	return bench_drain();
}
