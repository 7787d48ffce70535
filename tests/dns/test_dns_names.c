// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the IP -> name cache. Times are made up: nothing reads a clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns.h"
#include "wire_build.h"

#define SEC 1000000000ull

static struct wb w;
static struct dns_msg msg;

static const uint8_t ip1[16] = { 192, 0, 2, 1 }, ip2[16] = { 192, 0, 2, 2 },
		     ip3[16] = { 192, 0, 2, 3 };
static const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 6 };

static void answer_a(uint16_t owner, uint32_t ttl, const uint8_t *a)
{
	size_t at;

	wb_ptr(&w, owner);
	at = wb_rr_fixed(&w, 1, ttl);
	wb_bytes(&w, a, 4);
	wb_rdlen(&w, at);
}

/* A response with a single A answer for @qname. */
static void simple_a(const char *qname, uint32_t ttl, const uint8_t *a)
{
	uint16_t q;

	wb_header(&w, 1, WB_QR | WB_RD | WB_RA, 1, 1, 0, 0);
	q = wb_question(&w, qname, 1);
	answer_a(q, ttl, a);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
}

static void test_cname_chain_maps_to_question(void **state)
{
	struct dns_names *c = dns_names_create(64, DNS_NAMES_MIN_HOLD_NS);
	struct dns_names_stats st;
	uint16_t q, t1, t2;
	size_t at;

	(void)state;
	/*
	 * q=www.example -> CNAME a.example -> CNAME b.example -> A ip1, and written out of order;
	 * plus an A for an unrelated owner, which must not be learnt.
	 */
	wb_header(&w, 1, WB_QR | WB_RD | WB_RA, 1, 5, 0, 0);
	q = wb_question(&w, "www.example", 1);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 5, 300);
	t1 = (uint16_t)w.n;
	wb_name(&w, "A.Example"); /* case differs from the owner below: RFC 4343 */
	wb_rdlen(&w, at);
	/* b.Example's A comes before the CNAME that leads to it. */
	t2 = (uint16_t)w.n;
	wb_labels(&w, "b", 0);
	wb_ptr(&w, t1 + 2);
	at = wb_rr_fixed(&w, 1, 300);
	wb_bytes(&w, ip1, 4);
	wb_rdlen(&w, at);
	wb_labels(&w, "a", 0);
	wb_ptr(&w, t1 + 2);
	at = wb_rr_fixed(&w, 5, 300);
	wb_ptr(&w, t2);
	wb_rdlen(&w, at);
	wb_name(&w, "other.example");
	at = wb_rr_fixed(&w, 1, 300);
	wb_bytes(&w, ip2, 4);
	wb_rdlen(&w, at);
	/* AAAA at the end of the chain. */
	wb_ptr(&w, t2);
	at = wb_rr_fixed(&w, 28, 300);
	wb_bytes(&w, ip6, 16);
	wb_rdlen(&w, at);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(msg.n_answers, 5);

	assert_int_equal(dns_names_learn(c, 42, &msg, 0), 2);
	assert_string_equal(dns_names_lookup(c, 42, 4, ip1, SEC), "www.example");
	assert_string_equal(dns_names_lookup(c, 42, 6, ip6, SEC), "www.example");
	assert_null(dns_names_lookup(c, 42, 4, ip2, SEC));
	dns_names_get_stats(c, &st);
	assert_int_equal(st.inserts, 2);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.entries, 2);
	dns_names_destroy(c);
}

static void test_ttl_and_min_hold(void **state)
{
	struct dns_names *c = dns_names_create(64, 30 * SEC);
	struct dns_names_stats st;

	(void)state;
	/* TTL 60 s is longer than the hold: the TTL decides. */
	simple_a("long.example", 60, ip1);
	dns_names_learn(c, 1, &msg, 100 * SEC);
	assert_non_null(dns_names_lookup(c, 1, 4, ip1, 159 * SEC));
	assert_null(dns_names_lookup(c, 1, 4, ip1, 160 * SEC));
	dns_names_get_stats(c, &st);
	assert_int_equal(st.expirations, 1);
	assert_int_equal(st.entries, 0);

	/* TTL 5 s: held 30 s, so a connection 20 s later still gets its name. */
	simple_a("short.example", 5, ip2);
	dns_names_learn(c, 1, &msg, 100 * SEC);
	assert_string_equal(dns_names_lookup(c, 1, 4, ip2, 120 * SEC), "short.example");
	assert_null(dns_names_lookup(c, 1, 4, ip2, 130 * SEC));

	/* A later answer refreshes the time and may change the name. */
	simple_a("short.example", 5, ip3);
	dns_names_learn(c, 1, &msg, 200 * SEC);
	simple_a("renamed.example", 5, ip3);
	dns_names_learn(c, 1, &msg, 225 * SEC);
	assert_string_equal(dns_names_lookup(c, 1, 4, ip3, 250 * SEC), "renamed.example");
	dns_names_get_stats(c, &st);
	assert_int_equal(st.updates, 1);
	dns_names_destroy(c);
}

/* Two names for one address: a flow gets the name that was current when it started. */
static void test_name_as_of_flow_start(void **state)
{
	struct dns_names *c = dns_names_create(64, 30 * SEC);

	(void)state;
	simple_a("www.example", 300, ip1);
	dns_names_learn(c, 1, &msg, 100 * SEC);
	simple_a("shop.example", 300, ip1);
	dns_names_learn(c, 1, &msg, 110 * SEC);
	/* opened at 105 s, exported at 115 s: the name it was opened for */
	assert_string_equal(dns_names_lookup_at(c, 1, 4, ip1, 115 * SEC, 105 * SEC), "www.example");
	/* opened after the second answer */
	assert_string_equal(dns_names_lookup_at(c, 1, 4, ip1, 115 * SEC, 112 * SEC), "shop."
										     "example");
	assert_string_equal(dns_names_lookup(c, 1, 4, ip1, 115 * SEC), "shop.example");
	/* opened before anything was learnt: the oldest name known is the best guess */
	assert_string_equal(dns_names_lookup_at(c, 1, 4, ip1, 115 * SEC, 90 * SEC), "shop.example");
	/* the same name again does not push the other one out */
	dns_names_learn(c, 1, &msg, 113 * SEC);
	assert_string_equal(dns_names_lookup_at(c, 1, 4, ip1, 115 * SEC, 105 * SEC), "www.example");
	/* an old name whose hold had run out before the flow started is not used */
	simple_a("short.example", 1, ip2);
	dns_names_learn(c, 1, &msg, 100 * SEC);
	simple_a("later.example", 300, ip2);
	dns_names_learn(c, 1, &msg, 200 * SEC);
	assert_string_equal(dns_names_lookup_at(c, 1, 4, ip2, 210 * SEC, 150 * SEC), "later."
										     "example");
	dns_names_destroy(c);
}

static void test_lru_bound(void **state)
{
	struct dns_names *c = dns_names_create(2, DNS_NAMES_MIN_HOLD_NS);
	struct dns_names_stats st;

	(void)state;
	simple_a("one.example", 300, ip1);
	dns_names_learn(c, 1, &msg, 0);
	simple_a("two.example", 300, ip2);
	dns_names_learn(c, 1, &msg, 0);
	/* Reading ip1 makes ip2 the least recently used. */
	assert_non_null(dns_names_lookup(c, 1, 4, ip1, 1));
	simple_a("three.example", 300, ip3);
	dns_names_learn(c, 1, &msg, 2);
	assert_null(dns_names_lookup(c, 1, 4, ip2, 3));
	assert_string_equal(dns_names_lookup(c, 1, 4, ip1, 3), "one.example");
	assert_string_equal(dns_names_lookup(c, 1, 4, ip3, 3), "three.example");
	dns_names_get_stats(c, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.entries, 2);

	/* An expired entry pushed out at the bound counts as an expiration, not an eviction. */
	simple_a("four.example", 300, ip2);
	dns_names_learn(c, 1, &msg, 1000 * SEC);
	dns_names_get_stats(c, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.expirations, 1);
	dns_names_destroy(c);
}

static void test_cgroups_are_isolated(void **state)
{
	struct dns_names *c = dns_names_create(16, DNS_NAMES_MIN_HOLD_NS);

	(void)state;
	simple_a("a.example", 300, ip1);
	dns_names_learn(c, 100, &msg, 0);
	simple_a("b.example", 300, ip1);
	dns_names_learn(c, 200, &msg, 0);
	assert_string_equal(dns_names_lookup(c, 100, 4, ip1, 1), "a.example");
	assert_string_equal(dns_names_lookup(c, 200, 4, ip1, 1), "b.example");
	assert_null(dns_names_lookup(c, 300, 4, ip1, 1));
	/* Same octets as IPv6 are another address. */
	assert_null(dns_names_lookup(c, 100, 6, ip1, 1));
	dns_names_destroy(c);
}

static void test_what_is_not_learnt(void **state)
{
	struct dns_names *c = dns_names_create(16, DNS_NAMES_MIN_HOLD_NS);
	uint16_t q;

	(void)state;
	/* NXDOMAIN with an A (a broken server): nothing. */
	wb_header(&w, 1, WB_QR | 3, 1, 1, 0, 0);
	q = wb_question(&w, "gone.example", 1);
	answer_a(q, 300, ip1);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(dns_names_learn(c, 1, &msg, 0), 0);
	/* A query (QR clear). */
	w.b[2] = 0;
	w.b[3] = 0;
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(dns_names_learn(c, 1, &msg, 0), 0);
	assert_int_equal(dns_names_learn(c, 1, NULL, 0), 0);
	assert_null(dns_names_lookup(c, 1, 5, ip1, 0));
	assert_null(dns_names_create(0, 0));
	dns_names_destroy(c);
}

/* Issue 9 §4: a name with a 0x00 label never stands for the name whose text it imitates. */
static void test_imitating_names_are_kept_apart(void **state)
{
	struct dns_names *c = dns_names_create(64, DNS_NAMES_MIN_HOLD_NS);
	const char *got;
	uint16_t q;
	size_t at;

	(void)state;
	/* the real google.com at ip2, the imitation (labels google, com, 0x00, evil, net) at ip1 */
	simple_a("google.com", 300, ip2);
	assert_int_equal(dns_names_learn(c, 1, &msg, 0), 1);
	wb_hex(&w, WB_HEX_NUL_LABEL_MID);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(dns_names_learn(c, 1, &msg, 0), 1);
	got = dns_names_lookup(c, 1, 4, ip1, SEC);
	assert_non_null(got);
	assert_string_equal(got, "google.com.\\000.evil.net");
	assert_string_not_equal(got, "google.com");
	assert_string_equal(dns_names_lookup(c, 1, 4, ip2, SEC), "google.com");

	/* the same address re-learnt under the imitation: a different name, so the old one is
	 * kept for flows that started before, and the new one is what later flows get */
	simple_a("google.com", 300, ip3);
	assert_int_equal(dns_names_learn(c, 1, &msg, 0), 1);
	wb_hex(&w, WB_HEX_NUL_LABEL_MID);
	w.b[w.n - 1] = 3; /* A 192.0.2.3 */
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(dns_names_learn(c, 1, &msg, 10 * SEC), 1);
	assert_string_equal(dns_names_lookup_at(c, 1, 4, ip3, 11 * SEC, 5 * SEC), "google.com");
	assert_string_equal(dns_names_lookup(c, 1, 4, ip3, 11 * SEC), "google.com.\\000.evil.net");

	/* the NUL label first: not the root, not example.com */
	wb_hex(&w, WB_HEX_NUL_LABEL_FIRST);
	w.b[w.n - 1] = 6;
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(dns_names_learn(c, 2, &msg, 0), 1);
	assert_string_equal(dns_names_lookup(c, 2, 4, (uint8_t[16]){ 192, 0, 2, 6 }, SEC), "\\000."
											   "example"
											   ".com");

	/* the CNAME to cdn.\000.attacker.net; the A is www's own: named after the question */
	wb_hex(&w, WB_HEX_NUL_LABEL_CNAME);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(dns_names_learn(c, 3, &msg, 0), 1);
	assert_string_equal(dns_names_lookup(c, 3, 4, ip1, SEC), "www.example.com");

	/*
	 * A CNAME whose target is "cdn" + a 0x00 label, and an A owned by plain "cdn": the text of
	 * the target used to read "cdn", but the names differ, so the A is not in the chain.
	 */
	wb_header(&w, 1, WB_QR | WB_RD | WB_RA, 1, 2, 0, 0);
	q = wb_question(&w, "www.example.com", 1);
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 5, 300);
	wb_bytes(&w,
		 "\x03"
		 "cdn"
		 "\x01\x00",
		 6);
	wb_u8(&w, 0);
	wb_rdlen(&w, at);
	wb_name(&w, "cdn");
	at = wb_rr_fixed(&w, 1, 300);
	wb_bytes(&w, ip2, 4);
	wb_rdlen(&w, at);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(dns_names_learn(c, 4, &msg, 0), 0);
	assert_null(dns_names_lookup(c, 4, 4, ip2, SEC));

	/* case is folded for ASCII letters only: "WWW.Example.COM" is the same name, no old one */
	simple_a("WWW.Example.COM", 300, ip1);
	assert_int_equal(dns_names_learn(c, 3, &msg, 20 * SEC), 1);
	assert_string_equal(dns_names_lookup_at(c, 3, 4, ip1, 21 * SEC, 5 * SEC), "WWW.Example."
										  "COM");
	dns_names_destroy(c);
}

/* Every address of a 1,000-answer response is learnt, also behind a CNAME chain out of order. */
static void test_every_answer_learnt(void **state)
{
	struct dns_names *c = dns_names_create(4096, DNS_NAMES_MIN_HOLD_NS);
	struct dns_names_stats st;
	uint16_t q, t = 0;
	size_t at;

	(void)state;
	wb_header(&w, 1, WB_QR | WB_RD | WB_RA, 1, 1001, 0, 0);
	q = wb_question(&w, "svc.example", 1);
	for (uint32_t i = 0; i < 1000; i++) {
		/* the A answers first, owned by the CNAME target written with the first one */
		if (i == 0) {
			t = (uint16_t)w.n;
			wb_name(&w, "pods.example");
		} else {
			wb_ptr(&w, t);
		}
		at = wb_rr_fixed(&w, 1, 300);
		wb_bytes(&w, (uint8_t[]){ 198, 51, (uint8_t)(100 + i / 256), (uint8_t)i }, 4);
		wb_rdlen(&w, at);
	}
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 5, 300);
	wb_ptr(&w, t);
	wb_rdlen(&w, at);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(dns_names_learn(c, 1, &msg, 0), 1000);
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t a[16] = { 198, 51, (uint8_t)(100 + i / 256), (uint8_t)i };

		assert_string_equal(dns_names_lookup(c, 1, 4, a, SEC), "svc.example");
	}
	/* a smaller cache keeps its bound and counts what it evicted */
	dns_names_destroy(c);
	c = dns_names_create(100, DNS_NAMES_MIN_HOLD_NS);
	assert_int_equal(dns_names_learn(c, 1, &msg, 0), 1000);
	dns_names_get_stats(c, &st);
	assert_int_equal(st.entries, 100);
	assert_int_equal(st.evictions, 900);
	assert_string_equal(dns_names_lookup(c, 1, 4, (uint8_t[16]){ 198, 51, 103, 231 }, SEC),
			    "svc.example");
	dns_names_destroy(c);
}

/* A hostile chain: 3,000 CNAMEs, each to the next, written last to first: all followed. */
static void test_long_cname_chain(void **state)
{
	struct dns_names *c = dns_names_create(64, DNS_NAMES_MIN_HOLD_NS);
	uint16_t q, prev;
	size_t at;
	enum { N = 3000 };
	static uint16_t owner[N + 1];

	(void)state;
	wb_header(&w, 1, WB_QR | WB_RD | WB_RA, 1, N + 2, 0, 0);
	q = wb_question(&w, "c.example", 1);
	/*
	 * Name k is one label and a pointer to name k - 1 (name 0 is the qname), laid out in the
	 * RDATA of one unknown RR; then the CNAMEs, backwards.
	 */
	owner[0] = q;
	prev = q;
	wb_ptr(&w, q);
	at = wb_rr_fixed(&w, 99, 1);
	for (int k = 1; k <= N; k++) {
		owner[k] = (uint16_t)w.n;
		wb_u8(&w, 1);
		wb_u8(&w, (uint8_t)('a' + k % 26));
		wb_ptr(&w, k % 60 == 0 ? q : prev); /* each name under 255 octets, 60 jumps */
		prev = owner[k];
	}
	wb_rdlen(&w, at);
	/* CNAME k-1 -> k, from the last to the first; then A for the last name */
	for (int k = N; k >= 1; k--) {
		wb_ptr(&w, owner[k - 1]);
		at = wb_rr_fixed(&w, 5, 1);
		wb_ptr(&w, owner[k]);
		wb_rdlen(&w, at);
	}
	wb_ptr(&w, owner[N]);
	at = wb_rr_fixed(&w, 1, 1);
	wb_bytes(&w, ip1, 4);
	wb_rdlen(&w, at);
	assert_true(w.n <= 65535);
	assert_int_equal(dns_parse(w.b, w.n, &msg, NULL), DNS_OK);
	assert_int_equal(msg.n_answers, N + 2);
	assert_int_equal(dns_names_learn(c, 1, &msg, 0), 1);
	assert_string_equal(dns_names_lookup(c, 1, 4, ip1, SEC), "c.example");
	dns_names_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cname_chain_maps_to_question),
		cmocka_unit_test(test_ttl_and_min_hold),
		cmocka_unit_test(test_name_as_of_flow_start),
		cmocka_unit_test(test_lru_bound),
		cmocka_unit_test(test_cgroups_are_isolated),
		cmocka_unit_test(test_what_is_not_learnt),
		cmocka_unit_test(test_imitating_names_are_kept_apart),
		cmocka_unit_test(test_every_answer_learnt),
		cmocka_unit_test(test_long_cname_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
