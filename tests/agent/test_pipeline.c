// SPDX-License-Identifier: Apache-2.0
/*
 * The record path: pipeline stages in order, a stage that defers records and resumes them later,
 * the sink's end of interval after the deferred records, the codec table refusing types it does
 * not know, and record_dup() copying every string a record points to.
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

#include "counters.h"
#include "pipeline.h"
#include "record_codec.h"

/* A sink that keeps the JSON of what it is given, and the order of its calls. */
struct fake_sink {
	struct sink base;
	char lines[16][1024];
	int n;
	int end_intervals;
	int emits_at_last_end; /* records emitted when end_interval last ran */
};

static int fake_emit(struct sink *s, const struct record *r)
{
	struct fake_sink *f = (struct fake_sink *)s;
	static const struct record_json_ctx ctx = { .node_name = "node-t" };
	ssize_t n = record_encode_json(f->lines[f->n], sizeof(f->lines[0]), &ctx, r);

	if (n < 0)
		return (int)n;
	f->n++;
	return 0;
}

static void fake_end(struct sink *s)
{
	struct fake_sink *f = (struct fake_sink *)s;

	f->end_intervals++;
	f->emits_at_last_end = f->n;
}

static uint64_t fake_free(struct sink *s)
{
	(void)s;
	return 0;
}

static const struct sink_ops fake_ops = { .emit = fake_emit,
					  .end_interval = fake_end,
					  .destroy = fake_free };

/* Stage 0: names the flow's destination, with a string that dies after the call. */
struct namer {
	char name[64];
	int calls;
};

static enum stage_verdict namer_process(void *arg, struct record *r)
{
	struct namer *nm = arg;

	nm->calls++;
	if (r->type == RECORD_FLOW) {
		snprintf(nm->name, sizeof(nm->name), "dst-%d.example", nm->calls);
		RECORD_OF(r, struct flow_record)->dst_domain = nm->name;
	}
	r->cgroup_path = "/pod-a";
	return STAGE_PASS;
}

/* Stage 1: defers flows whose src_port is odd (as the async conntrack lookup will). */
struct deferrer {
	struct pipeline *p;
	int index;
	struct record *held[8];
	int n_held;
	int flushes;
};

static void defer_added(void *arg, struct pipeline *p, int index)
{
	struct deferrer *d = arg;

	d->p = p;
	d->index = index;
}

static enum stage_verdict defer_process(void *arg, struct record *r)
{
	struct deferrer *d = arg;

	if (r->type != RECORD_FLOW || !(RECORD_OF(r, struct flow_record)->src_port & 1))
		return STAGE_PASS;
	d->held[d->n_held] = record_dup(r);
	assert_non_null(d->held[d->n_held]);
	d->n_held++;
	return STAGE_DEFER;
}

/* The answer came: the held records go on, with what this stage learnt. */
static void defer_resume_all(struct deferrer *d)
{
	for (int i = 0; i < d->n_held; i++) {
		struct flow_record *f = RECORD_OF(d->held[i], struct flow_record);

		f->nat = true;
		f->dst_actual_port = 8080;
		assert_int_equal(pipeline_resume(d->p, d->index, d->held[i]), 0);
		record_free(d->held[i]);
	}
	d->n_held = 0;
}

static void defer_flush(void *arg)
{
	struct deferrer *d = arg;

	d->flushes++;
	defer_resume_all(d);
}

/* Stage 2: counts what reaches it. */
static enum stage_verdict count_process(void *arg, struct record *r)
{
	(void)r;
	(*(int *)arg)++;
	return STAGE_PASS;
}

struct fx {
	struct fake_sink sink;
	struct pipeline *p;
	struct namer namer;
	struct deferrer def;
	int counted;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct pipeline_stage s0 = { .name = "namer", .process = namer_process, .arg = &fx->namer };
	struct pipeline_stage s1 = { .name = "deferrer",
				     .process = defer_process,
				     .flush = defer_flush,
				     .added = defer_added,
				     .arg = &fx->def };
	struct pipeline_stage s2 = { .name = "count",
				     .process = count_process,
				     .arg = &fx->counted };

	fx->sink.base.ops = &fake_ops;
	fx->p = pipeline_create(&fx->sink.base);
	assert_non_null(fx->p);
	assert_int_equal(pipeline_add_stage(fx->p, &s0), 0);
	fx->def.index = -1;
	assert_int_equal(pipeline_add_stage(fx->p, &s1), 1);
	assert_ptr_equal(fx->def.p, fx->p);
	assert_int_equal(fx->def.index, 1);
	assert_int_equal(pipeline_add_stage(fx->p, &s2), 2);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	pipeline_destroy(fx->p);
	free(fx);
	return 0;
}

static void make_flow(struct flow_record *r, uint16_t src_port)
{
	memset(r, 0, sizeof(*r));
	r->type = RECORD_FLOW;
	r->start_ns = 1700000000000000000ull;
	r->end_ns = r->start_ns + 5;
	r->cgroup_id = 42;
	r->ip_version = 4;
	r->proto = 6;
	r->src_addr.bytes[0] = 192, r->src_addr.bytes[2] = 2, r->src_addr.bytes[3] = 1;
	r->dst_addr.bytes[0] = 198, r->dst_addr.bytes[1] = 51, r->dst_addr.bytes[2] = 100;
	r->src_port = src_port;
	r->dst_port = 443;
	r->src_actual_addr = r->src_addr;
	r->dst_actual_addr = r->dst_addr;
	r->src_actual_port = src_port;
	r->dst_actual_port = 443;
	strcpy(r->comm, "curl");
}

static void test_deferred_records_resume_through_later_stages(void **state)
{
	struct fx *fx = *state;
	struct flow_record r;

	pipeline_begin_interval(fx->p);
	for (uint16_t port = 40000; port < 40004; port++) {
		make_flow(&r, port);
		assert_int_equal(pipeline_submit(fx->p, &r.hdr), 0);
		/* the source reuses its record at once: a deferring stage must hold a copy */
		memset(&r, 0xa5, sizeof(r));
	}
	/* 40001 and 40003 are held; the others went through every stage to the sink */
	assert_int_equal(fx->sink.n, 2);
	assert_int_equal(fx->counted, 2);
	assert_int_equal(pipeline_deferred(fx->p), 2);
	assert_non_null(strstr(fx->sink.lines[0], "\"src_port\":40000"));
	assert_non_null(strstr(fx->sink.lines[1], "\"src_port\":40002"));

	/* the interval ends while records are held: the sink's end waits for them */
	pipeline_end_interval(fx->p);
	assert_int_equal(fx->sink.end_intervals, 0);

	defer_resume_all(&fx->def);
	assert_int_equal(fx->counted, 4);
	assert_int_equal(fx->sink.n, 4);
	assert_int_equal(pipeline_deferred(fx->p), 0);
	assert_int_equal(fx->sink.end_intervals, 1);
	assert_int_equal(fx->sink.emits_at_last_end, 4);
	/* resumed with the first stage's strings (copied) and the deferring stage's answer */
	assert_non_null(strstr(fx->sink.lines[2], "\"src_port\":40001"));
	assert_non_null(strstr(fx->sink.lines[2], "\"cgroup_path\":\"/pod-a\""));
	assert_non_null(strstr(fx->sink.lines[2], "\"dst_domain\":\"dst-2.example\""));
	assert_non_null(strstr(fx->sink.lines[2], "\"nat\":true"));
	assert_non_null(strstr(fx->sink.lines[2], "\"dst_actual_port\":8080"));
	assert_non_null(strstr(fx->sink.lines[3], "\"dst_domain\":\"dst-4.example\""));
}

static void test_interval_end_without_deferred_records_is_immediate(void **state)
{
	struct fx *fx = *state;
	struct flow_record r;

	make_flow(&r, 40000);
	assert_int_equal(pipeline_submit(fx->p, &r.hdr), 0);
	pipeline_end_interval(fx->p);
	assert_int_equal(fx->sink.end_intervals, 1);
	assert_int_equal(fx->sink.emits_at_last_end, 1);
}

static void test_flush_at_exit_lets_go_of_held_records(void **state)
{
	struct fx *fx = *state;
	struct flow_record r;

	make_flow(&r, 40001);
	assert_int_equal(pipeline_submit(fx->p, &r.hdr), 0);
	assert_int_equal(fx->sink.n, 0);
	pipeline_flush(fx->p);
	assert_int_equal(fx->def.flushes, 1);
	assert_int_equal(fx->sink.n, 1);
	assert_int_equal(fx->sink.end_intervals, 1);
	assert_int_equal(pipeline_deferred(fx->p), 0);
}

/* What a rendering of the pipeline's counters says about one sample. */
static unsigned long long sample(struct pipeline *p, const char *line_prefix)
{
	struct counters *reg = counters_create();
	char *page = NULL, *at;
	size_t size = 0;
	unsigned long long v = ~0ull;
	FILE *f = open_memstream(&page, &size);

	assert_non_null(reg);
	assert_int_equal(pipeline_register_counters(p, reg), 0);
	counters_render_prometheus(reg, f);
	fclose(f);
	at = strstr(page, line_prefix);
	if (at)
		sscanf(at + strlen(line_prefix), " %llu", &v);
	free(page);
	counters_destroy(reg);
	return v;
}

static void test_unknown_types_are_refused_before_any_stage(void **state)
{
	struct fx *fx = *state;
	struct flow_record r;

	make_flow(&r, 40000);
	r.type = (enum record_type)(RECORD_TYPE_MAX + 1);
	assert_int_equal(pipeline_submit(fx->p, &r.hdr), -EPROTONOSUPPORT);
	r.type = (enum record_type)77;
	assert_int_equal(pipeline_submit(fx->p, &r.hdr), -EPROTONOSUPPORT);
	r.type = RECORD_TYPE_MAX;
	assert_int_equal(pipeline_submit(fx->p, &r.hdr), -EPROTONOSUPPORT);
	assert_int_equal(fx->namer.calls, 0);
	assert_int_equal(fx->sink.n, 0);
	assert_int_equal(sample(fx->p, "flowscope_pipeline_records_dropped_total{reason=\"unknown_"
				       "type\"}"),
			 3);
}

static void test_codec_table_refuses_unknown_types(void **state)
{
	static const struct record_json_ctx jctx = { .node_name = "n" };
	static const struct record_proto_ctx pctx = { .node_name = "n" };
	const unsigned int bad[] = { RECORD_TYPE_MAX, RECORD_TYPE_MAX + 1, 4, 255, 0x80000000u };
	struct flow_record r;
	char buf[2048];

	(void)state;
	make_flow(&r, 1);
	assert_string_equal(record_codec(RECORD_FLOW)->name, "flow");
	assert_string_equal(record_codec(RECORD_FLOW)->proto_message, "flowscope.v1.FlowRecord");
	assert_string_equal(record_codec(RECORD_FLOW)->kafka_topic, "flowscope.flows");
	assert_string_equal(record_codec(RECORD_DNS)->name, "dns");
	assert_string_equal(record_codec(RECORD_DNS)->proto_message, "flowscope.v1.DnsRecord");
	assert_string_equal(record_codec(RECORD_DNS)->kafka_topic, "flowscope.dns");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(record_codec(bad[i]));
		assert_null(record_type_name(bad[i]));
		r.type = (enum record_type)bad[i];
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(record_encode_json(buf, sizeof(buf), &jctx, &r.hdr),
				 -EPROTONOSUPPORT);
		assert_int_equal(record_encode_proto((uint8_t *)buf, sizeof(buf), &pctx, &r.hdr,
						     false),
				 -EPROTONOSUPPORT);
		assert_int_equal(buf[0], 'x'); /* nothing written */
		assert_null(record_dup(&r.hdr));
	}
	/* a known type encodes as itself */
	r.type = RECORD_FLOW;
	assert_true(record_encode_json(buf, sizeof(buf), &jctx, &r.hdr) > 0);
	assert_non_null(strstr(buf, "{\"type\":\"flow\""));
}

static void test_record_dup_copies_every_string(void **state)
{
	static const struct record_json_ctx ctx = { .node_name = "node-t" };
	struct dns_answer_view answers[2];
	char qname[32], a0[32], d0[32], a1[32], d1[32], path[32];
	struct record_workload w = { 0 };
	char cid[16] = "abc123";
	char before[2048], after[2048];
	struct dns_record r = { 0 };
	struct record *copy;

	(void)state;
	strcpy(qname, "www.example");
	strcpy(a0, "www.example");
	strcpy(d0, "web.example");
	strcpy(a1, "web.example");
	strcpy(d1, "192.0.2.1");
	strcpy(path, "/kubepods/pod-b");
	answers[0] = (struct dns_answer_view){ a0, 5, 300, d0 };
	answers[1] = (struct dns_answer_view){ a1, 1, 60, d1 };
	r.type = RECORD_DNS;
	r.ts_ns = 1700000000000000001ull;
	r.cgroup_id = 7;
	r.cgroup_path = path;
	strcpy(r.comm, "resolver");
	r.ip_version = 4;
	r.proto = 17;
	r.qname = qname;
	r.qtype = 1;
	r.answers = answers;
	r.n_answers = 2;
	w.container_id = cid;
	r.cgroup_version = 2;
	r.workload = &w;
	assert_true(record_encode_json(before, sizeof(before), &ctx, &r.hdr) > 0);
	copy = record_dup(&r.hdr);
	assert_non_null(copy);
	/* the originals go away */
	memset(qname, 'q', sizeof(qname) - 1);
	memset(a0, 'a', sizeof(a0) - 1);
	memset(d1, 'd', sizeof(d1) - 1);
	memset(path, 'p', sizeof(path) - 1);
	memset(answers, 0, sizeof(answers));
	memset(cid, 'c', sizeof(cid) - 1);
	assert_true(record_encode_json(after, sizeof(after), &ctx, copy) > 0);
	assert_string_equal(before, after);
	assert_string_equal(copy->workload->container_id, "abc123");
	assert_int_equal(copy->cgroup_version, 2);
	assert_ptr_not_equal(copy->workload, &w);
	record_free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deferred_records_resume_through_later_stages,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_interval_end_without_deferred_records_is_immediate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_at_exit_lets_go_of_held_records, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_types_are_refused_before_any_stage,
						setup, teardown),
		cmocka_unit_test(test_codec_table_refuses_unknown_types),
		cmocka_unit_test(test_record_dup_copies_every_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
