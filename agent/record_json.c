// SPDX-License-Identifier: Apache-2.0
/*
 * Hand-written JSON encoding: this runs once per exported record (bench/json measures it), so
 * numbers and addresses are formatted without stdio or inet_ntop, and strings are escaped in one
 * pass (RFC 8259 §7), 8 bytes at a time while they are plain ASCII.
 *
 * Bounds are checked per piece, not per write: a record is a few fixed-layout pieces whose
 * longest rendering is known (the WORST_* texts below) and strings (at most 6 output bytes per
 * input byte, plus quotes). Each piece is checked once against what is left of the caller's
 * buffer, then written without checks. A fixed piece that might not fit is written to a scratch
 * buffer and copied only if it does; a string that might not fit has its exact length counted
 * first. So a record fails with -ENOSPC exactly when it is longer than the buffer.
 */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dns.h"
#include "record_json.h"
#include "utf8.h"

#define STRINGIFY(x) #x
#define TO_TEXT(x) STRINGIFY(x)

/* Longest renderings of the fixed parts; each WORST_* text is one that the writers can produce. */
// clang-format off
#define W_U64 "18446744073709551615"
#define W_U32 "4294967295"
#define W_U16 "65535"
#define W_ADDR "\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\""
#define W_FLAGS "[\"FIN\",\"SYN\",\"RST\",\"PSH\",\"ACK\",\"URG\",\"ECE\",\"CWR\"]"
#define WORST_OWNER_ID ",\"cgroup_id\":" W_U64 ",\"cgroup_path\":"
#define WORST_PID ",\"pid\":" W_U32 ",\"comm\":"
#define WORST_ENDPOINTS			\
	",\"ip_version\":255"		\
	",\"proto\":\"icmpv6\""		\
	",\"src_addr\":" W_ADDR		\
	",\"src_port\":" W_U16		\
	",\"dst_addr\":" W_ADDR		\
	",\"dst_port\":" W_U16
#define WORST_FLOW_TIMES ",\"start_ns\":" W_U64 ",\"end_ns\":" W_U64 WORST_OWNER_ID
#define WORST_FLOW_TAIL			\
	WORST_ENDPOINTS			\
	",\"initiator\":\"unknown\""	\
	",\"tx_bytes\":" W_U64		\
	",\"tx_packets\":" W_U64	\
	",\"rx_bytes\":" W_U64		\
	",\"rx_packets\":" W_U64	\
	",\"tcp_flags\":" W_FLAGS	\
	",\"nat\":false"		\
	",\"src_actual_addr\":" W_ADDR	\
	",\"src_actual_port\":" W_U16	\
	",\"dst_actual_addr\":" W_ADDR	\
	",\"dst_actual_port\":" W_U16	\
	",\"dst_domain\":"
#define WORST_DNS_TS ",\"ts_ns\":" W_U64 WORST_OWNER_ID
#define WORST_DNS_ID WORST_ENDPOINTS ",\"id\":" W_U16 ",\"qname\":"
#define WORST_DNS_TTL ",\"ttl\":" W_U32 ",\"data\":"
#define WORST_DNS_TAIL "],\"latency_ns\":" W_U64 ",\"truncated\":false}"
#define HEAD(type)							\
	"{\"type\":\"" type "\""					\
	",\"schema_version\":" TO_TEXT(FLOWSCOPE_SCHEMA_VERSION)	\
	",\"node\":"
// clang-format on

#define LEN(text) (sizeof(text) - 1)
#define SCRATCH_SIZE 768
_Static_assert(LEN(WORST_FLOW_TAIL) <= SCRATCH_SIZE, "scratch too small for a flow record");
_Static_assert(LEN(WORST_DNS_ID) <= SCRATCH_SIZE, "scratch too small for a DNS record");

static const char hex_digits[] = "0123456789abcdef";
static const char digit_pairs[] = "0001020304050607080910111213141516171819"
				  "2021222324252627282930313233343536373839"
				  "4041424344454647484950515253545556575859"
				  "6061626364656667686970717273747576777879"
				  "8081828384858687888990919293949596979899";

/*
 * Unchecked writers: each takes where to write and returns the end of what it wrote. Callers
 * reserve room first.
 */
static inline char *put_mem(char *p, const void *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define PUT(p, lit) put_mem((p), (lit), LEN(lit))

/* The two digits of v < 100. */
static inline char *put_pad2(char *p, uint32_t v)
{
	return put_mem(p, &digit_pairs[v * 2], 2);
}

/* v < 10000 as exactly four digits, zero-padded. */
static inline char *put_pad4(char *p, uint32_t v)
{
	p = put_pad2(p, v / 100);
	return put_pad2(p, v % 100);
}

/* v < 100000000 as exactly eight digits, zero-padded. */
static inline char *put_pad8(char *p, uint32_t v)
{
	p = put_pad4(p, v / 10000);
	return put_pad4(p, v % 10000);
}

/* v < 10000 in decimal. */
static inline char *put_dec4(char *p, uint32_t v)
{
	if (v < 10) {
		*p++ = (char)('0' + v);
		return p;
	}
	if (v < 100)
		return put_pad2(p, v);
	if (v < 1000) {
		*p++ = (char)('0' + v / 100);
		return put_pad2(p, v % 100);
	}
	return put_pad4(p, v);
}

/* v < 100000000 in decimal. */
static inline char *put_dec8(char *p, uint32_t v)
{
	if (v < 10000)
		return put_dec4(p, v);
	p = put_dec4(p, v / 10000);
	return put_pad4(p, v % 10000);
}

/* Decimal, in groups of eight digits of 32-bit arithmetic (timestamps have 19 digits). */
static inline char *put_u64(char *p, uint64_t v)
{
	const uint64_t e8 = 100000000, e16 = e8 * e8;

	if (v < e8)
		return put_dec8(p, (uint32_t)v);
	if (v < e16) {
		p = put_dec8(p, (uint32_t)(v / e8));
		return put_pad8(p, (uint32_t)(v % e8));
	}
	p = put_dec4(p, (uint32_t)(v / e16));
	v %= e16;
	p = put_pad8(p, (uint32_t)(v / e8));
	return put_pad8(p, (uint32_t)(v % e8));
}

static inline char *put_ipv4(char *p, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		p = put_dec4(p, a[i]);
		if (i < 3)
			*p++ = '.';
	}
	return p;
}

static inline char *put_hex16(char *p, unsigned int w)
{
	if (w >= 0x1000)
		*p++ = hex_digits[w >> 12];
	if (w >= 0x100)
		*p++ = hex_digits[(w >> 8) & 15];
	if (w >= 0x10)
		*p++ = hex_digits[(w >> 4) & 15];
	*p++ = hex_digits[w & 15];
	return p;
}

/*
 * IPv6 text as glibc's inet_ntop() writes it (RFC 5952 §4): lowercase hex without leading
 * zeros; the first longest run of two or more zero groups becomes "::"; IPv4-mapped
 * (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d, the sixth group nonzero) addresses end in
 * dotted decimal.
 */
static char *put_ipv6(char *p, const uint8_t *a)
{
	unsigned int w[8];
	int best = -1, best_len = 0, run = -1, run_len = 0;

	for (int i = 0; i < 8; i++) {
		w[i] = (unsigned int)a[2 * i] << 8 | a[2 * i + 1];
		if (w[i]) {
			run = -1;
			continue;
		}
		if (run < 0) {
			run = i;
			run_len = 0;
		}
		if (++run_len > best_len) {
			best = run;
			best_len = run_len;
		}
	}
	if (best_len < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + best_len) {
			if (i == best)
				*p++ = ':';
			continue;
		}
		if (i)
			*p++ = ':';
		if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return put_ipv4(p, a + 12);
		p = put_hex16(p, w[i]);
	}
	if (best >= 0 && best + best_len == 8)
		*p++ = ':';
	return p;
}

static inline char *put_addr(char *p, uint8_t ip_version, const struct record_addr *a)
{
	*p++ = '"';
	p = ip_version == 4 ? put_ipv4(p, a->bytes) : put_ipv6(p, a->bytes);
	*p++ = '"';
	return p;
}

static inline char *put_proto(char *p, uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return PUT(p, "\"tcp\"");
	case IPPROTO_UDP:
		return PUT(p, "\"udp\"");
	case IPPROTO_ICMP:
		return PUT(p, "\"icmp\"");
	case IPPROTO_ICMPV6:
		return PUT(p, "\"icmpv6\"");
	}
	return put_u64(p, proto);
}

/* The names of the flags set, in bit order: TCP header byte 13, low bit first (RFC 9293 §3.1,
 * RFC 3168 §23.2). */
static inline char *put_tcp_flags(char *p, unsigned int flags)
{
	static const char names[8][7] = { "\"FIN\",", "\"SYN\",", "\"RST\",", "\"PSH\",",
					  "\"ACK\",", "\"URG\",", "\"ECE\",", "\"CWR\"," };

	*p++ = '[';
	if (!flags) {
		*p++ = ']';
		return p;
	}
	for (; flags; flags &= flags - 1)
		p = put_mem(p, names[__builtin_ctz(flags)], 6);
	p[-1] = ']';
	return p;
}

static inline char *put_initiator(char *p, uint8_t initiator)
{
	switch (initiator) {
	case INITIATOR_SRC:
		return PUT(p, "\"src\"");
	case INITIATOR_DST:
		return PUT(p, "\"dst\"");
	}
	return PUT(p, "\"unknown\"");
}

/* WORST_ENDPOINTS */
static char *put_endpoints(char *p, uint8_t ip_version, uint8_t proto,
			   const struct record_addr *src, uint16_t sport,
			   const struct record_addr *dst, uint16_t dport)
{
	p = PUT(p, ",\"ip_version\":");
	p = put_u64(p, ip_version);
	p = PUT(p, ",\"proto\":");
	p = put_proto(p, proto);
	p = PUT(p, ",\"src_addr\":");
	p = put_addr(p, ip_version, src);
	p = PUT(p, ",\"src_port\":");
	p = put_u64(p, sport);
	p = PUT(p, ",\"dst_addr\":");
	p = put_addr(p, ip_version, dst);
	p = PUT(p, ",\"dst_port\":");
	return put_u64(p, dport);
}

/* WORST_OWNER_ID */
static inline char *put_owner_id(char *p, uint64_t cgroup_id)
{
	p = PUT(p, ",\"cgroup_id\":");
	p = put_u64(p, cgroup_id);
	return PUT(p, ",\"cgroup_path\":");
}

static inline bool plain_char(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * Are the 8 bytes at s all plain (printable ASCII but '"' and '\\')? A byte's high bit ends up
 * set in the mask when it is >= 0x80, < 0x20 (borrow), '"' or '\\' (zero after the xor); borrows
 * can only add hits above a byte that is a hit itself, so the answer is exact.
 */
static inline bool plain8(const unsigned char *s)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t v, quote, bslash;

	memcpy(&v, s, 8);
	quote = v ^ (ones * '"');
	bslash = v ^ (ones * '\\');
	return !((v | ((v - ones * 0x20) & ~v) | ((quote - ones) & ~quote) |
		  ((bslash - ones) & ~bslash)) &
		 (ones * 0x80));
}

/*
 * The character at u[*i] (of len bytes), at most 6 bytes out: plain, escaped, copied when valid
 * UTF-8, else U+FFFD (comm and qnames are raw bytes).
 */
static inline char *put_char(char *p, const unsigned char *u, size_t *i, size_t len)
{
	unsigned char c = u[*i];
	size_t n;

	if (plain_char(c)) {
		*p++ = (char)c;
	} else if (c == '"' || c == '\\') {
		*p++ = '\\';
		*p++ = (char)c;
	} else if (c < 0x20) {
		p = PUT(p, "\\u00");
		*p++ = hex_digits[c >> 4];
		*p++ = hex_digits[c & 15];
	} else if ((n = utf8_seq_len(u + *i, len - *i)) > 0) {
		*i += n;
		return put_mem(p, u + *i - n, n);
	} else {
		p = PUT(p, "\\ufffd");
	}
	(*i)++;
	return p;
}

/* A JSON string of len bytes of s: at most 6 * len + 2 bytes out. */
static char *put_str_unchecked(char *p, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	*p++ = '"';
	while (len - i >= 8) {
		size_t stop = i + 8;

		if (plain8(u + i)) {
			p = put_mem(p, u + i, 8);
			i = stop;
			continue;
		}
		while (i < stop)
			p = put_char(p, u, &i, len);
	}
	/*
	 * A tail shorter than 8 bytes whose last 8 input bytes are all plain: the bytes before the
	 * tail went out unchanged as the last output bytes, so copy the 8 over them.
	 */
	if (i < len && len >= 8 && plain8(u + len - 8)) {
		put_mem(p - (8 - (len - i)), u + len - 8, 8);
		p += len - i;
		i = len;
	}
	while (i < len)
		p = put_char(p, u, &i, len);
	*p++ = '"';
	return p;
}

/* Exact length of put_str_unchecked()'s output. */
static size_t str_json_len(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n = 2;
	char tmp[8];

	while (i < len)
		n += (size_t)(put_char(tmp, u, &i, len) - tmp);
	return n;
}

/* The caller's buffer, and where the piece being written goes. */
struct jbuf {
	char *p; /* next byte of the caller's buffer */
	char *end;
	char *scratch; /* SCRATCH_SIZE bytes */
	char *limit; /* end of the reserved room, for the assertion in commit() */
	bool in_scratch;
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

#define PUT_LIT(b, lit) put_raw((b), (lit), LEN(lit))

/* Where to write a piece of at most max bytes: the caller's buffer if it surely fits there. */
static inline char *reserve(struct jbuf *b, size_t max)
{
	b->in_scratch = (size_t)(b->end - b->p) < max;
	if (b->in_scratch) {
		b->limit = b->scratch + max;
		return b->scratch;
	}
	b->limit = b->p + max;
	return b->p;
}

/* End the piece reserve() started at q. */
static inline void commit(struct jbuf *b, char *q)
{
	assert(q <= b->limit);
	if (b->in_scratch)
		put_raw(b, b->scratch, (size_t)(q - b->scratch));
	else
		b->p = q;
}

static void put_str_n(struct jbuf *b, const char *s, size_t len)
{
	size_t room = (size_t)(b->end - b->p);

	if ((room < 2 || (room - 2) / 6 < len) && room < str_json_len(s, len)) {
		b->overflow = true;
		return;
	}
	b->p = put_str_unchecked(b->p, s, len);
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

/* WORST_PID, then comm (not NUL-terminated when it fills its 16 bytes). */
static void put_pid_comm(struct jbuf *b, uint32_t pid, const char comm[16])
{
	char *p = reserve(b, LEN(WORST_PID));

	p = PUT(p, ",\"pid\":");
	p = put_u64(p, pid);
	p = PUT(p, ",\"comm\":");
	commit(b, p);
	put_str_n(b, comm, strnlen(comm, 16));
}

static ssize_t finish(struct jbuf *b, char *buf)
{
	if (b->overflow)
		return -ENOSPC;
	if (b->p < b->end)
		*b->p = '\0';
	return b->p - buf;
}

ssize_t record_json_flow(char *buf, size_t cap, const struct record_json_ctx *ctx,
			 const struct flow_record *r)
{
	char scratch[SCRATCH_SIZE];
	struct jbuf b = { .p = buf, .end = buf + cap, .scratch = scratch };
	char *p;

	PUT_LIT(&b, HEAD("flow"));
	put_str(&b, ctx->node_name);

	p = reserve(&b, LEN(WORST_FLOW_TIMES));
	p = PUT(p, ",\"start_ns\":");
	p = put_u64(p, r->start_ns);
	p = PUT(p, ",\"end_ns\":");
	p = put_u64(p, r->end_ns);
	p = put_owner_id(p, r->cgroup_id);
	commit(&b, p);
	put_str_or_null(&b, r->cgroup_path);
	put_pid_comm(&b, r->pid, r->comm);

	p = reserve(&b, LEN(WORST_FLOW_TAIL));
	p = put_endpoints(p, r->ip_version, r->proto, &r->src_addr, r->src_port, &r->dst_addr,
			  r->dst_port);
	p = PUT(p, ",\"initiator\":");
	p = put_initiator(p, r->initiator);
	p = PUT(p, ",\"tx_bytes\":");
	p = put_u64(p, r->tx_bytes);
	p = PUT(p, ",\"tx_packets\":");
	p = put_u64(p, r->tx_packets);
	p = PUT(p, ",\"rx_bytes\":");
	p = put_u64(p, r->rx_bytes);
	p = PUT(p, ",\"rx_packets\":");
	p = put_u64(p, r->rx_packets);
	p = PUT(p, ",\"tcp_flags\":");
	p = put_tcp_flags(p, r->tcp_flags);
	if (r->nat)
		p = PUT(p, ",\"nat\":true");
	else
		p = PUT(p, ",\"nat\":false");
	p = PUT(p, ",\"src_actual_addr\":");
	p = put_addr(p, r->ip_version, &r->src_actual_addr);
	p = PUT(p, ",\"src_actual_port\":");
	p = put_u64(p, r->src_actual_port);
	p = PUT(p, ",\"dst_actual_addr\":");
	p = put_addr(p, r->ip_version, &r->dst_actual_addr);
	p = PUT(p, ",\"dst_actual_port\":");
	p = put_u64(p, r->dst_actual_port);
	p = PUT(p, ",\"dst_domain\":");
	commit(&b, p);
	put_str_or_null(&b, r->dst_domain);
	PUT_LIT(&b, "}");
	return finish(&b, buf);
}

ssize_t record_json_dns(char *buf, size_t cap, const struct record_json_ctx *ctx,
			const struct dns_record *r)
{
	char scratch[SCRATCH_SIZE];
	struct jbuf b = { .p = buf, .end = buf + cap, .scratch = scratch };
	char name_buf[12];
	char *p;

	PUT_LIT(&b, HEAD("dns"));
	put_str(&b, ctx->node_name);

	p = reserve(&b, LEN(WORST_DNS_TS));
	p = PUT(p, ",\"ts_ns\":");
	p = put_u64(p, r->ts_ns);
	p = put_owner_id(p, r->cgroup_id);
	commit(&b, p);
	put_str_or_null(&b, r->cgroup_path);
	put_pid_comm(&b, r->pid, r->comm);

	p = reserve(&b, LEN(WORST_DNS_ID));
	p = put_endpoints(p, r->ip_version, r->proto, &r->src_addr, r->src_port, &r->dst_addr,
			  r->dst_port);
	p = PUT(p, ",\"id\":");
	p = put_u64(p, r->id);
	p = PUT(p, ",\"qname\":");
	commit(&b, p);
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
		p = reserve(&b, LEN(WORST_DNS_TTL));
		p = PUT(p, ",\"ttl\":");
		p = put_u64(p, a->ttl);
		p = PUT(p, ",\"data\":");
		commit(&b, p);
		put_str_or_null(&b, a->data);
		PUT_LIT(&b, "}");
	}
	p = reserve(&b, LEN(WORST_DNS_TAIL));
	p = PUT(p, "],\"latency_ns\":");
	if (!r->latency_known)
		p = PUT(p, "null");
	else
		p = put_u64(p, r->latency_ns);
	if (r->truncated)
		p = PUT(p, ",\"truncated\":true}");
	else
		p = PUT(p, ",\"truncated\":false}");
	commit(&b, p);
	return finish(&b, buf);
}
