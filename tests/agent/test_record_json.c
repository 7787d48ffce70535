// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of agent/record_json.c: exact encodings of a flow and a DNS record, string escaping
 * (RFC 8259 §7), invalid UTF-8 turned into U+FFFD, IPv6 text form (RFC 5952), -ENOSPC; and a
 * differential test: the encoder against the reference encoder it replaced (record_json_ref.c,
 * inet_ntop and a bounds check per write) on many randomized records with hostile strings, byte
 * for byte, at every kind of buffer capacity, with a guard zone past the capacity.
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
#include "record_json_ref.h"

static const struct record_json_ctx ctx = { .node_name = "node-a" };

static struct record_addr addr(const char *text)
{
	struct record_addr a = {};

	assert_int_equal(inet_pton(strchr(text, ':') ? AF_INET6 : AF_INET, text, a.bytes), 1);
	return a;
}

static const struct record_workload workload1 = {
	.container_id = "3f2a000000000000000000000000000000000000000000000000000000000001",
	.container_runtime = "containerd",
	.container_name = "api",
	.pod_uid = "74c13223-5a00-11e9-b385-42010a80018d",
	.pod_namespace = "shop",
	.pod_name = "checkout-7d9f\n\"x\"", /* bytes from disk: escaped, never cut */
};

static struct flow_record flow4(void)
{
	struct flow_record r = {
		.start_ns = 1700000000000000000ull,
		.end_ns = 1700000001000000001ull,
		.cgroup_id = 1234,
		.cgroup_path = "/kubepods/pod1",
		.cgroup_version = 2,
		.workload = &workload1,
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
			     "\"cgroup_id\":1234,\"cgroup_path\":\"/kubepods/"
			     "pod1\",\"cgroup_version\":2,"
			     "\"pid\":4242,\"comm\":\"curl\","
			     "\"container_id\":"
			     "\"3f2a000000000000000000000000000000000000000000000000"
			     "000000000001\",\"container_runtime\":\"containerd\","
			     "\"container_name\":\"api\",\"pod_uid\":"
			     "\"74c13223-5a00-11e9-b385-42010a80018d\",\"pod_namespace\":\"shop\","
			     "\"pod_name\":\"checkout-7d9f\\u000a\\\"x\\\"\",\"ip_version\":4,"
			     "\"proto\":\"tcp\",\"src_addr\":"
			     "\"192.0.2.1\","
			     "\"src_port\":40000,\"dst_addr\":\"198.51.100.7\",\"dst_port\":443,"
			     "\"initiator\":\"src\",\"tx_bytes\":1000,\"tx_packets\":10,"
			     "\"rx_bytes\":18446744073709551615,\"rx_packets\":0,"
			     "\"tcp_flags\":[\"FIN\",\"SYN\",\"ACK\"],\"nat\":false,"
			     "\"src_actual_addr\":\"192.0.2.1\",\"src_actual_port\":40000,"
			     "\"dst_actual_addr\":\"198.51.100.7\",\"dst_actual_port\":443,"
			     "\"dst_domain\":null,\"dst_pod_namespace\":null,\"dst_pod_name\":"
			     "null}");
}

/* IPv6 in RFC 5952 form, a gone cgroup (null path), unknown owner, NAT and a domain. */
static void test_flow_ipv6_nat(void **state)
{
	struct flow_record r = flow4();

	(void)state;
	r.ip_version = 6;
	r.proto = IPPROTO_UDP;
	r.cgroup_path = NULL;
	r.cgroup_version = 1;
	r.workload = NULL;
	r.dst_pod_namespace = "db";
	r.dst_pod_name = "postgres-0";
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
			     "\"cgroup_id\":1234,\"cgroup_path\":null,\"cgroup_version\":1,\"pid\":"
			     "0,"
			     "\"comm\":\"\","
			     "\"container_id\":null,\"container_runtime\":null,\"container_name\":"
			     "null,"
			     "\"pod_uid\":null,\"pod_namespace\":null,\"pod_name\":null,"
			     "\"ip_version\":6,\"proto\":\"udp\",\"src_addr\":\"2001:db8::1\","
			     "\"src_port\":40000,\"dst_addr\":\"2001:db8::1:0:0:1\",\"dst_port\":"
			     "443,"
			     "\"initiator\":\"dst\",\"tx_bytes\":1000,\"tx_packets\":10,"
			     "\"rx_bytes\":5,\"rx_packets\":0,\"tcp_flags\":[],\"nat\":true,"
			     "\"src_actual_addr\":\"2001:db8::1\",\"src_actual_port\":40000,"
			     "\"dst_actual_addr\":\"::ffff:192.0.2.9\",\"dst_actual_port\":8443,"
			     "\"dst_domain\":\"api.example\",\"dst_pod_namespace\":\"db\","
			     "\"dst_pod_name\":\"postgres-0\"}");
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
		snprintf(want, sizeof(want),
			 ",\"cgroup_path\":%s,\"cgroup_version\":2,\"pid\":", cases[i].want);
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
		.cgroup_version = 2,
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
			   "\"cgroup_path\":\"/system.slice/app\",\"cgroup_version\":2,\"pid\":1,"
			   "\"comm\":\"resolver\","
			   "\"container_id\":null,\"container_runtime\":null,\"container_name\":"
			   "null,"
			   "\"pod_uid\":null,\"pod_namespace\":null,\"pod_name\":null,"
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

/* xorshift64*: deterministic, so a failure names its seed and iteration. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* Numbers of every decimal length, and the edges. */
static uint64_t rnd_u64(void)
{
	switch (rnd_below(8)) {
	case 0:
		return 0;
	case 1:
		return UINT64_MAX - rnd_below(3);
	case 2: {
		static const uint64_t p10[] = { 1ull,
						10ull,
						100ull,
						10000ull,
						100000000ull,
						10000000000000000ull,
						10000000000000000000ull };

		return p10[rnd_below(7)] - rnd_below(2);
	}
	}
	return rnd() >> rnd_below(64);
}

/* Zero-heavy IPv6 groups (every "::" placement), IPv4-mapped and -compatible forms. */
static void rnd_addr(struct record_addr *a)
{
	unsigned int zeros = rnd_below(256);

	for (int i = 0; i < 16; i++)
		a->bytes[i] = (uint8_t)rnd();
	for (int g = 0; g < 8; g++) {
		if (zeros & (1u << g))
			a->bytes[2 * g] = a->bytes[2 * g + 1] = 0;
		else if (rnd_below(4) == 0)
			a->bytes[2 * g + rnd_below(2)] = 0; /* leading zeros in the group */
	}
	switch (rnd_below(8)) {
	case 0: /* ::ffff:a.b.c.d */
		memset(a->bytes, 0, 10);
		a->bytes[10] = a->bytes[11] = 0xff;
		break;
	case 1: /* ::a.b.c.d, ::x:0, ::1 */
		memset(a->bytes, 0, 12);
		break;
	}
}

/* Hostile bytes: quotes, backslashes, controls, DEL, valid and broken UTF-8. */
static size_t rnd_bytes(char *out, size_t max)
{
	static const char *const pieces[] = {
		"\"",
		"\\",
		"\x01",
		"\x1f",
		"\t",
		"\x7f",
		"\xc3\xa9",
		"\xe2\x82\xac",
		"\xf0\x9f\x98\x80",
		"\xc3",
		"\xe2\x82",
		"\xf0\x9f\x98",
		"\xc0\xaf",
		"\xed\xa0\x80",
		"\xf4\x90\x80\x80",
		"\x80",
		"\xff",
		"\xf8\x88\x80\x80",
		"/kubepods.slice/",
		"a",
	};
	size_t n = 0, len;

	switch (rnd_below(4)) {
	case 0:
		len = rnd_below(10);
		break;
	case 1:
		len = rnd_below(200);
		break;
	case 2:
		len = rnd_below(64);
		break;
	default:
		len = rnd_below((uint32_t)max);
	}
	while (n < len && n + 16 < max) {
		if (rnd_below(3)) {
			/* runs of plain ASCII, the common case */
			out[n++] = (char)(0x20 + rnd_below(0x5f));
		} else if (rnd_below(4)) {
			const char *p = pieces[rnd_below(sizeof(pieces) / sizeof(pieces[0]))];

			memcpy(out + n, p, strlen(p));
			n += strlen(p);
		} else {
			out[n] = (char)(1 + rnd_below(255));
			n++;
		}
	}
	out[n] = '\0';
	return n;
}

#define RND_STR_MAX 6000

static const char *rnd_str_or_null(char *buf)
{
	if (rnd_below(8) == 0)
		return NULL;
	rnd_bytes(buf, RND_STR_MAX);
	return buf;
}

static char s_node[RND_STR_MAX], s_path[RND_STR_MAX], s_domain[RND_STR_MAX];
static char s_wl[8][RND_STR_MAX];
static struct record_workload s_workload;

/* NULL, or a workload whose every field is random bytes or NULL; the dst_pod_* fields too. */
static const struct record_workload *rnd_workload(const char **dst_ns, const char **dst_pod)
{
	*dst_ns = rnd_below(2) ? rnd_str_or_null(s_wl[6]) : NULL;
	*dst_pod = rnd_below(2) ? rnd_str_or_null(s_wl[7]) : NULL;
	if (rnd_below(4) == 0)
		return NULL;
	s_workload.container_id = rnd_str_or_null(s_wl[0]);
	s_workload.container_runtime = rnd_str_or_null(s_wl[1]);
	s_workload.container_name = rnd_str_or_null(s_wl[2]);
	s_workload.pod_uid = rnd_str_or_null(s_wl[3]);
	s_workload.pod_namespace = rnd_str_or_null(s_wl[4]);
	s_workload.pod_name = rnd_str_or_null(s_wl[5]);
	return &s_workload;
}

static void rnd_flow(struct flow_record *r, struct record_json_ctx *c)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 };
	char comm[RND_STR_MAX];

	memset(r, 0, sizeof(*r));
	rnd_bytes(s_node, 100);
	c->node_name = s_node;
	r->start_ns = rnd_u64();
	r->end_ns = rnd_u64();
	r->cgroup_id = rnd_u64();
	r->cgroup_path = rnd_str_or_null(s_path);
	r->cgroup_version = (uint8_t)rnd_u64();
	r->pid = (uint32_t)rnd_u64();
	rnd_bytes(comm, 40);
	memcpy(r->comm, comm, sizeof(r->comm)); /* 16 bytes, NUL or not */
	r->ip_version = rnd_below(8) ? (rnd_below(2) ? 4 : 6) : (uint8_t)rnd();
	r->proto = rnd_below(4) ? protos[rnd_below(4)] : (uint8_t)rnd();
	r->initiator = (uint8_t)rnd_below(5);
	r->tcp_flags = (uint8_t)rnd();
	rnd_addr(&r->src_addr);
	rnd_addr(&r->dst_addr);
	rnd_addr(&r->src_actual_addr);
	rnd_addr(&r->dst_actual_addr);
	r->src_port = (uint16_t)rnd_u64();
	r->dst_port = (uint16_t)rnd_u64();
	r->src_actual_port = (uint16_t)rnd_u64();
	r->dst_actual_port = (uint16_t)rnd_u64();
	r->tx_bytes = rnd_u64();
	r->tx_packets = rnd_u64();
	r->rx_bytes = rnd_u64();
	r->rx_packets = rnd_u64();
	r->nat = rnd_below(2);
	r->dst_domain = rnd_str_or_null(s_domain);
	r->workload = rnd_workload(&r->dst_pod_namespace, &r->dst_pod_name);
}

#define GUARD 64
#define BIG (1024 * 1024)

/*
 * Encode with the encoder under test at capacity cap into a buffer with a guard zone after cap,
 * and compare with the reference's full encoding (want, want_len).
 */
typedef ssize_t (*encode_fn)(char *buf, size_t cap, const void *r);

static void check_cap(encode_fn fn, const void *r, size_t cap, const char *want, ssize_t want_len,
		      uint64_t seed, int iter)
{
	static char buf[BIG + GUARD];
	ssize_t n;

	memset(buf + cap, 0xa5, GUARD);
	n = fn(buf, cap, r);
	for (size_t i = cap; i < cap + GUARD; i++)
		if ((unsigned char)buf[i] != 0xa5)
			fail_msg("seed %llu iter %d cap %zu: wrote past the capacity at %zu",
				 (unsigned long long)seed, iter, cap, i);
	if ((size_t)want_len > cap) {
		if (n != -ENOSPC)
			fail_msg("seed %llu iter %d cap %zu < %zd: got %zd, want -ENOSPC",
				 (unsigned long long)seed, iter, cap, want_len, n);
		return;
	}
	if (n != want_len || memcmp(buf, want, (size_t)n) != 0)
		fail_msg("seed %llu iter %d cap %zu: got %zd bytes\n%.*s\nwant %zd\n%s",
			 (unsigned long long)seed, iter, cap, n, (int)(n > 0 ? n : 0), buf,
			 want_len, want);
	if ((size_t)n < cap && buf[n] != '\0')
		fail_msg("seed %llu iter %d cap %zu: no NUL after %zd bytes",
			 (unsigned long long)seed, iter, cap, n);
}

/* The capacities worth trying for a record of len bytes: around len, and anywhere below. */
static void check_caps(encode_fn fn, const void *r, const char *want, ssize_t len, uint64_t seed,
		       int iter)
{
	size_t caps[] = { (size_t)len + 1,
			  (size_t)len,
			  (size_t)len - 1,
			  (size_t)len + 1 + rnd_below(800),
			  rnd_below((uint32_t)len + 1),
			  BIG };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (caps[i] <= BIG)
			check_cap(fn, r, caps[i], want, len, seed, i == 5 ? -iter : iter);
}

static struct record_json_ctx rnd_ctx;

static ssize_t flow_fn(char *buf, size_t cap, const void *r)
{
	return record_json_flow(buf, cap, &rnd_ctx, r);
}

static ssize_t dns_fn(char *buf, size_t cap, const void *r)
{
	return record_json_dns(buf, cap, &rnd_ctx, r);
}

static void test_flow_differential(void **state)
{
	static char want[BIG];
	const uint64_t seed = 0x5eed0001;
	struct flow_record r;

	(void)state;
	rng_state = seed;
	for (int iter = 0; iter < 20000; iter++) {
		ssize_t len;

		rnd_flow(&r, &rnd_ctx);
		len = ref_record_json_flow(want, sizeof(want), &rnd_ctx, &r);
		assert_true(len > 0);
		check_caps(flow_fn, &r, want, len, seed, iter);
	}
}

static void test_dns_differential(void **state)
{
	static const uint16_t types[] = { 1, 2, 5, 6, 12, 15, 16, 28, 33, 64, 65, 255, 65280 };
	static char want[BIG], names[4][RND_STR_MAX], datas[4][RND_STR_MAX];
	const uint64_t seed = 0x5eed0002;
	struct dns_answer_view answers[4];
	struct flow_record f;
	struct dns_record r;

	(void)state;
	rng_state = seed;
	for (int iter = 0; iter < 10000; iter++) {
		ssize_t len;

		rnd_flow(&f, &rnd_ctx); /* for the fields the two records share */
		memset(&r, 0, sizeof(r));
		r.ts_ns = f.start_ns;
		r.cgroup_id = f.cgroup_id;
		r.cgroup_path = f.cgroup_path;
		r.cgroup_version = f.cgroup_version;
		r.workload = f.workload;
		r.pid = f.pid;
		memcpy(r.comm, f.comm, sizeof(r.comm));
		r.ip_version = f.ip_version;
		r.proto = f.proto;
		r.src_addr = f.src_addr;
		r.src_port = f.src_port;
		r.dst_addr = f.dst_addr;
		r.dst_port = f.dst_port;
		r.id = (uint16_t)rnd();
		r.qname = rnd_str_or_null(s_domain);
		r.qtype = rnd_below(4) ? types[rnd_below(13)] : (uint16_t)rnd();
		r.timeout = rnd_below(4) == 0;
		r.rcode = r.timeout ? DNS_RCODE_TIMEOUT : (uint16_t)rnd_below(30);
		r.n_answers = rnd_below(5);
		for (size_t i = 0; i < r.n_answers; i++) {
			answers[i].name = rnd_str_or_null(names[i]);
			answers[i].type = rnd_below(4) ? types[rnd_below(13)] : (uint16_t)rnd();
			answers[i].ttl = (uint32_t)rnd_u64();
			answers[i].data = rnd_str_or_null(datas[i]);
		}
		r.answers = answers;
		r.latency_ns = f.tx_bytes;
		r.latency_known = rnd_below(2);
		r.truncated = rnd_below(2);
		len = ref_record_json_dns(want, sizeof(want), &rnd_ctx, &r);
		assert_true(len > 0);
		check_caps(dns_fn, &r, want, len, seed, iter);
	}
}

/*
 * The longest fixed parts (every number at its maximum, the longest IPv6 text, every TCP flag,
 * icmpv6, "unknown") with strings of every escape kind, at every capacity from 0 up: the bounds
 * reserved for each piece must never let a write pass the capacity.
 */
static void test_flow_worst_case_every_cap(void **state)
{
	static char want[BIG];
	struct flow_record r;
	ssize_t len;

	(void)state;
	memset(&r, 0, sizeof(r));
	rnd_ctx.node_name = "n\"\x01\xff\xe2\x82\xac";
	r.start_ns = r.end_ns = r.cgroup_id = UINT64_MAX;
	r.tx_bytes = r.tx_packets = r.rx_bytes = r.rx_packets = UINT64_MAX;
	r.pid = UINT32_MAX;
	r.cgroup_version = UINT8_MAX; /* the widest the writer reserves */
	memcpy(r.comm, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16);
	r.cgroup_path = "\\\"\x80\x1f/kubepods.slice/x\xc3";
	r.dst_domain = "\xf0\x9f\x98\x80.example\x7f";
	r.ip_version = 6;
	r.proto = IPPROTO_ICMPV6;
	r.initiator = 7;
	r.tcp_flags = 0xff;
	r.nat = false;
	memset(r.src_addr.bytes, 0xff, 16);
	r.dst_addr = r.src_actual_addr = r.dst_actual_addr = r.src_addr;
	r.src_port = r.dst_port = r.src_actual_port = r.dst_actual_port = UINT16_MAX;
	len = ref_record_json_flow(want, sizeof(want), &rnd_ctx, &r);
	assert_true(len > 0);
	for (size_t cap = 0; cap <= (size_t)len + 8; cap++)
		check_cap(flow_fn, &r, cap, want, len, 0, (int)cap);
}

/* Every placement of zero groups against glibc's inet_ntop(), the form records always had. */
static void test_ipv6_text(void **state)
{
	struct flow_record r = flow4();
	char buf[4096], want[INET6_ADDRSTRLEN + 32];

	(void)state;
	rng_state = 0x5eed0003;
	r.ip_version = 6;
	for (unsigned int zeros = 0; zeros < 256 * 16; zeros++) {
		for (int g = 0; g < 8; g++) {
			unsigned int w = zeros & (1u << g) ? 0 : (unsigned int)rnd() & 0xffff;

			if (zeros >= 256 * 8 && !(zeros & (1u << g)))
				w = g == 5 ? 0xffff : w >> rnd_below(16);
			r.src_addr.bytes[2 * g] = (uint8_t)(w >> 8);
			r.src_addr.bytes[2 * g + 1] = (uint8_t)w;
		}
		assert_true(record_json_flow(buf, sizeof(buf), &ctx, &r) > 0);
		strcpy(want, ",\"src_addr\":\"");
		assert_non_null(inet_ntop(AF_INET6, r.src_addr.bytes, want + strlen(want),
					  INET6_ADDRSTRLEN));
		strcat(want, "\",");
		if (!strstr(buf, want))
			fail_msg("want %s in %s", want, buf);
	}
}

/* Strings far longer than any bound of a fixed piece, in buffers just too small and just big enough. */
static void test_long_strings(void **state)
{
	static char path[20000], want[BIG];
	struct flow_record r = flow4();
	ssize_t len;

	(void)state;
	rnd_ctx.node_name = "node-a";
	for (size_t i = 0; i + 1 < sizeof(path); i++)
		path[i] = i % 3 == 0 ? '\x01'
				     : (char)('a' + i % 26); /* a third escaped to 6 bytes */
	r.cgroup_path = path;
	len = ref_record_json_flow(want, sizeof(want), &rnd_ctx, &r);
	assert_true(len > 40000 && len < BIG);
	check_cap(flow_fn, &r, (size_t)len, want, len, 0, 0);
	check_cap(flow_fn, &r, (size_t)len - 1, want, len, 0, 1);
	check_cap(flow_fn, &r, (size_t)len / 2, want, len, 0, 2);
	check_cap(flow_fn, &r, (size_t)len + 1, want, len, 0, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flow_ipv4),
		cmocka_unit_test(test_flow_ipv6_nat),
		cmocka_unit_test(test_flow_names),
		cmocka_unit_test(test_string_escaping),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_flow_differential),
		cmocka_unit_test(test_dns_differential),
		cmocka_unit_test(test_flow_worst_case_every_cap),
		cmocka_unit_test(test_ipv6_text),
		cmocka_unit_test(test_long_strings),
	};

	return cmocka_run_group_tests_name("record_json", tests, NULL, NULL);
}
