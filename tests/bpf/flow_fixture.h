/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the flow program tests: running flow_egress/flow_ingress on a crafted frame with
 * BPF_PROG_TEST_RUN, and reading the flow map and the per-CPU stats back.
 */
#ifndef FLOWSCOPE_TESTS_FLOW_FIXTURE_H
#define FLOWSCOPE_TESTS_FLOW_FIXTURE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stdint.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flow.h"
#include "flow_pkt.h"

/* The cgroup v2 id (cgroup directory inode) of the calling process, or 0 with errno set. */
uint64_t fx_self_cgroup_id(void);

/*
 * Finds the cgroup v2 mount point in /proc/mounts. Returns 0, or -ENOENT when cgroup v2 is
 * not mounted.
 */
int fx_cgroup2_mount(char *buf, size_t size);

/*
 * Runs prog once on p like fx_run(), but returns the error of BPF_PROG_TEST_RUN instead of
 * failing: for frames the kernel itself may refuse. A run that happens must still return 1.
 */
int fx_try_run(struct bpf_program *prog, const struct pkt *p, uint32_t gso_segs, uint32_t gso_size);

/*
 * Runs prog once on p (gso_segs and gso_size go to the skb through ctx_in; 0 leaves a plain
 * skb). Fails the test unless the run succeeds and the program returns 1: flowscope never
 * drops a packet.
 */
void fx_run(struct bpf_program *prog, const struct pkt *p, uint32_t gso_segs, uint32_t gso_size);

/* A flow key as the programs build it; laddr/raddr are text, ports host order. */
struct flow_key fx_key(uint64_t cgroup_id, uint8_t proto, const char *laddr, uint16_t lport,
		       const char *raddr, uint16_t rport);

/* Entries in the hash map behind map_fd. */
unsigned int fx_flow_count(int map_fd);

/*
 * Reads the flow_done ring behind ring_fd from now on, as the agent does: fx_flows_collect()
 * takes its records (kept until fx_ring_close()). One ring at a time. Returns 0 or a negative
 * errno.
 */
int fx_ring_open(int ring_fd);

/* Stops reading the ring and forgets its records. */
void fx_ring_close(void);

/*
 * Every flow of `parity` as the agent's drain would see it, merged per key into a new table
 * (agent/flow_table.h; flow_table_destroy() it): the entries of the map behind map_fd, what
 * every CPU's flow cache slots of `parity` (the `flow_cache` map behind cache_fd) hold, and the
 * flow_done records of `parity` read since fx_ring_open(). A piece that is only a mapped slot's
 * counts (no map entry, no whole piece: an orphan) is in the table not whole.
 */
struct flow_table *fx_flows_collect(int map_fd, int cache_fd, uint32_t parity);

/* The number of flows (keys with a whole piece) fx_flows_collect() finds. */
unsigned int fx_flows_count(int map_fd, int cache_fd, uint32_t parity);

/*
 * The flow under k as the agent's drain would read it (fx_flows_collect()). Returns 0, or -1
 * when there is no whole piece of it (no map entry, no cache-only slot, no ring record).
 */
int fx_flow_lookup(int map_fd, int cache_fd, uint32_t parity, const struct flow_key *k,
		   struct flow_value *v);

/*
 * Sum over CPUs of every slot of the `stats` per-CPU array, FLOW_STAT_PACKETS with what the
 * `flow_cache` entries (the map behind cache_fd, every parity) hold of it. Before a drain only:
 * a drain folds and empties the entries (flow_collector_stats() then has the whole count).
 */
void fx_stats(int stats_fd, int cache_fd, uint64_t out[FLOW_STAT_MAX]);

/* Name of a FLOW_STAT_* slot, for messages. */
const char *fx_stat_name(unsigned int idx);

/* CLOCK_MONOTONIC_COARSE in ns: the clock of bpf_ktime_get_coarse_ns(), which stamps flows. */
uint64_t fx_flow_clock_ns(void);

#endif /* FLOWSCOPE_TESTS_FLOW_FIXTURE_H */
