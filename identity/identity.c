// SPDX-License-Identifier: Apache-2.0
/*
 * The resolver: pod and container index from the kubelet's log directories (inotify + an
 * incremental scan) and the per-cgroup cache.
 *
 * Descriptors: an inotify instance watching both directories and an eventfd that is kept
 * readable while a scan has work left, both inside an epoll instance whose fd the caller polls,
 * so the caller's loop wakes for either and identity_process() continues a scan where it stopped.
 *
 * A scan and the events race: the watch is added before the directory is opened, so nothing is
 * missed, and every entry a scan reads is checked to still exist (fstatat/readlinkat) because
 * readdir may hand back a name whose deletion event was already handled. A scan after an
 * overflow marks what it sees; what it did not see is dropped when it completes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uthash.h>

#include "identity_priv.h"

#define DEFAULT_POD_LOGS_DIR "/var/log/pods"
#define DEFAULT_CONTAINER_LOGS_DIR "/var/log/containers"
#define DEFAULT_CLEANUP_DELAY_NS (60ull * 1000000000ull)
#define DEFAULT_RETRY_NS (10ull * 1000000000ull)
#define DEFAULT_SCAN_BUDGET 512
#define DEFAULT_MAX_ENTRIES 65536
#define DEFAULT_MAX_INDEX 65536
/* inotify reads per identity_process() call; a fuller queue keeps the fd readable */
#define INOTIFY_READS_PER_CALL 16

#define DIR_MASK                                                                               \
	(IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | \
	 IN_ONLYDIR)

/*
 * An index entry: a pod directory (key: the pod UID; names by enum pod_field) or a container
 * log link (key: the container id; names by enum ctr_field). One type for both, so adding,
 * removing and sweeping entries is one code path.
 */
enum pod_field { POD_NS, POD_NAME, POD_FIELDS };
enum ctr_field { CTR_NS, CTR_POD, CTR_NAME, CTR_POD_UID, CTR_FIELDS };
#define INDEX_FIELDS CTR_FIELDS
#define INDEX_KEY_MAX IDENTITY_CONTAINER_ID_LEN /* the longer key */

struct index_entry {
	char key[INDEX_KEY_MAX + 1];
	char *names[INDEX_FIELDS]; /* owned; unused ones NULL */
	bool conflict; /* two directory entries with this key and different names */
	uint64_t gen; /* scan generation in which it was last seen */
	UT_hash_handle hh;
};

/* The entries of one log directory. */
struct index {
	struct index_entry *entries;
	uint32_t n;
};

struct cg_entry {
	uint64_t cgroup_id;
	struct identity_path parsed;
	struct identity_workload w; /* points into parsed and the strings below */
	char *ns, *pod, *name; /* owned */
	uint64_t index_gen; /* index generation of the last lookup in it */
	bool complete; /* nothing left to look up */
	bool removed;
	uint64_t removed_at;
	struct cg_entry *rm_next; /* FIFO of removed entries, oldest first */
	UT_hash_handle hh;
};

enum log_dir_kind { LOG_PODS = 0, LOG_CONTAINERS = 1 };

struct log_dir {
	char *path; /* NULL: disabled */
	int wd; /* inotify watch, -1 when none */
	DIR *scan; /* a scan in progress */
	bool missing;
	uint64_t next_retry_ns;
	uint64_t gen; /* current scan generation */
	uint64_t scan_start_ns;
	bool sweep; /* drop entries not seen when this scan completes */
};

struct identity {
	struct identity_opts opts;
	int epfd, ifd, evfd;
	bool ev_armed;
	struct log_dir dirs[2];
	struct index index[2]; /* by enum log_dir_kind */
	uint64_t index_gen; /* bumped on every index insert */
	struct cg_entry *cgroups;
	uint32_t n_cgroups, n_removed;
	struct cg_entry *rm_head, *rm_tail;
	bool load_pending; /* a scan of either directory is running */
	uint64_t load_start_ns;
	struct identity_stats st;
};

static const struct identity_workload unknown_workload;

void identity_opts_init(struct identity_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->cleanup_delay_ns = DEFAULT_CLEANUP_DELAY_NS;
	opts->scan_budget = DEFAULT_SCAN_BUDGET;
	opts->max_entries = DEFAULT_MAX_ENTRIES;
	opts->max_index = DEFAULT_MAX_INDEX;
	opts->retry_ns = DEFAULT_RETRY_NS;
}

static char *dup_part(const struct name_part *p)
{
	return strndup(p->s, p->n);
}

static bool str_is(const char *s, const struct name_part *p)
{
	return strlen(s) == p->n && !memcmp(s, p->s, p->n);
}

/* ---- the index ---- */

static void index_entry_free(struct index *ix, struct index_entry *e)
{
	HASH_DEL(ix->entries, e);
	ix->n--;
	for (int i = 0; i < INDEX_FIELDS; i++)
		free(e->names[i]);
	free(e);
}

static struct index_entry *index_find(struct index *ix, const struct name_part *key)
{
	char k[INDEX_KEY_MAX + 1];
	struct index_entry *e;

	if (key->n > INDEX_KEY_MAX)
		return NULL; /* the parsers give no longer key */
	memcpy(k, key->s, key->n);
	k[key->n] = '\0';
	HASH_FIND_STR(ix->entries, k, e);
	return e;
}

/* Whether e's first n names are names[0..n). */
static bool index_entry_is(const struct index_entry *e, const struct name_part *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!str_is(e->names[i], &names[i]))
			return false;
	return true;
}

/*
 * A directory entry of kind k (seen by a scan or an event) maps key to names[0..n). Seen again
 * with other names, the key is marked conflicted and resolves nothing. Full index: counted.
 */
static void index_add(struct identity *id, enum log_dir_kind k, const struct name_part *key,
		      const struct name_part *names, int n)
{
	struct index *ix = &id->index[k];
	struct index_entry *e = index_find(ix, key);

	if (e) {
		e->gen = id->dirs[k].gen;
		if (!e->conflict && !index_entry_is(e, names, n)) {
			e->conflict = true;
			id->st.conflicts++;
		}
		return;
	}
	if (ix->n >= id->opts.max_index) {
		id->st.index_full++;
		return;
	}
	if (key->n > INDEX_KEY_MAX)
		return;
	e = calloc(1, sizeof(*e));
	if (!e)
		return;
	memcpy(e->key, key->s, key->n);
	for (int i = 0; i < n; i++) {
		e->names[i] = dup_part(&names[i]);
		if (!e->names[i]) {
			while (i--)
				free(e->names[i]);
			free(e);
			return;
		}
	}
	e->gen = id->dirs[k].gen;
	HASH_ADD_STR(ix->entries, key, e);
	ix->n++;
	id->index_gen++;
}

/*
 * The directory entry of kind k for key, with names[0..n), is gone. A conflicted key goes with
 * either directory entry: never guess which one stays.
 */
static void index_del(struct identity *id, enum log_dir_kind k, const struct name_part *key,
		      const struct name_part *names, int n)
{
	struct index_entry *e = index_find(&id->index[k], key);

	if (e && (e->conflict || index_entry_is(e, names, n)))
		index_entry_free(&id->index[k], e);
}

static void pod_add(struct identity *id, const char *name, size_t n)
{
	struct pod_dir_name pd;

	if (!identity_parse_pod_dir(name, n, &pd)) {
		id->st.pod_dirs_rejected++;
		return;
	}
	index_add(id, LOG_PODS, &pd.uid,
		  (const struct name_part[POD_FIELDS]){ [POD_NS] = pd.ns, [POD_NAME] = pd.pod },
		  POD_FIELDS);
}

static void pod_del(struct identity *id, const char *name, size_t n)
{
	struct pod_dir_name pd;

	if (!identity_parse_pod_dir(name, n, &pd))
		return;
	index_del(id, LOG_PODS, &pd.uid,
		  (const struct name_part[POD_FIELDS]){ [POD_NS] = pd.ns, [POD_NAME] = pd.pod },
		  POD_FIELDS);
}

/* target: the link's target, NULL when it could not be read. */
static void ctr_add(struct identity *id, const char *name, size_t n, const char *target, size_t tn)
{
	struct container_link_name ln;
	struct name_part uid;

	if (!identity_parse_container_link(name, n, &ln) || !target ||
	    !identity_parse_link_target(target, tn, &ln, &uid)) {
		id->st.container_links_rejected++;
		return;
	}
	index_add(id, LOG_CONTAINERS, &ln.id,
		  (const struct name_part[CTR_FIELDS]){ [CTR_NS] = ln.ns,
							[CTR_POD] = ln.pod,
							[CTR_NAME] = ln.container,
							[CTR_POD_UID] = uid },
		  CTR_FIELDS);
}

/* The link's target is gone with it: the pod UID is not compared. */
static void ctr_del(struct identity *id, const char *name, size_t n)
{
	struct container_link_name ln;

	if (!identity_parse_container_link(name, n, &ln))
		return;
	index_del(id, LOG_CONTAINERS, &ln.id,
		  (const struct name_part[CTR_POD_UID]){
			  [CTR_NS] = ln.ns, [CTR_POD] = ln.pod, [CTR_NAME] = ln.container },
		  CTR_POD_UID);
}

/*
 * Read the link name in the containers directory and index it. dfd: the directory, or -1 to go
 * by its path (no descriptor is kept open between calls: an open directory would hold back the
 * IN_DELETE_SELF of its removal).
 */
static void ctr_add_at(struct identity *id, int dfd, const char *name)
{
	char target[PATH_MAX], full[PATH_MAX];
	const char *at = name;
	ssize_t tn;

	if (dfd < 0) {
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", id->dirs[LOG_CONTAINERS].path,
				     name) >= sizeof(full)) {
			id->st.container_links_rejected++;
			return;
		}
		at = full;
	}
	tn = readlinkat(dfd < 0 ? AT_FDCWD : dfd, at, target, sizeof(target));
	if (tn < 0 && errno == ENOENT)
		return; /* gone again */
	if (tn < 0 || (size_t)tn >= sizeof(target))
		ctr_add(id, name, strlen(name), NULL, 0);
	else
		ctr_add(id, name, strlen(name), target, (size_t)tn);
}

static void pod_add_at(struct identity *id, int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return; /* gone again */
	if (!S_ISDIR(st.st_mode)) {
		id->st.pod_dirs_rejected++;
		return;
	}
	pod_add(id, name, strlen(name));
}

/* ---- directories and scans ---- */

static void set_ev(struct identity *id, bool on)
{
	uint64_t v = 1;

	if (on == id->ev_armed)
		return;
	if (on) {
		if (write(id->evfd, &v, sizeof(v)) == sizeof(v))
			id->ev_armed = true;
	} else {
		if (read(id->evfd, &v, sizeof(v)) == sizeof(v) || errno == EAGAIN)
			id->ev_armed = false;
	}
}

static void update_loading(struct identity *id, uint64_t now_ns)
{
	bool pending = id->dirs[LOG_PODS].scan || id->dirs[LOG_CONTAINERS].scan;

	if (id->load_pending && !pending)
		id->st.last_load_ns = now_ns - id->load_start_ns;
	if (!id->load_pending && pending)
		id->load_start_ns = now_ns;
	id->load_pending = pending;
	set_ev(id, pending);
}

/* Start a full scan of d (again): entries it does not see are dropped when it ends. */
static void start_scan(struct identity *id, struct log_dir *d, uint64_t now_ns)
{
	if (d->wd < 0)
		return;
	if (d->scan)
		closedir(d->scan);
	d->scan = opendir(d->path);
	if (!d->scan)
		return; /* gone meanwhile: IN_DELETE_SELF follows */
	d->gen++;
	d->sweep = true;
	d->scan_start_ns = now_ns;
	id->st.scans++;
}

static void clear_index(struct identity *id, enum log_dir_kind k)
{
	struct index_entry *e, *tmp;

	HASH_ITER(hh, id->index[k].entries, e, tmp)
	{
		index_entry_free(&id->index[k], e);
	}
}

static void close_dir(struct identity *id, struct log_dir *d)
{
	if (d->wd >= 0)
		inotify_rm_watch(id->ifd, d->wd);
	d->wd = -1;
	if (d->scan)
		closedir(d->scan);
	d->scan = NULL;
}

/* Watch the directory, then start its scan; missing when there is none to watch. */
static void open_dir(struct identity *id, struct log_dir *d, uint64_t now_ns)
{
	d->next_retry_ns = now_ns + id->opts.retry_ns;
	d->wd = inotify_add_watch(id->ifd, d->path, DIR_MASK);
	if (d->wd < 0) {
		d->missing = true;
		return;
	}
	d->missing = false;
	start_scan(id, d, now_ns);
}

/* The scan of d ended: drop what it did not see (entries of an older generation). */
static void end_scan(struct identity *id, enum log_dir_kind k)
{
	struct log_dir *d = &id->dirs[k];
	struct index_entry *e, *tmp;

	closedir(d->scan);
	d->scan = NULL;
	if (!d->sweep)
		return;
	d->sweep = false;
	HASH_ITER(hh, id->index[k].entries, e, tmp)
	{
		if (e->gen != d->gen)
			index_entry_free(&id->index[k], e);
	}
}

/* Read up to *budget entries of d's scan. */
static void scan_some(struct identity *id, enum log_dir_kind k, uint32_t *budget)
{
	struct log_dir *d = &id->dirs[k];
	struct dirent *de;

	while (d->scan && *budget > 0) {
		errno = 0;
		de = readdir(d->scan);
		if (!de) {
			end_scan(id, k);
			break;
		}
		(*budget)--;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (k == LOG_PODS)
			pod_add_at(id, dirfd(d->scan), de->d_name);
		else if (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN)
			ctr_add_at(id, dirfd(d->scan), de->d_name);
		else
			id->st.container_links_rejected++; /* kubelet writes links only */
	}
}

static void dir_gone(struct identity *id, enum log_dir_kind k, uint64_t now_ns)
{
	struct log_dir *d = &id->dirs[k];

	/* the watch is gone with the directory; IN_IGNORED follows */
	d->wd = -1;
	close_dir(id, d);
	clear_index(id, k);
	d->missing = true;
	d->next_retry_ns = now_ns; /* re-created directories are picked up on the next call */
}

static void handle_event(struct identity *id, const struct inotify_event *ev, uint64_t now_ns)
{
	size_t n = ev->len ? strnlen(ev->name, ev->len) : 0;

	if (ev->mask & IN_Q_OVERFLOW) {
		id->st.inotify_overflows++;
		for (int k = 0; k < 2; k++)
			start_scan(id, &id->dirs[k], now_ns);
		return;
	}
	for (int k = 0; k < 2; k++) {
		struct log_dir *d = &id->dirs[k];

		if (d->wd < 0 || ev->wd != d->wd)
			continue;
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
			dir_gone(id, (enum log_dir_kind)k, now_ns);
			return;
		}
		if (!n)
			return;
		if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
			if (k == LOG_PODS && (ev->mask & IN_ISDIR))
				pod_add(id, ev->name, n);
			else if (k == LOG_CONTAINERS && !(ev->mask & IN_ISDIR))
				ctr_add_at(id, -1, ev->name);
			else if (k == LOG_PODS)
				id->st.pod_dirs_rejected++; /* a file where directories go */
			else
				id->st.container_links_rejected++;
		} else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
			if (k == LOG_PODS)
				pod_del(id, ev->name, n);
			else
				ctr_del(id, ev->name, n);
		}
		return;
	}
}

static int read_events(struct identity *id, uint64_t now_ns)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (int r = 0; r < INOTIFY_READS_PER_CALL; r++) {
		ssize_t len = read(id->ifd, buf, sizeof(buf));

		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			handle_event(id, ev, now_ns);
			p += sizeof(*ev) + ev->len;
		}
	}
	return 0;
}

/* ---- the cgroup cache ---- */

static void cg_free(struct identity *id, struct cg_entry *e)
{
	HASH_DEL(id->cgroups, e);
	id->n_cgroups--;
	free(e->ns);
	free(e->pod);
	free(e->name);
	free(e);
}

/* Copies the pod's names into e. Without memory neither is set: a later refill tries again. */
static void set_pod(struct cg_entry *e, const char *ns, const char *pod)
{
	e->ns = strdup(ns);
	e->pod = strdup(pod);
	if (e->ns && e->pod) {
		e->w.pod_namespace = e->ns;
		e->w.pod_name = e->pod;
	} else {
		free(e->ns);
		free(e->pod);
		e->ns = e->pod = NULL;
	}
}

/* Look the entry's missing names up in the index. Only NULL fields are set. */
static void fill(struct identity *id, struct cg_entry *e)
{
	struct identity_workload *w = &e->w;
	struct index_entry *c = NULL;
	struct index_entry *p = NULL;

	e->index_gen = id->index_gen;
	if (w->pod_uid && !w->pod_name) {
		HASH_FIND_STR(id->index[LOG_PODS].entries, w->pod_uid, p);
		if (p && !p->conflict)
			set_pod(e, p->names[POD_NS], p->names[POD_NAME]);
	}
	/* a container link counts only for a cgroup in the pod that the link names */
	if (w->container_id && w->pod_uid && !w->container_name) {
		HASH_FIND_STR(id->index[LOG_CONTAINERS].entries, w->container_id, c);
		if (c && !c->conflict && strcmp(c->names[CTR_POD_UID], w->pod_uid)) {
			id->st.mismatches++;
			c = NULL;
		}
		if (c && !c->conflict) {
			e->name = strdup(c->names[CTR_NAME]);
			w->container_name = e->name;
			if (!w->pod_name)
				set_pod(e, c->names[CTR_NS], c->names[CTR_POD]);
		}
	}
	e->complete = (!w->pod_uid || w->pod_name) &&
		      (!w->container_id || !w->pod_uid || w->container_name);
}

static struct cg_entry *cg_new(struct identity *id, uint64_t cgroup_id, const char *path,
			       size_t len)
{
	struct cg_entry *e = calloc(1, sizeof(*e));
	int st;

	if (!e)
		return NULL;
	e->cgroup_id = cgroup_id;
	st = identity_parse_path(path, len, &e->parsed);
	if (st < 0)
		id->st.bad_paths++;
	if (e->parsed.container_id[0]) {
		e->w.container_id = e->parsed.container_id;
		e->w.container_runtime = identity_runtime_name(e->parsed.runtime);
	}
	if (e->parsed.pod_uid[0])
		e->w.pod_uid = e->parsed.pod_uid;
	HASH_ADD(hh, id->cgroups, cgroup_id, sizeof(e->cgroup_id), e);
	id->n_cgroups++;
	id->st.parses++;
	fill(id, e);
	return e;
}

const struct identity_workload *identity_resolve(struct identity *id, uint64_t cgroup_id,
						 const char *path, size_t len, uint64_t now_ns)
{
	struct cg_entry *e;

	(void)now_ns;
	id->st.lookups++;
	HASH_FIND(hh, id->cgroups, &cgroup_id, sizeof(cgroup_id), e);
	if (e) {
		if (!e->complete && e->index_gen != id->index_gen) {
			id->st.refills++;
			fill(id, e);
		} else {
			id->st.hits++;
		}
		return &e->w;
	}
	if (!path) {
		id->st.unresolved++;
		return &unknown_workload;
	}
	e = cg_new(id, cgroup_id, path, len);
	return e ? &e->w : &unknown_workload;
}

void identity_cgroup_removed(struct identity *id, uint64_t cgroup_id, uint64_t now_ns)
{
	struct cg_entry *e;

	HASH_FIND(hh, id->cgroups, &cgroup_id, sizeof(cgroup_id), e);
	if (!e || e->removed)
		return;
	e->removed = true;
	e->removed_at = now_ns;
	e->rm_next = NULL;
	if (id->rm_tail)
		id->rm_tail->rm_next = e;
	else
		id->rm_head = e;
	id->rm_tail = e;
	id->n_removed++;
}

static void expire(struct identity *id, uint64_t now_ns)
{
	struct cg_entry *e, *tmp;

	/* the delay is the same for all, so the FIFO is in expiry order */
	while ((e = id->rm_head) && now_ns - e->removed_at >= id->opts.cleanup_delay_ns) {
		id->rm_head = e->rm_next;
		if (!id->rm_head)
			id->rm_tail = NULL;
		id->n_removed--;
		id->st.expirations++;
		cg_free(id, e);
	}
	if (id->n_cgroups - id->n_removed <= id->opts.max_entries)
		return;
	/* uthash iterates in insertion order: the oldest live entries go first */
	HASH_ITER(hh, id->cgroups, e, tmp)
	{
		if (id->n_cgroups - id->n_removed <= id->opts.max_entries)
			break;
		if (e->removed)
			continue;
		id->st.evictions++;
		cg_free(id, e);
	}
}

/* ---- lifecycle ---- */

int identity_process(struct identity *id, uint64_t now_ns)
{
	uint32_t budget = id->opts.scan_budget;
	int err;

	err = read_events(id, now_ns);
	for (int k = 0; k < 2; k++) {
		struct log_dir *d = &id->dirs[k];

		if (d->path && d->missing && now_ns >= d->next_retry_ns)
			open_dir(id, d, now_ns);
	}
	scan_some(id, LOG_PODS, &budget);
	scan_some(id, LOG_CONTAINERS, &budget);
	update_loading(id, now_ns);
	expire(id, now_ns);
	return err;
}

int identity_create(const struct identity_opts *opts, uint64_t now_ns, struct identity **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct identity *id;
	int err;

	if (!out)
		return -EINVAL;
	*out = NULL;
	id = calloc(1, sizeof(*id));
	if (!id)
		return -ENOMEM;
	identity_opts_init(&id->opts);
	if (opts) {
		id->opts.pod_logs_dir = opts->pod_logs_dir;
		id->opts.container_logs_dir = opts->container_logs_dir;
		if (opts->cleanup_delay_ns)
			id->opts.cleanup_delay_ns = opts->cleanup_delay_ns;
		if (opts->scan_budget)
			id->opts.scan_budget = opts->scan_budget;
		if (opts->max_entries)
			id->opts.max_entries = opts->max_entries;
		if (opts->max_index)
			id->opts.max_index = opts->max_index;
		if (opts->retry_ns)
			id->opts.retry_ns = opts->retry_ns;
	}
	id->epfd = id->ifd = id->evfd = -1;
	for (int k = 0; k < 2; k++)
		id->dirs[k].wd = -1;
	id->dirs[LOG_PODS].path =
		strdup(id->opts.pod_logs_dir ? id->opts.pod_logs_dir : DEFAULT_POD_LOGS_DIR);
	id->dirs[LOG_CONTAINERS].path = strdup(id->opts.container_logs_dir
						       ? id->opts.container_logs_dir
						       : DEFAULT_CONTAINER_LOGS_DIR);
	if (!id->dirs[0].path || !id->dirs[1].path) {
		err = -ENOMEM;
		goto fail;
	}
	/* the caller's strings need not outlive create */
	id->opts.pod_logs_dir = id->dirs[LOG_PODS].path;
	id->opts.container_logs_dir = id->dirs[LOG_CONTAINERS].path;
	for (int k = 0; k < 2; k++) {
		if (!id->dirs[k].path[0]) {
			free(id->dirs[k].path);
			id->dirs[k].path = NULL; /* disabled */
		}
	}
	id->epfd = epoll_create1(EPOLL_CLOEXEC);
	id->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	id->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (id->epfd < 0 || id->ifd < 0 || id->evfd < 0) {
		err = -errno;
		goto fail;
	}
	ev.data.fd = id->ifd;
	if (epoll_ctl(id->epfd, EPOLL_CTL_ADD, id->ifd, &ev)) {
		err = -errno;
		goto fail;
	}
	ev.data.fd = id->evfd;
	if (epoll_ctl(id->epfd, EPOLL_CTL_ADD, id->evfd, &ev)) {
		err = -errno;
		goto fail;
	}
	for (int k = 0; k < 2; k++)
		if (id->dirs[k].path)
			open_dir(id, &id->dirs[k], now_ns);
	update_loading(id, now_ns);
	*out = id;
	return 0;
fail:
	identity_destroy(id);
	return err;
}

void identity_destroy(struct identity *id)
{
	struct cg_entry *e, *tmp;

	if (!id)
		return;
	for (int k = 0; k < 2; k++) {
		close_dir(id, &id->dirs[k]);
		clear_index(id, (enum log_dir_kind)k);
		free(id->dirs[k].path);
	}
	HASH_ITER(hh, id->cgroups, e, tmp)
	{
		cg_free(id, e);
	}
	if (id->evfd >= 0)
		close(id->evfd);
	if (id->ifd >= 0)
		close(id->ifd);
	if (id->epfd >= 0)
		close(id->epfd);
	free(id);
}

int identity_fd(const struct identity *id)
{
	return id->epfd;
}

void identity_stats(const struct identity *id, struct identity_stats *out)
{
	*out = id->st;
	out->entries = id->n_cgroups;
	out->removed_entries = id->n_removed;
	out->pods = id->index[LOG_PODS].n;
	out->containers = id->index[LOG_CONTAINERS].n;
	out->loading = id->load_pending;
	out->pod_logs_dir_missing = id->dirs[LOG_PODS].path && id->dirs[LOG_PODS].missing;
	out->container_logs_dir_missing = id->dirs[LOG_CONTAINERS].path &&
					  id->dirs[LOG_CONTAINERS].missing;
}
