// SPDX-License-Identifier: Apache-2.0
/*
 * The Kafka sink's protobuf-sr format against librdkafka's mock cluster: every message is the
 * record type's wire prefix (sr_wire_prefix()) followed by exactly one bare message, also for a
 * record far larger than the sink's first scratch buffer; a batch size other than 1 and a
 * missing prefix are refused at creation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flowscope/v1/records.pb-c.h"
#include "kafka_test_util.h"
#include "schema_registry.h"
#include "sink_kafka.h"

#define N_FLOWS 300
#define N_DNS 60
#define N_HUGE_ANSWERS 3000

static int setup(void **state)
{
	return mock_kafka_state_start(state, 1, 2);
}

/* ids and message indexes as a registry and records.proto would give them */
static const struct {
	uint32_t id;
	int index;
} prefixes[RECORD_TYPE_MAX] = {
	[RECORD_FLOW] = { 11, 0 },
	[RECORD_DNS] = { 0x01020304, 3 },
	[RECORD_EVENT] = { 13, 4 },
};

static void sr_config(struct kafka_sink_config *cfg, const char *brokers)
{
	static const char *const options[] = { "message.max.bytes=64000000" };

	kafka_sink_config_init(cfg);
	cfg->brokers = brokers;
	cfg->format = KAFKA_FORMAT_PROTOBUF_SR;
	cfg->node_name = "node-a";
	cfg->options = options;
	cfg->n_options = 1;
	for (int t = 0; t < RECORD_TYPE_MAX; t++) {
		ssize_t n = sr_wire_prefix(prefixes[t].id, prefixes[t].index,
					   cfg->value_prefix[t].bytes,
					   sizeof(cfg->value_prefix[t].bytes));

		assert_true(n > 0);
		cfg->value_prefix[t].len = (size_t)n;
	}
}

static void test_every_message_is_prefix_and_one_record(void **state)
{
	struct mock_kafka *mk = *state;
	struct kafka_sink_config cfg;
	struct dns_answer_view *answers = calloc(N_HUGE_ANSWERS, sizeof(*answers));
	static const uint8_t flow_prefix[] = { 0, 0, 0, 0, 11, 0 };
	static const uint8_t dns_prefix[] = { 0, 1, 2, 3, 4, 2, 6 };
	char errstr[512], name[200];
	struct consumed c = { 0 };
	struct flow_record fr;
	struct dns_record dr;
	struct sink *s;
	uint32_t seen_flows[N_FLOWS] = { 0 }, seen_dns[N_DNS + 1] = { 0 };
	bool huge_seen = false;

	assert_non_null(answers);
	sr_config(&cfg, mk->bootstraps);
	s = sink_kafka_create(&cfg, errstr, sizeof(errstr));
	if (!s)
		fail_msg("sink_kafka_create: %s", errstr);
	for (uint32_t i = 0; i < N_FLOWS; i++) {
		make_flow(&fr, i);
		assert_int_equal(sink_emit(s, &fr.hdr), 0);
		if (i < N_DNS) {
			make_dns(&dr, i);
			assert_int_equal(sink_emit(s, &dr.hdr), 0);
		}
	}
	/* a record of ~700 KB of protobuf, past the first 64 KiB scratch buffer */
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	for (int i = 0; i < N_HUGE_ANSWERS; i++) {
		answers[i].name = name;
		answers[i].type = 5;
		answers[i].ttl = 300;
		answers[i].data = name;
	}
	make_dns(&dr, N_DNS);
	dr.answers = answers;
	dr.n_answers = N_HUGE_ANSWERS;
	assert_int_equal(sink_emit(s, &dr.hdr), 0);
	assert_int_equal(sink_destroy(s), 0);

	assert_int_equal(consume_topic(mk->bootstraps, "flowscope.flows", &c), 0);
	assert_int_equal(c.n, N_FLOWS);
	for (size_t m = 0; m < c.n; m++) {
		const struct consumed_msg *cm = &c.msgs[m];
		Flowscope__V1__FlowRecord *f;

		assert_true(cm->len > sizeof(flow_prefix));
		assert_memory_equal(cm->payload, flow_prefix, sizeof(flow_prefix));
		f = flowscope__v1__flow_record__unpack(NULL, cm->len - sizeof(flow_prefix),
						       cm->payload + sizeof(flow_prefix));
		assert_non_null(f);
		assert_true(f->pid < N_FLOWS);
		make_flow(&fr, f->pid);
		assert_int_equal(f->cgroup_id, fr.cgroup_id);
		assert_int_equal(f->tx_bytes, fr.tx_bytes);
		assert_string_equal(f->node, "node-a");
		seen_flows[f->pid]++;
		flowscope__v1__flow_record__free_unpacked(f, NULL);
	}
	for (uint32_t i = 0; i < N_FLOWS; i++)
		assert_int_equal(seen_flows[i], 1);
	consumed_free(&c);

	memset(&c, 0, sizeof(c));
	assert_int_equal(consume_topic(mk->bootstraps, "flowscope.dns", &c), 0);
	assert_int_equal(c.n, N_DNS + 1);
	for (size_t m = 0; m < c.n; m++) {
		const struct consumed_msg *cm = &c.msgs[m];
		Flowscope__V1__DnsRecord *d;

		assert_true(cm->len > sizeof(dns_prefix));
		assert_memory_equal(cm->payload, dns_prefix, sizeof(dns_prefix));
		d = flowscope__v1__dns_record__unpack(NULL, cm->len - sizeof(dns_prefix),
						      cm->payload + sizeof(dns_prefix));
		assert_non_null(d);
		assert_true(d->pid <= N_DNS);
		if (d->pid == N_DNS) {
			assert_int_equal(d->n_answers, N_HUGE_ANSWERS);
			assert_true(cm->len > 64 * 1024);
			huge_seen = true;
		} else {
			assert_int_equal(d->n_answers, 2);
		}
		seen_dns[d->pid]++;
		flowscope__v1__dns_record__free_unpacked(d, NULL);
	}
	for (uint32_t i = 0; i <= N_DNS; i++)
		assert_int_equal(seen_dns[i], 1);
	assert_true(huge_seen);
	consumed_free(&c);
	free(answers);
}

static void test_refused_configs(void **state)
{
	struct kafka_sink_config cfg;
	char errstr[512];

	(void)state;
	sr_config(&cfg, "127.0.0.1:9092");
	cfg.records_per_message = 100;
	assert_null(sink_kafka_create(&cfg, errstr, sizeof(errstr)));
	assert_non_null(strstr(errstr, "protobuf-sr writes one record per message"));

	sr_config(&cfg, "127.0.0.1:9092");
	cfg.value_prefix[RECORD_DNS].len = 0;
	assert_null(sink_kafka_create(&cfg, errstr, sizeof(errstr)));
	assert_non_null(strstr(errstr, "no schema id for dns records"));

	sr_config(&cfg, "127.0.0.1:9092");
	cfg.value_prefix[RECORD_FLOW].len = KAFKA_VALUE_PREFIX_MAX + 1;
	assert_null(sink_kafka_create(&cfg, errstr, sizeof(errstr)));
	assert_non_null(strstr(errstr, "no schema id for flow records"));

	assert_string_equal(kafka_format_name(KAFKA_FORMAT_PROTOBUF_SR), "protobuf-sr");
	{
		enum kafka_format f;

		assert_int_equal(kafka_format_parse("protobuf-sr", &f), 0);
		assert_int_equal(f, KAFKA_FORMAT_PROTOBUF_SR);
		assert_int_equal(kafka_format_parse("protobuf_sr", &f), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_message_is_prefix_and_one_record, setup,
						mock_kafka_state_stop),
		cmocka_unit_test(test_refused_configs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
