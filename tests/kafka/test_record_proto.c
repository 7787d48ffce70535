// SPDX-License-Identifier: Apache-2.0
/* record_proto: protobuf encoding of records, varint framing, and protoc agreeing with it. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flowscope/v1/records.pb-c.h"
#include "kafka_test_util.h"
#include "record_json.h"
#include "record_proto.h"

static const struct record_proto_ctx ctx = { .node_name = "node-a" };

static void test_varint(void **state)
{
	static const uint64_t values[] = {
		0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX
	};
	uint8_t buf[RECORD_PROTO_VARINT_MAX];
	uint64_t v;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		n = record_proto_put_varint(buf, values[i]);
		assert_int_equal(record_proto_get_varint(buf, n, &v), n);
		assert_true(v == values[i]);
		/* Truncated: must not read past the end. */
		assert_int_equal(record_proto_get_varint(buf, n - 1, &v), 0);
	}
	/* 300 is ac 02 (protobuf encoding guide's example). */
	assert_int_equal(record_proto_put_varint(buf, 300), 2);
	assert_int_equal(buf[0], 0xac);
	assert_int_equal(buf[1], 0x02);
}

/* A bytes address field holds the 16 bytes of want (inet_pton), IPv4 as ::ffff:a.b.c.d. */
static void assert_addr_bytes(ProtobufCBinaryData got, const char *want)
{
	uint8_t b[16] = { [10] = 0xff, [11] = 0xff };

	if (strchr(want, ':'))
		assert_int_equal(inet_pton(AF_INET6, want, b), 1);
	else
		assert_int_equal(inet_pton(AF_INET, want, b + 12), 1);
	assert_int_equal(got.len, 16);
	assert_memory_equal(got.data, b, 16);
}

static void test_flow_roundtrip(void **state)
{
	Flowscope__V1__FlowRecord *m;
	struct flow_record r;
	uint8_t buf[1024];
	ssize_t n;

	(void)state;
	make_flow(&r, 3); /* IPv6 */
	n = record_proto_encode_flow(buf, sizeof(buf), &ctx, &r, false);
	assert_true(n > 0);
	m = flowscope__v1__flow_record__unpack(NULL, n, buf);
	assert_non_null(m);
	assert_int_equal(m->schema_version, FLOWSCOPE_SCHEMA_VERSION);
	assert_string_equal(m->node, "node-a");
	assert_true(m->start_ns == r.start_ns && m->end_ns == r.end_ns);
	assert_int_equal(m->cgroup_id, 1003);
	assert_string_equal(m->cgroup_path, "/kubepods/pod-a/ctr");
	assert_int_equal(m->cgroup_version, 2);
	assert_non_null(m->workload);
	assert_string_equal(m->workload->container_id, "3f2a000000000000000000000000000000000000000"
						       "000000000000000000001");
	assert_string_equal(m->workload->container_runtime, "cri-o");
	assert_string_equal(m->workload->container_name, ""); /* unknown */
	assert_string_equal(m->workload->pod_namespace, "shop");
	assert_string_equal(m->workload->pod_name, "checkout-7d9f");
	assert_string_equal(m->dst_pod_namespace, "");
	assert_string_equal(m->dst_pod_name, "db-0");
	assert_int_equal(m->pid, 3);
	assert_string_equal(m->comm, "curl");
	assert_int_equal(m->ip_version, 6);
	assert_string_equal(m->proto, "tcp");
	assert_string_equal(m->initiator, "src");
	assert_int_equal(m->n_tcp_flags, 2);
	assert_string_equal(m->tcp_flags[0], "SYN");
	assert_string_equal(m->tcp_flags[1], "ACK");
	assert_string_equal(m->src_addr, "2001:db8::10");
	assert_string_equal(m->dst_addr, "2001:db8:1::20");
	assert_int_equal(m->src_port, 40003);
	assert_int_equal(m->dst_port, 443);
	assert_int_equal(m->tx_bytes, 3001);
	assert_int_equal(m->rx_packets, 7);
	assert_false(m->nat);
	assert_string_equal(m->dst_actual_addr, "2001:db8:1::20");
	assert_string_equal(m->dst_domain, "api.example");
	assert_addr_bytes(m->src_addr_bytes, "2001:db8::10");
	assert_addr_bytes(m->dst_addr_bytes, "2001:db8:1::20");
	assert_addr_bytes(m->src_actual_addr_bytes, "2001:db8::10");
	assert_addr_bytes(m->dst_actual_addr_bytes, "2001:db8:1::20");
	flowscope__v1__flow_record__free_unpacked(m, NULL);

	/* Too small: -ENOSPC, never a partial write past cap. */
	assert_int_equal(record_proto_encode_flow(buf, 10, &ctx, &r, false), -ENOSPC);
}

static void test_flow_nulls_ipv4(void **state)
{
	Flowscope__V1__FlowRecord *m;
	struct flow_record r;
	uint8_t buf[1024];
	ssize_t n;

	(void)state;
	make_flow(&r, 1);
	r.cgroup_path = NULL;
	r.dst_domain = NULL;
	r.initiator = INITIATOR_UNKNOWN;
	r.proto = 132; /* SCTP: no name */
	r.tcp_flags = 0;
	n = record_proto_encode_flow(buf, sizeof(buf), &ctx, &r, false);
	assert_true(n > 0);
	m = flowscope__v1__flow_record__unpack(NULL, n, buf);
	assert_non_null(m);
	assert_string_equal(m->src_addr, "192.0.2.10");
	assert_addr_bytes(m->src_addr_bytes, "192.0.2.10");
	assert_addr_bytes(m->dst_addr_bytes, m->dst_addr);
	assert_addr_bytes(m->src_actual_addr_bytes, m->src_actual_addr);
	assert_addr_bytes(m->dst_actual_addr_bytes, m->dst_actual_addr);
	assert_string_equal(m->cgroup_path, "");
	assert_string_equal(m->dst_domain, "");
	assert_string_equal(m->initiator, "unknown");
	assert_string_equal(m->proto, "132");
	assert_int_equal(m->n_tcp_flags, 0);
	flowscope__v1__flow_record__free_unpacked(m, NULL);
}

static void test_dns_roundtrip(void **state)
{
	Flowscope__V1__DnsRecord *m;
	struct dns_answer_view many[40];
	struct dns_record r;
	uint8_t buf[8192];
	ssize_t n;
	int i;

	(void)state;
	make_dns(&r, 7);
	n = record_proto_encode_dns(buf, sizeof(buf), &ctx, &r, false);
	assert_true(n > 0);
	m = flowscope__v1__dns_record__unpack(NULL, n, buf);
	assert_non_null(m);
	assert_string_equal(m->node, "node-a");
	assert_int_equal(m->schema_version, 1);
	assert_int_equal(m->cgroup_id, 2002);
	assert_int_equal(m->cgroup_version, 1);
	assert_null(m->workload); /* none: absent */
	assert_string_equal(m->qname, "www.example");
	assert_string_equal(m->qtype, "A");
	assert_string_equal(m->rcode, "NOERROR");
	assert_string_equal(m->src_addr, "192.0.2.10");
	assert_string_equal(m->dst_addr, "192.0.2.53");
	assert_addr_bytes(m->src_addr_bytes, "192.0.2.10");
	assert_addr_bytes(m->dst_addr_bytes, "192.0.2.53");
	assert_int_equal(m->dst_port, 53);
	assert_int_equal(m->id, 7);
	assert_int_equal(m->latency_case, FLOWSCOPE__V1__DNS_RECORD__LATENCY_LATENCY_NS);
	assert_int_equal(m->latency_ns, 12345);
	assert_int_equal(m->n_answers, 2);
	assert_string_equal(m->answers[0]->type, "CNAME");
	assert_string_equal(m->answers[0]->data, "web.example");
	assert_int_equal(m->answers[1]->ttl, 60);
	assert_string_equal(m->answers[1]->data, "192.0.2.1");
	flowscope__v1__dns_record__free_unpacked(m, NULL);

	/* Timeout (latency null); more answers than fit on the encoder's stack. */
	r.timeout = true;
	r.latency_known = false;
	r.rcode = DNS_RCODE_TIMEOUT;
	for (i = 0; i < 40; i++)
		many[i] = (struct dns_answer_view){ "a.example", 1, i, "192.0.2.9" };
	r.answers = many;
	r.n_answers = 40;
	n = record_proto_encode_dns(buf, sizeof(buf), &ctx, &r, false);
	assert_true(n > 0);
	m = flowscope__v1__dns_record__unpack(NULL, n, buf);
	assert_non_null(m);
	assert_string_equal(m->rcode, "TIMEOUT");
	assert_true(m->timeout);
	assert_int_equal(m->latency_case, FLOWSCOPE__V1__DNS_RECORD__LATENCY__NOT_SET);
	assert_int_equal(m->latency_ns, 0);
	assert_int_equal(m->n_answers, 40);
	assert_int_equal(m->answers[39]->ttl, 39);
	flowscope__v1__dns_record__free_unpacked(m, NULL);
}

/*
 * latency_ns has explicit presence (oneof latency): present whenever the latency is known, even when it is 0; absent
 * (null in JSON) for a response whose query was not seen. On the wire a present 0 is the two
 * tag bytes of field 19 and a one-byte varint.
 */
static void test_dns_latency_presence(void **state)
{
	Flowscope__V1__DnsRecord *m;
	struct dns_record r;
	uint8_t buf[1024];
	ssize_t n, n_known;

	(void)state;
	make_dns(&r, 8);
	r.latency_ns = 0; /* same clock tick: known, and 0 */
	n = record_proto_encode_dns(buf, sizeof(buf), &ctx, &r, false);
	assert_true(n > 0);
	n_known = n;
	m = flowscope__v1__dns_record__unpack(NULL, n, buf);
	assert_non_null(m);
	assert_int_equal(m->latency_case, FLOWSCOPE__V1__DNS_RECORD__LATENCY_LATENCY_NS);
	assert_int_equal(m->latency_ns, 0);
	assert_false(m->timeout);
	flowscope__v1__dns_record__free_unpacked(m, NULL);

	/* A response without its query: not a timeout, latency unknown. */
	r.latency_ns = 999; /* ignored */
	r.latency_known = false;
	n = record_proto_encode_dns(buf, sizeof(buf), &ctx, &r, false);
	assert_int_equal(n, n_known - 3);
	m = flowscope__v1__dns_record__unpack(NULL, n, buf);
	assert_non_null(m);
	assert_int_equal(m->latency_case, FLOWSCOPE__V1__DNS_RECORD__LATENCY__NOT_SET);
	assert_false(m->timeout);
	assert_string_equal(m->rcode, "NOERROR");
	flowscope__v1__dns_record__free_unpacked(m, NULL);
}

static void test_delimited_stream(void **state)
{
	static uint8_t buf[64 * 1024];
	const uint8_t *msg;
	struct flow_record r;
	size_t off = 0, len = 0, mlen;
	uint32_t i;
	int ret;

	(void)state;
	for (i = 0; i < 100; i++) {
		ssize_t n;

		make_flow(&r, i);
		n = record_proto_encode_flow(buf + len, sizeof(buf) - len, &ctx, &r, true);
		assert_true(n > 0);
		len += n;
	}
	for (i = 0; (ret = record_proto_next_delimited(buf, len, &off, &msg, &mlen)) == 1; i++) {
		Flowscope__V1__FlowRecord *m = flowscope__v1__flow_record__unpack(NULL, mlen, msg);

		assert_non_null(m);
		assert_int_equal(m->pid, i);
		flowscope__v1__flow_record__free_unpacked(m, NULL);
	}
	assert_int_equal(ret, 0);
	assert_int_equal(i, 100);
	/* A cut stream is reported, not read past. */
	off = 0;
	while (record_proto_next_delimited(buf, len - 3, &off, &msg, &mlen) == 1)
		;
	assert_int_equal(record_proto_next_delimited(buf, len - 3, &off, &msg, &mlen), -EBADMSG);
}

/* protoc --decode TYPE with the published schema; its text output in out. */
static void protoc_decode(const char *type, const uint8_t *buf, ssize_t n, char *out, size_t cap)
{
	char path[] = "/tmp/fs-kafka-protoXXXXXX", cmd[1024];
	size_t got;
	FILE *p;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), n);
	close(fd);
	snprintf(cmd, sizeof(cmd), "protoc --decode %s -I %s flowscope/v1/records.proto < %s", type,
		 FS_PROTO_DIR, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	got = fread(out, 1, cap - 1, p);
	out[got] = 0;
	assert_int_equal(pclose(p), 0);
	unlink(path);
}

/* The published schema, read by protoc itself, decodes what we encode. */
static void test_protoc_decode(void **state)
{
	struct flow_record r;
	struct dns_record d;
	uint8_t buf[1024];
	char out[8192];
	ssize_t n;

	(void)state;
	make_flow(&r, 4);
	n = record_proto_encode_flow(buf, sizeof(buf), &ctx, &r, false);
	assert_true(n > 0);
	protoc_decode("flowscope.v1.FlowRecord", buf, n, out, sizeof(out));
	assert_non_null(strstr(out, "schema_version: 1\n"));
	assert_non_null(strstr(out, "node: \"node-a\"\n"));
	assert_non_null(strstr(out, "pid: 4\n"));
	assert_non_null(strstr(out, "src_addr: \"192.0.2.10\"\n"));
	assert_non_null(strstr(out, "dst_addr: \"198.51.100.20\"\n"));
	/* 198.51.100.20 as ::ffff:198.51.100.20, protoc's octal escapes */
	assert_non_null(strstr(out, "dst_addr_bytes: \"\\000\\000\\000\\000\\000\\000\\000\\000"
				    "\\000\\000\\377\\377\\3063d\\024\"\n"));
	assert_non_null(strstr(out, "tcp_flags: \"SYN\"\ntcp_flags: \"ACK\"\n"));
	assert_non_null(strstr(out, "tx_bytes: 4001\n"));

	/* latency_ns has presence: protoc prints a present 0, and nothing when it is null */
	make_dns(&d, 5);
	d.latency_ns = 0;
	n = record_proto_encode_dns(buf, sizeof(buf), &ctx, &d, false);
	assert_true(n > 0);
	protoc_decode("flowscope.v1.DnsRecord", buf, n, out, sizeof(out));
	assert_non_null(strstr(out, "qname: \"www.example\"\n"));
	assert_non_null(strstr(out, "latency_ns: 0\n"));
	d.latency_known = false;
	n = record_proto_encode_dns(buf, sizeof(buf), &ctx, &d, false);
	assert_true(n > 0);
	protoc_decode("flowscope.v1.DnsRecord", buf, n, out, sizeof(out));
	assert_non_null(strstr(out, "qname: \"www.example\"\n"));
	assert_null(strstr(out, "latency_ns"));
}

/* "name":"s" as JSON writes s, which is valid UTF-8: U+FFFD as its escape \ufffd. */
static void json_text(char *out, size_t cap, const char *name, const char *s)
{
	size_t o = (size_t)snprintf(out, cap, "\"%s\":\"", name);

	for (; *s && o + 8 < cap; s++) {
		if (!strncmp(s, "\xef\xbf\xbd", 3)) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
			s += 2;
		} else {
			out[o++] = *s;
		}
	}
	out[o++] = '"';
	out[o] = 0;
}

/*
 * Raw bytes in string fields (comm cut by the kernel inside a character, a cgroup named with
 * 0xff, a stray continuation byte, an overlong form, a 4-byte sequence cut short) come out as
 * valid UTF-8 with U+FFFD per bad byte, the same string as JSON; valid UTF-8 is kept.
 */
static void test_invalid_utf8_replaced_as_in_json(void **state)
{
	static const struct {
		const char *raw, *want;
	} cases[] = {
		{ "datenbank-gr\xc3", "datenbank-gr\xef\xbf\xbd" },
		{ "/fs-\xff-cg", "/fs-\xef\xbf\xbd-cg" },
		{ "a\x80-", "a\xef\xbf\xbd-" },
		{ "\xc0\xafx", "\xef\xbf\xbd\xef\xbf\xbdx" },
		{ "\xf0\x9f\x98", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
	};
	struct record_json_ctx jctx = { .node_name = "node-\xfe" };
	struct record_proto_ctx pctx = { .node_name = "node-\xfe" };
	Flowscope__V1__FlowRecord *m;
	Flowscope__V1__DnsRecord *d;
	struct flow_record r;
	struct dns_record q;
	char json[2048], want_json[256];
	uint8_t buf[2048];
	ssize_t n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_flow(&r, 1);
		memset(r.comm, 0, sizeof(r.comm));
		strncpy(r.comm, cases[i].raw, sizeof(r.comm) - 1);
		r.cgroup_path = cases[i].raw;
		r.dst_domain = cases[i].raw;
		n = record_proto_encode_flow(buf, sizeof(buf), &pctx, &r, false);
		assert_true(n > 0);
		m = flowscope__v1__flow_record__unpack(NULL, n, buf);
		assert_non_null(m);
		assert_string_equal(m->comm, cases[i].want);
		assert_string_equal(m->cgroup_path, cases[i].want);
		assert_string_equal(m->dst_domain, cases[i].want);
		assert_string_equal(m->node, "node-\xef\xbf\xbd");
		flowscope__v1__flow_record__free_unpacked(m, NULL);

		/* JSON writes the same characters (U+FFFD as the escape \ufffd) */
		assert_true(record_json_flow(json, sizeof(json), &jctx, &r) > 0);
		json_text(want_json, sizeof(want_json), "comm", cases[i].want);
		assert_non_null(strstr(json, want_json));
		json_text(want_json, sizeof(want_json), "cgroup_path", cases[i].want);
		assert_non_null(strstr(json, want_json));
		assert_non_null(strstr(json, "\"node\":\"node-\\ufffd\""));

		make_dns(&q, 1);
		q.qname = cases[i].raw;
		q.cgroup_path = cases[i].raw;
		n = record_proto_encode_dns(buf, sizeof(buf), &pctx, &q, false);
		assert_true(n > 0);
		d = flowscope__v1__dns_record__unpack(NULL, n, buf);
		assert_non_null(d);
		assert_string_equal(d->qname, cases[i].want);
		assert_string_equal(d->cgroup_path, cases[i].want);
		flowscope__v1__dns_record__free_unpacked(d, NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint),
		cmocka_unit_test(test_flow_roundtrip),
		cmocka_unit_test(test_flow_nulls_ipv4),
		cmocka_unit_test(test_dns_roundtrip),
		cmocka_unit_test(test_dns_latency_presence),
		cmocka_unit_test(test_delimited_stream),
		cmocka_unit_test(test_protoc_decode),
		cmocka_unit_test(test_invalid_utf8_replaced_as_in_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
