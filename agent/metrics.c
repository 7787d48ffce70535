// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sys/epoll.h>

#include "clock.h"
#include "counters.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"

struct metrics_server {
	struct MHD_Daemon *daemon;
	const struct counters *reg;
	struct loop *loop;
	int fd; /* libmicrohttpd's epoll fd, registered with the loop; -1: not */
	int timer; /* 0: none */
	bool probes_set;
	struct metrics_probes probes;
};

void metrics_server_set_probes(struct metrics_server *ms, const struct metrics_probes *p)
{
	ms->probes = *p;
	ms->probes_set = true;
}

/* /healthz: returns the status and writes the reason into page. */
static unsigned int healthz(const struct metrics_server *ms, char *page, size_t size)
{
	const struct metrics_probes *p = &ms->probes;
	uint64_t now = clock_mono_ns(), since, last;

	if (!ms->probes_set) {
		snprintf(page, size, "ok: loop running, programs not attached yet\n");
		return MHD_HTTP_OK;
	}
	last = p->last_export_ns(p->arg);
	since = last ? last : p->attached_ns;
	if (now > since && now - since > METRICS_HEALTH_STALE_INTERVALS * p->interval_ns) {
		snprintf(page, size,
			 "unhealthy: no interval exported for %" PRIu64 " ms (interval %" PRIu64
			 " ms)\n",
			 (now - since) / 1000000, p->interval_ns / 1000000);
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	snprintf(page, size, "ok\n");
	return MHD_HTTP_OK;
}

/* /readyz: attached, an interval exported, the sink accepting records. */
static unsigned int readyz(const struct metrics_server *ms, char *page, size_t size)
{
	const struct metrics_probes *p = &ms->probes;
	char why[256];

	if (!ms->probes_set) {
		snprintf(page, size, "not ready: programs not attached\n");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (!p->last_export_ns(p->arg)) {
		snprintf(page, size, "not ready: first interval not exported yet\n");
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (p->sink_ready && !p->sink_ready(p->arg, why, sizeof(why))) {
		snprintf(page, size, "not ready: %s\n", why);
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	snprintf(page, size, "ready\n");
	return MHD_HTTP_OK;
}

/* Parses addr into ss; returns 0 or -EINVAL. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(addr, ':');
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	size_t hlen;
	char *end;
	long port;

	if (!colon)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || port < 1 || port > 65535)
		return -EINVAL;
	hlen = (size_t)(colon - addr);
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hlen == 0 || !strcmp(host, "[::]")) {
		/* every address, IPv4 included (dual stack) */
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_any;
		*len = sizeof(*s6);
		return 0;
	}
	if (host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return -EINVAL;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof(*s4);
	return 0;
}

int metrics_addr_check(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return parse_addr(addr, &ss, &len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_ctx)
{
	struct metrics_server *ms = cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status = MHD_HTTP_OK;
	char *page = NULL, probe[512];
	size_t size = 0;
	bool metrics = false;
	FILE *out;

	(void)version, (void)upload_data, (void)upload_data_size, (void)req_ctx;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		page = strdup("only GET\n");
	} else if (!strcmp(url, "/healthz")) {
		status = healthz(ms, probe, sizeof(probe));
		page = strdup(probe);
	} else if (!strcmp(url, "/readyz")) {
		status = readyz(ms, probe, sizeof(probe));
		page = strdup(probe);
	} else if (strcmp(url, "/metrics")) {
		status = MHD_HTTP_NOT_FOUND;
		page = strdup("flowscope serves /metrics, /healthz and /readyz\n");
	} else {
		metrics = true;
		out = open_memstream(&page, &size);
		if (!out)
			return MHD_NO;
		counters_render_prometheus(ms->reg, out);
		fclose(out);
	}
	if (!page)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(page), page, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(page);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				metrics ? "text/plain; version=0.0.4; charset=utf-8"
					: "text/plain; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Serves ready connections without blocking. */
static void serve(struct metrics_server *ms)
{
	MHD_run(ms->daemon);
}

static void on_ready(struct loop *l, int fd, uint32_t events, void *arg)
{
	(void)l, (void)fd, (void)events;
	serve(arg);
}

/* connection timeouts */
static void on_tick(struct loop *l, uint64_t expirations, void *arg)
{
	(void)l, (void)expirations;
	serve(arg);
}

int metrics_server_create(const char *addr, const struct counters *reg, struct loop *l,
			  struct metrics_server **out, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	struct metrics_server *ms;
	unsigned int flags = MHD_USE_EPOLL;
	const union MHD_DaemonInfo *info;
	socklen_t len;
	int ret;

	if (parse_addr(addr, &ss, &len)) {
		snprintf(err, errsz, "invalid value for --metrics-addr: '%s' (expected HOST:PORT)",
			 addr);
		return -EINVAL;
	}
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->reg = reg;
	ms->loop = l;
	ms->fd = -1;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_DUAL_STACK;
	ms->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, ms, MHD_OPTION_SOCK_ADDR,
				      (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
				      (unsigned int)10, MHD_OPTION_END);
	if (!ms->daemon) {
		int e = errno ? errno : EADDRINUSE;

		snprintf(err, errsz, "--metrics-addr %s: cannot listen: %s", addr, strerror(e));
		free(ms);
		return -e;
	}
	info = MHD_get_daemon_info(ms->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	ret = info ? loop_add_fd(l, info->epoll_fd, EPOLLIN, on_ready, ms) : -EIO;
	if (!ret) {
		ms->fd = info->epoll_fd;
		ret = loop_add_timer(l, 1000, on_tick, ms);
		if (ret > 0) {
			ms->timer = ret;
			ret = 0;
		}
	}
	if (ret) {
		snprintf(err, errsz, "--metrics-addr %s: joining the event loop: %s", addr,
			 strerror(-ret));
		metrics_server_destroy(ms);
		return ret;
	}
	*out = ms;
	return 0;
}

void metrics_server_destroy(struct metrics_server *ms)
{
	if (!ms)
		return;
	if (ms->fd >= 0)
		loop_del_fd(ms->loop, ms->fd);
	if (ms->timer)
		loop_del_timer(ms->loop, ms->timer);
	MHD_stop_daemon(ms->daemon);
	free(ms);
}
