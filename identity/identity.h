/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who is it: container, pod and workload of a cgroup, from what is on the node (no API server,
 * no runtime socket).
 *
 * Three parts:
 *  - identity_parse_path(): pure parsing of a cgroup path (v2, or a v1 hierarchy's) into the
 *    container runtime, the container id and the pod UID and QoS class, for the layouts that
 *    kubelet (systemd and cgroupfs drivers), containerd, CRI-O, Docker and Podman create. A layout
 *    that is not recognised gives empty fields, never a guessed id.
 *  - a pod index fed by the kubelet's log directories:
 *      <pod-logs-dir>/<namespace>_<pod-name>_<pod-uid>/<container-name>/
 *      <container-logs-dir>/<pod-name>_<namespace>_<container-name>-<container-id>.log
 *        -> <pod-logs-dir>/<namespace>_<pod-name>_<pod-uid>/<container-name>/<n>.log
 *    loaded incrementally (a bounded number of directory entries per identity_process() call)
 *    and kept current with inotify. Namespaces and pod names cannot contain '_' (RFC 1123 names),
 *    so a name splits into exactly three parts or is rejected (counted).
 *  - a resolver with a cache per cgroup id: identity_resolve() gives the workload of a cgroup;
 *    names that are not known yet are looked up again once the index has changed, never cached
 *    as final; a removed cgroup's entry keeps resolving for the cleanup delay.
 *
 * Names from disk are untrusted bytes: they are kept exact (any byte but '/' and NUL, length
 * bounded) and the encoders escape them.
 *
 * Time is passed in by the caller as now_ns (CLOCK_MONOTONIC nanoseconds); the library never
 * reads a clock for its decisions. Functions return 0 (or a non-negative enum) on success and a
 * negative errno on failure. Not thread-safe: one instance belongs to one event loop.
 */
#ifndef FLOWSCOPE_IDENTITY_H
#define FLOWSCOPE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest cgroup path accepted, in bytes (PATH_MAX without the NUL). */
#define IDENTITY_PATH_MAX 4095
/* A container id: exactly 64 lowercase hex digits. */
#define IDENTITY_CONTAINER_ID_LEN 64
/* A pod UID: 36 (RFC 4122 text form, lowercase) or 32 (static pods: an MD5 in hex) bytes. */
#define IDENTITY_POD_UID_MAX 36
/* Bounds on names from the log directories (Kubernetes' own: DNS-1123 label / subdomain). */
#define IDENTITY_NAMESPACE_MAX 63
#define IDENTITY_POD_NAME_MAX 253
#define IDENTITY_CONTAINER_NAME_MAX 63

enum identity_runtime {
	IDENTITY_RUNTIME_UNKNOWN = 0, /* not a container, or the layout does not say */
	IDENTITY_RUNTIME_CONTAINERD = 1,
	IDENTITY_RUNTIME_CRIO = 2,
	IDENTITY_RUNTIME_DOCKER = 3,
	IDENTITY_RUNTIME_PODMAN = 4,
};

/* Kubernetes pod QoS class, from the kubelet's cgroup hierarchy. */
enum identity_qos {
	IDENTITY_QOS_UNKNOWN = 0,
	IDENTITY_QOS_GUARANTEED = 1, /* pod cgroup directly under kubepods */
	IDENTITY_QOS_BURSTABLE = 2,
	IDENTITY_QOS_BESTEFFORT = 3,
};

/* What identity_parse_path() found (non-negative). */
enum identity_path_status {
	IDENTITY_PATH_NONE = 0, /* not a container or pod cgroup, or a layout not recognised */
	IDENTITY_PATH_POD = 1, /* a pod's cgroup (or its conmon/unknown child): pod_uid only */
	IDENTITY_PATH_CONTAINER = 2, /* container_id set; pod_uid too inside a pod */
};

/* Result of identity_parse_path(); empty strings mean unknown. */
struct identity_path {
	char container_id[IDENTITY_CONTAINER_ID_LEN + 1];
	char pod_uid[IDENTITY_POD_UID_MAX + 1]; /* with '-', as the API server shows it */
	uint8_t runtime; /* enum identity_runtime */
	uint8_t qos; /* enum identity_qos */
};

/*
 * Parse a cgroup path (relative to its hierarchy's root: "/kubepods/...", as the kernel's
 * /proc/PID/cgroup shows it) of len bytes; path need not be NUL-terminated. Recognised, at any
 * depth (the innermost match wins, so a kind node's pods beat the node's own container):
 *   kubelet systemd driver  kubepods.slice/[kubepods-<qos>.slice/]kubepods[-<qos>]-pod<uid_>.slice
 *                           [/cri-containerd-<id>.scope | /crio-<id>.scope | /docker-<id>.scope]
 *                           (also <x>-kubepods.slice under <x>.slice, e.g. kind's kubelet.slice),
 *                           and containerd's "kubepods-...-pod<uid_>.slice:cri-containerd:<id>"
 *   kubelet cgroupfs driver kubepods/[burstable|besteffort/]pod<uid>[/<id> | /crio-<id>]
 *   Docker                  docker/<id>, docker-<id>.scope
 *   Podman                  libpod-<id>.scope, libpod-<id>, libpod-payload-<id>
 * Children of a container's cgroup belong to that container; conmon scopes are no container.
 * Leading "/.." components (a cgroup outside the reader's cgroup namespace) are skipped.
 * Returns an enum identity_path_status with *out filled (zeroed for NONE), or -EINVAL (NULL
 * argument, not absolute, a NUL byte, an empty, "." or inner ".." component) or -ENAMETOOLONG
 * (over IDENTITY_PATH_MAX bytes); *out is zeroed on every error. ~150-200 ns for a kubelet path
 * (bench/identity), paid once per cgroup: identity_resolve() caches the result.
 */
int identity_parse_path(const char *path, size_t len, struct identity_path *out);

/* "containerd", "cri-o", "docker", "podman"; NULL for IDENTITY_RUNTIME_UNKNOWN or out of range. */
const char *identity_runtime_name(unsigned int runtime);

/* "guaranteed", "burstable", "besteffort"; NULL for IDENTITY_QOS_UNKNOWN or out of range. */
const char *identity_qos_name(unsigned int qos);

struct identity;

/* The workload of a cgroup. Every field is NULL when unknown; strings are NUL-terminated. */
struct identity_workload {
	const char *container_id; /* 64 hex digits */
	const char *container_runtime; /* identity_runtime_name() */
	const char *container_name; /* from the container logs link */
	const char *pod_uid;
	const char *pod_namespace; /* from the pod logs directory (or the container link) */
	const char *pod_name;
};

struct identity_opts {
	const char *pod_logs_dir; /* NULL: /var/log/pods; "" disables the pod index */
	const char *container_logs_dir; /* NULL: /var/log/containers; "" disables */
	/* A removed cgroup keeps resolving this long after identity_cgroup_removed(); default 60 s. */
	uint64_t cleanup_delay_ns;
	/* Directory entries read per identity_process() call while loading; default 512. */
	uint32_t scan_budget;
	/* Bound on cached cgroups; default 65536. Past it the oldest live entries are evicted. */
	uint32_t max_entries;
	/* Bound on indexed pods and on indexed containers, each; default 65536. */
	uint32_t max_index;
	/* A missing log directory is tried again this often; default 10 s. */
	uint64_t retry_ns;
};

/* Counters (monotonic since create) and gauges. */
struct identity_stats {
	uint64_t lookups; /* identity_resolve() calls */
	uint64_t hits; /* answered from the cache entry as it was */
	uint64_t parses; /* entries created (one path parse each) */
	uint64_t refills; /* incomplete entries looked up again after the index changed */
	uint64_t unresolved; /* lookups without a cached entry and without a path: all NULL */
	uint64_t bad_paths; /* paths identity_parse_path() refused (negative return) */
	uint64_t expirations; /* removed cgroups' entries dropped after the cleanup delay */
	uint64_t evictions; /* live entries dropped by the max_entries bound */
	uint64_t pod_dirs_rejected; /* pod log directory names that do not split or validate */
	uint64_t container_links_rejected; /* container links that do not parse or disagree */
	uint64_t index_full; /* index inserts refused by max_index */
	uint64_t conflicts; /* two directories claiming one pod UID or container id: names dropped */
	uint64_t mismatches; /* a container link naming another pod UID than the cgroup path */
	uint64_t inotify_overflows; /* IN_Q_OVERFLOW: events lost, a full rescan followed */
	uint64_t scans; /* full directory scans started (start, overflow, directory re-created) */
	uint64_t last_load_ns; /* duration of the last complete scan of both directories */
	uint32_t entries; /* gauge: cgroups cached, live and removed */
	uint32_t removed_entries; /* gauge: of which removed, waiting for the cleanup delay */
	uint32_t pods; /* gauge: pods indexed */
	uint32_t containers; /* gauge: containers indexed */
	bool loading; /* a scan is in progress */
	bool pod_logs_dir_missing; /* the pod logs directory is not there (retried) */
	bool container_logs_dir_missing;
};

/* Fill opts with the defaults above (all zero, which create also accepts). */
void identity_opts_init(struct identity_opts *opts);

/*
 * Create a resolver: set up inotify watches on the two directories and start loading them; the
 * load is done by identity_process() in slices, so create never reads a whole directory. A
 * directory that does not exist is not an error (stats say so; it is tried again every
 * opts->retry_ns). Returns 0 and *out, or -EINVAL (bad option), -ENOMEM, or -errno of
 * inotify_init1()/epoll_create1()/eventfd().
 */
int identity_create(const struct identity_opts *opts, uint64_t now_ns, struct identity **out);

/* Close the descriptors and free everything. NULL is accepted. */
void identity_destroy(struct identity *id);

/*
 * A descriptor for the caller's epoll (EPOLLIN, level-triggered): readable while inotify events
 * are queued or a load is unfinished. Call identity_process() when it is.
 */
int identity_fd(const struct identity *id);

/*
 * Do pending work without blocking: read queued inotify events, read up to opts->scan_budget
 * entries of a running scan, retry missing directories when due, expire removed cgroups whose
 * delay has passed and apply the max_entries bound. Call when identity_fd() is readable and at
 * least once a second. Workloads returned earlier may be freed here and no elsewhere. Returns 0,
 * or a negative errno from read(2) on the inotify descriptor (the resolver stays usable).
 */
int identity_process(struct identity *id, uint64_t now_ns);

/*
 * The workload of cgroup_id. path (len bytes, its hierarchy's view, as for identity_parse_path())
 * is parsed the first time a cgroup is seen; later calls use the cache and may pass NULL. Names
 * not known yet are looked up again when the index has changed since the last try. With no entry
 * and no path, the answer is all NULL and nothing is cached (counted in unresolved). Never returns
 * NULL: a workload with NULL fields is "unknown". The pointer and its strings stay valid until
 * the next identity_process() or identity_destroy(); a field, once set, never changes. Cost: one
 * hash lookup on a hit.
 */
const struct identity_workload *identity_resolve(struct identity *id, uint64_t cgroup_id,
						 const char *path, size_t len, uint64_t now_ns);

/*
 * The cgroup is gone: its entry keeps resolving until now_ns + cleanup delay, then
 * identity_process() frees it. Unknown ids and repeated calls are ignored.
 */
void identity_cgroup_removed(struct identity *id, uint64_t cgroup_id, uint64_t now_ns);

/* Copy the counters and gauges. */
void identity_stats(const struct identity *id, struct identity_stats *out);

/*
 * Local peers: when both ends of a flow run on this node (pod to pod), each end's socket gives a
 * flow record, mirrored. An identity_peers index holds one interval's flows by their tuple as
 * the socket saw it; the record of one end then finds the other end's cgroup by the inverse of
 * its actual tuple (after NAT: a client that dialled a Service VIP has the backend in its actual
 * destination, and the backend's record has the VIP in its actual source, so both directions
 * meet). A tuple that two cgroups claim is ambiguous and matches nothing.
 */
struct identity_flow_tuple {
	uint8_t src_addr[16]; /* local endpoint; IPv4 in the first 4 bytes, the rest zero */
	uint8_t dst_addr[16];
	uint16_t src_port; /* host order; ICMP: the echo identifier */
	uint16_t dst_port; /* host order; ICMP: 0 */
	uint8_t ip_version; /* 4 or 6 */
	uint8_t proto; /* IPPROTO_* */
};

enum identity_peer_status {
	IDENTITY_PEER_NONE = 0, /* the other end is not a flow of this node in this interval */
	IDENTITY_PEER_FOUND = 1, /* *peer_cgroup_id is the other end's cgroup */
	IDENTITY_PEER_AMBIGUOUS = 2, /* more than one cgroup has that tuple: no answer */
};

struct identity_peers;

/* An empty index that holds at most max_flows tuples (0: 65536). Returns 0, or -ENOMEM. */
int identity_peers_create(uint32_t max_flows, struct identity_peers **out);

/* NULL is accepted. */
void identity_peers_destroy(struct identity_peers *peers);

/*
 * Forget every tuple (a new interval): clears the slot table; after an interval that used less
 * than a quarter of the room, the index shrinks to fit it (a burst does not stay resident).
 */
void identity_peers_reset(struct identity_peers *peers);

/*
 * Add a flow as its socket saw it (src = local). The same tuple again from the same cgroup is a
 * no-op; from another cgroup it makes the tuple ambiguous. Returns 0, -ENOSPC when max_flows
 * tuples are held (the flow just finds no peer), or -ENOMEM.
 */
int identity_peers_add(struct identity_peers *peers, const struct identity_flow_tuple *t,
		       uint64_t cgroup_id);

/*
 * The cgroup at the other end of a flow whose actual tuple (src = local, after NAT) is given:
 * the added flow whose tuple is its inverse (addresses and ports swapped; for ICMP the echo
 * identifier stays in src_port). Returns an enum identity_peer_status; *peer_cgroup_id is set
 * for IDENTITY_PEER_FOUND only.
 */
int identity_peers_find(const struct identity_peers *peers,
			const struct identity_flow_tuple *actual, uint64_t *peer_cgroup_id);

/*
 * identity_peers_add() of t[i] with cgroup_id[i] for i in 0..n-1, in that order: the same
 * result, with the slot reads of a batch overlapping. *not_added counts the tuples that were
 * not added; returns 0 when all were, else -ENOMEM if any failed for memory, else -ENOSPC.
 */
int identity_peers_add_many(struct identity_peers *peers, const struct identity_flow_tuple *t,
			    const uint64_t *cgroup_id, size_t n, size_t *not_added);

/*
 * identity_peers_find() for n flows at once: status[i] and, for IDENTITY_PEER_FOUND,
 * peer_cgroup_id[i] for actual[i]. The same answers, faster for many: the memory reads of a
 * batch of lookups overlap instead of following one another.
 */
void identity_peers_find_many(const struct identity_peers *peers,
			      const struct identity_flow_tuple *actual, size_t n, int *status,
			      uint64_t *peer_cgroup_id);

#endif /* FLOWSCOPE_IDENTITY_H */
