/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one record path: every source (flows, DNS, later tracer events) submits its records here;
 * the pipeline runs them through the enrichment stages in the order they were added, and hands
 * them to the sink.
 *
 *   source ──pipeline_submit()──> stage 0 ─> stage 1 ─> ... ─> sink_emit()
 *                                     └─ DEFER: the stage keeps a copy (record_dup()) and later
 *                                        calls pipeline_resume(): the record goes on from the
 *                                        next stage.
 *
 * Interval end (pipeline_end_interval(), after a flow export): the sink's end of interval (which
 * sends partly filled batches) runs once no record is deferred any more, so the records deferred
 * during an interval are in the same batch flush as the others. A stage must resume what it
 * defers within a bounded time (its own timer); pipeline_flush() at exit makes every stage let
 * go at once.
 *
 * Everything runs on the loop thread; a stage may submit or resume from any loop callback.
 */
#ifndef FLOWSCOPE_PIPELINE_H
#define FLOWSCOPE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "counters.h"
#include "record.h"
#include "sink.h"

struct pipeline;

enum stage_verdict {
	STAGE_PASS = 0, /* on to the next stage */
	STAGE_DEFER, /* the stage holds a copy and will call pipeline_resume() */
	STAGE_DROP, /* the record goes no further; the stage counted why */
};

struct pipeline_stage {
	const char *name; /* "cgroup_path", "nat", "dst_domain": logs */
	/*
	 * Enriches r in place (fields of any type: the stage checks r->type). Strings it points r
	 * at must stay valid until the record is emitted or copied. To defer, the stage copies r
	 * with record_dup() and returns STAGE_DEFER; the caller's r is then done with.
	 */
	enum stage_verdict (*process)(void *arg, struct record *r);
	/* Optional: before an interval's flows are submitted (catch up on events: conntrack, DNS
	 * answers, the cgroup path generation). */
	void (*interval_begin)(void *arg);
	/* Optional: the interval's flows are all submitted (pipeline_end_interval()), before the
	 * sink's end of interval: a stage that holds an interval's records to see them together
	 * resumes them here. */
	void (*interval_end)(void *arg);
	/* Optional: resume every record the stage holds, now. Required of a stage that defers. */
	void (*flush)(void *arg);
	/* Optional: called by pipeline_add_stage() with the pipeline and the stage's index, what
	 * a deferring stage needs for pipeline_resume(). */
	void (*added)(void *arg, struct pipeline *p, int index);
	void *arg;
};

/* Records go to sink (which stays the caller's). Returns NULL on ENOMEM. */
struct pipeline *pipeline_create(struct sink *sink);

/* Frees the pipeline (not its sink nor its stages' args). Deferred records must have been
 * flushed (pipeline_flush()). NULL is ignored. */
void pipeline_destroy(struct pipeline *p);

/* Appends a stage (copied). Returns its index (>= 0), used by pipeline_resume(), or -ENOMEM. */
int pipeline_add_stage(struct pipeline *p, const struct pipeline_stage *s);

/*
 * Runs r through every stage and hands it to the sink. r is the caller's and may be changed
 * by the stages. Returns 0 when the record was emitted or deferred, -EPROTONOSUPPORT for a type
 * without a codec, or a negative errno when a stage dropped it (-ECANCELED) or the sink refused
 * it; every such loss is counted.
 */
int pipeline_submit(struct pipeline *p, struct record *r);

/*
 * A record that stage `stage` deferred goes on from the next stage. r stays the stage's (free it
 * after the call). Returns as pipeline_submit().
 */
int pipeline_resume(struct pipeline *p, int stage, struct record *r);

/* Calls every stage's interval_begin, in order. */
void pipeline_begin_interval(struct pipeline *p);

/* The interval's records are all submitted: the sink's end_interval runs now, or when the last
 * deferred record is resumed. */
void pipeline_end_interval(struct pipeline *p);

/* At exit: every stage flushes (in order), then the sink's end_interval runs. */
void pipeline_flush(struct pipeline *p);

/*
 * Times every stage's process() and the sink's emit per record (two clock reads per stage and
 * record: for --log-level debug, not for production). Off at creation.
 */
void pipeline_set_timing(struct pipeline *p, bool on);

/* Time spent in one stage (or, last, "sink": sink_emit()) since the previous call, ns. */
struct pipeline_stage_time {
	const char *name;
	uint64_t ns;
};

/*
 * Fills out with at most max entries, the stages in order then the sink, and resets the times.
 * Returns the number filled (0 before any stage was added and with timing never on: all 0).
 */
int pipeline_stage_times(struct pipeline *p, struct pipeline_stage_time *out, int max);

/* Records held by stages now. */
uint64_t pipeline_deferred(const struct pipeline *p);

/* Registers the pipeline's counters (flowscope_pipeline_*). Returns 0 or -ENOMEM. */
int pipeline_register_counters(struct pipeline *p, struct counters *reg);

#endif /* FLOWSCOPE_PIPELINE_H */
