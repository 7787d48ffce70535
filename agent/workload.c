// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup_paths.h"
#include "identity.h"
#include "workload.h"

#define V1_BIT (1ull << 63)

struct workload {
	struct identity *id;
	struct identity_peers *peers;
	struct cgroup_paths *paths_v2, *paths_v1;
	uint64_t local_peers;
	uint64_t peer_index_full;
};

static uint64_t key_of(uint64_t cgroup_id, uint8_t cgroup_version)
{
	return cgroup_version == 1 ? cgroup_id | V1_BIT : cgroup_id;
}

int workload_new(const struct workload_opts *opts, uint64_t now_ns, struct workload **out)
{
	struct identity_opts io;
	struct workload *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	identity_opts_init(&io);
	io.pod_logs_dir = opts->pod_logs_dir;
	io.container_logs_dir = opts->container_logs_dir;
	if (opts->cleanup_delay_ns)
		io.cleanup_delay_ns = opts->cleanup_delay_ns;
	err = identity_create(&io, now_ns, &w->id);
	if (!err)
		err = identity_peers_create(opts->max_flows, &w->peers);
	if (err) {
		workload_free(w);
		return err;
	}
	w->paths_v2 = opts->paths_v2;
	w->paths_v1 = opts->paths_v1;
	*out = w;
	return 0;
}

void workload_free(struct workload *w)
{
	if (!w)
		return;
	identity_peers_destroy(w->peers);
	identity_destroy(w->id);
	free(w);
}

int workload_fd(const struct workload *w)
{
	return identity_fd(w->id);
}

void workload_process(struct workload *w, uint64_t now_ns)
{
	identity_process(w->id, now_ns);
}

void workload_begin_flows(struct workload *w)
{
	identity_peers_reset(w->peers);
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

void workload_add_flow(struct workload *w, const struct flow_record *r)
{
	struct identity_flow_tuple t;

	tuple_of(r, false, &t);
	if (identity_peers_add(w->peers, &t, key_of(r->cgroup_id, r->cgroup_version)))
		w->peer_index_full++;
}

static const struct identity_workload *resolve(struct workload *w, uint64_t key, const char *path,
					       uint64_t now_ns)
{
	if (!path)
		identity_cgroup_removed(w->id, key, now_ns);
	return identity_resolve(w->id, key, path, path ? strlen(path) : 0, now_ns);
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

void workload_enrich_flow(struct workload *w, struct flow_record *r,
			  struct record_workload *storage, uint64_t now_ns)
{
	struct identity_flow_tuple t;
	uint64_t peer;

	copy_out(resolve(w, key_of(r->cgroup_id, r->cgroup_version), r->cgroup_path, now_ns),
		 storage);
	r->workload = storage;
	/* the actual tuple (after NAT, from conntrack) meets the other end's own view */
	tuple_of(r, true, &t);
	if (identity_peers_find(w->peers, &t, &peer) == IDENTITY_PEER_FOUND) {
		struct cgroup_paths *cp = (peer & V1_BIT) && w->paths_v1 ? w->paths_v1
									 : w->paths_v2;
		const char *path = cgroup_paths_lookup(cp, peer & ~V1_BIT);
		const struct identity_workload *pw = resolve(w, peer, path, now_ns);

		r->dst_pod_namespace = pw->pod_namespace;
		r->dst_pod_name = pw->pod_name;
		w->local_peers++;
	}
}

void workload_enrich_dns(struct workload *w, struct dns_record *r, struct record_workload *storage,
			 uint64_t now_ns)
{
	copy_out(resolve(w, key_of(r->cgroup_id, r->cgroup_version), r->cgroup_path, now_ns),
		 storage);
	r->workload = storage;
}

void workload_stats(const struct workload *w, struct workload_stats *out)
{
	struct identity_stats st;

	identity_stats(w->id, &st);
	memset(out, 0, sizeof(*out));
	out->entries = st.entries;
	out->removed_entries = st.removed_entries;
	out->pods = st.pods;
	out->containers = st.containers;
	out->expirations = st.expirations;
	out->unresolved = st.unresolved;
	out->rejected_names = st.pod_dirs_rejected + st.container_links_rejected;
	out->inotify_overflows = st.inotify_overflows;
	out->local_peers = w->local_peers;
	out->peer_index_full = w->peer_index_full;
	out->last_load_ns = st.last_load_ns;
	out->loading = st.loading;
}
