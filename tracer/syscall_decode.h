/* SPDX-License-Identifier: Apache-2.0 */
/* The syscall record's decoder (struct tr_syscall in bpf/tracer.h), shared with its unit test. */
#ifndef FLOWSCOPE_SYSCALL_DECODE_H
#define FLOWSCOPE_SYSCALL_DECODE_H

#include <stddef.h>

#include "event_tracer.h"

/*
 * Decodes the syscall record of size bytes at data into *out: the fixed part, the sockaddr and
 * the strings, each string NUL-terminated in a copy that *owned receives (free() it after use;
 * out's pointers point into it, but a known syscall's name, which is static). The lengths in
 * the record must fit their bounds (TR_SOCKADDR_MAX, TR_SYS_STR_MAX) and add up to size
 * exactly. Returns 0, -EINVAL for a malformed record (the caller counts it as a decode error)
 * or -ENOMEM; *owned is NULL on error.
 */
int tr_syscall_decode(const void *data, size_t size, struct event_tracer_syscall *out,
		      char **owned);

#endif /* FLOWSCOPE_SYSCALL_DECODE_H */
