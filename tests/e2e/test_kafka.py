#!/usr/bin/env python3
"""Issues 5 and 13 acceptance: the Kafka sink, end to end, against a real Apache Kafka broker
(one KRaft node started by tests/e2e/kafka_broker.py) and read back with kafka-python, a client
that shares no code with librdkafka.

1. The same traffic script run once with the stdout sink and then once per Kafka setting (JSON and
   protobuf, 1 and 100 records per message, lz4 (the default) and gzip): every run yields the
   same records, field for field except what differs between two runs of the same traffic
   (ports, times, pids, DNS ids and latencies, TCP byte counts), and the client's bytes and
   packets equal the router's nftables counters of that run. Every protobuf message is decoded
   by `protoc --decode` with the published schema; the broker's own DumpLogSegments shows the
   batches were compressed with the codec asked for.
2. 100 records per message: fewer messages (exactly one per cgroup and record type here), the
   same records, each message holding the records of its key's cgroup only.
3. The broker process killed for 10 s in the middle of a run and started again: every record is
   read back exactly once and the client's traffic adds up to the nftables counters. With a
   1 KiB buffer, the records that did not fit are counted as dropped, the rest arrive, and the
   agent runs on and exits 0.
4. Bad broker lists and unknown librdkafka options fail at start (exit 2); an unreachable
   cluster at start is not fatal.
"""
import collections
import concurrent.futures
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402
import kafka_broker  # noqa: E402

NODE = "kafka-e2e-node"
DNS = "198.51.100.2"
DNS6 = "2001:db8:2::2"
WEB = "198.51.100.10"
TCP_PORT = 8080
UDP_PORT = 5353
SILENT_PORT = 5300
FLOWS, DNS_TOPIC = "flowscope.flows", "flowscope.dns"
PB_TYPE = {FLOWS: "flowscope.v1.FlowRecord", DNS_TOPIC: "flowscope.v1.DnsRecord"}

# Ground truth in the router: one counter per direction of the client's traffic by protocol,
# IP version and server port (the client's own TCP/UDP sockets send all of it).
TRUTH = [("tcp", 4, TCP_PORT), ("tcp", 6, TCP_PORT), ("udp", 4, UDP_PORT), ("udp", 6, UDP_PORT),
         ("udp", 4, 53), ("udp", 6, 53)]


def ruleset():
    counters, rules = [], []
    for proto, ver, port in TRUTH:
        name = "%s%d_%d" % (proto, ver, port)
        fam, cli = ("ip", "192.0.2.2") if ver == 4 else ("ip6", "2001:db8:1::2")
        counters += ["counter %s_up {}" % name, "counter %s_down {}" % name]
        rules.append("%s saddr %s %s dport %d counter name %s_up" % (fam, cli, proto, port, name))
        rules.append("%s daddr %s %s sport %d counter name %s_down" % (fam, cli, proto, port,
                                                                      name))
    return ("table inet fs {\n%s\nchain forward_count {\ntype filter hook forward priority 0; "
            "policy accept;\n%s\n}\n}\n" % ("\n".join(counters), "\n".join(rules)))


def dnsmasq_args():
    return [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--pid-file=", "--user=root", "--bind-interfaces", "--listen-address=" + DNS,
        "--listen-address=" + DNS6, "--port=53", "--local=/example.test/", "--local-ttl=300",
        "--log-facility=/dev/null",
        "--host-record=web.example.test,%s,2001:db8:2::10" % WEB,
        "--cname=www.example.test,web.example.test,60",
        "--srv-host=_http._tcp.example.test,web.example.test,8080,10,5",
    ]


def free_loopback_port():
    """A loopback TCP port with nothing listening on it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def counters_line(agent, prefix):
    """{name: value} of the agent's exit line that starts with prefix ('counters:')."""
    for line in agent.stderr().splitlines():
        if ("info: " + prefix) in line:
            return {k: int(v) for k, v in (kv.split("=", 1)
                                            for kv in line.split(prefix, 1)[1].split())}
    raise KeyError(prefix)


def kafka_exit_counters(agent):
    """{key: value} of the agent's "kafka counters:" exit lines (a long one continues on more
    lines with the same prefix)."""
    out = {}
    for line in agent.stderr().splitlines():
        if "info: kafka counters:" in line:
            out.update({k: int(v) for k, v in (kv.split("=", 1) for kv in
                                                line.split("kafka counters:", 1)[1].split())})
    if not out:
        raise KeyError("kafka counters:")
    return out


def check_kafka_exit_counters(test, agent, delivered, purged):
    """The exit log's Kafka counters are final (written after the flush): per type, produced
    records are delivered or purged at exit, nothing is buffered, nothing was lost to a fatal
    producer error. delivered and purged are {type: records}."""
    k = kafka_exit_counters(agent)
    for t in ("flow", "dns"):
        test.assertEqual((k["kafka_records_%s_produced" % t], k["kafka_records_%s_delivered" % t],
                          k["kafka_records_%s_failed" % t]),
                         (delivered[t] + purged[t], delivered[t], purged[t]), (t, k))
        test.assertEqual(k["kafka_records_lost_%s_fatal_error" % t], 0, k)
    test.assertEqual(k.get("kafka_delivery_failures__PURGE_QUEUE", 0) +
                     k.get("kafka_delivery_failures__PURGE_INFLIGHT", 0),
                     sum(purged.values()), k)
    test.assertEqual((k["kafka_buffered_bytes"], k["kafka_producer_fatal_errors"],
                      k["kafka_producer_restarts"]), (0, 0, 0), k)


def agent_totals(agent):
    """(flow records, DNS records, records the sink refused) the agent counted itself."""
    c = counters_line(agent, "counters:")
    d = counters_line(agent, "dns counters:")
    p = counters_line(agent, "pipeline counters:")
    return (c["flow_records"], d["dns_records"], p["pipeline_records_dropped_sink_refused"])


def kafka_metrics(addr):
    """(produced, delivered, dropped because the buffer was full, buffered bytes) from the
    agent's /metrics, flow and DNS records together."""
    m = fslib.scrape(addr)

    def total(name, fmt):
        return sum(m.get((name, fmt % t), 0) for t in ("flow", "dns"))
    return (total("flowscope_kafka_records_total", 'type="%s",state="produced"'),
            total("flowscope_kafka_records_total", 'type="%s",state="delivered"'),
            total("flowscope_sink_records_dropped_total",
                  'sink="kafka",type="%s",reason="queue_full"'),
            m[("flowscope_kafka_buffered_bytes", "")])


KAFKA_ALL = re.compile(r"kafka: all (\d+) records delivered")
KAFKA_LOST = re.compile(r"kafka: (\d+) records not delivered \((\d+) failed, (\d+) still queued "
                        r"after (\d+) ms\); (\d+) dropped earlier because the buffer was full")


def check_headers(test, msg, topic, fmt, n_records):
    """The headers of one message say what it holds (docs/kafka.md, Headers)."""
    pb = fmt[0] == "protobuf"
    want = [("content-type", "application/x-protobuf" if pb else "application/x-ndjson"),
            ("flowscope.message-type", PB_TYPE[topic]),
            ("flowscope.framing", "ndjson" if not pb else "delimited" if fmt[1] > 1
             else "single"),
            ("flowscope.record-count", str(n_records)),
            ("flowscope.schema-version", "1")]
    test.assertEqual([(k, v.decode()) for k, v in msg.headers], want, msg)


def flow_identity(r):
    return ("flow", r["cgroup_id"], r["proto"], r["ip_version"], r["src_addr"], r["src_port"],
            r["dst_addr"], r["dst_port"], r["start_ns"])


def dns_identity(r):
    return ("dns", r["cgroup_id"], r["proto"], r["src_addr"], r["src_port"], r["dst_addr"],
            r["dst_port"], r["id"], r["ts_ns"])


class KafkaRun:
    """What one agent run put on Kafka: messages per topic and the records they hold."""

    def __init__(self, broker, fmt, prefix=""):
        self.messages = {}
        self.records = {}  # FLOWS or DNS_TOPIC -> [(message index, record)]
        for topic in (FLOWS, DNS_TOPIC):
            msgs = broker.messages(prefix + topic)
            self.messages[topic] = msgs
            self.records[topic] = self._decode(topic, msgs, fmt)

    @staticmethod
    def _decode(topic, msgs, fmt):
        if fmt[0] == "json":
            out = []
            for i, m in enumerate(msgs):
                if not m.payload.endswith(b"\n"):
                    raise AssertionError("JSON payload without its newline: %r" % m.payload)
                out += [(i, json.loads(line)) for line in m.payload.decode().splitlines()]
            return out
        # protobuf: bare messages for N = 1, varint length-delimited for N > 1
        parts = []
        for i, m in enumerate(msgs):
            for p in (fslib.split_delimited(m.payload) if fmt[1] > 1 else [m.payload]):
                parts.append((i, p))
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
            texts = list(ex.map(lambda ip: fslib.protoc_decode(PB_TYPE[topic], ip[1]), parts))
        out = []
        for (i, payload), t in zip(parts, texts):
            rec = fslib.pb_to_record(PB_TYPE[topic], fslib.parse_text_format(t))
            # Python's protobuf runtime (strict UTF-8) reads the same record as protoc
            other = fslib.pb_python_record(PB_TYPE[topic], payload)
            if other != rec:
                raise AssertionError("protoc and python protobuf disagree:\n%r\n%r"
                                     % (rec, other))
            out.append((i, rec))
        return out

    def all_records(self):
        return [r for t in (FLOWS, DNS_TOPIC) for _, r in self.records[t]]


class Setup:
    """client -- router (nftables counters) -- server with dnsmasq, a TCP server, a UDP echo
    and a silent UDP 'DNS server'; client and servers in their own cgroups."""

    def __init__(self, test):
        self.test = test
        self.env = env = fslib.Env()
        test.addCleanup(env.close)
        env.routed_topology()
        env.addr(env.server_ns, env.prefix + "s0", WEB + "/32")
        # (no second IPv6 address: the UDP echo on :: would answer from it)
        env.nft(env.router_ns, ruleset())
        self.client_cg = env.cgroup("client")
        self.server_cg = env.cgroup("server")
        self.names = {self.client_cg.id: "client", self.server_cg.id: "server",
                      env.cgroup_root.id: "root"}
        env.server("tcp-server", env.server_ns, "::", TCP_PORT, cgroup=self.server_cg)
        env.server("udp-echo", env.server_ns, "::", UDP_PORT, cgroup=self.server_cg)
        env.server("udp-sink", env.server_ns, "0.0.0.0", SILENT_PORT, cgroup=self.server_cg)
        dnsmasq = env.spawn(dnsmasq_args(), ns=env.server_ns)
        # dnsmasq is up once it answers, over IPv4 and IPv6. This also resolves the neighbours
        # of both paths before the first run: the first IPv6 exchange of a fresh topology can
        # take longer than a 1 s dig timeout, which would turn a query into a timeout.
        for server, qtype, want in ((DNS, "A", WEB), (DNS6, "AAAA", "2001:db8:2::10")):
            for _ in range(50):
                out = env.ns(env.client_ns, "dig", "+short", "+tries=1", "+timeout=1",
                             "@" + server, "web.example.test", qtype, check=False)
                if want in out:
                    break
            else:
                raise RuntimeError("dnsmasq does not answer on %s: %s"
                                   % (server, dnsmasq.stderr.read()))

    def broker(self, prefix="", partitions=4, **topic_configs):
        """A fresh broker with the flow and DNS topics (prefix + the default names), removed
        at the end of the test."""
        b = kafka_broker.KafkaBroker(tmp=self.env.tmp)
        self.test.addCleanup(b.close)
        for t in (FLOWS, DNS_TOPIC):
            b.create_topic(prefix + t, partitions, **topic_configs)
        return b

    def topics(self, broker, prefix):
        for t in (FLOWS, DNS_TOPIC):
            broker.create_topic(prefix + t, 4)
        return ["--kafka-topic-flows", prefix + FLOWS, "--kafka-topic-dns", prefix + DNS_TOPIC]

    def agent(self, *args):
        # flow and DNS records only: these tests count records per type against ground truth,
        # and the tracer's default events (any exec on the node) would join them
        return self.env.agent("--cgroup-root", self.env.cgroup_root.path, "--node-name", NODE,
                              "--dns-ports", "53,%d" % SILENT_PORT, "--dns-timeout", "1000",
                              "--events", "none", *args)

    def truth(self):
        return self.env.nft_counters(self.env.router_ns)

    def dig(self, *args, wait=True):
        p = self.env.spawn(["dig", "+noall", "+answer", "+tries=1", "+timeout=1"] + list(args),
                           cgroup=self.client_cg, ns=self.env.client_ns)
        if wait:
            p.communicate(timeout=30)
        return p

    def udp(self, host, count, size):
        return self.env.client(["udp-client", host, str(UDP_PORT), "--count", str(count),
                                "--size", str(size)], self.env.client_ns, self.client_cg)

    def tcp(self, host, send, recv):
        return self.env.client(["tcp-client", host, str(TCP_PORT), "--send", str(send),
                                "--recv", str(recv)], self.env.client_ns, self.client_cg)

    def script(self):
        """The deterministic traffic of test 1: 7 DNS queries (one never answered), 3 TCP
        connections, 2 UDP exchanges. Returns once the silent query has timed out."""
        t0 = time.time()
        silent = self.dig("@" + DNS, "-p", str(SILENT_PORT), "silent.example.test", "A",
                          wait=False)
        self.dig("@" + DNS, "web.example.test", "A")
        self.dig("@" + DNS6, "web.example.test", "AAAA")
        self.dig("@" + DNS, "_http._tcp.example.test", "SRV")
        self.dig("@" + DNS, "nx.example.test", "A")
        self.dig("@" + DNS, "+tcp", "web.example.test", "A")
        self.dig("@" + DNS, "www.example.test", "A")
        self.tcp(WEB, 2000, 3000)
        self.tcp("198.51.100.2", 20000, 500)
        self.tcp("2001:db8:2::2", 700, 40000)
        self.udp("198.51.100.2", 3, 300)
        self.udp("2001:db8:2::2", 4, 1000)
        silent.communicate(timeout=30)
        # the agent checks DNS timeouts every second: 1 s timeout + 1 s tick + margin
        time.sleep(max(0.0, t0 + 2.6 - time.time()))

    def background(self, stop, gap=0.15):
        """Traffic until stop is set: a fresh UDP flow and a DNS query each round."""
        def run():
            i = 0
            while not stop.is_set():
                self.udp("198.51.100.2", 1 + i % 3, 100 + 10 * (i % 7))
                self.dig("@" + DNS, "web.example.test", "A")
                i += 1
                stop.wait(gap)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    # ---- record views -------------------------------------------------------------------
    def cg(self, r):
        return self.names.get(r["cgroup_id"], str(r["cgroup_id"]))

    @staticmethod
    def service_port(r):
        """The server's port: dst_port on the side that opened the flow, src_port on the
        side that accepted it."""
        if r["type"] == "flow" and r["initiator"] == "dst":
            return r["src_port"]
        return r["dst_port"]

    def keys(self, records):
        """Record counts per (type, cgroup, proto, ip_version, service port)."""
        return collections.Counter((r["type"], self.cg(r), r["proto"], r["ip_version"],
                                    self.service_port(r)) for r in records)

    def signatures(self, records):
        """What must be equal record by record between identical runs: everything but ports,
        times, pids, DNS ids and latency values (TCP byte counts depend on ACK timing; they are
        checked against nftables instead)."""
        sig = collections.Counter()
        for r in records:
            common = (r["type"], self.cg(r), r["proto"], r["ip_version"], self.service_port(r),
                      r["schema_version"], r["node"], r["cgroup_path"] is None)
            if r["type"] == "flow":
                extra = (r["initiator"], r["dst_domain"], r["nat"])
                if r["proto"] == "udp":
                    extra += (r["tx_bytes"], r["tx_packets"], r["rx_bytes"], r["rx_packets"])
            else:
                extra = (r["qname"], r["qtype"], r["rcode"], r["truncated"],
                         r["dst_addr"], r["latency_ns"] is None,
                         tuple((a["name"], a["type"], a["ttl"], a["data"])
                               for a in r["answers"]))
            sig[common + extra] += 1
        return sig

    def check_truth(self, records, before, after, label):
        t = self.test
        for proto, ver, port in TRUTH:
            name = "%s%d_%d" % (proto, ver, port)
            up = [after[name + "_up"][i] - before[name + "_up"][i] for i in (0, 1)]
            down = [after[name + "_down"][i] - before[name + "_down"][i] for i in (0, 1)]
            mine = [r for r in records if r["type"] == "flow" and r["cgroup_id"] ==
                    self.client_cg.id and r["proto"] == proto and r["ip_version"] == ver and
                    r["dst_port"] == port]
            t.assertGreater(up[0], 0, "%s: no %s traffic" % (label, name))
            t.assertEqual(fslib.sum_fields(mine, "tx_bytes", "tx_packets"), (up[1], up[0]),
                          "%s: client %s tx vs nftables" % (label, name))
            t.assertEqual(fslib.sum_fields(mine, "rx_bytes", "rx_packets"),
                          (down[1], down[0]), "%s: client %s rx vs nftables" % (label, name))


def check_dns_latency(test, records, label):
    """latency_ns is null exactly for the unanswered query, and a real time otherwise."""
    dns = [r for r in records if r["type"] == "dns"]
    for r in dns:
        if r["qname"] == "silent.example.test":
            test.assertEqual(r["rcode"], "TIMEOUT", label)
            test.assertIsNone(r["latency_ns"], "%s: timeout with a latency" % label)
        else:
            test.assertNotEqual(r["rcode"], "TIMEOUT", label)
            test.assertIsNotNone(r["latency_ns"], "%s: %s without latency" % (label, r["qname"]))
            test.assertGreater(r["latency_ns"], 0, label)
            test.assertLess(r["latency_ns"], 10**9, label)


class KafkaSameRecords(unittest.TestCase):
    """Acceptance 1 and 2."""

    def run_once(self, s, sink_args):
        before = s.truth()
        agent = s.agent("--interval", "60", *sink_args)
        agent.wait_attached()
        s.script()
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
        return agent, before, s.truth()

    def test_stdout_and_kafka_runs_carry_the_same_records(self):
        s = Setup(self)
        agent, before, after = self.run_once(s, [])
        base = agent.records()
        s.check_truth(base, before, after, "stdout run")
        check_dns_latency(self, base, "stdout")
        base_keys, base_sig = s.keys(base), s.signatures(base)
        n_flow = sum(1 for r in base if r["type"] == "flow")
        n_dns = len(base) - n_flow
        # one per query, the unanswered one included, and that one's timeout once more on the
        # silent server's socket, which is in a cgroup too
        self.assertEqual(n_dns, 8, base_keys)
        self.assertEqual(agent_totals(agent), (n_flow, n_dns, 0))
        print("stdout run: %d flow + %d dns records; %s" % (n_flow, n_dns, dict(base_keys)),
              file=sys.stderr)

        broker = kafka_broker.KafkaBroker(tmp=s.env.tmp)
        self.addCleanup(broker.close)
        for fmt in (("json", 1, "lz4"), ("protobuf", 1, "lz4"), ("json", 100, "lz4"),
                    ("protobuf", 100, "lz4"), ("json", 1, "gzip"), ("protobuf", 100, "gzip")):
            label = "%s x%d %s" % fmt
            prefix = "%s-%d-%s." % fmt
            with self.subTest(format=label):
                agent, before, after = self.run_once(s, [
                    "--kafka-brokers", broker.bootstrap, "--kafka-format", fmt[0],
                    "--kafka-records-per-message", str(fmt[1])] + s.topics(broker, prefix) +
                    ([] if fmt[2] == "lz4" else ["--kafka-compression", fmt[2]]))
                self.assertEqual(agent.records(), [], "records on stdout with --kafka-brokers")
                flows, dns, refused = agent_totals(agent)
                self.assertEqual(refused, 0)
                m = KAFKA_ALL.search(agent.stderr())
                self.assertIsNotNone(m, agent.stderr())
                self.assertEqual(int(m.group(1)), flows + dns)

                got = KafkaRun(broker, fmt, prefix)
                recs = got.all_records()
                self.assertEqual(len(got.records[FLOWS]), flows)
                self.assertEqual(len(got.records[DNS_TOPIC]), dns)
                # the exit log was written after the final flush: it counts what the topics
                # hold, the last interval's records included
                check_kafka_exit_counters(self, agent, {"flow": flows, "dns": dns},
                                          {"flow": 0, "dns": 0})
                self.assertEqual(s.keys(recs), base_keys)
                self.assertEqual(s.signatures(recs), base_sig)
                s.check_truth(recs, before, after, label)
                check_dns_latency(self, recs, label)
                self.assertEqual(len({flow_identity(r) if r["type"] == "flow" else
                                      dns_identity(r) for r in recs}), len(recs),
                                 "duplicate records")

                # framing: N = 1 is one record per message; N = 100 one message per cgroup
                # and type here (no cgroup has 100 records in the single interval)
                counts = []
                for topic in (FLOWS, DNS_TOPIC):
                    msgs, pairs = got.messages[topic], got.records[topic]
                    per_msg = collections.Counter(i for i, _ in pairs)
                    per_key = collections.Counter(r["cgroup_id"] for _, r in pairs)
                    partitions = collections.defaultdict(set)
                    for i, r in pairs:
                        self.assertEqual(msgs[i].key, ("%s/%d" % (NODE, r["cgroup_id"])).encode())
                        partitions[msgs[i].key].add(msgs[i].partition)
                    for i, m in enumerate(msgs):
                        check_headers(self, m, topic, fmt, per_msg[i])
                        # the partition the Java client's murmur2 partitioner picks
                        self.assertEqual(m.partition, fslib.java_partition(m.key, 4), m)
                    self.assertEqual(set(per_msg), set(range(len(msgs))), "empty message")
                    self.assertTrue(all(len(p) == 1 for p in partitions.values()), partitions)
                    if fmt[1] == 1:
                        self.assertEqual(len(msgs), len(pairs))
                    else:
                        self.assertLessEqual(max(per_msg.values()), fmt[1])
                        self.assertEqual(len(msgs), sum(math.ceil(n / fmt[1])
                                                        for n in per_key.values()))
                        self.assertLess(len(msgs), len(pairs))
                    counts.append("%s: %d messages / %d records" % (topic, len(msgs),
                                                                    len(pairs)))
                    # the batches on the broker's disk carry the codec asked for (a batch of
                    # one small record may go uncompressed: librdkafka keeps a batch as it is
                    # when compression does not make it smaller)
                    codecs = set().union(*broker.batch_codecs(prefix + topic).values())
                    self.assertIn(fmt[2], codecs, "%s %s" % (label, topic))
                    self.assertLessEqual(codecs, {fmt[2], "none"}, "%s %s" % (label, topic))
                print("%s: %s" % (label, "; ".join(counts)), file=sys.stderr)
        

# A process that names itself (prctl PR_SET_NAME) "datenbank-größe": the kernel keeps 15 bytes,
# which cut "ß" after its first byte. Then it sends one UDP datagram and waits for the echo.
RENAMED = r"""
import ctypes, socket, sys
ctypes.CDLL(None).prctl(15, "datenbank-größe".encode(), 0, 0, 0)
with open("/proc/self/comm", "rb") as f:
    print(f.read().rstrip(b"\n").hex(), flush=True)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"x" * 200, (sys.argv[1], int(sys.argv[2])))
s.recv(4096)
"""


class KafkaKeysAndText(unittest.TestCase):
    """Issue 13: partitions as the Java client picks them; every string valid UTF-8."""

    def test_key_lands_where_java_murmur2_puts_it(self):
        s = Setup(self)
        broker = kafka_broker.KafkaBroker(tmp=s.env.tmp)
        self.addCleanup(broker.close)
        parts = 7
        for t in (FLOWS, DNS_TOPIC):
            broker.create_topic(t, parts)
        cgroups = [s.env.cgroup("p%d" % i) for i in range(12)]
        agent = s.agent("--interval", "60", "--kafka-brokers", broker.bootstrap)
        agent.wait_attached()
        for cg in cgroups:
            s.env.client(["udp-client", "198.51.100.2", str(UDP_PORT), "--count", "1",
                          "--size", "100"], s.env.client_ns, cg)
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
        msgs = broker.messages(FLOWS)
        keys = {m.key for m in msgs}
        for cg in cgroups:
            self.assertIn(("%s/%d" % (NODE, cg.id)).encode(), keys)
        for m in msgs:
            self.assertEqual(m.partition, fslib.java_partition(m.key, parts), m)
        # the check tells murmur2 from librdkafka's CRC32 default for these keys
        self.assertTrue(any(zlib.crc32(k) % parts != fslib.java_partition(k, parts)
                            for k in keys))
        self.assertGreater(len({m.partition for m in msgs}), 3)
        print("%d keys on %d partitions, each where murmur2 puts it" %
              (len(keys), len({m.partition for m in msgs})), file=sys.stderr)

    def test_comm_cut_inside_a_character_and_a_0xff_cgroup(self):
        s = Setup(self)
        broker = kafka_broker.KafkaBroker(tmp=s.env.tmp)
        self.addCleanup(broker.close)
        bad = s.env.cgroup("bad-\udcff")  # the byte 0xff in the directory name
        self.assertTrue(os.path.isdir(os.path.join(s.env.cgroup_root.path.encode(),
                                                   b"bad-\xff")))
        want_comm = "datenbank-grö\ufffd"
        want_path_end = "/bad-\ufffd"
        seen = {}
        for fmt in (("json", 1), ("protobuf", 100), ("protobuf", 1)):
            prefix = "%s-%d." % fmt
            agent = s.agent("--interval", "60", "--kafka-brokers", broker.bootstrap,
                            "--kafka-format", fmt[0], "--kafka-records-per-message",
                            str(fmt[1]), *s.topics(broker, prefix))
            agent.wait_attached()
            p = s.env.spawn([sys.executable, "-c", RENAMED, "198.51.100.2", str(UDP_PORT)],
                            cgroup=bad, ns=s.env.client_ns)
            out, err = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0, err)
            # what the kernel made of the name: 15 bytes, the last one a lone lead byte
            self.assertEqual(bytes.fromhex(out.strip()), "datenbank-größe".encode()[:15])
            s.dig("@" + DNS, "web.example.test", "A")  # (from the client cgroup)
            d = s.env.spawn(["dig", "+short", "+tries=1", "+timeout=2", "@" + DNS,
                             "web.example.test", "A"], cgroup=bad, ns=s.env.client_ns)
            self.assertIn(WEB, d.communicate(timeout=30)[0])
            self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
            # KafkaRun decodes with json.loads, or with protoc --decode and Python's
            # protobuf (both reject invalid UTF-8, the latter for the whole message)
            got = KafkaRun(broker, fmt, prefix)
            mine = [r for r in got.all_records() if r["cgroup_id"] == bad.id]
            flows = [r for r in mine if r["type"] == "flow" and r["proto"] == "udp" and
                     r["dst_port"] == UDP_PORT]
            dns = [r for r in mine if r["type"] == "dns"]
            self.assertEqual(len(flows), 1, mine)
            self.assertEqual(len(dns), 1, mine)  # the query with its response
            self.assertEqual(flows[0]["comm"], want_comm)
            for r in mine:
                self.assertTrue(r["cgroup_path"].endswith(want_path_end), r)
            seen[fmt] = (flows[0]["comm"], flows[0]["cgroup_path"],
                         tuple(sorted(r["cgroup_path"] for r in dns)))
        self.assertEqual(len(set(seen.values())), 1, seen)
        print("comm %r and cgroup path %r alike in JSON and protobuf" % seen[("json", 1)][:2],
              file=sys.stderr)


class KafkaOutages(unittest.TestCase):
    """Acceptance 3 and the second half of 4."""

    def setUp(self):
        self.s = Setup(self)

    def wait_log(self, agent, text, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in agent.stderr():
                return
            self.assertIsNone(agent.proc.poll(), "agent exited: " + agent.stderr())
            time.sleep(0.1)
        self.fail("no %r in the agent's log within %d s: %s" % (text, timeout, agent.stderr()))

    def consume(self, broker):
        got = KafkaRun(broker, ("json", 1))
        recs = got.all_records()
        ids = collections.Counter(flow_identity(r) if r["type"] == "flow" else dns_identity(r)
                                  for r in recs)
        dups = {k: n for k, n in ids.items() if n > 1}
        self.assertEqual(dups, {}, "records read more than once")
        return recs

    def test_broker_down_for_10s(self):
        s = self.s
        broker = s.broker()
        before = s.truth()
        metrics = "127.0.0.1:%d" % fslib.free_tcp_port()
        agent = s.agent("--interval", "1", "--kafka-brokers", broker.bootstrap,
                        "--metrics-addr", metrics)
        agent.wait_attached()
        stop = threading.Event()
        traffic = s.background(stop)
        time.sleep(2.5)
        broker.stop()
        down_ns = time.time_ns()
        self.wait_log(agent, "kafka: no broker reachable", 5)
        # while the brokers are down, records are produced into the buffer, none delivered
        time.sleep(max(0.0, down_ns / 1e9 + 4 - time.time()))
        m1 = kafka_metrics(metrics)
        time.sleep(max(0.0, down_ns / 1e9 + 9 - time.time()))
        m2 = kafka_metrics(metrics)
        self.assertEqual(m2[1], m1[1], "records delivered while every broker was down")
        self.assertGreater(m2[0], m1[0])
        self.assertGreater(m2[3], 0)
        self.assertEqual(m2[2], 0)
        time.sleep(max(0.0, down_ns / 1e9 + 10 - time.time()))
        broker.start()
        up_ns = time.time_ns()
        self.wait_log(agent, "kafka: brokers reachable again", 20)
        time.sleep(1.5)
        stop.set()
        traffic.join(30)
        time.sleep(0.3)
        # the buffer drains while the agent runs, not only at exit
        deadline = time.time() + 15
        while time.time() < deadline:
            m3 = kafka_metrics(metrics)
            if m3[1] == m3[0] and m3[3] == 0:
                break
            time.sleep(0.2)
        self.assertEqual((m3[1], m3[3]), (m3[0], 0), "buffer not drained after recovery")
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
        after = s.truth()

        flows, dns, refused = agent_totals(agent)
        self.assertEqual(refused, 0)
        m = KAFKA_ALL.search(agent.stderr())
        self.assertIsNotNone(m, agent.stderr())
        self.assertEqual(int(m.group(1)), flows + dns)
        recs = self.consume(broker)
        self.assertEqual(sum(1 for r in recs if r["type"] == "flow"), flows)
        self.assertEqual(sum(1 for r in recs if r["type"] == "dns"), dns)
        # the outage was real: records of the traffic during it were buffered, then delivered
        during = [r for r in recs if down_ns + 10**9 < r.get("end_ns", r.get("ts_ns")) < up_ns]
        self.assertGreater(len(during), 10)
        # nothing lost: the client's UDP and DNS traffic adds up to the router's counters
        for proto, ver, port in TRUTH:
            name = "%s%d_%d" % (proto, ver, port)
            mine = [r for r in recs if r["type"] == "flow" and r["cgroup_id"] == s.client_cg.id
                    and r["proto"] == proto and r["ip_version"] == ver and r["dst_port"] == port]
            up = tuple(after[name + "_up"][i] - before[name + "_up"][i] for i in (1, 0))
            down = tuple(after[name + "_down"][i] - before[name + "_down"][i] for i in (1, 0))
            self.assertEqual(fslib.sum_fields(mine, "tx_bytes", "tx_packets"), up, name)
            self.assertEqual(fslib.sum_fields(mine, "rx_bytes", "rx_packets"), down, name)
        print("broker down 10 s: %d flow + %d dns records, all read back once (%d from the "
              "outage)" % (flows, dns, len(during)), file=sys.stderr)

    def test_tiny_buffer_drops_are_counted(self):
        s = self.s
        broker = s.broker()
        metrics = "127.0.0.1:%d" % fslib.free_tcp_port()
        agent = s.agent("--interval", "1", "--kafka-brokers", broker.bootstrap,
                        "--kafka-buffer-bytes", "1024", "--kafka-flush-timeout", "5000",
                        "--metrics-addr", metrics)
        agent.wait_attached()
        stop = threading.Event()
        traffic = s.background(stop, gap=0.05)
        time.sleep(1.5)
        broker.stop()
        time.sleep(4)
        self.assertIsNone(agent.proc.poll(), "agent exited with a full buffer")
        produced, delivered, dropped_now, buffered = kafka_metrics(metrics)
        self.assertGreater(dropped_now, 0, "no drop counted while the buffer was full")
        self.assertLessEqual(buffered, 1024)
        broker.start()
        up_ns = time.time_ns()
        self.wait_log(agent, "kafka: brokers reachable again", 20)
        time.sleep(1.5)
        stop.set()
        traffic.join(30)
        self.assertIsNone(agent.proc.poll(), "agent exited with a full buffer")
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())

        flows, dns, refused = agent_totals(agent)
        m = KAFKA_LOST.search(agent.stderr())
        self.assertIsNotNone(m, agent.stderr())
        undelivered, failed, queued, _, dropped = (int(x) for x in m.groups())
        self.assertEqual((undelivered, failed, queued), (0, 0, 0))
        self.assertGreater(dropped, 0)
        # the sink's count is what the agent counted as refused, flows and DNS
        self.assertEqual(dropped, refused)
        self.assertGreaterEqual(dropped, dropped_now)
        recs = self.consume(broker)
        self.assertEqual(len(recs), flows + dns - dropped)
        after_outage = [r for r in recs if r.get("end_ns", r.get("ts_ns")) > up_ns]
        self.assertGreater(len(after_outage), 0, "nothing delivered after the outage")
        print("1 KiB buffer: %d records, %d dropped and counted, %d read back" %
              (flows + dns, dropped, len(recs)), file=sys.stderr)

    def test_cluster_down_at_start_then_up(self):
        s = self.s
        broker = s.broker()
        broker.stop()
        agent = s.agent("--interval", "1", "--kafka-brokers", broker.bootstrap,
                        "--kafka-format", "protobuf", "--kafka-records-per-message", "10")
        agent.wait_attached()
        self.wait_log(agent, "kafka: no broker reachable", 10)
        stop = threading.Event()
        traffic = s.background(stop)
        time.sleep(2)
        broker.start()
        self.wait_log(agent, "kafka: brokers reachable again", 20)
        stop.set()
        traffic.join(30)
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
        flows, dns, refused = agent_totals(agent)
        m = KAFKA_ALL.search(agent.stderr())
        self.assertIsNotNone(m, agent.stderr())
        self.assertEqual((int(m.group(1)), refused), (flows + dns, 0))
        got = KafkaRun(broker, ("protobuf", 10))
        self.assertEqual((len(got.records[FLOWS]), len(got.records[DNS_TOPIC])), (flows, dns))
        check_kafka_exit_counters(self, agent, {"flow": flows, "dns": dns},
                                  {"flow": 0, "dns": 0})
        self.assertGreater(dns, 0)

    def test_unreachable_cluster_at_start_is_not_fatal(self):
        s = self.s
        agent = s.agent("--interval", "60", "--kafka-brokers",
                        "127.0.0.1:%d" % free_loopback_port(), "--kafka-flush-timeout", "1000")
        agent.wait_attached()
        s.udp("198.51.100.2", 2, 100)
        s.tcp("2001:db8:2::2", 100, 100)
        s.dig("@" + DNS, "web.example.test", "A")
        self.wait_log(agent, "kafka: no broker reachable", 10)
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
        flows, dns, refused = agent_totals(agent)
        m = KAFKA_LOST.search(agent.stderr())
        self.assertIsNotNone(m, agent.stderr())
        undelivered, failed, queued, ms, dropped = (int(x) for x in m.groups())
        self.assertGreater(flows, 0)
        self.assertEqual(dns, 1)
        self.assertEqual((undelivered, failed, queued, ms, dropped, refused),
                         (flows + dns, 0, flows + dns, 1000, 0, 0))
        # what the flush could not deliver was purged and is counted as failed at exit
        check_kafka_exit_counters(self, agent, {"flow": 0, "dns": 0},
                                  {"flow": flows, "dns": dns})
        self.assertIn("%d records could not be delivered" % (flows + dns), agent.stderr())


class KafkaUsageErrors(unittest.TestCase):
    """First half of acceptance 4: exit 2 with a message that names the problem, before the
    agent loads anything."""

    def run_agent(self, *args):
        t0 = time.time()
        # a cgroup root that does not exist: were the options accepted, the agent would stop
        # there (exit 1) without attaching anything
        p = subprocess.run([fslib.agent_binary(), "--duration", "1", "--cgroup-root",
                            "/nonexistent/flowscope-e2e"] + list(args),
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr, time.time() - t0

    def test_bad_brokers_and_options(self):
        cases = [
            (["--kafka-brokers", "kafka-0:notaport"],
             'bad kafka broker address "kafka-0:notaport"'),
            (["--kafka-brokers", "127.0.0.1:99999"], "port must be a number from 1 to 65535"),
            (["--kafka-brokers", "[2001:db8::1:9092"], "bad IPv6 address in brackets"),
            (["--kafka-brokers", "a:9092,,b:9092"], "empty entry"),
            (["--kafka-brokers", "http://a:9092"], "unknown protocol"),
            (["--kafka-brokers", ""], "--kafka-brokers"),
            (["--kafka-brokers", "127.0.0.1:9092", "--kafka-option", "no.such.property=1"],
             'unknown kafka option "no.such.property"'),
            (["--kafka-brokers", "127.0.0.1:9092", "--kafka-option", "linger.ms=soon"],
             'kafka option "linger.ms"'),
            (["--kafka-brokers", "127.0.0.1:9092", "--kafka-option", "acks"],
             "invalid value for --kafka-option: expected key=value"),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                rc, err, took = self.run_agent(*args)
                self.assertEqual(rc, 2, err)
                self.assertIn(want, err)
                self.assertTrue(err.startswith("flowscope: "), err)
                self.assertNotIn("attached", err)
                self.assertLess(took, 5)

    def test_secrets_stay_out_of_errors(self):
        rc, err, _ = self.run_agent("--kafka-brokers", "127.0.0.1:9092", "--kafka-option",
                                    "sasl.password=Hunter2-e2e", "--kafka-option",
                                    "ssl.key.password=Hunter3-e2e", "--kafka-option",
                                    "no.such.property=1")
        self.assertEqual(rc, 2, err)
        self.assertIn("no.such.property", err)
        self.assertNotIn("Hunter2-e2e", err)
        self.assertNotIn("Hunter3-e2e", err)


if __name__ == "__main__":
    # warnings=False: keep the filters kafka_broker sets instead of unittest's "default"
    unittest.main(verbosity=2, warnings=False)
