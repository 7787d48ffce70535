/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of fs_identity shared between its files and its unit tests. */
#ifndef FLOWSCOPE_IDENTITY_PRIV_H
#define FLOWSCOPE_IDENTITY_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

/* A slice of a name, not NUL-terminated. */
struct name_part {
	const char *s;
	size_t n;
};

/* <namespace>_<pod-name>_<pod-uid> */
struct pod_dir_name {
	struct name_part ns, pod, uid;
};

/* <pod-name>_<namespace>_<container-name>-<container-id>.log */
struct container_link_name {
	struct name_part pod, ns, container, id;
};

/* A pod UID as the API server writes it (36 bytes with '-') or a static pod's (32 hex). */
bool identity_valid_uid(const char *s, size_t n);

/* Split a pod logs directory name; false when it is not exactly three valid parts. */
bool identity_parse_pod_dir(const char *s, size_t n, struct pod_dir_name *out);

/* Split a container logs link name; false when it is not the kubelet's form. */
bool identity_parse_container_link(const char *s, size_t n, struct container_link_name *out);

/*
 * The link's target (n bytes) ends in <namespace>_<pod-name>_<pod-uid>/<container-name>/<file>
 * naming the same namespace, pod and container as link: *uid gets the pod UID. False otherwise.
 */
bool identity_parse_link_target(const char *t, size_t n, const struct container_link_name *link,
				struct name_part *uid);

#endif /* FLOWSCOPE_IDENTITY_PRIV_H */
