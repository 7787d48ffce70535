// SPDX-License-Identifier: Apache-2.0
/*
 * kafka_bench: records per second through the Kafka sink, and encode cost per record.
 *
 * Usage: kafka_bench [-n RECORDS_FOR_100] [-m RECORDS_FOR_1] [-k]   (-k: skip the kcat runs)
 *
 * For each format (json, protobuf) and records per message (1, 100), on a fresh librdkafka mock
 * cluster (3 brokers, 4 partitions, loopback, hosted in this process):
 *   emit   records/s of sink_emit() alone: encode, batch, rd_kafka_produce (what the agent's
 *          loop pays); sink_poll() every 1000 records
 *   total  records/s including sink_destroy(): everything acknowledged by the brokers
 *   kcat   the same number of messages of the same sizes and keys, pre-encoded in a file, sent
 *          by `kcat -P -l` with the same producer settings (idempotence, acks=all, lz4),
 *          records/s over its wall time; ratio = total / kcat
 * Protobuf payloads for kcat have bytes 0x1e/0x1f (kcat's delimiters here) replaced, which
 * keeps sizes. Before that, ns per record of the encoders alone (JSON and protobuf).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bench_records.h"
#include "record_json.h"
#include "record_proto.h"
#include "sink_kafka.h"

static const struct record_json_ctx jctx = { .node_name = "node-bench-1" };
static const struct record_proto_ctx pctx = { .node_name = "node-bench-1" };

static void bench_encode(void)
{
	static char buf[4096];
	const long n = 4000000;
	size_t bytes = 0;
	double t0, t1;
	long i;

	t0 = bench_now();
	for (i = 0; i < n; i++)
		bytes += record_json_flow(buf, sizeof(buf), &jctx, &bench_pool[i % BENCH_POOL]);
	t1 = bench_now();
	printf("encode json flow:     %6.1f ns/record (%zu bytes avg)\n", (t1 - t0) * 1e9 / n,
	       bytes / n);
	bytes = 0;
	t0 = bench_now();
	for (i = 0; i < n; i++)
		bytes += record_proto_encode_flow((uint8_t *)buf, sizeof(buf), &pctx,
						  &bench_pool[i % BENCH_POOL], true);
	t1 = bench_now();
	printf("encode protobuf flow: %6.1f ns/record (%zu bytes avg, delimited)\n",
	       (t1 - t0) * 1e9 / n, bytes / n);
}

struct mock {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
};

static const char *mock_start(struct mock *m)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512];

	rd_kafka_conf_set(conf, "log_level", "2", errstr, sizeof(errstr));
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!m->rk)
		return NULL;
	m->mc = rd_kafka_mock_cluster_new(m->rk, 3);
	if (!m->mc)
		return NULL;
	rd_kafka_mock_topic_create(m->mc, "flowscope.flows", 4, 3);
	rd_kafka_mock_topic_create(m->mc, "bench.kcat", 4, 3);
	return rd_kafka_mock_cluster_bootstraps(m->mc);
}

static void mock_stop(struct mock *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
}

/* Put one message "key\x1fpayload\x1e" into f, keeping kcat's delimiters out of the payload. */
static void put_kcat_msg(FILE *f, uint64_t cgroup_id, uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] == 0x1e || p[i] == 0x1f)
			p[i] = 0x20;
	fprintf(f, "node-bench-1/%" PRIu64 "\x1f", cgroup_id);
	fwrite(p, 1, len, f);
	fputc(0x1e, f);
}

/*
 * The messages the sink would produce for n records: records in pool order, batched per cgroup
 * up to per_msg. Returns the message count.
 */
static long write_kcat_file(const char *path, enum kafka_format fmt, uint32_t per_msg, long n)
{
	static uint8_t batch[BENCH_CGROUPS][128 * 1024];
	static size_t len[BENCH_CGROUPS];
	static uint32_t cnt[BENCH_CGROUPS];
	FILE *f = fopen(path, "w");
	long i, msgs = 0;
	int c;

	if (!f)
		return -1;
	memset(len, 0, sizeof(len));
	memset(cnt, 0, sizeof(cnt));
	for (i = 0; i < n; i++) {
		const struct flow_record *r = &bench_pool[i % BENCH_POOL];
		ssize_t k;

		c = (i % BENCH_POOL) % BENCH_CGROUPS;
		if (fmt == KAFKA_FORMAT_JSON) {
			k = record_json_flow((char *)batch[c] + len[c],
					     sizeof(batch[c]) - len[c] - 1, &jctx, r);
			batch[c][len[c] + k++] = '\n';
		} else {
			k = record_proto_encode_flow(batch[c] + len[c], sizeof(batch[c]) - len[c],
						     &pctx, r, per_msg > 1);
		}
		len[c] += k;
		if (++cnt[c] == per_msg) {
			put_kcat_msg(f, r->cgroup_id, batch[c], len[c]);
			msgs++;
			len[c] = 0;
			cnt[c] = 0;
		}
	}
	for (c = 0; c < BENCH_CGROUPS; c++) {
		if (cnt[c]) {
			put_kcat_msg(f, bench_pool[c].cgroup_id, batch[c], len[c]);
			msgs++;
		}
	}
	fclose(f);
	return msgs;
}

static void bench_sink(enum kafka_format fmt, uint32_t per_msg, long n, bool with_kcat)
{
	const char *fname = fmt == KAFKA_FORMAT_JSON ? "json" : "protobuf";
	struct kafka_sink_config cfg;
	struct kafka_sink_stats st;
	char errstr[512], cmd[1024], path[] = "/tmp/kafka_bench.XXXXXX";
	double t0, t1, t2, tk0, tk1;
	uint64_t undelivered;
	struct mock m;
	const char *boot = mock_start(&m);
	struct sink *s;
	long i, msgs;
	int fd;

	if (!boot) {
		fprintf(stderr, "mock cluster failed\n");
		exit(1);
	}
	kafka_sink_config_init(&cfg);
	cfg.brokers = boot;
	cfg.format = fmt;
	cfg.records_per_message = per_msg;
	cfg.node_name = "node-bench-1";
	cfg.buffer_bytes = 2ULL << 30; /* measure throughput, not drops */
	cfg.flush_timeout_ms = 120000;
	s = sink_kafka_create(&cfg, errstr, sizeof(errstr));
	if (!s) {
		fprintf(stderr, "sink: %s\n", errstr);
		exit(1);
	}
	t0 = bench_now();
	for (i = 0; i < n; i++) {
		sink_emit(s, &bench_pool[i % BENCH_POOL].hdr);
		if (i % 1000 == 999)
			sink_poll(s);
	}
	sink_end_interval(s);
	t1 = bench_now();
	sink_kafka_stats(s, &st);
	undelivered = sink_destroy(s);
	t2 = bench_now();
	printf("%-8s %3u/msg %8ld records %7" PRIu64 " msgs: emit %9.0f rec/s, total %9.0f rec/s"
	       " (%" PRIu64 " dropped, %" PRIu64 " undelivered)",
	       fname, per_msg, n, st.type[RECORD_FLOW].produced_messages, n / (t1 - t0),
	       n / (t2 - t0), st.type[RECORD_FLOW].dropped_queue_full, undelivered);

	if (!with_kcat) {
		printf("\n");
		mock_stop(&m);
		return;
	}
	fd = mkstemp(path);
	close(fd);
	msgs = write_kcat_file(path, fmt, per_msg, n);
	snprintf(cmd, sizeof(cmd),
		 "kcat -P -q -b %s -t bench.kcat -K '\\x1f' -D '\\x1e' -z lz4 -X "
		 "enable.idempotence=true"
		 " -X acks=all -X queue.buffering.max.kbytes=2097152"
		 " -X queue.buffering.max.messages=0 -l %s",
		 boot, path);
	tk0 = bench_now();
	if (system(cmd))
		fprintf(stderr, "kcat failed: %s\n", cmd);
	tk1 = bench_now();
	unlink(path);
	printf("; kcat %7ld msgs %9.0f rec/s; total/kcat %.2f\n", msgs, n / (tk1 - tk0),
	       (tk1 - tk0) / (t2 - t0));
	mock_stop(&m);
}

int main(int argc, char **argv)
{
	long n100 = 2000000, n1 = 200000;
	bool with_kcat = true;
	int opt;

	while ((opt = getopt(argc, argv, "n:m:k")) != -1) {
		if (opt == 'n')
			n100 = atol(optarg);
		else if (opt == 'm')
			n1 = atol(optarg);
		else if (opt == 'k')
			with_kcat = false;
		else
			return 2;
	}
	bench_make_pool();
	bench_encode();
	bench_sink(KAFKA_FORMAT_JSON, 1, n1, with_kcat);
	bench_sink(KAFKA_FORMAT_PROTOBUF, 1, n1, with_kcat);
	bench_sink(KAFKA_FORMAT_JSON, 100, n100, with_kcat);
	bench_sink(KAFKA_FORMAT_PROTOBUF, 100, n100, with_kcat);
	return 0;
}
