// SPDX-License-Identifier: Apache-2.0
/*
 * The syscall record's decoder against records built here: each layout the kernel writes (no
 * data, a sockaddr, three strings), a string without its NUL and malformed records, which
 * must be refused (the library counts each as a decode error) without reading past the record.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "syscall_decode.h"

#define NR_CONNECT 42
#define NR_MOUNT 165
#define NR_UNSHARE 272

/* A record of TR_SYSCALL_FIXED + data_len bytes, in a buffer of exactly that size. */
static struct tr_syscall *rec_new(unsigned nr, size_t data_len)
{
	size_t size = TR_SYSCALL_FIXED + data_len;
	struct tr_syscall *r = calloc(1, size);

	assert_non_null(r);
	r->hdr.event = TR_EV_SYSCALL;
	r->hdr.size = size;
	r->nr = nr;
	r->ret = -1;
	for (int i = 0; i < 6; i++)
		r->args[i] = 100 + i;
	return r;
}

static void test_no_data(void **state)
{
	(void)state;
	struct tr_syscall *r = rec_new(NR_UNSHARE, 0);
	struct event_tracer_syscall sc;
	char *owned;

	assert_int_equal(tr_syscall_decode(r, TR_SYSCALL_FIXED, &sc, &owned), 0);
	assert_non_null(owned);
	assert_string_equal(sc.name, "unshare");
	assert_int_equal(sc.rec->nr, NR_UNSHARE);
	assert_int_equal(sc.rec->ret, -1);
	assert_int_equal(sc.rec->args[5], 105);
	assert_null(sc.addr);
	assert_int_equal(sc.addr_len, 0);
	for (int i = 0; i < TR_SYS_STRS; i++)
		assert_null(sc.str[i]);
	free(owned);
	free(r);
}

static void test_sockaddr(void **state)
{
	(void)state;
	const unsigned char sin[16] = { 2, 0, 0x1f, 0x90, 192, 0, 2, 1 };
	struct tr_syscall *r = rec_new(NR_CONNECT, sizeof(sin));
	struct event_tracer_syscall sc;
	char *owned;

	r->addr_len = sizeof(sin);
	memcpy(r->data, sin, sizeof(sin));
	assert_int_equal(tr_syscall_decode(r, TR_SYSCALL_FIXED + sizeof(sin), &sc, &owned), 0);
	assert_string_equal(sc.name, "connect");
	assert_int_equal(sc.addr_len, sizeof(sin));
	assert_memory_equal(sc.addr, sin, sizeof(sin));
	assert_null(sc.str[0]);
	free(owned);
	free(r);
}

static void test_three_strings(void **state)
{
	(void)state;
	const char data[] = "src\0/mnt/x\0tmpfs"; /* 4 + 7 + 6 bytes, NULs included */
	struct tr_syscall *r = rec_new(NR_MOUNT, sizeof(data));
	struct event_tracer_syscall sc;
	char *owned;

	r->str_len[0] = 4;
	r->str_len[1] = 7;
	r->str_len[2] = 6;
	memcpy(r->data, data, sizeof(data));
	assert_int_equal(tr_syscall_decode(r, TR_SYSCALL_FIXED + sizeof(data), &sc, &owned), 0);
	assert_string_equal(sc.name, "mount");
	assert_string_equal(sc.str[0], "src");
	assert_string_equal(sc.str[1], "/mnt/x");
	assert_string_equal(sc.str[2], "tmpfs");
	assert_null(sc.addr);
	free(owned);
	free(r);
}

/* A full-length string whose last byte is not a NUL (the kernel always writes one, but the
 * record is untrusted): the decoder terminates it there, one character short. */
static void test_cut_string(void **state)
{
	(void)state;
	struct tr_syscall *r = rec_new(257 /* openat */, TR_SYS_STR_MAX);
	struct event_tracer_syscall sc;
	char *owned;

	r->str_len[0] = TR_SYS_STR_MAX;
	memset(r->data, 'a', TR_SYS_STR_MAX);
	assert_int_equal(tr_syscall_decode(r, TR_SYSCALL_FIXED + TR_SYS_STR_MAX, &sc, &owned), 0);
	assert_int_equal(strlen(sc.str[0]), TR_SYS_STR_MAX - 1);
	free(owned);
	free(r);
}

static void expect_malformed(struct tr_syscall *r, size_t size)
{
	struct event_tracer_syscall sc;
	char *owned = (char *)1;

	assert_int_equal(tr_syscall_decode(r, size, &sc, &owned), -EINVAL);
	assert_null(owned);
}

static void test_malformed(void **state)
{
	(void)state;
	struct tr_syscall *r = rec_new(NR_MOUNT, 2 * TR_SYS_STR_MAX);

	/* shorter than the fixed part */
	expect_malformed(r, TR_SYSCALL_FIXED - 1);
	/* bytes beyond what the lengths account for */
	expect_malformed(r, TR_SYSCALL_FIXED + 1);
	/* lengths beyond the record */
	r->str_len[0] = 10;
	expect_malformed(r, TR_SYSCALL_FIXED + 9);
	/* a string longer than the kernel ever writes, even with the size matching */
	r->str_len[0] = TR_SYS_STR_MAX + 1;
	expect_malformed(r, TR_SYSCALL_FIXED + TR_SYS_STR_MAX + 1);
	/* a sockaddr longer than sockaddr_in6 */
	r->str_len[0] = 0;
	r->addr_len = TR_SOCKADDR_MAX + 1;
	expect_malformed(r, TR_SYSCALL_FIXED + TR_SOCKADDR_MAX + 1);
	/* lengths that wrap nothing: the sum is checked, each one bounded */
	r->addr_len = 0;
	r->str_len[0] = TR_SYS_STR_MAX;
	r->str_len[1] = TR_SYS_STR_MAX;
	r->str_len[2] = TR_SYS_STR_MAX;
	expect_malformed(r, TR_SYSCALL_FIXED + 2 * TR_SYS_STR_MAX);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_data),	      cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_three_strings), cmocka_unit_test(test_cut_string),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
