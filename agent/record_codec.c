// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <string.h>

#include "record_codec.h"

/* Records and their strings are copied into one arena; strings keep their NUL. */
static size_t str_size(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *copy_str(const char *s, char **p)
{
	char *d = *p;
	size_t n = str_size(s);

	if (!s)
		return NULL;
	memcpy(d, s, n);
	*p += n;
	return d;
}

static size_t workload_size(const struct record_workload *w)
{
	if (!w)
		return 0;
	return sizeof(*w) + str_size(w->container_id) + str_size(w->container_runtime) +
	       str_size(w->container_name) + str_size(w->pod_uid) + str_size(w->pod_namespace) +
	       str_size(w->pod_name);
}

/* The header's strings and workload: what every type copies. */
static size_t header_extra_size(const struct record *r)
{
	/* the arena's workload struct comes first: keep it aligned */
	return workload_size(r->workload) + str_size(r->cgroup_path) + sizeof(void *);
}

static void copy_header_extra(struct record *c, char **p)
{
	if (c->workload) {
		const struct record_workload *w = c->workload;
		struct record_workload *d;

		*p += (sizeof(void *) - (uintptr_t)*p % sizeof(void *)) % sizeof(void *);
		d = (struct record_workload *)(void *)*p;
		*p += sizeof(*d);
		*d = *w;
		d->container_id = copy_str(w->container_id, p);
		d->container_runtime = copy_str(w->container_runtime, p);
		d->container_name = copy_str(w->container_name, p);
		d->pod_uid = copy_str(w->pod_uid, p);
		d->pod_namespace = copy_str(w->pod_namespace, p);
		d->pod_name = copy_str(w->pod_name, p);
		c->workload = d;
	}
	c->cgroup_path = copy_str(c->cgroup_path, p);
}

static ssize_t flow_json(char *buf, size_t cap, const struct record_json_ctx *ctx,
			 const struct record *r)
{
	return record_json_flow(buf, cap, ctx, CONST_RECORD_OF(r, struct flow_record));
}

static ssize_t flow_proto(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
			  const struct record *r, bool delimited)
{
	return record_proto_encode_flow(buf, cap, ctx, CONST_RECORD_OF(r, struct flow_record),
					delimited);
}

static size_t flow_extra_size(const struct record *r)
{
	const struct flow_record *f = CONST_RECORD_OF(r, struct flow_record);

	return header_extra_size(r) + str_size(f->dst_domain) + str_size(f->dst_pod_namespace) +
	       str_size(f->dst_pod_name);
}

static void flow_copy_extra(struct record *c, char **p)
{
	struct flow_record *f = RECORD_OF(c, struct flow_record);

	copy_header_extra(c, p);
	f->dst_domain = copy_str(f->dst_domain, p);
	f->dst_pod_namespace = copy_str(f->dst_pod_namespace, p);
	f->dst_pod_name = copy_str(f->dst_pod_name, p);
}

static ssize_t dns_json(char *buf, size_t cap, const struct record_json_ctx *ctx,
			const struct record *r)
{
	return record_json_dns(buf, cap, ctx, CONST_RECORD_OF(r, struct dns_record));
}

static ssize_t dns_proto(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
			 const struct record *r, bool delimited)
{
	return record_proto_encode_dns(buf, cap, ctx, CONST_RECORD_OF(r, struct dns_record),
				       delimited);
}

static size_t dns_extra_size(const struct record *r)
{
	const struct dns_record *d = CONST_RECORD_OF(r, struct dns_record);
	size_t n = header_extra_size(r) + str_size(d->qname) + sizeof(void *) +
		   d->n_answers * sizeof(struct dns_answer_view);

	for (size_t i = 0; i < d->n_answers; i++)
		n += str_size(d->answers[i].name) + str_size(d->answers[i].data);
	return n;
}

static void dns_copy_extra(struct record *c, char **p)
{
	struct dns_record *d = RECORD_OF(c, struct dns_record);
	struct dns_answer_view *views;

	copy_header_extra(c, p);
	*p += (sizeof(void *) - (uintptr_t)*p % sizeof(void *)) % sizeof(void *);
	views = (struct dns_answer_view *)(void *)*p;
	*p += d->n_answers * sizeof(*views);
	for (size_t i = 0; i < d->n_answers; i++) {
		views[i] = d->answers[i];
		views[i].name = copy_str(d->answers[i].name, p);
		views[i].data = copy_str(d->answers[i].data, p);
	}
	d->answers = d->n_answers ? views : NULL;
	d->qname = copy_str(d->qname, p);
}

static ssize_t event_json(char *buf, size_t cap, const struct record_json_ctx *ctx,
			  const struct record *r)
{
	return record_json_event(buf, cap, ctx, CONST_RECORD_OF(r, struct event_record));
}

static ssize_t event_proto(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
			   const struct record *r, bool delimited)
{
	return record_proto_encode_event(buf, cap, ctx, CONST_RECORD_OF(r, struct event_record),
					 delimited);
}

static size_t event_extra_size(const struct record *r)
{
	const struct event_record *e = CONST_RECORD_OF(r, struct event_record);
	size_t n = header_extra_size(r) + str_size(e->event) +
		   e->n_args * sizeof(struct event_arg) + 8;

	for (size_t i = 0; i < e->n_args; i++) {
		const struct event_arg *a = &e->args[i];

		n += str_size(a->key);
		if (a->type == EVENT_ARG_STR)
			n += str_size(a->str);
		if (a->type == EVENT_ARG_STR_LIST) {
			n += a->list.n * sizeof(char *) + 8;
			for (size_t j = 0; j < a->list.n; j++)
				n += str_size(a->list.v[j]);
		}
	}
	return n;
}

static char *align8(char **p)
{
	uintptr_t v = (uintptr_t)*p;

	*p = (char *)((v + 7) & ~(uintptr_t)7);
	return *p;
}

static void event_copy_extra(struct record *c, char **p)
{
	struct event_record *e = RECORD_OF(c, struct event_record);
	struct event_arg *args;

	copy_header_extra(c, p);
	args = (struct event_arg *)(void *)align8(p);

	*p += e->n_args * sizeof(*args);
	for (size_t i = 0; i < e->n_args; i++) {
		args[i] = e->args[i];
		if (args[i].type == EVENT_ARG_STR_LIST) {
			const char **v = (const char **)(void *)align8(p);

			*p += args[i].list.n * sizeof(*v);
			for (size_t j = 0; j < args[i].list.n; j++)
				v[j] = copy_str(e->args[i].list.v[j], p);
			args[i].list.v = v;
		}
	}
	for (size_t i = 0; i < e->n_args; i++) {
		args[i].key = copy_str(e->args[i].key, p);
		if (args[i].type == EVENT_ARG_STR)
			args[i].str = copy_str(e->args[i].str, p);
	}
	e->args = e->n_args ? args : NULL;
	e->event = copy_str(e->event, p);
}

/* Indexed by enum record_type; a NULL name is a type without a codec. */
static const struct record_codec codecs[RECORD_TYPE_MAX] = {
	[RECORD_FLOW] = {
		.name = "flow",
		.kafka_topic = "flowscope.flows",
		.proto_message = "flowscope.v1.FlowRecord",
		.size = sizeof(struct flow_record),
		.json = flow_json,
		.proto = flow_proto,
		.extra_size = flow_extra_size,
		.copy_extra = flow_copy_extra,
	},
	[RECORD_DNS] = {
		.name = "dns",
		.kafka_topic = "flowscope.dns",
		.proto_message = "flowscope.v1.DnsRecord",
		.size = sizeof(struct dns_record),
		.json = dns_json,
		.proto = dns_proto,
		.extra_size = dns_extra_size,
		.copy_extra = dns_copy_extra,
	},
	[RECORD_EVENT] = {
		.name = "event",
		.kafka_topic = "flowscope.events",
		.proto_message = "flowscope.v1.EventRecord",
		.size = sizeof(struct event_record),
		.json = event_json,
		.proto = event_proto,
		.extra_size = event_extra_size,
		.copy_extra = event_copy_extra,
	},
};

const struct record_codec *record_codec(unsigned int type)
{
	if (type >= RECORD_TYPE_MAX || !codecs[type].name)
		return NULL;
	return &codecs[type];
}

const char *record_type_name(unsigned int type)
{
	const struct record_codec *c = record_codec(type);

	return c ? c->name : NULL;
}

ssize_t record_encode_json(char *buf, size_t cap, const struct record_json_ctx *ctx,
			   const struct record *r)
{
	const struct record_codec *c = record_codec(r->type);

	return c ? c->json(buf, cap, ctx, r) : -EPROTONOSUPPORT;
}

/* Every fixed field of any type with its key, numbers and addresses at their longest. */
#define RECORD_FIXED_MAX 4096

size_t record_encoded_max(const struct record *r, size_t node_name_len)
{
	const struct record_codec *c = record_codec(r->type);

	/*
	 * A string byte is at most 6 bytes of JSON (\u00XX) and 1 of protobuf; extra_size()
	 * also counts each array element's struct (a DNS answer: 24 bytes, so 144 here), more
	 * than the element's keys, punctuation, type name and TTL take.
	 */
	return c ? RECORD_FIXED_MAX + 6 * (c->extra_size(r) + node_name_len) : 0;
}

ssize_t record_encode_proto(uint8_t *buf, size_t cap, const struct record_proto_ctx *ctx,
			    const struct record *r, bool delimited)
{
	const struct record_codec *c = record_codec(r->type);

	return c ? c->proto(buf, cap, ctx, r, delimited) : -EPROTONOSUPPORT;
}
