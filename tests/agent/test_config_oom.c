// SPDX-License-Identifier: Apache-2.0
/*
 * config.c when memory runs out: every strdup() failure is a clear error (CONFIG_NOMEM), never
 * a NULL handed on (to strtok_r in --dns-ports, or left in a field the agent reads later).
 * strdup is wrapped (-Wl,--wrap=strdup) to fail on demand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

char *__real_strdup(const char *s);

static int fail_strdup_at; /* the nth call from now fails; 0: none */

char *__wrap_strdup(const char *s)
{
	if (fail_strdup_at && --fail_strdup_at == 0)
		return NULL;
	return __real_strdup(s);
}

/* Parses args (program name added) with the strdup call number fail_at failing. */
static enum config_status parse_failing(struct config *cfg, int fail_at, const char *const *args,
					char *err, size_t errsz)
{
	char *argv[16];
	int argc = 0;
	enum config_status st;

	argv[argc++] = "flowscope";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	config_defaults(cfg);
	fail_strdup_at = fail_at;
	st = config_parse(cfg, argc, argv, err, errsz);
	fail_strdup_at = 0;
	return st;
}

static void expect_nomem(const char *const *args)
{
	char err[512];
	struct config cfg;

	err[0] = '\0';
	assert_int_equal(parse_failing(&cfg, 1, args, err, sizeof(err)), CONFIG_NOMEM);
	assert_non_null(strstr(err, "out of memory"));
	config_free(&cfg);
}

static void test_dns_ports(void **state)
{
	(void)state;
	expect_nomem((const char *const[]){ "--dns-ports", "53,5353", NULL });
}

static void test_string_option(void **state)
{
	(void)state;
	expect_nomem((const char *const[]){ "--metrics-addr", "127.0.0.1:9464", NULL });
	expect_nomem((const char *const[]){ "--node-name", "node-a", NULL });
	expect_nomem((const char *const[]){ "--kafka-option", "linger.ms=5", NULL });
}

/* No --node-name: the host name is copied, and that copy can fail too. */
static void test_node_name_default(void **state)
{
	(void)state;
	unsetenv("NODE_NAME");
	expect_nomem((const char *const[]){ NULL });
}

/* Every strdup of a longer command line failing in turn: an error each time, never a crash,
 * and the same line parses once memory is back. */
static void test_each_allocation(void **state)
{
	const char *const args[] = { "--dns-ports",
				     "53,5353",
				     "--metrics-addr",
				     ":9464",
				     "--kafka-option",
				     "acks=all",
				     "--node-name",
				     "n1",
				     NULL };
	struct config cfg;
	char err[512];
	int failures = 0;

	(void)state;
	for (int at = 1; at < 20; at++) {
		enum config_status st = parse_failing(&cfg, at, args, err, sizeof(err));

		if (st == CONFIG_NOMEM)
			failures++;
		else
			assert_int_equal(st, CONFIG_OK);
		config_free(&cfg);
	}
	assert_int_equal(failures, 4);
	assert_int_equal(parse_failing(&cfg, 0, args, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(cfg.n_dns_ports, 2);
	assert_string_equal(cfg.node_name, "n1");
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_ports),
		cmocka_unit_test(test_string_option),
		cmocka_unit_test(test_node_name_default),
		cmocka_unit_test(test_each_allocation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
