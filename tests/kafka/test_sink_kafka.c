// SPDX-License-Identifier: Apache-2.0
/*
 * Kafka sink against librdkafka's mock cluster (3 brokers, 4 partitions per topic, loopback):
 * records produced come back from a consumer exactly once, decoded field by field.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "flowscope/v1/records.pb-c.h"
#include "kafka_test_util.h"
#include "record_proto.h"
#include "sink_kafka.h"

#define N_FLOWS 3000
#define N_DNS 500

static int setup(void **state)
{
	return mock_kafka_state_start(state, 3, 4);
}

static struct sink *create(const struct mock_kafka *m, enum kafka_format format, uint32_t per_msg,
			   const char *const *options, size_t n_options)
{
	struct kafka_sink_config cfg;
	char errstr[512];
	struct sink *s;

	kafka_sink_config_init(&cfg);
	cfg.brokers = m->bootstraps;
	cfg.format = format;
	cfg.records_per_message = per_msg;
	cfg.node_name = "node-a";
	cfg.options = options;
	cfg.n_options = n_options;
	s = sink_kafka_create(&cfg, errstr, sizeof(errstr));
	if (!s)
		print_error("sink_kafka_create: %s\n", errstr);
	assert_non_null(s);
	return s;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* seen[pid]++ for every record; checks every field against make_*(pid) on the way. */
struct tally {
	uint32_t *seen;
	uint32_t n_records;
	uint32_t n_seen;
	/* Per partition, per cgroup: last pid seen, for the order check. */
	int64_t last[16][16];
};

static void check_flow_pb(const uint8_t *p, size_t len, struct tally *t, const char *key, int part)
{
	Flowscope__V1__FlowRecord *m = flowscope__v1__flow_record__unpack(NULL, len, p);
	struct flow_record want;
	char want_key[64];

	assert_non_null(m);
	assert_true(m->pid < t->n_records);
	make_flow(&want, m->pid);
	assert_int_equal(m->schema_version, FLOWSCOPE_SCHEMA_VERSION);
	assert_string_equal(m->node, "node-a");
	assert_true(m->start_ns == want.start_ns);
	assert_int_equal(m->cgroup_id, want.cgroup_id);
	assert_string_equal(m->src_addr, want.ip_version == 6 ? "2001:db8::10" : "192.0.2.10");
	assert_int_equal(m->src_port, want.src_port);
	assert_int_equal(m->tx_bytes, want.tx_bytes);
	assert_int_equal(m->rx_bytes, want.rx_bytes);
	assert_string_equal(m->dst_domain, "api.example");
	snprintf(want_key, sizeof(want_key), "node-a/%" PRIu64, want.cgroup_id);
	assert_string_equal(key, want_key);
	/* A cgroup's records arrive in order within its partition. */
	assert_true(t->last[part][m->cgroup_id % 16] < (int64_t)m->pid);
	t->last[part][m->cgroup_id % 16] = m->pid;
	t->seen[m->pid]++;
	t->n_seen++;
	flowscope__v1__flow_record__free_unpacked(m, NULL);
}

static void check_dns_pb(const uint8_t *p, size_t len, struct tally *t, const char *key, int part)
{
	Flowscope__V1__DnsRecord *m = flowscope__v1__dns_record__unpack(NULL, len, p);

	(void)key;
	(void)part;
	assert_non_null(m);
	assert_true(m->pid < t->n_records);
	assert_string_equal(m->node, "node-a");
	assert_string_equal(m->qname, "www.example");
	assert_string_equal(m->qtype, "A");
	assert_int_equal(m->cgroup_id, 2000 + m->pid % 5);
	assert_int_equal(m->n_answers, 2);
	assert_string_equal(m->answers[1]->data, "192.0.2.1");
	t->seen[m->pid]++;
	t->n_seen++;
	flowscope__v1__dns_record__free_unpacked(m, NULL);
}

/* JSON: one object per line; check the fields that identify the record. */
static void check_json_line(const char *line, struct tally *t, bool flow, const char *key)
{
	const char *pid_at = strstr(line, "\"pid\":");
	char want[96];
	uint32_t pid;

	assert_non_null(pid_at);
	pid = strtoul(pid_at + 6, NULL, 10);
	assert_true(pid < t->n_records);
	assert_non_null(strstr(line, "\"schema_version\":1"));
	assert_non_null(strstr(line, "\"node\":\"node-a\""));
	if (flow) {
		struct flow_record want_r;

		make_flow(&want_r, pid);
		snprintf(want, sizeof(want), "\"tx_bytes\":%" PRIu64 ",", want_r.tx_bytes);
		assert_non_null(strstr(line, want));
		snprintf(want, sizeof(want), "\"src_addr\":\"%s\"",
			 want_r.ip_version == 6 ? "2001:db8::10" : "192.0.2.10");
		assert_non_null(strstr(line, want));
		snprintf(want, sizeof(want), "node-a/%" PRIu64, want_r.cgroup_id);
		assert_string_equal(key, want);
	} else {
		assert_non_null(strstr(line, "\"qname\":\"www.example\""));
	}
	t->seen[pid]++;
	t->n_seen++;
}

/* Consume topic and tally its records; returns the number of Kafka messages. */
static size_t read_back(const struct mock_kafka *mk, const char *topic, enum kafka_format format,
			uint32_t per_msg, bool flow, struct tally *t)
{
	struct consumed c;
	size_t i;

	assert_int_equal(consume_topic(mk->bootstraps, topic, &c), 0);
	memset(t->last, -1, sizeof(t->last));
	for (i = 0; i < c.n; i++) {
		const struct consumed_msg *cm = &c.msgs[i];

		if (format == KAFKA_FORMAT_JSON) {
			char *save = NULL, *line;

			assert_int_equal(cm->payload[cm->len - 1], '\n');
			for (line = strtok_r((char *)cm->payload, "\n", &save); line;
			     line = strtok_r(NULL, "\n", &save))
				check_json_line(line, t, flow, cm->key);
		} else if (per_msg == 1) {
			if (flow)
				check_flow_pb(cm->payload, cm->len, t, cm->key, cm->partition);
			else
				check_dns_pb(cm->payload, cm->len, t, cm->key, cm->partition);
		} else {
			const uint8_t *p;
			size_t off = 0, len;
			int ret;

			while ((ret = record_proto_next_delimited(cm->payload, cm->len, &off, &p,
								  &len)) == 1) {
				if (flow)
					check_flow_pb(p, len, t, cm->key, cm->partition);
				else
					check_dns_pb(p, len, t, cm->key, cm->partition);
			}
			assert_int_equal(ret, 0);
		}
	}
	i = c.n;
	consumed_free(&c);
	return i;
}

static void assert_exactly_once(const struct tally *t)
{
	uint32_t i;

	for (i = 0; i < t->n_records; i++)
		if (t->seen[i] != 1)
			fail_msg("record %u seen %u times", i, t->seen[i]);
	assert_int_equal(t->n_seen, t->n_records);
}

/* Produce N_FLOWS flows and N_DNS dns records, read them back, compare. */
static void roundtrip(void **state, enum kafka_format format, uint32_t per_msg)
{
	struct mock_kafka *mk = *state;
	struct kafka_sink_stats st;
	struct flow_record fr;
	struct dns_record dr;
	struct tally t = { 0 };
	struct sink *s = create(mk, format, per_msg, NULL, 0);
	size_t msgs;
	uint32_t i;

	for (i = 0; i < N_FLOWS; i++) {
		make_flow(&fr, i);
		assert_int_equal(sink_emit(s, &fr.hdr), 0);
		if (i < N_DNS) {
			make_dns(&dr, i);
			assert_int_equal(sink_emit(s, &dr.hdr), 0);
		}
		if (i % 100 == 0)
			sink_poll(s);
	}
	sink_end_interval(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.type[RECORD_FLOW].produced, N_FLOWS);
	assert_int_equal(st.type[RECORD_DNS].produced, N_DNS);
	assert_int_equal(sink_destroy(s), 0);

	t.n_records = N_FLOWS;
	t.seen = calloc(N_FLOWS, sizeof(*t.seen));
	msgs = read_back(mk, "flowscope.flows", format, per_msg, true, &t);
	assert_exactly_once(&t);
	if (per_msg == 1)
		assert_int_equal(msgs, N_FLOWS);
	print_message("%s, %u per message: %zu flow messages for %d records\n",
		      format == KAFKA_FORMAT_JSON ? "json" : "protobuf", per_msg, msgs, N_FLOWS);
	if (per_msg > 1) /* at most one partly filled batch per cgroup (7 of them) */
		assert_true(msgs <= N_FLOWS / per_msg + 7 && msgs >= N_FLOWS / per_msg);

	memset(&t, 0, offsetof(struct tally, last));
	t.n_records = N_DNS;
	t.seen = realloc(t.seen, N_FLOWS * sizeof(*t.seen));
	memset(t.seen, 0, N_FLOWS * sizeof(*t.seen));
	msgs = read_back(mk, "flowscope.dns", format, per_msg, false, &t);
	assert_exactly_once(&t);
	if (per_msg == 1)
		assert_int_equal(msgs, N_DNS);
	else
		assert_true(msgs < N_DNS);
	free(t.seen);
}

static void test_protobuf_1(void **state)
{
	roundtrip(state, KAFKA_FORMAT_PROTOBUF, 1);
}

static void test_protobuf_100(void **state)
{
	roundtrip(state, KAFKA_FORMAT_PROTOBUF, 100);
}

static void test_json_1(void **state)
{
	roundtrip(state, KAFKA_FORMAT_JSON, 1);
}

static void test_json_100(void **state)
{
	roundtrip(state, KAFKA_FORMAT_JSON, 100);
}

/* All brokers down mid-stream for 3 s: everything arrives exactly once afterwards. */
static void outage(void **state, uint32_t per_msg)
{
	struct mock_kafka *mk = *state;
	struct sink *s = create(mk, KAFKA_FORMAT_PROTOBUF, per_msg, NULL, 0);
	struct kafka_sink_stats st;
	struct flow_record fr;
	struct tally t = { 0 };
	uint32_t i;
	int tick;

	for (i = 0; i < N_FLOWS / 2; i++) {
		make_flow(&fr, i);
		assert_int_equal(sink_emit(s, &fr.hdr), 0);
	}
	sink_poll(s);
	mock_kafka_set_all(mk, false);
	for (tick = 0; tick < 30; tick++) {
		for (; i < N_FLOWS / 2 + (uint32_t)(tick + 1) * (N_FLOWS / 60); i++) {
			make_flow(&fr, i);
			assert_int_equal(sink_emit(s, &fr.hdr), 0);
		}
		sink_poll(s);
		sleep_ms(100);
	}
	mock_kafka_set_all(mk, true);
	for (; i < N_FLOWS; i++) {
		make_flow(&fr, i);
		assert_int_equal(sink_emit(s, &fr.hdr), 0);
	}
	sink_end_interval(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.type[RECORD_FLOW].produced, N_FLOWS);
	assert_int_equal(st.type[RECORD_FLOW].dropped_queue_full, 0);
	assert_int_equal(sink_destroy(s), 0);

	t.n_records = N_FLOWS;
	t.seen = calloc(N_FLOWS, sizeof(*t.seen));
	read_back(mk, "flowscope.flows", KAFKA_FORMAT_PROTOBUF, per_msg, true, &t);
	assert_exactly_once(&t);
	free(t.seen);
}

static void test_outage_1(void **state)
{
	outage(state, 1);
}

static void test_outage_100(void **state)
{
	outage(state, 100);
}

/* Brokers down, 4 KiB buffer: drops are counted, nothing blocks, nothing crashes. */
static void test_tiny_buffer(void **state)
{
	struct mock_kafka *mk = *state;
	struct kafka_sink_config cfg;
	struct kafka_sink_stats st;
	struct flow_record fr;
	char errstr[512];
	struct sink *s;
	uint64_t dropped = 0, undelivered;
	uint32_t i;
	int ret;

	mock_kafka_set_all(mk, false);
	kafka_sink_config_init(&cfg);
	cfg.brokers = mk->bootstraps;
	cfg.node_name = "node-a";
	cfg.format = KAFKA_FORMAT_PROTOBUF;
	cfg.buffer_bytes = 4096;
	cfg.flush_timeout_ms = 500;
	s = sink_kafka_create(&cfg, errstr, sizeof(errstr));
	assert_non_null(s);
	for (i = 0; i < 10000; i++) {
		make_flow(&fr, i);
		ret = sink_emit(s, &fr.hdr);
		assert_true(ret == 0 || ret == -ENOBUFS);
		dropped += ret == -ENOBUFS;
		if (i % 1000 == 0)
			sink_poll(s);
	}
	sink_kafka_stats(s, &st);
	assert_true(dropped > 9000);
	assert_int_equal(st.type[RECORD_FLOW].dropped_queue_full, dropped);
	assert_int_equal(st.type[RECORD_FLOW].produced + dropped, 10000);
	assert_true(st.buffered_bytes <= 4096);
	undelivered = sink_destroy(s);
	assert_int_equal(undelivered, 10000 - dropped);
	mock_kafka_set_all(mk, true);
}

static void expect_create_error(const char *brokers, const char *option, const char *want,
				const char *must_not)
{
	struct kafka_sink_config cfg;
	const char *opts[1] = { option };
	char errstr[512] = "";

	kafka_sink_config_init(&cfg);
	cfg.brokers = brokers;
	cfg.node_name = "node-a";
	cfg.options = opts;
	cfg.n_options = option ? 1 : 0;
	assert_null(sink_kafka_create(&cfg, errstr, sizeof(errstr)));
	print_message("errstr: %s\n", errstr);
	assert_non_null(strstr(errstr, want));
	if (must_not)
		assert_null(strstr(errstr, must_not));
}

static void test_bad_config(void **state)
{
	char errstr[512];

	(void)state;
	expect_create_error("", NULL, "no kafka brokers", NULL);
	expect_create_error("127.0.0.1:9092,", NULL, "empty entry", NULL);
	expect_create_error("127.0.0.1:99999", NULL, "port must be", NULL);
	expect_create_error("127.0.0.1:", NULL, "empty port", NULL);
	expect_create_error("host name:9092", NULL, "bad kafka broker address", NULL);
	expect_create_error("[2001:db8::1:9092", NULL, "IPv6", NULL);
	expect_create_error("http://broker:9092", NULL, "unknown protocol", NULL);
	expect_create_error("127.0.0.1:9092", "no.such.option=1", "unknown kafka option", NULL);
	expect_create_error("127.0.0.1:9092", "novalue", "key=value", NULL);
	/* A secret must not appear even when the option is malformed. */
	expect_create_error("127.0.0.1:9092", "ssl.key.password", "key=value", "ssl.key.password");
	expect_create_error("127.0.0.1:9092", "enable.idempotence=hunter2-secret",
			    "enable.idempotence", NULL);
	expect_create_error("127.0.0.1:9092", "acks=1", "kafka producer", NULL);

	assert_true(sink_kafka_option_is_secret("sasl.password"));
	assert_true(sink_kafka_option_is_secret("ssl.key.pem"));
	assert_true(sink_kafka_option_is_secret("sasl.oauthbearer.client.secret"));
	assert_false(sink_kafka_option_is_secret("security.protocol"));
	assert_int_equal(sink_kafka_check_option("linger.ms=20", errstr, sizeof(errstr)), 0);
	assert_int_equal(sink_kafka_check_brokers("a.example:9092, [2001:db8::1]:9093,b", errstr,
						  sizeof(errstr)),
			 0);
	assert_int_equal(sink_kafka_check_brokers("SASL_SSL://kafka-0.kafka:9093", errstr,
						  sizeof(errstr)),
			 0);
}

/* No broker listening: creation succeeds, records wait in the buffer. */
static void test_unreachable_at_start(void **state)
{
	struct kafka_sink_config cfg;
	struct kafka_sink_stats st;
	struct flow_record fr;
	char errstr[512];
	struct sink *s;
	uint32_t i;

	(void)state;
	kafka_sink_config_init(&cfg);
	cfg.brokers = "127.0.0.1:1";
	cfg.node_name = "node-a";
	cfg.flush_timeout_ms = 200;
	s = sink_kafka_create(&cfg, errstr, sizeof(errstr));
	assert_non_null(s);
	for (i = 0; i < 100; i++) {
		make_flow(&fr, i);
		assert_int_equal(sink_emit(s, &fr.hdr), 0);
	}
	for (i = 0; i < 10; i++) {
		sink_poll(s);
		sleep_ms(50);
	}
	sink_kafka_stats(s, &st);
	assert_int_equal(st.type[RECORD_FLOW].produced, 100);
	assert_int_equal(st.type[RECORD_FLOW].delivered, 0);
	assert_int_equal(sink_destroy(s), 100);
}

/*
 * A record type without a codec (out of range) is refused and
 * counted, never encoded as another type: the DNS topic holds exactly the DNS records.
 */
static void unknown_types(void **state, enum kafka_format format, uint32_t per_msg)
{
	struct mock_kafka *mk = *state;
	struct kafka_sink_stats st;
	struct dns_record dr;
	struct consumed c = { 0 };
	struct sink *s = create(mk, format, per_msg, NULL, 0);
	const unsigned int bad[] = { RECORD_TYPE_MAX, RECORD_TYPE_MAX + 1, 4, 5, 7, 255 };
	uint32_t i;

	for (i = 0; i < 10; i++) {
		make_dns(&dr, i);
		assert_int_equal(sink_emit(s, &dr.hdr), 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_dns(&dr, 100 + i);
		dr.type = (enum record_type)bad[i];
		assert_int_equal(sink_emit(s, &dr.hdr), -EPROTONOSUPPORT);
	}
	sink_end_interval(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.unknown_type, sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(st.type[RECORD_DNS].produced, 10);
	assert_int_equal(st.type[RECORD_FLOW].produced, 0);
	assert_int_equal(st.type[RECORD_EVENT].produced, 0);
	/* the refused records count as not delivered */
	assert_int_equal(sink_destroy(s), sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(consume_topic(mk->bootstraps, "flowscope.dns", &c), 0);
	if (per_msg == 1) {
		assert_int_equal(c.n, 10);
	} else {
		size_t records = 0;

		for (size_t m = 0; m < c.n; m++) {
			const uint8_t *msg;
			size_t off = 0, mlen;

			while (record_proto_next_delimited(c.msgs[m].payload, c.msgs[m].len, &off,
							   &msg, &mlen) == 1)
				records++;
		}
		assert_int_equal(records, 10);
	}
	consumed_free(&c);
}

static void test_unknown_type_json_1(void **state)
{
	unknown_types(state, KAFKA_FORMAT_JSON, 1);
}

static void test_unknown_type_protobuf_100(void **state)
{
	unknown_types(state, KAFKA_FORMAT_PROTOBUF, 100);
}

/*
 * A DNS record of 3000 answers whose long names and data are all escapes (6 bytes of JSON each):
 * ~9 MB of JSON, ~1.5 MB of protobuf, far past the sink's first 64 KiB of scratch. It is
 * produced whole, alone or in a batch, and comes back from the topic with every answer.
 */
static void huge_dns(void **state, enum kafka_format format, uint32_t per_msg)
{
	enum { N = 3000, NAME = 250 };
	struct mock_kafka *mk = *state;
	const char *const options[] = { "message.max.bytes=64000000" };
	struct dns_answer_view *answers = calloc(N, sizeof(*answers));
	char *name = malloc(NAME + 1);
	struct kafka_sink_stats st;
	struct consumed c = { 0 };
	struct dns_record dr;
	struct sink *s = create(mk, format, per_msg, options, 1);
	size_t records = 0;

	assert_non_null(answers);
	assert_non_null(name);
	for (int i = 0; i < NAME; i++)
		name[i] = (char)(1 + i % 31);
	name[NAME] = 0;
	for (int i = 0; i < N; i++) {
		answers[i].name = name;
		answers[i].type = 5;
		answers[i].ttl = 300;
		answers[i].data = name;
	}
	/* a small record first, so a batch holds one when the huge one comes */
	make_dns(&dr, 1);
	assert_int_equal(sink_emit(s, &dr.hdr), 0);
	make_dns(&dr, 2);
	dr.answers = answers;
	dr.n_answers = N;
	assert_int_equal(sink_emit(s, &dr.hdr), 0);
	sink_end_interval(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.type[RECORD_DNS].dropped_error, 0);
	assert_int_equal(st.type[RECORD_DNS].produced, 2);
	assert_int_equal(sink_destroy(s), 0);
	assert_int_equal(consume_topic(mk->bootstraps, "flowscope.dns", &c), 0);
	for (size_t m = 0; m < c.n; m++) {
		const uint8_t *msg = c.msgs[m].payload;
		size_t off = 0, mlen = c.msgs[m].len;

		do {
			if (per_msg > 1 &&
			    record_proto_next_delimited(c.msgs[m].payload, c.msgs[m].len, &off,
							&msg, &mlen) != 1)
				break;
			if (format == KAFKA_FORMAT_PROTOBUF) {
				Flowscope__V1__DnsRecord *d =
					flowscope__v1__dns_record__unpack(NULL, mlen, msg);

				assert_non_null(d);
				assert_true(d->n_answers == 2 || d->n_answers == N);
				if (d->n_answers == N)
					assert_true(mlen > 64 * 1024);
				flowscope__v1__dns_record__free_unpacked(d, NULL);
			} else {
				size_t names = 0;
				char *text = strndup((const char *)msg, mlen);

				assert_non_null(text);
				for (char *p = text; (p = strstr(p, "{\"name\":\"\\u0001\\u0002"));
				     p++)
					names++;
				assert_true(names == 0 ||
					    (names == N && mlen > (size_t)N * NAME * 6));
				free(text);
			}
			records++;
		} while (per_msg > 1);
	}
	assert_int_equal(records, 2);
	consumed_free(&c);
	free(name);
	free(answers);
}

static void test_huge_dns_json_1(void **state)
{
	huge_dns(state, KAFKA_FORMAT_JSON, 1);
}

static void test_huge_dns_protobuf_100(void **state)
{
	huge_dns(state, KAFKA_FORMAT_PROTOBUF, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_protobuf_1, setup, mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_protobuf_100, setup, mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_json_1, setup, mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_json_100, setup, mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_outage_1, setup, mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_outage_100, setup, mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_tiny_buffer, setup, mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_unknown_type_json_1, setup,
						mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_unknown_type_protobuf_100, setup,
						mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_huge_dns_json_1, setup, mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_huge_dns_protobuf_100, setup,
						mock_kafka_state_stop),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_unreachable_at_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
