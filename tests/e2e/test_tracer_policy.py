#!/usr/bin/env python3
"""Issue 10, the policy's kernel side: filters run in the kernel before the rate limit, the
cgroup_path_prefix filter as cgroup ids, and env with its own bound. Each test in cgroups and a
network namespace of its own; every figure asserted is the kernel's own count of what the test's
processes did."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402

# One listener and two processes in one cgroup: "fsflood" connects every few ms for the whole
# run; "fswanted" connects SPACED times, each after the bucket refilled, then BURST times at once.
FLOOD_SCRIPT = r"""
import ctypes, json, os, socket, sys, threading, time
SPACED, BURST, GAP = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
def rename(name):
    libc.prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME: the comm filters test this
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 8080)); l.listen(512)
def accept():
    while True:
        a, _ = l.accept(); a.close()
threading.Thread(target=accept, daemon=True).start()
def connect():
    s = socket.create_connection(("127.0.0.1", 8080)); s.close()
r, w = os.pipe()
flood = os.fork()
if flood == 0:
    rename("fsflood")
    n = 0
    while True:
        connect(); n += 1
        time.sleep(0.003)
        if os.path.exists(sys.argv[4]):
            break
    os.write(w, n.to_bytes(4, "little"))
    os._exit(0)
rename("fswanted")
time.sleep(0.2)  # the flood is running
for i in range(SPACED):
    connect()
    time.sleep(GAP)
for i in range(BURST):
    connect()
open(sys.argv[4], "w").close()
n = int.from_bytes(os.read(r, 4), "little")
os.waitpid(flood, 0)
print(json.dumps({"pid": os.getpid(), "flood_pid": flood, "flood": n}))
"""

# A listener and one connect over loopback, in the caller's network namespace.
CONNECT_SCRIPT = r"""
import json, os, socket
l = socket.socket(); l.bind(("127.0.0.1", 8080)); l.listen(4)
c = socket.create_connection(("127.0.0.1", 8080)); a, _ = l.accept()
c.close(); a.close(); l.close()
print(json.dumps({"pid": os.getpid()}))
"""


class TracerPolicy(unittest.TestCase):
    def setUp(self):
        self.env = fslib.Env()
        self.addCleanup(self.env.close)

    def policy(self, text):
        path = os.path.join(self.env.tmp, "policy.yaml")
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        return path

    def rel(self, cg):
        return cg.path[len(fslib.cgroup2_mount()):]

    def test_filtered_flood_spends_no_token(self):
        """tcp_connect at 2/s, burst 1, for comm fswanted in the test's cgroup only: a flood of
        connects by fsflood in the same cgroup and the same seconds suppresses nothing. The
        wanted process connects 3 times 0.7 s apart (each after the bucket refilled: 3 events),
        then 10 times at once (1 event, 9 suppressed)."""
        env = self.env
        cg = env.cgroup("flood")
        ns = env.add_netns("f")
        pol = self.policy("""\
            events:
              - name: tcp_connect
                rate_limit: {per_second: 2, burst: 1}
                filters: {comm: [fswanted], cgroup_path_prefix: %s}
            """ % self.rel(cg))
        agent = env.agent("--policy", pol, "--no-conntrack", "--interval", "1")
        agent.wait_attached()
        stop = os.path.join(env.tmp, "stop")
        p = env.spawn(["ip", "netns", "exec", ns, sys.executable, "-c", FLOOD_SCRIPT, "3",
                       "10", "0.7", stop], cgroup=cg)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        res = json.loads(out)
        self.assertGreater(res["flood"], 100, "the flood was not a flood")
        self.assertEqual(agent.stop(signal.SIGINT), 0, agent.stderr())

        evs = [r for r in agent.records("event") if r["event"] == "tcp_connect"]
        self.assertEqual([r["comm"] for r in evs], ["fswanted"] * 4, evs)
        self.assertEqual({r["pid"] for r in evs}, {res["pid"]})
        self.assertEqual({r["cgroup_id"] for r in evs}, {cg.id})
        # exact: only the wanted process's burst was held back by the bucket
        self.assertEqual(agent.counter("tracer_events_suppressed_tcp_connect"), 9)
        self.assertEqual(agent.counter("tracer_events_lost_tcp_connect"), 0)
        # the flood was filtered in the kernel (other processes on the machine may add more)
        self.assertGreaterEqual(agent.counter("tracer_events_filtered_tcp_connect"),
                                res["flood"])

    def test_cgroup_path_prefix_as_ids(self):
        """sched_process_exec for the cgroups below one prefix: a cgroup under it made before the
        agent (found by the walk), one made while it runs (added in the kernel at its mkdir) and
        a cgroup next to it (filtered out)."""
        env = self.env
        top = env.cgroup("pfx")
        before = top.child("before")
        env.cgroups.append(before)
        out = env.cgroup("pfx2")  # a string prefix, not a path prefix: not below /pfx
        pol = self.policy("""\
            events:
              - name: sched_process_exec
                filters: {cgroup_path_prefix: %s}
            """ % self.rel(top))
        agent = env.agent("--policy", pol, "--no-conntrack", "--interval", "1")
        agent.wait_attached()
        late = top.child("late")
        env.cgroups.append(late)
        deep = late.child("deep")
        env.cgroups.append(deep)
        pids = {}
        for cg in (top, before, late, deep, out):
            p = env.spawn(["/bin/true", os.path.basename(cg.path)], cgroup=cg)
            p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0)
            pids[cg.id] = p.pid
        self.assertEqual(agent.stop(signal.SIGINT), 0, agent.stderr())
        evs = [r for r in agent.records("event") if r["event"] == "sched_process_exec"
               and r["pid"] in pids.values()]
        got = sorted((r["cgroup_id"], r["pid"], r["args"]["argv"][1]) for r in evs)
        want = sorted((cg.id, pids[cg.id], os.path.basename(cg.path))
                      for cg in (top, before, late, deep))
        self.assertEqual(got, want, agent.stderr())
        for r in evs:
            self.assertTrue(r["cgroup_path"].startswith(self.rel(top)), r)
        self.assertGreaterEqual(agent.counter("tracer_events_filtered_sched_process_exec"), 1)
        # the kernel's set: the four cgroups at and below the prefix, each once
        self.assertEqual(agent.counter("tracer_cgroup_filter_ids"), 4)
        self.assertEqual(agent.counter("tracer_cgroup_filter_errors"), 0)

    def test_env_own_bound(self):
        """argv_max_bytes 64 and env_max_bytes 1024: each list is cut at its own bound and says
        so, and an env under 1024 bytes (but over argv's 64) is whole; a failed exec's env (from
        its envp) has the same bound."""
        env = self.env
        cg = env.cgroup("env")
        pol = self.policy("""\
            events:
              - name: sched_process_exec
                env: true
                argv_max_bytes: 64
                env_max_bytes: 1024
                filters: {cgroup_path_prefix: %s}
              - name: sched_process_exec_failed
                env: true
                env_max_bytes: 1024
                filters: {cgroup_path_prefix: %s}
            """ % (self.rel(cg), self.rel(cg)))
        agent = env.agent("--policy", pol, "--no-conntrack", "--interval", "1")
        agent.wait_attached()
        big = {"FS_A": "a" * 100, "FS_B": "b" * 3000}
        small = {"FS_C": "c" * 300}
        runs = []
        for e in (big, small):
            p = subprocess.Popen(["/bin/true", "x" * 200], env=e, preexec_fn=cg.enter_fn())
            p.wait(timeout=30)
            runs.append(p.pid)
        missing = "/nonexistent-%s/x" % env.prefix
        with self.assertRaises(FileNotFoundError):
            subprocess.Popen([missing, "y"], env=big, preexec_fn=cg.enter_fn())
        self.assertEqual(agent.stop(signal.SIGINT), 0, agent.stderr())
        evs = {r["pid"]: r["args"] for r in agent.records("event")
               if r["event"] == "sched_process_exec"}
        failed = [r["args"] for r in agent.records("event")
                  if r["event"] == "sched_process_exec_failed" and r["cgroup_id"] == cg.id]
        self.assertEqual(len(failed), 1, failed)
        f = failed[0]
        self.assertEqual((f["filename"], f["argv"], f["argv_truncated"], f["errno"]),
                         (missing, [missing, "y"], False, 2))
        # a failed exec's env comes from the caller's envp, under the same bound
        self.assertEqual(f["env"], ["FS_A=" + "a" * 100, ("FS_B=" + "b" * 3000)[:918]])
        self.assertTrue(f["env_truncated"])
        a = evs[runs[0]]
        # argv: "/bin/true\0" (10 bytes) + the first 54 bytes of the argument
        self.assertEqual(a["argv"], ["/bin/true", "x" * 54])
        self.assertTrue(a["argv_truncated"])
        # env: "FS_A=a..a\0" (106 bytes) + the first 918 bytes of "FS_B=b..b"
        self.assertEqual(a["env"], ["FS_A=" + "a" * 100, ("FS_B=" + "b" * 3000)[:918]])
        self.assertTrue(a["env_truncated"])
        b = evs[runs[1]]
        self.assertEqual(b["env"], ["FS_C=" + "c" * 300])
        self.assertFalse(b["env_truncated"])
        self.assertTrue(b["argv_truncated"])

    def test_cgroup_mode_v1(self):
        """--cgroup-mode v1 on a hybrid host: two processes in two v1 memory cgroups that share
        one v2 group. Their events name the v1 group (cgroup_version 1, its id and path), for a
        TCP event through the socket's creator too, and a cgroup_path_prefix on the v1 path
        tells them apart, which the shared v2 group could not."""
        env = self.env
        v1 = fslib.cgroup_v1_memory_mount()
        root = fslib.Cgroup(os.path.join(v1, "flowscope-test-" + env.prefix))
        env.cgroups.append(root)
        shared_v2 = env.cgroup("shared")
        cg_a = fslib.Cgroup(os.path.join(root.path, "a"), also=[shared_v2])
        cg_b = fslib.Cgroup(os.path.join(root.path, "b"), also=[shared_v2])
        env.cgroups += [cg_a, cg_b]
        rel_a = cg_a.path[len(v1):]
        ns = env.add_netns("v")
        pol = self.policy("""\
            events:
              - name: sched_process_exec
                filters: {cgroup_path_prefix: %s}
              - name: tcp_connect
                filters: {cgroup_path_prefix: %s}
            """ % (rel_a, rel_a))
        agent = env.agent("--cgroup-mode", "v1", "--cgroup-root", env.cgroup_root.path,
                          "--policy", pol, "--no-conntrack", "--interval", "1")
        agent.wait_attached()
        pids = {}
        for cg in (cg_a, cg_b):
            p = env.spawn(["ip", "netns", "exec", ns, sys.executable, "-c", CONNECT_SCRIPT],
                          cgroup=cg)
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, err)
            pids[cg.id] = json.loads(out)["pid"]
        self.assertEqual(agent.stop(signal.SIGINT), 0, agent.stderr())
        self.assertIn("cgroup mode v1 (--cgroup-mode v1)", agent.stderr())
        evs = agent.records("event")
        for name in ("sched_process_exec", "tcp_connect"):
            with self.subTest(event=name):
                mine = [r for r in evs if r["event"] == name and r["comm"] != "ip"]
                self.assertEqual(len(mine), 1, mine)
                r = mine[0]
                self.assertEqual((r["pid"], r["cgroup_version"], r["cgroup_id"],
                                  r["cgroup_path"]), (pids[cg_a.id], 1, cg_a.id, rel_a))
        # b's events were filtered in the kernel by its v1 path (its v2 group is a's)
        self.assertGreaterEqual(agent.counter("tracer_events_filtered_tcp_connect"), 1)
        self.assertFalse([r for r in evs if r["pid"] == pids[cg_b.id]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
