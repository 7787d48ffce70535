// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_mode.h"
#include "config.h"
#include "log.h"
#include "metrics.h"

#ifndef FLOWSCOPE_VERSION
#define FLOWSCOPE_VERSION "0.0.0"
#endif

struct opt_def;
typedef enum config_status (*opt_setter)(struct config *cfg, const struct opt_def *o,
					 const char *val, char *err, size_t errsz);

struct opt_def {
	const char *name;
	const char *metavar; /* NULL: a flag without a value */
	opt_setter set;
	size_t offset; /* field in struct config */
	uint64_t min, max; /* numeric range */
	const char *help;
};

static enum config_status usage_err(char *err, size_t errsz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum config_status usage_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return CONFIG_USAGE;
}

static enum config_status nomem_err(char *err, size_t errsz, const char *what)
{
	snprintf(err, errsz, "out of memory reading %s", what);
	return CONFIG_NOMEM;
}

static enum config_status parse_u64(const struct opt_def *o, const char *val, uint64_t *out,
				    char *err, size_t errsz)
{
	unsigned long long v;
	char *end;

	errno = 0;
	/* strtoull() would take leading blanks and signs */
	if (*val < '0' || *val > '9')
		goto bad;
	v = strtoull(val, &end, 10);
	if (errno || *end || v < o->min || v > o->max)
		goto bad;
	*out = v;
	return CONFIG_OK;
bad:
	return usage_err(err, errsz,
			 "invalid value for --%s: '%s' (expected an integer %llu..%llu)", o->name,
			 val, (unsigned long long)o->min, (unsigned long long)o->max);
}

static enum config_status set_u32(struct config *cfg, const struct opt_def *o, const char *val,
				  char *err, size_t errsz)
{
	uint64_t v = 0;

	if (parse_u64(o, val, &v, err, errsz))
		return CONFIG_USAGE;
	*(uint32_t *)((char *)cfg + o->offset) = (uint32_t)v;
	return CONFIG_OK;
}

static enum config_status set_u64(struct config *cfg, const struct opt_def *o, const char *val,
				  char *err, size_t errsz)
{
	uint64_t v = 0;

	if (parse_u64(o, val, &v, err, errsz))
		return CONFIG_USAGE;
	*(uint64_t *)((char *)cfg + o->offset) = v;
	return CONFIG_OK;
}

static enum config_status set_str(struct config *cfg, const struct opt_def *o, const char *val,
				  char *err, size_t errsz)
{
	char **field = (char **)((char *)cfg + o->offset);
	char *copy;

	if (!*val)
		return usage_err(err, errsz, "invalid value for --%s: empty", o->name);
	copy = strdup(val);
	if (!copy)
		return nomem_err(err, errsz, o->name);
	free(*field);
	*field = copy;
	return CONFIG_OK;
}

static enum config_status set_choice(struct config *cfg, const struct opt_def *o, const char *val,
				     char *err, size_t errsz, const char *const *choices)
{
	char list[128] = "";
	size_t n = 0;

	for (size_t i = 0; choices[i]; i++) {
		if (!strcmp(val, choices[i]))
			return set_str(cfg, o, val, err, errsz);
		n += (size_t)snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s",
				      i ? "|" : "", choices[i]);
	}
	return usage_err(err, errsz, "invalid value for --%s: '%s' (expected %s)", o->name, val,
			 list);
}

/* BPF ring buffers are a power of two of pages (kernel/bpf/ringbuf.c). */
static enum config_status set_pow2_u32(struct config *cfg, const struct opt_def *o, const char *val,
				       char *err, size_t errsz)
{
	/* set on every path: gcc 12 at -O3 cannot see that parse_u64() fails whenever it leaves
	 * v unset (-Wmaybe-uninitialized) */
	uint64_t v = 0;

	if (parse_u64(o, val, &v, err, errsz))
		return CONFIG_USAGE;
	if (v & (v - 1))
		return usage_err(err, errsz,
				 "invalid value for --%s: '%s' (expected a power of two)", o->name,
				 val);
	*(uint32_t *)((char *)cfg + o->offset) = (uint32_t)v;
	return CONFIG_OK;
}

static enum config_status set_metrics_addr(struct config *cfg, const struct opt_def *o,
					   const char *val, char *err, size_t errsz)
{
	if (metrics_addr_check(val))
		return usage_err(err, errsz, "invalid value for --%s: '%s' (expected %s)", o->name,
				 val, o->metavar);
	return set_str(cfg, o, val, err, errsz);
}

static enum config_status set_kafka_format(struct config *cfg, const struct opt_def *o,
					   const char *val, char *err, size_t errsz)
{
	static const char *const choices[] = { "json", "protobuf", "protobuf-sr", NULL };

	return set_choice(cfg, o, val, err, errsz, choices);
}

static enum config_status set_cgroup_mode(struct config *cfg, const struct opt_def *o,
					  const char *val, char *err, size_t errsz)
{
	enum cgroup_mode mode;

	if (cgroup_mode_parse(val, &mode))
		return usage_err(err, errsz,
				 "invalid value for --%s: '%s' (expected auto, v2 or v1)", o->name,
				 val);
	cfg->cgroup_mode = mode;
	return CONFIG_OK;
}

static enum config_status set_kafka_compression(struct config *cfg, const struct opt_def *o,
						const char *val, char *err, size_t errsz)
{
	static const char *const choices[] = { "none", "gzip", "snappy", "lz4", "zstd", NULL };

	return set_choice(cfg, o, val, err, errsz, choices);
}

static enum config_status set_log_level(struct config *cfg, const struct opt_def *o,
					const char *val, char *err, size_t errsz)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	/* "warning" is what the log lines say (text and JSON `level`); "warn" is an alias */
	if (!strcmp(val, "warn"))
		val = "warning";
	for (int i = 0; i < 4; i++) {
		if (!strcmp(val, names[i])) {
			cfg->log_level = i;
			return CONFIG_OK;
		}
	}
	return usage_err(err, errsz,
			 "invalid value for --%s: '%s' (expected error|warning|info|debug; warn is "
			 "an alias of warning)",
			 o->name, val);
}

static enum config_status set_log_format(struct config *cfg, const struct opt_def *o,
					 const char *val, char *err, size_t errsz)
{
	enum log_format f;

	if (log_format_parse(val, &f))
		return usage_err(err, errsz, "invalid value for --%s: '%s' (expected %s)", o->name,
				 val, o->metavar);
	cfg->log_format = (int)f;
	return CONFIG_OK;
}

static enum config_status set_verbose(struct config *cfg, const struct opt_def *o, const char *val,
				      char *err, size_t errsz)
{
	(void)o, (void)val, (void)err, (void)errsz;
	cfg->log_level = LOG_LEVEL_DEBUG;
	cfg->libbpf_debug = true;
	return CONFIG_OK;
}

static enum config_status set_no_conntrack(struct config *cfg, const struct opt_def *o,
					   const char *val, char *err, size_t errsz)
{
	(void)o, (void)val, (void)err, (void)errsz;
	cfg->conntrack = false;
	return CONFIG_OK;
}

static enum config_status set_debug(struct config *cfg, const struct opt_def *o, const char *val,
				    char *err, size_t errsz)
{
	(void)o, (void)val, (void)err, (void)errsz;
	cfg->tracer_debug = true;
	return CONFIG_OK;
}

/* "53,5353": replaces the list (the default 53 is not kept unless named). */
static enum config_status set_dns_ports(struct config *cfg, const struct opt_def *o,
					const char *val, char *err, size_t errsz)
{
	char *copy = strdup(val), *save = NULL, *tok;
	enum config_status st = CONFIG_OK;
	size_t n = 0;

	if (!copy)
		return nomem_err(err, errsz, o->name);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t port = 0;

		if (n == CONFIG_MAX_DNS_PORTS) {
			st = usage_err(err, errsz, "invalid value for --%s: more than %d ports",
				       o->name, CONFIG_MAX_DNS_PORTS);
			goto done;
		}
		if (parse_u64(o, tok, &port, err, errsz)) {
			st = CONFIG_USAGE;
			goto done;
		}
		cfg->dns_ports[n++] = (uint16_t)port;
	}
	if (n == 0) {
		st = usage_err(err, errsz, "invalid value for --%s: '%s' (expected PORT[,PORT...])",
			       o->name, val);
		goto done;
	}
	cfg->n_dns_ports = n;
done:
	free(copy);
	return st;
}

static enum config_status add_kafka_option(struct config *cfg, const struct opt_def *o,
					   const char *val, char *err, size_t errsz)
{
	const char *eq = strchr(val, '=');

	if (!eq || eq == val)
		return usage_err(err, errsz, "invalid value for --%s: expected key=value", o->name);
	if (cfg->n_kafka_options == CONFIG_MAX_KAFKA_OPTIONS)
		return usage_err(err, errsz, "too many --%s (at most %d)", o->name,
				 CONFIG_MAX_KAFKA_OPTIONS);
	char *copy = strdup(val);

	if (!copy)
		return nomem_err(err, errsz, o->name);
	cfg->kafka_options[cfg->n_kafka_options++] = copy;
	return CONFIG_OK;
}

#define OFF(f) offsetof(struct config, f)

/* The one table behind getopt_long, the config file and --help. */
static const struct opt_def opts[] = {
	{ "config", "FILE", NULL, 0, 0, 0,
	  "read options from an INI file first (keys are the long option names)" },
	{ "interval", "SECONDS", set_u32, OFF(interval_s), 1, 86400,
	  "export interval (default 15)" },
	{ "duration", "SECONDS", set_u32, OFF(duration_s), 0, UINT32_MAX,
	  "exit cleanly after this long, exporting the last interval (default 0: run until "
	  "SIGINT/SIGTERM)" },
	{ "max-flows", "N", set_u32, OFF(max_flows), 16, 1u << 24,
	  "flows tracked per interval; packets beyond are counted as dropped (default 65536)" },
	{ "cgroup-root", "PATH", set_str, OFF(cgroup_root), 0, 0,
	  "attach to this cgroup v2 subtree instead of the whole hierarchy: flows and tracer "
	  "events of its tasks only" },
	{ "cgroup-mode", "auto|v2|v1", set_cgroup_mode, 0, 0, 0,
	  "attribute flows to cgroup v2 groups, or to the socket creator's v1 memory cgroup "
	  "(hybrid and legacy hosts); auto: v1 when a v1 memory hierarchy is mounted (default "
	  "auto)" },
	{ "cgroup-cleanup-delay", "SECONDS", set_u32, OFF(cgroup_cleanup_delay_s), 0, 86400,
	  "a removed cgroup's container and pod names and its tracer state are kept this long, "
	  "for late records (default 60)" },
	{ "pod-logs-dir", "PATH", set_str, OFF(pod_logs_dir), 0, 0,
	  "kubelet's pod log directory, read for pod namespaces and names (default "
	  "/var/log/pods)" },
	{ "container-logs-dir", "PATH", set_str, OFF(container_logs_dir), 0, 0,
	  "kubelet's container log links, read for container names (default "
	  "/var/log/containers)" },
	{ "node-name", "NAME", set_str, OFF(node_name), 0, 0,
	  "node name carried by every record (default: $NODE_NAME, else the hostname)" },
	{ "dns-ports", "PORT[,PORT...]", set_dns_ports, 0, 1, 65535,
	  "UDP/TCP ports whose traffic is parsed as DNS (default 53)" },
	{ "dns-timeout", "MS", set_u32, OFF(dns_timeout_ms), 1, 3600000,
	  "a query without a response after this long is reported as TIMEOUT (default 5000)" },
	{ "dns-ringbuf-bytes", "BYTES", set_pow2_u32, OFF(dns_ringbuf_bytes), 4096, 1u << 30,
	  "kernel-to-agent buffer for DNS packets, a power of two; packets that find it full are "
	  "counted (default 4194304)" },
	{ "dns-capture-max-bytes", "BYTES", set_u32, OFF(dns_capture_max_bytes), 12, 65535,
	  "DNS payload bytes captured per packet; a longer message is cut, reported with "
	  "\"truncated\": true and counted (default 65535: every message whole)" },
	{ "events", "NAME[,NAME...]|none", set_str, OFF(events), 0, 0,
	  "tracer events to report (default: sched_process_exec, sched_process_exit, tcp_connect, "
	  "tcp_accept, tcp_connect_error, oom_kill, cgroup_mkdir, cgroup_rmdir, "
	  "cgroup_attach_task; none: no tracer)" },
	{ "policy", "FILE", set_str, OFF(policy_file), 0, 0,
	  "tracer policy (YAML: events with rate limits and filters, see docs/tracer.md)" },
	{ "policy-check", "FILE", set_str, OFF(policy_check_file), 0, 0,
	  "check a policy file as --policy reads it, print the events and programs it gives, "
	  "and exit (0 valid, 2 not); loads nothing, needs no privileges" },
	{ "events-ringbuf-bytes", "BYTES", set_pow2_u32, OFF(events_ringbuf_bytes), 4096, 1u << 30,
	  "kernel-to-agent buffer for tracer events, a power of two; events that find it full are "
	  "counted per event (default 8388608)" },
	{ "debug", NULL, set_debug, 0, 0, 0, "print the tracer's BPF debug stream to stderr" },
	{ "no-conntrack", NULL, set_no_conntrack, 0, 0, 0,
	  "do not resolve NAT'd destinations through conntrack" },
	{ "conntrack-netns", "PATH", set_str, OFF(conntrack_netns), 0, 0,
	  "network namespace whose conntrack table is read, e.g. /proc/1/ns/net (default: "
	  "the agent's own)" },
	{ "conntrack-max-entries", "N", set_u32, OFF(conntrack_max_entries), 16, 1u << 26,
	  "NAT translations kept in the cache (default 131072)" },
	{ "conntrack-rcvbuf-bytes", "BYTES", set_u32, OFF(conntrack_rcvbuf_bytes), 4096, 1u << 30,
	  "receive buffer of the conntrack event socket; an overrun is counted and triggers a "
	  "resync (default 8388608)" },
	{ "kafka-brokers", "HOST:PORT[,...]", set_str, OFF(kafka_brokers), 0, 0,
	  "send records to Kafka instead of stdout" },
	{ "kafka-topic-flows", "TOPIC", set_str, OFF(kafka_topic_flows), 0, 0,
	  "topic for flow records (default flowscope.flows)" },
	{ "kafka-topic-dns", "TOPIC", set_str, OFF(kafka_topic_dns), 0, 0,
	  "topic for DNS records (default flowscope.dns)" },
	{ "kafka-topic-events", "TOPIC", set_str, OFF(kafka_topic_events), 0, 0,
	  "topic for event records (default flowscope.events)" },
	{ "kafka-format", "FORMAT", set_kafka_format, OFF(kafka_format), 0, 0,
	  "record encoding on Kafka: json, protobuf or protobuf-sr, the Schema Registry wire "
	  "format (default json)" },
	{ "kafka-schema-registry", "URL", set_str, OFF(kafka_schema_registry), 0, 0,
	  "Schema Registry where protobuf-sr registers records.proto under <topic>-value" },
	{ "kafka-schema-registry-timeout", "MS", set_u32, OFF(kafka_schema_registry_timeout_ms), 1,
	  600000, "bound on each request to the Schema Registry (default 10000)" },
	{ "kafka-records-per-message", "N", set_u32, OFF(kafka_records_per_message), 1, 100000,
	  "records packed in one Kafka message (default 1)" },
	{ "kafka-compression", "CODEC", set_kafka_compression, OFF(kafka_compression), 0, 0,
	  "compression codec: none, gzip, snappy, lz4 or zstd (default lz4)" },
	{ "kafka-buffer-bytes", "BYTES", set_u64, OFF(kafka_buffer_bytes), 1024, (uint64_t)1 << 40,
	  "records waiting for the brokers; beyond, new records are dropped and counted "
	  "(default 67108864, 64 MiB)" },
	{ "kafka-flush-timeout", "MS", set_u32, OFF(kafka_flush_timeout_ms), 0, 3600000,
	  "time allowed at exit to deliver what is queued (default 10000)" },
	{ "kafka-option", "KEY=VALUE", add_kafka_option, 0, 0, 0,
	  "any librdkafka property (TLS, SASL...); repeatable" },
	{ "metrics-addr", "HOST:PORT", set_metrics_addr, OFF(metrics_addr), 0, 0,
	  "serve Prometheus metrics at http://HOST:PORT/metrics (\":9464\": every address; "
	  "default: off)" },
	{ "log-level", "LEVEL", set_log_level, 0, 0, 0,
	  "log verbosity on stderr: error, warning, info or debug (default info; warn is an alias "
	  "of warning)" },
	{ "log-format", "text|json", set_log_format, 0, 0, 0,
	  "log lines on stderr as text or as one JSON object each (default text)" },
	{ "verbose", NULL, set_verbose, 0, 0, 0,
	  "same as --log-level debug, with libbpf's messages" },
	{ "help", NULL, NULL, 0, 0, 0, "print this help and exit" },
	{ "version", NULL, NULL, 0, 0, 0, "print the version and exit" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->interval_s = 15;
	cfg->cgroup_cleanup_delay_s = 60;
	cfg->max_flows = 65536;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->dns_ports[0] = 53;
	cfg->n_dns_ports = 1;
	cfg->dns_timeout_ms = 5000;
	cfg->dns_ringbuf_bytes = 4u << 20;
	cfg->dns_capture_max_bytes = 65535;
	cfg->conntrack = true;
	cfg->events_ringbuf_bytes = 8u << 20;
	cfg->conntrack_max_entries = 131072;
	cfg->kafka_records_per_message = 1;
	cfg->kafka_buffer_bytes = 64ull << 20;
	cfg->kafka_flush_timeout_ms = 10000;
	cfg->kafka_schema_registry_timeout_ms = 10000;
}

static const struct opt_def *find_opt(const char *name)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		const char *a = opts[i].name, *b = name;

		while (*a && (*a == *b || (*a == '-' && *b == '_'))) {
			a++;
			b++;
		}
		if (!*a && !*b)
			return &opts[i];
	}
	return NULL;
}

static enum config_status apply(struct config *cfg, const struct opt_def *o, const char *val,
				char *err, size_t errsz)
{
	if (!o->set)
		return usage_err(err, errsz, "--%s cannot be set here", o->name);
	return o->set(cfg, o, val ? val : "", err, errsz);
}

enum config_status config_set(struct config *cfg, const char *name, const char *value, char *errbuf,
			      size_t errbuf_size)
{
	const struct opt_def *o = find_opt(name);

	if (!o)
		return usage_err(errbuf, errbuf_size, "unknown option '%s'", name);
	/* a file that made every start a check would never run the agent */
	if (!strcmp(o->name, "policy-check"))
		return usage_err(errbuf, errbuf_size, "--%s cannot be set here", o->name);
	if (!o->metavar) {
		/* flags in a file take a boolean */
		if (strcmp(value, "true") && strcmp(value, "yes") && strcmp(value, "1"))
			return usage_err(errbuf, errbuf_size,
					 "invalid value for --%s: '%s' (a flag takes true/yes/1)",
					 o->name, value);
	}
	return apply(cfg, o, value, errbuf, errbuf_size);
}

struct ini_ctx {
	struct config *cfg;
	const char *path;
	char *err;
	size_t errsz;
	bool failed;
	enum config_status st; /* of the failed setting */
};

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	char key[256], msg[384];

	if (ctx->failed)
		return 0;
	if (section && *section)
		snprintf(key, sizeof(key), "%s-%s", section, name);
	else
		snprintf(key, sizeof(key), "%s", name);
	ctx->st = config_set(ctx->cfg, key, value, msg, sizeof(msg));
	if (ctx->st != CONFIG_OK) {
		snprintf(ctx->err, ctx->errsz, "%s", msg);
		ctx->failed = true;
		return 0;
	}
	return 1;
}

enum config_status config_load_file(struct config *cfg, const char *path, char *errbuf,
				    size_t errbuf_size)
{
	struct ini_ctx ctx = { cfg, path, errbuf, errbuf_size, false, CONFIG_OK };
	struct stat st;
	int rc;

	/* fopen() opens a directory, and inih then reads it as an empty file */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) &&
	    !S_ISCHR(st.st_mode))
		return usage_err(errbuf, errbuf_size,
				 "invalid value for --config: '%s' is not a file", path);
	/* inih returns the line of the first error, ours included */
	rc = ini_parse(path, on_ini_entry, &ctx);

	if (ctx.failed) {
		char msg[384];

		snprintf(msg, sizeof(msg), "%s", errbuf);
		usage_err(errbuf, errbuf_size, "%s:%d: %s", path, rc, msg);
		return ctx.st;
	}
	if (rc < 0)
		return usage_err(errbuf, errbuf_size,
				 "invalid value for --config: cannot read '%s'", path);
	if (rc > 0)
		return usage_err(errbuf, errbuf_size, "%s:%d: syntax error", path, rc);
	return CONFIG_OK;
}

static void print_help(const char *prog)
{
	printf("Usage: %s [OPTION]...\n"
	       "Accounts the network flows of every cgroup on this node with eBPF and exports one\n"
	       "record per flow and interval (NDJSON on stdout, or Kafka).\n\nOptions:\n",
	       prog);
	for (size_t i = 0; i < N_OPTS; i++) {
		char lhs[64];

		snprintf(lhs, sizeof(lhs), "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
			 opts[i].metavar ? opts[i].metavar : "");
		printf("  %-34s %s\n", lhs, opts[i].help);
	}
	printf("\nExit status: 0 ok, 1 runtime error (privileges, BTF, cgroup v2), 2 usage "
	       "error.\n");
}

/* --config is applied before every other option so the command line wins. */
static enum config_status load_config_from_argv(struct config *cfg, int argc, char **argv,
						char *err, size_t errsz)
{
	for (int i = 1; i < argc; i++) {
		const char *path = NULL;

		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc)
				return usage_err(err, errsz, "option --config requires a value");
			path = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			path = argv[i] + 9;
		}
		if (path) {
			enum config_status st = config_load_file(cfg, path, err, errsz);

			if (st != CONFIG_OK)
				return st;
		}
	}
	return CONFIG_OK;
}

enum config_status config_parse(struct config *cfg, int argc, char **argv, char *errbuf,
				size_t errbuf_size)
{
	struct option longopts[N_OPTS + 1];
	enum config_status st;
	int c, idx;

	st = load_config_from_argv(cfg, argc, argv, errbuf, errbuf_size);
	if (st != CONFIG_OK)
		return st;

	for (size_t i = 0; i < N_OPTS; i++)
		longopts[i] = (struct option){ opts[i].name,
					       opts[i].metavar ? required_argument : no_argument,
					       NULL, (int)i + 256 };
	memset(&longopts[N_OPTS], 0, sizeof(longopts[0]));

	opterr = 0;
	/*
	 * 0, not 1: glibc and musl then reset getopt's whole state, including its pointer into
	 * the previous argv's last short-option cluster, so config_parse() can run more than once
	 * (tests do) even after an earlier call stopped early on -h or an error.
	 */
	optind = 0;
	for (;;) {
		int prev = optind ? optind : 1;

		idx = -1;
		c = getopt_long(argc, argv, "hV", longopts, &idx);
		if (c == -1)
			break;
		if (c == 'h')
			c = 256 + (int)(find_opt("help") - opts);
		if (c == 'V')
			c = 256 + (int)(find_opt("version") - opts);
		if (c == '?' || c == ':') {
			const char *arg = argv[prev < argc ? prev : argc - 1];

			if (optopt >= 256)
				return usage_err(errbuf, errbuf_size,
						 "option --%s requires a value",
						 opts[optopt - 256].name);
			return usage_err(errbuf, errbuf_size, "unknown option '%.*s%s'",
					 (int)strcspn(arg, "="), arg,
					 strchr(arg, '=') ? "=<redacted>" : "");
		}
		const struct opt_def *o = &opts[c - 256];

		if (!strcmp(o->name, "help")) {
			print_help(argv[0]);
			return CONFIG_EXIT_OK;
		}
		if (!strcmp(o->name, "version")) {
			printf("flowscope %s\n", FLOWSCOPE_VERSION);
			return CONFIG_EXIT_OK;
		}
		if (!strcmp(o->name, "config"))
			continue;
		st = apply(cfg, o, optarg, errbuf, errbuf_size);
		if (st != CONFIG_OK)
			return st;
	}
	if (optind < argc)
		/* may be a misplaced secret (KEY=VALUE whose option was mistyped) */
		return usage_err(errbuf, errbuf_size, "unexpected argument '%.*s%s'",
				 (int)strcspn(argv[optind], "="), argv[optind],
				 strchr(argv[optind], '=') ? "=<redacted>" : "");

	if (!cfg->node_name) {
		const char *env = getenv("NODE_NAME");
		char host[256] = "unknown";

		if (env && *env)
			cfg->node_name = strdup(env);
		else {
			gethostname(host, sizeof(host) - 1);
			cfg->node_name = strdup(host);
		}
		if (!cfg->node_name)
			return nomem_err(errbuf, errbuf_size, "the node name");
	}
	return CONFIG_OK;
}

void config_free(struct config *cfg)
{
	char **strs[] = { &cfg->metrics_addr,	  &cfg->cgroup_root,
			  &cfg->node_name,	  &cfg->conntrack_netns,
			  &cfg->kafka_brokers,	  &cfg->kafka_topic_flows,
			  &cfg->kafka_topic_dns,  &cfg->kafka_topic_events,
			  &cfg->kafka_format,	  &cfg->kafka_compression,
			  &cfg->pod_logs_dir,	  &cfg->container_logs_dir,
			  &cfg->events,		  &cfg->policy_file,
			  &cfg->policy_check_file };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	free(cfg->kafka_schema_registry);
	cfg->kafka_schema_registry = NULL;
	for (size_t i = 0; i < cfg->n_kafka_options; i++)
		free(cfg->kafka_options[i]);
	cfg->n_kafka_options = 0;
}
