"""Rebase of an image with a 1 GB app layer (target ≤ 100 ms for the rebase itself), against a
full rebuild of the same image; both timed inside real builds from their log lines.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from common import median, report, rpc_session, make_stack, setup_builder, print_machine

print_machine()

RUNS = int(os.environ.get("RUNS", "3"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-rebase-")
app = tmp + "/app"
os.makedirs(app)
for i in range(100):
    with open(f"{app}/chunk{i:03d}.bin", "wb") as f:
        f.write(os.urandom(10 * 1024 * 1024))
with open(app + "/Procfile", "w") as f:
    f.write("web: ls\n")
make_stack(tmp + "/stack")
run = tmp + "/run"
shutil.copytree(tmp + "/stack/run", run, symlinks=True)
state = tmp + "/state"
setup_builder(state, tmp + "/stack", order=[{"group": [{"id": "slipway/procfile"}]}])
rpc_session(state, [{"jsonrpc": "2.0", "id": 1, "method": "clusterstack/patch", "params": {"name": "base", "runImage": run}}])


def parse(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def span(msgs, build, first, last):
    logs = [m["params"] for m in msgs if m.get("method") == "build/log" and m["params"]["build"] == build]
    start = next(l["time"] for l in logs if l["line"].startswith(first))
    end = next(l["time"] for l in logs if l["line"].startswith(last))
    return parse(end) - parse(start)


msgs = rpc_session(state, [
    {"jsonrpc": "2.0", "id": 1, "method": "image/create", "params": {"name": "big", "source": {"local": {"path": app}}}},
    {"jsonrpc": "2.0", "id": 2, "method": "build/logs", "params": {"image": "big", "follow": True}},
])
build = 1
full, rebases = [], []
for i in range(RUNS):
    # Full rebuild (TRIGGER): prepare to completion.
    build += 1
    msgs = rpc_session(state, [
        {"jsonrpc": "2.0", "id": 1, "method": "image/trigger", "params": {"name": "big"}},
        {"jsonrpc": "2.0", "id": 2, "method": "build/logs", "params": {"image": "big", "build": build, "follow": True}},
    ])
    full.append(span(msgs, build, "===> PREPARE", "Build successful"))
    # A new run image: a rebase, from its first to its last line.
    with open(f"{run}/etc/patch-level", "w") as f:
        f.write(str(i))
    build += 1
    msgs = rpc_session(state, [
        {"jsonrpc": "2.0", "id": 1, "method": "clusterstack/refresh", "params": {"name": "base"}},
        {"jsonrpc": "2.0", "id": 2, "method": "build/logs", "params": {"image": "big", "build": build, "follow": True}},
    ])
    phases = {m["params"]["phase"] for m in msgs if m.get("method") == "build/log" and m["params"]["build"] == build}
    assert phases == {"rebase", "completion"}, phases
    rebases.append(span(msgs, build, "===> REBASE", "Rebase successful"))

print(f"rebase: 1000 MB app layer, {RUNS} runs each")
report("rebase (STACK)", median(rebases) * 1000, "ms", "full rebuild (TRIGGER)", median(full) * 1000, "rebase ≤ 100 ms")
shutil.rmtree(tmp)
