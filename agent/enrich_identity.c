// SPDX-License-Identifier: Apache-2.0
/*
 * Pipeline stage: container and pod of every flow and DNS record (identity/), and the local peer's
 * pod of flows.
 *
 * Cgroup ids of the v1 memory hierarchy and of v2 are numbered apart by the kernel and can be
 * equal, so the identity cache is keyed by (cgroup_version, cgroup_id), packed as the id with bit
 * 63 set for v1 (kernfs ids stay far below it: 32-bit inode numbers, a generation above them).
 *
 * Two stages. "peer_index", first, indexes every flow's tuple as it is submitted (an earlier
 * stage never defers it). "workload", last, holds the flows that reach it during the export until
 * the interval's end: only with all of an interval's flows indexed can one end of a local
 * connection find the other (identity_peers, by the inverse of the actual, post-NAT tuple). A
 * flow that a stage in between resumes after the end (an asynchronous conntrack lookup) finds the
 * complete index at once; the index lives until the next interval begins. Strings the stage
 * points records at live in the identity cache, which frees nothing but in identity_process(),
 * and that runs from the loop, never during an export. A held flow borrows its cgroup_path only
 * when it is cgroup_paths' string of the current generation (hold()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "clock.h"
#include "enrich.h"
#include "identity.h"
#include "loop.h"
#include "record.h"

#define V1_BIT (1ull << 63)
/* tuples the peer_index stage gathers before adding them at once (identity_peers_add_many()) */
#define INDEX_BATCH 16

struct enrich_identity {
	struct identity *id;
	struct identity_peers *peers;
	struct enrich_cgroup_paths *paths;
	struct loop *loop;
	int timer;
	bool fd_added;
	struct pipeline *pipeline;
	int index;
	bool exporting; /* between interval_begin and interval_end: flows are held */
	/* tuples not yet in peers: added before any lookup (index_flush()) */
	struct identity_flow_tuple pend_t[INDEX_BATCH];
	uint64_t pend_cgroup[INDEX_BATCH];
	size_t n_pend;
	/* the interval's flows, held (packed copies in held_mem, let go of at the interval's end) */
	struct record_arena *held_mem;
	struct held_flow **held;
	size_t n_held, cap_held;
	uint32_t max_flows;
	struct record_workload dns_workload; /* for the DNS record going through process() */
	uint64_t local_peers;
	uint64_t not_held; /* flows that went on at once: no copy, or max_flows held */
	uint64_t not_indexed; /* flows beyond the peer index's bound (max_flows) */
};

/*
 * A held flow, packed: the fields of the flow record as the stages before this one left it,
 * the addresses at their length (4 bytes for IPv4) and the actual ones only when they differ
 * from the addressed ones, strings borrowed (hold()) or copied behind it. unpack() gives back the
 * record field for field. 112 bytes for an IPv4 flow against 224 for a struct flow_record: the
 * interval's held flows are the agent's peak memory (two per flow when both ends are local).
 */
struct held_flow {
	uint64_t start_ns, end_ns, cgroup_id;
	uint64_t tx_bytes, tx_packets, rx_bytes, rx_packets;
	const char *cgroup_path;
	const char *dst_domain;
	uint32_t pid;
	char comm[16];
	uint16_t src_port, dst_port;
	uint8_t cgroup_version, ip_version, proto, initiator, tcp_flags;
	uint8_t shape; /* HELD_* */
	/* src, dst addresses; with HELD_ACTUAL src_actual, dst_actual, then their two ports;
	 * then the strings copied */
	unsigned char tail[];
};

#define HELD_ADDR16 0x01 /* addresses of 16 bytes (IPv6, or an IPv4 one with bytes past 4) */
#define HELD_ACTUAL 0x02 /* the actual endpoints differ from the addressed ones */
#define HELD_NAT 0x04 /* r->nat */

static bool addr_is_short(const struct record_addr *a)
{
	static const uint8_t zero[12];

	return !memcmp(a->bytes + 4, zero, sizeof(zero));
}

static size_t str_bytes(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* The packed copy of r in e->held_mem; path: r's cgroup_path, borrowed (not copied). NULL:
 * no memory. */
static struct held_flow *pack(struct enrich_identity *e, const struct flow_record *r,
			      bool borrow_path)
{
	const struct record_addr *addrs[4] = { &r->src_addr, &r->dst_addr, &r->src_actual_addr,
					       &r->dst_actual_addr };
	bool actual = memcmp(&r->src_addr, &r->src_actual_addr, sizeof(r->src_addr)) ||
		      memcmp(&r->dst_addr, &r->dst_actual_addr, sizeof(r->dst_addr)) ||
		      r->src_port != r->src_actual_port || r->dst_port != r->dst_actual_port;
	int naddr = actual ? 4 : 2;
	size_t alen = 4, path_len = borrow_path ? 0 : str_bytes(r->cgroup_path);
	size_t domain_len = str_bytes(r->dst_domain), n;
	struct held_flow *h;
	unsigned char *p;

	for (int i = 0; i < naddr; i++)
		if (!addr_is_short(addrs[i]))
			alen = 16;
	n = sizeof(*h) + (size_t)naddr * alen + (actual ? 4 : 0) + path_len + domain_len;
	h = record_arena_alloc(e->held_mem, n);
	if (!h)
		return NULL;
	h->start_ns = r->start_ns;
	h->end_ns = r->end_ns;
	h->cgroup_id = r->cgroup_id;
	h->tx_bytes = r->tx_bytes;
	h->tx_packets = r->tx_packets;
	h->rx_bytes = r->rx_bytes;
	h->rx_packets = r->rx_packets;
	h->pid = r->pid;
	memcpy(h->comm, r->comm, sizeof(h->comm));
	h->src_port = r->src_port;
	h->dst_port = r->dst_port;
	h->cgroup_version = r->cgroup_version;
	h->ip_version = r->ip_version;
	h->proto = r->proto;
	h->initiator = r->initiator;
	h->tcp_flags = r->tcp_flags;
	h->shape = (uint8_t)((alen == 16 ? HELD_ADDR16 : 0) | (actual ? HELD_ACTUAL : 0) |
			     (r->nat ? HELD_NAT : 0));
	p = h->tail;
	for (int i = 0; i < naddr; i++, p += alen)
		memcpy(p, addrs[i]->bytes, alen);
	if (actual) {
		memcpy(p, &r->src_actual_port, 2);
		memcpy(p + 2, &r->dst_actual_port, 2);
		p += 4;
	}
	h->cgroup_path = r->cgroup_path;
	if (path_len) {
		memcpy(p, r->cgroup_path, path_len);
		h->cgroup_path = (const char *)p;
		p += path_len;
	}
	h->dst_domain = NULL;
	if (domain_len) {
		memcpy(p, r->dst_domain, domain_len);
		h->dst_domain = (const char *)p;
	}
	return h;
}

/* The record h was packed from (its strings are h's). */
static void unpack(const struct held_flow *h, struct flow_record *r)
{
	size_t alen = (h->shape & HELD_ADDR16) ? 16 : 4;
	const unsigned char *p = h->tail;

	memset(r, 0, sizeof(*r));
	r->type = RECORD_FLOW;
	r->start_ns = h->start_ns;
	r->end_ns = h->end_ns;
	r->cgroup_id = h->cgroup_id;
	r->cgroup_path = h->cgroup_path;
	r->cgroup_version = h->cgroup_version;
	r->pid = h->pid;
	memcpy(r->comm, h->comm, sizeof(r->comm));
	r->ip_version = h->ip_version;
	r->proto = h->proto;
	r->initiator = h->initiator;
	r->tcp_flags = h->tcp_flags;
	memcpy(r->src_addr.bytes, p, alen);
	memcpy(r->dst_addr.bytes, p + alen, alen);
	p += 2 * alen;
	r->src_port = h->src_port;
	r->dst_port = h->dst_port;
	r->tx_bytes = h->tx_bytes;
	r->tx_packets = h->tx_packets;
	r->rx_bytes = h->rx_bytes;
	r->rx_packets = h->rx_packets;
	r->nat = h->shape & HELD_NAT;
	if (h->shape & HELD_ACTUAL) {
		memcpy(r->src_actual_addr.bytes, p, alen);
		memcpy(r->dst_actual_addr.bytes, p + alen, alen);
		memcpy(&r->src_actual_port, p + 2 * alen, 2);
		memcpy(&r->dst_actual_port, p + 2 * alen + 2, 2);
	} else {
		r->src_actual_addr = r->src_addr;
		r->dst_actual_addr = r->dst_addr;
		r->src_actual_port = r->src_port;
		r->dst_actual_port = r->dst_port;
	}
	r->dst_domain = h->dst_domain;
}

static uint64_t key_of(uint64_t cgroup_id, uint8_t cgroup_version)
{
	return cgroup_version == 1 ? cgroup_id | V1_BIT : cgroup_id;
}

static const struct identity_workload *resolve(struct enrich_identity *e, uint64_t key,
					       const char *path, uint64_t now_ns)
{
	/* the cgroup_path stage found it gone: its names stay for the cleanup delay */
	if (!path)
		identity_cgroup_removed(e->id, key, now_ns);
	return identity_resolve(e->id, key, path, path ? strlen(path) : 0, now_ns);
}

static void copy_out(const struct identity_workload *iw, struct record_workload *out)
{
	out->container_id = iw->container_id;
	out->container_runtime = iw->container_runtime;
	out->container_name = iw->container_name;
	out->pod_uid = iw->pod_uid;
	out->pod_namespace = iw->pod_namespace;
	out->pod_name = iw->pod_name;
}

static struct cgroup_paths *paths_of(const struct enrich_identity *e, uint8_t cgroup_version)
{
	return cgroup_version == 1 && e->paths->v1 ? e->paths->v1 : e->paths->v2;
}

static void tuple_of(const struct flow_record *r, bool actual, struct identity_flow_tuple *t)
{
	size_t alen = r->ip_version == 4 ? 4 : 16;

	memset(t, 0, sizeof(*t));
	memcpy(t->src_addr, actual ? r->src_actual_addr.bytes : r->src_addr.bytes, alen);
	memcpy(t->dst_addr, actual ? r->dst_actual_addr.bytes : r->dst_addr.bytes, alen);
	t->src_port = actual ? r->src_actual_port : r->src_port;
	t->dst_port = actual ? r->dst_actual_port : r->dst_port;
	t->ip_version = r->ip_version;
	t->proto = r->proto;
}

/*
 * The last workloads release() resolved, by identity key: a connection's two ends alternate
 * between two cgroups, so most of an interval's lookups (a flow's own and its peer's) repeat
 * one of the last two. Only results of a lookup with a path (an entry of the identity cache),
 * valid while release() runs: the cache changes only from the loop (identity_process()), never
 * during an export, and the cgroup path of a key was checked for this generation by its first
 * lookup. A result without a path (unresolved, counted per lookup) is never kept.
 */
struct resolve_memo {
	uint64_t key[2];
	const struct identity_workload *w[2];
	unsigned int next; /* the slot written next */
};

static const struct identity_workload *memo_find(const struct resolve_memo *m, uint64_t key)
{
	if (!m)
		return NULL;
	for (int i = 0; i < 2; i++)
		if (m->w[i] && m->key[i] == key)
			return m->w[i];
	return NULL;
}

static const struct identity_workload *memo_resolve(struct enrich_identity *e,
						    struct resolve_memo *m, uint64_t key,
						    const char *path, uint64_t now_ns)
{
	/* a lookup without a path marks the cgroup removed: never skipped */
	const struct identity_workload *w = path ? memo_find(m, key) : NULL;

	if (w)
		return w;
	w = resolve(e, key, path, now_ns);
	if (m && path) {
		m->key[m->next] = key;
		m->w[m->next] = w;
		m->next ^= 1;
	}
	return w;
}

/*
 * The workload of r and, when status is IDENTITY_PEER_FOUND, of its local peer; m: the last
 * ones resolved (NULL: none).
 */
static void enrich_found(struct enrich_identity *e, struct resolve_memo *m, struct flow_record *r,
			 struct record_workload *storage, uint64_t now_ns, int status,
			 uint64_t peer)
{
	copy_out(memo_resolve(e, m, key_of(r->cgroup_id, r->cgroup_version), r->cgroup_path,
			      now_ns),
		 storage);
	r->workload = storage;
	if (status == IDENTITY_PEER_FOUND) {
		const struct identity_workload *pw = memo_find(m, peer);

		if (!pw) {
			struct cgroup_paths *cp = paths_of(e, (peer & V1_BIT) ? 1 : 2);

			pw = memo_resolve(e, m, peer, cgroup_paths_lookup(cp, peer & ~V1_BIT),
					  now_ns);
		}

		r->dst_pod_namespace = pw->pod_namespace;
		r->dst_pod_name = pw->pod_name;
		e->local_peers++;
	}
}

/* The gathered tuples go into the index: before every lookup, so none misses one. */
static void index_flush(struct enrich_identity *e)
{
	size_t not_added;

	if (!e->n_pend)
		return;
	identity_peers_add_many(e->peers, e->pend_t, e->pend_cgroup, e->n_pend, &not_added);
	e->not_indexed += not_added;
	e->n_pend = 0;
}

static void enrich_flow(struct enrich_identity *e, struct flow_record *r,
			struct record_workload *storage, uint64_t now_ns)
{
	struct identity_flow_tuple t;
	uint64_t peer = 0;
	int status;

	tuple_of(r, true, &t);
	index_flush(e);
	status = identity_peers_find(e->peers, &t, &peer);
	enrich_found(e, NULL, r, storage, now_ns, status, peer);
}

static bool hold(struct enrich_identity *e, struct flow_record *r)
{
	struct held_flow *copy;

	if (e->n_held >= e->max_flows)
		return false;
	/* what this stage sets itself (pack() does not keep it): never set before it */
	if (r->workload || r->dst_pod_namespace || r->dst_pod_name)
		return false;
	if (e->n_held == e->cap_held) {
		size_t cap = e->cap_held ? 2 * e->cap_held : 1024;
		struct held_flow **h = realloc(e->held, cap * sizeof(*h));

		if (!h)
			return false;
		e->held = h;
		e->cap_held = cap;
	}
	/*
	 * A path that is the string cgroup_paths hands out for the id in this generation stays
	 * valid until the next interval begins (cgroup_paths.h), and held flows go before that (at
	 * this interval's end or flush; index_interval_begin() lets go of any left): the copy
	 * points at it instead of copying it (a kubepods path is about 160 bytes, more than the
	 * rest of a held flow). Any other string, such as a deferring stage's copy of the record
	 * (freed once it resumed the record), or one from an earlier generation, is copied with
	 * the record.
	 */
	const char *path = r->cgroup_path;
	bool borrow = path &&
		      path == cgroup_paths_lookup(paths_of(e, r->cgroup_version), r->cgroup_id);

	copy = pack(e, r, borrow);
	if (!copy)
		return false;
	e->held[e->n_held++] = copy;
	return true;
}

static enum stage_verdict identity_stage_process(void *arg, struct record *r)
{
	struct enrich_identity *e = arg;

	if (r->type == RECORD_FLOW) {
		struct flow_record *f = RECORD_OF(r, struct flow_record);

		/* a flow that an earlier stage resumed after its interval ended goes on alone */
		if (e->exporting && e->pipeline && hold(e, f))
			return STAGE_DEFER; /* no clock read for a held flow: release() has one */
		if (e->exporting)
			e->not_held++;
		/* the record outlives this call only until the sink has it: the stage is last */
		enrich_flow(e, f, &e->dns_workload, clock_mono_ns());
		return STAGE_PASS;
	}
	copy_out(resolve(e, key_of(r->cgroup_id, r->cgroup_version), r->cgroup_path,
			 clock_mono_ns()),
		 &e->dns_workload);
	r->workload = &e->dns_workload;
	return STAGE_PASS;
}

/* held flows unpacked and looked up in the peer index at a time (identity_peers_find_many()) */
#define RELEASE_BATCH 16

/* Every held flow, enriched now that the interval's flows are all known, goes on. */
static void release(void *arg)
{
	struct enrich_identity *e = arg;
	uint64_t now = clock_mono_ns();
	struct resolve_memo memo = { 0 };

	index_flush(e);
	for (size_t base = 0; base < e->n_held; base += RELEASE_BATCH) {
		size_t m = e->n_held - base < RELEASE_BATCH ? e->n_held - base : RELEASE_BATCH;
		struct identity_flow_tuple t[RELEASE_BATCH];
		struct flow_record r[RELEASE_BATCH];
		uint64_t peer[RELEASE_BATCH];
		int status[RELEASE_BATCH];

		for (size_t k = 0; k < m; k++) {
			unpack(e->held[base + k], &r[k]);
			tuple_of(&r[k], true, &t[k]);
		}
		identity_peers_find_many(e->peers, t, m, status, peer);
		for (size_t k = 0; k < m; k++) {
			struct record_workload wl;

			enrich_found(e, &memo, &r[k], &wl, now, status[k], peer[k]);
			pipeline_resume(e->pipeline, e->index, &r[k].hdr);
		}
	}
	e->n_held = 0;
	record_arena_reset(e->held_mem);
	e->exporting = false;
}

static void identity_interval_begin(void *arg)
{
	struct enrich_identity *e = arg;

	e->exporting = true;
}

static enum stage_verdict index_stage_process(void *arg, struct record *r)
{
	struct enrich_identity *e = arg;
	const struct flow_record *f;

	if (r->type != RECORD_FLOW)
		return STAGE_PASS;
	f = CONST_RECORD_OF(r, struct flow_record);
	tuple_of(f, false, &e->pend_t[e->n_pend]);
	e->pend_cgroup[e->n_pend++] = key_of(f->cgroup_id, f->cgroup_version);
	if (e->n_pend == INDEX_BATCH)
		index_flush(e);
	return STAGE_PASS;
}

/*
 * A new interval's flows: the last interval's tuples go. First of all stages, so before the
 * cgroup_path stage starts a new generation: flows still held (an interval that began without
 * its end) go on now, while the cgroup_paths strings they point at are valid.
 */
static void index_interval_begin(void *arg)
{
	struct enrich_identity *e = arg;

	if (e->n_held)
		release(e);
	index_flush(e); /* counted in not_indexed, then forgotten */
	identity_peers_reset(e->peers);
}

struct pipeline_stage enrich_identity_index_stage(struct enrich_identity *e)
{
	return (struct pipeline_stage){
		.name = "peer_index",
		.process = index_stage_process,
		.interval_begin = index_interval_begin,
		.arg = e,
	};
}

static void identity_stage_added(void *arg, struct pipeline *p, int index)
{
	struct enrich_identity *e = arg;

	e->pipeline = p;
	e->index = index;
}

struct pipeline_stage enrich_identity_stage(struct enrich_identity *e)
{
	return (struct pipeline_stage){
		.name = "workload",
		.process = identity_stage_process,
		.interval_begin = identity_interval_begin,
		.interval_end = release,
		.flush = release,
		.added = identity_stage_added,
		.arg = e,
	};
}

static void on_identity(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct enrich_identity *e = arg;

	(void)l, (void)fd, (void)events;
	identity_process(e->id, clock_mono_ns());
}

/* missing log directories, removed cgroups' cleanup delay */
static void on_tick(struct loop *l, uint64_t expirations, void *arg)
{
	on_identity(l, -1, 0, arg);
	(void)expirations;
}

struct identity_snap {
	uint64_t entries, removed, pods, containers;
	uint64_t expirations, unresolved, rejected, overflows, local_peers, not_held;
	uint64_t not_indexed;
};

#define ROW(name, type, help, field) COUNTER_ROW(name, type, help, "", struct identity_snap, field)

static const struct counter_desc identity_counters[] = {
	ROW("flowscope_identity_cgroups", COUNTER_GAUGE,
	    "Cgroups whose container and pod names are cached, removed ones included until "
	    "--cgroup-cleanup-delay has passed.",
	    entries),
	ROW("flowscope_identity_removed_cgroups", COUNTER_GAUGE,
	    "Cached cgroups that are gone and still resolve.", removed),
	ROW("flowscope_identity_pods", COUNTER_GAUGE,
	    "Pods known from the kubelet's pod log directory.", pods),
	ROW("flowscope_identity_containers", COUNTER_GAUGE,
	    "Containers known from the kubelet's container log links.", containers),
	ROW("flowscope_identity_expirations_total", COUNTER_COUNTER,
	    "Removed cgroups' names dropped after the cleanup delay.", expirations),
	ROW("flowscope_identity_unresolved_total", COUNTER_COUNTER,
	    "Records of a cgroup that was gone before it was first seen: no names.", unresolved),
	ROW("flowscope_identity_rejected_names_total", COUNTER_COUNTER,
	    "Pod log directories and container log links not in the kubelet's form.", rejected),
	ROW("flowscope_identity_inotify_overflows_total", COUNTER_COUNTER,
	    "inotify queue overflows on the log directories (a full rescan followed).", overflows),
	ROW("flowscope_identity_local_peers_total", COUNTER_COUNTER,
	    "Flows whose other end was a flow of this node (dst_pod_* set when it is a pod).",
	    local_peers),
	ROW("flowscope_identity_flows_not_held_total", COUNTER_COUNTER,
	    "Flows enriched without the local-peer match (more than --max-flows, or no memory).",
	    not_held),
	ROW("flowscope_identity_flows_not_indexed_total", COUNTER_COUNTER,
	    "Flows left out of the local-peer index (more than --max-flows in an interval).",
	    not_indexed),
};

const struct counter_desc *enrich_identity_counter_descs(size_t *n)
{
	*n = sizeof(identity_counters) / sizeof(identity_counters[0]);
	return identity_counters;
}

static int snapshot(void *arg, void *out)
{
	struct enrich_identity *e = arg;
	struct identity_snap *s = out;
	struct identity_stats st;

	identity_stats(e->id, &st);
	s->entries = st.entries;
	s->removed = st.removed_entries;
	s->pods = st.pods;
	s->containers = st.containers;
	s->expirations = st.expirations;
	s->unresolved = st.unresolved;
	s->rejected = st.pod_dirs_rejected + st.container_links_rejected;
	s->overflows = st.inotify_overflows;
	s->local_peers = e->local_peers;
	s->not_held = e->not_held;
	s->not_indexed = e->not_indexed;
	return 0;
}

struct enrich_identity *enrich_identity_create(const struct enrich_identity_opts *opts,
					       struct loop *l, struct counters *reg)
{
	struct enrich_identity *e = calloc(1, sizeof(*e));
	struct counters_group g = {
		COUNTERS_GROUP("identity", identity_counters, struct identity_snap, snapshot, e),
	};
	struct identity_opts io;
	int ret;

	if (!e)
		return NULL;
	e->loop = l;
	e->paths = opts->paths;
	e->max_flows = opts->max_flows ? opts->max_flows : 65536;
	identity_opts_init(&io);
	io.pod_logs_dir = opts->pod_logs_dir;
	io.container_logs_dir = opts->container_logs_dir;
	if (opts->cleanup_delay_ns)
		io.cleanup_delay_ns = opts->cleanup_delay_ns;
	e->held_mem = record_arena_create();
	ret = e->held_mem ? identity_create(&io, clock_mono_ns(), &e->id) : -ENOMEM;
	if (!ret)
		ret = identity_peers_create(e->max_flows, &e->peers);
	if (!ret) {
		ret = loop_add_fd(l, identity_fd(e->id), EPOLLIN, on_identity, e);
		e->fd_added = !ret;
	}
	if (!ret) {
		ret = loop_add_timer(l, 1000, on_tick, e);
		if (ret > 0) {
			e->timer = ret;
			ret = 0;
		}
	}
	if (!ret)
		ret = counters_register(reg, &g);
	if (ret) {
		enrich_identity_destroy(e);
		errno = -ret;
		return NULL;
	}
	return e;
}

/* The counters group stays registered: free the registry first (main.c does). */
void enrich_identity_destroy(struct enrich_identity *e)
{
	if (!e)
		return;
	record_arena_destroy(e->held_mem);
	free(e->held);
	if (e->fd_added)
		loop_del_fd(e->loop, identity_fd(e->id));
	if (e->timer)
		loop_del_timer(e->loop, e->timer);
	identity_peers_destroy(e->peers);
	identity_destroy(e->id);
	free(e);
}
