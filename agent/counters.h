/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Counters defined once. Each component describes its counters in a table (name, help, type,
 * labels, where the value lives) and registers it with a group snapshot function; the same
 * table then renders /metrics (Prometheus text format 0.0.4) and the exit log, so the two cannot
 * drift apart. docs/metrics.md lists every family (tests/agent/test_counters.c checks it).
 *
 * The exit log prints one line per group, "<group> counters: key=value ...", where key is the
 * metric name without "flowscope_" and "_total", followed by its label values:
 * flowscope_dns_dropped_total{reason="tcp_stream_gap"} is dns_dropped_tcp_stream_gap.
 */
#ifndef FLOWSCOPE_COUNTERS_H
#define FLOWSCOPE_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct counters;
struct counters_out;

enum counter_type {
	COUNTER_COUNTER = 0, /* only goes up */
	COUNTER_GAUGE, /* a level */
};

/* One sample: rows of a family (same name) are consecutive and share help and type. */
struct counter_desc {
	const char *name; /* "flowscope_dns_dropped_total" */
	const char *help;
	enum counter_type type;
	const char *labels; /* 'reason="tcp_stream_gap"', or "" */
	size_t offset; /* of its uint64_t value in the group's snapshot struct */
};

/* Shorthand for a table row whose value is field of struct snap_type. */
#define COUNTER_ROW(name_, type_, help_, labels_, snap_type, field)                     \
	{                                                                               \
		.name = (name_), .help = (help_), .type = (type_), .labels = (labels_), \
		.offset = offsetof(snap_type, field)                                    \
	}

/*
 * Fills snap (snap_size bytes, zeroed by the caller) with the group's current values. Returns 0,
 * or a negative errno when they cannot be read: the group is then left out of that rendering,
 * since zeros would read as a counter reset.
 */
typedef int (*counters_snapshot_fn)(void *arg, void *snap);
/* Samples that exist only at run time (one per librdkafka error code): emit each with
 * counters_sample(). Called after the table's rows. */
typedef void (*counters_dynamic_fn)(void *arg, const void *snap, struct counters_out *out);

struct counters_group {
	const char *name; /* the exit log's "<name> counters:"; "" for plain "counters:" */
	const struct counter_desc *descs;
	size_t n_descs;
	size_t snap_size;
	counters_snapshot_fn snapshot; /* NULL: every value reads 0 */
	counters_dynamic_fn dynamic; /* optional */
	/* The families dynamic emits (their names, help and type; labels and offset unused), so
	 * that a test can check them against docs/metrics.md. */
	const struct counter_desc *dynamic_descs;
	size_t n_dynamic_descs;
	void *arg;
};

/* The number of rows of a table, an array: given a pointer, -Wsizeof-pointer-div (-Wall) warns. */
#define COUNTERS_N(table) (sizeof(table) / sizeof((table)[0]))

/*
 * The designated initialisers of a group over the array `table` whose snapshot function fills a
 * snap_type: struct counters_group g = { COUNTERS_GROUP("dns", rows, struct snap, fn, arg) };
 */
#define COUNTERS_GROUP(name_, table, snap_type, snapshot_fn, arg_)       \
	.name = (name_), .descs = (table), .n_descs = COUNTERS_N(table), \
	.snap_size = sizeof(snap_type), .snapshot = (snapshot_fn), .arg = (arg_)

/* The initialisers of a group's run-time samples: the dynamic function and its families. */
#define COUNTERS_DYNAMIC(dynamic_fn, families)                \
	.dynamic = (dynamic_fn), .dynamic_descs = (families), \
	.n_dynamic_descs = COUNTERS_N(families)

/* Returns NULL on ENOMEM. */
struct counters *counters_create(void);
/* NULL is ignored. */
void counters_destroy(struct counters *reg);

/* Adds a group (copied; the table and arg must outlive reg), rendered after those before it.
 * Returns 0 or -ENOMEM. */
int counters_register(struct counters *reg, const struct counters_group *g);

/* Every group's samples, with "# HELP" and "# TYPE" once per family. */
void counters_render_prometheus(const struct counters *reg, FILE *out);

/* The exit log: one info line per group (long groups continue on more lines). */
void counters_log(const struct counters *reg);

/* The registered groups, for tests: n of them in *groups. */
const struct counters_group *counters_groups(const struct counters *reg, size_t *n);

/* A sample of a dynamic family; d gives name, help and type, labels and value are the sample's. */
void counters_sample(struct counters_out *out, const struct counter_desc *d, const char *labels,
		     uint64_t value);

/* The exit log key of name{labels} (see above) into buf. */
void counters_log_key(const char *name, const char *labels, char *buf, size_t size);

#endif /* FLOWSCOPE_COUNTERS_H */
