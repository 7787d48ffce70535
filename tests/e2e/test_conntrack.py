#!/usr/bin/env python3
"""Issue 3 acceptance: flow records carry the backend behind a DNAT'd "Service" address.

The router namespace DNATs a VIP to the server (TCP 80 -> 8080, UDP 53 -> 5353, IPv4 and IPv6);
the agent reads the router's conntrack table through --conntrack-netns.
"""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402

VIP4, VIP6 = "203.0.113.10", "2001:db8:3::10"
BACKEND4, BACKEND6 = "198.51.100.2", "2001:db8:2::2"

NAT_RULESET = """
table inet fsnat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr %(v4)s tcp dport 80 dnat ip to %(b4)s:8080
        ip daddr %(v4)s udp dport 53 dnat ip to %(b4)s:5353
        ip6 daddr %(v6)s tcp dport 80 dnat ip6 to [%(b6)s]:8080
        ip6 daddr %(v6)s udp dport 53 dnat ip6 to [%(b6)s]:5353
    }
}
""" % {"v4": VIP4, "v6": VIP6, "b4": BACKEND4, "b6": BACKEND6}


class ConntrackNat(unittest.TestCase):
    def setUp(self):
        self.env = env = fslib.Env()
        self.addCleanup(env.close)
        env.routed_topology()
        # the VIPs are routed to the router, which translates them
        fslib.sh("ip", "-n", env.client_ns, "route", "add", VIP4 + "/32", "via", "192.0.2.1")
        fslib.sh("ip", "-n", env.client_ns, "-6", "route", "add", VIP6 + "/128", "via",
                 "2001:db8:1::1")
        env.nft(env.router_ns, NAT_RULESET)
        self.client_cg = env.cgroup("client")
        self.server_cg = env.cgroup("server")
        env.server("tcp-server", env.server_ns, "::", 8080, cgroup=self.server_cg)
        env.server("udp-echo", env.server_ns, "::", 5353, cgroup=self.server_cg)

    def conntrack_delete(self, proto, dst, dport):
        """Deletes the router's entries for this original destination; returns how many."""
        family = ["-f", "ipv6"] if ":" in dst else []
        out = fslib.sh("ip", "netns", "exec", self.env.router_ns, "conntrack", "-D", *family,
                       "-p", proto, "--orig-dst", dst, "--orig-port-dst", str(dport),
                       check=False)
        return sum(1 for line in out.splitlines() if line.strip())

    def test_nat_resolution(self):
        self.check_nat_resolution()

    def test_nat_resolution_beside_100k_unrelated_entries(self):
        """The initial sync reads a large table (only translated entries are kept) and the
        answers stay right."""
        fill = os.environ.get("CT_FILL")
        self.assertTrue(fill and os.access(fill, os.X_OK), "set CT_FILL (CTest does)")
        fslib.sh(fill, "/var/run/netns/" + self.env.router_ns, "100000")
        count = int(fslib.sh("ip", "netns", "exec", self.env.router_ns, "conntrack", "-C"))
        self.assertGreaterEqual(count, 100000)
        agent = self.check_nat_resolution()
        m = re.search(r"conntrack: initial sync done in (\d+) ms: (\d+) entries read, "
                      r"(\d+) translated kept", agent.stderr())
        self.assertIsNotNone(m, agent.stderr())
        self.assertGreaterEqual(int(m.group(2)), 100000)
        self.assertLess(int(m.group(3)), 100)
        self.assertLess(int(m.group(1)), 5000)

    def test_event_overrun_leads_to_a_resync(self):
        """A flood of conntrack events into a tiny socket buffer (ENOBUFS): the agent resyncs
        and still answers right, for flows before and after the flood."""
        fill = os.environ.get("CT_FILL")
        self.assertTrue(fill and os.access(fill, os.X_OK), "set CT_FILL (CTest does)")
        agent = self.check_nat_resolution(
            ["--conntrack-rcvbuf-bytes", "4096"],
            mid=lambda: fslib.sh(fill, "/var/run/netns/" + self.env.router_ns, "50000"))
        m = re.search(r"conntrack_cache_events_resync=(\d+) conntrack_cache_events_enobufs=(\d+)",
                      agent.stderr())
        self.assertIsNotNone(m, agent.stderr())
        self.assertGreaterEqual(int(m.group(2)), 1, agent.stderr())
        self.assertGreaterEqual(int(m.group(1)), 1, agent.stderr())

    def check_nat_resolution(self, extra_args=(), mid=None):
        env = self.env
        # one long interval: every flow below ends, and its conntrack entry is deleted for some,
        # before the interval is exported
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "6",
                          "--duration", "7", "--conntrack-netns",
                          "/var/run/netns/" + env.router_ns, *extra_args)
        agent.wait_attached()
        c = {}
        c["tcp4"] = env.client(["tcp-client", VIP4, "80", "--send", "1000", "--recv", "2000"],
                               env.client_ns, self.client_cg)
        c["udp4"] = env.client(["udp-client", VIP4, "53", "--count", "2", "--size", "64"],
                               env.client_ns, self.client_cg)
        if mid:
            mid()
        c["tcp6"] = env.client(["tcp-client", VIP6, "80", "--send", "1000", "--recv", "2000"],
                               env.client_ns, self.client_cg)
        c["udp6"] = env.client(["udp-client", VIP6, "53", "--count", "2", "--size", "64"],
                               env.client_ns, self.client_cg)
        c["direct"] = env.client(["tcp-client", BACKEND4, "8080", "--send", "10", "--recv",
                                  "10"], env.client_ns, self.client_cg)
        # acceptance 2: finished flows whose entries are gone still resolve at export
        time.sleep(0.5)
        self.assertGreaterEqual(self.conntrack_delete("tcp", VIP4, 80), 1)
        self.assertGreaterEqual(self.conntrack_delete("udp", VIP4, 53), 1)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        recs = [r for r in agent.records("flow") if r["cgroup_id"] == self.client_cg.id]

        def flow(name, proto, dst, dport):
            mine = [r for r in recs if r["proto"] == proto and r["dst_addr"] == dst
                    and r["dst_port"] == dport and r["src_port"] == c[name]["port"]]
            self.assertEqual(len(mine), 1, "%s: %s" % (name, recs))
            return mine[0]

        for name, proto, vip, backend, port, bport in (
                ("tcp4", "tcp", VIP4, BACKEND4, 80, 8080),
                ("udp4", "udp", VIP4, BACKEND4, 53, 5353),
                ("tcp6", "tcp", VIP6, BACKEND6, 80, 8080),
                ("udp6", "udp", VIP6, BACKEND6, 53, 5353)):
            with self.subTest(flow=name):
                r = flow(name, proto, vip, port)
                self.assertTrue(r["nat"], r)
                self.assertEqual((r["dst_actual_addr"], r["dst_actual_port"]), (backend, bport))
                # no source translation in this topology
                self.assertEqual((r["src_actual_addr"], r["src_actual_port"]),
                                 (r["src_addr"], r["src_port"]))
        r = flow("direct", "tcp", BACKEND4, 8080)
        self.assertFalse(r["nat"])
        self.assertEqual((r["dst_actual_addr"], r["dst_actual_port"]), (BACKEND4, 8080))
        self.assertEqual((r["src_actual_addr"], r["src_actual_port"]),
                         (r["src_addr"], r["src_port"]))
        self.assertIn("conntrack counters:", agent.stderr())
        return agent


if __name__ == "__main__":
    unittest.main(verbosity=2)
