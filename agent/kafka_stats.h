/* SPDX-License-Identifier: Apache-2.0 */
/*
 * librdkafka's own statistics (statistics.interval.ms -> the stats callback, JSON as in
 * librdkafka's STATISTICS.md) kept as the last values seen and exported through the counters
 * table: per broker its state, round-trip time, queued requests and retries; per topic the bytes
 * sent. Runs on the loop's thread (the callback is served by rd_kafka_poll()).
 */
#ifndef FLOWSCOPE_KAFKA_STATS_H
#define FLOWSCOPE_KAFKA_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "counters.h"

struct kafka_stats;

/* Returns NULL on ENOMEM. */
struct kafka_stats *kafka_stats_create(void);
/* NULL is ignored. */
void kafka_stats_destroy(struct kafka_stats *st);

/*
 * Replaces the kept values with those of one statistics document (json, len bytes, not
 * necessarily NUL-terminated). Returns 0, -EINVAL for a document that is not JSON or lacks the
 * "brokers" / "topics" objects (counted in flowscope_kafka_stats_errors_total; the values
 * kept stay), or -ENOMEM.
 */
int kafka_stats_update(struct kafka_stats *st, const char *json, size_t len);

/* Registers the flowscope_kafka_broker_* and flowscope_kafka_topic_* families. Returns 0 or
 * -ENOMEM. st must outlive reg. */
int kafka_stats_register_counters(struct kafka_stats *st, struct counters *reg);

#endif /* FLOWSCOPE_KAFKA_STATS_H */
