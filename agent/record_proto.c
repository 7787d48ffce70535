// SPDX-License-Identifier: Apache-2.0
/*
 * Protobuf encoding of flow and DNS records (proto/flowscope/v1/records.proto) straight into the
 * caller's buffer: no allocation, no intermediate message structs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "record_json.h"
#include "record_proto.h"
#include "utf8.h"

/*
 * Text form of an address: dotted quad for IPv4 (formatted here, it is on every record), RFC 5952
 * for IPv6 (inet_ntop). Returns the length.
 */
static size_t addr_text(char buf[INET6_ADDRSTRLEN], uint8_t ip_version, const struct record_addr *a)
{
	char *p = buf;
	int i;

	if (ip_version != 4) {
		if (!inet_ntop(AF_INET6, a->bytes, buf, INET6_ADDRSTRLEN))
			return 0;
		return strlen(buf);
	}
	for (i = 0; i < 4; i++) {
		unsigned int o = a->bytes[i];

		if (o >= 100)
			*p++ = (char)('0' + o / 100);
		if (o >= 10)
			*p++ = (char)('0' + o / 10 % 10);
		*p++ = (char)('0' + o % 10);
		*p++ = '.';
	}
	*--p = '\0';
	return (size_t)(p - buf);
}

/* The JSON format's names (record_proto_name()); other protocols as their number in decimal. */
static const char *proto_text(char buf[4], uint8_t proto)
{
	const char *name = record_proto_name(proto);

	if (name)
		return name;
	snprintf(buf, 4, "%u", proto);
	return buf;
}

static const char *initiator_text(uint8_t initiator)
{
	switch (initiator) {
	case INITIATOR_SRC:
		return "src";
	case INITIATOR_DST:
		return "dst";
	}
	return "unknown";
}

/* Names of TCP header byte 13 bits, low bit first, as in the JSON format. */
static const char *const tcp_flag_names[8] = { "FIN", "SYN", "RST", "PSH",
					       "ACK", "URG", "ECE", "CWR" };

/*
 * A protobuf writer for our two messages. Hand-written rather than protobuf-c's
 * descriptor-driven pack, which cost ~3x as much per flow record (docs/benchmarks.md); the
 * generated code still decodes it in tests/kafka, field by field, and so does protoc.
 * proto3 rules (encoding guide): a field at its default (0, "", false) is not written, except an
 * explicit-presence one (a field alone in a oneof), which is written whenever it is set.
 */
struct pbw {
	uint8_t *p;
	uint8_t *end;
	bool overflow;
};

enum { WT_VARINT = 0, WT_LEN = 2 };

static size_t varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline void put_varint(struct pbw *w, uint64_t v)
{
	if (w->end - w->p < RECORD_PROTO_VARINT_MAX && (size_t)(w->end - w->p) < varint_size(v)) {
		w->overflow = true;
		return;
	}
	w->p += record_proto_put_varint(w->p, v);
}

static inline void put_u64(struct pbw *w, unsigned int field, uint64_t v)
{
	if (!v)
		return;
	put_varint(w, (uint64_t)field << 3 | WT_VARINT);
	put_varint(w, v);
}

/* A field with explicit presence (alone in a oneof): written whenever set, even when 0. */
static inline void put_u64_present(struct pbw *w, unsigned int field, uint64_t v)
{
	put_varint(w, (uint64_t)field << 3 | WT_VARINT);
	put_varint(w, v);
}

static inline void put_bytes(struct pbw *w, unsigned int field, const void *s, size_t len)
{
	put_varint(w, (uint64_t)field << 3 | WT_LEN);
	put_varint(w, len);
	if ((size_t)(w->end - w->p) < len) {
		w->overflow = true;
		return;
	}
	memcpy(w->p, s, len);
	w->p += len;
}

/*
 * A string field of len raw bytes, written as valid UTF-8 (protobuf requires it of `string`,
 * and decoders reject the whole message otherwise): bytes that are not UTF-8 become U+FFFD,
 * exactly as in JSON (utf8.h). Not written when empty (proto3 default).
 */
static void put_text(struct pbw *w, unsigned int field, const char *s, size_t len)
{
	size_t clean;

	if (!len)
		return;
	clean = utf8_clean_len(s, len);
	if (clean == len) {
		put_bytes(w, field, s, len);
		return;
	}
	put_varint(w, (uint64_t)field << 3 | WT_LEN);
	put_varint(w, clean);
	if ((size_t)(w->end - w->p) < clean) {
		w->overflow = true;
		return;
	}
	w->p = (uint8_t *)utf8_clean((char *)w->p, s, len);
}

static inline void put_str(struct pbw *w, unsigned int field, const char *s)
{
	put_text(w, field, s, s ? strlen(s) : 0);
}

/* Bytes of a string field as put_str() writes it. */
static size_t str_size(unsigned int field, const char *s)
{
	size_t len = s ? utf8_clean_len(s, strlen(s)) : 0;

	return len ? varint_size((uint64_t)field << 3) + varint_size(len) + len : 0;
}

/*
 * Finish a message written at buf + RESERVE: prepend its varint length when delimited, move it
 * to buf. Returns the bytes written or -ENOSPC.
 */
#define RESERVE 3 /* varint of a length below 2 MiB; records are far smaller */

static ssize_t finish(struct pbw *w, uint8_t *buf, bool delimited)
{
	size_t len = (size_t)(w->p - (buf + RESERVE));
	size_t plen = 0;

	if (w->overflow || len >= (1u << 21))
		return -ENOSPC;
	if (delimited)
		plen = record_proto_put_varint(buf, len);
	memmove(buf + plen, buf + RESERVE, len);
	return (ssize_t)(plen + len);
}

/* comm: at most 16 bytes, cut by the kernel at 15 wherever a multi-byte character falls. */
static void put_comm(struct pbw *w, unsigned int field, const char comm[16])
{
	put_text(w, field, comm, strnlen(comm, 16));
}

size_t record_proto_put_varint(uint8_t *buf, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		buf[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	buf[n++] = (uint8_t)v;
	return n;
}

size_t record_proto_get_varint(const uint8_t *buf, size_t len, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < len && i < RECORD_PROTO_VARINT_MAX; i++) {
		x |= (uint64_t)(buf[i] & 0x7f) << (7 * i);
		if (!(buf[i] & 0x80)) {
			*v = x;
			return i + 1;
		}
	}
	return 0;
}

int record_proto_next_delimited(const uint8_t *buf, size_t len, size_t *off, const uint8_t **msg,
				size_t *msg_len)
{
	uint64_t n;
	size_t used;

	if (*off >= len)
		return 0;
	used = record_proto_get_varint(buf + *off, len - *off, &n);
	if (!used || n > len - *off - used)
		return -EBADMSG;
	*msg = buf + *off + used;
	*msg_len = n;
	*off += used + n;
	return 1;
}

ssize_t record_proto_encode_flow(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
				 const struct flow_record *r, bool delimited)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char src_actual[INET6_ADDRSTRLEN], dst_actual[INET6_ADDRSTRLEN];
	struct pbw w = { buf + RESERVE, buf + cap, cap < RESERVE };
	size_t src_len, dst_len;
	char proto[4];
	int i;

	if (w.overflow)
		return -ENOSPC;
	src_len = addr_text(src, r->ip_version, &r->src_addr);
	dst_len = addr_text(dst, r->ip_version, &r->dst_addr);

	put_u64(&w, 1, FLOWSCOPE_SCHEMA_VERSION);
	put_str(&w, 2, ctx->node_name);
	put_u64(&w, 3, r->start_ns);
	put_u64(&w, 4, r->end_ns);
	put_u64(&w, 5, r->cgroup_id);
	put_str(&w, 6, r->cgroup_path);
	put_u64(&w, 7, r->pid);
	put_comm(&w, 8, r->comm);
	put_u64(&w, 9, r->ip_version);
	put_str(&w, 10, proto_text(proto, r->proto));
	put_str(&w, 11, initiator_text(r->initiator));
	for (i = 0; i < 8; i++)
		if (r->tcp_flags & (1u << i))
			put_bytes(&w, 12, tcp_flag_names[i], 3);
	put_bytes(&w, 13, src, src_len);
	put_u64(&w, 14, r->src_port);
	put_bytes(&w, 15, dst, dst_len);
	put_u64(&w, 16, r->dst_port);
	put_u64(&w, 17, r->tx_bytes);
	put_u64(&w, 18, r->tx_packets);
	put_u64(&w, 19, r->rx_bytes);
	put_u64(&w, 20, r->rx_packets);
	put_u64(&w, 21, r->nat);
	/* Without NAT the actual endpoints are the same addresses: format them once. */
	if (!memcmp(&r->src_actual_addr, &r->src_addr, sizeof(r->src_addr)))
		put_bytes(&w, 22, src, src_len);
	else
		put_bytes(&w, 22, src_actual,
			  addr_text(src_actual, r->ip_version, &r->src_actual_addr));
	put_u64(&w, 23, r->src_actual_port);
	if (!memcmp(&r->dst_actual_addr, &r->dst_addr, sizeof(r->dst_addr)))
		put_bytes(&w, 24, dst, dst_len);
	else
		put_bytes(&w, 24, dst_actual,
			  addr_text(dst_actual, r->ip_version, &r->dst_actual_addr));
	put_u64(&w, 25, r->dst_actual_port);
	put_str(&w, 26, r->dst_domain);
	return finish(&w, buf, delimited);
}

ssize_t record_proto_encode_dns(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
				const struct dns_record *r, bool delimited)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	struct pbw w = { buf + RESERVE, buf + cap, cap < RESERVE };
	char name_buf[12], proto[4];
	size_t i;

	if (w.overflow)
		return -ENOSPC;
	put_u64(&w, 1, FLOWSCOPE_SCHEMA_VERSION);
	put_str(&w, 2, ctx->node_name);
	put_u64(&w, 3, r->ts_ns);
	put_u64(&w, 4, r->cgroup_id);
	put_str(&w, 5, r->cgroup_path);
	put_u64(&w, 6, r->pid);
	put_comm(&w, 7, r->comm);
	put_u64(&w, 8, r->ip_version);
	put_str(&w, 9, proto_text(proto, r->proto));
	put_bytes(&w, 10, src, addr_text(src, r->ip_version, &r->src_addr));
	put_u64(&w, 11, r->src_port);
	put_bytes(&w, 12, dst, addr_text(dst, r->ip_version, &r->dst_addr));
	put_u64(&w, 13, r->dst_port);
	put_u64(&w, 14, r->id);
	put_str(&w, 15, r->qname);
	put_str(&w, 16, dns_type_name(r->qtype, name_buf));
	put_str(&w, 17, r->timeout ? "TIMEOUT" : dns_rcode_name(r->rcode, name_buf));
	for (i = 0; i < r->n_answers; i++) {
		const struct dns_answer_view *a = &r->answers[i];
		const char *type = dns_type_name(a->type, name_buf);
		size_t len = str_size(1, a->name) + str_size(2, type) + str_size(4, a->data) +
			     (a->ttl ? 1 + varint_size(a->ttl) : 0);

		/* Embedded message: tag, length, then its fields (never empty: type is set). */
		put_varint(&w, 18 << 3 | WT_LEN);
		put_varint(&w, len);
		put_str(&w, 1, a->name);
		put_str(&w, 2, type);
		put_u64(&w, 3, a->ttl);
		put_str(&w, 4, a->data);
	}
	/* oneof latency: absent is null in JSON (a timeout, or the query was not seen) */
	if (r->latency_known)
		put_u64_present(&w, 19, r->latency_ns);
	put_u64(&w, 20, r->timeout);
	put_u64(&w, 21, r->truncated);
	return finish(&w, buf, delimited);
}
