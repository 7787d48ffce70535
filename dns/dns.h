/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dns: user-space DNS library of flowscope.
 *
 * - a wire parser for DNS messages (RFC 1035 §4.1) that walks header, question, all answer RRs
 *   and the EDNS(0) OPT record without allocating, and validates every name it walks;
 * - a renderer that turns names and answer data into text: names in the presentation form of
 *   RFC 1035 §5.1, written from the wire labels by this library (see dns_rr_owner());
 * - DNS-over-TCP reassembly (RFC 1035 §4.2.2, RFC 7766 §8);
 * - a query/response matcher keyed by (cgroup id, 5-tuple, DNS id);
 * - a bounded per-cgroup cache from answer address to the name the client asked for.
 *
 * Nothing here reads the clock: every time is passed in by the caller, in nanoseconds.
 * Nothing here is thread-safe: use one object per thread or lock outside.
 */
#ifndef FLOWSCOPE_DNS_H
#define FLOWSCOPE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results of every function of this library that can fail. */
enum dns_status {
	DNS_OK = 0,
	DNS_ERR_INVAL, /* NULL argument or argument out of range */
	DNS_ERR_NOMEM,
	/* Parse errors (dns_parse). */
	DNS_ERR_SHORT_HEADER, /* fewer than the 12 header octets (RFC 1035 §4.1.1) */
	DNS_ERR_TOO_LONG, /* more than 65535 octets, which no DNS transport can carry */
	DNS_ERR_COUNTS, /* QDCOUNT/ANCOUNT/NSCOUNT/ARCOUNT cannot fit in the message */
	DNS_ERR_NAME_TRUNCATED, /* a name runs past the end of the message */
	DNS_ERR_NAME_LABEL, /* label length octet 0x40..0xbf: label over 63 or reserved type */
	DNS_ERR_NAME_TOO_LONG, /* name over 255 octets in wire form (RFC 1035 §3.1) */
	DNS_ERR_NAME_PTR_LOOP, /* compression pointer back into the name being read, or to itself */
	DNS_ERR_NAME_PTR_FORWARD, /* compression pointer not to a prior occurrence (§4.1.4) */
	DNS_ERR_QUESTION_TRUNCATED, /* QTYPE/QCLASS past the end */
	DNS_ERR_RR_TRUNCATED, /* TYPE/CLASS/TTL/RDLENGTH past the end (or RR missing) */
	DNS_ERR_RDATA_TRUNCATED, /* RDLENGTH points past the end */
	DNS_ERR_RDLENGTH, /* RDLENGTH wrong for the type (A not 4, AAAA not 16, ...) */
	DNS_ERR_OPT, /* OPT RR malformed or repeated (RFC 6891 §6.1.1) */
	DNS_ERR_NAME_PTR_HEADER, /* compression pointer into the 12-octet header (§4.1.4) */
	DNS_ERR_NAME_PTR_JUMPS, /* more than DNS_NAME_MAX_JUMPS pointers followed in one name */
	/* Matcher and cache results. */
	DNS_ERR_FULL, /* table at its bound; the item was dropped and counted */
	DNS_ERR_DUPLICATE, /* key already present; the first one is kept */
	DNS_ERR_NOT_FOUND,
	/* TCP reassembly. */
	DNS_ERR_DESYNC, /* a TCP stream lost its framing; data dropped until dns_tcp_reset() */
	DNS_STATUS_COUNT
};

/* Static English text for a status, "unknown status" for values outside the enum. */
const char *dns_status_str(enum dns_status status);

/*
 * Answers kept per message: as many as a message can hold. Every RR takes at least 11 octets
 * (root owner, TYPE, CLASS, TTL, RDLENGTH) after the 12-octet header, so a message of at most
 * 65535 octets holds at most 5956 of them; the message itself is the bound, not a count.
 */
#define DNS_MAX_ANSWERS ((65535 - 12) / 11)
/*
 * Most compression pointers followed while reading one name (question, owner or RDATA name
 * alike). Each pointer must go strictly backward and not into the header, so every walk ends
 * anyway; this bound keeps its cost small: a name of at most 255 octets has at most 127 labels,
 * and a compressor that points at most once per label never needs more. (c-ares stops at 50,
 * ldns at 65535.)
 */
#define DNS_NAME_MAX_JUMPS 127
/*
 * Buffer size that always holds a rendered name: at most 250 label octets in at least 4 labels
 * (255 wire octets), each octet at most 4 characters ("\DDD"), 3 dots, plus the NUL: 1004.
 */
#define DNS_NAME_TEXT_MAX 1024
/* Buffer size that always holds the rendered data of one RR (SRV: three numbers and a name). */
#define DNS_DATA_TEXT_MAX (DNS_NAME_TEXT_MAX + 24)

/* RR TYPE values this library knows by name (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 9460). */
enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SRV = 33,
	DNS_TYPE_OPT = 41,
	DNS_TYPE_SVCB = 64,
	DNS_TYPE_HTTPS = 65,
	DNS_TYPE_ANY = 255,
};

/*
 * One answer RR. Names are kept as offsets into the message (dns_msg.wire) and rendered only on
 * demand (dns_rr_owner(), dns_rr_data()), because most callers render few of them.
 */
struct dns_rr {
	uint16_t name_off; /* owner name, offset in the message */
	uint16_t type;
	uint16_t rclass;
	uint16_t rdlength;
	uint16_t rdata_off; /* offset of RDATA in the message */
	uint32_t ttl; /* seconds (RFC 1035 §3.2.1: 32-bit; values over 2^31-1 read as 0, RFC 2181 §8) */
	union {
		uint8_t a[4]; /* A, network order */
		uint8_t aaaa[16]; /* AAAA, network order */
		uint16_t target_off; /* CNAME, PTR, NS: name offset */
		struct {
			uint16_t priority, weight, port; /* host order */
			uint16_t target_off;
		} srv; /* RFC 2782 */
		struct {
			uint16_t preference; /* host order */
			uint16_t exchange_off;
		} mx;
	} data; /* decoded for A, AAAA, CNAME, PTR, NS, SRV, MX; zero for other types */
};

/*
 * A parsed message. It points into the caller's buffer (wire): keep that buffer unchanged while
 * the message is rendered or learnt from.
 */
struct dns_msg {
	const uint8_t *wire;
	uint16_t len;
	/* Header (RFC 1035 §4.1.1). */
	uint16_t id;
	bool qr, aa, tc, rd, ra;
	uint8_t opcode;
	uint16_t rcode; /* extended when EDNS is present (RFC 6891 §6.1.3): 12 bits */
	uint16_t qdcount, ancount, nscount, arcount;
	/* First question (RFC 1035 §4.1.2); has_question is false when QDCOUNT is 0. */
	bool has_question;
	uint16_t qname_off;
	uint16_t qtype;
	uint16_t qclass;
	char qname[DNS_NAME_TEXT_MAX]; /* presentation form, as dns_rr_owner() renders names */
	/* Answer section (RFC 1035 §4.1.3): every answer RR, in order. */
	uint16_t n_answers; /* stored in answers[]: ANCOUNT, or fewer after dns_parse_cut() */
	bool answers_truncated; /* dns_parse_cut() only: the cut came before the last answer */
	struct dns_rr answers[DNS_MAX_ANSWERS]; /* the first n_answers are set */
	/* EDNS(0) (RFC 6891 §6.1.2) from the additional section. */
	bool has_edns;
	uint8_t edns_version;
	bool edns_do; /* DNSSEC OK bit */
	uint16_t edns_udp_size; /* requestor's UDP payload size, octets */
};

/* Parse counters. Caller-owned; dns_parse() adds to it when given one. */
struct dns_parse_stats {
	uint64_t messages; /* dns_parse() calls */
	uint64_t ok;
	uint64_t errors; /* sum of by_status[] other than DNS_OK */
	uint64_t answers_truncated; /* dns_parse_cut() messages cut before their last answer */
	uint64_t by_status[DNS_STATUS_COUNT];
};

/*
 * Parse one DNS message (RFC 1035 §4.1): header, the first question, every answer RR, authority
 * RRs (bounds only) and additional RRs (bounds, plus the OPT RR of RFC 6891).
 *
 * @msg, @len: the message without any TCP length prefix; @len at most 65535.
 * @out: filled on DNS_OK; its content is unspecified on error. out->wire = @msg.
 * @stats: counters to add to, or NULL.
 *
 * Every name in the message is checked for bounds, label length (<= 63), total length (<= 255
 * octets, RFC 1035 §3.1) and compression pointers (RFC 1035 §4.1.4): each must go strictly
 * backward, to a prior occurrence (so no loop can be followed), never into the 12-octet header,
 * and at most DNS_NAME_MAX_JUMPS of them per name. The qname is rendered into out->qname; answer
 * names are rendered on demand by dns_rr_owner()/dns_rr_data().
 *
 * Returns DNS_OK, DNS_ERR_INVAL (@msg or @out NULL), or the parse error met first:
 * DNS_ERR_SHORT_HEADER, DNS_ERR_TOO_LONG, DNS_ERR_COUNTS, DNS_ERR_NAME_TRUNCATED,
 * DNS_ERR_NAME_LABEL, DNS_ERR_NAME_TOO_LONG, DNS_ERR_NAME_PTR_LOOP, DNS_ERR_NAME_PTR_FORWARD,
 * DNS_ERR_NAME_PTR_HEADER, DNS_ERR_NAME_PTR_JUMPS, DNS_ERR_QUESTION_TRUNCATED,
 * DNS_ERR_RR_TRUNCATED, DNS_ERR_RDATA_TRUNCATED, DNS_ERR_RDLENGTH, DNS_ERR_OPT.
 * Never reads outside [@msg, @msg + @len).
 */
enum dns_status dns_parse(const uint8_t *msg, size_t len, struct dns_msg *out,
			  struct dns_parse_stats *stats);

/*
 * Parse the first @len octets of a message that was cut there (a capture bound, a lost piece):
 * the header and the first question must be whole; then every answer RR that fits whole is kept,
 * in order, and the parse stops at the first one that does not (out->answers_truncated is set
 * when that leaves fewer than ANCOUNT). Authority and additional RRs are walked the same way, so
 * EDNS is read when its OPT RR fits. Section counts are checked against the largest message
 * (65535 octets), not against @len. Returns as dns_parse(), except that an RR running past @len
 * after the question is not an error; a malformed RR that fits is still one.
 */
enum dns_status dns_parse_cut(const uint8_t *msg, size_t len, struct dns_msg *out,
			      struct dns_parse_stats *stats);

/*
 * Render the owner name of @rr into @buf in the presentation form of RFC 1035 §5.1, written
 * here from the wire labels: labels joined by ".", no trailing dot, "" for the root; a letter,
 * digit, "-" or "_" stands for itself, a "." inside a label is "\.", a backslash "\\", and
 * every other octet (NUL, space, "*", non-ASCII, ...) is "\DDD" (three decimal digits). So two
 * different wire names never render the same (case aside: letters keep the case they had on
 * the wire), and the text never holds a NUL or a control character.
 * Returns DNS_OK; DNS_ERR_INVAL if an argument is NULL or @size is too small (use
 * DNS_NAME_TEXT_MAX), with @buf set to "" when @size > 0. The name was validated by dns_parse(),
 * so no other error is possible for an @rr of @msg; for an @rr that is not, the name is
 * checked again and its DNS_ERR_NAME_* parse error returned.
 */
enum dns_status dns_rr_owner(const struct dns_msg *msg, const struct dns_rr *rr, char *buf,
			     size_t size);

/*
 * Render the data of @rr into @buf: "192.0.2.1" (A), "2001:db8::1" (AAAA, RFC 5952),
 * "target.example" (CNAME, PTR, NS), "priority weight port target" (SRV), "preference exchange"
 * (MX), names as dns_rr_owner() renders them; "" for other types. Returns as dns_rr_owner();
 * use DNS_DATA_TEXT_MAX for @size.
 */
enum dns_status dns_rr_data(const struct dns_msg *msg, const struct dns_rr *rr, char *buf,
			    size_t size);

/* Mnemonic of an RR TYPE ("A", "AAAA", "HTTPS", ...), else "TYPE<n>" (RFC 3597 §5) in @buf. */
const char *dns_type_name(uint16_t type, char buf[12]);

/*
 * Mnemonic of a (possibly extended, RFC 6891) RCODE: "NOERROR", "FORMERR", "SERVFAIL",
 * "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
 * "DSOTYPENI", "BADVERS" (16), ..., else "RCODE<n>" in @buf.
 */
const char *dns_rcode_name(uint16_t rcode, char buf[12]);

/*
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766 §8): one object per TCP stream direction. Each message
 * is preceded by a 2-octet length; a segment may carry several messages, or a part of one.
 */
struct dns_tcp_stream;

/* Called once per complete message, without its length prefix. @msg is valid during the call. */
typedef void (*dns_tcp_msg_fn)(const uint8_t *msg, size_t len, void *arg);

struct dns_tcp_stats {
	uint64_t messages; /* delivered to the callback */
	uint64_t bytes; /* fed, including length prefixes */
	uint64_t empty; /* zero-length messages skipped */
	uint64_t messages_lost; /* messages dropped because bytes of them were missing */
	uint64_t messages_cut; /* of those, handed to the dns_tcp_on_cut() callback in part */
	uint64_t desyncs; /* times a length prefix was missing and the stream lost its framing */
	uint64_t bytes_discarded; /* fed while desynchronised or belonging to lost messages */
	uint64_t bytes_missing; /* reported by dns_tcp_missing() */
};

/* Create a stream that calls @fn(msg, len, @arg). NULL on allocation failure or NULL @fn. */
struct dns_tcp_stream *dns_tcp_create(dns_tcp_msg_fn fn, void *arg);
void dns_tcp_destroy(struct dns_tcp_stream *s);

/*
 * Feed the next in-order payload bytes of the stream. Complete messages are passed to the
 * callback before this returns; a partial one is buffered (at most 65535 octets).
 * Returns DNS_OK, DNS_ERR_DESYNC when the data was dropped because the stream lost its framing,
 * DNS_ERR_NOMEM (the partial message is dropped and counted), or DNS_ERR_INVAL.
 */
enum dns_status dns_tcp_feed(struct dns_tcp_stream *s, const uint8_t *data, size_t len);

/*
 * Tell the stream that @missing in-order payload bytes were not captured (capture length
 * limit, lost event). When they fall inside a message whose length is known, that message is
 * dropped and counted and the stream stays in sync at the next length prefix; when a length
 * prefix is among them, the stream is desynchronised (counted) and drops data until reset.
 * Returns DNS_OK or DNS_ERR_DESYNC.
 */
enum dns_status dns_tcp_missing(struct dns_tcp_stream *s, size_t missing);

/*
 * Called for a message that lost octets (dns_tcp_missing()) with the first @have of its @len
 * octets, those received before the gap, when they hold at least the 12-octet header: for
 * dns_parse_cut(). @msg is valid during the call. The message still counts in messages_lost.
 */
typedef void (*dns_tcp_cut_fn)(const uint8_t *msg, size_t have, size_t len, void *arg);

/* Also hand over the received part of messages that lost octets (default: none). Same @arg. */
void dns_tcp_on_cut(struct dns_tcp_stream *s, dns_tcp_cut_fn fn);

/* Forget any partial message and framing loss, e.g. for a new connection on the same object. */
void dns_tcp_reset(struct dns_tcp_stream *s);

void dns_tcp_get_stats(const struct dns_tcp_stream *s, struct dns_tcp_stats *out);

/*
 * Query/response matcher. A query is recorded with the tuple as seen on the query packet
 * (client -> server); the response is looked up with the tuple as seen on the response packet
 * (server -> client): the matcher swaps it.
 */
struct dns_tuple {
	uint64_t cgroup_id;
	uint8_t ip_version; /* 4 or 6 */
	uint8_t proto; /* IPPROTO_UDP or IPPROTO_TCP */
	uint16_t src_port, dst_port; /* host order */
	uint8_t src_addr[16], dst_addr[16]; /* IPv4 in the first 4 octets, rest zero */
};

struct dns_match;

struct dns_match_stats {
	uint64_t queries; /* recorded */
	uint64_t matched;
	uint64_t unmatched; /* responses with no pending query */
	uint64_t duplicates; /* queries with a key already pending (retransmission, ID reuse) */
	uint64_t dropped_full; /* queries not recorded because max_pending were pending */
	uint64_t timeouts; /* reported by dns_match_expire() */
	uint64_t pending; /* now */
};

/*
 * Create a matcher holding at most @max_pending queries (1 .. 2^24). @free_user, if not NULL, is
 * called on the user pointer of each query still pending at dns_match_destroy().
 */
struct dns_match *dns_match_create(uint32_t max_pending, void (*free_user)(void *user));
void dns_match_destroy(struct dns_match *m);

/*
 * Record a query sent at @ts_ns (ns, any clock the caller uses consistently) with @user
 * (caller's data, e.g. pid, comm, qname; returned on match and on timeout).
 * Returns DNS_OK; DNS_ERR_DUPLICATE (the earlier query is kept, so latency counts from the first
 * transmission) or DNS_ERR_FULL (dropped, counted): @user then stays the caller's.
 */
enum dns_status dns_match_query(struct dns_match *m, const struct dns_tuple *query, uint16_t id,
				uint64_t ts_ns, void *user);

/*
 * Look up and remove the query that @response (tuple as seen on the response packet) answers.
 * On DNS_OK, *@query_ts_ns is the query's timestamp (latency_ns = response ts - *query_ts_ns) and
 * *@user its user pointer, now the caller's. Returns DNS_ERR_NOT_FOUND otherwise.
 */
enum dns_status dns_match_response(struct dns_match *m, const struct dns_tuple *response,
				   uint16_t id, uint64_t *query_ts_ns, void **user);

/* A query that got no response: tuple as of the query, its timestamp, its user pointer (now the
 * callee's to free). */
typedef void (*dns_match_timeout_fn)(const struct dns_tuple *query, uint16_t id, uint64_t ts_ns,
				     void *user, void *arg);

/*
 * Remove and report, oldest first, each query with ts_ns + @timeout_ns <= @now_ns (all ns).
 * Queries are kept in arrival order, so a query recorded with an older timestamp than one
 * before it is reported no earlier than that one. Returns the number reported.
 */
size_t dns_match_expire(struct dns_match *m, uint64_t now_ns, uint64_t timeout_ns,
			dns_match_timeout_fn fn, void *arg);

void dns_match_get_stats(const struct dns_match *m, struct dns_match_stats *out);

/*
 * IP -> name cache: for each (cgroup id, answer address) the name the client asked for, i.e. the
 * question name even when the address came at the end of a CNAME chain. Names are kept, compared
 * and followed through CNAMEs by their wire labels (ASCII case-folded, RFC 4343), never by
 * their text, and rendered as dns_rr_owner() does only when looked up. An entry lives
 * max(TTL, min_hold_ns) from when it was learnt, so a connection opened just after a short TTL
 * ran out still gets its name. At max_entries, the least recently used entry is evicted.
 */
struct dns_names;

struct dns_names_stats {
	uint64_t inserts; /* new entries */
	uint64_t updates; /* entries refreshed by a later answer */
	uint64_t hits;
	uint64_t misses; /* includes lookups that found an expired entry */
	uint64_t expirations; /* entries removed because their time ran out */
	uint64_t evictions; /* live entries removed to stay within max_entries */
	uint64_t learn_nomem; /* responses not learnt from: no memory for their answer walk */
	uint64_t entries; /* now */
};

/* Default minimum time an address keeps its name, whatever its TTL: 30 s. */
#define DNS_NAMES_MIN_HOLD_NS (30ull * 1000000000ull)

/* Create a cache of at most @max_entries (1 .. 2^24) addresses; @min_hold_ns in ns. */
struct dns_names *dns_names_create(uint32_t max_entries, uint64_t min_hold_ns);
void dns_names_destroy(struct dns_names *c);

/*
 * Learn from a parsed response of @cgroup_id received at @now_ns: every A/AAAA answer (of any
 * count) whose owner is the question name, or is reached from it by the CNAME answers (RFC 1034
 * §3.6.2, in any order), maps to the question name. Responses with QR clear, RCODE not NOERROR
 * or no question teach nothing. Cost is linear in the answers (names are hashed once each).
 * Returns the number of addresses learnt; 0 also when memory for the walk of a large answer
 * section could not be had (counted in learn_nomem).
 */
size_t dns_names_learn(struct dns_names *c, uint64_t cgroup_id, const struct dns_msg *resp,
		       uint64_t now_ns);

/*
 * Name for @addr (@ip_version 4: first 4 octets used; 6: 16 octets) as seen by @cgroup_id at
 * @now_ns, or NULL. The string is owned by the cache: copy it before the next call on @c.
 */
const char *dns_names_lookup(struct dns_names *c, uint64_t cgroup_id, uint8_t ip_version,
			     const uint8_t addr[16], uint64_t now_ns);

/*
 * As dns_names_lookup(), for something that started at @at_ns (<= @now_ns, same clock): when
 * the address was re-learnt under another name after @at_ns, the name it had at @at_ns (the
 * previous one, if it was still held then) is returned. Only one previous name is kept.
 */
const char *dns_names_lookup_at(struct dns_names *c, uint64_t cgroup_id, uint8_t ip_version,
				const uint8_t addr[16], uint64_t now_ns, uint64_t at_ns);

void dns_names_get_stats(const struct dns_names *c, struct dns_names_stats *out);

#endif /* FLOWSCOPE_DNS_H */
