// SPDX-License-Identifier: Apache-2.0
/*
 * /metrics on the loop: a page rendered from the counters registry, and nothing rendered once
 * metrics_server_destroy() has run - which is why main.c frees it first, before the parts (the
 * sink above all) whose counters it reads. /healthz and /readyz in each of their states.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "clock.h"
#include "counters.h"
#include "loop.h"
#include "metrics.h"

struct part {
	uint64_t records;
	bool freed; /* its memory would be gone: reading it is the bug */
	int renders;
};

static int snapshot(void *arg, void *out)
{
	struct part *p = arg;

	if (p->freed)
		fail_msg("a page was rendered from a part that was freed");
	p->renders++;
	*(uint64_t *)out = p->records;
	return 0;
}

static const struct counter_desc descs[] = {
	{ .name = "flowscope_test_records_total",
	  .help = "Test.",
	  .type = COUNTER_COUNTER,
	  .labels = "",
	  .offset = 0 },
};

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void on_stop(struct loop *l, uint64_t expirations, void *arg)
{
	(void)expirations, (void)arg;
	loop_stop(l, 0);
}

/* Runs the loop for ms milliseconds. */
static void run_for(struct loop *l, uint64_t ms)
{
	assert_true(loop_add_oneshot(l, ms, on_stop, NULL) > 0);
	assert_int_equal(loop_run(l), 0);
}

static void test_page_then_nothing_after_free(void **state)
{
	struct part part = { .records = 42 };
	struct counters_group g = { .name = "test",
				    .descs = descs,
				    .n_descs = 1,
				    .snap_size = sizeof(uint64_t),
				    .snapshot = snapshot,
				    .arg = &part };
	struct counters *reg = counters_create();
	struct loop *l = loop_create();
	struct metrics_server *ms = NULL;
	char addr[32], err[256], page[4096];
	const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
	uint16_t port = free_port();
	ssize_t n, got = 0;
	int fd;

	(void)state;
	assert_int_equal(counters_register(reg, &g), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	assert_int_equal(metrics_server_create(addr, reg, l, &ms, err, sizeof(err)), 0);

	fd = connect_to(port);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
	run_for(l, 300);
	while ((n = read(fd, page + got, sizeof(page) - 1 - (size_t)got)) > 0)
		got += n;
	page[got] = '\0';
	close(fd);
	assert_non_null(strstr(page, "200 OK"));
	assert_non_null(strstr(page, "\nflowscope_test_records_total 42\n"));
	assert_int_equal(part.renders, 1);

	/* teardown: the server first, then the part whose counters it reads */
	metrics_server_destroy(ms);
	part.freed = true;
	assert_int_equal(connect_to(port), -ECONNREFUSED);
	run_for(l, 100); /* the loop holds nothing of the server any more */
	assert_int_equal(part.renders, 1);
	counters_destroy(reg);
	loop_destroy(l);
}

struct fake_agent {
	uint64_t last_export_ns;
	bool sink_ready;
};

static uint64_t fake_last_export(void *arg)
{
	return ((struct fake_agent *)arg)->last_export_ns;
}

static bool fake_sink_ready(void *arg, char *why, size_t size)
{
	snprintf(why, size, "sink full");
	return ((struct fake_agent *)arg)->sink_ready;
}

/* One GET of path from a server with probes p (NULL: none set), served by a loop of its own
 * (a loop runs once); the whole response in page. */
static void get(const struct metrics_probes *p, const char *path, char *page, size_t size)
{
	struct counters *reg = counters_create();
	struct loop *l = loop_create();
	struct metrics_server *ms = NULL;
	uint16_t port = free_port();
	char addr[32], err[256], req[128];
	ssize_t n, got = 0;
	int fd, len;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	assert_int_equal(metrics_server_create(addr, reg, l, &ms, err, sizeof(err)), 0);
	if (p)
		metrics_server_set_probes(ms, p);
	len = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	fd = connect_to(port);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, req, (size_t)len), len);
	run_for(l, 200);
	while ((n = read(fd, page + got, size - 1 - (size_t)got)) > 0)
		got += n;
	page[got] = '\0';
	close(fd);
	metrics_server_destroy(ms);
	counters_destroy(reg);
	loop_destroy(l);
}

/* The probes' states: before attach, before the first export, ready, sink not ready, and a
 * loop that turns but has not exported for more than METRICS_HEALTH_STALE_INTERVALS. */
static void test_probes(void **state)
{
	struct fake_agent fa = { 0 };
	char page[4096];
	struct metrics_probes p = { .interval_ns = 1000000000ull,
				    .last_export_ns = fake_last_export,
				    .sink_ready = fake_sink_ready,
				    .arg = &fa };

	(void)state;
	get(NULL, "/readyz", page, sizeof(page));
	assert_non_null(strstr(page, " 503 "));
	assert_non_null(strstr(page, "not ready: programs not attached"));
	get(NULL, "/healthz", page, sizeof(page));
	assert_non_null(strstr(page, " 200 "));

	p.attached_ns = clock_mono_ns();
	get(&p, "/readyz", page, sizeof(page));
	assert_non_null(strstr(page, " 503 "));
	assert_non_null(strstr(page, "first interval not exported yet"));
	get(&p, "/healthz", page, sizeof(page));
	assert_non_null(strstr(page, " 200 "));

	fa.last_export_ns = clock_mono_ns();
	fa.sink_ready = true;
	get(&p, "/readyz", page, sizeof(page));
	assert_non_null(strstr(page, " 200 "));
	assert_non_null(strstr(page, "\r\n\r\nready\n"));

	fa.sink_ready = false;
	get(&p, "/readyz", page, sizeof(page));
	assert_non_null(strstr(page, " 503 "));
	assert_non_null(strstr(page, "not ready: sink full"));

	/* the loop turns (it answers), but the last export is 3.5 intervals old */
	fa.last_export_ns = clock_mono_ns() - 3500000000ull;
	get(&p, "/healthz", page, sizeof(page));
	assert_non_null(strstr(page, " 503 "));
	assert_non_null(strstr(page, "unhealthy: no interval exported for 3"));
	fa.last_export_ns = clock_mono_ns() - 2500000000ull;
	get(&p, "/healthz", page, sizeof(page));
	assert_non_null(strstr(page, " 200 "));
	/* never exported, attached 4 intervals ago */
	fa.last_export_ns = 0;
	p.attached_ns = clock_mono_ns() - 4000000000ull;
	get(&p, "/healthz", page, sizeof(page));
	assert_non_null(strstr(page, " 503 "));

	get(&p, "/nope", page, sizeof(page));
	assert_non_null(strstr(page, " 404 "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_then_nothing_after_free),
		cmocka_unit_test(test_probes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
