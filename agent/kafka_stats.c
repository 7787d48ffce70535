// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "kafka_stats.h"

/* Bounds: a cluster has a handful of brokers and the agent writes three topics. */
#define MAX_BROKERS 64
#define MAX_TOPICS 16
#define NAME_MAX_BYTES 128

/* librdkafka's broker states (rdkafka_broker.c), exported as the state label. */
static const char *const broker_states[] = {
	"INIT", "DOWN",	  "TRY_CONNECT",      "CONNECT",	"SSL_HANDSHAKE", "AUTH_LEGACY",
	"UP",	"UPDATE", "APIVERSION_QUERY", "AUTH_HANDSHAKE", "AUTH_REQ",	 "REAUTH"
};
#define N_STATES (sizeof(broker_states) / sizeof(broker_states[0]))

struct broker_stat {
	char label[NAME_MAX_BYTES * 2]; /* 'broker="..."', escaped */
	int state; /* index in broker_states, -1: a state this table does not know */
	uint64_t rtt_avg_us;
	uint64_t outbuf_cnt;
	uint64_t waitresp_cnt;
	uint64_t txretries;
	uint64_t txerrs;
};

struct topic_stat {
	char label[NAME_MAX_BYTES * 2];
	uint64_t txbytes;
	uint64_t txmsgs;
};

struct kafka_stats {
	struct broker_stat brokers[MAX_BROKERS];
	size_t n_brokers;
	struct topic_stat topics[MAX_TOPICS];
	size_t n_topics;
	uint64_t documents;
	uint64_t errors;
	uint64_t dropped_entries; /* brokers or topics beyond the bounds */
};

struct kafka_stats *kafka_stats_create(void)
{
	return calloc(1, sizeof(struct kafka_stats));
}

void kafka_stats_destroy(struct kafka_stats *st)
{
	free(st);
}

/* key="value" with the Prometheus text format's escapes (backslash, quote, newline); other
 * control bytes become '?'. The name is cut at NAME_MAX_BYTES. */
static void make_label(char *out, size_t size, const char *key, const char *value)
{
	size_t n = (size_t)snprintf(out, size, "%s=\"", key), i;

	for (i = 0; value[i] && i < NAME_MAX_BYTES && n + 3 < size; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c == '\\' || c == '"')
			out[n++] = '\\', out[n++] = (char)c;
		else if (c == '\n')
			out[n++] = '\\', out[n++] = 'n';
		else
			out[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[n++] = '"';
	out[n] = '\0';
}

static uint64_t get_u64(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	json_int_t i = json_is_integer(v) ? json_integer_value(v) : 0;

	return i > 0 ? (uint64_t)i : 0;
}

int kafka_stats_update(struct kafka_stats *st, const char *json, size_t len)
{
	json_t *root, *brokers, *topics, *b, *t, *parts, *p;
	json_error_t jerr;
	const char *name, *pname;
	struct kafka_stats *next;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	brokers = json_object_get(root, "brokers");
	topics = json_object_get(root, "topics");
	if (!json_is_object(brokers) || !json_is_object(topics)) {
		json_decref(root);
		st->errors++;
		return -EINVAL;
	}
	next = calloc(1, sizeof(*next));
	if (!next) {
		json_decref(root);
		return -ENOMEM;
	}
	next->documents = st->documents + 1;
	next->errors = st->errors;
	next->dropped_entries = st->dropped_entries;
	json_object_foreach(brokers, name, b)
	{
		struct broker_stat *bs;
		const char *state = json_string_value(json_object_get(b, "state"));

		if (!json_is_object(b))
			continue;
		if (next->n_brokers == MAX_BROKERS) {
			next->dropped_entries++;
			continue;
		}
		bs = &next->brokers[next->n_brokers++];
		make_label(bs->label, sizeof(bs->label), "broker", name);
		bs->state = -1;
		for (size_t i = 0; state && i < N_STATES; i++)
			if (!strcmp(state, broker_states[i]))
				bs->state = (int)i;
		bs->rtt_avg_us = get_u64(json_object_get(b, "rtt"), "avg");
		bs->outbuf_cnt = get_u64(b, "outbuf_cnt");
		bs->waitresp_cnt = get_u64(b, "waitresp_cnt");
		bs->txretries = get_u64(b, "txretries");
		bs->txerrs = get_u64(b, "txerrs");
	}
	json_object_foreach(topics, name, t)
	{
		struct topic_stat *ts;

		if (!json_is_object(t))
			continue;
		if (next->n_topics == MAX_TOPICS) {
			next->dropped_entries++;
			continue;
		}
		ts = &next->topics[next->n_topics++];
		make_label(ts->label, sizeof(ts->label), "topic", name);
		parts = json_object_get(t, "partitions");
		json_object_foreach(parts, pname, p)
		{
			ts->txbytes += get_u64(p, "txbytes");
			ts->txmsgs += get_u64(p, "txmsgs");
		}
	}
	json_decref(root);
	*st = *next;
	free(next);
	return 0;
}

static const struct counter_desc families[] = {
	{ .name = "flowscope_kafka_broker_state",
	  .help = "librdkafka's state of each broker connection: 1 for the current state.",
	  .type = COUNTER_GAUGE },
	{ .name = "flowscope_kafka_broker_rtt_microseconds",
	  .help = "Average round-trip time of requests to the broker in the last statistics "
		  "window.",
	  .type = COUNTER_GAUGE },
	{ .name = "flowscope_kafka_broker_requests_queued",
	  .help = "Requests queued for the broker: outbuf (not sent yet), waitresp (sent, awaiting "
		  "a response).",
	  .type = COUNTER_GAUGE },
	{ .name = "flowscope_kafka_broker_retries_total",
	  .help = "Requests retried to the broker (librdkafka's txretries).",
	  .type = COUNTER_COUNTER },
	{ .name = "flowscope_kafka_broker_errors_total",
	  .help = "Requests to the broker that failed (librdkafka's txerrs).",
	  .type = COUNTER_COUNTER },
	{ .name = "flowscope_kafka_topic_bytes_total",
	  .help = "Message bytes sent to the topic's partitions (librdkafka's txbytes).",
	  .type = COUNTER_COUNTER },
	{ .name = "flowscope_kafka_topic_messages_total",
	  .help = "Kafka messages sent to the topic's partitions (librdkafka's txmsgs).",
	  .type = COUNTER_COUNTER },
};

static const struct counter_desc rows[] = {
	COUNTER_ROW("flowscope_kafka_stats_total", COUNTER_COUNTER,
		    "librdkafka statistics documents, by result.", "result=\"parsed\"",
		    struct kafka_stats, documents),
	COUNTER_ROW("flowscope_kafka_stats_total", COUNTER_COUNTER,
		    "librdkafka statistics documents, by result.", "result=\"error\"",
		    struct kafka_stats, errors),
	COUNTER_ROW("flowscope_kafka_stats_entries_dropped_total", COUNTER_COUNTER,
		    "Brokers or topics beyond the bounds (64 brokers, 16 topics), not exported.",
		    "", struct kafka_stats, dropped_entries),
};

static int snapshot(void *arg, void *out)
{
	memcpy(out, arg, sizeof(struct kafka_stats));
	return 0;
}

static void dynamic(void *arg, const void *snap, struct counters_out *out)
{
	const struct kafka_stats *st = snap;
	char labels[NAME_MAX_BYTES * 2 + 64];
	size_t i;

	(void)arg;
	for (i = 0; i < st->n_brokers; i++) {
		const struct broker_stat *b = &st->brokers[i];

		snprintf(labels, sizeof(labels), "%s,state=\"%s\"", b->label,
			 b->state >= 0 ? broker_states[b->state] : "other");
		counters_sample(out, &families[0], labels, 1);
	}
	for (i = 0; i < st->n_brokers; i++)
		counters_sample(out, &families[1], st->brokers[i].label, st->brokers[i].rtt_avg_us);
	for (i = 0; i < st->n_brokers; i++) {
		snprintf(labels, sizeof(labels), "%s,queue=\"outbuf\"", st->brokers[i].label);
		counters_sample(out, &families[2], labels, st->brokers[i].outbuf_cnt);
		snprintf(labels, sizeof(labels), "%s,queue=\"waitresp\"", st->brokers[i].label);
		counters_sample(out, &families[2], labels, st->brokers[i].waitresp_cnt);
	}
	for (i = 0; i < st->n_brokers; i++)
		counters_sample(out, &families[3], st->brokers[i].label, st->brokers[i].txretries);
	for (i = 0; i < st->n_brokers; i++)
		counters_sample(out, &families[4], st->brokers[i].label, st->brokers[i].txerrs);
	for (i = 0; i < st->n_topics; i++)
		counters_sample(out, &families[5], st->topics[i].label, st->topics[i].txbytes);
	for (i = 0; i < st->n_topics; i++)
		counters_sample(out, &families[6], st->topics[i].label, st->topics[i].txmsgs);
}

int kafka_stats_register_counters(struct kafka_stats *st, struct counters *reg)
{
	struct counters_group g = {
		COUNTERS_GROUP("kafka client", rows, struct kafka_stats, snapshot, st),
		COUNTERS_DYNAMIC(dynamic, families),
	};

	return counters_register(reg, &g);
}
