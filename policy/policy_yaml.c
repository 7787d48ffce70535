// SPDX-License-Identifier: Apache-2.0
/*
 * `--policy FILE`: the YAML policy, read with libyaml's event parser (yaml_parser_parse).
 *
 * The format has a fixed shape (docs/tracer.md), so the parser walks it as a schema: each node
 * is checked against what belongs at its place the moment libyaml reports it, and the first
 * mismatch ends the parse. Nothing is skipped, so no input nests deeper than the format does,
 * whatever the file holds; anchors, aliases and tags are refused (no expansion, no surprises).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "policy_int.h"

struct mark {
	unsigned int line, column; /* 1-based; 0: not set */
};

struct yp {
	yaml_parser_t parser;
	yaml_event_t ev; /* the current event, valid when `have` */
	bool have;
	const char *buf; /* the input, for the line of a reader error */
	size_t len;
	const char *name; /* the input's name in messages */
	struct policy_error *err;
	struct policy *pol;
};

/* The settings of one events[] item, checked once its mapping is complete. */
struct ev_tmp {
	size_t index;
	struct mark at; /* the item itself */
	bool has_name;
	char name[64];
	size_t name_len;
	struct mark name_at;
	bool has_rate;
	struct policy_rate_limit rate;
	struct mark rate_at;
	bool has_filters;
	struct policy_filters filters;
	struct mark filters_at;
	struct mark filename_prefix_at; /* set when filename_prefix was given */
	bool has_env;
	bool env;
	struct mark env_at;
	bool has_argv_max;
	uint32_t argv_max;
	struct mark argv_max_at;
	bool has_env_max;
	uint32_t env_max;
	struct mark env_max_at;
};

static struct mark mark_of(const yaml_event_t *ev)
{
	return (struct mark){ (unsigned int)ev->start_mark.line + 1,
			      (unsigned int)ev->start_mark.column + 1 };
}

/* An error at `at` about `key` (may be NULL): "FILE:L:C: <context>: <text>". */
static enum policy_status fail_at(struct yp *p, enum policy_status st, struct mark at,
				  const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static enum policy_status fail_at(struct yp *p, enum policy_status st, struct mark at,
				  const char *key, const char *fmt, ...)
{
	char text[POLICY_ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return policy_fail(p->err, st, p->name, at.line, at.column, key, key ? strlen(key) : 0,
			   "%s", text);
}

/* 1-based line and column of byte `offset` of the input (libyaml's reader errors give bytes). */
static struct mark mark_of_offset(const struct yp *p, size_t offset)
{
	struct mark m = { 1, 1 };

	for (size_t i = 0; i < offset && i < p->len; i++) {
		if (p->buf[i] == '\n') {
			m.line++;
			m.column = 1;
		} else {
			m.column++;
		}
	}
	return m;
}

static enum policy_status syntax_error(struct yp *p)
{
	const yaml_parser_t *ps = &p->parser;
	struct mark at;

	if (ps->error == YAML_MEMORY_ERROR)
		return policy_fail(p->err, POLICY_ERR_NOMEM, p->name, 0, 0, NULL, 0,
				   "out of memory while parsing");
	if (ps->error == YAML_READER_ERROR) {
		at = mark_of_offset(p, ps->problem_offset);
		return fail_at(p, POLICY_ERR_SYNTAX, at, NULL, "malformed YAML: %s (byte 0x%02x)",
			       ps->problem ? ps->problem : "unreadable input",
			       (unsigned int)(ps->problem_value & 0xff));
	}
	at = (struct mark){ (unsigned int)ps->problem_mark.line + 1,
			    (unsigned int)ps->problem_mark.column + 1 };
	if (ps->context)
		return fail_at(p, POLICY_ERR_SYNTAX, at, NULL, "malformed YAML: %s (%s)",
			       ps->problem ? ps->problem : "error", ps->context);
	return fail_at(p, POLICY_ERR_SYNTAX, at, NULL, "malformed YAML: %s",
		       ps->problem ? ps->problem : "error");
}

/* Reads the next event into p->ev; refuses aliases, anchors and explicit tags. */
static enum policy_status next(struct yp *p)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	if (p->have) {
		yaml_event_delete(&p->ev);
		p->have = false;
	}
	if (!yaml_parser_parse(&p->parser, &p->ev))
		return syntax_error(p);
	p->have = true;
	switch (p->ev.type) {
	case YAML_ALIAS_EVENT:
		return fail_at(p, POLICY_ERR_NOT_ALLOWED, mark_of(&p->ev), NULL,
			       "aliases (*name) are not supported in a policy");
	case YAML_SCALAR_EVENT:
		anchor = p->ev.data.scalar.anchor;
		tag = p->ev.data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = p->ev.data.sequence_start.anchor;
		tag = p->ev.data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = p->ev.data.mapping_start.anchor;
		tag = p->ev.data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor)
		return fail_at(p, POLICY_ERR_NOT_ALLOWED, mark_of(&p->ev), NULL,
			       "anchors (&name) are not supported in a policy");
	if (tag)
		return fail_at(p, POLICY_ERR_NOT_ALLOWED, mark_of(&p->ev), NULL,
			       "tags (!tag) are not supported in a policy");
	return POLICY_OK;
}

static const char *scalar(const struct yp *p)
{
	return (const char *)p->ev.data.scalar.value;
}

static size_t scalar_len(const struct yp *p)
{
	return p->ev.data.scalar.length;
}

static bool scalar_is(const struct yp *p, const char *s)
{
	return scalar_len(p) == strlen(s) && memcmp(scalar(p), s, scalar_len(p)) == 0;
}

static bool is_null(const struct yp *p)
{
	if (p->ev.type != YAML_SCALAR_EVENT || p->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return scalar_is(p, "") || scalar_is(p, "~") || scalar_is(p, "null") ||
	       scalar_is(p, "Null") || scalar_is(p, "NULL");
}

/* What the current node is, for "expected X, got Y" messages. */
static const char *node_kind(const struct yp *p)
{
	switch (p->ev.type) {
	case YAML_SCALAR_EVENT:
		if (is_null(p))
			return "nothing (null)";
		return p->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? "a plain value"
									  : "a quoted string";
	case YAML_SEQUENCE_START_EVENT:
		return "a list";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	default:
		return "something else";
	}
}

/*
 * The current node as a key of a mapping: a string without NUL bytes, copied (escaped when it
 * is not a known key) into `key`. Complex keys (lists, mappings) are refused.
 */
static enum policy_status read_key(struct yp *p, const char *ctx, char *key, size_t size)
{
	if (p->ev.type != YAML_SCALAR_EVENT)
		return fail_at(p, POLICY_ERR_TYPE, mark_of(&p->ev), NULL,
			       "%s: a key must be a string, got %s", ctx, node_kind(p));
	policy_escape(key, size, scalar(p), scalar_len(p));
	return POLICY_OK;
}

/* A string value of at most `max_len` bytes without NUL bytes, copied NUL-terminated to `out`. */
static enum policy_status read_string(struct yp *p, const char *ctx, const char *key, char *out,
				      size_t max_len)
{
	struct mark at = mark_of(&p->ev);

	if (p->ev.type != YAML_SCALAR_EVENT || is_null(p))
		return fail_at(p, POLICY_ERR_TYPE, at, key, "%s: %s: expected a string, got %s",
			       ctx, key, node_kind(p));
	if (memchr(scalar(p), '\0', scalar_len(p)))
		return fail_at(p, POLICY_ERR_RANGE, at, key, "%s: %s: the string holds a NUL byte",
			       ctx, key);
	if (scalar_len(p) > max_len)
		return fail_at(p, POLICY_ERR_LIMIT, at, key,
			       "%s: %s: %zu bytes, more than the %zu allowed", ctx, key,
			       scalar_len(p), max_len);
	memcpy(out, scalar(p), scalar_len(p));
	out[scalar_len(p)] = '\0';
	return POLICY_OK;
}

/* An unsigned decimal in lo..hi: plain, digits only, no sign, no leading zero, no 0x/1e3/1_000. */
static enum policy_status read_u32(struct yp *p, const char *ctx, const char *key, uint32_t lo,
				   uint32_t hi, uint32_t *out)
{
	struct mark at = mark_of(&p->ev);
	const char *s = scalar(p);
	size_t n = scalar_len(p);
	uint64_t v = 0;

	if (p->ev.type != YAML_SCALAR_EVENT || is_null(p) ||
	    p->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return fail_at(p, POLICY_ERR_TYPE, at, key, "%s: %s: expected a number, got %s",
			       ctx, key, node_kind(p));
	if (n > 1 && s[0] == '-' && s[1] >= '0' && s[1] <= '9')
		return fail_at(p, POLICY_ERR_RANGE, at, key, "%s: %s: negative, must be %u..%u",
			       ctx, key, lo, hi);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || (i == 0 && s[i] == '0' && n > 1)) {
			char shown[48];

			policy_escape(shown, sizeof(shown), s, n);
			return fail_at(p, POLICY_ERR_RANGE, at, key,
				       "%s: %s: '%s' is not a decimal number %u..%u", ctx, key,
				       shown, lo, hi);
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > hi)
			break;
	}
	if (v < lo || v > hi)
		return fail_at(p, POLICY_ERR_RANGE, at, key, "%s: %s: out of range, must be %u..%u",
			       ctx, key, lo, hi);
	*out = (uint32_t)v;
	return POLICY_OK;
}

/* true/True/TRUE or false/False/FALSE, plain (YAML 1.1's yes/no/on/off are refused as ambiguous). */
static enum policy_status read_bool(struct yp *p, const char *ctx, const char *key, bool *out)
{
	if (p->ev.type == YAML_SCALAR_EVENT && p->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (scalar_is(p, "true") || scalar_is(p, "True") || scalar_is(p, "TRUE")) {
			*out = true;
			return POLICY_OK;
		}
		if (scalar_is(p, "false") || scalar_is(p, "False") || scalar_is(p, "FALSE")) {
			*out = false;
			return POLICY_OK;
		}
	}
	return fail_at(p, POLICY_ERR_TYPE, mark_of(&p->ev), key,
		       "%s: %s: expected true or false, got %s", ctx, key, node_kind(p));
}

/* Index of `key` in the NULL-terminated `keys`, -1 when absent. */
static int key_index(const char *const *keys, const char *key)
{
	for (int i = 0; keys[i]; i++)
		if (strcmp(keys[i], key) == 0)
			return i;
	return -1;
}

/* "a, b, c" of a NULL-terminated key list, for unknown-key messages. */
static void key_list(char *out, size_t size, const char *const *keys)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; keys[i] && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s", i ? ", " : "", keys[i]);
}

/*
 * Reads the key of the next entry of a mapping whose keys are `keys`: returns POLICY_OK with
 * *idx the key's index and the parser on the value, or with *idx -1 at the mapping's end.
 * Unknown and repeated keys are errors; `seen` has one bit per key.
 */
static enum policy_status map_key(struct yp *p, const char *ctx, const char *const *keys,
				  uint32_t *seen, int *idx, struct mark *key_at)
{
	char key[POLICY_ERRKEY_MAX], expected[256];
	enum policy_status st;

	*idx = -1;
	st = next(p);
	if (st != POLICY_OK)
		return st;
	if (p->ev.type == YAML_MAPPING_END_EVENT)
		return POLICY_OK;
	st = read_key(p, ctx, key, sizeof(key));
	if (st != POLICY_OK)
		return st;
	*key_at = mark_of(&p->ev);
	*idx = (scalar_len(p) == strlen(key)) ? key_index(keys, key) : -1;
	if (*idx < 0) {
		key_list(expected, sizeof(expected), keys);
		/* `key` is escaped already; policy_fail escapes the raw bytes for err->key. */
		return policy_fail(p->err, POLICY_ERR_UNKNOWN_KEY, p->name, key_at->line,
				   key_at->column, scalar(p), scalar_len(p),
				   "%s: unknown key '%s' (expected one of: %s)", ctx, key,
				   expected);
	}
	if (*seen & (1u << *idx))
		return fail_at(p, POLICY_ERR_DUPLICATE, *key_at, keys[*idx],
			       "%s: key '%s' given twice", ctx, key);
	*seen |= 1u << *idx;
	return next(p);
}

static enum policy_status expect_mapping(struct yp *p, const char *ctx, const char *key)
{
	if (p->ev.type == YAML_MAPPING_START_EVENT)
		return POLICY_OK;
	return fail_at(p, POLICY_ERR_TYPE, mark_of(&p->ev), key,
		       "%s: %s: expected a mapping, got %s", ctx, key, node_kind(p));
}

static enum policy_status parse_rate_limit(struct yp *p, const char *ctx, struct ev_tmp *t)
{
	static const char *const keys[] = { "per_second", "burst", NULL };
	char sub[96];
	uint32_t seen = 0;
	bool has_burst = false;
	enum policy_status st;
	struct mark key_at;
	int idx;

	st = expect_mapping(p, ctx, "rate_limit");
	if (st != POLICY_OK)
		return st;
	snprintf(sub, sizeof(sub), "%s.rate_limit", ctx);
	for (;;) {
		st = map_key(p, sub, keys, &seen, &idx, &key_at);
		if (st != POLICY_OK)
			return st;
		if (idx < 0)
			break;
		if (idx == 0) {
			st = read_u32(p, sub, keys[idx], 1, POLICY_RATE_MAX, &t->rate.per_second);
		} else {
			st = read_u32(p, sub, keys[idx], 1, POLICY_RATE_MAX, &t->rate.burst);
			has_burst = true;
		}
		if (st != POLICY_OK)
			return st;
	}
	if (!(seen & 1))
		return fail_at(p, POLICY_ERR_MISSING, t->rate_at, "per_second",
			       "%s: per_second is required (events per second per cgroup)", sub);
	if (!has_burst)
		t->rate.burst = t->rate.per_second;
	t->has_rate = true;
	return POLICY_OK;
}

/* A list of strings or of numbers, or one scalar standing for a list of one. */
static enum policy_status begin_list(struct yp *p, const char *ctx, const char *key, bool *is_list)
{
	*is_list = p->ev.type == YAML_SEQUENCE_START_EVENT;
	if (*is_list || (p->ev.type == YAML_SCALAR_EVENT && !is_null(p)))
		return POLICY_OK;
	return fail_at(p, POLICY_ERR_TYPE, mark_of(&p->ev), key,
		       "%s: %s: expected a list or one value, got %s", ctx, key, node_kind(p));
}

/* Reads the current scalar as item i of a filter list; ctx and key name it in errors. */
typedef enum policy_status (*list_item_fn)(struct yp *p, const char *ctx, const char *key,
					   struct policy_filters *f, size_t i);

/*
 * A filter list (a list, or one scalar standing for a list of one) of at most max items, each
 * read by read_item into slot *n, which counts them. More than max items is POLICY_ERR_LIMIT;
 * an empty list is an error, since it would match nothing.
 */
static enum policy_status parse_list(struct yp *p, const char *ctx, const char *key, size_t max,
				     list_item_fn read_item, struct policy_filters *f, size_t *n)
{
	struct mark list_at = mark_of(&p->ev);
	enum policy_status st;
	bool is_list;

	st = begin_list(p, ctx, key, &is_list);
	if (st != POLICY_OK)
		return st;
	for (;;) {
		if (is_list) {
			st = next(p);
			if (st != POLICY_OK)
				return st;
			if (p->ev.type == YAML_SEQUENCE_END_EVENT)
				break;
		}
		if (*n == max)
			return fail_at(p, POLICY_ERR_LIMIT, mark_of(&p->ev), key,
				       "%s: %s: more than %zu entries", ctx, key, max);
		st = read_item(p, ctx, key, f, *n);
		if (st != POLICY_OK)
			return st;
		(*n)++;
		if (!is_list)
			break;
	}
	if (!*n)
		return fail_at(p, POLICY_ERR_TYPE, list_at, key,
			       "%s: %s: an empty list matches nothing; leave the key out instead",
			       ctx, key);
	return POLICY_OK;
}

static enum policy_status comm_item(struct yp *p, const char *ctx, const char *key,
				    struct policy_filters *f, size_t i)
{
	enum policy_status st = read_string(p, ctx, key, f->comm[i], POLICY_COMM_MAX_LEN);

	if (st == POLICY_OK && !f->comm[i][0])
		return fail_at(p, POLICY_ERR_RANGE, mark_of(&p->ev), key,
			       "%s: %s: an empty name never matches", ctx, key);
	return st;
}

static enum policy_status uid_item(struct yp *p, const char *ctx, const char *key,
				   struct policy_filters *f, size_t i)
{
	/* (uid_t)-1 is no uid: it means "unchanged" to setresuid(2). */
	return read_u32(p, ctx, key, 0, UINT32_MAX - 1, &f->uid[i]);
}

static enum policy_status parse_filters(struct yp *p, const char *ctx, struct ev_tmp *t)
{
	static const char *const keys[] = { "comm", "uid", "cgroup_path_prefix", "filename_prefix",
					    NULL };
	struct policy_filters *f = &t->filters;
	char sub[96];
	uint32_t seen = 0;
	enum policy_status st;
	struct mark key_at;
	int idx;

	st = expect_mapping(p, ctx, "filters");
	if (st != POLICY_OK)
		return st;
	snprintf(sub, sizeof(sub), "%s.filters", ctx);
	for (;;) {
		struct mark at;

		st = map_key(p, sub, keys, &seen, &idx, &key_at);
		if (st != POLICY_OK)
			return st;
		if (idx < 0)
			break;
		at = mark_of(&p->ev);
		switch (idx) {
		case 0:
			st = parse_list(p, sub, keys[idx], POLICY_MAX_COMM, comm_item, f,
					&f->n_comm);
			break;
		case 1:
			st = parse_list(p, sub, keys[idx], POLICY_MAX_UID, uid_item, f, &f->n_uid);
			break;
		case 2: {
			size_t n;

			st = read_string(p, sub, keys[idx], f->cgroup_path_prefix,
					 POLICY_PREFIX_MAX_LEN);
			if (st != POLICY_OK)
				break;
			if (f->cgroup_path_prefix[0] != '/')
				return fail_at(p, POLICY_ERR_RANGE, at, keys[idx],
					       "%s: %s: must start with '/' (a path in the cgroup "
					       "v2 tree)",
					       sub, keys[idx]);
			n = strlen(f->cgroup_path_prefix);
			while (n > 1 && f->cgroup_path_prefix[n - 1] == '/')
				f->cgroup_path_prefix[--n] = '\0';
			break;
		}
		case 3:
			st = read_string(p, sub, keys[idx], f->filename_prefix,
					 POLICY_PREFIX_MAX_LEN);
			if (st == POLICY_OK && !f->filename_prefix[0])
				return fail_at(p, POLICY_ERR_RANGE, at, keys[idx],
					       "%s: %s: empty (leave the key out for no filter)",
					       sub, keys[idx]);
			t->filename_prefix_at = key_at;
			break;
		}
		if (st != POLICY_OK)
			return st;
	}
	t->has_filters = true;
	return POLICY_OK;
}

/* Takes the current scalar as the item's name; only a prefix is kept of one too long to exist. */
static void set_name(const struct yp *p, struct ev_tmp *t)
{
	size_t kept = scalar_len(p) < sizeof(t->name) ? scalar_len(p) : sizeof(t->name) - 1;

	t->name_len = scalar_len(p);
	memcpy(t->name, scalar(p), kept);
	t->name[kept] = '\0';
	t->has_name = true;
}

/* Checks one events[] item against the catalogue and stores it in the policy. */
static enum policy_status apply_event(struct yp *p, const char *ctx, const struct ev_tmp *t)
{
	const struct policy_event_def *def;
	struct policy_event_conf *c;
	enum policy_event_id id;
	char shown[POLICY_ERRKEY_MAX + 4];

	if (!t->has_name)
		return fail_at(p, POLICY_ERR_MISSING, t->at, "name",
			       "%s: no 'name' (the event's name is required)", ctx);
	id = policy_event_by_name(t->name);
	def = policy_event_def(id);
	if (!def || (def->flags & POLICY_EVF_INTERNAL) || t->name_len >= sizeof(t->name) ||
	    strlen(t->name) != t->name_len) {
		size_t kept = t->name_len < sizeof(t->name) ? t->name_len : sizeof(t->name) - 1;

		policy_escape(shown, POLICY_ERRKEY_MAX, t->name, kept);
		/* Only a prefix was kept: say so, unless the escaping cut it already. */
		if (kept < t->name_len && !strstr(shown, "..."))
			strcat(shown, "...");
		return policy_fail(p->err, POLICY_ERR_UNKNOWN_EVENT, p->name, t->name_at.line,
				   t->name_at.column, t->name, kept,
				   "%s: unknown event '%s' (docs/tracer.md lists the events)", ctx,
				   shown);
	}
	c = &p->pol->ev[id];
	if (c->enabled)
		return fail_at(p, POLICY_ERR_DUPLICATE, t->name_at, t->name,
			       "%s: event '%s' given twice (first at line %u)", ctx, t->name,
			       c->line);
	if (t->has_rate && (def->flags & POLICY_EVF_NEVER_RATE_LIMITED))
		return fail_at(p, POLICY_ERR_NOT_ALLOWED, t->rate_at, "rate_limit",
			       "%s: %s is never rate limited (it ends a lifetime: dropping one "
			       "would leak every cache that tracks the start); remove rate_limit",
			       ctx, t->name);
	if (t->has_env && !(def->flags & POLICY_EVF_ENV))
		return fail_at(p, POLICY_ERR_NOT_ALLOWED, t->env_at, "env",
			       "%s: %s has no environment to report; remove env", ctx, t->name);
	if (t->has_env_max && !(def->flags & POLICY_EVF_ENV))
		return fail_at(p, POLICY_ERR_NOT_ALLOWED, t->env_max_at, "env_max_bytes",
			       "%s: %s has no environment to report; remove env_max_bytes", ctx,
			       t->name);
	if (t->has_argv_max && !(def->flags & POLICY_EVF_ARGV))
		return fail_at(p, POLICY_ERR_NOT_ALLOWED, t->argv_max_at, "argv_max_bytes",
			       "%s: %s has no argv; remove argv_max_bytes", ctx, t->name);
	if (t->filters.filename_prefix[0] && !def->filename_param)
		return fail_at(p, POLICY_ERR_NOT_ALLOWED, t->filename_prefix_at, "filename_prefix",
			       "%s: %s has no file name to filter on; remove filename_prefix", ctx,
			       t->name);

	c->enabled = true;
	c->line = t->at.line;
	c->rate_limited = t->has_rate;
	if (t->has_rate)
		c->rate_limit = t->rate;
	c->filters = t->filters;
	c->has_filters = t->filters.n_comm || t->filters.n_uid ||
			 t->filters.cgroup_path_prefix[0] || t->filters.filename_prefix[0];
	c->env = t->has_env && t->env;
	if (t->has_argv_max)
		c->argv_max_bytes = t->argv_max;
	if (t->has_env_max)
		c->env_max_bytes = t->env_max;
	return POLICY_OK;
}

static enum policy_status parse_event(struct yp *p, size_t index)
{
	static const char *const keys[] = { "name",	      "rate_limit",    "filters", "env",
					    "argv_max_bytes", "env_max_bytes", NULL };
	struct ev_tmp t;
	char ctx[48];
	uint32_t seen = 0;
	enum policy_status st;
	struct mark key_at;
	int idx;

	memset(&t, 0, sizeof(t));
	t.index = index;
	t.at = mark_of(&p->ev);
	snprintf(ctx, sizeof(ctx), "events[%zu]", index);

	if (p->ev.type == YAML_SCALAR_EVENT && !is_null(p)) {
		/* Shorthand: "- tcp_connect" is "- name: tcp_connect". */
		t.name_at = t.at;
		set_name(p, &t);
		return apply_event(p, ctx, &t);
	}
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return fail_at(p, POLICY_ERR_TYPE, t.at, NULL,
			       "%s: expected a mapping with a name (or an event name), got %s", ctx,
			       node_kind(p));
	for (;;) {
		st = map_key(p, ctx, keys, &seen, &idx, &key_at);
		if (st != POLICY_OK)
			return st;
		if (idx < 0)
			break;
		switch (idx) {
		case 0:
			t.name_at = mark_of(&p->ev);
			if (p->ev.type != YAML_SCALAR_EVENT || is_null(p))
				return fail_at(p, POLICY_ERR_TYPE, t.name_at, "name",
					       "%s: name: expected an event name, got %s", ctx,
					       node_kind(p));
			set_name(p, &t);
			break;
		case 1:
			t.rate_at = key_at;
			st = parse_rate_limit(p, ctx, &t);
			break;
		case 2:
			t.filters_at = key_at;
			st = parse_filters(p, ctx, &t);
			break;
		case 3:
			t.env_at = key_at;
			t.has_env = true;
			st = read_bool(p, ctx, keys[idx], &t.env);
			break;
		case 4:
			t.argv_max_at = key_at;
			t.has_argv_max = true;
			st = read_u32(p, ctx, keys[idx], 1, POLICY_ARGV_MAX_BYTES, &t.argv_max);
			break;
		case 5:
			t.env_max_at = key_at;
			t.has_env_max = true;
			st = read_u32(p, ctx, keys[idx], 1, POLICY_ARGV_MAX_BYTES, &t.env_max);
			break;
		}
		if (st != POLICY_OK)
			return st;
	}
	return apply_event(p, ctx, &t);
}

static enum policy_status parse_events(struct yp *p)
{
	enum policy_status st;
	size_t index = 0;

	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return fail_at(p, POLICY_ERR_TYPE, mark_of(&p->ev), "events",
			       "events: expected a list, got %s (events: [] turns the tracer off)",
			       node_kind(p));
	for (;;) {
		st = next(p);
		if (st != POLICY_OK)
			return st;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return POLICY_OK;
		st = parse_event(p, index++);
		if (st != POLICY_OK)
			return st;
	}
}

static enum policy_status parse_document(struct yp *p)
{
	static const char *const keys[] = { "events", NULL };
	enum policy_status st;
	struct mark top_at, key_at;
	uint32_t seen = 0;
	int idx;

	st = next(p); /* STREAM-START */
	if (st != POLICY_OK)
		return st;
	st = next(p);
	if (st != POLICY_OK)
		return st;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return fail_at(p, POLICY_ERR_MISSING, (struct mark){ 1, 1 }, "events",
			       "empty policy: expected a mapping with the key 'events'");
	st = next(p); /* after DOCUMENT-START: the root node */
	if (st != POLICY_OK)
		return st;
	top_at = mark_of(&p->ev);
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return fail_at(p, POLICY_ERR_TYPE, top_at, NULL,
			       "the policy must be a mapping with the key 'events', got %s",
			       node_kind(p));
	for (;;) {
		st = map_key(p, "policy", keys, &seen, &idx, &key_at);
		if (st != POLICY_OK)
			return st;
		if (idx < 0)
			break;
		st = parse_events(p);
		if (st != POLICY_OK)
			return st;
	}
	if (!seen)
		return fail_at(p, POLICY_ERR_MISSING, top_at, "events",
			       "no 'events' key (events: [] turns the tracer off)");
	st = next(p); /* DOCUMENT-END */
	if (st != POLICY_OK)
		return st;
	st = next(p);
	if (st != POLICY_OK)
		return st;
	if (p->ev.type != YAML_STREAM_END_EVENT)
		return fail_at(p, POLICY_ERR_SYNTAX, mark_of(&p->ev), NULL,
			       "more than one YAML document; a policy is one");
	return POLICY_OK;
}

enum policy_status policy_create_from_yaml(const char *yaml, size_t len, const char *name,
					   struct policy **out, struct policy_error *err)
{
	struct yp p;
	enum policy_status st;

	if (!name)
		name = "policy";
	if (!out || (!yaml && len))
		return policy_fail(err, POLICY_ERR_INVAL, name, 0, 0, NULL, 0, "no input");
	*out = NULL;
	if (len > POLICY_FILE_MAX_BYTES)
		return policy_fail(err, POLICY_ERR_LIMIT, name, 0, 0, NULL, 0,
				   "%zu bytes, more than the %u a policy may have", len,
				   POLICY_FILE_MAX_BYTES);
	memset(&p, 0, sizeof(p));
	p.buf = yaml ? yaml : "";
	p.len = len;
	p.name = name;
	p.err = err;
	p.pol = policy_alloc();
	if (!p.pol)
		return policy_fail(err, POLICY_ERR_NOMEM, name, 0, 0, NULL, 0, "out of memory");
	if (!yaml_parser_initialize(&p.parser)) {
		policy_destroy(p.pol);
		return policy_fail(err, POLICY_ERR_NOMEM, name, 0, 0, NULL, 0, "out of memory");
	}
	yaml_parser_set_input_string(&p.parser, (const unsigned char *)p.buf, len);
	/* UTF-8 only: a UTF-16 policy is refused at its first bytes rather than guessed. */
	yaml_parser_set_encoding(&p.parser, YAML_UTF8_ENCODING);

	st = parse_document(&p);

	if (p.have)
		yaml_event_delete(&p.ev);
	yaml_parser_delete(&p.parser);
	if (st != POLICY_OK) {
		policy_destroy(p.pol);
		return st;
	}
	policy_resolve(p.pol);
	*out = p.pol;
	return POLICY_OK;
}

enum policy_status policy_create_from_file(const char *path, struct policy **out,
					   struct policy_error *err)
{
	size_t cap = POLICY_FILE_MAX_BYTES + 1, len = 0;
	enum policy_status st;
	char *buf;
	int fd;

	if (!out || !path)
		return policy_fail(err, POLICY_ERR_INVAL, path, 0, 0, NULL, 0, "no file name");
	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return policy_fail(err, POLICY_ERR_IO, path, 0, 0, NULL, 0, "cannot open: %s",
				   strerror(errno));
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return policy_fail(err, POLICY_ERR_NOMEM, path, 0, 0, NULL, 0, "out of memory");
	}
	/* Read at most one byte past the bound, so a huge or endless file costs nothing more. */
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			close(fd);
			return policy_fail(err, POLICY_ERR_IO, path, 0, 0, NULL, 0,
					   "cannot read: %s", strerror(e));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > POLICY_FILE_MAX_BYTES) {
		free(buf);
		return policy_fail(err, POLICY_ERR_LIMIT, path, 0, 0, NULL, 0,
				   "more than the %u bytes a policy may have",
				   POLICY_FILE_MAX_BYTES);
	}
	st = policy_create_from_yaml(buf, len, path, out, err);
	free(buf);
	return st;
}
