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

/* cgroup_path of every record from its cgroup_id; a new path generation each interval. */
struct pipeline_stage enrich_cgroup_stage(struct cgroup_paths *cp);

/*
 * nat: the actual endpoints of flows from conntrack (ct stays the caller's). A flow the table
 * does not know is deferred while a point GET asks the kernel (at most 250 ms, the GET's
 * deadline), then resumed. Registers the conntrack socket and a 1 s timer (grace-period expiry,
 * refresh dumps) with l, and the conntrack counters with reg. Returns NULL on ENOMEM or -errno
 * from the loop (errno set).
 */
struct enrich_nat *enrich_nat_new(struct ct_nat *ct, struct loop *l, struct counters *reg);
/* Drops (counted) what is still deferred: call pipeline_flush() first, which resumes it. */
void enrich_nat_free(struct enrich_nat *n);
struct pipeline_stage enrich_nat_stage(struct enrich_nat *n);

/* dst_domain of flows: the name the flow's cgroup resolved to its destination (dc's cache). */
struct pipeline_stage enrich_domain_stage(struct dns_collector *dc);

/* The conntrack counters' table, as registered (for tests/agent/test_counters.c). */
const struct counter_desc *enrich_nat_counter_descs(size_t *n);

#endif /* FLOWSCOPE_ENRICH_H */
