// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>

#include "cgroup_mode.h"

int cgroup_mode_parse(const char *text, enum cgroup_mode *out)
{
	if (!strcmp(text, "auto"))
		*out = CGROUP_MODE_AUTO;
	else if (!strcmp(text, "v2") || !strcmp(text, "2"))
		*out = CGROUP_MODE_V2;
	else if (!strcmp(text, "v1") || !strcmp(text, "1"))
		*out = CGROUP_MODE_V1;
	else
		return -EINVAL;
	return 0;
}

const char *cgroup_mode_name(enum cgroup_mode mode)
{
	switch (mode) {
	case CGROUP_MODE_V2:
		return "v2";
	case CGROUP_MODE_V1:
		return "v1";
	default:
		return "auto";
	}
}

static int copy(char *dst, size_t size, const char *src)
{
	if (strlen(src) >= size)
		return -ENAMETOOLONG;
	strcpy(dst, src);
	return 0;
}

int cgroup_mode_choose(enum cgroup_mode requested, const char *mounts_path,
		       struct cgroup_mode_choice *out)
{
	struct mntent *m;
	int err = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	f = setmntent(mounts_path, "r");
	if (!f)
		return -errno;
	/* the first of each, as the kernel lists them */
	while ((m = getmntent(f)) && !err) {
		if (!strcmp(m->mnt_type, "cgroup2") && !out->v2_mount[0])
			err = copy(out->v2_mount, sizeof(out->v2_mount), m->mnt_dir);
		else if (!strcmp(m->mnt_type, "cgroup") && hasmntopt(m, "memory") &&
			 !out->v1_memory_mount[0])
			err = copy(out->v1_memory_mount, sizeof(out->v1_memory_mount), m->mnt_dir);
	}
	endmntent(f);
	if (err)
		return err;
	if (!out->v2_mount[0]) {
		snprintf(out->reason, sizeof(out->reason),
			 "no cgroup v2 hierarchy mounted (no cgroup2 entry in %s): the programs "
			 "attach to one",
			 mounts_path);
		return -ENOENT;
	}
	switch (requested) {
	case CGROUP_MODE_V2:
		out->mode = CGROUP_MODE_V2;
		snprintf(out->reason, sizeof(out->reason),
			 "cgroup mode v2 (--cgroup-mode v2): flows are attributed to cgroup v2 "
			 "groups under %s",
			 out->v2_mount);
		return 0;
	case CGROUP_MODE_V1:
		if (!out->v1_memory_mount[0]) {
			snprintf(out->reason, sizeof(out->reason),
				 "--cgroup-mode v1: no cgroup v1 memory hierarchy is mounted "
				 "(no cgroup entry with the memory option in %s)",
				 mounts_path);
			return -ENOENT;
		}
		out->mode = CGROUP_MODE_V1;
		snprintf(out->reason, sizeof(out->reason),
			 "cgroup mode v1 (--cgroup-mode v1): flows are attributed to the socket "
			 "creator's v1 memory cgroup under %s",
			 out->v1_memory_mount);
		return 0;
	default:
		if (out->v1_memory_mount[0]) {
			out->mode = CGROUP_MODE_V1;
			snprintf(out->reason, sizeof(out->reason),
				 "cgroup mode v1 (auto): the memory controller is mounted as a v1 "
				 "hierarchy at %s, so runtimes place containers there and the v2 "
				 "tree "
				 "at %s does not tell them apart",
				 out->v1_memory_mount, out->v2_mount);
		} else {
			out->mode = CGROUP_MODE_V2;
			snprintf(out->reason, sizeof(out->reason),
				 "cgroup mode v2 (auto): unified host, no v1 memory hierarchy; "
				 "cgroup2 at %s",
				 out->v2_mount);
		}
		return 0;
	}
}
