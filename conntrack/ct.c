// SPDX-License-Identifier: Apache-2.0
/*
 * NAT resolution (see ct.h): the netlink side's callbacks feed the table; a miss may become a
 * point GET whose completion learns the answer and resolves the flow again in its window.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ct.h"

/* the coarse flow clock's tick (at most 10 ms) and the epoch/monotonic conversion, with room */
#define CT_EVENTS_SLACK_NS (20ULL * 1000000ULL)

struct ct_nat {
	struct ct_nat_opts opts;
	struct ct_table *table;
	struct ct_netlink *nl; /* NULL for a no_netlink handle */
	uint32_t pending; /* resolutions waiting for a GET */
	uint64_t dump_evictions; /* the table's evictions when the running dump began */
	uint64_t synced_evictions; /* the same, of the last complete dump */
	struct ct_stats stats;
};

/* One resolution waiting for its GET. */
struct ct_pending {
	struct ct_nat *nat;
	struct ct_tuple tuple;
	struct ct_window window;
	ct_resolved_fn done;
	void *arg;
};

void ct_nat_opts_init(struct ct_nat_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	ct_table_opts_init(&opts->table);
	ct_netlink_opts_init(&opts->netlink);
}

/* ct_netlink_ops: what the sockets read goes into the table */
static void on_entry(void *arg, const struct ct_tuple *orig, const struct ct_tuple *reply,
		     enum ct_source src, uint64_t now_ns)
{
	struct ct_nat *nat = arg;

	ct_table_learn(nat->table, orig, reply, src, now_ns);
}

static void on_destroyed(void *arg, const struct ct_tuple *orig, uint64_t now_ns)
{
	struct ct_nat *nat = arg;

	ct_table_forget(nat->table, orig, now_ns);
}

static uint64_t table_evictions(const struct ct_nat *nat)
{
	struct ct_table_stats ts;

	ct_table_stats(nat->table, &ts);
	return ts.evictions;
}

static void on_dump_begin(void *arg)
{
	struct ct_nat *nat = arg;

	nat->dump_evictions = table_evictions(nat);
	ct_table_sync_begin(nat->table);
}

static void on_dump_end(void *arg, bool complete, uint64_t now_ns)
{
	struct ct_nat *nat = arg;

	ct_table_sync_end(nat->table, complete, now_ns);
	if (complete)
		nat->synced_evictions = nat->dump_evictions;
}

static const struct ct_netlink_ops nat_ops = {
	.entry = on_entry,
	.destroyed = on_destroyed,
	.dump_begin = on_dump_begin,
	.dump_end = on_dump_end,
};

int ct_nat_create(const struct ct_nat_opts *opts, uint64_t now_ns, struct ct_nat **out)
{
	struct ct_nat *nat;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	nat = calloc(1, sizeof(*nat));
	if (!nat)
		return -ENOMEM;
	if (opts)
		nat->opts = *opts;
	else
		ct_nat_opts_init(&nat->opts);
	err = ct_table_create(&nat->opts.table, &nat->table);
	if (!err && !nat->opts.no_netlink)
		err = ct_netlink_create(&nat->opts.netlink, &nat_ops, nat, now_ns, &nat->nl);
	if (err) {
		ct_nat_destroy(nat);
		return err;
	}
	*out = nat;
	return 0;
}

void ct_nat_destroy(struct ct_nat *nat)
{
	if (!nat)
		return;
	ct_netlink_destroy(nat->nl); /* completes what is pending while the table still exists */
	ct_table_destroy(nat->table);
	free(nat);
}

int ct_nat_fd(const struct ct_nat *nat)
{
	if (!nat || !nat->nl)
		return -ENOTCONN;
	return ct_netlink_fd(nat->nl);
}

int ct_nat_process(struct ct_nat *nat, uint64_t now_ns)
{
	int err = 0;

	if (!nat)
		return -EINVAL;
	if (nat->nl)
		err = ct_netlink_process(nat->nl, now_ns);
	ct_table_expire(nat->table, now_ns);
	return err;
}

void ct_nat_expire(struct ct_nat *nat, uint64_t now_ns)
{
	if (nat && nat->nl)
		ct_netlink_expire(nat->nl, now_ns);
}

int ct_nat_read_answers(struct ct_nat *nat, uint64_t now_ns)
{
	return nat && nat->nl ? ct_netlink_read_answers(nat->nl, now_ns) : 0;
}

uint64_t ct_nat_next_deadline(const struct ct_nat *nat)
{
	return nat && nat->nl ? ct_netlink_next_deadline(nat->nl) : UINT64_MAX;
}

/* ct_get_done_fn: learn what the kernel said, resolve the flow again in its window */
static void on_get_done(void *arg, int status, const struct ct_tuple *orig,
			const struct ct_tuple *reply, uint64_t now_ns)
{
	struct ct_pending *p = arg;
	struct ct_nat *nat = p->nat;
	struct ct_result res;
	int ret;

	memset(&res, 0, sizeof(res));
	res.actual = p->tuple;
	ret = status;
	if (status == CT_GET_FOUND) {
		/* the kernel finds an entry by either of its tuples: one GET covers both sides */
		ct_table_learn(nat->table, orig, reply, CT_FROM_GET, now_ns);
		ret = ct_table_lookup(nat->table, &p->tuple, &p->window, now_ns, &res);
		if (ret == CT_OK)
			nat->stats.fallback_hit++;
		else
			nat->stats.fallback_miss++;
	} else if (status == CT_GET_NOT_FOUND) {
		ret = CT_NOT_FOUND;
		nat->stats.fallback_miss++;
	} else if (status == -ETIMEDOUT) {
		nat->stats.fallback_timeouts++;
	} else {
		nat->stats.fallback_errors++;
	}
	nat->pending--;
	p->done(p->arg, ret, &res, now_ns);
	free(p);
}

static bool want_get(const struct ct_nat *nat, const struct ct_tuple *t, ct_resolved_fn done)
{
	if (!done || !nat->nl || nat->opts.no_fallback)
		return false;
	return !nat->opts.translatable || nat->opts.translatable(t, nat->opts.translatable_arg);
}

/*
 * Did the event stream see every translated entry alive in the window? Whole since the last
 * complete dump, no eviction since that dump began (an evicted entry is a miss a GET would
 * answer), and emptied after the flow's first packet: an entry's NEW event is queued at its
 * confirmation, before the packet that confirmed it reaches a cgroup_skb program. That packet
 * was counted before window->counted_by_ns when given, else by first_ns plus a tick of the
 * coarse flow clock (the slack).
 */
static bool events_cover(const struct ct_nat *nat, const struct ct_window *window)
{
	uint64_t since = ct_netlink_events_complete_ns(nat->nl);

	if (!since || table_evictions(nat) != nat->synced_evictions)
		return false;
	if (window->counted_by_ns)
		return since >= window->counted_by_ns;
	return window->first_ns < since && since - window->first_ns > CT_EVENTS_SLACK_NS;
}

int ct_nat_resolve(struct ct_nat *nat, const struct ct_tuple *tuple, const struct ct_window *window,
		   uint64_t now_ns, ct_resolved_fn done, void *arg, struct ct_result *out)
{
	struct ct_pending *p;
	int ret;

	if (!nat)
		return -EINVAL;
	ret = ct_table_lookup(nat->table, tuple, window, now_ns, out);
	if (ret < 0)
		return ret;
	if (ret == CT_OK) {
		nat->stats.hit++;
		return CT_OK;
	}
	if (!want_get(nat, &out->actual, done)) {
		nat->stats.miss++;
		return CT_NOT_FOUND;
	}
	if (!nat->opts.get_every_miss && !events_cover(nat, window) &&
	    ct_netlink_events_complete_ns(nat->nl) &&
	    ct_netlink_read_events(nat->nl, now_ns) == 0) {
		/* read too early for this window: what came since, then the table again */
		ret = ct_table_lookup(nat->table, tuple, window, now_ns, out);
		if (ret == CT_OK) {
			nat->stats.hit++;
			return CT_OK;
		}
	}
	if (!nat->opts.get_every_miss && events_cover(nat, window)) {
		nat->stats.not_translated++;
		return CT_NOT_FOUND;
	}
	p = malloc(sizeof(*p));
	if (!p) {
		nat->stats.fallback_errors++;
		return -ENOMEM;
	}
	p->nat = nat;
	p->tuple = out->actual; /* checked by the lookup */
	p->window = *window;
	p->done = done;
	p->arg = arg;
	ret = ct_netlink_get(nat->nl, &p->tuple, now_ns, on_get_done, p);
	if (ret) {
		free(p);
		if (ret == -EAGAIN || ret == -EBUSY) {
			nat->stats.fallback_ratelimited++;
			return CT_RATELIMITED;
		}
		nat->stats.fallback_errors++;
		return ret;
	}
	nat->pending++;
	return CT_PENDING;
}

int ct_nat_resync(struct ct_nat *nat, uint64_t now_ns)
{
	if (!nat)
		return -EINVAL;
	if (!nat->nl)
		return -ENOTCONN;
	return ct_netlink_resync(nat->nl, now_ns);
}

void ct_nat_stats(const struct ct_nat *nat, struct ct_stats *out)
{
	*out = nat->stats;
	ct_table_stats(nat->table, &out->table);
	if (nat->nl)
		ct_netlink_stats(nat->nl, &out->netlink);
	else
		memset(&out->netlink, 0, sizeof(out->netlink));
	out->events_complete = nat->nl && ct_netlink_events_complete_ns(nat->nl) &&
			       out->table.evictions == nat->synced_evictions;
	out->mem_bytes = sizeof(*nat) + out->table.mem_bytes + out->netlink.mem_bytes +
			 (uint64_t)nat->pending * sizeof(struct ct_pending);
}

struct ct_table *ct_nat_table(struct ct_nat *nat)
{
	return nat ? nat->table : NULL;
}
