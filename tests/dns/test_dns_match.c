// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the query/response matcher. Times are made up: nothing reads a clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "dns.h"

#define MS 1000000ull
#define SEC 1000000000ull

static struct dns_tuple query_tuple(uint64_t cgroup, uint16_t sport)
{
	struct dns_tuple t;

	memset(&t, 0, sizeof(t));
	t.cgroup_id = cgroup;
	t.ip_version = 4;
	t.proto = IPPROTO_UDP;
	t.src_port = sport;
	t.dst_port = 53;
	memcpy(t.src_addr, (uint8_t[]){ 192, 0, 2, 100 }, 4);
	memcpy(t.dst_addr, (uint8_t[]){ 192, 0, 2, 53 }, 4);
	return t;
}

/* The same flow seen on the response packet: server -> client. */
static struct dns_tuple reverse(const struct dns_tuple *q)
{
	struct dns_tuple r = *q;

	memcpy(r.src_addr, q->dst_addr, 16);
	memcpy(r.dst_addr, q->src_addr, 16);
	r.src_port = q->dst_port;
	r.dst_port = q->src_port;
	return r;
}

static void test_match_gives_query_time(void **state)
{
	struct dns_match *m = dns_match_create(16, NULL);
	struct dns_tuple q = query_tuple(7, 40000), r = reverse(&q);
	struct dns_match_stats st;
	uint64_t ts = 0;
	void *user = NULL;
	int cookie;

	(void)state;
	assert_non_null(m);
	assert_int_equal(dns_match_query(m, &q, 0x1234, 1000 * MS, &cookie), DNS_OK);
	/* Wrong id, wrong cgroup, query direction, other protocol: no match. */
	assert_int_equal(dns_match_response(m, &r, 0x1235, &ts, &user), DNS_ERR_NOT_FOUND);
	r.cgroup_id = 8;
	assert_int_equal(dns_match_response(m, &r, 0x1234, &ts, &user), DNS_ERR_NOT_FOUND);
	r.cgroup_id = 7;
	assert_int_equal(dns_match_response(m, &q, 0x1234, &ts, &user), DNS_ERR_NOT_FOUND);
	r.proto = IPPROTO_TCP;
	assert_int_equal(dns_match_response(m, &r, 0x1234, &ts, &user), DNS_ERR_NOT_FOUND);
	r.proto = IPPROTO_UDP;

	assert_int_equal(dns_match_response(m, &r, 0x1234, &ts, &user), DNS_OK);
	assert_int_equal(ts, 1000 * MS);
	assert_ptr_equal(user, &cookie);
	/* Matched once only. */
	assert_int_equal(dns_match_response(m, &r, 0x1234, &ts, &user), DNS_ERR_NOT_FOUND);
	dns_match_get_stats(m, &st);
	assert_int_equal(st.queries, 1);
	assert_int_equal(st.matched, 1);
	assert_int_equal(st.unmatched, 5);
	assert_int_equal(st.pending, 0);
	dns_match_destroy(m);
}

static void test_ipv6_ignores_nothing_and_v4_ignores_tail(void **state)
{
	struct dns_match *m = dns_match_create(4, NULL);
	struct dns_tuple q = query_tuple(1, 1), r;
	uint64_t ts;

	(void)state;
	/* IPv4: octets past the fourth are not part of the key. */
	q.src_addr[10] = 0xaa;
	assert_int_equal(dns_match_query(m, &q, 1, 5, NULL), DNS_OK);
	r = reverse(&q);
	r.dst_addr[10] = 0;
	assert_int_equal(dns_match_response(m, &r, 1, &ts, NULL), DNS_OK);

	q.ip_version = 6;
	q.src_addr[15] = 1;
	assert_int_equal(dns_match_query(m, &q, 1, 5, NULL), DNS_OK);
	r = reverse(&q);
	r.dst_addr[15] = 2;
	assert_int_equal(dns_match_response(m, &r, 1, &ts, NULL), DNS_ERR_NOT_FOUND);
	r.dst_addr[15] = 1;
	assert_int_equal(dns_match_response(m, &r, 1, &ts, NULL), DNS_OK);
	dns_match_destroy(m);
}

struct timeouts {
	size_t n;
	uint16_t ids[8];
	uint64_t ts[8];
	uint64_t cgroup[8];
	uint16_t sport[8];
};

static void on_timeout(const struct dns_tuple *q, uint16_t id, uint64_t ts, void *user, void *arg)
{
	struct timeouts *t = arg;

	(void)user;
	if (t->n < 8) {
		t->ids[t->n] = id;
		t->ts[t->n] = ts;
		t->cgroup[t->n] = q->cgroup_id;
		t->sport[t->n] = q->src_port;
	}
	t->n++;
}

static void test_expire_reports_timeouts_in_order(void **state)
{
	struct dns_match *m = dns_match_create(16, NULL);
	struct dns_tuple q1 = query_tuple(1, 1001), q2 = query_tuple(2, 1002),
			 q3 = query_tuple(3, 1003), r;
	struct timeouts t = { 0 };
	struct dns_match_stats st;
	uint64_t ts;

	(void)state;
	assert_int_equal(dns_match_query(m, &q1, 11, 1 * SEC, NULL), DNS_OK);
	assert_int_equal(dns_match_query(m, &q2, 22, 2 * SEC, NULL), DNS_OK);
	assert_int_equal(dns_match_query(m, &q3, 33, 3 * SEC, NULL), DNS_OK);
	r = reverse(&q2);
	assert_int_equal(dns_match_response(m, &r, 22, &ts, NULL), DNS_OK);

	/* 5 s timeout: nothing at 5.999 s, q1 at exactly 6 s, q3 at 8 s. */
	assert_int_equal(dns_match_expire(m, 6 * SEC - 1, 5 * SEC, on_timeout, &t), 0);
	assert_int_equal(dns_match_expire(m, 6 * SEC, 5 * SEC, on_timeout, &t), 1);
	assert_int_equal(t.ids[0], 11);
	assert_int_equal(t.ts[0], 1 * SEC);
	assert_int_equal(t.cgroup[0], 1);
	assert_int_equal(t.sport[0], 1001);
	assert_int_equal(dns_match_expire(m, 100 * SEC, 5 * SEC, on_timeout, &t), 1);
	assert_int_equal(t.ids[1], 33);
	/* A late response to a timed-out query no longer matches. */
	r = reverse(&q1);
	assert_int_equal(dns_match_response(m, &r, 11, &ts, NULL), DNS_ERR_NOT_FOUND);
	dns_match_get_stats(m, &st);
	assert_int_equal(st.timeouts, 2);
	assert_int_equal(st.pending, 0);
	/* Clock values near the top of the range do not wrap. */
	assert_int_equal(dns_match_query(m, &q1, 1, UINT64_MAX - 1, NULL), DNS_OK);
	assert_int_equal(dns_match_expire(m, UINT64_MAX, 5 * SEC, on_timeout, &t), 0);
	dns_match_destroy(m);
}

static void test_bound_and_duplicates(void **state)
{
	struct dns_match *m = dns_match_create(2, NULL);
	struct dns_tuple q = query_tuple(1, 5000), r;
	struct dns_match_stats st;
	uint64_t ts;

	(void)state;
	assert_int_equal(dns_match_query(m, &q, 1, 100, NULL), DNS_OK);
	/* Retransmission: the first timestamp is kept. */
	assert_int_equal(dns_match_query(m, &q, 1, 200, NULL), DNS_ERR_DUPLICATE);
	assert_int_equal(dns_match_query(m, &q, 2, 300, NULL), DNS_OK);
	assert_int_equal(dns_match_query(m, &q, 3, 400, NULL), DNS_ERR_FULL);
	dns_match_get_stats(m, &st);
	assert_int_equal(st.dropped_full, 1);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.pending, 2);
	r = reverse(&q);
	assert_int_equal(dns_match_response(m, &r, 1, &ts, NULL), DNS_OK);
	assert_int_equal(ts, 100);
	/* A slot is free again. */
	assert_int_equal(dns_match_query(m, &q, 3, 400, NULL), DNS_OK);
	assert_int_equal(dns_match_response(m, &r, 3, &ts, NULL), DNS_OK);
	assert_int_equal(ts, 400);
	assert_null(dns_match_create(0, NULL));
	dns_match_destroy(m);
}

/* Many entries with colliding home slots, removed in random order: all stay findable. */
static void test_many_entries(void **state)
{
	enum { N = 5000 };
	struct dns_match *m = dns_match_create(N, NULL);
	struct dns_tuple q = query_tuple(9, 1), r;
	uint64_t ts;

	(void)state;
	for (uint32_t i = 0; i < N; i++) {
		q.src_port = (uint16_t)(i % 977);
		assert_int_equal(dns_match_query(m, &q, (uint16_t)i, i, NULL), DNS_OK);
	}
	for (uint32_t k = 0; k < N; k++) {
		uint32_t i = (uint32_t)((uint64_t)k * 2654435761u % N); /* coprime: a permutation */

		q.src_port = (uint16_t)(i % 977);
		r = reverse(&q);
		assert_int_equal(dns_match_response(m, &r, (uint16_t)i, &ts, NULL), DNS_OK);
		assert_int_equal(ts, i);
	}
	dns_match_destroy(m);
}

static int freed;

static void free_cookie(void *user)
{
	(void)user;
	freed++;
}

static void test_destroy_frees_pending_users(void **state)
{
	struct dns_match *m = dns_match_create(4, free_cookie);
	struct dns_tuple q = query_tuple(1, 1);

	(void)state;
	freed = 0;
	dns_match_query(m, &q, 1, 1, &freed);
	dns_match_query(m, &q, 2, 1, &freed);
	/* Expiry without a callback frees too. */
	assert_int_equal(dns_match_expire(m, 10, 5, NULL, NULL), 2);
	assert_int_equal(freed, 2);
	dns_match_query(m, &q, 3, 1, &freed);
	dns_match_destroy(m);
	assert_int_equal(freed, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_gives_query_time),
		cmocka_unit_test(test_ipv6_ignores_nothing_and_v4_ignores_tail),
		cmocka_unit_test(test_expire_reports_timeouts_in_order),
		cmocka_unit_test(test_bound_and_duplicates),
		cmocka_unit_test(test_many_entries),
		cmocka_unit_test(test_destroy_frees_pending_users),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
