"""Dockerfile builds against buildah in the same run: FROM a small base (the stack's build image,
as an OCI layout), COPY 50 MB in 2,000 files, 3 RUNs, CMD. Three cases, each the median of RUNS:
a cold build (fresh state / fresh buildah storage each run), a rebuild with nothing changed, and
a rebuild after one copied file changed. Targets (against the faster peer): cold ≤ 0.5×,
no change ≤ 0.3×, one file changed ≤ 0.3×. Also the bytes each writes to its storage per build
(≤ 1.2×): Slipway's without the source snapshot image/create froze (buildah reads its context
in place), and the whole state beside it.

The peers (root only): `buildah bud --layers --isolation chroot --storage-driver overlay`, and
`docker build` with Debian's docker.io (legacy builder, overlay2), its dockerd started here per
run with a fresh data root and socket (`--iptables=false --bridge=none`), the base image loaded
before the cold build; skipped, saying so, where dockerd does not start. Ratios are against the
faster peer of each case. Slipway's times are its builds' `started`→`finished`
(build/status), through the engine in this process (--embedded), with its default network.

With `BENCH_USER=NAME` (a user with a subordinate id range), Slipway's cold build also runs as
that user, RUNS times: run by a user who is not root, the step namespace's root is that user,
so the build context and a COPY link the source snapshot's files rather than copy them.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, report, rpc_session, make_stack, print_machine

print_machine()

RUNS = int(os.environ.get("RUNS", "3"))
if os.getuid() != 0:
    print("dockerfile: skipped: buildah, the peer, runs as root here (run make bench as root)")
    sys.exit(0)
tmp = tempfile.mkdtemp(prefix="slipway-bench-dockerfile-")
make_stack(tmp + "/stack")
subprocess.run(f"set -e; cd {tmp}; umoci init --layout base; umoci new --image base:b; umoci insert --image base:b stack/build / >/dev/null",
               shell=True, check=True)
BASE = f"oci:{tmp}/base:b"

ctx = tmp + "/ctx"
rng = random.Random(11)
for i in range(2000):
    d = f"{ctx}/data/d{i % 40:02d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:04d}", "wb") as f:
        f.write(rng.randbytes(25 * 1024))
with open(ctx + "/Dockerfile", "w") as f:
    f.write("ARG BASE\nFROM $BASE\nCOPY data /data\nRUN find /data -type f | wc -l > /count\n"
            "RUN echo one > /one\nRUN cat /count /one > /summary\nCMD [\"cat\", \"/summary\"]\n")


def du(path):
    out = subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else 0


def breakdown(state):
    """Where a state's bytes are, each file counted once (one `du` over all, in this order): a
    folder hard-linked to one listed before it adds nothing."""
    parts = [("source snapshot trees", "snapshots/trees"), ("build contexts", "dockerfile/contexts"), ("layer folders", "dockerfile/layers"),
             ("blobs (layer tars)", "blobs"), ("image layouts", "layouts")]
    paths = [p for _, p in parts if os.path.exists(f"{state}/{p}")]
    out = subprocess.run(["du", "-sb", *paths, "."], cwd=state, capture_output=True, text=True).stdout.split("\n")
    sizes = {line.split("\t")[1]: int(line.split("\t")[0]) for line in out if "\t" in line}
    rest = sizes.get(".", 0)
    return ", ".join(f"{name} {sizes.get(p, 0) / 2**20:.1f}" for name, p in parts) + f", the rest {rest / 2**20:.1f} (MiB)"


def parse(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def slipway_build(state, requests, build):
    # The base is an `oci:` layout under `tmp`: a host path, named only under --allow-source.
    msgs = rpc_session(state, requests + [{"jsonrpc": "2.0", "id": 99, "method": "build/wait", "params": {"image": "bench", "build": build}}],
                       extra_args=["--allow-source", tmp])
    b = next(m["result"] for m in msgs if m.get("id") == 99)
    assert b["status"] == "SUCCESS", b
    return parse(b["finished"]) - parse(b["started"])


def change_one_file():
    with open(f"{ctx}/data/d00/f0000", "ab") as f:
        f.write(os.urandom(16))


def start_dockerd(root):
    """A dockerd of its own under `root`; its socket, or None where it does not start."""
    if shutil.which("dockerd") is None or not os.path.exists("/usr/bin/docker"):
        return None
    os.makedirs(root, exist_ok=True)
    sock = root + "/docker.sock"
    log = open(root + "/dockerd.log", "w")
    subprocess.Popen(["dockerd", "--iptables=false", "--bridge=none", "--data-root", root + "/data", "--exec-root", root + "/exec",
                      "--host", "unix://" + sock, "--pidfile", root + "/pid", "--storage-driver", "overlay2"], stdout=log, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        if subprocess.run(["/usr/bin/docker", "-H", "unix://" + sock, "version"], capture_output=True).returncode == 0:
            return sock
        time.sleep(0.2)
    stop_dockerd(root)
    return None


def stop_dockerd(root):
    try:
        pid = int(open(root + "/pid").read())
        os.kill(pid, 15)
        deadline = time.time() + 30
        while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.1)
    except (OSError, ValueError):
        pass


base_archive = tmp + "/base.tar"
subprocess.run(["skopeo", "copy", BASE, f"docker-archive:{base_archive}:slipway-bench-base:latest"], check=True, capture_output=True)
docker_note = None

results = {"slipway": {"cold": [], "same": [], "changed": [], "bytes": [], "snapshot": []}, "buildah": {"cold": [], "same": [], "changed": [], "bytes": []},
           "docker": {"cold": [], "same": [], "changed": [], "bytes": []}}
source = {"local": {"path": ctx}}
for i in range(RUNS):
    state = f"{tmp}/state{i}"
    create = {"jsonrpc": "2.0", "id": 1, "method": "image/create",
              "params": {"name": "bench", "strategy": "dockerfile", "buildArgs": {"BASE": BASE}, "source": source}}
    results["slipway"]["cold"].append(slipway_build(state, [create], 1))
    results["slipway"]["bytes"].append(du(state))
    results["slipway"]["snapshot"].append(du(state + "/snapshots"))
    if i == 0:
        slipway_breakdown = breakdown(state)
    results["slipway"]["same"].append(slipway_build(state, [{"jsonrpc": "2.0", "id": 1, "method": "image/trigger", "params": {"name": "bench"}}], 2))
    change_one_file()
    patch = {"jsonrpc": "2.0", "id": 1, "method": "image/patch", "params": {"name": "bench", "source": source}}
    results["slipway"]["changed"].append(slipway_build(state, [patch], 3))

    root = f"{tmp}/buildah{i}"
    cmd = ["buildah", "--root", root + "/root", "--runroot", root + "/run", "--storage-driver", "overlay", "bud", "--layers",
           "--isolation", "chroot", "--build-arg", f"BASE={BASE}", "-t", "bench", ctx]
    for case in ("cold", "same", "changed"):
        if case == "changed":
            change_one_file()
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        results["buildah"][case].append(time.perf_counter() - t)
        if case == "cold":
            results["buildah"]["bytes"].append(du(root))
    subprocess.run(["buildah", "--root", root + "/root", "--runroot", root + "/run", "--storage-driver", "overlay", "rmi", "-a", "-f"],
                   capture_output=True)

    droot = f"{tmp}/docker{i}"
    sock = start_dockerd(droot)
    if sock is None:
        docker_note = "docker build: skipped (dockerd is not installed)" if shutil.which("dockerd") is None else \
            f"docker build: skipped (dockerd did not start; see {droot}/dockerd.log)"
        continue
    docker = ["/usr/bin/docker", "-H", "unix://" + sock]
    subprocess.run(docker + ["load", "-i", base_archive], check=True, capture_output=True)
    loaded = du(droot + "/data")
    build = docker + ["build", "--network", "none", "--build-arg", "BASE=slipway-bench-base:latest", "-t", "bench", ctx]
    for case in ("cold", "same", "changed"):
        if case == "changed":
            change_one_file()
        t = time.perf_counter()
        subprocess.run(build, check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        results["docker"][case].append(time.perf_counter() - t)
        if case == "cold":
            results["docker"]["bytes"].append(du(droot + "/data") - loaded)
    stop_dockerd(droot)
    shutil.rmtree(droot, ignore_errors=True)

print(f"dockerfile: 50 MB in 2,000 files, 3 RUNs; {RUNS} runs each; peer buildah {subprocess.run(['buildah', '--version'], capture_output=True, text=True).stdout.split()[2]} (overlay, chroot)")
if docker_note:
    print(docker_note)
s, b, d = results["slipway"], results["buildah"], results["docker"]
for case, title, target in (("cold", "cold build", "≤ 0.5×"), ("same", "rebuild, nothing changed", "≤ 0.3×"),
                            ("changed", "rebuild, one copied file changed", "≤ 0.3×")):
    peers = [("buildah bud --layers", median(b[case]))] + ([("docker build", median(d[case]))] if d[case] else [])
    if d[case]:
        print(f"  {title}: buildah {peers[0][1]:.3f} s, docker {peers[1][1]:.3f} s")
    name, value = min(peers, key=lambda p: p[1])
    report(title, median(s[case]), "s", name + " (the faster peer)", value, target)
# The source snapshot is image/create's frozen copy of the context, which the build reads as
# buildah reads its context folder in place: both figures are printed, the build's own writes
# (the state without the snapshot's trees; a file the build links from them is not counted
# again) against the target, the whole state beside it.
built = [total - snap for total, snap in zip(s["bytes"], s["snapshot"])]
report("storage the cold build writes (the state without the source snapshot)", median(built) / 2**20, "MiB", "buildah storage",
       median(b["bytes"]) / 2**20, "≤ 1.2×")
report("storage of the whole state, the source snapshot included", median(s["bytes"]) / 2**20, "MiB", "buildah storage", median(b["bytes"]) / 2**20, "report")
if d["bytes"]:
    print(f"  docker data root {median(d['bytes']) / 2**20:.1f} MiB (after the base image was loaded)")
print(f"  slipway state after the cold build: {slipway_breakdown}")

user = os.environ.get("BENCH_USER")
if user:
    # The user reads the context and the base, and writes its states under `tmp`.
    os.chmod(tmp, 0o755)
    subprocess.run(["chmod", "-R", "a+rX", f"{tmp}/base", ctx], check=True)
    cold, sizes = [], []
    for i in range(RUNS):
        state = f"{tmp}/user-state{i}"
        os.makedirs(state)
        shutil.chown(state, user)
        create = {"jsonrpc": "2.0", "id": 1, "method": "image/create",
                  "params": {"name": "bench", "strategy": "dockerfile", "buildArgs": {"BASE": BASE}, "source": source}}
        wait = {"jsonrpc": "2.0", "id": 99, "method": "build/wait", "params": {"image": "bench", "build": 1}}
        out = subprocess.run(["runuser", "-u", user, "--", SLIPWAY, "--embedded", "--state-dir", state, "--allow-source", tmp],
                             input="".join(json.dumps(r) + "\n" for r in (create, wait)).encode(), capture_output=True, check=True)
        built = next(m["result"] for m in map(json.loads, out.stdout.decode().splitlines()) if m.get("id") == 99)
        assert built["status"] == "SUCCESS", built
        cold.append(parse(built["finished"]) - parse(built["started"]))
        sizes.append(du(state) - du(state + "/snapshots"))
        if i == 0:
            user_breakdown = breakdown(state)
    print(f"as {user} (not root): cold build median {median(cold):.3f} s; storage the build writes (without the source snapshot) {median(sizes) / 2**20:.1f} MiB, "
          f"{median(sizes) / median(b['bytes']):.2f}× buildah's (target ≤ 1.2×)")
    print(f"  its state after the cold build: {user_breakdown}")
shutil.rmtree(tmp, ignore_errors=True)
