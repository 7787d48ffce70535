/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protobuf encoding of records (schema proto/flowscope/v1/records.proto, package flowscope.v1)
 * and the varint length-delimited framing used to put several records in one Kafka message.
 */
#ifndef FLOWSCOPE_RECORD_PROTO_H
#define FLOWSCOPE_RECORD_PROTO_H

#include <stdint.h>
#include <sys/types.h>
#include "record.h"

/* Longest base-128 varint of a 64-bit value. */
#define RECORD_PROTO_VARINT_MAX 10

/* Context every record carries. */
struct record_proto_ctx {
	const char *node_name; /* --node-name; never NULL */
};

/*
 * Encode r as one flowscope.v1.FlowRecord (or DnsRecord) into buf, capacity cap bytes. With
 * delimited true, the message is preceded by its length as a varint (the framing of
 * ClickHouse's Protobuf format and of protobuf's writeDelimitedTo); otherwise it is bare.
 * schema_version is FLOWSCOPE_SCHEMA_VERSION and node is ctx->node_name.
 *
 * Returns the number of bytes written, or -ENOSPC when cap is too small (buf holds garbage).
 * Encoding allocates nothing.
 */
ssize_t record_proto_encode_flow(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
				 const struct flow_record *r, bool delimited);
ssize_t record_proto_encode_dns(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
				const struct dns_record *r, bool delimited);

/*
 * Write v as a protobuf base-128 varint (least significant group first) into buf, which has room
 * for RECORD_PROTO_VARINT_MAX bytes. Returns the number of bytes written (1..10).
 */
size_t record_proto_put_varint(uint8_t *buf, uint64_t v);

/*
 * Read one varint from buf (len bytes) into *v. Returns the number of bytes consumed, or 0 when
 * buf ends inside the varint or the varint is longer than 10 bytes.
 */
size_t record_proto_get_varint(const uint8_t *buf, size_t len, uint64_t *v);

/*
 * Step through a length-delimited buffer: on return *msg and *msg_len are the next message and
 * *off is moved past it. Returns 1 when a message was found, 0 at the end of buf, -EBADMSG when
 * the framing is broken (truncated length or message).
 */
int record_proto_next_delimited(const uint8_t *buf, size_t len, size_t *off, const uint8_t **msg,
				size_t *msg_len);

/* Encode r as one flowscope.v1.EventRecord (args in the oneof member named after the event;
 * syscall events in `syscall`). Returns as record_proto_encode_flow(). Allocates nothing. */
ssize_t record_proto_encode_event(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
				  const struct event_record *r, bool delimited);

#endif /* FLOWSCOPE_RECORD_PROTO_H */
