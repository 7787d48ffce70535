#!/usr/bin/env python3
"""Issue 14: /healthz and /readyz on the metrics listener, against a real agent.

1. stdout sink: /readyz is never 200 before the programs are attached, is 503 ("first interval
   not exported yet") once attached, and 200 after the first export; /healthz is 200 throughout.
   A stopped agent (SIGSTOP) answers nothing: the probe times out, which is the failure a
   kubelet sees for a stuck loop.
2. Kafka (a real broker, tests/e2e/kafka_broker.py), 1 KiB buffer: ready while the broker is
   up; the broker stopped with traffic flowing fills the buffer: /readyz 503 naming Kafka; the
   broker started again: /readyz 200 again.
"""
import os
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402
import test_kafka  # noqa: E402


def probe(addr, path, timeout=2):
    """(status, body) of GET http://addr/path; (None, reason) when nothing answered."""
    try:
        with urllib.request.urlopen("http://%s%s" % (addr, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as e:
        return None, str(e)


def wait_status(test, agent, addr, path, status, timeout):
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        test.assertIsNone(agent.proc.poll(), "agent exited: " + agent.stderr())
        seen = probe(addr, path)
        if seen[0] == status:
            return seen[1]
        time.sleep(0.2)
    test.fail("%s not %d within %d s (last %r): %s" % (path, status, timeout, seen,
                                                         agent.stderr()))


class Probes(unittest.TestCase):
    def test_ready_after_attach_and_first_export(self):
        env = fslib.Env()
        self.addCleanup(env.close)
        addr = "127.0.0.1:%d" % fslib.free_tcp_port()
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "3",
                          "--metrics-addr", addr)
        before = []
        while "attached to cgroup" not in agent.stderr():
            self.assertIsNone(agent.proc.poll(), agent.stderr())
            before.append(probe(addr, "/readyz", timeout=0.5))
        self.assertNotIn(200, [s for s, _ in before], "ready before the programs were attached")
        t_attached = time.time()
        status, body = probe(addr, "/readyz")
        self.assertEqual((status, body), (503, "not ready: first interval not exported yet\n"))
        self.assertEqual(probe(addr, "/healthz"), (200, "ok\n"))
        body = wait_status(self, agent, addr, "/readyz", 200, 10)
        self.assertEqual(body, "ready\n")
        # the first export is one interval (3 s) after the attach
        self.assertGreater(time.time() - t_attached, 2.5)
        self.assertEqual(probe(addr, "/healthz"), (200, "ok\n"))

        # a stuck agent answers nothing: the probe's timeout is the failure
        agent.proc.send_signal(signal.SIGSTOP)
        try:
            status, why = probe(addr, "/healthz", timeout=2)
            self.assertIsNone(status, "a stopped agent answered /healthz")
        finally:
            agent.proc.send_signal(signal.SIGCONT)
        wait_status(self, agent, addr, "/healthz", 200, 10)
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())


class KafkaReadiness(unittest.TestCase):
    def test_not_ready_while_brokers_down_and_buffer_full(self):
        s = test_kafka.Setup(self)
        broker = s.broker()
        addr = "127.0.0.1:%d" % fslib.free_tcp_port()
        agent = s.agent("--interval", "1", "--kafka-brokers", broker.bootstrap,
                        "--kafka-buffer-bytes", "1024", "--kafka-flush-timeout", "5000",
                        "--metrics-addr", addr)
        agent.wait_attached()
        stop = threading.Event()
        traffic = s.background(stop, gap=0.05)
        try:
            wait_status(self, agent, addr, "/readyz", 200, 10)
            broker.stop()
            body = wait_status(self, agent, addr, "/readyz", 503, 20)
            self.assertTrue(body.startswith("not ready: kafka: no broker reachable and "), body)
            used = int(body.split(" and ", 1)[1].split()[0])
            self.assertGreater(used, 512, body)
            self.assertLessEqual(used, 1024, body)
            self.assertEqual(probe(addr, "/healthz"), (200, "ok\n"))
            broker.start()
            self.assertEqual(wait_status(self, agent, addr, "/readyz", 200, 30), "ready\n")
        finally:
            stop.set()
            traffic.join(30)
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())


if __name__ == "__main__":
    unittest.main(verbosity=2)
