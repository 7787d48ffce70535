// SPDX-License-Identifier: Apache-2.0
/* Event records: exact JSON, protobuf decoded by protobuf-c's generated code, record_dup(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowscope/v1/records.pb-c.h"
#include "record.h"
#include "record_codec.h"

static const char *const argv[] = { "/bin/echo", "", "a\"b" };
static const struct record_workload workload = { .container_id = "c0ffee",
						 .container_runtime = "containerd",
						 .pod_namespace = "shop",
						 .pod_name = "api-1" };

static void make(struct event_record *r, struct event_arg *a)
{
	memset(r, 0, sizeof(*r));
	r->type = RECORD_EVENT;
	r->ts_ns = 1700000000123456789ULL;
	r->cgroup_id = 42;
	r->cgroup_path = "/test/c1";
	r->cgroup_version = 2;
	r->workload = &workload;
	r->pid = 100;
	memcpy(r->comm, "echo", 5);
	r->event = "sched_process_exec";
	r->tid = 101;
	r->ns_pid = 7;
	r->ppid = 99;
	r->uid = 1000;
	r->gid = 1001;
	a[0] = (struct event_arg){ .key = "filename", .type = EVENT_ARG_STR, .str = "/bin/echo" };
	a[1] = (struct event_arg){ .key = "argv", .type = EVENT_ARG_STR_LIST };
	a[1].list.v = argv;
	a[1].list.n = 3;
	a[2] = (struct event_arg){ .key = "argv_truncated", .type = EVENT_ARG_BOOL, .b = false };
	a[3] = (struct event_arg){ .key = "interpreter", .type = EVENT_ARG_STR, .str = NULL };
	a[4] = (struct event_arg){ .key = "ret", .type = EVENT_ARG_S64, .s = -2 };
	r->args = a;
	r->n_args = 5;
}

static const char *want_json =
	"{\"type\":\"event\",\"schema_version\":1,\"node\":\"n1\",\"event\":\"sched_process_exec\","
	"\"ts_ns\":1700000000123456789,\"cgroup_id\":42,\"cgroup_path\":\"/test/c1\","
	"\"cgroup_version\":2,\"pid\":100,\"comm\":\"echo\",\"container_id\":\"c0ffee\","
	"\"container_runtime\":\"containerd\",\"container_name\":null,\"pod_uid\":null,"
	"\"pod_namespace\":\"shop\",\"pod_name\":\"api-1\",\"tid\":101,\"ns_pid\":7,\"ppid\":99,"
	"\"uid\":1000,\"gid\":1001,"
	"\"args\":{\"filename\":\"/bin/echo\",\"argv\":[\"/bin/echo\",\"\",\"a\\\"b\"],"
	"\"argv_truncated\":false,\"interpreter\":null,\"ret\":-2}}";

static void test_json(void **state)
{
	struct record_json_ctx ctx = { .node_name = "n1" };
	struct event_record r;
	struct event_arg a[5];
	char buf[1024];

	(void)state;
	make(&r, a);
	ssize_t n = record_encode_json(buf, sizeof(buf), &ctx, &r.hdr);

	assert_true(n > 0);
	assert_string_equal(buf, want_json);
	assert_int_equal(record_encode_json(buf, 40, &ctx, &r.hdr), -ENOSPC);
	assert_string_equal(record_codec(RECORD_EVENT)->kafka_topic, "flowscope.events");
}

static void test_proto(void **state)
{
	struct record_proto_ctx ctx = { .node_name = "n1" };
	struct event_record r;
	struct event_arg a[5];
	uint8_t buf[1024];

	(void)state;
	make(&r, a);
	ssize_t n = record_encode_proto(buf, sizeof(buf), &ctx, &r.hdr, false);

	assert_true(n > 0);
	Flowscope__V1__EventRecord *m = flowscope__v1__event_record__unpack(NULL, n, buf);

	assert_non_null(m);
	assert_string_equal(m->event, "sched_process_exec");
	assert_int_equal(m->ts_ns, 1700000000123456789ULL);
	assert_int_equal(m->pid, 100);
	assert_int_equal(m->ns_pid, 7);
	assert_int_equal(m->ppid, 99);
	assert_string_equal(m->comm, "echo");
	assert_int_equal(m->cgroup_version, 2);
	assert_non_null(m->workload);
	assert_string_equal(m->workload->container_id, "c0ffee");
	assert_string_equal(m->workload->pod_namespace, "shop");
	assert_string_equal(m->workload->pod_name, "api-1");
	assert_int_equal(m->args_case, FLOWSCOPE__V1__EVENT_RECORD__ARGS_SCHED_PROCESS_EXEC);
	Flowscope__V1__ExecArgs *e = m->sched_process_exec;

	assert_string_equal(e->filename, "/bin/echo");
	assert_int_equal(e->n_argv, 3);
	assert_string_equal(e->argv[1], "");
	assert_string_equal(e->argv[2], "a\"b");
	assert_int_equal(e->ret, -2);
	flowscope__v1__event_record__free_unpacked(m, NULL);
}

/* An address argument is text and, in protobuf, its 16 raw bytes (IPv4-mapped for IPv4). */
static void test_proto_addresses(void **state)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x02 };
	static const uint8_t v4_mapped[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 7 };
	struct record_proto_ctx ctx = { .node_name = "n1" };
	struct record_json_ctx jctx = { .node_name = "n1" };
	struct event_record r;
	struct event_arg a[5];
	uint8_t buf[1024];
	char json[1024];
	ssize_t n;

	(void)state;
	make(&r, a);
	r.event = "tcp_connect";
	a[0] = (struct event_arg){ .key = "ip_version", .type = EVENT_ARG_U64, .u = 6 };
	a[1] = (struct event_arg){ .key = "src_addr", .type = EVENT_ARG_ADDR };
	a[1].addr.ip_version = 6;
	memcpy(a[1].addr.a.bytes, v6, 16);
	a[2] = (struct event_arg){ .key = "dst_addr", .type = EVENT_ARG_ADDR };
	a[2].addr.ip_version = 6;
	memcpy(a[2].addr.a.bytes, v6, 16);
	a[2].addr.a.bytes[15] = 3;
	r.n_args = 3;
	n = record_encode_proto(buf, sizeof(buf), &ctx, &r.hdr, false);
	assert_true(n > 0);
	Flowscope__V1__EventRecord *m = flowscope__v1__event_record__unpack(NULL, n, buf);

	assert_non_null(m);
	assert_int_equal(m->args_case, FLOWSCOPE__V1__EVENT_RECORD__ARGS_TCP_CONNECT);
	assert_string_equal(m->tcp_connect->src_addr, "2001:db8::2");
	assert_string_equal(m->tcp_connect->dst_addr, "2001:db8::3");
	assert_int_equal(m->tcp_connect->src_addr_bytes.len, 16);
	assert_memory_equal(m->tcp_connect->src_addr_bytes.data, v6, 16);
	assert_int_equal(m->tcp_connect->dst_addr_bytes.len, 16);
	assert_int_equal(m->tcp_connect->dst_addr_bytes.data[15], 3);
	flowscope__v1__event_record__free_unpacked(m, NULL);
	/* JSON keeps the text only */
	assert_true(record_encode_json(json, sizeof(json), &jctx, &r.hdr) > 0);
	assert_non_null(strstr(json, "\"src_addr\":\"2001:db8::2\""));
	assert_null(strstr(json, "_bytes"));

	/* a syscall's IPv4 addr */
	r.event = "connect";
	a[0] = (struct event_arg){ .key = "family", .type = EVENT_ARG_STR, .str = "AF_INET" };
	a[1] = (struct event_arg){ .key = "addr", .type = EVENT_ARG_ADDR };
	a[1].addr.ip_version = 4;
	memcpy(a[1].addr.a.bytes, v4_mapped + 12, 4);
	r.n_args = 2;
	n = record_encode_proto(buf, sizeof(buf), &ctx, &r.hdr, false);
	assert_true(n > 0);
	m = flowscope__v1__event_record__unpack(NULL, n, buf);
	assert_non_null(m);
	assert_int_equal(m->args_case, FLOWSCOPE__V1__EVENT_RECORD__ARGS_SYSCALL);
	assert_string_equal(m->syscall->addr, "192.0.2.7");
	assert_int_equal(m->syscall->addr_bytes.len, 16);
	assert_memory_equal(m->syscall->addr_bytes.data, v4_mapped, 16);
	flowscope__v1__event_record__free_unpacked(m, NULL);
}

static void test_dup(void **state)
{
	struct record_json_ctx ctx = { .node_name = "n1" };
	struct event_record r;
	struct event_arg a[5];
	struct record_workload wl = workload;
	char buf[1024], path[] = "/test/c1";

	(void)state;
	make(&r, a);
	r.cgroup_path = path;
	r.workload = &wl;
	struct record *c = record_dup(&r.hdr);

	assert_non_null(c);
	/* the copy must not point into the original: its args, path or workload */
	memset(a, 0, sizeof(a));
	memset(path, 'x', sizeof(path) - 1);
	memset(&wl, 0, sizeof(wl));
	assert_true(record_encode_json(buf, sizeof(buf), &ctx, c) > 0);
	assert_string_equal(buf, want_json);
	record_free(c);
}

/*
 * Arena copies: across chunks (1 MiB each), one larger than a chunk, and again after a reset,
 * which reuses the chunks it emptied in the same order (the same addresses: no fresh pages).
 */
static void test_arena_dup(void **state)
{
	enum { N = 12000 };
	struct record_json_ctx ctx = { .node_name = "n1" };
	static struct record *copies[N], *first[N];
	struct record_arena *arena = record_arena_create();
	struct event_record r;
	struct event_arg a[5];
	char buf[1024], want[1024];

	(void)state;
	assert_non_null(arena);
	make(&r, a);
	assert_true(record_encode_json(want, sizeof(want), &ctx, &r.hdr) > 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			copies[i] = record_arena_dup(arena, &r.hdr);
			assert_non_null(copies[i]);
			assert_int_equal((uintptr_t)copies[i] % _Alignof(max_align_t), 0);
			if (round == 0)
				first[i] = copies[i];
			else
				assert_ptr_equal(copies[i], first[i]);
		}
		for (int i = 0; i < N; i += 7) {
			assert_true(record_encode_json(buf, sizeof(buf), &ctx, copies[i]) > 0);
			assert_string_equal(buf, want);
		}
		record_arena_reset(arena);
	}
	/* a copy larger than a chunk gets a mapping of its own */
	size_t big = (2u << 20) + 3;
	char *path = malloc(big + 1);

	assert_non_null(path);
	memset(path, 'p', big);
	path[big] = 0;
	r.cgroup_path = path;
	struct record *c = record_arena_dup(arena, &r.hdr);

	assert_non_null(c);
	free(path);
	assert_int_equal(strlen(c->cgroup_path), big);
	assert_int_equal(c->cgroup_path[big - 1], 'p');
	r.type = (enum record_type)99;
	errno = 0;
	assert_null(record_arena_dup(arena, &r.hdr));
	assert_int_equal(errno, EINVAL);
	record_arena_destroy(arena);
	record_arena_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_proto),
		cmocka_unit_test(test_proto_addresses),
		cmocka_unit_test(test_dup),
		cmocka_unit_test(test_arena_dup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
