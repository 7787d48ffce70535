// SPDX-License-Identifier: Apache-2.0
/*
 * NDJSON on a file descriptor without blocking the loop. Lines are encoded whole into a scratch
 * buffer and appended to a bounded output buffer only when they fit, so a record is either
 * entirely in the output or dropped (counted) - never cut. Writes are non-blocking: a write takes
 * what the reader has room for, the rest of the buffer (the rest of a line included) waits for
 * EPOLLOUT from the loop.
 *
 * O_NONBLOCK is a flag of the open file description, which fd 1 shares with fd 2 under `2>&1` or
 * on a terminal, and with the parent shell: set on fd 1 it would make stderr writes fail with
 * EAGAIN (log lines lost) and leave the shell's terminal non-blocking if the agent crashed. So a
 * pipe, FIFO or terminal is reopened through /proc/self/fd/N, which gives a description of our
 * own to make non-blocking; a regular file never blocks and is written as given. Only where the
 * reopen fails (a socket: ENXIO; or /proc missing) is the given fd set O_NONBLOCK, and restored at
 * free.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "loop.h"
#include "record_codec.h"
#include "sink_stdout.h"

/* Bound on the lines waiting for a slow reader (a 10 s interval of 65536 flows is ~26 MB). */
#define OUT_BUF_SIZE (32u << 20)
/* Written as soon as this much is buffered, so a steady reader keeps the buffer short. */
#define WRITE_CHUNK (64u << 10)
/*
 * The scratch line's first size, which most records fit; a longer one (a DNS response with
 * thousands of long answers) grows it to record_encoded_max().
 */
#define LINE_INITIAL (64u << 10)
/* How long sink_destroy() waits for the reader to take what is left. */
#define EXIT_FLUSH_MS 5000
/*
 * The record types of the buffered lines, oldest first (a ring), so that what a closed reader
 * did not get is counted per type. A line is longer than 64 bytes (its fixed keys alone), so
 * OUT_BUF_SIZE / 64 entries are enough for a full buffer; were they not, a record would be
 * dropped as buffer_full, never uncounted.
 */
#define TYPES_CAP (OUT_BUF_SIZE / 64)

struct sink_stdout {
	struct sink base;
	int fd;
	bool own_fd; /* fd is our reopened description: closed at free */
	int fd_flags; /* as found when we set O_NONBLOCK on the given fd: restored at free; else -1 */
	char *node_name;
	struct record_json_ctx ctx;
	char *buf; /* OUT_BUF_SIZE: [off, used) waits to be written */
	size_t off, used;
	char *line; /* line_cap bytes of scratch */
	size_t line_cap;
	uint64_t lines; /* complete lines in [off, used) */
	uint8_t *types; /* TYPES_CAP: the types of those lines, from types_head on */
	size_t types_head;
	struct sink_stdout_stats stats;
	bool failed; /* the reader closed, or a write error: nothing more is written */
	bool reader_gone_logged; /* the exit line of a closed reader was written */
	bool want_out; /* EPOLLOUT asked of the loop */
	bool watched; /* the fd is registered with the loop */
	bool flushed; /* flush() ran: the counters are final, nothing more is emitted */
	struct loop *loop; /* NULL until attached */
};

/* A record the sink will never write: counted under its reason (and type). */
static void count_lost(struct sink_stdout *s, unsigned int type)
{
	if (s->stats.reader_gone)
		s->stats.reader_closed[type < RECORD_TYPE_MAX ? type : RECORD_FLOW]++;
	else
		s->stats.dropped++;
}

/* What is buffered is lost (the reader closed, or a write error): counted, buffer emptied. */
static void drop_buffered(struct sink_stdout *s)
{
	for (uint64_t i = 0; i < s->lines; i++)
		count_lost(s, s->types[(s->types_head + i) % TYPES_CAP]);
	s->lines = 0;
	s->types_head = 0;
	s->off = s->used = 0;
}

/*
 * Like `yes | head`: when nobody reads the records any more, the agent stops; a normal end, not
 * a failure. What was not written is counted (reason reader_closed) and logged once at the
 * flush, when the count is final.
 */
static void reader_gone(struct sink_stdout *s)
{
	if (s->stats.reader_gone)
		return;
	s->stats.reader_gone = true;
	s->failed = true;
	drop_buffered(s);
	if (s->loop)
		loop_stop(s->loop, 0);
}

/* A write error (EIO, ENOSPC): nothing more can be written, the agent stops with status 1. */
static void write_failed(struct sink_stdout *s, int err)
{
	s->stats.write_failed = true;
	s->failed = true;
	drop_buffered(s);
	LOG_ERR("stdout: write failed: %s; records cannot be written, stopping", strerror(err));
	if (s->loop)
		loop_stop(s->loop, 0);
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;
	const char *end = p + n;

	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p++;
	}
	return lines;
}

static void want_out(struct sink_stdout *s, bool on)
{
	if (s->want_out == on || !s->watched)
		return;
	if (loop_mod_fd(s->loop, s->fd, on ? EPOLLOUT : 0) == 0)
		s->want_out = on;
}

/*
 * Writes what the fd takes now. A partial write leaves the rest (of a line too) for later; on
 * EAGAIN the loop is asked for EPOLLOUT. Returns true when the buffer is empty.
 */
static bool write_some(struct sink_stdout *s)
{
	while (s->off < s->used && !s->failed) {
		ssize_t n = write(s->fd, s->buf + s->off, s->used - s->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			want_out(s, true);
			return false;
		}
		if (n < 0 && errno == EPIPE) {
			reader_gone(s);
			break;
		}
		if (n <= 0) {
			write_failed(s, n < 0 ? errno : EIO);
			break;
		}
		/* all of it written (the usual case): every waiting line, no need to count them */
		uint64_t done = (size_t)n == s->used - s->off
					? s->lines
					: count_lines(s->buf + s->off, (size_t)n);

		s->stats.records += done;
		s->lines -= done;
		s->types_head = (s->types_head + done) % TYPES_CAP;
		s->off += (size_t)n;
	}
	if (s->off == s->used) {
		s->off = s->used = 0;
		want_out(s, false);
		return true;
	}
	return false;
}

/* Room for n more bytes at the end, moving the unwritten part to the front when that helps. */
static bool make_room(struct sink_stdout *s, size_t n)
{
	if (OUT_BUF_SIZE - s->used >= n)
		return true;
	if (s->off) {
		memmove(s->buf, s->buf + s->off, s->used - s->off);
		s->used -= s->off;
		s->off = 0;
	}
	return OUT_BUF_SIZE - s->used >= n;
}

/* Encodes r into s->line, growing it once to the bound of r when it is too small. */
static ssize_t encode_line(struct sink_stdout *s, const struct record *r)
{
	ssize_t n = record_encode_json(s->line, s->line_cap - 1, &s->ctx, r);
	size_t max;
	char *line;

	if (n != -ENOSPC)
		return n;
	max = record_encoded_max(r, strlen(s->node_name));
	if (max <= s->line_cap)
		return n; /* the bound is wrong: a real failure */
	line = realloc(s->line, max);
	if (!line)
		return -ENOMEM;
	s->line = line;
	s->line_cap = max;
	return record_encode_json(s->line, s->line_cap - 1, &s->ctx, r);
}

static int emit(struct sink *base, const struct record *r)
{
	struct sink_stdout *s = (struct sink_stdout *)base;
	ssize_t n = encode_line(s, r);

	if (n < 0) {
		s->stats.encode_errors++;
		return (int)n;
	}
	if (s->failed || s->flushed) {
		count_lost(s, r->type);
		return -EPIPE;
	}
	s->line[n++] = '\n';
	if (!make_room(s, (size_t)n) || s->lines == TYPES_CAP) {
		/* the reader is slow: try once more, then drop this record whole */
		write_some(s);
		if (s->failed) {
			count_lost(s, r->type);
			return -EPIPE;
		}
		if (!make_room(s, (size_t)n) || s->lines == TYPES_CAP) {
			s->stats.buffer_full++;
			return -ENOBUFS;
		}
	}
	memcpy(s->buf + s->used, s->line, (size_t)n);
	s->used += (size_t)n;
	s->types[(s->types_head + s->lines) % TYPES_CAP] = (uint8_t)r->type;
	s->lines++;
	if (s->used - s->off >= WRITE_CHUNK)
		write_some(s);
	return 0;
}

static void end_interval(struct sink *base)
{
	write_some((struct sink_stdout *)base);
}

static void on_stdout(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct sink_stdout *s = arg;

	(void)l, (void)fd;
	if (events & EPOLLOUT)
		write_some(s);
	/* EPOLLERR on a pipe: its reader closed (a write then fails with EPIPE, counted there) */
	if (events & (EPOLLERR | EPOLLHUP)) {
		write_some(s);
		if (!s->failed)
			reader_gone(s);
	}
}

static int attach(struct sink *base, struct loop *l)
{
	struct sink_stdout *s = (struct sink_stdout *)base;

	s->loop = l;
	/* EPOLLOUT only while something waits; EPOLLERR comes anyway when the pipe's reader
	 * closes. Regular files, which epoll refuses (EPERM), never block: not watched. */
	s->watched = loop_add_fd(l, s->fd, 0, on_stdout, s) == 0;
	if (s->watched && s->off < s->used)
		want_out(s, true);
	return 0;
}

struct stdout_snap {
	uint64_t records, dropped, encode_errors, buffer_full;
	uint64_t reader_closed[RECORD_TYPE_MAX];
};

#define READER_CLOSED_ROW(type_name, type)                                             \
	COUNTER_ROW("flowscope_sink_records_dropped_total", COUNTER_COUNTER,           \
		    "Records the sink could not write.",                               \
		    "sink=\"stdout\",type=\"" type_name "\",reason=\"reader_closed\"", \
		    struct stdout_snap, reader_closed[type])

static const struct counter_desc stdout_counters[] = {
	COUNTER_ROW("flowscope_sink_records_total", COUNTER_COUNTER, "Records written by the sink.",
		    "sink=\"stdout\"", struct stdout_snap, records),
	COUNTER_ROW("flowscope_sink_records_dropped_total", COUNTER_COUNTER,
		    "Records the sink could not write.", "sink=\"stdout\",reason=\"write_error\"",
		    struct stdout_snap, dropped),
	COUNTER_ROW("flowscope_sink_records_dropped_total", COUNTER_COUNTER,
		    "Records the sink could not write.", "sink=\"stdout\",reason=\"encode_error\"",
		    struct stdout_snap, encode_errors),
	COUNTER_ROW("flowscope_sink_records_dropped_total", COUNTER_COUNTER,
		    "Records the sink could not write.", "sink=\"stdout\",reason=\"buffer_full\"",
		    struct stdout_snap, buffer_full),
	READER_CLOSED_ROW("flow", RECORD_FLOW),
	READER_CLOSED_ROW("dns", RECORD_DNS),
	READER_CLOSED_ROW("event", RECORD_EVENT),
};

static int snapshot(void *arg, void *out)
{
	const struct sink_stdout *s = arg;
	struct stdout_snap *snap = out;

	snap->records = s->stats.records;
	snap->dropped = s->stats.dropped;
	snap->encode_errors = s->stats.encode_errors;
	snap->buffer_full = s->stats.buffer_full;
	memcpy(snap->reader_closed, s->stats.reader_closed, sizeof(snap->reader_closed));
	return 0;
}

static int register_counters(struct sink *base, struct counters *reg)
{
	struct counters_group g = {
		COUNTERS_GROUP("stdout", stdout_counters, struct stdout_snap, snapshot, base),
	};

	return counters_register(reg, &g);
}

/* The records lost to a failure; those a closed reader did not take are not a failure. */
static uint64_t lost_records(const struct sink_stdout *s)
{
	return s->stats.dropped + s->stats.encode_errors + s->stats.buffer_full;
}

/* The one line of a closed reader, with the final counts of what it did not get. */
static void log_reader_gone(struct sink_stdout *s)
{
	const uint64_t *c = s->stats.reader_closed;

	if (!s->stats.reader_gone || s->reader_gone_logged)
		return;
	s->reader_gone_logged = true;
	LOG_FIELDS(LOG_LEVEL_INFO, "stdout was closed by its reader; records not written:",
		   LOG_U64("flows", c[RECORD_FLOW]), LOG_U64("dns", c[RECORD_DNS]),
		   LOG_U64("events", c[RECORD_EVENT]));
}

/*
 * At exit, before the counters are logged (main.c): what is left goes out within
 * EXIT_FLUSH_MS; what the reader does not take by then is counted as dropped, so that the
 * exit log's counts are final. A closed reader's line is logged here, once. Returns the records
 * lost to a failure (not those a closed reader did not take).
 */
static uint64_t flush(struct sink *base)
{
	struct sink_stdout *s = (struct sink_stdout *)base;
	uint64_t deadline = clock_mono_ns() + EXIT_FLUSH_MS * 1000000ull;

	if (s->flushed)
		return lost_records(s);
	while (!s->failed && !write_some(s)) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
		uint64_t now = clock_mono_ns();

		if (now >= deadline || s->failed) {
			drop_buffered(s);
			break;
		}
		poll(&pfd, 1, (int)((deadline - now) / 1000000ull) + 1);
	}
	s->flushed = true;
	log_reader_gone(s);
	return lost_records(s);
}

static bool failed(struct sink *base)
{
	return ((struct sink_stdout *)base)->stats.write_failed;
}

/* Flushes unless flush() ran, then frees; returns the records not delivered. */
static uint64_t free_sink(struct sink *base)
{
	struct sink_stdout *s = (struct sink_stdout *)base;
	uint64_t lost = flush(base);

	if (s->watched)
		loop_del_fd(s->loop, s->fd);
	if (s->own_fd)
		close(s->fd);
	else if (s->fd_flags >= 0)
		fcntl(s->fd, F_SETFL, s->fd_flags);
	free(s->buf);
	free(s->types);
	free(s->line);
	free(s->node_name);
	free(s);
	return lost;
}

/*
 * Points s->fd at fd's file, non-blocking, without changing the description fd shares with
 * others (see the top of the file).
 */
static void open_nonblocking(struct sink_stdout *s, int fd)
{
	char path[32];
	struct stat st;
	int flags;

	s->fd = fd;
	s->fd_flags = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return; /* never blocks; a reopen would lose O_APPEND and the offset */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	s->fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (s->fd >= 0) {
		s->own_fd = true;
		return;
	}
	LOG_DEBUG("stdout sink: cannot reopen %s (%s): setting O_NONBLOCK on fd %d itself", path,
		  strerror(errno), fd);
	s->fd = fd;
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0 && !(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0)
		s->fd_flags = flags;
}

static const struct sink_ops stdout_ops = {
	.emit = emit,
	.end_interval = end_interval,
	.attach = attach,
	.register_counters = register_counters,
	.flush = flush,
	.failed = failed,
	.destroy = free_sink,
};

struct sink *sink_stdout_create(int fd, const char *node_name)
{
	struct sink_stdout *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	/* pages are touched only as the buffer fills */
	s->buf = malloc(OUT_BUF_SIZE);
	s->types = malloc(TYPES_CAP);
	s->line = malloc(LINE_INITIAL);
	s->line_cap = LINE_INITIAL;
	s->node_name = strdup(node_name);
	if (!s->buf || !s->types || !s->line || !s->node_name) {
		free(s->buf);
		free(s->types);
		free(s->line);
		free(s->node_name);
		free(s);
		return NULL;
	}
	s->base.ops = &stdout_ops;
	open_nonblocking(s, fd);
	s->ctx.node_name = s->node_name;
	return &s->base;
}

void sink_stdout_stats(const struct sink *base, struct sink_stdout_stats *out)
{
	const struct sink_stdout *s = (const struct sink_stdout *)base;

	*out = s->stats;
	out->buffered_bytes = s->used - s->off;
}
