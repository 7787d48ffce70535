#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The start-up walk of open sockets (issue 11): how long the agent's walk takes.

A holder process in a network namespace and a cgroup of the benchmark's own opens --sockets
sockets (half connected UDP sockets, half TCP: both ends of --sockets/4 loopback connections)
and --files other open files (dups of /dev/null, over as many processes as the hard
RLIMIT_NOFILE needs, each holding at most FILES_PER_PROC), then waits; the agent starts with --cgroup-root on the
benchmark's cgroup and --duration 1, and the walk's time and counts are read from its INFO line
("socket owner walk: ..."). Repetitions one after another; prints one line per run and the
median. Each repetition has a new holder, so that its sockets have no cookie yet (the first
agent's walk gives them one: a later walk over the same sockets takes its faster first-pass
path). --baseline BINARY runs that agent too (a binary without the walk prints no line: its
start time is reported instead, from exec to "attached to cgroup").

Usage (root): python3 bench/owner_walk/owner_walk_bench.py --agent build/agent/flowscope
              [--sockets 10000] [--files 0] [--reps 3] [--baseline /tmp/flowscope-f3a76ac]
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HOLDER = r"""
import os, resource, socket, sys
n, files = int(sys.argv[1]), int(sys.argv[2])
need = n + files + 64
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
keep = []
for i in range(n // 2):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.connect(("127.0.0.1", 9 + i % 1000))
    keep.append(u)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(4096)
for i in range(n // 4):
    c = socket.create_connection(srv.getsockname())
    a, _ = srv.accept()
    keep += [c, a]
null = os.open("/dev/null", os.O_RDONLY)
for i in range(files):
    keep.append(os.dup(null))
print("ready", flush=True)
sys.stdin.read()
"""

FILES_PER_PROC = 18000
LINE = re.compile(r"socket owner walk: (\d+) sockets found, (\d+) owners recorded, (\d+) had "
                  r"one, (\d+) not recorded \(owner table full\), (\d+) not reached, (\d+) "
                  r"outside the cgroup root, (\d+) network namespaces \((\d+) not entered\), ([0-9.]+) ms")


def cgroup2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            dev, path, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return path
    raise RuntimeError("no cgroup2 mount")


def run_agent(binary, cgroup):
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "--cgroup-mode", "v2", "--cgroup-root", cgroup,
                          "--interval", "1", "--duration", "1"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    attached = None
    err = []
    for line in p.stderr:
        err.append(line)
        if attached is None and "attached to cgroup" in line:
            attached = time.monotonic() - t0
    p.wait()
    text = "".join(err)
    m = LINE.search(text)
    return m, attached, text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--baseline")
    ap.add_argument("--sockets", type=int, default=10000)
    ap.add_argument("--files", type=int, default=0)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    prefix = "fs%dow" % os.getpid()
    ns = prefix
    cg = os.path.join(cgroup2_mount(), "flowscope-bench-" + prefix)
    os.mkdir(cg)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    holders = []
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)

        def enter():
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write("0")
        with open("/proc/loadavg") as f:
            print("load average before:", f.read().split()[:3])
        agents = [("flowscope", a.agent)] + ([("baseline", a.baseline)] if a.baseline else [])
        res = {name: [] for name, _ in agents}
        for rep in range(a.reps):
            for h in holders:
                h.kill()
                h.wait()
            holders = []
            left = a.files
            while not holders or left > 0:
                files = min(left, FILES_PER_PROC if holders else FILES_PER_PROC - a.sockets)
                left -= files
                h = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", HOLDER,
                                      str(0 if holders else a.sockets), str(max(files, 0))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     preexec_fn=enter)
                holders.append(h)
                if h.stdout.readline().strip() != "ready":
                    raise RuntimeError("holder did not start")
            for name, binary in agents:
                m, attached, text = run_agent(binary, cg)
                if m:
                    ms = float(m.group(9))
                    print("%s rep %d: walk %.1f ms, found %s recorded %s had_owner %s "
                          "table_full %s not_reached %s outside %s netns %s (%s not entered); "
                          "attached after %.0f ms" % ((name, rep, ms) + m.groups()[:8]
                                                      + (attached * 1e3,)))
                    res[name].append((ms, attached * 1e3))
                elif attached is not None:
                    print("%s rep %d: no walk; attached after %.0f ms" % (name, rep,
                                                                          attached * 1e3))
                    res[name].append((None, attached * 1e3))
                else:
                    raise RuntimeError("%s failed: %s" % (name, text))
        for name, runs in res.items():
            walks = [w for w, _ in runs if w is not None]
            print("%s median: walk %s ms, attached after %.0f ms (%d runs)" % (
                name, "%.1f" % statistics.median(walks) if walks else "-",
                statistics.median(t for _, t in runs), len(runs)))
        with open("/proc/loadavg") as f:
            print("load average after:", f.read().split()[:3])
    finally:
        for h in holders:
            h.kill()
            h.wait()
        subprocess.run(["ip", "netns", "del", ns])
        for _ in range(50):
            try:
                os.rmdir(cg)
                break
            except OSError:
                time.sleep(0.1)


if __name__ == "__main__":
    main()
