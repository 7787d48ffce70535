// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sink_stdout.h"

/*
 * Lines are gathered and written in large chunks; one record never exceeds RECORD_MAX. A DNS
 * record keeps every answer of its message: 1 MiB holds the JSON of any 64 KiB message whose
 * names are plain; a longer one is dropped and counted.
 */
#define OUT_BUF_SIZE (2u << 20)
#define RECORD_MAX (1u << 20)

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
};

static void flush_buf(struct sink_stdout *s)
{
	size_t off = 0;

	while (off < s->used) {
		ssize_t n = write(s->fd, s->buf + off, s->used - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno == EPIPE)
				s->stats.reader_gone = true;
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

static int emit_line(struct sink_stdout *s, ssize_t n)
{
	if (n < 0) {
		s->stats.dropped++;
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

static int emit_flow(struct sink *base, const struct flow_record *r)
{
	struct sink_stdout *s = (struct sink_stdout *)base;

	return emit_line(s, record_json_flow(s->buf + s->used, RECORD_MAX - 1, &s->ctx, r));
}

static int emit_dns(struct sink *base, const struct dns_record *r)
{
	struct sink_stdout *s = (struct sink_stdout *)base;

	return emit_line(s, record_json_dns(s->buf + s->used, RECORD_MAX - 1, &s->ctx, r));
}

static void end_interval(struct sink *base)
{
	flush_buf((struct sink_stdout *)base);
}

static uint64_t close_sink(struct sink *base)
{
	struct sink_stdout *s = (struct sink_stdout *)base;
	uint64_t lost;

	flush_buf(s);
	lost = s->stats.dropped;
	free(s->buf);
	free(s->node_name);
	free(s);
	return lost;
}

static const struct sink_ops stdout_ops = {
	.emit_flow = emit_flow,
	.emit_dns = emit_dns,
	.end_interval = end_interval,
	.close = close_sink,
};

struct sink *sink_stdout_create(int fd, const char *node_name)
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
