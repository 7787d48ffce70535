// SPDX-License-Identifier: Apache-2.0
/* What the agent needs before it loads anything: BTF, a cgroup v2 mount, capabilities. */
#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/stat.h>

#include "caps.h"
#include "log.h"
#include "prereq.h"

/* What each capability is for (docs/deploy.md), and how a missing one is logged: a missing
 * required one (LOG_LEVEL_ERROR) stops the agent. */
static const struct {
	int cap;
	const char *name;
	const char *what;
	enum log_level missing; /* ERROR: required */
} capabilities[] = {
	{ CAP_BPF, "CAP_BPF", "creating BPF maps, loading BTF and the programs", LOG_LEVEL_ERROR },
	{ CAP_PERFMON, "CAP_PERFMON", "cgroup/sock_create reading the creating task",
	  LOG_LEVEL_ERROR },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN",
	  "attaching the cgroup_skb and cgroup/sock_create programs, conntrack over netlink",
	  LOG_LEVEL_ERROR },
	{ CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH",
	  "open_by_handle_at() for cgroup_path: without it every cgroup_path is null",
	  LOG_LEVEL_WARN },
	/* debug only: kernels since 5.11 charge BPF memory to the memory cgroup instead, and
	 * libbpf names RLIMIT_MEMLOCK itself where a load still fails on it */
	{ CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE",
	  "raising RLIMIT_MEMLOCK on kernels that still charge BPF memory to it", LOG_LEVEL_DEBUG },
};

/* Names every missing capability; a missing required one fails the start (exit 1). */
static int check_capabilities(const struct config *cfg)
{
	uint64_t eff;
	int ret = caps_effective(&eff), missing = 0;

	if (ret) {
		LOG_ERR("reading the agent's capabilities (capget): %s", strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < sizeof(capabilities) / sizeof(capabilities[0]); i++) {
		if (eff & (1ull << capabilities[i].cap))
			continue;
		log_msg(capabilities[i].missing, "missing capability %s, needed for %s",
			capabilities[i].name, capabilities[i].what);
		if (capabilities[i].missing == LOG_LEVEL_ERROR)
			missing++;
	}
	if (cfg->conntrack && cfg->conntrack_netns && !(eff & (1ull << CAP_SYS_ADMIN))) {
		LOG_ERR("missing capability CAP_SYS_ADMIN, needed for --conntrack-netns (setns)");
		missing++;
	}
	if (missing) {
		LOG_ERR("missing privileges: flowscope needs CAP_BPF, CAP_PERFMON and "
			"CAP_NET_ADMIN "
			"(see docs/deploy.md)");
		return -EPERM;
	}
	return 0;
}

/* The kernel must describe itself (BTF) for the CO-RE programs to load. */
int prereq_check(const struct config *cfg, struct cgroup_mode_choice *mode)
{
	struct stat st;
	int ret;

	if (stat("/sys/kernel/btf/vmlinux", &st)) {
		LOG_ERR("missing kernel BTF: /sys/kernel/btf/vmlinux not found (the kernel needs "
			"CONFIG_DEBUG_INFO_BTF=y)");
		return -ENOENT;
	}
	ret = cgroup_mode_choose(cfg->cgroup_mode, "/proc/mounts", mode);
	if (ret == -ENOENT && !mode->v2_mount[0]) {
		LOG_ERR("no cgroup v2 hierarchy mounted (no cgroup2 entry in /proc/mounts); mount "
			"one, e.g. mount -t cgroup2 none /sys/fs/cgroup/unified");
		return ret;
	}
	if (ret) {
		LOG_ERR("%s", ret == -ENOENT ? mode->reason : strerror(-ret));
		return ret;
	}
	return check_capabilities(cfg);
}
