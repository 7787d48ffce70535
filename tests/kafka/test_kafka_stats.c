// SPDX-License-Identifier: Apache-2.0
/*
 * librdkafka's statistics on /metrics (kafka_stats.c): a sink producing to the mock cluster
 * exports its leader brokers UP, per-topic message counts equal to what the sink had delivered, and
 * its brokers' state leaves UP when the cluster goes down; bad statistics documents are counted
 * and leave the kept values alone; names are escaped as Prometheus label values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "counters.h"
#include "kafka_stats.h"
#include "kafka_test_util.h"
#include "sink_kafka.h"

/* noinline: gcc 12 takes the memstream's &page for a dangling pointer once inlined */
__attribute__((noinline)) static char *render(struct counters *reg)
{
	char *page = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&page, &size);

	assert_non_null(f);
	counters_render_prometheus(reg, f);
	fclose(f);
	return page;
}

/* Value of the sample that starts with prefix ("name{labels} "), or -1. */
static long long sample(const char *page, const char *prefix)
{
	const char *p = strstr(page, prefix);

	return p ? strtoll(p + strlen(prefix), NULL, 10) : -1;
}

static int count(const char *page, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(page, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* A fresh page for reg; frees old. */
static char *rerender(struct counters *reg, char *old)
{
	char *page = render(reg);

	free(old);
	return page;
}

static void test_mock_cluster(void **state)
{
	static const char *const opts[] = { "statistics.interval.ms=100" };
	struct kafka_sink_config kc;
	struct kafka_sink_stats st;
	struct mock_kafka m;
	struct flow_record fr;
	struct counters *reg = counters_create();
	char err[512], *page = NULL, prefix[128];
	struct sink *s;
	int i;

	(void)state;
	assert_int_equal(mock_kafka_start(&m, 3, 2), 0);
	kafka_sink_config_init(&kc);
	kc.brokers = m.bootstraps;
	kc.node_name = "node-t";
	kc.flush_timeout_ms = 2000;
	kc.options = opts;
	kc.n_options = 1;
	s = sink_kafka_create(&kc, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(sink_register_counters(s, reg), 0);
	for (i = 0; i < 20; i++) {
		make_flow(&fr, (uint32_t)i);
		assert_int_equal(sink_emit(s, &fr.hdr), 0);
	}
	for (i = 0; i < 500; i++) {
		sink_poll(s);
		sink_kafka_stats(s, &st);
		if (st.type[RECORD_FLOW].delivered == 20)
			break;
		usleep(10000);
	}
	assert_int_equal(st.type[RECORD_FLOW].delivered, 20);
	/* statistics after the deliveries: every broker UP, the topic's messages all counted */
	snprintf(prefix, sizeof(prefix), "flowscope_kafka_topic_messages_total{topic=\"%s\"} ",
		 "flowscope.flows");
	for (i = 0; i < 300; i++) {
		sink_poll(s);
		page = rerender(reg, page);
		if (sample(page, prefix) == 20 && count(page, ",state=\"UP\"} 1\n") >= 1)
			break;
		usleep(10000);
	}
	assert_int_equal(sample(page, prefix), 20);
	/* librdkafka connects only the brokers it needs (leaders): one UP at least, and every
	 * broker of the cluster listed */
	assert_true(count(page, ",state=\"UP\"} 1\n") >= 1);
	assert_true(count(page, "flowscope_kafka_broker_state{broker=\"127.0.0.1:") >= 3);
	snprintf(prefix, sizeof(prefix), "flowscope_kafka_topic_bytes_total{topic=\"%s\"} ",
		 "flowscope.flows");
	assert_true(sample(page, prefix) >= (long long)st.type[RECORD_FLOW].delivered_bytes);
	assert_non_null(strstr(page, "# TYPE flowscope_kafka_broker_rtt_microseconds gauge\n"));
	assert_non_null(strstr(page, ",queue=\"waitresp\"} "));
	assert_non_null(strstr(page, ",queue=\"outbuf\"} "));
	assert_true(sample(page, "flowscope_kafka_stats_total{result=\"parsed\"} ") > 0);
	assert_int_equal(sample(page, "flowscope_kafka_stats_total{result=\"error\"} "), 0);

	/* every broker down: no broker stays UP in the statistics */
	mock_kafka_set_all(&m, false);
	for (i = 0; i < 1000; i++) {
		sink_poll(s);
		page = rerender(reg, page);
		if (count(page, ",state=\"UP\"} 1\n") == 0)
			break;
		usleep(10000);
	}
	assert_int_equal(count(page, ",state=\"UP\"} 1\n"), 0);
	assert_true(count(page, "flowscope_kafka_broker_state{broker=") >= 3);

	free(page);
	counters_destroy(reg);
	sink_destroy(s);
	mock_kafka_stop(&m);
}

static void test_bad_documents_and_escaping(void **state)
{
	static const char good[] = "{\"brokers\":{\"b\\\"1\\n\\\\x:9092/"
				   "1\":{\"state\":\"UP\",\"rtt\":{\"avg\":1500},"
				   "\"outbuf_cnt\":3,\"waitresp_cnt\":2,\"txretries\":7,\"txerrs\":"
				   "1}},"
				   "\"topics\":{\"t1\":{\"partitions\":{\"0\":{\"txbytes\":100,"
				   "\"txmsgs\":2},"
				   "\"-1\":{\"txbytes\":0,\"txmsgs\":0}}}}}";
	static const char *const bad[] = { "not json", "{}", "[1,2]", "{\"brokers\":{}}",
					   "{\"brokers\":1,\"topics\":{}}" };
	struct kafka_stats *st = kafka_stats_create();
	struct counters *reg = counters_create();
	char *page;

	(void)state;
	assert_int_equal(kafka_stats_register_counters(st, reg), 0);
	assert_int_equal(kafka_stats_update(st, good, strlen(good)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kafka_stats_update(st, bad[i], strlen(bad[i])), -EINVAL);
	/* not NUL-terminated: only len bytes are read */
	assert_int_equal(kafka_stats_update(st, good, strlen(good) - 1), -EINVAL);
	page = render(reg);
	assert_non_null(strstr(page, "flowscope_kafka_broker_state{broker=\"b\\\"1\\n\\\\x:9092/"
				     "1\","
				     "state=\"UP\"} 1\n"));
	assert_non_null(strstr(page, "flowscope_kafka_broker_rtt_microseconds{broker=\"b\\\"1\\n"
				     "\\\\x:9092/1\"} 1500\n"));
	assert_non_null(strstr(page, ",queue=\"outbuf\"} 3\n"));
	assert_non_null(strstr(page, ",queue=\"waitresp\"} 2\n"));
	assert_non_null(strstr(page, "flowscope_kafka_broker_retries_total{broker="));
	assert_int_equal(sample(page, "flowscope_kafka_topic_bytes_total{topic=\"t1\"} "), 100);
	assert_int_equal(sample(page, "flowscope_kafka_topic_messages_total{topic=\"t1\"} "), 2);
	assert_int_equal(sample(page, "flowscope_kafka_stats_total{result=\"parsed\"} "), 1);
	assert_int_equal(sample(page, "flowscope_kafka_stats_total{result=\"error\"} "), 6);
	free(page);
	counters_destroy(reg);
	kafka_stats_destroy(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_documents_and_escaping),
		cmocka_unit_test(test_mock_cluster),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
