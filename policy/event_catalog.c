// SPDX-License-Identifier: Apache-2.0
/*
 * The one table of flowscope's tracer events (issue 10). Every other list of events (the
 * default set, the --events names, docs/tracer.md's table) comes from here.
 *
 * Every emitted event also carries the common context (ts_ns, cgroup_id, cgroup_path, pid, tid,
 * ns_pid, ppid, uid, gid, comm): the task in whose context the event happened, or for TCP
 * events that run in softirq, the socket's owner. `args` holds the parameters below.
 *
 * Decision on failed execs: a separate event, sched_process_exec_failed, not a `ret` field on
 * sched_process_exec. The two have different sources and different costs: a successful exec
 * is reported by the sched_process_exec tracepoint with argv read from the new mm; a failed one
 * never reaches that tracepoint, so its filename and argv are read from the syscall's pointers
 * at sys_exit of execve/execveat when the return value is negative (a failed exec leaves the
 * caller's memory as it was).
 * That needs the sys_enter/sys_exit programs, which cost every syscall of the node a few ns, so
 * the failure event is not in the default set and a policy can take one without the other;
 * consumers of sched_process_exec never see a half-event without argv from the new image.
 */
#include <stddef.h>
#include <string.h>

#include "policy.h"

#define P(n, t, u, d)                                                               \
	{                                                                           \
		.name = (n), .type = POLICY_T_##t, .unit = POLICY_U_##u, .doc = (d) \
	}
#define COUNT_OF(type, ...) (sizeof((type[]){ __VA_ARGS__ }) / sizeof(type))
#define PARAMS(...) \
	.params = { __VA_ARGS__ }, .n_params = COUNT_OF(struct policy_param, __VA_ARGS__)
#define PROGS(...) \
	.progs = { __VA_ARGS__ }, .n_progs = COUNT_OF(struct policy_prog_dep, __VA_ARGS__)
#define DEPS(...) .deps = { __VA_ARGS__ }, .n_deps = COUNT_OF(enum policy_event_id, __VA_ARGS__)
#define REQ(p, w)                                                      \
	{                                                              \
		.prog = POLICY_PROG_##p, .optional = false, .why = (w) \
	}
#define OPT(p, w)                                                     \
	{                                                             \
		.prog = POLICY_PROG_##p, .optional = true, .why = (w) \
	}
#define NO_WATCH .watch_syscalls = { -1 }

/* The 5-tuple every TCP event starts with: local side as src, remote side as dst. */
#define TCP_TUPLE                                                                                 \
	P("ip_version", U8, IP_VERSION, "4 or 6"), P("src_addr", IP_ADDR, NONE, "local address"), \
		P("src_port", U16, PORT, "local port"),                                           \
		P("dst_addr", IP_ADDR, NONE, "remote address (unspecified for tcp_listen)"),      \
		P("dst_port", U16, PORT, "remote port (0 for tcp_listen)")

#define SOCK_STATE_REQ \
	REQ(INET_SOCK_SET_STATE, "the TCP state change (tp_btf: reaches sk_storage in softirq)")
/*
 * Syscall events are made at sys_exit: the saved registers still hold the arguments and the
 * caller's memory is still there (addresses, paths). Only execve/execveat also need sys_enter:
 * a successful exec replaces the memory their pointers lead to.
 */
#define SYSCALL_PROGS REQ(SYS_EXIT, "arguments from the saved registers, and the return value")
#define EXEC_SYSCALL_PROGS                                                                  \
	REQ(SYS_ENTER, "the filename read at entry, before a successful exec replaces it"), \
		SYSCALL_PROGS

#define SYSCALL_RET P("ret", S64, SYSCALL_RET, "return value, or -errno")

static const struct policy_event_def catalog[POLICY_EV_COUNT] = {
	[POLICY_EV_SCHED_PROCESS_EXEC] = {
		.id = POLICY_EV_SCHED_PROCESS_EXEC,
		.name = "sched_process_exec",
		.doc = "a process image was replaced (execve/execveat succeeded); context: the new image",
		.flags = POLICY_EVF_DEFAULT | POLICY_EVF_ARGV | POLICY_EVF_ENV,
		.syscall_nr = -1,
		NO_WATCH,
		.filename_param = "filename",
		PARAMS(P("filename", STR, NONE, "the path given to exec (bprm->filename)"),
		       P("argv", STR_LIST, NONE,
			 "every argument in order, empty ones included, from the new mm (arg_start..arg_end)"),
		       P("argv_truncated", BOOL, NONE,
			 "true only when argv_max_bytes was hit; argv then holds the whole arguments before it"),
		       P("interpreter", STR, NONE,
			 "the interpreter of a #! script (bprm->interp when it differs from filename); empty otherwise"),
		       P("env", STR_LIST, NONE, "environment strings in order; only when the policy's env is true"),
		       P("env_truncated", BOOL, NONE, "true only when env_max_bytes was hit")),
		PROGS(REQ(SCHED_PROCESS_EXEC, "the exec itself; argv and env from the new mm")),
	},
	[POLICY_EV_SCHED_PROCESS_EXEC_FAILED] = {
		.id = POLICY_EV_SCHED_PROCESS_EXEC_FAILED,
		.name = "sched_process_exec_failed",
		.doc = "execve/execveat returned an error (ENOENT, EACCES, ...); context: the calling task",
		.flags = POLICY_EVF_ARGV | POLICY_EVF_ENV,
		.syscall_nr = -1,
		.watch_syscalls = { 59 /* execve */, 322 /* execveat */, -1 },
		.filename_param = "filename",
		PARAMS(P("syscall", STR, NONE, "\"execve\" or \"execveat\""),
		       P("filename", STR, NONE, "the path argument as the caller passed it"),
		       P("argv", STR_LIST, NONE, "every argument in order, read through the caller's argv pointer at exit"),
		       P("argv_truncated", BOOL, NONE, "true only when argv_max_bytes was hit"),
		       P("env", STR_LIST, NONE, "environment strings; only when the policy's env is true"),
		       P("env_truncated", BOOL, NONE, "true only when env_max_bytes was hit"),
		       P("errno", S32, ERRNO, "why it failed (ENOENT = 2, EACCES = 13, ...)")),
		/*
		 * A failed exec leaves the caller's image as it was, so at sys_exit the syscall's
		 * own pointers (in the saved registers) still lead to filename and argv.
		 */
		PROGS(REQ(SYS_EXIT, "the return value (only a negative one makes this event) and, the image being intact, filename and argv from the syscall's pointers")),
	},
	[POLICY_EV_SCHED_PROCESS_FORK] = {
		.id = POLICY_EV_SCHED_PROCESS_FORK,
		.name = "sched_process_fork",
		.doc = "a process or thread was created (fork, vfork, clone); context: the parent",
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(P("parent_pid", U32, PID, "parent's thread-group id"),
		       P("parent_tid", U32, TID, "the thread that forked"),
		       P("child_pid", U32, PID, "child's thread-group id (equals parent_pid for a new thread)"),
		       P("child_tid", U32, TID, "child's thread id")),
		PROGS(REQ(SCHED_PROCESS_FORK, "the fork itself")),
	},
	[POLICY_EV_SCHED_PROCESS_EXIT] = {
		.id = POLICY_EV_SCHED_PROCESS_EXIT,
		.name = "sched_process_exit",
		.doc = "a thread exited (the whole process when group_dead); context: the exiting task",
		.flags = POLICY_EVF_DEFAULT | POLICY_EVF_NEVER_RATE_LIMITED,
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(P("exit_code", S32, EXIT_STATUS, "exit status 0..255 when it exited; 0 when a signal ended it"),
		       P("signal", S32, SIGNAL, "the signal that ended it (SIGKILL = 9); 0 when it exited"),
		       P("core_dumped", BOOL, NONE, "a core dump was written"),
		       P("group_dead", BOOL, NONE, "true: the last thread, the whole process is gone; false: one thread")),
		PROGS(REQ(SCHED_PROCESS_EXIT, "the exit (prototype (task, group_dead) checked from BTF)")),
		DEPS(POLICY_EV_PROCESS_SNAPSHOT),
	},
	[POLICY_EV_TCP_CONNECT] = {
		.id = POLICY_EV_TCP_CONNECT,
		.name = "tcp_connect",
		.doc = "a TCP connect started (CLOSE -> SYN_SENT); context: the connecting task",
		.flags = POLICY_EVF_DEFAULT,
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(TCP_TUPLE),
		/* CLOSE -> SYN_SENT runs in connect()'s (or sendto(MSG_FASTOPEN)'s) context: current is the owner. */
		PROGS(SOCK_STATE_REQ),
	},
	[POLICY_EV_TCP_ACCEPT] = {
		.id = POLICY_EV_TCP_ACCEPT,
		.name = "tcp_accept",
		.doc = "a server's connection was established (SYN_RECV -> ESTABLISHED, softirq); context: the listener's owner",
		.flags = POLICY_EVF_DEFAULT,
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(TCP_TUPLE),
		PROGS(SOCK_STATE_REQ,
		      REQ(SOCK_CREATE,
			  "the server's pid/comm in the listener's sk_storage, cloned to accepted sockets")),
		DEPS(POLICY_EV_SOCKET_OWNER),
	},
	[POLICY_EV_TCP_LISTEN] = {
		.id = POLICY_EV_TCP_LISTEN,
		.name = "tcp_listen",
		.doc = "a socket started listening (CLOSE -> LISTEN, in listen()'s context); context: that task",
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(TCP_TUPLE),
		/* CLOSE -> LISTEN runs in listen()'s context: current is the owner. */
		PROGS(SOCK_STATE_REQ),
	},
	[POLICY_EV_TCP_CLOSE] = {
		.id = POLICY_EV_TCP_CLOSE,
		.name = "tcp_close",
		.doc = "an established connection closed (-> CLOSE); context: the socket's owner",
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(TCP_TUPLE,
		       P("bytes_sent", U64, BYTES, "payload bytes acknowledged by the peer (tcp_sock bytes_acked)"),
		       P("bytes_received", U64, BYTES, "payload bytes received (tcp_sock bytes_received)"),
		       P("duration_ns", U64, NS, "from SYN_SENT/SYN_RECV to CLOSE; 0 for a socket older than the agent")),
		PROGS(SOCK_STATE_REQ,
		      REQ(SOCK_CREATE, "owner and start time in sk_storage (close often runs in softirq)")),
		DEPS(POLICY_EV_SOCKET_OWNER),
	},
	[POLICY_EV_TCP_CONNECT_ERROR] = {
		.id = POLICY_EV_TCP_CONNECT_ERROR,
		.name = "tcp_connect_error",
		.doc = "a connect failed (SYN_SENT -> CLOSE: refused, timed out, unreachable); context: the socket's owner",
		.flags = POLICY_EVF_DEFAULT,
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(TCP_TUPLE,
		       P("errno", S32, ERRNO, "sk_err: ECONNREFUSED = 111, ETIMEDOUT = 110, EHOSTUNREACH = 113")),
		PROGS(SOCK_STATE_REQ,
		      REQ(SOCK_CREATE, "owner in sk_storage (a RST arrives in softirq, a timeout in a timer)")),
		DEPS(POLICY_EV_SOCKET_OWNER),
	},
	[POLICY_EV_TCP_RETRANSMIT] = {
		.id = POLICY_EV_TCP_RETRANSMIT,
		.name = "tcp_retransmit",
		.doc = "a TCP segment was retransmitted; context: the socket's owner",
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(TCP_TUPLE, P("state", U8, TCP_STATE, "the socket's TCP state at the retransmit")),
		PROGS(REQ(TCP_RETRANSMIT_SKB, "the retransmit itself"),
		      REQ(SOCK_CREATE, "owner in sk_storage (retransmits run from timers and softirq)")),
		DEPS(POLICY_EV_SOCKET_OWNER),
	},
	[POLICY_EV_CGROUP_MKDIR] = {
		.id = POLICY_EV_CGROUP_MKDIR,
		.name = "cgroup_mkdir",
		.doc = "a cgroup was created in the hierarchy events are attributed to (v2; --cgroup-mode v1: the v1 memory one); context: the creating task",
		.flags = POLICY_EVF_DEFAULT,
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(P("cgroup_id", U64, CGROUP_ID, "the new cgroup's id"),
		       P("cgroup_path", STR, NONE, "its path inside its hierarchy"),
		       P("hierarchy_id", U32, HIERARCHY_ID, "0 for cgroup v2, else the v1 memory hierarchy's id (--cgroup-mode v1)")),
		PROGS(REQ(CGROUP_MKDIR, "the mkdir itself")),
	},
	[POLICY_EV_CGROUP_RMDIR] = {
		.id = POLICY_EV_CGROUP_RMDIR,
		.name = "cgroup_rmdir",
		.doc = "a cgroup was removed (same hierarchy as cgroup_mkdir); context: the removing task",
		.flags = POLICY_EVF_DEFAULT | POLICY_EVF_NEVER_RATE_LIMITED,
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(P("cgroup_id", U64, CGROUP_ID, "the removed cgroup's id"),
		       P("cgroup_path", STR, NONE, "its path inside its hierarchy"),
		       P("hierarchy_id", U32, HIERARCHY_ID, "0 for cgroup v2, else the v1 memory hierarchy's id (--cgroup-mode v1)")),
		PROGS(REQ(CGROUP_RMDIR, "the rmdir itself")),
	},
	[POLICY_EV_CGROUP_ATTACH_TASK] = {
		.id = POLICY_EV_CGROUP_ATTACH_TASK,
		.name = "cgroup_attach_task",
		.doc = "a task was moved into a cgroup of that hierarchy (kubectl exec, nsenter, systemd); context: the mover",
		.flags = POLICY_EVF_DEFAULT,
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(P("cgroup_id", U64, CGROUP_ID, "destination cgroup's id"),
		       P("cgroup_path", STR, NONE, "destination path inside its hierarchy"),
		       P("hierarchy_id", U32, HIERARCHY_ID, "which hierarchy"),
		       P("pid", U32, PID, "the moved task's thread-group id"),
		       P("tid", U32, TID, "the moved task's thread id"),
		       P("comm", STR, NONE, "the moved task's comm"),
		       P("threadgroup", BOOL, NONE, "the whole thread group was moved")),
		PROGS(REQ(CGROUP_ATTACH_TASK, "the move itself")),
	},
	[POLICY_EV_OOM_KILL] = {
		.id = POLICY_EV_OOM_KILL,
		.name = "oom_kill",
		.doc = "the OOM killer chose a victim (oom:mark_victim); context: the task whose allocation failed",
		.flags = POLICY_EVF_DEFAULT,
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(P("victim_pid", U32, PID, "the victim's thread-group id (from the task pointer, BTF prototype)"),
		       P("victim_comm", STR, NONE, "the victim's comm"),
		       P("victim_uid", U32, UID, "the victim's uid"),
		       P("victim_cgroup_id", U64, CGROUP_ID, "the victim's cgroup id, as cgroup_id (v2, or its v1 memory cgroup under --cgroup-mode v1)"),
		       P("victim_cgroup_path", STR, NONE, "its path, resolved in user space"),
		       P("total_vm_kib", U64, KIB, "the victim's virtual memory size"),
		       P("anon_rss_kib", U64, KIB, "the victim's anonymous resident memory"),
		       P("oom_score_adj", S32, NONE, "the victim's oom_score_adj (-1000..1000)")),
		PROGS(REQ(MARK_VICTIM, "the OOM kill (prototype checked from BTF: a task pointer, not a pid)")),
		DEPS(POLICY_EV_PROCESS_SNAPSHOT),
	},
	[POLICY_EV_SIGNAL_GENERATE] = {
		.id = POLICY_EV_SIGNAL_GENERATE,
		.name = "signal_generate",
		.doc = "a fatal signal was sent to another process; context: the sender",
		.syscall_nr = -1,
		NO_WATCH,
		PARAMS(P("target_pid", U32, PID, "the target's thread-group id"),
		       P("target_tid", U32, TID, "the target thread"),
		       P("target_comm", STR, NONE, "the target's comm"),
		       P("signal", S32, SIGNAL, "the signal number"),
		       P("code", S32, SI_CODE, "si_code (SI_USER = 0 for kill(), SI_KERNEL = 0x80, ...)"),
		       P("result", S32, NONE, "the tracepoint's result: 0 delivered, 1 ignored, 2 already pending, ...")),
		PROGS(REQ(SIGNAL_GENERATE, "the signal itself")),
		DEPS(POLICY_EV_PROCESS_SNAPSHOT),
	},
	[POLICY_EV_SYS_CONNECT] = {
		.id = POLICY_EV_SYS_CONNECT,
		.name = "connect",
		.doc = "connect(2); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 42,
		NO_WATCH,
		PARAMS(P("fd", S32, FD, "the socket"),
		       P("addr", SOCKADDR, NONE, "the address connected to"),
		       P("addrlen", U32, BYTES, "the address length the caller passed"), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_BIND] = {
		.id = POLICY_EV_SYS_BIND,
		.name = "bind",
		.doc = "bind(2); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 49,
		NO_WATCH,
		PARAMS(P("fd", S32, FD, "the socket"),
		       P("addr", SOCKADDR, NONE, "the address bound to"),
		       P("addrlen", U32, BYTES, "the address length the caller passed"), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_ACCEPT4] = {
		.id = POLICY_EV_SYS_ACCEPT4,
		.name = "accept4",
		.doc = "accept4(2); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 288,
		NO_WATCH,
		PARAMS(P("fd", S32, FD, "the listening socket"),
		       P("addr", SOCKADDR, NONE, "the peer's address, read at exit (absent when the caller passed none)"),
		       P("flags", U32, SOCK_FLAGS, "SOCK_NONBLOCK, SOCK_CLOEXEC"),
		       P("ret", S64, SYSCALL_RET, "the new socket's fd, or -errno")),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_EXECVE] = {
		.id = POLICY_EV_SYS_EXECVE,
		.name = "execve",
		.doc = "execve(2), as called (see sched_process_exec for the result); context: the caller",
		.flags = POLICY_EVF_SYSCALL | POLICY_EVF_ARGV,
		.syscall_nr = 59,
		NO_WATCH,
		.filename_param = "filename",
		PARAMS(P("filename", STR, NONE, "the path argument"),
		       P("argv", STR_LIST, NONE, "the arguments, from the caller's pointers at entry"),
		       P("argv_truncated", BOOL, NONE, "true only when argv_max_bytes was hit"),
		       P("ret", S64, SYSCALL_RET, "-errno on failure; 0 when the new image returns from it")),
		PROGS(EXEC_SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_EXECVEAT] = {
		.id = POLICY_EV_SYS_EXECVEAT,
		.name = "execveat",
		.doc = "execveat(2), as called; context: the caller",
		.flags = POLICY_EVF_SYSCALL | POLICY_EVF_ARGV,
		.syscall_nr = 322,
		NO_WATCH,
		.filename_param = "filename",
		PARAMS(P("dirfd", S32, FD, "directory the path is relative to (AT_FDCWD = -100)"),
		       P("filename", STR, NONE, "the path argument (empty with AT_EMPTY_PATH)"),
		       P("argv", STR_LIST, NONE, "the arguments, from the caller's pointers at entry"),
		       P("argv_truncated", BOOL, NONE, "true only when argv_max_bytes was hit"),
		       P("flags", U32, AT_FLAGS, "AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW"),
		       P("ret", S64, SYSCALL_RET, "-errno on failure; 0 when the new image returns from it")),
		PROGS(EXEC_SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_PTRACE] = {
		.id = POLICY_EV_SYS_PTRACE,
		.name = "ptrace",
		.doc = "ptrace(2); context: the tracer",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 101,
		NO_WATCH,
		PARAMS(P("request", S64, PTRACE_REQUEST, "PTRACE_ATTACH, PTRACE_POKETEXT, ..."),
		       P("target_pid", S32, PID, "the tracee (the caller's PID namespace, as passed)"),
		       P("addr", U64, USER_ADDR, "the addr argument"),
		       P("data", U64, USER_ADDR, "the data argument"), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_SETUID] = {
		.id = POLICY_EV_SYS_SETUID,
		.name = "setuid",
		.doc = "setuid(2); context: the caller (uid before the call)",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 105,
		NO_WATCH,
		PARAMS(P("uid", U32, UID, "the uid asked for"), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_SETGID] = {
		.id = POLICY_EV_SYS_SETGID,
		.name = "setgid",
		.doc = "setgid(2); context: the caller (gid before the call)",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 106,
		NO_WATCH,
		PARAMS(P("gid", U32, GID, "the gid asked for"), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_UNSHARE] = {
		.id = POLICY_EV_SYS_UNSHARE,
		.name = "unshare",
		.doc = "unshare(2); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 272,
		NO_WATCH,
		PARAMS(P("flags", U64, CLONE_FLAGS, "CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWUSER, ..."), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_SETNS] = {
		.id = POLICY_EV_SYS_SETNS,
		.name = "setns",
		.doc = "setns(2); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 308,
		NO_WATCH,
		PARAMS(P("fd", S32, FD, "namespace fd or pidfd"),
		       P("nstype", U32, CLONE_FLAGS, "CLONE_NEWNET, ...; 0 for any"), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_MOUNT] = {
		.id = POLICY_EV_SYS_MOUNT,
		.name = "mount",
		.doc = "mount(2); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 165,
		NO_WATCH,
		PARAMS(P("source", STR, NONE, "the source (device, path or name)"),
		       P("target", STR, NONE, "the mount point"),
		       P("fstype", STR, NONE, "the file system type; empty for bind/remount/move"),
		       P("flags", U64, MOUNT_FLAGS, "MS_BIND, MS_REMOUNT, MS_RDONLY, ..."), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_INIT_MODULE] = {
		.id = POLICY_EV_SYS_INIT_MODULE,
		.name = "init_module",
		.doc = "init_module(2): a kernel module loaded from memory; context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 175,
		NO_WATCH,
		PARAMS(P("len", U64, BYTES, "size of the module image"),
		       P("params", STR, NONE, "the module parameters"), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_FINIT_MODULE] = {
		.id = POLICY_EV_SYS_FINIT_MODULE,
		.name = "finit_module",
		.doc = "finit_module(2): a kernel module loaded from a file; context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 313,
		NO_WATCH,
		PARAMS(P("fd", S32, FD, "the module file"),
		       P("params", STR, NONE, "the module parameters"),
		       P("flags", U32, MODULE_FLAGS, "MODULE_INIT_IGNORE_MODVERSIONS, ..."), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_BPF] = {
		.id = POLICY_EV_SYS_BPF,
		.name = "bpf",
		.doc = "bpf(2); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 321,
		NO_WATCH,
		PARAMS(P("cmd", S32, BPF_CMD, "BPF_PROG_LOAD, BPF_MAP_CREATE, ..."),
		       P("size", U32, BYTES, "size of the attr union the caller passed"), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_MEMFD_CREATE] = {
		.id = POLICY_EV_SYS_MEMFD_CREATE,
		.name = "memfd_create",
		.doc = "memfd_create(2) (fileless payloads start here); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 319,
		NO_WATCH,
		PARAMS(P("name", STR, NONE, "the name argument (shown as memfd:NAME in /proc)"),
		       P("flags", U32, MFD_FLAGS, "MFD_CLOEXEC, MFD_ALLOW_SEALING, MFD_EXEC, ..."), SYSCALL_RET),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_SYS_OPENAT] = {
		.id = POLICY_EV_SYS_OPENAT,
		.name = "openat",
		.doc = "openat(2); context: the caller",
		.flags = POLICY_EVF_SYSCALL,
		.syscall_nr = 257,
		NO_WATCH,
		.filename_param = "pathname",
		PARAMS(P("dirfd", S32, FD, "directory the path is relative to (AT_FDCWD = -100)"),
		       P("pathname", STR, NONE, "the path argument"),
		       P("flags", U32, OPEN_FLAGS, "O_RDONLY, O_CREAT, O_TRUNC, ..."),
		       P("mode", U32, FILE_MODE, "permission bits for a new file (with O_CREAT/O_TMPFILE)"),
		       P("ret", S64, SYSCALL_RET, "the new fd, or -errno")),
		PROGS(SYSCALL_PROGS),
	},
	[POLICY_EV_PROCESS_SNAPSHOT] = {
		.id = POLICY_EV_PROCESS_SNAPSHOT,
		.name = "process_snapshot",
		.doc = "internal: processes and sockets that existed before the agent started (pid, ppid, comm, cgroup, socket owners)",
		.flags = POLICY_EVF_INTERNAL,
		.syscall_nr = -1,
		NO_WATCH,
		PROGS(OPT(ITER_TASK, "one pass over every task at start; without it the tracer reads /proc (slower, racy)")),
	},
	[POLICY_EV_SOCKET_OWNER] = {
		.id = POLICY_EV_SOCKET_OWNER,
		.name = "socket_owner",
		.doc = "internal: the creator of each socket (pid, tid, comm, uid, cgroup) in sk_storage, for events in softirq",
		.flags = POLICY_EVF_INTERNAL,
		.syscall_nr = -1,
		NO_WATCH,
		PROGS(REQ(SOCK_CREATE, "records the creator when a socket is made (runs in its context)"),
		      OPT(ITER_TASK_FILE, "finds the first task holding each socket older than the agent; without it those sockets' TCP events name no process (pid 0, the socket's cgroup: docs/records.md)"),
		      OPT(ITER_TCP, "writes those owners into the older sockets' storage, made inside each network namespace they are in (the kernel's TCP iterator covers its creator's); without it their TCP events as above")),
		DEPS(POLICY_EV_PROCESS_SNAPSHOT),
	},
	[POLICY_EV_CGROUP_LIFECYCLE] = {
		.id = POLICY_EV_CGROUP_LIFECYCLE,
		.name = "cgroup_lifecycle",
		.doc = "internal: rate-limit buckets per (cgroup, event), created lazily in the kernel, removed --cgroup-cleanup-delay after the cgroup",
		.flags = POLICY_EVF_INTERNAL,
		.syscall_nr = -1,
		NO_WATCH,
		PROGS(OPT(CGROUP_RMDIR, "frees a removed cgroup's buckets after the delay; without it they stay until the LRU map evicts them")),
	},
	[POLICY_EV_CGROUP_FILTER] = {
		.id = POLICY_EV_CGROUP_FILTER,
		.name = "cgroup_filter",
		.doc = "internal: cgroup_path_prefix filters resolved to cgroup ids in the kernel, at start from the cgroup tree and as cgroups are made; ids removed --cgroup-cleanup-delay after the cgroup",
		.flags = POLICY_EVF_INTERNAL,
		.syscall_nr = -1,
		NO_WATCH,
		PROGS(REQ(CGROUP_MKDIR, "a new cgroup below a prefix joins its parent's filter in the kernel, one whose path is a prefix is added by the agent; without it new cgroups would be filtered out"),
		      OPT(CGROUP_RMDIR, "removes a removed cgroup's id after the delay; without it ids stay until the agent exits")),
	},
};

static const char *const prog_names[POLICY_PROG_COUNT] = {
	[POLICY_PROG_SCHED_PROCESS_EXEC] = "tr_sched_process_exec",
	[POLICY_PROG_SCHED_PROCESS_FORK] = "tr_sched_process_fork",
	[POLICY_PROG_SCHED_PROCESS_EXIT] = "tr_sched_process_exit",
	[POLICY_PROG_SYS_ENTER] = "tr_sys_enter",
	[POLICY_PROG_SYS_EXIT] = "tr_sys_exit",
	[POLICY_PROG_INET_SOCK_SET_STATE] = "tr_inet_sock_set_state",
	[POLICY_PROG_TCP_RETRANSMIT_SKB] = "tr_tcp_retransmit_skb",
	[POLICY_PROG_SOCK_CREATE] = "tr_sock_create",
	[POLICY_PROG_CGROUP_MKDIR] = "tr_cgroup_mkdir",
	[POLICY_PROG_CGROUP_RMDIR] = "tr_cgroup_rmdir",
	[POLICY_PROG_CGROUP_ATTACH_TASK] = "tr_cgroup_attach_task",
	[POLICY_PROG_MARK_VICTIM] = "tr_mark_victim",
	[POLICY_PROG_SIGNAL_GENERATE] = "tr_signal_generate",
	[POLICY_PROG_ITER_TASK] = "tr_iter_task",
	[POLICY_PROG_ITER_TASK_FILE] = "tr_iter_task_file",
	[POLICY_PROG_ITER_TCP] = "tr_iter_tcp",
};

_Static_assert(POLICY_PROG_COUNT <= 64, "a policy_prog_mask holds every program");

static const char *const unit_names[POLICY_U_COUNT] = {
	[POLICY_U_NONE] = "",
	[POLICY_U_NS] = "ns",
	[POLICY_U_BYTES] = "bytes",
	[POLICY_U_KIB] = "KiB",
	[POLICY_U_PID] = "pid (initial PID namespace)",
	[POLICY_U_TID] = "tid (initial PID namespace)",
	[POLICY_U_UID] = "uid",
	[POLICY_U_GID] = "gid",
	[POLICY_U_FD] = "fd",
	[POLICY_U_PORT] = "port",
	[POLICY_U_IP_VERSION] = "IP version",
	[POLICY_U_SIGNAL] = "signal number",
	[POLICY_U_ERRNO] = "errno (positive)",
	[POLICY_U_SYSCALL_RET] = "result or -errno",
	[POLICY_U_EXIT_STATUS] = "exit status 0..255",
	[POLICY_U_CGROUP_ID] = "cgroup id",
	[POLICY_U_HIERARCHY_ID] = "cgroup hierarchy id",
	[POLICY_U_TCP_STATE] = "TCP state",
	[POLICY_U_USER_ADDR] = "user address (hex)",
	[POLICY_U_FILE_MODE] = "mode (octal)",
	[POLICY_U_CLONE_FLAGS] = "CLONE_* flags by name",
	[POLICY_U_OPEN_FLAGS] = "O_* flags by name",
	[POLICY_U_AT_FLAGS] = "AT_* flags by name",
	[POLICY_U_MOUNT_FLAGS] = "MS_* flags by name",
	[POLICY_U_SOCK_FLAGS] = "SOCK_* flags by name",
	[POLICY_U_MFD_FLAGS] = "MFD_* flags by name",
	[POLICY_U_MODULE_FLAGS] = "MODULE_INIT_* flags by name",
	[POLICY_U_PTRACE_REQUEST] = "PTRACE_* request by name",
	[POLICY_U_BPF_CMD] = "BPF_* command by name",
	[POLICY_U_SI_CODE] = "si_code",
};

const struct policy_event_def *policy_event_def(enum policy_event_id id)
{
	if ((int)id <= POLICY_EV_NONE || id >= POLICY_EV_COUNT)
		return NULL;
	return &catalog[id];
}

enum policy_event_id policy_event_by_name(const char *name)
{
	if (!name)
		return POLICY_EV_NONE;
	for (int id = POLICY_EV_NONE + 1; id < POLICY_EV_COUNT; id++)
		if (strcmp(catalog[id].name, name) == 0)
			return (enum policy_event_id)id;
	return POLICY_EV_NONE;
}

enum policy_event_id policy_event_by_syscall(long nr)
{
	if (nr < 0)
		return POLICY_EV_NONE;
	for (int id = POLICY_EV_NONE + 1; id < POLICY_EV_COUNT; id++)
		if ((catalog[id].flags & POLICY_EVF_SYSCALL) && catalog[id].syscall_nr == nr)
			return (enum policy_event_id)id;
	return POLICY_EV_NONE;
}

const char *policy_prog_name(enum policy_prog_id id)
{
	if ((int)id < 0 || id >= POLICY_PROG_COUNT)
		return NULL;
	return prog_names[id];
}

enum policy_prog_id policy_prog_by_name(const char *name)
{
	if (!name)
		return POLICY_PROG_COUNT;
	for (int id = 0; id < POLICY_PROG_COUNT; id++)
		if (strcmp(prog_names[id], name) == 0)
			return (enum policy_prog_id)id;
	return POLICY_PROG_COUNT;
}

const char *policy_unit_str(enum policy_param_unit unit)
{
	if ((int)unit < 0 || unit >= POLICY_U_COUNT || !unit_names[unit])
		return "unknown unit";
	return unit_names[unit];
}
