"""Helpers shared by the benchmarks: locating binaries, running slipway, medians."""
import json
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("SLIPWAY_BIN_DIR", os.path.join(ROOT, ".build", "release"))
SLIPWAY = os.path.join(BIN, "slipway")


def median(xs):
    return statistics.median(xs)


def report(name, value, unit, peer_name=None, peer_value=None, target=None):
    line = f"{name}: median {value:.3f} {unit}"
    if peer_name is not None:
        line += f" | peer {peer_name}: median {peer_value:.3f} {unit} | ratio {value / peer_value:.2f}"
    if target:
        line += f" | target {target}"
    print(line, flush=True)


def rpc_session(state, requests, extra_args=()):
    """Pipes newline-delimited requests into slipway; returns the parsed replies and notifications."""
    data = "".join(json.dumps(r) + "\n" for r in requests)
    out = subprocess.run([SLIPWAY, "--state-dir", state, *extra_args], input=data.encode(), capture_output=True, check=True)
    return [json.loads(l) for l in out.stdout.decode().splitlines() if l.strip()]


def make_stack(directory):
    subprocess.run([os.path.join(ROOT, "scripts", "make-stack.sh"), directory], check=True, capture_output=True)


def setup_builder(state, stack, order=None):
    order = order or [{"group": [{"id": "slipway/build-script", "optional": True}, {"id": "slipway/procfile"}]}]
    replies = rpc_session(state, [
        {"jsonrpc": "2.0", "id": 1, "method": "clusterstack/create",
         "params": {"name": "base", "buildImage": stack + "/build", "runImage": stack + "/run", "id": "io.slipway.bench"}},
        {"jsonrpc": "2.0", "id": 2, "method": "clusterstore/create",
         "params": {"name": "default", "buildpacks": [ROOT + "/buildpacks/build-script", ROOT + "/buildpacks/procfile"]}},
        {"jsonrpc": "2.0", "id": 3, "method": "clusterbuilder/create",
         "params": {"name": "default", "stack": "base", "store": "default", "order": order}},
    ])
    errors = [r for r in replies if "error" in r]
    assert not errors, errors


def timed(fn, runs):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out
