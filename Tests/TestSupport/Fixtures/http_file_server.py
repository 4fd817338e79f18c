"""Serves a folder over HTTP on 127.0.0.1; /redirect/NAME answers 302 to /NAME, and
/to-file/PATH answers 302 to file:///PATH (a redirect off http, for attack tests).
Prints the port, then serves until killed.

usage: http_file_server.py DIR
"""
import functools
import http.server
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path[len("/redirect/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/to-file/"):
            self.send_response(302)
            self.send_header("Location", "file:///" + self.path[len("/to-file/"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=sys.argv[1]))
print(server.server_address[1], flush=True)
server.serve_forever()
