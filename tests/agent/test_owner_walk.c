// SPDX-License-Identifier: Apache-2.0
/*
 * The start-up walk of open sockets in flow_collector_create() (flow.bpf.c flow_owner_walk):
 * a socket a child process opened in the test's cgroup before the collector existed gets an
 * owner record naming the child (its tgid and comm, looked up by the cookie the skb programs
 * will see), and the walk's counters say so; a kernel that refuses the iterator program (its
 * load made to fail by wrapping bpf_prog_load) still gets a working collector, with the walk
 * counted as unavailable. Real maps and programs (root; fails, never skips, without it).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "counters.h"
#include "flow.skel.h"
#include "flow_collector.h"
#include "flow_fixture.h"

/*
 * While set, loading an object that has flow_owner_walk to load fails, as on a kernel without
 * iter/task_file (bpf_object__load_skeleton() is what flow_collector.c calls: libbpf's own
 * calls inside the shared library cannot be wrapped).
 */
static bool fail_walk_load;

int __real_bpf_object__load_skeleton(struct bpf_object_skeleton *s);
int __wrap_bpf_object__load_skeleton(struct bpf_object_skeleton *s)
{
	struct bpf_program *p = bpf_object__find_program_by_name(*s->obj, "flow_owner_walk");

	if (fail_walk_load && p && bpf_program__autoload(p))
		return -EINVAL;
	return __real_bpf_object__load_skeleton(s);
}

struct fx {
	char cgroup[4200];
	struct flow_collector *fc;
	pid_t child;
	int to_child[2], from_child[2];
};

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (!fx)
		return 0;
	flow_collector_destroy(fx->fc);
	if (fx->child > 0) {
		close(fx->to_child[1]);
		close(fx->from_child[0]);
		waitpid(fx->child, NULL, 0);
	}
	if (fx->cgroup[0])
		rmdir(fx->cgroup);
	free(fx);
	*state = NULL;
	return 0;
}

/*
 * The child: enters the cgroup, names itself, opens a UDP socket connected to 127.0.0.1:9
 * (no cookie asked), says so, and on a byte from the parent answers with the socket's cookie.
 */
static void child_main(struct fx *fx)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	char path[4300], pid[32];
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd, s;
	char c;

	/* the parent's ends: its close of to_child[1] must reach this process as EOF */
	close(fx->to_child[1]);
	close(fx->from_child[0]);
	snprintf(path, sizeof(path), "%s/cgroup.procs", fx->cgroup);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		_exit(1);
	close(fd);
	prctl(PR_SET_NAME, "fs-walk-owner");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
		_exit(1);
	if (write(fx->from_child[1], "r", 1) != 1)
		_exit(1);
	if (read(fx->to_child[0], &c, 1) != 1)
		_exit(0);
	getsockopt(s, SOL_SOCKET, SO_COOKIE, &cookie, &len);
	if (write(fx->from_child[1], &cookie, sizeof(cookie)) != sizeof(cookie))
		_exit(1);
	if (read(fx->to_child[0], &c, 1) < 0)
		_exit(1);
	_exit(0);
}

static int setup(void **state)
{
	struct flow_collector_opts opts = { .max_flows = 4096 };
	struct fx *fx = calloc(1, sizeof(*fx));
	char mnt[4000], err[512], c;

	assert_non_null(fx);
	*state = fx;
	if (fx_cgroup2_mount(mnt, sizeof(mnt)))
		fail_msg("cgroup v2 is not mounted");
	snprintf(fx->cgroup, sizeof(fx->cgroup), "%s/fs%d-owner-walk", mnt, (int)getpid());
	if (mkdir(fx->cgroup, 0755)) {
		fx->cgroup[0] = '\0';
		teardown(state);
		fail_msg("mkdir: %s (needs root)", strerror(errno));
	}
	assert_int_equal(pipe(fx->to_child), 0);
	assert_int_equal(pipe(fx->from_child), 0);
	fx->child = fork();
	assert_true(fx->child >= 0);
	if (fx->child == 0)
		child_main(fx);
	close(fx->to_child[0]);
	close(fx->from_child[1]);
	if (read(fx->from_child[0], &c, 1) != 1) {
		teardown(state);
		fail_msg("the child did not open its socket");
	}
	opts.cgroup_path = fx->cgroup;
	if (flow_collector_create(&opts, &fx->fc, err, sizeof(err))) {
		teardown(state);
		fail_msg("flow_collector_create: %s", err);
	}
	return 0;
}

/* What the flow counters say about one sample (~0 when the page does not have it). */
static unsigned long long sample(struct fx *fx, const char *prefix)
{
	struct counters *reg = counters_create();
	unsigned long long v = ~0ull;
	char *page = NULL, *at;
	size_t size = 0;
	FILE *f = open_memstream(&page, &size);

	assert_non_null(f);
	assert_int_equal(flow_collector_register_counters(fx->fc, reg), 0);
	counters_render_prometheus(reg, f);
	fclose(f);
	at = strstr(page, prefix);
	if (at)
		sscanf(at + strlen(prefix), " %llu", &v);
	free(page);
	counters_destroy(reg);
	return v;
}

#define WALK "flowscope_socket_owner_walk_sockets_total{result="

static void test_walk_records_the_holder(void **state)
{
	struct fx *fx = *state;
	struct flow_bpf *skel = flow_collector_skel(fx->fc);
	int map = bpf_map__fd(skel->maps.sock_owner);
	struct sock_owner_slot slot;
	uint64_t cookie = 0;
	bool found = false;

	assert_int_equal(write(fx->to_child[1], "c", 1), 1);
	assert_int_equal(read(fx->from_child[0], &cookie, sizeof(cookie)), sizeof(cookie));
	assert_true(cookie != 0);
	/* the table's probe sequence (flow.bpf.c owner_find()) */
	for (uint32_t i = 0; i < FLOW_OWNER_PROBES && !found; i++) {
		uint32_t idx = FLOW_OWNER_SLOT(cookie, i);

		found = bpf_map_lookup_elem(map, &idx, &slot) == 0 && slot.cookie == cookie;
	}
	assert_true(found);
	assert_int_equal(slot.owner.tgid, fx->child);
	assert_string_equal(slot.owner.comm, "fs-walk-owner");
	/* the child's socket is the only one under the test's cgroup */
	assert_int_equal(sample(fx, WALK "\"recorded\"}"), 1);
	assert_int_equal(sample(fx, WALK "\"not_reached\"}"), 0);
	assert_int_equal(sample(fx, WALK "\"table_full\"}"), 0);
	assert_int_equal(sample(fx, "\nflowscope_socket_owner_walk_sockets_found_total"),
			 1 + sample(fx, WALK "\"outside_cgroup_root\"}") +
				 sample(fx, WALK "\"had_owner\"}"));
	assert_int_equal(sample(fx, "flowscope_socket_owner_walk_incomplete_total{reason="
				    "\"unavailable\"}"),
			 0);
}

static void test_kernel_without_the_iterator(void **state)
{
	struct fx *fx;

	teardown(state);
	fail_walk_load = true;
	assert_int_equal(setup(state), 0);
	fail_walk_load = false;
	fx = *state;
	/* the flow programs are there all the same; the walk did not run, and says why */
	assert_true(bpf_program__fd(flow_collector_skel(fx->fc)->progs.flow_egress) >= 0);
	assert_true(bpf_program__fd(flow_collector_skel(fx->fc)->progs.flow_owner_walk) < 0);
	assert_int_equal(sample(fx, "flowscope_socket_owner_walk_incomplete_total{reason="
				    "\"unavailable\"}"),
			 1);
	assert_int_equal(sample(fx, "\nflowscope_socket_owner_walk_sockets_found_total"), 0);
	assert_int_equal(sample(fx, WALK "\"recorded\"}"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_walk_records_the_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_without_the_iterator, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
