// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The event tracer's kernel side: process, TCP, cgroup, OOM, signal and syscall events into the
 * `events` ring buffer. Only tracepoints (tp_btf), a cgroup/sock_create program and BPF
 * iterators: this kernel has no kprobes and no fentry. Every prototype below was read from the
 * kernel's BTF (`btf_trace_<name>` typedefs), e.g. sched_process_exit(task, group_dead) and
 * mark_victim(task, uid) as of 6.18.
 *
 * Which programs load is decided by the resolved policy (bpf_program__set_autoload); the
 * per-event switches, rate limits and the syscall bitmaps are rodata set before load.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "tracer.h"
#include "stats.bpf.h"
#include "ringbuf.bpf.h"
#include "cgroup_v1.bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define EEXIST 17

/* include/net/tcp_states.h */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_FIN_WAIT1 4
#define TCP_FIN_WAIT2 5
#define TCP_TIME_WAIT 6
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LAST_ACK 9
#define TCP_LISTEN 10
#define TCP_CLOSING 11

/* x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl) of the decoded syscalls. */
#define NR_connect 42
#define NR_execve 59
#define NR_bind 49
#define NR_ptrace 101
#define NR_setuid 105
#define NR_setgid 106
#define NR_mount 165
#define NR_init_module 175
#define NR_openat 257
#define NR_unshare 272
#define NR_accept4 288
#define NR_setns 308
#define NR_finit_module 313
#define NR_memfd_create 319
#define NR_bpf 321
#define NR_execveat 322

/* Config slots: events 0..TR_EV_MAX-1, then one per syscall number. */
#define TR_SLOTS (TR_EV_MAX + TR_SYSCALL_MAX)

/* Per-event switches and rate limits (slot = event id, or TR_EV_MAX + syscall number). */
const volatile struct tr_event_config event_config[TR_SLOTS] = {};
/* Syscalls the sys_enter/sys_exit programs look at (the fast path checks this first)... */
const volatile __u64 sys_wanted[TR_SYSCALL_WORDS] = {};
/* ...and those of them that give a syscall event (the rest serve sched_process_exec_failed). */
const volatile __u64 sys_emit[TR_SYSCALL_WORDS] = {};
/*
 * The exec events' own settings, [0] sched_process_exec, [1] sched_process_exec_failed: the argv
 * bound, whether env is read, and env's own bound (beyond a bound: TR_F_*_TRUNCATED).
 */
const volatile __u32 argv_max[2] = { TR_ARGV_DEFAULT, TR_ARGV_DEFAULT };
const volatile __u32 exec_env[2] = {};
const volatile __u32 env_max[2] = { TR_ENV_DEFAULT, TR_ENV_DEFAULT };
const volatile __u32 debug = 0;
/*
 * --cgroup-mode v1: records name the task's v1 memory cgroup (TR_F_CGROUP_V1) when it has one,
 * as flows do, and the cgroup_* events, filter sets and rate state follow that hierarchy.
 */
const volatile __u32 cgroup_v1 = 0;
/* cgroup_rmdir records are made for the library's rate-state cleanup even when the event is off */
const volatile __u32 cgroup_rmdir_notify = 0;
/* cgroup_mkdir records are made for the library's cgroup filter sets even when the event is off */
const volatile __u32 cgroup_mkdir_notify = 0;
/*
 * Cgroup filter sets (bit n-1 for set n) that are closed under descent (a path prefix): a new
 * cgroup joins them when its parent is in them, at its cgroup_mkdir, before any task can be in it.
 */
const volatile __u64 cgroup_inherit_mask = 0;
/*
 * --cgroup-root (cgroup v2): only tasks whose cgroup carries TR_SCOPE_BIT in cgroup_allow are
 * reported, the rest counted as TR_STAT_OUT_OF_SCOPE. The library marks the subtree at start and
 * a new cgroup inherits the bit at its cgroup_mkdir (TR_SCOPE_BIT is in cgroup_inherit_mask).
 */
const volatile __u32 cgroup_scope = 0;
/* Kernel-side filters per slot (slot as event_config), tested before the rate limit. */
const volatile struct tr_filter_config event_filter[TR_SLOTS] = {};
/*
 * The agent's own thread group id in the initial PID namespace, set by the library after load:
 * its own events are not reported.
 */
__u32 self_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TR_DEFAULT_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TR_DEBUG_RINGBUF_BYTES);
} debug_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TR_SLOTS *TR_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* cgroup id -> the cgroup filter sets it is in (bit n-1: set n); filled by the library. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TR_CGROUP_ALLOW_MAX);
	__type(key, __u64);
	__type(value, __u64);
} cgroup_allow SEC(".maps");

/* (slot, comm) and (slot, uid) pairs the comm and uid filters accept. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TR_FILTER_MAX_ENTRIES);
	__type(key, struct tr_comm_key);
	__type(value, __u8);
} filter_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TR_FILTER_MAX_ENTRIES);
	__type(key, struct tr_uid_key);
	__type(value, __u8);
} filter_uid SEC(".maps");

/* slot -> its filename prefix (event_filter[slot].filename_len bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct tr_prefix);
} filter_filename SEC(".maps");

/* A syscall's path argument, read for the filename filter before a record is reserved. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tr_prefix);
} filter_scratch SEC(".maps");

/* Token buckets per (cgroup, event); LRU so a cgroup storm cannot fill it for good. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TR_RATE_MAX_ENTRIES);
	__type(key, struct tr_rate_key);
	__type(value, struct tr_rate_state);
} rate_state SEC(".maps");

/*
 * Exec records are up to ~136 KiB: too big for a per-CPU array value (32 KiB) and the stack,
 * so one slot per CPU of a plain array (max_entries set to the CPU count by the library).
 * Tracing programs run with migration disabled; the slot is only shared with a preempting
 * exec on the same CPU, which this kernel's voluntary preemption makes practically absent.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tr_exec);
} exec_scratch SEC(".maps");

/* execve/execveat filename read at sys_enter (the old mm is gone at sys_exit on success). */
struct tr_sys_pending {
	__u32 nr;
	__u32 path_len;
	char path[TR_SYS_STR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TR_PENDING_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct tr_sys_pending);
} sys_pending SEC(".maps");

/* Socket owner; BPF_F_CLONE: an accepted socket inherits its listener's owner. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct tr_sock_owner);
} tr_sock_owner SEC(".maps");

/*
 * What the filters test: the context the record will carry (the task's, or a socket owner's),
 * known before the record is made.
 */
struct tr_fctx {
	__u64 cgroup_id;
	const char *comm; /* TR_COMM_LEN bytes of kernel memory */
	__u32 pid;
	__u32 uid;
};

static __always_inline void stat_inc(__u32 slot, __u32 stat)
{
	stats_add(&stats, slot * TR_STAT_MAX + stat, 1);
}

#define DBG(ev, code, arg, text) tr_debug(ev, __LINE__, code, arg, text)

static __always_inline void tr_debug(__u16 ev, __u16 line, __s64 code, __s64 arg, const char *text)
{
	struct tr_debug *d;

	if (!debug)
		return;
	d = bpf_ringbuf_reserve(&debug_events, sizeof(*d), 0);
	if (!d)
		return;
	d->ts_ns = bpf_ktime_get_boot_ns();
	d->pid = bpf_get_current_pid_tgid() >> 32;
	d->event = ev;
	d->line = line;
	d->code = code;
	d->arg = arg;
	__builtin_memset(d->msg, 0, sizeof(d->msg));
	bpf_probe_read_kernel_str(d->msg, sizeof(d->msg), text);
	bpf_ringbuf_submit(d, 0);
}

static __always_inline bool slot_enabled(__u32 slot)
{
	if (slot >= TR_SLOTS)
		return false;
	return event_config[slot].enabled != 0;
}

/*
 * The (cgroup, event) token bucket as GCRA: an event at `now` passes when the theoretical
 * arrival time is at most (burst - 1) intervals ahead, and moves it one interval on. State is
 * created on a cgroup's first event; a lost compare-and-swap race is retried once, then the
 * event passes (it is never dropped uncounted).
 */
static __always_inline bool rate_ok(__u32 slot, __u64 cgroup_id)
{
	struct tr_rate_key key = { .cgroup_id = cgroup_id, .event = slot };
	struct tr_rate_state *st, init;
	__u64 now, interval, tau, tat, base;
	__u32 burst;

	if (slot >= TR_SLOTS)
		return true;
	burst = event_config[slot].burst;
	if (!burst)
		return true;
	interval = event_config[slot].interval_ns;
	tau = (__u64)(burst - 1) * interval;
	now = bpf_ktime_get_boot_ns();
	st = bpf_map_lookup_elem(&rate_state, &key);
	if (!st) {
		init.tat_ns = now + interval;
		if (!bpf_map_update_elem(&rate_state, &key, &init, BPF_NOEXIST))
			return true;
		st = bpf_map_lookup_elem(&rate_state, &key);
		if (!st) {
			stat_inc(slot, TR_STAT_RATE_STATE_FULL);
			DBG(slot, 0, cgroup_id, "rate state full");
			return true;
		}
	}
	for (int i = 0; i < 2; i++) {
		tat = st->tat_ns;
		base = tat > now ? tat : now;
		if (base - now > tau) {
			stat_inc(slot, TR_STAT_SUPPRESSED);
			return false;
		}
		if (__sync_val_compare_and_swap(&st->tat_ns, tat, base + interval) == tat)
			return true;
	}
	return true;
}

/* The thread group id in the task's own (innermost) PID namespace. */
static __always_inline __u32 task_ns_tgid(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	struct upid up = {};

	/* pid namespaces nest at most 32 deep (MAX_PID_NS_LEVEL) */
	bpf_core_read(&up, sizeof(up), &p->numbers[level & 31]);
	return up.nr;
}

/*
 * task_ns_tgid() for a BTF task pointer: direct loads, and no helper call for a task in the
 * initial PID namespace (level 0), where the innermost tgid is the global one.
 */
static __always_inline __u32 task_ns_tgid_btf(struct task_struct *t)
{
	struct pid *p = t->group_leader->thread_pid;
	unsigned int level = p->level;
	__u32 tgid = t->tgid;
	struct upid up = {};

	/* the barrier keeps the compiler from merging the two loads (BTF and stack pointer) */
	barrier_var(tgid);
	if (!level)
		return tgid;
	bpf_core_read(&up, sizeof(up), &p->numbers[level & 31]);
	return up.nr;
}

/*
 * Every caller passes a BTF pointer (a tp_btf argument, bpf_get_current_task_btf(), an
 * iterator's task): direct loads, which the JIT turns into plain (fault-handled) moves, cost a
 * fraction of a bpf_probe_read_kernel() call each. Only the PID namespace level's variable index
 * needs the helper (and only for a task outside the initial PID namespace).
 */
/*
 * The task's cgroup as its records name it: the v2 one, or with cgroup_v1 its v1 memory cgroup
 * when it has one (*v1 says which).
 */
static __always_inline __u64 task_cgroup_id(struct task_struct *t, bool *v1)
{
	if (cgroup_v1) {
		__u64 id = v1_memory_cgroup_id(t);

		if (id) {
			*v1 = true;
			return id;
		}
	}
	*v1 = false;
	return t->cgroups->dfl_cgrp->kn->id;
}

/* The filters' view of task t: what fill_hdr() will write. */
static __always_inline void task_fctx(struct tr_fctx *c, struct task_struct *t)
{
	bool v1;

	c->cgroup_id = task_cgroup_id(t, &v1);
	c->comm = t->comm;
	c->pid = t->tgid;
	c->uid = t->cred->uid.val;
}

/* The common context of task t, but ns_pid: the callers choose how to read it. */
static __always_inline void fill_hdr_task(struct tr_hdr *h, struct task_struct *t, __u16 ev)
{
	bool v1;

	h->event = ev;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = task_cgroup_id(t, &v1);
	h->flags = v1 ? TR_F_CGROUP_V1 : 0;
	h->pid = t->tgid;
	h->tid = t->pid;
	h->ppid = t->real_parent->tgid;
	h->uid = t->cred->uid.val;
	h->gid = t->cred->gid.val;
	__builtin_memcpy(h->comm, t->comm, TR_COMM_LEN);
}

/*
 * The common context of task t, ns_pid through the helper. With task_ns_tgid_btf() here, the
 * exec program was refused by the verifier (E2BIG, argv bound 64 and env bound 1024 bytes), so
 * only the syscall path, where each helper call shows, uses it.
 */
static __always_inline void fill_hdr(struct tr_hdr *h, struct task_struct *t, __u16 ev)
{
	fill_hdr_task(h, t, ev);
	h->ns_pid = task_ns_tgid(t);
}

static __always_inline void fill_hdr_owner(struct tr_hdr *h, const struct tr_sock_owner *o,
					   __u16 ev)
{
	h->event = ev;
	h->flags = o->cgroup_v1 ? TR_F_CGROUP_V1 : 0;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = o->cgroup_id;
	h->pid = o->pid;
	h->tid = o->tid;
	h->ns_pid = o->ns_pid;
	h->ppid = o->ppid;
	h->uid = o->uid;
	h->gid = o->gid;
	__builtin_memcpy(h->comm, o->comm, TR_COMM_LEN);
}

static __always_inline void fill_owner(struct tr_sock_owner *o, struct task_struct *t)
{
	o->cgroup_id = cgroup_v1 ? v1_memory_cgroup_id(t) : 0;
	o->cgroup_v1 = o->cgroup_id != 0;
	if (!o->cgroup_id)
		o->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	o->pid = BPF_CORE_READ(t, tgid);
	o->tid = BPF_CORE_READ(t, pid);
	o->ns_pid = task_ns_tgid(t);
	o->ppid = BPF_CORE_READ(t, real_parent, tgid);
	o->uid = BPF_CORE_READ(t, cred, uid.val);
	o->gid = BPF_CORE_READ(t, cred, gid.val);
	BPF_CORE_READ_STR_INTO(&o->comm, t, comm);
}

static __always_inline bool is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/*
 * The comm, uid and cgroup filters of a slot (docs/tracer.md, the rules of policy_event_match()):
 * each set one must match. A miss is counted as filtered. Runs before the rate limit, so a
 * rejected record never spends a token. With no filter set this is a few rodata tests, which
 * the verifier removes for a constant slot. allow: the cgroup's cgroup_allow bits, NULL when
 * it has none (want_filtered() looks them up whenever the slot has a cgroup filter).
 */
static __always_inline bool filters_ok(__u32 slot, const struct tr_fctx *c, const __u64 *allow)
{
	__u8 set;

	if (slot >= TR_SLOTS)
		return false;
	if (event_filter[slot].uid) {
		struct tr_uid_key k = { .slot = slot, .uid = c->uid };

		if (!bpf_map_lookup_elem(&filter_uid, &k))
			goto miss;
	}
	if (event_filter[slot].comm) {
		struct tr_comm_key k = { .slot = slot };

		/* the key is NUL-padded whatever follows the task's NUL */
		bpf_probe_read_kernel_str(k.comm, sizeof(k.comm), c->comm);
		if (!bpf_map_lookup_elem(&filter_comm, &k))
			goto miss;
	}
	set = event_filter[slot].cgroup_set;
	if (set && (!allow || !((*allow >> ((set - 1) & 63)) & 1)))
		goto miss;
	return true;
miss:
	stat_inc(slot, TR_STAT_FILTERED);
	return false;
}

/*
 * The filename prefix filter: name (a NUL-terminated string readable for TR_PREFIX_MAX bytes)
 * starts with the slot's prefix. A plain byte compare; the prefix holds no NUL, so a shorter
 * name fails at its NUL.
 */
static __always_inline bool filename_ok(__u32 slot, const char *name)
{
	struct tr_prefix *p;
	__u32 n;

	if (slot >= TR_SLOTS)
		return false;
	n = event_filter[slot].filename_len;
	if (!n)
		return true;
	p = bpf_map_lookup_elem(&filter_filename, &slot);
	if (!p || !name)
		goto miss;
	for (__u32 i = 0; i < TR_PREFIX_MAX - 1; i++) {
		if (i >= n)
			return true;
		if (name[i] != p->s[i])
			goto miss;
	}
	return true;
miss:
	stat_inc(slot, TR_STAT_FILTERED);
	return false;
}

/*
 * Whether the cgroup whose cgroup_allow bits are allow (NULL: none) is within --cgroup-root
 * (always, without one); a miss is counted.
 */
static __always_inline bool in_scope(__u32 slot, const __u64 *allow)
{
	if (!cgroup_scope)
		return true;
	if (allow && (*allow & TR_SCOPE_BIT))
		return true;
	stat_inc(slot, TR_STAT_OUT_OF_SCOPE);
	return false;
}

/*
 * Enabled, not the agent, within the scope, and through the comm/uid/cgroup filters. The scope
 * and the cgroup filter read the same cgroup_allow entry: one lookup, only when one of them is
 * set.
 */
static __always_inline bool want_filtered(__u32 slot, const struct tr_fctx *c)
{
	__u64 *allow = NULL;

	if (!slot_enabled(slot) || c->pid == self_tgid || slot >= TR_SLOTS)
		return false;
	if (cgroup_scope || event_filter[slot].cgroup_set)
		allow = bpf_map_lookup_elem(&cgroup_allow, &c->cgroup_id);
	if (!in_scope(slot, allow))
		return false;
	return filters_ok(slot, c, allow);
}

/*
 * want_filtered() and then within the (cgroup, event) rate limit (exits pass no_limit): the
 * order that keeps a filtered flood from spending the tokens of wanted records.
 */
static __always_inline bool want(__u32 slot, const struct tr_fctx *c, bool no_limit)
{
	if (!want_filtered(slot, c))
		return false;
	if (no_limit)
		return true;
	return rate_ok(slot, c->cgroup_id);
}

static __always_inline void *reserve(__u32 slot, __u64 size)
{
	return ringbuf_reserve_or_count(&events, size, &stats, slot * TR_STAT_MAX + TR_STAT_LOST);
}

static __always_inline void submit(__u32 slot, void *p)
{
	stat_inc(slot, TR_STAT_EMITTED);
	bpf_ringbuf_submit(p, 0);
}

/*
 * A fixed-size event of task t: its filters and (unless no_limit) its rate limit, a ring slot of
 * size bytes, the context filled. NULL when the event is not wanted or the ring is full (counted
 * by reserve()).
 */
static __always_inline void *task_event(__u32 slot, struct task_struct *t, __u32 size,
					bool no_limit)
{
	struct tr_fctx fc;
	struct tr_hdr *h;

	task_fctx(&fc, t);
	if (!want(slot, &fc, no_limit))
		return NULL;
	h = reserve(slot, size);
	if (!h)
		return NULL;
	fill_hdr(h, t, slot);
	h->size = size;
	return h;
}

/* ---- process events ---------------------------------------------------------------------- */

static __always_inline struct tr_exec *exec_buf(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&exec_scratch, &cpu);
}

static __always_inline void output_exec(__u32 slot, struct tr_exec *e, __u64 data_len)
{
	__u64 size = TR_EXEC_FIXED + data_len;

	if (size > sizeof(*e))
		size = sizeof(*e);
	e->hdr.size = size;
	if (bpf_ringbuf_output(&events, e, size, 0)) {
		stat_inc(slot, TR_STAT_LOST);
		return;
	}
	stat_inc(slot, TR_STAT_EMITTED);
}

/*
 * Copies len bytes of user memory at src to e->data + off in TR_ARGV_CHUNK pieces, so a fault
 * loses only its piece (counted, flagged). off <= 2 * TR_PATH_MAX, len <= TR_ARGV_CAP.
 */
static __always_inline __u32 read_user_area(struct tr_exec *e, __u32 off, __u64 src, __u32 len)
{
	__u32 done = 0;

	for (int i = 0; i < TR_ARGV_CAP / TR_ARGV_CHUNK; i++) {
		__u32 n, o;

		if (done >= len)
			break;
		n = len - done;
		if (n > TR_ARGV_CHUNK)
			n = TR_ARGV_CHUNK;
		o = off + done;
		if (o > 2 * TR_PATH_MAX + TR_ARGV_CAP)
			break;
		if (bpf_probe_read_user(&e->data[o], n, (void *)(src + done))) {
			/* a missing page: zero the piece (empty arguments), flag the record */
			e->hdr.flags |= TR_F_READ_ERROR;
		}
		done += n;
	}
	return done;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tr_sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	const __u32 slot = TR_EV_SCHED_PROCESS_EXEC;
	struct tr_exec *e;
	const char *filename, *interp;
	__u64 arg_start, arg_end, total;
	__u32 off, argv_len, bound = argv_max[0], env_bound = env_max[0];
	struct tr_fctx fc;
	long n;

	task_fctx(&fc, p);
	if (!want_filtered(slot, &fc))
		return 0;
	e = exec_buf();
	if (!e)
		return 0;
	fill_hdr(&e->hdr, p, slot);
	e->ret = 0;
	e->argc = BPF_CORE_READ(bprm, argc);
	e->interp_len = 0;
	e->env_len = 0;

	filename = BPF_CORE_READ(bprm, filename);
	interp = BPF_CORE_READ(bprm, interp);
	n = bpf_probe_read_kernel_str(e->data, TR_PATH_MAX, filename);
	if (n < 0) {
		e->data[0] = 0;
		n = 1;
		e->hdr.flags |= TR_F_READ_ERROR;
	} else if (n == TR_PATH_MAX) {
		e->hdr.flags |= TR_F_PATH_TRUNCATED;
	}
	e->filename_len = n;
	/* the filename filter before the rate limit: a rejected exec spends no token */
	if (!filename_ok(slot, e->data) || !rate_ok(slot, fc.cgroup_id))
		return 0;
	off = n & (TR_PATH_MAX * 2 - 1);
	/* binfmt_script points bprm->interp at its own copy of the #! path */
	if (interp && interp != filename && off <= TR_PATH_MAX) {
		n = bpf_probe_read_kernel_str(&e->data[off], TR_PATH_MAX, interp);
		if (n > 0) {
			e->interp_len = n;
			e->hdr.flags |= TR_F_HAS_INTERP;
			off += n;
		}
	}

	arg_start = BPF_CORE_READ(p, mm, arg_start);
	arg_end = BPF_CORE_READ(p, mm, arg_end);
	total = arg_end > arg_start ? arg_end - arg_start : 0;
	e->argv_total = total;
	if (bound > TR_ARGV_CAP)
		bound = TR_ARGV_CAP;
	argv_len = total;
	if (total > bound) {
		argv_len = bound;
		e->hdr.flags |= TR_F_ARGV_TRUNCATED;
	}
	if (off > 2 * TR_PATH_MAX)
		off = 2 * TR_PATH_MAX;
	argv_len = read_user_area(e, off, arg_start, argv_len);
	e->argv_len = argv_len;
	off += argv_len;

	if (exec_env[0]) {
		__u64 env_start = BPF_CORE_READ(p, mm, env_start);
		__u64 env_end = BPF_CORE_READ(p, mm, env_end);
		__u32 env_len = env_end > env_start ? env_end - env_start : 0;

		if (env_bound > TR_ARGV_CAP)
			env_bound = TR_ARGV_CAP;
		if (env_len > env_bound) {
			env_len = env_bound;
			e->hdr.flags |= TR_F_ENV_TRUNCATED;
		}
		if (off > 2 * TR_PATH_MAX + TR_ARGV_CAP)
			off = 2 * TR_PATH_MAX + TR_ARGV_CAP;
		e->hdr.flags |= TR_F_HAS_ENV;
		/* env follows argv: read it in the argv helper's second half */
		env_len = read_user_area(e, off, env_start, env_len);
		e->env_len = env_len;
		off += env_len;
	}
	if (e->hdr.flags & TR_F_READ_ERROR) {
		stat_inc(slot, TR_STAT_READ_ERRORS);
		DBG(slot, e->hdr.pid, total, "exec argv read error");
	}
	output_exec(slot, e, off);
	return 0;
}

/* One walk of a failed exec's argv or envp pointer array. */
struct failed_argv_ctx {
	__u64 argv; /* user pointer to the pointer array */
	__u32 off; /* where the next string goes in data */
	__u32 used; /* bytes of this array so far */
	__u32 bound;
	__u32 argc; /* strings of this array so far */
	__u32 flags;
	__u32 trunc; /* the flag a cut sets: TR_F_ARGV_TRUNCATED or TR_F_ENV_TRUNCATED */
};

static long failed_argv_one(__u32 i, struct failed_argv_ctx *c)
{
	struct tr_exec *e = exec_buf();
	__u64 ptr = 0;
	__u32 room, off;
	long n;

	if (!e)
		return 1;
	if (bpf_probe_read_user(&ptr, sizeof(ptr), (void *)(c->argv + i * sizeof(ptr)))) {
		c->flags |= TR_F_READ_ERROR;
		return 1;
	}
	if (!ptr)
		return 1;
	if (c->used >= c->bound) {
		c->flags |= c->trunc;
		return 1;
	}
	/* + 1: a cut string's NUL is not counted, as in the exec path (bound bytes of strings) */
	room = c->bound - c->used + 1;
	if (room > TR_FAILED_ARG_MAX)
		room = TR_FAILED_ARG_MAX;
	off = c->off;
	/* argv stays within TR_ARGV_CAP after the filename, env within TR_ARGV_CAP after argv */
	if (off > TR_PATH_MAX + 2 * TR_ARGV_CAP)
		return 1;
	n = bpf_probe_read_user_str(&e->data[off], room, (void *)ptr);
	if (n <= 0) {
		c->flags |= TR_F_READ_ERROR;
		return 1;
	}
	/* a string that filled the room was cut (its NUL is ours) */
	if ((__u32)n == room)
		c->flags |= c->trunc;
	c->off += n;
	c->used += n;
	c->argc++;
	return 0;
}

/*
 * Walks the pointer array at c->argv (at most TR_FAILED_ARGC_MAX strings). More strings than
 * that is a cut too: flagged, never silent.
 */
static __always_inline void failed_argv_walk(struct failed_argv_ctx *c)
{
	__u64 ptr = 0;

	if (!c->argv)
		return;
	bpf_loop(TR_FAILED_ARGC_MAX, failed_argv_one, c, 0);
	if (c->argc == TR_FAILED_ARGC_MAX &&
	    !bpf_probe_read_user(&ptr, sizeof(ptr),
				 (void *)(c->argv + TR_FAILED_ARGC_MAX * sizeof(ptr))) &&
	    ptr)
		c->flags |= c->trunc;
}

/*
 * A failed execve/execveat: filename, argv and (with exec_env) envp from the syscall's pointers
 * (the old mm).
 */
static __always_inline void emit_exec_failed(struct pt_regs *regs, __u32 nr, long ret)
{
	const __u32 slot = TR_EV_SCHED_PROCESS_EXEC_FAILED;
	struct task_struct *t = bpf_get_current_task_btf();
	struct failed_argv_ctx c = {}, env = {};
	__u64 fn_ptr, argv_ptr, envp_ptr;
	struct tr_exec *e;
	struct tr_fctx fc;
	long n;

	task_fctx(&fc, t);
	if (!want_filtered(slot, &fc))
		return;
	e = exec_buf();
	if (!e)
		return;
	fill_hdr(&e->hdr, t, slot);
	if (nr == NR_execveat) {
		fn_ptr = regs->si;
		argv_ptr = regs->dx;
		envp_ptr = regs->r10;
	} else {
		fn_ptr = regs->di;
		argv_ptr = regs->si;
		envp_ptr = regs->dx;
	}
	e->ret = ret;
	e->interp_len = 0;
	e->env_len = 0;
	e->argv_total = 0;
	n = bpf_probe_read_user_str(e->data, TR_PATH_MAX, (void *)fn_ptr);
	if (n <= 0) {
		e->data[0] = 0;
		n = 1;
		e->hdr.flags |= TR_F_READ_ERROR;
	} else if (n == TR_PATH_MAX) {
		e->hdr.flags |= TR_F_PATH_TRUNCATED;
	}
	e->filename_len = n;
	if (!filename_ok(slot, e->data) || !rate_ok(slot, fc.cgroup_id))
		return;
	c.argv = argv_ptr;
	c.off = n & (TR_PATH_MAX * 2 - 1);
	c.bound = argv_max[1] > TR_ARGV_CAP ? TR_ARGV_CAP : argv_max[1];
	c.trunc = TR_F_ARGV_TRUNCATED;
	failed_argv_walk(&c);
	if (exec_env[1]) {
		env.argv = envp_ptr;
		env.off = c.off;
		env.bound = env_max[1] > TR_ARGV_CAP ? TR_ARGV_CAP : env_max[1];
		env.trunc = TR_F_ENV_TRUNCATED;
		failed_argv_walk(&env);
		c.flags |= env.flags | TR_F_HAS_ENV;
	}
	e = exec_buf();
	if (!e)
		return;
	e->hdr.flags |= c.flags;
	e->argc = c.argc;
	e->argv_len = c.used;
	e->argv_total = c.used;
	e->env_len = env.used;
	if (c.flags & TR_F_READ_ERROR)
		stat_inc(slot, TR_STAT_READ_ERRORS);
	output_exec(slot, e, exec_env[1] ? env.off : c.off);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(tr_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	const __u32 slot = TR_EV_SCHED_PROCESS_FORK;
	struct tr_fork *f;

	f = task_event(slot, parent, sizeof(*f), false);
	if (!f)
		return 0;
	f->child_pid = BPF_CORE_READ(child, tgid);
	f->child_tid = BPF_CORE_READ(child, pid);
	f->child_ns_pid = task_ns_tgid(child);
	f->pad = 0;
	if (f->child_pid == f->hdr.pid)
		f->hdr.flags |= TR_F_THREAD;
	submit(slot, f);
	return 0;
}

/* Never rate limited: a consumer's process table must see every exit. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(tr_sched_process_exit, struct task_struct *p, bool group_dead)
{
	const __u32 slot = TR_EV_SCHED_PROCESS_EXIT;
	struct tr_exit *x;
	__u32 code;

	x = task_event(slot, p, sizeof(*x), true);
	if (!x)
		return 0;
	/* do_exit() stored the wait status before the tracepoint: code << 8, or the signal */
	code = BPF_CORE_READ(p, exit_code);
	x->exit_code = (code >> 8) & 0xff;
	x->signal = code & 0x7f;
	x->core_dumped = (code & 0x80) ? 1 : 0;
	x->group_dead = group_dead ? 1 : 0;
	__builtin_memset(x->pad, 0, sizeof(x->pad));
	submit(slot, x);
	return 0;
}

/* ---- TCP ----------------------------------------------------------------------------------- */

SEC("cgroup/sock_create")
int tr_sock_create(struct bpf_sock *ctx)
{
	struct tr_sock_owner *o;

	if (ctx->protocol != IPPROTO_TCP)
		return 1;
	o = bpf_sk_storage_get(&tr_sock_owner, ctx, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (o)
		fill_owner(o, bpf_get_current_task_btf());
	return 1;
}

static __always_inline void tcp_tuple(struct tr_tcp *r, const struct sock *sk)
{
	const struct inet_sock *inet = (const struct inet_sock *)sk;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	__builtin_memset(r->saddr, 0, sizeof(r->saddr));
	__builtin_memset(r->daddr, 0, sizeof(r->daddr));
	if (family == AF_INET6) {
		r->ip_version = 6;
		BPF_CORE_READ_INTO(&r->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&r->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		r->ip_version = 4;
		BPF_CORE_READ_INTO((__u32 *)r->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)r->daddr, sk, __sk_common.skc_daddr);
	}
	/* inet_sport, not skc_num: tcp_done() has released the bound port (inet_num = 0) by the
	 * time a failed connect reaches TCP_CLOSE */
	r->sport = bpf_ntohs(BPF_CORE_READ(inet, inet_sport));
	r->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/*
 * The context of a TCP record whose socket has no owner record (opened before the agent and not
 * reached by the start-up walk, which covers the agent's network namespace only): no process
 * (pid, tid, ns_pid, ppid 0, comm empty, uid and gid (uid_t)-1), and the socket's own v2 cgroup,
 * the one it was created in (sk_cgrp_data), also under cgroup_v1. Never the current task: most
 * transitions run in softirq, on whichever task the packet interrupted (for a local client,
 * the client).
 */
static __always_inline void fill_hdr_unowned(struct tr_hdr *h, __u64 cgroup_id, __u16 ev)
{
	__builtin_memset(h, 0, sizeof(*h));
	h->event = ev;
	h->flags = TR_F_OWNER_UNKNOWN;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = cgroup_id;
	h->uid = (__u32)-1;
	h->gid = (__u32)-1;
}

static __always_inline int tcp_emit(__u32 slot, const struct sock *sk, struct tr_sock_owner *o,
				    int oldstate, int newstate)
{
	char no_comm[TR_COMM_LEN] = {};
	struct tr_fctx fc;
	struct tr_tcp *r;

	if (o) {
		fc.cgroup_id = o->cgroup_id;
		fc.comm = o->comm;
		fc.pid = o->pid;
		fc.uid = o->uid;
	} else {
		/* what fill_hdr_unowned() will write */
		fc.cgroup_id = BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
		fc.comm = no_comm;
		fc.pid = 0;
		fc.uid = (__u32)-1;
	}
	if (!want(slot, &fc, false))
		return 0;
	r = reserve(slot, sizeof(*r));
	if (!r)
		return 0;
	if (o) {
		fill_hdr_owner(&r->hdr, o, slot);
	} else {
		fill_hdr_unowned(&r->hdr, fc.cgroup_id, slot);
		DBG(slot, oldstate, newstate, "tcp socket without owner");
	}
	r->hdr.size = sizeof(*r);
	tcp_tuple(r, sk);
	r->oldstate = oldstate;
	r->newstate = newstate;
	r->pad = 0;
	r->pad2 = 0;
	r->error = 0;
	r->bytes_acked = 0;
	r->bytes_received = 0;
	r->duration_ns = 0;
	if (slot == TR_EV_TCP_CONNECT_ERROR)
		r->error = BPF_CORE_READ(sk, sk_err);
	if (slot == TR_EV_TCP_CLOSE) {
		const struct tcp_sock *tp = (const struct tcp_sock *)sk;

		r->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
		r->bytes_received = BPF_CORE_READ(tp, bytes_received);
		if (o && o->established_ns)
			r->duration_ns = r->hdr.ts_ns - o->established_ns;
	}
	submit(slot, r);
	return 0;
}

/*
 * inet_sock_set_state runs in softirq for most transitions (SYN-ACK, RST, the handshake's last
 * ACK on the server): the owner comes from socket storage, never from the current task. Only
 * CLOSE->SYN_SENT (connect) and CLOSE->LISTEN (listen) run in the owner's own context; those
 * fill a missing owner (a socket created before the agent).
 */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tr_inet_sock_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct tr_sock_owner *o;
	__u32 slot;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_SYN_SENT || newstate == TCP_LISTEN) {
		o = bpf_sk_storage_get(&tr_sock_owner, (struct sock *)sk, 0,
				       BPF_SK_STORAGE_GET_F_CREATE);
		if (o && !o->pid)
			fill_owner(o, bpf_get_current_task_btf());
	} else {
		o = bpf_sk_storage_get(&tr_sock_owner, (struct sock *)sk, 0, 0);
	}

	if (newstate == TCP_ESTABLISHED && o)
		o->established_ns = bpf_ktime_get_boot_ns();
	if (oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED)
		slot = TR_EV_TCP_CONNECT;
	else if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED)
		slot = TR_EV_TCP_ACCEPT;
	else if (newstate == TCP_LISTEN)
		slot = TR_EV_TCP_LISTEN;
	else if (oldstate == TCP_SYN_SENT && newstate == TCP_CLOSE && BPF_CORE_READ(sk, sk_err))
		slot = TR_EV_TCP_CONNECT_ERROR;
	else if (newstate == TCP_CLOSE && oldstate != TCP_SYN_RECV)
		slot = TR_EV_TCP_CLOSE;
	else
		return 0;
	if (o && !o->pid)
		o = NULL;
	return tcp_emit(slot, sk, o, oldstate, newstate);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tr_tcp_retransmit_skb, const struct sock *sk, const struct sk_buff *skb, int err)
{
	struct tr_sock_owner *o = bpf_sk_storage_get(&tr_sock_owner, (struct sock *)sk, 0, 0);
	int state = BPF_CORE_READ(sk, __sk_common.skc_state);

	if (o && !o->pid)
		o = NULL;
	return tcp_emit(TR_EV_TCP_RETRANSMIT, sk, o, state, state);
}

/* ---- cgroups, OOM, signals ------------------------------------------------------------------ */

/*
 * The hierarchy records are attributed to: v2 (hierarchy 0), or with cgroup_v1 the v1 one that
 * holds the memory controller. The cgroup_* events report its cgroups only.
 */
static __always_inline bool attributed_hierarchy(struct cgroup *cgrp)
{
	if (cgroup_v1)
		return v1_memory_hierarchy(cgrp);
	return BPF_CORE_READ(cgrp, root, hierarchy_id) == 0;
}

static __always_inline int cgroup_emit(__u32 slot, struct cgroup *cgrp, const char *path,
				       struct task_struct *t, bool threadgroup)
{
	struct tr_cgroup *c;
	struct tr_fctx fc;
	bool notify, ok;
	long n;

	if (!attributed_hierarchy(cgrp))
		return 0;
	/* the library sees every mkdir/rmdir it needs (cgroup filter sets, rate-state cleanup),
	 * also those the policy does not emit: flagged TR_F_NOTIFY, never delivered */
	notify = (slot == TR_EV_CGROUP_RMDIR && cgroup_rmdir_notify) ||
		 (slot == TR_EV_CGROUP_MKDIR && cgroup_mkdir_notify);
	task_fctx(&fc, t);
	ok = want(slot, &fc, false);
	/* the agent's own mkdir/rmdir too: not an event, but the filter sets must know it */
	if (!ok && !notify)
		return 0;
	c = reserve(slot, sizeof(*c));
	if (!c)
		return 0;
	fill_hdr(&c->hdr, t, slot);
	if (!ok)
		c->hdr.flags |= TR_F_NOTIFY;
	c->target_cgroup_id = BPF_CORE_READ(cgrp, kn, id);
	c->hierarchy_id = BPF_CORE_READ(cgrp, root, hierarchy_id);
	c->level = BPF_CORE_READ(cgrp, level);
	c->threadgroup = threadgroup;
	n = bpf_probe_read_kernel_str(c->path, sizeof(c->path), path);
	if (n < 0) {
		c->path[0] = 0;
		n = 1;
	}
	c->path_len = n;
	/* the whole reservation crosses the ring: hdr.size must say so (the library checks it
	 * against the record's length, and every cgroup record failed that check before) */
	c->hdr.size = sizeof(*c);
	if (ok)
		submit(slot, c);
	else
		bpf_ringbuf_submit(c, 0);
	return 0;
}

/*
 * A new cgroup joins its parent's descent-closed filter sets here, before any task can be
 * moved into it, so a cgroup below a cgroup_path_prefix is filtered right from its first event
 * (the library adds a cgroup whose path is the prefix itself when it reads this record).
 */
static __always_inline void cgroup_inherit(struct cgroup *cgrp)
{
	__u64 id, parent, *pbits, bits;
	long err;

	if (!cgroup_inherit_mask || !attributed_hierarchy(cgrp))
		return;
	parent = BPF_CORE_READ(cgrp, self.parent, cgroup, kn, id);
	pbits = bpf_map_lookup_elem(&cgroup_allow, &parent);
	if (!pbits)
		return;
	bits = *pbits & cgroup_inherit_mask;
	if (!bits)
		return;
	id = BPF_CORE_READ(cgrp, kn, id);
	err = bpf_map_update_elem(&cgroup_allow, &id, &bits, BPF_NOEXIST);
	if (err && err != -EEXIST)
		DBG(TR_EV_CGROUP_MKDIR, err, id, "cgroup_allow update failed");
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(tr_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	cgroup_inherit(cgrp);
	return cgroup_emit(TR_EV_CGROUP_MKDIR, cgrp, path, bpf_get_current_task_btf(), false);
}

/* Also the cue for the library to drop the cgroup's rate state after the cleanup delay. */
SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(tr_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	return cgroup_emit(TR_EV_CGROUP_RMDIR, cgrp, path, bpf_get_current_task_btf(), false);
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(tr_cgroup_attach_task, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	return cgroup_emit(TR_EV_CGROUP_ATTACH_TASK, dst, path, task, threadgroup);
}

/* mark_victim(task, uid) since 2024 (it was an int pid before): read the task. */
SEC("tp_btf/mark_victim")
int BPF_PROG(tr_mark_victim, struct task_struct *task, uid_t uid)
{
	const __u32 slot = TR_EV_OOM_KILL;
	struct tr_oom *r;
	struct mm_struct *mm;

	r = task_event(slot, task, sizeof(*r), false);
	if (!r)
		return 0;
	mm = BPF_CORE_READ(task, mm);
	r->total_vm_pages = 0;
	r->rss_pages = 0;
	if (mm) {
		r->total_vm_pages = BPF_CORE_READ(mm, total_vm);
		/* MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES (percpu_counter totals) */
		r->rss_pages = BPF_CORE_READ(mm, rss_stat[0].count) +
			       BPF_CORE_READ(mm, rss_stat[1].count) +
			       BPF_CORE_READ(mm, rss_stat[3].count);
	}
	r->oom_score_adj_pad = 0;
	r->killer_pid = bpf_get_current_pid_tgid() >> 32;
	submit(slot, r);
	return 0;
}

/* Signals whose default action is not to terminate: CHLD CONT STOP TSTP TTIN TTOU URG WINCH. */
#define SIG_NONFATAL_MASK                                                                          \
	((1ULL << 17) | (1ULL << 18) | (1ULL << 19) | (1ULL << 20) | (1ULL << 21) | (1ULL << 22) | \
	 (1ULL << 23) | (1ULL << 28))

/* Fatal signals sent to another process: SIGKILL, or a terminating signal left at SIG_DFL. */
SEC("tp_btf/signal_generate")
int BPF_PROG(tr_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	const __u32 slot = TR_EV_SIGNAL_GENERATE;
	__u32 self = bpf_get_current_pid_tgid() >> 32;
	struct tr_signal *r;

	if (sig <= 0 || sig > 64)
		return 0;
	if ((__u32)BPF_CORE_READ(task, tgid) == self)
		return 0;
	if (sig != 9) {
		__u64 handler;

		if ((1ULL << sig) & SIG_NONFATAL_MASK)
			return 0;
		handler = (__u64)BPF_CORE_READ(task, sighand, action[(sig - 1) & 63].sa.sa_handler);
		if (handler != 0) /* SIG_DFL */
			return 0;
	}
	r = task_event(slot, bpf_get_current_task_btf(), sizeof(*r), false);
	if (!r)
		return 0;
	r->target_pid = BPF_CORE_READ(task, tgid);
	r->target_tid = BPF_CORE_READ(task, pid);
	r->sig = sig;
	r->result = result;
	/* as the tracepoint's own TP_STORE_SIGINFO: two pseudo pointers stand for no siginfo */
	if ((unsigned long)info == 0) /* SEND_SIG_NOINFO */
		r->code = 0; /* SI_USER */
	else if ((unsigned long)info == 1) /* SEND_SIG_PRIV */
		r->code = 0x80; /* SI_KERNEL */
	else
		r->code = BPF_CORE_READ(info, si_code);
	r->pad = 0;
	BPF_CORE_READ_STR_INTO(&r->target_comm, task, comm);
	submit(slot, r);
	return 0;
}

/* ---- syscalls ------------------------------------------------------------------------------ */

static __always_inline bool sys_bit(const volatile __u64 *map, __u64 nr)
{
	if (nr >= TR_SYSCALL_MAX)
		return false;
	return (map[nr / 64] >> (nr % 64)) & 1;
}

/* Only execve/execveat need work at entry: their filename, gone with the old mm on success. */
SEC("tp_btf/sys_enter")
int BPF_PROG(tr_sys_enter, struct pt_regs *regs, long id)
{
	struct tr_sys_pending *pend, zero = {};
	__u64 ptr;
	__u32 tid;
	long n;

	if (id != NR_execve && id != NR_execveat)
		return 0;
	if (!sys_bit(sys_wanted, id) || !sys_bit(sys_emit, id) || is_self())
		return 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	zero.nr = id;
	if (bpf_map_update_elem(&sys_pending, &tid, &zero, BPF_ANY))
		return 0;
	pend = bpf_map_lookup_elem(&sys_pending, &tid);
	if (!pend)
		return 0;
	ptr = id == NR_execveat ? regs->si : regs->di;
	n = bpf_probe_read_user_str(pend->path, sizeof(pend->path), (void *)ptr);
	pend->path_len = n > 0 ? n : 0;
	return 0;
}

/*
 * Syscall records with decoded pointer arguments are built here and output with only their used
 * bytes; strings are written at a masked offset, so the buffer has room past TR_SYSCALL_DATA_MAX.
 */
#define TR_SYS_OFF_MASK 1023
struct tr_sys_buf {
	__u8 b[TR_SYSCALL_FIXED + TR_SYS_OFF_MASK + 1 + TR_SYS_STR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tr_sys_buf);
} sys_scratch SEC(".maps");

/* Reads the string at user ptr to r->data + *off as str[i]; moves *off past it. */
static __always_inline void sys_read_str(struct tr_syscall *r, int i, __u64 ptr, __u32 *off)
{
	long n;

	if (i < 0 || i >= TR_SYS_STRS || !ptr)
		return;
	n = bpf_probe_read_user_str(r->data + (*off & TR_SYS_OFF_MASK), TR_SYS_STR_MAX,
				    (void *)ptr);
	if (n > 0) {
		r->str_len[i] = n;
		*off += n;
		if (n == TR_SYS_STR_MAX)
			r->hdr.flags |= TR_F_PATH_TRUNCATED;
	} else {
		r->hdr.flags |= TR_F_READ_ERROR;
	}
}

/* The sockaddr at user ptr (len bytes, cut at TR_SOCKADDR_MAX) to r->data; moves *off. */
static __always_inline void sys_read_addr(struct tr_syscall *r, __u64 ptr, __u64 len, __u32 *off)
{
	if (!ptr || !len)
		return;
	if (len > TR_SOCKADDR_MAX)
		len = TR_SOCKADDR_MAX;
	if (bpf_probe_read_user(r->data, len & 0x1f, (void *)ptr)) {
		r->hdr.flags |= TR_F_READ_ERROR;
	} else {
		r->addr_len = len;
		*off += len;
	}
}

/*
 * A syscall event's filters and then its rate limit. The filename filter reads openat's path
 * (execve/execveat: the one sys_enter saved) before a record is reserved, so a rejected call
 * costs neither a ring buffer slot nor a token.
 */
static __always_inline bool sys_want(__u32 slot, struct task_struct *task, __u64 nr,
				     struct pt_regs *regs, struct tr_sys_pending *pend)
{
	const char *name = NULL;
	struct tr_fctx fc;

	task_fctx(&fc, task);
	if (!want_filtered(slot, &fc))
		return false;
	if (slot < TR_SLOTS && event_filter[slot].filename_len) {
		if (nr == NR_openat) {
			__u32 zero = 0;
			struct tr_prefix *buf = bpf_map_lookup_elem(&filter_scratch, &zero);

			if (buf &&
			    bpf_probe_read_user_str(buf->s, sizeof(buf->s), (void *)regs->si) > 0)
				name = buf->s;
		} else if (pend && pend->nr == nr && pend->path_len > 0) {
			name = pend->path;
		}
		if (!filename_ok(slot, name))
			return false;
	}
	return rate_ok(slot, fc.cgroup_id);
}

/* The fixed part: context, number, return value, registers; no decoded data yet. */
static __always_inline void sys_fill(struct tr_syscall *r, struct task_struct *task,
				     struct pt_regs *regs, __u64 nr, long ret)
{
	fill_hdr_task(&r->hdr, task, TR_EV_SYSCALL);
	r->hdr.ns_pid = task_ns_tgid_btf(task);
	r->hdr.size = TR_SYSCALL_FIXED;
	r->nr = nr;
	r->addr_len = 0;
	r->str_len[0] = 0;
	r->str_len[1] = 0;
	r->str_len[2] = 0;
	r->pad = 0;
	r->ret = ret;
	r->args[0] = regs->di;
	r->args[1] = regs->si;
	r->args[2] = regs->dx;
	r->args[3] = regs->r10;
	r->args[4] = regs->r8;
	r->args[5] = regs->r9;
}

/* Whether a syscall's record carries decoded data (a sockaddr or strings). */
static __always_inline bool sys_has_data(__u64 nr)
{
	switch (nr) {
	case NR_connect:
	case NR_bind:
	case NR_accept4:
	case NR_openat:
	case NR_execve:
	case NR_execveat:
	case NR_mount:
	case NR_memfd_create:
	case NR_init_module:
	case NR_finit_module:
		return true;
	default:
		return false;
	}
}

/* A record with decoded data: built in sys_scratch, output with its used length. */
static __always_inline void sys_emit_data(__u32 slot, struct task_struct *task,
					  struct pt_regs *regs, __u64 nr, long ret,
					  struct tr_sys_pending *pend)
{
	__u32 zero = 0, off = 0, size;
	struct tr_syscall *r;

	r = bpf_map_lookup_elem(&sys_scratch, &zero);
	if (!r)
		return;
	sys_fill(r, task, regs, nr, ret);
	switch (nr) {
	case NR_connect:
	case NR_bind:
		sys_read_addr(r, r->args[1], r->args[2], &off);
		break;
	case NR_accept4:
		if (ret >= 0 && r->args[1] && r->args[2]) {
			int len = 0;

			bpf_probe_read_user(&len, sizeof(len), (void *)r->args[2]);
			if (len > 0)
				sys_read_addr(r, r->args[1], len, &off);
		}
		break;
	case NR_openat:
		sys_read_str(r, 0, r->args[1], &off);
		break;
	case NR_execve:
	case NR_execveat:
		if (pend && pend->nr == nr && pend->path_len > 0) {
			__u32 n = pend->path_len;

			if (n > TR_SYS_STR_MAX)
				n = TR_SYS_STR_MAX;
			bpf_probe_read_kernel(r->data, n & (TR_SYS_STR_MAX * 2 - 1), pend->path);
			r->str_len[0] = n;
			off = n;
		}
		break;
	case NR_mount:
		sys_read_str(r, 0, r->args[0], &off);
		sys_read_str(r, 1, r->args[1], &off);
		sys_read_str(r, 2, r->args[2], &off);
		break;
	case NR_memfd_create:
		sys_read_str(r, 0, r->args[0], &off);
		break;
	case NR_init_module:
		sys_read_str(r, 0, r->args[2], &off);
		break;
	case NR_finit_module:
		sys_read_str(r, 0, r->args[1], &off);
		break;
	default:
		break;
	}
	size = TR_SYSCALL_FIXED + (off & TR_SYS_OFF_MASK);
	r->hdr.size = size;
	if (bpf_ringbuf_output(&events, r, size, 0)) {
		stat_inc(slot, TR_STAT_LOST);
		return;
	}
	stat_inc(slot, TR_STAT_EMITTED);
}

/*
 * Every syscall event is made at exit, from the registers (the arguments' saved user values,
 * unchanged by the syscall) and the user memory they point to (accept4's address as written
 * back). Fast path: one rodata bit test, nothing else for a syscall not in the wanted set. A
 * syscall without pointer arguments reserves only the fixed record (TR_SYSCALL_FIXED bytes).
 * The current task is fetched once: the agent's own tgid, the tid and the cgroup id are direct
 * loads from it (each helper call costs a return thunk on this kernel's mitigations).
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(tr_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 nr = regs->orig_ax;
	struct tr_sys_pending *pend = NULL;
	struct task_struct *task;
	struct tr_syscall *r;
	__u32 slot, tid;

	if (!sys_bit(sys_wanted, nr))
		return 0;
	task = bpf_get_current_task_btf();
	if ((__u32)task->tgid == self_tgid)
		return 0;
	tid = task->pid;
	if (nr == NR_execve || nr == NR_execveat) {
		if (ret < 0)
			emit_exec_failed(regs, nr, ret);
		pend = bpf_map_lookup_elem(&sys_pending, &tid);
	}
	if (!sys_bit(sys_emit, nr))
		goto out;
	slot = TR_EV_MAX + nr;
	if (!sys_want(slot, task, nr, regs, pend))
		goto out;
	if (sys_has_data(nr)) {
		sys_emit_data(slot, task, regs, nr, ret, pend);
		goto out;
	}
	r = reserve(slot, TR_SYSCALL_FIXED);
	if (!r)
		goto out;
	sys_fill(r, task, regs, nr, ret);
	submit(slot, r);
out:
	if (pend)
		bpf_map_delete_elem(&sys_pending, &tid);
	return 0;
}

/* ---- processes and sockets that existed before the agent ---------------------------------- */

SEC("iter/task")
int tr_iter_task(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct tr_task_seed s = {};

	if (!t || t->pid != t->tgid)
		return 0;
	bool v1;

	s.cgroup_id = task_cgroup_id(t, &v1);
	s.pid = t->tgid;
	s.tid = t->pid;
	s.ppid = BPF_CORE_READ(t, real_parent, tgid);
	s.ns_pid = task_ns_tgid(t);
	s.uid = BPF_CORE_READ(t, cred, uid.val);
	s.gid = BPF_CORE_READ(t, cred, gid.val);
	BPF_CORE_READ_STR_INTO(&s.comm, t, comm);
	bpf_seq_write(ctx->meta->seq, &s, sizeof(s));
	return 0;
}

/*
 * Owner records for TCP sockets opened before the agent, in two passes: iter/task_file notes the
 * first task holding each TCP socket file (by inode) and writes a struct tr_sock_walk_rec per
 * file; then iter/tcp, run in each network namespace those records name, writes the owner into
 * the socket's storage (a socket reached through a file is not a trusted pointer for
 * bpf_sk_storage_get; one from the TCP iterator is) and one result byte per socket it took.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct tr_sock_owner);
} sock_seed SEC(".maps");

SEC("iter/task_file")
int tr_iter_task_file(struct bpf_iter__task_file *ctx)
{
	struct task_struct *t = ctx->task;
	struct file *file = ctx->file;
	struct tr_sock_walk_rec rec = {};
	struct tr_sock_owner o = {};
	struct socket *sock;
	struct sock *sk;
	__u16 family;
	long ret;
	__u64 ino;

	if (!t || !file)
		return 0;
	sock = bpf_sock_from_file(file);
	if (!sock)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if ((family != AF_INET && family != AF_INET6) ||
	    BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	ino = BPF_CORE_READ(file, f_inode, i_ino);
	fill_owner(&o, t);
	/* BPF_NOEXIST: the first holder's (the iterator goes by pid, the lowest first) */
	ret = bpf_map_update_elem(&sock_seed, &ino, &o, BPF_NOEXIST);
	rec.result = !ret	      ? TR_SOCK_WALK_SEEDED
		     : ret == -EEXIST ? TR_SOCK_WALK_SHARED
				      : TR_SOCK_WALK_TABLE_FULL;
	rec.pid = t->tgid;
	rec.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

SEC("iter/tcp")
int tr_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tr_sock_owner *seed, *o;
	struct tcp_sock *tp;
	__u8 result;
	__u64 ino;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	ino = BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.sk_socket, file, f_inode, i_ino);
	seed = bpf_map_lookup_elem(&sock_seed, &ino);
	if (!seed)
		return 0;
	o = bpf_sk_storage_get(&tr_sock_owner, tp, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return 0;
	result = TR_SOCK_WALK_HAD_OWNER;
	if (!o->pid) {
		__builtin_memcpy(o, seed, sizeof(*o));
		result = TR_SOCK_WALK_RECORDED;
	}
	/* taken: a second run of this namespace (or a socket seen twice) counts it once */
	bpf_map_delete_elem(&sock_seed, &ino);
	bpf_seq_write(ctx->meta->seq, &result, sizeof(result));
	return 0;
}

/*
 * Run once by the library with BPF_PROG_TEST_RUN, in the agent's own context: the agent's tgid as
 * the kernel sees it (initial PID namespace), which getpid() is not inside a container.
 */
SEC("raw_tp")
int tr_learn_self(void *ctx)
{
	self_tgid = bpf_get_current_pid_tgid() >> 32;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
