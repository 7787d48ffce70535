// SPDX-License-Identifier: Apache-2.0
/*
 * kafka_mock_cluster: librdkafka's mock Kafka cluster on loopback, for tests and benchmarks.
 *
 * Usage: kafka_mock_cluster [-b BROKERS] [-p PARTITIONS] [-t TOPIC]...
 *   -b  number of brokers (default 3), ids 1..BROKERS
 *   -p  partitions per topic (default 4)
 *   -t  topic to create (repeatable; default flowscope.flows, flowscope.dns, flowscope.events)
 *
 * Prints the bootstrap servers ("127.0.0.1:PORT,...") as its first stdout line, then reads
 * commands on stdin, one per line, and answers each with "ok" or "error: ..." on stdout:
 *   down N | up N      take broker N down (connections closed, new ones refused) or back up
 *   down all | up all  the same for every broker
 *   quit               exit (so does end of input)
 * Other clients (kcat, librdkafka consumers) consume from it with the bootstrap servers.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static int set_state(rd_kafka_mock_cluster_t *mc, int n_brokers, const char *what, bool up)
{
	int first, last, id;
	char *end;

	if (!strcmp(what, "all")) {
		first = 1;
		last = n_brokers;
	} else {
		first = last = (int)strtol(what, &end, 10);
		if (*end || first < 1 || first > n_brokers)
			return -1;
	}
	for (id = first; id <= last; id++) {
		rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mc, id)
					     : rd_kafka_mock_broker_set_down(mc, id);

		if (err)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const default_topics[] = { "flowscope.flows", "flowscope.dns",
						      "flowscope.events" };
	const char *topics[64];
	int n_topics = 0, n_brokers = 3, partitions = 4, opt, i, ret = 1;
	rd_kafka_mock_cluster_t *mc = NULL;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk = NULL;
	char errstr[512], line[256];

	while ((opt = getopt(argc, argv, "b:p:t:")) != -1) {
		switch (opt) {
		case 'b':
			n_brokers = atoi(optarg);
			break;
		case 'p':
			partitions = atoi(optarg);
			break;
		case 't':
			if (n_topics < (int)(sizeof(topics) / sizeof(topics[0])))
				topics[n_topics++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-b BROKERS] [-p PARTITIONS] [-t TOPIC]...\n",
				argv[0]);
			return 2;
		}
	}
	if (n_brokers < 1 || partitions < 1) {
		fprintf(stderr, "brokers and partitions must be at least 1\n");
		return 2;
	}
	if (!n_topics)
		for (; n_topics < 3; n_topics++)
			topics[n_topics] = default_topics[n_topics];

	/* The mock cluster needs a client instance to live in; it is not used otherwise. */
	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr))) {
		fprintf(stderr, "%s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "rd_kafka_new: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, n_brokers);
	if (!mc) {
		fprintf(stderr, "cannot create the mock cluster\n");
		goto cleanup;
	}
	for (i = 0; i < n_topics; i++) {
		int replicas = n_brokers < 3 ? n_brokers : 3;

		if (rd_kafka_mock_topic_create(mc, topics[i], partitions, replicas)) {
			fprintf(stderr, "cannot create topic %s\n", topics[i]);
			goto cleanup;
		}
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		char cmd[16], arg[32];
		int n = sscanf(line, "%15s %31s", cmd, arg);

		if (n >= 1 && !strcmp(cmd, "quit"))
			break;
		if (n == 2 && (!strcmp(cmd, "down") || !strcmp(cmd, "up")) &&
		    !set_state(mc, n_brokers, arg, !strcmp(cmd, "up")))
			printf("ok\n");
		else if (n >= 1)
			printf("error: expected down N|all, up N|all or quit\n");
		fflush(stdout);
	}
	ret = 0;
cleanup:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return ret;
}
