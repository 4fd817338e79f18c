"""The edit loop (issue 21): a 100 MB app of 5,000 files with a procfile-only builder. Edit one
file, then `image/patch` with the same local path (or `image/trigger`), and wait for SUCCESS;
and with the folder watched, from the file's write to `build/statusChanged` SUCCESS. Prints the
medians of RUNS edits, the time of each phase (snapshot before the build; prepare, that is the
workspace; detect; build; export; the rest), the cold first build, and, as root, `buildah bud
--layers` of a `COPY . /workspace` Dockerfile after the same one-file change.

Targets: edit → SUCCESS ≤ 400 ms (250 ms stretch); watched, write → SUCCESS ≤ 600 ms.
Each is measured with the overlay workspace, with `--workspace unpack` (the fallback), and, with
BASELINE_BIN_DIR set to an earlier commit's release binaries, with those.
Through the shared engine (watching lives there), with the slipway Python package.

Cases (issue 32): the engine's defaults (the public build network) with the procfile-only
builder, and with a builder of three buildpacks in two groups whose first group fails detect
(so detect runs three buildpacks and build two); `--build-network none` is the reference.
UNPACK=1 adds `--workspace unpack`; BASELINE_BIN_DIR adds an earlier commit's binaries.
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
from common import ROOT, SLIPWAY, make_app, make_stack, median, report, print_machine, write_buildpack

print_machine()

sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
from slipway import Client  # noqa: E402

RUNS = int(os.environ.get("RUNS", "5"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-edit-")
make_stack(tmp + "/stack")
app = tmp + "/app"
make_app(app)
EDITED = app + "/pkg00/mod0/file00000.bin"
rng = random.Random(21)


def parse(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def edit(n):
    with open(EDITED, "wb") as f:
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


# The second builder: bench/never fails detect, so its group is skipped; bench/env and the
# procfile buildpack then pass and build (a launch layer with an env file each time).
write_buildpack(tmp + "/bp-never", "bench/never", "exit 1\n")
with open(tmp + "/bp-never/bin/detect", "w") as f:
    f.write("#!/usr/bin/env bash\nexit 100\n")
write_buildpack(tmp + "/bp-env", "bench/env",
                'mkdir -p "$CNB_LAYERS_DIR/env/env.launch"\necho -n bench > "$CNB_LAYERS_DIR/env/env.launch/BENCH.default"\n'
                'printf \'[types]\\nlaunch = true\\n\' > "$CNB_LAYERS_DIR/env.toml"\n')
BUILDERS = {
    "procfile": [{"group": [{"id": "slipway/procfile"}]}],
    "three": [{"group": [{"id": "bench/never"}, {"id": "slipway/procfile"}]}, {"group": [{"id": "bench/env"}, {"id": "slipway/procfile"}]}],
}


def loop(label, args, slipway=SLIPWAY, builder="procfile"):
    """Cold build, then RUNS edits each through patch, trigger and watching, with engine `args`."""
    state = f"{tmp}/state-{label}"
    s = Client(slipway, state_dir=state, args=args)
    s.call("clusterstack/create", name="base", buildImage=tmp + "/stack/build", runImage=tmp + "/stack/run", id="io.slipway.bench")
    s.call("clusterstore/create", name="default", buildpacks=[ROOT + "/buildpacks/procfile", tmp + "/bp-never", tmp + "/bp-env"])
    s.call("clusterbuilder/create", name="default", stack="base", store="default", order=BUILDERS[builder])
    t = time.perf_counter()
    s.call("image/create", name="bench", source={"local": {"path": app}})
    s.call("build/wait", image="bench", build=1)
    cold = time.perf_counter() - t

    results = {"patch": [], "trigger": [], "watch": []}
    phase_runs = []
    for mode in ("patch", "trigger"):
        for n in range(RUNS):
            edit(f"{label}{mode}{n}")
            t = time.perf_counter()
            r = s.call("image/patch", name="bench", source={"local": {"path": app}}) if mode == "patch" else s.call("image/trigger", name="bench")
            called = time.perf_counter() - t
            build = r["build"]
            b = s.call("build/wait", image="bench", build=build)
            assert b["status"] == "SUCCESS", b
            total = time.perf_counter() - t
            results[mode].append(total)
            p, started, finished = phases(s, build)
            p["snapshot (the patch or trigger call)"] = called
            p["bookkeeping (queue, status, answers)"] = total - called - (finished - started)
            # What a build costs besides its snapshot and its steps: the database, status,
            # notifications and the phases that do no buildpack work.
            p["= fixed costs (prepare, analyze, restore, completion, bookkeeping)"] = sum(
                max(0.0, p.get(k, 0)) for k in ("prepare", "analyze", "restore", "completion", "bookkeeping (queue, status, answers)"))
            phase_runs.append(p)

    # Watched: from the write to build/statusChanged SUCCESS, with the default 200 ms debounce.
    s.call("image/patch", name="bench", source={"local": {"path": app, "watch": True}})
    while not s.notifications.empty():
        s.notifications.get_nowait()
    for n in range(RUNS):
        edit(f"{label}watch{n}")
        t = time.perf_counter()
        while True:
            m = s.notifications.get(timeout=60)
            if m.get("method") == "build/statusChanged" and m["params"].get("image") == "bench" and m["params"].get("status") == "SUCCESS":
                break
        results["watch"].append(time.perf_counter() - t)
    s.call("image/patch", name="bench", source={"local": {"path": app, "watch": False}})
    s.close()
    subprocess.run([slipway, "engine", "stop", "--state-dir", state], capture_output=True)
    return cold, results, phase_runs


CASES = {
    "default": ("the engine's defaults (public network), procfile builder", [], "procfile"),
    "three": ("the engine's defaults, three buildpacks in two groups", [], "three"),
    "none": ("--build-network none, procfile builder", ["--build-network", "none"], "procfile"),
}
if os.environ.get("UNPACK") == "1":
    CASES["unpack"] = ("--workspace unpack, procfile builder", ["--workspace", "unpack"], "procfile")
runs = {label: loop(label, args, builder=builder) for label, (_, args, builder) in CASES.items()}
# BASELINE_BIN_DIR: the binaries of an earlier commit, measured the same way in the same run.
baseline = os.environ.get("BASELINE_BIN_DIR")
if baseline:
    CASES["baseline"] = ("the baseline binary, engine defaults, procfile builder", [], "procfile")
    runs["baseline"] = loop("baseline", [], os.path.join(baseline, "slipway"))
cold, results, phase_runs = runs["default"]
print(f"edit loop: 5,000 files, {sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(app) for f in fs) / 1e6:.0f} MB; {RUNS} edits each")
for label, (c, _, pr) in runs.items():
    names = sorted({k for p in pr for k in p})
    print(f"{CASES[label][0]}: cold first build (create → SUCCESS) {c:.3f} s; phases, median over the patch and trigger runs: "
          + ", ".join(f"{k} {median([p.get(k, 0) for p in pr]) * 1000:.0f} ms" for k in names))
peer = None
if os.getuid() == 0 and shutil.which("buildah"):
    subprocess.run(f"set -e; cd {tmp}; umoci init --layout base; umoci new --image base:b; umoci insert --image base:b stack/build / >/dev/null",
                   shell=True, check=True)
    with open(app + "/Dockerfile", "w") as f:
        f.write(f"FROM oci:{tmp}/base:b\nCOPY . /workspace\n")
    bh = ["buildah", "--root", tmp + "/bh/root", "--runroot", tmp + "/bh/run", "--storage-driver", "overlay", "bud", "--layers",
          "--isolation", "chroot", "-t", "bench", app]
    times = []
    for n in range(RUNS + 1):
        if n:
            edit(f"buildah{n}")
        t = time.perf_counter()
        done = subprocess.run(bh, capture_output=True, text=True)
        if done.returncode != 0:
            print("buildah failed, no peer figure:", done.stderr.strip()[-400:])
            times = []
            break
        if n:
            times.append(time.perf_counter() - t)
    peer = median(times) if times else None
    os.remove(app + "/Dockerfile")
MODES = (("patch", "edit → image/patch → SUCCESS", "≤ 0.250 s"), ("trigger", "edit → image/trigger → SUCCESS", "≤ 0.250 s"),
         ("watch", "watched: write → build/statusChanged SUCCESS", "≤ 0.450 s"))
for label in [l for l in runs if l not in ("default", "three")]:
    for mode, title, _ in MODES:
        report(title + ", engine defaults", median(results[mode]), "s", CASES[label][0], median(runs[label][1][mode]))
    report("cold first build, engine defaults", cold, "s", CASES[label][0], runs[label][0], "not slower" if label != "none" else "report")
for label in ("default", "three"):
    report(f"fixed costs per build ({CASES[label][0]})", median([p["= fixed costs (prepare, analyze, restore, completion, bookkeeping)"]
                                                              for p in runs[label][2]]) * 1000, "ms", target="< 10 ms")
    for mode, title, target in MODES:
        title = f"{title} ({CASES[label][0]})"
        if peer is not None and mode != "watch":
            report(title, median(runs[label][1][mode]), "s", "buildah bud --layers, COPY . /workspace, one file changed", peer, target)
        else:
            report(title, median(runs[label][1][mode]), "s", target=target)
shutil.rmtree(tmp, ignore_errors=True)
