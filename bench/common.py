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


def rpc_session(state, requests, extra_args=(), shared=False):
    """Pipes newline-delimited requests into slipway; returns the parsed replies and notifications.
    In one process (--embedded) unless `shared`: then through the state directory's engine."""
    data = "".join(json.dumps(r) + "\n" for r in requests)
    mode = [] if shared else ["--embedded"]
    out = subprocess.run([SLIPWAY, *mode, "--state-dir", state, *extra_args], input=data.encode(), capture_output=True, check=True)
    return [json.loads(l) for l in out.stdout.decode().splitlines() if l.strip()]


def stop_engine(state, now=True):
    """Stops the shared engine of `state` (a benchmark leaves none running)."""
    args = [SLIPWAY, "engine", "stop", "--state-dir", state] + (["--now"] if now else [])
    subprocess.run(args, capture_output=True)


def stop_engines_at_exit(*states):
    import atexit
    for s in states:
        atexit.register(stop_engine, s)


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


def make_app(path, files=5000, total=100 * 1024 * 1024, seed=42):
    """An app of `files` random files totalling `total` bytes (seeded, so runs compare), with a Procfile."""
    import random
    rng = random.Random(seed)
    size = total // files
    for i in range(files):
        d = f"{path}/pkg{i % 50:02d}/mod{i % 7}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/file{i:05d}.bin", "wb") as f:
            f.write(rng.randbytes(size))
    with open(path + "/Procfile", "w") as f:
        f.write("web: ls\n")


def write_buildpack(path, bp_id, build_script, api="0.10"):
    """A buildpack folder whose detect always passes and whose build runs `build_script` (bash)."""
    os.makedirs(path + "/bin", exist_ok=True)
    with open(path + "/buildpack.toml", "w") as f:
        f.write(f'api = "{api}"\n[buildpack]\nid = "{bp_id}"\nversion = "1.0.0"\n')
    with open(path + "/bin/detect", "w") as f:
        f.write("#!/usr/bin/env bash\nexit 0\n")
    with open(path + "/bin/build", "w") as f:
        f.write("#!/usr/bin/env bash\n" + build_script)
    for x in ("detect", "build"):
        os.chmod(f"{path}/bin/{x}", 0o755)


def machine_speeds(size=100 * 1024 * 1024, runs=3):
    """What limits an export on this machine: SHA-256 over `size` bytes in memory (hashlib, which
    is OpenSSL's, as Slipway's is) and writing `size` bytes to the page cache (no fsync), each the
    median of `runs`, in GB/s."""
    import hashlib
    block = os.urandom(1 << 20)
    hashes, writes = [], []
    for _ in range(runs):
        h = hashlib.sha256()
        t = time.perf_counter()
        for _ in range(size >> 20):
            h.update(block)
        hashes.append(size / (time.perf_counter() - t) / 1e9)
        fd, path = tempfile.mkstemp(prefix="slipway-bench-write-")
        try:
            t = time.perf_counter()
            for _ in range(size >> 20):
                os.write(fd, block)
            os.close(fd)
            writes.append(size / (time.perf_counter() - t) / 1e9)
        finally:
            os.unlink(path)
    return median(hashes), median(writes)


def cpu_model():
    """The CPU's model name, as /proc/cpuinfo gives it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def print_machine():
    """Prints the machine a script's figures come from, before them: CPU model, cores, SHA-256
    and page-cache write speed, memory, kernel and load; figures from two machines compare only
    with this beside them."""
    sha, write = machine_speeds()
    print(f"machine: {cpu_model()}; {machine_info()}; SHA-256 {sha:.2f} GB/s; page-cache write {write:.2f} GB/s", flush=True)


def machine_info():
    """One line about the machine a figure was measured on: cores, memory, kernel, load."""
    import platform
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024
    except OSError:
        mem = 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return f"{os.cpu_count()} cores, {mem} MiB, Linux {platform.release()}, load {load:.2f}"
