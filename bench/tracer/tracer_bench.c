// SPDX-License-Identifier: Apache-2.0
/*
 * tracer_bench: the cost of the event tracer on this machine (needs root).
 *
 * Default (`tracer_bench [--rounds N] [--cpu N] [--bpf-only] [--cgroup-root PATH]`; --bpf-only:
 * the BPF run times alone, a few seconds; --cgroup-root: the tracer limited to that cgroup v2
 * subtree, so the loop measures the scope test, passed when this process is below PATH and
 * missed otherwise):
 *  - getppid loop, ns per call, with and without the tracer, interleaved: each round measures
 *    one phase without the tracer and one with it (opened, measured, closed), in alternating
 *    order (A/B, B/A, ...). A phase is the minimum over short chunks (20k calls) of the mean ns
 *    per call, so a chunk that was preempted by another process does not count. Reported: the
 *    median and minimum of each side over the rounds, and the median of the per-round
 *    differences. Three sets: sys_exit attached with getppid not wanted, getppid traced (a
 *    syscall record per call, drained between chunks into a 32 MiB ring, which a chunk never
 *    fills), and the default event set (no syscall program).
 *  - the BPF programs' own run time per run, from BPF run-time statistics (bpf_enable_stats():
 *    on only while this process holds the fd, then the kernel's setting is back as it was).
 *  - records decoded per second from the ring (callback counting only).
 *  - the fork/exec loop's rate without and with the default event set, interleaved the same way
 *    (in a helper process that does not map the ring: see exec_helper_start()).
 *  - the floor: the same A/B with an empty program on sys_exit (tp_btf and raw tracepoint), the
 *    syscall tracepoint's own cost before any work of the tracer's.
 *  The loop runs pinned to one CPU (--cpu, default the last one).
 *
 * Sustained rate (`tracer_bench --sustained AGENT [--rates R,R,...] [--seconds S] [--ring B]
 * [--with-default-events]`): for each rate, starts the agent as in production (flows, DNS, the
 * tracer with `--events unshare`, or the default set plus unshare; conntrack off, as nothing
 * here is NAT'd; stdout to /dev/null; the
 * default events ring unless --ring), makes unshare(0) syscalls at that rate for S seconds,
 * waits a second, stops the agent (SIGTERM) and reads its exit log's counters: generated,
 * emitted by the kernel, lost in the kernel (ring full), received by the agent, dropped by the
 * pipeline, decode errors; then the highest rate with nothing lost. Steps stop at the first
 * loss.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_sys_floor.skel.h"
#include "event_tracer.h"

#define CHUNK 20000L
#define CHUNKS 8
#define MAX_ROUNDS 64
#define EXEC_RING (64u << 20)
#define TRACED_RING (32u << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double minimum(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

static uint64_t received;

static void count(void *ctx, const struct event_tracer_event *ev)
{
	(void)ctx;
	(void)ev;
	received++;
}

static uint64_t drain_ns; /* time spent draining, for the decode rate */

static void drain(struct event_tracer *et)
{
	uint64_t t0 = now_ns();

	while (event_tracer_consume(et) > 0)
		;
	drain_ns += now_ns() - t0;
}

/* Min over CHUNKS chunks of the mean ns per getppid call; et (if any) is drained between. */
static double getppid_phase(struct event_tracer *et)
{
	double best = 1e18;

	for (int c = 0; c < CHUNKS; c++) {
		uint64_t t0 = now_ns();

		for (long i = 0; i < CHUNK; i++)
			syscall(SYS_getppid);
		double d = (double)(now_ns() - t0) / CHUNK;

		if (d < best)
			best = d;
		if (et)
			drain(et);
	}
	return best;
}

static struct event_tracer *open_tracer(struct event_tracer_opts *o)
{
	struct event_tracer *et = NULL;
	char err[512];

	o->cb = count;
	o->self_pid = 1; /* the benchmark's own syscalls and execs are what we measure */
	if (event_tracer_create(o, &et, err, sizeof(err))) {
		fprintf(stderr, "tracer_bench: %s\n", err);
		exit(1);
	}
	return et;
}

/* Silences the library's "own tgid" line, printed at every open. */
static void quiet_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level < 3) /* warnings still show; 3 is the informational level */
		fprintf(stderr, "tracer: %s\n", msg);
}

enum set { SET_UNWANTED, SET_TRACED, SET_DEFAULT };

static const char *set_name[] = {
	[SET_UNWANTED] = "sys_exit attached, getppid not wanted",
	[SET_TRACED] = "getppid traced (a syscall record per call)",
	[SET_DEFAULT] = "default event set (no syscall program)",
};

/* --cgroup-root: the tracer's scope (event_tracer_opts.cgroup_root); NULL: none */
static const char *scope_root;

static void set_opts(struct event_tracer_opts *o, enum set s)
{
	memset(o, 0, sizeof(*o));
	o->log = quiet_log;
	o->cgroup_root = scope_root;
	switch (s) {
	case SET_UNWANTED:
		/* a wanted syscall nothing on the machine makes: every run is an unwanted one */
		o->syscalls[SYS_finit_module].enabled = true;
		break;
	case SET_TRACED:
		o->syscalls[SYS_getppid].enabled = true;
		/* a chunk's records fit even at the former fixed 912 bytes: a lost record takes a
		 * cheaper path and would flatter the figure */
		o->ringbuf_bytes = TRACED_RING;
		break;
	case SET_DEFAULT:
		o->events[TR_EV_SCHED_PROCESS_EXEC].enabled = true;
		o->events[TR_EV_SCHED_PROCESS_EXIT].enabled = true;
		o->events[TR_EV_TCP_CONNECT].enabled = true;
		o->events[TR_EV_TCP_ACCEPT].enabled = true;
		o->events[TR_EV_TCP_CONNECT_ERROR].enabled = true;
		o->events[TR_EV_OOM_KILL].enabled = true;
		o->events[TR_EV_CGROUP_MKDIR].enabled = true;
		o->events[TR_EV_CGROUP_RMDIR].enabled = true;
		o->events[TR_EV_CGROUP_ATTACH_TASK].enabled = true;
		break;
	}
}

static void print_ab(const char *what, const char *unit, const double *a, const double *b, int n)
{
	double d[MAX_ROUNDS];

	for (int i = 0; i < n; i++)
		d[i] = b[i] - a[i];
	printf("%s: without %.1f (min %.1f), with %.1f (min %.1f) %s; per-round difference "
	       "median %+.1f, min-to-min %+.1f, rounds %d\n",
	       what, median(a, n), minimum(a, n), median(b, n), minimum(b, n), unit, median(d, n),
	       minimum(b, n) - minimum(a, n), n);
}

static void getppid_ab(enum set s, int rounds)
{
	double a[MAX_ROUNDS], b[MAX_ROUNDS];
	struct event_tracer_opts o;
	struct event_tracer_counts c = { 0 };
	uint64_t lost = 0;

	received = 0;
	drain_ns = 0;
	for (int r = 0; r < rounds; r++) {
		if (r % 2 == 0)
			a[r] = getppid_phase(NULL);
		set_opts(&o, s);
		struct event_tracer *et = open_tracer(&o);

		b[r] = getppid_phase(et);
		drain(et);
		event_tracer_counts(et, TR_EV_SYSCALL, SYS_getppid, &c);
		lost += c.lost;
		event_tracer_destroy(et);
		if (r % 2 == 1)
			a[r] = getppid_phase(NULL);
	}
	print_ab(set_name[s], "ns/call", a, b, rounds);
	if (s == SET_TRACED)
		printf("  syscall records: %llu decoded at %.1fM records/s (drained between "
		       "chunks), "
		       "%llu lost\n",
		       (unsigned long long)received, received / (drain_ns / 1e3),
		       (unsigned long long)lost);
}

/* The same A/B with an empty program on sys_exit (the tracepoint's own cost). */
static void getppid_floor_ab(struct bench_sys_floor_bpf *skel, struct bpf_program *prog,
			     const char *what, int rounds)
{
	double a[MAX_ROUNDS], b[MAX_ROUNDS];

	for (int r = 0; r < rounds; r++) {
		if (r % 2 == 0)
			a[r] = getppid_phase(NULL);
		struct bpf_link *link = bpf_program__attach(prog);

		if (!link) {
			fprintf(stderr, "tracer_bench: attaching %s: %s\n", what, strerror(errno));
			return;
		}
		b[r] = getppid_phase(NULL);
		bpf_link__destroy(link);
		if (r % 2 == 1)
			a[r] = getppid_phase(NULL);
	}
	(void)skel;
	print_ab(what, "ns/call", a, b, rounds);
}

static int parts_count(void *ctx, void *data, size_t size)
{
	(void)ctx, (void)data, (void)size;
	return 0;
}

/*
 * BPF time per run of one of sys_floor's programs while the getppid loop runs, the parts ring
 * drained between chunks; returns it. With other_ns, the loop's own runs are also given alone
 * (the other processes' runs taken at other_ns each).
 */
static double prog_time(struct bench_sys_floor_bpf *skel, struct bpf_program *prog,
			const char *what, double other_ns)
{
	struct ring_buffer *rb =
		ring_buffer__new(bpf_map__fd(skel->maps.parts_ring), parts_count, NULL, NULL);
	struct bpf_link *link = bpf_program__attach(prog);
	int fd = bpf_program__fd(prog);
	struct bpf_prog_info info;
	uint64_t c0, t0, runs, ns, ours = CHUNK * CHUNKS;
	__u32 len = sizeof(info);
	double per_run = 0;

	if (!rb || !link) {
		fprintf(stderr, "tracer_bench: %s: cannot attach\n", what);
		ring_buffer__free(rb);
		bpf_link__destroy(link);
		return 0;
	}
	/* zeroed for each call: a call fills in array lengths without their buffers */
	memset(&info, 0, sizeof(info));
	bpf_obj_get_info_by_fd(fd, &info, &len);
	c0 = info.run_cnt;
	t0 = info.run_time_ns;
	for (int c = 0; c < CHUNKS; c++) {
		for (long i = 0; i < CHUNK; i++)
			syscall(SYS_getppid);
		ring_buffer__consume(rb);
	}
	memset(&info, 0, sizeof(info));
	len = sizeof(info);
	bpf_obj_get_info_by_fd(fd, &info, &len);
	runs = info.run_cnt - c0;
	ns = info.run_time_ns - t0;
	if (runs) {
		per_run = (double)ns / runs;
		printf("  %s: %.1f ns per run in BPF (%llu runs)", what, per_run,
		       (unsigned long long)runs);
		if (other_ns > 0 && runs > ours)
			printf("; this loop's alone %.1f ns",
			       ((double)ns - (runs - ours) * other_ns) / ours);
		printf("\n");
	}
	bpf_link__destroy(link);
	ring_buffer__free(rb);
	return per_run;
}

/*
 * BPF time per run of prog while the loop runs with set s; returns it (0: not counted). The
 * program also runs for every other process's syscalls: with other_ns (their per-run cost, the
 * unwanted figure), the loop's own runs are also given alone.
 */
static double bpf_time(enum set s, const char *prog, double other_ns)
{
	struct event_tracer_opts o;
	uint64_t c0 = 0, t0 = 0, c1 = 0, t1 = 0;
	const uint64_t ours = CHUNK * CHUNKS;
	double per_run = 0;

	set_opts(&o, s);
	struct event_tracer *et = open_tracer(&o);

	event_tracer_prog_stats(et, prog, &c0, &t0);
	getppid_phase(et);
	event_tracer_prog_stats(et, prog, &c1, &t1);
	if (c1 > c0) {
		uint64_t runs = c1 - c0;

		per_run = (double)(t1 - t0) / runs;
		printf("  %s, %s: %.1f ns per run in BPF (%llu runs, %llu of them this loop's)",
		       prog, set_name[s], per_run, (unsigned long long)runs,
		       (unsigned long long)ours);
		if (other_ns > 0 && runs > ours)
			printf("; this loop's alone %.1f ns (the other runs taken at %.1f ns)",
			       ((double)(t1 - t0) - (runs - ours) * other_ns) / ours, other_ns);
		printf("\n");
	} else {
		printf("  %s, %s: no runs counted (BPF run-time statistics off?)\n", prog,
		       set_name[s]);
	}
	event_tracer_destroy(et);
	return per_run;
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

/*
 * The fork/exec loop runs in a helper process forked before any tracer is opened: a process
 * that maps the tracer's ring buffer copies its page table entries at every fork (the mapping
 * is VM_MIXEDMAP), which would slow the loop by the ring's size, not by the tracer's work. The
 * agent never forks, so that cost is not the tracer's.
 */
static int exec_req = -1, exec_resp = -1;

static void exec_helper_start(void)
{
	int req[2], resp[2];

	if (pipe(req) || pipe(resp)) {
		perror("tracer_bench: pipe");
		exit(1);
	}
	pid_t p = fork();

	if (p < 0) {
		perror("tracer_bench: fork");
		exit(1);
	}
	if (p == 0) {
		int n;

		close(req[1]);
		close(resp[0]);
		while (read(req[0], &n, sizeof(n)) == sizeof(n)) {
			double rate = exec_loop_per_s(n);

			if (write(resp[1], &rate, sizeof(rate)) != sizeof(rate))
				break;
		}
		_exit(0);
	}
	close(req[0]);
	close(resp[1]);
	exec_req = req[1];
	exec_resp = resp[0];
}

/* n fork/execs in the helper; returns their rate per second. */
static double exec_rate(int n)
{
	double rate = 0;

	if (write(exec_req, &n, sizeof(n)) != sizeof(n) ||
	    read(exec_resp, &rate, sizeof(rate)) != sizeof(rate)) {
		fprintf(stderr, "tracer_bench: the exec helper failed\n");
		exit(1);
	}
	return rate;
}

static void exec_ab(int rounds)
{
	double a[MAX_ROUNDS], b[MAX_ROUNDS];
	struct event_tracer_opts o;
	struct event_tracer_counts c;
	uint64_t lost = 0;

	received = 0;
	drain_ns = 0;
	for (int r = 0; r < rounds; r++) {
		if (r % 2 == 0)
			a[r] = exec_rate(200);
		set_opts(&o, SET_DEFAULT);
		o.ringbuf_bytes =
			EXEC_RING; /* drained after the loop: room for the machine's execs */
		struct event_tracer *et = open_tracer(&o);

		b[r] = exec_rate(200);
		drain(et);
		event_tracer_counts(et, TR_EV_SCHED_PROCESS_EXEC, 0, &c);
		lost += c.lost;
		event_tracer_destroy(et);
		if (r % 2 == 1)
			a[r] = exec_rate(200);
	}
	print_ab("fork/exec of /bin/true, default event set", "/s", a, b, rounds);
	printf("  %llu records decoded at %.1fM records/s; exec lost %llu\n",
	       (unsigned long long)received, received / (drain_ns / 1e3), (unsigned long long)lost);
}

static void bpf_exec_time(void)
{
	struct event_tracer_opts o;
	uint64_t cnt = 0, tns = 0;

	set_opts(&o, SET_DEFAULT);
	o.ringbuf_bytes = EXEC_RING;
	struct event_tracer *et = open_tracer(&o);

	exec_rate(200);
	drain(et);
	if (!event_tracer_prog_stats(et, "tr_sched_process_exec", &cnt, &tns) && cnt)
		printf("  tr_sched_process_exec: %.1f ns per run in BPF (%llu runs)\n",
		       (double)tns / cnt, (unsigned long long)cnt);
	event_tracer_destroy(et);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "tracer_bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}

/* ---- sustained rate through the agent ---------------------------------------------------- */

#define DEFAULT_EVENTS                                                                             \
	"sched_process_exec,sched_process_exit,tcp_connect,tcp_accept,tcp_connect_error,oom_kill," \
	"cgroup_mkdir,cgroup_rmdir,cgroup_attach_task"

struct agent_counts {
	uint64_t records, dropped, emitted, lost, decode_errors, unshare_emitted, unshare_lost;
	bool found;
};

/* Sums the exit log's "tracer counters:" line (key=value pairs) into c. */
static void parse_counters(const char *line, struct agent_counts *c)
{
	const char *p = strstr(line, "tracer counters:");
	char key[128];
	unsigned long long v;
	int n;

	if (!p)
		return;
	c->found = true;
	p += strlen("tracer counters:");
	while (sscanf(p, " %127[^=]=%llu%n", key, &v, &n) == 2) {
		p += n;
		if (!strcmp(key, "tracer_records"))
			c->records = v;
		else if (!strcmp(key, "tracer_records_dropped"))
			c->dropped = v;
		else if (!strncmp(key, "tracer_events_lost_", 19))
			c->lost += v;
		else if (!strncmp(key, "tracer_events_suppressed_", 25) ||
			 !strncmp(key, "tracer_events_filtered_", 23))
			;
		else if (!strncmp(key, "tracer_events_", 14))
			c->emitted += v;
		else if (!strncmp(key, "tracer_decode_errors_", 21))
			c->decode_errors += v;
		if (!strcmp(key, "tracer_events_unshare"))
			c->unshare_emitted = v;
		else if (!strcmp(key, "tracer_events_lost_unshare"))
			c->unshare_lost = v;
	}
}

/*
 * One step: the agent started, `rate` unshare(0) per second for `seconds`, one second for the
 * agent to catch up, SIGTERM, its counters read. Returns false when the agent failed.
 */
static bool sustained_step(const char *agent, const char *events, const char *ring, long rate,
			   double seconds, struct agent_counts *c, uint64_t *generated,
			   double *achieved)
{
	int errp[2];
	pid_t pid;
	FILE *err;
	char line[16384];
	bool ready = false;

	memset(c, 0, sizeof(*c));
	if (pipe(errp))
		return false;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		char *argv[16];
		int n = 0;

		dup2(errp[1], 2);
		close(errp[0]);
		close(errp[1]);
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		argv[n++] = (char *)agent;
		argv[n++] = "--events";
		argv[n++] = (char *)events;
		argv[n++] = "--interval";
		argv[n++] = "1";
		argv[n++] = "--no-conntrack";
		if (ring) {
			argv[n++] = "--events-ringbuf-bytes";
			argv[n++] = (char *)ring;
		}
		argv[n] = NULL;
		execv(agent, argv);
		_exit(127);
	}
	close(errp[1]);
	err = fdopen(errp[0], "r");
	while (fgets(line, sizeof(line), err)) {
		if (strstr(line, "attached to cgroup")) {
			ready = true;
			break;
		}
	}
	if (!ready) {
		fprintf(stderr, "tracer_bench: the agent did not start\n");
		waitpid(pid, NULL, 0);
		fclose(err);
		return false;
	}
	usleep(500000);

	uint64_t t0 = now_ns(), sent = 0, end = t0 + (uint64_t)(seconds * 1e9), t;

	while ((t = now_ns()) < end) {
		uint64_t due = (uint64_t)((double)(t - t0) * rate / 1e9);

		while (sent < due) {
			syscall(SYS_unshare, 0);
			sent++;
		}
	}
	*generated = sent;
	*achieved = sent / ((double)(now_ns() - t0) / 1e9);
	sleep(1);
	kill(pid, SIGTERM);
	while (fgets(line, sizeof(line), err))
		parse_counters(line, c);
	fclose(err);
	waitpid(pid, NULL, 0);
	return c->found;
}

static int sustained(const char *agent, const char *rates, double seconds, const char *ring,
		     bool with_default)
{
	const char *events = with_default ? DEFAULT_EVENTS ",unshare" : "unshare";
	long best = -1;
	char *list = strdup(rates), *save = NULL;

	printf("sustained rate through %s (--events %s; stdout to /dev/null; events ring %s "
	       "bytes), %.0f s per step\n",
	       agent, events, ring ? ring : "default", seconds);
	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long rate = atol(tok);
		struct agent_counts c;
		uint64_t gen = 0;
		double achieved = 0;

		if (rate <= 0)
			continue;
		if (!sustained_step(agent, events, ring, rate, seconds, &c, &gen, &achieved)) {
			free(list);
			return 1;
		}
		/* nothing lost in the kernel, the pipeline or the decoder, and every generated
		 * syscall made a record (others' unshare calls can only add to emitted) */
		bool zero = c.lost == 0 && c.dropped == 0 && c.decode_errors == 0 &&
			    c.unshare_emitted >= gen && c.records >= gen;

		printf("rate %ld/s (achieved %.0f/s): unshare generated %llu, emitted %llu, lost "
		       "%llu; all events emitted %llu, lost %llu, received %llu, pipeline dropped "
		       "%llu, decode errors %llu (received %s emitted): %s\n",
		       rate, achieved, (unsigned long long)gen,
		       (unsigned long long)c.unshare_emitted, (unsigned long long)c.unshare_lost,
		       (unsigned long long)c.emitted, (unsigned long long)c.lost,
		       (unsigned long long)c.records, (unsigned long long)c.dropped,
		       (unsigned long long)c.decode_errors,
		       c.records == c.emitted ? "==" : "!=", zero ? "no loss" : "LOSS");
		fflush(stdout);
		if (zero && achieved >= 0.95 * rate)
			best = rate;
		if (!zero)
			break;
	}
	free(list);
	if (best > 0)
		printf("highest rate with zero loss: %ld events/s\n", best);
	else
		printf("no rate without loss\n");
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = 11, cpu = -1;
	const char *agent = NULL, *rates = "50000,100000,200000,400000,800000", *ring = NULL;
	double seconds = 3;
	bool with_default = false, bpf_only = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--cpu") && i + 1 < argc)
			cpu = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--sustained") && i + 1 < argc)
			agent = argv[++i];
		else if (!strcmp(argv[i], "--rates") && i + 1 < argc)
			rates = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ring") && i + 1 < argc)
			ring = argv[++i];
		else if (!strcmp(argv[i], "--with-default-events"))
			with_default = true;
		else if (!strcmp(argv[i], "--bpf-only"))
			bpf_only = true;
		else if (!strcmp(argv[i], "--cgroup-root") && i + 1 < argc)
			scope_root = argv[++i];
		else {
			fprintf(stderr, "usage: tracer_bench [--rounds N] [--cpu N] [--bpf-only] "
					"[--cgroup-root PATH]\n"
					"       tracer_bench --sustained AGENT [--rates R,R,...] "
					"[--seconds S] [--ring BYTES]\n"
					"         [--with-default-events]\n");
			return 2;
		}
	}
	if (geteuid()) {
		fprintf(stderr, "tracer_bench needs root\n");
		return 1;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "tracer_bench: --rounds 1..%d\n", MAX_ROUNDS);
		return 2;
	}
	if (agent)
		return sustained(agent, rates, seconds, ring, with_default);

	if (cpu < 0)
		cpu = sysconf(_SC_NPROCESSORS_ONLN) - 1;
	pin(cpu);
	exec_helper_start();
	printf("getppid loop pinned to CPU %d; each phase the min of %d chunks of %ld calls; "
	       "rounds alternate the order without/with\n",
	       cpu, CHUNKS, CHUNK);
	struct bench_sys_floor_bpf *floor = bench_sys_floor_bpf__open_and_load();

	if (floor && !bpf_only) {
		getppid_floor_ab(floor, floor->progs.floor_tp_btf,
				 "floor: empty tp_btf/sys_exit program", rounds);
		getppid_floor_ab(floor, floor->progs.floor_raw_tp,
				 "floor: empty raw_tracepoint/sys_exit program", rounds);
	} else if (!floor) {
		fprintf(stderr, "tracer_bench: the empty sys_exit programs did not load\n");
	}
	if (!bpf_only) {
		getppid_ab(SET_UNWANTED, rounds);
		getppid_ab(SET_TRACED, rounds);
		getppid_ab(SET_DEFAULT, rounds);
		exec_ab(rounds < 5 ? rounds : 5);
	}

	/* run-time statistics only now: they add their own clock reads to every BPF run */
	int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (stats_fd < 0)
		fprintf(stderr, "tracer_bench: BPF run-time statistics unavailable: %s\n",
			strerror(-stats_fd));
	printf("BPF run time (run-time statistics on; they add their own clock reads):\n");
	double unwanted_ns = bpf_time(SET_UNWANTED, "tr_sys_exit", 0);

	bpf_time(SET_TRACED, "tr_sys_exit", unwanted_ns);
	bpf_exec_time();
	if (floor) {
		double floor_ns =
			prog_time(floor, floor->progs.floor_tp_btf, "floor_tp_btf (empty)", 0);

		prog_time(floor, floor->progs.parts_ring_only,
			  "parts: reserve + submit of a 136-byte record", floor_ns);
		prog_time(floor, floor->progs.parts_ring_clock, "parts: + the clock read",
			  floor_ns);
		prog_time(floor, floor->progs.parts_ring_clock_ctx,
			  "parts: + the current task, context and registers", floor_ns);
		bench_sys_floor_bpf__destroy(floor);
	}
	if (stats_fd >= 0)
		close(stats_fd);
	return 0;
}
