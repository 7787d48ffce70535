// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for policy/: the input is parsed as a YAML policy and, NUL-terminated, as an
 * --events list. An accepted policy is resolved and checked against a program mask taken from
 * the input; a refused one must carry a message that names the input and holds only printable
 * ASCII (bytes from the input escaped).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static void check_error(enum policy_status st, const struct policy_error *err, const char *where)
{
	if (st <= POLICY_WARN_DEGRADED || st >= POLICY_STATUS_COUNT || err->status != st ||
	    strncmp(err->msg, where, strlen(where)) != 0)
		__builtin_trap();
	for (const char *c = err->msg; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			__builtin_trap();
	for (const char *c = err->key; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			__builtin_trap();
}

static void exercise(const struct policy *pol, const uint8_t *data, size_t size)
{
	bool degraded[POLICY_EV_COUNT];
	struct policy_error err;
	policy_prog_mask req, opt, avail = 0;
	struct policy_match_ctx m = { .comm = "curl", .uid = 0, .cgroup_path = "/kubepods/a" };
	enum policy_status st;

	memcpy(&avail, data, size < sizeof(avail) ? size : sizeof(avail));
	policy_programs(pol, &req, &opt);
	if (req & opt)
		__builtin_trap();
	st = policy_check_programs(pol, avail, degraded, &err);
	/* Every program there: nothing to report. */
	if (policy_check_programs(pol, req | opt, NULL, NULL) != POLICY_OK)
		__builtin_trap();
	if (st != POLICY_OK && st != POLICY_WARN_DEGRADED && st != POLICY_ERR_PROGRAM_MISSING)
		__builtin_trap();
	for (int id = 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_conf *c = policy_event(pol, (enum policy_event_id)id);

		if (c->enabled && !c->needed)
			__builtin_trap();
		if (c->rate_limited && (policy_event_def((enum policy_event_id)id)->flags &
					POLICY_EVF_NEVER_RATE_LIMITED))
			__builtin_trap();
		(void)policy_event_match(c, &m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_error err;
	struct policy *pol = NULL;
	enum policy_status st;
	char *s;

	st = policy_create_from_yaml((const char *)data, size, "f.yaml", &pol, &err);
	if (st == POLICY_OK)
		exercise(pol, data, size);
	else if (pol)
		__builtin_trap();
	else
		check_error(st, &err, "f.yaml");
	policy_destroy(pol);

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	pol = NULL;
	st = policy_create_from_events(s, &pol, &err);
	if (st == POLICY_OK)
		exercise(pol, data, size);
	else
		check_error(st, &err, "--events");
	policy_destroy(pol);
	free(s);
	return 0;
}
