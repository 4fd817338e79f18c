"""Spawn → initialize answered → exit, with 1,000 images in the state directory.

Target: ≤ 15 ms median. Peer: spawning /bin/true through the same harness (the floor any
process start costs on this machine).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, report, rpc_session, timed, make_stack, setup_builder, ROOT

RUNS = int(os.environ.get("RUNS", "30"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-startup-")
state = tmp + "/state"
make_stack(tmp + "/stack")
setup_builder(state, tmp + "/stack", order=[{"group": [{"id": "slipway/procfile"}]}])
# 1,000 images; their builds run (the example builds in well under a second each).
requests = [{"jsonrpc": "2.0", "id": i, "method": "image/create",
             "params": {"name": f"app-{i}", "source": {"local": {"path": ROOT + "/examples/hello-app"}}}} for i in range(1000)]
replies = rpc_session(state, requests, extra_args=["--max-concurrent-builds", "2"])
assert all("error" not in r for r in replies if "id" in r), [r for r in replies if "error" in r][:3]
listed = rpc_session(state, [{"jsonrpc": "2.0", "id": 1, "method": "image/list"}])
count = len(listed[-1]["result"]["images"])
assert count == 1000, count

init = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}) + "\n"
        + json.dumps({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}) + "\n"
        + json.dumps({"jsonrpc": "2.0", "method": "exit"}) + "\n").encode()


def slipway():
    p = subprocess.run([SLIPWAY, "--state-dir", state], input=init, capture_output=True)
    assert p.returncode == 0 and b'"serverInfo"' in p.stdout, p


def true():
    subprocess.run(["/bin/true"], input=init, capture_output=True)


slipway()
s = timed(slipway, RUNS)
t = timed(true, RUNS)
print(f"startup: {count} images in state, {RUNS} runs")
report("spawn→initialize→exit (slipway)", median(s) * 1000, "ms", "/bin/true", median(t) * 1000, "≤ 15 ms")
