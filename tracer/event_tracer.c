// SPDX-License-Identifier: Apache-2.0
/* The event tracer's user side: load, attach, seed, read, decode, filter. See event_tracer.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <mntent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "event_tracer.h"
#include "netns_iter.h"
#include "syscall_decode.h"
#include "tracer.skel.h"

#define TASK_BUCKETS 4096
/* Initial room for removed cgroups waiting for their cleanup delay (grows as needed). */
#define MAX_PENDING_RMDIR 256
/* Deepest cgroup tree the walk follows (the kernel allows more; none nests this deep). */
#define CGROUP_WALK_DEPTH 64

struct task_node {
	struct event_tracer_task t;
	struct task_node *next;
};

struct rmdir_pending {
	uint64_t cgroup_id;
	uint64_t due_ns;
};

struct event_tracer {
	struct event_tracer_opts opts;
	struct tracer_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link **links;
	size_t n_links;
	int cgroup_fd;
	int ncpus;
	/* user-side counters per slot (events, then syscalls by number) */
	struct event_tracer_counts *user;
	/* decode scratch: argv/env pointer arrays */
	char **argv;
	size_t argv_cap;
	char **env;
	size_t env_cap;
	struct task_node *tasks[TASK_BUCKETS];
	size_t n_tasks;
	bool tasks_from_iter;
	bool maintain_tasks;
	struct rmdir_pending *rmdirs;
	size_t n_rmdirs;
	size_t rmdirs_cap;
	uint64_t rmdir_dropped;
	bool any_rate_limit;
	bool scope; /* cgroup_root given (cgroup v2): events of its subtree only, TR_SCOPE_BIT */
	/* cgroup filter sets: set n (bit n-1 of a cgroup_allow value) belongs to slot set_slot[n-1] */
	uint32_t set_slot[TR_CGROUP_SETS];
	size_t n_sets;
	bool any_cgroup_match; /* a set with filter.cgroup_match: walk, mkdir, rmdir */
	char cgroup_mount[512]; /* what the cgroup filters walk: the v2 or the v1 memory mount */
	uint64_t cgroup_errors; /* matching cgroups that could not be added */
	struct event_tracer_socket_walk sock_walk;
};

#define SLOTS (TR_EV_MAX + TR_SYSCALL_MAX)

static void tlog(const struct event_tracer *et, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void tlog(const struct event_tracer *et, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (et->opts.log)
		et->opts.log(et->opts.log_ctx, level, msg);
	else
		fprintf(stderr, "tracer: %s\n", msg);
}

/* ---- programs per event ---------------------------------------------------------------------- */

struct ev_progs {
	const char *req[3];
	const char *opt[3];
};

static const struct ev_progs ev_progs[TR_EV_MAX] = {
	[TR_EV_SCHED_PROCESS_EXEC] = { { "tr_sched_process_exec" }, {} },
	[TR_EV_SCHED_PROCESS_EXEC_FAILED] = { { "tr_sys_exit" }, {} },
	[TR_EV_SCHED_PROCESS_FORK] = { { "tr_sched_process_fork" }, {} },
	[TR_EV_SCHED_PROCESS_EXIT] = { { "tr_sched_process_exit" }, {} },
	[TR_EV_TCP_CONNECT] = { { "tr_inet_sock_set_state", "tr_sock_create" },
				{ "tr_iter_task_file", "tr_iter_tcp" } },
	[TR_EV_TCP_ACCEPT] = { { "tr_inet_sock_set_state", "tr_sock_create" },
			       { "tr_iter_task_file", "tr_iter_tcp" } },
	[TR_EV_TCP_LISTEN] = { { "tr_inet_sock_set_state", "tr_sock_create" },
			       { "tr_iter_task_file", "tr_iter_tcp" } },
	[TR_EV_TCP_CLOSE] = { { "tr_inet_sock_set_state", "tr_sock_create" },
			      { "tr_iter_task_file", "tr_iter_tcp" } },
	[TR_EV_TCP_CONNECT_ERROR] = { { "tr_inet_sock_set_state", "tr_sock_create" },
				      { "tr_iter_task_file", "tr_iter_tcp" } },
	[TR_EV_TCP_RETRANSMIT] = { { "tr_tcp_retransmit_skb", "tr_sock_create" },
				   { "tr_iter_task_file", "tr_iter_tcp" } },
	[TR_EV_CGROUP_MKDIR] = { { "tr_cgroup_mkdir" }, {} },
	[TR_EV_CGROUP_RMDIR] = { { "tr_cgroup_rmdir" }, {} },
	[TR_EV_CGROUP_ATTACH_TASK] = { { "tr_cgroup_attach_task" }, {} },
	[TR_EV_OOM_KILL] = { { "tr_mark_victim" }, {} },
	[TR_EV_SIGNAL_GENERATE] = { { "tr_signal_generate" }, {} },
};

static size_t add_prog(struct event_tracer_prog *out, size_t n, size_t max, const char *name,
		       bool required)
{
	for (size_t i = 0; i < n && i < max; i++) {
		if (!strcmp(out[i].name, name)) {
			out[i].required |= required;
			return n;
		}
	}
	if (n < max) {
		out[n].name = name;
		out[n].required = required;
	}
	return n + 1;
}

static bool any_rate_limit(const struct event_tracer_opts *o)
{
	for (int i = 0; i < TR_EV_MAX; i++)
		if (o->events[i].enabled && o->events[i].rate_burst && o->events[i].rate_per_second)
			return true;
	for (int i = 0; i < TR_SYSCALL_MAX; i++)
		if (o->syscalls[i].enabled && o->syscalls[i].rate_burst &&
		    o->syscalls[i].rate_per_second)
			return true;
	return false;
}

static const struct event_tracer_event_opts *opts_slot(const struct event_tracer_opts *o,
						       uint32_t slot)
{
	if (slot < TR_EV_MAX)
		return &o->events[slot];
	return &o->syscalls[slot - TR_EV_MAX];
}

static bool any_cgroup_match(const struct event_tracer_opts *o)
{
	for (uint32_t slot = 1; slot < TR_EV_MAX + TR_SYSCALL_MAX; slot++)
		if (opts_slot(o, slot)->enabled && opts_slot(o, slot)->filter.cgroup_match)
			return true;
	return false;
}

/* --cgroup-root limits the events to its subtree (cgroup v2; in v1 mode it does not). */
static bool has_scope(const struct event_tracer_opts *o)
{
	return o->cgroup_root && !o->cgroup_v1;
}

size_t event_tracer_programs_for(const struct event_tracer_opts *o, struct event_tracer_prog *out,
				 size_t max)
{
	size_t n = 0;

	for (int i = 1; i < TR_EV_MAX; i++) {
		if (!o->events[i].enabled || i == TR_EV_SYSCALL)
			continue;
		for (int j = 0; j < 3 && ev_progs[i].req[j]; j++)
			n = add_prog(out, n, max, ev_progs[i].req[j], true);
		for (int j = 0; j < 3 && ev_progs[i].opt[j]; j++)
			n = add_prog(out, n, max, ev_progs[i].opt[j], false);
	}
	for (int nr = 0; nr < TR_SYSCALL_MAX; nr++) {
		if (!o->syscalls[nr].enabled)
			continue;
		n = add_prog(out, n, max, "tr_sys_exit", true);
		if (nr == SYS_execve || nr == SYS_execveat)
			n = add_prog(out, n, max, "tr_sys_enter", true);
	}
	/* rate state and cgroup filter ids of removed cgroups are dropped on their cgroup_rmdir */
	if (any_rate_limit(o) || any_cgroup_match(o) || has_scope(o))
		n = add_prog(out, n, max, "tr_cgroup_rmdir", false);
	/* new cgroups join the cgroup_match sets and the scope at their cgroup_mkdir */
	if (any_cgroup_match(o) || has_scope(o))
		n = add_prog(out, n, max, "tr_cgroup_mkdir", true);
	if (o->seed_tasks)
		n = add_prog(out, n, max, "tr_iter_task", false);
	return n;
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* The agent's tgid in the initial PID namespace: NSpid's first field (the procfs's namespace,
 * the host's for an agent with hostPID), else getpid(). */
static uint32_t own_tgid(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	uint32_t pid = getpid();

	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		unsigned v;

		if (sscanf(line, "NSpid: %u", &v) == 1) {
			pid = v;
			break;
		}
	}
	fclose(f);
	return pid;
}

static int find_cgroup2(char *buf, size_t len)
{
	FILE *f = setmntent("/proc/mounts", "re");
	struct mntent *m;
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(buf, len, "%s", m->mnt_dir);
			ret = 0;
			break;
		}
	}
	endmntent(f);
	return ret;
}

static void task_put(struct event_tracer *et, const struct event_tracer_task *t)
{
	struct task_node **pp = &et->tasks[t->pid % TASK_BUCKETS];

	for (struct task_node *n = *pp; n; n = n->next) {
		if (n->t.pid == t->pid) {
			n->t = *t;
			return;
		}
	}
	struct task_node *n = malloc(sizeof(*n));

	if (!n)
		return;
	n->t = *t;
	n->next = *pp;
	*pp = n;
	et->n_tasks++;
}

static void task_del(struct event_tracer *et, uint32_t pid)
{
	struct task_node **pp = &et->tasks[pid % TASK_BUCKETS];

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->t.pid == pid) {
			struct task_node *n = *pp;

			*pp = n->next;
			free(n);
			et->n_tasks--;
			return;
		}
	}
}

bool event_tracer_task_lookup(const struct event_tracer *et, uint32_t pid,
			      struct event_tracer_task *out)
{
	for (struct task_node *n = et->tasks[pid % TASK_BUCKETS]; n; n = n->next) {
		if (n->t.pid == pid) {
			*out = n->t;
			return true;
		}
	}
	return false;
}

size_t event_tracer_task_count(const struct event_tracer *et, bool *from_iterator)
{
	if (from_iterator)
		*from_iterator = et->tasks_from_iter;
	return et->n_tasks;
}

/* /proc fallback of the task iterator (no cgroup id: 0). */
static void seed_from_proc(struct event_tracer *et)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct event_tracer_task t = { 0 };
		char path[300], line[256];
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		t.pid = strtoul(de->d_name, NULL, 10);
		while (fgets(line, sizeof(line), f)) {
			unsigned a;

			if (!strncmp(line, "Name:\t", 6)) {
				size_t l = strcspn(line + 6, "\n");

				if (l >= sizeof(t.comm))
					l = sizeof(t.comm) - 1;
				memcpy(t.comm, line + 6, l);
			} else if (sscanf(line, "PPid: %u", &a) == 1) {
				t.ppid = a;
			} else if (sscanf(line, "Uid: %u", &a) == 1) {
				t.uid = a;
			} else if (sscanf(line, "Gid: %u", &a) == 1) {
				t.gid = a;
			}
		}
		fclose(f);
		task_put(et, &t);
	}
	closedir(d);
}

static int run_iter(struct bpf_program *prog, struct bpf_link **link_out)
{
	struct bpf_link *link = bpf_program__attach_iter(prog, NULL);
	int err, fd;

	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		bpf_link__destroy(link);
		return err;
	}
	*link_out = link;
	return fd;
}

static int seed_tasks_iter(struct event_tracer *et)
{
	struct bpf_link *link = NULL;
	struct tr_task_seed s[256];
	int fd = run_iter(et->skel->progs.tr_iter_task, &link);
	ssize_t n;

	if (fd < 0)
		return fd;
	while ((n = read(fd, s, sizeof(s))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(s[0]); i++) {
			struct event_tracer_task t = {
				.pid = s[i].pid,
				.ppid = s[i].ppid,
				.uid = s[i].uid,
				.gid = s[i].gid,
				.cgroup_id = s[i].cgroup_id,
			};

			memcpy(t.comm, s[i].comm, sizeof(t.comm));
			t.comm[sizeof(t.comm) - 1] = 0;
			task_put(et, &t);
		}
	}
	close(fd);
	bpf_link__destroy(link);
	return n < 0 ? -errno : 0;
}

/* A network namespace the walk's second pass enters, and a process in it. */
struct walk_ns {
	uint32_t inum;
	uint32_t pid;
};

/* Adds ns to *arr unless there; false when out of memory. */
static bool walk_ns_add(struct walk_ns **arr, size_t *n, size_t *cap, uint32_t inum, uint32_t pid)
{
	for (size_t k = 0; k < *n; k++)
		if ((*arr)[k].inum == inum)
			return true;
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 16;
		struct walk_ns *na = realloc(*arr, nc * sizeof(*na));

		if (!na)
			return false;
		*arr = na;
		*cap = nc;
	}
	(*arr)[(*n)++] = (struct walk_ns){ .inum = inum, .pid = pid };
	return true;
}

/* read(2) that goes on after EAGAIN (1M files without a socket in one read) and EINTR. */
static ssize_t iter_read(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && (errno == EAGAIN || errno == EINTR));
	return n;
}

/*
 * Owners of the TCP sockets opened before the agent (tr_iter_task_file, tr_iter_tcp): the first
 * pass goes over every process's files and notes each TCP socket's first holder; the second runs
 * the TCP iterator inside each network namespace those sockets are in (netns_iter.h), since it
 * walks the namespace of the thread that creates it. Counts into et->sock_walk and logs one
 * line. A namespace it cannot enter leaves its sockets without an owner, counted; returns 0 or
 * the negative errno of an iterator that could not be made or read.
 */
static int seed_sockets(struct event_tracer *et)
{
	struct event_tracer_socket_walk *w = &et->sock_walk;
	_Alignas(8) struct tr_sock_walk_rec r[128];
	size_t n_ns = 0, cap_ns = 0;
	struct walk_ns *ns = NULL;
	struct bpf_link *link = NULL;
	uint64_t seeded = 0, taken = 0, key;
	uint32_t own = netns_iter_own();
	int fd, ret = 0, seed, first_err = 0;
	uint8_t res[4096];
	ssize_t n;

	if (!netns_iter_initial_pidns())
		tlog(et, 2,
		     "socket owner walk: not in the initial PID namespace (on Kubernetes: "
		     "hostPID): "
		     "it sees this namespace's processes only, and the TCP events of other sockets "
		     "opened before the tracer name no process");
	fd = run_iter(et->skel->progs.tr_iter_task_file, &link);
	if (fd < 0)
		return fd;
	while ((n = iter_read(fd, r, sizeof(r))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(r[0]); i++) {
			w->found++;
			if (r[i].result == TR_SOCK_WALK_SHARED) {
				w->had_owner++;
			} else if (r[i].result == TR_SOCK_WALK_TABLE_FULL) {
				w->table_full++;
			} else if (r[i].result == TR_SOCK_WALK_SEEDED) {
				seeded++;
				if (!walk_ns_add(&ns, &n_ns, &cap_ns, r[i].netns, r[i].pid))
					ret = -ENOMEM;
			}
		}
	}
	if (n < 0)
		ret = -errno;
	close(fd);
	bpf_link__destroy(link);
	link = NULL;
	if (!ret && n_ns) {
		link = bpf_program__attach_iter(et->skel->progs.tr_iter_tcp, NULL);
		if (!link)
			ret = -errno;
	}
	for (size_t k = 0; k < n_ns && !ret; k++) {
		int err = netns_iter_create(ns[k].inum, ns[k].pid, own, &link, 1, &fd);

		if (err) {
			/* EPERM without CAP_SYS_ADMIN, EACCES without CAP_SYS_PTRACE;
			 * ENOENT, ESRCH: the process is gone, or not in the agent's PID namespace */
			if (!w->netns_not_entered++)
				first_err = err;
			tlog(et, 3, "socket owner walk: network namespace %u (pid %u): %s",
			     ns[k].inum, ns[k].pid, strerror(-err));
			continue;
		}
		w->netns++;
		while ((n = iter_read(fd, res, sizeof(res))) > 0) {
			for (ssize_t i = 0; i < n; i++) {
				w->recorded += res[i] == TR_SOCK_WALK_RECORDED;
				w->had_owner += res[i] == TR_SOCK_WALK_HAD_OWNER;
			}
			taken += (uint64_t)n;
		}
		if (n < 0)
			ret = -errno;
		close(fd);
	}
	bpf_link__destroy(link);
	/* noted, not taken: a namespace not entered, a socket in no TCP table or closed */
	w->not_reached = seeded > taken ? seeded - taken : 0;
	seed = bpf_map__fd(et->skel->maps.sock_seed);
	while (bpf_map_get_next_key(seed, NULL, &key) == 0 && bpf_map_delete_elem(seed, &key) == 0)
		;
	free(ns);
	tlog(et, 2,
	     "socket owner walk: %" PRIu64 " TCP sockets found, %" PRIu64 " owners recorded, "
	     "%" PRIu64 " had one, %" PRIu64 " not recorded (table full), %" PRIu64 " not "
	     "reached, TCP iterator in %" PRIu64 " network namespaces (%" PRIu64 " not entered)",
	     w->found, w->recorded, w->had_owner, w->table_full, w->not_reached,
	     w->netns + w->netns_not_entered, w->netns_not_entered);
	if (w->netns_not_entered)
		tlog(et, 1,
		     "socket owner walk: %" PRIu64 " network namespaces not entered (%s%s): TCP "
		     "events of their sockets opened before the tracer name no process",
		     w->netns_not_entered, strerror(-first_err), netns_iter_hint(first_err));
	return ret;
}

void event_tracer_socket_walk_stats(const struct event_tracer *et,
				    struct event_tracer_socket_walk *out)
{
	*out = et->sock_walk;
}

/* ---- decoding -------------------------------------------------------------------------------- */

static uint32_t slot_of(const struct tr_hdr *h, const void *data)
{
	if (h->event == TR_EV_SYSCALL) {
		const struct tr_syscall *s = data;

		return s->nr < TR_SYSCALL_MAX ? TR_EV_MAX + s->nr : TR_EV_SYSCALL;
	}
	return h->event;
}

static const struct event_tracer_event_opts *slot_opts(const struct event_tracer *et, uint32_t slot)
{
	return opts_slot(&et->opts, slot);
}

/*
 * Splits n bytes of NUL-terminated strings at p into *arr (grown as needed). p[n] must be
 * writable: a last string cut by the bound (no NUL) is terminated there. Returns the count or -1.
 */
static int split_strings(char *p, size_t n, char ***arr, size_t *cap)
{
	size_t count = 0;
	size_t i = 0;

	p[n] = 0;
	while (i < n) {
		size_t l = strlen(p + i);

		if (count == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			char **na = realloc(*arr, nc * sizeof(*na));

			if (!na)
				return -1;
			*arr = na;
			*cap = nc;
		}
		(*arr)[count++] = p + i;
		i += l + 1;
	}
	return count;
}

/* A copy of the record with one spare byte, so its last string can be terminated in place. */
static char *rec_copy(const void *data, size_t size)
{
	char *c = malloc(size + 1);

	if (!c)
		return NULL;
	memcpy(c, data, size);
	c[size] = 0;
	return c;
}

/*
 * Exec records: filename, interpreter, argv and env back to back in data. The copy gives argv
 * and env their own terminator byte each (a bound can cut their last string).
 */
static int decode_exec(struct event_tracer *et, const void *data, size_t size,
		       struct event_tracer_event *ev, char **owned)
{
	const struct tr_exec *raw = data;
	size_t avail, paths;
	char *p, *argv, *env;
	int n;

	if (size < TR_EXEC_FIXED)
		return -1;
	avail = size - TR_EXEC_FIXED;
	paths = (size_t)raw->filename_len + raw->interp_len;
	if (raw->filename_len < 1 || paths + raw->argv_len + raw->env_len > avail)
		return -1;
	*owned = malloc(TR_EXEC_FIXED + paths + raw->argv_len + raw->env_len + 2);
	if (!*owned)
		return -1;
	memcpy(*owned, data, TR_EXEC_FIXED + paths);
	p = *owned + TR_EXEC_FIXED;
	argv = p + paths;
	memcpy(argv, raw->data + paths, raw->argv_len);
	env = argv + raw->argv_len + 1;
	memcpy(env, raw->data + paths + raw->argv_len, raw->env_len);
	if (p[raw->filename_len - 1] != 0)
		return -1;
	ev->exec.filename = p;
	ev->exec.interpreter = NULL;
	if (raw->interp_len) {
		if (p[raw->filename_len + raw->interp_len - 1] != 0)
			return -1;
		ev->exec.interpreter = p + raw->filename_len;
	}
	n = split_strings(argv, raw->argv_len, &et->argv, &et->argv_cap);
	if (n < 0)
		return -1;
	ev->exec.argv = et->argv;
	ev->exec.argc = n;
	ev->exec.env = NULL;
	ev->exec.envc = 0;
	if (raw->hdr.flags & TR_F_HAS_ENV) {
		n = split_strings(env, raw->env_len, &et->env, &et->env_cap);
		if (n < 0)
			return -1;
		ev->exec.env = et->env;
		ev->exec.envc = n;
	}
	ev->exec.ret = raw->ret;
	ev->exec.argv_truncated = raw->hdr.flags & TR_F_ARGV_TRUNCATED;
	ev->exec.env_truncated = raw->hdr.flags & TR_F_ENV_TRUNCATED;
	ev->ctx = (const struct tr_hdr *)*owned;
	return 0;
}

/* Puts process pid (parent ppid) into the task table with the ids, cgroup and comm of h. */
static void task_put_hdr(struct event_tracer *et, uint32_t pid, uint32_t ppid,
			 const struct tr_hdr *h)
{
	struct event_tracer_task t = {
		.pid = pid,
		.ppid = ppid,
		.uid = h->uid,
		.gid = h->gid,
		.cgroup_id = h->cgroup_id,
	};

	memcpy(t.comm, h->comm, sizeof(t.comm));
	t.comm[sizeof(t.comm) - 1] = 0;
	task_put(et, &t);
}

static void track_tasks(struct event_tracer *et, const struct event_tracer_event *ev)
{
	const struct tr_hdr *h = ev->ctx;

	switch (ev->kind) {
	case TR_EV_SCHED_PROCESS_EXEC:
		task_put_hdr(et, h->pid, h->ppid, h);
		break;
	case TR_EV_SCHED_PROCESS_FORK:
		/* the child starts as a copy of the parent */
		if (!(ev->fork->hdr.flags & TR_F_THREAD))
			task_put_hdr(et, ev->fork->child_pid, h->pid, h);
		break;
	case TR_EV_SCHED_PROCESS_EXIT:
		if (ev->exit->group_dead)
			task_del(et, h->pid);
		break;
	default:
		break;
	}
}

/* ---- the kernel's cgroup filter sets ------------------------------------------------------- */

static bool id_in(uint64_t id, const uint64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The sets with a cgroup_match that cgroup id at path (relative to the v2 root) belongs to. */
static uint64_t cgroup_match_bits(const struct event_tracer *et, uint64_t id, const char *path)
{
	uint64_t bits = 0;

	for (size_t i = 0; i < et->n_sets; i++) {
		const struct event_tracer_filter *f = &slot_opts(et, et->set_slot[i])->filter;

		if (!f->cgroup_match)
			continue;
		if (f->n_cgroup_ids && !id_in(id, f->cgroup_ids, f->n_cgroup_ids))
			continue;
		if (f->cgroup_match(f->cgroup_match_ctx, path))
			bits |= 1ULL << i;
	}
	return bits;
}

/* ORs bits into cgroup_allow[id]; a failure (the map is full) is counted and logged. */
static void cgroup_allow_or(struct event_tracer *et, uint64_t id, uint64_t bits)
{
	int fd = bpf_map__fd(et->skel->maps.cgroup_allow);
	uint64_t v = 0;
	bool had = !bpf_map_lookup_elem(fd, &id, &v);

	if (had && (v | bits) == v)
		return;
	v |= bits;
	if (bpf_map_update_elem(fd, &id, &v, BPF_ANY)) {
		et->cgroup_errors++;
		tlog(et, 1,
		     "cgroup filter: cgroup %" PRIu64 " not added (%s, %d ids at most): its events "
		     "are "
		     "filtered out (%" PRIu64 " such cgroups)",
		     id, strerror(errno), TR_CGROUP_ALLOW_MAX, et->cgroup_errors);
	}
}

/* A cgroup made after the start (its cgroup_mkdir record): into the sets its path matches. */
static void cgroup_filter_add(struct event_tracer *et, uint64_t id, const char *path)
{
	uint64_t bits = cgroup_match_bits(et, id, path);

	if (bits)
		cgroup_allow_or(et, id, bits);
}

/*
 * Every cgroup below dir (fd dfd, path rel relative to the v2 root, buffer of PATH_MAX bytes)
 * into the sets its path matches, or with scope into the scope. A directory that vanishes
 * meanwhile is skipped.
 */
static void cgroup_walk_dir(struct event_tracer *et, int dfd, char *rel, size_t len, int depth,
			    bool scope)
{
	struct stat st;
	struct dirent *de;
	DIR *d;

	if (fstat(dfd, &st)) {
		close(dfd);
		return;
	}
	if (scope)
		cgroup_allow_or(et, st.st_ino, TR_SCOPE_BIT);
	else
		cgroup_filter_add(et, st.st_ino, len ? rel : "/");
	if (depth >= CGROUP_WALK_DEPTH || !(d = fdopendir(dfd))) {
		if (depth >= CGROUP_WALK_DEPTH)
			tlog(et, 1, "cgroup filter: %s: deeper than %d levels, not walked", rel,
			     CGROUP_WALK_DEPTH);
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		int n, cfd;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n = snprintf(rel + len, PATH_MAX - len, "/%s", de->d_name);
		if (n < 0 || (size_t)n >= PATH_MAX - len)
			continue;
		cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd >= 0)
			cgroup_walk_dir(et, cfd, rel, len + n, depth + 1, scope);
		rel[len] = 0;
	}
	closedir(d);
}

/* The whole tree (v2, or the v1 memory one) into the cgroup_match sets (at open: twice). */
static int cgroup_walk(struct event_tracer *et)
{
	char rel[PATH_MAX] = "";
	int fd = open(et->cgroup_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	cgroup_walk_dir(et, fd, rel, 0, 0, false);
	return 0;
}

/* The scope: cgroup_root's subtree (at open: twice, like cgroup_walk()). */
static int scope_walk(struct event_tracer *et)
{
	char rel[PATH_MAX] = "";
	int fd = open(et->opts.cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	cgroup_walk_dir(et, fd, rel, 0, 0, true);
	return 0;
}

void event_tracer_cgroup_filter_stats(const struct event_tracer *et, uint64_t *ids,
				      uint64_t *errors)
{
	int fd = bpf_map__fd(et->skel->maps.cgroup_allow);
	uint64_t key, next, n = 0;
	void *prev = NULL;

	/* the kernel adds ids too (a new cgroup below a prefix): count the map itself, the ids
	 * in a filter set (those only in the --cgroup-root scope are not) */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		uint64_t v = 0;

		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &v) && (v & ~TR_SCOPE_BIT))
			n++;
	}
	*ids = n;
	*errors = et->cgroup_errors;
}

/* A removed cgroup's rate state and filter ids go cgroup_cleanup_delay_ns after ts. */
static void note_rmdir(struct event_tracer *et, uint64_t cgroup_id, uint64_t ts)
{
	if (!et->any_rate_limit && !et->any_cgroup_match && !et->scope)
		return;
	if (et->n_rmdirs == et->rmdirs_cap) {
		size_t nc = et->rmdirs_cap * 2;
		struct rmdir_pending *n = realloc(et->rmdirs, nc * sizeof(*n));

		if (!n) {
			/* kept until the LRU evicts it (rate state) or the agent exits (filter id) */
			et->rmdir_dropped++;
			tlog(et, 1, "cgroup %" PRIu64 " removed: no memory to schedule its cleanup",
			     cgroup_id);
			return;
		}
		et->rmdirs = n;
		et->rmdirs_cap = nc;
	}
	et->rmdirs[et->n_rmdirs].cgroup_id = cgroup_id;
	et->rmdirs[et->n_rmdirs].due_ns = ts + et->opts.cgroup_cleanup_delay_ns;
	et->n_rmdirs++;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct event_tracer *et = ctx;
	const struct tr_hdr *h = data;
	struct event_tracer_event ev = { 0 };
	struct event_tracer_counts *uc;
	char *owned = NULL;
	uint32_t slot;
	bool bad = false;

	if (size < sizeof(*h) || h->event == TR_EV_NONE || h->event >= TR_EV_MAX) {
		et->user[0].decode_errors++;
		return 0;
	}
	if (h->size != size) {
		/* counted against its event, where the agent exports it */
		et->user[h->event].decode_errors++;
		return 0;
	}
	if (h->event == TR_EV_SYSCALL && size < TR_SYSCALL_FIXED) {
		et->user[TR_EV_SYSCALL].decode_errors++;
		return 0;
	}
	slot = slot_of(h, data);
	uc = &et->user[slot];
	uc->received++;
	ev.kind = h->event;
	ev.name = event_tracer_event_name(h->event);
	ev.ctx = h;
	switch (h->event) {
	case TR_EV_SCHED_PROCESS_EXEC:
	case TR_EV_SCHED_PROCESS_EXEC_FAILED:
		bad = decode_exec(et, data, size, &ev, &owned) != 0;
		break;
	case TR_EV_SCHED_PROCESS_FORK:
		bad = size != sizeof(struct tr_fork);
		ev.fork = data;
		break;
	case TR_EV_SCHED_PROCESS_EXIT:
		bad = size != sizeof(struct tr_exit);
		ev.exit = data;
		break;
	case TR_EV_TCP_CONNECT:
	case TR_EV_TCP_ACCEPT:
	case TR_EV_TCP_LISTEN:
	case TR_EV_TCP_CLOSE:
	case TR_EV_TCP_CONNECT_ERROR:
	case TR_EV_TCP_RETRANSMIT:
		bad = size != sizeof(struct tr_tcp);
		ev.tcp = data;
		break;
	case TR_EV_CGROUP_MKDIR:
	case TR_EV_CGROUP_RMDIR:
	case TR_EV_CGROUP_ATTACH_TASK: {
		const struct tr_cgroup *c = data;

		if (size < TR_CGROUP_FIXED || c->path_len < 1 ||
		    c->path_len > size - TR_CGROUP_FIXED) {
			bad = true;
			break;
		}
		owned = rec_copy(data, size);
		if (!owned) {
			bad = true;
			break;
		}
		c = (const struct tr_cgroup *)owned;
		((char *)c->path)[c->path_len - 1] = 0;
		ev.ctx = &c->hdr;
		ev.cgroup.rec = c;
		ev.cgroup.path = c->path;
		if (h->event == TR_EV_CGROUP_RMDIR)
			note_rmdir(et, c->target_cgroup_id, h->ts_ns);
		if (h->event == TR_EV_CGROUP_MKDIR && et->any_cgroup_match)
			cgroup_filter_add(et, c->target_cgroup_id, c->path);
		break;
	}
	case TR_EV_OOM_KILL:
		bad = size != sizeof(struct tr_oom);
		ev.oom = data;
		break;
	case TR_EV_SIGNAL_GENERATE:
		bad = size != sizeof(struct tr_signal);
		ev.signal = data;
		break;
	case TR_EV_SYSCALL:
		bad = tr_syscall_decode(data, size, &ev.syscall, &owned) != 0;
		if (!bad) {
			ev.ctx = &ev.syscall.rec->hdr;
			ev.name = ev.syscall.name;
		}
		break;
	default:
		bad = true;
	}
	if (bad) {
		uc->decode_errors++;
		goto out;
	}
	if (et->maintain_tasks)
		track_tasks(et, &ev);
	/* an mkdir/rmdir made only for this library is not an event the policy asked for */
	if ((h->flags & TR_F_NOTIFY) || !slot_opts(et, slot)->enabled)
		goto out;
	uc->delivered++;
	if (et->opts.cb)
		et->opts.cb(et->opts.cb_ctx, &ev);
out:
	free(owned);
	return 0;
}

static int handle_debug(void *ctx, void *data, size_t size)
{
	struct event_tracer *et = ctx;
	const struct tr_debug *d = data;
	char msg[sizeof(d->msg) + 1];

	if (size < sizeof(*d))
		return 0;
	memcpy(msg, d->msg, sizeof(d->msg));
	msg[sizeof(d->msg)] = 0;
	tlog(et, 3, "bpf debug: %s (line %u, event %u, pid %u, code %" PRId64 ", arg %" PRId64 ")",
	     msg, d->line, d->event, d->pid, (int64_t)d->code, (int64_t)d->arg);
	return 0;
}

/* ---- open / close ---------------------------------------------------------------------------- */

static void set_config(struct tracer_bpf *skel, uint32_t slot,
		       const struct event_tracer_event_opts *e)
{
	struct tr_event_config *c = &skel->rodata->event_config[slot];

	c->enabled = e->enabled;
	if (e->enabled && e->rate_per_second && e->rate_burst) {
		c->burst = e->rate_burst;
		c->interval_ns = 1000000000ULL / e->rate_per_second;
		if (!c->interval_ns)
			c->interval_ns = 1;
	}
}

static const char *slot_name(uint32_t slot)
{
	const char *n = slot < TR_EV_MAX ? event_tracer_event_name(slot)
					 : event_tracer_syscall_name(slot - TR_EV_MAX);

	return n ? n : "(unnamed)";
}

/* The slots whose filename the kernel reads before its filters run. */
static bool has_filename(uint32_t slot)
{
	return slot == TR_EV_SCHED_PROCESS_EXEC || slot == TR_EV_SCHED_PROCESS_EXEC_FAILED ||
	       slot == TR_EV_MAX + SYS_openat || slot == TR_EV_MAX + SYS_execve ||
	       slot == TR_EV_MAX + SYS_execveat;
}

/* The filters' rodata, before load: which filters each slot has, and its cgroup set. */
static int set_filters(struct event_tracer *et, char *err, size_t errlen)
{
	for (uint32_t slot = 1; slot < SLOTS; slot++) {
		const struct event_tracer_event_opts *o = slot_opts(et, slot);
		const struct event_tracer_filter *f = &o->filter;
		struct tr_filter_config *c = &et->skel->rodata->event_filter[slot];

		if (!o->enabled)
			continue;
		c->comm = f->n_comms > 0;
		c->uid = f->n_uids > 0;
		if (f->filename_prefix) {
			size_t l = strlen(f->filename_prefix);

			if (!has_filename(slot)) {
				snprintf(err, errlen, "filename_prefix on %s: it has no filename",
					 slot_name(slot));
				return -EINVAL;
			}
			if (!l || l >= TR_PREFIX_MAX) {
				snprintf(err, errlen, "filename_prefix on %s: 1..%d bytes",
					 slot_name(slot), TR_PREFIX_MAX - 1);
				return -EINVAL;
			}
			c->filename_len = l;
		}
		if (!f->n_cgroup_ids && !f->cgroup_match)
			continue;
		if (et->n_sets == (et->scope ? TR_CGROUP_SETS - 1 : TR_CGROUP_SETS)) {
			/* with a scope, bit 63 is TR_SCOPE_BIT */
			snprintf(err, errlen, "cgroup filters on more than %d events",
				 et->scope ? TR_CGROUP_SETS - 1 : TR_CGROUP_SETS);
			return -E2BIG;
		}
		et->set_slot[et->n_sets++] = slot;
		c->cgroup_set = et->n_sets;
		if (f->cgroup_match) {
			et->any_cgroup_match = true;
			/* an explicit id list is not closed under descent */
			if (!f->n_cgroup_ids)
				et->skel->rodata->cgroup_inherit_mask |= 1ULL << (et->n_sets - 1);
		}
	}
	return 0;
}

static int filter_put(int fd, const void *key, char *err, size_t errlen, const char *what)
{
	uint8_t one = 1;

	if (!bpf_map_update_elem(fd, key, &one, BPF_ANY))
		return 0;
	snprintf(err, errlen, "%s filters: more than %d entries in all (%s)", what,
		 TR_FILTER_MAX_ENTRIES, strerror(errno));
	return -E2BIG;
}

/* The filters' maps, after load: comm, uid, filename prefix, and the cgroup sets' ids. */
static int fill_filters(struct event_tracer *et, char *err, size_t errlen)
{
	for (uint32_t slot = 1; slot < SLOTS; slot++) {
		const struct event_tracer_event_opts *o = slot_opts(et, slot);
		const struct event_tracer_filter *f = &o->filter;
		int ret;

		if (!o->enabled)
			continue;
		for (size_t i = 0; i < f->n_comms; i++) {
			struct tr_comm_key k = { .slot = slot };
			size_t l = strlen(f->comms[i]);

			if (l >= TR_COMM_LEN)
				continue; /* the kernel keeps 15 bytes: it can never match */
			memcpy(k.comm, f->comms[i], l);
			ret = filter_put(bpf_map__fd(et->skel->maps.filter_comm), &k, err, errlen,
					 "comm and uid");
			if (ret)
				return ret;
		}
		for (size_t i = 0; i < f->n_uids; i++) {
			struct tr_uid_key k = { .slot = slot, .uid = f->uids[i] };

			ret = filter_put(bpf_map__fd(et->skel->maps.filter_uid), &k, err, errlen,
					 "comm and uid");
			if (ret)
				return ret;
		}
		if (f->filename_prefix) {
			struct tr_prefix p = { 0 };

			memcpy(p.s, f->filename_prefix, strlen(f->filename_prefix));
			if (bpf_map_update_elem(bpf_map__fd(et->skel->maps.filter_filename), &slot,
						&p, BPF_ANY)) {
				snprintf(err, errlen, "filename_prefix filters: %s",
					 strerror(errno));
				return -errno;
			}
		}
	}
	for (size_t i = 0; i < et->n_sets; i++) {
		const struct event_tracer_filter *f = &slot_opts(et, et->set_slot[i])->filter;

		/* with a cgroup_match, the walk adds those of the ids whose path matches */
		for (size_t j = 0; !f->cgroup_match && j < f->n_cgroup_ids; j++)
			cgroup_allow_or(et, f->cgroup_ids[j], 1ULL << i);
	}
	if (et->cgroup_errors) {
		snprintf(err, errlen, "cgroup filter: more than %d cgroup ids",
			 TR_CGROUP_ALLOW_MAX);
		return -E2BIG;
	}
	if (et->scope) {
		int ret = scope_walk(et);

		if (ret) {
			snprintf(err, errlen, "--cgroup-root %s: walking its cgroups: %s",
				 et->opts.cgroup_root, strerror(-ret));
			return ret;
		}
		if (et->cgroup_errors) {
			snprintf(err, errlen, "--cgroup-root: more than %d cgroups below it",
				 TR_CGROUP_ALLOW_MAX);
			return -E2BIG;
		}
	}
	if (et->any_cgroup_match) {
		int ret = 0;

		/* paths in the hierarchy records are attributed to */
		if (et->opts.cgroup_v1)
			snprintf(et->cgroup_mount, sizeof(et->cgroup_mount), "%s",
				 et->opts.cgroup_v1_mount);
		else
			ret = find_cgroup2(et->cgroup_mount, sizeof(et->cgroup_mount));

		if (!ret)
			ret = cgroup_walk(et);
		if (ret) {
			snprintf(err, errlen, "cgroup filter: walking the cgroup tree at %s: %s",
				 et->cgroup_mount[0] ? et->cgroup_mount : "(no cgroup2 mount)",
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* An exec event's bound: its own, else the opts-wide one, else def; at most TR_ARGV_CAP. */
static uint32_t bound_of(uint32_t own, uint32_t all, uint32_t def)
{
	uint32_t b = own ? own : all ? all : def;

	return b > TR_ARGV_CAP ? TR_ARGV_CAP : b;
}

static bool prog_kind_is(const struct bpf_program *p, enum bpf_prog_type t)
{
	return bpf_program__type(p) == t;
}

int event_tracer_create(const struct event_tracer_opts *opts, struct event_tracer **out, char *err,
			size_t errlen)
{
	struct event_tracer_prog derived[32];
	const struct event_tracer_prog *progs = opts->programs;
	size_t n_progs = opts->n_programs;
	struct event_tracer *et;
	struct bpf_program *prog;
	char cgpath[512];
	int ret;

	err[0] = 0;
	if (!progs) {
		n_progs = event_tracer_programs_for(opts, derived, 32);
		if (n_progs > 32)
			n_progs = 32;
		progs = derived;
	}
	et = calloc(1, sizeof(*et));
	if (!et)
		return -ENOMEM;
	et->opts = *opts;
	et->cgroup_fd = -1;
	et->user = calloc(SLOTS, sizeof(*et->user));
	et->rmdirs_cap = MAX_PENDING_RMDIR;
	et->rmdirs = calloc(et->rmdirs_cap, sizeof(*et->rmdirs));
	if (!et->user || !et->rmdirs) {
		ret = -ENOMEM;
		goto fail;
	}
	et->any_rate_limit = any_rate_limit(opts);
	if (!et->opts.cgroup_cleanup_delay_ns)
		et->opts.cgroup_cleanup_delay_ns = 60ULL * 1000000000ULL;

	et->skel = tracer_bpf__open();
	if (!et->skel) {
		ret = -errno;
		snprintf(err, errlen, "opening the tracer BPF object: %s", strerror(-ret));
		goto fail;
	}
	et->ncpus = libbpf_num_possible_cpus();
	if (et->ncpus <= 0) {
		ret = -EINVAL;
		snprintf(err, errlen, "counting CPUs failed");
		goto fail;
	}
	bpf_map__set_max_entries(et->skel->maps.exec_scratch, et->ncpus);
	bpf_map__set_max_entries(et->skel->maps.events, opts->ringbuf_bytes
								? opts->ringbuf_bytes
								: TR_DEFAULT_RINGBUF_BYTES);
	if (!opts->debug)
		bpf_map__set_max_entries(et->skel->maps.debug_events, getpagesize());

	for (int i = 1; i < TR_EV_MAX; i++)
		if (i != TR_EV_SYSCALL)
			set_config(et->skel, i, &opts->events[i]);
	for (int nr = 0; nr < TR_SYSCALL_MAX; nr++) {
		set_config(et->skel, TR_EV_MAX + nr, &opts->syscalls[nr]);
		if (opts->syscalls[nr].enabled) {
			et->skel->rodata->sys_wanted[nr / 64] |= 1ULL << (nr % 64);
			et->skel->rodata->sys_emit[nr / 64] |= 1ULL << (nr % 64);
		}
	}
	if (opts->events[TR_EV_SCHED_PROCESS_EXEC_FAILED].enabled) {
		et->skel->rodata->sys_wanted[SYS_execve / 64] |= 1ULL << (SYS_execve % 64);
		et->skel->rodata->sys_wanted[SYS_execveat / 64] |= 1ULL << (SYS_execveat % 64);
	}
	for (int i = 0; i < 2; i++) {
		const struct event_tracer_event_opts *x =
			&opts->events[i ? TR_EV_SCHED_PROCESS_EXEC_FAILED
					: TR_EV_SCHED_PROCESS_EXEC];

		et->skel->rodata->argv_max[i] =
			bound_of(x->argv_max_bytes, opts->argv_max_bytes, TR_ARGV_DEFAULT);
		et->skel->rodata->env_max[i] =
			bound_of(x->env_max_bytes, opts->env_max_bytes, TR_ENV_DEFAULT);
		et->skel->rodata->exec_env[i] = x->env || opts->env;
	}
	et->skel->rodata->debug = opts->debug;
	et->skel->rodata->cgroup_v1 = opts->cgroup_v1;
	if (opts->cgroup_v1 && !opts->cgroup_v1_mount) {
		ret = -EINVAL;
		snprintf(err, errlen, "cgroup mode v1 without the v1 memory mount");
		goto fail;
	}
	et->scope = has_scope(opts);
	ret = set_filters(et, err, errlen);
	if (ret)
		goto fail;
	if (et->scope) {
		et->skel->rodata->cgroup_scope = 1;
		et->skel->rodata->cgroup_inherit_mask |= TR_SCOPE_BIT;
	}
	et->skel->rodata->cgroup_rmdir_notify = et->any_rate_limit || et->any_cgroup_match ||
						et->scope;
	et->skel->rodata->cgroup_mkdir_notify = et->any_cgroup_match;

	bpf_object__for_each_program(prog, et->skel->obj)
	{
		bool want = false;

		for (size_t i = 0; i < n_progs; i++)
			want |= !strcmp(progs[i].name, bpf_program__name(prog));
		bpf_program__set_autoload(prog, want || prog == et->skel->progs.tr_learn_self);
	}
	for (size_t i = 0; i < n_progs; i++) {
		if (!bpf_object__find_program_by_name(et->skel->obj, progs[i].name)) {
			ret = -ENOENT;
			snprintf(err, errlen, "BPF program %s: not in tracer.bpf.c", progs[i].name);
			goto fail;
		}
	}
	if ((et->any_cgroup_match || et->scope) &&
	    !bpf_program__autoload(et->skel->progs.tr_cgroup_mkdir)) {
		ret = -EINVAL;
		snprintf(err, errlen,
			 "a cgroup filter needs the BPF program tr_cgroup_mkdir, which "
			 "the program list leaves out");
		goto fail;
	}

	ret = tracer_bpf__load(et->skel);
	if (ret) {
		/* name the first program the kernel refused: retry nothing, libbpf logged it */
		snprintf(err, errlen, "loading the tracer BPF programs: %s", strerror(-ret));
		goto fail;
	}
	if (opts->self_pid) {
		et->skel->bss->self_tgid = opts->self_pid;
	} else {
		LIBBPF_OPTS(bpf_test_run_opts, topts);

		/* the kernel's view of our tgid; /proc/self/status only when the run fails */
		if (bpf_prog_test_run_opts(bpf_program__fd(et->skel->progs.tr_learn_self),
					   &topts) ||
		    !et->skel->bss->self_tgid)
			et->skel->bss->self_tgid = own_tgid();
	}
	tlog(et, 3, "the agent's own tgid %u is excluded", et->skel->bss->self_tgid);
	ret = fill_filters(et, err, errlen);
	if (ret)
		goto fail;

	if (!opts->cgroup_root) {
		ret = find_cgroup2(cgpath, sizeof(cgpath));
		if (ret && opts->programs == NULL) {
			/* only sock_create needs it; checked when it is attached */
		}
	} else {
		snprintf(cgpath, sizeof(cgpath), "%s", opts->cgroup_root);
		ret = 0;
	}

	et->links = calloc(n_progs, sizeof(*et->links));
	if (!et->links) {
		ret = -ENOMEM;
		goto fail;
	}
	/* socket owners of pre-existing sockets first, so no TCP event misses its owner */
	for (size_t i = 0; i < n_progs; i++) {
		struct bpf_program *p =
			bpf_object__find_program_by_name(et->skel->obj, progs[i].name);
		struct bpf_link *link = NULL;
		int aerr = 0;

		if (prog_kind_is(p, BPF_PROG_TYPE_TRACING) &&
		    bpf_program__expected_attach_type(p) == BPF_TRACE_ITER)
			continue; /* run below, once */
		if (prog_kind_is(p, BPF_PROG_TYPE_CGROUP_SOCK)) {
			if (et->cgroup_fd < 0) {
				if (ret) {
					aerr = ret;
					goto attach_failed;
				}
				et->cgroup_fd = open(cgpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (et->cgroup_fd < 0) {
					aerr = -errno;
					goto attach_failed;
				}
			}
			link = bpf_program__attach_cgroup(p, et->cgroup_fd);
		} else {
			link = bpf_program__attach(p);
		}
		if (!link)
			aerr = -errno;
	attach_failed:
		if (aerr) {
			if (progs[i].required) {
				ret = aerr;
				snprintf(err, errlen, "attaching required BPF program %s: %s",
					 progs[i].name, strerror(-aerr));
				goto fail;
			}
			tlog(et, 1,
			     "optional BPF program %s not attached (%s): its events work "
			     "with less",
			     progs[i].name, strerror(-aerr));
			continue;
		}
		et->links[et->n_links++] = link;
	}
	for (size_t i = 0; i < n_progs; i++) {
		if (!strcmp(progs[i].name, "tr_iter_task_file")) {
			int serr = seed_sockets(et);

			if (serr)
				tlog(et, 1,
				     "optional BPF programs tr_iter_task_file/tr_iter_tcp: %s: "
				     "sockets opened before the agent have no owner",
				     strerror(-serr));
		}
	}
	/* cgroups made between the first walk and tr_cgroup_mkdir's attach */
	if (et->any_cgroup_match && cgroup_walk(et))
		tlog(et, 1, "cgroup filter: second walk of the cgroup v2 tree failed: %s",
		     strerror(errno));
	if (et->scope && scope_walk(et))
		tlog(et, 1, "--cgroup-root: second walk of its cgroups failed: %s",
		     strerror(errno));
	if (opts->seed_tasks) {
		bool have_iter = false;

		for (size_t i = 0; i < n_progs; i++)
			have_iter |= !strcmp(progs[i].name, "tr_iter_task");
		ret = have_iter ? seed_tasks_iter(et) : -ENOENT;
		if (ret) {
			tlog(et, 1, "task iterator unavailable (%s): task table seeded from /proc",
			     strerror(-ret));
			seed_from_proc(et);
		} else {
			et->tasks_from_iter = true;
		}
		et->maintain_tasks = true;
	}

	et->rb = ring_buffer__new(bpf_map__fd(et->skel->maps.events), handle_event, et, NULL);
	if (!et->rb) {
		ret = -errno;
		snprintf(err, errlen, "ring buffer events: %s", strerror(-ret));
		goto fail;
	}
	if (opts->debug &&
	    ring_buffer__add(et->rb, bpf_map__fd(et->skel->maps.debug_events), handle_debug, et)) {
		ret = -errno;
		snprintf(err, errlen, "ring buffer debug_events: %s", strerror(-ret));
		goto fail;
	}
	*out = et;
	return 0;
fail:
	event_tracer_destroy(et);
	return ret < 0 ? ret : -EINVAL;
}

void event_tracer_destroy(struct event_tracer *et)
{
	if (!et)
		return;
	ring_buffer__free(et->rb);
	for (size_t i = 0; i < et->n_links; i++)
		bpf_link__destroy(et->links[i]);
	free(et->links);
	if (et->cgroup_fd >= 0)
		close(et->cgroup_fd);
	tracer_bpf__destroy(et->skel);
	for (int i = 0; i < TASK_BUCKETS; i++) {
		while (et->tasks[i]) {
			struct task_node *n = et->tasks[i];

			et->tasks[i] = n->next;
			free(n);
		}
	}
	free(et->argv);
	free(et->env);
	free(et->user);
	free(et->rmdirs);
	free(et);
}

int event_tracer_fd(const struct event_tracer *et)
{
	return ring_buffer__epoll_fd(et->rb);
}

int event_tracer_consume(struct event_tracer *et)
{
	return ring_buffer__consume(et->rb);
}

void event_tracer_tick(struct event_tracer *et, uint64_t now_boot_ns)
{
	size_t keep = 0;

	for (size_t i = 0; i < et->n_rmdirs; i++) {
		struct rmdir_pending *r = &et->rmdirs[i];

		if (r->due_ns > now_boot_ns) {
			et->rmdirs[keep++] = *r;
			continue;
		}
		for (uint32_t slot = 1; et->any_rate_limit && slot < SLOTS; slot++) {
			const struct event_tracer_event_opts *o = slot_opts(et, slot);
			struct tr_rate_key key = { .cgroup_id = r->cgroup_id, .event = slot };

			if (o->enabled && o->rate_burst && o->rate_per_second)
				bpf_map_delete_elem(bpf_map__fd(et->skel->maps.rate_state), &key);
		}
		if (et->any_cgroup_match || et->scope)
			bpf_map_delete_elem(bpf_map__fd(et->skel->maps.cgroup_allow),
					    &r->cgroup_id);
	}
	et->n_rmdirs = keep;
}

void event_tracer_counts(const struct event_tracer *et, enum tr_event ev, int nr,
			 struct event_tracer_counts *out)
{
	uint32_t slot = ev == TR_EV_SYSCALL ? TR_EV_MAX + (uint32_t)nr : (uint32_t)ev;
	uint64_t vals[et->ncpus];
	uint64_t sum[TR_STAT_MAX] = { 0 };

	memset(out, 0, sizeof(*out));
	if (slot >= SLOTS)
		return;
	for (int s = 0; s < TR_STAT_MAX; s++) {
		uint32_t key = slot * TR_STAT_MAX + s;

		if (bpf_map_lookup_elem(bpf_map__fd(et->skel->maps.stats), &key, vals))
			continue;
		for (int c = 0; c < et->ncpus; c++)
			sum[s] += vals[c];
	}
	*out = et->user[slot];
	out->emitted = sum[TR_STAT_EMITTED];
	out->lost = sum[TR_STAT_LOST];
	out->suppressed = sum[TR_STAT_SUPPRESSED];
	out->read_errors = sum[TR_STAT_READ_ERRORS];
	out->rate_state_full = sum[TR_STAT_RATE_STATE_FULL];
	out->kernel_filtered = sum[TR_STAT_FILTERED];
	out->out_of_scope = sum[TR_STAT_OUT_OF_SCOPE];
	if (slot == 0)
		out->decode_errors = et->user[0].decode_errors;
}

int event_tracer_prog_stats(const struct event_tracer *et, const char *name, uint64_t *run_cnt,
			    uint64_t *run_time_ns)
{
	struct bpf_program *p = bpf_object__find_program_by_name(et->skel->obj, name);
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd;

	if (!p || (fd = bpf_program__fd(p)) < 0)
		return -ENOENT;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*run_cnt = info.run_cnt;
	*run_time_ns = info.run_time_ns;
	return 0;
}
