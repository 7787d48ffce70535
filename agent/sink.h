/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sinks: where records go (stdout NDJSON by default, Kafka with --kafka-brokers).
 *
 * The pipeline calls sink_emit() for each record, sink_end_interval() after an export interval;
 * sink_attach() lets the sink register with the loop what it needs (a before-poll hook serving
 * librdkafka's callbacks, the stdout fd); sink_flush() at exit sends what is buffered within the
 * configured timeout, so that the counters logged after it are final, and sink_destroy() frees
 * (flushing first when sink_flush() was not called) and reports what could not be delivered. A sink encodes through the codec table
 * (record_codec.h) and never tests a record's type itself.
 */
#ifndef FLOWSCOPE_SINK_H
#define FLOWSCOPE_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "counters.h"
#include "record.h"

struct loop;
struct sink;

struct sink_ops {
	/* Queue one record. Returns 0, or a negative errno when the record was dropped (the sink
	 * counts the drop itself): -EPROTONOSUPPORT for a type without a codec. Must not block. */
	int (*emit)(struct sink *s, const struct record *r);
	/* Optional: serve callbacks; never blocks. */
	void (*poll)(struct sink *s);
	/* Optional: end of an export interval: hand partly filled batches on. */
	void (*end_interval)(struct sink *s);
	/* Optional: register fds and hooks with the loop. Returns 0 or a negative errno. */
	int (*attach)(struct sink *s, struct loop *l);
	/* Optional: register the sink's counters. Returns 0 or -ENOMEM. */
	int (*register_counters)(struct sink *s, struct counters *reg);
	/* Optional (absent: always ready): whether the sink accepts records now, for /readyz.
	 * Returns true, or false with the reason in why (size bytes). Must not block. */
	bool (*ready)(struct sink *s, char *why, size_t size);
	/* Optional: at exit, send what is buffered and wait for it (bounded by the sink's
	 * timeout), give up what is left and count it; the sink's counters are final after it and
	 * no record may be emitted any more. Returns the records not delivered. */
	uint64_t (*flush)(struct sink *s);
	/* Optional (absent: never): true once the sink gave up writing because of an error
	 * (stdout: EIO, ENOSPC); the agent then exits with status 1. */
	bool (*failed)(struct sink *s);
	/* Flush (when flush was not called) and free. Returns the number of records that could
	 * not be delivered. */
	uint64_t (*destroy)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
};

static inline int sink_emit(struct sink *s, const struct record *r)
{
	return s->ops->emit(s, r);
}

static inline void sink_poll(struct sink *s)
{
	if (s->ops->poll)
		s->ops->poll(s);
}

static inline void sink_end_interval(struct sink *s)
{
	if (s->ops->end_interval)
		s->ops->end_interval(s);
}

static inline int sink_attach(struct sink *s, struct loop *l)
{
	return s->ops->attach ? s->ops->attach(s, l) : 0;
}

static inline int sink_register_counters(struct sink *s, struct counters *reg)
{
	return s->ops->register_counters ? s->ops->register_counters(s, reg) : 0;
}

/* True when the sink accepts records; otherwise false and the reason in why. */
static inline bool sink_ready(struct sink *s, char *why, size_t size)
{
	return s->ops->ready ? s->ops->ready(s, why, size) : true;
}

/*
 * At exit, before the counters are logged: sends what is buffered, bounded by the sink's
 * timeout, and counts what could not go. Returns the records not delivered (0 for a sink
 * without a flush of its own: its free() does the work).
 */
static inline uint64_t sink_flush(struct sink *s)
{
	return s->ops->flush ? s->ops->flush(s) : 0;
}

/* True when the sink gave up writing because of an error: the exit status is then 1. */
static inline bool sink_failed(struct sink *s)
{
	return s->ops->failed ? s->ops->failed(s) : false;
}

/*
 * Flushes (bounded by the sink's timeout) unless sink_flush() did, and frees. Returns the
 * records not delivered; NULL is a no-op returning 0.
 */
static inline uint64_t sink_destroy(struct sink *s)
{
	return s ? s->ops->destroy(s) : 0;
}

#endif /* FLOWSCOPE_SINK_H */
