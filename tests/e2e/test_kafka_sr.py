#!/usr/bin/env python3
"""Issue 13, item 4: --kafka-format protobuf-sr, the Schema Registry wire format, read by
confluent-kafka's ProtobufDeserializer and its framing reader (not our code).

Registries: a real one, Apicurio Registry 2.4.2 (apicurio_registry.py, built by setup.sh from
Maven Central), and the stand-in of schema_registry.py for what Apicurio 2.4 cannot do here:
serve `?format=serialized`, which confluent-kafka's SchemaRegistryClient needs to hand the writer
schema to the deserializer, answer 500 on demand, or never answer. The broker is the real KRaft
broker of kafka_broker.py; the messages are read with kafka-python.

1. test_kafka.py's traffic once with the stdout sink, then with protobuf-sr against Apicurio and
   against the stand-in. Each time the agent registered records.proto's exact text under
   <topic>-value for the flow, DNS and event topics (the registry holds it); every message
   carries the headers with framing schema-registry; confluent-kafka's framing reader gives the
   id the registry answered for the subject and a message-index path that names the topic's
   message type in the schema the registry serves for that id (protoc compiles it);
   ProtobufDeserializer decodes every message (with the stand-in through a SchemaRegistryClient,
   which fetches the writer schema by id); `protoc --decode` of the bytes after the framing reads
   the same record field for field; the records equal the stdout run's (the signatures
   test_kafka.py compares) and the client's bytes equal the nftables counters.
2. Apicurio refusing an incompatible schema (BACKWARD rule on a subject holding another
   FlowRecord), the stand-in answering 500, a closed port and a registry that does not answer
   within --kafka-schema-registry-timeout: exit 1, the message names the URL (without the
   userinfo the URL carried), the subject and the HTTP status and answer.
3. protobuf-sr without a registry URL, with more than one record per message, a registry URL
   without protobuf-sr, a URL that is not http(s): exit 2 before anything is loaded.
"""
import base64
import json
import os
import signal
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apicurio_registry  # noqa: E402
import fslib  # noqa: E402
import kafka_broker  # noqa: E402
import schema_registry  # noqa: E402
import test_kafka as tk  # noqa: E402

import warnings  # noqa: E402
import authlib.deprecate  # noqa: E402,F401
# Authlib (a dependency of the registry client) turns its own warnings on at import and warns
# about its httpx module: noise in every run
warnings.filterwarnings("ignore", message=r"The httpx module is deprecated")
from confluent_kafka.schema_registry import (SchemaRegistryClient,  # noqa: E402
                                             dual_schema_id_deserializer)
from confluent_kafka.schema_registry.common.serde import SchemaId  # noqa: E402
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402
from google.protobuf import descriptor_pb2  # noqa: E402

EVENTS = "flowscope.events"

with open(os.path.join(fslib.PROTO_DIR, fslib.PROTO_FILE)) as _f:
    RECORDS_PROTO = _f.read()

# One Apicurio process for the module (it takes 15-30 s to start); the tests use distinct
# subjects.
_APICURIO = []


def apicurio():
    if not _APICURIO:
        _APICURIO.append(apicurio_registry.ApicurioRegistry())
    return _APICURIO[0]


def tearDownModule():
    for r in _APICURIO:
        r.close()


def compiled(text):
    """The FileDescriptorProto protoc makes of a .proto text."""
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "s.proto"), "w") as f:
            f.write(text)
        fslib.sh("protoc", "-I", d, "--descriptor_set_out=" + os.path.join(d, "s.pb"),
                 "s.proto")
        with open(os.path.join(d, "s.pb"), "rb") as f:
            return descriptor_pb2.FileDescriptorSet.FromString(f.read()).file[0]


class ProtobufSrReadByConfluentDeserializer(unittest.TestCase):
    """Acceptance: the schema-registry test of item 4."""

    def run_once(self, s, sink_args):
        before = s.truth()
        agent = s.agent("--interval", "60", *sink_args)
        agent.wait_attached()
        s.script()
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
        return agent, before, s.truth()

    def sr_run(self, s, broker, prefix, url, shown_url, client=None):
        """One protobuf-sr run with registry url; returns (records, {subject: id}, agent
        stderr). shown_url is the URL the agent must log (no userinfo, no trailing /);
        client, a SchemaRegistryClient for the deserializer."""
        topics = s.topics(broker, prefix) + ["--kafka-topic-events", prefix + EVENTS]
        agent, before, after = self.run_once(s, [
            "--kafka-brokers", broker.bootstrap, "--kafka-format", "protobuf-sr",
            "--kafka-schema-registry", url] + topics)
        err = agent.stderr()
        self.assertEqual(agent.records(), [], "records on stdout with --kafka-brokers")
        self.assertNotIn("pa55word", err)
        flows, dns, refused = tk.agent_totals(agent)
        self.assertEqual(refused, 0)
        m = tk.KAFKA_ALL.search(err)
        self.assertIsNotNone(m, err)
        self.assertEqual(int(m.group(1)), flows + dns)
        subjects = [prefix + t + "-value" for t in (tk.FLOWS, tk.DNS_TOPIC, EVENTS)]
        ids = {}
        for x in subjects:
            m = re.search(r"kafka: schema registry %s: subject %s has schema id (\d+), "
                          % (re.escape(shown_url), re.escape(x)), err)
            self.assertIsNotNone(m, err)
            ids[x] = int(m.group(1))

        label = "protobuf-sr " + prefix
        served = {}
        recs = []
        for topic in (tk.FLOWS, tk.DNS_TOPIC):
            ptype = tk.PB_TYPE[topic]
            deser = ProtobufDeserializer(fslib.pb_class(ptype), {}, client)
            ctx = SerializationContext(prefix + topic, MessageField.VALUE)
            msgs = broker.messages(prefix + topic)
            self.assertEqual(len(msgs), {tk.FLOWS: flows, tk.DNS_TOPIC: dns}[topic])
            for msg in msgs:
                self.assertEqual([(k, v.decode()) for k, v in msg.headers],
                                 [("content-type", "application/x-protobuf"),
                                  ("flowscope.message-type", ptype),
                                  ("flowscope.framing", "schema-registry"),
                                  ("flowscope.record-count", "1"),
                                  ("flowscope.schema-version", "1")])
                rec = fslib.pb_message_record(ptype, deser(msg.payload, ctx))
                # confluent-kafka's framing reader: the id and the message-index path
                sid = SchemaId("PROTOBUF")
                rest = dual_schema_id_deserializer(msg.payload, ctx, sid).read()
                self.assertEqual(sid.id, ids[prefix + topic + "-value"])
                if sid.id not in served:
                    served[sid.id] = compiled(self.schema_text(url, sid.id))
                fdp = served[sid.id]
                self.assertEqual(len(sid.message_indexes), 1, sid.message_indexes)
                self.assertEqual(fdp.package + "." +
                                 fdp.message_type[sid.message_indexes[0]].name, ptype)
                # FlowRecord is the first message: the one-byte path [0]
                if topic == tk.FLOWS:
                    self.assertEqual(msg.payload[5], 0)
                    self.assertEqual(len(msg.payload) - len(rest), 6)
                other = fslib.pb_to_record(ptype, fslib.parse_text_format(
                    fslib.protoc_decode(ptype, rest)))
                self.assertEqual(rec, other)
                recs.append(rec)
        s.check_truth(recs, before, after, label)
        tk.check_dns_latency(self, recs, label)
        print("%s: %d flow + %d dns records decoded by ProtobufDeserializer%s, schema ids %s"
              % (label, flows, dns, " with a SchemaRegistryClient" if client else "", ids),
              file=sys.stderr)
        return recs, ids, err

    @staticmethod
    def schema_text(url, schema_id):
        """GET /schemas/ids/{id} of the registry at url: the text it serves."""
        parts = urllib.parse.urlsplit(url)
        base = "%s://%s%s" % (parts.scheme, parts.hostname + ":%d" % parts.port,
                              parts.path.rstrip("/"))
        with urllib.request.urlopen("%s/schemas/ids/%d" % (base, schema_id), timeout=30) as r:
            answer = json.loads(r.read())
        return answer["schema"]

    def test_every_message_decodes_and_equals_the_stdout_run(self):
        s = tk.Setup(self)
        agent, before, after = self.run_once(s, [])
        base = agent.records()
        s.check_truth(base, before, after, "stdout run")
        base_keys, base_sig = s.keys(base), s.signatures(base)
        broker = kafka_broker.KafkaBroker(tmp=s.env.tmp)
        self.addCleanup(broker.close)

        # 1. the real registry. Apicurio 2.4 serves the schema as text only (it ignores
        # ?format=serialized), which confluent-kafka's SchemaRegistryClient cannot hand to the
        # deserializer: the deserializer reads the framing and decodes with the class of the
        # published schema, and the test resolves id and index against what Apicurio serves.
        reg = apicurio()
        recs, ids, err = self.sr_run(
            s, broker, "sr.", reg.url.replace("http://", "http://flowscope:pa55word@") + "/",
            reg.url)
        self.assertEqual(s.keys(recs), base_keys)
        self.assertEqual(s.signatures(recs), base_sig)
        for x, sid in ids.items():
            latest = reg.get("/subjects/%s/versions/latest" % x)
            self.assertEqual((latest["id"], latest["version"], latest["schemaType"]),
                             (sid, 1, "PROTOBUF"), latest)
            self.assertEqual(latest["schema"], RECORDS_PROTO)
        self.assertEqual(sorted(x for x in reg.get("/subjects") if x.startswith("sr.")),
                         sorted(ids))

        # 2. the stand-in, through confluent-kafka's SchemaRegistryClient
        standin = schema_registry.SchemaRegistryStandIn()
        self.addCleanup(standin.close)
        client = SchemaRegistryClient({"url": standin.url})
        recs, ids, err = self.sr_run(
            s, broker, "sb.", standin.url.replace("http://", "http://flowscope:pa55word@"),
            standin.url, client)
        self.assertEqual(s.keys(recs), base_keys)
        self.assertEqual(s.signatures(recs), base_sig)
        posts = standin.posts()
        self.assertEqual([p["path"] for p in posts],
                         ["/subjects/%s/versions" % x for x in ids])
        for p in posts:
            self.assertEqual(p["headers"]["Content-Type"], schema_registry.CT)
            # userinfo in the URL: sent as basic authentication, never logged
            self.assertEqual(p["headers"]["Authorization"],
                             "Basic " + base64.b64encode(b"flowscope:pa55word").decode())
            self.assertEqual(json.loads(p["body"]),
                             {"schemaType": "PROTOBUF", "schema": RECORDS_PROTO})
        # the deserializer took the writer schema from the registry, as the serialized
        # FileDescriptorProto it asks for
        fetched = [urllib.parse.urlsplit(r["path"]) for r in standin.requests
                   if r["method"] == "GET"]
        self.assertIn(("/schemas/ids/%d" % ids["sb.flowscope.flows-value"], ["serialized"]),
                      [(u.path, urllib.parse.parse_qs(u.query).get("format")) for u in fetched])


class ProtobufSrRegistryRefuses(unittest.TestCase):
    """Exit 1 naming the URL, the subject and the registry's answer."""

    def run_agent(self, url, *extra):
        env = fslib.Env()
        self.addCleanup(env.close)
        t0 = time.time()
        agent = env.agent("--cgroup-root", env.cgroup_root.path, "--events", "none",
                          "--kafka-brokers", "127.0.0.1:%d" % tk.free_loopback_port(),
                          "--kafka-format", "protobuf-sr", "--kafka-schema-registry", url,
                          *extra)
        rc = agent.stop(timeout=60)
        return rc, agent.stderr(), time.time() - t0

    def test_refused_unreachable_and_silent(self):
        cases = []
        # the real registry: the subject holds a FlowRecord whose field 2 is a number, under a
        # BACKWARD rule; records.proto's string field 2 is incompatible with it
        reg = apicurio()
        subject = "rf.flowscope.flows-value"
        old = ('syntax = "proto3";\npackage flowscope.v1;\nmessage FlowRecord {\n'
               '  uint32 schema_version = 1;\n  uint64 node = 2;\n}\n')
        self.assertEqual(reg.request("POST", "/subjects/%s/versions" % subject,
                                     {"schemaType": "PROTOBUF", "schema": old})[0], 200)
        self.assertEqual(reg.request("PUT", "/config/%s" % subject,
                                     {"compatibility": "BACKWARD"}),
                         (200, {"compatibility": "BACKWARD"}))
        cases.append(("apicurio 409", reg.url, ["--kafka-topic-flows", "rf.flowscope.flows"],
                      ["schema registry %s refused subject %s: HTTP 409: " % (reg.url, subject),
                       "Incompatible artifact: %s [PROTOBUF]" % subject]))
        standin = schema_registry.SchemaRegistryStandIn(
            fail=(500, b"<html>Internal Server Error</html>"))
        self.addCleanup(standin.close)
        cases.append(("500", standin.url, [],
                      ["schema registry %s refused subject flowscope.flows-value: HTTP 500: "
                       "<html>Internal Server Error</html>" % standin.url]))
        port = tk.free_loopback_port()
        cases.append(("closed port", "http://127.0.0.1:%d" % port, [],
                      ["schema registry http://127.0.0.1:%d: registering subject "
                       "flowscope.flows-value: " % port, "onnect", "(timeout 10000 ms)"]))
        silent = schema_registry.SchemaRegistryStandIn(hang=True)
        self.addCleanup(silent.close)
        cases.append(("silent", silent.url, ["--kafka-schema-registry-timeout", "1000"],
                      ["schema registry %s: registering subject flowscope.flows-value: "
                       % silent.url, "imed out", "(timeout 1000 ms)"]))
        for name, url, extra, wants in cases:
            with self.subTest(registry=name):
                secret_url = url.replace("http://", "http://alice:s3cret@")
                rc, err, took = self.run_agent(secret_url, *extra)
                self.assertEqual(rc, 1, err)
                for want in wants:
                    self.assertIn(want, err)
                self.assertNotIn("s3cret", err)
                self.assertNotIn("alice", err)
                self.assertNotIn("producing", err, "the sink must not start")
                self.assertLess(took, 30)
        # the refused schema is not in the subject; the silent registry got the request and
        # the timeout ended it
        self.assertEqual(reg.get("/subjects/%s/versions" % subject), [1])
        self.assertEqual(len(silent.posts()), 1)


class ProtobufSrUsageErrors(unittest.TestCase):
    """Exit 2 before the agent loads anything."""

    def test_usage(self):
        cases = [
            (["--kafka-format", "protobuf-sr"],
             "--kafka-format protobuf-sr needs --kafka-schema-registry URL"),
            (["--kafka-format", "protobuf-sr", "--kafka-schema-registry", "http://127.0.0.1:1",
              "--kafka-records-per-message", "100"],
             "--kafka-records-per-message must be 1"),
            (["--kafka-schema-registry", "http://127.0.0.1:1"],
             "--kafka-schema-registry is only used with --kafka-format protobuf-sr"),
            (["--kafka-format", "protobuf-sr", "--kafka-schema-registry",
              "ftp://bob:hunter2@127.0.0.1/"],
             "schema registry URL must start with http:// or https://"),
            (["--kafka-format", "protobuf-sr", "--kafka-schema-registry",
              "http://bob:hunter2@127.0.0.1:1/?x=1"],
             "schema registry URL http://127.0.0.1:1/?x=1: no query or fragment allowed"),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                p = subprocess.run([fslib.agent_binary(), "--duration", "1", "--cgroup-root",
                                    "/nonexistent/flowscope-e2e", "--kafka-brokers",
                                    "127.0.0.1:9092"] + args,
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(want, p.stderr)
                self.assertNotIn("hunter2", p.stderr)
                self.assertNotIn("attached", p.stderr)


if __name__ == "__main__":
    unittest.main()
