// SPDX-License-Identifier: Apache-2.0
/*
 * Process events against real processes (issue 10 acceptance 1, 5, 6): exact filename and argv
 * (an empty argument, a 4 KiB one, 300 of them), a #! script's interpreter, a failed exec with
 * ENOENT and its argv, exit codes and SIGKILL, a process older than the tracer, the ring
 * buffer's loss accounting, and the kernel-side filters (comm, uid, filename prefix, cgroup id
 * sets kept up to date as cgroups come and go). Each test in a cgroup of its own, filtered to it in the kernel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tracer_fixture.h"

struct want_n {
	enum tr_event kind;
	uint32_t pid;
	size_t n;
};

static bool have_n(const struct tfx_events *evs, const void *arg)
{
	const struct want_n *w = arg;

	return tfx_count(evs, w->kind, w->pid) >= w->n;
}

static const struct tfx_event *wait_for(struct event_tracer *et, struct tfx_events *evs,
					enum tr_event kind, uint32_t pid)
{
	struct want_n w = { kind, pid, 1 };

	if (!tfx_poll(et, evs, 5000, have_n, &w))
		fail_msg("no %s event for pid %u", event_tracer_event_name(kind), pid);
	return tfx_find(evs, kind, pid);
}

/* The group-dead exit of pid. */
static const struct tfx_event *wait_exit(struct event_tracer *et, struct tfx_events *evs,
					 uint32_t pid)
{
	for (int tries = 0; tries < 100; tries++) {
		for (size_t i = 0; i < evs->n; i++)
			if (evs->v[i].kind == TR_EV_SCHED_PROCESS_EXIT &&
			    evs->v[i].ctx.pid == pid && evs->v[i].exit.group_dead)
				return &evs->v[i];
		tfx_drain(et, evs, 50);
	}
	fail_msg("no group exit event for pid %u", pid);
	return NULL;
}

static void test_exec_argv(void **state)
{
	(void)state;
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	enum { NARGS = 303 };
	char *argv[NARGS + 1];
	char big[4097];
	int gate;

	tfx_cgroup_create(&cg, "exec");
	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	tfx_opts_init(&o, &evs);
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXEC, &cg.id);
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXIT, &cg.id);
	struct event_tracer *et = tfx_open(&o);

	memset(big, 'A', 4096);
	big[4096] = 0;
	big[0] = 'B';
	big[4095] = 'E';
	argv[0] = "/bin/true";
	argv[1] = "";
	argv[2] = big;
	for (int i = 3; i < NARGS; i++) {
		argv[i] = malloc(16);
		snprintf(argv[i], 16, "arg%d", i);
	}
	argv[NARGS] = NULL;
	pid_t pid = tfx_spawn(&cg, argv, &gate);

	tfx_release(gate);
	const struct tfx_event *e = wait_for(et, &evs, TR_EV_SCHED_PROCESS_EXEC, pid);
	const struct tfx_event *x = wait_exit(et, &evs, pid);
	int st = tfx_wait(pid);

	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(tfx_count(&evs, TR_EV_SCHED_PROCESS_EXEC, pid), 1);
	assert_string_equal(e->filename, "/bin/true");
	assert_null(e->interpreter);
	assert_false(e->argv_truncated);
	assert_int_equal(e->argc, NARGS);
	for (int i = 0; i < NARGS; i++)
		assert_string_equal(e->argv[i], argv[i]);
	assert_int_equal(e->ctx.pid, pid);
	assert_int_equal(e->ctx.ppid, getpid());
	assert_int_equal(e->ctx.cgroup_id, cg.id);
	assert_string_equal(e->ctx.comm, "true");
	assert_int_equal(e->ctx.uid, getuid());
	assert_int_equal(x->exit.exit_code, 0);
	assert_int_equal(x->exit.signal, 0);

	for (int i = 3; i < NARGS; i++)
		free(argv[i]);
	event_tracer_destroy(et);
	tfx_events_free(&evs);
	tfx_cgroup_destroy(&cg);
}

/* argv longer than the policy's bound: cut there, flagged, never silently. */
static void test_exec_argv_bound(void **state)
{
	(void)state;
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	char a[3000], b[3000];
	int gate;

	tfx_cgroup_create(&cg, "bound");
	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	tfx_opts_init(&o, &evs);
	o.argv_max_bytes = 4096;
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXEC, &cg.id);
	struct event_tracer *et = tfx_open(&o);

	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = 0;
	memset(b, 'b', sizeof(b) - 1);
	b[sizeof(b) - 1] = 0;
	char *argv[] = { "/bin/true", a, b, NULL };
	pid_t pid = tfx_spawn(&cg, argv, &gate);

	tfx_release(gate);
	const struct tfx_event *e = wait_for(et, &evs, TR_EV_SCHED_PROCESS_EXEC, pid);

	tfx_wait(pid);
	assert_true(e->argv_truncated);
	assert_int_equal(e->argc, 3);
	assert_string_equal(e->argv[0], "/bin/true");
	assert_string_equal(e->argv[1], a);
	/* 4096 bytes: "/bin/true\0" (10) + a (3000) + the first 1086 bytes of b */
	assert_int_equal(strlen(e->argv[2]), 4096 - 10 - 3000);
	assert_memory_equal(e->argv[2], b, 4096 - 10 - 3000);
	event_tracer_destroy(et);
	tfx_events_free(&evs);
	tfx_cgroup_destroy(&cg);
}

/* A cgroup_match closed under descent: p and the paths below it. */
static bool below(void *ctx, const char *path)
{
	const char *p = ctx;
	size_t l = strlen(p);

	return !strncmp(path, p, l) && (path[l] == 0 || path[l] == '/');
}

static uint64_t filter_ids(const struct event_tracer *et)
{
	uint64_t ids, errors;

	event_tracer_cgroup_filter_stats(et, &ids, &errors);
	assert_int_equal(errors, 0);
	return ids;
}

static uint64_t boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * The cgroup filter as ids: a cgroup whose path is the prefix, made after the tracer started,
 * joins when the library reads its cgroup_mkdir record; its child joins in the kernel at the
 * mkdir itself; a sibling whose name only starts with the prefix's stays out; removed ones
 * leave after the cleanup delay.
 */
static void test_cgroup_filter_ids(void **state)
{
	(void)state;
	struct tfx_cgroup top, child, sibling;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	char prefix[64];
	int gate[3];
	pid_t pid[3];

	snprintf(prefix, sizeof(prefix), "/fs%d_cgf", getpid());
	tfx_opts_init(&o, &evs);
	o.events[TR_EV_SCHED_PROCESS_EXEC].enabled = true;
	o.events[TR_EV_SCHED_PROCESS_EXEC].filter.cgroup_match = below;
	o.events[TR_EV_SCHED_PROCESS_EXEC].filter.cgroup_match_ctx = prefix;
	o.cgroup_cleanup_delay_ns = 1;
	struct event_tracer *et = tfx_open(&o);

	assert_int_equal(filter_ids(et), 0);
	tfx_cgroup_create(&top, "cgf");
	for (int i = 0; i < 500 && filter_ids(et) < 1; i++)
		tfx_drain(et, &evs, 10);
	assert_int_equal(filter_ids(et), 1); /* from its cgroup_mkdir record */
	tfx_cgroup_create(&child, "cgf/child");
	assert_int_equal(filter_ids(et), 2); /* in the kernel, before mkdir(2) returned */
	tfx_cgroup_create(&sibling, "cgfx");

	const struct tfx_cgroup *cgs[3] = { &top, &child, &sibling };

	for (int i = 0; i < 3; i++) {
		char *argv[] = { "/bin/true", NULL };

		pid[i] = tfx_spawn(cgs[i], argv, &gate[i]);
		tfx_release(gate[i]);
	}
	wait_for(et, &evs, TR_EV_SCHED_PROCESS_EXEC, pid[0]);
	wait_for(et, &evs, TR_EV_SCHED_PROCESS_EXEC, pid[1]);
	for (int i = 0; i < 3; i++)
		tfx_wait(pid[i]);
	tfx_drain(et, &evs, 200);
	assert_int_equal(tfx_count(&evs, TR_EV_SCHED_PROCESS_EXEC, pid[2]), 0);
	assert_int_equal(tfx_find(&evs, TR_EV_SCHED_PROCESS_EXEC, pid[0])->ctx.cgroup_id, top.id);
	assert_int_equal(tfx_find(&evs, TR_EV_SCHED_PROCESS_EXEC, pid[1])->ctx.cgroup_id, child.id);
	/* the filtered exec was never made, and the mkdir records were never delivered */
	for (size_t i = 0; i < evs.n; i++)
		assert_int_equal(evs.v[i].kind, TR_EV_SCHED_PROCESS_EXEC);

	tfx_cgroup_destroy(&sibling);
	tfx_cgroup_destroy(&child);
	tfx_cgroup_destroy(&top);
	for (int i = 0; i < 500 && filter_ids(et) > 0; i++) {
		tfx_drain(et, &evs, 10);
		event_tracer_tick(et, boot_ns());
	}
	assert_int_equal(filter_ids(et), 0);
	event_tracer_destroy(et);
	tfx_events_free(&evs);
}

/*
 * comm, uid and filename prefix in the kernel: an exec of /bin/true passes all three, one of
 * /bin/echo fails the prefix; openat of one file passes, of another and of the loader's files
 * does not. Rejected records are counted as filtered, never made.
 */
static void test_kernel_filters(void **state)
{
	(void)state;
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	struct event_tracer_counts c;
	const char *comms[] = { "true", "echo", "cat" };
	uint32_t uid = getuid();
	char want[64], other[64], fprefix[64];
	int gate;

	tfx_cgroup_create(&cg, "kfilt");
	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	snprintf(want, sizeof(want), "/tmp/fs%d_want", getpid());
	snprintf(other, sizeof(other), "/tmp/fs%d_other", getpid());
	snprintf(fprefix, sizeof(fprefix), "/tmp/fs%d_w", getpid());
	for (int i = 0; i < 2; i++) {
		FILE *f = fopen(i ? other : want, "w");

		assert_non_null(f);
		fclose(f);
	}
	tfx_opts_init(&o, &evs);
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXEC, &cg.id);
	o.events[TR_EV_SCHED_PROCESS_EXEC].filter.comms = comms;
	o.events[TR_EV_SCHED_PROCESS_EXEC].filter.n_comms = 3;
	o.events[TR_EV_SCHED_PROCESS_EXEC].filter.uids = &uid;
	o.events[TR_EV_SCHED_PROCESS_EXEC].filter.n_uids = 1;
	o.events[TR_EV_SCHED_PROCESS_EXEC].filter.filename_prefix = "/bin/tr";
	tfx_enable_syscall(&o, SYS_openat, &cg.id);
	o.syscalls[SYS_openat].filter.filename_prefix = fprefix;
	struct event_tracer *et = tfx_open(&o);

	char *t_argv[] = { "/bin/true", NULL };
	char *e_argv[] = { "/bin/echo", NULL };
	char *c_argv[] = { "/bin/cat", want, other, NULL };
	pid_t t = tfx_spawn(&cg, t_argv, &gate);

	tfx_release(gate);
	pid_t e = tfx_spawn(&cg, e_argv, &gate);

	tfx_release(gate);
	pid_t k = tfx_spawn(&cg, c_argv, &gate);

	tfx_release(gate);
	wait_for(et, &evs, TR_EV_SCHED_PROCESS_EXEC, t);
	wait_for(et, &evs, TR_EV_SYSCALL, k);
	tfx_wait(t);
	tfx_wait(e);
	tfx_wait(k);
	tfx_drain(et, &evs, 200);
	assert_int_equal(tfx_count(&evs, TR_EV_SCHED_PROCESS_EXEC, e), 0);
	assert_int_equal(tfx_count(&evs, TR_EV_SCHED_PROCESS_EXEC, k), 0); /* "/bin/ca" */
	assert_int_equal(tfx_count(&evs, TR_EV_SYSCALL, k), 1);
	assert_string_equal(tfx_find(&evs, TR_EV_SYSCALL, k)->sys.str[0], want);
	assert_true(tfx_find(&evs, TR_EV_SYSCALL, k)->sys.ret >= 0);
	event_tracer_counts(et, TR_EV_SCHED_PROCESS_EXEC, 0, &c);
	assert_true(c.kernel_filtered >= 2);
	assert_int_equal(c.suppressed, 0);
	event_tracer_counts(et, TR_EV_SYSCALL, SYS_openat, &c);
	assert_true(c.kernel_filtered >= 2); /* other, and the loader's files */
	event_tracer_destroy(et);
	tfx_events_free(&evs);
	unlink(want);
	unlink(other);
	tfx_cgroup_destroy(&cg);
}

static void test_exec_script_failed_exit_kill(void **state)
{
	(void)state;
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	char script[256], missing[256];
	int gate;

	tfx_cgroup_create(&cg, "script");
	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	tfx_opts_init(&o, &evs);
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXEC, &cg.id);
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXEC_FAILED, &cg.id);
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXIT, &cg.id);
	struct event_tracer *et = tfx_open(&o);

	/* #!/bin/sh script exiting 7 */
	snprintf(script, sizeof(script), "/tmp/fs%d_script.sh", getpid());
	FILE *f = fopen(script, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nexit 7\n");
	fclose(f);
	assert_int_equal(chmod(script, 0755), 0);
	char *sargv[] = { script, "one", "", "three", NULL };
	pid_t pid = tfx_spawn(&cg, sargv, &gate);

	tfx_release(gate);
	const struct tfx_event *e = wait_for(et, &evs, TR_EV_SCHED_PROCESS_EXEC, pid);

	assert_string_equal(e->filename, script);
	assert_non_null(e->interpreter);
	assert_string_equal(e->interpreter, "/bin/sh");
	/* the new process's argv: the interpreter, the script, then the script's arguments */
	assert_int_equal(e->argc, 5);
	assert_string_equal(e->argv[0], "/bin/sh");
	assert_string_equal(e->argv[1], script);
	assert_string_equal(e->argv[2], "one");
	assert_string_equal(e->argv[3], "");
	assert_string_equal(e->argv[4], "three");
	const struct tfx_event *x = wait_exit(et, &evs, pid);

	assert_int_equal(x->exit.exit_code, 7);
	assert_int_equal(x->exit.signal, 0);
	assert_int_equal(x->ctx.ppid, getpid());
	int st = tfx_wait(pid);

	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	unlink(script);

	/* a missing file: the failed exec with ENOENT and its argv; the child then exits 122 */
	snprintf(missing, sizeof(missing), "/tmp/fs%d_no_such_binary", getpid());
	char *margv[] = { missing, "", "x y", NULL };

	pid = tfx_spawn(&cg, margv, &gate);
	tfx_release(gate);
	e = wait_for(et, &evs, TR_EV_SCHED_PROCESS_EXEC_FAILED, pid);
	assert_int_equal(e->ret, -ENOENT);
	assert_string_equal(e->filename, missing);
	assert_int_equal(e->argc, 3);
	assert_string_equal(e->argv[0], missing);
	assert_string_equal(e->argv[1], "");
	assert_string_equal(e->argv[2], "x y");
	assert_false(e->argv_truncated);
	x = wait_exit(et, &evs, pid);
	assert_int_equal(x->exit.exit_code, 122);
	tfx_wait(pid);
	assert_int_equal(tfx_count(&evs, TR_EV_SCHED_PROCESS_EXEC, pid), 0);

	/* SIGKILL: signal 9 */
	char *kargv[] = { "/bin/sleep", "30", NULL };

	pid = tfx_spawn(&cg, kargv, &gate);
	tfx_release(gate);
	wait_for(et, &evs, TR_EV_SCHED_PROCESS_EXEC, pid);
	assert_int_equal(kill(pid, SIGKILL), 0);
	x = wait_exit(et, &evs, pid);
	assert_int_equal(x->exit.signal, 9);
	assert_int_equal(x->exit.exit_code, 0);
	assert_string_equal(x->ctx.comm, "sleep");
	st = tfx_wait(pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	event_tracer_destroy(et);
	tfx_events_free(&evs);
	tfx_cgroup_destroy(&cg);
}

/* A process started before the tracer: its exit has the real ppid and comm. */
static void test_preexisting_exit(void **state)
{
	(void)state;
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	struct event_tracer_task t;
	bool from_iter = false;
	int gate;

	tfx_cgroup_create(&cg, "preexist");
	char *argv[] = { "/bin/sleep", "300", NULL };
	pid_t pid = tfx_spawn(&cg, argv, &gate);

	tfx_release(gate);
	usleep(200000); /* let it exec before the tracer exists */

	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	tfx_opts_init(&o, &evs);
	o.seed_tasks = true;
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXIT, &cg.id);
	struct event_tracer *et = tfx_open(&o);

	assert_true(event_tracer_task_count(et, &from_iter) > 1);
	assert_true(from_iter); /* this kernel has iter/task: /proc is only the fallback */
	assert_true(event_tracer_task_lookup(et, pid, &t));
	assert_string_equal(t.comm, "sleep");
	assert_int_equal(t.ppid, getpid());
	assert_int_equal(t.cgroup_id, cg.id);

	assert_int_equal(kill(pid, SIGTERM), 0);
	const struct tfx_event *x = wait_exit(et, &evs, pid);

	assert_int_equal(x->ctx.ppid, getpid());
	assert_string_equal(x->ctx.comm, "sleep");
	assert_int_equal(x->ctx.cgroup_id, cg.id);
	assert_int_equal(x->exit.signal, SIGTERM);
	tfx_wait(pid);
	/* the exit removed it from the task table */
	assert_false(event_tracer_task_lookup(et, pid, &t));
	event_tracer_destroy(et);
	tfx_events_free(&evs);
	tfx_cgroup_destroy(&cg);
}

/* A tiny ring and no reader while N execs happen: received + lost == N, exactly. */
static void test_ring_loss_accounting(void **state)
{
	(void)state;
	struct tfx_cgroup cg;
	struct tfx_events evs = { 0 };
	struct event_tracer_opts o;
	struct event_tracer_counts c;
	enum { N = 200 };

	tfx_cgroup_create(&cg, "loss");
	evs.cgroup_ids = &cg.id;
	evs.n_cgroup_ids = 1;
	tfx_opts_init(&o, &evs);
	o.ringbuf_bytes = 16384;
	tfx_enable(&o, TR_EV_SCHED_PROCESS_EXEC, &cg.id);
	struct event_tracer *et = tfx_open(&o);

	for (int i = 0; i < N; i++) {
		char *argv[] = { "/bin/true", "loss", NULL };
		int gate;
		pid_t pid = tfx_spawn(&cg, argv, &gate);

		tfx_release(gate);
		int st = tfx_wait(pid);

		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	tfx_drain(et, &evs, 300);
	event_tracer_counts(et, TR_EV_SCHED_PROCESS_EXEC, 0, &c);
	print_message("exec: received %zu, emitted %llu, lost %llu\n", evs.n,
		      (unsigned long long)c.emitted, (unsigned long long)c.lost);
	assert_true(c.lost > 0); /* the ring holds far fewer than N records */
	assert_true(evs.n > 0);
	assert_int_equal(tfx_count(&evs, TR_EV_SCHED_PROCESS_EXEC, 0), evs.n);
	assert_int_equal(evs.n + c.lost, N);
	assert_int_equal(c.emitted, evs.n);
	assert_int_equal(c.decode_errors, 0);
	event_tracer_destroy(et);
	tfx_events_free(&evs);
	tfx_cgroup_destroy(&cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_argv),
		cmocka_unit_test(test_exec_argv_bound),
		cmocka_unit_test(test_cgroup_filter_ids),
		cmocka_unit_test(test_kernel_filters),
		cmocka_unit_test(test_exec_script_failed_exit_kill),
		cmocka_unit_test(test_preexisting_exit),
		cmocka_unit_test(test_ring_loss_accounting),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "tracer kernel tests need root\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
