// SPDX-License-Identifier: Apache-2.0
/*
 * log.c's exact output in both formats: typed fields (a count is a JSON number, a flag a JSON
 * boolean, a string that looks like a number stays a string), escaping of bytes from other
 * processes in strings and keys, NULL strings, non-finite doubles, levels.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

/* What the logging calls in fn wrote to stderr, NUL-terminated (the caller frees). */
static char *captured(void (*fn)(void))
{
	FILE *f = tmpfile();
	int saved, size;
	char *out;

	assert_non_null(f);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fileno(f), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	fseek(f, 0, SEEK_END);
	size = (int)ftell(f);
	rewind(f);
	out = calloc(1, (size_t)size + 1);
	assert_non_null(out);
	assert_int_equal(fread(out, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	return out;
}

/* The JSON line without its "ts" value (the time of the call), which is checked for shape. */
static void assert_json_line(const char *got, const char *want_after_ts)
{
	/* {"ts":"2026-12-03T12:00:00.123Z", */
	const char *p = got;

	assert_int_equal(strncmp(p, "{\"ts\":\"", 7), 0);
	p += 7;
	for (const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ\""; *shape; shape++, p++) {
		if (*shape == 'd')
			assert_true(*p >= '0' && *p <= '9');
		else
			assert_int_equal(*p, *shape);
	}
	assert_string_equal(p, want_after_ts);
}

static void log_typed(void)
{
	LOG_FIELDS(LOG_LEVEL_INFO, "attached", LOG_STR("cgroup", "/kubepods/pod-a"),
		   LOG_U64("interval_s", 15), LOG_I64("delta", -3), LOG_F64("ms", 2.5),
		   LOG_BOOL("conntrack", true), LOG_BOOL("v1", false), LOG_STR("pod", "123"),
		   LOG_STR("path", NULL), LOG_U64("max", UINT64_MAX));
}

static void test_typed_fields_text(void **state)
{
	char *out;

	(void)state;
	log_set_format(LOG_FORMAT_TEXT);
	out = captured(log_typed);
	assert_string_equal(out, "flowscope: info: attached cgroup=/kubepods/pod-a interval_s=15 "
				 "delta=-3 ms=2.5 conntrack=true v1=false pod=123 path=null "
				 "max=18446744073709551615\n");
	free(out);
}

static void test_typed_fields_json(void **state)
{
	char *out;

	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	out = captured(log_typed);
	assert_json_line(out, ",\"level\":\"info\",\"msg\":\"attached\",\"fields\":{"
			      "\"cgroup\":\"/kubepods/pod-a\",\"interval_s\":15,\"delta\":-3,"
			      "\"ms\":2.5,\"conntrack\":true,\"v1\":false,\"pod\":\"123\","
			      "\"path\":null,\"max\":18446744073709551615}}\n");
	free(out);
	log_set_format(LOG_FORMAT_TEXT);
}

/* A comm or cgroup name from another process: any byte, in a value and in a key. */
static void log_untrusted(void)
{
	LOG_FIELDS(LOG_LEVEL_WARN, "odd \"name\"\n", LOG_STR("comm", "a\"b\\c\nd\x01\x7f\xff\xc3("),
		   LOG_STR("k\"\x02", "\xe2\x82\xac"));
}

static void test_untrusted_bytes(void **state)
{
	char *out;

	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	out = captured(log_untrusted);
	assert_json_line(out, ",\"level\":\"warning\",\"msg\":\"odd \\\"name\\\"\\n\",\"fields\":{"
			      "\"comm\":\"a\\\"b\\\\c\\nd\\u0001\\u007f\\ufffd\\ufffd(\","
			      "\"k\\\"\\u0002\":\"\xe2\x82\xac\"}}\n");
	free(out);
	log_set_format(LOG_FORMAT_TEXT);
	out = captured(log_untrusted);
	assert_string_equal(out, "flowscope: warning: odd \"name\"\\x0a "
				 "comm=\"a\\\"b\\\\c\\x0ad\\x01\\x7f\\xff\\xc3(\" "
				 "k\\x22\\x02=\xe2\x82\xac\n");
	free(out);
}

/*
 * Text fields stay fields: a value with a space or '=' is quoted, an empty one too, and the
 * bytes "\x01" of a name come out unlike an escaped byte (a backslash is written twice).
 */
static void log_text_fields(void)
{
	LOG_FIELDS(LOG_LEVEL_INFO, "a \\x01 b", LOG_STR("cgroup", "/t/a b=c"), LOG_STR("e", ""),
		   LOG_STR("n", "\\x01"), LOG_STR("b", "\x01"),
		   LOG_STR("ok", "/kubepods/p\xc3\xa9"));
}

static void test_text_fields_quoted(void **state)
{
	char *out;

	(void)state;
	log_set_format(LOG_FORMAT_TEXT);
	out = captured(log_text_fields);
	assert_string_equal(out, "flowscope: info: a \\\\x01 b cgroup=\"/t/a b=c\" e=\"\" "
				 "n=\"\\\\x01\" b=\"\\x01\" ok=/kubepods/p\xc3\xa9\n");
	free(out);
}

/* JSON has no NaN or infinity: null; the text line says what it was. */
static void log_non_finite(void)
{
	LOG_FIELDS(LOG_LEVEL_ERROR, "ratio", LOG_F64("nan", NAN), LOG_F64("inf", INFINITY),
		   LOG_F64("third", 1.0 / 3));
}

static void test_non_finite(void **state)
{
	char *out;

	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	out = captured(log_non_finite);
	assert_json_line(out, ",\"level\":\"error\",\"msg\":\"ratio\",\"fields\":{\"nan\":null,"
			      "\"inf\":null,\"third\":0.333333333333333}}\n");
	free(out);
	log_set_format(LOG_FORMAT_TEXT);
	out = captured(log_non_finite);
	assert_string_equal(out, "flowscope: error: ratio nan=nan inf=inf "
				 "third=0.333333333333333\n");
	free(out);
}

static void log_plain(void)
{
	LOG_INFO("%d flows\n", 3);
	LOG_DEBUG("not shown");
	log_fields(LOG_LEVEL_INFO, "no fields", NULL, 0);
}

/* log_msg: no "fields"; trailing newlines removed; levels above the set one discarded. */
static void test_plain_messages_and_level(void **state)
{
	char *out;

	(void)state;
	log_set_format(LOG_FORMAT_TEXT);
	out = captured(log_plain);
	assert_string_equal(out, "flowscope: info: 3 flows\nflowscope: info: no fields\n");
	free(out);
	log_set_format(LOG_FORMAT_JSON);
	out = captured(log_plain);
	char *second = strchr(out, '\n');

	assert_non_null(second);
	*second++ = '\0';
	assert_json_line(out, ",\"level\":\"info\",\"msg\":\"3 flows\"}");
	assert_json_line(second, ",\"level\":\"info\",\"msg\":\"no fields\"}\n");
	free(out);
	log_set_level(LOG_LEVEL_ERROR);
	out = captured(log_plain);
	assert_string_equal(out, "");
	free(out);
	log_set_level(LOG_LEVEL_INFO);
	log_set_format(LOG_FORMAT_TEXT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_fields_text),
		cmocka_unit_test(test_text_fields_quoted),
		cmocka_unit_test(test_typed_fields_json),
		cmocka_unit_test(test_untrusted_bytes),
		cmocka_unit_test(test_non_finite),
		cmocka_unit_test(test_plain_messages_and_level),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
