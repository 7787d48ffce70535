// SPDX-License-Identifier: Apache-2.0
/*
 * identity_bench: what identity costs per record, and what loading a big node costs.
 *
 *  1. identity_parse_path() over 8 real layouts (systemd/cgroupfs kubelet, Docker, Podman, kind),
 *     beside a baseline in the same run: one FNV-1a hash over the same bytes (the least any
 *     per-record path handling costs).
 *  2. identity_resolve() hits on N cached cgroups in a shuffled order, beside a bare uthash
 *     lookup of the same ids (what the agent's cgroup id -> path cache costs now).
 *  3. Loading a fake kubelet log tree of N pods (one container each: a pod directory, its
 *     container directory and log file, the /var/log/containers link) in a temporary directory:
 *     wall time from identity_create() to the end of the load, the number of identity_process()
 *     calls, and the longest call (the most one loop iteration is held up).
 *
 * Prints medians of RUNS runs. Usage: identity_bench [PODS [ITERATIONS [RUNS]]]
 *                                     (default 10000 2000000 7)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "identity.h"

#define MAX_RUNS 31

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

#define ID "34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea03376"
#define UIDS "74c13223_5a00_11e9_b385_42010a80018d"
#define UID "74c13223-5a00-11e9-b385-42010a80018d"

static const char *const paths[] = {
	"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UIDS
	".slice/cri-containerd-" ID ".scope",
	"/kubepods.slice/kubepods-pod" UIDS ".slice/crio-" ID ".scope",
	"/kubepods/besteffort/pod" UID "/" ID,
	"/kubepods/pod" UID "/" ID,
	"/system.slice/docker-" ID ".scope",
	"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID ".scope",
	"/system.slice/docker-" ID ".scope/kubelet.slice/kubelet-kubepods.slice/"
	"kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UIDS
	".slice/cri-containerd-" ID ".scope",
	"/system.slice/sshd.service",
};
#define N_PATHS (sizeof(paths) / sizeof(paths[0]))

static volatile uint64_t sink;

static void bench_parse(long iters, int runs)
{
	double parse[MAX_RUNS], base[MAX_RUNS];
	size_t len[N_PATHS], total = 0;

	for (size_t i = 0; i < N_PATHS; i++) {
		len[i] = strlen(paths[i]);
		total += len[i];
	}
	for (int r = 0; r < runs; r++) {
		struct identity_path p;
		uint64_t t0, acc = 0;

		t0 = now_ns();
		for (long k = 0; k < iters; k++) {
			size_t i = (size_t)k % N_PATHS;

			acc += (uint64_t)identity_parse_path(paths[i], len[i], &p) + p.runtime;
		}
		parse[r] = (double)(now_ns() - t0) / (double)iters;
		t0 = now_ns();
		for (long k = 0; k < iters; k++) {
			size_t i = (size_t)k % N_PATHS;
			uint64_t h = 1469598103934665603ull;

			for (size_t j = 0; j < len[i]; j++)
				h = (h ^ (uint8_t)paths[i][j]) * 1099511628211ull;
			acc += h;
		}
		base[r] = (double)(now_ns() - t0) / (double)iters;
		sink = acc;
	}
	double mp = median(parse, runs), mb = median(base, runs);

	printf("path parse: %.1f ns/path (8 layouts, mean %zu bytes); FNV-1a over the same bytes "
	       "%.1f ns; ratio %.2f\n",
	       mp, total / N_PATHS, mb, mp / mb);
}

struct plain {
	uint64_t id;
	const char *path;
	UT_hash_handle hh;
};

static void shuffle(uint64_t *v, size_t n)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		uint64_t t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

static void bench_lookup(size_t n, long iters, int runs)
{
	double res[MAX_RUNS], base[MAX_RUNS];
	struct identity_opts o;
	struct plain *table = NULL, *pl = calloc(n, sizeof(*pl));
	struct identity *id;
	uint64_t *order = malloc(n * sizeof(*order));

	identity_opts_init(&o);
	o.pod_logs_dir = "";
	o.container_logs_dir = "";
	o.max_entries = (uint32_t)n;
	if (!pl || !order || identity_create(&o, 0, &id)) {
		fprintf(stderr, "identity_bench: setup failed\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t cg = 10000 + i * 7;
		const char *p = paths[i % N_PATHS];

		identity_resolve(id, cg, p, strlen(p), 0);
		pl[i].id = cg;
		pl[i].path = p;
		HASH_ADD(hh, table, id, sizeof(pl[i].id), &pl[i]);
		order[i] = cg;
	}
	shuffle(order, n);
	for (int r = 0; r < runs; r++) {
		uint64_t t0, acc = 0;

		t0 = now_ns();
		for (long k = 0; k < iters; k++) {
			const struct identity_workload *w =
				identity_resolve(id, order[(size_t)k % n], NULL, 0, 1);

			acc += (uintptr_t)w->container_id;
		}
		res[r] = (double)(now_ns() - t0) / (double)iters;
		t0 = now_ns();
		for (long k = 0; k < iters; k++) {
			uint64_t key = order[(size_t)k % n];
			struct plain *e;

			HASH_FIND(hh, table, &key, sizeof(key), e);
			acc += (uintptr_t)e->path;
		}
		base[r] = (double)(now_ns() - t0) / (double)iters;
		sink = acc;
	}
	double mr = median(res, runs), mb = median(base, runs);

	printf("cache lookup (hit, %zu cgroups, shuffled): %.1f ns; bare uthash lookup %.1f ns; "
	       "ratio %.2f\n",
	       n, mr, mb, mr / mb);
	HASH_CLEAR(hh, table);
	identity_destroy(id);
	free(pl);
	free(order);
}

static int make_tree(const char *root, size_t pods)
{
	char pdir[256], cdir[256], dir[512], file[1024], link[1024];

	snprintf(pdir, sizeof(pdir), "%s/pods", root);
	snprintf(cdir, sizeof(cdir), "%s/containers", root);
	if (mkdir(pdir, 0755) || mkdir(cdir, 0755))
		return -errno;
	for (size_t i = 0; i < pods; i++) {
		int fd;

		snprintf(dir, sizeof(dir), "%s/ns%zu_web-%zu-7d9f_%08zx-0000-4000-8000-%012zx",
			 pdir, i % 50, i, i, i);
		if (mkdir(dir, 0755))
			return -errno;
		snprintf(file, sizeof(file), "%s/app", dir);
		if (mkdir(file, 0755))
			return -errno;
		snprintf(file, sizeof(file), "%s/app/0.log", dir);
		fd = open(file, O_CREAT | O_WRONLY, 0644);
		if (fd < 0)
			return -errno;
		close(fd);
		snprintf(link, sizeof(link), "%s/web-%zu-7d9f_ns%zu_app-%064zx.log", cdir, i,
			 i % 50, i);
		if (symlink(file, link))
			return -errno;
	}
	return 0;
}

static void bench_load(size_t pods, int runs)
{
	double wall[MAX_RUNS], worst[MAX_RUNS], calls[MAX_RUNS];
	char root[] = "/tmp/fsidbenchXXXXXX", pdir[64], cdir[64], cmd[128];
	struct identity_stats st;
	struct identity_opts o;
	int err;

	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	uint64_t t0 = now_ns();

	err = make_tree(root, pods);
	if (err) {
		fprintf(stderr, "identity_bench: building the tree: %s\n", strerror(-err));
		exit(1);
	}
	printf("tree of %zu pods built in %.0f ms\n", pods, (double)(now_ns() - t0) / 1e6);
	snprintf(pdir, sizeof(pdir), "%s/pods", root);
	snprintf(cdir, sizeof(cdir), "%s/containers", root);
	identity_opts_init(&o);
	o.pod_logs_dir = pdir;
	o.container_logs_dir = cdir;
	for (int r = 0; r < runs; r++) {
		struct identity *id;
		uint64_t start = now_ns(), longest = 0;
		int n = 0;

		if (identity_create(&o, start, &id)) {
			fprintf(stderr, "identity_bench: create failed\n");
			exit(1);
		}
		do {
			uint64_t c0 = now_ns();

			identity_process(id, c0);
			c0 = now_ns() - c0;
			if (c0 > longest)
				longest = c0;
			n++;
			identity_stats(id, &st);
		} while (st.loading);
		wall[r] = (double)(now_ns() - start) / 1e6;
		worst[r] = (double)longest / 1e6;
		calls[r] = n;
		if (st.pods != pods || st.containers != pods) {
			fprintf(stderr, "identity_bench: loaded %u pods %u containers of %zu\n",
				st.pods, st.containers, pods);
			exit(1);
		}
		identity_destroy(id);
	}
	printf("load %zu pods + %zu links: %.1f ms in %.0f identity_process() calls (budget %u "
	       "entries), longest call %.2f ms\n",
	       pods, pods, median(wall, runs), median(calls, runs), o.scan_budget,
	       median(worst, runs));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd))
		fprintf(stderr, "identity_bench: could not remove %s\n", root);
}

int main(int argc, char **argv)
{
	size_t pods = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	long iters = argc > 2 ? strtol(argv[2], NULL, 10) : 2000000;
	int runs = argc > 3 ? atoi(argv[3]) : 7;

	if (pods == 0 || iters <= 0 || runs <= 0 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: identity_bench [PODS [ITERATIONS [RUNS<=%d]]]\n", MAX_RUNS);
		return 2;
	}
	srand(42);
	bench_parse(iters, runs);
	bench_lookup(pods, iters, runs);
	bench_load(pods, runs);
	return 0;
}
