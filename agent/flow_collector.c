// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "flow.skel.h"
#include "flow_collector.h"
#include "flow_table.h"
#include "log.h"
#include "loop.h"
#include "netns_iter.h"
#include "pipeline.h"

/* Flows drained per batch syscall. */
#define DRAIN_CHUNK 4096
/* a drained map of at most this many entries is emptied in place (empty_in_place()) */
#define EMPTY_IN_PLACE_MAX 1024
/*
 * How often the loop reads the flow_done ring (ms): the programs wake the agent only when it is
 * more than half full, so that a connection storm costs no wakeup per record. At 50 ms the
 * default 2 MiB ring takes ~140k records a second before it wakes the agent (a record is
 * 144 bytes): 70k connections a second of two local flows each.
 */
#define FLOW_DONE_POLL_MS 50
/* flow_done records copied out of the ring before they go into the pieces table at once */
#define DONE_BATCH 64
/*
 * flow_meta entries an export leaves for the loop to write after it (feed_meta()): a burst of
 * new flows (100k in one interval) would otherwise spend ~1.5 us per entry inside the export.
 * Beyond this many the drain writes them itself; 72 bytes each, returned once written.
 */
#define META_PENDING_MAX 65536
/*
 * The start-up walk of open sockets (owner_walk()) stops after this long, counted, so that a node
 * with millions of open files does not hold the agent's start (docs/benchmarks.md has the
 * walk's rate). The kernel returns to user space at least every 4,096 sockets (the read
 * buffer) or 1M files (MAX_ITER_OBJECTS, -EAGAIN), where the bound is checked.
 */
#define OWNER_WALK_BOUND_NS (2 * 1000000000ull)

/*
 * Why the start-up walk of open sockets did not cover them all
 * (flowscope_socket_owner_walk_incomplete_total).
 */
enum owner_walk_incomplete {
	WALK_UNAVAILABLE, /* the kernel refused the iterator program (iter/task_file) */
	WALK_ERROR, /* attaching or reading the iterator failed */
	WALK_TIME_BOUND, /* stopped at OWNER_WALK_BOUND_NS */
	WALK_NETNS, /* network namespaces the second pass could not enter (per namespace) */
	WALK_PIDNS, /* the agent is not in the initial PID namespace: it sees its own processes */
	WALK_INCOMPLETE_MAX,
};

/* Where an export's time goes (flowscope_flow_export_phase_microseconds_total). */
enum export_phase {
	PHASE_BEGIN, /* pipeline_begin_interval(): the stages catch up (conntrack, DNS, paths) */
	PHASE_SWAP, /* flow_parity switched, the outer map updated (waits for an RCU grace period) */
	PHASE_FOLD, /* the flow_done ring read to its end, the flow cache's slots into the pieces */
	PHASE_READ, /* bpf_map_lookup_batch() */
	PHASE_MERGE, /* drained entries merged with their pieces; the pieces left gathered */
	PHASE_META, /* feed_meta(): flow_meta looked up, new entries queued or written */
	PHASE_SUBMIT, /* records made and submitted: the stages until one holds them */
	PHASE_RENEW, /* the drained map replaced by an empty one */
	PHASE_END, /* pipeline_end_interval(): held flows enriched and through the sink */
	PHASE_MAX,
};

static const char *const phase_names[PHASE_MAX] = {
	"begin", "swap", "fold", "read", "merge", "meta", "submit", "renew", "end",
};

struct flow_collector {
	struct flow_bpf *skel;
	int cgroup_fd;
	struct bpf_link *links[4];
	struct bpf_link *state_link; /* flow_sock_state: accepted sockets */
	struct bpf_link *destroy_link; /* flow_sock_destroy: a TCP socket's owner record goes */
	int active; /* flow_parity: 0 flows_a, 1 flows_b, 2 flows_c */
	bool stale[FLOW_MAPS]; /* holds flows already drained (or lost): emptied before use */
	bool installed[FLOW_MAPS]; /* flows[i] in the outer map is the skeleton's (empty) map i */
	uint64_t lost_drain_error; /* flows left unread by a failed batch lookup */
	uint64_t cache_orphans; /* packets of cache slots whose flow was not in the drained map */
	uint64_t cache_packets; /* FLOW_STAT_PACKETS' share of the flow_cache entries folded */
	/* a fold of parity i failed: its entries still hold their slots (cache_dirty), unread by
	 * the fold (cache_unread) or already added to the drained map; emptied before reuse */
	bool cache_dirty[FLOW_MAPS], cache_unread[FLOW_MAPS];
	/* flow_done: whole flows of cache-only slots whose connection ended, read from the
	 * loop and at each drain into pieces[parity], merged there per flow key. Two tables:
	 * the active parity's and the next one's (the programs' transient one at a switch);
	 * the drained one moves on to the parity after next (NULL) */
	struct ring_buffer *done_rb;
	struct flow_table *pieces[FLOW_MAPS];
	int done_timer; /* the loop's FLOW_DONE_POLL_MS timer; 0: none */
	bool done_fd_added; /* the ring's epoll fd is in the loop */
	uint64_t done_records; /* flow_done records read */
	uint64_t done_wakeups; /* reads of flow_done the programs woke the loop for (half full) */
	uint64_t done_bad; /* flow_done records of a wrong size or parity (cannot happen) */
	/* records read from the ring, copied once, added to pieces[done_parity] DONE_BATCH at a
	 * time (flow_table_add_many(): their probes' cache misses overlap); done_consume() adds
	 * what is left before it returns */
	struct flow_piece done_batch[DONE_BATCH];
	uint32_t n_done_batch, done_parity;
	/* packets and bytes of whole flow pieces pieces[] had no room for (--max-flows keys):
	 * counted with the flow map's refusals (FLOW_STAT_MAP_FULL, _BYTES) */
	uint64_t table_full_packets, table_full_bytes;
	uint64_t meta_written; /* flow_meta entries written (or mended) by the drain */
	uint64_t meta_errors; /* flow_meta entries the drain could not write or read */
	uint32_t max_flows;
	struct flow_key *keys;
	struct flow_value *values;
	/* META_PENDING_MAX (mmap'd): flow_meta entries to write, [meta_done, n_meta) not yet */
	struct flow_key *meta_keys;
	struct flow_meta *metas;
	uint32_t n_meta, meta_done;
	bool defer_meta; /* in flow_collector_export() with a loop: the loop writes them after */
	int meta_timer; /* the oneshot writing the next slice of them; 0: none */
	/* CLOCK_MONOTONIC when the last drain's flow_meta writes ended: flows of the interval
	 * drained next that started by then may have missed an entry written after their start */
	uint64_t meta_race_ns;
	int ncpus;
	uint64_t *percpu; /* ncpus values: one stats slot read back (allocated once) */
	struct flow_cache *cache; /* ncpus values: one flow_cache entry read back */
	/* export, once attached */
	struct loop *loop;
	struct pipeline *pipeline;
	int timer;
	uint64_t last_export_ns; /* CLOCK_MONOTONIC of the last successful export; 0: none */
	uint64_t records; /* flow records submitted to the pipeline */
	uint64_t exports; /* intervals exported (successful or not) */
	uint64_t export_us; /* time spent in them: map swap, drain, pipeline, sink; microseconds */
	uint64_t export_max_us; /* the longest of them */
	uint64_t export_max_flows; /* flows of the largest drain */
	uint64_t export_cpu_us; /* the loop thread's CPU time in exports */
	uint64_t export_wait_us; /* waiting for a CPU in them (schedstat's run queue time) */
	uint64_t phase_us[PHASE_MAX]; /* wall time per phase */
	uint64_t phase_ns[PHASE_MAX]; /* this export's, ns */
	uint64_t phase_t; /* CLOCK_MONOTONIC at the last phase_mark() */
	int schedstat_fd; /* /proc/thread-self/schedstat, or -1 */
	uint64_t last_stats[FLOW_STAT_MAX]; /* at the previous export: per-interval warnings */
	/* the start-up walk of open sockets: sockets by enum flow_owner_walk_result (0: found) */
	uint64_t walk[FLOW_OWNER_WALK_PENDING + 1]; /* PENDING at the end: not reached */
	uint64_t walk_us; /* its wall time */
	uint64_t walk_incomplete[WALK_INCOMPLETE_MAX];
};

static const char *errno_hint(int err)
{
	if (err == EPERM || err == EACCES)
		return " (need CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, or root)";
	return "";
}

/*
 * The kernel knows the agent by its tgid in the initial PID namespace, which getpid() does not
 * give inside a container: ask sock_create, through the owner record of a socket of our own
 * (keyed by the socket's cookie, SO_COOKIE). Falls back to getpid() when the
 * socket does not land under the attached cgroup (--cgroup-root elsewhere).
 */
static void learn_self_tgid(struct flow_collector *fc)
{
	struct sock_owner_slot slot;
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int map = bpf_map__fd(fc->skel->maps.sock_owner);

	fc->skel->bss->self_tgid = (uint32_t)getpid();
	if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0 && cookie) {
		/* the table's probe sequence (flow.bpf.c owner_find()) */
		for (uint32_t i = 0; i < FLOW_OWNER_PROBES; i++) {
			uint32_t idx = FLOW_OWNER_SLOT(cookie, i);

			if (bpf_map_lookup_elem(map, &idx, &slot) == 0 && slot.cookie == cookie) {
				fc->skel->bss->self_tgid = slot.owner.tgid;
				break;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	LOG_DEBUG("own tgid as the kernel sees it: %u", fc->skel->bss->self_tgid);
}

/*
 * open -> rodata and map sizes -> load, into fc->skel (a skeleton there is destroyed first);
 * with_walk: the start-up iterator flow_owner_walk too. A negative errno, err written.
 */
static int open_and_load(struct flow_collector *fc, const struct flow_collector_opts *opts,
			 bool with_walk, char *err, size_t errsz)
{
	int ret;

	flow_bpf__destroy(fc->skel);
	fc->skel = flow_bpf__open();
	if (!fc->skel) {
		ret = -errno;
		snprintf(err, errsz, "opening BPF object: %s", strerror(-ret));
		return ret;
	}
	fc->skel->rodata->cgroup_mode = opts->cgroup_mode == FLOW_CGROUP_MODE_V1
						? FLOW_CGROUP_MODE_V1
						: FLOW_CGROUP_MODE_V2;
	for (size_t i = 0; i < opts->n_dns_ports; i++)
		fc->skel->rodata->dns_port_bitmap[opts->dns_ports[i] >> 5] |=
			1u << (opts->dns_ports[i] & 31);
	if (opts->dns_capture_max_bytes)
		fc->skel->rodata->dns_capture_max_bytes = opts->dns_capture_max_bytes;
	/* The outer map's inner template keeps its size: the kernel does not compare max_entries
	 * of inner hash maps (bpf_map_meta_equal). */
	if (bpf_map__set_max_entries(fc->skel->maps.flows_a, opts->max_flows) ||
	    bpf_map__set_max_entries(fc->skel->maps.flows_b, opts->max_flows) ||
	    bpf_map__set_max_entries(fc->skel->maps.flows_c, opts->max_flows) ||
	    bpf_map__set_max_entries(fc->skel->maps.flow_meta, opts->max_flows) ||
	    (opts->dns_ringbuf_bytes &&
	     bpf_map__set_max_entries(fc->skel->maps.dns_events, opts->dns_ringbuf_bytes)) ||
	    (opts->done_ringbuf_bytes &&
	     bpf_map__set_max_entries(fc->skel->maps.flow_done, opts->done_ringbuf_bytes))) {
		ret = -EINVAL;
		snprintf(err, errsz, "sizing the flow maps to %u entries", opts->max_flows);
		return ret;
	}

	fc->skel->rodata->flow_done_wake_bytes =
		(opts->done_ringbuf_bytes ? opts->done_ringbuf_bytes : FLOW_DONE_RINGBUF_BYTES) / 2;
	bpf_program__set_autoload(fc->skel->progs.flow_owner_walk, with_walk);
	ret = flow_bpf__load(fc->skel);
	if (ret) {
		snprintf(err, errsz, "loading BPF programs: %s%s", strerror(-ret),
			 errno_hint(-ret));
		return ret;
	}
	return 0;
}

/* A network namespace the walk's second pass enters, by inode number, and a process in it. */
struct walk_netns {
	uint32_t inum;
	uint32_t pid;
	uint64_t pending; /* sockets left to it by the first pass */
};

/* Adds one second-pass result byte per socket to fc->walk[]; returns how many. */
static uint64_t walk_count(struct flow_collector *fc, const uint8_t *buf, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] >= FLOW_OWNER_WALK_INSERTED && buf[i] <= FLOW_OWNER_WALK_TABLE_FULL)
			fc->walk[buf[i]]++;
	return n > 0 ? (uint64_t)n : 0;
}

/*
 * Reads an iterator to its end, each chunk to cb, until the walk's time bound (from t0).
 * Returns 0, or -ETIME at the bound, or a negative errno.
 */
static int walk_read(struct flow_collector *fc, int fd, size_t rec_size, uint64_t t0,
		     void (*cb)(struct flow_collector *, const void *, size_t, void *), void *arg)
{
	_Alignas(8) uint8_t buf[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf) - sizeof(buf) % rec_size);
		if (n > 0)
			cb(fc, buf, (size_t)n / rec_size, arg);
		if (n == 0)
			return 0;
		/* EAGAIN: 1M files without a socket in one read; the next one goes on from there */
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (clock_mono_ns() - t0 > OWNER_WALK_BOUND_NS)
			return -ETIME;
	}
}

struct walk_pass1 {
	struct walk_netns *ns;
	size_t n_ns, cap_ns;
	bool oom;
};

static void walk_pass1_cb(struct flow_collector *fc, const void *data, size_t n, void *arg)
{
	const struct flow_owner_walk_rec *r = data;
	struct walk_pass1 *p = arg;

	for (size_t i = 0; i < n; i++) {
		size_t k;

		fc->walk[0]++;
		if (r[i].result >= FLOW_OWNER_WALK_INSERTED &&
		    r[i].result <= FLOW_OWNER_WALK_PENDING)
			fc->walk[r[i].result]++;
		if (r[i].result != FLOW_OWNER_WALK_PENDING)
			continue;
		for (k = 0; k < p->n_ns && p->ns[k].inum != r[i].netns; k++)
			;
		if (k == p->n_ns) {
			if (p->n_ns == p->cap_ns) {
				size_t cap = p->cap_ns ? 2 * p->cap_ns : 16;
				struct walk_netns *ns = realloc(p->ns, cap * sizeof(*ns));

				if (!ns) {
					p->oom = true;
					continue;
				}
				p->ns = ns;
				p->cap_ns = cap;
			}
			p->ns[k] = (struct walk_netns){ .inum = r[i].netns, .pid = r[i].pid };
			p->n_ns++;
		}
		p->ns[k].pending++;
	}
}

static void walk_pass2_cb(struct flow_collector *fc, const void *data, size_t n, void *arg)
{
	uint64_t *resolved = arg;

	*resolved += walk_count(fc, data, (ssize_t)n);
}

/*
 * Owner records for the sockets that existed before the agent (flow.bpf.c flow_owner_walk):
 * run after every program is attached, so that a socket created meanwhile has sock_create's
 * record, which the walk keeps. The first pass (iter/task_file) goes over every process's
 * files; the sockets it found without a cookie get theirs in a second pass (iter/tcp, iter/udp)
 * in each network namespace they are in. Counts what it found and did (fc->walk[]) and logs one
 * line. Bounded by OWNER_WALK_BOUND_NS; a failure leaves the sockets it did not reach without
 * an owner, counted, and the agent goes on.
 */
static void owner_walk(struct flow_collector *fc)
{
	struct bpf_program *pass2[2] = { fc->skel->progs.flow_owner_walk_tcp,
					 fc->skel->progs.flow_owner_walk_udp };
	struct bpf_link *link = NULL, *links[2] = { NULL, NULL };
	uint64_t t0 = clock_mono_ns(), resolved = 0, pending, t, key;
	uint32_t own_inum;
	int first_err = 0;
	struct walk_pass1 p1 = { 0 };
	const char *why = NULL;
	struct stat st;
	int fd, ret, seed;

	if (fc->walk_incomplete[WALK_UNAVAILABLE])
		return; /* warned at load */
	if (!netns_iter_initial_pidns()) {
		fc->walk_incomplete[WALK_PIDNS] = 1;
		LOG_WARN("socket owner walk: the agent is not in the node's PID namespace (on "
			 "Kubernetes: hostPID), so it sees its own processes only: sockets opened "
			 "before the agent keep pid 0");
	}
	/* a v2 cgroup directory's inode number is its cgroup id */
	fc->skel->bss->walk_cgroup_root_id = fstat(fc->cgroup_fd, &st) == 0 ? st.st_ino : 0;
	link = bpf_program__attach_iter(fc->skel->progs.flow_owner_walk, NULL);
	fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	if (fd < 0) {
		fc->walk_incomplete[WALK_ERROR] = 1;
		LOG_WARN("socket owner walk: creating the task_file iterator: %s: sockets opened "
			 "before the agent keep pid 0",
			 strerror(errno));
		bpf_link__destroy(link);
		return;
	}
	ret = walk_read(fc, fd, sizeof(struct flow_owner_walk_rec), t0, walk_pass1_cb, &p1);
	close(fd);
	bpf_link__destroy(link);
	if (p1.oom)
		fc->walk_incomplete[WALK_ERROR] = 1, why = "out of memory";
	own_inum = netns_iter_own();
	for (int i = 0; i < 2 && !ret && p1.n_ns; i++) {
		links[i] = bpf_program__attach_iter(pass2[i], NULL);
		if (!links[i])
			ret = -errno;
	}
	for (size_t k = 0; k < p1.n_ns && !ret; k++) {
		int fds[2], err;

		err = netns_iter_create(p1.ns[k].inum, p1.ns[k].pid, own_inum, links, 2, fds);
		for (int i = 0; i < 2 && !err && !ret; i++)
			ret = walk_read(fc, fds[i], 1, t0, walk_pass2_cb, &resolved);
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		if (err) {
			/* EPERM without CAP_SYS_ADMIN, EACCES without CAP_SYS_PTRACE;
			 * ENOENT, ESRCH: the process is gone, or not in the agent's PID namespace */
			if (!fc->walk_incomplete[WALK_NETNS]++)
				first_err = err;
			LOG_DEBUG("socket owner walk: network namespace %u (pid %u): %s",
				  p1.ns[k].inum, p1.ns[k].pid, strerror(-err));
		}
	}
	for (int i = 0; i < 2; i++)
		bpf_link__destroy(links[i]);
	if (ret == -ETIME) {
		why = "stopped at its time bound";
		fc->walk_incomplete[WALK_TIME_BOUND] = 1;
	} else if (ret) {
		why = strerror(-ret);
		fc->walk_incomplete[WALK_ERROR] = 1;
	}
	/* owners the second pass did not take: sockets it did not reach */
	pending = fc->walk[FLOW_OWNER_WALK_PENDING];
	fc->walk[FLOW_OWNER_WALK_PENDING] = pending > resolved ? pending - resolved : 0;
	seed = bpf_map__fd(fc->skel->maps.owner_seed);
	while (bpf_map_get_next_key(seed, NULL, &key) == 0 && bpf_map_delete_elem(seed, &key) == 0)
		;
	free(p1.ns);
	t = clock_mono_ns() - t0;
	fc->walk_us = t / 1000;
	if (why)
		LOG_WARN("socket owner walk incomplete (%s): the sockets it did not reach keep pid "
			 "0",
			 why);
	if (fc->walk_incomplete[WALK_NETNS])
		LOG_WARN("socket owner walk: %llu network namespaces not entered (%s%s): their "
			 "sockets opened before the agent that had no cookie keep pid 0",
			 (unsigned long long)fc->walk_incomplete[WALK_NETNS], strerror(-first_err),
			 netns_iter_hint(first_err));
	LOG_INFO("socket owner walk: %llu sockets found, %llu owners recorded, %llu had one, "
		 "%llu not recorded (owner table full), %llu not reached, %llu outside the cgroup "
		 "root, second pass in %zu network namespaces (%llu not entered), %.1f ms",
		 (unsigned long long)fc->walk[0],
		 (unsigned long long)fc->walk[FLOW_OWNER_WALK_INSERTED],
		 (unsigned long long)fc->walk[FLOW_OWNER_WALK_EXISTING],
		 (unsigned long long)fc->walk[FLOW_OWNER_WALK_TABLE_FULL],
		 (unsigned long long)fc->walk[FLOW_OWNER_WALK_PENDING],
		 (unsigned long long)fc->walk[FLOW_OWNER_WALK_OUTSIDE], p1.n_ns,
		 (unsigned long long)fc->walk_incomplete[WALK_NETNS], (double)t / 1e6);
}

/* A whole flow piece that found no room in the pieces table: its packets are not accounted. */
static void table_full(struct flow_collector *fc, const struct flow_value *v)
{
	fc->table_full_packets += v->tx_packets + v->rx_packets;
	fc->table_full_bytes += v->tx_bytes + v->rx_bytes;
}

/* The flow_done records gathered in done_batch, into their parity's pieces. */
static void done_flush(struct flow_collector *fc)
{
	int ret[DONE_BATCH];
	uint32_t n = fc->n_done_batch;

	if (!n)
		return;
	fc->n_done_batch = 0;
	if (!flow_table_add_many(fc->pieces[fc->done_parity], fc->done_batch, n, true, ret))
		return;
	for (uint32_t i = 0; i < n; i++)
		if (ret[i])
			table_full(fc, &fc->done_batch[i].val);
}

/*
 * One flow_done record: the whole flow of a cache-only slot, for its parity's pieces (copied
 * into done_batch: the ring's memory is the programs' again once this returns).
 */
static int on_done(void *ctx, void *data, size_t size)
{
	struct flow_collector *fc = ctx;
	const struct flow_done *d = data;
	struct flow_piece *p;

	if (size < sizeof(*d) || d->parity >= FLOW_MAPS || !fc->pieces[d->parity]) {
		fc->done_bad++;
		return 0;
	}
	fc->done_records++;
	if (fc->n_done_batch && (d->parity != fc->done_parity || fc->n_done_batch == DONE_BATCH))
		done_flush(fc);
	fc->done_parity = d->parity;
	p = &fc->done_batch[fc->n_done_batch++];
	p->key = d->key;
	p->val = d->val;
	return 0;
}

/* Reads the flow_done ring to its end, every record in its table of pieces when this returns. */
static void done_consume(struct flow_collector *fc)
{
	int ret = ring_buffer__consume(fc->done_rb);

	done_flush(fc);
	if (ret < 0)
		LOG_WARN("reading the flow_done ring: %s", strerror(-ret));
}

int flow_collector_create(const struct flow_collector_opts *opts, struct flow_collector **out,
			  char *err, size_t errsz)
{
	struct flow_collector *fc;
	struct bpf_program *progs[4];
	int ret = 0;

	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->cgroup_fd = -1;
	fc->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	fc->max_flows = opts->max_flows;
	for (int i = 0; i < FLOW_MAPS; i++)
		fc->installed[i] = true; /* the object's .values put each map in its slot */
	fc->ncpus = libbpf_num_possible_cpus();
	fc->keys = calloc(DRAIN_CHUNK, sizeof(*fc->keys));
	fc->values = calloc(DRAIN_CHUNK, sizeof(*fc->values));
	fc->meta_keys = mmap(NULL, META_PENDING_MAX * sizeof(*fc->meta_keys),
			     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fc->metas = mmap(NULL, META_PENDING_MAX * sizeof(*fc->metas), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fc->meta_keys == MAP_FAILED)
		fc->meta_keys = NULL;
	if (fc->metas == MAP_FAILED)
		fc->metas = NULL;
	fc->percpu = fc->ncpus > 0 ? calloc((size_t)fc->ncpus, sizeof(uint64_t)) : NULL;
	/* a per-CPU value is laid out in 8-byte multiples: struct flow_cache is one */
	_Static_assert(sizeof(struct flow_cache) % 8 == 0, "flow_cache is 8-byte aligned");
	fc->cache = fc->ncpus > 0 ? calloc((size_t)fc->ncpus, sizeof(*fc->cache)) : NULL;
	/* parity 0 is active first; 1 is next */
	fc->pieces[0] = flow_table_create(opts->max_flows);
	fc->pieces[1] = flow_table_create(opts->max_flows);
	if (!fc->keys || !fc->values || !fc->meta_keys || !fc->metas || !fc->percpu || !fc->cache ||
	    !fc->pieces[0] || !fc->pieces[1]) {
		ret = -ENOMEM;
		goto fail;
	}

	/*
	 * The socket owner walk's iterator is an optional extra: a kernel that refuses it (no
	 * iter/task_file, no bpf_sock_from_file) gets the object again without it.
	 */
	ret = open_and_load(fc, opts, true, err, errsz);
	if (ret) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		ret = open_and_load(fc, opts, false, err, errsz);
		if (ret)
			goto fail;
		fc->walk_incomplete[WALK_UNAVAILABLE] = 1;
		LOG_WARN("the kernel refused the socket owner walk (iter/task_file; %s): sockets "
			 "opened before the agent keep pid 0",
			 why);
	}

	fc->done_rb = ring_buffer__new(bpf_map__fd(fc->skel->maps.flow_done), on_done, fc, NULL);
	if (!fc->done_rb) {
		ret = -errno;
		snprintf(err, errsz, "opening the flow_done ring buffer: %s", strerror(-ret));
		goto fail;
	}

	fc->cgroup_fd = open(opts->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fc->cgroup_fd < 0) {
		ret = -errno;
		snprintf(err, errsz, "opening cgroup %s: %s", opts->cgroup_path, strerror(-ret));
		goto fail;
	}
	/* first of all: the owner records' lifecycle for TCP sockets (see flow.bpf.c) */
	fc->destroy_link = bpf_program__attach(fc->skel->progs.flow_sock_destroy);
	if (!fc->destroy_link) {
		ret = -errno;
		snprintf(err, errsz, "attaching flow_sock_destroy (tp_btf/tcp_destroy_sock): %s%s",
			 strerror(-ret), errno_hint(-ret));
		goto fail;
	}
	fc->state_link = bpf_program__attach(fc->skel->progs.flow_sock_state);
	if (!fc->state_link) {
		ret = -errno;
		snprintf(err, errsz, "attaching flow_sock_state (tp_btf/inet_sock_set_state): %s%s",
			 strerror(-ret), errno_hint(-ret));
		goto fail;
	}
	/*
	 * sock_release before sock_create, so that no socket gets an owner record that its
	 * close() does not delete; both before the skb programs, so that sockets created while
	 * those attach have owners
	 */
	progs[0] = fc->skel->progs.flow_sock_release;
	progs[1] = fc->skel->progs.flow_sock_create;
	progs[2] = fc->skel->progs.flow_egress;
	progs[3] = fc->skel->progs.flow_ingress;
	for (int i = 0; i < 4; i++) {
		if (i == 2)
			learn_self_tgid(fc);
		fc->links[i] = bpf_program__attach_cgroup(progs[i], fc->cgroup_fd);
		if (!fc->links[i]) {
			ret = -errno;
			snprintf(err, errsz, "attaching %s to %s: %s%s",
				 bpf_program__name(progs[i]), opts->cgroup_path, strerror(-ret),
				 errno_hint(-ret));
			goto fail;
		}
	}
	owner_walk(fc);
	*out = fc;
	return 0;
fail:
	flow_collector_destroy(fc);
	return ret;
}

void flow_collector_destroy(struct flow_collector *fc)
{
	if (!fc)
		return;
	if (fc->timer)
		loop_del_timer(fc->loop, fc->timer);
	if (fc->meta_timer)
		loop_del_timer(fc->loop, fc->meta_timer);
	if (fc->done_timer)
		loop_del_timer(fc->loop, fc->done_timer);
	if (fc->done_fd_added)
		loop_del_fd(fc->loop, ring_buffer__epoll_fd(fc->done_rb));
	for (int i = 3; i >= 0; i--)
		bpf_link__destroy(fc->links[i]);
	bpf_link__destroy(fc->state_link);
	bpf_link__destroy(fc->destroy_link);
	if (fc->cgroup_fd >= 0)
		close(fc->cgroup_fd);
	if (fc->schedstat_fd >= 0)
		close(fc->schedstat_fd);
	ring_buffer__free(fc->done_rb);
	flow_bpf__destroy(fc->skel);
	for (int i = 0; i < FLOW_MAPS; i++)
		flow_table_destroy(fc->pieces[i]);
	free(fc->keys);
	free(fc->values);
	if (fc->meta_keys)
		munmap(fc->meta_keys, META_PENDING_MAX * sizeof(*fc->meta_keys));
	if (fc->metas)
		munmap(fc->metas, META_PENDING_MAX * sizeof(*fc->metas));
	free(fc->percpu);
	free(fc->cache);
	free(fc);
}

struct flow_bpf *flow_collector_skel(struct flow_collector *fc)
{
	return fc->skel;
}

static uint8_t initiator_of(uint32_t flags)
{
	if (flags & FLOW_F_INITIATOR_SRC)
		return INITIATOR_SRC;
	if (flags & FLOW_F_INITIATOR_DST)
		return INITIATOR_DST;
	return INITIATOR_UNKNOWN;
}

static void to_record(const struct flow_key *k, const struct flow_value *v, int64_t mono_to_epoch,
		      struct flow_record *r)
{
	size_t alen = k->ip_version == 4 ? 4 : 16;

	memset(r, 0, sizeof(*r));
	r->type = RECORD_FLOW;
	r->start_ns = (uint64_t)((int64_t)v->first_ns + mono_to_epoch);
	r->end_ns = (uint64_t)((int64_t)v->last_ns + mono_to_epoch);
	r->cgroup_id = k->cgroup_id;
	r->cgroup_version = k->cgroup_version;
	r->pid = v->pid;
	memcpy(r->comm, v->comm, sizeof(r->comm));
	r->comm[sizeof(r->comm) - 1] = '\0';
	r->ip_version = k->ip_version;
	r->proto = k->proto;
	r->initiator = initiator_of(v->flags);
	r->tcp_flags = (uint8_t)v->tcp_flags;
	memcpy(r->src_addr.bytes, k->laddr, alen);
	memcpy(r->dst_addr.bytes, k->raddr, alen);
	r->src_port = k->lport;
	r->dst_port = k->rport;
	r->tx_bytes = v->tx_bytes;
	r->tx_packets = v->tx_packets;
	r->rx_bytes = v->rx_bytes;
	r->rx_packets = v->rx_packets;
	/* no translation known yet: the actual endpoints are the addressed ones */
	r->src_actual_addr = r->src_addr;
	r->src_actual_port = r->src_port;
	r->dst_actual_addr = r->dst_addr;
	r->dst_actual_port = r->dst_port;
}

/*
 * An empty map like the one just drained, put in its place: freeing the drained entries is left to
 * the kernel (the old map is freed in the background when its last reference goes), which halves
 * the drain against deleting them one by one (bench/bpf) for a full map; a map of a few entries is
 * emptied in place instead (empty_in_place()).
 */
static int renew_map(struct bpf_map *map, uint32_t max_flows)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = bpf_map__map_flags(map));
	int fd, ret;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, bpf_map__name(map), sizeof(struct flow_key),
			    sizeof(struct flow_value), max_flows, &copts);
	if (fd < 0)
		return fd;
	/* the skeleton's fd now refers to the new map; the old one is closed */
	ret = bpf_map__reuse_fd(map, fd);
	close(fd);
	return ret;
}

/*
 * Empties the drained map in place when it held only the n keys of fc->keys (the whole map
 * came in the drain's first chunk) and n is small: deleting a few entries costs less than a
 * new map (renew_map() allocates and initialises 65,536 buckets, ~0.5 ms; perf put it at 6% of
 * the agent's CPU on the paced connect/close loop, where the map holds few flows). Checked
 * empty afterwards; 0, or a negative errno (the caller renews the map then).
 */
static int empty_in_place(struct flow_collector *fc, struct bpf_map *map, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	int fd = bpf_map__fd(map);
	struct flow_key next;
	__u32 count = n;
	int ret;

	if (n > EMPTY_IN_PLACE_MAX)
		return -E2BIG;
	if (n) {
		ret = bpf_map_delete_batch(fd, fc->keys, &count, &bopts);
		if (ret)
			return ret;
	}
	/* no program writes this map any more: it is empty now, or it is renewed */
	ret = bpf_map_get_next_key(fd, NULL, &next);
	return ret == -ENOENT ? 0 : -ENOTEMPTY;
}

/* Entries in the hash map behind fd (walks the keys: for the error path only). */
static uint64_t count_entries(int fd)
{
	struct flow_key k, next;
	uint64_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		n++;
		k = next;
		prev = &k;
	}
	return n;
}

/*
 * Writes the flow cache entries of `parity` back empty; the packet counts of the entries as
 * read into fc->cache go to cache_packets. On failure the entries stay as they were, marked
 * cache_dirty (clear_cache() empties them before the programs use this parity again).
 */
static int empty_cache(struct flow_collector *fc, uint32_t parity)
{
	int cache_fd = bpf_map__fd(fc->skel->maps.flow_cache);
	uint64_t packets = 0;
	int ret;

	for (int c = 0; c < fc->ncpus; c++)
		packets += fc->cache[c].packets;
	memset(fc->cache, 0, (size_t)fc->ncpus * sizeof(*fc->cache));
	ret = bpf_map_update_elem(cache_fd, &parity, fc->cache, BPF_ANY);
	if (ret) {
		fc->cache_dirty[parity] = true;
		return ret;
	}
	fc->cache_packets += packets;
	fc->cache_dirty[parity] = fc->cache_unread[parity] = false;
	return 0;
}

/*
 * Takes what the CPUs' flow cache slots of `parity` hold into pieces[parity], then empties the
 * slots: a cache-only slot's whole flow, a mapped slot's counts (merged with its flow's map
 * entry when the map is read). Only for a parity no program uses any more (after the switch and
 * its wait): nothing writes the slots meanwhile. A whole flow that finds no room (max_flows keys)
 * is counted as the flow map's refusals (table_full()); a mapped slot's counts always find room
 * (flow_table_add()), and only a table that cannot grow (ENOMEM) leaves them in cache_orphans.
 * Returns 0 or a negative errno: the entries are then left as they were, marked cache_dirty, and
 * clear_cache() empties them before the programs use this parity again.
 */
static int fold_cache(struct flow_collector *fc, uint32_t parity)
{
	int cache_fd = bpf_map__fd(fc->skel->maps.flow_cache);
	int ret = bpf_map_lookup_elem(cache_fd, &parity, fc->cache);

	if (ret) {
		fc->cache_dirty[parity] = fc->cache_unread[parity] = true;
		return ret;
	}
	for (int c = 0; c < fc->ncpus; c++) {
		for (int i = 0; i < FLOW_CACHE_SLOTS; i++) {
			const struct flow_cache_slot *s = &fc->cache[c].slot[i];
			bool whole = !(s->flags & FLOW_F_MAPPED);
			struct flow_value v = {
				.first_ns = whole ? s->first_ns : UINT64_MAX,
				.last_ns = s->last_ns,
				.tx_bytes = s->tx_bytes,
				.tx_packets = s->tx_packets,
				.rx_bytes = s->rx_bytes,
				.rx_packets = s->rx_packets,
				.tcp_flags = s->tcp_flags,
			};

			if (!s->tx_packets && !s->rx_packets)
				continue;
			if (whole) {
				v.flags = s->flags;
				v.pid = s->pid;
				memcpy(v.comm, s->comm, sizeof(v.comm));
			}
			if (!flow_table_add(fc->pieces[parity], &s->key, &v, whole))
				continue;
			if (whole)
				table_full(fc, &v);
			else
				fc->cache_orphans += s->tx_packets + s->rx_packets;
		}
	}
	/* always, also when no slot held counts: a slot keeps its flow's key, which must not
	 * outlive the map the flow's entry was in (the programs count a hit without a lookup) */
	return empty_cache(fc, parity);
}

/*
 * Empties the flow cache entries of `parity` that a failed fold left (cache_dirty), before the
 * programs are switched to it: a slot's key must not outlive the map its flow's entry was in
 * (the programs count a hit without a lookup, and the next fold would add it to a later
 * interval's entry). What the fold could not read (cache_unread) is counted in cache_orphans.
 * Returns 0 or a negative errno (still dirty).
 */
static int clear_cache(struct flow_collector *fc, uint32_t parity)
{
	int cache_fd = bpf_map__fd(fc->skel->maps.flow_cache);
	uint64_t orphans = 0;
	int ret = bpf_map_lookup_elem(cache_fd, &parity, fc->cache);

	if (ret)
		return ret;
	for (int c = 0; fc->cache_unread[parity] && c < fc->ncpus; c++)
		for (int i = 0; i < FLOW_CACHE_SLOTS; i++)
			orphans +=
				fc->cache[c].slot[i].tx_packets + fc->cache[c].slot[i].rx_packets;
	ret = empty_cache(fc, parity);
	if (!ret)
		fc->cache_orphans += orphans;
	return ret;
}

#define TCP_FIN 0x01
#define TCP_RST 0x04
#define FLOW_F_INITIATOR (FLOW_F_INITIATOR_SRC | FLOW_F_INITIATOR_DST)

/*
 * A flow whose flow_meta entry m the drain found there although the kernel did not (the previous
 * drain wrote it after this interval's first packet of the flow): what the kernel would have
 * done. The memory's initiator replaces the packet's unless that was a SYN (then the SYN's
 * verdict replaces the memory), a known owner wins over none; `v` is mended in place for the
 * record. With `write`, the entry is rewritten when it changed; without (a closed flow, which
 * is not remembered), it is only read.
 */
static void mend_meta(struct flow_collector *fc, int fd, const struct flow_key *k,
		      struct flow_value *v, struct flow_meta m, bool write)
{
	bool mended = false;

	if ((m.flags & FLOW_F_INITIATOR) && !(v->flags & FLOW_F_FROM_SYN)) {
		v->flags = m.flags;
	} else if (m.flags != v->flags) {
		m.flags = v->flags;
		mended = true;
	}
	if (!v->pid && m.pid) {
		v->pid = m.pid;
		memcpy(v->comm, m.comm, sizeof(v->comm));
	} else if (v->pid && !m.pid) {
		m.pid = v->pid;
		memcpy(m.comm, v->comm, sizeof(m.comm));
		mended = true;
	}
	if (!mended || !write)
		return;
	if (bpf_map_update_elem(fd, k, &m, BPF_EXIST))
		fc->meta_errors++;
	else
		fc->meta_written++;
}

/* Writes flow_meta entries [from, to) of the pending ones in batches; failures counted. */
static void write_meta(struct flow_collector *fc, uint32_t from, uint32_t to)
{
	int fd = bpf_map__fd(fc->skel->maps.flow_meta);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	uint32_t done = from;

	while (done < to) {
		__u32 count = to - done;
		int ret = bpf_map_update_batch(fd, &fc->meta_keys[done], &fc->metas[done], &count,
					       &bopts);

		if (count > to - done)
			count = to - done;
		fc->meta_written += count;
		done += count;
		if (!ret)
			break;
		if (done < to) {
			/* fc->meta_keys[done] stopped the batch: count it, go on after it */
			fc->meta_errors++;
			done++;
		}
	}
}

/*
 * The pending entries are all written: flows that started before now may have missed one
 * (meta_race_ns), and the buffers' pages go back to the system.
 */
static void meta_written_all(struct flow_collector *fc)
{
	bool touched = fc->n_meta > 0;

	fc->n_meta = fc->meta_done = 0;
	fc->meta_race_ns = clock_mono_ns();
	if (touched) {
		madvise(fc->meta_keys, META_PENDING_MAX * sizeof(*fc->meta_keys), MADV_DONTNEED);
		madvise(fc->metas, META_PENDING_MAX * sizeof(*fc->metas), MADV_DONTNEED);
	}
}

/* Writes what is still pending now (the next drain begins), and stops the slices. */
static void meta_finish(struct flow_collector *fc)
{
	if (fc->meta_timer) {
		loop_del_timer(fc->loop, fc->meta_timer);
		fc->meta_timer = 0;
	}
	if (fc->meta_done < fc->n_meta)
		write_meta(fc, fc->meta_done, fc->n_meta);
	if (fc->n_meta)
		meta_written_all(fc);
}

static void on_meta_slice(struct loop *l, uint64_t expirations, void *arg);

/* The next DRAIN_CHUNK of the pending entries from the loop, a millisecond from now. */
static void meta_arm(struct flow_collector *fc)
{
	int id = loop_add_oneshot(fc->loop, 1, on_meta_slice, fc);

	if (id > 0) {
		fc->meta_timer = id;
		return;
	}
	meta_finish(fc); /* no timer: all of them now */
}

static void on_meta_slice(struct loop *l, uint64_t expirations, void *arg)
{
	struct flow_collector *fc = arg;
	uint32_t to = fc->meta_done + DRAIN_CHUNK;

	(void)l, (void)expirations;
	fc->meta_timer = 0; /* a oneshot removes itself */
	if (to > fc->n_meta)
		to = fc->n_meta;
	write_meta(fc, fc->meta_done, to);
	fc->meta_done = to;
	if (fc->meta_done < fc->n_meta)
		meta_arm(fc);
	else
		meta_written_all(fc);
}

/*
 * The programs only look flow_meta up (bpf/flow.bpf.c, remember()); this writes it, for the
 * `n` flows of one chunk drained from the interval just ended: each still open (not TCP that saw
 * FIN or RST) and not found there by the kernel (no FLOW_F_REMEMBERED) gets its initiator and
 * owner remembered for its later intervals. A flow whose first packet came before the previous
 * drain's writes ended (first_ns, a coarse stamp, is then at most meta_race_ns) may have missed
 * an entry written after it: it is looked up, and mended by mend_meta if there; if not, it is
 * written with the others; such a flow that has closed since is not written, but still takes the
 * entry's initiator and owner for its record. For those no entry can exist (the kernel would have
 * found it, and only the drain adds entries; the programs only change found ones): they are
 * written in batches, from the loop after the export when it has one (defer_meta: up to
 * META_PENDING_MAX of them, DRAIN_CHUNK per loop turn; the next drain first writes what is
 * left, and meta_race_ns is when the last was written), else before this returns. Failures are
 * counted in meta_errors (flowscope_flow_meta_errors_total): a later interval of that flow may
 * then lack its initiator or owner; its counts are exact all the same.
 */
static void feed_meta(struct flow_collector *fc, uint32_t n)
{
	int fd = bpf_map__fd(fc->skel->maps.flow_meta);

	for (uint32_t i = 0; i < n; i++) {
		const struct flow_key *k = &fc->keys[i];
		struct flow_value *v = &fc->values[i];
		struct flow_meta *m = &fc->metas[fc->n_meta], found;
		int ret;

		if (v->flags & FLOW_F_REMEMBERED)
			continue;
		if (k->proto == IPPROTO_TCP && (v->tcp_flags & (TCP_FIN | TCP_RST))) {
			if (v->first_ns <= fc->meta_race_ns &&
			    bpf_map_lookup_elem(fd, k, &found) == 0)
				mend_meta(fc, fd, k, v, found, false);
			continue;
		}
		if (v->first_ns <= fc->meta_race_ns) {
			ret = bpf_map_lookup_elem(fd, k, &found);
			if (ret == 0) {
				mend_meta(fc, fd, k, v, found, true);
				continue;
			}
			if (ret != -ENOENT) {
				fc->meta_errors++;
				continue;
			}
		}
		m->flags = v->flags;
		m->pid = v->pid;
		memcpy(m->comm, v->comm, sizeof(m->comm));
		fc->meta_keys[fc->n_meta++] = *k;
		if (fc->n_meta == META_PENDING_MAX) {
			/* a burst beyond what waits for the loop: written now */
			write_meta(fc, fc->meta_done, fc->n_meta);
			fc->n_meta = fc->meta_done = 0;
		}
	}
	if (!fc->defer_meta && fc->meta_done < fc->n_meta) {
		write_meta(fc, fc->meta_done, fc->n_meta);
		fc->n_meta = fc->meta_done = 0;
	}
}

/* The time since the last mark goes to phase `ph`. */
static void phase_mark(struct flow_collector *fc, enum export_phase ph)
{
	uint64_t now = clock_mono_ns();

	fc->phase_ns[ph] += now - fc->phase_t;
	fc->phase_t = now;
}

/*
 * The n flows in fc->keys and fc->values as records: their flow_meta first (feed_meta), then cb
 * for each.
 */
static void emit(struct flow_collector *fc, uint32_t n, int64_t mono_to_epoch, flow_record_cb cb,
		 void *ctx)
{
	feed_meta(fc, n);
	phase_mark(fc, PHASE_META);
	for (uint32_t i = 0; i < n; i++) {
		struct flow_record r;

		to_record(&fc->keys[i], &fc->values[i], mono_to_epoch, &r);
		cb(ctx, &r);
	}
	phase_mark(fc, PHASE_SUBMIT);
}

/*
 * Transactional: the map the programs are switched to is always empty (a map that could not be
 * emptied after its drain is marked stale, and emptied before it is used again; if that fails
 * too, the programs stay where they are and this interval's flows wait for the next drain). A
 * batch lookup that fails midway leaves the rest of the map unread: those flows are counted
 * (lost_drain_error) and the map is emptied all the same, so nothing is exported twice.
 *
 * The switch: flow_parity becomes next (its map is empty and installed: by the previous drain's
 * update, or here after a failure), then one update of the outer map waits for the programs
 * still running with the old parity (a map-in-map update returns after synchronize_rcu) and
 * installs the map drained last time, emptied since, in its slot for the next drain. Then the
 * flow_done ring is read to its end (every record of the old parity is in it), the old parity's
 * flow cache slots are taken into its table of pieces, and the old map is read, each entry merged
 * with its key's pieces, and emptied (in place when it held few, else replaced: renew_map()); the
 * pieces left (flows the map does not hold) become records of their own.
 */
int flow_collector_drain(struct flow_collector *fc, flow_record_cb cb, void *ctx)
{
	struct bpf_map *maps[FLOW_MAPS] = { fc->skel->maps.flows_a, fc->skel->maps.flows_b,
					    fc->skel->maps.flows_c };
	uint32_t cur = (uint32_t)fc->active, next = (cur + 1) % FLOW_MAPS;
	uint32_t spare = (cur + 2) % FLOW_MAPS, wait_slot;
	struct bpf_map *old = maps[cur];
	int outer_fd = bpf_map__fd(fc->skel->maps.flows);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	struct flow_table *pieces = fc->pieces[cur];
	uint32_t batch_token = 0;
	int64_t mono_to_epoch;
	bool first = true, whole, in_place = false;
	int total = 0, fd, ret, err = 0;

	/* the previous drain's flow_meta entries first: meta_race_ns must be final */
	meta_finish(fc);
	if (!fc->installed[next]) {
		/* only after a failure: the previous drain could not install it */
		if (fc->stale[next]) {
			ret = renew_map(maps[next], fc->max_flows);
			if (ret)
				return ret;
			fc->stale[next] = false;
		}
		fd = bpf_map__fd(maps[next]);
		ret = bpf_map_update_elem(outer_fd, &next, &fd, BPF_ANY);
		if (ret)
			return ret;
		fc->installed[next] = true;
	}
	if (fc->cache_dirty[next]) {
		ret = clear_cache(fc, next);
		if (ret)
			return ret;
	}
	__atomic_store_n(&fc->skel->bss->flow_parity, next, __ATOMIC_RELEASE);
	/* Waits for running programs (synchronize_rcu): nothing writes the old map or the old
	 * parity's cache slots after this. It installs the spare map when that one is empty (a
	 * map still holding flows is never installed), else rewrites flows[next] as it is. */
	if (fc->stale[spare] && renew_map(maps[spare], fc->max_flows) == 0)
		fc->stale[spare] = false;
	wait_slot = fc->stale[spare] ? next : spare;
	fd = bpf_map__fd(maps[wait_slot]);
	ret = bpf_map_update_elem(outer_fd, &wait_slot, &fd, BPF_ANY);
	if (ret) {
		/* not known to be quiet: both maps stay live, the next drain switches again */
		__atomic_store_n(&fc->skel->bss->flow_parity, cur, __ATOMIC_RELEASE);
		return ret;
	}
	fc->installed[wait_slot] = true;
	fc->active = (int)next;
	fc->stale[cur] = true;
	fc->installed[cur] = false;
	phase_mark(fc, PHASE_SWAP);
	mono_to_epoch = clock_mono_to_epoch_offset();
	/* every record of the old parity is in the ring now: no program of it runs */
	done_consume(fc);
	err = fold_cache(fc, cur);
	phase_mark(fc, PHASE_FOLD);

	for (;;) {
		__u32 count = DRAIN_CHUNK;

		/* hash maps take a bucket index as the batch token */
		ret = bpf_map_lookup_batch(bpf_map__fd(old), first ? NULL : &batch_token,
					   &batch_token, fc->keys, fc->values, &count, &bopts);
		phase_mark(fc, PHASE_READ);
		if (ret && ret != -ENOENT) {
			err = ret;
			/* what is left cannot be read in order: count it, then drop it */
			fc->lost_drain_error += count_entries(bpf_map__fd(old)) - (uint64_t)total;
			break;
		}
		flow_table_take_merge(pieces, fc->keys, fc->values, count);
		phase_mark(fc, PHASE_MERGE);
		emit(fc, count, mono_to_epoch, cb, ctx);
		total += (int)count;
		if (ret == -ENOENT) {
			/* the whole map in fc->keys: empty it in place before they are reused */
			in_place = first && empty_in_place(fc, old, count) == 0;
			phase_mark(fc, PHASE_RENEW);
			break;
		}
		first = false;
	}
	/* the flows the map does not hold: the ring's and the cache-only slots' */
	for (uint32_t pos = 0, n = 0;;) {
		bool more = flow_table_next(pieces, &pos, &fc->keys[n], &fc->values[n], &whole);

		if (more && !whole) {
			/* a mapped slot's counts whose entry is gone (cannot happen) */
			fc->cache_orphans += fc->values[n].tx_packets + fc->values[n].rx_packets;
			continue;
		}
		if (more)
			n++;
		if (n == DRAIN_CHUNK || (!more && n)) {
			phase_mark(fc, PHASE_MERGE);
			emit(fc, n, mono_to_epoch, cb, ctx);
			total += (int)n;
			n = 0;
		}
		if (!more)
			break;
	}
	flow_table_reset(pieces);
	phase_mark(fc, PHASE_MERGE);
	/* no program runs with `spare` before the next drain's switch */
	fc->pieces[spare] = pieces;
	fc->pieces[cur] = NULL;
	if (!fc->n_meta)
		fc->meta_race_ns = clock_mono_ns(); /* else once the loop wrote them */
	ret = in_place ? 0 : renew_map(old, fc->max_flows);
	phase_mark(fc, PHASE_RENEW);
	if (!ret)
		fc->stale[cur] = false;
	if (err)
		return err;
	return ret ? ret : total;
}

int flow_collector_stats(struct flow_collector *fc, uint64_t out[FLOW_STAT_MAX])
{
	int fd = bpf_map__fd(fc->skel->maps.stats);
	int cache_fd = bpf_map__fd(fc->skel->maps.flow_cache);
	uint64_t sum[FLOW_STAT_MAX] = { 0 };

	for (uint32_t i = 0; i < FLOW_STAT_MAX; i++) {
		int ret = bpf_map_lookup_elem(fd, &i, fc->percpu);

		if (ret)
			return ret;
		for (int c = 0; c < fc->ncpus; c++)
			sum[i] += fc->percpu[c];
	}
	/*
	 * The programs count most packets in their flow_cache entry: those folded so far, and
	 * the entries as they are now: the one in use, and those a failed fold left (not in
	 * cache_packets); all others were emptied by their fold.
	 */
	sum[FLOW_STAT_PACKETS] += fc->cache_packets;
	/* flows beyond --max-flows are refused by the flow map or by the agent's pieces table */
	sum[FLOW_STAT_MAP_FULL] += fc->table_full_packets;
	sum[FLOW_STAT_MAP_FULL_BYTES] += fc->table_full_bytes;
	for (uint32_t p = 0; p < FLOW_MAPS; p++) {
		int ret;

		/* a parity no program uses and no failed fold left is all zero (its fold or
		 * clear_cache() emptied it, and the programs use it only after the next switch):
		 * not read (each read copies 32 KiB a CPU) */
		if (p != (uint32_t)fc->active && !fc->cache_dirty[p])
			continue;
		ret = bpf_map_lookup_elem(cache_fd, &p, fc->cache);

		if (ret)
			return ret;
		for (int c = 0; c < fc->ncpus; c++)
			sum[FLOW_STAT_PACKETS] += fc->cache[c].packets;
	}
	memcpy(out, sum, sizeof(sum));
	return 0;
}

static void submit(void *ctx, struct flow_record *r)
{
	struct flow_collector *fc = ctx;

	fc->records++;
	pipeline_submit(fc->pipeline, &r->hdr);
}

/* What the kernel could not account in the interval just exported, as a warning. */
static void warn_kernel_drops(struct flow_collector *fc, uint32_t max_flows)
{
	uint64_t now[FLOW_STAT_MAX];
	uint64_t full, malformed;

	if (flow_collector_stats(fc, now))
		return;
	full = now[FLOW_STAT_MAP_FULL] - fc->last_stats[FLOW_STAT_MAP_FULL];
	malformed = now[FLOW_STAT_MALFORMED] - fc->last_stats[FLOW_STAT_MALFORMED];
	if (full)
		LOG_WARN("flow map full: %llu packets (%llu bytes) not accounted in the last "
			 "interval; raise --max-flows (now %u)",
			 (unsigned long long)full,
			 (unsigned long long)(now[FLOW_STAT_MAP_FULL_BYTES] -
					      fc->last_stats[FLOW_STAT_MAP_FULL_BYTES]),
			 max_flows);
	if (malformed)
		LOG_DEBUG("%llu malformed packets in the last interval",
			  (unsigned long long)malformed);
	memcpy(fc->last_stats, now, sizeof(now));
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The loop thread's time waiting on a run queue so far, ns (schedstat's second field). */
static uint64_t runqueue_wait_ns(struct flow_collector *fc)
{
	char buf[96];
	unsigned long long run, wait;
	ssize_t n;

	if (fc->schedstat_fd < 0)
		return 0;
	n = pread(fc->schedstat_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
		return 0;
	return wait;
}

/* At --log-level debug: this export's phases, CPU and waits, and the pipeline's stages. */
static void log_export(struct flow_collector *fc, int n, uint64_t wall_ns, uint64_t cpu_ns,
		       uint64_t wait_ns)
{
	struct pipeline_stage_time st[16];
	char line[512];
	size_t off = 0;
	int ns;

	for (int i = 0; i < PHASE_MAX && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%.1f", phase_names[i],
					fc->phase_ns[i] / 1e6);
	ns = pipeline_stage_times(fc->pipeline, st, 16);
	for (int i = 0; i < ns && off < sizeof(line); i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, " stage.%s=%.1f",
					st[i].name, st[i].ns / 1e6);
	LOG_DEBUG("interval exported: %d flows in %.1f ms (cpu %.1f, run queue %.1f), ms:%s", n,
		  wall_ns / 1e6, cpu_ns / 1e6, wait_ns / 1e6, line);
}

int flow_collector_export(struct flow_collector *fc)
{
	uint64_t t0 = clock_mono_ns(), us, wall;
	uint64_t cpu0 = thread_cpu_ns(), wait0 = runqueue_wait_ns(fc), cpu, wait;
	int n;

	memset(fc->phase_ns, 0, sizeof(fc->phase_ns));
	fc->phase_t = t0;
	pipeline_begin_interval(fc->pipeline);
	phase_mark(fc, PHASE_BEGIN);
	fc->defer_meta = fc->loop != NULL;
	n = flow_collector_drain(fc, submit, fc);
	fc->defer_meta = false;
	pipeline_end_interval(fc->pipeline);
	phase_mark(fc, PHASE_END);
	if (fc->meta_done < fc->n_meta)
		meta_arm(fc);
	wall = fc->phase_t - t0;
	cpu = thread_cpu_ns() - cpu0;
	wait = runqueue_wait_ns(fc) - wait0;
	us = wall / 1000;
	fc->exports++;
	fc->export_us += us;
	fc->export_cpu_us += cpu / 1000;
	fc->export_wait_us += wait / 1000;
	for (int i = 0; i < PHASE_MAX; i++)
		fc->phase_us[i] += fc->phase_ns[i] / 1000;
	if (us > fc->export_max_us)
		fc->export_max_us = us;
	if (log_get_level() >= LOG_LEVEL_DEBUG)
		log_export(fc, n, wall, cpu, wait);
	if (n < 0) {
		LOG_ERR("draining the flow map: %s", strerror(-n));
		return n;
	}
	if ((uint64_t)n > fc->export_max_flows)
		fc->export_max_flows = (uint64_t)n;
	fc->last_export_ns = clock_mono_ns();
	warn_kernel_drops(fc, fc->max_flows);
	return 0;
}

/* A failed drain is logged and counted; the next one starts from a clean map, so the agent
 * goes on. */
uint64_t flow_collector_last_export_ns(const struct flow_collector *fc)
{
	return fc->last_export_ns;
}

static void on_done_poll(struct loop *l, uint64_t expirations, void *arg)
{
	(void)l, (void)expirations;
	done_consume(arg);
}

/* The programs' forced wakeup: the ring is more than half full. */
static void on_done_ready(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct flow_collector *fc = arg;

	(void)l, (void)fd, (void)events;
	fc->done_wakeups++;
	done_consume(fc);
}

static void on_interval(struct loop *l, uint64_t expirations, void *arg)
{
	(void)l, (void)expirations;
	flow_collector_export(arg);
}

int flow_collector_attach(struct flow_collector *fc, struct loop *l, struct pipeline *p,
			  uint32_t interval_s)
{
	int ret;

	fc->loop = l;
	fc->pipeline = p;
	/* per-stage times for the debug log of each export */
	pipeline_set_timing(p, log_get_level() >= LOG_LEVEL_DEBUG);
	ret = loop_add_timer(l, (uint64_t)interval_s * 1000, on_interval, fc);
	if (ret < 0)
		return ret;
	fc->timer = ret;
	ret = loop_add_timer(l, FLOW_DONE_POLL_MS, on_done_poll, fc);
	if (ret < 0)
		return ret;
	fc->done_timer = ret;
	ret = loop_add_fd(l, ring_buffer__epoll_fd(fc->done_rb), EPOLLIN, on_done_ready, fc);
	if (ret < 0)
		return ret;
	fc->done_fd_added = true;
	return 0;
}

struct flow_snap {
	uint64_t k[FLOW_STAT_MAX];
	uint64_t records;
	uint64_t lost_drain_error;
	uint64_t exports, export_us, export_max_us, export_max_flows;
	uint64_t export_cpu_us, export_wait_us, phase_us[PHASE_MAX];
	uint64_t cache_orphans; /* the kernel's FLOW_STAT_CACHE_ORPHAN and the drain's */
	uint64_t done_records, done_bad, done_wakeups;
	uint64_t meta_written, meta_errors;
	uint64_t walk[FLOW_OWNER_WALK_PENDING + 1], walk_us, walk_incomplete[WALK_INCOMPLETE_MAX];
};

#define ROW(name, type, help, labels, field) \
	COUNTER_ROW(name, type, help, labels, struct flow_snap, field)
#define NOT_ACCOUNTED "Packets not in any flow record, by reason."
#define PHASE_HELP "Time interval exports spent per phase, microseconds."
#define WALK_HELP "Sockets of the start-up walk by what it did with their owner."
#define WALK_INCOMPLETE_HELP \
	"Start-up walks of open sockets that did not cover them all, by reason."

static const struct counter_desc flow_counters[] = {
	ROW("flowscope_packets_total", COUNTER_COUNTER, "Packets seen by the cgroup_skb programs.",
	    "", k[FLOW_STAT_PACKETS]),
	ROW("flowscope_packets_not_accounted_total", COUNTER_COUNTER, NOT_ACCOUNTED,
	    "reason=\"flow_map_full\"", k[FLOW_STAT_MAP_FULL]),
	ROW("flowscope_packets_not_accounted_total", COUNTER_COUNTER, NOT_ACCOUNTED,
	    "reason=\"malformed\"", k[FLOW_STAT_MALFORMED]),
	ROW("flowscope_packets_not_accounted_total", COUNTER_COUNTER, NOT_ACCOUNTED,
	    "reason=\"other_protocol\"", k[FLOW_STAT_OTHER_PROTO]),
	ROW("flowscope_packets_not_accounted_total", COUNTER_COUNTER, NOT_ACCOUNTED,
	    "reason=\"non_ip\"", k[FLOW_STAT_NON_IP]),
	ROW("flowscope_packets_not_accounted_total", COUNTER_COUNTER, NOT_ACCOUNTED,
	    "reason=\"agent_own\"", k[FLOW_STAT_SELF]),
	ROW("flowscope_packets_not_accounted_total", COUNTER_COUNTER, NOT_ACCOUNTED,
	    "reason=\"cache_orphan\"", cache_orphans),
	ROW("flowscope_bytes_not_accounted_total", COUNTER_COUNTER,
	    "Bytes of packets dropped because the flow map was full.", "reason=\"flow_map_full\"",
	    k[FLOW_STAT_MAP_FULL_BYTES]),
	ROW("flowscope_fragments_total", COUNTER_COUNTER,
	    "Non-first IP fragments, accounted with ports 0.", "", k[FLOW_STAT_FRAGMENTS]),
	ROW("flowscope_flows_without_owner_total", COUNTER_COUNTER,
	    "Flows whose socket had no owner record (pid 0).", "", k[FLOW_STAT_NO_OWNER]),
	ROW("flowscope_socket_owners_not_recorded_total", COUNTER_COUNTER,
	    "Socket owners not recorded: owner table full, or handshake handoff busy.", "",
	    k[FLOW_STAT_OWNER_MAP_FULL]),
	ROW("flowscope_socket_owner_walk_sockets_found_total", COUNTER_COUNTER,
	    "IPv4/IPv6 socket files the start-up walk found open in processes.", "", walk[0]),
	ROW("flowscope_socket_owner_walk_sockets_total", COUNTER_COUNTER, WALK_HELP,
	    "result=\"recorded\"", walk[FLOW_OWNER_WALK_INSERTED]),
	ROW("flowscope_socket_owner_walk_sockets_total", COUNTER_COUNTER, WALK_HELP,
	    "result=\"had_owner\"", walk[FLOW_OWNER_WALK_EXISTING]),
	ROW("flowscope_socket_owner_walk_sockets_total", COUNTER_COUNTER, WALK_HELP,
	    "result=\"table_full\"", walk[FLOW_OWNER_WALK_TABLE_FULL]),
	ROW("flowscope_socket_owner_walk_sockets_total", COUNTER_COUNTER, WALK_HELP,
	    "result=\"not_reached\"", walk[FLOW_OWNER_WALK_PENDING]),
	ROW("flowscope_socket_owner_walk_sockets_total", COUNTER_COUNTER, WALK_HELP,
	    "result=\"outside_cgroup_root\"", walk[FLOW_OWNER_WALK_OUTSIDE]),
	ROW("flowscope_socket_owner_walk_microseconds", COUNTER_GAUGE,
	    "Wall time of the start-up walk of open sockets.", "", walk_us),
	ROW("flowscope_socket_owner_walk_incomplete_total", COUNTER_COUNTER, WALK_INCOMPLETE_HELP,
	    "reason=\"unavailable\"", walk_incomplete[WALK_UNAVAILABLE]),
	ROW("flowscope_socket_owner_walk_incomplete_total", COUNTER_COUNTER, WALK_INCOMPLETE_HELP,
	    "reason=\"error\"", walk_incomplete[WALK_ERROR]),
	ROW("flowscope_socket_owner_walk_incomplete_total", COUNTER_COUNTER, WALK_INCOMPLETE_HELP,
	    "reason=\"time_bound\"", walk_incomplete[WALK_TIME_BOUND]),
	ROW("flowscope_socket_owner_walk_incomplete_total", COUNTER_COUNTER, WALK_INCOMPLETE_HELP,
	    "reason=\"netns_not_entered\"", walk_incomplete[WALK_NETNS]),
	ROW("flowscope_socket_owner_walk_incomplete_total", COUNTER_COUNTER, WALK_INCOMPLETE_HELP,
	    "reason=\"pid_namespace\"", walk_incomplete[WALK_PIDNS]),
	ROW("flowscope_flow_records_total", COUNTER_COUNTER, "Flow records exported.", "", records),
	ROW("flowscope_flow_records_lost_total", COUNTER_COUNTER,
	    "Flows drained from the kernel that gave no record, by reason.",
	    "reason=\"drain_error\"", lost_drain_error),
	ROW("flowscope_flow_records_lost_total", COUNTER_COUNTER,
	    "Flows drained from the kernel that gave no record, by reason.",
	    "reason=\"bad_ring_record\"", done_bad),
	ROW("flowscope_flow_done_records_total", COUNTER_COUNTER,
	    "Ended flows read from the flow_done ring (short flows that never had a flow map "
	    "entry).",
	    "", done_records),
	ROW("flowscope_flow_done_wakeups_total", COUNTER_COUNTER,
	    "Reads of the flow_done ring the programs woke the agent for (the ring more than half "
	    "full between two of its timed reads).",
	    "", done_wakeups),
	ROW("flowscope_flow_done_ring_full_total", COUNTER_COUNTER,
	    "Ended flows that found the flow_done ring full and went to the flow map instead.", "",
	    k[FLOW_STAT_DONE_RING_FULL]),
	ROW("flowscope_flow_meta_written_total", COUNTER_COUNTER,
	    "Flows whose initiator and owner the drain remembered for their later intervals.", "",
	    meta_written),
	ROW("flowscope_flow_meta_errors_total", COUNTER_COUNTER,
	    "Flows whose memory for later intervals the drain could not write or read.", "",
	    meta_errors),
	ROW("flowscope_flow_exports_total", COUNTER_COUNTER,
	    "Intervals whose flows were exported (drains of the flow map).", "", exports),
	ROW("flowscope_flow_export_microseconds_total", COUNTER_COUNTER,
	    "Time spent exporting intervals: map swap, drain, pipeline and sink of every flow.", "",
	    export_us),
	ROW("flowscope_flow_export_cpu_microseconds_total", COUNTER_COUNTER,
	    "CPU time (user and system) of the agent's loop thread in interval exports.", "",
	    export_cpu_us),
	ROW("flowscope_flow_export_runqueue_wait_microseconds_total", COUNTER_COUNTER,
	    "Time interval exports waited for a CPU (runnable, not running).", "", export_wait_us),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"begin\"", phase_us[PHASE_BEGIN]),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"swap\"", phase_us[PHASE_SWAP]),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"fold\"", phase_us[PHASE_FOLD]),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"read\"", phase_us[PHASE_READ]),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"merge\"", phase_us[PHASE_MERGE]),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"meta\"", phase_us[PHASE_META]),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"submit\"", phase_us[PHASE_SUBMIT]),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"renew\"", phase_us[PHASE_RENEW]),
	ROW("flowscope_flow_export_phase_microseconds_total", COUNTER_COUNTER, PHASE_HELP,
	    "phase=\"end\"", phase_us[PHASE_END]),
	ROW("flowscope_flow_export_max_microseconds", COUNTER_GAUGE,
	    "The longest interval export since start.", "", export_max_us),
	ROW("flowscope_flow_export_max_flows", COUNTER_GAUGE,
	    "Flows of the largest interval drained since start.", "", export_max_flows),
};

/* A failed read leaves the snapshot unfilled: the group is left off the page rather than read
 * as zeros (a counter reset to Prometheus). */
const struct counter_desc *flow_collector_counter_descs(size_t *n)
{
	*n = sizeof(flow_counters) / sizeof(flow_counters[0]);
	return flow_counters;
}

static int snapshot(void *arg, void *out)
{
	struct flow_collector *fc = arg;
	struct flow_snap *s = out;
	int ret;

	s->records = fc->records;
	s->lost_drain_error = fc->lost_drain_error;
	s->done_records = fc->done_records;
	s->done_bad = fc->done_bad;
	s->done_wakeups = fc->done_wakeups;
	s->meta_written = fc->meta_written;
	s->meta_errors = fc->meta_errors;
	s->exports = fc->exports;
	s->export_us = fc->export_us;
	s->export_max_us = fc->export_max_us;
	s->export_max_flows = fc->export_max_flows;
	s->export_cpu_us = fc->export_cpu_us;
	s->export_wait_us = fc->export_wait_us;
	memcpy(s->phase_us, fc->phase_us, sizeof(s->phase_us));
	memcpy(s->walk, fc->walk, sizeof(s->walk));
	s->walk_us = fc->walk_us;
	memcpy(s->walk_incomplete, fc->walk_incomplete, sizeof(s->walk_incomplete));
	ret = flow_collector_stats(fc, s->k);
	s->cache_orphans = s->k[FLOW_STAT_CACHE_ORPHAN] + fc->cache_orphans;
	return ret;
}

int flow_collector_register_counters(struct flow_collector *fc, struct counters *reg)
{
	struct counters_group g = {
		COUNTERS_GROUP("", flow_counters, struct flow_snap, snapshot, fc),
	};

	return counters_register(reg, &g);
}
