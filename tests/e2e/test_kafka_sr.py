#!/usr/bin/env python3
"""Issue 13, item 4: --kafka-format protobuf-sr, the Schema Registry wire format, read by
confluent-kafka's own Schema Registry client and ProtobufDeserializer (not our code).

The registry is the stand-in of schema_registry.py (no real registry installs here: see its
docstring and docs/kafka.md); the broker is the real KRaft broker of kafka_broker.py; the
messages are read with kafka-python.

1. test_kafka.py's traffic once with the stdout sink, once with protobuf-sr: the agent registered
   records.proto's exact text under <topic>-value for the flow, DNS and event topics; every
   message is decoded by ProtobufDeserializer with a SchemaRegistryClient (which fetches the
   writer schema by the message's id, ?format=serialized); confluent-kafka's framing reader gives
   the id the subject was registered with and a message-index path that names the topic's
   message type in the schema the registry serves; `protoc --decode` of the bytes after the
   framing reads the same record field for field; the records equal the stdout run's (the same
   signatures as test_kafka.py compares) and the client's bytes equal the nftables counters.
2. A registry that refuses (409 incompatible, 500), cannot be reached (a closed port) or does not
   answer within --kafka-schema-registry-timeout: exit 1, the message names the URL (without
   the userinfo the URL carried), the subject and the HTTP status and answer.
3. protobuf-sr without a registry URL, with more than one record per message, a registry URL
   without protobuf-sr, a URL that is not http(s): exit 2 before anything is loaded.
"""
import base64
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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

PREFIX = "sr."
EVENTS = "flowscope.events"

with open(os.path.join(fslib.PROTO_DIR, fslib.PROTO_FILE)) as _f:
    RECORDS_PROTO = _f.read()


class ProtobufSrReadByConfluentDeserializer(unittest.TestCase):
    """Acceptance: the schema-registry test of item 4."""

    def run_once(self, s, sink_args):
        before = s.truth()
        agent = s.agent("--interval", "60", *sink_args)
        agent.wait_attached()
        s.script()
        self.assertEqual(agent.stop(signal.SIGTERM), 0, agent.stderr())
        return agent, before, s.truth()

    def test_every_message_decodes_and_equals_the_stdout_run(self):
        s = tk.Setup(self)
        agent, before, after = self.run_once(s, [])
        base = agent.records()
        s.check_truth(base, before, after, "stdout run")
        base_keys, base_sig = s.keys(base), s.signatures(base)

        registry = schema_registry.SchemaRegistryStandIn()
        self.addCleanup(registry.close)
        broker = kafka_broker.KafkaBroker(tmp=s.env.tmp)
        self.addCleanup(broker.close)
        topics = s.topics(broker, PREFIX) + ["--kafka-topic-events", PREFIX + EVENTS]
        # userinfo in the URL: sent as basic authentication, never logged
        url = registry.url.replace("http://", "http://flowscope:pa55word@") + "/"
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

        # one registration per topic, records.proto exactly as published
        posts = registry.posts()
        subjects = [PREFIX + t + "-value" for t in (tk.FLOWS, tk.DNS_TOPIC, EVENTS)]
        self.assertEqual([p["path"] for p in posts],
                         ["/subjects/%s/versions" % x for x in subjects])
        for p in posts:
            self.assertEqual(p["headers"]["Content-Type"], schema_registry.CT)
            self.assertEqual(p["headers"]["Authorization"],
                             "Basic " + base64.b64encode(b"flowscope:pa55word").decode())
            self.assertEqual(json.loads(p["body"]),
                             {"schemaType": "PROTOBUF", "schema": RECORDS_PROTO})
        self.assertEqual(sorted(registry.subjects), sorted(subjects))
        ids = {x: registry.subjects[x][-1] for x in subjects}
        for x in subjects:
            self.assertIn("kafka: schema registry %s: subject %s has schema id %d, "
                          % (registry.url, x, ids[x]), err)

        client = SchemaRegistryClient({"url": registry.url})
        recs = []
        for topic in (tk.FLOWS, tk.DNS_TOPIC):
            ptype = tk.PB_TYPE[topic]
            deser = ProtobufDeserializer(fslib.pb_class(ptype), {}, client)
            ctx = SerializationContext(PREFIX + topic, MessageField.VALUE)
            msgs = broker.messages(PREFIX + topic)
            self.assertEqual(len(msgs), {tk.FLOWS: flows, tk.DNS_TOPIC: dns}[topic])
            served = {}
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
                self.assertEqual(sid.id, ids[PREFIX + topic + "-value"])
                if sid.id not in served:
                    fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(
                        client.get_schema(sid.id, fmt="serialized").schema_str))
                    served[sid.id] = fdp
                fdp = served[sid.id]
                self.assertEqual(len(sid.message_indexes), 1, sid.message_indexes)
                self.assertEqual(fdp.package + "." +
                                 fdp.message_type[sid.message_indexes[0]].name, ptype)
                # the FlowRecord is the first message: the one-byte [0] path
                if topic == tk.FLOWS:
                    self.assertEqual(msg.payload[5], 0)
                    self.assertEqual(len(msg.payload) - len(rest), 6)
                other = fslib.pb_to_record(ptype, fslib.parse_text_format(
                    fslib.protoc_decode(ptype, rest)))
                self.assertEqual(rec, other)
                recs.append(rec)
        # the deserializer took the writer schema from the registry, as the serialized
        # FileDescriptorProto it asks for
        self.assertIn("/schemas/ids/%d?format=serialized" % ids[subjects[0]],
                      [r["path"] for r in registry.requests if r["method"] == "GET"])
        self.assertEqual(s.keys(recs), base_keys)
        self.assertEqual(s.signatures(recs), base_sig)
        s.check_truth(recs, before, after, "protobuf-sr")
        tk.check_dns_latency(self, recs, "protobuf-sr")
        print("protobuf-sr: %d flow + %d dns records decoded by ProtobufDeserializer, schema "
              "ids %s" % (flows, dns, ids), file=sys.stderr)


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
        conflict = {"error_code": 409, "message": "Schema being registered is incompatible "
                    "with an earlier schema for subject \"flowscope.flows-value\""}
        cases = []
        reg = schema_registry.SchemaRegistryStandIn(fail=(409, conflict))
        self.addCleanup(reg.close)
        cases.append(("409", reg.url, [], ["schema registry %s refused subject "
                                           "flowscope.flows-value: HTTP 409: " % reg.url,
                                           "incompatible with an earlier schema"]))
        reg = schema_registry.SchemaRegistryStandIn(
            fail=(500, b"<html>Internal Server Error</html>"))
        self.addCleanup(reg.close)
        cases.append(("500", reg.url, [], ["schema registry %s refused subject "
                                           "flowscope.flows-value: HTTP 500: <html>Internal "
                                           "Server Error</html>" % reg.url]))
        port = tk.free_loopback_port()
        cases.append(("closed port", "http://127.0.0.1:%d" % port, [],
                      ["schema registry http://127.0.0.1:%d: registering subject "
                       "flowscope.flows-value: " % port, "onnect", "(timeout 10000 ms)"]))
        reg = schema_registry.SchemaRegistryStandIn(hang=True)
        self.addCleanup(reg.close)
        cases.append(("silent", reg.url, ["--kafka-schema-registry-timeout", "1000"],
                      ["schema registry %s: registering subject flowscope.flows-value: "
                       % reg.url, "imed out", "(timeout 1000 ms)"]))
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
        # the silent registry got the request and the timeout ended it
        self.assertEqual(len(reg.posts()), 1)


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
