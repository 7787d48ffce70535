"""A stand-in for a Confluent-compatible Schema Registry, for the protobuf-sr tests.

The real registry of the tests is Apicurio Registry 2.4.2 (apicurio_registry.py). The stand-in
covers what that one cannot do: serve `GET /schemas/ids/{id}?format=serialized` (Apicurio 2.4
answers the text whatever the format), which confluent-kafka's SchemaRegistryClient needs to
give ProtobufDeserializer the writer schema; answer a chosen HTTP error; never answer. Karapace,
the other registry the issue names, has no installable version on PyPI, and newer Apicurio
versions do not resolve from Maven Central (docs/kafka.md, "Schema Registry").

It serves the documented subset of the Schema Registry API that a producer and the Confluent
deserializers use, on a free loopback port, from a thread:
- POST /subjects/{subject}/versions with {"schemaType": "PROTOBUF", "schema": "<.proto text>"}:
  the schema is compiled with protoc (a schema protoc rejects gets 422, error_code 42201, as a
  registry answers an invalid schema); the same text gets the same id under every subject (ids
  are global, as in the registry), a new text a new id and a new version of the subject.
  Compatibility checks are not implemented: a new text is always accepted.
- GET /schemas/ids/{id}, with ?format=serialized the base64 FileDescriptorProto (what
  confluent-kafka's ProtobufDeserializer asks for); 404 (40403) for an unknown id.
- GET /subjects, /subjects/{subject}/versions and /subjects/{subject}/versions/{n|latest}.
Every request is kept (method, path, headers, body) for the test to check. fail=(status, body)
answers every POST with that; hang=True accepts connections and never answers.
"""
import base64
import http.server
import json
import os
import socketserver
import subprocess
import tempfile
import threading
import time
import urllib.parse

CT = "application/vnd.schemaregistry.v1+json"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, obj):
        body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(status)
        self.send_header("Content-Type", CT)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _keep(self, body):
        reg = self.server.registry
        with reg.lock:
            reg.requests.append({"method": self.command, "path": self.path,
                                 "headers": dict(self.headers.items()), "body": body})
        return reg

    def do_POST(self):
        reg = self._keep(self._body())
        body = reg.requests[-1]["body"]
        if reg.hang:
            time.sleep(3600)
            return
        if reg.fail:
            self._send(reg.fail[0], reg.fail[1])
            return
        parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
            self._send(404, {"error_code": 404, "message": "HTTP 404 Not Found"})
            return
        subject = urllib.parse.unquote(parts[1])
        try:
            req = json.loads(body)
        except ValueError:
            self._send(422, {"error_code": 422, "message": "Unrecognized request body"})
            return
        if req.get("schemaType") != "PROTOBUF" or not isinstance(req.get("schema"), str):
            self._send(422, {"error_code": 42201, "message": "Invalid schema: not PROTOBUF"})
            return
        status, answer = reg.register(subject, req["schema"])
        self._send(status, answer)

    def do_GET(self):
        reg = self._keep(b"")
        if reg.hang:
            time.sleep(3600)
            return
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        query = urllib.parse.parse_qs(url.query)
        with reg.lock:
            if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                s = reg.by_id.get(int(parts[2]))
                if s is None:
                    self._send(404, {"error_code": 40403, "message": "Schema not found"})
                    return
                text = (base64.b64encode(s["fdp"]).decode()
                        if query.get("format") == ["serialized"] else s["text"])
                self._send(200, {"schemaType": "PROTOBUF", "schema": text})
                return
            if parts == ["subjects"]:
                self._send(200, sorted(reg.subjects))
                return
            if len(parts) >= 3 and parts[0] == "subjects" and parts[2] == "versions":
                subject = urllib.parse.unquote(parts[1])
                versions = reg.subjects.get(subject)
                if versions is None:
                    self._send(404, {"error_code": 40401, "message": "Subject not found"})
                    return
                if len(parts) == 3:
                    self._send(200, list(range(1, len(versions) + 1)))
                    return
                v = len(versions) if parts[3] == "latest" else int(parts[3])
                if not 1 <= v <= len(versions):
                    self._send(404, {"error_code": 40402, "message": "Version not found"})
                    return
                sid = versions[v - 1]
                self._send(200, {"subject": subject, "version": v, "id": sid,
                                 "schemaType": "PROTOBUF", "schema": reg.by_id[sid]["text"]})
                return
        self._send(404, {"error_code": 404, "message": "HTTP 404 Not Found"})


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class SchemaRegistryStandIn:
    """url is "http://127.0.0.1:PORT"; close() stops it."""

    def __init__(self, fail=None, hang=False):
        self.lock = threading.Lock()
        self.requests = []
        self.by_id = {}  # id -> {"text", "fdp"}
        self.by_text = {}
        self.subjects = {}  # subject -> [id of version 1, ...]
        self.fail, self.hang = fail, hang
        self.next_id = 1
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.registry = self
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def _compile(text):
        """The FileDescriptorProto bytes of a .proto text, or (None, protoc's complaint)."""
        from google.protobuf import descriptor_pb2
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "schema.proto")
            with open(src, "w") as f:
                f.write(text)
            out = os.path.join(d, "schema.pb")
            p = subprocess.run(["protoc", "-I", d, "--descriptor_set_out=" + out,
                                "schema.proto"], capture_output=True, timeout=60)
            if p.returncode != 0:
                return None, p.stderr.decode(errors="replace").strip()
            with open(out, "rb") as f:
                fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        return fds.file[0].SerializeToString(), None

    def register(self, subject, text):
        with self.lock:
            sid = self.by_text.get(text)
        if sid is None:
            fdp, why = self._compile(text)
            if fdp is None:
                return 422, {"error_code": 42201, "message": "Invalid schema: " + why}
            with self.lock:
                sid = self.by_text.get(text)
                if sid is None:
                    sid = self.next_id
                    self.next_id += 1
                    self.by_text[text] = sid
                    self.by_id[sid] = {"text": text, "fdp": fdp}
        with self.lock:
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
        return 200, {"id": sid}

    def posts(self):
        with self.lock:
            return [r for r in self.requests if r["method"] == "POST"]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
