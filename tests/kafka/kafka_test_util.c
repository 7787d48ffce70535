// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_test_util.h"

int mock_kafka_start(struct mock_kafka *m, int n_brokers, int partitions)
{
	static const char *const topics[] = { "flowscope.flows", "flowscope.dns",
					      "flowscope.events" };
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];
	size_t i;

	memset(m, 0, sizeof(*m));
	rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr));
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!m->rk)
		return -1;
	m->mc = rd_kafka_mock_cluster_new(m->rk, n_brokers);
	if (!m->mc)
		return -1;
	m->n_brokers = n_brokers;
	for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (rd_kafka_mock_topic_create(m->mc, topics[i], partitions,
					       n_brokers < 3 ? n_brokers : 3))
			return -1;
	m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->mc);
	return 0;
}

void mock_kafka_set_all(struct mock_kafka *m, bool up)
{
	int id;

	for (id = 1; id <= m->n_brokers; id++) {
		if (up)
			rd_kafka_mock_broker_set_up(m->mc, id);
		else
			rd_kafka_mock_broker_set_down(m->mc, id);
	}
}

void mock_kafka_stop(struct mock_kafka *m)
{
	if (m->mc)
		rd_kafka_mock_cluster_destroy(m->mc);
	if (m->rk)
		rd_kafka_destroy(m->rk);
	memset(m, 0, sizeof(*m));
}

int mock_kafka_state_start(void **state, int n_brokers, int partitions)
{
	struct mock_kafka *m = calloc(1, sizeof(*m));

	if (!m || mock_kafka_start(m, n_brokers, partitions)) {
		free(m);
		return -1;
	}
	*state = m;
	return 0;
}

int mock_kafka_state_stop(void **state)
{
	mock_kafka_stop(*state);
	free(*state);
	return 0;
}

int consume_topic(const char *bootstraps, const char *topic, struct consumed *out)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_topic_t *rkt;
	rd_kafka_t *rk;
	char errstr[512];
	int n_parts, n_eof = 0, idle = 0, i, ret = -1;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "group.id", "flowscope-test", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr))) {
		fprintf(stderr, "consumer conf: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "consumer: %s\n", errstr);
		return -1;
	}
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "consumer: no metadata for %s\n", topic);
		goto cleanup;
	}
	n_parts = md->topics[0].partition_cnt;
	parts = rd_kafka_topic_partition_list_new(n_parts);
	for (i = 0; i < n_parts; i++)
		rd_kafka_topic_partition_list_add(parts, topic, i)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);

	/* Every partition reports EOF once caught up; 20 s of silence is a failure. */
	while (n_eof < n_parts && idle < 200) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		struct consumed_msg *c;

		if (!m) {
			idle++;
			continue;
		}
		idle = 0;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			n_eof++;
		} else if (m->err) {
			fprintf(stderr, "consumer: %s\n", rd_kafka_message_errstr(m));
		} else {
			if (out->n == cap) {
				cap = cap ? cap * 2 : 256;
				out->msgs = realloc(out->msgs, cap * sizeof(*out->msgs));
			}
			c = &out->msgs[out->n++];
			c->partition = m->partition;
			c->offset = m->offset;
			c->key = strndup(m->key ? m->key : "", m->key_len);
			c->payload = malloc(m->len + 1);
			memcpy(c->payload, m->payload, m->len);
			c->payload[m->len] = 0;
			c->len = m->len;
		}
		rd_kafka_message_destroy(m);
	}
	ret = n_eof == n_parts ? 0 : -1;
cleanup:
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return ret;
}

void consumed_free(struct consumed *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->msgs[i].key);
		free(c->msgs[i].payload);
	}
	free(c->msgs);
	memset(c, 0, sizeof(*c));
}

static const struct record_workload test_workload = {
	.container_id = "3f2a000000000000000000000000000000000000000000000000000000000001",
	.container_runtime = "cri-o",
	.pod_namespace = "shop",
	.pod_name = "checkout-7d9f",
};

void make_flow(struct flow_record *r, uint32_t seq)
{
	memset(r, 0, sizeof(*r));
	r->type = RECORD_FLOW;
	r->start_ns = 1700000000000000000ULL + seq;
	r->end_ns = r->start_ns + 1000;
	r->cgroup_id = 1000 + seq % 7;
	r->cgroup_path = "/kubepods/pod-a/ctr";
	r->cgroup_version = 2;
	r->workload = &test_workload;
	r->dst_pod_name = "db-0";
	r->pid = seq;
	strcpy(r->comm, "curl");
	r->proto = IPPROTO_TCP;
	r->initiator = INITIATOR_SRC;
	r->tcp_flags = 0x12; /* SYN ACK */
	if (seq % 3 == 0) {
		r->ip_version = 6;
		inet_pton(AF_INET6, "2001:db8::10", r->src_addr.bytes);
		inet_pton(AF_INET6, "2001:db8:1::20", r->dst_addr.bytes);
	} else {
		r->ip_version = 4;
		inet_pton(AF_INET, "192.0.2.10", r->src_addr.bytes);
		inet_pton(AF_INET, "198.51.100.20", r->dst_addr.bytes);
	}
	r->src_port = 40000 + seq % 1000;
	r->dst_port = 443;
	r->tx_bytes = 1000ULL * seq + 1;
	r->tx_packets = seq + 2;
	r->rx_bytes = 2000ULL * seq + 3;
	r->rx_packets = seq + 4;
	r->src_actual_addr = r->src_addr;
	r->src_actual_port = r->src_port;
	r->dst_actual_addr = r->dst_addr;
	r->dst_actual_port = r->dst_port;
	r->dst_domain = "api.example";
}

void make_dns(struct dns_record *r, uint32_t seq)
{
	static const struct dns_answer_view answers[] = {
		{ "www.example", 5, 300, "web.example" },
		{ "web.example", 1, 60, "192.0.2.1" },
	};

	memset(r, 0, sizeof(*r));
	r->type = RECORD_DNS;
	r->ts_ns = 1700000000000000000ULL + seq;
	r->cgroup_id = 2000 + seq % 5;
	r->cgroup_path = "/kubepods/pod-b";
	r->cgroup_version = 1;
	r->pid = seq;
	strcpy(r->comm, "resolver");
	r->ip_version = 4;
	r->proto = IPPROTO_UDP;
	inet_pton(AF_INET, "192.0.2.10", r->src_addr.bytes);
	r->src_port = 50000 + seq % 1000;
	inet_pton(AF_INET, "192.0.2.53", r->dst_addr.bytes);
	r->dst_port = 53;
	r->id = seq & 0xffff;
	r->qname = "www.example";
	r->qtype = 1;
	r->rcode = 0;
	r->answers = answers;
	r->n_answers = 2;
	r->latency_ns = 12345;
	r->latency_known = true;
}
