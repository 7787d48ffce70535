// SPDX-License-Identifier: Apache-2.0
/* Names of the tracer's events, syscalls and flag bits. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>

#include "event_tracer.h"

static const char *const event_names[TR_EV_MAX] = {
	[TR_EV_SCHED_PROCESS_EXEC] = "sched_process_exec",
	[TR_EV_SCHED_PROCESS_EXEC_FAILED] = "sched_process_exec_failed",
	[TR_EV_SCHED_PROCESS_FORK] = "sched_process_fork",
	[TR_EV_SCHED_PROCESS_EXIT] = "sched_process_exit",
	[TR_EV_TCP_CONNECT] = "tcp_connect",
	[TR_EV_TCP_ACCEPT] = "tcp_accept",
	[TR_EV_TCP_LISTEN] = "tcp_listen",
	[TR_EV_TCP_CLOSE] = "tcp_close",
	[TR_EV_TCP_CONNECT_ERROR] = "tcp_connect_error",
	[TR_EV_TCP_RETRANSMIT] = "tcp_retransmit",
	[TR_EV_CGROUP_MKDIR] = "cgroup_mkdir",
	[TR_EV_CGROUP_RMDIR] = "cgroup_rmdir",
	[TR_EV_CGROUP_ATTACH_TASK] = "cgroup_attach_task",
	[TR_EV_OOM_KILL] = "oom_kill",
	[TR_EV_SIGNAL_GENERATE] = "signal_generate",
	[TR_EV_SYSCALL] = "syscall",
};

static const struct {
	int nr;
	const char *name;
} syscalls[] = {
	{ SYS_connect, "connect" },
	{ SYS_bind, "bind" },
	{ SYS_accept4, "accept4" },
	{ SYS_execve, "execve" },
	{ SYS_execveat, "execveat" },
	{ SYS_ptrace, "ptrace" },
	{ SYS_setuid, "setuid" },
	{ SYS_setgid, "setgid" },
	{ SYS_unshare, "unshare" },
	{ SYS_setns, "setns" },
	{ SYS_mount, "mount" },
	{ SYS_init_module, "init_module" },
	{ SYS_finit_module, "finit_module" },
	{ SYS_bpf, "bpf" },
	{ SYS_memfd_create, "memfd_create" },
	{ SYS_openat, "openat" },
	{ SYS_getppid, "getppid" }, /* the benchmark's traced syscall */
};

const char *event_tracer_event_name(enum tr_event ev)
{
	if ((unsigned)ev >= TR_EV_MAX)
		return NULL;
	return event_names[ev];
}

const char *event_tracer_syscall_name(int nr)
{
	for (size_t i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]); i++)
		if (syscalls[i].nr == nr)
			return syscalls[i].name;
	return NULL;
}

int event_tracer_syscall_nr(const char *name)
{
	for (size_t i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]); i++)
		if (!strcmp(syscalls[i].name, name))
			return syscalls[i].nr;
	return -1;
}

enum tr_event event_tracer_event_id(const char *name, int *nr)
{
	for (int i = 1; i < TR_EV_MAX; i++)
		if (i != TR_EV_SYSCALL && !strcmp(event_names[i], name))
			return i;
	int n = event_tracer_syscall_nr(name);

	if (n >= 0) {
		if (nr)
			*nr = n;
		return TR_EV_SYSCALL;
	}
	return TR_EV_NONE;
}

struct flag_name {
	uint64_t bit;
	const char *name;
};

static const struct flag_name open_flags[] = {
	{ O_WRONLY, "O_WRONLY" },
	{ O_RDWR, "O_RDWR" },
	{ O_CREAT, "O_CREAT" },
	{ O_EXCL, "O_EXCL" },
	{ O_NOCTTY, "O_NOCTTY" },
	{ O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },
	{ O_NONBLOCK, "O_NONBLOCK" },
	{ O_DSYNC, "O_DSYNC" },
	{ O_DIRECT, "O_DIRECT" },
	{ O_LARGEFILE, "O_LARGEFILE" },
	{ O_DIRECTORY, "O_DIRECTORY" },
	{ O_NOFOLLOW, "O_NOFOLLOW" },
	{ O_NOATIME, "O_NOATIME" },
	{ O_CLOEXEC, "O_CLOEXEC" },
	{ O_SYNC, "O_SYNC" },
	{ O_PATH, "O_PATH" },
	{ O_TMPFILE & ~O_DIRECTORY, "O_TMPFILE" },
	{ 0, NULL },
};

static const struct flag_name clone_flags[] = {
	{ CLONE_NEWNS, "CLONE_NEWNS" },
	{ CLONE_NEWCGROUP, "CLONE_NEWCGROUP" },
	{ CLONE_NEWUTS, "CLONE_NEWUTS" },
	{ CLONE_NEWIPC, "CLONE_NEWIPC" },
	{ CLONE_NEWUSER, "CLONE_NEWUSER" },
	{ CLONE_NEWPID, "CLONE_NEWPID" },
	{ CLONE_NEWNET, "CLONE_NEWNET" },
	{ 0x80 /* CLONE_NEWTIME */, "CLONE_NEWTIME" },
	{ CLONE_FILES, "CLONE_FILES" },
	{ CLONE_FS, "CLONE_FS" },
	{ CLONE_SYSVSEM, "CLONE_SYSVSEM" },
	{ CLONE_THREAD, "CLONE_THREAD" },
	{ CLONE_SIGHAND, "CLONE_SIGHAND" },
	{ CLONE_VM, "CLONE_VM" },
	{ 0, NULL },
};

static const struct flag_name mount_flags[] = {
	{ MS_RDONLY, "MS_RDONLY" },
	{ MS_NOSUID, "MS_NOSUID" },
	{ MS_NODEV, "MS_NODEV" },
	{ MS_NOEXEC, "MS_NOEXEC" },
	{ MS_SYNCHRONOUS, "MS_SYNCHRONOUS" },
	{ MS_REMOUNT, "MS_REMOUNT" },
	{ MS_MANDLOCK, "MS_MANDLOCK" },
	{ MS_DIRSYNC, "MS_DIRSYNC" },
	{ MS_NOATIME, "MS_NOATIME" },
	{ MS_NODIRATIME, "MS_NODIRATIME" },
	{ MS_BIND, "MS_BIND" },
	{ MS_MOVE, "MS_MOVE" },
	{ MS_REC, "MS_REC" },
	{ MS_SILENT, "MS_SILENT" },
	{ MS_UNBINDABLE, "MS_UNBINDABLE" },
	{ MS_PRIVATE, "MS_PRIVATE" },
	{ MS_SLAVE, "MS_SLAVE" },
	{ MS_SHARED, "MS_SHARED" },
	{ MS_RELATIME, "MS_RELATIME" },
	{ MS_STRICTATIME, "MS_STRICTATIME" },
	{ 0, NULL },
};

static const struct flag_name memfd_flags[] = {
	{ MFD_CLOEXEC, "MFD_CLOEXEC" },	      { MFD_ALLOW_SEALING, "MFD_ALLOW_SEALING" },
	{ MFD_HUGETLB, "MFD_HUGETLB" },	      { 0x8U /* MFD_NOEXEC_SEAL */, "MFD_NOEXEC_SEAL" },
	{ 0x10U /* MFD_EXEC */, "MFD_EXEC" }, { 0, NULL },
};

const char *event_tracer_flags(const char *kind, uint64_t value, char *buf, size_t len)
{
	const struct flag_name *t = NULL;
	size_t off = 0;
	uint64_t rest = value;

	if (!len)
		return buf;
	buf[0] = 0;
	if (!strcmp(kind, "open"))
		t = open_flags;
	else if (!strcmp(kind, "clone"))
		t = clone_flags;
	else if (!strcmp(kind, "mount"))
		t = mount_flags;
	else if (!strcmp(kind, "memfd"))
		t = memfd_flags;
	if (t) {
		for (; t->name; t++) {
			if ((rest & t->bit) != t->bit || !t->bit)
				continue;
			rest &= ~t->bit;
			int n = snprintf(buf + off, len - off, "%s%s", off ? "|" : "", t->name);

			if (n < 0 || (size_t)n >= len - off)
				return buf;
			off += n;
		}
	}
	if (rest || !off) {
		/* open: O_RDONLY is 0, so a plain read-only open is named */
		if (!value && t == open_flags)
			snprintf(buf, len, "O_RDONLY");
		else
			snprintf(buf + off, len - off, "%s0x%llx", off ? "|" : "",
				 (unsigned long long)rest);
	}
	return buf;
}

const char *event_tracer_bpf_cmd(uint64_t cmd)
{
	static const char *const names[] = {
		[BPF_MAP_CREATE] = "BPF_MAP_CREATE",
		[BPF_MAP_LOOKUP_ELEM] = "BPF_MAP_LOOKUP_ELEM",
		[BPF_MAP_UPDATE_ELEM] = "BPF_MAP_UPDATE_ELEM",
		[BPF_MAP_DELETE_ELEM] = "BPF_MAP_DELETE_ELEM",
		[BPF_MAP_GET_NEXT_KEY] = "BPF_MAP_GET_NEXT_KEY",
		[BPF_PROG_LOAD] = "BPF_PROG_LOAD",
		[BPF_OBJ_PIN] = "BPF_OBJ_PIN",
		[BPF_OBJ_GET] = "BPF_OBJ_GET",
		[BPF_PROG_ATTACH] = "BPF_PROG_ATTACH",
		[BPF_PROG_DETACH] = "BPF_PROG_DETACH",
		[BPF_PROG_TEST_RUN] = "BPF_PROG_TEST_RUN",
		[BPF_PROG_GET_NEXT_ID] = "BPF_PROG_GET_NEXT_ID",
		[BPF_MAP_GET_NEXT_ID] = "BPF_MAP_GET_NEXT_ID",
		[BPF_PROG_GET_FD_BY_ID] = "BPF_PROG_GET_FD_BY_ID",
		[BPF_MAP_GET_FD_BY_ID] = "BPF_MAP_GET_FD_BY_ID",
		[BPF_OBJ_GET_INFO_BY_FD] = "BPF_OBJ_GET_INFO_BY_FD",
		[BPF_PROG_QUERY] = "BPF_PROG_QUERY",
		[BPF_RAW_TRACEPOINT_OPEN] = "BPF_RAW_TRACEPOINT_OPEN",
		[BPF_BTF_LOAD] = "BPF_BTF_LOAD",
		[BPF_BTF_GET_FD_BY_ID] = "BPF_BTF_GET_FD_BY_ID",
		[BPF_TASK_FD_QUERY] = "BPF_TASK_FD_QUERY",
		[BPF_MAP_LOOKUP_AND_DELETE_ELEM] = "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
		[BPF_MAP_FREEZE] = "BPF_MAP_FREEZE",
		[BPF_BTF_GET_NEXT_ID] = "BPF_BTF_GET_NEXT_ID",
		[BPF_MAP_LOOKUP_BATCH] = "BPF_MAP_LOOKUP_BATCH",
		[BPF_MAP_LOOKUP_AND_DELETE_BATCH] = "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
		[BPF_MAP_UPDATE_BATCH] = "BPF_MAP_UPDATE_BATCH",
		[BPF_MAP_DELETE_BATCH] = "BPF_MAP_DELETE_BATCH",
		[BPF_LINK_CREATE] = "BPF_LINK_CREATE",
		[BPF_LINK_UPDATE] = "BPF_LINK_UPDATE",
		[BPF_LINK_GET_FD_BY_ID] = "BPF_LINK_GET_FD_BY_ID",
		[BPF_LINK_GET_NEXT_ID] = "BPF_LINK_GET_NEXT_ID",
		[BPF_ENABLE_STATS] = "BPF_ENABLE_STATS",
		[BPF_ITER_CREATE] = "BPF_ITER_CREATE",
		[BPF_LINK_DETACH] = "BPF_LINK_DETACH",
		[BPF_PROG_BIND_MAP] = "BPF_PROG_BIND_MAP",
	};

	if (cmd >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[cmd];
}

const char *event_tracer_ptrace_request(uint64_t req)
{
	switch (req) {
	case PTRACE_TRACEME:
		return "PTRACE_TRACEME";
	case PTRACE_PEEKTEXT:
		return "PTRACE_PEEKTEXT";
	case PTRACE_PEEKDATA:
		return "PTRACE_PEEKDATA";
	case PTRACE_POKETEXT:
		return "PTRACE_POKETEXT";
	case PTRACE_POKEDATA:
		return "PTRACE_POKEDATA";
	case PTRACE_CONT:
		return "PTRACE_CONT";
	case PTRACE_KILL:
		return "PTRACE_KILL";
	case PTRACE_SINGLESTEP:
		return "PTRACE_SINGLESTEP";
	case PTRACE_ATTACH:
		return "PTRACE_ATTACH";
	case PTRACE_DETACH:
		return "PTRACE_DETACH";
	case PTRACE_SYSCALL:
		return "PTRACE_SYSCALL";
	case PTRACE_SETOPTIONS:
		return "PTRACE_SETOPTIONS";
	case PTRACE_SEIZE:
		return "PTRACE_SEIZE";
	case PTRACE_INTERRUPT:
		return "PTRACE_INTERRUPT";
	default:
		return NULL;
	}
}
