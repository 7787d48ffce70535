// SPDX-License-Identifier: Apache-2.0
/*
 * bpf/netns_iter.h's refusals: a namespace is entered only through a process that is in it now;
 * and its PID namespace test, in a PID namespace of the test's own (root). (Entering one and
 * walking it is tested with real sockets by tracer_net's test_tcp_walk_netns and
 * e2e_owner_walk.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns_iter.h"

static void test_own(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_int_equal(netns_iter_own(), (uint32_t)st.st_ino);
}

/* No such process: -ENOENT, every fd -1. */
static void test_no_process(void **state)
{
	int fds[2] = { 7, 7 };

	(void)state;
	assert_int_equal(netns_iter_create(1, 0x7ffffffe, netns_iter_own(), NULL, 2, fds), -ENOENT);
	assert_int_equal(fds[0], -1);
	assert_int_equal(fds[1], -1);
}

/* A process whose namespace is not the one asked for (a reused pid): -ESRCH, not entered. */
static void test_other_namespace(void **state)
{
	uint32_t own = netns_iter_own();
	int fd = 7;

	(void)state;
	assert_int_equal(netns_iter_create(own + 1, (uint32_t)getpid(), own, NULL, 1, &fd), -ESRCH);
	assert_int_equal(fd, -1);
}

/* A process in a PID namespace below the initial one is told so. */
static void test_child_pidns(void **state)
{
	int st;

	(void)state;
	assert_int_equal(unshare(CLONE_NEWPID), 0);
	pid_t pid = fork();

	if (pid == 0)
		_exit(netns_iter_initial_pidns() ? 1 : 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own),
		cmocka_unit_test(test_no_process),
		cmocka_unit_test(test_other_namespace),
		/* last: unshare() moves the children of this process for good */
		cmocka_unit_test(test_child_pidns),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_netns_iter needs root (a PID namespace of its own)\n");
		return 1;
	}

	return cmocka_run_group_tests(tests, NULL, NULL);
}
