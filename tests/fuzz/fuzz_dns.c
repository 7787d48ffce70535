// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for dns/: the input is parsed as one DNS message (answers rendered, names
 * learnt and looked up), then fed again as a DNS-over-TCP stream cut into chunks whose sizes
 * come from the input itself, with every reassembled message parsed too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"

static struct dns_names *names;

static void exercise(const uint8_t *data, size_t size)
{
	static struct dns_msg msg;
	char owner[DNS_NAME_TEXT_MAX], text[DNS_DATA_TEXT_MAX], tbuf[12];

	if (dns_parse(data, size, &msg, NULL) != DNS_OK)
		return;
	dns_rcode_name(msg.rcode, tbuf);
	for (size_t i = 0; i < msg.n_answers; i++) {
		const struct dns_rr *rr = &msg.answers[i];

		/* A name the parser accepted must decompress with c-ares into the documented size. */
		if (dns_rr_owner(&msg, rr, owner, sizeof(owner)) != DNS_OK ||
		    dns_rr_data(&msg, rr, text, sizeof(text)) != DNS_OK)
			__builtin_trap();
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
