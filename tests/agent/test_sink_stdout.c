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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
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
	struct loop *l = loop_create();
	uint64_t emitted = 0, refused = 0, lines = 0;
	int fds[2];

	(void)state;
	assert_non_null(l);
	/* a blocking pipe, as a shell gives: the sink makes its end non-blocking itself */
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	rd.fd = fds[0];
	rd.sink = sink_stdout_create(fds[1], "node-t");
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
	assert_int_equal(sink_destroy(rd.sink), 10);
	loop_destroy(l);
	close(fds[0]);
	free(rd.data);
}

/*
 * The reader goes away with records in the buffer (`| head`): a normal end. They, and what is
 * emitted after, are counted per type under reader_closed, not as lost, the loop is asked to
 * stop, and the sink has not failed (exit status 0).
 */
static void test_reader_gone(void **state)
{
	struct sink_stdout_stats st;
	struct flow_record r;
	struct dns_record d;
	struct loop *l = loop_create();
	int fds[2];

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	struct sink *s = sink_stdout_create(fds[1], "node-t");

	assert_non_null(s);
	assert_int_equal(sink_attach(s, l), 0);
	close(fds[0]);
	for (uint32_t i = 0; i < 5; i++) {
		make_flow(&r, i);
		assert_int_equal(sink_emit(s, &r.hdr), 0);
	}
	memset(&d, 0, sizeof(d));
	d.type = RECORD_DNS;
	d.qname = "example.org";
	assert_int_equal(sink_emit(s, &d.hdr), 0);
	sink_end_interval(s);
	sink_stdout_stats(s, &st);
	assert_true(st.reader_gone);
	assert_false(st.write_failed);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.reader_closed[RECORD_FLOW], 5);
	assert_int_equal(st.reader_closed[RECORD_DNS], 1);
	assert_int_equal(st.reader_closed[RECORD_EVENT], 0);
	assert_int_equal(st.buffered_bytes, 0);
	/* the loop was asked to stop */
	assert_int_equal(loop_run(l), 0);
	/* the last interval, exported after the loop stopped: refused, counted the same way */
	make_flow(&r, 5);
	assert_int_equal(sink_emit(s, &r.hdr), -EPIPE);
	sink_stdout_stats(s, &st);
	assert_int_equal(st.reader_closed[RECORD_FLOW], 6);
	assert_int_equal(st.dropped, 0);
	/* not a failure: nothing lost to an error */
	assert_int_equal(sink_flush(s), 0);
	assert_false(sink_failed(s));
	assert_int_equal(sink_destroy(s), 0);
	loop_destroy(l);
}

/*
 * A write error (/dev/full: ENOSPC) is a failure: the records are counted as write_error, the
 * loop is asked to stop and sink_failed() makes the exit status 1.
 */
static void test_write_error(void **state)
{
	struct sink_stdout_stats st;
	struct flow_record r;
	struct loop *l = loop_create();
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	struct sink *s = sink_stdout_create(fd, "node-t");

	assert_non_null(s);
	assert_int_equal(sink_attach(s, l), 0);
	for (uint32_t i = 0; i < 3; i++) {
		make_flow(&r, i);
		assert_int_equal(sink_emit(s, &r.hdr), 0);
	}
	sink_end_interval(s);
	sink_stdout_stats(s, &st);
	assert_true(st.write_failed);
	assert_false(st.reader_gone);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.reader_closed[RECORD_FLOW], 0);
	assert_true(sink_failed(s));
	assert_int_equal(loop_run(l), 0);
	make_flow(&r, 3);
	assert_int_equal(sink_emit(s, &r.hdr), -EPIPE);
	assert_int_equal(sink_flush(s), 4);
	assert_int_equal(sink_destroy(s), 4);
	loop_destroy(l);
	close(fd);
}

/*
 * At exit main.c calls sink_flush() before it logs the counters: after it, every record the
 * reader took is counted as written (none left in the buffer), so the exit log is final.
 */
static void test_flush_makes_counts_final(void **state)
{
	struct sink_stdout_stats st;
	struct flow_record r;
	char buf[65536];
	uint64_t got = 0;
	int fds[2], status;
	pid_t reader;

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	fcntl(fds[1], F_SETPIPE_SZ, 4096);
	struct sink *s = sink_stdout_create(fds[1], "node-t");

	assert_non_null(s);
	/* nobody reads yet: most of the 200 lines (~100 kB) wait in the sink's buffer */
	for (uint32_t i = 0; i < 200; i++) {
		make_flow(&r, i);
		assert_int_equal(sink_emit(s, &r.hdr), 0);
	}
	sink_end_interval(s);
	sink_stdout_stats(s, &st);
	assert_true(st.buffered_bytes > 0);
	assert_true(st.records < 200);
	/* a reader that takes the 200 lines and exits (the sink's own description of the pipe is
	 * open in it too: it would never see the end of the pipe) */
	reader = fork();
	assert_true(reader >= 0);
	if (reader == 0) {
		ssize_t n = 1;

		alarm(20);
		close(fds[1]);
		while (got < 200 && (n = read(fds[0], buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < n; i++)
				got += buf[i] == '\n';
		_exit(got == 200 ? 0 : 1);
	}
	close(fds[0]);
	alarm(30);
	assert_int_equal(sink_flush(s), 0);
	sink_stdout_stats(s, &st);
	assert_int_equal(st.records, 200);
	assert_int_equal(st.buffered_bytes, 0);
	assert_int_equal(st.dropped, 0);
	/* nothing is emitted after the flush: refused, and counted */
	make_flow(&r, 200);
	assert_int_equal(sink_emit(s, &r.hdr), -EPIPE);
	sink_stdout_stats(s, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(sink_destroy(s), 1);
	close(fds[1]);
	assert_int_equal(waitpid(reader, &status, 0), reader);
	alarm(0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static bool nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	assert_true(flags >= 0);
	return flags & O_NONBLOCK;
}

/*
 * stdout and stderr the same pipe (2>&1): the sink writes without blocking through a description
 * of its own, so stderr's stays blocking (log lines never fail with EAGAIN), and the records
 * still reach the pipe.
 */
static void test_shared_description_stays_blocking(void **state)
{
	struct flow_record r;
	char buf[4096];
	int fds[2], err_fd;
	ssize_t n;

	(void)state;
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	err_fd = dup(fds[1]); /* as the shell's 2>&1 */
	assert_true(err_fd >= 0);
	struct sink *s = sink_stdout_create(fds[1], "node-t");

	assert_non_null(s);
	assert_false(nonblocking(fds[1]));
	assert_false(nonblocking(err_fd));
	make_flow(&r, 1);
	assert_int_equal(sink_emit(s, &r.hdr), 0);
	sink_end_interval(s);
	n = read(fds[0], buf, sizeof(buf) - 1);
	assert_true(n > 0 && buf[n - 1] == '\n');
	buf[n] = 0;
	assert_non_null(strstr(buf, "\"type\":\"flow\""));
	assert_int_equal(sink_destroy(s), 0);
	assert_false(nonblocking(err_fd));
	/* the sink's description is closed: the pipe's write ends left are ours */
	close(fds[1]);
	close(err_fd);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 0);
	close(fds[0]);
}

/* A socket cannot be reopened: its fd is set non-blocking while the sink lives, then restored. */
static void test_socket_flags_restored(void **state)
{
	struct flow_record r;
	char buf[4096];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct sink *s = sink_stdout_create(sv[1], "node-t");

	assert_non_null(s);
	assert_true(nonblocking(sv[1]));
	make_flow(&r, 2);
	assert_int_equal(sink_emit(s, &r.hdr), 0);
	sink_end_interval(s);
	assert_true(read(sv[0], buf, sizeof(buf)) > 0);
	assert_int_equal(sink_destroy(s), 0);
	assert_false(nonblocking(sv[1]));
	close(sv[0]);
	close(sv[1]);
}

/*
 * A DNS record of 3000 answers whose names and data are long and all escapes (each byte 6 bytes
 * of JSON): a line of ~9 MB, far past the scratch line's first 64 KiB, comes out whole.
 */
static void test_huge_dns_record(void **state)
{
	enum { N = 3000, NAME = 250 };
	struct dns_answer_view *answers = calloc(N, sizeof(*answers));
	char *name = malloc(NAME + 1);
	struct sink_stdout_stats st;
	struct dns_record r;
	char *out, *p;
	size_t names = 0;
	off_t size;
	int fd;

	(void)state;
	assert_non_null(answers);
	assert_non_null(name);
	for (int i = 0; i < NAME; i++)
		name[i] = (char)(1 + i % 31); /* control characters: \u00XX each */
	name[NAME] = 0;
	for (int i = 0; i < N; i++) {
		answers[i].name = name;
		answers[i].type = 5;
		answers[i].ttl = 300;
		answers[i].data = name;
	}
	memset(&r, 0, sizeof(r));
	r.type = RECORD_DNS;
	r.ts_ns = 1700000000000000000ull;
	r.cgroup_id = 1000;
	r.cgroup_path = "/kubepods/pod-a/ctr";
	strcpy(r.comm, "dig");
	r.ip_version = 4;
	r.proto = 17;
	r.src_port = 40000;
	r.dst_port = 53;
	r.qname = "many.example";
	r.qtype = 5;
	r.answers = answers;
	r.n_answers = N;
	fd = memfd_create("fs-huge-dns", MFD_CLOEXEC);
	assert_true(fd >= 0);
	struct sink *s = sink_stdout_create(fd, "node-t");

	assert_non_null(s);
	assert_int_equal(sink_emit(s, &r.hdr), 0);
	sink_end_interval(s);
	sink_stdout_stats(s, &st);
	assert_int_equal(st.encode_errors, 0);
	assert_int_equal(st.records, 1);
	assert_int_equal(sink_destroy(s), 0);
	size = lseek(fd, 0, SEEK_END);
	assert_true(size > (off_t)N * NAME * 6 * 2);
	out = malloc((size_t)size + 1);
	assert_non_null(out);
	assert_int_equal(pread(fd, out, (size_t)size, 0), size);
	out[size] = 0;
	/* one line, whole: it starts and ends as a record does, and holds every answer */
	assert_int_equal(out[size - 1], '\n');
	assert_ptr_equal(memchr(out, '\n', (size_t)size), out + size - 1);
	assert_memory_equal(out, "{\"type\":\"dns\"", 13);
	assert_non_null(strstr(out, "\"truncated\":false}\n"));
	for (p = out; (p = strstr(p, "{\"name\":\"\\u0001\\u0002")); p++)
		names++;
	assert_int_equal(names, N);
	free(out);
	close(fd);
	free(name);
	free(answers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stopped_then_slow_reader),
		cmocka_unit_test(test_reader_gone),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_flush_makes_counts_final),
		cmocka_unit_test(test_shared_description_stays_blocking),
		cmocka_unit_test(test_socket_flags_restored),
		cmocka_unit_test(test_huge_dns_record),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
