// SPDX-License-Identifier: Apache-2.0
/* Pipeline stage: cgroup id -> path, for every record type, in the hierarchy cgroup_version says. */
#include "enrich.h"

static struct cgroup_paths *paths_of(struct enrich_cgroup_paths *cp, uint8_t cgroup_version)
{
	return cgroup_version == 1 && cp->v1 ? cp->v1 : cp->v2;
}

static enum stage_verdict cgroup_process(void *arg, struct record *r)
{
	r->cgroup_path = cgroup_paths_lookup(paths_of(arg, r->cgroup_version), r->cgroup_id);
	return STAGE_PASS;
}

/* Paths are checked again (moved, gone) once per interval. */
static void cgroup_interval_begin(void *arg)
{
	struct enrich_cgroup_paths *cp = arg;

	cgroup_paths_new_generation(cp->v2);
	if (cp->v1)
		cgroup_paths_new_generation(cp->v1);
}

struct pipeline_stage enrich_cgroup_stage(struct enrich_cgroup_paths *cp)
{
	return (struct pipeline_stage){
		.name = "cgroup_path",
		.process = cgroup_process,
		.interval_begin = cgroup_interval_begin,
		.arg = cp,
	};
}
