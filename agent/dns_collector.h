/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User side of the DNS capture in bpf/flow.bpf.c: reads the `dns_events` ring buffer,
 * reassembles DNS over TCP, parses messages (dns/), matches responses to queries for latency,
 * emits "dns" records, reports timeouts, and learns which name each answer address had, per
 * cgroup, to name flows.
 */
#ifndef FLOWSCOPE_DNS_COLLECTOR_H
#define FLOWSCOPE_DNS_COLLECTOR_H

#include <stdint.h>

#include "counters.h"

struct dns_collector;
struct flow_collector;
struct loop;
struct pipeline;

struct dns_collector_opts {
	uint64_t timeout_ns; /* --dns-timeout */
	uint32_t max_pending; /* queries awaiting a response */
	uint32_t max_names; /* IP -> name entries over all cgroups */
	uint64_t min_hold_ns; /* an address keeps its name at least this long */
	uint32_t max_tcp_streams; /* DNS-over-TCP streams reassembled at once */
	/* at most one warning per this many ns when DNS packets were dropped because the ring
	 * buffer was full (the export interval); 0: 1 s */
	uint64_t warn_interval_ns;
};

struct dns_collector_stats {
	uint64_t events; /* ring buffer events read */
	uint64_t bad_events; /* events too short or of an unknown protocol */
	uint64_t messages; /* DNS messages parsed */
	uint64_t parse_errors; /* messages that failed to parse and gave no record (a response
				  cut by the capture still gives one, from its header) */
	uint64_t queries;
	uint64_t responses;
	uint64_t unmatched_responses; /* responses whose query was not seen */
	uint64_t duplicate_queries;
	uint64_t pending_full; /* queries not tracked: max_pending reached */
	uint64_t timeouts;
	uint64_t pending; /* queries awaiting a response now (at exit: never reported) */
	uint64_t truncated_captures; /* packets longer than the capture (--dns-capture-max-bytes) */
	uint64_t udp_incomplete; /* UDP datagrams whose later pieces were lost (ring buffer full):
				    parsed as captured, truncated */
	uint64_t udp_pieces_dropped; /* UDP pieces that joined no datagram, or found no memory */
	uint64_t udp_pending; /* UDP datagrams waiting for their next piece now (at exit: counted,
				 not parsed) */
	uint64_t tcp_bytes_missing; /* TCP payload bytes not captured (gaps, truncation) */
	uint64_t tcp_messages_lost; /* DNS-over-TCP messages that lost bytes before their header ended */
	uint64_t tcp_resyncs; /* gaps that took a length prefix: message(s) lost, framing picked
				 up again at the next segment */
	uint64_t tcp_streams_full; /* TCP streams not reassembled: max_tcp_streams reached */
	uint64_t records; /* dns records submitted to the pipeline */
	uint64_t answers_cut_capture; /* responses cut by the capture before their last answer */
	uint64_t answers_cut_nomem; /* responses with answers left out: no memory to render them */
	uint64_t names_learn_nomem; /* responses not learnt from: no memory for the answer walk */
	uint64_t names_entries;
	uint64_t names_evictions;
	uint64_t names_expirations;
};

/*
 * Opens the ring buffer of fc's `dns_events` map (fc's counters also give the capture's drops).
 * Returns 0 or a negative errno.
 */
int dns_collector_create(struct flow_collector *fc, const struct dns_collector_opts *opts,
			 struct dns_collector **out);
/* Leaves the loop and frees. NULL is ignored. */
void dns_collector_destroy(struct dns_collector *dc);

/*
 * The DNS source: registers the ring buffer and a 1 s timer (timeouts, idle TCP streams) with
 * l; records go to p. Returns 0 or a negative errno.
 */
int dns_collector_attach(struct dns_collector *dc, struct loop *l, struct pipeline *p);

/* Registers the DNS counters (flowscope_dns_*). Returns 0 or -ENOMEM. */
int dns_collector_register_counters(struct dns_collector *dc, struct counters *reg);

/* Reads every event in the ring buffer; never blocks. Returns events read or a negative errno. */
int dns_collector_consume(struct dns_collector *dc);

/*
 * Emits TIMEOUT records for queries older than the timeout at now_boot_ns (CLOCK_BOOTTIME ns),
 * and drops idle TCP streams. Call about once a second.
 */
void dns_collector_expire(struct dns_collector *dc, uint64_t now_boot_ns);

/*
 * The name cgroup_id asked for that resolved to addr (ip_version 4: first 4 bytes), as it was at
 * at_boot_ns (a flow's start), or NULL. Times are CLOCK_BOOTTIME ns. The string is valid until
 * the next call into dc.
 */
const char *dns_collector_name_for(struct dns_collector *dc, uint64_t cgroup_id, uint8_t ip_version,
				   const uint8_t addr[16], uint64_t now_boot_ns,
				   uint64_t at_boot_ns);

void dns_collector_get_stats(const struct dns_collector *dc, struct dns_collector_stats *out);

/* Logs the parse errors by reason (at exit). */
void dns_collector_log_parse_errors(const struct dns_collector *dc);

/* The DNS counters' table, as registered (for tests/agent/test_counters.c). */
const struct counter_desc *dns_collector_counter_descs(size_t *n);

#endif /* FLOWSCOPE_DNS_COLLECTOR_H */
