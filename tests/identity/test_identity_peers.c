// SPDX-License-Identifier: Apache-2.0
/* identity_peers: the two local ends of a connection find each other, with and without NAT. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "identity.h"

static struct identity_flow_tuple tuple(const char *src, uint16_t sport, const char *dst,
					uint16_t dport, uint8_t proto)
{
	struct identity_flow_tuple t;
	int af = strchr(src, ':') ? AF_INET6 : AF_INET;

	memset(&t, 0, sizeof(t));
	assert_int_equal(inet_pton(af, src, t.src_addr), 1);
	assert_int_equal(inet_pton(af, dst, t.dst_addr), 1);
	t.src_port = sport;
	t.dst_port = dport;
	t.ip_version = af == AF_INET6 ? 6 : 4;
	t.proto = proto;
	return t;
}

static void test_mirrored_ends(void **state)
{
	struct identity_flow_tuple a = tuple("192.0.2.10", 40000, "192.0.2.20", 80, IPPROTO_TCP);
	struct identity_flow_tuple b = tuple("192.0.2.20", 80, "192.0.2.10", 40000, IPPROTO_TCP);
	struct identity_flow_tuple far =
		tuple("192.0.2.10", 40001, "203.0.113.5", 443, IPPROTO_TCP);
	struct identity_peers *p;
	uint64_t cg = 0;

	(void)state;
	assert_int_equal(identity_peers_create(0, &p), 0);
	assert_int_equal(identity_peers_add(p, &a, 1), 0);
	assert_int_equal(identity_peers_add(p, &b, 2), 0);
	assert_int_equal(identity_peers_add(p, &far, 1), 0);
	assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_FOUND);
	assert_int_equal(cg, 2);
	assert_int_equal(identity_peers_find(p, &b, &cg), IDENTITY_PEER_FOUND);
	assert_int_equal(cg, 1);
	cg = 77;
	assert_int_equal(identity_peers_find(p, &far, &cg), IDENTITY_PEER_NONE);
	assert_int_equal(cg, 77);
	/* the same port on UDP is another flow */
	b.proto = IPPROTO_UDP;
	assert_int_equal(identity_peers_find(p, &b, &cg), IDENTITY_PEER_NONE);
	/* a new interval forgets */
	identity_peers_reset(p);
	assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_NONE);
	identity_peers_destroy(p);
	identity_peers_destroy(NULL);
}

/* A client dials a Service VIP; DNAT sends it to a backend pod on the same node. */
static void test_through_dnat(void **state)
{
	/* as the sockets saw them */
	struct identity_flow_tuple client = tuple("192.0.2.10", 40000, "198.51.100.1", 80, 6);
	struct identity_flow_tuple backend = tuple("192.0.2.20", 8080, "192.0.2.10", 40000, 6);
	/* as conntrack says they ran (records.md: *_actual_*) */
	struct identity_flow_tuple client_actual =
		tuple("192.0.2.10", 40000, "192.0.2.20", 8080, 6);
	struct identity_flow_tuple backend_actual =
		tuple("198.51.100.1", 80, "192.0.2.10", 40000, 6);
	struct identity_peers *p;
	uint64_t cg;

	(void)state;
	assert_int_equal(identity_peers_create(0, &p), 0);
	assert_int_equal(identity_peers_add(p, &client, 11), 0);
	assert_int_equal(identity_peers_add(p, &backend, 22), 0);
	assert_int_equal(identity_peers_find(p, &client_actual, &cg), IDENTITY_PEER_FOUND);
	assert_int_equal(cg, 22);
	assert_int_equal(identity_peers_find(p, &backend_actual, &cg), IDENTITY_PEER_FOUND);
	assert_int_equal(cg, 11);
	/* without conntrack's view the client's tuple names the VIP: no peer, not a wrong one */
	assert_int_equal(identity_peers_find(p, &client, &cg), IDENTITY_PEER_NONE);
	identity_peers_destroy(p);
}

static void test_icmp_and_ipv6(void **state)
{
	struct identity_flow_tuple a = tuple("2001:db8::1", 7, "2001:db8::2", 0, IPPROTO_ICMPV6);
	struct identity_flow_tuple b = tuple("2001:db8::2", 7, "2001:db8::1", 0, IPPROTO_ICMPV6);
	struct identity_flow_tuple a4 = tuple("192.0.2.1", 7, "192.0.2.2", 0, IPPROTO_ICMP);
	struct identity_peers *p;
	uint64_t cg;

	(void)state;
	assert_int_equal(identity_peers_create(0, &p), 0);
	assert_int_equal(identity_peers_add(p, &a, 1), 0);
	assert_int_equal(identity_peers_add(p, &b, 2), 0);
	assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_FOUND);
	assert_int_equal(cg, 2);
	/* IPv4 with the same bytes is not IPv6 */
	assert_int_equal(identity_peers_find(p, &a4, &cg), IDENTITY_PEER_NONE);
	identity_peers_destroy(p);
}

static void test_ambiguous_and_bounds(void **state)
{
	struct identity_flow_tuple a = tuple("192.0.2.10", 40000, "192.0.2.20", 80, IPPROTO_TCP);
	struct identity_flow_tuple b = tuple("192.0.2.20", 80, "192.0.2.10", 40000, IPPROTO_TCP);
	struct identity_peers *p;
	uint64_t cg;

	(void)state;
	assert_int_equal(identity_peers_create(10, &p), 0);
	assert_int_equal(identity_peers_add(p, &b, 2), 0);
	assert_int_equal(identity_peers_add(p, &b, 2), 0); /* again, same cgroup: no-op */
	assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_FOUND);
	assert_int_equal(identity_peers_add(p, &b, 3), 0); /* another cgroup claims it */
	assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_AMBIGUOUS);
	for (uint16_t i = 0; i < 9; i++) {
		struct identity_flow_tuple t = tuple("192.0.2.30", 1000 + i, "192.0.2.40", 53, 17);

		assert_int_equal(identity_peers_add(p, &t, 5), 0);
	}
	a.src_port = 1;
	assert_int_equal(identity_peers_add(p, &a, 1), -ENOSPC);
	identity_peers_reset(p);
	assert_int_equal(identity_peers_add(p, &a, 1), 0);
	identity_peers_destroy(p);
}

/* Many pairs across table growth and several intervals. */
static void test_many(void **state)
{
	struct identity_peers *p;
	uint64_t cg;

	(void)state;
	assert_int_equal(identity_peers_create(0, &p), 0);
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 20000; i++) {
			struct identity_flow_tuple a = tuple("192.0.2.1", 0, "192.0.2.2", 80, 6);
			struct identity_flow_tuple b;

			a.src_port = (uint16_t)(i % 60000 + 1);
			a.src_addr[3] = (uint8_t)(i / 60000 + 1 + round);
			b = a;
			memcpy(b.src_addr, a.dst_addr, 16);
			memcpy(b.dst_addr, a.src_addr, 16);
			b.src_port = a.dst_port;
			b.dst_port = a.src_port;
			assert_int_equal(identity_peers_add(p, &a, 100 + i), 0);
			assert_int_equal(identity_peers_add(p, &b, 200000 + i), 0);
		}
		for (uint32_t i = 0; i < 20000; i += 97) {
			struct identity_flow_tuple a = tuple("192.0.2.1", 0, "192.0.2.2", 80, 6);

			a.src_port = (uint16_t)(i % 60000 + 1);
			a.src_addr[3] = (uint8_t)(i / 60000 + 1 + round);
			assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_FOUND);
			assert_int_equal(cg, 200000 + i);
		}
		identity_peers_reset(p);
	}
	identity_peers_destroy(p);
}

/* A burst, then small intervals: the index shrinks and still finds, and forgets across resets. */
static void test_shrink_after_burst(void **state)
{
	struct identity_flow_tuple a = tuple("192.0.2.10", 40000, "192.0.2.20", 80, IPPROTO_TCP);
	struct identity_flow_tuple b = tuple("192.0.2.20", 80, "192.0.2.10", 40000, IPPROTO_TCP);
	struct identity_peers *p;
	uint64_t cg;

	(void)state;
	assert_int_equal(identity_peers_create(0, &p), 0);
	for (uint32_t i = 0; i < 30000; i++) {
		struct identity_flow_tuple t = tuple("192.0.2.30", 0, "192.0.2.40", 53, 17);

		t.src_port = (uint16_t)(i + 1);
		assert_int_equal(identity_peers_add(p, &t, 7), 0);
	}
	assert_int_equal(identity_peers_add(p, &b, 2), 0);
	identity_peers_reset(p); /* full interval: memory kept */
	assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_NONE);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(identity_peers_add(p, &b, 2 + round), 0);
		assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_FOUND);
		assert_int_equal(cg, 2 + round);
		identity_peers_reset(p); /* a small interval: shrinks (once) */
		assert_int_equal(identity_peers_find(p, &a, &cg), IDENTITY_PEER_NONE);
	}
	identity_peers_destroy(p);
}

/*
 * identity_peers_find_many() gives exactly identity_peers_find()'s answers: found, none and
 * ambiguous, ICMP and IPv6, over batches that do not fill the last one (37 = 2 * 16 + 5).
 */
static void test_find_many(void **state)
{
	struct identity_flow_tuple q[37];
	int status[37];
	uint64_t cg[37];
	struct identity_peers *p;
	char addr[32];

	(void)state;
	assert_int_equal(identity_peers_create(0, &p), 0);
	for (int i = 0; i < 37; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", 1 + i);
		q[i] = tuple(addr, (uint16_t)(30000 + i), "198.51.100.1", 80, IPPROTO_TCP);
		struct identity_flow_tuple server =
			tuple("198.51.100.1", 80, addr, (uint16_t)(30000 + i), IPPROTO_TCP);

		if (i % 3 == 0)
			continue; /* no local peer */
		assert_int_equal(identity_peers_add(p, &server, 100 + (uint64_t)i), 0);
		if (i % 5 == 0) /* claimed by two cgroups */
			assert_int_equal(identity_peers_add(p, &server, 999), 0);
	}
	q[4] = tuple("2001:db8::1", 5, "2001:db8::2", 6, IPPROTO_UDP);
	struct identity_flow_tuple v6 = tuple("2001:db8::2", 6, "2001:db8::1", 5, IPPROTO_UDP);
	assert_int_equal(identity_peers_add(p, &v6, 6), 0);
	q[7] = tuple("192.0.2.99", 77, "198.51.100.9", 0, IPPROTO_ICMP);
	struct identity_flow_tuple echo = tuple("198.51.100.9", 77, "192.0.2.99", 0, IPPROTO_ICMP);
	assert_int_equal(identity_peers_add(p, &echo, 7), 0);
	memset(cg, 0, sizeof(cg));
	identity_peers_find_many(p, q, 37, status, cg);
	int found = 0, none = 0, ambiguous = 0;

	for (int i = 0; i < 37; i++) {
		uint64_t want_cg = 0;
		int want = identity_peers_find(p, &q[i], &want_cg);

		assert_int_equal(status[i], want);
		if (want == IDENTITY_PEER_FOUND)
			assert_int_equal(cg[i], want_cg);
		found += want == IDENTITY_PEER_FOUND;
		none += want == IDENTITY_PEER_NONE;
		ambiguous += want == IDENTITY_PEER_AMBIGUOUS;
	}
	/* i % 3 == 0: 13 without a peer; of the rest, i % 5 == 0 (5 10 20 25 35): ambiguous */
	assert_int_equal(none, 13);
	assert_int_equal(ambiguous, 5);
	assert_int_equal(found, 37 - 13 - 5);
	assert_int_equal(status[4], IDENTITY_PEER_FOUND);
	assert_int_equal(cg[4], 6);
	assert_int_equal(status[7], IDENTITY_PEER_FOUND);
	assert_int_equal(cg[7], 7);
	identity_peers_destroy(p);
}

/*
 * identity_peers_add_many() adds in order, as identity_peers_add() would: a repeated tuple from
 * another cgroup is ambiguous, and past the bound (20 tuples) the rest are counted, not added.
 */
static void test_add_many(void **state)
{
	struct identity_flow_tuple t[37], q;
	uint64_t cg[37], got;
	struct identity_peers *p;
	size_t not_added = 99;
	char addr[32];

	(void)state;
	assert_int_equal(identity_peers_create(20, &p), 0);
	for (int i = 0; i < 37; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", 1 + (i == 36 ? 0 : i));
		t[i] = tuple("198.51.100.1", 80, addr, (uint16_t)(30000 + (i == 36 ? 0 : i)),
			     IPPROTO_TCP);
		cg[i] = 100 + (uint64_t)i;
	}
	/* t[36] repeats t[0] from another cgroup: ambiguous, and no room taken */
	assert_int_equal(identity_peers_add_many(p, t, cg, 37, &not_added), -ENOSPC);
	assert_int_equal(not_added, 37 - 1 - 20);
	for (int i = 0; i < 36; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", 1 + i);
		q = tuple(addr, (uint16_t)(30000 + i), "198.51.100.1", 80, IPPROTO_TCP);
		got = 0;
		if (i == 0)
			assert_int_equal(identity_peers_find(p, &q, &got), IDENTITY_PEER_AMBIGUOUS);
		else if (i < 20) {
			assert_int_equal(identity_peers_find(p, &q, &got), IDENTITY_PEER_FOUND);
			assert_int_equal(got, 100 + (uint64_t)i);
		} else {
			assert_int_equal(identity_peers_find(p, &q, &got), IDENTITY_PEER_NONE);
		}
	}
	assert_int_equal(identity_peers_add_many(p, t, cg, 0, &not_added), 0);
	assert_int_equal(not_added, 0);
	identity_peers_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirrored_ends),
		cmocka_unit_test(test_through_dnat),
		cmocka_unit_test(test_icmp_and_ipv6),
		cmocka_unit_test(test_ambiguous_and_bounds),
		cmocka_unit_test(test_shrink_after_burst),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_find_many),
		cmocka_unit_test(test_add_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
