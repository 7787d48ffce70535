// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor for tracer_bench: programs on raw_syscalls:sys_exit that do nothing, attached the
 * way tr_sys_exit is (tp_btf) and as a plain raw tracepoint. Their getppid slowdown is what the
 * syscall tracepoint itself costs, before any work of the tracer's.
 *
 * The parts_* programs add, for getppid only, the pieces a traced syscall's record costs, one
 * at a time: the ring buffer reservation and commit of a 136-byte record, then the clock read,
 * then the current task and the context loads. Their BPF run time per run says what each piece
 * costs on this kernel.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tracer.h"

#define NR_getppid 110

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20);
} parts_ring SEC(".maps");

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

SEC("tp_btf/sys_exit")
int BPF_PROG(parts_ring_only, struct pt_regs *regs, long ret)
{
	struct tr_syscall *r;

	if (regs->orig_ax != NR_getppid)
		return 0;
	r = bpf_ringbuf_reserve(&parts_ring, TR_SYSCALL_FIXED, 0);
	if (!r)
		return 0;
	r->hdr.size = TR_SYSCALL_FIXED;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(parts_ring_clock, struct pt_regs *regs, long ret)
{
	struct tr_syscall *r;

	if (regs->orig_ax != NR_getppid)
		return 0;
	r = bpf_ringbuf_reserve(&parts_ring, TR_SYSCALL_FIXED, 0);
	if (!r)
		return 0;
	r->hdr.size = TR_SYSCALL_FIXED;
	r->hdr.ts_ns = bpf_ktime_get_boot_ns();
	bpf_ringbuf_submit(r, 0);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(parts_ring_clock_ctx, struct pt_regs *regs, long ret)
{
	struct task_struct *t;
	struct tr_syscall *r;

	if (regs->orig_ax != NR_getppid)
		return 0;
	r = bpf_ringbuf_reserve(&parts_ring, TR_SYSCALL_FIXED, 0);
	if (!r)
		return 0;
	t = bpf_get_current_task_btf();
	r->hdr.size = TR_SYSCALL_FIXED;
	r->hdr.ts_ns = bpf_ktime_get_boot_ns();
	r->hdr.cgroup_id = t->cgroups->dfl_cgrp->kn->id;
	r->hdr.pid = t->tgid;
	r->hdr.tid = t->pid;
	r->hdr.ppid = t->real_parent->tgid;
	r->hdr.uid = t->cred->uid.val;
	r->hdr.gid = t->cred->gid.val;
	__builtin_memcpy(r->hdr.comm, t->comm, TR_COMM_LEN);
	r->args[0] = regs->di;
	r->args[1] = regs->si;
	r->args[2] = regs->dx;
	r->args[3] = regs->r10;
	r->args[4] = regs->r8;
	r->args[5] = regs->r9;
	r->ret = ret;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
