// SPDX-License-Identifier: Apache-2.0
/*
 * agent/schema_registry.c: the wire prefix, the message index of records.proto's messages, and
 * the registration request against a local HTTP server (a thread here that takes one request
 * and answers what the test tells it), its refusals, an unreachable registry and a timeout.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "schema_registry.h"

/* ---- one-request HTTP server ------------------------------------------------------------ */

struct stub {
	int fd;
	int port;
	pthread_t thread;
	char answer[4096]; /* the HTTP response; "": read the request, never answer */
	char request[65536]; /* headers and body as received */
	size_t len;
};

static void *serve(void *arg)
{
	struct stub *s = arg;
	int c = accept(s->fd, NULL, NULL);
	size_t want = 0;

	if (c < 0)
		return NULL;
	for (;;) {
		ssize_t n = read(c, s->request + s->len, sizeof(s->request) - 1 - s->len);
		char *end;

		if (n <= 0)
			break;
		s->len += n;
		s->request[s->len] = '\0';
		end = strstr(s->request, "\r\n\r\n");
		if (end && !want) {
			const char *cl = strcasestr(s->request, "Content-Length:");

			want = (end + 4 - s->request) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
		}
		if (want && s->len >= want)
			break;
	}
	if (*s->answer) {
		if (write(c, s->answer, strlen(s->answer)) < 0)
			fail_msg("stub: write: %s", strerror(errno));
	} else {
		char b[64];

		/* hold the connection until the client gives up */
		while (read(c, b, sizeof(b)) > 0)
			;
	}
	close(c);
	return NULL;
}

/* Answer "HTTP/1.1 <status>" with body (status NULL: never answer). */
static void stub_start(struct stub *s, const char *status, const char *body)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	if (status)
		snprintf(s->answer, sizeof(s->answer),
			 "HTTP/1.1 %s\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 status, strlen(body), body);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 1), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void stub_stop(struct stub *s)
{
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static const char *body_of(const struct stub *s)
{
	const char *b = strstr(s->request, "\r\n\r\n");

	return b ? b + 4 : "";
}

/* ---- the wire format -------------------------------------------------------------------- */

static void test_wire_prefix(void **state)
{
	uint8_t b[SR_WIRE_PREFIX_MAX];
	static const uint8_t first[] = { 0, 0x01, 0x02, 0x03, 0x04, 0 };
	static const uint8_t fourth[] = { 0, 0, 0, 0, 7, 2, 6 };
	/* index 64: zig-zag 128, a two-byte varint */
	static const uint8_t far[] = { 0, 0xff, 0xff, 0xff, 0xff, 2, 0x80, 0x01 };

	(void)state;
	assert_int_equal(sr_wire_prefix(0x01020304, 0, b, sizeof(b)), sizeof(first));
	assert_memory_equal(b, first, sizeof(first));
	assert_int_equal(sr_wire_prefix(7, 3, b, sizeof(b)), sizeof(fourth));
	assert_memory_equal(b, fourth, sizeof(fourth));
	assert_int_equal(sr_wire_prefix(0xffffffff, 64, b, sizeof(b)), sizeof(far));
	assert_memory_equal(b, far, sizeof(far));
	assert_int_equal(sr_wire_prefix(7, 3, b, 6), -ENOSPC);
	assert_int_equal(sr_wire_prefix(7, -1, b, sizeof(b)), -EINVAL);
}

static void test_message_index_of_records_proto(void **state)
{
	(void)state;
	/* the order of the messages in proto/flowscope/v1/records.proto */
	assert_int_equal(sr_proto_message_index(flowscope_records_proto, "flowscope.v1.FlowRecord"),
			 0);
	assert_int_equal(sr_proto_message_index(flowscope_records_proto, "flowscope.v1.Workload"),
			 1);
	assert_int_equal(sr_proto_message_index(flowscope_records_proto, "flowscope.v1.DnsRecord"),
			 3);
	assert_int_equal(sr_proto_message_index(flowscope_records_proto, "flowscope.v1."
									 "EventRecord"),
			 4);
	assert_int_equal(sr_proto_message_index(flowscope_records_proto, "flowscope.v2.FlowRecord"),
			 -ENOENT);
	assert_int_equal(sr_proto_message_index(flowscope_records_proto, "FlowRecord"), -ENOENT);
	assert_int_equal(sr_proto_message_index(flowscope_records_proto, "flowscope.v1.Nope"),
			 -ENOENT);
}

static void test_message_index_skips_comments_strings_nesting(void **state)
{
	static const char proto[] = "syntax = \"proto3\"; // message Fake {\n"
				    "package a.b;\n"
				    "/* message Hidden { } */\n"
				    "option go_package = \"x/message Str\";\n"
				    "enum Kind { KIND_A = 0; }\n"
				    "message First { message Nested { int32 message = 1; } }\n"
				    "service S { rpc M (First) returns (First); }\n"
				    "message Second { string s = 1; }\n";

	(void)state;
	assert_int_equal(sr_proto_message_index(proto, "a.b.First"), 0);
	assert_int_equal(sr_proto_message_index(proto, "a.b.Second"), 1);
	assert_int_equal(sr_proto_message_index(proto, "a.b.Nested"), -ENOENT);
	assert_int_equal(sr_proto_message_index(proto, "a.b.Fake"), -ENOENT);
	assert_int_equal(sr_proto_message_index(proto, "a.b.Hidden"), -ENOENT);
	assert_int_equal(sr_proto_message_index(proto, "a.b.Str"), -ENOENT);
	assert_int_equal(sr_proto_message_index(proto, "a.b.Kind"), -ENOENT);
	assert_int_equal(sr_proto_message_index("message M {}", "M"), 0);
}

/* ---- URLs ------------------------------------------------------------------------------- */

static void test_check_url(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(schema_registry_check_url("http://127.0.0.1:8081", err, sizeof(err)), 0);
	assert_int_equal(schema_registry_check_url("https://u:p@sr.example:443/apis/ccompat/v7/",
						   err, sizeof(err)),
			 0);
	assert_int_equal(schema_registry_check_url("ftp://u:sekrit@h/", err, sizeof(err)), -EINVAL);
	assert_null(strstr(err, "sekrit"));
	assert_int_equal(schema_registry_check_url("http://u:sekrit@h/?x=1", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "http://h/"));
	assert_null(strstr(err, "sekrit"));
	assert_int_equal(schema_registry_check_url("", err, sizeof(err)), -EINVAL);
	assert_int_equal(schema_registry_check_url("http://", err, sizeof(err)), -EINVAL);
}

/* ---- registration ----------------------------------------------------------------------- */

static struct schema_registry *client(int port, const char *userinfo, const char *path,
				      uint32_t timeout_ms)
{
	char url[256], err[256];
	struct schema_registry *sr;

	snprintf(url, sizeof(url), "http://%s127.0.0.1:%d%s", userinfo, port, path);
	sr = schema_registry_create(url, timeout_ms, err, sizeof(err));
	if (!sr)
		fail_msg("schema_registry_create(%s): %s", url, err);
	return sr;
}

static void test_register_sends_the_schema_and_reads_the_id(void **state)
{
	static const char schema[] = "syntax = \"proto3\";\npackage p;\nmessage M { string "
				     "s = 1; } // \"quoted\" \\ and\ttab\n";
	struct stub s;
	struct schema_registry *sr;
	char err[512], shown[128];
	uint32_t id = 0;
	json_t *body;

	(void)state;
	stub_start(&s, "200 OK", "{\"id\":42}");
	sr = client(s.port, "user:sekrit@", "/apis/ccompat/v7/", 5000);
	snprintf(shown, sizeof(shown), "http://127.0.0.1:%d/apis/ccompat/v7", s.port);
	assert_string_equal(schema_registry_url(sr), shown);
	assert_int_equal(schema_registry_register_protobuf(sr, "flowscope.flows-value", schema, &id,
							   err, sizeof(err)),
			 0);
	stub_stop(&s);
	assert_int_equal(id, 42);
	assert_non_null(strstr(s.request, "POST /apis/ccompat/v7/subjects/flowscope.flows-value/"
					  "versions HTTP/1.1\r\n"));
	assert_non_null(strcasestr(s.request, "\r\nContent-Type: "
					      "application/vnd.schemaregistry.v1+json\r\n"));
	/* base64("user:sekrit"): basic authentication from the URL's userinfo */
	assert_non_null(strstr(s.request, "\r\nAuthorization: Basic dXNlcjpzZWtyaXQ=\r\n"));
	body = json_loads(body_of(&s), 0, NULL);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "schemaType")), "PROTOBUF");
	assert_string_equal(json_string_value(json_object_get(body, "schema")), schema);
	json_decref(body);
	schema_registry_destroy(sr);
}

static void check_refusal(const char *status, const char *answer, int want, const char *const *must)
{
	struct stub s;
	struct schema_registry *sr;
	char err[512];
	uint32_t id = 7;

	stub_start(&s, status, answer);
	sr = client(s.port, "user:sekrit@", "", 5000);
	assert_int_equal(schema_registry_register_protobuf(sr, "t-value", "message M {}", &id, err,
							   sizeof(err)),
			 want);
	stub_stop(&s);
	assert_int_equal(id, 7);
	for (; *must; must++)
		if (!strstr(err, *must))
			fail_msg("\"%s\" not in \"%s\"", *must, err);
	assert_null(strstr(err, "sekrit"));
	assert_null(strstr(err, "user"));
	assert_null(strchr(err, '\n'));
	schema_registry_destroy(sr);
}

static void test_refusals_name_the_url_status_and_answer(void **state)
{
	static const char *const conflict[] = { "http://127.0.0.1:", "t-value", "HTTP 409",
						"incompatible with an earlier schema", NULL };
	static const char *const server[] = { "HTTP 500", "boom ??again", NULL };
	static const char *const no_id[] = { "HTTP 200 without a schema id", "{\"id\":\"42\"}",
					     NULL };
	static const char *const negative[] = { "HTTP 200 without a schema id", "{\"id\":-1}",
						NULL };
	static const char *const empty[] = { "HTTP 503", "(empty answer)", NULL };

	(void)state;
	check_refusal("409 Conflict",
		      "{\"error_code\":409,\"message\":\"Schema being registered is incompatible "
		      "with an earlier schema\"}",
		      -EPROTO, conflict);
	check_refusal("500 Internal Server Error",
		      "boom\n\x01\xff"
		      "again",
		      -EPROTO, server);
	check_refusal("200 OK", "{\"id\":\"42\"}", -EPROTO, no_id);
	check_refusal("200 OK", "{\"id\":-1}", -EPROTO, negative);
	check_refusal("503 Service Unavailable", "", -EPROTO, empty);
}

static void test_unreachable_and_silent_registries(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	struct schema_registry *sr;
	char err[512], want[64];
	uint32_t id = 0;
	struct stub s;
	int fd, port;

	(void)state;
	/* a port with nothing listening: bound, never listened on */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	port = ntohs(a.sin_port);
	sr = client(port, "u:sekrit@", "", 2000);
	assert_int_equal(schema_registry_register_protobuf(sr, "t-value", "message M {}", &id, err,
							   sizeof(err)),
			 -EIO);
	snprintf(want, sizeof(want), "schema registry http://127.0.0.1:%d: ", port);
	assert_non_null(strstr(err, want));
	assert_null(strstr(err, "sekrit"));
	schema_registry_destroy(sr);
	close(fd);

	/* a registry that takes the request and never answers: the timeout ends it */
	stub_start(&s, NULL, NULL);
	sr = client(s.port, "", "", 300);
	assert_int_equal(schema_registry_register_protobuf(sr, "t-value", "message M {}", &id, err,
							   sizeof(err)),
			 -EIO);
	assert_non_null(strstr(err, "timeout 300 ms"));
	schema_registry_destroy(sr);
	stub_stop(&s);
}

/* Before schema_registry_global_init() (and after its cleanup) a client is refused by name;
 * a second init is a no-op that needs no second cleanup. */
static void test_create_needs_the_global_init(void **state)
{
	struct schema_registry *sr;
	char err[256];

	(void)state;
	err[0] = '\0';
	assert_null(schema_registry_create("http://127.0.0.1:1", 100, err, sizeof(err)));
	assert_string_equal(err, "schema registry: schema_registry_global_init() was not called");
	assert_int_equal(schema_registry_global_init(err, sizeof(err)), 0);
	assert_int_equal(schema_registry_global_init(err, sizeof(err)), 0);
	sr = schema_registry_create("http://127.0.0.1:1", 100, err, sizeof(err));
	assert_non_null(sr);
	schema_registry_destroy(sr);
	/* one cleanup undoes both inits */
	schema_registry_global_cleanup();
	assert_null(schema_registry_create("http://127.0.0.1:1", 100, err, sizeof(err)));
	schema_registry_global_cleanup();
}

int main(void)
{
	/* first, while no stub server thread runs, as the header asks */
	const struct CMUnitTest before_init[] = {
		cmocka_unit_test(test_create_needs_the_global_init),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_prefix),
		cmocka_unit_test(test_message_index_of_records_proto),
		cmocka_unit_test(test_message_index_skips_comments_strings_nesting),
		cmocka_unit_test(test_check_url),
		cmocka_unit_test(test_register_sends_the_schema_and_reads_the_id),
		cmocka_unit_test(test_refusals_name_the_url_status_and_answer),
		cmocka_unit_test(test_unreachable_and_silent_registries),
	};

	char err[256];
	int failed;

	failed = cmocka_run_group_tests(before_init, NULL, NULL);
	if (schema_registry_global_init(err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	failed += cmocka_run_group_tests(tests, NULL, NULL);
	schema_registry_global_cleanup();
	return failed;
}
