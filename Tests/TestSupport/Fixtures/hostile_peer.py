"""Plays a hostile HTTP peer on 127.0.0.1, for attack tests. Prints "PORT PORT2" (the main
server and a second one, on another port: "another host" for credential rules), then serves
until killed. Every Authorization header either server receives is appended to RECORD.

usage: hostile_peer.py MODE RECORD [LAYOUT]

Modes:
  recorder           answers every request 401 with a Basic challenge (a git or registry
                     remote that wants credentials), recording what it is sent.
  redirect-blobs     a registry serving the OCI layout LAYOUT (repository "stack", tags from
                     index.json) behind Basic auth, whose blob answers redirect to the second
                     server, which serves the blob to anyone.
  plain-http-realm   a registry whose Bearer challenge names a token service on plain HTTP at
                     this machine's host name (not a loopback name); the token service records.
  huge-manifest      a registry that answers a manifest with an endless stream of bytes.
  long-blob          a registry serving LAYOUT whose blobs come with 16 MiB of extra bytes.
  flood              answers any GET with an endless body (a source archive that never ends).
  slow               holds every request until the file RECORD.go exists, then answers 404
                     (a registry that takes as long as the test wants).
"""
import base64
import http.server
import json
import os
import socket
import sys
import threading
import time

mode, record = sys.argv[1], sys.argv[2]
layout = sys.argv[3] if len(sys.argv) > 3 else None
lock = threading.Lock()
USER, PASSWORD = "u", "registry-password"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def note(server, handler):
    auth = handler.headers.get("Authorization")
    if auth:
        with lock, open(record, "a") as f:
            f.write(f"{server} {handler.command} {handler.path} Authorization: {auth}\n")


def blob_path(digest):
    return os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])


def manifest_for(reference):
    if reference.startswith("sha256:"):
        return open(blob_path(reference), "rb").read()
    index = json.load(open(os.path.join(layout, "index.json")))
    for m in index["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == reference:
            return open(blob_path(m["digest"]), "rb").read()
    return None


class Base(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    name = "main"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def endless(self, content_type="application/octet-stream"):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.end_headers()
        chunk = b"\0" * (1 << 20)
        try:
            for _ in range(4096):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


class Second(Base):
    name = "second"

    def do_GET(self):
        note(self.name, self)
        if self.path.startswith("/blob/"):
            data = open(blob_path(self.path[len("/blob/"):]), "rb").read()
            return self.reply(200, data, [("Content-Type", "application/octet-stream")])
        if self.path.startswith("/token"):
            return self.reply(200, json.dumps({"token": "t"}).encode(), [("Content-Type", "application/json")])
        self.reply(404)


class Main(Base):
    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self.do_GET()

    def do_GET(self):
        note(self.name, self)
        if mode == "slow":
            while not os.path.exists(record + ".go"):
                time.sleep(0.02)
            return self.reply(404)
        if mode == "flood":
            return self.endless()
        if mode == "recorder":
            return self.reply(401, b"", [("WWW-Authenticate", 'Basic realm="recorder"')])
        if mode == "plain-http-realm":
            if self.headers.get("Authorization") != "Bearer t":
                realm = f"http://{socket.gethostname()}:{second.server_address[1]}/token"
                return self.reply(401, b"", [("WWW-Authenticate", f'Bearer realm="{realm}",service="hostile"')])
            return self.reply(404)
        if self.headers.get("Authorization") != BASIC:
            return self.reply(401, b"", [("WWW-Authenticate", 'Basic realm="hostile"')])
        parts = self.path.split("?")[0].split("/")
        # /v2/stack/manifests/<ref> or /v2/stack/blobs/<digest>
        if len(parts) == 5 and parts[3] == "manifests":
            if mode == "huge-manifest":
                return self.endless("application/vnd.oci.image.manifest.v1+json")
            data = manifest_for(parts[4])
            if data is None:
                return self.reply(404)
            return self.reply(200, data, [("Content-Type", json.loads(data).get("mediaType", "application/vnd.oci.image.manifest.v1+json"))])
        if len(parts) == 5 and parts[3] == "blobs":
            if mode == "redirect-blobs":
                return self.reply(307, b"", [("Location", f"http://localhost:{second.server_address[1]}/blob/{parts[4]}")])
            data = open(blob_path(parts[4]), "rb").read()
            if mode == "long-blob":
                data += b"\0" * (16 << 20)
            return self.reply(200, data, [("Content-Type", "application/octet-stream")])
        self.reply(200 if self.path == "/v2/" else 404)


bind = "0.0.0.0" if mode == "plain-http-realm" else "127.0.0.1"
second = http.server.ThreadingHTTPServer((bind, 0), Second)
main = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Main)
threading.Thread(target=second.serve_forever, daemon=True).start()
print(main.server_address[1], second.server_address[1], flush=True)
main.serve_forever()
