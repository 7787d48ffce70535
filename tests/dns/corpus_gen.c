// SPDX-License-Identifier: Apache-2.0
/*
 * Writes the DNS test corpus: tests/dns/corpus/valid/ (realistic responses, used by the bench and
 * as fuzz seeds) and tests/dns/corpus/hostile/ (each must be rejected by dns_parse()).
 * Usage: dns_corpus_gen CORPUS_DIR   (CORPUS_DIR/valid and CORPUS_DIR/hostile must exist)
 * The generated files are committed; rerun after changing this file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "wire_build.h"

#define IN_A 1
#define IN_NS 2
#define IN_CNAME 5
#define IN_SOA 6
#define IN_PTR 12
#define IN_MX 15
#define IN_TXT 16
#define IN_AAAA 28
#define IN_SRV 33
#define IN_HTTPS 65

static const uint8_t v4a[4] = { 192, 0, 2, 10 }, v4b[4] = { 192, 0, 2, 11 };
static const uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t v6b[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 2 };

static void rr_addr(struct wb *w, uint16_t owner, uint16_t type, uint32_t ttl, const uint8_t *a)
{
	size_t at;

	wb_ptr(w, owner);
	at = wb_rr_fixed(w, type, ttl);
	wb_bytes(w, a, type == IN_A ? 4 : 16);
	wb_rdlen(w, at);
}

/* The typical web lookup: one CNAME to a CDN name, two A records, EDNS. */
static void valid_a_cname(struct wb *w)
{
	uint16_t q, t;
	size_t at;

	wb_header(w, 0x1a2b, WB_QR | WB_RD | WB_RA, 1, 3, 0, 1);
	q = wb_question(w, "images.example-shop.com", IN_A);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_CNAME, 300);
	t = (uint16_t)w->n;
	wb_name(w, "e1234.dsca.akamaiedge.net");
	wb_rdlen(w, at);
	rr_addr(w, t, IN_A, 20, v4a);
	rr_addr(w, t, IN_A, 20, v4b);
	wb_opt(w, 1232, 0, 0, 0);
}

static void valid_aaaa(struct wb *w)
{
	uint16_t q;

	wb_header(w, 0x0203, WB_QR | WB_RD | WB_RA, 1, 2, 0, 1);
	q = wb_question(w, "www.example.org", IN_AAAA);
	rr_addr(w, q, IN_AAAA, 3600, v6a);
	rr_addr(w, q, IN_AAAA, 3600, v6b);
	wb_opt(w, 4096, 0, 0, 1);
}

/* Kubernetes service lookup through the search path, as CoreDNS answers it (no EDNS). */
static void valid_k8s_a(struct wb *w)
{
	static const uint8_t vip[4] = { 192, 0, 2, 1 };
	uint16_t q;

	wb_header(w, 0xbeef, WB_QR | WB_AA | WB_RD | WB_RA, 1, 1, 0, 0);
	q = wb_question(w, "kubernetes.default.svc.cluster.local", IN_A);
	rr_addr(w, q, IN_A, 30, vip);
}

/* Two-step CNAME chain, four A records. */
static void valid_cname_chain(struct wb *w)
{
	static const uint8_t a[4][4] = {
		{ 198, 51, 100, 1 }, { 198, 51, 100, 2 }, { 198, 51, 100, 3 }, { 198, 51, 100, 4 }
	};
	uint16_t q, t1, t2;
	size_t at;

	wb_header(w, 0x4242, WB_QR | WB_RD | WB_RA, 1, 6, 0, 1);
	q = wb_question(w, "api.example.com", IN_A);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_CNAME, 60);
	t1 = (uint16_t)w->n;
	wb_labels(w, "api.prod", 0);
	wb_ptr(w, q + 4);
	wb_rdlen(w, at);
	wb_ptr(w, t1);
	at = wb_rr_fixed(w, IN_CNAME, 60);
	t2 = (uint16_t)w->n;
	wb_name(w, "lb-42.elb.example.net");
	wb_rdlen(w, at);
	for (int i = 0; i < 4; i++)
		rr_addr(w, t2, IN_A, 60, a[i]);
	wb_opt(w, 1232, 0, 0, 0);
}

static void valid_nxdomain(struct wb *w)
{
	uint16_t q, z;
	size_t at;

	wb_header(w, 0x7777, WB_QR | WB_RD | WB_RA | 3, 1, 0, 1, 1);
	q = wb_question(w, "nope.example.com", IN_A);
	z = q + 5;
	wb_ptr(w, z);
	at = wb_rr_fixed(w, IN_SOA, 900);
	wb_labels(w, "ns1", 0);
	wb_ptr(w, z);
	wb_labels(w, "hostmaster", 0);
	wb_ptr(w, z);
	wb_u32(w, 2024010101);
	wb_u32(w, 7200);
	wb_u32(w, 3600);
	wb_u32(w, 1209600);
	wb_u32(w, 900);
	wb_rdlen(w, at);
	wb_opt(w, 1232, 0, 0, 0);
}

static void valid_srv(struct wb *w)
{
	uint16_t q, t;
	size_t at;

	wb_header(w, 0x5353, WB_QR | WB_AA | WB_RD | WB_RA, 1, 2, 0, 1);
	q = wb_question(w, "_http._tcp.web.default.svc.cluster.local", IN_SRV);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_SRV, 30);
	wb_u16(w, 0);
	wb_u16(w, 50);
	wb_u16(w, 8080);
	t = (uint16_t)w->n;
	wb_labels(w, "web-0.web", 0);
	wb_ptr(w, q + 15);
	wb_rdlen(w, at);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_SRV, 30);
	wb_u16(w, 10);
	wb_u16(w, 50);
	wb_u16(w, 8080);
	wb_labels(w, "web-1.web", 0);
	wb_ptr(w, q + 15);
	wb_rdlen(w, at);
	rr_addr(w, t, IN_A, 30, v4a);
}

static void valid_mx(struct wb *w)
{
	uint16_t q;
	size_t at;

	wb_header(w, 0x1500, WB_QR | WB_RD | WB_RA, 1, 2, 0, 0);
	q = wb_question(w, "example.com", IN_MX);
	for (int i = 0; i < 2; i++) {
		wb_ptr(w, q);
		at = wb_rr_fixed(w, IN_MX, 3600);
		wb_u16(w, (uint16_t)(10 * (i + 1)));
		wb_labels(w, i ? "mx2" : "mx1", 0);
		wb_ptr(w, q);
		wb_rdlen(w, at);
	}
}

/* Reverse lookup of 192.0.2.10. */
static void valid_ptr(struct wb *w)
{
	uint16_t q;
	size_t at;

	wb_header(w, 0x0c0c, WB_QR | WB_RD | WB_RA, 1, 1, 0, 0);
	q = wb_question(w, "10.2.0.192.in-addr.arpa", IN_PTR);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_PTR, 86400);
	wb_name(w, "host10.example.net");
	wb_rdlen(w, at);
}

static void valid_ns(struct wb *w)
{
	uint16_t q, n1, n2;
	size_t at;

	wb_header(w, 0x0202, WB_QR | WB_RD | WB_RA, 1, 2, 0, 2);
	q = wb_question(w, "example.org", IN_NS);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_NS, 172800);
	n1 = (uint16_t)w->n;
	wb_labels(w, "a.iana-servers", 0);
	wb_u8(w, 3);
	wb_bytes(w, "net", 3);
	wb_u8(w, 0);
	wb_rdlen(w, at);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_NS, 172800);
	n2 = (uint16_t)w->n;
	wb_u8(w, 1);
	wb_u8(w, 'b');
	wb_ptr(w, n1 + 2);
	wb_rdlen(w, at);
	rr_addr(w, n1, IN_A, 172800, v4a);
	rr_addr(w, n2, IN_AAAA, 172800, v6a);
}

/* A TXT answer too big for 512-octet UDP, as fetched again over TCP. */
static void valid_txt_large(struct wb *w)
{
	uint16_t q;
	size_t at;
	char s[255];

	wb_header(w, 0x7e7e, WB_QR | WB_RD | WB_RA, 1, 4, 0, 0);
	q = wb_question(w, "big.example.com", IN_TXT);
	for (int i = 0; i < 4; i++) {
		wb_ptr(w, q);
		at = wb_rr_fixed(w, IN_TXT, 300);
		memset(s, 'a' + i, sizeof(s));
		wb_u8(w, 200);
		wb_bytes(w, s, 200);
		wb_rdlen(w, at);
	}
}

/* HTTPS (RFC 9460) answer with alpn=h2,h3 and ipv4hint, beside an A. */
static void valid_https(struct wb *w)
{
	static const uint8_t params[] = { 0,   1, 0, 6, 2, 'h', '2', 2, 'h',
					  '3', 0, 4, 0, 4, 192, 0,   2, 10 };
	uint16_t q;
	size_t at;

	wb_header(w, 0x6565, WB_QR | WB_RD | WB_RA, 1, 1, 0, 1);
	q = wb_question(w, "www.example.net", IN_HTTPS);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_HTTPS, 300);
	wb_u16(w, 1);
	wb_u8(w, 0);
	wb_bytes(w, params, sizeof(params));
	wb_rdlen(w, at);
	wb_opt(w, 1232, 0, 0, 0);
}

/* A query, as the client sends it. */
static void valid_query(struct wb *w)
{
	wb_header(w, 0x1a2b, WB_RD, 1, 0, 0, 1);
	wb_question(w, "images.example-shop.com", IN_A);
	wb_opt(w, 1232, 0, 0, 0);
}

/* Hostile messages: each exercises one way for a parser to read out of bounds or spin. */

static void h_empty(struct wb *w)
{
	w->n = 0;
}

static void h_short_header(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	w->n = 7;
}

static void h_ptr_self(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	wb_ptr(w, 12);
	wb_u16(w, IN_A);
	wb_u16(w, 1);
}

/* Label "a" then a pointer back to that same label: backward, yet a loop. */
static void h_ptr_label_loop(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	wb_labels(w, "a", 0);
	wb_ptr(w, 12);
	wb_u16(w, IN_A);
	wb_u16(w, 1);
}

/* Two names pointing at each other. */
static void h_ptr_two_loop(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	wb_question(w, "x.example", IN_A);
	wb_ptr(w, (uint16_t)(w->n + 12)); /* owner -> the CNAME target below */
	wb_rr_fixed(w, IN_CNAME, 1);
	w->b[w->n - 1] = 2;
	wb_ptr(w, (uint16_t)(w->n - 12)); /* target -> the owner */
}

static void h_ptr_forward(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	wb_ptr(w, 20);
	wb_u16(w, IN_A);
	wb_u16(w, 1);
	wb_name(w, "later.example");
}

static void h_ptr_out_of_message(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	wb_ptr(w, 0x3fff);
	wb_u16(w, IN_A);
	wb_u16(w, 1);
}

static void h_ptr_cut(struct wb *w)
{
	/* The answer's owner is a pointer whose second octet is missing. */
	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	wb_question(w, "a.example", IN_A);
	wb_u8(w, 0xc0);
}

static void h_label_64(struct wb *w)
{
	char l[64];

	memset(l, 'x', sizeof(l));
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	wb_u8(w, 64);
	wb_bytes(w, l, sizeof(l));
	wb_u8(w, 0);
	wb_u16(w, IN_A);
	wb_u16(w, 1);
}

static void h_label_type_80(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	wb_u8(w, 0x80);
	wb_bytes(w, "abcdefgh", 8);
	wb_u8(w, 0);
	wb_u16(w, IN_A);
	wb_u16(w, 1);
}

static void h_name_too_long(struct wb *w)
{
	char l[63];

	memset(l, 'y', sizeof(l));
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	for (int i = 0; i < 5; i++) {
		wb_u8(w, 63);
		wb_bytes(w, l, sizeof(l));
	}
	wb_u8(w, 0);
	wb_u16(w, IN_A);
	wb_u16(w, 1);
}

/* Each part legal, the whole over 255 octets once the pointer is followed. */
static void h_name_too_long_compressed(struct wb *w)
{
	char l[63];
	uint16_t q;

	memset(l, 'z', sizeof(l));
	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = (uint16_t)w->n;
	for (int i = 0; i < 3; i++) {
		wb_u8(w, 63);
		wb_bytes(w, l, sizeof(l));
	}
	wb_u8(w, 0);
	wb_u16(w, IN_A);
	wb_u16(w, 1);
	wb_u8(w, 63);
	wb_bytes(w, l, sizeof(l));
	wb_ptr(w, q);
	wb_rr_fixed(w, IN_A, 1);
	w->b[w->n - 1] = 4;
	wb_bytes(w, v4a, 4);
}

static void h_name_cut(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	wb_u8(w, 20);
	wb_bytes(w, "short", 5);
}

static void h_counts(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0xffff, 0, 0);
	wb_question(w, "a.example", IN_A);
}

static void h_question_cut(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 0);
	wb_name(w, "a.example");
	wb_u16(w, IN_A);
}

/* ANCOUNT 2 with room for the count check, but only one RR present. */
static void h_rr_missing(struct wb *w)
{
	uint16_t q;

	wb_header(w, 1, WB_QR, 1, 2, 0, 0);
	q = wb_question(w, "www.example.com", IN_A);
	rr_addr(w, q, IN_A, 1, v4a);
}

static void h_rr_cut(struct wb *w)
{
	uint16_t q;

	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(w, "www.example.com", IN_A);
	rr_addr(w, q, IN_A, 1, v4a);
	w->n -= 9; /* cut inside TTL */
}

static void h_rdata_overrun(struct wb *w)
{
	uint16_t q;

	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(w, "www.example.com", IN_TXT);
	wb_ptr(w, q);
	wb_rr_fixed(w, IN_TXT, 1);
	w->b[w->n - 1] = 100;
	wb_bytes(w,
		 "\x03"
		 "abc",
		 4);
}

static void h_a_rdlength(struct wb *w)
{
	uint16_t q;

	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(w, "www.example.com", IN_A);
	wb_ptr(w, q);
	wb_rr_fixed(w, IN_A, 1);
	w->b[w->n - 1] = 5;
	wb_bytes(w, v4a, 4);
	wb_u8(w, 0);
}

static void h_aaaa_rdlength(struct wb *w)
{
	uint16_t q;

	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(w, "www.example.com", IN_AAAA);
	wb_ptr(w, q);
	wb_rr_fixed(w, IN_AAAA, 1);
	w->b[w->n - 1] = 4;
	wb_bytes(w, v4a, 4);
}

/* CNAME whose name runs past its RDLENGTH. */
static void h_cname_overrun(struct wb *w)
{
	uint16_t q;

	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(w, "www.example.com", IN_CNAME);
	wb_ptr(w, q);
	wb_rr_fixed(w, IN_CNAME, 1);
	w->b[w->n - 1] = 3;
	wb_name(w, "target.example");
}

/* CNAME with octets after its name, inside RDLENGTH. */
static void h_cname_slack(struct wb *w)
{
	uint16_t q;
	size_t at;

	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(w, "www.example.com", IN_CNAME);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_CNAME, 1);
	wb_name(w, "t.example");
	wb_u32(w, 0xdeadbeef);
	wb_rdlen(w, at);
}

static void h_srv_short(struct wb *w)
{
	uint16_t q;
	size_t at;

	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(w, "_x._tcp.example.com", IN_SRV);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_SRV, 1);
	wb_u16(w, 1);
	wb_u16(w, 2);
	wb_u8(w, 3);
	wb_rdlen(w, at);
}

static void h_mx_short(struct wb *w)
{
	uint16_t q;
	size_t at;

	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	q = wb_question(w, "example.com", IN_MX);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, IN_MX, 1);
	wb_u16(w, 10);
	wb_rdlen(w, at);
}

static void h_two_opt(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 0, 0, 2);
	wb_question(w, "www.example.com", IN_A);
	wb_opt(w, 1232, 0, 0, 0);
	wb_opt(w, 512, 0, 0, 0);
}

static void h_opt_owner(struct wb *w)
{
	uint16_t q;

	wb_header(w, 1, WB_QR, 1, 0, 0, 1);
	q = wb_question(w, "www.example.com", IN_A);
	wb_ptr(w, q);
	wb_opt(w, 1232, 0, 0, 0);
	/* wb_opt wrote its own root owner: drop it so the pointer is the owner. */
	memmove(w->b + w->n - 11, w->b + w->n - 10, 10);
	w->n--;
}

static void h_authority_overrun(struct wb *w)
{
	uint16_t q;

	wb_header(w, 1, WB_QR | 3, 1, 0, 1, 0);
	q = wb_question(w, "nope.example.com", IN_A);
	wb_ptr(w, q + 5);
	wb_rr_fixed(w, IN_SOA, 1);
	w->b[w->n - 2] = 0x01;
	wb_name(w, "ns1.example.com");
}

/* Loop hidden in the additional section, after a valid answer. */
static void h_additional_loop(struct wb *w)
{
	uint16_t q;
	size_t at;

	wb_header(w, 1, WB_QR, 1, 1, 0, 1);
	q = wb_question(w, "www.example.com", IN_A);
	rr_addr(w, q, IN_A, 1, v4a);
	at = w->n;
	wb_ptr(w, (uint16_t)at);
	wb_rr_fixed(w, IN_A, 1);
	w->b[w->n - 1] = 4;
	wb_bytes(w, v4b, 4);
}

/* Issue 9 §4: 0x00 octets in labels (they must render escaped). */
static void valid_nul_label_mid(struct wb *w)
{
	wb_hex(w, WB_HEX_NUL_LABEL_MID);
}

static void valid_nul_label_first(struct wb *w)
{
	wb_hex(w, WB_HEX_NUL_LABEL_FIRST);
}

static void valid_nul_label_cname(struct wb *w)
{
	wb_hex(w, WB_HEX_NUL_LABEL_CNAME);
}

/* A headless Service of 1,000 pods: 1,000 A records for one name (issue 9 §1), EDNS. */
static void valid_many_a_1000(struct wb *w)
{
	uint16_t q;

	wb_header(w, 0x4d2, WB_QR | WB_AA | WB_RD | WB_RA, 1, 1000, 0, 1);
	q = wb_question(w, "web.shop.svc.cluster.local", IN_A);
	for (uint32_t i = 0; i < 1000; i++)
		rr_addr(w, q, IN_A, 30,
			(const uint8_t[]){ 198, 51, (uint8_t)(100 + i / 250),
					   (uint8_t)(1 + i % 250) });
	wb_opt(w, 4096, 0, 0, 0);
}

/* A pointer into the header (RFC 1035 §4.1.4: only to a prior name). */
static void h_ptr_header(struct wb *w)
{
	wb_header(w, 1, WB_QR, 1, 1, 0, 0);
	wb_question(w, "www.example.com", IN_A);
	wb_ptr(w, 2);
	wb_rr_fixed(w, IN_A, 1);
	w->b[w->n - 1] = 4;
	wb_bytes(w, v4a, 4);
}

/* An owner reached through 128 pointers, one over DNS_NAME_MAX_JUMPS. */
static void h_ptr_jumps(struct wb *w)
{
	uint16_t q, chain;
	size_t at;

	wb_header(w, 1, WB_QR, 1, 2, 0, 0);
	q = wb_question(w, "x", IN_A);
	wb_ptr(w, q);
	at = wb_rr_fixed(w, 99, 1);
	chain = (uint16_t)w->n;
	wb_ptr(w, q);
	for (unsigned int j = 1; j < 127; j++)
		wb_ptr(w, (uint16_t)(chain + 2 * (j - 1)));
	wb_rdlen(w, at);
	/* 1 + 127 jumps: to the last link, down the 127 links, to the qname */
	wb_ptr(w, (uint16_t)(chain + 2 * 126));
	at = wb_rr_fixed(w, IN_A, 1);
	wb_bytes(w, v4a, 4);
	wb_rdlen(w, at);
}

struct item {
	const char *dir;
	const char *name;
	void (*build)(struct wb *w);
};

static const struct item items[] = {
	{ "valid", "a_cname", valid_a_cname },
	{ "valid", "aaaa", valid_aaaa },
	{ "valid", "k8s_a", valid_k8s_a },
	{ "valid", "cname_chain", valid_cname_chain },
	{ "valid", "nxdomain_soa", valid_nxdomain },
	{ "valid", "srv", valid_srv },
	{ "valid", "mx", valid_mx },
	{ "valid", "ptr", valid_ptr },
	{ "valid", "ns_glue", valid_ns },
	{ "valid", "txt_large", valid_txt_large },
	{ "valid", "https", valid_https },
	{ "valid", "query", valid_query },
	{ "valid", "nul_label_mid", valid_nul_label_mid },
	{ "valid", "nul_label_first", valid_nul_label_first },
	{ "valid", "nul_label_cname", valid_nul_label_cname },
	{ "valid", "many_a_1000", valid_many_a_1000 },
	{ "hostile", "empty", h_empty },
	{ "hostile", "short_header", h_short_header },
	{ "hostile", "ptr_self", h_ptr_self },
	{ "hostile", "ptr_label_loop", h_ptr_label_loop },
	{ "hostile", "ptr_two_loop", h_ptr_two_loop },
	{ "hostile", "ptr_forward", h_ptr_forward },
	{ "hostile", "ptr_out_of_message", h_ptr_out_of_message },
	{ "hostile", "ptr_cut", h_ptr_cut },
	{ "hostile", "label_64", h_label_64 },
	{ "hostile", "label_type_80", h_label_type_80 },
	{ "hostile", "name_too_long", h_name_too_long },
	{ "hostile", "name_too_long_compressed", h_name_too_long_compressed },
	{ "hostile", "name_cut", h_name_cut },
	{ "hostile", "counts", h_counts },
	{ "hostile", "question_cut", h_question_cut },
	{ "hostile", "rr_missing", h_rr_missing },
	{ "hostile", "rr_cut", h_rr_cut },
	{ "hostile", "rdata_overrun", h_rdata_overrun },
	{ "hostile", "a_rdlength", h_a_rdlength },
	{ "hostile", "aaaa_rdlength", h_aaaa_rdlength },
	{ "hostile", "cname_overrun", h_cname_overrun },
	{ "hostile", "cname_slack", h_cname_slack },
	{ "hostile", "srv_short", h_srv_short },
	{ "hostile", "mx_short", h_mx_short },
	{ "hostile", "two_opt", h_two_opt },
	{ "hostile", "opt_owner", h_opt_owner },
	{ "hostile", "authority_overrun", h_authority_overrun },
	{ "hostile", "additional_loop", h_additional_loop },
	{ "hostile", "ptr_header", h_ptr_header },
	{ "hostile", "ptr_jumps", h_ptr_jumps },
};

int main(int argc, char **argv)
{
	static struct wb w;
	int ret = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		char path[4096];
		FILE *f;

		memset(&w, 0, sizeof(w));
		items[i].build(&w);
		snprintf(path, sizeof(path), "%s/%s/%s.bin", argv[1], items[i].dir, items[i].name);
		f = fopen(path, "wb");
		if (!f) {
			perror(path);
			goto done;
		}
		if (fwrite(w.b, 1, w.n, f) != w.n || fclose(f) != 0) {
			perror(path);
			goto done;
		}
	}
	ret = 0;
done:
	return ret;
}
