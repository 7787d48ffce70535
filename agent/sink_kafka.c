// SPDX-License-Identifier: Apache-2.0
/*
 * Kafka sink over librdkafka.
 *
 * Threading: everything here runs on the agent's event loop thread. librdkafka's delivery
 * reports and error callbacks are served from rd_kafka_poll(), called by sink_poll() (a
 * before-poll hook of the loop, registered by sink_attach()) and sink_destroy(), so the counters
 * need no locks. Only the log callback comes from librdkafka's
 * own threads, and it only calls log_msg().
 *
 * Batching (records_per_message > 1): records are packed per (record type, cgroup) so that every
 * Kafka message has exactly one key, and a cgroup's records keep their order inside one
 * partition. Open batches live in a small hash table per record type (BATCH_PROBES slots per
 * cgroup); a record that finds them all taken by other cgroups sends one of them first. Memory is therefore bounded by
 * BATCH_SLOTS open batches per type, and all of it counts against buffer_bytes.
 *
 * Fatal errors: an idempotent producer that raises one (RD_KAFKA_RESP_ERR__FATAL, e.g. a
 * sequence gap it cannot resolve) refuses every later message. The sink then makes a new
 * producer from the same configuration and sends on through it, so the agent keeps buffering
 * and delivering; the failed one is kept ("retiring") until its messages in flight have their
 * delivery reports or flush_timeout_ms has passed, then purged and destroyed. Every record it
 * lost (lost_to_fatal(): by the message's own error) is counted in lost_fatal, and in failed or
 * dropped_error. A producer that
 * fails again before it delivered anything waits 1 s, doubling to 60 s, before the next one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr, memmem */
#endif
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "log.h"
#include "loop.h"
#include "record_codec.h"
#include "kafka_stats.h"
#include "sink_kafka.h"

#define BATCH_SLOTS 256 /* the hash in find_batch() yields 8 bits */
#define BATCH_PROBES 4
/* A batch is sent when it reaches this size even with fewer than records_per_message records,
 * so that messages stay well under the brokers' default message.max.bytes (1 MB). */
#define BATCH_MAX_BYTES (256 * 1024)
/*
 * Room a batch keeps for one more record beyond BATCH_MAX_BYTES, and the scratch buffer's first
 * size. A longer record (a DNS response with thousands of long answers) grows the buffer it is
 * encoded into to record_encoded_max(), alone in its batch.
 */
#define RECORD_MAX_BYTES (64 * 1024)
#define KEY_MAX 320
#define FLOWSCOPE_STR_(x) #x
#define FLOWSCOPE_STR(x) FLOWSCOPE_STR_(x)

struct batch {
	uint64_t cgroup_id;
	uint32_t n; /* records in buf; 0: slot free */
	size_t len;
	size_t cap;
	uint8_t *buf;
};

/* One librdkafka producer and its topic handles. */
struct producer {
	rd_kafka_t *rk; /* NULL: none */
	rd_kafka_topic_t *rkt[RECORD_TYPE_MAX];
	uint64_t outstanding[RECORD_TYPE_MAX]; /* records handed to it, no delivery report yet */
	uint64_t outstanding_bytes;
	uint64_t deadline_ns; /* retiring: when to stop waiting for delivery reports */
};

/* Backoff between new producers when one fails before it delivered anything. */
#define RESTART_BACKOFF_MIN_MS 1000
#define RESTART_BACKOFF_MAX_MS 60000
/* How long a purged producer gets to hand back the delivery reports of what it held. */
#define PURGE_WAIT_MS 500

struct kafka_sink {
	struct sink base;
	struct producer cur; /* the producer records go to */
	struct producer old; /* a producer that failed fatally, being retired (rk NULL: none) */
	rd_kafka_conf_t *conf; /* the producer configuration, duplicated for every producer */
	bool fatal; /* cur raised a fatal error and is not replaced yet */
	bool unproven; /* cur replaced a failed producer and has delivered nothing yet */
	uint32_t backoff_ms; /* wait before the next producer when cur fails unproven */
	uint64_t restart_after_ns; /* no new producer before this (CLOCK_MONOTONIC) */
	char fatal_reason[512]; /* librdkafka's text of the last fatal error */
	bool flushed; /* kafka_flush() ran: counters final, undelivered set */
	uint64_t undelivered;
	char *topic_names[RECORD_TYPE_MAX];
	enum kafka_format format;
	/* KAFKA_FORMAT_PROTOBUF_SR: written before each record's message (wire format) */
	uint8_t value_prefix[RECORD_TYPE_MAX][KAFKA_VALUE_PREFIX_MAX];
	size_t value_prefix_len[RECORD_TYPE_MAX];
	uint32_t per_msg;
	uint64_t buffer_bytes;
	uint32_t flush_timeout_ms;
	char *node_name;
	struct record_json_ctx json_ctx;
	struct record_proto_ctx proto_ctx;
	struct batch *batches[RECORD_TYPE_MAX]; /* BATCH_SLOTS each, when per_msg > 1 */
	uint64_t inflight_bytes; /* handed to librdkafka, no delivery report yet */
	uint64_t batch_bytes; /* sitting in open batches */
	bool brokers_down; /* last error_cb said all brokers are down */
	struct kafka_sink_stats st;
	struct kafka_stats *client_stats; /* librdkafka's statistics (kafka_stats.c) */
	uint8_t *scratch; /* scratch_cap bytes: one record when records_per_message is 1 */
	size_t scratch_cap;
};

static const char *const secret_words[] = { "password", "secret", "key", "token",
					    "oauthbearer.config" };

bool sink_kafka_option_is_secret(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(secret_words) / sizeof(secret_words[0]); i++)
		if (strcasestr(key, secret_words[i]))
			return true;
	return false;
}

int kafka_format_parse(const char *s, enum kafka_format *out)
{
	if (!strcmp(s, "json"))
		*out = KAFKA_FORMAT_JSON;
	else if (!strcmp(s, "protobuf"))
		*out = KAFKA_FORMAT_PROTOBUF;
	else if (!strcmp(s, "protobuf-sr"))
		*out = KAFKA_FORMAT_PROTOBUF_SR;
	else
		return -EINVAL;
	return 0;
}

const char *kafka_format_name(enum kafka_format f)
{
	switch (f) {
	case KAFKA_FORMAT_JSON:
		return "json";
	case KAFKA_FORMAT_PROTOBUF:
		return "protobuf";
	case KAFKA_FORMAT_PROTOBUF_SR:
		return "protobuf-sr";
	}
	return "?";
}

const char *sink_kafka_reason_name(int err)
{
	return rd_kafka_err2name((rd_kafka_resp_err_t)err);
}

void kafka_sink_config_init(struct kafka_sink_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int t = 0; t < RECORD_TYPE_MAX; t++)
		cfg->topics[t] = record_codec(t) ? record_codec(t)->kafka_topic : NULL;
	/* reserved for the tracer's events, which have no codec yet */
	cfg->topics[RECORD_EVENT] = KAFKA_DEFAULT_TOPIC_EVENTS;
	cfg->format = KAFKA_FORMAT_JSON;
	cfg->records_per_message = 1;
	cfg->compression = KAFKA_DEFAULT_COMPRESSION;
	cfg->buffer_bytes = KAFKA_DEFAULT_BUFFER_BYTES;
	cfg->flush_timeout_ms = KAFKA_DEFAULT_FLUSH_TIMEOUT_MS;
}

/* One broker entry: [scheme://]host[:port], host a name, IPv4 or [IPv6]. */
static int check_broker(const char *b, size_t len, char *errstr, size_t errstr_size)
{
	static const char *const schemes[] = { "plaintext://", "ssl://", "sasl_plaintext://",
					       "sasl_ssl://" };
	const char *p = b, *end = b + len, *host, *host_end;
	const char *why = NULL;
	size_t i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t sl = strlen(schemes[i]);

		if (len >= sl && !strncasecmp(p, schemes[i], sl)) {
			p += sl;
			break;
		}
	}
	if (p == b && memmem(b, len, "://", 3)) {
		why = "unknown protocol (use plaintext://, ssl://, sasl_plaintext:// or "
		      "sasl_ssl://)";
		goto bad;
	}
	if (p < end && *p == '[') {
		host = ++p;
		while (p < end && (isxdigit((unsigned char)*p) || *p == ':' || *p == '.'))
			p++;
		if (p >= end || *p != ']') {
			why = "bad IPv6 address in brackets";
			goto bad;
		}
		host_end = p++;
	} else {
		host = p;
		while (p < end &&
		       (isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_'))
			p++;
		host_end = p;
	}
	if (host_end == host) {
		why = "empty host";
		goto bad;
	}
	if (p < end) {
		unsigned long port = 0;

		if (*p != ':') {
			why = "unexpected character in host (expected HOST:PORT)";
			goto bad;
		}
		if (++p == end) {
			why = "empty port";
			goto bad;
		}
		for (; p < end; p++) {
			if (!isdigit((unsigned char)*p) ||
			    (port = port * 10 + (*p - '0')) > 65535) {
				why = "port must be a number from 1 to 65535";
				goto bad;
			}
		}
		if (!port) {
			why = "port must be a number from 1 to 65535";
			goto bad;
		}
	}
	return 0;
bad:
	snprintf(errstr, errstr_size, "bad kafka broker address \"%.*s\": %s", (int)len, b, why);
	return -EINVAL;
}

int sink_kafka_check_brokers(const char *brokers, char *errstr, size_t errstr_size)
{
	const char *p = brokers;

	if (!brokers || !*brokers) {
		snprintf(errstr, errstr_size, "no kafka brokers given");
		return -EINVAL;
	}
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int err;

		/* librdkafka tolerates blanks around the commas; so do we. */
		while (len && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (!len) {
			snprintf(errstr, errstr_size, "bad kafka broker list \"%s\": empty entry",
				 brokers);
			return -EINVAL;
		}
		err = check_broker(p, len, errstr, errstr_size);
		if (err)
			return err;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/*
 * Set key to value on conf. The error text names the key; librdkafka's own message is kept
 * only when the value is not a secret, since it may quote the value.
 */
static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
		    size_t errstr_size)
{
	char rderr[512];
	rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr));

	if (res == RD_KAFKA_CONF_OK)
		return 0;
	if (res == RD_KAFKA_CONF_UNKNOWN)
		snprintf(errstr, errstr_size, "unknown kafka option \"%s\"", key);
	else if (sink_kafka_option_is_secret(key))
		snprintf(errstr, errstr_size, "kafka option \"%s\": invalid value (redacted)", key);
	else
		snprintf(errstr, errstr_size, "kafka option \"%s\": %s", key, rderr);
	return -EINVAL;
}

/* Split "key=value" into key (copied into keybuf) and value (pointer into kv). */
static int split_option(const char *kv, char *keybuf, size_t keybuf_size, const char **value,
			char *errstr, size_t errstr_size)
{
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv) {
		/* No '=' means we cannot tell key from value: print neither. */
		snprintf(errstr, errstr_size, "kafka option must be key=value%s",
			 eq ? " (empty key)" : "");
		return -EINVAL;
	}
	if ((size_t)(eq - kv) >= keybuf_size) {
		snprintf(errstr, errstr_size, "kafka option key too long");
		return -EINVAL;
	}
	memcpy(keybuf, kv, eq - kv);
	keybuf[eq - kv] = '\0';
	*value = eq + 1;
	return 0;
}

static int apply_option(rd_kafka_conf_t *conf, const char *kv, char *errstr, size_t errstr_size)
{
	char key[256];
	const char *value;
	int err = split_option(kv, key, sizeof(key), &value, errstr, errstr_size);

	return err ? err : conf_set(conf, key, value, errstr, errstr_size);
}

int sink_kafka_check_option(const char *kv, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int err = apply_option(conf, kv, errstr, errstr_size);

	rd_kafka_conf_destroy(conf);
	return err;
}

static struct kafka_sink *to_kafka(struct sink *s)
{
	return (struct kafka_sink *)s;
}

static void count_failure(struct kafka_sink *ks, rd_kafka_resp_err_t err, enum record_type type,
			  uint64_t n)
{
	struct kafka_sink_stats *st = &ks->st;
	size_t i;

	for (i = 0; i < st->n_reasons; i++)
		if (st->reasons[i].err == (int)err)
			break;
	if (i == st->n_reasons) {
		if (i == KAFKA_SINK_MAX_REASONS) {
			st->failed_other_reasons += n;
			return;
		}
		st->reasons[i].err = err;
		st->n_reasons++;
	}
	st->reasons[i].failed[type] += n;
}

/*
 * msg_opaque of every message: record count << TAG_TYPE_BITS | record type, so the delivery
 * report can count records without a lookup.
 */
#define TAG_TYPE_BITS 8
_Static_assert(RECORD_TYPE_MAX <= (1u << TAG_TYPE_BITS), "record type does not fit the tag");
_Static_assert(sizeof(uintptr_t) * 8 >= TAG_TYPE_BITS + 32, "record count does not fit the tag");

static void *make_tag(enum record_type type, uint32_t n)
{
	return (void *)(((uintptr_t)n << TAG_TYPE_BITS) | (uintptr_t)type);
}

/* The sink's producer whose handle is rk, or NULL (one being destroyed: already counted). */
static struct producer *producer_of(struct kafka_sink *ks, const rd_kafka_t *rk)
{
	if (rk && rk == ks->cur.rk)
		return &ks->cur;
	if (rk && rk == ks->old.rk)
		return &ks->old;
	return NULL;
}

/*
 * Whether a message that failed with err on producer rk was lost to rk's fatal error: it carries
 * the fatal error (_FATAL, or the code rd_kafka_fatal_error() names, which the message that
 * caused it gets), or it was purged (_PURGE_QUEUE, _PURGE_INFLIGHT) from a producer that had
 * failed fatally (by librdkafka or by retire_now()). A message that failed for its own reason
 * (_MSG_TIMED_OUT, a broker's refusal of it) failed whatever the producer's state: not lost.
 */
static bool lost_to_fatal(rd_kafka_t *rk, rd_kafka_resp_err_t err)
{
	rd_kafka_resp_err_t fatal;
	char reason[8];

	if (err == RD_KAFKA_RESP_ERR__FATAL)
		return true;
	fatal = rd_kafka_fatal_error(rk, reason, sizeof(reason));
	if (!fatal)
		return false;
	return err == fatal || err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	       err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
}

/* Counts each message once: delivered, or failed under its own error (and then lost with its
 * producer when lost_to_fatal()). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *ks = opaque;
	struct producer *p = producer_of(ks, rk);
	uintptr_t tag = (uintptr_t)m->_private;
	enum record_type type = tag & ((1u << TAG_TYPE_BITS) - 1);
	uint64_t n = tag >> TAG_TYPE_BITS;
	struct kafka_sink_type_stats *ts = &ks->st.type[type];

	if (!p)
		return;
	p->outstanding[type] -= n;
	p->outstanding_bytes -= m->len;
	ks->inflight_bytes -= m->len;
	if (m->err) {
		ts->failed += n;
		count_failure(ks, m->err, type, n);
		if (lost_to_fatal(rk, m->err))
			ts->lost_fatal += n;
		LOG_DEBUG("kafka: %" PRIu64 " records to %s failed: %s", n, ks->topic_names[type],
			  rd_kafka_err2str(m->err));
		return;
	}
	if (p == &ks->cur && ks->unproven) {
		LOG_INFO("kafka: the new producer delivers");
		ks->unproven = false;
		ks->backoff_ms = 0;
	}
	if (ks->brokers_down && p == &ks->cur) {
		LOG_INFO("kafka: brokers reachable again, delivering buffered records");
		ks->brokers_down = false;
	}
	ts->delivered += n;
	ts->delivered_messages++;
	ts->delivered_bytes += m->len;
}

/* librdkafka's statistics, served by rd_kafka_poll() on the loop; 0: librdkafka frees json. */
static int on_stats(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
	struct kafka_sink *ks = opaque;

	/* a retiring producer's statistics would mix with the current one's */
	if (rk == ks->cur.rk)
		kafka_stats_update(ks->client_stats, json, json_len);
	return 0;
}

/*
 * The current producer failed fatally (seen by on_error() or by a produce call): count it once,
 * log it, and decide when the next producer may start (kafka_poll() or produce() start it).
 */
static void note_fatal(struct kafka_sink *ks)
{
	uint64_t now = clock_mono_ns();

	if (ks->fatal)
		return;
	ks->fatal = true;
	ks->st.fatal_errors++;
	if (!rd_kafka_fatal_error(ks->cur.rk, ks->fatal_reason, sizeof(ks->fatal_reason)))
		snprintf(ks->fatal_reason, sizeof(ks->fatal_reason), "unknown");
	/* one that failed without delivering anything would likely fail again at once */
	if (ks->unproven)
		ks->backoff_ms = ks->backoff_ms ? ks->backoff_ms * 2 : RESTART_BACKOFF_MIN_MS;
	else
		ks->backoff_ms = 0;
	if (ks->backoff_ms > RESTART_BACKOFF_MAX_MS)
		ks->backoff_ms = RESTART_BACKOFF_MAX_MS;
	ks->restart_after_ns = now + (uint64_t)ks->backoff_ms * 1000000;
	LOG_ERR("kafka: fatal producer error: %s; what it did not deliver is lost and counted, "
		"a new producer takes over%s",
		ks->fatal_reason, ks->backoff_ms ? " after a pause" : "");
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_sink *ks = opaque;

	/* a retiring producer's errors are of no more use */
	if (rk != ks->cur.rk)
		return;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		if (!ks->brokers_down)
			LOG_WARN("kafka: no broker reachable (%s); records are buffered up to "
				 "%" PRIu64 " bytes",
				 reason, ks->buffer_bytes);
		ks->brokers_down = true;
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		note_fatal(ks);
		return;
	}
	/* Connection errors and the like: librdkafka's log callback has reported them already. */
	LOG_DEBUG("kafka: %s: %s", rd_kafka_err2name(err), reason);
}

/*
 * librdkafka's own log lines (syslog levels), from its threads. Its errors are transient (a
 * refused connection, retried with backoff, identical ones suppressed): warnings for us; what is
 * fatal comes through on_error().
 */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4)
		LOG_WARN("kafka: %s: %s", fac, buf);
	else if (level <= 6)
		LOG_INFO("kafka: %s: %s", fac, buf);
	else
		LOG_DEBUG("kafka: %s: %s", fac, buf);
}

/* "<node>/<cgroup_id>": stable per cgroup, spread over nodes. See docs/kafka.md. */
static size_t make_key(const struct kafka_sink *ks, uint64_t cgroup_id, char key[KEY_MAX])
{
	int n = snprintf(key, KEY_MAX, "%s/%" PRIu64, ks->node_name, cgroup_id);

	return n < KEY_MAX ? (size_t)n : KEY_MAX - 1;
}

/* The flowscope.framing header: how the payload holds its records (docs/kafka.md). */
static const char *framing_name(const struct kafka_sink *ks)
{
	if (ks->format == KAFKA_FORMAT_JSON)
		return "ndjson";
	if (ks->format == KAFKA_FORMAT_PROTOBUF_SR)
		return "schema-registry";
	return ks->per_msg > 1 ? "delimited" : "single";
}

/*
 * The headers every message carries, so that a consumer can tell what the payload is without
 * knowing the producer's flags (docs/kafka.md, "Formats and framing"). The message type is the
 * codec's protobuf message, named for JSON too. NULL when out of memory.
 */
static rd_kafka_headers_t *make_headers(const struct kafka_sink *ks, enum record_type type,
					uint32_t n)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(5);
	bool pb = ks->format != KAFKA_FORMAT_JSON;
	char count[16];

	if (!h)
		return NULL;
	snprintf(count, sizeof(count), "%u", n);
	if (rd_kafka_header_add(h, "content-type", -1,
				pb ? "application/x-protobuf" : "application/x-ndjson", -1) ||
	    rd_kafka_header_add(h, "flowscope.message-type", -1, record_codec(type)->proto_message,
				-1) ||
	    rd_kafka_header_add(h, "flowscope.framing", -1, framing_name(ks), -1) ||
	    rd_kafka_header_add(h, "flowscope.record-count", -1, count, -1) ||
	    rd_kafka_header_add(h, "flowscope.schema-version", -1,
				FLOWSCOPE_STR(FLOWSCOPE_SCHEMA_VERSION), -1)) {
		rd_kafka_headers_destroy(h);
		return NULL;
	}
	return h;
}

/* A producer from ks->conf with a topic handle per record type that has a codec. */
static int producer_start(struct kafka_sink *ks, struct producer *p, char *errstr,
			  size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(ks->conf);
	char rderr[512];
	int t;

	memset(p, 0, sizeof(*p));
	if (!conf) {
		snprintf(errstr, errstr_size, "kafka producer: out of memory");
		return -ENOMEM;
	}
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
	if (!p->rk) {
		/* Incompatible options end up here (acks=1 with idempotence, a bad CA file). */
		rd_kafka_conf_destroy(conf);
		snprintf(errstr, errstr_size, "kafka producer: %s", rderr);
		return -EINVAL;
	}
	for (t = 0; t < RECORD_TYPE_MAX; t++) {
		/* A type without a codec is never produced; a handle would only make metadata
		 * requests. */
		if (!record_codec(t))
			continue;
		p->rkt[t] = rd_kafka_topic_new(p->rk, ks->topic_names[t], NULL);
		if (!p->rkt[t]) {
			snprintf(errstr, errstr_size, "kafka topic \"%s\": %s", ks->topic_names[t],
				 rd_kafka_err2str(rd_kafka_last_error()));
			return -EINVAL; /* the caller destroys p */
		}
	}
	return 0;
}

/*
 * Destroy p. Records it still holds without a delivery report (after a purge there should be
 * none) are counted as failed with reason, and as lost to a fatal error when lost_fatal.
 */
static void producer_destroy(struct kafka_sink *ks, struct producer *p, rd_kafka_resp_err_t reason,
			     bool lost_fatal)
{
	rd_kafka_t *rk = p->rk;
	int t;

	if (!rk)
		return;
	for (t = 0; t < RECORD_TYPE_MAX; t++) {
		uint64_t n = p->outstanding[t];

		if (p->rkt[t])
			rd_kafka_topic_destroy(p->rkt[t]);
		if (!n)
			continue;
		ks->st.type[t].failed += n;
		if (lost_fatal)
			ks->st.type[t].lost_fatal += n;
		count_failure(ks, reason, t, n);
	}
	ks->inflight_bytes -= p->outstanding_bytes;
	/* no delivery report may count against it any more (producer_of() finds nothing) */
	memset(p, 0, sizeof(*p));
	rd_kafka_destroy(rk);
}

/*
 * Give up what the retiring producer still holds (delivery reports with _PURGE_*), destroy it.
 * The one wait on the loop's thread outside the exit: at most PURGE_WAIT_MS for the purged
 * messages' reports (the purge queues them at once), and librdkafka's join of the failed
 * producer's threads, once per fatal error.
 */
static void retire_now(struct kafka_sink *ks)
{
	if (!ks->old.rk)
		return;
	rd_kafka_purge(ks->old.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(ks->old.rk, PURGE_WAIT_MS);
	producer_destroy(ks, &ks->old, RD_KAFKA_RESP_ERR__FATAL, true);
}

/* From the loop: serve the retiring producer; retire it once it holds nothing or its time is up. */
static void retire_poll(struct kafka_sink *ks)
{
	if (!ks->old.rk)
		return;
	rd_kafka_poll(ks->old.rk, 0);
	if (rd_kafka_outq_len(ks->old.rk) > 0 && clock_mono_ns() < ks->old.deadline_ns)
		return;
	retire_now(ks);
}

/*
 * Replace the failed producer with a new one (not before restart_after_ns). The failed one
 * retires: it keeps its messages in flight until they have delivery reports or flush_timeout_ms
 * has passed. Returns 0, -EAGAIN (not yet) or the error of producer_start() (tried again in
 * 1 s).
 */
static int restart_producer(struct kafka_sink *ks)
{
	uint64_t now = clock_mono_ns();
	struct producer fresh;
	char err[512];
	int ret;

	if (now < ks->restart_after_ns)
		return -EAGAIN;
	ret = producer_start(ks, &fresh, err, sizeof(err));
	if (ret) {
		producer_destroy(ks, &fresh, RD_KAFKA_RESP_ERR__FATAL, true);
		LOG_ERR("kafka: no new producer: %s; trying again in 1 s", err);
		ks->restart_after_ns = now + 1000000000ull;
		return ret;
	}
	retire_now(ks); /* an earlier failed one that is still retiring */
	ks->old = ks->cur;
	ks->old.deadline_ns = now + (uint64_t)ks->flush_timeout_ms * 1000000;
	ks->cur = fresh;
	ks->fatal = false;
	ks->unproven = true;
	ks->brokers_down = false;
	ks->st.producer_restarts++;
	LOG_WARN("kafka: new producer started (%" PRIu64 " since the start); the failed one gets "
		 "%u ms to finish what it has in flight",
		 ks->st.producer_restarts, ks->flush_timeout_ms);
	return 0;
}

/* Hand one message to librdkafka (payload copied). Never blocks; counts a refusal. */
static int produce(struct kafka_sink *ks, enum record_type type, uint64_t cgroup_id,
		   const void *payload, size_t len, uint32_t n)
{
	struct kafka_sink_type_stats *ts = &ks->st.type[type];
	char key[KEY_MAX];
	size_t klen = make_key(ks, cgroup_id, key);
	rd_kafka_headers_t *hdrs = make_headers(ks, type, n);
	rd_kafka_resp_err_t err;
	bool retried = false;

	if (!hdrs) {
		ts->dropped_error += n;
		count_failure(ks, RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE, type, n);
		return -ENOMEM;
	}
again:
	err = rd_kafka_producev(ks->cur.rk, RD_KAFKA_V_RKT(ks->cur.rkt[type]),
				RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_KEY(key, klen),
				RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(make_tag(type, n)),
				RD_KAFKA_V_END);
	if (err == RD_KAFKA_RESP_ERR__FATAL && !retried) {
		/* failed since the last poll: the record goes to a new producer if one may start */
		note_fatal(ks);
		retried = true;
		if (!restart_producer(ks))
			goto again;
	}
	if (err) {
		/* On failure the headers stay ours. */
		rd_kafka_headers_destroy(hdrs);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			ts->dropped_queue_full += n;
			return -ENOBUFS;
		}
		ts->dropped_error += n;
		if (err == RD_KAFKA_RESP_ERR__FATAL)
			ts->lost_fatal += n;
		count_failure(ks, err, type, n);
		return -EIO;
	}
	ks->cur.outstanding[type] += n;
	ks->cur.outstanding_bytes += len;
	ks->inflight_bytes += len;
	ts->produced += n;
	ts->produced_messages++;
	ts->produced_bytes += len;
	return 0;
}

static int flush_batch(struct kafka_sink *ks, enum record_type type, struct batch *b)
{
	int err;

	if (!b->n)
		return 0;
	err = produce(ks, type, b->cgroup_id, b->buf, b->len, b->n);
	ks->batch_bytes -= b->len;
	b->n = 0;
	b->len = 0;
	return err;
}

/*
 * Encode one record into buf through its codec; JSON gets its '\n', protobuf its length prefix
 * when batched, protobuf-sr the wire-format prefix of its type.
 */
static ssize_t encode(struct kafka_sink *ks, const struct record *rec, uint8_t *buf, size_t cap)
{
	ssize_t n;

	if (ks->format == KAFKA_FORMAT_PROTOBUF_SR) {
		size_t plen = ks->value_prefix_len[rec->type];

		if (cap < plen)
			return -ENOSPC;
		memcpy(buf, ks->value_prefix[rec->type], plen);
		n = record_encode_proto(buf + plen, cap - plen, &ks->proto_ctx, rec, false);
		return n < 0 ? n : n + (ssize_t)plen;
	}
	if (ks->format == KAFKA_FORMAT_PROTOBUF)
		return record_encode_proto(buf, cap, &ks->proto_ctx, rec, ks->per_msg > 1);
	if (cap < 2)
		return -ENOSPC;
	n = record_encode_json((char *)buf, cap - 1, &ks->json_ctx, rec);
	if (n < 0)
		return n;
	buf[n++] = '\n';
	return n;
}

/* Would n more bytes exceed the buffer bound? */
static bool over_budget(const struct kafka_sink *ks, size_t n)
{
	return ks->inflight_bytes + ks->batch_bytes + n > ks->buffer_bytes;
}

/*
 * The open batch of cgroup_id: probe BATCH_PROBES slots from the cgroup's hash for its batch,
 * else take a free slot, else send the batch in the first slot and take it over. Sending another
 * cgroup's batch early is harmless for order: its records stay ahead of its later ones.
 */
static struct batch *find_batch(struct kafka_sink *ks, enum record_type type, uint64_t cgroup_id)
{
	struct batch *slots = ks->batches[type], *free_slot = NULL;
	unsigned int h = (cgroup_id * 0x9e3779b97f4a7c15ULL) >> 56, i;

	for (i = 0; i < BATCH_PROBES; i++) {
		struct batch *b = &slots[(h + i) % BATCH_SLOTS];

		if (b->n && b->cgroup_id == cgroup_id)
			return b;
		if (!b->n && !free_slot)
			free_slot = b;
	}
	if (!free_slot) {
		free_slot = &slots[h % BATCH_SLOTS];
		flush_batch(ks, type, free_slot);
	}
	return free_slot;
}

static int kafka_emit(struct sink *s, const struct record *rec)
{
	struct kafka_sink *ks = to_kafka(s);
	enum record_type type = rec->type;
	uint64_t cgroup_id = rec->cgroup_id;
	struct kafka_sink_type_stats *ts;
	struct batch *b;
	ssize_t n;
	int err;

	/* refused, never encoded as another type; events have no topic handle until their codec */
	if (!record_codec(type) || !ks->cur.rkt[type]) {
		ks->st.unknown_type++;
		return -EPROTONOSUPPORT;
	}
	ts = &ks->st.type[type];
	if (ks->per_msg == 1) {
		n = encode(ks, rec, ks->scratch, ks->scratch_cap);
		if (n == -ENOSPC) {
			size_t max = record_encoded_max(rec, strlen(ks->node_name)) +
				     KAFKA_VALUE_PREFIX_MAX;
			uint8_t *nb = max > ks->scratch_cap ? realloc(ks->scratch, max) : NULL;

			/* without a bigger buffer (or when the bound is wrong) it stays an error */
			if (nb) {
				ks->scratch = nb;
				ks->scratch_cap = max;
				n = encode(ks, rec, ks->scratch, ks->scratch_cap);
			} else if (max > ks->scratch_cap) {
				n = -ENOMEM;
			}
		}
		if (n < 0) {
			ts->dropped_error++;
			return (int)n;
		}
		if (over_budget(ks, n)) {
			ts->dropped_queue_full++;
			return -ENOBUFS;
		}
		return produce(ks, type, cgroup_id, ks->scratch, n, 1);
	}

	b = find_batch(ks, type, cgroup_id);
	for (size_t max = 0;;) {
		size_t room = b->cap - b->len, cap;
		uint8_t *nb;

		n = room ? encode(ks, rec, b->buf + b->len, room) : -ENOSPC;
		if (n != -ENOSPC)
			break; /* encoded, or an error */
		if (!max)
			max = record_encoded_max(rec, strlen(ks->node_name));
		if (room >= max)
			break; /* the bound is wrong: a real failure */
		if (b->len && b->cap >= BATCH_MAX_BYTES + RECORD_MAX_BYTES) {
			flush_batch(ks, type, b);
			continue;
		}
		/*
		 * Doubling from 4 KiB ends at 512 KiB: room for a full batch and a record. A
		 * record longer than that gets an emptied batch grown to its bound.
		 */
		cap = b->cap ? b->cap * 2 : 4096;
		if (!b->len && cap < max)
			cap = max;
		nb = realloc(b->buf, cap);
		if (!nb) {
			n = -ENOMEM;
			break;
		}
		b->buf = nb;
		b->cap = cap;
	}
	if (n < 0) {
		ts->dropped_error++;
		return (int)n;
	}
	if (over_budget(ks, n)) {
		ts->dropped_queue_full++;
		return -ENOBUFS;
	}
	b->cgroup_id = cgroup_id;
	b->len += n;
	b->n++;
	ks->batch_bytes += n;
	if (b->n >= ks->per_msg || b->len >= BATCH_MAX_BYTES) {
		err = flush_batch(ks, type, b);
		/* The record is in a message that librdkafka refused: already counted there. */
		return err;
	}
	return 0;
}

static void kafka_poll(struct sink *s)
{
	struct kafka_sink *ks = to_kafka(s);

	rd_kafka_poll(ks->cur.rk, 0);
	retire_poll(ks);
	if (ks->fatal)
		restart_producer(ks);
}

/* Delivery reports and errors are served once per loop round. */
static void on_loop_round(struct loop *l, void *arg)
{
	(void)l;
	kafka_poll(arg);
}

static int kafka_attach(struct sink *s, struct loop *l)
{
	return loop_add_before_poll(l, on_loop_round, s);
}

static void kafka_end_interval(struct sink *s)
{
	struct kafka_sink *ks = to_kafka(s);
	int t, i;

	if (ks->per_msg == 1)
		return;
	for (t = 0; t < RECORD_TYPE_MAX; t++) {
		if (!ks->batches[t])
			continue;
		for (i = 0; i < BATCH_SLOTS; i++)
			flush_batch(ks, t, &ks->batches[t][i]);
	}
}

static uint64_t records_total(const struct kafka_sink *ks, size_t field_off)
{
	uint64_t sum = 0;
	int t;

	for (t = 0; t < RECORD_TYPE_MAX; t++)
		sum += *(const uint64_t *)((const char *)&ks->st.type[t] + field_off);
	return sum;
}

#define TOTAL(ks, field) records_total(ks, offsetof(struct kafka_sink_type_stats, field))

static void destroy(struct kafka_sink *ks)
{
	int t, i;

	producer_destroy(ks, &ks->old, RD_KAFKA_RESP_ERR__FATAL, true);
	producer_destroy(ks, &ks->cur, RD_KAFKA_RESP_ERR__PURGE_QUEUE, false);
	if (ks->conf)
		rd_kafka_conf_destroy(ks->conf);
	for (t = 0; t < RECORD_TYPE_MAX; t++) {
		if (ks->batches[t]) {
			for (i = 0; i < BATCH_SLOTS; i++)
				free(ks->batches[t][i].buf);
			free(ks->batches[t]);
		}
		free(ks->topic_names[t]);
	}
	kafka_stats_destroy(ks->client_stats);
	free(ks->node_name);
	free(ks->scratch);
	free(ks);
}

/*
 * At exit: send the open batches, wait for the delivery reports (at most flush_timeout_ms, the
 * retiring producer within the same time), then purge what is left, so that it is counted as
 * failed (_PURGE_QUEUE, _PURGE_INFLIGHT) and the counters logged after this are final.
 */
static uint64_t kafka_flush(struct sink *s)
{
	struct kafka_sink *ks = to_kafka(s);
	uint64_t undelivered, failed, queued, dropped, lost, deadline;
	char fatal_note[160] = "";

	if (ks->flushed)
		return ks->undelivered;
	if (ks->fatal)
		restart_producer(ks);
	kafka_end_interval(s);
	deadline = clock_mono_ns() + (uint64_t)ks->flush_timeout_ms * 1000000;
	rd_kafka_flush(ks->cur.rk, ks->flush_timeout_ms);
	if (ks->old.rk) {
		uint64_t now = clock_mono_ns();

		rd_kafka_flush(ks->old.rk, now < deadline ? (int)((deadline - now) / 1000000) : 0);
		retire_now(ks);
	}
	failed = TOTAL(ks, failed) + TOTAL(ks, dropped_error) + ks->st.unknown_type;
	queued = TOTAL(ks, produced) - TOTAL(ks, delivered) - TOTAL(ks, failed);
	dropped = TOTAL(ks, dropped_queue_full);
	lost = TOTAL(ks, lost_fatal);
	undelivered = failed + queued;
	/* Whatever is left will not go: purge it, so that it is counted and destroy does not wait
	 * on it. */
	rd_kafka_purge(ks->cur.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(ks->cur.rk, PURGE_WAIT_MS);
	rd_kafka_poll(ks->cur.rk, 0);

	if (ks->st.fatal_errors)
		snprintf(fatal_note, sizeof(fatal_note),
			 "; %" PRIu64 " lost to %" PRIu64 " fatal producer errors (%" PRIu64 " prod"
			 "ucers"
			 " repl"
			 "aced"
			 ")",
			 lost, ks->st.fatal_errors, ks->st.producer_restarts);
	if (undelivered || dropped)
		LOG_WARN("kafka: %" PRIu64 " records not delivered (%" PRIu64 " failed, %" PRIu64
			 " still queued after %u ms); %" PRIu64 " dropped earlier because the "
			 "buffer was full%s",
			 undelivered, failed, queued, ks->flush_timeout_ms, dropped, fatal_note);
	else
		LOG_INFO("kafka: all %" PRIu64 " records delivered%s", TOTAL(ks, delivered),
			 fatal_note);
	ks->flushed = true;
	ks->undelivered = undelivered;
	return undelivered;
}

static uint64_t kafka_free(struct sink *s)
{
	struct kafka_sink *ks = to_kafka(s);
	uint64_t undelivered = kafka_flush(s);

	destroy(ks);
	return undelivered;
}

enum {
	KC_RECORDS,
	KC_DROPPED,
	KC_FAILURES,
	KC_LOST,
};

/* Families whose rows depend on the record types and on the errors seen (kafka_dynamic()). */
static const struct counter_desc kafka_families[] = {
	[KC_RECORDS] = { .name = "flowscope_kafka_records_total",
			 .help = "Records handed to librdkafka, and their outcome, per record "
				 "type.",
			 .type = COUNTER_COUNTER },
	[KC_DROPPED] = { .name = "flowscope_sink_records_dropped_total",
			 .help = "Records the sink could not write.",
			 .type = COUNTER_COUNTER },
	[KC_FAILURES] = { .name = "flowscope_kafka_delivery_failures_total",
			  .help = "Records whose delivery failed, per librdkafka error.",
			  .type = COUNTER_COUNTER },
	[KC_LOST] = { .name = "flowscope_kafka_records_lost_total",
		      .help = "Records lost with a producer that failed fatally (also in "
			      "failed or dropped), per record type.",
		      .type = COUNTER_COUNTER },
};

static const struct counter_desc kafka_counters[] = {
	COUNTER_ROW("flowscope_kafka_buffered_bytes", COUNTER_GAUGE,
		    "Bytes waiting for the brokers (batches and unacknowledged messages).", "",
		    struct kafka_sink_stats, buffered_bytes),
	COUNTER_ROW("flowscope_kafka_producer_fatal_errors_total", COUNTER_COUNTER,
		    "Fatal errors of the producer (RD_KAFKA_RESP_ERR__FATAL).", "",
		    struct kafka_sink_stats, fatal_errors),
	COUNTER_ROW("flowscope_kafka_producer_restarts_total", COUNTER_COUNTER,
		    "Producers made to replace one that failed fatally.", "",
		    struct kafka_sink_stats, producer_restarts),
};

static int kafka_snapshot(void *arg, void *snap)
{
	sink_kafka_stats(arg, snap);
	return 0;
}

static void kafka_dynamic(void *arg, const void *snap, struct counters_out *out)
{
	const struct kafka_sink_stats *ks = snap;
	char labels[160];

	(void)arg;
	for (int t = 0; t < RECORD_TYPE_MAX; t++) {
		const char *name = record_type_name(t);
		const struct {
			const char *state;
			uint64_t v;
		} rows[] = { { "produced", ks->type[t].produced },
			     { "delivered", ks->type[t].delivered },
			     { "failed", ks->type[t].failed } };

		if (!name)
			continue;
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			snprintf(labels, sizeof(labels), "type=\"%s\",state=\"%s\"", name,
				 rows[i].state);
			counters_sample(out, &kafka_families[KC_RECORDS], labels, rows[i].v);
		}
	}
	for (int t = 0; t < RECORD_TYPE_MAX; t++) {
		const char *name = record_type_name(t);

		if (!name)
			continue;
		snprintf(labels, sizeof(labels), "sink=\"kafka\",type=\"%s\",reason=\"queue_full\"",
			 name);
		counters_sample(out, &kafka_families[KC_DROPPED], labels,
				ks->type[t].dropped_queue_full);
		snprintf(labels, sizeof(labels), "sink=\"kafka\",type=\"%s\",reason=\"error\"",
			 name);
		counters_sample(out, &kafka_families[KC_DROPPED], labels,
				ks->type[t].dropped_error);
	}
	counters_sample(out, &kafka_families[KC_DROPPED], "sink=\"kafka\",reason=\"unknown_type\"",
			ks->unknown_type);
	for (int t = 0; t < RECORD_TYPE_MAX; t++) {
		const char *name = record_type_name(t);

		if (!name)
			continue;
		snprintf(labels, sizeof(labels), "type=\"%s\",reason=\"fatal_error\"", name);
		counters_sample(out, &kafka_families[KC_LOST], labels, ks->type[t].lost_fatal);
	}
	for (size_t i = 0; i < ks->n_reasons; i++) {
		uint64_t sum = 0;

		for (int t = 0; t < RECORD_TYPE_MAX; t++)
			sum += ks->reasons[i].failed[t];
		snprintf(labels, sizeof(labels), "reason=\"%s\"",
			 sink_kafka_reason_name(ks->reasons[i].err));
		counters_sample(out, &kafka_families[KC_FAILURES], labels, sum);
	}
	counters_sample(out, &kafka_families[KC_FAILURES], "reason=\"other\"",
			ks->failed_other_reasons);
}

static int kafka_register_counters(struct sink *s, struct counters *reg)
{
	struct counters_group g = {
		COUNTERS_GROUP("kafka", kafka_counters, struct kafka_sink_stats, kafka_snapshot, s),
		COUNTERS_DYNAMIC(kafka_dynamic, kafka_families),
	};

	if (counters_register(reg, &g))
		return -ENOMEM;
	return kafka_stats_register_counters(to_kafka(s)->client_stats, reg);
}

/* Not ready while no broker is reachable and more than half of the buffer is used: records
 * would soon be dropped. */
static bool kafka_ready(struct sink *s, char *why, size_t size)
{
	struct kafka_sink *ks = to_kafka(s);
	uint64_t buffered = ks->inflight_bytes + ks->batch_bytes;

	if (ks->fatal) {
		snprintf(why, size, "kafka: producer failed (%s); no new producer yet",
			 ks->fatal_reason);
		return false;
	}
	/* a new producer proves itself with its first delivery; while nothing waits, nothing
	 * is at risk */
	if (ks->unproven && buffered) {
		snprintf(why, size,
			 "kafka: producer failed (%s); the new one has delivered nothing yet",
			 ks->fatal_reason);
		return false;
	}
	if (!ks->brokers_down || buffered * 2 <= ks->buffer_bytes)
		return true;
	snprintf(why, size,
		 "kafka: no broker reachable and %" PRIu64 " of %" PRIu64 " buffer bytes used",
		 buffered, ks->buffer_bytes);
	return false;
}

static const struct sink_ops kafka_ops = {
	.emit = kafka_emit,
	.poll = kafka_poll,
	.end_interval = kafka_end_interval,
	.attach = kafka_attach,
	.register_counters = kafka_register_counters,
	.ready = kafka_ready,
	.flush = kafka_flush,
	.destroy = kafka_free,
};

void sink_kafka_stats(struct sink *s, struct kafka_sink_stats *out)
{
	struct kafka_sink *ks = to_kafka(s);

	*out = ks->st;
	out->buffered_bytes = ks->inflight_bytes + ks->batch_bytes;
}

static int check_config(const struct kafka_sink_config *cfg, char *errstr, size_t errstr_size)
{
	static const char *const codecs[] = { "none", "gzip", "snappy", "lz4", "zstd" };
	size_t i;
	int t;

	if (sink_kafka_check_brokers(cfg->brokers, errstr, errstr_size))
		return -EINVAL;
	for (t = 0; t < RECORD_TYPE_MAX; t++) {
		if (!cfg->topics[t] || !*cfg->topics[t]) {
			snprintf(errstr, errstr_size, "empty kafka topic name");
			return -EINVAL;
		}
	}
	if (cfg->format != KAFKA_FORMAT_JSON && cfg->format != KAFKA_FORMAT_PROTOBUF &&
	    cfg->format != KAFKA_FORMAT_PROTOBUF_SR) {
		snprintf(errstr, errstr_size, "kafka format must be json, protobuf or protobuf-sr");
		return -EINVAL;
	}
	if (cfg->format == KAFKA_FORMAT_PROTOBUF_SR) {
		/* The registry's deserializers read one message per Kafka message. */
		if (cfg->records_per_message != 1) {
			snprintf(errstr, errstr_size,
				 "kafka format protobuf-sr writes one record per message");
			return -EINVAL;
		}
		for (t = 0; t < RECORD_TYPE_MAX; t++) {
			size_t len = cfg->value_prefix[t].len;

			if (record_codec(t) && (!len || len > KAFKA_VALUE_PREFIX_MAX)) {
				snprintf(errstr, errstr_size,
					 "kafka format protobuf-sr: no schema id for %s records",
					 record_type_name(t));
				return -EINVAL;
			}
		}
	}
	if (cfg->records_per_message < 1 ||
	    cfg->records_per_message > KAFKA_MAX_RECORDS_PER_MESSAGE) {
		snprintf(errstr, errstr_size, "kafka records per message must be 1 to %d",
			 KAFKA_MAX_RECORDS_PER_MESSAGE);
		return -EINVAL;
	}
	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (cfg->compression && !strcmp(cfg->compression, codecs[i]))
			break;
	if (i == sizeof(codecs) / sizeof(codecs[0])) {
		snprintf(errstr, errstr_size,
			 "kafka compression must be none, gzip, snappy, lz4 or zstd");
		return -EINVAL;
	}
	if (cfg->buffer_bytes < 1024) {
		snprintf(errstr, errstr_size, "kafka buffer bytes must be at least 1024");
		return -EINVAL;
	}
	if (!cfg->node_name || !*cfg->node_name) {
		snprintf(errstr, errstr_size, "empty node name");
		return -EINVAL;
	}
	return 0;
}

struct sink *sink_kafka_create(const struct kafka_sink_config *cfg, char *errstr,
			       size_t errstr_size)
{
	struct kafka_sink *ks = NULL;
	rd_kafka_conf_t *conf = NULL;
	char num[32];
	size_t i;
	int t;

	if (check_config(cfg, errstr, errstr_size))
		return NULL;

	ks = calloc(1, sizeof(*ks));
	if (!ks)
		goto nomem;
	ks->base.ops = &kafka_ops;
	ks->format = cfg->format;
	if (cfg->format == KAFKA_FORMAT_PROTOBUF_SR) {
		for (t = 0; t < RECORD_TYPE_MAX; t++) {
			memcpy(ks->value_prefix[t], cfg->value_prefix[t].bytes,
			       cfg->value_prefix[t].len);
			ks->value_prefix_len[t] = cfg->value_prefix[t].len;
		}
	}
	ks->per_msg = cfg->records_per_message;
	ks->buffer_bytes = cfg->buffer_bytes;
	ks->flush_timeout_ms = cfg->flush_timeout_ms;
	ks->node_name = strdup(cfg->node_name);
	ks->scratch = malloc(RECORD_MAX_BYTES);
	if (!ks->node_name || !ks->scratch)
		goto nomem;
	ks->scratch_cap = RECORD_MAX_BYTES;
	ks->json_ctx.node_name = ks->node_name;
	ks->proto_ctx.node_name = ks->node_name;
	for (t = 0; t < RECORD_TYPE_MAX; t++) {
		ks->topic_names[t] = strdup(cfg->topics[t]);
		if (!ks->topic_names[t])
			goto nomem;
		if (ks->per_msg > 1 && record_codec(t)) {
			ks->batches[t] = calloc(BATCH_SLOTS, sizeof(struct batch));
			if (!ks->batches[t])
				goto nomem;
		}
	}

	ks->client_stats = kafka_stats_create();
	if (!ks->client_stats)
		goto nomem;
	conf = rd_kafka_conf_new();
	/* Our defaults first, the user's options after them so they win. */
	snprintf(num, sizeof(num), "%" PRIu64, (cfg->buffer_bytes + 1023) / 1024);
	if (conf_set(conf, "bootstrap.servers", cfg->brokers, errstr, errstr_size) ||
	    conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) ||
	    conf_set(conf, "acks", "all", errstr, errstr_size) ||
	    conf_set(conf, "compression.codec", cfg->compression, errstr, errstr_size) ||
	    conf_set(conf, "queue.buffering.max.kbytes", num, errstr, errstr_size) ||
	    /* The byte bound is the limit, not a message count. */
	    conf_set(conf, "queue.buffering.max.messages", "0", errstr, errstr_size) ||
	    /* Records wait for a broker as long as they fit in the buffer. */
	    conf_set(conf, "message.timeout.ms", "0", errstr, errstr_size) ||
	    conf_set(conf, "client.id", "flowscope", errstr, errstr_size) ||
	    /* The Java client's (and kafkajs') hash of the key, not librdkafka's CRC32: a key
	     * lands on the partition other producers pick for it (docs/kafka.md). */
	    conf_set(conf, "partitioner", "murmur2_random", errstr, errstr_size) ||
	    /*
	     * One produce request in flight per broker: with more, a broker that restarts can
	     * refuse the first (NOT_LEADER_FOR_PARTITION, not persisted) and take the next, and
	     * librdkafka before 2.3 turns the gap into a fatal idempotent-producer error that
	     * stops all delivery (librdkafka issue 3584; seen in e2e_kafka with a killed broker).
	     */
	    conf_set(conf, "max.in.flight.requests.per.connection", "1", errstr, errstr_size) ||
	    conf_set(conf, "statistics.interval.ms", KAFKA_STATS_INTERVAL_MS, errstr, errstr_size))
		goto fail;
	for (i = 0; i < cfg->n_options; i++)
		if (apply_option(conf, cfg->options[i], errstr, errstr_size))
			goto fail;
	rd_kafka_conf_set_opaque(conf, ks);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_stats_cb(conf, on_stats);

	/* kept: a producer that fails fatally is replaced by one from the same configuration */
	ks->conf = conf;
	conf = NULL;
	if (producer_start(ks, &ks->cur, errstr, errstr_size))
		goto fail;
	LOG_INFO("kafka: producing %s to %s (flows %s, dns %s), %u records per message, %s",
		 kafka_format_name(cfg->format), cfg->brokers, ks->topic_names[RECORD_FLOW],
		 ks->topic_names[RECORD_DNS], ks->per_msg, cfg->compression);
	return &ks->base;

nomem:
	snprintf(errstr, errstr_size, "kafka sink: out of memory");
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (ks)
		destroy(ks);
	return NULL;
}
