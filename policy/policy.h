/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy: the tracer's event catalogue and policy engine (issue 10).
 *
 * - the catalogue: one table of every event flowscope's tracer knows (policy/event_catalog.c):
 *   id, name, typed parameters with units, the BPF programs each event needs (required or
 *   optional, named by their C function names in bpf/tracer.bpf.c) and the events it builds on;
 * - the policy: which events are emitted, with per-event rate limits (a token bucket per
 *   (cgroup, event)), field filters, the `env` flag and the argv/env size bounds; read from
 *   `--events NAME,NAME,...` or from a YAML file (`--policy FILE`, parsed with libyaml);
 * - resolution: the closure of the event dependencies, the set of programs to autoload
 *   (required vs optional), and the syscall bitmap for the kernel's "wanted" map; after probing,
 *   a check of what the kernel really offered (missing required program: error; missing optional
 *   one: the event works degraded, with a warning).
 *
 * A policy is built once, validated once, then read-only: every accessor takes a const handle.
 * Nothing here reads the clock or touches the kernel, and there is no global state: policies
 * may be built in any thread, and a finished one read from any number of threads.
 *
 * Stability: the event ids and program ids below never change value; new ones are appended
 * before the *_COUNT sentinels. Changes to this header are additions, said in the commit body.
 */
#ifndef FLOWSCOPE_POLICY_H
#define FLOWSCOPE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of every function of this library that can fail. */
enum policy_status {
	POLICY_OK = 0,
	/*
	 * Not an error: policy_check_programs() found an optional program missing; the events
	 * that use it still work, with less (the message says which and what is lost).
	 */
	POLICY_WARN_DEGRADED,
	POLICY_ERR_INVAL, /* NULL argument or argument out of range */
	POLICY_ERR_NOMEM,
	POLICY_ERR_IO, /* the policy file cannot be opened or read (errno in the message) */
	POLICY_ERR_SYNTAX, /* malformed YAML (libyaml's problem, with line and column) */
	POLICY_ERR_UNKNOWN_KEY, /* a key the policy format does not have */
	POLICY_ERR_UNKNOWN_EVENT, /* an event name not in the catalogue (or internal) */
	POLICY_ERR_TYPE, /* a value of the wrong kind (list where a number belongs, ...) */
	POLICY_ERR_RANGE, /* a number negative, not decimal, overflowing, or outside its range */
	POLICY_ERR_DUPLICATE, /* an event or a key given twice */
	POLICY_ERR_LIMIT, /* a list, string or file over its documented bound */
	POLICY_ERR_NOT_ALLOWED, /* a setting the event refuses (rate_limit on an exit, ...) */
	POLICY_ERR_MISSING, /* a required key is absent (name, per_second, events) */
	POLICY_ERR_PROGRAM_MISSING, /* a required BPF program of an emitted event is missing */
	POLICY_STATUS_COUNT
};

/* Static English text for a status, "unknown status" for values outside the enum. */
const char *policy_status_str(enum policy_status status);

/* Size of the message buffer of struct policy_error, NUL included. */
#define POLICY_ERRMSG_MAX 512
/* Size of the key buffer of struct policy_error, NUL included (longer keys are cut). */
#define POLICY_ERRKEY_MAX 64

/*
 * Where and why a policy was refused. `msg` is the whole message, ready for stderr, e.g.
 * "policy.yaml:7:7: key 'filterz': unknown key (expected one of: name, rate_limit, ...)".
 * Bytes from the input are shown escaped (\xNN) in `key` and `msg`, never raw.
 */
struct policy_error {
	enum policy_status status;
	unsigned int line; /* 1-based line in the policy file; 0 when not from a file */
	unsigned int column; /* 1-based column; 0 when not from a file */
	char key[POLICY_ERRKEY_MAX]; /* the key or event name at fault; "" when none */
	char msg[POLICY_ERRMSG_MAX];
};

/* ---- The catalogue ------------------------------------------------------------------------ */

/*
 * Event ids. Stable numbers: the tracer may carry them across the ring buffer. Internal events
 * are never emitted and cannot be named in a policy: they are what other events build on.
 */
enum policy_event_id {
	POLICY_EV_NONE = 0, /* no event; never in the catalogue */
	/* Process lifecycle. */
	POLICY_EV_SCHED_PROCESS_EXEC = 1,
	POLICY_EV_SCHED_PROCESS_EXEC_FAILED = 2,
	POLICY_EV_SCHED_PROCESS_FORK = 3,
	POLICY_EV_SCHED_PROCESS_EXIT = 4,
	/* TCP. */
	POLICY_EV_TCP_CONNECT = 5,
	POLICY_EV_TCP_ACCEPT = 6,
	POLICY_EV_TCP_LISTEN = 7,
	POLICY_EV_TCP_CLOSE = 8,
	POLICY_EV_TCP_CONNECT_ERROR = 9,
	POLICY_EV_TCP_RETRANSMIT = 10,
	/* Cgroups, OOM, signals. */
	POLICY_EV_CGROUP_MKDIR = 11,
	POLICY_EV_CGROUP_RMDIR = 12,
	POLICY_EV_CGROUP_ATTACH_TASK = 13,
	POLICY_EV_OOM_KILL = 14,
	POLICY_EV_SIGNAL_GENERATE = 15,
	/* Syscall events, named after the syscall (x86_64 numbers in the catalogue). */
	POLICY_EV_SYS_CONNECT = 16,
	POLICY_EV_SYS_BIND = 17,
	POLICY_EV_SYS_ACCEPT4 = 18,
	POLICY_EV_SYS_EXECVE = 19,
	POLICY_EV_SYS_EXECVEAT = 20,
	POLICY_EV_SYS_PTRACE = 21,
	POLICY_EV_SYS_SETUID = 22,
	POLICY_EV_SYS_SETGID = 23,
	POLICY_EV_SYS_UNSHARE = 24,
	POLICY_EV_SYS_SETNS = 25,
	POLICY_EV_SYS_MOUNT = 26,
	POLICY_EV_SYS_INIT_MODULE = 27,
	POLICY_EV_SYS_FINIT_MODULE = 28,
	POLICY_EV_SYS_BPF = 29,
	POLICY_EV_SYS_MEMFD_CREATE = 30,
	POLICY_EV_SYS_OPENAT = 31,
	/* Internal events (POLICY_EVF_INTERNAL). */
	POLICY_EV_PROCESS_SNAPSHOT = 32, /* processes and sockets that predate the agent */
	POLICY_EV_SOCKET_OWNER = 33, /* pid/tid/comm/uid/cgroup of a socket's creator, sk_storage */
	POLICY_EV_CGROUP_LIFECYCLE = 34, /* per-cgroup kernel state, removed with the cgroup */
	POLICY_EV_CGROUP_FILTER = 35, /* cgroup_path_prefix resolved to cgroup ids in the kernel */
	POLICY_EV_COUNT /* one past the highest id; arrays indexed by id have this size */
};

/*
 * BPF programs, by the C function name in bpf/tracer.bpf.c (policy_prog_name() gives it, for
 * bpf_object__find_program_by_name()). Stable numbers; bit (1 << id) in a policy_prog_mask.
 */
enum policy_prog_id {
	POLICY_PROG_SCHED_PROCESS_EXEC = 0, /* tr_sched_process_exec, tp_btf/sched_process_exec */
	POLICY_PROG_SCHED_PROCESS_FORK = 1, /* tr_sched_process_fork, tp_btf/sched_process_fork */
	POLICY_PROG_SCHED_PROCESS_EXIT = 2, /* tr_sched_process_exit, tp_btf/sched_process_exit */
	POLICY_PROG_SYS_ENTER = 3, /* tr_sys_enter, tp_btf/sys_enter */
	POLICY_PROG_SYS_EXIT = 4, /* tr_sys_exit, tp_btf/sys_exit */
	POLICY_PROG_INET_SOCK_SET_STATE = 5, /* tr_inet_sock_set_state */
	POLICY_PROG_TCP_RETRANSMIT_SKB = 6, /* tr_tcp_retransmit_skb */
	POLICY_PROG_SOCK_CREATE = 7, /* tr_sock_create, cgroup/sock_create */
	POLICY_PROG_CGROUP_MKDIR = 8, /* tr_cgroup_mkdir */
	POLICY_PROG_CGROUP_RMDIR = 9, /* tr_cgroup_rmdir */
	POLICY_PROG_CGROUP_ATTACH_TASK = 10, /* tr_cgroup_attach_task */
	POLICY_PROG_MARK_VICTIM = 11, /* tr_mark_victim, tp_btf/mark_victim */
	POLICY_PROG_SIGNAL_GENERATE = 12, /* tr_signal_generate */
	POLICY_PROG_ITER_TASK = 13, /* tr_iter_task, iter/task */
	POLICY_PROG_ITER_TASK_FILE = 14, /* tr_iter_task_file, iter/task_file */
	POLICY_PROG_ITER_TCP = 15, /* tr_iter_tcp, iter/tcp */
	POLICY_PROG_COUNT /* at most 64: a policy_prog_mask holds them all */
};

/* A set of programs: bit (1 << enum policy_prog_id). */
typedef uint64_t policy_prog_mask;
#define POLICY_PROG_BIT(id) ((policy_prog_mask)1 << (id))

/* The C function name of a program ("tr_sys_enter"), NULL for ids outside the enum. */
const char *policy_prog_name(enum policy_prog_id id);
/* The program with that C function name, or POLICY_PROG_COUNT when there is none. */
enum policy_prog_id policy_prog_by_name(const char *name);

/* How a parameter's value is stored. */
enum policy_param_type {
	POLICY_T_BOOL,
	POLICY_T_U8,
	POLICY_T_U16,
	POLICY_T_U32,
	POLICY_T_U64,
	POLICY_T_S32,
	POLICY_T_S64,
	POLICY_T_STR, /* bytes, at most the bound the tracer documents; may hold any octet */
	POLICY_T_STR_LIST, /* ordered strings, empty ones kept (argv, env) */
	POLICY_T_IP_ADDR, /* 4 or 16 octets, network order, per the event's ip_version */
	POLICY_T_SOCKADDR, /* family + address + port (AF_INET/AF_INET6), path (AF_UNIX) */
};

/* What a parameter's number means: its unit, or the name set its bits/values render as. */
enum policy_param_unit {
	POLICY_U_NONE,
	POLICY_U_NS, /* nanoseconds */
	POLICY_U_BYTES,
	POLICY_U_KIB, /* kibibytes (1024 bytes) */
	POLICY_U_PID, /* thread-group id in the initial PID namespace */
	POLICY_U_TID, /* thread id in the initial PID namespace */
	POLICY_U_UID,
	POLICY_U_GID,
	POLICY_U_FD, /* file descriptor number; AT_FDCWD (-100) for dirfd */
	POLICY_U_PORT, /* TCP/UDP port, host order */
	POLICY_U_IP_VERSION, /* 4 or 6 */
	POLICY_U_SIGNAL, /* signal number (SIGKILL = 9) */
	POLICY_U_ERRNO, /* positive errno number (ENOENT = 2) */
	POLICY_U_SYSCALL_RET, /* syscall return value: >= 0 result, or -errno */
	POLICY_U_EXIT_STATUS, /* exit status 0..255 (only when no signal ended the process) */
	POLICY_U_CGROUP_ID, /* cgroup id: kernfs node id of a v2 cgroup, or of a v1 memory one (v1 mode) */
	POLICY_U_HIERARCHY_ID, /* cgroup hierarchy id (v1 hierarchies; the v2 one on a hybrid host) */
	POLICY_U_TCP_STATE, /* TCP_ESTABLISHED = 1, ... (include/net/tcp_states.h) */
	POLICY_U_USER_ADDR, /* a user-space address, rendered in hex */
	POLICY_U_FILE_MODE, /* permission bits, rendered in octal */
	POLICY_U_CLONE_FLAGS, /* CLONE_* bits, rendered by name */
	POLICY_U_OPEN_FLAGS, /* O_* flags, by name */
	POLICY_U_AT_FLAGS, /* AT_* flags, by name */
	POLICY_U_MOUNT_FLAGS, /* MS_* flags, by name */
	POLICY_U_SOCK_FLAGS, /* SOCK_NONBLOCK, SOCK_CLOEXEC, by name */
	POLICY_U_MFD_FLAGS, /* MFD_* flags, by name */
	POLICY_U_MODULE_FLAGS, /* MODULE_INIT_* flags, by name */
	POLICY_U_PTRACE_REQUEST, /* PTRACE_* request, by name */
	POLICY_U_BPF_CMD, /* BPF_* command, by name */
	POLICY_U_SI_CODE, /* siginfo si_code (SI_USER = 0, SI_KERNEL = 0x80, ...) */
	POLICY_U_COUNT
};

/* Short English text of a unit for docs and debug output ("ns", "CLONE_* flags by name"). */
const char *policy_unit_str(enum policy_param_unit unit);

/* One typed parameter of an event: a key of the record's `args` object. */
struct policy_param {
	const char *name; /* the key in args, e.g. "exit_code" */
	enum policy_param_type type;
	enum policy_param_unit unit;
	const char *doc; /* one line: what it is, when it is absent or zero */
};

/* A BPF program an event needs. */
struct policy_prog_dep {
	enum policy_prog_id prog;
	bool optional; /* missing: the event works degraded (doc says how); else an error */
	const char *why; /* one line: what the program gives this event, and the fallback */
};

/* Event flags (struct policy_event_def.flags). */
#define POLICY_EVF_DEFAULT (1u << 0) /* in the default set (no --events, no --policy) */
#define POLICY_EVF_NEVER_RATE_LIMITED (1u << 1) /* rate_limit refused: an end of a lifetime */
#define POLICY_EVF_INTERNAL (1u << 2) /* never emitted, not nameable: a dependency only */
#define POLICY_EVF_SYSCALL (1u << 3) /* a syscall event: syscall_nr is set */
#define POLICY_EVF_ARGV (1u << 4) /* carries argv: argv_max_bytes applies */
#define POLICY_EVF_ENV (1u << 5) /* can carry env (the `env` key): env_max_bytes applies */

/* Most entries of each list of a catalogue row (parameters, programs, events built on). */
#define POLICY_MAX_PARAMS 16
#define POLICY_MAX_PROG_DEPS 6
#define POLICY_MAX_EVENT_DEPS 4

/* One row of the catalogue. */
struct policy_event_def {
	enum policy_event_id id;
	const char *name; /* "sched_process_exec": the `event` field of the record */
	const char *doc; /* one line: what happened, and whose context the record carries */
	uint32_t flags; /* POLICY_EVF_* */
	int syscall_nr; /* x86_64 syscall number for POLICY_EVF_SYSCALL events; -1 otherwise */
	/*
	 * Syscalls the tracer must watch at sys_enter/sys_exit for this event without emitting
	 * their syscall events (sched_process_exec_failed watches execve and execveat); -1 ends.
	 */
	int watch_syscalls[4];
	const char *filename_param; /* param that filename_prefix filters on; NULL: refused */
	size_t n_params;
	struct policy_param params[POLICY_MAX_PARAMS];
	size_t n_progs;
	struct policy_prog_dep progs[POLICY_MAX_PROG_DEPS];
	size_t n_deps;
	enum policy_event_id deps[POLICY_MAX_EVENT_DEPS]; /* events this one builds on */
};

/* The catalogue row of an event, NULL for ids outside the catalogue. */
const struct policy_event_def *policy_event_def(enum policy_event_id id);
/* The event of that name (internal ones included), or POLICY_EV_NONE. Case-sensitive. */
enum policy_event_id policy_event_by_name(const char *name);
/* The syscall event of x86_64 syscall number `nr` ("openat" for 257), or POLICY_EV_NONE. */
enum policy_event_id policy_event_by_syscall(long nr);

/* ---- The policy --------------------------------------------------------------------------- */

/* Bounds of the policy format; going over one is POLICY_ERR_LIMIT or POLICY_ERR_RANGE. */
#define POLICY_FILE_MAX_BYTES (1u << 20) /* 1 MiB of YAML */
#define POLICY_MAX_COMM 64 /* entries of a filters.comm list */
#define POLICY_COMM_MAX_LEN 15 /* bytes of one comm (TASK_COMM_LEN - 1): longer never match */
#define POLICY_MAX_UID 64 /* entries of a filters.uid list */
#define POLICY_PREFIX_MAX_LEN 255 /* bytes of cgroup_path_prefix and filename_prefix */
#define POLICY_RATE_MAX 1000000u /* per_second and burst: 1 .. this */
#define POLICY_ARGV_DEFAULT_BYTES 32768u /* argv bound when the policy says none (32 KiB) */
#define POLICY_ENV_DEFAULT_BYTES 32768u /* env bound when the policy says none (32 KiB) */
#define POLICY_ARGV_MAX_BYTES 65536u /* largest argv_max_bytes/env_max_bytes (64 KiB) */

/* A token bucket per (cgroup, event): `burst` tokens at most, `per_second` added each second. */
struct policy_rate_limit {
	uint32_t per_second; /* 1 .. POLICY_RATE_MAX */
	uint32_t burst; /* 1 .. POLICY_RATE_MAX; defaults to per_second when the policy omits it */
};

/*
 * Field filters of one event. An event is emitted when every filter that is set matches; a list
 * matches when any entry does. They test the record's context (comm, uid, cgroup_path) and the
 * event's filename_param.
 */
struct policy_filters {
	size_t n_comm; /* 0: no comm filter */
	char comm[POLICY_MAX_COMM][POLICY_COMM_MAX_LEN + 1]; /* exact match, NUL-terminated */
	size_t n_uid; /* 0: no uid filter */
	uint32_t uid[POLICY_MAX_UID];
	/*
	 * Component-wise prefix of the context's cgroup path (v2, or the v1 memory hierarchy's
	 * under --cgroup-mode v1), "" when unset: "/kubepods" matches
	 * "/kubepods" and "/kubepods/burstable/pod1", not "/kubepods2". Stored without a trailing
	 * '/' (except "/" itself, which matches every cgroup).
	 */
	char cgroup_path_prefix[POLICY_PREFIX_MAX_LEN + 1];
	/* Plain byte prefix of the filename param, "" when unset ("/tmp/" for the directory). */
	char filename_prefix[POLICY_PREFIX_MAX_LEN + 1];
};

/* The resolved settings of one event. */
struct policy_event_conf {
	enum policy_event_id id;
	bool enabled; /* emitted: named by the policy (or in the default set) */
	bool needed; /* its programs are loaded: enabled, or built on by an enabled event */
	bool rate_limited; /* rate_limit is valid; never for POLICY_EVF_NEVER_RATE_LIMITED */
	struct policy_rate_limit rate_limit;
	struct policy_filters filters;
	bool has_filters; /* at least one filter is set */
	bool env; /* the record carries env (POLICY_EVF_ENV events only) */
	uint32_t argv_max_bytes; /* POLICY_EVF_ARGV events: bound on argv bytes, NULs included */
	uint32_t env_max_bytes; /* POLICY_EVF_ENV events with env: bound on env bytes */
	unsigned int line; /* line of the event in the policy file; 0 when not from a file */
};

/* Opaque: a validated, resolved policy. */
struct policy;

/*
 * The default policy: the events flagged POLICY_EVF_DEFAULT (sched_process_exec,
 * sched_process_exit, tcp_connect, tcp_accept, tcp_connect_error, oom_kill, cgroup_mkdir,
 * cgroup_rmdir, cgroup_attach_task), no rate limits, no filters, no env, argv bound 32 KiB.
 * Returns POLICY_OK or POLICY_ERR_NOMEM / POLICY_ERR_INVAL; `err` may be NULL.
 */
enum policy_status policy_create_default(struct policy **out, struct policy_error *err);

/*
 * The policy of `--events LIST`: comma-separated event names, no spaces, no empty items, no
 * name twice; `none` alone turns the tracer off (policy_tracer_off() is then true); `default`
 * stands for the default set and may be combined with further names. Settings are the defaults.
 * Errors: POLICY_ERR_UNKNOWN_EVENT (message names the event), POLICY_ERR_DUPLICATE,
 * POLICY_ERR_SYNTAX (empty item, `none` with other names), POLICY_ERR_LIMIT (over 4096 bytes).
 */
enum policy_status policy_create_from_events(const char *list, struct policy **out,
					     struct policy_error *err);

/*
 * The policy of a YAML document (`len` bytes at `yaml`; need not be NUL-terminated). `name` is
 * what messages call the input (the file name). The format is in docs/tracer.md: a mapping with
 * the key `events`, a list of mappings {name, rate_limit: {per_second, burst}, filters: {comm,
 * uid, cgroup_path_prefix, filename_prefix}, env, argv_max_bytes, env_max_bytes}. Only listed
 * events are emitted; `events: []` turns the tracer off. Unknown keys and event names, keys or
 * events given twice, anchors/aliases, wrong value kinds and numbers out of range are errors
 * that name the line, column and key (POLICY_ERR_*); a rate_limit on a
 * POLICY_EVF_NEVER_RATE_LIMITED event is POLICY_ERR_NOT_ALLOWED. Input over
 * POLICY_FILE_MAX_BYTES is POLICY_ERR_LIMIT. Never crashes on any bytes.
 */
enum policy_status policy_create_from_yaml(const char *yaml, size_t len, const char *name,
					   struct policy **out, struct policy_error *err);

/* policy_create_from_yaml() on the contents of the file at `path`; POLICY_ERR_IO if unreadable. */
enum policy_status policy_create_from_file(const char *path, struct policy **out,
					   struct policy_error *err);

/* Frees the policy; NULL is fine. */
void policy_destroy(struct policy *pol);

/* True when no event is emitted (`--events none`, `events: []`): load nothing. */
bool policy_tracer_off(const struct policy *pol);

/*
 * The settings of one event (every catalogue id has one, enabled or not), NULL for ids outside
 * the catalogue. Valid until policy_destroy().
 */
const struct policy_event_conf *policy_event(const struct policy *pol, enum policy_event_id id);

/*
 * The programs to autoload: `required` holds every program a needed event requires, `optional`
 * every program only some needed event may use (a program both required and optional for
 * different events is in `required` only). Either pointer may be NULL. Empty when the tracer is
 * off.
 */
void policy_programs(const struct policy *pol, policy_prog_mask *required,
		     policy_prog_mask *optional);

/* Highest syscall number + 1 that the bitmaps hold (x86_64 numbers are below 512). */
#define POLICY_SYSCALL_MAX 512
#define POLICY_SYSCALL_WORDS (POLICY_SYSCALL_MAX / 64)

/*
 * The syscalls the tracer watches, bit (nr % 64) of word (nr / 64), x86_64 numbers. `wanted`
 * is what the kernel's "wanted" map holds: sys_enter/sys_exit do nothing else for a syscall
 * not in it. `emit` is the subset whose own syscall event is enabled (the rest are watched for
 * another event, e.g. execve for sched_process_exec_failed).
 */
struct policy_syscall_set {
	uint64_t wanted[POLICY_SYSCALL_WORDS];
	uint64_t emit[POLICY_SYSCALL_WORDS];
	unsigned int n_wanted; /* bits set in wanted */
};

/* The policy's syscall set. Valid until policy_destroy(). */
const struct policy_syscall_set *policy_syscalls(const struct policy *pol);

/* True when bit `nr` is set in a bitmap of POLICY_SYSCALL_WORDS words; false for nr out of range. */
bool policy_syscall_test(const uint64_t *bitmap, long nr);

/*
 * What the kernel offered, against what the policy needs. `available` holds the programs that
 * loaded and attached (or that probing says will). Fills `degraded` (may be NULL; indexed by
 * event id) with the needed events that lose an optional program, and returns:
 * - POLICY_OK: every needed program is there;
 * - POLICY_WARN_DEGRADED: only optional programs are missing; `err->msg` names each and the
 *   events that work with less (a warning, not an error);
 * - POLICY_ERR_PROGRAM_MISSING: a required program of a needed event is missing; `err->msg`
 *   names the program and the event (the agent exits 1).
 */
enum policy_status policy_check_programs(const struct policy *pol, policy_prog_mask available,
					 bool degraded[POLICY_EV_COUNT], struct policy_error *err);

/* Filters policy_event_match() tests (struct policy_match_ctx.fields). */
#define POLICY_MATCH_COMM (1u << 0)
#define POLICY_MATCH_UID (1u << 1)
#define POLICY_MATCH_CGROUP_PATH (1u << 2)
#define POLICY_MATCH_FILENAME (1u << 3)

/* The context a filter test looks at (NULL strings: unknown, never match). */
struct policy_match_ctx {
	const char *comm;
	uint32_t uid;
	const char *cgroup_path;
	const char *filename; /* the event's filename_param value */
	/* POLICY_MATCH_* bits: only these filters are tested, the others pass; 0: every one */
	unsigned int fields;
};

/*
 * True when the event passes its filters (always true when it has none; false for a NULL ctx
 * when it has some). The one definition of the filter rules (docs/tracer.md): the tracer's
 * kernel side implements the same ones in BPF, and the agent resolves cgroup_path_prefix into
 * the kernel's cgroup id sets through this function (fields = POLICY_MATCH_CGROUP_PATH).
 */
bool policy_event_match(const struct policy_event_conf *conf, const struct policy_match_ctx *ctx);

#endif /* FLOWSCOPE_POLICY_H */
