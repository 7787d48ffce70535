#!/usr/bin/env python3
"""Issue 9 section 2: DNS answers over UDP larger than one capture piece (1536 bytes) are parsed
whole, and a message cut by a small --dns-capture-max-bytes is reported truncated and counted.

A small DNS server (this file, run as `serve`) answers in the server namespace over UDP, ignoring
the client's EDNS(0) size: a 3 KiB answer and a 12 KiB one, which crosses the veth links in IP
fragments and reaches the client's cgroup_skb ingress reassembled. dig runs in the client's
cgroup with EDNS(0) buffers of 4096 and 16384 bytes; its own output is the ground truth.
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
WEB = "198.51.100.10"
TTL = 300
# qname -> (TXT RRs, strings per RR, bytes per string): ~3 KiB and ~12 KiB answers, each ending
# with an A record, so that the last answer is only right when the whole message was read
ZONE = {
    "big3k.example.test": (11, 1, 250),
    "big12k.example.test": (24, 2, 250),
}


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
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
        # outside the watched subtree: only the client's packets are captured
        p = env.spawn([sys.executable, os.path.abspath(__file__), "serve", DNS, "53"],
                      ns=env.server_ns)
        if not p.stdout.readline():
            raise RuntimeError("dns server did not start: " + p.stderr.read())
        for _ in range(50):
            out = env.ns(env.client_ns, "dig", "+short", "+tries=1", "+timeout=1",
                         "+bufsize=4096", "@" + DNS, "big3k.example.test", "TXT", check=False)
            if WEB in out:
                break
        else:
            self.fail("the test DNS server does not answer")

    def dig(self, qname, bufsize):
        """dig over UDP in the client's cgroup: (pid, answers as dig printed them, msg size)."""
        p = self.env.spawn(["dig", "+tries=1", "+timeout=2", "+ignore", "+bufsize=%d" % bufsize,
                            "@" + DNS, qname, "TXT"], cgroup=self.client_cg,
                           ns=self.env.client_ns)
        out, _ = p.communicate(timeout=30)
        size = [l for l in out.splitlines() if "MSG SIZE" in l]
        self.assertTrue(size, out)
        self.assertNotIn("flags: qr aa tc", out)
        return p.pid, dig_answers(out), int(size[0].split("rcvd:")[1])

    def records(self, agent, qname):
        return [r for r in agent.records("dns") if r["cgroup_id"] == self.client_cg.id
                and r["qname"] == qname and r["rcode"] != "TIMEOUT"]

    def test_answers_of_3_and_12_kib_parsed_whole(self):
        env = self.env
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--interval", "1",
                          "--duration", "4")
        agent.wait_attached()
        seen = [(q, bufsize) + self.dig(q, bufsize)
                for q, bufsize in (("big3k.example.test", 4096), ("big12k.example.test", 16384))]
        self.assertEqual(agent.stop(), 0, agent.stderr())
        for qname, bufsize, pid, answers, size in seen:
            with self.subTest(qname=qname):
                # the sizes the test is about: more than two pieces, 12 KiB spans fragments
                self.assertGreater(size, 2900 if "3k" in qname else 12000)
                self.assertEqual(len(answers), ZONE[qname][0] + 1)
                self.assertEqual(answers[-1], (qname, "A", TTL, WEB))
                mine = self.records(agent, qname)
                self.assertEqual(len(mine), 1, mine)
                r = mine[0]
                self.assertEqual((r["proto"], r["rcode"], r["pid"], r["comm"]),
                                 ("udp", "NOERROR", pid, "dig"))
                self.assertFalse(r["truncated"], r)
                got = [(a["name"], a["type"], a["ttl"], a["data"]) for a in r["answers"]]
                self.assertEqual(got, answers)
        self.assertEqual(agent.counter("dns_capture_truncated"), 0)
        self.assertEqual(agent.counter("dns_udp_incomplete"), 0)
        self.assertEqual(agent.counter("dns_ringbuf_full"), 0)

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
        self.assertEqual(got, answers[:len(got)])
        self.assertLess(len(got), len(answers))
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
