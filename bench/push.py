"""Push of a 195 MB image to a loopback docker-registry with gzip-compressed layers, against
`skopeo copy --dest-compress --dest-compress-format gzip --dest-compress-level 6` of the same
OCI layout (target ratio ≤ 1.0 cold), and the re-push of the unchanged image (target ≤ 0.2× of
the cold push: nothing is compressed or uploaded again). Prints the compressed sizes of both,
and Slipway's against what `gzip -6` (the same level) makes of the same layer tars (target: within 5%).

Every run, of either tool, pushes to a registry started empty for it (skopeo would otherwise
mount blobs it knows another repository has, and upload nothing). A cold Slipway push has no
compression records (they are removed before each one). Slipway's push is timed inside real
builds, from the log's "Pushing to" line to its "*** Pushed" line. Each run times Slipway, then
skopeo.
"""
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from common import median, report, rpc_session, make_stack, setup_builder, print_machine

print_machine()

RUNS = int(os.environ.get("RUNS", "5"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-push-")


def fresh_registry(n):
    """Starts an empty registry on a port the OS gives; returns (process, host)."""
    for attempt in range(5):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(f"{tmp}/config{n}.yml", "w") as f:
            f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp}/registry{n}\nhttp:\n  addr: 127.0.0.1:{port}\n")
        p = subprocess.Popen(["docker-registry", "serve", f"{tmp}/config{n}.yml"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/v2/"]).returncode == 0:
                return p, f"127.0.0.1:{port}"
            if p.poll() is not None:
                break
            time.sleep(0.05)
        p.kill()
    sys.exit("docker-registry did not start")


# DATA=random (the default): incompressible bytes, as in compressed assets and archives;
# DATA=text: log- and source-like text that gzip shrinks several times.
DATA = os.environ.get("DATA", "random")
# LEVEL: the gzip level both tools use (6, the default of each).
LEVEL = int(os.environ.get("LEVEL", "6"))
app = tmp + "/app"
rng = random.Random(7)
words = [b"image", b"layer", b"registry", b"build", b"source", b"stack", b"slipway", b"return", b"func", b"let", b"{", b"}", b"\n"]
for i in range(2000):
    d = f"{app}/data{i % 20:02d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/blob{i:04d}.bin", "wb") as f:
        if DATA == "text":
            chunk = b" ".join(rng.choice(words) + str(rng.randrange(10000)).encode() for _ in range(12000))
            f.write(chunk[:100 * 1024].ljust(100 * 1024, b" "))
        else:
            f.write(rng.randbytes(100 * 1024))
with open(app + "/Procfile", "w") as f:
    f.write("web: ls\n")
make_stack(tmp + "/stack")
state = tmp + "/state"
setup_builder(state, tmp + "/stack", order=[{"group": [{"id": "slipway/procfile"}]}])


def parse(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def push_time(msgs, build):
    logs = [m["params"] for m in msgs if m.get("method") == "build/log" and m["params"]["build"] == build]
    start = next(l["time"] for l in logs if l["line"].startswith("Pushing to"))
    if not any(l["line"].startswith("*** Pushed") for l in logs):
        sys.exit(f"build {build} did not push: " + " / ".join(l["line"] for l in logs[-5:]))
    end = next(l["time"] for l in logs if l["line"].startswith("*** Pushed"))
    return parse(end) - parse(start)


def pushed_size(host, repository):
    """Sum of the layer sizes of a pushed manifest."""
    out = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repository}"], check=True, capture_output=True)
    return sum(l["size"] for l in json.loads(out.stdout)["layers"])


def gzip_size(layout):
    """What `gzip -LEVEL` makes of the image's layers (tar layers compressed, the others as they are)."""
    def blob(d):
        return f"{layout}/blobs/sha256/{d.split(':', 1)[1]}"
    with open(f"{layout}/index.json") as f:
        manifest_digest = json.load(f)["manifests"][0]["digest"]
    with open(blob(manifest_digest)) as f:
        layers = json.load(f)["layers"]
    total = 0
    for l in layers:
        if l["mediaType"].endswith(".tar"):
            with open(blob(l["digest"]), "rb") as f:
                out = subprocess.run(["gzip", f"-{LEVEL}", "-c"], stdin=f, check=True, capture_output=True)
            total += len(out.stdout)
        else:
            total += l["size"]
    return total


# Each run pushes with Slipway (cold, then the re-push), then with skopeo, so that a change in the
# machine's load falls on both tools alike.
layout = f"{state}/layouts/.registry/default/app0"
slipway, repush, slipway_sizes = [], [], []
skopeo, skopeo_sizes = [], []
for i in range(RUNS):
    shutil.rmtree(state + "/compressed", ignore_errors=True)  # cold: every layer is compressed again
    registry, host = fresh_registry(f"s{i}")
    msgs = rpc_session(state, [
        {"jsonrpc": "2.0", "id": 1, "method": "image/create", "params": {"name": f"app{i}", "tag": f"{host}/bench/slipway{i}:1", "source": {"local": {"path": app}}}},
        {"jsonrpc": "2.0", "id": 2, "method": "build/logs", "params": {"image": f"app{i}", "follow": True}},
    ], extra_args=["--layer-compression", f"gzip:{LEVEL}"])
    slipway.append(push_time(msgs, 1))
    msgs = rpc_session(state, [
        {"jsonrpc": "2.0", "id": 1, "method": "image/trigger", "params": {"name": f"app{i}"}},
        {"jsonrpc": "2.0", "id": 2, "method": "build/logs", "params": {"image": f"app{i}", "build": 2, "follow": True}},
    ], extra_args=["--layer-compression", f"gzip:{LEVEL}"])
    repush.append(push_time(msgs, 2))
    slipway_sizes.append(pushed_size(host, f"bench/slipway{i}:1"))
    registry.kill()

    registry, host = fresh_registry(f"k{i}")
    t = time.perf_counter()
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-compress", "--dest-compress-format", "gzip", "--dest-compress-level", str(LEVEL),
                    f"oci:{layout}:latest", f"docker://{host}/bench/skopeo{i}:1"], check=True, capture_output=True)
    skopeo.append(time.perf_counter() - t)
    skopeo_sizes.append(pushed_size(host, f"bench/skopeo{i}:1"))
    registry.kill()

size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(app) for f in fs)
print(f"push: {size // (1024 * 1024)} MB app ({DATA} data), {RUNS} runs each, each into an empty loopback registry")
report(f"slipway push, gzip level {LEVEL}, cold (new repository)", median(slipway), "s",
       f"skopeo copy --dest-compress-format gzip --dest-compress-level {LEVEL}", median(skopeo), "≤ 1.0×")
report("slipway re-push of the unchanged image", median(repush), "s", "slipway cold push", median(slipway), "≤ 0.2×")
print(f"compressed layers: slipway {median(slipway_sizes) / 2**20:.1f} MiB, skopeo {median(skopeo_sizes) / 2**20:.1f} MiB, "
      f"ratio {median(slipway_sizes) / median(skopeo_sizes):.3f}")
gzip_reference = gzip_size(layout)
print(f"the same layer tars through gzip -{LEVEL}: {gzip_reference / 2**20:.1f} MiB; slipway's size against it {median(slipway_sizes) / gzip_reference:.3f} (target ≤ 1.05)")
shutil.rmtree(tmp)
