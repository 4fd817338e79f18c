"""A rebuild with a warm cache against one with a cold cache, for a buildpack that does 5 s of
work its cache layer lets it skip. Times are from build start to finish (build/status).
"""
import os
import shutil
import sys
import tempfile
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, median, rpc_session, make_stack, write_buildpack, print_machine

print_machine()

RUNS = int(os.environ.get("RUNS", "3"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-cache-")
bp = tmp + "/cached-work"
write_buildpack(bp, "bench/cached-work", """set -eu
layer="$1/deps"
if [ -f "$layer/done" ]; then echo "cache hit: skipping the work"; else echo "cache miss: working"; sleep 5; mkdir -p "$layer"; touch "$layer/done"; fi
printf '[types]\\ncache = true\\n' > "$1/deps.toml"
""")
make_stack(tmp + "/stack")
state = tmp + "/state"
rpc_session(state, [
    {"jsonrpc": "2.0", "id": 1, "method": "clusterstack/create",
     "params": {"name": "base", "buildImage": tmp + "/stack/build", "runImage": tmp + "/stack/run", "id": "io.slipway.bench"}},
    {"jsonrpc": "2.0", "id": 2, "method": "clusterstore/create", "params": {"name": "default", "buildpacks": [bp, ROOT + "/buildpacks/procfile"]}},
    {"jsonrpc": "2.0", "id": 3, "method": "clusterbuilder/create",
     "params": {"name": "default", "stack": "base", "store": "default", "order": [{"group": [{"id": "bench/cached-work"}, {"id": "slipway/procfile"}]}]}},
    {"jsonrpc": "2.0", "id": 4, "method": "image/create", "params": {"name": "app", "source": {"local": {"path": ROOT + "/examples/hello-app"}}}},
])


def duration(build):
    r = rpc_session(state, [{"jsonrpc": "2.0", "id": 1, "method": "build/status", "params": {"image": "app", "build": build}}])[-1]["result"]
    assert r["status"] == "SUCCESS", r
    p = lambda t: datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
    return p(r["finished"]) - p(r["started"])


cold, warm = [], []
build = 1
cold.append(duration(build))
for i in range(RUNS):
    build += 1
    rpc_session(state, [{"jsonrpc": "2.0", "id": 1, "method": "image/trigger", "params": {"name": "app"}}])
    warm.append(duration(build))
    if i < RUNS - 1:
        build += 1
        rpc_session(state, [{"jsonrpc": "2.0", "id": 1, "method": "image/patch", "params": {"name": "app", "clearCache": True}},
                            {"jsonrpc": "2.0", "id": 2, "method": "image/trigger", "params": {"name": "app"}}])
        cold.append(duration(build))
print(f"cache: a buildpack with 5 s of work its cache skips; {len(cold)} cold and {len(warm)} warm builds")
print(f"cold-cache build: median {median(cold):.3f} s | warm-cache build: median {median(warm):.3f} s | warm/cold {median(warm) / median(cold):.2f}")
shutil.rmtree(tmp)
