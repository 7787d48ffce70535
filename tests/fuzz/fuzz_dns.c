// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dns/: the input is parsed as one DNS message (answers rendered, names
 * learnt and looked up), then fed again as a DNS-over-TCP stream cut into chunks whose sizes
 * come from the input itself, with every reassembled message parsed too.
 *
 * Differential check of names against ldns: when both dns_parse() and ldns_wire2pkt() accept a
 * message, the qname, every answer owner and every CNAME/NS/PTR/MX/SRV target must render as
 * ldns's ldns_rdf2str() of the same name does, after normalising only what is documented to
 * differ (ldns 1.8, host2str.c ldns_rdf2buffer_str_dname()):
 * - ldns ends a name with "." and writes the root as "."; we write no trailing dot and "";
 * - ldns leaves printable ASCII other than . ; ( ) \ unescaped and writes those five as \X;
 *   we escape everything but letters, digits, '-' and '_' (\. and \\, else \DDD).
 * So ldns's text is decoded to label octets (\X, \DDD) and re-escaped by our rules, here, by
 * code independent of dns/. Messages only one side accepts are not compared (we are stricter:
 * header pointers, DNS_NAME_MAX_JUMPS, RDLENGTH of names). ldns 1.8 reads the RDATA of some
 * types (HINFO, NSEC3PARAM, ...) by their fields rather than by RDLENGTH, and then reads the
 * next RR from the wrong offset; so answers are compared up to the first of a type whose RDATA
 * dns_parse() checks field by field too (A, AAAA, CNAME, NS, PTR, MX, SRV) and no further.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns.h"

static struct dns_names *names;

static void put(char *out, size_t *n, size_t size, char c)
{
	if (*n + 1 >= size)
		__builtin_trap(); /* a name of at most 255 octets always fits DNS_NAME_TEXT_MAX */
	out[(*n)++] = c;
}

/* ldns's text of a name, brought to our presentation form (see the top of this file). */
static void ldns_normalise(const char *in, char *out, size_t size)
{
	size_t len = strlen(in), n = 0;

	if (len && in[len - 1] == '.')
		len--; /* ldns ends every name with a dot; for the root it is the whole text */
	for (size_t i = 0; i < len; i++) {
		unsigned int c = (unsigned char)in[i];

		if (c == '.') {
			put(out, &n, size, '.');
			continue;
		}
		if (c == '\\') {
			if (i + 3 < len && in[i + 1] >= '0' && in[i + 1] <= '9') {
				c = (unsigned int)(in[i + 1] - '0') * 100 +
				    (unsigned int)(in[i + 2] - '0') * 10 +
				    (unsigned int)(in[i + 3] - '0');
				i += 3;
			} else {
				c = (unsigned char)in[++i];
			}
		}
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			put(out, &n, size, (char)c);
		} else if (c == '.' || c == '\\') {
			put(out, &n, size, '\\');
			put(out, &n, size, (char)c);
		} else {
			char d[5];

			snprintf(d, sizeof(d), "\\%03u", c);
			for (int k = 0; k < 4; k++)
				put(out, &n, size, d[k]);
		}
	}
	out[n] = '\0';
}

static void same_name(const char *ours, const ldns_rdf *rdf)
{
	char want[DNS_NAME_TEXT_MAX];
	char *text;

	if (!rdf || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
		__builtin_trap();
	text = ldns_rdf2str(rdf);
	if (!text)
		return; /* ldns out of memory */
	ldns_normalise(text, want, sizeof(want));
	if (strcmp(ours, want) != 0) {
		fprintf(stderr, "name differs from ldns: ours \"%s\", ldns \"%s\" (\"%s\")\n", ours,
			want, text);
		__builtin_trap();
	}
	LDNS_FREE(text);
}

/* The name part of our rendered RDATA: all of it, or what follows the last space (MX, SRV). */
static const char *data_name(const char *data, uint16_t type)
{
	const char *sp = strrchr(data, ' ');

	return type == DNS_TYPE_MX || type == DNS_TYPE_SRV ? (sp ? sp + 1 : data) : data;
}

static void compare_with_ldns(const struct dns_msg *msg, const uint8_t *data, size_t size)
{
	ldns_pkt *pkt = NULL;
	char owner[DNS_NAME_TEXT_MAX], text[DNS_DATA_TEXT_MAX];

	if (ldns_wire2pkt(&pkt, data, size) != LDNS_STATUS_OK)
		return;
	if (msg->has_question && ldns_rr_list_rr_count(ldns_pkt_question(pkt)) > 0)
		same_name(msg->qname, ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)));
	if (ldns_rr_list_rr_count(ldns_pkt_answer(pkt)) != msg->n_answers)
		__builtin_trap();
	for (size_t i = 0; i < msg->n_answers; i++) {
		const struct dns_rr *rr = &msg->answers[i];
		const ldns_rr *lrr = ldns_rr_list_rr(ldns_pkt_answer(pkt), i);
		size_t k;

		if (ldns_rr_get_type(lrr) != rr->type)
			__builtin_trap(); /* all RRs before this one were read alike */

		if (dns_rr_owner(msg, rr, owner, sizeof(owner)) != DNS_OK ||
		    dns_rr_data(msg, rr, text, sizeof(text)) != DNS_OK)
			__builtin_trap();
		same_name(owner, ldns_rr_owner(lrr));
		switch (rr->type) {
		case DNS_TYPE_CNAME:
		case DNS_TYPE_NS:
		case DNS_TYPE_PTR:
			k = 0;
			break;
		case DNS_TYPE_MX:
			k = 1;
			break;
		case DNS_TYPE_SRV:
			k = 3;
			break;
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			continue;
		default:
			goto done; /* where ldns's next RR starts is not known (see above) */
		}
		/* ldns keeps an RR whose RDATA it could not split as one unknown field: skip it */
		if (ldns_rr_rd_count(lrr) <= k ||
		    ldns_rdf_get_type(ldns_rr_rdf(lrr, k)) != LDNS_RDF_TYPE_DNAME)
			continue;
		same_name(data_name(text, rr->type), ldns_rr_rdf(lrr, k));
	}
done:
	ldns_pkt_free(pkt);
}

static void exercise(const uint8_t *data, size_t size)
{
	static struct dns_msg msg;
	char owner[DNS_NAME_TEXT_MAX], text[DNS_DATA_TEXT_MAX], tbuf[12];

	if (dns_parse_cut(data, size, &msg, NULL) == DNS_OK) {
		/* a cut message keeps only answers that are whole */
		for (size_t i = 0; i < msg.n_answers; i++) {
			if (dns_rr_owner(&msg, &msg.answers[i], owner, sizeof(owner)) != DNS_OK ||
			    dns_rr_data(&msg, &msg.answers[i], text, sizeof(text)) != DNS_OK)
				__builtin_trap();
		}
	}
	if (dns_parse(data, size, &msg, NULL) != DNS_OK)
		return;
	compare_with_ldns(&msg, data, size);
	dns_rcode_name(msg.rcode, tbuf);
	for (size_t i = 0; i < msg.n_answers; i++) {
		const struct dns_rr *rr = &msg.answers[i];

		/* A name the parser accepted must render into the documented size. */
		if (dns_rr_owner(&msg, rr, owner, sizeof(owner)) != DNS_OK ||
		    dns_rr_data(&msg, rr, text, sizeof(text)) != DNS_OK)
			__builtin_trap();
		/* The text is the whole name: no NUL or control character inside. */
		for (const char *p = owner; *p; p++) {
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				__builtin_trap();
		}
		/* Small buffers must fail cleanly, never overflow. */
		dns_rr_data(&msg, rr, text, 5);
		dns_type_name(rr->type, tbuf);
		if (rr->type == DNS_TYPE_A)
			dns_names_lookup(names, 1, 4, (const uint8_t[16]){ rr->data.a[0] }, 0);
	}
	dns_names_learn(names, 1, &msg, 0);
}

static void on_message(const uint8_t *msg, size_t len, void *arg)
{
	(void)arg;
	exercise(msg, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_tcp_stream *s;
	size_t pos = 0;
	uint8_t k = 0;

	if (!names)
		names = dns_names_create(64, DNS_NAMES_MIN_HOLD_NS);
	exercise(data, size);

	s = dns_tcp_create(on_message, NULL);
	if (!s)
		return 0;
	while (pos < size) {
		/* Chunk sizes 1..64 from the data; every 7th chunk is reported missing. */
		size_t n = (size_t)(data[pos] & 0x3f) + 1;

		if (n > size - pos)
			n = size - pos;
		if (++k % 7 == 0)
			dns_tcp_missing(s, n);
		else
			dns_tcp_feed(s, data + pos, n);
		pos += n;
	}
	dns_tcp_destroy(s);
	return 0;
}
