/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the tracer's kernel tests: a cgroup v2 group of the test's own, children started
 * inside it, and the tracer's events of that group collected into a list.
 */
#ifndef FLOWSCOPE_TESTS_TRACER_FIXTURE_H
#define FLOWSCOPE_TESTS_TRACER_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "event_tracer.h"

struct tfx_cgroup {
	char path[512];
	uint64_t id; /* cgroup v2 id: the directory's inode */
};

/* Makes <cgroup v2 mount>/fs<pid>_<name>. Fails the test on error. */
void tfx_cgroup_create(struct tfx_cgroup *cg, const char *name);
/* Removes it (its processes must have exited). */
void tfx_cgroup_destroy(struct tfx_cgroup *cg);
/* Moves the calling process into cg (for use in a child). Returns 0 or -errno. */
int tfx_cgroup_enter(const struct tfx_cgroup *cg);

/* A collected syscall event: the record's fixed fields, its sockaddr and strings copied out. */
struct tfx_syscall {
	uint32_t nr;
	int64_t ret;
	uint64_t args[6];
	uint32_t addr_len;
	uint8_t addr[TR_SOCKADDR_MAX];
	uint16_t str_len[TR_SYS_STRS]; /* NUL included, as in the record; 0: none */
	char str[TR_SYS_STRS][TR_SYS_STR_MAX];
};

/* One collected event (deep copy). */
struct tfx_event {
	enum tr_event kind;
	char name[32];
	struct tr_hdr ctx;
	char *filename;
	char *interpreter;
	char **argv;
	uint32_t argc;
	bool argv_truncated;
	int32_t ret;
	union {
		struct tr_fork fork;
		struct tr_exit exit;
		struct tr_tcp tcp;
		struct tr_oom oom;
		struct tr_signal signal;
		struct tfx_syscall sys;
	};
	char *cgroup_path;
	uint64_t target_cgroup_id;
};

struct tfx_events {
	struct tfx_event *v;
	size_t n;
	size_t cap;
	const uint64_t *cgroup_ids; /* keep only these cgroups' events (NULL: all) */
	size_t n_cgroup_ids;
};

/* The callback collecting into ctx (a struct tfx_events). */
void tfx_collect(void *ctx, const struct event_tracer_event *ev);
void tfx_events_free(struct tfx_events *evs);

/* Opts with the callback set to collect into evs, nothing enabled. */
void tfx_opts_init(struct event_tracer_opts *o, struct tfx_events *evs);
/* Enables ev (and, with cg, filters it to cg in the kernel). */
void tfx_enable(struct event_tracer_opts *o, enum tr_event ev, const uint64_t *cg);
void tfx_enable_syscall(struct event_tracer_opts *o, int nr, const uint64_t *cg);

/* Opens the tracer; fails the test with its message on error. */
struct event_tracer *tfx_open(const struct event_tracer_opts *o);

/* Consumes for up to ms milliseconds, or until done(evs, arg) holds. Returns done's result. */
bool tfx_poll(struct event_tracer *et, struct tfx_events *evs, int ms,
	      bool (*done)(const struct tfx_events *, const void *), const void *arg);
/* Consumes what is there now (and for a short grace period). */
void tfx_drain(struct event_tracer *et, struct tfx_events *evs, int ms);

/* Events of kind (and pid, when pid != 0). */
size_t tfx_count(const struct tfx_events *evs, enum tr_event kind, uint32_t pid);
const struct tfx_event *tfx_find(const struct tfx_events *evs, enum tr_event kind, uint32_t pid);

/*
 * Forks a child that enters cg and execs argv[0] with argv (path as given, no PATH search).
 * The child waits on a pipe until tfx_release(); returns its pid.
 */
pid_t tfx_spawn(const struct tfx_cgroup *cg, char *const argv[], int *gate_fd);
void tfx_release(int gate_fd);
/* waitpid; returns the raw status. */
int tfx_wait(pid_t pid);

#endif /* FLOWSCOPE_TESTS_TRACER_FIXTURE_H */
