// SPDX-License-Identifier: Apache-2.0
/*
 * e2e_hooks CGROUP_PATH [HOOK,...]
 *     attaches empty_hooks.bpf.c's empty programs (every hook of flowscope's flow path) to the
 *     cgroup v2 directory CGROUP_PATH and to the two TCP tracepoints, each through a bpf_link,
 *     prints "attached" on stdout and holds them until SIGTERM/SIGINT; exits 0, or 1 with an
 *     error on stderr. For bench/e2e/e2e_bench.py's "empty hooks (stats off)" configuration.
 *     HOOK,... attaches only those of ingress, egress, sock_create, sock_release, sock_state
 *     (inet_sock_set_state) and sock_destroy (tcp_destroy_sock): what each hook costs.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <stdbool.h>

#include "empty_hooks.skel.h"

static volatile sig_atomic_t stop;

/* Whether hook is named in the comma-separated list (NULL: every hook). */
static bool wanted(const char *list, const char *hook)
{
	size_t n = strlen(hook);

	if (!list)
		return true;
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (!strncmp(p, hook, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct empty_hooks_bpf *skel = NULL;
	struct bpf_link *links[6] = { 0 };
	const char *list = argc == 3 ? argv[2] : NULL;
	int cg = -1, ret = 1, n = 0;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: e2e_hooks CGROUP_PATH [HOOK,...]\n");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	cg = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		fprintf(stderr, "e2e_hooks: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	skel = empty_hooks_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "e2e_hooks: loading the empty programs: %s\n", strerror(errno));
		goto out;
	}
	struct {
		const char *hook;
		struct bpf_program *prog;
		bool cgroup;
	} hooks[] = {
		{ "ingress", skel->progs.empty_ingress, true },
		{ "egress", skel->progs.empty_egress, true },
		{ "sock_create", skel->progs.empty_sock_create, true },
		{ "sock_release", skel->progs.empty_sock_release, true },
		{ "sock_state", skel->progs.empty_sock_state, false },
		{ "sock_destroy", skel->progs.empty_sock_destroy, false },
	};
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
			if (strlen(hooks[i].hook) == len && !strncmp(p, hooks[i].hook, len))
				break;
		}
		if (i == sizeof(hooks) / sizeof(hooks[0])) {
			fprintf(stderr, "e2e_hooks: unknown hook '%.*s'\n", (int)len, p);
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		if (!wanted(list, hooks[i].hook))
			continue;
		links[n] = hooks[i].cgroup ? bpf_program__attach_cgroup(hooks[i].prog, cg)
					   : bpf_program__attach(hooks[i].prog);
		if (!links[n]) {
			fprintf(stderr, "e2e_hooks: attaching %s: %s\n", hooks[i].hook,
				strerror(errno));
			goto out;
		}
		n++;
	}
	printf("attached\n");
	fflush(stdout);
	while (!stop)
		pause();
	ret = 0;
out:
	for (int i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	empty_hooks_bpf__destroy(skel);
	close(cg);
	return ret;
}
