/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's one event loop (epoll), by registration as in redis's ae: a part registers its
 * file descriptors, timers and before-poll hooks with a callback and an argument; the loop knows
 * no part by name. Everything runs on the loop's thread; no callback may block.
 *
 * Callbacks may add or remove registrations (their own included) while the loop runs: a removed
 * registration is not called again, and its memory is reclaimed after the current round.
 */
#ifndef FLOWSCOPE_LOOP_H
#define FLOWSCOPE_LOOP_H

#include <stdint.h>

struct loop;

/* events: the epoll events that fired (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
typedef void (*loop_fd_fn)(struct loop *l, int fd, uint32_t events, void *arg);
/* A timer fired; expirations is how many periods passed since the last call (at least 1). */
typedef void (*loop_timer_fn)(struct loop *l, uint64_t expirations, void *arg);
/* Runs once per loop round, before the loop waits again. */
typedef void (*loop_hook_fn)(struct loop *l, void *arg);

/* Returns NULL with errno set. */
struct loop *loop_create(void);

/* Closes the timer fds the loop created and frees every registration. NULL is ignored. The fds
 * given to loop_add_fd() stay open: they belong to their parts. */
void loop_destroy(struct loop *l);

/*
 * Calls cb when fd has any of events (EPOLLIN, EPOLLOUT; EPOLLERR and EPOLLHUP always). events may
 * be 0 to hear only of errors. Returns 0, -EEXIST when fd is registered already, or -errno from
 * epoll_ctl (-EPERM for a regular file).
 */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_fn cb, void *arg);

/* Changes the events watched on a registered fd. Returns 0, -ENOENT or -errno. */
int loop_mod_fd(struct loop *l, int fd, uint32_t events);

/* Stops watching fd (which stays open). Returns 0 or -ENOENT. */
int loop_del_fd(struct loop *l, int fd);

/*
 * Calls cb every interval_ms milliseconds (CLOCK_MONOTONIC timerfd), the first time interval_ms
 * from now. Returns a timer id (> 0) or a negative errno (-EINVAL for interval_ms 0).
 */
int loop_add_timer(struct loop *l, uint64_t interval_ms, loop_timer_fn cb, void *arg);

/* Calls cb once, delay_ms from now; the timer then removes itself. Returns an id or -errno. */
int loop_add_oneshot(struct loop *l, uint64_t delay_ms, loop_timer_fn cb, void *arg);

/* Removes a timer by id. Returns 0 or -ENOENT. */
int loop_del_timer(struct loop *l, int id);

/* Calls cb once per round, before waiting (after the callbacks of the round), in the order
 * registered. Returns 0 or -ENOMEM. */
int loop_add_before_poll(struct loop *l, loop_hook_fn cb, void *arg);

/* Makes loop_run() return code after the current callback's round. The first call wins. */
void loop_stop(struct loop *l, int code);

/*
 * Runs until loop_stop(). Returns the code given to loop_stop(), or a negative errno when
 * epoll_wait fails (EINTR is retried).
 */
int loop_run(struct loop *l);

#endif /* FLOWSCOPE_LOOP_H */
