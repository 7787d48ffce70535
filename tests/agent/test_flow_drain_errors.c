// SPDX-License-Identifier: Apache-2.0
/*
 * flow_collector_drain() when the kernel fails it midway: a batch lookup error, or no memory for
 * the replacement map. The drain must stay transactional: the map the programs are switched to
 * is always empty, flows are never exported twice, and the flows an error made unreadable are
 * counted. And a /metrics scrape of the flow counters never reads as zeros. Failures are injected
 * by wrapping libbpf calls and calloc (-Wl,--wrap); the maps and programs are real (root; fails,
 * never skips, without it).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "counters.h"
#include "flow.skel.h"
#include "flow_collector.h"
#include "flow_fixture.h"

/* Which call of each wrapped function fails (1 = the next one); 0: none. */
static int fail_lookup_batch_at, fail_map_create_at, fail_delete_batch_at;

int __real_bpf_map_delete_batch(int fd, const void *keys, __u32 *count,
				const struct bpf_map_batch_opts *opts);
int __wrap_bpf_map_delete_batch(int fd, const void *keys, __u32 *count,
				const struct bpf_map_batch_opts *opts)
{
	if (fail_delete_batch_at && --fail_delete_batch_at == 0) {
		*count = 0;
		return -EFAULT;
	}
	return __real_bpf_map_delete_batch(fd, keys, count, opts);
}

int __real_bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values,
				__u32 *count, const struct bpf_map_batch_opts *opts);
int __wrap_bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values,
				__u32 *count, const struct bpf_map_batch_opts *opts)
{
	if (fail_lookup_batch_at && --fail_lookup_batch_at == 0) {
		*count = 0;
		return -EFAULT;
	}
	return __real_bpf_map_lookup_batch(fd, in_batch, out_batch, keys, values, count, opts);
}

int __real_bpf_map_create(enum bpf_map_type type, const char *name, __u32 key_size,
			  __u32 value_size, __u32 max_entries, const struct bpf_map_create_opts *o);
int __wrap_bpf_map_create(enum bpf_map_type type, const char *name, __u32 key_size,
			  __u32 value_size, __u32 max_entries, const struct bpf_map_create_opts *o)
{
	if (fail_map_create_at && --fail_map_create_at == 0)
		return -ENOMEM;
	return __real_bpf_map_create(type, name, key_size, value_size, max_entries, o);
}

/* While set, every calloc fails (the /metrics page is rendered under memory pressure). */
static bool fail_calloc, fail_lookup_elem;

void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
	return fail_calloc ? NULL : __real_calloc(n, size);
}

/* While >= 0: the update of this map fd fails. */
static int fail_update_fd = -1;

int __real_bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags);
int __wrap_bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags)
{
	if (fd == fail_update_fd)
		return -EFAULT;
	return __real_bpf_map_update_elem(fd, key, value, flags);
}

int __real_bpf_map_lookup_elem(int fd, const void *key, void *value);
int __wrap_bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	return fail_lookup_elem ? -EFAULT : __real_bpf_map_lookup_elem(fd, key, value);
}

struct fx {
	char cgroup[4200];
	struct flow_collector *fc;
	struct flow_bpf *skel;
	uint64_t cgid;
	uint16_t *seen; /* per src_port: times exported */
	unsigned int n_recs;
	uint64_t tx_packets; /* of every record exported */
	bool scrape_without_calloc, scrape_without_lookup;
};

static int teardown(void **state);

static int setup(void **state)
{
	struct flow_collector_opts opts = { .max_flows = 16384 };
	struct fx *fx = calloc(1, sizeof(*fx));
	char mnt[4000], err[512];

	assert_non_null(fx);
	*state = fx;
	fail_lookup_batch_at = fail_map_create_at = fail_delete_batch_at = 0;
	fail_calloc = fail_lookup_elem = false;
	fail_update_fd = -1;
	fx->seen = calloc(65536, sizeof(*fx->seen));
	fx->cgid = fx_self_cgroup_id();
	if (!fx->cgid || fx_cgroup2_mount(mnt, sizeof(mnt)))
		fail_msg("cgroup v2 is not mounted, or this process's cgroup is not found");
	snprintf(fx->cgroup, sizeof(fx->cgroup), "%s/fs%d-drain-err", mnt, (int)getpid());
	if (mkdir(fx->cgroup, 0755)) {
		fx->cgroup[0] = '\0';
		teardown(state);
		fail_msg("mkdir: %s (needs root)", strerror(errno));
	}
	opts.cgroup_path = fx->cgroup;
	if (flow_collector_create(&opts, &fx->fc, err, sizeof(err))) {
		teardown(state);
		fail_msg("flow_collector_create: %s", err);
	}
	fx->skel = flow_collector_skel(fx->fc);
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (!fx)
		return 0;
	flow_collector_destroy(fx->fc);
	if (fx->cgroup[0])
		rmdir(fx->cgroup);
	free(fx->seen);
	free(fx);
	*state = NULL;
	return 0;
}

/* The fd of the inner map the programs write to now. */
static int active_fd(struct fx *fx)
{
	struct bpf_map *maps[FLOW_MAPS] = { fx->skel->maps.flows_a, fx->skel->maps.flows_b,
					    fx->skel->maps.flows_c };
	uint32_t parity = fx->skel->bss->flow_parity, id = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(fx->skel->maps.flows), &parity, &id), 0);
	for (int i = 0; i < FLOW_MAPS; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		assert_int_equal(bpf_obj_get_info_by_fd(bpf_map__fd(maps[i]), &info, &len), 0);
		if (info.id == id)
			return bpf_map__fd(maps[i]);
	}
	fail_msg("the active map is none of flows_a, flows_b, flows_c");
	return -1;
}

/* Flows with src ports [from, to) appear in the active map, as the programs would add them. */
static void add_flows(struct fx *fx, uint16_t from, uint16_t to)
{
	int fd = active_fd(fx);

	for (uint32_t port = from; port < to; port++) {
		struct flow_key k = fx_key(fx->cgid, IPPROTO_UDP, "192.0.2.1", (uint16_t)port,
					   "198.51.100.7", 53);
		struct flow_value v = { .first_ns = 1, .last_ns = 2, .tx_packets = 1 };

		assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_NOEXIST), 0);
	}
}

static void collect(void *ctx, struct flow_record *r)
{
	struct fx *fx = ctx;

	fx->seen[r->src_port]++;
	fx->n_recs++;
	fx->tx_packets += r->tx_packets;
}

static int drain(struct fx *fx)
{
	fx->n_recs = 0;
	return flow_collector_drain(fx->fc, collect, fx);
}

static void assert_exported_once(struct fx *fx, uint16_t from, uint16_t to)
{
	for (uint32_t p = from; p < to; p++)
		if (fx->seen[p] != 1)
			fail_msg("flow from port %u exported %u times", p, fx->seen[p]);
}

/* What the flow counters say about one sample (~0 when the page does not have it). */
static unsigned long long sample(struct fx *fx, const char *prefix)
{
	struct counters *reg = counters_create();
	unsigned long long v = ~0ull;
	char *page = NULL, *at;
	size_t size = 0;
	FILE *f = open_memstream(&page, &size);

	assert_non_null(f);
	assert_int_equal(flow_collector_register_counters(fx->fc, reg), 0);
	/* only the rendering runs under the injected failures */
	fail_calloc = fx->scrape_without_calloc;
	fail_lookup_elem = fx->scrape_without_lookup;
	counters_render_prometheus(reg, f);
	fail_calloc = fail_lookup_elem = false;
	fclose(f);
	at = strstr(page, prefix);
	if (at)
		sscanf(at + strlen(prefix), " %llu", &v);
	free(page);
	counters_destroy(reg);
	return v;
}

static void test_lookup_error_midway(void **state)
{
	struct fx *fx = *state;
	int ret;

	/* more than one batch (4096 flows each): the second lookup fails */
	add_flows(fx, 10000, 15000);
	fail_lookup_batch_at = 2;
	ret = drain(fx);
	assert_int_equal(ret, -EFAULT);
	assert_true(fx->n_recs > 0 && fx->n_recs < 5000);
	/* the flows the error left unread are counted, not exported later */
	assert_int_equal(sample(fx, "flowscope_flow_records_lost_total{reason=\"drain_error\"}"),
			 5000 - fx->n_recs);

	/* the next intervals: only their own flows, never the stale ones again */
	add_flows(fx, 20000, 20100);
	assert_int_equal(drain(fx), 100);
	assert_int_equal(drain(fx), 0);
	add_flows(fx, 30000, 30010);
	assert_int_equal(drain(fx), 10);
	for (uint32_t p = 10000; p < 15000; p++)
		assert_true(fx->seen[p] <= 1);
	assert_exported_once(fx, 20000, 20100);
	assert_exported_once(fx, 30000, 30010);
}

/*
 * A fold of the flow cache that fails, at its last write (the emptied entries) or at its read:
 * the entries keep their slots, and must be emptied before the programs use that parity again
 * (a slot's key must not outlive its flow's entry). Every packet counted once: in the records
 * (the write failed after the slots were added) or as cache orphans (the read failed).
 */
static void test_cache_fold_fails(void **state)
{
	struct fx *fx = *state;
	int cache_fd = bpf_map__fd(fx->skel->maps.flow_cache), ncpus = libbpf_num_possible_cpus();
	struct flow_cache *c = calloc((size_t)ncpus, sizeof(*c));
	uint64_t stats[FLOW_STAT_MAX];

	assert_non_null(c);
	for (int round = 0; round < 2; round++) {
		uint32_t parity = fx->skel->bss->flow_parity;
		uint16_t port = (uint16_t)(4000 + round);
		struct flow_key k =
			fx_key(fx->cgid, IPPROTO_UDP, "192.0.2.1", port, "198.51.100.7", 53);
		struct flow_value v = { .first_ns = 1, .last_ns = 2, .tx_packets = 1 };
		uint64_t before;

		assert_int_equal(flow_collector_stats(fx->fc, stats), 0);
		before = stats[FLOW_STAT_PACKETS];
		/* what the programs leave: the flow's entry (1 packet), 2 more in CPU 0's slot 0 */
		assert_int_equal(bpf_map_update_elem(active_fd(fx), &k, &v, BPF_NOEXIST), 0);
		assert_int_equal(bpf_map_lookup_elem(cache_fd, &parity, c), 0);
		c[0].tag[0] = 1;
		c[0].slot[0].key = k;
		c[0].slot[0].tx_packets = 2;
		c[0].packets += 3;
		assert_int_equal(bpf_map_update_elem(cache_fd, &parity, c, BPF_ANY), 0);

		fx->tx_packets = 0;
		if (round == 0)
			fail_update_fd = cache_fd; /* the fold's last write */
		else
			fail_lookup_elem = true; /* the fold's read */
		assert_int_equal(drain(fx), -EFAULT);
		fail_update_fd = -1;
		fail_lookup_elem = false;
		assert_int_equal(fx->n_recs, 1);
		assert_int_equal(fx->tx_packets, round == 0 ? 3 : 1);
		assert_int_equal(flow_collector_stats(fx->fc, stats), 0);
		assert_int_equal(stats[FLOW_STAT_PACKETS], before + 3);

		/* two more intervals: the programs are back on `parity`, its slots empty */
		assert_int_equal(drain(fx), 0);
		assert_int_equal(drain(fx), 0);
		assert_int_equal(fx->skel->bss->flow_parity, parity);
		assert_int_equal(bpf_map_lookup_elem(cache_fd, &parity, c), 0);
		assert_int_equal(c[0].tag[0], 0);
		assert_int_equal(c[0].slot[0].tx_packets, 0);
		assert_int_equal(c[0].packets, 0);
		assert_int_equal(drain(fx), 0);
		assert_int_equal(fx->tx_packets, round == 0 ? 3 : 1);
		assert_int_equal(flow_collector_stats(fx->fc, stats), 0);
		assert_int_equal(stats[FLOW_STAT_PACKETS], before + 3);
		assert_int_equal(sample(fx, "flowscope_packets_not_accounted_total{reason=\"cache_"
					    "orphan\"}"),
				 round == 0 ? 0 : 2);
	}
	free(c);
}

static void test_replacement_map_fails(void **state)
{
	struct fx *fx = *state;

	add_flows(fx, 1000, 1200);
	/* a map this small is emptied in place: that fails, and so does the empty map that
	 * replaces it then */
	fail_delete_batch_at = 1;
	fail_map_create_at = 1;
	assert_int_equal(drain(fx), -ENOMEM);
	/* every flow was read and exported: none is lost */
	assert_int_equal(fx->n_recs, 200);
	/* the programs must not be switched to the full map: it is emptied first */
	add_flows(fx, 2000, 2050);
	assert_int_equal(drain(fx), 50);
	add_flows(fx, 3000, 3005);
	assert_int_equal(drain(fx), 5);
	assert_exported_once(fx, 1000, 1200);
	assert_exported_once(fx, 2000, 2050);
	assert_exported_once(fx, 3000, 3005);
	assert_int_equal(sample(fx, "flowscope_flow_records_lost_total{reason=\"drain_error\"}"),
			 0);
}

/*
 * A drained map that cannot be replaced is retried at the next drains; with three maps in
 * rotation the switch goes on until that map is the next one, and then the programs stay on
 * the map they write until it can be emptied.
 */
static void test_replacement_map_fails_twice(void **state)
{
	struct fx *fx = *state;

	add_flows(fx, 1000, 1100);
	fail_delete_batch_at = 1; /* emptied in place: fails, then its replacement too */
	fail_map_create_at = 1;
	assert_int_equal(drain(fx), -ENOMEM);
	assert_int_equal(fx->n_recs, 100);
	add_flows(fx, 2000, 2010);
	fail_map_create_at = 1; /* the retry of the first one: the switch goes on all the same */
	assert_int_equal(drain(fx), 10);
	add_flows(fx, 3000, 3010);
	fail_map_create_at = 1; /* the stale map is the next one and cannot be emptied: no switch */
	assert_int_equal(drain(fx), -ENOMEM);
	assert_int_equal(fx->n_recs, 0);
	add_flows(fx, 4000, 4010);
	/* now it can: the flows of both intervals come out once */
	assert_int_equal(drain(fx), 20);
	assert_exported_once(fx, 1000, 1100);
	assert_exported_once(fx, 2000, 2010);
	assert_exported_once(fx, 3000, 3010);
	assert_exported_once(fx, 4000, 4010);
}

/*
 * A scrape never reads as zeros (which Prometheus takes for a counter reset): no allocation per
 * scrape, and a failed read of the kernel's counters leaves them off the page.
 */
static void test_scrape_under_failures(void **state)
{
	struct fx *fx = *state;
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *percpu = calloc((size_t)ncpus, sizeof(uint64_t));
	uint32_t slot = FLOW_STAT_PACKETS;

	assert_non_null(percpu);
	for (int c = 0; c < ncpus; c++)
		percpu[c] = 1000 + (uint64_t)c;
	assert_int_equal(
		bpf_map_update_elem(bpf_map__fd(fx->skel->maps.stats), &slot, percpu, BPF_ANY), 0);
	unsigned long long want = 1000ull * (unsigned)ncpus + (unsigned)(ncpus * (ncpus - 1) / 2);

	assert_int_equal(sample(fx, "\nflowscope_packets_total"), want);
	fx->scrape_without_calloc = true;
	assert_int_equal(sample(fx, "\nflowscope_packets_total"), want);
	fx->scrape_without_calloc = false;
	fx->scrape_without_lookup = true;
	assert_int_equal(sample(fx, "\nflowscope_packets_total"), ~0ull);
	assert_int_equal(sample(fx, "\nflowscope_flow_records_total"), ~0ull);
	fx->scrape_without_lookup = false;
	assert_int_equal(sample(fx, "\nflowscope_packets_total"), want);
	free(percpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lookup_error_midway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_fold_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replacement_map_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replacement_map_fails_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scrape_under_failures, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
