/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User side of bpf/flow.bpf.c: loads and attaches the cgroup programs, and drains the flow map
 * once per interval into flow records.
 */
#ifndef FLOWSCOPE_FLOW_COLLECTOR_H
#define FLOWSCOPE_FLOW_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "flow.h"
#include "record.h"

struct flow_collector;
struct flow_bpf;

struct flow_collector_opts {
	const char *cgroup_path; /* cgroup v2 directory the programs attach to */
	uint32_t max_flows; /* flow map bound per interval */
	const uint16_t *dns_ports; /* UDP/TCP ports captured as DNS */
	size_t n_dns_ports;
	uint32_t dns_ringbuf_bytes; /* 0: the default, DNS_RINGBUF_BYTES */
	uint8_t cgroup_mode; /* FLOW_CGROUP_MODE_V2 (0 means the same) or FLOW_CGROUP_MODE_V1 */
};

/*
 * open -> set rodata and map sizes -> load -> attach. On failure returns a negative errno and
 * writes what is missing to err (e.g. "loading BPF programs: Operation not permitted (need
 * CAP_BPF and CAP_NET_ADMIN, or root)").
 */
int flow_collector_open(const struct flow_collector_opts *opts, struct flow_collector **out,
			char *err, size_t errsz);

/* Detaches (through the bpf_links) and frees. NULL is ignored. */
void flow_collector_close(struct flow_collector *fc);

/* The skeleton, for components that share the programs' maps (ring buffer). */
struct flow_bpf *flow_collector_skel(struct flow_collector *fc);

/*
 * Called once per flow with traffic in the interval. The record has the kernel's fields filled
 * (times in Unix epoch ns, counters as deltas for the interval, initiator and owner carried over
 * from earlier intervals); cgroup_path, conntrack and DNS fields are left for the caller.
 */
typedef void (*flow_record_cb)(void *ctx, struct flow_record *r);

/*
 * Ends the interval: makes the other flow map active, reads the one that was (batch lookup),
 * calls cb for each flow, and replaces it with an empty map. Returns the number of flows drained
 * or a negative errno.
 */
int flow_collector_drain(struct flow_collector *fc, flow_record_cb cb, void *ctx);

/* Sum over CPUs of the BPF-side counters (enum flow_stat). */
void flow_collector_stats(struct flow_collector *fc, uint64_t out[FLOW_STAT_MAX]);

/* Converts a bpf_ktime_get_boot_ns() timestamp to Unix epoch ns (offset read at call time). */
uint64_t boot_ns_to_epoch_ns(uint64_t boot_ns);

#endif /* FLOWSCOPE_FLOW_COLLECTOR_H */
