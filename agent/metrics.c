// SPDX-License-Identifier: Apache-2.0
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "metrics.h"

struct metrics_server {
	struct MHD_Daemon *daemon;
	metrics_render_fn render;
	void *ctx;
};

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
	char *page = NULL;
	size_t size = 0;
	FILE *out;

	(void)version, (void)upload_data, (void)upload_data_size, (void)req_ctx;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		page = strdup("only GET\n");
	} else if (strcmp(url, "/metrics")) {
		status = MHD_HTTP_NOT_FOUND;
		page = strdup("flowscope serves /metrics\n");
	} else {
		out = open_memstream(&page, &size);
		if (!out)
			return MHD_NO;
		ms->render(ms->ctx, out);
		fclose(out);
	}
	if (!page)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(page), page, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(page);
		return MHD_NO;
	}
	if (status == MHD_HTTP_OK)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int metrics_server_start(const char *addr, metrics_render_fn render, void *ctx,
			 struct metrics_server **out, char *err, size_t errsz)
{
	struct sockaddr_storage ss;
	struct metrics_server *ms;
	unsigned int flags = MHD_USE_EPOLL;
	socklen_t len;

	if (parse_addr(addr, &ss, &len)) {
		snprintf(err, errsz, "invalid value for --metrics-addr: '%s' (expected HOST:PORT)",
			 addr);
		return -EINVAL;
	}
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	ms->render = render;
	ms->ctx = ctx;
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
	*out = ms;
	return 0;
}

void metrics_server_stop(struct metrics_server *ms)
{
	if (!ms)
		return;
	MHD_stop_daemon(ms->daemon);
	free(ms);
}

int metrics_server_fd(const struct metrics_server *ms)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(ms->daemon, MHD_DAEMON_INFO_EPOLL_FD);

	return info ? info->epoll_fd : -1;
}

void metrics_server_run(struct metrics_server *ms)
{
	MHD_run(ms->daemon);
}

void metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_sample(FILE *out, const char *name, const char *labels, uint64_t value)
{
	if (labels && *labels)
		fprintf(out, "%s{%s} %llu\n", name, labels, (unsigned long long)value);
	else
		fprintf(out, "%s %llu\n", name, (unsigned long long)value);
}
