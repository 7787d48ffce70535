// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of agent/config.c: defaults, every option's valid and invalid values (a usage error
 * names the option), unknown options, missing values, the INI config file and its precedence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "log.h"

#define MAX_ARGS 160

struct parsed {
	struct config cfg;
	enum config_status st;
	char err[512];
};

/* Parses a NULL-terminated list of arguments (program name added) into p->cfg from defaults. */
static enum config_status parse_argv(struct parsed *p, const char *const *args)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = "flowscope";
	for (; *args; args++) {
		assert_true(argc <= MAX_ARGS);
		/* getopt_long permutes argv: hand it copies */
		argv[argc++] = strdup(*args);
	}
	argv[argc] = NULL;
	config_defaults(&p->cfg);
	p->err[0] = '\0';
	p->st = config_parse(&p->cfg, argc, argv, p->err, sizeof(p->err));
	for (int i = 1; i < argc; i++)
		free(argv[i]);
	return p->st;
}

#define PARSE(p, ...) parse_argv((p), (const char *const[]){ __VA_ARGS__, NULL })

static void assert_usage_names(const struct parsed *p, const char *what)
{
	assert_int_equal(p->st, CONFIG_USAGE);
	if (!strstr(p->err, what))
		fail_msg("message '%s' does not name '%s'", p->err, what);
	/* one line: main() prints it as is */
	assert_null(strchr(p->err, '\n'));
}

static void test_defaults(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(parse_argv(&p, (const char *const[]){ NULL }), CONFIG_OK);
	assert_int_equal(p.cfg.interval_s, 15);
	assert_int_equal(p.cfg.duration_s, 0);
	assert_int_equal(p.cfg.max_flows, 65536);
	assert_null(p.cfg.cgroup_root);
	assert_non_null(p.cfg.node_name);
	assert_int_equal(p.cfg.log_level, LOG_LEVEL_INFO);
	assert_int_equal(p.cfg.n_dns_ports, 1);
	assert_int_equal(p.cfg.dns_ports[0], 53);
	assert_int_equal(p.cfg.dns_timeout_ms, 5000);
	assert_true(p.cfg.conntrack);
	assert_null(p.cfg.conntrack_netns);
	assert_int_equal(p.cfg.conntrack_max_entries, 131072);
	assert_null(p.cfg.kafka_brokers);
	assert_int_equal(p.cfg.kafka_records_per_message, 1);
	assert_int_equal(p.cfg.kafka_buffer_bytes, 64ull << 20);
	assert_int_equal(p.cfg.kafka_flush_timeout_ms, 10000);
	assert_int_equal(p.cfg.n_kafka_options, 0);
	config_free(&p.cfg);
}

/* --node-name falls back to $NODE_NAME, then to the hostname. */
static void test_node_name(void **state)
{
	char host[256] = "";
	struct parsed p;

	(void)state;
	setenv("NODE_NAME", "node-a", 1);
	assert_int_equal(parse_argv(&p, (const char *const[]){ NULL }), CONFIG_OK);
	assert_string_equal(p.cfg.node_name, "node-a");
	config_free(&p.cfg);
	assert_int_equal(PARSE(&p, "--node-name", "node-b"), CONFIG_OK);
	assert_string_equal(p.cfg.node_name, "node-b");
	config_free(&p.cfg);
	unsetenv("NODE_NAME");
	gethostname(host, sizeof(host) - 1);
	assert_int_equal(parse_argv(&p, (const char *const[]){ NULL }), CONFIG_OK);
	assert_string_equal(p.cfg.node_name, host);
	config_free(&p.cfg);
}

/* One valid value of an option and what it must set. */
static void test_valid_values(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(PARSE(&p, "--interval", "1", "--duration", "4294967295", "--max-flows",
			       "16", "--cgroup-root", "/sys/fs/cgroup/x", "--dns-ports",
			       "53,5353,,853", "--dns-timeout", "3600000", "--no-conntrack",
			       "--conntrack-netns", "/proc/1/ns/net", "--conntrack-max-entries",
			       "67108864", "--log-level", "warn"),
			 CONFIG_OK);
	assert_int_equal(p.cfg.interval_s, 1);
	assert_int_equal(p.cfg.duration_s, UINT32_MAX);
	assert_int_equal(p.cfg.max_flows, 16);
	assert_string_equal(p.cfg.cgroup_root, "/sys/fs/cgroup/x");
	assert_int_equal(p.cfg.n_dns_ports, 3);
	assert_int_equal(p.cfg.dns_ports[0], 53);
	assert_int_equal(p.cfg.dns_ports[1], 5353);
	assert_int_equal(p.cfg.dns_ports[2], 853);
	assert_int_equal(p.cfg.dns_timeout_ms, 3600000);
	assert_false(p.cfg.conntrack);
	assert_string_equal(p.cfg.conntrack_netns, "/proc/1/ns/net");
	assert_int_equal(p.cfg.conntrack_max_entries, 1u << 26);
	assert_int_equal(p.cfg.log_level, LOG_LEVEL_WARN);
	config_free(&p.cfg);

	assert_int_equal(PARSE(&p, "--interval=86400", "--max-flows=16777216",
			       "--kafka-brokers=192.0.2.1:9092,192.0.2.2:9092",
			       "--kafka-topic-flows", "f", "--kafka-topic-dns", "d",
			       "--kafka-topic-events", "e", "--kafka-format", "protobuf",
			       "--kafka-records-per-message", "100000", "--kafka-compression",
			       "zstd", "--kafka-buffer-bytes", "1099511627776",
			       "--kafka-flush-timeout", "0", "--kafka-option", "acks=all",
			       "--kafka-option", "sasl.mechanism=PLAIN", "--verbose"),
			 CONFIG_OK);
	assert_int_equal(p.cfg.interval_s, 86400);
	assert_int_equal(p.cfg.max_flows, 1u << 24);
	assert_string_equal(p.cfg.kafka_brokers, "192.0.2.1:9092,192.0.2.2:9092");
	assert_string_equal(p.cfg.kafka_topic_flows, "f");
	assert_string_equal(p.cfg.kafka_topic_dns, "d");
	assert_string_equal(p.cfg.kafka_topic_events, "e");
	assert_string_equal(p.cfg.kafka_format, "protobuf");
	assert_int_equal(p.cfg.kafka_records_per_message, 100000);
	assert_string_equal(p.cfg.kafka_compression, "zstd");
	assert_int_equal(p.cfg.kafka_buffer_bytes, 1ull << 40);
	assert_int_equal(p.cfg.kafka_flush_timeout_ms, 0);
	assert_int_equal(p.cfg.n_kafka_options, 2);
	assert_string_equal(p.cfg.kafka_options[0], "acks=all");
	assert_string_equal(p.cfg.kafka_options[1], "sasl.mechanism=PLAIN");
	assert_int_equal(p.cfg.log_level, LOG_LEVEL_DEBUG);
	config_free(&p.cfg);

	/* every choice of the enumerated options */
	static const char *const levels[] = { "error", "warning", "info", "debug" };
	static const char *const codecs[] = { "none", "gzip", "snappy", "lz4", "zstd" };

	for (int i = 0; i < 4; i++) {
		assert_int_equal(PARSE(&p, "--log-level", levels[i]), CONFIG_OK);
		assert_int_equal(p.cfg.log_level, i);
		config_free(&p.cfg);
	}
	for (int i = 0; i < 5; i++) {
		assert_int_equal(PARSE(&p, "--kafka-compression", codecs[i]), CONFIG_OK);
		assert_string_equal(p.cfg.kafka_compression, codecs[i]);
		config_free(&p.cfg);
	}
	assert_int_equal(PARSE(&p, "--kafka-format", "json"), CONFIG_OK);
	assert_string_equal(p.cfg.kafka_format, "json");
	config_free(&p.cfg);
}

/* Invalid values: CONFIG_USAGE (exit 2) with a one-line message naming the option. */
static void test_invalid_values(void **state)
{
	static const struct {
		const char *opt, *val;
	} bad[] = {
		{ "interval", "abc" },
		{ "interval", "0" },
		{ "interval", "86401" },
		{ "interval", "-1" },
		{ "interval", "5s" },
		{ "interval", "" },
		{ "interval", "99999999999999999999999" },
		{ "duration", "4294967296" },
		{ "duration", "x" },
		{ "duration", "-0" },
		{ "max-flows", "15" },
		{ "max-flows", "16777217" },
		{ "max-flows", "1e6" },
		{ "cgroup-root", "" },
		{ "node-name", "" },
		{ "dns-ports", "0" },
		{ "dns-ports", "65536" },
		{ "dns-ports", "53,x" },
		{ "dns-ports", "," },
		{ "dns-ports", "" },
		{ "dns-ports", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17" },
		{ "dns-timeout", "0" },
		{ "dns-timeout", "3600001" },
		{ "conntrack-netns", "" },
		{ "conntrack-max-entries", "15" },
		{ "conntrack-max-entries", "67108865" },
		{ "kafka-brokers", "" },
		{ "kafka-topic-flows", "" },
		{ "kafka-topic-dns", "" },
		{ "kafka-topic-events", "" },
		{ "kafka-format", "xml" },
		{ "kafka-format", "JSON" },
		{ "kafka-records-per-message", "0" },
		{ "kafka-records-per-message", "100001" },
		{ "kafka-compression", "brotli" },
		{ "kafka-buffer-bytes", "1023" },
		{ "kafka-buffer-bytes", "1099511627777" },
		{ "kafka-flush-timeout", "3600001" },
		{ "kafka-option", "acks" },
		{ "kafka-option", "=all" },
		{ "log-level", "trace" },
		{ "log-level", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char opt[64], eq[128];
		struct parsed p;

		snprintf(opt, sizeof(opt), "--%s", bad[i].opt);
		/* as two arguments and as --opt=value */
		PARSE(&p, opt, bad[i].val);
		if (p.st != CONFIG_USAGE)
			fail_msg("%s '%s' was accepted", opt, bad[i].val);
		assert_usage_names(&p, opt);
		config_free(&p.cfg);
		snprintf(eq, sizeof(eq), "%s=%s", opt, bad[i].val);
		PARSE(&p, eq);
		assert_usage_names(&p, opt);
		config_free(&p.cfg);
	}
	/* the message lists the choices by the names the log lines carry */
	{
		struct parsed p;

		PARSE(&p, "--log-level", "trace");
		assert_usage_names(&p, "error|warning|info|debug; warn is an alias of warning");
		config_free(&p.cfg);
		/* the choices of a FORMAT or CODEC, which the metavar no longer lists */
		PARSE(&p, "--kafka-format", "xml");
		assert_usage_names(&p, "'xml' (expected json|protobuf|protobuf-sr)");
		config_free(&p.cfg);
		PARSE(&p, "--kafka-compression", "brotli");
		assert_usage_names(&p, "'brotli' (expected none|gzip|snappy|lz4|zstd)");
		config_free(&p.cfg);
	}
}

static void test_too_many_kafka_options(void **state)
{
	const char *args[2 * (CONFIG_MAX_KAFKA_OPTIONS + 1) + 1];
	struct parsed p;
	int n = 0;

	(void)state;
	for (int i = 0; i <= CONFIG_MAX_KAFKA_OPTIONS; i++) {
		args[n++] = "--kafka-option";
		args[n++] = "linger.ms=5";
	}
	args[n] = NULL;
	parse_argv(&p, args);
	assert_usage_names(&p, "--kafka-option");
	config_free(&p.cfg);
}

static void test_unknown_and_missing(void **state)
{
	struct parsed p;

	(void)state;
	PARSE(&p, "--bogus");
	assert_usage_names(&p, "--bogus");
	config_free(&p.cfg);
	PARSE(&p, "-x");
	assert_usage_names(&p, "-x");
	config_free(&p.cfg);
	PARSE(&p, "stray");
	assert_usage_names(&p, "stray");
	config_free(&p.cfg);
	/* a flag given a value */
	PARSE(&p, "--no-conntrack=yes");
	assert_usage_names(&p, "--no-conntrack");
	config_free(&p.cfg);

	static const char *const need_value[] = {
		"--interval",	   "--duration",	   "--max-flows",
		"--cgroup-root",   "--node-name",	   "--dns-ports",
		"--dns-timeout",   "--conntrack-netns",	   "--conntrack-max-entries",
		"--kafka-brokers", "--kafka-format",	   "--kafka-option",
		"--log-level",	   "--kafka-buffer-bytes", "--config",
	};
	for (size_t i = 0; i < sizeof(need_value) / sizeof(need_value[0]); i++) {
		PARSE(&p, need_value[i]);
		assert_usage_names(&p, need_value[i]);
		config_free(&p.cfg);
	}
}

static void test_help_version(void **state)
{
	struct parsed p;

	(void)state;
	assert_int_equal(PARSE(&p, "--help"), CONFIG_EXIT_OK);
	config_free(&p.cfg);
	assert_int_equal(PARSE(&p, "-h"), CONFIG_EXIT_OK);
	config_free(&p.cfg);
	assert_int_equal(PARSE(&p, "--version"), CONFIG_EXIT_OK);
	config_free(&p.cfg);
	assert_int_equal(PARSE(&p, "-V"), CONFIG_EXIT_OK);
	config_free(&p.cfg);
	/* --help wins over what follows it */
	assert_int_equal(PARSE(&p, "--help", "--interval", "abc"), CONFIG_EXIT_OK);
	config_free(&p.cfg);
}

/* Writes text to a fresh temporary file; returns its path (static storage). */
static const char *write_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/fs%d-config-XXXXXX", (int)getpid());
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_config_file(void **state)
{
	const char *path = write_file("; flowscope test config\n"
				      "interval = 5\n"
				      "max_flows = 1024\n"
				      "dns-ports = 53,5353\n"
				      "no-conntrack = yes\n"
				      "log-level = debug\n"
				      "\n"
				      "[kafka]\n"
				      "brokers = 192.0.2.1:9092\n"
				      "topic-flows = flows\n"
				      "compression = gzip\n"
				      "option = acks=all\n"
				      "option = linger.ms=5\n");
	char arg[96];
	struct parsed p;

	(void)state;
	snprintf(arg, sizeof(arg), "--config=%s", path);
	PARSE(&p, arg);
	if (p.st != CONFIG_OK)
		fail_msg("%s", p.err);
	assert_int_equal(p.cfg.interval_s, 5);
	assert_int_equal(p.cfg.max_flows, 1024);
	assert_int_equal(p.cfg.n_dns_ports, 2);
	assert_int_equal(p.cfg.dns_ports[1], 5353);
	assert_false(p.cfg.conntrack);
	assert_int_equal(p.cfg.log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(p.cfg.kafka_brokers, "192.0.2.1:9092");
	assert_string_equal(p.cfg.kafka_topic_flows, "flows");
	assert_string_equal(p.cfg.kafka_compression, "gzip");
	assert_int_equal(p.cfg.n_kafka_options, 2);
	assert_string_equal(p.cfg.kafka_options[0], "acks=all");
	assert_string_equal(p.cfg.kafka_options[1], "linger.ms=5");
	config_free(&p.cfg);

	/* the command line wins, wherever --config stands */
	assert_int_equal(PARSE(&p, "--interval", "7", "--config", path, "--kafka-compression",
			       "lz4"),
			 CONFIG_OK);
	assert_int_equal(p.cfg.interval_s, 7);
	assert_int_equal(p.cfg.max_flows, 1024);
	assert_string_equal(p.cfg.kafka_compression, "lz4");
	config_free(&p.cfg);
	unlink(path);
}

/* A bad line is reported as file:line with the option named. */
static void test_config_file_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "interval = 5\nmax-flows = 8\n", ":2: invalid value for --max-flows" },
		{ "interval = 5\n\n[kafka]\nformat = xml\n", ":4: invalid value for "
							     "--kafka-format" },
		{ "bogus = 1\n", ":1: unknown option 'bogus'" },
		{ "[dns]\nports = 53\ntimeout = -5\n", ":3: invalid value for --dns-timeout" },
		{ "no-conntrack = maybe\n", ":1: invalid value for --no-conntrack" },
		{ "interval = 5\nthis line has no equals sign\n", ":2: syntax error" },
		{ "help = yes\n", ":1: --help cannot be set here" },
	};
	struct parsed p;
	char arg[96], want[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = write_file(bad[i].text);

		snprintf(arg, sizeof(arg), "--config=%s", path);
		PARSE(&p, arg);
		snprintf(want, sizeof(want), "%s%s", path, bad[i].want);
		assert_usage_names(&p, want);
		config_free(&p.cfg);
		unlink(path);
	}
	PARSE(&p, "--config", "/nonexistent/flowscope.ini");
	assert_usage_names(&p, "--config");
	assert_non_null(strstr(p.err, "/nonexistent/flowscope.ini"));
	config_free(&p.cfg);
}

/* config_set(): underscores for dashes; flags take true/yes/1. */
static void test_config_set(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "kafka_records_per_message", "10", err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(cfg.kafka_records_per_message, 10);
	assert_int_equal(config_set(&cfg, "no_conntrack", "1", err, sizeof(err)), CONFIG_OK);
	assert_false(cfg.conntrack);
	assert_int_equal(config_set(&cfg, "verbose", "true", err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(config_set(&cfg, "verbose", "no", err, sizeof(err)), CONFIG_USAGE);
	assert_non_null(strstr(err, "--verbose"));
	assert_int_equal(config_set(&cfg, "interval-s", "5", err, sizeof(err)), CONFIG_USAGE);
	assert_non_null(strstr(err, "interval-s"));
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_node_name),
		cmocka_unit_test(test_valid_values),
		cmocka_unit_test(test_invalid_values),
		cmocka_unit_test(test_too_many_kafka_options),
		cmocka_unit_test(test_unknown_and_missing),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_config_file_errors),
		cmocka_unit_test(test_config_set),
	};

	/* --help and --version print to stdout; keep the test output readable */
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
