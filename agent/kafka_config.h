/* SPDX-License-Identifier: Apache-2.0 */
/* The Kafka sink from the agent's configuration (--kafka-* options and the [kafka] section). */
#ifndef FLOWSCOPE_KAFKA_CONFIG_H
#define FLOWSCOPE_KAFKA_CONFIG_H

#include <stddef.h>

#include "config.h"
#include "sink.h"

/*
 * Checks the broker list and every --kafka-option against librdkafka before anything is loaded
 * (a typo must not cost a BPF load). Returns 0 (also without --kafka-brokers) or -EINVAL with
 * the option named in err.
 */
int kafka_config_check(const struct config *cfg, char *err, size_t errsz);

/* The Kafka sink of cfg (sink_kafka_new()), or NULL with the reason in err. */
struct sink *kafka_sink_from_config(const struct config *cfg, char *err, size_t errsz);

#endif /* FLOWSCOPE_KAFKA_CONFIG_H */
