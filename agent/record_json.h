/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON encoding of records: one object per record, the fields of docs/records.md, no newline.
 * Used as-is by the stdout sink (NDJSON) and by the Kafka sink's json format.
 */
#ifndef FLOWSCOPE_RECORD_JSON_H
#define FLOWSCOPE_RECORD_JSON_H

#include <sys/types.h>
#include "record.h"

/* Context every record carries. */
struct record_json_ctx {
	const char *node_name; /* --node-name; never NULL */
};

/*
 * Encode r as one JSON object into buf (capacity cap bytes). Returns the number of bytes written
 * (no NUL terminator is counted; one is written when room remains), or -ENOSPC when cap is too
 * small, in which case buf holds garbage.
 */
ssize_t record_json_flow(char *buf, size_t cap, const struct record_json_ctx *ctx,
			 const struct flow_record *r);
ssize_t record_json_dns(char *buf, size_t cap, const struct record_json_ctx *ctx,
			const struct dns_record *r);
/* An event record: context, then its args object in order (docs/records.md, events). */
ssize_t record_json_event(char *buf, size_t cap, const struct record_json_ctx *ctx,
			  const struct event_record *r);

#endif /* FLOWSCOPE_RECORD_JSON_H */
