// SPDX-License-Identifier: Apache-2.0
/*
 * The translation cache itself: two hash indexes (by orig_tuple and by reply_tuple) over a slot
 * array, an LRU list of live entries and a list of destroyed entries in destroy order.
 * No I/O and no clocks here; ct_netlink.c feeds it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "ct_priv.h"

#define CT_DEFAULT_MAX_ENTRIES 131072
#define CT_DEFAULT_GRACE_NS (60ULL * 1000000000ULL)
#define CT_DEFAULT_FALLBACK_PER_SEC 1000
#define CT_DEFAULT_REFRESH_NS (300ULL * 1000000000ULL)
#define NSEC_PER_SEC 1000000000ULL

void ct_cache_opts_init(struct ct_cache_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->max_entries = CT_DEFAULT_MAX_ENTRIES;
	opts->grace_ns = CT_DEFAULT_GRACE_NS;
	opts->fallback_per_sec = CT_DEFAULT_FALLBACK_PER_SEC;
	opts->refresh_ns = CT_DEFAULT_REFRESH_NS;
}

/* Grace period over? A caller's clock that stepped back counts as no time passed. */
static bool grace_over(const struct ct_cache *cache, const struct ct_entry *e, uint64_t now_ns)
{
	return now_ns >= e->destroyed_ns && now_ns - e->destroyed_ns >= cache->opts.grace_ns;
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

static uint32_t tuple_bucket(const struct ct_cache *cache, const struct ct_tuple *t)
{
	uint64_t w[5] = { 0 };
	uint64_t h = cache->seed;

	memcpy(w, t, sizeof(*t));
	for (int i = 0; i < 5; i++)
		h = mix64(h ^ w[i]);
	return (uint32_t)h & (cache->nbuckets - 1);
}

static void list_unlink(struct ct_cache *cache, struct ct_list *l, uint32_t idx)
{
	struct ct_entry *e = &cache->entries[idx];

	if (e->prev != CT_NIL)
		cache->entries[e->prev].next = e->next;
	else
		l->first = e->next;
	if (e->next != CT_NIL)
		cache->entries[e->next].prev = e->prev;
	else
		l->last = e->prev;
	e->prev = e->next = CT_NIL;
}

static void list_push_first(struct ct_cache *cache, struct ct_list *l, uint32_t idx)
{
	struct ct_entry *e = &cache->entries[idx];

	e->prev = CT_NIL;
	e->next = l->first;
	if (l->first != CT_NIL)
		cache->entries[l->first].prev = idx;
	else
		l->last = idx;
	l->first = idx;
}

static void list_push_last(struct ct_cache *cache, struct ct_list *l, uint32_t idx)
{
	struct ct_entry *e = &cache->entries[idx];

	e->next = CT_NIL;
	e->prev = l->last;
	if (l->last != CT_NIL)
		cache->entries[l->last].next = idx;
	else
		l->first = idx;
	l->last = idx;
}

static const struct ct_tuple *entry_key(const struct ct_entry *e, int dir)
{
	return dir == CT_DIR_ORIG ? &e->orig_tuple : &e->reply_tuple;
}

static uint32_t hash_find(const struct ct_cache *cache, int dir, const struct ct_tuple *t)
{
	uint32_t idx = cache->buckets[dir][tuple_bucket(cache, t)];

	while (idx != CT_NIL) {
		const struct ct_entry *e = &cache->entries[idx];

		__builtin_prefetch((const char *)e + 64);
		if (ct_tuple_equal(entry_key(e, dir), t))
			return idx;
		idx = e->hnext[dir];
	}
	return CT_NIL;
}

static void hash_add(struct ct_cache *cache, int dir, uint32_t idx)
{
	struct ct_entry *e = &cache->entries[idx];
	uint32_t *head = &cache->buckets[dir][tuple_bucket(cache, entry_key(e, dir))];

	e->hnext[dir] = *head;
	*head = idx;
}

static void hash_del(struct ct_cache *cache, int dir, uint32_t idx)
{
	struct ct_entry *e = &cache->entries[idx];
	uint32_t *link = &cache->buckets[dir][tuple_bucket(cache, entry_key(e, dir))];

	while (*link != CT_NIL && *link != idx)
		link = &cache->entries[*link].hnext[dir];
	if (*link == idx)
		*link = e->hnext[dir];
}

/* Unlink an entry from everything and return its slot to the free chain. */
static void entry_free(struct ct_cache *cache, uint32_t idx)
{
	struct ct_entry *e = &cache->entries[idx];

	hash_del(cache, CT_DIR_ORIG, idx);
	hash_del(cache, CT_DIR_REPLY, idx);
	if (e->state == CT_ENTRY_LIVE) {
		list_unlink(cache, &cache->live, idx);
	} else {
		list_unlink(cache, &cache->destroyed, idx);
		cache->stats.destroyed_entries--;
	}
	e->state = CT_ENTRY_FREE;
	e->next = cache->free_head;
	cache->free_head = idx;
	cache->stats.entries--;
}

/*
 * The live entry to evict: least recently used, approximated with a second chance. A hit only
 * sets the entry's referenced bit (moving it in the list would touch two more random entries per
 * lookup); the tail gives referenced entries another round at the head instead.
 */
static uint32_t lru_victim(struct ct_cache *cache)
{
	uint32_t idx;

	while ((idx = cache->live.last) != CT_NIL && cache->entries[idx].referenced) {
		cache->entries[idx].referenced = 0;
		list_unlink(cache, &cache->live, idx);
		list_push_first(cache, &cache->live, idx);
	}
	return idx;
}

/*
 * A free slot, evicting when full. Live entries go first: a live entry can still be fetched
 * again by a point GET, a destroyed one is gone from the kernel for good.
 */
static uint32_t entry_alloc(struct ct_cache *cache)
{
	uint32_t idx;

	if (cache->free_head == CT_NIL && cache->used == cache->opts.max_entries) {
		idx = lru_victim(cache);
		if (idx == CT_NIL)
			idx = cache->destroyed.first;
		entry_free(cache, idx);
		cache->stats.evictions++;
	}
	if (cache->free_head != CT_NIL) {
		idx = cache->free_head;
		cache->free_head = cache->entries[idx].next;
	} else {
		idx = cache->used++;
	}
	cache->stats.entries++;
	return idx;
}

static void entry_mark_destroyed(struct ct_cache *cache, uint32_t idx, uint64_t now_ns)
{
	struct ct_entry *e = &cache->entries[idx];

	if (e->state != CT_ENTRY_LIVE)
		return;
	list_unlink(cache, &cache->live, idx);
	e->state = CT_ENTRY_DESTROYED;
	e->destroyed_ns = now_ns;
	list_push_last(cache, &cache->destroyed, idx);
	cache->stats.destroyed_entries++;
}

static void expire(struct ct_cache *cache, uint64_t now_ns)
{
	while (cache->destroyed.first != CT_NIL) {
		uint32_t idx = cache->destroyed.first;

		if (!grace_over(cache, &cache->entries[idx], now_ns))
			break;
		entry_free(cache, idx);
		cache->stats.expirations++;
	}
}

/* Store an entry; existing is hash_find(CT_DIR_ORIG, orig_tuple), which callers already have. */
static void entry_store(struct ct_cache *cache, uint32_t existing,
			const struct ct_tuple *orig_tuple, const struct ct_tuple *reply_tuple)
{
	struct ct_entry *e;
	uint32_t idx;

	if (existing != CT_NIL)
		entry_free(cache, existing);
	/* the reply side may collide with a stale entry whose orig_tuple differs (port reuse) */
	idx = hash_find(cache, CT_DIR_REPLY, reply_tuple);
	if (idx != CT_NIL)
		entry_free(cache, idx);
	idx = entry_alloc(cache);
	e = &cache->entries[idx];
	e->orig_tuple = *orig_tuple;
	e->reply_tuple = *reply_tuple;
	e->state = CT_ENTRY_LIVE;
	e->referenced = 0;
	e->nat = ct_tuple_is_nat(orig_tuple, reply_tuple);
	e->gen = cache->gen;
	e->destroyed_ns = 0;
	hash_add(cache, CT_DIR_ORIG, idx);
	hash_add(cache, CT_DIR_REPLY, idx);
	list_push_first(cache, &cache->live, idx);
}

int ct_cache_insert(struct ct_cache *cache, const struct ct_tuple *orig_tuple,
		    const struct ct_tuple *reply_tuple, uint64_t now_ns)
{
	struct ct_tuple o, r;
	int err;

	if (!cache || !orig_tuple || !reply_tuple)
		return -EINVAL;
	o = *orig_tuple;
	r = *reply_tuple;
	err = ct_tuple_check(&o);
	if (!err)
		err = ct_tuple_check(&r);
	if (err)
		return err;
	if (o.family != r.family || o.proto != r.proto)
		return -EINVAL;
	expire(cache, now_ns);
	entry_store(cache, hash_find(cache, CT_DIR_ORIG, &o), &o, &r);
	return 0;
}

int ct_cache_remove(struct ct_cache *cache, const struct ct_tuple *orig_tuple, uint64_t now_ns)
{
	struct ct_tuple o;
	uint32_t idx;

	if (!cache || !orig_tuple)
		return -EINVAL;
	o = *orig_tuple;
	if (ct_tuple_check(&o))
		return CT_NOT_FOUND;
	idx = hash_find(cache, CT_DIR_ORIG, &o);
	if (idx == CT_NIL)
		return CT_NOT_FOUND;
	entry_mark_destroyed(cache, idx, now_ns);
	return CT_OK;
}

void ct_cache_apply_new(struct ct_cache *cache, const struct ct_tuple *orig_tuple,
			const struct ct_tuple *reply_tuple, enum ct_source src, uint64_t now_ns)
{
	uint32_t idx;

	expire(cache, now_ns); /* first: it may free the slot found below */
	idx = hash_find(cache, CT_DIR_ORIG, orig_tuple);
	if (idx != CT_NIL) {
		struct ct_entry *e = &cache->entries[idx];

		e->gen = cache->gen;
		/*
		 * A dump may carry a copy taken before a DESTROY event we already applied; only an
		 * event brings a destroyed entry back.
		 */
		if (ct_tuple_equal(&e->reply_tuple, reply_tuple) &&
		    (e->state == CT_ENTRY_LIVE || src == CT_FROM_DUMP))
			return;
	} else if (!ct_tuple_is_nat(orig_tuple, reply_tuple)) {
		return; /* only translated entries are worth a slot */
	}
	entry_store(cache, idx, orig_tuple, reply_tuple);
}

void ct_cache_sweep(struct ct_cache *cache, uint64_t now_ns)
{
	uint32_t idx = cache->live.first;

	while (idx != CT_NIL) {
		uint32_t next = cache->entries[idx].next;

		if (cache->entries[idx].gen != cache->gen)
			entry_mark_destroyed(cache, idx, now_ns);
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

/* Find t in either index; returns the slot and sets *dir, or CT_NIL. */
static uint32_t find_either(struct ct_cache *cache, const struct ct_tuple *t, int *dir)
{
	uint32_t idx;

	*dir = CT_DIR_ORIG;
	idx = hash_find(cache, CT_DIR_ORIG, t);
	if (idx == CT_NIL) {
		*dir = CT_DIR_REPLY;
		idx = hash_find(cache, CT_DIR_REPLY, t);
	}
	return idx;
}

static bool take_token(struct ct_cache *cache, uint64_t now_ns)
{
	double rate = cache->opts.fallback_per_sec;

	if (now_ns > cache->tokens_ns) {
		cache->tokens += (double)(now_ns - cache->tokens_ns) * rate / NSEC_PER_SEC;
		if (cache->tokens > rate)
			cache->tokens = rate;
		cache->tokens_ns = now_ns;
	}
	if (cache->tokens < 1.0)
		return false;
	cache->tokens -= 1.0;
	return true;
}

static int fallback(struct ct_cache *cache, const struct ct_tuple *t, uint64_t now_ns,
		    struct ct_result *out)
{
	struct ct_tuple orig, reply;
	uint32_t idx;
	int dir;
	int ret;

	if (!cache->nl || cache->opts.no_fallback ||
	    (cache->opts.translatable &&
	     !cache->opts.translatable(t, cache->opts.translatable_arg))) {
		cache->stats.miss++;
		return CT_NOT_FOUND;
	}
	if (!take_token(cache, now_ns)) {
		cache->stats.fallback_ratelimited++;
		return CT_RATELIMITED;
	}
	/* the kernel finds an entry by either of its tuples, so one GET covers both directions */
	ret = ct_netlink_get(cache, t, &orig, &reply);
	if (ret < 0 && ret != -ENOENT) {
		cache->stats.fallback_errors++;
		ret = CT_NOT_FOUND;
	}
	if (ret != CT_OK) {
		cache->stats.fallback_miss++;
		return CT_NOT_FOUND;
	}
	expire(cache, now_ns);
	entry_store(cache, hash_find(cache, CT_DIR_ORIG, &orig), &orig, &reply);
	idx = find_either(cache, t, &dir);
	if (idx == CT_NIL) { /* the kernel answered with some other entry */
		cache->stats.fallback_miss++;
		return CT_NOT_FOUND;
	}
	cache->stats.fallback_hit++;
	fill_result(&cache->entries[idx], dir, t, out);
	return CT_OK;
}

int ct_cache_lookup(struct ct_cache *cache, const struct ct_tuple *tuple, uint64_t now_ns,
		    struct ct_result *out)
{
	struct ct_tuple t;
	uint32_t idx;
	int dir;
	int err;

	if (!cache || !tuple || !out)
		return -EINVAL;
	t = *tuple;
	err = ct_tuple_check(&t);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->actual = t;
	idx = find_either(cache, &t, &dir);
	if (idx != CT_NIL && cache->entries[idx].state == CT_ENTRY_DESTROYED &&
	    grace_over(cache, &cache->entries[idx], now_ns)) {
		entry_free(cache, idx);
		cache->stats.expirations++;
		idx = CT_NIL;
	}
	if (idx == CT_NIL)
		return fallback(cache, &t, now_ns, out);
	cache->entries[idx].referenced = 1;
	cache->stats.hit++;
	fill_result(&cache->entries[idx], dir, &t, out);
	return CT_OK;
}

void ct_cache_stats(const struct ct_cache *cache, struct ct_stats *out)
{
	*out = cache->stats;
	out->mem_bytes = sizeof(*cache) + (uint64_t)cache->used * sizeof(struct ct_entry) +
			 2ULL * cache->nbuckets * sizeof(uint32_t);
	if (cache->nl)
		out->mem_bytes += ct_netlink_mem(cache->nl);
}

int ct_cache_fd(const struct ct_cache *cache)
{
	if (!cache || !cache->nl)
		return -ENOTCONN;
	return ct_netlink_fd(cache->nl);
}

int ct_cache_resync(struct ct_cache *cache, uint64_t now_ns)
{
	if (!cache)
		return -EINVAL;
	if (!cache->nl)
		return -ENOTCONN;
	return ct_netlink_resync(cache, now_ns);
}

int ct_cache_process(struct ct_cache *cache, uint64_t now_ns)
{
	int err = 0;

	if (!cache)
		return -EINVAL;
	if (cache->nl)
		err = ct_netlink_process(cache, now_ns);
	expire(cache, now_ns);
	return err;
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

static void table_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}

int ct_cache_create(const struct ct_cache_opts *opts, uint64_t now_ns, struct ct_cache **out)
{
	struct ct_cache *cache;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	cache = calloc(1, sizeof(*cache));
	if (!cache)
		return -ENOMEM;
	if (opts) {
		cache->opts = *opts;
	} else {
		ct_cache_opts_init(&cache->opts);
	}
	if (!cache->opts.max_entries)
		cache->opts.max_entries = CT_DEFAULT_MAX_ENTRIES;
	if (!cache->opts.grace_ns)
		cache->opts.grace_ns = CT_DEFAULT_GRACE_NS;
	if (!cache->opts.fallback_per_sec)
		cache->opts.fallback_per_sec = CT_DEFAULT_FALLBACK_PER_SEC;
	if (!cache->opts.refresh_ns)
		cache->opts.refresh_ns = CT_DEFAULT_REFRESH_NS;
	err = -EINVAL;
	if (cache->opts.max_entries >= CT_NIL / 2)
		goto cleanup;

	/*
	 * Load factor at most 1/2 at the bound: each extra chain step is a cache miss on a random
	 * entry, and buckets cost 4 bytes against an entry's 128.
	 */
	cache->nbuckets = 1;
	while (cache->nbuckets < 2 * cache->opts.max_entries)
		cache->nbuckets <<= 1;
	err = -ENOMEM;
	cache->entries = table_alloc(sizeof(*cache->entries) * cache->opts.max_entries);
	cache->buckets[0] = table_alloc(sizeof(uint32_t) * cache->nbuckets);
	cache->buckets[1] = table_alloc(sizeof(uint32_t) * cache->nbuckets);
	if (!cache->entries || !cache->buckets[0] || !cache->buckets[1])
		goto cleanup;
	memset(cache->buckets[0], 0xff, sizeof(uint32_t) * cache->nbuckets);
	memset(cache->buckets[1], 0xff, sizeof(uint32_t) * cache->nbuckets);
	cache->free_head = CT_NIL;
	cache->live.first = cache->live.last = CT_NIL;
	cache->destroyed.first = cache->destroyed.last = CT_NIL;
	/* a keyed hash: remote peers choose ports and could otherwise aim at one bucket */
	if (getrandom(&cache->seed, sizeof(cache->seed), GRND_NONBLOCK) != sizeof(cache->seed))
		cache->seed = (uintptr_t)cache ^ 0x9e3779b97f4a7c15ULL;
	cache->tokens = cache->opts.fallback_per_sec;
	cache->tokens_ns = now_ns;

	if (!cache->opts.no_netlink) {
		err = ct_netlink_open(cache, now_ns);
		if (err)
			goto cleanup;
	}
	*out = cache;
	return 0;

cleanup:
	ct_cache_destroy(cache);
	return err;
}

void ct_cache_destroy(struct ct_cache *cache)
{
	if (!cache)
		return;
	if (cache->nl)
		ct_netlink_close(cache->nl);
	table_free(cache->buckets[1], sizeof(uint32_t) * cache->nbuckets);
	table_free(cache->buckets[0], sizeof(uint32_t) * cache->nbuckets);
	table_free(cache->entries, sizeof(*cache->entries) * cache->opts.max_entries);
	free(cache);
}
