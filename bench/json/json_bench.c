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

#include "bench_records.h"
#include "record_json.h"
#include "record_json_ref.h"

#define MAX_ROUNDS 64

typedef ssize_t (*encode_fn)(char *buf, size_t cap, const struct record_json_ctx *ctx,
			     const struct flow_record *r);

static const struct record_json_ctx ctx = { .node_name = "node-bench-1" };

/* ns per record of one round of n records; *bytes gets the average size. */
static double round_ns(encode_fn fn, long n, size_t *bytes)
{
	static char buf[4096];
	size_t total = 0;
	double t0 = bench_now();

	for (long i = 0; i < n; i++)
		total += (size_t)fn(buf, sizeof(buf), &ctx, &bench_pool[i % BENCH_POOL]);
	*bytes = total / (size_t)n;
	return (bench_now() - t0) * 1e9 / (double)n;
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
	bench_make_pool();
	for (int i = 0; i < BENCH_POOL; i++) {
		char a[4096], b[4096];
		ssize_t la = ref_record_json_flow(a, sizeof(a), &ctx, &bench_pool[i]);
		ssize_t lb = record_json_flow(b, sizeof(b), &ctx, &bench_pool[i]);

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
