/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cgroup v1 memory hierarchy, for --cgroup-mode v1 (hybrid and legacy hosts, where runtimes
 * place containers in v1 hierarchies and the v2 tree holds everything in one group):
 * v1_memory_cgroup_id() names a task's cgroup there, v1_memory_hierarchy() tells whether a
 * cgroup belongs to it. Used by flow.bpf.c (socket owners) and tracer.bpf.c (every event).
 */
#ifndef FLOWSCOPE_CGROUP_V1_BPF_H
#define FLOWSCOPE_CGROUP_V1_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/* memory_cgrp_id as this kernel numbers it (a CO-RE enum value relocation), or -1. */
static __always_inline long v1_memory_subsys(void)
{
	long ss = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	long count = bpf_core_enum_value(enum cgroup_subsys_id, CGROUP_SUBSYS_COUNT);

	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id) || ss < 0 ||
	    ss >= count)
		return -1;
	return ss;
}

/*
 * The id of the task's cgroup in the v1 hierarchy that holds the memory controller (every
 * container runtime places containers in that one): task->cgroups->subsys[memory_cgrp_id]
 * ->cgroup->kn->id. 0 when the kernel has no memory controller.
 */
static __always_inline __u64 v1_memory_cgroup_id(struct task_struct *task)
{
	struct cgroup_subsys_state *css;
	long ss = v1_memory_subsys();

	if (ss < 0)
		return 0;
	css = BPF_CORE_READ(task, cgroups, subsys[ss]);
	if (!css)
		return 0;
	return BPF_CORE_READ(css, cgroup, kn, id);
}

/* True when cgrp lies in a v1 hierarchy (hierarchy_id != 0) with the memory controller. */
static __always_inline bool v1_memory_hierarchy(struct cgroup *cgrp)
{
	long ss = v1_memory_subsys();

	if (ss < 0 || BPF_CORE_READ(cgrp, root, hierarchy_id) == 0)
		return false;
	return (BPF_CORE_READ(cgrp, root, subsys_mask) >> (ss & 31)) & 1;
}

#endif /* FLOWSCOPE_CGROUP_V1_BPF_H */
