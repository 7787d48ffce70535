// SPDX-License-Identifier: Apache-2.0
/*
 * The committed corpus: every file under corpus/hostile/ must give a parse error, counted once
 * each; every file under corpus/valid/ must parse and render.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns.h"

#ifndef DNS_CORPUS_DIR
#error "DNS_CORPUS_DIR must name tests/dns/corpus"
#endif

/* Read @dir/@name into a buffer of exactly its size, so ASan sees any overread. */
static uint8_t *read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	uint8_t *buf = NULL;
	FILE *f;
	long size = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("open %s", path);
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		fail_msg("size of %s", path);
	buf = malloc(size ? (size_t)size : 1);
	assert_non_null(buf);
	if (fread(buf, 1, (size_t)size, f) != (size_t)size)
		fail_msg("read %s", path);
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static int is_bin(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && !strcmp(d->d_name + n - 4, ".bin");
}

static void test_hostile_corpus(void **state)
{
	const char *dir = DNS_CORPUS_DIR "/hostile";
	struct dns_parse_stats stats = { 0 };
	struct dirent **names;
	int n = scandir(dir, &names, is_bin, alphasort);

	(void)state;
	assert_true(n >= 25);
	for (int i = 0; i < n; i++) {
		struct dns_msg msg;
		enum dns_status st;
		size_t len;
		uint8_t *buf = read_file(dir, names[i]->d_name, &len);

		st = dns_parse(buf, len, &msg, &stats);
		print_message("%-32s %s\n", names[i]->d_name, dns_status_str(st));
		if (st == DNS_OK)
			fail_msg("%s parsed without error", names[i]->d_name);
		free(buf);
		free(names[i]);
	}
	free(names);
	assert_int_equal(stats.errors, n);
	assert_int_equal(stats.messages, n);
	assert_int_equal(stats.ok, 0);
}

static void test_valid_corpus(void **state)
{
	const char *dir = DNS_CORPUS_DIR "/valid";
	struct dns_parse_stats stats = { 0 };
	struct dirent **names;
	int n = scandir(dir, &names, is_bin, alphasort);

	(void)state;
	assert_true(n >= 10);
	for (int i = 0; i < n; i++) {
		static struct dns_msg msg;
		enum dns_status st;
		size_t len;
		uint8_t *buf = read_file(dir, names[i]->d_name, &len);

		st = dns_parse(buf, len, &msg, &stats);
		if (st != DNS_OK)
			fail_msg("%s: %s", names[i]->d_name, dns_status_str(st));
		for (size_t a = 0; a < msg.n_answers; a++) {
			char owner[DNS_NAME_TEXT_MAX], data[DNS_DATA_TEXT_MAX], tbuf[12];

			assert_int_equal(dns_rr_owner(&msg, &msg.answers[a], owner, sizeof(owner)),
					 DNS_OK);
			assert_int_equal(dns_rr_data(&msg, &msg.answers[a], data, sizeof(data)),
					 DNS_OK);
			print_message("%-20s %s %s %u %s\n", names[i]->d_name, owner,
				      dns_type_name(msg.answers[a].type, tbuf), msg.answers[a].ttl,
				      data);
		}
		free(buf);
		free(names[i]);
	}
	free(names);
	assert_int_equal(stats.ok, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_corpus),
		cmocka_unit_test(test_valid_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
