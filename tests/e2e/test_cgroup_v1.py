#!/usr/bin/env python3
"""Issue 12 acceptance 5: --cgroup-mode v1 on a hybrid host.

Two clients in two v1 memory cgroups that the test creates (and, to keep the agent's view to the
test's own processes, in one v2 group under the test's subtree, which --cgroup-root names) get
two different cgroup_id/cgroup_path values, with cgroup_version 1, and their bytes and packets
match nftables counters in the router exactly. The servers' sockets exist before the agent
starts: their owner comes from the agent's start-up walk of open sockets, so they are counted
under the server process's v1 memory cgroup with its pid too (test_owner_walk.py has more).
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402

PORT_A = 8080
PORT_B = 8081
UDP_PORT = 5353
CLOSED_PORT = 9  # nothing listens there: the server's kernel refuses with an RST

RULESET = """
table inet fs {
    counter a_up {}
    counter a_down {}
    counter b_up {}
    counter b_down {}
    counter bu_up {}
    counter bu_down {}
    chain forward_count {
        type filter hook forward priority 0; policy accept;
        ip saddr 192.0.2.2 ip daddr 198.51.100.2 tcp dport %(a)d counter name a_up
        ip saddr 198.51.100.2 ip daddr 192.0.2.2 tcp sport %(a)d counter name a_down
        ip6 saddr 2001:db8:1::2 ip6 daddr 2001:db8:2::2 tcp dport %(b)d counter name b_up
        ip6 saddr 2001:db8:2::2 ip6 daddr 2001:db8:1::2 tcp sport %(b)d counter name b_down
        ip saddr 192.0.2.2 ip daddr 198.51.100.2 udp dport %(u)d counter name bu_up
        ip saddr 198.51.100.2 ip daddr 192.0.2.2 udp sport %(u)d counter name bu_down
    }
}
""" % {"a": PORT_A, "b": PORT_B, "u": UDP_PORT}


class CgroupV1Mode(unittest.TestCase):
    def setUp(self):
        self.env = env = fslib.Env()
        self.addCleanup(env.close)
        env.routed_topology()
        env.nft(env.router_ns, RULESET)
        v1 = fslib.cgroup_v1_memory_mount()
        self.v1_root = fslib.Cgroup(os.path.join(v1, "flowscope-test-" + env.prefix))
        env.cgroups.append(self.v1_root)
        v2_clients = env.cgroup("clients")
        self.cg_a = fslib.Cgroup(os.path.join(self.v1_root.path, "a"), also=[v2_clients])
        self.cg_b = fslib.Cgroup(os.path.join(self.v1_root.path, "b"), also=[v2_clients])
        env.cgroups += [self.cg_a, self.cg_b]
        self.server_cg = env.cgroup("server")
        self.server_pids = {}
        for kind, port in (("tcp-server", PORT_A), ("tcp-server", PORT_B),
                           ("udp-echo", UDP_PORT)):
            self.server_pids[port] = env.server(kind, env.server_ns, "::", port,
                                                cgroup=self.server_cg)["pid"]

    def test_two_v1_groups_match_nftables(self):
        env = self.env
        agent = env.agent("--cgroup-mode", "auto", "--cgroup-root", env.cgroup_root.path,
                          "--interval", "1", "--duration", "5")
        agent.wait_attached()
        a = env.client(["tcp-client", "198.51.100.2", str(PORT_A), "--send", "90000",
                        "--recv", "20000"], env.client_ns, self.cg_a)
        b = env.client(["tcp-client", "2001:db8:2::2", str(PORT_B), "--send", "30000",
                        "--recv", "60000"], env.client_ns, self.cg_b)
        bu = env.client(["udp-client", "198.51.100.2", str(UDP_PORT), "--count", "6",
                         "--size", "700"], env.client_ns, self.cg_b)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assertIn("cgroup mode v1 (auto)", agent.stderr())
        truth = env.nft_counters(env.router_ns)
        recs = agent.records("flow")
        print("nftables ground truth (packets, bytes):", truth, file=sys.stderr)
        self.assertNotEqual(self.cg_a.id, self.cg_b.id)

        rel = "/flowscope-test-%s/" % env.prefix
        cases = (("a", self.cg_a, a, "tcp", PORT_A), ("b", self.cg_b, b, "tcp", PORT_B),
                 ("bu", self.cg_b, bu, "udp", UDP_PORT))
        for name, cg, info, proto, port in cases:
            with self.subTest(client=name):
                mine = [r for r in recs if r["proto"] == proto and r["dst_port"] == port
                        and r["src_port"] == info["port"]]
                self.assertTrue(mine, "no records for client %s: %s" % (name, agent.stderr()))
                for r in mine:
                    self.assertEqual(r["cgroup_id"], cg.id)
                    self.assertEqual(r["cgroup_version"], 1)
                    self.assertEqual(r["cgroup_path"], rel + os.path.basename(cg.path))
                    self.assertEqual(r["pid"], info["pid"])
                    self.assertEqual(r["initiator"], "src")
                up_p, up_b = truth[name + "_up"]
                down_p, down_b = truth[name + "_down"]
                self.assertGreater(up_p, 0)
                self.assertEqual(fslib.sum_fields(mine, "tx_bytes", "tx_packets"), (up_b, up_p))
                self.assertEqual(fslib.sum_fields(mine, "rx_bytes", "rx_packets"),
                                 (down_b, down_p))

        # the servers' sockets predate the agent: the start-up walk recorded their owners, so
        # the server processes' v1 memory cgroup (the one they inherited) and pids
        server_v1 = {fslib.v1_memory_group(pid) for pid in self.server_pids.values()}
        self.assertEqual(len(server_v1), 1)
        server_v1_id, server_v1_path = server_v1.pop()
        server_side = [r for r in recs if r["src_port"] in (PORT_A, PORT_B, UDP_PORT)]
        self.assertTrue(server_side)
        for r in server_side:
            self.assertEqual(r["cgroup_version"], 1, r)
            self.assertEqual(r["cgroup_id"], server_v1_id, r)
            self.assertEqual(r["cgroup_path"], server_v1_path)
            self.assertEqual((r["pid"], r["comm"]), (self.server_pids[r["src_port"]], "python3"))
        srv_a = [r for r in server_side if r["src_port"] == PORT_A]
        self.assertEqual(fslib.sum_fields(srv_a, "rx_bytes", "rx_packets"),
                         (truth["a_up"][1], truth["a_up"][0]))
        # nothing of the test's own traffic is attributed anywhere else
        for r in recs:
            self.assertIn((r["cgroup_version"], r["cgroup_id"]),
                          {(1, self.cg_a.id), (1, self.cg_b.id), (1, server_v1_id),
                           (2, env.cgroup_root.id)}, r)

    def test_accepted_sockets_take_the_listeners_v1_group(self):
        """A server started after the agent in a v1 group of its own: its accepted sockets'
        packets (which no sock_create saw) are counted under the listener's v1 group with its
        pid, in every interval, and match nftables exactly, v4 (on an AF_INET6 listener) and v6."""
        env = self.env
        port = PORT_A + 10
        env.nft(env.router_ns, """
table inet fsacc {
    counter v4_up {}
    counter v4_down {}
    counter v6_up {}
    counter v6_down {}
    chain forward_count {
        type filter hook forward priority 0; policy accept;
        ip saddr 192.0.2.2 ip daddr 198.51.100.2 tcp dport %(p)d counter name v4_up
        ip saddr 198.51.100.2 ip daddr 192.0.2.2 tcp sport %(p)d counter name v4_down
        ip6 saddr 2001:db8:1::2 ip6 daddr 2001:db8:2::2 tcp dport %(p)d counter name v6_up
        ip6 saddr 2001:db8:2::2 ip6 daddr 2001:db8:1::2 tcp sport %(p)d counter name v6_down
    }
}
""" % {"p": port})
        srv_cg = fslib.Cgroup(os.path.join(self.v1_root.path, "srv"), also=[self.server_cg])
        env.cgroups.append(srv_cg)
        agent = env.agent("--cgroup-mode", "v1", "--cgroup-root", env.cgroup_root.path,
                          "--interval", "1", "--duration", "6")
        agent.wait_attached()
        server = env.server("tcp-server", env.server_ns, "::", port, cgroup=srv_cg)
        clients = {v: env.client(["tcp-client", addr, str(port), "--send", "40000", "--recv",
                                  "30000", "--bursts", "3", "--gap", "1.2"], env.client_ns,
                                 self.cg_a)
                   for v, addr in ((4, "198.51.100.2"), (6, "2001:db8:2::2"))}
        self.assertEqual(agent.stop(), 0, agent.stderr())
        truth = env.nft_counters(env.router_ns, table="fsacc")
        recs = agent.records("flow")
        for v, info in clients.items():
            with self.subTest(ip_version=v):
                served = [r for r in recs if r["proto"] == "tcp" and r["ip_version"] == v
                          and r["src_port"] == port and r["dst_port"] == info["port"]]
                self.assertGreaterEqual(len(served), 3, "one record per active interval")
                for r in served:
                    self.assertEqual((r["cgroup_version"], r["cgroup_id"]), (1, srv_cg.id), r)
                    self.assertEqual((r["pid"], r["comm"]), (server["pid"], "python3"), r)
                up_p, up_b = truth["v%d_up" % v]
                down_p, down_b = truth["v%d_down" % v]
                self.assertGreater(up_p, 0)
                self.assertEqual(fslib.sum_fields(served, "rx_bytes", "rx_packets"),
                                 (up_b, up_p))
                self.assertEqual(fslib.sum_fields(served, "tx_bytes", "tx_packets"),
                                 (down_b, down_p))

    def test_owner_outlives_tcp_close(self):
        """The kernel sets TCP_CLOSE before an abortive close (SO_LINGER 0) sends its RST, and a
        socket whose connect() was refused goes CLOSE, then SYN_SENT again: every packet of
        both connections, the RST too, is counted under the client's v1 group with its pid
        (the owner record lives until the socket is destroyed), exact against nftables."""
        env = self.env
        agent = env.agent("--cgroup-mode", "v1", "--cgroup-root", env.cgroup_root.path,
                          "--interval", "1", "--duration", "4")
        agent.wait_attached()
        info = env.client(["tcp-client", "198.51.100.2", str(PORT_A), "--send", "5000",
                           "--recv", "3000", "--refused-first", str(CLOSED_PORT), "--abort"],
                          env.client_ns, self.cg_a)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        truth = env.nft_counters(env.router_ns)
        recs = agent.records("flow")
        refused = [r for r in recs if r["proto"] == "tcp" and r["dst_port"] == CLOSED_PORT
                   and r["src_port"] == info["refused_port"]]
        served = [r for r in recs if r["proto"] == "tcp" and r["dst_port"] == PORT_A
                  and r["src_port"] == info["port"]]
        self.assertTrue(refused, agent.stderr())
        self.assertTrue(served, agent.stderr())
        for r in refused + served:
            self.assertEqual((r["cgroup_version"], r["cgroup_id"], r["pid"]),
                             (1, self.cg_a.id, info["pid"]), r)
        self.assertIn("RST", {f for r in served for f in r["tcp_flags"]})
        self.assertEqual(fslib.sum_fields(served, "tx_bytes", "tx_packets"),
                         tuple(reversed(truth["a_up"])))
        self.assertEqual(fslib.sum_fields(served, "rx_bytes", "rx_packets"),
                         tuple(reversed(truth["a_down"])))

    def test_v2_mode_still_sees_the_v2_group(self):
        """--cgroup-mode v2 on the same host: the clients' v2 group, as before."""
        env = self.env
        agent = env.agent("--cgroup-mode", "v2", "--cgroup-root", env.cgroup_root.path,
                          "--interval", "1", "--duration", "3")
        agent.wait_attached()
        info = env.client(["udp-client", "198.51.100.2", str(UDP_PORT), "--count", "3",
                           "--size", "100"], env.client_ns, self.cg_a)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assertIn("cgroup mode v2 (--cgroup-mode v2)", agent.stderr())
        mine = [r for r in agent.records("flow") if r["src_port"] == info["port"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["cgroup_version"], 2)
        self.assertEqual(mine[0]["cgroup_id"], self.cg_a.also[0].id)
        self.assertEqual(mine[0]["cgroup_path"], "/flowscope-test-%s/clients" % env.prefix)


if __name__ == "__main__":
    unittest.main(verbosity=2)
