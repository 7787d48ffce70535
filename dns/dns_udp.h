/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS over UDP captured in pieces: reassembly of one datagram's DNS message from the consecutive
 * pieces a capture hands over (flowscope's BPF capture cuts a datagram into events of 1536 bytes,
 * bpf/dns_capture.h), so that a message of any size up to 65535 octets (EDNS(0), RFC 6891 §6.2.5)
 * reaches the parser whole, or, when the capture stopped early, as the part that was captured,
 * with the datagram's length beside it.
 *
 * A datagram is identified by a key of caller-chosen bytes, the same on each of its pieces.
 * Pieces of one datagram must come in order (offsets 0, len0, len0 + len1, ...) and carry the
 * same wire_len as its first piece (the waiting datagram's buffer is sized by it); pieces of
 * different datagrams may interleave. A datagram whose later pieces never come (the capture lost
 * them) is handed over cut when the reassembly bound forces it out or when it grows too old
 * (dns_udp_expire()). Nothing here reads the clock; times are the caller's, in nanoseconds.
 */
#ifndef FLOWSCOPE_DNS_UDP_H
#define FLOWSCOPE_DNS_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"

/* Longest datagram key, in bytes. */
#define DNS_UDP_KEY_MAX 128

struct dns_udp;

/*
 * Called once per datagram with its key (key_len bytes, as given with its first piece), the
 * @len bytes of its DNS message that were captured and @wire_len, the datagram's whole payload
 * length: @len < @wire_len means the message was cut. @key and @msg are valid during the call.
 */
typedef void (*dns_udp_msg_fn)(const void *key, const uint8_t *msg, size_t len, size_t wire_len,
			       void *arg);

/* One piece of a datagram, as captured. */
struct dns_udp_piece {
	const void *key; /* identifies the datagram; copied */
	size_t key_len; /* 1..DNS_UDP_KEY_MAX, the same for every piece of a datagram */
	uint32_t offset; /* of data[0] in the datagram's payload */
	uint32_t wire_len; /* the datagram's whole payload length, at most 65535 */
	const uint8_t *data;
	uint32_t len; /* bytes in data */
	bool last; /* the capture's last piece of this datagram: deliver now */
};

struct dns_udp_stats {
	uint64_t datagrams; /* handed to the callback */
	uint64_t pieces; /* accepted by dns_udp_add() */
	uint64_t cut; /* datagrams handed over shorter than wire_len, for any reason */
	uint64_t incomplete; /* of those: pieces were missing (the last piece or one in between
				never came), forced out by the bound, by age or by destroy */
	uint64_t orphan_pieces; /* pieces after offset 0 with no datagram to join (none waits, a gap,
				   or another wire_len than the waiting one's): dropped */
	uint64_t nomem; /* datagrams dropped for want of memory */
};

/*
 * Creates a reassembler that holds at most @max_pending datagrams waiting for more pieces
 * (1..4096; each holds at most its wire_len bytes) and calls @fn(..., @arg) per datagram.
 * NULL on a bad argument or allocation failure.
 */
struct dns_udp *dns_udp_create(size_t max_pending, dns_udp_msg_fn fn, void *arg);

/* Hands every datagram still waiting to the callback, cut (counted as incomplete), and frees. */
void dns_udp_destroy(struct dns_udp *u);

/*
 * Adds one piece, seen at @now_ns. A datagram that fits in one piece (offset 0, last) is handed
 * to the callback in place, without a copy. A first piece of a datagram whose key is waiting
 * already forces the waiting one out, cut; a full table forces the oldest out, cut.
 * Returns DNS_OK; DNS_ERR_NOT_FOUND for a piece after offset 0 that joins no waiting datagram,
 * or whose offset leaves a gap or whose wire_len differs from the waiting datagram's (the
 * datagram is then handed over, cut) (counted as orphan);
 * DNS_ERR_NOMEM (the datagram is dropped and counted); DNS_ERR_INVAL for a NULL or
 * out-of-range argument (offset + len beyond wire_len, wire_len over 65535, key_len out of range).
 */
enum dns_status dns_udp_add(struct dns_udp *u, const struct dns_udp_piece *p, uint64_t now_ns);

/* Hands every datagram whose first piece came before @now_ns - @max_age_ns over, cut. */
void dns_udp_expire(struct dns_udp *u, uint64_t now_ns, uint64_t max_age_ns);

/* Datagrams waiting for more pieces now. */
size_t dns_udp_pending(const struct dns_udp *u);

void dns_udp_get_stats(const struct dns_udp *u, struct dns_udp_stats *out);

#endif /* FLOWSCOPE_DNS_UDP_H */
