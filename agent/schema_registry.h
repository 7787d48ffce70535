/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Confluent-compatible Schema Registry client (libcurl) and the registry's wire format for
 * protobuf values, for --kafka-format protobuf-sr. User documentation: docs/kafka.md, "Schema
 * Registry".
 *
 * Only what a producer needs: register a schema under a subject and learn its id
 * (POST /subjects/{subject}/versions, Confluent's Schema Registry API reference), and frame a
 * message with that id (Confluent's "Wire format" of the serializers: magic byte 0, the 4-byte
 * big-endian schema id, the message-index path, the protobuf message). Calls block up to the
 * registry's timeout: they are meant for the agent's start, before the event loop runs.
 */
#ifndef FLOWSCOPE_SCHEMA_REGISTRY_H
#define FLOWSCOPE_SCHEMA_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bytes the wire prefix of sr_wire_prefix() takes at most: 1 + 4 + two 5-byte varints. */
#define SR_WIRE_PREFIX_MAX 16
#define SR_DEFAULT_TIMEOUT_MS 10000

struct schema_registry;

/* The text of proto/flowscope/v1/records.proto, NUL-terminated, compiled in at build time
 * (agent/embed_text.cmake): the schema flowscope registers. */
extern const char flowscope_records_proto[];

/*
 * Check a registry base URL without contacting it: http:// or https://, a host, an optional port
 * and path prefix (".../apis/ccompat/v7"), no query or fragment. Userinfo ("user:password@")
 * is allowed and sent as HTTP basic authentication. Returns 0, or -EINVAL with the reason in err
 * (the URL quoted without its userinfo).
 */
int schema_registry_check_url(const char *url, char *err, size_t errsz);

/*
 * libcurl's process-wide set-up (curl_global_init()), once per process: call it from main()
 * before any thread starts (librdkafka's, libmicrohttpd's), since curl_global_init() is not
 * thread-safe in every libcurl build (libcurl 7.84 and later only with CURL_VERSION_THREADSAFE)
 * and it initialises libraries (OpenSSL) that other threads may be using. A second call is a
 * no-op. Returns 0, or -ENOMEM with the reason in err.
 */
int schema_registry_global_init(char *err, size_t errsz);

/* Undo schema_registry_global_init() at exit, after every client is destroyed and every other
 * thread has ended. A no-op without a successful init. */
void schema_registry_global_cleanup(void);

/*
 * A client of the registry at url (as schema_registry_check_url() accepts). timeout_ms bounds
 * each request as a whole, connection included (milliseconds, at least 1). Returns NULL with
 * the reason in err on a bad URL, without schema_registry_global_init() first, or when libcurl
 * cannot be initialised.
 */
struct schema_registry *schema_registry_create(const char *url, uint32_t timeout_ms, char *err,
					       size_t errsz);

void schema_registry_destroy(struct schema_registry *sr);

/* The registry's URL for messages: userinfo removed, so credentials are never logged. Valid
 * until schema_registry_destroy(). */
const char *schema_registry_url(const struct schema_registry *sr);

/*
 * Register schema (the text of a .proto file, schemaType PROTOBUF) under subject, or find it
 * when the subject already has it (the registry answers with the existing id). Sets *id.
 *
 * Returns 0; -EIO when the registry could not be reached or did not answer within the timeout;
 * -EPROTO when it answered with anything but HTTP 200 and a schema id (a refusal: incompatible
 * schema, authentication, a server error). err then holds one line naming the URL (without
 * userinfo), the subject and, for -EPROTO, the HTTP status and the start of the answer
 * (non-printable bytes replaced).
 */
int schema_registry_register_protobuf(struct schema_registry *sr, const char *subject,
				      const char *schema, uint32_t *id, char *err, size_t errsz);

/*
 * Index of the top-level message full_name ("flowscope.v1.FlowRecord") among the top-level
 * message declarations of the .proto text, counted from 0 in order of appearance: the
 * message-index path of the wire format is [index]. Comments, strings and nested declarations
 * are skipped; the name's package must be the file's package. Returns the index, or -ENOENT.
 */
int sr_proto_message_index(const char *proto, const char *full_name);

/*
 * Write the wire-format prefix for a value of a top-level message: magic byte 0, schema_id
 * big-endian, then the message-index path [index] as zig-zag varints (its length, then the
 * index), where the path [0] of the first message is the single byte 0 (Confluent's
 * documented shortcut). The protobuf message follows. Returns the bytes written (at most
 * SR_WIRE_PREFIX_MAX), -EINVAL for a negative index, -ENOSPC when cap is too small.
 */
ssize_t sr_wire_prefix(uint32_t schema_id, int index, uint8_t *buf, size_t cap);

#endif /* FLOWSCOPE_SCHEMA_REGISTRY_H */
