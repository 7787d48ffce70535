"""Shared harness for flowscope's end-to-end tests.

Builds network-namespace topologies with unique names, test cgroups under the cgroup v2 mount
(found from /proc/mounts), runs peers inside them, runs the agent, and reads ground truth from
nftables counters. Everything it creates is removed in close(), also on failure.
"""
import json
import os
import random
import signal
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


def unique_prefix():
    # interface names are at most 15 bytes: "fs" + 6 digits + a 2-byte suffix
    return "fs%06d" % ((os.getpid() * 7919 + random.randrange(10**6)) % 10**6)


class Cgroup:
    """A cgroup v2 directory created for the test."""

    def __init__(self, path):
        self.path = path
        os.mkdir(path)
        self.id = os.stat(path).st_ino

    def child(self, name):
        return Cgroup(os.path.join(self.path, name))

    def enter_fn(self):
        procs = os.path.join(self.path, "cgroup.procs")

        def enter():
            with open(procs, "w") as f:
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
    def agent(self, *args):
        return Agent(self, args)

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
    """flowscope running with stdout and stderr captured to files."""

    def __init__(self, env, args):
        self.out_path = os.path.join(env.tmp, "agent-%d.out" % len(env.procs))
        self.err_path = self.out_path[:-4] + ".err"
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([agent_binary()] + list(args), stdout=self.out,
                                     stderr=self.err)
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


def sum_fields(records, *fields):
    return tuple(sum(r[f] for r in records) for f in fields)
