// SPDX-License-Identifier: Apache-2.0
/* Pipeline stage: dst_domain of flows, from the names the DNS collector learnt. */
#include "clock.h"
#include "dns_collector.h"
#include "enrich.h"

/* Flow stamps are one coarse tick (at most 10 ms) early. */
#define FLOW_STAMP_SLACK_NS 10000000ull

static enum stage_verdict domain_process(void *arg, struct record *hdr)
{
	struct dns_collector *dc = arg;
	struct flow_record *r;
	uint64_t now, at;

	if (hdr->type != RECORD_FLOW)
		return STAGE_PASS;
	r = RECORD_OF(hdr, struct flow_record);
	/* the name the address had when the flow started; the client resolved the Service
	 * address, not the backend: dst first */
	now = clock_boot_ns();
	at = clock_epoch_to_boot_ns(r->start_ns) + FLOW_STAMP_SLACK_NS;
	if (at > now)
		at = now;
	r->dst_domain =
		dns_collector_name_for(dc, r->cgroup_id, r->ip_version, r->dst_addr.bytes, now, at);
	if (!r->dst_domain && r->nat)
		r->dst_domain = dns_collector_name_for(dc, r->cgroup_id, r->ip_version,
						       r->dst_actual_addr.bytes, now, at);
	return STAGE_PASS;
}

/* DNS answers that arrived before the export name this interval's flows. */
static void domain_interval_begin(void *arg)
{
	dns_collector_consume(arg);
}

struct pipeline_stage enrich_domain_stage(struct dns_collector *dc)
{
	return (struct pipeline_stage){
		.name = "dst_domain",
		.process = domain_process,
		.interval_begin = domain_interval_begin,
		.arg = dc,
	};
}
