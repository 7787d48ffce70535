"""A real Apache Kafka broker for the end-to-end tests: one KRaft node (broker and controller in
one JVM) on loopback, with its storage formatted in a temporary directory.

The broker's jars are put in FLOWSCOPE_KAFKA_LIBS (default /var/cache/flowscope/kafka-broker/lib)
by scripts/setup.sh from tests/kafka/broker/pom.xml. KafkaBroker starts kafka.Kafka from them
on a free port, creates topics with the configs a test asks for (through kafka-python's admin
client, not librdkafka), stops and starts the same process again on the same port and storage
for outage tests, and removes everything in close(), also after a failure (and on leaving a
`with KafkaBroker() as b:` block).

Run as a script, it is a broker for manual use that does not outlive the command:

    /var/cache/flowscope/venv/bin/python3 tests/e2e/kafka_broker.py [TOPIC[:PARTITIONS] ...]

prints the bootstrap address on its first line, serves until Ctrl-C, SIGTERM or SIGHUP, then stops
the JVM and removes its directory; the JVM is also killed if the script itself dies.
"""
import base64
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings

# kafka-python 3.0 loads its protocol schemas with importlib.resources calls that Python 3.11
# calls deprecated: noise in every test's output
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"kafka\.|importlib")

LIBS = os.environ.get("FLOWSCOPE_KAFKA_LIBS", "/var/cache/flowscope/kafka-broker/lib")

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def java():
    home = os.environ.get("JAVA_HOME")
    return os.path.join(home, "bin", "java") if home else "java"


class KafkaBroker:
    """One KRaft broker+controller process. bootstrap is "127.0.0.1:PORT"."""

    def __init__(self, tmp=None, log_level="INFO", die_with_parent=False):
        if not os.path.isdir(LIBS) or not any(n.startswith("kafka_2.13-")
                                              for n in os.listdir(LIBS)):
            raise RuntimeError("no Kafka broker jars in %s: run scripts/setup.sh" % LIBS)
        self.dir = tempfile.mkdtemp(prefix="fs-kafka-", dir=tmp)
        self.port, self.cport = free_port(), free_port()
        while self.cport == self.port:
            self.cport = free_port()
        self.bootstrap = "127.0.0.1:%d" % self.port
        self.log = os.path.join(self.dir, "broker.log")
        self.props = os.path.join(self.dir, "server.properties")
        self.log4j = os.path.join(self.dir, "log4j2.properties")
        self.proc = None
        self._admin = None
        self.die_with_parent = die_with_parent
        with open(self.log4j, "w") as f:
            f.write(LOG4J2.format(log=self.log, level=log_level))
        with open(self.props, "w") as f:
            f.write("\n".join([
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:%d" % self.cport,
                "listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d"
                % (self.port, self.cport),
                "advertised.listeners=PLAINTEXT://127.0.0.1:%d" % self.port,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "log.dirs=" + os.path.join(self.dir, "data"),
                "auto.create.topics.enable=false",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                # a killed broker's registration expires fast, so a restart is quick
                "broker.session.timeout.ms=2000",
                "broker.heartbeat.interval.ms=500",
                "log.flush.interval.messages=1000000",
                "",
            ]))
        try:
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            p = subprocess.run(self._java("kafka.tools.StorageTool", "format",
                                          "--cluster-id=" + cluster_id,  # may start with '-'
                                          "--config", self.props), capture_output=True, text=True,
                               timeout=120)
            if p.returncode != 0:
                raise RuntimeError("kafka-storage format failed (%d): %s %s"
                                   % (p.returncode, p.stdout, p.stderr))
            self.start()
        except BaseException:
            self.close()
            raise

    def _java(self, main, *args):
        # small heap, C1 only: the broker starts in a few seconds on a busy 2-core machine
        return [java(), "-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Djava.awt.headless=true", "-Dlog4j2.configurationFile=" + self.log4j,
                "-cp", os.path.join(LIBS, "*"), main] + list(args)

    def start(self, timeout=90):
        """Starts the broker process (again, after stop()) and waits until it serves clients."""
        assert self.proc is None
        self.out = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self._java("kafka.Kafka", self.props), stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=_die_with_parent if self.die_with_parent
                                     else None)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kafka broker exited (%d): %s" % (self.proc.returncode,
                                                                      self.tail()))
            if self._serving():
                return
            time.sleep(0.2)
        raise RuntimeError("kafka broker not serving on %s within %d s: %s"
                           % (self.bootstrap, timeout, self.tail()))

    def _serving(self):
        # the broker is up once its log says so and its port takes connections
        try:
            with open(self.log, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return False
        if "Kafka Server started" not in text and "[KafkaRaftServer nodeId=1] Kafka Server " \
                "started" not in text:
            return False
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self, timeout=30):
        """Stops the broker process (SIGKILL: an outage, not a clean shutdown) and waits for
        it; the storage stays, so start() brings back the same topics and messages."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self.proc is not None:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
            self.proc = None
            self.out.close()
            # the next start must see its own "started" line, not this one's
            os.replace(self.log, self.log + ".%d" % time.time_ns())

    def tail(self, n=4000):
        text = ""
        for path in (self.log, os.path.join(self.dir, "stdout.log")):
            try:
                with open(path, errors="replace") as f:
                    text += f.read()[-n:]
            except FileNotFoundError:
                pass
        return text

    def admin(self):
        from kafka.admin import KafkaAdminClient
        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap,
                                           client_id="fs-e2e-admin", request_timeout_ms=30000)
        return self._admin

    def create_topic(self, name, partitions=1, **configs):
        """Creates a topic; configs are topic configs with '_' for '.'
        (max_message_bytes=4096 is max.message.bytes)."""
        from kafka.admin import NewTopic
        cfg = {k.replace("_", "."): str(v) for k, v in configs.items()}
        self.admin().create_topics([NewTopic(name, partitions, 1, topic_configs=cfg)],
                                   timeout_ms=30000)
        # wait until every partition has a leader
        from kafka import KafkaConsumer
        c = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                parts = c.partitions_for_topic(name)
                if parts is not None and len(parts) == partitions:
                    return
                time.sleep(0.2)
                c._client.cluster.request_update()
            raise RuntimeError("topic %s has no leaders after 30 s" % name)
        finally:
            c.close()

    def close(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def messages(self, topic, timeout=60):
        """Every message of topic: read_topic() of this broker."""
        return read_topic(self.bootstrap, topic, timeout)

    def batch_codecs(self, topic):
        """{partition: set of compression codec names} of the record batches on disk, as the
        broker's own DumpLogSegments prints them ("lz4", "gzip", "none"); one JVM run."""
        data = os.path.join(self.dir, "data")
        logs = []
        for d in os.listdir(data):
            part = d[len(topic) + 1:]
            if d.startswith(topic + "-") and part.isdigit():
                logs += [os.path.join(data, d, f) for f in os.listdir(os.path.join(data, d))
                         if f.endswith(".log")]
        p = subprocess.run(self._java("kafka.tools.DumpLogSegments", "--files",
                                      ",".join(sorted(logs))), capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            raise RuntimeError("DumpLogSegments failed: %s" % p.stderr)
        out, part = {}, None
        for line in p.stdout.splitlines():
            m = re.match(r"Dumping .*/%s-(\d+)/" % re.escape(topic), line)
            if m:
                part = int(m.group(1))
                out.setdefault(part, set())
            for codec in re.findall(r"compresscodec: (\w+)", line):
                out[part].add(codec.lower())
        return out


def read_topic(bootstrap, topic, timeout=60):
    """Every message of topic on the broker at bootstrap, all partitions, from the beginning to
    the end offsets of now, read with kafka-python (an implementation of the protocol
    independent of librdkafka): [Message] sorted by partition and offset."""
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      group_id=None, client_id="fs-e2e-consumer",
                      max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic)
                                                            or ())]
        if not parts:
            raise RuntimeError("topic %s does not exist" % topic)
        c.assign(parts)
        c.seek_to_beginning(*parts)
        end = c.end_offsets(parts)
        out, deadline = [], time.time() + timeout
        while any(c.position(tp) < end[tp] for tp in parts):
            if time.time() > deadline:
                raise RuntimeError("%s: not at the end offsets %s within %d s"
                                   % (topic, end, timeout))
            for tp, recs in c.poll(timeout_ms=500).items():
                out += [Message(r) for r in recs if r.offset < end[tp]]
        return sorted(out, key=lambda m: (m.partition, m.offset))
    finally:
        c.close()


def _die_with_parent():
    # in the child before exec: SIGKILL when the parent dies (prctl PR_SET_PDEATHSIG), so a
    # broker started by hand never outlives the script, whatever ends it
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


class Message:
    """One Kafka message as kafka-python read it."""

    def __init__(self, r):
        self.topic, self.partition, self.offset = r.topic, r.partition, r.offset
        self.key, self.payload = r.key, r.value
        self.headers = list(r.headers or [])
        self.timestamp = r.timestamp

    def header(self, name):
        """The value of the header name (str), or None; raises if it appears twice."""
        vals = [v for k, v in self.headers if k == name]
        if len(vals) > 1:
            raise AssertionError("header %s twice: %r" % (name, self.headers))
        return vals[0].decode() if vals else None

    def __repr__(self):
        return "Message(%s/%d@%d key=%r %d bytes)" % (self.topic, self.partition, self.offset,
                                                      self.key, len(self.payload))


def main(argv):
    """A broker for manual use, with the topics of argv (NAME[:PARTITIONS], default the three
    flowscope topics with 4 partitions), until Ctrl-C, SIGTERM or SIGHUP."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    # SIGINT too: a shell starts a background job with SIGINT ignored
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)
    topics = argv or ["flowscope.flows:4", "flowscope.dns:4", "flowscope.events:4"]
    try:
        with KafkaBroker(die_with_parent=True) as b:
            for t in topics:
                name, _, parts = t.partition(":")
                b.create_topic(name, int(parts or 1))
            print(b.bootstrap, flush=True)
            print("kafka broker %s (pid %d, log %s) with topics %s; Ctrl-C stops it and removes "
                  "%s" % (b.bootstrap, b.proc.pid, b.log, ", ".join(topics), b.dir),
                  file=sys.stderr, flush=True)
            while b.proc.poll() is None:
                time.sleep(0.5)
            print("kafka broker exited (%d): %s" % (b.proc.returncode, b.tail()),
                  file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("kafka broker stopped", file=sys.stderr)
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
