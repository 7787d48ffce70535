/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's own table of flow pieces for one interval, by flow key: what the flow_done ring
 * and the flow cache's cache-only slots hand over apart from the flow map (bpf/flow.h). Pieces
 * of one key merge (flow_value_merge()), so that an interval gives one record per flow key.
 */
#ifndef FLOWSCOPE_FLOW_TABLE_H
#define FLOWSCOPE_FLOW_TABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h> /* flow.h is shared with the BPF side: __u32 types */

#include "flow.h"

struct flow_table;

/*
 * Merges piece b of a flow into a (the same key, the same interval): counts add, first_ns the
 * earlier, last_ns the later, tcp_flags ORed; the initiator a SYN's verdict (FLOW_F_FROM_SYN),
 * else a known one, a's before b's; the owner a's if known, else b's (as bpf/flow.bpf.c
 * remember() and the drain's mend_meta() decide); FLOW_F_REMEMBERED when either has it.
 */
void flow_value_merge(struct flow_value *a, const struct flow_value *b);

/*
 * An empty table for up to max_flows keys; it grows as pieces come (anonymous memory; see
 * flow_table_reset()). NULL with errno set on failure.
 */
struct flow_table *flow_table_create(uint32_t max_flows);

/* Frees the table. NULL is ignored. */
void flow_table_destroy(struct flow_table *t);

/*
 * Adds a piece of the flow under k: a new key, or merged into the key's piece. whole: the piece
 * carries the flow's first_ns, initiator and owner (a ring record, a cache-only slot), not only
 * counts (a mapped slot's). Returns 0, -ENOSPC when a whole piece of a new key finds max_flows
 * keys in the table already, or -ENOMEM when it cannot grow. A piece that is not whole is never
 * refused for the bound: its flow has an entry in the flow map, which --max-flows bounds, and
 * such pieces are at most the flow cache's slots (FLOW_CACHE_SLOTS a CPU).
 */
int flow_table_add(struct flow_table *t, const struct flow_key *k, const struct flow_value *v,
		   bool whole);

/* A flow piece as flow_table_add_many() takes them. */
struct flow_piece {
	struct flow_key key;
	struct flow_value val;
};

/*
 * flow_table_add() of the n pieces p[0..n), in order, all whole or none, each one's result in
 * ret[i] (0, -ENOSPC or -ENOMEM). The same as n calls, only faster: the keys are hashed and
 * their index slots prefetched 16 at a time, so that the cache misses of the probes overlap.
 * Returns how many were refused (ret[i] != 0).
 */
uint32_t flow_table_add_many(struct flow_table *t, const struct flow_piece *p, uint32_t n,
			     bool whole, int *ret);

/*
 * Takes the piece under k out of the table into *out (the next flow_table_next() skips it).
 * Returns 0, or -ENOENT when there is none.
 */
int flow_table_take(struct flow_table *t, const struct flow_key *k, struct flow_value *out,
		    bool *whole);

/*
 * For each of the n keys k[i], the piece under it taken out of the table (flow_table_take())
 * and merged into v[i] (flow_value_merge(&v[i], piece)); a key without a piece leaves v[i] as
 * it was. Prefetches as flow_table_add_many() does. Returns how many pieces were merged.
 */
uint32_t flow_table_take_merge(struct flow_table *t, const struct flow_key *k, struct flow_value *v,
			       uint32_t n);

/*
 * The pieces not taken, one per call: *pos starts at 0. Returns true with *k, *v and *whole
 * set, false at the end.
 */
bool flow_table_next(const struct flow_table *t, uint32_t *pos, struct flow_key *k,
		     struct flow_value *v, bool *whole);

/* Keys in the table (taken ones included). */
uint32_t flow_table_count(const struct flow_table *t);

/*
 * Empties the table. A table that grew keeps its size for the next interval, and gives its
 * memory back to the system after a few intervals with far fewer keys.
 */
void flow_table_reset(struct flow_table *t);

/* Bytes of memory the table has mapped now (pieces and index). */
uint64_t flow_table_bytes(const struct flow_table *t);

#endif /* FLOWSCOPE_FLOW_TABLE_H */
