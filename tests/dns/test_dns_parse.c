// SPDX-License-Identifier: Apache-2.0
/* Unit tests of dns_parse() and the renderers, on messages built octet by octet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "dns.h"
#include "wire_build.h"

static struct wb w;
static struct dns_msg msg;

static void parse_ok(void)
{
	enum dns_status st = dns_parse(w.b, w.n, &msg, NULL);

	if (st != DNS_OK)
		fail_msg("dns_parse: %s", dns_status_str(st));
}

static void assert_owner(size_t i, const char *want)
{
	char buf[DNS_NAME_TEXT_MAX];

	assert_int_equal(dns_rr_owner(&msg, &msg.answers[i], buf, sizeof(buf)), DNS_OK);
	assert_string_equal(buf, want);
}

static void assert_data(size_t i, const char *want)
{
	char buf[DNS_DATA_TEXT_MAX];

	assert_int_equal(dns_rr_data(&msg, &msg.answers[i], buf, sizeof(buf)), DNS_OK);
	assert_string_equal(buf, want);
}

/* q=images.example-shop.com: CNAME e1234.dsca.akamaiedge.net, A 192.0.2.10, A 192.0.2.11. */
static void build_a_cname(void)
{
	static const uint8_t a1[4] = { 192, 0, 2, 10 }, a2[4] = { 192, 0, 2, 11 };
	uint16_t q, t;
	size_t at;

	wb_header(&w, 0x1a2b, WB_QR | WB_RD | WB_RA, 1, 3, 0, 1);
	q = wb_question(&w, "images.example-shop.com", 1);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 5, 300);
	t = (uint16_t)w.n;
	wb_name(&w, "e1234.dsca.akamaiedge.net");
	wb_rdlen(&w, at);
	wb_ptr(&w, t);
	at = wb_rr_fixed(&w, 1, 20);
	wb_bytes(&w, a1, 4);
	wb_rdlen(&w, at);
	wb_ptr(&w, t);
	at = wb_rr_fixed(&w, 1, 20);
	wb_bytes(&w, a2, 4);
	wb_rdlen(&w, at);
	wb_opt(&w, 1232, 0, 0, 0);
}

static void test_header_question_a_cname(void **state)
{
	(void)state;
	build_a_cname();
	parse_ok();
	assert_int_equal(msg.id, 0x1a2b);
	assert_true(msg.qr);
	assert_int_equal(msg.opcode, 0);
	assert_false(msg.aa);
	assert_false(msg.tc);
	assert_true(msg.rd);
	assert_true(msg.ra);
	assert_int_equal(msg.rcode, 0);
	assert_true(msg.has_question);
	assert_string_equal(msg.qname, "images.example-shop.com");
	assert_int_equal(msg.qtype, 1);
	assert_int_equal(msg.qclass, 1);
	assert_int_equal(msg.n_answers, 3);
	assert_false(msg.answers_truncated);
	assert_int_equal(msg.answers[0].type, DNS_TYPE_CNAME);
	assert_int_equal(msg.answers[0].ttl, 300);
	assert_owner(0, "images.example-shop.com");
	assert_data(0, "e1234.dsca.akamaiedge.net");
	assert_int_equal(msg.answers[1].type, DNS_TYPE_A);
	assert_int_equal(msg.answers[1].rclass, 1);
	assert_int_equal(msg.answers[1].ttl, 20);
	assert_owner(1, "e1234.dsca.akamaiedge.net");
	assert_data(1, "192.0.2.10");
	assert_data(2, "192.0.2.11");
	assert_true(msg.has_edns);
	assert_int_equal(msg.edns_udp_size, 1232);
	assert_int_equal(msg.edns_version, 0);
	assert_false(msg.edns_do);
}

static void test_flags(void **state)
{
	(void)state;
	/* QR, opcode 5 (UPDATE), AA, TC, no RD, no RA, rcode 5 (REFUSED). */
	wb_header(&w, 7, WB_QR | (5 << 11) | WB_AA | WB_TC | 5, 0, 0, 0, 0);
	parse_ok();
	assert_true(msg.qr);
	assert_int_equal(msg.opcode, 5);
	assert_true(msg.aa);
	assert_true(msg.tc);
	assert_false(msg.rd);
	assert_false(msg.ra);
	assert_int_equal(msg.rcode, 5);
	assert_false(msg.has_question);
	assert_false(msg.has_edns);
	assert_string_equal(msg.qname, "");
}

static void test_aaaa(void **state)
{
	static const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	uint16_t q;
	size_t at;

	(void)state;
	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(&w, "v6.example", 28);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 28, 3600);
	wb_bytes(&w, a, 16);
	wb_rdlen(&w, at);
	parse_ok();
	assert_int_equal(msg.answers[0].type, DNS_TYPE_AAAA);
	assert_memory_equal(msg.answers[0].data.aaaa, a, 16);
	assert_data(0, "2001:db8::1");
	assert_owner(0, "v6.example");
}

static void test_ptr_and_ns(void **state)
{
	uint16_t q, t;
	size_t at;

	(void)state;
	wb_header(&w, 1, WB_QR, 1, 3, 0, 0);
	q = wb_question(&w, "10.2.0.192.in-addr.arpa", 12);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 12, 86400);
	t = (uint16_t)w.n;
	wb_name(&w, "host10.example.net");
	wb_rdlen(&w, at);
	/* NS with a compressed target: "ns1" + pointer into the PTR target. */
	wb_ptr(&w, t + 7);
	at = wb_rr_fixed(&w, 2, 172800);
	wb_labels(&w, "ns1", 0);
	wb_ptr(&w, t + 7);
	wb_rdlen(&w, at);
	/* NS whose target is only a pointer. */
	wb_ptr(&w, t + 7);
	at = wb_rr_fixed(&w, 2, 172800);
	wb_ptr(&w, t);
	wb_rdlen(&w, at);
	parse_ok();
	assert_int_equal(msg.answers[0].type, DNS_TYPE_PTR);
	assert_data(0, "host10.example.net");
	assert_int_equal(msg.answers[1].type, DNS_TYPE_NS);
	assert_owner(1, "example.net");
	assert_data(1, "ns1.example.net");
	assert_data(2, "host10.example.net");
}

static void test_mx(void **state)
{
	uint16_t q;
	size_t at;

	(void)state;
	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(&w, "example.com", 15);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 15, 3600);
	wb_u16(&w, 10);
	wb_labels(&w, "mx1", 0);
	wb_ptr(&w, q);
	wb_rdlen(&w, at);
	parse_ok();
	assert_int_equal(msg.answers[0].data.mx.preference, 10);
	assert_data(0, "10 mx1.example.com");
}

static void test_srv(void **state)
{
	uint16_t q;
	size_t at;

	(void)state;
	wb_header(&w, 1, WB_QR, 1, 2, 0, 0);
	q = wb_question(&w, "_http._tcp.web.default.svc.cluster.local", 33);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 33, 30);
	wb_u16(&w, 0);
	wb_u16(&w, 50);
	wb_u16(&w, 8080);
	wb_labels(&w, "web-0.web", 0);
	wb_ptr(&w, q + 15);
	wb_rdlen(&w, at);
	/* Uncompressed target, as RFC 2782 asks. */
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 33, 30);
	wb_u16(&w, 1);
	wb_u16(&w, 2);
	wb_u16(&w, 443);
	wb_name(&w, "srv.example");
	wb_rdlen(&w, at);
	parse_ok();
	assert_int_equal(msg.answers[0].data.srv.port, 8080);
	assert_data(0, "0 50 8080 web-0.web.default.svc.cluster.local");
	assert_data(1, "1 2 443 srv.example");
}

/* TXT, SOA, HTTPS, SVCB and unknown types: type and TTL, no data. */
static void test_undecoded_types(void **state)
{
	static const uint16_t types[] = { 16, 6, 65, 64, 99 };
	uint16_t q;
	size_t at;

	(void)state;
	wb_header(&w, 1, WB_QR, 1, 5, 0, 0);
	q = wb_question(&w, "t.example", 255);
	for (size_t i = 0; i < 5; i++) {
		wb_ptr(&w, q);
		at = wb_rr_fixed(&w, types[i], 100 + (uint32_t)i);
		wb_bytes(&w, "\x05hello", 6);
		wb_rdlen(&w, at);
	}
	parse_ok();
	assert_int_equal(msg.n_answers, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(msg.answers[i].type, types[i]);
		assert_int_equal(msg.answers[i].ttl, 100 + i);
		assert_int_equal(msg.answers[i].rdlength, 6);
		assert_data(i, "");
		assert_owner(i, "t.example");
	}
}

static void test_edns_extended_rcode(void **state)
{
	(void)state;
	/* Header rcode 0 and OPT extended rcode 1: 16, BADVERS (RFC 6891 §7). */
	wb_header(&w, 1, WB_QR, 1, 0, 0, 1);
	wb_question(&w, "example.com", 1);
	wb_opt(&w, 4096, 1, 0, 1);
	parse_ok();
	assert_true(msg.has_edns);
	assert_int_equal(msg.rcode, 16);
	assert_int_equal(msg.edns_udp_size, 4096);
	assert_true(msg.edns_do);

	/* Header rcode 3 with extended bits 0 stays NXDOMAIN; version is kept. */
	wb_header(&w, 1, WB_QR | 3, 1, 0, 0, 1);
	wb_question(&w, "example.com", 1);
	wb_opt(&w, 512, 0, 1, 0);
	parse_ok();
	assert_int_equal(msg.rcode, 3);
	assert_int_equal(msg.edns_version, 1);
}

static void test_names_of_types_and_rcodes(void **state)
{
	char buf[12];

	(void)state;
	assert_string_equal(dns_type_name(1, buf), "A");
	assert_string_equal(dns_type_name(28, buf), "AAAA");
	assert_string_equal(dns_type_name(5, buf), "CNAME");
	assert_string_equal(dns_type_name(12, buf), "PTR");
	assert_string_equal(dns_type_name(33, buf), "SRV");
	assert_string_equal(dns_type_name(15, buf), "MX");
	assert_string_equal(dns_type_name(2, buf), "NS");
	assert_string_equal(dns_type_name(16, buf), "TXT");
	assert_string_equal(dns_type_name(6, buf), "SOA");
	assert_string_equal(dns_type_name(64, buf), "SVCB");
	assert_string_equal(dns_type_name(65, buf), "HTTPS");
	assert_string_equal(dns_type_name(123, buf), "TYPE123");
	assert_string_equal(dns_type_name(65535, buf), "TYPE65535");
	assert_string_equal(dns_rcode_name(0, buf), "NOERROR");
	assert_string_equal(dns_rcode_name(1, buf), "FORMERR");
	assert_string_equal(dns_rcode_name(2, buf), "SERVFAIL");
	assert_string_equal(dns_rcode_name(3, buf), "NXDOMAIN");
	assert_string_equal(dns_rcode_name(4, buf), "NOTIMP");
	assert_string_equal(dns_rcode_name(5, buf), "REFUSED");
	assert_string_equal(dns_rcode_name(16, buf), "BADVERS");
	assert_string_equal(dns_rcode_name(12, buf), "RCODE12");
	assert_string_equal(dns_rcode_name(24, buf), "RCODE24");
	assert_string_equal(dns_rcode_name(4095, buf), "RCODE4095");
}

static void test_many_answers_are_bounded(void **state)
{
	struct dns_parse_stats stats = { 0 };
	uint16_t q;

	(void)state;
	wb_header(&w, 1, WB_QR, 1, 40, 0, 0);
	q = wb_question(&w, "many.example", 1);
	for (uint8_t i = 0; i < 40; i++) {
		size_t at;

		wb_ptr(&w, q);
		at = wb_rr_fixed(&w, 1, 5);
		wb_bytes(&w, (uint8_t[]){ 198, 51, 100, i }, 4);
		wb_rdlen(&w, at);
	}
	assert_int_equal(dns_parse(w.b, w.n, &msg, &stats), DNS_OK);
	assert_int_equal(msg.n_answers, DNS_MAX_ANSWERS);
	assert_true(msg.answers_truncated);
	assert_int_equal(msg.answers[31].data.a[3], 31);
	assert_int_equal(stats.answers_truncated, 1);
	assert_int_equal(stats.ok, 1);

	/* An answer past the bound is still validated. */
	w.b[w.n - 5] = 5;
	assert_int_equal(dns_parse(w.b, w.n, &msg, &stats), DNS_ERR_RDATA_TRUNCATED);
	assert_int_equal(stats.errors, 1);
	assert_int_equal(stats.by_status[DNS_ERR_RDATA_TRUNCATED], 1);
	assert_int_equal(stats.messages, 2);
}

static void test_ttl_top_bit_reads_zero(void **state)
{
	uint16_t q;
	size_t at;

	(void)state;
	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(&w, "ttl.example", 1);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 1, 0x80000001u);
	wb_bytes(&w, "\x01\x02\x03\x04", 4);
	wb_rdlen(&w, at);
	parse_ok();
	assert_int_equal(msg.answers[0].ttl, 0);
}

static void test_root_and_escaped_names(void **state)
{
	uint16_t q;
	size_t at;

	(void)state;
	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(&w, "", 2);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 2, 1);
	/* A label holding a dot: c-ares escapes it. */
	wb_u8(&w, 3);
	wb_bytes(&w, "a.b", 3);
	wb_u8(&w, 0);
	wb_rdlen(&w, at);
	parse_ok();
	assert_string_equal(msg.qname, "");
	assert_owner(0, "");
	assert_data(0, "a\\.b");
}

static void test_render_small_buffer(void **state)
{
	char buf[8];

	(void)state;
	build_a_cname();
	parse_ok();
	assert_int_equal(dns_rr_data(&msg, &msg.answers[0], buf, sizeof(buf)), DNS_ERR_INVAL);
	assert_int_equal(dns_rr_owner(&msg, &msg.answers[1], buf, sizeof(buf)), DNS_ERR_INVAL);
	assert_int_equal(dns_rr_data(&msg, &msg.answers[1], buf, 4), DNS_ERR_INVAL);
}

/* Each crafted fault gives its own status. */
static void test_hostile_statuses(void **state)
{
	static uint8_t big[65536];
	char l[64];
	uint16_t q;
	size_t at;

	(void)state;
	memset(l, 'x', sizeof(l));
	assert_int_equal(dns_parse(w.b, 11, &msg, NULL), DNS_ERR_SHORT_HEADER);
	assert_int_equal(dns_parse(NULL, 12, &msg, NULL), DNS_ERR_INVAL);
	assert_int_equal(dns_parse(big, sizeof(big), &msg, NULL), DNS_ERR_TOO_LONG);

	wb_header(&w, 1, WB_QR, 1, 1000, 0, 0);
	wb_question(&w, "a.example", 1);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_COUNTS);

	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	wb_ptr(&w, 12);
	wb_u32(&w, 0x00010001);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_PTR_LOOP);

	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	wb_labels(&w, "abc", 0);
	wb_ptr(&w, 12);
	wb_u32(&w, 0x00010001);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_PTR_LOOP);

	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	wb_ptr(&w, 18);
	wb_u32(&w, 0x00010001);
	wb_name(&w, "x");
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_PTR_FORWARD);

	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	wb_u8(&w, 64);
	wb_bytes(&w, l, 64);
	wb_u8(&w, 0);
	wb_u32(&w, 0x00010001);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_LABEL);

	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		wb_u8(&w, 63);
		wb_bytes(&w, l, 63);
	}
	wb_u8(&w, 0);
	wb_u32(&w, 0x00010001);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_TOO_LONG);
	/* 3 * 64 + 62 + 1 = 255 octets is the longest legal name. */
	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		wb_u8(&w, 63);
		wb_bytes(&w, l, 63);
	}
	wb_u8(&w, 61);
	wb_bytes(&w, l, 61);
	wb_u8(&w, 0);
	wb_u32(&w, 0x00010001);
	parse_ok();
	assert_int_equal(strlen(msg.qname), 253);

	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	wb_u8(&w, 20);
	wb_bytes(&w, "abcdef", 6);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_TRUNCATED);

	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	wb_name(&w, "a.example");
	wb_u16(&w, 1);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_QUESTION_TRUNCATED);

	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(&w, "www.example.com", 1);
	wb_ptr(&w, q);
	wb_u32(&w, 0x00010001);
	wb_u32(&w, 1);
	wb_u8(&w, 0);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_RR_TRUNCATED);

	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(&w, "www.example.com", 1);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 1, 1);
	wb_bytes(&w, "\x01\x02\x03", 3);
	wb_rdlen(&w, at);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_RDLENGTH);
	w.b[at + 1] = 4;
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_RDATA_TRUNCATED);

	wb_header(&w, 1, WB_QR, 1, 0, 0, 2);
	wb_question(&w, "www.example.com", 1);
	wb_opt(&w, 512, 0, 0, 0);
	wb_opt(&w, 512, 0, 0, 0);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_OPT);
}

static void test_status_strings(void **state)
{
	(void)state;
	for (int s = 0; s < DNS_STATUS_COUNT; s++)
		assert_string_not_equal(dns_status_str((enum dns_status)s), "unknown status");
	assert_string_equal(dns_status_str(DNS_STATUS_COUNT), "unknown status");
	assert_string_equal(dns_status_str((enum dns_status) - 1), "unknown status");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_question_a_cname),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_aaaa),
		cmocka_unit_test(test_ptr_and_ns),
		cmocka_unit_test(test_mx),
		cmocka_unit_test(test_srv),
		cmocka_unit_test(test_undecoded_types),
		cmocka_unit_test(test_edns_extended_rcode),
		cmocka_unit_test(test_names_of_types_and_rcodes),
		cmocka_unit_test(test_many_answers_are_bounded),
		cmocka_unit_test(test_ttl_top_bit_reads_zero),
		cmocka_unit_test(test_root_and_escaped_names),
		cmocka_unit_test(test_render_small_buffer),
		cmocka_unit_test(test_hostile_statuses),
		cmocka_unit_test(test_status_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
