// SPDX-License-Identifier: Apache-2.0
/* --cgroup-mode: parsing, and the choice auto makes on unified, hybrid and legacy mount tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup_mode.h"

static char *mounts(const char *text)
{
	static char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/fsmountsXXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* This machine's table: v1 controllers under /sys/fs/cgroup and cgroup2 at .../unified. */
static const char hybrid[] = "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
			     "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0\n"
			     "cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
			     "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
			     "cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0\n"
			     "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n";
static const char unified[] = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec 0 0\n";
/* memory co-mounted with another controller; no cgroup2 at all */
static const char legacy[] = "cgroup /sys/fs/cgroup/cpu,memory cgroup rw,cpu,memory 0 0\n";
/* a v1 hierarchy whose name merely contains "memory" is not the memory controller */
static const char not_memory[] = "cgroup /x cgroup rw,name=memoryish 0 0\n"
				 "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n";

static void test_parse(void **state)
{
	enum cgroup_mode m;

	(void)state;
	assert_int_equal(cgroup_mode_parse("auto", &m), 0);
	assert_int_equal(m, CGROUP_MODE_AUTO);
	assert_int_equal(cgroup_mode_parse("v1", &m), 0);
	assert_int_equal(m, CGROUP_MODE_V1);
	assert_int_equal(cgroup_mode_parse("2", &m), 0);
	assert_int_equal(m, CGROUP_MODE_V2);
	assert_int_equal(cgroup_mode_parse("v3", &m), -EINVAL);
	assert_int_equal(cgroup_mode_parse("", &m), -EINVAL);
	assert_string_equal(cgroup_mode_name(CGROUP_MODE_V1), "v1");
}

static void test_choose(void **state)
{
	struct cgroup_mode_choice c;
	char *p;

	(void)state;
	p = mounts(hybrid);
	assert_int_equal(cgroup_mode_choose(CGROUP_MODE_AUTO, p, &c), 0);
	assert_int_equal(c.mode, CGROUP_MODE_V1);
	assert_string_equal(c.v1_memory_mount, "/sys/fs/cgroup/memory");
	assert_string_equal(c.v2_mount, "/sys/fs/cgroup/unified");
	assert_non_null(strstr(c.reason, "(auto)"));
	assert_int_equal(cgroup_mode_choose(CGROUP_MODE_V2, p, &c), 0);
	assert_int_equal(c.mode, CGROUP_MODE_V2);
	unlink(p);

	p = mounts(unified);
	assert_int_equal(cgroup_mode_choose(CGROUP_MODE_AUTO, p, &c), 0);
	assert_int_equal(c.mode, CGROUP_MODE_V2);
	assert_string_equal(c.v1_memory_mount, "");
	assert_int_equal(cgroup_mode_choose(CGROUP_MODE_V1, p, &c), -ENOENT);
	assert_non_null(strstr(c.reason, "no cgroup v1 memory hierarchy"));
	unlink(p);

	p = mounts(legacy);
	assert_int_equal(cgroup_mode_choose(CGROUP_MODE_AUTO, p, &c), -ENOENT);
	assert_non_null(strstr(c.reason, "no cgroup v2 hierarchy"));
	assert_string_equal(c.v1_memory_mount, "/sys/fs/cgroup/cpu,memory");
	unlink(p);

	p = mounts(not_memory);
	assert_int_equal(cgroup_mode_choose(CGROUP_MODE_AUTO, p, &c), 0);
	assert_int_equal(c.mode, CGROUP_MODE_V2);
	unlink(p);

	assert_int_equal(cgroup_mode_choose(CGROUP_MODE_AUTO, "/nonexistent/mounts", &c), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_choose),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
