// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench_records.h"

struct flow_record bench_pool[BENCH_POOL];
static char paths[BENCH_CGROUPS][96];

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Realistic records: kubepods paths, IPv4 and IPv6, a domain on most. */
void bench_make_pool(void)
{
	static const char *const domains[] = { "api.example", "db.internal.example", NULL,
					       "cdn.assets.example.com" };
	int i;

	for (i = 0; i < BENCH_CGROUPS; i++)
		snprintf(paths[i], sizeof(paths[i]),
			 "/kubepods.slice/kubepods-burstable.slice/pod%08x-%04x/"
			 "cri-containerd-%06x",
			 i * 7919, i, i * 31);
	for (i = 0; i < BENCH_POOL; i++) {
		struct flow_record *r = &bench_pool[i];

		memset(r, 0, sizeof(*r));
		r->type = RECORD_FLOW;
		r->start_ns = 1764460800000000000ULL + i * 1000003ULL;
		r->end_ns = r->start_ns + 9876543210ULL;
		r->cgroup_id = 4026531835ULL + i % BENCH_CGROUPS;
		r->cgroup_path = paths[i % BENCH_CGROUPS];
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
