// SPDX-License-Identifier: Apache-2.0
/* Pipeline stage: cgroup id -> path, for every record type. */
#include "enrich.h"

static enum stage_verdict cgroup_process(void *arg, struct record *r)
{
	r->cgroup_path = cgroup_paths_lookup(arg, r->cgroup_id);
	return STAGE_PASS;
}

/* Paths are checked again (moved, gone) once per interval. */
static void cgroup_interval_begin(void *arg)
{
	cgroup_paths_new_generation(arg);
}

struct pipeline_stage enrich_cgroup_stage(struct cgroup_paths *cp)
{
	return (struct pipeline_stage){
		.name = "cgroup_path",
		.process = cgroup_process,
		.interval_begin = cgroup_interval_begin,
		.arg = cp,
	};
}
