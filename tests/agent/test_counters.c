// SPDX-License-Identifier: Apache-2.0
/*
 * Counters defined once: every component's table, rendered by the real renderer to /metrics and
 * to the exit log, checked against docs/metrics.md both ways (every sample documented with its
 * label values, every documented family rendered), one HELP/TYPE per family, and exit log keys
 * that tell every sample apart.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "counters.h"
#include "dns_collector.h"
#include "tracer_collector.h"
#include "enrich.h"
#include "flow_collector.h"
#include "pipeline.h"
#include "sink_kafka.h"
#include "sink_stdout.h"

#define MAX_DOC_ROWS 128

struct doc_row {
	char name[128];
	char *line;
};

struct fx {
	struct doc_row rows[MAX_DOC_ROWS];
	size_t n_rows;
	struct counters *reg; /* with the stdout sink, then the Kafka sink's too */
	struct counters *reg_kafka; /* with the Kafka sink only */
	struct pipeline *pipeline;
	struct sink *stdout_sink, *kafka_sink;
	char *page; /* reg: every sample of both sinks */
	char *page_stdout, *page_kafka; /* what an agent with one sink serves */
	char *log;
};

static void read_docs(struct fx *fx)
{
	FILE *f = fopen(FS_DOCS_DIR "/metrics.md", "r");
	char line[4096];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *b = strchr(line, '`'), *e;

		if (strncmp(line, "| `flowscope_", 13) || !b || !(e = strchr(b + 1, '`')))
			continue;
		assert_true(fx->n_rows < MAX_DOC_ROWS);
		snprintf(fx->rows[fx->n_rows].name, sizeof(fx->rows[0].name), "%.*s",
			 (int)(e - b - 1), b + 1);
		fx->rows[fx->n_rows].line = strdup(line);
		fx->n_rows++;
	}
	fclose(f);
	assert_true(fx->n_rows > 20);
}

static const struct doc_row *doc_row(const struct fx *fx, const char *name)
{
	for (size_t i = 0; i < fx->n_rows; i++)
		if (!strcmp(fx->rows[i].name, name))
			return &fx->rows[i];
	return NULL;
}

static void add_table(struct counters *reg, const char *group, const struct counter_desc *d,
		      size_t n)
{
	/* values all 0: the snapshot needs the BPF programs, the rendering does not */
	struct counters_group g = {
		.name = group, .descs = d, .n_descs = n, .snap_size = 4096, .snapshot = NULL
	};

	assert_int_equal(counters_register(reg, &g), 0);
}

/* The parts every agent registers, in main.c's order. */
static void add_common(struct fx *fx, struct counters *reg)
{
	const struct counter_desc *d;
	size_t n;

	d = enrich_nat_counter_descs(&n);
	add_table(reg, "conntrack", d, n);
	d = enrich_identity_counter_descs(&n);
	add_table(reg, "identity", d, n);
	d = flow_collector_counter_descs(&n);
	add_table(reg, "", d, n);
	d = dns_collector_counter_descs(&n);
	add_table(reg, "dns", d, n);
	d = tracer_collector_counter_descs(&n);
	add_table(reg, "tracer", d, n);
	assert_int_equal(pipeline_register_counters(fx->pipeline, reg), 0);
}

static char *render(const struct counters *reg)
{
	char *page = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&page, &size);

	counters_render_prometheus(reg, f);
	fclose(f);
	return page;
}

/* Everything the agent registers, with the real sinks. */
static const char *const stats_opt[] = { "statistics.interval.ms=100" };

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct kafka_sink_config kc;
	char err[512];
	size_t size;
	FILE *f;
	int saved, tmp;

	read_docs(fx);
	fx->reg = counters_create();
	fx->reg_kafka = counters_create();
	assert_non_null(fx->reg);
	assert_non_null(fx->reg_kafka);
	fx->stdout_sink = sink_stdout_create(open("/dev/null", O_WRONLY | O_CLOEXEC), "node-t");
	assert_non_null(fx->stdout_sink);
	fx->pipeline = pipeline_create(fx->stdout_sink);
	kafka_sink_config_init(&kc);
	kc.brokers = "127.0.0.1:9";
	kc.node_name = "node-t";
	kc.flush_timeout_ms = 100;
	kc.options = stats_opt;
	kc.n_options = 1;
	fx->kafka_sink = sink_kafka_create(&kc, err, sizeof(err));
	assert_non_null(fx->kafka_sink);
	/* librdkafka's statistics (broker and topic families) arrive through the poll */
	for (int i = 0; i < 50; i++) {
		sink_poll(fx->kafka_sink);
		usleep(10000);
	}
	add_common(fx, fx->reg);
	assert_int_equal(sink_register_counters(fx->stdout_sink, fx->reg), 0);
	fx->page_stdout = render(fx->reg);
	add_common(fx, fx->reg_kafka);
	assert_int_equal(sink_register_counters(fx->kafka_sink, fx->reg_kafka), 0);
	fx->page_kafka = render(fx->reg_kafka);
	/* both sinks at once: the agent has one, the tests below want every family */
	assert_int_equal(sink_register_counters(fx->kafka_sink, fx->reg), 0);
	fx->page = render(fx->reg);

	/* the exit log goes to stderr */
	f = tmpfile();
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	tmp = fileno(f);
	dup2(tmp, STDERR_FILENO);
	counters_log(fx->reg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	fseek(f, 0, SEEK_END);
	size = (size_t)ftell(f);
	rewind(f);
	fx->log = calloc(1, size + 1);
	assert_int_equal(fread(fx->log, 1, size, f), size);
	fclose(f);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	counters_destroy(fx->reg);
	counters_destroy(fx->reg_kafka);
	free(fx->page_stdout);
	free(fx->page_kafka);
	pipeline_destroy(fx->pipeline);
	sink_destroy(fx->kafka_sink);
	sink_destroy(fx->stdout_sink);
	for (size_t i = 0; i < fx->n_rows; i++)
		free(fx->rows[i].line);
	free(fx->page);
	free(fx->log);
	free(fx);
	return 0;
}

/* Every label value of a sample is in its docs row, as `value` or "value". */
static void check_labels_documented(const struct doc_row *row, const char *sample)
{
	const char *p = strchr(sample, '{');

	while (p && (p = strchr(p, '"'))) {
		const char *end = strchr(++p, '"');
		char tick[96], quoted[96];

		assert_non_null(end);
		/* broker and topic names are the cluster's, not a fixed set */
		if ((p - 8 >= sample && !strncmp(p - 8, "broker=", 7)) ||
		    (p - 7 >= sample && !strncmp(p - 7, "topic=", 6))) {
			p = end + 1;
			continue;
		}
		snprintf(tick, sizeof(tick), "`%.*s`", (int)(end - p), p);
		snprintf(quoted, sizeof(quoted), "\"%.*s\"", (int)(end - p), p);
		if (!strstr(row->line, tick) && !strstr(row->line, quoted))
			fail_msg("docs/metrics.md: %s: label value %s not documented", row->name,
				 tick);
		p = end + 1;
	}
}

static void test_every_sample_is_documented(void **state)
{
	struct fx *fx = *state;
	char *page = strdup(fx->page), *save = NULL;
	int samples = 0;

	for (char *line = strtok_r(page, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128];
		const struct doc_row *row;

		if (line[0] == '#')
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(line, "{ "), line);
		row = doc_row(fx, name);
		if (!row)
			fail_msg("docs/metrics.md has no row for %s", name);
		check_labels_documented(row, line);
		samples++;
	}
	assert_true(samples > 50);
	free(page);
}

static void test_every_documented_family_is_rendered_once(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < fx->n_rows; i++) {
		char type[160];

		snprintf(type, sizeof(type), "# TYPE %s ", fx->rows[i].name);
		if (!strstr(fx->page, type))
			fail_msg("%s is in docs/metrics.md but nothing renders it",
				 fx->rows[i].name);
	}
	/* a family's samples are together, under one HELP/TYPE (the text format requires it) */
	for (int k = 0; k < 2; k++) {
		const char *page = k ? fx->page_kafka : fx->page_stdout;

		for (const char *t = strstr(page, "# TYPE "); t; t = strstr(t + 1, "# TYPE ")) {
			char type[160];

			snprintf(type, sizeof(type), "%.*s", (int)strcspn(t, "\n"), t);
			if (strstr(t + 1, type))
				fail_msg("%s: two blocks", type);
		}
	}
}

/* Every table row (and every dynamic family) renders on /metrics and in the exit log. */
static void test_every_table_row_renders_in_both(void **state)
{
	struct fx *fx = *state;
	const struct counters_group *g;
	size_t n;

	g = counters_groups(fx->reg, &n);
	/* conntrack, identity, flows, dns, tracer, pipeline, stdout, kafka, kafka client */
	assert_int_equal(n, 9);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < g[i].n_descs; j++) {
			const struct counter_desc *d = &g[i].descs[j];
			char sample[256], key[160], logged[200];

			/* values are 0 but for librdkafka's statistics documents, which the
			 * fixture's sink has received */
			if (*d->labels)
				snprintf(sample, sizeof(sample), "\n%s{%s} ", d->name, d->labels);
			else
				snprintf(sample, sizeof(sample), "\n%s ", d->name);
			if (!strstr(fx->page, sample))
				fail_msg("/metrics lacks%s", sample);
			counters_log_key(d->name, d->labels, key, sizeof(key));
			snprintf(logged, sizeof(logged), " %s=", key);
			if (!strstr(fx->log, logged))
				fail_msg("exit log lacks %s", logged);
		}
		for (size_t j = 0; j < g[i].n_dynamic_descs; j++)
			if (!doc_row(fx, g[i].dynamic_descs[j].name))
				fail_msg("docs/metrics.md has no row for %s",
					 g[i].dynamic_descs[j].name);
	}
	assert_non_null(strstr(fx->log, "flowscope: info: counters: packets=0 "));
	assert_non_null(strstr(fx->log, "flowscope: info: dns counters: dns_packets=0 "));
	assert_non_null(strstr(fx->log, " dns_dropped_tcp_stream_gap=0"));
	assert_non_null(strstr(fx->log, "flowscope: info: conntrack counters: "));
}

/* Two samples with one exit log key would make the log ambiguous. */
static void test_exit_log_keys_are_unique(void **state)
{
	struct fx *fx = *state;
	char *log = strdup(fx->log), *save = NULL;
	char *keys[512];
	size_t n = 0;

	for (char *tok = strtok_r(log, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		for (size_t i = 0; i < n; i++)
			if (!strcmp(keys[i], tok))
				fail_msg("exit log key %s used twice", tok);
		assert_true(n < 512);
		keys[n++] = tok;
	}
	assert_true(n > 50);
	free(log);
}

static void test_log_key_of_a_labelled_sample(void **state)
{
	char key[64];

	(void)state;
	counters_log_key("flowscope_dns_dropped_total", "reason=\"tcp_stream_gap\"", key,
			 sizeof(key));
	assert_string_equal(key, "dns_dropped_tcp_stream_gap");
	counters_log_key("flowscope_sink_records_dropped_total",
			 "sink=\"kafka\",type=\"dns\",reason=\"queue_full\"", key, sizeof(key));
	assert_string_equal(key, "sink_records_dropped_kafka_dns_queue_full");
	counters_log_key("flowscope_dns_names", "", key, sizeof(key));
	assert_string_equal(key, "dns_names");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_sample_is_documented),
		cmocka_unit_test(test_every_documented_family_is_rendered_once),
		cmocka_unit_test(test_every_table_row_renders_in_both),
		cmocka_unit_test(test_exit_log_keys_are_unique),
		cmocka_unit_test(test_log_key_of_a_labelled_sample),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
