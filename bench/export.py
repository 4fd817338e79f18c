"""Export of a 100 MB, 5,000-file app into an OCI layout.

Measured inside real builds: from the build log's "===> EXPORT" line to its "*** Images" line.
Peers on the same tree, same run: `tar -cf - DIR | sha256sum` (target ≤ 1.5×) and
`umoci insert` of the tree into an image (target: faster).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, report, rpc_session, make_app, make_stack, setup_builder, ROOT, print_machine

print_machine()

RUNS = int(os.environ.get("RUNS", "5"))
FILES = 5000
TOTAL = 100 * 1024 * 1024
tmp = tempfile.mkdtemp(prefix="slipway-bench-export-")
app = tmp + "/app"
make_app(app, FILES, TOTAL)
make_stack(tmp + "/stack")


def parse(t):
    return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def slipway_export(i):
    state = f"{tmp}/state{i}"
    setup_builder(state, tmp + "/stack", order=[{"group": [{"id": "slipway/procfile"}]}])
    msgs = rpc_session(state, [
        {"jsonrpc": "2.0", "id": 1, "method": "image/create", "params": {"name": "big", "source": {"local": {"path": app}}}},
        {"jsonrpc": "2.0", "id": 2, "method": "build/logs", "params": {"image": "big", "follow": True}},
    ])
    logs = [m["params"] for m in msgs if m.get("method") == "build/log"]
    start = next(l["time"] for l in logs if l["line"] == "===> EXPORT")
    end = next(l["time"] for l in logs if l["line"].startswith("*** Images"))
    shutil.rmtree(state)
    return parse(end) - parse(start)


def tar_sha():
    t = time.perf_counter()
    subprocess.run(f"tar -cf - -C {app} . | sha256sum > /dev/null", shell=True, check=True)
    return time.perf_counter() - t


def umoci_insert(i):
    layout = f"{tmp}/umoci{i}"
    subprocess.run(["umoci", "init", "--layout", layout], check=True)
    subprocess.run(["umoci", "new", "--image", layout + ":x"], check=True)
    t = time.perf_counter()
    subprocess.run(["umoci", "insert", "--image", layout + ":x", app, "/workspace"], check=True, capture_output=True)
    dt = time.perf_counter() - t
    shutil.rmtree(layout)
    return dt


s = [slipway_export(i) for i in range(RUNS)]
t = [tar_sha() for _ in range(RUNS)]
u = [umoci_insert(i) for i in range(RUNS)]
print(f"export: {FILES} files, {TOTAL // (1024 * 1024)} MB, {RUNS} runs each")
report("slipway export", median(s), "s", "tar -cf - | sha256sum", median(t), "≤ 1.5×")
report("slipway export", median(s), "s", "umoci insert", median(u), "< 1.0×")
shutil.rmtree(tmp)
