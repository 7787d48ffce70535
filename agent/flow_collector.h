/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User side of bpf/flow.bpf.c: loads and attaches the cgroup programs, and drains the flow map
 * once per interval into flow records.
 */
#ifndef FLOWSCOPE_FLOW_COLLECTOR_H
#define FLOWSCOPE_FLOW_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h> /* flow.h is shared with the BPF side: __u32 types */

#include "counters.h"
#include "flow.h"
#include "record.h"

struct flow_collector;
struct flow_bpf;
struct loop;
struct pipeline;

struct flow_collector_opts {
	const char *cgroup_path; /* cgroup v2 directory the programs attach to */
	uint32_t max_flows; /* flow map bound per interval */
	const uint16_t *dns_ports; /* UDP/TCP ports captured as DNS */
	size_t n_dns_ports;
	uint32_t dns_ringbuf_bytes; /* 0: the default, DNS_RINGBUF_BYTES */
	uint8_t cgroup_mode; /* FLOW_CGROUP_MODE_V2 (0 means the same) or FLOW_CGROUP_MODE_V1 */
	uint32_t dns_capture_max_bytes; /* 0: the default, DNS_CAPTURE_MAX_BYTES_DEFAULT */
	/* the flow_done ring's size in bytes, a power of two of pages; 0: FLOW_DONE_RINGBUF_BYTES */
	uint32_t done_ringbuf_bytes;
};

/*
 * open -> set rodata and map sizes -> load -> attach. On failure returns a negative errno and
 * writes what is missing to err (e.g. "loading BPF programs: Operation not permitted (need
 * CAP_BPF and CAP_NET_ADMIN, or root)").
 */
int flow_collector_create(const struct flow_collector_opts *opts, struct flow_collector **out,
			  char *err, size_t errsz);

/* Detaches (through the bpf_links), leaves the loop and frees. NULL is ignored. */
void flow_collector_destroy(struct flow_collector *fc);

/* The skeleton, for components that share the programs' maps (ring buffer). */
struct flow_bpf *flow_collector_skel(struct flow_collector *fc);

/*
 * Called once per flow with traffic in the interval. The record has the kernel's fields filled
 * (times in Unix epoch ns, counters as deltas for the interval, initiator and owner carried over
 * from earlier intervals); cgroup_path, conntrack and DNS fields are left for the caller.
 */
typedef void (*flow_record_cb)(void *ctx, struct flow_record *r);

/*
 * Ends the interval: makes the next flow map active, reads the flow_done ring to its end and the
 * old parity's flow cache slots, reads the map that was active (batch lookup), calls cb once per
 * flow key (the pieces of a flow from the ring, the slots and the map merged), and replaces the
 * map with an empty one. Returns the number of flows drained or a negative errno. Transactional: the programs are only ever switched to an empty map, and
 * no flow is handed to cb twice; flows that a failed lookup left unread are counted
 * (flowscope_flow_records_lost_total{reason="drain_error"}).
 */
int flow_collector_drain(struct flow_collector *fc, flow_record_cb cb, void *ctx);

/*
 * Sum over CPUs of the BPF-side counters (enum flow_stat), with the agent's shares: the packets
 * the flow cache counted (FLOW_STAT_PACKETS) and the flows beyond --max-flows its table of flow
 * pieces refused (FLOW_STAT_MAP_FULL, _BYTES). Returns 0, or a negative errno from the map
 * lookup, in which case out is left as it was (never a partial or zeroed read).
 */
int flow_collector_stats(struct flow_collector *fc, uint64_t out[FLOW_STAT_MAX]);

/*
 * The flow source: every interval_s seconds the loop calls flow_collector_export(). Records go to
 * p. Returns 0 or a negative errno.
 */
int flow_collector_attach(struct flow_collector *fc, struct loop *l, struct pipeline *p,
			  uint32_t interval_s);

/*
 * One export: pipeline_begin_interval(), drain every flow into the pipeline,
 * pipeline_end_interval(), then a warning for what the kernel could not account. Returns 0 or
 * the drain's negative errno (logged; the next export recovers). Called by the interval timer,
 * and once more at exit (where an error makes the exit status 1).
 */
int flow_collector_export(struct flow_collector *fc);

/* CLOCK_MONOTONIC ns (clock.h) of the last successful export, 0 before the first. */
uint64_t flow_collector_last_export_ns(const struct flow_collector *fc);

/* Registers the flow counters (flowscope_packets_*, flowscope_flow_records_total, ...). */
int flow_collector_register_counters(struct flow_collector *fc, struct counters *reg);

/* The flow counters' table, as registered (for tests/agent/test_counters.c). */
const struct counter_desc *flow_collector_counter_descs(size_t *n);

#endif /* FLOWSCOPE_FLOW_COLLECTOR_H */
