"""image/get latency while two builds export 100 MB each.

One slipway process; two images whose apps are 100 MB / 5,000 files each are built at once,
while the same client sends image/get one after another and times each round trip. The
samples taken while either build is in its export phase (between its "===> EXPORT" and
"*** Images" log lines) give the p50 and p99. Peer, same run: image/get p99 with no build
running. Target: p99 ≤ 20 ms during the exports.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from common import SLIPWAY, median, make_app, make_stack, setup_builder, print_machine

print_machine()

RUNS = int(os.environ.get("RUNS", "3"))
FILES = 5000
TOTAL = 100 * 1024 * 1024
tmp = tempfile.mkdtemp(prefix="slipway-bench-latency-")
make_stack(tmp + "/stack")


apps = [tmp + "/app-a", tmp + "/app-b"]
for i, a in enumerate(apps):
    make_app(a, FILES, TOTAL, seed=i)


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Client:
    def __init__(self, state):
        self.p = subprocess.Popen([SLIPWAY, "--embedded", "--state-dir", state], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.cond = threading.Condition()
        self.replies = {}
        self.notes = []
        threading.Thread(target=self._read, daemon=True).start()
        self.next = 1

    def _read(self):
        for line in self.p.stdout:
            m = json.loads(line)
            now = time.monotonic()
            with self.cond:
                if "id" in m and "method" not in m:
                    self.replies[m["id"]] = (now, m)
                else:
                    self.notes.append((now, m))
                self.cond.notify_all()

    def call(self, method, params=None):
        i = self.next
        self.next += 1
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        t = time.monotonic()
        self.p.stdin.write((json.dumps(msg) + "\n").encode())
        self.p.stdin.flush()
        with self.cond:
            while i not in self.replies:
                self.cond.wait()
            done, reply = self.replies.pop(i)
        assert "error" not in reply, reply
        return done - t, reply

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def one_run(k):
    state = f"{tmp}/state{k}"
    setup_builder(state, tmp + "/stack", order=[{"group": [{"id": "slipway/procfile"}]}])
    c = Client(state)
    c.call("session/subscribe", {"enable": ["build/log"]})
    c.call("image/create", {"name": "idle", "source": {"local": {"path": apps[0]}}})
    c.call("build/wait", {"image": "idle"})
    idle = [c.call("image/get", {"name": "idle"})[0] for _ in range(500)]
    c.call("image/create", {"name": "a", "source": {"local": {"path": apps[0]}}, "env": {"RUN": str(k)}})
    c.call("image/create", {"name": "b", "source": {"local": {"path": apps[1]}}})
    samples = []
    while True:
        t0 = time.monotonic()
        dt, _ = c.call("image/get", {"name": "idle"})
        samples.append((t0, dt))
        with c.cond:
            finished = {n["params"]["image"] for _, n in c.notes
                        if n.get("method") == "build/statusChanged" and n["params"]["status"] in ("SUCCESS", "FAILURE")}
        if {"a", "b"} <= finished:
            break
    with c.cond:
        notes = list(c.notes)
    c.close()
    windows = []
    for img in ("a", "b"):
        start = next(t for t, n in notes if n.get("method") == "build/log" and n["params"]["image"] == img and n["params"]["line"] == "===> EXPORT")
        end = next(t for t, n in notes if n.get("method") == "build/log" and n["params"]["image"] == img and n["params"]["line"].startswith("*** Images"))
        windows.append((start, end))
    during = [dt for t0, dt in samples if any(s <= t0 <= e for s, e in windows)]
    shutil.rmtree(state)
    return idle, during


idle_p99, busy_p99, busy_p50, counts = [], [], [], []
for k in range(RUNS):
    idle, during = one_run(k)
    idle_p99.append(percentile(idle, 99) * 1000)
    busy_p99.append(percentile(during, 99) * 1000)
    busy_p50.append(percentile(during, 50) * 1000)
    counts.append(len(during))
print(f"latency: image/get during two 100 MB exports, {RUNS} runs; samples during exports per run: {counts}")
print(f"image/get during exports: median of per-run p99 {median(busy_p99):.1f} ms (p50 {median(busy_p50):.1f} ms)"
      f" | peer image/get idle: p99 {median(idle_p99):.1f} ms | ratio {median(busy_p99) / median(idle_p99):.1f} | target p99 ≤ 20 ms", flush=True)
shutil.rmtree(tmp)
