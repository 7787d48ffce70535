// SPDX-License-Identifier: Apache-2.0
/*
 * The resolver over fake kubelet log trees in a temporary directory: incremental load, inotify
 * (a pod added while running), retries of names not known yet, the cleanup delay of removed
 * cgroups, and hostile directory names (kept exact, or rejected and counted, never mixed up).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "identity.h"
#include "identity_priv.h"

#define ID1 "34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea03376"
#define ID2 "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d"
#define ID3 "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"
#define UID1 "74c13223-5a00-11e9-b385-42010a80018d"
#define UID1S "74c13223_5a00_11e9_b385_42010a80018d"
#define UID2 "0e886e9a-3879-45f9-b44d-86ef9df03224"
#define UID2S "0e886e9a_3879_45f9_b44d_86ef9df03224"
#define SEC 1000000000ull

struct tree {
	char root[32];
	char pods[64];
	char ctrs[64];
};

static void run(const char *fmt, ...)
{
	char cmd[PATH_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static void tree_init(struct tree *t)
{
	snprintf(t->root, sizeof(t->root), "/tmp/fsidXXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->pods, sizeof(t->pods), "%s/pods", t->root);
	snprintf(t->ctrs, sizeof(t->ctrs), "%s/containers", t->root);
	assert_int_equal(mkdir(t->pods, 0755), 0);
	assert_int_equal(mkdir(t->ctrs, 0755), 0);
}

static void tree_free(struct tree *t)
{
	run("rm -rf '%s'", t->root);
}

/* A pod directory with one container log dir, and that container's link, as kubelet does. */
static void add_pod(struct tree *t, const char *ns, const char *pod, const char *uid,
		    const char *ctr, const char *cid)
{
	char dir[1024], link[PATH_MAX], target[2048];

	snprintf(dir, sizeof(dir), "%s/%s_%s_%s", t->pods, ns, pod, uid);
	assert_int_equal(mkdir(dir, 0755), 0);
	if (!ctr)
		return;
	snprintf(target, sizeof(target), "%s/%s", dir, ctr);
	assert_int_equal(mkdir(target, 0755), 0);
	snprintf(target, sizeof(target), "%s/%s/0.log", dir, ctr);
	assert_int_equal(close(open(target, O_CREAT | O_WRONLY, 0644)), 0);
	snprintf(link, sizeof(link), "%s/%s_%s_%s-%s.log", t->ctrs, pod, ns, ctr, cid);
	assert_int_equal(symlink(target, link), 0);
}

static struct identity *open_tree(struct tree *t, uint32_t budget)
{
	struct identity_opts o;
	struct identity *id;

	identity_opts_init(&o);
	o.pod_logs_dir = t->pods;
	o.container_logs_dir = t->ctrs;
	o.scan_budget = budget;
	o.cleanup_delay_ns = 60 * SEC;
	o.retry_ns = SEC;
	assert_int_equal(identity_create(&o, 0, &id), 0);
	return id;
}

/* Process until the load is done; returns the number of calls. */
static int load(struct identity *id, uint64_t now)
{
	struct identity_stats st;
	int calls = 0;

	do {
		assert_int_equal(identity_process(id, now), 0);
		identity_stats(id, &st);
		calls++;
		assert_true(calls < 100000);
	} while (st.loading);
	return calls;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

static const char *path1 = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1S
			   ".slice/cri-containerd-" ID1 ".scope";
static const char *path2 = "/kubepods/besteffort/pod" UID2 "/" ID2;

static const struct identity_workload *resolve(struct identity *id, uint64_t cg, const char *path,
					       uint64_t now)
{
	return identity_resolve(id, cg, path, path ? strlen(path) : 0, now);
}

static void assert_workload(const struct identity_workload *w, const char *cid, const char *rt,
			    const char *cname, const char *uid, const char *ns, const char *pod)
{
#define EQ(field, want)                                      \
	do {                                                 \
		if (want)                                    \
			assert_string_equal(w->field, want); \
		else                                         \
			assert_null(w->field);               \
	} while (0)
	EQ(container_id, cid);
	EQ(container_runtime, rt);
	EQ(container_name, cname);
	EQ(pod_uid, uid);
	EQ(pod_namespace, ns);
	EQ(pod_name, pod);
#undef EQ
}

static void test_load_and_resolve(void **state)
{
	struct identity_stats st;
	struct identity *id;
	struct tree t;

	(void)state;
	tree_init(&t);
	add_pod(&t, "shop", "checkout-7d9f", UID1, "api", ID1);
	add_pod(&t, "kube-system", "coredns-5d78c9869d-x2x4q", UID2, "coredns", ID2);
	id = open_tree(&t, 0);
	load(id, 1);
	identity_stats(id, &st);
	assert_int_equal(st.pods, 2);
	assert_int_equal(st.containers, 2);
	assert_int_equal(st.pod_dirs_rejected + st.container_links_rejected, 0);

	assert_workload(resolve(id, 100, path1, 2), ID1, "containerd", "api", UID1, "shop",
			"checkout-7d9f");
	/* cgroupfs: the path does not say the runtime */
	assert_workload(resolve(id, 200, path2, 2), ID2, NULL, "coredns", UID2, "kube-system",
			"coredns-5d78c9869d-x2x4q");
	/* not a container: all NULL, cached as final */
	assert_workload(resolve(id, 300, "/system.slice/sshd.service", 2), NULL, NULL, NULL, NULL,
			NULL, NULL);
	/* later lookups need no path */
	assert_workload(resolve(id, 100, NULL, 3), ID1, "containerd", "api", UID1, "shop",
			"checkout-7d9f");
	identity_stats(id, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.parses, 3);
	assert_int_equal(st.hits, 1);
	identity_destroy(id);
	tree_free(&t);
}

/* A pod created while running: known after the fd wakes the loop, well within a second. */
static void test_pod_added_while_running(void **state)
{
	const struct identity_workload *w;
	struct identity_stats st;
	struct identity *id;
	struct tree t;
	int fd;

	(void)state;
	tree_init(&t);
	id = open_tree(&t, 0);
	fd = identity_fd(id);
	load(id, 1);
	assert_false(readable(fd, 0));

	/* looked up before the pod's directories exist: the ids only, and not final */
	w = resolve(id, 100, path1, 2);
	assert_workload(w, ID1, "containerd", NULL, UID1, NULL, NULL);
	assert_workload(resolve(id, 100, NULL, 2), ID1, "containerd", NULL, UID1, NULL, NULL);
	identity_stats(id, &st);
	assert_int_equal(st.refills, 0); /* the index did not change: nothing to look up again */

	add_pod(&t, "shop", "checkout-7d9f", UID1, "api", ID1);
	assert_true(readable(fd, 1000));
	assert_int_equal(identity_process(id, 3), 0);
	w = resolve(id, 100, NULL, 3);
	assert_workload(w, ID1, "containerd", "api", UID1, "shop", "checkout-7d9f");
	identity_stats(id, &st);
	assert_true(st.refills >= 1);
	assert_int_equal(st.pods, 1);
	assert_int_equal(st.containers, 1);
	assert_false(readable(fd, 0));

	/* the pod's directories go: the index forgets, the cached cgroup keeps its names */
	run("rm -rf '%s'/* '%s'/*", t.pods, t.ctrs);
	assert_true(readable(fd, 1000));
	assert_int_equal(identity_process(id, 4), 0);
	identity_stats(id, &st);
	assert_int_equal(st.pods, 0);
	assert_int_equal(st.containers, 0);
	assert_workload(resolve(id, 100, NULL, 4), ID1, "containerd", "api", UID1, "shop",
			"checkout-7d9f");
	identity_destroy(id);
	tree_free(&t);
}

static void test_cleanup_delay(void **state)
{
	struct identity_stats st;
	struct identity *id;
	struct tree t;

	(void)state;
	tree_init(&t);
	add_pod(&t, "shop", "checkout-7d9f", UID1, "api", ID1);
	id = open_tree(&t, 0);
	load(id, 1);
	resolve(id, 100, path1, 1 * SEC);
	resolve(id, 200, path2, 1 * SEC);
	identity_cgroup_removed(id, 100, 10 * SEC);
	identity_cgroup_removed(id, 100, 20 * SEC); /* repeated: the first time counts */
	identity_cgroup_removed(id, 999, 10 * SEC); /* unknown: ignored */
	identity_stats(id, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.removed_entries, 1);

	/* still resolving just before the delay is over */
	assert_int_equal(identity_process(id, 70 * SEC - 1), 0);
	assert_workload(resolve(id, 100, NULL, 70 * SEC - 1), ID1, "containerd", "api", UID1,
			"shop", "checkout-7d9f");
	identity_stats(id, &st);
	assert_int_equal(st.entries, 2);

	assert_int_equal(identity_process(id, 70 * SEC), 0);
	identity_stats(id, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.removed_entries, 0);
	assert_int_equal(st.expirations, 1);
	/* gone: a late record without a path gets nothing, counted */
	assert_workload(resolve(id, 100, NULL, 71 * SEC), NULL, NULL, NULL, NULL, NULL, NULL);
	identity_stats(id, &st);
	assert_int_equal(st.unresolved, 1);
	assert_int_equal(st.entries, 1);
	/* the live one was never touched */
	assert_workload(resolve(id, 200, NULL, 71 * SEC), ID2, NULL, NULL, UID2, NULL, NULL);
	identity_destroy(id);
	tree_free(&t);
}

/* The load happens in slices of scan_budget entries, and the fd stays readable until done. */
static void test_incremental_load(void **state)
{
	char uid[64], pod[64], cid[80], path[256];
	struct identity_stats st;
	struct identity *id;
	struct tree t;
	int calls;

	(void)state;
	tree_init(&t);
	for (int i = 0; i < 2000; i++) {
		snprintf(uid, sizeof(uid), "%08x-0000-4000-8000-%012x", i, i);
		snprintf(pod, sizeof(pod), "web-%d", i);
		snprintf(cid, sizeof(cid), "%064x", i);
		add_pod(&t, "ns1", pod, uid, "app", cid);
	}
	id = open_tree(&t, 100);
	identity_stats(id, &st);
	assert_true(st.loading);
	assert_int_equal(st.pods, 0); /* create reads nothing */
	assert_true(readable(identity_fd(id), 0));
	assert_int_equal(identity_process(id, 1), 0);
	identity_stats(id, &st);
	assert_true(st.pods + st.containers <= 100);
	assert_true(st.loading);
	calls = load(id, 2);
	assert_true(calls >= 38); /* 4000 entries (and "." "..") at 100 a call */
	identity_stats(id, &st);
	assert_false(st.loading);
	assert_int_equal(st.pods, 2000);
	assert_int_equal(st.containers, 2000);
	assert_int_equal(st.scans, 2);
	assert_false(readable(identity_fd(id), 0));
	snprintf(path, sizeof(path), "/kubepods/pod%08x-0000-4000-8000-%012x/%064x", 1234, 1234,
		 1234);
	assert_workload(resolve(id, 1, path, 3), path + 50, NULL, "app",
			"000004d2-0000-4000-8000-0000000004d2", "ns1", "web-1234");
	identity_destroy(id);
	tree_free(&t);
}

/* Names are kept byte for byte; what does not split in three, or is not kubelet's, is refused. */
static void test_hostile_names(void **state)
{
	char dir[PATH_MAX], link[PATH_MAX];
	struct identity_stats st;
	struct identity *id;
	struct tree t;

	(void)state;
	tree_init(&t);
	/* odd bytes (quote, backslash, newline, UTF-8, 0xff) are kept as they are */
	add_pod(&t, "we\"ird\\ns", "p\nod\xc3\xa9\xff", UID1, "c\"tr", ID1);
	/* four parts, two parts, bad uids, too long: refused */
	snprintf(dir, sizeof(dir), "%s/a_b_c_%s", t.pods, UID2);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/a_%s", t.pods, UID2);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/a_b_%s", t.pods, "74C13223-5A00-11E9-B385-42010A80018D");
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/a_b_%s", t.pods, UID1S);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/%064d_b_%s", t.pods, 0, UID2);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/_b_%s", t.pods, UID2);
	assert_int_equal(mkdir(dir, 0755), 0);
	/* a file, not a directory: refused */
	snprintf(dir, sizeof(dir), "%s/x_y_%s", t.pods, UID2);
	assert_int_equal(close(open(dir, O_CREAT | O_WRONLY, 0644)), 0);
	/* container links: not a link, pointing elsewhere, 63 hex, wrong split */
	snprintf(link, sizeof(link), "%s/p_n_c-%s.log", t.ctrs, ID2);
	assert_int_equal(close(open(link, O_CREAT | O_WRONLY, 0644)), 0);
	snprintf(link, sizeof(link), "%s/p_n_c-%s.log", t.ctrs, ID3);
	assert_int_equal(symlink("/var/log/pods/other_pod_" UID2 "/c/0.log", link), 0);
	snprintf(link, sizeof(link), "%s/p_n_c-%.63s.log", t.ctrs, ID3);
	assert_int_equal(symlink("/x/n_p_" UID2 "/c/0.log", link), 0);
	snprintf(link, sizeof(link), "%s/p_n_x_c-%s.log", t.ctrs, ID3);
	assert_int_equal(symlink("/x/n_p_" UID2 "/c/0.log", link), 0);

	id = open_tree(&t, 0);
	load(id, 1);
	identity_stats(id, &st);
	assert_int_equal(st.pods, 1);
	assert_int_equal(st.containers, 1);
	assert_int_equal(st.pod_dirs_rejected, 7);
	assert_int_equal(st.container_links_rejected, 4);
	assert_workload(resolve(id, 1, path1, 2), ID1, "containerd", "c\"tr", UID1, "we\"ird\\ns",
			"p\nod\xc3\xa9\xff");
	identity_destroy(id);
	tree_free(&t);
}

/* Two directories claim one UID: no names for it, rather than maybe the wrong ones. */
static void test_conflict(void **state)
{
	struct identity_stats st;
	struct identity *id;
	struct tree t;

	(void)state;
	tree_init(&t);
	add_pod(&t, "shop", "checkout", UID1, NULL, NULL);
	add_pod(&t, "evil", "checkout", UID1, NULL, NULL);
	id = open_tree(&t, 0);
	load(id, 1);
	identity_stats(id, &st);
	assert_int_equal(st.conflicts, 1);
	assert_workload(resolve(id, 1, path1, 2), ID1, "containerd", NULL, UID1, NULL, NULL);
	identity_destroy(id);
	tree_free(&t);
}

/* A container link naming another pod than the cgroup path is not used. */
static void test_mismatch(void **state)
{
	struct identity_stats st;
	struct identity *id;
	struct tree t;

	(void)state;
	tree_init(&t);
	add_pod(&t, "shop", "checkout", UID2, "api", ID1); /* ID1 is in pod UID1 per path1 */
	id = open_tree(&t, 0);
	load(id, 1);
	assert_workload(resolve(id, 1, path1, 2), ID1, "containerd", NULL, UID1, NULL, NULL);
	identity_stats(id, &st);
	assert_int_equal(st.mismatches, 1);
	identity_destroy(id);
	tree_free(&t);
}

/* Only the container link is there: pod names come from it. */
static void test_names_from_link(void **state)
{
	char path[PATH_MAX];
	struct identity *id;
	struct tree t;

	(void)state;
	tree_init(&t);
	add_pod(&t, "shop", "checkout", UID1, "api", ID1);
	snprintf(path, sizeof(path), "%s/shop_checkout_%s", t.pods, UID1);
	run("rm -rf '%s'", path); /* the link dangles now, its name still says it all */
	id = open_tree(&t, 0);
	load(id, 1);
	assert_workload(resolve(id, 1, path1, 2), ID1, "containerd", "api", UID1, "shop",
			"checkout");
	identity_destroy(id);
	tree_free(&t);
}

/* Missing directories at start are not an error; they are picked up once they appear. */
static void test_missing_dirs(void **state)
{
	struct identity_stats st;
	struct identity *id;
	struct tree t;

	(void)state;
	tree_init(&t);
	rmdir(t.pods);
	rmdir(t.ctrs);
	id = open_tree(&t, 0);
	identity_stats(id, &st);
	assert_true(st.pod_logs_dir_missing);
	assert_true(st.container_logs_dir_missing);
	assert_workload(resolve(id, 1, path1, 1), ID1, "containerd", NULL, UID1, NULL, NULL);
	assert_int_equal(mkdir(t.pods, 0755), 0);
	assert_int_equal(mkdir(t.ctrs, 0755), 0);
	add_pod(&t, "shop", "checkout", UID1, "api", ID1);
	assert_int_equal(identity_process(id, SEC / 2), 0); /* before retry_ns: still missing */
	identity_stats(id, &st);
	assert_true(st.pod_logs_dir_missing);
	load(id, SEC);
	identity_stats(id, &st);
	assert_false(st.pod_logs_dir_missing);
	assert_int_equal(st.pods, 1);
	assert_workload(resolve(id, 1, NULL, SEC), ID1, "containerd", "api", UID1, "shop",
			"checkout");

	/* the directory removed and made again (a kubelet reinstall): the index follows */
	run("rm -rf '%s'", t.pods);
	assert_true(readable(identity_fd(id), 1000));
	assert_int_equal(identity_process(id, 2 * SEC), 0);
	identity_stats(id, &st);
	assert_true(st.pod_logs_dir_missing);
	assert_int_equal(st.pods, 0);
	assert_int_equal(mkdir(t.pods, 0755), 0);
	run("mkdir '%s/shop_cart_%s'", t.pods, UID2);
	load(id, 3 * SEC);
	identity_stats(id, &st);
	assert_false(st.pod_logs_dir_missing);
	assert_int_equal(st.pods, 1);
	assert_workload(resolve(id, 2, path2, 3 * SEC), ID2, NULL, NULL, UID2, "shop", "cart");
	identity_destroy(id);
	tree_free(&t);
}

static void test_max_entries(void **state)
{
	struct identity_opts o;
	struct identity_stats st;
	struct identity *id;

	(void)state;
	identity_opts_init(&o);
	o.pod_logs_dir = "";
	o.container_logs_dir = "";
	o.max_entries = 4;
	assert_int_equal(identity_create(&o, 0, &id), 0);
	for (uint64_t cg = 1; cg <= 10; cg++)
		resolve(id, cg, path1, 1);
	identity_cgroup_removed(id, 10, 1);
	assert_int_equal(identity_process(id, 2), 0);
	identity_stats(id, &st);
	assert_int_equal(st.entries, 5); /* 4 live and the removed one */
	assert_int_equal(st.evictions, 5);
	/* the oldest went, the newest stayed */
	assert_workload(resolve(id, 1, NULL, 3), NULL, NULL, NULL, NULL, NULL, NULL);
	assert_workload(resolve(id, 9, NULL, 3), ID1, "containerd", NULL, UID1, NULL, NULL);
	/* a bad path is a final answer too */
	assert_workload(resolve(id, 50, "relative/path", 3), NULL, NULL, NULL, NULL, NULL, NULL);
	identity_stats(id, &st);
	assert_int_equal(st.bad_paths, 1);
	identity_destroy(id);
	identity_destroy(NULL);
}

static void test_name_parsers(void **state)
{
	struct container_link_name ln;
	struct pod_dir_name pd;
	struct name_part uid;
	const char *link = "web-0_shop_nginx-" ID1 ".log";

	(void)state;
	assert_true(identity_parse_pod_dir("shop_web-0_" UID1, strlen("shop_web-0_" UID1), &pd));
	assert_int_equal(pd.ns.n, 4);
	assert_int_equal(pd.pod.n, 5);
	assert_false(identity_parse_pod_dir("shop__" UID1, strlen("shop__" UID1), &pd));
	assert_false(
		identity_parse_pod_dir("shop_web_" UID1 "_", strlen("shop_web_" UID1 "_"), &pd));
	assert_true(identity_parse_container_link(link, strlen(link), &ln));
	assert_int_equal(ln.container.n, 5);
	assert_int_equal(memcmp(ln.container.s, "nginx", 5), 0);
	/* a container name with '-' and digits: the id has a fixed length */
	link = "web-0_shop_side-car-2-" ID1 ".log";
	assert_true(identity_parse_container_link(link, strlen(link), &ln));
	assert_int_equal(ln.container.n, 10);
	assert_true(identity_parse_link_target("/var/log/pods/shop_web-0_" UID1 "/side-car-2/3.log",
					       strlen("/var/log/pods/shop_web-0_" UID1 "/side-car-"
						      "2/3.log"),
					       &ln, &uid));
	assert_int_equal(uid.n, 36);
	assert_false(identity_parse_link_target("side-car-2/3.log", 16, &ln, &uid));
	assert_false(identity_parse_link_target("/var/log/pods/shop_web-1_" UID1 "/side-car-2/"
						"3.log",
						strlen("/var/log/pods/shop_web-1_" UID1 "/side-car-"
						       "2/3.log"),
						&ln, &uid));
	link = "web-0_shop_nginx_" ID1 ".log";
	assert_false(identity_parse_container_link(link, strlen(link), &ln));
	link = "web-0_shop_nginx-" ID1 ".txt";
	assert_false(identity_parse_container_link(link, strlen(link), &ln));
	assert_false(identity_parse_container_link("x.log", 5, &ln));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_and_resolve),
		cmocka_unit_test(test_pod_added_while_running),
		cmocka_unit_test(test_cleanup_delay),
		cmocka_unit_test(test_incremental_load),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_names_from_link),
		cmocka_unit_test(test_missing_dirs),
		cmocka_unit_test(test_max_entries),
		cmocka_unit_test(test_name_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
