/* SPDX-License-Identifier: Apache-2.0 */
/* The Kafka sink from the agent's configuration (--kafka-* options and the [kafka] section). */
#ifndef FLOWSCOPE_KAFKA_CONFIG_H
#define FLOWSCOPE_KAFKA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "sink.h"

/*
 * Checks the broker list, every --kafka-option against librdkafka, and protobuf-sr's options
 * (a registry URL, one record per message) before anything is loaded (a typo must not cost a
 * BPF load). Returns 0 (also without --kafka-brokers) or -EINVAL with the option named in err.
 */
int kafka_config_check(const struct config *cfg, char *err, size_t errsz);

/*
 * The Kafka sink of cfg (sink_kafka_create()), or NULL with the reason in err. With --kafka-format
 * protobuf-sr it first registers records.proto with the Schema Registry (blocking, each request
 * bounded by --kafka-schema-registry-timeout). *usage tells the caller why it failed: true for
 * a configuration error (exit 2), false when the registry refused or could not be reached
 * (exit 1); err then names the registry's URL without userinfo and its answer.
 */
struct sink *kafka_sink_from_config(const struct config *cfg, bool *usage, char *err, size_t errsz);

#endif /* FLOWSCOPE_KAFKA_CONFIG_H */
