/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sinks: where encoded records go (stdout NDJSON by default, Kafka with --kafka-brokers).
 *
 * The agent calls sink_emit_*() from its event loop for each record, sink_poll() once per loop
 * iteration (serves delivery reports, never blocks), and sink_close() at exit, which flushes
 * within the configured timeout and reports what could not be delivered.
 */
#ifndef FLOWSCOPE_SINK_H
#define FLOWSCOPE_SINK_H

#include "record.h"

struct sink;

struct sink_ops {
	/* Queue one record. Returns 0, or a negative errno when the record was dropped (the sink
	 * counts the drop itself). Must not block. */
	int (*emit_flow)(struct sink *s, const struct flow_record *r);
	int (*emit_dns)(struct sink *s, const struct dns_record *r);
	/* Serve callbacks; never blocks. */
	void (*poll)(struct sink *s);
	/* End of an export interval: hand partly filled batches on. */
	void (*end_interval)(struct sink *s);
	/* Flush and free. Returns the number of records that could not be delivered. */
	uint64_t (*close)(struct sink *s);
};

struct sink {
	const struct sink_ops *ops;
};

static inline int sink_emit_flow(struct sink *s, const struct flow_record *r)
{
	return s->ops->emit_flow(s, r);
}

static inline int sink_emit_dns(struct sink *s, const struct dns_record *r)
{
	return s->ops->emit_dns(s, r);
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

static inline uint64_t sink_close(struct sink *s)
{
	return s->ops->close(s);
}

#endif /* FLOWSCOPE_SINK_H */
