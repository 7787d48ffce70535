// SPDX-License-Identifier: Apache-2.0
/*
 * meta_bench: what writing flow_meta costs the drain (agent/flow_collector.c, feed_meta()): 128k
 * entries of flow_meta's key and value into an LRU hash of 262,144 entries (the --max-flows of
 * bench/e2e --scale), in batches of 4,096 as the drain writes them and one update at a time, and
 * the same batches into a plain preallocated hash for comparison. Wall and CPU time per entry;
 * the map is created anew for each run. Needs root (or CAP_BPF).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>

#include "flow.h"

#define ENTRIES 128000
#define MAP_SIZE 262144
#define CHUNK 4096

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int run(const char *what, enum bpf_map_type type, bool batch, struct flow_key *keys,
	       struct flow_meta *metas)
{
	int fd = bpf_map_create(type, "meta_bench", sizeof(*keys), sizeof(*metas), MAP_SIZE, NULL);
	uint64_t t0, c0, t1, c1;

	if (fd < 0) {
		fprintf(stderr, "meta_bench: creating the map: %s\n", strerror(-fd));
		return -1;
	}
	t0 = clock_ns(CLOCK_MONOTONIC);
	c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	for (uint32_t done = 0; done < ENTRIES;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 n = ENTRIES - done < CHUNK ? ENTRIES - done : CHUNK;
		int ret;

		if (batch) {
			ret = bpf_map_update_batch(fd, keys + done, metas + done, &n, &opts);
		} else {
			ret = 0;
			for (__u32 i = 0; i < n && !ret; i++)
				ret = bpf_map_update_elem(fd, keys + done + i, metas + done + i,
							  BPF_ANY);
		}
		if (ret) {
			fprintf(stderr, "meta_bench: %s: %s\n", what, strerror(-ret));
			return -1;
		}
		done += n;
	}
	t1 = clock_ns(CLOCK_MONOTONIC);
	c1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	printf("%-40s %7.1f ms wall %7.1f ms CPU %6.0f ns/entry\n", what, (t1 - t0) / 1e6,
	       (c1 - c0) / 1e6, (double)(t1 - t0) / ENTRIES);
	close(fd);
	return 0;
}

int main(void)
{
	struct flow_key *keys = calloc(ENTRIES, sizeof(*keys));
	struct flow_meta *metas = calloc(ENTRIES, sizeof(*metas));
	int ret = 0;

	if (!keys || !metas)
		return 1;
	/* UDP flows of one cgroup, 192.0.2.1 to 198.51.100.7, distinct ports */
	for (uint32_t i = 0; i < ENTRIES; i++) {
		keys[i].cgroup_id = 4242;
		keys[i].laddr[0] = 192, keys[i].laddr[2] = 2, keys[i].laddr[3] = 1;
		keys[i].raddr[0] = 198, keys[i].raddr[1] = 51, keys[i].raddr[2] = 100;
		keys[i].raddr[3] = 7;
		keys[i].lport = (__u16)(1024 + i % 60000);
		keys[i].rport = (__u16)(6000 + i / 60000);
		keys[i].ip_version = 4;
		keys[i].proto = 17;
		keys[i].cgroup_version = 2;
		metas[i].flags = FLOW_F_INITIATOR_SRC;
		metas[i].pid = i;
		memcpy(metas[i].comm, "sender", 7);
	}
	printf("flow_meta writes, %d entries into a map of %d\n", ENTRIES, MAP_SIZE);
	for (int rep = 0; rep < 2 && !ret; rep++) {
		ret = run("LRU hash, batches of 4096 (the drain)", BPF_MAP_TYPE_LRU_HASH, true,
			  keys, metas);
		if (!ret)
			ret = run("LRU hash, one update each", BPF_MAP_TYPE_LRU_HASH, false, keys,
				  metas);
		if (!ret)
			ret = run("hash, batches of 4096", BPF_MAP_TYPE_HASH, true, keys, metas);
	}
	free(keys);
	free(metas);
	return ret ? 1 : 0;
}
