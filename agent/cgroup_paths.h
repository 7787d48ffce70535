/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cgroup v2 hierarchy: where it is mounted, and cgroup id -> path.
 *
 * A cgroup v2 id is the inode number of its directory; ids are never reused while the system is
 * up, so a path once resolved stays right, and a cgroup found gone stays gone.
 */
#ifndef FLOWSCOPE_CGROUP_PATHS_H
#define FLOWSCOPE_CGROUP_PATHS_H

#include <stddef.h>
#include <stdint.h>

struct cgroup_paths;

/*
 * Finds the cgroup2 mount in /proc/mounts (the first one listed) and writes its path to buf.
 * Returns 0, -ENOENT when no cgroup v2 hierarchy is mounted, or -ENAMETOOLONG.
 */
int cgroup_v2_mount(char *buf, size_t size);

/* Returns the cgroup id (inode number) of the cgroup directory at path, or 0 on error. */
uint64_t cgroup_id_of(const char *path);

/* mount: the cgroup v2 mount point (from cgroup_v2_mount()). Returns NULL on ENOMEM or when the
 * mount cannot be opened (errno set). */
struct cgroup_paths *cgroup_paths_new(const char *mount);
void cgroup_paths_free(struct cgroup_paths *cp);

/*
 * Path of cgroup id relative to the v2 root ("/" for the root, "/a/b" below it), or NULL once the
 * cgroup is gone. Resolved with open_by_handle_at(2) on the kernfs file handle and cached; the
 * string stays valid until cgroup_paths_free().
 */
const char *cgroup_paths_lookup(struct cgroup_paths *cp, uint64_t cgroup_id);

/*
 * Starts a new generation: each cached path is checked to still exist (one stat(2)) the first
 * time it is looked up afterwards. The agent calls this once per export interval.
 */
void cgroup_paths_new_generation(struct cgroup_paths *cp);

#endif /* FLOWSCOPE_CGROUP_PATHS_H */
