// SPDX-License-Identifier: Apache-2.0
/*
 * Pipeline stage "nat": the actual endpoints of a flow from conntrack (conntrack/ct.h), and the
 * conntrack socket's loop wiring and counters.
 *
 * A flow found in the table (hit, or known untranslated) passes at once, and so does a miss while
 * conntrack's event stream is known whole since before the export's drain (ct_nat_resolve():
 * the flow is not translated). On another miss where a point GET is allowed (policy, rate and
 * in-flight bounds of ct_nat_resolve()), the GET is sent without
 * waiting and the record is deferred (a copy, record_dup()); it resumes from the loop when the
 * answer comes (ct_nat_process() on the conntrack fd) or at the GET's deadline, 250 ms
 * (ct_netlink_opts.get_timeout_ns), then untranslated. Nothing here waits on netlink.
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

struct nat_wait;

/*
 * Flow records of an export share a clock reading this many at a time: microseconds apart, for
 * grace periods of a minute and GET deadlines of 250 ms (a deadline is then early by as much).
 */
#define NOW_REUSE 64

struct enrich_nat {
	struct ct_nat *ct;
	struct loop *loop;
	struct pipeline *pipeline; /* and our index there (nat_added()): for pipeline_resume() */
	int stage;
	int timer; /* the 1 s tick's id; 0: none */
	int deadline_timer; /* one-shot at the earliest GET deadline; 0: none armed */
	struct nat_wait *spare; /* reused while no record is deferred with it */
	uint64_t deferred; /* records waiting for a GET now */
	int64_t epoch_to_mono_ns; /* add to a record's epoch time for CLOCK_MONOTONIC; per interval */
	/*
	 * CLOCK_MONOTONIC at this export's first flow record, 0 until it came: flow records come
	 * from the drain, which reads a map only after the programs stopped writing it (the parity
	 * switch of flow_collector_drain()), so every packet of the export's flows was counted by
	 * then (ct_window.counted_by_ns). 0 outside an export (after interval_end, or records
	 * submitted without interval_begin): the window's first packet plus a slack is used.
	 */
	uint64_t counted_by_ns;
	bool exporting; /* between interval_begin and the first flow record */
	uint64_t now_ns; /* during an export: the clock, read again every NOW_REUSE records */
	uint32_t now_uses;
	uint64_t lookup_errors; /* flows the library refused to look up */
	uint64_t defer_errors; /* could not copy a record to defer it: it went on untranslated */
	bool sync_logged;
};

/* One deferred record (or, when the copy failed, a GET nobody waits for). */
struct nat_wait {
	struct enrich_nat *n;
	struct record *r; /* the deferred copy; NULL: nobody waits */
};

static void apply(struct flow_record *r, const struct ct_result *res)
{
	size_t alen = r->ip_version == 4 ? 4 : 16;

	if (!res->nat)
		return;
	r->nat = true;
	memcpy(r->src_actual_addr.bytes, res->actual.src.bytes, alen);
	r->src_actual_port = res->actual.src_port;
	memcpy(r->dst_actual_addr.bytes, res->actual.dst.bytes, alen);
	r->dst_actual_port = res->actual.dst_port;
}

static void arm_deadline(struct enrich_nat *n);

/* Feeds conntrack's events, dump data and GET answers in; says when the first sync is done. */
static void process(struct enrich_nat *n)
{
	struct ct_stats cs;
	int ret = ct_nat_process(n->ct, clock_mono_ns());

	if (ret < 0)
		LOG_DEBUG("conntrack: %s", strerror(-ret));
	arm_deadline(n);
	if (n->sync_logged)
		return;
	ct_nat_stats(n->ct, &cs);
	if (!cs.netlink.synced)
		return;
	n->sync_logged = true;
	LOG_INFO("conntrack: initial sync done in %llu ms: %llu entries read, %u translated kept",
		 (unsigned long long)(cs.netlink.last_sync_ns / 1000000),
		 (unsigned long long)cs.netlink.dumped, cs.table.entries);
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

static void on_deadline(struct loop *l, uint64_t expirations, void *arg)
{
	struct enrich_nat *n = arg;

	(void)l, (void)expirations;
	n->deadline_timer = 0;
	process(n); /* reads what came, then times out what is overdue */
}

/* A one-shot timer at the earliest GET deadline while records are deferred. */
static void arm_deadline(struct enrich_nat *n)
{
	uint64_t next = ct_nat_next_deadline(n->ct), now = clock_mono_ns(), ms;
	int id;

	if (n->deadline_timer || next == UINT64_MAX)
		return;
	ms = next > now ? (next - now + 999999) / 1000000 : 1;
	id = loop_add_oneshot(n->loop, ms, on_deadline, n);
	if (id > 0)
		n->deadline_timer = id;
	else
		LOG_WARN("conntrack: no deadline timer (%s): deferred flows wait for the 1 s tick",
			 strerror(-id));
}

/* ct_resolved_fn: the GET's answer, or its deadline; the record goes on from here */
static void on_resolved(void *arg, int status, const struct ct_result *res, uint64_t now_ns)
{
	struct nat_wait *w = arg;
	struct enrich_nat *n = w->n;

	(void)now_ns;
	if (w->r) {
		if (status == CT_OK)
			apply(RECORD_OF(w->r, struct flow_record), res);
		n->deferred--;
		if (n->pipeline)
			pipeline_resume(n->pipeline, n->stage, w->r);
		else
			n->defer_errors++; /* enrich_nat_destroy() before pipeline_flush(): lost */
		record_free(w->r);
	}
	free(w);
}

/* CLOCK_MONOTONIC for a lookup: read per record outside an export, per NOW_REUSE in one. */
static uint64_t lookup_now(struct enrich_nat *n)
{
	if (!n->counted_by_ns)
		return clock_mono_ns();
	if (++n->now_uses >= NOW_REUSE) {
		n->now_uses = 0;
		n->now_ns = clock_mono_ns();
	}
	return n->now_ns;
}

static enum stage_verdict nat_process(void *arg, struct record *hdr)
{
	struct enrich_nat *n = arg;
	struct flow_record *r;
	struct ct_tuple t = { 0 };
	struct ct_window win;
	struct ct_result res;
	struct nat_wait *w;
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
	/* the flow's window in the table's clock (flow stamps are CLOCK_MONOTONIC_COARSE) */
	if (!n->epoch_to_mono_ns)
		n->epoch_to_mono_ns = -clock_mono_to_epoch_offset();
	win.first_ns = (uint64_t)((int64_t)r->start_ns + n->epoch_to_mono_ns);
	win.last_ns = (uint64_t)((int64_t)r->end_ns + n->epoch_to_mono_ns);
	if (n->exporting) {
		n->exporting = false;
		n->counted_by_ns = clock_mono_ns();
		n->now_ns = n->counted_by_ns;
		n->now_uses = 0;
	}
	win.counted_by_ns = n->counted_by_ns;
	w = n->spare ? n->spare : calloc(1, sizeof(*w));
	n->spare = NULL;
	if (!w) {
		n->lookup_errors++;
		return STAGE_PASS;
	}
	w->n = n;
	w->r = NULL;
	ret = ct_nat_resolve(n->ct, &t, &win, lookup_now(n), on_resolved, w, &res);
	if (ret == CT_PENDING) {
		/* w belongs to the pending GET now */
		w->r = record_dup(hdr);
		if (!w->r) {
			n->defer_errors++; /* goes on untranslated; the answer only fills the table */
			return STAGE_PASS;
		}
		n->deferred++;
		arm_deadline(n);
		return STAGE_DEFER;
	}
	n->spare = w;
	if (ret == -EINVAL || ret == -EAFNOSUPPORT || ret == -EPROTONOSUPPORT)
		n->lookup_errors++; /* failed GETs are counted by the library */
	if (ret == CT_OK)
		apply(r, &res);
	return STAGE_PASS;
}

/*
 * conntrack's latest events first, so connections that just ended still resolve; and the clock
 * offset for this interval's flows (a step of the wall clock shows from the next interval).
 */
static void nat_interval_begin(void *arg)
{
	struct enrich_nat *n = arg;

	process(n);
	n->epoch_to_mono_ns = -clock_mono_to_epoch_offset();
	n->exporting = true;
	n->counted_by_ns = 0;
}

/* After the export's last flow record: what comes next is not from its drain. */
static void nat_interval_end(void *arg)
{
	struct enrich_nat *n = arg;

	n->exporting = false;
	n->counted_by_ns = 0;
}

/* At exit: every deferred record goes on now, untranslated unless its answer is queued. */
static void nat_flush(void *arg)
{
	struct enrich_nat *n = arg;

	ct_nat_read_answers(n->ct, clock_mono_ns());
	ct_nat_expire(n->ct, UINT64_MAX);
}

struct ct_snap {
	struct ct_stats cs;
	uint64_t errors; /* failed GETs, failed lookups, records that could not be deferred */
	uint64_t evictions; /* LRU and per-tuple bounds */
	uint64_t entries;
	uint64_t negative_entries;
	uint64_t deferred; /* flow records waiting for a GET answer now */
	uint64_t events_complete; /* 1 while a miss needs no GET (ct_netlink_events_complete_ns()) */
};

#define ROW(name, type, help, labels, field) \
	COUNTER_ROW(name, type, help, labels, struct ct_snap, field)
#define LOOKUPS "NAT lookups of flows, by outcome."
#define EVENTS "Conntrack cache maintenance, by kind."
#define LOOKUP(label, field)                                                                       \
	ROW("flowscope_conntrack_lookups_total", COUNTER_COUNTER, LOOKUPS, "result=\"" label "\"", \
	    field)
#define EVENT(label, field)                                                    \
	ROW("flowscope_conntrack_cache_events_total", COUNTER_COUNTER, EVENTS, \
	    "kind=\"" label "\"", field)

static const struct counter_desc ct_counters[] = {
	LOOKUP("hit", cs.hit),
	LOOKUP("miss", cs.miss),
	LOOKUP("not_translated", cs.not_translated),
	LOOKUP("fallback_hit", cs.fallback_hit),
	LOOKUP("fallback_miss", cs.fallback_miss),
	LOOKUP("fallback_ratelimited", cs.fallback_ratelimited),
	LOOKUP("fallback_timeout", cs.fallback_timeouts),
	LOOKUP("error", errors),
	EVENT("eviction", evictions),
	EVENT("expiration", cs.table.expirations),
	EVENT("superseded", cs.table.superseded),
	EVENT("negative_stored", cs.table.negatives_stored),
	EVENT("window_reject", cs.table.window_rejects),
	EVENT("resync", cs.netlink.resyncs),
	EVENT("enobufs", cs.netlink.enobufs),
	EVENT("refresh", cs.netlink.refreshes),
	EVENT("parse_error", cs.netlink.parse_errors),
	EVENT("get_stale", cs.netlink.get_stale),
	ROW("flowscope_conntrack_entries", COUNTER_GAUGE,
	    "Conntrack entries cached (translated, and untranslated ones kept as negative "
	    "entries).",
	    "", entries),
	ROW("flowscope_conntrack_negative_entries", COUNTER_GAUGE,
	    "Untranslated conntrack entries cached because they share a tuple with a cached one.",
	    "", negative_entries),
	ROW("flowscope_conntrack_events_complete", COUNTER_GAUGE,
	    "1 while the conntrack event stream is known whole (synced, no loss since, events on): "
	    "a cache miss then needs no point GET.",
	    "", events_complete),
	ROW("flowscope_conntrack_flows_waiting", COUNTER_GAUGE,
	    "Flow records deferred until a conntrack GET answers (at most 250 ms).", "", deferred),
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

	ct_nat_stats(n->ct, &s->cs);
	s->errors = s->cs.fallback_errors + n->lookup_errors + n->defer_errors;
	s->evictions = s->cs.table.evictions + s->cs.table.tuple_evictions;
	s->entries = s->cs.table.entries;
	s->negative_entries = s->cs.table.negative_entries;
	s->deferred = n->deferred;
	s->events_complete = s->cs.events_complete;
	return 0;
}

struct enrich_nat *enrich_nat_create(struct ct_nat *ct, struct loop *l, struct counters *reg)
{
	struct enrich_nat *n = calloc(1, sizeof(*n));
	struct counters_group g = {
		COUNTERS_GROUP("conntrack", ct_counters, struct ct_snap, snapshot, n),
	};
	int ret;

	if (!n)
		return NULL;
	n->ct = ct;
	n->loop = l;
	n->stage = -1;
	ret = loop_add_fd(l, ct_nat_fd(ct), EPOLLIN, on_conntrack, n);
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
		enrich_nat_destroy(n);
		errno = -ret;
		return NULL;
	}
	return n;
}

/* The counters group stays registered: free the registry first (main.c does). */
void enrich_nat_destroy(struct enrich_nat *n)
{
	if (!n)
		return;
	/* after pipeline_flush() nothing is deferred; whatever is, is dropped here, not resumed */
	n->pipeline = NULL;
	ct_nat_expire(n->ct, UINT64_MAX);
	loop_del_fd(n->loop, ct_nat_fd(n->ct));
	if (n->timer)
		loop_del_timer(n->loop, n->timer);
	if (n->deadline_timer)
		loop_del_timer(n->loop, n->deadline_timer);
	free(n->spare);
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
		.interval_end = nat_interval_end,
		.flush = nat_flush,
		.added = nat_added,
		.arg = n,
	};
}
