// SPDX-License-Identifier: Apache-2.0
/* BPF iterators made inside another network namespace (netns_iter.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "netns_iter.h"

struct netns_enter {
	uint32_t inum, pid;
	bool enter; /* false: the caller's own namespace */
	struct bpf_link *const *links;
	int n;
	int *fds;
	int err; /* a negative errno */
};

uint32_t netns_iter_own(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) == 0 ? (uint32_t)st.st_ino : 0;
}

/* include/linux/proc_ns.h: the initial PID namespace's fixed inode number */
#define PROC_PID_INIT_INO 0xEFFFFFFCU

bool netns_iter_initial_pidns(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) == 0 && st.st_ino == PROC_PID_INIT_INO;
}

static void make_fds(struct netns_enter *e)
{
	for (int i = 0; i < e->n && !e->err; i++) {
		e->fds[i] = bpf_iter_create(bpf_link__fd(e->links[i]));
		if (e->fds[i] < 0)
			e->err = -errno;
	}
}

/*
 * Thread body: setns() into the namespace, then the fds. Its own thread so that the caller's
 * never changes namespace; it ends as soon as the fds are made (the namespace is read at
 * creation, the fds stay valid in any thread).
 */
static void *enter_thread(void *arg)
{
	struct netns_enter *e = arg;
	char path[64];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/ns/net", e->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e->err = -errno;
		return NULL;
	}
	if (fstat(fd, &st) || st.st_ino != e->inum)
		e->err = -ESRCH;
	else if (setns(fd, CLONE_NEWNET))
		e->err = -errno;
	close(fd);
	if (!e->err)
		make_fds(e);
	return NULL;
}

const char *netns_iter_hint(int err)
{
	if (err == -EPERM)
		return ": setns() needs CAP_SYS_ADMIN";
	if (err == -EACCES)
		return ": /proc/PID/ns/net of another user's process needs CAP_SYS_PTRACE";
	return "";
}

int netns_iter_create(uint32_t inum, uint32_t pid, uint32_t own, struct bpf_link *const links[],
		      int n, int fds[])
{
	struct netns_enter e = {
		.inum = inum, .pid = pid, .enter = inum != own, .links = links, .n = n, .fds = fds
	};
	pthread_t th;

	for (int i = 0; i < n; i++)
		fds[i] = -1;
	if (!e.enter)
		make_fds(&e);
	else if (pthread_create(&th, NULL, enter_thread, &e))
		e.err = -EAGAIN;
	else
		pthread_join(th, NULL);
	if (e.err) {
		for (int i = 0; i < n; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
		}
	}
	return e.err;
}
