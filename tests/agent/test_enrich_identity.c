// SPDX-License-Identifier: Apache-2.0
/*
 * The workload stage holds an interval's flows until its end. A held flow's cgroup_path must
 * stay readable until it is released, whoever owns the string: here a flow deferred by a stage
 * in between (as the NAT stage defers on a conntrack GET, with a record_dup() it frees once the
 * record is resumed) comes back during the next interval's export, after its cgroup was renamed
 * (so cgroup_paths hands out a new string for the id), and is exported with the path it was
 * looked up with. The real cgroup_paths against a group of our own (fs<pid>ei...) in the cgroup v1
 * memory hierarchy (cgroup v2 refuses rename(2); v1 hierarchies, --cgroup-mode v1, allow it): needs
 * root and that hierarchy (the development machines have it); fails, never skips, without them.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup_paths.h"
#include "counters.h"
#include "enrich.h"
#include "loop.h"
#include "pipeline.h"

/* A sink that keeps each flow's src_port and a copy of its cgroup_path. */
struct got {
	struct sink base;
	uint16_t port[8];
	char path[8][PATH_MAX];
	struct flow_record rec[8]; /* as emitted, strings and workload left out */
	char domain[8][64];
	int n;
};

static int got_emit(struct sink *s, const struct record *r)
{
	struct got *g = (struct got *)s;

	assert_true(g->n < 8);
	assert_int_equal(r->type, RECORD_FLOW);
	g->port[g->n] = CONST_RECORD_OF(r, struct flow_record)->src_port;
	snprintf(g->path[g->n], sizeof(g->path[0]), "%s",
		 r->cgroup_path ? r->cgroup_path : "(null)");
	memcpy(&g->rec[g->n], r, sizeof(g->rec[0]));
	snprintf(g->domain[g->n], sizeof(g->domain[0]), "%s",
		 g->rec[g->n].dst_domain ? g->rec[g->n].dst_domain : "(null)");
	g->rec[g->n].cgroup_path = NULL;
	g->rec[g->n].workload = NULL;
	g->rec[g->n].dst_domain = NULL;
	g->n++;
	return 0;
}

static uint64_t got_destroy(struct sink *s)
{
	(void)s;
	return 0;
}

static const struct sink_ops got_ops = { .emit = got_emit, .destroy = got_destroy };

/* Between cgroup_path and workload: defers flows with an odd src_port, as enrich_nat does. */
struct deferrer {
	struct pipeline *p;
	int index;
	struct record *held[4];
	int n;
};

static void defer_added(void *arg, struct pipeline *p, int index)
{
	struct deferrer *d = arg;

	d->p = p;
	d->index = index;
}

static enum stage_verdict defer_process(void *arg, struct record *r)
{
	struct deferrer *d = arg;

	if (r->type != RECORD_FLOW || !(RECORD_OF(r, struct flow_record)->src_port & 1))
		return STAGE_PASS;
	d->held[d->n] = record_dup(r);
	assert_non_null(d->held[d->n]);
	d->n++;
	return STAGE_DEFER;
}

/* The answers came: resume, then free the copies as enrich_nat does, poisoned first so that a
 * pointer kept into them reads as garbage rather than by luck. */
static void defer_resume_all(struct deferrer *d)
{
	for (int i = 0; i < d->n; i++) {
		struct record *r = d->held[i];

		assert_int_equal(pipeline_resume(d->p, d->index, r), 0);
		if (r->cgroup_path)
			memset((char *)r->cgroup_path, 'Z', strlen(r->cgroup_path));
		record_free(r);
	}
	d->n = 0;
}

static void defer_flush(void *arg)
{
	defer_resume_all(arg);
}

/* The v1 memory hierarchy's mount point from /proc/mounts. */
static void v1_memory_mount(char *buf, size_t size)
{
	char dev[256], dir[PATH_MAX], type[64], opts[1024];
	FILE *f = fopen("/proc/mounts", "r");
	bool found = false;

	assert_non_null(f);
	while (!found && fscanf(f, "%255s %4095s %63s %1023s %*d %*d", dev, dir, type, opts) == 4) {
		char *o, *save = NULL;

		if (strcmp(type, "cgroup"))
			continue;
		for (o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
			if (!strcmp(o, "memory"))
				found = true;
	}
	fclose(f);
	if (!found)
		fail_msg("no cgroup v1 memory hierarchy in /proc/mounts");
	snprintf(buf, size, "%s", dir);
}

struct fx {
	char mount[PATH_MAX];
	char dir[2 * PATH_MAX], dir2[2 * PATH_MAX];
	char rel[64], rel2[64];
	char logs[64];
	uint64_t id;
	char mount2[PATH_MAX];
	struct cgroup_paths *cp, *cp2;
	struct enrich_cgroup_paths paths;
	struct loop *loop;
	struct counters *reg;
	struct enrich_identity *ei;
	struct deferrer def;
	struct got sink;
	struct pipeline *p;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	struct pipeline_stage st;

	assert_non_null(fx);
	v1_memory_mount(fx->mount, sizeof(fx->mount));
	snprintf(fx->rel, sizeof(fx->rel), "/fs%dei", (int)getpid());
	snprintf(fx->rel2, sizeof(fx->rel2), "/fs%dei-renamed", (int)getpid());
	snprintf(fx->dir, sizeof(fx->dir), "%s%s", fx->mount, fx->rel);
	snprintf(fx->dir2, sizeof(fx->dir2), "%s%s", fx->mount, fx->rel2);
	if (mkdir(fx->dir, 0755))
		fail_msg("mkdir %s: %s (needs root and cgroup v2)", fx->dir, strerror(errno));
	fx->id = cgroup_id_of(fx->dir);
	assert_true(fx->id != 0);
	fx->cp = cgroup_paths_create(fx->mount);
	assert_non_null(fx->cp);
	fx->paths.v1 = fx->cp;
	/* v2 flows would resolve there; this test has none */
	assert_int_equal(cgroup_v2_mount(fx->mount2, sizeof(fx->mount2)), 0);
	fx->cp2 = cgroup_paths_create(fx->mount2);
	assert_non_null(fx->cp2);
	fx->paths.v2 = fx->cp2;
	snprintf(fx->logs, sizeof(fx->logs), "/tmp/fs%dei-logs-XXXXXX", (int)getpid());
	assert_non_null(mkdtemp(fx->logs));
	fx->loop = loop_create();
	fx->reg = counters_create();
	assert_non_null(fx->loop);
	assert_non_null(fx->reg);
	struct enrich_identity_opts io = {
		.pod_logs_dir = fx->logs,
		.container_logs_dir = fx->logs,
		.max_flows = 16,
		.paths = &fx->paths,
	};
	fx->ei = enrich_identity_create(&io, fx->loop, fx->reg);
	assert_non_null(fx->ei);

	fx->sink.base.ops = &got_ops;
	fx->p = pipeline_create(&fx->sink.base);
	assert_non_null(fx->p);
	st = enrich_identity_index_stage(fx->ei);
	assert_true(pipeline_add_stage(fx->p, &st) >= 0);
	st = enrich_cgroup_stage(&fx->paths);
	assert_true(pipeline_add_stage(fx->p, &st) >= 0);
	st = (struct pipeline_stage){ .name = "deferrer",
				      .process = defer_process,
				      .flush = defer_flush,
				      .added = defer_added,
				      .arg = &fx->def };
	assert_true(pipeline_add_stage(fx->p, &st) >= 0);
	st = enrich_identity_stage(fx->ei);
	assert_true(pipeline_add_stage(fx->p, &st) >= 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	pipeline_destroy(fx->p);
	counters_destroy(fx->reg);
	enrich_identity_destroy(fx->ei);
	loop_destroy(fx->loop);
	cgroup_paths_destroy(fx->cp);
	cgroup_paths_destroy(fx->cp2);
	rmdir(fx->dir);
	rmdir(fx->dir2);
	rmdir(fx->logs);
	free(fx);
	return 0;
}

static void submit_flow(struct fx *fx, uint16_t src_port)
{
	struct flow_record r;

	memset(&r, 0, sizeof(r));
	r.type = RECORD_FLOW;
	r.cgroup_id = fx->id;
	r.cgroup_version = 1;
	r.ip_version = 4;
	r.proto = 6;
	r.src_addr.bytes[0] = 192, r.src_addr.bytes[2] = 2, r.src_addr.bytes[3] = 1;
	r.dst_addr.bytes[0] = 203, r.dst_addr.bytes[2] = 113, r.dst_addr.bytes[3] = 7;
	r.src_port = src_port;
	r.dst_port = 443;
	r.src_actual_addr = r.src_addr;
	r.dst_actual_addr = r.dst_addr;
	r.src_actual_port = src_port;
	r.dst_actual_port = 443;
	assert_int_equal(pipeline_submit(fx->p, &r.hdr), 0);
}

static void test_deferred_flow_keeps_its_path_across_a_rename(void **state)
{
	struct fx *fx = *state;

	/* interval 1: flow 1001 is deferred (its copy owns the path), flow 1000 goes out */
	pipeline_begin_interval(fx->p);
	submit_flow(fx, 1000);
	submit_flow(fx, 1001);
	pipeline_end_interval(fx->p);
	assert_int_equal(fx->sink.n, 1);
	assert_int_equal(fx->sink.port[0], 1000);
	assert_string_equal(fx->sink.path[0], fx->rel);
	assert_int_equal(fx->def.n, 1);

	/* the cgroup is renamed: same id, a new path from the next generation on */
	if (rename(fx->dir, fx->dir2))
		fail_msg("rename %s: %s", fx->dir, strerror(errno));

	/* interval 2: flow 1002 sees the new path and is held; during the export the deferred
	 * flow comes back and is held too, then its copy is freed; both go out at the end */
	pipeline_begin_interval(fx->p);
	submit_flow(fx, 1002);
	defer_resume_all(&fx->def);
	assert_int_equal(fx->sink.n, 1); /* both held until the interval's end */
	pipeline_end_interval(fx->p);
	assert_int_equal(fx->sink.n, 3);
	assert_int_equal(fx->sink.port[1], 1002);
	assert_string_equal(fx->sink.path[1], fx->rel2);
	assert_int_equal(fx->sink.port[2], 1001);
	assert_string_equal(fx->sink.path[2], fx->rel);

	/* interval 3 frees the strings generation 2 replaced; nothing still points at them */
	pipeline_begin_interval(fx->p);
	submit_flow(fx, 1004);
	pipeline_end_interval(fx->p);
	assert_int_equal(fx->sink.n, 4);
	assert_string_equal(fx->sink.path[3], fx->rel2);
	pipeline_flush(fx->p);
	assert_int_equal(fx->sink.n, 4);
}

/* A flow whose every field is set, different in each of them; src_port even (not deferred). */
static void full_flow(struct flow_record *r, uint64_t id, int i)
{
	memset(r, 0, sizeof(*r));
	r->type = RECORD_FLOW;
	r->start_ns = 1796002743672000000ull + (uint64_t)i;
	r->end_ns = r->start_ns + 12000000 + (uint64_t)i;
	r->cgroup_id = id;
	r->cgroup_version = 1;
	r->pid = 7331u + (uint32_t)i;
	snprintf(r->comm, sizeof(r->comm), "comm-%d-fifteen", i);
	r->ip_version = i == 2 ? 6 : 4;
	r->proto = i == 1 ? 17 : 6;
	r->initiator = (uint8_t)(i % 3);
	r->tcp_flags = (uint8_t)(0x13 + i);
	for (int b = 0; b < (i == 2 ? 16 : 4); b++) {
		r->src_addr.bytes[b] = (uint8_t)(0x20 + b + i);
		r->dst_addr.bytes[b] = (uint8_t)(0x40 + b + i);
	}
	r->src_port = (uint16_t)(39298 + 2 * i);
	r->dst_port = (uint16_t)(443 + i);
	r->tx_bytes = 5268ull << 33 | (uint64_t)i;
	r->tx_packets = 5ull << 40 | (uint64_t)i;
	r->rx_bytes = 164ull << 35 | (uint64_t)i;
	r->rx_packets = 3ull << 45 | (uint64_t)i;
	r->src_actual_addr = r->src_addr;
	r->dst_actual_addr = r->dst_addr;
	r->src_actual_port = r->src_port;
	r->dst_actual_port = r->dst_port;
	if (i >= 1) { /* translated: the actual endpoints differ */
		r->nat = true;
		r->dst_actual_addr.bytes[3] ^= 0x55;
		r->dst_actual_port = (uint16_t)(8080 + i);
		r->src_actual_port = (uint16_t)(1024 + i);
	}
	if (i == 3) /* an IPv4 flow with bytes past the fourth (kept whole) */
		r->src_actual_addr.bytes[9] = 0x99;
	if (i == 4) /* nat set, nothing translated */
		r->src_actual_port = r->src_port, r->dst_actual_port = r->dst_port,
		r->dst_actual_addr = r->dst_addr;
}

/*
 * The workload stage holds the interval's flows packed (enrich_identity.c, struct held_flow):
 * each goes out field for field as it came in, IPv4 and IPv6, translated or not, with its
 * strings (a dst_domain whose buffer is gone by then).
 */
static void test_held_flows_go_out_as_they_came(void **state)
{
	struct fx *fx = *state;
	struct flow_record want[5];
	char domain[5][64];

	pipeline_begin_interval(fx->p);
	for (int i = 0; i < 5; i++) {
		struct flow_record r;

		full_flow(&want[i], fx->id, i);
		r = want[i];
		snprintf(domain[i], sizeof(domain[i]), "svc-%d.example", i);
		r.dst_domain = i == 1 ? NULL : domain[i];
		assert_int_equal(pipeline_submit(fx->p, &r.hdr), 0);
		memset(&r, 0xee, sizeof(r)); /* the caller's record is gone after submit */
	}
	char kept[5][64];

	memcpy(kept, domain, sizeof(kept));
	memset(domain, 'Z', sizeof(domain));
	assert_int_equal(fx->sink.n, 0); /* held until the interval's end */
	pipeline_end_interval(fx->p);
	assert_int_equal(fx->sink.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fx->sink.port[i], want[i].src_port);
		assert_string_equal(fx->sink.path[i], fx->rel);
		assert_string_equal(fx->sink.domain[i], i == 1 ? "(null)" : kept[i]);
		assert_int_equal(fx->sink.rec[i].start_ns, want[i].start_ns);
		assert_int_equal(fx->sink.rec[i].tx_bytes, want[i].tx_bytes);
		assert_int_equal(fx->sink.rec[i].src_actual_port, want[i].src_actual_port);
		assert_memory_equal(&fx->sink.rec[i].src_actual_addr, &want[i].src_actual_addr,
				    sizeof(want[i].src_actual_addr));
		assert_memory_equal(&fx->sink.rec[i], &want[i], sizeof(want[i]));
	}
	pipeline_flush(fx->p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deferred_flow_keeps_its_path_across_a_rename,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_flows_go_out_as_they_came, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
