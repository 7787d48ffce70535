#!/usr/bin/env python3
"""Issue 10: the agent prints tracer events as "event" records for a test cgroup: exec with its
exact argv (an empty argument included), exit codes, and TCP listen/accept/connect/connect_error
over loopback in a namespace of the test's own. Also: --events with an unknown name exits 2."""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402

TCP_SCRIPT = fslib.loopback_tcp_script(refused=True)


class TracerEvents(unittest.TestCase):
    def setUp(self):
        self.env = fslib.Env()

    def tearDown(self):
        self.env.close()

    def test_exec_exit_tcp_records(self):
        env = self.env
        cg = env.cgroup("tr")
        ns = env.add_netns("t")
        agent = env.agent("--events", "sched_process_exec,sched_process_exit,tcp_listen,"
                          "tcp_accept,tcp_connect,tcp_connect_error", "--no-conntrack",
                          "--interval", "1")
        agent.wait_attached()
        t0 = time.time_ns()
        echo = env.spawn(["/bin/echo", "a", "", "b c"], cgroup=cg)
        echo.communicate(timeout=30)
        sh = env.spawn(["/bin/sh", "-c", "exit 3"], cgroup=cg)
        sh.communicate(timeout=30)
        self.assertEqual(sh.returncode, 3)
        tcp = env.spawn(["ip", "netns", "exec", ns, sys.executable, "-c", TCP_SCRIPT], cgroup=cg)
        out, err = tcp.communicate(timeout=30)
        self.assertEqual(tcp.returncode, 0, err)
        res = __import__("json").loads(out)
        self.assertEqual(res["refused"], 111)
        time.sleep(1.0)
        agent.stop(signal.SIGINT)
        evs = [r for r in agent.records("event") if r["cgroup_id"] == cg.id]

        execs = [r for r in evs if r["event"] == "sched_process_exec" and r["pid"] == echo.pid]
        self.assertEqual(len(execs), 1, evs)
        e = execs[0]
        self.assertEqual(e["args"]["filename"], "/bin/echo")
        self.assertEqual(e["args"]["argv"], ["/bin/echo", "a", "", "b c"])
        self.assertFalse(e["args"]["argv_truncated"])
        self.assertEqual(e["comm"], "echo")
        self.assertEqual(e["ppid"], os.getpid())
        self.assertEqual(e["cgroup_path"], cg.path[len(fslib.cgroup2_mount()):])
        self.assertTrue(t0 - 5 * 10**9 < e["ts_ns"] < time.time_ns())
        for key in ("tid", "ns_pid", "uid", "gid"):
            self.assertIn(key, e)

        exits = {r["pid"]: r for r in evs if r["event"] == "sched_process_exit"
                 and r["args"]["group_dead"]}
        self.assertEqual(exits[echo.pid]["args"]["exit_code"], 0)
        self.assertEqual(exits[sh.pid]["args"]["exit_code"], 3)
        self.assertEqual(exits[sh.pid]["args"]["signal"], 0)

        pid = res["pid"]
        listen = [r for r in evs if r["event"] == "tcp_listen"]
        self.assertEqual(len(listen), 1, evs)
        self.assertEqual((listen[0]["pid"], listen[0]["args"]["src_port"]), (pid, 8080))
        conn = [r for r in evs if r["event"] == "tcp_connect"]
        self.assertEqual(len(conn), 1)
        a = conn[0]["args"]
        self.assertEqual(conn[0]["pid"], pid)
        self.assertEqual((a["ip_version"], a["src_addr"], a["src_port"], a["dst_addr"],
                          a["dst_port"]), (4, "127.0.0.1", res["client_port"], "127.0.0.1", 8080))
        acc = [r for r in evs if r["event"] == "tcp_accept"]
        self.assertEqual(len(acc), 1)
        self.assertEqual(acc[0]["pid"], pid)
        self.assertEqual((acc[0]["args"]["src_port"], acc[0]["args"]["dst_port"]),
                         (8080, res["client_port"]))
        cerr = [r for r in evs if r["event"] == "tcp_connect_error"]
        self.assertEqual(len(cerr), 1)
        self.assertEqual((cerr[0]["args"]["errno"], cerr[0]["args"]["dst_port"], cerr[0]["pid"]),
                         (111, 8081, pid))
        self.assertEqual(agent.counter("tracer_events_lost_sched_process_exec"), 0)
        self.assertNotIn("ring full", agent.stderr())

    def test_full_ring_is_warned(self):
        """A 4 KiB events ring under a burst of openat events: the records lost are counted
        and said in the log at most once per interval, naming the counter and the option. The
        agent is stopped (SIGSTOP) during the burst, so that the ring fills whatever the
        scheduling: on an idle machine the agent otherwise drains it as fast as Python opens."""
        env = self.env
        cg = env.cgroup("burst")
        agent = env.agent("--events", "openat", "--events-ringbuf-bytes", "4096",
                          "--no-conntrack", "--interval", "1", "--duration", "4")
        agent.wait_attached()
        agent.proc.send_signal(signal.SIGSTOP)
        try:
            burst = env.spawn([sys.executable, "-c", "import os\nfor i in range(50000):\n"
                               "    os.close(os.open('/dev/null', os.O_RDONLY))\n"], cgroup=cg)
            burst.communicate(timeout=60)
        finally:
            agent.proc.send_signal(signal.SIGCONT)
        self.assertEqual(burst.returncode, 0)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        lost = agent.counter("tracer_events_lost_openat")
        self.assertGreater(lost, 0, agent.stderr())
        warned = [int(m.group(1)) for m in re.finditer(
            r"warning: tracer events ring full: (\d+) records lost in the last 1 s "
            r"\(flowscope_tracer_events_lost_total\); raise --events-ringbuf-bytes "
            r"\(now 4096\)", agent.stderr())]
        self.assertGreater(len(warned), 0, agent.stderr())
        self.assertLessEqual(len(warned), 4, agent.stderr())
        self.assertLessEqual(sum(warned), lost)

    def test_unknown_event_exits_2(self):
        p = subprocess.run([fslib.agent_binary(), "--events", "sched_process_exec,nosuch"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("nosuch", p.stderr)


if __name__ == "__main__":
    unittest.main()
