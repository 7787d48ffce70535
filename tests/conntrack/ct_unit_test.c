// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of conntrack/ without root: tuples, message parsing, and the pure table (LRU, grace
 * period, resync sweep, reused tuples resolved by time, negative entries).
 */
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

static struct ct_table *table_new(uint32_t max_entries, uint64_t grace_ns)
{
	struct ct_table_opts opts;
	struct ct_table *table = NULL;

	ct_table_opts_init(&opts);
	opts.max_entries = max_entries;
	opts.grace_ns = grace_ns;
	assert_int_equal(ct_table_create(&opts, &table), 0);
	return table;
}

static int lookup(struct ct_table *t, const struct ct_tuple *tuple, uint64_t now,
		  struct ct_result *res)
{
	return ct_table_lookup(t, tuple, &CT_WINDOW_ANY, now, res);
}

static int lookup_in(struct ct_table *t, const struct ct_tuple *tuple, uint64_t first,
		     uint64_t last, uint64_t now, struct ct_result *res)
{
	struct ct_window w = { first, last, 0 };

	return ct_table_lookup(t, tuple, &w, now, res);
}

static void test_hit_miss_both_directions(void **state)
{
	struct ct_table *table = table_new(16, 60 * SEC);
	/* client -> VIP:80 DNAT'd to backend:8080 and masqueraded to 203.0.113.1:61000 */
	struct ct_tuple orig = fx_tuple(IPPROTO_TCP, "192.0.2.10", 40000, "198.51.100.1", 80);
	struct ct_tuple reply = fx_tuple(IPPROTO_TCP, "203.0.113.5", 8080, "203.0.113.1", 61000);
	struct ct_tuple server, other;
	struct ct_result res;
	struct ct_table_stats st;

	(void)state;
	assert_int_equal(ct_table_learn(table, &orig, &reply, CT_FROM_DUMP, 1), 0);
	assert_int_equal(lookup(table, &orig, 2, &res), CT_OK);
	assert_true(res.nat && res.src_nat && res.dst_nat && !res.destroyed);
	assert_int_equal(res.dir, CT_DIR_ORIG);
	other = fx_tuple(IPPROTO_TCP, "203.0.113.1", 61000, "203.0.113.5", 8080);
	assert_tuple_equal(&res.actual, &other);

	/* the backend's accepted socket sees the reply tuple: local backend, remote node */
	server = reply;
	assert_int_equal(lookup(table, &server, 3, &res), CT_OK);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	other = fx_tuple(IPPROTO_TCP, "198.51.100.1", 80, "192.0.2.10", 40000);
	assert_tuple_equal(&res.actual, &other);

	/* same addresses, other protocol: a different flow */
	other = orig;
	other.proto = IPPROTO_UDP;
	assert_int_equal(lookup(table, &other, 4, &res), CT_NOT_FOUND);
	assert_false(res.nat);
	assert_tuple_equal(&res.actual, &other);

	other.family = 99;
	assert_int_equal(lookup(table, &other, 4, &res), -EAFNOSUPPORT);
	other = orig;
	other.proto = IPPROTO_GRE;
	assert_int_equal(lookup(table, &other, 4, &res), -EPROTONOSUPPORT);
	assert_int_equal(ct_table_lookup(table, &orig, NULL, 4, &res), -EINVAL);
	other = orig;
	other.family = AF_INET6;
	assert_int_equal(ct_table_learn(table, &other, &reply, CT_FROM_DUMP, 4), -EINVAL);

	ct_table_stats(table, &st);
	assert_int_equal(st.hit, 2);
	assert_int_equal(st.miss, 1);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.negative_entries, 0);
	ct_table_destroy(table);
}

static void test_untranslated_kept_only_when_useful(void **state)
{
	struct ct_table *table = table_new(16, 60 * SEC);
	struct ct_tuple orig = fx_tuple(IPPROTO_UDP, "192.0.2.10", 5000, "198.51.100.53", 53);
	struct ct_tuple reply;
	struct ct_result res;
	struct ct_table_stats st;

	(void)state;
	ct_tuple_inverse(&orig, &reply);
	/* dump and events skip plain entries that shadow nothing */
	assert_int_equal(ct_table_learn(table, &orig, &reply, CT_FROM_DUMP, 1), 0);
	assert_int_equal(ct_table_learn(table, &orig, &reply, CT_FROM_EVENT, 1), 0);
	ct_table_stats(table, &st);
	assert_int_equal(st.entries, 0);
	/* a GET answer is kept: the next lookup of the flow then costs no GET */
	assert_int_equal(ct_table_learn(table, &orig, &reply, CT_FROM_GET, 1), 0);
	assert_int_equal(lookup(table, &orig, 2, &res), CT_OK);
	assert_false(res.nat || res.src_nat || res.dst_nat);
	assert_tuple_equal(&res.actual, &orig);
	ct_table_stats(table, &st);
	assert_int_equal(st.negative_entries, 1);
	assert_int_equal(st.negatives_stored, 0); /* it shadows nothing */
	ct_table_destroy(table);
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
	struct ct_table *table = table_new(4, 60 * SEC);
	struct ct_result res;
	struct ct_table_stats st;
	struct ct_tuple o, r;
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		o = nth_orig(i);
		r = nth_reply(i);
		assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_DUMP, i), 0);
	}
	/* touch 0: now 1 is the least recently used */
	o = nth_orig(0);
	assert_int_equal(lookup(table, &o, 10, &res), CT_OK);
	o = nth_orig(4);
	r = nth_reply(4);
	assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_DUMP, 11), 0);
	ct_table_stats(table, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 1);
	o = nth_orig(1);
	assert_int_equal(lookup(table, &o, 12, &res), CT_NOT_FOUND);
	for (i = 0; i < 5; i++) {
		if (i == 1)
			continue;
		o = nth_orig(i);
		assert_int_equal(lookup(table, &o, 13, &res), CT_OK);
	}
	/* many more inserts never exceed the bound */
	for (i = 5; i < 200; i++) {
		o = nth_orig(i);
		r = nth_reply(i);
		assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_EVENT, 20 + i), 0);
	}
	ct_table_stats(table, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 196);
	ct_table_destroy(table);
}

static void test_grace_period(void **state)
{
	struct ct_table *table = table_new(8, 60 * SEC);
	struct ct_tuple o = nth_orig(0), r = nth_reply(0);
	struct ct_result res;
	struct ct_table_stats st;

	(void)state;
	assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_EVENT, 1 * SEC), 0);
	assert_int_equal(ct_table_forget(table, &o, 10 * SEC), CT_OK);
	assert_int_equal(ct_table_forget(table, &o, 11 * SEC), CT_NOT_FOUND); /* already */
	assert_int_equal(lookup(table, &o, 69 * SEC, &res), CT_OK);
	assert_true(res.destroyed && res.nat);
	ct_table_stats(table, &st);
	assert_int_equal(st.destroyed_entries, 1);
	ct_table_expire(table, 69 * SEC);
	ct_table_stats(table, &st);
	assert_int_equal(st.expirations, 0);
	ct_table_expire(table, 70 * SEC);
	ct_table_stats(table, &st);
	assert_int_equal(st.expirations, 1);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.destroyed_entries, 0);
	assert_int_equal(lookup(table, &o, 70 * SEC, &res), CT_NOT_FOUND);

	/* past its grace an entry no longer resolves, even before ct_table_expire() */
	assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_EVENT, 100 * SEC), 0);
	assert_int_equal(ct_table_forget(table, &o, 100 * SEC), CT_OK);
	assert_int_equal(lookup(table, &o, 160 * SEC, &res), CT_NOT_FOUND);

	/* a NEW event for the same tuples revives a destroyed entry; a stale dump copy does not */
	assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_EVENT, 200 * SEC), 0);
	assert_int_equal(ct_table_forget(table, &o, 201 * SEC), CT_OK);
	assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_DUMP, 202 * SEC), 0);
	assert_int_equal(lookup(table, &o, 203 * SEC, &res), CT_OK);
	assert_true(res.destroyed);
	assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_EVENT, 204 * SEC), 0);
	assert_int_equal(lookup(table, &o, 205 * SEC, &res), CT_OK);
	assert_false(res.destroyed);
	/* and it still resolves a flow of the earlier connection with the same tuples */
	assert_int_equal(lookup_in(table, &o, 199 * SEC, 200 * SEC, 205 * SEC, &res), CT_OK);
	ct_table_destroy(table);
}

static void test_update(void **state)
{
	struct ct_table *table = table_new(8, 60 * SEC);
	struct ct_tuple o = nth_orig(0), r = nth_reply(0);
	struct ct_tuple r2 = fx_tuple(IPPROTO_TCP, "203.0.113.9", 9090, "192.0.2.1", 40000);
	struct ct_result res;
	struct ct_table_stats st;

	(void)state;
	assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_DUMP, 1 * SEC), 0);
	/* the same orig_tuple with another translation: the first connection is gone */
	assert_int_equal(ct_table_learn(table, &o, &r2, CT_FROM_EVENT, 2 * SEC), 0);
	assert_int_equal(lookup_in(table, &o, 3 * SEC, 3 * SEC, 3 * SEC, &res), CT_OK);
	assert_int_equal(res.actual.dst_port, 9090);
	assert_memory_equal(res.actual.dst.bytes, r2.src.bytes, 4);
	/* the old reply tuple belongs to a connection that ended at 2 s */
	assert_int_equal(lookup_in(table, &r, 3 * SEC, 3 * SEC, 3 * SEC, &res), CT_NOT_FOUND);
	/* a flow of the old connection (more than the 1 s slack before), exported late, keeps its
	 * own translation */
	assert_int_equal(lookup_in(table, &o, 0, SEC / 2, 3 * SEC, &res), CT_OK);
	assert_int_equal(res.actual.dst_port, 8080);
	assert_true(res.destroyed);
	ct_table_stats(table, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.destroyed_entries, 1);
	assert_int_equal(st.superseded, 1);
	ct_table_destroy(table);
}

static void test_sweep_after_resync(void **state)
{
	struct ct_table *table = table_new(8, 60 * SEC);
	struct ct_tuple o0 = nth_orig(0), r0 = nth_reply(0), o1 = nth_orig(1), r1 = nth_reply(1);
	struct ct_result res;

	(void)state;
	assert_int_equal(ct_table_learn(table, &o0, &r0, CT_FROM_DUMP, 1), 0);
	assert_int_equal(ct_table_learn(table, &o1, &r1, CT_FROM_DUMP, 1), 0);
	ct_table_sync_begin(table);
	assert_int_equal(ct_table_learn(table, &o1, &r1, CT_FROM_DUMP, 2), 0);
	ct_table_sync_end(table, false, 3); /* an incomplete dump sweeps nothing */
	assert_int_equal(lookup(table, &o0, 4, &res), CT_OK);
	assert_false(res.destroyed);
	ct_table_sync_end(table, true, 3);
	assert_int_equal(lookup(table, &o0, 4, &res), CT_OK);
	assert_true(res.destroyed);
	assert_int_equal(lookup(table, &o1, 4, &res), CT_OK);
	assert_false(res.destroyed);
	ct_table_destroy(table);
}

/*
 * Issue 9 section 3: client 192.0.2.2:P -> VIP 203.0.113.10:80, DNAT'd to 198.51.100.2:8080;
 * that connection ends, then the same client port goes straight to 198.51.100.2:8080. Both
 * entries have the reply tuple 198.51.100.2:8080 -> 192.0.2.2:P, which is the server's view.
 */
struct reuse {
	struct ct_tuple nat_orig, nat_reply, plain_orig, plain_reply, server, client_nat;
};

static struct reuse reuse_case(uint8_t proto, bool v6)
{
	struct reuse c;
	const char *cl = v6 ? "2001:db8:1::2" : "192.0.2.2";
	const char *vip = v6 ? "2001:db8:3::10" : "203.0.113.10";
	const char *be = v6 ? "2001:db8:2::2" : "198.51.100.2";

	c.nat_orig = fx_tuple(proto, cl, 40000, vip, 80);
	c.nat_reply = fx_tuple(proto, be, 8080, cl, 40000);
	c.plain_orig = fx_tuple(proto, cl, 40000, be, 8080);
	ct_tuple_inverse(&c.plain_orig, &c.plain_reply);
	c.server = c.nat_reply;
	c.client_nat = c.nat_orig;
	return c;
}

static void check_reuse(struct ct_table *table, const struct reuse *c, bool server_first)
{
	struct ct_result res;

	/* the second (direct) connection ran at 20..21 s; the first at 1..2 s */
	for (int i = 0; i < 2; i++) {
		if ((i == 0) == server_first) {
			assert_int_equal(lookup_in(table, &c->server, 20 * SEC, 21 * SEC, 22 * SEC,
						   &res),
					 CT_OK);
			assert_false(res.nat || res.src_nat || res.dst_nat);
			assert_tuple_equal(&res.actual, &c->server);
		} else {
			assert_int_equal(lookup_in(table, &c->plain_orig, 20 * SEC, 21 * SEC,
						   22 * SEC, &res),
					 CT_OK);
			assert_false(res.nat);
			assert_tuple_equal(&res.actual, &c->plain_orig);
		}
	}
	/* the first connection's records, exported late, keep their translation */
	assert_int_equal(lookup_in(table, &c->server, 1 * SEC, 2 * SEC, 22 * SEC, &res), CT_OK);
	assert_true(res.nat && res.destroyed);
	assert_int_equal(res.dir, CT_DIR_REPLY);
	assert_memory_equal(&res.actual.src, &c->nat_orig.dst, sizeof(res.actual.src));
	assert_int_equal(lookup_in(table, &c->client_nat, 1 * SEC, 2 * SEC, 22 * SEC, &res), CT_OK);
	assert_true(res.nat);
	assert_int_equal(res.actual.dst_port, 8080);
}

static void test_reused_tuple(void **state)
{
	const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };

	(void)state;
	for (int p = 0; p < 2; p++) {
		for (int v6 = 0; v6 < 2; v6++) {
			for (int server_first = 0; server_first < 2; server_first++) {
				struct reuse c = reuse_case(protos[p], v6);
				struct ct_table *table = table_new(64, 60 * SEC);
				struct ct_table_stats st;

				/* NEW at 1 s, DESTROY at 10 s, the direct NEW at 20 s */
				assert_int_equal(ct_table_learn(table, &c.nat_orig, &c.nat_reply,
								CT_FROM_EVENT, 1 * SEC),
						 0);
				assert_int_equal(ct_table_forget(table, &c.nat_orig, 10 * SEC),
						 CT_OK);
				assert_int_equal(ct_table_learn(table, &c.plain_orig,
								&c.plain_reply, CT_FROM_EVENT,
								20 * SEC),
						 0);
				check_reuse(table, &c, server_first);
				ct_table_stats(table, &st);
				assert_int_equal(st.negative_entries, 1);
				assert_int_equal(st.negatives_stored, 1);
				ct_table_destroy(table);
			}
		}
	}
}

static void test_reused_tuple_destroy_missed(void **state)
{
	struct reuse c = reuse_case(IPPROTO_TCP, false);
	struct ct_table *table = table_new(64, 60 * SEC);
	struct ct_result res;
	struct ct_table_stats st;

	(void)state;
	/* the translated entry came from the dump and its DESTROY never came (events=2) */
	assert_int_equal(ct_table_learn(table, &c.nat_orig, &c.nat_reply, CT_FROM_DUMP, 1 * SEC),
			 0);
	assert_int_equal(
		ct_table_learn(table, &c.plain_orig, &c.plain_reply, CT_FROM_EVENT, 20 * SEC), 0);
	ct_table_stats(table, &st);
	assert_int_equal(st.superseded, 1);
	assert_int_equal(lookup_in(table, &c.server, 20 * SEC, 21 * SEC, 22 * SEC, &res), CT_OK);
	assert_false(res.nat);
	/* a flow before the direct connection's NEW still gets the translation */
	assert_int_equal(lookup_in(table, &c.server, 1 * SEC, 2 * SEC, 22 * SEC, &res), CT_OK);
	assert_true(res.nat);
	ct_table_destroy(table);
}

/*
 * The same client port reused 0.6 s after the Service connection ended, straight to the
 * backend: the direct entry's NEW was read within the birth slack of the first connection's
 * last packet, but only the Service entry was alive in that window itself.
 */
static void test_reused_tuple_within_slack(void **state)
{
	const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };

	(void)state;
	for (int p = 0; p < 2; p++) {
		struct reuse c = reuse_case(protos[p], false);
		struct ct_table *table = table_new(64, 60 * SEC);
		struct ct_result res;

		/* A: NEW read at 100 s, DESTROY at 100.5 s; B (direct): NEW read at 101.1 s */
		assert_int_equal(ct_table_learn(table, &c.nat_orig, &c.nat_reply, CT_FROM_EVENT,
						100 * SEC),
				 0);
		assert_int_equal(ct_table_forget(table, &c.nat_orig, 100 * SEC + SEC / 2), CT_OK);
		assert_int_equal(ct_table_learn(table, &c.plain_orig, &c.plain_reply, CT_FROM_EVENT,
						101 * SEC + SEC / 10),
				 0);
		/* A's server-side record, 100.0..100.4 s, keeps its translation */
		assert_int_equal(lookup_in(table, &c.server, 100 * SEC, 100 * SEC + 4 * SEC / 10,
					   102 * SEC, &res),
				 CT_OK);
		assert_true(res.nat && res.destroyed);
		assert_int_equal(res.dir, CT_DIR_REPLY);
		assert_memory_equal(&res.actual.src, &c.nat_orig.dst, sizeof(res.actual.src));
		/* B's records, 101.0..101.05 s (stamped before its NEW was read), are direct */
		assert_int_equal(lookup_in(table, &c.server, 101 * SEC, 101 * SEC + SEC / 20,
					   102 * SEC, &res),
				 CT_OK);
		assert_false(res.nat || res.destroyed);
		assert_int_equal(lookup_in(table, &c.plain_orig, 101 * SEC, 101 * SEC + SEC / 20,
					   102 * SEC, &res),
				 CT_OK);
		assert_false(res.nat);
		ct_table_destroy(table);
	}
}

static void test_window(void **state)
{
	struct ct_table *table = table_new(8, 60 * SEC);
	struct ct_tuple o = nth_orig(0), r = nth_reply(0);
	struct ct_result res;
	struct ct_table_stats st;

	(void)state;
	assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_EVENT, 10 * SEC), 0);
	/* a flow that ended 5 s before the entry's NEW was read is another connection */
	assert_int_equal(lookup_in(table, &o, 4 * SEC, 5 * SEC, 11 * SEC, &res), CT_NOT_FOUND);
	assert_false(res.nat);
	/* within the slack (default 1 s: coarse stamps, event latency) it is this one */
	assert_int_equal(lookup_in(table, &o, 9 * SEC, 9 * SEC + SEC / 2, 11 * SEC, &res), CT_OK);
	assert_int_equal(ct_table_forget(table, &o, 20 * SEC), CT_OK);
	/* a flow that began after the entry was destroyed is not its */
	assert_int_equal(lookup_in(table, &o, 21 * SEC, 22 * SEC, 23 * SEC, &res), CT_NOT_FOUND);
	/* one that ended before the destroy is */
	assert_int_equal(lookup_in(table, &o, 12 * SEC, 19 * SEC, 23 * SEC, &res), CT_OK);
	assert_true(res.destroyed);
	ct_table_stats(table, &st);
	assert_int_equal(st.window_rejects, 2);
	ct_table_destroy(table);
}

static void test_tuple_bound(void **state)
{
	struct ct_table *table = table_new(64, 600 * SEC);
	struct ct_tuple o = nth_orig(0), r;
	struct ct_result res;
	struct ct_table_stats st;
	int i;

	(void)state;
	/* the same client tuple DNAT'd to ten backends in turn, each destroyed before the next */
	for (i = 0; i < 10; i++) {
		char be[32];

		snprintf(be, sizeof(be), "203.0.113.%d", i + 1);
		r = fx_tuple(IPPROTO_TCP, be, 8080, "192.0.2.1", 40000);
		assert_int_equal(ct_table_learn(table, &o, &r, CT_FROM_EVENT, (10 * i + 1) * SEC),
				 0);
		assert_int_equal(ct_table_forget(table, &o, (10 * i + 5) * SEC), CT_OK);
	}
	ct_table_stats(table, &st);
	assert_int_equal(st.entries, CT_TUPLE_MAX);
	assert_int_equal(st.tuple_evictions, 10 - CT_TUPLE_MAX);
	/* the newest ones are kept, each answering for its own time */
	for (i = 10 - CT_TUPLE_MAX; i < 10; i++) {
		assert_int_equal(lookup_in(table, &o, (10 * i + 2) * SEC, (10 * i + 3) * SEC,
					   200 * SEC, &res),
				 CT_OK);
		assert_int_equal(res.actual.dst.bytes[3], i + 1);
	}
	assert_int_equal(lookup_in(table, &o, 2 * SEC, 3 * SEC, 200 * SEC, &res), CT_NOT_FOUND);
	ct_table_destroy(table);
}

static int resolved_calls;

static void count_resolved(void *arg, int status, const struct ct_result *res, uint64_t now_ns)
{
	(void)arg;
	(void)status;
	(void)res;
	(void)now_ns;
	resolved_calls++;
}

static void test_nat_without_netlink(void **state)
{
	struct ct_nat_opts opts;
	struct ct_nat *nat = NULL;
	struct ct_tuple o = nth_orig(0), r = nth_reply(0);
	struct ct_window w = CT_WINDOW_ANY;
	struct ct_result res;
	struct ct_stats st;

	(void)state;
	ct_nat_opts_init(&opts);
	opts.no_netlink = true;
	assert_int_equal(ct_nat_create(&opts, 0, &nat), 0);
	assert_int_equal(ct_nat_fd(nat), -ENOTCONN);
	assert_int_equal(ct_nat_resync(nat, 0), -ENOTCONN);
	assert_int_equal(ct_nat_resolve(nat, &o, &w, 1, count_resolved, NULL, &res), CT_NOT_FOUND);
	assert_int_equal(ct_table_learn(ct_nat_table(nat), &o, &r, CT_FROM_EVENT, 2), 0);
	assert_int_equal(ct_nat_resolve(nat, &o, &w, 3, count_resolved, NULL, &res), CT_OK);
	assert_true(res.nat);
	assert_int_equal(ct_nat_process(nat, 4), 0);
	assert_int_equal(ct_nat_next_deadline(nat), UINT64_MAX);
	ct_nat_stats(nat, &st);
	assert_int_equal(st.hit, 1);
	assert_int_equal(st.miss, 1);
	assert_int_equal(st.table.entries, 1);
	assert_int_equal(resolved_calls, 0);
	ct_nat_destroy(nat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inverse_and_nat),
		cmocka_unit_test(test_parse_nlmsg),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_hit_miss_both_directions),
		cmocka_unit_test(test_untranslated_kept_only_when_useful),
		cmocka_unit_test(test_lru_bound),
		cmocka_unit_test(test_grace_period),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_sweep_after_resync),
		cmocka_unit_test(test_reused_tuple),
		cmocka_unit_test(test_reused_tuple_destroy_missed),
		cmocka_unit_test(test_reused_tuple_within_slack),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_tuple_bound),
		cmocka_unit_test(test_nat_without_netlink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
