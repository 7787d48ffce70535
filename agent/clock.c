// SPDX-License-Identifier: Apache-2.0
#include <time.h>

#include "clock.h"

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ns(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

uint64_t clock_boot_ns(void)
{
	return now_ns(CLOCK_BOOTTIME);
}

/* Read back to back: the offset is off by the few ns between the two readings. */
static int64_t epoch_offset(clockid_t clock)
{
	struct timespec rt, ct;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(clock, &ct);
	return ((int64_t)rt.tv_sec - ct.tv_sec) * 1000000000LL + (rt.tv_nsec - ct.tv_nsec);
}

int64_t clock_mono_to_epoch_offset(void)
{
	return epoch_offset(CLOCK_MONOTONIC);
}

int64_t clock_boot_to_epoch_offset(void)
{
	return epoch_offset(CLOCK_BOOTTIME);
}

uint64_t clock_boot_to_epoch_ns(uint64_t boot_ns)
{
	return (uint64_t)((int64_t)boot_ns + clock_boot_to_epoch_offset());
}

uint64_t clock_epoch_to_boot_ns(uint64_t epoch_ns)
{
	int64_t boot = (int64_t)epoch_ns - clock_boot_to_epoch_offset();

	return boot > 0 ? (uint64_t)boot : 0;
}
