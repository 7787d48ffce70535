// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "log.h"

/* An exit log line takes about this much text (or this many fields) before it continues on
 * another line, so that a line stays readable and far below a pipe's atomic write size. */
#define LOG_LINE_MAX 900
#define LOG_FIELDS_MAX 64
#define LOG_KEY_MAX 160

struct counters {
	struct counters_group *groups;
	size_t n, cap;
};

/* Where samples go: a Prometheus page or an exit log line. */
struct counters_out {
	FILE *prom;
	const char *last_family;
	/* exit log: the samples of one line, as typed fields (numbers) */
	const char *group;
	struct log_field fields[LOG_FIELDS_MAX];
	char keys[LOG_FIELDS_MAX][LOG_KEY_MAX];
	size_t n, len;
};

struct counters *counters_create(void)
{
	return calloc(1, sizeof(struct counters));
}

void counters_destroy(struct counters *reg)
{
	if (!reg)
		return;
	free(reg->groups);
	free(reg);
}

int counters_register(struct counters *reg, const struct counters_group *g)
{
	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? 2 * reg->cap : 8;
		struct counters_group *ng = realloc(reg->groups, cap * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		reg->groups = ng;
		reg->cap = cap;
	}
	reg->groups[reg->n++] = *g;
	return 0;
}

const struct counters_group *counters_groups(const struct counters *reg, size_t *n)
{
	*n = reg->n;
	return reg->groups;
}

void counters_log_key(const char *name, const char *labels, char *buf, size_t size)
{
	size_t n = strlen(name), len = 0;
	const char *p;

	if (!strncmp(name, "flowscope_", 10)) {
		name += 10;
		n -= 10;
	}
	if (n > 6 && !strcmp(name + n - 6, "_total"))
		n -= 6;
	len = (size_t)snprintf(buf, size, "%.*s", (int)n, name);
	/* label values in order: 'a="x",b="y"' gives _x_y */
	for (p = labels; p && (p = strchr(p, '"')) && len + 1 < size;) {
		const char *end = strchr(++p, '"');

		if (!end)
			break;
		len += (size_t)snprintf(buf + len, size - len, "_%.*s", (int)(end - p), p);
		if (len >= size)
			break;
		p = end + 1;
	}
}

static void log_flush(struct counters_out *o)
{
	char msg[128];

	if (!o->n)
		return;
	snprintf(msg, sizeof(msg), "%s%scounters:", o->group, *o->group ? " " : "");
	log_fields(LOG_LEVEL_INFO, msg, o->fields, o->n);
	o->n = o->len = 0;
}

void counters_sample(struct counters_out *o, const struct counter_desc *d, const char *labels,
		     uint64_t value)
{
	if (o->prom) {
		if (!o->last_family || strcmp(o->last_family, d->name)) {
			fprintf(o->prom, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
				d->type == COUNTER_GAUGE ? "gauge" : "counter");
			o->last_family = d->name;
		}
		if (labels && *labels)
			fprintf(o->prom, "%s{%s} %llu\n", d->name, labels,
				(unsigned long long)value);
		else
			fprintf(o->prom, "%s %llu\n", d->name, (unsigned long long)value);
		return;
	}
	if (o->n == LOG_FIELDS_MAX || o->len > LOG_LINE_MAX)
		log_flush(o);
	counters_log_key(d->name, labels, o->keys[o->n], LOG_KEY_MAX);
	o->fields[o->n] = (struct log_field)LOG_U64(o->keys[o->n], value);
	/* " key=value": the text line's length */
	o->len += strlen(o->keys[o->n]) + 2;
	do
		o->len++;
	while (value /= 10);
	o->n++;
}

static void render_group(const struct counters_group *g, struct counters_out *o)
{
	uint64_t stack[256];
	void *snap = g->snap_size <= sizeof(stack) ? stack : calloc(1, g->snap_size);

	if (!snap)
		return; /* a page without this group rather than zeros that read as a reset */
	memset(snap, 0, g->snap_size);
	if (g->snapshot && g->snapshot(g->arg, snap))
		goto out;
	for (size_t i = 0; i < g->n_descs; i++) {
		const struct counter_desc *d = &g->descs[i];
		uint64_t v;

		memcpy(&v, (const char *)snap + d->offset, sizeof(v));
		counters_sample(o, d, d->labels, v);
	}
	if (g->dynamic)
		g->dynamic(g->arg, snap, o);
out:
	if (snap != stack)
		free(snap);
}

void counters_render_prometheus(const struct counters *reg, FILE *out)
{
	struct counters_out o = { .prom = out };

	for (size_t i = 0; i < reg->n; i++)
		render_group(&reg->groups[i], &o);
}

void counters_log(const struct counters *reg)
{
	for (size_t i = 0; i < reg->n; i++) {
		struct counters_out o = { .group = reg->groups[i].name };

		render_group(&reg->groups[i], &o);
		log_flush(&o);
	}
}
