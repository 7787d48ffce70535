/* SPDX-License-Identifier: Apache-2.0 */
/* What the agent needs of the machine before it loads anything: BTF, cgroup v2, capabilities. */
#ifndef FLOWSCOPE_PREREQ_H
#define FLOWSCOPE_PREREQ_H

#include "cgroup_mode.h"
#include "config.h"

/*
 * Checks /sys/kernel/btf/vmlinux, chooses the cgroup mode (--cgroup-mode against /proc/mounts,
 * into *mode) and checks the effective capabilities the configuration needs (docs/deploy.md).
 * Logs what is missing, by name. Returns 0, -ENOENT (no BTF, no cgroup v2 or no v1 memory
 * hierarchy for --cgroup-mode v1), -EPERM (a required capability is missing) or another
 * negative errno.
 */
int prereq_check(const struct config *cfg, struct cgroup_mode_choice *mode);

#endif /* FLOWSCOPE_PREREQ_H */
