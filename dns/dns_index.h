/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Open-addressing hash index over a caller's array of entries (the matcher's pending queries, the
 * name cache's addresses): slots hold entry indexes, linear probing, deletion by backward shift
 * so no tombstones pile up. Entries never move, so the callers can link them into lists.
 * Not part of the public API.
 */
#ifndef FLOWSCOPE_DNS_INDEX_H
#define FLOWSCOPE_DNS_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#define DNS_INDEX_NONE UINT32_MAX

struct dns_index {
	uint32_t *slot_entry; /* entry index, DNS_INDEX_NONE when empty */
	uint32_t *slot_hash; /* hash of that entry, so probing and shifting need not read it */
	uint32_t mask; /* slots - 1; slots is a power of two >= 2 * max entries */
};

/* Returns 0 or -1 on allocation failure. */
int dns_index_init(struct dns_index *ix, uint32_t max_entries);
void dns_index_fini(struct dns_index *ix);

/* Entry index whose hash is @hash and for which @eq(@ctx, index) is true, or DNS_INDEX_NONE. */
uint32_t dns_index_find(const struct dns_index *ix, uint32_t hash,
			bool (*eq)(const void *ctx, uint32_t entry), const void *ctx);

/* Add @entry; the caller keeps the number of entries at or below max_entries. */
void dns_index_insert(struct dns_index *ix, uint32_t hash, uint32_t entry);

/* Remove @entry, which must be present with @hash. */
void dns_index_remove(struct dns_index *ix, uint32_t hash, uint32_t entry);

/* 64-bit mix (splitmix64 finaliser constants) folded to 32 bits, for building key hashes. */
static inline uint64_t dns_index_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

#endif /* FLOWSCOPE_DNS_INDEX_H */
