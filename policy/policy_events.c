// SPDX-License-Identifier: Apache-2.0
/* `--events NAME,NAME,...`: the event list of the command line. */
#include <string.h>

#include "policy_int.h"

/* Longest --events value accepted: every name of the catalogue fits many times over. */
#define EVENTS_ARG_MAX 4096

static const char where[] = "--events";

/* One name of the list (`n` bytes at `p`, not NUL-terminated), applied to `pol`. */
static enum policy_status parse_item(struct policy *pol, const char *p, size_t n, size_t item,
				     bool seen[POLICY_EV_COUNT], bool *seen_default,
				     bool *seen_none, struct policy_error *err)
{
	char name[64], shown[POLICY_ERRKEY_MAX];
	enum policy_event_id id;

	if (n == 0)
		return policy_fail(err, POLICY_ERR_SYNTAX, where, 0, 0, NULL, 0,
				   "empty name in the list (item %zu)", item);
	if (n >= sizeof(name))
		goto unknown;
	memcpy(name, p, n);
	name[n] = '\0';
	if (strcmp(name, "none") == 0) {
		*seen_none = true;
		return POLICY_OK;
	}
	if (strcmp(name, "default") == 0) {
		if (*seen_default)
			return policy_fail(err, POLICY_ERR_DUPLICATE, where, 0, 0, name, n,
					   "'default' listed twice");
		*seen_default = true;
		for (int e = POLICY_EV_NONE + 1; e < POLICY_EV_COUNT; e++)
			if (policy_event_def((enum policy_event_id)e)->flags & POLICY_EVF_DEFAULT)
				pol->ev[e].enabled = true;
		return POLICY_OK;
	}
	id = policy_event_by_name(name);
	if (id == POLICY_EV_NONE || (policy_event_def(id)->flags & POLICY_EVF_INTERNAL))
		goto unknown;
	if (seen[id])
		return policy_fail(err, POLICY_ERR_DUPLICATE, where, 0, 0, name, n,
				   "event '%s' listed twice", name);
	seen[id] = true;
	pol->ev[id].enabled = true;
	return POLICY_OK;
unknown:
	policy_escape(shown, sizeof(shown), p, n);
	return policy_fail(err, POLICY_ERR_UNKNOWN_EVENT, where, 0, 0, p, n,
			   "unknown event '%s' (docs/tracer.md lists the events)", shown);
}

enum policy_status policy_create_from_events(const char *list, struct policy **out,
					     struct policy_error *err)
{
	bool seen[POLICY_EV_COUNT] = { false };
	bool seen_default = false, seen_none = false;
	size_t len, items = 0;
	struct policy *pol;
	const char *p = list;

	if (!out || !list)
		return policy_fail(err, POLICY_ERR_INVAL, where, 0, 0, NULL, 0, "no event list");
	*out = NULL;
	len = strnlen(list, EVENTS_ARG_MAX + 1);
	if (len > EVENTS_ARG_MAX)
		return policy_fail(err, POLICY_ERR_LIMIT, where, 0, 0, NULL, 0,
				   "list over %d bytes", EVENTS_ARG_MAX);
	if (len == 0)
		return policy_fail(err, POLICY_ERR_SYNTAX, where, 0, 0, NULL, 0,
				   "empty list (use --events none to turn the tracer off)");
	pol = policy_alloc();
	if (!pol)
		return policy_fail(err, POLICY_ERR_NOMEM, where, 0, 0, NULL, 0, "out of memory");

	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		enum policy_status st;

		st = parse_item(pol, p, n, ++items, seen, &seen_default, &seen_none, err);
		if (st != POLICY_OK) {
			policy_destroy(pol);
			return st;
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (seen_none && items > 1) {
		policy_destroy(pol);
		return policy_fail(err, POLICY_ERR_SYNTAX, where, 0, 0, "none", 4,
				   "'none' turns the tracer off and cannot be combined with "
				   "events");
	}
	policy_resolve(pol);
	*out = pol;
	return POLICY_OK;
}
