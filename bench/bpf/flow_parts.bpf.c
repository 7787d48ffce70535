// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The pieces flow_egress is made of, one program each, so bpf_bench can say what costs what:
 * each program does one piece the way bpf/flow.bpf.c does it and returns 1.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "flow.h"

struct flow_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
};

struct flow_map part_flows SEC(".maps");

/* An IPv4-only key: what a separate v4 map would hash instead of struct flow_key. */
struct flow_key4 {
	__u64 cgroup_id;
	__u32 laddr, raddr;
	__u16 lport, rport;
	__u8 ip_version, proto, pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct flow_key4);
	__type(value, struct flow_value);
} part_flows4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct flow_map);
} part_outer SEC(".maps") = {
	.values = { &part_flows },
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} part_stats SEC(".maps");

/* bpf_skb_load_bytes() of the IPv4 header and the first 14 TCP bytes */
SEC("cgroup_skb/egress")
int part_load_bytes(struct __sk_buff *skb)
{
	struct iphdr ip;
	__u8 th[14];

	if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
		return 1;
	bpf_skb_load_bytes(skb, ip.ihl * 4, th, sizeof(th));
	return 1;
}

/* the same bytes through direct packet access */
SEC("cgroup_skb/egress")
int part_direct_read(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct iphdr *ip = data;
	volatile __u32 sink;
	__u8 *th;

	if ((void *)(ip + 1) > end)
		return 1;
	/* one pointer, checked and read: the verifier tracks its range */
	th = data + ip->ihl * 4;
	if ((void *)(th + 14) > end)
		return 1;
	sink = ip->saddr ^ ip->daddr ^ *(__u32 *)th ^ th[13];
	(void)sink;
	return 1;
}

SEC("cgroup_skb/egress")
int part_cgroup_id(struct __sk_buff *skb)
{
	volatile __u64 id = bpf_skb_cgroup_id(skb);

	(void)id;
	return 1;
}

SEC("cgroup_skb/egress")
int part_boot_ns(struct __sk_buff *skb)
{
	volatile __u64 t = bpf_ktime_get_boot_ns();

	(void)t;
	return 1;
}

SEC("cgroup_skb/egress")
int part_coarse_ns(struct __sk_buff *skb)
{
	volatile __u64 t = bpf_ktime_get_coarse_ns();

	(void)t;
	return 1;
}

/* one per-CPU stats increment, as stat_add() */
SEC("cgroup_skb/egress")
int part_stat_add(struct __sk_buff *skb)
{
	__u32 idx = 0;
	__u64 *v = bpf_map_lookup_elem(&part_stats, &idx);

	if (v)
		*v += 1;
	return 1;
}

/* outer array lookup + hash lookup of an existing 48-byte key, then the updates flow does */
static __always_inline struct flow_value *lookup(void)
{
	struct flow_key key = {};
	__u32 zero = 0;
	void *map;

	key.cgroup_id = 1;
	key.ip_version = 4;
	key.proto = 6;
	key.lport = 40000;
	key.rport = 443;
	map = bpf_map_lookup_elem(&part_outer, &zero);
	if (!map)
		return NULL;
	return bpf_map_lookup_elem(map, &key);
}

SEC("cgroup_skb/egress")
int part_lookup(struct __sk_buff *skb)
{
	volatile void *v = lookup();

	(void)v;
	return 1;
}

SEC("cgroup_skb/egress")
int part_lookup_key24(struct __sk_buff *skb)
{
	struct flow_key4 key = {};
	struct flow_value *v;

	key.cgroup_id = 1;
	key.ip_version = 4;
	key.proto = 6;
	key.lport = 40000;
	key.rport = 443;
	v = bpf_map_lookup_elem(&part_flows4, &key);
	if (!v)
		return 1;
	__sync_fetch_and_add(&v->tx_bytes, skb->len);
	__sync_fetch_and_add(&v->tx_packets, 1);
	return 1;
}

SEC("cgroup_skb/egress")
int part_lookup_atomic(struct __sk_buff *skb)
{
	struct flow_value *v = lookup();

	if (!v)
		return 1;
	__sync_fetch_and_add(&v->tx_bytes, skb->len);
	__sync_fetch_and_add(&v->tx_packets, 1);
	return 1;
}

SEC("cgroup_skb/egress")
int part_lookup_plain(struct __sk_buff *skb)
{
	struct flow_value *v = lookup();

	if (!v)
		return 1;
	v->tx_bytes += skb->len;
	v->tx_packets += 1;
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
