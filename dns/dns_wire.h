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
 */
enum dns_status dns_name_skip(const uint8_t *m, size_t len, size_t off, size_t *next);

/*
 * Compare two names of the same message, already validated by dns_name_skip(), ASCII
 * case-insensitively (RFC 4343). Returns 1 when equal, 0 otherwise.
 */
int dns_name_equal(const uint8_t *m, size_t len, size_t a, size_t b);

/* Decompress the name at @off with c-ares into @buf of @size octets. */
enum dns_status dns_name_text(const uint8_t *m, size_t len, size_t off, char *buf, size_t size);

#endif /* FLOWSCOPE_DNS_WIRE_H */
