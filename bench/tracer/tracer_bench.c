// SPDX-License-Identifier: Apache-2.0
/*
 * tracer_bench: the cost of the event tracer on this machine (needs root).
 *  - getppid loop: ns per call without the tracer, with sys_enter/sys_exit attached but getppid
 *    not wanted, and with getppid traced (a syscall event per call), in the same run;
 *  - records decoded per second from the ring buffer (the traced loop's backlog, and exec
 *    records from a fork/exec loop);
 *  - the fork/exec loop's rate without and with sched_process_exec/exit.
 * Prints ratios against the baseline measured in the same run; a shared machine is noisy, so
 * each figure is the best of 3 repetitions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "event_tracer.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static double getppid_ns(long n)
{
	double best = 1e18;

	for (int rep = 0; rep < 3; rep++) {
		uint64_t t0 = now_ns();

		for (long i = 0; i < n; i++)
			syscall(SYS_getppid);
		double d = (double)(now_ns() - t0) / n;

		if (d < best)
			best = d;
	}
	return best;
}

static double exec_loop_per_s(int n)
{
	uint64_t t0 = now_ns();

	for (int i = 0; i < n; i++) {
		pid_t p = fork();

		if (p == 0) {
			execl("/bin/true", "/bin/true", "bench", (char *)NULL);
			_exit(127);
		}
		waitpid(p, NULL, 0);
	}
	return n / ((double)(now_ns() - t0) / 1e9);
}

static uint64_t received;

static void count(void *ctx, const struct event_tracer_event *ev)
{
	(void)ctx;
	(void)ev;
	received++;
}

static struct event_tracer *open_tracer(struct event_tracer_opts *o)
{
	struct event_tracer *et = NULL;
	char err[512];

	o->cb = count;
	o->self_pid = 1; /* the benchmark's own syscalls and execs are what we measure */
	if (event_tracer_open(o, &et, err, sizeof(err))) {
		fprintf(stderr, "tracer_bench: %s\n", err);
		exit(1);
	}
	return et;
}

/* Decodes the backlog; returns records/s. */
static double drain_rate(struct event_tracer *et, uint64_t *n)
{
	uint64_t t0 = now_ns();

	received = 0;
	while (event_tracer_consume(et) > 0)
		;
	*n = received;
	return received / ((double)(now_ns() - t0) / 1e9);
}

int main(void)
{
	const long N = 2000000, NT = 200000;
	struct event_tracer_opts o;
	struct event_tracer_counts c;
	uint64_t n;

	if (geteuid()) {
		fprintf(stderr, "tracer_bench needs root\n");
		return 1;
	}
	/* BPF run-time statistics for this process's lifetime only (an fd, not the sysctl) */
	int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	uint64_t cnt0 = 0, t0ns = 0, cnt1 = 0, t1ns = 0;

	if (stats_fd < 0)
		fprintf(stderr, "tracer_bench: BPF run-time statistics unavailable\n");
	double base = getppid_ns(N);

	memset(&o, 0, sizeof(o));
	o.syscalls[SYS_openat].enabled = true; /* programs attached, getppid not wanted */
	struct event_tracer *et = open_tracer(&o);
	event_tracer_prog_stats(et, "tr_sys_exit", &cnt0, &t0ns);
	double unwanted = getppid_ns(N);
	double base2 = 0;

	event_tracer_prog_stats(et, "tr_sys_exit", &cnt1, &t1ns);
	if (cnt1 > cnt0)
		printf("tr_sys_exit, getppid not wanted: %.1f ns per run in BPF (%llu runs)\n",
		       (double)(t1ns - t0ns) / (cnt1 - cnt0), (unsigned long long)(cnt1 - cnt0));

	event_tracer_close(et);
	base2 = getppid_ns(N);

	memset(&o, 0, sizeof(o));
	o.syscalls[SYS_getppid].enabled = true;
	o.ringbuf_bytes = 1u << 30; /* the whole traced loop fits: nothing lost */
	et = open_tracer(&o);
	double traced = 1e18;

	for (int rep = 0; rep < 3; rep++) {
		uint64_t t0 = now_ns();

		for (long i = 0; i < NT; i++)
			syscall(SYS_getppid);
		double d = (double)(now_ns() - t0) / NT;

		if (d < traced)
			traced = d;
		double rate = drain_rate(et, &n);

		if (rep == 2)
			printf("syscall records decoded: %llu at %.0f records/s\n",
			       (unsigned long long)n, rate);
	}
	event_tracer_prog_stats(et, "tr_sys_exit", &cnt1, &t1ns);
	if (cnt1)
		printf("tr_sys_exit, getppid traced: %.1f ns per run in BPF (%llu runs)\n",
		       (double)t1ns / cnt1, (unsigned long long)cnt1);
	event_tracer_counts(et, TR_EV_SYSCALL, SYS_getppid, &c);
	printf("syscall records: emitted %llu, lost %llu\n", (unsigned long long)c.emitted,
	       (unsigned long long)c.lost);
	event_tracer_close(et);

	double b = base < base2 ? base : base2;

	printf("getppid: %.1f ns/call without the tracer (%.1f after), %.1f ns with sys_enter/"
	       "sys_exit attached and getppid not wanted (+%.1f ns), %.1f ns traced (+%.1f ns)\n",
	       base, base2, unwanted, unwanted - b, traced, traced - b);

	double ex0 = exec_loop_per_s(1000);

	memset(&o, 0, sizeof(o));
	o.events[TR_EV_SCHED_PROCESS_EXEC].enabled = true;
	o.events[TR_EV_SCHED_PROCESS_EXIT].enabled = true;
	o.events[TR_EV_SCHED_PROCESS_FORK].enabled = true;
	et = open_tracer(&o);
	double ex1 = exec_loop_per_s(1000);
	double rate = drain_rate(et, &n);

	event_tracer_prog_stats(et, "tr_sched_process_exec", &cnt1, &t1ns);
	if (cnt1)
		printf("tr_sched_process_exec: %.1f ns per run in BPF (%llu runs)\n",
		       (double)t1ns / cnt1, (unsigned long long)cnt1);
	event_tracer_counts(et, TR_EV_SCHED_PROCESS_EXEC, 0, &c);
	printf("fork/exec loop: %.0f/s without, %.0f/s with exec+fork+exit events (%.1f%%); "
	       "%llu records decoded at %.0f records/s; exec lost %llu\n",
	       ex0, ex1, 100.0 * (ex0 - ex1) / ex0, (unsigned long long)n, rate,
	       (unsigned long long)c.lost);
	event_tracer_close(et);
	if (stats_fd >= 0)
		close(stats_fd);
	return 0;
}
