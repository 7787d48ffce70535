/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Records flowscope exports, independent of the sink and the wire format.
 *
 * A record is a plain view: strings and arrays it points to belong to the caller and stay valid
 * only for the duration of the pipeline_submit()/sink_emit() call that receives it (a pipeline
 * stage that keeps a record longer takes a copy, record_dup()). Field meanings are documented
 * for consumers in docs/records.md; encoders (record_json.c, record_proto.c) must keep to it.
 *
 * Every record type starts with the common header (struct record) and has one entry in the codec
 * table (record_codec.c): its name, encoders, default Kafka topic and protobuf message.
 */
#ifndef FLOWSCOPE_RECORD_H
#define FLOWSCOPE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a field changes meaning or is removed; adding a field does not bump it. */
#define FLOWSCOPE_SCHEMA_VERSION 1

enum record_type {
	RECORD_FLOW = 0,
	RECORD_DNS = 1,
	RECORD_EVENT = 2, /* reserved for tracer events: no codec yet, every sink refuses it */
	RECORD_TYPE_MAX,
};

/*
 * Who runs in the record's cgroup, as the container runtime and Kubernetes name it. Every string
 * is NULL when unknown. Reserved: nothing fills it yet and the encoders ignore it.
 */
struct record_workload {
	const char *container_id;
	const char *container_runtime; /* "containerd", "cri-o", "docker", ... */
	const char *container_name;
	const char *pod_uid;
	const char *pod_namespace;
	const char *pod_name;
	uint8_t cgroup_version; /* 1 or 2: the hierarchy the identity was read from; 0 unknown */
};

/*
 * The header every record starts with. TS is the name its time has in the record type (flows:
 * start_ns, others: ts_ns), so that typed code reads r->start_ns while the pipeline and the sinks
 * read r->hdr.ts_ns: both name the same bytes (see RECORD_HEADER_UNION).
 */
#define RECORD_HEADER_FIELDS(TS)                                                             \
	enum record_type type; /* selects the codec (record_codec()); set by the producer */ \
	uint64_t TS; /* the record's time, Unix epoch ns */                                  \
	uint64_t cgroup_id; /* cgroup v2 id (inode number of the cgroup directory) */        \
	const char *cgroup_path; /* relative to the v2 root, "/" for it; NULL once gone */   \
	uint32_t pid; /* tgid of the socket's creator or the event's task; 0 when unknown */ \
	char comm[16]; /* NUL-terminated; empty when unknown */                              \
	const struct record_workload *workload /* NULL: unknown (always, for now) */

struct record {
	RECORD_HEADER_FIELDS(ts_ns);
};

/*
 * First member of every record type: the header as `hdr` (what the pipeline and sinks take, as
 * &r->hdr) and its fields by name (what the type's own code reads). C11 anonymous members; the
 * two views are the same struct layout, so either may be written and the other read.
 */
#define RECORD_HEADER_UNION(TS)                   \
	union {                                   \
		struct record hdr;                \
		struct {                          \
			RECORD_HEADER_FIELDS(TS); \
		};                                \
	}

/* The typed record that r is the header of (r->type must say it is one). */
#define RECORD_OF(r, type_name) ((type_name *)(void *)(r))
#define CONST_RECORD_OF(r, type_name) ((const type_name *)(const void *)(r))

/* Who opened the flow, as seen from the cgroup's socket. */
enum flow_initiator {
	INITIATOR_UNKNOWN = 0,
	INITIATOR_SRC = 1, /* the local endpoint (src_*) sent the first SYN / first packet */
	INITIATOR_DST = 2, /* the remote peer did */
};

/* An IP address; for ip_version 4 only the first 4 bytes are used (network order). */
struct record_addr {
	uint8_t bytes[16];
};

/* type RECORD_FLOW; start_ns: first packet in this interval. */
struct flow_record {
	RECORD_HEADER_UNION(start_ns);
	uint64_t end_ns; /* last packet in this interval, Unix epoch ns */
	uint8_t ip_version; /* 4 or 6 */
	uint8_t proto; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP or IPPROTO_ICMPV6 */
	uint8_t initiator; /* enum flow_initiator */
	uint8_t tcp_flags; /* OR of TCP flags seen (TCP header byte 13 bit order: FIN=0x01 .. CWR=0x80) */
	struct record_addr src_addr; /* local endpoint, owned by the cgroup */
	struct record_addr dst_addr; /* remote peer as the socket addressed it */
	uint16_t src_port; /* host order; ICMP: echo identifier, 0 otherwise */
	uint16_t dst_port; /* host order; ICMP: 0 */
	uint64_t tx_bytes; /* L3 bytes sent by src, IP header included */
	uint64_t tx_packets;
	uint64_t rx_bytes; /* L3 bytes received by src */
	uint64_t rx_packets;
	/* Conntrack view (equal to src/dst when there is no translation). */
	bool nat;
	struct record_addr src_actual_addr;
	uint16_t src_actual_port;
	struct record_addr dst_actual_addr;
	uint16_t dst_actual_port;
	/* Name the client asked for that resolved to dst_actual_addr/dst_addr; NULL when unknown. */
	const char *dst_domain;
};

/* One resource record of a DNS answer section, already rendered to text. */
struct dns_answer_view {
	const char *name; /* owner name, as qname (RFC 1035 §5.1 presentation form) */
	uint16_t type; /* RR TYPE (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 9460) */
	uint32_t ttl; /* seconds */
	const char *data; /* rendered RDATA ("192.0.2.1", "target.example", "10 5 443 srv.example");
			     empty for types whose data is not decoded */
};

/* rcode value meaning "no response within --dns-timeout" (outside the 12-bit DNS rcode space). */
#define DNS_RCODE_TIMEOUT 0xffff

/* type RECORD_DNS; ts_ns: response (or timeout) time. */
struct dns_record {
	RECORD_HEADER_UNION(ts_ns);
	uint8_t ip_version;
	uint8_t proto; /* IPPROTO_UDP or IPPROTO_TCP */
	struct record_addr src_addr; /* the client (the cgroup's socket) */
	uint16_t src_port;
	struct record_addr dst_addr; /* the server */
	uint16_t dst_port;
	uint16_t id; /* DNS message ID */
	const char *qname; /* presentation form of RFC 1035 §5.1 (dns_rr_owner()), no trailing dot */
	uint16_t qtype;
	uint16_t rcode; /* extended rcode (RFC 6891 §6.1.3) or DNS_RCODE_TIMEOUT */
	const struct dns_answer_view *answers; /* every answer RR of the message, in order */
	size_t n_answers; /* no cap: sized per message */
	uint64_t latency_ns; /* query to response, ns; meaningful only when latency_known */
	bool latency_known; /* false: latency_ns is null (a timeout, or a response whose query
			       was not seen) */
	bool timeout; /* no response within --dns-timeout: rcode is "TIMEOUT" */
	bool truncated; /* TC bit set, or the capture cut the message (answers: those captured
			   whole), or no memory to render them all */
};

_Static_assert(offsetof(struct flow_record, hdr) == 0, "the header comes first");
_Static_assert(offsetof(struct dns_record, hdr) == 0, "the header comes first");

/* Names used in records for an IP protocol: "tcp", "udp", "icmp", "icmpv6", or NULL for others. */
const char *record_proto_name(uint8_t proto);

/*
 * A deep copy of r (strings, answers and workload included) in one allocation, for a pipeline
 * stage that holds a record past the call that handed it over. Returns NULL with errno ENOMEM,
 * or EINVAL for a type without a codec. Free with record_free().
 */
struct record *record_dup(const struct record *r);
void record_free(struct record *r);

#endif /* FLOWSCOPE_RECORD_H */
