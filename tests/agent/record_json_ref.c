// SPDX-License-Identifier: Apache-2.0
/*
 * Reference JSON encoder: agent/record_json.c as of commit 44396b8 (inet_ntop, a bounds check
 * per write, strings checked byte by byte), kept unchanged but for the names of its entry points.
 * The differential test (test_record_json) requires the agent's encoder to produce exactly its
 * bytes, and bench/json/json_bench measures the agent's encoder against it in the same run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dns.h"
#include "record_json_ref.h"

struct jbuf {
	char *p;
	char *end;
	bool overflow;
};

static inline void put_raw(struct jbuf *b, const char *s, size_t n)
{
	if ((size_t)(b->end - b->p) < n) {
		b->overflow = true;
		return;
	}
	memcpy(b->p, s, n);
	b->p += n;
}

#define PUT_LIT(b, lit) put_raw((b), (lit), sizeof(lit) - 1)

static inline void put_u64(struct jbuf *b, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put_raw(b, tmp + sizeof(tmp) - n, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (at most avail bytes), or 0 when invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF are not UTF-8 */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string; bytes that are not UTF-8 (comm and qnames are raw bytes) become U+FFFD. */
static void put_str_n(struct jbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;

	PUT_LIT(b, "\"");
	while (i < len) {
		unsigned char c = u[i];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			run++;
			i++;
			continue;
		}
		put_raw(b, s + i - run, run);
		run = 0;
		if (c == '"') {
			PUT_LIT(b, "\\\"");
		} else if (c == '\\') {
			PUT_LIT(b, "\\\\");
		} else if (c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			put_raw(b, esc, sizeof(esc));
		} else if ((n = utf8_seq_len(u + i, len - i)) > 0) {
			put_raw(b, s + i, n);
			i += n;
			continue;
		} else {
			PUT_LIT(b, "\\ufffd");
		}
		i++;
	}
	put_raw(b, s + i - run, run);
	PUT_LIT(b, "\"");
}

static inline void put_str(struct jbuf *b, const char *s)
{
	put_str_n(b, s, strlen(s));
}

static inline void put_str_or_null(struct jbuf *b, const char *s)
{
	if (s)
		put_str(b, s);
	else
		PUT_LIT(b, "null");
}

static void put_addr(struct jbuf *b, uint8_t ip_version, const struct record_addr *a)
{
	char tmp[INET6_ADDRSTRLEN + 2];

	if (ip_version == 4) {
		char *p = tmp;

		*p++ = '"';
		for (int i = 0; i < 4; i++) {
			unsigned int o = a->bytes[i];

			if (o >= 100)
				*p++ = (char)('0' + o / 100);
			if (o >= 10)
				*p++ = (char)('0' + o / 10 % 10);
			*p++ = (char)('0' + o % 10);
			*p++ = i < 3 ? '.' : '"';
		}
		put_raw(b, tmp, (size_t)(p - tmp));
		return;
	}
	tmp[0] = '"';
	if (!inet_ntop(AF_INET6, a->bytes, tmp + 1, INET6_ADDRSTRLEN)) {
		PUT_LIT(b, "null");
		return;
	}
	size_t n = strlen(tmp);
	tmp[n] = '"';
	put_raw(b, tmp, n + 1);
}

static const char *ref_proto_name(uint8_t proto)
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
	return NULL;
}

static void put_proto(struct jbuf *b, uint8_t proto)
{
	const char *name = ref_proto_name(proto);

	if (name) {
		put_str(b, name);
	} else {
		put_u64(b, proto);
	}
}

static void put_tcp_flags(struct jbuf *b, uint8_t flags)
{
	/* TCP header byte 13, low bit first (RFC 9293 §3.1, RFC 3168 §23.2) */
	static const char *const names[8] = {
		"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"
	};
	bool first = true;

	PUT_LIT(b, "[");
	for (int i = 0; i < 8; i++) {
		if (!(flags & (1u << i)))
			continue;
		if (!first)
			PUT_LIT(b, ",");
		PUT_LIT(b, "\"");
		put_raw(b, names[i], strlen(names[i]));
		PUT_LIT(b, "\"");
		first = false;
	}
	PUT_LIT(b, "]");
}

static const char *initiator_name(uint8_t initiator)
{
	switch (initiator) {
	case INITIATOR_SRC:
		return "\"src\"";
	case INITIATOR_DST:
		return "\"dst\"";
	}
	return "\"unknown\"";
}

static void put_head(struct jbuf *b, const char *type_lit, size_t type_len,
		     const struct record_json_ctx *ctx)
{
	put_raw(b, type_lit, type_len);
	PUT_LIT(b, ",\"schema_version\":");
	put_u64(b, FLOWSCOPE_SCHEMA_VERSION);
	PUT_LIT(b, ",\"node\":");
	put_str(b, ctx->node_name);
}

static void put_owner(struct jbuf *b, uint64_t cgroup_id, const char *cgroup_path,
		      uint8_t cgroup_version, uint32_t pid, const char comm[16])
{
	PUT_LIT(b, ",\"cgroup_id\":");
	put_u64(b, cgroup_id);
	PUT_LIT(b, ",\"cgroup_path\":");
	put_str_or_null(b, cgroup_path);
	PUT_LIT(b, ",\"cgroup_version\":");
	put_u64(b, cgroup_version);
	PUT_LIT(b, ",\"pid\":");
	put_u64(b, pid);
	PUT_LIT(b, ",\"comm\":");
	put_str_n(b, comm, strnlen(comm, 16));
}

static void put_workload(struct jbuf *b, const struct record_workload *w)
{
	const char *v[6] = { 0 };
	static const char *const names[6] = { "container_id", "container_runtime", "container_name",
					      "pod_uid",      "pod_namespace",	   "pod_name" };

	if (w) {
		v[0] = w->container_id;
		v[1] = w->container_runtime;
		v[2] = w->container_name;
		v[3] = w->pod_uid;
		v[4] = w->pod_namespace;
		v[5] = w->pod_name;
	}
	for (int i = 0; i < 6; i++) {
		PUT_LIT(b, ",\"");
		put_raw(b, names[i], strlen(names[i]));
		PUT_LIT(b, "\":");
		put_str_or_null(b, v[i]);
	}
}

static void put_endpoints(struct jbuf *b, uint8_t ip_version, uint8_t proto,
			  const struct record_addr *src, uint16_t sport,
			  const struct record_addr *dst, uint16_t dport)
{
	PUT_LIT(b, ",\"ip_version\":");
	put_u64(b, ip_version);
	PUT_LIT(b, ",\"proto\":");
	put_proto(b, proto);
	PUT_LIT(b, ",\"src_addr\":");
	put_addr(b, ip_version, src);
	PUT_LIT(b, ",\"src_port\":");
	put_u64(b, sport);
	PUT_LIT(b, ",\"dst_addr\":");
	put_addr(b, ip_version, dst);
	PUT_LIT(b, ",\"dst_port\":");
	put_u64(b, dport);
}

static ssize_t finish(struct jbuf *b, char *buf)
{
	if (b->overflow)
		return -ENOSPC;
	if (b->p < b->end)
		*b->p = '\0';
	return b->p - buf;
}

ssize_t ref_record_json_flow(char *buf, size_t cap, const struct record_json_ctx *ctx,
			     const struct flow_record *r)
{
	struct jbuf b = { buf, buf + cap, false };

	put_head(&b, "{\"type\":\"flow\"", 14, ctx);
	PUT_LIT(&b, ",\"start_ns\":");
	put_u64(&b, r->start_ns);
	PUT_LIT(&b, ",\"end_ns\":");
	put_u64(&b, r->end_ns);
	put_owner(&b, r->cgroup_id, r->cgroup_path, r->cgroup_version, r->pid, r->comm);
	put_workload(&b, r->workload);
	put_endpoints(&b, r->ip_version, r->proto, &r->src_addr, r->src_port, &r->dst_addr,
		      r->dst_port);
	PUT_LIT(&b, ",\"initiator\":");
	put_raw(&b, initiator_name(r->initiator), strlen(initiator_name(r->initiator)));
	PUT_LIT(&b, ",\"tx_bytes\":");
	put_u64(&b, r->tx_bytes);
	PUT_LIT(&b, ",\"tx_packets\":");
	put_u64(&b, r->tx_packets);
	PUT_LIT(&b, ",\"rx_bytes\":");
	put_u64(&b, r->rx_bytes);
	PUT_LIT(&b, ",\"rx_packets\":");
	put_u64(&b, r->rx_packets);
	PUT_LIT(&b, ",\"tcp_flags\":");
	put_tcp_flags(&b, r->tcp_flags);
	if (r->nat)
		PUT_LIT(&b, ",\"nat\":true");
	else
		PUT_LIT(&b, ",\"nat\":false");
	PUT_LIT(&b, ",\"src_actual_addr\":");
	put_addr(&b, r->ip_version, &r->src_actual_addr);
	PUT_LIT(&b, ",\"src_actual_port\":");
	put_u64(&b, r->src_actual_port);
	PUT_LIT(&b, ",\"dst_actual_addr\":");
	put_addr(&b, r->ip_version, &r->dst_actual_addr);
	PUT_LIT(&b, ",\"dst_actual_port\":");
	put_u64(&b, r->dst_actual_port);
	PUT_LIT(&b, ",\"dst_domain\":");
	put_str_or_null(&b, r->dst_domain);
	PUT_LIT(&b, ",\"dst_pod_namespace\":");
	put_str_or_null(&b, r->dst_pod_namespace);
	PUT_LIT(&b, ",\"dst_pod_name\":");
	put_str_or_null(&b, r->dst_pod_name);
	PUT_LIT(&b, "}");
	return finish(&b, buf);
}

ssize_t ref_record_json_dns(char *buf, size_t cap, const struct record_json_ctx *ctx,
			    const struct dns_record *r)
{
	struct jbuf b = { buf, buf + cap, false };
	char name_buf[12];

	put_head(&b, "{\"type\":\"dns\"", 13, ctx);
	PUT_LIT(&b, ",\"ts_ns\":");
	put_u64(&b, r->ts_ns);
	put_owner(&b, r->cgroup_id, r->cgroup_path, r->cgroup_version, r->pid, r->comm);
	put_workload(&b, r->workload);
	put_endpoints(&b, r->ip_version, r->proto, &r->src_addr, r->src_port, &r->dst_addr,
		      r->dst_port);
	PUT_LIT(&b, ",\"id\":");
	put_u64(&b, r->id);
	PUT_LIT(&b, ",\"qname\":");
	put_str_or_null(&b, r->qname);
	PUT_LIT(&b, ",\"qtype\":");
	put_str(&b, dns_type_name(r->qtype, name_buf));
	PUT_LIT(&b, ",\"rcode\":");
	put_str(&b, r->timeout ? "TIMEOUT" : dns_rcode_name(r->rcode, name_buf));
	PUT_LIT(&b, ",\"answers\":[");
	for (size_t i = 0; i < r->n_answers; i++) {
		const struct dns_answer_view *a = &r->answers[i];

		if (i)
			PUT_LIT(&b, ",");
		PUT_LIT(&b, "{\"name\":");
		put_str_or_null(&b, a->name);
		PUT_LIT(&b, ",\"type\":");
		put_str(&b, dns_type_name(a->type, name_buf));
		PUT_LIT(&b, ",\"ttl\":");
		put_u64(&b, a->ttl);
		PUT_LIT(&b, ",\"data\":");
		put_str_or_null(&b, a->data);
		PUT_LIT(&b, "}");
	}
	PUT_LIT(&b, "],\"latency_ns\":");
	if (!r->latency_known)
		PUT_LIT(&b, "null");
	else
		put_u64(&b, r->latency_ns);
	if (r->truncated)
		PUT_LIT(&b, ",\"truncated\":true}");
	else
		PUT_LIT(&b, ",\"truncated\":false}");
	return finish(&b, buf);
}
