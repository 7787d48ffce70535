// SPDX-License-Identifier: Apache-2.0
/*
 * ct_fill NETNS_PATH COUNT: creates COUNT unrelated, untranslated UDP conntrack entries
 * (sources in 198.51.100.0/24 with varied ports, to 203.0.113.250:9) in the
 * conntrack table of NETNS_PATH, over ctnetlink in batches. For end-to-end tests that need a
 * large table; `conntrack -I` takes a process per entry.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_fixture.h"

int main(int argc, char **argv)
{
	struct ct_fixture *fx = NULL;
	long count;
	int err = 0;

	if (argc != 3 || (count = strtol(argv[2], NULL, 10)) <= 0 || count > 1000000) {
		fprintf(stderr, "usage: ct_fill NETNS_PATH COUNT (1..1000000)\n");
		return 2;
	}
	err = fx_open(argv[1], &fx);
	if (err) {
		fprintf(stderr, "ct_fill: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	for (long i = 0; i < count && !err; i++) {
		char src[32];
		struct ct_tuple orig, reply;

		snprintf(src, sizeof(src), "198.51.100.%ld", 1 + i % 250);
		orig = fx_tuple(IPPROTO_UDP, src, (uint16_t)(1024 + i / 250), "203.0.113.250", 9);
		ct_tuple_inverse(&orig, &reply);
		err = fx_create(fx, &orig, &reply);
	}
	if (!err)
		err = fx_flush(fx);
	fx_close(fx);
	if (err) {
		fprintf(stderr, "ct_fill: creating entries: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}
