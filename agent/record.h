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
	RECORD_EVENT = 2, /* tracer events (struct event_record) */
	RECORD_TYPE_MAX,
};

/*
 * Who runs in the record's cgroup, as the container runtime and Kubernetes name it
 * (identity/identity.h, through agent/enrich_identity.c). Every string is NULL when unknown.
 */
struct record_workload {
	const char *container_id;
	const char *container_runtime; /* "containerd", "cri-o", "docker", "podman" */
	const char *container_name;
	const char *pod_uid;
	const char *pod_namespace;
	const char *pod_name;
};

/*
 * The header every record starts with. TS is the name its time has in the record type (flows:
 * start_ns, others: ts_ns), so that typed code reads r->start_ns while the pipeline and the sinks
 * read r->hdr.ts_ns: both name the same bytes (see RECORD_HEADER_UNION).
 */
#define RECORD_HEADER_FIELDS(TS)                                                             \
	enum record_type type; /* selects the codec (record_codec()); set by the producer */ \
	uint64_t TS; /* the record's time, Unix epoch ns */                                  \
	/* id (inode number) of the cgroup directory, v2 or v1 memory (cgroup_version) */    \
	uint64_t cgroup_id;                                                                  \
	/* relative to its hierarchy's root, "/" for it; NULL once gone */                   \
	const char *cgroup_path;                                                             \
	uint8_t cgroup_version; /* 2, or 1 for a v1 memory cgroup (--cgroup-mode v1) */      \
	uint32_t pid; /* tgid of the socket's creator or the event's task; 0 when unknown */ \
	char comm[16]; /* NUL-terminated; empty when unknown */                              \
	const struct record_workload *workload /* NULL: all unknown */

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
	/* The remote end's pod when it is a flow of this node too (pod to pod); NULL otherwise. */
	const char *dst_pod_namespace;
	const char *dst_pod_name;
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

/* How an event argument's value is held and encoded. */
enum event_arg_type {
	EVENT_ARG_U64, /* a JSON number */
	EVENT_ARG_S64,
	EVENT_ARG_BOOL,
	EVENT_ARG_STR, /* a JSON string (any bytes, escaped) */
	EVENT_ARG_STR_LIST, /* a JSON array of strings, empty ones kept */
	EVENT_ARG_ADDR, /* an IP address as text, per ip_version */
};

/* One key of an event's `args` object. */
struct event_arg {
	const char *key;
	enum event_arg_type type;
	union {
		uint64_t u;
		int64_t s;
		bool b;
		const char *str; /* NULL encodes as null */
		struct {
			const char *const *v;
			size_t n;
		} list;
		struct {
			uint8_t ip_version;
			struct record_addr a;
		} addr;
	};
};

/* type RECORD_EVENT; ts_ns: when the kernel saw it. The header's pid is the event's task's tgid. */
struct event_record {
	RECORD_HEADER_UNION(ts_ns);
	const char *event; /* "sched_process_exec", ..., a syscall's name */
	uint32_t tid; /* initial PID namespace */
	uint32_t ns_pid; /* the tgid in the task's own PID namespace */
	uint32_t ppid;
	uint32_t uid;
	uint32_t gid;
	const struct event_arg *args;
	size_t n_args;
};

_Static_assert(offsetof(struct flow_record, hdr) == 0, "the header comes first");
_Static_assert(offsetof(struct event_record, hdr) == 0, "the header comes first");
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

/*
 * Copies that are let go of together (one interval's held flows): record_dup()'s copy, carved
 * from chunks of 1 MiB mmap'd anonymous memory instead of one malloc() each, so the copies
 * cost no allocator header and the arena gives whole chunks back to the system once a few
 * resets did not need them (a heap that held 100k copies would stay resident, fragmented, after
 * they are freed).
 */
struct record_arena;

/* An empty arena; NULL with errno ENOMEM. */
struct record_arena *record_arena_create(void);

/*
 * A deep copy of r as record_dup() makes it, valid until the next record_arena_reset() or
 * record_arena_destroy(); never record_free() it. NULL with errno ENOMEM or EINVAL.
 */
struct record *record_arena_dup(struct record_arena *a, const struct record *r);

/*
 * n bytes of the arena at a multiple of 8, for a stage's own packed copies; valid as the
 * arena's copies are. NULL with errno ENOMEM.
 */
void *record_arena_alloc(struct record_arena *a, size_t n);

/*
 * Every copy goes. The chunks stay mapped for the next copies (a steady load's intervals reuse
 * their pages rather than fault fresh ones in); after 8 resets in a row that each found more
 * chunks than it had used, those beyond the last one's use (at least one) are unmapped.
 */
void record_arena_reset(struct record_arena *a);

/* NULL is accepted. */
void record_arena_destroy(struct record_arena *a);

#endif /* FLOWSCOPE_RECORD_H */
