#!/usr/bin/env python3
"""The stdout sink's two ends, on the real agent with traffic of the test's own.

1. `flowscope | head -1`: a reader that closes the pipe is the normal end of a Unix filter.
   head's line is one whole JSON record of the test's flow; the agent exits 0 with no line at
   warning or error level and exactly one info line saying that stdout was closed by its reader
   and how many flows, DNS records and events were not written, which are the exit counters'
   reader_closed drops (and every flow record exported is either written or one of them); its
   programs are detached from the cgroup.
   With --log-format json, that line's counts are JSON numbers.
2. `flowscope >/dev/full`: a write error (ENOSPC) is an error line and exit status 1.
"""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402

import json  # noqa: E402

PORT = 9000
LEVEL = re.compile(r"^flowscope: (error|warning|info|debug): ")
READER_LINE = re.compile(r"^flowscope: info: stdout was closed by its reader; records not "
                         r"written: flows=(\d+) dns=(\d+) events=(\d+)$")


class Stdout(unittest.TestCase):
    def setUp(self):
        self.env = fslib.Env()
        self.addCleanup(self.env.close)
        self.ns = self.env.add_netns("n")
        self.sender = self.env.cgroup("send")
        self.env.server("udp-sink", self.ns, "127.0.0.1", PORT)
        self.err_path = os.path.join(self.env.tmp, "agent.err")

    def agent_args(self):
        return [fslib.agent_binary(), "--cgroup-mode", "v2", "--cgroup-root",
                self.env.cgroup_root.path, "--interval", "1", "--events", "none",
                "--duration", "60"]

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_attached(self, proc):
        deadline = time.time() + 30
        while "attached to cgroup" not in self.stderr():
            self.assertIsNone(proc.poll(), self.stderr())
            self.assertLess(time.time(), deadline, self.stderr())
            time.sleep(0.05)

    def traffic(self):
        # one datagram every 2 ms for up to 40 s: flows in every interval, the last one too
        return self.env.spawn([sys.executable, fslib.PEERS, "udp-client", "127.0.0.1",
                               str(PORT), "--no-reply", "--count", "20000", "--gap", "0.002"],
                              cgroup=self.sender, ns=self.ns)

    def counters(self, text):
        out = {}
        for line in text.splitlines():
            if "counters:" in line:
                for kv in line.split("counters:", 1)[1].split():
                    k, v = kv.split("=", 1)
                    out[k] = int(v)
        return out

    def run_under_head(self, *extra):
        """The agent's stdout into `head -1`; returns head's output and the agent's status."""
        with open(self.err_path, "w") as err:
            agent = subprocess.Popen(self.agent_args() + list(extra), stdout=subprocess.PIPE,
                                     stderr=err)
        self.env.procs.append(agent)
        head = subprocess.Popen(["head", "-1"], stdin=agent.stdout, stdout=subprocess.PIPE)
        self.env.procs.append(head)
        agent.stdout.close()  # head is the only reader, as in a shell pipeline
        self.wait_attached(agent)
        self.traffic()
        first, _ = head.communicate(timeout=30)
        return first, agent.wait(timeout=30)

    def test_head_closes_the_pipe(self):
        first, rc = self.run_under_head()
        stderr = self.stderr()

        # head's line: one whole record, of the test's flow
        self.assertTrue(first.endswith(b"\n"), first)
        self.assertEqual(first.count(b"\n"), 1, first)
        rec = json.loads(first)
        self.assertEqual(rec["type"], "flow", rec)
        self.assertEqual(rec["cgroup_id"], self.sender.id, rec)
        self.assertEqual(rec["dst_port"], PORT, rec)

        self.assertEqual(rc, 0, stderr)
        lines = stderr.splitlines()
        for line in lines:
            self.assertRegex(line, LEVEL)
        self.assertEqual([line for line in lines if not line.startswith("flowscope: info: ")
                          and not line.startswith("flowscope: debug: ")], [], stderr)
        # the lines about the cause (the exit counters are checked below)
        about = [line for line in lines if "counters:" not in line
                 and re.search(r"closed|not written|deliver|stdout:|write", line)]
        self.assertEqual(len(about), 1, stderr)
        m = READER_LINE.match(about[0])
        self.assertIsNotNone(m, about[0])
        flows, dns, events = (int(g) for g in m.groups())

        # the line's counts are the exit counters' reader_closed drops; nothing else dropped
        c = self.counters(stderr)
        self.assertEqual(c["sink_records_dropped_stdout_flow_reader_closed"], flows)
        self.assertEqual(c["sink_records_dropped_stdout_dns_reader_closed"], dns)
        self.assertEqual(c["sink_records_dropped_stdout_event_reader_closed"], events)
        for reason in ("write_error", "encode_error", "buffer_full"):
            self.assertEqual(c["sink_records_dropped_stdout_" + reason], 0, reason)
        self.assertEqual((dns, events), (0, 0))  # no DNS traffic, --events none
        # every flow record exported was written to the pipe or is one of those counted
        self.assertEqual(c["flow_records"], c["sink_records_stdout"] + flows, c)
        self.assertGreaterEqual(c["sink_records_stdout"], 1)

        # detached: no program left on the cgroup
        out = fslib.sh("bpftool", "-j", "cgroup", "show", self.env.cgroup_root.path)
        self.assertIn(out.strip(), ("", "[]"), out)

    def test_head_closes_the_pipe_json_log(self):
        """The same line with --log-format json: its counts are JSON numbers."""
        first, rc = self.run_under_head("--log-format", "json")
        stderr = self.stderr()
        self.assertEqual(json.loads(first)["type"], "flow", first)
        self.assertEqual(rc, 0, stderr)
        objs = [json.loads(line) for line in stderr.splitlines()]
        self.assertEqual([o for o in objs if o["level"] not in ("info", "debug")], [], stderr)
        about = [o for o in objs if "closed" in o["msg"]]
        self.assertEqual(len(about), 1, stderr)
        self.assertEqual(about[0]["msg"], "stdout was closed by its reader; records not written:")
        fields = about[0]["fields"]
        self.assertEqual(sorted(fields), ["dns", "events", "flows"])
        for v in fields.values():
            self.assertIs(type(v), int, fields)
        (sink,) = [o["fields"] for o in objs if o["msg"] == "stdout counters:"]
        self.assertEqual(sink["sink_records_dropped_stdout_flow_reader_closed"], fields["flows"])

    def test_write_error_dev_full(self):
        with open(self.err_path, "w") as err, open("/dev/full", "w") as full:
            agent = subprocess.Popen(self.agent_args(), stdout=full, stderr=err)
        self.env.procs.append(agent)
        self.wait_attached(agent)
        self.traffic()
        rc = agent.wait(timeout=30)
        stderr = self.stderr()
        self.assertEqual(rc, 1, stderr)
        errors = [line for line in stderr.splitlines() if line.startswith("flowscope: error: ")]
        self.assertEqual(errors, ["flowscope: error: stdout: write failed: No space left on "
                                  "device; records cannot be written, stopping"], stderr)
        self.assertNotIn("closed by its reader", stderr)
        c = self.counters(stderr)
        self.assertGreaterEqual(c["sink_records_dropped_stdout_write_error"], 1)
        self.assertEqual(c["sink_records_stdout"], 0)
        self.assertEqual(c["sink_records_dropped_stdout_flow_reader_closed"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
