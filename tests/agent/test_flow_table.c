// SPDX-License-Identifier: Apache-2.0
/*
 * agent/flow_table.c: pieces of one flow key merge into one (counts add, the SYN's initiator
 * wins, then a known one; a known owner wins), a taken piece is not listed again, the table
 * refuses a key beyond its bound, grows past its initial size, and a reset empties it (also
 * after it grew, and when it shrinks back).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flow_table.h"

static struct flow_key key(uint32_t n)
{
	struct flow_key k;

	memset(&k, 0, sizeof(k));
	k.cgroup_id = 42;
	memcpy(k.laddr, &n, sizeof(n));
	k.raddr[0] = 198;
	k.lport = (uint16_t)n;
	k.rport = 80;
	k.ip_version = 4;
	k.proto = 6;
	k.cgroup_version = 2;
	return k;
}

static void test_merge(void **state)
{
	struct flow_value a = {
		.first_ns = 200, .last_ns = 300, .tx_bytes = 40, .tx_packets = 1, .tcp_flags = 0x10
	};
	struct flow_value b = { .first_ns = 100,
				.last_ns = 250,
				.rx_bytes = 60,
				.rx_packets = 1,
				.tcp_flags = 0x02,
				.pid = 7,
				.flags = FLOW_F_INITIATOR_DST | FLOW_F_FROM_SYN };
	struct flow_value c = { .first_ns = 50,
				.last_ns = 400,
				.tx_bytes = 1,
				.tx_packets = 1,
				.pid = 9,
				.flags = FLOW_F_INITIATOR_SRC | FLOW_F_REMEMBERED };

	(void)state;
	strcpy(b.comm, "server");
	strcpy(c.comm, "other");
	flow_value_merge(&a, &b);
	assert_int_equal(a.first_ns, 100);
	assert_int_equal(a.last_ns, 300);
	assert_int_equal(a.tx_bytes, 40);
	assert_int_equal(a.rx_bytes, 60);
	assert_int_equal(a.tcp_flags, 0x12);
	/* b's SYN verdict and owner: a had none */
	assert_int_equal(a.flags, FLOW_F_INITIATOR_DST | FLOW_F_FROM_SYN);
	assert_int_equal(a.pid, 7);
	assert_string_equal(a.comm, "server");
	/* a known verdict without a SYN does not replace a SYN's; nor another owner a known one */
	flow_value_merge(&a, &c);
	assert_int_equal(a.first_ns, 50);
	assert_int_equal(a.last_ns, 400);
	assert_int_equal(a.tx_packets, 2);
	assert_int_equal(a.flags, FLOW_F_INITIATOR_DST | FLOW_F_FROM_SYN | FLOW_F_REMEMBERED);
	assert_int_equal(a.pid, 7);
	assert_string_equal(a.comm, "server");
	/* unknown takes a known verdict */
	memset(&a, 0, sizeof(a));
	flow_value_merge(&a, &c);
	assert_int_equal(a.flags, FLOW_F_INITIATOR_SRC | FLOW_F_REMEMBERED);
	assert_int_equal(a.pid, 9);
}

static void test_add_take_next(void **state)
{
	struct flow_table *t = flow_table_create(16);
	struct flow_key k0 = key(0), k1 = key(1), k2 = key(2), got;
	struct flow_value v = { .tx_packets = 1, .tx_bytes = 10, .first_ns = 5 }, out;
	uint32_t pos = 0;
	bool whole;
	int n = 0;

	(void)state;
	assert_non_null(t);
	assert_int_equal(flow_table_add(t, &k0, &v, false), 0);
	assert_int_equal(flow_table_add(t, &k0, &v, true), 0);
	assert_int_equal(flow_table_add(t, &k1, &v, false), 0);
	assert_int_equal(flow_table_add(t, &k2, &v, true), 0);
	assert_int_equal(flow_table_count(t), 3);
	assert_int_equal(flow_table_take(t, &k0, &out, &whole), 0);
	assert_true(whole); /* one whole piece makes the key whole */
	assert_int_equal(out.tx_packets, 2);
	assert_int_equal(out.tx_bytes, 20);
	assert_int_equal(flow_table_take(t, &k0, &out, &whole), -ENOENT);
	while (flow_table_next(t, &pos, &got, &out, &whole)) {
		n++;
		assert_true(!memcmp(&got, &k1, sizeof(got)) || !memcmp(&got, &k2, sizeof(got)));
		assert_int_equal(whole, !memcmp(&got, &k2, sizeof(got)));
	}
	assert_int_equal(n, 2);
	flow_table_reset(t);
	assert_int_equal(flow_table_count(t), 0);
	assert_int_equal(flow_table_take(t, &k1, &out, &whole), -ENOENT);
	pos = 0;
	assert_false(flow_table_next(t, &pos, &got, &out, &whole));
	flow_table_destroy(t);
}

/*
 * Beyond the bound a new key's whole piece is refused; a key already in it still merges, and a
 * mapped slot's counts (not whole: their flow holds a map entry) are always taken.
 */
static void test_bound(void **state)
{
	struct flow_table *t = flow_table_create(4);
	struct flow_value v = { .rx_packets = 1 }, out;
	bool whole;

	(void)state;
	assert_non_null(t);
	for (uint32_t i = 0; i < 4; i++) {
		struct flow_key k = key(i);

		assert_int_equal(flow_table_add(t, &k, &v, true), 0);
	}
	{
		struct flow_key k = key(4), k0 = key(0);

		assert_int_equal(flow_table_add(t, &k, &v, true), -ENOSPC);
		assert_int_equal(flow_table_add(t, &k0, &v, true), 0);
		assert_int_equal(flow_table_take(t, &k0, &out, &whole), 0);
		assert_int_equal(out.rx_packets, 2);
	}
	{
		struct flow_key k = key(5);

		assert_int_equal(flow_table_add(t, &k, &v, false), 0);
		assert_int_equal(flow_table_take(t, &k, &out, &whole), 0);
		assert_false(whole);
		assert_int_equal(out.rx_packets, 1);
	}
	flow_table_destroy(t);
}

/*
 * flow_table_add_many() and flow_table_take_merge() give what one call per piece gives: 3000
 * pieces (a key repeated within one prefetch batch and across batches, the table growing past
 * its first 1024 pieces in the middle of a batch, keys past the bound refused with -ENOSPC in
 * their ret[]), then merges for keys present, absent and asked twice (merged once).
 */
static void test_many(void **state)
{
	enum { N = 3000, MAX = 2500, Q = 700 };
	static struct flow_piece p[N];
	static int ret[N];
	static struct flow_key q[Q];
	static struct flow_value got[Q], want[Q];
	struct flow_table *t = flow_table_create(MAX), *one = flow_table_create(MAX);
	uint32_t refused = 0, refused_many, merged = 0;

	(void)state;
	assert_non_null(t);
	assert_non_null(one);
	for (uint32_t i = 0; i < N; i++) {
		/* every 7th piece repeats the key of 3 before it, every 50th the key of 40 before */
		uint32_t n = i % 7 == 6 ? i - 3 : i % 50 == 49 ? i - 40 : i;

		memset(&p[i], 0, sizeof(p[i]));
		p[i].key = key(n);
		p[i].val = (struct flow_value){ .first_ns = 1000 + i,
						.last_ns = 2000 + i,
						.tx_packets = 1,
						.tx_bytes = i,
						.pid = i % 3 ? 0 : i,
						.flags = i % 5 ? 0 : FLOW_F_INITIATOR_SRC };
	}
	refused_many = flow_table_add_many(t, p, N, true, ret);
	for (uint32_t i = 0; i < N; i++) {
		int r = flow_table_add(one, &p[i].key, &p[i].val, true);

		assert_int_equal(ret[i], r);
		refused += r != 0;
		if (r)
			assert_int_equal(r, -ENOSPC);
	}
	assert_int_equal(refused_many, refused);
	assert_true(refused > 0);
	assert_int_equal(flow_table_count(t), MAX);
	assert_int_equal(flow_table_count(one), MAX);
	for (uint32_t i = 0; i < Q; i++) {
		/* present, absent (never added: keys past N), and a key asked a second time */
		uint32_t n = i % 4 == 3 ? N + i : i % 4 == 2 ? (i - 2) * 4 : i * 4;

		q[i] = key(n);
		got[i] = want[i] = (struct flow_value){ .first_ns = 5000, .rx_packets = 1 };
	}
	merged = flow_table_take_merge(t, q, got, Q);
	for (uint32_t i = 0, m = 0; i < Q; i++) {
		struct flow_value piece;
		bool whole;

		if (!flow_table_take(one, &q[i], &piece, &whole)) {
			flow_value_merge(&want[i], &piece);
			m++;
		}
		assert_memory_equal(&got[i], &want[i], sizeof(got[i]));
		if (i == Q - 1)
			assert_int_equal(merged, m);
	}
	assert_true(merged > Q / 4);
	flow_table_destroy(one);
	flow_table_destroy(t);
}

/*
 * 100k keys: the table grows past its first size and finds each; after resets with few keys it
 * shrinks back, and every interval sees only its own keys.
 */
static void test_grow_reset_shrink(void **state)
{
	enum { N = 100000 };
	struct flow_table *t = flow_table_create(N);
	uint64_t small;

	(void)state;
	assert_non_null(t);
	small = flow_table_bytes(t);
	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < N; i++) {
			struct flow_key k = key(i + (uint32_t)round);
			struct flow_value v = { .tx_packets = i + 1 };

			assert_int_equal(flow_table_add(t, &k, &v, true), 0);
		}
		assert_int_equal(flow_table_count(t), N);
		assert_true(flow_table_bytes(t) > small);
		for (uint32_t i = 0; i < N; i += 997) {
			struct flow_key k = key(i + (uint32_t)round);
			struct flow_value out;
			bool whole;

			assert_int_equal(flow_table_take(t, &k, &out, &whole), 0);
			assert_int_equal(out.tx_packets, i + 1);
		}
		flow_table_reset(t);
	}
	for (int i = 0; i < 10; i++) {
		struct flow_key k = key(7);
		struct flow_value v = { .tx_packets = 1 }, out;
		bool whole;

		assert_int_equal(flow_table_add(t, &k, &v, true), 0);
		assert_int_equal(flow_table_count(t), 1);
		assert_int_equal(flow_table_take(t, &k, &out, &whole), 0);
		assert_int_equal(out.tx_packets, 1);
		flow_table_reset(t);
	}
	assert_int_equal(flow_table_bytes(t), small);
	flow_table_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge), cmocka_unit_test(test_add_take_next),
		cmocka_unit_test(test_bound), cmocka_unit_test(test_grow_reset_shrink),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
