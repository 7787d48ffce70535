// SPDX-License-Identifier: Apache-2.0
/*
 * DNS message parser (RFC 1035 §4.1). The walk over header, counts and RRs is ours because it is
 * the hot path and must not allocate. Names are rendered to text here too, from the wire labels
 * (RFC 1035 §5.1 presentation form), for the qname at parse time and for the rest on demand
 * (dns_render.c). c-ares did that until issue 9: its ares_expand_name() wrote a 0x00 octet of a
 * label as a raw NUL, so "google.com\000.evil.net" came out as "google.com", and it had its own
 * bound of 50 pointer jumps; with both rules ours, nothing was left for it to do.
 */
#include <stdbool.h>
#include <string.h>

#include "dns.h"
#include "dns_wire.h"

#define DNS_HEADER_LEN 12
#define DNS_QUESTION_MIN 5 /* root name + QTYPE + QCLASS */
#define DNS_RR_MIN 11 /* root name + TYPE + CLASS + TTL + RDLENGTH */
#define DNS_RR_FIXED 10 /* TYPE + CLASS + TTL + RDLENGTH */

_Static_assert((UINT16_MAX - DNS_HEADER_LEN) / DNS_RR_MIN <= DNS_MAX_ANSWERS, "the count check "
									      "must keep ANCOUNT "
									      "within answers[]");

static const char *const status_str[DNS_STATUS_COUNT] = {
	[DNS_OK] = "ok",
	[DNS_ERR_INVAL] = "invalid argument",
	[DNS_ERR_NOMEM] = "out of memory",
	[DNS_ERR_SHORT_HEADER] = "message shorter than the DNS header",
	[DNS_ERR_TOO_LONG] = "message longer than 65535 octets",
	[DNS_ERR_COUNTS] = "section counts exceed the message",
	[DNS_ERR_NAME_TRUNCATED] = "name runs past the end of the message",
	[DNS_ERR_NAME_LABEL] = "label longer than 63 octets or of a reserved type",
	[DNS_ERR_NAME_TOO_LONG] = "name longer than 255 octets",
	[DNS_ERR_NAME_PTR_LOOP] = "compression pointer loop",
	[DNS_ERR_NAME_PTR_FORWARD] = "compression pointer not to a prior name",
	[DNS_ERR_QUESTION_TRUNCATED] = "question runs past the end of the message",
	[DNS_ERR_RR_TRUNCATED] = "resource record runs past the end of the message",
	[DNS_ERR_RDATA_TRUNCATED] = "RDLENGTH runs past the end of the message",
	[DNS_ERR_RDLENGTH] = "RDLENGTH does not match the record type",
	[DNS_ERR_OPT] = "malformed or repeated OPT record",
	[DNS_ERR_NAME_PTR_HEADER] = "compression pointer into the header",
	[DNS_ERR_NAME_PTR_JUMPS] = "too many compression pointers in one name",
	[DNS_ERR_FULL] = "table full",
	[DNS_ERR_DUPLICATE] = "duplicate key",
	[DNS_ERR_NOT_FOUND] = "not found",
	[DNS_ERR_DESYNC] = "TCP stream lost its framing",
};

const char *dns_status_str(enum dns_status status)
{
	if ((unsigned int)status >= DNS_STATUS_COUNT || !status_str[status])
		return "unknown status";
	return status_str[status];
}

/* One octet of a label in presentation form (RFC 1035 §5.1); returns the characters written. */
static inline size_t put_label_octet(char *p, uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_') {
		p[0] = (char)c;
		return 1;
	}
	p[0] = '\\';
	if (c == '.' || c == '\\') {
		p[1] = (char)c;
		return 2;
	}
	p[1] = (char)('0' + c / 100);
	p[2] = (char)('0' + c / 10 % 10);
	p[3] = (char)('0' + c % 10);
	return 4;
}

/*
 * The one walk over a name, for validation (@buf NULL) and rendering alike, so both apply the same
 * rules: bounds, label types and lengths, 255 octets (RFC 1035 §3.1), and pointers (§4.1.4).
 *
 * seg_start is where the current run of labels began (the name itself or the last pointer
 * target). A pointer must go strictly below it: positions then decrease at every jump, so the
 * walk ends whatever the input, and a well-formed compressor only ever points to a name written
 * earlier ("a prior occurrence"), which is never in the header. DNS_NAME_MAX_JUMPS bounds the cost.
 */
static inline enum dns_status name_walk(const uint8_t *m, size_t len, size_t off, size_t *next,
					char *buf, size_t size)
{
	size_t pos = off, seg_start = off, wire_len = 1, out = 0;
	unsigned int jumps = 0;

	for (;;) {
		uint8_t c;

		if (pos >= len)
			return DNS_ERR_NAME_TRUNCATED;
		c = m[pos];
		if (c == 0) {
			if (!jumps && next)
				*next = pos + 1;
			if (buf)
				buf[out] = '\0';
			return DNS_OK;
		}
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len)
				return DNS_ERR_NAME_TRUNCATED;
			target = (size_t)(c & 0x3f) << 8 | m[pos + 1];
			if (target >= seg_start)
				return target > pos ? DNS_ERR_NAME_PTR_FORWARD
						    : DNS_ERR_NAME_PTR_LOOP;
			if (target < DNS_HEADER_LEN)
				return DNS_ERR_NAME_PTR_HEADER;
			if (++jumps > DNS_NAME_MAX_JUMPS)
				return DNS_ERR_NAME_PTR_JUMPS;
			if (jumps == 1 && next)
				*next = pos + 2;
			pos = seg_start = target;
			continue;
		}
		/* 0x40 and 0x80 are the reserved (RFC 6891 §5) and unallocated label types. */
		if (c & 0xc0)
			return DNS_ERR_NAME_LABEL;
		wire_len += (size_t)c + 1;
		if (wire_len > DNS_NAME_WIRE_MAX)
			return DNS_ERR_NAME_TOO_LONG;
		if (len - pos - 1 < c)
			return DNS_ERR_NAME_TRUNCATED;
		if (buf) {
			/* room for a dot, the label at 4 characters per octet, and the NUL */
			if (size - out < (size_t)c * 4 + 2)
				return DNS_ERR_INVAL;
			if (out)
				buf[out++] = '.';
			for (size_t i = 1; i <= c; i++)
				out += put_label_octet(buf + out, m[pos + i]);
		}
		pos += (size_t)c + 1;
	}
}

enum dns_status dns_name_skip(const uint8_t *m, size_t len, size_t off, size_t *next)
{
	return name_walk(m, len, off, next, NULL, 0);
}

/* Offset of the next label length octet of a validated name, following pointers. */
static size_t name_follow(const uint8_t *m, size_t pos)
{
	while ((m[pos] & 0xc0) == 0xc0)
		pos = (size_t)(m[pos] & 0x3f) << 8 | m[pos + 1];
	return pos;
}

static inline uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int dns_name_equal(const uint8_t *m, size_t len, size_t a, size_t b)
{
	/* Both names passed dns_name_skip(), so every offset read here is inside [m, m + len). */
	(void)len;
	for (;;) {
		uint8_t la, lb;

		a = name_follow(m, a);
		b = name_follow(m, b);
		if (a == b)
			return 1;
		la = m[a];
		lb = m[b];
		if (la != lb)
			return 0;
		if (la == 0)
			return 1;
		for (uint8_t i = 1; i <= la; i++) {
			if (ascii_lower(m[a + i]) != ascii_lower(m[b + i]))
				return 0;
		}
		a += (size_t)la + 1;
		b += (size_t)lb + 1;
	}
}

size_t dns_name_flatten(const uint8_t *m, size_t len, size_t off, uint8_t out[DNS_NAME_WIRE_MAX])
{
	size_t n = 0;

	/* A validated name: every label is inside [m, m + len) and the whole fits 255 octets. */
	(void)len;
	for (;;) {
		uint8_t l;

		off = name_follow(m, off);
		l = m[off];
		memcpy(out + n, m + off, (size_t)l + 1);
		n += (size_t)l + 1;
		if (l == 0)
			return n;
		off += (size_t)l + 1;
	}
}

uint64_t dns_name_hash(const uint8_t *m, size_t len, size_t off)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a final mix */

	(void)len;
	for (;;) {
		uint8_t l;

		off = name_follow(m, off);
		l = m[off];
		h = (h ^ l) * 0x100000001b3ull;
		if (l == 0)
			break;
		for (uint8_t i = 1; i <= l; i++)
			h = (h ^ ascii_lower(m[off + i])) * 0x100000001b3ull;
		off += (size_t)l + 1;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

enum dns_status dns_name_text(const uint8_t *m, size_t len, size_t off, char *buf, size_t size)
{
	enum dns_status status;

	if (!m || !buf || !size)
		return DNS_ERR_INVAL;
	status = name_walk(m, len, off, NULL, buf, size);
	if (status != DNS_OK)
		buf[0] = '\0';
	return status;
}

/* Owner name and fixed fields of the RR at *pos; *pos is moved past its RDATA. */
static enum dns_status rr_head(const uint8_t *m, size_t len, size_t *pos, struct dns_rr *rr)
{
	enum dns_status status;
	size_t p;

	status = dns_name_skip(m, len, *pos, &p);
	if (status != DNS_OK)
		return status;
	if (len - p < DNS_RR_FIXED)
		return DNS_ERR_RR_TRUNCATED;
	rr->name_off = (uint16_t)*pos;
	rr->type = dns_rd16(m + p);
	rr->rclass = dns_rd16(m + p + 2);
	rr->ttl = dns_rd32(m + p + 4);
	rr->rdlength = dns_rd16(m + p + 8);
	p += DNS_RR_FIXED;
	if (len - p < rr->rdlength)
		return DNS_ERR_RDATA_TRUNCATED;
	rr->rdata_off = (uint16_t)p;
	*pos = p + rr->rdlength;
	return DNS_OK;
}

/* A name that must fill the rest of the RDATA exactly (RFC 1035 §3.3). */
static enum dns_status rdata_name(const uint8_t *m, size_t len, size_t off, size_t end,
				  uint16_t *name_off)
{
	enum dns_status status;
	size_t next;

	if (off >= end)
		return DNS_ERR_RDLENGTH;
	status = dns_name_skip(m, len, off, &next);
	if (status != DNS_OK)
		return status;
	if (next != end)
		return DNS_ERR_RDLENGTH;
	*name_off = (uint16_t)off;
	return DNS_OK;
}

/* Decode the RDATA of an answer of a type we render; other types keep zero data. */
static enum dns_status rr_data(const uint8_t *m, size_t len, struct dns_rr *rr)
{
	const uint8_t *rd = m + rr->rdata_off;
	size_t end = (size_t)rr->rdata_off + rr->rdlength;

	memset(&rr->data, 0, sizeof(rr->data));
	switch (rr->type) {
	case DNS_TYPE_A:
		if (rr->rdlength != 4)
			return DNS_ERR_RDLENGTH;
		memcpy(rr->data.a, rd, 4);
		return DNS_OK;
	case DNS_TYPE_AAAA:
		if (rr->rdlength != 16)
			return DNS_ERR_RDLENGTH;
		memcpy(rr->data.aaaa, rd, 16);
		return DNS_OK;
	case DNS_TYPE_CNAME:
	case DNS_TYPE_PTR:
	case DNS_TYPE_NS:
		return rdata_name(m, len, rr->rdata_off, end, &rr->data.target_off);
	case DNS_TYPE_MX: /* RFC 1035 §3.3.9 */
		if (rr->rdlength < 3)
			return DNS_ERR_RDLENGTH;
		rr->data.mx.preference = dns_rd16(rd);
		return rdata_name(m, len, rr->rdata_off + 2u, end, &rr->data.mx.exchange_off);
	case DNS_TYPE_SRV: /* RFC 2782; the target is compressed by some servers: accepted */
		if (rr->rdlength < 7)
			return DNS_ERR_RDLENGTH;
		rr->data.srv.priority = dns_rd16(rd);
		rr->data.srv.weight = dns_rd16(rd + 2);
		rr->data.srv.port = dns_rd16(rd + 4);
		return rdata_name(m, len, rr->rdata_off + 6u, end, &rr->data.srv.target_off);
	default:
		return DNS_OK;
	}
}

/* RFC 6891 §6.1.2-3: OPT owner is the root, CLASS is the UDP size, TTL holds the rcode bits. */
static enum dns_status rr_opt(const uint8_t *m, const struct dns_rr *rr, struct dns_msg *out)
{
	if (out->has_edns || m[rr->name_off] != 0)
		return DNS_ERR_OPT;
	out->has_edns = true;
	out->edns_udp_size = rr->rclass;
	out->rcode |= (uint16_t)((rr->ttl >> 24) << 4);
	out->edns_version = (uint8_t)(rr->ttl >> 16);
	out->edns_do = rr->ttl & 0x8000;
	return DNS_OK;
}

/* Statuses that mean "the message ends before this RR does": where a cut message stops. */
static bool runs_past_end(enum dns_status status)
{
	return status == DNS_ERR_NAME_TRUNCATED || status == DNS_ERR_RR_TRUNCATED ||
	       status == DNS_ERR_RDATA_TRUNCATED;
}

/*
 * Walk @count RRs of the authority or additional section from *pos (OPT read when @opt).
 * With @cut, an RR that runs past the end ends the walk without error; *done is then false.
 */
static enum dns_status walk_rrs(const uint8_t *m, size_t len, size_t *pos, uint16_t count, bool opt,
				bool cut, struct dns_msg *out, bool *done)
{
	struct dns_rr scratch;
	enum dns_status status;

	for (size_t i = 0; i < count; i++) {
		status = rr_head(m, len, pos, &scratch);
		if (status != DNS_OK) {
			if (cut && runs_past_end(status)) {
				*done = false;
				return DNS_OK;
			}
			return status;
		}
		if (opt && scratch.type == DNS_TYPE_OPT) {
			status = rr_opt(m, &scratch, out);
			if (status != DNS_OK)
				return status;
		}
	}
	return DNS_OK;
}

static enum dns_status parse(const uint8_t *m, size_t len, bool cut, struct dns_msg *out)
{
	enum dns_status status;
	bool done = true;
	size_t pos, i;

	if (len < DNS_HEADER_LEN)
		return DNS_ERR_SHORT_HEADER;
	if (len > UINT16_MAX)
		return DNS_ERR_TOO_LONG;
	out->wire = m;
	out->len = (uint16_t)len;
	out->id = dns_rd16(m);
	out->qr = m[2] & 0x80;
	out->opcode = (m[2] >> 3) & 0x0f;
	out->aa = m[2] & 0x04;
	out->tc = m[2] & 0x02;
	out->rd = m[2] & 0x01;
	out->ra = m[3] & 0x80;
	out->rcode = m[3] & 0x0f;
	out->qdcount = dns_rd16(m + 4);
	out->ancount = dns_rd16(m + 6);
	out->nscount = dns_rd16(m + 8);
	out->arcount = dns_rd16(m + 10);
	out->has_question = false;
	out->qname[0] = '\0';
	out->qtype = out->qclass = out->qname_off = 0;
	out->n_answers = 0;
	out->answers_truncated = false;
	out->has_edns = false;
	out->edns_version = 0;
	out->edns_do = false;
	out->edns_udp_size = 0;

	/*
	 * Cheap early reject of counts no message of this size can hold. It also keeps ANCOUNT
	 * within DNS_MAX_ANSWERS; a cut message is checked against the size it could have had.
	 */
	if ((size_t)out->qdcount * DNS_QUESTION_MIN +
		    ((size_t)out->ancount + out->nscount + out->arcount) * DNS_RR_MIN >
	    (cut ? UINT16_MAX : len) - DNS_HEADER_LEN)
		return DNS_ERR_COUNTS;

	/* The questions must be whole, also in a cut message: without them nothing is known. */
	pos = DNS_HEADER_LEN;
	for (i = 0; i < out->qdcount; i++) {
		size_t next;

		status = dns_name_skip(m, len, pos, &next);
		if (status != DNS_OK)
			return status;
		if (len - next < 4)
			return DNS_ERR_QUESTION_TRUNCATED;
		if (i == 0) {
			out->has_question = true;
			out->qname_off = (uint16_t)pos;
			out->qtype = dns_rd16(m + next);
			out->qclass = dns_rd16(m + next + 2);
		}
		pos = next + 4;
	}

	for (i = 0; i < out->ancount; i++) {
		struct dns_rr *rr = &out->answers[i];

		status = rr_head(m, len, &pos, rr);
		if (status == DNS_OK)
			status = rr_data(m, len, rr);
		if (status != DNS_OK) {
			if (cut && runs_past_end(status)) {
				out->answers_truncated = true;
				done = false;
				break;
			}
			return status;
		}
		/* RFC 2181 §8: a TTL with the top bit set is treated as zero. */
		if (rr->ttl & 0x80000000u)
			rr->ttl = 0;
		out->n_answers++;
	}

	status = DNS_OK;
	if (done)
		status = walk_rrs(m, len, &pos, out->nscount, false, cut, out, &done);
	if (status == DNS_OK && done)
		status = walk_rrs(m, len, &pos, out->arcount, true, cut, out, &done);
	if (status != DNS_OK)
		return status;

	/* Rendered last, once the whole message is known to be sound. */
	if (out->has_question)
		return dns_name_text(m, len, out->qname_off, out->qname, sizeof(out->qname));
	return DNS_OK;
}

static enum dns_status parse_counted(const uint8_t *msg, size_t len, bool cut, struct dns_msg *out,
				     struct dns_parse_stats *stats)
{
	enum dns_status status;

	if (!msg || !out)
		status = DNS_ERR_INVAL;
	else
		status = parse(msg, len, cut, out);
	if (stats) {
		stats->messages++;
		stats->by_status[status]++;
		if (status == DNS_OK) {
			stats->ok++;
			if (out->answers_truncated)
				stats->answers_truncated++;
		} else {
			stats->errors++;
		}
	}
	return status;
}

enum dns_status dns_parse(const uint8_t *msg, size_t len, struct dns_msg *out,
			  struct dns_parse_stats *stats)
{
	return parse_counted(msg, len, false, out, stats);
}

enum dns_status dns_parse_cut(const uint8_t *msg, size_t len, struct dns_msg *out,
			      struct dns_parse_stats *stats)
{
	return parse_counted(msg, len, true, out, stats);
}
