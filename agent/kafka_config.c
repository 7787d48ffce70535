// SPDX-License-Identifier: Apache-2.0
/* The Kafka sink from the agent's configuration (--kafka-* options and the [kafka] section). */
#include <errno.h>
#include <stdio.h>

#include "kafka_config.h"
#include "sink_kafka.h"

struct sink *kafka_sink_from_config(const struct config *cfg, char *err, size_t errsz)
{
	struct kafka_sink_config k;

	kafka_sink_config_init(&k);
	k.brokers = cfg->kafka_brokers;
	if (cfg->kafka_topic_flows)
		k.topics[RECORD_FLOW] = cfg->kafka_topic_flows;
	if (cfg->kafka_topic_dns)
		k.topics[RECORD_DNS] = cfg->kafka_topic_dns;
	if (cfg->kafka_topic_events)
		k.topics[RECORD_EVENT] = cfg->kafka_topic_events;
	if (cfg->kafka_format && kafka_format_parse(cfg->kafka_format, &k.format)) {
		snprintf(err, errsz, "invalid value for --kafka-format: '%s'", cfg->kafka_format);
		return NULL;
	}
	k.records_per_message = cfg->kafka_records_per_message;
	if (cfg->kafka_compression)
		k.compression = cfg->kafka_compression;
	k.buffer_bytes = cfg->kafka_buffer_bytes;
	k.flush_timeout_ms = cfg->kafka_flush_timeout_ms;
	k.node_name = cfg->node_name;
	k.options = (const char *const *)cfg->kafka_options;
	k.n_options = cfg->n_kafka_options;
	return sink_kafka_new(&k, err, errsz);
}

int kafka_config_check(const struct config *cfg, char *err, size_t errsz)
{
	if (!cfg->kafka_brokers)
		return 0;
	if (sink_kafka_check_brokers(cfg->kafka_brokers, err, errsz))
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_kafka_options; i++)
		if (sink_kafka_check_option(cfg->kafka_options[i], err, errsz))
			return -EINVAL;
	return 0;
}
