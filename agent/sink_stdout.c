// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "record_codec.h"
#include "sink_stdout.h"

/* Lines are gathered and written in large chunks; one record never exceeds RECORD_MAX. */
#define OUT_BUF_SIZE (1u << 20)
#define RECORD_MAX (64u << 10)

struct sink_stdout {
	struct sink base;
	int fd;
	char *node_name;
	struct record_json_ctx ctx;
	char *buf;
	size_t used;
	struct sink_stdout_stats stats;
	uint64_t pending; /* records in buf */
	bool write_failed_logged;
	struct loop *loop; /* NULL until attached */
};

/* Like `yes | head`: when nobody reads the records any more, the agent stops. */
static void reader_gone(struct sink_stdout *s)
{
	s->stats.reader_gone = true;
	if (s->loop) {
		LOG_INFO("stdout was closed by its reader; exiting");
		loop_stop(s->loop, 0);
	}
}

static void flush_buf(struct sink_stdout *s)
{
	size_t off = 0;

	while (off < s->used) {
		ssize_t n = write(s->fd, s->buf + off, s->used - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno == EPIPE)
				reader_gone(s);
			if (!s->write_failed_logged)
				LOG_ERR("stdout: write failed: %s; records are being dropped",
					strerror(errno));
			s->write_failed_logged = true;
			s->stats.dropped += s->pending;
			s->stats.records -= s->pending;
			break;
		}
		off += (size_t)n;
	}
	s->used = 0;
	s->pending = 0;
}

static int emit(struct sink *base, const struct record *r)
{
	struct sink_stdout *s = (struct sink_stdout *)base;
	ssize_t n = record_encode_json(s->buf + s->used, RECORD_MAX - 1, &s->ctx, r);

	if (n < 0) {
		s->stats.encode_errors++;
		return (int)n;
	}
	s->buf[s->used + (size_t)n] = '\n';
	s->used += (size_t)n + 1;
	s->stats.records++;
	s->pending++;
	if (OUT_BUF_SIZE - s->used < RECORD_MAX)
		flush_buf(s);
	return 0;
}

static void end_interval(struct sink *base)
{
	flush_buf((struct sink_stdout *)base);
}

/* EPOLLERR on a pipe: its reader closed. */
static void on_stdout(struct loop *l, int fd, uint32_t events, void *arg)
{
	(void)l, (void)fd, (void)events;
	reader_gone(arg);
}

static int attach(struct sink *base, struct loop *l)
{
	struct sink_stdout *s = (struct sink_stdout *)base;

	s->loop = l;
	/* no event asked: EPOLLERR comes anyway when the pipe's reader closes; files and
	 * terminals that epoll refuses (EPERM) are simply not watched */
	loop_add_fd(l, s->fd, 0, on_stdout, s);
	return 0;
}

struct stdout_snap {
	uint64_t records, dropped, encode_errors;
};

static const struct counter_desc stdout_counters[] = {
	COUNTER_ROW("flowscope_sink_records_total", COUNTER_COUNTER, "Records written by the sink.",
		    "sink=\"stdout\"", struct stdout_snap, records),
	COUNTER_ROW("flowscope_sink_records_dropped_total", COUNTER_COUNTER,
		    "Records the sink could not write.", "sink=\"stdout\",reason=\"write_error\"",
		    struct stdout_snap, dropped),
	COUNTER_ROW("flowscope_sink_records_dropped_total", COUNTER_COUNTER,
		    "Records the sink could not write.", "sink=\"stdout\",reason=\"encode_error\"",
		    struct stdout_snap, encode_errors),
};

static int snapshot(void *arg, void *out)
{
	const struct sink_stdout *s = arg;
	struct stdout_snap *snap = out;

	snap->records = s->stats.records;
	snap->dropped = s->stats.dropped;
	snap->encode_errors = s->stats.encode_errors;
	return 0;
}

static int register_counters(struct sink *base, struct counters *reg)
{
	struct counters_group g = {
		.name = "stdout",
		.descs = stdout_counters,
		.n_descs = sizeof(stdout_counters) / sizeof(stdout_counters[0]),
		.snap_size = sizeof(struct stdout_snap),
		.snapshot = snapshot,
		.arg = base,
	};

	return counters_register(reg, &g);
}

static uint64_t free_sink(struct sink *base)
{
	struct sink_stdout *s = (struct sink_stdout *)base;
	uint64_t lost;

	flush_buf(s);
	lost = s->stats.dropped + s->stats.encode_errors;
	free(s->buf);
	free(s->node_name);
	free(s);
	return lost;
}

static const struct sink_ops stdout_ops = {
	.emit = emit,
	.end_interval = end_interval,
	.attach = attach,
	.register_counters = register_counters,
	.free = free_sink,
};

struct sink *sink_stdout_new(int fd, const char *node_name)
{
	struct sink_stdout *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->buf = malloc(OUT_BUF_SIZE);
	s->node_name = strdup(node_name);
	if (!s->buf || !s->node_name) {
		free(s->buf);
		free(s->node_name);
		free(s);
		return NULL;
	}
	s->base.ops = &stdout_ops;
	s->fd = fd;
	s->ctx.node_name = s->node_name;
	return &s->base;
}

void sink_stdout_stats(const struct sink *base, struct sink_stdout_stats *out)
{
	*out = ((const struct sink_stdout *)base)->stats;
}
