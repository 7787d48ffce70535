// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flow.skel.h"
#include "flow_collector.h"
#include "log.h"

/* Flows drained per batch syscall. */
#define DRAIN_CHUNK 4096
/* A flow idle this many intervals is forgotten (initiator and owner memory). */
#define MEMO_IDLE_INTERVALS 4

/* What an interval's fresh map entry cannot know about a flow that started earlier. */
struct flow_memo {
	struct flow_key key;
	uint64_t last_interval;
	uint32_t flags; /* FLOW_F_* */
	uint32_t pid;
	char comm[FLOW_COMM_LEN];
	UT_hash_handle hh;
};

struct flow_collector {
	struct flow_bpf *skel;
	int cgroup_fd;
	struct bpf_link *links[3];
	int active; /* 0: flows_a, 1: flows_b */
	uint32_t max_flows;
	struct flow_key *keys;
	struct flow_value *values;
	struct flow_memo *memos;
	unsigned int n_memos;
	uint64_t interval;
	uint64_t memo_dropped;
	int ncpus;
};

uint64_t boot_ns_to_epoch_ns(uint64_t boot_ns)
{
	struct timespec rt, bt;
	int64_t off;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	off = ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
	return (uint64_t)((int64_t)boot_ns + off);
}

static const char *errno_hint(int err)
{
	if (err == EPERM || err == EACCES)
		return " (need CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, or root)";
	return "";
}

int flow_collector_open(const struct flow_collector_opts *opts, struct flow_collector **out,
			char *err, size_t errsz)
{
	struct flow_collector *fc;
	struct bpf_program *progs[3];
	int ret = 0;

	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->cgroup_fd = -1;
	fc->max_flows = opts->max_flows;
	fc->ncpus = libbpf_num_possible_cpus();
	fc->keys = calloc(DRAIN_CHUNK, sizeof(*fc->keys));
	fc->values = calloc(DRAIN_CHUNK, sizeof(*fc->values));
	if (!fc->keys || !fc->values || fc->ncpus <= 0) {
		ret = -ENOMEM;
		goto fail;
	}

	fc->skel = flow_bpf__open();
	if (!fc->skel) {
		ret = -errno;
		snprintf(err, errsz, "opening BPF object: %s", strerror(-ret));
		goto fail;
	}
	fc->skel->rodata->self_tgid = opts->self_tgid;
	for (size_t i = 0; i < opts->n_dns_ports; i++)
		fc->skel->rodata->dns_port_bitmap[opts->dns_ports[i] >> 5] |=
			1u << (opts->dns_ports[i] & 31);
	/* The outer map's inner template keeps its size: the kernel does not compare max_entries
	 * of inner hash maps (bpf_map_meta_equal). */
	if (bpf_map__set_max_entries(fc->skel->maps.flows_a, opts->max_flows) ||
	    bpf_map__set_max_entries(fc->skel->maps.flows_b, opts->max_flows)) {
		ret = -EINVAL;
		snprintf(err, errsz, "sizing the flow maps to %u entries", opts->max_flows);
		goto fail;
	}

	ret = flow_bpf__load(fc->skel);
	if (ret) {
		snprintf(err, errsz, "loading BPF programs: %s%s", strerror(-ret),
			 errno_hint(-ret));
		goto fail;
	}

	fc->cgroup_fd = open(opts->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fc->cgroup_fd < 0) {
		ret = -errno;
		snprintf(err, errsz, "opening cgroup %s: %s", opts->cgroup_path, strerror(-ret));
		goto fail;
	}
	/* sock_create first, so sockets created while the skb programs attach have owners */
	progs[0] = fc->skel->progs.flow_sock_create;
	progs[1] = fc->skel->progs.flow_egress;
	progs[2] = fc->skel->progs.flow_ingress;
	for (int i = 0; i < 3; i++) {
		fc->links[i] = bpf_program__attach_cgroup(progs[i], fc->cgroup_fd);
		if (!fc->links[i]) {
			ret = -errno;
			snprintf(err, errsz, "attaching %s to %s: %s%s",
				 bpf_program__name(progs[i]), opts->cgroup_path, strerror(-ret),
				 errno_hint(-ret));
			goto fail;
		}
	}
	*out = fc;
	return 0;
fail:
	flow_collector_close(fc);
	return ret;
}

void flow_collector_close(struct flow_collector *fc)
{
	struct flow_memo *m, *tmp;

	if (!fc)
		return;
	for (int i = 2; i >= 0; i--)
		bpf_link__destroy(fc->links[i]);
	if (fc->cgroup_fd >= 0)
		close(fc->cgroup_fd);
	flow_bpf__destroy(fc->skel);
	HASH_ITER(hh, fc->memos, m, tmp)
	{
		HASH_DEL(fc->memos, m);
		free(m);
	}
	free(fc->keys);
	free(fc->values);
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

/*
 * Each interval starts with an empty map, so the kernel sees a continuing flow as new: its
 * initiator would be guessed from whichever packet came first. The first interval's verdict
 * (a SYN's above all) is kept here and wins.
 */
static void remember(struct flow_collector *fc, const struct flow_key *k, struct flow_value *v)
{
	struct flow_memo *m;

	HASH_FIND(hh, fc->memos, k, sizeof(*k), m);
	if (m) {
		bool had_syn = m->flags & FLOW_F_FROM_SYN;
		bool now_syn = v->flags & FLOW_F_FROM_SYN;

		if ((had_syn || !now_syn) &&
		    (m->flags & (FLOW_F_INITIATOR_SRC | FLOW_F_INITIATOR_DST)))
			v->flags = m->flags;
		else
			m->flags = v->flags;
		if (!v->pid && m->pid) {
			v->pid = m->pid;
			memcpy(v->comm, m->comm, sizeof(v->comm));
		} else if (v->pid) {
			m->pid = v->pid;
			memcpy(m->comm, v->comm, sizeof(m->comm));
		}
		m->last_interval = fc->interval;
		return;
	}
	if (fc->n_memos >= 2 * fc->max_flows) {
		fc->memo_dropped++;
		return;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		fc->memo_dropped++;
		return;
	}
	m->key = *k;
	m->flags = v->flags;
	m->pid = v->pid;
	memcpy(m->comm, v->comm, sizeof(m->comm));
	m->last_interval = fc->interval;
	HASH_ADD(hh, fc->memos, key, sizeof(m->key), m);
	fc->n_memos++;
}

static void expire_memos(struct flow_collector *fc)
{
	struct flow_memo *m, *tmp;

	HASH_ITER(hh, fc->memos, m, tmp)
	{
		if (fc->interval - m->last_interval < MEMO_IDLE_INTERVALS)
			continue;
		HASH_DEL(fc->memos, m);
		free(m);
		fc->n_memos--;
	}
}

static void to_record(const struct flow_key *k, const struct flow_value *v, int64_t boot_to_epoch,
		      struct flow_record *r)
{
	size_t alen = k->ip_version == 4 ? 4 : 16;

	memset(r, 0, sizeof(*r));
	r->start_ns = (uint64_t)((int64_t)v->first_ns + boot_to_epoch);
	r->end_ns = (uint64_t)((int64_t)v->last_ns + boot_to_epoch);
	r->cgroup_id = k->cgroup_id;
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

int flow_collector_drain(struct flow_collector *fc, flow_record_cb cb, void *ctx)
{
	struct bpf_map *maps[2] = { fc->skel->maps.flows_a, fc->skel->maps.flows_b };
	int outer_fd = bpf_map__fd(fc->skel->maps.flows);
	int old_fd = bpf_map__fd(maps[fc->active]);
	int new_fd = bpf_map__fd(maps[!fc->active]);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	struct flow_key batch_token;
	uint32_t zero = 0;
	int64_t boot_to_epoch;
	bool first = true;
	int total = 0, ret;

	/* Waits for running programs (synchronize_rcu): nothing writes old_fd after this. */
	ret = bpf_map_update_elem(outer_fd, &zero, &new_fd, BPF_ANY);
	if (ret)
		return ret;
	fc->active = !fc->active;
	fc->interval++;
	boot_to_epoch = (int64_t)boot_ns_to_epoch_ns(0);

	for (;;) {
		__u32 count = DRAIN_CHUNK;

		ret = bpf_map_lookup_and_delete_batch(old_fd, first ? NULL : &batch_token,
						      &batch_token, fc->keys, fc->values, &count,
						      &bopts);
		if (ret && ret != -ENOENT)
			return ret;
		for (__u32 i = 0; i < count; i++) {
			struct flow_record r;

			remember(fc, &fc->keys[i], &fc->values[i]);
			to_record(&fc->keys[i], &fc->values[i], boot_to_epoch, &r);
			cb(ctx, &r);
		}
		total += (int)count;
		first = false;
		if (ret == -ENOENT)
			break;
	}
	expire_memos(fc);
	return total;
}

void flow_collector_stats(struct flow_collector *fc, uint64_t out[FLOW_STAT_MAX])
{
	int fd = bpf_map__fd(fc->skel->maps.stats);
	uint64_t *percpu = calloc((size_t)fc->ncpus, sizeof(uint64_t));

	memset(out, 0, sizeof(uint64_t) * FLOW_STAT_MAX);
	if (!percpu)
		return;
	for (uint32_t i = 0; i < FLOW_STAT_MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, percpu))
			continue;
		for (int c = 0; c < fc->ncpus; c++)
			out[i] += percpu[c];
	}
	free(percpu);
}

uint64_t flow_collector_memo_dropped(const struct flow_collector *fc)
{
	return fc->memo_dropped;
}
