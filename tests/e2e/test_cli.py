#!/usr/bin/env python3
"""Issue 2: runtime prerequisites give a clear error naming what is missing, exit code 1.

Missing BTF and a missing cgroup v2 hierarchy are simulated in a private mount namespace
(unshare -m), so the host is never touched; missing privileges by dropping to nobody.
"""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402


def run(cmd, timeout=30):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


class RuntimeErrors(unittest.TestCase):
    def setUp(self):
        self.agent = fslib.agent_binary()

    def test_missing_btf(self):
        # an empty tmpfs over /sys/kernel/btf, in a mount namespace of our own
        p = run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                 'mount -t tmpfs none /sys/kernel/btf && exec "$0" --duration 1', self.agent])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("missing kernel BTF", p.stderr)
        self.assertIn("/sys/kernel/btf/vmlinux", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_no_cgroup_v2(self):
        mnt = fslib.cgroup2_mount()
        p = run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                 'umount -l "$1" && exec "$0" --duration 1', self.agent, mnt])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("no cgroup v2 hierarchy", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_missing_privileges(self):
        p = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", self.agent, "--duration", "1"])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("missing privileges", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_bad_cgroup_root(self):
        p = run([self.agent, "--cgroup-root", "/nonexistent/flowscope-test", "--duration", "1"])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("--cgroup-root /nonexistent/flowscope-test", p.stderr)

    def test_cgroup_root_not_v2(self):
        # a cgroup v1 directory (or the tmpfs above the hierarchies on a hybrid host) is not a
        # place the cgroup_skb programs can attach: say so, and where the v2 hierarchy is
        v2 = next(l.split()[1] for l in open("/proc/mounts") if l.split()[2] == "cgroup2")
        p = run([self.agent, "--cgroup-root", "/proc", "--duration", "1"])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("not a directory of the cgroup v2 hierarchy", p.stderr)
        self.assertIn("mounted at " + v2, p.stderr)

    def test_bad_conntrack_netns(self):
        p = run([self.agent, "--conntrack-netns", "/nonexistent/netns", "--duration", "1"])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("/nonexistent/netns", p.stderr)

    def test_stops_when_stdout_reader_goes(self):
        # like `flowscope | head`: once nobody reads the records, the agent exits by itself
        env = fslib.Env()
        self.addCleanup(env.close)
        p = subprocess.Popen([self.agent, "--cgroup-root", env.cgroup_root.path, "--interval",
                              "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        err = ""
        while "attached to cgroup" not in err and time.time() < deadline:
            err += p.stderr.readline()
        p.stdout.close()
        try:
            rc = p.wait(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
        err += p.stderr.read()
        p.stderr.close()
        self.assertEqual(rc, 0, err)
        self.assertIn("stdout was closed by its reader", err)

    def test_usage_errors_exit_2(self):
        for args, name in ((["--interval", "0"], "--interval"),
                           (["--max-flows", "lots"], "--max-flows"),
                           (["--kafka-format", "xml"], "--kafka-format"),
                           (["--dns-ports", "53,99999"], "--dns-ports"),
                           (["--kafka-brokers", "host:notaport"], "host:notaport"),
                           (["--kafka-brokers", "127.0.0.1:9092", "--kafka-option",
                             "no.such.property=1"], "no.such.property"),
                           (["--no-such-option"], "--no-such-option")):
            with self.subTest(args=args):
                p = run([self.agent] + args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(name, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_kafka_setup_error_exits_before_running(self):
        """A Kafka error found only when the sink is made (librdkafka refuses the producer, the
        Schema Registry cannot be reached) ends the agent before it says it runs: stderr is the
        cgroup mode line, the start-up socket owner walk's line (the flow programs are attached
        before the sink is made) and the error, exactly, and the exit code says whose fault it
        is."""
        mode = ("flowscope: info: cgroup mode v2 (--cgroup-mode v2): flows are attributed to "
                "cgroup v2 groups under " + fslib.cgroup2_mount())
        port = fslib.free_tcp_port()  # nothing listens there
        brokers = ["--kafka-brokers", "127.0.0.1:%d" % port]
        cases = (
            # an option librdkafka accepts alone but not with the sink's idempotent producer
            (brokers + ["--kafka-option", "acks=1"], 2,
             r"flowscope: error: kafka producer: `acks` must be set to `all` when "
             r"`enable\.idempotence` is true"),
            (brokers + ["--kafka-format", "protobuf-sr", "--kafka-schema-registry",
                        "http://127.0.0.1:%d" % port, "--kafka-schema-registry-timeout", "1000"],
             1,
             r"flowscope: error: schema registry http://127\.0\.0\.1:%d: registering subject "
             r"flowscope\.flows-value: Failed to connect to 127\.0\.0\.1 port %d after \d+ ms: "
             r"Couldn't connect to server \(timeout 1000 ms\)" % (port, port)),
        )
        for args, code, error in cases:
            with self.subTest(args=args):
                p = run([self.agent, "--cgroup-mode", "v2", "--no-conntrack", "--duration", "5"]
                        + args)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertEqual(p.stdout, "")
                lines = p.stderr.splitlines()
                self.assertEqual(len(lines), 3, p.stderr)
                self.assertEqual(lines[0], mode)
                self.assertRegex(lines[1], r"^flowscope: info: socket owner walk: \d+ sockets "
                                 r"found, \d+ owners recorded, .* [0-9.]+ ms$")
                self.assertRegex(lines[2], "^" + error + "$")


if __name__ == "__main__":
    unittest.main(verbosity=2)
