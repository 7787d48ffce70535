/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hand-building of DNS wire messages for the tests and the corpus generator: every octet of a
 * test message is written here on purpose, so a message can be as broken as a test needs.
 */
#ifndef FLOWSCOPE_TESTS_DNS_WIRE_BUILD_H
#define FLOWSCOPE_TESTS_DNS_WIRE_BUILD_H

#include <stdint.h>
#include <string.h>

#define WB_MAX 65536

struct wb {
	uint8_t b[WB_MAX];
	size_t n;
};

static inline void wb_u8(struct wb *w, uint8_t v)
{
	if (w->n < WB_MAX)
		w->b[w->n++] = v;
}

static inline void wb_u16(struct wb *w, uint16_t v)
{
	wb_u8(w, v >> 8);
	wb_u8(w, v & 0xff);
}

static inline void wb_u32(struct wb *w, uint32_t v)
{
	wb_u16(w, v >> 16);
	wb_u16(w, v & 0xffff);
}

static inline void wb_bytes(struct wb *w, const void *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		wb_u8(w, ((const uint8_t *)p)[i]);
}

/* Labels of a dotted name; @terminate writes the root label (else a pointer should follow). */
static inline void wb_labels(struct wb *w, const char *name, int terminate)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);

		wb_u8(w, (uint8_t)len);
		wb_bytes(w, name, len);
		name += len;
		if (*name == '.')
			name++;
	}
	if (terminate)
		wb_u8(w, 0);
}

static inline void wb_name(struct wb *w, const char *name)
{
	wb_labels(w, name, 1);
}

/* Compression pointer to offset @off (RFC 1035 §4.1.4). */
static inline void wb_ptr(struct wb *w, uint16_t off)
{
	wb_u16(w, 0xc000 | off);
}

/* Flags: QR | opcode | AA | TC | RD | RA | rcode, as the two header octets. */
#define WB_QR 0x8000
#define WB_AA 0x0400
#define WB_TC 0x0200
#define WB_RD 0x0100
#define WB_RA 0x0080

static inline void wb_header(struct wb *w, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
			     uint16_t ns, uint16_t ar)
{
	w->n = 0;
	wb_u16(w, id);
	wb_u16(w, flags);
	wb_u16(w, qd);
	wb_u16(w, an);
	wb_u16(w, ns);
	wb_u16(w, ar);
}

/* Question with an uncompressed name; returns the name's offset. */
static inline uint16_t wb_question(struct wb *w, const char *qname, uint16_t qtype)
{
	uint16_t off = (uint16_t)w->n;

	wb_name(w, qname);
	wb_u16(w, qtype);
	wb_u16(w, 1);
	return off;
}

/* TYPE, CLASS IN, TTL and a placeholder RDLENGTH; returns where RDLENGTH is, for wb_rdlen(). */
static inline size_t wb_rr_fixed(struct wb *w, uint16_t type, uint32_t ttl)
{
	size_t at;

	wb_u16(w, type);
	wb_u16(w, 1);
	wb_u32(w, ttl);
	at = w->n;
	wb_u16(w, 0);
	return at;
}

/* Set the RDLENGTH at @at to the octets written since. */
static inline void wb_rdlen(struct wb *w, size_t at)
{
	uint16_t len = (uint16_t)(w->n - at - 2);

	/* a message that filled the buffer before its RDLENGTH has none to set */
	if (at + 2 > WB_MAX)
		return;
	w->b[at] = len >> 8;
	w->b[at + 1] = len & 0xff;
}

/* OPT RR (RFC 6891 §6.1.2): root owner, UDP size, extended rcode high bits, version, DO. */
static inline void wb_opt(struct wb *w, uint16_t udp_size, uint8_t ext_rcode, uint8_t version,
			  int dnssec_ok)
{
	wb_u8(w, 0);
	wb_u16(w, 41);
	wb_u16(w, udp_size);
	wb_u8(w, ext_rcode);
	wb_u8(w, version);
	wb_u16(w, dnssec_ok ? 0x8000 : 0);
	wb_u16(w, 0);
}

/* A whole message from hex digits (as quoted in an issue), replacing what @w held. */
static inline void wb_hex(struct wb *w, const char *hex)
{
	w->n = 0;
	for (; hex[0] && hex[1]; hex += 2) {
		unsigned int hi =
			(unsigned int)(hex[0] <= '9' ? hex[0] - '0' : (hex[0] | 0x20) - 'a' + 10);
		unsigned int lo =
			(unsigned int)(hex[1] <= '9' ? hex[1] - '0' : (hex[1] | 0x20) - 'a' + 10);

		wb_u8(w, (uint8_t)(hi << 4 | lo));
	}
}

/*
 * The three messages of issue 9 §4: one-octet labels holding 0x00, each imitating another name.
 * Question labels google, com, 0x00, evil, net; one A 192.0.2.1 for it.
 */
#define WB_HEX_NUL_LABEL_MID                                                                     \
	"12348180000100010000000006676f6f676c6503636f6d0100046576696c036e65740000010001c00c0001" \
	"00010000012c0004c0000201"
/* Question labels 0x00, example, com (the NUL label first); one A 192.0.2.1. */
#define WB_HEX_NUL_LABEL_FIRST                                                                   \
	"1234818000010001000000000100076578616d706c6503636f6d0000010001c00c000100010000012c0004" \
	"c0000201"
/* Question www.example.com; CNAME to labels cdn, 0x00, attacker, net; A 192.0.2.1 for www. */
#define WB_HEX_NUL_LABEL_CNAME                                                                   \
	"12348180000100020000000003777777076578616d706c6503636f6d0000010001c00c000500010000012c" \
	"00140363646e01000861747461636b6572036e657400c00c000100010000012c0004c0000201"

#endif /* FLOWSCOPE_TESTS_DNS_WIRE_BUILD_H */
