// SPDX-License-Identifier: Apache-2.0
/*
 * ct_bench: in a private network namespace (unshare), a conntrack table of N NAT'd entries
 * (default 200k, each client -> VIP:80 DNAT'd to a backend:8080); then
 *   - initial sync time and memory of the cache for the whole table,
 *   - M lookups (default 100k, distinct flows, shuffled) through the cache, median of 5 passes,
 *   - the same M flows resolved with a point GET (nfct_query(NFCT_Q_GET)), the baseline,
 * and prints the ratios. Usage: ct_bench [entries [lookups]]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include "ct.h"
#include "ct_fixture.h"

/* the cache path is timed over several passes and the median reported (the box is shared) */
#define CACHE_PASSES 5

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct ct_tuple flow_orig(uint32_t i)
{
	struct ct_tuple t;
	uint32_t client = 0xc0000200 | (i % 254 + 1); /* 192.0.2.1-254 */
	uint32_t vip = 0xc6336400 | (i / 254 / 60000 + 1); /* 198.51.100.x */

	memset(&t, 0, sizeof(t));
	t.family = AF_INET;
	t.proto = IPPROTO_TCP;
	client = htonl(client);
	vip = htonl(vip);
	memcpy(t.src.bytes, &client, 4);
	memcpy(t.dst.bytes, &vip, 4);
	t.src_port = 1024 + (i / 254) % 60000;
	t.dst_port = 80;
	return t;
}

static struct ct_tuple flow_reply(uint32_t i)
{
	struct ct_tuple o = flow_orig(i), r;
	uint32_t backend = htonl(0xcb007100 | (i % 200 + 1)); /* 203.0.113.1-200 */

	ct_tuple_inverse(&o, &r);
	memcpy(r.src.bytes, &backend, 4);
	r.src_port = 8080;
	return r;
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static long read_sysctl(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int get_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	(void)type;
	(void)ct;
	(*(int *)data)++;
	return NFCT_CB_CONTINUE;
}

int main(int argc, char **argv)
{
	uint32_t entries = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;
	uint32_t lookups = argc > 2 ? strtoul(argv[2], NULL, 0) : 100000;
	struct ct_fixture *fx = NULL;
	struct ct_nat *cache = NULL;
	struct nfct_handle *h = NULL;
	struct nf_conntrack *q = NULL;
	struct ct_nat_opts opts;
	struct ct_stats st;
	struct ct_result res;
	uint32_t *order = NULL;
	struct ct_tuple *flows = NULL;
	uint64_t t0, sync_ns, cache_ns, get_ns, pass_ns[CACHE_PASSES];
	long rss0, rss1, max;
	int found = 0, ok = 0, err = -1;

	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET) (needs root)");
		return 1;
	}
	max = read_sysctl("/proc/sys/net/netfilter/nf_conntrack_max");
	printf("netns nf_conntrack_max: %ld\n", max);
	if (max > 0 && (long)entries > max) {
		printf("kernel caps the table at %ld entries; measuring %ld\n", max, max);
		entries = max;
	}
	if (lookups > entries)
		lookups = entries;

	err = fx_open(NULL, &fx);
	if (err)
		goto cleanup;
	t0 = fx_now_ns();
	for (uint32_t i = 0; i < entries && !err; i++) {
		struct ct_tuple o = flow_orig(i), r = flow_reply(i);

		err = fx_create(fx, &o, &r);
	}
	if (!err)
		err = fx_flush(fx);
	if (err)
		goto cleanup;
	printf("created %u NAT'd entries in %.0f ms\n", entries, (fx_now_ns() - t0) / 1e6);

	ct_nat_opts_init(&opts);
	opts.table.max_entries = entries + entries / 4;
	opts.no_fallback = true; /* every answer below must come from the cache */
	rss0 = rss_kib();
	t0 = fx_now_ns();
	err = ct_nat_create(&opts, t0, &cache);
	if (err)
		goto cleanup;
	do {
		err = ct_nat_process(cache, fx_now_ns());
		ct_nat_stats(cache, &st);
	} while (!err && !st.netlink.synced);
	sync_ns = fx_now_ns() - t0;
	rss1 = rss_kib();
	if (err)
		goto cleanup;
	printf("initial sync: %" PRIu64 " entries dumped, %u cached, %.1f ms (target < 1000 ms)\n",
	       st.netlink.dumped, st.table.entries, sync_ns / 1e6);
	printf("memory: %.1f MiB counted by the cache, RSS delta %.1f MiB (target < 64 MiB), "
	       "%.0f B/entry counted\n",
	       st.mem_bytes / 1048576.0, (rss1 - rss0) / 1024.0,
	       (double)st.mem_bytes / (st.table.entries ? st.table.entries : 1));

	/* distinct flows in a shuffled order, so the cache path is not a walk through memory */
	order = malloc(sizeof(*order) * lookups);
	flows = malloc(sizeof(*flows) * lookups);
	if (!order || !flows) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (uint32_t i = 0; i < lookups; i++)
		order[i] = (uint32_t)(((uint64_t)i * entries) / lookups);
	for (uint32_t i = lookups - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(((uint64_t)i * 2654435761u) % (i + 1)), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}

	for (uint32_t i = 0; i < lookups; i++)
		flows[i] = flow_orig(order[i]);

	for (int p = 0; p < CACHE_PASSES; p++) {
		ok = 0;
		t0 = fx_now_ns();
		for (uint32_t i = 0; i < lookups; i++) {
			if (ct_nat_resolve(cache, &flows[i], &CT_WINDOW_ANY, t0, NULL, NULL,
					   &res) == CT_OK &&
			    res.nat && res.actual.dst_port == 8080)
				ok++;
		}
		pass_ns[p] = fx_now_ns() - t0;
	}
	qsort(pass_ns, CACHE_PASSES, sizeof(pass_ns[0]), cmp_u64);
	cache_ns = pass_ns[CACHE_PASSES / 2];

	h = nfct_open(CONNTRACK, 0);
	q = nfct_new();
	if (!h || !q) {
		err = -errno;
		goto cleanup;
	}
	nfct_callback_register(h, NFCT_T_ALL, get_cb, &found);
	t0 = fx_now_ns();
	for (uint32_t i = 0; i < lookups; i++) {
		const struct ct_tuple *o = &flows[i];
		uint32_t a;

		nfct_set_attr_u8(q, ATTR_L3PROTO, AF_INET);
		nfct_set_attr_u8(q, ATTR_L4PROTO, IPPROTO_TCP);
		memcpy(&a, o->src.bytes, 4);
		nfct_set_attr_u32(q, ATTR_IPV4_SRC, a);
		memcpy(&a, o->dst.bytes, 4);
		nfct_set_attr_u32(q, ATTR_IPV4_DST, a);
		nfct_set_attr_u16(q, ATTR_PORT_SRC, htons(o->src_port));
		nfct_set_attr_u16(q, ATTR_PORT_DST, htons(o->dst_port));
		nfct_query(h, NFCT_Q_GET, q);
	}
	get_ns = fx_now_ns() - t0;

	ct_nat_stats(cache, &st);
	printf("lookups: %u flows, cache %d/%u resolved, GET %d/%u found\n", lookups, ok, lookups,
	       found, lookups);
	printf("cache path: %.1f ns/lookup (median of %d passes, range %.1f-%.1f); "
	       "point GET (NFCT_Q_GET): %.0f ns/lookup\n",
	       (double)cache_ns / lookups, CACHE_PASSES, (double)pass_ns[0] / lookups,
	       (double)pass_ns[CACHE_PASSES - 1] / lookups, (double)get_ns / lookups);
	printf("ratio GET/cache: %.0fx (target >= 20x)\n", (double)get_ns / (double)cache_ns);
	printf("ratio sync/target: %.2f of 1 s; memory/target: %.2f of 64 MiB\n", sync_ns / 1e9,
	       st.mem_bytes / (64.0 * 1048576));
	err = ((uint32_t)ok == lookups && (uint32_t)found == lookups) ? 0 : -EIO;

cleanup:
	if (q)
		nfct_destroy(q);
	if (h)
		nfct_close(h);
	free(flows);
	free(order);
	ct_nat_destroy(cache);
	fx_close(fx);
	if (err)
		fprintf(stderr, "ct_bench failed: %s\n", strerror(-err));
	return err ? 1 : 0;
}
