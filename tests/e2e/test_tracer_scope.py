#!/usr/bin/env python3
"""Issue 11: with --cgroup-root PATH the tracer's events are those of tasks whose v2 cgroup is
PATH or below it (a cgroup made under it after the start included), as the flows are. The same
processes (exec + exit, a fatal signal, TCP over loopback in a namespace of the test's own) run
inside the subtree and in a sibling cgroup outside it: the inside ones give their exact events,
the outside ones none, and the records left out are counted (tracer_events_out_of_scope_*)."""
import json
import os
import signal
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402

TCP_SCRIPT = fslib.loopback_tcp_script()

EVENTS = "sched_process_exec,sched_process_exit,signal_generate,tcp_listen,tcp_accept,tcp_connect"


class TracerScope(unittest.TestCase):
    def setUp(self):
        self.env = fslib.Env()

    def tearDown(self):
        self.env.close()

    def run_set(self, cg, ns, tag):
        """exec+exit (exit 3, exact argv), a SIGTERM to a child, a TCP connect: their pids."""
        env = self.env
        echo = env.spawn(["/bin/echo", "scope", tag, ""], cgroup=cg)
        echo.communicate(timeout=30)
        ex = env.spawn(["/bin/sh", "-c", "exit 3"], cgroup=cg)
        ex.communicate(timeout=30)
        self.assertEqual(ex.returncode, 3)
        kill = env.spawn(["/bin/sh", "-c", "sleep 30 & kill -TERM $!; wait $!"], cgroup=cg)
        kill.communicate(timeout=30)
        self.assertEqual(kill.returncode, 128 + signal.SIGTERM)
        # sigqueue(3) through procps' kill -q: si_code SI_QUEUE, sent by the shell's child
        queue = env.spawn(["/bin/sh", "-c", "sleep 30 & /bin/kill -q 7 -s TERM $!; wait $!"],
                          cgroup=cg)
        queue.communicate(timeout=30)
        self.assertEqual(queue.returncode, 128 + signal.SIGTERM)
        tcp = env.spawn(["ip", "netns", "exec", ns, sys.executable, "-c", TCP_SCRIPT], cgroup=cg)
        out, err = tcp.communicate(timeout=30)
        self.assertEqual(tcp.returncode, 0, err)
        res = json.loads(out)
        return {"echo": echo.pid, "exit": ex.pid, "kill": kill.pid, "queue": queue.pid,
                "tcp": res["pid"],
                "client_port": res["client_port"]}

    def test_events_limited_to_cgroup_root(self):
        env = self.env
        scope = env.cgroup("in")
        outside = env.cgroup("out")
        ns = env.add_netns("s")
        agent = env.agent("--cgroup-root", scope.path, "--events", EVENTS, "--no-conntrack",
                          "--interval", "1")
        agent.wait_attached()
        # made after the start: below the scope, it is in it from its first event
        late = scope.child("late")
        env.cgroups.append(late)
        ins = self.run_set(late, ns, "in")
        outs = self.run_set(outside, ns, "out")
        time.sleep(1.0)
        agent.stop(signal.SIGINT)
        evs = agent.records("event")
        out_pids = {v for k, v in outs.items() if k != "client_port"}
        leaked = [r for r in evs if r["cgroup_id"] in (outside.id, env.cgroup_root.id)
                  or r["pid"] in out_pids]
        self.assertEqual(leaked, [])
        mine = [r for r in evs if r["cgroup_id"] == late.id]

        execs = [r for r in mine if r["event"] == "sched_process_exec" and r["pid"] == ins["echo"]]
        self.assertEqual(len(execs), 1, mine)
        self.assertEqual(execs[0]["args"]["argv"], ["/bin/echo", "scope", "in", ""])
        self.assertEqual(execs[0]["cgroup_path"], late.path[len(fslib.cgroup2_mount()):])
        exits = {r["pid"]: r["args"] for r in mine if r["event"] == "sched_process_exit"
                 and r["args"]["group_dead"]}
        self.assertEqual(exits[ins["echo"]]["exit_code"], 0)
        self.assertEqual(exits[ins["exit"]]["exit_code"], 3)
        self.assertEqual(exits[ins["kill"]]["exit_code"], 128 + signal.SIGTERM)
        sigs = [r for r in mine if r["event"] == "signal_generate" and r["pid"] == ins["kill"]]
        self.assertEqual(len(sigs), 1, mine)
        a = sigs[0]["args"]
        # the child may not have exec'd sleep yet: its comm is sh or sleep
        self.assertEqual(a["signal"], signal.SIGTERM)
        self.assertEqual(a["code"], 0)  # SI_USER: kill(2) from the shell
        queued = [r for r in mine if r["event"] == "signal_generate"
                  and r["ppid"] == ins["queue"]]
        self.assertEqual(len(queued), 1, mine)
        self.assertEqual(queued[0]["args"]["signal"], signal.SIGTERM)
        self.assertEqual(queued[0]["args"]["code"], -1)  # SI_QUEUE
        self.assertNotEqual(a["target_pid"], ins["kill"])
        self.assertEqual(exits[a["target_pid"]]["signal"], signal.SIGTERM)
        conn = [r for r in mine if r["event"] == "tcp_connect"]
        self.assertEqual(len(conn), 1, mine)
        self.assertEqual((conn[0]["pid"], conn[0]["args"]["src_port"]),
                         (ins["tcp"], ins["client_port"]))
        self.assertEqual(len([r for r in mine if r["event"] == "tcp_listen"]), 1)
        self.assertEqual(len([r for r in mine if r["event"] == "tcp_accept"]), 1)
        # the outside set's records were left out in the kernel, and counted
        for ev in ("sched_process_exec", "sched_process_exit", "signal_generate",
                   "tcp_connect"):
            self.assertGreater(agent.counter("tracer_events_out_of_scope_" + ev), 0, ev)

    def test_scope_and_cgroup_filter_together(self):
        """--cgroup-root and a policy's cgroup_path_prefix filter read the same kernel entry per
        cgroup: an exec below both is reported, one in the scope outside the filter's prefix
        is filtered (counted exactly), one outside the scope is left out before the filter."""
        env = self.env
        scope = env.cgroup("in")
        wanted = scope.child("a")
        env.cgroups.append(wanted)
        other = scope.child("b")
        env.cgroups.append(other)
        outside = env.cgroup("out")
        pol = os.path.join(env.tmp, "policy.yaml")
        with open(pol, "w") as f:
            f.write(textwrap.dedent("""\
                events:
                  - name: sched_process_exec
                    filters: {cgroup_path_prefix: %s}
                """ % wanted.path[len(fslib.cgroup2_mount()):]))
        agent = env.agent("--cgroup-root", scope.path, "--policy", pol, "--no-conntrack",
                          "--interval", "1")
        agent.wait_attached()
        pids = {}
        for cg, n in ((wanted, 2), (other, 3), (outside, 2)):
            for i in range(n):
                p = env.spawn(["/bin/true", "scope-filter", str(i)], cgroup=cg)
                p.communicate(timeout=30)
                self.assertEqual(p.returncode, 0)
                pids.setdefault(cg.id, []).append(p.pid)
        time.sleep(1.0)
        self.assertEqual(agent.stop(signal.SIGINT), 0, agent.stderr())
        execs = sorted((r["cgroup_id"], r["pid"]) for r in agent.records("event")
                       if r["event"] == "sched_process_exec")
        self.assertEqual(execs, sorted((wanted.id, pid) for pid in pids[wanted.id]))
        self.assertEqual(agent.counter("tracer_events_filtered_sched_process_exec"), 3)
        self.assertGreaterEqual(agent.counter("tracer_events_out_of_scope_sched_process_exec"), 2)


if __name__ == "__main__":
    unittest.main()
