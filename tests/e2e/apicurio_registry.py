"""A real Schema Registry for the end-to-end tests: Apicurio Registry 2.4.2.Final with its
in-memory (H2) storage, speaking the Confluent-compatible API under /apis/ccompat/v7.

scripts/setup.sh builds it from Maven Central with tests/kafka/schema-registry/pom.xml (a Quarkus
build of io.apicurio:apicurio-registry-app; see that pom for the two artifacts Maven Central
does not serve and what replaces them) into FLOWSCOPE_SCHEMA_REGISTRY_APP (default
/var/cache/flowscope/schema-registry/app: the runner jar and its lib/). ApicurioRegistry starts
it on a free loopback port and stops it in close(), also after a failure.
"""
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import kafka_broker

APP = os.environ.get("FLOWSCOPE_SCHEMA_REGISTRY_APP", "/var/cache/flowscope/schema-registry/app")
CT = "application/vnd.schemaregistry.v1+json"


def runner_jar():
    jars = [n for n in os.listdir(APP) if n.endswith("-runner.jar")] if os.path.isdir(APP) else []
    if len(jars) != 1:
        raise RuntimeError("no Apicurio Registry runner jar in %s: run scripts/setup.sh --test"
                           % APP)
    return os.path.join(APP, jars[0])


class ApicurioRegistry:
    """One registry process. url is the Confluent-compatible API's base URL,
    "http://127.0.0.1:PORT/apis/ccompat/v7"; root is "http://127.0.0.1:PORT"."""

    def __init__(self, tmp=None, timeout=180):
        jar = runner_jar()
        self.dir = tempfile.mkdtemp(prefix="fs-apicurio-", dir=tmp)
        self.port = kafka_broker.free_port()
        self.root = "http://127.0.0.1:%d" % self.port
        self.url = self.root + "/apis/ccompat/v7"
        self.log = os.path.join(self.dir, "registry.log")
        self._log = open(self.log, "w")
        self.proc = subprocess.Popen(
            [kafka_broker.java(), "-Xmx512m", "-Dquarkus.http.host=127.0.0.1",
             "-Dquarkus.http.port=%d" % self.port, "-jar", jar],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.time() + timeout
        while True:
            try:
                if self.get("/subjects") == []:
                    break
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                raise RuntimeError("Apicurio Registry did not start: " + self.tail())
            time.sleep(0.3)

    def request(self, method, path, body=None, base=None):
        """(HTTP status, decoded JSON answer) of a request to base (url) + path."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request((base or self.url) + path, data=data, method=method,
                                     headers={"Content-Type": CT, "Accept": CT})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path):
        status, answer = self.request("GET", path)
        if status != 200:
            raise ValueError("GET %s: HTTP %d %r" % (path, status, answer))
        return answer

    def tail(self, n=4000):
        try:
            with open(self.log) as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self._log.close()
        subprocess.run(["rm", "-rf", self.dir])
