"""Spawn → initialize answered → exit, with 1,000 images in the state directory.

1. Through the running shared engine (what an editor or a pipeline pays per start):
   target ≤ 3 ms median.
2. First start, no engine running (the forwarder starts one): target ≤ 150 ms median.
3. Peers in the same run: `--embedded` (the engine in the process, as every start cost before
   the shared engine), on a copy of the same state; and /bin/true through the same harness
   (the floor any process start costs on this machine).
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, report, rpc_session, timed, make_stack, setup_builder, stop_engine, stop_engines_at_exit, ROOT, print_machine

print_machine()

RUNS = int(os.environ.get("RUNS", "30"))
FIRST_RUNS = int(os.environ.get("FIRST_RUNS", "10"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-startup-")
# The state of 1,000 images and their builds is gigabytes: it goes when the script ends (an engine
# whose state directory is removed stops).
atexit.register(shutil.rmtree, tmp, True)
state, embedded_state = tmp + "/state", tmp + "/embedded-state"
stop_engines_at_exit(state)
make_stack(tmp + "/stack")
setup_builder(state, tmp + "/stack", order=[{"group": [{"id": "slipway/procfile"}]}])
# 1,000 images; their builds run (the example builds in well under a second each).
requests = [{"jsonrpc": "2.0", "id": i, "method": "image/create",
             "params": {"name": f"app-{i}", "source": {"local": {"path": ROOT + "/examples/hello-app"}}}} for i in range(1000)]
replies = rpc_session(state, requests, extra_args=["--max-concurrent-builds", "2", "--quota", "images=unlimited"])
assert all("error" not in r for r in replies if "id" in r), [r for r in replies if "error" in r][:3]
listed = rpc_session(state, [{"jsonrpc": "2.0", "id": 1, "method": "image/list", "params": {"limit": 100000}}])
count = len(listed[-1]["result"]["images"])
assert count == 1000, count
shutil.copytree(state, embedded_state, symlinks=True)

init = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}) + "\n"
        + json.dumps({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}) + "\n"
        + json.dumps({"jsonrpc": "2.0", "method": "exit"}) + "\n").encode()


def client(*mode, directory=state):
    p = subprocess.run([SLIPWAY, *mode, "--state-dir", directory], input=init, capture_output=True)
    assert p.returncode == 0 and b'"serverInfo"' in p.stdout, p


def true():
    subprocess.run(["/bin/true"], input=init, capture_output=True)


# First starts: the engine is stopped (untimed) before each.
first = []
for _ in range(FIRST_RUNS):
    stop_engine(state)
    first += timed(client, 1)
client()  # the engine runs from here on
shared = timed(client, RUNS)
embedded = timed(lambda: client("--embedded", directory=embedded_state), RUNS)
t = timed(true, RUNS)
print(f"startup: {count} images in state, {RUNS} runs ({FIRST_RUNS} first starts)")
report("spawn→initialize→exit through the running engine", median(shared) * 1000, "ms", "/bin/true", median(t) * 1000, "≤ 3 ms")
report("spawn→initialize→exit through the running engine", median(shared) * 1000, "ms", "--embedded (the engine in the process)", median(embedded) * 1000)
report("first start (the forwarder starts the engine)", median(first) * 1000, "ms", "/bin/true", median(t) * 1000, "≤ 150 ms")
