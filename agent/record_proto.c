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
 * The <address>_bytes field of an address: 16 raw bytes, the IPv6 address or for IPv4 the
 * IPv4-mapped ::ffff:a.b.c.d (RFC 4291 §2.5.5.2), which ClickHouse reads into an IPv6 column
 * (records.proto). Family as in addr_text().
 */
static void put_addr_bytes(struct pbw *w, unsigned int field, uint8_t ip_version,
			   const struct record_addr *a)
{
	uint8_t b[16] = { [10] = 0xff, [11] = 0xff };

	if (ip_version != 4)
		memcpy(b, a->bytes, sizeof(b));
	else
		memcpy(b + 12, a->bytes, 4);
	put_bytes(w, field, b, sizeof(b));
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

/* A Workload message (records.proto); absent when there is none or every field is unknown. */
static void put_workload(struct pbw *w, unsigned int field, const struct record_workload *wl)
{
	size_t len;

	if (!wl)
		return;
	len = str_size(1, wl->container_id) + str_size(2, wl->container_runtime) +
	      str_size(3, wl->container_name) + str_size(4, wl->pod_uid) +
	      str_size(5, wl->pod_namespace) + str_size(6, wl->pod_name);
	if (!len)
		return;
	put_varint(w, (uint64_t)field << 3 | WT_LEN);
	put_varint(w, len);
	put_str(w, 1, wl->container_id);
	put_str(w, 2, wl->container_runtime);
	put_str(w, 3, wl->container_name);
	put_str(w, 4, wl->pod_uid);
	put_str(w, 5, wl->pod_namespace);
	put_str(w, 6, wl->pod_name);
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
	put_u64(&w, 27, r->cgroup_version);
	put_workload(&w, 28, r->workload);
	put_str(&w, 29, r->dst_pod_namespace);
	put_str(&w, 30, r->dst_pod_name);
	put_addr_bytes(&w, 31, r->ip_version, &r->src_addr);
	put_addr_bytes(&w, 32, r->ip_version, &r->dst_addr);
	put_addr_bytes(&w, 33, r->ip_version, &r->src_actual_addr);
	put_addr_bytes(&w, 34, r->ip_version, &r->dst_actual_addr);
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
	put_u64(&w, 22, r->cgroup_version);
	put_workload(&w, 23, r->workload);
	put_addr_bytes(&w, 24, r->ip_version, &r->src_addr);
	put_addr_bytes(&w, 25, r->ip_version, &r->dst_addr);
	return finish(&w, buf, delimited);
}
/* Field numbers of EventRecord's args messages: index + 1 in these key lists (records.proto). */
static const char *const execargs_keys[] = { "filename",    "argv",  "argv_truncated",
					     "interpreter", "env",   "env_truncated",
					     "ret",	    "errno", NULL };
static const char *const forkargs_keys[] = { "parent_pid", "parent_tid", "child_pid", "child_tid",
					     NULL };
static const char *const exitargs_keys[] = { "exit_code", "signal", "core_dumped", "group_dead",
					     NULL };
static const char *const tcpargs_keys[] = { "ip_version", "src_addr",	    "src_port",
					    "dst_addr",	  "dst_port",	    "errno",
					    "bytes_sent", "bytes_received", "duration_ns",
					    "state",	  "src_addr_bytes", "dst_addr_bytes",
					    NULL };
static const char *const cgroupargs_keys[] = { "cgroup_id", "cgroup_path", "hierarchy_id",
					       "threadgroup", NULL };
static const char *const oomkillargs_keys[] = { "victim_pid",	"victim_comm",
						"victim_uid",	"victim_cgroup_id",
						"total_vm_kib", "rss_kib",
						"killer_pid",	NULL };
static const char *const signalargs_keys[] = { "target_pid", "target_tid", "target_comm", "signal",
					       "result",     "code",	   NULL };
static const char *const syscallargs_keys[] = {
	"fd",	  "family",   "addr",	    "port",	  "flags",  "dirfd",  "pathname",
	"mode",	  "filename", "nstype",	    "source",	  "target", "fstype", "name",
	"uid",	  "gid",      "request",    "target_pid", "cmd",    "size",   "len",
	"params", "ret",      "addr_bytes", NULL
};

static const struct {
	const char *event;
	unsigned int field;
	const char *const *keys;
} event_kinds[] = {
	{ "sched_process_exec", 20, execargs_keys },
	{ "sched_process_exec_failed", 21, execargs_keys },
	{ "sched_process_fork", 22, forkargs_keys },
	{ "sched_process_exit", 23, exitargs_keys },
	{ "tcp_connect", 24, tcpargs_keys },
	{ "tcp_accept", 25, tcpargs_keys },
	{ "tcp_listen", 26, tcpargs_keys },
	{ "tcp_close", 27, tcpargs_keys },
	{ "tcp_connect_error", 28, tcpargs_keys },
	{ "tcp_retransmit", 29, tcpargs_keys },
	{ "cgroup_mkdir", 30, cgroupargs_keys },
	{ "cgroup_rmdir", 31, cgroupargs_keys },
	{ "cgroup_attach_task", 32, cgroupargs_keys },
	{ "oom_kill", 33, oomkillargs_keys },
	{ "signal_generate", 34, signalargs_keys },
	{ "syscall", 35, syscallargs_keys },
};

static inline uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* The field number of key: its position in keys + 1; 0 when absent. */
static unsigned int arg_field(const char *const *keys, const char *key)
{
	for (unsigned int i = 0; keys[i]; i++)
		if (!strcmp(keys[i], key))
			return i + 1;
	return 0;
}

/* One args field by its key's position in keys (field number = index + 1); unknown keys are
 * left out (the schema has no place for them). An address also goes to <key>_bytes. */
static void put_event_arg(struct pbw *w, const char *const *keys, const struct event_arg *a)
{
	char text[INET6_ADDRSTRLEN], bytes_key[64];
	unsigned int field = arg_field(keys, a->key);

	if (!field)
		return;
	switch (a->type) {
	case EVENT_ARG_U64:
		put_u64(w, field, a->u);
		break;
	case EVENT_ARG_S64:
		put_u64(w, field, zigzag(a->s));
		break;
	case EVENT_ARG_BOOL:
		put_u64(w, field, a->b);
		break;
	case EVENT_ARG_STR:
		put_str(w, field, a->str);
		break;
	case EVENT_ARG_STR_LIST:
		/* repeated: every element, empty ones too */
		for (size_t j = 0; j < a->list.n; j++)
			put_bytes(w, field, a->list.v[j], strlen(a->list.v[j]));
		break;
	case EVENT_ARG_ADDR:
		put_bytes(w, field, text, addr_text(text, a->addr.ip_version, &a->addr.a));
		snprintf(bytes_key, sizeof(bytes_key), "%s_bytes", a->key);
		field = arg_field(keys, bytes_key);
		if (field)
			put_addr_bytes(w, field, a->addr.ip_version, &a->addr.a);
		break;
	}
}

ssize_t record_proto_encode_event(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
				  const struct event_record *r, bool delimited)
{
	struct pbw w = { buf + RESERVE, buf + cap, cap < RESERVE };
	const char *kind = r->event;
	size_t k;

	if (w.overflow)
		return -ENOSPC;
	put_u64(&w, 1, FLOWSCOPE_SCHEMA_VERSION);
	put_str(&w, 2, ctx->node_name);
	put_u64(&w, 3, r->ts_ns);
	put_str(&w, 4, r->event);
	put_u64(&w, 5, r->cgroup_id);
	put_str(&w, 6, r->cgroup_path);
	put_u64(&w, 7, r->pid);
	put_u64(&w, 8, r->tid);
	put_u64(&w, 9, r->ns_pid);
	put_u64(&w, 10, r->ppid);
	put_u64(&w, 11, r->uid);
	put_u64(&w, 12, r->gid);
	put_comm(&w, 13, r->comm);
	put_u64(&w, 14, r->cgroup_version);
	put_workload(&w, 15, r->workload);
	for (k = 0; k < sizeof(event_kinds) / sizeof(event_kinds[0]) - 1; k++)
		if (kind && !strcmp(event_kinds[k].event, kind))
			break;
	/* not a named kind: a syscall event (the last row) */
	{
		uint8_t *len_at, *start;
		size_t len, n;

		put_varint(&w, (uint64_t)event_kinds[k].field << 3 | WT_LEN);
		/* the length is written once the message is: room for the longest varint first,
		 * then the payload moves down next to the real one */
		if (w.overflow || (size_t)(w.end - w.p) < RECORD_PROTO_VARINT_MAX)
			return -ENOSPC;
		len_at = w.p;
		w.p += RECORD_PROTO_VARINT_MAX;
		start = w.p;
		for (size_t i = 0; i < r->n_args; i++)
			put_event_arg(&w, event_kinds[k].keys, &r->args[i]);
		if (w.overflow)
			return -ENOSPC;
		len = w.p - start;
		n = record_proto_put_varint(len_at, len);
		memmove(len_at + n, start, len);
		w.p = len_at + n + len;
	}
	return finish(&w, buf, delimited);
}
