// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of agent/record_json.c: exact encodings of a flow and a DNS record, string escaping
 * (RFC 8259 §7), invalid UTF-8 turned into U+FFFD, IPv6 text form (RFC 5952), -ENOSPC.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "record_json.h"

static const struct record_json_ctx ctx = { .node_name = "node-a" };

static struct record_addr addr(const char *text)
{
	struct record_addr a = {};

	assert_int_equal(inet_pton(strchr(text, ':') ? AF_INET6 : AF_INET, text, a.bytes), 1);
	return a;
}

static struct flow_record flow4(void)
{
	struct flow_record r = {
		.start_ns = 1700000000000000000ull,
		.end_ns = 1700000001000000001ull,
		.cgroup_id = 1234,
		.cgroup_path = "/kubepods/pod1",
		.pid = 4242,
		.comm = "curl",
		.ip_version = 4,
		.proto = IPPROTO_TCP,
		.initiator = INITIATOR_SRC,
		.tcp_flags = 0x01 | 0x02 | 0x10, /* FIN SYN ACK */
		.src_addr = addr("192.0.2.1"),
		.dst_addr = addr("198.51.100.7"),
		.src_port = 40000,
		.dst_port = 443,
		.tx_bytes = 1000,
		.tx_packets = 10,
		.rx_bytes = 18446744073709551615ull,
		.rx_packets = 0,
	};

	r.src_actual_addr = r.src_addr;
	r.src_actual_port = r.src_port;
	r.dst_actual_addr = r.dst_addr;
	r.dst_actual_port = r.dst_port;
	return r;
}

static void assert_json_flow(const struct flow_record *r, const char *want)
{
	char buf[4096];
	ssize_t n = record_json_flow(buf, sizeof(buf), &ctx, r);

	assert_int_equal(n, (ssize_t)strlen(want));
	assert_string_equal(buf, want);
}

static void test_flow_ipv4(void **state)
{
	struct flow_record r = flow4();

	(void)state;
	assert_json_flow(&r, "{\"type\":\"flow\",\"schema_version\":1,\"node\":\"node-a\","
			     "\"start_ns\":1700000000000000000,\"end_ns\":1700000001000000001,"
			     "\"cgroup_id\":1234,\"cgroup_path\":\"/kubepods/pod1\",\"pid\":4242,"
			     "\"comm\":\"curl\",\"ip_version\":4,\"proto\":\"tcp\",\"src_addr\":"
			     "\"192.0.2.1\","
			     "\"src_port\":40000,\"dst_addr\":\"198.51.100.7\",\"dst_port\":443,"
			     "\"initiator\":\"src\",\"tx_bytes\":1000,\"tx_packets\":10,"
			     "\"rx_bytes\":18446744073709551615,\"rx_packets\":0,"
			     "\"tcp_flags\":[\"FIN\",\"SYN\",\"ACK\"],\"nat\":false,"
			     "\"src_actual_addr\":\"192.0.2.1\",\"src_actual_port\":40000,"
			     "\"dst_actual_addr\":\"198.51.100.7\",\"dst_actual_port\":443,"
			     "\"dst_domain\":null}");
}

/* IPv6 in RFC 5952 form, a gone cgroup (null path), unknown owner, NAT and a domain. */
static void test_flow_ipv6_nat(void **state)
{
	struct flow_record r = flow4();

	(void)state;
	r.ip_version = 6;
	r.proto = IPPROTO_UDP;
	r.cgroup_path = NULL;
	r.pid = 0;
	memset(r.comm, 0, sizeof(r.comm));
	r.initiator = INITIATOR_DST;
	r.tcp_flags = 0;
	r.src_addr = addr("2001:db8::1");
	r.dst_addr = addr("2001:db8:0:0:1:0:0:1");
	r.src_actual_addr = r.src_addr;
	r.dst_actual_addr = addr("::ffff:192.0.2.9");
	r.dst_actual_port = 8443;
	r.nat = true;
	r.dst_domain = "api.example";
	r.rx_bytes = 5;
	assert_json_flow(&r, "{\"type\":\"flow\",\"schema_version\":1,\"node\":\"node-a\","
			     "\"start_ns\":1700000000000000000,\"end_ns\":1700000001000000001,"
			     "\"cgroup_id\":1234,\"cgroup_path\":null,\"pid\":0,\"comm\":\"\","
			     "\"ip_version\":6,\"proto\":\"udp\",\"src_addr\":\"2001:db8::1\","
			     "\"src_port\":40000,\"dst_addr\":\"2001:db8::1:0:0:1\",\"dst_port\":"
			     "443,"
			     "\"initiator\":\"dst\",\"tx_bytes\":1000,\"tx_packets\":10,"
			     "\"rx_bytes\":5,\"rx_packets\":0,\"tcp_flags\":[],\"nat\":true,"
			     "\"src_actual_addr\":\"2001:db8::1\",\"src_actual_port\":40000,"
			     "\"dst_actual_addr\":\"::ffff:192.0.2.9\",\"dst_actual_port\":8443,"
			     "\"dst_domain\":\"api.example\"}");
}

/* Every protocol name, a number for others; every TCP flag name in bit order. */
static void test_flow_names(void **state)
{
	struct flow_record r = flow4();
	char buf[4096];

	(void)state;
	assert_string_equal(record_proto_name(IPPROTO_TCP), "tcp");
	assert_string_equal(record_proto_name(IPPROTO_UDP), "udp");
	assert_string_equal(record_proto_name(IPPROTO_ICMP), "icmp");
	assert_string_equal(record_proto_name(IPPROTO_ICMPV6), "icmpv6");
	assert_null(record_proto_name(132));

	r.proto = 132;
	r.tcp_flags = 0xff;
	r.initiator = INITIATOR_UNKNOWN;
	assert_true(record_json_flow(buf, sizeof(buf), &ctx, &r) > 0);
	assert_non_null(strstr(buf, ",\"proto\":132,"));
	assert_non_null(strstr(buf, ",\"initiator\":\"unknown\","));
	assert_non_null(strstr(buf, "\"tcp_flags\":[\"FIN\",\"SYN\",\"RST\",\"PSH\",\"ACK\","
				    "\"URG\",\"ECE\",\"CWR\"]"));
}

/* comm is raw bytes from the kernel: control characters, quotes, backslashes, broken UTF-8. */
static void test_string_escaping(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain", "\"plain\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "\t\n\r\x01\x1f", "\"\\u0009\\u000a\\u000d\\u0001\\u001f\"" },
		{ "\x7f", "\"\x7f\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" }, /* valid 2-byte UTF-8 kept */
		{ "\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xe2\x82\xac\xf0\x9f\x98\x80\"" },
		{ "\xff", "\"\\ufffd\"" },
		{ "a\xc3", "\"a\\ufffd\"" }, /* cut sequence */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" }, /* overlong '/' */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" }, /* surrogate */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* past U+10FFFF */
		{ "x\x80y", "\"x\\ufffdy\"" }, /* lone continuation byte */
	};
	struct flow_record r = flow4();
	char buf[4096], want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.cgroup_path = cases[i].in;
		assert_true(record_json_flow(buf, sizeof(buf), &ctx, &r) > 0);
		snprintf(want, sizeof(want), ",\"cgroup_path\":%s,\"pid\":", cases[i].want);
		if (!strstr(buf, want))
			fail_msg("case %zu: want %s in %s", i, want, buf);
	}

	/* comm is not NUL-terminated when it fills its 16 bytes */
	memcpy(r.comm, "0123456789abcde\"", 16);
	assert_true(record_json_flow(buf, sizeof(buf), &ctx, &r) > 0);
	assert_non_null(strstr(buf, ",\"comm\":\"0123456789abcde\\\"\","));
}

static void test_dns(void **state)
{
	static const struct dns_answer_view answers[] = {
		{ .name = "www.example", .type = 5, .ttl = 300, .data = "web.example" },
		{ .name = "web.example", .type = 1, .ttl = 60, .data = "192.0.2.80" },
	};
	struct dns_record r = {
		.ts_ns = 1700000000123456789ull,
		.cgroup_id = 77,
		.cgroup_path = "/system.slice/app",
		.pid = 1,
		.comm = "resolver",
		.ip_version = 6,
		.proto = IPPROTO_UDP,
		.src_addr = addr("2001:db8::53:1"),
		.src_port = 51000,
		.dst_addr = addr("2001:db8::53"),
		.dst_port = 53,
		.id = 0xbeef,
		.qname = "www.example",
		.qtype = 1,
		.rcode = 0,
		.answers = answers,
		.n_answers = 2,
		.latency_ns = 1500000,
		.latency_known = true,
	};
	const char *want = "{\"type\":\"dns\",\"schema_version\":1,\"node\":\"node-a\","
			   "\"ts_ns\":1700000000123456789,\"cgroup_id\":77,"
			   "\"cgroup_path\":\"/system.slice/app\",\"pid\":1,\"comm\":\"resolver\","
			   "\"ip_version\":6,\"proto\":\"udp\",\"src_addr\":\"2001:db8::53:1\","
			   "\"src_port\":51000,\"dst_addr\":\"2001:db8::53\",\"dst_port\":53,"
			   "\"id\":48879,"
			   "\"qname\":\"www.example\",\"qtype\":\"A\",\"rcode\":\"NOERROR\","
			   "\"answers\":["
			   "{\"name\":\"www.example\",\"type\":\"CNAME\",\"ttl\":300,\"data\":"
			   "\"web.example\"},"
			   "{\"name\":\"web.example\",\"type\":\"A\",\"ttl\":60,\"data\":\"192.0.2."
			   "80\"}],"
			   "\"latency_ns\":1500000,\"truncated\":false}";
	char buf[4096];
	ssize_t n;

	(void)state;
	n = record_json_dns(buf, sizeof(buf), &ctx, &r);
	assert_string_equal(buf, want);
	assert_int_equal(n, (ssize_t)strlen(want));

	/* a timeout: rcode TIMEOUT, latency null, no answers */
	r.timeout = true;
	r.latency_known = false;
	r.rcode = DNS_RCODE_TIMEOUT;
	r.n_answers = 0;
	r.truncated = true;
	r.qtype = 28;
	assert_true(record_json_dns(buf, sizeof(buf), &ctx, &r) > 0);
	assert_non_null(strstr(buf, "\"qtype\":\"AAAA\",\"rcode\":\"TIMEOUT\",\"answers\":[],"
				    "\"latency_ns\":null,\"truncated\":true}"));
	/* an NXDOMAIN for an unknown type */
	r.timeout = false;
	r.rcode = 3;
	r.qtype = 65280;
	assert_true(record_json_dns(buf, sizeof(buf), &ctx, &r) > 0);
	assert_non_null(strstr(buf, "\"qtype\":\"TYPE65280\",\"rcode\":\"NXDOMAIN\""));
}

/* Every capacity short of the full length fails with -ENOSPC; the exact length fits. */
static void test_enospc(void **state)
{
	struct flow_record r = flow4();
	char full[4096], buf[4096];
	ssize_t len = record_json_flow(full, sizeof(full), &ctx, &r);

	(void)state;
	assert_true(len > 0);
	for (size_t cap = 0; cap < (size_t)len; cap++)
		assert_int_equal(record_json_flow(buf, cap, &ctx, &r), -ENOSPC);
	/* exactly the length: fits, with no room for the NUL */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(record_json_flow(buf, (size_t)len, &ctx, &r), len);
	assert_memory_equal(buf, full, (size_t)len);
	assert_int_equal(buf[len], 'x');
	assert_int_equal(record_json_flow(buf, (size_t)len + 1, &ctx, &r), len);
	assert_int_equal(buf[len], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_ipv4),  cmocka_unit_test(test_flow_ipv6_nat),
		cmocka_unit_test(test_flow_names), cmocka_unit_test(test_string_escaping),
		cmocka_unit_test(test_dns),	   cmocka_unit_test(test_enospc),
	};

	return cmocka_run_group_tests_name("record_json", tests, NULL, NULL);
}
