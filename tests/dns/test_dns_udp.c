// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the reassembly of UDP DNS datagrams captured in pieces (dns/dns_udp.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns_udp.h"

#define MAX_GOT 8
#define WIRE_MAX 65535

struct got {
	size_t n;
	char key[MAX_GOT][16];
	size_t len[MAX_GOT];
	size_t wire_len[MAX_GOT];
	const uint8_t *ptr[MAX_GOT]; /* where the callback's msg was */
	uint8_t *msg[MAX_GOT];
};

static void on_msg(const void *key, const uint8_t *msg, size_t len, size_t wire_len, void *arg)
{
	struct got *g = arg;

	assert_true(g->n < MAX_GOT);
	snprintf(g->key[g->n], sizeof(g->key[0]), "%s", (const char *)key);
	g->len[g->n] = len;
	g->wire_len[g->n] = wire_len;
	g->ptr[g->n] = msg;
	g->msg[g->n] = malloc(len ? len : 1);
	assert_non_null(g->msg[g->n]);
	memcpy(g->msg[g->n], msg, len);
	g->n++;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->msg[i]);
}

/* A datagram's payload: byte i is (i * 7 + seed) mod 256. */
static uint8_t *datagram(size_t len, uint8_t seed)
{
	uint8_t *d = malloc(len);

	assert_non_null(d);
	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(i * 7 + seed);
	return d;
}

/* Adds piece [off, off + len) of d (wire bytes long) under key. */
static enum dns_status add(struct dns_udp *u, const char *key, const uint8_t *d, size_t wire,
			   size_t off, size_t len, bool last, uint64_t now)
{
	const struct dns_udp_piece p = {
		.key = key,
		.key_len = strlen(key) + 1,
		.offset = (uint32_t)off,
		.wire_len = (uint32_t)wire,
		.data = d + off,
		.len = (uint32_t)len,
		.last = last,
	};

	return dns_udp_add(u, &p, now);
}

/* Feeds d in pieces of piece bytes up to cap, the last one flagged. */
static void add_all(struct dns_udp *u, const char *key, const uint8_t *d, size_t wire, size_t cap,
		    size_t piece)
{
	for (size_t off = 0; off < cap || off == 0; off += piece) {
		size_t n = cap - off < piece ? cap - off : piece;

		assert_int_equal(add(u, key, d, wire, off, n, off + n >= cap, 1), DNS_OK);
		if (off + n >= cap)
			break;
	}
}

static void test_one_piece_in_place(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(4, on_msg, &g);
	uint8_t *d = datagram(300, 1);
	struct dns_udp_stats st;

	(void)state;
	assert_int_equal(add(u, "a", d, 300, 0, 300, true, 1), DNS_OK);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 300);
	assert_int_equal(g.wire_len[0], 300);
	/* no copy for a datagram that came in one piece */
	assert_ptr_equal(g.ptr[0], d);
	assert_string_equal(g.key[0], "a");
	assert_int_equal(dns_udp_pending(u), 0);
	dns_udp_get_stats(u, &st);
	assert_int_equal(st.datagrams, 1);
	assert_int_equal(st.cut, 0);
	dns_udp_destroy(u);
	free(d);
	got_free(&g);
}

/* 64 KiB in 43 pieces of 1536, and one of 12 KiB: whole, byte for byte. */
static void test_many_pieces_whole(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(4, on_msg, &g);
	uint8_t *big = datagram(WIRE_MAX, 3), *mid = datagram(12288, 9);
	struct dns_udp_stats st;

	(void)state;
	add_all(u, "big", big, WIRE_MAX, WIRE_MAX, 1536);
	add_all(u, "mid", mid, 12288, 12288, 1536);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.len[0], WIRE_MAX);
	assert_int_equal(g.wire_len[0], WIRE_MAX);
	assert_memory_equal(g.msg[0], big, WIRE_MAX);
	assert_int_equal(g.len[1], 12288);
	assert_memory_equal(g.msg[1], mid, 12288);
	dns_udp_get_stats(u, &st);
	assert_int_equal(st.pieces, 43 + 8);
	assert_int_equal(st.cut, 0);
	assert_int_equal(st.incomplete, 0);
	dns_udp_destroy(u);
	free(big);
	free(mid);
	got_free(&g);
}

/* Pieces of two datagrams interleave (two CPUs): each comes out whole under its key. */
static void test_interleaved(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(4, on_msg, &g);
	uint8_t *a = datagram(3000, 1), *b = datagram(2500, 2);

	(void)state;
	assert_int_equal(add(u, "a", a, 3000, 0, 1536, false, 1), DNS_OK);
	assert_int_equal(add(u, "b", b, 2500, 0, 1536, false, 1), DNS_OK);
	assert_int_equal(dns_udp_pending(u), 2);
	assert_int_equal(add(u, "b", b, 2500, 1536, 964, true, 1), DNS_OK);
	assert_int_equal(add(u, "a", a, 3000, 1536, 1464, true, 1), DNS_OK);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.key[0], "b");
	assert_memory_equal(g.msg[0], b, 2500);
	assert_string_equal(g.key[1], "a");
	assert_memory_equal(g.msg[1], a, 3000);
	assert_int_equal(dns_udp_pending(u), 0);
	dns_udp_destroy(u);
	free(a);
	free(b);
	got_free(&g);
}

/* The capture's bound: the last piece ends before wire_len; cut, but not incomplete. */
static void test_bound_cut(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(4, on_msg, &g);
	uint8_t *d = datagram(3000, 4);
	struct dns_udp_stats st;

	(void)state;
	add_all(u, "a", d, 3000, 2000, 1536);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 2000);
	assert_int_equal(g.wire_len[0], 3000);
	assert_memory_equal(g.msg[0], d, 2000);
	dns_udp_get_stats(u, &st);
	assert_int_equal(st.cut, 1);
	assert_int_equal(st.incomplete, 0);
	dns_udp_destroy(u);
	free(d);
	got_free(&g);
}

/* The last piece never comes (ring buffer full): handed over cut when it is too old. */
static void test_lost_tail_expires(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(4, on_msg, &g);
	uint8_t *d = datagram(3000, 5);
	struct dns_udp_stats st;

	(void)state;
	assert_int_equal(add(u, "a", d, 3000, 0, 1536, false, 1000), DNS_OK);
	dns_udp_expire(u, 1500, 1000);
	assert_int_equal(g.n, 0);
	dns_udp_expire(u, 2001, 1000);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 1536);
	assert_int_equal(g.wire_len[0], 3000);
	assert_memory_equal(g.msg[0], d, 1536);
	dns_udp_get_stats(u, &st);
	assert_int_equal(st.incomplete, 1);
	assert_int_equal(st.cut, 1);
	/* its last piece, if it came after all, joins nothing */
	assert_int_equal(add(u, "a", d, 3000, 1536, 1464, true, 2002), DNS_ERR_NOT_FOUND);
	dns_udp_get_stats(u, &st);
	assert_int_equal(st.orphan_pieces, 1);
	assert_int_equal(g.n, 1);
	dns_udp_destroy(u);
	free(d);
	got_free(&g);
}

/* A piece in between missing: what came before it is handed over; the rest is orphaned. */
static void test_gap(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(4, on_msg, &g);
	uint8_t *d = datagram(5000, 6);
	struct dns_udp_stats st;

	(void)state;
	assert_int_equal(add(u, "a", d, 5000, 0, 1536, false, 1), DNS_OK);
	assert_int_equal(add(u, "a", d, 5000, 3072, 1536, false, 1), DNS_ERR_NOT_FOUND);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 1536);
	assert_int_equal(add(u, "a", d, 5000, 4608, 392, true, 1), DNS_ERR_NOT_FOUND);
	dns_udp_get_stats(u, &st);
	assert_int_equal(st.incomplete, 1);
	assert_int_equal(st.orphan_pieces, 2);
	dns_udp_destroy(u);
	free(d);
	got_free(&g);
}

/*
 * A later piece that claims another wire_len than the waiting datagram's (a bigger one would
 * write past the buffer sized by the first piece) joins nothing: the waiting datagram is handed
 * over cut and the piece is counted as orphan.
 */
static void test_wire_len_mismatch(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(4, on_msg, &g);
	uint8_t *d = datagram(8000, 8);
	struct dns_udp_stats st;

	(void)state;
	/* waiting: 1536 of 2000 bytes; the next piece says 8000 and brings 3000 */
	assert_int_equal(add(u, "a", d, 2000, 0, 1536, false, 1), DNS_OK);
	assert_int_equal(add(u, "a", d, 8000, 1536, 3000, false, 1), DNS_ERR_NOT_FOUND);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.len[0], 1536);
	assert_int_equal(g.wire_len[0], 2000);
	assert_memory_equal(g.msg[0], d, 1536);
	assert_int_equal(dns_udp_pending(u), 0);
	/* a smaller one is as foreign: waiting 1536 of 4000, the piece says 1600 */
	assert_int_equal(add(u, "b", d, 4000, 0, 1536, false, 2), DNS_OK);
	assert_int_equal(add(u, "b", d, 1600, 1536, 64, true, 2), DNS_ERR_NOT_FOUND);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.len[1], 1536);
	assert_int_equal(g.wire_len[1], 4000);
	dns_udp_get_stats(u, &st);
	assert_int_equal(st.orphan_pieces, 2);
	assert_int_equal(st.incomplete, 2);
	assert_int_equal(st.cut, 2);
	assert_int_equal(st.datagrams, 2);
	dns_udp_destroy(u);
	free(d);
	got_free(&g);
}

/* The table's bound forces the oldest out, cut; destroy hands over what still waits. */
static void test_bound_of_pending_and_destroy(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(2, on_msg, &g);
	uint8_t *d = datagram(3000, 7);
	struct dns_udp_stats st;

	(void)state;
	assert_int_equal(add(u, "a", d, 3000, 0, 1536, false, 10), DNS_OK);
	assert_int_equal(add(u, "b", d, 3000, 0, 1536, false, 5), DNS_OK);
	assert_int_equal(add(u, "c", d, 3000, 0, 1536, false, 20), DNS_OK);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.key[0], "b"); /* the oldest */
	assert_int_equal(dns_udp_pending(u), 2);
	/* a new first piece under a waiting key: the waiting one is done */
	assert_int_equal(add(u, "a", d, 3000, 0, 1536, false, 30), DNS_OK);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.key[1], "a");
	dns_udp_get_stats(u, &st);
	assert_int_equal(st.incomplete, 2);
	dns_udp_destroy(u);
	assert_int_equal(g.n, 4);
	free(d);
	got_free(&g);
}

static void test_bad_arguments(void **state)
{
	struct got g = { 0 };
	struct dns_udp *u = dns_udp_create(2, on_msg, &g);
	uint8_t d[16] = { 0 };
	char long_key[DNS_UDP_KEY_MAX + 2];

	(void)state;
	assert_null(dns_udp_create(0, on_msg, &g));
	assert_null(dns_udp_create(2, NULL, &g));
	assert_int_equal(add(u, "a", d, 10, 0, 16, true, 1), DNS_ERR_INVAL); /* beyond wire_len */
	assert_int_equal(add(u, "a", d, 70000, 0, 16, false, 1), DNS_ERR_INVAL);
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	assert_int_equal(add(u, long_key, d, 16, 0, 16, true, 1), DNS_ERR_INVAL);
	assert_int_equal(dns_udp_add(u, NULL, 1), DNS_ERR_INVAL);
	assert_int_equal(g.n, 0);
	dns_udp_destroy(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_piece_in_place),
		cmocka_unit_test(test_many_pieces_whole),
		cmocka_unit_test(test_interleaved),
		cmocka_unit_test(test_bound_cut),
		cmocka_unit_test(test_lost_tail_expires),
		cmocka_unit_test(test_gap),
		cmocka_unit_test(test_wire_len_mismatch),
		cmocka_unit_test(test_bound_of_pending_and_destroy),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
