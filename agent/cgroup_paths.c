// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <uthash.h>

#include "cgroup_paths.h"

/* include/linux/exportfs.h: kernfs (cgroup) file handles carry the 64-bit node id */
#define FILEID_KERNFS 0xfe

/* Dropped wholesale past this; a node has far fewer live cgroups. */
#define CGROUP_PATHS_MAX 65536

struct cgroup_entry {
	uint64_t id;
	char *path; /* NULL: gone (or outside our mount) */
	uint64_t checked_gen; /* generation in which path was last seen to exist */
	UT_hash_handle hh;
};

struct cgroup_paths {
	int mount_fd;
	size_t mount_len;
	char mount[PATH_MAX];
	struct cgroup_entry *entries;
	unsigned int count;
	uint64_t gen;
	/* paths replaced or dropped during this generation: freed at the next one, since the
	 * strings handed out stay valid until then */
	char **retired;
	size_t n_retired, cap_retired;
};

/* Keeps path until the next generation. On ENOMEM it is leaked rather than freed early. */
static void retire(struct cgroup_paths *cp, char *path)
{
	if (!path)
		return;
	if (cp->n_retired == cp->cap_retired) {
		size_t cap = cp->cap_retired ? 2 * cp->cap_retired : 64;
		char **r = realloc(cp->retired, cap * sizeof(*r));

		if (!r)
			return;
		cp->retired = r;
		cp->cap_retired = cap;
	}
	cp->retired[cp->n_retired++] = path;
}

static void free_retired(struct cgroup_paths *cp)
{
	for (size_t i = 0; i < cp->n_retired; i++)
		free(cp->retired[i]);
	cp->n_retired = 0;
}

int cgroup_v2_mount(char *buf, size_t size)
{
	struct mntent *m;
	int ret = -ENOENT;
	FILE *f;

	f = setmntent("/proc/mounts", "r");
	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2"))
			continue;
		if (strlen(m->mnt_dir) >= size) {
			ret = -ENAMETOOLONG;
			break;
		}
		strcpy(buf, m->mnt_dir);
		ret = 0;
		break;
	}
	endmntent(f);
	return ret;
}

bool cgroup_v2_is_dir(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

uint64_t cgroup_id_of(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return 0;
	return st.st_ino;
}

struct cgroup_paths *cgroup_paths_create(const char *mount)
{
	struct cgroup_paths *cp = calloc(1, sizeof(*cp));

	if (!cp)
		return NULL;
	snprintf(cp->mount, sizeof(cp->mount), "%s", mount);
	cp->mount_len = strlen(cp->mount);
	while (cp->mount_len > 1 && cp->mount[cp->mount_len - 1] == '/')
		cp->mount[--cp->mount_len] = '\0';
	cp->mount_fd = open(cp->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cp->mount_fd < 0) {
		free(cp);
		return NULL;
	}
	return cp;
}

/* Drops every entry; their paths are retired (still valid until the next generation). */
static void clear_entries(struct cgroup_paths *cp)
{
	struct cgroup_entry *e, *tmp;

	HASH_ITER(hh, cp->entries, e, tmp)
	{
		HASH_DEL(cp->entries, e);
		retire(cp, e->path);
		free(e);
	}
	cp->count = 0;
}

void cgroup_paths_destroy(struct cgroup_paths *cp)
{
	if (!cp)
		return;
	clear_entries(cp);
	free_retired(cp);
	free(cp->retired);
	close(cp->mount_fd);
	free(cp);
}

/*
 * Resolves id into *path (malloc'd, relative to the mount; NULL when the cgroup is outside our
 * mount, in another namespace). Returns 0, -ENOENT when the cgroup is gone (open_by_handle_at:
 * ESTALE or ENOENT), or another negative errno for a failure that says nothing about the cgroup
 * (EMFILE, ENOMEM, ...): the caller asks again later.
 */
static int resolve(struct cgroup_paths *cp, uint64_t id, char **path)
{
	union {
		struct file_handle fh;
		char bytes[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	char link[64], target[PATH_MAX];
	ssize_t n;
	int fd, e;

	*path = NULL;
	h.fh.handle_bytes = sizeof(id);
	h.fh.handle_type = FILEID_KERNFS;
	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(cp->mount_fd, &h.fh, O_RDONLY | O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ESTALE || errno == ENOENT ? -ENOENT : -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	e = errno;
	close(fd);
	if (n <= 0)
		return n < 0 ? -e : -EIO;
	target[n] = '\0';
	if (strncmp(target, cp->mount, cp->mount_len) != 0)
		return 0; /* outside our mount (another namespace): unknown, for good */
	*path = strdup(target[cp->mount_len] ? target + cp->mount_len : "/");
	return *path ? 0 : -ENOMEM;
}

const char *cgroup_paths_lookup(struct cgroup_paths *cp, uint64_t cgroup_id)
{
	struct cgroup_entry *e;
	char *path;
	int ret;

	HASH_FIND(hh, cp->entries, &cgroup_id, sizeof(cgroup_id), e);
	if (e && e->path && e->checked_gen != cp->gen) {
		char full[PATH_MAX];

		snprintf(full, sizeof(full), "%s%s", cp->mount,
			 strcmp(e->path, "/") ? e->path : "");
		if (cgroup_id_of(full) != cgroup_id) {
			/* moved or gone: ask the kernel again; the old string stays valid until the
			 * next generation */
			ret = resolve(cp, cgroup_id, &path);
			if (ret && ret != -ENOENT)
				return NULL; /* no answer now: the entry is checked again later */
			retire(cp, e->path);
			e->path = path;
		}
		e->checked_gen = cp->gen;
	}
	if (e)
		return e->path;
	ret = resolve(cp, cgroup_id, &path);
	if (ret && ret != -ENOENT)
		return NULL; /* not cached: asked again at the next lookup */
	if (cp->count >= CGROUP_PATHS_MAX)
		clear_entries(cp);
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(path);
		return NULL;
	}
	e->id = cgroup_id;
	e->path = path;
	e->checked_gen = cp->gen;
	HASH_ADD(hh, cp->entries, id, sizeof(e->id), e);
	cp->count++;
	return e->path;
}

void cgroup_paths_new_generation(struct cgroup_paths *cp)
{
	free_retired(cp);
	cp->gen++;
}
