// SPDX-License-Identifier: Apache-2.0
/*
 * The stdout sink against a pipe whose reader is stopped, then slow: emit never blocks the loop,
 * a full buffer drops whole records (counted), partial writes keep the rest of the line for
 * EPOLLOUT, and the reader gets whole NDJSON lines only; a reader that goes away is noticed and
 * what it did not get is counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"
#include "sink_stdout.h"

static void make_flow(struct flow_record *r, uint32_t seq)
{
	memset(r, 0, sizeof(*r));
	r->type = RECORD_FLOW;
	r->start_ns = 1700000000000000000ull + seq;
	r->end_ns = r->start_ns + 1000;
	r->cgroup_id = 1000 + seq % 7;
	r->cgroup_path = "/kubepods/pod-a/ctr";
	r->pid = seq;
	strcpy(r->comm, "curl");
	r->ip_version = 4;
	r->proto = 6;
	r->src_addr.bytes[0] = 192, r->src_addr.bytes[2] = 2, r->src_addr.bytes[3] = 10;
	r->dst_addr.bytes[0] = 198, r->dst_addr.bytes[1] = 51, r->dst_addr.bytes[2] = 100;
	r->src_port = (uint16_t)(40000 + seq % 1000);
	r->dst_port = 443;
	r->tx_bytes = seq;
	r->src_actual_addr = r->src_addr;
	r->dst_actual_addr = r->dst_addr;
	r->dst_domain = "api.example";
}

struct reader {
	int fd;
	struct sink *sink;
	char *data;
	size_t len, cap;
};

/* The reader wakes up every millisecond and takes what the pipe holds. */
static void on_read_tick(struct loop *l, uint64_t expirations, void *arg)
{
	struct reader *rd = arg;
	struct sink_stdout_stats st;
	ssize_t n;

	(void)expirations;
	for (;;) {
		if (rd->cap - rd->len < 65536) {
			rd->cap = rd->cap ? 2 * rd->cap : 1 << 20;
			rd->data = realloc(rd->data, rd->cap);
			assert_non_null(rd->data);
		}
		n = read(rd->fd, rd->data + rd->len, rd->cap - rd->len);
		if (n <= 0)
			break;
		rd->len += (size_t)n;
	}
	assert_true(n < 0 && errno == EAGAIN);
	sink_stdout_stats(rd->sink, &st);
	if (!st.buffered_bytes)
		loop_stop(l, 0);
}

static void on_too_long(struct loop *l, uint64_t expirations, void *arg)
{
	(void)expirations, (void)arg;
	loop_stop(l, -ETIMEDOUT);
}

static void test_stopped_then_slow_reader(void **state)
{
	struct reader rd = { 0 };
	struct sink_stdout_stats st;
	struct flow_record r;
	struct loop *l = loop_new();
	uint64_t emitted = 0, refused = 0, lines = 0;
	int fds[2];

	(void)state;
	assert_non_null(l);
	/* a blocking pipe, as a shell gives: the sink makes its end non-blocking itself */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	rd.fd = fds[0];
	rd.sink = sink_stdout_new(fds[1], "node-t");
	assert_non_null(rd.sink);
	assert_int_equal(sink_attach(rd.sink, l), 0);

	/* nobody reads: a blocking write would hang here (the alarm fails the test) */
	alarm(30);
	for (uint32_t i = 0; i < 2000000 && refused < 10; i++) {
		int ret;

		make_flow(&r, i);
		ret = sink_emit(rd.sink, &r.hdr);
		if (ret == 0) {
			emitted++;
		} else {
			assert_int_equal(ret, -ENOBUFS);
			refused++;
		}
		if (i % 1000 == 0)
			sink_end_interval(rd.sink);
	}
	assert_int_equal(refused, 10);
	sink_stdout_stats(rd.sink, &st);
	assert_int_equal(st.buffer_full, 10);
	assert_true(st.buffered_bytes > 0);
	assert_true(st.records < emitted); /* most still wait in the buffer */

	/* the reader starts, once a millisecond (a larger pipe, so that it does not take all
	 * day; writes still end inside lines): the loop writes on EPOLLOUT until the buffer is
	 * empty */
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	assert_true(loop_add_timer(l, 1, on_read_tick, &rd) > 0);
	assert_true(loop_add_oneshot(l, 25000, on_too_long, NULL) > 0);
	assert_int_equal(loop_run(l), 0);
	alarm(0);

	sink_stdout_stats(rd.sink, &st);
	assert_int_equal(st.records, emitted);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.buffered_bytes, 0);
	/* only whole lines, every emitted record once */
	assert_true(rd.len > 0);
	assert_int_equal(rd.data[rd.len - 1], '\n');
	for (char *p = rd.data, *end = rd.data + rd.len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char want[64];

		assert_non_null(nl);
		snprintf(want, sizeof(want), "\"start_ns\":%llu,",
			 (unsigned long long)(1700000000000000000ull + lines));
		assert_memory_equal(p, "{\"type\":\"flow\"", 14);
		assert_int_equal(nl[-1], '}');
		*nl = '\0';
		if (!strstr(p, want))
			fail_msg("line %llu is not record %llu: %.80s", (unsigned long long)lines,
				 (unsigned long long)lines, p);
		lines++;
		p = nl + 1;
	}
	assert_int_equal(lines, emitted);
	/* not delivered: the 10 refused */
	assert_int_equal(sink_free(rd.sink), 10);
	loop_free(l);
	close(fds[0]);
	free(rd.data);
}

/* The reader goes away with records in the buffer: they are counted as dropped. */
static void test_reader_gone(void **state)
{
	struct sink_stdout_stats st;
	struct flow_record r;
	struct loop *l = loop_new();
	int fds[2];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	struct sink *s = sink_stdout_new(fds[1], "node-t");

	assert_non_null(s);
	assert_int_equal(sink_attach(s, l), 0);
	close(fds[0]);
	for (uint32_t i = 0; i < 5; i++) {
		make_flow(&r, i);
		assert_int_equal(sink_emit(s, &r.hdr), 0);
	}
	sink_end_interval(s);
	sink_stdout_stats(s, &st);
	assert_true(st.reader_gone);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.buffered_bytes, 0);
	/* the loop was asked to stop */
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(sink_free(s), 5);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stopped_then_slow_reader),
		cmocka_unit_test(test_reader_gone),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
