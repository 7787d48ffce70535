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
#include <signal.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/syscall.h>
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

/* Forks a child that waits in a network namespace of its own; *inum its inode number. */
static pid_t netns_child(uint32_t *inum)
{
	char path[64], c;
	struct stat st;
	int p[2];

	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();

	if (pid == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNET) || write(p[1], "y", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	assert_int_equal(stat(path, &st), 0);
	*inum = (uint32_t)st.st_ino;
	return pid;
}

/* Runs fn in a child, which exits 0 when it returns what the test wants; asserts that. */
static void in_child(int (*fn)(uint32_t, pid_t), uint32_t inum, pid_t target)
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(inum, target));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* As another user without capabilities: the namespace link of root's process is refused. */
static int other_user(uint32_t inum, pid_t target)
{
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return 2;
	int err = netns_iter_create(inum, (uint32_t)target, netns_iter_own(), NULL, 0, NULL);

	return err == -EACCES && strstr(netns_iter_hint(err), "CAP_SYS_PTRACE") ? 0 : 3;
}

/* As root without CAP_SYS_ADMIN in the effective set: setns() is refused. */
static int no_sys_admin(uint32_t inum, pid_t target)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return 2;
	d[CAP_SYS_ADMIN / 32].effective &= ~(1u << (CAP_SYS_ADMIN % 32));
	if (syscall(SYS_capset, &h, d))
		return 2;
	int err = netns_iter_create(inum, (uint32_t)target, netns_iter_own(), NULL, 0, NULL);

	return err == -EPERM && strstr(netns_iter_hint(err), "CAP_SYS_ADMIN") ? 0 : 3;
}

/* What is missing is named: CAP_SYS_PTRACE for another user's process, CAP_SYS_ADMIN. */
static void test_refusals_named(void **state)
{
	uint32_t inum;
	int st;

	(void)state;
	pid_t target = netns_child(&inum);

	in_child(other_user, inum, target);
	in_child(no_sys_admin, inum, target);
	assert_string_equal(netns_iter_hint(-ENOENT), "");
	kill(target, SIGKILL);
	assert_int_equal(waitpid(target, &st, 0), target);
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
		cmocka_unit_test(test_refusals_named),
		/* last: unshare() moves the children of this process for good */
		cmocka_unit_test(test_child_pidns),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_netns_iter needs root (a PID namespace of its own)\n");
		return 1;
	}

	return cmocka_run_group_tests(tests, NULL, NULL);
}
