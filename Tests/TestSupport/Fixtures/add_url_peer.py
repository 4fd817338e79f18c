"""Plays the servers an ADD of a URL may meet, for the address policy's tests. Listens on every
address of this machine ("::", dual stack: 127.0.0.1, ::1 and the interfaces' own addresses
reach it), prints the port, then serves until killed. Each request's path is appended to
RECORD before it is answered.

usage: add_url_peer.py RECORD

  /bytes/N          N bytes
  /redirect?to=URL  302 to URL
"""
import http.server
import socket
import sys
import threading
import urllib.parse

record = sys.argv[1]
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        with lock, open(record, "a") as f:
            f.write(self.path + "\n")
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", urllib.parse.parse_qs(url.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path.startswith("/bytes/"):
            body = b"x" * int(url.path[len("/bytes/"):])
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


server = Server(("::", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
