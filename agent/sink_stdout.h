/* SPDX-License-Identifier: Apache-2.0 */
/* The embedded default sink: NDJSON, one record per line, on a file descriptor (stdout). */
#ifndef FLOWSCOPE_SINK_STDOUT_H
#define FLOWSCOPE_SINK_STDOUT_H

#include <stdint.h>
#include "record_json.h"
#include "sink.h"

struct sink_stdout_stats {
	uint64_t records; /* records written */
	uint64_t dropped; /* records lost to write errors (e.g. a closed pipe) */
	uint64_t encode_errors; /* records that could not be encoded: too long, or a type
				   without a codec */
	bool reader_gone; /* the reading end of the pipe closed (EPIPE): nothing will be read */
};

/* Writes to fd; node_name is copied. Returns NULL on ENOMEM. */
struct sink *sink_stdout_new(int fd, const char *node_name);
void sink_stdout_stats(const struct sink *s, struct sink_stdout_stats *out);

#endif /* FLOWSCOPE_SINK_STDOUT_H */
