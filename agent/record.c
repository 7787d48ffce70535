// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "record_codec.h"

const char *record_proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	}
	return NULL;
}

struct record *record_dup(const struct record *r)
{
	const struct record_codec *c = record_codec(r->type);
	struct record *copy;
	char *p;

	if (!c) {
		errno = EINVAL;
		return NULL;
	}
	copy = malloc(c->size + c->extra_size(r));
	if (!copy)
		return NULL;
	memcpy(copy, r, c->size);
	p = (char *)copy + c->size;
	c->copy_extra(copy, &p);
	return copy;
}

void record_free(struct record *r)
{
	free(r);
}
