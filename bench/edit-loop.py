"""The edit loop (issue 21): a 100 MB app of 5,000 files with a procfile-only builder. Edit one
file, then `image/patch` with the same local path (or `image/trigger`), and wait for SUCCESS;
and with the folder watched, from the file's write to `build/statusChanged` SUCCESS. Prints the
medians of RUNS edits, the time of each phase (snapshot before the build; prepare, that is the
workspace; detect; build; export; the rest), the cold first build, and, as root, `buildah bud
--layers` of a `COPY . /workspace` Dockerfile after the same one-file change.

Targets: edit → SUCCESS ≤ 400 ms (250 ms stretch); watched, write → SUCCESS ≤ 600 ms.
Through the shared engine (watching lives there), with the slipway Python package.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, SLIPWAY, make_stack, median, report

sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
from slipway import Client  # noqa: E402

RUNS = int(os.environ.get("RUNS", "5"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-edit-")
make_stack(tmp + "/stack")
app = tmp + "/app"
rng = random.Random(21)
for i in range(5000):
    d = f"{app}/src/d{i % 50:02d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:04d}.dat", "wb") as f:
        f.write(rng.randbytes(20 * 1024))
with open(app + "/Procfile", "w") as f:
    f.write("web: ls /workspace\n")


def parse(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def edit(n):
    with open(f"{app}/src/d00/f0000.dat", "wb") as f:
        f.write(rng.randbytes(20 * 1024) + str(n).encode())


def phases(s, build):
    """Seconds per phase of a build, from its log's timestamps and its status."""
    lines = s.call("build/logs", image="bench", build=build)["lines"]
    b = s.call("build/status", image="bench", build=build)
    first = {}
    for l in lines:
        first.setdefault(l["phase"], parse(l["time"]))
    order = [p for p in ("prepare", "detect", "analyze", "restore", "build", "export", "completion") if p in first]
    out = {}
    for i, p in enumerate(order):
        end = first[order[i + 1]] if i + 1 < len(order) else parse(b["finished"])
        out[p] = end - first[p]
    return out, parse(b["started"]), parse(b["finished"])


state = tmp + "/state"
s = Client(SLIPWAY, state_dir=state, args=["--build-network", "none"])
s.call("clusterstack/create", name="base", buildImage=tmp + "/stack/build", runImage=tmp + "/stack/run", id="io.slipway.bench")
s.call("clusterstore/create", name="default", buildpacks=[ROOT + "/buildpacks/procfile"])
s.call("clusterbuilder/create", name="default", stack="base", store="default", order=[{"group": [{"id": "slipway/procfile"}]}])
t = time.perf_counter()
s.call("image/create", name="bench", source={"local": {"path": app}})
s.call("build/wait", image="bench", build=1)
cold = time.perf_counter() - t

results = {"patch": [], "trigger": [], "watch": []}
phase_runs = []
build = 1
for mode in ("patch", "trigger"):
    for n in range(RUNS):
        edit(f"{mode}{n}")
        t = time.perf_counter()
        r = s.call("image/patch", name="bench", source={"local": {"path": app}}) if mode == "patch" else s.call("image/trigger", name="bench")
        build = r["build"]
        b = s.call("build/wait", image="bench", build=build)
        assert b["status"] == "SUCCESS", b
        total = time.perf_counter() - t
        results[mode].append(total)
        p, started, finished = phases(s, build)
        p["before the build (snapshot, bookkeeping)"] = total - (finished - started)
        phase_runs.append(p)

# Watched: from the write to build/statusChanged SUCCESS, with the default 200 ms debounce.
s.call("image/patch", name="bench", source={"local": {"path": app, "watch": True}})
while not s.notifications.empty():
    s.notifications.get_nowait()
for n in range(RUNS):
    edit(f"watch{n}")
    t = time.perf_counter()
    while True:
        m = s.notifications.get(timeout=60)
        if m.get("method") == "build/statusChanged" and m["params"].get("image") == "bench" and m["params"].get("status") == "SUCCESS":
            break
    results["watch"].append(time.perf_counter() - t)
s.call("image/patch", name="bench", source={"local": {"path": app, "watch": False}})
s.close()
subprocess.run([SLIPWAY, "engine", "stop", "--state-dir", state], capture_output=True)

print(f"edit loop: 5,000 files, {sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(app) for f in fs) / 1e6:.0f} MB; {RUNS} edits each")
print(f"cold first build (create → SUCCESS): {cold:.3f} s")
names = sorted({k for p in phase_runs for k in p})
print("phases, median over the patch and trigger runs: " + ", ".join(f"{k} {median([p.get(k, 0) for p in phase_runs]) * 1000:.0f} ms" for k in names))
peer = None
if os.getuid() == 0 and shutil.which("buildah"):
    subprocess.run(f"set -e; cd {tmp}; umoci init --layout base; umoci new --image base:b; umoci insert --image base:b stack/build / >/dev/null",
                   shell=True, check=True)
    with open(app + "/Dockerfile", "w") as f:
        f.write(f"FROM oci:{tmp}/base:b\nCOPY . /workspace\n")
    bh = ["buildah", "--root", tmp + "/bh/root", "--runroot", tmp + "/bh/run", "--storage-driver", "overlay", "bud", "--layers",
          "--isolation", "chroot", "-t", "bench", app]
    subprocess.run(bh, check=True, capture_output=True)
    times = []
    for n in range(RUNS):
        edit(f"buildah{n}")
        t = time.perf_counter()
        subprocess.run(bh, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    peer = median(times)
    os.remove(app + "/Dockerfile")
for mode, title, target in (("patch", "edit → image/patch → SUCCESS", "≤ 0.400 s"), ("trigger", "edit → image/trigger → SUCCESS", "≤ 0.400 s"),
                            ("watch", "watched: write → build/statusChanged SUCCESS", "≤ 0.600 s")):
    if peer is not None and mode != "watch":
        report(title, median(results[mode]), "s", "buildah bud --layers, COPY . /workspace, one file changed", peer, target)
    else:
        report(title, median(results[mode]), "s", target=target)
shutil.rmtree(tmp, ignore_errors=True)
