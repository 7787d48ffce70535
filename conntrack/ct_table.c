// SPDX-License-Identifier: Apache-2.0
/*
 * The translation table (see ct_table.h): two hash indexes (by orig_tuple and by reply_tuple) over
 * a slot array, sharing one bucket array (a bucket holds both chain heads, so a lookup, which
 * walks both chains of its tuple's bucket, reads one cache line) and a bitmap of non-empty
 * buckets; an LRU list of live entries and a list of destroyed entries in destroy order.
 * Several entries may share a tuple (a reused tuple: the old one in its grace period, the new
 * one live); a lookup walks the whole chain and picks by time. No I/O and no clocks here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "ct_table.h"

#define CT_DEFAULT_MAX_ENTRIES 131072
#define CT_DEFAULT_GRACE_NS (60ULL * 1000000000ULL)
#define CT_DEFAULT_BIRTH_SLACK_NS 1000000000ULL
#define CT_NIL UINT32_MAX

enum ct_entry_state {
	CT_ENTRY_FREE = 0,
	CT_ENTRY_LIVE = 1,
	CT_ENTRY_DESTROYED = 2,
};

/*
 * Links are indexes into ct_table.entries; CT_NIL ends a chain or list. An entry is two cache
 * lines, aligned: what a hash chain walk reads (orig_tuple, hnext, state) is in the first, the
 * reply_tuple and times a match needs in the second, which the walk prefetches so both misses
 * overlap.
 */
struct ct_entry {
	struct ct_tuple orig_tuple;
	uint8_t state; /* enum ct_entry_state */
	uint8_t referenced; /* hit since it last passed the LRU tail (second chance) */
	uint8_t nat; /* ct_tuple_is_nat(orig_tuple, reply_tuple), computed once */
	uint32_t hnext[2]; /* hash chains, [CT_DIR_ORIG] keyed by orig_tuple, [CT_DIR_REPLY] by reply */
	uint32_t gen; /* dump generation that last saw it, for the sweep after a resync */
	uint32_t seq; /* learn order (wraps): of two entries sharing a tuple, the larger is newer */
	struct ct_tuple reply_tuple;
	uint32_t prev, next; /* live list (LRU order) or destroyed list (destroy order) */
	uint64_t destroyed_ns; /* when seen destroyed (an upper bound of the kernel's time) */
	uint64_t born_ns; /* when its NEW event was read; 0: unknown, before we learnt it */
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct ct_entry) == 128, "an entry is two cache lines");

struct ct_list {
	uint32_t first, last;
};

struct ct_table {
	struct ct_table_opts opts;
	struct ct_entry *entries; /* max_entries slots; pages are touched only once used */
	uint32_t (*buckets)[2]; /* chain heads per bucket: [CT_DIR_ORIG] and [CT_DIR_REPLY] */
	uint64_t *nonempty; /* a bit per bucket: one of its two chains holds an entry */
	uint32_t nbuckets; /* power of two */
	uint32_t used; /* slots handed out at least once; beyond it all are free */
	uint32_t free_head; /* freed slots, chained through next */
	struct ct_list live; /* first = most recently used */
	struct ct_list destroyed; /* first = destroyed earliest */
	uint64_t seed;
	uint32_t gen;
	uint32_t seq;
	struct ct_table_stats stats;
};

void ct_table_opts_init(struct ct_table_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->max_entries = CT_DEFAULT_MAX_ENTRIES;
	opts->grace_ns = CT_DEFAULT_GRACE_NS;
	opts->birth_slack_ns = CT_DEFAULT_BIRTH_SLACK_NS;
}

/* Grace period over? A caller's clock that stepped back counts as no time passed. */
static bool grace_over(const struct ct_table *table, const struct ct_entry *e, uint64_t now_ns)
{
	return now_ns >= e->destroyed_ns && now_ns - e->destroyed_ns >= table->opts.grace_ns;
}

static uint64_t mix64(uint64_t x)
{
	/* a 64-bit finalizer (xor-shift-multiply); good avalanche, a few cycles */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint32_t tuple_bucket(const struct ct_table *table, const struct ct_tuple *t)
{
	uint64_t w[5] = { 0 };
	uint64_t h = table->seed;

	memcpy(w, t, sizeof(*t));
	for (int i = 0; i < 5; i++)
		h = mix64(h ^ w[i]);
	return (uint32_t)h & (table->nbuckets - 1);
}

static void list_unlink(struct ct_table *table, struct ct_list *l, uint32_t idx)
{
	struct ct_entry *e = &table->entries[idx];

	if (e->prev != CT_NIL)
		table->entries[e->prev].next = e->next;
	else
		l->first = e->next;
	if (e->next != CT_NIL)
		table->entries[e->next].prev = e->prev;
	else
		l->last = e->prev;
	e->prev = e->next = CT_NIL;
}

static void list_push_first(struct ct_table *table, struct ct_list *l, uint32_t idx)
{
	struct ct_entry *e = &table->entries[idx];

	e->prev = CT_NIL;
	e->next = l->first;
	if (l->first != CT_NIL)
		table->entries[l->first].prev = idx;
	else
		l->last = idx;
	l->first = idx;
}

static void list_push_last(struct ct_table *table, struct ct_list *l, uint32_t idx)
{
	struct ct_entry *e = &table->entries[idx];

	e->next = CT_NIL;
	e->prev = l->last;
	if (l->last != CT_NIL)
		table->entries[l->last].next = idx;
	else
		l->first = idx;
	l->last = idx;
}

static const struct ct_tuple *entry_key(const struct ct_entry *e, int dir)
{
	return dir == CT_DIR_ORIG ? &e->orig_tuple : &e->reply_tuple;
}

/* The first entry in dir's chain of t's bucket whose key is t, starting at idx; or CT_NIL. */
static uint32_t chain_match(const struct ct_table *table, int dir, const struct ct_tuple *t,
			    uint32_t idx)
{
	while (idx != CT_NIL) {
		const struct ct_entry *e = &table->entries[idx];

		__builtin_prefetch((const char *)e + 64);
		if (ct_tuple_equal(entry_key(e, dir), t))
			return idx;
		idx = e->hnext[dir];
	}
	return CT_NIL;
}

static bool bucket_nonempty(const struct ct_table *table, uint32_t b)
{
	return table->nonempty[b / 64] >> (b % 64) & 1;
}

/*
 * The head of dir's chain in bucket b. A bucket whose bit says empty is not read at all: with
 * at most max_entries entries in 2 * max_entries buckets, most lookups that miss (flows conntrack
 * does not translate) stop at the bitmap, a few KiB that stay in cache, instead of a cache miss
 * on a random bucket of the MiB-sized head array.
 */
static uint32_t chain_head(const struct ct_table *table, int dir, uint32_t b)
{
	return bucket_nonempty(table, b) ? table->buckets[b][dir] : CT_NIL;
}

/* Iterate over the entries whose dir key is t, which hashes to bucket b. */
#define for_each_match_in(table, dir, t, b, idx)                                         \
	for (idx = chain_match(table, dir, t, chain_head(table, dir, b)); idx != CT_NIL; \
	     idx = chain_match(table, dir, t, (table)->entries[idx].hnext[dir]))

/* Iterate over the entries whose dir key is t. */
#define for_each_match(table, dir, t, idx) \
	for_each_match_in(table, dir, t, tuple_bucket(table, t), idx)

static void hash_add(struct ct_table *table, int dir, uint32_t idx)
{
	struct ct_entry *e = &table->entries[idx];
	uint32_t b = tuple_bucket(table, entry_key(e, dir));
	uint32_t *head = &table->buckets[b][dir];

	e->hnext[dir] = *head;
	*head = idx;
	table->nonempty[b / 64] |= 1ULL << (b % 64);
}

static void hash_del(struct ct_table *table, int dir, uint32_t idx)
{
	struct ct_entry *e = &table->entries[idx];
	uint32_t b = tuple_bucket(table, entry_key(e, dir));
	uint32_t *link = &table->buckets[b][dir];

	while (*link != CT_NIL && *link != idx)
		link = &table->entries[*link].hnext[dir];
	if (*link == idx)
		*link = e->hnext[dir];
	if (table->buckets[b][CT_DIR_ORIG] == CT_NIL && table->buckets[b][CT_DIR_REPLY] == CT_NIL)
		table->nonempty[b / 64] &= ~(1ULL << (b % 64));
}

/* Unlink an entry from everything and return its slot to the free chain. */
static void entry_free(struct ct_table *table, uint32_t idx)
{
	struct ct_entry *e = &table->entries[idx];

	hash_del(table, CT_DIR_ORIG, idx);
	hash_del(table, CT_DIR_REPLY, idx);
	if (e->state == CT_ENTRY_LIVE) {
		list_unlink(table, &table->live, idx);
	} else {
		list_unlink(table, &table->destroyed, idx);
		table->stats.destroyed_entries--;
	}
	if (!e->nat)
		table->stats.negative_entries--;
	e->state = CT_ENTRY_FREE;
	e->next = table->free_head;
	table->free_head = idx;
	table->stats.entries--;
}

/*
 * The live entry to evict: least recently used, approximated with a second chance. A hit only
 * sets the entry's referenced bit (moving it in the list would touch two more random entries per
 * lookup); the tail gives referenced entries another round at the head instead.
 */
static uint32_t lru_victim(struct ct_table *table)
{
	uint32_t idx;

	while ((idx = table->live.last) != CT_NIL && table->entries[idx].referenced) {
		table->entries[idx].referenced = 0;
		list_unlink(table, &table->live, idx);
		list_push_first(table, &table->live, idx);
	}
	return idx;
}

/*
 * A free slot, evicting when full. Live entries go first: a live entry can still be fetched
 * again by a point GET, a destroyed one is gone from the kernel for good.
 */
static uint32_t entry_alloc(struct ct_table *table)
{
	uint32_t idx;

	if (table->free_head == CT_NIL && table->used == table->opts.max_entries) {
		idx = lru_victim(table);
		if (idx == CT_NIL)
			idx = table->destroyed.first;
		entry_free(table, idx);
		table->stats.evictions++;
	}
	if (table->free_head != CT_NIL) {
		idx = table->free_head;
		table->free_head = table->entries[idx].next;
	} else {
		idx = table->used++;
	}
	table->stats.entries++;
	return idx;
}

static void entry_mark_destroyed(struct ct_table *table, uint32_t idx, uint64_t now_ns)
{
	struct ct_entry *e = &table->entries[idx];

	if (e->state != CT_ENTRY_LIVE)
		return;
	list_unlink(table, &table->live, idx);
	e->state = CT_ENTRY_DESTROYED;
	e->destroyed_ns = now_ns;
	list_push_last(table, &table->destroyed, idx);
	table->stats.destroyed_entries++;
}

static void entry_revive(struct ct_table *table, uint32_t idx)
{
	struct ct_entry *e = &table->entries[idx];

	list_unlink(table, &table->destroyed, idx);
	table->stats.destroyed_entries--;
	e->state = CT_ENTRY_LIVE;
	e->destroyed_ns = 0;
	e->seq = ++table->seq;
	list_push_first(table, &table->live, idx);
}

void ct_table_expire(struct ct_table *table, uint64_t now_ns)
{
	while (table->destroyed.first != CT_NIL) {
		uint32_t idx = table->destroyed.first;

		if (!grace_over(table, &table->entries[idx], now_ns))
			break;
		entry_free(table, idx);
		table->stats.expirations++;
	}
}

static bool newer(const struct ct_entry *a, const struct ct_entry *b)
{
	return (int32_t)(a->seq - b->seq) > 0;
}

/*
 * The tuples an entry can be found by (its orig_tuple and reply_tuple) against the two indexes:
 * four (index, key) pairs. conntrack keeps every tuple of a live entry unique in both directions,
 * so any cached entry matching one of them shares a tuple with the new one.
 */
struct shared {
	uint32_t n;
	uint32_t idx[4 * CT_TUPLE_MAX];
};

static void add_shared(struct shared *s, uint32_t idx)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (s->idx[i] == idx)
			return;
	if (s->n < sizeof(s->idx) / sizeof(s->idx[0]))
		s->idx[s->n++] = idx;
}

static void find_shared(const struct ct_table *table, const struct ct_tuple *orig,
			const struct ct_tuple *reply, struct shared *s)
{
	const struct ct_tuple *keys[2] = { orig, reply };
	uint32_t idx;

	s->n = 0;
	for (int k = 0; k < 2; k++)
		for (int dir = 0; dir < 2; dir++)
			for_each_match(table, dir, keys[k], idx) add_shared(s, idx);
}

/* Keep at most CT_TUPLE_MAX - 1 entries sharing orig's tuples before one more is added. */
static void bound_shared(struct ct_table *table, struct shared *s)
{
	while (s->n >= CT_TUPLE_MAX) {
		uint32_t oldest = 0;

		for (uint32_t i = 1; i < s->n; i++)
			if (newer(&table->entries[s->idx[oldest]], &table->entries[s->idx[i]]))
				oldest = i;
		entry_free(table, s->idx[oldest]);
		table->stats.tuple_evictions++;
		s->idx[oldest] = s->idx[--s->n];
	}
}

/* Live entries sharing a tuple with a newer one are gone from the kernel. */
static void supersede(struct ct_table *table, const struct shared *s, uint64_t now_ns)
{
	for (uint32_t i = 0; i < s->n; i++) {
		if (table->entries[s->idx[i]].state == CT_ENTRY_LIVE) {
			entry_mark_destroyed(table, s->idx[i], now_ns);
			table->stats.superseded++;
		}
	}
}

static int check_pair(struct ct_tuple *o, struct ct_tuple *r)
{
	int err = ct_tuple_check(o);

	if (!err)
		err = ct_tuple_check(r);
	if (!err && (o->family != r->family || o->proto != r->proto))
		err = -EINVAL;
	return err;
}

int ct_table_learn(struct ct_table *table, const struct ct_tuple *orig_tuple,
		   const struct ct_tuple *reply_tuple, enum ct_source src, uint64_t now_ns)
{
	struct ct_tuple o, r;
	struct shared s;
	struct ct_entry *e;
	uint32_t idx;
	bool nat;
	int err;

	if (!table || !orig_tuple || !reply_tuple)
		return -EINVAL;
	o = *orig_tuple;
	r = *reply_tuple;
	err = check_pair(&o, &r);
	if (err)
		return err;
	ct_table_expire(table, now_ns); /* first: it may free slots found below */
	find_shared(table, &o, &r, &s);
	for (uint32_t i = 0; i < s.n; i++) {
		e = &table->entries[s.idx[i]];
		if (!ct_tuple_equal(&e->orig_tuple, &o) || !ct_tuple_equal(&e->reply_tuple, &r))
			continue;
		/* a copy of a known entry */
		e->gen = table->gen;
		/* a dump may carry a copy taken before a DESTROY we already applied */
		if (e->state == CT_ENTRY_LIVE || src == CT_FROM_DUMP)
			return 0;
		/* the same tuples again: a new connection with the same answers; keep born_ns */
		idx = s.idx[i];
		s.idx[i] = s.idx[--s.n];
		supersede(table, &s, now_ns);
		entry_revive(table, idx);
		return 0;
	}
	nat = ct_tuple_is_nat(&o, &r);
	if (!nat && !s.n && src != CT_FROM_GET)
		return 0; /* nothing to shadow: a plain entry is not worth a slot */
	supersede(table, &s, now_ns);
	bound_shared(table, &s);
	idx = entry_alloc(table);
	e = &table->entries[idx];
	e->orig_tuple = o;
	e->reply_tuple = r;
	e->state = CT_ENTRY_LIVE;
	e->referenced = 0;
	e->nat = nat;
	e->gen = table->gen;
	e->seq = ++table->seq;
	e->destroyed_ns = 0;
	e->born_ns = src == CT_FROM_EVENT ? now_ns : 0;
	hash_add(table, CT_DIR_ORIG, idx);
	hash_add(table, CT_DIR_REPLY, idx);
	list_push_first(table, &table->live, idx);
	if (!nat) {
		table->stats.negative_entries++;
		if (s.n)
			table->stats.negatives_stored++;
	}
	return 0;
}

int ct_table_forget(struct ct_table *table, const struct ct_tuple *orig_tuple, uint64_t now_ns)
{
	struct ct_tuple o;
	uint32_t idx;
	int ret = CT_NOT_FOUND;

	if (!table || !orig_tuple)
		return -EINVAL;
	o = *orig_tuple;
	if (ct_tuple_check(&o))
		return CT_NOT_FOUND;
	/* at most one live entry has this orig_tuple */
	for_each_match(table, CT_DIR_ORIG, &o, idx)
	{
		if (table->entries[idx].state == CT_ENTRY_LIVE) {
			entry_mark_destroyed(table, idx, now_ns);
			ret = CT_OK;
		}
	}
	return ret;
}

void ct_table_sync_begin(struct ct_table *table)
{
	table->gen++;
}

void ct_table_sync_end(struct ct_table *table, bool complete, uint64_t now_ns)
{
	uint32_t idx = table->live.first;

	if (!complete)
		return;
	while (idx != CT_NIL) {
		uint32_t next = table->entries[idx].next;

		if (table->entries[idx].gen != table->gen)
			entry_mark_destroyed(table, idx, now_ns);
		idx = next;
	}
}

static void fill_result(const struct ct_entry *e, int dir, const struct ct_tuple *in,
			struct ct_result *out)
{
	ct_tuple_inverse(dir == CT_DIR_ORIG ? &e->reply_tuple : &e->orig_tuple, &out->actual);
	out->nat = e->nat;
	out->src_nat = memcmp(&out->actual.src, &in->src, sizeof(in->src)) ||
		       out->actual.src_port != in->src_port;
	out->dst_nat = memcmp(&out->actual.dst, &in->dst, sizeof(in->dst)) ||
		       out->actual.dst_port != in->dst_port;
	out->destroyed = e->state == CT_ENTRY_DESTROYED;
	out->dir = dir;
}

enum ct_alive {
	CT_DEAD = 0, /* not alive in the window */
	CT_ALIVE_SLACK = 1, /* its NEW was read after the window, within the birth slack */
	CT_ALIVE = 2, /* alive in the window itself (or born before we knew) */
};

/* Was the entry alive at some point of the window, and only thanks to the slack? */
static enum ct_alive alive_in(const struct ct_table *table, const struct ct_entry *e,
			      const struct ct_window *w)
{
	/* destroyed_ns is when we saw it gone, never before the kernel's destroy */
	if (e->state == CT_ENTRY_DESTROYED && e->destroyed_ns < w->first_ns)
		return CT_DEAD;
	if (!e->born_ns || e->born_ns <= w->last_ns)
		return CT_ALIVE;
	/* born_ns is when we read its NEW event: late by the event's wait in the socket */
	if (w->last_ns < UINT64_MAX - table->opts.birth_slack_ns &&
	    e->born_ns > w->last_ns + table->opts.birth_slack_ns)
		return CT_DEAD;
	return CT_ALIVE_SLACK;
}

int ct_table_lookup(struct ct_table *table, const struct ct_tuple *tuple,
		    const struct ct_window *window, uint64_t now_ns, struct ct_result *out)
{
	/* [CT_ALIVE_SLACK], [CT_ALIVE]: the newest candidate of each kind */
	uint32_t best[3] = { CT_NIL, CT_NIL, CT_NIL }, idx, b;
	int best_dir[3] = { CT_DIR_ORIG, CT_DIR_ORIG, CT_DIR_ORIG };
	struct ct_tuple t;
	int err, k;

	if (!table || !tuple || !window || !out)
		return -EINVAL;
	t = *tuple;
	err = ct_tuple_check(&t);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->actual = t;
	/* both indexes hash the same key the same way: one bucket, both chains */
	b = tuple_bucket(table, &t);
	for (int dir = 0; dir < 2 && bucket_nonempty(table, b); dir++) {
		for_each_match_in(table, dir, &t, b, idx)
		{
			const struct ct_entry *e = &table->entries[idx];
			enum ct_alive a;

			if (e->state == CT_ENTRY_DESTROYED && grace_over(table, e, now_ns))
				continue; /* expired; ct_table_expire() frees it */
			a = alive_in(table, e, window);
			if (a == CT_DEAD) {
				table->stats.window_rejects++;
				continue;
			}
			if (best[a] == CT_NIL || newer(e, &table->entries[best[a]])) {
				best[a] = idx;
				best_dir[a] = dir;
			}
			/*
			 * At most one live entry has a given tuple, in either direction, and it is
			 * the newest of those sharing it (ct_table_learn() supersedes the others):
			 * nothing further down either chain can beat it, unless it is alive only
			 * thanks to the slack, which an entry alive in the window itself beats.
			 */
			if (e->state == CT_ENTRY_LIVE && a == CT_ALIVE)
				goto found;
		}
	}
found:
	k = best[CT_ALIVE] != CT_NIL ? CT_ALIVE : CT_ALIVE_SLACK;
	if (best[k] == CT_NIL) {
		table->stats.miss++;
		return CT_NOT_FOUND;
	}
	table->entries[best[k]].referenced = 1;
	table->stats.hit++;
	fill_result(&table->entries[best[k]], best_dir[k], &t, out);
	return CT_OK;
}

static size_t nonempty_bytes(const struct ct_table *table)
{
	return (table->nbuckets + 63) / 64 * sizeof(uint64_t);
}

void ct_table_stats(const struct ct_table *table, struct ct_table_stats *out)
{
	*out = table->stats;
	out->mem_bytes = sizeof(*table) + (uint64_t)table->used * sizeof(struct ct_entry) +
			 2ULL * table->nbuckets * sizeof(uint32_t) + nonempty_bytes(table);
}

/*
 * Zeroed memory straight from mmap: pages are touched (and count in RSS) only once used, and
 * transparent huge pages are asked for because lookups land at random over tens of MiB, where
 * 4 KiB pages cost a TLB miss and a page walk on top of each cache miss.
 */
static void *table_alloc(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE); /* advice only: fine if THP is off */
	return p;
}

static void table_unmap(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

int ct_table_create(const struct ct_table_opts *opts, struct ct_table **out)
{
	struct ct_table *table;

	if (!out)
		return -EINVAL;
	*out = NULL;
	table = calloc(1, sizeof(*table));
	if (!table)
		return -ENOMEM;
	if (opts)
		table->opts = *opts;
	else
		ct_table_opts_init(&table->opts);
	if (!table->opts.max_entries)
		table->opts.max_entries = CT_DEFAULT_MAX_ENTRIES;
	if (!table->opts.grace_ns)
		table->opts.grace_ns = CT_DEFAULT_GRACE_NS;
	if (!table->opts.birth_slack_ns)
		table->opts.birth_slack_ns = CT_DEFAULT_BIRTH_SLACK_NS;
	if (table->opts.max_entries >= CT_NIL / 2) {
		free(table);
		return -EINVAL;
	}
	/*
	 * Load factor at most 1/2 at the bound: each extra chain step is a cache miss on a random
	 * entry, and buckets cost 4 bytes against an entry's 128.
	 */
	table->nbuckets = 1;
	while (table->nbuckets < 2 * table->opts.max_entries)
		table->nbuckets <<= 1;
	table->entries = table_alloc(sizeof(*table->entries) * table->opts.max_entries);
	table->buckets = table_alloc(sizeof(*table->buckets) * table->nbuckets);
	table->nonempty = table_alloc(nonempty_bytes(table)); /* zero: all empty */
	if (!table->entries || !table->buckets || !table->nonempty) {
		ct_table_destroy(table);
		return -ENOMEM;
	}
	memset(table->buckets, 0xff, sizeof(*table->buckets) * table->nbuckets);
	table->free_head = CT_NIL;
	table->live.first = table->live.last = CT_NIL;
	table->destroyed.first = table->destroyed.last = CT_NIL;
	/* a keyed hash: remote peers choose ports and could otherwise aim at one bucket */
	if (getrandom(&table->seed, sizeof(table->seed), GRND_NONBLOCK) != sizeof(table->seed))
		table->seed = (uintptr_t)table ^ 0x9e3779b97f4a7c15ULL;
	*out = table;
	return 0;
}

void ct_table_destroy(struct ct_table *table)
{
	if (!table)
		return;
	table_unmap(table->nonempty, nonempty_bytes(table));
	table_unmap(table->buckets, sizeof(*table->buckets) * table->nbuckets);
	table_unmap(table->entries, sizeof(*table->entries) * table->opts.max_entries);
	free(table);
}
