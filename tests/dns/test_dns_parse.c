// SPDX-License-Identifier: Apache-2.0
/* Unit tests of dns_parse() and the renderers, on messages built octet by octet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* @n A answers 198.51.(100 + i / 256).(i % 256) for many.example; returns the qname offset. */
static uint16_t build_many_a(uint16_t n, bool opt)
{
	uint16_t q;

	wb_header(&w, 1, WB_QR, 1, n, 0, opt ? 1 : 0);
	q = wb_question(&w, "many.example", 1);
	for (uint32_t i = 0; i < n; i++) {
		size_t at;

		wb_ptr(&w, q);
		at = wb_rr_fixed(&w, 1, 5);
		wb_bytes(&w, (uint8_t[]){ 198, 51, (uint8_t)(100 + i / 256), (uint8_t)i }, 4);
		wb_rdlen(&w, at);
	}
	if (opt)
		wb_opt(&w, 4096, 0, 0, 0);
	return q;
}

/* Every answer is kept: 1,000, and the 4,094 A RRs that fill a 65535-octet message. */
static void test_every_answer_is_kept(void **state)
{
	static const uint16_t counts[] = { 1000, (65535 - 30) / 16 };
	struct dns_parse_stats stats = { 0 };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		uint16_t n = counts[k];

		build_many_a(n, false);
		assert_true(w.n <= 65535);
		assert_int_equal(dns_parse(w.b, w.n, &msg, &stats), DNS_OK);
		assert_int_equal(msg.n_answers, n);
		assert_false(msg.answers_truncated);
		for (uint32_t i = 0; i < n; i++) {
			assert_int_equal(msg.answers[i].type, DNS_TYPE_A);
			assert_int_equal(msg.answers[i].data.a[2], (uint8_t)(100 + i / 256));
			assert_int_equal(msg.answers[i].data.a[3], (uint8_t)i);
		}
		assert_owner(n - 1, "many.example");
		assert_data(n - 1, k == 0 ? "198.51.103.231" : "198.51.115.253");
	}
	assert_int_equal(stats.answers_truncated, 0);
	assert_int_equal(stats.ok, 2);

	/* The last answer is validated like the first. */
	w.b[w.n - 5] = 5;
	assert_int_equal(dns_parse(w.b, w.n, &msg, &stats), DNS_ERR_RDATA_TRUNCATED);
	assert_int_equal(stats.errors, 1);
	assert_int_equal(stats.by_status[DNS_ERR_RDATA_TRUNCATED], 1);
	assert_int_equal(stats.messages, 3);
}

/* A message cut by the capture keeps header, question and every answer that fits whole. */
static void test_cut_message_keeps_whole_answers(void **state)
{
	struct dns_parse_stats stats = { 0 };
	size_t whole;

	(void)state;
	build_many_a(200, true); /* 30 + 200 * 16 + 11 octets */
	whole = w.n;
	assert_int_equal(whole, 3241);
	/* Cut at 1536 octets: 94 answers end at 1534, the 95th would end at 1550. */
	assert_int_equal(dns_parse(w.b, 1536, &msg, NULL), DNS_ERR_COUNTS);
	assert_int_equal(dns_parse_cut(w.b, 1536, &msg, &stats), DNS_OK);
	assert_int_equal(msg.id, 1);
	assert_true(msg.qr);
	assert_string_equal(msg.qname, "many.example");
	assert_int_equal(msg.ancount, 200);
	assert_int_equal(msg.n_answers, 94);
	assert_true(msg.answers_truncated);
	assert_int_equal(msg.answers[93].data.a[3], 93);
	assert_false(msg.has_edns);
	assert_int_equal(stats.answers_truncated, 1);
	/* Cut right after the last answer: all answers, no EDNS. */
	assert_int_equal(dns_parse_cut(w.b, whole - 11, &msg, &stats), DNS_OK);
	assert_int_equal(msg.n_answers, 200);
	assert_false(msg.answers_truncated);
	assert_false(msg.has_edns);
	/* Not cut at all: the same as dns_parse(). */
	assert_int_equal(dns_parse_cut(w.b, whole, &msg, &stats), DNS_OK);
	assert_int_equal(msg.n_answers, 200);
	assert_true(msg.has_edns);
	assert_int_equal(msg.edns_udp_size, 4096);
	assert_int_equal(stats.answers_truncated, 1);
	/* Cut inside the question: nothing to report from. */
	assert_int_equal(dns_parse_cut(w.b, 20, &msg, &stats), DNS_ERR_NAME_TRUNCATED);
	assert_int_equal(dns_parse_cut(w.b, 28, &msg, &stats), DNS_ERR_QUESTION_TRUNCATED);
	/* A malformed answer that fits is an error still: the 10th A with RDLENGTH 3. */
	w.b[30 + 9 * 16 + 11] = 3;
	assert_int_equal(dns_parse_cut(w.b, 1536, &msg, &stats), DNS_ERR_RDLENGTH);
	/* Counts no message can hold are rejected, cut or not. */
	wb_header(&w, 1, WB_QR, 1, 6000, 0, 0);
	wb_question(&w, "a.example", 1);
	assert_int_equal(dns_parse_cut(w.b, w.n, &msg, &stats), DNS_ERR_COUNTS);
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
	/* A label holding a dot: escaped, so it differs from the two labels "a" and "b". */
	wb_u8(&w, 3);
	wb_bytes(&w, "a.b", 3);
	wb_u8(&w, 0);
	wb_rdlen(&w, at);
	parse_ok();
	assert_string_equal(msg.qname, "");
	assert_owner(0, "");
	assert_data(0, "a\\.b");
}

/* Issue 9 §4: labels holding 0x00 octets render escaped, whole, and unlike what they imitate. */
static void test_issue9_nul_labels(void **state)
{
	(void)state;
	wb_hex(&w, WB_HEX_NUL_LABEL_MID);
	parse_ok();
	assert_string_equal(msg.qname, "google.com.\\000.evil.net");
	assert_owner(0, "google.com.\\000.evil.net");
	assert_data(0, "192.0.2.1");

	wb_hex(&w, WB_HEX_NUL_LABEL_FIRST);
	parse_ok();
	assert_string_equal(msg.qname, "\\000.example.com");
	assert_owner(0, "\\000.example.com");

	wb_hex(&w, WB_HEX_NUL_LABEL_CNAME);
	parse_ok();
	assert_string_equal(msg.qname, "www.example.com");
	assert_int_equal(msg.n_answers, 2);
	assert_int_equal(msg.answers[0].type, DNS_TYPE_CNAME);
	assert_owner(0, "www.example.com");
	assert_data(0, "cdn.\\000.attacker.net");
	assert_owner(1, "www.example.com");
	assert_data(1, "192.0.2.1");
}

/* Each of the 256 octet values as a one-octet label, between two plain labels. */
static void test_every_octet_escaped(void **state)
{
	char want[32], buf[DNS_NAME_TEXT_MAX];
	size_t at;

	(void)state;
	for (unsigned int c = 0; c < 256; c++) {
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '_';

		wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
		wb_question(&w, "q", 16);
		wb_ptr(&w, 12);
		at = wb_rr_fixed(&w, DNS_TYPE_CNAME, 1);
		wb_labels(&w, "x", 0);
		wb_u8(&w, 1);
		wb_u8(&w, (uint8_t)c);
		wb_name(&w, "y");
		wb_rdlen(&w, at);
		parse_ok();
		if (plain)
			snprintf(want, sizeof(want), "x.%c.y", c);
		else if (c == '.' || c == '\\')
			snprintf(want, sizeof(want), "x.\\%c.y", c);
		else
			snprintf(want, sizeof(want), "x.\\%03u.y", c);
		assert_int_equal(dns_rr_data(&msg, &msg.answers[0], buf, sizeof(buf)), DNS_OK);
		assert_string_equal(buf, want);
	}
	/* The longest rendering: 250 octets of 0xff in 4 labels, within DNS_NAME_TEXT_MAX. */
	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		wb_u8(&w, i < 3 ? 63 : 61);
		for (int j = 0; j < (i < 3 ? 63 : 61); j++)
			wb_u8(&w, 0xff);
	}
	wb_u8(&w, 0);
	wb_u32(&w, 0x00010001);
	parse_ok();
	assert_int_equal(strlen(msg.qname), 250 * 4 + 3);
}

/*
 * A name reached through @jumps pointers, in the question (@where 0), an answer's owner (1) or
 * a CNAME target (2). For 1 and 2, answer 1 (TYPE99) carries in its RDATA a chain of pointers,
 * each to the one before and the first to the qname; for 0, each question points to the one
 * before.
 */
static void build_chain(unsigned int jumps, int where)
{
	uint16_t chain, q, last;
	size_t at;

	if (where == 0) {
		wb_header(&w, 1, WB_QR, (uint16_t)(jumps + 1), 0, 0, 0);
		last = wb_question(&w, "x", 1);
		for (unsigned int j = 0; j < jumps; j++) {
			uint16_t here = (uint16_t)w.n;

			wb_ptr(&w, last);
			wb_u32(&w, 0x00010001);
			last = here;
		}
		return;
	}
	wb_header(&w, 1, WB_QR, 1, 2, 0, 0);
	q = wb_question(&w, "x", 1);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 99, 1);
	chain = (uint16_t)w.n;
	wb_ptr(&w, q);
	for (unsigned int j = 1; j < jumps - 1; j++)
		wb_ptr(&w, (uint16_t)(chain + 2 * (j - 1)));
	wb_rdlen(&w, at);
	last = (uint16_t)(chain + 2 * (jumps - 2));
	if (where == 1) {
		wb_ptr(&w, last);
		at = wb_rr_fixed(&w, 1, 1);
		wb_bytes(&w, "\xc0\x00\x02\x01", 4);
	} else {
		wb_ptr(&w, q);
		at = wb_rr_fixed(&w, DNS_TYPE_CNAME, 1);
		wb_ptr(&w, last);
	}
	wb_rdlen(&w, at);
}

/* One bound on pointer jumps for every name; no pointer into the header. */
static void test_pointer_bounds(void **state)
{
	char buf[DNS_NAME_TEXT_MAX];

	(void)state;
	for (int where = 0; where < 3; where++) {
		build_chain(DNS_NAME_MAX_JUMPS, where);
		parse_ok();
		assert_string_equal(msg.qname, "x");
		if (where == 1)
			assert_owner(1, "x");
		if (where == 2)
			assert_data(1, "x");
		build_chain(DNS_NAME_MAX_JUMPS + 1, where);
		assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_PTR_JUMPS);
	}

	/* Pointers into the header, from the question and from an answer's owner. */
	wb_header(&w, 1, WB_QR, 1, 0, 0, 0);
	wb_ptr(&w, 4);
	wb_u32(&w, 0x00010001);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_PTR_HEADER);
	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	wb_question(&w, "x", 1);
	wb_ptr(&w, 11);
	wb_rr_fixed(&w, 99, 1);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_PTR_HEADER);
	/* Forward and self pointers in an owner name. */
	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	wb_question(&w, "x", 1);
	wb_ptr(&w, (uint16_t)w.n);
	wb_rr_fixed(&w, 99, 1);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_PTR_LOOP);
	wb_header(&w, 1, WB_QR, 1, 1, 0, 0);
	wb_question(&w, "x", 1);
	wb_ptr(&w, (uint16_t)(w.n + 2));
	wb_rr_fixed(&w, 99, 1);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_ERR_NAME_PTR_FORWARD);
	/* The renderer applies the same rules to a name dns_parse() never saw. */
	assert_int_equal(dns_rr_owner(&msg, &(struct dns_rr){ .name_off = 12 }, buf, 0),
			 DNS_ERR_INVAL);
	msg.wire = w.b;
	msg.len = (uint16_t)w.n;
	assert_int_equal(dns_rr_owner(&msg, &(struct dns_rr){ .name_off = 19 }, buf, sizeof(buf)),
			 DNS_ERR_NAME_PTR_FORWARD);
	assert_string_equal(buf, "");
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
		cmocka_unit_test(test_every_answer_is_kept),
		cmocka_unit_test(test_cut_message_keeps_whole_answers),
		cmocka_unit_test(test_issue9_nul_labels),
		cmocka_unit_test(test_every_octet_escaped),
		cmocka_unit_test(test_pointer_bounds),
		cmocka_unit_test(test_ttl_top_bit_reads_zero),
		cmocka_unit_test(test_root_and_escaped_names),
		cmocka_unit_test(test_render_small_buffer),
		cmocka_unit_test(test_hostile_statuses),
		cmocka_unit_test(test_status_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
