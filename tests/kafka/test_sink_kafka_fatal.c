// SPDX-License-Identifier: Apache-2.0
/*
 * Fatal producer errors, against librdkafka's mock cluster: the sink replaces a producer that
 * failed fatally by a new one and sends on, and every record is either read back from the
 * topic exactly once or counted as lost (lost_fatal, /metrics), exactly.
 *
 * The faults are librdkafka's own: rd_kafka_test_fatal_error() on the sink's producer (whose
 * handle the test learns by wrapping rd_kafka_new() with -Wl,--wrap: the sink under test is
 * the real one) and a Produce error the mock cluster injects, which the idempotent producer
 * cannot repair. A record that failed for its own reason on a producer that then failed fatally is
 * failed, not lost.
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

#include "counters.h"
#include "flowscope/v1/records.pb-c.h"
#include "kafka_test_util.h"
#include "sink_kafka.h"

/* Every producer librdkafka makes in this process; the sink's is the last one made. */
static rd_kafka_t *last_producer;
static int producers_made;

rd_kafka_t *__real_rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
				size_t errstr_size);
rd_kafka_t *__wrap_rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
				size_t errstr_size);

rd_kafka_t *__wrap_rd_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *errstr,
				size_t errstr_size)
{
	rd_kafka_t *rk = __real_rd_kafka_new(type, conf, errstr, errstr_size);

	if (rk && type == RD_KAFKA_PRODUCER) {
		last_producer = rk;
		producers_made++;
	}
	return rk;
}

static int setup(void **state)
{
	return mock_kafka_state_start(state, 3, 4);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct sink *create(const struct mock_kafka *m, uint32_t flush_timeout_ms)
{
	struct kafka_sink_config cfg;
	char errstr[512];
	struct sink *s;

	kafka_sink_config_init(&cfg);
	cfg.brokers = m->bootstraps;
	cfg.format = KAFKA_FORMAT_PROTOBUF;
	cfg.node_name = "node-a";
	cfg.flush_timeout_ms = flush_timeout_ms;
	s = sink_kafka_create(&cfg, errstr, sizeof(errstr));
	if (!s)
		print_error("sink_kafka_create: %s\n", errstr);
	assert_non_null(s);
	return s;
}

static void emit_flows(struct sink *s, uint32_t from, uint32_t to)
{
	struct flow_record fr;

	for (uint32_t i = from; i < to; i++) {
		make_flow(&fr, i);
		assert_int_equal(sink_emit(s, &fr.hdr), 0);
	}
}

/* Poll until every flow produced has a delivery report (delivered or failed), or 20 s. */
static void settle(struct sink *s)
{
	struct kafka_sink_stats st;

	for (int i = 0; i < 400; i++) {
		sink_poll(s);
		sink_kafka_stats(s, &st);
		if (st.type[RECORD_FLOW].delivered + st.type[RECORD_FLOW].failed ==
		    st.type[RECORD_FLOW].produced)
			return;
		sleep_ms(50);
	}
	fail_msg("delivery reports missing: produced %" PRIu64 " delivered %" PRIu64 " failed "
		 "%" PRIu64,
		 st.type[RECORD_FLOW].produced, st.type[RECORD_FLOW].delivered,
		 st.type[RECORD_FLOW].failed);
}

/* How often each flow (by pid) is on the topic. */
static uint32_t *read_flows(const struct mock_kafka *mk, uint32_t n, uint32_t *total)
{
	uint32_t *seen = calloc(n, sizeof(*seen));
	struct consumed c;

	assert_non_null(seen);
	assert_int_equal(consume_topic(mk->bootstraps, "flowscope.flows", &c), 0);
	*total = 0;
	for (size_t i = 0; i < c.n; i++) {
		Flowscope__V1__FlowRecord *m =
			flowscope__v1__flow_record__unpack(NULL, c.msgs[i].len, c.msgs[i].payload);

		assert_non_null(m);
		assert_true(m->pid < n);
		seen[m->pid]++;
		(*total)++;
		flowscope__v1__flow_record__free_unpacked(m, NULL);
	}
	consumed_free(&c);
	return seen;
}

/* The value of one sample in the /metrics page of s's counters, or -1 when absent. */
static long long metric(struct sink *s, const char *sample)
{
	struct counters *reg = counters_create();
	char *page = NULL, *at;
	size_t len = 0;
	long long v = -1;
	FILE *f;

	assert_non_null(reg);
	assert_int_equal(sink_register_counters(s, reg), 0);
	f = open_memstream(&page, &len);
	assert_non_null(f);
	counters_render_prometheus(reg, f);
	fclose(f);
	/* a sample line, not its family's "# HELP" line */
	for (at = page; (at = strstr(at, sample)); at++) {
		if ((at == page || at[-1] == '\n') && at[strlen(sample)] == ' ') {
			v = strtoll(at + strlen(sample) + 1, NULL, 10);
			break;
		}
	}
	free(page);
	counters_destroy(reg);
	return v;
}

/*
 * Shared checks at the end: every record is on the topic once or counted lost, and the
 * records sent after the new producer took over (from `after`) all arrived.
 */
static void check_accounting(struct mock_kafka *mk, struct sink *s, uint32_t n, uint32_t after)
{
	struct kafka_sink_stats st;
	uint32_t *seen, total, undelivered;
	uint64_t lost;

	undelivered = sink_flush(s);
	sink_kafka_stats(s, &st);
	lost = st.type[RECORD_FLOW].lost_fatal;
	print_message("produced %" PRIu64 ", delivered %" PRIu64 ", failed %" PRIu64
		      ", dropped %" PRIu64 ", lost to fatal errors %" PRIu64 "\n",
		      st.type[RECORD_FLOW].produced, st.type[RECORD_FLOW].delivered,
		      st.type[RECORD_FLOW].failed, st.type[RECORD_FLOW].dropped_error, lost);
	assert_int_equal(st.type[RECORD_FLOW].produced + st.type[RECORD_FLOW].dropped_error, n);
	assert_int_equal(st.type[RECORD_FLOW].delivered + st.type[RECORD_FLOW].failed,
			 st.type[RECORD_FLOW].produced);
	/* nothing failed but what the fatal error took */
	assert_int_equal(st.type[RECORD_FLOW].failed + st.type[RECORD_FLOW].dropped_error, lost);
	assert_int_equal(undelivered, lost);
	assert_int_equal(st.buffered_bytes, 0);
	/* /metrics tells the same */
	assert_int_equal(metric(s, "flowscope_kafka_records_lost_total{type=\"flow\","
				   "reason=\"fatal_error\"}"),
			 (long long)lost);
	assert_int_equal(metric(s, "flowscope_kafka_producer_fatal_errors_total"),
			 (long long)st.fatal_errors);
	assert_int_equal(metric(s, "flowscope_kafka_producer_restarts_total"),
			 (long long)st.producer_restarts);
	assert_int_equal(sink_destroy(s), lost);

	seen = read_flows(mk, n, &total);
	for (uint32_t i = 0; i < n; i++) {
		if (seen[i] > 1)
			fail_msg("flow %u on the topic %u times", i, seen[i]);
		if (i >= after && seen[i] != 1)
			fail_msg("flow %u, sent after the new producer took over, is missing", i);
	}
	/* exactly: what is not on the topic is what was counted as lost */
	assert_int_equal(total, st.type[RECORD_FLOW].delivered);
	assert_int_equal(n - total, lost);
	free(seen);
}

/*
 * Records delivered, then records in flight (brokers 300 ms away) when the producer fails,
 * then records produced before the sink saw the error (the produce call sees it), then more.
 */
static void test_fatal_error_new_producer(void **state)
{
	struct mock_kafka *mk = *state;
	struct sink *s = create(mk, 2000);
	rd_kafka_t *first = last_producer;
	struct kafka_sink_stats st;
	char why[256] = "";
	int made = producers_made;

	emit_flows(s, 0, 1000);
	settle(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.type[RECORD_FLOW].delivered, 1000);
	assert_true(sink_ready(s, why, sizeof(why)));

	for (int id = 1; id <= mk->n_brokers; id++)
		rd_kafka_mock_broker_set_rtt(mk->mc, id, 300);
	emit_flows(s, 1000, 2000);
	sink_poll(s);
	sleep_ms(100);
	assert_int_equal(rd_kafka_test_fatal_error(first,
						   RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
						   "flowscope unit test"),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	/* not polled yet: the produce call meets the error and the record takes the new one */
	emit_flows(s, 2000, 2100);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.fatal_errors, 1);
	assert_int_equal(st.producer_restarts, 1);
	assert_int_equal(producers_made, made + 1);
	assert_ptr_not_equal(last_producer, first);
	/* not ready until the new producer delivers */
	assert_false(sink_ready(s, why, sizeof(why)));
	print_message("readyz: %s\n", why);
	assert_non_null(strstr(why, "kafka: producer failed (test_fatal_error: flowscope unit "
				    "test)"));

	for (int id = 1; id <= mk->n_brokers; id++)
		rd_kafka_mock_broker_set_rtt(mk->mc, id, 0);
	settle(s);
	assert_true(sink_ready(s, why, sizeof(why)));
	emit_flows(s, 2100, 3000);
	settle(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.fatal_errors, 1);
	assert_int_equal(st.producer_restarts, 1);
	check_accounting(mk, s, 3000, 2000);
}

/*
 * The new producer fails too before it delivered anything: the next one waits 1 s, records
 * meanwhile are refused and counted as lost, /readyz says why, and then delivery goes on.
 */
static void test_repeated_fatal_error_backs_off(void **state)
{
	struct mock_kafka *mk = *state;
	struct sink *s = create(mk, 2000);
	struct kafka_sink_stats st;
	char why[256] = "";

	emit_flows(s, 0, 100);
	settle(s);
	assert_int_equal(rd_kafka_test_fatal_error(last_producer, RD_KAFKA_RESP_ERR__FATAL, "one"),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	sink_poll(s); /* the error callback, then the new producer */
	sink_kafka_stats(s, &st);
	assert_int_equal(st.producer_restarts, 1);
	/* fails before its first delivery */
	assert_int_equal(rd_kafka_test_fatal_error(last_producer, RD_KAFKA_RESP_ERR__FATAL, "two"),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	sink_poll(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.fatal_errors, 2);
	assert_int_equal(st.producer_restarts, 1);
	assert_false(sink_ready(s, why, sizeof(why)));
	assert_non_null(strstr(why, "no new producer yet"));
	/* refused by the failed producer, counted as lost */
	for (uint32_t i = 100; i < 150; i++) {
		struct flow_record fr;

		make_flow(&fr, i);
		assert_int_equal(sink_emit(s, &fr.hdr), -EIO);
	}
	sink_kafka_stats(s, &st);
	assert_int_equal(st.type[RECORD_FLOW].dropped_error, 50);
	assert_int_equal(st.type[RECORD_FLOW].lost_fatal, 50);
	sleep_ms(1100);
	sink_poll(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.producer_restarts, 2);
	emit_flows(s, 150, 300);
	settle(s);
	assert_true(sink_ready(s, why, sizeof(why)));
	check_accounting(mk, s, 300, 150);
}

/*
 * A real fault from the mock cluster: the brokers answer Produce with
 * OUT_OF_ORDER_SEQUENCE_NUMBER, a sequence gap the idempotent producer cannot repair, so
 * librdkafka raises the fatal error itself.
 */
static void test_broker_sequence_error(void **state)
{
	struct mock_kafka *mk = *state;
	struct sink *s = create(mk, 2000);
	struct kafka_sink_stats st;

	emit_flows(s, 0, 200);
	settle(s);
	rd_kafka_mock_push_request_errors(mk->mc, 0 /* Produce */, 1,
					  RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
	emit_flows(s, 200, 400);
	for (int i = 0; i < 200; i++) {
		sink_poll(s);
		sink_kafka_stats(s, &st);
		if (st.producer_restarts)
			break;
		sleep_ms(50);
	}
	assert_int_equal(st.fatal_errors, 1);
	assert_int_equal(st.producer_restarts, 1);
	emit_flows(s, 400, 600);
	settle(s);
	check_accounting(mk, s, 600, 400);
}

/* Records that failed with err, by the sink's own per-reason counts. */
static uint64_t failed_with(const struct kafka_sink_stats *st, rd_kafka_resp_err_t err)
{
	for (size_t i = 0; i < st->n_reasons; i++)
		if (st->reasons[i].err == (int)err)
			return st->reasons[i].failed[RECORD_FLOW];
	return 0;
}

/*
 * A message that failed for its own reason is not lost to a fatal error that the producer
 * raised before its delivery report was served: records time out (brokers down,
 * message.timeout.ms 300), then the producer fails fatally, then the sink polls. They count as
 * failed with _MSG_TIMED_OUT only; each record exactly once (delivered or failed, with one
 * reason), and the topic has every delivered one.
 */
static void test_own_error_on_fatal_producer_is_not_lost(void **state)
{
	static const char *const options[] = { "message.timeout.ms=300", "reconnect.backoff.max.ms="
									 "100" };
	struct mock_kafka *mk = *state;
	struct kafka_sink_config cfg;
	struct kafka_sink_stats st;
	uint32_t *seen, total;
	char errstr[512];
	struct sink *s;

	kafka_sink_config_init(&cfg);
	cfg.brokers = mk->bootstraps;
	cfg.format = KAFKA_FORMAT_PROTOBUF;
	cfg.node_name = "node-a";
	cfg.flush_timeout_ms = 2000;
	cfg.options = options;
	cfg.n_options = 2;
	s = sink_kafka_create(&cfg, errstr, sizeof(errstr));
	if (!s)
		fail_msg("sink_kafka_create: %s", errstr);

	emit_flows(s, 0, 100);
	settle(s);
	mock_kafka_set_all(mk, false);
	emit_flows(s, 100, 150);
	/* no poll: librdkafka times them out (its timeout scan runs every second) and queues
	 * their reports */
	sleep_ms(2500);
	assert_int_equal(rd_kafka_test_fatal_error(last_producer, RD_KAFKA_RESP_ERR__FATAL,
						   "after the timeouts"),
			 RD_KAFKA_RESP_ERR_NO_ERROR);
	settle(s);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.fatal_errors, 1);
	assert_int_equal(st.type[RECORD_FLOW].delivered, 100);
	assert_int_equal(st.type[RECORD_FLOW].failed, 50);
	assert_int_equal(failed_with(&st, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), 50);
	assert_int_equal(st.type[RECORD_FLOW].lost_fatal, 0);

	/* the new producer delivers what follows, once it reaches the brokers again (within
	 * message.timeout.ms of each record) */
	mock_kafka_set_all(mk, true);
	for (int i = 0; i < 20; i++) {
		sink_poll(s);
		sleep_ms(100);
	}
	emit_flows(s, 150, 250);
	settle(s);
	assert_int_equal(sink_flush(s), 50);
	sink_kafka_stats(s, &st);
	assert_int_equal(st.producer_restarts, 1);
	assert_int_equal(st.type[RECORD_FLOW].produced, 250);
	assert_int_equal(st.type[RECORD_FLOW].delivered, 200);
	assert_int_equal(st.type[RECORD_FLOW].failed, 50);
	assert_int_equal(failed_with(&st, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT), 50);
	assert_int_equal(st.n_reasons, 1);
	assert_int_equal(st.type[RECORD_FLOW].lost_fatal, 0);
	assert_int_equal(metric(s, "flowscope_kafka_records_lost_total{type=\"flow\","
				   "reason=\"fatal_error\"}"),
			 0);
	assert_int_equal(sink_destroy(s), 50);

	seen = read_flows(mk, 250, &total);
	assert_int_equal(total, 200);
	for (uint32_t i = 0; i < 250; i++)
		if (seen[i] != (i >= 100 && i < 150 ? 0u : 1u))
			fail_msg("flow %u on the topic %u times", i, seen[i]);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fatal_error_new_producer, setup,
						mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_repeated_fatal_error_backs_off, setup,
						mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_broker_sequence_error, setup,
						mock_kafka_state_stop),
		cmocka_unit_test_setup_teardown(test_own_error_on_fatal_producer_is_not_lost, setup,
						mock_kafka_state_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
