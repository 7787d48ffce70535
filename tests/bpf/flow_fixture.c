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
#include "flow_table.h"

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

/* The flow_done records read so far (fx_ring_open()). */
static struct ring_buffer *fx_rb;
static struct flow_done *fx_done;
static size_t fx_n_done, fx_cap_done;

static int fx_on_done(void *ctx, void *data, size_t size)
{
	(void)ctx;
	assert_int_equal(size, sizeof(struct flow_done));
	if (fx_n_done == fx_cap_done) {
		fx_cap_done = fx_cap_done ? 2 * fx_cap_done : 256;
		fx_done = realloc(fx_done, fx_cap_done * sizeof(*fx_done));
		assert_non_null(fx_done);
	}
	memcpy(&fx_done[fx_n_done++], data, sizeof(*fx_done));
	return 0;
}

int fx_ring_open(int ring_fd)
{
	fx_ring_close();
	fx_rb = ring_buffer__new(ring_fd, fx_on_done, NULL, NULL);
	return fx_rb ? 0 : -errno;
}

void fx_ring_close(void)
{
	ring_buffer__free(fx_rb);
	fx_rb = NULL;
	free(fx_done);
	fx_done = NULL;
	fx_n_done = fx_cap_done = 0;
}

struct flow_table *fx_flows_collect(int map_fd, int cache_fd, uint32_t parity)
{
	int ncpus = libbpf_num_possible_cpus();
	struct flow_table *t = flow_table_create(1u << 20);
	struct flow_cache *cache;
	struct flow_key k, next;
	struct flow_value v;
	void *prev = NULL;

	assert_non_null(t);
	while (!bpf_map_get_next_key(map_fd, prev, &next)) {
		assert_int_equal(bpf_map_lookup_elem(map_fd, &next, &v), 0);
		assert_int_equal(flow_table_add(t, &next, &v, true), 0);
		k = next;
		prev = &k;
	}
	assert_true(ncpus > 0);
	cache = calloc((size_t)ncpus, sizeof(*cache));
	assert_non_null(cache);
	assert_int_equal(bpf_map_lookup_elem(cache_fd, &parity, cache), 0);
	for (int c = 0; c < ncpus; c++) {
		for (int i = 0; i < FLOW_CACHE_SLOTS; i++) {
			const struct flow_cache_slot *s = &cache[c].slot[i];
			bool whole = !(s->flags & FLOW_F_MAPPED);

			if (!s->tx_packets && !s->rx_packets)
				continue;
			v = (struct flow_value){ .first_ns = whole ? s->first_ns : UINT64_MAX,
						 .last_ns = s->last_ns,
						 .tx_bytes = s->tx_bytes,
						 .tx_packets = s->tx_packets,
						 .rx_bytes = s->rx_bytes,
						 .rx_packets = s->rx_packets,
						 .tcp_flags = s->tcp_flags };
			if (whole) {
				v.flags = s->flags;
				v.pid = s->pid;
				memcpy(v.comm, s->comm, sizeof(v.comm));
			}
			assert_int_equal(flow_table_add(t, &s->key, &v, whole), 0);
		}
	}
	free(cache);
	if (fx_rb)
		assert_true(ring_buffer__consume(fx_rb) >= 0);
	for (size_t i = 0; i < fx_n_done; i++)
		if (fx_done[i].parity == parity)
			assert_int_equal(flow_table_add(t, &fx_done[i].key, &fx_done[i].val, true),
					 0);
	return t;
}

unsigned int fx_flows_count(int map_fd, int cache_fd, uint32_t parity)
{
	struct flow_table *t = fx_flows_collect(map_fd, cache_fd, parity);
	unsigned int n = 0;
	struct flow_key k;
	struct flow_value v;
	uint32_t pos = 0;
	bool whole;

	while (flow_table_next(t, &pos, &k, &v, &whole))
		n += whole;
	flow_table_destroy(t);
	return n;
}

int fx_flow_lookup(int map_fd, int cache_fd, uint32_t parity, const struct flow_key *k,
		   struct flow_value *v)
{
	struct flow_table *t = fx_flows_collect(map_fd, cache_fd, parity);
	bool whole = false;
	int ret = flow_table_take(t, k, v, &whole);

	flow_table_destroy(t);
	return ret == 0 && whole ? 0 : -1;
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
		[FLOW_STAT_DONE_RING_FULL] = "DONE_RING_FULL",
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
