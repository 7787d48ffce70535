// SPDX-License-Identifier: Apache-2.0
/*
 * DNS over TCP reassembly (RFC 1035 §4.2.2, RFC 7766 §8): every message is preceded by its length
 * in two octets; segments cut messages and prefixes anywhere. A message that lies whole inside
 * one fed chunk is handed to the callback in place; only messages cut by a chunk boundary are
 * copied into the stream's buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "dns_wire.h"

struct dns_tcp_stream {
	dns_tcp_msg_fn fn;
	dns_tcp_cut_fn cut_fn;
	void *arg;
	uint8_t prefix[2];
	uint8_t prefix_have; /* octets of the current length prefix seen, 0..2 */
	uint32_t msg_len; /* length of the current message once prefix_have == 2 */
	uint32_t have; /* octets of the current message in buf */
	uint32_t skip; /* octets of a lost message still to drop */
	bool desync; /* framing lost: drop everything until dns_tcp_reset() */
	uint8_t *buf;
	uint32_t cap;
	struct dns_tcp_stats stats;
};

struct dns_tcp_stream *dns_tcp_create(dns_tcp_msg_fn fn, void *arg)
{
	struct dns_tcp_stream *s;

	if (!fn)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->fn = fn;
	s->arg = arg;
	return s;
}

void dns_tcp_destroy(struct dns_tcp_stream *s)
{
	if (!s)
		return;
	free(s->buf);
	free(s);
}

void dns_tcp_on_cut(struct dns_tcp_stream *s, dns_tcp_cut_fn fn)
{
	if (s)
		s->cut_fn = fn;
}

void dns_tcp_reset(struct dns_tcp_stream *s)
{
	if (!s)
		return;
	s->prefix_have = 0;
	s->msg_len = 0;
	s->have = 0;
	s->skip = 0;
	s->desync = false;
}

void dns_tcp_get_stats(const struct dns_tcp_stream *s, struct dns_tcp_stats *out)
{
	if (s && out)
		*out = s->stats;
}

/* Drop the current message: its buffered octets now, the @rest still to come later. */
static void lose_message(struct dns_tcp_stream *s, uint32_t rest)
{
	s->stats.messages_lost++;
	s->stats.bytes_discarded += s->have;
	s->skip = rest;
	s->have = 0;
	s->prefix_have = 0;
}

static void deliver(struct dns_tcp_stream *s, const uint8_t *msg, size_t len)
{
	s->stats.messages++;
	s->prefix_have = 0;
	s->have = 0;
	s->fn(msg, len, s->arg);
}

/* A zero-length "message" carries nothing to parse; skip it and read the next prefix. */
static void got_length(struct dns_tcp_stream *s, uint32_t len)
{
	s->msg_len = len;
	s->prefix_have = 2;
	if (len == 0) {
		s->stats.empty++;
		s->prefix_have = 0;
	}
}

static int reserve(struct dns_tcp_stream *s, uint32_t len)
{
	uint8_t *p;

	if (s->cap >= len)
		return 0;
	p = realloc(s->buf, len);
	if (!p)
		return -1;
	s->buf = p;
	s->cap = len;
	return 0;
}

enum dns_status dns_tcp_feed(struct dns_tcp_stream *s, const uint8_t *data, size_t len)
{
	enum dns_status status = DNS_OK;

	if (!s || (!data && len))
		return DNS_ERR_INVAL;
	s->stats.bytes += len;
	if (s->desync) {
		s->stats.bytes_discarded += len;
		return DNS_ERR_DESYNC;
	}
	while (len > 0) {
		size_t n;

		if (s->skip) {
			n = len < s->skip ? len : s->skip;
			s->skip -= (uint32_t)n;
			s->stats.bytes_discarded += n;
			data += n;
			len -= n;
			continue;
		}
		if (s->prefix_have < 2) {
			if (s->prefix_have == 0 && len >= 2) {
				got_length(s, dns_rd16(data));
				data += 2;
				len -= 2;
				/* The common case: the whole message is in this chunk. */
				if (s->prefix_have == 2 && len >= s->msg_len) {
					deliver(s, data, s->msg_len);
					data += s->msg_len;
					len -= s->msg_len;
				}
				continue;
			}
			s->prefix[s->prefix_have++] = *data;
			data++;
			len--;
			if (s->prefix_have == 2)
				got_length(s, dns_rd16(s->prefix));
			continue;
		}
		if (reserve(s, s->msg_len) < 0) {
			lose_message(s, s->msg_len - s->have);
			status = DNS_ERR_NOMEM;
			continue;
		}
		n = s->msg_len - s->have;
		if (n > len)
			n = len;
		memcpy(s->buf + s->have, data, n);
		s->have += (uint32_t)n;
		data += n;
		len -= n;
		if (s->have == s->msg_len)
			deliver(s, s->buf, s->msg_len);
	}
	return status;
}

enum dns_status dns_tcp_missing(struct dns_tcp_stream *s, size_t missing)
{
	if (!s)
		return DNS_ERR_INVAL;
	s->stats.bytes_missing += missing;
	if (s->desync)
		return DNS_ERR_DESYNC;
	while (missing > 0) {
		size_t n;

		if (s->skip) {
			n = missing < s->skip ? missing : s->skip;
			s->skip -= (uint32_t)n;
			missing -= n;
			continue;
		}
		if (s->prefix_have < 2) {
			/* Where the next message starts is among the missing octets. */
			s->stats.desyncs++;
			s->stats.bytes_discarded += s->have;
			dns_tcp_reset(s);
			s->desync = true;
			return DNS_ERR_DESYNC;
		}
		/* what arrived of it may still hold whole answers (RFC 1035 §4.1: header first) */
		if (s->cut_fn && s->have >= 12) {
			s->stats.messages_cut++;
			s->cut_fn(s->buf, s->have, s->msg_len, s->arg);
		}
		lose_message(s, s->msg_len - s->have);
	}
	return DNS_OK;
}
