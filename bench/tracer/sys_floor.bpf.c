// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor for tracer_bench: programs on raw_syscalls:sys_exit that do nothing, attached the
 * way tr_sys_exit is (tp_btf) and as a plain raw tracepoint. Their getppid slowdown is what the
 * syscall tracepoint itself costs, before any work of the tracer's.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tp_btf/sys_exit")
int floor_tp_btf(void *ctx)
{
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int floor_raw_tp(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
