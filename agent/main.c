// SPDX-License-Identifier: Apache-2.0
/*
 * flowscope: one event loop (epoll) over the timers, signals, the DNS ring buffer, the conntrack
 * socket and /metrics; nothing sleeps and no thread is ours (librdkafka runs its broker threads).
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cgroup_mode.h"
#include "cgroup_paths.h"
#include "workload.h"
#include "config.h"
#include "ct.h"
#include "dns.h"
#include "dns_collector.h"
#include "flow_collector.h"
#include "log.h"
#include "metrics.h"
#include "sink_kafka.h"
#include "sink_stdout.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

enum loop_source {
	SRC_INTERVAL = 1,
	SRC_DURATION,
	SRC_SIGNAL,
	SRC_TICK, /* once a second: DNS timeouts */
	SRC_DNS, /* the DNS ring buffer */
	SRC_CONNTRACK, /* conntrack events and dump data */
	SRC_METRICS, /* /metrics connections */
	SRC_STDOUT, /* errors on stdout: a pipe whose reader went away */
	SRC_IDENTITY, /* kubelet log directories (inotify) and their incremental load */
};

struct agent {
	const struct config *cfg;
	char cgroup_mount[PATH_MAX];
	struct cgroup_paths *cgroup_paths;
	struct cgroup_paths *cgroup_paths_v1; /* --cgroup-mode v1: the v1 memory hierarchy's */
	struct cgroup_mode_choice cgroup_mode;
	struct workload *workload;
	/* one interval's flows, held until every one is known (local peers), then enriched */
	struct flow_record *batch;
	size_t n_batch, cap_batch;
	uint64_t batch_dropped; /* flows that found no room in the batch: enriched alone */
	struct flow_collector *flows;
	struct dns_collector *dns;
	struct ct_cache *ct; /* NULL with --no-conntrack */
	uint64_t ct_errors;
	bool ct_sync_logged;
	struct sink *sink;
	bool sink_is_kafka;
	struct metrics_server *metrics;
	int epfd, interval_fd, duration_fd, signal_fd, tick_fd;
	uint64_t export_boot_ns; /* CLOCK_BOOTTIME of the export in progress */
	uint64_t export_mono_ns; /* CLOCK_MONOTONIC of the export in progress */
	int64_t epoch_to_boot_ns; /* add to a Unix epoch time to get CLOCK_BOOTTIME */
	uint64_t flow_records;
	uint64_t flow_records_dropped; /* refused by the sink */
	uint64_t last_stats[FLOW_STAT_MAX];
};

static bool libbpf_debug;

/* libbpf's messages already start with "libbpf: ". */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];

	if (level == LIBBPF_DEBUG && !libbpf_debug)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	log_msg(level == LIBBPF_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG, "%s", line);
	return 0;
}

/* The kernel must describe itself (BTF) for the CO-RE programs to load. */
static int check_prerequisites(struct agent *a)
{
	struct stat st;
	int ret;

	if (stat("/sys/kernel/btf/vmlinux", &st)) {
		LOG_ERR("missing kernel BTF: /sys/kernel/btf/vmlinux not found (the kernel needs "
			"CONFIG_DEBUG_INFO_BTF=y)");
		return -ENOENT;
	}
	ret = cgroup_mode_choose(a->cfg->cgroup_mode, "/proc/mounts", &a->cgroup_mode);
	if (ret == -ENOENT && !a->cgroup_mode.v2_mount[0]) {
		LOG_ERR("no cgroup v2 hierarchy mounted (no cgroup2 entry in /proc/mounts); mount "
			"one, e.g. mount -t cgroup2 none /sys/fs/cgroup/unified");
		return ret;
	}
	if (ret) {
		LOG_ERR("%s", ret == -ENOENT ? a->cgroup_mode.reason : strerror(-ret));
		return ret;
	}
	snprintf(a->cgroup_mount, sizeof(a->cgroup_mount), "%s", a->cgroup_mode.v2_mount);
	if (geteuid() != 0) {
		LOG_ERR("missing privileges: flowscope loads BPF programs and attaches them to "
			"cgroups, which needs uid 0 with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, "
			"CAP_SYS_RESOURCE and CAP_DAC_READ_SEARCH (all of them as root)");
		return -EPERM;
	}
	return 0;
}

static uint64_t mono_ns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Fills the actual endpoints from conntrack; they stay equal to src/dst when nothing is known. */
static void resolve_nat(struct agent *a, struct flow_record *r, uint64_t now_mono)
{
	struct ct_tuple t = { 0 };
	struct ct_result res;
	size_t alen = r->ip_version == 4 ? 4 : 16;
	int ret;

	t.family = r->ip_version == 4 ? AF_INET : AF_INET6;
	t.proto = r->proto;
	memcpy(t.src.bytes, r->src_addr.bytes, alen);
	memcpy(t.dst.bytes, r->dst_addr.bytes, alen);
	t.src_port = r->src_port;
	t.dst_port = r->dst_port;
	ret = ct_cache_lookup(a->ct, &t, now_mono, &res);
	if (ret < 0) {
		a->ct_errors++;
		return;
	}
	if (ret != CT_OK || !res.nat)
		return;
	r->nat = true;
	memcpy(r->src_actual_addr.bytes, res.actual.src.bytes, alen);
	r->src_actual_port = res.actual.src_port;
	memcpy(r->dst_actual_addr.bytes, res.actual.dst.bytes, alen);
	r->dst_actual_port = res.actual.dst_port;
}

/* Feeds conntrack's pending events and dump data to the cache; says when the first sync is done. */
static void process_conntrack(struct agent *a, uint64_t now_mono)
{
	struct ct_stats cs;
	int ret = ct_cache_process(a->ct, now_mono);

	if (ret < 0)
		LOG_DEBUG("conntrack: %s", strerror(-ret));
	if (a->ct_sync_logged)
		return;
	ct_cache_stats(a->ct, &cs);
	if (!cs.synced)
		return;
	a->ct_sync_logged = true;
	LOG_INFO("conntrack: initial sync done in %llu ms: %llu entries read, %u translated kept",
		 (unsigned long long)(cs.last_sync_ns / 1000000), (unsigned long long)cs.dumped,
		 cs.entries);
}

static void on_flow(void *ctx, struct flow_record *r)
{
	struct agent *a = ctx;

	if (a->ct)
		resolve_nat(a, r, a->export_mono_ns);

	r->cgroup_path = cgroup_paths_lookup(
		r->cgroup_version == 1 && a->cgroup_paths_v1 ? a->cgroup_paths_v1 : a->cgroup_paths,
		r->cgroup_id);
	/*
	 * The name the address had when the flow started (flow stamps are one coarse tick, at most
	 * 10 ms, early). The client resolved the Service address, not the backend: dst first.
	 */
	uint64_t at = (uint64_t)((int64_t)r->start_ns + a->epoch_to_boot_ns) + 10000000ull;

	if (at > a->export_boot_ns)
		at = a->export_boot_ns;
	r->dst_domain = dns_collector_name_for(a->dns, r->cgroup_id, r->ip_version,
					       r->dst_addr.bytes, a->export_boot_ns, at);
	if (!r->dst_domain && r->nat)
		r->dst_domain = dns_collector_name_for(a->dns, r->cgroup_id, r->ip_version,
						       r->dst_actual_addr.bytes, a->export_boot_ns,
						       at);
	struct record_workload wl;

	workload_enrich_flow(a->workload, r, &wl, a->export_mono_ns);
	a->flow_records++;
	if (sink_emit_flow(a->sink, r))
		a->flow_records_dropped++;
}

/* Drain callback: the interval's flows are kept until all are known (see on_flow). */
static void collect_flow(void *ctx, struct flow_record *r)
{
	struct agent *a = ctx;

	if (a->n_batch == a->cap_batch) {
		size_t cap = a->cap_batch ? 2 * a->cap_batch : 1024;
		struct flow_record *b = realloc(a->batch, cap * sizeof(*b));

		if (!b) {
			/* no peer for this one, but the record itself goes out */
			a->batch_dropped++;
			on_flow(a, r);
			return;
		}
		a->batch = b;
		a->cap_batch = cap;
	}
	a->batch[a->n_batch++] = *r;
	workload_add_flow(a->workload, r);
}

/* DNS records get their workload on the way to the sink. */
static void enrich_dns(void *ctx, struct dns_record *r, struct record_workload *storage)
{
	struct agent *a = ctx;

	workload_enrich_dns(a->workload, r, storage, mono_ns_now());
}

static void report_kernel_drops(struct agent *a, bool final)
{
	uint64_t now[FLOW_STAT_MAX];
	uint64_t full, malformed;

	flow_collector_stats(a->flows, now);
	full = now[FLOW_STAT_MAP_FULL] - a->last_stats[FLOW_STAT_MAP_FULL];
	malformed = now[FLOW_STAT_MALFORMED] - a->last_stats[FLOW_STAT_MALFORMED];
	if (full)
		LOG_WARN("flow map full: %llu packets (%llu bytes) not accounted in the last "
			 "interval; raise --max-flows (now %u)",
			 (unsigned long long)full,
			 (unsigned long long)(now[FLOW_STAT_MAP_FULL_BYTES] -
					      a->last_stats[FLOW_STAT_MAP_FULL_BYTES]),
			 a->cfg->max_flows);
	if (malformed)
		LOG_DEBUG("%llu malformed packets in the last interval",
			  (unsigned long long)malformed);
	memcpy(a->last_stats, now, sizeof(now));
	if (!final)
		return;
	struct dns_collector_stats ds;

	dns_collector_get_stats(a->dns, &ds);
	dns_collector_log_parse_errors(a->dns);
	LOG_INFO("dns counters: dns_packets=%llu dns_ringbuf_full=%llu dns_capture_truncated=%llu "
		 "dns_messages=%llu dns_parse_errors=%llu dns_queries=%llu dns_responses=%llu "
		 "dns_unmatched_responses=%llu dns_timeouts=%llu dns_pending_full=%llu "
		 "dns_tcp_bytes_missing=%llu dns_tcp_messages_lost=%llu dns_tcp_resyncs=%llu "
		 "dns_tcp_streams_full=%llu "
		 "dns_records=%llu dns_records_dropped=%llu dns_names=%llu dns_names_evicted=%llu "
		 "dns_queries_pending_at_exit=%llu",
		 (unsigned long long)now[FLOW_STAT_DNS_EVENTS],
		 (unsigned long long)now[FLOW_STAT_DNS_RINGBUF_FULL],
		 (unsigned long long)now[FLOW_STAT_DNS_TRUNCATED], (unsigned long long)ds.messages,
		 (unsigned long long)ds.parse_errors, (unsigned long long)ds.queries,
		 (unsigned long long)ds.responses, (unsigned long long)ds.unmatched_responses,
		 (unsigned long long)ds.timeouts, (unsigned long long)ds.pending_full,
		 (unsigned long long)ds.tcp_bytes_missing, (unsigned long long)ds.tcp_messages_lost,
		 (unsigned long long)ds.tcp_resyncs, (unsigned long long)ds.tcp_streams_full,
		 (unsigned long long)ds.records, (unsigned long long)ds.records_dropped,
		 (unsigned long long)ds.names_entries, (unsigned long long)ds.names_evictions,
		 (unsigned long long)ds.pending);
	if (a->ct) {
		struct ct_stats cs;

		ct_cache_stats(a->ct, &cs);
		LOG_INFO("conntrack counters: ct_hit=%llu ct_miss=%llu ct_fallback_hit=%llu "
			 "ct_fallback_miss=%llu ct_fallback_ratelimited=%llu "
			 "ct_fallback_errors=%llu "
			 "ct_evictions=%llu ct_expirations=%llu ct_resyncs=%llu ct_enobufs=%llu "
			 "ct_entries=%u ct_lookup_errors=%llu",
			 (unsigned long long)cs.hit, (unsigned long long)cs.miss,
			 (unsigned long long)cs.fallback_hit, (unsigned long long)cs.fallback_miss,
			 (unsigned long long)cs.fallback_ratelimited,
			 (unsigned long long)cs.fallback_errors, (unsigned long long)cs.evictions,
			 (unsigned long long)cs.expirations, (unsigned long long)cs.resyncs,
			 (unsigned long long)cs.enobufs, cs.entries,
			 (unsigned long long)a->ct_errors);
	}
	struct workload_stats ws;

	workload_stats(a->workload, &ws);
	LOG_INFO("identity counters: identity_cgroups=%u identity_removed_cgroups=%u "
		 "identity_pods=%u identity_containers=%u identity_expirations=%llu "
		 "identity_unresolved=%llu identity_rejected_names=%llu "
		 "identity_inotify_overflows=%llu identity_local_peers=%llu "
		 "identity_peer_index_full=%llu identity_batch_full=%llu "
		 "identity_last_load_ms=%llu",
		 ws.entries, ws.removed_entries, ws.pods, ws.containers,
		 (unsigned long long)ws.expirations, (unsigned long long)ws.unresolved,
		 (unsigned long long)ws.rejected_names, (unsigned long long)ws.inotify_overflows,
		 (unsigned long long)ws.local_peers, (unsigned long long)ws.peer_index_full,
		 (unsigned long long)a->batch_dropped,
		 (unsigned long long)(ws.last_load_ns / 1000000));
	LOG_INFO("counters: packets_seen=%llu flow_records=%llu flow_map_full_packets=%llu "
		 "flow_map_full_bytes=%llu malformed_packets=%llu other_proto_packets=%llu "
		 "non_ip_packets=%llu fragments=%llu self_packets=%llu no_owner_flows=%llu "
		 "flow_records_dropped=%llu",
		 (unsigned long long)now[FLOW_STAT_PACKETS], (unsigned long long)a->flow_records,
		 (unsigned long long)now[FLOW_STAT_MAP_FULL],
		 (unsigned long long)now[FLOW_STAT_MAP_FULL_BYTES],
		 (unsigned long long)now[FLOW_STAT_MALFORMED],
		 (unsigned long long)now[FLOW_STAT_OTHER_PROTO],
		 (unsigned long long)now[FLOW_STAT_NON_IP],
		 (unsigned long long)now[FLOW_STAT_FRAGMENTS],
		 (unsigned long long)now[FLOW_STAT_SELF],
		 (unsigned long long)now[FLOW_STAT_NO_OWNER],
		 (unsigned long long)a->flow_records_dropped);
}

/* One counter family with one sample per (label value, count). */
struct labelled {
	const char *label;
	uint64_t value;
};

static void counter_family(FILE *out, const char *name, const char *help, const char *label_key,
			   const struct labelled *samples, size_t n)
{
	char labels[128];

	metrics_family(out, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "%s=\"%s\"", label_key, samples[i].label);
		metrics_sample(out, name, labels, samples[i].value);
	}
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void render_sink_metrics(struct agent *a, FILE *out)
{
	static const char *const types[RECORD_TYPE_MAX] = { "flow", "dns", "event" };

	if (!a->sink_is_kafka) {
		struct sink_stdout_stats st;

		sink_stdout_stats(a->sink, &st);
		metrics_family(out, "flowscope_sink_records_total", "counter",
			       "Records written by the sink.");
		metrics_sample(out, "flowscope_sink_records_total", "sink=\"stdout\"", st.records);
		metrics_family(out, "flowscope_sink_records_dropped_total", "counter",
			       "Records the sink could not write.");
		metrics_sample(out, "flowscope_sink_records_dropped_total",
			       "sink=\"stdout\",reason=\"write_error\"", st.dropped);
		return;
	}
	struct kafka_sink_stats ks;
	char labels[160];

	sink_kafka_stats(a->sink, &ks);
	metrics_family(out, "flowscope_kafka_records_total", "counter",
		       "Records handed to librdkafka, and their outcome, per record type.");
	/* RECORD_EVENT: reserved, nothing produces it yet */
	for (int t = 0; t < RECORD_EVENT; t++) {
		const struct {
			const char *state;
			uint64_t v;
		} rows[] = { { "produced", ks.type[t].produced },
			     { "delivered", ks.type[t].delivered },
			     { "failed", ks.type[t].failed } };

		for (size_t i = 0; i < N_OF(rows); i++) {
			snprintf(labels, sizeof(labels), "type=\"%s\",state=\"%s\"", types[t],
				 rows[i].state);
			metrics_sample(out, "flowscope_kafka_records_total", labels, rows[i].v);
		}
	}
	metrics_family(out, "flowscope_sink_records_dropped_total", "counter",
		       "Records the sink could not write.");
	for (int t = 0; t < RECORD_EVENT; t++) {
		snprintf(labels, sizeof(labels), "sink=\"kafka\",type=\"%s\",reason=\"queue_full\"",
			 types[t]);
		metrics_sample(out, "flowscope_sink_records_dropped_total", labels,
			       ks.type[t].dropped_queue_full);
		snprintf(labels, sizeof(labels), "sink=\"kafka\",type=\"%s\",reason=\"error\"",
			 types[t]);
		metrics_sample(out, "flowscope_sink_records_dropped_total", labels,
			       ks.type[t].dropped_error);
	}
	metrics_family(out, "flowscope_kafka_delivery_failures_total", "counter",
		       "Records whose delivery failed, per librdkafka error.");
	for (size_t i = 0; i < ks.n_reasons; i++) {
		uint64_t sum = 0;

		for (int t = 0; t < RECORD_TYPE_MAX; t++)
			sum += ks.reasons[i].failed[t];
		snprintf(labels, sizeof(labels), "reason=\"%s\"",
			 sink_kafka_reason_name(ks.reasons[i].err));
		metrics_sample(out, "flowscope_kafka_delivery_failures_total", labels, sum);
	}
	metrics_sample(out, "flowscope_kafka_delivery_failures_total", "reason=\"other\"",
		       ks.failed_other_reasons);
	metrics_family(out, "flowscope_kafka_buffered_bytes", "gauge",
		       "Bytes waiting for the brokers (batches and unacknowledged messages).");
	metrics_sample(out, "flowscope_kafka_buffered_bytes", "", ks.buffered_bytes);
}

/* Every counter the agent keeps, drops above all; names are documented in docs/metrics.md. */
static void render_metrics(void *ctx, FILE *out)
{
	struct agent *a = ctx;
	uint64_t k[FLOW_STAT_MAX];
	struct dns_collector_stats ds;

	flow_collector_stats(a->flows, k);
	dns_collector_get_stats(a->dns, &ds);

	struct workload_stats ws;

	workload_stats(a->workload, &ws);
	metrics_family(out, "flowscope_identity_cgroups", "gauge",
		       "Cgroups whose container and pod names are cached (removed ones included "
		       "until --cgroup-cleanup-delay has passed).");
	metrics_sample(out, "flowscope_identity_cgroups", "", ws.entries);
	metrics_family(out, "flowscope_identity_removed_cgroups", "gauge",
		       "Cached cgroups that are gone, kept for the cleanup delay.");
	metrics_sample(out, "flowscope_identity_removed_cgroups", "", ws.removed_entries);
	metrics_family(out, "flowscope_identity_pods", "gauge",
		       "Pods known from the kubelet's pod log directory.");
	metrics_sample(out, "flowscope_identity_pods", "", ws.pods);
	metrics_family(out, "flowscope_identity_rejected_names_total", "counter",
		       "Pod log directories and container log links not in the kubelet's form.");
	metrics_sample(out, "flowscope_identity_rejected_names_total", "", ws.rejected_names);
	metrics_family(out, "flowscope_packets_total", "counter",
		       "Packets seen by the cgroup_skb programs.");
	metrics_sample(out, "flowscope_packets_total", "", k[FLOW_STAT_PACKETS]);
	const struct labelled not_accounted[] = {
		{ "flow_map_full", k[FLOW_STAT_MAP_FULL] },
		{ "malformed", k[FLOW_STAT_MALFORMED] },
		{ "other_protocol", k[FLOW_STAT_OTHER_PROTO] },
		{ "non_ip", k[FLOW_STAT_NON_IP] },
		{ "agent_own", k[FLOW_STAT_SELF] },
	};
	counter_family(out, "flowscope_packets_not_accounted_total",
		       "Packets not in any flow record, by reason.", "reason", not_accounted,
		       N_OF(not_accounted));
	metrics_family(out, "flowscope_bytes_not_accounted_total", "counter",
		       "Bytes of packets dropped because the flow map was full.");
	metrics_sample(out, "flowscope_bytes_not_accounted_total", "reason=\"flow_map_full\"",
		       k[FLOW_STAT_MAP_FULL_BYTES]);
	metrics_family(out, "flowscope_fragments_total", "counter",
		       "Non-first IP fragments, accounted with ports 0.");
	metrics_sample(out, "flowscope_fragments_total", "", k[FLOW_STAT_FRAGMENTS]);
	metrics_family(out, "flowscope_flows_without_owner_total", "counter",
		       "Flows whose socket had no owner record (pid 0).");
	metrics_sample(out, "flowscope_flows_without_owner_total", "", k[FLOW_STAT_NO_OWNER]);
	metrics_family(out, "flowscope_flow_records_total", "counter", "Flow records exported.");
	metrics_sample(out, "flowscope_flow_records_total", "", a->flow_records);

	metrics_family(out, "flowscope_dns_packets_total", "counter",
		       "DNS packets handed to user space.");
	metrics_sample(out, "flowscope_dns_packets_total", "", k[FLOW_STAT_DNS_EVENTS]);
	const struct labelled dns_lost[] = {
		{ "ringbuf_full", k[FLOW_STAT_DNS_RINGBUF_FULL] },
		{ "parse_error", ds.parse_errors },
		{ "pending_full", ds.pending_full },
		{ "tcp_streams_full", ds.tcp_streams_full },
		{ "tcp_message_incomplete", ds.tcp_messages_lost },
		{ "tcp_stream_gap", ds.tcp_resyncs },
		{ "bad_event", ds.bad_events },
	};
	counter_family(out, "flowscope_dns_dropped_total",
		       "DNS packets or messages that yielded no record, by reason.", "reason",
		       dns_lost, N_OF(dns_lost));
	metrics_family(out, "flowscope_dns_capture_truncated_total", "counter",
		       "DNS packets longer than the capture (1536 payload bytes).");
	metrics_sample(out, "flowscope_dns_capture_truncated_total", "",
		       k[FLOW_STAT_DNS_TRUNCATED]);
	const struct labelled dns_msgs[] = {
		{ "query", ds.queries },
		{ "response", ds.responses },
		{ "unmatched_response", ds.unmatched_responses },
		{ "duplicate_query", ds.duplicate_queries },
		{ "timeout", ds.timeouts },
	};
	counter_family(out, "flowscope_dns_messages_total", "DNS messages by kind.", "kind",
		       dns_msgs, N_OF(dns_msgs));
	metrics_family(out, "flowscope_dns_queries_pending", "gauge",
		       "DNS queries awaiting a response or their timeout.");
	metrics_sample(out, "flowscope_dns_queries_pending", "", ds.pending);
	metrics_family(out, "flowscope_dns_records_total", "counter", "DNS records exported.");
	metrics_sample(out, "flowscope_dns_records_total", "", ds.records);
	metrics_family(out, "flowscope_dns_names", "gauge", "Addresses with a known name.");
	metrics_sample(out, "flowscope_dns_names", "", ds.names_entries);
	metrics_family(out, "flowscope_dns_names_evicted_total", "counter",
		       "Names evicted by the cache bound.");
	metrics_sample(out, "flowscope_dns_names_evicted_total", "", ds.names_evictions);

	if (a->ct) {
		struct ct_stats cs;

		ct_cache_stats(a->ct, &cs);
		const struct labelled lookups[] = {
			{ "hit", cs.hit },
			{ "miss", cs.miss },
			{ "fallback_hit", cs.fallback_hit },
			{ "fallback_miss", cs.fallback_miss },
			{ "fallback_ratelimited", cs.fallback_ratelimited },
			{ "error", cs.fallback_errors + a->ct_errors },
		};
		counter_family(out, "flowscope_conntrack_lookups_total",
			       "NAT lookups of flows, by outcome.", "result", lookups,
			       N_OF(lookups));
		const struct labelled events[] = {
			{ "eviction", cs.evictions }, { "expiration", cs.expirations },
			{ "resync", cs.resyncs },     { "enobufs", cs.enobufs },
			{ "refresh", cs.refreshes },  { "parse_error", cs.parse_errors },
		};
		counter_family(out, "flowscope_conntrack_cache_events_total",
			       "Conntrack cache maintenance, by kind.", "kind", events,
			       N_OF(events));
		metrics_family(out, "flowscope_conntrack_entries", "gauge",
			       "NAT'd conntrack entries cached.");
		metrics_sample(out, "flowscope_conntrack_entries", "", cs.entries);
	}
	render_sink_metrics(a, out);
}

static int export_interval(struct agent *a, bool final)
{
	int n;

	/* DNS first: answers that arrived before the export name this interval's flows */
	dns_collector_consume(a->dns);
	a->export_mono_ns = mono_ns_now();
	/* and conntrack's latest events, so connections that just ended still resolve */
	if (a->ct)
		process_conntrack(a, a->export_mono_ns);
	cgroup_paths_new_generation(a->cgroup_paths);
	if (a->cgroup_paths_v1)
		cgroup_paths_new_generation(a->cgroup_paths_v1);
	a->export_boot_ns = boot_ns_now();
	a->epoch_to_boot_ns =
		(int64_t)a->export_boot_ns - (int64_t)boot_ns_to_epoch_ns(a->export_boot_ns);
	workload_begin_flows(a->workload);
	a->n_batch = 0;
	n = flow_collector_drain(a->flows, collect_flow, a);
	for (size_t i = 0; i < a->n_batch; i++)
		on_flow(a, &a->batch[i]);
	a->n_batch = 0;
	if (n < 0) {
		LOG_ERR("draining the flow map: %s", strerror(-n));
		return n;
	}
	sink_end_interval(a->sink);
	LOG_DEBUG("interval exported: %d flows", n);
	report_kernel_drops(a, final);
	return 0;
}

/* Like `yes | head`: when nobody reads the records any more, the agent stops. */
static bool stdout_reader_gone(struct agent *a)
{
	struct sink_stdout_stats st;

	if (a->sink_is_kafka)
		return false;
	sink_stdout_stats(a->sink, &st);
	return st.reader_gone;
}

static int add_fd(int epfd, int fd, enum loop_source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = src };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int setup_loop(struct agent *a)
{
	struct itimerspec its = { 0 };
	sigset_t mask;

	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->interval_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (a->epfd < 0 || a->interval_fd < 0 || a->signal_fd < 0)
		return -errno;
	its.it_value.tv_sec = a->cfg->interval_s;
	its.it_interval.tv_sec = a->cfg->interval_s;
	if (timerfd_settime(a->interval_fd, 0, &its, NULL))
		return -errno;
	if (add_fd(a->epfd, a->interval_fd, SRC_INTERVAL) ||
	    add_fd(a->epfd, a->signal_fd, SRC_SIGNAL) ||
	    add_fd(a->epfd, dns_collector_fd(a->dns), SRC_DNS))
		return -errno;
	if (a->ct && add_fd(a->epfd, ct_cache_fd(a->ct), SRC_CONNTRACK))
		return -errno;
	if (add_fd(a->epfd, workload_fd(a->workload), SRC_IDENTITY))
		return -errno;
	if (a->metrics && add_fd(a->epfd, metrics_server_fd(a->metrics), SRC_METRICS))
		return -errno;
	if (!a->sink_is_kafka) {
		/* no event asked: EPOLLERR comes anyway when the pipe's reader closes; files and
		 * terminals that epoll refuses (EPERM) are simply not watched */
		struct epoll_event ev = { .events = 0, .data.u32 = SRC_STDOUT };

		epoll_ctl(a->epfd, EPOLL_CTL_ADD, STDOUT_FILENO, &ev);
	}
	a->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	its.it_value.tv_sec = 1;
	its.it_interval.tv_sec = 1;
	if (a->tick_fd < 0 || timerfd_settime(a->tick_fd, 0, &its, NULL) ||
	    add_fd(a->epfd, a->tick_fd, SRC_TICK))
		return -errno;
	if (a->cfg->duration_s) {
		struct itimerspec once = { .it_value.tv_sec = a->cfg->duration_s };

		a->duration_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (a->duration_fd < 0 || timerfd_settime(a->duration_fd, 0, &once, NULL) ||
		    add_fd(a->epfd, a->duration_fd, SRC_DURATION))
			return -errno;
	}
	return 0;
}

static int run_loop(struct agent *a)
{
	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(a->epfd, evs, 8, 1000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint64_t ticks;

			switch (evs[i].data.u32) {
			case SRC_INTERVAL:
				if (read(a->interval_fd, &ticks, sizeof(ticks)) < 0)
					break;
				if (export_interval(a, false))
					return -EIO;
				if (stdout_reader_gone(a)) {
					LOG_INFO("stdout was closed by its reader; exiting");
					return 0;
				}
				break;
			case SRC_DNS:
				dns_collector_consume(a->dns);
				break;
			case SRC_METRICS:
				metrics_server_run(a->metrics);
				break;
			case SRC_STDOUT:
				LOG_INFO("stdout was closed by its reader; exiting");
				return 0;
			case SRC_CONNTRACK:
				process_conntrack(a, mono_ns_now());
				break;
			case SRC_IDENTITY:
				workload_process(a->workload, mono_ns_now());
				break;
			case SRC_TICK:
				if (read(a->tick_fd, &ticks, sizeof(ticks)) < 0)
					break;
				dns_collector_consume(a->dns);
				dns_collector_expire(a->dns, boot_ns_now());
				/* missing log directories, removed cgroups' cleanup delay */
				workload_process(a->workload, mono_ns_now());
				/* grace-period expiry and refresh dumps run on time, not only on events */
				if (a->ct)
					process_conntrack(a, mono_ns_now());
				/* connection timeouts */
				if (a->metrics)
					metrics_server_run(a->metrics);
				break;
			case SRC_DURATION:
				LOG_INFO("--duration %u s reached", a->cfg->duration_s);
				return 0;
			case SRC_SIGNAL: {
				struct signalfd_siginfo si;

				if (read(a->signal_fd, &si, sizeof(si)) == sizeof(si)) {
					LOG_INFO("%s received, exporting the last interval",
						 strsignal((int)si.ssi_signo));
					return 0;
				}
				break;
			}
			}
		}
		sink_poll(a->sink);
	}
}

static struct sink *create_kafka_sink(const struct config *cfg, char *err, size_t errsz)
{
	struct kafka_sink_config k;

	kafka_sink_config_init(&k);
	k.brokers = cfg->kafka_brokers;
	if (cfg->kafka_topic_flows)
		k.topics[RECORD_FLOW] = cfg->kafka_topic_flows;
	if (cfg->kafka_topic_dns)
		k.topics[RECORD_DNS] = cfg->kafka_topic_dns;
	if (cfg->kafka_topic_events)
		k.topics[RECORD_EVENT] = cfg->kafka_topic_events;
	if (cfg->kafka_format && kafka_format_parse(cfg->kafka_format, &k.format)) {
		snprintf(err, errsz, "invalid value for --kafka-format: '%s'", cfg->kafka_format);
		return NULL;
	}
	k.records_per_message = cfg->kafka_records_per_message;
	if (cfg->kafka_compression)
		k.compression = cfg->kafka_compression;
	k.buffer_bytes = cfg->kafka_buffer_bytes;
	k.flush_timeout_ms = cfg->kafka_flush_timeout_ms;
	k.node_name = cfg->node_name;
	k.options = (const char *const *)cfg->kafka_options;
	k.n_options = cfg->n_kafka_options;
	return sink_kafka_create(&k, err, errsz);
}

/* Kafka settings are checked before anything is loaded: a typo must not cost a BPF load. */
static int check_kafka_config(const struct config *cfg, char *err, size_t errsz)
{
	if (!cfg->kafka_brokers)
		return 0;
	if (sink_kafka_check_brokers(cfg->kafka_brokers, err, errsz))
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_kafka_options; i++)
		if (sink_kafka_check_option(cfg->kafka_options[i], err, errsz))
			return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct agent a = {
		.epfd = -1, .interval_fd = -1, .duration_fd = -1, .signal_fd = -1, .tick_fd = -1
	};
	struct dns_collector_opts dopts = { 0 };
	struct flow_collector_opts fopts = { 0 };
	char err[512], attach_path[PATH_MAX];
	struct config cfg;
	int ret, exit_code = EXIT_RUNTIME;
	uint64_t lost;

	config_defaults(&cfg);
	switch (config_parse(&cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT_OK:
		config_free(&cfg);
		return 0;
	case CONFIG_USAGE:
		fprintf(stderr, "flowscope: %s (see --help)\n", err);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	a.cfg = &cfg;
	if (check_kafka_config(&cfg, err, sizeof(err))) {
		fprintf(stderr, "flowscope: %s (see --help)\n", err);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	log_set_level(cfg.log_level);
	libbpf_debug = cfg.libbpf_debug;
	libbpf_set_print(libbpf_print);
	signal(SIGPIPE, SIG_IGN);

	if (check_prerequisites(&a))
		goto cleanup;
	if (cfg.cgroup_root) {
		if (!realpath(cfg.cgroup_root, attach_path)) {
			LOG_ERR("--cgroup-root %s: %s", cfg.cgroup_root, strerror(errno));
			goto cleanup;
		}
	} else {
		snprintf(attach_path, sizeof(attach_path), "%s", a.cgroup_mount);
	}
	a.cgroup_paths = cgroup_paths_new(a.cgroup_mount);
	if (!a.cgroup_paths) {
		LOG_ERR("opening the cgroup v2 mount %s: %s", a.cgroup_mount, strerror(errno));
		goto cleanup;
	}
	LOG_INFO("%s", a.cgroup_mode.reason);
	if (a.cgroup_mode.mode == CGROUP_MODE_V1) {
		a.cgroup_paths_v1 = cgroup_paths_new(a.cgroup_mode.v1_memory_mount);
		if (!a.cgroup_paths_v1) {
			LOG_ERR("opening the cgroup v1 memory mount %s: %s",
				a.cgroup_mode.v1_memory_mount, strerror(errno));
			goto cleanup;
		}
	}

	/* The Kafka sink comes after the programs are attached, so the producer's sockets get an
	 * owner record and are recognised as the agent's own. */
	if (!cfg.kafka_brokers) {
		a.sink = sink_stdout_create(STDOUT_FILENO, cfg.node_name);
		if (!a.sink) {
			LOG_ERR("creating the stdout sink: out of memory");
			goto cleanup;
		}
	}

	{
		struct workload_opts wopts = {
			.pod_logs_dir = cfg.pod_logs_dir,
			.container_logs_dir = cfg.container_logs_dir,
			.cleanup_delay_ns = (uint64_t)cfg.cgroup_cleanup_delay_s * 1000000000ull,
			.max_flows = cfg.max_flows,
			.paths_v2 = a.cgroup_paths,
			.paths_v1 = a.cgroup_paths_v1,
		};

		ret = workload_new(&wopts, mono_ns_now(), &a.workload);
		if (ret) {
			LOG_ERR("setting up pod metadata (inotify): %s", strerror(-ret));
			goto cleanup;
		}
	}

	fopts.cgroup_path = attach_path;
	fopts.max_flows = cfg.max_flows;
	fopts.dns_ports = cfg.dns_ports;
	fopts.n_dns_ports = cfg.n_dns_ports;
	fopts.dns_ringbuf_bytes = cfg.dns_ringbuf_bytes;
	fopts.cgroup_mode = a.cgroup_mode.mode == CGROUP_MODE_V1 ? FLOW_CGROUP_MODE_V1
								 : FLOW_CGROUP_MODE_V2;
	ret = flow_collector_open(&fopts, &a.flows, err, sizeof(err));
	if (ret) {
		LOG_ERR("%s", err);
		goto cleanup;
	}
	if (cfg.kafka_brokers) {
		a.sink = create_kafka_sink(&cfg, err, sizeof(err));
		a.sink_is_kafka = true;
		if (!a.sink) {
			fprintf(stderr, "flowscope: %s\n", err);
			exit_code = EXIT_USAGE;
			goto cleanup;
		}
	}

	dopts.timeout_ns = (uint64_t)cfg.dns_timeout_ms * 1000000ull;
	dopts.max_pending = 65536;
	dopts.max_names = 65536;
	/* a flow exported up to one interval after its lookup must still find its name */
	dopts.min_hold_ns = DNS_NAMES_MIN_HOLD_NS;
	if (dopts.min_hold_ns < 2ull * cfg.interval_s * 1000000000ull)
		dopts.min_hold_ns = 2ull * cfg.interval_s * 1000000000ull;
	dopts.max_tcp_streams = 4096;
	dopts.cgroup_paths = a.cgroup_paths;
	dopts.cgroup_paths_v1 = a.cgroup_paths_v1;
	dopts.enrich = enrich_dns;
	dopts.enrich_arg = &a;
	dopts.sink = a.sink;
	ret = dns_collector_open(flow_collector_skel(a.flows), &dopts, &a.dns);
	if (ret) {
		LOG_ERR("opening the DNS ring buffer: %s", strerror(-ret));
		goto cleanup;
	}
	if (cfg.conntrack) {
		struct ct_cache_opts copts;

		ct_cache_opts_init(&copts);
		copts.netns_path = cfg.conntrack_netns;
		copts.max_entries = cfg.conntrack_max_entries;
		copts.event_rcvbuf = cfg.conntrack_rcvbuf_bytes;
		/* connections that ended during an interval must resolve at its export */
		copts.grace_ns = 60ull * 1000000000ull;
		if (copts.grace_ns < 4ull * cfg.interval_s * 1000000000ull)
			copts.grace_ns = 4ull * cfg.interval_s * 1000000000ull;
		ret = ct_cache_create(&copts, mono_ns_now(), &a.ct);
		if (ret) {
			LOG_ERR("opening conntrack%s%s: %s%s", cfg.conntrack_netns ? " in " : "",
				cfg.conntrack_netns ? cfg.conntrack_netns : "", strerror(-ret),
				ret == -EPERM ? " (needs CAP_NET_ADMIN and, for --conntrack-netns, "
						"CAP_SYS_ADMIN)"
					      : "; --no-conntrack runs without NAT resolution");
			goto cleanup;
		}
	}
	if (cfg.metrics_addr) {
		ret = metrics_server_start(cfg.metrics_addr, render_metrics, &a, &a.metrics, err,
					   sizeof(err));
		if (ret) {
			LOG_ERR("%s", err);
			goto cleanup;
		}
		LOG_INFO("serving metrics at http://%s/metrics", cfg.metrics_addr);
	}
	LOG_INFO("attached to cgroup %s; exporting every %u s", attach_path, cfg.interval_s);

	ret = setup_loop(&a);
	if (ret) {
		LOG_ERR("setting up the event loop: %s", strerror(-ret));
		goto cleanup;
	}
	ret = run_loop(&a);
	if (ret)
		LOG_ERR("event loop: %s", strerror(-ret));
	if (export_interval(&a, true) == 0 && ret == 0)
		exit_code = 0;

cleanup:
	if (a.sink) {
		lost = sink_close(a.sink);
		if (lost)
			LOG_WARN("%llu records could not be delivered", (unsigned long long)lost);
	}
	metrics_server_stop(a.metrics);
	ct_cache_destroy(a.ct);
	dns_collector_close(a.dns);
	flow_collector_close(a.flows);
	workload_free(a.workload);
	free(a.batch);
	cgroup_paths_free(a.cgroup_paths_v1);
	cgroup_paths_free(a.cgroup_paths);
	if (a.tick_fd >= 0)
		close(a.tick_fd);
	if (a.signal_fd >= 0)
		close(a.signal_fd);
	if (a.duration_fd >= 0)
		close(a.duration_fd);
	if (a.interval_fd >= 0)
		close(a.interval_fd);
	if (a.epfd >= 0)
		close(a.epfd);
	config_free(&cfg);
	return exit_code;
}
