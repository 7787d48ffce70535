// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include <string.h>

#include "dns_index.h"

int dns_index_init(struct dns_index *ix, uint32_t max_entries)
{
	uint32_t slots = 2;

	/* At most half full keeps linear probe sequences short. */
	while (slots < 2ull * max_entries)
		slots <<= 1;
	ix->slot_entry = malloc(sizeof(*ix->slot_entry) * slots);
	ix->slot_hash = malloc(sizeof(*ix->slot_hash) * slots);
	if (!ix->slot_entry || !ix->slot_hash) {
		dns_index_fini(ix);
		return -1;
	}
	memset(ix->slot_entry, 0xff, sizeof(*ix->slot_entry) * slots);
	ix->mask = slots - 1;
	return 0;
}

void dns_index_fini(struct dns_index *ix)
{
	free(ix->slot_entry);
	free(ix->slot_hash);
	ix->slot_entry = NULL;
	ix->slot_hash = NULL;
}

uint32_t dns_index_find(const struct dns_index *ix, uint32_t hash,
			bool (*eq)(const void *ctx, uint32_t entry), const void *ctx)
{
	for (uint32_t i = hash & ix->mask;; i = (i + 1) & ix->mask) {
		uint32_t e = ix->slot_entry[i];

		if (e == DNS_INDEX_NONE)
			return DNS_INDEX_NONE;
		if (ix->slot_hash[i] == hash && eq(ctx, e))
			return e;
	}
}

void dns_index_insert(struct dns_index *ix, uint32_t hash, uint32_t entry)
{
	uint32_t i = hash & ix->mask;

	while (ix->slot_entry[i] != DNS_INDEX_NONE)
		i = (i + 1) & ix->mask;
	ix->slot_entry[i] = entry;
	ix->slot_hash[i] = hash;
}

void dns_index_remove(struct dns_index *ix, uint32_t hash, uint32_t entry)
{
	uint32_t i = hash & ix->mask, j;

	while (ix->slot_entry[i] != entry)
		i = (i + 1) & ix->mask;
	/*
	 * Backward shift: move later members of the probe run into the hole when their home slot
	 * does not lie cyclically in (hole, j], so every entry stays reachable from its home.
	 */
	for (j = (i + 1) & ix->mask;; j = (j + 1) & ix->mask) {
		uint32_t home;

		if (ix->slot_entry[j] == DNS_INDEX_NONE)
			break;
		home = ix->slot_hash[j] & ix->mask;
		if (((j - home) & ix->mask) >= ((j - i) & ix->mask)) {
			ix->slot_entry[i] = ix->slot_entry[j];
			ix->slot_hash[i] = ix->slot_hash[j];
			i = j;
		}
	}
	ix->slot_entry[i] = DNS_INDEX_NONE;
}
