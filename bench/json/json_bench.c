// SPDX-License-Identifier: Apache-2.0
/*
 * json_bench: ns per flow record of the JSON encoder, against a baseline in the same run.
 *
 * Usage: json_bench [-n RECORDS_PER_ROUND] [-r ROUNDS]
 *
 * Encodes the pool of 1,024 realistic flow records that kafka_bench uses (50 kubepods cgroup
 * paths, 1 in 5 IPv6, 1 in 3 NAT'd, most with a domain) with record_json_flow() and with the
 * reference encoder it replaced (record_json_ref.c, the baseline), alternating the two in
 * rounds; prints the best and median round of each and the ratio baseline / new. Before timing,
 * checks that both produce the same bytes for every record of the pool.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "record_json.h"
#include "record_json_ref.h"

#define POOL 1024
#define N_CGROUPS 50
#define MAX_ROUNDS 64

typedef ssize_t (*encode_fn)(char *buf, size_t cap, const struct record_json_ctx *ctx,
			     const struct flow_record *r);

static struct flow_record pool[POOL];
static char paths[N_CGROUPS][96];
static const struct record_json_ctx ctx = { .node_name = "node-bench-1" };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The same records as kafka_bench's pool. */
static void make_pool(void)
{
	static const char *const domains[] = { "api.example", "db.internal.example", NULL,
					       "cdn.assets.example.com" };
	int i;

	for (i = 0; i < N_CGROUPS; i++)
		snprintf(paths[i], sizeof(paths[i]),
			 "/kubepods.slice/kubepods-burstable.slice/pod%08x-%04x/"
			 "cri-containerd-%06x",
			 i * 7919, i, i * 31);
	for (i = 0; i < POOL; i++) {
		struct flow_record *r = &pool[i];

		memset(r, 0, sizeof(*r));
		r->start_ns = 1764460800000000000ULL + i * 1000003ULL;
		r->end_ns = r->start_ns + 9876543210ULL;
		r->cgroup_id = 4026531835ULL + i % N_CGROUPS;
		r->cgroup_path = paths[i % N_CGROUPS];
		r->pid = 1000 + i;
		snprintf(r->comm, sizeof(r->comm), "worker-%d", i % 13);
		r->proto = i % 4 ? IPPROTO_TCP : IPPROTO_UDP;
		r->initiator = INITIATOR_SRC;
		r->tcp_flags = r->proto == IPPROTO_TCP ? 0x1b : 0;
		if (i % 5 == 0) {
			r->ip_version = 6;
			inet_pton(AF_INET6, "2001:db8:10::25", r->src_addr.bytes);
			inet_pton(AF_INET6, "2001:db8:20::1:443", r->dst_addr.bytes);
		} else {
			r->ip_version = 4;
			inet_pton(AF_INET, "10.244.3.17", r->src_addr.bytes);
			inet_pton(AF_INET, "203.0.113.45", r->dst_addr.bytes);
		}
		r->src_port = 32768 + i;
		r->dst_port = i % 4 ? 443 : 53;
		r->tx_bytes = 123456ULL + i * 977;
		r->tx_packets = 321 + i;
		r->rx_bytes = 9876543ULL + i * 131;
		r->rx_packets = 4567 + i;
		r->nat = i % 3 == 0;
		r->src_actual_addr = r->src_addr;
		r->src_actual_port = r->src_port;
		r->dst_actual_addr = r->dst_addr;
		r->dst_actual_port = r->dst_port;
		if (r->nat && r->ip_version == 4)
			inet_pton(AF_INET, "10.244.7.9", r->dst_actual_addr.bytes);
		r->dst_domain = domains[i % 4];
	}
}

/* ns per record of one round of n records; *bytes gets the average size. */
static double round_ns(encode_fn fn, long n, size_t *bytes)
{
	static char buf[4096];
	size_t total = 0;
	double t0 = now();

	for (long i = 0; i < n; i++)
		total += (size_t)fn(buf, sizeof(buf), &ctx, &pool[i % POOL]);
	*bytes = total / (size_t)n;
	return (now() - t0) * 1e9 / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	double base[MAX_ROUNDS], cur[MAX_ROUNDS];
	long n = 1000000;
	int rounds = 7, opt;
	size_t bytes;

	while ((opt = getopt(argc, argv, "n:r:")) != -1) {
		if (opt == 'n')
			n = atol(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
		else
			goto usage;
	}
	if (n < 1 || rounds < 1 || rounds > MAX_ROUNDS)
		goto usage;
	make_pool();
	for (int i = 0; i < POOL; i++) {
		char a[4096], b[4096];
		ssize_t la = ref_record_json_flow(a, sizeof(a), &ctx, &pool[i]);
		ssize_t lb = record_json_flow(b, sizeof(b), &ctx, &pool[i]);

		if (la < 0 || la != lb || memcmp(a, b, (size_t)la)) {
			fprintf(stderr, "record %d: encoders differ\n", i);
			return 1;
		}
	}
	round_ns(ref_record_json_flow, n / 4 + 1, &bytes); /* warm up */
	round_ns(record_json_flow, n / 4 + 1, &bytes);
	for (int i = 0; i < rounds; i++) {
		base[i] = round_ns(ref_record_json_flow, n, &bytes);
		cur[i] = round_ns(record_json_flow, n, &bytes);
	}
	qsort(base, (size_t)rounds, sizeof(double), cmp_double);
	qsort(cur, (size_t)rounds, sizeof(double), cmp_double);
	printf("JSON flow encode, %ld records x %d rounds, %zu bytes avg, same output\n", n, rounds,
	       bytes);
	printf("  baseline (record_json_ref.c): best %6.1f ns/record, median %6.1f\n", base[0],
	       base[rounds / 2]);
	printf("  record_json_flow():           best %6.1f ns/record, median %6.1f\n", cur[0],
	       cur[rounds / 2]);
	printf("  ratio baseline / new:         best %.2fx, median %.2fx\n", base[0] / cur[0],
	       base[rounds / 2] / cur[rounds / 2]);
	return 0;
usage:
	fprintf(stderr, "usage: %s [-n RECORDS_PER_ROUND] [-r ROUNDS]\n", argv[0]);
	return 2;
}
