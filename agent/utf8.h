/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UTF-8 checks shared by the record encoders. comm, cgroup paths and DNS names are raw bytes
 * from the kernel or the network; every encoder writes them as valid UTF-8 (RFC 3629), with each
 * byte that does not start a valid sequence replaced by U+FFFD, so that JSON and protobuf carry
 * the same string. See docs/records.md.
 */
#ifndef FLOWSCOPE_UTF8_H
#define FLOWSCOPE_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/*
 * Length (2 to 4) of the valid multi-byte UTF-8 sequence at s (at most avail bytes), or 0 when
 * s[0] does not start one: an ASCII byte, a stray continuation byte, a sequence cut short, an
 * overlong form, a surrogate or a value past U+10FFFF.
 */
static inline size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	size_t n;
	uint32_t cp;

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

/*
 * Bytes of the len bytes at s once every byte >= 0x80 that does not start a valid sequence is
 * replaced by U+FFFD (3 bytes). Equal to len exactly when s is valid UTF-8.
 */
static inline size_t utf8_clean_len(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, out = 0, n;

	while (i < len) {
		if (u[i] < 0x80) {
			i++;
			out++;
		} else if ((n = utf8_seq_len(u + i, len - i)) > 0) {
			i += n;
			out += n;
		} else {
			i++;
			out += 3;
		}
	}
	return out;
}

/* Writes what utf8_clean_len() measures to out; returns the end of what was written. */
static inline char *utf8_clean(char *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (u[i] < 0x80) {
			*out++ = (char)u[i++];
		} else if ((n = utf8_seq_len(u + i, len - i)) > 0) {
			memcpy(out, u + i, n);
			out += n;
			i += n;
		} else {
			memcpy(out, UTF8_REPLACEMENT, 3);
			out += 3;
			i++;
		}
	}
	return out;
}

#endif /* FLOWSCOPE_UTF8_H */
