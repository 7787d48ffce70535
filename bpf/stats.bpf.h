/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-CPU counters for BPF programs: a BPF_MAP_TYPE_PERCPU_ARRAY of __u64 slots that user space
 * sums over CPUs. A program counts without atomics or contention; slot numbers are an enum that
 * the program and user space share (e.g. enum flow_stat in flow.h).
 *
 *	STATS_MAP(stats, FLOW_STAT_MAX);
 *	...
 *	stats_add(&stats, FLOW_STAT_MALFORMED, 1);
 */
#ifndef FLOWSCOPE_STATS_BPF_H
#define FLOWSCOPE_STATS_BPF_H

#include <bpf/bpf_helpers.h>

/* Defines the per-CPU counter map `name` with `slots` __u64 slots. */
#define STATS_MAP(name, slots)                           \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
		__uint(max_entries, slots);              \
		__type(key, __u32);                      \
		__type(value, __u64);                    \
	} name SEC(".maps")

/*
 * Adds n to slot of the per-CPU counter map (a STATS_MAP). A slot out of range is ignored: the
 * lookup fails, and the verifier needs the NULL check anyway.
 */
static __always_inline void stats_add(void *map, __u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, &slot);

	if (v)
		*v += n;
}

#endif /* FLOWSCOPE_STATS_BPF_H */
