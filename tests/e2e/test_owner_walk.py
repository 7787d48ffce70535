#!/usr/bin/env python3
"""Owners of sockets opened before the agent (issue 11): the start-up walk of open sockets.

A client process in a cgroup of the test's own opens a TCP connection, a connected UDP socket
and an unbound UDP socket, and forks a child that holds them, before the agent starts; the
servers' sockets (a listener, its accepted connection, a UDP echo socket) are older than the
agent too. Once the
agent has attached, the client uses its sockets: the records of both sides must carry the exact
pid and comm of the process holding the socket (the parent, not its child: the lowest pid wins)
and the cgroup id of its cgroup (its v1 memory cgroup under --cgroup-mode v1), their counts must
equal the router's nftables counters, and the walk's counters must show the five sockets
recorded, the child's three as already owned, and the client's unbound UDP socket (in no socket
table) as not reached. Without the walk every one of them has pid 0.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402

TCP_PORT = 8080
UDP_PORT = 7007

RULESET = """
table inet fs {
    counter t_up {}
    counter t_down {}
    counter u_up {}
    counter u_down {}
    chain forward_count {
        type filter hook forward priority 0; policy accept;
        ip saddr 192.0.2.2 ip daddr 198.51.100.2 tcp dport %(t)d counter name t_up
        ip saddr 198.51.100.2 ip daddr 192.0.2.2 tcp sport %(t)d counter name t_down
        ip saddr 192.0.2.2 ip daddr 198.51.100.2 udp dport %(u)d counter name u_up
        ip saddr 198.51.100.2 ip daddr 192.0.2.2 udp sport %(u)d counter name u_down
    }
}
""" % {"t": TCP_PORT, "u": UDP_PORT}


class OwnerWalk(unittest.TestCase):
    def setUp(self):
        self.env = env = fslib.Env()
        self.addCleanup(env.close)
        env.routed_topology()
        env.nft(env.router_ns, RULESET)

    def start_loopback_udp(self):
        """A UDP echo server and a held client on loopback, each in a cgroup of its own, both
        older than the agent: (client cgroup, server cgroup, server, port); self.info is the
        client's report."""
        env = self.env
        client_cg, server_cg = env.cgroup("old"), env.cgroup("server")
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server = env.server("udp-echo", None, "127.0.0.1", port, cgroup=server_cg)
        self.client = subprocess.Popen(
            [sys.executable, fslib.PEERS, "held-client", "127.0.0.1", "0", str(port),
             "--count", "3", "--send", "1200"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=client_cg.enter_fn())
        env.procs.append(self.client)
        self.info = json.loads(self.client.stdout.readline())
        return client_cg, server_cg, server, port

    def test_agents_own_namespace(self):
        """Sockets in the agent's own network namespace (a hostNetwork pod's case): the second
        pass creates its iterators without entering a namespace. A UDP client and echo server
        on loopback, both older than the agent: exact pid, comm, cgroup and counts (three
        1200-byte datagrams each way: IPv4 + UDP headers 28 bytes)."""
        env = self.env
        client_cg, server_cg, server, port = self.start_loopback_udp()
        agent = env.agent("--cgroup-mode", "v2", "--cgroup-root", env.cgroup_root.path,
                          "--interval", "1", "--duration", "4")
        agent.wait_attached()
        self.client.stdin.write("x")
        self.client.stdin.flush()
        out, err = self.client.communicate(timeout=30)
        self.assertEqual(self.client.returncode, 0, err)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        recs = agent.records("flow")
        for name, sport, dport, pid, cg in (
                ("client", self.info["udp_port"], port, self.info["pid"], client_cg),
                ("server", port, self.info["udp_port"], server["pid"], server_cg)):
            with self.subTest(side=name):
                mine = [r for r in recs if r["proto"] == "udp" and r["src_port"] == sport
                        and r["dst_port"] == dport and r["src_addr"] == "127.0.0.1"]
                self.assertTrue(mine, agent.stderr())
                for r in mine:
                    self.assertEqual((r["pid"], r["comm"]), (pid, "python3"), r)
                    self.assertEqual((r["cgroup_version"], r["cgroup_id"]), (2, cg.id), r)
                self.assertEqual(fslib.sum_fields(mine, "tx_bytes", "tx_packets"),
                                 (3 * 1228, 3))
                self.assertEqual(fslib.sum_fields(mine, "rx_bytes", "rx_packets"),
                                 (3 * 1228, 3))
        self.assertEqual(agent.counter("socket_owner_walk_sockets_recorded"), 2)
        self.assertEqual(agent.counter("socket_owner_walk_sockets_not_reached"), 0)
        self.assertEqual(agent.counter("socket_owner_walk_incomplete_netns_not_entered"), 0)

    def test_own_pid_namespace(self):
        """The agent in a PID namespace of its own (a pod without hostPID): the walks see only
        that namespace's processes, so the sockets older than the agent keep pid 0; the agent
        says why in a warning and counts it (incomplete_pid_namespace), rather than reporting a
        walk that found nothing as complete. The same UDP client and echo server as above."""
        env = self.env
        port = self.start_loopback_udp()[3]
        agent = env.agent("--cgroup-mode", "v2", "--cgroup-root", env.cgroup_root.path,
                          "--events", "tcp_accept", "--interval", "1", "--duration", "4",
                          wrap=("unshare", "--pid", "--fork", "--mount-proc"))
        agent.wait_attached()
        self.client.stdin.write("x")
        self.client.stdin.flush()
        out, err = self.client.communicate(timeout=30)
        self.assertEqual(self.client.returncode, 0, err)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        err = agent.stderr()
        self.assertIn("flowscope: warning: socket owner walk: the agent is not in the node's PID "
                      "namespace (on Kubernetes: hostPID), so it sees its own processes only: "
                      "sockets opened before the agent keep pid 0\n", err)
        self.assertIn("flowscope: info: tracer: socket owner walk: not in the initial PID "
                      "namespace", err)
        self.assertEqual(agent.counter("socket_owner_walk_incomplete_pid_namespace"), 1, err)
        self.assertEqual(agent.counter("socket_owner_walk_sockets_recorded"), 0, err)
        mine = [r for r in agent.records("flow") if r["proto"] == "udp"
                and r["src_port"] == self.info["udp_port"] and r["dst_port"] == port]
        self.assertTrue(mine, err)
        for r in mine:
            self.assertEqual(r["pid"], 0, r)

    def start_old_sockets(self, client_cg):
        env = self.env
        self.server_cg = env.cgroup("server")
        self.tcp_server = env.server("tcp-server", env.server_ns, "0.0.0.0", TCP_PORT,
                                     cgroup=self.server_cg)
        self.udp_server = env.server("udp-echo", env.server_ns, "0.0.0.0", UDP_PORT,
                                     cgroup=self.server_cg)
        self.client = subprocess.Popen(
            ["ip", "netns", "exec", env.client_ns, sys.executable, fslib.PEERS, "held-client",
             "198.51.100.2", str(TCP_PORT), str(UDP_PORT), "--count", "3", "--send", "1200",
             "--recv", "3000", "--fork", "--unbound"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=client_cg.enter_fn())
        env.procs.append(self.client)
        line = self.client.stdout.readline()
        if not line:
            raise RuntimeError("held-client did not start: " + self.client.stderr.read())
        self.info = json.loads(line)

    def run_agent(self, mode, wrap=()):
        env = self.env
        agent = env.agent("--cgroup-mode", mode, "--cgroup-root", env.cgroup_root.path,
                          "--interval", "1", "--duration", "4", wrap=wrap)
        agent.wait_attached()
        # the handshake predates the agent: count from here on
        env.ns(env.router_ns, "nft", "reset", "counters", "table", "inet", "fs")
        self.client.stdin.write("xx")  # one byte for the client, one for its child
        self.client.stdin.flush()
        out, err = self.client.communicate(timeout=30)
        self.assertEqual(self.client.returncode, 0, err)
        self.assertIn('"done": true', out)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        return agent

    def check(self, agent, client_group, server_group):
        env = self.env
        truth = env.nft_counters(env.router_ns)
        recs = agent.records("flow")
        err = agent.stderr()
        print("nftables ground truth (packets, bytes):", truth, file=sys.stderr)
        info = self.info
        cases = (
            ("client tcp", "tcp", info["tcp_port"], TCP_PORT, info["pid"], client_group,
             "tx", "t_up", "rx", "t_down"),
            ("client udp", "udp", info["udp_port"], UDP_PORT, info["pid"], client_group,
             "tx", "u_up", "rx", "u_down"),
            ("server tcp", "tcp", TCP_PORT, info["tcp_port"], self.tcp_server["pid"],
             server_group, "rx", "t_up", "tx", "t_down"),
            ("server udp", "udp", UDP_PORT, info["udp_port"], self.udp_server["pid"],
             server_group, "rx", "u_up", "tx", "u_down"),
        )
        for name, proto, sport, dport, pid, group, d_up, up, d_down, down in cases:
            with self.subTest(side=name):
                mine = [r for r in recs if r["proto"] == proto and r["src_port"] == sport
                        and r["dst_port"] == dport]
                self.assertTrue(mine, "no records for %s: %s" % (name, err))
                for r in mine:
                    self.assertEqual((r["pid"], r["comm"]), (pid, "python3"), r)
                    self.assertEqual((r["cgroup_version"], r["cgroup_id"]), group, r)
                self.assertGreater(truth[up][0], 0)
                self.assertEqual(fslib.sum_fields(mine, d_up + "_bytes", d_up + "_packets"),
                                 tuple(reversed(truth[up])))
                self.assertEqual(fslib.sum_fields(mine, d_down + "_bytes", d_down + "_packets"),
                                 tuple(reversed(truth[down])))
        # client: TCP and UDP; servers: listener, accepted connection, UDP socket
        self.assertEqual(agent.counter("socket_owner_walk_sockets_recorded"), 5, err)
        # the client's child holds the same three sockets
        self.assertEqual(agent.counter("socket_owner_walk_sockets_had_owner"), 3, err)
        # the client's unbound UDP socket is in neither the TCP nor the UDP table
        self.assertEqual(agent.counter("socket_owner_walk_sockets_not_reached"), 1, err)
        self.assertEqual(agent.counter("socket_owner_walk_sockets_table_full"), 0, err)
        for k in ("unavailable", "error", "time_bound", "netns_not_entered", "pid_namespace"):
            self.assertEqual(agent.counter("socket_owner_walk_incomplete_" + k), 0, err)
        found = agent.counter("socket_owner_walk_sockets_found")
        self.assertEqual(found, 9 + agent.counter("socket_owner_walk_sockets_outside_cgroup_root"))
        self.assertRegex(err, r"socket owner walk: %d sockets found, 5 owners recorded, 3 had "
                         r"one, 0 not recorded \(owner table full\), 1 not reached, \d+ outside "
                         r"the cgroup root, second pass in \d+ network namespaces \(0 not entered\), "
                         r"[0-9.]+ ms" % found)

    def test_v2_owner_and_cgroup(self):
        client_cg = self.env.cgroup("old")
        self.start_old_sockets(client_cg)
        agent = self.run_agent("v2")
        self.check(agent, (2, client_cg.id), (2, self.server_cg.id))

    def test_without_cap_sys_admin(self):
        """Without CAP_SYS_ADMIN (dropped from the bounding set) neither walk can enter the
        client's and the servers' network namespaces: each says so in a warning naming the
        capability, and counts the namespaces, rather than leaving the pid 0 unexplained."""
        client_cg = self.env.cgroup("old")
        self.start_old_sockets(client_cg)
        agent = self.run_agent("v2", wrap=("setpriv", "--bounding-set", "-sys_admin"))
        err = agent.stderr()
        need = r" network namespaces not entered \(Operation not permitted: setns\(\) needs " \
            r"CAP_SYS_ADMIN\): "
        m = re.search(r"flowscope: warning: socket owner walk: (\d+)" + need + r"their sockets "
                      r"opened before the agent that had no cookie keep pid 0\n", err)
        self.assertTrue(m, err)
        self.assertGreaterEqual(int(m.group(1)), 2, err)
        self.assertEqual(agent.counter("socket_owner_walk_incomplete_netns_not_entered"),
                         int(m.group(1)), err)
        m = re.search(r"flowscope: warning: tracer: socket owner walk: (\d+)" + need + r"TCP "
                      r"events of their sockets opened before the tracer name no process\n", err)
        self.assertTrue(m, err)
        self.assertGreaterEqual(int(m.group(1)), 2, err)
        self.assertEqual(agent.counter("tracer_socket_owner_walk_netns_not_entered"),
                         int(m.group(1)), err)

    def test_v1_owner_and_memory_cgroup(self):
        """--cgroup-mode v1: the walk's owner record names the holder's v1 memory cgroup, which
        the flows are keyed by, as for a socket sock_create saw."""
        env = self.env
        v1 = fslib.Cgroup(os.path.join(fslib.cgroup_v1_memory_mount(),
                                       "flowscope-test-" + env.prefix))
        env.cgroups.append(v1)
        v2_old = env.cgroup("old")
        client_cg = fslib.Cgroup(os.path.join(v1.path, "old"), also=[v2_old])
        env.cgroups.append(client_cg)
        self.start_old_sockets(client_cg)
        server_v1 = fslib.v1_memory_group(self.tcp_server["pid"])[0]
        self.assertEqual(server_v1, fslib.v1_memory_group(self.udp_server["pid"])[0])
        agent = self.run_agent("v1")
        self.check(agent, (1, client_cg.id), (1, server_v1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
