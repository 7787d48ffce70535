/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time in one place: the three clocks the agent meets and the conversions between them.
 *
 * - CLOCK_MONOTONIC: conntrack's timing. The flow programs stamp with bpf_ktime_get_coarse_ns(),
 *   CLOCK_MONOTONIC_COARSE: the same clock read at tick resolution (at most one tick, 1-10 ms,
 *   early), converted with the CLOCK_MONOTONIC offsets below.
 * - CLOCK_BOOTTIME: bpf_ktime_get_boot_ns() (DNS events) and the DNS matcher; it keeps counting
 *   while the machine is suspended.
 * - CLOCK_REALTIME: Unix epoch time, what every record carries.
 *
 * All values are nanoseconds. An offset is read at call time (clock_gettime, vDSO), so a clock
 * step (NTP, settimeofday) shows in the next conversion.
 */
#ifndef FLOWSCOPE_CLOCK_H
#define FLOWSCOPE_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC now, ns. */
uint64_t clock_mono_ns(void);

/* CLOCK_BOOTTIME now, ns: the clock of bpf_ktime_get_boot_ns(). */
uint64_t clock_boot_ns(void);

/* Nanoseconds to add to a CLOCK_MONOTONIC reading to get Unix epoch time. */
int64_t clock_mono_to_epoch_offset(void);

/* Nanoseconds to add to a CLOCK_BOOTTIME reading to get Unix epoch time. */
int64_t clock_boot_to_epoch_offset(void);

/* A CLOCK_BOOTTIME reading (bpf_ktime_get_boot_ns()) as Unix epoch ns. */
uint64_t clock_boot_to_epoch_ns(uint64_t boot_ns);

/* A Unix epoch time as CLOCK_BOOTTIME ns (0 when it lies before boot). */
uint64_t clock_epoch_to_boot_ns(uint64_t epoch_ns);

#endif /* FLOWSCOPE_CLOCK_H */
