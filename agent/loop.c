// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop.h"

/* Longest wait when nothing fires: a lost wakeup costs at most this. */
#define LOOP_MAX_WAIT_MS 1000
#define LOOP_EVENTS 16

struct loop_reg {
	int fd;
	bool dead; /* removed: freed after the round */
	bool own_fd; /* a timerfd the loop created and closes */
	bool oneshot;
	int timer_id; /* 0: not a timer */
	loop_fd_fn fd_cb;
	loop_timer_fn timer_cb;
	void *arg;
	struct loop_reg *next;
};

struct loop_hook {
	loop_hook_fn cb;
	void *arg;
};

struct loop {
	int epfd;
	struct loop_reg *regs; /* live and dead, newest first */
	struct loop_hook *hooks;
	size_t n_hooks, cap_hooks;
	int next_timer_id;
	bool stopped;
	int code;
};

struct loop *loop_create(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;

		free(l);
		errno = e;
		return NULL;
	}
	return l;
}

static void free_reg(struct loop_reg *r)
{
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	free(r);
}

void loop_destroy(struct loop *l)
{
	struct loop_reg *r, *next;

	if (!l)
		return;
	for (r = l->regs; r; r = next) {
		next = r->next;
		free_reg(r);
	}
	free(l->hooks);
	close(l->epfd);
	free(l);
}

static struct loop_reg *find_fd(struct loop *l, int fd)
{
	for (struct loop_reg *r = l->regs; r; r = r->next)
		if (!r->dead && r->fd == fd)
			return r;
	return NULL;
}

static struct loop_reg *add_reg(struct loop *l, int fd, uint32_t events)
{
	struct loop_reg *r = calloc(1, sizeof(*r));
	struct epoll_event ev = { .events = events };

	if (!r)
		return NULL;
	r->fd = fd;
	ev.data.ptr = r;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		free(r);
		return NULL;
	}
	r->next = l->regs;
	l->regs = r;
	return r;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn cb, void *arg)
{
	struct loop_reg *r;

	if (find_fd(l, fd))
		return -EEXIST;
	r = add_reg(l, fd, events);
	if (!r)
		return errno ? -errno : -ENOMEM;
	r->fd_cb = cb;
	r->arg = arg;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct loop_reg *r = find_fd(l, fd);
	struct epoll_event ev = { .events = events };

	if (!r)
		return -ENOENT;
	ev.data.ptr = r;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

static void kill_reg(struct loop *l, struct loop_reg *r)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	if (r->own_fd) {
		close(r->fd);
		r->fd = -1;
	}
	r->dead = true;
}

int loop_del_fd(struct loop *l, int fd)
{
	struct loop_reg *r = find_fd(l, fd);

	if (!r || r->timer_id)
		return -ENOENT;
	kill_reg(l, r);
	return 0;
}

static int add_timer(struct loop *l, uint64_t ms, bool oneshot, loop_timer_fn cb, void *arg)
{
	struct itimerspec its = { 0 };
	struct loop_reg *r;
	int fd, e;

	if (!ms)
		return -EINVAL;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (!oneshot)
		its.it_interval = its.it_value;
	if (timerfd_settime(fd, 0, &its, NULL) || !(r = add_reg(l, fd, EPOLLIN))) {
		e = errno ? errno : ENOMEM;
		close(fd);
		return -e;
	}
	r->own_fd = true;
	r->oneshot = oneshot;
	r->timer_id = ++l->next_timer_id;
	r->timer_cb = cb;
	r->arg = arg;
	return r->timer_id;
}

int loop_add_timer(struct loop *l, uint64_t interval_ms, loop_timer_fn cb, void *arg)
{
	return add_timer(l, interval_ms, false, cb, arg);
}

int loop_add_oneshot(struct loop *l, uint64_t delay_ms, loop_timer_fn cb, void *arg)
{
	return add_timer(l, delay_ms, true, cb, arg);
}

int loop_del_timer(struct loop *l, int id)
{
	for (struct loop_reg *r = l->regs; r; r = r->next) {
		if (!r->dead && r->timer_id == id) {
			kill_reg(l, r);
			return 0;
		}
	}
	return -ENOENT;
}

int loop_add_before_poll(struct loop *l, loop_hook_fn cb, void *arg)
{
	if (l->n_hooks == l->cap_hooks) {
		size_t cap = l->cap_hooks ? 2 * l->cap_hooks : 8;
		struct loop_hook *h = realloc(l->hooks, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		l->hooks = h;
		l->cap_hooks = cap;
	}
	l->hooks[l->n_hooks++] = (struct loop_hook){ .cb = cb, .arg = arg };
	return 0;
}

void loop_stop(struct loop *l, int code)
{
	if (l->stopped)
		return;
	l->stopped = true;
	l->code = code;
}

static void reap(struct loop *l)
{
	struct loop_reg **pp = &l->regs;

	while (*pp) {
		struct loop_reg *r = *pp;

		if (r->dead) {
			*pp = r->next;
			free_reg(r);
		} else {
			pp = &r->next;
		}
	}
}

static void dispatch(struct loop *l, struct loop_reg *r, uint32_t events)
{
	uint64_t expirations;

	if (r->dead)
		return;
	if (!r->timer_id) {
		r->fd_cb(l, r->fd, events, r->arg);
		return;
	}
	if (read(r->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return; /* EAGAIN: nothing expired after all */
	if (r->oneshot)
		kill_reg(l, r);
	r->timer_cb(l, expirations, r->arg);
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_EVENTS];

	while (!l->stopped) {
		int n = epoll_wait(l->epfd, evs, LOOP_EVENTS, LOOP_MAX_WAIT_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n && !l->stopped; i++)
			dispatch(l, evs[i].data.ptr, evs[i].events);
		reap(l);
		for (size_t i = 0; i < l->n_hooks; i++)
			l->hooks[i].cb(l, l->hooks[i].arg);
	}
	return l->code;
}
