/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which cgroup hierarchy flows are attributed to (--cgroup-mode auto|v2|v1).
 *
 * The BPF programs always attach to the cgroup v2 hierarchy (cgroup_skb and cgroup/sock_create
 * exist only there). What names a flow's cgroup is the choice:
 *   v2  bpf_skb_cgroup_id(): the socket's v2 cgroup. Right on a unified host.
 *   v1  the v1 memory cgroup of the socket's creator, recorded at cgroup/sock_create. Right on
 *       hybrid and legacy hosts, where runtimes place containers in v1 hierarchies only and the
 *       v2 tree holds everything in one group (every flow would be "/").
 * auto picks v1 when the memory controller is mounted as a v1 hierarchy, v2 otherwise.
 */
#ifndef FLOWSCOPE_CGROUP_MODE_H
#define FLOWSCOPE_CGROUP_MODE_H

#include <limits.h>

enum cgroup_mode {
	CGROUP_MODE_AUTO = 0,
	CGROUP_MODE_V2 = 2,
	CGROUP_MODE_V1 = 1,
};

struct cgroup_mode_choice {
	enum cgroup_mode mode; /* CGROUP_MODE_V1 or CGROUP_MODE_V2, never AUTO */
	char v2_mount[PATH_MAX]; /* the cgroup2 mount (attach point); always set */
	char v1_memory_mount[PATH_MAX]; /* the v1 memory hierarchy's mount; "" when none */
	char reason[2 * PATH_MAX + 200]; /* one line for the startup log: which mode and why */
};

/*
 * Parse "auto", "v2" or "v1" (also "2", "1"). Returns 0, or -EINVAL.
 */
int cgroup_mode_parse(const char *text, enum cgroup_mode *out);

/* "auto", "v2", "v1". */
const char *cgroup_mode_name(enum cgroup_mode mode);

/*
 * Decide from a mounts table (mounts_path: /proc/mounts, or a file of that format in tests).
 * Returns 0 with *out filled, or -ENOENT when no cgroup2 hierarchy is mounted (the programs have
 * nothing to attach to) or when v1 is requested and no v1 memory hierarchy is mounted (out->reason
 * says which), -ENAMETOOLONG, or -errno of opening mounts_path.
 */
int cgroup_mode_choose(enum cgroup_mode requested, const char *mounts_path,
		       struct cgroup_mode_choice *out);

#endif /* FLOWSCOPE_CGROUP_MODE_H */
