// SPDX-License-Identifier: Apache-2.0
/*
 * flowscope: wiring only. Parses the configuration, builds the parts in order (sink, sources,
 * pipeline stages, /metrics), runs the loop, and tears them down in reverse: /metrics first, the
 * sink last. How the parts fit: DEVELOPERS.md.
 */
#include <errno.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "cgroup_mode.h"
#include "cgroup_paths.h"
#include "clock.h"
#include "config.h"
#include "counters.h"
#include "ct.h"
#include "dns.h"
#include "dns_collector.h"
#include "tracer_collector.h"
#include "enrich.h"
#include "flow_collector.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "pipeline.h"
#include "policy.h"
#include "prereq.h"
#include "kafka_config.h"
#include "schema_registry.h"
#include "sink_stdout.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

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

static void on_signal(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events, (void)arg;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	LOG_INFO("%s received, exporting the last interval", strsignal((int)si.ssi_signo));
	loop_stop(l, 0);
}

static void on_duration(struct loop *l, uint64_t expirations, void *arg)
{
	(void)expirations;
	LOG_INFO("--duration %u s reached", ((const struct config *)arg)->duration_s);
	loop_stop(l, 0);
}

/* SIGINT and SIGTERM end the loop (through a signalfd). Returns the fd or -errno. */
static int watch_signals(struct loop *l)
{
	sigset_t mask;
	int fd, ret;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	ret = loop_add_fd(l, fd, EPOLLIN, on_signal, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static void dns_opts_of(const struct config *cfg, struct dns_collector_opts *d)
{
	memset(d, 0, sizeof(*d));
	d->timeout_ns = (uint64_t)cfg->dns_timeout_ms * 1000000ull;
	d->max_pending = 65536;
	d->max_names = 65536;
	/* a flow exported up to one interval after its lookup must still find its name */
	d->min_hold_ns = DNS_NAMES_MIN_HOLD_NS;
	if (d->min_hold_ns < 2ull * cfg->interval_s * 1000000000ull)
		d->min_hold_ns = 2ull * cfg->interval_s * 1000000000ull;
	d->max_tcp_streams = 4096;
	d->warn_interval_ns = (uint64_t)cfg->interval_s * 1000000000ull;
}

static int new_conntrack(const struct config *cfg, struct ct_nat **out)
{
	struct ct_nat_opts copts;
	int ret;

	ct_nat_opts_init(&copts);
	copts.netlink.netns_path = cfg->conntrack_netns;
	copts.table.max_entries = cfg->conntrack_max_entries;
	copts.netlink.event_rcvbuf = cfg->conntrack_rcvbuf_bytes;
	/* connections that ended during an interval must resolve at its export */
	copts.table.grace_ns = 60ull * 1000000000ull;
	if (copts.table.grace_ns < 4ull * cfg->interval_s * 1000000000ull)
		copts.table.grace_ns = 4ull * cfg->interval_s * 1000000000ull;
	ret = ct_nat_create(&copts, clock_mono_ns(), out);
	if (ret)
		LOG_ERR("opening conntrack%s%s: %s%s", cfg->conntrack_netns ? " in " : "",
			cfg->conntrack_netns ? cfg->conntrack_netns : "", strerror(-ret),
			ret == -EPERM ? " (needs CAP_NET_ADMIN and, for --conntrack-netns, "
					"CAP_SYS_ADMIN)"
				      : "; --no-conntrack runs without NAT resolution");
	return ret;
}

/* Every part, in the order main() builds them; torn down in reverse. */
struct agent {
	struct loop *loop;
	int signal_fd;
	struct counters *counters;
	struct cgroup_paths *cgroup_paths;
	struct cgroup_paths *cgroup_paths_v1; /* --cgroup-mode v1: the v1 memory hierarchy's */
	struct enrich_cgroup_paths paths; /* both, for the stages */
	struct sink *sink;
	struct flow_collector *flows;
	struct dns_collector *dns;
	struct tracer_collector *tracer; /* NULL with --events none */
	struct ct_nat *ct; /* NULL with --no-conntrack */
	struct enrich_nat *nat;
	struct enrich_domain *domain;
	struct enrich_identity *identity;
	struct pipeline *pipeline;
	struct metrics_server *metrics;
};

static uint64_t probe_last_export(void *arg)
{
	return flow_collector_last_export_ns(((struct agent *)arg)->flows);
}

static bool probe_sink_ready(void *arg, char *why, size_t size)
{
	return sink_ready(((struct agent *)arg)->sink, why, size);
}

static int run(const struct config *cfg, struct agent *a, int *exit_code)
{
	struct flow_collector_opts fopts = { 0 };
	struct dns_collector_opts dopts;
	char err[512], attach_path[PATH_MAX];
	bool kafka_usage = true;
	static struct cgroup_mode_choice mode;
	const char *cgroup_mount = mode.v2_mount;
	struct pipeline_stage stage;
	int ret;

	if (prereq_check(cfg, &mode))
		return -1;
	if (cfg->cgroup_root) {
		if (!realpath(cfg->cgroup_root, attach_path)) {
			LOG_ERR("--cgroup-root %s: %s", cfg->cgroup_root, strerror(errno));
			return -1;
		}
		if (!cgroup_v2_is_dir(attach_path)) {
			LOG_ERR("--cgroup-root %s: not a directory of the cgroup v2 hierarchy, "
				"which is "
				"mounted at %s (give a directory below it)",
				cfg->cgroup_root, cgroup_mount);
			return -1;
		}
	} else {
		snprintf(attach_path, sizeof(attach_path), "%s", cgroup_mount);
	}
	a->loop = loop_create();
	a->counters = counters_create();
	if (!a->loop || !a->counters) {
		LOG_ERR("setting up the event loop: %s", strerror(errno));
		return -1;
	}
	a->signal_fd = watch_signals(a->loop);
	if (a->signal_fd < 0) {
		LOG_ERR("setting up the event loop: %s", strerror(-a->signal_fd));
		return -1;
	}
	a->cgroup_paths = cgroup_paths_create(cgroup_mount);
	if (!a->cgroup_paths) {
		LOG_ERR("opening the cgroup v2 mount %s: %s", cgroup_mount, strerror(errno));
		return -1;
	}
	LOG_INFO("%s", mode.reason);
	if (mode.mode == CGROUP_MODE_V1 &&
	    !(a->cgroup_paths_v1 = cgroup_paths_create(mode.v1_memory_mount))) {
		LOG_ERR("opening the cgroup v1 memory mount %s: %s", mode.v1_memory_mount,
			strerror(errno));
		return -1;
	}
	a->paths.v2 = a->cgroup_paths;
	a->paths.v1 = a->cgroup_paths_v1;
	/* The Kafka sink comes after the programs are attached, so the producer's sockets get an
	 * owner record and are recognised as the agent's own. */
	if (!cfg->kafka_brokers && !(a->sink = sink_stdout_create(STDOUT_FILENO, cfg->node_name))) {
		LOG_ERR("creating the stdout sink: out of memory");
		return -1;
	}
	fopts.cgroup_path = attach_path;
	fopts.max_flows = cfg->max_flows;
	fopts.dns_ports = cfg->dns_ports;
	fopts.n_dns_ports = cfg->n_dns_ports;
	fopts.dns_ringbuf_bytes = cfg->dns_ringbuf_bytes;
	fopts.cgroup_mode = mode.mode == CGROUP_MODE_V1 ? FLOW_CGROUP_MODE_V1 : FLOW_CGROUP_MODE_V2;
	fopts.dns_capture_max_bytes = cfg->dns_capture_max_bytes;
	if (flow_collector_create(&fopts, &a->flows, err, sizeof(err))) {
		LOG_ERR("%s", err);
		return -1;
	}
	if (cfg->kafka_brokers &&
	    !(a->sink = kafka_sink_from_config(cfg, &kafka_usage, err, sizeof(err)))) {
		LOG_ERR("%s", err);
		*exit_code = kafka_usage ? EXIT_USAGE : EXIT_RUNTIME;
		return -1;
	}
	dns_opts_of(cfg, &dopts);
	ret = dns_collector_create(a->flows, &dopts, &a->dns);
	if (ret) {
		LOG_ERR("opening the DNS ring buffer: %s", strerror(-ret));
		return -1;
	}
	struct tracer_collector_opts topts = {
		.events = cfg->events,
		.policy_file = cfg->policy_file,
		.ringbuf_bytes = cfg->events_ringbuf_bytes,
		.cleanup_delay_ns = (uint64_t)cfg->cgroup_cleanup_delay_s * 1000000000ULL,
		.debug = cfg->tracer_debug,
		.cgroup_root = attach_path,
		.cgroup_v1_mount = mode.mode == CGROUP_MODE_V1 ? mode.v1_memory_mount : NULL,
		.warn_interval_ns = (uint64_t)cfg->interval_s * 1000000000ull,
	};

	switch (tracer_collector_create(&topts, &a->tracer, err, sizeof(err))) {
	case TRACER_OK:
	case TRACER_OFF:
		break;
	case TRACER_USAGE:
		/* main() resolved the same policy before probing: the file changed since */
		LOG_ERR("%s", err);
		*exit_code = EXIT_USAGE;
		return -1;
	default:
		LOG_ERR("%s", err);
		return -1;
	}
	if (cfg->conntrack && new_conntrack(cfg, &a->ct))
		return -1;

	/* the record path: sources -> stages in order -> sink */
	a->pipeline = pipeline_create(a->sink);
	if (!a->pipeline)
		goto nomem;
	{
		struct enrich_identity_opts io = {
			.pod_logs_dir = cfg->pod_logs_dir,
			.container_logs_dir = cfg->container_logs_dir,
			.cleanup_delay_ns = (uint64_t)cfg->cgroup_cleanup_delay_s * 1000000000ull,
			.max_flows = cfg->max_flows,
			.paths = &a->paths,
		};

		a->identity = enrich_identity_create(&io, a->loop, a->counters);
		if (!a->identity) {
			LOG_ERR("setting up pod metadata (inotify): %s", strerror(errno));
			return -1;
		}
	}
	/* first, before any stage that may defer: every flow's tuple, for the local-peer match */
	stage = enrich_identity_index_stage(a->identity);
	if (pipeline_add_stage(a->pipeline, &stage) < 0)
		goto nomem;
	stage = enrich_cgroup_stage(&a->paths);
	if (pipeline_add_stage(a->pipeline, &stage) < 0)
		goto nomem;
	if (a->ct) {
		a->nat = enrich_nat_create(a->ct, a->loop, a->counters);
		if (!a->nat)
			goto nomem;
		stage = enrich_nat_stage(a->nat);
		if (pipeline_add_stage(a->pipeline, &stage) < 0)
			goto nomem;
	}
	a->domain = enrich_domain_create(a->dns);
	if (!a->domain)
		goto nomem;
	stage = enrich_domain_stage(a->domain);
	if (pipeline_add_stage(a->pipeline, &stage) < 0)
		goto nomem;
	/* last: it holds each interval's flows until all are known (local peers) */
	stage = enrich_identity_stage(a->identity);
	if (pipeline_add_stage(a->pipeline, &stage) < 0)
		goto nomem;

	/* sources and the sink join the loop; counters in the order /metrics lists them */
	if (flow_collector_attach(a->flows, a->loop, a->pipeline, cfg->interval_s) ||
	    dns_collector_attach(a->dns, a->loop, a->pipeline) ||
	    (a->tracer && tracer_collector_attach(a->tracer, a->loop, a->pipeline)) ||
	    sink_attach(a->sink, a->loop) ||
	    (cfg->duration_s && loop_add_oneshot(a->loop, (uint64_t)cfg->duration_s * 1000,
						 on_duration, (void *)cfg) < 0))
		goto nomem;
	if (flow_collector_register_counters(a->flows, a->counters) ||
	    dns_collector_register_counters(a->dns, a->counters) ||
	    (a->tracer && tracer_collector_register_counters(a->tracer, a->counters)) ||
	    pipeline_register_counters(a->pipeline, a->counters) ||
	    sink_register_counters(a->sink, a->counters))
		goto nomem;
	if (cfg->metrics_addr) {
		if (metrics_server_create(cfg->metrics_addr, a->counters, a->loop, &a->metrics, err,
					  sizeof(err))) {
			LOG_ERR("%s", err);
			return -1;
		}
		struct metrics_probes probes = {
			.interval_ns = (uint64_t)cfg->interval_s * 1000000000ull,
			.attached_ns = clock_mono_ns(),
			.last_export_ns = probe_last_export,
			.sink_ready = probe_sink_ready,
			.arg = a,
		};

		metrics_server_set_probes(a->metrics, &probes);
		LOG_INFO("serving metrics at http://%s/metrics (probes: /healthz, /readyz)",
			 cfg->metrics_addr);
	}
	{
		char msg[PATH_MAX + 64];

		snprintf(msg, sizeof(msg), "attached to cgroup %s; exporting every %u s",
			 attach_path, cfg->interval_s);
		LOG_FIELDS(LOG_LEVEL_INFO, msg, LOG_STR("cgroup", attach_path),
			   LOG_U64("interval_s", cfg->interval_s),
			   LOG_STR("sink", cfg->kafka_brokers ? "kafka" : "stdout"));
	}

	ret = loop_run(a->loop);
	if (ret)
		LOG_ERR("event loop: %s", strerror(-ret));
	/* the events still in the tracer's ring, the last interval, then what stages still hold */
	tracer_collector_drain(a->tracer);
	if (flow_collector_export(a->flows) == 0 && ret == 0)
		*exit_code = 0;
	pipeline_flush(a->pipeline);
	/* the sink's flush before the exit log, so that its delivered/failed counts are final */
	sink_flush(a->sink);
	/* a closed stdout reader is a normal end (`| head`); a write error is not */
	if (sink_failed(a->sink))
		*exit_code = EXIT_RUNTIME;
	dns_collector_log_parse_errors(a->dns);
	counters_log(a->counters);
	return 0;
nomem:
	LOG_ERR("setting up the agent: %s", strerror(errno ? errno : ENOMEM));
	return -1;
}

static void teardown(struct agent *a)
{
	uint64_t lost;

	/* /metrics first: its pages read every part below */
	metrics_server_destroy(a->metrics);
	counters_destroy(a->counters);
	/* the sources before the pipeline they hold (->pipeline), the sink last */
	tracer_collector_destroy(a->tracer);
	dns_collector_destroy(a->dns);
	flow_collector_destroy(a->flows);
	pipeline_destroy(a->pipeline);
	enrich_identity_destroy(a->identity);
	enrich_domain_destroy(a->domain);
	enrich_nat_destroy(a->nat);
	ct_nat_destroy(a->ct);
	cgroup_paths_destroy(a->cgroup_paths_v1);
	cgroup_paths_destroy(a->cgroup_paths);
	if (a->sink) {
		lost = sink_destroy(a->sink);
		if (lost) {
			char msg[64];

			snprintf(msg, sizeof(msg), "%llu records could not be delivered",
				 (unsigned long long)lost);
			LOG_FIELDS(LOG_LEVEL_WARN, msg, LOG_U64("records", lost));
		}
	}
	if (a->signal_fd >= 0)
		close(a->signal_fd);
	loop_destroy(a->loop);
}

/*
 * The tracer's --events/--policy, resolved before any probing or info line, so that a bad list
 * or policy is a usage error first; --policy-check FILE ends here. Returns -1 to go on, else
 * the exit status.
 */
static int check_tracer_options(const struct config *cfg)
{
	struct policy *policy = NULL;
	char err[512];
	int ret;

	if (cfg->policy_check_file && (cfg->events || cfg->policy_file)) {
		LOG_ERR("--policy-check checks one file: give no --events or --policy with it");
		return EXIT_USAGE;
	}
	if (cfg->policy_check_file) {
		ret = tracer_collector_check_policy(cfg->policy_check_file, stdout, err,
						    sizeof(err));
	} else {
		ret = tracer_collector_policy(cfg->events, cfg->policy_file, &policy, err,
					      sizeof(err));
		policy_destroy(policy);
	}
	if (ret == TRACER_USAGE || ret == TRACER_FAILED) {
		LOG_ERR("%s", err);
		return ret == TRACER_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
	}
	return cfg->policy_check_file ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct agent a = { .signal_fd = -1 };
	int exit_code = EXIT_RUNTIME;
	struct config cfg;
	char err[512];
	int ret;

	config_defaults(&cfg);
	ret = config_parse(&cfg, argc, argv, err, sizeof(err));
	/* errors below in the format asked for, when it was parsed before the error */
	log_set_format(cfg.log_format);
	switch (ret) {
	case CONFIG_OK:
		break;
	case CONFIG_EXIT_OK:
		config_free(&cfg);
		return 0;
	case CONFIG_USAGE:
		LOG_ERR("%s (see --help)", err);
		config_free(&cfg);
		return EXIT_USAGE;
	case CONFIG_NOMEM:
		LOG_ERR("%s", err);
		config_free(&cfg);
		return EXIT_RUNTIME;
	}
	if (kafka_config_check(&cfg, err, sizeof(err))) {
		LOG_ERR("%s (see --help)", err);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	ret = check_tracer_options(&cfg);
	if (ret >= 0) {
		config_free(&cfg);
		return ret;
	}
	log_set_level(cfg.log_level);
	libbpf_debug = cfg.libbpf_debug;
	libbpf_set_print(libbpf_print);
	signal(SIGPIPE, SIG_IGN);
	/* libcurl's global set-up while this is the only thread: librdkafka's and libmicrohttpd's
	 * threads start in run() */
	if (cfg.kafka_schema_registry && schema_registry_global_init(err, sizeof(err))) {
		LOG_ERR("%s", err);
		config_free(&cfg);
		return EXIT_RUNTIME;
	}

	run(&cfg, &a, &exit_code);
	teardown(&a);
	/* after teardown: every client and every other thread is gone */
	schema_registry_global_cleanup();
	config_free(&cfg);
	return exit_code;
}
