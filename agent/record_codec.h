/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The codec table: for each record type, its name and how it is encoded. Sinks encode through
 * here and never test a record's type themselves, so a new record type needs its struct
 * (record.h), its entry here (record_codec.c), its protobuf message (proto/) and its docs
 * (docs/records.md), and no sink changes.
 *
 * A type without an entry (RECORD_EVENT for now, or any value out of range) is refused: the
 * encoders return -EPROTONOSUPPORT, and the sink counts the record as dropped.
 */
#ifndef FLOWSCOPE_RECORD_CODEC_H
#define FLOWSCOPE_RECORD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record.h"
#include "record_json.h"
#include "record_proto.h"

struct record_codec {
	const char *name; /* "flow": the JSON "type" value and the metrics' type label */
	const char *kafka_topic; /* default Kafka topic (--kafka-topic-<name>s overrides it) */
	const char *proto_message; /* protobuf message, "flowscope.v1.FlowRecord" */
	size_t size; /* sizeof the typed record (struct flow_record) */
	/* One JSON object, no newline; as record_json_flow(). */
	ssize_t (*json)(char *buf, size_t cap, const struct record_json_ctx *ctx,
			const struct record *r);
	/* One protobuf message, length-prefixed when delimited; as record_proto_encode_flow(). */
	ssize_t (*proto)(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
			 const struct record *r, bool delimited);
	/* Bytes the strings and arrays that r points to need in a copy (record_dup()). */
	size_t (*extra_size)(const struct record *r);
	/* Copies those into the arena at *p (advancing it), pointing copy's fields at them. */
	void (*copy_extra)(struct record *copy, char **p);
};

/* The codec of type, or NULL when the type has none (reserved or out of range). */
const struct record_codec *record_codec(unsigned int type);

/* Name of type ("flow", "dns"), or NULL when it has no codec. */
const char *record_type_name(unsigned int type);

/*
 * Encode r as JSON / protobuf through its codec. Return the bytes written, -ENOSPC when buf is
 * too small, or -EPROTONOSUPPORT when r's type has no codec (nothing is written).
 */
ssize_t record_encode_json(char *buf, size_t cap, const struct record_json_ctx *ctx,
			   const struct record *r);
ssize_t record_encode_proto(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
			    const struct record *r, bool delimited);

/*
 * Bytes that always hold r encoded, as JSON (with a newline) or protobuf (length-prefixed),
 * given the length of the node name the context adds; 0 when r's type has no codec. A sink
 * grows its buffer to this on -ENOSPC: no record is too long to encode. Bytes.
 */
size_t record_encoded_max(const struct record *r, size_t node_name_len);

#endif /* FLOWSCOPE_RECORD_CODEC_H */
