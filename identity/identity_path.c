// SPDX-License-Identifier: Apache-2.0
/*
 * Cgroup path -> container runtime, container id, pod UID and QoS class. Pure: no I/O.
 *
 * Layouts, as the kubelet's cgroup managers (pkg/kubelet/cm: cgroup_manager_linux.go, the
 * systemd driver escapes '-' in the pod UID as '_' and nests slices by name prefix), containerd,
 * CRI-O, Docker and Podman create them; the unit tests list the real paths.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "identity.h"

/* A path of IDENTITY_PATH_MAX bytes has at most this many components. */
#define MAX_COMPONENTS ((IDENTITY_PATH_MAX + 1) / 2)

struct comp {
	const char *s;
	size_t n;
};

static bool eq(const struct comp *c, const char *lit)
{
	size_t n = strlen(lit);

	return c->n == n && !memcmp(c->s, lit, n);
}

static bool lower_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!lower_hex(s[i]))
			return false;
	return true;
}

/* s[0..n) is "<prefix><64 hex><suffix>": copies the id to out (65 bytes). */
static bool match_id(const char *s, size_t n, const char *prefix, const char *suffix, char *out)
{
	size_t p = strlen(prefix), q = strlen(suffix);

	if (n != p + IDENTITY_CONTAINER_ID_LEN + q)
		return false;
	if (memcmp(s, prefix, p) || memcmp(s + n - q, suffix, q))
		return false;
	if (!all_hex(s + p, IDENTITY_CONTAINER_ID_LEN))
		return false;
	memcpy(out, s + p, IDENTITY_CONTAINER_ID_LEN);
	out[IDENTITY_CONTAINER_ID_LEN] = '\0';
	return true;
}

/*
 * A pod UID written with sep ('-' for cgroupfs, '_' for systemd) between the 8-4-4-4-12 groups,
 * or 32 hex digits (static pods). Writes the '-' form to out (37 bytes).
 */
static bool parse_uid(const char *s, size_t n, char sep, char *out)
{
	char uid[IDENTITY_POD_UID_MAX + 1];

	if (n == 32) {
		if (!all_hex(s, n))
			return false;
		memcpy(out, s, n);
		out[n] = '\0';
		return true;
	}
	if (n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != sep)
				return false;
			uid[i] = '-';
		} else if (lower_hex(s[i])) {
			uid[i] = s[i];
		} else {
			return false;
		}
	}
	uid[36] = '\0';
	memcpy(out, uid, sizeof(uid)); /* out untouched on failure */
	return true;
}

static bool has_prefix(const struct comp *c, const char *p, size_t pn)
{
	return c->n >= pn && !memcmp(c->s, p, pn);
}

static bool has_suffix(const struct comp *c, const char *sfx)
{
	size_t q = strlen(sfx);

	return c->n >= q && !memcmp(c->s + c->n - q, sfx, q);
}

/* A container scope in a pod cgroup, systemd driver. Returns the status it gives. */
static int systemd_container(const struct comp *c, struct identity_path *out)
{
	if (match_id(c->s, c->n, "cri-containerd-", ".scope", out->container_id))
		out->runtime = IDENTITY_RUNTIME_CONTAINERD;
	else if (match_id(c->s, c->n, "crio-", ".scope", out->container_id))
		out->runtime = IDENTITY_RUNTIME_CRIO;
	else if (match_id(c->s, c->n, "docker-", ".scope", out->container_id))
		out->runtime = IDENTITY_RUNTIME_DOCKER;
	else
		return IDENTITY_PATH_POD; /* conmon, or a layout we do not know: the pod only */
	return IDENTITY_PATH_CONTAINER;
}

/* A container in a pod cgroup, cgroupfs driver: a bare id (containerd, Docker) or crio-<id>. */
static int cgroupfs_container(const struct comp *c, struct identity_path *out)
{
	if (match_id(c->s, c->n, "", "", out->container_id))
		out->runtime = IDENTITY_RUNTIME_UNKNOWN; /* the path does not say which runtime */
	else if (match_id(c->s, c->n, "crio-", "", out->container_id))
		out->runtime = IDENTITY_RUNTIME_CRIO;
	else
		return IDENTITY_PATH_POD;
	return IDENTITY_PATH_CONTAINER;
}

/*
 * Is c[i] the root of a systemd-driver kubelet hierarchy: "kubepods.slice", or "<x>-kubepods.slice"
 * right under "<x>.slice" (systemd nests slices by name: kind's kubelet.slice/
 * kubelet-kubepods.slice)? *base_len gets the length of the name without ".slice".
 */
static bool systemd_kube_root(const struct comp *c, size_t i, size_t *base_len)
{
	static const char tail[] = "kubepods.slice";
	size_t tn = sizeof(tail) - 1, xn;

	if (!has_suffix(&c[i], tail))
		return false;
	if (c[i].n != tn) {
		/* "<x>-kubepods.slice" under "<x>.slice" */
		if (c[i].s[c[i].n - tn - 1] != '-' || i == 0)
			return false;
		xn = c[i].n - tn - 1;
		if (c[i - 1].n != xn + 6 || memcmp(c[i - 1].s, c[i].s, xn) ||
		    memcmp(c[i - 1].s + xn, ".slice", 6))
			return false;
	}
	*base_len = c[i].n - 6;
	return true;
}

/*
 * "<base>[-<qos>]-pod<uid_>.slice" where base is the parent slice's name without ".slice".
 * Fills pod_uid and qos.
 */
static bool systemd_pod_slice(const struct comp *c, const char *base, size_t bn,
			      struct identity_path *out)
{
	static const char pod[] = "-pod", slice[] = ".slice";
	size_t pn = sizeof(pod) - 1, sn = sizeof(slice) - 1;

	if (!has_prefix(c, base, bn) || !has_suffix(c, slice) || c->n < bn + pn + sn)
		return false;
	if (memcmp(c->s + bn, pod, pn))
		return false;
	return parse_uid(c->s + bn + pn, c->n - bn - pn - sn, '_', out->pod_uid);
}

/* "<base>-burstable.slice" or "<base>-besteffort.slice": the QoS, else UNKNOWN. */
static int systemd_qos_slice(const struct comp *c, const char *base, size_t bn)
{
	if (!has_prefix(c, base, bn))
		return IDENTITY_QOS_UNKNOWN;
	struct comp rest = { c->s + bn, c->n - bn };

	if (eq(&rest, "-burstable.slice"))
		return IDENTITY_QOS_BURSTABLE;
	if (eq(&rest, "-besteffort.slice"))
		return IDENTITY_QOS_BESTEFFORT;
	return IDENTITY_QOS_UNKNOWN;
}

/*
 * The kubelet systemd layout from c[i] (a kube root, see systemd_kube_root()). Returns the status,
 * or -1 when the components below the root do not follow the layout. *next gets the index of the
 * first component not consumed.
 */
static int parse_systemd(const struct comp *c, size_t n, size_t i, size_t base_len, size_t *next,
			 struct identity_path *out)
{
	/* each slice's name is its parent's without ".slice", a '-' and its own part */
	const char *base = c[i].s;
	size_t bn = base_len;
	int qos;

	i++;
	if (i == n) {
		*next = i;
		return IDENTITY_PATH_NONE; /* kubepods.slice itself */
	}
	qos = systemd_qos_slice(&c[i], base, bn);
	if (qos != IDENTITY_QOS_UNKNOWN) {
		base = c[i].s;
		bn = c[i].n - 6;
		i++;
		if (i == n) {
			*next = i;
			return IDENTITY_PATH_NONE;
		}
	} else {
		qos = IDENTITY_QOS_GUARANTEED;
	}
	if (!systemd_pod_slice(&c[i], base, bn, out))
		return -1;
	out->qos = (uint8_t)qos;
	i++;
	*next = i;
	if (i == n)
		return IDENTITY_PATH_POD;
	*next = i + 1;
	return systemd_container(&c[i], out);
}

/* The kubelet cgroupfs layout from c[i] == "kubepods"; as parse_systemd(). */
static int parse_cgroupfs(const struct comp *c, size_t n, size_t i, size_t *next,
			  struct identity_path *out)
{
	int qos = IDENTITY_QOS_GUARANTEED;

	i++;
	if (i < n && eq(&c[i], "burstable")) {
		qos = IDENTITY_QOS_BURSTABLE;
		i++;
	} else if (i < n && eq(&c[i], "besteffort")) {
		qos = IDENTITY_QOS_BESTEFFORT;
		i++;
	}
	if (i == n) {
		*next = i;
		return IDENTITY_PATH_NONE;
	}
	if (c[i].n < 3 || memcmp(c[i].s, "pod", 3) ||
	    !parse_uid(c[i].s + 3, c[i].n - 3, '-', out->pod_uid))
		return -1;
	out->qos = (uint8_t)qos;
	i++;
	*next = i;
	if (i == n)
		return IDENTITY_PATH_POD;
	*next = i + 1;
	return cgroupfs_container(&c[i], out);
}

/*
 * containerd with kubelet's systemd driver but its own cgroupfs placement names the container
 * cgroup "<pod slice>:cri-containerd:<id>" (under system.slice/containerd.service).
 */
static bool parse_colon_form(const struct comp *c, struct identity_path *out)
{
	static const char mid[] = ".slice:cri-containerd:";
	size_t mn = sizeof(mid) - 1;
	struct comp slice;
	const char *base;
	size_t bn;
	int qos;

	if (c->n < mn + IDENTITY_CONTAINER_ID_LEN)
		return false;
	if (memcmp(c->s + c->n - IDENTITY_CONTAINER_ID_LEN - mn, mid, mn))
		return false;
	if (!match_id(c->s + c->n - IDENTITY_CONTAINER_ID_LEN, IDENTITY_CONTAINER_ID_LEN, "", "",
		      out->container_id))
		return false;
	slice.s = c->s;
	slice.n = c->n - IDENTITY_CONTAINER_ID_LEN - mn + 6; /* up to ".slice" */
	if (has_prefix(&slice, "kubepods-burstable-pod", 22)) {
		base = "kubepods-burstable";
		qos = IDENTITY_QOS_BURSTABLE;
	} else if (has_prefix(&slice, "kubepods-besteffort-pod", 23)) {
		base = "kubepods-besteffort";
		qos = IDENTITY_QOS_BESTEFFORT;
	} else {
		base = "kubepods";
		qos = IDENTITY_QOS_GUARANTEED;
	}
	bn = strlen(base);
	if (!systemd_pod_slice(&slice, base, bn, out)) {
		out->container_id[0] = '\0';
		return false;
	}
	out->qos = (uint8_t)qos;
	out->runtime = IDENTITY_RUNTIME_CONTAINERD;
	return true;
}

/* A container cgroup outside a pod: Docker or Podman. */
static bool plain_container(const struct comp *c, size_t n, size_t i, size_t *next,
			    struct identity_path *out)
{
	*next = i + 1;
	if (match_id(c[i].s, c[i].n, "docker-", ".scope", out->container_id)) {
		out->runtime = IDENTITY_RUNTIME_DOCKER;
		return true;
	}
	if (match_id(c[i].s, c[i].n, "libpod-", ".scope", out->container_id) ||
	    match_id(c[i].s, c[i].n, "libpod-", "", out->container_id) ||
	    match_id(c[i].s, c[i].n, "libpod-payload-", "", out->container_id)) {
		out->runtime = IDENTITY_RUNTIME_PODMAN;
		return true;
	}
	/* Docker's cgroupfs driver: docker/<id> (nested under another container for dind) */
	if (eq(&c[i], "docker") && i + 1 < n &&
	    match_id(c[i + 1].s, c[i + 1].n, "", "", out->container_id)) {
		out->runtime = IDENTITY_RUNTIME_DOCKER;
		*next = i + 2;
		return true;
	}
	return false;
}

static int split(const char *path, size_t len, struct comp *c, size_t *count)
{
	size_t n = 0, i = 1;
	bool leading = true;

	if (len == 1) {
		*count = 0;
		return 0;
	}
	while (i <= len) {
		const char *slash = memchr(path + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - path) : len;
		struct comp k = { path + i, end - i };

		if (k.n == 0 || eq(&k, "."))
			return -EINVAL;
		if (eq(&k, "..")) {
			/* outside the reader's cgroup namespace: "/../../kubepods/..." */
			if (!leading)
				return -EINVAL;
		} else {
			leading = false;
			c[n++] = k;
		}
		i = end + 1;
	}
	*count = n;
	return 0;
}

int identity_parse_path(const char *path, size_t len, struct identity_path *out)
{
	struct comp c[MAX_COMPONENTS];
	struct identity_path best, tmp;
	int status = IDENTITY_PATH_NONE;
	size_t n, i;
	int err;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!path || len == 0 || path[0] != '/')
		return -EINVAL;
	if (len > IDENTITY_PATH_MAX)
		return -ENAMETOOLONG;
	if (memchr(path, '\0', len))
		return -EINVAL;
	err = split(path, len, c, &n);
	if (err)
		return err;

	memset(&best, 0, sizeof(best));
	i = 0;
	while (i < n) {
		size_t next = i + 1, base_len, inner_len;
		int st = -2;

		memset(&tmp, 0, sizeof(tmp));
		if (eq(&c[i], "kubepods") && !(i + 1 < n && eq(&c[i + 1], "kubepods")))
			st = parse_cgroupfs(c, n, i, &next, &tmp);
		else if (systemd_kube_root(c, i, &base_len) &&
			 !(i + 1 < n && systemd_kube_root(c, i + 1, &inner_len)))
			st = parse_systemd(c, n, i, base_len, &next, &tmp);
		else if (parse_colon_form(&c[i], &tmp))
			st = IDENTITY_PATH_CONTAINER;
		else if (plain_container(c, n, i, &next, &tmp))
			st = IDENTITY_PATH_CONTAINER;

		if (st == -1)
			return IDENTITY_PATH_NONE; /* claims to be kubelet's, is not: unknown layout */
		if (st >= 0) {
			/* innermost wins: a nested layout replaces the outer one */
			best = tmp;
			status = st;
		}
		i = next;
	}
	*out = best;
	return status;
}

const char *identity_runtime_name(unsigned int runtime)
{
	switch (runtime) {
	case IDENTITY_RUNTIME_CONTAINERD:
		return "containerd";
	case IDENTITY_RUNTIME_CRIO:
		return "cri-o";
	case IDENTITY_RUNTIME_DOCKER:
		return "docker";
	case IDENTITY_RUNTIME_PODMAN:
		return "podman";
	default:
		return NULL;
	}
}

const char *identity_qos_name(unsigned int qos)
{
	switch (qos) {
	case IDENTITY_QOS_GUARANTEED:
		return "guaranteed";
	case IDENTITY_QOS_BURSTABLE:
		return "burstable";
	case IDENTITY_QOS_BESTEFFORT:
		return "besteffort";
	default:
		return NULL;
	}
}
