/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded default sink: NDJSON, one record per line, on a file descriptor (stdout), made
 * non-blocking: emit never waits for the reader. Lines wait in a bounded buffer (32 MiB) that
 * the loop writes out on EPOLLOUT; when it is full a record is dropped whole and counted
 * (buffer_full); the reader only ever gets whole lines. At exit sink_flush() (or sink_destroy(),
 * when it was not called) waits up to 5 s for the reader to take what is left, counts what it did
 * not take as dropped, and refuses records from then on (counted as dropped too).
 *
 * A reader that closes the pipe (`flowscope | head -1`) is a normal end, as for any Unix filter:
 * the sink stops the loop, counts what the reader did not get under reason reader_closed (per
 * record type), and its flush logs one info line with those counts; sink_flush() and
 * sink_destroy() do not count them as lost. A write error (EIO, ENOSPC) is a failure: an error
 * line, the loop stopped, what is left counted as write_error, and sink_failed() true.
 */
#ifndef FLOWSCOPE_SINK_STDOUT_H
#define FLOWSCOPE_SINK_STDOUT_H

#include <stdint.h>
#include "record_json.h"
#include "sink.h"

struct sink_stdout_stats {
	uint64_t records; /* records written out whole */
	uint64_t dropped; /* records lost to write errors (EIO, ENOSPC), or refused after flush */
	uint64_t encode_errors; /* records that could not be encoded: a type without a codec, or
				   no memory for a long one's line */
	uint64_t buffer_full; /* records dropped: the buffer was full (a slow or stopped reader) */
	uint64_t buffered_bytes; /* waiting to be written */
	/* records not written because the reader closed the pipe, by record type */
	uint64_t reader_closed[RECORD_TYPE_MAX];
	bool reader_gone; /* the reading end of the pipe closed (EPIPE): nothing will be read */
	bool write_failed; /* a write error: nothing more is written; exit status 1 */
};

/*
 * Writes to fd without blocking, never changing the flags of the description fd shares (with
 * stderr under 2>&1, with a terminal, with the parent shell): a pipe, FIFO or terminal is reopened
 * (/proc/self/fd/N) as a non-blocking description of the sink's own, closed by sink_destroy(); a
 * regular file is written as given (it never blocks). Only where that reopen fails (a socket) is
 * fd itself set O_NONBLOCK, and its flags restored by sink_destroy(). fd stays the caller's to close.
 * node_name is copied. Returns NULL on ENOMEM.
 */
struct sink *sink_stdout_create(int fd, const char *node_name);
void sink_stdout_stats(const struct sink *s, struct sink_stdout_stats *out);

#endif /* FLOWSCOPE_SINK_STDOUT_H */
