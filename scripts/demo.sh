#!/usr/bin/env bash
# The Slipway demo: assembles a stack from this machine, starts slipway on a fresh state
# directory, creates a stack, a store with the project's buildpacks, the default builder and an
# image of examples/hello-app, follows the build's log, then unpacks the image with umoci and
# runs it under bwrap.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
slipway="$root/.build/debug/slipway"
[ -x "$slipway" ] || { echo "demo: build first (make build)"; exit 1; }
work="$(mktemp -d /tmp/slipway-demo.XXXXXX)"
state="$work/state"
echo "==> Assembling a stack from this machine's binaries in $work/stack"
"$root/scripts/make-stack.sh" "$work/stack"

echo "==> Talking JSON-RPC to slipway (state in $state)"
requests=$(cat <<JSON
{"jsonrpc":"2.0","id":1,"method":"clusterstack/create","params":{"name":"base","buildImage":"$work/stack/build","runImage":"$work/stack/run","id":"io.slipway.demo"}}
{"jsonrpc":"2.0","id":2,"method":"clusterstore/create","params":{"name":"default","buildpacks":["$root/buildpacks/build-script","$root/buildpacks/procfile"]}}
{"jsonrpc":"2.0","id":3,"method":"clusterbuilder/create","params":{"name":"default","stack":"base","store":"default","order":[{"group":[{"id":"slipway/build-script","optional":true},{"id":"slipway/procfile"}]}]}}
{"jsonrpc":"2.0","id":4,"method":"image/create","params":{"name":"hello","source":{"local":{"path":"$root/examples/hello-app"}}}}
{"jsonrpc":"2.0","id":5,"method":"build/logs","params":{"image":"hello","follow":true}}
JSON
)
printf '%s\n' "$requests" | "$slipway" --state-dir "$state" > "$work/replies.jsonl"
# A second client: the first started the state directory's shared engine, which serves it.
echo '{"jsonrpc":"2.0","id":6,"method":"image/status","params":{"name":"hello"}}' | "$slipway" --state-dir "$state" >> "$work/replies.jsonl"
echo "==> slipway engine status"
"$slipway" engine status --state-dir "$state" | sed 's/^/  /'

python3 - "$work/replies.jsonl" <<'PY'
import json, sys
for raw in open(sys.argv[1]):
    m = json.loads(raw)
    if m.get("method") == "build/log":
        p = m["params"]
        print(f"  [{p['phase']:>10}] {p['line']}")
    elif m.get("method") == "build/statusChanged":
        print(f"  build {m['params']['build']}: {m['params']['status']}")
    elif "error" in m:
        print("  error:", json.dumps(m["error"])); sys.exit(1)
    elif m.get("id") == 6:
        r = m["result"]
        print(f"==> image/status: {r['ready']}  latestImage: {r['latestImage']}")
PY

layout="$state/layouts/default/hello"
echo "==> skopeo inspect oci:$layout:latest"
skopeo inspect "oci:$layout:latest" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("  digest:", d["Digest"]); print("  layers:", len(d["Layers"])); print("  labels:", ", ".join(sorted(d["Labels"])))'
echo "==> umoci unpack, then run /cnb/process/web under bwrap"
umoci unpack --rootless --image "$layout:latest" "$work/bundle" >/dev/null
bwrap --bind "$work/bundle/rootfs" / --proc /proc --dev /dev --unshare-all --uid 1000 --gid 1000 --clearenv \
  --setenv PATH /cnb/process:/cnb/lifecycle:/usr/bin:/bin --setenv CNB_LAYERS_DIR /layers /cnb/process/web
echo "==> slipway engine stop"
"$slipway" engine stop --state-dir "$state" | sed 's/^/  /'
echo "==> done (everything is in $work)"
