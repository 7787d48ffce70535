// SPDX-License-Identifier: Apache-2.0
/* The Kafka sink from the agent's configuration (--kafka-* options and the [kafka] section). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kafka_config.h"
#include "log.h"
#include "record_codec.h"
#include "schema_registry.h"
#include "sink_kafka.h"

/*
 * protobuf-sr: register records.proto under "<topic>-value" for every topic of a record type
 * with a codec, and put the wire prefix (schema id, the type's message index) into k. Returns
 * 0, or -EIO / -EPROTO (schema_registry_register_protobuf()), -ENOENT (a codec's message is not
 * in records.proto) or -ENOMEM, with the reason in err.
 */
static int register_schemas(const struct config *cfg, struct kafka_sink_config *k, char *err,
			    size_t errsz)
{
	struct schema_registry *sr = schema_registry_create(
		cfg->kafka_schema_registry, cfg->kafka_schema_registry_timeout_ms, err, errsz);
	int ret = 0;

	/* the URL passed kafka_config_check(): what is left is libcurl or memory */
	if (!sr)
		return -ENOMEM;
	for (int t = 0; t < RECORD_TYPE_MAX && !ret; t++) {
		const struct record_codec *c = record_codec(t);
		char subject[512];
		uint32_t id;
		int index;
		ssize_t n;

		if (!c)
			continue;
		index = sr_proto_message_index(flowscope_records_proto, c->proto_message);
		if (index < 0) {
			snprintf(err, errsz,
				 "schema registry: %s is not a message of records.proto",
				 c->proto_message);
			ret = -ENOENT;
			break;
		}
		snprintf(subject, sizeof(subject), "%s-value", k->topics[t]);
		ret = schema_registry_register_protobuf(sr, subject, flowscope_records_proto, &id,
							err, errsz);
		if (ret)
			break;
		n = sr_wire_prefix(id, index, k->value_prefix[t].bytes,
				   sizeof(k->value_prefix[t].bytes));
		if (n < 0) {
			snprintf(err, errsz, "schema registry: wire prefix: %s", strerror((int)-n));
			ret = (int)n;
			break;
		}
		k->value_prefix[t].len = (size_t)n;
		LOG_INFO("kafka: schema registry %s: subject %s has schema id %u, %s is index %d",
			 schema_registry_url(sr), subject, (unsigned int)id, c->proto_message,
			 index);
	}
	schema_registry_destroy(sr);
	return ret;
}

struct sink *kafka_sink_from_config(const struct config *cfg, bool *usage, char *err, size_t errsz)
{
	struct kafka_sink_config k;

	*usage = true;
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
	if (k.format == KAFKA_FORMAT_PROTOBUF_SR) {
		int ret = register_schemas(cfg, &k, err, errsz);

		if (ret) {
			/* the registry refused or did not answer: a runtime failure, not usage */
			*usage = false;
			return NULL;
		}
	}
	return sink_kafka_create(&k, err, errsz);
}

int kafka_config_check(const struct config *cfg, char *err, size_t errsz)
{
	bool sr = cfg->kafka_format && !strcmp(cfg->kafka_format, "protobuf-sr");

	if (!cfg->kafka_brokers) {
		if (sr || cfg->kafka_schema_registry) {
			snprintf(err, errsz,
				 "--kafka-format protobuf-sr and "
				 "--kafka-schema-registry need --kafka-brokers");
			return -EINVAL;
		}
		return 0;
	}
	if (sink_kafka_check_brokers(cfg->kafka_brokers, err, errsz))
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_kafka_options; i++)
		if (sink_kafka_check_option(cfg->kafka_options[i], err, errsz))
			return -EINVAL;
	if (sr && !cfg->kafka_schema_registry) {
		snprintf(err, errsz,
			 "--kafka-format protobuf-sr needs --kafka-schema-registry URL");
		return -EINVAL;
	}
	if (!sr && cfg->kafka_schema_registry) {
		snprintf(err, errsz,
			 "--kafka-schema-registry is only used with --kafka-format "
			 "protobuf-sr");
		return -EINVAL;
	}
	if (sr && cfg->kafka_records_per_message != 1) {
		snprintf(err, errsz,
			 "--kafka-format protobuf-sr writes one record per Kafka message "
			 "(what Schema Registry deserializers read): "
			 "--kafka-records-per-message must be 1");
		return -EINVAL;
	}
	if (sr && schema_registry_check_url(cfg->kafka_schema_registry, err, errsz))
		return -EINVAL;
	return 0;
}
