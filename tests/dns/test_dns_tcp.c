// SPDX-License-Identifier: Apache-2.0
/* Unit tests of DNS-over-TCP reassembly (RFC 1035 §4.2.2, RFC 7766 §8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dns.h"

#define MAX_GOT 8

struct got {
	size_t n;
	size_t len[MAX_GOT];
	uint8_t msg[MAX_GOT][600];
};

static void on_msg(const uint8_t *msg, size_t len, void *arg)
{
	struct got *g = arg;

	if (g->n < MAX_GOT && len <= sizeof(g->msg[0])) {
		memcpy(g->msg[g->n], msg, len);
		g->len[g->n] = len;
	}
	g->n++;
}

/* A framed message: 2-octet length then @len octets of pattern @seed. */
static size_t frame(uint8_t *out, size_t len, uint8_t seed)
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	for (size_t i = 0; i < len; i++)
		out[2 + i] = (uint8_t)(seed + i);
	return len + 2;
}

static void assert_msg(const struct got *g, size_t i, size_t len, uint8_t seed)
{
	assert_true(i < g->n);
	assert_int_equal(g->len[i], len);
	for (size_t k = 0; k < len; k++)
		assert_int_equal(g->msg[i][k], (uint8_t)(seed + k));
}

static void test_two_messages_in_one_chunk(void **state)
{
	struct got g = { 0 };
	struct dns_tcp_stream *s = dns_tcp_create(on_msg, &g);
	struct dns_tcp_stats st;
	uint8_t buf[256];
	size_t n;

	(void)state;
	assert_non_null(s);
	n = frame(buf, 40, 1);
	n += frame(buf + n, 60, 100);
	assert_int_equal(dns_tcp_feed(s, buf, n), DNS_OK);
	assert_int_equal(g.n, 2);
	assert_msg(&g, 0, 40, 1);
	assert_msg(&g, 1, 60, 100);
	dns_tcp_get_stats(s, &st);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.bytes, n);
	dns_tcp_destroy(s);
}

static void test_message_split_in_three(void **state)
{
	struct got g = { 0 };
	struct dns_tcp_stream *s = dns_tcp_create(on_msg, &g);
	uint8_t buf[600];
	size_t n = frame(buf, 500, 7);

	(void)state;
	assert_int_equal(dns_tcp_feed(s, buf, 100), DNS_OK);
	assert_int_equal(dns_tcp_feed(s, buf + 100, 300), DNS_OK);
	assert_int_equal(g.n, 0);
	assert_int_equal(dns_tcp_feed(s, buf + 400, n - 400), DNS_OK);
	assert_int_equal(g.n, 1);
	assert_msg(&g, 0, 500, 7);
	dns_tcp_destroy(s);
}

static void test_length_prefix_split(void **state)
{
	struct got g = { 0 };
	struct dns_tcp_stream *s = dns_tcp_create(on_msg, &g);
	uint8_t buf[700];
	size_t n;

	(void)state;
	/* First message ends one octet into the second one's prefix. */
	n = frame(buf, 30, 3);
	n += frame(buf + n, 300, 9);
	assert_int_equal(dns_tcp_feed(s, buf, 33), DNS_OK);
	assert_int_equal(g.n, 1);
	assert_int_equal(dns_tcp_feed(s, buf + 33, 1), DNS_OK);
	assert_int_equal(dns_tcp_feed(s, buf + 34, n - 34), DNS_OK);
	assert_int_equal(g.n, 2);
	assert_msg(&g, 0, 30, 3);
	assert_msg(&g, 1, 300, 9);
	/* One octet at a time. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(dns_tcp_feed(s, buf + i, 1), DNS_OK);
	assert_int_equal(g.n, 4);
	assert_msg(&g, 3, 300, 9);
	dns_tcp_destroy(s);
}

static void test_missing_bytes_inside_a_message(void **state)
{
	struct got g = { 0 };
	struct dns_tcp_stream *s = dns_tcp_create(on_msg, &g);
	struct dns_tcp_stats st;
	uint8_t buf[700];
	size_t n;

	(void)state;
	n = frame(buf, 400, 1);
	n += frame(buf + n, 50, 2);
	/* Capture kept 100 octets of a 300-octet segment, then the rest came whole. */
	assert_int_equal(dns_tcp_feed(s, buf, 100), DNS_OK);
	assert_int_equal(dns_tcp_missing(s, 200), DNS_OK);
	assert_int_equal(dns_tcp_feed(s, buf + 300, n - 300), DNS_OK);
	assert_int_equal(g.n, 1);
	assert_msg(&g, 0, 50, 2);
	dns_tcp_get_stats(s, &st);
	assert_int_equal(st.messages_lost, 1);
	assert_int_equal(st.desyncs, 0);
	assert_int_equal(st.bytes_missing, 200);
	/* 98 buffered octets of the lost message and the 102 fed after the gap. */
	assert_int_equal(st.bytes_discarded, 98 + 102);

	/* Missing octets that end exactly at a message boundary. */
	n = frame(buf, 40, 5);
	n += frame(buf + n, 20, 6);
	assert_int_equal(dns_tcp_feed(s, buf, 10), DNS_OK);
	assert_int_equal(dns_tcp_missing(s, 32), DNS_OK);
	assert_int_equal(dns_tcp_feed(s, buf + 42, n - 42), DNS_OK);
	assert_int_equal(g.n, 2);
	assert_msg(&g, 1, 20, 6);
	dns_tcp_destroy(s);
}

static size_t cut_have, cut_len;
static uint8_t cut_first;

static void on_cut(const uint8_t *msg, size_t have, size_t len, void *arg)
{
	struct got *g = arg;

	(void)g;
	cut_have = have;
	cut_len = len;
	cut_first = msg[0];
}

/* The received part of a message that lost octets goes to the cut callback, once. */
static void test_cut_message_handed_over(void **state)
{
	struct got g = { 0 };
	struct dns_tcp_stream *s = dns_tcp_create(on_msg, &g);
	struct dns_tcp_stats st;
	uint8_t buf[700];
	size_t n;

	(void)state;
	dns_tcp_on_cut(s, on_cut);
	n = frame(buf, 400, 1);
	n += frame(buf + n, 50, 2);
	/* 100 octets in two feeds (98 of the message), then 200 missing, then the rest */
	assert_int_equal(dns_tcp_feed(s, buf, 60), DNS_OK);
	assert_int_equal(dns_tcp_feed(s, buf + 60, 40), DNS_OK);
	assert_int_equal(dns_tcp_missing(s, 200), DNS_OK);
	assert_int_equal(cut_have, 98);
	assert_int_equal(cut_len, 400);
	assert_int_equal(cut_first, 1);
	assert_int_equal(dns_tcp_feed(s, buf + 300, n - 300), DNS_OK);
	assert_int_equal(g.n, 1);
	assert_msg(&g, 0, 50, 2);
	dns_tcp_get_stats(s, &st);
	assert_int_equal(st.messages_lost, 1);
	assert_int_equal(st.messages_cut, 1);

	/* fewer than 12 octets received: no header, nothing handed over */
	cut_have = 0;
	n = frame(buf, 40, 5);
	assert_int_equal(dns_tcp_feed(s, buf, 10), DNS_OK);
	assert_int_equal(dns_tcp_missing(s, 32), DNS_OK);
	assert_int_equal(cut_have, 0);
	dns_tcp_get_stats(s, &st);
	assert_int_equal(st.messages_lost, 2);
	assert_int_equal(st.messages_cut, 1);
	dns_tcp_destroy(s);
}

static void test_missing_prefix_desyncs_until_reset(void **state)
{
	struct got g = { 0 };
	struct dns_tcp_stream *s = dns_tcp_create(on_msg, &g);
	struct dns_tcp_stats st;
	uint8_t buf[300];
	size_t n;

	(void)state;
	n = frame(buf, 40, 1);
	n += frame(buf + n, 50, 2);
	/* The gap covers the end of message 1 and the prefix of message 2. */
	assert_int_equal(dns_tcp_feed(s, buf, 20), DNS_OK);
	assert_int_equal(dns_tcp_missing(s, 30), DNS_ERR_DESYNC);
	assert_int_equal(dns_tcp_feed(s, buf + 50, n - 50), DNS_ERR_DESYNC);
	assert_int_equal(g.n, 0);
	dns_tcp_get_stats(s, &st);
	assert_int_equal(st.desyncs, 1);
	assert_int_equal(st.messages_lost, 1);
	assert_int_equal(st.bytes_discarded, 18 + (n - 50));

	dns_tcp_reset(s);
	assert_int_equal(dns_tcp_feed(s, buf, n), DNS_OK);
	assert_int_equal(g.n, 2);
	assert_msg(&g, 1, 50, 2);

	/* A gap right at a prefix desyncs too. */
	assert_int_equal(dns_tcp_missing(s, 1), DNS_ERR_DESYNC);
	dns_tcp_get_stats(s, &st);
	assert_int_equal(st.desyncs, 2);
	dns_tcp_destroy(s);
}

static void test_zero_length_and_args(void **state)
{
	struct got g = { 0 };
	struct dns_tcp_stream *s = dns_tcp_create(on_msg, &g);
	struct dns_tcp_stats st;
	uint8_t buf[64] = { 0, 0 };
	size_t n = 2;

	(void)state;
	n += frame(buf + n, 12, 4);
	assert_int_equal(dns_tcp_feed(s, buf, n), DNS_OK);
	assert_int_equal(g.n, 1);
	dns_tcp_get_stats(s, &st);
	assert_int_equal(st.empty, 1);
	assert_int_equal(dns_tcp_feed(s, NULL, 0), DNS_OK);
	assert_int_equal(dns_tcp_feed(s, NULL, 1), DNS_ERR_INVAL);
	assert_null(dns_tcp_create(NULL, NULL));
	dns_tcp_destroy(s);
	dns_tcp_destroy(NULL);
}

/* The largest message fits; the buffer is bounded by the 16-bit prefix. */
static void test_largest_message(void **state)
{
	static uint8_t buf[65537];
	struct got g = { 0 };
	struct dns_tcp_stream *s = dns_tcp_create(on_msg, &g);

	(void)state;
	buf[0] = 0xff;
	buf[1] = 0xff;
	assert_int_equal(dns_tcp_feed(s, buf, 30000), DNS_OK);
	assert_int_equal(dns_tcp_feed(s, buf + 30000, sizeof(buf) - 30000), DNS_OK);
	assert_int_equal(g.n, 1);
	dns_tcp_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_messages_in_one_chunk),
		cmocka_unit_test(test_message_split_in_three),
		cmocka_unit_test(test_length_prefix_split),
		cmocka_unit_test(test_missing_bytes_inside_a_message),
		cmocka_unit_test(test_cut_message_handed_over),
		cmocka_unit_test(test_missing_prefix_desyncs_until_reset),
		cmocka_unit_test(test_zero_length_and_args),
		cmocka_unit_test(test_largest_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
