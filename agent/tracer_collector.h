/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tracer as a source of the agent: resolves --events/--policy (policy/), opens the event
 * tracer (tracer/) with it, and turns each decoded event into a "event" record handed to the
 * pipeline. Its ring buffer fd and a 1 s housekeeping timer join the loop.
 */
#ifndef FLOWSCOPE_TRACER_COLLECTOR_H
#define FLOWSCOPE_TRACER_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tracer_collector;
struct loop;
struct pipeline;
struct counters;

struct tracer_collector_opts {
	const char *events; /* --events; NULL: default set (or the policy's) */
	const char *policy_file; /* --policy */
	uint32_t ringbuf_bytes;
	uint64_t cleanup_delay_ns;
	bool debug;
	const char *cgroup_root; /* where tr_sock_create attaches */
	/* --cgroup-mode v1: the v1 memory hierarchy's mount, which events are attributed to (as
	 * flows, cgroup_version 1); NULL: cgroup v2 */
	const char *cgroup_v1_mount;
	/* at most one warning per this many ns when records were lost because the events ring
	 * was full (the export interval); 0: 1 s */
	uint64_t warn_interval_ns;
};

enum tracer_collector_status {
	TRACER_OK = 0,
	TRACER_OFF, /* --events none: *out is NULL, nothing loaded */
	TRACER_USAGE, /* a bad --events or policy: message in err; exit 2 */
	TRACER_FAILED, /* loading/attaching failed (a required program named in err): exit 1 */
};

struct policy;

/*
 * Resolves the tracer's policy as tracer_collector_create() does, loading nothing: from --events
 * (a list, or `none`), from --policy FILE, or the default set when both are NULL. main() calls
 * it before any probing, so a bad list or file is reported (exit 2) before anything else.
 * TRACER_OK and TRACER_OFF: *out holds the policy (free it with policy_destroy()).
 * TRACER_USAGE: err holds one line naming the option once ("--events: unknown event 'x' ...",
 * "--policy: FILE:LINE:COL: KEY: ...", "--events and --policy: give one of them").
 * TRACER_FAILED: out of memory.
 */
enum tracer_collector_status tracer_collector_policy(const char *events, const char *policy_file,
						     struct policy **out, char *err, size_t errlen);

/*
 * --policy-check FILE: resolves the policy file as --policy would and writes one line to out:
 * "FILE: ok: N events (NAME, ...); programs: PROG, ...; optional: PROG, ..." (the emitted
 * events and the BPF programs the tracer would load), or "FILE: ok: no events, the tracer is
 * off". Touches no kernel object, needs no privileges. Returns TRACER_OK or TRACER_OFF (both
 * valid), TRACER_USAGE (err: "--policy-check: FILE:LINE:COL: ..."), TRACER_FAILED (no memory).
 */
enum tracer_collector_status tracer_collector_check_policy(const char *policy_file, FILE *out,
							   char *err, size_t errlen);

/* Resolves the policy (tracer_collector_policy()) and opens the tracer. */
enum tracer_collector_status tracer_collector_create(const struct tracer_collector_opts *opts,
						     struct tracer_collector **out, char *err,
						     size_t errlen);
/* Registers the ring buffer fd and the housekeeping timer. Returns 0 or a negative errno. */
int tracer_collector_attach(struct tracer_collector *tc, struct loop *l, struct pipeline *p);
/*
 * Reads every record left in the events ring (at exit, before the pipeline's last flush, so a
 * record the kernel counted as emitted is also received). NULL is ignored.
 */
void tracer_collector_drain(struct tracer_collector *tc);
/* flowscope_tracer_* counters, per event. Returns 0 or -ENOMEM. */
int tracer_collector_register_counters(struct tracer_collector *tc, struct counters *reg);
struct counter_desc;
/* Every counter family of the group (as rows), for tests of docs/metrics.md. */
const struct counter_desc *tracer_collector_counter_descs(size_t *n);
/* NULL is ignored. */
void tracer_collector_destroy(struct tracer_collector *tc);

#endif /* FLOWSCOPE_TRACER_COLLECTOR_H */
