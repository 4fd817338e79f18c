#!/bin/sh
# Runs COMMAND in the network namespace it was started in (the test starts it under
# `unshare -n`), after giving that namespace a network of its own: loopback up, and an
# interface holding the private address 10.213.0.1/24 (a dummy one, or a tap device where the
# kernel has no dummy module). Two HTTP servers answer GET /page there, with ports from the
# OS: "public" on 10.213.0.1 and "loopback" on 127.0.0.1. Their ports go to PORTFILE as
# "PUBLIC LOOPBACK". No traffic leaves the namespace.
#
# usage: netns_wrapper.sh PORTFILE -- COMMAND [ARG...]
set -e
portfile=$1
shift
[ "$1" = "--" ] && shift
ip link set lo up
if ! ip link add slipway0 type dummy 2>/dev/null; then
    ip tuntap add dev slipway0 mode tap
fi
ip addr add 10.213.0.1/24 dev slipway0
ip link set slipway0 up
serve() {
    # Serves until its parent (COMMAND, which this shell becomes) is gone.
    python3 - "$1" "$2" <<'PY' &
import http.server, os, sys, threading, time
address, word = sys.argv[1], sys.argv[2]
parent = os.getppid()
class Page(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args): pass
    def do_GET(self):
        body = f"served from the {word} address\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.ThreadingHTTPServer((address, 0), Page)
print(server.server_address[1], flush=True)
def watch():
    while os.getppid() == parent: time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
server.serve_forever()
PY
}
dir=$(mktemp -d)
serve 10.213.0.1 public > "$dir/public"
serve 127.0.0.1 loopback > "$dir/loopback"
for i in $(seq 100); do
    [ -s "$dir/public" ] && [ -s "$dir/loopback" ] && break
    sleep 0.1
done
echo "$(cat "$dir/public") $(cat "$dir/loopback")" > "$portfile.tmp"
mv "$portfile.tmp" "$portfile"
rm -rf "$dir"
exec "$@"
