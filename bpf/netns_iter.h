/* SPDX-License-Identifier: Apache-2.0 */
/*
 * BPF iterators made inside another network namespace. The kernel's per-namespace iterators
 * (iter/tcp, iter/udp) walk the network namespace of the task that creates the iterator's fd
 * (bpf_iter_create()), so a walk of every namespace makes its fds from a short-lived thread that
 * has entered each one with setns(2). The caller's threads never change namespace.
 */
#ifndef FLOWSCOPE_NETNS_ITER_H
#define FLOWSCOPE_NETNS_ITER_H

#include <stdbool.h>
#include <stdint.h>

struct bpf_link;

/*
 * Inode number of this process's own network namespace (/proc/self/ns/net), or 0 when it cannot
 * be read.
 */
uint32_t netns_iter_own(void);

/*
 * True when this process is in the initial PID namespace (its /proc/self/ns/pid inode is the
 * kernel's PROC_PID_INIT_INO). The task and task_file iterators walk the PID namespace of the
 * task that creates them, and /proc/<pid> numbers processes in the mount's: in a PID namespace
 * of its own (a pod without hostPID) a walk of open sockets sees its own processes only.
 */
bool netns_iter_initial_pidns(void);

/*
 * Creates one iterator fd per link (n of them, into fds[]) inside the network namespace whose
 * inode number is inum. pid is a process in it as this process's PID namespace numbers it; the
 * namespace is entered through /proc/<pid>/ns/net, and refused when that is not inum any more
 * (the process is gone and the pid reused, or the kernel's pid names another process here).
 * inum equal to own (netns_iter_own()): no thread, no setns(). Returns 0, or a negative errno
 * with every fd closed and set to -1: -EPERM (no CAP_SYS_ADMIN), -EACCES (another user's
 * process, without CAP_SYS_PTRACE), -ENOENT (no such pid), -ESRCH
 * (pid is in another namespace), -EAGAIN (no thread), or bpf_iter_create()'s.
 */
int netns_iter_create(uint32_t inum, uint32_t pid, uint32_t own, struct bpf_link *const links[],
		      int n, int fds[]);

/*
 * What netns_iter_create()'s error err (a negative errno) says is missing, for a log line:
 * ": setns() needs CAP_SYS_ADMIN" for -EPERM, ": /proc/PID/ns/net of another user's process
 * needs CAP_SYS_PTRACE" for -EACCES, else "".
 */
const char *netns_iter_hint(int err);

#endif /* FLOWSCOPE_NETNS_ITER_H */
