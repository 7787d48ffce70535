/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Shared between tracer.bpf.c and the tracer library: event ids, limits and the records that
 * cross the `events` ring buffer. Every record starts with struct tr_hdr; hdr.size is the
 * record's length in bytes (the variable part of exec records included).
 */
#ifndef FLOWSCOPE_TRACER_H
#define FLOWSCOPE_TRACER_H

#define TR_COMM_LEN 16
/* Paths (exec filename, interpreter, syscall path arguments) are cut at this length, NUL
 * included; a cut one has TR_F_PATH_TRUNCATED set. */
#define TR_PATH_MAX 4096
/* The largest argv (+ env) area an exec record can carry, whatever the policy asks. */
#define TR_ARGV_CAP 65536
/* Default argv bound (the policy's `argv_max_bytes`): argv beyond it sets argv_truncated. */
#define TR_ARGV_DEFAULT 32768
/* argv is read from the new mm in chunks of this size (a fault costs only its chunk). */
#define TR_ARGV_CHUNK 4096
/* Arguments read from a failed execve's argv pointer array, and their strings' length. */
#define TR_FAILED_ARGC_MAX 256
#define TR_FAILED_ARG_MAX 4096
/* Syscall numbers with a "wanted" bit (x86_64 has fewer than 512). */
#define TR_SYSCALL_MAX 512
#define TR_SYSCALL_WORDS (TR_SYSCALL_MAX / 64)
/* Strings in a syscall record. */
#define TR_SYS_STR_MAX 256
#define TR_SYS_STRS 3
#define TR_SOCKADDR_MAX 28 /* sizeof(struct sockaddr_in6) */
#define TR_DEFAULT_RINGBUF_BYTES (8 << 20)
#define TR_DEBUG_RINGBUF_BYTES (256 << 10)
#define TR_RATE_MAX_ENTRIES 16384
#define TR_PENDING_MAX_ENTRIES 16384
/* cgroup ids in the kernel's cgroup filter (`cgroup_allow`): a policy's prefixes, resolved. */
#define TR_CGROUP_ALLOW_MAX 16384
/* Entries of the comm and uid filter maps (every event's lists together). */
#define TR_FILTER_MAX_ENTRIES 8192
/* Bytes of a filename prefix filter, NUL included (the policy's bound is 255). */
#define TR_PREFIX_MAX 256
/* Distinct cgroup filter sets (bits of a cgroup_allow value). */
#define TR_CGROUP_SETS 64
/*
 * The scope bit of a cgroup_allow value (--cgroup-root, cgroup v2): the cgroup is the root or
 * below it. The filter sets then have bits 0..62 (TR_CGROUP_SETS - 1 sets).
 */
#define TR_SCOPE_BIT (1ULL << 63)
/* Default env bound (the policy's `env_max_bytes`): env beyond it sets env_truncated. */
#define TR_ENV_DEFAULT 32768

/*
 * Event ids: the index into the per-event rodata and the stats array. Names (the policy's
 * catalogue) follow kvisor/tracee; tracer/tracer_events.c maps names to these ids.
 */
enum tr_event {
	TR_EV_NONE = 0,
	TR_EV_SCHED_PROCESS_EXEC,
	TR_EV_SCHED_PROCESS_EXEC_FAILED,
	TR_EV_SCHED_PROCESS_FORK,
	TR_EV_SCHED_PROCESS_EXIT,
	TR_EV_TCP_CONNECT,
	TR_EV_TCP_ACCEPT,
	TR_EV_TCP_LISTEN,
	TR_EV_TCP_CLOSE,
	TR_EV_TCP_CONNECT_ERROR,
	TR_EV_TCP_RETRANSMIT,
	TR_EV_CGROUP_MKDIR,
	TR_EV_CGROUP_RMDIR,
	TR_EV_CGROUP_ATTACH_TASK,
	TR_EV_OOM_KILL,
	TR_EV_SIGNAL_GENERATE,
	TR_EV_SYSCALL, /* one id for every syscall event; tr_syscall.nr says which */
	TR_EV_MAX,
};

/* Per-event counters (the per-CPU `stats` array, index event * TR_STAT_MAX + stat). */
enum tr_stat {
	TR_STAT_EMITTED, /* records put into the ring buffer */
	TR_STAT_LOST, /* records lost: the ring buffer was full */
	TR_STAT_SUPPRESSED, /* records not made: the (cgroup, event) rate limit was exceeded */
	TR_STAT_FILTERED, /* records not made: a filter did not match (before the rate limit) */
	TR_STAT_READ_ERRORS, /* records sent with a field that could not be read (flagged) */
	TR_STAT_RATE_STATE_FULL, /* rate limiter state not created (map full): sent unlimited */
	TR_STAT_OUT_OF_SCOPE, /* records not made: the task is outside --cgroup-root's subtree */
	TR_STAT_MAX,
};

/* tr_hdr.flags */
#define TR_F_ARGV_TRUNCATED 0x01 /* argv longer than the policy's bound: cut there */
#define TR_F_ENV_TRUNCATED 0x02
#define TR_F_PATH_TRUNCATED 0x04 /* a path longer than TR_PATH_MAX */
#define TR_F_READ_ERROR 0x08 /* some user memory could not be read: the field is short */
#define TR_F_HAS_INTERP 0x10 /* exec: the interpreter differs from the filename */
#define TR_F_HAS_ENV 0x20
#define TR_F_OWNER_UNKNOWN 0x40 /* tcp: no owner record: no process, the socket's cgroup */
#define TR_F_THREAD 0x80 /* fork: a thread (CLONE_THREAD), not a process */
#define TR_F_CGROUP_V1 0x100 /* cgroup_id is the v1 memory cgroup's (cgroup mode v1) */
/* cgroup_mkdir/rmdir made only for the library (disabled, filtered or over the rate limit) */
#define TR_F_NOTIFY 0x200

/*
 * Context of every record. pid is the thread group id and tid the thread id, both in the
 * initial PID namespace; ns_pid is the thread group id in the task's own PID namespace. uid/gid
 * are the real ids. cgroup_id is the cgroup v2 id (kernfs inode), or with TR_F_CGROUP_V1 the v1
 * memory cgroup's (cgroup mode v1). ts_ns is
 * bpf_ktime_get_boot_ns() (CLOCK_BOOTTIME); the library converts it to Unix epoch time.
 */
struct tr_hdr {
	__u16 event; /* enum tr_event */
	__u16 flags; /* TR_F_* */
	__u32 size; /* bytes of the whole record */
	__u64 ts_ns;
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 ns_pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	char comm[TR_COMM_LEN];
};

/*
 * sched_process_exec and sched_process_exec_failed. data holds, in order: the filename
 * (filename_len bytes, NUL included), the interpreter (interp_len, 0 when none), argv
 * (argv_len bytes: each argument NUL-terminated, empty ones as a lone NUL) and env (env_len).
 * argc is the kernel's count (bprm->argc, or the arguments walked for a failed exec).
 */
struct tr_exec {
	struct tr_hdr hdr;
	__s32 ret; /* 0, or the failed execve's -errno */
	__u32 argc;
	__u32 filename_len;
	__u32 interp_len;
	__u32 argv_len;
	__u32 env_len;
	__u64 argv_total; /* bytes of argv in the process (arg_end - arg_start) */
	char data[2 * TR_PATH_MAX + 2 * TR_ARGV_CAP];
};
#define TR_EXEC_FIXED (sizeof(struct tr_exec) - 2 * TR_PATH_MAX - 2 * TR_ARGV_CAP)

/* sched_process_fork: the header is the parent's. */
struct tr_fork {
	struct tr_hdr hdr;
	__u32 child_pid;
	__u32 child_tid;
	__u32 child_ns_pid;
	__u32 pad;
};

/* sched_process_exit: the header is the exiting task's. */
struct tr_exit {
	struct tr_hdr hdr;
	__u32 exit_code; /* the wait status byte: (status >> 8) & 0xff */
	__u32 signal; /* terminating signal, 0 for a normal exit */
	__u8 core_dumped;
	__u8 group_dead; /* 1: the last thread (the whole process exited) */
	__u8 pad[6];
};

/* tcp_* events. Addresses in network order (IPv4 in the first 4 bytes), ports host order. */
struct tr_tcp {
	struct tr_hdr hdr;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 ip_version; /* 4 or 6 */
	__u8 oldstate;
	__u8 newstate;
	__u8 pad;
	__s32 error; /* tcp_connect_error: the socket error (positive errno) */
	__u32 pad2;
	__u64 bytes_acked; /* tcp_close: bytes sent and acknowledged */
	__u64 bytes_received; /* tcp_close */
	__u64 duration_ns; /* tcp_close: since established, 0 when unknown */
};

/* cgroup_mkdir, cgroup_rmdir, cgroup_attach_task (header: the moved task's). */
struct tr_cgroup {
	struct tr_hdr hdr;
	__u64 target_cgroup_id; /* the cgroup made, removed or attached to */
	__u32 hierarchy_id; /* 0: cgroup v2 (default hierarchy); else a v1 hierarchy */
	__u32 level;
	__u32 path_len; /* NUL included */
	__u32 threadgroup; /* attach: the whole thread group moved */
	char path[TR_PATH_MAX];
};
#define TR_CGROUP_FIXED (sizeof(struct tr_cgroup) - TR_PATH_MAX)

/* oom_kill: the header is the victim's. */
struct tr_oom {
	struct tr_hdr hdr;
	__u64 total_vm_pages;
	__u64 rss_pages; /* anon + file + shmem resident pages */
	__u32 oom_score_adj_pad;
	__u32 killer_pid; /* tgid of the task that ran the OOM killer */
};

/* signal_generate: the header is the sender's. */
struct tr_signal {
	struct tr_hdr hdr;
	__u32 target_pid;
	__u32 target_tid;
	__u32 sig;
	__s32 result; /* TRACE_SIGNAL_*: 0 delivered, 1 ignored, 2 already pending, ... */
	__s32 code; /* si_code: SI_USER (0) for kill(), SI_KERNEL (0x80), SI_QUEUE (-1), ... */
	__u32 pad;
	char target_comm[TR_COMM_LEN];
};

/*
 * Syscall events: a fixed part, then only the decoded arguments this syscall has, back to back
 * in data: the sockaddr (addr_len bytes: connect, bind, accept4's as written back), then the
 * strings (str_len[i] bytes each, NUL included; 0: none): openat path, execve/execveat
 * filename, mount source/target/fstype, memfd_create name, init_module and finit_module
 * parameters. hdr.size = TR_SYSCALL_FIXED + addr_len + str_len[0] + str_len[1] + str_len[2], so
 * a syscall without pointer arguments (setuid, unshare, getppid...) is TR_SYSCALL_FIXED bytes.
 * args are the raw register values.
 */
struct tr_syscall {
	struct tr_hdr hdr;
	__u32 nr;
	__u16 addr_len;
	__u16 str_len[TR_SYS_STRS];
	__u32 pad;
	__s64 ret;
	__u64 args[6];
	__u8 data[];
};
#define TR_SYSCALL_FIXED sizeof(struct tr_syscall)
/* The most data a syscall record carries (a sockaddr and strings are never both present). */
#define TR_SYSCALL_DATA_MAX (TR_SYS_STRS * TR_SYS_STR_MAX)

/* Per-event configuration, the `event_config` rodata array. */
struct tr_event_config {
	__u32 enabled;
	__u32 burst; /* rate limit: 0 = unlimited */
	__u64 interval_ns; /* rate limit: ns per token (1e9 / per_second) */
};

/*
 * Kernel-side filters of one slot (the `event_filter` rodata array), tested before the rate
 * limit so a record a filter rejects never spends a token. Each set part must match:
 */
struct tr_filter_config {
	__u8 comm; /* 1: filter_comm holds (slot, the context's comm) */
	__u8 uid; /* 1: filter_uid holds (slot, the context's uid) */
	__u8 cgroup_set; /* 0: none; n: bit n-1 of cgroup_allow[the context's cgroup_id] */
	__u8 pad;
	__u16 filename_len; /* 0: none; n: the filename starts with the n bytes of filter_filename */
	__u16 pad2;
};

struct tr_comm_key {
	__u32 slot;
	char comm[TR_COMM_LEN]; /* NUL-padded */
};

struct tr_uid_key {
	__u32 slot;
	__u32 uid;
};

struct tr_prefix {
	char s[TR_PREFIX_MAX];
};

/* Token bucket state per (cgroup, event), created lazily (GCRA: theoretical arrival time). */
struct tr_rate_key {
	__u64 cgroup_id;
	__u32 event;
	__u32 pad;
};

struct tr_rate_state {
	__u64 tat_ns;
};

/* Socket owner, written at cgroup/sock_create and cloned to accepted sockets. */
struct tr_sock_owner {
	__u64 cgroup_id; /* cgroup_v1 == 1: the creator's v1 memory cgroup, else its v2 one */
	__u64 established_ns;
	__u32 pid;
	__u32 tid;
	__u32 ns_pid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	char comm[TR_COMM_LEN];
	__u32 cgroup_v1;
	__u32 pad;
};

/* What iter/task writes per task (seed of the library's task table). */
struct tr_task_seed {
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 ns_pid;
	__u32 uid;
	__u32 gid;
	char comm[TR_COMM_LEN];
};

/*
 * The start-up walk of TCP socket owners (tracer.bpf.c tr_iter_task_file, tr_iter_tcp): what
 * happened to each TCP socket file found in a process's file table.
 */
enum tr_sock_walk_result {
	TR_SOCK_WALK_SEEDED =
		1, /* its first holder noted; the TCP iterator of its namespace takes it */
	TR_SOCK_WALK_SHARED, /* another process holds it too: the first holder's is kept */
	TR_SOCK_WALK_TABLE_FULL, /* sock_seed was full: no owner */
	TR_SOCK_WALK_RECORDED, /* the TCP iterator wrote the noted owner into its storage */
	TR_SOCK_WALK_HAD_OWNER, /* the TCP iterator found an owner there already (sock_create's) */
};

/* What iter/task_file writes per TCP socket file. */
struct tr_sock_walk_rec {
	__u8 result; /* TR_SOCK_WALK_SEEDED, _SHARED or _TABLE_FULL */
	__u8 pad[3];
	__u32 pid; /* the holding process (tgid, as the initial PID namespace numbers it) */
	__u32 netns; /* the socket's network namespace (inode number) */
	__u32 pad2;
};

/* The --debug stream (`debug_events` ring buffer). */
struct tr_debug {
	__u64 ts_ns;
	__u32 pid;
	__u16 event;
	__u16 line; /* tracer.bpf.c line */
	__s64 code; /* an error or a value */
	__s64 arg;
	char msg[32];
};

#endif /* FLOWSCOPE_TRACER_H */
