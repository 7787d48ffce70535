// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "pipeline.h"
#include "record_codec.h"

struct pipeline_stats {
	uint64_t deferred_total; /* records a stage deferred */
	uint64_t deferred; /* held by stages now (gauge) */
	uint64_t dropped_stage; /* a stage dropped it (STAGE_DROP) */
	uint64_t dropped_unknown_type; /* no codec: refused before any stage */
	uint64_t refused_by_sink; /* the sink refused it (and counted why) */
};

struct pipeline {
	struct sink *sink;
	struct pipeline_stage *stages;
	int n_stages, cap_stages;
	bool end_pending; /* an interval ended while records were deferred */
	bool timing; /* pipeline_set_timing(): time spent per stage, in stage_ns */
	uint64_t *stage_ns; /* cap_stages + 1: per stage, then the sink's emit */
	struct pipeline_stats st;
};

struct pipeline *pipeline_create(struct sink *sink)
{
	struct pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->sink = sink;
	return p;
}

void pipeline_destroy(struct pipeline *p)
{
	if (!p)
		return;
	free(p->stages);
	free(p->stage_ns);
	free(p);
}

int pipeline_add_stage(struct pipeline *p, const struct pipeline_stage *s)
{
	if (p->n_stages == p->cap_stages) {
		int cap = p->cap_stages ? 2 * p->cap_stages : 8;
		struct pipeline_stage *ns = realloc(p->stages, (size_t)cap * sizeof(*ns));
		uint64_t *t;

		if (!ns)
			return -ENOMEM;
		p->stages = ns;
		t = realloc(p->stage_ns, (size_t)(cap + 1) * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + p->cap_stages, 0, (size_t)(cap + 1 - p->cap_stages) * sizeof(*t));
		p->stage_ns = t;
		p->cap_stages = cap;
	}
	p->stages[p->n_stages] = *s;
	if (s->added)
		s->added(s->arg, p, p->n_stages);
	return p->n_stages++;
}

static void maybe_end_interval(struct pipeline *p)
{
	if (p->end_pending && !p->st.deferred) {
		p->end_pending = false;
		sink_end_interval(p->sink);
	}
}

/*
 * Stages from `from` on, then the sink; with pipeline_set_timing(), the time of each stage and
 * of the sink is added to stage_ns (two clock reads per stage and record, none without).
 */
static int run(struct pipeline *p, int from, struct record *r)
{
	bool timed = p->timing && p->stage_ns;
	uint64_t t = timed ? clock_mono_ns() : 0, now;
	int ret;

	for (int i = from; i < p->n_stages; i++) {
		enum stage_verdict v = p->stages[i].process(p->stages[i].arg, r);

		if (timed) {
			now = clock_mono_ns();
			p->stage_ns[i] += now - t;
			t = now;
		}
		switch (v) {
		case STAGE_PASS:
			continue;
		case STAGE_DEFER:
			p->st.deferred_total++;
			p->st.deferred++;
			return 0;
		case STAGE_DROP:
			p->st.dropped_stage++;
			return -ECANCELED;
		}
	}
	ret = sink_emit(p->sink, r);
	if (timed)
		p->stage_ns[p->n_stages] += clock_mono_ns() - t;
	if (ret)
		p->st.refused_by_sink++;
	return ret;
}

int pipeline_submit(struct pipeline *p, struct record *r)
{
	if (!record_codec(r->type)) {
		p->st.dropped_unknown_type++;
		return -EPROTONOSUPPORT;
	}
	return run(p, 0, r);
}

int pipeline_resume(struct pipeline *p, int stage, struct record *r)
{
	int ret;

	if (p->st.deferred)
		p->st.deferred--;
	ret = run(p, stage + 1, r);
	maybe_end_interval(p);
	return ret;
}

void pipeline_begin_interval(struct pipeline *p)
{
	for (int i = 0; i < p->n_stages; i++)
		if (p->stages[i].interval_begin)
			p->stages[i].interval_begin(p->stages[i].arg);
}

void pipeline_end_interval(struct pipeline *p)
{
	for (int i = 0; i < p->n_stages; i++)
		if (p->stages[i].interval_end)
			p->stages[i].interval_end(p->stages[i].arg);
	p->end_pending = true;
	maybe_end_interval(p);
}

void pipeline_flush(struct pipeline *p)
{
	for (int i = 0; i < p->n_stages; i++)
		if (p->stages[i].flush)
			p->stages[i].flush(p->stages[i].arg);
	p->end_pending = false;
	sink_end_interval(p->sink);
}

void pipeline_set_timing(struct pipeline *p, bool on)
{
	p->timing = on;
}

int pipeline_stage_times(struct pipeline *p, struct pipeline_stage_time *out, int max)
{
	int n = 0;

	if (!p->stage_ns)
		return 0;
	for (int i = 0; i <= p->n_stages && n < max; i++, n++) {
		out[n].name = i < p->n_stages ? p->stages[i].name : "sink";
		out[n].ns = p->stage_ns[i];
		p->stage_ns[i] = 0;
	}
	return n;
}

uint64_t pipeline_deferred(const struct pipeline *p)
{
	return p->st.deferred;
}

#define ROW(name, type, help, labels, field) \
	COUNTER_ROW(name, type, help, labels, struct pipeline_stats, field)

static const struct counter_desc pipeline_counters[] = {
	ROW("flowscope_pipeline_records_deferred_total", COUNTER_COUNTER,
	    "Records an enrichment stage held back to finish later.", "", deferred_total),
	ROW("flowscope_pipeline_records_held", COUNTER_GAUGE,
	    "Records held by enrichment stages now.", "", deferred),
	ROW("flowscope_pipeline_records_dropped_total", COUNTER_COUNTER,
	    "Records that did not reach the sink, by reason.", "reason=\"stage\"", dropped_stage),
	ROW("flowscope_pipeline_records_dropped_total", COUNTER_COUNTER,
	    "Records that did not reach the sink, by reason.", "reason=\"unknown_type\"",
	    dropped_unknown_type),
	ROW("flowscope_pipeline_records_dropped_total", COUNTER_COUNTER,
	    "Records that did not reach the sink, by reason.", "reason=\"sink_refused\"",
	    refused_by_sink),
};

static int snapshot(void *arg, void *snap)
{
	*(struct pipeline_stats *)snap = ((struct pipeline *)arg)->st;
	return 0;
}

int pipeline_register_counters(struct pipeline *p, struct counters *reg)
{
	struct counters_group g = {
		COUNTERS_GROUP("pipeline", pipeline_counters, struct pipeline_stats, snapshot, p),
	};

	return counters_register(reg, &g);
}
