#!/usr/bin/env python3
"""Issue 14: --log-format text|json, --log-level, and no secrets in any log line.

1. json: every stderr line of a real run is one JSON object with ts (RFC 3339, UTC), level and
   msg; the attach line carries its fields, typed (the interval a number, the cgroup a
   string), and the exit counters are fields whose values are all JSON numbers. --log-level
   warn drops the info lines.
2. Bytes in messages are escaped: a --cgroup-root with a quote, a newline, a control byte and
   invalid UTF-8 gives one parseable JSON line (and one text line) that names the path.
3. A Kafka password never appears: not on config errors (bad option next to it, a mistyped
   option, a stray KEY=VALUE, the config file), not while running with --verbose and
   librdkafka's security/broker debug against a real broker (which has no SASL listener).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fslib  # noqa: E402
import kafka_broker  # noqa: E402

SECRET = "hunter2-Zq9-secret"
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def run(*args, timeout=60):
    return subprocess.run([fslib.agent_binary()] + list(args), capture_output=True,
                          timeout=timeout)


def json_lines(stderr):
    out = []
    for line in stderr.decode("utf-8").splitlines():
        obj = json.loads(line)
        assert set(obj) <= {"ts", "level", "msg", "fields"}, obj
        assert TS.match(obj["ts"]), obj
        assert obj["level"] in ("error", "warning", "info", "debug"), obj
        out.append(obj)
    return out


class Logs(unittest.TestCase):
    def test_json_run_and_level(self):
        env = fslib.Env()
        self.addCleanup(env.close)
        p = run("--cgroup-root", env.cgroup_root.path, "--duration", "2", "--interval", "1",
                "--log-format", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = json_lines(p.stderr)
        attach = [o for o in lines if o["msg"].startswith("attached to cgroup")]
        self.assertEqual(len(attach), 1, lines)
        # typed fields: the interval a JSON number, the cgroup and sink strings
        self.assertEqual(attach[0]["fields"], {"cgroup": env.cgroup_root.path,
                                               "interval_s": 1, "sink": "stdout"})
        self.assertIs(type(attach[0]["fields"]["interval_s"]), int)
        # the exit counters are fields too, every value a JSON number (jq/Loki compare them)
        counters = [o for o in lines if o["msg"].endswith("counters:")]
        groups = {o["msg"] for o in counters}
        self.assertTrue({"counters:", "dns counters:", "pipeline counters:",
                         "stdout counters:"} <= groups, groups)
        for o in counters:
            self.assertTrue(o["fields"], o)
            for k, v in o["fields"].items():
                self.assertIs(type(v), int, (k, v))
        stdout_counters = [o["fields"] for o in counters if o["msg"] == "stdout counters:"]
        self.assertEqual(stdout_counters[0]["sink_records_dropped_stdout_write_error"], 0)
        self.assertGreaterEqual(stdout_counters[0]["sink_records_stdout"], 0)
        self.assertIn("info", [o["level"] for o in lines])
        # ts is now, within the run
        p = run("--cgroup-root", env.cgroup_root.path, "--duration", "1", "--log-format",
                "json", "--log-level", "warn")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([o for o in json_lines(p.stderr) if o["level"] in ("info", "debug")],
                         [])

    def test_message_bytes_escaped(self):
        bad = b"/nonexistent/fs\"q\nx\x01y\xff\xc3(z"
        for fmt in ("json", "text"):
            p = subprocess.run([os.fsencode(fslib.agent_binary()), b"--log-format",
                                fmt.encode(), b"--cgroup-root", bad], capture_output=True,
                               timeout=60)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            if fmt == "json":
                (obj,) = json_lines(p.stderr)
                self.assertEqual(obj["level"], "error")
                self.assertIn("/nonexistent/fs\"q\nx\x01y\ufffd\ufffd(z", obj["msg"])
            else:
                self.assertIn(b"/nonexistent/fs\"q\\x0ax\\x01y", p.stderr)

    def assert_no_secret(self, p, want_rc):
        self.assertEqual(p.returncode, want_rc, p.stderr)
        self.assertNotIn(SECRET.encode(), p.stderr + p.stdout)

    def test_password_never_logged_on_config_errors(self):
        pw = "sasl.password=" + SECRET
        for fmt in ("text", "json"):
            base = ["--log-format", fmt, "--log-level", "debug", "--cgroup-root", "/nonexistent"]
            # a bad option beside the password
            p = run(*base, "--kafka-brokers", "127.0.0.1:1", "--kafka-option", pw,
                    "--kafka-option", "no.such.property=1")
            self.assert_no_secret(p, 2)
            self.assertIn(b"no.such.property", p.stderr)
            # a bad value for the password's own key family
            p = run(*base, "--kafka-brokers", "127.0.0.1:1", "--kafka-option",
                    "sasl.password")
            self.assert_no_secret(p, 2)
            # mistyped option, stray argument
            p = run(*base, "--kafka-optoin=" + pw)
            self.assert_no_secret(p, 2)
            self.assertIn(b"--kafka-optoin=<redacted>", p.stderr)
            p = run(*base, pw)
            self.assert_no_secret(p, 2)
            # the config file
            with tempfile.NamedTemporaryFile("w", suffix=".ini") as f:
                f.write("kafka-brokers = 127.0.0.1:1\nkafka-option = %s\n"
                        "kafka-option = sasl.mechanism=PLAIN\nbogus = %s\n" % (pw, SECRET))
                f.flush()
                p = run(*base, "--config", f.name)
                self.assert_no_secret(p, 2)
                self.assertIn(b"bogus", p.stderr)

    def test_password_never_logged_while_running(self):
        env = fslib.Env()
        self.addCleanup(env.close)
        broker = kafka_broker.KafkaBroker(tmp=env.tmp)
        self.addCleanup(broker.close)
        p = run("--cgroup-root", env.cgroup_root.path, "--duration", "3", "--interval", "1",
                "--verbose", "--kafka-brokers", broker.bootstrap,
                "--kafka-option", "security.protocol=sasl_plaintext",
                "--kafka-option", "sasl.mechanism=PLAIN",
                "--kafka-option", "sasl.username=flowscope",
                "--kafka-option", "sasl.password=" + SECRET,
                "--kafka-option", "debug=security,broker,conf", "--kafka-flush-timeout", "500")
        self.assertIn(p.returncode, (0, 1), p.stderr)
        self.assertIn(b"kafka: ", p.stderr)  # librdkafka's debug lines did reach the log
        self.assertNotIn(SECRET.encode(), p.stderr + p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
