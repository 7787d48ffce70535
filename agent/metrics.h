/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /metrics over HTTP (libmicrohttpd) in the Prometheus text exposition format 0.0.4.
 *
 * The server has no thread of its own: its epoll fd joins the agent's event loop and
 * metrics_server_run() serves what is ready. The page is rendered on each request by a callback,
 * from the same counters the agent logs at exit.
 */
#ifndef FLOWSCOPE_METRICS_H
#define FLOWSCOPE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct metrics_server;

/* Writes the whole exposition to out. */
typedef void (*metrics_render_fn)(void *ctx, FILE *out);

/*
 * Listens on addr ("HOST:PORT", "[V6ADDR]:PORT" or ":PORT" for every address; numeric hosts
 * only). Returns 0, -EINVAL with a message in err for a bad address, or -errno when the socket
 * cannot be opened.
 */
int metrics_server_start(const char *addr, metrics_render_fn render, void *ctx,
			 struct metrics_server **out, char *err, size_t errsz);
void metrics_server_stop(struct metrics_server *ms);

/* The fd to watch for EPOLLIN. */
int metrics_server_fd(const struct metrics_server *ms);

/* Serves ready connections without blocking; call when the fd is ready and about once a second. */
void metrics_server_run(struct metrics_server *ms);

/* Checks addr's syntax as metrics_server_start() reads it. Returns 0 or -EINVAL. */
int metrics_addr_check(const char *addr);

/* "# HELP" and "# TYPE" lines of a metric family; type is "counter" or "gauge". */
void metrics_family(FILE *out, const char *name, const char *type, const char *help);

/* One sample: name{labels} value; labels is "" or 'key="value",...'. */
void metrics_sample(FILE *out, const char *name, const char *labels, uint64_t value);

#endif /* FLOWSCOPE_METRICS_H */
