/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /metrics over HTTP (libmicrohttpd) in the Prometheus text exposition format 0.0.4.
 *
 * The server has no thread of its own: its epoll fd joins the agent's event loop (with a 1 s
 * timer for connection timeouts). The page is rendered on each request from the counters
 * registry (counters.h), the same tables the agent logs at exit.
 *
 * /healthz (liveness) and /readyz (readiness) are answered from the same loop, as text/plain
 * with status 200 or 503 and a one-line reason. A loop that is stuck answers nothing: the
 * probe's timeout is then the failure. A loop that turns but no longer exports fails /healthz
 * once METRICS_HEALTH_STALE_INTERVALS intervals passed without a successful export.
 */
#ifndef FLOWSCOPE_METRICS_H
#define FLOWSCOPE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* /healthz fails after this many export intervals without a successful export. */
#define METRICS_HEALTH_STALE_INTERVALS 3

struct metrics_server;

struct counters;
struct loop;

/*
 * Listens on addr ("HOST:PORT", "[V6ADDR]:PORT" or ":PORT" for every address; numeric hosts
 * only) and registers with l; each page renders reg. Returns 0, -EINVAL with a message in err
 * for a bad address, or -errno when the socket cannot be opened.
 */
int metrics_server_create(const char *addr, const struct counters *reg, struct loop *l,
			  struct metrics_server **out, char *err, size_t errsz);

/* Unregisters from the loop, closes the socket and frees. Free it before anything whose
 * counters it renders. NULL is ignored. */
void metrics_server_destroy(struct metrics_server *ms);

/* What /healthz and /readyz look at; given once the programs are attached. */
struct metrics_probes {
	uint64_t interval_ns; /* the export interval */
	uint64_t attached_ns; /* CLOCK_MONOTONIC (clock.h) when the programs were attached */
	/* CLOCK_MONOTONIC ns of the last successful interval export, 0 before the first. */
	uint64_t (*last_export_ns)(void *arg);
	/* Whether the sink accepts records: true, or false with the reason in why. */
	bool (*sink_ready)(void *arg, char *why, size_t size);
	void *arg;
};

/*
 * Turns on the probes' checks (copied). Until then /healthz answers 200 and /readyz 503
 * ("programs not attached"). /readyz is 200 once an interval was exported and the sink is
 * ready; /healthz is 503 when the last export (or the attach, before the first) is older than
 * METRICS_HEALTH_STALE_INTERVALS intervals.
 */
void metrics_server_set_probes(struct metrics_server *ms, const struct metrics_probes *p);

/* Checks addr's syntax as metrics_server_create() reads it. Returns 0 or -EINVAL. */
int metrics_addr_check(const char *addr);

#endif /* FLOWSCOPE_METRICS_H */
