// SPDX-License-Identifier: Apache-2.0
/*
 * Pipeline stage: dst_domain of flows, from the names the DNS collector learnt. During an export
 * the clock is read once, at its beginning (the names were consumed then too): the boot time
 * and the epoch-to-boot offset, instead of three clock reads per flow.
 */
#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "dns_collector.h"
#include "enrich.h"

/* Flow stamps are one coarse tick (at most 10 ms) early. */
#define FLOW_STAMP_SLACK_NS 10000000ull

struct enrich_domain {
	struct dns_collector *dc;
	bool exporting; /* between interval_begin and interval_end: the two below hold */
	uint64_t now_ns; /* CLOCK_BOOTTIME at the export's beginning */
	int64_t epoch_to_boot_ns; /* add to an epoch time for CLOCK_BOOTTIME, at the same time */
};

static enum stage_verdict domain_process(void *arg, struct record *hdr)
{
	struct enrich_domain *d = arg;
	struct flow_record *r;
	uint64_t now, at;
	int64_t boot;

	if (hdr->type != RECORD_FLOW)
		return STAGE_PASS;
	r = RECORD_OF(hdr, struct flow_record);
	/* the name the address had when the flow started; the client resolved the Service
	 * address, not the backend: dst first */
	if (d->exporting) {
		now = d->now_ns;
		boot = (int64_t)r->start_ns + d->epoch_to_boot_ns;
		at = (boot > 0 ? (uint64_t)boot : 0) + FLOW_STAMP_SLACK_NS;
	} else {
		now = clock_boot_ns();
		at = clock_epoch_to_boot_ns(r->start_ns) + FLOW_STAMP_SLACK_NS;
	}
	if (at > now)
		at = now;
	r->dst_domain = dns_collector_name_for(d->dc, r->cgroup_id, r->ip_version,
					       r->dst_addr.bytes, now, at);
	if (!r->dst_domain && r->nat)
		r->dst_domain = dns_collector_name_for(d->dc, r->cgroup_id, r->ip_version,
						       r->dst_actual_addr.bytes, now, at);
	return STAGE_PASS;
}

/* DNS answers that arrived before the export name this interval's flows. */
static void domain_interval_begin(void *arg)
{
	struct enrich_domain *d = arg;

	dns_collector_consume(d->dc);
	d->epoch_to_boot_ns = -clock_boot_to_epoch_offset();
	d->now_ns = clock_boot_ns();
	d->exporting = true;
}

static void domain_interval_end(void *arg)
{
	struct enrich_domain *d = arg;

	d->exporting = false;
}

struct enrich_domain *enrich_domain_create(struct dns_collector *dc)
{
	struct enrich_domain *d = calloc(1, sizeof(*d));

	if (!d) {
		errno = ENOMEM;
		return NULL;
	}
	d->dc = dc;
	return d;
}

void enrich_domain_destroy(struct enrich_domain *d)
{
	free(d);
}

struct pipeline_stage enrich_domain_stage(struct enrich_domain *d)
{
	return (struct pipeline_stage){
		.name = "dst_domain",
		.process = domain_process,
		.interval_begin = domain_interval_begin,
		.interval_end = domain_interval_end,
		.arg = d,
	};
}
