/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's configuration: parsed once from the config file (--config, INI as read by inih) and
 * the command line (which wins), validated, then read-only.
 */
#ifndef FLOWSCOPE_CONFIG_H
#define FLOWSCOPE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_DNS_PORTS 16
#define CONFIG_MAX_KAFKA_OPTIONS 64

struct config {
	/* flows */
	uint32_t interval_s; /* export interval, seconds */
	uint32_t duration_s; /* 0: run until SIGINT/SIGTERM */
	uint32_t max_flows; /* flow map bound per interval */
	char *cgroup_root; /* NULL: the cgroup v2 mount root */
	int cgroup_mode; /* enum cgroup_mode (cgroup_mode.h): auto, v2 or v1 */
	uint32_t cgroup_cleanup_delay_s; /* a removed cgroup's names and tracer state kept */
	char *pod_logs_dir; /* NULL: /var/log/pods */
	char *container_logs_dir; /* NULL: /var/log/containers */
	char *node_name; /* never NULL after config_parse() */
	int log_level; /* enum log_level */
	int log_format; /* enum log_format */
	bool libbpf_debug; /* --verbose: libbpf's own debug messages too */
	char *metrics_addr; /* NULL: no /metrics endpoint */

	/* dns */
	uint16_t dns_ports[CONFIG_MAX_DNS_PORTS];
	size_t n_dns_ports;
	uint32_t dns_timeout_ms;
	uint32_t dns_ringbuf_bytes; /* power of two, at least one page */
	uint32_t dns_capture_max_bytes; /* DNS payload bytes captured per packet, 12..65535 */

	/* tracer */
	char *events; /* --events NAME,NAME | none; NULL: the default set (or the policy) */
	char *policy_file; /* --policy FILE (YAML) */
	char *policy_check_file; /* --policy-check FILE: check it and exit; command line only */
	uint32_t events_ringbuf_bytes; /* power of two, at least one page */
	bool tracer_debug; /* --debug: the BPF side's debug stream on stderr */

	/* conntrack */
	bool conntrack; /* false with --no-conntrack */
	char *conntrack_netns; /* NULL: the agent's own network namespace */
	uint32_t conntrack_max_entries;
	uint32_t conntrack_rcvbuf_bytes; /* 0: the library's default (8 MiB) */

	/* kafka: the sink validates these further when it is created */
	char *kafka_brokers; /* NULL: records go to stdout */
	char *kafka_topic_flows;
	char *kafka_topic_dns;
	char *kafka_topic_events;
	char *kafka_format; /* "json" | "protobuf" */
	uint32_t kafka_records_per_message;
	char *kafka_compression; /* none|gzip|snappy|lz4|zstd */
	uint64_t kafka_buffer_bytes;
	uint32_t kafka_flush_timeout_ms;
	char *kafka_options[CONFIG_MAX_KAFKA_OPTIONS]; /* "key=value" */
	size_t n_kafka_options;
};

enum config_status {
	CONFIG_OK = 0,
	CONFIG_EXIT_OK, /* --help or --version was printed: exit 0 */
	CONFIG_USAGE, /* invalid option or value: the message is in errbuf; exit 2 */
	CONFIG_NOMEM, /* out of memory: the message is in errbuf; exit 1 */
};

/* Fills cfg with the defaults documented in --help. */
void config_defaults(struct config *cfg);

/*
 * Parses argv (after any --config FILE) into cfg, which must hold defaults. On CONFIG_USAGE a
 * one-line message naming the option is written to errbuf; CONFIG_NOMEM says which copy could
 * not be made (cfg then holds what was parsed before: free it with config_free()). --help/--version print to stdout.
 */
enum config_status config_parse(struct config *cfg, int argc, char **argv, char *errbuf,
				size_t errbuf_size);

/*
 * Applies one "name = value" setting, as from the config file; name is the long option name
 * without dashes (underscores are accepted for dashes). Returns CONFIG_OK or CONFIG_USAGE.
 */
enum config_status config_set(struct config *cfg, const char *name, const char *value, char *errbuf,
			      size_t errbuf_size);

/* Reads an INI file of "name = value" lines; "[section]" prefixes its keys with "section-". */
enum config_status config_load_file(struct config *cfg, const char *path, char *errbuf,
				    size_t errbuf_size);

/* Frees the strings cfg owns. */
void config_free(struct config *cfg);

#endif /* FLOWSCOPE_CONFIG_H */
