/* SPDX-License-Identifier: Apache-2.0 */
/* In-process mock Kafka cluster, a consumer that reads a topic back, and record generators. */
#ifndef FLOWSCOPE_KAFKA_TEST_UTIL_H
#define FLOWSCOPE_KAFKA_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "record.h"

struct mock_kafka {
	rd_kafka_t *rk; /* hosts the cluster */
	rd_kafka_mock_cluster_t *mc;
	int n_brokers;
	const char *bootstraps;
};

/* Start n_brokers brokers on loopback with the three default topics, partitions each. */
int mock_kafka_start(struct mock_kafka *m, int n_brokers, int partitions);
void mock_kafka_set_all(struct mock_kafka *m, bool up);
void mock_kafka_stop(struct mock_kafka *m);

/* cmocka group or test setup: a struct mock_kafka, started as mock_kafka_start() does, in
 * *state. Returns 0, or -1 when it could not start. */
int mock_kafka_state_start(void **state, int n_brokers, int partitions);
/* The matching teardown: stops and frees *state's cluster. Returns 0. */
int mock_kafka_state_stop(void **state);

struct consumed_msg {
	int32_t partition;
	int64_t offset;
	char *key;
	uint8_t *payload;
	size_t len;
};

struct consumed {
	struct consumed_msg *msgs;
	size_t n;
};

/* Read every message of topic from the beginning until all partitions are at their end. */
int consume_topic(const char *bootstraps, const char *topic, struct consumed *out);
void consumed_free(struct consumed *c);

/* Deterministic record number seq: pid = seq, cgroup_id = 1000 + seq % 7, IPv6 when seq % 3
 * == 0. Strings point to static storage. */
void make_flow(struct flow_record *r, uint32_t seq);
void make_dns(struct dns_record *r, uint32_t seq);

#endif
