/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrichment stages of the record pipeline (pipeline.h), each a small part with a _new/_free
 * pair and a pipeline_stage to add. main.c adds them in this order:
 *
 *   cgroup_path (every type) -> nat (flows; conntrack) -> dst_domain (flows; DNS names)
 *
 * dst_domain comes after nat because a NAT'd flow is named by its actual destination when the
 * addressed one has no name.
 */
#ifndef FLOWSCOPE_ENRICH_H
#define FLOWSCOPE_ENRICH_H

#include "cgroup_paths.h"
#include "counters.h"
#include "pipeline.h"

struct loop;
struct ct_nat;
struct dns_collector;
struct enrich_domain;

/* The hierarchies' paths: v2, and with --cgroup-mode v1 the v1 memory hierarchy's (else NULL). */
struct enrich_cgroup_paths {
	struct cgroup_paths *v2;
	struct cgroup_paths *v1;
};

/*
 * cgroup_path of every record from its cgroup_id, in the hierarchy of its cgroup_version; a new
 * path generation each interval. cp stays the caller's.
 */
struct pipeline_stage enrich_cgroup_stage(struct enrich_cgroup_paths *cp);

struct enrich_identity_opts {
	const char *pod_logs_dir; /* NULL: /var/log/pods */
	const char *container_logs_dir; /* NULL: /var/log/containers */
	uint64_t cleanup_delay_ns; /* a removed cgroup keeps resolving this long; 0: 60 s */
	uint32_t max_flows; /* flows held per interval for the local-peer match */
	struct enrich_cgroup_paths *paths; /* for the peer's cgroup path */
};

/*
 * workload (container and pod, identity/) of flows and DNS records, and dst_pod_namespace/name of
 * flows whose other end is a flow of this node too. Two stages: the index one first, the workload
 * one last. Flows reaching the last during the export are held (record_dup()) until the
 * interval's end, then enriched and resumed together; a flow that cannot be held goes on at once
 * without a peer (counted). Registers the identity fd and a 1 s timer with l, its counters with
 * reg. Returns NULL with errno set.
 */
struct enrich_identity *enrich_identity_create(const struct enrich_identity_opts *opts,
					       struct loop *l, struct counters *reg);
void enrich_identity_destroy(struct enrich_identity *e);
/* Added last: the workload. */
struct pipeline_stage enrich_identity_stage(struct enrich_identity *e);
/* Added first, before any stage that may defer: indexes every flow for the local-peer match. */
struct pipeline_stage enrich_identity_index_stage(struct enrich_identity *e);

/* The identity counters' table, as registered (for tests/agent/test_counters.c). */
const struct counter_desc *enrich_identity_counter_descs(size_t *n);

/*
 * nat: the actual endpoints of flows from conntrack (ct stays the caller's). A flow the table
 * does not know while conntrack's event stream is not known whole is deferred while a point GET
 * asks the kernel (at most 250 ms, the GET's deadline), then resumed (ct_nat_resolve()). Registers the conntrack socket and a 1 s timer (grace-period expiry,
 * refresh dumps) with l, and the conntrack counters with reg. Returns NULL on ENOMEM or -errno
 * from the loop (errno set).
 */
struct enrich_nat *enrich_nat_create(struct ct_nat *ct, struct loop *l, struct counters *reg);
/* Drops (counted) what is still deferred: call pipeline_flush() first, which resumes it. */
void enrich_nat_destroy(struct enrich_nat *n);
struct pipeline_stage enrich_nat_stage(struct enrich_nat *n);

/*
 * dst_domain of flows: the name the flow's cgroup resolved to its destination (dc's cache, which
 * stays the caller's). Returns NULL with errno ENOMEM.
 */
struct enrich_domain *enrich_domain_create(struct dns_collector *dc);
/* NULL is accepted. */
void enrich_domain_destroy(struct enrich_domain *d);
struct pipeline_stage enrich_domain_stage(struct enrich_domain *d);

/* The conntrack counters' table, as registered (for tests/agent/test_counters.c). */
const struct counter_desc *enrich_nat_counter_descs(size_t *n);

#endif /* FLOWSCOPE_ENRICH_H */
