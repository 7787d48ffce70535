// SPDX-License-Identifier: Apache-2.0
/* The syscall record's decoder. See syscall_decode.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "syscall_decode.h"

/* "syscall_" and a u32 in decimal, with the NUL */
#define TR_SYSCALL_NAME_MAX 20

int tr_syscall_decode(const void *data, size_t size, struct event_tracer_syscall *out, char **owned)
{
	const struct tr_syscall *s = data;
	size_t off, used;
	char *c;

	*owned = NULL;
	memset(out, 0, sizeof(*out));
	if (size < TR_SYSCALL_FIXED || s->addr_len > TR_SOCKADDR_MAX)
		return -EINVAL;
	used = s->addr_len;
	for (int i = 0; i < TR_SYS_STRS; i++) {
		if (s->str_len[i] > TR_SYS_STR_MAX)
			return -EINVAL;
		used += s->str_len[i];
	}
	if (size != TR_SYSCALL_FIXED + used)
		return -EINVAL;
	/* the record, its NUL, and room for the name of a syscall without one */
	c = malloc(size + 1 + TR_SYSCALL_NAME_MAX);
	if (!c)
		return -ENOMEM;
	memcpy(c, data, size);
	c[size] = 0;
	*owned = c;
	s = (const struct tr_syscall *)c;
	out->rec = s;
	out->addr = s->addr_len ? s->data : NULL;
	out->addr_len = s->addr_len;
	/* the kernel writes each string with its NUL, but the record is untrusted bytes: each
	 * string is terminated in place at its last byte */
	off = TR_SYSCALL_FIXED + s->addr_len;
	for (int i = 0; i < TR_SYS_STRS; i++) {
		if (!s->str_len[i])
			continue;
		c[off + s->str_len[i] - 1] = 0;
		out->str[i] = c + off;
		off += s->str_len[i];
	}
	out->name = event_tracer_syscall_name(s->nr);
	if (!out->name) {
		char *name = c + size + 1;

		snprintf(name, TR_SYSCALL_NAME_MAX, "syscall_%u", s->nr);
		out->name = name;
	}
	return 0;
}
