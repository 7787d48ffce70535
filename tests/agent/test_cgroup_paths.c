// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup_paths against the real cgroup v2 hierarchy (a child cgroup of our own, fs<pid>cp...):
 * a failure other than "gone" (EMFILE here) is not remembered, a cgroup gone is, and a path
 * handed out stays readable until the next generation even when the cgroup goes or the cache
 * is cleared. Needs root; fails, never skips, without it.
 *
 * Linked with -Wl,--wrap=free: the test sees every pointer cgroup_paths.c frees.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgroup_paths.h"

void __real_free(void *p);

static const void *watched; /* the pointer whose free the test waits for */
static bool watched_freed;

void __wrap_free(void *p)
{
	if (p && p == watched)
		watched_freed = true;
	__real_free(p);
}

struct fx {
	char mount[PATH_MAX];
	char dir[2 * PATH_MAX];
	char rel[64];
	uint64_t id;
	struct cgroup_paths *cp;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(cgroup_v2_mount(fx->mount, sizeof(fx->mount)), 0);
	snprintf(fx->rel, sizeof(fx->rel), "/fs%dcp", (int)getpid());
	snprintf(fx->dir, sizeof(fx->dir), "%s%s", fx->mount, fx->rel);
	if (mkdir(fx->dir, 0755))
		fail_msg("mkdir %s: %s (needs root and cgroup v2)", fx->dir, strerror(errno));
	fx->id = cgroup_id_of(fx->dir);
	assert_true(fx->id != 0);
	fx->cp = cgroup_paths_create(fx->mount);
	assert_non_null(fx->cp);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	watched = NULL;
	cgroup_paths_destroy(fx->cp);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* open_by_handle_at fails with EMFILE: not an answer about the cgroup, so asked again later. */
static void test_transient_error_is_retried(void **state)
{
	struct fx *fx = *state;
	struct rlimit old, low;
	const char *p;
	int fd;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	/* no descriptor left: the next open fails with EMFILE */
	fd = dup(0);
	assert_true(fd >= 0);
	low = old;
	low.rlim_cur = (rlim_t)fd;
	close(fd);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	p = cgroup_paths_lookup(fx->cp, fx->id);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_null(p);
	/* descriptors are back: the same generation answers right */
	p = cgroup_paths_lookup(fx->cp, fx->id);
	assert_non_null(p);
	assert_string_equal(p, fx->rel);
}

static void test_gone_is_remembered(void **state)
{
	struct fx *fx = *state;

	assert_string_equal(cgroup_paths_lookup(fx->cp, fx->id), fx->rel);
	assert_int_equal(rmdir(fx->dir), 0);
	cgroup_paths_new_generation(fx->cp);
	assert_null(cgroup_paths_lookup(fx->cp, fx->id));
	assert_null(cgroup_paths_lookup(fx->cp, fx->id));
}

/*
 * A cgroup found gone at a new generation (cgroup v2 directories cannot be renamed, so the
 * recheck finds them gone, never moved): the string handed out before stays valid until the
 * generation after.
 */
static void test_gone_path_stays_valid_until_next_generation(void **state)
{
	struct fx *fx = *state;
	const char *old;

	old = cgroup_paths_lookup(fx->cp, fx->id);
	assert_string_equal(old, fx->rel);
	assert_int_equal(rmdir(fx->dir), 0);
	cgroup_paths_new_generation(fx->cp);
	watched = old;
	watched_freed = false;
	assert_null(cgroup_paths_lookup(fx->cp, fx->id));
	assert_false(watched_freed);
	assert_string_equal(old, fx->rel); /* still readable, as the header promises */
	cgroup_paths_new_generation(fx->cp);
	assert_true(watched_freed);
	watched = NULL;
}

/* The cache bound clears the entries: the strings handed out stay valid until the generation. */
static void test_cleared_cache_keeps_strings_until_next_generation(void **state)
{
	struct fx *fx = *state;
	const char *p;

	p = cgroup_paths_lookup(fx->cp, fx->id);
	assert_string_equal(p, fx->rel);
	watched = p;
	watched_freed = false;
	/* ids no cgroup has (kernfs node ids are inode numbers; these are far above them) */
	for (uint64_t id = 1ull << 40; id < (1ull << 40) + 70000; id++)
		assert_null(cgroup_paths_lookup(fx->cp, id));
	assert_false(watched_freed);
	assert_string_equal(p, fx->rel);
	cgroup_paths_new_generation(fx->cp);
	assert_true(watched_freed);
	watched = NULL;
	assert_string_equal(cgroup_paths_lookup(fx->cp, fx->id), fx->rel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transient_error_is_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_is_remembered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_path_stays_valid_until_next_generation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_cleared_cache_keeps_strings_until_next_generation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
