// SPDX-License-Identifier: Apache-2.0
/* The tracer as a record source: policy -> event tracer -> event records. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "clock.h"
#include "counters.h"
#include "event_tracer.h"
#include "log.h"
#include "loop.h"
#include "pipeline.h"
#include "policy.h"
#include "record.h"
#include "tracer_collector.h"

#define MAX_ARGS 16

struct tracer_collector {
	struct policy *policy;
	struct event_tracer *et;
	struct pipeline *pipeline;
	struct event_tracer_prog progs[POLICY_PROG_COUNT];
	/* filter storage: the policy's comm strings as pointer arrays */
	const char *comms[POLICY_EV_COUNT][POLICY_MAX_COMM];
	uint64_t records;
	uint64_t records_dropped; /* refused by the pipeline */
	/* the ring-full warning: its window, the kernel's lost count when the window began */
	uint64_t warn_interval_ns;
	uint32_t ringbuf_bytes;
	uint64_t ring_warn_from_ns;
	uint64_t lost_seen;
};

/*
 * The tracer's cgroup filter sets, one per event with a cgroup_path_prefix: whether a cgroup
 * (its path relative to the v2 root) is in the event's, by the policy's own rule.
 */
static bool cgroup_match(void *ctx, const char *path)
{
	const struct policy_event_conf *c = ctx;
	struct policy_match_ctx m = { .cgroup_path = path, .fields = POLICY_MATCH_CGROUP_PATH };

	return policy_event_match(c, &m);
}

static void tracer_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	log_msg(level <= 1   ? LOG_LEVEL_WARN
		: level == 2 ? LOG_LEVEL_INFO
			     : LOG_LEVEL_DEBUG,
		"tracer: %s", msg);
}

static void set_filter(struct tracer_collector *tc, enum policy_event_id id,
		       const struct policy_event_conf *c, struct event_tracer_filter *f)
{
	for (size_t i = 0; i < c->filters.n_comm; i++)
		tc->comms[id][i] = c->filters.comm[i];
	f->comms = tc->comms[id];
	f->n_comms = c->filters.n_comm;
	f->uids = c->filters.uid;
	f->n_uids = c->filters.n_uid;
	if (c->filters.cgroup_path_prefix[0]) {
		f->cgroup_match = cgroup_match;
		f->cgroup_match_ctx = (void *)c;
	}
	f->filename_prefix = c->filters.filename_prefix[0] ? c->filters.filename_prefix : NULL;
}

/* Argument list builder. */
struct args {
	struct event_arg v[MAX_ARGS];
	size_t n;
};

static void a_u(struct args *a, const char *k, uint64_t v)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = (struct event_arg){ .key = k, .type = EVENT_ARG_U64, .u = v };
}

static void a_s(struct args *a, const char *k, int64_t v)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = (struct event_arg){ .key = k, .type = EVENT_ARG_S64, .s = v };
}

static void a_b(struct args *a, const char *k, bool v)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = (struct event_arg){ .key = k, .type = EVENT_ARG_BOOL, .b = v };
}

static void a_str(struct args *a, const char *k, const char *v)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = (struct event_arg){ .key = k, .type = EVENT_ARG_STR, .str = v };
}

static void a_list(struct args *a, const char *k, char **v, size_t n)
{
	if (a->n < MAX_ARGS) {
		a->v[a->n] = (struct event_arg){ .key = k, .type = EVENT_ARG_STR_LIST };
		a->v[a->n].list.v = (const char *const *)v;
		a->v[a->n].list.n = n;
		a->n++;
	}
}

static void a_addr(struct args *a, const char *k, uint8_t ipv, const uint8_t b[16])
{
	if (a->n < MAX_ARGS) {
		a->v[a->n] = (struct event_arg){ .key = k, .type = EVENT_ARG_ADDR };
		a->v[a->n].addr.ip_version = ipv;
		memcpy(a->v[a->n].addr.a.bytes, b, 16);
		a->n++;
	}
}

static void sockaddr_args(struct args *a, const struct event_tracer_syscall *sc, char *buf,
			  size_t len)
{
	const uint8_t *sa = sc->addr;
	uint16_t family = 0;

	if (sc->addr_len >= 2)
		memcpy(&family, sa, 2);
	if (family == 2 && sc->addr_len >= 8) {
		uint8_t b[16] = { 0 };

		memcpy(b, sa + 4, 4);
		a_str(a, "family", "AF_INET");
		a_addr(a, "addr", 4, b);
		a_u(a, "port", (sa[2] << 8) | sa[3]);
	} else if (family == 10 && sc->addr_len >= 24) {
		uint8_t b[16];

		memcpy(b, sa + 8, 16);
		a_str(a, "family", "AF_INET6");
		a_addr(a, "addr", 6, b);
		a_u(a, "port", (sa[2] << 8) | sa[3]);
	} else if (sc->addr_len) {
		snprintf(buf, len, "%u", family);
		a_str(a, "family", buf);
	}
}

static void syscall_args(struct args *a, const struct event_tracer_syscall *sc, char bufs[4][256])
{
	const struct tr_syscall *s = sc->rec;
	const char *name = sc->name;

	if (!strcmp(name, "connect") || !strcmp(name, "bind") || !strcmp(name, "accept4")) {
		a_s(a, "fd", (int32_t)s->args[0]);
		sockaddr_args(a, sc, bufs[0], sizeof(bufs[0]));
		if (!strcmp(name, "accept4"))
			a_str(a, "flags", event_tracer_flags("open", s->args[3], bufs[1], 256));
	} else if (!strcmp(name, "openat")) {
		a_s(a, "dirfd", (int32_t)s->args[0]);
		a_str(a, "pathname", sc->str[0]);
		a_str(a, "flags", event_tracer_flags("open", s->args[2], bufs[1], 256));
		a_u(a, "mode", s->args[3]);
	} else if (!strcmp(name, "execve") || !strcmp(name, "execveat")) {
		a_str(a, "filename", sc->str[0]);
	} else if (!strcmp(name, "unshare")) {
		a_str(a, "flags", event_tracer_flags("clone", s->args[0], bufs[1], 256));
	} else if (!strcmp(name, "setns")) {
		a_s(a, "fd", (int32_t)s->args[0]);
		a_str(a, "nstype", event_tracer_flags("clone", s->args[1], bufs[1], 256));
	} else if (!strcmp(name, "mount")) {
		a_str(a, "source", sc->str[0]);
		a_str(a, "target", sc->str[1]);
		a_str(a, "fstype", sc->str[2]);
		a_str(a, "flags", event_tracer_flags("mount", s->args[3], bufs[1], 256));
	} else if (!strcmp(name, "memfd_create")) {
		a_str(a, "name", sc->str[0]);
		a_str(a, "flags", event_tracer_flags("memfd", s->args[1], bufs[1], 256));
	} else if (!strcmp(name, "setuid")) {
		a_u(a, "uid", (uint32_t)s->args[0]);
	} else if (!strcmp(name, "setgid")) {
		a_u(a, "gid", (uint32_t)s->args[0]);
	} else if (!strcmp(name, "ptrace")) {
		const char *r = event_tracer_ptrace_request(s->args[0]);

		if (!r)
			snprintf(bufs[1], 256, "%llu", (unsigned long long)s->args[0]);
		a_str(a, "request", r ? r : bufs[1]);
		a_u(a, "target_pid", (uint32_t)s->args[1]);
	} else if (!strcmp(name, "bpf")) {
		const char *c = event_tracer_bpf_cmd(s->args[0]);

		if (!c)
			snprintf(bufs[1], 256, "%llu", (unsigned long long)s->args[0]);
		a_str(a, "cmd", c ? c : bufs[1]);
		a_u(a, "size", (uint32_t)s->args[2]);
	} else if (!strcmp(name, "init_module")) {
		a_u(a, "len", s->args[1]);
		a_str(a, "params", sc->str[0]);
	} else if (!strcmp(name, "finit_module")) {
		a_s(a, "fd", (int32_t)s->args[0]);
		a_str(a, "params", sc->str[0]);
	}
	a_s(a, "ret", s->ret);
}

static void on_event(void *ctx, const struct event_tracer_event *ev)
{
	struct tracer_collector *tc = ctx;
	struct event_record r = { 0 };
	struct args a = { .n = 0 };
	char bufs[4][256];
	const struct tr_hdr *h = ev->ctx;

	r.type = RECORD_EVENT;
	r.ts_ns = clock_boot_to_epoch_ns(h->ts_ns);
	r.cgroup_id = h->cgroup_id;
	/* as flows: the v1 memory cgroup under --cgroup-mode v1 where the task has one */
	r.cgroup_version = h->flags & TR_F_CGROUP_V1 ? 1 : 2;
	r.pid = h->pid;
	memcpy(r.comm, h->comm, sizeof(r.comm));
	r.comm[sizeof(r.comm) - 1] = 0;
	r.event = ev->name;
	r.tid = h->tid;
	r.ns_pid = h->ns_pid;
	r.ppid = h->ppid;
	r.uid = h->uid;
	r.gid = h->gid;
	switch (ev->kind) {
	case TR_EV_SCHED_PROCESS_EXEC:
	case TR_EV_SCHED_PROCESS_EXEC_FAILED:
		a_str(&a, "filename", ev->exec.filename);
		a_list(&a, "argv", ev->exec.argv, ev->exec.argc);
		a_b(&a, "argv_truncated", ev->exec.argv_truncated);
		if (ev->kind == TR_EV_SCHED_PROCESS_EXEC)
			a_str(&a, "interpreter", ev->exec.interpreter);
		if (ev->exec.env) {
			a_list(&a, "env", ev->exec.env, ev->exec.envc);
			a_b(&a, "env_truncated", ev->exec.env_truncated);
		}
		if (ev->kind == TR_EV_SCHED_PROCESS_EXEC_FAILED) {
			a_s(&a, "ret", ev->exec.ret);
			a_u(&a, "errno", (uint32_t)-ev->exec.ret);
		}
		break;
	case TR_EV_SCHED_PROCESS_FORK:
		a_u(&a, "parent_pid", h->pid);
		a_u(&a, "parent_tid", h->tid);
		a_u(&a, "child_pid", ev->fork->child_pid);
		a_u(&a, "child_tid", ev->fork->child_tid);
		break;
	case TR_EV_SCHED_PROCESS_EXIT:
		a_u(&a, "exit_code", ev->exit->exit_code);
		a_u(&a, "signal", ev->exit->signal);
		a_b(&a, "core_dumped", ev->exit->core_dumped);
		a_b(&a, "group_dead", ev->exit->group_dead);
		break;
	case TR_EV_TCP_CONNECT:
	case TR_EV_TCP_ACCEPT:
	case TR_EV_TCP_LISTEN:
	case TR_EV_TCP_CLOSE:
	case TR_EV_TCP_CONNECT_ERROR:
	case TR_EV_TCP_RETRANSMIT: {
		const struct tr_tcp *t = ev->tcp;

		a_u(&a, "ip_version", t->ip_version);
		a_addr(&a, "src_addr", t->ip_version, t->saddr);
		a_u(&a, "src_port", t->sport);
		a_addr(&a, "dst_addr", t->ip_version, t->daddr);
		a_u(&a, "dst_port", t->dport);
		if (ev->kind == TR_EV_TCP_CONNECT_ERROR)
			a_u(&a, "errno", t->error);
		if (ev->kind == TR_EV_TCP_CLOSE) {
			a_u(&a, "bytes_sent", t->bytes_acked);
			a_u(&a, "bytes_received", t->bytes_received);
			a_u(&a, "duration_ns", t->duration_ns);
		}
		if (ev->kind == TR_EV_TCP_RETRANSMIT)
			a_u(&a, "state", t->oldstate);
		break;
	}
	case TR_EV_CGROUP_MKDIR:
	case TR_EV_CGROUP_RMDIR:
	case TR_EV_CGROUP_ATTACH_TASK:
		a_u(&a, "cgroup_id", ev->cgroup.rec->target_cgroup_id);
		a_str(&a, "cgroup_path", ev->cgroup.path);
		a_u(&a, "hierarchy_id", ev->cgroup.rec->hierarchy_id);
		if (ev->kind == TR_EV_CGROUP_ATTACH_TASK)
			a_b(&a, "threadgroup", ev->cgroup.rec->threadgroup);
		break;
	case TR_EV_OOM_KILL:
		a_u(&a, "victim_pid", h->pid);
		a_str(&a, "victim_comm", r.comm);
		a_u(&a, "victim_uid", h->uid);
		a_u(&a, "victim_cgroup_id", h->cgroup_id);
		a_u(&a, "total_vm_kib", ev->oom->total_vm_pages * 4);
		a_u(&a, "rss_kib", ev->oom->rss_pages * 4);
		a_u(&a, "killer_pid", ev->oom->killer_pid);
		break;
	case TR_EV_SIGNAL_GENERATE: {
		static char tcomm[TR_COMM_LEN + 1];

		memcpy(tcomm, ev->signal->target_comm, TR_COMM_LEN);
		tcomm[TR_COMM_LEN] = 0;
		a_u(&a, "target_pid", ev->signal->target_pid);
		a_u(&a, "target_tid", ev->signal->target_tid);
		a_str(&a, "target_comm", tcomm);
		a_u(&a, "signal", ev->signal->sig);
		a_s(&a, "code", ev->signal->code);
		a_s(&a, "result", ev->signal->result);
		break;
	}
	case TR_EV_SYSCALL:
		syscall_args(&a, &ev->syscall, bufs);
		break;
	default:
		break;
	}
	r.args = a.v;
	r.n_args = a.n;
	tc->records++;
	if (pipeline_submit(tc->pipeline, &r.hdr) < 0)
		tc->records_dropped++;
}

/* Resolves the policy; `file_opt` names the option that gave policy_file in messages. */
static enum tracer_collector_status resolve_policy(const char *events, const char *policy_file,
						   const char *file_opt, struct policy **out,
						   char *err, size_t errlen)
{
	struct policy_error perr = { 0 };
	enum policy_status ps;

	*out = NULL;
	if (policy_file && events) {
		snprintf(err, errlen, "--events and %s: give one of them", file_opt);
		return TRACER_USAGE;
	}
	if (policy_file)
		ps = policy_create_from_file(policy_file, out, &perr);
	else if (events)
		ps = policy_create_from_events(events, out, &perr);
	else
		ps = policy_create_default(out, &perr);
	if (ps != POLICY_OK) {
		/* perr.msg is whole: "--events: ..." or "FILE:LINE:COL: KEY: ..." */
		if (policy_file)
			snprintf(err, errlen, "%s: %s", file_opt, perr.msg);
		else
			snprintf(err, errlen, "%s", perr.msg);
		return ps == POLICY_ERR_NOMEM ? TRACER_FAILED : TRACER_USAGE;
	}
	return policy_tracer_off(*out) ? TRACER_OFF : TRACER_OK;
}

enum tracer_collector_status tracer_collector_policy(const char *events, const char *policy_file,
						     struct policy **out, char *err, size_t errlen)
{
	return resolve_policy(events, policy_file, "--policy", out, err, errlen);
}

/* Appends ", name" (the first without the comma) to buf at *len, cutting at its end. */
static void append_name(char *buf, size_t size, size_t *len, const char *name)
{
	int n;

	if (*len >= size)
		return;
	n = snprintf(buf + *len, size - *len, "%s%s", *len ? ", " : "", name);
	*len = n < 0 ? size : *len + (size_t)n;
}

enum tracer_collector_status tracer_collector_check_policy(const char *policy_file, FILE *out,
							   char *err, size_t errlen)
{
	char events[2048] = "", required[1024] = "", optional[1024] = "";
	size_t n_events = 0, le = 0, lr = 0, lo = 0;
	enum tracer_collector_status st;
	policy_prog_mask req = 0, opt = 0;
	struct policy *pol;

	st = resolve_policy(NULL, policy_file, "--policy-check", &pol, err, errlen);
	if (st == TRACER_OFF)
		fprintf(out, "%s: ok: no events, the tracer is off\n", policy_file);
	if (st != TRACER_OK) {
		policy_destroy(pol);
		return st;
	}
	for (int id = 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *d = policy_event_def(id);
		const struct policy_event_conf *c = policy_event(pol, id);

		if (d && c && c->enabled) {
			append_name(events, sizeof(events), &le, d->name);
			n_events++;
		}
	}
	policy_programs(pol, &req, &opt);
	for (int p = 0; p < POLICY_PROG_COUNT; p++) {
		if (req & POLICY_PROG_BIT(p))
			append_name(required, sizeof(required), &lr, policy_prog_name(p));
		else if (opt & POLICY_PROG_BIT(p))
			append_name(optional, sizeof(optional), &lo, policy_prog_name(p));
	}
	fprintf(out, "%s: ok: %zu event%s (%s); programs: %s; optional: %s\n", policy_file,
		n_events, n_events == 1 ? "" : "s", events, lr ? required : "none",
		lo ? optional : "none");
	policy_destroy(pol);
	return TRACER_OK;
}

enum tracer_collector_status tracer_collector_create(const struct tracer_collector_opts *o,
						     struct tracer_collector **out, char *err,
						     size_t errlen)
{
	struct tracer_collector *tc = calloc(1, sizeof(*tc));
	struct event_tracer_opts eo;
	enum tracer_collector_status st;
	policy_prog_mask req = 0, opt = 0;
	size_t n = 0;
	int ret;

	*out = NULL;
	if (!tc) {
		snprintf(err, errlen, "tracer: out of memory");
		return TRACER_FAILED;
	}
	/* TRACER_OFF (--events none, events: []) too: nothing to load */
	st = tracer_collector_policy(o->events, o->policy_file, &tc->policy, err, errlen);
	if (st != TRACER_OK) {
		tracer_collector_destroy(tc);
		return st;
	}
	memset(&eo, 0, sizeof(eo));
	for (int id = 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *d = policy_event_def(id);
		const struct policy_event_conf *c = policy_event(tc->policy, id);
		struct event_tracer_event_opts *e;

		if (!d || !c || !c->enabled || (d->flags & POLICY_EVF_INTERNAL))
			continue;
		if (d->flags & POLICY_EVF_SYSCALL) {
			if (d->syscall_nr < 0 || d->syscall_nr >= TR_SYSCALL_MAX)
				continue;
			e = &eo.syscalls[d->syscall_nr];
		} else {
			/* the catalogue's ids 1..15 are the kernel's enum tr_event */
			enum tr_event k = event_tracer_event_id(d->name, NULL);

			if (k == TR_EV_NONE || k == TR_EV_SYSCALL)
				continue;
			e = &eo.events[k];
		}
		e->enabled = true;
		if (c->rate_limited) {
			e->rate_per_second = c->rate_limit.per_second;
			e->rate_burst = c->rate_limit.burst;
		}
		if (c->has_filters)
			set_filter(tc, id, c, &e->filter);
		/* each exec event its own bounds and env (the syscall events' argv is not read) */
		if (d->flags & POLICY_EVF_ARGV) {
			e->argv_max_bytes = c->argv_max_bytes;
			e->env_max_bytes = c->env_max_bytes;
			e->env = c->env;
		}
	}
	policy_programs(tc->policy, &req, &opt);
	/* --cgroup-root is the events' scope: a cgroup made below it joins it at its cgroup_mkdir,
	 * and its id leaves the scope after its cgroup_rmdir (event_tracer.h, cgroup_root) */
	if (o->cgroup_root && !o->cgroup_v1_mount) {
		req |= POLICY_PROG_BIT(POLICY_PROG_CGROUP_MKDIR);
		opt |= POLICY_PROG_BIT(POLICY_PROG_CGROUP_RMDIR);
	}
	for (int p = 0; p < POLICY_PROG_COUNT; p++) {
		if (!((req | opt) & POLICY_PROG_BIT(p)))
			continue;
		tc->progs[n].name = policy_prog_name(p);
		tc->progs[n].required = req & POLICY_PROG_BIT(p);
		if (p == POLICY_PROG_ITER_TASK)
			eo.seed_tasks = true;
		n++;
	}
	eo.programs = tc->progs;
	eo.n_programs = n;
	eo.ringbuf_bytes = o->ringbuf_bytes;
	tc->ringbuf_bytes = o->ringbuf_bytes;
	tc->warn_interval_ns = o->warn_interval_ns ? o->warn_interval_ns : 1000000000ull;
	eo.cgroup_cleanup_delay_ns = o->cleanup_delay_ns;
	eo.debug = o->debug;
	eo.cgroup_root = o->cgroup_root;
	eo.cgroup_v1 = o->cgroup_v1_mount != NULL;
	eo.cgroup_v1_mount = o->cgroup_v1_mount;
	eo.cb = on_event;
	eo.cb_ctx = tc;
	eo.log = tracer_log;
	ret = event_tracer_create(&eo, &tc->et, err, errlen);
	if (ret) {
		tracer_collector_destroy(tc);
		return TRACER_FAILED;
	}
	*out = tc;
	return TRACER_OK;
}

static void on_ring(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct tracer_collector *tc = arg;

	(void)l, (void)fd, (void)events;
	event_tracer_consume(tc->et);
}

void tracer_collector_drain(struct tracer_collector *tc)
{
	if (!tc)
		return;
	while (event_tracer_consume(tc->et) > 0)
		;
}

/* The kernel's counts of one enabled, exported event of the policy into *k; false otherwise. */
static bool event_counts(const struct tracer_collector *tc, int id, struct event_tracer_counts *k)
{
	const struct policy_event_def *d = policy_event_def(id);
	const struct policy_event_conf *c = policy_event(tc->policy, id);

	if (!d || !c || !c->enabled || (d->flags & POLICY_EVF_INTERNAL))
		return false;
	if (d->flags & POLICY_EVF_SYSCALL)
		event_tracer_counts(tc->et, TR_EV_SYSCALL, d->syscall_nr, k);
	else
		event_tracer_counts(tc->et, event_tracer_event_id(d->name, NULL), 0, k);
	return true;
}

/*
 * At most once per warn_interval_ns: a warning when records were lost because the events ring
 * was full since the last window (flowscope_tracer_events_lost_total alone is easy to miss).
 */
static void warn_ring_full(struct tracer_collector *tc, uint64_t now_ns)
{
	struct event_tracer_counts k;
	uint64_t lost = 0;

	/* the 1 s timer may fire a little early: 100 ms of slack */
	if (now_ns + 100000000ull - tc->ring_warn_from_ns < tc->warn_interval_ns)
		return;
	for (int id = 1; id < POLICY_EV_COUNT; id++)
		if (event_counts(tc, id, &k))
			lost += k.lost;
	if (lost > tc->lost_seen)
		LOG_WARN("tracer events ring full: %llu records lost in the last %llu s "
			 "(flowscope_tracer_events_lost_total); raise --events-ringbuf-bytes "
			 "(now %u)",
			 (unsigned long long)(lost - tc->lost_seen),
			 (unsigned long long)((now_ns - tc->ring_warn_from_ns + 500000000ull) /
					      1000000000ull),
			 tc->ringbuf_bytes);
	tc->lost_seen = lost;
	tc->ring_warn_from_ns = now_ns;
}

static void on_tick(struct loop *l, uint64_t expirations, void *arg)
{
	struct tracer_collector *tc = arg;

	(void)l, (void)expirations;
	event_tracer_tick(tc->et, clock_boot_ns());
	warn_ring_full(tc, clock_mono_ns());
}

int tracer_collector_attach(struct tracer_collector *tc, struct loop *l, struct pipeline *p)
{
	int ret;

	tc->pipeline = p;
	ret = loop_add_fd(l, event_tracer_fd(tc->et), EPOLLIN, on_ring, tc);
	if (ret)
		return ret;
	tc->ring_warn_from_ns = clock_mono_ns();
	ret = loop_add_timer(l, 1000, on_tick, tc);
	return ret < 0 ? ret : 0;
}

struct tracer_snap {
	uint64_t records;
	uint64_t records_dropped;
	uint64_t cgroup_filter_ids;
	uint64_t cgroup_filter_errors;
	struct event_tracer_socket_walk walk;
};

#define TRACER_WALK_HELP \
	"TCP socket files of the tracer's start-up walk by what it did with their owner."
#define TRACER_WALK_ROW(result, field)                                                   \
	COUNTER_ROW("flowscope_tracer_socket_owner_walk_sockets_total", COUNTER_COUNTER, \
		    TRACER_WALK_HELP, "result=\"" result "\"", struct tracer_snap, walk.field)

#define TRACER_ROWS                                                                             \
	COUNTER_ROW("flowscope_tracer_records_total", COUNTER_COUNTER,                          \
		    "event records handed to the pipeline", "", struct tracer_snap, records),   \
		COUNTER_ROW("flowscope_tracer_records_dropped_total", COUNTER_COUNTER,          \
			    "event records the pipeline refused", "", struct tracer_snap,       \
			    records_dropped),                                                   \
		COUNTER_ROW("flowscope_tracer_cgroup_filter_ids", COUNTER_GAUGE,                \
			    "cgroup ids in the kernel's cgroup_path_prefix sets", "",           \
			    struct tracer_snap, cgroup_filter_ids),                             \
		COUNTER_ROW("flowscope_tracer_cgroup_filter_errors_total", COUNTER_COUNTER,     \
			    "cgroups matching a cgroup_path_prefix that could not be added "    \
			    "(their events are filtered out)",                                  \
			    "", struct tracer_snap, cgroup_filter_errors),                      \
		TRACER_WALK_ROW("recorded", recorded), TRACER_WALK_ROW("had_owner", had_owner), \
		TRACER_WALK_ROW("table_full", table_full),                                      \
		TRACER_WALK_ROW("not_reached", not_reached),                                    \
		COUNTER_ROW("flowscope_tracer_socket_owner_walk_netns_not_entered_total",       \
			    COUNTER_COUNTER,                                                    \
			    "network namespaces the tracer's start-up walk could not enter "    \
			    "(their sockets are not_reached)",                                  \
			    "", struct tracer_snap, walk.netns_not_entered)

static const struct counter_desc tracer_descs[] = { TRACER_ROWS };

static const struct counter_desc tracer_families[] = {
	{ "flowscope_tracer_events_total", "records the kernel put into the events ring, per event",
	  COUNTER_COUNTER, "", 0 },
	{ "flowscope_tracer_events_lost_total",
	  "records lost in the kernel: the events ring was full, per event", COUNTER_COUNTER, "",
	  0 },
	{ "flowscope_tracer_events_suppressed_total",
	  "records not made: the per-cgroup rate limit, per event", COUNTER_COUNTER, "", 0 },
	{ "flowscope_tracer_events_filtered_total",
	  "records not made: a filter rejected them (before the rate limit), per event",
	  COUNTER_COUNTER, "", 0 },
	{ "flowscope_tracer_decode_errors_total", "malformed records from the ring, per event",
	  COUNTER_COUNTER, "", 0 },
	{ "flowscope_tracer_events_out_of_scope_total",
	  "records not made: the task's cgroup is outside --cgroup-root, per event",
	  COUNTER_COUNTER, "", 0 },
};

/* Every family this group renders, for tests that check docs/metrics.md (values read 0). */
static const struct counter_desc all_descs[] = {
	TRACER_ROWS,
	COUNTER_ROW("flowscope_tracer_events_total", COUNTER_COUNTER,
		    "records the kernel put into the events ring, per event", "",
		    struct tracer_snap, records),
	COUNTER_ROW("flowscope_tracer_events_lost_total", COUNTER_COUNTER,
		    "records lost in the kernel: the events ring was full, per event", "",
		    struct tracer_snap, records),
	COUNTER_ROW("flowscope_tracer_events_suppressed_total", COUNTER_COUNTER,
		    "records not made: the per-cgroup rate limit, per event", "",
		    struct tracer_snap, records),
	COUNTER_ROW("flowscope_tracer_events_filtered_total", COUNTER_COUNTER,
		    "records not made: a filter rejected them (before the rate limit), per event",
		    "", struct tracer_snap, records),
	COUNTER_ROW("flowscope_tracer_decode_errors_total", COUNTER_COUNTER,
		    "malformed records from the ring, per event", "", struct tracer_snap, records),
	COUNTER_ROW("flowscope_tracer_events_out_of_scope_total", COUNTER_COUNTER,
		    "records not made: the task's cgroup is outside --cgroup-root, per event", "",
		    struct tracer_snap, records),
};

const struct counter_desc *tracer_collector_counter_descs(size_t *n)
{
	*n = sizeof(all_descs) / sizeof(all_descs[0]);
	return all_descs;
}

static int tracer_snapshot(void *arg, void *snap)
{
	struct tracer_collector *tc = arg;
	struct tracer_snap *s = snap;

	s->records = tc->records;
	s->records_dropped = tc->records_dropped;
	event_tracer_cgroup_filter_stats(tc->et, &s->cgroup_filter_ids, &s->cgroup_filter_errors);
	event_tracer_socket_walk_stats(tc->et, &s->walk);
	return 0;
}

static void tracer_dynamic(void *arg, const void *snap, struct counters_out *out)
{
	struct tracer_collector *tc = arg;

	(void)snap;
	for (int f = 0; f < 6; f++) {
		for (int id = 1; id < POLICY_EV_COUNT; id++) {
			struct event_tracer_counts k;
			char labels[96];
			uint64_t v;

			if (!event_counts(tc, id, &k))
				continue;
			v = f == 0   ? k.emitted
			    : f == 1 ? k.lost
			    : f == 2 ? k.suppressed
			    : f == 3 ? k.kernel_filtered
			    : f == 4 ? k.decode_errors
				     : k.out_of_scope;
			snprintf(labels, sizeof(labels), "event=\"%s\"",
				 policy_event_def(id)->name);
			counters_sample(out, &tracer_families[f], labels, v);
		}
	}
}

int tracer_collector_register_counters(struct tracer_collector *tc, struct counters *reg)
{
	struct counters_group g = {
		COUNTERS_GROUP("tracer", tracer_descs, struct tracer_snap, tracer_snapshot, tc),
		COUNTERS_DYNAMIC(tracer_dynamic, tracer_families),
	};

	return counters_register(reg, &g);
}

void tracer_collector_destroy(struct tracer_collector *tc)
{
	if (!tc)
		return;
	event_tracer_destroy(tc->et);
	policy_destroy(tc->policy);
	free(tc);
}
