#!/usr/bin/env python3
"""Issue 2 acceptance: per-cgroup flow records from real traffic match nftables ground truth.

client namespace -> router namespace (nftables counters in the forward chain) -> server
namespace; the client runs in its own cgroup, the servers in another, the agent attaches to the
test's cgroup subtree only.
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402

TCP_PORT = 8080
UDP_PORT = 5353

# One counter per direction, protocol and IP version, for the client <-> server flows only.
RULESET = """
table inet fs {
    counter tcp4_up {}
    counter tcp4_down {}
    counter udp4_up {}
    counter udp4_down {}
    counter tcp6_up {}
    counter tcp6_down {}
    counter udp6_up {}
    counter udp6_down {}
    chain forward_count {
        type filter hook forward priority 0; policy accept;
        ip saddr 192.0.2.2 ip daddr 198.51.100.2 tcp dport %(tcp)d counter name tcp4_up
        ip saddr 198.51.100.2 ip daddr 192.0.2.2 tcp sport %(tcp)d counter name tcp4_down
        ip saddr 192.0.2.2 ip daddr 198.51.100.2 udp dport %(udp)d counter name udp4_up
        ip saddr 198.51.100.2 ip daddr 192.0.2.2 udp sport %(udp)d counter name udp4_down
        ip6 saddr 2001:db8:1::2 ip6 daddr 2001:db8:2::2 tcp dport %(tcp)d counter name tcp6_up
        ip6 saddr 2001:db8:2::2 ip6 daddr 2001:db8:1::2 tcp sport %(tcp)d counter name tcp6_down
        ip6 saddr 2001:db8:1::2 ip6 daddr 2001:db8:2::2 udp dport %(udp)d counter name udp6_up
        ip6 saddr 2001:db8:2::2 ip6 daddr 2001:db8:1::2 udp sport %(udp)d counter name udp6_down
    }
}
""" % {"tcp": TCP_PORT, "udp": UDP_PORT}


class FlowRecords(unittest.TestCase):
    def setUp(self):
        self.env = fslib.Env()
        self.addCleanup(self.env.close)
        self.env.routed_topology()
        self.env.nft(self.env.router_ns, RULESET)
        self.client_cg = self.env.cgroup("client")
        self.server_cg = self.env.cgroup("server")
        for kind, port in (("tcp-server", TCP_PORT), ("udp-echo", UDP_PORT)):
            self.env.server(kind, self.env.server_ns, "::", port, cgroup=self.server_cg)

    def flows_of(self, recs, cg, proto, version, server_port):
        return [r for r in recs if r["cgroup_id"] == cg.id and r["proto"] == proto
                and r["ip_version"] == version and r["dst_port"] == server_port]

    def test_records_match_nftables_counters(self):
        env = self.env
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "1",
                          "--duration", "9")
        agent.wait_attached()
        clients = {}
        # TCP v4 spans three intervals: three bursts 1.3 s apart (acceptance 3)
        clients[("tcp", 4)] = env.client(
            ["tcp-client", "198.51.100.2", str(TCP_PORT), "--send", "100000", "--recv",
             "30000", "--bursts", "3", "--gap", "1.3"], env.client_ns, self.client_cg)
        clients[("udp", 4)] = env.client(
            ["udp-client", "198.51.100.2", str(UDP_PORT), "--count", "7", "--size", "300"],
            env.client_ns, self.client_cg)
        clients[("tcp", 6)] = env.client(
            ["tcp-client", "2001:db8:2::2", str(TCP_PORT), "--send", "70000", "--recv",
             "120000"], env.client_ns, self.client_cg)
        clients[("udp", 6)] = env.client(
            ["udp-client", "2001:db8:2::2", str(UDP_PORT), "--count", "5", "--size", "1200"],
            env.client_ns, self.client_cg)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        truth = env.nft_counters(env.router_ns)
        recs = agent.records("flow")
        self.assertTrue(recs, "no flow records: " + agent.stderr())
        print("nftables ground truth (packets, bytes):", truth, file=sys.stderr)

        for (proto, version), info in clients.items():
            port = TCP_PORT if proto == "tcp" else UDP_PORT
            name = "%s%d" % (proto, version)
            with self.subTest(flow=name):
                mine = self.flows_of(recs, self.client_cg, proto, version, port)
                self.assertTrue(mine, "no records for the client's %s flow" % name)
                # one flow: the client's socket, seen from the client's side
                self.assertEqual({(r["src_port"], r["dst_addr"]) for r in mine},
                                 {(info["port"], "198.51.100.2" if version == 4
                                   else "2001:db8:2::2")})
                up_p, up_b = truth[name + "_up"]
                down_p, down_b = truth[name + "_down"]
                self.assertGreater(up_p, 0)
                self.assertEqual(fslib.sum_fields(mine, "tx_bytes", "tx_packets"), (up_b, up_p))
                self.assertEqual(fslib.sum_fields(mine, "rx_bytes", "rx_packets"),
                                 (down_b, down_p))
                for r in mine:
                    self.assertEqual(r["pid"], info["pid"])
                    self.assertEqual(r["comm"], "python3")
                    self.assertEqual(r["initiator"], "src")
                    self.assertEqual(r["cgroup_path"], "/flowscope-test-%s/client" % env.prefix)
                    self.assertLessEqual(r["start_ns"], r["end_ns"])
                    self.assertEqual(r["src_addr"], "192.0.2.2" if version == 4
                                     else "2001:db8:1::2")
                if proto == "tcp":
                    self.assertIn("SYN", mine[0]["tcp_flags"])

        # acceptance 3: the three-burst flow yields per-interval deltas
        tcp4 = self.flows_of(recs, self.client_cg, "tcp", 4, TCP_PORT)
        self.assertGreaterEqual(len(tcp4), 3, "expected one record per active interval")
        starts = [r["start_ns"] for r in tcp4]
        self.assertEqual(starts, sorted(starts))
        for r in tcp4:
            self.assertGreater(r["tx_bytes"], 0)

        # acceptance 2: the servers' side is attributed to the server cgroup, never to the
        # client's, and nothing that has a cgroup carries cgroup id 0
        server_side = [r for r in recs if r["cgroup_id"] == self.server_cg.id]
        self.assertTrue(server_side, "no records for the server cgroup")
        client_pids = {c["pid"] for c in clients.values()}
        for r in recs:
            self.assertNotEqual(r["cgroup_id"], 0)
            self.assertIn(r["cgroup_id"], (self.client_cg.id, self.server_cg.id, env.cgroup_root.id))
            if r["cgroup_id"] == self.server_cg.id:
                self.assertNotIn(r["pid"], client_pids)
                self.assertIn(r["src_port"], (TCP_PORT, UDP_PORT))
        server_tcp4 = [r for r in server_side if r["proto"] == "tcp" and r["ip_version"] == 4]
        self.assertEqual(fslib.sum_fields(server_tcp4, "rx_bytes", "rx_packets"),
                         (truth["tcp4_up"][1], truth["tcp4_up"][0]))
        for r in server_tcp4:
            self.assertEqual(r["initiator"], "dst")

    def test_accepted_sockets_carry_the_listeners_owner(self):
        """A server started after the agent: the flows of its accepted sockets (which
        cgroup/sock_create never sees) carry the listener's pid and comm in every interval, the
        client's flows the client's."""
        env = self.env
        port = TCP_PORT + 1
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "1",
                          "--duration", "7")
        agent.wait_attached()
        server = env.server("tcp-server", env.server_ns, "::", port, cgroup=self.server_cg)
        clients = [env.client(["tcp-client", addr, str(port), "--send", "50000", "--recv",
                               "20000", "--bursts", "3", "--gap", "1.3"], env.client_ns,
                              self.client_cg) for addr in ("198.51.100.2", "2001:db8:2::2")]
        self.assertEqual(agent.stop(), 0, agent.stderr())
        recs = agent.records("flow")
        for version, info in zip((4, 6), clients):
            with self.subTest(ip_version=version):
                served = [r for r in recs if r["cgroup_id"] == self.server_cg.id
                          and r["proto"] == "tcp" and r["ip_version"] == version
                          and r["src_port"] == port and r["dst_port"] == info["port"]]
                self.assertGreaterEqual(len(served), 3, "one record per active interval")
                for r in served:
                    self.assertEqual((r["pid"], r["comm"]), (server["pid"], "python3"), r)
                    self.assertEqual(r["initiator"], "dst")
                mine = self.flows_of(recs, self.client_cg, "tcp", version, port)
                self.assertGreaterEqual(len(mine), 3)
                for r in mine:
                    self.assertEqual((r["pid"], r["comm"]), (info["pid"], "python3"), r)

    def test_sigterm_exports_the_last_interval(self):
        env = self.env
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "60")
        agent.wait_attached()
        info = env.client(["udp-client", "198.51.100.2", str(UDP_PORT), "--count", "3",
                           "--size", "100"], env.client_ns, self.client_cg)
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
        truth = env.nft_counters(env.router_ns)
        mine = self.flows_of(agent.records("flow"), self.client_cg, "udp", 4, UDP_PORT)
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["src_port"], info["port"])
        self.assertEqual((mine[0]["tx_bytes"], mine[0]["tx_packets"]),
                         (truth["udp4_up"][1], truth["udp4_up"][0]))
        self.assertEqual((mine[0]["rx_bytes"], mine[0]["rx_packets"]),
                         (truth["udp4_down"][1], truth["udp4_down"][0]))

    def test_flow_map_overflow_is_counted(self):
        env = self.env
        metrics = "127.0.0.1:%d" % fslib.free_tcp_port()
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "1",
                          "--duration", "4", "--max-flows", "16", "--metrics-addr", metrics)
        agent.wait_attached()
        spray = env.client(["udp-spray", "198.51.100.2", "9", "--count", "60", "--size", "10"],
                           env.client_ns, self.client_cg)
        scraped = fslib.scrape(metrics)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        truth_packets = 60
        mine = [r for r in agent.records("flow") if r["cgroup_id"] == self.client_cg.id
                and r["proto"] == "udp" and r["dst_port"] == 9]
        accounted = sum(r["tx_packets"] for r in mine)
        dropped = agent.counter("packets_not_accounted_flow_map_full")
        self.assertGreater(dropped, 0)
        self.assertLessEqual(len({r["src_port"] for r in mine}), 16 * 4)
        # every packet is either in a record or counted as dropped (the client's cgroup is the
        # only one sending on port 9; ICMP errors do not enter the map)
        self.assertEqual(accounted + dropped, truth_packets)
        self.assertEqual(agent.counter("bytes_not_accounted_flow_map_full"), dropped * (20 + 8 + 10))
        self.assertIn("flow map full", agent.stderr())
        # the same drop count is exported as a metric while the agent runs
        self.assertEqual(scraped[("flowscope_packets_not_accounted_total",
                                  'reason="flow_map_full"')], dropped)
        self.assertEqual(scraped[("flowscope_bytes_not_accounted_total",
                                  'reason="flow_map_full"')], dropped * (20 + 8 + 10))
        self.assertTrue(set(r["src_port"] for r in mine) <= set(spray["ports"]))

    def test_agent_in_a_pid_namespace_excludes_its_own_traffic(self):
        """In a container the agent's getpid() is not the tgid the kernel records for its
        sockets; its own connections (here: /metrics) must still be left out."""
        env = self.env
        port = fslib.free_tcp_port()
        err_path = os.path.join(env.tmp, "pidns.err")
        with open(os.path.join(env.tmp, "pidns.out"), "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount-proc", fslib.agent_binary(),
                 "--cgroup-mode", "v2", "--cgroup-root", fslib.cgroup2_mount(), "--interval", "1", "--duration", "3",
                 "--metrics-addr", "127.0.0.1:%d" % port], stdout=out, stderr=err)
            env.procs.append(proc)
            deadline = time.time() + 30
            while "attached to cgroup" not in open(err_path).read():
                self.assertIsNone(proc.poll(), open(err_path).read())
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
            before = fslib.scrape("127.0.0.1:%d" % port)
            after = fslib.scrape("127.0.0.1:%d" % port)
            self.assertEqual(proc.wait(timeout=30), 0, open(err_path).read())
        own = ("flowscope_packets_not_accounted_total", 'reason="agent_own"')
        # the first scrape's packets were seen as the agent's by the time of the second
        self.assertGreater(after[own], before[own])
        with open(os.path.join(env.tmp, "pidns.out")) as f:
            recs = [r for r in map(json.loads, f) if r["type"] == "flow"]
        self.assertTrue(recs)
        # the agent's side of the /metrics connections (the test's side is python3's, and
        # legitimately recorded)
        self.assertEqual([r for r in recs if r["src_port"] == port and r["proto"] == "tcp"], [])
        self.assertTrue([r for r in recs if r["dst_port"] == port and r["comm"] == "python3"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
