"""Shared harness for flowscope's end-to-end tests.

Builds network-namespace topologies with unique names, test cgroups under the cgroup v2 mount
(found from /proc/mounts), runs peers inside them, runs the agent, and reads ground truth from
nftables counters. Everything it creates is removed in close(), also on failure.
"""
import json
import os
import random
import signal
import socket
import urllib.request
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers.py")


def sh(*cmd, check=True, capture=True, input=None, timeout=60):
    """Runs a command; returns its stdout. Raises with stderr on failure."""
    p = subprocess.run(cmd, input=input, capture_output=capture, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                   (p.stderr or "").strip()))
    return p.stdout


def cgroup2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup2":
                return parts[1]
    raise RuntimeError("no cgroup2 mount in /proc/mounts: flowscope requires cgroup v2")


def cgroup_v1_memory_mount():
    """Mount point of the cgroup v1 hierarchy that holds the memory controller."""
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "cgroup" and "memory" in parts[3].split(","):
                return parts[1]
    raise RuntimeError("no cgroup v1 memory hierarchy in /proc/mounts: the v1 mode tests need "
                       "a hybrid or legacy host")


def v1_memory_group(pid):
    """(id, path) of the process's cgroup in the v1 memory hierarchy."""
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if "memory" in ctrls.split(","):
                return os.stat(cgroup_v1_memory_mount() + path).st_ino, path
    raise RuntimeError("no v1 memory cgroup for pid %d" % pid)


def unique_prefix():
    # interface names are at most 15 bytes: "fs" + 6 digits + a 2-byte suffix
    return "fs%06d" % ((os.getpid() * 7919 + random.randrange(10**6)) % 10**6)


class Cgroup:
    """A cgroup directory created for the test (v2, or a v1 hierarchy's). also: more cgroups,
    of other hierarchies, that a process entering this one enters too."""

    def __init__(self, path, also=()):
        self.path = path
        self.also = list(also)
        os.mkdir(path)
        self.id = os.stat(path).st_ino

    def child(self, name):
        return Cgroup(os.path.join(self.path, name))

    def enter_fn(self):
        procs = [os.path.join(cg.path, "cgroup.procs") for cg in [self] + self.also]

        def enter():
            for path in procs:
                with open(path, "w") as f:
                    f.write("0")
        return enter

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # processes still exiting


class Env:
    """Owns every namespace, cgroup and process a test creates."""

    def __init__(self):
        self.prefix = unique_prefix()
        self.netns = []
        self.procs = []
        self.cgroups = []
        self.tmp = tempfile.mkdtemp(prefix=self.prefix + "-")
        root = Cgroup(os.path.join(cgroup2_mount(), "flowscope-test-" + self.prefix))
        self.cgroups.append(root)
        self.cgroup_root = root

    # ---- cgroups -------------------------------------------------------------------------
    def cgroup(self, name):
        cg = self.cgroup_root.child(name)
        self.cgroups.append(cg)
        return cg

    # ---- namespaces ----------------------------------------------------------------------
    def add_netns(self, suffix):
        name = self.prefix + suffix
        sh("ip", "netns", "add", name)
        self.netns.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def ns(self, name, *cmd, **kw):
        return sh("ip", "netns", "exec", name, *cmd, **kw)

    def veth(self, ns_a, dev_a, ns_b, dev_b):
        sh("ip", "link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b,
           "netns", ns_b)
        for ns, dev in ((ns_a, dev_a), (ns_b, dev_b)):
            # segmentation offloads off: the next hop sees wire-sized packets
            self.ns(ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off")
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def addr(self, ns, dev, cidr):
        extra = ["nodad"] if ":" in cidr else []
        sh("ip", "-n", ns, "addr", "add", cidr, "dev", dev, *extra)

    def routed_topology(self):
        """client --veth-- router --veth-- server, IPv4 and IPv6, documentation ranges.

        client 192.0.2.2 / 2001:db8:1::2, server 198.51.100.2 / 2001:db8:2::2."""
        c, r, s = self.add_netns("c"), self.add_netns("r"), self.add_netns("s")
        self.client_ns, self.router_ns, self.server_ns = c, r, s
        self.veth(c, self.prefix + "c0", r, self.prefix + "r0")
        self.veth(r, self.prefix + "r1", s, self.prefix + "s0")
        self.addr(c, self.prefix + "c0", "192.0.2.2/24")
        self.addr(c, self.prefix + "c0", "2001:db8:1::2/64")
        self.addr(r, self.prefix + "r0", "192.0.2.1/24")
        self.addr(r, self.prefix + "r0", "2001:db8:1::1/64")
        self.addr(r, self.prefix + "r1", "198.51.100.1/24")
        self.addr(r, self.prefix + "r1", "2001:db8:2::1/64")
        self.addr(s, self.prefix + "s0", "198.51.100.2/24")
        self.addr(s, self.prefix + "s0", "2001:db8:2::2/64")
        for ns, gw4, gw6 in ((c, "192.0.2.1", "2001:db8:1::1"), (s, "198.51.100.1", "2001:db8:2::1")):
            sh("ip", "-n", ns, "route", "add", "default", "via", gw4)
            sh("ip", "-n", ns, "-6", "route", "add", "default", "via", gw6)
        self.ns(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.ns(r, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")

    def nft(self, ns, ruleset):
        self.ns(ns, "nft", "-f", "-", input=ruleset)

    def nft_counters(self, ns, table="fs", family="inet"):
        """{counter name: (packets, bytes)} of the named counters in the table."""
        out = json.loads(self.ns(ns, "nft", "-j", "list", "counters", "table", family, table))
        res = {}
        for item in out["nftables"]:
            c = item.get("counter")
            if c:
                res[c["name"]] = (c["packets"], c["bytes"])
        return res

    # ---- processes -----------------------------------------------------------------------
    def spawn(self, cmd, cgroup=None, ns=None, stdout=subprocess.PIPE):
        full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
        p = subprocess.Popen(full, stdout=stdout, stderr=subprocess.PIPE, text=True,
                             preexec_fn=cgroup.enter_fn() if cgroup else None)
        self.procs.append(p)
        return p

    def server(self, kind, ns, bind, port, cgroup=None):
        p = self.spawn([sys.executable, PEERS, kind, bind, str(port)], cgroup=cgroup, ns=ns)
        line = p.stdout.readline()
        if not line:
            raise RuntimeError("%s did not start: %s" % (kind, p.stderr.read()))
        return json.loads(line)

    def client(self, args, ns, cgroup, timeout=60):
        p = self.spawn([sys.executable, PEERS] + list(args), cgroup=cgroup, ns=ns)
        out, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("client %s failed: %s" % (args, err))
        return json.loads(out.strip().splitlines()[-1])

    # ---- the agent -----------------------------------------------------------------------
    def agent(self, *args, wrap=()):
        """flowscope with args; wrap: a command it runs under ("unshare", "-pf", ...)."""
        return Agent(self, args, wrap)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()
        for ns in self.netns:
            sh("ip", "netns", "del", ns, check=False)
        for cg in reversed(self.cgroups):
            cg.remove()
        subprocess.run(["rm", "-rf", self.tmp])


def agent_binary():
    path = os.environ.get("FLOWSCOPE")
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError("set FLOWSCOPE to the built flowscope binary (CTest does)")
    return path


class Agent:
    """flowscope running with stdout and stderr captured to files.

    The tests build cgroup v2 groups, so the agent runs with --cgroup-mode v2 unless the test
    gives a --cgroup-mode itself (on a hybrid host, auto would pick the v1 memory hierarchy)."""

    def __init__(self, env, args, wrap=()):
        if "--cgroup-mode" not in args:
            args = ("--cgroup-mode", "v2") + tuple(args)
        self.out_path = os.path.join(env.tmp, "agent-%d.out" % len(env.procs))
        self.err_path = self.out_path[:-4] + ".err"
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(list(wrap) + [agent_binary()] + list(args),
                                     stdout=self.out, stderr=self.err)
        env.procs.append(self.proc)

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_attached(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if "attached to cgroup" in self.stderr():
                return
            if self.proc.poll() is not None:
                raise RuntimeError("agent exited early (%d): %s" % (self.proc.returncode,
                                                                    self.stderr()))
            time.sleep(0.05)
        raise RuntimeError("agent did not attach: " + self.stderr())

    def stop(self, sig=None, timeout=60):
        if sig is not None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout)
        self.out.close()
        self.err.close()
        return self.proc.returncode

    def records(self, rtype=None):
        recs = []
        with open(self.out_path) as f:
            for line in f:
                r = json.loads(line)
                if rtype is None or r["type"] == rtype:
                    recs.append(r)
        return recs

    def counter(self, name):
        """A counter from the 'counters:' line the agent logs at exit."""
        for line in self.stderr().splitlines():
            if "counters:" in line:
                for kv in line.split("counters:", 1)[1].split():
                    k, v = kv.split("=", 1)
                    if k == name:
                        return int(v)
        raise KeyError(name)


def loopback_tcp_script(refused=False):
    """A Python script (for `python3 -c`, in a namespace of the test's own) that listens on
    127.0.0.1:8080, connects to it, accepts, and closes all three; with refused, it then also
    connects to 127.0.0.1:8081, where nothing listens. It prints one JSON line: its pid, the
    client's port and, with refused, the connect's errno (111, or 0 if it was accepted)."""
    script = r"""
import json, os, socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 8080)); l.listen(4)
c = socket.create_connection(("127.0.0.1", 8080)); a, _ = l.accept()
cport = c.getsockname()[1]
c.close(); a.close(); l.close()
out = {"pid": os.getpid(), "client_port": cport}
"""
    if refused:
        script += r"""r = socket.socket()
try:
    r.connect(("127.0.0.1", 8081)); out["refused"] = 0
except ConnectionRefusedError:
    out["refused"] = 111
"""
    return script + "print(json.dumps(out))\n"


def free_tcp_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(addr):
    """{(name, labels): value} from a Prometheus text page at http://addr/metrics."""
    with urllib.request.urlopen("http://%s/metrics" % addr, timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    res = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        name, _, labels = key.partition("{")
        res[(name, labels.rstrip("}"))] = int(value)
    return res


def sum_fields(records, *fields):
    return tuple(sum(r[f] for r in records) for f in fields)


# ---- Kafka payloads: protobuf framing, protoc --------------------------------------------

REPO = os.path.dirname(os.path.dirname(HERE))
PROTO_DIR = os.path.join(REPO, "proto")
PROTO_FILE = "flowscope/v1/records.proto"


def split_delimited(buf):
    """The messages of a varint length-delimited protobuf stream; raises on a broken frame."""
    msgs, pos = [], 0
    while pos < len(buf):
        n, shift = 0, 0
        while True:
            if pos >= len(buf) or shift > 63:
                raise ValueError("length-delimited stream: cut inside a varint")
            b = buf[pos]
            pos += 1
            n |= (b & 0x7f) << shift
            shift += 7
            if not b & 0x80:
                break
        if pos + n > len(buf):
            raise ValueError("length-delimited stream: message of %d bytes cut at %d"
                             % (n, len(buf) - pos))
        msgs.append(buf[pos:pos + n])
        pos += n
    return msgs


def protoc_decode(message_type, payload):
    """protoc --decode with the published schema; returns protoc's text format output.
    Raises when protoc cannot parse the bytes as message_type."""
    p = subprocess.run(["protoc", "--decode", message_type, "-I", PROTO_DIR, PROTO_FILE],
                       input=payload, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("protoc --decode %s failed (%d) on %s: %s"
                           % (message_type, p.returncode, payload.hex(),
                              p.stderr.decode(errors="replace")))
    return p.stdout.decode()


def parse_text_format(text):
    """protoc's text format into {field: [values]} (nested messages as such dicts); every field
    is a list because the text format does not say which are repeated."""
    import ast
    stack = [{}]
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line == "}":
            stack.pop()
        elif line.endswith("{"):
            sub = {}
            stack[-1].setdefault(line[:-1].strip(), []).append(sub)
            stack.append(sub)
        else:
            name, value = line.split(":", 1)
            value = value.strip()
            if value.startswith('"') and name.endswith("_bytes"):
                value = ast.literal_eval("b" + value)  # a bytes field stays bytes
            elif value.startswith('"'):
                value = ast.literal_eval("b" + value).decode()
            elif value in ("true", "false"):
                value = value == "true"
            else:
                value = int(value)
            stack[-1].setdefault(name, []).append(value)
    if len(stack) != 1:
        raise ValueError("unbalanced text format: " + text)
    return stack[0]


# JSON record fields by kind, to give decoded protobuf records the JSON format's shape.
_PB_SHAPE = {
    "flowscope.v1.FlowRecord": {
        "int": ("schema_version", "start_ns", "end_ns", "cgroup_id", "pid", "ip_version",
                "src_port", "dst_port", "tx_bytes", "tx_packets", "rx_bytes", "rx_packets",
                "src_actual_port", "dst_actual_port", "cgroup_version"),
        "str": ("node", "comm", "proto", "initiator", "src_addr", "dst_addr",
                "src_actual_addr", "dst_actual_addr"),
        "null_str": ("cgroup_path", "dst_domain", "dst_pod_namespace", "dst_pod_name"),
        "bool": ("nat",),
        "list": ("tcp_flags",),
        "type": "flow",
    },
    "flowscope.v1.DnsRecord": {
        "int": ("schema_version", "ts_ns", "cgroup_id", "pid", "ip_version", "src_port",
                "dst_port", "id", "cgroup_version"),
        "str": ("node", "comm", "proto", "src_addr", "dst_addr", "qname", "qtype", "rcode"),
        "null_str": ("cgroup_path",),
        "null_int": ("latency_ns",),  # explicit presence: absent is null
        "bool": ("timeout", "truncated"),
        "list": ("answers",),
        "type": "dns",
    },
}


# Text address fields whose 16-byte twin <name>_bytes the protobuf records carry.
_PB_ADDR_BYTES = {
    "flowscope.v1.FlowRecord": ("src_addr", "dst_addr", "src_actual_addr", "dst_actual_addr"),
    "flowscope.v1.DnsRecord": ("src_addr", "dst_addr"),
}


def addr_bytes(text):
    """The 16 bytes of an address as the protobuf <address>_bytes fields carry it: IPv6 as it
    is, IPv4 as the IPv4-mapped ::ffff:a.b.c.d (records.proto)."""
    import ipaddress
    a = ipaddress.ip_address(text)
    return a.packed if a.version == 6 else b"\0" * 10 + b"\xff\xff" + a.packed


def _check_addr_bytes(message_type, rec, get):
    """Every <address>_bytes field (get(name) -> its values) is exactly the text address's 16
    bytes; the JSON format has no such field, so it is checked here and left out of rec."""
    for f in _PB_ADDR_BYTES[message_type]:
        got, want = get(f + "_bytes"), [addr_bytes(rec[f])]
        if got != want:
            raise ValueError("%s: %s_bytes %r is not %s (%r)" % (message_type, f, got, rec[f],
                                                                  want))


WORKLOAD_FIELDS = ("container_id", "container_runtime", "container_name", "pod_uid",
                   "pod_namespace", "pod_name")


def pb_to_record(message_type, fields):
    """A parse_text_format() result as the JSON format's record dict (absent -> default, or
    None for the fields that are null in JSON)."""
    shape = _PB_SHAPE[message_type]
    known = set()
    rec = {"type": shape["type"]}
    for kind, default in (("int", 0), ("str", ""), ("null_str", None), ("null_int", None),
                          ("bool", False)):
        for f in shape.get(kind, ()):
            known.add(f)
            vals = fields.get(f, [])
            if len(vals) > 1:
                raise ValueError("%s: field %s given %d times" % (message_type, f, len(vals)))
            rec[f] = vals[0] if vals else default
    for f in shape["list"]:
        known.add(f)
        rec[f] = fields.get(f, [])
    if rec["type"] == "dns":
        # JSON has no timeout field: its rcode says "TIMEOUT"
        if rec.pop("timeout") != (rec["rcode"] == "TIMEOUT"):
            raise ValueError("DnsRecord: timeout disagrees with rcode %r" % rec["rcode"])
        rec["answers"] = [{"name": a.get("name", [""])[0], "type": a.get("type", [""])[0],
                           "ttl": a.get("ttl", [0])[0], "data": a.get("data", [""])[0]}
                          for a in rec["answers"]]
    # Workload: one nested message, flat fields in JSON ("" and absent are null)
    known.add("workload")
    wl = fields.get("workload", [{}])
    if len(wl) > 1:
        raise ValueError("%s: workload given %d times" % (message_type, len(wl)))
    for f in WORKLOAD_FIELDS:
        vals = wl[0].get(f, [])
        rec[f] = vals[0] if vals and vals[0] != "" else None
    _check_addr_bytes(message_type, rec, lambda f: fields.get(f, []))
    known.update(f + "_bytes" for f in _PB_ADDR_BYTES[message_type])
    unknown = set(fields) - known
    if unknown:
        raise ValueError("%s: fields not in the schema map: %s" % (message_type, unknown))
    return rec


# ---- Python's protobuf runtime (the protobuf PyPI package), from a descriptor set ------------

_PB_CLASSES = {}


def pb_class(message_type):
    """The message class of message_type, built by the protobuf package from the descriptor set
    `protoc --descriptor_set_out` makes of the published schema (no generated code, so any
    runtime version reads it). Its parser rejects invalid UTF-8 in string fields."""
    if not _PB_CLASSES:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        with tempfile.NamedTemporaryFile(suffix=".pb") as f:
            sh("protoc", "--descriptor_set_out=" + f.name, "-I", PROTO_DIR, PROTO_FILE)
            fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        pool = descriptor_pool.DescriptorPool()
        for fd in fds.file:
            pool.Add(fd)
        for name in _PB_SHAPE:
            _PB_CLASSES[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    return _PB_CLASSES[message_type]


def pb_python_record(message_type, payload):
    """payload parsed by Python's protobuf runtime, as the JSON format's record dict (the same
    shape pb_to_record() gives protoc's output)."""
    return pb_message_record(message_type, pb_class(message_type).FromString(payload))


def pb_message_record(message_type, m):
    """A parsed message m of message_type (pb_class()) as the JSON format's record dict."""
    shape = _PB_SHAPE[message_type]
    rec = {"type": shape["type"]}
    for f in shape.get("int", ()) + shape.get("str", ()) + shape.get("bool", ()):
        rec[f] = getattr(m, f)
    for f in shape.get("null_str", ()):
        rec[f] = getattr(m, f) or None
    for f in shape.get("null_int", ()):
        rec[f] = getattr(m, f) if m.HasField(f) else None
    rec.update({f: list(getattr(m, f)) for f in shape["list"]})
    if rec["type"] == "dns":
        if rec.pop("timeout") != (rec["rcode"] == "TIMEOUT"):
            raise ValueError("DnsRecord: timeout disagrees with rcode %r" % rec["rcode"])
        rec["answers"] = [{"name": a.name, "type": a.type, "ttl": a.ttl, "data": a.data}
                          for a in rec["answers"]]
    # Workload: one nested message, flat fields in JSON ("" and absent are null)
    for f in WORKLOAD_FIELDS:
        rec[f] = (getattr(m.workload, f) or None) if m.HasField("workload") else None
    _check_addr_bytes(message_type, rec, lambda f: [getattr(m, f)])
    return rec


def java_murmur2(data):
    """org.apache.kafka.common.utils.Utils.murmur2: the hash of the Java client's default
    partitioner (and kafkajs'), written from its definition, as a signed 32-bit int."""
    m, r, mask = 0x5bd1e995, 24, 0xffffffff
    length = len(data)
    h = (0x9747b28c ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key, partitions):
    """The partition the Java producer's default partitioner picks for a keyed record:
    Utils.toPositive(Utils.murmur2(key)) % partitions."""
    return (java_murmur2(key) & 0x7fffffff) % partitions
