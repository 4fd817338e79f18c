"""Pipelined image/get.

1. One client, one connection, the engine in the process (--embedded): requests/s.
2. 50 clients at once through the shared engine, each sending 1,000 pipelined image/get:
   requests/s in total, and the ratio to (1) in the same run. Targets: ≥ 1.0× (the engine
   serves many clients at least as fast as one process serves one); ≥ 100,000 req/s stretch.
3. The same 50 clients without a shared engine: an --embedded process each, one after another.
Beside (1) and (2), the CPU time each costs per request (the engine's, and its clients': the
forwarders, or the --embedded process): on a machine that other work keeps busy, wall-clock
figures move with the share of the cores the run gets, CPU per request much less. How busy
other processes kept the cores during (1) and (2) is printed too: (2) needs both cores, (1)
about one, so other work lowers the ratio.
Peer for (1): a Python program that parses each request line and writes a JSON reply (what a
minimal JSON-lines server costs in Python on this machine). Process start and exit count in
every figure.
"""
import atexit
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, report, rpc_session, make_stack, setup_builder, stop_engines_at_exit, ROOT, print_machine

print_machine()

CLIENTS = int(os.environ.get("CLIENTS", "50"))
PER_CLIENT = int(os.environ.get("PER_CLIENT", "1000"))
N = CLIENTS * PER_CLIENT
RUNS = int(os.environ.get("RUNS", "5"))
tmp = tempfile.mkdtemp(prefix="slipway-bench-rps-")
# The state of 1,000 images and their builds is gigabytes: it goes when the script ends (an engine
# whose state directory is removed stops).
atexit.register(shutil.rmtree, tmp, True)
state, shared_state = tmp + "/state", tmp + "/shared-state"
stop_engines_at_exit(shared_state)
make_stack(tmp + "/stack")
setup_builder(state, tmp + "/stack")
rpc_session(state, [{"jsonrpc": "2.0", "id": 1, "method": "image/create",
                     "params": {"name": "app", "source": {"local": {"path": ROOT + "/examples/hello-app"}}}}])
shutil.copytree(state, shared_state, symlinks=True)


def requests(count):
    return "".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "image/get", "params": {"name": "app"}}) + "\n" for i in range(count)).encode()


with open(tmp + "/all.jsonl", "wb") as f:
    f.write(requests(N))
with open(tmp + "/one-client.jsonl", "wb") as f:
    f.write(requests(PER_CLIENT))

PEER = r'''
import json, sys
out = sys.stdout
for line in sys.stdin:
    m = json.loads(line)
    out.write(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": {"name": m["params"]["name"]}}) + "\n")
'''


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def engine_cpu():
    """CPU seconds the shared engine has used (its pid is in engine.lock)."""
    with open(shared_state + "/engine.lock") as f:
        pid = f.read().strip()
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


cpu = {"embedded": [], "engine": [], "forwarders": []}
# CPU seconds other processes used during each kind of run (the machine's busy time, less this
# script's, its children's and the engine's).
others = {"embedded": [], "shared": []}


def machine_busy():
    """CPU seconds all processes have used since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime + children_cpu()


def run(cmd, path, count):
    with open(path, "rb") as f:
        p = subprocess.run(cmd, stdin=f, stdout=subprocess.PIPE, check=True)
    replies = p.stdout.count(b'"result"')
    assert replies == count, (replies, count)


def one(cmd, cpu_of=None):
    c, o, m, t = children_cpu(), own_cpu(), machine_busy(), time.perf_counter()
    run(cmd, tmp + "/all.jsonl", N)
    dt = time.perf_counter() - t
    if cpu_of:
        cpu[cpu_of].append(children_cpu() - c)
        others[cpu_of].append((machine_busy() - m - (own_cpu() - o)) / dt)
    return N / dt


def many():
    errors = []

    def client():
        try:
            run([SLIPWAY, "--state-dir", shared_state], tmp + "/one-client.jsonl", PER_CLIENT)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    c, e, o, m, t = children_cpu(), engine_cpu(), own_cpu(), machine_busy(), time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    dt = time.perf_counter() - t
    cpu["engine"].append(engine_cpu() - e)
    cpu["forwarders"].append(children_cpu() - c)
    others["shared"].append((machine_busy() - m - (own_cpu() - o) - cpu["engine"][-1]) / dt)
    assert not errors, errors[:3]
    return N / dt


def one_after_another():
    """What 50 clients cost without a shared engine: an --embedded process each, one at a time
    (two cannot hold the state directory at once)."""
    t = time.perf_counter()
    for _ in range(CLIENTS):
        run([SLIPWAY, "--embedded", "--state-dir", state], tmp + "/one-client.jsonl", PER_CLIENT)
    return N / (time.perf_counter() - t)


rpc_session(shared_state, [{"jsonrpc": "2.0", "id": 1, "method": "image/list"}], shared=True)  # the engine runs
# The embedded and shared runs alternate, so that load which comes and goes on the machine
# falls on both alike (all of one, then all of the other, once put a busy minute on one side).
embedded, shared = [], []
for _ in range(RUNS):
    embedded.append(one([SLIPWAY, "--embedded", "--state-dir", state], "embedded"))
    shared.append(many())
sequential = [one_after_another() for _ in range(RUNS)]
py = [one([sys.executable, "-c", PEER]) for _ in range(RUNS)]
print(f"throughput: {N} image/get per run ({CLIENTS} clients × {PER_CLIENT} through the engine, or one client with all of them), {RUNS} runs")
report("one client, --embedded", median(embedded), "req/s", "python json-lines echo", median(py))
report(f"{CLIENTS} clients through the shared engine", median(shared), "req/s", "one client --embedded", median(embedded), "≥ 1.0×; ≥ 100,000 req/s stretch")
report(f"{CLIENTS} clients through the shared engine", median(shared), "req/s", f"{CLIENTS} clients, an --embedded process each, one after another", median(sequential))
us = {k: median(v) / N * 1e6 for k, v in cpu.items()}
print(f"CPU per request (medians): one client --embedded {us['embedded']:.1f} µs; {CLIENTS} clients through the shared engine "
      f"{us['engine'] + us['forwarders']:.1f} µs (the engine {us['engine']:.1f} µs, the {CLIENTS} forwarders {us['forwarders']:.1f} µs)", flush=True)
print(f"Other processes kept busy (medians, in cores of {os.cpu_count()}): {max(0.0, median(others['embedded'])):.2f} during the --embedded runs, "
      f"{max(0.0, median(others['shared'])):.2f} during the shared-engine runs", flush=True)
