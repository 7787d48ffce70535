/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Hash map helpers for BPF programs: insert-unless-present and lookup-or-init, where two CPUs may
 * create the same key at once (bcc's maps.bpf.h has the same idiom).
 */
#ifndef FLOWSCOPE_MAPS_BPF_H
#define FLOWSCOPE_MAPS_BPF_H

#include <bpf/bpf_helpers.h>
#include <asm-generic/errno-base.h>

/*
 * Inserts *init under key unless the key is present (BPF_NOEXIST). Returns 0 when init was
 * inserted (nothing left to do: init is the entry); -EEXIST when another program created the key
 * first, with *existing pointing at that entry; another negative errno (the map is full: -E2BIG,
 * -ENOMEM; or the entry vanished again: -ENOENT) with *existing NULL.
 */
static __always_inline int map_try_insert(void *map, const void *key, const void *init,
					  void **existing)
{
	int ret = bpf_map_update_elem(map, key, init, BPF_NOEXIST);

	*existing = NULL;
	if (ret != -EEXIST)
		return ret;
	*existing = bpf_map_lookup_elem(map, key);
	return *existing ? -EEXIST : -ENOENT;
}

/*
 * Returns the entry under key, inserting *init first when there is none: NULL only when the key
 * is absent and cannot be inserted (map full).
 */
static __always_inline void *map_lookup_or_try_init(void *map, const void *key, const void *init)
{
	void *val = bpf_map_lookup_elem(map, key);
	int ret;

	if (val)
		return val;
	ret = map_try_insert(map, key, init, &val);
	if (ret == 0)
		return bpf_map_lookup_elem(map, key);
	return val;
}

#endif /* FLOWSCOPE_MAPS_BPF_H */
