/* SPDX-License-Identifier: Apache-2.0 */
/* Wire-format helpers shared by the dns/ sources; not part of the public API. */
#ifndef FLOWSCOPE_DNS_WIRE_H
#define FLOWSCOPE_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "dns.h"

static inline uint16_t dns_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t dns_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Validate the name at @off of the message @m of @len octets (RFC 1035 §3.1, §4.1.4) and set
 * *@next to the offset just after its in-place part (after the first pointer or the root label).
 * Returns DNS_OK or DNS_ERR_NAME_TRUNCATED, _LABEL, _TOO_LONG, _PTR_LOOP, _PTR_FORWARD,
 * _PTR_HEADER, _PTR_JUMPS.
 */
enum dns_status dns_name_skip(const uint8_t *m, size_t len, size_t off, size_t *next);

/*
 * Compare two names of the same message, already validated by dns_name_skip(), ASCII
 * case-insensitively (RFC 4343). Returns 1 when equal, 0 otherwise.
 */
int dns_name_equal(const uint8_t *m, size_t len, size_t a, size_t b);

/*
 * Render the name at @off into @buf of @size octets in presentation form (see dns_rr_owner()),
 * checking it as dns_name_skip() does. Returns DNS_OK, DNS_ERR_INVAL (NULL, or @size too small:
 * DNS_NAME_TEXT_MAX always suffices) or dns_name_skip()'s errors; @buf is "" on error.
 */
enum dns_status dns_name_text(const uint8_t *m, size_t len, size_t off, char *buf, size_t size);

/* Longest name in wire form, root label included (RFC 1035 §3.1). */
#define DNS_NAME_WIRE_MAX 255

/*
 * Copy a validated name into @out in uncompressed wire form (labels as on the wire, case kept,
 * root label last); returns its length, 1 .. DNS_NAME_WIRE_MAX.
 */
size_t dns_name_flatten(const uint8_t *m, size_t len, size_t off, uint8_t out[DNS_NAME_WIRE_MAX]);

/* Hash of a validated name's labels, ASCII case-folded: equal names (dns_name_equal) hash equal. */
uint64_t dns_name_hash(const uint8_t *m, size_t len, size_t off);

#endif /* FLOWSCOPE_DNS_WIRE_H */
