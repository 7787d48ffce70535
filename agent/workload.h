/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workload of records (container, pod) from identity/ (fs_identity), and the local peer's pod of
 * flows. The agent's side of identity: which cgroup hierarchy an id belongs to, when a cgroup is
 * gone, and the record_workload each record points at.
 *
 * Cgroup ids of the v1 memory hierarchy and of v2 are numbered apart by the kernel and can be
 * equal; the identity cache is keyed by (cgroup_version, cgroup_id), packed as the id with bit
 * 63 set for v1 (kernfs ids stay far below: 32-bit inode numbers, a generation above them).
 */
#ifndef FLOWSCOPE_WORKLOAD_H
#define FLOWSCOPE_WORKLOAD_H

#include <stdint.h>

#include "record.h"

struct workload;
struct cgroup_paths;

struct workload_opts {
	const char *pod_logs_dir; /* NULL: /var/log/pods */
	const char *container_logs_dir; /* NULL: /var/log/containers */
	uint64_t cleanup_delay_ns; /* a removed cgroup keeps resolving this long */
	uint32_t max_flows; /* bound of the peer index per interval */
	struct cgroup_paths *paths_v2;
	struct cgroup_paths *paths_v1; /* NULL unless --cgroup-mode v1 */
};

/* Returns 0, or a negative errno (identity_create()). */
int workload_new(const struct workload_opts *opts, uint64_t now_ns, struct workload **out);
void workload_free(struct workload *w);

/* For the loop's epoll: call workload_process() when readable, and once a second. */
int workload_fd(const struct workload *w);
void workload_process(struct workload *w, uint64_t now_ns);

/* Starts an interval's flows: forget the last interval's tuples. */
void workload_begin_flows(struct workload *w);

/* A flow of this interval, before any is enriched (its tuple as its socket saw it). */
void workload_add_flow(struct workload *w, const struct flow_record *r);

/*
 * Fills r->workload (pointing at *storage) and, for the remote end of a local flow,
 * r->dst_pod_namespace/name. cgroup_path must be set already (NULL: the cgroup is gone, which
 * starts its cleanup delay). The strings stay valid until the next workload_process().
 */
void workload_enrich_flow(struct workload *w, struct flow_record *r,
			  struct record_workload *storage, uint64_t now_ns);

/* The same for a DNS record. */
void workload_enrich_dns(struct workload *w, struct dns_record *r, struct record_workload *storage,
			 uint64_t now_ns);

struct workload_stats {
	uint32_t entries; /* gauge: cgroups cached (live and removed) */
	uint32_t removed_entries; /* gauge: removed, within the cleanup delay */
	uint32_t pods; /* gauge: pods known from the log directories */
	uint32_t containers; /* gauge */
	uint64_t expirations;
	uint64_t unresolved;
	uint64_t rejected_names; /* pod directories and container links not in kubelet's form */
	uint64_t inotify_overflows;
	uint64_t local_peers; /* flows whose remote end was found on this node */
	uint64_t peer_index_full; /* flows not indexed: more than max_flows in an interval */
	uint64_t last_load_ns; /* the last complete load of the log directories */
	bool loading;
};

void workload_stats(const struct workload *w, struct workload_stats *out);

#endif /* FLOWSCOPE_WORKLOAD_H */
