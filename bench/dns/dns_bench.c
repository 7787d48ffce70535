// SPDX-License-Identifier: Apache-2.0
/*
 * dns_bench: full parse (header, question, all answers) of the realistic responses in
 * tests/dns/corpus/valid with dns_parse(), beside ldns_wire2pkt() + ldns_pkt_free() on the same
 * messages in the same run. Prints the median ns/message of several runs and the ratio.
 * Crafted responses (nul_label_*, many_*) are left out of the mixed loop, so that it stays the
 * realistic mix; the large ones (many_*, e.g. 1,000 A records) are also reported per answer, for
 * the parse alone and for what the agent does with each answer (parse, render owner and data,
 * learn into the IP -> name cache).
 *
 * Usage: dns_bench [CORPUS_DIR [ITERATIONS [RUNS]]]
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "dns.h"

#define MAX_MSGS 64
#define MAX_RUNS 31

struct corpus {
	size_t n;
	size_t n_mixed; /* the first n_mixed are the realistic responses; crafted ones follow */
	char name[MAX_MSGS][256];
	uint8_t *msg[MAX_MSGS];
	size_t len[MAX_MSGS];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int is_bin(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && !strcmp(d->d_name + n - 4, ".bin");
}

/* Responses only (QR set): the bench is about what the agent parses on the answer path. */
static int load(const char *dir, struct corpus *c)
{
	struct dirent **names;
	int n = scandir(dir, &names, is_bin, alphasort);
	int ret = -1;

	if (n < 0) {
		perror(dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		uint8_t buf[65536];
		size_t len;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		f = fopen(path, "rb");
		if (!f) {
			perror(path);
			goto done;
		}
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (len < 12 || !(buf[2] & 0x80) || c->n == MAX_MSGS)
			continue;
		c->msg[c->n] = malloc(len);
		if (!c->msg[c->n])
			goto done;
		memcpy(c->msg[c->n], buf, len);
		c->len[c->n] = len;
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", names[i]->d_name);
		c->n++;
	}
	/* crafted ones to the end, in order; in name order */
	for (size_t i = 0, j = 0; i < c->n; i++) {
		if (strncmp(c->name[i], "many_", 5) != 0 && strncmp(c->name[i], "nul_", 4) != 0) {
			char name[256];
			uint8_t *m = c->msg[i];
			size_t l = c->len[i];

			memcpy(name, c->name[i], sizeof(name));
			memmove(&c->name[j + 1], &c->name[j], (i - j) * sizeof(c->name[0]));
			memmove(&c->msg[j + 1], &c->msg[j], (i - j) * sizeof(c->msg[0]));
			memmove(&c->len[j + 1], &c->len[j], (i - j) * sizeof(c->len[0]));
			memcpy(c->name[j], name, sizeof(name));
			c->msg[j] = m;
			c->len[j] = l;
			j++;
			c->n_mixed = j;
		}
	}
	ret = c->n ? 0 : -1;
done:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

static volatile uint64_t sink;

/* ns per message for @iters passes over messages [from, to) of @c. */
static double run_ours(const struct corpus *c, size_t from, size_t to, long iters)
{
	static struct dns_msg msg;
	uint64_t t0, t1, acc = 0;

	t0 = now_ns();
	for (long it = 0; it < iters; it++) {
		for (size_t i = from; i < to; i++) {
			if (dns_parse(c->msg[i], c->len[i], &msg, NULL) == DNS_OK)
				acc += msg.n_answers + (uint8_t)msg.qname[0];
		}
	}
	t1 = now_ns();
	sink += acc;
	return (double)(t1 - t0) / ((double)iters * (double)(to - from));
}

/* As run_ours(), plus what the agent does per answer: render owner and data, learn the name. */
static double run_agent_path(const struct corpus *c, size_t from, size_t to, long iters)
{
	static struct dns_msg msg;
	static char owner[DNS_NAME_TEXT_MAX], data[DNS_DATA_TEXT_MAX];
	static struct dns_names *names;
	uint64_t t0, t1, acc = 0;

	if (!names)
		names = dns_names_create(65536, DNS_NAMES_MIN_HOLD_NS);
	t0 = now_ns();
	for (long it = 0; it < iters; it++) {
		for (size_t i = from; i < to; i++) {
			if (dns_parse(c->msg[i], c->len[i], &msg, NULL) != DNS_OK)
				continue;
			for (size_t a = 0; a < msg.n_answers; a++) {
				dns_rr_owner(&msg, &msg.answers[a], owner, sizeof(owner));
				dns_rr_data(&msg, &msg.answers[a], data, sizeof(data));
				acc += (uint8_t)owner[0] + (uint8_t)data[0];
			}
			acc += dns_names_learn(names, 1, &msg, (uint64_t)it);
		}
	}
	t1 = now_ns();
	sink += acc;
	return (double)(t1 - t0) / ((double)iters * (double)(to - from));
}

static double run_ldns(const struct corpus *c, size_t from, size_t to, long iters)
{
	uint64_t t0, t1, acc = 0;

	t0 = now_ns();
	for (long it = 0; it < iters; it++) {
		for (size_t i = from; i < to; i++) {
			ldns_pkt *pkt = NULL;

			if (ldns_wire2pkt(&pkt, c->msg[i], c->len[i]) == LDNS_STATUS_OK) {
				acc += ldns_pkt_ancount(pkt);
				ldns_pkt_free(pkt);
			}
		}
	}
	t1 = now_ns();
	sink += acc;
	return (double)(t1 - t0) / ((double)iters * (double)(to - from));
}

static void compare(const char *label, const struct corpus *c, size_t from, size_t to, long iters,
		    int runs)
{
	double ours[MAX_RUNS], theirs[MAX_RUNS], o, l;

	/* Warm caches and the allocator before timing. */
	run_ours(c, from, to, iters / 10 + 1);
	run_ldns(c, from, to, iters / 10 + 1);
	for (int r = 0; r < runs; r++) {
		ours[r] = run_ours(c, from, to, iters);
		theirs[r] = run_ldns(c, from, to, iters);
	}
	o = median(ours, runs);
	l = median(theirs, runs);
	printf("%-28s dns_parse %8.1f ns/msg %6.2f M msg/s | ldns %8.1f ns/msg %6.2f M msg/s | "
	       "ratio %.2fx\n",
	       label, o, 1e3 / o, l, 1e3 / l, l / o);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : DNS_BENCH_CORPUS;
	long iters = argc > 2 ? atol(argv[2]) : 200000;
	int runs = argc > 3 ? atoi(argv[3]) : 7;
	static struct corpus c;
	struct dns_msg msg;

	if (iters <= 0 || runs <= 0 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: %s [CORPUS_DIR [ITERATIONS [RUNS<=%d]]]\n", argv[0],
			MAX_RUNS);
		return 2;
	}
	if (load(dir, &c) < 0) {
		fprintf(stderr, "no responses under %s\n", dir);
		return 1;
	}
	printf("corpus %s: %zu responses, %ld iterations, median of %d runs\n", dir, c.n, iters,
	       runs);
	for (size_t i = 0; i < c.n; i++) {
		ldns_pkt *pkt = NULL;
		ldns_status ls = ldns_wire2pkt(&pkt, c.msg[i], c.len[i]);
		enum dns_status st = dns_parse(c.msg[i], c.len[i], &msg, NULL);

		if (pkt)
			ldns_pkt_free(pkt);
		if (st != DNS_OK || ls != LDNS_STATUS_OK) {
			fprintf(stderr, "%s: dns_parse %s, ldns %s\n", c.name[i],
				dns_status_str(st), ldns_get_errorstr_by_id(ls));
			return 1;
		}
	}
	for (size_t i = 0; i < c.n; i++) {
		char label[96];

		snprintf(label, sizeof(label), "%.64s (%zu B)", c.name[i], c.len[i]);
		compare(label, &c, i, i + 1, iters, runs);
	}
	compare("all (mean per message)", &c, 0, c.n_mixed, iters / (long)c.n_mixed + 1, runs);
	for (size_t i = c.n_mixed; i < c.n; i++) {
		long it = iters / 500 + 1;
		double ours[MAX_RUNS], agent[MAX_RUNS], theirs[MAX_RUNS], o, a, l;
		unsigned int n_ans;

		if (strncmp(c.name[i], "many_", 5) != 0)
			continue;
		dns_parse(c.msg[i], c.len[i], &msg, NULL);
		n_ans = msg.n_answers;
		run_agent_path(&c, i, i + 1, it / 10 + 1);
		for (int r = 0; r < runs; r++) {
			ours[r] = run_ours(&c, i, i + 1, it);
			agent[r] = run_agent_path(&c, i, i + 1, it);
			theirs[r] = run_ldns(&c, i, i + 1, it);
		}
		o = median(ours, runs);
		a = median(agent, runs);
		l = median(theirs, runs);
		printf("%-28s per answer (%u): dns_parse %6.2f ns | +render+learn %6.2f ns | "
		       "ldns %6.2f ns | ratio %.2fx\n",
		       c.name[i], n_ans, o / n_ans, a / n_ans, l / n_ans, l / o);
	}
	return 0;
}
