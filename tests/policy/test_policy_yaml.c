// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of the YAML policy parser (policy/policy_yaml.c): the issue's form, every error
 * naming its line and key, limits, and hostile input (deep nesting, huge lists, non-UTF-8
 * bytes, NULs, aliases, overflowing numbers), plus a seeded mutation run for crashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"

/* The example of issue 10, verbatim. */
static const char issue_example[] = "events:\n"
				    "  - name: tcp_connect\n"
				    "    rate_limit: {per_second: 5, burst: 1}\n"
				    "  - name: sched_process_exec\n"
				    "    filters: {comm: [curl, wget], cgroup_path_prefix: "
				    "/kubepods, "
				    "uid: [0]}\n"
				    "    env: false\n";

static enum policy_status parse(const char *yaml, struct policy **pol, struct policy_error *err)
{
	*pol = NULL;
	return policy_create_from_yaml(yaml, strlen(yaml), "p.yaml", pol, err);
}

static struct policy *parse_ok(const char *yaml)
{
	struct policy_error err;
	struct policy *pol;

	if (parse(yaml, &pol, &err) != POLICY_OK)
		fail_msg("policy refused: %s\n---\n%s", err.msg, yaml);
	assert_non_null(pol);
	return pol;
}

/* The error: status, line, key, and a piece of the message; the message starts "p.yaml:L:". */
static void expect_error(const char *yaml, size_t len, enum policy_status want, unsigned int line,
			 const char *key, const char *in_msg)
{
	struct policy_error err;
	struct policy *pol = (struct policy *)1;
	char prefix[32];
	enum policy_status st = policy_create_from_yaml(yaml, len, "p.yaml", &pol, &err);

	if (st != want)
		fail_msg("status %s, want %s (%s)", policy_status_str(st), policy_status_str(want),
			 st == POLICY_OK ? "accepted" : err.msg);
	assert_null(pol);
	assert_int_equal(err.status, want);
	if (err.line != line)
		fail_msg("line %u, want %u: %s", err.line, line, err.msg);
	if (key && strcmp(err.key, key) != 0)
		fail_msg("key '%s', want '%s': %s", err.key, key, err.msg);
	if (!strstr(err.msg, in_msg))
		fail_msg("message '%s' lacks '%s'", err.msg, in_msg);
	if (line) {
		snprintf(prefix, sizeof(prefix), "p.yaml:%u:", line);
		assert_true(strncmp(err.msg, prefix, strlen(prefix)) == 0);
	}
	/* Nothing from the input reaches the message unescaped. */
	for (const char *c = err.msg; *c; c++)
		assert_true(*c >= 0x20 && *c < 0x7f);
}

static void expect_err(const char *yaml, enum policy_status want, unsigned int line,
		       const char *key, const char *in_msg)
{
	expect_error(yaml, strlen(yaml), want, line, key, in_msg);
}

static void test_issue_example(void **state)
{
	struct policy *pol = parse_ok(issue_example);
	const struct policy_event_conf *c = policy_event(pol, POLICY_EV_TCP_CONNECT);
	policy_prog_mask req, opt;

	(void)state;
	assert_true(c->enabled);
	assert_true(c->rate_limited);
	assert_int_equal(c->rate_limit.per_second, 5);
	assert_int_equal(c->rate_limit.burst, 1);
	assert_false(c->has_filters);
	assert_int_equal(c->line, 2);

	c = policy_event(pol, POLICY_EV_SCHED_PROCESS_EXEC);
	assert_true(c->enabled);
	assert_false(c->rate_limited);
	assert_true(c->has_filters);
	assert_int_equal(c->filters.n_comm, 2);
	assert_string_equal(c->filters.comm[0], "curl");
	assert_string_equal(c->filters.comm[1], "wget");
	assert_int_equal(c->filters.n_uid, 1);
	assert_int_equal(c->filters.uid[0], 0);
	assert_string_equal(c->filters.cgroup_path_prefix, "/kubepods");
	assert_string_equal(c->filters.filename_prefix, "");
	assert_false(c->env);
	assert_int_equal(c->argv_max_bytes, POLICY_ARGV_DEFAULT_BYTES);
	assert_int_equal(c->line, 4);

	/* Only the listed events. */
	assert_false(policy_event(pol, POLICY_EV_SCHED_PROCESS_EXIT)->enabled);
	assert_false(policy_event(pol, POLICY_EV_OOM_KILL)->enabled);
	/* The rate limit needs per-cgroup kernel state, and so does the cgroup_path_prefix: the
	 * kernel's cgroup id set, which new cgroups join at their cgroup_mkdir (required). */
	assert_true(policy_event(pol, POLICY_EV_CGROUP_LIFECYCLE)->needed);
	assert_true(policy_event(pol, POLICY_EV_CGROUP_FILTER)->needed);
	assert_false(policy_event(pol, POLICY_EV_CGROUP_FILTER)->enabled);
	policy_programs(pol, &req, &opt);
	assert_int_equal(req, POLICY_PROG_BIT(POLICY_PROG_INET_SOCK_SET_STATE) |
				      POLICY_PROG_BIT(POLICY_PROG_SCHED_PROCESS_EXEC) |
				      POLICY_PROG_BIT(POLICY_PROG_CGROUP_MKDIR));
	/* The cleanup on rmdir is optional: the buckets' map is an LRU, stale ids are unused. */
	assert_int_equal(opt, POLICY_PROG_BIT(POLICY_PROG_CGROUP_RMDIR));
	policy_destroy(pol);
}

static void test_all_keys(void **state)
{
	struct policy *pol = parse_ok("# a comment\n"
				      "events:\n"
				      "- name: sched_process_exec_failed\n"
				      "  env: true\n"
				      "  argv_max_bytes: 65536\n"
				      "  env_max_bytes: 4096\n"
				      "  filters:\n"
				      "    filename_prefix: /tmp/\n"
				      "    cgroup_path_prefix: /kubepods///\n"
				      "    comm: sh\n"
				      "    uid: 4294967294\n"
				      "- name: tcp_close\n"
				      "  rate_limit:\n"
				      "    per_second: 1000000\n"
				      "- openat\n"
				      "- \"oom_kill\"\n");
	const struct policy_event_conf *c = policy_event(pol, POLICY_EV_SCHED_PROCESS_EXEC_FAILED);

	(void)state;
	assert_true(c->enabled);
	assert_true(c->env);
	assert_int_equal(c->argv_max_bytes, 65536);
	assert_int_equal(c->env_max_bytes, 4096);
	assert_string_equal(c->filters.filename_prefix, "/tmp/");
	assert_string_equal(c->filters.cgroup_path_prefix, "/kubepods");
	assert_int_equal(c->filters.n_comm, 1);
	assert_string_equal(c->filters.comm[0], "sh");
	assert_int_equal(c->filters.uid[0], 4294967294u);
	c = policy_event(pol, POLICY_EV_TCP_CLOSE);
	/* burst defaults to per_second. */
	assert_int_equal(c->rate_limit.per_second, 1000000);
	assert_int_equal(c->rate_limit.burst, 1000000);
	assert_true(policy_event(pol, POLICY_EV_SYS_OPENAT)->enabled);
	assert_true(policy_event(pol, POLICY_EV_OOM_KILL)->enabled);
	policy_destroy(pol);
}

static void test_empty_events_turns_off(void **state)
{
	struct policy *pol = parse_ok("events: []\n");

	(void)state;
	assert_true(policy_tracer_off(pol));
	policy_destroy(pol);
}

/* Acceptance 4: a bad key is an error naming its line and the key (the agent exits 2). */
static void test_bad_keys(void **state)
{
	(void)state;
	expect_err("events:\n  - name: tcp_connect\n    filterz: {comm: [x]}\n",
		   POLICY_ERR_UNKNOWN_KEY, 3, "filterz", "unknown key 'filterz'");
	expect_err("events:\n  - name: tcp_connect\n    filters: {comms: [x]}\n",
		   POLICY_ERR_UNKNOWN_KEY, 3, "comms", "events[0].filters: unknown key 'comms'");
	expect_err("events:\n- name: tcp_connect\n  rate_limit: {per_second: 5, bust: 1}\n",
		   POLICY_ERR_UNKNOWN_KEY, 3, "bust", "rate_limit: unknown key 'bust'");
	expect_err("version: 2\nevents: []\n", POLICY_ERR_UNKNOWN_KEY, 1, "version",
		   "expected one of: events");
	expect_err("events: []\nevents: []\n", POLICY_ERR_DUPLICATE, 2, "events", "twice");
	expect_err("events:\n- name: oom_kill\n  name: oom_kill\n", POLICY_ERR_DUPLICATE, 3, "name",
		   "key 'name' given twice");
	expect_err("events:\n- {name: oom_kill, \"na\\x01me\": 1}\n", POLICY_ERR_UNKNOWN_KEY, 2,
		   "na\\x01me", "'na\\x01me'");
	expect_err("events:\n- {name: oom_kill, [a]: 1}\n", POLICY_ERR_TYPE, 2, NULL,
		   "a key must be a string");
	expect_err("{}\n", POLICY_ERR_MISSING, 1, "events", "no 'events' key");
}

/* Acceptance 4: an unknown event name is an error naming it. */
static void test_unknown_event(void **state)
{
	(void)state;
	expect_err("events:\n  - name: tcp_connect\n  - name: tcp_conect\n",
		   POLICY_ERR_UNKNOWN_EVENT, 3, "tcp_conect", "unknown event 'tcp_conect'");
	expect_err("events: [oom_kill, process_snapshot]\n", POLICY_ERR_UNKNOWN_EVENT, 1,
		   "process_snapshot", "unknown event 'process_snapshot'");
	/* A NUL inside a quoted name is shown escaped and never matches a name before it. */
	expect_err("events:\n- name: \"oom_kill\\0x\"\n", POLICY_ERR_UNKNOWN_EVENT, 2, NULL,
		   "'oom_kill\\x00x'");
	expect_err("events:\n- name: [oom_kill]\n", POLICY_ERR_TYPE, 2, "name",
		   "expected an event name, got a list");
	expect_err("events:\n- rate_limit: {per_second: 1}\n", POLICY_ERR_MISSING, 2, "name",
		   "no 'name'");
	expect_err("events:\n- name: oom_kill\n- name: cgroup_mkdir\n- {name: oom_kill}\n",
		   POLICY_ERR_DUPLICATE, 4, "oom_kill", "given twice (first at line 2)");
}

/* The documented rule: exit events are never rate limited; a rate_limit on one is refused. */
static void test_never_rate_limited(void **state)
{
	(void)state;
	expect_err("events:\n- name: sched_process_exit\n  rate_limit: {per_second: 5}\n",
		   POLICY_ERR_NOT_ALLOWED, 3, "rate_limit", "never rate limited");
	expect_err("events:\n- name: cgroup_rmdir\n  rate_limit: {per_second: 5}\n",
		   POLICY_ERR_NOT_ALLOWED, 3, "rate_limit", "never rate limited");
	/* Filters on an exit are fine. */
	policy_destroy(parse_ok("events:\n- name: sched_process_exit\n  filters: {uid: 0}\n"));
}

static void test_settings_an_event_refuses(void **state)
{
	(void)state;
	expect_err("events:\n- name: tcp_connect\n  env: true\n", POLICY_ERR_NOT_ALLOWED, 3, "env",
		   "tcp_connect has no environment");
	expect_err("events:\n- name: execve\n  env_max_bytes: 10\n", POLICY_ERR_NOT_ALLOWED, 3,
		   "env_max_bytes", "remove env_max_bytes");
	expect_err("events:\n- name: oom_kill\n  argv_max_bytes: 100\n", POLICY_ERR_NOT_ALLOWED, 3,
		   "argv_max_bytes", "oom_kill has no argv");
	expect_err("events:\n- name: tcp_connect\n  filters:\n    filename_prefix: /bin\n",
		   POLICY_ERR_NOT_ALLOWED, 4, "filename_prefix", "no file name");
	expect_err("events:\n- name: oom_kill\n  filters:\n    cgroup_path_prefix: kubepods\n",
		   POLICY_ERR_RANGE, 4, "cgroup_path_prefix", "must start with '/'");
	expect_err("events:\n- name: openat\n  filters:\n    filename_prefix: ''\n",
		   POLICY_ERR_RANGE, 4, "filename_prefix", "empty");
	expect_err("events:\n- name: oom_kill\n  filters: {comm: []}\n", POLICY_ERR_TYPE, 3, "comm",
		   "empty list matches nothing");
	expect_err("events:\n- name: oom_kill\n  filters: {uid: []}\n", POLICY_ERR_TYPE, 3, "uid",
		   "empty list matches nothing");
	expect_err("events:\n- name: oom_kill\n  filters: {comm: ['']}\n", POLICY_ERR_RANGE, 3,
		   "comm", "never matches");
	expect_err("events:\n- name: sched_process_exec\n  env: yes\n", POLICY_ERR_TYPE, 3, "env",
		   "expected true or false");
	expect_err("events:\n- name: sched_process_exec\n  env: 'true'\n", POLICY_ERR_TYPE, 3,
		   "env", "got a quoted string");
	expect_err("events:\n- name: tcp_connect\n  rate_limit:\n", POLICY_ERR_TYPE, 3,
		   "rate_limit", "expected a mapping, got nothing (null)");
	expect_err("events:\n- name: tcp_connect\n  rate_limit: {burst: 3}\n", POLICY_ERR_MISSING,
		   3, "per_second", "per_second is required");
	expect_err("events: tcp_connect\n", POLICY_ERR_TYPE, 1, "events", "expected a list");
	expect_err("events:\n", POLICY_ERR_TYPE, 1, "events", "got nothing (null)");
	expect_err("- events\n", POLICY_ERR_TYPE, 1, NULL, "must be a mapping");
	expect_err("just text\n", POLICY_ERR_TYPE, 1, NULL, "must be a mapping");
}

static void test_numbers(void **state)
{
	static const struct {
		const char *value;
		enum policy_status want;
		const char *in_msg;
	} cases[] = {
		{ "-1", POLICY_ERR_RANGE, "negative" },
		{ "-0", POLICY_ERR_RANGE, "negative" },
		{ "0", POLICY_ERR_RANGE, "out of range, must be 1..1000000" },
		{ "1000001", POLICY_ERR_RANGE, "out of range" },
		{ "4294967296", POLICY_ERR_RANGE, "out of range" },
		{ "18446744073709551617", POLICY_ERR_RANGE, "out of range" },
		{ "99999999999999999999999999999999999999999999", POLICY_ERR_RANGE,
		  "out of range" },
		{ "0x10", POLICY_ERR_RANGE, "not a decimal number" },
		{ "010", POLICY_ERR_RANGE, "not a decimal number" },
		{ "1e3", POLICY_ERR_RANGE, "not a decimal number" },
		{ "1_000", POLICY_ERR_RANGE, "not a decimal number" },
		{ "+5", POLICY_ERR_RANGE, "not a decimal number" },
		{ "5.0", POLICY_ERR_RANGE, "not a decimal number" },
		{ ".inf", POLICY_ERR_RANGE, "not a decimal number" },
		{ "\"5\"", POLICY_ERR_TYPE, "got a quoted string" },
		{ "[5]", POLICY_ERR_TYPE, "got a list" },
		{ "~", POLICY_ERR_TYPE, "got nothing" },
	};
	char yaml[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			 "events:\n- name: tcp_connect\n  rate_limit:\n    per_second: %s\n",
			 cases[i].value);
		expect_err(yaml, cases[i].want, 4, "per_second", cases[i].in_msg);
		snprintf(yaml, sizeof(yaml),
			 "events:\n- name: tcp_connect\n  rate_limit:\n    per_second: 1\n"
			 "    burst: %s\n",
			 cases[i].value);
		expect_err(yaml, cases[i].want, 5, "burst", cases[i].in_msg);
	}
	expect_err("events:\n- {name: oom_kill, filters: {uid: [0, 4294967295]}}\n",
		   POLICY_ERR_RANGE, 2, "uid", "0..4294967294");
	expect_err("events:\n- {name: oom_kill, filters: {uid: -3}}\n", POLICY_ERR_RANGE, 2, "uid",
		   "negative");
	expect_err("events:\n- {name: execve, argv_max_bytes: 65537}\n", POLICY_ERR_RANGE, 2,
		   "argv_max_bytes", "1..65536");
}

/* Acceptance 4: malformed YAML is an error with its line. */
static void test_malformed(void **state)
{
	(void)state;
	expect_err("events:\n  - name: tcp_connect\n    rate_limit: {per_second: 5, burst: 1\n",
		   POLICY_ERR_SYNTAX, 4, "", "malformed YAML");
	expect_err("events:\n- name: oom_kill\n - name: b\n", POLICY_ERR_SYNTAX, 3, "",
		   "did not find expected key (while parsing a block mapping)");
	expect_err("events:\n- name: oom_kill\n  - name: b\n", POLICY_ERR_SYNTAX, 3, "",
		   "malformed YAML");
	expect_err("events: [oom_kill\n", POLICY_ERR_SYNTAX, 2, "", "malformed YAML");
	expect_err("\tevents: []\n", POLICY_ERR_SYNTAX, 1, "", "malformed YAML");
	expect_err("events: \"oom_kill\n", POLICY_ERR_SYNTAX, 2, "", "malformed YAML");
	expect_err("events: []\n---\nevents: []\n", POLICY_ERR_SYNTAX, 2, NULL,
		   "more than one YAML document");
	expect_err("", POLICY_ERR_MISSING, 1, "events", "empty policy");
	expect_err("# only a comment\n\n", POLICY_ERR_MISSING, 1, "events", "empty policy");
	expect_err("---\n...\n", POLICY_ERR_TYPE, 2, NULL, "must be a mapping");
}

/* Anchors, aliases and tags are refused: no expansion (billion laughs), no type games. */
static void test_aliases_refused(void **state)
{
	(void)state;
	expect_err("events:\n- &a {name: oom_kill}\n", POLICY_ERR_NOT_ALLOWED, 2, NULL, "anchors");
	expect_err("a: &x [1]\nevents: *x\n", POLICY_ERR_UNKNOWN_KEY, 1, "a", "unknown key 'a'");
	expect_err("events: *x\n", POLICY_ERR_NOT_ALLOWED, 1, NULL, "aliases");
	expect_err("events:\n- name: !!str oom_kill\n", POLICY_ERR_NOT_ALLOWED, 2, NULL, "tags");
}

/* Bytes that are not UTF-8 are a syntax error with the line; NUL and controls too. */
static void test_non_utf8(void **state)
{
	static const char bad_utf8[] = "events:\n- name: oom\xff\xfekill\n";
	static const char nul[] = "events:\n- name: oom\0kill\n";
	static const char ctrl[] = "events:\n- name: oom\x01kill\n";
	static const char utf16[] = "\xff\xfe"
				    "e\0v\0";

	(void)state;
	expect_error(bad_utf8, sizeof(bad_utf8) - 1, POLICY_ERR_SYNTAX, 2, "", "malformed YAML");
	expect_error(nul, sizeof(nul) - 1, POLICY_ERR_SYNTAX, 2, "", "malformed YAML");
	expect_error(ctrl, sizeof(ctrl) - 1, POLICY_ERR_SYNTAX, 2, "", "malformed YAML");
	expect_error(utf16, sizeof(utf16) - 1, POLICY_ERR_SYNTAX, 1, "", "malformed YAML");
	/* Valid UTF-8 that is no event: unknown, shown escaped. */
	expect_err("events:\n- name: \xc3\xa9v\xc3\xa9nement\n", POLICY_ERR_UNKNOWN_EVENT, 2, NULL,
		   "'\\xc3\\xa9v\\xc3\\xa9nement'");
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *o;

	assert_non_null(s);
	memcpy(s, head, hl);
	o = s + hl;
	for (size_t i = 0; i < n; i++, o += ul)
		memcpy(o, unit, ul);
	memcpy(o, tail, tl + 1);
	return s;
}

static void test_limits(void **state)
{
	char *s;

	(void)state;
	/* 64 comm entries are fine, 65 are not. */
	s = repeat("events:\n- name: oom_kill\n  filters:\n    comm: [", "ab,", 63, "ab]\n");
	policy_destroy(parse_ok(s));
	free(s);
	s = repeat("events:\n- name: oom_kill\n  filters:\n    comm: [", "ab,", 64, "ab]\n");
	expect_err(s, POLICY_ERR_LIMIT, 4, "comm", "more than 64 entries");
	free(s);
	/* A huge list stops at the bound, without reading the rest. */
	s = repeat("events:\n- name: oom_kill\n  filters:\n    uid: [", "1,", 400000, "1]\n");
	expect_err(s, POLICY_ERR_LIMIT, 4, "uid", "more than 64 entries");
	free(s);
	expect_err("events:\n- {name: oom_kill, filters: {comm: [0123456789abcdef]}}\n",
		   POLICY_ERR_LIMIT, 2, "comm", "16 bytes, more than the 15");
	policy_destroy(parse_ok("events:\n- {name: oom_kill, filters: {comm: "
				"[0123456789abcde]}}\n"));
	s = repeat("events:\n- {name: oom_kill, filters: {cgroup_path_prefix: /", "a", 255, "}}\n");
	expect_err(s, POLICY_ERR_LIMIT, 2, "cgroup_path_prefix", "256 bytes");
	free(s);
	/* A name far longer than any event. */
	s = repeat("events:\n- name: ", "x", 100000, "\n");
	expect_err(s, POLICY_ERR_UNKNOWN_EVENT, 2, NULL, "...");
	free(s);
	/* A whole list of unknown and duplicate events fails at the first. */
	s = repeat("events: [", "oom_kill,", 10000, "oom_kill]\n");
	expect_err(s, POLICY_ERR_DUPLICATE, 1, "oom_kill", "given twice");
	free(s);
	/* Over 1 MiB of input is refused before parsing. */
	s = repeat("# ", "x", POLICY_FILE_MAX_BYTES, "\nevents: []\n");
	expect_err(s, POLICY_ERR_LIMIT, 0, "", "more than the 1048576");
	free(s);
}

/* Deep nesting ends at the first node the format has no place for, wherever it is. */
static void test_deep_nesting(void **state)
{
	char *s;

	(void)state;
	s = repeat("", "[", 500000, "");
	expect_err(s, POLICY_ERR_TYPE, 1, NULL, "must be a mapping");
	free(s);
	s = repeat("events: ", "[", 500000, "");
	expect_err(s, POLICY_ERR_TYPE, 1, NULL, "expected a mapping with a name");
	free(s);
	s = repeat("events:\n- name: oom_kill\n  filters: {comm: ", "{a: ", 100000, "");
	expect_err(s, POLICY_ERR_TYPE, 3, "comm", "expected a list or one value, got a mapping");
	free(s);
	s = repeat("", "a:\n ", 20000, "b\n");
	expect_err(s, POLICY_ERR_UNKNOWN_KEY, 1, "a", "unknown key 'a'");
	free(s);
}

static void test_file(void **state)
{
	char path[] = "/tmp/fs_policy_XXXXXX";
	struct policy_error err;
	struct policy *pol = NULL;
	int fd;

	(void)state;
	assert_int_equal(policy_create_from_file("/nonexistent/fs_policy.yaml", &pol, &err),
			 POLICY_ERR_IO);
	assert_non_null(strstr(err.msg, "/nonexistent/fs_policy.yaml: cannot open"));
	assert_int_equal(policy_create_from_file("/", &pol, &err), POLICY_ERR_IO);
	assert_non_null(strstr(err.msg, "cannot read"));
	/* An endless file is cut at the bound. */
	assert_int_equal(policy_create_from_file("/dev/zero", &pol, &err), POLICY_ERR_LIMIT);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, issue_example, strlen(issue_example)),
			 (ssize_t)strlen(issue_example));
	assert_int_equal(write(fd, "  - name: nope\n", 15), 15);
	close(fd);
	assert_int_equal(policy_create_from_file(path, &pol, &err), POLICY_ERR_UNKNOWN_EVENT);
	assert_null(pol);
	assert_int_equal(err.line, 7);
	assert_string_equal(err.key, "nope");
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, issue_example, strlen(issue_example)),
			 (ssize_t)strlen(issue_example));
	close(fd);
	assert_int_equal(policy_create_from_file(path, &pol, &err), POLICY_OK);
	assert_true(policy_event(pol, POLICY_EV_TCP_CONNECT)->rate_limited);
	policy_destroy(pol);
	unlink(path);
}

static void test_match(void **state)
{
	struct policy *pol = parse_ok(issue_example);
	const struct policy_event_conf *c = policy_event(pol, POLICY_EV_SCHED_PROCESS_EXEC);
	struct policy_match_ctx m = { .comm = "curl", .uid = 0, .cgroup_path = "/kubepods/pod1" };

	(void)state;
	assert_true(policy_event_match(c, &m));
	m.cgroup_path = "/kubepods";
	assert_true(policy_event_match(c, &m));
	m.cgroup_path = "/kubepods2/pod1";
	assert_false(policy_event_match(c, &m));
	m.cgroup_path = NULL;
	assert_false(policy_event_match(c, &m));
	m.cgroup_path = "/kubepods/x";
	m.comm = "curl2";
	assert_false(policy_event_match(c, &m));
	m.comm = "wget";
	m.uid = 1000;
	assert_false(policy_event_match(c, &m));
	/* No filters: everything passes. */
	assert_true(policy_event_match(policy_event(pol, POLICY_EV_TCP_CONNECT), &m));
	assert_false(policy_event_match(c, NULL));
	policy_destroy(pol);

	pol = parse_ok("events:\n- {name: openat, filters: {filename_prefix: /etc/, "
		       "cgroup_path_prefix: /}}\n");
	c = policy_event(pol, POLICY_EV_SYS_OPENAT);
	m = (struct policy_match_ctx){ .comm = "cat",
				       .cgroup_path = "/",
				       .filename = "/etc/shadow" };
	assert_true(policy_event_match(c, &m));
	m.filename = "/etcetera";
	assert_false(policy_event_match(c, &m));
	m.filename = "/etc/x";
	m.cgroup_path = "/system.slice/a";
	assert_true(policy_event_match(c, &m));
	policy_destroy(pol);

	/* fields: only the filters named are tested (the agent's cgroup prefix resolution). */
	pol = parse_ok(issue_example);
	c = policy_event(pol, POLICY_EV_SCHED_PROCESS_EXEC);
	m = (struct policy_match_ctx){ .cgroup_path = "/kubepods/burstable/pod1",
				       .fields = POLICY_MATCH_CGROUP_PATH };
	assert_true(policy_event_match(c, &m));
	m.cgroup_path = "/kubepods2";
	assert_false(policy_event_match(c, &m));
	m.cgroup_path = NULL;
	assert_false(policy_event_match(c, &m));
	m = (struct policy_match_ctx){ .comm = "wget", .uid = 0, .fields = POLICY_MATCH_COMM };
	assert_true(policy_event_match(c, &m));
	m.fields = POLICY_MATCH_COMM | POLICY_MATCH_UID;
	m.uid = 7;
	assert_false(policy_event_match(c, &m));
	m.fields = POLICY_MATCH_COMM | POLICY_MATCH_CGROUP_PATH;
	assert_false(policy_event_match(c, &m)); /* no path, and a prefix to test */
	m.fields = POLICY_MATCH_FILENAME; /* no filename_prefix on this event */
	assert_true(policy_event_match(c, &m));
	policy_destroy(pol);
}

/*
 * Seeded mutations of valid policies (byte flips, insertions of YAML punctuation, cuts): every
 * input ends in OK or an error with a message, never a crash or a leak (run under ASan by the
 * fuzz target too). Deterministic: a fixed xorshift seed.
 */
static void test_mutations(void **state)
{
	static const char *const seeds[] = {
		issue_example,
		"events:\n- name: sched_process_exec_failed\n  env: true\n  argv_max_bytes: 65536\n"
		"  filters: {filename_prefix: /tmp/, uid: [1, 2], comm: sh}\n- openat\n",
	};
	static const char punct[] = "{}[],:-&*!|>'\"#%@`\n\t \\0x\xff";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char buf[512];
	unsigned int ok = 0, failed = 0;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		const char *seed = seeds[round % 2];
		size_t len = strlen(seed);
		struct policy_error err;
		struct policy *pol = NULL;
		enum policy_status st;
		int edits;

		memcpy(buf, seed, len);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		edits = 1 + (int)(x % 4);
		for (int e = 0; e < edits; e++) {
			size_t at;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			at = len ? (size_t)(x >> 8) % len : 0;
			switch (x % 4) {
			case 0:
				buf[at] = punct[(x >> 32) % (sizeof(punct) - 1)];
				break;
			case 1:
				buf[at] = (char)(x >> 40);
				break;
			case 2:
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = punct[(x >> 32) % (sizeof(punct) - 1)];
					len++;
				}
				break;
			default:
				len = at;
				break;
			}
		}
		st = policy_create_from_yaml(buf, len, "m.yaml", &pol, &err);
		if (st == POLICY_OK) {
			assert_non_null(pol);
			ok++;
		} else {
			assert_null(pol);
			assert_true(st > POLICY_WARN_DEGRADED && st < POLICY_STATUS_COUNT);
			assert_int_equal(err.status, st);
			assert_true(strncmp(err.msg, "m.yaml:", 7) == 0);
			failed++;
		}
		policy_destroy(pol);
	}
	/* Both outcomes happen: the mutations reach past the first byte. */
	assert_true(ok > 100);
	assert_true(failed > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_example),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_empty_events_turns_off),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_unknown_event),
		cmocka_unit_test(test_never_rate_limited),
		cmocka_unit_test(test_settings_an_event_refuses),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_aliases_refused),
		cmocka_unit_test(test_non_utf8),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
