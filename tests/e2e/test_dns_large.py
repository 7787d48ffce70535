#!/usr/bin/env python3
"""Issue 9 section 2: DNS answers over UDP larger than one capture piece (1536 bytes) are parsed
whole, and a message cut by a small --dns-capture-max-bytes is reported truncated and counted.

A small DNS server (this file, run as `serve`) answers in the server namespace over UDP, IPv4 and
IPv6, ignoring the client's EDNS(0) size: a 3 KiB answer, a 12 KiB one and a 37 KiB one. The
larger ones cross the veth links in IP fragments and reach the client's cgroup_skb ingress
reassembled. dig runs in the client's cgroup with EDNS(0) buffers of 4096, 16384 and 65535
bytes; its own output is the ground truth.
"""
import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402
from test_dns import dig_answers  # noqa: E402

DNS = "198.51.100.2"
DNS6 = "2001:db8:2::2"
WEB = "198.51.100.10"
TTL = 300
# qname -> (TXT RRs, strings per RR, bytes per string): ~3, ~12 and ~37 KiB answers, each ending
# with an A record, so that the last answer is only right when the whole message was read
ZONE = {
    "big3k.example.test": (11, 1, 250),
    "big12k.example.test": (24, 2, 250),
    "big37k.example.test": (30, 5, 250),
}
MIN_SIZE = {"big3k.example.test": 2900, "big12k.example.test": 12000,
            "big37k.example.test": 37000}


def answer(query):
    """The response to a DNS query (RFC 1035 §4.1), or None for anything else."""
    if len(query) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    off, labels = 12, []
    while off < len(query) and query[off] != 0:
        n = query[off]
        labels.append(query[off + 1:off + 1 + n].decode("ascii", "replace").lower())
        off += 1 + n
    question = query[12:off + 5]
    spec = ZONE.get(".".join(labels))
    rrs = []
    if spec:
        count, strings, size = spec
        for i in range(count):
            rdata = b"".join(bytes([size]) + (b"%03d" % i + b"t" * (size - 3))
                             for _ in range(strings))
            rrs.append(struct.pack("!HHHIH", 0xC00C, 16, 1, TTL, len(rdata)) + rdata)
        rrs.append(struct.pack("!HHHIH", 0xC00C, 1, 1, TTL, 4) + socket.inet_aton(WEB))
    rcode = 0 if spec else 3
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, len(rrs), 0, 0)
    return hdr + question + b"".join(rrs)


def serve(bind, port):
    s = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((bind, port))
    print('{"ready": true}', flush=True)
    while True:
        q, peer = s.recvfrom(65535)
        a = answer(q)
        if a:
            s.sendto(a, peer)


class LargeUdpAnswers(unittest.TestCase):
    def setUp(self):
        self.env = env = fslib.Env()
        self.addCleanup(env.close)
        env.routed_topology()
        self.client_cg = env.cgroup("client")
        # ground truth for "spans IP fragments": fragments forwarded to the client
        env.nft(env.router_ns, """
table inet fs {
    counter frag4 {}
    counter frag6 {}
    chain forward_frags {
        type filter hook forward priority 0; policy accept;
        ip saddr %s ip frag-off & 0x3fff != 0 counter name frag4
        ip6 saddr %s exthdr frag exists counter name frag6
    }
}
""" % (DNS, DNS6))
        # outside the watched subtree: only the client's packets are captured
        for server in (DNS, DNS6):
            p = env.spawn([sys.executable, os.path.abspath(__file__), "serve", server, "53"],
                          ns=env.server_ns)
            if not p.stdout.readline():
                raise RuntimeError("dns server did not start: " + p.stderr.read())
            # up once it answers: the first IPv6 exchange can wait for neighbour discovery
            for _ in range(50):
                out = env.ns(env.client_ns, "dig", "+short", "+tries=1", "+timeout=1",
                             "+bufsize=4096", "@" + server, "big3k.example.test", "TXT",
                             check=False)
                if WEB in out:
                    break
            else:
                self.fail("the test DNS server does not answer on " + server)

    def dig(self, qname, bufsize, server=DNS):
        """dig over UDP in the client's cgroup: (pid, answers as dig printed them, msg size)."""
        p = self.env.spawn(["dig", "+tries=1", "+timeout=2", "+ignore", "+bufsize=%d" % bufsize,
                            "@" + server, qname, "TXT"], cgroup=self.client_cg,
                           ns=self.env.client_ns)
        out, _ = p.communicate(timeout=30)
        size = [l for l in out.splitlines() if "MSG SIZE" in l]
        self.assertTrue(size, out)
        self.assertNotIn("flags: qr aa tc", out)
        return p.pid, dig_answers(out), int(size[0].split("rcvd:")[1])

    def records(self, agent, qname):
        return [r for r in agent.records("dns") if r["cgroup_id"] == self.client_cg.id
                and r["qname"] == qname and r["rcode"] != "TIMEOUT"]

    def test_answers_of_3_to_37_kib_parsed_whole(self):
        env = self.env
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "1",
                          "--duration", "5")
        agent.wait_attached()
        asked = (("big3k.example.test", 4096, DNS), ("big12k.example.test", 16384, DNS6),
                 ("big37k.example.test", 65535, DNS))
        frags = env.nft_counters(env.router_ns)
        seen = [(q, server) + self.dig(q, bufsize, server) for q, bufsize, server in asked]
        self.assertEqual(agent.stop(), 0, agent.stderr())
        after = env.nft_counters(env.router_ns)
        # 12 KiB over IPv6 is 9 fragments, 37 KiB over IPv4 26
        self.assertGreaterEqual(after["frag6"][0] - frags["frag6"][0], 9)
        self.assertGreaterEqual(after["frag4"][0] - frags["frag4"][0], 26)
        for qname, server, pid, answers, size in seen:
            with self.subTest(qname=qname):
                # the sizes the test is about: two pieces and more; 12 and 37 KiB span IP
                # fragments (the links' MTU is 1500)
                self.assertGreater(size, MIN_SIZE[qname])
                self.assertEqual(len(answers), ZONE[qname][0] + 1)
                self.assertEqual(answers[-1], (qname, "A", TTL, WEB))
                mine = self.records(agent, qname)
                self.assertEqual(len(mine), 1, mine)
                r = mine[0]
                self.assertEqual((r["proto"], r["rcode"], r["pid"], r["comm"], r["dst_addr"]),
                                 ("udp", "NOERROR", pid, "dig", server))
                self.assertFalse(r["truncated"], r)
                got = [(a["name"], a["type"], a["ttl"], a["data"]) for a in r["answers"]]
                self.assertEqual(got, answers)
        self.assertEqual(agent.counter("dns_capture_truncated"), 0)
        self.assertEqual(agent.counter("dns_udp_incomplete"), 0)
        self.assertEqual(agent.counter("dns_dropped_ringbuf_full"), 0)

    def test_message_cut_by_the_bound_is_truncated_and_counted(self):
        env = self.env
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "1",
                          "--duration", "4", "--dns-capture-max-bytes", "1000")
        agent.wait_attached()
        pid, answers, size = self.dig("big3k.example.test", 4096)
        # a small answer fits under the bound: whole
        small_pid, small, _ = self.dig("nx.example.test", 4096)
        self.assertEqual(agent.stop(), 0, agent.stderr())
        self.assertGreater(size, 1000)
        mine = self.records(agent, "big3k.example.test")
        self.assertEqual(len(mine), 1, mine)
        r = mine[0]
        self.assertTrue(r["truncated"], r)
        self.assertEqual((r["proto"], r["rcode"], r["qtype"], r["pid"]),
                         ("udp", "NOERROR", "TXT", pid))
        # what was captured, nothing invented: the answers that fit, in order
        got = [(a["name"], a["type"], a["ttl"], a["data"]) for a in r["answers"]]
        # exactly those that end within the first 1000 octets: header, question, then TXT RRs
        # of a compressed owner (2), TYPE..RDLENGTH (10) and the RDATA
        _, strings, strsize = ZONE["big3k.example.test"]
        first = 12 + len(b"\x05big3k\x07example\x04test\x00") + 4
        fits = (1000 - first) // (12 + strings * (1 + strsize))
        self.assertEqual(fits, 3)
        self.assertEqual(got, answers[:fits])
        nx = self.records(agent, "nx.example.test")
        self.assertEqual([(x["rcode"], x["truncated"], x["pid"]) for x in nx],
                         [("NXDOMAIN", False, small_pid)])
        self.assertEqual(small, [])
        # the cut is counted: one response longer than the bound
        self.assertEqual(agent.counter("dns_capture_truncated"), 1)
        self.assertEqual(agent.counter("dns_udp_incomplete"), 0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        unittest.main(verbosity=2)
