// SPDX-License-Identifier: Apache-2.0
/* agent/loop.c: fds, timers, one-shots, before-poll hooks, removal from a callback, loop_stop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"

struct counts {
	int fd_calls, timer_calls, oneshot_calls, hooks, hook_order[4], n_order;
	int pipe_fds[2];
	int timer_id;
};

static void on_readable(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct counts *c = arg;
	char b[16];

	assert_true(events & EPOLLIN);
	assert_true(read(fd, b, sizeof(b)) > 0);
	c->fd_calls++;
	/* a callback may remove its own registration */
	assert_int_equal(loop_del_fd(l, fd), 0);
}

static void on_timer(struct loop *l, uint64_t expirations, void *arg)
{
	struct counts *c = arg;

	assert_true(expirations >= 1);
	if (++c->timer_calls == 3) {
		assert_int_equal(loop_del_timer(l, c->timer_id), 0);
		loop_stop(l, 7);
		loop_stop(l, 9); /* the first code wins */
	}
}

static void on_oneshot(struct loop *l, uint64_t expirations, void *arg)
{
	struct counts *c = arg;

	(void)l, (void)expirations;
	c->oneshot_calls++;
	/* wake the fd callback */
	assert_int_equal(write(c->pipe_fds[1], "x", 1), 1);
}

static void hook_a(struct loop *l, void *arg)
{
	struct counts *c = arg;

	(void)l;
	if (c->n_order < 4)
		c->hook_order[c->n_order++] = 1;
	c->hooks++;
}

static void hook_b(struct loop *l, void *arg)
{
	struct counts *c = arg;

	(void)l;
	if (c->n_order < 4)
		c->hook_order[c->n_order++] = 2;
}

static void test_loop_runs_registrations(void **state)
{
	struct counts c = { 0 };
	struct loop *l = loop_create();

	(void)state;
	assert_non_null(l);
	assert_int_equal(pipe(c.pipe_fds), 0);
	assert_int_equal(loop_add_fd(l, c.pipe_fds[0], EPOLLIN, on_readable, &c), 0);
	assert_int_equal(loop_add_fd(l, c.pipe_fds[0], EPOLLIN, on_readable, &c), -EEXIST);
	assert_int_equal(loop_add_timer(l, 0, on_timer, &c), -EINVAL);
	c.timer_id = loop_add_timer(l, 30, on_timer, &c);
	assert_true(c.timer_id > 0);
	assert_true(loop_add_oneshot(l, 10, on_oneshot, &c) > 0);
	assert_int_equal(loop_add_before_poll(l, hook_a, &c), 0);
	assert_int_equal(loop_add_before_poll(l, hook_b, &c), 0);
	assert_int_equal(loop_run(l), 7);
	assert_int_equal(c.oneshot_calls, 1);
	assert_int_equal(c.fd_calls, 1);
	assert_int_equal(c.timer_calls, 3);
	assert_true(c.hooks >= 3);
	assert_int_equal(c.hook_order[0], 1);
	assert_int_equal(c.hook_order[1], 2);
	assert_int_equal(loop_del_fd(l, c.pipe_fds[0]), -ENOENT);
	assert_int_equal(loop_del_timer(l, c.timer_id), -ENOENT);
	/* the fd left the loop but stays open: it is its part's */
	assert_int_equal(write(c.pipe_fds[1], "y", 1), 1);
	loop_destroy(l);
	close(c.pipe_fds[0]);
	close(c.pipe_fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_runs_registrations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
