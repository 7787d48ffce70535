// SPDX-License-Identifier: Apache-2.0
/*
 * Pipeline stage: the actual endpoints of a flow from the conntrack cache, and the conntrack
 * socket's loop wiring (events, dumps, grace-period expiry) and counters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "clock.h"
#include "ct.h"
#include "enrich.h"
#include "log.h"
#include "loop.h"

struct enrich_nat {
	struct ct_cache *ct;
	struct loop *loop;
	int timer; /* the 1 s tick's id; 0: none */
	struct pipeline *pipeline; /* and our index there: what pipeline_resume() needs */
	int stage;
	uint64_t lookup_errors; /* ct_cache_lookup() failures */
	bool sync_logged;
};

/* Feeds conntrack's pending events and dump data to the cache; says when the first sync is done. */
static void process(struct enrich_nat *n)
{
	struct ct_stats cs;
	int ret = ct_cache_process(n->ct, clock_mono_ns());

	if (ret < 0)
		LOG_DEBUG("conntrack: %s", strerror(-ret));
	if (n->sync_logged)
		return;
	ct_cache_stats(n->ct, &cs);
	if (!cs.synced)
		return;
	n->sync_logged = true;
	LOG_INFO("conntrack: initial sync done in %llu ms: %llu entries read, %u translated kept",
		 (unsigned long long)(cs.last_sync_ns / 1000000), (unsigned long long)cs.dumped,
		 cs.entries);
}

static void on_conntrack(struct loop *l, int fd, uint32_t events, void *arg)
{
	(void)l, (void)fd, (void)events;
	process(arg);
}

/* grace-period expiry and refresh dumps run on time, not only on events */
static void on_tick(struct loop *l, uint64_t expirations, void *arg)
{
	(void)l, (void)expirations;
	process(arg);
}

/* Fills the actual endpoints from conntrack; they stay equal to src/dst when nothing is known. */
static enum stage_verdict nat_process(void *arg, struct record *hdr)
{
	struct enrich_nat *n = arg;
	struct flow_record *r;
	struct ct_tuple t = { 0 };
	struct ct_result res;
	size_t alen;
	int ret;

	if (hdr->type != RECORD_FLOW)
		return STAGE_PASS;
	r = RECORD_OF(hdr, struct flow_record);
	alen = r->ip_version == 4 ? 4 : 16;
	t.family = r->ip_version == 4 ? AF_INET : AF_INET6;
	t.proto = r->proto;
	memcpy(t.src.bytes, r->src_addr.bytes, alen);
	memcpy(t.dst.bytes, r->dst_addr.bytes, alen);
	t.src_port = r->src_port;
	t.dst_port = r->dst_port;
	ret = ct_cache_lookup(n->ct, &t, clock_mono_ns(), &res);
	if (ret < 0) {
		n->lookup_errors++;
		return STAGE_PASS;
	}
	if (ret != CT_OK || !res.nat)
		return STAGE_PASS;
	r->nat = true;
	memcpy(r->src_actual_addr.bytes, res.actual.src.bytes, alen);
	r->src_actual_port = res.actual.src_port;
	memcpy(r->dst_actual_addr.bytes, res.actual.dst.bytes, alen);
	r->dst_actual_port = res.actual.dst_port;
	return STAGE_PASS;
}

/* conntrack's latest events first, so connections that just ended still resolve */
static void nat_interval_begin(void *arg)
{
	process(arg);
}

struct ct_snap {
	struct ct_stats cs;
	uint64_t errors; /* failed GETs and failed lookups */
	uint64_t entries;
};

#define ROW(name, type, help, labels, field) \
	COUNTER_ROW(name, type, help, labels, struct ct_snap, field)
#define LOOKUPS "NAT lookups of flows, by outcome."
#define EVENTS "Conntrack cache maintenance, by kind."

static const struct counter_desc ct_counters[] = {
	ROW("flowscope_conntrack_lookups_total", COUNTER_COUNTER, LOOKUPS, "result=\"hit\"",
	    cs.hit),
	ROW("flowscope_conntrack_lookups_total", COUNTER_COUNTER, LOOKUPS, "result=\"miss\"",
	    cs.miss),
	ROW("flowscope_conntrack_lookups_total", COUNTER_COUNTER, LOOKUPS,
	    "result=\"fallback_hit\"", cs.fallback_hit),
	ROW("flowscope_conntrack_lookups_total", COUNTER_COUNTER, LOOKUPS,
	    "result=\"fallback_miss\"", cs.fallback_miss),
	ROW("flowscope_conntrack_lookups_total", COUNTER_COUNTER, LOOKUPS,
	    "result=\"fallback_ratelimited\"", cs.fallback_ratelimited),
	ROW("flowscope_conntrack_lookups_total", COUNTER_COUNTER, LOOKUPS, "result=\"error\"",
	    errors),
	ROW("flowscope_conntrack_cache_events_total", COUNTER_COUNTER, EVENTS, "kind=\"eviction\"",
	    cs.evictions),
	ROW("flowscope_conntrack_cache_events_total", COUNTER_COUNTER, EVENTS,
	    "kind=\"expiration\"", cs.expirations),
	ROW("flowscope_conntrack_cache_events_total", COUNTER_COUNTER, EVENTS, "kind=\"resync\"",
	    cs.resyncs),
	ROW("flowscope_conntrack_cache_events_total", COUNTER_COUNTER, EVENTS, "kind=\"enobufs\"",
	    cs.enobufs),
	ROW("flowscope_conntrack_cache_events_total", COUNTER_COUNTER, EVENTS, "kind=\"refresh\"",
	    cs.refreshes),
	ROW("flowscope_conntrack_cache_events_total", COUNTER_COUNTER, EVENTS,
	    "kind=\"parse_error\"", cs.parse_errors),
	ROW("flowscope_conntrack_entries", COUNTER_GAUGE, "NAT'd conntrack entries cached.", "",
	    entries),
};

const struct counter_desc *enrich_nat_counter_descs(size_t *n)
{
	*n = sizeof(ct_counters) / sizeof(ct_counters[0]);
	return ct_counters;
}

static int snapshot(void *arg, void *out)
{
	struct enrich_nat *n = arg;
	struct ct_snap *s = out;

	ct_cache_stats(n->ct, &s->cs);
	s->errors = s->cs.fallback_errors + n->lookup_errors;
	s->entries = s->cs.entries;
	return 0;
}

struct enrich_nat *enrich_nat_new(struct ct_cache *ct, struct loop *l, struct counters *reg)
{
	struct enrich_nat *n = calloc(1, sizeof(*n));
	struct counters_group g = {
		.name = "conntrack",
		.descs = ct_counters,
		.n_descs = sizeof(ct_counters) / sizeof(ct_counters[0]),
		.snap_size = sizeof(struct ct_snap),
		.snapshot = snapshot,
		.arg = n,
	};
	int ret;

	if (!n)
		return NULL;
	n->ct = ct;
	n->loop = l;
	ret = loop_add_fd(l, ct_cache_fd(ct), EPOLLIN, on_conntrack, n);
	if (!ret) {
		ret = loop_add_timer(l, 1000, on_tick, n);
		if (ret > 0) {
			n->timer = ret;
			ret = 0;
		}
	}
	if (!ret)
		ret = counters_register(reg, &g);
	if (ret) {
		enrich_nat_free(n);
		errno = -ret;
		return NULL;
	}
	return n;
}

/* The counters group stays registered: free the registry first (main.c does). */
void enrich_nat_free(struct enrich_nat *n)
{
	if (!n)
		return;
	loop_del_fd(n->loop, ct_cache_fd(n->ct));
	if (n->timer)
		loop_del_timer(n->loop, n->timer);
	free(n);
}

static void nat_added(void *arg, struct pipeline *p, int index)
{
	struct enrich_nat *n = arg;

	n->pipeline = p;
	n->stage = index;
}

struct pipeline_stage enrich_nat_stage(struct enrich_nat *n)
{
	return (struct pipeline_stage){
		.name = "nat",
		.process = nat_process,
		.interval_begin = nat_interval_begin,
		.added = nat_added,
		.arg = n,
	};
}
