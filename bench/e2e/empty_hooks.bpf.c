// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor of every hook flowscope's flow path attaches (bpf/flow.bpf.c): cgroup_skb ingress and
 * egress, cgroup/sock_create and cgroup/sock_release, tp_btf/inet_sock_set_state and
 * tp_btf/tcp_destroy_sock, each a program that does nothing. e2e_hooks attaches them; the
 * end-to-end benchmark's "empty hooks" configuration is what the hooks cost a load before any
 * program does work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("cgroup_skb/ingress")
int empty_ingress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/egress")
int empty_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup/sock_create")
int empty_sock_create(struct bpf_sock *sk)
{
	return 1;
}

SEC("cgroup/sock_release")
int empty_sock_release(struct bpf_sock *sk)
{
	return 1;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(empty_sock_state, struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(empty_sock_destroy, struct sock *sk)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
