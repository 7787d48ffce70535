/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of policy/ (not installed, not for callers). */
#ifndef FLOWSCOPE_POLICY_INT_H
#define FLOWSCOPE_POLICY_INT_H

#include <stdarg.h>

#include "policy.h"

struct policy {
	struct policy_event_conf ev[POLICY_EV_COUNT];
	policy_prog_mask required;
	policy_prog_mask optional;
	struct policy_syscall_set sys;
	bool off;
};

/* A fresh policy: every event disabled, argv/env bounds at their defaults. NULL on ENOMEM. */
struct policy *policy_alloc(void);

/*
 * Computes `needed` (closure of the event dependencies, plus cgroup_lifecycle when an event
 * has a rate limit), the program masks and the syscall set.
 */
void policy_resolve(struct policy *pol);

/*
 * Fills `err` (may be NULL) and returns `status`. `where` prefixes the message (a file name or
 * "--events"); line/column 0 leave the place out; `key` (may be NULL) is copied escaped.
 */
enum policy_status policy_fail(struct policy_error *err, enum policy_status status,
			       const char *where, unsigned int line, unsigned int column,
			       const char *key, size_t key_len, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

/*
 * Writes `len` bytes of `s` into `out` (size `size`, NUL-terminated) with every byte outside
 * printable ASCII, and the backslash, as \xNN; cuts at a whole escape, ends with "..." when cut.
 */
void policy_escape(char *out, size_t size, const char *s, size_t len);

#endif /* FLOWSCOPE_POLICY_INT_H */
