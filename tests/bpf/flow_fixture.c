// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <cmocka.h>

#include "flow_fixture.h"

int fx_cgroup2_mount(char *buf, size_t size)
{
	char dev[256], dir[4096], type[64];
	int ret = -ENOENT;
	FILE *f = fopen("/proc/mounts", "re");

	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(buf, size, "%s", dir);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

uint64_t fx_self_cgroup_id(void)
{
	char mnt[4096], line[4096], path[8192];
	struct stat st;
	FILE *f;
	bool found = false;

	if (fx_cgroup2_mount(mnt, sizeof(mnt)))
		return 0;
	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return 0;
	/* the cgroup v2 line is "0::/path" */
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(path, sizeof(path), "%s%s", mnt, line + 3);
			found = true;
			break;
		}
	}
	fclose(f);
	if (!found || stat(path, &st))
		return 0;
	return st.st_ino;
}

int fx_try_run(struct bpf_program *prog, const struct pkt *p, uint32_t gso_segs, uint32_t gso_size)
{
	struct __sk_buff ctx = {
		.gso_segs = gso_segs,
		.gso_size = gso_size,
	};
	LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = p->data, .data_size_in = (__u32)p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &topts);
	if (err)
		return err;
	/* cgroup_skb programs always return 1: flowscope observes, never filters */
	assert_int_equal(topts.retval, 1);
	return 0;
}

void fx_run(struct bpf_program *prog, const struct pkt *p, uint32_t gso_segs, uint32_t gso_size)
{
	int err = fx_try_run(prog, p, gso_segs, gso_size);

	if (err)
		fail_msg("BPF_PROG_TEST_RUN of %s: %s", bpf_program__name(prog), strerror(-err));
}

struct flow_key fx_key(uint64_t cgroup_id, uint8_t proto, const char *laddr, uint16_t lport,
		       const char *raddr, uint16_t rport)
{
	struct flow_key k;
	int af = strchr(laddr, ':') ? AF_INET6 : AF_INET;

	memset(&k, 0, sizeof(k));
	k.cgroup_id = cgroup_id;
	k.cgroup_version = 2; /* the programs' default --cgroup-mode */
	k.ip_version = af == AF_INET6 ? 6 : 4;
	k.proto = proto;
	assert_int_equal(inet_pton(af, laddr, k.laddr), 1);
	assert_int_equal(inet_pton(af, raddr, k.raddr), 1);
	k.lport = lport;
	k.rport = rport;
	return k;
}

unsigned int fx_flow_count(int map_fd)
{
	struct flow_key k, next;
	unsigned int n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(map_fd, prev, &next)) {
		n++;
		k = next;
		prev = &k;
	}
	return n;
}

int fx_flow_lookup(int map_fd, int cache_fd, uint32_t parity, const struct flow_key *k,
		   struct flow_value *v)
{
	int ncpus = libbpf_num_possible_cpus();
	struct flow_cache *cache;

	if (bpf_map_lookup_elem(map_fd, k, v))
		return -1;
	assert_true(ncpus > 0);
	cache = calloc((size_t)ncpus, sizeof(*cache));
	assert_non_null(cache);
	assert_int_equal(bpf_map_lookup_elem(cache_fd, &parity, cache), 0);
	for (int c = 0; c < ncpus; c++) {
		for (int i = 0; i < FLOW_CACHE_SLOTS; i++) {
			const struct flow_cache_slot *s = &cache[c].slot[i];

			if (memcmp(&s->key, k, sizeof(*k)))
				continue;
			v->tx_bytes += s->tx_bytes;
			v->tx_packets += s->tx_packets;
			v->rx_bytes += s->rx_bytes;
			v->rx_packets += s->rx_packets;
			v->tcp_flags |= s->tcp_flags;
			if (s->last_ns > v->last_ns)
				v->last_ns = s->last_ns;
		}
	}
	free(cache);
	return 0;
}

void fx_stats(int stats_fd, int cache_fd, uint64_t out[FLOW_STAT_MAX])
{
	int ncpus = libbpf_num_possible_cpus();
	struct flow_cache *cache;
	uint64_t *percpu;

	assert_true(ncpus > 0);
	percpu = calloc((size_t)ncpus, sizeof(*percpu));
	assert_non_null(percpu);
	for (uint32_t i = 0; i < FLOW_STAT_MAX; i++) {
		out[i] = 0;
		assert_int_equal(bpf_map_lookup_elem(stats_fd, &i, percpu), 0);
		for (int c = 0; c < ncpus; c++)
			out[i] += percpu[c];
	}
	free(percpu);
	/* the programs count FLOW_STAT_PACKETS in their flow_cache entry, but when nested */
	cache = calloc((size_t)ncpus, sizeof(*cache));
	assert_non_null(cache);
	for (uint32_t p = 0; p < FLOW_MAPS; p++) {
		assert_int_equal(bpf_map_lookup_elem(cache_fd, &p, cache), 0);
		for (int c = 0; c < ncpus; c++)
			out[FLOW_STAT_PACKETS] += cache[c].packets;
	}
	free(cache);
}

const char *fx_stat_name(unsigned int idx)
{
	static const char *const names[FLOW_STAT_MAX] = {
		[FLOW_STAT_PACKETS] = "PACKETS",
		[FLOW_STAT_MAP_FULL] = "MAP_FULL",
		[FLOW_STAT_MAP_FULL_BYTES] = "MAP_FULL_BYTES",
		[FLOW_STAT_MALFORMED] = "MALFORMED",
		[FLOW_STAT_OTHER_PROTO] = "OTHER_PROTO",
		[FLOW_STAT_NON_IP] = "NON_IP",
		[FLOW_STAT_FRAGMENTS] = "FRAGMENTS",
		[FLOW_STAT_SELF] = "SELF",
		[FLOW_STAT_NO_OWNER] = "NO_OWNER",
		[FLOW_STAT_OWNER_MAP_FULL] = "OWNER_MAP_FULL",
		[FLOW_STAT_DNS_EVENTS] = "DNS_EVENTS",
		[FLOW_STAT_DNS_RINGBUF_FULL] = "DNS_RINGBUF_FULL",
		[FLOW_STAT_DNS_TRUNCATED] = "DNS_TRUNCATED",
		[FLOW_STAT_CACHE_ORPHAN] = "CACHE_ORPHAN",
	};

	return idx < FLOW_STAT_MAX && names[idx] ? names[idx] : "?";
}

uint64_t fx_flow_clock_ns(void)
{
	struct timespec ts;

	/* the clock of bpf_ktime_get_coarse_ns(), the flow map's timestamps */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
