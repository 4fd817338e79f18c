"""Pipelined image/get over one stdio connection.

Target: ≥ 50,000 requests/s. Peer: a Python program that parses each request line and writes
a JSON reply (what a minimal JSON-lines server costs in Python on this machine).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, report, rpc_session, make_stack, setup_builder, ROOT

N = int(os.environ.get("REQUESTS", "200000"))
RUNS = int(os.environ.get("RUNS", "5"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-rps-")
state = tmp + "/state"
make_stack(tmp + "/stack")
setup_builder(state, tmp + "/stack")
rpc_session(state, [{"jsonrpc": "2.0", "id": 1, "method": "image/create",
                     "params": {"name": "app", "source": {"local": {"path": ROOT + "/examples/hello-app"}}}}])
payload = "".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "image/get", "params": {"name": "app"}}) + "\n" for i in range(N)).encode()
with open(tmp + "/requests.jsonl", "wb") as f:
    f.write(payload)

PEER = r'''
import json, sys
out = sys.stdout
for line in sys.stdin:
    m = json.loads(line)
    out.write(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": {"name": m["params"]["name"]}}) + "\n")
'''


def run(cmd):
    t = time.perf_counter()
    with open(tmp + "/requests.jsonl", "rb") as f:
        p = subprocess.run(cmd, stdin=f, stdout=subprocess.PIPE, check=True)
    dt = time.perf_counter() - t
    replies = p.stdout.count(b'"result"')
    assert replies == N, (replies, N)
    return N / dt


s = [run([SLIPWAY, "--state-dir", state]) for _ in range(RUNS)]
py = [run([sys.executable, "-c", PEER]) for _ in range(RUNS)]
print(f"throughput: {N} pipelined image/get requests per run, {RUNS} runs (includes process start and exit)")
report("image/get requests/s (slipway)", median(s), "req/s", "python json-lines echo", median(py), "≥ 50,000 req/s")
