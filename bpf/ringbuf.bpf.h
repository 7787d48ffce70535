/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Ring buffer records that are never lost silently: a reservation that finds the ring full
 * counts the loss in a per-CPU counter slot (stats.bpf.h), which user space exports.
 *
 *	struct event *ev = ringbuf_reserve_or_count(&events, sizeof(*ev), &stats, X_STAT_RINGBUF_FULL);
 *	if (!ev)
 *		return;
 *	... fill ev ...
 *	bpf_ringbuf_submit(ev, 0);
 */
#ifndef FLOWSCOPE_RINGBUF_BPF_H
#define FLOWSCOPE_RINGBUF_BPF_H

#include <bpf/bpf_helpers.h>
#include "stats.bpf.h"

/* Defines the ring buffer map `name` of `bytes` bytes (a power of two, a multiple of pages). */
#define RINGBUF_MAP(name, bytes)                    \
	struct {                                    \
		__uint(type, BPF_MAP_TYPE_RINGBUF); \
		__uint(max_entries, bytes);         \
	} name SEC(".maps")

/*
 * Reserves size bytes (a constant at the call site, as bpf_ringbuf_reserve() requires) in the ring
 * buffer map rb. Returns the record, to be submitted or discarded, or NULL after adding 1 to slot
 * of the per-CPU counter map stats when the ring is full.
 */
static __always_inline void *ringbuf_reserve_or_count(void *rb, __u64 size, void *stats, __u32 slot)
{
	void *rec = bpf_ringbuf_reserve(rb, size, 0);

	if (!rec)
		stats_add(stats, slot, 1);
	return rec;
}

#endif /* FLOWSCOPE_RINGBUF_BPF_H */
