// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the conntrack cache without root: tuples, message parsing, LRU, grace period. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ct.h"
#include "ct_priv.h"
#include "ct_fixture.h"

#define SEC 1000000000ULL

static void assert_tuple_equal(const struct ct_tuple *a, const struct ct_tuple *b)
{
	assert_memory_equal(a, b, sizeof(*a));
}

static void test_inverse_and_nat(void **state)
{
	struct ct_tuple orig = fx_tuple(IPPROTO_TCP, "192.0.2.10", 40000, "198.51.100.1", 80);
	struct ct_tuple plain = fx_tuple(IPPROTO_TCP, "198.51.100.1", 80, "192.0.2.10", 40000);
	struct ct_tuple dnat = fx_tuple(IPPROTO_TCP, "203.0.113.5", 8080, "192.0.2.10", 40000);
	struct ct_tuple snat = fx_tuple(IPPROTO_TCP, "198.51.100.1", 80, "203.0.113.1", 61000);
	struct ct_tuple inv;

	(void)state;
	ct_tuple_inverse(&orig, &inv);
	assert_tuple_equal(&inv, &plain);
	assert_false(ct_tuple_is_nat(&orig, &plain));
	assert_true(ct_tuple_is_nat(&orig, &dnat));
	assert_true(ct_tuple_is_nat(&orig, &snat));

	orig = fx_tuple(IPPROTO_UDP, "2001:db8::10", 5353, "2001:db8:1::53", 53);
	plain = fx_tuple(IPPROTO_UDP, "2001:db8:1::53", 53, "2001:db8::10", 5353);
	ct_tuple_inverse(&orig, &inv);
	assert_tuple_equal(&inv, &plain);
	assert_false(ct_tuple_is_nat(&orig, &plain));

	orig = fx_tuple(IPPROTO_SCTP, "192.0.2.10", 3868, "198.51.100.7", 3868);
	dnat = fx_tuple(IPPROTO_SCTP, "203.0.113.7", 3868, "192.0.2.10", 3868);
	assert_true(ct_tuple_is_nat(&orig, &dnat));

	/* ICMP: the echo id stays in src_port in both directions */
	orig = fx_tuple(IPPROTO_ICMP, "192.0.2.10", 77, "198.51.100.1", 0);
	plain = fx_tuple(IPPROTO_ICMP, "198.51.100.1", 77, "192.0.2.10", 0);
	ct_tuple_inverse(&orig, &inv);
	assert_tuple_equal(&inv, &plain);
	assert_false(ct_tuple_is_nat(&orig, &plain));
	orig = fx_tuple(IPPROTO_ICMPV6, "2001:db8::10", 9, "2001:db8:1::1", 0);
	dnat = fx_tuple(IPPROTO_ICMPV6, "2001:db8:2::1", 9, "2001:db8::10", 0);
	assert_true(ct_tuple_is_nat(&orig, &dnat));
}

/* Build what the kernel sends (CTA_TUPLE_ORIG + CTA_TUPLE_REPLY) and parse it back. */
static void roundtrip(const struct ct_tuple *orig, const struct ct_tuple *reply)
{
	char buf[4096];
	struct nf_conntrack *ct = nfct_new();
	struct ct_tuple got_orig, got_reply;
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int i;

	assert_non_null(ct);
	for (i = 0; i < 2; i++) {
		const struct ct_tuple *t = i ? reply : orig;

		nfct_set_attr_u8(ct, i ? ATTR_REPL_L3PROTO : ATTR_L3PROTO, t->family);
		nfct_set_attr_u8(ct, i ? ATTR_REPL_L4PROTO : ATTR_L4PROTO, t->proto);
		if (t->family == AF_INET) {
			uint32_t a;

			memcpy(&a, t->src.bytes, 4);
			nfct_set_attr_u32(ct, i ? ATTR_REPL_IPV4_SRC : ATTR_IPV4_SRC, a);
			memcpy(&a, t->dst.bytes, 4);
			nfct_set_attr_u32(ct, i ? ATTR_REPL_IPV4_DST : ATTR_IPV4_DST, a);
		} else {
			nfct_set_attr(ct, i ? ATTR_REPL_IPV6_SRC : ATTR_IPV6_SRC, t->src.bytes);
			nfct_set_attr(ct, i ? ATTR_REPL_IPV6_DST : ATTR_IPV6_DST, t->dst.bytes);
		}
		if (t->proto == IPPROTO_ICMP || t->proto == IPPROTO_ICMPV6) {
			if (!i) {
				nfct_set_attr_u8(ct, ATTR_ICMP_TYPE, 8);
				nfct_set_attr_u8(ct, ATTR_ICMP_CODE, 0);
				nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(t->src_port));
			}
		} else {
			nfct_set_attr_u16(ct, i ? ATTR_REPL_PORT_SRC : ATTR_PORT_SRC,
					  htons(t->src_port));
			nfct_set_attr_u16(ct, i ? ATTR_REPL_PORT_DST : ATTR_PORT_DST,
					  htons(t->dst_port));
		}
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = orig->family;
	assert_int_equal(nfct_nlmsg_build(nlh, ct), 0);
	nfct_destroy(ct);

	assert_int_equal(ct_tuples_from_nlmsg(nlh, &got_orig, &got_reply), 0);
	assert_tuple_equal(&got_orig, orig);
	if (orig->proto == IPPROTO_ICMP || orig->proto == IPPROTO_ICMPV6) {
		/* libnetfilter_conntrack writes no id into the reply nest: only addresses */
		assert_memory_equal(&got_reply.src, &reply->src, sizeof(reply->src));
		assert_memory_equal(&got_reply.dst, &reply->dst, sizeof(reply->dst));
	} else {
		assert_tuple_equal(&got_reply, reply);
	}
}

static void test_parse_nlmsg(void **state)
{
	struct ct_tuple o, r;

	(void)state;
	o = fx_tuple(IPPROTO_TCP, "192.0.2.10", 40000, "198.51.100.1", 80);
	r = fx_tuple(IPPROTO_TCP, "203.0.113.5", 8080, "192.0.2.10", 40000);
	roundtrip(&o, &r);
	o = fx_tuple(IPPROTO_UDP, "2001:db8::10", 5353, "2001:db8:1::53", 53);
	r = fx_tuple(IPPROTO_UDP, "2001:db8:2::53", 5353, "2001:db8:3::1", 1024);
	roundtrip(&o, &r);
	o = fx_tuple(IPPROTO_SCTP, "192.0.2.10", 3868, "198.51.100.7", 3868);
	r = fx_tuple(IPPROTO_SCTP, "203.0.113.7", 3868, "192.0.2.10", 3868);
	roundtrip(&o, &r);
	o = fx_tuple(IPPROTO_ICMP, "192.0.2.10", 77, "198.51.100.1", 0);
	r = fx_tuple(IPPROTO_ICMP, "203.0.113.1", 77, "192.0.2.10", 0);
	roundtrip(&o, &r);
}

static void test_parse_rejects(void **state)
{
	char buf[256];
	struct ct_tuple o, r;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));

	(void)state;
	nfg->nfgen_family = AF_INET;
	assert_int_equal(ct_tuples_from_nlmsg(nlh, &o, &r), -EBADMSG); /* no tuples */
	nfg->nfgen_family = AF_BRIDGE;
	assert_int_equal(ct_tuples_from_nlmsg(nlh, &o, &r), -EPROTONOSUPPORT);
}

static struct ct_cache *pure_cache(uint32_t max_entries, uint64_t grace_ns)
{
	struct ct_cache_opts opts;
	struct ct_cache *cache = NULL;

	ct_cache_opts_init(&opts);
	opts.no_netlink = true;
	opts.max_entries = max_entries;
	opts.grace_ns = grace_ns;
	assert_int_equal(ct_cache_create(&opts, 0, &cache), 0);
	assert_int_equal(ct_cache_fd(cache), -ENOTCONN);
	return cache;
}

static void test_hit_miss_both_directions(void **state)
{
	struct ct_cache *cache = pure_cache(16, 60 * SEC);
	/* client -> VIP:80 DNAT'd to backend:8080 and masqueraded to 203.0.113.1:61000 */
	struct ct_tuple orig = fx_tuple(IPPROTO_TCP, "192.0.2.10", 40000, "198.51.100.1", 80);
	struct ct_tuple reply = fx_tuple(IPPROTO_TCP, "203.0.113.5", 8080, "203.0.113.1", 61000);
	struct ct_tuple server, other;
	struct ct_result res;
	struct ct_stats st;

	(void)state;
	assert_int_equal(ct_cache_insert(cache, &orig, &reply, 1), 0);
	assert_int_equal(ct_cache_lookup(cache, &orig, 2, &res), CT_OK);
	assert_true(res.nat && res.src_nat && res.dst_nat && !res.destroyed);
	assert_int_equal(res.dir, CT_DIR_ORIG);
	other = fx_tuple(IPPROTO_TCP, "203.0.113.1", 61000, "203.0.113.5", 8080);
	assert_tuple_equal(&res.actual, &other);

	/* the backend's accepted socket sees the reply tuple: local backend, remote node */
	server = reply;
	assert_int_equal(ct_cache_lookup(cache, &server, 3, &res), CT_OK);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	other = fx_tuple(IPPROTO_TCP, "198.51.100.1", 80, "192.0.2.10", 40000);
	assert_tuple_equal(&res.actual, &other);

	/* same addresses, other protocol: a different flow */
	other = orig;
	other.proto = IPPROTO_UDP;
	assert_int_equal(ct_cache_lookup(cache, &other, 4, &res), CT_NOT_FOUND);
	assert_false(res.nat);
	assert_tuple_equal(&res.actual, &other);

	other.family = 99;
	assert_int_equal(ct_cache_lookup(cache, &other, 4, &res), -EAFNOSUPPORT);
	other = orig;
	other.proto = IPPROTO_GRE;
	assert_int_equal(ct_cache_lookup(cache, &other, 4, &res), -EPROTONOSUPPORT);

	ct_cache_stats(cache, &st);
	assert_int_equal(st.hit, 2);
	assert_int_equal(st.miss, 1);
	assert_int_equal(st.entries, 1);
	ct_cache_destroy(cache);
}

static void test_untranslated_only_kept_when_asked(void **state)
{
	struct ct_cache *cache = pure_cache(16, 60 * SEC);
	struct ct_tuple orig = fx_tuple(IPPROTO_UDP, "192.0.2.10", 5000, "198.51.100.53", 53);
	struct ct_tuple reply;
	struct ct_result res;
	struct ct_stats st;

	(void)state;
	ct_tuple_inverse(&orig, &reply);
	/* dump and events skip plain entries */
	ct_cache_apply_new(cache, &orig, &reply, CT_FROM_DUMP, 1);
	ct_cache_stats(cache, &st);
	assert_int_equal(st.entries, 0);
	/* a hand insert (or a GET answer) keeps it: the next lookup then costs no GET */
	assert_int_equal(ct_cache_insert(cache, &orig, &reply, 1), 0);
	assert_int_equal(ct_cache_lookup(cache, &orig, 2, &res), CT_OK);
	assert_false(res.nat || res.src_nat || res.dst_nat);
	assert_tuple_equal(&res.actual, &orig);
	ct_cache_destroy(cache);
}

static struct ct_tuple nth_orig(int i)
{
	char src[32];

	snprintf(src, sizeof(src), "192.0.2.%d", i + 1);
	return fx_tuple(IPPROTO_TCP, src, 40000, "198.51.100.1", 80);
}

static struct ct_tuple nth_reply(int i)
{
	char src[32];

	snprintf(src, sizeof(src), "192.0.2.%d", i + 1);
	return fx_tuple(IPPROTO_TCP, "203.0.113.5", 8080, src, 40000);
}

static void test_lru_bound(void **state)
{
	struct ct_cache *cache = pure_cache(4, 60 * SEC);
	struct ct_result res;
	struct ct_stats st;
	struct ct_tuple o, r;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		o = nth_orig(i);
		r = nth_reply(i);
		assert_int_equal(ct_cache_insert(cache, &o, &r, i), 0);
	}
	/* touch 0: now 1 is the least recently used */
	o = nth_orig(0);
	assert_int_equal(ct_cache_lookup(cache, &o, 10, &res), CT_OK);
	o = nth_orig(4);
	r = nth_reply(4);
	assert_int_equal(ct_cache_insert(cache, &o, &r, 11), 0);
	ct_cache_stats(cache, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 1);
	o = nth_orig(1);
	assert_int_equal(ct_cache_lookup(cache, &o, 12, &res), CT_NOT_FOUND);
	for (i = 0; i < 5; i++) {
		if (i == 1)
			continue;
		o = nth_orig(i);
		assert_int_equal(ct_cache_lookup(cache, &o, 13, &res), CT_OK);
	}
	/* many more inserts never exceed the bound */
	for (i = 5; i < 200; i++) {
		o = nth_orig(i);
		r = nth_reply(i);
		assert_int_equal(ct_cache_insert(cache, &o, &r, 20 + i), 0);
	}
	ct_cache_stats(cache, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 196);
	ct_cache_destroy(cache);
}

static void test_grace_period(void **state)
{
	struct ct_cache *cache = pure_cache(8, 60 * SEC);
	struct ct_tuple o = nth_orig(0), r = nth_reply(0);
	struct ct_result res;
	struct ct_stats st;

	(void)state;
	assert_int_equal(ct_cache_insert(cache, &o, &r, 1 * SEC), 0);
	assert_int_equal(ct_cache_remove(cache, &o, 10 * SEC), CT_OK);
	assert_int_equal(ct_cache_lookup(cache, &o, 69 * SEC, &res), CT_OK);
	assert_true(res.destroyed && res.nat);
	ct_cache_stats(cache, &st);
	assert_int_equal(st.destroyed_entries, 1);
	assert_int_equal(ct_cache_process(cache, 69 * SEC), 0);
	ct_cache_stats(cache, &st);
	assert_int_equal(st.expirations, 0);
	assert_int_equal(ct_cache_process(cache, 70 * SEC), 0);
	ct_cache_stats(cache, &st);
	assert_int_equal(st.expirations, 1);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.destroyed_entries, 0);
	assert_int_equal(ct_cache_lookup(cache, &o, 70 * SEC, &res), CT_NOT_FOUND);

	/* expiry also happens at lookup time, without process() */
	assert_int_equal(ct_cache_insert(cache, &o, &r, 100 * SEC), 0);
	assert_int_equal(ct_cache_remove(cache, &o, 100 * SEC), CT_OK);
	assert_int_equal(ct_cache_lookup(cache, &o, 160 * SEC, &res), CT_NOT_FOUND);
	ct_cache_stats(cache, &st);
	assert_int_equal(st.expirations, 2);

	/* a NEW event for the same tuple revives a destroyed entry; a stale dump copy does not */
	assert_int_equal(ct_cache_insert(cache, &o, &r, 200 * SEC), 0);
	assert_int_equal(ct_cache_remove(cache, &o, 201 * SEC), CT_OK);
	ct_cache_apply_new(cache, &o, &r, CT_FROM_DUMP, 202 * SEC);
	assert_int_equal(ct_cache_lookup(cache, &o, 203 * SEC, &res), CT_OK);
	assert_true(res.destroyed);
	ct_cache_apply_new(cache, &o, &r, CT_FROM_EVENT, 204 * SEC);
	assert_int_equal(ct_cache_lookup(cache, &o, 205 * SEC, &res), CT_OK);
	assert_false(res.destroyed);
	ct_cache_destroy(cache);
}

static void test_update(void **state)
{
	struct ct_cache *cache = pure_cache(8, 60 * SEC);
	struct ct_tuple o = nth_orig(0), r = nth_reply(0);
	struct ct_tuple r2 = fx_tuple(IPPROTO_TCP, "203.0.113.9", 9090, "192.0.2.1", 40000);
	struct ct_result res;
	struct ct_stats st;

	(void)state;
	assert_int_equal(ct_cache_insert(cache, &o, &r, 1), 0);
	ct_cache_apply_new(cache, &o, &r2, CT_FROM_EVENT, 2);
	assert_int_equal(ct_cache_lookup(cache, &o, 3, &res), CT_OK);
	assert_int_equal(res.actual.dst_port, 9090);
	assert_memory_equal(res.actual.dst.bytes, r2.src.bytes, 4);
	/* the old reply tuple no longer resolves */
	assert_int_equal(ct_cache_lookup(cache, &r, 4, &res), CT_NOT_FOUND);
	ct_cache_stats(cache, &st);
	assert_int_equal(st.entries, 1);
	ct_cache_destroy(cache);
}

static void test_sweep_after_resync(void **state)
{
	struct ct_cache *cache = pure_cache(8, 60 * SEC);
	struct ct_tuple o0 = nth_orig(0), r0 = nth_reply(0), o1 = nth_orig(1), r1 = nth_reply(1);
	struct ct_result res;

	(void)state;
	assert_int_equal(ct_cache_insert(cache, &o0, &r0, 1), 0);
	assert_int_equal(ct_cache_insert(cache, &o1, &r1, 1), 0);
	cache->gen++; /* what a new dump does */
	ct_cache_apply_new(cache, &o1, &r1, CT_FROM_DUMP, 2);
	ct_cache_sweep(cache, 3);
	assert_int_equal(ct_cache_lookup(cache, &o0, 4, &res), CT_OK);
	assert_true(res.destroyed);
	assert_int_equal(ct_cache_lookup(cache, &o1, 4, &res), CT_OK);
	assert_false(res.destroyed);
	ct_cache_destroy(cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inverse_and_nat),
		cmocka_unit_test(test_parse_nlmsg),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_hit_miss_both_directions),
		cmocka_unit_test(test_untranslated_only_kept_when_asked),
		cmocka_unit_test(test_lru_bound),
		cmocka_unit_test(test_grace_period),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_sweep_after_resync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
