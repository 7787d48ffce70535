/* SPDX-License-Identifier: Apache-2.0 */
/* A pool of realistic flow records shared by the encoder and sink benchmarks. */
#ifndef FLOWSCOPE_BENCH_RECORDS_H
#define FLOWSCOPE_BENCH_RECORDS_H

#include "record.h"

#define BENCH_POOL 1024
#define BENCH_CGROUPS 50

/* Filled by bench_make_pool(): kubepods paths, IPv4 and IPv6, a domain on most. */
extern struct flow_record bench_pool[BENCH_POOL];

void bench_make_pool(void);

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);

#endif /* FLOWSCOPE_BENCH_RECORDS_H */
