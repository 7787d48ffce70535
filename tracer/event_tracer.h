/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event tracer's user side (kernel side: bpf/tracer.bpf.c, records: bpf/tracer.h). Opens the
 * skeleton, loads only the programs the enabled events need, sets the per-event rate limits and
 * syscall bitmaps as rodata, attaches through bpf_link, seeds the task table from a BPF task
 * iterator (or /proc), reads the `events` ring buffer and hands each record, decoded and
 * filtered, to a callback.
 *
 * Where each policy part is applied: all of it in the kernel, before a record is made (a
 * flood costs no user-space work), in this order:
 *  1. enabling an event, and the exclusion of the agent itself;
 *  2. the filters: uid, comm (exact), cgroup (the id sets of filter.cgroup_ids and
 *     filter.cgroup_match, below), then the filename prefix once the filename is read (exec
 *     events: bprm->filename, failed execs: the syscall's path; openat: its path, read before a
 *     record is reserved; execve/execveat: the path sys_enter saved); a miss is counted per
 *     event as kernel_filtered;
 *  3. the (cgroup, event) token bucket, which therefore only ever counts records the filters
 *     passed: a flood that the filters reject spends no token and suppresses nothing.
 * Nothing is filtered after decoding: every decoded record of an enabled event is delivered.
 */
#ifndef FLOWSCOPE_EVENT_TRACER_H
#define FLOWSCOPE_EVENT_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "tracer.h"

struct event_tracer;

/*
 * Field filters of one event, applied in the kernel to the record's context (the task's, or
 * for TCP events the socket owner's; for cgroup_* events the task that made, removed or moved);
 * NULL/0 means "any". All given ones must match.
 */
struct event_tracer_filter {
	const char *const *comms; /* the comm is one of these (exact; longer than 15 bytes: none) */
	size_t n_comms;
	const uint32_t *uids;
	size_t n_uids;
	/* Bytes the filename starts with (1..255): sched_process_exec(_failed), and the openat,
	 * execve, execveat syscall events (their path); refused on other events. */
	const char *filename_prefix;
	/* Only these cgroup ids (exactly these: their descendants are not added). */
	const uint64_t *cgroup_ids;
	size_t n_cgroup_ids;
	/*
	 * Only the cgroups whose path (relative to the v2 root: "/", "/a/b") this accepts. It must
	 * be closed under descent (a path prefix: true for a cgroup, true for every one below): it
	 * is asked for every cgroup at open (a walk of the tree) and for each cgroup made later
	 * (from its cgroup_mkdir record), and the kernel adds a new cgroup to its parent's sets at
	 * the mkdir itself. Ids of removed cgroups go after cgroup_cleanup_delay_ns. Needs the
	 * tr_cgroup_mkdir program (and tr_cgroup_rmdir, optional, for the removal).
	 */
	bool (*cgroup_match)(void *ctx, const char *path);
	void *cgroup_match_ctx;
};

struct event_tracer_event_opts {
	bool enabled;
	uint32_t rate_per_second; /* with rate_burst: the kernel token bucket; 0 = unlimited */
	uint32_t rate_burst;
	struct event_tracer_filter filter;
	/* The exec events' own (sched_process_exec, sched_process_exec_failed; ignored on others):
	 * argv and env bounds (0: the opts-wide one), env (or the opts-wide env). */
	uint32_t argv_max_bytes;
	uint32_t env_max_bytes;
	bool env;
};

/* A BPF program to load and attach (by its C name in tracer.bpf.c). */
struct event_tracer_prog {
	const char *name;
	bool required; /* attach failure: an error naming it; else a warning */
};

struct event_tracer_event;
typedef void (*event_tracer_cb)(void *ctx, const struct event_tracer_event *ev);
typedef void (*event_tracer_log_cb)(void *ctx, int level, const char *msg);

struct event_tracer_opts {
	/* Indexed by enum tr_event; TR_EV_SYSCALL is unused: syscalls go by number below. */
	struct event_tracer_event_opts events[TR_EV_MAX];
	/* Indexed by syscall number (this architecture's). */
	struct event_tracer_event_opts syscalls[TR_SYSCALL_MAX];
	/*
	 * Programs to load; NULL: derived from the enabled events (event_tracer_programs_for()).
	 * The policy's resolver gives this list from the event catalogue.
	 */
	const struct event_tracer_prog *programs;
	size_t n_programs;
	/* Defaults of the exec events' own settings (event_tracer_event_opts): */
	uint32_t argv_max_bytes; /* argv bound; 0: TR_ARGV_DEFAULT; max TR_ARGV_CAP */
	uint32_t env_max_bytes; /* env bound (with env); 0: TR_ENV_DEFAULT; max TR_ARGV_CAP */
	bool env; /* exec events carry the environment */
	uint32_t ringbuf_bytes; /* events ring; 0: TR_DEFAULT_RINGBUF_BYTES; a power of 2 */
	bool debug; /* the BPF side's debug stream, to the log callback at level 3 */
	bool seed_tasks; /* run the task iterator (or read /proc) into the task table */
	/*
	 * cgroup v2 directory cgroup/sock_create attaches to; NULL: the v2 mount found in
	 * /proc/mounts. Set (and cgroup_v1 false), it is also the scope of every event: only tasks
	 * whose v2 cgroup is this one or below it (made later too) are reported, the others are
	 * counted as out_of_scope. Needs tr_cgroup_mkdir.
	 */
	const char *cgroup_root;
	/* rate state and cgroup filter ids of a removed cgroup kept this long; 0: 60 s */
	uint64_t cgroup_cleanup_delay_ns;
	/*
	 * --cgroup-mode v1: the context's cgroup is the task's v1 memory cgroup where it has one
	 * (tr_hdr.flags TR_F_CGROUP_V1; else its v2 one), for TCP events the socket creator's; the
	 * cgroup_* events, the cgroup filters (cgroup_match gets paths in that hierarchy) and the
	 * rate limit follow the v1 memory hierarchy, mounted at cgroup_v1_mount.
	 */
	bool cgroup_v1;
	const char *cgroup_v1_mount;
	event_tracer_cb cb;
	void *cb_ctx;
	event_tracer_log_cb log; /* NULL: stderr */
	void *log_ctx;
	/* The agent's tgid in the initial PID namespace; 0: found from /proc/self/status. */
	uint32_t self_pid;
};

/* A decoded exec record (sched_process_exec or sched_process_exec_failed). */
struct event_tracer_exec {
	const char *filename;
	const char *interpreter; /* NULL unless a #! script */
	char **argv; /* argc entries, empty ones included */
	uint32_t argc;
	char **env; /* envc entries, only with opts.env */
	uint32_t envc;
	int32_t ret; /* 0, or -errno of the failed execve */
	bool argv_truncated; /* the argv bound was hit */
	bool env_truncated;
};

struct event_tracer_syscall {
	const struct tr_syscall *rec; /* the fixed part (nr, ret, args) */
	const char *name; /* "connect", ...; "syscall_<nr>" for others */
	const uint8_t *addr; /* the sockaddr as read (addr_len bytes), NULL when absent */
	uint32_t addr_len;
	const char *str[TR_SYS_STRS]; /* the decoded strings, NULL when absent */
};

/*
 * One event as handed to the callback; every pointer is valid only during the callback.
 * ts_boot_ns is CLOCK_BOOTTIME (convert once, where the agent keeps its clocks).
 */
struct event_tracer_event {
	enum tr_event kind;
	const char *name; /* the event's name (a syscall's name for TR_EV_SYSCALL) */
	const struct tr_hdr *ctx; /* the common context, as the kernel wrote it */
	union {
		struct event_tracer_exec exec;
		const struct tr_fork *fork;
		const struct tr_exit *exit;
		const struct tr_tcp *tcp;
		struct {
			const struct tr_cgroup *rec;
			const char *path;
		} cgroup;
		const struct tr_oom *oom;
		const struct tr_signal *signal;
		struct event_tracer_syscall syscall;
	};
};

/* Per-event counters: the kernel's (summed over CPUs) and this library's. */
struct event_tracer_counts {
	uint64_t emitted; /* put into the ring buffer by the kernel */
	uint64_t lost; /* ring buffer full */
	uint64_t suppressed; /* rate limit */
	uint64_t read_errors; /* records with a field the kernel could not read */
	uint64_t rate_state_full; /* sent without a rate limit: no room for its state */
	uint64_t received; /* read from the ring buffer */
	uint64_t decode_errors; /* malformed records, not delivered */
	uint64_t kernel_filtered; /* not made: a filter did not match (before the rate limit) */
	uint64_t out_of_scope; /* not made: the task's cgroup is outside cgroup_root */
	uint64_t delivered; /* handed to the callback */
};

/* Process known to the task table (seeded at start, kept by fork/exec/exit events). */
struct event_tracer_task {
	uint32_t pid;
	uint32_t ppid;
	uint32_t uid;
	uint32_t gid;
	uint64_t cgroup_id;
	char comm[TR_COMM_LEN];
};

/* Name of event id ev ("sched_process_exec", ...), or NULL. */
const char *event_tracer_event_name(enum tr_event ev);
/* Event id of name, or TR_EV_NONE; syscall event names give TR_EV_SYSCALL and *nr. */
enum tr_event event_tracer_event_id(const char *name, int *nr);
/* Name of a syscall number ("openat"), or NULL for one this library does not name. */
const char *event_tracer_syscall_name(int nr);
/* Syscall number of name, or -1. */
int event_tracer_syscall_nr(const char *name);

/*
 * The programs the enabled events of opts need (the fallback when opts->programs is NULL).
 * Writes up to max entries to out; returns the number needed.
 */
size_t event_tracer_programs_for(const struct event_tracer_opts *opts,
				 struct event_tracer_prog *out, size_t max);

/*
 * Opens, loads and attaches. On error returns a negative errno and writes a message naming the
 * failing program or map to err (errlen bytes). Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN
 * for the cgroup attach).
 */
int event_tracer_create(const struct event_tracer_opts *opts, struct event_tracer **out, char *err,
			size_t errlen);
void event_tracer_destroy(struct event_tracer *et);

/* The fd to watch for EPOLLIN (events and, with debug, the debug stream). */
int event_tracer_fd(const struct event_tracer *et);

/* Reads every record available; never blocks. Returns records read or a negative errno. */
int event_tracer_consume(struct event_tracer *et);

/*
 * Housekeeping (about once a second): drops the rate state of cgroups removed more than the
 * cleanup delay before now_boot_ns (CLOCK_BOOTTIME ns).
 */
void event_tracer_tick(struct event_tracer *et, uint64_t now_boot_ns);

/*
 * The kernel's cgroup filter: *ids cgroup ids in its sets now, *errors cgroups that matched a
 * filter but could not be added (the map was full: TR_CGROUP_ALLOW_MAX; each also logged), whose
 * events are therefore filtered out.
 */
void event_tracer_cgroup_filter_stats(const struct event_tracer *et, uint64_t *ids,
				      uint64_t *errors);

/* Counters of one event (ev < TR_EV_MAX), or of a syscall event (ev TR_EV_SYSCALL, nr). */
void event_tracer_counts(const struct event_tracer *et, enum tr_event ev, int nr,
			 struct event_tracer_counts *out);

/*
 * Run count and total run time (ns) of a loaded program by name, as the kernel counts them while
 * BPF run-time statistics are enabled (bpf_enable_stats(BPF_STATS_RUN_TIME) holds them on for
 * the life of its fd). Returns 0 or a negative errno (-ENOENT: not loaded).
 */
int event_tracer_prog_stats(const struct event_tracer *et, const char *prog, uint64_t *run_cnt,
			    uint64_t *run_time_ns);

/*
 * The start-up walk of TCP socket owners (sockets opened before the tracer; needs the
 * tr_iter_task_file and tr_iter_tcp programs): counts of TCP socket files found in processes'
 * file tables, once, at create. found = recorded + had_owner + table_full + not_reached.
 */
struct event_tracer_socket_walk {
	uint64_t found; /* TCP socket files (a socket open in two processes counts twice) */
	uint64_t recorded; /* an owner written: its first holder (the lowest pid) */
	uint64_t had_owner; /* it had one: sock_create's, or another process holding it */
	uint64_t table_full; /* no room to note it (65,536 sockets): no owner */
	/* noted, not taken: its namespace not entered, the socket in no TCP table (neither bound
	 * nor connected: its connect or listen gives it one) or closed meanwhile */
	uint64_t not_reached;
	uint64_t netns; /* network namespaces whose TCP iterator ran */
	/* namespaces that could not be entered (no CAP_SYS_ADMIN, no CAP_SYS_PTRACE for another
	 * user's process, the process gone or outside the agent's PID namespace) */
	uint64_t netns_not_entered;
};

/* The walk's counts (zero when it did not run). */
void event_tracer_socket_walk_stats(const struct event_tracer *et,
				    struct event_tracer_socket_walk *out);

/* The task table entry of pid; returns false when unknown. */
bool event_tracer_task_lookup(const struct event_tracer *et, uint32_t pid,
			      struct event_tracer_task *out);
/* Number of processes in the task table, and whether the BPF iterator seeded it (else /proc). */
size_t event_tracer_task_count(const struct event_tracer *et, bool *from_iterator);

/*
 * Writes the names of the flag bits of value, as "A|B|0x40" for unknown bits, or "0" for none.
 * kind: "open" (O_*), "clone" (CLONE_NEW*), "mount" (MS_*), "memfd" (MFD_*). Returns buf.
 */
const char *event_tracer_flags(const char *kind, uint64_t value, char *buf, size_t len);
/* The name of a bpf(2) command or ptrace(2) request ("BPF_PROG_LOAD", "PTRACE_ATTACH"), or
 * NULL when unknown. */
const char *event_tracer_bpf_cmd(uint64_t cmd);
const char *event_tracer_ptrace_request(uint64_t req);

#endif /* FLOWSCOPE_EVENT_TRACER_H */
