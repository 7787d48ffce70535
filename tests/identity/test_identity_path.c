// SPDX-License-Identifier: Apache-2.0
/*
 * identity_parse_path() over real cgroup layouts (the paths kubelet, containerd, CRI-O, Docker
 * and Podman create, as /proc/PID/cgroup shows them and as peers' fixtures record them) and over
 * malformed and hostile ones, which must give no id rather than a wrong one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity.h"

/* Container ids and pod UIDs as they appear in public fixtures and kubelet output. */
#define ID1 "34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea03376"
#define ID2 "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d"
#define ID3 "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"
#define ID4 "244a65edefdffe31685c42317c9054e71dc1193048cf9459e2a4dd35cbc1dba4"
#define UID1 "74c13223-5a00-11e9-b385-42010a80018d"
#define UID1S "74c13223_5a00_11e9_b385_42010a80018d"
#define UID2 "0e886e9a-3879-45f9-b44d-86ef9df03224"
#define UID2S "0e886e9a_3879_45f9_b44d_86ef9df03224"
#define STATIC_UID "ca5b8c8bbd2b05c3b5a8d7a6e5f2c3c1"
/* kubelet systemd driver: the pod slices of each QoS class */
#define SD_GUAR "/kubepods.slice/kubepods-pod"
#define SD_BURST "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
#define SD_BEST "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
#define CD_SCOPE(id) ".slice/cri-containerd-" id ".scope"

enum { NONE = IDENTITY_PATH_NONE, POD = IDENTITY_PATH_POD, CTR = IDENTITY_PATH_CONTAINER };
enum { RT_NONE = 0, CD = 1, CRIO = 2, DOCKER = 3, PODMAN = 4 };
enum { Q_NONE = 0, GUAR = 1, BURST = 2, BEST = 3 };

struct layout {
	const char *what;
	const char *path;
	int status;
	int runtime;
	const char *id;
	const char *uid;
	int qos;
};

static const struct layout layouts[] = {
	/* kubelet, systemd cgroup driver */
	{ "systemd containerd burstable", SD_BURST UID1S CD_SCOPE(ID1), CTR, CD, ID1, UID1, BURST },
	{ "systemd containerd besteffort", SD_BEST UID2S CD_SCOPE(ID2), CTR, CD, ID2, UID2, BEST },
	{ "systemd containerd guaranteed", SD_GUAR UID1S CD_SCOPE(ID1), CTR, CD, ID1, UID1, GUAR },
	{ "systemd cri-o burstable", SD_BURST UID1S ".slice/crio-" ID2 ".scope", CTR, CRIO, ID2,
	  UID1, BURST },
	{ "systemd cri-o guaranteed", SD_GUAR UID2S ".slice/crio-" ID3 ".scope", CTR, CRIO, ID3,
	  UID2, GUAR },
	{ "systemd cri-o conmon: the pod, no container",
	  SD_GUAR UID2S ".slice/crio-conmon-" ID3 ".scope", POD, RT_NONE, "", UID2, GUAR },
	{ "systemd docker (dockershim, cri-dockerd)", SD_GUAR UID1S ".slice/docker-" ID4 ".scope",
	  CTR, DOCKER, ID4, UID1, GUAR },
	{ "systemd pod slice", SD_BEST UID1S ".slice", POD, RT_NONE, "", UID1, BEST },
	{ "systemd static pod", SD_BURST STATIC_UID CD_SCOPE(ID1), CTR, CD, ID1, STATIC_UID,
	  BURST },
	{ "systemd container's own child cgroup",
	  SD_GUAR UID1S ".slice/cri-containerd-" ID1 ".scope/init.scope", CTR, CD, ID1, UID1,
	  GUAR },
	{ "containerd cgroupfs placement under the systemd driver",
	  "/system.slice/containerd.service/kubepods-burstable-pod" UID1S ".slice:cri-"
	  "containerd:" ID2,
	  CTR, CD, ID2, UID1, BURST },
	{ "containerd colon form, guaranteed",
	  "/system.slice/containerd.service/kubepods-pod" UID2S ".slice:cri-containerd:" ID1, CTR,
	  CD, ID1, UID2, GUAR },
	/* kubelet, cgroupfs driver */
	{ "cgroupfs besteffort (containerd or docker)", "/kubepods/besteffort/pod" UID1 "/" ID1,
	  CTR, RT_NONE, ID1, UID1, BEST },
	{ "cgroupfs burstable", "/kubepods/burstable/pod" UID2 "/" ID2, CTR, RT_NONE, ID2, UID2,
	  BURST },
	{ "cgroupfs guaranteed (k3s)", "/kubepods/pod" UID1 "/" ID3, CTR, RT_NONE, ID3, UID1,
	  GUAR },
	{ "cgroupfs cri-o", "/kubepods/burstable/pod" UID2 "/crio-" ID4, CTR, CRIO, ID4, UID2,
	  BURST },
	{ "cgroupfs cri-o conmon", "/kubepods/burstable/pod" UID2 "/crio-conmon-" ID4, POD, RT_NONE,
	  "", UID2, BURST },
	{ "cgroupfs static pod", "/kubepods/burstable/pod" STATIC_UID "/" ID1, CTR, RT_NONE, ID1,
	  STATIC_UID, BURST },
	{ "cgroupfs pod level", "/kubepods/pod" UID1, POD, RT_NONE, "", UID1, GUAR },
	{ "cgroupfs kubepods twice (cgroup root /kubepods)",
	  "/kubepods/kubepods/besteffort/pod" UID2 "/" ID4, CTR, RT_NONE, ID4, UID2, BEST },
	{ "cgroupfs QoS level", "/kubepods/burstable", NONE, RT_NONE, "", "", Q_NONE },
	/* Docker */
	{ "docker cgroupfs", "/docker/" ID3, CTR, DOCKER, ID3, "", Q_NONE },
	{ "docker systemd", "/system.slice/docker-" ID2 ".scope", CTR, DOCKER, ID2, "", Q_NONE },
	{ "docker in docker", "/docker/" ID3 "/docker/" ID1, CTR, DOCKER, ID1, "", Q_NONE },
	{ "rootless docker",
	  "/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" ID4 ".scope", CTR,
	  DOCKER, ID4, "", Q_NONE },
	/* Podman */
	{ "podman rootful systemd", "/machine.slice/libpod-" ID1 ".scope", CTR, PODMAN, ID1, "",
	  Q_NONE },
	{ "podman rootful, init in a child", "/machine.slice/libpod-" ID1 ".scope/container", CTR,
	  PODMAN, ID1, "", Q_NONE },
	{ "podman cgroupfs", "/libpod_parent/libpod-" ID2, CTR, PODMAN, ID2, "", Q_NONE },
	{ "podman rootless",
	  "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID3 ".scope", CTR,
	  PODMAN, ID3, "", Q_NONE },
	{ "podman rootless, split cgroups",
	  "/user.slice/user-1000.slice/user@1000.service/user.slice/podman-4242.scope/"
	  "libpod-payload-" ID4,
	  CTR, PODMAN, ID4, "", Q_NONE },
	{ "podman conmon", "/machine.slice/libpod-conmon-" ID1 ".scope", NONE, RT_NONE, "", "",
	  Q_NONE },
	/* kind: a Kubernetes node inside a Docker container */
	{ "kind, cgroupfs",
	  "/system.slice/docker-" ID3 ".scope/kubelet/kubepods/burstable/pod" UID1 "/" ID1, CTR,
	  RT_NONE, ID1, UID1, BURST },
	{ "kind, systemd",
	  "/system.slice/docker-" ID3 ".scope/kubelet.slice/kubelet-kubepods.slice/"
	  "kubelet-kubepods-besteffort.slice/"
	  "kubelet-kubepods-besteffort-pod" UID2S CD_SCOPE(ID2),
	  CTR, CD, ID2, UID2, BEST },
	{ "kind node's own containerd",
	  "/system.slice/docker-" ID3 ".scope/system.slice/containerd.service", CTR, DOCKER, ID3,
	  "", Q_NONE },
	{ "kind node's kubepods (no pod)", "/system.slice/docker-" ID3 ".scope/kubelet/kubepods",
	  NONE, RT_NONE, "", "", Q_NONE },
	/* seen from inside a cgroup namespace */
	{ "cgroupns, inside the kind node",
	  "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" UID1S CD_SCOPE(ID4), CTR, CD,
	  ID4, UID1, GUAR },
	{ "cgroupns, a group outside the reader's namespace",
	  "/../../kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID1S CD_SCOPE(
		  ID1),
	  CTR, CD, ID1, UID1, BURST },
	{ "cgroupns, a container's own root", "/", NONE, RT_NONE, "", "", Q_NONE },
	/* not containers */
	{ "system service", "/system.slice/sshd.service", NONE, RT_NONE, "", "", Q_NONE },
	{ "login session", "/user.slice/user-1000.slice/session-3.scope", NONE, RT_NONE, "", "",
	  Q_NONE },
	{ "kubepods.slice itself", "/kubepods.slice", NONE, RT_NONE, "", "", Q_NONE },
	{ "kubelet itself", "/system.slice/kubelet.service", NONE, RT_NONE, "", "", Q_NONE },
};

static void check(const struct layout *l)
{
	struct identity_path p;
	int st = identity_parse_path(l->path, strlen(l->path), &p);

	if (st != l->status || (int)p.runtime != l->runtime || strcmp(p.container_id, l->id) ||
	    strcmp(p.pod_uid, l->uid) || (int)p.qos != l->qos) {
		print_error("%s: %s\n  got status %d runtime %d id '%s' uid '%s' qos %d\n  want "
			    "status %d runtime %d id '%s' uid '%s' qos %d\n",
			    l->what, l->path, st, p.runtime, p.container_id, p.pod_uid, p.qos,
			    l->status, l->runtime, l->id, l->uid, l->qos);
		fail();
	}
}

static void test_real_layouts(void **state)
{
	(void)state;
	assert_true(sizeof(layouts) / sizeof(layouts[0]) >= 20);
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		check(&layouts[i]);
}

/* Must give no container id: status NONE or POD with an empty id, or an error. */
struct hostile {
	const char *what;
	const char *path;
	int status; /* expected return: NONE, POD or a negative errno */
	const char *uid; /* pod_uid expected ("" none) */
};

#define HEX63 "34dc0b5e626f2c5c4c5170e34b10e7654ce36f0fcd532739f4445baabea0337"
#define HEX65 ID1 "6"
#define UPPER "34DC0B5E626F2C5C4C5170E34B10E7654CE36F0FCD532739F4445BAABEA03376"

static const struct hostile hostiles[] = {
	{ "63 hex, systemd", SD_GUAR UID1S CD_SCOPE(HEX63), POD, UID1 },
	{ "65 hex, systemd", SD_GUAR UID1S CD_SCOPE(HEX65), POD, UID1 },
	{ "63 hex, cgroupfs", "/kubepods/pod" UID1 "/" HEX63, POD, UID1 },
	{ "65 hex, cgroupfs", "/kubepods/pod" UID1 "/" HEX65, POD, UID1 },
	{ "uppercase id", "/kubepods/pod" UID1 "/" UPPER, POD, UID1 },
	{ "uppercase docker id", "/docker/" UPPER, NONE, "" },
	{ "63 hex docker", "/docker/" HEX63, NONE, "" },
	{ "65 hex docker scope", "/system.slice/docker-" HEX65 ".scope", NONE, "" },
	{ "uppercase pod uid", "/kubepods/pod74C13223-5A00-11E9-B385-42010A80018D/" ID1, NONE, "" },
	{ "pod uid too short", "/kubepods/pod74c13223-5a00-11e9-b385-42010a80018/" ID1, NONE, "" },
	{ "pod uid with '_' under cgroupfs", "/kubepods/pod" UID1S "/" ID1, NONE, "" },
	{ "pod uid with '-' under systemd", SD_GUAR UID1 CD_SCOPE(ID1), NONE, "" },
	{ "not a pod under kubepods", "/kubepods/burstable/notapod/" ID1, NONE, "" },
	{ "kubepods then garbage then a docker scope", "/kubepods/garbage/docker-" ID1 ".scope",
	  NONE, "" },
	{ "slices that do not nest",
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-besteffort-pod" UID1S CD_SCOPE(ID1),
	  NONE, "" },
	{ "suffix after .scope", "/system.slice/docker-" ID1 ".scope.bak", NONE, "" },
	{ "id in a non-container position", "/foo/" ID1, NONE, "" },
	{ "id under system.slice", "/system.slice/" ID1, NONE, "" },
	{ "cri-containerd scope outside a pod", "/system.slice/cri-containerd-" ID1 ".scope", NONE,
	  "" },
	{ "a container's child named like another container",
	  "/kubepods/burstable/pod" UID1 "/" ID1 "/" ID2, CTR, UID1 },
	{ "newline inside the id",
	  "/kubepods/pod" UID1 "/34dc0b5e626f2c5c4c5170e34b10e7654ce36f0f\nd532739f4445baabea03376",
	  POD, UID1 },
	{ "newline after the id", "/docker/" ID1 "\n", NONE, "" },
	{ "newline in a scope name", "/system.slice/docker-" ID1 "\n.scope", NONE, "" },
	{ "traversal", "/kubepods/burstable/pod" UID1 "/../pod" UID2 "/" ID2, -EINVAL, "" },
	{ "dot component", "/kubepods/pod" UID1 "/./" ID1, -EINVAL, "" },
	{ "'..' after a name", "/system.slice/../docker/" ID1, -EINVAL, "" },
	{ "empty component", "/kubepods//pod" UID1 "/" ID1, -EINVAL, "" },
	{ "trailing slash", "/docker/" ID1 "/", -EINVAL, "" },
	{ "relative", "kubepods/pod" UID1 "/" ID1, -EINVAL, "" },
	{ "colon form, bad uid",
	  "/system.slice/containerd.service/kubepods-pod" UID1 ".slice:cri-containerd:" ID1, NONE,
	  "" },
	{ "colon form, 63 hex",
	  "/system.slice/containerd.service/kubepods-pod" UID1S ".slice:cri-containerd:" HEX63,
	  NONE, "" },
};

/* Where a container id came out, it must be one of the path's real ones (CTR cases above). */
static void test_hostile_layouts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(hostiles) / sizeof(hostiles[0]); i++) {
		const struct hostile *h = &hostiles[i];
		struct identity_path p;
		int st = identity_parse_path(h->path, strlen(h->path), &p);
		const char *want_id = h->status == CTR ? ID1 : "";

		if (st != h->status || strcmp(p.container_id, want_id) ||
		    strcmp(p.pod_uid, h->uid)) {
			print_error("%s: got status %d id '%s' uid '%s', want %d '%s' '%s'\n",
				    h->what, st, p.container_id, p.pod_uid, h->status, want_id,
				    h->uid);
			fail();
		}
		if (st < 0)
			assert_int_equal(p.runtime, 0);
	}
}

static void test_embedded_nul(void **state)
{
	static const char path[] = "/docker/" ID1 "\0/docker/" ID2;
	struct identity_path p;

	(void)state;
	assert_int_equal(identity_parse_path(path, sizeof(path) - 1, &p), -EINVAL);
	assert_string_equal(p.container_id, "");
	/* the same bytes up to the NUL are fine */
	assert_int_equal(identity_parse_path(path, strlen(path), &p), CTR);
	assert_string_equal(p.container_id, ID1);
}

/* "/aaa/aaa.../docker-<ID1>.scope" of exactly len bytes. */
static void long_path(char *path, size_t len)
{
	const char *tail = "/docker-" ID1 ".scope";
	size_t tn = strlen(tail), pad = len - tn;

	path[0] = '/';
	for (size_t i = 1; i < pad; i++)
		path[i] = (i % 200) ? 'a' : '/';
	memcpy(path + pad, tail, tn);
}

static void test_lengths(void **state)
{
	static char path[IDENTITY_PATH_MAX + 2];
	struct identity_path p;

	(void)state;
	/* exactly IDENTITY_PATH_MAX bytes: parsed */
	long_path(path, IDENTITY_PATH_MAX);
	assert_int_equal(identity_parse_path(path, IDENTITY_PATH_MAX, &p), CTR);
	assert_string_equal(p.container_id, ID1);
	/* one more byte: refused */
	long_path(path, IDENTITY_PATH_MAX + 1);
	assert_int_equal(identity_parse_path(path, IDENTITY_PATH_MAX + 1, &p), -ENAMETOOLONG);
	assert_string_equal(p.container_id, "");
	/* every component empty */
	memset(path, '/', IDENTITY_PATH_MAX);
	assert_int_equal(identity_parse_path(path, IDENTITY_PATH_MAX, &p), -EINVAL);
	/* the most components a path can have */
	for (size_t i = 0; i < IDENTITY_PATH_MAX - 1; i++)
		path[i] = (i % 2) ? 'x' : '/';
	assert_int_equal(identity_parse_path(path, IDENTITY_PATH_MAX - 1, &p), NONE);
}

static void test_bad_arguments(void **state)
{
	struct identity_path p;

	(void)state;
	assert_int_equal(identity_parse_path(NULL, 3, &p), -EINVAL);
	assert_int_equal(identity_parse_path("/a", 2, NULL), -EINVAL);
	assert_int_equal(identity_parse_path("", 0, &p), -EINVAL);
	assert_string_equal(identity_runtime_name(IDENTITY_RUNTIME_CRIO), "cri-o");
	assert_null(identity_runtime_name(IDENTITY_RUNTIME_UNKNOWN));
	assert_null(identity_runtime_name(99));
	assert_string_equal(identity_qos_name(IDENTITY_QOS_BESTEFFORT), "besteffort");
	assert_null(identity_qos_name(7));
}

/* Every prefix of every real layout parses without reading past len. */
static void test_prefixes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		size_t n = strlen(layouts[i].path);

		for (size_t k = 1; k <= n; k++) {
			char *copy = malloc(k); /* no NUL: ASan catches an over-read */
			struct identity_path p;
			int st;

			assert_non_null(copy);
			memcpy(copy, layouts[i].path, k);
			st = identity_parse_path(copy, k, &p);
			assert_true(st >= -EINVAL);
			if (st == CTR)
				assert_int_equal(strlen(p.container_id), 64);
			free(copy);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_layouts),  cmocka_unit_test(test_hostile_layouts),
		cmocka_unit_test(test_embedded_nul),  cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_bad_arguments), cmocka_unit_test(test_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
