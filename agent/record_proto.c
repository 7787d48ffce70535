// SPDX-License-Identifier: Apache-2.0
/*
 * Protobuf encoding of flow and DNS records with protobuf-c's generated code.
 *
 * The generated message structs hold char pointers; every string is either one the record
 * already owns or a text address rendered into a stack buffer here, so encoding allocates nothing
 * (except for DNS responses with more than DNS_ANSWERS_ON_STACK answers).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "flowscope/v1/records.pb-c.h"
#include "record_proto.h"

#define DNS_ANSWERS_ON_STACK 32

/* Text form of an address: RFC 5952 for IPv6 (inet_ntop), dotted quad for IPv4. */
static char *addr_text(char buf[INET6_ADDRSTRLEN], uint8_t ip_version, const struct record_addr *a)
{
	if (!inet_ntop(ip_version == 6 ? AF_INET6 : AF_INET, a->bytes, buf, INET6_ADDRSTRLEN))
		buf[0] = '\0';
	return buf;
}

/* Same strings as the JSON format; other protocols as their number in decimal. */
static char *proto_text(char buf[4], uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	snprintf(buf, 4, "%u", proto);
	return buf;
}

static char *initiator_text(uint8_t initiator)
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
static char *const tcp_flag_names[8] = { "FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR" };

/* protobuf-c takes char *, and never writes through it when packing. */
static char *str(const char *s)
{
	return (char *)(s ? s : "");
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

/* Size check, optional length prefix, then pack. protobuf-c's pack does not check capacity. */
static ssize_t pack(uint8_t *buf, size_t cap, const ProtobufCMessage *m, bool delimited)
{
	size_t size = protobuf_c_message_get_packed_size(m);
	uint8_t prefix[RECORD_PROTO_VARINT_MAX];
	size_t plen = delimited ? record_proto_put_varint(prefix, size) : 0;

	if (size + plen > cap)
		return -ENOSPC;
	memcpy(buf, prefix, plen);
	return (ssize_t)(plen + protobuf_c_message_pack(m, buf + plen));
}

ssize_t record_proto_encode_flow(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
				 const struct flow_record *r, bool delimited)
{
	Flowscope__V1__FlowRecord m = FLOWSCOPE__V1__FLOW_RECORD__INIT;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char src_actual[INET6_ADDRSTRLEN], dst_actual[INET6_ADDRSTRLEN];
	char comm[sizeof(r->comm) + 1];
	char *flags[8];
	char proto[4];
	int i;

	/* comm is NUL-terminated by contract; bound it anyway. */
	memcpy(comm, r->comm, sizeof(r->comm));
	comm[sizeof(r->comm)] = '\0';

	m.schema_version = FLOWSCOPE_SCHEMA_VERSION;
	m.node = str(ctx->node_name);
	m.start_ns = r->start_ns;
	m.end_ns = r->end_ns;
	m.cgroup_id = r->cgroup_id;
	m.cgroup_path = str(r->cgroup_path);
	m.pid = r->pid;
	m.comm = comm;
	m.ip_version = r->ip_version;
	m.proto = proto_text(proto, r->proto);
	m.initiator = initiator_text(r->initiator);
	m.tcp_flags = flags;
	for (i = 0; i < 8; i++)
		if (r->tcp_flags & (1u << i))
			flags[m.n_tcp_flags++] = tcp_flag_names[i];
	m.src_addr = addr_text(src, r->ip_version, &r->src_addr);
	m.src_port = r->src_port;
	m.dst_addr = addr_text(dst, r->ip_version, &r->dst_addr);
	m.dst_port = r->dst_port;
	m.tx_bytes = r->tx_bytes;
	m.tx_packets = r->tx_packets;
	m.rx_bytes = r->rx_bytes;
	m.rx_packets = r->rx_packets;
	m.nat = r->nat;
	m.src_actual_addr = addr_text(src_actual, r->ip_version, &r->src_actual_addr);
	m.src_actual_port = r->src_actual_port;
	m.dst_actual_addr = addr_text(dst_actual, r->ip_version, &r->dst_actual_addr);
	m.dst_actual_port = r->dst_actual_port;
	m.dst_domain = str(r->dst_domain);
	return pack(buf, cap, &m.base, delimited);
}

ssize_t record_proto_encode_dns(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
				const struct dns_record *r, bool delimited)
{
	Flowscope__V1__DnsRecord m = FLOWSCOPE__V1__DNS_RECORD__INIT;
	Flowscope__V1__DnsAnswer ans_stack[DNS_ANSWERS_ON_STACK];
	Flowscope__V1__DnsAnswer *ptr_stack[DNS_ANSWERS_ON_STACK];
	Flowscope__V1__DnsAnswer *ans = ans_stack;
	Flowscope__V1__DnsAnswer **ptrs = ptr_stack;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char comm[sizeof(r->comm) + 1];
	char names_stack[DNS_ANSWERS_ON_STACK][12];
	char(*names)[12] = names_stack;
	char qtype[12], rcode[12];
	char proto[4];
	ssize_t ret;
	size_t i;

	if (r->n_answers > DNS_ANSWERS_ON_STACK) {
		ans = malloc(r->n_answers * sizeof(*ans));
		ptrs = malloc(r->n_answers * sizeof(*ptrs));
		names = malloc(r->n_answers * sizeof(*names));
		if (!ans || !ptrs || !names) {
			ret = -ENOMEM;
			goto cleanup;
		}
	}
	for (i = 0; i < r->n_answers; i++) {
		const struct dns_answer_view *a = &r->answers[i];

		flowscope__v1__dns_answer__init(&ans[i]);
		ans[i].name = str(a->name);
		ans[i].type = (char *)dns_type_name(a->type, names[i]);
		ans[i].ttl = a->ttl;
		ans[i].data = str(a->data);
		ptrs[i] = &ans[i];
	}

	memcpy(comm, r->comm, sizeof(r->comm));
	comm[sizeof(r->comm)] = '\0';

	m.schema_version = FLOWSCOPE_SCHEMA_VERSION;
	m.node = str(ctx->node_name);
	m.ts_ns = r->ts_ns;
	m.cgroup_id = r->cgroup_id;
	m.cgroup_path = str(r->cgroup_path);
	m.pid = r->pid;
	m.comm = comm;
	m.ip_version = r->ip_version;
	m.proto = proto_text(proto, r->proto);
	m.src_addr = addr_text(src, r->ip_version, &r->src_addr);
	m.src_port = r->src_port;
	m.dst_addr = addr_text(dst, r->ip_version, &r->dst_addr);
	m.dst_port = r->dst_port;
	m.id = r->id;
	m.qname = str(r->qname);
	m.qtype = (char *)dns_type_name(r->qtype, qtype);
	m.rcode = r->timeout ? "TIMEOUT" : (char *)dns_rcode_name(r->rcode, rcode);
	m.n_answers = r->n_answers;
	m.answers = ptrs;
	m.latency_ns = r->timeout ? 0 : r->latency_ns;
	m.timeout = r->timeout;
	m.truncated = r->truncated;
	ret = pack(buf, cap, &m.base, delimited);
cleanup:
	if (ans != ans_stack)
		free(ans);
	if (ptrs != ptr_stack)
		free(ptrs);
	if (names != names_stack)
		free(names);
	return ret;
}
