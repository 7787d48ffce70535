/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /metrics over HTTP (libmicrohttpd) in the Prometheus text exposition format 0.0.4.
 *
 * The server has no thread of its own: its epoll fd joins the agent's event loop (with a 1 s
 * timer for connection timeouts). The page is rendered on each request from the counters
 * registry (counters.h), the same tables the agent logs at exit.
 */
#ifndef FLOWSCOPE_METRICS_H
#define FLOWSCOPE_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics_server;

struct counters;
struct loop;

/*
 * Listens on addr ("HOST:PORT", "[V6ADDR]:PORT" or ":PORT" for every address; numeric hosts
 * only) and registers with l; each page renders reg. Returns 0, -EINVAL with a message in err
 * for a bad address, or -errno when the socket cannot be opened.
 */
int metrics_server_new(const char *addr, const struct counters *reg, struct loop *l,
		       struct metrics_server **out, char *err, size_t errsz);

/* Unregisters from the loop, closes the socket and frees. Free it before anything whose
 * counters it renders. NULL is ignored. */
void metrics_server_free(struct metrics_server *ms);

/* Checks addr's syntax as metrics_server_new() reads it. Returns 0 or -EINVAL. */
int metrics_addr_check(const char *addr);

#endif /* FLOWSCOPE_METRICS_H */
