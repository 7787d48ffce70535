// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The baseline for bpf_bench: a cgroup_skb program that does nothing but let the packet pass. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("cgroup_skb/egress")
int empty_egress(struct __sk_buff *skb)
{
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
