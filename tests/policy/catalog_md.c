// SPDX-License-Identifier: Apache-2.0
/*
 * Renders the event catalogue (policy/event_catalog.c) as the Markdown that docs/tracer.md holds
 * between "<!-- catalogue:begin -->" and "<!-- catalogue:end -->", so the table is never typed
 * twice. `catalog_md --check FILE` fails when FILE's copy differs (the policy_docs test);
 * `catalog_md --write FILE` replaces it (the policy_docs target).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static const char begin_marker[] = "<!-- catalogue:begin -->\n";
static const char end_marker[] = "<!-- catalogue:end -->\n";

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < b->cap - b->len)
			break;
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	b->len += (size_t)n;
}

static const char *type_name(enum policy_param_type t)
{
	switch (t) {
	case POLICY_T_BOOL:
		return "bool";
	case POLICY_T_U8:
		return "u8";
	case POLICY_T_U16:
		return "u16";
	case POLICY_T_U32:
		return "u32";
	case POLICY_T_U64:
		return "u64";
	case POLICY_T_S32:
		return "s32";
	case POLICY_T_S64:
		return "s64";
	case POLICY_T_STR:
		return "string";
	case POLICY_T_STR_LIST:
		return "list of strings";
	case POLICY_T_IP_ADDR:
		return "IP address";
	case POLICY_T_SOCKADDR:
		return "sockaddr";
	}
	return "?";
}

static void progs(struct buf *b, const struct policy_event_def *d, bool optional)
{
	bool first = true;

	for (size_t i = 0; i < d->n_progs; i++) {
		if (d->progs[i].optional != optional)
			continue;
		put(b, "%s`%s`", first ? "" : ", ", policy_prog_name(d->progs[i].prog));
		first = false;
	}
	if (first)
		put(b, "-");
}

static void render(struct buf *b)
{
	put(b, "%s", begin_marker);
	put(b, "<!-- generated from policy/event_catalog.c: cmake --build BUILD --target "
	       "policy_docs -->\n\n");
	put(b, "| event | default | what happened; whose context | required programs | "
	       "optional programs | built on |\n");
	put(b, "| --- | --- | --- | --- | --- | --- |\n");
	for (int id = 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *d = policy_event_def((enum policy_event_id)id);

		put(b, "| `%s`%s | %s | %s | ", d->name,
		    d->flags & POLICY_EVF_NEVER_RATE_LIMITED ? " (never rate limited)" : "",
		    d->flags & POLICY_EVF_DEFAULT ? "yes" : "", d->doc);
		progs(b, d, false);
		put(b, " | ");
		progs(b, d, true);
		put(b, " | ");
		for (size_t i = 0; i < d->n_deps; i++)
			put(b, "%s`%s`", i ? ", " : "", policy_event_def(d->deps[i])->name);
		if (!d->n_deps)
			put(b, "-");
		put(b, " |\n");
	}
	put(b, "\nWhat each program gives its events, and what is lost without an optional "
	       "one:\n\n");
	put(b, "| program | events | why |\n| --- | --- | --- |\n");
	for (int id = 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *d = policy_event_def((enum policy_event_id)id);

		for (size_t i = 0; i < d->n_progs; i++) {
			const struct policy_prog_dep *dep = &d->progs[i];
			bool seen = false;

			/* One row per (program, reason): the syscall events share theirs. */
			for (int e = 1; e < id && !seen; e++) {
				const struct policy_event_def *o =
					policy_event_def((enum policy_event_id)e);

				for (size_t j = 0; j < o->n_progs && !seen; j++)
					seen = o->progs[j].prog == dep->prog &&
					       o->progs[j].optional == dep->optional &&
					       !strcmp(o->progs[j].why, dep->why);
			}
			if (seen)
				continue;
			put(b, "| `%s`%s | ", policy_prog_name(dep->prog),
			    dep->optional ? " (optional)" : "");
			for (int e = id, first = 1; e < POLICY_EV_COUNT; e++) {
				const struct policy_event_def *o =
					policy_event_def((enum policy_event_id)e);

				for (size_t j = 0; j < o->n_progs; j++) {
					if (o->progs[j].prog != dep->prog ||
					    o->progs[j].optional != dep->optional ||
					    strcmp(o->progs[j].why, dep->why))
						continue;
					put(b, "%s`%s`", first ? "" : ", ", o->name);
					first = 0;
				}
			}
			put(b, " | %s |\n", dep->why);
		}
	}
	put(b, "\nThe parameters of each event (`args` of its record):\n\n");
	put(b, "| event | parameter | type | unit | meaning |\n| --- | --- | --- | --- | --- |\n");
	for (int id = 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *d = policy_event_def((enum policy_event_id)id);

		for (size_t i = 0; i < d->n_params; i++)
			put(b, "| `%s` | `%s` | %s | %s | %s |\n", d->name, d->params[i].name,
			    type_name(d->params[i].type), policy_unit_str(d->params[i].unit),
			    d->params[i].doc);
	}
	put(b, "\nSyscall events (x86_64 numbers): ");
	for (int id = 1, first = 1; id < POLICY_EV_COUNT; id++) {
		const struct policy_event_def *d = policy_event_def((enum policy_event_id)id);

		if (!(d->flags & POLICY_EVF_SYSCALL))
			continue;
		put(b, "%s`%s` (%d)", first ? "" : ", ", d->name, d->syscall_nr);
		first = 0;
	}
	put(b, ".\n%s", end_marker);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)n + 1);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		if (p) {
			p[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

int main(int argc, char **argv)
{
	struct buf b = { 0 };
	char *doc, *begin, *end;
	size_t len = 0;
	bool check;
	FILE *f;

	if (argc != 3 || (strcmp(argv[1], "--check") && strcmp(argv[1], "--write"))) {
		fprintf(stderr, "usage: catalog_md --check|--write docs/tracer.md\n");
		return 2;
	}
	check = !strcmp(argv[1], "--check");
	render(&b);
	doc = slurp(argv[2], &len);
	if (!doc) {
		perror(argv[2]);
		return 1;
	}
	begin = strstr(doc, begin_marker);
	end = begin ? strstr(begin, end_marker) : NULL;
	if (!begin || !end) {
		fprintf(stderr, "%s: no %s ... %s region\n", argv[2], "<!-- catalogue:begin -->",
			"<!-- catalogue:end -->");
		return 1;
	}
	end += strlen(end_marker);
	if ((size_t)(end - begin) == b.len && memcmp(begin, b.p, b.len) == 0) {
		printf("%s: catalogue up to date\n", argv[2]);
		return 0;
	}
	if (check) {
		fprintf(stderr,
			"%s: the catalogue table differs from policy/event_catalog.c; run "
			"`cmake --build BUILD --target policy_docs`\n",
			argv[2]);
		return 1;
	}
	f = fopen(argv[2], "wb");
	if (!f || fwrite(doc, 1, (size_t)(begin - doc), f) != (size_t)(begin - doc) ||
	    fwrite(b.p, 1, b.len, f) != b.len ||
	    fwrite(end, 1, len - (size_t)(end - doc), f) != len - (size_t)(end - doc) ||
	    fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	printf("%s: catalogue rewritten\n", argv[2]);
	free(doc);
	free(b.p);
	return 0;
}
