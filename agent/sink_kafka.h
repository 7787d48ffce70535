/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka sink: records to Kafka topics through librdkafka, JSON or protobuf, one or several
 * records per Kafka message. User documentation: docs/kafka.md.
 */
#ifndef FLOWSCOPE_SINK_KAFKA_H
#define FLOWSCOPE_SINK_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include "record.h"
#include "sink.h"

enum kafka_format {
	KAFKA_FORMAT_JSON = 0, /* NDJSON: every record is one JSON object followed by '\n' */
	KAFKA_FORMAT_PROTOBUF = 1, /* flowscope.v1 messages, varint-delimited when batched */
	/* One flowscope.v1 message per Kafka message after a per-type prefix (value_prefix): the
	 * Schema Registry wire format (schema_registry.h). One record per message. */
	KAFKA_FORMAT_PROTOBUF_SR = 2,
};

/* Bytes of kafka_sink_config.value_prefix per record type at most. */
#define KAFKA_VALUE_PREFIX_MAX 16

#define KAFKA_DEFAULT_TOPIC_EVENTS "flowscope.events"
#define KAFKA_DEFAULT_COMPRESSION "lz4"
#define KAFKA_DEFAULT_BUFFER_BYTES (64ULL << 20)
#define KAFKA_DEFAULT_FLUSH_TIMEOUT_MS 10000
#define KAFKA_MAX_RECORDS_PER_MESSAGE 100000
/* statistics.interval.ms unless an option overrides it: librdkafka's statistics
 * (kafka_stats.h) refreshed for /metrics every 5 s. */
#define KAFKA_STATS_INTERVAL_MS "5000"

/*
 * Everything the sink needs. Fill it with kafka_sink_config_init() and override fields; strings
 * are only read during sink_kafka_create() (the sink copies what it keeps).
 */
struct kafka_sink_config {
	/* Bootstrap brokers, "HOST:PORT[,HOST:PORT...]" (HOST a name, an IPv4 address or an IPv6
	 * address in brackets; ":PORT" defaults to 9092; an optional "plaintext://", "ssl://",
	 * "sasl_plaintext://" or "sasl_ssl://" prefix is allowed). Required. */
	const char *brokers;
	/* Topic per record type, indexed by enum record_type. */
	const char *topics[RECORD_TYPE_MAX];
	enum kafka_format format;
	/* Up to this many records in one Kafka message, 1..KAFKA_MAX_RECORDS_PER_MESSAGE. */
	uint32_t records_per_message;
	/* "none", "gzip", "snappy", "lz4" or "zstd": librdkafka's compression.codec. */
	const char *compression;
	/* Bound on the bytes waiting for delivery (encoded records in partly filled batches plus
	 * messages handed to librdkafka and not yet acknowledged). A record that would exceed it is
	 * dropped and counted. Also sets queue.buffering.max.kbytes. At least 1024. */
	uint64_t buffer_bytes;
	/* How long sink_flush() waits for outstanding messages at exit, and a producer that
	 * failed fatally for its messages in flight, milliseconds. */
	uint32_t flush_timeout_ms;
	/* Node name carried by every record; required. */
	const char *node_name;
	/* Extra librdkafka properties as "key=value" (TLS, SASL, tuning), applied after the
	 * sink's own defaults, so they override them. Values of secret keys are never logged. */
	const char *const *options;
	size_t n_options;
	/* KAFKA_FORMAT_PROTOBUF_SR: the bytes written before every record's protobuf message, per
	 * record type (sr_wire_prefix(): magic byte, schema id, message index). Required (len > 0)
	 * for every type that has a codec. */
	struct {
		uint8_t bytes[KAFKA_VALUE_PREFIX_MAX];
		size_t len;
	} value_prefix[RECORD_TYPE_MAX];
};

/* Per record type counters, in records unless the name says otherwise. */
struct kafka_sink_type_stats {
	uint64_t produced; /* records handed to librdkafka */
	uint64_t produced_messages; /* Kafka messages handed to librdkafka */
	uint64_t produced_bytes; /* payload bytes handed to librdkafka (before compression) */
	uint64_t delivered; /* records acknowledged by the brokers */
	uint64_t delivered_messages;
	uint64_t delivered_bytes;
	uint64_t failed; /* records whose delivery report carried an error */
	uint64_t dropped_queue_full; /* records dropped: buffer_bytes or librdkafka's queue full */
	uint64_t dropped_error; /* records dropped: encoding failed or too large, produce error */
	/* of failed and dropped_error: records lost to a producer's fatal error (failed with it,
	 * purged from the failed producer, or refused by it before a new one could take them);
	 * a record that failed for its own reason (a timeout) is failed only */
	uint64_t lost_fatal;
};

#define KAFKA_SINK_MAX_REASONS 16

/* Delivery failures of one librdkafka error code. */
struct kafka_sink_reason {
	int err; /* rd_kafka_resp_err_t; name it with sink_kafka_reason_name() */
	uint64_t failed[RECORD_TYPE_MAX]; /* records, per record type */
};

struct kafka_sink_stats {
	struct kafka_sink_type_stats type[RECORD_TYPE_MAX];
	/* First KAFKA_SINK_MAX_REASONS distinct error codes seen, and records that failed with
	 * any later code. */
	struct kafka_sink_reason reasons[KAFKA_SINK_MAX_REASONS];
	size_t n_reasons;
	uint64_t failed_other_reasons;
	/* Bytes currently buffered (batches + awaiting acknowledgement). */
	uint64_t buffered_bytes;
	/* Records refused because their type has no codec (never encoded as another type). */
	uint64_t unknown_type;
	/* Fatal errors of the producer (RD_KAFKA_RESP_ERR__FATAL), and producers made to replace
	 * a failed one. */
	uint64_t fatal_errors;
	uint64_t producer_restarts;
};

/* Fill cfg with the defaults: topics flowscope.{flows,dns,events}, json, 1 record per message,
 * lz4, 64 MiB buffer, 10 s flush timeout, no brokers, no node name, no options. */
void kafka_sink_config_init(struct kafka_sink_config *cfg);

/*
 * Create the Kafka sink. Validates the whole configuration (broker list syntax, format,
 * compression, every option against librdkafka), configures an idempotent producer (acks=all)
 * and returns it. Brokers that cannot be reached are not an error: records are buffered and a
 * warning is logged from sink_poll() (once per loop round after sink_attach()) once librdkafka
 * reports it. A producer that fails fatally (RD_KAFKA_RESP_ERR__FATAL) is replaced by a new one
 * from the same configuration; what it did not deliver is counted in lost_fatal.
 *
 * Returns NULL with a one-line message in errstr (errstr_size bytes, secrets redacted) when the
 * configuration is invalid or librdkafka cannot be initialised; the agent should exit 2.
 */
struct sink *sink_kafka_create(const struct kafka_sink_config *cfg, char *errstr,
			       size_t errstr_size);

/*
 * Check a broker list string (syntax as kafka_sink_config.brokers) without contacting anything.
 * Returns 0, or -EINVAL with the reason in errstr.
 */
int sink_kafka_check_brokers(const char *brokers, char *errstr, size_t errstr_size);

/*
 * Check one "key=value" option: the syntax, that librdkafka knows key and accepts value. Used by
 * sink_kafka_create() and usable by the CLI parser. Returns 0, or -EINVAL with the reason in
 * errstr (the value of a secret key is never copied there).
 */
int sink_kafka_check_option(const char *kv, char *errstr, size_t errstr_size);

/* True when the value of librdkafka property key must not be logged: keys containing
 * "password", "secret", "key", "token" or "oauthbearer.config" (case-insensitive). */
bool sink_kafka_option_is_secret(const char *key);

/* Parse "json" / "protobuf" / "protobuf-sr". Returns 0 and sets *out, or -EINVAL. */
int kafka_format_parse(const char *s, enum kafka_format *out);

/* The --kafka-format name of f ("json", "protobuf", "protobuf-sr"), "?" when out of range. */
const char *kafka_format_name(enum kafka_format f);

/* Copy the counters of a sink created by sink_kafka_create() into *out. */
void sink_kafka_stats(struct sink *s, struct kafka_sink_stats *out);

/* librdkafka's name of an error code ("_MSG_TIMED_OUT", "MSG_SIZE_TOO_LARGE", ...). */
const char *sink_kafka_reason_name(int err);

#endif /* FLOWSCOPE_SINK_KAFKA_H */
