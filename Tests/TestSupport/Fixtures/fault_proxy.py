"""A fault-injecting HTTP proxy in front of a real registry on 127.0.0.1: the first FAILURES
requests are answered 503 Service Unavailable, every later one is passed through to
127.0.0.1:UPSTREAM (method, path, headers and body, a chunked body de-chunked; the Host header is kept, so the
registry's upload locations name the proxy). Each 503 it serves appends a line to RECORD.
Prints its port, then serves until killed.

usage: fault_proxy.py UPSTREAM_PORT FAILURES RECORD
"""
import http.client
import http.server
import sys
import threading

upstream, failures, record = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
served = 0


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        global served
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self.read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        with lock:
            fail = served < failures
            served += 1
        if fail:
            with lock, open(record, "a") as f:
                f.write(f"503 {self.command} {self.path}\n")
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length", "transfer-encoding")}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", r.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    def read_chunked(self):
        """A chunked request body (a streamed upload), forwarded with a Content-Length."""
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
