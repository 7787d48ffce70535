// SPDX-License-Identifier: Apache-2.0
/*
 * Names in the kubelet's log directories (pure parsing, no I/O):
 *   pod logs:       <namespace>_<pod-name>_<pod-uid>
 *   container logs: <pod-name>_<namespace>_<container-name>-<container-id>.log
 * Kubernetes namespaces are DNS-1123 labels and pod names DNS-1123 subdomains: neither holds '_',
 * so a name splits into exactly three parts or it is not the kubelet's. Container names are
 * labels too. The bytes are kept as they are; only '_' and the lengths are checked.
 */
#include <string.h>

#include "identity_priv.h"

/* s[0..n) split on '_' into exactly three non-empty parts. */
static bool split3(const char *s, size_t n, struct name_part p[3])
{
	size_t k = 0, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '_')
			continue;
		if (k == 3 || i == start)
			return false;
		p[k].s = s + start;
		p[k].n = i - start;
		k++;
		start = i + 1;
	}
	return k == 3;
}

static bool uid_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
}

bool identity_valid_uid(const char *s, size_t n)
{
	if (n != 32 && n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);

		if (dash ? s[i] != '-' : !uid_char(s[i]))
			return false;
	}
	return true;
}

bool identity_parse_pod_dir(const char *s, size_t n, struct pod_dir_name *out)
{
	struct name_part p[3];

	if (!split3(s, n, p))
		return false;
	if (p[0].n > IDENTITY_NAMESPACE_MAX || p[1].n > IDENTITY_POD_NAME_MAX)
		return false;
	if (!identity_valid_uid(p[2].s, p[2].n))
		return false;
	out->ns = p[0];
	out->pod = p[1];
	out->uid = p[2];
	return true;
}

bool identity_parse_container_link(const char *s, size_t n, struct container_link_name *out)
{
	static const char ext[] = ".log";
	size_t en = sizeof(ext) - 1, idn = IDENTITY_CONTAINER_ID_LEN;
	struct name_part p[3];
	const char *id;

	if (n < idn + en + 2 || memcmp(s + n - en, ext, en))
		return false;
	id = s + n - en - idn;
	for (size_t i = 0; i < idn; i++)
		if (!uid_char(id[i]))
			return false;
	if (id[-1] != '-')
		return false;
	if (!split3(s, (size_t)(id - 1 - s), p))
		return false;
	if (p[0].n > IDENTITY_POD_NAME_MAX || p[1].n > IDENTITY_NAMESPACE_MAX ||
	    p[2].n > IDENTITY_CONTAINER_NAME_MAX)
		return false;
	out->pod = p[0];
	out->ns = p[1];
	out->container = p[2];
	out->id.s = id;
	out->id.n = idn;
	return true;
}

static bool part_eq(const struct name_part *a, const struct name_part *b)
{
	return a->n == b->n && !memcmp(a->s, b->s, a->n);
}

bool identity_parse_link_target(const char *t, size_t n, const struct container_link_name *link,
				struct name_part *uid)
{
	struct name_part comp[3];
	struct pod_dir_name pd;
	size_t end = n, k = 0;

	/* the last three components: <pod dir>/<container>/<n>.log */
	while (k < 3) {
		size_t start = end;

		while (start > 0 && t[start - 1] != '/')
			start--;
		if (start == end)
			return false;
		comp[2 - k].s = t + start;
		comp[2 - k].n = end - start;
		k++;
		if (start == 0)
			break;
		end = start - 1;
	}
	if (k != 3)
		return false;
	if (!identity_parse_pod_dir(comp[0].s, comp[0].n, &pd))
		return false;
	if (!part_eq(&pd.ns, &link->ns) || !part_eq(&pd.pod, &link->pod) ||
	    !part_eq(&comp[1], &link->container))
		return false;
	*uid = pd.uid;
	return true;
}
