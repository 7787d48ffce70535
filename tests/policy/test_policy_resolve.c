// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of policy/: the catalogue's consistency, --events parsing, dependency closure,
 * program sets, the syscall bitmap, and the post-probe program check (issue 10, acceptance 4).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "policy.h"

#define BIT(p) POLICY_PROG_BIT(POLICY_PROG_##p)
#define ALL_PROGS ((policy_prog_mask)((1ull << POLICY_PROG_COUNT) - 1))

static const struct policy_event_conf *ev(const struct policy *pol, enum policy_event_id id)
{
	const struct policy_event_conf *c = policy_event(pol, id);

	assert_non_null(c);
	return c;
}

static struct policy *from_events(const char *list)
{
	struct policy_error err;
	struct policy *pol = NULL;
	enum policy_status st = policy_create_from_events(list, &pol, &err);

	if (st != POLICY_OK)
		fail_msg("--events %s: %s", list, err.msg);
	assert_non_null(pol);
	return pol;
}

/* Every row is where its id says, names are unique, every reference resolves. */
static void test_catalog_consistent(void **state)
{
	(void)state;
	assert_null(policy_event_def(POLICY_EV_NONE));
	assert_null(policy_event_def(POLICY_EV_COUNT));
	assert_null(policy_event_def((enum policy_event_id) - 1));
	for (int id = 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *d = policy_event_def((enum policy_event_id)id);
		bool has_filename = d->filename_param == NULL;
		bool terminated = false;

		assert_non_null(d);
		assert_int_equal(d->id, id);
		assert_non_null(d->name);
		assert_non_null(d->doc);
		assert_int_equal(policy_event_by_name(d->name), id);
		for (int other = 1; other < id; other++)
			assert_string_not_equal(policy_event_def((enum policy_event_id)other)->name,
						d->name);
		/* Every emitted event has parameters; internal ones have none. */
		if (d->flags & POLICY_EVF_INTERNAL) {
			assert_int_equal(d->n_params, 0);
			assert_false(d->flags & POLICY_EVF_DEFAULT);
		} else {
			assert_true(d->n_params > 0);
			/* And needs at least one program, directly or through what it builds on. */
			assert_true(d->n_progs > 0);
		}
		assert_true(d->n_params <= POLICY_MAX_PARAMS);
		for (size_t i = 0; i < d->n_params; i++) {
			assert_non_null(d->params[i].name);
			assert_non_null(d->params[i].doc);
			assert_true(d->params[i].unit < POLICY_U_COUNT);
			assert_string_not_equal(policy_unit_str(d->params[i].unit), "unknown unit");
			for (size_t j = 0; j < i; j++)
				assert_string_not_equal(d->params[i].name, d->params[j].name);
			if (d->filename_param && !strcmp(d->filename_param, d->params[i].name)) {
				assert_int_equal(d->params[i].type, POLICY_T_STR);
				has_filename = true;
			}
		}
		assert_true(has_filename);
		for (size_t i = 0; i < d->n_progs; i++) {
			assert_true(d->progs[i].prog < POLICY_PROG_COUNT);
			assert_non_null(d->progs[i].why);
		}
		for (size_t i = 0; i < d->n_deps; i++) {
			const struct policy_event_def *dep = policy_event_def(d->deps[i]);

			assert_non_null(dep);
			/* Events build on internal events only: an emitted event is chosen alone. */
			assert_true(dep->flags & POLICY_EVF_INTERNAL);
		}
		/* A row without a terminator would watch syscall 0 (read) by accident. */
		for (int i = 0; i < 4; i++) {
			if (d->watch_syscalls[i] == -1) {
				terminated = true;
				break;
			}
			assert_true(d->watch_syscalls[i] > 0 &&
				    d->watch_syscalls[i] < POLICY_SYSCALL_MAX);
		}
		assert_true(terminated);
		if (d->flags & POLICY_EVF_SYSCALL) {
			assert_true(d->syscall_nr >= 0 && d->syscall_nr < POLICY_SYSCALL_MAX);
			assert_string_not_equal(d->params[d->n_params - 1].name, "");
			assert_int_equal(d->params[d->n_params - 1].unit, POLICY_U_SYSCALL_RET);
		} else {
			assert_int_equal(d->syscall_nr, -1);
		}
		if (d->flags & POLICY_EVF_ENV)
			assert_true(d->flags & POLICY_EVF_ARGV);
	}
}

/* The syscall events carry the kernel's x86_64 numbers (from the C library's headers). */
static void test_catalog_syscall_numbers(void **state)
{
	static const struct {
		const char *name;
		long nr;
	} want[] = {
		{ "connect", SYS_connect },
		{ "bind", SYS_bind },
		{ "accept4", SYS_accept4 },
		{ "execve", SYS_execve },
		{ "execveat", SYS_execveat },
		{ "ptrace", SYS_ptrace },
		{ "setuid", SYS_setuid },
		{ "setgid", SYS_setgid },
		{ "unshare", SYS_unshare },
		{ "setns", SYS_setns },
		{ "mount", SYS_mount },
		{ "init_module", SYS_init_module },
		{ "finit_module", SYS_finit_module },
		{ "bpf", SYS_bpf },
		{ "memfd_create", SYS_memfd_create },
		{ "openat", SYS_openat },
	};
	int n_syscall_rows = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct policy_event_def *d =
			policy_event_def(policy_event_by_name(want[i].name));

		assert_non_null(d);
		assert_true(d->flags & POLICY_EVF_SYSCALL);
		assert_int_equal(d->syscall_nr, want[i].nr);
		assert_int_equal(policy_event_by_syscall(want[i].nr), d->id);
	}
	assert_int_equal(policy_event_by_syscall(SYS_getppid), POLICY_EV_NONE);
	assert_int_equal(policy_event_by_syscall(-1), POLICY_EV_NONE);
	assert_int_equal(policy_event_by_syscall(0), POLICY_EV_NONE);
	for (int id = 1; id < POLICY_EV_COUNT; id++)
		if (policy_event_def((enum policy_event_id)id)->flags & POLICY_EVF_SYSCALL)
			n_syscall_rows++;
	assert_int_equal(n_syscall_rows, sizeof(want) / sizeof(want[0]));
	/* sched_process_exec_failed watches execve and execveat. */
	assert_int_equal(policy_event_def(POLICY_EV_SCHED_PROCESS_EXEC_FAILED)->watch_syscalls[0],
			 SYS_execve);
	assert_int_equal(policy_event_def(POLICY_EV_SCHED_PROCESS_EXEC_FAILED)->watch_syscalls[1],
			 SYS_execveat);
}

/* Program names are the C function names of bpf/tracer.bpf.c (/work/tracer-interface.md). */
static void test_prog_names(void **state)
{
	static const char *const names[POLICY_PROG_COUNT] = {
		"tr_sched_process_exec", "tr_sched_process_fork", "tr_sched_process_exit",
		"tr_sys_enter",		 "tr_sys_exit",		  "tr_inet_sock_set_state",
		"tr_tcp_retransmit_skb", "tr_sock_create",	  "tr_cgroup_mkdir",
		"tr_cgroup_rmdir",	 "tr_cgroup_attach_task", "tr_mark_victim",
		"tr_signal_generate",	 "tr_iter_task",	  "tr_iter_task_file",
		"tr_iter_tcp",
	};

	(void)state;
	for (int p = 0; p < POLICY_PROG_COUNT; p++) {
		assert_string_equal(policy_prog_name((enum policy_prog_id)p), names[p]);
		assert_int_equal(policy_prog_by_name(names[p]), p);
	}
	assert_null(policy_prog_name(POLICY_PROG_COUNT));
	assert_int_equal(policy_prog_by_name("tr_nope"), POLICY_PROG_COUNT);
	assert_int_equal(policy_prog_by_name(NULL), POLICY_PROG_COUNT);
}

/* The default set is the issue's, and resolves to exactly these programs. */
static void test_default_set(void **state)
{
	static const enum policy_event_id want[] = {
		POLICY_EV_SCHED_PROCESS_EXEC, POLICY_EV_SCHED_PROCESS_EXIT,
		POLICY_EV_TCP_CONNECT,	      POLICY_EV_TCP_ACCEPT,
		POLICY_EV_TCP_CONNECT_ERROR,  POLICY_EV_OOM_KILL,
		POLICY_EV_CGROUP_MKDIR,	      POLICY_EV_CGROUP_RMDIR,
		POLICY_EV_CGROUP_ATTACH_TASK,
	};
	struct policy *pol = NULL, *again;
	policy_prog_mask req, opt;
	int n_enabled = 0;

	(void)state;
	assert_int_equal(policy_create_default(&pol, NULL), POLICY_OK);
	assert_false(policy_tracer_off(pol));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_true(ev(pol, want[i])->enabled);
		assert_true(policy_event_def(want[i])->flags & POLICY_EVF_DEFAULT);
	}
	for (int id = 1; id < POLICY_EV_COUNT; id++)
		n_enabled += ev(pol, (enum policy_event_id)id)->enabled;
	assert_int_equal(n_enabled, sizeof(want) / sizeof(want[0]));
	assert_false(ev(pol, POLICY_EV_SCHED_PROCESS_EXEC_FAILED)->enabled);
	assert_int_equal(ev(pol, POLICY_EV_SCHED_PROCESS_EXEC)->argv_max_bytes, 32768);
	assert_false(ev(pol, POLICY_EV_SCHED_PROCESS_EXEC)->env);
	assert_false(ev(pol, POLICY_EV_TCP_CONNECT)->rate_limited);

	policy_programs(pol, &req, &opt);
	assert_int_equal(req, BIT(SCHED_PROCESS_EXEC) | BIT(SCHED_PROCESS_EXIT) |
				      BIT(INET_SOCK_SET_STATE) | BIT(SOCK_CREATE) |
				      BIT(MARK_VICTIM) | BIT(CGROUP_MKDIR) | BIT(CGROUP_RMDIR) |
				      BIT(CGROUP_ATTACH_TASK));
	assert_int_equal(opt, BIT(ITER_TASK) | BIT(ITER_TASK_FILE) | BIT(ITER_TCP));
	/* No syscall event by default: sys_enter/sys_exit stay unloaded, no per-syscall cost. */
	assert_int_equal(policy_syscalls(pol)->n_wanted, 0);
	assert_true(ev(pol, POLICY_EV_PROCESS_SNAPSHOT)->needed);
	assert_true(ev(pol, POLICY_EV_SOCKET_OWNER)->needed);
	assert_false(ev(pol, POLICY_EV_SOCKET_OWNER)->enabled);
	assert_false(ev(pol, POLICY_EV_CGROUP_LIFECYCLE)->needed);

	/* --events default is the same set. */
	again = from_events("default");
	for (int id = 1; id < POLICY_EV_COUNT; id++)
		assert_int_equal(ev(again, (enum policy_event_id)id)->enabled,
				 ev(pol, (enum policy_event_id)id)->enabled);
	policy_destroy(again);
	policy_destroy(pol);
}

/* The closure: tcp_accept pulls in socket_owner, which pulls in process_snapshot. */
static void test_closure_tcp_accept(void **state)
{
	struct policy *pol = from_events("tcp_accept");
	policy_prog_mask req, opt;

	(void)state;
	assert_true(ev(pol, POLICY_EV_TCP_ACCEPT)->enabled);
	assert_true(ev(pol, POLICY_EV_TCP_ACCEPT)->needed);
	assert_true(ev(pol, POLICY_EV_SOCKET_OWNER)->needed);
	assert_true(ev(pol, POLICY_EV_PROCESS_SNAPSHOT)->needed);
	assert_false(ev(pol, POLICY_EV_SOCKET_OWNER)->enabled);
	assert_false(ev(pol, POLICY_EV_TCP_CONNECT)->needed);
	policy_programs(pol, &req, &opt);
	assert_int_equal(req, BIT(INET_SOCK_SET_STATE) | BIT(SOCK_CREATE));
	/* Owners of sockets older than the agent: two iterator passes, optional. */
	assert_int_equal(opt, BIT(ITER_TASK) | BIT(ITER_TASK_FILE) | BIT(ITER_TCP));
	policy_destroy(pol);

	/* tcp_connect runs in connect()'s context: no socket storage needed, nothing optional. */
	pol = from_events("tcp_connect");
	policy_programs(pol, &req, &opt);
	assert_int_equal(req, BIT(INET_SOCK_SET_STATE));
	assert_int_equal(opt, 0);
	assert_false(ev(pol, POLICY_EV_SOCKET_OWNER)->needed);
	policy_destroy(pol);

	/* Only the programs a policy needs: oom_kill alone loads tr_mark_victim (+ snapshot). */
	pol = from_events("oom_kill");
	policy_programs(pol, &req, &opt);
	assert_int_equal(req, BIT(MARK_VICTIM));
	assert_int_equal(opt, BIT(ITER_TASK));
	policy_destroy(pol);
}

/* Failed execs watch execve/execveat without emitting their syscall events. */
static void test_syscall_set(void **state)
{
	struct policy *pol = from_events("sched_process_exec_failed");
	const struct policy_syscall_set *s = policy_syscalls(pol);
	policy_prog_mask req;

	(void)state;
	assert_true(policy_syscall_test(s->wanted, SYS_execve));
	assert_true(policy_syscall_test(s->wanted, SYS_execveat));
	assert_false(policy_syscall_test(s->emit, SYS_execve));
	assert_false(policy_syscall_test(s->wanted, SYS_getppid));
	assert_false(policy_syscall_test(s->wanted, 0));
	assert_int_equal(s->n_wanted, 2);
	/* A failed exec leaves the caller's memory: sys_exit alone reads filename and argv. */
	policy_programs(pol, &req, NULL);
	assert_int_equal(req, BIT(SYS_EXIT));
	policy_destroy(pol);

	/* Syscall events are made at exit; execve also needs entry (its pointers die). */
	pol = from_events("unshare");
	policy_programs(pol, &req, NULL);
	assert_int_equal(req, BIT(SYS_EXIT));
	policy_destroy(pol);
	pol = from_events("execveat");
	policy_programs(pol, &req, NULL);
	assert_int_equal(req, BIT(SYS_ENTER) | BIT(SYS_EXIT));
	policy_destroy(pol);

	pol = from_events("sched_process_exec_failed,execve,unshare,setns,openat");
	s = policy_syscalls(pol);
	assert_int_equal(s->n_wanted, 5);
	assert_true(policy_syscall_test(s->emit, SYS_execve));
	assert_false(policy_syscall_test(s->emit, SYS_execveat));
	assert_true(policy_syscall_test(s->wanted, SYS_execveat));
	assert_true(policy_syscall_test(s->emit, SYS_unshare));
	assert_true(policy_syscall_test(s->emit, SYS_setns));
	assert_true(policy_syscall_test(s->emit, SYS_openat));
	assert_false(policy_syscall_test(s->wanted, SYS_connect));
	/* Out of range numbers are never wanted (and never read out of bounds). */
	assert_false(policy_syscall_test(s->wanted, -1));
	assert_false(policy_syscall_test(s->wanted, POLICY_SYSCALL_MAX));
	assert_false(policy_syscall_test(NULL, 1));
	policy_destroy(pol);
}

static void test_events_none(void **state)
{
	struct policy *pol = from_events("none");
	policy_prog_mask req = 1, opt = 1;

	(void)state;
	assert_true(policy_tracer_off(pol));
	policy_programs(pol, &req, &opt);
	assert_int_equal(req, 0);
	assert_int_equal(opt, 0);
	for (int id = 1; id < POLICY_EV_COUNT; id++)
		assert_false(ev(pol, (enum policy_event_id)id)->needed);
	assert_int_equal(policy_syscalls(pol)->n_wanted, 0);
	assert_int_equal(policy_check_programs(pol, 0, NULL, NULL), POLICY_OK);
	policy_destroy(pol);
}

static void expect_events_error(const char *list, enum policy_status want, const char *key,
				const char *in_msg)
{
	struct policy_error err;
	struct policy *pol = (struct policy *)1;

	assert_int_equal(policy_create_from_events(list, &pol, &err), want);
	assert_null(pol);
	assert_int_equal(err.status, want);
	assert_int_equal(err.line, 0);
	if (key)
		assert_string_equal(err.key, key);
	if (!strstr(err.msg, in_msg))
		fail_msg("--events '%s': message '%s' lacks '%s'", list, err.msg, in_msg);
	assert_true(strncmp(err.msg, "--events: ", 10) == 0);
}

/* Acceptance 4: an unknown event name is an error naming it (the agent exits 2). */
static void test_events_errors(void **state)
{
	char *big;

	(void)state;
	expect_events_error("tcp_connect,tcp_conect", POLICY_ERR_UNKNOWN_EVENT, "tcp_conect",
			    "unknown event 'tcp_conect'");
	expect_events_error("TCP_CONNECT", POLICY_ERR_UNKNOWN_EVENT, "TCP_CONNECT", "TCP_CONNECT");
	/* Internal events exist in the table but cannot be chosen. */
	expect_events_error("socket_owner", POLICY_ERR_UNKNOWN_EVENT, "socket_owner",
			    "unknown event 'socket_owner'");
	expect_events_error("", POLICY_ERR_SYNTAX, "", "empty list");
	expect_events_error("tcp_connect,", POLICY_ERR_SYNTAX, "", "empty name");
	expect_events_error(",tcp_connect", POLICY_ERR_SYNTAX, "", "empty name");
	expect_events_error("tcp_connect,,oom_kill", POLICY_ERR_SYNTAX, "", "item 2");
	expect_events_error(" tcp_connect", POLICY_ERR_UNKNOWN_EVENT, " tcp_connect",
			    "' tcp_connect'");
	expect_events_error("none,tcp_connect", POLICY_ERR_SYNTAX, "none", "cannot be combined");
	expect_events_error("tcp_connect,none", POLICY_ERR_SYNTAX, "none", "cannot be combined");
	expect_events_error("oom_kill,oom_kill", POLICY_ERR_DUPLICATE, "oom_kill", "twice");
	expect_events_error("default,default", POLICY_ERR_DUPLICATE, "default", "twice");
	/* Bytes from the command line are shown escaped, never raw. */
	expect_events_error("exec\xff\x1b[2J", POLICY_ERR_UNKNOWN_EVENT, "exec\\xff\\x1b[2J",
			    "'exec\\xff\\x1b[2J'");
	/* A name longer than any event; the message shows it cut, with "...". */
	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'a', 200);
	big[200] = '\0';
	expect_events_error(big, POLICY_ERR_UNKNOWN_EVENT, NULL, "...");
	/* A key that fits the key buffer exactly is kept whole; one byte more is cut. */
	memset(big, 'b', POLICY_ERRKEY_MAX - 1);
	big[POLICY_ERRKEY_MAX - 1] = '\0';
	expect_events_error(big, POLICY_ERR_UNKNOWN_EVENT, big, "unknown event");
	memset(big, 'b', POLICY_ERRKEY_MAX);
	big[POLICY_ERRKEY_MAX] = '\0';
	{
		struct policy_error err;
		struct policy *pol = NULL;

		assert_int_equal(policy_create_from_events(big, &pol, &err),
				 POLICY_ERR_UNKNOWN_EVENT);
		assert_int_equal(strlen(err.key), POLICY_ERRKEY_MAX - 1);
		assert_string_equal(err.key + POLICY_ERRKEY_MAX - 4, "...");
	}
	memset(big, 'a', 4999);
	big[4999] = '\0';
	expect_events_error(big, POLICY_ERR_LIMIT, "", "over 4096 bytes");
	free(big);
	assert_int_equal(policy_create_from_events(NULL, &(struct policy *){ NULL }, NULL),
			 POLICY_ERR_INVAL);
}

/* default plus further names; a name already in the default set is not a duplicate. */
static void test_events_default_plus(void **state)
{
	struct policy *pol = from_events("default,tcp_close,execve");

	(void)state;
	assert_true(ev(pol, POLICY_EV_TCP_CLOSE)->enabled);
	assert_true(ev(pol, POLICY_EV_SYS_EXECVE)->enabled);
	assert_true(ev(pol, POLICY_EV_OOM_KILL)->enabled);
	assert_false(ev(pol, POLICY_EV_TCP_RETRANSMIT)->enabled);
	policy_destroy(pol);
	pol = from_events("tcp_connect,default");
	assert_true(ev(pol, POLICY_EV_TCP_CONNECT)->enabled);
	policy_destroy(pol);
}

/* Acceptance 4: an optional program missing is a warning; the event still works. */
static void test_optional_program_missing(void **state)
{
	struct policy *pol = NULL;
	struct policy_error err;
	bool degraded[POLICY_EV_COUNT];

	(void)state;
	assert_int_equal(policy_create_default(&pol, NULL), POLICY_OK);
	assert_int_equal(policy_check_programs(pol, ALL_PROGS, degraded, &err), POLICY_OK);
	for (int id = 0; id < POLICY_EV_COUNT; id++)
		assert_false(degraded[id]);

	assert_int_equal(policy_check_programs(pol, ALL_PROGS & ~BIT(ITER_TASK), degraded, &err),
			 POLICY_WARN_DEGRADED);
	assert_int_equal(err.status, POLICY_WARN_DEGRADED);
	assert_string_equal(err.key, "tr_iter_task");
	assert_non_null(strstr(err.msg, "tr_iter_task"));
	assert_non_null(strstr(err.msg, "/proc"));
	assert_non_null(strstr(err.msg, "sched_process_exit"));
	/* The events that build on the snapshot are degraded, and still enabled. */
	assert_true(degraded[POLICY_EV_SCHED_PROCESS_EXIT]);
	assert_true(degraded[POLICY_EV_TCP_ACCEPT]);
	assert_true(degraded[POLICY_EV_OOM_KILL]);
	assert_true(ev(pol, POLICY_EV_SCHED_PROCESS_EXIT)->enabled);
	/* Those that do not, are not. */
	assert_false(degraded[POLICY_EV_SCHED_PROCESS_EXEC]);
	assert_false(degraded[POLICY_EV_TCP_CONNECT]);
	assert_false(degraded[POLICY_EV_CGROUP_MKDIR]);
	assert_non_null(strstr(err.msg, "tcp_accept"));
	assert_null(strstr(err.msg, "tcp_connect,"));
	/* Programs the policy does not need may be missing without a word. */
	assert_int_equal(policy_check_programs(pol, ALL_PROGS & ~BIT(SYS_ENTER), degraded, &err),
			 POLICY_OK);
	policy_destroy(pol);
}

/* A required program missing is an error naming the program and the event (exit 1). */
static void test_required_program_missing(void **state)
{
	struct policy *pol = from_events("tcp_accept,oom_kill");
	struct policy_error err;
	bool degraded[POLICY_EV_COUNT];

	(void)state;
	assert_int_equal(policy_check_programs(pol, ALL_PROGS & ~BIT(SOCK_CREATE), degraded, &err),
			 POLICY_ERR_PROGRAM_MISSING);
	assert_string_equal(err.key, "tr_sock_create");
	assert_non_null(strstr(err.msg, "tr_sock_create"));
	assert_non_null(strstr(err.msg, "tcp_accept"));
	assert_null(strstr(err.msg, "oom_kill"));
	/* Both missing: both named. */
	assert_int_equal(policy_check_programs(pol, BIT(ITER_TASK), NULL, &err),
			 POLICY_ERR_PROGRAM_MISSING);
	assert_non_null(strstr(err.msg, "tr_mark_victim"));
	assert_non_null(strstr(err.msg, "tr_inet_sock_set_state"));
	assert_non_null(strstr(err.msg, "oom_kill"));
	/* NULL err and degraded are fine. */
	assert_int_equal(policy_check_programs(pol, 0, NULL, NULL), POLICY_ERR_PROGRAM_MISSING);
	assert_int_equal(policy_check_programs(NULL, 0, NULL, NULL), POLICY_ERR_INVAL);
	policy_destroy(pol);
}

static void test_status_str(void **state)
{
	(void)state;
	for (int s = 0; s < POLICY_STATUS_COUNT; s++) {
		assert_non_null(policy_status_str((enum policy_status)s));
		assert_string_not_equal(policy_status_str((enum policy_status)s), "unknown status");
	}
	assert_string_equal(policy_status_str(POLICY_STATUS_COUNT), "unknown status");
	assert_string_equal(policy_status_str((enum policy_status) - 3), "unknown status");
	assert_string_equal(policy_unit_str(POLICY_U_NS), "ns");
	assert_string_equal(policy_unit_str(POLICY_U_COUNT), "unknown unit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalog_consistent),
		cmocka_unit_test(test_catalog_syscall_numbers),
		cmocka_unit_test(test_prog_names),
		cmocka_unit_test(test_default_set),
		cmocka_unit_test(test_closure_tcp_accept),
		cmocka_unit_test(test_syscall_set),
		cmocka_unit_test(test_events_none),
		cmocka_unit_test(test_events_errors),
		cmocka_unit_test(test_events_default_plus),
		cmocka_unit_test(test_optional_program_missing),
		cmocka_unit_test(test_required_program_missing),
		cmocka_unit_test(test_status_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
