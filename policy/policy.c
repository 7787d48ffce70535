// SPDX-License-Identifier: Apache-2.0
/* Policy objects: resolution, accessors, the program check, filters, errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static const char *const status_names[POLICY_STATUS_COUNT] = {
	[POLICY_OK] = "ok",
	[POLICY_WARN_DEGRADED] = "degraded: an optional program is missing",
	[POLICY_ERR_INVAL] = "invalid argument",
	[POLICY_ERR_NOMEM] = "out of memory",
	[POLICY_ERR_IO] = "cannot read the policy",
	[POLICY_ERR_SYNTAX] = "malformed policy",
	[POLICY_ERR_UNKNOWN_KEY] = "unknown key",
	[POLICY_ERR_UNKNOWN_EVENT] = "unknown event",
	[POLICY_ERR_TYPE] = "wrong kind of value",
	[POLICY_ERR_RANGE] = "number out of range",
	[POLICY_ERR_DUPLICATE] = "given twice",
	[POLICY_ERR_LIMIT] = "over a bound of the policy format",
	[POLICY_ERR_NOT_ALLOWED] = "setting not allowed for this event",
	[POLICY_ERR_MISSING] = "required key missing",
	[POLICY_ERR_PROGRAM_MISSING] = "required BPF program missing",
};

const char *policy_status_str(enum policy_status status)
{
	if ((int)status < 0 || status >= POLICY_STATUS_COUNT)
		return "unknown status";
	return status_names[status];
}

static bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '\\';
}

void policy_escape(char *out, size_t size, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, whole = 0;
	bool cut;

	if (!size)
		return;
	for (size_t i = 0; i < len && whole < size; i++)
		whole += plain_byte((unsigned char)s[i]) ? 1 : 4;
	/* Cut only when the whole text does not fit; then keep room for "..." and the NUL. */
	cut = whole >= size;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = plain_byte(c) ? 1 : 4;

		if (cut && o + need + 4 > size) {
			if (o + 4 <= size) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

enum policy_status policy_fail(struct policy_error *err, enum policy_status status,
			       const char *where, unsigned int line, unsigned int column,
			       const char *key, size_t key_len, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (!err)
		return status;
	memset(err, 0, sizeof(*err));
	err->status = status;
	err->line = line;
	err->column = column;
	if (key)
		policy_escape(err->key, sizeof(err->key), key, key_len);
	if (where && line)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%u:%u: ", where, line, column);
	else if (where)
		n = snprintf(err->msg, sizeof(err->msg), "%s: ", where);
	if (n < 0 || (size_t)n >= sizeof(err->msg))
		return status;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return status;
}

struct policy *policy_alloc(void)
{
	struct policy *pol = calloc(1, sizeof(*pol));

	if (!pol)
		return NULL;
	for (int id = 0; id < POLICY_EV_COUNT; id++) {
		pol->ev[id].id = (enum policy_event_id)id;
		pol->ev[id].argv_max_bytes = POLICY_ARGV_DEFAULT_BYTES;
		pol->ev[id].env_max_bytes = POLICY_ENV_DEFAULT_BYTES;
	}
	return pol;
}

static void set_bit(uint64_t *bitmap, int nr)
{
	if (nr >= 0 && nr < POLICY_SYSCALL_MAX)
		bitmap[nr / 64] |= (uint64_t)1 << (nr % 64);
}

bool policy_syscall_test(const uint64_t *bitmap, long nr)
{
	if (!bitmap || nr < 0 || nr >= POLICY_SYSCALL_MAX)
		return false;
	return (bitmap[nr / 64] >> (nr % 64)) & 1;
}

/* Sets in[e] for `id` and every event it builds on, directly or not (iterative: a DAG). */
static void closure_of(enum policy_event_id id, bool in[POLICY_EV_COUNT])
{
	enum policy_event_id stack[POLICY_EV_COUNT];
	size_t top = 0;

	if (!policy_event_def(id) || in[id])
		return;
	in[id] = true;
	stack[top++] = id;
	while (top) {
		const struct policy_event_def *def = policy_event_def(stack[--top]);

		for (size_t i = 0; i < def->n_deps; i++) {
			enum policy_event_id dep = def->deps[i];

			/* Each id is pushed at most once, so the stack never overflows. */
			if (!policy_event_def(dep) || in[dep])
				continue;
			in[dep] = true;
			stack[top++] = dep;
		}
	}
}

/*
 * The closure of one emitted event under this policy: with a rate limit, cgroup_lifecycle (its
 * buckets are per-cgroup kernel state); with a cgroup_path_prefix, cgroup_filter (the prefix as
 * a set of cgroup ids in the kernel, kept as cgroups come and go).
 */
static void event_closure(const struct policy *pol, enum policy_event_id e,
			  bool in[POLICY_EV_COUNT])
{
	memset(in, 0, sizeof(bool) * POLICY_EV_COUNT);
	closure_of(e, in);
	if (pol->ev[e].rate_limited)
		closure_of(POLICY_EV_CGROUP_LIFECYCLE, in);
	if (pol->ev[e].filters.cgroup_path_prefix[0])
		closure_of(POLICY_EV_CGROUP_FILTER, in);
}

void policy_resolve(struct policy *pol)
{
	bool needed[POLICY_EV_COUNT] = { false };
	bool one[POLICY_EV_COUNT];

	pol->off = true;
	pol->required = pol->optional = 0;
	memset(&pol->sys, 0, sizeof(pol->sys));
	for (int id = 0; id < POLICY_EV_COUNT; id++)
		pol->ev[id].needed = false;

	for (int id = POLICY_EV_NONE + 1; id < POLICY_EV_COUNT; id++) {
		struct policy_event_conf *c = &pol->ev[id];

		if (!c->enabled)
			continue;
		pol->off = false;
		event_closure(pol, (enum policy_event_id)id, one);
		for (int e = 0; e < POLICY_EV_COUNT; e++)
			needed[e] |= one[e];
	}
	if (pol->off)
		return;
	for (int id = 0; id < POLICY_EV_COUNT; id++)
		pol->ev[id].needed = needed[id];

	for (int id = POLICY_EV_NONE + 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *def = policy_event_def((enum policy_event_id)id);

		if (!pol->ev[id].needed)
			continue;
		for (size_t i = 0; i < def->n_progs; i++) {
			if (def->progs[i].optional)
				pol->optional |= POLICY_PROG_BIT(def->progs[i].prog);
			else
				pol->required |= POLICY_PROG_BIT(def->progs[i].prog);
		}
		if (def->flags & POLICY_EVF_SYSCALL) {
			set_bit(pol->sys.wanted, def->syscall_nr);
			if (pol->ev[id].enabled)
				set_bit(pol->sys.emit, def->syscall_nr);
		}
		for (size_t i = 0; i < 4 && def->watch_syscalls[i] >= 0; i++)
			set_bit(pol->sys.wanted, def->watch_syscalls[i]);
	}
	pol->optional &= ~pol->required;
	for (int w = 0; w < POLICY_SYSCALL_WORDS; w++)
		pol->sys.n_wanted += (unsigned int)__builtin_popcountll(pol->sys.wanted[w]);
}

enum policy_status policy_create_default(struct policy **out, struct policy_error *err)
{
	struct policy *pol;

	if (!out)
		return policy_fail(err, POLICY_ERR_INVAL, NULL, 0, 0, NULL, 0, "no output pointer");
	*out = NULL;
	pol = policy_alloc();
	if (!pol)
		return policy_fail(err, POLICY_ERR_NOMEM, NULL, 0, 0, NULL, 0, "out of memory");
	for (int id = POLICY_EV_NONE + 1; id < POLICY_EV_COUNT; id++)
		if (policy_event_def((enum policy_event_id)id)->flags & POLICY_EVF_DEFAULT)
			pol->ev[id].enabled = true;
	policy_resolve(pol);
	*out = pol;
	return POLICY_OK;
}

void policy_destroy(struct policy *pol)
{
	free(pol);
}

bool policy_tracer_off(const struct policy *pol)
{
	return !pol || pol->off;
}

const struct policy_event_conf *policy_event(const struct policy *pol, enum policy_event_id id)
{
	if (!pol || !policy_event_def(id))
		return NULL;
	return &pol->ev[id];
}

void policy_programs(const struct policy *pol, policy_prog_mask *required,
		     policy_prog_mask *optional)
{
	if (required)
		*required = pol ? pol->required : 0;
	if (optional)
		*optional = pol ? pol->optional : 0;
}

const struct policy_syscall_set *policy_syscalls(const struct policy *pol)
{
	return pol ? &pol->sys : NULL;
}

/* Appends to err->msg, cutting at its end; a no-op without err. */
static void msg_append(struct policy_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void msg_append(struct policy_error *err, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (!err)
		return;
	n = strlen(err->msg);
	if (n + 1 >= sizeof(err->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
}

/*
 * Whether emitted event `e` uses program `prog` (through any event of its closure), and how:
 * *why gets the first row's reason, *optional is false when any row requires it.
 */
static bool event_uses(const struct policy *pol, enum policy_event_id e, enum policy_prog_id prog,
		       const char **why, bool *optional)
{
	bool in[POLICY_EV_COUNT], used = false;

	*optional = true;
	event_closure(pol, e, in);
	for (int id = POLICY_EV_NONE + 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *def = policy_event_def((enum policy_event_id)id);

		if (!in[id])
			continue;
		for (size_t i = 0; i < def->n_progs; i++) {
			if (def->progs[i].prog != prog)
				continue;
			if (!used)
				*why = def->progs[i].why;
			used = true;
			*optional &= def->progs[i].optional;
		}
	}
	return used;
}

/*
 * Appends "PROG (WHY; EVENTS)" for one missing program: the emitted events that use it, marked
 * in `hit` when given.
 */
static void append_missing(struct policy_error *err, const struct policy *pol,
			   enum policy_prog_id prog, const char *label, bool hit[POLICY_EV_COUNT])
{
	const char *why = "", *first_why = NULL;
	bool optional, first = true;

	for (int e = POLICY_EV_NONE + 1; e < POLICY_EV_COUNT; e++) {
		if (!pol->ev[e].enabled ||
		    !event_uses(pol, (enum policy_event_id)e, prog, &why, &optional))
			continue;
		if (first) {
			first_why = why;
			msg_append(err, "%s (%s; %s ", policy_prog_name(prog), first_why, label);
		}
		msg_append(err, "%s%s", first ? "" : ", ", policy_event_def(e)->name);
		first = false;
		if (hit)
			hit[e] = true;
	}
	if (!first)
		msg_append(err, ")");
}

enum policy_status policy_check_programs(const struct policy *pol, policy_prog_mask available,
					 bool degraded[POLICY_EV_COUNT], struct policy_error *err)
{
	policy_prog_mask missing_req, missing_opt;
	bool first = true;

	if (degraded)
		memset(degraded, 0, sizeof(bool) * POLICY_EV_COUNT);
	if (!pol)
		return policy_fail(err, POLICY_ERR_INVAL, NULL, 0, 0, NULL, 0, "no policy");
	if (err)
		memset(err, 0, sizeof(*err));
	missing_req = pol->required & ~available;
	missing_opt = pol->optional & ~available;

	/* A required program missing is fatal; the message names each and who needs it. */
	if (missing_req) {
		for (int p = 0; p < POLICY_PROG_COUNT; p++) {
			if (!(missing_req & POLICY_PROG_BIT(p)))
				continue;
			if (first)
				policy_fail(err, POLICY_ERR_PROGRAM_MISSING, NULL, 0, 0,
					    policy_prog_name(p), strlen(policy_prog_name(p)),
					    "required BPF program missing: ");
			else
				msg_append(err, "; ");
			first = false;
			append_missing(err, pol, (enum policy_prog_id)p, "needed by", NULL);
		}
		return POLICY_ERR_PROGRAM_MISSING;
	}
	if (!missing_opt)
		return POLICY_OK;
	for (int p = 0; p < POLICY_PROG_COUNT; p++) {
		if (!(missing_opt & POLICY_PROG_BIT(p)))
			continue;
		if (first)
			policy_fail(err, POLICY_WARN_DEGRADED, NULL, 0, 0, policy_prog_name(p),
				    strlen(policy_prog_name(p)),
				    "optional BPF program missing, working with less: ");
		else
			msg_append(err, "; ");
		first = false;
		append_missing(err, pol, (enum policy_prog_id)p, "degraded:", degraded);
	}
	return POLICY_WARN_DEGRADED;
}

/* Component-wise prefix: "/a" matches "/a" and "/a/b", not "/ab"; "/" matches every path. */
static bool path_prefix_match(const char *prefix, const char *path)
{
	size_t n = strlen(prefix);

	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	if (strncmp(prefix, path, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/';
}

bool policy_event_match(const struct policy_event_conf *conf, const struct policy_match_ctx *ctx)
{
	const struct policy_filters *f;
	unsigned int want;
	bool hit;

	if (!conf || !conf->has_filters)
		return true;
	if (!ctx)
		return false;
	f = &conf->filters;
	want = ctx->fields ? ctx->fields : ~0u;
	if (f->n_comm && (want & POLICY_MATCH_COMM)) {
		hit = false;
		for (size_t i = 0; ctx->comm && i < f->n_comm && !hit; i++)
			hit = strncmp(f->comm[i], ctx->comm, POLICY_COMM_MAX_LEN) == 0 &&
			      strnlen(ctx->comm, POLICY_COMM_MAX_LEN + 1) <= POLICY_COMM_MAX_LEN;
		if (!hit)
			return false;
	}
	if (f->n_uid && (want & POLICY_MATCH_UID)) {
		hit = false;
		for (size_t i = 0; i < f->n_uid && !hit; i++)
			hit = f->uid[i] == ctx->uid;
		if (!hit)
			return false;
	}
	if (f->cgroup_path_prefix[0] && (want & POLICY_MATCH_CGROUP_PATH) &&
	    (!ctx->cgroup_path || !path_prefix_match(f->cgroup_path_prefix, ctx->cgroup_path)))
		return false;
	if (f->filename_prefix[0] && (want & POLICY_MATCH_FILENAME) &&
	    (!ctx->filename ||
	     strncmp(f->filename_prefix, ctx->filename, strlen(f->filename_prefix)) != 0))
		return false;
	return true;
}
