/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cgroup v2 hierarchy: where it is mounted, and cgroup id -> path.
 *
 * A cgroup v2 id is the inode number of its directory; ids are never reused while the system is
 * up, so a cgroup found gone stays gone. A path is checked again once per generation.
 */
#ifndef FLOWSCOPE_CGROUP_PATHS_H
#define FLOWSCOPE_CGROUP_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cgroup_paths;

/*
 * Finds the cgroup2 mount in /proc/mounts (the first one listed) and writes its path to buf.
 * Returns 0, -ENOENT when no cgroup v2 hierarchy is mounted, or -ENAMETOOLONG.
 */
int cgroup_v2_mount(char *buf, size_t size);

/* True when path is a directory of a cgroup v2 hierarchy (statfs(2) f_type CGROUP2_SUPER_MAGIC). */
bool cgroup_v2_is_dir(const char *path);

/* Returns the cgroup id (inode number) of the cgroup directory at path, or 0 on error. */
uint64_t cgroup_id_of(const char *path);

/* mount: the cgroup v2 mount point (from cgroup_v2_mount()). Returns NULL on ENOMEM or when the
 * mount cannot be opened (errno set). */
struct cgroup_paths *cgroup_paths_create(const char *mount);
void cgroup_paths_destroy(struct cgroup_paths *cp);

/*
 * Path of cgroup id relative to the v2 root ("/" for the root, "/a/b" below it), or NULL when it
 * is not known: the cgroup is gone (cached: open_by_handle_at(2) said ESTALE or ENOENT), it lies
 * outside the mount (cached), or the lookup failed for another reason (EMFILE, ENOMEM: not
 * cached, asked again at the next lookup). Resolved with open_by_handle_at(2) on the kernfs file
 * handle and cached. The string stays valid until the next cgroup_paths_new_generation() or
 * cgroup_paths_destroy(), whichever comes first; keep a copy to hold it longer.
 */
const char *cgroup_paths_lookup(struct cgroup_paths *cp, uint64_t cgroup_id);

/*
 * Starts a new generation: each cached path is checked to still exist (one stat(2)) the first
 * time it is looked up afterwards, and the strings replaced or dropped during the last one are
 * freed. The agent calls this once per export interval (the cgroup_path stage's interval_begin).
 */
void cgroup_paths_new_generation(struct cgroup_paths *cp);

#endif /* FLOWSCOPE_CGROUP_PATHS_H */
