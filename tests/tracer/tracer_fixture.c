// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tracer_fixture.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static void cgroup2_mount(char *buf, size_t len)
{
	FILE *f = setmntent("/proc/mounts", "re");
	struct mntent *m;

	assert_non_null(f);
	buf[0] = 0;
	while ((m = getmntent(f)))
		if (!strcmp(m->mnt_type, "cgroup2")) {
			snprintf(buf, len, "%s", m->mnt_dir);
			break;
		}
	endmntent(f);
	if (!buf[0])
		fail_msg("cgroup v2 is not mounted: the tracer needs it");
}

void tfx_cgroup_create(struct tfx_cgroup *cg, const char *name)
{
	char root[256];
	struct stat st;

	cgroup2_mount(root, sizeof(root));
	snprintf(cg->path, sizeof(cg->path), "%s/fs%d_%s", root, getpid(), name);
	rmdir(cg->path);
	if (mkdir(cg->path, 0755))
		fail_msg("mkdir %s: %s", cg->path, strerror(errno));
	assert_int_equal(stat(cg->path, &st), 0);
	cg->id = st.st_ino;
}

void tfx_cgroup_destroy(struct tfx_cgroup *cg)
{
	for (int i = 0; i < 50; i++) {
		if (!rmdir(cg->path) || errno == ENOENT)
			return;
		usleep(20000); /* exited tasks leave the group asynchronously */
	}
	fprintf(stderr, "rmdir %s: %s\n", cg->path, strerror(errno));
}

int tfx_cgroup_enter(const struct tfx_cgroup *cg)
{
	char p[600];
	int fd, ret = 0;

	snprintf(p, sizeof(p), "%s/cgroup.procs", cg->path);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "0", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

void tfx_collect(void *ctx, const struct event_tracer_event *ev)
{
	struct tfx_events *evs = ctx;
	struct tfx_event *e;

	if (evs->cgroup_ids) {
		bool ok = false;
		uint64_t id = ev->ctx->cgroup_id;

		if (ev->kind == TR_EV_CGROUP_MKDIR || ev->kind == TR_EV_CGROUP_RMDIR ||
		    ev->kind == TR_EV_CGROUP_ATTACH_TASK)
			id = ev->cgroup.rec->target_cgroup_id;
		for (size_t i = 0; i < evs->n_cgroup_ids; i++)
			ok |= evs->cgroup_ids[i] == id;
		if (!ok)
			return;
	}
	if (evs->n == evs->cap) {
		evs->cap = evs->cap ? evs->cap * 2 : 64;
		evs->v = realloc(evs->v, evs->cap * sizeof(*evs->v));
		assert_non_null(evs->v);
	}
	e = &evs->v[evs->n++];
	memset(e, 0, sizeof(*e));
	e->kind = ev->kind;
	snprintf(e->name, sizeof(e->name), "%s", ev->name);
	e->ctx = *ev->ctx;
	switch (ev->kind) {
	case TR_EV_SCHED_PROCESS_EXEC:
	case TR_EV_SCHED_PROCESS_EXEC_FAILED:
		e->filename = strdup(ev->exec.filename);
		e->interpreter = ev->exec.interpreter ? strdup(ev->exec.interpreter) : NULL;
		e->argc = ev->exec.argc;
		e->argv = calloc(ev->exec.argc + 1, sizeof(char *));
		for (uint32_t i = 0; i < ev->exec.argc; i++)
			e->argv[i] = strdup(ev->exec.argv[i]);
		e->argv_truncated = ev->exec.argv_truncated;
		e->ret = ev->exec.ret;
		break;
	case TR_EV_SCHED_PROCESS_FORK:
		e->fork = *ev->fork;
		break;
	case TR_EV_SCHED_PROCESS_EXIT:
		e->exit = *ev->exit;
		break;
	case TR_EV_TCP_CONNECT:
	case TR_EV_TCP_ACCEPT:
	case TR_EV_TCP_LISTEN:
	case TR_EV_TCP_CLOSE:
	case TR_EV_TCP_CONNECT_ERROR:
	case TR_EV_TCP_RETRANSMIT:
		e->tcp = *ev->tcp;
		break;
	case TR_EV_OOM_KILL:
		e->oom = *ev->oom;
		break;
	case TR_EV_SIGNAL_GENERATE:
		e->signal = *ev->signal;
		break;
	case TR_EV_SYSCALL:
		e->sys.nr = ev->syscall.rec->nr;
		e->sys.ret = ev->syscall.rec->ret;
		memcpy(e->sys.args, ev->syscall.rec->args, sizeof(e->sys.args));
		e->sys.addr_len = ev->syscall.addr_len;
		if (ev->syscall.addr)
			memcpy(e->sys.addr, ev->syscall.addr, ev->syscall.addr_len);
		for (int i = 0; i < TR_SYS_STRS; i++) {
			e->sys.str_len[i] = ev->syscall.rec->str_len[i];
			if (ev->syscall.str[i])
				snprintf(e->sys.str[i], sizeof(e->sys.str[i]), "%s",
					 ev->syscall.str[i]);
		}
		break;
	case TR_EV_CGROUP_MKDIR:
	case TR_EV_CGROUP_RMDIR:
	case TR_EV_CGROUP_ATTACH_TASK:
		e->cgroup_path = strdup(ev->cgroup.path);
		e->target_cgroup_id = ev->cgroup.rec->target_cgroup_id;
		break;
	default:
		break;
	}
}

void tfx_events_free(struct tfx_events *evs)
{
	for (size_t i = 0; i < evs->n; i++) {
		struct tfx_event *e = &evs->v[i];

		free(e->filename);
		free(e->interpreter);
		for (uint32_t j = 0; e->argv && j < e->argc; j++)
			free(e->argv[j]);
		free(e->argv);
		free(e->cgroup_path);
	}
	free(evs->v);
	evs->v = NULL;
	evs->n = evs->cap = 0;
}

void tfx_opts_init(struct event_tracer_opts *o, struct tfx_events *evs)
{
	memset(o, 0, sizeof(*o));
	o->cb = tfx_collect;
	o->cb_ctx = evs;
}

void tfx_enable(struct event_tracer_opts *o, enum tr_event ev, const uint64_t *cg)
{
	o->events[ev].enabled = true;
	if (cg) {
		o->events[ev].filter.cgroup_ids = cg;
		o->events[ev].filter.n_cgroup_ids = 1;
	}
}

void tfx_enable_syscall(struct event_tracer_opts *o, int nr, const uint64_t *cg)
{
	o->syscalls[nr].enabled = true;
	if (cg) {
		o->syscalls[nr].filter.cgroup_ids = cg;
		o->syscalls[nr].filter.n_cgroup_ids = 1;
	}
}

struct event_tracer *tfx_open(const struct event_tracer_opts *o)
{
	struct event_tracer *et = NULL;
	char err[512];
	int ret = event_tracer_create(o, &et, err, sizeof(err));

	if (ret)
		fail_msg("event_tracer_create: %d: %s", ret, err);
	return et;
}

bool tfx_poll(struct event_tracer *et, struct tfx_events *evs, int ms,
	      bool (*done)(const struct tfx_events *, const void *), const void *arg)
{
	uint64_t end = now_ms() + ms;
	struct pollfd pfd = { .fd = event_tracer_fd(et), .events = POLLIN };

	for (;;) {
		assert_true(event_tracer_consume(et) >= 0);
		if (done && done(evs, arg))
			return true;
		uint64_t now = now_ms();

		if (now >= end)
			return done ? done(evs, arg) : true;
		poll(&pfd, 1, (int)(end - now) > 50 ? 50 : (int)(end - now));
	}
}

void tfx_drain(struct event_tracer *et, struct tfx_events *evs, int ms)
{
	tfx_poll(et, evs, ms, NULL, NULL);
}

size_t tfx_count(const struct tfx_events *evs, enum tr_event kind, uint32_t pid)
{
	size_t n = 0;

	for (size_t i = 0; i < evs->n; i++)
		if (evs->v[i].kind == kind && (!pid || evs->v[i].ctx.pid == pid))
			n++;
	return n;
}

const struct tfx_event *tfx_find(const struct tfx_events *evs, enum tr_event kind, uint32_t pid)
{
	for (size_t i = 0; i < evs->n; i++)
		if (evs->v[i].kind == kind && (!pid || evs->v[i].ctx.pid == pid))
			return &evs->v[i];
	return NULL;
}

pid_t tfx_spawn(const struct tfx_cgroup *cg, char *const argv[], int *gate_fd)
{
	int gate[2];
	pid_t pid;

	assert_int_equal(pipe2(gate, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;

		close(gate[1]);
		if (tfx_cgroup_enter(cg))
			_exit(120);
		if (read(gate[0], &c, 1) != 1)
			_exit(121);
		execv(argv[0], argv);
		_exit(122);
	}
	close(gate[0]);
	*gate_fd = gate[1];
	return pid;
}

void tfx_release(int gate_fd)
{
	assert_int_equal(write(gate_fd, "x", 1), 1);
	close(gate_fd);
}

int tfx_wait(pid_t pid)
{
	int st = 0;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}
